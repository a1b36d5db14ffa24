"""Failures as nova, its conductor and cinder's scheduler really report them.

Shapes read from nova/exception_wrapper.py (wrap_exception: legacy event type
= the wrapped method's name, payload ``{"exception": ..., "args": {...}}``;
versioned ``compute.exception`` with an ``ExceptionPayload`` whose
``function_name`` is the innermost frame and whose traceback starts at the
wrapper), nova/compute/manager.py (which method sends which ``.start``),
nova/scheduler/utils.py (set_vm_state_and_notify) and
cinder/scheduler/manager.py (_set_volume_state_and_notify).
"""
import itertools
import json

import pytest

from nvs_notif import notification
from nvs_notif import services
from nvs_notif import spans

REQ = 'req-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'
INST = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e'
_ids = itertools.count()


def legacy(event_type, second, host='node-1', payload=None, priority='INFO', request_id=REQ):
    """A legacy (unversioned) notification as oslo.messaging's v1 body has it."""
    return {'message_id': 'm-%d' % next(_ids), 'event_type': event_type,
            'publisher_id': 'compute.%s' % host, 'priority': priority,
            'timestamp': '2024-06-01 10:00:%02d.000000' % second,
            '_context_request_id': request_id, '_context_project_id': 'p-1',
            '_context_user_id': 'u-1',
            'payload': payload if payload is not None else {'instance_id': INST}}


def versioned(event_type, second, name, data, host='node-1', priority='INFO',
              binary='nova-compute'):
    """A versioned notification: the payload is a nova_object."""
    return {'message_id': 'm-%d' % next(_ids), 'event_type': event_type,
            'publisher_id': '%s:%s' % (binary, host), 'priority': priority,
            'timestamp': '2024-06-01 10:00:%02d.000000' % second,
            '_context_request_id': REQ, '_context_project_id': 'p-1',
            'payload': {'nova_object.name': name, 'nova_object.namespace': 'nova',
                        'nova_object.version': '1.0', 'nova_object.data': data}}


def instance_action(event_type, second, fault=None, **kw):
    return versioned(event_type, second, 'InstanceActionPayload',
                     {'uuid': INST, 'state': 'active', 'fault': fault}, **kw)


def wrap_exception_legacy(function, second, exception, host='node-1', **args):
    """nova.exception_wrapper._emit_legacy_exception_notification."""
    return legacy(function, second, host, priority='ERROR', payload={
        'exception': exception,
        'args': dict({'instance': {'uuid': INST, 'vm_state': 'active', 'host': host}}, **args)})


def traceback_through(*frames):
    """A traceback as ExceptionPayload.from_exception formats it: from the wrapper down."""
    lines = ['Traceback (most recent call last):\n']
    for path, name in (('nova/exception_wrapper.py', 'wrapped'),) + frames:
        lines.append('  File "/opt/stack/nova/%s", line 12, in %s\n    x()\n' % (path, name))
    return ','.join(lines + ['nova.exception.InstanceNotRescuable: boom\n'])


def compute_exception(second, function_name, traceback, exception='InstanceNotRescuable',
                      message='Instance 0b1c cannot be rescued: Driver Error', host='node-1'):
    """nova.exception_wrapper._emit_versioned_exception_notification."""
    return versioned('compute.exception', second, 'ExceptionPayload', {
        'module_name': 'nova.virt.libvirt.driver', 'function_name': function_name,
        'exception': exception, 'exception_message': message, 'traceback': traceback},
        host=host, priority='ERROR')


def merged(*messages):
    notes = [notification.normalize(json.loads(json.dumps(m))) for m in messages]
    frags = [f for n in notes for f in spans.fragments(n)]
    return spans.merge_all(frags)


def only(result, operation):
    assert {s.operation for s in result.values()} == {operation}, result
    return next(iter(result.values()))


NOVA_EXC = {'kwargs': {'code': 500, 'instance_id': INST},
            'message': 'Instance %s cannot be rescued: Driver Error' % INST,
            'class': 'InstanceNotRescuable'}


