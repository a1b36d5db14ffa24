"""The search engine (Elasticsearch, OpenSearch) down longer than the retry budget:
nothing lost, nothing doubled."""
import threading
import time
import uuid

from tests.functional.support import es_count, scan_sources, store_url, wait_for


def test_nvs_pipeline_requeues_through_an_outage(agent_factory, sender, engine, search_client,
                                                 es_prefix, search_outage):
    agent = agent_factory([store_url(engine, es_prefix, max_retries=1, timeout=5)],
                          batch_size=20)
    total, sent = 300, []

    def send(start, stop):
        for i in range(start, stop):
            req = 'req-%s' % uuid.uuid4()
            sender.send('nova', 'compute.host-%d' % (i % 4), 'INFO',
                        'compute.instance.create.start',
                        {'instance_id': 'i-%d' % i, 'tenant_id': 'p-outage'},
                        {'request_id': req, 'project_id': 'p-outage'})
            sent.append(req)

    alias = '%s-notifications' % es_prefix
    send(0, total // 3)
    wait_for(lambda: search_client.indices.exists(index=alias), timeout=60,
             what='first documents')
    search_outage.stop()
    # Keep sending while it is down, for longer than the client's retries.
    sender_thread = threading.Thread(target=send, args=(total // 3, total))
    sender_thread.start()
    time.sleep(25)
    sender_thread.join()
    assert agent.proc.poll() is None, 'agent died during the outage'
    search_outage.start()

    wait_for(lambda: es_count(search_client, alias) == total, timeout=180, interval=2,
             what='%d notifications after the outage' % total)
    docs = [d['request_id'] for d in scan_sources(search_client, alias)]
    assert sorted(docs) == sorted(sent)      # every one, exactly once
    assert 'requeueing' in agent.log_text()  # the outage was seen and survived


def test_stock_event_pipeline_spools_through_an_outage(agent_factory, sender, engine,
                                                       search_client, es_prefix, search_outage,
                                                       tmp_path):
    agent_factory([], pipelines=('event',),
                  event_publishers=[store_url(engine, es_prefix, max_retries=1, timeout=5)])
    search_outage.stop()
    total = 120
    for i in range(total):
        sender.send('nova', 'compute.host-1', 'INFO', 'compute.instance.delete.end',
                    {'instance_id': 'gone-%d' % i, 'tenant_id': 'p-spool'},
                    {'request_id': 'req-%s' % uuid.uuid4(), 'project_id': 'p-spool'})
    # The agent acknowledges once events are in its local spool.
    wait_for(lambda: list((tmp_path / 'spool').glob('*.db')), timeout=60, what='a spool file')
    time.sleep(10)
    search_outage.start()
    alias = '%s-events' % es_prefix

    wait_for(lambda: es_count(search_client, alias) == total, timeout=120, interval=2,
             what='%d events after the outage' % total)
    ids = [d['traits']['instance_id'] for d in scan_sources(search_client, alias)]
    assert sorted(ids) == sorted('gone-%d' % i for i in range(total))
