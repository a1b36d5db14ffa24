"""Unit tests for the read-side answers (nvs_notif.queries, nvs_notif.answers) on hand-built
spans and docs."""
import argparse
import dataclasses
import datetime

import pytest

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import history
from nvs_notif.answers import sla
from nvs_notif.answers import stuck
from nvs_notif.answers import summary
from nvs_notif.answers import trace
from nvs_notif.cli import common
from nvs_notif import timeutil
from nvs_notif.notification import Fault
from nvs_notif.spans import Span
from nvs_notif.spans import StuckPolicy

T0 = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)
POLICY = StuckPolicy.of(600, {'compute.instance.create': 1800})
PLAIN = StuckPolicy.of(600)


def t(seconds):
    return T0 + datetime.timedelta(seconds=seconds) if seconds is not None else None


def span(op, request, start=0, end=None, failed=None, host='host-1', hosts=None, attempts=1,
         service='nova', global_request_id=None, exc=None, project='p1'):
    return Span(span_id='%s/%s' % (request, op), operation=op, service=service, host=host,
                request_id=request, global_request_id=global_request_id, project_id=project,
                hosts=frozenset(hosts or [host]), start=t(start), last_start=t(start),
                end=t(end), failed=t(failed),
                fault=Fault(exception=exc) if failed is not None else None,
                start_ids=frozenset('s%d' % i for i in range(attempts)),
                end_ids=frozenset(['e']) if end is not None else frozenset(),
                error_ids=frozenset(['x']) if failed is not None else frozenset())


def doc(seconds, event_type='compute.instance.create.error', priority='error', host='host-1',
        exc='NoValidHost', message_id=None, request='r1'):
    return {'message_id': message_id or 'm-%s' % seconds, 'timestamp': t(seconds).isoformat(),
            'event_type': event_type, 'priority': priority, 'host': host, 'service': 'nova',
            'error_type': exc, 'request_id': request, 'resource_id': 'i1', 'state': 'error'}


def errors(spans, docs, since=None, until=None):
    """The ``errors`` rows of ``spans`` and ``docs`` by the Python path (the stores' fallback)."""
    return errors_answer.rows(errors_answer.groups_of(spans, docs, since, until))


class TestParseTime:
    def test_relative(self):
        assert timeutil.parse_time('2h', t(7200)) == T0
        assert timeutil.parse_time('7d', t(7 * 86400)) == T0
        assert timeutil.parse_time('90s', t(90)) == T0

    def test_iso(self):
        assert timeutil.parse_time('2024-01-15T08:00:00Z', None) == T0
        assert timeutil.parse_time('2024-01-15T08:00:00', None) == T0
        assert timeutil.parse_time('2024-01-15T09:00:00+01:00', None) == T0

    def test_empty_and_bad(self):
        assert timeutil.parse_time('', T0) is None
        with pytest.raises(ValueError):
            timeutil.parse_time('yesterday', T0)

    @pytest.mark.parametrize('text', ['infh', '-infh', 'nanm', '1e12d', '99999999w',
                                      '1e400s', '-2h', '-0.5d'])
    def test_absurd_or_negative_ages_are_value_errors(self, text):
        # not OverflowError (a traceback in the CLI), not a time in the future
        with pytest.raises(ValueError):
            timeutil.parse_time(text, T0)
        with pytest.raises(argparse.ArgumentTypeError):
            common.time_arg(text)
        assert timeutil.parse_time('0h', T0) == T0


