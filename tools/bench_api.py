"""Benchmark: latency of nvs-notif-api's trace, history and sla under concurrent
clients, against the same store query run in-process, in one run on the same data.

The store is bench_queries' cached SQLite file of ``--sqlite`` simulated
notifications (built once). The API is the whole application
(``nvs_notif.api.wsgi:application``: oslo.middleware, keystonemiddleware
validating real tokens against ``--keystone``, oslo.policy) in its own process
(``nvs-notif-api``, the threaded server), configured by one nvs-notif.conf.
``--clients`` threads, each with its own HTTP connection and its own token of the
test users of tools/keystone_setup.py (a user of project A, or the admin with
``all_projects=true``), ask each query ``--requests`` times; the in-process side
runs the store call the endpoint makes (``trace_spans`` + ``trace_tree``,
``notifications(limit=100)``, ``Store.sla``) ``--repeat`` times in this process.
Optionally ``--ingest RATE`` replays further simulated notifications into the
store at RATE per second during the API runs. Prints p50/p99 (ms) of both sides
and the ratio::

    .venv/bin/python -m tools.bench_api --sqlite 100000 --keystone http://127.0.0.1:5000
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

from tools import bench_queries

QUERIES = ('trace', 'history', 'sla')


def percentiles(seconds):
    ordered = sorted(seconds)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]  # noqa
    return {'p50_ms': round(pick(50) * 1000, 1), 'p99_ms': round(pick(99) * 1000, 1),
            'n': len(ordered)}


def newest_request(store):
    """``(project id, request id)`` of the newest request operation (a span)."""
    for doc in store.notifications(limit=1000):
        if doc.get('project_id') and doc.get('request_id') and doc.get('phase') == 'end':
            return doc['project_id'], doc['request_id']
    raise SystemExit('the store holds no notification of a project')


def in_process(store, conf, query, project, request_id):
    """The call the endpoint makes, with the project the API would give the store."""
    from nvs_notif.answers import history as history_answer
    from nvs_notif.answers import stuck as stuck_answer
    from nvs_notif.answers import trace as trace_answer
    from nvs_notif import timeutil
    if query == 'trace':
        spans = trace_answer.linked_spans(store, request_id, project_id=project)
        return trace_answer.trace_tree(spans, timeutil.utcnow(), stuck_answer.policy_of(conf),
                                       ident=request_id)
    if query == 'history':
        return list(history_answer.history_rows(store.notifications(project_id=project,
                                                                    limit=100)))
    return store.sla(project_id=project)


def paths(query, request_id, scope):
    return {'trace': '/v1/traces/%s%s' % (request_id, scope),
            'history': '/v1/history?limit=100%s' % scope.replace('?', '&'),
            'sla': '/v1/sla%s' % scope}[query]


def run_clients(base, tokens, path, clients, requests_each):
    import requests

    def client(token):
        session = requests.Session()
        session.headers['X-Auth-Token'] = token
        times = []
        for _ in range(requests_each):
            started = time.perf_counter()
            r = session.get(base + path, timeout=120)
            times.append(time.perf_counter() - started)
            if r.status_code != 200:
                raise RuntimeError('%s: %d %s' % (path, r.status_code, r.text[:200]))
        return times
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        found = pool.map(client, [tokens[i % len(tokens)] for i in range(clients)])
        return [t for times in found for t in times]


def wait_up(base, timeout=60):
    import requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(base + '/healthcheck', timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit('nvs-notif-api did not start at %s' % base)


def ingest(url, rate, seed):
    """A process replaying simulated notifications into ``url`` at ``rate``/s."""
    code = ('import sys, time\n'
            'from nvs_notif import replay, simulate\n'
            'endpoint = replay.local_endpoint(sys.argv[1])\n'
            'rate = float(sys.argv[2]); batch = []; started = time.monotonic(); n = 0\n'
            'for sim in simulate.simulate(10 ** 7, seed=int(sys.argv[3])):\n'
            '    batch.append(sim.to_message())\n'
            '    if len(batch) == 100:\n'
            '        replay.process(endpoint, batch); n += len(batch); batch = []\n'
            '        time.sleep(max(0.0, started + n / rate - time.monotonic()))\n')
    return subprocess.Popen([sys.executable, '-c', code, url, str(rate), str(seed + 1)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sqlite', type=int, default=100000, metavar='N')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cache-dir', default=os.path.expanduser('~/.cache/nvs-notif-bench'))
    parser.add_argument('--keystone', default=os.environ.get('NVS_TEST_KEYSTONE_URL',
                                                             'http://127.0.0.1:5000'))
    parser.add_argument('--clients', type=int, default=50)
    parser.add_argument('--requests', type=int, default=10, help='per client and query')
    parser.add_argument('--repeat', type=int, default=50, help='in-process runs per query')
    parser.add_argument('--ingest', type=float, default=0, metavar='RATE',
                        help='notifications/s replayed into the store meanwhile (0: none)')
    parser.add_argument('--store', help='use this store URL as it is (no cached build)')
    parser.add_argument('--port', type=int, default=18779)
    args = parser.parse_args(argv)

    from nvs_notif.cli import common
    from nvs_notif import storage
    from tests.functional import keystone as keystone_mod
    from tools import benchutil
    say = benchutil.stderr
    os.makedirs(args.cache_dir, exist_ok=True)
    url = args.store or bench_queries.sqlite_store(args.cache_dir, args.sqlite, args.seed,
                                                   say)[0]
    keystone = keystone_mod.Keystone(args.keystone)
    conf = common.load_conf([])
    store = storage.get_store(url, conf)
    project, request_id = newest_request(store)
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        conf_file = os.path.join(tmp, 'nvs-notif.conf')
        with open(conf_file, 'w') as f:
            f.write('[api]\nstore = %s\nmax_limit = 1000\n[keystone_authtoken]\n%s\n' % (
                url, '\n'.join('%s = %s' % kv for kv in keystone.authtoken_options().items())))
        server = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), 'nvs-notif-api'),
             '--port', str(args.port)],
            env=dict(os.environ, NVS_NOTIF_API_CONFIG_FILES=conf_file),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, 'api.log'), 'w'))
        feeder = ingest(url, args.ingest, args.seed) if args.ingest else None
        stored, started = store.count('notifications'), time.monotonic()
        try:
            base = 'http://127.0.0.1:%d' % args.port
            wait_up(base)
            # The admin reads that request's project by project_id (any project of the
            # simulated cloud); keystonemiddleware validates its token once per process.
            tokens = [keystone.token('admin')]
            scope = '?project_id=%s' % project
            for query in QUERIES:
                path = paths(query, request_id, scope)
                run_clients(base, tokens, path, 2, 2)            # warm: token cache, pages
                api = run_clients(base, tokens, path, args.clients, args.requests)
                local = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    in_process(store, conf, query, project, request_id)
                    local.append(time.perf_counter() - started)
                report[query] = {'api': percentiles(api), 'in_process': percentiles(local)}
                say('%s: api %s, in-process %s' % (query, report[query]['api'],
                                                    report[query]['in_process']))
        finally:
            ingested = (store.count('notifications') - stored) / (time.monotonic() - started)
            if feeder:
                feeder.terminate()
                feeder.wait()
            server.terminate()
            server.wait()
            store.close()
    lines = ['%d notifications (SQLite), %d clients x %d requests, ingest asked %s/s, '
             'stored %.0f/s meanwhile' % (args.sqlite, args.clients, args.requests,
                                          args.ingest or 0, ingested),
             '%-8s %10s %10s %12s %12s %10s' % ('query', 'api p50', 'api p99', 'local p50',
                                               'local p99', 'p99 ratio')]
    for query, r in report.items():
        lines.append('%-8s %8.1f ms %7.1f ms %9.1f ms %9.1f ms %9.1fx' % (
            query, r['api']['p50_ms'], r['api']['p99_ms'], r['in_process']['p50_ms'],
            r['in_process']['p99_ms'],
            r['api']['p99_ms'] / max(r['in_process']['p99_ms'], 0.001)))
    benchutil.stdout('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
