"""Unit tests for the SQLite store (nvs_notif.storage.sqlite)."""
import concurrent.futures
import dataclasses
import datetime
import json
import multiprocessing
import os
import sqlite3
import threading
import zlib

import pytest

from nvs_notif import jsontext
from nvs_notif.answers import stuck
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import spans
from nvs_notif import storage
from nvs_notif import timeutil
from nvs_notif.notification import Fault, Notification
from nvs_notif.storage import documents
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_layout
from nvs_notif.storage import sqlite_blocks
from nvs_notif.storage import sqlite_packing
from nvs_notif.storage import sqlite_rollups
from tests.unit import test_sqlite_rollups

T0 = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)
REQ = 'req-1'
FAULT_A = Fault(exception='PortBindingFailed', message='binding failed', code=500,
                function='_build_and_run_instance')
FAULT_B = Fault(exception='NoValidHost', message='no host', code=None, function=None)


def notif(event_type, seconds, host='host-1', request_id=REQ, message_id=None, fault=None,
          resource_id='inst-1'):
    operation, _, phase = event_type.rpartition('.')
    if phase not in ('start', 'end', 'error'):
        operation, phase = event_type, 'none'
    return Notification(
        message_id=message_id or '%s-%s-%s-%s' % (request_id, event_type, host, seconds),
        timestamp=T0 + datetime.timedelta(seconds=seconds), event_type=event_type,
        operation=operation, phase=phase,
        priority='error' if phase == 'error' else 'info',
        publisher_id='compute.' + host, service='nova', host=host,
        request_id=request_id, global_request_id='greq-1', project_id='proj-1',
        user_id='user-1', resource_type='instance', resource_id=resource_id,
        state='active', fault=fault if phase == 'error' else None,
        payload={'instance_id': resource_id, 'nested': {'k': [1, 2, 3]}})


def _notifications():
    return [
        notif('compute.instance.create.start', 0, 'host-1'),
        notif('compute.instance.create.error', 2, 'host-1', fault=FAULT_A),
        notif('compute.instance.create.start', 3, 'host-2'),
        notif('compute.instance.create.error', 5, 'host-2', fault=FAULT_B),
        notif('compute.instance.create.start', 6, 'host-3'),
        notif('compute.instance.create.end', 20.5, 'host-3'),
        notif('volume.attach.start', 21, 'host-3'),
        notif('volume.attach.error', 22, 'host-3', fault=FAULT_A),
        notif('volume.attach.start', 23, 'host-3'),
        notif('volume.attach.end', 25, 'host-3'),
        notif('scheduler.select_destinations.start', 0, 'ctl-1'),
        notif('image.upload.end', 9, 'ctl-1', request_id=None, resource_id='img-1'),
        notif('compute.instance.exists', 30, 'host-3'),
        notif('compute.instance.create.start', 0, 'host-9', request_id='req-2'),
    ]


def _batch(notifications, rejects=()):
    frags = [f for f in map(spans.fragment, notifications) if f is not None]
    return storage.Batch(list(notifications), frags, list(rejects))


def _reject(reason='message is a str, not a dict', raw='"junk"'):
    return storage.Reject(raw=raw, reason=reason, received=T0)


@pytest.fixture
def db_url(tmp_path):
    return 'sqlite:///' + str(tmp_path / 'nvs.db')


@pytest.fixture
def store(db_url):
    s = storage.get_store(db_url)
    yield s
    s.close()


def _by_id(span_list):
    return {s.span_id: s for s in span_list}


def _docs(store_):
    return sorted((documents.span_doc(s) for s in store_.spans()),
                  key=lambda d: d['span_id'])


def test_get_store_loads_sqlite_driver(store):
    from nvs_notif.storage import sqlite
    assert isinstance(store, sqlite.SQLiteStore)
    for kind in ('notifications', 'spans', 'events', 'samples', 'rejects'):
        assert store.count(kind) == 0


def test_write_and_read_back_spans(store):
    ns = _notifications()
    batch = _batch(ns)
    expected = spans.merge_all(batch.fragments)
    touched = store.write(batch).spans
    assert touched == expected
    assert _by_id(store.spans()) == expected
    assert store.count('spans') == len(expected) == 5
    assert store.count('notifications') == len(ns)
    # filter by request id
    req2 = store.spans(request_id='req-2')
    assert [s.request_id for s in req2] == ['req-2']
    assert {s.span_id for s in store.spans(request_id=REQ)} == \
        {i for i, s in expected.items() if s.request_id == REQ}


def test_write_is_idempotent(store):
    batch = _batch(_notifications(), [_reject(), _reject('other', '{}')])
    assert store.write(batch).duplicates == 0
    counts = {k: store.count(k) for k in ('notifications', 'spans', 'rejects')}
    docs = _docs(store)
    assert store.write(batch).duplicates == 14
    assert {k: store.count(k) for k in ('notifications', 'spans', 'rejects')} == counts
    assert counts == {'notifications': 14, 'spans': 5, 'rejects': 2}
    assert _docs(store) == docs
    assert max(d['attempts'] for d in docs) == 3  # the reschedule, not doubled