class TestTrace:
    def spans(self):
        return [
            span('compute.instance.create', 'r1', 10, end=40, hosts=['h1', 'h2'], attempts=2,
                 global_request_id='g1'),
            span('scheduler.select_destinations', 'r1', 5, end=6, global_request_id='g1'),
            span('port.create', 'r2', 20, end=21, service='neutron', global_request_id='r1'),
            span('volume.create', 'r3', 15, failed=18, service='cinder',
                 global_request_id='g1', exc='VolumeError'),
            span('orchestration.stack.create', 'g1', 0, service='heat'),
        ]

    def test_tree_order_and_indent(self):
        rows = trace.trace_tree(self.spans(), t(100), POLICY, ident='r1')
        assert [r[0] for r in rows] == [
            'orchestration.stack.create', '  scheduler.select_destinations',
            '  compute.instance.create', '    port.create', '  volume.create']
        create = rows[2]
        assert create[2] == 'h1,h2' and create[4] == 30.0 and create[5] == 2
        assert create[6] == 'success' and create[8] == 'r1'
        assert rows[4][6:8] == ('failure', 'VolumeError')
        assert rows[0][6] == 'in_progress'

    def test_siblings_hang_under_the_traced_request(self):
        # Without the global request's own spans, r3 (same global id) is r1's child.
        spans = [s for s in self.spans() if s.request_id != 'g1']
        rows = trace.trace_tree(spans, t(100), POLICY, ident='r1')
        assert [r[0] for r in rows] == [
            'scheduler.select_destinations', 'compute.instance.create',
            '  volume.create', '  port.create']
        # Traced by the global id: r1 and r3 are roots in start order, r2 stays r1's child.
        rows = trace.trace_tree(spans, t(100), POLICY, ident='g1')
        assert [r[0].strip() for r in rows][2:] == ['port.create', 'volume.create']
        assert [r[0].startswith('  ') for r in rows] == [False, False, True, False]

    def test_timeout_uses_per_operation_limit(self):
        rows = trace.trace_tree(self.spans(), t(700), POLICY, ident='r1')
        assert rows[0][6] == 'timeout'

    def test_related_request_ids(self):
        assert trace.related_request_ids(self.spans()[:3], 'r1') == {'r1', 'g1', 'r2'}

    def test_raw_rows_in_the_stores_order(self):
        rows = list(trace.raw_rows(iter([doc(1), doc(3, exc=None), doc(5)])))
        assert [r.timestamp for r in rows] == [t(1).isoformat(), t(3).isoformat(),
                                               t(5).isoformat()]
        assert rows[1] == ('compute.instance.create.error', t(3).isoformat(), 'host-1',
                           'error', None, 'r1')


def hung_retry(request='r1'):
    """A create that failed on host-1 at +5 s, rescheduled to host-2 at +6 s, hanging."""
    return dataclasses.replace(
        span('compute.instance.create', request, 0, failed=5, host='host-2',
             hosts=['host-1', 'host-2'], attempts=2, exc='ComputeResourcesUnavailable'),
        last_start=t(6))


class TestErrors:
    def test_groups_and_window(self):
        spans = [span('a', 'r1', 0, failed=10, exc='E1'), span('a', 'r2', 0, failed=30, exc='E1'),
                 span('a', 'r3', 0, failed=20, host='host-2', exc=None),
                 span('a', 'r4', 0, end=5)]
        docs = [doc(10), doc(50, host='host-2'), doc(60, priority='info')]
        rows = errors(spans, docs)
        assert rows[0] == ('span', 'host-1', 'nova', 'E1', 2, t(10).isoformat(),
                           t(30).isoformat())
        assert ('span', 'host-2', 'nova', '-', 1, t(20).isoformat(), t(20).isoformat()) in rows
        assert sum(r[4] for r in rows if r[0] == 'notification') == 2
        windowed = errors(spans, docs, since=t(15), until=t(40))
        assert [(r[0], r[1], r[4]) for r in windowed] == [('span', 'host-1', 1),
                                                          ('span', 'host-2', 1)]

    def test_failure_then_success_is_not_an_error(self):
        assert errors([span('a', 'r1', 0, failed=5, end=9, exc='E')], []) == []

    def test_failure_then_running_attempt_is_not_an_error(self):
        # host-1 failed, the reschedule to host-2 still runs: nothing failed yet
        assert errors([hung_retry()], []) == []


class TestStuck:
    def test_limits_and_order(self):
        spans = [span('compute.instance.create', 'r1', 0),          # limit 1800
                 span('volume.create', 'r2', 100),                   # limit 600
                 span('volume.create', 'r3', 0, end=10),             # finished
                 span('port.create', 'r4', 1000)]                    # open 500s: fine
        rows = stuck.stuck(spans, t(1500), POLICY)
        assert rows == [('r2', 'volume.create', 'host-1', 'p1', t(100).isoformat(), 1400.0,
                         600.0)]
        rows = stuck.stuck(spans, t(2000), POLICY)
        assert [r[0] for r in rows] == ['r1', 'r2', 'r4']
        assert rows[0][6] == 1800.0

    def test_attempt_hanging_after_a_failed_one_is_stuck(self):
        # open since the reschedule started (+6 s), on the host it hangs on
        assert stuck.stuck([hung_retry()], t(1806), POLICY) == []
        assert stuck.stuck([hung_retry()], t(3 * 3600), POLICY) == [
            ('r1', 'compute.instance.create', 'host-2', 'p1', t(6).isoformat(),
             3 * 3600 - 6.0, 1800.0)]

    def test_trace_and_sla_of_a_hung_retry(self):
        (row,) = trace.trace_tree([hung_retry()], t(3 * 3600), POLICY, ident='r1')
        assert row[4:8] == (None, 2, 'timeout', 'retried after ComputeResourcesUnavailable')
        (row,) = sla.sla([hung_retry()])
        assert row[3:6] == (0.0, '', None)
        assert summary.span_summary([hung_retry()], t(60), PLAIN).in_progress == 1
        assert summary.latest_time([hung_retry()]) == t(6)


