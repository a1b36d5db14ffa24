"""Answers read from stored spans and notifications not yet in :mod:`nvs_notif.answers`.

Every function here is pure: it takes the :class:`~nvs_notif.spans.Span`
objects and notification documents a store returned (``Store.spans()``,
``Store.notifications()``) and returns rows for the ``nvs-notif`` commands
(``trace``, ``errors``, ``history``, ``hosts``, ``watch``).  Times in rows
are UTC ISO strings and seconds are rounded to milliseconds, so outputs can
be compared as they are.
"""
import collections
import datetime

from nvs_notif.answers.common import exception
from nvs_notif.answers.common import in_window
from nvs_notif.answers.common import seconds
from nvs_notif import faults
from nvs_notif.timeutil import iso
from nvs_notif.timeutil import parse_iso


# -- Shared helpers ----------------------------------------------------------

def _hosts(span):
    return ','.join(sorted(span.hosts)) or span.host


def _doc_exception(doc):
    return doc.get('error_type') or faults.message_key(doc.get('error_message')) or '-'


def _trace_error(span):
    # A span that worked after failed attempts still names what failed.
    if span.fault is None:
        return '-'
    if span.status == 'failure':
        return exception(span.fault)
    return 'retried after %s' % exception(span.fault)


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


def trace_tree(spans, now, policy, ident=None):
    """The spans of one traced request as an indented tree.

    Spans are grouped by request id.  A request whose global request id is
    another traced request's id is that request's child (the service it
    called); so is a request sharing its global request id with the traced
    request ``ident`` when that global request has no spans (a sibling called
    on behalf of the same user request); the others are roots.  Roots, then each request's children,
    come in start order; inside a request, spans come in start order.  The
    ``step`` is the operation, indented two spaces per level; outcomes are
    judged by ``policy`` (a :class:`nvs_notif.spans.StuckPolicy`).

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
            rows.append(('  ' * depth + s.operation, s.service, _hosts(s), iso(s.start),
                         seconds(s.duration), s.attempts, policy.outcome(s, now),
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
        if s.status == 'failure' and in_window(s.finished, since, until):
            add(('span', s.host or '-', s.service or '-', exception(s.fault)), s.finished)
    for d in notifications:
        when = _doc_time(d)
        if d.get('priority') in ERROR_PRIORITIES and when and in_window(when, since, until):
            add(('notification', d.get('host') or '-', d.get('service') or '-',
                 _doc_exception(d)), when)
    return [key + (count, iso(first), iso(last))
            for key, (count, first, last) in sorted(
                groups.items(), key=lambda kv: (-kv[1][0], kv[0]))]


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
