"""The queries behind the shipped dashboards run against the real engines
(Kibana's on Elasticsearch, OpenSearch Dashboards' on OpenSearch).

A simulated cloud (plus one unparseable message, so the rejects alias exists)
is replayed into a fresh prefix; every search and visualization of
``with_prefix(objects, prefix)`` is sent as the query and aggregations it
implies, through the same aliases Kibana would read.
"""
import collections
import copy

import pytest

from nvs_notif import kibana
from nvs_notif import replay
from nvs_notif import simulate
from tests import saved_objects
from tests.functional.cli import run
from tests.functional.support import store_url


def _first_buckets(aggs, result):
    name = next(iter(aggs))
    return result['aggregations'][name].get('buckets')


@pytest.mark.timeout(600)
@pytest.mark.parametrize('engine, server', [
    ('elasticsearch', kibana.KIBANA), ('opensearch', kibana.OPENSEARCH_DASHBOARDS)])
def test_every_dashboard_query_runs_and_finds_data(engine, server, search_client, es_prefix):
    """Kibana's objects on Elasticsearch, OpenSearch Dashboards' on OpenSearch."""
    endpoint = replay.local_endpoint(store_url(engine, es_prefix))
    messages = [s.to_message() for s in simulate.simulate(1500, seed=2)]
    messages.append('this is not a notification')
    replay.replay(messages, endpoint)
    replay.local_store(endpoint).close()
    search_client.indices.refresh(index='%s-*' % es_prefix)

    objects = kibana.with_prefix(kibana.load(server.file), es_prefix)
    qs = saved_objects.queries(objects)
    assert len(qs) >= 10
    views = {o['attributes']['title'] for o in objects if o['type'] == 'index-pattern'}
    assert views == {'%s-%s' % (es_prefix, k) for k in ('notifications', 'spans', 'rejects')}
    for view in views:   # the data view titles name existing aliases/indices
        assert search_client.indices.exists(index=view), view
    for q in qs:
        body = {'query': q['query'], 'size': 5, 'track_total_hits': True}
        if q['aggs']:
            body['aggs'] = q['aggs']
        if q['sort']:
            body['sort'] = q['sort']
        result = search_client.search(index=q['index'], body=body)
        assert result['hits']['total']['value'] > 0, q['title']
        if q['aggs']:
            buckets = _first_buckets(q['aggs'], result)
            assert buckets is None or len(buckets) > 0, q['title']
        if q['columns']:
            for hit in result['hits']['hits']:
                assert set(q['columns']) <= set(hit['_source']), q['title']
        if q['sort']:
            field = next(iter(q['sort'][0]))
            values = [h['sort'][0] for h in result['hits']['hits']]
            asc = q['sort'][0][field]['order'] == 'asc'
            assert values == sorted(values, reverse=not asc), q['title']


def test_ecs_aliases_usable_in_kibana_queries(engine, search_client, es_prefix):
    endpoint = replay.local_endpoint(store_url(engine, es_prefix))
    replay.replay((s.to_message() for s in simulate.simulate(300, seed=2)), endpoint)
    replay.local_store(endpoint).close()
    search_client.indices.refresh(index='%s-*' % es_prefix)
    source = {'query': {'query': 'event.action:* and not error.type:*', 'language': 'kuery'}}
    query = saved_objects.es_query(source)
    result = search_client.search(index='%s-spans' % es_prefix, body={
        'query': query, 'size': 0, 'track_total_hits': True})
    assert result['hits']['total']['value'] > 0


def _error_notification(n, event_type, publisher_id, payload, request_id):
    """An ERROR notification with no start before it, in the v1 body."""
    return {'message_id': 'kibana-nostart-%d' % n, 'event_type': event_type,
            'publisher_id': publisher_id, 'priority': 'ERROR',
            'timestamp': '2024-07-01 09:00:%02d.000000' % n, 'payload': payload,
            '_context_request_id': request_id, '_context_project_id': 'p-1',
            '_context_user_id': 'u-1'}


# Failures reported without any start: nova's conductor reports NoValidHost
# for scheduler.select_destinations (nova/conductor/manager.py,
# _set_vm_state_and_notify), cinder's scheduler its NoValidBackend for the
# volume create (cinder/scheduler/manager.py, _set_volume_state_and_notify).
START_LESS_FAILURES = [
    _error_notification(1, 'compute_task.build_instances', 'conductor.ctl-2', {
        'instance_id': '9c8b7a6f-5e4d-4c3b-8a29-1f0e00000006', 'state': 'error',
        'vm_state': 'error', 'method': 'build_instances', 'request_spec': {},
        'reason': "NoValidHost('No valid host was found. There are not enough hosts "
                  "available.')"}, 'req-kibana-no-host-000000000000000000'),
    _error_notification(2, 'scheduler.create_volume', 'scheduler.sched-1', {
        'volume_id': 'v-9', 'state': 'error', 'method': 'create_volume', 'request_spec': {},
        'reason': "NoValidBackend('No valid backend was found. No weighed backends "
                  "available')"}, 'req-kibana-no-backend-0000000000000000'),
]


@pytest.mark.parametrize('engine, server', [
    ('elasticsearch', kibana.KIBANA), ('opensearch', kibana.OPENSEARCH_DASHBOARDS)])
def test_start_less_failures_counted_like_the_cli_errors(engine, server, search_client,
                                                          es_prefix):
    """The failure panel, under a dashboard time range, counts what ``errors`` counts."""
    url = store_url(engine, es_prefix)
    endpoint = replay.local_endpoint(url)
    messages = [s.to_message() for s in simulate.simulate(300, seed=5)]
    replay.replay(messages + START_LESS_FAILURES, endpoint)
    replay.local_store(endpoint).close()
    search_client.indices.refresh(index='%s-*' % es_prefix)

    cli = collections.Counter()
    for row in run(url, 'errors'):
        if row['source'] == 'span':
            cli[row['exception']] += row['count']
    assert cli['NoValidHost'] == 1 and cli['NoValidBackend'] == 1, cli

    objects = kibana.with_prefix(kibana.load(server.file), es_prefix)
    view = next(o for o in objects if o['id'] == '%s-spans' % es_prefix)
    time_field = view['attributes']['timeFieldName']
    failures, = [q for q in saved_objects.queries(objects) if q['title'].endswith(
        'failures by operation and exception')]
    # What Kibana adds for the dashboard's time picker: a range on the data view's time field.
    query = copy.deepcopy(failures['query'])
    query['bool']['filter'].append({'range': {time_field: {
        'gte': '2000-01-01T00:00:00Z', 'lte': 'now+1d'}}})
    result = search_client.search(index=failures['index'], body={
        'query': query, 'aggs': failures['aggs'], 'size': 0, 'track_total_hits': True})
    panel = collections.Counter()
    for operation in _first_buckets(failures['aggs'], result):
        for exception in operation['3']['buckets']:
            panel[exception['key']] += exception['doc_count']
    assert result['hits']['total']['value'] == sum(panel.values()) == sum(cli.values())
    # errors names a failure without an exception class by its masked message;
    # the panel has it under Kibana's missing bucket.
    named = {k: n for k, n in cli.items() if k in panel}
    unnamed = sum(n for k, n in cli.items() if k not in panel)
    assert panel == collections.Counter(named, **{saved_objects.MISSING_BUCKET: unnamed}) + \
        collections.Counter()   # (+ drops a zero missing bucket)