class TestSla:
    def test_row(self):
        spans = [span('op', 'r%d' % i, 0, end=i + 1) for i in range(10)]
        spans += [span('op', 'f1', 0, failed=20, exc='E1'),
                  span('op', 'f2', 0, failed=30, exc='E1'),
                  span('op', 'f3', 0, failed=1, exc='E2', hosts=['h1', 'h2'], attempts=3),
                  span('op', 'open', 0)]
        (row,) = sla.sla(spans)
        assert row[:5] == ('op', '-', 14, round(100 * 10 / 14, 1), 'E1:2 E2:1')
        durations = sorted(list(range(1, 11)) + [20, 30, 1])
        assert row[5] == round(sum(durations) / 13, 3)
        assert row[6:10] == (6.0, 30.0, 30.0, 30.0)   # nearest rank: 7th of 13
        assert row[10] == round(16 / 14, 2) and row[11] == 1

    def test_filters_and_groups(self):
        spans = [span('compute.create', 'r1', 0, end=1, host='a'),
                 span('compute.create', 'r2', 0, end=3, host='b'),
                 span('volume.create', 'r3', 100, end=101)]
        assert [r[:3] for r in sla.sla(spans, group_by='host', operation='compute')] == [
            ('compute.create', 'a', 1), ('compute.create', 'b', 1)]
        assert [r[0] for r in sla.sla(spans, since=t(50))] == ['volume.create']

    def test_one_attempt_on_two_hosts_is_no_reschedule(self):
        # a resize revert starts on the destination and ends on the source
        revert = span('resize.revert', 'r1', 0, end=5, hosts=['host-2', 'host-5'])
        rescheduled = span('resize.revert', 'r2', 0, end=9, hosts=['host-1', 'host-2'],
                           attempts=2)
        retried = span('resize.revert', 'r3', 0, end=9, attempts=2)
        (row,) = sla.sla([revert, rescheduled, retried])
        assert row[11] == 1
        counts = summary.span_summary([revert, rescheduled, retried], t(10), PLAIN)
        assert counts.rescheduled == row.reschedules

    def test_percentile(self):
        assert sla.percentile([], 50) is None
        assert sla.percentile([1, 2, 3, 4], 50) == 2
        assert sla.percentile([1, 2, 3, 4], 99) == 4
        assert sla.percentile([7], 1) == 7


class TestBreakdown:
    def test_shares(self):
        spans = [span('create', 'r1', 0, end=10), span('create', 'r2', 0, end=30),
                 span('schedule', 'r1', 0, end=1), span('schedule', 'r2', 0, end=3),
                 span('port.create', 'n1', 0, end=8, service='neutron',
                      global_request_id='r2'),
                 span('schedule', 'other', 0, end=100), span('create', 'r3', 0)]
        rows = sla.breakdown(spans, 'create')
        assert rows == [('create', 'nova', 3, 2, 40.0, 100.0),
                        ('  port.create', 'neutron', 1, 1, 8.0, 20.0),
                        ('  schedule', 'nova', 2, 2, 4.0, 10.0)]

    def test_open_roots_and_their_parts_are_left_out(self):
        # r2's create still runs: its 20 s volume is not a share of r1's 10 s
        spans = [span('create', 'r1', 0, end=10), span('create', 'r2', 0),
                 span('volume.create', 'v1', 1, end=21, service='cinder',
                      global_request_id='r2'),
                 span('schedule', 'r2', 0, end=2), span('schedule', 'r1', 0, end=1)]
        rows = sla.breakdown(spans, 'create')
        assert rows == [('create', 'nova', 2, 1, 10.0, 100.0),
                        ('  schedule', 'nova', 1, 1, 1.0, 10.0)]
        assert all(r[5] <= 100.0 for r in rows)

    def test_no_roots(self):
        assert sla.breakdown([span('x', 'r1', 0, end=1)], 'create') == []


class TestHistory:
    def test_rows_in_the_stores_order(self):
        rows = list(history.history_rows(iter([doc(5, message_id='b'), doc(1, message_id='c'),
                                               doc(1, message_id='a')])))
        assert [r.timestamp for r in rows] == [t(5).isoformat(), t(1).isoformat(),
                                               t(1).isoformat()]
        assert [r[8] for r in rows] == ['NoValidHost'] * 3
        assert rows[0] == (t(5).isoformat(), 'compute.instance.create.error', 'error', 'nova',
                           'host-1', 'r1', 'i1', 'error', 'NoValidHost')

    def test_objects_are_the_rows_by_column(self):
        docs = [doc(5, message_id='b'), doc(1, message_id='c', exc=None)]
        assert history.history_objects(docs) == [
            row._asdict() for row in history.history_rows(docs)]
        assert list(history.history_objects(docs)[0]) == list(history.HISTORY_COLUMNS)


