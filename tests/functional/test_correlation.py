"""Spans are exactly right when two agents with two workers each share one queue.

Notifications for interleaved requests (succeeding, rescheduled, failing,
hung, nested resize, cross-service via global_request_id) are sent with
oslo.messaging's Notifier; small batches spread every request over workers
and agents, so starts and ends are merged by different processes.
"""
import datetime
import uuid

import pytest

from nvs_notif import spans as spans_mod
from nvs_notif import storage
from tests.functional.conftest import es_store_url, wait_for

CREATE = 'compute.instance.create'


class Scenario:
    """Sends request flows and records the spans they must produce."""

    def __init__(self, sender, tag):
        self.sender = sender
        self.tag = tag
        self.flows = []
        self.expected = {}   # (request_id, operation, host) -> (status, attempts)
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
               {(req, 'scheduler.select_destinations', 'ctl-1'): ('success', 1),
                (req, CREATE, 'host-1'): ('success', 1)})

        # 2. a create rescheduled twice: fails on host-2 and host-3, succeeds on host-4
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        pay = {'instance_id': iid, 'tenant_id': project, 'state': 'building'}
        steps, expect = [], {}
        for host, ok in (('host-2', False), ('host-3', False), ('host-4', True)):
            steps.append(('nova', 'compute.' + host, 'INFO', CREATE + '.start', pay, ctx))
            if ok:
                steps.append(('nova', 'compute.' + host, 'INFO', CREATE + '.end', pay, ctx))
            else:
                steps.append(('nova', 'compute.' + host, 'ERROR', CREATE + '.error',
                              dict(pay, exception='RescheduledException', message='Build failed',
                                   code=500), ctx))
            expect[(req, CREATE, host)] = ('success' if ok else 'failure', 1)
        s.flow(steps, expect)

        # 3. a create that fails: NoValidHost from the scheduler
        req = 'req-%s' % uuid.uuid4()
        ctx = s._ctx(req, project)
        s.flow([('nova', 'scheduler.ctl-1', 'INFO', 'scheduler.select_destinations.start', {}, ctx),
                ('nova', 'scheduler.ctl-1', 'ERROR', 'scheduler.select_destinations.error',
                 {'exception': 'NoValidHost', 'message': 'No valid host was found.'}, ctx)],
               {(req, 'scheduler.select_destinations', 'ctl-1'): ('failure', 1)})

        # 4. a hung create: started, never ended
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        s.flow([('nova', 'compute.host-5', 'INFO', CREATE + '.start',
                 {'instance_id': iid, 'tenant_id': project}, ctx)],
               {(req, CREATE, 'host-5'): ('open', 1)})

        # 5. a resize with nested sub-operations on two hosts
        req, iid = 'req-%s' % uuid.uuid4(), inst()
        ctx = s._ctx(req, project)
        pay = {'instance_id': iid, 'tenant_id': project}
        steps, expect = [], {}
        for op, host in (('compute.instance.resize.prep', 'host-6'),
                         ('compute.instance.resize', 'host-1'),
                         ('compute.instance.finish_resize', 'host-6')):
            steps += [('nova', 'compute.' + host, 'INFO', op + '.start', pay, ctx),
                      ('nova', 'compute.' + host, 'INFO', op + '.end', pay, ctx)]
            expect[(req, op, host)] = ('success', 1)
        s.flow(steps, expect)

        # 6. a cinder volume created for a nova request (global_request_id)
        nova_req, req = 'req-%s' % uuid.uuid4(), 'req-%s' % uuid.uuid4()
        ctx = s._ctx(req, project, global_req=nova_req)
        pay = {'volume_id': str(uuid.uuid4()), 'tenant_id': project, 'status': 'creating'}
        s.flow([('cinder', 'volume.cinder-1', 'INFO', 'volume.create.start', pay, ctx),
                ('cinder', 'volume.cinder-1', 'INFO', 'volume.create.end',
                 dict(pay, status='available'), ctx)],
               {(req, 'volume.create', 'cinder-1'): ('success', 1)})
    return s


def _observed(spans):
    return {(s.request_id, s.operation, s.host): (s.status, s.attempts) for s in spans}


@pytest.mark.parametrize('backend', ['elasticsearch', 'sqlite'])
def test_two_agents_two_workers_give_exact_spans(backend, agent_factory, sender, es_prefix,
                                                 tmp_path):
    if backend == 'elasticsearch':
        url = es_store_url(es_prefix)
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
        spans = store.spans()
        assert _observed(spans) == scenario.expected
        assert len(spans) == len(scenario.expected)

        by_key = {(s.request_id, s.operation, s.host): s for s in spans}
        for key, (status, _) in scenario.expected.items():
            span = by_key[key]
            if status == 'open':
                assert span.duration is None
            else:
                assert span.duration is not None and span.duration >= 0
            if status == 'failure':
                assert span.fault is not None and span.fault.exception in (
                    'RescheduledException', 'NoValidHost')
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
