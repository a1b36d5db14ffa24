"""Every operator command answers exactly, from every store, after the real agent ingested a script.

One ``ceilometer-agent-notification`` subprocess publishes to a SQLite file and
an Elasticsearch and an OpenSearch prefix at once.  A scripted day of one tenant (creates,
resizes, deletes; a create rescheduled twice; one failing with NoValidHost;
one hung; a boot from volume crossing nova, neutron and cinder through the
global request id; one server of another tenant) is sent with oslo.messaging's
Notifier in legacy and versioned nova shapes, over two availability zones and
two flavors.  The Notifier stamps each message with ``timeutils.utcnow()``;
the script sets that clock per message (as ``oslo_utils`` tells tests to:
mock ``utcnow``), so every time, duration and rate below is exact.  Each
command runs in-process with ``-f json`` against the three stores; the outputs
must be identical and equal to the values written here from the script.
"""
import dataclasses
import datetime
from unittest import mock

from oslo_utils import timeutils

from tests.functional.cli import on_every_store
from tests.functional.support import store_url, wait_stored

T0 = datetime.datetime(2024, 3, 4, 10, 0, 0)     # naive UTC, as timeutils.utcnow() gives

PROJECT = '6f0e1c2b3a4d4e5f8a9b0c1d2e3f4a5b'
OTHER_PROJECT = '9a8b7c6d5e4f4a3b8c1d0e9f8a7b6c5d'
USER_A = 'e3a1b2c3d4e54f6a8b9c0d1e2f3a4b5c'      # creates the servers
USER_B = 'b0b1c2d3e4f54a6b8c9d0e1f2a3b4c5d'      # resizes and deletes them
OTHER_USER = '5d4c3b2a1f0e4d9c8b7a6f5e4d3c2b1a'

VM1 = '1f6c3a2e-0b1d-4c5e-8f9a-000000000001'     # created, resized, deleted
VM2 = '1f6c3a2e-0b1d-4c5e-8f9a-000000000002'     # rescheduled twice, deleted
VM3 = '1f6c3a2e-0b1d-4c5e-8f9a-000000000003'     # NoValidHost
VM4 = '1f6c3a2e-0b1d-4c5e-8f9a-000000000004'     # hung
VM5 = '1f6c3a2e-0b1d-4c5e-8f9a-000000000005'     # boot from volume
VM6 = '1f6c3a2e-0b1d-4c5e-8f9a-000000000006'     # the other tenant's
PORT_ID = '7a1e5c3b-2d4f-4e6a-9b8c-0d1e2f3a4b5c'
VOLUME_ID = '3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9'

BOOT1 = 'req-0d1a8f52-4c39-4e1b-9a67-1b2c3d4e5f01'
BOOT2 = 'req-0d1a8f52-4c39-4e1b-9a67-1b2c3d4e5f02'
NO_HOST = 'req-0d1a8f52-4c39-4e1b-9a67-1b2c3d4e5f03'
HUNG = 'req-0d1a8f52-4c39-4e1b-9a67-1b2c3d4e5f04'
BFV = 'req-0d1a8f52-4c39-4e1b-9a67-1b2c3d4e5f05'
PORT = 'req-6e2f9a31-7b48-4d5c-8e90-a1b2c3d4e5f6'          # neutron, for BFV
VOLUME = 'req-8c4d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e1f'        # cinder, for BFV
ATTACH = 'req-8c4d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e20'        # cinder, for BFV
RESIZE = 'req-2b7c9d1e-3f4a-4b5c-8d6e-7f8091a2b3c4'
CONFIRM = 'req-2b7c9d1e-3f4a-4b5c-8d6e-7f8091a2b3c5'
OTHER = 'req-4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8'
DELETE1 = 'req-5f6a7b8c-9d0e-4f1a-b2c3-d4e5f6a7b8c9'
DELETE2 = 'req-5f6a7b8c-9d0e-4f1a-b2c3-d4e5f6a7b8d0'

FLAVORS = {'m1.small': dict(id=2, flavorid='2', vcpus=1, memory_mb=2048, root_gb=20),
           'm1.large': dict(id=4, flavorid='4', vcpus=4, memory_mb=8192, root_gb=80)}
