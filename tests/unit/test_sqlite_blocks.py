"""Unit tests for the blocks of packed rests in the SQLite file
(nvs_notif.storage.sqlite_blocks): rests found again after duplicates,
purges and upgrades, and nothing of a purged row left in a block."""
import datetime
import sqlite3

import pytest

from nvs_notif import storage
from nvs_notif.storage import documents
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_blocks
from nvs_notif.storage import sqlite_layout
from nvs_notif.storage import sqlite_packing
from tests.unit import test_sqlite_store
from tests.unit.test_sqlite_store import T0, notif

SLOTS = sqlite_blocks.SLOTS


def _notification(i, hours=0, token=None):
    """Notification ``i`` at ``T0`` plus ``hours``, its payload marked with ``token``."""
    n = notif('compute.instance.exists', i, message_id='msg-%d' % i, resource_id='inst-%d' % i)
    n.timestamp += datetime.timedelta(hours=hours)
    n.payload = {'instance_id': 'inst-%d' % i, 'token': token or 'token-%d' % i}
    return n


def _write(store, notifications):
    store.write(storage.Batch(list(notifications), [], []))


def _payloads(store):
    return {d['message_id']: d['payload'] for d in store.notifications()}


def _blocks(path):
    """``{first: slots}`` of the notifications' blocks as stored."""
    with sqlite3.connect(path) as db:
        return {first: sqlite_packing.unpack_block(block) for first, block in db.execute(
            'SELECT first, block FROM notifications_rests')}


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'nvs.db')


@pytest.fixture
def store(path):
    s = storage.get_store('sqlite:///' + path)
    yield s
    s.close()


def test_a_batch_longer_than_a_block_is_read_back_whole(store, path):
    batch = [_notification(i) for i in range(2 * SLOTS + 10)]
    _write(store, batch)
    assert sorted(map(len, _blocks(path).values())) == [10, SLOTS, SLOTS]
    assert _payloads(store) == {n.message_id: n.payload for n in batch}
    ingested = store.ingested(limit=SLOTS + 3)
    assert [doc for _, doc in ingested] == [documents.notification_doc(n)
                                            for n in batch[:SLOTS + 3]]
    assert len(store.ingested(after=ingested[-1][0], limit=1000)) == SLOTS + 7


def test_duplicates_leave_the_rests_of_the_rows_kept(store, path):
    _write(store, [_notification(i) for i in range(5)])
    # A redelivery of msg-2 (another payload), msg-7 twice in one batch:
    # the rows kept are the first of each, and so are their rests.
    _write(store, [_notification(5), _notification(2, token='again'), _notification(7),
                   _notification(7, token='twice'), _notification(8)])
    assert _payloads(store) == {'msg-%d' % i: {'instance_id': 'inst-%d' % i,
                                               'token': 'token-%d' % i}
                                for i in (0, 1, 2, 3, 4, 5, 7, 8)}
    assert not any('again' in rest or 'twice' in rest
                   for slots in _blocks(path).values() for rest in slots)


def test_a_purge_leaves_nothing_of_a_deleted_row(store, path):
    # Rows of every block old and recent in turn; the last block all old.
    batch = [_notification(i, hours=0 if i % 3 == 0 or i >= 2 * SLOTS else 48,
                           token='secret-%d' % i) for i in range(3 * SLOTS)]
    _write(store, batch)
    removed = store.purge(T0 + datetime.timedelta(hours=24))
    kept = [n for n in batch if n.timestamp > T0 + datetime.timedelta(hours=24)]
    assert removed['notifications'] == len(batch) - len(kept)
    assert _payloads(store) == {n.message_id: n.payload for n in kept}
    blocks = _blocks(path)
    assert sorted(blocks) == [1, SLOTS + 1]
    stored = ' '.join(rest for slots in blocks.values() for rest in slots)
    assert {'secret-%d' % i for i in range(len(batch)) if 'secret-%d"' % i in stored} == {
        n.payload['token'] for n in kept}
    store.purge(T0 + datetime.timedelta(days=7))
    assert store.count('notifications') == 0 and _blocks(path) == {}


