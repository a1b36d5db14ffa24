"""Indices made by earlier releases, opened by this one (Elasticsearch and
OpenSearch, the real servers of tools/test-services.sh).

Indices are made exactly as the previous release (267924d) made them: its
templates (``fixtures/search-templates-267924d.json``, without a layout
version) and its documents (this release's without the fields derived since).
A store opened over them must upgrade them (``nvs_notif.storage.search_upgrade``)
and answer exactly as a store written fresh with the same notifications.
"""
import datetime
import json
import logging
import pathlib
import threading
import uuid

from elasticsearch import helpers as es_helpers
import opensearchpy
from opensearchpy import helpers as os_helpers
import pytest

from nvs_notif import notification
from nvs_notif import simulate
from nvs_notif import spans as spans_mod
from nvs_notif import storage
from nvs_notif.storage import documents
from nvs_notif.storage import search
from nvs_notif.storage import search_templates
from nvs_notif.storage import search_upgrade
from tests.functional.support import delete_prefix, store_url

OLD_TEMPLATES = pathlib.Path(__file__).parent / 'fixtures' / 'search-templates-267924d.json'
#: What the previous release's documents lacked: the fields derived since.
ADDED_SINCE = {'notifications': ('error_key',),
               'spans': ('error_key', 'finished', 'open_since', 'rescheduled'),
               'rejects': ('reject_id',)}
#: The engines' flat types, as the previous release mapped them.
OLD_FLAT = {'elasticsearch': {'type': 'flattened', 'depth_limit': 128, 'ignore_above': 2048},
            'opensearch': {'type': 'flat_object'}}
UTC = datetime.timezone.utc


def helpers_of(client):
    return os_helpers if isinstance(client, opensearchpy.OpenSearch) else es_helpers


def old_template(engine, prefix, kind):
    """The previous release's template of ``kind``: its objects flat as the engine's."""
    text = json.dumps(json.loads(OLD_TEMPLATES.read_text())[kind])
    return json.loads(text.replace('PREFIX', prefix).replace(
        json.dumps({'type': 'flat'}), json.dumps(OLD_FLAT[engine])))


def install_old_templates(client, engine, prefix):
    for kind in ('notifications', 'spans', 'events', 'samples', 'rejects'):
        client.indices.put_index_template(name='%s-%s' % (prefix, kind),
                                          body=old_template(engine, prefix, kind))


def old_doc(kind, doc):
    for name in ADDED_SINCE.get(kind, ()):
        del doc[name]
    return doc


def simulated_batch(count=600, seed=14):
    notes = [notification.normalize(s.to_message()) for s in simulate.simulate(count, seed=seed)]
    reject = storage.Reject('"not a notification"', 'message is a str, not a dict',
                            notes[0].timestamp)
    return storage.Batch(notes, [f for n in notes for f in spans_mod.fragments(n)], [reject])


def write_as_the_previous_release(client, engine, prefix, batch):
    """``batch`` in indices made by the previous release's templates, with its documents."""
    install_old_templates(client, engine, prefix)
    layout = search.IndexLayout(prefix)
    actions = [{'_op_type': 'create', '_index': layout.index('notifications', n.timestamp),
                '_id': n.message_id,
                '_source': old_doc('notifications', documents.notification_doc(n))}
               for n in batch.notifications]
    actions += [{'_op_type': 'create', '_index': layout.index('spans'), '_id': span_id,
                 '_source': old_doc('spans', documents.span_doc(span))}
                for span_id, span in spans_mod.merge_all(batch.fragments).items()]
    actions += [{'_op_type': 'create', '_index': layout.index('rejects', r.received),
                 '_id': documents.reject_id(r), '_source': old_doc('rejects', documents.reject_doc(r))}
                for r in batch.rejects]
    ok, errors = helpers_of(client).bulk(client, actions, refresh=True)
    assert ok == len(actions) and not errors


def answers(store, batch):
    """What the CLI and the API ask a store, over ``batch``'s time."""
    times = [n.timestamp for n in batch.notifications]
    now = max(times) + datetime.timedelta(minutes=30)
    policy = spans_mod.StuckPolicy.of(600)
    since, until = min(times), max(times) + datetime.timedelta(seconds=1)
    return {
        'counts': {kind: store.count(kind) for kind in
                   ('notifications', 'spans', 'events', 'samples', 'rejects')},
        'spans': {s.span_id: s for s in store.spans()},
        'notifications': sorted(store.notifications(), key=lambda d: d['message_id']),
        'sla': store.sla(), 'sla by host': store.sla(group_by='host'),
        'breakdown': store.breakdown('compute.instance.create'),
        'summary': store.span_summary(now, policy),
        'stuck': sorted(s.span_id for s in store.stuck_spans(now, policy)),
        'top failures': store.top_failures(),
        'errors': store.error_groups(),
        'hosts': store.host_activity(since, until),
        'latest': store.latest_time(),
        'finished spans': store.finished_spans(1000),
    }


@pytest.fixture(scope='module')
def fresh_stores(es_client, os_client):
    """``{engine: answers}`` of stores written fresh with the simulated
    notifications, each written once per module."""
    found, prefixes = {}, []
    yield found, prefixes
    for prefix in prefixes:
        for client in (es_client, os_client):
            delete_prefix(client, prefix)


