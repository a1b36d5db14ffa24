"""Benchmark: nvs endpoint vs ceilometer's stock EventEndpoint, in one process.

The same N simulated notifications (:func:`nvs_notif.simulate.simulate`) go

* through ceilometer's stock ``EventEndpoint`` (default ``event_definitions.yaml``,
  an ``EventPipelineManager`` whose only sink publishes to ``test://``, i.e. into a
  list in memory), and
* through the nvs endpoint (:func:`nvs_notif.replay.local_endpoint`) into a fresh
  SQLite store file,

in the form oslo.messaging's ``BatchNotificationDispatcher`` hands a batch endpoint:
each message is ``{ctxt, publisher_id, event_type, payload, metadata: {message_id,
timestamp}}``, every batch of ``--batch-size`` messages is split by (lower-case)
priority and each group is passed to the endpoint method of that name
(``endpoint.info(group)``, ``endpoint.error(group)``...).

All inputs are built before timing, and each run gets its own deep copy (also built
before timing). Runs are interleaved (stock, ours, stock, ours... with the order
alternating per repeat) so both sides share the machine's noise. Endpoint and store
construction are outside the timed part; the SQLite commit of every batch is inside it.

Prints best and median rates of each side and the ratio of the medians::

    .venv/bin/python -m tools.bench_pipeline --count 20000
    .venv/bin/python -m tools.bench_pipeline --count 20000 --json
    .venv/bin/python -m tools.bench_pipeline --count 20000 --profile

``--baseline DIR`` measures our side against another ``nvs_notif`` package (an
earlier release, e.g. before a change of the SQLite layout) on the same inputs,
each run in its own process, and prints the ratios of ingest rate and of the
store file's bytes per notification::

    git archive main nvs_notif | tar -x -C /tmp/nvs-main
    .venv/bin/python -m tools.bench_pipeline --count 100000 --baseline /tmp/nvs-main

Single process; the harness starts no threads (the SQLite store runs its WAL
checkpoints in a thread of its own, as it does in the agent).
"""
import argparse
import collections
import copy
import cProfile
import datetime
import gc
import io
import itertools
import json
import logging
import operator
import os
import platform
import pstats
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import yaml

from tools import benchutil


# --- inputs -----------------------------------------------------------------

def dispatched(notification):
    """One simulated notification as oslo's (batch) dispatcher hands it to an endpoint.

    ``_extract_user_message``: the context as deserialised (NoOpSerializer: the dict
    itself), metadata with the message id and the timestamp string the notifier sent
    (``str(utcnow())`` form, as ``SimulatedNotification.to_message`` writes it).
    """
    return notification.priority.lower(), {
        'ctxt': dict(notification.context),
        'publisher_id': notification.publisher_id,
        'event_type': notification.event_type,
        'payload': notification.payload,
        'metadata': {
            'message_id': notification.message_id,
            'timestamp': notification.timestamp.strftime('%Y-%m-%d %H:%M:%S.%f'),
        },
    }


def build_calls(count, seed, batch_size):
    """``[(priority, [message, ...]), ...]``: the endpoint calls of the whole run.

    Like ``BatchNotificationDispatcher.dispatch``: per incoming batch, messages are
    sorted (stably) by priority and grouped; one endpoint call per group.
    """
    from nvs_notif import simulate

    messages = [dispatched(n) for n in simulate.simulate(count, seed=seed)]
    # Payloads of the simulator may share sub-objects between notifications; make
    # every message independent, as messages decoded from the bus are.
    messages = [(prio, copy.deepcopy(msg)) for prio, msg in messages]
    calls = []
    for start in range(0, len(messages), batch_size):
        batch = sorted(messages[start:start + batch_size], key=operator.itemgetter(0))
        for prio, group in itertools.groupby(batch, key=operator.itemgetter(0)):
            calls.append((prio, [msg for _prio, msg in group]))
    return messages, calls


