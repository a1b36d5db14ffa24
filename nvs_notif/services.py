"""Per-service tables: what each service's notifications mean.

Which service an event type or publisher belongs to, where each service puts
the resource, project, user, state, zone and flavor, and which operation an
error notification reports the failure of.  A new service's shape is added
here.
"""
import functools
import re

from nvs_notif import faults
from nvs_notif import wire

# The phase each last component of an event type names.  'progress' is nova's
# (e.g. aggregate.cache_images.progress); 'success' is ironic's action done at
# once, with no pair (baremetal.node.power_state_corrected.success).  '.update'
# is a periodic state report (compute.instance.update), not a phase.
_PHASE_SUFFIXES = {'start': 'start', 'end': 'end', 'error': 'error',
                   'progress': 'progress', 'success': 'none'}

_SERVICE_BY_EVENT_PREFIX = {
    **dict.fromkeys(('compute', 'compute_task', 'scheduler', 'conductor',
                     'aggregate', 'keypair', 'flavor', 'instance',
                     'server_group', 'libvirt', 'metrics'), 'nova'),
    **dict.fromkeys(('volume', 'snapshot', 'backup', 'consistencygroup',
                     'cgsnapshot', 'group', 'group_snapshot', 'capacity'),
                    'cinder'),
    'image': 'glance',
    **dict.fromkeys(('network', 'subnet', 'port', 'router', 'floatingip',
                     'security_group', 'security_group_rule'), 'neutron'),
    'identity': 'keystone',
    'orchestration': 'heat',
    # swift's CADF audit events (ceilometermiddleware)
    'objectstore': 'swift',
    # neutron's metering agent: l3.meter, and its label CRUD
    **dict.fromkeys(('l3', 'metering_label', 'metering_label_rule'), 'neutron'),
    # ironic: baremetal.<object>.<action>.<status> (ironic/objects/notification.py)
    'baremetal': 'ironic',
    'octavia': 'octavia',
    'dns': 'designate',
    'share': 'manila',
    # magnum's CADF events: magnum.cluster.<action> (magnum/conductor/utils.py)
    'magnum': 'magnum',
    # trove's usage events (trove.instance.create) and API events
    # (dbaas.instance_create.start), sent as 'taskmanager.h' or 'conductor.h'
    **dict.fromkeys(('trove', 'dbaas'), 'trove'),
}
# Legacy publisher_id prefixes ('compute.host-1') and binaries that are not
# named after their project.
_SERVICE_BY_PUBLISHER = {
    'compute': 'nova', 'conductor': 'nova', 'scheduler': 'nova',
    'volume': 'cinder', 'image': 'glance', 'network': 'neutron',
    'identity': 'keystone', 'orchestration': 'heat', 'metering': 'neutron',
}
# Event prefixes that name the service, not the resource: the resource noun
# is the next component (compute.instance.create.start -> instance).
_NOUN_IS_SECOND = frozenset(('compute', 'orchestration', 'identity', 'baremetal',
                             'octavia', 'dns', 'magnum', 'trove'))
# Event prefixes whose resource is not named in the event type.
_NOUN_OVERRIDE = {'compute_task': 'instance'}
_ID_KEYS = {
    'instance': ('instance_id', 'instance_uuid', 'uuid'),
    'stack': ('stack_identity', 'stack_id', 'id'),
    'image': ('id', 'image_id'),
}
_FALLBACK_ID_KEYS = (('instance_id', 'instance'), ('instance_uuid', 'instance'),
                     ('volume_id', 'volume'), ('snapshot_id', 'snapshot'),
                     ('image_id', 'image'), ('share_id', 'share'))
