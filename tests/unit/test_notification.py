"""Tests for nvs_notif.notification.normalize over every message form and shape."""
import copy
import datetime
import json
import pathlib

import pytest

from nvs_notif import spans
from nvs_notif.notification import (Fault, InvalidNotification, Notification,
                                    PHASES, PRIORITIES, normalize)

try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover - the property test is optional
    given = None

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'notifications'
UTC = datetime.timezone.utc
PROJ = 'a0d3c9e1f25b4c7d8e9f0a1b2c3d4e5f'
USER = 'b1e4dafc36c94e1f8a2b3c4d5e6f7a8b'
REQ = 'req-7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f'
GREQ = 'req-0f9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c'
VREQ = 'req-22222222-3333-4444-8555-666666666666'
INST = '5f1c2e3a-6b7d-4e8f-9a0b-1c2d3e4f5a6b'
VINST = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e'
VOL = 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a'
IMG = 'e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7a8b'
PORT = 'f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b9c'
NET = 'a7b8c9d0-e1f2-4a3b-9c4d-5e6f7a8b9c0d'
STACK = 'b8c9d0e1-f2a3-4b4c-8d5e-6f7a8b9c0d1e'
NODE = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123'
SHARE = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d'
CLUSTER = '7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f'


def load(name):
    with open(FIXTURES / (name + '.json')) as f:
        return json.load(f)


def ts(*args):
    return datetime.datetime(*args, tzinfo=UTC)