def describe_inputs(messages, calls):
    by_prio = collections.Counter(prio for prio, _msg in messages)
    by_service = collections.Counter(m['event_type'].split('.', 1)[0] for _p, m in messages)
    sizes = [len(json.dumps(m, default=str)) for _p, m in messages]
    return {
        'messages': len(messages),
        'endpoint_calls': len(calls),
        'priorities': dict(sorted(by_prio.items())),
        'event_type_prefixes': dict(by_service.most_common()),
        'mean_json_bytes': round(statistics.fmean(sizes)) if sizes else 0,
    }


# --- log capture ------------------------------------------------------------

class LogTally(logging.Handler):
    """Counts WARNING+ records per side and keeps a few distinct samples."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.side = 'setup'
        self.counts = collections.Counter()
        self.samples = collections.defaultdict(dict)

    def emit(self, record):
        key = (self.side, record.levelname, record.name)
        self.counts[key] += 1
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += ' [%s: %s]' % (type(record.exc_info[1]).__name__, record.exc_info[1])
        samples = self.samples[key]
        if len(samples) < 3:
            samples.setdefault(text[:300], 0)
        if text[:300] in samples:
            samples[text[:300]] += 1

    def report(self):
        return [{'side': side, 'level': level, 'logger': name, 'count': n,
                 'samples': self.samples[(side, level, name)]}
                for (side, level, name), n in sorted(self.counts.items())]


# --- the two sides ----------------------------------------------------------

def ceilometer_data_file(name):
    import ceilometer.pipeline
    return os.path.join(os.path.dirname(os.path.abspath(ceilometer.pipeline.__file__)),
                        'data', name)


class StockSide:
    """ceilometer's EventEndpoint, default event definitions, ``test://`` publisher."""

    name = 'stock'
    label = 'ceilometer EventEndpoint (event_definitions.yaml -> test://)'

    def __init__(self, workdir):
        from nvs_notif import replay
        self.conf = replay.make_conf()
        definitions = ceilometer_data_file('event_definitions.yaml')
        if not os.path.exists(definitions):
            raise SystemExit('cannot find ceilometer\'s %s' % definitions)
        self.conf.set_override('definitions_cfg_file', definitions, group='event')
        pipeline_file = os.path.join(workdir, 'stock_event_pipeline.yaml')
        with open(pipeline_file, 'w') as f:
            yaml.safe_dump({'sources': [{'name': 'event_source', 'events': ['*'],
                                         'sinks': ['event_sink']}],
                            'sinks': [{'name': 'event_sink',
                                       'publishers': ['test://']}]}, f)
        self.conf.set_override('event_pipeline_cfg_file', pipeline_file)
        self.definitions = definitions

    def make(self, _run):
        from ceilometer.pipeline import event as event_pipeline
        manager = event_pipeline.EventPipelineManager(self.conf)
        publishers = [p for pipe in manager.pipelines for p in pipe.publishers]
        if not publishers:
            raise SystemExit('stock: the test:// publisher could not be loaded')
        endpoint = manager.get_main_endpoints()[0]
        return endpoint, publishers

    @staticmethod
    def check(state, count):
        events = sum(len(p.events) for p in state)
        return {'events_published': events}

    @staticmethod
    def close(_state):
        return None


class NvsSide:
    """Our endpoint, one SQLite store file per run."""

    name = 'nvs'
    label = 'nvs endpoint (-> sqlite store)'

    def __init__(self, workdir):
        self.workdir = workdir

    def make(self, run):
        from nvs_notif import replay
        path = os.path.join(self.workdir, 'bench-%s.db' % run)
        for suffix in ('', '-wal', '-shm', '-websub', '-websub-wal', '-websub-shm'):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        endpoint = replay.local_endpoint('sqlite:///' + path)
        stores = [p.store for pipe in endpoint.manager.pipelines for p in pipe.publishers
                  if hasattr(p, 'store')]
        return endpoint, (endpoint, stores, path)

    @staticmethod
    def check(state, count):
        endpoint, stores, _path = state
        out = dict(endpoint.stats)
        for store in stores:
            for kind in ('notifications', 'spans', 'events', 'samples', 'rejects'):
                try:
                    out['stored_' + kind] = store.count(kind)
                except Exception as exc:  # noqa: BLE001
                    out['stored_' + kind] = 'n/a (%s)' % exc
        return out

    @staticmethod
    def close(state):
        """Close the stores; the size of the file they left (its WAL folded in
        by the last close), then delete it."""
        _endpoint, stores, path = state
        for store in stores:
            try:
                store.close()
            except Exception:  # noqa: BLE001
                pass
        size = sum(os.path.getsize(path + s) for s in ('', '-wal') if os.path.exists(path + s))
        for suffix in ('', '-wal', '-shm', '-websub', '-websub-wal', '-websub-shm'):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        return size


