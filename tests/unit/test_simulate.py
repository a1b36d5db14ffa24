"""Unit tests for nvs_notif.simulate (the synthetic OpenStack notification stream)."""
import collections
import datetime
import io
import json
import types
import tracemalloc
import uuid

import pytest

from nvs_notif import services
from nvs_notif import simulate as sim

N = 3000


@pytest.fixture(scope='module')
def stream():
    return list(sim.simulate(N, seed=0))


def _phase_base(event_type):
    for phase in ('.start', '.end', '.error'):
        if event_type.endswith(phase):
            return event_type[:-len(phase)], phase[1:]
    return event_type, None


def _rid(n):
    return n.context.get('request_id')


def _fault_of(n):
    p = n.payload
    if p.get('nova_object.name') == 'ExceptionPayload':
        return p                    # compute.exception: the payload is the fault
    if 'nova_object.data' in p:
        d = p['nova_object.data']
        return d.get('fault') or d.get('reason')
    return p.get('exception') or p.get('reason') or p.get('state_reason')


# --------------------------------------------------------------------------- basics

def test_is_lazy_generator():
    gen = sim.simulate(10)
    assert isinstance(gen, types.GeneratorType)


def test_exact_count():
    for count in (0, 1, 7, 1234):
        assert sum(1 for _ in sim.simulate(count, seed=3)) == count


def test_invalid_arguments():
    with pytest.raises(ValueError):
        sim.simulate(-1)
    with pytest.raises(ValueError):
        sim.simulate(10, hung_ratio=1.5)
    with pytest.raises(ValueError):
        sim.simulate(10, mix={'no_such_flow': 1})
    with pytest.raises(ValueError):
        sim.simulate(10, start=datetime.datetime(2024, 1, 1))


def test_deterministic(stream):
    again = list(sim.simulate(N, seed=0))
    assert [n.to_message() for n in again] == [n.to_message() for n in stream]
    other = [n.to_message() for n in sim.simulate(200, seed=1)]
    assert other != [n.to_message() for n in stream[:200]]


def test_start_parameter_shifts_time():
    start = datetime.datetime(2030, 6, 1, tzinfo=datetime.timezone.utc)
    first = next(iter(sim.simulate(1, start=start)))
    assert first.timestamp >= start
    assert first.timestamp - start < datetime.timedelta(minutes=5)


def test_timestamps_ordered_and_utc(stream):
    stamps = [n.timestamp for n in stream]
    assert all(ts.tzinfo is not None and ts.utcoffset() == datetime.timedelta(0)
               for ts in stamps)
    assert stamps == sorted(stamps)
    assert stamps[0] >= sim.DEFAULT_START


def test_message_ids_unique_uuid4(stream):
    ids = [n.message_id for n in stream]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids[:100])


def test_envelope_fields(stream):
    exchanges = {'nova', 'cinder', 'glance', 'neutron', 'keystone', 'heat'}
    for n in stream:
        assert n.exchange in exchanges
        assert n.priority in ('INFO', 'ERROR')
        assert n.topic in ('notifications', 'versioned_notifications')
        assert (n.topic == 'versioned_notifications') == ('nova_object.name' in n.payload)
        if n.topic == 'versioned_notifications':
            assert n.exchange == 'nova'
            assert n.publisher_id.split(':')[0] in ('nova-compute', 'nova-api',
                                                    'nova-scheduler', 'nova-conductor')
        else:
            assert '.' in n.publisher_id and ':' not in n.publisher_id
    assert {n.exchange for n in stream} == exchanges


def test_to_message_wire_shape(stream):
    for n in stream:
        msg = n.to_message()
        line = json.dumps(msg)
        assert json.loads(line) == msg
        for key in ('message_id', 'publisher_id', 'event_type', 'priority', 'payload',
                    'timestamp'):
            assert key in msg
        datetime.datetime.strptime(msg['timestamp'], '%Y-%m-%d %H:%M:%S.%f')
        for key, value in n.context.items():
            assert msg['_context_' + key] == value
    nova = next(n.to_message() for n in stream if n.exchange == 'nova')
    assert nova['_context_request_id'].startswith('req-')
    assert '_context_auth_token' in nova