# fixture -> (priority argument, expected fields)
EXPECTED = {
    'legacy_nova_compute_instance_create_start': (None, dict(
        service='nova', host='node-7', operation='compute.instance.create', phase='start',
        priority='info', timestamp=ts(2024, 5, 6, 9, 10, 12, 345678), request_id=REQ,
        global_request_id=GREQ, project_id=PROJ, user_id=USER, resource_type='instance',
        resource_id=INST, state='building', fault=None)),
    'legacy_nova_compute_instance_create_end': (None, dict(
        service='nova', host='node-7', operation='compute.instance.create', phase='end',
        resource_id=INST, state='active', fault=None)),
    'legacy_nova_compute_instance_create_error': (None, dict(
        service='nova', phase='error', priority='error', resource_id=INST, state='error',
        fault=Fault(message='Build of instance %s was re-scheduled: No valid host' % INST,
                    code=500))),
    # nova.compute.utils.exception_to_dict: the exception object, serialised to its repr
    # (NovaException.__repr__: str of its __dict__ with 'class')
    'legacy_nova_compute_instance_create_error_exception_repr': (None, dict(
        service='nova', host='node-7', phase='error', priority='error', resource_id=INST,
        fault=Fault(exception='PortBindingFailed',
                    message='Binding failed for port %s, please check neutron logs for more '
                            'information.' % PORT, code=400))),
    # nova.scheduler.utils.set_vm_state_and_notify from the conductor: reason=<exception>,
    # NoValidHost re-raised from the scheduler's RPC reply (oslo.messaging's *_Remote)
    'legacy_nova_compute_task_build_instances_error': (None, dict(
        service='nova', host='ctl-1', operation='scheduler.select_destinations', phase='error',
        priority='error', request_id=REQ, resource_type='instance', resource_id=INST,
        state='error', flavor='m1.small',
        fault=Fault(exception='NoValidHost',
                    message='No valid host was found. There are not enough hosts available.',
                    code=500))),
    'legacy_nova_scheduler_select_destinations_start': (None, dict(
        service='nova', host='ctl-1', operation='scheduler.select_destinations', phase='start',
        request_id=REQ, flavor='m1.small', fault=None)),
    # nova.exception_wrapper: {'exception': <exception>, 'args': ...}, a non-nova exception
    'legacy_nova_wrap_exception_repr': (None, dict(
        service='nova', host='node-2', operation='compute.instance.create', phase='error',
        priority='error',
        fault=Fault(exception='MessagingTimeout',
                    message='Timed out waiting for a reply to message ID '
                            '3f4a5b6c7d8e4f9a8b0c1d2e3f4a5b6c'))),
    'legacy_nova_compute_instance_resize_confirm_start': (None, dict(
        service='nova', host='node-3.dc1.example.com',
        operation='compute.instance.resize.confirm', phase='start',
        timestamp=ts(2024, 5, 7, 14, 1, 29), request_id=None, project_id=PROJ, user_id=USER,
        resource_type='instance', resource_id='6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0',
        state='resized')),
    'legacy_nova_compute_instance_exists': (None, dict(
        service='nova', operation='compute.instance.exists', phase='none',
        timestamp=ts(2024, 5, 8, 0, 0, 5, 120000),
        request_id='req-11111111-2222-4333-8444-555555555555', project_id=PROJ,
        resource_id=INST, state='active', fault=None)),
    'legacy_nova_wrap_exception': (None, dict(
        service='nova', host='node-2', operation='attach_volume', phase='error',
        priority='error',
        fault=Fault(message='Invalid volume: v-1 is in use', code=400))),
    'versioned_nova_instance_create_start': (None, dict(
        service='nova', host='node-9', operation='instance.create', phase='start',
        request_id=VREQ, resource_type='instance', resource_id=VINST, state='building',
        fault=None)),
    'versioned_nova_instance_create_end': (None, dict(
        operation='instance.create', phase='end', timestamp=ts(2024, 5, 10, 11, 0, 31, 500000),
        resource_id=VINST, state='active', fault=None)),
    'versioned_nova_instance_create_error': (None, dict(
        operation='instance.create', phase='error', priority='error',
        timestamp=ts(2024, 5, 10, 11, 0, 5), resource_id=VINST,
        fault=Fault(exception='FlavorDiskTooSmall',
                    message="The flavor's disk is too small for the requested image.",
                    function='_build_resources'))),
    'versioned_nova_instance_resize_prep_start': (None, dict(
        operation='instance.resize_prep', phase='start',
        timestamp=ts(2024, 5, 11, 8, 30, 0, 250000), resource_id=VINST, state='active')),
    'versioned_nova_service_update': (None, dict(
        service='nova', host='node-9', operation='service.update', phase='none',
        request_id=None, project_id=None, resource_type='service',
        resource_id='c2d3e4f5-a6b7-4c8d-9e0f-a1b2c3d4e5f6', fault=None)),
    'versioned_nova_compute_task_build_instances_error': (None, dict(
        service='nova', host='ctl-1', operation='scheduler.select_destinations',
        phase='error', resource_type='instance', resource_id=VINST, state='error',
        fault=Fault(exception='NoValidHost',
                    message='No valid host was found. There are not enough hosts available.',
                    function='_schedule_instances'))),
    'cinder_volume_create_start': (None, dict(
        service='cinder', host='ctl-1@lvmdriver-1#lvmdriver-1', operation='volume.create', phase='start',
        resource_type='volume', resource_id=VOL, state='creating', project_id=PROJ)),
    'cinder_volume_create_end': (None, dict(
        service='cinder', phase='end', resource_id=VOL, state='available')),
    'cinder_volume_attach_start': (None, dict(
        service='cinder', operation='volume.attach', phase='start', resource_id=VOL,
        state='attaching')),
    'cinder_volume_attach_end': (None, dict(
        service='cinder', operation='volume.attach', phase='end', resource_id=VOL,
        state='in-use')),
    'cinder_scheduler_create_volume_error': (None, dict(
        service='cinder', operation='volume.create', phase='error',
        priority='error', resource_type='volume', resource_id=VOL, state='error',
        fault=Fault(message='No valid backend was found. No weighed backends available'))),
    # cinder ScheduleCreateVolumeTask._notify_failure: reason=<exception> (plain repr)
    'cinder_scheduler_create_volume_error_reason_repr': (None, dict(
        service='cinder', operation='volume.create', phase='error',
        priority='error', resource_type='volume', resource_id=VOL, state='error',
        fault=Fault(exception='NoValidBackend',
                    message='No valid backend was found. No weighed backends available'))),
    'glance_image_upload': (None, dict(
        service='glance', host='localhost', operation='image.upload', phase='none',
        request_id='req-33333333-4444-4555-8666-777777777777', project_id=PROJ, user_id=None,
        resource_type='image', resource_id=IMG, state='active')),
    'glance_image_delete': (None, dict(
        service='glance', operation='image.delete', phase='none',
        request_id='req-44444444-5555-4666-8777-888888888888', project_id=PROJ,
        user_id=USER, resource_type='image', resource_id=IMG, state='deleted')),
    'neutron_port_create_end': (None, dict(
        service='neutron', host='ctl-1', operation='port.create', phase='end',
        resource_type='port', resource_id=PORT, state='DOWN')),
    'neutron_port_delete_end': (None, dict(
        service='neutron', operation='port.delete', phase='end', resource_type='port',
        resource_id=PORT, state=None)),
    'neutron_network_create_end': (None, dict(
        service='neutron', operation='network.create', phase='end',
        resource_type='network', resource_id=NET, state='ACTIVE')),
    'keystone_cadf_identity_project_created': (None, dict(
        service='keystone', host='ctl', operation='identity.project.created', phase='none',
        request_id='req-55555555-6666-4777-8888-999999999999', project_id='admin-project-id',
        user_id=USER, resource_type='project',
        resource_id='9f8e7d6c5b4a49382716a5b4c3d2e1f0', state='success', fault=None)),
    'keystone_cadf_identity_authenticate_success': (None, dict(
        service='keystone', operation='identity.authenticate', phase='none',
        user_id=USER, resource_type='user', resource_id=USER, state='success', fault=None)),
    'keystone_cadf_identity_authenticate_failure': (None, dict(
        service='keystone', resource_type='user', resource_id=USER, state='failure',
        fault=Fault(exception='Unauthorized', code=401))),
    'keystone_basic_identity_user_updated': (None, dict(
        service='keystone', operation='identity.user.updated', phase='none',
        resource_type='user', resource_id=USER)),
    'heat_orchestration_stack_create_start': (None, dict(
        service='heat', host='ctl-1', operation='orchestration.stack.create', phase='start',
        resource_type='stack', resource_id=STACK, state='CREATE_IN_PROGRESS', fault=None)),
    'heat_orchestration_stack_create_end': (None, dict(
        service='heat', phase='end', resource_id=STACK, state='CREATE_COMPLETE', fault=None)),
    'heat_orchestration_stack_create_error': (None, dict(
        service='heat', phase='error', priority='error', resource_id=STACK,
        state='CREATE_FAILED',
        fault=Fault(message='Resource CREATE failed: ResourceInError: resources.server: '
                            'Went to status ERROR due to "Message: No valid host was '
                            'found. , Code: 500"'))),
    # ironic: versioned (ironic_object.*), publisher 'ironic-conductor.<host>';
    # a provisioning is named after the state it aims at (services.PER_TARGET_OPERATIONS)
    'ironic_baremetal_node_provision_set_start': (None, dict(
        service='ironic', host='cond-1', operation='baremetal.node.provision_set.active',
        phase='start', request_id='req-6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d',
        # nova's service project called; the node is leased to the tenant
        project_id=PROJ, user_id='d4e5f6a7b8c94d0e9f1a2b3c4d5e6f7a', resource_type='node',
        resource_id=NODE, state='deploying', fault=None)),
    'ironic_baremetal_node_provision_set_end': (None, dict(
        service='ironic', host='cond-1', operation='baremetal.node.provision_set.active',
        phase='end', request_id='req-7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e',
        project_id=PROJ, user_id=None, resource_type='node', resource_id=NODE,
        state='active', fault=None)),
    'ironic_baremetal_node_provision_set_error': (None, dict(
        service='ironic', operation='baremetal.node.provision_set.active', phase='error',
        priority='error', resource_id=NODE, state='deploy failed',
        fault=Fault(message='Timeout reached while waiting for callback for node %s'
                            % NODE))),
    # octavia: no publisher id; the provider dict carries no status
    'octavia_loadbalancer_create_end': (None, dict(
        service='octavia', host=None, operation='octavia.loadbalancer.create', phase='end',
        project_id=PROJ, resource_type='loadbalancer',
        resource_id='3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b', state=None,
        availability_zone='az-2', flavor=None)),
    'designate_dns_zone_create': (None, dict(
        service='designate', host='ctl-1', operation='dns.zone.create', phase='none',
        project_id=PROJ, resource_type='zone',
        resource_id='4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c', state='PENDING')),
    'manila_share_create_start': (None, dict(
        service='manila', host='ctl-1@generic#pool0', operation='share.create',
        phase='start', project_id=PROJ, user_id=USER, resource_type='share',
        resource_id=SHARE, state='creating', availability_zone='nova')),
    'manila_share_create_end': (None, dict(
        service='manila', operation='share.create', phase='end', resource_id=SHARE,
        state='available')),
    # manila's scheduler could not place the share: the create's failure
    'manila_scheduler_create_share_error': (None, dict(
        service='manila', host='ctl-1', operation='share.create', phase='error',
        priority='error', resource_type='share', resource_id=SHARE,
        fault=Fault(exception='NoValidHost',
                    message='No valid host was found. Failed to find a weighted host, '
                            'the last executed filter was CapacityFilter.'))),
    # magnum: pycadf activities, the outcome is the phase
    'magnum_cluster_create_pending': (None, dict(
        service='magnum', host='ctl-1', operation='magnum.cluster.create', phase='start',
        project_id=PROJ, user_id=USER, resource_type='cluster', resource_id=CLUSTER,
        state='pending', fault=None)),
    'magnum_cluster_create_success': (None, dict(
        service='magnum', host='ctl-1', operation='magnum.cluster.create', phase='end',
        project_id=None, user_id=None, resource_type='cluster', resource_id=CLUSTER,
        state='success', fault=None)),
    'wire_v2_envelope_compute_instance_delete_start': (None, dict(
        message_id='a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', service='nova', host='node-7',
        operation='compute.instance.delete', phase='start', request_id=REQ,
        global_request_id=GREQ, project_id=PROJ, user_id=USER, resource_id=INST)),
    'dispatched_nova_instance_create_end': ('info', dict(
        message_id='b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e', publisher_id='nova-compute:node-9',
        timestamp=ts(2024, 5, 10, 11, 0, 31, 500000), service='nova', host='node-9',
        operation='instance.create', phase='end', priority='info', request_id=VREQ,
        global_request_id=GREQ, project_id=PROJ, user_id=USER, resource_type='instance',
        resource_id=VINST, state='active')),
}


