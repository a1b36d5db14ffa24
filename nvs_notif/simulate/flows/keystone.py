"""keystone's flows: authentications (some failing) and project creation, sent as CADF
audit events with an empty request context (the request id is in
``initiator.request_id``)."""
from nvs_notif.simulate import catalogue
from nvs_notif.simulate.flow import FlowKind
from nvs_notif.simulate.records import NOTIFICATIONS


def cadf(w, t, action, outcome, user, target_type, target_id, rid, password=None):
    """A CADF event payload; ``password``: the credential a careless client sent."""
    initiator = {'typeURI': 'service/security/account/user', 'id': user.id,
                 'name': user.name,
                 'host': {'address': user.address, 'agent': w.rng.choice(catalogue.AGENTS)},
                 'project_id': user.project.id, 'request_id': rid}
    if password is not None:
        initiator['credential'] = {'type': 'password', 'password': password}
    p = {'typeURI': 'http://schemas.dmtf.org/cloud/audit/1.0/event',
         'id': w.uuid(), 'eventTime': w.ts_cadf(t), 'eventType': 'activity',
         'action': action, 'outcome': outcome,
         'observer': {'typeURI': 'service/security', 'id': w.keystone_service_id},
         'initiator': initiator,
         'target': {'typeURI': target_type, 'id': target_id}}
    if outcome == 'failure':
        p['reason'] = {'reasonType': 'HTTP', 'reasonCode': '401'}
    return p


def _identity_event(w, t, event_type, payload):
    # keystone sends its CADF notifications with an empty request context
    return w.notif(t, 'keystone', NOTIFICATIONS, 'identity.' + w.rng.choice(w.controllers),
                   'INFO', event_type, payload, {})


def keystone_auth(w, t):
    rng = w.rng
    user = rng.choice(w.users)
    rid = w.req_id()
    failed = rng.random() < w.config.error_ratio * 2
    password = None
    if failed and rng.random() < 0.5:
        password = 'wr0ng-%06x' % rng.getrandbits(24)   # what a careless client sends
    if not failed:
        user.token = w.token()
    payload = cadf(w, t, 'authenticate', 'failure' if failed else 'success', user,
                   'service/security/account/user', user.id, rid, password)
    yield t, _identity_event(w, t, 'identity.authenticate', payload)


def keystone_project(w, t):
    rng = w.rng
    admins = [u for u in w.users if 'admin' in u.roles]
    user = rng.choice(admins)
    new_id = w.hex32()
    payload = cadf(w, t, 'created.project', 'success', user, 'data/security/project',
                   new_id, w.req_id())
    payload['resource_info'] = new_id
    yield t, _identity_event(w, t, 'identity.project.created', payload)


FLOWS = (
    FlowKind('keystone_auth', keystone_auth, 0.16),
    FlowKind('keystone_project', keystone_project, 0.01),
)