_SUBSCRIBER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _cpu_seconds(pid):
    """User + system CPU seconds of a process (Linux /proc)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rpartition(')')[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class NvsHubSide(NvsSide):
    """Ours while ``nvs-notif-hub`` (its own process) publishes from the same
    SQLite file to ``subscribers`` subscriptions of the all-projects
    notifications topic: every stored notification is read by the tail,
    rendered and queued, and each delivery POSTed to a subscriber process.
    What the hub's reads and write transactions on the file cost the agent."""

    name = 'nvs+hub'

    def __init__(self, workdir, subscribers):
        super().__init__(workdir)
        self.subscribers = subscribers
        self.label = 'nvs endpoint, nvs-notif-hub -> %d subscribers' % subscribers
        self.server = subprocess.Popen([sys.executable, '-c', _SUBSCRIBER],
                                       stdout=subprocess.PIPE, text=True)
        self.port = int(self.server.stdout.readline())
        self.hub = None

    def make(self, run):
        from nvs_notif.feeds import topics
        from nvs_notif import timeutil
        from nvs_notif.websub import store as hub_store
        from nvs_notif.websub import subscriptions
        endpoint, state = super().make(run)
        path = state[2]
        # Subscriptions as a verified subscribe leaves them (verification is
        # not what is measured); the tail starts at the (empty) store's head.
        store = hub_store.SQLiteHubStore(hub_store.hub_file(path))
        topic = topics.Topic('notifications', None).url('https://api.bench.test')
        expires = timeutil.utcnow() + datetime.timedelta(days=1)
        for i in range(self.subscribers):
            store.put_subscription(subscriptions.Subscription(
                topic, 'http://127.0.0.1:%d/cb/%d' % (self.port, i), expires, 'secret-%d' % i))
        store.close()
        conf = os.path.join(self.workdir, 'hub-%s.conf' % run)
        with open(conf, 'w') as f:
            f.write('[api]\nstore = sqlite:///%s\n[websub]\ncallback_allow_public = false\n'
                    'callback_allowed_networks = 127.0.0.1/32\n' % path)
        self.hub = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), 'nvs-notif-hub'),
             '--config-file', conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        db = sqlite3.connect(hub_store.hub_file(path))
        try:
            # Running: its tail has set its cursor at the store's head.
            while self.hub.poll() is None and not db.execute(
                    "SELECT 1 FROM websub_cursors WHERE name = 'notifications'"
                    ' AND marker IS NOT NULL').fetchall():
                time.sleep(0.05)
        finally:
            db.close()
        if self.hub.poll() is not None:
            raise SystemExit('nvs-notif-hub exited: %s' % self.hub.stderr.read())
        self.cpu_before = _cpu_seconds(self.hub.pid), _cpu_seconds(self.server.pid)
        return endpoint, state

    def check(self, state, count):
        # CPU the hub and the subscribers took while the agent was timed (on
        # one machine, what the agent did not get).
        hub_cpu, subscribers_cpu = (_cpu_seconds(p) - before for p, before in zip(
            (self.hub.pid, self.server.pid), self.cpu_before))
        out = super().check(state, count)
        out['hub_cpu_seconds'] = round(hub_cpu, 2)
        out['subscribers_cpu_seconds'] = round(subscribers_cpu, 2)
        time.sleep(2)       # the hub catches up
        self.hub.send_signal(signal.SIGTERM)
        _, err = self.hub.communicate(timeout=120)
        if self.hub.returncode:
            out['hub_failed'] = err.strip().splitlines()[-3:]
        return out

    def stop(self):
        self.server.terminate()
        self.server.wait()