def test_write_jsonl():
    buf = io.StringIO()
    assert sim.write_jsonl(sim.simulate(50, seed=2), buf) == 50
    lines = buf.getvalue().splitlines()
    assert len(lines) == 50
    assert all('event_type' in json.loads(line) for line in lines)


def test_memory_stays_flat():
    # Holding 6,000 notifications would take tens of MB; the generator keeps only one
    # pending notification per live flow plus a capped instance registry (~1 MB plateau).
    tracemalloc.start()
    try:
        for _ in sim.simulate(6000, seed=4):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2 ** 20, peak


# --------------------------------------------------------------------------- realism

SIGNATURES = {
    'server_create': 'compute.instance.create.end',
    'server_delete': 'compute.instance.delete.end',
    'server_resize': 'compute.instance.finish_resize.end',
    'server_rebuild': 'compute.instance.rebuild.start',
    'server_power': 'compute.instance.power_off.end',
    'server_snapshot': 'compute.instance.snapshot.start',
    'volume_create': 'volume.create.start',
    'volume_delete': 'volume.delete.end',
    'volume_attach': 'volume.attach.end',
    'image_create': 'image.upload',
    'image_delete': 'image.delete',
    'network_create': 'network.create.end',
    'router_create': 'router.create.end',
    'port_create': 'port.create.end',
    'keystone_auth': 'identity.authenticate',
    'keystone_project': 'identity.project.created',
    'heat_stack': 'orchestration.stack.create.start',
}


def test_every_flow_kind_present(stream):
    assert set(SIGNATURES) == set(sim.FLOW_KINDS)
    types_seen = {n.event_type for n in stream}
    missing = {k: e for k, e in SIGNATURES.items() if e not in types_seen}
    assert not missing
    for periodic in ('compute.instance.exists', 'compute.instance.update',
                     'scheduler.select_destinations.start', 'image.send',
                     'compute.instance.resize.prep.start', 'compute.instance.resize.start',
                     'compute.instance.resize.confirm.end', 'compute.instance.create.error',
                     'instance.create.start', 'instance.create.end'):
        assert periodic in types_seen, periodic


def test_service_update_only_on_state_changes():
    """nova sends service.update when disabled / disabled_reason / forced_down change,
    never as a heartbeat: each one here flips a compute service's disabled flag."""
    notifs = list(sim.simulate(N, seed=0, maintenance_interval=60.0, rate=0.3))
    updates = [n for n in notifs if n.event_type == 'service.update']
    assert len(updates) >= 4
    assert {n.payload['nova_object.data']['disabled'] for n in updates} == {True, False}
    state = {}
    for n in updates:
        data = n.payload['nova_object.data']
        assert n.publisher_id == 'nova-compute:' + data['host']
        assert data['binary'] == 'nova-compute'
        assert data['disabled'] != state.get(data['host'], False)      # a change
        assert data['disabled_reason'] == ('maintenance' if data['disabled'] else None)
        state[data['host']] = data['disabled']
    default = sum(n.event_type == 'service.update' for n in sim.simulate(N, seed=0))
    assert default < len(updates)
    # no nova-scheduler / nova-conductor chatter: only requests make controllers speak
    assert not any(n.publisher_id.startswith(('nova-scheduler:', 'nova-conductor:'))
                   and n.event_type == 'service.update' for n in notifs)


def test_mix_restricts_kinds():
    kinds = {n.exchange for n in sim.simulate(300, seed=1, mix={'keystone_auth': 1})}
    assert kinds == {'keystone', 'nova'}          # nova: periodic exists / update only


