"""The SQL of the span answers the SQLite store computes itself.

Each function returns ``(statement, arguments)`` or turns the rows of one
into an answer's named rows (:mod:`nvs_notif.answers`); ``SQLiteStore``
only runs them.  Only the rows shown leave SQLite: groups are aggregated by
``GROUP BY``, the top failures and the nearest-rank percentiles are picked
by a window function and by rank in the ``spans_sla`` index, which covers
every column a whole-history ``sla`` reads, in the order its percentiles
need (by operation, then duration), so neither the table nor a sort is
touched.
"""
import collections

from nvs_notif.answers import sla as sla_answer
from nvs_notif.answers import summary
from nvs_notif.storage import base
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_layout
from nvs_notif.storage import sqlite_reads
from nvs_notif.storage import sqlite_rollups

#: Groups of at most this many durations get exact percentiles (read from the
#: spans); larger ones are read from the rollups' histogram, within
#: sqlite_rollups.ALPHA of the exact duration.
EXACT_PERCENTILES = 1000

_SPAN_COLUMNS = sqlite_layout.select_sql(schema.SPANS)


def _opened_before(now, seconds):
    # '' when no time is early enough: no open_since is <= it.
    return base.stuck_cutoff(now, seconds) or ''


def stuck_limit(now, policy):
    """``(SQL expression, its args, the latest cutoff)``: per span, the latest
    ``open_since`` past its operation's limit as of ``now``; the longest
    matching prefix wins, as in :meth:`nvs_notif.spans.StuckPolicy.limit`."""
    cases, args = [], []
    cutoffs = [_opened_before(now, policy.default)]
    for prefix, seconds in policy.overrides:
        cutoffs.append(_opened_before(now, seconds))
        cases.append('WHEN substr(operation, 1, ?) = ? THEN ?')
        args += [len(prefix), prefix, cutoffs[-1]]
    if not cases:
        return '?', cutoffs, cutoffs[0]
    return 'CASE %s ELSE ? END' % ' '.join(cases), args + cutoffs[:1], max(cutoffs)


def _where(where):
    return ' WHERE ' + ' AND '.join(where) if where else ''


def span_filter(operation=None, since=None, until=None, project_id=None):
    """``(conditions, args)`` of spans of an operation prefix, started inside
    ``since``..``until`` (inclusive), of a project."""
    where, args = [], []
    if operation:
        sqlite_reads.add_prefix(where, args, 'operation', operation)
    sqlite_reads.window(where, args, 'start', since, until)
    if project_id is not None:
        where.append('project_id = ?')
        args.append(project_id)
    return where, args


def _group(group_by):
    # Unknown and empty groups show as '-', as answers.sla does.
    if group_by is None:
        return "'-'"
    return "coalesce(nullif(%s, ''), '-')" % sla_answer.GROUPS[group_by]


def sla_statements(group_by=None, operation=None, since=None, until=None, project_id=None):
    """``{part: (statement, args)}`` of ``sla``: ``groups`` (one row of
    aggregates per operation and group) and ``failures`` (the top exceptions
    of each group's failed spans); then :func:`percentile_statements`."""
    where, args = span_filter(operation, since, until, project_id)
    group = _group(group_by)
    # Without a group, by operation alone: the order spans_sla is in.
    by = 'operation, grp' if group_by else 'operation'
    groups = ("SELECT operation, %s AS grp, count(*), count(*) FILTER (WHERE status = "
              "'success'), count(duration), total(duration), max(duration), sum(attempts), "
              'sum(rescheduled) FROM spans%s GROUP BY %s' % (group, _where(where), by))
    failures = (
        'SELECT operation, grp, key, n FROM ('
        ' SELECT operation, grp, key, n, row_number() OVER ('
        '  PARTITION BY %(by)s ORDER BY n DESC, key) AS place FROM ('
        "   SELECT operation, %(group)s AS grp, coalesce(error_key, '-') AS key, count(*) AS n"
        '   FROM spans%(where)s GROUP BY %(by)s, key))'
        ' WHERE place <= %(top)d'
        % dict(group=group, by=by, where=_where(where + ["status = 'failure'"]),
               top=sla_answer.TOP_FAILURES))
    return {'groups': (groups, args), 'failures': (failures, args)}