def test_every_fixture_has_expectations():
    assert sorted(p.stem for p in FIXTURES.glob('*.json')) == sorted(EXPECTED)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_fixture(name):
    priority, expected = EXPECTED[name]
    message = load(name)
    before = copy.deepcopy(message)
    n = normalize(message, priority)
    assert isinstance(n, Notification)
    for field, value in expected.items():
        assert getattr(n, field) == value, field
    assert n.phase in PHASES and n.priority in PRIORITIES
    assert n.timestamp.tzinfo is UTC
    assert isinstance(n.payload, dict)
    assert message == before, 'normalize must not mutate its input'


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_context_secrets_are_not_copied(name):
    priority, _ = EXPECTED[name]
    n = normalize(load(name), priority)
    text = repr(n)
    for secret in ('gAAAAAB', 'glance-token-value', 'tok-in-ctxt'):
        assert secret not in text


def test_versioned_payload_is_unwrapped():
    n = normalize(load('versioned_nova_instance_create_error'))
    assert n.payload['_object_name'] == 'InstanceActionPayload'
    assert n.payload['_object_version'] == '1.8'
    assert n.payload['flavor']['name'] == 'm1.small'
    assert n.payload['fault']['exception'] == 'FlavorDiskTooSmall'
    assert n.payload['block_devices'][0]['device_name'] == '/dev/sdb'
    assert 'nova_object.data' not in json.dumps(n.payload)


