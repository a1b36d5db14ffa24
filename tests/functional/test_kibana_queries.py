"""The queries behind the shipped Kibana objects run against the real Elasticsearch.

A simulated cloud (plus one unparseable message, so the rejects alias exists)
is replayed into a fresh prefix; every search and visualization of
``with_prefix(objects, prefix)`` is sent as the query and aggregations it
implies, through the same aliases Kibana would read.
"""
import pytest

from nvs_notif import kibana
from nvs_notif import replay
from nvs_notif import simulate
from tests.functional.support import es_store_url


def _first_buckets(aggs, result):
    name = next(iter(aggs))
    return result['aggregations'][name].get('buckets')


@pytest.mark.timeout(600)
def test_every_kibana_query_runs_and_finds_data(es_client, es_prefix):
    endpoint = replay.local_endpoint(es_store_url(es_prefix))
    messages = [s.to_message() for s in simulate.simulate(1500, seed=2)]
    messages.append('this is not a notification')
    replay.replay(messages, endpoint)
    replay.local_store(endpoint).close()
    es_client.indices.refresh(index='%s-*' % es_prefix)

    objects = kibana.with_prefix(kibana.load(), es_prefix)
    qs = kibana.queries(objects)
    assert len(qs) >= 10
    views = {o['attributes']['title'] for o in objects if o['type'] == 'index-pattern'}
    assert views == {'%s-%s' % (es_prefix, k) for k in ('notifications', 'spans', 'rejects')}
    for view in views:   # the data view titles name existing aliases/indices
        assert es_client.indices.exists(index=view), view
    for q in qs:
        body = {'query': q['query'], 'size': 5, 'track_total_hits': True}
        if q['aggs']:
            body['aggs'] = q['aggs']
        if q['sort']:
            body['sort'] = q['sort']
        result = es_client.search(index=q['index'], **body)
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


def test_ecs_aliases_usable_in_kibana_queries(es_client, es_prefix):
    endpoint = replay.local_endpoint(es_store_url(es_prefix))
    replay.replay((s.to_message() for s in simulate.simulate(300, seed=2)), endpoint)
    replay.local_store(endpoint).close()
    es_client.indices.refresh(index='%s-*' % es_prefix)
    source = {'query': {'query': 'event.action:* and not error.type:*', 'language': 'kuery'}}
    query = kibana._es_query(source)
    result = es_client.search(index='%s-spans' % es_prefix, query=query, size=0,
                              track_total_hits=True)
    assert result['hits']['total']['value'] > 0