def test_versioned_and_legacy_nova(stream):
    legacy = [n for n in stream if n.event_type == 'compute.instance.create.end']
    versioned = [n for n in stream if n.event_type == 'instance.create.end']
    assert legacy and versioned
    p = legacy[0].payload
    for key in ('tenant_id', 'user_id', 'instance_id', 'display_name', 'memory_mb', 'disk_gb',
                'instance_type', 'state', 'image_ref_url', 'launched_at', 'created_at'):
        assert key in p
    assert legacy[0].publisher_id.startswith('compute.host-')
    v = versioned[0]
    assert v.topic == 'versioned_notifications'
    assert v.publisher_id.startswith('nova-compute:host-')
    assert v.payload['nova_object.namespace'] == 'nova'
    data = v.payload['nova_object.data']
    for key in ('uuid', 'tenant_id', 'user_id', 'host', 'state', 'task_state', 'flavor',
                'fault', 'request_id'):
        assert key in data
    assert data['flavor']['nova_object.name'] == 'FlavorPayload'
    assert data['request_id'] == v.context['request_id']
    assert {n.event_type for n in stream if n.event_type.startswith('instance.resize')} >= {
        'instance.resize_prep.start', 'instance.resize.end', 'instance.resize_finish.end'}


def test_error_notifications_carry_faults(stream):
    errors = [n for n in stream if n.priority == 'ERROR']
    assert errors
    for n in errors:
        assert _fault_of(n), n.event_type
    v_errors = [n for n in sim.simulate(N, seed=0, versioned_ratio=1.0, error_ratio=0.5)
                if n.priority == 'ERROR' and n.topic == 'versioned_notifications']
    assert v_errors
    for n in v_errors:
        fault = _fault_of(n)
        assert fault['nova_object.name'] == 'ExceptionPayload'
        assert fault['nova_object.data']['exception']
    legacy = next(n for n in stream if n.event_type == 'compute.instance.create.error')
    assert {'exception', 'message', 'code'} <= set(legacy.payload)


def _legacy_errors(notifs):
    return [n for n in notifs if n.priority == 'ERROR' and n.topic == 'notifications'
            and n.exchange in ('nova', 'cinder')]


def test_legacy_errors_carry_the_exception_repr():
    """As oslo.serialization's to_primitive writes an exception object: its repr."""
    errors = _legacy_errors(sim.simulate(N, seed=0, error_ratio=0.5, reschedule_ratio=0.5))
    shapes = collections.Counter()
    for n in errors:
        p = n.payload
        if n.event_type in ('compute_task.build_instances', 'scheduler.create_volume'):
            # set_vm_state_and_notify / cinder: reason=<exception>, no 'exception' key
            assert 'exception' not in p
            text = p['reason']
        elif 'args' in p:
            # wrap_exception: named after the method; the exception, and its arguments
            assert n.event_type in services.NOVA_COMPUTE_FUNCTIONS
            assert p['args']['instance']['uuid']
            text = p['exception']
            if isinstance(text, dict):
                shapes['classless'] += 1    # nova < 18: the exception's __dict__
                assert set(text) == {'kwargs'} and text['kwargs']['reason']
                continue
        else:
            assert n.event_type.startswith('compute.instance.')
            text = p['exception']
            assert p['message'] and isinstance(p['code'], int)
        if text.startswith('{'):
            shapes['nova'] += 1             # NovaException.__repr__
            assert "'class': '" in text and "'message': '" in text
        else:
            shapes['plain'] += 1            # BaseException.__repr__: Name('message')
            assert text.endswith(("')", '")')) and '(' in text
    assert shapes['nova'] and shapes['plain'] and shapes['classless']
    reasons = [n.payload['reason'] for n in errors
               if n.event_type == 'compute_task.build_instances']
    assert any("'class': 'NoValidHost_Remote'" in r for r in reasons)
    assert any(r.startswith('NoValidBackend(') for n in errors
               if n.event_type == 'scheduler.create_volume' for r in [n.payload['reason']])


def test_simulated_faults_normalise_to_class_names():
    from nvs_notif import notification
    names = collections.Counter()
    for n in sim.simulate(N, seed=0, error_ratio=0.5, reschedule_ratio=0.5):
        if n.priority != 'ERROR':
            continue
        fault = notification.normalize(json.loads(json.dumps(n.to_message()))).fault
        assert fault is not None, n.event_type
        if fault.exception is not None:
            names[fault.exception] += 1
    assert names['NoValidHost'] and names['NoValidBackend'] and names['libvirtError']
    for name in names:
        assert name.isidentifier() and not name.endswith('_Remote'), name


