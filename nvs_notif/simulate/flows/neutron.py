"""neutron's flows: network, router and port create; and the ports nova-compute creates
and deletes for its servers."""
from nvs_notif.simulate.flow import FlowKind
from nvs_notif.simulate.records import NOTIFICATIONS


def _network_event(w, t, req, event_type, payload):
    return w.notif(t, 'neutron', NOTIFICATIONS, 'network.' + req.api, 'INFO', event_type,
                   payload, req.ctx)


def port_for_instance(w, t, parent, inst, host):
    """port.create.start/.end: nova-compute has neutron bind ``inst``'s port on ``host``."""
    req = w.sub_request(t, parent, 'neutron')
    proj = inst.project
    port = {'network_id': proj.network_id, 'tenant_id': proj.id, 'project_id': proj.id,
            'device_id': inst.uuid, 'device_owner': 'compute:nova',
            'admin_state_up': True, 'binding:host_id': host}
    yield t, _network_event(w, t, req, 'port.create.start', {'port': port})
    t += w.lognorm(0.6, 0.5)
    full = dict(port)
    full.update({'id': inst.port_id, 'name': '', 'mac_address': inst.mac,
                 'fixed_ips': [{'subnet_id': proj.subnet_id, 'ip_address': inst.ip}],
                 'status': 'DOWN', 'security_groups': [proj.sg_id],
                 'binding:vif_type': 'ovs', 'binding:vnic_type': 'normal',
                 'created_at': w.ts_v(t), 'updated_at': w.ts_v(t),
                 'revision_number': 1, 'description': '', 'tags': []})
    yield t, _network_event(w, t, req, 'port.create.end', {'port': full})


def port_delete(w, t, parent, inst):
    """port.delete.start/.end: nova-compute has neutron delete a deleted server's port."""
    req = w.sub_request(t, parent, 'neutron')
    t += 0.3
    yield t, _network_event(w, t, req, 'port.delete.start', {'port_id': inst.port_id})
    t += w.lognorm(0.4, 0.4)
    yield t, _network_event(w, t, req, 'port.delete.end', {'port_id': inst.port_id})


def _create_pair(w, t, req, resource, start_body, end_body, median):
    """<resource>.create.start with ``start_body``, .end with it updated by ``end_body``."""
    yield t, _network_event(w, t, req, resource + '.create.start', {resource: start_body})
    t += w.lognorm(median, 0.5)
    end_body = dict(start_body, **end_body)
    end_body['created_at'] = end_body['updated_at'] = w.ts_v(t)
    yield t, _network_event(w, t, req, resource + '.create.end', {resource: end_body})


def network_create(w, t):
    req = w.request(t, service='neutron')
    pid = req.project.id
    body = {'name': 'net-%d' % w.rng.randint(1, 999), 'admin_state_up': True,
            'tenant_id': pid, 'project_id': pid}
    yield from _create_pair(w, t, req, 'network', body, {
        'id': w.uuid(), 'status': 'ACTIVE', 'subnets': [], 'shared': False,
        'mtu': 1450, 'provider:network_type': 'vxlan',
        'provider:segmentation_id': w.rng.randint(1, 4000),
        'router:external': False, 'port_security_enabled': True,
        'availability_zones': [], 'revision_number': 1, 'tags': []}, 0.8)


def router_create(w, t):
    req = w.request(t, service='neutron')
    pid = req.project.id
    body = {'name': 'router-%d' % w.rng.randint(1, 999), 'admin_state_up': True,
            'tenant_id': pid, 'project_id': pid}
    yield from _create_pair(w, t, req, 'router', body, {
        'id': w.uuid(), 'status': 'ACTIVE', 'external_gateway_info': None,
        'routes': [], 'distributed': False, 'ha': False, 'flavor_id': None,
        'availability_zones': [], 'revision_number': 1, 'tags': []}, 1.2)


def port_create(w, t):
    req = w.request(t, service='neutron')
    proj = req.project
    mac = 'fa:16:3e:%06x' % w.rng.getrandbits(24)
    mac = '%s:%s:%s' % (mac[:11], mac[11:13], mac[13:])
    body = {'network_id': proj.network_id, 'admin_state_up': True, 'tenant_id': proj.id,
            'project_id': proj.id, 'device_id': '', 'device_owner': ''}
    yield from _create_pair(w, t, req, 'port', body, {
        'id': w.uuid(), 'name': '', 'mac_address': mac, 'status': 'DOWN',
        'fixed_ips': [{'subnet_id': proj.subnet_id,
                       'ip_address': '%s%d.%d' % (proj.net_prefix,
                                                  w.rng.randint(200, 249),
                                                  w.rng.randint(2, 250))}],
        'security_groups': [proj.sg_id], 'binding:vnic_type': 'normal',
        'revision_number': 1, 'tags': []}, 0.5)


FLOWS = (
    FlowKind('network_create', network_create, 0.03),
    FlowKind('router_create', router_create, 0.02),
    FlowKind('port_create', port_create, 0.03),
)
