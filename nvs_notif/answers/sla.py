"""``nvs-notif sla``: service levels per operation (and group), and where time goes.

Rows are named (:class:`SlaRow`, :class:`BreakdownRow`); :func:`sla_row` is
the one place a group's aggregates become a row, whoever aggregated them
(:func:`sla` here over spans, SQL on SQLite, aggregations in a search
engine), so every store shows the same row for the same aggregates.
"""
import collections
import typing

from nvs_notif.answers import common

COLUMNS = ('operation', 'group', 'count', 'success %', 'failures', 'avg (s)', 'p50 (s)',
           'p95 (s)', 'p99 (s)', 'max (s)', 'mean attempts', 'reschedules')
#: The span field each ``--group-by`` groups by.
GROUPS = {'host': 'host', 'service': 'service', 'project': 'project_id',
          'availability_zone': 'availability_zone', 'flavor': 'flavor'}
#: The percentiles of a row.
PERCENTILES = (50, 95, 99)
#: How many exceptions ``failures`` names.
TOP_FAILURES = 3


class SlaRow(typing.NamedTuple):
    """One row of :data:`COLUMNS`."""
    operation: str
    group: str
    count: int
    success_pct: float
    failures: str
    avg: float
    p50: float
    p95: float
    p99: float
    max: float
    mean_attempts: float
    reschedules: int


def rank(p, n):
    """The 1-based nearest rank of percentile ``p`` (an integer) among ``n`` values
    (integer arithmetic, so SQL computes the same)."""
    return max((p * n + 99) // 100, 1)


def percentile(values, p):
    """Nearest-rank percentile of sorted ``values`` (None when empty)."""
    return values[rank(p, len(values)) - 1] if values else None


def rank_failures(counts):
    """``failures`` of a row: the top :data:`TOP_FAILURES` of ``{exception: n}``,
    most frequent first, ties in name order, as ``Exc:n``."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FAILURES]
    return ' '.join('%s:%d' % kv for kv in top)


def sla_row(operation, group, count, successes, failures, timed, total_duration,
            percentiles, longest, attempts, reschedules):
    """A row from one group's aggregates.

    :param failures: ``{exception: failed spans}`` (at least the top three)
    :param timed: how many spans have a duration; ``total_duration`` their sum
    :param percentiles: the durations at :data:`PERCENTILES` (None when untimed)
    :param longest: the longest duration
    :param attempts: the sum of the spans' attempts
    """
    p50, p95, p99 = percentiles
    return SlaRow(operation, group or '-', count, round(100.0 * successes / count, 1),
                  rank_failures(failures),
                  common.seconds(total_duration / timed) if timed else None,
                  common.seconds(p50), common.seconds(p95), common.seconds(p99),
                  common.seconds(longest), round(attempts / count, 2), reschedules)


def sla(spans, group_by=None, operation=None, since=None, until=None):
    """Per operation (and group) service levels, aggregated in Python.

    ``success %`` is successful spans over all spans (open ones included);
    durations are of the spans that have one (finished, with a start);
    ``failures`` are the top three exceptions of failed spans as ``Exc:n``;
    ``reschedules`` counts spans with several attempts that ran on more than
    one host (:attr:`nvs_notif.spans.Span.rescheduled`).

    :param group_by: None or a key of :data:`GROUPS`
    :param operation: only operations starting with this prefix
    :param since: only spans started at or after this (aware datetime)
    :param until: only spans started at or before this
    :returns: :class:`SlaRow` rows sorted by operation, then group
    """
    field = GROUPS[group_by] if group_by else None
    groups = collections.defaultdict(list)
    for s in spans:
        if operation and not s.operation.startswith(operation):
            continue
        if (since or until) and not common.in_window(s.start, since, until):
            continue
        groups[(s.operation, (getattr(s, field) if field else None) or '-')].append(s)
    rows = []
    for (op, group), members in sorted(groups.items()):
        durations = sorted(s.duration for s in members if s.duration is not None)
        rows.append(sla_row(
            op, group, len(members), sum(s.status == 'success' for s in members),
            collections.Counter(common.exception(s.fault) for s in members
                                if s.status == 'failure'),
            len(durations), sum(durations),
            [percentile(durations, p) for p in PERCENTILES],
            durations[-1] if durations else None,
            sum(s.attempts for s in members), sum(s.rescheduled for s in members)))
    return rows


BREAKDOWN_COLUMNS = ('operation', 'service', 'requests', 'spans', 'total (s)', 'share %')


class BreakdownRow(typing.NamedTuple):
    """One row of :data:`BREAKDOWN_COLUMNS`."""
    operation: str
    service: str
    requests: int
    spans: int
    total: float
    share_pct: float


def breakdown(spans, operation, since=None, until=None):
    """Where requests of ``operation`` spend their time.

    The requests are those with a span of exactly ``operation`` (the root
    spans) started inside ``since``/``until`` (aware datetimes or None).
    Their other spans are those with the same request id, and those
    of the sub-requests whose global request id is one of those request ids
    (a neutron port created for a nova boot), whenever they ran.  Each other
    operation's share is the sum of its durations over the sum of the root
    durations, so nested or parallel steps may add up to more than 100%.
    Only the requests whose root span has a duration (finished, with a start)
    count towards the shares: the other spans of an open root are left out,
    as the root is.  A row's service is the least service name of its spans.

    :param spans: every span the answer may use (all of them, or a project's)
    :returns: :class:`BreakdownRow` rows, the root first, then by total time,
        largest first
    """
    spans = list(spans)
    roots = {s.request_id: s for s in spans
             if s.operation == operation and s.request_id
             and (not (since or until) or common.in_window(s.start, since, until))}
    if not roots:
        return []
    timed = {r for r, s in roots.items() if s.duration is not None}
    parts = collections.defaultdict(lambda: [set(), 0, 0.0, set()])
    for s in spans:
        if s.operation == operation or s.duration is None:
            continue
        request = (s.request_id if s.request_id in timed
                   else s.global_request_id if s.global_request_id in timed else None)
        if request is None:
            continue
        part = parts[s.operation]
        part[0].add(request)
        part[1] += 1
        part[2] += s.duration
        part[3].add(s.service)
    return breakdown_rows(
        operation, _least(s.service for s in roots.values()), len(roots), len(timed),
        sum(roots[r].duration for r in timed),
        [(op, _least(services), len(requests), count, total)
         for op, (requests, count, total, services) in parts.items()])


def _least(services):
    return min((s for s in services if s), default=None)


def breakdown_rows(operation, service, roots, timed, root_total, parts):
    """The rows of :func:`breakdown` from its aggregates, whoever aggregated them.

    :param roots: how many root spans; ``timed`` how many have a duration,
        ``root_total`` the sum of those
    :param parts: ``(operation, service, requests, spans, total seconds)`` per
        other operation
    """
    def share(total):
        return round(100.0 * total / root_total, 1) if root_total else None

    rows = [BreakdownRow(operation, service, roots, timed, common.seconds(root_total),
                         share(root_total))]
    for op, svc, requests, count, total in sorted(parts, key=lambda p: (-p[4], p[0])):
        rows.append(BreakdownRow('  ' + op, svc, requests, count, common.seconds(total),
                                 share(total)))
    return rows
