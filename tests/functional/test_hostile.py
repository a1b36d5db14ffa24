"""The hostile-input corpus (tests/hostile/) through the real agent.

Cases that oslo.messaging's Notifier can carry (any event_type, publisher_id
and payload it can serialise) are sent with it; the others (not JSON,
non-UTF-8, bad envelopes, wrong-typed message_id/timestamp/priority, payloads
too deep for json.dumps) are published with kombu exactly as oslo.messaging's
rabbit driver publishes a notification: a JSON body ``{"oslo.version": "2.0",
"oslo.message": "<json>"}`` (content type application/json) to the control
exchange (``nova``, type topic) with routing key ``<topic>.<priority>``, into
the queue of that name.

What the agent does with each case is declared in its file (``agent``):

* ``store`` / ``reject``: it reaches the nvs endpoint, which stores it or
  dead-letters it into ``<prefix>-rejects`` with a reason; ``reject`` also
  covers a notification the endpoint accepts but Elasticsearch refuses (the
  store dead-letters it);
* ``dropped``: oslo.messaging discards it before any endpoint sees it (see
  DROP_LOG_LINES): acknowledged or rejected without requeue, so it leaves the
  queue, is logged, and reaches neither the notifications nor the rejects;
* ``poison``: a wire message whose ``priority`` is not a string makes
  oslo.messaging's batch dispatcher raise before calling any endpoint; the
  whole batch (good messages with it) is requeued, again and again. Tested
  apart, in :func:`test_poison_priority_requeues_its_batch_forever`; the
  remedy in test_dead_letters.py.
"""
import json
import sys
import time
import uuid

from elasticsearch import helpers
from oslo_context import context as oslo_context
import oslo_messaging
import pytest

from tests.functional.support import ARTIFACTS, es_count, es_store_url, wait_for
from tests.functional.wire import EXCHANGE, WirePublisher
from tests.hostile import corpus

CASES = corpus.load_cases()
NOTIFIER_PRIORITIES = {'audit', 'debug', 'info', 'warn', 'warning', 'error', 'critical',
                       'sample'}
BASE = corpus.base_message()

# What oslo.messaging 18.3.1 logs for a message it cannot decode (rabbit
# driver, Consumer._callback: the traceback follows, then message.reject()
# without requeue) and for an unknown priority (the batch dispatcher acks it).
DROP_LOG_LINES = ('Failed to process message ... skipping it.', 'Unknown priority "')
POISON_LOG_LINE = 'Exception during messages handling.'


@pytest.fixture
def wire(topic):
    w = WirePublisher(topic)
    yield w
    w.close()


def _notifier_form(case, message):
    """(publisher_id, priority, event_type, payload) when oslo's Notifier can
    send this case unchanged, else None."""
    if case.is_raw or not isinstance(message, dict) or 'oslo.message' in message:
        return None
    if set(message) - set(BASE) or 'event_type' not in message:
        return None
    if message.get('timestamp') != BASE['timestamp']:
        return None
    if not (isinstance(message.get('message_id'), str) and message['message_id'].startswith('hostile-')):
        return None
    priority = message.get('priority')
    if not isinstance(priority, str) or priority.lower() not in NOTIFIER_PRIORITIES:
        return None
    try:
        json.dumps(message)
    except (RecursionError, ValueError):
        return None
    return message.get('publisher_id'), priority, message['event_type'], message.get('payload')


def _wire_priority(message):
    prio = message.get('priority') if isinstance(message, dict) else None
    return prio.lower() if isinstance(prio, str) and prio.lower() in NOTIFIER_PRIORITIES else 'info'


def _send_good(sender, n, tag):
    req = 'req-good-%s-%d' % (tag, n)
    sender.send('nova', 'compute.good-host', 'INFO', 'compute.instance.create.start',
                {'instance_id': 'inst-%s-%d' % (tag, n), 'state': 'building'},
                {'request_id': req, 'project_id': 'p-good'})
    return req


