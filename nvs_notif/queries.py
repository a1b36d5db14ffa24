"""Answers read from stored spans: the operator's side of the data flow."""
import collections

from nvs_notif import spans as spans_mod


def latest_time(spans):
    """The newest start/end/failure among ``spans`` (a replay's "now")."""
    times = [t for s in spans for t in (s.start, s.end, s.failed) if t is not None]
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
        counts['rescheduled'] += s.attempts > 1 and len(s.hosts) > 1
    names = ('success', 'failure', 'in_progress', 'timeout', 'without start',
             'retried', 'rescheduled')
    return [('spans', len(spans))] + [(n, counts[n]) for n in names]


def top_failures(spans, limit=5):
    """The most frequent (operation, exception) pairs among failed spans."""
    counts = collections.Counter(
        (s.operation, s.fault.exception if s.fault else None)
        for s in spans if s.status == 'failure')
    return counts.most_common(limit)
