"""A poison batch leaves the queue through RabbitMQ's dead-lettering and
``nvs-notif drain`` stores it (docs/operations.rst, "Poison messages").

oslo.messaging requeues a whole batch holding a message whose priority is not
a string (see test_hostile.test_poison_priority_requeues_its_batch_forever).
With quorum queues, a delivery limit and a dead-letter policy, RabbitMQ moves
that batch, good messages too, into a dead-letter queue after the limit; the
drain command then stores the good ones and rejects the poison with a reason.
A body oslo cannot decode, which it rejects without requeue, is dead-lettered
too, and the drain rejects it with a reason as well.
"""
import json
import re
import time
import uuid

from elasticsearch import helpers
import kombu

from nvs_notif import drain
from tests.functional import cli
from tests.functional.support import dead_letter_policy, es_store_url, wait_for
from tests.functional.sender import Sender
from tests.functional.wire import WirePublisher
from tests.hostile import corpus

LIMIT = 3
#: The agent's and the services' [oslo_messaging_rabbit] (etc/pipeline/ceilometer.conf.sample).
QUORUM = {'rabbit_quorum_queue': True, 'rabbit_quorum_delivery_limit': LIMIT}
QUORUM_CONF = '''
[oslo_messaging_rabbit]
rabbit_quorum_queue = true
rabbit_quorum_delivery_limit = %d
''' % LIMIT
DLX = 'nvs.dlx'
DLQ = 'nvs.dead-letters'
POISON_LOG_LINE = 'Exception during messages handling.'


def _declare_dead_letters(vhost_url):
    """The exchange the policy names and a durable queue bound to it."""
    with kombu.Connection(drain.kombu_url(vhost_url)) as conn:
        exchange = kombu.Exchange(DLX, type='fanout', durable=True)
        kombu.Queue(DLQ, exchange=exchange, durable=True, channel=conn.channel()).declare()


def _depth(vhost_url, queue):
    with kombu.Connection(drain.kombu_url(vhost_url)) as conn:
        return drain.queue_depth(conn.channel(), queue)


def _stored(es_client, es_prefix):
    """request id -> how many notifications of it are stored."""
    index = '%s-notifications' % es_prefix
    if not es_client.indices.exists(index=index):
        return {}
    es_client.indices.refresh(index=index)
    counts = {}
    for hit in helpers.scan(es_client, index=index, _source=['request_id']):
        rid = hit['_source'].get('request_id')
        counts[rid] = counts.get(rid, 0) + 1
    return counts


def _rejects(es_client, es_prefix):
    index = '%s-rejects' % es_prefix
    es_client.indices.refresh(index=index)
    return [h['_source'] for h in helpers.scan(es_client, index=index)]


def test_poison_batch_is_dead_lettered_and_drained(rabbit_vhost, agent_factory, topic,
                                                   es_client, es_prefix):
    _declare_dead_letters(rabbit_vhost)
    dead_letter_policy(rabbit_vhost, '^%s\\.' % re.escape(topic), DLX)
    url = es_store_url(es_prefix)
    agent = agent_factory([url], transport_url=rabbit_vhost, extra_conf=QUORUM_CONF,
                          batch_size=50)
    sender = Sender(rabbit_vhost, topic, rabbit_options=QUORUM)
    # Declares what the agent declared: RabbitMQ refuses other arguments.
    wire = WirePublisher(topic, rabbit_vhost, durable=True,
                         queue_arguments={'x-queue-type': 'quorum', 'x-delivery-limit': LIMIT})
    run = uuid.uuid4().hex[:6]

    def send_good(n):
        rid = 'req-dl-%s-%d' % (run, n)
        sender.send('nova', 'compute.good-host', 'INFO', 'compute.instance.create.start',
                    {'instance_id': 'inst-%s-%d' % (run, n), 'state': 'building'},
                    {'request_id': rid, 'project_id': 'p-good'})
        return rid

    try:
        wait_for(lambda: wire.consumers('info') > 0, timeout=60, what='agent consuming')
        # The first one also opens the sender's connection, so the next seven
        # go out well within one batch_timeout (1 s): one batch.
        goods = [send_good(0)]
        wait_for(lambda: goods[0] in _stored(es_client, es_prefix), timeout=60,
                 what='the agent storing')
        goods += [send_good(n) for n in range(1, 4)]
        (poison,) = [c for c in corpus.load_cases() if c.name == '024-priority-number']
        poison_rid = 'req-dl-%s-poison' % run
        message = dict(poison.message('dl-poison-%s' % run), _context_request_id=poison_rid)
        wire.publish(json.dumps(corpus.envelope(json.dumps(message))).encode(), 'info')
        # Not UTF-8, not JSON: oslo rejects it without requeue, so the
        # policy dead-letters it at once.
        garbage = ('\xff\xfe not json %s' % run).encode('latin-1')
        wire.publish(garbage, 'info')
        goods += [send_good(n) for n in range(4, 7)]

        # Delivered once and requeued LIMIT times, then dead-lettered.
        wait_for(lambda: agent.log_text().count(POISON_LOG_LINE) >= LIMIT + 1, timeout=90,
                 what='%d deliveries of the poison batch' % (LIMIT + 1))
        time.sleep(3)       # no further round
        assert agent.log_text().count(POISON_LOG_LINE) == LIMIT + 1
        assert agent.alive(), 'agent exited'
        assert wire.ready('info') == 0
        dead = _depth(rabbit_vhost, DLQ)
        stored = _stored(es_client, es_prefix)
        missing = [g for g in goods if g not in stored]
        # The poison's good batch-mates went with it.
        assert len(missing) == dead - 2 and missing, (dead, missing)

        # The agent goes on as if nothing happened.
        later = [send_good(n) for n in range(100, 103)]
        wait_for(lambda: set(later) <= set(_stored(es_client, es_prefix)), timeout=60,
                 what='later notifications stored')
        assert _depth(rabbit_vhost, DLQ) == dead
    finally:
        wire.close()
        sender.close()

    out = cli.run(url, 'drain', DLQ, '--transport-url', rabbit_vhost)
    assert (out['taken'], out['stored'], out['duplicates'], out['rejected'],
            out['left in queue']) == (dead, dead - 2, 0, 2, 0), out
    stored = _stored(es_client, es_prefix)
    assert {rid: stored.get(rid) for rid in goods + later} == {rid: 1 for rid in goods + later}
    assert poison_rid not in stored
    rejects = _rejects(es_client, es_prefix)
    assert [r['reason'] for r in rejects if poison_rid in r['raw']] == [
        'priority is a int, not a string']
    assert [r['reason'] for r in rejects if run in r['raw'] and 'not json' in r['raw']] == [
        'message is a str, not a dict']
    assert _depth(rabbit_vhost, DLQ) == 0
    assert agent.alive()

    # A mistyped queue is an error, not an empty queue (and is not created).
    code, _ = cli.run_text(url, 'drain', DLQ + '-typo', '--transport-url', rabbit_vhost)
    assert code == 1
