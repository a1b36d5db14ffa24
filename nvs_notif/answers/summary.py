"""How the stored spans stand: the summary ``nvs-notif replay`` prints, the
most frequent failures, and the newest time (a replayed store's "now")."""
import collections
import typing

from nvs_notif import faults


class SpanSummary(typing.NamedTuple):
    """Spans by outcome as of a time, and how many lack a start (``.end`` /
    ``.error`` without ``.start``), took several attempts, or ran those on
    several hosts (:attr:`nvs_notif.spans.Span.rescheduled`)."""
    spans: int = 0
    success: int = 0
    failure: int = 0
    in_progress: int = 0
    timeout: int = 0
    without_start: int = 0
    retried: int = 0
    rescheduled: int = 0

    def labelled(self):
        """``(label, count)`` pairs as operators read them (``without start``)."""
        return [(_LABELS.get(name, name), value) for name, value in zip(self._fields, self)]


_LABELS = {'without_start': 'without start'}


#: The outcomes a span summary counts (:func:`nvs_notif.spans.outcome`).
OUTCOMES = ('success', 'failure', 'in_progress', 'timeout')


def span_summary(spans, now, policy):
    """:class:`SpanSummary` of ``spans`` as of ``now``, outcomes judged by
    ``policy`` (a :class:`nvs_notif.spans.StuckPolicy`)."""
    counts = collections.Counter()
    for s in spans:
        counts['spans'] += 1
        counts[policy.outcome(s, now)] += 1
        counts['without_start'] += s.start is None
        counts['retried'] += s.attempts > 1
        counts['rescheduled'] += s.rescheduled
    return SpanSummary(**{f: counts[f] for f in SpanSummary._fields})


class Failure(typing.NamedTuple):
    """How often an operation failed with an exception."""
    operation: str
    exception: str      # None: the fault has no name (faults.fault_name)
    count: int


def top_failures(spans, limit=5):
    """The most frequent (operation, exception) pairs among failed spans
    (exceptions named by :func:`nvs_notif.faults.fault_name`); ties in name
    order, so the answer does not depend on the order spans come in.

    :returns: at most ``limit`` :class:`Failure` rows
    """
    counts = collections.Counter(
        (s.operation, faults.fault_name(s.fault)) for s in spans if s.status == 'failure')
    return rank_failures(counts.items(), limit)


def rank_failures(counts, limit):
    """``((operation, exception), n)`` pairs as the top ``limit`` :class:`Failure` rows."""
    ranked = sorted(counts, key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ''))
    return [Failure(op, exc, n) for (op, exc), n in ranked[:limit]]


def latest_time(spans):
    """The newest start/end/failure among ``spans`` (a replay's "now"), or None."""
    times = [t for s in spans for t in (s.start, s.last_start, s.end, s.failed, s.aborted)
             if t is not None]
    return max(times) if times else None