def _send_case(case, tag, sender, wire):
    """Send ``case`` tagged with request id ``tag``; returns 'notifier' or 'wire'."""
    message = case.message('hostile-%s' % tag)
    if isinstance(message, dict) and 'oslo.message' not in message and not case.is_raw:
        message = dict(message, _context_request_id=tag)
    form = _notifier_form(case, message)
    if form is not None:
        publisher_id, priority, event_type, payload = form
        # publisher_id may be a list or a number here: a Notifier of its own.
        notifier = oslo_messaging.Notifier(sender._transport(EXCHANGE), publisher_id=publisher_id,
                                           driver='messagingv2', topics=[sender.topic])
        ctxt = oslo_context.RequestContext(request_id=tag, project_id='proj-h')
        getattr(notifier, priority.lower())(ctxt, event_type, payload)
        return 'notifier'
    if case.is_raw:
        body = case.wire_body('hostile-%s' % tag)
    else:
        value = message
        if isinstance(value, dict) and 'oslo.message' not in value:
            value = corpus.envelope(_dumps(value))
        body = _dumps(value).encode()
    wire.publish(body, _wire_priority(message))
    return 'wire'


def _dumps(value):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        return json.dumps(value)
    finally:
        sys.setrecursionlimit(limit)


def _scan(es_client, index, fields=None):
    if not es_client.indices.exists(index=index):
        return []
    es_client.indices.refresh(index=index)
    return [h['_source'] for h in helpers.scan(es_client, index=index, _source=fields or True)]


def _wait_drained(wire, priorities, settle=5.0, timeout=120):
    """The queues stay empty for ``settle`` seconds (nothing being redelivered)."""
    deadline = time.monotonic() + timeout
    empty_since = None
    while time.monotonic() < deadline:
        if all(wire.ready(p) == 0 for p in priorities):
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since >= settle:
                return
        else:
            empty_since = None
        time.sleep(0.5)
    raise AssertionError('queues %s never drained: %s' % (
        priorities, {p: wire.ready(p) for p in priorities}))


def test_corpus_through_the_agent(agent_factory, sender, wire, es_client, es_prefix):
    agent = agent_factory([es_store_url(es_prefix)], batch_size=50)
    wait_for(lambda: _consumer_ready(wire), timeout=60, what='agent consuming')
    run = uuid.uuid4().hex[:6]
    sent, goods, via = {}, [], {}
    cases = [c for c in CASES if c.agent != 'poison']
    for i, case in enumerate(cases):
        goods.append(_send_good(sender, i, run))
        tag = 'req-%s-%s' % (run, case.name)
        via[case.name] = _send_case(case, tag, sender, wire)
        sent[case.name] = tag
        goods.append(_send_good(sender, 1000 + i, run))

    notif_index = '%s-notifications' % es_prefix
    reject_index = '%s-rejects' % es_prefix
    expected_stored = len(goods) + sum(c.agent == 'store' for c in cases)
    _wait_drained(wire, ['info', 'warn', 'error'])
    # Drained means handled: the endpoint acks a batch only once it is stored.

    assert agent.proc.poll() is None, 'agent exited'
    notes = _scan(es_client, notif_index, ['request_id', 'message_id'])
    rejects = _scan(es_client, reject_index)
    by_request = {}
    for doc in notes:
        by_request.setdefault(doc.get('request_id'), []).append(doc)
        if ((doc.get('message_id') or '').startswith('hostile-req-')
                and doc['message_id'][len('hostile-'):] != doc.get('request_id')):
            # Raw-wire cases carry their tag in the message id.
            by_request.setdefault(doc['message_id'][len('hostile-'):], []).append(doc)
    # Every good notification exactly once.
    assert sorted(len(by_request.get(g, [])) for g in goods) == [1] * len(goods)

    observed = {}
    for case in cases:
        tag = sent[case.name]
        stored = len(by_request.get(tag, []))
        rejected = [r for r in rejects if tag in r['raw']]
        if stored and not rejected:
            observed[case.name] = 'store' if stored == 1 else 'stored %d times' % stored
        elif rejected and not stored:
            observed[case.name] = 'reject' if all(r['reason'] for r in rejected) else 'no reason'
        elif not stored and not rejected:
            observed[case.name] = 'dropped'
        else:
            observed[case.name] = 'stored and rejected'
    expected = {c.name: c.agent for c in cases}
    mismatched = {k: (expected[k], observed[k], via[k]) for k in expected
                  if expected[k] != observed[k]}
    (ARTIFACTS / 'hostile-observed.json').write_text(json.dumps(
        {k: [observed[k], via[k]] for k in observed}, indent=1))
    assert not mismatched, mismatched
    assert es_count(es_client, notif_index) == expected_stored

    everything = json.dumps(rejects) + json.dumps(_scan(es_client, notif_index, ['payload']))
    log = agent.log_text()
    for case in cases:
        for secret in case.secrets:
            assert secret not in everything, (case.name, secret)
            assert secret not in log, (case.name, secret)
    # Every rejected message is logged with its reason; dropped ones by oslo.
    assert log.count('Rejected notification: ') >= sum(c.agent == 'reject' for c in cases) - 4
    if any(c.agent == 'dropped' for c in cases):
        assert any(line in log for line in DROP_LOG_LINES)
    # The only tracebacks are oslo.messaging's for the messages it discards.
    tb_lines = [line for line in log.splitlines() if 'Traceback (most recent call last)' in line]
    assert tb_lines and all(' ERROR oslo.messaging._drivers.impl_rabbit ' in line
                            for line in tb_lines), tb_lines
    assert POISON_LOG_LINE not in log


