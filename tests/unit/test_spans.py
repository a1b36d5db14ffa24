"""Unit tests for nvs_notif.spans (start/end/error notifications -> request spans)."""
import dataclasses
import datetime
import itertools
import json
import pathlib

import hypothesis
from hypothesis import strategies as st
import pytest

from nvs_notif import notification
from nvs_notif import services
from nvs_notif import spans
from nvs_notif.notification import Fault, Notification

T0 = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)
REQ = 'req-6b1c0f1e-0000-4000-8000-000000000001'
INSTANCE = '4b9f3c1a-1111-4222-8333-444455556666'
NO_VALID = Fault(exception='NoValidHost', message='No valid host was found.',
                 code=500, function='select_destinations')
PORT_FAIL = Fault(exception='PortBindingFailed', message='Binding failed for port p-1',
                  code=500, function='_build_and_run_instance')

_counter = itertools.count()


def notif(event_type, seconds=0.0, host='host-1', request_id=REQ, message_id=None,
          fault=None, resource_id=INSTANCE, **extra):
    """A normalised Notification as normalize() would build it."""
    operation, phase, _, _ = services.event_parts(event_type)
    if fault is None and phase == 'error':
        fault = PORT_FAIL
    fields = dict(
        message_id=message_id or 'msg-%d' % next(_counter),
        timestamp=T0 + datetime.timedelta(seconds=seconds),
        event_type=event_type, operation=operation, phase=phase,
        priority='error' if phase == 'error' else 'info',
        publisher_id='compute.%s' % host if host else 'compute',
        service='nova', host=host, request_id=request_id,
        global_request_id=None, project_id='proj-1', user_id='user-1',
        resource_type='instance', resource_id=resource_id,
        state=None, fault=fault if phase == 'error' else None, payload={})
    fields.update(extra)
    return Notification(**fields)


def span_of(*notifications):
    merged = spans.merge_all(f for f in map(spans.fragment, notifications) if f is not None)
    assert len(merged) == 1, merged
    return next(iter(merged.values()))


def outcome_now(span, seconds_after_t0=10_000.0, stuck_after=600.0):
    return spans.outcome(span, T0 + datetime.timedelta(seconds=seconds_after_t0), stuck_after)


# --- single spans ---------------------------------------------------------------

def test_start_end_is_success_with_duration():
    s = span_of(notif('compute.instance.create.start', 0),
                notif('compute.instance.create.end', 12.5))
    assert s.operation == 'compute.instance.create'
    assert s.host == 'host-1' and s.request_id == REQ and s.resource_id == INSTANCE
    assert s.start == T0
    assert s.end == T0 + datetime.timedelta(seconds=12.5)
    assert s.failed is None and s.fault is None
    assert s.duration == 12.5
    assert s.attempts == 1
    assert s.finished == s.end
    assert outcome_now(s) == 'success'


def test_start_error_is_failure_with_fault():
    s = span_of(notif('compute.instance.create.start', 0),
                notif('compute.instance.create.error', 3.0, fault=PORT_FAIL))
    assert s.failed == T0 + datetime.timedelta(seconds=3)
    assert s.end is None
    assert s.fault == PORT_FAIL
    assert s.duration == 3.0
    assert outcome_now(s) == 'failure'


def test_end_without_start():
    s = span_of(notif('compute.instance.create.end', 5))
    assert s.start is None
    assert s.end == T0 + datetime.timedelta(seconds=5)
    assert s.duration is None
    assert s.attempts == 0
    assert outcome_now(s) == 'success'


def test_error_without_start():
    s = span_of(notif('compute.instance.create.error', 5, fault=NO_VALID))
    assert s.start is None
    assert s.duration is None
    assert s.fault == NO_VALID
    assert outcome_now(s) == 'failure'


def test_start_only_in_progress_then_timeout():
    s = span_of(notif('compute.instance.create.start', 0))
    assert s.end is None and s.failed is None and s.finished is None
    assert s.duration is None
    assert spans.outcome(s, T0 + datetime.timedelta(seconds=30), 60) == 'in_progress'
    assert spans.outcome(s, T0 + datetime.timedelta(seconds=60), 60) == 'in_progress'
    assert spans.outcome(s, T0 + datetime.timedelta(seconds=61), 60) == 'timeout'
    # finished spans never time out
    done = span_of(notif('compute.instance.create.start', 0),
                   notif('compute.instance.create.end', 1))
    assert spans.outcome(done, T0 + datetime.timedelta(days=1), 60) == 'success'