IMAGE = '8d2c1b0a-f9e8-4d7c-b6a5-f4e3d2c1b0a9'
RESCHEDULED = 'RescheduledException'


@dataclasses.dataclass(frozen=True)
class Step:
    """One notification of the script, and what it says about itself.

    ``host``, ``resource``, ``state`` and ``error`` are what the script puts
    in the message (publisher id, payload), so what history and ``--raw``
    must show.
    """
    t: float                    # seconds after T0: the Notifier's clock
    exchange: str               # the control exchange, also the service name
    publisher: str
    priority: str
    event_type: str
    payload: dict
    ctx: dict
    host: str
    resource: str | None = None
    state: str | None = None
    error: str | None = None


def at(seconds):
    """The time ``seconds`` after T0 as the commands print it."""
    return (T0 + datetime.timedelta(seconds=seconds)).replace(
        tzinfo=datetime.timezone.utc).isoformat()


def context(request_id, user=USER_A, project=PROJECT, global_request_id=None):
    return {'request_id': request_id, 'global_request_id': global_request_id,
            'project_id': project, 'user_id': user}


def nova_object(name, data, version='1.0'):
    return {'nova_object.name': name, 'nova_object.namespace': 'nova',
            'nova_object.version': version, 'nova_object.data': data}


def flavor_payload(name):
    f = FLAVORS[name]
    return nova_object('FlavorPayload', {
        'flavorid': f['flavorid'], 'name': name, 'memory_mb': f['memory_mb'],
        'vcpus': f['vcpus'], 'root_gb': f['root_gb'], 'ephemeral_gb': 0, 'swap': 0,
        'rxtx_factor': 1.0, 'disabled': False, 'is_public': True, 'vcpu_weight': 0,
        'extra_specs': {}, 'projects': None, 'description': None}, '1.4')


def exception_payload(exception, message, function, module):
    return nova_object('ExceptionPayload', {
        'exception': exception, 'exception_message': message, 'function_name': function,
        'module_name': module, 'traceback': 'Traceback (most recent call last): ...'}, '1.1')


def legacy_instance(t, host, event_type, request, vm, zone, flavor, state, user=USER_A,
                    project=PROJECT, **extra):
    """nova's unversioned compute.instance.* (topic notifications)."""
    f = FLAVORS[flavor]
    payload = {
        'tenant_id': project, 'user_id': user, 'instance_id': vm, 'display_name': 'vm',
        'hostname': 'vm', 'reservation_id': 'r-0a1b2c3d', 'instance_type': flavor,
        'instance_type_id': f['id'], 'instance_flavor_id': f['flavorid'],
        'memory_mb': f['memory_mb'], 'vcpus': f['vcpus'], 'root_gb': f['root_gb'],
        'ephemeral_gb': 0, 'disk_gb': f['root_gb'], 'host': host, 'node': host,
        'availability_zone': zone, 'architecture': 'x86_64', 'os_type': 'linux',
        'image_ref_url': 'http://glance:9292/images/' + IMAGE,
        'image_meta': {'base_image_ref': IMAGE, 'min_disk': '0', 'min_ram': '0'},
        'created_at': '2024-03-04 09:59:58+00:00', 'launched_at': '', 'terminated_at': '',
        'deleted_at': '', 'state': state, 'state_description': '', 'progress': '',
        'access_ip_v4': None, 'access_ip_v6': None, 'metadata': {}}
    payload.update(extra)
    return Step(t, 'nova', 'compute.' + host, 'INFO', event_type, payload,
                context(request, user, project), host, vm, state)


def versioned_instance(t, host, event_type, request, vm, zone, flavor, state, user=USER_A,
                       fault=None):
    """nova's versioned instance.* (topic versioned_notifications)."""
    name = 'InstanceCreatePayload' if event_type.startswith('instance.create') \
        else 'InstanceActionPayload'
    data = {
        'uuid': vm, 'display_name': 'vm', 'display_description': '', 'host_name': 'vm',
        'host': host, 'node': host, 'availability_zone': zone, 'architecture': 'x86_64',
        'os_type': None, 'kernel_id': '', 'ramdisk_id': '', 'image_uuid': IMAGE,
        'flavor': flavor_payload(flavor), 'tenant_id': PROJECT, 'user_id': user,
        'reservation_id': 'r-4e5f6a7b', 'key_name': None, 'state': state,
        'power_state': 'running' if state == 'active' else 'pending', 'task_state': None,
        'progress': 0, 'created_at': '2024-03-04T10:00:19Z', 'launched_at': None,
        'updated_at': None, 'terminated_at': None, 'deleted_at': None, 'metadata': {},
        'locked': False, 'auto_disk_config': 'MANUAL', 'ip_addresses': [],
        'action_initiator_user': user, 'action_initiator_project': PROJECT,
        'fault': fault}
    error = fault['nova_object.data']['exception'] if fault else None
    return Step(t, 'nova', 'nova-compute:' + host, 'ERROR' if fault else 'INFO', event_type,
                nova_object(name, data, '1.8'), context(request, user), host, vm, state, error)