def drive(endpoint, calls):
    """Hand every group to the endpoint method named by its priority; count results."""
    results = collections.Counter()
    for prio, group in calls:
        method = getattr(endpoint, prio, None)
        if method is None:
            # oslo's dispatcher would never call it; an endpoint without the method
            # simply does not get these notifications.
            results['no-method:%s' % prio] += len(group)
            continue
        results[str(method(group))] += len(group)
    return results


def run_once(side, run, pristine_calls, count, tally, freeze=True):
    calls = copy.deepcopy(pristine_calls)
    tally.side = side.name + ':setup'
    endpoint, state = side.make(run)
    gc.collect()
    if freeze:
        # The benchmark holds all N inputs (twice) for the whole run; an agent holds
        # one batch. Keep them out of the cyclic GC's scans so that the collector's
        # cost reflects what the endpoint allocates, not the harness.
        gc.freeze()
    tally.side = side.name
    t0 = time.perf_counter()
    try:
        results = drive(endpoint, calls)
        elapsed = time.perf_counter() - t0
    finally:
        if freeze:
            gc.unfreeze()
    tally.side = side.name + ':check'
    info = side.check(state, count)
    info['results'] = dict(results)
    info['inputs_mutated'] = calls != pristine_calls
    size = side.close(state)
    if size is not None:
        info['file_bytes_per_notification'] = round(size / count)
    tally.side = 'other'
    del calls, endpoint, state
    return elapsed, info


# --- profile ----------------------------------------------------------------

def profile_nvs(pristine_calls, workdir, top, dump=None, freeze=True):
    side = NvsSide(workdir)
    calls = copy.deepcopy(pristine_calls)
    endpoint, state = side.make('profile')
    gc.collect()
    if freeze:
        gc.freeze()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    drive(endpoint, calls)
    prof.disable()
    elapsed = time.perf_counter() - t0
    if freeze:
        gc.unfreeze()
    side.close(state)
    if dump:
        prof.dump_stats(dump)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs()
    for key in ('cumulative', 'tottime'):
        out.write('\n=== top %d by %s ===\n' % (top, key))
        stats.sort_stats(key).print_stats(top)
    return elapsed, out.getvalue()


# --- against another release -------------------------------------------------

def _child_run(args, baseline):
    """One run of our side in a process of its own, importing ``nvs_notif``
    from ``baseline`` (None: this tree); its JSON report."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = [sys.executable, '-m', 'tools.bench_pipeline', '--only', 'nvs', '--repeat', '1',
            '--json', '--count', str(args.count), '--batch-size', str(args.batch_size),
            '--seed', str(args.seed)] + ([] if args.gc_freeze else ['--no-gc-freeze'])
    # Run outside either tree, so that PYTHONPATH alone says where each package
    # comes from: nvs_notif from the baseline when given, the harness from here.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (baseline, here) if p))
    with tempfile.TemporaryDirectory(prefix='nvs-bench-') as cwd:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit('%s failed:\n%s' % (' '.join(argv), proc.stderr[-3000:]))
    return json.loads(proc.stdout)


def compare(args, say):
    """Our side against the ``nvs_notif`` package in ``args.baseline``: runs
    interleaved (the order alternating per repeat), each in its own process;
    ingest rates, the store file's bytes per notification, and their ratios."""
    trees = (('this', None), ('baseline', os.path.abspath(args.baseline)))
    runs = {name: [] for name, _ in trees}
    for r in range(args.repeat):
        for name, baseline in (trees if r % 2 == 0 else trees[::-1]):
            report = _child_run(args, baseline)
            nvs = report['sides']['nvs']
            runs[name].append(report)
            say('  run %d %-8s layout %s  %8.0f/s  %5d B/notification  (%s)' % (
                r + 1, name, report['sqlite_layout'], nvs['median_rate'],
                nvs['checks']['file_bytes_per_notification'], report['nvs_notif']))
    out = {}
    for name, reports in runs.items():
        rates = [rep['sides']['nvs']['median_rate'] for rep in reports]
        out[name] = {'nvs_notif': reports[-1]['nvs_notif'],
                     'sqlite_layout': reports[-1]['sqlite_layout'],
                     'rates': rates, 'median_rate': statistics.median(rates),
                     'bytes_per_notification': statistics.median(
                         rep['sides']['nvs']['checks']['file_bytes_per_notification']
                         for rep in reports)}
    out['ratio_rate_this_over_baseline'] = round(
        out['this']['median_rate'] / out['baseline']['median_rate'], 3)
    out['ratio_bytes_this_over_baseline'] = round(
        out['this']['bytes_per_notification'] / out['baseline']['bytes_per_notification'], 3)
    return out