def test_versioned_nested_objects_in_lists_unwrapped():
    n = normalize(load('versioned_nova_instance_create_start'))
    assert n.payload['keypairs'][0]['name'] == 'ops-key'


def test_legacy_payload_kept_as_is():
    message = load('legacy_nova_compute_instance_create_end')
    n = normalize(message)
    assert n.payload == message['payload']


def test_dispatched_priority_argument_wins():
    message = load('legacy_nova_compute_instance_create_start')
    assert normalize(message, 'ERROR').priority == 'error'


def test_dispatched_form_with_legacy_payload():
    flat = load('legacy_nova_compute_instance_create_start')
    message = {
        'ctxt': {'request_id': 'req-x', 'tenant': 'proj-x', 'user': 'user-x',
                 'auth_token': 'secret-token'},
        'publisher_id': flat['publisher_id'], 'event_type': flat['event_type'],
        'payload': flat['payload'],
        'metadata': {'message_id': 'mid-1', 'timestamp': '2024-05-06 09:10:12.345678'},
    }
    n = normalize(message, 'info')
    assert (n.message_id, n.request_id, n.project_id, n.user_id) == (
        'mid-1', 'req-x', 'proj-x', 'user-x')
    assert 'secret-token' not in repr(n)


def test_context_dict_under_context_key():
    message = load('neutron_port_delete_end')
    for key in [k for k in message if k.startswith('_context_')]:
        del message[key]
    message['context'] = {'request_id': 'req-c', 'tenant_id': 'p-c', 'user_id': 'u-c'}
    n = normalize(message)
    assert (n.request_id, n.project_id, n.user_id) == ('req-c', 'p-c', 'u-c')


def test_context_falls_back_to_payload():
    message = load('legacy_nova_compute_instance_resize_confirm_start')
    n = normalize(message)
    assert n.project_id == PROJ and n.user_id == USER


def test_wire_envelope_v1_is_plain_form():
    inner = json.loads(load('wire_v2_envelope_compute_instance_delete_start')['oslo.message'])
    assert normalize(inner).message_id == 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'


def test_wire_envelope_bytes():
    message = load('wire_v2_envelope_compute_instance_delete_start')
    message['oslo.message'] = message['oslo.message'].encode()
    assert normalize(message).service == 'nova'


@pytest.mark.parametrize('value, expected', [
    ('2012-03-12 17:01:29.899834', ts(2012, 3, 12, 17, 1, 29, 899834)),
    ('2012-03-12 17:01:29', ts(2012, 3, 12, 17, 1, 29)),
    ('2012-03-12T17:01:29', ts(2012, 3, 12, 17, 1, 29)),
    ('2012-03-12T17:01:29.5', ts(2012, 3, 12, 17, 1, 29, 500000)),
    ('2012-03-12T17:01:29Z', ts(2012, 3, 12, 17, 1, 29)),
    ('2012-03-12T17:01:29.899834Z', ts(2012, 3, 12, 17, 1, 29, 899834)),
    ('2012-03-12T17:01:29+00:00', ts(2012, 3, 12, 17, 1, 29)),
    ('2012-03-12T19:01:29+02:00', ts(2012, 3, 12, 17, 1, 29)),
    ('2012-03-12T12:01:29.100-05:00', ts(2012, 3, 12, 17, 1, 29, 100000)),
    ('2012-03-12T17:01:29.899834+0000', ts(2012, 3, 12, 17, 1, 29, 899834)),
    ('2012-03-12T17:01:29.899834123Z', ts(2012, 3, 12, 17, 1, 29, 899834)),
    ('2012-03-13T01:01:29+08:00', ts(2012, 3, 12, 17, 1, 29)),
    ('2012-03-12 17:01:29 UTC', ts(2012, 3, 12, 17, 1, 29)),
    (datetime.datetime(2012, 3, 12, 17, 1, 29), ts(2012, 3, 12, 17, 1, 29)),
])
def test_timestamp_formats(value, expected):
    message = load('legacy_nova_compute_instance_exists')
    message['timestamp'] = value
    got = normalize(message).timestamp
    assert got == expected
    assert got.tzinfo is UTC


def test_timestamp_from_metadata_when_message_has_none():
    message = load('dispatched_nova_instance_create_end')
    message['timestamp'] = None
    assert normalize(message, 'info').timestamp == ts(2024, 5, 10, 11, 0, 31, 500000)


