"""The hostile-input corpus (tests/hostile/) through the nvs endpoint, in-process.

Each case travels in a batch between two good notifications; the bad one
becomes a reject with a reason (or, when it is in fact a valid notification,
is stored), the good ones are stored, nothing escapes, and no secret of the
case is stored or kept in a reject's raw text.
"""
import collections
import dataclasses
import json
import sqlite3

import pytest

from nvs_notif import pipeline
from nvs_notif import replay
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_layout
from tests.hostile import corpus

CASES = corpus.load_cases()


def good(n, tag):
    return corpus.base_message(
        message_id='good-%s-%d' % (tag, n), timestamp='2024-01-15 08:00:0%d.000000' % n,
        event_type='compute.instance.create.%s' % ('start' if n == 1 else 'end'),
        _context_request_id='req-good-%s' % tag,
        payload={'instance_id': 'inst-good-%s' % tag, 'state': 'active'})


def _dump(batch):
    parts = [json.dumps(dataclasses.asdict(n), default=str) for n in batch.notifications]
    parts += [r.raw + r.reason for r in batch.rejects]
    return '\n'.join(parts)


def test_corpus_is_big_and_declared():
    assert len(CASES) >= 50
    assert len({c.name.split('-', 1)[0] for c in CASES}) == len(CASES), 'duplicate numbers'
    readme = (corpus.HERE / 'README.rst').read_text(encoding='utf-8')
    missing = [c.name for c in CASES if c.name not in readme]
    assert not missing, 'cases not listed in tests/hostile/README.rst: %s' % missing


@pytest.mark.parametrize('case', CASES, ids=str)
def test_build_batch(case):
    message = case.message()
    stats = collections.Counter()
    batch = pipeline.build_batch([message, good(1, case.name), good(2, case.name)], None,
                                 stats=stats)
    stored_ids = [n.message_id for n in batch.notifications]
    assert 'good-%s-1' % case.name in stored_ids and 'good-%s-2' % case.name in stored_ids
    if case.expect == 'reject':
        assert len(batch.notifications) == 2
        (rej,) = batch.rejects
        assert rej.reason
        if case.reason:
            assert case.reason in rej.reason
        assert len(rej.raw) <= 65536
    else:
        assert batch.rejects == [], batch.rejects[0].reason
        assert len(batch.notifications) == 3
        assert stored_ids[0] == message['message_id']
    assert stats == {'notifications': len(batch.notifications), 'rejects': len(batch.rejects)}
    text = _dump(batch)
    for secret in case.secrets:
        assert secret not in text


@pytest.fixture
def sqlite_endpoint(tmp_path):
    path = tmp_path / 'store.db'
    return replay.local_endpoint('sqlite:///%s' % path), path


@pytest.mark.parametrize('case', CASES, ids=str)
def test_endpoint_into_sqlite(case, sqlite_endpoint):
    endpoint, path = sqlite_endpoint
    message = case.message()
    before = dict(endpoint.stats)
    result = endpoint.process(None, [good(1, case.name), message, good(2, case.name)])
    assert result == 'handled'
    delta = {k: endpoint.stats[k] - before[k] for k in ('notifications', 'rejects')}
    expected = {'notifications': 3, 'rejects': 0} if case.expect == 'store' else \
        {'notifications': 2, 'rejects': 1}
    assert delta == expected
    db = sqlite3.connect(path)
    try:
        dump = '\n'.join(str(row) for table, in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")
            for row in db.execute('SELECT * FROM "%s"' % table))
        # The documents as read back too: payloads are deflated in the file.
        dump += '\n'.join(str(sqlite_layout.document(kind, row)) for kind in schema.KINDS.values()
                          for row in sqlite_layout.with_rests(db, kind, db.execute(
                              'SELECT %s FROM %s' % (sqlite_layout.select_sql(kind),
                                                     kind.name)).fetchall()))
        ids = {r[0] for r in db.execute('SELECT message_id FROM notifications')}
    finally:
        db.close()
    assert {'good-%s-1' % case.name, 'good-%s-2' % case.name} <= ids
    if case.expect == 'store':
        assert message['message_id'] in ids
    for secret in case.secrets:
        assert secret not in dump