def percentile_statements(groups, group_by=None, operation=None, since=None, until=None,
                          project_id=None):
    """The statements whose rows are ``(operation, group, rank, duration)``: the
    durations at the nearest ranks of :data:`~nvs_notif.answers.sla.PERCENTILES`
    of each of ``groups`` (rows of the ``groups`` statement).

    Per operation, each is the duration at its rank in ``spans_sla``'s order
    (``ORDER BY duration LIMIT 1 OFFSET rank - 1``: a walk of the index from
    the operation's first duration, no sort); with ``group_by`` one statement
    numbers each group's durations (``row_number()``, a sort).
    """
    where, args = span_filter(operation, since, until, project_id)
    where.append('duration IS NOT NULL')
    if group_by:
        group = _group(group_by)
        ranks = ', '.join('max((%d * n + 99) / 100, 1)' % p for p in sla_answer.PERCENTILES)
        return [(
            'SELECT operation, grp, place, duration FROM ('
            ' SELECT operation, %(group)s AS grp, duration,'
            '  row_number() OVER durations AS place, count(*) OVER (durations'
            '   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n'
            ' FROM spans%(where)s'
            ' WINDOW durations AS (PARTITION BY operation, %(group)s ORDER BY duration))'
            ' WHERE place IN (%(ranks)s)' % dict(group=group, where=_where(where), ranks=ranks),
            args)]
    statements = []
    for op, group, _count, _successes, timed in (g[:5] for g in groups):
        for place in sorted({sla_answer.rank(p, timed) for p in sla_answer.PERCENTILES}
                            if timed else ()):
            statements.append((
                'SELECT ?, ?, ?, duration FROM spans%s ORDER BY duration LIMIT 1 OFFSET ?'
                % _where(['operation = ?'] + where),
                [op, group, place, op] + args + [place - 1]))
    return statements


def rollup_sla_statements(window, operation=None, project_id=None):
    """``{part: (statement, args)}`` of ``sla`` (without ``--group-by``) over
    ``window``'s whole hours (:func:`nvs_notif.storage.sqlite_rollups.split`),
    read from the rollups: ``groups`` rows as :func:`sla_statements`' and
    ``failures`` (every exception's count, not the top three)."""
    where, args = [], []
    if operation:
        sqlite_reads.add_prefix(where, args, 'operation', operation)
    if project_id is not None:
        where.append('project_id = ?')
        args.append(project_id)
    sqlite_rollups.hour_filter(where, args, window)
    groups = ("SELECT operation, '-', sum(spans), sum(successes), sum(timed), "
              'sum(duration_us) / 1e6, max(longest), sum(attempts), sum(rescheduled) '
              'FROM span_hours%s GROUP BY operation' % _where(where))
    failures = ("SELECT operation, '-', CASE error_key WHEN '' THEN '-' ELSE error_key END, "
                'sum(failures) FROM span_failure_hours%s GROUP BY operation, error_key'
                % _where(where))
    return {'groups': (groups, args), 'failures': (failures, args)}


def failure_counts_statement(operation=None, since=None, until=None, project_id=None):
    """``(statement, args)`` of every exception's count of the failed spans of
    each operation started inside ``since``..``until`` (rows as the ``failures``
    of :func:`rollup_sla_statements`)."""
    where, args = span_filter(operation, since, until, project_id)
    return ("SELECT operation, '-', coalesce(error_key, '-'), count(*) FROM spans%s "
            'GROUP BY operation, error_key' % _where(where + ["status = 'failure'"]), args)


def add_groups(groups):
    """``groups`` rows (of the same operation and group from several parts of
    a window) added up: counts and totals summed, the longest kept."""
    added = {}
    for row in groups:
        key = tuple(row[:2])
        if key not in added:
            added[key] = list(row)
            continue
        into = added[key]
        for i in (2, 3, 4, 5, 7, 8):
            into[i] = (into[i] or 0) + (row[i] or 0)
        into[6] = max((v for v in (into[6], row[6]) if v is not None), default=None)
    return [tuple(row) for row in added.values()]


