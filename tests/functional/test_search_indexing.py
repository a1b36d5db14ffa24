"""The search-engine stores against the real Elasticsearch and OpenSearch
(tools/test-services.sh): what their index templates and mappings make of
what services send.  What every store does (SQLite too) is the contract's
(test_store_contract.py).

Everything goes through the store's own code (``replay.local_endpoint`` with
the store URL as publisher, or ``storage.get_store(url).write``). Indices are
always addressed by pattern (``<prefix>-<kind>*``): notifications, events,
samples and rejects may live in daily indices.
"""
import collections
import datetime
import json
import pathlib

from nvs_notif import notification
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import storage
from nvs_notif.storage import search_templates
import pytest

from tests.functional.support import store_url

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / 'unit' / 'fixtures' / 'notifications'
KINDS = ('notifications', 'spans', 'events', 'samples', 'rejects')
UTC = datetime.timezone.utc
#: Each engine's mapping type of schemaless objects (payloads, traits).
FLAT_TYPE = {'elasticsearch': 'flattened', 'opensearch': 'flat_object'}


def pattern(prefix, kind):
    return '%s-%s*' % (prefix, kind)


def refresh(es, prefix):
    es.indices.refresh(index='%s-*' % prefix, ignore_unavailable=True, allow_no_indices=True)


# Request bodies as ``body``: the one form both engines' clients take.
def count(es, prefix, kind, query=None):
    refresh(es, prefix)
    return es.count(index=pattern(prefix, kind), body={'query': query} if query else None,
                    ignore_unavailable=True, allow_no_indices=True)['count']


def search(es, prefix, kind, query, size=1000):
    refresh(es, prefix)
    resp = es.search(index=pattern(prefix, kind), body={'query': query, 'size': size},
                     ignore_unavailable=True, allow_no_indices=True)
    return resp['hits']['hits']


def load_fixtures():
    return {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob('*.json'))}


def fixture_priority(message):
    """The dispatched form carries no priority: the agent gives the method name."""
    return 'info' if 'metadata' in message and 'priority' not in message else None


def message(message_id, payload, event_type='compute.instance.update', request_id=None,
            publisher_id='compute.node-1'):
    msg = {'message_id': message_id, 'publisher_id': publisher_id,
           'event_type': event_type, 'priority': 'INFO', 'payload': payload,
           'timestamp': '2024-05-17 06:00:00.000001',
           '_context_project_id': 'p-1', '_context_user_id': 'u-1'}
    if request_id:
        msg['_context_request_id'] = request_id
    return msg


def template_names(es, prefix):
    return {t['name']: t['index_template']
            for t in es.indices.get_index_template()['index_templates']
            if t['name'].startswith(prefix + '-')}


# --- 1. templates -------------------------------------------------------------

def test_templates_installed_once_per_kind_and_reused(engine, search_client, es_prefix,
                                                      monkeypatch):
    url = store_url(engine, es_prefix)
    fixtures = load_fixtures()
    first = notification.normalize(fixtures['legacy_nova_compute_instance_create_start'])
    second = notification.normalize(fixtures['legacy_nova_compute_instance_create_end'])
    assert template_names(search_client, es_prefix) == {}

    store = storage.get_store(url)
    puts = []
    real_put = store.client.indices.put_index_template

    def counting_put(**kwargs):
        puts.append(kwargs['name'])
        return real_put(**kwargs)

    monkeypatch.setattr(store.client.indices, 'put_index_template', counting_put)
    try:
        store.write(storage.Batch(notifications=[first]))
        installed = template_names(search_client, es_prefix)
        expected_names = {'%s-%s' % (es_prefix, kind) for kind in KINDS}
        assert set(installed) == expected_names
        for kind in KINDS:
            body = installed['%s-%s' % (es_prefix, kind)]
            assert body['index_patterns'] == [pattern(es_prefix, kind)]
            # The layout version, on the template and the indices it makes.
            assert body['_meta'] == {'managed_by': 'nvs-notif',
                                     'schema_version': search_templates.VERSION}
            assert body['template']['mappings']['_meta'] == body['_meta']
            assert body['template']['mappings']['dynamic'] in (False, 'false')
        assert sorted(puts) == sorted(expected_names), 'one put per kind on the first write'
        # The same store object writing again does not reinstall.
        store.write(storage.Batch(notifications=[second]))
        assert sorted(puts) == sorted(expected_names)
    finally:
        store.close()

    # A second store (another worker/agent) writing again leaves them as they are.
    other = storage.get_store(url)
    try:
        other.write(storage.Batch(notifications=[first, second]))
    finally:
        other.close()
    assert template_names(search_client, es_prefix) == installed
    assert count(search_client, es_prefix, 'notifications') == 2
    # The indices written got the template's mapping (notifications are not dynamic).
    mappings = search_client.indices.get_mapping(index=pattern(es_prefix, 'notifications'))
    for index_mapping in mappings.values():
        props = index_mapping['mappings']['properties']
        assert props['payload']['type'] == FLAT_TYPE[engine]
        # Dotted names come back as objects.
        assert props['trace']['properties']['id'] == {'type': 'alias',
                                                      'path': 'global_request_id'}


