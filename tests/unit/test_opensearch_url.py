"""The OpenSearch store's URL -> opensearch-py client, and what differs from
Elasticsearch (flat_object, no API keys). The URL options are the
Elasticsearch store's (parsed once, :func:`nvs_notif.storage.search.parse_url`).

No server is contacted: the client is only built and inspected.
"""
import base64
import urllib.parse

import pytest

from nvs_notif import credentials
from nvs_notif.storage import opensearch
from nvs_notif.storage import search_templates


def store_from(url, conf=None):
    return opensearch.OpenSearchStore(*credentials.split(urllib.parse.urlsplit(url), conf))


def connections(store):
    return store.client.transport.connection_pool.connections


def test_defaults():
    store = store_from('opensearch://')
    try:
        assert store.client.transport.hosts == [{'host': '127.0.0.1', 'port': 9200}]
        assert store.client.transport.max_retries == 3
        assert store.client.transport.retry_on_timeout is True
        assert [c.timeout for c in connections(store)] == [30.0]
        assert 'authorization' not in connections(store)[0].headers
        assert (store.prefix, store.writer.bulk_size, store.writer.refresh) == ('nvs', 500, 'false')
    finally:
        store.close()


def test_the_elasticsearch_options():
    store = store_from('opensearch://os1:9200,os2:9201/?index_prefix=nvs-a&bulk_size=100'
                       '&refresh=wait_for&conflict_retries=4&timeout=5&max_retries=1'
                       '&index_payload=false')
    try:
        assert sorted((h['host'], h['port']) for h in store.client.transport.hosts) == [
            ('os1', 9200), ('os2', 9201)]
        assert store.client.transport.max_retries == 1
        assert {c.timeout for c in connections(store)} == {5.0}
        writer = store.writer
        assert (store.prefix, writer.bulk_size, writer.refresh, writer.conflict_retries,
                store.index_payload) == ('nvs-a', 100, 'wait_for', 4, False)
    finally:
        store.close()


def test_basic_auth_from_the_url():
    store = store_from('opensearch://%s:%s@os1:9200/' % (
        urllib.parse.quote('ops@example', safe=''), urllib.parse.quote('p@ss:w', safe='')))
    try:
        expected = 'Basic ' + base64.b64encode(b'ops@example:p@ss:w').decode()
        assert [c.headers['authorization'] for c in connections(store)] == [expected]
        assert [h['host'] for h in store.client.transport.hosts] == ['os1']
    finally:
        store.close()


def test_api_key_is_refused():
    with pytest.raises(ValueError, match='API keys'):
        store_from('opensearch://os1:9200/?api_key=abc')


@pytest.mark.parametrize('value,expected', [('true', 'CERT_REQUIRED'), ('false', 'CERT_NONE')])
def test_https(value, expected):
    store = store_from('opensearch://os1:9200/?scheme=https&verify_certs=%s' % value)
    try:
        [conn] = connections(store)
        assert conn.use_ssl and conn.host == 'https://os1:9200'
        assert conn.pool.cert_reqs == expected
    finally:
        store.close()


def test_flat_objects_are_flat_object():
    props = search_templates.template_body(
        'nvs', 'notifications', opensearch.Engine.flat_type)['template']['mappings']['properties']
    assert props['payload'] == {'type': 'flat_object'}
    assert 'flattened' not in repr(search_templates.template_body(
        'nvs', 'events', opensearch.Engine.flat_type))
