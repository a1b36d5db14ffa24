"""Index templates of the search-engine stores, installed idempotently.

Documents are flat (the same shape the SQLite store keeps); ECS names are
field aliases, so Kibana users can search ``event.action`` or ``trace.id``.
Unknown top-level fields are not mapped (``dynamic: false``) and raw payloads
are flat objects (the engine's type: Elasticsearch's ``flattened``, OpenSearch's
``flat_object``), so one service sending a number where another sends a
string never gets a document rejected.  The fields and their mappings are
:mod:`nvs_notif.storage.schema`'s.
"""
from nvs_notif.storage import schema

#: The payload kept in ``_source`` only (URL option ``index_payload=false``):
#: not searchable, for about 40% more bulk throughput (docs/configuration.rst).
_PAYLOAD_STORED_ONLY = {'type': 'object', 'enabled': False}


def _properties(kind, flat, index_payload=True):
    """The mapped fields of ``kind`` (:mod:`nvs_notif.storage.schema`) and its aliases."""
    declared = schema.KINDS[kind]
    props = {f.name: flat if f.search_mapping is schema.FLAT else f.search_mapping
             for f in declared.fields + declared.stamped if f.mapped}
    if kind == 'notifications' and not index_payload:
        props['payload'] = _PAYLOAD_STORED_ONLY
    props.update((alias, {'type': 'alias', 'path': path})
                 for alias, path in declared.aliases.items())
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
    for kind in schema.KINDS:
        engine.put_index_template('%s-%s' % (prefix, kind),
                                  template_body(prefix, kind, engine.flat_type, index_payload))
