"""Benchmark: WebSub hub distribution, new entries -> subscriber callbacks.

Subscribers are real HTTP servers on 127.0.0.1, each subscribed (verified)
to the notifications topic of one of ``--projects`` projects.  Every
``--round`` seconds a producer thread makes ``--rate`` x round notification
documents spread over the projects, renders one Atom document per topic
holding new ones (:func:`nvs_notif.feeds.fanout.publish`, as a store tail
would) and queues them; ``--hubs`` hubs (as API processes, sharing the hub
state in the ``--store``) deliver them.  Latency of an entry at a subscriber
= when the callback got it - when the document was made.  Prints p50/p99/max
latency, deliveries, entries lost or duplicated::

    .venv/bin/python -m tools.bench_hub --rate 500 --subscribers 20 --seconds 20

What it does not include: the store's tail (reading what was ingested),
which is not written yet; the time from agent to store.
"""
import argparse
import datetime
import http.server
import ipaddress
import statistics
import sys
import tempfile
import threading
import time
import uuid

from lxml import etree

from nvs_notif.feeds import atom
from nvs_notif.feeds import fanout
from nvs_notif.feeds import topics
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from nvs_notif.websub import subscriptions

BASE = 'https://api.bench.test'
_ID = '{%s}entry/{%s}id' % (atom.ATOM_NS, atom.ATOM_NS)


class Receiver:
    """One subscriber: answers verifications, records (time, entry id) of deliveries."""

    def __init__(self):
        self.got = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = dict(x.split('=', 1) for x in self.path.split('?', 1)[1].split('&'))
                body = query.get('hub.challenge', '').encode()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                now = time.time()
                owner.got += [(now, e.text) for e in etree.fromstring(body).iterfind(_ID)]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = 'http://127.0.0.1:%d/cb' % self.server.server_address[1]


def _doc(project, n):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {'message_id': str(uuid.uuid4()), 'timestamp': now.isoformat(),
            'event_type': 'compute.instance.update', 'operation': 'compute.instance.update',
            'priority': 'info', 'publisher_id': 'nova-compute:host-%d' % (n % 8),
            'service': 'nova', 'host': 'host-%d' % (n % 8), 'project_id': project,
            'request_id': 'req-%d' % n, 'payload': {'state': 'active', 'n': n}}


def produce(hub, projects, rate, round_seconds, seconds, made):
    """Rounds of new documents; ``made`` gets ``{entry id: (time made, project)}``."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        docs = [_doc(projects[i % len(projects)], n + i) for i in range(int(rate * round_seconds))]
        n += len(docs)
        t = time.time()
        for d in docs:
            made['urn:uuid:' + d['message_id']] = (t, d['project_id'])
        fanout.publish(hub, notifications=docs)
        time.sleep(max(0.0, round_seconds - (time.monotonic() - start)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rate', type=float, default=500, help='notifications per second')
    parser.add_argument('--seconds', type=float, default=20)
    parser.add_argument('--subscribers', type=int, default=20)
    parser.add_argument('--projects', type=int, default=10)
    parser.add_argument('--hubs', type=int, default=2, help='hub processes sharing the state')
    parser.add_argument('--round', type=float, default=0.2, help='seconds between tail rounds')
    parser.add_argument('--store', default=None,
                        help='hub store URL (default: a new SQLite file)')
    args = parser.parse_args(argv)
    url = args.store or 'sqlite:///%s/hub.db' % tempfile.mkdtemp(prefix='bench-hub-')
    policy = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),),
                             allow_public=False)
    settings = hub_mod.Settings(limits=subscriptions.Limits(3600, 60, 86400))
    hubs = [hub_mod.Hub(store_mod.open_hub_store(url), policy, settings)
            for _ in range(args.hubs)]
    projects = ['project-%d' % i for i in range(args.projects)]
    receivers = [Receiver() for _ in range(args.subscribers)]
    wants = {}
    for i, r in enumerate(receivers):
        topic = topics.Topic('notifications', projects[i % len(projects)])
        wants[r] = topic.project_id
        hubs[0].request({'hub.mode': 'subscribe', 'hub.topic': topic.url(BASE),
                         'hub.callback': r.url}, lambda t: True)
    while hubs[0].run_once():
        pass
    stop = threading.Event()
    runners = [threading.Thread(target=h.run, args=(stop, 0.02)) for h in hubs]
    for t in runners:
        t.start()
    made = {}
    try:
        produce(hubs[0], projects, args.rate, args.round, args.seconds, made)
        expected = sum(1 for _, p in made.values() for r in receivers if wants[r] == p)
        deadline = time.monotonic() + 60
        while sum(len(r.got) for r in receivers) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in runners:
            t.join()
        for h in hubs:
            h.close()
    latencies, seen = [], set()
    duplicates = 0
    for r in receivers:
        for when, entry in r.got:
            duplicates += (r, entry) in seen
            seen.add((r, entry))
            latencies.append(when - made[entry][0])
    latencies.sort()
    got = len(seen)
    print('hub store %s, %d hubs, %d subscribers over %d projects, rounds of %.2f s: '
          '%d notifications in %.0f s, %.0f/s made (asked %.0f/s)'
          % (url.split(':', 1)[0], args.hubs, args.subscribers, args.projects, args.round,
             len(made), args.seconds, len(made) / args.seconds, args.rate))
    print('entries to deliver %d, delivered %d, lost %d, duplicated %d, deliveries %d'
          % (expected, got, expected - got, duplicates,
             sum(h.stats['delivered'] for h in hubs)))
    if latencies:
        print('latency made -> callback: p50 %.3f s, p99 %.3f s, max %.3f s, mean %.3f s'
              % (latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)],
                 latencies[-1], statistics.fmean(latencies)))
    return 0 if got == expected and not duplicates else 1


if __name__ == '__main__':
    sys.exit(main())
