"""Correlation: start/end/error notifications become request spans.

A span is one operation of one request: ``compute.instance.create`` of
``req-1``.  Retry loops and reschedules reuse the request id, so their
attempts land in the same span: ``attempts`` counts the starts, ``hosts``
names every host that reported, ``host`` is where the last attempt started,
and an end after a failure means a later attempt worked.  A start later than
every end and failure is an attempt still running, so the span is open again
(a reschedule that hangs on its second host is stuck, not failed).
Operations that end on another host than they started (nova's resize revert)
stay one span.
Each notification contributes a *fragment* of its span; spans are the merge of all
their fragments.  :func:`merge` is commutative, associative and idempotent, so
the result does not depend on arrival order, on redelivered duplicates, or on
which worker or agent saw which notification: stores only need an atomic
read-merge-write of the fragments they are given.

Outcome ``timeout`` (the "alive but hung" case) depends on the clock, so it is
decided when spans are read (:func:`outcome`), never stored.
"""
import dataclasses
import datetime
import hashlib

from nvs_notif.faults import Fault
from nvs_notif import services


CORRELATED_PHASES = ('start', 'end', 'error')

# Not frozen, for the reason given at notification.Notification: merge()
# makes a new Span instead of changing one.
@dataclasses.dataclass(slots=True)
class Span:
    span_id: str
    operation: str
    service: str
    host: str | None
    request_id: str | None = None
    global_request_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    availability_zone: str | None = None
    flavor: str | None = None           # flavor name
    # When the zone / flavor was reported: the latest report wins (a
    # reschedule may move to another zone, a resize changes the flavor).
    zone_seen: datetime.datetime | None = None
    flavor_seen: datetime.datetime | None = None
    hosts: frozenset = frozenset()
    start: datetime.datetime | None = None
    last_start: datetime.datetime | None = None     # start of the latest attempt
    end: datetime.datetime | None = None
    failed: datetime.datetime | None = None
    fault: Fault | None = None
    # The latest failure of the operation this one runs inside (services.NESTED_IN),
    # which fails this one if it was running then (aborted_at).
    aborted: datetime.datetime | None = None
    # Message ids per phase: duplicates merge away, and len(start_ids) counts
    # the attempts of retry loops and reschedules.
    start_ids: frozenset = frozenset()
    end_ids: frozenset = frozenset()
    error_ids: frozenset = frozenset()

    @property
    def is_open(self):
        """Whether an attempt is still running: nothing ended or failed yet, or
        the latest attempt started after the latest end and failure."""
        last = _latest(_latest(self.end, self.failed), self.aborted_at)
        return last is None or (self.last_start is not None and self.last_start > last)

    @property
    def aborted_at(self):
        """When the operation this one runs inside failed while this one's
        latest attempt was running (``aborted``): it will send no end, and has
        failed then.  None otherwise."""
        if self.aborted is None:
            return None
        own = _latest(self.end, self.failed)
        if self.last_start is None:
            # No start seen (yet): like an error before its start, a failure.
            return self.aborted if own is None else None
        if self.aborted < self.last_start:
            return None
        return self.aborted if own is None or self.last_start > own else None

    @property
    def finished(self):
        """When the span last ended or failed; None while open."""
        return None if self.is_open else _latest(_latest(self.end, self.failed),
                                                 self.aborted_at)

    @property
    def open_since(self):
        """When the running attempt started (the first start when no attempt
        finished yet); None unless open with a start."""
        if not self.is_open:
            return None
        return self.start if self.end is None and self.failed is None else self.last_start

    @property
    def status(self):
        """``failure``, ``success`` or ``open``.

        An end after a failure is a retry that worked; a start after the
        latest end and failure is an attempt still running (``open``).
        """
        if self.is_open:
            return 'open'
        failed = _latest(self.failed, self.aborted_at)
        if failed is not None and (self.end is None or failed > self.end):
            return 'failure'
        return 'success'

    @property
    def duration(self):
        """Seconds from start to end (or failure); None while open or without a start."""
        if self.start is None or self.finished is None:
            return None
        return max((self.finished - self.start).total_seconds(), 0.0)

    @property
    def attempts(self):
        return len(self.start_ids)

    @property
    def rescheduled(self):
        """Several attempts on several hosts; one attempt that ends on another
        host than it started (a resize revert) is not a reschedule."""
        return len(self.start_ids) > 1 and len(self.hosts) > 1