def test_fragments_split_across_batches_merge(store):
    start = notif('compute.instance.create.start', 0)
    error = notif('compute.instance.create.error', 4, fault=FAULT_A)
    store.write(_batch([error]))
    (half,) = store.spans()
    assert half.start is None and half.duration is None and half.fault == FAULT_A
    touched = store.write(_batch([start])).spans
    full = spans.merge_all(_batch([start, error]).fragments)
    assert touched == full
    assert _by_id(store.spans()) == full
    (s,) = store.spans()
    assert s.duration == 4.0 and s.attempts == 1 and s.fault == FAULT_A
    assert store.count('spans') == 1 and store.count('notifications') == 2


def test_two_store_objects_on_one_file(db_url, tmp_path):
    ns = _notifications()
    agent1, agent2 = storage.get_store(db_url), storage.get_store(db_url)
    single = storage.get_store('sqlite:///' + str(tmp_path / 'single.db'))
    try:
        # interleaved halves, reverse order for the second agent
        for i, n in enumerate(ns):
            (agent1 if i % 2 else agent2).write(_batch([n]))
        single.write(_batch(ns))
        assert _docs(agent1) == _docs(agent2) == _docs(single)
        assert _by_id(agent1.spans()) == spans.merge_all(_batch(ns).fragments)
        assert agent2.count('notifications') == single.count('notifications')
    finally:
        agent1.close()
        agent2.close()
        single.close()


def test_reads_go_on_while_a_batch_is_being_written(store):
    # The API's threads read while the agent (here: this store's writer) holds
    # the write transaction: the reads see the last commit and do not wait.
    store.write(_batch(_notifications()[:2]))
    writing, written = threading.Event(), threading.Event()

    def slow_batch(db):
        db.execute('DELETE FROM notifications')
        writing.set()
        written.wait(30)

    writer = threading.Thread(target=store._transaction, args=(slow_batch,))
    writer.start()
    try:
        assert writing.wait(30)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            counts = list(pool.map(lambda _: store.count('notifications'), range(8)))
        assert counts == [2] * 8 and len(list(store.notifications())) == 2
    finally:
        written.set()
        writer.join()
    assert store.count('notifications') == 0


def test_read_connections_are_read_only(store):
    with pytest.raises(sqlite3.OperationalError, match='readonly'):
        store._read('DELETE FROM notifications')


def test_rejects_stored_and_counted(store):
    store.write(_batch([], [_reject(), _reject('event_type is missing', '{"a": 1}')]))
    assert store.count('rejects') == 2
    assert store.count('notifications') == 0 and store.count('spans') == 0
    store.write(_batch([], [_reject()]))
    assert store.count('rejects') == 2
    store.write(_batch([], [_reject(raw='"other junk"')]))
    assert store.count('rejects') == 3


def test_count_unknown_kind_raises(store):
    with pytest.raises(ValueError):
        store.count('bogus')
    with pytest.raises(ValueError):
        store.count('spans; DROP TABLE spans')


def test_failed_write_rolls_back(store, monkeypatch):
    good = _batch(_notifications()[:4])
    bad = _batch(_notifications()[4:])
    bad.rejects.append(storage.Reject(raw=None, reason=None, received=T0))  # breaks _reject_id
    with pytest.raises(Exception):
        store.write(bad)
    assert store.count('notifications') == 0 and store.count('spans') == 0
    store.write(good)
    assert store.count('notifications') == 4


def test_error_without_fault_details_round_trips(store):
    batch = _batch([notif('compute.instance.create.start', 0),
                    notif('compute.instance.create.error', 1, fault=Fault())])
    store.write(batch)
    assert _by_id(store.spans()) == spans.merge_all(batch.fragments)


def test_payload_json_of_the_batch_is_stored_as_the_payload(store):
    first = notif('compute.instance.create.start', 0)
    again = dataclasses.replace(first, payload={'other': 'payload'})   # same message id
    plain = notif('compute.instance.create.end', 9)
    batch = _batch([first, again, plain])
    batch.payload_json = {first.message_id: json.dumps(first.payload),
                          plain.message_id: None}
    store.write(batch)
    docs = {d['message_id']: d for d in store.notifications()}
    assert docs == {n.message_id: json.loads(json.dumps(documents.notification_doc(n),
                                                        default=str))
                    for n in (first, plain)}


def test_checkpoints_run_in_the_background_every_so_many_notifications(db_url, monkeypatch):
    from nvs_notif.storage import sqlite as sqlite_mod
    monkeypatch.setattr(sqlite_mod, '_CHECKPOINT_EVERY', 10)
    path = db_url[len('sqlite:///'):]
    store = storage.get_store(db_url)
    try:
        before = os.path.getsize(path)
        store.write(_batch(_notifications()[:9]))
        assert store._checkpointer is None
        store.write(_batch(_notifications()[9:]))
        store._checkpointer.join()
        # the WAL's pages were copied into the file
        assert os.path.getsize(path) > before
        assert store.count('notifications') == len(_notifications())
    finally:
        store.close()


def test_memory_store_never_checkpoints(monkeypatch):
    from nvs_notif.storage import sqlite as sqlite_mod
    monkeypatch.setattr(sqlite_mod, '_CHECKPOINT_EVERY', 1)
    store = storage.get_store('sqlite://')
    try:
        store.write(_batch(_notifications()))
        assert store._checkpointer is None and store.count('notifications') == 14
    finally:
        store.close()


