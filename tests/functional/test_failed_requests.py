"""Failed requests as nova really reports them come out failed, hung ones stuck.

A real ``ceilometer-agent-notification`` with two workers publishes to a
SQLite file, an Elasticsearch prefix and an OpenSearch prefix.
oslo.messaging's Notifier sends, in a shuffled order, failed snapshot / rescue / delete / rebuild requests and a
create that failed after a reschedule, in the shapes nova sends
(nova/exception_wrapper.py: legacy, an ERROR notification named after the
wrapped method with ``{"exception", "args"}``; versioned, ``compute.exception``
with an ``ExceptionPayload`` whose traceback names the method;
nova/compute/utils.py: legacy ``.error`` payloads carry ``exception_to_dict``,
a message and a code without a class), the conductor's NoValidHost and
MaxRetriesExceeded, successful requests, and two that really hang.  trace,
errors, stuck and sla must say exactly that, identically from every store (SQLite, Elasticsearch, OpenSearch).
"""
import datetime
import random
from unittest import mock

from oslo_utils import timeutils

from tests.functional.cli import on_every_store
from tests.functional.support import store_url, wait_stored

T0 = datetime.datetime(2024, 7, 1, 9, 0, 0)     # naive UTC, as timeutils.utcnow() gives
PROJECT = '7e1d2c3b4a5f4e6d8c9b0a1f2e3d4c5b'
USER = 'a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d'
IMAGE = '3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a'


def vm(n):
    return '9c8b7a6f-5e4d-4c3b-8a29-1f0e0000%04d' % n


def req(name):
    return 'req-%s' % (name.lower().replace('_', '-') + '-' + '0' * 24)[:36]


SNAP, SNAP_OK, RESCUE, DELETE, REBUILD = (req(n) for n in (
    'snap-fail', 'snap-ok', 'rescue-fail', 'delete-fail', 'rebuild-fail'))
BOOT_FAIL, BOOT_OK, NOHOST = req('boot-fail'), req('boot-ok'), req('no-host')
HUNG_CREATE, HUNG_RESCUE = req('hung-create'), req('hung-rescue')


def at(seconds):
    """The time ``seconds`` after T0 as the commands print it."""
    return (T0 + datetime.timedelta(seconds=seconds)).replace(
        tzinfo=datetime.timezone.utc).isoformat()


def ctx(request_id):
    return {'request_id': request_id, 'project_id': PROJECT, 'user_id': USER}


def legacy_instance(uuid, host, state='active', **extra):
    """nova's legacy instance usage payload (compute_utils.info_from_instance)."""
    return dict({'tenant_id': PROJECT, 'user_id': USER, 'instance_id': uuid,
                 'display_name': 'vm', 'host': host, 'node': host, 'state': state,
                 'instance_type': 'm1.small', 'memory_mb': 2048, 'vcpus': 1, 'root_gb': 20,
                 'availability_zone': 'az-1', 'image_ref_url': 'http://glance/images/' + IMAGE},
                **extra)


def nova_object(name, data):
    return {'nova_object.name': name, 'nova_object.namespace': 'nova',
            'nova_object.version': '1.0', 'nova_object.data': data}


def exception_payload(exception, message, function, traceback=''):
    return nova_object('ExceptionPayload', {
        'module_name': 'nova.virt.libvirt.driver', 'function_name': function,
        'exception': exception, 'exception_message': message, 'traceback': traceback})


def instance_action(uuid, host, state='active', fault=None):
    return nova_object('InstanceActionPayload', {
        'uuid': uuid, 'host': host, 'node': host, 'state': state, 'tenant_id': PROJECT,
        'user_id': USER, 'availability_zone': 'az-1', 'fault': fault,
        'flavor': nova_object('FlavorPayload', {'name': 'm1.small', 'vcpus': 1})})


def traceback_through(method):
    """ExceptionPayload.traceback: from exception_wrapper's wrapper down to the driver."""
    frames = [('nova/exception_wrapper.py', 'wrapped'),
              ('nova/compute/manager.py', 'decorated_function'),
              ('nova/compute/manager.py', method),
              ('nova/virt/libvirt/driver.py', 'spawn')]
    return ','.join(['Traceback (most recent call last):\n'] + [
        '  File "/opt/stack/nova/%s", line 100, in %s\n    call()\n' % f for f in frames])


# --- the script: (t, publisher, priority, event_type, payload, request) ---------

IMAGE_GONE = {'kwargs': {'code': 404, 'image_id': IMAGE},
              'message': 'Image %s could not be found.' % IMAGE, 'class': 'ImageNotFound'}
