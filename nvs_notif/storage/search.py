"""The search-engine core shared by the Elasticsearch and OpenSearch stores.

Index layout, queries, retention and templates live here, the write path
(span correlation, dead-lettering) in :mod:`nvs_notif.storage.search_writer`;
each engine is a thin adapter (:class:`Engine`) over its
own official client (:mod:`nvs_notif.storage.elasticsearch`,
:mod:`nvs_notif.storage.opensearch`).
"""
import abc
import dataclasses
import datetime
import itertools
import logging
import urllib.parse

from nvs_notif.answers import stuck as stuck_answer
from nvs_notif import timeutil
from nvs_notif.storage import base
from nvs_notif.storage import documents
from nvs_notif.storage import search_reads
from nvs_notif.storage import search_span_answers
from nvs_notif.storage import search_upgrade
from nvs_notif.storage import search_writer

LOG = logging.getLogger(__name__)
#: Hits per search of a read that returns documents (the engines' default
#: ``index.max_result_window``).
PAGE = 10000
#: The fields of answers.stuck.OpenSpan read as stored (open_since is parsed).
_OPEN_FIELDS = [f for f in stuck_answer.OpenSpan._fields if f != 'open_since']


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
    #: The client's bulk and scan helpers (``streaming_bulk``, ``scan``): a
    #: class attribute, or a property importing them on first use.
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

    @abc.abstractmethod
    def search(self, index, body):
        """The response of a search request ``body`` (query, aggregations) on
        ``index``, missing indices ignored."""


@dataclasses.dataclass(frozen=True)
class IndexLayout:
    """Where each kind of document lives under an index prefix.

    Spans live in one index (every fragment of a span must find it); the
    other kinds go to daily indices by the document's own time, read through
    one alias per kind, so retention drops whole indices.
    """
    prefix: str

    def index(self, kind, when=None):
        """Where documents of ``kind`` (of time ``when``, default now) are written."""
        if kind == 'spans':
            return '%s-spans' % self.prefix
        day = (when or timeutil.utcnow()).astimezone(datetime.timezone.utc)
        # Formatted by hand: strftime was a tenth of the documents' cost.
        return '%s-%s-%04d.%02d.%02d' % (self.prefix, kind, day.year, day.month, day.day)

    def alias(self, kind):
        """The read name of ``kind``: an alias over its daily indices."""
        return '%s-%s' % (self.prefix, kind)