_OLD_NOTIFICATIONS_TABLE = """
CREATE TABLE notifications (
    message_id TEXT PRIMARY KEY, timestamp TEXT, event_type TEXT, operation TEXT,
    phase TEXT, priority TEXT, service TEXT, host TEXT, request_id TEXT,
    global_request_id TEXT, project_id TEXT, user_id TEXT, resource_type TEXT,
    resource_id TEXT, error_type TEXT, doc TEXT NOT NULL);
CREATE INDEX notifications_time ON notifications (timestamp);
"""


@pytest.mark.parametrize('old_file', [False, True])
def test_redelivered_notifications_are_kept_once(db_url, old_file):
    if old_file:
        with sqlite3.connect(db_url[len('sqlite:///'):]) as db:
            db.executescript(_OLD_NOTIFICATIONS_TABLE)
    store = storage.get_store(db_url)
    try:
        batch = _batch(_notifications())
        assert store.write(batch).duplicates == 0
        assert store.write(_batch(_notifications()[3:] + _notifications()[:3])).duplicates == 14
        newest = notif('compute.instance.create.start', 99)
        assert store.write(_batch([newest, newest])).duplicates == 1
        docs = list(store.notifications())
        assert len(docs) == 15 and docs[0]['message_id'] == newest.message_id
    finally:
        store.close()


def _placed(n, zone, flavor):
    return dataclasses.replace(n, availability_zone=zone, flavor=flavor)


def test_zone_and_flavor_stored_and_read_back(store, db_url):
    batch = _batch([_placed(notif('compute.instance.create.start', 0), None, 'm1.small'),
                    _placed(notif('compute.instance.create.end', 9), 'az-1', 'm1.small')])
    store.write(batch)
    (span,) = store.spans()
    assert (span.availability_zone, span.flavor) == ('az-1', 'm1.small')
    assert span == spans.merge_all(batch.fragments)[span.span_id]
    with sqlite3.connect(db_url[len('sqlite:///'):]) as db:
        assert db.execute('SELECT availability_zone, flavor FROM spans').fetchall() == [
            ('az-1', 'm1.small')]


# The spans table as files made before zones and flavors were kept have it.
_OLD_SPANS_TABLE = """
CREATE TABLE spans (
    span_id TEXT PRIMARY KEY, operation TEXT, service TEXT, host TEXT,
    request_id TEXT, global_request_id TEXT, project_id TEXT, user_id TEXT,
    resource_id TEXT, start TEXT, "end" TEXT, failed TEXT, duration REAL,
    status TEXT, error_type TEXT, doc TEXT NOT NULL);
"""


def test_file_from_before_zones_gains_the_columns_on_open(db_url):
    start = notif('compute.instance.create.start', 0)
    old_doc = documents.span_doc(spans.fragment(start))
    del old_doc['availability_zone'], old_doc['flavor']
    path = db_url[len('sqlite:///'):]
    with sqlite3.connect(path) as db:
        db.executescript(_OLD_SPANS_TABLE)
        db.execute('INSERT INTO spans (span_id, operation, doc) VALUES (?, ?, ?)',
                   (old_doc['span_id'], old_doc['operation'], json.dumps(old_doc)))
    first, second = storage.get_store(db_url), storage.get_store(db_url)
    try:
        (old,) = first.spans()
        assert (old.availability_zone, old.flavor, old.start) == (None, None, start.timestamp)
        end = _placed(notif('compute.instance.create.end', 5), 'az-2', 'm1.tiny')
        second.write(_batch([end]))
        (merged,) = first.spans()
        assert (merged.availability_zone, merged.flavor, merged.duration) == (
            'az-2', 'm1.tiny', 5.0)
    finally:
        first.close()
        second.close()
    with sqlite3.connect(path) as db:
        assert db.execute('SELECT availability_zone, flavor FROM spans').fetchall() == [
            ('az-2', 'm1.tiny')]


# --- several processes on one file ---------------------------------------------------

N_SIM = 3000


def _endpoint_url(path):
    return 'sqlite://' + str(path)


def _replay_part(url, parity):
    endpoint = replay.local_endpoint(url)
    messages = [n.to_message() for i, n in enumerate(simulate.simulate(N_SIM, seed=1))
                if parity is None or i % 2 == parity]
    stats = replay.replay(messages, endpoint, batch_size=200)
    return stats


def _worker(url, parity, queue):
    try:
        queue.put((parity, _replay_part(url, parity)))
    except BaseException as exc:  # noqa: BLE001
        queue.put((parity, repr(exc)))
        raise


def test_two_processes_same_file_equal_one_process(tmp_path):
    # 'sqlite://' + an absolute path (three slashes in all): the documented
    # 'sqlite:///' + absolute path is mangled by StorePublisher (see
    # test_pipeline.test_local_endpoint_writes_to_the_named_sqlite_file).
    shared_url = _endpoint_url(tmp_path / 'shared.db')
    single_url = _endpoint_url(tmp_path / 'single.db')
    # create the schema once before the race
    storage.get_store(shared_url).close()
    ctx = multiprocessing.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(shared_url, parity, queue))
             for parity in (0, 1)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(timeout=600)
        assert p.exitcode == 0
    assert all(isinstance(r, dict) for r in results.values()), results

    single_stats = _replay_part(single_url, None)
    shared, single = storage.get_store(shared_url), storage.get_store(single_url)
    try:
        assert single.count('spans') > 100
        assert shared.count('notifications') == single.count('notifications')
        assert single_stats['notifications'] == \
            results[0]['notifications'] + results[1]['notifications']
        assert shared.count('spans') == single.count('spans')
        assert _docs(shared) == _docs(single)
    finally:
        shared.close()
        single.close()