def histogram_statements(window, operations, project_id=None):
    """The statements whose rows are ``(operation, bucket, durations)`` of the
    durations of ``operations`` (names) over ``window``: its whole hours from
    the rollups' histogram, its edges bucketed from the spans."""
    ops = list(operations)
    where = ['operation IN (%s)' % ', '.join('?' * len(ops))]
    args = list(ops)
    if project_id is not None:
        where.append('project_id = ?')
        args.append(project_id)
    statements = []
    if window.hours is not None:
        sqlite_rollups.hour_filter(where, args, window)
        statements.append(('SELECT operation, bucket, sum(durations) FROM span_duration_hours%s '
                           'GROUP BY operation, bucket' % _where(where), args))
    for since, until in window.edges:
        edge, edge_args = span_filter(None, since, until, project_id)
        statements.append(('SELECT operation, %s(duration), count(*) FROM spans%s GROUP BY 1, 2'
                           % (sqlite_rollups.BUCKET_FUNCTION, _where(
                               [where[0], 'duration IS NOT NULL'] + edge)), ops + edge_args))
    return statements


def estimated_percentiles(op, group, timed, longest, buckets):
    """``(operation, group, rank, duration)`` rows of the nearest ranks of
    :data:`~nvs_notif.answers.sla.PERCENTILES` among ``timed`` durations, read
    from their histogram (``(bucket, count)`` pairs, a bucket may repeat):
    each within :data:`~nvs_notif.storage.sqlite_rollups.ALPHA` of the exact
    one, and never beyond the exact ``longest``."""
    counts = collections.Counter()
    for k, n in buckets:
        counts[k] += n
    ranks = sorted({sla_answer.rank(p, timed) for p in sla_answer.PERCENTILES})
    rows, seen = [], 0
    for k in sorted(counts, key=sqlite_rollups.bucket_value):
        seen += counts[k]
        while ranks and ranks[0] <= seen:
            rows.append((op, group, ranks.pop(0), min(sqlite_rollups.bucket_value(k), longest)))
    return rows


def sla_rows(groups, failures, percentiles):
    """:class:`~nvs_notif.answers.sla.SlaRow` rows, sorted by operation then
    group, of the rows of :func:`sla_statements`' two statements and of
    :func:`percentile_statements`'."""
    top = collections.defaultdict(collections.Counter)
    for op, group, key, n in failures:
        top[op, group][key] += n
    at_rank = collections.defaultdict(dict)
    for op, group, place, duration in percentiles:
        at_rank[op, group][place] = duration
    rows = []
    for op, group, count, successes, timed, total, longest, attempts, reschedules in groups:
        values = at_rank[op, group]
        rows.append(sla_answer.sla_row(
            op, group, count, successes, top[op, group], timed, total,
            [values.get(sla_answer.rank(p, timed)) for p in sla_answer.PERCENTILES],
            longest, attempts or 0, reschedules or 0))
    rows.sort(key=lambda r: (r.operation, r.group))
    return rows


def summary_statement(now, policy, project_id=None):
    """``(statement, args)`` of one row: the counts of a
    :class:`~nvs_notif.answers.summary.SpanSummary` but ``in_progress``, with
    the open spans first (what :func:`summary_row` needs)."""
    limit, limit_args, latest = stuck_limit(now, policy)
    where, args = span_filter(project_id=project_id)
    # The counts read only columns spans_sla holds (a whole-history summary
    # scans that index, never the table); timeout, open past the limit
    # strictly (spans.outcome: longer than it), read from the open spans
    # alone (an index on status) started before the latest cutoff.
    timeout = ("SELECT count(*) FROM spans WHERE status = 'open' AND open_since <= ? "
               'AND open_since < %s%s' % (limit, ''.join(' AND ' + w for w in where)))
    return ("SELECT count(*), total(status = 'open'), total(status = 'success'), "
            "total(status = 'failure'), (%s), total(start IS NULL), total(attempts > 1), "
            'total(rescheduled) FROM spans%s' % (timeout, _where(where)),
            [latest] + limit_args + args + args)