def span_id(request_key, operation):
    """Deterministic id, so every worker and agent names a span the same."""
    raw = request_key + '\x1f' + operation
    return hashlib.sha1(raw.encode()).hexdigest()


def fragment(notification):
    """The part of a span one notification tells, or None if it tells none.

    Spans are keyed by request id; legacy producers without one fall back to
    the resource id (so repeats of one operation on one resource merge), as do
    operations that span requests (``services.RESOURCE_SPANS``).
    """
    n = notification
    if n.phase not in CORRELATED_PHASES:
        return None
    request_key = services.span_key(n.operation, n.request_id, n.resource_id, n.payload)
    if not request_key:
        return None
    ts = n.timestamp
    ids = frozenset((n.message_id,))
    return Span(
        span_id=span_id(request_key, n.operation),
        operation=n.operation, service=n.service, host=n.host,
        hosts=frozenset((n.host,)) if n.host else frozenset(),
        request_id=n.request_id, global_request_id=n.global_request_id,
        project_id=n.project_id, user_id=n.user_id,
        resource_type=n.resource_type, resource_id=n.resource_id,
        availability_zone=n.availability_zone, flavor=n.flavor,
        zone_seen=ts if n.availability_zone else None, flavor_seen=ts if n.flavor else None,
        start=ts if n.phase == 'start' else None,
        last_start=ts if n.phase == 'start' else None,
        end=ts if n.phase == 'end' else None,
        failed=ts if n.phase == 'error' else None,
        fault=n.fault if n.phase == 'error' else None,
        start_ids=ids if n.phase == 'start' else frozenset(),
        end_ids=ids if n.phase == 'end' else frozenset(),
        error_ids=ids if n.phase == 'error' else frozenset(),
    )


def fragments(notification):
    """The fragments one notification tells: its span's, and for an error of an
    operation others run inside (``services.NESTED_IN``), theirs, aborted then
    (they send no end when it fails)."""
    own = fragment(notification)
    if own is None:
        return []
    if notification.phase != 'error':
        return [own]
    n = notification
    request_key = services.span_key(n.operation, n.request_id, n.resource_id, n.payload)
    return [own] + [Span(span_id=span_id(request_key, nested), operation=nested,
                         service=n.service, host=None, request_id=n.request_id,
                         global_request_id=n.global_request_id, project_id=n.project_id,
                         user_id=n.user_id, resource_type=n.resource_type,
                         resource_id=n.resource_id, fault=n.fault, aborted=n.timestamp)
                    for nested in services.NESTED_IN.get(n.operation, ())]


def _pick(a, b):
    # Order-independent choice between two values that should agree.
    if a is None:
        return b
    if b is None or a == b:
        return a
    return min(a, b)


def _earliest(a, b):
    return b if a is None else a if b is None else min(a, b)


def _latest(a, b):
    return b if a is None else a if b is None else max(a, b)