# ironic's nodes: 'provision_state' (deploying, active, deploy failed...).
_STATE_KEYS = ('state', 'status', 'vm_state', 'provision_state', 'outcome')
_PROJECT_KEYS = ('tenant_id', 'project_id')
# Where a service's payload names the project when no project key does:
# glance's image owner; ironic's node lessee (who uses it), else its owner.
_OWNER_KEYS = {'glance': ('owner',), 'ironic': ('lessee', 'owner')}
# Services whose resource names its project better than the request context:
# nova deploys bare-metal nodes calling ironic as its service user, so the
# context's project is nova's service project, not the tenant's.
_RESOURCE_PROJECT_FIRST = frozenset(('ironic',))
# Services whose payload 'host' is the backend ('host@backend#pool'): it wins
# over the publisher's host.
_BACKEND_HOST = frozenset(('cinder', 'manila'))
# heat's 'user_id' is the user *name*; 'user_identity' is the id.
_USER_KEYS = ('user_identity', 'user_id')


@functools.lru_cache(maxsize=4096)
def event_parts(event_type):
    """(operation, phase, first component, resource noun) of an event type."""
    operation, dot, last = event_type.rpartition('.')
    phase = _PHASE_SUFFIXES.get(last) if dot and operation else None
    if phase is None:
        operation, phase = event_type, 'none'
    parts = event_type.split('.')
    head = parts[0]
    if head in _NOUN_OVERRIDE:
        noun = _NOUN_OVERRIDE[head]
    elif head in _NOUN_IS_SECOND and len(parts) > 1:
        noun = parts[1]
    else:
        noun = head
    return operation, phase, head, noun



def service(head, prefix, binary_form, payload):
    if binary_form:
        # 'nova-compute:host1' names its project: the most reliable signal.
        project = prefix.partition('-')[0]
        return _SERVICE_BY_PUBLISHER.get(project, project) or head
    service = _SERVICE_BY_EVENT_PREFIX.get(head)
    if service:
        # cinder's and manila's schedulers also emit 'scheduler.*'
        # (create_volume, create_share).
        if head == 'scheduler':
            if 'volume_id' in payload:
                return 'cinder'
            if 'share_id' in payload:
                return 'manila'
        return service
    return _SERVICE_BY_PUBLISHER.get(prefix) or head


def host(service, publisher_host, payload):
    """Where it happened: the publisher's host; cinder's and manila's
    ``payload.host`` (``host@backend#pool``) names the backend too, so it wins."""
    payload_host = wire.as_id(payload.get('host'))
    if service in _BACKEND_HOST and payload_host:
        return payload_host
    return publisher_host or payload_host


def resource(service, noun, payload):
    if service == 'keystone' or _is_cadf(payload):
        return _cadf_resource(noun, payload)
    # neutron wraps the resource: {"port": {"id": ...}}; delete has port_id.
    nested = payload.get(noun)
    if isinstance(nested, dict):
        resource_id = wire.as_id(nested.get('id'))
        if resource_id:
            return noun, resource_id
    for key in _ID_KEYS.get(noun) or (noun + '_id', 'id', 'uuid'):
        resource_id = wire.as_id(payload.get(key))
        if resource_id:
            if noun == 'stack' and resource_id.startswith('arn:'):
                # old heat: arn:openstack:heat::<tenant>:stacks/<name>/<id>
                resource_id = resource_id.rpartition('/')[2] or resource_id
            return noun, resource_id
    # The event names no resource (scheduler.create_volume, wrapped
    # exceptions): fall back to the id keys services commonly use.
    for key, resource_type in _FALLBACK_ID_KEYS:
        resource_id = wire.as_id(payload.get(key))
        if resource_id:
            return resource_type, resource_id
    args = payload.get('args')
    if isinstance(args, dict):
        # nova's wrap_exception: the wrapped method's arguments; the instance
        # object serialised as a dict (or, before objects, its uuid).
        instance = args.get('instance')
        resource_id = wire.as_id(instance.get('uuid') if isinstance(instance, dict)
                                 else instance) or wire.as_id(args.get('instance_uuid'))
        if resource_id:
            return 'instance', resource_id
    return None, None