def test_duplicates_change_nothing():
    start = notif('compute.instance.create.start', 0, message_id='m-start')
    end = notif('compute.instance.create.end', 7, message_id='m-end')
    once = span_of(start, end)
    twice = span_of(start, start, end, end, end)
    assert twice == once
    assert twice.attempts == 1
    assert twice.start_ids == frozenset({'m-start'})
    assert twice.end_ids == frozenset({'m-end'})


def test_out_of_order_same_as_in_order():
    start = notif('compute.instance.create.start', 0)
    end = notif('compute.instance.create.end', 9)
    assert span_of(end, start) == span_of(start, end)
    start2 = notif('compute.instance.create.start', 0)
    err = notif('compute.instance.create.error', 2, fault=NO_VALID)
    assert span_of(err, start2) == span_of(start2, err)


def test_reschedule_is_one_span_with_an_attempt_per_host():
    flow = [
        notif('compute.instance.create.start', 0, host='host-1'),
        notif('compute.instance.create.error', 2, host='host-1', fault=PORT_FAIL),
        notif('compute.instance.create.start', 3, host='host-2'),
        notif('compute.instance.create.error', 5, host='host-2', fault=NO_VALID),
        notif('compute.instance.create.start', 6, host='host-3'),
        notif('compute.instance.create.end', 20, host='host-3'),
    ]
    merged = spans.merge_all(spans.fragment(n) for n in flow)
    (span,) = merged.values()
    assert span.request_id == REQ
    assert span.attempts == 3
    assert span.hosts == {'host-1', 'host-2', 'host-3'}
    assert span.host == 'host-3'            # where the last attempt ran
    assert outcome_now(span) == 'success'   # the last attempt worked
    assert span.fault == NO_VALID           # the latest failure is kept
    assert span.duration == 20.0            # first start to final end
    # the same attempts failing at the end: a failure
    failed = spans.merge_all(spans.fragment(n) for n in flow[:4])
    (span,) = failed.values()
    assert outcome_now(span) == 'failure' and span.host == 'host-2' and span.attempts == 2


def test_attempt_started_after_a_failure_reopens_the_span():
    # A rescheduled create fails on host-1; the next attempt starts on host-2
    # and hangs: the span is open (in progress, then stuck), not failed.
    flow = [notif('compute.instance.create.start', 0, host='host-1'),
            notif('compute.instance.create.error', 5, host='host-1', fault=PORT_FAIL),
            notif('compute.instance.create.start', 6, host='host-2')]
    s = span_of(*flow)
    assert s.status == 'open' and s.is_open
    assert s.finished is None and s.duration is None
    assert s.fault == PORT_FAIL and s.host == 'host-2' and s.attempts == 2
    # open since the running attempt started, not since the first start
    assert s.open_since == T0 + datetime.timedelta(seconds=6)
    assert spans.outcome(s, T0 + datetime.timedelta(seconds=66), 60) == 'in_progress'
    assert spans.outcome(s, T0 + datetime.timedelta(seconds=67), 60) == 'timeout'
    # the second attempt works: success, timed from the first start
    done = span_of(*flow, notif('compute.instance.create.end', 20, host='host-2'))
    assert done.status == 'success' and done.duration == 20.0 and done.open_since is None
    # ... or fails too: failure
    failed = span_of(*flow, notif('compute.instance.create.error', 9, host='host-2',
                                  fault=NO_VALID))
    assert failed.status == 'failure' and failed.duration == 9.0 and failed.fault == NO_VALID


def test_attempt_started_after_an_end_reopens_the_span():
    # legacy, resource-keyed: the same operation again on the same resource
    flow = [notif('image.upload.start', 0, request_id=None, resource_id='img-1'),
            notif('image.upload.end', 4, request_id=None, resource_id='img-1'),
            notif('image.upload.start', 3600, request_id=None, resource_id='img-1')]
    s = span_of(*flow)
    assert s.status == 'open' and s.finished is None and s.duration is None
    assert s.open_since == T0 + datetime.timedelta(seconds=3600)
    assert spans.outcome(s, T0 + datetime.timedelta(seconds=3610), 60) == 'in_progress'


