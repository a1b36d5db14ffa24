"""Benchmark: latency of nvs-notif-api's trace, history and sla under concurrent
clients, against the same store query run in-process, in one run on the same data.

The store is bench_queries' cached SQLite file of ``--sqlite`` simulated
notifications (built once), or ``--store`` as it is. The API is the whole
application (``nvs_notif.api.wsgi:application``: oslo.middleware,
keystonemiddleware validating real tokens against ``--keystone``, oslo.policy)
deployed as an operator deploys it: ``--server gunicorn`` runs the shipped
``etc/gunicorn.conf.py.sample``, ``--server uwsgi`` the shipped
``etc/uwsgi.ini.sample`` (each with only its address, configuration file and
log paths changed), ``--server wsgiref`` the trial server ``nvs-notif-api``.

``--clients`` clients, spread over ``--client-processes`` processes (so the
clients' own Python does not serialise them behind one GIL), each with its own
HTTP connection and the admin's token (Keystone's test users of
tools/keystone_setup.py; ``project_id=`` of the traced request's project), ask
each query ``--requests`` times back to back; the in-process side runs the
store call the endpoint makes (``trace_spans`` + ``trace_tree``,
``notifications(limit=100)``, ``Store.sla``) ``--repeat`` times in this process,
right after, on the same data. ``--ingest RATE`` replays further simulated
notifications into the same store at RATE per second through the nvs endpoint
(the agent's pipeline in a process of its own, batches of 100, as
``nvs-notif replay`` and tools/bench_pipeline drive it) from before the first
query to the end, and the rate stored while each query ran is printed. ``--baseline DIR``
runs a second server, the same deployment of the ``nvs_notif`` package in DIR,
and measures each query on both, one after the other (alternating which goes
first), with the ratios this / baseline. Every
answer that is not a 200 is counted and shown; the server's log is searched for
tracebacks and ``database is locked``. Prints p50/p99 (ms) of both sides, the
ratio, the API's requests/s and the load average::

    .venv/bin/python -m tools.bench_api --store sqlite:////var/tmp/x.db --ingest 1000
"""
import argparse
import collections
import concurrent.futures
import functools
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

from tools import bench_queries

QUERIES = ('trace', 'history', 'sla')
SERVERS = ('gunicorn', 'uwsgi', 'wsgiref')
ETC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'etc')


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
        return list(history_answer.history_rows(store.notifications(
            project_id=project, limit=100, fields=history_answer.HISTORY_FIELDS)))
    return store.sla(project_id=project)


def paths(query, request_id, scope):
    return {'trace': '/v1/traces/%s%s' % (request_id, scope),
            'history': '/v1/history?limit=100%s' % scope.replace('?', '&'),
            'sla': '/v1/sla%s' % scope}[query]


# --- the servers, as the shipped samples configure them ------------------------------

def with_settings(sample, settings, comment):
    """The sample's text with each ``key = value`` line of ``settings`` given the new
    value (a key the sample does not set is added at the end)."""
    lines, done = [], set()
    for line in sample.splitlines():
        key = line.split('=', 1)[0].strip()
        if '=' in line and not line.startswith(comment) and key in settings:
            line, done = '%s = %s' % (key, settings[key]), done | {key}
        lines.append(line)
    lines += ['%s = %s' % (k, v) for k, v in settings.items() if k not in done]
    return '\n'.join(lines) + '\n'


def server_command(kind, tmp, port, conf_file, workers=None, threads=None):
    """``(argv, environment)`` of the API under ``kind``, its log in ``tmp``;
    ``workers`` and ``threads``, when given, replace the sample's."""
    sizes = {'workers': workers, 'threads': threads}
    venv_bin = os.path.dirname(sys.executable)
    log = os.path.join(tmp, 'api.log')
    if kind == 'gunicorn':
        with open(os.path.join(ETC, 'gunicorn.conf.py.sample')) as f:
            text = with_settings(f.read(), {
                'bind': repr(['127.0.0.1:%d' % port]),
                'raw_env': repr(['NVS_NOTIF_API_CONFIG_FILES=' + conf_file]),
                'accesslog': repr(os.path.join(tmp, 'access.log')),
                'errorlog': repr(log),
                **{k: v for k, v in sizes.items() if v}}, '#')
        path = os.path.join(tmp, 'gunicorn.conf.py')
        argv = [os.path.join(venv_bin, 'gunicorn'), '--config', path]
    elif kind == 'uwsgi':
        with open(os.path.join(ETC, 'uwsgi.ini.sample')) as f:
            text = with_settings(f.read(), {
                'http11-socket': '127.0.0.1:%d' % port,
                'env': 'NVS_NOTIF_API_CONFIG_FILES=' + conf_file,
                'virtualenv': sys.prefix, 'logto': log,
                **{{'workers': 'processes'}.get(k, k): v for k, v in sizes.items() if v}}, ';')
        path = os.path.join(tmp, 'uwsgi.ini')
        argv = [os.path.join(venv_bin, 'uwsgi'), '--ini', path]
    else:
        return ([os.path.join(venv_bin, 'nvs-notif-api'), '--port', str(port)],
                dict(os.environ, NVS_NOTIF_API_CONFIG_FILES=conf_file))
    with open(path, 'w') as f:
        f.write(text)
    return argv, dict(os.environ)


