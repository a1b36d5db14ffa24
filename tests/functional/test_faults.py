"""Fault scenarios under load: nothing lost, nothing doubled, spans exactly right.

A simulated cloud (every exchange, both topics) is published in the background
with oslo.messaging's Notifier by tools/loadgen.py, at a steady rate, while a
fault is injected; tools/reconcile.py then compares every sent message id and
the spans computed from the sent notifications with the store.
"""
import signal
import threading

import pytest

from nvs_notif import simulate
from nvs_notif import storage
from tests.functional.support import store_url, wait_for
from tools import loadgen
from tools import reconcile

pytestmark = pytest.mark.slow

COUNT = 3000
RATE = 300                  # a second: ten seconds of traffic
#: What services and agent need to keep notifications through a broker restart:
#: durable exchanges and quorum (hence durable) queues, on both sides.
DURABLE = {'amqp_durable_queues': True, 'rabbit_quorum_queue': True}
DURABLE_CONF = '''
[oslo_messaging_rabbit]
amqp_durable_queues = true
rabbit_quorum_queue = true
'''


class Load:
    """A seeded simulated cloud published in a background thread."""

    def __init__(self, transport_url, topic, seed, count=COUNT, rate=RATE,
                 rabbit_options=None):
        self.sims = list(simulate.simulate(count, seed=seed))
        self.topics = loadgen.topic_map(topic, topic + '-versioned')
        self.transport_url = transport_url
        self.rabbit_options = rabbit_options
        self.rate = rate
        self.published = 0
        self.report = None
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def agent_topics(self):
        """The agent's ``[oslo_messaging_notifications] topics``."""
        return ','.join(sorted(set(self.topics.values())))

    def _count(self, _sent):
        self.published += 1

    def _run(self):
        try:
            self.report = loadgen.run(
                self.sims, rate=self.rate, on_sent=self._count,
                publisher_factory=lambda: loadgen.Publisher(
                    self.transport_url, self.topics, self.rabbit_options))
        except BaseException as exc:  # noqa: BLE001 - raised by finish()
            self.error = exc

    def start(self):
        self._thread.start()
        return self

    def wait_published(self, n):
        wait_for(lambda: self.published >= n, timeout=120, interval=0.2,
                 what='%d notifications published' % n)

    def finish(self, timeout=300):
        """Wait for the last send; the records of everything the broker confirmed."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), 'load generator still publishing'
        if self.error is not None:
            raise self.error
        assert self.report.failed == 0, '%d sends failed' % self.report.failed
        assert len(self.report.sent) == len(self.sims)
        return self.report.sent


def backend_url(backend, es_prefix, tmp_path, **es_options):
    if backend != 'sqlite':
        return store_url(backend, es_prefix, **es_options)
    return 'sqlite:///%s' % (tmp_path / 'faults.db')


def assert_reconciled(records, url, timeout=180):
    store = storage.get_store(url)
    try:
        result = reconcile.wait_reconciled(records, store, timeout)
    finally:
        store.close()
    assert result.ok, result.summary()
    assert result.sent == len(records) and result.spans_expected > 500
    return result


def stored(url):
    store = storage.get_store(url)
    try:
        return store.count('notifications')
    finally:
        store.close()


@pytest.mark.parametrize('backend', ['sqlite', 'elasticsearch', 'opensearch'])
def test_agent_killed_mid_batch_and_restarted(backend, agent_factory, transport_url, topic,
                                              es_prefix, tmp_path):
    url = backend_url(backend, es_prefix, tmp_path)
    load = Load(transport_url, topic, seed=11)
    agent = agent_factory([url], topic=load.agent_topics, batch_size=50)
    load.start()
    load.wait_published(COUNT // 3)
    # Kill it while it is storing: some stored, more arriving.
    wait_for(lambda: stored(url) > 0, timeout=60, what='the first stored notifications')
    agent.stop(sig=signal.SIGKILL)
    assert 0 < stored(url) < COUNT
    load.wait_published(COUNT // 2)        # more queue up while it is dead
    agent.start()
    assert_reconciled(load.finish(), url)
    assert agent.proc.poll() is None


def test_search_engine_down_longer_than_retry_budget(agent_factory, transport_url, topic, engine,
                                                     es_prefix, search_outage, tmp_path):
    # One retry of 5 s: the client gives up well within the outage.
    url = backend_url(engine, es_prefix, tmp_path, max_retries=1, timeout=5)
    load = Load(transport_url, topic, seed=12)
    agent = agent_factory([url], topic=load.agent_topics, batch_size=50)
    load.start()
    load.wait_published(COUNT // 4)
    wait_for(lambda: stored(url) > 0, timeout=60, what='the first stored notifications')
    search_outage.stop()
    load.wait_published(COUNT // 2)
    # Down for longer than the client's retries: batches must be requeued.
    wait_for(lambda: 'requeueing' in agent.log_text(), timeout=60,
             what='the agent to requeue a batch')
    assert agent.proc.poll() is None, 'agent died during the outage'
    search_outage.start()
    # Read back with the default client options: the agent's 5 s timeout is
    # there to exhaust its retries, and a server just restarted on a busy
    # machine may take longer than that to answer its first refresh.
    assert_reconciled(load.finish(), backend_url(engine, es_prefix, tmp_path))


def test_rabbitmq_restarted_mid_stream(rabbit_vhost, rabbit_outage, agent_factory, topic,
                                       es_prefix, tmp_path):
    url = backend_url('elasticsearch', es_prefix, tmp_path)
    load = Load(rabbit_vhost, topic, seed=13, rabbit_options=DURABLE)
    agent = agent_factory([url], topic=load.agent_topics, batch_size=50,
                          transport_url=rabbit_vhost, extra_conf=DURABLE_CONF)
    load.start()
    load.wait_published(COUNT // 3)
    wait_for(lambda: stored(url) > 0, timeout=60, what='the first stored notifications')
    # The agent falls behind (here: dies), so the broker holds a backlog when it
    # restarts: its unacknowledged messages and a third of the load.
    agent.stop(sig=signal.SIGKILL)
    load.wait_published(2 * COUNT // 3)
    # A clean broker stop: what it confirmed is on disk; senders block meanwhile.
    rabbit_outage.stop()
    rabbit_outage.start()
    agent.start()
    # And once more under the running agent, while it works through the
    # backlog: it reconnects by itself, its unacknowledged batches come back.
    before = wait_for(lambda: stored(url), timeout=60, what='the agent storing again')
    wait_for(lambda: stored(url) > before, timeout=60, what='the agent storing the backlog')
    rabbit_outage.stop()
    rabbit_outage.start()
    assert_reconciled(load.finish(), url)
    assert agent.proc.poll() is None


def test_two_agents_one_killed(agent_factory, transport_url, topic, es_prefix, tmp_path):
    url = backend_url('elasticsearch', es_prefix, tmp_path)
    load = Load(transport_url, topic, seed=14)
    # Small batches: every request's notifications spread over all four workers.
    agents = [agent_factory([url], name='agent-%d' % i, topic=load.agent_topics,
                            workers=2, batch_size=10) for i in range(2)]
    load.start()
    load.wait_published(COUNT // 3)
    wait_for(lambda: stored(url) > 0, timeout=60, what='the first stored notifications')
    agents[0].stop(sig=signal.SIGKILL)
    # The survivor gets the killed agent's unacknowledged messages and the rest.
    assert_reconciled(load.finish(), url)
    assert agents[1].proc.poll() is None
    assert agents[1].tracebacks() == [], agents[1].tracebacks()[:1]
