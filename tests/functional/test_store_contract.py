"""The store contract (``nvs_notif/storage/base.py``), one suite for every driver.

Every test runs on SQLite, Elasticsearch and OpenSearch (the real servers of
``tools/test-services.sh``), only through ``storage.get_store`` and the
``Store`` methods, and every expectation is written out from the data below.

Where a case goes:

- a read of stored data (a filter, an ordering, an answer of a new method):
  under "Reads", on ``loaded`` (one store per driver holding ``NOTES``,
  ``EVENTS``, ``SAMPLES`` and ``REJECT``, written once per module); extend
  ``NOTES`` only with what no read below counts;
- a write, purge or failure semantic: under "Writes" / "Purge" / "Failures",
  on ``fresh`` (an empty store per test);
- a method every driver must answer the same: add it to ``OPERATIONS``, so
  the failure tests hold it to StoreError too.
"""
import datetime
import uuid

import pytest

from nvs_notif.answers.errors import ErrorGroup
from nvs_notif.answers import history
from nvs_notif.answers.hosts import HostActivity
from nvs_notif.answers.sla import BreakdownRow, SlaRow
from nvs_notif.answers.summary import Failure, SpanSummary
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import spans as spans_mod
from nvs_notif import storage
from nvs_notif import timeutil
from nvs_notif.notification import Fault, Notification
from nvs_notif.storage import documents
from nvs_notif.storage import search
from nvs_notif.storage import search_reads
from nvs_notif.storage import search_span_answers
from nvs_notif.storage import sqlite_reads
from tests.functional.support import delete_prefix, store_url

DRIVERS = ('sqlite', 'elasticsearch', 'opensearch')
KINDS = ('notifications', 'spans', 'events', 'samples', 'rejects')
UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 5, 17, 6, 0, 0, tzinfo=UTC)
NO_HOST = Fault(exception='NoValidHost', message='No valid host was found.', code=500,
                function='select_destinations')


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def note(message_id, seconds, event_type, request_id=None, project_id='p-1', user_id='u-1',
         resource_id='vm-a', host='host-1', global_request_id=None, fault=None, when=None):
    """A notification as ``notification.normalize`` makes them (nova's shapes)."""
    operation, _, phase = event_type.rpartition('.')
    if phase not in spans_mod.CORRELATED_PHASES:
        operation, phase = event_type, 'none'
    return Notification(
        message_id=message_id, timestamp=when or at(seconds), event_type=event_type,
        operation=operation, phase=phase, priority='error' if phase == 'error' else 'info',
        publisher_id='compute.' + host, service='nova', host=host, request_id=request_id,
        global_request_id=global_request_id, project_id=project_id, user_id=user_id,
        resource_type='instance', resource_id=resource_id, state='active',
        fault=fault if phase == 'error' else None,
        payload={'instance_id': resource_id, 'nested': {'sizes': [1, 'two', {'three': 3}]}})


def batch(notes, rejects=()):
    """What the pipeline hands a store for ``notes`` (``pipeline.Items.batch``)."""
    return storage.Batch(list(notes), [f for n in notes for f in spans_mod.fragments(n)],
                         list(rejects))


# The read data: six spans (by request and operation)
#   req-a compute.instance.create   start 0, end 10          success  g-1 p-1
#   req-b compute.instance.create   start 20, failed 25      failure  g-1 p-1
#   req-c volume.create             start 30                 open         p-2
#   req-d compute.instance.resize   start 40                 open         p-1
#   req-e compute.instance.delete   start 75, failed 80      failure      p-1
#   req-e compute.instance.shutdown aborted 80 (by the delete's error)    p-1
# and notifications that tell no span: two at one time (ties), two a
# microsecond apart (message ids in the other order).
NOTES = [
    note('a-1', 0, 'compute.instance.create.start', 'req-a', global_request_id='g-1'),
    note('a-2', 10, 'compute.instance.create.end', 'req-a', global_request_id='g-1'),
    note('b-1', 20, 'compute.instance.create.start', 'req-b', user_id='u-2',
         resource_id='vm-b', host='host-2', global_request_id='g-1'),
    note('b-2', 25, 'compute.instance.create.error', 'req-b', user_id='u-2',
         resource_id='vm-b', host='host-2', global_request_id='g-1', fault=NO_HOST),
    note('c-1', 30, 'volume.create.start', 'req-c', project_id='p-2', user_id='u-3',
         resource_id='vol-c', host='cinder-1'),
    note('d-1', 40, 'compute.instance.resize.start', 'req-d'),
    note('tie-a', 50, 'compute.instance.update', 'req-d'),
    note('tie-b', 50, 'compute.instance.update', 'req-d'),
    note('us-b', 0, 'compute.instance.exists', project_id='p-2', user_id='u-3',
         resource_id='vm-c', when=at(60) + datetime.timedelta(microseconds=1)),
    note('us-a', 0, 'compute.instance.exists', project_id='p-2', user_id='u-3',
         resource_id='vm-c', when=at(60) + datetime.timedelta(microseconds=2)),
    note('e-1', 75, 'compute.instance.delete.start', 'req-e', user_id='u-2', resource_id='vm-b'),
    note('e-2', 80, 'compute.instance.delete.error', 'req-e', user_id='u-2', resource_id='vm-b',
         fault=NO_HOST),
]
#: notifications() with no filter: newest first, ties by message_id descending.
NEWEST_FIRST = ['e-2', 'e-1', 'us-a', 'us-b', 'tie-b', 'tie-a', 'd-1', 'c-1', 'b-2', 'b-1',
                'a-2', 'a-1']