def server_log_problems(tmp):
    """Lines of the server's log that name a traceback or a locked database."""
    found = collections.Counter()
    for name in ('api.log', 'server.err'):
        path = os.path.join(tmp, name)
        if os.path.exists(path):
            with open(path, errors='replace') as f:
                for line in f:
                    if re.search(r'Traceback|database is locked|Error', line):
                        found[line.strip()[:160]] += 1
    return found


# --- the clients ---------------------------------------------------------------------

def run_client_threads(base, token, path, threads, requests_each):
    """``(seconds of each answer, Counter of non-200 statuses and bodies)``.

    Each client keeps one HTTP/1.1 connection (the standard library's
    ``http.client``: a tenth of the CPU per request of ``requests``, whose
    clients on the same machine took 2-3 ms a request, half the server's)."""
    import http.client
    import urllib.parse
    address = urllib.parse.urlsplit(base)

    def client(_):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
        headers = {'X-Auth-Token': token}
        times, failed = [], collections.Counter()
        for _ in range(requests_each):
            started = time.perf_counter()
            connection.request('GET', path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200:
                failed['%d %s' % (response.status, body[:120].decode(errors='replace'))] += 1
            if response.will_close:
                connection.close()
        connection.close()
        return times, failed
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        found = list(pool.map(client, range(threads)))
    return [t for times, _ in found for t in times], sum((f for _, f in found),
                                                         collections.Counter())


def run_clients(base, token, path, clients, requests_each, processes):
    """Every client's answer times and failures, the clients in ``processes``
    processes; the seconds the whole run took and the CPU seconds the clients used."""
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    started, cpu = time.perf_counter(), _children_cpu()
    with concurrent.futures.ProcessPoolExecutor(processes) as pool:
        found = list(pool.map(run_client_threads, *zip(*[
            (base, token, path, n, requests_each) for n in shares if n])))
    seconds = time.perf_counter() - started
    return ([t for times, _ in found for t in times],
            sum((f for _, f in found), collections.Counter()), seconds, _children_cpu() - cpu)


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_cpu(pid):
    """CPU seconds a process and its children (a server's workers) used so far."""
    from tools import benchutil
    return benchutil.tree_cpu(benchutil.proc_table(), pid)


def measure(base, token, path, store, server_pid, feeder_pid, local_call, client_processes,
            clients, requests_each, repeat):
    """One query: its answer times over HTTP while the store grows, then in-process."""
    processes = min(clients, client_processes)
    stored, load, cpu = store.count('notifications'), os.getloadavg()[0], server_cpu(server_pid)
    feeder_cpu = server_cpu(feeder_pid) if feeder_pid else 0
    api, failed, seconds, client_cpu = run_clients(base, token, path, clients, requests_each,
                                                   processes)
    cpu = server_cpu(server_pid) - cpu
    feeder_cpu = (server_cpu(feeder_pid) - feeder_cpu) if feeder_pid else 0
    ingested = (store.count('notifications') - stored) / seconds
    local = []
    for _ in range(repeat):
        started = time.perf_counter()
        local_call()
        local.append(time.perf_counter() - started)
    return {'clients': clients, 'api': percentiles(api), 'in_process': percentiles(local),
            'failed': failed, 'per_s': len(api) / seconds, 'ingested_per_s': ingested,
            'cpu_ms': cpu * 1000 / len(api), 'client_cpu_ms': client_cpu * 1000 / len(api),
            'ingest_cores': feeder_cpu / seconds,
            'load': (load, os.getloadavg()[0])}


def wait_up(base, server, timeout=120):
    import requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit('the API server exited (%s)' % server.returncode)
        try:
            if requests.get(base + '/healthcheck', timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise SystemExit('nvs-notif-api did not start at %s' % base)


def wait_ingesting(store, before, feeder, timeout=300):
    """Return once the feeder has stored its first thousand notifications."""
    deadline = time.monotonic() + timeout
    while store.count('notifications') < before + 1000:
        if feeder.poll() is not None or time.monotonic() > deadline:
            raise SystemExit('the ingest process stored nothing (exit %s)' % feeder.returncode)
        time.sleep(1)


def ingest(url, rate, seed, nice=0):
    """A process replaying simulated notifications into ``url`` at ``rate``/s,
    at scheduling priority ``nice`` (negative: before the machine's other work)."""
    code = ('import sys, time\n'
            'from nvs_notif import replay, simulate\n'
            'endpoint = replay.local_endpoint(sys.argv[1])\n'
            'rate = float(sys.argv[2]); batch = []; started = time.monotonic(); n = 0\n'
            'for sim in simulate.simulate(10 ** 7, seed=int(sys.argv[3])):\n'
            '    batch.append(sim.to_message())\n'
            '    if len(batch) == 100:\n'
            '        replay.process(endpoint, batch); n += len(batch); batch = []\n'
            '        time.sleep(max(0.0, started + n / rate - time.monotonic()))\n')
    return subprocess.Popen([sys.executable, '-c', code, url, str(rate), str(seed + 1)],
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sqlite', type=int, default=100000, metavar='N')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cache-dir', default=os.path.expanduser('~/.cache/nvs-notif-bench'))
    parser.add_argument('--store', help='use this store URL as it is (no cached build)')
    parser.add_argument('--keystone', default=os.environ.get('NVS_TEST_KEYSTONE_URL',
                                                             'http://127.0.0.1:5000'))
    parser.add_argument('--server', choices=SERVERS, default='gunicorn')
    parser.add_argument('--workers', type=int, help="instead of the sample's (gunicorn, uwsgi)")
    parser.add_argument('--threads', type=int, help="instead of the sample's (gunicorn, uwsgi)")
    parser.add_argument('--clients', type=int, default=50)
    parser.add_argument('--client-processes', type=int, default=5)
    parser.add_argument('--requests', type=int, default=10, help='per client and query')
    parser.add_argument('--repeat', type=int, default=50, help='in-process runs per query')
    parser.add_argument('--sla-clients', type=int, default=5,
                        help='clients of sla: a whole-history sla takes seconds to minutes')
    parser.add_argument('--sla-requests', type=int, default=1)
    parser.add_argument('--sla-repeat', type=int, default=3)
    parser.add_argument('--ingest', type=float, default=0, metavar='RATE',
                        help='notifications/s replayed into the store meanwhile (0: none)')
    parser.add_argument('--ingest-nice', type=int, default=0, metavar='N',
                        help='niceness of the ingest process (negative, as root: the '
                             'rate holds on a machine busy with other work)')
    parser.add_argument('--queries', default=','.join(QUERIES))
    parser.add_argument('--port', type=int, default=18779,
                        help='of this tree\'s server (the baseline\'s: the next one)')
    parser.add_argument('--baseline', metavar='DIR',
                        help='also serve the nvs_notif package of DIR (e.g. `git archive` of '
                             'main, unpacked) on the next port, and measure both sides '
                             'query by query, alternating which goes first')
    return parser.parse_args(argv)


def start_server(args, tmp, port, conf_file, tree=None):
    """The API server of this tree, or of the ``nvs_notif`` package in ``tree``
    (first on its path: the server runs there with it on ``PYTHONPATH``), its
    files in ``tmp``."""
    os.makedirs(tmp, exist_ok=True)
    argv, env = server_command(args.server, tmp, port, conf_file, args.workers, args.threads)
    if tree:
        env = dict(env, PYTHONPATH=os.pathsep.join([tree] + [
            p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]))
    return subprocess.Popen(argv, env=env, cwd=tree, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, 'server.err'), 'w'))


