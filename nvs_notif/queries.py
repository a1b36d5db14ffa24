"""Answers read from stored spans: the operator's side of the data flow.

Every function here is pure: it takes the :class:`~nvs_notif.spans.Span`
objects and notification documents a store returned (``Store.spans()``,
``Store.notifications()``) and returns rows for the ``nvs-notif`` commands
(``trace``, ``errors``, ``stuck``, ``sla``, ``history``).  Stores only filter,
so the same code answers from SQLite and from Elasticsearch.  Times in rows
are UTC ISO strings and seconds are rounded to milliseconds, so outputs can
be compared as they are.
"""
import collections
import datetime
import math

from nvs_notif import faults
from nvs_notif import spans as spans_mod
from nvs_notif.timeutil import iso
from nvs_notif.timeutil import parse_iso


def latest_time(spans):
    """The newest start/end/failure among ``spans`` (a replay's "now")."""
    times = [t for s in spans for t in (s.start, s.last_start, s.end, s.failed, s.aborted)
             if t is not None]
    return max(times) if times else None


def span_summary(spans, now, stuck_after, overrides):
    """How the stored spans stand as of ``now``.

    :returns: ordered ``(name, count)`` pairs: spans by outcome, spans missing
        their start (``.end``/``.error`` without ``.start``), spans with
        several attempts, and those whose attempts ran on several hosts
        (reschedules)
    """
    counts = collections.Counter()
    for s in spans:
        limit = spans_mod.stuck_limit(s.operation, stuck_after, overrides)
        counts[spans_mod.outcome(s, now, limit)] += 1
        counts['without start'] += s.start is None
        counts['retried'] += s.attempts > 1
        counts['rescheduled'] += _rescheduled(s)
    names = ('success', 'failure', 'in_progress', 'timeout', 'without start',
             'retried', 'rescheduled')
    return [('spans', len(spans))] + [(n, counts[n]) for n in names]


def _rescheduled(span):
    # Several attempts on several hosts; one attempt that ends on another host
    # than it started (a resize revert) is not a reschedule.
    return span.attempts > 1 and len(span.hosts) > 1


def top_failures(spans, limit=5):
    """The most frequent (operation, exception) pairs among failed spans; ties in name
    order, so the answer does not depend on the order the store returns spans in."""
    counts = collections.Counter(
        (s.operation, faults.fault_name(s.fault))
        for s in spans if s.status == 'failure')
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ''))
    return ranked[:limit]


# -- Shared helpers ----------------------------------------------------------

def _seconds(value):
    return round(value, 3) if value is not None else None


def _in_window(when, since, until):
    if when is None:
        return since is None and until is None
    return (since is None or when >= since) and (until is None or when <= until)


def _hosts(span):
    return ','.join(sorted(span.hosts)) or span.host


def _exception(fault):
    # Exceptions serialised without a class are named by their masked message.
    return faults.fault_name(fault) or '-'


def _doc_exception(doc):
    return doc.get('error_type') or faults.message_key(doc.get('error_message')) or '-'


def _trace_error(span):
    # A span that worked after failed attempts still names what failed.
    if span.fault is None:
        return '-'
    if span.status == 'failure':
        return _exception(span.fault)
    return 'retried after %s' % _exception(span.fault)


def _doc_time(doc):
    return parse_iso(doc.get('timestamp'))


def _newest_first(docs):
    # Exact order, whatever precision the store sorted with.
    return sorted(docs, key=lambda d: (_doc_time(d) or _MIN, d.get('message_id') or ''),
                  reverse=True)


_MIN = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
_MAX = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)


# -- trace -------------------------------------------------------------------

TRACE_COLUMNS = ('step', 'service', 'hosts', 'start', 'duration', 'attempts',
                 'outcome', 'error', 'request')
RAW_COLUMNS = ('event_type', 'timestamp', 'host', 'priority', 'error', 'request')


