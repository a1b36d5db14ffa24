"""Index templates of the search-engine stores, installed idempotently.

Documents are flat (the same shape the SQLite store keeps); ECS names are
field aliases, so Kibana users can search ``event.action`` or ``trace.id``.
Unknown top-level fields are not mapped (``dynamic: false``) and raw payloads
are flat objects (the engine's type: Elasticsearch's ``flattened``, OpenSearch's
``flat_object``), so one service sending a number where another sends a
string never gets a document rejected.
"""
# ignore_above: an absurdly long id is kept in _source but not indexed,
# instead of failing its document (and its batch) as an immense term.
_KW = {'type': 'keyword', 'ignore_above': 1024}
_DATE = {'type': 'date'}
# date keeps milliseconds; the ISO text (microseconds, UTC) as a keyword sorts
# and bounds in exactly the order the SQLite store gives (exact windows,
# first/last times: nvs_notif.storage.search_reads).
_EXACT_DATE = dict(_DATE, fields={'exact': {'type': 'keyword'}})
# Kept for the merge (read from _source), never searched: a span is
# rewritten with every notification of it, so indexing them cost every time.
_SOURCE_ONLY_KW = {'type': 'keyword', 'index': False, 'doc_values': False}
#: Where a schemaless object goes: replaced by the engine's flat type.
FLAT = {'type': 'flat'}

_COMMON = {
    'operation': _KW, 'service': _KW, 'host': _KW, 'request_id': _KW,
    'global_request_id': _KW, 'project_id': _KW, 'user_id': _KW,
    'resource_type': _KW, 'resource_id': _KW,
    'availability_zone': _KW, 'flavor': _KW,
    'error_type': _KW,
    'error_message': {'type': 'text', 'fields': {'keyword': {'type': 'keyword', 'ignore_above': 1024}}},
    'error_code': {'type': 'long', 'ignore_malformed': True},
    'error_function': _KW,
    'error_key': _KW,
}

# host.name and service.name are left out: ``host`` and ``service`` are
# keywords here, and an alias below them would need them to be objects.
_ECS_ALIASES = {
    'event.action': 'operation',
    'trace.id': 'global_request_id', 'transaction.id': 'request_id',
    'cloud.project.id': 'project_id', 'user.id': 'user_id',
    'cloud.availability_zone': 'availability_zone', 'cloud.machine.type': 'flavor',
    'error.type': 'error_type', 'error.message': 'error_message',
    'error.code': 'error_code',
}

MAPPINGS = {
    'notifications': dict(_COMMON, **{
        'message_id': _KW,
        'timestamp': _EXACT_DATE,
        '@timestamp': {'type': 'alias', 'path': 'timestamp'},
        'event_type': _KW, 'phase': _KW, 'priority': _KW, 'publisher_id': _KW,
        'state': _KW,
        'payload': FLAT,
        'event.kind': {'type': 'alias', 'path': 'event_type'},
    }),
    'spans': dict(_COMMON, **{
        'span_id': _KW, 'hosts': _KW, 'start': _DATE, 'last_start': _DATE, 'end': _DATE,
        'failed': _DATE, 'aborted': _DATE, 'timestamp': _DATE,
        '@timestamp': {'type': 'alias', 'path': 'timestamp'},
        'duration': {'type': 'double'}, 'attempts': {'type': 'integer'}, 'status': _KW,
        'finished': _EXACT_DATE, 'open_since': _DATE, 'rescheduled': {'type': 'boolean'},
        'start_ids': _SOURCE_ONLY_KW, 'end_ids': _SOURCE_ONLY_KW, 'error_ids': _SOURCE_ONLY_KW,
    }),
    'events': {
        'message_id': _KW, 'event_type': _KW, 'generated': _DATE,
        '@timestamp': {'type': 'alias', 'path': 'generated'},
        'traits': FLAT,
        'raw': {'type': 'object', 'enabled': False},
    },
    'samples': {
        'message_id': _KW, 'counter_name': _KW, 'counter_type': _KW, 'counter_unit': _KW,
        'counter_volume': {'type': 'double'}, 'user_id': _KW, 'project_id': _KW,
        'resource_id': _KW, 'source': _KW, 'timestamp': _DATE,
        '@timestamp': {'type': 'alias', 'path': 'timestamp'},
        'resource_metadata': FLAT,
    },
    'rejects': {
        'received': _DATE, '@timestamp': {'type': 'alias', 'path': 'received'},
        'reason': {'type': 'text', 'fields': {'keyword': {'type': 'keyword', 'ignore_above': 1024}}},
        'raw': {'type': 'text', 'index': False},
    },
}


#: The payload kept in ``_source`` only (URL option ``index_payload=false``):
#: not searchable, for about 40% more bulk throughput (docs/configuration.rst).
_PAYLOAD_STORED_ONLY = {'type': 'object', 'enabled': False}


def _properties(kind, flat, index_payload=True):
    props = {name: flat if field is FLAT else field for name, field in MAPPINGS[kind].items()}
    if kind == 'notifications' and not index_payload:
        props['payload'] = _PAYLOAD_STORED_ONLY
    if kind in ('notifications', 'spans'):
        for alias, path in _ECS_ALIASES.items():
            props[alias] = {'type': 'alias', 'path': path}
    return props


def template_body(prefix, kind, flat, index_payload=True):
    """The index template of ``kind``.

    :param flat: the engine's mapping of schemaless objects
        (:attr:`nvs_notif.storage.search.Engine.flat_type`)
    """
    return {
        'index_patterns': ['%s-%s*' % (prefix, kind)],
        'priority': 200,
        'template': {
            'settings': {'index': {'refresh_interval': '1s'}},
            'mappings': {'dynamic': False, 'properties': _properties(kind, flat, index_payload)},
            # Daily indices are read through one alias per kind.
            'aliases': {} if kind == 'spans' else {'%s-%s' % (prefix, kind): {}},
        },
        '_meta': {'managed_by': 'nvs-notif'},
    }


def install(engine, prefix, index_payload=True):
    """Install (or update to the same content) the index template of every kind.

    :param engine: a :class:`nvs_notif.storage.search.Engine`
    """
    for kind in MAPPINGS:
        engine.put_index_template('%s-%s' % (prefix, kind),
                                  template_body(prefix, kind, engine.flat_type, index_payload))