def merge(a, b):
    """One span from two fragments (or spans) of the same span_id."""
    if a is None:
        return b
    if b is None:
        return a
    if a.span_id != b.span_id:
        raise ValueError('cannot merge spans %s and %s' % (a.span_id, b.span_id))
    failed = _latest(a.failed, b.failed)
    if a.failed == failed and b.failed == failed:
        fault = _pick_fault(a.fault, b.fault)
    else:
        fault = a.fault if a.failed == failed else b.fault
    last_start = _latest(a.last_start, b.last_start)
    if a.last_start == last_start and b.last_start == last_start:
        host = _pick(a.host, b.host)
    else:
        host = a.host if a.last_start == last_start else b.host
    zone, zone_seen = _latest_report(a.availability_zone, a.zone_seen,
                                     b.availability_zone, b.zone_seen)
    flavor, flavor_seen = _latest_report(a.flavor, a.flavor_seen, b.flavor, b.flavor_seen)
    # Every field given: Span() is several times cheaper than dataclasses.replace().
    return Span(
        span_id=a.span_id, operation=a.operation,
        service=_pick(a.service, b.service), host=host, hosts=a.hosts | b.hosts,
        request_id=_pick(a.request_id, b.request_id),
        global_request_id=_pick(a.global_request_id, b.global_request_id),
        project_id=_pick(a.project_id, b.project_id),
        user_id=_pick(a.user_id, b.user_id),
        resource_type=_pick(a.resource_type, b.resource_type),
        resource_id=_pick(a.resource_id, b.resource_id),
        availability_zone=zone, zone_seen=zone_seen, flavor=flavor, flavor_seen=flavor_seen,
        start=_earliest(a.start, b.start), last_start=last_start,
        end=_latest(a.end, b.end),
        failed=failed, fault=fault, aborted=_latest(a.aborted, b.aborted),
        start_ids=a.start_ids | b.start_ids, end_ids=a.end_ids | b.end_ids,
        error_ids=a.error_ids | b.error_ids,
    )


def _latest_report(a, a_seen, b, b_seen):
    """(value, time) of the later of two reports; at the same time, the larger
    value (so the choice does not depend on the order); None is no report."""
    if a is None:
        return b, b_seen
    if b is None:
        return a, a_seen
    seen, value = max((a_seen or _NEVER, a), (b_seen or _NEVER, b))
    return value, (None if seen is _NEVER else seen)


_NEVER = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def _pick_fault(a, b):
    if a is None or b is None or a == b:
        return a or b
    return min(a, b, key=lambda f: dataclasses.astuple(f).__repr__())


def merge_all(spans, existing=None):
    """Merge fragments by span_id onto ``existing`` ({span_id: Span})."""
    merged = dict(existing or {})
    for s in spans:
        merged[s.span_id] = merge(merged.get(s.span_id), s)
    return merged


def outcome(span, now, stuck_after):
    """success | failure | timeout | in_progress, as of ``now``.

    :param stuck_after: seconds a span may stay open (since
        :attr:`Span.open_since`) before it counts as stuck
    """
    if span.status != 'open':
        return span.status
    since = span.open_since
    if since is not None and (now - since).total_seconds() > stuck_after:
        return 'timeout'
    return 'in_progress'


@dataclasses.dataclass(frozen=True)
class StuckPolicy:
    """When an open span counts as stuck (``timeout``): ``default`` seconds
    after it opened, or the seconds of the longest ``overrides`` prefix its
    operation starts with.  One object, built once from ``[nvs] stuck_after``
    and ``stuck_after_overrides`` (:meth:`of`), handed to every answer and
    store that judges outcomes; stores turn it into query parameters.

    :param default: seconds (float)
    :param overrides: ``((prefix, seconds), ...)``, longest prefix first
    """
    default: float = 600.0
    overrides: tuple = ()

    @classmethod
    def of(cls, default, overrides=None):
        """The policy of a default and a ``{prefix: seconds}`` mapping."""
        ordered = sorted((overrides or {}).items(), key=lambda kv: (-len(kv[0]), kv[0]))
        return cls(float(default), tuple((p, float(s)) for p, s in ordered))

    def limit(self, operation):
        """Seconds before ``operation`` counts as stuck: the longest matching prefix wins."""
        for prefix, seconds in self.overrides:
            if operation.startswith(prefix):
                return seconds
        return self.default

    def outcome(self, span, now):
        """:func:`outcome` of ``span`` as of ``now`` under this policy's limit."""
        return outcome(span, now, self.limit(span.operation))