def related_request_ids(spans, ident):
    """The ids a trace of ``ident`` must also read, given the spans found so far.

    :returns: the request ids and global request ids named by ``spans`` (and
        ``ident`` itself): fetch the spans whose request id or global request
        id is one of them, until this stops growing
    """
    ids = {ident}
    for s in spans:
        ids.update(i for i in (s.request_id, s.global_request_id) if i)
    return ids


def trace_tree(spans, now, stuck_after, overrides, ident=None):
    """The spans of one traced request as an indented tree.

    Spans are grouped by request id.  A request whose global request id is
    another traced request's id is that request's child (the service it
    called); so is a request sharing its global request id with the traced
    request ``ident`` when that global request has no spans (a sibling called
    on behalf of the same user request); the others are roots.  Roots, then each request's children,
    come in start order; inside a request, spans come in start order.  The
    ``step`` is the operation, indented two spaces per level.

    :returns: rows of :data:`TRACE_COLUMNS`
    """
    by_request = collections.defaultdict(list)
    for s in spans:
        by_request[s.request_id or s.resource_id or s.span_id].append(s)

    def first(request):
        starts = [s.start for s in by_request[request] if s.start is not None]
        return (min(starts) if starts else _MAX, request)

    traced_globals = {s.global_request_id for s in by_request.get(ident, ())} - {None}
    children = collections.defaultdict(list)
    roots = []
    for request, members in by_request.items():
        parents = {s.global_request_id for s in members} - {None, request}
        parent = min(parents & set(by_request), default=None)
        if parent is None and request != ident and parents & traced_globals:
            parent = ident
        (children[parent] if parent else roots).append(request)

    rows = []

    def walk(request, depth, seen):
        if request in seen:
            return
        seen.add(request)
        for s in sorted(by_request[request],
                        key=lambda s: (s.start or _MAX, s.operation, s.span_id)):
            limit = spans_mod.stuck_limit(s.operation, stuck_after, overrides)
            rows.append(('  ' * depth + s.operation, s.service, _hosts(s), iso(s.start),
                         _seconds(s.duration), s.attempts,
                         spans_mod.outcome(s, now, limit),
                         _trace_error(s), s.request_id))
        for child in sorted(children[request], key=first):
            walk(child, depth + 1, seen)

    seen = set()
    for root in sorted(roots, key=first):
        walk(root, 0, seen)
    # Requests only reachable through a cycle of global ids: still shown.
    for request in sorted(set(by_request) - seen, key=first):
        walk(request, 0, seen)
    return rows


def raw_rows(docs):
    """Notification documents as trace's raw rows (:data:`RAW_COLUMNS`), oldest first."""
    return [(d.get('event_type'), d.get('timestamp'), d.get('host'), d.get('priority'),
             d.get('error_type'), d.get('request_id'))
            for d in reversed(_newest_first(docs))]


# -- errors ------------------------------------------------------------------

ERRORS_COLUMNS = ('source', 'host', 'service', 'exception', 'count', 'first seen',
                  'last seen')
ERROR_PRIORITIES = ('error', 'critical')


def errors(spans, notifications, since=None, until=None):
    """Failed spans and error notifications, grouped by host, service and exception.

    A failed span counts once, at its failure time, on the host of its last
    attempt (``source`` ``span``); each notification of priority error or
    critical counts once (``source`` ``notification``).  The two sources
    overlap on purpose: a failed span's ``.error`` notification is also an
    error notification, while spans also count failures reported at info
    priority and notifications also count errors outside any span.

    :param since: aware datetime or None (inclusive)
    :param until: aware datetime or None (inclusive)
    :returns: rows of :data:`ERRORS_COLUMNS`, most frequent first
    """
    groups = {}

    def add(key, when):
        count, first, last = groups.get(key, (0, when, when))
        groups[key] = (count + 1, min(first, when), max(last, when))

    for s in spans:
        # finished: the failure, or when the operation it ran inside failed
        if s.status == 'failure' and _in_window(s.finished, since, until):
            add(('span', s.host or '-', s.service or '-', _exception(s.fault)), s.finished)
    for d in notifications:
        when = _doc_time(d)
        if d.get('priority') in ERROR_PRIORITIES and when and _in_window(when, since, until):
            add(('notification', d.get('host') or '-', d.get('service') or '-',
                 _doc_exception(d)), when)
    return [key + (count, iso(first), iso(last))
            for key, (count, first, last) in sorted(
                groups.items(), key=lambda kv: (-kv[1][0], kv[0]))]