# --- 2. every fixture shape is stored and searchable ----------------------------

ID_FIELDS = ('event_type', 'service', 'host', 'request_id', 'project_id', 'resource_id')


def test_every_fixture_is_stored_and_searchable(engine, search_client, es_prefix):
    fixtures = load_fixtures()
    assert len(fixtures) >= 30
    endpoint = replay.local_endpoint(store_url(engine, es_prefix))
    expected = {}
    for name, msg in fixtures.items():
        prio = fixture_priority(msg)
        expected[name] = notification.normalize(notification.open_envelope(msg), prio)
        assert endpoint.process(prio, [msg]) == 'handled', name
    assert endpoint.stats['rejects'] == 0
    assert endpoint.stats['notifications'] == len(fixtures)
    assert count(search_client, es_prefix, 'notifications') == len(fixtures)
    assert count(search_client, es_prefix, 'rejects') == 0

    misses = []

    def check(name, field, value, message_id):
        hits = search(search_client, es_prefix, 'notifications', {'term': {field: value}})
        if message_id not in {h['_id'] for h in hits}:
            misses.append((name, field, value))

    for name, n in expected.items():
        for field in ID_FIELDS:
            value = getattr(n, field)
            if value is not None:
                check(name, field, value, n.message_id)
        # ECS aliases.
        check(name, 'event.action', n.operation, n.message_id)
        if n.global_request_id:
            check(name, 'trace.id', n.global_request_id, n.message_id)
        if n.fault is not None and n.fault.exception:
            check(name, 'error.type', n.fault.exception, n.message_id)
    assert misses == []
    # The fixtures exercise the aliases at all.
    assert any(n.global_request_id for n in expected.values())
    assert any(n.fault and n.fault.exception for n in expected.values())


# --- 3. mapping conflicts never reject --------------------------------------

def test_payload_type_conflicts_are_all_stored(engine, search_client, es_prefix):
    long_text = 'x' * 40000
    messages = [
        message('m-number', {'size': 1}),
        message('m-string', {'size': 'big'}),
        message('m-object', {'size': {'gb': 1}}),
        message('m-list', {'size': [1, 'two', {'three': 3}]}),
        message('m-dots', {'a.b.c': 'dotted', 'x.y': {'z.w': 2}, 'size.gb': 3}),
        # A string too long to index as one term: Elasticsearch's flattened skips
        # it (ignore_above); OpenSearch's flat_object refuses it, so the store
        # keeps that payload unindexed (documents.UNINDEXED_PAYLOAD).
        message('m-long', {'description': long_text, 'size': 2}),
        # Top-level payload keys named like store fields do not interfere either.
        message('m-shadow', {'timestamp': 'not a date', 'error_code': 'not a number',
                             'message_id': {'nested': True}}),
    ]
    stats = replay.replay(messages, replay.local_endpoint(store_url(engine, es_prefix)))
    assert stats['rejects'] == 0 and stats['requeued'] == 0
    assert count(search_client, es_prefix, 'notifications') == len(messages)
    assert count(search_client, es_prefix, 'rejects') == 0
    hits = {h['_id']: h['_source'] for h in search(
        search_client, es_prefix, 'notifications', {'match_all': {}})}
    assert hits['m-object']['payload']['size'] == {'gb': 1}
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        stored = {d['message_id']: d for d in store.notifications()}
    finally:
        store.close()
    assert stored['m-long']['payload'] == {'description': long_text, 'size': 2}
    # A payload stored unindexed is marked with why, for operators to find.
    refused = search(search_client, es_prefix, 'notifications',
                     {'exists': {'field': 'payload_refused'}})
    assert {h['_id']: h['_source']['payload_refused'] for h in refused} == (
        {'m-long': 'illegal_argument_exception'} if engine == 'opensearch' else {})
    assert 'payload_refused' not in stored['m-long']
    assert stored['m-dots']['payload'] == {'a.b.c': 'dotted', 'x.y': {'z.w': 2}, 'size.gb': 3}
    # Still found by every field but its payload.
    found = search(search_client, es_prefix, 'notifications', {'term': {'message_id': 'm-long'}})
    assert [h['_id'] for h in found] == ['m-long']
    # Flattened payload keys stay searchable, dots and all.
    found = search(search_client, es_prefix, 'notifications', {'term': {'payload.size': 'big'}})
    assert [h['_id'] for h in found] == ['m-string']
    found = search(search_client, es_prefix, 'notifications', {'term': {'payload.a.b.c': 'dotted'}})
    assert [h['_id'] for h in found] == ['m-dots']


