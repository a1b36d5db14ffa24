"""``nvs-notif trace``: the spans of one request, and of the requests linked to
it, as a tree; or their raw notifications."""
import collections
import typing

from nvs_notif.answers import common
from nvs_notif.timeutil import iso

TRACE_COLUMNS = ('step', 'service', 'hosts', 'start', 'duration', 'attempts',
                 'outcome', 'error', 'request')
RAW_COLUMNS = ('event_type', 'timestamp', 'host', 'priority', 'error', 'request')


class TraceRow(typing.NamedTuple):
    """One span of the tree (:data:`TRACE_COLUMNS`)."""
    step: str
    service: str
    hosts: typing.Optional[str]
    start: typing.Optional[str]
    duration: typing.Optional[float]
    attempts: int
    outcome: str
    error: str
    request: typing.Optional[str]


class RawRow(typing.NamedTuple):
    """One notification of the traced requests (:data:`RAW_COLUMNS`)."""
    event_type: str
    timestamp: str
    host: typing.Optional[str]
    priority: str
    error: typing.Optional[str]
    request: typing.Optional[str]


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


#: Rounds of following global request ids (request -> its global request ->
#: the other requests made on its behalf).
MAX_HOPS = 3


def linked_spans(store, ident, hops=MAX_HOPS, project_id=None):
    """The spans of request ``ident`` and of the requests linked to it.

    Reads the spans whose request id or global request id is ``ident``, then
    those of every request id and global request id they name, ``hops`` times;
    with ``project_id``, only spans of that project.
    """
    found, asked = {}, set()
    wanted = {ident}
    for _ in range(hops):
        for request in sorted(wanted - asked):
            for s in (store.spans(request_id=request, project_id=project_id)
                      + store.spans(global_request_id=request, project_id=project_id)):
                found[s.span_id] = s
        asked |= wanted
        wanted = related_request_ids(found.values(), ident)
        if wanted <= asked:
            break
    return list(found.values())


def _hosts(span):
    return ','.join(sorted(span.hosts)) or span.host


def _error(span):
    # A span that worked after failed attempts still names what failed.
    if span.fault is None:
        return '-'
    if span.status == 'failure':
        return common.exception(span.fault)
    return 'retried after %s' % common.exception(span.fault)


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

    :returns: a list of :class:`TraceRow`
    """
    by_request = collections.defaultdict(list)
    for s in spans:
        by_request[s.request_id or s.resource_id or s.span_id].append(s)

    def first(request):
        starts = [s.start for s in by_request[request] if s.start is not None]
        return (min(starts) if starts else common.MAX, request)

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
                        key=lambda s: (s.start or common.MAX, s.operation, s.span_id)):
            rows.append(TraceRow('  ' * depth + s.operation, s.service, _hosts(s), iso(s.start),
                                 common.seconds(s.duration), s.attempts,
                                 policy.outcome(s, now), _error(s), s.request_id))
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
    """Notification documents as :class:`RawRow`, lazily, in the order given
    (``trace --raw`` asks the store for oldest first)."""
    return (RawRow(d.get('event_type'), d.get('timestamp'), d.get('host'), d.get('priority'),
                   d.get('error_type'), d.get('request_id'))
            for d in docs)
