"""nova's notifications, legacy and versioned, as nova builds them.

``nova_event`` is one compute notification of an instance action in the request's format
(legacy ``compute.instance.<action>.<phase>`` on ``notifications``, or versioned
``instance.<action>.<phase>`` on ``versioned_notifications``); the other builders are the
API's and compute's ``instance.update``, the scheduler's ``select_destinations`` and the
conductor's ``build_instances`` failure. Every function taking ``w`` draws its message id
from the world's generator."""
from nvs_notif.simulate import catalogue
from nvs_notif.simulate.records import NOTIFICATIONS, VERSIONED


def legacy_payload(w, inst, extra=None):
    fl = inst.flavor
    img = inst.image
    p = {
        'tenant_id': inst.project.id, 'user_id': inst.user.id, 'instance_id': inst.uuid,
        'display_name': inst.name, 'hostname': inst.name,
        'reservation_id': inst.reservation_id,
        'instance_type': fl.name, 'instance_type_id': fl.id,
        'instance_flavor_id': fl.flavorid, 'memory_mb': fl.memory_mb,
        'disk_gb': fl.root_gb + fl.ephemeral_gb, 'root_gb': fl.root_gb,
        'ephemeral_gb': fl.ephemeral_gb, 'vcpus': fl.vcpus,
        'host': inst.host, 'node': inst.host,
        'availability_zone': w.zones.get(inst.host),
        'cell_name': '', 'architecture': 'x86_64', 'os_type': img.os_type,
        'kernel_id': '', 'ramdisk_id': '',
        'image_ref_url': img.url,
        'image_meta': {'base_image_ref': img.id, 'disk_format': img.disk_format,
                       'container_format': 'bare', 'min_disk': str(img.min_disk),
                       'min_ram': '0'},
        'created_at': inst.created_at, 'launched_at': inst.launched_at,
        'terminated_at': '', 'deleted_at': '',
        'state': inst.state, 'state_description': inst.task_state or '',
        'progress': '', 'access_ip_v4': None, 'access_ip_v6': None, 'metadata': {},
    }
    if extra:
        p.update(extra)
    return p


def fixed_ips(inst):
    return [{'address': inst.ip, 'type': 'fixed', 'version': 4, 'floating_ips': [],
             'label': 'private', 'meta': {}, 'vif_mac': inst.mac}]


def v_flavor(fl):
    return {'nova_object.name': 'FlavorPayload', 'nova_object.namespace': 'nova',
            'nova_object.version': '1.4',
            'nova_object.data': {
                'flavorid': fl.flavorid, 'name': fl.name, 'memory_mb': fl.memory_mb,
                'vcpus': fl.vcpus, 'root_gb': fl.root_gb, 'ephemeral_gb': fl.ephemeral_gb,
                'swap': 0, 'rxtx_factor': 1.0, 'disabled': False, 'is_public': True,
                'vcpu_weight': 0, 'extra_specs': {}, 'projects': None,
                'description': None}}


def v_fault(exc, msg, function, module):
    return {'nova_object.name': 'ExceptionPayload', 'nova_object.namespace': 'nova',
            'nova_object.version': '1.1',
            'nova_object.data': {
                'exception': exc, 'exception_message': msg, 'function_name': function,
                'module_name': module,
                'traceback': 'Traceback (most recent call last):\n  File "%s", line %d, '
                             'in %s\n%s: %s\n' % (module.replace('.', '/') + '.py',
                                                  1000 + len(msg), function, exc, msg)}}