def test_start_at_the_same_instant_as_the_failure_does_not_reopen():
    s = span_of(notif('volume.attach.start', 0), notif('volume.attach.error', 2),
                notif('volume.attach.start', 2))
    assert s.status == 'failure' and s.duration == 2.0 and s.open_since is None


def test_operation_ending_on_another_host_is_one_span():
    # nova's resize revert starts on the destination and ends on the source
    span = span_of(notif('compute.instance.resize.revert.start', 0, host='host-2'),
                   notif('compute.instance.resize.revert.end', 4, host='host-1'))
    assert span.status == 'success' and span.duration == 4.0
    assert span.host == 'host-2' and span.hosts == {'host-1', 'host-2'}


def test_retry_loop_on_same_host_is_one_span_with_two_attempts():
    s = span_of(notif('volume.attach.start', 0),
                notif('volume.attach.error', 1, fault=PORT_FAIL),
                notif('volume.attach.start', 2),
                notif('volume.attach.end', 4))
    assert s.attempts == 2
    assert len(s.error_ids) == 1 and len(s.end_ids) == 1
    assert s.start == T0
    assert s.end == T0 + datetime.timedelta(seconds=4)


def test_retry_loop_without_end_keeps_latest_fault():
    s = span_of(notif('volume.attach.start', 0),
                notif('volume.attach.error', 1, fault=PORT_FAIL),
                notif('volume.attach.start', 2),
                notif('volume.attach.error', 3, fault=NO_VALID))
    assert s.attempts == 2
    assert s.failed == T0 + datetime.timedelta(seconds=3)
    assert s.fault == NO_VALID
    assert s.duration == 3.0


def test_without_request_id_falls_back_to_resource_id():
    a = spans.fragment(notif('image.upload.start', 0, request_id=None, resource_id='img-1'))
    b = spans.fragment(notif('image.upload.end', 4, request_id=None, resource_id='img-1'))
    other = spans.fragment(notif('image.upload.start', 0, request_id=None,
                                 resource_id='img-2'))
    assert a is not None and b is not None
    assert a.span_id == b.span_id == spans.span_id('img-1', 'image.upload')
    assert other.span_id != a.span_id
    s = spans.merge(a, b)
    assert s.request_id is None and s.resource_id == 'img-1'
    assert s.duration == 4.0
    # neither request nor resource id: nothing to correlate on
    assert spans.fragment(notif('image.upload.start', 0, request_id=None,
                                resource_id=None)) is None


def _normalized(name):
    """A fixture of tests/unit/fixtures/notifications, normalised."""
    path = pathlib.Path(__file__).parent / 'fixtures' / 'notifications' / (name + '.json')
    return notification.normalize(json.loads(path.read_text()))


def test_ironic_provisioning_across_requests_is_one_span_of_the_node():
    # start in the API's request, end in the handling of the ramdisk's heartbeat
    start = _normalized('ironic_baremetal_node_provision_set_start')
    end = _normalized('ironic_baremetal_node_provision_set_end')
    assert start.request_id != end.request_id
    s = span_of(end, start)
    assert (s.operation, s.status, s.attempts) == ('baremetal.node.provision_set.active',
                                                   'success', 1)
    assert s.resource_id == '1be26c0b-03f2-4d2e-ae87-c02d7f33c123' and s.hosts == {'cond-1'}
    # the tenant the node is leased to, not the caller's (nova's service) project
    assert s.project_id == 'a0d3c9e1f25b4c7d8e9f0a1b2c3d4e5f'
    assert s.duration == pytest.approx(461.38)
    error = _normalized('ironic_baremetal_node_provision_set_error')
    failed = span_of(start, error)
    assert failed.status == 'failure' and failed.fault.message.startswith('Timeout reached')


def _redeployed(name, instance, seconds):
    """Fixture ``name`` of the same node deploying ``instance``, ``seconds`` later."""
    n = _normalized(name)
    return dataclasses.replace(n, message_id='%s-%s' % (n.message_id, instance),
                               payload=dict(n.payload, instance_uuid=instance),
                               timestamp=n.timestamp + datetime.timedelta(seconds=seconds))