@pytest.mark.parametrize('event_type, operation, phase', [
    ('compute.instance.create.start', 'compute.instance.create', 'start'),
    ('compute.instance.resize.prep.end', 'compute.instance.resize.prep', 'end'),
    ('instance.live_migration_pre.start', 'instance.live_migration_pre', 'start'),
    ('aggregate.cache_images.progress', 'aggregate.cache_images', 'progress'),
    ('compute.instance.update', 'compute.instance.update', 'none'),
    ('image.upload', 'image.upload', 'none'),
    ('identity.project.created', 'identity.project.created', 'none'),
    ('start', 'start', 'none'),
    # ironic: an action done at once, no pair
    ('baremetal.node.power_state_corrected.success',
     'baremetal.node.power_state_corrected', 'none'),
])
def test_phase_and_operation(event_type, operation, phase):
    message = load('legacy_nova_compute_instance_exists')
    message['event_type'] = event_type
    n = normalize(message)
    assert (n.operation, n.phase) == (operation, phase)


@pytest.mark.parametrize('publisher_id, host', [
    ('compute.host-1', 'host-1'),
    ('nova-compute:host-1', 'host-1'),
    ('image.localhost', 'localhost'),
    ('network.ctl-1', 'ctl-1'),
    ('identity.ctl', 'ctl'),
    ('compute.node1.example.com', 'node1.example.com'),
    ('nova-compute:node1.example.com', 'node1.example.com'),
])
def test_host_from_publisher(publisher_id, host):
    message = load('legacy_nova_compute_instance_exists')
    message['publisher_id'] = publisher_id
    assert normalize(message).host == host


def test_host_falls_back_to_payload_when_publisher_has_none():
    message = load('legacy_nova_compute_instance_exists')
    message['publisher_id'] = 'nova'
    assert normalize(message).host == 'node-7'
    del message['payload']['host']
    assert normalize(message).host is None


def test_missing_publisher_id_is_empty():
    message = load('legacy_nova_compute_instance_exists')
    message['publisher_id'] = None
    n = normalize(message)
    assert n.publisher_id == '' and n.service == 'nova'


@pytest.mark.parametrize('event_type, publisher_id, service', [
    ('compute.instance.create.start', 'compute.h', 'nova'),
    ('compute_task.build_instances.error', 'nova-conductor:h', 'nova'),
    ('scheduler.select_destinations.start', 'scheduler.h', 'nova'),
    ('keypair.import.end', 'nova-api:h', 'nova'),
    ('flavor.create', 'nova-api:h', 'nova'),
    ('libvirt.connect.error', 'nova-compute:h', 'nova'),
    ('service.update', 'nova-compute:host1', 'nova'),
    ('service.update', 'compute.host1', 'nova'),
    ('snapshot.create.end', 'volume.h', 'cinder'),
    ('backup.create.start', 'backup.h', 'cinder'),
    ('image.upload', 'image.h', 'glance'),
    ('subnet.create.end', 'network.h', 'neutron'),
    ('floatingip.update.end', 'network.h', 'neutron'),
    ('security_group_rule.create.end', 'network.h', 'neutron'),
    ('identity.user.created', 'identity.h', 'keystone'),
    ('orchestration.stack.update.end', 'orchestration.h', 'heat'),
    ('magnum.cluster.create', 'magnum.h', 'magnum'),
    ('magnum.cluster.create', 'container-infra.h', 'magnum'),
    ('baremetal.node.power_set.start', 'ironic-conductor.h', 'ironic'),
    ('baremetal.port.create.end', 'ironic-api.h', 'ironic'),
    ('octavia.loadbalancer.delete.end', '', 'octavia'),
    ('dns.recordset.update', 'central.h', 'designate'),
    ('dns.api.fault', 'api.h', 'designate'),
    ('share.extend.end', 'share.h@generic', 'manila'),
    ('trove.instance.create', 'taskmanager.h', 'trove'),
    ('dbaas.instance_create.end', 'conductor.h', 'trove'),
])
def test_service(event_type, publisher_id, service):
    message = load('legacy_nova_compute_instance_exists')
    message.update(event_type=event_type, publisher_id=publisher_id)
    assert normalize(message).service == service


@pytest.mark.parametrize('priority, expected', [
    ('INFO', 'info'), ('Error', 'error'), ('WARN', 'warn'), ('warning', 'warn'),
    ('WARNING', 'warn'), ('audit', 'audit'), ('CRITICAL', 'critical'), ('sample', 'sample'),
    ('debug', 'debug'),
])
def test_priority(priority, expected):
    message = load('legacy_nova_compute_instance_exists')
    message['priority'] = priority
    assert normalize(message).priority == expected


@pytest.mark.parametrize('payload, expected', [
    (['a', 'b'], {'value': ['a', 'b']}),
    ('text', {'value': 'text'}),
    (3, {'value': 3}),
    (None, {}),
])
def test_non_dict_payload_is_wrapped(payload, expected):
    message = load('legacy_nova_compute_instance_exists')
    message['payload'] = payload
    n = normalize(message)
    assert n.payload == expected and n.resource_id is None


def test_error_priority_without_details_still_has_a_fault():
    message = load('neutron_port_delete_end')
    message['priority'] = 'ERROR'
    assert normalize(message).fault == Fault()


