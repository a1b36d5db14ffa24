"""The world of the simulated cloud: its hosts, projects, users, images and instances, the
one seeded random generator, and the ids, times and request contexts built from it.

Every random draw of the simulator goes through ``World.rng``, in the order the engine runs
the flows, so the same configuration always gives the same stream."""
import base64
import datetime
import math
import random

from nvs_notif.simulate import catalogue
from nvs_notif.simulate.records import SimulatedNotification

_TD = datetime.timedelta


class Flavor:
    __slots__ = ('name', 'id', 'flavorid', 'vcpus', 'memory_mb', 'root_gb', 'ephemeral_gb')

    def __init__(self, name, id_, flavorid, vcpus, memory_mb, root_gb, ephemeral_gb):
        self.name, self.id, self.flavorid = name, id_, flavorid
        self.vcpus, self.memory_mb = vcpus, memory_mb
        self.root_gb, self.ephemeral_gb = root_gb, ephemeral_gb


class Image:
    __slots__ = ('id', 'name', 'size', 'disk_format', 'os_type', 'min_disk', 'checksum',
                 'owner', 'url')


class User:
    __slots__ = ('id', 'name', 'project', 'token', 'roles', 'address')


class Project:
    __slots__ = ('id', 'name', 'users', 'network_id', 'subnet_id', 'sg_id', 'net_prefix',
                 'next_ip')


class Instance:
    """A server. ``busy`` while a flow acts on it, so two flows never act on one server."""
    __slots__ = ('uuid', 'name', 'host', 'flavor', 'image', 'project', 'user', 'created_at',
                 'created_at_v', 'launched_at', 'launched_at_v', 'state', 'power_state',
                 'task_state', 'reservation_id', 'ip', 'mac', 'port_id', 'key_name', 'busy',
                 'volume_id')


class Request:
    """One API request: its context and the format nova uses for it."""
    __slots__ = ('ctx', 'rid', 'versioned', 'user', 'project', 'api')

    def __init__(self, ctx, rid, versioned, user, project, api):
        self.ctx, self.rid, self.versioned = ctx, rid, versioned
        self.user, self.project, self.api = user, project, api


class World:
    """The cloud's entities and the seeded helpers every flow uses.

    :param config: a :class:`~nvs_notif.simulate.config.SimConfig`.
    """

    def __init__(self, config):
        self.config = config
        self.rng = rng = random.Random(config.seed)
        self.start = config.start
        self.computes = ['host-%d' % i for i in range(1, config.hosts + 1)]
        # Two availability zones: the first half of the compute hosts, the rest.
        self.zones = {h: 'az-%d' % (1 + 2 * i // len(self.computes))
                      for i, h in enumerate(self.computes)}
        self.controllers = ['ctl-%d' % i for i in range(1, config.controllers + 1)]
        self.cinder_host = 'cinder-1'
        self.glance_host = 'glance-1'
        self.glance_url = 'http://%s:9292/images/' % self.glance_host
        self.keystone_service_id = self.hex32()

        self.flavors = [Flavor(n, i, self.uuid(), c, m, r, e)
                        for n, i, c, m, r, e in catalogue.FLAVORS]
        self.projects = []
        self.users = []
        for p in range(config.projects):
            proj = Project()
            proj.id = self.hex32()
            proj.name = 'project-%d' % (p + 1)
            proj.network_id, proj.subnet_id, proj.sg_id = self.uuid(), self.uuid(), self.uuid()
            proj.net_prefix = '10.%d.' % ((p % 250) + 1)
            proj.next_ip = 10
            proj.users = []
            for u in range(config.users_per_project):
                user = User()
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
        for name, size, fmt, os_type, min_disk in catalogue.IMAGES:
            img = Image()
            img.id, img.name, img.size, img.disk_format = self.uuid(), name, size, fmt
            img.os_type, img.min_disk = os_type, min_disk
            img.checksum = '%032x' % rng.getrandbits(128)
            img.owner = self.projects[0].id
            img.url = self.glance_url + img.id
            self.images.append(img)
        self.instances = []
        for host in self.computes:
            for _ in range(config.instances_per_host):
                user = rng.choice(self.users)
                age = rng.uniform(3600, 90 * 86400)
                inst = self.new_instance(user, -age, host)
                self.launch(inst, -age + rng.uniform(20, 90))
                self.instances.append(inst)

    # ------------------------------------------------------------------ ids and times

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
        """The datetime of simulated second ``t``."""
        return self.start + _TD(seconds=t)

    def ts_legacy(self, t):
        return self.dt(t).strftime('%Y-%m-%d %H:%M:%S+00:00')

    def ts_v(self, t):
        return self.dt(t).strftime('%Y-%m-%dT%H:%M:%SZ')

    def ts_cadf(self, t):
        return self.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f+0000')

    def lognorm(self, median, sigma):
        """A duration: log-normal around ``median`` seconds."""
        return median * math.exp(self.rng.gauss(0.0, sigma))

    # ------------------------------------------------------------------ notifications

    def notif(self, t, exchange, topic, publisher, priority, event_type, payload, ctx):
        return SimulatedNotification(exchange, topic, publisher, priority, event_type, payload,
                                     dict(ctx), self.start + _TD(seconds=t), self.uuid())

    def request(self, t, user=None, global_request_id=None, service='nova', versioned=None,
                extra=None):
        """A new API request of ``user`` (a random one by default) to ``service``, with the
        context that service sends; nova requests are versioned at the configured ratio."""
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
            versioned = service == 'nova' and rng.random() < self.config.versioned_ratio
        return Request(ctx, rid, versioned, user, proj, rng.choice(self.controllers))

    def sub_request(self, t, parent, service):
        """A request ``parent``'s service makes to ``service`` on the user's behalf: it
        shares the parent's global request id (or has the parent's id as its global one)."""
        return self.request(t, parent.user, parent.ctx['global_request_id'] or parent.rid,
                            service)

    def admin_ctx(self):
        """The context of a service's own periodic task."""
        return {'user': None, 'user_id': None, 'tenant': None, 'project_id': None,
                'is_admin': True, 'read_only': False, 'show_deleted': False, 'roles': [],
                'auth_token': None, 'request_id': self.req_id(), 'global_request_id': None,
                'user_identity': '- - - - -'}

    # ------------------------------------------------------------------ instances

    def new_instance(self, user, t, host=None):
        rng = self.rng
        inst = Instance()
        inst.uuid = self.uuid()
        inst.name = '%s-%d' % (rng.choice(catalogue.NAMES), rng.randint(1, 999))
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

    def pick_instance(self):
        """An idle active or stopped instance, now busy; None after a few unlucky draws."""
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
        """Remember a new instance; past ``max_instances`` forget the oldest idle one."""
        insts = self.instances
        if len(insts) >= self.config.max_instances:
            for i, old in enumerate(insts):
                if not old.busy:
                    del insts[i]
                    break
        insts.append(inst)
