"""The span answers the search-engine stores compute, as aggregations
(Elasticsearch and OpenSearch alike: one request shape, one parser).

Groups are composite aggregations read a page at a time
(:func:`nvs_notif.storage.search_reads.groups`), so any number of operations
and groups is answered; only aggregated buckets leave the engine.

Percentiles: the engines' ``percentiles`` aggregation estimates (t-digest).
A group with at most :data:`EXACT_PERCENTILES` durations gets exact
nearest-rank percentiles instead, from a second request listing its
durations with their counts (a ``terms`` aggregation, ascending); larger
groups show the estimate, which lies between the exact values at the ranks
``rank - tolerance(n)`` and ``rank + tolerance(n)`` (:func:`tolerance`,
tested).  Everything else is exact (counts, sums, maxima, the top failures
on a single-shard spans index).  Times are compared to the millisecond (the
engines' ``date``): a span started, or opened, in the same millisecond as a
bound may fall on the other side of it than in SQLite.
"""
import collections

from nvs_notif.answers import sla as sla_answer
from nvs_notif.answers import summary
from nvs_notif import timeutil
from nvs_notif.storage import base
from nvs_notif.storage import search_reads

#: Groups with at most this many durations get exact percentiles.
EXACT_PERCENTILES = 1000
#: Buckets one exact-percentile request may return (the engines refuse more
#: than ``search.max_buckets``, 65,536 by default).
_MAX_BUCKETS = 50000


