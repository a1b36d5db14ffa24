"""The search-engine core shared by the Elasticsearch and OpenSearch stores.

Index layout, queries, span correlation, dead-lettering, retention and
templates live here; each engine is a thin adapter (:class:`Engine`) over its
own official client (:mod:`nvs_notif.storage.elasticsearch`,
:mod:`nvs_notif.storage.opensearch`).

Span correlation across workers and agents needs no scripting: spans are read
with their ``_seq_no``/``_primary_term``, merged in Python
(:func:`nvs_notif.spans.merge_all`) and written back with optimistic
concurrency; a conflict re-reads and re-merges only the spans that lost the race.
"""
import abc
import dataclasses
import datetime
import itertools
import logging
import urllib.parse

from nvs_notif import jsontext
from nvs_notif import spans as spans_mod
from nvs_notif import timeutil
from nvs_notif.storage import base
from nvs_notif.storage import documents
from nvs_notif.storage import search_templates

LOG = logging.getLogger(__name__)

_KINDS = ('notifications', 'spans', 'events', 'samples', 'rejects')


class StoreError(Exception):
    """The store did not durably accept a batch; the caller should retry it."""


@dataclasses.dataclass(frozen=True)
class Connection:
    """What a store URL says about reaching the cluster, for any engine.

    ``<engine>://host1:9200[,host2:9200]/?index_prefix=nvs&...``; ``?scheme=https``
    for TLS (the URL scheme must stay the engine's: ceilometer finds
    publishers by it). The URL holds no credentials
    (:func:`nvs_notif.credentials.split` took them out).
    """
    hosts: list
    scheme: str
    timeout: float
    max_retries: int
    verify_certs: bool
    ca_certs: str = None


def parse_url(url, default_port=9200):
    """``(Connection, the remaining query options)`` of a split store URL."""
    query = dict(urllib.parse.parse_qsl(url.query))
    scheme = query.pop('scheme', 'http')
    hosts = ['%s://%s' % (scheme, h) for h in url.netloc.split(',') if h]
    https = scheme == 'https'
    conn = Connection(
        hosts=hosts or ['http://127.0.0.1:%d' % default_port], scheme=scheme,
        timeout=float(query.pop('timeout', 30)),
        max_retries=int(query.pop('max_retries', 3)),
        verify_certs=query.pop('verify_certs', 'true').lower() != 'false' if https else True,
        ca_certs=query.pop('ca_certs', None) if https else None)
    return conn, query


class Engine(metaclass=abc.ABCMeta):
    """What differs between Elasticsearch and OpenSearch, over one client.

    :param client: the engine's official client
    """

    #: The engine's name in logs and dead-letter reasons.
    name = None
    #: The client's bulk and scan helpers (``streaming_bulk``, ``scan``).
    helpers = None
    #: The client's errors that mean "not stored": the caller retries.
    errors = ()
    #: The mapping type of schemaless objects (payloads, traits).
    flat_type = None

    def __init__(self, client):
        self.client = client

    @abc.abstractmethod
    def put_index_template(self, name, body):
        """Install the composable index template ``body`` as ``name``."""

    @abc.abstractmethod
    def wait_for_yellow(self, index, timeout):
        """Wait until ``index``'s primary shards have started (at most ``timeout``, e.g. '30s')."""

    @abc.abstractmethod
    def mget(self, docs):
        """Real-time get of ``docs`` (``[{'_index', '_id'}]``), ``_source`` included."""


# Of each bulk item only what we and the helpers read: a quarter of the
# response, less for Elasticsearch to write and for us to decode.
_BULK_RESPONSE = 'errors,items.*._index,items.*._id,items.*.status,items.*.error'