# -- stuck -------------------------------------------------------------------

STUCK_COLUMNS = ('request_id', 'operation', 'host', 'project', 'started', 'open for (s)',
                 'limit (s)')


def stuck(spans, now, stuck_after, overrides):
    """Open spans past their per-operation limit as of ``now``, longest open first.

    A span is open from its start, or, when an attempt ended or failed before
    a later one started (a reschedule, a retry), from the start of that later
    attempt (:attr:`~nvs_notif.spans.Span.open_since`): ``started`` and
    ``open for`` count from there.

    :returns: rows of :data:`STUCK_COLUMNS`
    """
    rows = []
    for s in spans:
        limit = spans_mod.stuck_limit(s.operation, stuck_after, overrides)
        if spans_mod.outcome(s, now, limit) == 'timeout':
            rows.append((s.request_id, s.operation, s.host, s.project_id, iso(s.open_since),
                         _seconds((now - s.open_since).total_seconds()), limit))
    rows.sort(key=lambda r: (-r[5], r[1], r[0] or ''))
    return rows


# -- sla ---------------------------------------------------------------------

SLA_COLUMNS = ('operation', 'group', 'count', 'success %', 'failures', 'avg (s)', 'p50 (s)',
               'p95 (s)', 'p99 (s)', 'max (s)', 'mean attempts', 'reschedules')
SLA_GROUPS = {'host': lambda s: s.host, 'service': lambda s: s.service,
              'project': lambda s: s.project_id,
              'availability_zone': lambda s: s.availability_zone,
              'flavor': lambda s: s.flavor}


def percentile(values, p):
    """Nearest-rank percentile of sorted ``values`` (None when empty)."""
    if not values:
        return None
    rank = max(math.ceil(p / 100.0 * len(values)), 1)
    return values[rank - 1]


def sla(spans, group_by=None, operation=None, since=None, until=None):
    """Per operation (and group) service levels.

    ``success %`` is successful spans over all spans (open ones included);
    durations are of the spans that have one (finished, with a start);
    ``failures`` are the top three exceptions of failed spans as ``Exc:n``;
    ``reschedules`` counts spans with several attempts that ran on more than
    one host, as :func:`span_summary`'s ``rescheduled`` does (one attempt that
    starts on one host and ends on another, a resize revert, is none).

    :param group_by: None or a key of :data:`SLA_GROUPS`
    :param operation: only operations starting with this prefix
    :param since: only spans started at or after this (aware datetime)
    :param until: only spans started at or before this
    :returns: rows of :data:`SLA_COLUMNS` sorted by operation, then group
    """
    key_of = SLA_GROUPS[group_by] if group_by else (lambda s: None)
    groups = collections.defaultdict(list)
    for s in spans:
        if operation and not s.operation.startswith(operation):
            continue
        if (since or until) and not _in_window(s.start, since, until):
            continue
        groups[(s.operation, key_of(s) or '-')].append(s)
    rows = []
    for (op, group), members in sorted(groups.items()):
        durations = sorted(s.duration for s in members if s.duration is not None)
        failures = collections.Counter(_exception(s.fault) for s in members
                                       if s.status == 'failure')
        top = sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        rows.append((
            op, group, len(members),
            round(100.0 * sum(s.status == 'success' for s in members) / len(members), 1),
            ' '.join('%s:%d' % kv for kv in top),
            _seconds(sum(durations) / len(durations)) if durations else None,
            _seconds(percentile(durations, 50)), _seconds(percentile(durations, 95)),
            _seconds(percentile(durations, 99)), _seconds(durations[-1] if durations else None),
            round(sum(s.attempts for s in members) / len(members), 2),
            sum(_rescheduled(s) for s in members)))
    return rows


