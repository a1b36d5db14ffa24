"""Unit tests for nvs_notif.pipeline (build_batch and the NvsEndpoint)."""
import collections
import copy
import dataclasses
import json
import logging
import pathlib

import pytest

from nvs_notif import pipeline
from nvs_notif import publisher as publisher_mod
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import spans
from nvs_notif import storage

REQ = 'req-7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f'
TOKEN = 'gAAAAABsecretFernetTokenValue42'
ADMIN_PW = 'Pa55-admin-pw-9f8e7d'
ENV_TOKEN = 'gAAAAABenvelopeTokenValue77'
ENV_PW = 'Env-admin-pw-3c2b1a'
SECRETS = (TOKEN, ADMIN_PW, ENV_TOKEN, ENV_PW)


def plain(event_type='compute.instance.create.start', message_id='m-1', host='host-1',
          seconds=0, priority='INFO', **payload):
    msg = {'message_id': message_id, 'publisher_id': 'compute.' + host,
           'event_type': event_type, 'priority': priority,
           'timestamp': '2024-01-15 08:00:%02d.000000' % seconds,
           '_context_request_id': REQ, '_context_auth_token': TOKEN,
           '_context_project_id': 'proj-1', '_context_user_id': 'user-1',
           'payload': {'instance_id': 'inst-1', 'host': host, **payload}}
    return msg


def envelope(inner):
    return {'oslo.version': '2.0', 'oslo.message': json.dumps(inner)}


def dispatched(event_type, message_id, seconds, host='host-1', **payload):
    """The form oslo.messaging's dispatcher hands a batch endpoint."""
    return {'ctxt': {'request_id': REQ, 'auth_token': TOKEN, 'project_id': 'proj-1',
                     'user_id': 'user-1'},
            'publisher_id': 'nova-compute:' + host, 'event_type': event_type,
            'payload': {'instance_id': 'inst-1', 'admin_password': ADMIN_PW, **payload},
            'metadata': {'message_id': message_id,
                         'timestamp': '2024-01-15 08:00:%02d.000000' % seconds}}


def _stats():
    return collections.Counter()


def _dump_batch(batch):
    parts = [json.dumps(dataclasses.asdict(n), default=str) for n in batch.notifications]
    parts += [json.dumps(n.payload) for n in batch.notifications]
    parts += [r.raw + r.reason for r in batch.rejects]
    parts += [json.dumps(dataclasses.asdict(f), default=str) for f in batch.fragments]
    return '\n'.join(parts)


# --- build_batch ------------------------------------------------------------------

BAD = [
    (42, ('int', 'not a dict')),
    ('{"event_type": "compute.instance.create.start", ', ('str', 'not a dict')),
    ({'message_id': 'm-x', 'priority': 'INFO', 'timestamp': '2024-01-15 08:00:00',
      'payload': {}}, ('event_type', 'missing')),
    (dict(plain(message_id='m-loud'), priority='LOUD'), ('priority', 'LOUD')),
    ({'oslo.version': '2.0', 'oslo.message': 'not json'}, ('oslo.message', 'not JSON')),
]


def test_build_batch_good_and_bad():
    good = [
        plain('compute.instance.create.start', 'm-1', seconds=0, admin_password=ADMIN_PW),
        plain('compute.instance.create.end', 'm-2', seconds=9),
        envelope(dict(plain('compute.instance.delete.start', 'm-3', seconds=10),
                      _context_auth_token=ENV_TOKEN,
                      payload={'instance_id': 'inst-1', 'admin_password': ENV_PW})),
        plain('compute.instance.exists', 'm-4', seconds=11),
    ]
    messages = []
    for i, (bad, _) in enumerate(BAD):
        messages.append(good[i] if i < len(good) else None)
        messages.append(bad)
    messages = [m for m in messages if m is not None]
    originals = copy.deepcopy(messages)
    stats = _stats()
    batch = pipeline.build_batch(messages, None, stats=stats)

    assert [n.message_id for n in batch.notifications] == ['m-1', 'm-2', 'm-3', 'm-4']
    assert len(batch.rejects) == len(BAD)
    for reject, (bad, words) in zip(batch.rejects, BAD):
        for word in words:
            assert word in reject.reason, (reject.reason, word)
        assert reject.raw
        assert reject.received.tzinfo is not None
    assert stats == {'notifications': 4, 'rejects': len(BAD)}
    # start/end of one create merge into one span; exists gives no fragment
    assert len(batch.fragments) == 3
    merged = spans.merge_all(batch.fragments)
    create = merged[spans.span_id(REQ, 'compute.instance.create')]
    assert create.duration == 9.0
    assert batch.notifications[0].request_id == REQ
    assert batch.notifications[0].priority == 'info'
    # inputs are not modified
    assert messages == originals