#: The typeURI of a CADF event (pycadf): keystone's audit notifications and the
#: API audit events of keystonemiddleware (``audit.http.request``) and swift's
#: ceilometermiddleware (``objectstore.http.request``).
CADF_EVENT = 'http://schemas.dmtf.org/cloud/audit/1.0/event'


def _is_cadf(payload):
    return payload.get('typeURI') == CADF_EVENT and isinstance(payload.get('target'), dict)


def _cadf_resource(noun, payload):
    """(type, id) of keystone's and CADF events: the CADF target, named by
    its typeURI (``data/security/project`` -> project); not the event's own id."""
    resource_id = wire.as_id(payload.get('resource_info'))   # keystone's basic format
    if resource_id:
        return noun, resource_id
    if noun == 'authenticate':
        # The CADF target of an authentication is a fresh id; the user is
        # the initiator.
        resource_id = cadf_user(payload)
        return ('user', resource_id) if resource_id else (None, None)
    if noun == 'role_assignment':
        # The target is a fresh Resource per event; the assignment is of a role.
        resource_id = wire.as_id(payload.get('role'))
        return ('role', resource_id) if resource_id else (None, None)
    target = payload.get('target')
    if not isinstance(target, dict):
        return None, None
    resource_id = wire.as_id(target.get('id'))
    if not resource_id:
        return None, None
    type_uri = target.get('typeURI')
    if isinstance(type_uri, str) and type_uri:
        return type_uri.rstrip('/').rpartition('/')[2], resource_id
    return noun, resource_id


def project(service, context_project, payload, nested):
    """The project: the request context's, else the payload's
    (:func:`payload_project`); the payload's first for the services of
    ``_RESOURCE_PROJECT_FIRST``."""
    if service in _RESOURCE_PROJECT_FIRST:
        return payload_project(service, payload, nested) or context_project
    return context_project or payload_project(service, payload, nested)


def payload_project(service, payload, nested):
    owner_keys = _OWNER_KEYS.get(service)
    if owner_keys:
        return _payload_id(payload, nested, _PROJECT_KEYS) or _first_id(payload, owner_keys)
    return (_payload_id(payload, nested, _PROJECT_KEYS)
            or _role_assignment(payload, 'project')
            or cadf_initiator(payload, 'project_id'))


def payload_user(service, payload, nested):
    return (_payload_id(payload, nested, _USER_KEYS)
            or _role_assignment(payload, 'user')
            or (cadf_initiator(payload, 'user_id') if service in _CADF_ACTIVITY_SERVICES
                else cadf_user(payload)))


def _payload_id(payload, nested, keys):
    return _first_id(payload, keys) or (_first_id(nested, keys) if nested is not None else None)


def _role_assignment(payload, key):
    # keystone's identity.role_assignment.*: role, user|group, project|domain
    if 'role' in payload and 'inherited_to_projects' in payload:
        return wire.as_id(payload.get(key))
    return None


def cadf_user(payload):
    """The user of a CADF event: ``initiator.user_id`` (keystone), else
    ``initiator.id`` (keystone's authenticate without user_id, the API audit
    events of keystonemiddleware and swift)."""
    return cadf_initiator(payload, 'user_id') or cadf_initiator(payload, 'id')


def cadf_initiator(payload, key):
    initiator = payload.get('initiator')
    if isinstance(initiator, dict):
        return wire.as_id(initiator.get(key))
    return None


def _first_id(mapping, keys):
    for key in keys:
        value = wire.as_id(mapping.get(key))
        if value:
            return value
    return None


def state(payload, nested):
    for source in (payload, nested):
        if source is None:
            continue
        for key in _STATE_KEYS:
            value = source.get(key)
            if type(value) is str and value:
                return value
    return None