def tolerance(n):
    """How many ranks an estimated percentile of ``n`` durations may be off: 1%
    of ``n`` and one more."""
    return -(-n // 100) + 1


def span_filters(operation=None, since=None, until=None, project_id=None):
    """Spans of an operation prefix, started inside ``since``..``until``
    (inclusive), of a project."""
    filters = search_reads.terms(project_id=project_id)
    if operation:
        filters.append({'prefix': {'operation': operation}})
    window = search_reads.date_range(since, until)
    if window:
        filters.append({'range': {'start': window}})
    return filters


#: The aggregates of each group of ``sla``.
SLA_METRICS = {
    'success': {'filter': {'term': {'status': 'success'}}},
    'duration': {'stats': {'field': 'duration'}},
    'percentiles': {'percentiles': {'field': 'duration', 'keyed': False,
                                    'percents': list(sla_answer.PERCENTILES)}},
    'attempts': {'sum': {'field': 'attempts'}},
    'rescheduled': {'filter': {'term': {'rescheduled': True}}},
    'failures': {'filter': {'term': {'status': 'failure'}}, 'aggs': {'top': {'terms': {
        'field': 'error_key', 'missing': '-', 'size': sla_answer.TOP_FAILURES,
        'order': [{'_count': 'desc'}, {'_key': 'asc'}]}}}},
}


#: One group of ``sla`` as the engine aggregated it.
Group = collections.namedtuple('Group', 'operation key count successes failures timed total '
                                        'estimated longest attempts reschedules')


def sla_keys(group_by):
    """The fields ``sla``'s groups are (composite sources, missing values a bucket)."""
    return ('operation', sla_answer.GROUPS[group_by]) if group_by else ('operation',)


def sla_group(bucket, group_by=None):
    """The :class:`Group` of one composite bucket of :data:`SLA_METRICS` over
    :func:`sla_keys`."""
    stats = bucket['duration']
    key = bucket['key'].get(sla_answer.GROUPS[group_by]) if group_by else None
    return Group(bucket['key']['operation'], key, bucket['doc_count'],
                 bucket['success']['doc_count'],
                 {b['key']: b['doc_count'] for b in bucket['failures']['top']['buckets']},
                 stats['count'], stats['sum'] if stats['count'] else 0.0,
                 [v['value'] for v in bucket['percentiles']['values']], stats['max'],
                 int(bucket['attempts']['value']), bucket['rescheduled']['doc_count'])


def _group_filter(group_by, group):
    clauses = [{'term': {'operation': group.operation}}]
    if group_by:
        field = sla_answer.GROUPS[group_by]
        clauses.append({'term': {field: group.key}} if group.key is not None
                       else {'bool': {'must_not': [{'exists': {'field': field}}]}})
    return {'bool': {'filter': clauses}}


def exact_bodies(group_by, filters, groups):
    """Requests listing the durations (with counts, ascending) of the groups
    small enough for exact percentiles; ``{str(index in groups): filter}``
    names each group's bucket."""
    small = [i for i, g in enumerate(groups) if 0 < g.timed <= EXACT_PERCENTILES]
    per_request = max(_MAX_BUCKETS // max(EXACT_PERCENTILES, 1), 1)
    for start in range(0, len(small), per_request):
        chosen = small[start:start + per_request]
        yield {'size': 0,
               'query': search_reads.bool_filter(filters + [{'exists': {'field': 'duration'}}]),
               'aggs': {'exact': {
                   'filters': {'filters': {str(i): _group_filter(group_by, groups[i])
                                           for i in chosen}},
                   'aggs': {'durations': {'terms': {'field': 'duration',
                                                    'size': EXACT_PERCENTILES,
                                                    'order': {'_key': 'asc'}}}}}}}


def exact_percentiles(response):
    """``{index in groups: [durations at PERCENTILES]}`` of an :func:`exact_bodies` response."""
    found = {}
    for name, bucket in response['aggregations']['exact']['buckets'].items():
        counted = [(b['key'], b['doc_count']) for b in bucket['durations']['buckets']]
        n = sum(c for _, c in counted)
        found[int(name)] = [_at_rank(counted, sla_answer.rank(p, n))
                            for p in sla_answer.PERCENTILES]
    return found


def _at_rank(counted, rank):
    seen = 0
    for value, count in counted:
        seen += count
        if seen >= rank:
            return value
    return None


def sla_rows(groups, exact):
    """:class:`~nvs_notif.answers.sla.SlaRow` rows of the groups, sorted by
    operation then group; ``exact`` replaces the estimates it has."""
    rows = [sla_answer.sla_row(g.operation, g.key, g.count, g.successes, g.failures, g.timed,
                               g.total, exact.get(i, g.estimated), g.longest, g.attempts,
                               g.reschedules)
            for i, g in enumerate(groups)]
    rows.sort(key=lambda r: (r.operation, r.group))
    return rows


def past_limit(now, policy):
    """Open spans open longer than their operation's limit as of ``now``
    (strictly, as :func:`nvs_notif.spans.outcome`), each prefix of ``policy``
    holding the operations no longer prefix of it holds."""
    def opened_before(seconds):
        cutoff = base.stuck_cutoff(now, seconds)
        return ({'range': {'open_since': {'lt': cutoff}}} if cutoff is not None
                else {'match_none': {}})
    prefixes = [p for p, _ in policy.overrides]
    clauses = [{'bool': {'filter': [{'prefix': {'operation': p}}, opened_before(seconds)],
                         'must_not': [{'prefix': {'operation': q}} for q in prefixes
                                      if len(q) > len(p) and q.startswith(p)]}}
               for p, seconds in policy.overrides]
    clauses.append({'bool': {'filter': [opened_before(policy.default)],
                             'must_not': [{'prefix': {'operation': p}} for p in prefixes]}})
    return {'bool': {'minimum_should_match': 1, 'should': clauses}}


def summary_body(now, policy, project_id=None):
    """The counts of a :class:`~nvs_notif.answers.summary.SpanSummary` (all
    spans: ``hits.total``)."""
    open_ = {'term': {'status': 'open'}}
    counts = {
        'success': {'term': {'status': 'success'}},
        'failure': {'term': {'status': 'failure'}},
        'open': open_,
        'timeout': {'bool': {'filter': [open_, past_limit(now, policy)]}},
        'without_start': {'bool': {'must_not': [{'exists': {'field': 'start'}}]}},
        'retried': {'range': {'attempts': {'gt': 1}}},
        'rescheduled': {'term': {'rescheduled': True}},
    }
    return {'size': 0, 'track_total_hits': True,
            'query': search_reads.bool_filter(span_filters(project_id=project_id)),
            'aggs': {name: {'filter': f} for name, f in counts.items()}}


def summary_of(response):
    """The :class:`~nvs_notif.answers.summary.SpanSummary` of a :func:`summary_body` response."""
    aggs = response.get('aggregations')
    if not aggs:        # no spans index yet
        return summary.SpanSummary()
    n = {name: agg['doc_count'] for name, agg in aggs.items()}
    return summary.SpanSummary(
        response['hits']['total']['value'], n['success'], n['failure'],
        n['open'] - n['timeout'], n['timeout'], n['without_start'], n['retried'],
        n['rescheduled'])


def failures_query(project_id=None):
    """The failed spans (of a project), grouped by (operation, error_key) for
    :func:`top_failures`."""
    return search_reads.bool_filter(span_filters(project_id=project_id)
                                    + [{'term': {'status': 'failure'}}])


def top_failures(buckets, limit):
    """The top ``limit`` :class:`~nvs_notif.answers.summary.Failure` rows of
    the (operation, error_key) buckets of :func:`failures_query`."""
    return summary.rank_failures(
        (((b['key']['operation'], b['key']['error_key']), b['doc_count']) for b in buckets),
        limit)


#: Request ids one ``terms`` filter holds (the engines refuse more than
#: ``index.max_terms_count``, 65,536 by default).
_MAX_TERMS = 50000
#: Keys per page of the breakdown's join (under ``search.max_buckets``,
#: 65,536): every page runs its query again, whose request-id filters cost most.
_JOIN_PAGE = 50000
#: A group's least service name (empty ones aside, as answers.sla does).
_LEAST_SERVICE = {'terms': {'field': 'service', 'size': 1, 'order': {'_key': 'asc'},
                            'exclude': ['']}}
#: The spans per operation of a breakdown's part: count, total duration,
#: least service.  Operations are few: one ``terms`` request holds them.
_BY_OPERATION = {'terms': {'field': 'operation', 'size': 10000}, 'aggs': {
    'duration': {'sum': {'field': 'duration'}}, 'service': _LEAST_SERVICE}}


def breakdown_roots(operation, since=None, until=None, project_id=None):
    """The filters of the root spans of ``sla --breakdown``: of exactly
    ``operation``, of a request, started inside ``since``..``until``, of a project."""
    return span_filters(None, since, until, project_id) + [
        {'term': {'operation': operation}}, {'exists': {'field': 'request_id'}},
        {'bool': {'must_not': [{'term': {'request_id': ''}}]}}]


def breakdown_root_body(roots):
    """The root row's aggregates: count (``hits.total``), timed count, total
    duration, least service."""
    return {'size': 0, 'track_total_hits': True, 'query': search_reads.bool_filter(roots),
            'aggs': {'duration': {'stats': {'field': 'duration'}}, 'service': _LEAST_SERVICE}}


def breakdown_parts(operation, timed, project_id=None):
    """``[(own, made)]`` per chunk of the ``timed`` root request ids: the filters
    of the other spans with a duration of those requests, and of the requests
    they made (global request id one of them, request id none of ``timed``: a
    span counts for its own request, as answers.sla.breakdown counts it)."""
    base = span_filters(project_id=project_id) + [
        {'exists': {'field': 'duration'}},
        {'bool': {'must_not': [{'term': {'operation': operation}}]}}]
    chunks = [timed[i:i + _MAX_TERMS] for i in range(0, len(timed), _MAX_TERMS)]
    not_timed = {'bool': {'must_not': [{'terms': {'request_id': c}} for c in chunks]}}
    return [(base + [{'terms': {'request_id': c}}],
             base + [{'terms': {'global_request_id': c}}, not_timed]) for c in chunks]


def join_body(filters, keys, after=None, aggs=None):
    """A page of the distinct ``keys`` tuples of the spans of ``filters`` (a
    composite aggregation ``keys``, no sub-aggregation), with ``aggs`` beside it."""
    composite = {'size': _JOIN_PAGE, 'sources': [{k: {'terms': {'field': k}}} for k in keys]}
    if after is not None:
        composite['after'] = after
    return {'size': 0, 'query': search_reads.bool_filter(filters),
            'aggs': dict(aggs or {}, keys={'composite': composite})}


def by_operation(aggs):
    """The buckets of :data:`_BY_OPERATION` in ``aggs`` (``operations``)."""
    found = aggs.get('operations', {})
    if found.get('sum_other_doc_count'):
        raise base.StoreError('more operations than a breakdown reads')
    return found.get('buckets', ())


def _least_service(aggs):
    services = aggs['service']['buckets']
    return services[0]['key'] if services else None


class _Part:
    """The aggregates of one other operation of a breakdown."""

    def __init__(self):
        self.count, self.total, self.services = 0, 0.0, set()
        self.own = 0                # spans of the roots' requests: one per request
        self.requests = set()       # the other requests counted

    def add(self, bucket, own):
        self.count += bucket['doc_count']
        self.total += bucket['duration']['value']
        self.services.add(_least_service(bucket))
        if own:
            self.own += bucket['doc_count']

    def row(self, operation):
        return (operation, min((s for s in self.services if s), default=None),
                self.own + len(self.requests), self.count, self.total)


def latest_time_body(project_id=None):
    """The newest notification that told a span something (see
    :func:`nvs_notif.storage.sqlite_span_answers.latest_time_statement`),
    exactly: ties of the millisecond ``timestamp`` by its ISO text."""
    filters = search_reads.terms(project_id=project_id) + [
        {'terms': {'phase': ['start', 'end', 'error']}},
        {'bool': {'minimum_should_match': 1, 'should': [
            {'exists': {'field': 'request_id'}}, {'exists': {'field': 'resource_id'}}]}}]
    return {'size': 1, '_source': ['timestamp'], 'query': search_reads.bool_filter(filters),
            'sort': [{'timestamp': 'desc'},
                     {'timestamp.exact': {'order': 'desc', 'unmapped_type': 'keyword'}}]}


class SearchSpanAnswers:
    """The span answers of :class:`nvs_notif.storage.search.SearchStore`
    (a mixin: the store's engine, layout and read helpers)."""

    def _span_search(self, body):
        index = self.layout.index('spans')
        return self._read_ready(index, lambda: self.engine.search(index, body))

    def _span_groups(self, query, keys, aggs):
        index = self.layout.index('spans')
        self._refresh(index)
        return self._read_ready(index, lambda: list(search_reads.groups(
            self.engine.search, index, query, keys, aggs)))

    @base.operation
    def sla(self, group_by=None, operation=None, since=None, until=None, project_id=None):
        filters = span_filters(operation, since, until, project_id)
        groups = [sla_group(b, group_by) for b in self._span_groups(
            search_reads.bool_filter(filters), sla_keys(group_by), SLA_METRICS)]
        exact = {}
        for body in exact_bodies(group_by, filters, groups):
            exact.update(exact_percentiles(self._span_search(body)))
        return sla_rows(groups, exact)

    def _join_keys(self, filters, keys, aggs=None):
        """``(every distinct keys tuple of the spans of filters, the first
        page's aggregations)``: :func:`join_body` pages."""
        index = self.layout.index('spans')
        found, first, after = [], None, None
        while True:
            body = join_body(filters, keys, after, aggs if after is None else None)
            page = self._read_ready(index, lambda: self.engine.search(index, body)).get(
                'aggregations', {})
            first = page if first is None else first
            buckets = page.get('keys', {}).get('buckets', ())
            found += [tuple(b['key'][k] for k in keys) for b in buckets]
            after = page.get('keys', {}).get('after_key')
            if not search_reads.more_pages(after, buckets, _JOIN_PAGE):
                return found, first

    @base.operation
    def breakdown(self, operation, since=None, until=None, project_id=None):
        # The engines join nothing: the timed roots' request ids come back
        # (composite keys) and go out again as terms filters.
        roots = breakdown_roots(operation, since, until, project_id)
        self._refresh(self.layout.index('spans'))
        found = self._span_search(breakdown_root_body(roots))
        count = found['hits']['total']['value'] if 'aggregations' in found else 0
        if not count:
            return []
        timed, _ = self._join_keys(roots + [{'exists': {'field': 'duration'}}], ('request_id',))
        parts = collections.defaultdict(_Part)
        chunks = breakdown_parts(operation, [r for (r,) in timed], project_id)
        for own, made in chunks:
            for b in by_operation(self._span_search(
                    {'size': 0, 'query': search_reads.bool_filter(own),
                     'aggs': {'operations': _BY_OPERATION}})['aggregations']):
                parts[b['key']].add(b, own=True)
            pairs, first = self._join_keys(made, ('operation', 'global_request_id'),
                                           {'operations': _BY_OPERATION})
            for b in by_operation(first):
                parts[b['key']].add(b, own=False)
            for op, request in pairs:
                parts[op].requests.add(request)
        # An operation both of the roots' requests and of those they made:
        # its own requests by id too, so a request counts once.
        both = [op for op, part in parts.items() if part.own and part.requests]
        for own, _ in chunks if both else ():
            for op, request in self._join_keys(own + [{'terms': {'operation': both}}],
                                               ('operation', 'request_id'))[0]:
                parts[op].own -= 1
                parts[op].requests.add(request)
        stats = found['aggregations']['duration']
        return sla_answer.breakdown_rows(
            operation, _least_service(found['aggregations']), count, stats['count'],
            stats['sum'] if stats['count'] else 0.0,
            [part.row(op) for op, part in parts.items()])

    @base.operation
    def span_summary(self, now, policy, project_id=None):
        self._refresh(self.layout.index('spans'))
        return summary_of(self._span_search(summary_body(now, policy, project_id)))

    @base.operation
    def top_failures(self, limit=5, project_id=None):
        return top_failures(self._span_groups(failures_query(project_id),
                                              ('operation', 'error_key'), {}), limit)

    @base.operation
    def sample_span(self, project_id=None):
        requests = search_reads.terms(project_id=project_id) + [
            {'exists': {'field': 'request_id'}}]
        self._refresh(self.layout.index('spans'))
        most = self._span_search({'size': 0, 'query': search_reads.bool_filter(requests),
                                  'aggs': {'most': {'max': {'field': 'attempts'}}}})
        attempts = most.get('aggregations', {}).get('most', {}).get('value')
        if attempts is None:
            return None
        return base.sample_of(self._scan_spans(requests + [
            {'term': {'attempts': int(attempts)}}]))

    @base.operation
    def latest_time(self, project_id=None):
        name = self.layout.alias('notifications')
        self._refresh(name)
        hits = self._read_ready(name, lambda: self.engine.search(
            name, latest_time_body(project_id)))['hits']['hits']
        return timeutil.parse_iso(hits[0]['_source']['timestamp']) if hits else None