def test_payload_stored_but_not_indexed_on_request(engine, search_client, es_prefix):
    """``index_payload=false``: payloads in _source only, extracted fields searchable."""
    messages = [message('m-1', {'size': 1, 'instance_id': 'i-1'}),
                message('m-2', {'size': {'gb': 1}, 'instance_id': 'i-2'})]
    stats = replay.replay(messages, replay.local_endpoint(
        store_url(engine, es_prefix, index_payload='false')))
    assert stats['rejects'] == 0 and stats['requeued'] == 0
    template = search_client.indices.get_index_template(name='%s-notifications' % es_prefix)
    mapping = template['index_templates'][0]['index_template']['template']['mappings']
    assert mapping['properties']['payload'] == {'type': 'object', 'enabled': False}
    hits = {h['_id']: h['_source'] for h in search(
        search_client, es_prefix, 'notifications', {'match_all': {}})}
    assert hits['m-2']['payload'] == {'size': {'gb': 1}, 'instance_id': 'i-2'}
    assert search(search_client, es_prefix, 'notifications', {'term': {'payload.size': 1}}) == []
    found = search(search_client, es_prefix, 'notifications', {'term': {'resource_id': 'i-2'}})
    assert [h['_id'] for h in found] == ['m-2']


def test_deeply_nested_payload_is_stored(engine, search_client, es_prefix):
    deep = leaf = {}
    for _ in range(80):
        leaf['k'] = {}
        leaf = leaf['k']
    leaf['v'] = 1
    stats = replay.replay([message('m-deep', deep), message('m-ok', {'a': 1})],
                          replay.local_endpoint(store_url(engine, es_prefix)))
    assert stats['requeued'] == 0
    # Redaction truncates it below the mapping's depth limit: stored.
    assert count(search_client, es_prefix, 'notifications') == 2
    assert count(search_client, es_prefix, 'rejects') == 0
    assert count(search_client, es_prefix, 'notifications', {'ids': {'values': ['m-ok']}}) == 1


def test_huge_ids_do_not_poison_the_batch(engine, search_client, es_prefix):
    huge = 'r' * 40000
    good = message('m-good', {'instance_id': 'i-1'}, 'compute.instance.create.start',
                   request_id='req-good')
    bad = message('m-huge', {'instance_id': huge, 'host': huge},
                  'compute.instance.create.start', request_id='req-' + huge)
    endpoint = replay.local_endpoint(store_url(engine, es_prefix))
    assert endpoint.process(None, [good, bad]) == 'handled'
    assert count(search_client, es_prefix, 'notifications', {'ids': {'values': ['m-good']}}) == 1
    assert count(search_client, es_prefix, 'spans', {'term': {'request_id': 'req-good'}}) == 1
    assert (count(search_client, es_prefix, 'notifications')
            + count(search_client, es_prefix, 'rejects')) == 2


# --- 4. refused documents are dead-lettered ----------------------------------------

@pytest.mark.parametrize('as_text', [False, True], ids=['dict', 'json-text'])
def test_refused_document_goes_to_rejects_with_reason(engine, search_client, es_prefix, as_text):
    """Sources are dicts (events, samples) or JSON text (notifications)."""
    store = storage.get_store(store_url(engine, es_prefix))
    source = json.dumps if as_text else (lambda doc: doc)
    try:
        store._prepare()
        index = '%s-notifications-x' % es_prefix
        search_client.indices.create(index=index, body={'mappings': {
            'properties': {'timestamp': {'type': 'date'}}}})
        bad = {'message_id': 'bad-1', 'timestamp': 'not a date', 'event_type': 'x.start'}
        good = {'message_id': 'good-1', 'timestamp': '2024-05-17T06:00:00+00:00',
                'event_type': 'x.end'}
        conflicts, duplicates = store.writer.bulk_or_dead_letter([
            {'_op_type': 'create', '_index': index, '_id': 'bad-1', '_source': source(bad)},
            {'_op_type': 'create', '_index': index, '_id': 'good-1', '_source': source(good)}])
        assert conflicts == set() and duplicates == 0
        assert store.count('rejects') == 1
    finally:
        store.close()
    refresh(search_client, es_prefix)
    assert search_client.count(index=index)['count'] == 1
    assert search_client.exists(index=index, id='good-1')
    rejects = search(search_client, es_prefix, 'rejects', {'match_all': {}})
    assert len(rejects) == 1
    doc = rejects[0]['_source']
    assert index in doc['reason']
    assert 'timestamp' in doc['reason'] and 'parse' in doc['reason']
    assert json.loads(doc['raw']) == bad
    assert doc['received']
    # The reason is searchable.
    assert len(search(search_client, es_prefix, 'rejects', {'match': {'reason': 'timestamp'}})) == 1


