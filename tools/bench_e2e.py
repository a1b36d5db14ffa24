"""End-to-end benchmark: sustained rate and publish-to-searchable latency.

RabbitMQ -> ``ceilometer-agent-notification`` (nvs pipeline) -> Elasticsearch, at several
offered loads, with 1 and 2 agent workers, next to the oslo.messaging no-op consumer
ceiling measured in the same run.

Method:

* **ceiling**: ``--ceiling-count`` simulated notifications preloaded into a fresh topic,
  then consumed by an in-process oslo.messaging batch listener whose endpoint only
  counts (:func:`benchutil.run_ceiling`, batch ``--batch-size``); its rate is notifications
  over the time from ``listener.start()`` to the last one handed over.
* **load**: for each worker count one agent (own topics, own index prefix) is started
  and warmed up (``--warmup`` notifications sent and awaited, untimed); each offered load publishes ``rate x --duration`` notifications of a simulated cloud
  (own seed per load: distinct requests) with oslo's ``Notifier`` on every exchange and
  both topics, paced by a token bucket (:mod:`loadgen`; ``max`` = no pacing,
  ``--max-count`` notifications).  The generator records each message id and the wall
  time the broker confirmed it (``published``).
* **searchable**: a poller searches ``<prefix>-notifications-*`` every ``--poll``
  seconds with a ``terms`` query on ``message_id`` over the ids published and not yet
  seen (oldest first, at most ``--poll-ids`` a round), without forcing a refresh, so a
  document counts only once Elasticsearch's own refresh (1 s) made it searchable.  A
  document's ``searchable`` time is when the search that first returned it came back.
  **latency** = searchable - published (resolution: the poll interval plus the search
  time); p50/p99 over the load's notifications.
* **achieved** = notifications searchable / (last searchable - first published): the
  rate the whole path sustained, the last latency included.
* **lost / duplicated / spans wrong**: after the last load of a worker count,
  :func:`reconcile.reconcile` of every load's records against the store (message ids
  missing, stored more than once, spans that differ from those computed from what was
  sent), attributed to the load that sent them.
* **ceiling ratio** = achieved / ceiling rate (one in-process listener, one core).

::

    .venv/bin/python -m tools.bench_e2e                      # ~5 minutes
    .venv/bin/python -m tools.bench_e2e --loads 500,1000,2000,4000,max --duration 30
    .venv/bin/python -m tools.bench_e2e --workers 2 --loads max --json
"""
import argparse
import collections
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
import warnings

from nvs_notif import simulate
from nvs_notif import storage
from tools import agentproc
from tools import benchutil
from tools import loadgen
from tools import reconcile


class SearchablePoller:
    """Notes when each published message id first becomes searchable."""

    def __init__(self, client, pattern, interval, max_ids):
        self.client = client
        self.pattern = pattern
        self.interval = interval
        self.max_ids = max_ids
        self.seen = {}                     # message id -> searchable (time.time())
        self._incoming = collections.deque()
        self._pending = {}                 # message id -> published, oldest first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name='poller')
        self.errors = 0

    def add(self, sent):
        self._incoming.append(sent.message_id)   # deque.append is thread-safe

    def start(self):
        self._thread.start()
        return self

    def pending(self):
        return len(self._pending) + len(self._incoming)

    def _round(self):
        while self._incoming:
            self._pending[self._incoming.popleft()] = None
        ids = list(self._pending)[:self.max_ids]
        for start in range(0, len(ids), 10000):
            chunk = ids[start:start + 10000]
            resp = self.client.search(
                index=self.pattern, ignore_unavailable=True, allow_no_indices=True,
                query={'terms': {'message_id': chunk}}, source=['message_id'],
                size=len(chunk), track_total_hits=False)
            now = time.time()
            for hit in resp['hits']['hits']:
                mid = hit['_source']['message_id']
                if mid in self._pending:
                    del self._pending[mid]
                    self.seen[mid] = now

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self._round()
            except Exception:  # noqa: BLE001 - counted; the next round retries
                self.errors += 1
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def wait_drained(self, timeout, stall):
        """Until nothing is pending, ``timeout`` passed, or no progress for ``stall`` s."""
        deadline = time.monotonic() + timeout
        last, last_change = -1, time.monotonic()
        while self.pending() and time.monotonic() < deadline:
            if len(self.seen) != last:
                last, last_change = len(self.seen), time.monotonic()
            elif time.monotonic() - last_change > stall:
                break
            time.sleep(self.interval)
        return self.pending() == 0

    def stop(self):
        self._stop.set()
        self._thread.join(30)