def test_no_valid_host_fails_the_scheduler_span():
    """simulated notifications -> normalize -> spans: a NoValidHost build leaves
    select_destinations without an .end, and the conductor's error fails it."""
    from nvs_notif import notification, spans
    notes = [notification.normalize(json.loads(json.dumps(n.to_message())))
             for n in sim.simulate(N, seed=0, error_ratio=0.5, hung_ratio=0.0)]
    merged = spans.merge_all([f for f in map(spans.fragment, notes) if f is not None])
    reported = [n for n in notes if n.event_type.startswith('compute_task.build_instances')
                and n.fault.exception == 'NoValidHost']
    assert {n.operation for n in reported} == {'scheduler.select_destinations'}
    legacy = [n for n in reported if n.event_type == 'compute_task.build_instances']
    assert legacy and len(legacy) < len(reported)           # both payload generations
    for n in reported:
        sched = merged[spans.span_id(n.request_id, 'scheduler.select_destinations')]
        assert sched.start is not None and sched.end is None
        assert sched.status == 'failure', sched
        assert sched.fault.exception == 'NoValidHost'


def test_reschedules_reuse_request_id():
    creates = collections.defaultdict(list)
    for n in sim.simulate(N, seed=0, reschedule_ratio=0.5):
        if n.event_type in ('compute.instance.create.start', 'instance.create.start',
                            'compute.instance.create.error', 'instance.create.error',
                            'compute.instance.create.end', 'instance.create.end'):
            creates[_rid(n)].append(n)
    rescheduled = {rid: ns for rid, ns in creates.items()
                   if sum(n.event_type.endswith('.start') for n in ns) > 1}
    assert len(rescheduled) >= 5
    for rid, ns in rescheduled.items():
        starts = [n for n in ns if n.event_type.endswith('.start')]
        hosts = [n.publisher_id.replace(':', '.').split('.')[-1] for n in starts]
        assert 2 <= len(hosts) <= 3
        assert len(set(hosts)) == len(hosts)          # a different host each attempt
        errors = [n for n in ns if n.event_type.endswith('.error')]
        assert len(errors) >= len(starts) - 1
        assert all(e.priority == 'ERROR' for e in errors)


def test_no_valid_host_closed_by_conductor():
    found = False
    for n in sim.simulate(N, seed=0, error_ratio=0.5):
        if n.event_type in ('compute_task.build_instances',
                            'compute_task.build_instances.error'):
            assert n.priority == 'ERROR'
            found = True
    assert found


def _open_starts(notifs, horizon):
    """Starts (older than ``horizon`` before the end of the stream) without end/error."""
    balance = collections.Counter()
    first_start = {}
    last = notifs[-1].timestamp
    for n in notifs:
        base, phase = _phase_base(n.event_type)
        if phase is None:
            continue
        key = (_rid(n), base)
        if phase == 'start':
            balance[key] += 1
            first_start.setdefault(key, n.timestamp)
        else:
            balance[key] -= 1
    return [k for k, v in balance.items()
            if v > 0 and last - first_start[k] > horizon]


def test_without_hangs_every_start_ends():
    notifs = list(sim.simulate(N, seed=0, rate=0.3, hung_ratio=0.0, error_ratio=0.0))
    assert notifs[-1].timestamp - notifs[0].timestamp > datetime.timedelta(minutes=15)
    assert _open_starts(notifs, datetime.timedelta(minutes=10)) == []


def test_hung_requests_never_end():
    notifs = list(sim.simulate(N, seed=0, rate=0.3, hung_ratio=0.2, error_ratio=0.0))
    hung = _open_starts(notifs, datetime.timedelta(minutes=10))
    assert len(hung) >= 5
    hung_rids = {rid for rid, _ in hung}

    def trace(n):
        return n.context.get('global_request_id') or _rid(n)

    # a hung request, and the whole trace it belongs to (sub-requests to other services
    # share its global_request_id), emits nothing after the start it hangs in
    hung_traces = {trace(n) for n in notifs if _rid(n) in hung_rids}
    last_event = {}
    for n in notifs:
        if trace(n) in hung_traces:
            last_event[trace(n)] = n.event_type
    assert last_event and all(e.endswith('.start') for e in last_event.values()), last_event


