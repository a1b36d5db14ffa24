"""``client_from_url``: the Elasticsearch store URL -> client and store options
(credentials taken out of the URL by ``nvs_notif.credentials.split``, as
``get_store`` does).

No server is contacted: the client is only built and inspected.
"""
import base64
import urllib.parse

import certifi
import pytest

from nvs_notif import credentials
from nvs_notif.storage import elasticsearch as es_store


def client_from(url, conf=None):
    return es_store.client_from_url(*credentials.split(urllib.parse.urlsplit(url), conf))


def nodes(client):
    return sorted((n.config.scheme, n.config.host, n.config.port)
                  for n in client.transport.node_pool.all())


def node_configs(client):
    return [n.config for n in client.transport.node_pool.all()]


def basic(user, password):
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


def test_defaults():
    client, options = client_from('elasticsearch://')
    try:
        assert nodes(client) == [('http', '127.0.0.1', 9200)]
        assert options == {}
        assert 'authorization' not in client._headers
        assert client._request_timeout == 30
        assert client._max_retries == 3
        assert client._retry_on_timeout is True
    finally:
        client.close()


def test_several_hosts():
    client, _ = client_from('elasticsearch://es1:9200,es2:9201,10.0.0.3:9202/')
    try:
        assert nodes(client) == [('http', '10.0.0.3', 9202), ('http', 'es1', 9200),
                                 ('http', 'es2', 9201)]
    finally:
        client.close()


def test_ipv6_host():
    client, _ = client_from('elasticsearch://[::1]:9200/')
    try:
        assert [n.port for n in node_configs(client)] == [9200]
        assert node_configs(client)[0].host.strip('[]') == '::1'
    finally:
        client.close()


def test_basic_auth_percent_decoded():
    password = 'p@ss:w/rd%'
    url = 'elasticsearch://%s:%s@es1:9200,es2:9200/?index_prefix=x' % (
        urllib.parse.quote('ops@example', safe=''), urllib.parse.quote(password, safe=''))
    client, options = client_from(url)
    try:
        assert client._headers['authorization'] == basic('ops@example', password)
        # Credentials never end up in a host name.
        assert nodes(client) == [('http', 'es1', 9200), ('http', 'es2', 9200)]
        assert options == {'index_prefix': 'x'}
    finally:
        client.close()


def test_user_without_password():
    client, _ = client_from('elasticsearch://ops@es1:9200/')
    try:
        assert client._headers['authorization'] == basic('ops', '')
    finally:
        client.close()


def test_api_key():
    key = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=='
    client, options = client_from('elasticsearch://es1:9200/?api_key=%s&index_prefix=x'
                                  % urllib.parse.quote(key, safe=''))
    try:
        assert client._headers['authorization'] == 'ApiKey ' + key
        assert options == {'index_prefix': 'x'}
    finally:
        client.close()


def test_https_with_ca_certs():
    ca = certifi.where()
    client, options = client_from(
        'elasticsearch://u:p@es1:9243,es2:9243/?scheme=https&ca_certs=%s&verify_certs=true'
        '&index_prefix=prod' % urllib.parse.quote(ca, safe=''))
    try:
        assert nodes(client) == [('https', 'es1', 9243), ('https', 'es2', 9243)]
        for config in node_configs(client):
            assert config.verify_certs is True
            assert config.ca_certs == ca
        assert options == {'index_prefix': 'prod'}
    finally:
        client.close()


@pytest.mark.parametrize('value, expected', [('false', False), ('False', False),
                                             ('true', True)])
def test_https_verify_certs(value, expected):
    client, options = client_from('elasticsearch://es1:9243/?scheme=https&verify_certs=%s'
                                  % value)
    try:
        assert [c.verify_certs for c in node_configs(client)] == [expected]
        assert [c.scheme for c in node_configs(client)] == ['https']
        assert options == {}
    finally:
        client.close()


def test_https_verifies_by_default():
    client, _ = client_from('elasticsearch://es1:9243/?scheme=https')
    try:
        assert [c.verify_certs for c in node_configs(client)] == [True]
    finally:
        client.close()


def test_timeout_and_retries():
    client, options = client_from('elasticsearch://es1:9200/?timeout=2.5&max_retries=7')
    try:
        assert client._request_timeout == 2.5
        assert client._max_retries == 7
        assert client._retry_on_timeout is True
        assert options == {}
    finally:
        client.close()


def test_store_options_are_returned():
    client, options = client_from(
        'elasticsearch://es1:9200/?index_prefix=nvs-a&bulk_size=100&refresh=wait_for'
        '&conflict_retries=4&timeout=5&max_retries=1&unknown=kept')
    try:
        assert options == {'index_prefix': 'nvs-a', 'bulk_size': '100',
                           'refresh': 'wait_for', 'conflict_retries': '4',
                           'unknown': 'kept'}
    finally:
        client.close()


def test_store_reads_its_options():
    store = es_store.ElasticsearchStore(urllib.parse.urlsplit(
        'elasticsearch://es1:9200/?index_prefix=nvs-a&bulk_size=100&refresh=wait_for'
        '&conflict_retries=4'))
    try:
        assert store.prefix == 'nvs-a'
        assert store.writer.bulk_size == 100
        assert store.writer.refresh == 'wait_for'
        assert store.writer.conflict_retries == 4
    finally:
        store.close()


def test_store_defaults():
    store = es_store.ElasticsearchStore(urllib.parse.urlsplit('elasticsearch://es1:9200/'))
    try:
        assert store.prefix == 'nvs'
        assert store.writer.bulk_size == 500
        assert store.writer.refresh == 'false'
    finally:
        store.close()