@pytest.fixture
def fresh_answers(engine, fresh_stores):
    """Answers of a store of ``engine`` written fresh with the simulated notifications."""
    found, prefixes = fresh_stores
    if engine not in found:
        prefixes.append('nvs-test-%s' % uuid.uuid4().hex[:10])
        batch = simulated_batch()
        store = storage.get_store(store_url(engine, prefixes[-1]))
        try:
            store.write(batch)
            found[engine] = answers(store, batch)
        finally:
            store.close()
    return found[engine]


def versions(client, prefix):
    mappings = client.indices.get_mapping(index='%s-*' % prefix)
    return ({kind: v for kind, v in search_upgrade.template_versions(client, prefix).items()},
            {name: search_templates.version(m['mappings'].get('_meta'))
             for name, m in mappings.items() if not name.endswith('-upgrade-lock')})


def test_indices_of_the_previous_release_are_upgraded_on_open(
        engine, search_client, es_prefix, fresh_answers, caplog):
    batch = simulated_batch()
    write_as_the_previous_release(search_client, engine, es_prefix, batch)
    assert set(versions(search_client, es_prefix)[0].values()) == {0}
    caplog.set_level(logging.INFO, logger='nvs_notif.storage.search_upgrade')
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        found = answers(store, batch)
    finally:
        store.close()
    assert found == fresh_answers
    assert found['errors'] and found['top failures'] and found['stuck']
    assert any(s.rescheduled for s in found['spans'].values())
    templates, indices = versions(search_client, es_prefix)
    assert set(templates.values()) == {search_templates.VERSION}
    assert set(indices.values()) == {search_templates.VERSION}
    upgraded = [r.getMessage() for r in caplog.records if 'upgraded to layout' in r.getMessage()]
    assert len(upgraded) == len(indices)
    # The derived fields are in the documents, searchable.
    spans_index = '%s-spans' % es_prefix
    search_client.indices.refresh(index=spans_index)
    assert search_client.count(index=spans_index, body={'query': {'exists': {
        'field': 'finished'}}})['count'] == sum(1 for s in found['spans'].values() if s.finished)
    # Opening it again finds nothing to do.
    caplog.clear()
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        assert store.count('spans') == len(found['spans'])
    finally:
        store.close()
    assert not [r for r in caplog.records if 'upgraded' in r.getMessage()]


def _open_and_answer(url, batch, results):
    store = storage.get_store(url)
    try:
        results.append(answers(store, batch))
    finally:
        store.close()


def test_stores_opening_old_indices_at_once_upgrade_them_once(
        engine, search_client, es_prefix, fresh_answers, caplog):
    batch = simulated_batch()
    write_as_the_previous_release(search_client, engine, es_prefix, batch)
    caplog.set_level(logging.INFO, logger='nvs_notif.storage.search_upgrade')
    results = []
    threads = [threading.Thread(target=_open_and_answer,
                                args=(store_url(engine, es_prefix), batch, results))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert results == [fresh_answers] * 4
    upgraded = [r.getMessage().split()[1] for r in caplog.records
                if 'upgraded to layout' in r.getMessage()]
    assert sorted(upgraded) == sorted(set(upgraded)) and len(upgraded) == len(
        versions(search_client, es_prefix)[1])


def test_a_lock_left_by_a_dead_upgrade_is_taken_over(engine, search_client, es_prefix,
                                                     fresh_answers, caplog):
    batch = simulated_batch()
    write_as_the_previous_release(search_client, engine, es_prefix, batch)
    dead = datetime.datetime.now(UTC) - datetime.timedelta(seconds=search_upgrade.LEASE + 5)
    search_client.index(index=search_upgrade.lock_index(es_prefix), id='upgrade',
                        body={'holder': 'dead-host:1:x', 'renewed': dead.isoformat()})
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        assert answers(store, batch) == fresh_answers
    finally:
        store.close()
    assert 'taking over the upgrade lock' in caplog.text and 'dead-host:1:x' in caplog.text


def test_a_store_waits_for_a_live_upgrade_then_gives_up(engine, search_client, es_prefix,
                                                        monkeypatch):
    write_as_the_previous_release(search_client, engine, es_prefix, simulated_batch(50))
    now = datetime.datetime.now(UTC)
    search_client.index(index=search_upgrade.lock_index(es_prefix), id='upgrade',
                        body={'holder': 'busy-host:2:y', 'renewed': now.isoformat()})
    monkeypatch.setattr(search_upgrade, 'WAIT_LIMIT', 2)
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        with pytest.raises(storage.StoreError, match='being upgraded by busy-host:2:y'):
            store.count('spans')
    finally:
        store.close()
    assert set(versions(search_client, es_prefix)[0].values()) == {0}


def test_indices_of_a_newer_release_are_refused(engine, search_client, es_prefix):
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        store.write(simulated_batch(20))
    finally:
        store.close()
    name = '%s-spans' % es_prefix
    body = search_templates.template_body(es_prefix, 'spans', OLD_FLAT[engine])
    body['_meta'] = dict(body['_meta'], schema_version=search_templates.VERSION + 1)
    search_client.indices.put_index_template(name=name, body=body)
    for operation in (lambda s: s.count('spans'), lambda s: s.write(simulated_batch(20))):
        store = storage.get_store(store_url(engine, es_prefix))
        try:
            with pytest.raises(storage.StoreError, match='newer than this release reads'):
                operation(store)
        finally:
            store.close()
