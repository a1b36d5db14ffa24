"""The OpenSearch 2.x store: the search-engine core over opensearch-py.

What differs from Elasticsearch, and nothing else, is here: the client and
its arguments, request bodies passed as ``body`` (opensearch-py has no
per-field keywords for them), the ``timeout`` query parameter (taken for the
request's own timeout unless ``request_timeout`` is given too), ``flat_object`` instead of ``flattened`` (it
takes no ``depth_limit``/``ignore_above``), and no API keys.
"""
import logging

import opensearchpy
from opensearchpy import helpers
from opensearchpy import serializer

from nvs_notif import jsontext
from nvs_notif.storage import search


class _Serializer(serializer.JSONSerializer):
    """Requests encoded like the Elasticsearch store's (:mod:`nvs_notif.jsontext`:
    orjson, the standard library for what it refuses); text (bulk sources the
    store already encoded) is sent as is."""

    def dumps(self, data):
        return data if isinstance(data, str) else jsontext.encode(data)


def _client(conn, credentials):
    kwargs = {
        'timeout': conn.timeout,
        'max_retries': conn.max_retries,
        'retry_on_timeout': True,
        'serializer': _Serializer(),
    }
    if credentials is not None:
        if credentials.api_key is not None:
            raise ValueError('OpenSearch has no API keys: give a user name and password')
        if credentials.username is not None:
            kwargs['http_auth'] = (credentials.username, credentials.password or '')
    if conn.scheme == 'https':
        kwargs.update(use_ssl=True, verify_certs=conn.verify_certs,
                      ssl_show_warn=conn.verify_certs)
        if conn.ca_certs:
            kwargs['ca_certs'] = conn.ca_certs
        for name in ('client_cert', 'client_key'):
            if credentials is not None and getattr(credentials, name) is not None:
                kwargs[name] = getattr(credentials, name)
    return opensearchpy.OpenSearch(conn.hosts, **kwargs)


#: The request timeout of waits for shards (a little past the wait itself).
_REQUEST_TIMEOUT = 40


class Engine(search.Engine):
    name = 'OpenSearch'
    helpers = helpers
    # TransportError covers the connection errors too.
    errors = (opensearchpy.TransportError,)
    flat_type = {'type': 'flat_object'}

    def put_index_template(self, name, body):
        self.client.indices.put_index_template(name=name, body=body)

    def wait_for_yellow(self, index, timeout):
        # opensearch-py takes a ``timeout`` parameter for the request's own
        # timeout unless ``request_timeout`` is given: give both.
        self.client.cluster.health(index=index, wait_for_status='yellow', timeout=timeout,
                                   request_timeout=_REQUEST_TIMEOUT)

    def mget(self, docs):
        return self.client.mget(body={'docs': docs})

    def search(self, index, body):
        return self.client.search(index=index, body=body, ignore_unavailable=True)


class OpenSearchStore(search.SearchStore):
    """``opensearch://host:9200?index_prefix=nvs&refresh=false&bulk_size=500``."""

    @classmethod
    def connect(cls, connection, credentials):
        # opensearch-py's tracer logs every request at INFO as a curl command
        # with its whole body (a bulk of a batch: megabytes); the client's
        # one line per request ('opensearch') stays.
        logging.getLogger('opensearchpy.trace').setLevel(logging.WARNING)
        return Engine(_client(connection, credentials))
