"""The whole path is real: oslo.messaging Notifier -> RabbitMQ -> ceilometer agent ->
Elasticsearch or OpenSearch."""
import json
import time
import uuid

from nvs_notif import storage
from tests.functional.cli import run_text_err
from tests.functional.support import es_count, scan_sources, store_url, wait_for


def test_notifications_reach_the_search_engine_through_the_agent(
        agent_factory, sender, engine, search_client, es_prefix):
    agent = agent_factory([store_url(engine, es_prefix)], extra_conf='stats_interval = 1\n')
    request_ids = []
    for i in range(5):
        req = 'req-%s' % uuid.uuid4()
        request_ids.append(req)
        ctxt = {'request_id': req, 'project_id': 'p-smoke', 'user_id': 'u-smoke',
                'auth_token': 'SECRET-TOKEN-%d' % i}
        payload = {'instance_id': 'inst-%d' % i, 'tenant_id': 'p-smoke', 'state': 'building'}
        sender.send('nova', 'compute.host-%d' % i, 'INFO',
                    'compute.instance.create.start', payload, ctxt)
        sender.send('nova', 'compute.host-%d' % i, 'INFO',
                    'compute.instance.create.end', dict(payload, state='active'), ctxt)

    index = '%s-notifications' % es_prefix

    assert wait_for(lambda: es_count(search_client, index) >= 10, timeout=90,
                    what='10 notifications in %s' % engine)
    assert es_count(search_client, index) == 10
    hits = search_client.search(index=index, body={'query': {'term': {'request_id': request_ids[0]}}})
    docs = [h['_source'] for h in hits['hits']['hits']]
    assert sorted(d['phase'] for d in docs) == ['end', 'start']
    assert {d['host'] for d in docs} == {'host-0'}
    assert {d['service'] for d in docs} == {'nova'}

    spans = '%s-spans' % es_prefix
    wait_for(lambda: search_client.indices.exists(index=spans), timeout=30, what='span index')
    search_client.indices.refresh(index=spans)
    span_hits = search_client.search(index=spans,
                                     body={'query': {'term': {'request_id': request_ids[0]}}})
    (span,) = [h['_source'] for h in span_hits['hits']['hits']]
    assert span['operation'] == 'compute.instance.create'
    assert span['status'] == 'success' and span['duration'] is not None

    # The auth token of the context reaches neither the store nor the log.
    search_client.indices.refresh(index='%s-*' % es_prefix)
    everything = json.dumps(scan_sources(search_client, '%s-*' % es_prefix))
    assert request_ids[0] in everything
    assert 'SECRET-TOKEN' not in everything
    assert 'SECRET-TOKEN' not in agent.log_text()
    assert agent.tracebacks() == []
    assert agent.proc.poll() is None, 'agent exited'
    assert 'rabbit_qos_prefetch_count' not in agent.log_text()   # 4 x batch_size

    # One more, over a second after any counter line: the agent logs its counters.
    time.sleep(1.1)
    sender.send('nova', 'compute.host-0', 'INFO', 'compute.instance.exists',
                {'instance_id': 'inst-0'}, {'request_id': request_ids[0]})
    wait_for(lambda: 'since start: 11 notifications, 0 rejects, 0 duplicates' in agent.log_text(),
             timeout=60, what='the counter line of the 11th notification')


def test_agent_warns_when_rabbit_prefetch_cuts_its_batches(agent_factory, sender, tmp_path):
    """ceilometer's prefetch default (100) with batch_size = 500: the real agent
    logs the warning once, at its first batch (the driver's options exist by
    then), and not again at the next."""
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    agent = agent_factory([url], batch_size=500,
                          extra_conf='[oslo_messaging_rabbit]\nrabbit_qos_prefetch_count = 100\n')
    store = storage.get_store(url)
    try:
        for i in (1, 2):        # two batches: batch_timeout (1 s) ends each
            sender.send('nova', 'compute.host-1', 'INFO', 'compute.instance.exists',
                        {'instance_id': 'inst-%d' % i}, {'request_id': 'req-prefetch-%d' % i})
            wait_for(lambda: store.count('notifications') == i, timeout=60,
                     what='notification %d stored' % i)
    finally:
        store.close()
    assert agent.log_text().count('rabbit_qos_prefetch_count = 100 holds the agent back') == 1
    assert agent.tracebacks() == []


def test_cli_prints_no_http_request_lines(engine, es_prefix):
    """A replay into a search engine sends many requests; the terminal gets
    none of the HTTP client's INFO lines (``-v`` is cliff's default level)."""
    code, out, err = run_text_err(store_url(engine, es_prefix), 'replay', '--simulate', '200')
    assert code == 0, err
    assert 'elastic_transport' not in err and '_bulk' not in err and 'HTTP' not in err, err
    store = storage.get_store(store_url(engine, es_prefix))
    try:
        assert store.count('notifications') == 200
    finally:
        store.close()