def quantile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_load(args, label, rate, count, seed, topics, poller, say):
    sims = list(simulate.simulate(count, seed=seed))
    report = loadgen.run(sims, rate=rate, threads=args.threads, on_sent=poller.add,
                         publisher_factory=lambda: loadgen.Publisher(
                             benchutil.TRANSPORT_URL, topics))
    drained = poller.wait_drained(args.drain_timeout, args.stall_timeout)
    records = report.sent
    latencies = [poller.seen[r.message_id] - r.published for r in records
                 if r.message_id in poller.seen]
    first_published = min((r.published for r in records), default=0)
    last_seen = max((poller.seen[r.message_id] for r in records
                     if r.message_id in poller.seen), default=first_published)
    span = last_seen - first_published
    out = {'scenario': label, 'offered': '%g' % rate if rate else 'max', 'count': count,
           'published': len(records), 'publish_failed': report.failed,
           'publish_rate': round(report.achieved_rate, 1),
           'searchable': len(latencies), 'drained': drained,
           'achieved': round(len(latencies) / span, 1) if span > 0 else None,
           'p50': quantile(latencies, 0.5), 'p99': quantile(latencies, 0.99),
           'max_latency': max(latencies, default=None)}
    say('  %-12s offered %-5s published %d at %.0f/s, searchable %d, achieved %s/s, '
        'p50 %.2fs p99 %.2fs%s'
        % (label, out['offered'], len(records), report.achieved_rate, len(latencies),
           out['achieved'], out['p50'] or -1, out['p99'] or -1,
           '' if drained else '  NOT DRAINED'))
    return out, records


def attribute(result, loads):
    """Split a :class:`reconcile.Reconciliation` over the loads that sent the ids."""
    for out, records in loads:
        ids = {r.message_id for r in records}
        spans = set(reconcile.expected(records).spans)
        out['lost'] = sum(1 for m in result.missing if m in ids)
        out['duplicated'] = sum(1 for m in result.duplicated if m in ids)
        out['spans_wrong'] = sum(1 for s in list(result.spans_wrong) + result.spans_missing
                                 if s in spans)


def bench_workers(args, workers, base, client, rabbit, cleanup, say, ceiling_rate):
    topic = '%s-w%d' % (base, workers)
    topics = loadgen.topic_map(topic, topic + '-versioned')
    prefix = '%s-w%d' % (base, workers)
    for t in topics.values():
        cleanup.add('rabbit queues %s.*' % t, rabbit.delete_topic, t)
    cleanup.add('es %s' % prefix, benchutil.es_delete_prefix_patiently, client, prefix,
                args.cleanup_wait)
    workdir = tempfile.mkdtemp(prefix='%s-' % prefix)
    cleanup.add('workdir', shutil.rmtree, workdir, ignore_errors=True)
    url = benchutil.es_store_url(prefix)
    agent = agentproc.Agent(workdir, 'bench-agent', benchutil.TRANSPORT_URL,
                            ','.join(topics.values()), [url], workers=workers,
                            batch_size=args.batch_size)
    cleanup.add('agent', agent.stop)
    say('%d worker(s): agent -> %s' % (workers, url))
    agent.start()
    poller = SearchablePoller(client, '%s-notifications-*' % prefix, args.poll,
                              args.poll_ids).start()
    cleanup.add('poller', poller.stop)
    # Untimed: the agent's start-up and first batches are not part of any load.
    _, warmup_records = run_load(args, 'warm-up', 0, args.warmup, args.seed + 100 * workers + 99, topics,
             poller, say)
    loads = []
    for i, rate in enumerate(args.loads):
        count = args.max_count if rate == 0 else int(rate * args.duration)
        label = '%d worker%s' % (workers, 's' if workers > 1 else '')
        loads.append(run_load(args, label, rate, count, args.seed + 100 * workers + i,
                              topics, poller, say))
        if not agent.alive():
            raise RuntimeError('agent exited with %s' % agent.proc.returncode)
    poller.stop()
    store = storage.get_store(url)
    try:
        records = warmup_records + [r for _, recs in loads for r in recs]
        result = reconcile.wait_reconciled(records, store, args.drain_timeout)
    finally:
        store.close()
    say('  reconcile: ' + result.summary().replace('\n', '\n  '))
    attribute(result, loads)
    agent.stop()
    log = agent.log_summary()
    for out, _ in loads:
        out['ceiling_ratio'] = (round(out['achieved'] / ceiling_rate, 3)
                                if out['achieved'] and ceiling_rate else None)
        out['agent_log'] = log['levels']
        out['poll_errors'] = poller.errors
    benchutil.es_delete_prefix(client, prefix)
    return [out for out, _ in loads]


def print_table(doc):
    out = benchutil.stdout
    c = doc['ceiling']
    out()
    out('ceiling: oslo.messaging batch listener, counting endpoint: %d in %.2fs = %.0f/s'
        % (c['consumed'], c['seconds'], c['rate'] or 0))
    cols = ('scenario', 'offered/s', 'published/s', 'achieved/s', 'p50 s', 'p99 s', 'lost', 'duplicated',
            'spans wrong', 'ceiling ratio')
    fmt = '%-10s %9s %11s %10s %7s %7s %6s %10s %11s %13s'
    out(fmt % cols)
    for r in doc['results']:
        out(fmt % (r['scenario'], r['offered'], '%.0f' % r['publish_rate'],
                   '%.0f' % (r['achieved'] or 0),
                   '%.2f' % r['p50'] if r['p50'] is not None else '-',
                   '%.2f' % r['p99'] if r['p99'] is not None else '-',
                   r['lost'], r['duplicated'], r['spans_wrong'],
                   '%.2f' % r['ceiling_ratio'] if r['ceiling_ratio'] else '-'))
    for err in doc.get('cleanup_errors', ()):
        out('cleanup error: %s' % err)