def test_purge_removes_only_what_is_older(store):
    batch = _batch(_notifications(), [_reject()])
    store.write(batch)
    times = sorted(n.timestamp for n in batch.notifications)
    assert store.purge(times[0]) == {'notifications': 0, 'events': 0, 'samples': 0,
                                     'rejects': 0, 'spans': 0}
    newest = max(times)
    removed = store.purge(newest)
    assert removed['notifications'] == sum(1 for t in times if t < newest)
    assert store.count('notifications') == sum(1 for t in times if t >= newest)
    # a span survives while any of its times is recent
    assert all(max(t for t in (s.start, s.last_start, s.end, s.failed) if t) >= newest
               for s in store.spans())
    far = newest + datetime.timedelta(days=1)
    store.purge(far)
    assert store.count('notifications') == store.count('spans') == 0


@pytest.mark.parametrize('payload', [{}, {'a': 'ü', 'n': [1, 2.5, None]}, {'when': datetime.date(2024, 5, 17)}])
def test_notification_json_splices_the_payload_text_unchanged(payload):
    """Both stores: the pipeline's payload text spliced in reads back as the
    document encoded in one piece."""
    n = dataclasses.replace(notif('compute.instance.create.start', 0), payload=payload)
    doc, whole = documents.notification_json(n)
    spliced_doc, spliced = documents.notification_json(n, jsontext.encode(payload))
    assert doc == spliced_doc == documents.notification_doc(n)
    assert json.loads(spliced) == json.loads(whole)
    assert ('ü' in whole) == ('ü' in spliced) == ('a' in payload)   # UTF-8, not \\u escapes


def test_a_span_failed_with_its_outer_operation_is_found_by_that_time(store):
    # the shutdown started at 1 and was aborted by the delete's error at 50
    flow = [notif('compute.instance.delete.start', 0, 'host-3', request_id='req-d'),
            notif('compute.instance.shutdown.start', 1, 'host-3', request_id='req-d'),
            notif('compute.instance.delete.error', 50, 'host-3', request_id='req-d',
                  fault=FAULT_A)]
    store.write(storage.Batch(flow, [f for n in flow for f in spans.fragments(n)]))
    found = {s.operation: s for s in store.spans(since=T0 + datetime.timedelta(seconds=40))}
    assert set(found) == {'compute.instance.delete', 'compute.instance.shutdown'}
    assert found['compute.instance.shutdown'].status == 'failure'
    assert found['compute.instance.shutdown'].aborted == T0 + datetime.timedelta(seconds=50)


def test_purge_keeps_a_span_while_its_abort_is_recent(store):
    # a delete that failed before its shutdown reported a start: the shutdown
    # span holds only the abort (spans.fragments)
    error = notif('compute.instance.delete.error', 50, 'host-3', request_id='req-d',
                  fault=FAULT_A)
    store.write(storage.Batch([error], spans.fragments(error)))
    assert store.count('spans') == 2
    store.purge(T0 + datetime.timedelta(seconds=10))
    assert store.count('spans') == 2
    store.purge(T0 + datetime.timedelta(seconds=60))
    assert store.count('spans') == 0


# --- stuck: the store reads its open spans only -------------------------------------------

STUCK_OVERRIDES = ({}, {'compute.instance.create': 60, 'compute.': 7200,
                        'network.port': 10 ** 12, 'volume': 1e-7})


@pytest.fixture(scope='module')
def simulated_store(tmp_path_factory):
    url = _endpoint_url(tmp_path_factory.mktemp('stuck') / 'nvs.db')
    endpoint = replay.local_endpoint(url)
    replay.replay((n.to_message() for n in simulate.simulate(N_SIM, seed=1)), endpoint,
                  batch_size=200)
    replay.local_store(endpoint).close()
    store = storage.get_store(url)
    yield store
    store.close()


def _python_stuck(store, now, policy, operation=None):
    # The Python path: every span read, each judged by the policy.
    return storage.Store.stuck_spans(store, now, policy, operation)


def _ids(span_list):
    return sorted(s.span_id for s in span_list)


@pytest.mark.parametrize('overrides', STUCK_OVERRIDES)
@pytest.mark.parametrize('operation', [None, 'compute.', 'volume.create'])
def test_stuck_spans_equal_the_python_path(simulated_store, overrides, operation):
    latest = simulated_store.latest_time()
    open_spans = [s for s in simulated_store.spans() if s.status == 'open']
    # At a limit exactly: the store returns the span, outcome leaves it out.
    exactly = open_spans[0].open_since + datetime.timedelta(seconds=300)
    found = 0
    for now in (latest, latest + datetime.timedelta(minutes=10),
                latest + datetime.timedelta(days=1), latest + datetime.timedelta(days=400),
                exactly):
        for stuck_after in (0, 300, 3600, 10 ** 12):
            policy = spans.StuckPolicy.of(stuck_after, overrides)
            python = _python_stuck(simulated_store, now, policy, operation)
            store = simulated_store.stuck_spans(now, policy, operation)
            assert set(_ids(python)) <= set(_ids(store))
            assert stuck.stuck(store, now, policy) == stuck.stuck(python, now, policy)
            found += len(python)
    assert found and len(open_spans) < simulated_store.count('spans') / 4