class SearchStore(base.Store):
    """A store in a search engine: ``<engine>://host:9200?index_prefix=nvs&refresh=false&bulk_size=500``.

    Subclasses say how to make the engine's :class:`Engine` from the URL.
    """

    remote = True

    def __init__(self, url, credentials=None):
        super().__init__(url, credentials)
        conn, options = parse_url(url)
        self.engine = self.connect(conn, self.credentials)
        self.client = self.engine.client
        self.prefix = options.get('index_prefix', 'nvs')
        self.refresh = options.get('refresh', 'false')
        self.bulk_size = int(options.get('bulk_size', 500))
        self.conflict_retries = int(options.get('conflict_retries', 10))
        self.index_payload = options.get('index_payload', 'true').lower() != 'false'
        self._templates_ready = False

    @classmethod
    @abc.abstractmethod
    def connect(cls, connection, credentials):
        """The :class:`Engine` reaching ``connection`` with ``credentials``."""

    def index(self, kind, when=None):
        """Where documents of ``kind`` are written.

        Spans live in one index (every fragment of a span must find it);
        the other kinds go to daily indices by the document's own time, so
        retention drops whole indices (:meth:`purge`).
        """
        if kind == 'spans':
            return '%s-spans' % self.prefix
        day = (when or timeutil.utcnow()).astimezone(datetime.timezone.utc)
        # Formatted by hand: strftime was a tenth of the documents' cost.
        return '%s-%s-%04d.%02d.%02d' % (self.prefix, kind, day.year, day.month, day.day)

    def alias(self, kind):
        """The read name of ``kind``: an alias over its daily indices."""
        return '%s-%s' % (self.prefix, kind)

    def _ensure_templates(self):
        if not self._templates_ready:
            search_templates.install(self.engine, self.prefix, self.index_payload)
            self._templates_ready = True

    def _bulk(self, actions):
        """Yield ``(ok, op, item)`` per action; retries 429s with backoff."""
        for ok, item in self.engine.helpers.streaming_bulk(
                self.client, actions, chunk_size=self.bulk_size,
                raise_on_error=False, raise_on_exception=True, max_retries=5,
                initial_backoff=1, max_backoff=30, refresh=self.refresh,
                filter_path=_BULK_RESPONSE):
            op, result = next(iter(item.items()))
            yield ok, op, result

    def write(self, batch):
        self._ensure_templates()
        try:
            return self._write(batch)
        except self.engine.errors as exc:
            raise StoreError(str(exc)) from exc

    def _write(self, batch):
        by_id = {}
        for f in batch.fragments:
            by_id.setdefault(f.span_id, []).append(f)
        merged = {}
        # The first round of span writes travels with the batch's documents:
        # one bulk request per batch, unless spans lost a race to another
        # writer; then only those are re-read, re-merged and written again.
        doc_actions = self._document_actions(batch)
        pending, duplicates = set(by_id), 0
        for _ in range(self.conflict_retries + 1):
            actions = self._span_actions(pending, by_id, merged) + doc_actions
            pending, found = self._bulk_or_dead_letter(actions)
            duplicates += found
            doc_actions = []
            if not pending:
                return base.WriteResult(merged, duplicates)
        raise StoreError('%d spans still conflicting after %d retries'
                         % (len(pending), self.conflict_retries))

    def _document_actions(self, batch):
        # The source as JSON text, the payload spliced in as the pipeline
        # encoded it: helpers send text as is, so no payload is encoded twice.
        texts = batch.payload_json
        actions = [{'_op_type': 'create', '_index': self.index('notifications', n.timestamp),
                    '_id': n.message_id,
                    '_source': documents.notification_json(n, texts.get(n.message_id))[1]}
                   for n in batch.notifications]
        actions += [{'_op_type': 'create', '_index': self.index('rejects', r.received),
                     '_id': reject_id, '_source': documents.reject_doc(r)}
                    for reject_id, r in self._new_rejects(batch.rejects).items()]
        return actions

    def _new_rejects(self, rejects):
        """``{reject id: reject}`` of those not stored yet.

        A reject's index is the day it was received, which differs per
        delivery: ``create`` alone would keep a message redelivered on
        another day twice. Real-time gets in every reject index see
        what was written, refreshed or not.
        """
        by_id = {documents.reject_id(r): r for r in rejects}
        alias = self.alias('rejects')
        if not by_id or not self.client.indices.exists_alias(name=alias):
            return by_id
        indices = self.client.indices.get_alias(name=alias)
        found = self.engine.mget([{'_index': index, '_id': reject_id, '_source': False}
                                  for index in indices for reject_id in by_id])
        for doc in found['docs']:
            if doc.get('found'):
                by_id.pop(doc['_id'], None)
        return by_id

    def _span_actions(self, span_ids, by_id, merged):
        """Read-merge the spans: create new ones, update the others only if
        nobody wrote them since they were read (``if_seq_no``)."""
        stored = self._read_spans(span_ids)
        actions = []
        for span_id in span_ids:
            old = stored.get(span_id)
            merged[span_id] = span = spans_mod.merge_all(
                by_id[span_id], {span_id: old[0]} if old else None)[span_id]
            action = {'_index': self.index('spans'), '_id': span_id,
                      '_source': documents.span_doc(span)}
            if old:
                action.update(_op_type='index', if_seq_no=old[1], if_primary_term=old[2])
            else:
                action['_op_type'] = 'create'
            actions.append(action)
        return actions

    def _bulk_or_dead_letter(self, actions):
        """Bulk-write; refused documents go to the reject index.

        :returns: ``(span ids that lost a race, notifications already stored)``;
            a 409 on a notification, reject, event or sample is an earlier
            delivery of the same document
        """
        spans_index = self.index('spans')
        notifications = self.alias('notifications') + '-'
        failed, conflicts, duplicates = [], set(), 0
        for ok, op, item in self._bulk(actions):
            if ok:
                continue
            index, status = item.get('_index', ''), item.get('status')
            if index == spans_index:
                if status != 409:
                    raise StoreError('span %s not stored: %s' % (item.get('_id'), item.get('error')))
                conflicts.add(item['_id'])
            elif status == 409:
                duplicates += index.startswith(notifications)
            else:
                failed.append(item)
        if failed:
            ids = {f.get('_id') for f in failed}
            self._dead_letter(failed, {a['_id']: a['_source'] for a in actions
                                       if a.get('_id') in ids})
        return conflicts, duplicates

    def _dead_letter(self, failed, sources):
        """Documents the cluster refused (e.g. mapping errors) go to the reject index."""
        retryable = [f for f in failed if f.get('status', 500) >= 500 or f.get('status') == 429]
        if retryable:
            raise StoreError('%d documents not accepted: %s' % (len(retryable), retryable[0]))
        LOG.warning('%d documents rejected by %s, kept in %s',
                    len(failed), self.engine.name, self.alias('rejects'))
        now = timeutil.utcnow()
        rejects = [base.Reject(raw=_text(sources.get(f.get('_id'))),
                               reason='%s: %s' % (f.get('_index'), f.get('error')),
                               received=now) for f in failed]
        actions = [{'_op_type': 'create', '_index': self.index('rejects', now),
                    '_id': documents.reject_id(r), '_source': documents.reject_doc(r)}
                   for r in rejects]
        for ok, op, item in self._bulk(actions):
            if not ok and item.get('status') != 409:
                raise StoreError('reject index refused a document: %s' % item)

    def _read_spans(self, ids):
        if not ids:
            return {}
        found = {}
        resp = self.engine.mget([{'_index': self.index('spans'), '_id': i} for i in sorted(ids)])
        for doc in resp['docs']:
            if doc.get('found'):
                found[doc['_id']] = (documents.span_from_doc(doc['_source']),
                                     doc['_seq_no'], doc['_primary_term'])
        return found

    def _write_keyed(self, kind, docs):
        self._ensure_templates()
        time_field = 'generated' if kind == 'events' else 'timestamp'
        self._bulk_or_dead_letter([{'_op_type': 'create',
                                    '_index': self.index(kind, _doc_time(d.get(time_field))),
                                    '_id': d['message_id'], '_source': d} for d in docs])

    def write_events(self, docs):
        self._write_keyed('events', docs)

    def write_samples(self, docs):
        self._write_keyed('samples', docs)

    def spans(self, request_id=None, global_request_id=None, project_id=None,
              operation=None, since=None, until=None):
        filters = _terms(request_id=request_id, global_request_id=global_request_id,
                         project_id=project_id)
        if operation is not None:
            filters.append({'prefix': {'operation': operation}})
        window = _range(since, until)
        if window:
            filters.append({'bool': {'minimum_should_match': 1, 'should': [
                {'range': {field: window}} for field in ('start', 'end', 'failed', 'aborted')]}})
        return self._scan_spans(filters)

    def stuck_spans(self, now, stuck_after, overrides, operation=None):
        # Only the open spans (status, a keyword), each held to its
        # operation's cutoff by the engine; a span matching several prefixes
        # may come back under a shorter one's: queries.stuck judges exactly.
        filters = [{'term': {'status': 'open'}}, _past_limits(now, stuck_after, overrides)]
        if operation is not None:
            filters.append({'prefix': {'operation': operation}})
        return self._scan_spans(filters)

    def _scan_spans(self, filters):
        self._refresh(self.index('spans'))
        return self._read_ready(self.index('spans'), lambda: [
            documents.span_from_doc(hit['_source']) for hit in self.engine.helpers.scan(
                self.client, index=self.index('spans'), query={'query': _bool(filters)},
                ignore_unavailable=True)])

    def notifications(self, request_ids=None, project_id=None, user_id=None,
                      resource_id=None, since=None, until=None, priorities=None,
                      limit=None):
        filters = _terms(project_id=project_id, user_id=user_id, resource_id=resource_id)
        for field, values in (('request_id', request_ids), ('priority', priorities)):
            if values is not None:
                filters.append({'terms': {field: list(values)}})
        window = _range(since, until)
        if window:
            filters.append({'range': {'timestamp': window}})
        name = self.alias('notifications')
        self._refresh(name)
        if limit is not None and limit <= 0:
            return iter(())
        hits = self.engine.helpers.scan(
            self.client, index=name, ignore_unavailable=True, preserve_order=True,
            size=min(limit or 1000, 1000),
            query={'query': _bool(filters),
                   # timestamp.exact: indices made before it existed sort as if
                   # it were missing (ties by message_id, as before).
                   'sort': [{'timestamp': 'desc'},
                            {'timestamp.exact': {'order': 'desc', 'unmapped_type': 'keyword'}},
                            {'message_id': 'desc'}]})
        return (hit['_source'] for hit in itertools.islice(hits, limit))

    def _refresh(self, name):
        """Make what was written to ``name`` searchable before a read.

        A daily index created this very moment (the first write of a day)
        answers searches with 503 until its primary shard has started, and the
        client's immediate retries come too soon: wait for that first (the
        index is yellow then; single-node clusters never get green).
        """
        if not self.client.indices.exists(index=name):
            return
        self.engine.wait_for_yellow(name, '30s')
        self.client.indices.refresh(index=name, ignore_unavailable=True)

    def count(self, kind):
        if kind not in _KINDS:
            raise ValueError('unknown kind %r' % kind)
        name = self.index(kind) if kind == 'spans' else self.alias(kind)
        self._refresh(name)
        return self._read_ready(name, lambda: self.client.count(
            index=name, ignore_unavailable=True)['count'])

    def _read_ready(self, name, read):
        """``read()`` of ``name``; again, once, after :meth:`_refresh` when it
        answered 503: a daily index created after the refresh's wait (a write
        of another day meanwhile) fails a search until its primary shard has
        started (``search_phase_execution_exception``, seen from count())."""
        try:
            return read()
        except self.engine.errors as exc:
            if getattr(exc, 'status_code', None) != 503:
                raise
            LOG.debug('%s not searchable yet (%s); waiting for its shards', name, exc)
            self._refresh(name)
            return read()

    def purge(self, before):
        """Drop what is older than ``before``: whole daily indices, and spans
        whose every time is older.  :returns: ``{kind: removed}``"""
        removed = {}
        cutoff = before.strftime('%Y.%m.%d')
        for kind in _KINDS:
            if kind == 'spans':
                continue
            names = self.client.indices.get(index='%s-%s-*' % (self.prefix, kind),
                                            ignore_unavailable=True, allow_no_indices=True)
            old = [n for n in names if n.rsplit('-', 1)[-1] < cutoff]
            for name in old:
                self.client.indices.delete(index=name)
            removed[kind] = len(old)
        recent = [{'range': {f: {'gte': before.isoformat()}}}
                  for f in ('start', 'last_start', 'end', 'failed', 'aborted')]
        # Scan and bulk-delete rather than _delete_by_query, which lives in a
        # module minimal distributions leave out.
        old_spans = self.engine.helpers.scan(
            self.client, index=self.index('spans'), _source=False,
            query={'query': {'bool': {'must_not': recent}}}, ignore_unavailable=True)
        actions = ({'_op_type': 'delete', '_index': hit['_index'], '_id': hit['_id']}
                   for hit in old_spans)
        removed['spans'] = sum(1 for ok, op, item in self._bulk(actions)
                               if ok)
        self.client.indices.refresh(index=self.index('spans'), ignore_unavailable=True)
        return removed

    def close(self):
        self.client.close()