@pytest.mark.parametrize('function, action', [
    ('snapshot_instance', 'snapshot'), ('rescue_instance', 'rescue'),
    ('rebuild_instance', 'rebuild'),
    ('prep_resize', 'resize.prep'), ('finish_resize', 'finish_resize')])
def test_legacy_wrap_exception_fails_the_open_operation(function, action):
    operation = 'compute.instance.' + action
    flow = [legacy(operation + '.start', 1, 'node-7'),
            wrap_exception_legacy(function, 4, NOVA_EXC, 'node-7')]
    for order in (flow, flow[::-1], flow + flow):     # any order, duplicates
        span = only(merged(*order), operation)
        assert span.status == 'failure' and span.duration == 3.0
        assert span.host == 'node-7' and span.resource_id == INST
        assert span.fault.exception == 'InstanceNotRescuable'
        assert span.fault.code == 500


def test_versioned_compute_exception_is_read_from_the_traceback():
    # function_name is the innermost frame (the driver's); the traceback names
    # the wrapped RPC method under the wrapper and nova's other decorators.
    tb = traceback_through(('nova/compute/manager.py', 'decorated_function'),
                           ('nova/compute/manager.py', 'rescue_instance'),
                           ('nova/virt/libvirt/driver.py', 'rescue'))
    span = only(merged(instance_action('instance.rescue.start', 1),
                       compute_exception(6, 'rescue', tb)), 'instance.rescue')
    assert span.status == 'failure' and span.host == 'node-1'
    assert span.fault.exception == 'InstanceNotRescuable'
    assert span.fault.function == 'rescue'


def test_versioned_compute_exception_without_traceback_uses_function_name():
    # ExceptionPayload 1.0 had no traceback; an exception raised in the
    # wrapped method itself names it.
    span = only(merged(instance_action('instance.snapshot.start', 1),
                       compute_exception(2, 'snapshot_instance', None)), 'instance.snapshot')
    assert span.status == 'failure'


def test_unmapped_error_fails_its_own_operation():
    # attach_volume has no legacy pair: the error is a failed step of its own.
    exc = {'kwargs': {'code': 400, 'volume_id': 'v-1'}, 'message': 'Invalid volume: v-1 is in use'}
    span = only(merged(wrap_exception_legacy('attach_volume', 3, exc)), 'attach_volume')
    assert span.status == 'failure' and span.host == 'node-1' and span.start is None
    unknown = compute_exception(3, '_helper', traceback_through(('nova/x.py', '_helper')))
    assert only(merged(unknown), 'compute.exception').status == 'failure'


def test_old_scheduler_dotted_error_fails_its_pair():
    # Havana's scheduler: scheduler.run_instance.start, then an ERROR
    # notification 'scheduler.run_instance' from set_vm_state_and_notify.
    payload = {'instance_id': INST, 'method': 'run_instance', 'state': 'error',
               'reason': "NoValidHost('No valid host was found. ')",
               'request_spec': {'instance_properties': {'uuid': INST}}}
    span = only(merged(legacy('scheduler.run_instance.start', 1, 'sched-1'),
                       legacy('scheduler.run_instance', 2, 'sched-1', payload, 'ERROR')),
                'scheduler.run_instance')
    assert span.status == 'failure' and span.fault.exception == 'NoValidHost'


def _conductor_error(second, reason):
    payload = {'instance_id': INST, 'method': 'build_instances', 'state': 'error',
               'vm_state': 'error', 'reason': reason,
               'request_spec': {'instance_type': {'name': 'm1.small'}}}
    return legacy('compute_task.build_instances', second, 'ctl-2', payload, 'ERROR')


def test_no_valid_host_fails_the_scheduler_span_with_the_reporters_host():
    nvh = "NoValidHost_Remote('No valid host was found. There are not enough hosts available.')"
    started = merged(legacy('scheduler.select_destinations.start', 0, 'ctl-1'),
                     _conductor_error(2, nvh))
    span = only(started, 'scheduler.select_destinations')
    assert span.status == 'failure' and span.fault.exception == 'NoValidHost'
    assert span.host == 'ctl-1' and span.hosts == {'ctl-1', 'ctl-2'}
    assert span.flavor == 'm1.small'
    # without the scheduler's start the reporter is the only host known
    alone = only(merged(_conductor_error(2, nvh)), 'scheduler.select_destinations')
    assert alone.host == 'ctl-2'


