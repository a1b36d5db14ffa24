"""The layout version of a search-engine store's indices, and the upgrades of
indices made by earlier releases.

The index templates carry :data:`~nvs_notif.storage.search_templates.VERSION`
in their ``_meta``, and so does the mapping of every index made from them.
A store's first operation (:func:`prepare`) reads the templates: at this
version there is nothing to do; made by a newer release, the store refuses
them; otherwise one process upgrades, under a lock document the others wait
on (:class:`Lock`):

1. a plain index where a kind's read alias belongs (``<prefix>-notifications``:
   the single-index layout of early releases) is adopted: its documents are
   written again, through the writer, into daily indices, and it is deleted;
2. each index of an earlier version gets the mappings of the fields declared
   since (``put_mapping`` of what its mapping lacks), its documents the
   derived fields this release computes (:func:`backfill`), then the version
   in its mapping's ``_meta``;
3. this release's templates are installed: that marks the upgrade done.

Every step is idempotent: an upgrade cut short is finished by the next one.
"""
import itertools
import logging
import os
import socket
import time
import uuid

from nvs_notif import timeutil
from nvs_notif.storage import base
from nvs_notif.storage import documents
from nvs_notif.storage import schema
from nvs_notif.storage import search_templates

LOG = logging.getLogger(__name__)

#: A lock not renewed for this long belongs to a process that died: taken over.
LEASE = 60
#: How often the upgrading process renews its lock.
RENEW_EVERY = 10
#: How long a store waits for another process's upgrade before its operation
#: fails (StoreError: the agent's batch is requeued and tried again).
WAIT_LIMIT = 300
_LOCK_ID = 'upgrade'

#: The kinds whose documents hold derived fields, read back into their records.
_RECORDS = {'notifications': documents.notification_from_doc, 'spans': documents.span_from_doc}


def prepare(engine, writer, prefix, index_payload=True, install=True):
    """Make the indices of ``prefix`` this release's layout, then install its
    templates (``install``; always when an upgrade or a new store needs them).

    :param engine: the store's :class:`~nvs_notif.storage.search.Engine`
    :param writer: the store's :class:`~nvs_notif.storage.search_writer.SearchWriter`
    :raises StoreError: indices of a newer release, or another process's
        upgrade still running after :data:`WAIT_LIMIT` seconds
    """
    deadline = time.monotonic() + WAIT_LIMIT
    lock = Lock(engine, writer, lock_index(prefix))
    while True:
        versions = template_versions(engine.client, prefix)
        _refuse_newer(prefix, versions.values())
        if all(v == search_templates.VERSION for v in versions.values()):
            if install:
                search_templates.install(engine, prefix, index_payload)
            return
        mappings = _mappings(engine.client, prefix)
        if not mappings:
            # A new store: nothing to upgrade, and installing is idempotent.
            search_templates.install(engine, prefix, index_payload)
            return
        _refuse_newer(prefix, (search_templates.version(m.get('_meta'))
                               for m in mappings.values()))
        if lock.take():
            try:
                upgrade(engine, writer, prefix, index_payload, lock.renew)
            finally:
                lock.release()
            return
        if time.monotonic() > deadline:
            raise base.StoreError('the indices of %s are being upgraded by %s: still running '
                                  'after %d s' % (prefix, lock.holder, WAIT_LIMIT))
        time.sleep(1)


def lock_index(prefix):
    """Where the processes opening ``prefix``'s store take turns to upgrade it."""
    return '%s-upgrade-lock' % prefix


def template_versions(client, prefix):
    """``{kind: the layout version of its template}``; None for a missing template.

    Every operation's first request: it asks for the templates named
    ``<prefix>-*`` and their ``_meta`` alone, not for every template of the
    cluster with its mappings (a cluster's built-in ones and other stores'
    are hundreds of kilobytes to encode, send and parse)."""
    try:
        listed = client.indices.get_index_template(
            name='%s-*' % prefix,
            filter_path='index_templates.name,index_templates.index_template._meta')
    except Exception as exc:
        # No template matches: both engines answer 404 (each client its own error).
        if getattr(exc, 'status_code', None) != 404:
            raise
        listed = {}
    found = {t['name']: t['index_template'] for t in listed.get('index_templates', ())}
    return {kind: search_templates.version(found[name].get('_meta')) if name in found else None
            for kind, name in ((k, '%s-%s' % (prefix, k)) for k in schema.KINDS)}