A = ('req-a', 'compute.instance.create')
B = ('req-b', 'compute.instance.create')
C = ('req-c', 'volume.create')
D = ('req-d', 'compute.instance.resize')
E = ('req-e', 'compute.instance.delete')
E_ABORTED = ('req-e', 'compute.instance.shutdown')
EVENTS = [{'message_id': 'ev-%d' % i, 'event_type': 'nvs.span', 'generated': at(i).isoformat(),
           'traits': {'operation': 'compute.instance.create', 'duration': 10.0}}
          for i in (1, 2)]
SAMPLES = [{'message_id': 'sa-%d' % i, 'counter_name': 'nvs.request.duration',
            'counter_type': 'gauge', 'counter_unit': 's', 'counter_volume': 10.0,
            'user_id': 'u-1', 'project_id': 'p-1', 'resource_id': 'vm-a',
            'timestamp': at(i).isoformat(), 'resource_metadata': {'operation': 'x'}}
           for i in (1, 2)]
REJECT = storage.Reject('"not a notification"', 'message is a str, not a dict', at(5))


def names(spans):
    """Spans by (request id, operation), sorted."""
    return sorted((s.request_id, s.operation) for s in spans)


def message_ids(docs):
    return [d['message_id'] for d in docs]


# --- stores ----------------------------------------------------------------------------

def _new_url(request, driver, directory):
    """A store URL of ``driver`` nobody else uses, removed after the test (or module)."""
    if driver == 'sqlite':
        return 'sqlite:///%s' % (directory / ('%s.db' % uuid.uuid4().hex[:10]))
    client = request.getfixturevalue({'elasticsearch': 'es_client',
                                      'opensearch': 'os_client'}[driver])
    prefix = 'nvs-test-%s' % uuid.uuid4().hex[:10]
    request.addfinalizer(lambda: delete_prefix(client, prefix))
    return store_url(driver, prefix)


@pytest.fixture(scope='module', params=DRIVERS)
def driver(request):
    return request.param


@pytest.fixture(scope='module')
def loaded(request, driver, tmp_path_factory):
    """A store of ``driver`` holding the read data, shared by the module's reads."""
    store = storage.get_store(_new_url(request, driver, tmp_path_factory.mktemp('contract')))
    store.write(batch(NOTES, [REJECT]))
    store.write_events(EVENTS)
    store.write_samples(SAMPLES)
    yield store
    store.close()


@pytest.fixture
def url(request, driver, tmp_path):
    """The URL of an empty store of ``driver``."""
    return _new_url(request, driver, tmp_path)


@pytest.fixture
def fresh(url):
    store = storage.get_store(url)
    yield store
    store.close()


# --- Reads -----------------------------------------------------------------------------

def test_documents_read_back_as_written(loaded):
    """Every notification comes back as its document, payload and all; every
    span as the merge of its fragments."""
    assert {d['message_id']: d for d in loaded.notifications()} == {
        n.message_id: documents.notification_doc(n) for n in NOTES}
    expected = spans_mod.merge_all(batch(NOTES).fragments)
    assert {s.span_id: s for s in loaded.spans()} == expected
    assert names(expected.values()) == sorted([A, B, C, D, E, E_ABORTED])
    # By id (what the hub's tail reads of the spans new notifications finished).
    some = sorted(expected)[:3]
    assert loaded.spans_by_id(some + ['no-such-span']) == {i: expected[i] for i in some}
    assert loaded.spans_by_id([]) == {}


def test_count_per_kind(loaded):
    assert {kind: loaded.count(kind) for kind in KINDS} == {
        'notifications': 12, 'spans': 6, 'events': 2, 'samples': 2, 'rejects': 1}
    with pytest.raises(ValueError):
        loaded.count('meters')


@pytest.mark.parametrize('filters, expected', [
    ({}, [A, B, C, D, E, E_ABORTED]),
    (dict(request_id='req-a'), [A]),
    (dict(request_id='req-unknown'), []),
    (dict(global_request_id='g-1'), [A, B]),
    (dict(project_id='p-1'), [A, B, D, E, E_ABORTED]),
    (dict(project_id='p-2'), [C]),
    (dict(operation='compute.instance.create'), [A, B]),
    (dict(operation='compute.'), [A, B, D, E, E_ABORTED]),
    (dict(operation='volume'), [C]),
    (dict(operation='compute.instance.resize'), [D]),
    # one of start, end, failure or abort inside the range, bounds inclusive
    (dict(since=at(30)), [C, D, E, E_ABORTED]),
    (dict(until=at(10)), [A]),
    (dict(since=at(5), until=at(10)), [A]),
    (dict(since=at(21), until=at(24)), []),         # B started before, failed after
    (dict(since=at(78)), [E, E_ABORTED]),           # the aborted span by its abort
    (dict(since=at(30).astimezone(datetime.timezone(datetime.timedelta(hours=-5)))),
     [C, D, E, E_ABORTED]),                          # any time zone
    (dict(project_id='p-1', operation='compute.instance.create', since=at(22)), [B]),
], ids=repr)
def test_spans_filters(loaded, filters, expected):
    assert names(loaded.spans(**filters)) == sorted(expected)