def test_max_retries_is_the_conductors_own_failure():
    result = merged(legacy('scheduler.select_destinations.start', 0, 'ctl-1'),
                    legacy('scheduler.select_destinations.end', 1, 'ctl-1'),
                    _conductor_error(9, "MaxRetriesExceeded('Exceeded maximum number of "
                                        "retries. Exhausted all hosts available')"))
    by_op = {s.operation: s for s in result.values()}
    assert by_op['scheduler.select_destinations'].status == 'success'
    assert by_op['compute_task.build_instances'].status == 'failure'
    assert by_op['compute_task.build_instances'].host == 'ctl-2'


def test_cinder_scheduler_failure_fails_the_volume_create():
    start = legacy('volume.create.start', 0, 'api-1', {'volume_id': 'v-9', 'status': 'creating'})
    start['publisher_id'] = 'volume.api-1'
    error = legacy('scheduler.create_volume', 1, 'sched-1', priority='ERROR', payload={
        'volume_id': 'v-9', 'state': 'error', 'method': 'create_volume',
        'reason': "NoValidBackend('No valid backend was found. No weighed backends available')",
        'request_spec': {}})
    error['publisher_id'] = 'scheduler.sched-1'
    span = only(merged(start, error), 'volume.create')
    assert span.status == 'failure' and span.fault.exception == 'NoValidBackend'
    assert span.hosts == {'api-1', 'sched-1'}


def test_reschedules_then_failure():
    """create on node-1 fails and is rescheduled, node-2 fails too; the
    conductor gives up: one failed create span with two attempts, and the
    conductor's MaxRetriesExceeded."""
    err = {'exception': "RescheduledException('Build of instance was re-scheduled')",
           'instance_id': INST}
    result = merged(legacy('compute.instance.create.start', 1, 'node-1'),
                    legacy('compute.instance.create.error', 3, 'node-1', dict(err), 'ERROR'),
                    legacy('compute.instance.create.start', 5, 'node-2'),
                    legacy('compute.instance.create.error', 8, 'node-2', dict(err), 'ERROR'),
                    _conductor_error(9, "MaxRetriesExceeded('Exceeded maximum number')"))
    create = {s.operation: s for s in result.values()}['compute.instance.create']
    assert create.status == 'failure' and create.attempts == 2
    assert create.hosts == {'node-1', 'node-2'} and create.host == 'node-2'


def test_icehouse_instance_instance_create_error_is_the_create():
    exc = {'kwargs': {'code': 500}, 'message': 'boom', 'class': 'RescheduledException'}
    span = only(merged(legacy('compute.instance.create.start', 1),
                       legacy('compute.instance.instance.create.error', 2,
                              payload={'instance_id': INST, 'exception': exc},
                              priority='ERROR')), 'compute.instance.create')
    assert span.status == 'failure'


@pytest.mark.parametrize('payload, status', [
    ({'instance_id': INST, 'message': 'Success'}, 'success'),
    ({'instance_id': INST, 'message': 'Instance %s could not be found.' % INST, 'code': 404},
     'failure'),
    # Havana: the message only
    ({'instance_id': INST, 'message': 'Unexpected task state: expecting (u\'spawning\',) '
      'but the actual state is deleting'}, 'failure'),
])
def test_legacy_create_end_of_an_aborted_build(payload, status):
    span = only(merged(legacy('compute.instance.create.start', 1),
                       legacy('compute.instance.create.end', 4, payload=payload)),
                'compute.instance.create')
    assert span.status == status
    if status == 'failure':
        assert span.fault.message == payload['message']


