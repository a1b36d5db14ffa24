"""nvs_notif.drain over kombu's in-memory transport, into a SQLite store.

The real broker (quorum queue, delivery limit, dead-letter policy) is in
tests/functional/test_dead_letters.py.
"""
import json
import sqlite3
import uuid

import kombu
import pytest

from nvs_notif import drain
from nvs_notif import replay
from tests.hostile import corpus


@pytest.mark.parametrize('url, expected', [
    ('rabbit://guest:guest@127.0.0.1:5672/', 'amqp://guest:guest@127.0.0.1:5672/%2F'),
    ('rabbit://u:p%40ss@h:5673/nvs-x', 'amqp://u:p%40ss@h:5673/nvs-x'),
    ('rabbit://a:b@h1:5672,a:b@h2/v%2Fx', 'amqp://a:b@h1:5672/v%2Fx;amqp://a:b@h2:5672/v%2Fx'),
    ('rabbit://h1', 'amqp://h1:5672/%2F'),
])
def test_kombu_url(url, expected):
    assert drain.kombu_url(url) == expected


def test_kombu_url_refuses_other_transports():
    with pytest.raises(ValueError):
        drain.kombu_url('kafka://h:9092')


def _wire(message):
    """The body oslo.messaging's messagingv2 driver publishes."""
    return json.dumps(corpus.envelope(json.dumps(message))).encode()


def good(n):
    return corpus.base_message(message_id='dl-good-%d' % n, _context_request_id='req-dl-%d' % n)


POISON = {'null': None, 'number': 7, 'list': ['a'], 'object': {'a': 1}, 'bool': True}
BODIES = ([_wire(good(n)) for n in range(3)]
          + [_wire(corpus.base_message(message_id='dl-poison-%s' % k, priority=v))
             for k, v in POISON.items()]
          + [b'{"oslo.version": "2.0", "oslo.mess', b'\xff\xfe not utf-8 \x80',
             _wire(corpus.base_message(message_id='dl-unknown', priority='loud'))])


@pytest.fixture
def channel():
    with kombu.Connection('memory://') as conn:
        yield conn.channel()


@pytest.fixture
def queue(channel):
    name = 'dead-%s' % uuid.uuid4().hex[:8]
    kombu.Queue(name, channel=channel).declare()
    return name


def _publish(channel, queue, bodies):
    producer = kombu.Producer(channel)
    for body in bodies:
        producer.publish(body, routing_key=queue, content_type='application/json',
                         content_encoding='utf-8', serializer=None)


def _rejects(db):
    with sqlite3.connect(db) as conn:
        return sorted(r for (r,) in conn.execute('SELECT reason FROM rejects'))


def test_drain_stores_goods_and_rejects_the_rest(channel, queue, tmp_path):
    db = tmp_path / 'nvs.db'
    url = 'sqlite:///%s' % db
    _publish(channel, queue, BODIES)
    stats = drain.drain(channel, queue, replay.local_endpoint(url), batch_size=4)
    assert (stats['taken'], stats['notifications'], stats['rejects'],
            stats['duplicates']) == (len(BODIES), 3, len(BODIES) - 3, 0)
    assert drain.queue_depth(channel, queue) == 0
    reasons = _rejects(db)
    assert sum(r.startswith('priority is') for r in reasons) == len(POISON)
    assert "unknown priority 'loud'" in reasons
    assert len(reasons) == len(BODIES) - 3
    # Again: the same goods are duplicates, the rejects are kept once.
    _publish(channel, queue, BODIES)
    again = drain.drain(channel, queue, replay.local_endpoint(url), batch_size=100)
    assert (again['taken'], again['notifications'], again['duplicates']) == (len(BODIES), 3, 3)
    assert _rejects(db) == reasons


def test_limit(channel, queue, tmp_path):
    _publish(channel, queue, BODIES[:3])
    stats = drain.drain(channel, queue, replay.local_endpoint('sqlite:///%s' % (tmp_path / 'd')),
                        batch_size=2, limit=1)
    assert stats['taken'] == 1 and drain.queue_depth(channel, queue) == 2


def test_a_batch_the_store_refuses_stays_in_the_queue(channel, queue, tmp_path):
    endpoint = replay.local_endpoint('sqlite:///%s' % (tmp_path / 'nvs.db'))
    endpoint.REQUEUE_PAUSE = 0
    store = replay.local_store(endpoint)

    def refuse(batch):
        raise OSError('disk full')
    store.write = refuse
    _publish(channel, queue, BODIES[:3])
    with pytest.raises(RuntimeError, match='did not accept'):
        drain.drain(channel, queue, endpoint, batch_size=2)
    # Nothing acknowledged: the whole queue is there for the next run.
    assert drain.queue_depth(channel, queue) == 3
    assert {m.body for m in iter(lambda: kombu.Queue(queue, channel=channel).get(no_ack=True),
                                 None)} == set(BODIES[:3])
