"""The span answers the stores compute: SQLite's SQL on a replayed cloud against the
Python path, and the search engines' aggregation bodies and their parsing (the real
engines answer them in tests/functional/test_queries.py)."""
import datetime

import pytest

from nvs_notif.answers import sla
from nvs_notif.answers import summary
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import spans
from nvs_notif import storage
from nvs_notif.storage import search_span_answers as search_answers
from nvs_notif.storage import sqlite_span_answers as sqlite_answers

T0 = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope='module')
def store():
    endpoint = replay.local_endpoint('sqlite://')
    replay.replay((s.to_message() for s in simulate.simulate(1500, seed=5)), endpoint)
    store = replay.local_store(endpoint)
    yield store
    store.close()


# --- SQLite ----------------------------------------------------------------------------

def _filters(store):
    every = store.spans()
    starts = sorted(s.start for s in every if s.start)
    project = every[0].project_id
    return [{}, dict(operation='compute.instance'), dict(since=starts[100]),
            dict(until=starts[-100], since=starts[50]), dict(project_id=project)] + [
        dict(group_by=g) for g in sorted(sla.GROUPS)]


def test_sqlite_sla_is_the_python_path(store):
    for f in _filters(store):
        rows = store.sla(**f)
        assert rows == storage.Store.sla(store, **f), f
        assert rows and all(isinstance(r, sla.SlaRow) for r in rows)


def test_sqlite_summary_failures_and_latest_time_are_the_python_path(store):
    latest = storage.Store.latest_time(store)
    assert store.latest_time() == latest
    project = store.spans()[0].project_id
    assert store.latest_time(project) == storage.Store.latest_time(store, project)
    assert store.latest_time('nobody') is None
    for policy in (spans.StuckPolicy.of(600, {'compute.instance.create': 1800}),
                   spans.StuckPolicy.of(1, {'compute.': 10 ** 6, 'compute.instance': 5})):
        for later in (0, 60, 3600, 10 ** 7):
            now = latest + datetime.timedelta(seconds=later)
            got = store.span_summary(now, policy)
            assert got == storage.Store.span_summary(store, now, policy), (policy, later)
            assert got.spans == store.count('spans')
    assert store.span_summary(latest, spans.StuckPolicy.of(1), 'nobody') == summary.SpanSummary()
    for limit in (1, 3, 100):
        assert store.top_failures(limit) == storage.Store.top_failures(store, limit)
    assert store.top_failures(100, project) == storage.Store.top_failures(store, 100, project)


def test_sqlite_breakdown_is_the_python_path(store):
    every = store.spans()
    starts = sorted(s.start for s in every if s.start)
    project = every[0].project_id
    found = 0
    for operation in ('compute.instance.create', 'compute.instance.delete', 'volume.create',
                      'no.such.operation'):
        for f in ({}, dict(since=starts[200]), dict(until=starts[-200], since=starts[10]),
                  dict(project_id=project)):
            rows = store.breakdown(operation, **f)
            assert rows == storage.Store.breakdown(store, operation, **f), (operation, f)
            found += len(rows)
    assert found > 20


def test_sqlite_sample_span_is_the_python_path(store):
    sample = store.sample_span()
    assert sample == storage.Store.sample_span(store) and sample.attempts > 1
    project = store.spans()[0].project_id
    assert store.sample_span(project) == storage.Store.sample_span(store, project)
    assert store.sample_span('nobody') is None
    assert 'spans_attempts' in _plan(store, sqlite_answers.sample_statement())


def _plan(store, statement):
    sql, args = statement
    return ' / '.join(row[-1] for row in store._db.execute('EXPLAIN QUERY PLAN ' + sql, args))


def test_whole_history_sla_reads_only_its_covering_index(store):
    # groups and percentiles: spans_sla alone, in its order (no sort); failures:
    # only the failed spans (spans_status)
    parts = sqlite_answers.sla_statements()
    plans = [_plan(store, parts['groups'])] + [
        _plan(store, s) for s in sqlite_answers.percentile_statements(
            store._read(*parts['groups']))]
    assert len(plans) > 10
    for plan in plans:
        assert 'spans USING COVERING INDEX spans_sla' in plan, plan
        assert 'TEMP B-TREE' not in plan, plan
    assert 'SEARCH spans USING INDEX spans_status (status=?)' in _plan(store, parts['failures'])