@pytest.mark.parametrize('filters, expected', [
    ({}, NEWEST_FIRST),
    (dict(request_ids=['req-a', 'req-b']), ['b-2', 'b-1', 'a-2', 'a-1']),
    (dict(request_ids=[]), []),
    (dict(request_ids=('req-d',)), ['tie-b', 'tie-a', 'd-1']),
    (dict(project_id='p-2'), ['us-a', 'us-b', 'c-1']),
    (dict(user_id='u-2'), ['e-2', 'e-1', 'b-2', 'b-1']),
    (dict(resource_id='vm-a'), ['tie-b', 'tie-a', 'd-1', 'a-2', 'a-1']),
    (dict(priorities=['error']), ['e-2', 'b-2']),
    (dict(priorities=['warn', 'critical']), []),
    (dict(since=at(25)), NEWEST_FIRST[:9]),                  # inclusive
    (dict(until=at(20)), ['b-1', 'a-2', 'a-1']),             # inclusive
    (dict(since=at(50), until=at(50)), ['tie-b', 'tie-a']),
    (dict(until=at(25).astimezone(datetime.timezone(datetime.timedelta(hours=9)))),
     ['b-2', 'b-1', 'a-2', 'a-1']),                           # any time zone
    (dict(limit=3), NEWEST_FIRST[:3]),
    (dict(limit=0), []),
    (dict(limit=100), NEWEST_FIRST),
    (dict(project_id='p-1', since=at(40), limit=2), ['e-2', 'e-1']),
    (dict(request_ids=['req-b', 'req-e'], priorities=['error'], user_id='u-2',
          resource_id='vm-b', until=at(79)), ['b-2']),
    (dict(host='host-2'), ['b-2', 'b-1']),
    (dict(service='cinder'), []),
    (dict(event_type='compute.instance.create'), ['b-2', 'b-1', 'a-2', 'a-1']),   # a prefix
    (dict(request='g-1'), ['b-2', 'b-1', 'a-2', 'a-1']),     # request or global request id
    (dict(request='req-d'), ['tie-b', 'tie-a', 'd-1']),
    (dict(oldest_first=True), NEWEST_FIRST[::-1]),
    (dict(after=(timeutil.iso(at(50)), 'tie-b')), NEWEST_FIRST[5:]),    # a page marker
    (dict(oldest_first=True, after=(timeutil.iso(at(50)), 'tie-a'), limit=3),
     ['tie-b', 'us-b', 'us-a']),
], ids=repr)
def test_notifications_filters_and_order(loaded, filters, expected):
    assert message_ids(loaded.notifications(**filters)) == expected


def test_notifications_are_read_lazily(loaded):
    """An iterator: the first document without reading the rest, and one
    left unfinished costs nothing afterwards."""
    docs = loaded.notifications()
    assert iter(docs) is docs
    assert next(docs)['message_id'] == 'e-2'
    assert next(docs)['message_id'] == 'e-1'
    docs.close()
    assert message_ids(loaded.notifications(limit=1)) == ['e-2']


NOW = at(100)     # C open 70 s, D 60 s


@pytest.mark.parametrize('stuck_after, overrides, filters, expected', [
    (50, {}, {}, [C, D]),
    (65, {}, {}, [C]),
    (100, {}, {}, []),
    (0, {}, {}, [C, D]),                             # never a finished span
    (50, {}, dict(operation='volume'), [C]),
    (50, {}, dict(operation='compute.'), [D]),
    (50, {}, dict(project_id='p-1'), [D]),
    (50, {}, dict(project_id='p-2', operation='compute.'), []),
    (1000, {'volume': 10}, {}, [C]),
    (50, {'compute.instance.resize': 1000}, {}, [C]),
    (1000, {'compute.': 10, 'compute.instance.resize': 1000}, {}, []),   # longest prefix wins
    (1000, {'compute.instance.resize': 10, 'compute.': 1000}, {}, [D]),
    (70, {}, {}, []),                                # C exactly at its limit: not past it
], ids=repr)
def test_stuck_spans(loaded, stuck_after, overrides, filters, expected):
    """Open spans past their limit: a store may return a few more (coarse
    times, a shorter prefix's limit), never fewer; the policy judges exactly."""
    policy = spans_mod.StuckPolicy.of(stuck_after, overrides)
    got = list(loaded.stuck_spans(NOW, policy, **filters))
    assert set(expected) <= set(names(got)) <= {C, D}
    assert names(s for s in got if policy.outcome(s, NOW) == 'timeout') == sorted(expected)


@pytest.mark.parametrize('page', [1, 2, 3])
def test_stuck_spans_of_several_pages(loaded, monkeypatch, page):
    """A search engine reads open spans in one search when they fit in a page,
    else through a scroll: the same spans either way (SQLite has no pages)."""
    policy = spans_mod.StuckPolicy.of(50)
    monkeypatch.setattr(search, 'PAGE', page)
    assert names(loaded.stuck_spans(NOW, policy)) == [C, D]


# The answers stores compute (nvs_notif.answers: the Store's Python fallbacks
# define them; a store's own query must give the same rows).