def test_each_instance_deployed_on_a_node_is_a_span_of_its_own():
    # nova reuses the node: a later instance's deploy is no attempt of the first one's
    start, end, error = (_normalized('ironic_baremetal_node_provision_set_' + phase)
                         for phase in ('start', 'end', 'error'))
    again = [_redeployed('ironic_baremetal_node_provision_set_' + phase, 'inst-2', 86400)
             for phase in ('start', 'error')]
    merged = spans.merge_all(f for n in [start, end] + again for f in spans.fragments(n))
    assert sorted((s.status, s.attempts, s.duration) for s in merged.values()) == [
        ('failure', 1, (error.timestamp - start.timestamp).total_seconds()),
        ('success', 1, pytest.approx(461.38))]
    assert {s.resource_id for s in merged.values()} == {start.resource_id}
    # ironic standalone: no instance, the node's span as before
    alone = [_redeployed('ironic_baremetal_node_provision_set_' + phase, None, 0)
             for phase in ('start', 'end')]
    assert span_of(*alone).span_id == spans.span_id(start.resource_id, start.operation)


def test_magnum_cluster_action_across_requests_is_one_span_of_the_cluster():
    s = span_of(_normalized('magnum_cluster_create_pending'),
                _normalized('magnum_cluster_create_success'))
    assert (s.operation, s.service, s.status, s.resource_type) == (
        'magnum.cluster.create', 'magnum', 'success', 'cluster')
    assert s.duration == pytest.approx(690.0) and s.user_id is not None


def test_manila_scheduler_error_fails_the_share_create():
    s = span_of(_normalized('manila_scheduler_create_share_error'))
    assert (s.operation, s.service, s.status, s.start) == ('share.create', 'manila',
                                                           'failure', None)
    assert s.fault.exception == 'NoValidHost'


def test_request_id_wins_over_resource_id():
    f = spans.fragment(notif('compute.instance.create.start', 0))
    assert f.span_id == spans.span_id(REQ, 'compute.instance.create')


def test_uncorrelated_phases_give_no_fragment():
    assert spans.fragment(notif('compute.instance.exists', 0)) is None
    assert spans.fragment(notif('compute.instance.update', 0)) is None
    assert spans.fragment(notif('aggregate.cache_images.progress', 0)) is None


def test_fragment_from_normalized_legacy_message():
    msg = {'message_id': 'm-1', 'publisher_id': 'compute.host-7',
           'event_type': 'compute.instance.create.error', 'priority': 'ERROR',
           'timestamp': '2024-01-15 08:00:05.000000', '_context_request_id': REQ,
           'payload': {'instance_id': INSTANCE,
                       'exception': {'class': 'NoValidHost', 'message': 'boom'}}}
    f = spans.fragment(notification.normalize(msg))
    assert f.host == 'host-7' and f.operation == 'compute.instance.create'
    assert f.failed == T0 + datetime.timedelta(seconds=5)
    assert f.fault.exception == 'NoValidHost' and f.fault.message == 'boom'
    assert f.error_ids == frozenset({'m-1'})


def test_merge_different_span_ids_raises():
    a = spans.fragment(notif('compute.instance.create.start', 0, host='host-1'))
    b = spans.fragment(notif('compute.instance.delete.start', 0, host='host-1'))
    with pytest.raises(ValueError):
        spans.merge(a, b)
    assert spans.merge(None, a) is a
    assert spans.merge(a, None) is a


def test_span_id_distinguishes_request_and_operation():
    ids = {spans.span_id(REQ, 'compute.instance.create'),
           spans.span_id('req-other', 'compute.instance.create'),
           spans.span_id(REQ, 'compute.instance.delete')}
    assert len(ids) == 3
    assert spans.span_id(REQ, 'x') == spans.span_id(REQ, 'x')


def test_merge_all_onto_existing():
    start = spans.fragment(notif('compute.instance.create.start', 0))
    end = spans.fragment(notif('compute.instance.create.end', 3))
    existing = {start.span_id: start}
    merged = spans.merge_all([end], existing)
    assert merged[start.span_id].duration == 3.0
    assert existing == {start.span_id: start}      # input not mutated


# --- StuckPolicy ------------------------------------------------------------------