def test_legacy_exception_string():
    message = load('legacy_nova_wrap_exception')
    message['payload'] = {'exception': 'InstanceNotFound', 'message': 'gone', 'code': '404'}
    assert normalize(message).fault == Fault(exception='InstanceNotFound', message='gone',
                                              code=404)


_NVH = 'No valid host was found. There are not enough hosts available.'


@pytest.mark.parametrize('exception, expected', [
    # plain class names (and module-qualified, and RPC-re-raised ones)
    ('InstanceNotFound', Fault(exception='InstanceNotFound')),
    ('nova.exception.NoValidHost', Fault(exception='NoValidHost')),
    ('NoValidHost_Remote', Fault(exception='NoValidHost')),
    # BaseException.__repr__, both quotes, module-qualified, elided, empty, py2 style
    ("PortBindingFailed('Binding failed for port p1')",
     Fault(exception='PortBindingFailed', message='Binding failed for port p1')),
    ('NoValidBackend("it\'s full")', Fault(exception='NoValidBackend', message="it's full")),
    ("nova.exception.NoValidHost('%s')" % _NVH, Fault(exception='NoValidHost', message=_NVH)),
    ('nova.exception.NoValidHost(...)', Fault(exception='NoValidHost')),
    ('Timeout()', Fault(exception='Timeout')),
    ("NoValidHost(u'%s',)" % _NVH, Fault(exception='NoValidHost', message=_NVH)),
    ("libvirtError('internal error: a (b) c', 1)",
     Fault(exception='libvirtError', message='internal error: a (b) c')),
    # NovaException.__repr__ (nova >= 18): str(__dict__) with 'class'
    (str({'kwargs': {'reason': 'There are not enough hosts available.', 'code': 500},
          'message': _NVH, 'class': 'NoValidHost_Remote'}),
     Fault(exception='NoValidHost', message=_NVH, code=500)),
    # ... with a kwarg whose repr is no literal
    ("{'kwargs': {'instance': <Instance: uuid=i1>, 'code': 409}, 'message': 'Instance i1 "
     "in vm_state error', 'class': 'InstanceInvalidState'}",
     Fault(exception='InstanceInvalidState', message='Instance i1 in vm_state error',
           code=409)),
    # free text stays what it was
    ('something broke', Fault(exception='something broke')),
])
def test_legacy_exception_forms(exception, expected):
    message = load('legacy_nova_wrap_exception')
    message['payload'] = {'exception': exception, 'args': {}}
    assert normalize(message).fault == expected


def test_legacy_exception_repr_payload_message_and_code_complete_it():
    # exception_to_dict: the repr of a plain exception has no code; the payload does
    message = load('legacy_nova_compute_instance_create_error')
    message['payload'].update(exception="libvirtError('qemu closed the monitor')",
                              message='qemu closed the monitor', code=500)
    assert normalize(message).fault == Fault(exception='libvirtError',
                                              message='qemu closed the monitor', code=500)
    message['payload']['exception'] = 'libvirtError(...)'
    assert normalize(message).fault == Fault(exception='libvirtError',
                                              message='qemu closed the monitor', code=500)


@pytest.mark.parametrize('reason, expected', [
    ("NoValidBackend('No weighed backends available')",
     Fault(exception='NoValidBackend', message='No weighed backends available')),
    ('No valid backend was found. No weighed backends available',
     Fault(message='No valid backend was found. No weighed backends available')),
    ('cinder.exception.NoValidBackend()', Fault(exception='NoValidBackend')),
])
def test_reason_string_forms(reason, expected):
    message = load('cinder_scheduler_create_volume_error')
    message['payload']['reason'] = reason
    assert normalize(message).fault == expected


@pytest.mark.parametrize('reason, expected', [
    # keystone's own: the status named
    ({'reasonType': 'Unauthorized', 'reasonCode': '401'},
     Fault(exception='Unauthorized', code=401)),
    # keystonemiddleware's audit events: 'HTTP' and the status
    ({'reasonType': 'HTTP', 'reasonCode': '401'}, Fault(exception='Unauthorized', code=401)),
    ({'reasonType': 'HTTP', 'reasonCode': '503'},
     Fault(exception='Service Unavailable', code=503)),
    ({'reasonType': 'HTTP', 'reasonCode': '499'}, Fault(exception='HTTP', code=499)),
    ({'reasonType': 'HTTP'}, Fault(exception='HTTP')),
])
def test_cadf_reason_forms(reason, expected):
    message = load('keystone_cadf_identity_authenticate_failure')
    message['payload']['reason'] = reason
    assert normalize(message).fault == expected


def test_reason_string_ignored_without_failure():
    message = load('cinder_scheduler_create_volume_error')
    message['priority'] = 'INFO'
    message['payload']['reason'] = "NoValidBackend('x')"
    assert normalize(message).fault is None


def test_versioned_remote_exception_name():
    message = load('versioned_nova_compute_task_build_instances_error')
    data = message['payload']['nova_object.data']['reason']['nova_object.data']
    data['exception'] = 'NoValidHost_Remote'
    assert normalize(message).fault.exception == 'NoValidHost'


