"""Load generator: a simulated cloud's notifications through oslo.messaging, at a rate.

Publishes :func:`nvs_notif.simulate.simulate` notifications with oslo.messaging's
``Notifier`` (``messagingv2``) on each notification's own control exchange (nova,
cinder, glance, neutron, keystone, heat) and topic (``notifications`` or
``versioned_notifications``, as the simulator decides; both names can be changed so
tests use unique ones), paced by a token bucket, and records what it sent.

oslo's ``Notifier`` makes the message id and timestamp itself.  To know them, the
notifier is given :class:`RecordingDriver` (oslo's own ``messagingv2`` driver whose
``notify`` raises instead of logging a failed send), attached through stevedore's
``make_test_instance`` seam, so every send still goes through ``Notifier._notify``.
A :class:`Sent` record holds the message as oslo's dispatcher will hand it to the
agent's endpoint; :mod:`reconcile` compares the records with a store.

::

    .venv/bin/python -m tools.loadgen --count 5000 --rate 500 --record sent.jsonl
    .venv/bin/python -m tools.loadgen --count 2000 --rate 0 --topic nvs-x \\
        --rabbit-option amqp_durable_queues=true --record sent.jsonl
"""
import argparse
import dataclasses
import json
import os
import sys
import threading
import time

from oslo_config import cfg
from oslo_context import context as oslo_context
import oslo_messaging
from oslo_messaging.notify import messaging as notify_messaging
from oslo_serialization import jsonutils
from stevedore import extension
from stevedore import named

TRANSPORT_URL = os.environ.get('NVS_TEST_TRANSPORT_URL', 'rabbit://guest:guest@127.0.0.1:5672/')
#: The simulator's topic names.
NOTIFICATIONS = 'notifications'
VERSIONED = 'versioned_notifications'


@dataclasses.dataclass(frozen=True)
class Sent:
    """One notification the broker confirmed, as the agent's endpoint will get it."""
    priority: str            # lower case, the endpoint method's name
    message: dict            # {ctxt, publisher_id, event_type, payload, metadata}
    exchange: str
    topic: str
    published: float         # time.time() when the broker had confirmed it

    @property
    def message_id(self):
        return self.message['metadata']['message_id']

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line):
        return cls(**json.loads(line))


def write_records(records, path):
    with open(path, 'w') as f:
        for record in records:
            f.write(record.to_json() + '\n')


def read_records(path):
    with open(path) as f:
        return [Sent.from_json(line) for line in f if line.strip()]


class RecordingDriver(notify_messaging.MessagingV2Driver):
    """oslo's ``messagingv2`` driver that tells its caller what it sent.

    The stock driver logs a failed send and returns, so the caller cannot know;
    this one raises (``Notifier`` then logs it) and leaves the sent message in
    a thread-local slot, so several publishing threads can share a notifier.
    """

    def __init__(self, conf, topics, transport):
        super().__init__(conf, topics=topics, transport=transport)
        self.local = threading.local()

    def notify(self, ctxt, message, priority, retry):
        self.local.sent = None
        for topic in self.topics:
            target = oslo_messaging.Target(topic='%s.%s' % (topic, priority.lower()))
            self.transport._send_notification(target, ctxt, message, version=self.version,
                                              retry=retry)
        self.local.sent = (ctxt, message)

    def take(self):
        """What the last ``notify`` of this thread sent, or None if it failed."""
        sent, self.local.sent = getattr(self.local, 'sent', None), None
        return sent


def notification_transport(transport_url, exchange, rabbit_options=None):
    """A notification transport whose control exchange is ``exchange``.

    :param rabbit_options: ``[oslo_messaging_rabbit]`` overrides, e.g.
        ``{'amqp_durable_queues': True}``; they must match the agent's.
    """
    conf = cfg.ConfigOpts()
    conf([], project='nvs-loadgen')
    # A first transport registers the transport and driver options.
    oslo_messaging.get_notification_transport(conf, url=transport_url).cleanup()
    conf.set_override('control_exchange', exchange)
    for name, value in (rabbit_options or {}).items():
        conf.set_override(name, value, group='oslo_messaging_rabbit')
    return oslo_messaging.get_notification_transport(conf, url=transport_url)