def test_flow_timestamps_increase(stream):
    last = {}
    for n in stream:
        rid = _rid(n)
        if rid is None:
            continue
        assert rid not in last or last[rid] <= n.timestamp
        last[rid] = n.timestamp


def test_global_request_id_links_services(stream):
    nova_rids = {_rid(n) for n in stream if n.exchange == 'nova'}
    linked = [n for n in stream if n.exchange in ('neutron', 'cinder', 'glance')
              and n.context.get('global_request_id') in nova_rids]
    assert {n.exchange for n in linked} == {'neutron', 'cinder', 'glance'}
    for n in linked:
        assert _rid(n) != n.context['global_request_id']
    heat_rids = {_rid(n) for n in stream if n.exchange == 'heat'}
    assert any(n.context.get('global_request_id') in heat_rids
               for n in stream if n.exchange == 'nova')


def test_keystone_cadf_shape(stream):
    auth = [n for n in stream if n.event_type == 'identity.authenticate']
    assert auth
    for n in auth:
        assert n.priority == 'INFO' and n.exchange == 'keystone'
        for key in ('typeURI', 'eventType', 'action', 'outcome', 'initiator', 'target',
                    'observer', 'id', 'eventTime'):
            assert key in n.payload
        assert n.payload['outcome'] in ('success', 'failure')


def test_secrets_present_for_redaction(stream):
    assert all(n.context.get('auth_token') for n in stream
               if n.exchange in ('nova', 'cinder', 'glance', 'neutron', 'heat')
               and n.context.get('user_id'))
    assert any('admin_password' in n.payload for n in stream)
    many = list(sim.simulate(N, seed=0, error_ratio=0.5,
                             mix={'keystone_auth': 1, 'heat_stack': 1}))
    assert any('password' in n.payload['initiator'].get('credential', {})
               for n in many if n.event_type == 'identity.authenticate')
    assert any(n.context.get('password') for n in many if n.exchange == 'heat')


def test_image_download_dominates_some_creates(stream):
    starts, shares = {}, []
    sends = {}
    for n in stream:
        if n.event_type == 'compute.instance.create.start':
            starts[_rid(n)] = n.timestamp
        elif n.event_type == 'image.send':
            sends[n.context['global_request_id']] = n.timestamp
        elif n.event_type == 'compute.instance.create.end' and _rid(n) in starts:
            rid = _rid(n)
            if rid in sends:
                total = (n.timestamp - starts[rid]).total_seconds()
                shares.append((sends[rid] - starts[rid]).total_seconds() / total)
    assert shares and max(shares) > 0.7


def test_failed_compute_operations_are_reported_as_nova_does():
    """snapshot, delete and rebuild failures end in nova's wrap_exception (legacy: the
    method's name; versioned: compute.exception), and none of them is left open."""
    from nvs_notif import notification, spans
    stream = [json.loads(json.dumps(n.to_message()))
              for n in sim.simulate(N, seed=3, error_ratio=0.5, hung_ratio=0.0)]
    notes = [notification.normalize(m) for m in stream]
    wrapped = [n for n in notes if n.event_type in services.NOVA_COMPUTE_FUNCTIONS
               or n.event_type == 'compute.exception']
    assert {n.operation for n in wrapped} == {
        'compute.instance.snapshot', 'compute.instance.delete', 'compute.instance.rebuild',
        'instance.snapshot', 'instance.delete', 'instance.rebuild'}
    merged = spans.merge_all(f for n in notes for f in spans.fragments(n))
    failed = {s.operation for s in merged.values() if s.status == 'failure'}
    assert {'compute.instance.snapshot', 'compute.instance.delete',
            'compute.instance.shutdown', 'instance.snapshot', 'instance.delete'} <= failed
    last = max(n.timestamp for n in notes)
    for s in merged.values():
        if s.operation.rpartition('.')[2] in ('snapshot', 'delete', 'rebuild', 'shutdown'):
            # open only if it began within the last few minutes of the stream
            assert s.status != 'open' or (last - s.start).total_seconds() < 600, s