def legacy_schedule(t, phase, request, vm, zone, flavor):
    """The scheduler's legacy select_destinations: a legacy request spec, no resource."""
    f = FLAVORS[flavor]
    payload = {'request_spec': {
        'num_instances': 1, 'instance_uuids': [vm],
        'image': {'id': IMAGE, 'disk_format': 'qcow2'},
        'instance_type': dict(f, name=flavor, ephemeral_gb=0),
        'instance_properties': {'uuid': vm, 'project_id': PROJECT, 'user_id': USER_A,
                                'availability_zone': zone, 'memory_mb': f['memory_mb'],
                                'vcpus': f['vcpus'], 'root_gb': f['root_gb']}}}
    return Step(t, 'nova', 'scheduler.ctl-1', 'INFO', 'scheduler.select_destinations.' + phase,
                payload, context(request), 'ctl-1')


def request_spec(vm, zone, flavor):
    return nova_object('RequestSpecPayload', {
        'instance_uuid': vm, 'project_id': PROJECT, 'user_id': USER_A,
        'availability_zone': zone, 'num_instances': 1, 'flavor': flavor_payload(flavor),
        'ignore_hosts': None, 'force_hosts': None, 'force_nodes': None,
        'scheduler_hints': {}, 'security_groups': ['default']}, '1.1')


def versioned_schedule(t, phase, request, vm, zone, flavor):
    """The scheduler's versioned select_destinations: names the instance."""
    return Step(t, 'nova', 'nova-scheduler:ctl-1', 'INFO',
                'scheduler.select_destinations.' + phase, request_spec(vm, zone, flavor),
                context(request), 'ctl-1', vm)


def no_valid_host(t, request, vm, zone, flavor):
    """The conductor's versioned compute_task.build_instances.error."""
    payload = nova_object('ComputeTaskPayload', {
        'instance_uuid': vm, 'state': 'error', 'request_spec': request_spec(vm, zone, flavor),
        'reason': exception_payload('NoValidHost', 'No valid host was found. There are not '
                                    'enough hosts available.', '_schedule_instances',
                                    'nova.conductor.manager')})
    return Step(t, 'nova', 'nova-conductor:ctl-1', 'ERROR', 'compute_task.build_instances.error',
                payload, context(request), 'ctl-1', vm, 'error', 'NoValidHost')


def port_create(t, phase, vm, host):
    """neutron's port.create for BFV: the request body at start, the port at end."""
    port = {'network_id': 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e', 'tenant_id': PROJECT,
            'device_id': vm, 'device_owner': 'compute:az-2', 'binding:host_id': host,
            'admin_state_up': True}
    if phase == 'end':
        port.update(id=PORT_ID, mac_address='fa:16:3e:11:22:33', status='DOWN',
                    fixed_ips=[{'subnet_id': 'c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f',
                                'ip_address': '10.0.0.23'}])
    return Step(t, 'neutron', 'network.ctl-1', 'INFO', 'port.create.' + phase, {'port': port},
                context(PORT, global_request_id=BFV), 'ctl-1',
                PORT_ID if phase == 'end' else None, 'DOWN' if phase == 'end' else None)