@pytest.mark.parametrize('overrides', STUCK_OVERRIDES)
def test_stuck_reads_only_the_open_spans_index(simulated_store, overrides, monkeypatch):
    """The store's statement (with its limits and filters) never reads the table."""
    statements = []
    read, now = simulated_store._read, simulated_store.latest_time()
    monkeypatch.setattr(simulated_store, '_read',
                        lambda sql, args=(): statements.append((sql, args)) or read(sql, args))
    simulated_store.stuck_spans(now, spans.StuckPolicy.of(300, overrides), 'compute.',
                                project_id='p')
    ((sql, args),) = statements
    plan = simulated_store._db.execute('EXPLAIN QUERY PLAN ' + sql, args).fetchall()
    assert [row[-1] for row in plan] == [
        'SEARCH spans USING COVERING INDEX spans_open (open_since<?)']
    column = dict(simulated_store._db.execute('SELECT span_id, open_since FROM spans'))
    assert column == {s.span_id: timeutil.iso(s.open_since)
                      for s in simulated_store.spans()}


def test_file_from_before_open_since_gains_it_on_open(db_url):
    hung_retry = [notif('volume.detach.start', 0, request_id='req-3'),
                  notif('volume.detach.error', 1, request_id='req-3', fault=FAULT_A),
                  notif('volume.detach.start', 4, request_id='req-3')]
    # The layout of files made before e41e4c3 has no open_since.
    _old_file(db_url[len('sqlite:///'):], 'message-id-key', _notifications() + hung_retry)
    store = storage.get_store(db_url)
    try:
        now = T0 + datetime.timedelta(hours=2)
        policy = spans.StuckPolicy.of(600)
        found = store.stuck_spans(now, policy)
        assert _ids(found) == _ids(_python_stuck(store, now, policy))
        assert {(s.operation, s.open_since) for s in found} == {
            ('volume.detach', T0 + datetime.timedelta(seconds=4)),
            ('compute.instance.create', T0),
            ('scheduler.select_destinations', T0)}
    finally:
        store.close()


# --- derived columns the stores aggregate on ------------------------------------------

def _old_layout(name):
    with open(os.path.join(os.path.dirname(__file__), 'fixtures', 'sqlite',
                           'layout-%s.sql' % name)) as f:
        return f.read()


def _derived(db_url):
    with sqlite3.connect(db_url[len('sqlite:///'):]) as db:
        spans_ = db.execute('SELECT operation, status, finished, error_key, rescheduled,'
                            ' attempts, open_since FROM spans ORDER BY operation, request_id')
        errors = db.execute('SELECT error_key FROM notifications WHERE error_key IS NOT NULL'
                            ' ORDER BY timestamp')
        return spans_.fetchall(), errors.fetchall()


_DERIVED = ([
    ('compute.instance.create', 'success', (T0 + datetime.timedelta(seconds=20.5)).isoformat(),
     'NoValidHost', 1, 3, None),
    ('compute.instance.create', 'open', None, None, 0, 1, T0.isoformat()),
    ('image.upload', 'success', (T0 + datetime.timedelta(seconds=9)).isoformat(), None, 0, 0,
     None),
    ('scheduler.select_destinations', 'open', None, None, 0, 1, T0.isoformat()),
    ('volume.attach', 'success', (T0 + datetime.timedelta(seconds=25)).isoformat(),
     'PortBindingFailed', 0, 2, None)],
    [('PortBindingFailed',), ('NoValidHost',), ('PortBindingFailed',)])


def test_derived_columns_are_stored(store, db_url):
    store.write(_batch(_notifications()))
    assert _derived(db_url) == _DERIVED


def _old_file(path, layout, notifications=None):
    """A file as an earlier release made it: its layout (a fixture), the
    documents it wrote of ``notifications`` (default :func:`_notifications`)
    and their spans (without the fields derived since), user_version 0."""
    batch = _batch(_notifications() if notifications is None else notifications)
    with sqlite3.connect(path) as db:
        db.executescript(_old_layout(layout))
        for n in batch.notifications:
            doc = documents.notification_doc(n)
            del doc['error_key']
            db.execute('INSERT INTO notifications (message_id, timestamp, priority, error_type,'
                       ' host, doc) VALUES (?, ?, ?, ?, ?, ?)',
                       (doc['message_id'], doc['timestamp'], doc['priority'], doc['error_type'],
                        doc['host'], jsontext.encode(doc)))
        for s in spans.merge_all(batch.fragments).values():
            doc = documents.span_doc(s)
            for derived in ('finished', 'open_since', 'rescheduled', 'error_key', 'timestamp'):
                del doc[derived]
            db.execute('INSERT INTO spans (span_id, operation, request_id, status, doc)'
                       ' VALUES (?, ?, ?, ?, ?)', (doc['span_id'], doc['operation'],
                                                   doc['request_id'], doc['status'],
                                                   jsontext.encode(doc)))
        assert db.execute('PRAGMA user_version').fetchone() == (0,)
    return batch


def _indexes(path):
    with sqlite3.connect(path) as db:
        return {name: tuple(r[2] for r in db.execute('PRAGMA index_info(%s)' % name))
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                          " AND sql IS NOT NULL")}