def parse_loads(text):
    loads = []
    for item in text.split(','):
        item = item.strip().lower()
        loads.append(0 if item == 'max' else float(item))
    if not loads or any(x < 0 for x in loads):
        raise argparse.ArgumentTypeError('loads: positive rates or "max"')
    return loads


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('--loads', type=parse_loads, default=parse_loads('500,1000,2000,max'),
                   help='offered notifications/s, comma separated; "max" = unpaced '
                        '(default 500,1000,2000,max)')
    p.add_argument('--duration', type=float, default=8,
                   help='seconds of traffic per paced load (default 8)')
    p.add_argument('--max-count', type=int, default=0,
                   help='notifications of the "max" load (default: the highest paced '
                        'load x --duration)')
    p.add_argument('--workers', type=lambda s: [int(x) for x in s.split(',')],
                   default=[1, 2], help='agent worker counts (default 1,2)')
    p.add_argument('--threads', type=int, default=2,
                   help='publishing threads, own connections each (default 2)')
    p.add_argument('--batch-size', type=int, default=500,
                   help='agent [notification] batch_size and the ceiling listener\'s '
                        '(default 500)')
    p.add_argument('--ceiling-count', type=int, default=10000,
                   help='notifications the ceiling consumes (default 10000)')
    p.add_argument('--poll', type=float, default=0.25,
                   help='seconds between searchability polls (default 0.25)')
    p.add_argument('--poll-ids', type=int, default=30000,
                   help='pending ids searched per poll round, oldest first (default 30000)')
    p.add_argument('--drain-timeout', type=float, default=120,
                   help='seconds a load may take to become searchable after its last '
                        'publish (default 120)')
    p.add_argument('--stall-timeout', type=float, default=30,
                   help='stop waiting when nothing became searchable for this long '
                        '(default 30)')
    p.add_argument('--warmup', type=int, default=500,
                   help='notifications sent and awaited, untimed, after each agent start '
                        '(default 500)')
    p.add_argument('--seed', type=int, default=42, help='simulator seed base (default 42)')
    p.add_argument('--cleanup-wait', type=float, default=180,
                   help='seconds the cleanup waits for an unreachable Elasticsearch')
    p.add_argument('--json', action='store_true',
                   help='print one JSON document on stdout (progress goes to stderr)')
    args = p.parse_args(argv)
    if not args.max_count:
        args.max_count = int(max([x for x in args.loads if x] or [1000]) * args.duration)
    if min(args.workers + [args.threads, args.batch_size, args.ceiling_count]) < 1:
        p.error('--workers, --threads, --batch-size and --ceiling-count must be >= 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    say = benchutil.stderr if args.json else benchutil.stdout
    # oslo.service's import-time notice; says nothing about this benchmark.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    old_term = signal.signal(signal.SIGTERM, benchutil.raise_on_sigterm)
    base = 'nvs-e2e-%s' % uuid.uuid4().hex[:10]
    cleanup = benchutil.Cleanup(benchutil.stderr)
    doc = {'run_id': base, 'cpus': os.cpu_count(), 'args': {
        k: v for k, v in vars(args).items() if k != 'json'}}
    client = benchutil.es_client()
    cleanup.add('es client', client.close)
    try:
        benchutil.es_check(client, args.cleanup_wait)
        rabbit = benchutil.Rabbit(benchutil.TRANSPORT_URL)
        cleanup.add('rabbit connection', rabbit.close)
        say('run %s: ceiling (in-process oslo.messaging batch listener)' % base)
        topic_c = '%s-ceiling' % base
        benchutil.preload(rabbit, topic_c, args.ceiling_count, args.seed, 300, cleanup, say)
        doc['ceiling'] = benchutil.run_ceiling(topic_c, args.ceiling_count, args.batch_size,
                                               max(120.0, args.ceiling_count / 100.0))
        rabbit.delete_topic(topic_c)
        say('  %d in %.2fs = %.0f/s' % (doc['ceiling']['consumed'], doc['ceiling']['seconds'],
                                        doc['ceiling']['rate'] or 0))
        doc['results'] = []
        for workers in args.workers:
            doc['results'] += bench_workers(args, workers, base, client, rabbit, cleanup, say,
                                            doc['ceiling']['rate'])
    finally:
        doc['cleanup_errors'] = cleanup.run()
        signal.signal(signal.SIGTERM, old_term)
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
    else:
        print_table(doc)
    bad = [r for r in doc['results'] if r['lost'] or r['duplicated'] or r['spans_wrong']]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