def placement(payload):
    """(availability zone, flavor name) a nova or cinder payload names, or Nones.

    Instances and volumes carry ``availability_zone``; the flavor is legacy
    nova's ``instance_type`` (its name) or versioned ``flavor.name``.  The
    scheduler's and conductor's ``request_spec`` hold them too: legacy
    ``instance_properties.availability_zone`` and ``instance_type.name``,
    versioned ``availability_zone`` and ``flavor.name``.
    """
    zone, flavor = faults.as_text(payload.get('availability_zone')), _flavor_name(payload)
    spec = payload.get('request_spec')
    if isinstance(spec, dict):
        props = spec.get('instance_properties')
        zone = (zone or faults.as_text(spec.get('availability_zone'))
                or (faults.as_text(props.get('availability_zone')) if isinstance(props, dict) else None))
        flavor = flavor or _flavor_name(spec)
    return zone, flavor


def _flavor_name(data):
    for key in ('flavor', 'instance_type'):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get('name')
        if type(value) is str and value:
            return value
    return None




# --- failures reported for an operation ---------------------------------------

#: nova-compute's RPC methods that nova.exception_wrapper.wrap_exception wraps,
#: by the instance action they run: (legacy action, versioned action), the
#: middle of ``compute.instance.<legacy>.start`` and ``instance.<versioned>.start``
#: (nova/compute/manager.py, nova/objects/fields.py NotificationAction).  When
#: one raises, nova sends no ``.end`` and usually no ``.error``, only an ERROR
#: notification: legacy, event_type the method's name; versioned,
#: ``compute.exception``.  None: that generation sends no pair for it.
NOVA_COMPUTE_FUNCTIONS = {
    'build_and_run_instance': ('create', 'create'),
    '_do_build_and_run_instance': ('create', 'create'),
    'run_instance': ('create', 'create'),                   # before Icehouse
    'terminate_instance': ('delete', 'delete'),
    'soft_delete_instance': ('soft_delete', 'soft_delete'),
    'stop_instance': ('power_off', 'power_off'),
    'start_instance': ('power_on', 'power_on'),
    'trigger_crash_dump': ('trigger_crash_dump', 'trigger_crash_dump'),
    'restore_instance': ('restore', 'restore'),
    'rebuild_instance': ('rebuild', 'rebuild'),
    'reboot_instance': ('reboot', 'reboot'),
    'backup_instance': ('snapshot', 'snapshot'),
    'snapshot_instance': ('snapshot', 'snapshot'),
    '_snapshot_instance': ('snapshot', 'snapshot'),
    'rescue_instance': ('rescue', 'rescue'),
    'unrescue_instance': ('unrescue', 'unrescue'),
    'prep_resize': ('resize.prep', 'resize_prep'),
    'resize_instance': ('resize', 'resize'),
    'finish_resize': ('finish_resize', 'resize_finish'),
    'confirm_resize': ('resize.confirm', 'resize_confirm'),
    'revert_resize': ('resize.revert', 'resize_revert'),
    'finish_revert_resize': ('resize.revert', 'resize_revert'),
    'pause_instance': ('pause', 'pause'),
    'unpause_instance': ('unpause', 'unpause'),
    'suspend_instance': ('suspend', 'suspend'),
    'resume_instance': ('resume', 'resume'),
    'shelve_instance': ('shelve', 'shelve'),
    'shelve_offload_instance': ('shelve_offload', 'shelve_offload'),
    'unshelve_instance': ('unshelve', 'unshelve'),
    'attach_volume': (None, 'volume_attach'),
    'detach_volume': (None, 'volume_detach'),
    'swap_volume': (None, 'volume_swap'),
    'attach_interface': (None, 'interface_attach'),
    'detach_interface': (None, 'interface_detach'),
    'add_fixed_ip_to_instance': ('create_ip', None),
    'remove_fixed_ip_from_instance': ('delete_ip', None),
    'pre_live_migration': ('live_migration.pre', 'live_migration_pre'),
    'post_live_migration_at_destination': ('live_migration.post.dest',
                                           'live_migration_post_dest'),
    'rollback_live_migration_at_destination': ('live_migration.rollback.dest',
                                               'live_migration_rollback_dest'),
}

