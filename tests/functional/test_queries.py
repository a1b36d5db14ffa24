"""The operator commands answer the same, and right, from SQLite, Elasticsearch and OpenSearch.

One simulated cloud (``simulate(3000, seed=11)``) is replayed through the nvs
endpoint into a fresh SQLite file and a fresh prefix in each search engine; every
command runs in-process through the cliff app (``-f json``) against all three, the
outputs must be identical, and spot checks compare them with values computed
directly from ``store.spans()``.
"""
import collections
import datetime
import uuid

import pytest

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import sla
from nvs_notif.answers import stuck
from nvs_notif.answers import summary
from nvs_notif.cli import common
from nvs_notif import faults
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import spans as spans_mod
from nvs_notif import storage
from nvs_notif.storage import search_span_answers
from nvs_notif import timeutil
from tests.functional.cli import on_every_store
from tests.functional.support import delete_prefix, store_url


@pytest.fixture(scope='module')
def stores(es_client, os_client, tmp_path_factory):
    """``{'sqlite': url, 'elasticsearch': url, 'opensearch': url}`` holding the
    same replayed cloud.

    Module-scoped (one replay for every test here), so it makes and removes
    its own prefix the way the ``es_prefix`` fixture does.
    """
    prefix = 'nvs-test-%s' % uuid.uuid4().hex[:10]
    urls = {'sqlite': 'sqlite:///%s' % (tmp_path_factory.mktemp('queries') / 'nvs.db'),
            'elasticsearch': store_url('elasticsearch', prefix, refresh='false'),
            'opensearch': store_url('opensearch', prefix, refresh='false')}
    try:
        for url in urls.values():
            endpoint = replay.local_endpoint(url)
            replay.replay((s.to_message() for s in simulate.simulate(3000, seed=11)), endpoint)
            replay.local_store(endpoint).close()
        yield urls
    finally:
        for client in (es_client, os_client):
            delete_prefix(client, prefix)


@pytest.fixture(scope='module')
def spans(stores):
    store = storage.get_store(stores['sqlite'])
    try:
        return store.spans()
    finally:
        store.close()


@pytest.fixture(scope='module')
def now(spans):
    return summary.latest_time(spans)


@pytest.mark.parametrize('engine', ['elasticsearch', 'opensearch'])
def test_stores_hold_the_same_spans(stores, spans, engine):
    store = storage.get_store(stores[engine])
    try:
        assert sorted(map(repr, store.spans())) == sorted(map(repr, spans))
        assert store.count('notifications') == 3000
    finally:
        store.close()


def test_trace_rescheduled_create(stores, spans, now):
    create = min((s for s in spans if s.operation == 'compute.instance.create'
                  and s.attempts > 1 and len(s.hosts) > 1), key=lambda s: s.request_id)
    rows = on_every_store(stores, 'trace', create.request_id, '--now', now.isoformat())
    (row,) = [r for r in rows if r['step'].strip() == 'compute.instance.create'
              and r['request'] == create.request_id]
    assert row['attempts'] == create.attempts and 2 <= row['attempts'] <= 3
    assert row['hosts'] == ','.join(sorted(create.hosts))
    assert row['outcome'] == create.status
    # Every span of the request is in the tree.
    assert (sorted(r['step'].strip() for r in rows if r['request'] == create.request_id)
            == sorted(s.operation for s in spans if s.request_id == create.request_id))


def test_trace_across_services_is_one_tree(stores, spans, now):
    services = collections.defaultdict(set)
    for s in spans:
        if s.global_request_id:
            services[s.global_request_id].add(s.service)
    global_id = min(g for g, names in services.items() if len(names) >= 3)
    rows = on_every_store(stores, 'trace', global_id, '--now', now.isoformat())
    linked = [s for s in spans if s.global_request_id == global_id or s.request_id == global_id]
    assert {s.span_id for s in linked} <= {
        s.span_id for s in spans if s.request_id in {r['request'] for r in rows}}
    assert {r['service'] for r in rows} >= services[global_id]
    # One tree: every indented row follows its parent request's rows.
    assert not rows[0]['step'].startswith(' ')
    for r in rows:
        assert r['outcome'] in ('success', 'failure', 'in_progress', 'timeout')


