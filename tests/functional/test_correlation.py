"""Spans are exactly right when two agents with two workers each share one queue.

Notifications for interleaved requests (succeeding, rescheduled, failing,
hung, nested resize, cross-service via global_request_id, ironic's deploy and
magnum's cluster create, whose start and end come from different requests)
are sent with oslo.messaging's Notifier; small batches spread every request
over workers and agents, so starts and ends are merged by different processes.
"""
import datetime
import uuid

import pytest

from nvs_notif import spans as spans_mod
from nvs_notif import storage
from tests.functional.support import store_url, wait_for

CREATE = 'compute.instance.create'


class Scenario:
    """Sends request flows and records the spans they must produce."""

    def __init__(self, sender, tag):
        self.sender = sender
        self.tag = tag
        self.flows = []
        self.expected = {}   # (request_id, operation) -> (status, attempts, hosts)
        self.sent = 0

    def _ctx(self, req, project, global_req=None):
        return {'request_id': req, 'global_request_id': global_req, 'project_id': project,
                'user_id': 'user-' + project, 'auth_token': 'tok-' + self.tag}

    def flow(self, steps, expect):
        """steps: (exchange, publisher, priority, event_type, payload, ctxt)."""
        self.flows.append(list(steps))
        self.expected.update(expect)

    def send_interleaved(self):
        # Round-robin over flows: requests overlap in time like real ones.
        pending = [list(f) for f in self.flows]
        while any(pending):
            for f in pending:
                if f:
                    self.sender.send(*f.pop(0))
                    self.sent += 1


def build(scenario, n_each=4):
    s = scenario
    for i in range(n_each):
        project = 'proj-%d' % (i % 3)
        inst = lambda: str(uuid.uuid4())  # noqa: E731

        # 1. a create that succeeds first time, with the scheduler inside it
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        pay = {'instance_id': iid, 'tenant_id': project, 'state': 'building'}
        s.flow([('nova', 'scheduler.ctl-1', 'INFO', 'scheduler.select_destinations.start', {}, ctx),
                ('nova', 'scheduler.ctl-1', 'INFO', 'scheduler.select_destinations.end', {}, ctx),
                ('nova', 'compute.host-1', 'INFO', CREATE + '.start', pay, ctx),
                ('nova', 'compute.host-1', 'INFO', CREATE + '.end', dict(pay, state='active'), ctx)],
               {(req, 'scheduler.select_destinations'): ('success', 1, {'ctl-1'}),
                (req, CREATE): ('success', 1, {'host-1'})})

        # 2. a create rescheduled twice: fails on host-2 and host-3, succeeds on host-4
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        pay = {'instance_id': iid, 'tenant_id': project, 'state': 'building'}
        steps = []
        for host, ok in (('host-2', False), ('host-3', False), ('host-4', True)):
            steps.append(('nova', 'compute.' + host, 'INFO', CREATE + '.start', pay, ctx))
            if ok:
                steps.append(('nova', 'compute.' + host, 'INFO', CREATE + '.end', pay, ctx))
            else:
                steps.append(('nova', 'compute.' + host, 'ERROR', CREATE + '.error',
                              dict(pay, exception='RescheduledException', message='Build failed',
                                   code=500), ctx))
        s.flow(steps, {(req, CREATE): ('success', 3, {'host-2', 'host-3', 'host-4'})})

        # 3. a create that fails: NoValidHost from the scheduler
        req = 'req-%s' % uuid.uuid4()
        ctx = s._ctx(req, project)
        s.flow([('nova', 'scheduler.ctl-1', 'INFO', 'scheduler.select_destinations.start', {}, ctx),
                ('nova', 'scheduler.ctl-1', 'ERROR', 'scheduler.select_destinations.error',
                 {'exception': 'NoValidHost', 'message': 'No valid host was found.'}, ctx)],
               {(req, 'scheduler.select_destinations'): ('failure', 1, {'ctl-1'})})

        # 4. a hung create: started, never ended
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        s.flow([('nova', 'compute.host-5', 'INFO', CREATE + '.start',
                 {'instance_id': iid, 'tenant_id': project}, ctx)],
               {(req, CREATE): ('open', 1, {'host-5'})})

        # 5. a resize with sub-operations on two hosts, and a revert that ends
        #    on another host than it started (as nova's does)
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        pay = {'instance_id': iid, 'tenant_id': project}
        steps, expect = [], {}
        for op, host in (('compute.instance.resize.prep', 'host-6'),
                         ('compute.instance.resize', 'host-1'),
                         ('compute.instance.finish_resize', 'host-6')):
            steps += [('nova', 'compute.' + host, 'INFO', op + '.start', pay, ctx),
                      ('nova', 'compute.' + host, 'INFO', op + '.end', pay, ctx)]
            expect[(req, op)] = ('success', 1, {host})
        revert_req = 'req-%s' % uuid.uuid4()
        rctx = s._ctx(revert_req, project)
        steps += [('nova', 'compute.host-6', 'INFO', 'compute.instance.resize.revert.start', pay, rctx),
                  ('nova', 'compute.host-1', 'INFO', 'compute.instance.resize.revert.end', pay, rctx)]
        expect[(revert_req, 'compute.instance.resize.revert')] = ('success', 1, {'host-1', 'host-6'})
        s.flow(steps, expect)

        # 6. a cinder volume created for a nova request (global_request_id)
        nova_req, req = 'req-%s' % uuid.uuid4(), 'req-%s' % uuid.uuid4()
        ctx = s._ctx(req, project, global_req=nova_req)
        pay = {'volume_id': str(uuid.uuid4()), 'tenant_id': project, 'status': 'creating'}
        s.flow([('cinder', 'volume.cinder-1', 'INFO', 'volume.create.start', pay, ctx),
                ('cinder', 'volume.cinder-1', 'INFO', 'volume.create.end',
                 dict(pay, status='available'), ctx)],
               {(req, 'volume.create'): ('success', 1, {'cinder-1'})})

        # 7. an ironic deploy: started in the API's request, ended in the
        #    handling of the ramdisk's heartbeat (another request): one span
        #    of the node and the instance deployed, named after its target state
        deploy_req, heartbeat_req, node, instance = (
            'req-%s' % uuid.uuid4(), 'req-%s' % uuid.uuid4(), str(uuid.uuid4()),
            str(uuid.uuid4()))

        def node_payload(state, target, previous, previous_target, event):
            return {'ironic_object.name': 'NodeSetProvisionStatePayload',
                    'ironic_object.namespace': 'ironic', 'ironic_object.version': '1.18',
                    'ironic_object.data': {
                        'uuid': node, 'instance_uuid': instance, 'lessee': project,
                        'owner': None,
                        'provision_state': state, 'target_provision_state': target,
                        'previous_provision_state': previous,
                        'previous_target_provision_state': previous_target,
                        'event': event, 'power_state': 'power on'}}
        s.flow([('ironic', 'ironic-conductor.cond-1', 'INFO', 'baremetal.node.provision_set.start',
                 node_payload('deploying', 'active', 'available', None, 'deploy'),
                 s._ctx(deploy_req, 'service')),
                ('ironic', 'ironic-conductor.cond-2', 'INFO', 'baremetal.node.provision_set.end',
                 node_payload('active', None, 'deploying', 'active', 'done'),
                 s._ctx(heartbeat_req, project))],
               {(min(deploy_req, heartbeat_req), 'baremetal.node.provision_set.active'):
                ('success', 1, {'cond-1', 'cond-2'})})

        # 8. a magnum cluster create: pending in the API's request, success
        #    from the conductor's periodic sync (another request)
        create_req, sync_req, cluster = ('req-%s' % uuid.uuid4(), 'req-%s' % uuid.uuid4(),
                                         str(uuid.uuid4()))

        def cadf(outcome):
            return {'typeURI': 'http://schemas.dmtf.org/cloud/audit/1.0/event',
                    'id': str(uuid.uuid4()), 'eventType': 'activity', 'action': 'create',
                    'outcome': outcome,
                    'initiator': {'id': str(uuid.uuid4()),
                                  'typeURI': 'service/security/account/user'},
                    'target': {'id': cluster, 'typeURI': 'service/magnum/cluster'},
                    'observer': {'id': str(uuid.uuid4()), 'typeURI': 'service/magnum/cluster'}}
        s.flow([('magnum', 'container-infra.ctl-1', 'INFO', 'magnum.cluster.create',
                 cadf('pending'), s._ctx(create_req, project)),
                ('magnum', 'container-infra.ctl-1', 'INFO', 'magnum.cluster.create',
                 cadf('success'), s._ctx(sync_req, project))],
               {(min(create_req, sync_req), 'magnum.cluster.create'):
                ('success', 1, {'ctl-1'})})
    return s