#: Failures reported by another operation than the one that failed:
#: (reporting operation, exception or None for any) -> the operation that
#: failed.  Nova's scheduler raises NoValidHost out of select_destinations
#: without an ``.error`` notification; only the conductor's
#: compute_task.build_instances error says so (legacy at ERROR priority,
#: versioned as ``.error``); MaxRetriesExceeded is not the scheduler's failure
#: (its own span).  cinder's scheduler reports a volume it could not place as
#: ``scheduler.create_volume`` at ERROR priority: the volume manager's flow,
#: which sends ``volume.create.start``/``.end``, never runs, so this error is
#: all there is of the failed create (a start-less failed ``volume.create``).
REPORTED_FOR = {
    ('compute_task.build_instances', 'NoValidHost'): 'scheduler.select_destinations',
    ('scheduler.create_volume', None): 'volume.create',
    # manila's scheduler alike (_set_share_state_and_notify): no share.create.start
    ('scheduler.create_share', None): 'share.create',
}

#: Operations that run inside another one of the same request and send no end
#: when it fails: nova's delete runs the shutdown (_delete_instance ->
#: _shutdown_instance), and a driver that fails to destroy the guest leaves
#: ``shutdown.start`` without its end.  An error of the outer operation fails
#: the inner one if it was running (spans.Span.aborted_at).
NESTED_IN = {
    'compute.instance.delete': ('compute.instance.shutdown',),
    'instance.delete': ('instance.shutdown',),
}

#: Operations some releases named twice: nova of Icehouse sent
#: ``compute.instance.instance.create.error`` before a reschedule.
OPERATION_ALIASES = {'compute.instance.instance.create': 'compute.instance.create'}

#: ironic's ``baremetal.node.provision_set`` tells every move of a node's
#: provisioning state machine (ironic/conductor/task_manager.py): ``.start``
#: from a stable state into an unstable one, ``.end`` back into a stable one,
#: ``.error`` on its fail event, ``.success`` between.  One provisioning
#: (deploy, cleaning, inspection, rescue) aims at one stable state, which its
#: start names in ``target_provision_state`` and the rest in
#: ``previous_target_provision_state``: the operation is named after it
#: (``baremetal.node.provision_set.active`` is a deploy), so a node's deploy
#: and its cleaning are spans of their own.
PER_TARGET_OPERATIONS = frozenset(('baremetal.node.provision_set',))
_TARGET_KEYS = ('previous_target_provision_state', 'target_provision_state')

#: Operations whose start and end come from different requests, so their
#: span is the resource's (:func:`span_key`): ironic's provisioning starts in
#: the API's request and ends in the conductor's handling of the deploy
#: ramdisk's heartbeat; magnum's cluster actions start in the API's request and
#: end in the conductor's periodic status sync (magnum/service/periodic.py).
#: Repeats on one resource merge into one span (attempts), unless the run
#: names itself (:data:`RUN_KEYS`).
RESOURCE_SPANS = ('baremetal.node.provision_set', 'magnum.cluster.')

#: Of :data:`RESOURCE_SPANS`, the operations whose every run names itself in
#: its start, end and error: the payload key that tells one run from the
#: next on the same resource.  A node is deployed again and again (every
#: bare-metal server nova boots is a deploy of a node it reuses): nova sets
#: the node's ``instance_uuid`` before it deploys, and ironic clears it only
#: at teardown (ironic/conductor/manager.py), so each instance's deploy is a
#: span of its own.  A deploy without an instance (ironic standalone) is the
#: node's, as before.
RUN_KEYS = {'baremetal.node.provision_set.active': 'instance_uuid'}

#: The phase a CADF event's outcome tells, for services whose CADF events
#: report an operation's progress rather than a completed act (keystone's):
#: magnum sends ``pending`` when a cluster action starts, then ``success`` or
#: ``failure`` (at ERROR priority) when it finished.
CADF_OUTCOME_PHASES = {'pending': 'start', 'success': 'end', 'failure': 'error'}
#: Services whose CADF events are such activities (pycadf's EventFactory);
#: their initiator's ``id`` is a fresh uuid, not the user's.
_CADF_ACTIVITY_SERVICES = frozenset(('magnum',))