# --- 5. indices of earlier layouts ------------------------------------------------

def test_store_over_indices_of_the_single_index_layout(engine, search_client, es_prefix):
    """Early releases kept each kind in one plain index (``<prefix>-notifications``...)
    where the read alias of its daily indices now belongs: the store adopts
    their documents into daily indices behind an alias of that name, and no
    batch is requeued."""
    from nvs_notif.storage import documents

    old = notification.normalize(message('m-0', {'a': 0}, 'compute.instance.delete.error',
                                         request_id='req-0'))
    old_doc = documents.notification_doc(old)
    del old_doc['error_key']
    plain = {'notifications': ('m-0', old_doc),
             'rejects': ('r-0', {'raw': 'x', 'reason': 'old', 'received': '2024-05-17T06:00:00'}),
             'events': ('e-0', {'message_id': 'e-0', 'event_type': 'x',
                                'generated': '2024-05-17T06:00:00', 'traits': {'a': 1}})}
    for kind, (doc_id, doc) in plain.items():
        search_client.index(index='%s-%s' % (es_prefix, kind), id=doc_id, body=doc,
                            refresh=True)
    stats = replay.replay(['not json', message('m-1', {'a': 1})],
                          replay.local_endpoint(store_url(engine, es_prefix)))
    assert stats['requeued'] == 0
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        assert {d['message_id'] for d in store.notifications()} == {'m-0', 'm-1'}
        assert list(store.notifications(message_id='m-0')) == [documents.notification_doc(old)]
        assert {kind: store.count(kind) for kind in plain} == {
            'notifications': 2, 'rejects': 2, 'events': 1}
    finally:
        store.close()
    for kind in plain:
        name = '%s-%s' % (es_prefix, kind)
        assert search_client.indices.exists_alias(name=name)
        assert all(index.startswith(name + '-')
                   for index in search_client.indices.get_alias(name=name))


# --- derived fields the stores aggregate on -------------------------------------

def test_derived_span_and_error_fields_are_searchable(engine, search_client, es_prefix):
    """What store-side answers group and filter on (finished, error_key,
    rescheduled, attempts, open_since, status; the notifications' error_key)
    agrees with the Python spans it is derived from."""
    from nvs_notif import faults
    from nvs_notif import spans as spans_mod
    from tests.functional.support import store_url

    sim = [notification.normalize(s.to_message()) for s in simulate.simulate(3000, seed=11)]
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        store.write(storage.Batch(sim, [f for n in sim for f in spans_mod.fragments(n)]))
        spans = store.spans()
    finally:
        store.close()
    index = '%s-spans' % es_prefix
    search_client.indices.refresh(index=index)

    def terms(field, query=None, kind='spans'):
        name = index if kind == 'spans' else pattern(es_prefix, kind)
        body = {'size': 0, 'query': query or {'match_all': {}},
                'aggs': {'k': {'terms': {'field': field, 'size': 1000}}}}
        if kind != 'spans':
            search_client.indices.refresh(index=name)
        resp = search_client.search(index=name, body=body)
        return {b.get('key_as_string', b['key']): b['doc_count']
                for b in resp['aggregations']['k']['buckets']}

    failed = [s for s in spans if s.status == 'failure']
    assert terms('error_key', {'term': {'status': 'failure'}}) == dict(
        collections.Counter(faults.fault_name(s.fault) for s in failed
                            if faults.fault_name(s.fault)))
    assert terms('rescheduled').get('true', 0) == sum(s.rescheduled for s in spans) > 0
    assert terms('attempts') == dict(collections.Counter(s.attempts for s in spans))
    middle = sorted(s.finished for s in spans if s.finished)[len(spans) // 2]
    finished_after = {'range': {'finished': {'gte': middle.isoformat()}}}
    assert sum(terms('status', finished_after).values()) == sum(
        1 for s in spans if s.finished and s.finished >= middle)
    assert sum(terms('status', {'exists': {'field': 'open_since'}}).values()) == sum(
        1 for s in spans if s.open_since) > 0
    errors = [n for n in sim if n.fault is not None]
    assert terms('error_key', kind='notifications') == dict(
        collections.Counter(faults.fault_name(n.fault) for n in errors
                            if faults.fault_name(n.fault)))