def test_whole_history_summary_reads_indexes_only(store):
    # the counts: spans_sla's columns (no table read); timeout: the open spans only
    policy = spans.StuckPolicy.of(600, {'compute.instance.create': 1800})
    plan = _plan(store, sqlite_answers.summary_statement(T0, policy))
    assert 'SCAN spans USING COVERING INDEX spans_sla' in plan, plan
    assert plan.count('SCAN') == 1, plan
    assert 'spans_open' in plan or 'spans_status (status=?)' in plan, plan


def test_breakdown_reads_the_roots_and_their_requests_by_index(store):
    for part in sqlite_answers.breakdown_statements('compute.instance.create').values():
        plan = _plan(store, part)
        assert 'SCAN spans' not in plan, plan
    plan = _plan(store, sqlite_answers.breakdown_statements('compute.instance.create')['parts'])
    assert 'spans_request (request_id=?)' in plan, plan
    assert 'spans_global_request (global_request_id=?)' in plan, plan


def test_latest_time_walks_the_time_index_newest_first(store):
    plan = _plan(store, sqlite_answers.latest_time_statement())
    assert 'notifications_time' in plan and 'TEMP B-TREE' not in plan, plan


def test_percentile_ranks_in_sql_are_the_nearest_ranks():
    groups = [('op', '-', 30, 30, 20)]
    statements = sqlite_answers.percentile_statements(groups)
    assert [args[2] for _sql, args in statements] == [10, 19, 20]
    assert [args[-1] for _sql, args in statements] == [9, 18, 19]       # offsets
    (sql, _args), = sqlite_answers.percentile_statements(groups, 'host')
    for p in sla.PERCENTILES:
        assert 'max((%d * n + 99) / 100, 1)' % p in sql
    assert [sla.rank(95, n) for n in (1, 19, 20, 21, 100)] == [1, 19, 19, 20, 95]


# --- search engines: bodies and their parsing ---------------------------------------------

def test_sla_groups_by_operation_and_the_chosen_field():
    assert search_answers.sla_keys(None) == ('operation',)
    assert search_answers.sla_keys('project') == ('operation', 'project_id')
    bucket = _bucket('op', None, 1, [1.0])
    bucket['key'] = {'operation': 'op', 'project_id': 'p1'}
    assert search_answers.sla_group(bucket, 'project').key == 'p1'
    assert search_answers.sla_group(bucket).key is None
    filters = search_answers.span_filters('compute.', T0, None, 'p1')
    assert filters == [{'term': {'project_id': 'p1'}}, {'prefix': {'operation': 'compute.'}},
                       {'range': {'start': {'gte': T0.isoformat()}}}]


def _bucket(op, host, count, durations, failures=()):
    return {'key': {'operation': op, 'host': host}, 'doc_count': count,
            'success': {'doc_count': count - len(failures)},
            'duration': {'count': len(durations), 'sum': sum(durations),
                         'max': max(durations) if durations else None},
            'percentiles': {'values': [{'key': float(p), 'value': 9.9 if durations else None}
                                       for p in sla.PERCENTILES]},
            'attempts': {'value': float(count + 1)}, 'rescheduled': {'doc_count': 1},
            'failures': {'top': {'buckets': [{'key': k, 'doc_count': n}
                                             for k, n in failures]}}}