#: A frame of a formatted Python traceback: '  File "...", line 12, in name'.
_TRACEBACK_FRAME = re.compile(r'File "[^"\n]*", line \d+, in (\w+)')


def reported_operation(operation, phase, priority, service, payload, fault):
    """``(operation, phase)`` a notification is about.

    Mostly its own: ``event_type`` without the phase.  An error told otherwise
    is made an ``error`` of the operation that failed, so it becomes an error
    fragment of that operation's span (same request id, the reporter's host):

    * an error or critical notification without a phase: nova's
      ``wrap_exception`` (event type the wrapped method's name; versioned,
      ``compute.exception``: :data:`NOVA_COMPUTE_FUNCTIONS`), older schedulers'
      ``scheduler.run_instance``, the conductor's ``compute_task.*``; those no
      table maps fail their own operation;
    * a failure :data:`REPORTED_FOR` another operation;
    * nova's ``.end`` of a build that was aborted (the instance was deleted
      while building): it carries the fault, or a message other than
      ``Success``.

    Some operations are named from their payload (:data:`PER_TARGET_OPERATIONS`)
    and some phases told by it (:data:`CADF_OUTCOME_PHASES`).
    """
    operation = OPERATION_ALIASES.get(operation, operation)
    if operation in PER_TARGET_OPERATIONS:
        target = _first_id(payload, _TARGET_KEYS)
        if target:
            operation = operation + '.' + target
    if phase == 'none' and service in _CADF_ACTIVITY_SERVICES and _is_cadf(payload):
        phase = CADF_OUTCOME_PHASES.get(payload.get('outcome'), phase)
    if fault is not None and (phase == 'error' or priority in faults.ERROR_PRIORITIES):
        failed = (REPORTED_FOR.get((operation, fault.exception))
                  or REPORTED_FOR.get((operation, None)))
        if failed is not None:
            return failed, 'error'
    if phase == 'none' and priority in faults.ERROR_PRIORITIES:
        return _wrapped_operation(operation, payload), 'error'
    if phase == 'end' and service == 'nova' and _aborted_end(payload):
        return operation, 'error'
    return operation, phase


def span_key(operation, request_id, resource_id, payload):
    """What a span of ``operation`` is keyed by besides it: the request id,
    the resource id (with the run's, :data:`RUN_KEYS`) for
    :data:`RESOURCE_SPANS`, the resource id for requests without an id."""
    if resource_id and operation.startswith(RESOURCE_SPANS):
        run = wire.as_id(payload.get(RUN_KEYS[operation])) if operation in RUN_KEYS else None
        return '%s\x1f%s' % (resource_id, run) if run else resource_id
    return request_id or resource_id


def _wrapped_operation(operation, payload):
    if operation == 'compute.exception':
        # ExceptionPayload.function_name is the innermost frame; the wrapped
        # method is the outermost known one of the traceback.
        names = _TRACEBACK_FRAME.findall(faults.as_text(payload.get('traceback')) or '')
        names.append(faults.as_text(payload.get('function_name')))
        for name in names:
            actions = NOVA_COMPUTE_FUNCTIONS.get(name)
            if actions and actions[1]:
                return 'instance.' + actions[1]
        return operation
    actions = NOVA_COMPUTE_FUNCTIONS.get(operation)
    if actions and actions[0]:
        return 'compute.instance.' + actions[0]
    return operation


def _aborted_end(payload):
    fault = payload.get('fault')
    if isinstance(fault, dict) and fault:
        return True             # versioned: InstanceCreatePayload.fault
    message = faults.as_text(payload.get('message'))
    return (payload.get('exception') is not None
            or (message is not None and message != 'Success'))
