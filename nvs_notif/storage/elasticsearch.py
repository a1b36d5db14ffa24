"""The Elasticsearch 9.x store: the search-engine core over elasticsearch-py."""
import elasticsearch
from elasticsearch import serializer

from nvs_notif.storage import search


class _Serializer(serializer.OrjsonSerializer):
    """elasticsearch-py's orjson serializer for what we send (span documents,
    bulk lines: a tenth of the agent's own work with the standard library);
    what orjson refuses goes through the standard one, and so do responses
    (orjson reads integers beyond 64 bits as floats)."""

    json_loads = serializer.JsonSerializer.json_loads

    def json_dumps(self, data):
        try:
            return super().json_dumps(data)
        except TypeError:       # orjson.JSONEncodeError is one
            return serializer.JsonSerializer.json_dumps(self, data)


def client_from_url(url, credentials=None):
    """An Elasticsearch client and the store options from a split store URL
    (:func:`nvs_notif.storage.search.parse_url`).

    :param credentials: a :class:`nvs_notif.credentials.Credentials`
    """
    conn, options = search.parse_url(url)
    return _client(conn, credentials), options


def _client(conn, credentials):
    kwargs = {
        'request_timeout': conn.timeout,
        'max_retries': conn.max_retries,
        'retry_on_timeout': True,
        'serializer': _Serializer(),
    }
    if credentials is not None:
        kwargs.update(_auth(credentials, conn.scheme))
    if conn.scheme == 'https':
        kwargs['verify_certs'] = conn.verify_certs
        if conn.ca_certs:
            kwargs['ca_certs'] = conn.ca_certs
    return elasticsearch.Elasticsearch(conn.hosts, **kwargs)


def _auth(credentials, scheme):
    """The client's keyword arguments for ``credentials``."""
    kwargs = {}
    if credentials.username is not None:
        kwargs['basic_auth'] = (credentials.username, credentials.password or '')
    if credentials.api_key is not None:
        kwargs['api_key'] = credentials.api_key
    if scheme == 'https':
        for name in ('client_cert', 'client_key'):
            if getattr(credentials, name) is not None:
                kwargs[name] = getattr(credentials, name)
    return kwargs


class Engine(search.Engine):
    name = 'Elasticsearch'

    @property
    def helpers(self):
        # Imported on first use: elasticsearch.helpers loads anyio (a tenth
        # of a read command's CPU), and the aggregating reads (sla, errors,
        # hosts, stuck) never bulk nor scan.
        from elasticsearch import helpers
        return helpers

    errors = (elasticsearch.ApiError, elasticsearch.TransportError)
    # Deeper than redact.MAX_DEPTH, which truncates payloads first.
    flat_type = {'type': 'flattened', 'depth_limit': 128, 'ignore_above': 2048}

    def put_index_template(self, name, body):
        self.client.indices.put_index_template(name=name, **body)

    def wait_for_yellow(self, index, timeout):
        self.client.cluster.health(index=index, wait_for_status='yellow', timeout=timeout)

    def mget(self, docs):
        return self.client.mget(docs=docs)

    def search(self, index, body):
        return self.client.search(index=index, ignore_unavailable=True, **body)


class ElasticsearchStore(search.SearchStore):
    """``elasticsearch://host:9200?index_prefix=nvs&refresh=false&bulk_size=500``."""

    @classmethod
    def connect(cls, connection, credentials):
        return Engine(_client(connection, credentials))