def test_build_batch_priority_argument_wins():
    msg = plain(priority='LOUD')
    batch = pipeline.build_batch([msg], 'error')
    assert not batch.rejects
    assert batch.notifications[0].priority == 'error'
    batch = pipeline.build_batch([dict(msg, priority=None)], None)
    assert 'priority' in batch.rejects[0].reason


def test_build_batch_reject_raw_is_limited():
    big = {'payload': {'blob': 'x' * 5000}, 'priority': 'info'}
    batch = pipeline.build_batch([big], None, raw_limit=300)
    assert len(batch.rejects[0].raw) == 300
    assert 'event_type' in batch.rejects[0].reason


def test_secrets_appear_nowhere():
    messages = [
        plain('compute.instance.create.start', 'm-1', admin_password=ADMIN_PW),
        plain('compute.instance.create.error', 'm-2', priority='ERROR',
              admin_password=ADMIN_PW, message='rabbit://nova:%s@ctl-1:5672' % ADMIN_PW),
        envelope(dict(plain('compute.instance.delete.start', 'm-3'),
                      _context_auth_token=ENV_TOKEN,
                      payload={'instance_id': 'inst-1', 'admin_password': ENV_PW})),
        dict(dispatched('compute.instance.rebuild.start', 'm-4', 5), priority='info'),
        # rejected ones carry secrets too
        dict(plain(message_id='m-5', admin_password=ADMIN_PW), priority='LOUD'),
        {'_context_auth_token': TOKEN, 'payload': {'admin_password': ADMIN_PW}},
        {'oslo.version': '2.0',
         'oslo.message': '{"_context_auth_token": "%s", "payload": {"admin_password": '
                         '"%s"}, "event_type": ' % (ENV_TOKEN, ENV_PW)},
        envelope({'_context_auth_token': ENV_TOKEN, 'priority': 'info',
                  'payload': {'admin_password': ENV_PW}}),
    ]
    batch = pipeline.build_batch(messages, None)
    assert len(batch.notifications) == 4
    assert len(batch.rejects) == 4
    dumped = _dump_batch(batch)
    for secret in SECRETS:
        assert secret not in dumped, secret
    # masked, not dropped
    assert batch.notifications[0].payload['admin_password'] == '***'
    assert batch.notifications[2].payload['admin_password'] == '***'
    assert '_context_auth_token' in batch.rejects[1].raw


def test_extra_redact_keys():
    msg = plain(ssn='123-45-6789', admin_password=ADMIN_PW)
    batch = pipeline.build_batch([msg], None, extra_keys=['ssn'])
    assert batch.notifications[0].payload['ssn'] == '***'
    assert ADMIN_PW not in _dump_batch(batch)