def v_payload(w, inst, req, name='InstanceActionPayload', version='1.8', fault=None,
              extra=None):
    img = inst.image
    data = {
        'uuid': inst.uuid, 'display_name': inst.name, 'display_description': inst.name,
        'host_name': inst.name, 'host': inst.host, 'node': inst.host,
        'availability_zone': w.zones.get(inst.host), 'architecture': 'x86_64',
        'os_type': None,
        'kernel_id': '', 'ramdisk_id': '', 'image_uuid': img.id,
        'flavor': v_flavor(inst.flavor),
        'tenant_id': inst.project.id, 'user_id': inst.user.id,
        'reservation_id': inst.reservation_id, 'key_name': inst.key_name,
        'state': inst.state, 'power_state': inst.power_state,
        'task_state': inst.task_state, 'progress': 0,
        'created_at': inst.created_at_v, 'launched_at': inst.launched_at_v,
        'updated_at': inst.created_at_v, 'terminated_at': None, 'deleted_at': None,
        'metadata': {}, 'locked': False, 'locked_reason': None,
        'auto_disk_config': 'MANUAL',
        'ip_addresses': [{
            'nova_object.name': 'IpPayload', 'nova_object.namespace': 'nova',
            'nova_object.version': '1.0',
            'nova_object.data': {'mac': inst.mac, 'address': inst.ip,
                                 'port_uuid': inst.port_id, 'meta': {}, 'version': 4,
                                 'label': 'private',
                                 'device_name': 'tap' + inst.port_id[:11]}}]
        if inst.launched_at_v else [],
        'block_devices': [],
        'request_id': req.rid if req is not None else None,
        'action_initiator_user': req.user.id if req is not None else None,
        'action_initiator_project': req.project.id if req is not None else None,
        'fault': fault,
    }
    if extra:
        data.update(extra)
    return {'nova_object.name': name, 'nova_object.namespace': 'nova',
            'nova_object.version': version, 'nova_object.data': data}


def v_create_payload(w, inst, req, fault=None):
    extra = {'tags': [], 'trusted_image_certificates': None, 'instance_name':
             'instance-' + inst.uuid[:8],
             'keypairs': [{'nova_object.name': 'KeypairPayload',
                           'nova_object.namespace': 'nova', 'nova_object.version': '1.0',
                           'nova_object.data': {'user_id': inst.user.id,
                                                'name': inst.key_name, 'type': 'ssh',
                                                'fingerprint': 'SHA256:' + inst.uuid[:16],
                                                'public_key': 'ssh-ed25519 AAAAC3Nza'
                                                              + inst.uuid.replace('-', '')}}]
             if inst.key_name else []}
    return v_payload(w, inst, req, 'InstanceCreatePayload', '1.12', fault, extra)


def nova_event(w, t, req, inst, action, phase, host=None, fault=None, v_name=None,
               v_extra=None, l_extra=None, v_action=None):
    """One nova compute notification, legacy or versioned depending on the request.

    fault: (exception, message, function, module) or None."""
    host = host or inst.host
    error = phase == 'error'
    prio = 'ERROR' if error else 'INFO'
    if req.versioned:
        vf = v_fault(*fault) if fault else None
        if action == 'create':
            payload = v_create_payload(w, inst, req, vf)
        elif v_name:
            payload = v_payload(w, inst, req, v_name[0], v_name[1], vf, v_extra)
        else:
            payload = v_payload(w, inst, req, fault=vf, extra=v_extra)
        return w.notif(t, 'nova', VERSIONED, 'nova-compute:' + host, prio,
                          'instance.%s.%s' % (v_action or action, phase), payload, req.ctx)
    extra = l_extra
    if fault:
        # nova.compute.utils.exception_to_dict: the exception object, its message, code
        extra = dict(extra or ())
        extra['exception'] = catalogue.wire_exception(fault[0], fault[1], fault_fields(inst))
        extra['message'] = fault[1]
        extra['code'] = catalogue.exception_code(fault[0])
    payload = legacy_payload(w, inst, extra)
    return w.notif(t, 'nova', NOTIFICATIONS, 'compute.' + host, prio,
                      'compute.instance.%s.%s' % (action, phase), payload, req.ctx)


