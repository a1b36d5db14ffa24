"""The stock event pipeline publishes to elasticsearch:// and opensearch:// in a real agent."""
import uuid

from tests.functional.support import es_count, store_url, wait_for


def test_stock_event_pipeline_sink_with_a_search_engine_publisher(
        agent_factory, sender, engine, search_client, es_prefix):
    es_client = search_client
    agent = agent_factory([], pipelines=('event',),
                          event_publishers=[store_url(engine, es_prefix)])
    sent = []
    for i in range(6):
        ctxt = {'request_id': 'req-%s' % uuid.uuid4(), 'project_id': 'p-stock',
                'user_id': 'u-stock'}
        payload = {'instance_id': 'inst-%d' % i, 'tenant_id': 'p-stock', 'state': 'active',
                   'admin_password': 'STOCK-SECRET-%d' % i}
        sender.send('nova', 'compute.host-%d' % i, 'INFO', 'compute.instance.create.end',
                    payload, ctxt)
        sent.append(ctxt['request_id'])
    alias = '%s-events' % es_prefix

    wait_for(lambda: es_count(es_client, alias) >= 6, timeout=90, what='6 events in ' + engine)
    assert es_count(es_client, alias) == 6
    hits = es_client.search(index=alias, body={'size': 10})['hits']['hits']
    docs = [h['_source'] for h in hits]
    assert {d['event_type'] for d in docs} == {'compute.instance.create.end'}
    # traits from ceilometer's event definitions, searchable by name
    assert {d['traits']['instance_id'] for d in docs} == {'inst-%d' % i for i in range(6)}
    found = es_client.search(index=alias, body={'query': {'term': {'traits.instance_id': 'inst-3'}}})
    assert found['hits']['total']['value'] == 1
    assert 'STOCK-SECRET' not in str(docs)
    assert agent.tracebacks() == []
    assert 'STOCK-SECRET' not in agent.log_text()