def sla_row(operation, group, count, success_pct, failures, durations, attempts):
    """A row of spans with these sorted ``durations`` (p50/p95/p99 nearest-rank)."""
    if not durations:
        return SlaRow(operation, group, count, success_pct, failures, None, None, None, None,
                      None, attempts, 0)
    rank = [durations[max((p * len(durations) + 99) // 100, 1) - 1] for p in (50, 95, 99)]
    return SlaRow(operation, group, count, success_pct, failures,
                  sum(durations) / len(durations), *rank, durations[-1], attempts, 0)


CREATE = sla_row('compute.instance.create', '-', 2, 50.0, 'NoValidHost:1', [5.0, 10.0], 1.0)
DELETE = sla_row('compute.instance.delete', '-', 1, 0.0, 'NoValidHost:1', [5.0], 1.0)
RESIZE = sla_row('compute.instance.resize', '-', 1, 0.0, '', [], 1.0)
SHUTDOWN = sla_row('compute.instance.shutdown', '-', 1, 0.0, 'NoValidHost:1', [], 0.0)
VOLUME = sla_row('volume.create', '-', 1, 0.0, '', [], 1.0)


@pytest.mark.parametrize('filters, expected', [
    ({}, [CREATE, DELETE, RESIZE, SHUTDOWN, VOLUME]),
    (dict(operation='compute.instance.create', since=at(15)),
     [sla_row('compute.instance.create', '-', 1, 0.0, 'NoValidHost:1', [5.0], 1.0)]),
    (dict(until=at(10)), [sla_row('compute.instance.create', '-', 1, 100.0, '', [10.0], 1.0)]),
    (dict(project_id='p-2'), [VOLUME]),
    (dict(group_by='project'),
     [r._replace(group='p-1') for r in (CREATE, DELETE, RESIZE, SHUTDOWN)]
     + [VOLUME._replace(group='p-2')]),
    (dict(group_by='host', operation='compute.instance.create'),
     [sla_row('compute.instance.create', 'host-1', 1, 100.0, '', [10.0], 1.0),
      sla_row('compute.instance.create', 'host-2', 1, 0.0, 'NoValidHost:1', [5.0], 1.0)]),
], ids=repr)
def test_sla(loaded, filters, expected):
    assert list(loaded.sla(**filters)) == expected


def test_breakdown(loaded):
    assert list(loaded.breakdown('compute.instance.create')) == [
        BreakdownRow('compute.instance.create', 'nova', 2, 2, 15.0, 100.0)]
    assert list(loaded.breakdown('compute.instance.create', project_id='p-2')) == []


def test_breakdown_counts_each_request_once(fresh):
    """Steps of the roots' requests and of the requests they made: r-1 ports its own
    instance and made a port of r-3's; r-2 (a root too) made by r-1 counts as r-2's."""
    create = 'compute.instance.create'
    notes = [note('r1-s', 0, create + '.start', 'r-1'), note('r1-e', 30, create + '.end', 'r-1'),
             note('r2-s', 1, create + '.start', 'r-2', global_request_id='r-1'),
             note('r2-e', 11, create + '.end', 'r-2', global_request_id='r-1'),
             note('open', 2, create + '.start', 'r-9')]
    for request, global_id, start, end in (('r-1', None, 3, 5), ('r-3', 'r-1', 4, 8),
                                           ('r-2', 'r-1', 5, 6), ('r-9', None, 3, 4)):
        notes += [note('%s-p%d' % (request, s), s, 'port.create.' + phase, request,
                       global_request_id=global_id) for s, phase in ((start, 'start'),
                                                                     (end, 'end'))]
    fresh.write(batch(notes))
    expected = [BreakdownRow(create, 'nova', 3, 2, 40.0, 100.0),
                BreakdownRow('  port.create', 'nova', 2, 3, 7.0, 17.5)]
    assert fresh.breakdown(create) == expected
    assert storage.Store.breakdown(fresh, create) == expected


def test_span_summary(loaded):
    policy = spans_mod.StuckPolicy.of(65)       # C open 70 s: timed out; D 60 s: not yet
    assert loaded.span_summary(NOW, policy) == SpanSummary(
        spans=6, success=1, failure=3, in_progress=1, timeout=1, without_start=1)
    assert loaded.span_summary(NOW, policy, project_id='p-2') == SpanSummary(
        spans=1, timeout=1)


@pytest.mark.parametrize('fields', [history.HISTORY_FIELDS, ('state',), ('payload', 'host')],
                         ids=repr)
def test_notifications_of_some_fields(loaded, monkeypatch, fields):
    """What a caller asks for (history: columns alone on SQLite, no payload
    read) is what the whole documents hold, in the same order, over pages."""
    monkeypatch.setattr(sqlite_reads, 'PAGE', 2)
    whole = list(loaded.notifications(project_id='p-1'))
    some = list(loaded.notifications(project_id='p-1', fields=fields))
    assert [{f: d.get(f) for f in fields + ('timestamp', 'message_id')} for d in some] == [
        {f: d[f] for f in fields + ('timestamp', 'message_id')} for d in whole]
    assert list(history.history_rows(loaded.notifications(
        project_id='p-1', limit=5, fields=history.HISTORY_FIELDS))) == list(
            history.history_rows(whole[:5]))


def test_notification_pages(loaded):
    pages, marker = [], None
    while True:
        docs, marker = loaded.notification_page(5, marker)
        pages.append(message_ids(docs))
        if marker is None:
            break
    assert pages == [NEWEST_FIRST[:5], NEWEST_FIRST[5:10], NEWEST_FIRST[10:]]
    assert loaded.notification_page(2, project_id='p-2') == (
        [d for d in loaded.notifications(project_id='p-2', limit=2)],
        (timeutil.iso(at(60) + datetime.timedelta(microseconds=1)), 'us-b'))


def _finished_newest_first(**filters):
    """The read data's finished spans in finished_spans' order, filtered in Python."""
    status = filters.pop('status', None)
    project_id = filters.pop('project_id', None)
    operation = filters.pop('operation', '')
    spans = [s for s in spans_mod.merge_all(batch(NOTES).fragments).values()
             if s.finished and status in (None, s.status) and project_id in (None, s.project_id)
             and s.operation.startswith(operation)]
    return [(s.request_id, s.operation) for s in sorted(
        spans, key=lambda s: (timeutil.iso(s.finished), s.span_id), reverse=True)]


@pytest.mark.parametrize('filters', [
    {}, dict(project_id='p-1'), dict(project_id='p-2'), dict(status='failure'),
    dict(status='success'), dict(operation='compute.instance.'), dict(operation='compute.x'),
    dict(project_id='p-1', status='failure', operation='compute.instance.delete'),
], ids=repr)
def test_finished_spans_newest_first_and_paged_by_position(loaded, filters):
    expected = _finished_newest_first(**filters)
    found = loaded.finished_spans(10, **filters)
    assert [(s.request_id, s.operation) for _, s in found] == expected
    assert [p for p, _ in found] == [storage.base.span_position(s) for _, s in found]
    paged, before = [], None
    while True:
        page = loaded.finished_spans(1, before, **filters)
        if not page:
            break
        paged += page
        before = page[-1][0]
    assert paged == found
    for position, _ in found:
        assert loaded.finished_spans(1, position, inclusive=True, **filters)[0][0] == position
    # The fallback every store may use gives the same answer.
    assert storage.base.Store.finished_spans(loaded, 10, **filters) == found
    if found:
        assert storage.base.Store.finished_spans(
            loaded, 10, found[0][0], inclusive=True, **filters) == found


def test_finished_spans_by_service(loaded):
    assert [s.operation for _, s in loaded.finished_spans(10, service='nova')] == [
        o for _, o in _finished_newest_first()]
    assert loaded.finished_spans(10, service='cinder') == []


def groups(rows):
    """Answer rows, sorted, missing keys as '' (stores keep None or empty)."""
    return sorted(tuple('' if v is None else v for v in row) for row in rows)


@pytest.mark.parametrize('filters, expected', [
    ({}, [ErrorGroup('notification', 'host-1', 'nova', 'NoValidHost', 1, at(80), at(80)),
          ErrorGroup('notification', 'host-2', 'nova', 'NoValidHost', 1, at(25), at(25)),
          ErrorGroup('span', 'host-1', 'nova', 'NoValidHost', 1, at(80), at(80)),
          ErrorGroup('span', 'host-2', 'nova', 'NoValidHost', 1, at(25), at(25)),
          ErrorGroup('span', None, 'nova', 'NoValidHost', 1, at(80), at(80))]),   # aborted
    (dict(since=at(26), until=at(80)),
     [ErrorGroup('notification', 'host-1', 'nova', 'NoValidHost', 1, at(80), at(80)),
      ErrorGroup('span', 'host-1', 'nova', 'NoValidHost', 1, at(80), at(80)),
      ErrorGroup('span', None, 'nova', 'NoValidHost', 1, at(80), at(80))]),
    (dict(project_id='p-2'), []),
], ids=repr)
def test_error_groups(loaded, filters, expected):
    assert groups(loaded.error_groups(**filters)) == groups(expected)


@pytest.mark.parametrize('window, project_id, expected', [
    ((0, 100), None, [HostActivity('cinder-1', 'nova', 1, 0, at(30)),
                      HostActivity('host-1', 'nova', 9, 1, at(80)),
                      HostActivity('host-2', 'nova', 2, 1, at(25))]),
    ((25, 50), None, [HostActivity('cinder-1', 'nova', 1, 0, at(30)),      # bounds inclusive
                      HostActivity('host-1', 'nova', 3, 0, at(50)),
                      HostActivity('host-2', 'nova', 1, 1, at(25))]),
    ((0, 100), 'p-2', [HostActivity('cinder-1', 'nova', 1, 0, at(30)),
                       HostActivity('host-1', 'nova', 2, 0,
                                    at(60) + datetime.timedelta(microseconds=2))]),
], ids=repr)
def test_host_activity(loaded, window, project_id, expected):
    since, until = (at(t) for t in window)
    assert groups(loaded.host_activity(since, until, project_id=project_id)) == groups(expected)


@pytest.mark.parametrize('page', [1, 2, 3])
def test_grouped_answers_of_several_pages(loaded, monkeypatch, page):
    """A search engine reads groups a page of composite buckets at a time, the
    last page the first one holding fewer than a page (3 hosts: pages of 3 end
    with an empty one): the same answers whatever the page (SQLite has none)."""
    whole = (list(loaded.sla(group_by='host')), groups(loaded.error_groups()),
             groups(loaded.host_activity(at(0), at(100))),
             list(loaded.breakdown('compute.instance.create')))
    monkeypatch.setattr(search_reads, 'GROUPS_PAGE', page)
    monkeypatch.setattr(search_span_answers, '_JOIN_PAGE', page)
    assert (list(loaded.sla(group_by='host')), groups(loaded.error_groups()),
            groups(loaded.host_activity(at(0), at(100))),
            list(loaded.breakdown('compute.instance.create'))) == whole


def test_top_failures_and_latest_time(loaded):
    failures = [Failure(op, 'NoValidHost', 1) for op in (
        'compute.instance.create', 'compute.instance.delete', 'compute.instance.shutdown')]
    assert list(loaded.top_failures()) == failures
    assert list(loaded.top_failures(limit=2)) == failures[:2]
    assert list(loaded.top_failures(project_id='p-2')) == []
    assert loaded.latest_time() == at(80)
    assert loaded.latest_time(project_id='p-2') == at(30)


# --- Writes ----------------------------------------------------------------------------

def test_same_batch_twice_changes_nothing(fresh):
    first = fresh.write(batch(NOTES, [REJECT]))
    expected = spans_mod.merge_all(batch(NOTES).fragments)
    assert first.duplicates == 0 and first.spans == expected
    again = fresh.write(batch(NOTES, [REJECT]))
    assert again.duplicates == len(NOTES) and again.spans == expected
    assert {kind: fresh.count(kind) for kind in ('notifications', 'spans', 'rejects')} == {
        'notifications': 12, 'spans': 6, 'rejects': 1}
    assert {s.span_id: s for s in fresh.spans()} == expected


def test_replaying_a_stream_twice_changes_nothing(url):
    """A simulated cloud through the nvs endpoint, then again through a fresh
    one (another process): every notification a duplicate, nothing changed."""
    messages = [s.to_message() for s in simulate.simulate(600, seed=5)]
    first = replay.replay(messages, replay.local_endpoint(url))
    assert first['duplicates'] == 0 and first['requeued'] == 0 and first['notifications'] > 0
    store = storage.get_store(url)
    try:
        before = {kind: store.count(kind) for kind in ('notifications', 'spans', 'rejects')}
        spans_before = {s.span_id: s for s in store.spans()}
        assert before['notifications'] == first['notifications']
        assert before['spans'] == len(spans_before) > 0
        second = replay.replay(messages, replay.local_endpoint(url))
        assert second['duplicates'] == second['notifications'] == first['notifications']
        assert second['rejects'] == first['rejects'] and second['requeued'] == 0
        assert {kind: store.count(kind) for kind in before} == before
        assert {s.span_id: s for s in store.spans()} == spans_before
    finally:
        store.close()


def test_duplicates_in_one_batch_are_counted_and_kept_once(fresh):
    a1 = NOTES[0]
    result = fresh.write(batch([a1, a1, NOTES[1], a1]))
    assert result.duplicates == 2
    assert fresh.count('notifications') == 2
    (span,) = fresh.spans()
    assert span.attempts == 1 and span.status == 'success'


RETRIED = [note('r-1', 0, 'compute.instance.create.start', 'req-r', host='host-1'),
           note('r-2', 2, 'compute.instance.create.error', 'req-r', host='host-1',
                fault=NO_HOST),
           note('r-3', 3, 'compute.instance.create.start', 'req-r', host='host-2'),
           note('r-4', 9, 'compute.instance.create.end', 'req-r', host='host-2')]


@pytest.mark.parametrize('order', [(3, 2, 1, 0), (2, 0, 3, 1)], ids=str)
def test_span_merges_across_batches_in_any_order(url, order):
    """One notification per batch, each written by another store (another
    worker or agent), in any order: one span, as if seen at once."""
    results = []
    for i in order:
        store = storage.get_store(url)
        try:
            results.append(store.write(batch([RETRIED[i]])))
        finally:
            store.close()
    store = storage.get_store(url)
    try:
        (span,) = store.spans()
    finally:
        store.close()
    assert span == spans_mod.merge_all(batch(RETRIED).fragments)[span.span_id]
    assert (span.status, span.attempts, span.hosts, span.duration) == (
        'success', 2, frozenset({'host-1', 'host-2'}), 9.0)
    assert span.fault == NO_HOST and span.start_ids == {'r-1', 'r-3'}
    assert results[-1].spans == {span.span_id: span}
    assert all(r.duplicates == 0 for r in results)


def test_rejects_kept_once_whenever_redelivered(fresh):
    for received in (at(0), at(0), at(86400)):     # again, and on another day
        result = fresh.write(batch([], [storage.Reject(REJECT.raw, REJECT.reason, received)]))
        assert result.duplicates == 0               # a reject is no duplicate notification
    assert fresh.count('rejects') == 1
    fresh.write(batch([], [storage.Reject(REJECT.raw, 'another reason', at(0))]))
    assert fresh.count('rejects') == 2


def test_events_and_samples_kept_once_per_message_id(fresh):
    for _ in range(2):
        fresh.write_events(EVENTS)
        fresh.write_samples(SAMPLES)
    assert (fresh.count('events'), fresh.count('samples')) == (2, 2)


def test_ingested_in_the_order_written_from_any_marker(fresh, driver):
    """What the hub's tail reads: notifications in the order they were
    stored, whatever their own times, each once, paged by marker; a tail
    starting at ``ingest_marker()`` sees only what comes after it."""
    fresh.write(batch(NOTES[:2]))
    start = fresh.ingest_marker()
    writes = [NOTES[8:], NOTES[4:8], NOTES[:4]]      # the last one: two again
    for notes in writes:
        fresh.write(batch(notes))
    items = fresh.ingested(start)
    markers = [m for m, _ in items]
    assert markers == sorted(set(markers)) and all(m > start for m in markers)
    # Ingest order between writes (within one write the store's own order).
    assert [set(message_ids(d for _, d in items[:4])), set(message_ids(d for _, d in items[4:8])),
            set(message_ids(d for _, d in items[8:]))] == [
        {n.message_id for n in NOTES[8:]}, {n.message_id for n in NOTES[4:8]},
        {n.message_id for n in NOTES[2:4]}]
    assert {d['message_id']: d for _, d in items} == {
        d['message_id']: d for d in fresh.notifications() if d['message_id'] not in ('a-1', 'a-2')}
    paged, after = [], start
    while page := fresh.ingested(after, limit=5):
        paged += page
        after = page[-1][0]
    assert paged == items
    assert fresh.ingested(fresh.ingest_marker()) == []
    assert message_ids(d for _, d in fresh.ingested(limit=2)) == message_ids(
        d for _, d in fresh.ingested()[:2])
    # A search engine reads only stamps older than settle; SQLite's are final.
    assert len(fresh.ingested(start, settle=3600)) == (10 if driver == 'sqlite' else 0)
    with pytest.raises(ValueError):
        fresh.ingested('not a marker')


def test_ingest_pages_newest_first_filtered_from_any_marker(fresh):
    """What the notifications feeds read: ingest order backwards, the feed's
    filters applied, from a marker (inclusive for an archive page's own)."""
    for notes in (NOTES[8:], NOTES[4:8], NOTES[:4]):
        fresh.write(batch(notes))
    everything = fresh.ingested()
    assert fresh.ingest_page(100) == everything[::-1]
    paged, before = [], None
    while page := fresh.ingest_page(3, before):
        paged += page
        before = page[-1][0]
    assert paged == everything[::-1]
    for marker, doc in everything:
        assert fresh.ingest_page(1, marker, inclusive=True) == [(marker, doc)]
    for filters, wanted in ((dict(project_id='p-2'), {'c-1', 'us-a', 'us-b'}),
                            (dict(event_type='compute.instance.create'),
                             {'a-1', 'a-2', 'b-1', 'b-2'}),
                            (dict(priorities=['error'], project_id='p-1'), {'b-2', 'e-2'}),
                            (dict(service='cinder'), set())):
        found = fresh.ingest_page(100, **filters)
        assert found == [(m, d) for m, d in everything[::-1] if d['message_id'] in wanted]
    with pytest.raises(ValueError):
        fresh.ingest_page(1, 'not a marker')


def test_an_empty_store_answers_empty(fresh):
    assert {kind: fresh.count(kind) for kind in KINDS} == dict.fromkeys(KINDS, 0)
    assert list(fresh.spans()) == [] and list(fresh.notifications()) == []
    assert list(fresh.stuck_spans(NOW, spans_mod.StuckPolicy.of(0))) == []
    assert fresh.latest_time() is None and list(fresh.sla()) == []
    assert fresh.write(batch([])) == storage.WriteResult({}, 0)


# --- Answers over many hours, as the Python meaning gives them -------------------------
# Stores may keep aggregates (SQLite's hourly rollups): every answer must stay
# the Python fallback's over the rows (storage.Store's methods), whatever the
# window (whole hours and partial ones), after late notifications change a
# span's outcome, duration or hour, and after a purge.

def hours(h, minute=0, second=0):
    return T0 + datetime.timedelta(hours=h, minutes=minute, seconds=second)


def _spread():
    """Spans started over five hours: two projects, three hosts, failures of
    two kinds, open spans, a reschedule; notifications of every hour."""
    notes = []
    for i in range(30):
        start = hours(i // 6, minute=(i * 7) % 60, second=i)
        request = 'req-h%d' % i
        kind = ('compute.instance.create', 'volume.create')[i % 2]
        common = dict(project_id=('p-1', 'p-2')[i % 3 == 0], host='host-%d' % (i % 3))
        notes.append(note('h%d-s' % i, 0, kind + '.start', request, when=start, **common))
        if i % 5 == 4:
            continue                                             # open
        end = start + datetime.timedelta(seconds=3 + i * 11)
        if i % 7 == 3:
            notes.append(note('h%d-e' % i, 0, kind + '.error', request, when=end,
                              fault=NO_HOST if i % 2 else Fault(exception='Timeout'), **common))
        else:
            notes.append(note('h%d-n' % i, 0, kind + '.end', request, when=end, **common))
    return notes


LATE = [
    # An end for an open span (now a success with a duration) ...
    note('late-1', 0, 'compute.instance.create.end', 'req-h4', host='host-1', when=hours(0, 50)),
    # ... an error after a success: a retry that failed (outcome and duration change) ...
    note('late-2', 0, 'volume.create.start', 'req-h1', project_id='p-1', host='host-2',
         when=hours(0, 40)),
    note('late-3', 0, 'volume.create.error', 'req-h1', project_id='p-1', host='host-2',
         when=hours(0, 41), fault=NO_HOST),
    # ... and a start earlier than the one seen, in the hour before (the span moves hour).
    note('late-4', 0, 'volume.create.start', 'req-h13', project_id='p-1', host='host-1',
         when=hours(1, 59)),
]

WINDOWS = [
    {}, dict(since=hours(1)), dict(until=hours(3) - datetime.timedelta(microseconds=1)),
    dict(since=hours(0, 30), until=hours(3, 15)), dict(since=hours(1), until=hours(4)),
    dict(since=hours(2, 5), until=hours(2, 40)), dict(since=hours(1, 59), until=hours(3, 0, 1)),
]


def same_answers(store):
    """Each answer of ``store`` next to the Python fallback's, over every window."""
    for window in WINDOWS:
        for project in (None, 'p-2'):
            answers = [(store.sla(**window, project_id=project),
                        storage.Store.sla(store, **window, project_id=project)),
                       (groups(store.error_groups(**window, project_id=project)),
                        groups(storage.Store.error_groups(store, **window, project_id=project)))]
            bounds = (window.get('since', hours(-10)), window.get('until', hours(10)))
            answers.append((groups(store.host_activity(*bounds, project_id=project)),
                            groups(storage.Store.host_activity(store, *bounds,
                                                               project_id=project))))
            for mine, meaning in answers:
                assert list(mine) == list(meaning), (window, project)


def test_answers_over_hours_stay_the_rows_meaning(fresh):
    notes = _spread()
    fresh.write(batch(notes))
    same_answers(fresh)
    assert [r.count for r in fresh.sla(operation='volume.create')] == [15]
    fresh.write(batch(LATE))
    same_answers(fresh)
    assert [(s.status, s.duration) for s in fresh.spans(request_id='req-h4')] == [
        ('success', 50 * 60.0 - hours(0, 28, 4).minute * 60 - 4)]
    fresh.purge(hours(2))
    same_answers(fresh)
    assert fresh.count('spans') < len({n.request_id for n in notes})


# --- Purge -----------------------------------------------------------------------------

DAY2 = datetime.datetime(2024, 5, 18, tzinfo=UTC)


def on_day(day, hour, minute=0):
    return DAY2 + datetime.timedelta(days=day - 2, hours=hour, minutes=minute)


PURGED = [
    # all times before the cutoff: removed
    note('p1-1', 0, 'compute.instance.create.start', 'req-p1', when=on_day(1, 10)),
    note('p1-2', 0, 'compute.instance.create.end', 'req-p1', when=on_day(1, 10, 5)),
    note('p3-1', 0, 'compute.instance.create.start', 'req-p3', when=on_day(1, 11)),   # open
    # one time after it: kept
    note('p2-1', 0, 'compute.instance.create.start', 'req-p2', when=on_day(1, 23, 59)),
    note('p2-2', 0, 'compute.instance.create.end', 'req-p2', when=on_day(2, 0, 1)),
    note('p4-1', 0, 'compute.instance.create.start', 'req-p4', when=on_day(1, 8)),
    note('p4-2', 0, 'compute.instance.create.error', 'req-p4', when=on_day(1, 8, 1)),
    note('p4-3', 0, 'compute.instance.create.start', 'req-p4', when=on_day(2, 1)),  # a retry
    note('p5-1', 0, 'compute.instance.shutdown.start', 'req-p5', when=on_day(1, 9)),
    note('p5-2', 0, 'compute.instance.delete.error', 'req-p5', when=on_day(2, 2)),  # aborts it
]


def test_purge_removes_what_is_older_and_spans_only_when_all_their_times_are(fresh):
    """A cutoff at midnight (the search engines drop whole daily indices), in
    a time zone other than UTC (the instant counts)."""
    fresh.write(batch(PURGED, [storage.Reject('"old"', 'old', on_day(1, 3)),
                               storage.Reject('"new"', 'new', on_day(2, 3))]))
    fresh.write_events([dict(EVENTS[0], message_id='ev-old', generated=on_day(1, 1).isoformat()),
                        dict(EVENTS[0], message_id='ev-new', generated=on_day(2, 1).isoformat())])
    fresh.write_samples([dict(SAMPLES[0], message_id='sa-old', timestamp=on_day(1, 1).isoformat()),
                         dict(SAMPLES[0], message_id='sa-new', timestamp=on_day(2, 1).isoformat())])
    cutoff = DAY2.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))

    removed = fresh.purge(cutoff)
    assert set(removed) == set(KINDS) and removed['spans'] == 2
    assert all(removed[kind] >= 1 for kind in KINDS)
    assert {kind: fresh.count(kind) for kind in KINDS} == {
        'notifications': 3, 'spans': 4, 'events': 1, 'samples': 1, 'rejects': 1}
    assert message_ids(fresh.notifications()) == ['p5-2', 'p4-3', 'p2-2']
    assert sorted(s.request_id for s in fresh.spans()) == [
        'req-p2', 'req-p4', 'req-p5', 'req-p5']
    # Again: nothing more is old.
    assert fresh.purge(cutoff) == dict.fromkeys(KINDS, 0)


# --- Failures --------------------------------------------------------------------------

#: Every Store method, called as its callers do (iterators consumed).
OPERATIONS = {
    'write': lambda s: s.write(batch(NOTES[:2], [REJECT])),
    'write_events': lambda s: s.write_events(EVENTS),
    'write_samples': lambda s: s.write_samples(SAMPLES),
    'spans': lambda s: list(s.spans()),
    'spans_by_id': lambda s: s.spans_by_id(['x']),
    'stuck_spans': lambda s: list(s.stuck_spans(NOW, spans_mod.StuckPolicy.of(0))),
    'notifications': lambda s: list(s.notifications()),
    'ingested': lambda s: s.ingested(),
    'ingest_page': lambda s: s.ingest_page(5),
    'count': lambda s: s.count('notifications'),
    'purge': lambda s: s.purge(NOW),
    'sla': lambda s: list(s.sla()),
    'breakdown': lambda s: list(s.breakdown('compute.instance.create')),
    'span_summary': lambda s: s.span_summary(NOW, spans_mod.StuckPolicy.of(0)),
    'top_failures': lambda s: list(s.top_failures()),
    'latest_time': lambda s: s.latest_time(),
    'notification_page': lambda s: s.notification_page(5),
    'error_groups': lambda s: list(s.error_groups()),
    'host_activity': lambda s: list(s.host_activity(at(0), NOW)),
}


def not_store_errors(store):
    """The operations that did not raise StoreError on ``store``, with what they did."""
    leaks = {}
    for name, operation in OPERATIONS.items():
        try:
            leaks[name] = 'returned %r' % (operation(store),)
        except storage.StoreError:
            pass
        except Exception as exc:
            leaks[name] = 'raised %r' % exc
    return leaks


@pytest.fixture
def unreachable_url(driver, tmp_path):
    if driver == 'sqlite':
        blocker = tmp_path / 'a-file'
        blocker.write_text('')
        return 'sqlite:///%s' % (blocker / 'nvs.db')     # a directory that cannot be
    # A port nothing listens on (discard), no retries.
    return '%s://127.0.0.1:9/?index_prefix=nvs-test-unreachable&max_retries=0&timeout=5' % driver


def test_unreachable_store_raises_store_error(driver, unreachable_url):
    """Opening may fail already (SQLite opens its file); else every operation does."""
    try:
        store = storage.get_store(unreachable_url)
    except storage.StoreError:
        assert driver == 'sqlite'
        return
    try:
        assert not_store_errors(store) == {}
    finally:
        store.close()


def test_closed_store_raises_store_error(url):
    store = storage.get_store(url)
    store.write(batch(NOTES[:2]))
    store.close()
    assert not_store_errors(store) == {}
    store.close()       # closing again is harmless