def _mappings(client, prefix):
    """``{index: its mapping}`` of every index of ``prefix``'s kinds."""
    found = client.indices.get_mapping(
        index=','.join('%s-%s*' % (prefix, kind) for kind in schema.KINDS),
        ignore_unavailable=True, allow_no_indices=True)
    return {name: body.get('mappings', {}) for name, body in found.items()}


def _refuse_newer(prefix, versions):
    newest = max((v for v in versions if v is not None), default=0)
    if newest > search_templates.VERSION:
        raise base.StoreError(
            'the indices of %s have layout version %d, newer than this release reads (%d): '
            'upgrade nvs-notif' % (prefix, newest, search_templates.VERSION))


def _kind_of(prefix, index):
    """The kind an index of ``prefix`` holds (``<prefix>-<kind>[-<day>]``)."""
    rest = index[len(prefix) + 1:]
    return next(k for k in schema.KINDS if rest == k or rest.startswith(k + '-'))


def upgrade(engine, writer, prefix, index_payload, renew):
    """Upgrade the indices of ``prefix`` (steps 1-3 of this module), under the lock.

    :param renew: called now and then: keeps the lock
    """
    client = engine.client
    layout_aliases = {'%s-%s' % (prefix, kind): kind for kind in schema.KINDS if kind != 'spans'}
    mappings = _mappings(client, prefix)
    adopted = [name for name in mappings if name in layout_aliases]
    for name in adopted:
        kind = layout_aliases[name]
        LOG.warning('%s: adopting %s, a plain index of an earlier layout, into daily indices '
                    'read through the alias of that name', engine.name, name)
        engine.put_index_template(name, search_templates.template_body(
            prefix, kind, engine.flat_type, index_payload, alias=False))
        copied = adopt(engine, writer, name, kind, renew)
        client.indices.delete(index=name)
        LOG.warning('%s: %d documents of %s adopted', engine.name, copied, name)
    for name, mapping in sorted(_mappings(client, prefix).items()):
        if search_templates.version(mapping.get('_meta')) < search_templates.VERSION:
            upgrade_index(engine, writer, name, _kind_of(prefix, name), mapping, renew)
    search_templates.install(engine, prefix, index_payload)
    # Daily indices made while a plain index held the alias's name (this
    # upgrade's, or one cut short) join the alias now.
    daily = {name.rsplit('-', 1)[0] for name in _mappings(client, prefix)}
    for alias in sorted(daily & set(layout_aliases)):
        client.indices.put_alias(index='%s-*' % alias, name=alias)


def upgrade_index(engine, writer, index, kind, mapping, renew):
    """Give ``index`` (of ``kind``, an earlier layout's) the mappings declared
    since, its documents their derived fields, and this layout's version."""
    have = mapping.get('properties', {})
    missing = {name: field for name, field in
               search_templates.properties(kind, engine.flat_type).items()
               if not _mapped(have, name)}
    if missing:
        engine.client.indices.put_mapping(index=index, body={'properties': missing})
    updated = backfill(engine, writer, index, schema.KINDS[kind], renew)
    engine.client.indices.put_mapping(index=index, body={'_meta': search_templates.META})
    LOG.info('%s: %s upgraded to layout %d: %d fields mapped, %d documents given '
             'their derived fields', engine.name, index, search_templates.VERSION,
             len(missing), updated)


def _mapped(properties, name):
    """Whether ``name`` is in a mapping's ``properties`` (a dotted alias name
    is read back as objects: ``event.action`` in ``event``'s properties)."""
    first, _, rest = name.partition('.')
    if not rest:
        return first in properties
    return _mapped(properties.get(first, {}).get('properties', {}), rest)


def backfill(engine, writer, index, kind, renew):
    """Give the documents of ``index`` the derived fields of ``kind`` as this
    release computes them from the record they hold, each only if nobody wrote
    it since it was read (``if_seq_no``: a writer's version is whole).

    :returns: the documents updated
    """
    read = _RECORDS.get(kind.name)
    if read is None:
        return 0
    derived = documents.encoder(kind, [f for f in kind.fields if f.derived])
    # Nothing is derived from payloads: they are left out of the read.
    payloads = [f.name for f in kind.fields if f.type is schema.OBJECT]
    payloads += [documents.UNINDEXED_PAYLOAD] if kind.name == 'notifications' else []

    def updates():
        for hit in engine.helpers.scan(engine.client, index=index, query={
                'query': {'match_all': {}}, '_source': {'excludes': payloads},
                'seq_no_primary_term': True}):
            renew()
            source = hit['_source']
            values = derived(read(source))
            # A field the document lacks reads as null: one whose value is
            # null is not written (most notifications have no error_key).
            if any(source.get(name) != value for name, value in values.items()):
                yield {'_op_type': 'update', '_index': hit['_index'], '_id': hit['_id'],
                       'doc': values, 'if_seq_no': hit['_seq_no'],
                       'if_primary_term': hit['_primary_term']}

    updated = 0
    for ok, op, item in writer.bulk(updates()):
        if ok:
            updated += 1
        elif item.get('status') != 409:
            raise base.StoreError('%s: a document of %s not upgraded: %s'
                                  % (engine.name, index, item))
    return updated