def test_existing_summary_still_works():
    spans = [span('a', 'r1', 0, end=1), span('a', 'r2', 0, failed=2, exc='E')]
    assert summary.latest_time(spans) == t(2)
    assert summary.span_summary(spans, t(3), PLAIN).failure == 1
    assert summary.top_failures(spans) == [('a', 'E', 1)]


def test_top_failures_rank_ties_by_name_whatever_the_store_order():
    spans = [span('b', 'r1', 0, failed=1, exc='X'), span('a', 'r2', 0, failed=1, exc='Y'),
             span('a', 'r3', 0, failed=1, exc='X'), span('c', 'r4', 0, failed=1, exc='Z'),
             span('c', 'r5', 0, failed=1, exc='Z')]
    expected = [('c', 'Z', 2), ('a', 'X', 1), ('a', 'Y', 1), ('b', 'X', 1)]
    assert summary.top_failures(spans, 4) == expected
    assert summary.top_failures(spans[::-1], 4) == expected


class TestSQLiteReads:
    """The read filters the commands rely on, against the embedded store."""

    @pytest.fixture(scope='class')
    def store(self):
        from nvs_notif import replay
        from nvs_notif import simulate
        endpoint = replay.local_endpoint('sqlite://')
        replay.replay((s.to_message() for s in simulate.simulate(600, seed=3)), endpoint)
        store = replay.local_store(endpoint)
        yield store
        store.close()

    def test_span_filters(self, store):
        every = store.spans()
        some = next(s for s in every if s.global_request_id and s.project_id)
        assert {s.span_id for s in store.spans(operation='compute.instance')} == {
            s.span_id for s in every if s.operation.startswith('compute.instance')}
        assert {s.span_id for s in store.spans(global_request_id=some.global_request_id)} == {
            s.span_id for s in every if s.global_request_id == some.global_request_id}
        assert {s.span_id for s in store.spans(project_id=some.project_id,
                                               request_id=some.request_id)} == {
            s.span_id for s in every if s.project_id == some.project_id
            and s.request_id == some.request_id}
        since, until = some.start, some.start + datetime.timedelta(seconds=30)
        assert {s.span_id for s in store.spans(since=since, until=until)} == {
            s.span_id for s in every
            if any(x is not None and since <= x <= until for x in (s.start, s.end, s.failed))}

    def test_notification_filters(self, store):
        docs = list(store.notifications())
        assert len(docs) == 600
        assert docs == sorted(docs, key=lambda d: (d['timestamp'], d['message_id']),
                              reverse=True)
        project = docs[0]['project_id']
        mine = list(store.notifications(project_id=project, limit=7))
        assert mine == [d for d in docs if d['project_id'] == project][:7]
        errors = list(store.notifications(priorities=['error']))
        assert errors == [d for d in docs if d['priority'] == 'error']
        since = datetime.datetime.fromisoformat(docs[100]['timestamp'])
        assert list(store.notifications(since=since)) == docs[:101]


def test_exceptions_without_a_class_are_grouped_by_their_masked_message():
    def classless(request, vm, seconds):
        s = span('compute.instance.resize', request, 0, failed=seconds)
        return dataclasses.replace(s, fault=Fault(
            message='VDI too big for requested resize up: %s has 40 GB' % vm, code=500))
    spans = [classless('r1', 'a0d3c9e1-f25b-4c7d-8e9f-0a1b2c3d4e5f', 5),
             classless('r2', 'b1e4dafc-36c9-4e1f-8a2b-3c4d5e6f7a8b', 7)]
    docs = [dict(doc(5, exc=None, request='r1'),
                 error_message='VDI too big for requested resize up: vm 7 has 40 GB')]
    key = 'VDI too big for requested resize up: # has # GB'
    assert errors(spans, docs) == [
        ('span', 'host-1', 'nova', key, 2, t(5).isoformat(), t(7).isoformat()),
        ('notification', 'host-1', 'nova', 'VDI too big for requested resize up: vm # has # GB',
         1, t(5).isoformat(), t(5).isoformat())]
    (row,) = sla.sla(spans)
    assert row[4] == key + ':2'
    assert summary.top_failures(spans) == [('compute.instance.resize', key, 2)]


def test_an_aborted_span_counts_when_its_outer_operation_failed():
    inner = dataclasses.replace(span('compute.instance.shutdown', 'r1', 2), aborted=t(5),
                                fault=Fault(exception='InstanceTerminationFailure'))
    assert inner.status == 'failure'
    assert errors([inner], []) == [
        ('span', 'host-1', 'nova', 'InstanceTerminationFailure', 1, t(5).isoformat(),
         t(5).isoformat())]
    assert errors([inner], [], since=t(6)) == []