def test_build_batch_hands_on_the_json_of_payloads_stored_as_they_came():
    clean = plain(message_id='m-clean', display_name='vm-1')
    secret = plain(message_id='m-secret', admin_password=ADMIN_PW)
    versioned = dict(plain(message_id='m-versioned'), payload={
        'nova_object.name': 'InstanceActionPayload', 'nova_object.version': '1.0',
        'nova_object.data': {'uuid': 'inst-1', 'host': 'host-1'}})
    duplicate = plain(message_id='m-clean', display_name='vm-2')
    batch = pipeline.build_batch([clean, secret, versioned, duplicate], None)
    assert json.loads(batch.payload_json['m-clean']) == clean['payload']
    assert batch.payload_json['m-secret'] is None      # masked: a copy, walked
    # unwrapped before encoding: the text is of the plain payload stored
    assert json.loads(batch.payload_json['m-versioned']) == batch.notifications[2].payload
    assert batch.notifications[2].payload == {
        'uuid': 'inst-1', 'host': 'host-1', '_object_name': 'InstanceActionPayload',
        '_object_version': '1.0'}
    assert batch.notifications[0].payload is clean['payload']
    assert batch.notifications[1].payload['admin_password'] == '***'
    no_payload = plain(message_id='m-none')
    del no_payload['payload']
    batch = pipeline.build_batch([no_payload], None)
    assert batch.notifications[0].payload == {} and batch.payload_json == {'m-none': '{}'}


def test_rejected_envelope_is_redacted_like_opened_one():
    inner = {'_context_auth_token': ENV_TOKEN, 'priority': 'info',
             'payload': {'adminPass': ENV_PW, 'ssn': '123-45-6789'}}
    batch = pipeline.build_batch([envelope(inner)], None, extra_keys=['ssn'])
    assert 'event_type' in batch.rejects[0].reason
    raw = batch.rejects[0].raw
    assert ENV_TOKEN not in raw
    assert ENV_PW not in raw
    assert '123-45-6789' not in raw


# --- the endpoint -------------------------------------------------------------------

def _url(path):
    # 'sqlite://' + absolute path: see test_local_endpoint_writes_to_the_named_sqlite_file
    return 'sqlite://' + str(path)


def _store_publisher(endpoint):
    pubs = [p for pipe in endpoint.manager.pipelines for p in pipe.publishers
            if isinstance(p, publisher_mod.StorePublisher)]
    assert len(pubs) == 1
    return pubs[0]


@pytest.fixture
def endpoint(tmp_path):
    ep = replay.local_endpoint(_url(tmp_path / 'nvs.db'))
    yield ep
    _store_publisher(ep).store.close()


def _flow():
    return [dispatched('compute.instance.create.start', 'm-1', 0),
            dispatched('compute.instance.create.end', 'm-2', 12),
            dispatched('compute.instance.exists', 'm-3', 13)]


def test_endpoint_info_handles_and_stores(endpoint, tmp_path):
    result = endpoint.info(_flow() + ['not json'])
    assert result == 'handled'
    store = _store_publisher(endpoint).store
    assert store.count('notifications') == 3
    assert store.count('rejects') == 1
    (span,) = store.spans(request_id=REQ)
    assert span.duration == 12.0 and span.host == 'host-1' and span.attempts == 1
    # the store keeps the span itself, not a copy as an event or meter
    assert store.count('events') == 0 and store.count('samples') == 0
    assert endpoint.stats['notifications'] == 3
    assert endpoint.stats['rejects'] == 1
    assert endpoint.stats['requeued'] == 0
    # a second store on the same file sees the same
    other = storage.get_store(_url(tmp_path / 'nvs.db'))
    try:
        assert other.count('notifications') == 3
        assert [s.span_id for s in other.spans()] == [span.span_id]
    finally:
        other.close()
    # redelivery: handled again, nothing duplicated
    assert endpoint.info(_flow()) == 'handled'
    assert store.count('notifications') == 3 and store.count('spans') == 1