def main(argv=None):
    args = parse_args(argv)
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
    size = store.count('notifications')
    # (side, tree): this tree, and the baseline's package when asked.
    sides = [('this', None)] + ([('baseline', os.path.abspath(args.baseline))]
                                if args.baseline else [])
    report, problems = [], collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        conf_file = os.path.join(tmp, 'nvs-notif.conf')
        with open(conf_file, 'w') as f:
            f.write('[api]\nstore = %s\nmax_limit = 1000\n[keystone_authtoken]\n%s\n' % (
                url, '\n'.join('%s = %s' % kv for kv in keystone.authtoken_options().items())))
        servers = {side: (start_server(args, os.path.join(tmp, side), args.port + i,
                                       conf_file, tree),
                          'http://127.0.0.1:%d' % (args.port + i))
                   for i, (side, tree) in enumerate(sides)}
        feeder = (ingest(url, args.ingest, args.seed, args.ingest_nice) if args.ingest
                  else None)
        try:
            # The admin reads that request's project by project_id; keystonemiddleware
            # validates its token once per worker process (the warm-up below).
            token = keystone.token('admin')
            scope = '?project_id=%s' % project
            for server, base in servers.values():
                wait_up(base, server)
                run_clients(base, token, paths('trace', request_id, scope), args.clients, 2,
                            args.client_processes)
            if feeder:
                wait_ingesting(store, size, feeder)
            for n, query in enumerate(args.queries.split(',')):
                sizes = ((args.sla_clients, args.sla_requests, args.sla_repeat)
                         if query == 'sla' else (args.clients, args.requests, args.repeat))
                local_call = functools.partial(in_process, store, conf, query, project,
                                               request_id)
                # Sides alternate which goes first, query by query.
                for side, _tree in (sides if n % 2 == 0 else sides[::-1]):
                    server, base = servers[side]
                    found = measure(base, token, paths(query, request_id, scope), store,
                                    server.pid, feeder and feeder.pid, local_call,
                                    args.client_processes, *sizes)
                    report.append((query, side, found))
                    say('%s (%s): %s' % (query, side, found))
        finally:
            if feeder:
                feeder.terminate()
                feeder.wait()
            for server, _base in servers.values():
                server.terminate()
                server.wait()
            store.close()
            for side, _tree in sides:
                problems.update(server_log_problems(os.path.join(tmp, side)))
    benchutil.stdout('\n'.join(report_lines(args, size, report, problems)))
    return 0