def cinder_volume(t, event_type, request, status):
    """cinder's legacy volume.* for BFV."""
    payload = {'tenant_id': PROJECT, 'user_id': USER_A, 'host': 'cinder-1@lvm#lvm',
               'availability_zone': 'az-2', 'volume_id': VOLUME_ID, 'volume_type': 'lvmdriver-1',
               'display_name': 'vm-boot', 'size': 20, 'status': status, 'snapshot_id': None,
               'created_at': '2024-03-04T10:01:14+00:00', 'metadata': [],
               'volume_attachment': []}
    return Step(t, 'cinder', 'volume.cinder-1', 'INFO', event_type, payload,
                context(request, global_request_id=BFV), 'cinder-1@lvm#lvm', VOLUME_ID, status)


def rescheduled(host):
    return exception_payload(RESCHEDULED, 'Build of instance %s was re-scheduled: Insufficient '
                             'compute resources on %s.' % (VM2, host),
                             '_do_build_and_run_instance', 'nova.compute.manager')


def script():
    """The whole day, in the order the clock says."""
    create, resize = 'compute.instance.create.', 'compute.instance.'
    steps = [
        # BOOT1: legacy, az-1, m1.small; the zone is unknown at create.start
        legacy_schedule(0, 'start', BOOT1, VM1, 'az-1', 'm1.small'),
        legacy_schedule(1, 'end', BOOT1, VM1, 'az-1', 'm1.small'),
        legacy_instance(2, 'host-1', create + 'start', BOOT1, VM1, None, 'm1.small', 'building'),
        legacy_instance(12, 'host-1', create + 'end', BOOT1, VM1, 'az-1', 'm1.small', 'active'),
        # BOOT2: versioned, az-2, m1.large; fails on host-4 and host-5, works on host-6
        versioned_schedule(20, 'start', BOOT2, VM2, 'az-2', 'm1.large'),
        versioned_schedule(20.5, 'end', BOOT2, VM2, 'az-2', 'm1.large'),
        versioned_instance(21, 'host-4', 'instance.create.start', BOOT2, VM2, None, 'm1.large',
                           'building'),
        versioned_instance(24, 'host-4', 'instance.create.error', BOOT2, VM2, 'az-2', 'm1.large',
                           'building', fault=rescheduled('host-4')),
        versioned_instance(26, 'host-5', 'instance.create.start', BOOT2, VM2, 'az-2', 'm1.large',
                           'building'),
        versioned_instance(29, 'host-5', 'instance.create.error', BOOT2, VM2, 'az-2', 'm1.large',
                           'building', fault=rescheduled('host-5')),
        versioned_instance(30, 'host-6', 'instance.create.start', BOOT2, VM2, 'az-2', 'm1.large',
                           'building'),
        versioned_instance(40, 'host-6', 'instance.create.end', BOOT2, VM2, 'az-2', 'm1.large',
                           'active'),
        # NO_HOST: the scheduler never ends; the conductor reports NoValidHost
        versioned_schedule(50, 'start', NO_HOST, VM3, 'az-2', 'm1.large'),
        no_valid_host(51, NO_HOST, VM3, 'az-2', 'm1.large'),
        # HUNG: create.start on host-2, then nothing
        legacy_schedule(60, 'start', HUNG, VM4, 'az-1', 'm1.small'),
        legacy_schedule(60.4, 'end', HUNG, VM4, 'az-1', 'm1.small'),
        legacy_instance(61, 'host-2', create + 'start', HUNG, VM4, 'az-1', 'm1.small', 'building'),
        # BFV: nova's request id is the global id of neutron's and cinder's requests
        legacy_schedule(70, 'start', BFV, VM5, 'az-2', 'm1.small'),
        legacy_schedule(70.5, 'end', BFV, VM5, 'az-2', 'm1.small'),
        legacy_instance(71, 'host-4', create + 'start', BFV, VM5, 'az-2', 'm1.small', 'building'),
        port_create(72, 'start', VM5, 'host-4'),
        port_create(73, 'end', VM5, 'host-4'),
        cinder_volume(74, 'volume.create.start', VOLUME, 'creating'),
        cinder_volume(80, 'volume.create.end', VOLUME, 'available'),
        cinder_volume(81, 'volume.attach.start', ATTACH, 'attaching'),
        cinder_volume(82, 'volume.attach.end', ATTACH, 'in-use'),
        legacy_instance(90, 'host-4', create + 'end', BFV, VM5, 'az-2', 'm1.small', 'active'),
        # RESIZE of VM1 to m1.large (host-1 -> host-2), then CONFIRM, by USER_B
        legacy_instance(100, 'host-2', resize + 'resize.prep.start', RESIZE, VM1, 'az-1',
                        'm1.small', 'active', USER_B, new_instance_type='m1.large'),
        legacy_instance(101, 'host-2', resize + 'resize.prep.end', RESIZE, VM1, 'az-1',
                        'm1.small', 'active', USER_B, new_instance_type='m1.large'),
        legacy_instance(102, 'host-1', resize + 'resize.start', RESIZE, VM1, 'az-1', 'm1.small',
                        'active', USER_B),
        legacy_instance(110, 'host-1', resize + 'resize.end', RESIZE, VM1, 'az-1', 'm1.small',
                        'active', USER_B),
        legacy_instance(111, 'host-2', resize + 'finish_resize.start', RESIZE, VM1, 'az-1',
                        'm1.large', 'active', USER_B),
        legacy_instance(115, 'host-2', resize + 'finish_resize.end', RESIZE, VM1, 'az-1',
                        'm1.large', 'resized', USER_B),
        legacy_instance(130, 'host-1', resize + 'resize.confirm.start', CONFIRM, VM1, 'az-1',
                        'm1.large', 'resized', USER_B),
        legacy_instance(132, 'host-1', resize + 'resize.confirm.end', CONFIRM, VM1, 'az-1',
                        'm1.large', 'active', USER_B),
        # OTHER: another tenant's server, az-1, m1.large
        legacy_instance(140, 'host-3', create + 'start', OTHER, VM6, 'az-1', 'm1.large',
                        'building', OTHER_USER, OTHER_PROJECT),
        legacy_instance(147, 'host-3', create + 'end', OTHER, VM6, 'az-1', 'm1.large',
                        'active', OTHER_USER, OTHER_PROJECT),
        # deletes by USER_B: VM1 (legacy), VM2 (versioned)
        legacy_instance(200, 'host-1', resize + 'delete.start', DELETE1, VM1, 'az-1', 'm1.large',
                        'active', USER_B),
        legacy_instance(203, 'host-1', resize + 'delete.end', DELETE1, VM1, 'az-1', 'm1.large',
                        'deleted', USER_B),
        versioned_instance(210, 'host-6', 'instance.delete.start', DELETE2, VM2, 'az-2',
                           'm1.large', 'active', USER_B),
        versioned_instance(212, 'host-6', 'instance.delete.end', DELETE2, VM2, 'az-2',
                           'm1.large', 'deleted', USER_B),
    ]
    assert [s.t for s in steps] == sorted(set(s.t for s in steps)), 'times: distinct, in order'
    return steps