def test_finished_spans_reach_other_publishers_as_events_and_meters(tmp_path):
    endpoint = replay.local_endpoint(_url(tmp_path / 'nvs.db'), other_publishers=['test://'])
    assert endpoint.info(_flow()) == 'handled'
    (test_pub,) = [p for p in endpoint.manager.pipelines[0].publishers
                   if not isinstance(p, publisher_mod.StorePublisher)]
    (event,) = test_pub.events
    assert event.event_type == 'nvs.span'
    traits = {t.name: t.value for t in event.traits}
    assert traits['request_id'] == REQ and traits['duration'] == 12.0
    assert traits['outcome'] == 'success'
    names = sorted(s.name for s in test_pub.samples)
    assert names == ['nvs.request.duration']
    assert test_pub.samples[0].volume == 12.0


def test_endpoint_priorities_are_taken_from_method(endpoint):
    error = dispatched('compute.instance.create.error', 'm-9', 3,
                       exception={'class': 'NoValidHost', 'message': 'no host'})
    assert endpoint.error([error]) == 'handled'
    store = _store_publisher(endpoint).store
    (span,) = store.spans()
    assert span.failed is not None
    assert span.fault.exception == 'NoValidHost' and span.fault.message == 'no host'


def test_endpoint_requeues_when_store_fails(endpoint, monkeypatch):
    pub = _store_publisher(endpoint)

    def broken(batch):
        raise RuntimeError('disk full')
    monkeypatch.setattr(pub.store, 'write', broken)
    messages = _flow()
    assert endpoint.info(messages) == 'requeue'
    assert endpoint.stats['requeued'] == len(messages)
    monkeypatch.undo()
    assert endpoint.info(messages) == 'handled'
    assert endpoint.stats['requeued'] == len(messages)
    assert pub.store.count('notifications') == 3


def test_replay_raises_when_store_fails(endpoint, monkeypatch):
    pub = _store_publisher(endpoint)
    monkeypatch.setattr(pub.store, 'write', lambda batch: 1 / 0)
    with pytest.raises(RuntimeError):
        replay.replay(_flow(), endpoint)


def test_local_endpoint_writes_to_the_named_sqlite_file(tmp_path):
    path = tmp_path / 'nvs.db'
    endpoint = replay.local_endpoint('sqlite:///%s' % path)
    message = next(simulate.simulate(1, seed=3)).to_message()
    assert replay.replay([message], endpoint)['notifications'] == 1
    assert path.exists()
    store = storage.get_store('sqlite:///%s' % path)
    try:
        assert store.count('notifications') == 1
    finally:
        store.close()


def test_unparseable_envelope_masks_admin_pass():
    broken = {'oslo.version': '2.0',
              'oslo.message': '{"_context_auth_token": "%s", "payload": {"admin_password": '
                              '"%s", "adminPass": "%s"}, "event_type": '
                              % (ENV_TOKEN, ENV_PW, ADMIN_PW)}
    batch = pipeline.build_batch([broken], None)
    raw = batch.rejects[0].raw
    assert ENV_TOKEN not in raw and ENV_PW not in raw
    assert ADMIN_PW not in raw


def test_endpoint_requeues_while_a_publisher_failed_to_load(tmp_path, monkeypatch):
    # ceilometer drops a publisher whose constructor raises; acknowledging
    # would lose the notifications for that sink.
    endpoint = replay.local_endpoint(_url(tmp_path / 'nvs.db'),
                                     other_publishers=['no-such-scheme://x'])
    monkeypatch.setattr(endpoint, 'REQUEUE_PAUSE', 0)
    assert endpoint.manager.unloaded_publishers == ['1 of sink store']
    assert endpoint.info(_flow()) == 'requeue'
    assert endpoint.stats['requeued'] == len(_flow())
    assert _store_publisher(endpoint).store.count('notifications') == 0


def test_an_internal_error_costs_one_message_not_the_batch(monkeypatch):
    real = pipeline.spans.fragments

    def flaky(n):
        if n.message_id == 'm-2':
            raise KeyError('boom')
        return real(n)
    monkeypatch.setattr(pipeline.spans, 'fragments', flaky)
    batch = pipeline.build_batch(_flow(), 'info')
    assert [n.message_id for n in batch.notifications] == ['m-1', 'm-3']
    (rej,) = batch.rejects
    assert rej.reason.startswith('internal error: KeyError')


