"""The reconciler finds what a store lost, and passes a store that has it all.

Records come from tools/loadgen.py's real publishing path on oslo.messaging's
in-memory ``fake://`` transport; the store is fed by the nvs endpoint in-process.
"""
import pytest

from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import storage
from tools import loadgen
from tools import reconcile


@pytest.fixture(scope='module')
def records():
    publisher = loadgen.Publisher('fake://', loadgen.topic_map('t', 't-v'))
    try:
        report = loadgen.run(list(simulate.simulate(400, seed=5)),
                             publisher_factory=lambda: publisher)
    finally:
        publisher.close()
    assert report.failed == 0
    return report.sent


def _store(tmp_path, records):
    url = 'sqlite:///%s' % (tmp_path / 'r.db')
    endpoint = replay.local_endpoint(url)
    for record in records:
        getattr(endpoint, record.priority)([record.message])
    return storage.get_store(url)


def test_records_carry_oslo_ids_topics_and_exchanges(records):
    assert len({r.message_id for r in records}) == 400
    assert {r.topic for r in records} == {'t', 't-v'}
    assert {'nova', 'cinder', 'glance', 'neutron', 'keystone'} <= {r.exchange for r in records}


def test_complete_store_reconciles(tmp_path, records):
    # Delivered twice, as after a requeue: still exactly once.
    store = _store(tmp_path, records + records[:50])
    result = reconcile.reconcile(records, store)
    assert result.ok, result.summary()
    assert result.sent == result.stored == 400 and result.spans_expected > 50


def test_lost_notification_and_its_span_are_found(tmp_path, records):
    start = next(r for r in records if r.message['event_type'].endswith('.start'))
    store = _store(tmp_path, [r for r in records if r is not start])
    result = reconcile.reconcile(records, store)
    assert not result.ok
    assert result.missing == [start.message_id]
    assert result.spans_missing or result.spans_wrong


def test_unexpected_notifications_count_unless_shared(tmp_path, records):
    store = _store(tmp_path, records)
    assert reconcile.reconcile(records[:300], store).unexpected
    assert reconcile.reconcile(records[:300], store, shared=True).unexpected == []