STEPS = script()
SPANS = 19     # the conductor's NoValidHost fails the scheduler's span, makes none


def send(sender, step):
    """Send one step with the Notifier's clock at its time."""
    when = T0 + datetime.timedelta(seconds=step.t)
    with mock.patch.object(timeutils, 'utcnow', return_value=when):
        sender.send(step.exchange, step.publisher, step.priority, step.event_type,
                    step.payload, step.ctx)


# --- expected rows: what the script says, in each command's columns ------------

def history_rows(steps):
    return [{'timestamp': at(s.t), 'event_type': s.event_type, 'priority': s.priority.lower(),
             'service': s.exchange, 'host': s.host, 'request_id': s.ctx['request_id'],
             'resource_id': s.resource, 'state': s.state, 'error': s.error}
            for s in sorted(steps, key=lambda s: s.t, reverse=True)]


def raw_rows(requests):
    return [{'event_type': s.event_type, 'timestamp': at(s.t), 'host': s.host,
             'priority': s.priority.lower(), 'error': s.error, 'request': s.ctx['request_id']}
            for s in STEPS if s.ctx['request_id'] in requests]


TRACE = ('step', 'service', 'hosts', 'start', 'duration', 'attempts', 'outcome', 'error',
         'request')
SLA = ('operation', 'group', 'count', 'success %', 'failures', 'avg (s)', 'p50 (s)', 'p95 (s)',
       'p99 (s)', 'max (s)', 'mean attempts', 'reschedules')


def rows(columns, *values):
    return [dict(zip(columns, v)) for v in values]