def adopt(engine, writer, index, kind, renew):
    """Write the documents of the plain index ``index`` again, as this release
    does, into the daily indices of ``kind``. :returns: how many"""
    hits = engine.helpers.scan(engine.client, index=index, query={'query': {'match_all': {}}})
    copied = 0
    while True:
        sources = [hit['_source'] for hit in itertools.islice(hits, writer.bulk_size)]
        if not sources:
            return copied
        renew()
        if kind == 'notifications':
            writer.write(base.Batch(notifications=[
                documents.notification_from_doc(documents.stored_notification(s))
                for s in sources]))
        elif kind == 'rejects':
            writer.write(base.Batch(rejects=[
                base.Reject(s.get('raw') or '', s.get('reason') or '',
                            timeutil.parse_iso(s.get('received')) or timeutil.utcnow())
                for s in sources]))
        else:
            writer.write_keyed(kind, sources)
        copied += len(sources)


class Lock:
    """One document that the processes opening a store create to upgrade it:
    the one that created it upgrades, the others wait; a lock not renewed
    for :data:`LEASE` seconds is taken over (its holder died).

    Written with bulk requests (the one document API both engines' clients
    spell alike) and read with real-time gets.
    """

    def __init__(self, engine, writer, index):
        self.engine = engine
        self.writer = writer
        self.index = index
        self.me = '%s:%d:%s' % (socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8])
        #: Who holds the lock when :meth:`take` found it taken.
        self.holder = None
        self._renewed = 0

    def _doc(self):
        return {'holder': self.me, 'renewed': timeutil.iso(timeutil.utcnow())}

    def _write(self, **action):
        (ok, op, item), = self.writer.bulk([dict(action, _index=self.index, _id=_LOCK_ID)])
        if not ok and item.get('status') != 409:
            raise base.StoreError('%s: upgrade lock %s: %s' % (self.engine.name, self.index, item))
        return ok

    def _read(self):
        doc, = self.engine.mget([{'_index': self.index, '_id': _LOCK_ID}])['docs']
        return doc if doc.get('found') else None

    def take(self):
        """Whether this process now holds the lock."""
        if self._write(_op_type='create', _source=self._doc()):
            self._renewed = time.monotonic()
            return True
        found = self._read()
        if found is None:
            return False
        self.holder = found['_source'].get('holder')
        renewed = timeutil.parse_iso(found['_source'].get('renewed'))
        if renewed is None or (timeutil.utcnow() - renewed).total_seconds() > LEASE:
            LOG.warning('%s: taking over the upgrade lock %s of %s, not renewed since %s',
                        self.engine.name, self.index, self.holder, renewed)
            if self._write(_op_type='index', _source=self._doc(), if_seq_no=found['_seq_no'],
                           if_primary_term=found['_primary_term']):
                self._renewed = time.monotonic()
                return True
        return False

    def renew(self):
        """Keep the lock (at most every :data:`RENEW_EVERY` seconds).

        :raises StoreError: another process took it over
        """
        if time.monotonic() - self._renewed < RENEW_EVERY:
            return
        found = self._read()
        if found is None or found['_source'].get('holder') != self.me or not self._write(
                _op_type='index', _source=self._doc(), if_seq_no=found['_seq_no'],
                if_primary_term=found['_primary_term']):
            raise base.StoreError('%s: the upgrade lock %s was taken over: upgrade abandoned'
                                  % (self.engine.name, self.index))
        self._renewed = time.monotonic()

    def release(self):
        found = self._read()
        if found is not None and found['_source'].get('holder') == self.me:
            self._write(_op_type='delete', if_seq_no=found['_seq_no'],
                        if_primary_term=found['_primary_term'])