DESTROY_FAILED = 'Failed to destroy %s: libvirt error' % vm(3)
DESTROY_KEY = 'Failed to destroy #: libvirt error'
RESCHEDULED_KEY = ('Build of instance # was re-scheduled: Insufficient compute resources: '
                   'Free memory # MB < requested # MB.')


def rescheduled(uuid, free):
    # compute_utils.notify_about_instance_usage(fault=e): exception_to_dict, no class
    return {'message': 'Build of instance %s was re-scheduled: Insufficient compute '
                       'resources: Free memory %s MB < requested 2048 MB.' % (uuid, free),
            'code': 500}


SCRIPT = [
    # SNAP: legacy snapshot; _snapshot_instance and snapshot_instance both wrapped
    (0, 'compute.host-1', 'INFO', 'compute.instance.snapshot.start', legacy_instance(vm(1), 'host-1'), SNAP),
    (6, 'compute.host-1', 'ERROR', '_snapshot_instance',
     {'exception': IMAGE_GONE, 'args': {'instance': {'uuid': vm(1)}, 'image_id': IMAGE}}, SNAP),
    (6.1, 'compute.host-1', 'ERROR', 'snapshot_instance',
     {'exception': IMAGE_GONE, 'args': {'instance': {'uuid': vm(1)}, 'image_id': IMAGE}}, SNAP),
    # RESCUE: versioned; compute.exception's function_name is the driver's
    (10, 'nova-compute:host-2', 'INFO', 'instance.rescue.start', instance_action(vm(2), 'host-2'), RESCUE),
    (13, 'nova-compute:host-2', 'ERROR', 'compute.exception',
     exception_payload('InstanceNotRescuable', 'Instance %s cannot be rescued: Driver Error'
                       % vm(2), 'rescue', traceback_through('rescue_instance')), RESCUE),
    # DELETE: legacy; the driver fails inside the shutdown; a classless exception
    (20, 'compute.host-3', 'INFO', 'compute.instance.delete.start', legacy_instance(vm(3), 'host-3'), DELETE),
    (20.5, 'compute.host-3', 'INFO', 'compute.instance.shutdown.start', legacy_instance(vm(3), 'host-3'), DELETE),
    (25, 'compute.host-3', 'ERROR', 'terminate_instance',
     {'exception': {'kwargs': {'code': 500, 'reason': DESTROY_FAILED}},
      'args': {'instance': {'uuid': vm(3)}, 'bdms': []}}, DELETE),
    # REBUILD: versioned rebuild.error, then the wrapper's compute.exception
    (30, 'nova-compute:host-4', 'INFO', 'instance.rebuild.start', instance_action(vm(4), 'host-4'), REBUILD),
    (34, 'nova-compute:host-4', 'ERROR', 'instance.rebuild.error',
     instance_action(vm(4), 'host-4', 'error', exception_payload(
         'BuildAbortException', 'Build of instance aborted: disk full', '_do_rebuild_instance')),
     REBUILD),
    (34.2, 'nova-compute:host-4', 'ERROR', 'compute.exception',
     exception_payload('BuildAbortException', 'Build of instance aborted: disk full',
                       '_do_rebuild_instance', traceback_through('rebuild_instance')), REBUILD),
    # BOOT_FAIL: legacy create, rescheduled from host-5 to host-6, then given up
    (40, 'compute.host-5', 'INFO', 'compute.instance.create.start', legacy_instance(vm(5), 'host-5', 'building'), BOOT_FAIL),
    (43, 'compute.host-5', 'ERROR', 'compute.instance.create.error',
     legacy_instance(vm(5), 'host-5', 'building', **rescheduled(vm(5), '1024.00')), BOOT_FAIL),
    (45, 'compute.host-6', 'INFO', 'compute.instance.create.start', legacy_instance(vm(5), 'host-6', 'building'), BOOT_FAIL),
    (48, 'compute.host-6', 'ERROR', 'compute.instance.create.error',
     legacy_instance(vm(5), 'host-6', 'building', **rescheduled(vm(5), '512.50')), BOOT_FAIL),
    (49, 'conductor.ctl-1', 'ERROR', 'compute_task.build_instances',
     {'instance_id': vm(5), 'state': 'error', 'vm_state': 'error', 'method': 'build_instances',
      'reason': "MaxRetriesExceeded('Exceeded maximum number of retries. Exceeded max "
                "scheduling attempts 2 for instance %s.')" % vm(5),
      'request_spec': {'instance_type': {'name': 'm1.small'}}}, BOOT_FAIL),
    # NOHOST: the scheduler never ends; the conductor on ctl-2 reports it
    (50, 'scheduler.ctl-1', 'INFO', 'scheduler.select_destinations.start',
     {'request_spec': {'instance_properties': {'uuid': vm(6), 'availability_zone': 'az-1'},
                       'instance_type': {'name': 'm1.small'}}}, NOHOST),
    (51, 'conductor.ctl-2', 'ERROR', 'compute_task.build_instances',
     {'instance_id': vm(6), 'state': 'error', 'vm_state': 'error', 'method': 'build_instances',
      'reason': "NoValidHost('No valid host was found. There are not enough hosts available.')",
      'request_spec': {}}, NOHOST),
    # successes
    (60, 'nova-compute:host-7', 'INFO', 'instance.create.start', instance_action(vm(7), 'host-7', 'building'), BOOT_OK),
    (70, 'nova-compute:host-7', 'INFO', 'instance.create.end', instance_action(vm(7), 'host-7'), BOOT_OK),
    (80, 'compute.host-1', 'INFO', 'compute.instance.snapshot.start', legacy_instance(vm(1), 'host-1'), SNAP_OK),
    (86, 'compute.host-1', 'INFO', 'compute.instance.snapshot.end', legacy_instance(vm(1), 'host-1'), SNAP_OK),
    # really hung: a start, then nothing
    (100, 'compute.host-8', 'INFO', 'compute.instance.create.start', legacy_instance(vm(8), 'host-8', 'building'), HUNG_CREATE),
    (110, 'nova-compute:host-9', 'INFO', 'instance.rescue.start', instance_action(vm(9), 'host-9'), HUNG_RESCUE),
]
SPANS = 12
LATER = at(2000)