def test_no_valid_host_reported_for_the_scheduler_span():
    """The real legacy shape end to end: select_destinations.start (never ended), then
    the conductor's compute_task.build_instances with reason=<NoValidHost repr>."""
    notes = [normalize(load('legacy_nova_scheduler_select_destinations_start')),
             normalize(load('legacy_nova_compute_task_build_instances_error'))]
    merged = spans.merge_all([f for n in notes for f in [spans.fragment(n)]])
    sched = merged[spans.span_id(REQ, 'scheduler.select_destinations')]
    assert sched.status == 'failure'
    assert sched.fault.exception == 'NoValidHost'
    assert sched.fault.message == _NVH


def test_legacy_fault_dict():
    message = load('legacy_nova_compute_instance_exists')
    message['payload']['fault'] = {'message': 'boom', 'code': 500, 'details': 'tb'}
    assert normalize(message).fault == Fault(message='boom', code=500)


def _bad(**changes):
    message = load('legacy_nova_compute_instance_exists')
    for key, value in changes.items():
        if value is _DELETE:
            message.pop(key, None)
        else:
            message[key] = value
    return message


_DELETE = object()


@pytest.mark.parametrize('message, priority, reason', [
    (None, None, 'not a dict'),
    ([1, 2], None, 'not a dict'),
    ('{"event_type": "x"}', None, 'not a dict'),
    (_bad(event_type=_DELETE), None, 'event_type is missing'),
    (_bad(event_type=''), None, 'event_type is empty'),
    (_bad(event_type='   '), None, 'event_type is empty'),
    (_bad(event_type=5), None, 'event_type is a int'),
    (_bad(priority=_DELETE), None, 'priority is missing'),
    (_bad(priority='loud'), None, 'unknown priority'),
    (_bad(priority=3), None, 'priority is a int'),
    (_bad(), 'shout', 'unknown priority'),
    (_bad(message_id=_DELETE), None, 'message_id is missing'),
    (_bad(message_id=''), None, 'message_id is missing'),
    (_bad(message_id=12), None, 'message_id is a int'),
    (_bad(timestamp=_DELETE), None, 'timestamp is missing'),
    (_bad(timestamp='yesterday'), None, 'not ISO 8601'),
    (_bad(timestamp='2012-13-45 25:61:00'), None, 'not ISO 8601'),
    (_bad(timestamp=1700000000), None, 'timestamp is a int'),
    (_bad(timestamp='1969-12-31T23:59:59Z'), None, 'absurd year'),
    (_bad(timestamp='2201-01-01T00:00:00'), None, 'absurd year'),
    (_bad(timestamp='0001-01-01T00:00:00+01:00'), None, 'out of range'),
    (_bad(timestamp='2012-03-12 17:01:29' + '0' * 100), None, 'too long'),
    (_bad(publisher_id=['compute']), None, 'publisher_id is a list'),
    ({'oslo.version': '2.0', 'oslo.message': '{not json'}, None, 'not JSON'),
    ({'oslo.version': '2.0', 'oslo.message': '[1, 2]'}, None, 'not an object'),
    ({'oslo.version': '2.0', 'oslo.message': {'event_type': 'x'}}, None,
     'not a JSON string'),
    ({'oslo.version': '3.0', 'oslo.message': '{}'}, None, 'unsupported oslo envelope'),
    ({'oslo.message': '{}'}, None, 'unsupported oslo envelope'),
    ({'oslo.version': '2.0',
      'oslo.message': json.dumps({'oslo.version': '2.0', 'oslo.message': '{}'})}, None,
     'nested oslo envelope'),
    ({'oslo.version': '2.0', 'oslo.message': '[' * 100000}, None, 'not JSON'),
])
def test_bad_input_raises_invalid_notification(message, priority, reason):
    with pytest.raises(InvalidNotification, match=reason):
        normalize(message, priority)


def test_invalid_notification_is_a_value_error():
    assert issubclass(InvalidNotification, ValueError)


def test_ironic_versioned_payload_is_unwrapped():
    n = normalize(load('ironic_baremetal_node_provision_set_start'))
    assert n.payload['_object_name'] == 'NodeSetProvisionStatePayload'
    assert n.payload['_object_version'] == '1.18'
    assert n.payload['event'] == 'deploy' and 'ironic_object.data' not in n.payload


@pytest.mark.parametrize('changes, operation', [
    # a cleaning after an undeploy: deleting -> cleaning -> available
    (dict(target_provision_state='available', previous_target_provision_state=None),
     'baremetal.node.provision_set.available'),
    (dict(target_provision_state=None, previous_target_provision_state='manageable'),
     'baremetal.node.provision_set.manageable'),
    # available -> manageable at once: no target on either side
    (dict(target_provision_state=None, previous_target_provision_state=None),
     'baremetal.node.provision_set'),
])
def test_ironic_provisioning_named_after_its_target(changes, operation):
    message = load('ironic_baremetal_node_provision_set_start')
    message['payload']['ironic_object.data'].update(changes)
    assert normalize(message).operation == operation