class Publisher:
    """One transport per exchange, one recording Notifier per (exchange, topic).

    :param topics: simulator topic name -> topic to publish on (default: the same)
    :param retry: the Notifier's retry (-1, the default, retries forever: a send
        blocks while the broker is away, as services' do by default)
    """

    def __init__(self, transport_url=TRANSPORT_URL, topics=None, rabbit_options=None,
                 retry=-1):
        self.transport_url = transport_url
        self.topics = dict(topics or {})
        self.rabbit_options = rabbit_options
        self.retry = retry
        self._transports = {}
        self._notifiers = {}     # (exchange, topic) -> (Notifier, RecordingDriver)
        self._prepared = {}      # (exchange, topic, publisher_id) -> prepared Notifier
        self._contexts = {}      # id(sim.context) -> RequestContext

    def _notifier(self, exchange, topic):
        key = (exchange, topic)
        if key not in self._notifiers:
            if exchange not in self._transports:
                self._transports[exchange] = notification_transport(
                    self.transport_url, exchange, self.rabbit_options)
            transport = self._transports[exchange]
            notifier = oslo_messaging.Notifier(transport, driver='noop', topics=[topic],
                                               retry=self.retry)
            driver = RecordingDriver(transport.conf, topics=[topic], transport=transport)
            # The seam stevedore offers: the manager Notifier maps every send to.
            notifier._driver_mgr = named.NamedExtensionManager.make_test_instance(
                [extension.Extension('recording', None, RecordingDriver, driver)])
            self._notifiers[key] = (notifier, driver)
        return self._notifiers[key]

    def publish(self, sim):
        """Send one :class:`~nvs_notif.simulate.SimulatedNotification`.

        :returns: a :class:`Sent`, or None when the send failed (oslo logged why)
        """
        topic = self.topics.get(sim.topic, sim.topic)
        notifier, driver = self._notifier(sim.exchange, topic)
        pkey = (sim.exchange, topic, sim.publisher_id)
        prepared = self._prepared.get(pkey)
        if prepared is None:
            prepared = self._prepared[pkey] = notifier.prepare(publisher_id=sim.publisher_id)
        getattr(prepared, sim.priority.lower())(self._context(sim), sim.event_type,
                                                sim.payload)
        sent = driver.take()
        if sent is None:
            return None
        ctxt, msg = sent
        # What the wire and oslo's dispatcher make of it (contexts travel as dicts).
        ctxt = ctxt.to_dict() if hasattr(ctxt, 'to_dict') else dict(ctxt)
        message = jsonutils.loads(jsonutils.dumps({
            'ctxt': ctxt, 'publisher_id': msg['publisher_id'],
            'event_type': msg['event_type'], 'payload': msg['payload'],
            'metadata': {'message_id': msg['message_id'], 'timestamp': msg['timestamp']}}))
        return Sent(msg['priority'].lower(), message, sim.exchange, topic, time.time())

    def _context(self, sim):
        # Services pass a RequestContext (oslo.messaging sends its redacted
        # copy and drops plain dicts); the simulator's flows share contexts.
        ctxt = self._contexts.get(id(sim.context))
        if ctxt is None or ctxt[0] is not sim.context:
            values = dict(sim.context)
            values.setdefault('user', values.get('user_id'))
            ctxt = self._contexts[id(sim.context)] = (
                sim.context, oslo_context.RequestContext.from_dict(values))
        return ctxt[1]

    def close(self):
        for transport in self._transports.values():
            transport.cleanup()
        self._transports.clear()
        self._notifiers.clear()
        self._prepared.clear()


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``rate`` 0 is unlimited."""

    def __init__(self, rate, burst=None):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, self.rate / 20))
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self):
        """Block until a token is available, then spend it."""
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)


@dataclasses.dataclass
class LoadReport:
    """What a :func:`run` did."""
    offered_rate: float       # 0: as fast as possible
    sent: list                # :class:`Sent`, in confirmation order per thread
    failed: int = 0           # sends oslo gave up on (only with a finite retry)
    seconds: float = 0.0

    @property
    def achieved_rate(self):
        return len(self.sent) / self.seconds if self.seconds > 0 else 0.0


def run(sims, rate=0, threads=1, publisher_factory=Publisher, on_sent=None, stop=None):
    """Publish ``sims`` at ``rate`` a second (0: unlimited) from ``threads`` threads.

    Each thread has its own :class:`Publisher` (own connections) and takes every
    ``threads``-th notification, so one request's notifications may be published
    by different threads, slightly out of order, as different services would.

    :param publisher_factory: called once per thread, returns a :class:`Publisher`
    :param on_sent: called with each :class:`Sent` (from the publishing thread)
    :param stop: a ``threading.Event`` that ends the run early
    :returns: a :class:`LoadReport`
    """
    sims = list(sims)
    bucket = TokenBucket(rate)
    lock = threading.Lock()
    report = LoadReport(offered_rate=rate, sent=[])
    errors = []

    def work(share):
        publisher = publisher_factory()
        try:
            for sim in share:
                if stop is not None and stop.is_set():
                    return
                bucket.take()
                sent = publisher.publish(sim)
                with lock:
                    if sent is None:
                        report.failed += 1
                    else:
                        report.sent.append(sent)
                if sent is not None and on_sent is not None:
                    on_sent(sent)
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            errors.append(exc)
        finally:
            publisher.close()

    workers = [threading.Thread(target=work, args=(sims[i::threads],), daemon=True,
                                name='loadgen-%d' % i) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    report.seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return report


def parse_rabbit_options(items):
    """``['amqp_durable_queues=true', 'rabbit_quorum_queue=1']`` -> dict of bools/ints/strs."""
    options = {}
    for item in items or ():
        name, sep, value = item.partition('=')
        if not sep:
            raise ValueError('expected NAME=VALUE, got %r' % item)
        low = value.strip().lower()
        if low in ('true', 'yes', 'on', 'false', 'no', 'off'):
            options[name.strip()] = low in ('true', 'yes', 'on')
        elif low.lstrip('-').isdigit():
            options[name.strip()] = int(low)
        else:
            options[name.strip()] = value.strip()
    return options


def topic_map(notifications_topic, versioned_topic):
    return {NOTIFICATIONS: notifications_topic, VERSIONED: versioned_topic}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('--count', '-n', type=int, default=1000,
                   help='notifications to publish (default 1000)')
    p.add_argument('--rate', '-r', type=float, default=500,
                   help='offered notifications per second, 0 = as fast as possible '
                        '(default 500)')
    p.add_argument('--threads', type=int, default=1, help='publishing threads (default 1)')
    p.add_argument('--seed', type=int, default=0, help='simulator seed (default 0)')
    p.add_argument('--transport-url', default=TRANSPORT_URL,
                   help='RabbitMQ URL (default $NVS_TEST_TRANSPORT_URL or %s)' % TRANSPORT_URL)
    p.add_argument('--topic', default=NOTIFICATIONS,
                   help='topic of legacy notifications (default notifications)')
    p.add_argument('--versioned-topic', default=None,
                   help='topic of versioned notifications (default versioned_notifications, '
                        'or <--topic>-versioned when --topic is given)')
    p.add_argument('--rabbit-option', action='append', metavar='NAME=VALUE',
                   help='an [oslo_messaging_rabbit] option for the notifier, e.g. '
                        'amqp_durable_queues=true (repeatable; must match the agent)')
    p.add_argument('--record', metavar='FILE',
                   help='write what was sent, one JSON line per notification '
                        '(input of tools/reconcile.py)')
    args = p.parse_args(argv)
    if args.count < 0 or args.rate < 0 or args.threads < 1:
        p.error('--count and --rate must be >= 0, --threads >= 1')
    if args.versioned_topic is None:
        args.versioned_topic = (VERSIONED if args.topic == NOTIFICATIONS
                                else args.topic + '-versioned')
    try:
        args.rabbit_options = parse_rabbit_options(args.rabbit_option)
    except ValueError as exc:
        p.error(str(exc))
    return args


def main(argv=None):
    from nvs_notif import simulate
    args = parse_args(argv)
    sims = list(simulate.simulate(args.count, seed=args.seed))
    topics = topic_map(args.topic, args.versioned_topic)
    report = run(sims, rate=args.rate, threads=args.threads,
                 publisher_factory=lambda: Publisher(args.transport_url, topics,
                                                     args.rabbit_options))
    if args.record:
        write_records(report.sent, args.record)
    print('sent %d, failed %d in %.2fs: %.0f/s (offered %s)'
          % (len(report.sent), report.failed, report.seconds, report.achieved_rate,
             '%g/s' % args.rate if args.rate else 'max'))
    return 0 if report.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
