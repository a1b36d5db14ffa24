"""A seeded, deterministic synthetic OpenStack cloud that emits notifications.

:func:`simulate` yields :class:`SimulatedNotification` objects in timestamp order, as the
services of a small cloud would put them on the bus: nova (legacy and versioned payloads),
cinder, glance, neutron, keystone (CADF) and heat, with interleaved concurrent request flows,
sub-requests sharing a ``global_request_id``, reschedules, failures, hung requests and periodic
notifications. Used for demos, replay, benchmarks and load tests.

Design:

* every request flow is a Python generator yielding ``(sim_seconds, item)`` with increasing
  times; an item is a :class:`SimulatedNotification`, a new flow generator to start, or
  ``None`` (a periodic source waking up with nothing to say);
* the engine keeps one pending item per live flow in a heap, so memory is proportional to the
  number of concurrent flows (bounded), never to ``count``;
* all randomness comes from one ``random.Random(seed)`` consumed in heap order, so the same
  arguments always produce the same stream.

Real-life quirks reproduced on purpose (downstream correlation must cope with them):

* a NoValidHost scheduling failure leaves ``scheduler.select_destinations.start`` without an
  ``.end`` (nova never sends one); the request is closed by ``compute_task.build_instances``
  (priority ERROR, conductor) carrying the same request_id;
* a rescheduled create emits ``compute.instance.create.start``/``.error`` on 2-3 hosts under
  one request_id, the last attempt ending in ``.end`` or in ``compute_task.build_instances``
  (MaxRetriesExceeded);
* hung requests stop right after one ``.start`` (possibly a sub-request's, e.g. a neutron
  ``port.create.start``, which then also leaves the parent nova operation open);
* keystone sends its CADF notifications with an empty context (the request id is in
  ``initiator.request_id``);
* legacy error payloads carry the exception as the services' JSON serialiser
  (oslo.serialization ``to_primitive``) writes an exception object: its ``repr``. A
  NovaException's is ``str`` of its ``__dict__`` with ``'class'`` (nova >= 18), e.g.
  ``"{'kwargs': {'port_id': ..., 'code': 400}, 'message': '...', 'class': 'PortBindingFailed'}"``,
  any other exception's ``Name('message')``. ``compute.instance.*.error`` has it in
  ``exception`` (nova ``exception_to_dict``); the conductor's ``compute_task.build_instances``
  (``set_vm_state_and_notify``) and cinder's ``scheduler.create_volume`` have it in ``reason``
  and no ``exception`` key. A NoValidHost comes to the conductor in the scheduler's RPC
  reply, so its class is oslo.messaging's ``NoValidHost_Remote``;
* nova sends ``service.update`` only when a service's disabled / disabled_reason /
  forced_down changes (here: a compute service disabled for maintenance, then enabled),
  never as a heartbeat, so an idle host is silent.
"""
import base64
import dataclasses
import datetime
import heapq
import json
import math
import random

__all__ = ['SimulatedNotification', 'simulate', 'write_jsonl', 'FLOW_KINDS',
           'DEFAULT_START', 'DEFAULT_MIX']

DEFAULT_START = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)

#: Relative weights of the request flows started by users (see ``mix`` in :func:`simulate`).
DEFAULT_MIX = {
    'server_create': 0.20,
    'server_delete': 0.10,
    'server_resize': 0.05,
    'server_rebuild': 0.03,
    'server_power': 0.07,
    'server_snapshot': 0.04,
    'volume_create': 0.06,
    'volume_delete': 0.04,
    'volume_attach': 0.04,
    'image_create': 0.04,
    'image_delete': 0.02,
    'network_create': 0.03,
    'router_create': 0.02,
    'port_create': 0.03,
    'keystone_auth': 0.16,
    'keystone_project': 0.01,
    'heat_stack': 0.03,
}
FLOW_KINDS = tuple(DEFAULT_MIX)

_NOTIF = 'notifications'
_VNOTIF = 'versioned_notifications'
_UTC = datetime.timezone.utc
_TD = datetime.timedelta


@dataclasses.dataclass(frozen=True, slots=True)
class SimulatedNotification:
    exchange: str        # control exchange: nova, cinder, glance, neutron, keystone, heat
    topic: str           # 'notifications' or 'versioned_notifications'
    publisher_id: str
    priority: str        # 'INFO' or 'ERROR'
    event_type: str
    payload: dict
    context: dict
    timestamp: datetime.datetime    # UTC-aware, simulated time
    message_id: str

    def to_message(self):
        """The notification dict as oslo.messaging puts it on the wire (v1 body), with the
        request context flattened as ``_context_<key>`` entries."""
        msg = {'message_id': self.message_id,
               'publisher_id': self.publisher_id,
               'event_type': self.event_type,
               'priority': self.priority,
               'payload': self.payload,
               'timestamp': self.timestamp.strftime('%Y-%m-%d %H:%M:%S.%f')}
        for key, value in self.context.items():
            msg['_context_' + key] = value
        return msg


def write_jsonl(notifications, fileobj):
    """Write one ``to_message()`` JSON object per line; return the number written."""
    n = 0
    dumps = json.dumps
    write = fileobj.write
    for notif in notifications:
        write(dumps(notif.to_message(), sort_keys=True) + '\n')
        n += 1
    return n


# --------------------------------------------------------------------------- catalogue

# name, id, vcpus, memory_mb, root_gb, ephemeral_gb
_FLAVORS = (
    ('m1.tiny', 1, 1, 512, 1, 0),
    ('m1.small', 2, 1, 2048, 20, 0),
    ('m1.medium', 3, 2, 4096, 40, 0),
    ('m1.large', 4, 4, 8192, 80, 0),
    ('m1.xlarge', 5, 8, 16384, 160, 0),
    ('c1.4x8', 6, 4, 8192, 40, 20),
)
# name, size in bytes, disk_format, os_type, min_disk
_IMAGES = (
    ('cirros-0.6.2-x86_64', 21430272, 'qcow2', 'linux', 1),
    ('ubuntu-22.04-server', 682164224, 'qcow2', 'linux', 10),
    ('debian-12-generic', 417333248, 'qcow2', 'linux', 5),
    ('centos-stream-9', 1163001856, 'qcow2', 'linux', 10),
    ('fedora-39-cloud', 554696704, 'qcow2', 'linux', 5),
    ('windows-server-2019', 12884901888, 'raw', 'windows', 40),
)

# (exception class, message template, reschedulable?)  -- failures on a compute host
_COMPUTE_FAULTS = (
    ('PortBindingFailed', 'Binding failed for port {port}, please check neutron logs for more '
                          'information.', True),
    ('ComputeResourcesUnavailable', 'Insufficient compute resources: Free memory 1024.00 MB '
                                    '< requested {mem} MB.', True),
    ('VirtualInterfaceCreateException', 'Virtual Interface creation failed', True),
    ('libvirtError', 'internal error: qemu unexpectedly closed the monitor: '
                     'Could not allocate guest RAM', True),
    ('ImageNotFound', 'Image {image} could not be found.', False),
    ('BuildAbortException', 'Build of instance {uuid} aborted: Failure prepping block '
                            'device.', False),
)
#: NovaException subclasses: their ``code`` and constructor kwargs (templates as above);
#: libvirtError is not one.
_NOVA_EXCEPTIONS = {
    'PortBindingFailed': (400, {'port_id': '{port}'}),
    'ComputeResourcesUnavailable': (503, {'reason': 'Free memory 1024.00 MB < requested '
                                                    '{mem} MB'}),
    'VirtualInterfaceCreateException': (500, {}),
    'ImageNotFound': (404, {'image_id': '{image}'}),
    'BuildAbortException': (500, {'instance_uuid': '{uuid}',
                                  'reason': 'Failure prepping block device.'}),
    'NoValidHost': (500, {'reason': 'There are not enough hosts available.'}),
    'MaxRetriesExceeded': (500, {'reason': 'Exhausted all hosts available for retrying build '
                                           'failures for instance {uuid}.'}),
}
_RESCHEDULABLE = tuple((e, m) for e, m, r in _COMPUTE_FAULTS if r)
_FATAL = tuple((e, m) for e, m, r in _COMPUTE_FAULTS if not r)
_NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.'
_MAX_RETRIES = ('Exceeded maximum number of retries. Exhausted all hosts available for '
                'retrying build failures for instance {uuid}.')