def rows(columns, *values):
    return [dict(zip(columns, v)) for v in values]


TRACE = ('step', 'service', 'hosts', 'start', 'duration', 'attempts', 'outcome', 'error',
         'request')
ERRORS = ('source', 'host', 'service', 'exception', 'count', 'first seen', 'last seen')
STUCK = ('request_id', 'operation', 'host', 'project', 'started', 'open for (s)', 'limit (s)')
SLA = ('operation', 'group', 'count', 'success %', 'failures', 'avg (s)', 'p50 (s)', 'p95 (s)',
       'p99 (s)', 'max (s)', 'mean attempts', 'reschedules')


def test_failed_requests_in_real_shapes(agent_factory, sender, es_prefix, tmp_path):
    urls = {'sqlite': 'sqlite:///%s' % (tmp_path / 'nvs.db'),
            'elasticsearch': store_url('elasticsearch', es_prefix),
            'opensearch': store_url('opensearch', es_prefix)}
    agent = agent_factory(list(urls.values()), workers=2, batch_size=5)
    shuffled = list(SCRIPT)
    random.Random(13).shuffle(shuffled)         # errors before their starts, and so on
    for t, publisher, priority, event_type, payload, request in shuffled:
        with mock.patch.object(timeutils, 'utcnow',
                               return_value=T0 + datetime.timedelta(seconds=t)):
            sender.send('nova', publisher, priority, event_type, payload, ctx(request))
    wait_stored(urls, len(SCRIPT), SPANS)
    assert agent.proc.poll() is None and agent.tracebacks() == []

    check_trace(urls)
    check_errors(urls)
    check_stuck(urls)
    check_sla(urls)


def check_trace(urls):
    def trace(request):
        return on_every_store(urls, 'trace', request, '--now', LATER)

    assert trace(SNAP) == rows(TRACE, ('compute.instance.snapshot', 'nova', 'host-1', at(0),
                                       6.1, 1, 'failure', 'ImageNotFound', SNAP))
    assert trace(RESCUE) == rows(TRACE, ('instance.rescue', 'nova', 'host-2', at(10), 3.0, 1,
                                         'failure', 'InstanceNotRescuable', RESCUE))
    assert trace(DELETE) == rows(
        TRACE,
        ('compute.instance.delete', 'nova', 'host-3', at(20), 5.0, 1, 'failure', DESTROY_KEY,
         DELETE),
        ('compute.instance.shutdown', 'nova', 'host-3', at(20.5), 4.5, 1, 'failure',
         DESTROY_KEY, DELETE))
    assert trace(REBUILD) == rows(TRACE, ('instance.rebuild', 'nova', 'host-4', at(30), 4.2, 1,
                                          'failure', 'BuildAbortException', REBUILD))
    assert trace(BOOT_FAIL) == rows(
        TRACE,
        ('compute.instance.create', 'nova', 'host-5,host-6', at(40), 8.0, 2, 'failure',
         RESCHEDULED_KEY, BOOT_FAIL),
        ('compute_task.build_instances', 'nova', 'ctl-1', None, None, 0, 'failure',
         'MaxRetriesExceeded', BOOT_FAIL))
    assert trace(NOHOST) == rows(TRACE, ('scheduler.select_destinations', 'nova', 'ctl-1,ctl-2',
                                         at(50), 1.0, 1, 'failure', 'NoValidHost', NOHOST))
    assert trace(BOOT_OK) == rows(TRACE, ('instance.create', 'nova', 'host-7', at(60), 10.0, 1,
                                          'success', '-', BOOT_OK))
    assert trace(HUNG_CREATE) == rows(TRACE, ('compute.instance.create', 'nova', 'host-8',
                                              at(100), None, 1, 'timeout', '-', HUNG_CREATE))
    assert trace(HUNG_RESCUE) == rows(TRACE, ('instance.rescue', 'nova', 'host-9', at(110),
                                              None, 1, 'timeout', '-', HUNG_RESCUE))