def _consumer_ready(wire):
    return wire.consumers('info') > 0


def test_poison_priority_requeues_its_batch_forever(agent_factory, sender, wire, es_client,
                                                    es_prefix):
    """oslo.messaging's BatchNotificationDispatcher calls
    ``message.get('priority', '').lower()`` for every message of a batch
    before any endpoint runs: a wire message whose priority is null, a
    number, a list or an object raises AttributeError there, the server logs
    'Exception during messages handling.' and requeues the *whole* batch,
    which comes back with the same poison: the good messages in it are never
    stored, and the loop never ends (ceilometer's agent does not set a
    redelivery limit, and oslo's default classic queue has none). Nothing in
    the nvs plugin can see these messages. This is the default behaviour;
    the operators' remedy (quorum queues with a delivery limit, a
    dead-letter policy, ``nvs-notif drain``) is proven in
    test_dead_letters.py and described in docs/operations.rst, "Poison
    messages"."""
    poison = [c for c in CASES if c.agent == 'poison']
    assert poison
    agent = agent_factory([es_store_url(es_prefix)], batch_size=50)
    wait_for(lambda: _consumer_ready(wire), timeout=60, what='agent consuming')
    run = uuid.uuid4().hex[:6]
    goods = [_send_good(sender, i, run) for i in range(3)]
    case = poison[0]
    assert _send_case(case, 'req-%s-poison' % run, sender, wire) == 'wire'
    time.sleep(0.2)
    goods += [_send_good(sender, 10 + i, run) for i in range(3)]
    wait_for(lambda: agent.log_text().count(POISON_LOG_LINE) >= 3, timeout=60,
             what='the poisoned batch to be requeued repeatedly')
    index = '%s-notifications' % es_prefix
    time.sleep(3)
    # The poison and its batch-mates are still going round.
    assert es_count(es_client, index) < len(goods)
    assert "AttributeError: '" in agent.log_text()
    assert agent.proc.poll() is None
    # Purging is not enough while the agent holds the batch (unacked); an
    # operator has to stop the agent, purge the queue and start it again.
    agent.stop()
    wire.purge('info')
    agent_factory([es_store_url(es_prefix)], name='agent2', batch_size=50)
    later = [_send_good(sender, 100 + i, run) for i in range(3)]
    wait_for(lambda: es_count(es_client, index) >= 3, timeout=60, what='later notifications')
    stored = {d['request_id'] for d in _scan(es_client, index, ['request_id'])}
    assert set(later) <= stored
