"""Unit tests for the SQLite rollups (nvs_notif.storage.sqlite_rollups)."""
import datetime
import math
import multiprocessing
import random
import sqlite3

import pytest

from nvs_notif import faults
from nvs_notif import simulate
from nvs_notif import spans
from nvs_notif import storage
from nvs_notif import timeutil
from nvs_notif.notification import Notification
from nvs_notif.notification import normalize
from nvs_notif.storage import sqlite as sqlite_store
from nvs_notif.storage import sqlite_rollups as rollups
from nvs_notif.storage import sqlite_span_answers

UTC = datetime.timezone.utc
T = datetime.datetime(2024, 1, 15, 8, 0, tzinfo=UTC)
TICK = datetime.timedelta(microseconds=1)


def at(hours, minutes=0):
    return T + datetime.timedelta(hours=hours, minutes=minutes)


@pytest.mark.parametrize('since, until, expected', [
    (None, None, rollups.EVERYTHING),
    (at(0), None, rollups.Window(('2024-01-15T08', None), ())),
    (at(0, 30), None, rollups.Window(('2024-01-15T09', None), ((at(0, 30), at(1) - TICK),))),
    (None, at(2) - TICK, rollups.Window((None, '2024-01-15T09'), ())),
    (None, at(2), rollups.Window((None, '2024-01-15T09'), ((at(2), at(2)),))),
    (at(0, 30), at(3, 15), rollups.Window(('2024-01-15T09', '2024-01-15T10'),
                                          ((at(0, 30), at(1) - TICK), (at(3), at(3, 15))))),
    (at(0, 30), at(1, 15), rollups.Window(None, ((at(0, 30), at(1, 15)),))),
    (at(1), at(2) - TICK, rollups.Window(('2024-01-15T09', '2024-01-15T09'), ())),
    # another zone: the instant counts
    (at(1).astimezone(datetime.timezone(datetime.timedelta(hours=-5))), None,
     rollups.Window(('2024-01-15T09', None), ())),
], ids=repr)
def test_split_cuts_whole_hours_and_edges(since, until, expected):
    assert rollups.split(since, until) == expected


def test_a_bucket_stands_for_its_durations_within_alpha():
    rng = random.Random(3)
    durations = [0.0, 1e-7, 1e-6, -1e-6, 0.5, 1.0, -3.25, 86400.0 * 365]
    durations += [rng.choice((1, -1)) * math.exp(rng.uniform(-14, 17)) for _ in range(20000)]
    for d in durations:
        k = rollups.bucket(d)
        assert abs(rollups.bucket_value(k) - d) <= rollups.ALPHA * abs(d) + 1e-6, d
    # Buckets are in the order of their durations.
    assert sorted(durations, key=rollups.bucket) == sorted(
        durations, key=lambda d: rollups.bucket_value(rollups.bucket(d)))


def live_and_backfilled(path):
    """Each rollup as the writes left it, and as a backfill makes it."""
    db = sqlite3.connect(path)
    rollups.register(db)
    try:
        tables = {}
        for rollup in rollups.ROLLUPS:
            query = 'SELECT * FROM %s ORDER BY %s' % (
                '%s', ', '.join(k for k, _ in rollup.keys))
            live = db.execute(query % rollup.table).fetchall()
            db.execute('CREATE TEMP TABLE again AS SELECT * FROM %s WHERE 0' % rollup.table)
            db.execute(rollups.backfill_sql(rollup).replace(
                'INSERT INTO %s ' % rollup.table, 'INSERT INTO again ', 1))
            tables[rollup.table] = (live, db.execute(query % 'again').fetchall())
            db.execute('DROP TABLE again')
        return tables
    finally:
        db.close()