def test_sla_rows_of_buckets_exact_where_listed():
    groups = [search_answers.sla_group(_bucket('b', None, 3, [1.0, 2.0, 4.0], [('E', 1)]),
                                       'host'),
              search_answers.sla_group(_bucket('a', 'h1', 2, []), 'host')]
    response = {'aggregations': {'exact': {'buckets': {'0': {'durations': {'buckets': [
        {'key': 1.0, 'doc_count': 1}, {'key': 2.0, 'doc_count': 1},
        {'key': 4.0, 'doc_count': 1}]}}}}}}
    exact = search_answers.exact_percentiles(response)
    assert exact == {0: [2.0, 4.0, 4.0]}
    rows = search_answers.sla_rows(groups, exact)
    assert rows == [sla.SlaRow('a', 'h1', 2, 100.0, '', None, None, None, None, None, 1.5, 1),
                    sla.SlaRow('b', '-', 3, 66.7, 'E:1', 2.333, 2.0, 4.0, 4.0, 4.0, 1.33, 1)]
    # without the exact pass: the estimate
    assert search_answers.sla_rows(groups[:1], {})[0].p50 == 9.9


def test_exact_bodies_only_for_small_groups_in_requests_under_the_bucket_limit(monkeypatch):
    monkeypatch.setattr(search_answers, 'EXACT_PERCENTILES', 10)
    groups = [search_answers.sla_group(_bucket('op%d' % i, None if i % 2 else 'h', 5,
                                               [1.0] * (i % 12)), 'host') for i in range(12000)]
    bodies = list(search_answers.exact_bodies('host', [], groups))
    named = [name for b in bodies for name in b['aggs']['exact']['filters']['filters']]
    assert sorted(map(int, named)) == [i for i in range(12000) if 0 < i % 12 <= 10]
    assert all(len(b['aggs']['exact']['filters']['filters']) * 10 <= 50000 for b in bodies)
    filters = bodies[0]['aggs']['exact']['filters']['filters']
    assert filters['1']['bool']['filter'][1] == {'bool': {'must_not': [
        {'exists': {'field': 'host'}}]}}
    assert filters['2']['bool']['filter'] == [{'term': {'operation': 'op2'}},
                                              {'term': {'host': 'h'}}]


def test_past_limit_gives_each_operation_its_longest_prefix_only():
    policy = spans.StuckPolicy.of(600, {'compute.': 60, 'compute.instance.create': 1800})
    now = T0
    clauses = search_answers.past_limit(now, policy)['bool']['should']
    create, compute, other = clauses
    assert create['bool']['filter'][0] == {'prefix': {'operation': 'compute.instance.create'}}
    assert create['bool']['must_not'] == []
    assert compute['bool']['must_not'] == [{'prefix': {'operation': 'compute.instance.create'}}]
    assert compute['bool']['filter'][1] == {'range': {'open_since': {
        'lt': (now - datetime.timedelta(seconds=60)).isoformat()}}}
    assert len(other['bool']['must_not']) == 2
    # a limit longer than time goes back: nothing is past it
    huge = search_answers.past_limit(now, spans.StuckPolicy.of(1e12))
    assert huge['bool']['should'][0]['bool']['filter'] == [{'match_none': {}}]


def test_summary_of_a_response():
    aggs = {name: {'doc_count': n} for name, n in (
        ('success', 5), ('failure', 2), ('open', 3), ('timeout', 1), ('without_start', 1),
        ('retried', 2), ('rescheduled', 1))}
    response = {'hits': {'total': {'value': 10}}, 'aggregations': aggs}
    assert search_answers.summary_of(response) == summary.SpanSummary(10, 5, 2, 2, 1, 1, 2, 1)
    assert search_answers.summary_of({'hits': {'total': {'value': 0}}}) == summary.SpanSummary()


def test_top_failures_of_buckets_rank_ties_by_name():
    buckets = [{'key': {'operation': op, 'error_key': exc}, 'doc_count': n}
               for op, exc, n in (('b', 'X', 1), ('a', None, 1), ('a', 'X', 2), ('c', 'Z', 2))]
    assert search_answers.top_failures(buckets, 3) == [
        summary.Failure('a', 'X', 2), summary.Failure('c', 'Z', 2),
        summary.Failure('a', None, 1)]


def test_latest_time_body_sorts_exactly_newest_first():
    body = search_answers.latest_time_body('p1')
    assert body['size'] == 1 and body['sort'][0] == {'timestamp': 'desc'}
    assert body['sort'][1]['timestamp.exact']['order'] == 'desc'
    assert {'term': {'project_id': 'p1'}} in body['query']['bool']['filter']
