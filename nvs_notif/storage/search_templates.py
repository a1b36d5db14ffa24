"""Index templates of the search-engine stores, installed idempotently.

Documents are flat (the same shape the SQLite store keeps); ECS names are
field aliases, so Kibana users can search ``event.action`` or ``trace.id``.
Unknown top-level fields are not mapped (``dynamic: false``) and raw payloads
are flat objects (the engine's type: Elasticsearch's ``flattened``, OpenSearch's
``flat_object``), so one service sending a number where another sends a
string never gets a document rejected.  The fields and their mappings are
:mod:`nvs_notif.storage.schema`'s.

The templates and every index made from them carry :data:`VERSION` in their
``_meta``; :mod:`nvs_notif.storage.search_upgrade` upgrades the indices of
earlier versions.
"""
from nvs_notif.storage import schema

#: The index layout this release makes and reads.  0: indices and templates of
#: releases before layout versions (no ``schema_version`` in their ``_meta``).
VERSION = 1
#: The ``_meta`` of the templates and of the mappings of the indices they make.
META = {'managed_by': 'nvs-notif', 'schema_version': VERSION}

#: The payload kept in ``_source`` only (URL option ``index_payload=false``):
#: not searchable, for about 40% more bulk throughput (docs/configuration.rst).
_PAYLOAD_STORED_ONLY = {'type': 'object', 'enabled': False}


def properties(kind, flat, index_payload=True):
    """The mapped fields of ``kind`` (:mod:`nvs_notif.storage.schema`) and its aliases."""
    declared = schema.KINDS[kind]
    props = {f.name: flat if f.search_mapping is schema.FLAT else f.search_mapping
             for f in declared.fields + declared.stamped if f.mapped}
    if kind == 'notifications' and not index_payload:
        props['payload'] = _PAYLOAD_STORED_ONLY
    props.update((alias, {'type': 'alias', 'path': path})
                 for alias, path in declared.aliases.items())
    return props


def version(meta):
    """The layout version a template's or an index mapping's ``_meta`` says (0: none)."""
    return (meta or {}).get('schema_version', 0)


def template_body(prefix, kind, flat, index_payload=True, alias=True):
    """The index template of ``kind``.

    :param flat: the engine's mapping of schemaless objects
        (:attr:`nvs_notif.storage.search.Engine.flat_type`)
    :param alias: whether new daily indices join the kind's read alias (not
        while a plain index of that name is being adopted)
    """
    return {
        'index_patterns': ['%s-%s*' % (prefix, kind)],
        'priority': 200,
        'template': {
            'settings': {'index': {'refresh_interval': '1s'}},
            'mappings': {'dynamic': False, '_meta': META,
                         'properties': properties(kind, flat, index_payload)},
            # Daily indices are read through one alias per kind.
            'aliases': {} if kind == 'spans' or not alias else {'%s-%s' % (prefix, kind): {}},
        },
        '_meta': META,
    }


def install(engine, prefix, index_payload=True):
    """Install (or update to the same content) the index template of every kind.

    :param engine: a :class:`nvs_notif.storage.search.Engine`
    """
    for kind in schema.KINDS:
        engine.put_index_template('%s-%s' % (prefix, kind),
                                  template_body(prefix, kind, engine.flat_type, index_payload))