def _terms(**fields):
    return [{'term': {f: v}} for f, v in fields.items() if v is not None]


def _range(since, until):
    window = {}
    if since is not None:
        window['gte'] = timeutil.iso(since)
    if until is not None:
        window['lte'] = timeutil.iso(until)
    return window


def _open_since_at_most(cutoff):
    """Open spans whose running attempt started at or before ``cutoff``
    (:attr:`nvs_notif.spans.Span.open_since`: the start while nothing ended or
    failed, else the latest start); none for None."""
    if cutoff is None:
        return {'match_none': {}}
    finished = [{'exists': {'field': 'end'}}, {'exists': {'field': 'failed'}}]
    return {'bool': {'minimum_should_match': 1, 'should': [
        {'bool': {'must_not': finished, 'filter': [{'range': {'start': {'lte': cutoff}}}]}},
        {'bool': {'minimum_should_match': 1, 'should': finished,
                  'filter': [{'range': {'last_start': {'lte': cutoff}}}]}}]}}


def _past_limits(now, stuck_after, overrides):
    """Spans open past their operation's limit as of ``now``: the limit of a
    matching ``overrides`` prefix, else ``stuck_after`` (seconds)."""
    prefixed = [{'bool': {'filter': [{'prefix': {'operation': prefix}},
                                     _open_since_at_most(base.stuck_cutoff(now, seconds))]}}
                for prefix, seconds in overrides.items()]
    other = {'bool': {'must_not': [{'prefix': {'operation': p}} for p in overrides],
                      'filter': [_open_since_at_most(base.stuck_cutoff(now, stuck_after))]}}
    return {'bool': {'minimum_should_match': 1, 'should': prefixed + [other]}}


def _bool(filters):
    return {'bool': {'filter': filters}} if filters else {'match_all': {}}


def _text(source):
    """A bulk action's source as JSON text (ours are text or dicts)."""
    return source if isinstance(source, str) else jsontext.encode(source)


def _doc_time(value):
    """The time of a serialised event or sample (ISO string), or now."""
    if isinstance(value, datetime.datetime):
        return value
    try:
        return timeutil.parse_iso(value) or timeutil.utcnow()
    except (TypeError, ValueError):
        return timeutil.utcnow()