class SearchStore(search_span_answers.SearchSpanAnswers, base.Store):
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
        self.layout = IndexLayout(self.prefix)
        self.writer = search_writer.SearchWriter(
            self.engine, self.layout, bulk_size=int(options.get('bulk_size', 500)),
            refresh=options.get('refresh', 'false'),
            conflict_retries=int(options.get('conflict_retries', 10)))
        self.index_payload = options.get('index_payload', 'true').lower() != 'false'
        # 1: the indices' layout checked (upgraded if older); 2: and this
        # store's templates installed, before its first write.
        self._prepared = 0

    @classmethod
    @abc.abstractmethod
    def connect(cls, connection, credentials):
        """The :class:`Engine` reaching ``connection`` with ``credentials``."""

    def _prepare(self, install=True):
        """Once, before the first read (``install=False``) or write: indices of
        an earlier layout upgraded (:func:`search_upgrade.prepare`), and, for
        writes, the templates installed."""
        wanted = 2 if install else 1
        if self._prepared >= wanted:
            return
        try:
            search_upgrade.prepare(self.engine, self.writer, self.prefix, self.index_payload,
                                   install)
        except self.engine.errors as exc:
            # Reads need no template: credentials that may read but not see
            # templates (403) only skip the check.
            if install or getattr(exc, 'status_code', None) != 403:
                raise
            LOG.warning('%s: the index layout of %s not checked (%s): the store credentials '
                        'may not read index templates', self.engine.name, self.prefix, exc)
        self._prepared = wanted

    @property
    def errors(self):
        return self.engine.errors

    @base.operation
    def write(self, batch):
        self._prepare()
        return self.writer.write(batch)

    @base.operation
    def write_events(self, docs):
        self._prepare()
        self.writer.write_keyed('events', docs)

    @base.operation
    def write_samples(self, docs):
        self._prepare()
        self.writer.write_keyed('samples', docs)

    @base.operation
    def spans(self, request_id=None, global_request_id=None, project_id=None,
              operation=None, since=None, until=None):
        filters = search_reads.terms(request_id=request_id, global_request_id=global_request_id,
                         project_id=project_id)
        if operation is not None:
            filters.append({'prefix': {'operation': operation}})
        window = search_reads.date_range(since, until)
        if window:
            filters.append({'bool': {'minimum_should_match': 1, 'should': [
                {'range': {field: window}} for field in ('start', 'end', 'failed', 'aborted')]}})
        return self._scan_spans(filters)

    @base.operation
    def spans_by_id(self, span_ids):
        self._prepare(install=False)
        return {i: span for i, (span, _, _) in self.writer.read_spans(set(span_ids)).items()}

    @base.operation
    def stuck_spans(self, now, policy, operation=None, project_id=None):
        # Only the open spans (status, a keyword), each held to its
        # operation's cutoff by the engine; a span matching several prefixes
        # may come back under a shorter one's: answers.stuck judges exactly.
        filters = [{'term': {'status': 'open'}}, _past_limits(now, policy)]
        filters += search_reads.terms(project_id=project_id)
        if operation is not None:
            filters.append({'prefix': {'operation': operation}})
        # What stuck reads of them (answers.stuck.OpenSpan): the fetch of
        # their documents is most of the answer's time.
        index = self.layout.index('spans')
        self._refresh(index)
        body = {'query': search_reads.bool_filter(filters),
                '_source': list(stuck_answer.OpenSpan._fields)}
        return self._read_ready(index, lambda: [
            stuck_answer.OpenSpan(*(hit['_source'].get(f) for f in _OPEN_FIELDS),
                                  timeutil.parse_iso(hit['_source']['open_since']))
            for hit in self._all_hits(index, body)])

    def _all_hits(self, index, body):
        """Every hit of ``body`` on ``index``: one search when they fit in
        :data:`PAGE` hits (a cluster has a few thousand open spans), else a
        scroll (the client's scan helper) from the start: a scroll costs
        two more round trips (the empty last page, the scroll's release).
        The total is not counted: only the hits are read."""
        hits = self.engine.search(index, dict(body, size=PAGE, sort=['_doc'],
                                              track_total_hits=False))['hits']['hits']
        if len(hits) < PAGE:
            return hits
        return self.engine.helpers.scan(self.client, index=index, size=PAGE,
                                        ignore_unavailable=True, query=body)

    @base.operation
    def finished_spans(self, limit, before=None, project_id=None, service=None,
                       operation=None, status=None, inclusive=False):
        filters = [{'exists': {'field': 'finished'}}] + search_reads.terms(
            project_id=project_id, service=service, status=status)
        if operation is not None:
            filters.append({'prefix': {'operation': operation}})
        if before is not None:
            filters.append(search_reads.before_position(
                'finished.exact', 'span_id', base.split_position(before), inclusive))
        body = {'size': limit, 'query': search_reads.bool_filter(filters),
                'sort': [{'finished.exact': 'desc'}, {'span_id': 'desc'}]}
        name = self.layout.index('spans')
        self._refresh(name)
        if not self.client.indices.exists(index=name):
            return []
        hits = self._read_ready(name, lambda: self.engine.search(name, body))['hits']['hits']
        return [(base.span_position(span), span)
                for span in (documents.span_from_doc(hit['_source']) for hit in hits)]

    def _scan_spans(self, filters):
        self._refresh(self.layout.index('spans'))
        return self._read_ready(self.layout.index('spans'), lambda: [
            documents.span_from_doc(hit['_source']) for hit in self.engine.helpers.scan(
                self.client, index=self.layout.index('spans'),
                query={'query': search_reads.bool_filter(filters)},
                ignore_unavailable=True)])

    @base.operation
    def notifications(self, request_ids=None, project_id=None, user_id=None,
                      resource_id=None, since=None, until=None, priorities=None,
                      limit=None, host=None, service=None, event_type=None, request=None,
                      oldest_first=False, after=None, message_id=None, fields=None):
        filters = search_reads.notification_filters(
            request_ids=request_ids, project_id=project_id, user_id=user_id,
            resource_id=resource_id, since=since, until=until, priorities=priorities,
            host=host, service=service, event_type=event_type, request=request,
            message_id=message_id)
        name = self.layout.alias('notifications')
        self._refresh(name)
        if limit is not None and limit <= 0:
            return iter(())
        # The client's scan helper: a scroll, read a page at a time.
        hits = self.engine.helpers.scan(
            self.client, index=name, ignore_unavailable=True, preserve_order=True,
            size=min(limit or 1000, 1000),
            query=search_reads.listing(filters, oldest_first, after, fields))
        return (documents.stored_notification(hit['_source'])
                for hit in itertools.islice(hits, limit))

    @base.operation
    def ingested(self, after=None, limit=500, settle=0.0):
        name = self.layout.alias('notifications')
        if not self.client.indices.exists(index=name):
            return []
        self._refresh(name)
        body = {'size': limit, 'query': {'range': {documents.INGESTED: {
                    'lte': _settled_stamp(settle)}}},
                'sort': [{documents.INGESTED: {'order': 'asc', 'unmapped_type': 'keyword'}},
                         {'message_id': 'asc'}]}
        if after is not None:
            body['search_after'] = _stamp_and_id(after)
        hits = self._read_ready(name, lambda: self.engine.search(name, body))['hits']['hits']
        return [('%s %s' % tuple(hit['sort']), documents.stored_notification(hit['_source']))
                for hit in hits]

    @base.operation
    def ingest_page(self, limit, before=None, inclusive=False, **filters):
        query = search_reads.notification_filters(**filters)
        query.append({'exists': {'field': documents.INGESTED}})
        if before is not None:
            query.append(search_reads.before_position(
                documents.INGESTED, 'message_id', _stamp_and_id(before), inclusive))
        name = self.layout.alias('notifications')
        if not self.client.indices.exists(index=name):
            return []
        self._refresh(name)
        body = {'size': limit, 'query': search_reads.bool_filter(query),
                'sort': [{documents.INGESTED: {'order': 'desc', 'unmapped_type': 'keyword'}},
                         {'message_id': 'desc'}]}
        hits = self._read_ready(name, lambda: self.engine.search(name, body))['hits']['hits']
        return [('%s %s' % tuple(hit['sort']), documents.stored_notification(hit['_source']))
                for hit in hits]

    @base.operation
    def ingest_marker(self, settle=0.0):
        # Every stamp up to now - settle is read; the next ones sort after
        # this marker (an empty message id sorts first).
        return _settled_stamp(settle) + ' '

    @base.operation
    def host_activity(self, since, until, project_id=None):
        name = self.layout.alias('notifications')
        self._refresh(name)
        return self._read_ready(name, lambda: search_reads.host_activity(
            self.engine.search, name, since, until, project_id))

    @base.operation
    def error_groups(self, since=None, until=None, project_id=None):
        # Both in one request: errors reads the error notifications and the spans they failed.
        self._refresh('%s,%s' % (self.layout.index('spans'), self.layout.alias('notifications')))
        return self._read_ready(self.layout.alias('notifications'),
                                lambda: search_reads.error_groups(
                                    self.engine.search, self.layout, since, until, project_id))

    def _refresh(self, name):
        """Make what was written to ``name`` searchable before a read: one
        refresh request.

        A daily index created this very moment (the first write of a day)
        holds nothing yet (a write waits for its primary shard) and answers
        searches with 503 until that shard has started; the refresh passes
        over it, and :meth:`_read_ready` waits for it when the read is refused.
        """
        self._prepare(install=False)
        self.client.indices.refresh(index=name, ignore_unavailable=True)

    def _wait_started(self, name):
        """Wait until the indices of ``name`` have started their primary
        shards (yellow: single-node clusters never get green), then refresh:
        the client's immediate retries of a 503 come too soon."""
        if self.client.indices.exists(index=name):
            self.engine.wait_for_yellow(name, '30s')
        self._refresh(name)

    @base.operation
    def count(self, kind):
        if kind not in base.KINDS:
            raise ValueError('unknown kind %r' % kind)
        name = self.layout.index(kind) if kind == 'spans' else self.layout.alias(kind)
        self._refresh(name)
        return self._read_ready(name, lambda: self.client.count(
            index=name, ignore_unavailable=True)['count'])

    def _read_ready(self, name, read):
        """``read()`` of ``name``; again, once, after :meth:`_wait_started` when
        it answered 503: a daily index just created (by a write of a new day)
        fails a search until its primary shard has started
        (``search_phase_execution_exception``, seen from count())."""
        try:
            return read()
        except self.engine.errors as exc:
            if getattr(exc, 'status_code', None) != 503:
                raise
            LOG.debug('%s not searchable yet (%s); waiting for its shards', name, exc)
            self._wait_started(name)
            return read()

    @base.operation
    def purge(self, before):
        """Drop what is older than ``before``: whole daily indices, and spans
        whose every time is older.  :returns: ``{kind: removed}``"""
        removed = {}
        cutoff = before.astimezone(datetime.timezone.utc).strftime('%Y.%m.%d')
        for kind in base.KINDS:
            if kind == 'spans':
                continue
            names = self.client.indices.get(index='%s-%s-*' % (self.prefix, kind),
                                            ignore_unavailable=True, allow_no_indices=True)
            old = [n for n in names if n.rsplit('-', 1)[-1] < cutoff]
            for name in old:
                self.client.indices.delete(index=name)
            removed[kind] = len(old)
        recent = [{'range': {f: {'gte': timeutil.iso(before)}}}
                  for f in ('start', 'last_start', 'end', 'failed', 'aborted')]
        # Spans written within the refresh interval are not searchable yet:
        # the scan must see them to drop the old ones.
        self._refresh(self.layout.index('spans'))
        # Scan and bulk-delete rather than _delete_by_query, which lives in a
        # module minimal distributions leave out.
        old_spans = self.engine.helpers.scan(
            self.client, index=self.layout.index('spans'), _source=False,
            query={'query': {'bool': {'must_not': recent}}}, ignore_unavailable=True)
        actions = ({'_op_type': 'delete', '_index': hit['_index'], '_id': hit['_id']}
                   for hit in old_spans)
        removed['spans'] = sum(1 for ok, op, item in self.writer.bulk(actions)
                               if ok)
        self.client.indices.refresh(index=self.layout.index('spans'), ignore_unavailable=True)
        return removed

    def close(self):
        self.client.close()
        super().close()


def _settled_stamp(settle):
    return documents.ingest_stamp(timeutil.utcnow() - datetime.timedelta(seconds=settle))


def _stamp_and_id(marker):
    """The sort values of an ingest marker (``<stamp> <message id>``)."""
    stamp, space, message_id = marker.partition(' ') if isinstance(marker, str) else ('', '', '')
    if not space or len(stamp) != 27:
        raise ValueError('not an ingest marker of this store: %r' % (marker,))
    return [stamp, message_id]


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


def _past_limits(now, policy):
    """Spans open past their operation's limit as of ``now``: the limit of a
    matching prefix of ``policy`` (a spans.StuckPolicy), else its default."""
    prefixed = [{'bool': {'filter': [{'prefix': {'operation': prefix}},
                                     _open_since_at_most(base.stuck_cutoff(now, seconds))]}}
                for prefix, seconds in policy.overrides]
    other = {'bool': {'must_not': [{'prefix': {'operation': p}} for p, _ in policy.overrides],
                      'filter': [_open_since_at_most(base.stuck_cutoff(now, policy.default))]}}
    return {'bool': {'minimum_should_match': 1, 'should': prefixed + [other]}}