def test_versioned_create_end_with_a_fault_is_a_failure():
    fault = {'nova_object.name': 'ExceptionPayload', 'nova_object.data': {
        'module_name': 'nova.compute.manager', 'function_name': '_build_and_run_instance',
        'exception': 'InstanceNotFound', 'exception_message': 'Instance x could not be found.',
        'traceback': ''}}
    span = only(merged(instance_action('instance.create.start', 1),
                       instance_action('instance.create.end', 3, fault=fault)),
                'instance.create')
    assert span.status == 'failure' and span.fault.exception == 'InstanceNotFound'
    ok = only(merged(instance_action('instance.create.start', 1),
                     instance_action('instance.create.end', 3)), 'instance.create')
    assert ok.status == 'success'


def test_exception_without_a_class():
    # older nova serialised a NovaException as its __dict__: no class, no message
    exc = {'kwargs': {'code': 500, 'reason': 'VDI too big for requested resize up'}}
    span = only(merged(legacy('compute.instance.resize.start', 1),
                       wrap_exception_legacy('resize_instance', 2, exc)),
                'compute.instance.resize')
    assert span.status == 'failure'
    assert span.fault.exception is None
    assert span.fault.message == 'VDI too big for requested resize up'
    assert span.fault.code == 500


def test_every_compute_function_names_an_action():
    for function, actions in services.NOVA_COMPUTE_FUNCTIONS.items():
        assert any(actions), function


def test_a_failed_delete_fails_the_shutdown_it_was_running():
    """nova's _delete_instance sends delete.start, then _shutdown_instance
    shutdown.start; a driver that cannot destroy the guest raises out of both:
    terminate_instance's error is all that follows."""
    exc = {'kwargs': {'code': 500}, 'message': 'Failed to terminate instance: boom',
           'class': 'InstanceTerminationFailure'}
    flow = [legacy('compute.instance.delete.start', 1), legacy('compute.instance.shutdown.start', 2),
            wrap_exception_legacy('terminate_instance', 5, exc)]
    for order in (flow, flow[::-1], flow + flow[:1]):
        by_op = {s.operation: s for s in merged(*order).values()}
        assert set(by_op) == {'compute.instance.delete', 'compute.instance.shutdown'}
        shutdown = by_op['compute.instance.shutdown']
        assert shutdown.status == 'failure' and shutdown.duration == 3.0
        assert shutdown.fault.exception == 'InstanceTerminationFailure'
        assert by_op['compute.instance.delete'].status == 'failure'
    # the error before any start: both failed (as an error before its start is)
    early = merged(wrap_exception_legacy('terminate_instance', 5, exc))
    assert {s.operation: s.status for s in early.values()} == {
        'compute.instance.delete': 'failure', 'compute.instance.shutdown': 'failure'}
    # a shutdown that ended before the delete failed (volume clean-up) worked
    done = merged(legacy('compute.instance.delete.start', 1),
                  legacy('compute.instance.shutdown.start', 2),
                  legacy('compute.instance.shutdown.end', 3),
                  wrap_exception_legacy('terminate_instance', 5, exc))
    assert {s.operation: s.status for s in done.values()} == {
        'compute.instance.delete': 'failure', 'compute.instance.shutdown': 'success'}
    # versioned: instance.delete / instance.shutdown, from compute.exception
    tb = traceback_through(('nova/compute/manager.py', 'terminate_instance'),
                           ('nova/compute/manager.py', 'do_terminate_instance'),
                           ('nova/compute/manager.py', '_shutdown_instance'))
    versioned_flow = merged(instance_action('instance.delete.start', 1),
                            instance_action('instance.shutdown.start', 2),
                            compute_exception(5, 'destroy', tb,
                                              exception='InstanceTerminationFailure'))
    assert {s.operation: s.status for s in versioned_flow.values()} == {
        'instance.delete': 'failure', 'instance.shutdown': 'failure'}


def test_an_inner_operation_retried_after_the_abort_is_open_again():
    exc = {'message': 'boom', 'class': 'InstanceTerminationFailure'}
    span = merged(legacy('compute.instance.delete.start', 1),
                  legacy('compute.instance.shutdown.start', 2),
                  wrap_exception_legacy('terminate_instance', 3, exc),
                  legacy('compute.instance.delete.start', 8),
                  legacy('compute.instance.shutdown.start', 9))
    assert {s.operation: s.status for s in span.values()} == {
        'compute.instance.delete': 'open', 'compute.instance.shutdown': 'open'}