# --- main -------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--count', '-n', type=int, default=20000,
                   help='simulated notifications per run (default 20000)')
    p.add_argument('--batch-size', '-b', type=int, default=500,
                   help='messages per dispatcher batch (default 500)')
    p.add_argument('--repeat', '-r', type=int, default=3,
                   help='runs of each side, interleaved (default 3)')
    p.add_argument('--seed', type=int, default=42, help='simulator seed (default 42)')
    p.add_argument('--json', action='store_true', help='print one JSON document')
    p.add_argument('--only', choices=('stock', 'nvs'),
                   help='time one side only (no ratio)')
    p.add_argument('--profile', action='store_true',
                   help='instead of benchmarking, run ours once under cProfile and print '
                        'the top functions by cumulative and by total time')
    p.add_argument('--profile-top', type=int, default=25, help='rows per profile table')
    p.add_argument('--profile-out', metavar='FILE',
                   help='with --profile, also dump the raw pstats to FILE')
    p.add_argument('--no-gc-freeze', dest='gc_freeze', action='store_false',
                   help='do not gc.freeze() the pre-built inputs before a timed run (by '
                        'default they are frozen so the cyclic GC does not rescan the '
                        "harness's N held messages, which an agent would not hold)")
    p.add_argument('--workdir', help='directory for the store files (default: a temp dir)')
    p.add_argument('--baseline', metavar='DIR',
                   help='instead, compare our side with the nvs_notif package found in DIR '
                        '(e.g. an earlier release: git archive REF nvs_notif | tar -x -C DIR): '
                        'each run in a process of its own, interleaved; prints both ingest '
                        'rates, bytes per notification of the SQLite file, and the ratios')
    p.add_argument('--hub-subscribers', type=int, default=0, metavar='N',
                   help='also time ours while nvs-notif-hub publishes everything it '
                        'stores to N subscribers (a third side, nvs+hub)')
    args = p.parse_args(argv)
    if args.count < 1 or args.batch_size < 1 or args.repeat < 1:
        p.error('--count, --batch-size and --repeat must be >= 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    tally = LogTally()
    root = logging.getLogger()
    root.addHandler(tally)
    root.setLevel(logging.WARNING)
    caught = []
    warnings.showwarning = (lambda message, category, filename, lineno, file=None, line=None:
                            caught.append('%s:%s: %s: %s' % (filename, lineno,
                                                             category.__name__, message)))

    workdir = args.workdir or tempfile.mkdtemp(prefix='nvs-bench-')
    os.makedirs(workdir, exist_ok=True)
    try:
        t0 = time.perf_counter()
        messages, calls = build_calls(args.count, args.seed, args.batch_size)
        inputs = describe_inputs(messages, calls)
        del messages
        say('inputs: %d notifications (seed %d), %d endpoint calls of <= %d, built in %.1fs'
            % (inputs['messages'], args.seed, inputs['endpoint_calls'], args.batch_size,
               time.perf_counter() - t0))
        say('  priorities: %s' % inputs['priorities'])

        if args.baseline:
            result = compare(args, say)
            if args.json:
                print(json.dumps(result, indent=2, sort_keys=True))
            else:
                for name in ('this', 'baseline'):
                    r = result[name]
                    print('%-8s layout %s  median %6.0f notifications/s  %5d B/notification  %s'
                          % (name, r['sqlite_layout'], r['median_rate'],
                             r['bytes_per_notification'], r['nvs_notif']))
                print('ratio this / baseline: ingest %.3f, bytes per notification %.3f'
                      % (result['ratio_rate_this_over_baseline'],
                         result['ratio_bytes_this_over_baseline']))
            return 0

        if args.profile:
            elapsed, text = profile_nvs(calls, workdir, args.profile_top,
                                        args.profile_out, args.gc_freeze)
            say('nvs under cProfile: %.2fs for %d notifications (%.0f/s, profiler overhead '
                'included)' % (elapsed, args.count, args.count / elapsed))
            print(text)
            return 0

        sides = [StockSide(workdir), NvsSide(workdir)]
        if args.hub_subscribers:
            sides.append(NvsHubSide(workdir, args.hub_subscribers))
        if args.only:
            sides = [s for s in sides if s.name == args.only]
        times = {s.name: [] for s in sides}
        checks = {s.name: [] for s in sides}
        for r in range(args.repeat):
            order = sides if r % 2 == 0 else sides[::-1]
            for side in order:
                elapsed, info = run_once(side, r, calls, args.count, tally,
                                       args.gc_freeze)
                times[side.name].append(elapsed)
                checks[side.name].append(info)
                say('  run %d %-5s %7.3fs  %8.0f/s' % (r + 1, side.name, elapsed,
                                                      args.count / elapsed))

        for side in sides:
            if hasattr(side, 'stop'):
                side.stop()
        summary = benchutil.summarize(sides, times, checks, args.count)
        import nvs_notif
        from nvs_notif.storage import sqlite_layout
        ratio = None
        if 'stock' in summary and 'nvs' in summary:
            ratio = summary['nvs']['median_rate'] / summary['stock']['median_rate']
        hub_ratio = None
        if 'nvs+hub' in summary and 'nvs' in summary:
            hub_ratio = summary['nvs+hub']['median_rate'] / summary['nvs']['median_rate']

        doc = {
            'count': args.count, 'batch_size': args.batch_size, 'repeat': args.repeat,
            'seed': args.seed, 'gc_freeze': args.gc_freeze, 'inputs': inputs, 'sides': summary,
            'ratio_nvs_over_stock_median': round(ratio, 3) if ratio else None,
            'ratio_nvs_over_stock_best': (round(summary['nvs']['best_rate']
                                                / summary['stock']['best_rate'], 3)
                                          if ratio else None),
            'ratio_nvs_with_hub_over_nvs_median': round(hub_ratio, 3) if hub_ratio else None,
            'log_records': tally.report(), 'python_warnings': caught[:20],
            'nvs_notif': os.path.dirname(nvs_notif.__file__),
            'sqlite_layout': sqlite_layout.VERSION,
            'python': platform.python_version(), 'machine': platform.machine(),
            'cpus': os.cpu_count(),
        }
        try:
            from importlib import metadata
            doc['versions'] = {d: metadata.version(d) for d in
                               ('ceilometer', 'oslo.messaging', 'nvs-notif')}
        except Exception:  # noqa: BLE001
            pass

        if args.json:
            print(json.dumps(doc, indent=2, sort_keys=True, default=str))
            return 0

        print()
        print('%-62s %10s %10s' % ('%d notifications, batch %d, %d runs each'
                                  % (args.count, args.batch_size, args.repeat),
                                  'best/s', 'median/s'))
        for name, s in summary.items():
            print('%-62s %10.0f %10.0f' % (s['label'], s['best_rate'], s['median_rate']))
        print()
        for name, s in summary.items():
            print('%s checks (last run): %s' % (name, s['checks']))
        for rec in doc['log_records']:
            print('log %(side)s %(level)s %(logger)s x%(count)d' % rec)
            for text, n in rec['samples'].items():
                print('    %dx %s' % (n, text))
        for w in caught[:10]:
            print('python warning: %s' % ' '.join(w.split())[:200])
        if ratio is not None:
            print()
            print('ratio (nvs / stock EventEndpoint): %.1fx' % ratio)
        if hub_ratio is not None:
            print('ratio (nvs with nvs-notif-hub / nvs alone): %.2f' % hub_ratio)
        return 0
    finally:
        root.removeHandler(tally)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