def sla_rows(*values):
    """SLA rows; a single duration stands for avg, p50, p95, p99 and max alike."""
    full = []
    for v in values:
        if len(v) == 7:
            op, group, count, success, failures, seconds, attempts = v
            v = (op, group, count, success, failures) + (seconds,) * 5 + (attempts, 0)
        full.append(v)
    return rows(SLA, *full)


def one_row(group, operation, seconds):
    """A single successful first-attempt span of ``operation``."""
    return (operation, group, 1, 100.0, '', seconds, 1.0)


RESCHEDULED_CREATE = ('instance.create', 'az-2', 1, 100.0, '', 19.0, 19.0, 19.0, 19.0, 19.0,
                      3.0, 1)


def in_group(group, value):
    return (value[0], group) + tuple(value[2:])


# --- the test ----------------------------------------------------------------------

def test_operator_commands_after_the_agent_ingested_a_scripted_day(
        agent_factory, sender, es_prefix, tmp_path):
    urls = {'sqlite': 'sqlite:///%s' % (tmp_path / 'nvs.db'),
            'elasticsearch': store_url('elasticsearch', es_prefix),
            'opensearch': store_url('opensearch', es_prefix)}
    agent = agent_factory(list(urls.values()), batch_size=10)
    for step in STEPS:
        send(sender, step)
    wait_stored(urls, len(STEPS), SPANS)
    assert agent.proc.poll() is None and agent.tracebacks() == []

    check_trace(urls)
    check_history(urls)
    check_sla(urls)
    check_errors(urls)
    check_stuck(urls)
    check_hosts(urls)


LATER = at(1900)        # the hung create has been open 1839 s: past its 1800 s limit


def check_trace(urls):
    assert on_every_store(urls, 'trace', BOOT2, '--now', LATER) == rows(
        TRACE,
        ('scheduler.select_destinations', 'nova', 'ctl-1', at(20), 0.5, 1, 'success', '-', BOOT2),
        ('instance.create', 'nova', 'host-4,host-5,host-6', at(21), 19.0, 3, 'success',
         'retried after RescheduledException', BOOT2))
    # nova, then what neutron and cinder did for it: one tree, from any of its ids
    bfv = rows(
        TRACE,
        ('scheduler.select_destinations', 'nova', 'ctl-1', at(70), 0.5, 1, 'success', '-', BFV),
        ('compute.instance.create', 'nova', 'host-4', at(71), 19.0, 1, 'success', '-', BFV),
        ('  port.create', 'neutron', 'ctl-1', at(72), 1.0, 1, 'success', '-', PORT),
        ('  volume.create', 'cinder', 'cinder-1@lvm#lvm', at(74), 6.0, 1, 'success', '-', VOLUME),
        ('  volume.attach', 'cinder', 'cinder-1@lvm#lvm', at(81), 1.0, 1, 'success', '-', ATTACH))
    assert on_every_store(urls, 'trace', BFV, '--now', LATER) == bfv
    assert on_every_store(urls, 'trace', VOLUME, '--now', LATER) == bfv
    raw = on_every_store(urls, 'trace', BFV, '--raw')
    assert raw == raw_rows({BFV, PORT, VOLUME, ATTACH}) and len(raw) == 10
    assert on_every_store(urls, 'trace', NO_HOST, '--now', LATER) == rows(
        TRACE,
        ('scheduler.select_destinations', 'nova', 'ctl-1', at(50), 1.0, 1, 'failure',
         'NoValidHost', NO_HOST))
    hung = [('scheduler.select_destinations', 'nova', 'ctl-1', at(60), 0.4, 1, 'success', '-',
             HUNG),
            ('compute.instance.create', 'nova', 'host-2', at(61), None, 1, 'timeout', '-', HUNG)]
    assert on_every_store(urls, 'trace', HUNG, '--now', LATER) == rows(TRACE, *hung)
    hung[1] = hung[1][:6] + ('in_progress',) + hung[1][7:]
    assert on_every_store(urls, 'trace', HUNG, '--now', at(300)) == rows(TRACE, *hung)
    assert on_every_store(urls, 'trace', RESIZE, '--now', LATER) == rows(
        TRACE,
        ('compute.instance.resize.prep', 'nova', 'host-2', at(100), 1.0, 1, 'success', '-',
         RESIZE),
        ('compute.instance.resize', 'nova', 'host-1', at(102), 8.0, 1, 'success', '-', RESIZE),
        ('compute.instance.finish_resize', 'nova', 'host-2', at(111), 4.0, 1, 'success', '-',
         RESIZE))