def summary_row(row):
    """The :class:`~nvs_notif.answers.summary.SpanSummary` of :func:`summary_statement`'s row."""
    spans, opened, success, failure, timeout, without_start, retried, rescheduled = (
        int(v) for v in row)
    return summary.SpanSummary(spans, success, failure, opened - timeout, timeout,
                               without_start, retried, rescheduled)


def top_failures_statement(limit, project_id=None):
    """``(statement, args)`` of the top ``limit`` (operation, exception, count)
    of failed spans, ranked as :func:`nvs_notif.answers.summary.top_failures`."""
    where, args = span_filter(project_id=project_id)
    return ('SELECT operation, error_key, count(*) AS n FROM spans%s '
            "GROUP BY operation, error_key ORDER BY n DESC, operation, coalesce(error_key, '') "
            'LIMIT ?' % _where(where + ["status = 'failure'"]), args + [int(limit)])


def latest_time_statement(project_id=None):
    """``(statement, args)`` of the newest time a span was told.

    Every start, end, failure and abort of a span is the time of a
    ``.start``/``.end``/``.error`` notification with a request (or resource)
    id, stored with it in the same transaction: the newest of those is read
    from the notifications' time index, newest first, without reading spans.
    """
    where = ["phase IN ('start', 'end', 'error')",
             "coalesce(nullif(request_id, ''), nullif(resource_id, '')) IS NOT NULL"]
    args = []
    if project_id is not None:
        where.append('project_id = ?')
        args.append(project_id)
    return ('SELECT timestamp FROM notifications%s ORDER BY timestamp DESC LIMIT 1'
            % _where(where), args)


def breakdown_statements(operation, since=None, until=None, project_id=None):
    """``{part: (statement, args)}`` of ``sla --breakdown``: ``root`` (one row:
    the root spans' service, count, timed count, total duration) and ``parts``
    (per other operation of the timed roots' requests and of the requests
    they made: service, requests, spans, total duration).  Joined in SQL
    through the ``spans_request`` and ``spans_global_request`` indexes."""
    where, args = span_filter(None, since, until, project_id)
    roots = ('SELECT request_id, duration, service FROM spans WHERE operation = ? '
             'AND request_id IS NOT NULL%s' % ''.join(' AND ' + w for w in where))
    root_args = [operation] + args
    root = ('WITH roots AS (%s) SELECT min(service), count(*), count(duration), '
            'total(duration) FROM roots' % roots)
    _, project_args = span_filter(project_id=project_id)
    parts = (
        'WITH timed AS (SELECT request_id FROM (%s) WHERE duration IS NOT NULL) '
        'SELECT operation, min(service), count(DISTINCT request), count(*), total(duration) '
        'FROM (SELECT operation, service, duration, CASE WHEN request_id IN timed '
        '      THEN request_id ELSE global_request_id END AS request FROM spans '
        '      WHERE operation != ? AND duration IS NOT NULL%s '
        '      AND (request_id IN timed OR global_request_id IN timed)) '
        'GROUP BY operation' % (roots, ' AND project_id = ?' if project_id is not None else ''))
    return {'root': (root, root_args),
            'parts': (parts, root_args + [operation] + project_args)}


def breakdown_rows(operation, root, parts):
    """:class:`~nvs_notif.answers.sla.BreakdownRow` rows of :func:`breakdown_statements`' rows."""
    service, count, timed, root_total = root
    if not count:
        return []
    return sla_answer.breakdown_rows(operation, service, count, timed, root_total,
                                     [(op, svc, requests, n, total)
                                      for op, svc, requests, n, total in parts])


def sample_statement(project_id=None):
    """``(statement, args)`` of the row (:func:`sqlite_layout.span`) of the
    spans of a request with the most attempts (``spans_attempts``), then on
    the most hosts, then with the greatest span id:
    :meth:`nvs_notif.storage.base.Store.sample_span`."""
    where, args = span_filter(project_id=project_id)
    where = ['request_id IS NOT NULL', "request_id != ''"] + where
    return ('SELECT %s FROM spans%s AND attempts = (SELECT max(attempts) FROM spans%s) '
            "ORDER BY json_array_length(rest, '$.hosts') DESC, span_id DESC LIMIT 1"
            % (_SPAN_COLUMNS, _where(where), _where(where)), args + args)