def _wire_exception(exc, msg, fields=None, remote=False):
    """An exception as a legacy payload carries it: what ``jsonutils.to_primitive`` makes
    of the exception object, i.e. its ``repr``.

    A NovaException's ``__repr__`` (nova >= 18) is ``str(self.__dict__)`` plus ``'class'``;
    any other exception has ``BaseException.__repr__``. ``remote``: raised in another
    service and re-raised from the RPC reply, as oslo.messaging's ``<name>_Remote``."""
    name = exc + '_Remote' if remote else exc
    known = _NOVA_EXCEPTIONS.get(exc)
    if known is None:
        return '%s(%r)' % (name, msg)
    code, templates = known
    kwargs = {k: v.format(**(fields or {})) for k, v in templates.items()}
    kwargs['code'] = code
    return str({'kwargs': kwargs, 'message': msg, 'class': name})


def _exception_code(exc):
    known = _NOVA_EXCEPTIONS.get(exc)
    return known[0] if known else 500


_NAMES = ('web', 'db', 'cache', 'worker', 'api', 'batch', 'k8s-node', 'build', 'etl', 'lb')
_AGENTS = ('python-openstackclient', 'python-novaclient', 'openstacksdk/1.0.1',
           'keystoneauth1/5.5.0 python-requests/2.31.0', 'Terraform/1.6.6 gophercloud/1.7.0')


class _Flavor:
    __slots__ = ('name', 'id', 'flavorid', 'vcpus', 'memory_mb', 'root_gb', 'ephemeral_gb')

    def __init__(self, name, id_, flavorid, vcpus, memory_mb, root_gb, ephemeral_gb):
        self.name, self.id, self.flavorid = name, id_, flavorid
        self.vcpus, self.memory_mb = vcpus, memory_mb
        self.root_gb, self.ephemeral_gb = root_gb, ephemeral_gb


class _Image:
    __slots__ = ('id', 'name', 'size', 'disk_format', 'os_type', 'min_disk', 'checksum',
                 'owner', 'url')


class _User:
    __slots__ = ('id', 'name', 'project', 'token', 'roles', 'address')


class _Project:
    __slots__ = ('id', 'name', 'users', 'network_id', 'subnet_id', 'sg_id', 'net_prefix',
                 'next_ip')


class _Instance:
    __slots__ = ('uuid', 'name', 'host', 'flavor', 'image', 'project', 'user', 'created_at',
                 'created_at_v', 'launched_at', 'launched_at_v', 'state', 'power_state',
                 'task_state', 'reservation_id', 'ip', 'mac', 'port_id', 'key_name', 'busy',
                 'volume_id')


class _Req:
    """One API request: its context and the format nova uses for it."""
    __slots__ = ('ctx', 'rid', 'versioned', 'user', 'project', 'api')

    def __init__(self, ctx, rid, versioned, user, project, api):
        self.ctx, self.rid, self.versioned = ctx, rid, versioned
        self.user, self.project, self.api = user, project, api


class _Outcome:
    __slots__ = ('ok', 'instance', 'fault')

    def __init__(self):
        self.ok = None
        self.instance = None
        self.fault = None


# --------------------------------------------------------------------------- the simulator