def test_stuck_policy_longest_prefix_wins():
    overrides = {'compute.instance': 900, 'compute.instance.create': 1800,
                 'compute': 300, 'volume': '120'}
    policy = spans.StuckPolicy.of(60, overrides)
    assert policy.limit('compute.instance.create') == 1800.0
    assert policy.limit('compute.instance.delete') == 900.0
    assert policy.limit('compute_task.build_instances') == 300.0
    assert policy.limit('volume.attach') == 120.0
    assert policy.limit('image.upload') == 60.0
    assert spans.StuckPolicy.of(60, {}).limit('image.upload') == 60.0
    assert isinstance(spans.StuckPolicy.of(60).limit('image.upload'), float)
    # order of the mapping does not matter: one policy whatever it was
    reverse = dict(reversed(list(overrides.items())))
    assert spans.StuckPolicy.of(60, reverse) == policy


def test_stuck_policy_outcome_uses_the_operation_limit():
    s = spans.fragment(notif('compute.instance.create.start', 0))
    policy = spans.StuckPolicy.of(60, {'compute.instance.create': 1800})
    assert policy.outcome(s, T0 + datetime.timedelta(seconds=1800)) == 'in_progress'
    assert policy.outcome(s, T0 + datetime.timedelta(seconds=1801)) == 'timeout'
    assert spans.StuckPolicy.of(60).outcome(s, T0 + datetime.timedelta(seconds=61)) == 'timeout'


# --- properties -------------------------------------------------------------------

def _flow():
    """A messy request: reschedule, same-host retry, sub-request, unmatched halves,
    two errors at the same instant with different faults, legacy resource-keyed span."""
    rid2 = 'req-2'
    ns = [
        notif('compute.instance.create.start', 0, host='host-1', flavor='m1.small'),
        notif('compute.instance.create.error', 2, host='host-1', fault=PORT_FAIL,
              availability_zone='az-1', flavor='m1.small'),
        notif('compute.instance.create.start', 3, host='host-2', flavor='m1.small'),
        notif('compute.instance.create.error', 5, host='host-2', fault=NO_VALID,
              availability_zone='az-2', flavor='m1.small'),
        notif('compute.instance.create.error', 5, host='host-2', fault=PORT_FAIL),
        notif('compute.instance.create.start', 6, host='host-3', flavor='m1.small'),
        notif('compute.instance.create.end', 20, host='host-3', availability_zone='az-2',
              flavor='m1.small'),
        notif('port.create.start', 7, host='ctl-1', service='neutron',
              resource_type='port', resource_id='p-1', global_request_id=REQ,
              request_id=rid2),
        notif('port.create.end', 8, host='ctl-1', service='neutron',
              resource_type='port', resource_id='p-1', request_id=rid2),
        notif('volume.attach.start', 10, host='host-3', availability_zone='az-2'),
        notif('volume.attach.error', 11, host='host-3', fault=NO_VALID, flavor='m1.large',
              availability_zone='az-2'),
        notif('volume.attach.start', 12, host='host-3'),
        notif('volume.attach.end', 13, host='host-3', flavor='m1.small'),
        notif('volume.attach.error', 13, host='host-3', fault=Fault(message='late')),
        notif('scheduler.select_destinations.start', 0, host='ctl-1'),
        notif('image.upload.end', 1, host='ctl-1', request_id=None, resource_id='img-1'),
        notif('image.upload.start', 0, host='ctl-1', request_id=None, resource_id='img-1'),
        notif('compute.instance.exists', 30, host='host-3'),
    ]
    return [f for f in map(spans.fragment, ns) if f is not None]


FRAGMENTS = _flow()
EXPECTED = spans.merge_all(FRAGMENTS)


def test_flow_expectations():
    assert len(EXPECTED) == 5
    create = EXPECTED[spans.span_id(REQ, 'compute.instance.create')]
    assert create.attempts == 3 and create.status == 'success'
    # two errors at the same instant: the choice is deterministic
    assert create.fault in (NO_VALID, PORT_FAIL)
    # zones and flavors: the latest report wins (rescheduled from az-1 to az-2)
    assert (create.availability_zone, create.flavor) == ('az-2', 'm1.small')
    assert create.zone_seen == create.end and create.flavor_seen == create.end
    attach = EXPECTED[spans.span_id(REQ, 'volume.attach')]
    assert (attach.availability_zone, attach.flavor) == ('az-2', 'm1.small')
    sched = EXPECTED[spans.span_id(REQ, 'scheduler.select_destinations')]
    assert outcome_now(sched) == 'timeout'
    port = EXPECTED[spans.span_id('req-2', 'port.create')]
    assert port.global_request_id == REQ and port.duration == 1.0
    assert (port.availability_zone, port.flavor) == (None, None)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.data())