def test_trace_raw(stores, spans):
    create = min((s for s in spans if s.operation == 'compute.instance.create'
                  and s.attempts > 1), key=lambda s: s.request_id)
    rows = on_every_store(stores, 'trace', create.request_id, '--raw')
    mine = [r for r in rows if r['request'] == create.request_id]
    starts = [r for r in mine if r['event_type'] == 'compute.instance.create.start']
    assert len(starts) == create.attempts
    assert [r['timestamp'] for r in rows] == sorted(r['timestamp'] for r in rows)


def test_errors(stores, spans):
    rows = on_every_store(stores, 'errors')
    failed = [s for s in spans if s.status == 'failure']
    assert failed
    assert sum(r['count'] for r in rows if r['source'] == 'span') == len(failed)
    # named by their exception, else their masked message (faults.fault_name)
    by_exception = collections.Counter(faults.fault_name(s.fault) or '-' for s in failed)
    counted = collections.Counter()
    for r in rows:
        if r['source'] == 'span':
            counted[r['exception']] += r['count']
    assert counted == by_exception
    store = storage.get_store(stores['sqlite'])
    try:
        error_docs = list(store.notifications(priorities=errors_answer.PRIORITIES))
    finally:
        store.close()
    assert sum(r['count'] for r in rows if r['source'] == 'notification') == len(error_docs)


def test_errors_window(stores, spans):
    # a span failed with its outer operation (aborted) failed then: finished
    failed = sorted(s.finished for s in spans if s.status == 'failure')
    since, until = failed[1], failed[-2]
    rows = on_every_store(stores, 'errors', '--since', since.isoformat(), '--until', until.isoformat())
    assert (sum(r['count'] for r in rows if r['source'] == 'span')
            == sum(1 for f in failed if since <= f <= until))
    for r in rows:
        assert since.isoformat() <= r['first seen'] <= r['last seen'] <= until.isoformat()


def expected_stuck(spans, now):
    policy = stuck.policy_of(common.load_conf())
    return {s.span_id for s in spans if s.status == 'open' and s.start is not None
            and (now - s.start).total_seconds() > policy.limit(s.operation)}


@pytest.mark.parametrize('later', [0, 900, 10 ** 6])
def test_stuck(stores, spans, now, later):
    # The replayed cloud lasts minutes: at its latest time nothing is past its
    # limit yet; 900 s on, the 600 s operations are but creates (1800 s) not.
    when = now + datetime.timedelta(seconds=later)
    rows = on_every_store(stores, 'stuck', '--now', when.isoformat())
    expected = expected_stuck(spans, when)
    assert {spans_mod.span_id(r['request_id'], r['operation']) for r in rows} == expected
    assert len(rows) == len(expected)
    assert all(r['open for (s)'] > r['limit (s)'] for r in rows)
    if later == 900:
        assert rows and {r['limit (s)'] for r in rows} == {600.0}
        assert expected != expected_stuck(spans, now + datetime.timedelta(seconds=10 ** 6))
    if later == 10 ** 6:
        assert len(rows) == sum(1 for s in spans if s.status == 'open' and s.start is not None)


@pytest.mark.parametrize('overrides', [{}, {'compute.instance.create': 60, 'compute.': 7200,
                                             'network.port': 10 ** 12, 'volume': 1e-7}])