#: Files of the earlier layouts kept as fixtures, by name.
_OLD_FILES = {'267924d': lambda path: _old_file(path, '267924d'),
              'message-id-key': lambda path: _old_file(path, 'message-id-key'),
              'layout-1': lambda path: _layout_1_file(path),
              'layout-2': lambda path: _layout_2_file(path),
              'layout-3': lambda path: _layout_file(path, _as_layout_3),
              'layout-4': lambda path: _layout_file(path, _as_layout_4),
              'layout-5': lambda path: _layout_file(path, _as_layout_5),
              'layout-6': lambda path: _layout_file(path, _as_layout_6)}


@pytest.mark.parametrize('layout', sorted(_OLD_FILES))
def test_file_of_an_earlier_release_is_upgraded_on_open(db_url, layout):
    path = db_url[len('sqlite:///'):]
    batch = _OLD_FILES[layout](path)
    store_ = storage.get_store(db_url)
    try:
        assert _by_id(store_.spans()) == spans.merge_all(batch.fragments)
        docs = list(store_.notifications())
        assert sorted(docs, key=lambda d: d['message_id']) == sorted(
            (documents.notification_doc(n) for n in batch.notifications),
            key=lambda d: d['message_id'])
        # Still unique by (timestamp, message_id), whichever key the file had.
        assert store_.write(batch).duplicates == len(batch.notifications)
    finally:
        store_.close()
    assert _derived(db_url) == _DERIVED
    fresh = str(path) + '.new'
    storage.get_store('sqlite:///' + fresh).close()
    assert _indexes(path) == _indexes(fresh)
    assert _triggers(path) == _triggers(fresh)
    # The rollups hold the rows, and the writer keeps them so.
    store_ = storage.get_store(db_url)
    try:
        store_.write(_batch([notif('compute.instance.delete.start', 40, request_id='req-9')]))
    finally:
        store_.close()
    rollups = test_sqlite_rollups.live_and_backfilled(path)
    assert all(live == backfilled for live, backfilled in rollups.values())
    assert rollups['span_hours'][0]
    with sqlite3.connect(path) as db:
        assert db.execute('PRAGMA user_version').fetchone() == (sqlite_layout.VERSION,)


