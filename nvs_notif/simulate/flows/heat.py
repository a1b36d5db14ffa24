"""heat's flow: a stack create whose servers heat-engine boots in parallel through nova
(the servers' requests carry heat's request id as their global request id)."""
import heapq

from nvs_notif.simulate import catalogue
from nvs_notif.simulate.flow import FlowKind
from nvs_notif.simulate.flows.nova import CreateOutcome, server_create
from nvs_notif.simulate.records import NOTIFICATIONS


def _time(item):
    return item[0]


def heat_stack(w, t):
    rng = w.rng
    req = w.request(t, service='heat')
    stack_id = w.uuid()
    name = 'stack-%s-%d' % (rng.choice(catalogue.NAMES), rng.randint(1, 999))
    pub = 'orchestration.' + req.api
    created = w.ts_v(t)

    def stack_event(priority, event_type, state, reason):
        payload = {'stack_identity': 'arn:openstack:heat::%s:stacks/%s/%s' % (
                       req.project.id, name, stack_id),
                   'stack_name': name, 'tenant_id': req.project.id, 'user_id': req.user.id,
                   'username': req.user.name, 'create_at': created,
                   'updated_time': None, 'deleted_time': None, 'state': state,
                   'state_reason': reason, 'tags': None,
                   'description': 'Simulated application stack'}
        return w.notif(t, 'heat', NOTIFICATIONS, pub, priority, event_type, payload, req.ctx)

    yield t, stack_event('INFO', 'orchestration.stack.create.start', 'CREATE_IN_PROGRESS',
                         'Stack CREATE started')
    outcomes = []
    children = []
    for _ in range(rng.randint(1, 3)):
        o = CreateOutcome()
        outcomes.append(o)
        ts = t + rng.uniform(0.5, 2.0)
        children.append(server_create(w, ts, w.sub_request(ts, req, 'nova'), o))
    for item in heapq.merge(*children, key=_time):
        t = max(t, item[0])
        yield item
    t += w.lognorm(1.0, 0.4)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        inst = failed[0].instance
        reason = ('Resource CREATE failed: ResourceInError: resources.server: Went to '
                  'status ERROR due to "Message: %s, Code: 500"' % (
                      failed[0].fault or 'Unknown'))
        if inst is not None:
            reason += ' (server %s)' % inst.uuid
        yield t, stack_event('ERROR', 'orchestration.stack.create.error', 'CREATE_FAILED',
                             reason)
    else:
        yield t, stack_event('INFO', 'orchestration.stack.create.end', 'CREATE_COMPLETE',
                             'Stack CREATE completed successfully')


FLOWS = (
    FlowKind('heat_stack', heat_stack, 0.03),
)