def test_rowids_taken_again_after_the_newest_rows_are_purged_find_their_own_rests(store, path):
    # The newest rows purged: SQLite gives their rowids to the next rows, in
    # a block that starts inside the older block's slots.
    _write(store, [_notification(i, hours=48 if i < 40 else 0) for i in range(SLOTS + 6)])
    store.purge(T0 + datetime.timedelta(hours=24))
    assert sorted(_blocks(path)) == [1]
    later = [_notification(100 + i, hours=72) for i in range(10)]
    _write(store, later)
    assert sorted(_blocks(path)) == [1, 41]
    assert _payloads(store) == {n.message_id: n.payload for n in
                                [_notification(i, hours=48) for i in range(40)] + later}


def test_upgrade_from_layout_6_keeps_rows_after_gaps(path, store):
    _write(store, [_notification(i, hours=48 if i % 5 else 0) for i in range(2 * SLOTS + 1)])
    store.purge(T0 + datetime.timedelta(hours=24))
    expected = _payloads(store)
    store.close()
    test_sqlite_store._as_layout_6(path)
    upgraded = storage.get_store('sqlite:///' + path)
    try:
        assert _payloads(upgraded) == expected
    finally:
        upgraded.close()


def test_a_block_refuses_a_rest_with_a_line_break():
    with pytest.raises(ValueError):
        sqlite_packing.pack_block(['{"a":1}', '{"b":"\n"}'])
    assert sqlite_packing.unpack_block(sqlite_packing.pack_block(['{"a":1}', '', '{}'])) == [
        '{"a":1}', '', '{}']


def test_a_copy_by_dump_or_vacuum_keeps_every_rest_with_its_row(store, path, tmp_path):
    # A row's rowid finds its rest: a packed table's rowid is a column (seq),
    # which .dump and VACUUM keep (they may renumber a bare rowid).
    _write(store, [_notification(i, hours=48 if i % 3 else 0) for i in range(SLOTS + 20)])
    store.purge(T0 + datetime.timedelta(hours=24))
    expected = _payloads(store)
    store.close()
    dumped = str(tmp_path / 'dumped.db')
    with sqlite3.connect(path) as source, sqlite3.connect(dumped) as copy:
        copy.executescript('\n'.join(source.iterdump()))
        # A dump does not carry the layout (user_version): given as an operator would.
        copy.execute('PRAGMA user_version = %d' % sqlite_layout.VERSION)
    vacuumed = str(tmp_path / 'vacuumed.db')
    with sqlite3.connect(path) as source:
        source.execute("VACUUM INTO '%s'" % vacuumed)
    for copied in (dumped, vacuumed):
        reopened = storage.get_store('sqlite:///' + copied)
        try:
            assert _payloads(reopened) == expected
        finally:
            reopened.close()


def test_events_without_or_with_odd_ids_keep_their_own_rests(store, path):
    # A batch that repeats a stored id is inserted a row at a time: a missing
    # id (SQLite keeps several NULLs) or an integer one keeps its own traits.
    store.write_events([{'message_id': 'e-1', 'event_type': 'a', 'traits': {'n': 1}}])
    store.write_events([{'message_id': 'e-1', 'event_type': 'a', 'traits': {'n': 'again'}},
                        {'message_id': None, 'event_type': 'b', 'traits': {'n': 2}},
                        {'event_type': 'c', 'traits': {'n': 3}},
                        {'message_id': 5, 'event_type': 'd', 'traits': {'n': 4}}])
    with sqlite3.connect(path) as db:
        kind = schema.EVENTS
        docs = [sqlite_layout.document(kind, row) for row in sqlite_layout.with_rests(
            db, kind, db.execute('SELECT %s FROM events ORDER BY rowid'
                                 % sqlite_layout.select_sql(kind)).fetchall())]
    assert [(d['event_type'], d['traits']) for d in docs] == [
        ('a', {'n': 1}), ('b', {'n': 2}), ('c', {'n': 3}), ('d', {'n': 4})]