def _triggers(path):
    with sqlite3.connect(path) as db:
        return set(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"))


def test_a_new_file_has_the_current_layout_version(store, db_url):
    with sqlite3.connect(db_url[len('sqlite:///'):]) as db:
        assert db.execute('PRAGMA user_version').fetchone() == (sqlite_layout.VERSION,)


def test_a_file_of_a_newer_release_is_refused(db_url):
    with sqlite3.connect(db_url[len('sqlite:///'):]) as db:
        db.execute('PRAGMA user_version = %d' % (sqlite_layout.VERSION + 1))
    with pytest.raises(storage.StoreError, match='newer than this release'):
        storage.get_store(db_url)


# A serialised event missing a declared field, and a sample with one null and
# fields nobody declared: open kinds keep exactly the keys they came with.
_EVENT = {'message_id': 'ev-1', 'event_type': 'compute.instance.create.end',
          'generated': '2024-01-15T08:00:20.500000+00:00',
          'traits': {'instance_id': 'inst-1', 'state': 'active'}, 'extra': [1, None]}
_SAMPLE = {'message_id': 'sm-1', 'counter_name': 'nvs.request.duration', 'timestamp': None,
           'counter_type': 'gauge', 'counter_volume': 20.5, 'monotonic_time': None,
           'resource_metadata': {'operation': 'compute.instance.create'}}


def _layout_1_file(path):
    """A file as the release before the compact layout made it (the fixture
    ``layout-1``, user_version 1): every document whole in ``doc``."""
    batch = _batch(_notifications(), [_reject()])
    with sqlite3.connect(path) as db:
        db.executescript(_old_layout('1'))
        for kind, docs in (
                ('notifications', map(documents.notification_doc, batch.notifications)),
                ('spans', map(documents.span_doc, spans.merge_all(batch.fragments).values())),
                ('events', [_EVENT]), ('samples', [_SAMPLE]),
                ('rejects', map(documents.reject_doc, batch.rejects))):
            columns = [row[1] for row in db.execute('PRAGMA table_info(%s)' % kind)]
            db.executemany('INSERT INTO %s VALUES (%s)' % (kind, ', '.join('?' * len(columns))),
                           ([jsontext.encode(doc) if c == 'doc' else doc.get(c)
                             for c in columns] for doc in docs))
        db.execute('PRAGMA user_version = 1')
    return batch


def _layout_2_file(path):
    """A file of layout 2 (user_version 2): layout 1 and the rollups, with
    their insert and update triggers."""
    batch = _layout_1_file(path)
    with sqlite3.connect(path) as db:
        sqlite_rollups.register(db)
        sqlite_rollups.create(db)
        sqlite_rollups.backfill(db)
        db.executescript(_old_layout('4-write-triggers'))
        db.execute('PRAGMA user_version = 2')
    return batch


_PACKED = [k for k in schema.KINDS.values() if sqlite_layout.is_packed(k)]


def _as_layout_6(path):
    """Make the file at ``path`` (this release's) what layout 6 made: the same
    rows and rowids, each packed rest alone in its row's ``rest``, no blocks,
    user_version 6."""
    with sqlite3.connect(path) as db:
        for kind in _PACKED:
            rowids = [r for (r,) in db.execute('SELECT rowid FROM %s' % kind.name)]
            rests = sqlite_blocks.read(db, kind.name, rowids) if rowids else {}
            db.execute('ALTER TABLE %s ADD COLUMN rest BLOB' % kind.name)
            db.executemany('UPDATE %s SET rest = ? WHERE rowid = ?' % kind.name, [
                (sqlite_packing.pack(rest), rowid) for rowid, rest in rests.items()])
            db.execute('DROP TABLE %s' % sqlite_blocks.table(kind.name))
        db.execute('PRAGMA user_version = 6')


def _as_layout_5(path):
    """Make the file at ``path`` (this release's) what layout 5 made: layout 6
    (:func:`_as_layout_6`) with a notification's ``state`` (when not null) in
    its packed ``rest`` and no ``state`` column, user_version 5."""
    _as_layout_6(path)
    with sqlite3.connect(path) as db:
        db.executemany('UPDATE notifications SET rest = ? WHERE rowid = ?', [
            (sqlite_packing.pack(jsontext.encode(dict(
                {'state': state} if state is not None else {},
                **json.loads(sqlite_packing.unpack(rest))))), rowid)
            for rowid, state, rest in db.execute('SELECT rowid, state, rest FROM notifications')])
        db.execute('ALTER TABLE notifications DROP COLUMN state')
        db.execute('PRAGMA user_version = 5')


def _as_layout_4(path):
    """Make the file at ``path`` (this release's) what layout 4 made: layout 5
    (:func:`_as_layout_5`) and the rollups' insert and update triggers,
    user_version 4."""
    _as_layout_5(path)
    with sqlite3.connect(path) as db:
        db.executescript(_old_layout('4-write-triggers'))
        db.execute('PRAGMA user_version = 4')


def _layout_file(path, as_layout):
    """A file of an earlier layout (``as_layout``: :func:`_as_layout_5`...):
    the batch, an event, a sample."""
    batch = _batch(_notifications(), [_reject()])
    store_ = storage.get_store('sqlite:///' + path)
    try:
        store_.write(batch)
        store_.write_events([_EVENT])
        store_.write_samples([_SAMPLE])
    finally:
        store_.close()
    as_layout(path)
    return batch


_SPAN_REST_3 = [f.name for f in schema.SPANS.fields if not f.column]


def _as_layout_3(path):
    """Make the file at ``path`` (this release's) what layout 3 made: layout 4
    (:func:`_as_layout_4`) with every packed ``rest`` raw DEFLATE of the same
    JSON without a dictionary or an id (zlib's fastest level), a span's
    ``rest`` every field not in a column and not null, user_version 3."""
    _as_layout_4(path)
    with sqlite3.connect(path) as db:
        sqlite_rollups.register(db)
        for kind in schema.KINDS.values():
            if kind.documents and sqlite_layout.is_packed(kind):
                db.executemany('UPDATE %s SET rest = ? WHERE rowid = ?' % kind.name, [
                    (zlib.compress(sqlite_packing.unpack(rest).encode(), 1, -15), rowid)
                    for rowid, rest in db.execute('SELECT rowid, rest FROM %s' % kind.name)])
        db.executemany('UPDATE spans SET rest = ? WHERE rowid = ?', [
            (jsontext.encode({k: doc[k] for k in _SPAN_REST_3 if doc[k] is not None}), rowid)
            for rowid, doc in ((row[0], documents.span_doc(sqlite_layout.span(row[1:])))
                               for row in db.execute('SELECT rowid, %s FROM spans' % (
                                   sqlite_layout.select_sql(schema.SPANS))))])
        db.execute('PRAGMA user_version = 3')


def test_events_samples_and_rejects_of_layout_1_are_read_back_the_same(db_url):
    path = db_url[len('sqlite:///'):]
    batch = _layout_1_file(path)
    store_ = storage.get_store(db_url)
    try:
        assert [store_.count(k) for k in ('events', 'samples', 'rejects')] == [1, 1, 1]
    finally:
        store_.close()
    with sqlite3.connect(path) as db:
        for kind, expected in ((schema.EVENTS, _EVENT), (schema.SAMPLES, _SAMPLE)):
            (row,) = sqlite_layout.with_rests(db, kind, db.execute('SELECT %s FROM %s' % (
                sqlite_layout.select_sql(kind), kind.name)).fetchall())
            assert sqlite_layout.document(kind, row) == expected
        assert db.execute('SELECT reject_id, reason FROM rejects').fetchall() == [
            (documents.reject_id(batch.rejects[0]), batch.rejects[0].reason)]


def test_no_field_is_stored_twice_and_payloads_are_deflated(store, db_url):
    batch = _batch(_notifications())
    store.write(batch)
    with sqlite3.connect(db_url[len('sqlite:///'):]) as db:
        blocks = [block for (block,) in db.execute('SELECT block FROM notifications_rests')]
        assert blocks and all(b'nested' not in b and b[0] == sqlite_packing.PACKING
                              for b in blocks)
        for kind in (schema.NOTIFICATIONS, schema.SPANS):
            for row in sqlite_layout.with_rests(db, kind, db.execute('SELECT %s FROM %s' % (
                    sqlite_layout.select_sql(kind), kind.name)).fetchall()):
                rest = row[-1]
                assert not set(json.loads(rest)) & set(kind.columns), kind.name
                assert not set(json.loads(rest)) & {f.name for f in kind.fields if f.derived}
                assert None not in json.loads(rest).values()


def _open_and_count(url, start, queue):
    start.wait()
    store_ = storage.get_store(url)
    try:
        queue.put((store_.count('notifications'), store_.count('spans')))
    finally:
        store_.close()


@pytest.mark.parametrize('layout', ['267924d', 'layout-1', 'layout-2', 'layout-3', 'layout-4',
                                    'layout-5', 'layout-6'])
def test_processes_opening_an_old_file_at_once_upgrade_it_once(db_url, layout):
    path = db_url[len('sqlite:///'):]
    batch = _OLD_FILES[layout](path)
    ctx = multiprocessing.get_context('spawn')
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_open_and_count, args=(db_url, start, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    expected = (len(batch.notifications), len(spans.merge_all(batch.fragments)))
    assert [queue.get(timeout=5) for _ in procs] == [expected] * 4
    assert _derived(db_url) == _DERIVED


def _answers(path):
    """Every answer of the store in the file at ``path``, and its rows as stored."""
    store_ = storage.get_store('sqlite:///' + path)
    try:
        now = store_.latest_time()
        policy = spans.StuckPolicy.of(300, {'compute.': 60})
        hour = datetime.timedelta(hours=1)
        answers = {
            'notifications': list(store_.notifications()),
            'ingested': store_.ingested(limit=10 ** 6),
            'spans': _docs(store_),
            'sla': store_.sla(), 'sla by host': store_.sla(group_by='host'),
            'breakdown': store_.breakdown('compute.instance.create'),
            'errors': sorted(store_.error_groups(), key=repr),
            'hosts': sorted(store_.host_activity(now - 2 * hour, now), key=repr),
            'stuck': sorted(store_.stuck_spans(now, policy), key=repr),
            'summary': store_.span_summary(now, policy),
            'failures': store_.top_failures(), 'sample': store_.sample_span(),
            'counts': [store_.count(k) for k in sorted(schema.KINDS)]}
    finally:
        store_.close()
    with sqlite3.connect(path) as db:
        for kind in (schema.EVENTS, schema.SAMPLES):
            answers[kind.name] = [sqlite_layout.document(kind, row)
                                  for row in sqlite_layout.with_rests(db, kind, db.execute(
                                      'SELECT %s FROM %s ORDER BY rowid'
                                      % (sqlite_layout.select_sql(kind), kind.name)).fetchall())]
        answers['rollups'] = test_sqlite_rollups.live_and_backfilled(path)
    return answers


def _simulated_file(path):
    """A file of this release with simulated notifications, an event and a
    sample: its answers (:func:`_answers`)."""
    endpoint = replay.local_endpoint(_endpoint_url(path))
    replay.replay((n.to_message() for n in simulate.simulate(N_SIM, seed=2)), endpoint,
                  batch_size=200)
    replay.local_store(endpoint).close()
    store_ = storage.get_store('sqlite:///' + path)
    try:
        store_.write_events([_EVENT])
        store_.write_samples([_SAMPLE])
    finally:
        store_.close()
    expected = _answers(path)
    assert all(expected[k] for k in ('notifications', 'spans', 'sla', 'errors', 'hosts', 'stuck',
                                     'failures', 'events', 'samples'))
    return expected


def test_upgrade_from_layout_3_keeps_every_answer_and_packs_with_the_dictionary(tmp_path):
    path = str(tmp_path / 'nvs.db')
    expected = _simulated_file(path)
    _as_layout_3(path)
    with sqlite3.connect(path) as db:
        deflated = db.execute('SELECT sum(length(rest)) FROM notifications').fetchone()[0]
        assert all('"timestamp"' in rest for (rest,) in db.execute('SELECT rest FROM spans'))
    assert _answers(path) == expected
    with sqlite3.connect(path) as db:
        assert db.execute('PRAGMA user_version').fetchone() == (sqlite_layout.VERSION,)
        packed = db.execute('SELECT sum(length(block)) FROM notifications_rests').fetchone()[0]
        assert {block[0] for kind in ('notifications', 'events', 'samples')
                for (block,) in db.execute('SELECT block FROM %s_rests' % kind)} == {
            sqlite_packing.PACKING}
        assert not any('"timestamp"' in rest for (rest,) in db.execute('SELECT rest FROM spans'))
    # What the dictionary is for.
    assert packed < 0.8 * deflated


def test_upgrade_from_layout_5_keeps_every_answer_and_moves_state_to_its_column(tmp_path):
    path = str(tmp_path / 'nvs.db')
    expected = _simulated_file(path)
    assert {d['state'] for d in expected['notifications']} - {None}
    _as_layout_5(path)
    with sqlite3.connect(path) as db:
        rowids = db.execute('SELECT rowid, message_id FROM notifications').fetchall()
    assert _answers(path) == expected
    with sqlite3.connect(path) as db:
        assert db.execute('PRAGMA user_version').fetchone() == (sqlite_layout.VERSION,)
        assert db.execute('SELECT rowid, message_id FROM notifications').fetchall() == rowids
        assert not any('state' in json.loads(rest)
                       for (block,) in db.execute('SELECT block FROM notifications_rests')
                       for rest in sqlite_packing.unpack_block(block) if rest)