def test_stuck_spans_read_open_spans_and_answer_as_the_python_path(stores, spans, now,
                                                                   overrides):
    """Each store's query over its open spans (limits as parameters) gives the rows
    the Python filter over every span gives, at a limit exactly too."""
    exactly = next(s.open_since for s in spans if s.open_since) + datetime.timedelta(seconds=300)
    times = [now + datetime.timedelta(seconds=t) for t in (0, 600, 86400, 10 ** 8)] + [exactly]
    found = 0
    for name, url in stores.items():
        store = storage.get_store(url)
        try:
            for when in times:
                for stuck_after in (0, 300, 3600):
                    policy = spans_mod.StuckPolicy.of(stuck_after, overrides)
                    python = storage.Store.stuck_spans(store, when, policy)
                    got = store.stuck_spans(when, policy)
                    assert len(got) <= sum(1 for s in spans if s.status == 'open'), name
                    assert stuck.stuck(got, when, policy) == stuck.stuck(python, when, policy), \
                        name
                    found += len(python)
        finally:
            store.close()
    assert found


def test_sla(stores, spans):
    rows = on_every_store(stores, 'sla', '--operation', 'compute.instance.create')
    (row,) = rows
    creates = [s for s in spans if s.operation == 'compute.instance.create']
    assert row['count'] == len(creates)
    assert row['success %'] == round(
        100.0 * sum(s.status == 'success' for s in creates) / len(creates), 1)
    durations = sorted(s.duration for s in creates if s.duration is not None)
    assert row['max (s)'] == round(durations[-1], 3)
    assert row['reschedules'] == sum(s.attempts > 1 and len(s.hosts) > 1 for s in creates)
    assert row['reschedules'] > 0
    grouped = on_every_store(stores, 'sla', '--group-by', 'host', '--operation', 'compute.instance.create')
    assert sum(r['count'] for r in grouped) == len(creates)
    assert len(on_every_store(stores, 'sla')) == len({s.operation for s in spans})


def test_sla_breakdown(stores, spans):
    rows = on_every_store(stores, 'sla', '--breakdown', 'compute.instance.create')
    root = rows[0]
    assert root['operation'] == 'compute.instance.create' and root['share %'] == 100.0
    children = {r['operation'].strip(): r for r in rows[1:]}
    assert 'scheduler.select_destinations' in children and 'port.create' in children
    # the requests whose create finished: an open create's steps are no share
    creates = {s.request_id for s in spans if s.operation == 'compute.instance.create'
               and s.duration is not None}
    schedule = [s for s in spans if s.operation == 'scheduler.select_destinations'
                and s.request_id in creates and s.duration is not None]
    assert children['scheduler.select_destinations']['spans'] == len(schedule)