def wrapped_failure(w, t, req, inst, method, exc, msg, function, args=None, host=None,
                    classless=False):
    """What nova.exception_wrapper.wrap_exception sends when compute's ``method`` raises:
    legacy, an ERROR notification named after the method with the exception and the
    method's arguments; versioned, ``compute.exception`` with an ExceptionPayload whose
    function_name is the innermost frame (``function``) and whose traceback runs from
    the wrapper through ``method``.

    :param classless: the exception as nova before 18 serialised a NovaException: its
        ``__dict__``, ``{"kwargs": {...}}``, without class or message (legacy only)
    """
    host = host or inst.host
    if req.versioned:
        payload = v_fault(exc, msg, function, 'nova.virt.libvirt.driver')
        frames = (('nova/exception_wrapper.py', 'wrapped'),
                  ('nova/compute/manager.py', 'decorated_function'),
                  ('nova/compute/manager.py', method),
                  ('nova/virt/libvirt/driver.py', function))
        payload['nova_object.data']['traceback'] = 'Traceback (most recent call last):\n' + ''.join(
            '  File "/usr/lib/python3/dist-packages/%s", line %d, in %s\n' % (path, 100 + i, name)
            for i, (path, name) in enumerate(frames)) + '%s: %s\n' % (exc, msg)
        return w.notif(t, 'nova', VERSIONED, 'nova-compute:' + host, 'ERROR',
                       'compute.exception', payload, req.ctx)
    if classless:
        exception = {'kwargs': {'code': catalogue.exception_code(exc), 'reason': msg}}
    else:
        exception = catalogue.wire_exception(exc, msg, fault_fields(inst))
    call = {'instance': {'uuid': inst.uuid, 'host': host, 'vm_state': inst.state,
                         'task_state': inst.task_state}}
    call.update(args or {})
    return w.notif(t, 'nova', NOTIFICATIONS, 'compute.' + host, 'ERROR', method,
                   {'exception': exception, 'args': call}, req.ctx)


def fault_fields(inst):
    return {'port': inst.port_id, 'mem': inst.flavor.memory_mb, 'image': inst.image.id,
            'uuid': inst.uuid}


def instance_update(w, t, req, inst, old_state, old_task, host=None, api=False):
    if req.versioned:
        extra = {'state_update': {
            'nova_object.name': 'InstanceStateUpdatePayload',
            'nova_object.namespace': 'nova', 'nova_object.version': '1.0',
            'nova_object.data': {'old_state': old_state, 'state': inst.state,
                                 'old_task_state': old_task,
                                 'new_task_state': inst.task_state}},
            'audit_period': {'nova_object.name': 'AuditPeriodPayload',
                             'nova_object.namespace': 'nova',
                             'nova_object.version': '1.0',
                             'nova_object.data': {'audit_period_beginning': w.ts_v(t - (t % 3600)),
                                                  'audit_period_ending': w.ts_v(t)}},
            'old_display_name': None, 'tags': [], 'updated_at': w.ts_v(t)}
        payload = v_payload(w, inst, req, 'InstanceUpdatePayload', '2.0', None, extra)
        del payload['nova_object.data']['fault']
        pub = ('nova-api:' if api else 'nova-compute:') + (host or inst.host or req.api)
        return w.notif(t, 'nova', VERSIONED, pub, 'INFO', 'instance.update', payload,
                          req.ctx)
    payload = legacy_payload(w, inst, {
        'old_state': old_state, 'old_task_state': old_task,
        'new_task_state': inst.task_state,
        'audit_period_beginning': w.ts_legacy(t - (t % 3600)),
        'audit_period_ending': w.ts_legacy(t), 'bandwidth': {}})
    return w.notif(t, 'nova', NOTIFICATIONS, 'compute.' + (host or inst.host or req.api), 'INFO',
                      'compute.instance.update', payload, req.ctx)


