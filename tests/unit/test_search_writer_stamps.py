"""The search writer stamps a notification as the request holding it goes
out, and again when the engine refused it with 429 and it is sent later: the
hub's tail never reads behind a stamp it passed (Store.ingested)."""
import datetime
import itertools
import json
import types

from nvs_notif.storage import documents
from nvs_notif.storage import search_writer


class BusyEngine:
    """An engine whose bulk refuses each document ``busy`` times with 429."""

    name = 'fake'

    def __init__(self, busy):
        self.busy = dict(busy)
        self.sent = []          # (id, ingested) per document sent
        self.client = object()
        self.helpers = types.SimpleNamespace(streaming_bulk=self.streaming_bulk)

    def streaming_bulk(self, client, actions, max_retries, **kw):
        assert max_retries == 0     # the writer retries, restamping
        for action in actions:
            doc_id, source = action['_id'], action['_source']
            self.sent.append((doc_id, json.loads(source).get(documents.INGESTED)))
            refused = self.busy.get(doc_id, 0) > 0
            self.busy[doc_id] = self.busy.get(doc_id, 0) - 1
            status = 429 if refused else 201
            yield not refused, {'create': {'_index': 'nvs-notifications-x', '_id': doc_id,
                                           'status': status}}


def writer(engine, monkeypatch, slept):
    """A writer to ``engine`` whose clock ticks a second per reading and
    whose back-off sleeps are noted in ``slept``."""
    start, ticks = datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc), itertools.count()
    monkeypatch.setattr(search_writer.timeutil, 'utcnow',
                        lambda: start + datetime.timedelta(seconds=next(ticks)))
    monkeypatch.setattr(search_writer.time, 'sleep', slept.append)
    return search_writer.SearchWriter(engine, layout=None)


def action(doc_id, source):
    return {'_op_type': 'create', '_index': 'nvs-notifications-x', '_id': doc_id,
            '_source': source}


def test_a_notification_refused_with_429_is_stamped_again_when_sent_again(monkeypatch):
    engine, slept = BusyEngine({'b': 2}), []
    results = list(writer(engine, monkeypatch, slept).bulk(
        [action('a', documents.Unstamped('{"message_id":"a"}')),
         action('b', documents.Unstamped('{"message_id":"b"}')),
         action('c', '{"message_id":"c"}')]))
    assert [(ok, item['_id'], item['status']) for ok, op, item in results] == [
        (True, 'a', 201), (True, 'c', 201), (True, 'b', 201)]
    stamps = [stamp for doc_id, stamp in engine.sent if doc_id == 'b']
    assert stamps == ['2026-12-06T00:00:01.000000Z', '2026-12-06T00:00:02.000000Z',
                      '2026-12-06T00:00:03.000000Z']
    assert [doc_id for doc_id, stamp in engine.sent if stamp is None] == ['c']
    assert slept == [1.0, 2.0]


def test_a_document_still_refused_after_the_retries_is_yielded_refused(monkeypatch):
    engine, slept = BusyEngine({'a': 99}), []
    results = list(writer(engine, monkeypatch, slept).bulk(
        [action('a', documents.Unstamped('{"message_id":"a"}'))]))
    assert [(ok, item['status']) for ok, op, item in results] == [(False, 429)]
    assert len(engine.sent) == search_writer._RETRIES_429 + 1
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]