class _Sim:

    def __init__(self, seed, start, hosts, projects, users_per_project, controllers, rate,
                 hung_ratio, error_ratio, reschedule_ratio, versioned_ratio,
                 boot_from_volume_ratio, maintenance_interval, audit_interval,
                 instances_per_host, max_instances, mix):
        self.rng = rng = random.Random(seed)
        self.start = start
        self.rate = rate
        self.hung_ratio = hung_ratio
        self.error_ratio = error_ratio
        self.reschedule_ratio = reschedule_ratio
        self.versioned_ratio = versioned_ratio
        self.bfv_ratio = boot_from_volume_ratio
        self.maintenance_interval = maintenance_interval
        self.audit_interval = audit_interval
        self.max_instances = max_instances
        self.kinds = list(mix)
        total = float(sum(mix.values()))
        acc, self.cum = 0.0, []
        for k in self.kinds:
            acc += mix[k] / total
            self.cum.append(acc)
        self.cum[-1] = 1.0

        self.computes = ['host-%d' % i for i in range(1, hosts + 1)]
        # Two availability zones: the first half of the compute hosts, the rest.
        self.zones = {h: 'az-%d' % (1 + 2 * i // len(self.computes))
                      for i, h in enumerate(self.computes)}
        self.controllers = ['ctl-%d' % i for i in range(1, controllers + 1)]
        self.cinder_host = 'cinder-1'
        self.glance_host = 'glance-1'
        self.glance_url = 'http://%s:9292/images/' % self.glance_host
        self.keystone_service_id = self.hex32()

        self.flavors = [_Flavor(n, i, self.uuid(), c, m, r, e) for n, i, c, m, r, e in _FLAVORS]
        self.projects = []
        self.users = []
        for p in range(projects):
            proj = _Project()
            proj.id = self.hex32()
            proj.name = 'project-%d' % (p + 1)
            proj.network_id, proj.subnet_id, proj.sg_id = self.uuid(), self.uuid(), self.uuid()
            proj.net_prefix = '10.%d.' % ((p % 250) + 1)
            proj.next_ip = 10
            proj.users = []
            for u in range(users_per_project):
                user = _User()
                user.id = self.hex32()
                user.name = '%s-user-%d' % (proj.name, u + 1)
                user.project = proj
                user.token = self.token()
                user.roles = ['admin', 'member', 'reader'] if u == 0 else ['member', 'reader']
                user.address = '192.0.2.%d' % rng.randint(2, 254)
                proj.users.append(user)
                self.users.append(user)
            self.projects.append(proj)
        self.images = []
        for name, size, fmt, os_type, min_disk in _IMAGES:
            img = _Image()
            img.id, img.name, img.size, img.disk_format = self.uuid(), name, size, fmt
            img.os_type, img.min_disk, img.checksum = os_type, min_disk, '%032x' % rng.getrandbits(128)
            img.owner = self.projects[0].id
            img.url = self.glance_url + img.id
            self.images.append(img)
        self.instances = []
        for host in self.computes:
            for _ in range(instances_per_host):
                user = rng.choice(self.users)
                age = rng.uniform(3600, 90 * 86400)
                inst = self.new_instance(user, -age, host)
                self.launch(inst, -age + rng.uniform(20, 90))
                self.instances.append(inst)

    # ------------------------------------------------------------------ small helpers

    def uuid(self):
        n = self.rng.getrandbits(128)
        h = '%032x' % ((n & 0xffffffffffff0fff3fffffffffffffff) | 0x00000000000040008000000000000000)
        return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def hex32(self):
        return '%032x' % self.rng.getrandbits(128)

    def req_id(self):
        return 'req-' + self.uuid()

    def token(self):
        raw = self.rng.getrandbits(1200).to_bytes(150, 'big')
        return 'gAAAAAB' + base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')

    def dt(self, t):
        return self.start + _TD(seconds=t)

    def ts_legacy(self, t):
        return self.dt(t).strftime('%Y-%m-%d %H:%M:%S+00:00')

    def ts_v(self, t):
        return self.dt(t).strftime('%Y-%m-%dT%H:%M:%SZ')

    def ts_cadf(self, t):
        return self.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f+0000')

    def lognorm(self, median, sigma):
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def notif(self, t, exchange, topic, publisher, priority, event_type, payload, ctx):
        return SimulatedNotification(exchange, topic, publisher, priority, event_type, payload,
                                     dict(ctx), self.start + _TD(seconds=t), self.uuid())

    def request(self, t, user=None, global_request_id=None, service='nova', versioned=None,
                extra=None):
        rng = self.rng
        if user is None:
            user = rng.choice(self.users)
        proj = user.project
        rid = self.req_id()
        ctx = {
            'user': user.id, 'user_id': user.id, 'user_name': user.name,
            'tenant': proj.id, 'project_id': proj.id, 'project_name': proj.name,
            'domain': None, 'user_domain': 'default', 'project_domain': 'default',
            'is_admin': 'admin' in user.roles, 'read_only': False, 'show_deleted': False,
            'roles': list(user.roles), 'auth_token': user.token,
            'request_id': rid, 'global_request_id': global_request_id,
            'resource_uuid': None, 'remote_address': user.address,
            'timestamp': self.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f'),
            'user_identity': '%s %s - default default' % (user.id, proj.id),
        }
        if service == 'neutron':
            ctx['tenant_id'] = proj.id
            ctx['tenant_name'] = proj.name
        elif service == 'cinder':
            ctx['quota_class'] = None
            ctx['service_catalog'] = []
        elif service == 'heat':
            # heat's context carries the user's credentials for deferred auth
            ctx['username'] = user.name
            ctx['password'] = ('s3cr3t-%d' % rng.getrandbits(24)) if rng.random() < 0.3 else None
            ctx['auth_url'] = 'http://ctl-1/identity/v3'
            ctx['trust_id'] = None
        if extra:
            ctx.update(extra)
        if versioned is None:
            versioned = service == 'nova' and rng.random() < self.versioned_ratio
        return _Req(ctx, rid, versioned, user, proj, rng.choice(self.controllers))

    def admin_ctx(self):
        return {'user': None, 'user_id': None, 'tenant': None, 'project_id': None,
                'is_admin': True, 'read_only': False, 'show_deleted': False, 'roles': [],
                'auth_token': None, 'request_id': self.req_id(), 'global_request_id': None,
                'user_identity': '- - - - -'}

    def new_instance(self, user, t, host=None):
        rng = self.rng
        inst = _Instance()
        inst.uuid = self.uuid()
        inst.name = '%s-%d' % (rng.choice(_NAMES), rng.randint(1, 999))
        inst.host = host
        inst.flavor = rng.choice(self.flavors)
        inst.image = rng.choice(self.images)
        inst.project = user.project
        inst.user = user
        inst.created_at = self.ts_legacy(t)
        inst.created_at_v = self.ts_v(t)
        inst.launched_at = ''
        inst.launched_at_v = None
        inst.state, inst.power_state, inst.task_state = 'building', 'pending', 'scheduling'
        inst.reservation_id = 'r-%08x' % rng.getrandbits(32)
        proj = user.project
        proj.next_ip = proj.next_ip + 1 if proj.next_ip < 65000 else 10
        inst.ip = '%s%d.%d' % (proj.net_prefix, proj.next_ip // 250, proj.next_ip % 250 + 2)
        inst.mac = 'fa:16:3e:%02x:%02x:%02x' % (rng.getrandbits(8), rng.getrandbits(8),
                                                 rng.getrandbits(8))
        inst.port_id = self.uuid()
        inst.key_name = 'key-%s' % user.name if rng.random() < 0.7 else None
        inst.busy = False
        inst.volume_id = None
        return inst

    def launch(self, inst, t):
        inst.launched_at = self.ts_legacy(t)
        inst.launched_at_v = self.ts_v(t)
        inst.state, inst.power_state, inst.task_state = 'active', 'running', None

    def pick_instance(self, user=None):
        rng = self.rng
        insts = self.instances
        for _ in range(6):
            if not insts:
                return None
            inst = insts[rng.randrange(len(insts))]
            if not inst.busy and inst.state in ('active', 'stopped'):
                inst.busy = True
                return inst
        return None

    def register(self, inst):
        insts = self.instances
        if len(insts) >= self.max_instances:
            for i, old in enumerate(insts):
                if not old.busy:
                    del insts[i]
                    break
        insts.append(inst)

    # ------------------------------------------------------------------ nova payloads

    def legacy_payload(self, inst, extra=None):
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
            'availability_zone': self.zones.get(inst.host),
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

    def fixed_ips(self, inst):
        return [{'address': inst.ip, 'type': 'fixed', 'version': 4, 'floating_ips': [],
                 'label': 'private', 'meta': {}, 'vif_mac': inst.mac}]

    @staticmethod
    def v_flavor(fl):
        return {'nova_object.name': 'FlavorPayload', 'nova_object.namespace': 'nova',
                'nova_object.version': '1.4',
                'nova_object.data': {
                    'flavorid': fl.flavorid, 'name': fl.name, 'memory_mb': fl.memory_mb,
                    'vcpus': fl.vcpus, 'root_gb': fl.root_gb, 'ephemeral_gb': fl.ephemeral_gb,
                    'swap': 0, 'rxtx_factor': 1.0, 'disabled': False, 'is_public': True,
                    'vcpu_weight': 0, 'extra_specs': {}, 'projects': None,
                    'description': None}}

    @staticmethod
    def v_fault(exc, msg, function, module):
        return {'nova_object.name': 'ExceptionPayload', 'nova_object.namespace': 'nova',
                'nova_object.version': '1.1',
                'nova_object.data': {
                    'exception': exc, 'exception_message': msg, 'function_name': function,
                    'module_name': module,
                    'traceback': 'Traceback (most recent call last):\n  File "%s", line %d, '
                                 'in %s\n%s: %s\n' % (module.replace('.', '/') + '.py',
                                                      1000 + len(msg), function, exc, msg)}}

    def v_payload(self, inst, req, name='InstanceActionPayload', version='1.8', fault=None,
                  extra=None):
        img = inst.image
        data = {
            'uuid': inst.uuid, 'display_name': inst.name, 'display_description': inst.name,
            'host_name': inst.name, 'host': inst.host, 'node': inst.host,
            'availability_zone': self.zones.get(inst.host), 'architecture': 'x86_64',
            'os_type': None,
            'kernel_id': '', 'ramdisk_id': '', 'image_uuid': img.id,
            'flavor': self.v_flavor(inst.flavor),
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

    def v_create_payload(self, inst, req, fault=None):
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
        return self.v_payload(inst, req, 'InstanceCreatePayload', '1.12', fault, extra)

    def nova_event(self, t, req, inst, action, phase, host=None, fault=None, v_name=None,
                   v_extra=None, l_extra=None, v_action=None):
        """One nova compute notification, legacy or versioned depending on the request.

        fault: (exception, message, function, module) or None."""
        host = host or inst.host
        error = phase == 'error'
        prio = 'ERROR' if error else 'INFO'
        if req.versioned:
            vf = self.v_fault(*fault) if fault else None
            if action == 'create':
                payload = self.v_create_payload(inst, req, vf)
            elif v_name:
                payload = self.v_payload(inst, req, v_name[0], v_name[1], vf, v_extra)
            else:
                payload = self.v_payload(inst, req, fault=vf, extra=v_extra)
            return self.notif(t, 'nova', _VNOTIF, 'nova-compute:' + host, prio,
                              'instance.%s.%s' % (v_action or action, phase), payload, req.ctx)
        extra = l_extra
        if fault:
            # nova.compute.utils.exception_to_dict: the exception object, its message, code
            extra = dict(extra or ())
            extra['exception'] = _wire_exception(fault[0], fault[1], self.fault_fields(inst))
            extra['message'] = fault[1]
            extra['code'] = _exception_code(fault[0])
        payload = self.legacy_payload(inst, extra)
        return self.notif(t, 'nova', _NOTIF, 'compute.' + host, prio,
                          'compute.instance.%s.%s' % (action, phase), payload, req.ctx)

    @staticmethod
    def fault_fields(inst):
        return {'port': inst.port_id, 'mem': inst.flavor.memory_mb, 'image': inst.image.id,
                'uuid': inst.uuid}

    def instance_update(self, t, req, inst, old_state, old_task, host=None, api=False):
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
                                 'nova_object.data': {'audit_period_beginning': self.ts_v(t - (t % 3600)),
                                                      'audit_period_ending': self.ts_v(t)}},
                'old_display_name': None, 'tags': [], 'updated_at': self.ts_v(t)}
            payload = self.v_payload(inst, req, 'InstanceUpdatePayload', '2.0', None, extra)
            del payload['nova_object.data']['fault']
            pub = ('nova-api:' if api else 'nova-compute:') + (host or inst.host or req.api)
            return self.notif(t, 'nova', _VNOTIF, pub, 'INFO', 'instance.update', payload,
                              req.ctx)
        payload = self.legacy_payload(inst, {
            'old_state': old_state, 'old_task_state': old_task,
            'new_task_state': inst.task_state,
            'audit_period_beginning': self.ts_legacy(t - (t % 3600)),
            'audit_period_ending': self.ts_legacy(t), 'bandwidth': {}})
        return self.notif(t, 'nova', _NOTIF, 'compute.' + (host or inst.host or req.api), 'INFO',
                          'compute.instance.update', payload, req.ctx)

    def request_spec(self, inst, req):
        fl = inst.flavor
        if req.versioned:
            return {'nova_object.name': 'RequestSpecPayload', 'nova_object.namespace': 'nova',
                    'nova_object.version': '1.1',
                    'nova_object.data': {
                        'instance_uuid': inst.uuid, 'project_id': inst.project.id,
                        'user_id': inst.user.id, 'availability_zone': None,
                        'num_instances': 1, 'flavor': self.v_flavor(fl),
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

    def scheduler_event(self, t, req, inst, phase):
        api = req.api
        payload = self.request_spec(inst, req)
        if req.versioned:
            return self.notif(t, 'nova', _VNOTIF, 'nova-scheduler:' + api, 'INFO',
                              'scheduler.select_destinations.' + phase, payload, req.ctx)
        return self.notif(t, 'nova', _NOTIF, 'scheduler.' + api, 'INFO',
                          'scheduler.select_destinations.' + phase, payload, req.ctx)

    def build_failed(self, t, req, inst, exc, msg):
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
                           'request_spec': self.request_spec(inst, req),
                           'reason': self.v_fault(exc + '_Remote' if remote else exc, msg,
                                                  '_schedule_instances',
                                                  'nova.conductor.manager')}}
            return self.notif(t, 'nova', _VNOTIF, 'nova-conductor:' + api, 'ERROR',
                              'compute_task.build_instances.error', payload, req.ctx)
        payload = dict(self.request_spec(inst, req))
        payload.update({'instance_properties': dict(payload['request_spec']['instance_properties']),
                        'instance_id': inst.uuid, 'state': 'error',
                        'method': 'build_instances',
                        'reason': _wire_exception(exc, msg, self.fault_fields(inst), remote)})
        return self.notif(t, 'nova', _NOTIF, 'compute_task.' + api, 'ERROR',
                          'compute_task.build_instances', payload, req.ctx)

    # ------------------------------------------------------------------ other services

    def neutron_port(self, t, parent, inst, host):
        """neutron port.create.start/.end called by nova-compute; yields (t, notif)."""
        req = self.request(t, parent.user, parent.ctx['global_request_id'] or parent.rid,
                           'neutron')
        proj = inst.project
        port = {'network_id': proj.network_id, 'tenant_id': proj.id, 'project_id': proj.id,
                'device_id': inst.uuid, 'device_owner': 'compute:nova',
                'admin_state_up': True, 'binding:host_id': host}
        yield t, self.notif(t, 'neutron', _NOTIF, 'network.' + req.api, 'INFO',
                            'port.create.start', {'port': port}, req.ctx)
        t += self.lognorm(0.6, 0.5)
        full = dict(port)
        full.update({'id': inst.port_id, 'name': '', 'mac_address': inst.mac,
                     'fixed_ips': [{'subnet_id': proj.subnet_id, 'ip_address': inst.ip}],
                     'status': 'DOWN', 'security_groups': [proj.sg_id],
                     'binding:vif_type': 'ovs', 'binding:vnic_type': 'normal',
                     'created_at': self.ts_v(t), 'updated_at': self.ts_v(t),
                     'revision_number': 1, 'description': '', 'tags': []})
        yield t, self.notif(t, 'neutron', _NOTIF, 'network.' + req.api, 'INFO',
                            'port.create.end', {'port': full}, req.ctx)

    def volume_payload(self, t, vol_id, name, size, proj, user, status, created, attach=None,
                       image=None):
        p = {'tenant_id': proj.id, 'user_id': user.id, 'host': self.cinder_host + '@lvm#lvm',
             'availability_zone': 'nova', 'volume_id': vol_id, 'volume_type': 'lvmdriver-1',
             'display_name': name, 'created_at': created,
             'launched_at': created if status != 'creating' else '', 'size': size,
             'status': status, 'snapshot_id': None, 'replication_status': 'disabled',
             'replication_extended_status': None, 'replication_driver_data': None,
             'metadata': [], 'volume_attachment': attach or []}
        if image is not None:
            p['glance_metadata'] = [{'key': 'image_id', 'value': image.id},
                                    {'key': 'image_name', 'value': image.name}]
        return p

    def cinder_create(self, t, req, vol_id, name, size, image=None):
        """volume.create.start/.end on cinder-volume (a volume from an image takes longer)."""
        created = self.ts_legacy(t)
        pub = 'volume.' + self.cinder_host
        proj, user = req.project, req.user
        yield t, self.notif(t, 'cinder', _NOTIF, pub, 'INFO', 'volume.create.start',
                            self.volume_payload(t, vol_id, name, size, proj, user, 'creating',
                                                created, image=image), req.ctx)
        if image is not None:
            t += 5 + image.size / self.rng.uniform(150e6, 400e6) + self.lognorm(3, 0.5)
        else:
            t += self.lognorm(2.0, 0.6)
        yield t, self.notif(t, 'cinder', _NOTIF, pub, 'INFO', 'volume.create.end',
                            self.volume_payload(t, vol_id, name, size, proj, user, 'available',
                                                created, image=image), req.ctx)

    def cinder_attach(self, t, req, vol_id, size, inst, created):
        pub = 'volume.' + self.cinder_host
        proj, user = req.project, req.user
        att = [{'id': self.uuid(), 'volume_id': vol_id, 'instance_uuid': inst.uuid,
                'attached_host': inst.host, 'mountpoint': '/dev/vda' if inst.volume_id == vol_id
                else '/dev/vdb', 'attach_status': 'attaching'}]
        p = self.volume_payload(t, vol_id, '', size, proj, user, 'attaching', created, att)
        yield t, self.notif(t, 'cinder', _NOTIF, pub, 'INFO', 'volume.attach.start', p,
                            req.ctx)
        t += self.lognorm(1.5, 0.4)
        att = [dict(att[0], attach_status='attached')]
        p = self.volume_payload(t, vol_id, '', size, proj, user, 'in-use', created, att)
        yield t, self.notif(t, 'cinder', _NOTIF, pub, 'INFO', 'volume.attach.end', p, req.ctx)

    def glance_image(self, t, img_id, name, req, status, size=None, disk_format='qcow2',
                     deleted=False, properties=None):
        created = self.ts_v(t)
        return {'id': img_id, 'name': name, 'status': status, 'owner': req.project.id,
                'visibility': 'private', 'protected': False,
                'checksum': None if size is None else img_id.replace('-', ''),
                'os_hash_algo': 'sha512' if size else None, 'os_hash_value': None,
                'size': size, 'virtual_size': None, 'disk_format': disk_format,
                'container_format': 'bare', 'min_disk': 0, 'min_ram': 0,
                'created_at': created, 'updated_at': created, 'deleted': deleted,
                'deleted_at': created if deleted else None, 'tags': [],
                'properties': properties or {}}

    def glance_send(self, t, parent, inst, img):
        req = self.request(t, parent.user, parent.ctx['global_request_id'] or parent.rid,
                           'glance')
        payload = {'bytes_sent': img.size, 'image_id': img.id, 'owner_id': img.owner,
                   'receiver_tenant_id': parent.project.id,
                   'receiver_user_id': parent.user.id,
                   'destination_ip': '172.16.0.%d' % (self.computes.index(inst.host) + 11)}
        return self.notif(t, 'glance', _NOTIF, 'image.' + self.glance_host, 'INFO',
                          'image.send', payload, req.ctx)

    # ------------------------------------------------------------------ flows

    def flow_server_create(self, t, req=None, outcome=None):
        rng = self.rng
        if req is None:
            req = self.request(t)
        inst = self.new_instance(req.user, t)
        if outcome is not None:
            outcome.instance = inst
        ctx = req.ctx
        # nova-api: instance record created
        yield t, self.instance_update(t, req, inst, None, None, host=req.api, api=True)
        t += self.lognorm(0.15, 0.4)
        yield t, self.scheduler_event(t, req, inst, 'start')
        t += self.lognorm(0.25, 0.6)
        roll = rng.random()
        if roll < self.error_ratio * 0.3:
            # NoValidHost: nova never sends select_destinations.end
            t += self.lognorm(0.05, 0.3)
            inst.state, inst.task_state = 'error', None
            yield t, self.build_failed(t, req, inst, 'NoValidHost', _NO_VALID_HOST)
            t += 0.01
            yield t, self.instance_update(t, req, inst, 'building', 'scheduling',
                                          host=req.api)
            if outcome is not None:
                outcome.ok, outcome.fault = False, 'NoValidHost'
            return
        yield t, self.scheduler_event(t, req, inst, 'end')
        # alternates: up to 3 attempts
        hosts = rng.sample(self.computes, min(3, len(self.computes)))
        if rng.random() < self.reschedule_ratio and len(hosts) > 1:
            failures = 1 if (len(hosts) == 2 or rng.random() < 0.7) else 2
        else:
            failures = 0
        final_fail = roll > 1.0 - self.error_ratio * 0.7
        if failures and final_fail:
            failures = len(hosts)           # every alternate fails: MaxRetriesExceeded
        bfv = rng.random() < self.bfv_ratio
        admin_password = rng.random() < 0.3
        for attempt, host in enumerate(hosts):
            fails_here = attempt < failures or (final_fail and not failures)
            inst.host = host
            t += self.lognorm(0.3, 0.4)
            old = inst.task_state
            inst.task_state = 'spawning' if attempt == 0 else 'scheduling'
            yield t, self.instance_update(t, req, inst, 'building', old)
            t += 0.02 + rng.random() * 0.05
            extra = {'admin_password': 'Pa55-%06x' % rng.getrandbits(24)} \
                if admin_password else None
            yield t, self.nova_event(t, req, inst, 'create', 'start', l_extra=extra)
            if fails_here:
                exc, tmpl = rng.choice(_RESCHEDULABLE if attempt < failures else _FATAL)
                msg = tmpl.format(port=inst.port_id, mem=inst.flavor.memory_mb,
                                  image=inst.image.id, uuid=inst.uuid)
                if exc == 'PortBindingFailed':
                    for item in self.neutron_port(t + 0.1, req, inst, host):
                        t = item[0]
                        yield item
                t += self.lognorm(1.5, 0.8)
                reschedule = attempt < failures and attempt + 1 < len(hosts)
                inst.state, inst.task_state = ('building', 'scheduling') if reschedule \
                    else ('error', None)
                yield t, self.nova_event(t, req, inst, 'create', 'error',
                                         fault=(exc, msg, '_build_and_run_instance',
                                                'nova.compute.manager'))
                if reschedule:
                    continue
                if attempt < failures:
                    t += self.lognorm(0.3, 0.4)
                    yield t, self.build_failed(t, req, inst, 'MaxRetriesExceeded',
                                               _MAX_RETRIES.format(uuid=inst.uuid))
                if outcome is not None:
                    outcome.ok, outcome.fault = False, exc
                return
            # successful attempt: network, storage, image, spawn
            for item in self.neutron_port(t + self.lognorm(0.2, 0.3), req, inst, host):
                t = item[0]
                yield item
            if bfv:
                vreq = self.request(t, req.user, ctx['global_request_id'] or req.rid, 'cinder')
                inst.volume_id = vol_id = self.uuid()
                size = max(inst.flavor.root_gb, inst.image.min_disk, 1)
                created = self.ts_legacy(t)
                for item in self.cinder_create(t + 0.2, vreq, vol_id, '', size, inst.image):
                    t = item[0]
                    yield item
                for item in self.cinder_attach(t + 0.5, vreq, vol_id, size, inst, created):
                    t = item[0]
                    yield item
            elif rng.random() < 0.55:
                # image not cached on this host: download from glance dominates
                t += inst.image.size / rng.uniform(60e6, 250e6) + self.lognorm(1.0, 0.5)
                yield t, self.glance_send(t, req, inst, inst.image)
            t += self.lognorm(8.0, 0.4)                               # spawn + boot
            self.launch(inst, t)
            yield t, self.nova_event(t, req, inst, 'create', 'end',
                                     l_extra={'message': 'Success',
                                              'fixed_ips': self.fixed_ips(inst)})
            self.register(inst)
            if outcome is not None:
                outcome.ok = True
            return

    def flow_server_delete(self, t):
        inst = self.pick_instance()
        if inst is None:
            yield from self.flow_server_create(t)
            return
        self.instances.remove(inst)
        req = self.request(t, inst.user)
        old_task = inst.task_state
        inst.task_state = 'deleting'
        yield t, self.instance_update(t, req, inst, inst.state, old_task, host=req.api, api=True)
        t += self.lognorm(0.3, 0.4)
        yield t, self.nova_event(t, req, inst, 'delete', 'start')
        if not req.versioned:
            t += 0.05
            yield t, self.nova_event(t, req, inst, 'shutdown', 'start')
            t += self.lognorm(2.0, 0.7)
            yield t, self.nova_event(t, req, inst, 'shutdown', 'end')
        else:
            t += self.lognorm(2.0, 0.7)
        if inst.volume_id is None and self.rng.random() < 0.6:
            nreq = self.request(t, req.user, req.rid, 'neutron')
            t += 0.3
            yield t, self.notif(t, 'neutron', _NOTIF, 'network.' + nreq.api, 'INFO',
                                'port.delete.start', {'port_id': inst.port_id}, nreq.ctx)
            t += self.lognorm(0.4, 0.4)
            yield t, self.notif(t, 'neutron', _NOTIF, 'network.' + nreq.api, 'INFO',
                                'port.delete.end', {'port_id': inst.port_id}, nreq.ctx)
        t += self.lognorm(0.8, 0.4)
        inst.state, inst.power_state, inst.task_state = 'deleted', 'nostate', None
        yield t, self.nova_event(t, req, inst, 'delete', 'end',
                                 l_extra={'terminated_at': self.ts_legacy(t),
                                          'deleted_at': self.ts_legacy(t)})

    def flow_server_resize(self, t):
        rng = self.rng
        inst = self.pick_instance()
        if inst is None:
            yield from self.flow_server_create(t)
            return
        req = self.request(t, inst.user)
        src = inst.host
        others = [h for h in self.computes if h != src] or [src]
        dst = rng.choice(others)
        new_fl = rng.choice([f for f in self.flavors if f is not inst.flavor])
        v_new = {'new_flavor': self.v_flavor(new_fl)}
        yield t, self.instance_update(t, req, inst, inst.state, None, host=req.api, api=True)
        t += self.lognorm(0.15, 0.4)
        yield t, self.scheduler_event(t, req, inst, 'start')
        t += self.lognorm(0.25, 0.6)
        yield t, self.scheduler_event(t, req, inst, 'end')
        inst.task_state = 'resize_prep'
        t += self.lognorm(0.3, 0.4)
        l_new = {'new_instance_type': new_fl.name, 'new_instance_type_id': new_fl.id}
        yield t, self.nova_event(t, req, inst, 'resize.prep', 'start', host=dst,
                                 v_action='resize_prep', v_extra=v_new, l_extra=l_new,
                                 v_name=('InstanceActionResizePrepPayload', '1.3'))
        t += self.lognorm(0.5, 0.4)
        yield t, self.nova_event(t, req, inst, 'resize.prep', 'end', host=dst,
                                 v_action='resize_prep', v_extra=v_new, l_extra=l_new,
                                 v_name=('InstanceActionResizePrepPayload', '1.3'))
        inst.task_state = 'resize_migrating'
        t += self.lognorm(0.4, 0.4)
        yield t, self.nova_event(t, req, inst, 'resize', 'start', host=src)
        t += self.lognorm(6.0 + inst.flavor.root_gb / 4.0, 0.5)   # disk copy
        yield t, self.nova_event(t, req, inst, 'resize', 'end', host=src)
        inst.host, inst.flavor = dst, new_fl
        inst.task_state = 'resize_finish'
        t += self.lognorm(0.4, 0.4)
        yield t, self.nova_event(t, req, inst, 'finish_resize', 'start',
                                 v_action='resize_finish')
        t += self.lognorm(4.0, 0.5)
        inst.state, inst.task_state = 'resized', None
        yield t, self.nova_event(t, req, inst, 'finish_resize', 'end', v_action='resize_finish')
        # later: a new API request confirms (or reverts) the resize
        t += rng.uniform(5, 90)
        creq = self.request(t, inst.user, versioned=req.versioned)
        if rng.random() < 0.85:
            yield t, self.nova_event(t, creq, inst, 'resize.confirm', 'start', host=src,
                                     v_action='resize_confirm')
            t += self.lognorm(1.5, 0.4)
            inst.state = 'active'
            yield t, self.nova_event(t, creq, inst, 'resize.confirm', 'end', host=src,
                                     v_action='resize_confirm')
        else:
            yield t, self.nova_event(t, creq, inst, 'resize.revert', 'start', host=dst,
                                     v_action='resize_revert')
            t += self.lognorm(5.0, 0.4)
            inst.host, inst.state = src, 'active'
            yield t, self.nova_event(t, creq, inst, 'resize.revert', 'end', host=src,
                                     v_action='resize_revert')
        inst.busy = False

    def flow_server_rebuild(self, t):
        rng = self.rng
        inst = self.pick_instance()
        if inst is None:
            yield from self.flow_server_create(t)
            return
        req = self.request(t, inst.user)
        v_name = ('InstanceActionRebuildPayload', '1.9')
        yield t, self.instance_update(t, req, inst, inst.state, None, host=req.api, api=True)
        inst.task_state = 'rebuilding'
        t += self.lognorm(0.4, 0.4)
        yield t, self.nova_event(t, req, inst, 'rebuild', 'start', v_name=v_name)
        inst.image = rng.choice(self.images)
        t += self.lognorm(1.0, 0.4)
        t += inst.image.size / rng.uniform(60e6, 250e6) + self.lognorm(1.0, 0.5)
        yield t, self.glance_send(t, req, inst, inst.image)
        t += self.lognorm(6.0, 0.4)
        if rng.random() < self.error_ratio:
            inst.state, inst.task_state = 'error', None
            yield t, self.nova_event(t, req, inst, 'rebuild', 'error', v_name=v_name,
                                     fault=('libvirtError', 'Requested operation is not valid: '
                                            'domain is not running', '_do_rebuild_instance',
                                            'nova.compute.manager'))
        else:
            inst.state, inst.task_state = 'active', None
            yield t, self.nova_event(t, req, inst, 'rebuild', 'end', v_name=v_name)
        inst.busy = False

    def flow_server_power(self, t):
        inst = self.pick_instance()
        if inst is None:
            yield from self.flow_server_create(t)
            return
        req = self.request(t, inst.user)
        action = 'power_off' if inst.power_state == 'running' else 'power_on'
        yield t, self.instance_update(t, req, inst, inst.state, None, host=req.api, api=True)
        inst.task_state = 'powering-off' if action == 'power_off' else 'powering-on'
        t += self.lognorm(0.3, 0.4)
        yield t, self.nova_event(t, req, inst, action, 'start')
        t += self.lognorm(4.0 if action == 'power_off' else 2.5, 0.6)
        if action == 'power_off':
            inst.state, inst.power_state = 'stopped', 'shutdown'
        else:
            inst.state, inst.power_state = 'active', 'running'
        inst.task_state = None
        yield t, self.nova_event(t, req, inst, action, 'end')
        inst.busy = False

    def flow_server_snapshot(self, t):
        rng = self.rng
        inst = self.pick_instance()
        if inst is None:
            yield from self.flow_server_create(t)
            return
        req = self.request(t, inst.user)
        img_id = self.uuid()
        v_name = ('InstanceActionSnapshotPayload', '1.9')
        v_extra = {'snapshot_image_id': img_id}
        inst.task_state = 'image_snapshot'
        yield t, self.nova_event(t, req, inst, 'snapshot', 'start', v_name=v_name,
                                 v_extra=v_extra)
        greq = self.request(t, req.user, req.ctx['global_request_id'] or req.rid, 'glance')
        name = '%s-snap-%d' % (inst.name, rng.randint(1, 99))
        t += self.lognorm(0.3, 0.3)
        yield t, self.notif(t, 'glance', _NOTIF, 'image.' + self.glance_host, 'INFO',
                            'image.create', self.glance_image(t, img_id, name, greq, 'queued'),
                            greq.ctx)
        size = int(inst.flavor.root_gb * rng.uniform(0.05, 0.5) * 2 ** 30)
        t += size / rng.uniform(80e6, 200e6) + self.lognorm(3.0, 0.4)
        yield t, self.notif(t, 'glance', _NOTIF, 'image.' + self.glance_host, 'INFO',
                            'image.upload',
                            self.glance_image(t, img_id, name, greq, 'active', size,
                                              properties={'instance_uuid': inst.uuid,
                                                          'image_type': 'snapshot'}),
                            greq.ctx)
        t += self.lognorm(0.5, 0.3)
        inst.task_state = None
        yield t, self.nova_event(t, req, inst, 'snapshot', 'end', v_name=v_name,
                                 v_extra=v_extra)
        inst.busy = False

    def flow_volume_create(self, t):
        rng = self.rng
        req = self.request(t, service='cinder')
        vol_id = self.uuid()
        if rng.random() < self.error_ratio:
            t += self.lognorm(0.3, 0.4)
            payload = {'request_spec': {'volume_id': vol_id, 'volume_type': {'name': 'lvmdriver-1'},
                                        'volume_properties': {'size': rng.choice((1, 10, 100)),
                                                              'project_id': req.project.id,
                                                              'user_id': req.user.id}},
                       'volume_id': vol_id, 'state': 'error', 'method': 'create_volume',
                       # ScheduleCreateVolumeTask._notify_failure: reason=<the exception>
                       'reason': _wire_exception(
                           'NoValidBackend', 'No valid backend was found. Insufficient free '
                           'virtual space (0.0GB) to accommodate thin provisioned volume.')}
            yield t, self.notif(t, 'cinder', _NOTIF, 'scheduler.' + self.cinder_host, 'ERROR',
                                'scheduler.create_volume', payload, req.ctx)
            return
        image = rng.choice(self.images) if rng.random() < 0.3 else None
        yield from self.cinder_create(t, req, vol_id, 'vol-%d' % rng.randint(1, 9999),
                                      rng.choice((1, 10, 20, 50, 100, 500)), image)

    def flow_volume_delete(self, t):
        req = self.request(t, service='cinder')
        vol_id = self.uuid()
        size = self.rng.choice((1, 10, 20, 50))
        created = self.ts_legacy(t - self.rng.uniform(3600, 30 * 86400))
        pub = 'volume.' + self.cinder_host
        yield t, self.notif(t, 'cinder', _NOTIF, pub, 'INFO', 'volume.delete.start',
                            self.volume_payload(t, vol_id, '', size, req.project, req.user,
                                                'deleting', created), req.ctx)
        t += self.lognorm(1.5 + size / 50.0, 0.5)
        yield t, self.notif(t, 'cinder', _NOTIF, pub, 'INFO', 'volume.delete.end',
                            self.volume_payload(t, vol_id, '', size, req.project, req.user,
                                                'deleted', created), req.ctx)

    def flow_volume_attach(self, t):
        inst = self.pick_instance()
        if inst is None:
            yield from self.flow_volume_create(t)
            return
        req = self.request(t, inst.user)
        vol_id = self.uuid()
        size = self.rng.choice((10, 20, 50, 100))
        created = self.ts_legacy(t - self.rng.uniform(60, 86400))
        v_name = ('InstanceActionVolumePayload', '1.6')
        v_extra = {'volume_id': vol_id}
        if req.versioned:
            yield t, self.nova_event(t, req, inst, 'volume_attach', 'start', v_name=v_name,
                                     v_extra=v_extra)
            t += 0.2
        creq = self.request(t, req.user, req.rid, 'cinder')
        for item in self.cinder_attach(t + 0.3, creq, vol_id, size, inst, created):
            t = item[0]
            yield item
        t += self.lognorm(0.5, 0.3)
        if req.versioned:
            yield t, self.nova_event(t, req, inst, 'volume_attach', 'end', v_name=v_name,
                                     v_extra=v_extra)
        else:
            p = self.legacy_payload(inst, {'volume_id': vol_id})
            yield t, self.notif(t, 'nova', _NOTIF, 'compute.' + inst.host, 'INFO',
                                'compute.instance.volume.attach', p, req.ctx)
        inst.busy = False

    def flow_image_create(self, t):
        rng = self.rng
        req = self.request(t, service='glance')
        img_id = self.uuid()
        name = rng.choice(('ubuntu-custom', 'app-golden', 'base-hardened', 'ci-runner'))
        fmt = rng.choice(('qcow2', 'raw'))
        pub = 'image.' + self.glance_host
        yield t, self.notif(t, 'glance', _NOTIF, pub, 'INFO', 'image.create',
                            self.glance_image(t, img_id, name, req, 'queued', None, fmt),
                            req.ctx)
        size = rng.randint(20, 4000) * 2 ** 20
        t += size / rng.uniform(50e6, 200e6) + self.lognorm(1.0, 0.4)
        yield t, self.notif(t, 'glance', _NOTIF, pub, 'INFO', 'image.upload',
                            self.glance_image(t, img_id, name, req, 'active', size, fmt),
                            req.ctx)
        if rng.random() < 0.4:
            t += rng.uniform(1, 30)
            ureq = self.request(t, req.user, service='glance')
            yield t, self.notif(t, 'glance', _NOTIF, pub, 'INFO', 'image.update',
                                self.glance_image(t, img_id, name, ureq, 'active', size, fmt,
                                                  properties={'os_distro': 'ubuntu',
                                                              'hw_qemu_guest_agent': 'yes'}),
                                ureq.ctx)

    def flow_image_delete(self, t):
        req = self.request(t, service='glance')
        yield t, self.notif(t, 'glance', _NOTIF, 'image.' + self.glance_host, 'INFO',
                            'image.delete',
                            self.glance_image(t, self.uuid(), 'old-image', req, 'deleted',
                                              self.rng.randint(20, 4000) * 2 ** 20,
                                              deleted=True), req.ctx)

    def _neutron_pair(self, t, req, resource, start_body, end_body, median):
        pub = 'network.' + req.api
        yield t, self.notif(t, 'neutron', _NOTIF, pub, 'INFO', resource + '.create.start',
                            {resource: start_body}, req.ctx)
        t += self.lognorm(median, 0.5)
        end_body = dict(start_body, **end_body)
        end_body['created_at'] = end_body['updated_at'] = self.ts_v(t)
        yield t, self.notif(t, 'neutron', _NOTIF, pub, 'INFO', resource + '.create.end',
                            {resource: end_body}, req.ctx)

    def flow_network_create(self, t):
        req = self.request(t, service='neutron')
        pid = req.project.id
        body = {'name': 'net-%d' % self.rng.randint(1, 999), 'admin_state_up': True,
                'tenant_id': pid, 'project_id': pid}
        yield from self._neutron_pair(t, req, 'network', body, {
            'id': self.uuid(), 'status': 'ACTIVE', 'subnets': [], 'shared': False,
            'mtu': 1450, 'provider:network_type': 'vxlan',
            'provider:segmentation_id': self.rng.randint(1, 4000),
            'router:external': False, 'port_security_enabled': True,
            'availability_zones': [], 'revision_number': 1, 'tags': []}, 0.8)

    def flow_router_create(self, t):
        req = self.request(t, service='neutron')
        pid = req.project.id
        body = {'name': 'router-%d' % self.rng.randint(1, 999), 'admin_state_up': True,
                'tenant_id': pid, 'project_id': pid}
        yield from self._neutron_pair(t, req, 'router', body, {
            'id': self.uuid(), 'status': 'ACTIVE', 'external_gateway_info': None,
            'routes': [], 'distributed': False, 'ha': False, 'flavor_id': None,
            'availability_zones': [], 'revision_number': 1, 'tags': []}, 1.2)

    def flow_port_create(self, t):
        req = self.request(t, service='neutron')
        proj = req.project
        mac = 'fa:16:3e:%06x' % self.rng.getrandbits(24)
        mac = '%s:%s:%s' % (mac[:11], mac[11:13], mac[13:])
        body = {'network_id': proj.network_id, 'admin_state_up': True, 'tenant_id': proj.id,
                'project_id': proj.id, 'device_id': '', 'device_owner': ''}
        yield from self._neutron_pair(t, req, 'port', body, {
            'id': self.uuid(), 'name': '', 'mac_address': mac, 'status': 'DOWN',
            'fixed_ips': [{'subnet_id': proj.subnet_id,
                           'ip_address': '%s%d.%d' % (proj.net_prefix,
                                                      self.rng.randint(200, 249),
                                                      self.rng.randint(2, 250))}],
            'security_groups': [proj.sg_id], 'binding:vnic_type': 'normal',
            'revision_number': 1, 'tags': []}, 0.5)

    def cadf(self, t, action, outcome, user, target_type, target_id, rid, password=None):
        initiator = {'typeURI': 'service/security/account/user', 'id': user.id,
                     'name': user.name,
                     'host': {'address': user.address, 'agent': self.rng.choice(_AGENTS)},
                     'project_id': user.project.id, 'request_id': rid}
        if password is not None:
            initiator['credential'] = {'type': 'password', 'password': password}
        p = {'typeURI': 'http://schemas.dmtf.org/cloud/audit/1.0/event',
             'id': self.uuid(), 'eventTime': self.ts_cadf(t), 'eventType': 'activity',
             'action': action, 'outcome': outcome,
             'observer': {'typeURI': 'service/security', 'id': self.keystone_service_id},
             'initiator': initiator,
             'target': {'typeURI': target_type, 'id': target_id}}
        if outcome == 'failure':
            p['reason'] = {'reasonType': 'HTTP', 'reasonCode': '401'}
        return p

    def flow_keystone_auth(self, t):
        rng = self.rng
        user = rng.choice(self.users)
        rid = self.req_id()
        failed = rng.random() < self.error_ratio * 2
        password = None
        if failed and rng.random() < 0.5:
            password = 'wr0ng-%06x' % rng.getrandbits(24)   # what a careless client sends
        if not failed:
            user.token = self.token()
        payload = self.cadf(t, 'authenticate', 'failure' if failed else 'success', user,
                            'service/security/account/user', user.id, rid, password)
        # keystone sends its CADF notifications with an empty request context
        yield t, self.notif(t, 'keystone', _NOTIF, 'identity.' + rng.choice(self.controllers),
                            'INFO', 'identity.authenticate', payload, {})

    def flow_keystone_project(self, t):
        rng = self.rng
        admins = [u for u in self.users if 'admin' in u.roles]
        user = rng.choice(admins)
        new_id = self.hex32()
        payload = self.cadf(t, 'created.project', 'success', user, 'data/security/project',
                            new_id, self.req_id())
        payload['resource_info'] = new_id
        yield t, self.notif(t, 'keystone', _NOTIF, 'identity.' + rng.choice(self.controllers),
                            'INFO', 'identity.project.created', payload, {})

    def flow_heat_stack(self, t):
        rng = self.rng
        req = self.request(t, service='heat')
        stack_id = self.uuid()
        name = 'stack-%s-%d' % (rng.choice(_NAMES), rng.randint(1, 999))
        pub = 'orchestration.' + req.api
        created = self.ts_v(t)

        def payload(state, reason):
            return {'stack_identity': 'arn:openstack:heat::%s:stacks/%s/%s' % (
                        req.project.id, name, stack_id),
                    'stack_name': name, 'tenant_id': req.project.id, 'user_id': req.user.id,
                    'username': req.user.name, 'create_at': created,
                    'updated_time': None, 'deleted_time': None, 'state': state,
                    'state_reason': reason, 'tags': None,
                    'description': 'Simulated application stack'}

        yield t, self.notif(t, 'heat', _NOTIF, pub, 'INFO', 'orchestration.stack.create.start',
                            payload('CREATE_IN_PROGRESS', 'Stack CREATE started'), req.ctx)
        # heat-engine creates its servers in parallel; nova requests carry heat's request id
        # as their global_request_id
        outcomes = []
        children = []
        for _ in range(rng.randint(1, 3)):
            o = _Outcome()
            outcomes.append(o)
            ts = t + rng.uniform(0.5, 2.0)
            nreq = self.request(ts, req.user, req.rid, 'nova')
            children.append(self.flow_server_create(ts, nreq, o))
        for item in heapq.merge(*children, key=_first):
            t = max(t, item[0])
            yield item
        t += self.lognorm(1.0, 0.4)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            inst = failed[0].instance
            reason = ('Resource CREATE failed: ResourceInError: resources.server: Went to '
                      'status ERROR due to "Message: %s, Code: 500"' % (
                          failed[0].fault or 'Unknown'))
            if inst is not None:
                reason += ' (server %s)' % inst.uuid
            yield t, self.notif(t, 'heat', _NOTIF, pub, 'ERROR',
                                'orchestration.stack.create.error',
                                payload('CREATE_FAILED', reason), req.ctx)
        else:
            yield t, self.notif(t, 'heat', _NOTIF, pub, 'INFO', 'orchestration.stack.create.end',
                                payload('CREATE_COMPLETE', 'Stack CREATE completed '
                                                              'successfully'), req.ctx)

    # ------------------------------------------------------------------ periodic sources

    def service_changes(self, service_ids):
        """nova-compute services disabled for maintenance, then enabled again.

        nova sends ``service.update`` only when a service's disabled, disabled_reason or
        forced_down changes (Service.save), never periodically: these are the only ones.
        Yields a maintenance window (a flow) every ``maintenance_interval`` s on average."""
        rng = self.rng
        busy = set()

        def window(t, host):
            service_id, base = service_ids[host]
            # report_count: one state report every 10 s (nova's report_interval)
            yield t, self.service_update(t, host, service_id, base + int(t / 10), True)
            t += self.lognorm(900.0, 0.5)
            yield t, self.service_update(t, host, service_id, base + int(t / 10), False)
            busy.discard(host)

        t = 0.0
        while True:
            t += rng.expovariate(1.0 / self.maintenance_interval)
            free = [h for h in self.computes if h not in busy]
            if not free:
                yield t, None
                continue
            host = rng.choice(free)
            busy.add(host)
            yield t, window(t, host)

    def service_update(self, t, host, service_id, count, disabled):
        payload = {'nova_object.name': 'ServiceStatusPayload',
                   'nova_object.namespace': 'nova', 'nova_object.version': '1.1',
                   'nova_object.data': {
                       'host': host, 'binary': 'nova-compute', 'topic': 'compute',
                       'uuid': service_id, 'disabled': disabled,
                       'disabled_reason': 'maintenance' if disabled else None,
                       'forced_down': False, 'last_seen_up': self.ts_v(t - t % 10),
                       'report_count': count, 'version': 66,
                       'availability_zone': self.zones.get(host, 'internal')}}
        # the API (os-services) changes the record; the notification names the service
        return self.notif(t, 'nova', _VNOTIF, 'nova-compute:' + host, 'INFO',
                          'service.update', payload, self.admin_ctx())

    def audits(self, host):
        """Usage audit on one compute host: compute.instance.exists for each of its instances
        (first run within the first minute, as nova's periodic task does after a start)."""
        rng = self.rng
        t = rng.uniform(5.0, 60.0)
        while True:
            ctx = self.admin_ctx()
            versioned = rng.random() < self.versioned_ratio
            begin = t - self.audit_interval
            for inst in [i for i in self.instances if i.host == host]:
                t += rng.uniform(0.005, 0.05)
                if versioned:
                    extra = {'audit_period': {
                        'nova_object.name': 'AuditPeriodPayload',
                        'nova_object.namespace': 'nova', 'nova_object.version': '1.0',
                        'nova_object.data': {'audit_period_beginning': self.ts_v(begin),
                                             'audit_period_ending': self.ts_v(t)}},
                        'bandwidth': []}
                    payload = self.v_payload(inst, None, 'InstanceExistsPayload', '2.1',
                                             None, extra)
                    del payload['nova_object.data']['fault']
                    yield t, self.notif(t, 'nova', _VNOTIF, 'nova-compute:' + host, 'INFO',
                                        'instance.exists', payload, ctx)
                else:
                    payload = self.legacy_payload(inst, {
                        'audit_period_beginning': self.ts_legacy(begin),
                        'audit_period_ending': self.ts_legacy(t), 'bandwidth': {},
                        'fixed_ips': self.fixed_ips(inst)})
                    yield t, self.notif(t, 'nova', _NOTIF, 'compute.' + host, 'INFO',
                                        'compute.instance.exists', payload, ctx)
                if not inst.busy and rng.random() < 0.05:
                    # power-state sync found a guest shut down from inside
                    if inst.power_state == 'running':
                        req = _Req(ctx, ctx['request_id'], versioned, inst.user, inst.project,
                                   host)
                        inst.power_state, inst.state = 'shutdown', 'stopped'
                        t += 0.01
                        yield t, self.instance_update(t, req, inst, 'active', None)
            t += self.audit_interval * rng.uniform(0.99, 1.01)
            yield t, None           # nothing to report now; wake up at the next period

    def arrivals(self):
        rng = self.rng
        kinds, cum = self.kinds, self.cum
        flows = {k: getattr(self, 'flow_' + k) for k in kinds}
        rate = self.rate
        hung = self.hung_ratio
        t = 0.0
        while True:
            t += rng.expovariate(rate)
            r = rng.random()
            for i, c in enumerate(cum):
                if r <= c:
                    break
            flow = flows[kinds[i]](t)
            if hung and rng.random() < hung:
                flow = _hang(flow, rng.choice((1, 1, 2, 2, 3)))
            yield t, flow


def _first(item):
    return item[0]


def _hang(flow, after):
    """Pass a flow through until its ``after``-th '.start' notification, then stop for good:
    the process handling the request is alive but hung, nothing else is ever sent."""
    seen = 0
    for item in flow:
        yield item
        n = item[1]
        if n.event_type.endswith('.start'):
            seen += 1
            if seen >= after:
                return
    # a flow with fewer starts than ``after`` simply completes


def simulate(count, seed=0, start=DEFAULT_START, hosts=8, projects=5, users_per_project=3,
             controllers=1, rate=2.0, hung_ratio=0.02, error_ratio=0.05,
             reschedule_ratio=0.1, versioned_ratio=0.3, boot_from_volume_ratio=0.2,
             maintenance_interval=1800.0, audit_interval=3600.0, instances_per_host=4,
             max_instances=None, mix=None):
    """Yield exactly ``count`` notifications of a synthetic cloud, in timestamp order.

    :param count: number of notifications to yield (the stream is cut there, so flows still
        in progress at the end are left open).
    :param seed: seed of the only random generator; same arguments give the same stream.
    :param start: aware datetime of simulated time zero (default ``DEFAULT_START``).
    :param hosts: compute hosts ``host-1..N``.
    :param projects: tenants; each has ``users_per_project`` users (the first one admin).
    :param controllers: controller hosts ``ctl-1..K`` running the APIs, scheduler,
        conductor, neutron, keystone and heat.
    :param rate: mean user requests started per simulated second (Poisson arrivals).
    :param hung_ratio: fraction of request flows that stop for good after a ``.start``.
    :param error_ratio: scales failures: NoValidHost / fatal build errors / failed rebuilds,
        cinder scheduling failures, failed keystone authentications.
    :param reschedule_ratio: fraction of server creates rescheduled to 1-2 other hosts.
    :param versioned_ratio: fraction of nova flows (and audits) using versioned payloads on
        topic ``versioned_notifications``; ``service.update`` is always versioned.
    :param boot_from_volume_ratio: fraction of successful creates booting from a new volume.
    :param maintenance_interval: mean seconds between two nova-compute services being
        disabled for maintenance (``service.update`` disabled, then enabled after ~15
        minutes); nova sends ``service.update`` on such changes only.
    :param audit_interval: seconds between usage audits (``compute.instance.exists``) per host.
    :param instances_per_host: instances existing at time zero on each compute host.
    :param max_instances: cap of instances remembered (default ``64 * hosts``).
    :param mix: weights per flow kind (keys from ``FLOW_KINDS``), default ``DEFAULT_MIX``;
        kinds left out are not generated.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError('count must be a non-negative integer')
    if start.tzinfo is None:
        raise ValueError('start must be timezone-aware')
    if hosts < 1 or projects < 1 or users_per_project < 1 or controllers < 1:
        raise ValueError('hosts, projects, users_per_project and controllers must be >= 1')
    if rate <= 0 or maintenance_interval <= 0 or audit_interval <= 0:
        raise ValueError('rate and intervals must be positive')
    for name, value in (('hung_ratio', hung_ratio), ('error_ratio', error_ratio),
                        ('reschedule_ratio', reschedule_ratio),
                        ('versioned_ratio', versioned_ratio),
                        ('boot_from_volume_ratio', boot_from_volume_ratio)):
        if not 0.0 <= value <= 1.0:
            raise ValueError('%s must be within [0, 1]' % name)
    if mix is None:
        mix = DEFAULT_MIX
    mix = {k: float(v) for k, v in mix.items() if v}
    unknown = set(mix) - set(FLOW_KINDS)
    if unknown or not mix or min(mix.values()) < 0:
        raise ValueError('mix needs positive weights for kinds among %s' % (FLOW_KINDS,))
    return _run(count, _Sim(seed, start.astimezone(_UTC), hosts, projects, users_per_project,
                            controllers, rate, hung_ratio, error_ratio, reschedule_ratio,
                            versioned_ratio, boot_from_volume_ratio, maintenance_interval,
                            audit_interval, instances_per_host, max_instances or 64 * hosts,
                            mix))


def _run(count, sim):
    if count == 0:
        return
    heap = []
    seq = 0
    sources = [sim.arrivals()]
    service_ids = {}
    for host in sim.computes:
        service_ids[host] = (sim.uuid(), sim.rng.randint(1000, 100000))
        sources.append(sim.audits(host))
    sources.append(sim.service_changes(service_ids))
    for src in sources:
        t, item = next(src)
        heap.append((t, seq, src, item))
        seq += 1
    heapq.heapify(heap)
    heappop, heappush = heapq.heappop, heapq.heappush
    notif_cls = SimulatedNotification
    n = 0
    while heap:
        t, _, gen, item = heappop(heap)
        if item.__class__ is notif_cls:
            yield item
            n += 1
            if n >= count:
                return
        elif item is not None:                  # a new flow starts now
            first = next(item, None)
            if first is not None:
                heappush(heap, (first[0], seq, item, first[1]))
                seq += 1
        nxt = next(gen, None)
        if nxt is not None:
            heappush(heap, (nxt[0], seq, gen, nxt[1]))
            seq += 1