def request_spec(inst, req):
    fl = inst.flavor
    if req.versioned:
        return {'nova_object.name': 'RequestSpecPayload', 'nova_object.namespace': 'nova',
                'nova_object.version': '1.1',
                'nova_object.data': {
                    'instance_uuid': inst.uuid, 'project_id': inst.project.id,
                    'user_id': inst.user.id, 'availability_zone': None,
                    'num_instances': 1, 'flavor': v_flavor(fl),
                    'image': {'nova_object.name': 'ImageMetaPayload',
                              'nova_object.namespace': 'nova',
                              'nova_object.version': '1.0',
                              'nova_object.data': {'id': inst.image.id,
                                                   'name': inst.image.name,
                                                   'disk_format': inst.image.disk_format,
                                                   'container_format': 'bare',
                                                   'size': inst.image.size,
                                                   'min_disk': inst.image.min_disk,
                                                   'min_ram': 0, 'status': 'active'}},
                    'ignore_hosts': None, 'force_hosts': None, 'force_nodes': None,
                    'pci_requests': None, 'numa_topology': None,
                    'requested_destination': None, 'retry': None,
                    'scheduler_hints': {}, 'security_groups': ['default']}}
    return {'request_spec': {
        'num_instances': 1, 'instance_uuids': [inst.uuid],
        'image': {'id': inst.image.id, 'name': inst.image.name,
                  'disk_format': inst.image.disk_format, 'size': inst.image.size},
        'instance_type': {'name': fl.name, 'flavorid': fl.flavorid, 'id': fl.id,
                          'memory_mb': fl.memory_mb, 'vcpus': fl.vcpus,
                          'root_gb': fl.root_gb, 'ephemeral_gb': fl.ephemeral_gb},
        'instance_properties': {'project_id': inst.project.id, 'user_id': inst.user.id,
                                'uuid': inst.uuid, 'display_name': inst.name,
                                'memory_mb': fl.memory_mb, 'vcpus': fl.vcpus,
                                'root_gb': fl.root_gb, 'availability_zone': None}}}


def scheduler_event(w, t, req, inst, phase):
    api = req.api
    payload = request_spec(inst, req)
    if req.versioned:
        return w.notif(t, 'nova', VERSIONED, 'nova-scheduler:' + api, 'INFO',
                          'scheduler.select_destinations.' + phase, payload, req.ctx)
    return w.notif(t, 'nova', NOTIFICATIONS, 'scheduler.' + api, 'INFO',
                      'scheduler.select_destinations.' + phase, payload, req.ctx)


def build_failed(w, t, req, inst, exc, msg):
    """conductor: compute_task.build_instances ERROR (NoValidHost / MaxRetriesExceeded),
    as nova.scheduler.utils.set_vm_state_and_notify sends it.

    NoValidHost is raised by the scheduler and comes back in the RPC reply of
    select_destinations (class ``NoValidHost_Remote``); MaxRetriesExceeded is the
    conductor's own."""
    api = req.api
    remote = exc == 'NoValidHost'
    if req.versioned:
        payload = {'nova_object.name': 'ComputeTaskPayload', 'nova_object.namespace': 'nova',
                   'nova_object.version': '1.0',
                   'nova_object.data': {
                       'instance_uuid': inst.uuid, 'state': 'error',
                       'request_spec': request_spec(inst, req),
                       'reason': v_fault(exc + '_Remote' if remote else exc, msg,
                                              '_schedule_instances',
                                              'nova.conductor.manager')}}
        return w.notif(t, 'nova', VERSIONED, 'nova-conductor:' + api, 'ERROR',
                          'compute_task.build_instances.error', payload, req.ctx)
    payload = dict(request_spec(inst, req))
    payload.update({'instance_properties': dict(payload['request_spec']['instance_properties']),
                    'instance_id': inst.uuid, 'state': 'error',
                    'method': 'build_instances',
                    'reason': catalogue.wire_exception(exc, msg, fault_fields(inst), remote)})
    return w.notif(t, 'nova', NOTIFICATIONS, 'compute_task.' + api, 'ERROR',
                      'compute_task.build_instances', payload, req.ctx)
