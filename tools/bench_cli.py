"""Benchmark: how fast ``nvs-notif`` starts, this checkout against another.

Runs ``nvs-notif --help``, ``nvs-notif help <command>`` for every command of the
``nvs_notif.cli`` entry points and ``nvs-notif trace <request>`` on a small SQLite
store (``replay --simulate``, built once in a temporary directory), each in a process
of its own started as the console script starts it, alternating between this
checkout and ``--base`` (another checkout of nvs-notif, first on ``PYTHONPATH``
with this virtualenv: e.g. ``git archive main | tar -x -C /tmp/nvs-main``). Prints
per command the median wall time and CPU seconds (``os.wait4``) of ``--repeat``
runs of both, and base / this. Both trees' bytecode is compiled first, as an
installed package has it (a checkout run with ``PYTHONDONTWRITEBYTECODE`` would
compile every module it imports at each run)::

    .venv/bin/python -m tools.bench_cli --base /tmp/nvs-main --repeat 7
"""
import argparse
import compileall
import importlib.metadata
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: What the ``nvs-notif`` console script runs.
CONSOLE_SCRIPT = 'import sys; from nvs_notif.cli.main import main; sys.exit(main())'


def run(tree, argv, cwd):
    """``(wall seconds, CPU seconds)`` of ``nvs-notif argv`` from the checkout ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-c', CONSOLE_SCRIPT] + argv, cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit('nvs-notif %s failed from %s: %s'
                         % (' '.join(argv), tree, proc.stderr.read().decode()))
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def package_of(tree, cwd):
    """Where ``nvs_notif`` is imported from with ``tree`` first on the path."""
    return subprocess.run([sys.executable, '-c', 'import nvs_notif; print(nvs_notif.__file__)'],
                          cwd=cwd, env=dict(os.environ, PYTHONPATH=str(tree)), check=True,
                          capture_output=True, text=True).stdout.strip()


def make_store(work, count):
    """``(store URL, a request id in it)``: ``count`` simulated notifications."""
    url = 'sqlite:///%s' % (work / 'nvs.db')
    subprocess.run([sys.executable, '-c', CONSOLE_SCRIPT, '--store', url, 'replay',
                    '--simulate', str(count)], cwd=work, check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    from nvs_notif import storage
    store = storage.get_store(url)
    try:
        request = min(s.request_id for s in store.spans() if s.request_id)
    finally:
        store.close()
    return url, request


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--base', required=True, type=pathlib.Path,
                        help='the other checkout of nvs-notif (its root directory)')
    parser.add_argument('--repeat', type=int, default=5, help='runs per command and side')
    parser.add_argument('--count', type=int, default=500,
                        help='simulated notifications in the trace store')
    args = parser.parse_args(argv)
    sides = {'base': args.base.resolve(), 'this': ROOT}
    with tempfile.TemporaryDirectory(prefix='nvs-bench-cli-') as tmp:
        work = pathlib.Path(tmp)
        for name, tree in sides.items():
            where = package_of(tree, work)
            if not where.startswith(str(tree)):
                raise SystemExit('%s: nvs_notif comes from %s, not %s' % (name, where, tree))
            compileall.compile_dir(os.path.dirname(where), quiet=1)
        url, request = make_store(work, args.count)
        commands = sorted(ep.name for ep in importlib.metadata.entry_points(group='nvs_notif.cli'))
        cases = ([('trace', ['--store', url, 'trace', request, '-f', 'json']),
                  ('--help', ['--help'])]
                 + [('help ' + c, ['help', c]) for c in commands])
        print('%-26s %10s %10s %7s   %10s %10s %7s' % (
            'command', 'base wall', 'this wall', 'ratio', 'base cpu', 'this cpu', 'ratio'))
        for label, case in cases:
            times = {name: [] for name in sides}
            for _ in range(args.repeat):
                for name, tree in sides.items():     # alternating: the load hits both alike
                    times[name].append(run(tree, case, work))
            wall = {n: statistics.median(w for w, _ in t) for n, t in times.items()}
            cpu = {n: statistics.median(c for _, c in t) for n, t in times.items()}
            print('%-26s %9.3fs %9.3fs %6.2fx   %9.3fs %9.3fs %6.2fx' % (
                label, wall['base'], wall['this'], wall['base'] / wall['this'],
                cpu['base'], cpu['this'], cpu['base'] / cpu['this']), flush=True)


if __name__ == '__main__':
    main()