def check_history(urls):
    mine = [s for s in STEPS if s.ctx['project_id'] == PROJECT]
    assert on_every_store(urls, 'history', '--project', PROJECT) == history_rows(mine)
    assert len(mine) == 39
    assert on_every_store(urls, 'history', '--user', USER_B) == history_rows(
        [s for s in STEPS if s.ctx['user_id'] == USER_B])
    vm1 = on_every_store(urls, 'history', '--resource', VM1)
    assert vm1 == history_rows([s for s in STEPS if s.resource == VM1])
    assert [r['event_type'].rpartition('compute.instance.')[2] for r in vm1] == [
        'delete.end', 'delete.start', 'resize.confirm.end', 'resize.confirm.start',
        'finish_resize.end', 'finish_resize.start', 'resize.end', 'resize.start',
        'resize.prep.end', 'resize.prep.start', 'create.end', 'create.start']
    # the other tenant's create (140, 147) is inside the window, not in the project
    window = on_every_store(urls, 'history', '--project', PROJECT, '--since', at(100), '--until', at(150))
    assert window == history_rows([s for s in mine if 100 <= s.t <= 150])
    assert [r['request_id'] for r in window] == [CONFIRM] * 2 + [RESIZE] * 6
    assert on_every_store(urls, 'history', '--project', PROJECT, '--limit', '3') == history_rows(mine)[:3]


def check_sla(urls):
    single = [('compute.instance.delete', 3.0), ('compute.instance.finish_resize', 4.0),
              ('compute.instance.resize', 8.0), ('compute.instance.resize.confirm', 2.0),
              ('compute.instance.resize.prep', 1.0)]
    assert on_every_store(urls, 'sla') == sla_rows(
        ('compute.instance.create', '-', 4, 75.0, '', 12.0, 10.0, 19.0, 19.0, 19.0, 1.0, 0),
        *[one_row('-', op, seconds) for op, seconds in single],
        in_group('-', RESCHEDULED_CREATE),
        one_row('-', 'instance.delete', 2.0), one_row('-', 'port.create', 1.0),
        ('scheduler.select_destinations', '-', 5, 80.0, 'NoValidHost:1', 0.68, 0.5, 1.0, 1.0,
         1.0, 1.0, 0),
        one_row('-', 'volume.attach', 1.0), one_row('-', 'volume.create', 6.0))

    assert on_every_store(urls, 'sla', '--group-by', 'availability_zone') == sla_rows(
        ('compute.instance.create', 'az-1', 3, 66.7, '', 8.5, 7.0, 10.0, 10.0, 10.0, 1.0, 0),
        one_row('az-2', 'compute.instance.create', 19.0),
        *[one_row('az-1', op, seconds) for op, seconds in single],
        RESCHEDULED_CREATE,
        one_row('az-2', 'instance.delete', 2.0),
        one_row('-', 'port.create', 1.0),                   # neutron names no zone
        ('scheduler.select_destinations', 'az-1', 2, 100.0, '', 0.7, 0.4, 1.0, 1.0, 1.0, 1.0, 0),
        ('scheduler.select_destinations', 'az-2', 3, 66.7, 'NoValidHost:1', 0.667, 0.5, 1.0,
         1.0, 1.0, 1.0, 0),
        one_row('az-2', 'volume.attach', 1.0), one_row('az-2', 'volume.create', 6.0))

    # the resize changes VM1's flavor: prep and resize on m1.small, the rest m1.large
    assert on_every_store(urls, 'sla', '--group-by', 'flavor', '--operation', 'compute') == sla_rows(
        one_row('m1.large', 'compute.instance.create', 7.0),
        ('compute.instance.create', 'm1.small', 3, 66.7, '', 14.5, 10.0, 19.0, 19.0, 19.0,
         1.0, 0),
        one_row('m1.large', 'compute.instance.delete', 3.0),
        one_row('m1.large', 'compute.instance.finish_resize', 4.0),
        one_row('m1.small', 'compute.instance.resize', 8.0),
        one_row('m1.large', 'compute.instance.resize.confirm', 2.0),
        one_row('m1.small', 'compute.instance.resize.prep', 1.0))

    assert on_every_store(urls, 'sla', '--operation', 'compute.instance.resize') == sla_rows(
        one_row('-', 'compute.instance.resize', 8.0),
        one_row('-', 'compute.instance.resize.confirm', 2.0),
        one_row('-', 'compute.instance.resize.prep', 1.0))
    assert on_every_store(urls, 'sla', '--operation', 'instance.', '--group-by', 'flavor') == sla_rows(
        in_group('m1.large', RESCHEDULED_CREATE), one_row('m1.large', 'instance.delete', 2.0))

    # creates (10 + 19 + 7 s; the hung one has no duration) and the steps of their
    # requests (not of the hung one's: its 0.4 s scheduling is no share of the others')
    assert on_every_store(urls, 'sla', '--breakdown', 'compute.instance.create') == rows(
        ('operation', 'service', 'requests', 'spans', 'total (s)', 'share %'),
        ('compute.instance.create', 'nova', 4, 3, 36.0, 100.0),
        ('  volume.create', 'cinder', 1, 1, 6.0, 16.7),
        ('  scheduler.select_destinations', 'nova', 2, 2, 1.5, 4.2),
        ('  port.create', 'neutron', 1, 1, 1.0, 2.8),
        ('  volume.attach', 'cinder', 1, 1, 1.0, 2.8))