def _observed(spans):
    return {(s.request_id, s.operation): (s.status, s.attempts, set(s.hosts)) for s in spans}


@pytest.mark.parametrize('backend', ['elasticsearch', 'opensearch', 'sqlite'])
def test_two_agents_two_workers_give_exact_spans(backend, agent_factory, sender, es_prefix,
                                                 tmp_path):
    if backend != 'sqlite':
        url = store_url(backend, es_prefix)
    else:
        url = 'sqlite:///%s' % (tmp_path / 'shared.db')
    agents = [agent_factory([url], name='agent-%d' % i, workers=2, batch_size=3)
              for i in range(2)]
    scenario = build(Scenario(sender, uuid.uuid4().hex[:8]))
    scenario.send_interleaved()

    store = storage.get_store(url)
    try:
        wait_for(lambda: store.count('notifications') == scenario.sent, timeout=120,
                 what='%d notifications stored' % scenario.sent)
        assert store.count('notifications') == scenario.sent
        assert store.count('rejects') == 0
        # A span that lost a race to another agent is rewritten just after
        # its notifications became visible: allow it a moment.
        wait_for(lambda: _observed(store.spans()) == scenario.expected, timeout=30,
                 what='the expected spans')
        spans = store.spans()
        assert _observed(spans) == scenario.expected
        assert len(spans) == len(scenario.expected)

        by_key = {(s.request_id, s.operation): s for s in spans}
        for key, (status, _, _) in scenario.expected.items():
            span = by_key[key]
            if status == 'open':
                assert span.duration is None
            else:
                assert span.duration is not None and span.duration >= 0
            if status == 'failure' or span.attempts > 1:
                assert span.fault is not None and span.fault.exception in (
                    'RescheduledException', 'NoValidHost')
        # A rescheduled create ran its last attempt on host-4.
        assert {s.host for s in spans if s.attempts == 3} == {'host-4'}
        # The hung requests are reported stuck once past their limit.
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        stuck = [s for s in spans if spans_mod.outcome(s, later, stuck_after=1800) == 'timeout']
        assert {s.host for s in stuck} == {'host-5'} and len(stuck) == 4
        # The cinder spans carry the nova request they were made for.
        assert all(s.global_request_id for s in spans if s.service == 'cinder')
    finally:
        store.close()
    for agent in agents:
        assert agent.proc.poll() is None, '%s exited' % agent.name
        assert agent.tracebacks() == [], agent.tracebacks()[:1]
        assert 'tok-%s' % scenario.tag not in agent.log_text()