BREAKDOWN_COLUMNS = ('operation', 'service', 'requests', 'spans', 'total (s)', 'share %')


def breakdown(spans, operation, since=None, until=None):
    """Where requests of ``operation`` spend their time.

    The requests are those with a span of exactly ``operation`` (the root
    spans) started inside ``since``/``until`` (aware datetimes or None).
    Their other spans are those with the same request id, and those
    of the sub-requests whose global request id is one of those request ids
    (a neutron port created for a nova boot).  Each other operation's share is
    the sum of its durations over the sum of the root durations, so nested or
    parallel steps may add up to more than 100%.  Only the requests whose
    root span has a duration (finished, with a start) count towards the
    shares: the other spans of an open root are left out, as the root is.

    :returns: rows of :data:`BREAKDOWN_COLUMNS`, the root first, then by
        total time, largest first
    """
    spans = list(spans)
    roots = {s.request_id: s for s in spans
             if s.operation == operation and s.request_id
             and (not (since or until) or _in_window(s.start, since, until))}
    timed = {r for r, s in roots.items() if s.duration is not None}
    root_total = sum(roots[r].duration for r in timed)
    parts = collections.defaultdict(lambda: [set(), 0, 0.0, None])
    for s in spans:
        if s.operation == operation:
            continue
        request = (s.request_id if s.request_id in timed
                   else s.global_request_id if s.global_request_id in timed else None)
        if request is None or s.duration is None:
            continue
        part = parts[s.operation]
        part[0].add(request)
        part[1] += 1
        part[2] += s.duration
        part[3] = part[3] or s.service

    def share(total):
        return round(100.0 * total / root_total, 1) if root_total else None

    rows = [(operation, _pick_service(roots.values()), len(roots),
             sum(1 for s in roots.values() if s.duration is not None),
             _seconds(root_total), share(root_total))] if roots else []
    for op, (requests, count, total, service) in sorted(
            parts.items(), key=lambda kv: (-kv[1][2], kv[0])):
        rows.append(('  ' + op, service, len(requests), count, _seconds(total), share(total)))
    return rows


def _pick_service(spans):
    return min((s.service for s in spans if s.service), default=None)


# -- history -----------------------------------------------------------------

HISTORY_COLUMNS = ('timestamp', 'event_type', 'priority', 'service', 'host', 'request_id',
                   'resource_id', 'state', 'error')


def history(notifications):
    """Notification documents as history rows (:data:`HISTORY_COLUMNS`), newest first."""
    return [(d.get('timestamp'), d.get('event_type'), d.get('priority'), d.get('service'),
             d.get('host'), d.get('request_id'), d.get('resource_id'), d.get('state'),
             d.get('error_type'))
            for d in _newest_first(notifications)]


# -- durations ---------------------------------------------------------------

# -- hosts -------------------------------------------------------------------

HOSTS_COLUMNS = ('host', 'service', 'notifications', 'per minute', 'last seen', 'errors',
                 'error %', 'silent')


def is_error(doc):
    """Whether a notification document is an error notification (priority error or critical)."""
    return doc.get('priority') in ERROR_PRIORITIES