def test_ironic_node_project_is_its_lessee_then_owner_then_the_callers():
    message = load('ironic_baremetal_node_provision_set_start')
    data = message['payload']['ironic_object.data']
    data.update(lessee=None, owner='e6f7a8b9c0d14e2f8a3b4c5d6e7f8a9b')
    assert normalize(message).project_id == 'e6f7a8b9c0d14e2f8a3b4c5d6e7f8a9b'
    data.update(owner=None)
    assert normalize(message).project_id == 'c3d4e5f6a7b84c9d8e0f1a2b3c4d5e6f'
    message = load('ironic_baremetal_node_provision_set_end')
    message['payload']['ironic_object.data']['lessee'] = None
    assert normalize(message).project_id is None


def test_context_project_wins_for_other_services():
    message = load('glance_image_upload')
    message['_context_project_id'] = 'f7a8b9c0d1e24f3a9b4c5d6e7f8a9b0c'
    assert normalize(message).project_id == 'f7a8b9c0d1e24f3a9b4c5d6e7f8a9b0c'


def test_magnum_failure_is_an_error_of_the_action():
    message = load('magnum_cluster_create_pending')
    message['priority'] = 'ERROR'
    message['payload']['outcome'] = 'failure'
    n = normalize(message)
    assert (n.operation, n.phase, n.state) == ('magnum.cluster.create', 'error', 'failure')
    assert n.fault == Fault()


def test_keystone_cadf_outcome_is_no_phase():
    assert normalize(load('keystone_cadf_identity_project_created')).phase == 'none'


def test_deeply_nested_versioned_payload_does_not_crash():
    inner = {'leaf': 1}
    for _ in range(5000):
        inner = {'nova_object.data': {'child': inner}}
    message = load('versioned_nova_service_update')
    message['payload'] = inner
    n = normalize(message)
    assert n.payload['_object_name'] is None


def _with_payload(name, **changes):
    message = load(name)
    payload = message['payload']
    payload.get('nova_object.data', payload).update(changes)
    return message


def _legacy_request_spec(zone):
    return {'request_spec': {
        'num_instances': 1, 'instance_type': {'name': 'm1.large', 'flavorid': '4'},
        'instance_properties': {'availability_zone': zone, 'uuid': INST}}}


@pytest.mark.parametrize('message, zone, flavor', [
    # legacy nova: the zone is null until the instance is scheduled
    (load('legacy_nova_compute_instance_create_start'), None, 'm1.small'),
    (_with_payload('legacy_nova_compute_instance_create_end', availability_zone='az-2'),
     'az-2', 'm1.small'),
    # versioned nova: flavor.nova_object.data.name
    (load('versioned_nova_instance_create_end'), 'nova', 'm1.small'),
    # the conductor's request spec: versioned (no zone asked for) and legacy
    (load('versioned_nova_compute_task_build_instances_error'), None, 'm1.small'),
    (dict(load('legacy_nova_compute_instance_create_start'),
          event_type='scheduler.select_destinations.start',
          payload=_legacy_request_spec('az-1')), 'az-1', 'm1.large'),
    (load('cinder_volume_create_end'), 'nova', None),
    (load('neutron_port_create_end'), None, None),
    # odd shapes give nothing rather than failing
    (_with_payload('legacy_nova_compute_instance_create_end', availability_zone=['az-1'],
                   instance_type=3), None, None),
    (_with_payload('versioned_nova_instance_create_end', flavor=['m1.small'],
                   availability_zone=''), None, None),
    (_with_payload('legacy_nova_compute_instance_create_end', instance_type=None,
                   request_spec={'instance_properties': 'az-1', 'instance_type': 'm1.tiny'}),
     None, 'm1.tiny'),
])
def test_availability_zone_and_flavor(message, zone, flavor):
    n = normalize(message)
    assert (n.availability_zone, n.flavor) == (zone, flavor)


if given is not None:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=20)
    field_values = json_values | st.sampled_from([
        'compute.instance.create.start', 'INFO', 'error', 'warning', '2012-03-12 17:01:29',
        '2012-03-12T17:01:29Z', 'nova-compute:h', 'compute.h', 'mid', 'arn:x/y'])
    messages = st.dictionaries(
        st.sampled_from(['event_type', 'priority', 'message_id', 'timestamp', 'payload',
                         'publisher_id', 'ctxt', 'metadata', '_context_request_id',
                         'oslo.version', 'oslo.message']),
        field_values, max_size=11)

    @settings(max_examples=400, deadline=None)
    @given(message=messages, priority=st.none() | st.sampled_from(['info', 'bogus', 3]))
    def test_property_only_invalid_notification_escapes(message, priority):
        try:
            n = normalize(message, priority)
        except InvalidNotification:
            return
        assert n.phase in PHASES and n.priority in PRIORITIES
        assert n.timestamp.tzinfo is UTC and 1970 <= n.timestamp.year <= 2200

    @settings(max_examples=300, deadline=None)
    @given(payload=json_values, event_type=st.text(min_size=1, max_size=40))
    def test_property_any_payload_any_event_type(payload, event_type):
        message = load('legacy_nova_compute_instance_exists')
        message.update(payload=payload, event_type=event_type)
        try:
            n = normalize(message)
        except InvalidNotification as exc:
            assert 'event_type' in str(exc)
            return
        assert isinstance(n.payload, dict)