def test_history(stores, spans):
    project = collections.Counter(s.project_id for s in spans if s.project_id).most_common(1)[0][0]
    rows = on_every_store(stores, 'history', '--project', project, '--limit', '25')
    assert len(rows) == 25
    stamps = [r['timestamp'] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    store = storage.get_store(stores['sqlite'])
    try:
        newest = max(d['timestamp'] for d in store.notifications(project_id=project))
    finally:
        store.close()
    assert stamps[0] == newest
    until = rows[10]['timestamp']
    windowed = on_every_store(stores, 'history', '--project', project, '--until', until, '--limit', '5')
    assert windowed[0]['timestamp'] == until
    resource = rows[0]['resource_id']
    assert all(r['resource_id'] == resource
               for r in on_every_store(stores, 'history', '--resource', resource, '--limit', '1000'))


def test_read_filters_agree(stores, spans):
    """Each read filter selects the same records from every store."""
    some = min((s for s in spans if s.global_request_id and s.start), key=lambda s: s.span_id)
    since = some.start
    until = since + datetime.timedelta(seconds=45)
    span_filters = [dict(request_id=some.request_id),
                    dict(global_request_id=some.global_request_id),
                    dict(project_id=some.project_id, operation='compute.'),
                    dict(since=since, until=until), dict(since=until), dict(until=since)]
    doc_filters = [dict(request_ids=[some.request_id, some.global_request_id]),
                   dict(project_id=some.project_id, limit=50),
                   dict(user_id=some.user_id, since=since),
                   dict(resource_id=some.resource_id),
                   dict(priorities=['error', 'critical'], until=until),
                   dict(since=since, until=until)]
    opened = {name: storage.get_store(url) for name, url in stores.items()}
    try:
        for f in span_filters:
            got = {name: sorted(map(repr, st.spans(**f))) for name, st in opened.items()}
            assert got['sqlite'] and all(g == got['sqlite'] for g in got.values()), f
        for f in doc_filters:
            got = {name: [d['message_id'] for d in st.notifications(**f)]
                   for name, st in opened.items()}
            assert got['sqlite'] and all(g == got['sqlite'] for g in got.values()), f
    finally:
        for st in opened.values():
            st.close()


@pytest.fixture(scope='module')
def opened(stores):
    """Every store of ``stores``, opened: ``{name: Store}``."""
    opened = {name: storage.get_store(url) for name, url in stores.items()}
    yield opened
    for store in opened.values():
        store.close()


@pytest.fixture(scope='module')
def docs(opened):
    """Every stored notification, newest first (SQLite's listing)."""
    return list(opened['sqlite'].notifications())


def test_listing_filters_and_order_agree(opened, docs):
    """The filters ``watch`` and the API push into the store select the same
    notifications, in the same exact order both ways, from every store."""
    some = next(d for d in docs if d['priority'] == 'error' and d.get('global_request_id'))
    filters = [dict(host=some['host']), dict(service=some['service'], limit=40),
               dict(event_type='compute.instance.'), dict(event_type=some['event_type']),
               dict(request=some['global_request_id']), dict(request=some['request_id']),
               dict(project_id=some['project_id'], priorities=['error', 'critical']),
               dict(since=timeutil.parse_iso(docs[700]['timestamp']), host=some['host'])]
    for f in filters:
        for oldest_first in (False, True):
            got = {name: [d['message_id'] for d in st.notifications(oldest_first=oldest_first,
                                                                    **f)]
                   for name, st in opened.items()}
            assert got['sqlite'] and all(g == got['sqlite'] for g in got.values()), f
    expected = [d['message_id'] for d in docs if d['host'] == some['host']]
    assert [d['message_id'] for d in opened['elasticsearch'].notifications(
        host=some['host'])] == expected
    both = [d['message_id'] for d in docs
            if some['global_request_id'] in (d['request_id'], d['global_request_id'])]
    assert len(both) > 1 and [d['message_id'] for d in opened['opensearch'].notifications(
        request=some['global_request_id'], oldest_first=True)] == both[::-1]


def test_notification_pages_of_a_project(opened, docs):
    """Pages newest first by (timestamp, message_id), each after the previous
    page's marker: together the project's notifications, once each, on every store."""
    project = collections.Counter(d['project_id'] for d in docs if d['project_id'])
    project = project.most_common(1)[0][0]
    mine = [d['message_id'] for d in docs if d['project_id'] == project]
    assert len(mine) > 70
    for name, store in opened.items():
        pages, marker = [], None
        while True:
            page, marker = store.notification_page(25, marker, project_id=project)
            pages.append([d['message_id'] for d in page])
            assert len(page) <= 25, name
            if marker is None:
                break
            assert marker == (page[-1]['timestamp'], page[-1]['message_id'])
        assert [m for p in pages for m in p] == mine, name
        assert [len(p) for p in pages[:-1]] == [25] * (len(pages) - 1)
        # the marker's timestamp ties are ordered by message_id: a marker just
        # above a stored row's id (same time) starts at that row; the empty id, after it
        at = len(docs) // 2
        stamp, message_id = docs[at]['timestamp'], docs[at]['message_id']
        ids = [d['message_id'] for d in docs]
        for marker, start in (((stamp, message_id + '0'), at), ((stamp, message_id), at + 1),
                              ((stamp, ''), at + 1)):
            page, _ = store.notification_page(3, marker)
            assert [d['message_id'] for d in page] == ids[start:start + 3], (name, marker)


def test_host_activity_is_computed_by_every_store_as_the_python_path(opened, docs):
    """Each store's aggregation gives the Python fallback's groups, windows
    bounded exactly at stored (microsecond) times, and per project."""
    stamps = sorted(timeutil.parse_iso(d['timestamp']) for d in docs)
    project = docs[0]['project_id']
    windows = [(stamps[0], stamps[-1], None), (stamps[10], stamps[-10], None),
               (stamps[100], stamps[100], None), (stamps[0], stamps[-1], project),
               (stamps[-1] + datetime.timedelta(microseconds=1), stamps[-1]
                + datetime.timedelta(hours=1), None)]
    for since, until, project_id in windows:
        python = sorted(storage.Store.host_activity(opened['sqlite'], since, until,
                                                    project_id), key=repr)
        for name, store in opened.items():
            assert sorted(store.host_activity(since, until, project_id), key=repr) == python, (
                name, since, until)
    full = storage.Store.host_activity(opened['sqlite'], stamps[0], stamps[-1])
    assert sum(a.count for a in full) == len(docs) and sum(a.errors for a in full) > 0


def test_hosts_rows_on_every_store(stores, docs):
    first, last = docs[-1]['timestamp'], docs[0]['timestamp']
    rows = on_every_store(stores, 'hosts', '--since', first, '--now', last,
                          '--silent-after', '60s')
    assert sum(r['notifications'] for r in rows) == len(docs)
    assert sum(r['notifications'] for r in rows if r['host'] == '-') == sum(
        1 for d in docs if not d['host'])
    assert len({r['host'] for r in rows}) > 3


def test_error_groups_are_computed_by_every_store_as_the_python_path(opened, spans):
    """Each store's aggregation gives the Python fallback's groups: whole
    history, windows bounded exactly at failure times (microseconds), per project."""
    failed = sorted(s.finished for s in spans if s.status == 'failure')
    project = collections.Counter(s.project_id for s in spans if s.status == 'failure')
    project = project.most_common(1)[0][0]
    windows = [(None, None, None), (failed[1], failed[-2], None), (failed[3], failed[3], None),
               (None, failed[5], None), (failed[-5], None, None), (None, None, project),
               (failed[-1] + datetime.timedelta(microseconds=1), None, None)]
    for since, until, project_id in windows:
        python = sorted(storage.Store.error_groups(opened['sqlite'], since, until, project_id),
                        key=repr)
        for name, store in opened.items():
            assert sorted(store.error_groups(since, until, project_id), key=repr) == python, (
                name, since, until, project_id)
    groups = storage.Store.error_groups(opened['sqlite'])
    assert {g.source for g in groups} == {'span', 'notification'}
    assert sum(g.count for g in groups if g.source == 'span') == len(failed)
    assert sum(g.count for g in storage.Store.error_groups(opened['sqlite'], failed[3],
                                                           failed[3])
               if g.source == 'span') == failed.count(failed[3])


# --- span answers computed by each store: the same rows as the Python path ----------------

def _sla_filters(spans):
    project = collections.Counter(s.project_id for s in spans).most_common(1)[0][0]
    starts = sorted(s.start for s in spans if s.start)
    since, until = starts[len(starts) // 4], starts[3 * len(starts) // 4]
    filters = [{}, dict(operation='compute.'), dict(since=since), dict(until=until),
               dict(since=since, until=until, operation='compute.instance.create'),
               dict(project_id=project), dict(project_id='no-such-project')]
    filters += [dict(group_by=g) for g in sorted(sla.GROUPS)]
    filters.append(dict(group_by='host', project_id=project, operation='compute.'))
    return filters


def test_sla_by_every_store_is_the_python_path(opened, spans):
    """Each store's own aggregation gives the Python path's rows, for every group and
    filter (groups here are small: exact percentiles on the search engines too)."""
    for f in _sla_filters(spans):
        python = storage.Store.sla(opened['sqlite'], **f)
        assert python or f.get('project_id') == 'no-such-project', f
        for name, store in opened.items():
            assert store.sla(**f) == python, (name, f)


def test_breakdown_by_every_store_is_the_python_path(opened, spans):
    """The breakdown each store computes (SQL joins; the search engines' terms filters of
    the roots' request ids) gives the Python path's rows, for every root operation with
    steps of its own or of the requests it made, and every filter."""
    project = collections.Counter(s.project_id for s in spans).most_common(1)[0][0]
    starts = sorted(s.start for s in spans if s.start)
    filters = [{}, dict(since=starts[len(starts) // 4]), dict(until=starts[len(starts) // 2]),
               dict(project_id=project), dict(project_id='no-such-project')]
    found = collections.Counter()
    for operation in ('compute.instance.create', 'compute.instance.delete',
                      'orchestration.stack.create', 'volume.create', 'no.such.operation'):
        for f in filters:
            python = storage.Store.breakdown(opened['sqlite'], operation, **f)
            found[operation] += len(python)
            for name, store in opened.items():
                assert store.breakdown(operation, **f) == python, (name, operation, f)
    # Steps of the requests themselves and of the requests they made were compared.
    assert found['compute.instance.create'] > 5 and found['orchestration.stack.create'] > 2
    assert found['no.such.operation'] == 0


def test_sla_percentile_estimates_stay_within_the_documented_tolerance(opened, spans,
                                                                       monkeypatch):
    """With every group estimated (no exact pass), a search engine's percentiles lie
    within search_span_answers.tolerance(n) ranks of the exact nearest rank; every other
    column stays exact."""
    monkeypatch.setattr(search_span_answers, 'EXACT_PERCENTILES', 0)
    durations = collections.defaultdict(list)
    for s in spans:
        if s.duration is not None:
            durations[s.operation].append(s.duration)
    checked = 0
    for name in ('elasticsearch', 'opensearch'):
        exact = storage.Store.sla(opened[name])
        estimated = opened[name].sla()
        assert len(estimated) == len(exact)
        for got, want in zip(estimated, exact):
            assert got._replace(p50=None, p95=None, p99=None) == want._replace(
                p50=None, p95=None, p99=None), name
            values = sorted(durations[want.operation])
            for p, value in zip(sla.PERCENTILES, (got.p50, got.p95, got.p99)):
                if not values:
                    assert value is None
                    continue
                r, tol = sla.rank(p, len(values)), search_span_answers.tolerance(len(values))
                low = values[max(r - tol, 1) - 1]
                high = values[min(r + tol, len(values)) - 1]
                assert round(low, 3) <= value <= round(high, 3), (name, want.operation, p)
                checked += 1
    assert checked > 50


def test_span_summary_top_failures_and_latest_time_by_every_store(opened, spans, now):
    project = collections.Counter(s.project_id for s in spans).most_common(1)[0][0]
    policies = [stuck.policy_of(common.load_conf()), spans_mod.StuckPolicy.of(1),
                spans_mod.StuckPolicy.of(300, {'compute.': 60, 'compute.instance.create': 10 ** 9,
                                               'volume': 1e-7})]
    times = [now, now + datetime.timedelta(seconds=900), now + datetime.timedelta(days=30)]
    for name, store in opened.items():
        for project_id in (None, project):
            assert store.latest_time(project_id) == storage.Store.latest_time(
                store, project_id), name
            for limit in (1, 5, 1000):
                assert store.top_failures(limit, project_id) == storage.Store.top_failures(
                    store, limit, project_id), (name, limit)
            for policy in policies:
                for when in times:
                    assert store.span_summary(when, policy, project_id) == \
                        storage.Store.span_summary(store, when, policy, project_id), \
                        (name, policy, when)
        for project_id in (None, project, 'no-such-project'):
            assert store.sample_span(project_id) == storage.Store.sample_span(
                store, project_id), name
    assert opened['sqlite'].latest_time() == now
    assert storage.Store.span_summary(opened['sqlite'], times[1], policies[0]).timeout
