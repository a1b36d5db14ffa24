"""Ids where the services put them.

Each message is modelled on what its producer builds: heat's RequestContext.to_dict
(heat/common/context.py) and notification body (heat/engine/api.py
format_notification_body); keystonemiddleware's audit event (audit/_api.py:
a pycadf Event whose initiator is the user and whose target is the resource)
and ceilometermiddleware's ``objectstore.http.request``; keystone's
``identity.authenticate`` and ``role_assignment`` notifications
(keystone/notifications.py); cinder's volume usage (cinder/volume/volume_utils.py
_usage_from_volume: ``host`` is ``host@backend#pool``); neutron's metering agent
``l3.meter``.  Compared with ceilometer's own event_definitions.yaml and
meters.yaml, which read the same fields.
"""
from nvs_notif import notification

USER = 'c0ffee00aa4b4c5d8e9f0a1b2c3d4e5f'
PROJECT = 'b0a1c2d3e4f54a6b8c9d0e1f2a3b4c5d'
CADF = 'http://schemas.dmtf.org/cloud/audit/1.0/event'


def message(event_type, payload, publisher='orchestration.heat-1', priority='INFO', **ctxt):
    msg = {'message_id': 'm-1', 'event_type': event_type, 'publisher_id': publisher,
           'priority': priority, 'timestamp': '2024-06-02 09:00:00.000000', 'payload': payload}
    msg.update(('_context_' + k, v) for k, v in ctxt.items())
    return notification.normalize(msg)


def heat_body(**extra):
    body = {'tenant_id': PROJECT, 'user_id': 'demo', 'user_identity': USER,
            'stack_identity': 'arn:openstack:heat::%s:stacks/web/5f1e' % PROJECT,
            'stack_name': 'web', 'state': 'CREATE_IN_PROGRESS', 'state_reason': 'Stack CREATE started',
            'create_at': '2024-06-02T09:00:00Z'}
    body.update(extra)
    return body


def test_heat_legacy_context_tenant_is_the_project_name():
    # Kilo-era heat: tenant = project name, tenant_id = its id, user = user name
    n = message('orchestration.stack.create.start', heat_body(), request_id='req-h1',
                tenant='demo-project', tenant_id=PROJECT, user='demo', user_id=USER,
                username='demo', trustor_user_id=None)
    assert n.project_id == PROJECT and n.user_id == USER
    assert n.resource_type == 'stack' and n.resource_id == '5f1e'


def test_heat_acting_for_a_trustor():
    trustor = 'aa11bb22cc334d4e8f9a0b1c2d3e4f5a'
    n = message('orchestration.autoscaling.start', heat_body(), request_id='req-h2',
                project_id=PROJECT, user_id='heat-trustee-id', trust_id='t-1',
                trustor_user_id=trustor)
    assert n.user_id == trustor


def api_audit(event_type, target, publisher, **initiator):
    return message(event_type, {
        'typeURI': CADF, 'id': 'a7c1e3f5-0000-4000-8000-00000000cadf',
        'eventTime': '2024-06-02T09:00:00.000000+0000', 'eventType': 'activity',
        'action': 'read', 'outcome': 'pending',
        'initiator': dict({'typeURI': 'service/security/account/user', 'id': USER,
                           'name': 'demo', 'project_id': PROJECT,
                           'host': {'address': '10.0.0.9', 'agent': 'python-novaclient'},
                           'credential': {'token': '***', 'identity_status': 'Confirmed'}},
                          **initiator),
        'target': target, 'observer': {'id': 'target'},
        'requestPath': '/v2.1/servers/0b1c2d3e'}, publisher=publisher)


def test_keystonemiddleware_audit_names_target_and_initiator():
    server = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e'
    n = api_audit('audit.http.request', {'typeURI': 'service/compute/servers', 'id': server,
                                         'name': 'nova', 'addresses': []}, 'nova-api')
    assert n.resource_type == 'servers' and n.resource_id == server
    assert n.user_id == USER and n.project_id == PROJECT


def test_swift_objectstore_request():
    n = api_audit('objectstore.http.request', {
        'typeURI': 'service/storage/object', 'id': PROJECT,
        'metadata': {'path': '/v1/AUTH_%s/c/o' % PROJECT, 'version': 'v1',
                     'container': 'c', 'object': 'o'}}, 'ceilometermiddleware')
    assert n.service == 'swift'
    assert n.resource_type == 'object' and n.resource_id == PROJECT
    assert n.resource_id != 'a7c1e3f5-0000-4000-8000-00000000cadf'   # not the event's id
    assert n.user_id == USER


def test_identity_authenticate_without_initiator_user_id():
    n = message('identity.authenticate', {
        'typeURI': CADF, 'id': 'e1', 'eventType': 'activity', 'action': 'authenticate',
        'outcome': 'failure', 'reason': {'reasonCode': '401', 'reasonType': 'Unauthorized'},
        'initiator': {'typeURI': 'service/security/account/user', 'id': USER,
                      'host': {'address': '10.0.0.9', 'agent': 'curl'}},
        'target': {'typeURI': 'service/security/account/user', 'id': 'fresh-target-id'},
        'observer': {'typeURI': 'service/security', 'id': 'openstack:keystone'}},
        publisher='identity.keystone-1')
    assert n.user_id == USER
    assert n.resource_type == 'user' and n.resource_id == USER


def test_identity_role_assignment():
    role = 'r0le0000aaaa4bbb8ccc000000000001'
    n = message('identity.role_assignment.created', {
        'typeURI': CADF, 'id': 'e2', 'eventType': 'activity',
        'action': 'created.role_assignment', 'outcome': 'success',
        'initiator': {'typeURI': 'service/security/account/user', 'id': 'admin-uuid',
                      'user_id': 'admin-id', 'project_id': 'admin-project'},
        'target': {'typeURI': 'service/security/account/user', 'id': 'fresh-target-id'},
        'observer': {'typeURI': 'service/security', 'id': 'openstack:keystone'},
        'role': role, 'project': PROJECT, 'user': USER, 'inherited_to_projects': False},
        publisher='identity.keystone-1')
    assert n.resource_type == 'role' and n.resource_id == role
    assert n.project_id == PROJECT and n.user_id == USER


def test_cinder_host_is_the_backend_and_pool():
    n = message('volume.create.end', {
        'tenant_id': PROJECT, 'user_id': USER, 'host': 'cinder-1@lvmdriver-1#lvmdriver-1',
        'volume_id': 'v-1', 'status': 'available', 'size': 1, 'availability_zone': 'nova'},
        publisher='volume.cinder-1')
    assert n.host == 'cinder-1@lvmdriver-1#lvmdriver-1' and n.service == 'cinder'
    without = message('volume.delete.end', {'tenant_id': PROJECT, 'volume_id': 'v-1'},
                      publisher='volume.cinder-1')
    assert without.host == 'cinder-1'


def test_l3_meter_is_neutrons():
    n = message('l3.meter', {'tenant_id': PROJECT, 'label_id': 'l-1', 'bytes': 1024,
                             'pkts': 8, 'time': 60, 'first_update': 1717318800,
                             'last_update': 1717318860, 'host': 'net-1'},
                publisher='metering.net-1')
    assert n.service == 'neutron' and n.project_id == PROJECT
