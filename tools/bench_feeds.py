"""Benchmark: a notification stored -> its entry at the subscriber's callback.

The whole path of the feeds' hub, each part as it runs in production:

* a writer process stores notifications through the real pipeline
  (``replay.process``, the agent's endpoint) in batches, ``--rate`` a second,
  spread over ``--projects`` projects, and records when each batch was
  committed (stored);
* an ``nvs-notif-hub`` process (:mod:`nvs_notif.api.hub_service`: the store's
  tail and the hub's rounds) configured by an nvs-notif.conf of the same
  store, reads what was stored and delivers it;
* ``--subscribers`` real HTTP servers on 127.0.0.1 (this process), each
  subscribed (verified by the hub) to one project's notifications topic,
  record when each entry reached them.

Latency = callback received - batch committed.  Prints p50/p99/max, entries
lost or duplicated, the rates reached, and ``uptime`` (the machine is
shared: read numbers with its load)::

    .venv/bin/python -m tools.bench_feeds --rate 500 --subscribers 20 --seconds 30
"""
import argparse
import ipaddress
import multiprocessing
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from nvs_notif.feeds import topics
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from tools.bench_hub import Receiver

BASE = 'https://api.bench.test'
#: The target of issue 17: p99 stored -> callback.
TARGET_P99 = 3.0


def _message(project, n):
    return {'message_id': str(uuid.uuid4()), 'priority': 'INFO',
            'publisher_id': 'nova-compute:host-%d' % (n % 8),
            'event_type': 'compute.instance.update',
            'timestamp': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime()) + '.%06d' % (n % 10 ** 6),
            '_context_request_id': 'req-%d' % n, '_context_project_id': project,
            'payload': {'instance_id': 'inst-%d' % (n % 500), 'tenant_id': project,
                        'state': 'active', 'n': n}}


def write(store_url, projects, rate, seconds, batch, out):
    """The writer process: batches through the real pipeline; ``out`` gets
    ``(committed time, [(message id, project)])`` per batch, then None."""
    from nvs_notif import replay
    endpoint = replay.local_endpoint(store_url)
    n, every = 0, batch / rate
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        due = start + (n // batch) * every
        time.sleep(max(0.0, due - time.monotonic()))
        messages = [_message(projects[(n + i) % len(projects)], n + i) for i in range(batch)]
        replay.process(endpoint, messages)
        out.put((time.time(), [(m['message_id'], m['_context_project_id']) for m in messages]))
        n += batch
    out.put(None)
    replay.local_store(endpoint).close()


def hub_conf(path, store_url, poll, websub=()):
    """The hub's nvs-notif.conf: the store, the subscribers' network allowed,
    ``poll_interval`` and the other ``[websub]`` options of ``websub``
    (``(name, value)`` pairs)."""
    path.write_text('\n'.join([
        '[api]', 'store = %s' % store_url,
        '[websub]', 'callback_allowed_networks = 127.0.0.1/32', 'callback_allow_public = false',
        'poll_interval = %s' % poll] + ['%s = %s' % kv for kv in websub]) + '\n')
    return path


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rate', type=float, default=500, help='notifications stored a second')
    parser.add_argument('--seconds', type=float, default=30)
    parser.add_argument('--subscribers', type=int, default=20)
    parser.add_argument('--projects', type=int, default=10)
    parser.add_argument('--batch', type=int, default=50, help='notifications per write')
    parser.add_argument('--poll', type=float, default=0.2,
                        help="the hub's [websub] poll_interval")
    parser.add_argument('--tail-batch', type=int, default=None,
                        help="the hub's [websub] tail_batch (default: the option's)")
    parser.add_argument('--settle', type=float, default=None,
                        help="the hub's [websub] tail_settle_seconds (default: the option's)")
    parser.add_argument('--store', default=None,
                        help='store URL (default: a new SQLite file in --dir)')
    parser.add_argument('--dir', default=None,
                        help='where the SQLite file and the hub\'s config go (default: a '
                             'new temporary directory, removed at the end)')
    args = parser.parse_args(argv)
    work = pathlib.Path(tempfile.mkdtemp(prefix='bench-feeds-', dir=args.dir))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args, work):
    store_url = args.store or 'sqlite:///%s' % (work / 'nvs.db')
    projects = ['project-%02d' % i for i in range(args.projects)]

    # The subscribers, and their subscriptions waiting for the hub's verification.
    receivers = [Receiver() for _ in range(args.subscribers)]
    wants = {r: projects[i % len(projects)] for i, r in enumerate(receivers)}
    policy = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),),
                             allow_public=False)
    asker = hub_mod.Hub(store_mod.open_hub_store(store_url), policy)
    for r, project in wants.items():
        asker.request({'hub.mode': 'subscribe', 'hub.callback': r.url,
                       'hub.topic': topics.Topic('notifications', project).url(BASE)},
                      lambda url: True, user_id='bench')
    hub = subprocess.Popen(
        [sys.executable, '-c', 'import sys; from nvs_notif.api import hub_service; '
         'sys.exit(hub_service.main())',
         '--config-file', str(hub_conf(work / 'nvs-notif.conf', store_url, args.poll, [
             (name, value) for name, value in (('tail_batch', args.tail_batch),
                                               ('tail_settle_seconds', args.settle))
             if value is not None]))])
    try:
        deadline = time.monotonic() + 60
        while sum(len(asker.store.subscriptions(t, asker.clock())) for t in {
                topics.Topic('notifications', p).url(BASE) for p in wants.values()}) < len(
                receivers):
            assert time.monotonic() < deadline and hub.poll() is None, 'not verified in 60 s'
            time.sleep(0.1)
        time.sleep(1.0)     # the tail's first round: its cursor starts at the newest
        out = multiprocessing.Queue()
        writer = multiprocessing.Process(target=write, args=(
            store_url, projects, args.rate, args.seconds, args.batch, out))
        began = time.monotonic()
        writer.start()
        stored = {}
        for item in iter(out.get, None):
            committed, ids = item
            for message_id, project in ids:
                stored['urn:uuid:' + message_id] = (committed, project)
        wrote = time.monotonic() - began
        writer.join()
        expected = sum(1 for _, p in stored.values() for r in receivers if wants[r] == p)
        deadline = time.monotonic() + 120
        while sum(len(r.got) for r in receivers) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        hub.terminate()
        hub.wait(60)
        asker.close()
        asker.store.close()
    latencies, seen, duplicates = [], set(), 0
    for r in receivers:
        for when, entry in r.got:
            duplicates += (r, entry) in seen
            seen.add((r, entry))
            latencies.append(when - stored[entry][0])
    latencies.sort()
    load = subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()
    print('store %s; %d subscribers over %d projects; %d notifications stored in %.1f s '
          '(%.0f/s, asked %.0f/s), batches of %d'
          % (store_url.split(':', 1)[0], len(receivers), len(projects), len(stored), wrote,
             len(stored) / wrote, args.rate, args.batch))
    print('entries to deliver %d, delivered %d, lost %d, duplicated %d'
          % (expected, len(seen), expected - len(seen), duplicates))
    if latencies:
        p99 = percentile(latencies, 0.99)
        print('latency stored -> callback: p50 %.3f s, p99 %.3f s, max %.3f s (target p99 <= '
              '%.0f s: %s)' % (percentile(latencies, 0.5), p99, latencies[-1], TARGET_P99,
                               'met' if p99 <= TARGET_P99 else 'NOT met'))
    print('uptime: %s' % load)
    return 0 if len(seen) == expected and not duplicates else 1


if __name__ == '__main__':
    sys.exit(main())