def test_rollups_hold_what_the_rows_hold_after_any_writes_and_a_purge(tmp_path):
    """Notifications in shuffled batches (spans told out of order, their
    outcomes and hours changing), some twice, then a purge: each rollup is
    what a backfill from the rows left makes."""
    path = str(tmp_path / 'nvs.db')
    notes = [normalize(s.to_message()) for s in simulate.simulate(3000, seed=11)]
    rng = random.Random(11)
    rng.shuffle(notes)
    notes += notes[:300]                                  # redelivered
    store = storage.get_store('sqlite:///' + path)
    try:
        for i in range(0, len(notes), 250):
            chunk = notes[i:i + 250]
            store.write(storage.Batch(chunk, [f for n in chunk for f in spans.fragments(n)]))
        for live, backfilled in live_and_backfilled(path).values():
            assert live == backfilled and live
        cutoff = sorted(n.timestamp for n in notes)[len(notes) // 2]
        assert store.purge(cutoff)['spans'] > 0
    finally:
        store.close()
    for table, (live, backfilled) in live_and_backfilled(path).items():
        assert live == backfilled, table


def _note(event_type, seconds, request_id, host='host-1', fault=None):
    operation, _, phase = event_type.rpartition('.')
    return Notification(
        message_id='%s-%s-%s' % (request_id, event_type, seconds),
        timestamp=T + datetime.timedelta(seconds=seconds), event_type=event_type,
        operation=operation, phase=phase, priority='error' if phase == 'error' else 'info',
        publisher_id='compute.' + host, service='nova', host=host, request_id=request_id,
        global_request_id=None, project_id='proj-1', user_id='user-1',
        resource_type='instance', resource_id='inst-' + request_id, state=None,
        fault=fault, payload={})


def _write(store, notes):
    store.write(storage.Batch(notes, [f for n in notes for f in spans.fragments(n)]))


def _exact(path):
    for table, (live, backfilled) in live_and_backfilled(path).items():
        assert live == backfilled, table


def _cell(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


CREATE = 'compute.instance.create'
FAULT = faults.Fault('NoValidHost', 'No valid host was found.', 500, 'select_destinations')


def iso(seconds):
    return timeutil.iso(T + datetime.timedelta(seconds=seconds))


def test_a_span_leaving_its_cell_takes_its_contribution_and_extremes_along(tmp_path):
    """Spans whose hour and outcome later notifications change: each cell
    they leave loses their counts and, when they held it, its extreme (read
    again from the rows), and a cell left empty goes."""
    path = str(tmp_path / 'nvs.db')
    store = storage.get_store('sqlite:///' + path)
    longest = 'SELECT hour, spans, longest FROM span_hours ORDER BY hour'
    errors = 'SELECT hour, failures, first, last FROM span_error_hours ORDER BY hour'
    try:
        _write(store, [_note(CREATE + '.start', 3610, 'a'), _note(CREATE + '.end', 3800, 'a'),
                       _note(CREATE + '.start', 3620, 'b'), _note(CREATE + '.end', 3650, 'b'),
                       _note(CREATE + '.start', 3630, 'c'),
                       _note(CREATE + '.error', 3640, 'c', fault=FAULT),
                       _note(CREATE + '.start', 3631, 'd'),
                       _note(CREATE + '.error', 3645, 'd', fault=FAULT)])
        _exact(path)
        assert _cell(path, longest) == [('2024-01-15T09', 4, 190.0)]
        assert _cell(path, errors) == [('2024-01-15T09', 2, iso(3640), iso(3645))]
        # a's first start told late: a moves to the hour before, taking 09's
        # longest along; d's retry ends: d leaves the failures with their last.
        _write(store, [_note(CREATE + '.start', 3500, 'a'), _note(CREATE + '.end', 3700, 'd')])
        _exact(path)
        assert _cell(path, longest) == [('2024-01-15T08', 1, 300.0), ('2024-01-15T09', 3, 69.0)]
        assert _cell(path, errors) == [('2024-01-15T09', 1, iso(3640), iso(3640))]
        # b's start told again (a duplicate) and a retried end.
        _write(store, [_note(CREATE + '.start', 3620, 'b'), _note(CREATE + '.end', 3660, 'b')])
        _exact(path)
        assert _cell(path, longest) == [('2024-01-15T08', 1, 300.0), ('2024-01-15T09', 3, 69.0)]
        # c's retry fails an hour later: c's failure moves to hour 10, 09's
        # cell goes; then a retry succeeds: no failure is left.
        _write(store, [_note(CREATE + '.error', 7300, 'c', fault=FAULT)])
        _exact(path)
        assert _cell(path, errors) == [('2024-01-15T10', 1, iso(7300), iso(7300))]
        assert _cell(path, longest) == [('2024-01-15T08', 1, 300.0), ('2024-01-15T09', 3, 3670.0)]
        _write(store, [_note(CREATE + '.end', 7400, 'c')])
        _exact(path)
        assert _cell(path, errors) == []
        assert _cell(path, longest) == [('2024-01-15T08', 1, 300.0), ('2024-01-15T09', 3, 3770.0)]
    finally:
        store.close()


def test_duplicates_within_and_across_batches_count_once(tmp_path):
    """A notification twice in a batch, a batch written again, an error
    redelivered: every rollup as a backfill makes it, each counted once."""
    path = str(tmp_path / 'nvs.db')
    store = storage.get_store('sqlite:///' + path)
    notes = [_note(CREATE + '.start', 10, 'a'), _note(CREATE + '.error', 20, 'a', fault=FAULT),
             _note(CREATE + '.start', 30, 'b'), _note(CREATE + '.end', 50, 'b')]
    try:
        _write(store, notes + notes[1:2])
        _exact(path)
        _write(store, notes)
        _write(store, notes[1:2] + [_note(CREATE + '.start', 40, 'e')])
        _exact(path)
        assert _cell(path, 'SELECT sum(notifications), sum(errors) FROM host_hours') == [(5, 1)]
        assert _cell(path, 'SELECT errors FROM notification_error_hours') == [(1,)]
        assert _cell(path, 'SELECT spans, successes FROM span_hours') == [(3, 1)]
    finally:
        store.close()


def _write_share(url, notes, start):
    start.wait(60)
    store = storage.get_store(url)
    try:
        for i in range(0, len(notes), 50):
            _write(store, notes[i:i + 50])
    finally:
        store.close()


def test_processes_writing_one_file_at_once_keep_the_rollups_exact(tmp_path):
    """Two writers (processes) share a file, the spans of each told partly
    by the other, some notifications by both: every rollup as a backfill
    makes it (each batch keeps them inside its own transaction)."""
    path = str(tmp_path / 'nvs.db')
    url = 'sqlite:///' + path
    storage.get_store(url).close()
    notes = [normalize(s.to_message()) for s in simulate.simulate(2000, seed=5)]
    random.Random(5).shuffle(notes)
    shares = [notes[:1100], notes[900:]]
    ctx = multiprocessing.get_context('spawn')
    start = ctx.Event()
    procs = [ctx.Process(target=_write_share, args=(url, share, start)) for share in shares]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    _exact(path)
    assert _cell(path, 'SELECT sum(notifications) FROM host_hours') == [(2000,)]


def test_percentiles_from_the_histogram_are_within_alpha(tmp_path, monkeypatch):
    """Every group estimated: each percentile within ALPHA (and the shown
    millisecond) of the exact nearest rank, every other column exact."""
    store = storage.get_store('sqlite:///' + str(tmp_path / 'nvs.db'))
    try:
        notes = [normalize(s.to_message()) for s in simulate.simulate(4000, seed=2)]
        store.write(storage.Batch(notes, [f for n in notes for f in spans.fragments(n)]))
        monkeypatch.setattr(sqlite_span_answers, 'EXACT_PERCENTILES', 0)
        middle = sorted(n.timestamp for n in notes)[len(notes) // 2]
        for window in ({}, dict(since=middle), dict(until=middle)):
            estimated = store.sla(**window)
            exact = storage.Store.sla(store, **window)
            assert len(estimated) == len(exact) > 5
            for mine, right in zip(estimated, exact):
                assert mine._replace(p50=None, p95=None, p99=None) == right._replace(
                    p50=None, p95=None, p99=None)
                for p in ('p50', 'p95', 'p99'):
                    value, truth = getattr(mine, p), getattr(right, p)
                    assert (value is None) == (truth is None)
                    if truth is not None:
                        assert abs(value - truth) <= rollups.ALPHA * abs(truth) + 0.0005, (
                            mine, right, p)
    finally:
        store.close()


def test_whole_history_sla_reads_the_rollups(tmp_path, monkeypatch):
    """No statement of a whole-history sla reads the spans table but the
    exact percentiles of small groups, each by rank on spans_sla."""
    store = storage.get_store('sqlite:///' + str(tmp_path / 'nvs.db'))
    statements = []
    try:
        notes = [normalize(s.to_message()) for s in simulate.simulate(1500, seed=4)]
        store.write(storage.Batch(notes, [f for n in notes for f in spans.fragments(n)]))
        connect = sqlite_store._connect

        def traced(path):     # the store reads on connections of their own
            db = connect(path)
            db.set_trace_callback(statements.append)
            return db
        monkeypatch.setattr(sqlite_store, '_connect', traced)
        assert len(store.sla()) > 5
    finally:
        store.close()
    read_spans = [s for s in statements if 'FROM spans' in s]
    assert read_spans and all('ORDER BY duration LIMIT 1 OFFSET' in s for s in read_spans)