def check_errors(urls):
    assert on_every_store(urls, 'errors') == rows(
        ERRORS,
        ('notification', 'host-1', 'nova', 'ImageNotFound', 2, at(6), at(6.1)),
        ('notification', 'host-4', 'nova', 'BuildAbortException', 2, at(34), at(34.2)),
        ('span', 'host-3', 'nova', DESTROY_KEY, 2, at(25), at(25)),
        ('notification', 'ctl-1', 'nova', 'MaxRetriesExceeded', 1, at(49), at(49)),
        ('notification', 'ctl-2', 'nova', 'NoValidHost', 1, at(51), at(51)),
        ('notification', 'host-2', 'nova', 'InstanceNotRescuable', 1, at(13), at(13)),
        ('notification', 'host-3', 'nova', DESTROY_KEY, 1, at(25), at(25)),
        ('notification', 'host-5', 'nova', RESCHEDULED_KEY, 1, at(43), at(43)),
        ('notification', 'host-6', 'nova', RESCHEDULED_KEY, 1, at(48), at(48)),
        ('span', 'ctl-1', 'nova', 'MaxRetriesExceeded', 1, at(49), at(49)),
        ('span', 'ctl-1', 'nova', 'NoValidHost', 1, at(51), at(51)),
        ('span', 'host-1', 'nova', 'ImageNotFound', 1, at(6.1), at(6.1)),
        ('span', 'host-2', 'nova', 'InstanceNotRescuable', 1, at(13), at(13)),
        ('span', 'host-4', 'nova', 'BuildAbortException', 1, at(34.2), at(34.2)),
        ('span', 'host-6', 'nova', RESCHEDULED_KEY, 1, at(48), at(48)))


def check_stuck(urls):
    # only the two that hang; at 700 s only the rescue is past its 600 s
    assert on_every_store(urls, 'stuck', '--now', LATER) == rows(
        STUCK,
        (HUNG_CREATE, 'compute.instance.create', 'host-8', PROJECT, at(100), 1900.0, 1800.0),
        (HUNG_RESCUE, 'instance.rescue', 'host-9', PROJECT, at(110), 1890.0, 600.0))
    assert on_every_store(urls, 'stuck', '--now', at(720)) == rows(
        STUCK, (HUNG_RESCUE, 'instance.rescue', 'host-9', PROJECT, at(110), 610.0, 600.0))


def check_sla(urls):
    def timed(op, count, success, failures, seconds, attempts=1.0, reschedules=0):
        return (op, '-', count, success, failures) + (seconds,) * 5 + (attempts, reschedules)

    assert on_every_store(urls, 'sla') == rows(
        SLA,
        timed('compute.instance.create', 2, 0.0, RESCHEDULED_KEY + ':1', 8.0, 1.5, 1),
        timed('compute.instance.delete', 1, 0.0, DESTROY_KEY + ':1', 5.0),
        timed('compute.instance.shutdown', 1, 0.0, DESTROY_KEY + ':1', 4.5),
        ('compute.instance.snapshot', '-', 2, 50.0, 'ImageNotFound:1', 6.05, 6.0, 6.1, 6.1, 6.1,
         1.0, 0),
        timed('compute_task.build_instances', 1, 0.0, 'MaxRetriesExceeded:1', None, 0.0),
        timed('instance.create', 1, 100.0, '', 10.0),
        timed('instance.rebuild', 1, 0.0, 'BuildAbortException:1', 4.2),
        timed('instance.rescue', 2, 0.0, 'InstanceNotRescuable:1', 3.0),
        timed('scheduler.select_destinations', 1, 0.0, 'NoValidHost:1', 1.0))