def report_lines(args, size, report, problems):
    """The printed report: a row per query and side, the ratios of this tree to
    the baseline, the answers that were not 200, the server logs' problems."""
    lines = ['%d notifications (SQLite) at the start, API under %s (workers %s, threads %s), '
             'clients in %d processes, ingest asked %s/s; srv/cli cpu: CPU time per request of '
             'the server / the clients; cores: CPU the ingest used%s' % (
                 size, args.server, args.workers or 'of the sample',
                 args.threads or 'of the sample', args.client_processes, args.ingest or 0,
                 '; baseline: %s' % args.baseline if args.baseline else ''),
             '%-8s %-8s %7s %10s %10s %10s %10s %8s %6s %7s %7s %8s %9s %6s %10s' % (
                 'query', 'side', 'clients', 'api p50', 'api p99', 'local p50', 'local p99',
                 'p99 x', 'req/s', 'srv cpu', 'cli cpu', 'non-200', 'stored/s', 'cores',
                 'load 1min')]
    for query, side, r in report:
        lines.append('%-8s %-8s %7d %7.1f ms %7.1f ms %7.1f ms %7.1f ms %7.1fx %6.1f %4.1f ms '
                     '%4.1f ms %8d %9.0f %6.2f %5.1f-%.1f' % (
            query, side, r['clients'], r['api']['p50_ms'], r['api']['p99_ms'],
            r['in_process']['p50_ms'], r['in_process']['p99_ms'],
            r['api']['p99_ms'] / max(r['in_process']['p99_ms'], 0.001),
            r['per_s'], r['cpu_ms'], r['client_cpu_ms'], sum(r['failed'].values()),
            r['ingested_per_s'], r['ingest_cores'], *r['load']))
    found = {(query, side): r for query, side, r in report}
    for query in dict.fromkeys(q for q, _s, _r in report):
        if (query, 'baseline') in found:
            this, base = found[query, 'this'], found[query, 'baseline']
            lines.append('%-8s this / baseline: srv cpu %.2f, api p50 %.2f, api p99 %.2f, '
                         'req/s %.2f' % (
                query, this['cpu_ms'] / base['cpu_ms'],
                this['api']['p50_ms'] / base['api']['p50_ms'],
                this['api']['p99_ms'] / base['api']['p99_ms'], this['per_s'] / base['per_s']))
    for query, side, r in report:
        for answer, count in r['failed'].most_common(5):
            lines.append('  %s (%s): %d x %s' % (query, side, count, answer))
    for line, count in problems.most_common(10):
        lines.append('  server log: %d x %s' % (count, line))
    return lines


if __name__ == '__main__':
    sys.exit(main())