def test_merge_all_independent_of_order_and_duplicates(data):
    extra = data.draw(st.lists(st.sampled_from(range(len(FRAGMENTS))), max_size=20))
    fragments = FRAGMENTS + [FRAGMENTS[i] for i in extra]
    shuffled = data.draw(st.permutations(fragments))
    assert spans.merge_all(shuffled) == EXPECTED


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.data())
def test_merge_is_commutative_associative_idempotent(data):
    same = [f for f in FRAGMENTS
            if f.span_id == spans.span_id(REQ, 'volume.attach')]
    same += [f for f in FRAGMENTS
             if f.span_id == spans.span_id(REQ, 'compute.instance.create')]
    # spans of one id only
    pick = st.sampled_from([f for f in same if f.span_id == same[0].span_id])
    a, b, c = data.draw(pick), data.draw(pick), data.draw(pick)
    ab = spans.merge(a, b)
    assert ab == spans.merge(b, a)
    assert spans.merge(ab, c) == spans.merge(a, spans.merge(b, c))
    assert spans.merge(ab, ab) == ab
    assert spans.merge(ab, a) == ab


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(
    st.lists(st.tuples(st.sampled_from(['start', 'end', 'error']),
                       st.integers(0, 5),
                       st.sampled_from([None, 'A', 'B']),
                       st.sampled_from([None, 'x', 'y']),
                       st.sampled_from([None, 'az-1', 'az-2']),
                       st.sampled_from([None, 'm1.small', 'm1.large'])),
             min_size=1, max_size=8),
    st.randoms(use_true_random=False))
def test_merge_all_random_fragments_of_one_span(events, rnd):
    frags = []
    for i, (phase, sec, exc, msg, zone, flavor) in enumerate(events):
        fault = Fault(exception=exc, message=msg) if phase == 'error' else None
        frags.append(spans.fragment(notif('compute.instance.create.' + phase, sec,
                                          message_id='m%d' % i, fault=fault,
                                          availability_zone=zone, flavor=flavor)))
    expected = spans.merge_all(frags)
    shuffled = frags + rnd.sample(frags, k=min(3, len(frags)))
    rnd.shuffle(shuffled)
    assert spans.merge_all(shuffled) == expected
    # merging two halves merged separately (two agents) gives the same
    half = len(shuffled) // 2
    left, right = spans.merge_all(shuffled[:half]), spans.merge_all(shuffled[half:])
    assert spans.merge_all(right.values(), left) == expected
    (span,) = expected.values()
    # open exactly while the latest start is later than every end and failure
    starts = [e[1] for e in events if e[0] == 'start']
    finishes = [e[1] for e in events if e[0] != 'start']
    reopened = bool(starts) and (not finishes or max(starts) > max(finishes))
    assert (span.status == 'open') == (not finishes or reopened)
    assert (span.duration is None) == (not starts or span.status == 'open')
    # the value of the latest report; at the same time, the larger value
    assert span.availability_zone == max(((e[1], e[4]) for e in events if e[4]),
                                         default=(None, None))[1]
    assert span.flavor == max(((e[1], e[5]) for e in events if e[5]), default=(None, None))[1]


def test_merge_keeps_every_field():
    """merge() builds its Span field by field: a field added to Span must be
    merged too, not silently reset to its default."""
    t = datetime.datetime(2024, 5, 17, 6, 0, tzinfo=datetime.timezone.utc)

    def value(field_type):
        kind = str(field_type)
        return (t if 'datetime' in kind else Fault('E', 'boom', 500, 'f') if 'Fault' in kind
                else frozenset({'a'}) if 'frozenset' in kind else 'x')

    full = spans.Span(**{f.name: value(f.type) for f in dataclasses.fields(spans.Span)})
    for f in dataclasses.fields(spans.Span):
        assert getattr(full, f.name) != f.default, f.name
    assert spans.merge(full, full) == full