def hosts(docs, now, since, silent_after):
    """Per host and service: how much they say, how much of it is errors, who went quiet.

    Only notifications timed inside ``since``..``now`` (inclusive) count;
    the documents are read once, so ``docs`` may be a stream.  ``per
    minute`` is notifications over the window's length in minutes;
    ``error %`` is error notifications (:func:`is_error`) over all of the
    row's notifications.  ``silent`` is ``yes`` when the row (that service on
    that host) was seen in the window but not in the last ``silent_after``
    seconds before ``now``.  A host or service silent for the whole window
    has no row: widen ``since`` to see it.  Documents without a host or
    service are grouped under ``-``.

    :param docs: notification documents (any order)
    :param now: aware datetime, the end of the window and the silence clock
    :param since: aware datetime, the start of the window
    :param silent_after: seconds (float or int)
    :returns: rows of :data:`HOSTS_COLUMNS` sorted by host, then service
    """
    groups = {}
    for d in docs:
        when = _doc_time(d)
        if when is None or not since <= when <= now:
            continue
        key = (d.get('host') or '-', d.get('service') or '-')
        count, errs, last = groups.get(key, (0, 0, when))
        groups[key] = (count + 1, errs + is_error(d), max(last, when))
    minutes = (now - since).total_seconds() / 60.0
    try:
        quiet_since = now - datetime.timedelta(seconds=silent_after)
    except OverflowError:
        quiet_since = _MIN      # longer than time goes back: nobody is silent
    return [(host, service, count, round(count / minutes, 2) if minutes > 0 else None,
             iso(last), errs, round(100.0 * errs / count, 1),
             'yes' if last < quiet_since else 'no')
            for (host, service), (count, errs, last) in sorted(groups.items())]


# -- watch -------------------------------------------------------------------

WATCH_COLUMNS = ('timestamp', 'priority', 'host', 'event_type', 'request_id', 'error')


def watch_match(doc, project=None, request=None, host=None, service=None, event_type=None,
                errors_only=False):
    """Whether a notification document passes ``nvs-notif watch``'s filters.

    :param project: project (tenant) id, exact
    :param request: request id or global request id, exact
    :param host: host, exact
    :param service: service (``nova``, ``cinder``...), exact
    :param event_type: prefix of the event type (``compute.instance.``)
    :param errors_only: only error notifications (:func:`is_error`)
    """
    return ((project is None or doc.get('project_id') == project)
            and (request is None
                 or request in (doc.get('request_id'), doc.get('global_request_id')))
            and (host is None or doc.get('host') == host)
            and (service is None or doc.get('service') == service)
            and (not event_type or (doc.get('event_type') or '').startswith(event_type))
            and (not errors_only or is_error(doc)))


def watch_row(doc):
    """One notification as a row of :data:`WATCH_COLUMNS` (missing values as ``-``)."""
    keys = ('timestamp', 'priority', 'host', 'event_type', 'request_id', 'error_type')
    return tuple(doc.get(k) or '-' for k in keys)


def tail_step(docs, seen, since, late=0.0):
    """One poll of a live tail: what is new, and where the next poll starts.

    A notification is new when its message id is not in ``seen`` and its
    time is at or after ``since`` (stores filter times coarsely).  The next
    poll starts ``late`` seconds before the newest time seen so far (never
    before ``since``), so a notification that reaches the store up to
    ``late`` seconds behind a newer one is still shown; ``seen`` keeps only
    the ids the next poll can return again, so it stays small.

    :param docs: notification documents a store returned for ``since=since``
    :param seen: ``{message_id: aware datetime}`` already shown
    :param since: aware datetime, the exact lower bound of this poll
    :param late: seconds
    :returns: ``(new docs oldest first, seen for the next poll, since for the next poll)``
    """
    fresh = [d for d in docs if d.get('message_id') not in seen
             and (_doc_time(d) or _MIN) >= since]
    fresh = list(reversed(_newest_first(fresh)))
    times = dict(seen)
    times.update((d['message_id'], _doc_time(d)) for d in fresh)
    newest = max(times.values(), default=since)
    following = max(since, newest - datetime.timedelta(seconds=late))
    return fresh, {m: t for m, t in times.items() if t >= following}, following