def check_errors(urls):
    errors = ('source', 'host', 'service', 'exception', 'count', 'first seen', 'last seen')
    # one NoValidHost request: one failed span (the scheduler's), one error notification
    span = ('span', 'ctl-1', 'nova', 'NoValidHost', 1, at(51), at(51))
    conductor = ('notification', 'ctl-1', 'nova', 'NoValidHost', 1, at(51), at(51))
    host5 = ('notification', 'host-5', 'nova', RESCHEDULED, 1, at(29), at(29))
    assert on_every_store(urls, 'errors') == rows(
        errors, conductor,
        ('notification', 'host-4', 'nova', RESCHEDULED, 1, at(24), at(24)), host5, span)
    assert on_every_store(urls, 'errors', '--since', at(25), '--until', at(60)) == rows(
        errors, conductor, host5, span)
    assert on_every_store(urls, 'errors', '--top', '1') == rows(errors, conductor)


def check_stuck(urls):
    # open 1800 s at 1861: not yet past the create limit; nothing else is open
    assert on_every_store(urls, 'stuck', '--now', at(1861)) == []
    assert on_every_store(urls, 'stuck', '--now', LATER) == rows(
        ('request_id', 'operation', 'host', 'project', 'started', 'open for (s)', 'limit (s)'),
        (HUNG, 'compute.instance.create', 'host-2', PROJECT, at(61), 1839.0, 1800.0))
    assert on_every_store(urls, 'stuck', '--now', LATER, '--operation', 'instance.') == []


def check_hosts(urls):
    # 4 minutes: per minute = notifications / 4; silent = not seen after 180 s
    assert on_every_store(urls, 'hosts', '--now', at(240), '--since', '4m', '--silent-after', '60s') == rows(
        ('host', 'service', 'notifications', 'per minute', 'last seen', 'errors', 'error %',
         'silent'),
        ('cinder-1@lvm#lvm', 'cinder', 4, 1.0, at(82), 0, 0.0, 'yes'),
        ('ctl-1', 'neutron', 2, 0.5, at(73), 0, 0.0, 'yes'),
        ('ctl-1', 'nova', 10, 2.5, at(70.5), 1, 10.0, 'yes'),
        ('host-1', 'nova', 8, 2.0, at(203), 0, 0.0, 'no'),
        ('host-2', 'nova', 5, 1.25, at(115), 0, 0.0, 'yes'),
        ('host-3', 'nova', 2, 0.5, at(147), 0, 0.0, 'yes'),
        ('host-4', 'nova', 4, 1.0, at(90), 1, 25.0, 'yes'),
        ('host-5', 'nova', 2, 0.5, at(29), 1, 50.0, 'yes'),
        ('host-6', 'nova', 4, 1.0, at(212), 0, 0.0, 'no'))
    # a window after the script: every row is gone
    assert on_every_store(urls, 'hosts', '--now', at(900), '--since', at(300)) == []
