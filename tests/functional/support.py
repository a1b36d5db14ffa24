"""What the functional tests share besides fixtures: the servers' URLs, paths, and
helpers (store URLs, counts, waiting, RabbitMQ set-up through tools/test-services.sh).

Tests import these from here; ``conftest.py`` holds only fixtures and hooks."""
import os
import pathlib
import subprocess
import time

from elasticsearch import helpers as es_helpers
import opensearchpy
from opensearchpy import helpers as os_helpers

from nvs_notif import storage

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'artifacts'
TRANSPORT_URL = os.environ.get('NVS_TEST_TRANSPORT_URL', 'rabbit://guest:guest@127.0.0.1:5672/')
ES_URL = os.environ.get('NVS_TEST_ES_URL',
                        'http://127.0.0.1:%s' % os.environ.get('NVS_ES_PORT', '9200'))

OPENSEARCH_URL = os.environ.get(
    'NVS_TEST_OPENSEARCH_URL', 'http://127.0.0.1:%s' % os.environ.get('NVS_OPENSEARCH_PORT', '9201'))
KEYSTONE_URL = os.environ.get(
    'NVS_TEST_KEYSTONE_URL', 'http://127.0.0.1:%s' % os.environ.get('NVS_KEYSTONE_PORT', '5000'))
#: The search engines the store tests run on, and their servers.
ENGINE_URLS = {'elasticsearch': ES_URL, 'opensearch': OPENSEARCH_URL}


def store_url(engine, prefix, **options):
    """The store URL of ``engine`` (``elasticsearch``, ``opensearch``) for an index prefix."""
    query = '&'.join('%s=%s' % kv for kv in dict(index_prefix=prefix, **options).items())
    return '%s://%s/?%s' % (engine, ENGINE_URLS[engine].split('://', 1)[1], query)


def es_store_url(prefix, **options):
    return store_url('elasticsearch', prefix, **options)


def scan_sources(client, index, **kwargs):
    """The ``_source`` of every document of ``index``, by the client's own scan helper."""
    helpers = os_helpers if isinstance(client, opensearchpy.OpenSearch) else es_helpers
    return [hit['_source'] for hit in helpers.scan(client, index=index, **kwargs)]


def delete_prefix(client, prefix):
    """Remove the indices and index templates of ``prefix`` (either engine's client)."""
    client.indices.delete(index='%s-*' % prefix)
    for template in client.indices.get_index_template()['index_templates']:
        if template['name'].startswith(prefix + '-'):
            # One by one: OpenSearch takes no list of names here.
            client.indices.delete_index_template(name=template['name'])


def engine_client(request, kind):
    """The test client of a search engine's store ``kind``; None for SQLite.
    (Ask before a fixture's teardown: pytest refuses fixtures requested then.)"""
    return (None if kind == 'sqlite' else request.getfixturevalue(
        {'elasticsearch': 'es_client', 'opensearch': 'os_client'}[kind]))


def es_count(client, index):
    """Documents searchable in ``index`` (an index, alias or pattern); 0 before it exists."""
    if not client.indices.exists(index=index):
        return 0
    client.indices.refresh(index=index)
    return client.count(index=index)['count']


def wait_for(predicate, timeout=60, interval=0.5, what='condition'):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError('timed out after %ss waiting for %s (last: %r)' % (timeout, what, last))


def wait_stored(urls, notifications, spans, timeout=120):
    """Wait until every store of ``urls`` ({name: url}) holds ``notifications``
    notifications; then each must hold ``spans`` spans and no reject."""
    for name, url in urls.items():
        store = storage.get_store(url)
        try:
            wait_for(lambda: store.count('notifications') == notifications, timeout=timeout,
                     what='%d notifications in %s' % (notifications, name))
            assert store.count('spans') == spans and store.count('rejects') == 0, name
        finally:
            store.close()


def services(*args, timeout):
    subprocess.run([str(ROOT / 'tools' / 'test-services.sh')] + list(args), check=True,
                   timeout=timeout)


def dead_letter_policy(vhost_url, pattern, exchange):
    """On a :func:`rabbit_vhost`, the policy of docs/operations.rst "Poison
    messages": queues matching ``pattern`` dead-letter into ``exchange``."""
    services('dead-letter-policy', vhost_url.rsplit('/', 1)[1], pattern, exchange, timeout=60)


def write_api_conf(path, store, authtoken, **api):
    """The operator's one nvs-notif.conf of an nvs-notif-api: ``[api] store`` (and
    ``api``'s other options) and ``[keystone_authtoken]`` (``authtoken``)."""
    lines = ['[api]', 'store = %s' % store] + ['%s = %s' % kv for kv in api.items()]
    lines += ['[keystone_authtoken]'] + ['%s = %s' % kv for kv in authtoken.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path