def test_counters_logged_every_stats_interval(endpoint, monkeypatch, caplog):
    clock = [1000.0]
    monkeypatch.setattr(pipeline.time, 'monotonic', lambda: clock[0])
    endpoint.conf.set_override('stats_interval', 60, group='nvs')
    endpoint._reported_at = clock[0]
    caplog.set_level(logging.INFO, logger='nvs_notif.pipeline')

    def lines():
        return [r.getMessage() for r in caplog.records if 'nvs endpoint' in r.getMessage()]

    assert endpoint.info(_flow() + ['not json']) == 'handled'
    assert lines() == []                               # not due yet
    clock[0] += 61
    assert endpoint.info(_flow()) == 'handled'         # a redelivery: 3 duplicates
    assert lines() == ['nvs endpoint, last 61s: 6 notifications, 1 rejects, 3 duplicates, '
                       '2 spans, 0 requeued; since start: 6 notifications, 1 rejects, '
                       '3 duplicates, 2 spans, 0 requeued']
    clock[0] += 60
    assert endpoint.info(_flow()[:1]) == 'handled'
    assert lines()[1] == ('nvs endpoint, last 60s: 1 notifications, 0 rejects, 1 duplicates, '
                          '1 spans, 0 requeued; since start: 7 notifications, 1 rejects, '
                          '4 duplicates, 3 spans, 0 requeued')
    endpoint.conf.set_override('stats_interval', 0, group='nvs')
    clock[0] += 600
    assert endpoint.info(_flow()) == 'handled'
    assert len(lines()) == 2                           # 0 turns them off


# --- RabbitMQ prefetch vs batch size --------------------------------------------------

SAMPLE_CONF = pathlib.Path(__file__).parents[2] / 'etc' / 'pipeline' / 'ceilometer.conf.sample'


def _agent_conf(config_files=()):
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.IntOpt('rabbit_qos_prefetch_count', default=100)],
                       group='oslo_messaging_rabbit')     # ceilometer's default
    conf.register_opts([cfg.IntOpt('batch_size', default=1)], group='notification')
    conf(args=[], default_config_files=list(config_files))
    return conf


def test_prefetch_below_twice_the_batch_is_named():
    conf = _agent_conf()
    conf.set_override('batch_size', 500, group='notification')
    warning = pipeline.prefetch_warning(conf)
    assert 'rabbit_qos_prefetch_count = 100' in warning
    assert 'cut at 100' in warning and 'e.g. 2000' in warning


@pytest.mark.parametrize('prefetch', [0, 1000, 2000])
def test_prefetch_unlimited_or_large_enough_is_fine(prefetch):
    conf = _agent_conf()
    conf.set_override('batch_size', 500, group='notification')
    conf.set_override('rabbit_qos_prefetch_count', prefetch, group='oslo_messaging_rabbit')
    assert pipeline.prefetch_warning(conf) is None


def test_prefetch_not_rabbit_says_nothing():
    from oslo_config import cfg
    assert pipeline.prefetch_warning(cfg.ConfigOpts()) is None


def test_shipped_sample_prefetch_keeps_batches_whole():
    conf = _agent_conf([SAMPLE_CONF])
    assert conf.notification.batch_size == 500
    assert pipeline.prefetch_warning(conf) is None


def test_endpoint_warns_once_about_prefetch(caplog):
    conf = _agent_conf()
    conf.set_override('batch_size', 500, group='notification')
    endpoint = pipeline.NvsEndpoint(conf, manager=None)
    endpoint._process = lambda priority, messages, counts: None
    endpoint._count = lambda counts: None
    with caplog.at_level(logging.WARNING, logger='nvs_notif.pipeline'):
        endpoint.process('info', [])
        endpoint.process('info', [])
    assert [r.getMessage() for r in caplog.records].count(
        pipeline.prefetch_warning(conf)) == 1
