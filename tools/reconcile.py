"""Reconciler: what a load generator sent against what a store holds.

Input: the :class:`loadgen.Sent` records (the messages exactly as oslo's dispatcher
hands them to the agent's endpoint) and a store URL (``sqlite:///...`` or
``elasticsearch://...``, through :func:`nvs_notif.storage.get_store`).

* **expected**: the records go through the agent's own per-message step,
  :func:`nvs_notif.pipeline.build_batch` (redact, normalise, span fragments), per
  priority; the fragments are merged with :func:`nvs_notif.spans.merge_all`.
* **missing**: sent message ids the store does not return;
  **duplicated**: message ids the store returns more than once (in Elasticsearch the
  same id may sit in two daily indices; SQLite's primary key forbids it, checked all
  the same); **unexpected**: stored ids nobody sent (only counted when the store is
  the run's alone);
* **spans**: expected spans absent from the store, stored ones not expected (run's
  store only), and spans whose fields differ.

::

    .venv/bin/python -m tools.reconcile --store sqlite:////tmp/nvs.db sent.jsonl
    .venv/bin/python -m tools.reconcile --store \\
        'elasticsearch://127.0.0.1:9200/?index_prefix=nvs' --shared sent.jsonl
"""
import argparse
import collections
import dataclasses
import sys
import time

from nvs_notif import pipeline
from nvs_notif import spans as spans_mod
from nvs_notif import storage
from tools import loadgen

#: Span fields compared (set-valued ones as sets; times as instants).
SPAN_FIELDS = tuple(f.name for f in dataclasses.fields(spans_mod.Span))


@dataclasses.dataclass
class Expected:
    """What a store should hold after the sent notifications were consumed."""
    message_ids: set
    spans: dict              # span_id -> Span
    rejects: int


def expected(records):
    """:class:`Expected` from :class:`loadgen.Sent` records (any order, any repeats)."""
    by_priority = collections.defaultdict(list)
    for record in records:
        by_priority[record.priority].append(record.message)
    ids, fragments, rejects = set(), [], 0
    for priority, messages in by_priority.items():
        batch = pipeline.build_batch(messages, priority)
        ids.update(n.message_id for n in batch.notifications)
        fragments += batch.fragments
        rejects += len(batch.rejects)
    return Expected(ids, spans_mod.merge_all(fragments), rejects)


@dataclasses.dataclass
class Reconciliation:
    sent: int
    stored: int                      # notification documents the store returned
    missing: list                    # message ids
    duplicated: dict                 # message id -> times stored
    unexpected: list                 # stored message ids nobody sent
    spans_expected: int
    spans_stored: int
    spans_missing: list              # span ids
    spans_unexpected: list           # span ids
    spans_wrong: dict                # span id -> {field: (expected, stored)}
    rejects_expected: int
    rejects_stored: int | None       # None when the store is shared

    @property
    def ok(self):
        return not (self.missing or self.duplicated or self.unexpected or self.spans_missing
                    or self.spans_unexpected or self.spans_wrong
                    or self.rejects_stored not in (None, self.rejects_expected))

    def summary(self):
        """One line per finding, the first few ids of each."""
        def few(items):
            items = list(items)
            return '%d%s' % (len(items), (' e.g. %s' % ', '.join(map(str, items[:3])))
                             if items else '')
        lines = ['sent %d, stored %d, missing %s, duplicated %s, unexpected %s'
                 % (self.sent, self.stored, few(self.missing), few(self.duplicated),
                    few(self.unexpected)),
                 'spans expected %d, stored %d, missing %s, unexpected %s, wrong %s'
                 % (self.spans_expected, self.spans_stored, few(self.spans_missing),
                    few(self.spans_unexpected), few(self.spans_wrong)),
                 'rejects expected %d, stored %s' % (self.rejects_expected,
                                                     self.rejects_stored)]
        for span_id, diff in list(self.spans_wrong.items())[:3]:
            lines.append('  span %s: %s' % (span_id, '; '.join(
                '%s expected %r, stored %r' % (k, e, s) for k, (e, s) in diff.items())))
        return '\n'.join(lines)


def span_diff(want, got):
    """``{field: (expected, stored)}`` for every field that differs."""
    diff = {}
    for name in SPAN_FIELDS:
        a, b = getattr(want, name), getattr(got, name)
        if isinstance(a, (frozenset, set)) or isinstance(b, (frozenset, set)):
            a, b = set(a or ()), set(b or ())
        if a != b:
            diff[name] = (a, b)
    return diff


def stored_message_ids(store):
    """Counter of message ids over every stored notification document."""
    return collections.Counter(doc['message_id'] for doc in store.notifications())


def reconcile(records, store, shared=False):
    """Compare sent ``records`` with ``store``.

    :param shared: the store also holds other runs' data: stored notifications and
        spans nobody here sent are not findings
    :returns: a :class:`Reconciliation`
    """
    want = expected(records)
    counts = stored_message_ids(store)
    stored_spans = {s.span_id: s for s in store.spans()}
    duplicated = {m: n for m, n in counts.items() if n > 1 and (m in want.message_ids
                                                                   or not shared)}
    wrong = {}
    for span_id, span in want.spans.items():
        if span_id in stored_spans:
            diff = span_diff(span, stored_spans[span_id])
            if diff:
                wrong[span_id] = diff
    return Reconciliation(
        sent=len(want.message_ids),
        stored=sum(n for m, n in counts.items() if m in want.message_ids or not shared),
        missing=sorted(want.message_ids - counts.keys()),
        duplicated=duplicated,
        unexpected=[] if shared else sorted(counts.keys() - want.message_ids),
        spans_expected=len(want.spans),
        spans_stored=sum(1 for s in stored_spans if s in want.spans or not shared),
        spans_missing=sorted(want.spans.keys() - stored_spans.keys()),
        spans_unexpected=[] if shared else sorted(stored_spans.keys() - want.spans.keys()),
        spans_wrong=wrong,
        rejects_expected=want.rejects,
        rejects_stored=None if shared else store.count('rejects'))


def wait_reconciled(records, store, timeout, interval=2.0, shared=False):
    """:func:`reconcile` until it is clean or ``timeout`` seconds passed; the last one.

    Stores converge: the agent may still be draining its queues, and a span that
    lost a race to another agent is rewritten just after.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = reconcile(records, store, shared=shared)
        if result.ok or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('records', nargs='+', metavar='FILE',
                   help='JSON-lines files written by tools/loadgen.py --record')
    p.add_argument('--store', required=True, help='store URL (sqlite:///... or '
                   'elasticsearch://host:9200/?index_prefix=...)')
    p.add_argument('--shared', action='store_true',
                   help='the store holds other data too: ignore what nobody here sent')
    p.add_argument('--wait', type=float, default=0,
                   help='seconds to keep reconciling until clean (default 0: once)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    records = [r for path in args.records for r in loadgen.read_records(path)]
    store = storage.get_store(args.store)
    try:
        result = wait_reconciled(records, store, args.wait, shared=args.shared)
    finally:
        store.close()
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == '__main__':
    sys.exit(main())
