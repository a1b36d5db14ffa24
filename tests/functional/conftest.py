"""Fixtures for the real stack: RabbitMQ, Elasticsearch, OpenSearch, Keystone and
ceilometer-agent-notification.

Plain helpers and settings the tests import live in ``tests.functional.support``.

Start the servers once with ``tools/test-services.sh start`` (``tools/run-tests``
does).  A missing server fails the tests; it never skips them.
"""
import os
import shutil
import uuid

import elasticsearch
import opensearchpy
import pytest

from tests.functional import keystone as keystone_mod
from tests.functional import sender as sender_mod
from tests.functional.support import (ARTIFACTS, ES_URL, KEYSTONE_URL, OPENSEARCH_URL,
                                      TRANSPORT_URL, delete_prefix, services)
from tools.agentproc import Agent


def pytest_collection_modifyitems(items):
    for item in items:
        if '/functional/' in str(item.fspath):
            item.add_marker(pytest.mark.functional)


@pytest.fixture(scope='session')
def es_client():
    client = elasticsearch.Elasticsearch(ES_URL, request_timeout=30)
    try:
        client.cluster.health(wait_for_status='yellow', timeout='30s')
    except Exception as exc:
        pytest.fail('Elasticsearch at %s is not reachable (run tools/test-services.sh start): %s'
                    % (ES_URL, exc))
    yield client
    client.close()


@pytest.fixture(scope='session')
def os_client():
    client = opensearchpy.OpenSearch(OPENSEARCH_URL, timeout=30)
    try:
        client.cluster.health(wait_for_status='yellow', timeout='30s', request_timeout=40)
    except Exception as exc:
        pytest.fail('OpenSearch at %s is not reachable (run tools/test-services.sh start): %s'
                    % (OPENSEARCH_URL, exc))
    yield client
    client.close()


@pytest.fixture(scope='session')
def keystone():
    """The test Keystone (tests/functional/keystone.py), its users provisioned."""
    server = keystone_mod.Keystone(KEYSTONE_URL)
    try:
        server.token('admin')
    except Exception as exc:
        pytest.fail('Keystone at %s is not reachable or lacks the test users '
                    '(run tools/test-services.sh start): %s' % (KEYSTONE_URL, exc))
    return server


@pytest.fixture(scope='session')
def keystone_url(keystone):
    return keystone.url


@pytest.fixture(scope='session')
def keystone_tokens(keystone):
    """A project-scoped token of every test user, by key: ``a-member``,
    ``a-reader``, ``b-member``, ``b-reader``, ``admin`` (tools/keystone_setup.py)."""
    return {key: keystone.token(key) for key in keystone_mod.USERS}


@pytest.fixture(scope='session')
def keystone_expired_token(keystone):
    """A token of ``a-member`` that was valid and has expired (~6 s to make)."""
    return keystone.expired_token('a-member')


@pytest.fixture(scope='session')
def keystone_authtoken(keystone):
    """The ``[keystone_authtoken]`` options of a service validating the tokens."""
    return keystone.authtoken_options()


@pytest.fixture(params=['elasticsearch', 'opensearch'])
def engine(request):
    """Each search engine in turn: parametrize a store test over both."""
    return request.param


@pytest.fixture
def search_client(request, engine):
    """The official client of ``engine``'s test server."""
    return request.getfixturevalue({'elasticsearch': 'es_client', 'opensearch': 'os_client'}[engine])


@pytest.fixture(scope='session')
def transport_url():
    import oslo_messaging
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf([], project='nvs-test')
    transport = oslo_messaging.get_notification_transport(conf, url=TRANSPORT_URL)
    try:
        notifier = oslo_messaging.Notifier(transport, 'nvs-test.probe', driver='messagingv2',
                                           topics=['nvs-test-probe'], retry=3)
        notifier.info({}, 'nvs.test.probe', {})
    except Exception as exc:
        pytest.fail('RabbitMQ at %s is not reachable (run tools/test-services.sh start): %s'
                    % (TRANSPORT_URL, exc))
    finally:
        transport.cleanup()
    return TRANSPORT_URL


@pytest.fixture
def es_prefix(es_client, os_client):
    """A fresh index prefix per test, in either search engine; its indices and
    templates are removed from both after."""
    prefix = 'nvs-test-%s' % uuid.uuid4().hex[:10]
    yield prefix
    for client in (es_client, os_client):
        delete_prefix(client, prefix)


@pytest.fixture
def topic():
    """A fresh notification topic per test, so queues never leak between tests."""
    return 'nvs-test-%s' % uuid.uuid4().hex[:10]


@pytest.fixture
def agent_factory(request, tmp_path, transport_url, topic):
    agents = []

    def make(publishers, name='agent', **kwargs):
        # A test may give its own transport (a vhost) or topics ('a,b').
        agent = Agent(tmp_path, name, kwargs.pop('transport_url', transport_url),
                      kwargs.pop('topic', topic), publishers, **kwargs)
        agents.append(agent)
        return agent.start()

    yield make
    for agent in agents:
        agent.stop()
        # Keep every agent's log as a test artifact.
        dest = ARTIFACTS / 'agent-logs' / request.node.name
        dest.mkdir(parents=True, exist_ok=True)
        if agent.log_path.exists():
            shutil.copy(agent.log_path, dest / agent.log_path.name)


@pytest.fixture
def sender(transport_url, topic):
    s = sender_mod.Sender(transport_url, topic)
    yield s
    s.close()


@pytest.fixture
def search_outage(engine, search_client):
    """Stop and restart the managed server of ``engine`` (tools/test-services.sh).

    Only a server the project's script manages can be stopped: with
    NVS_TEST_ES_URL / NVS_TEST_OPENSEARCH_URL pointing elsewhere the outage
    tests are skipped, saying why.
    """
    variable, command = {'elasticsearch': ('NVS_TEST_ES_URL', 'es'),
                         'opensearch': ('NVS_TEST_OPENSEARCH_URL', 'opensearch')}[engine]
    if os.environ.get(variable):
        pytest.skip('outage tests stop %s; %s is not ours to stop' % (engine, variable))

    class Outage:
        def stop(self):
            services('stop-' + command, timeout=120)

        def start(self):
            services('start-' + command, timeout=300)

    outage = Outage()
    yield outage
    outage.start()   # never leave the suite without its server


@pytest.fixture
def rabbit_outage(transport_url):
    """Stop and restart the managed RabbitMQ (tools/test-services.sh).

    Skipped, saying why, when NVS_TEST_TRANSPORT_URL names a broker that is
    not ours to stop (as search_outage).
    """
    if os.environ.get('NVS_TEST_TRANSPORT_URL'):
        pytest.skip('outage tests stop RabbitMQ; NVS_TEST_TRANSPORT_URL is not ours to stop')

    class Outage:
        def stop(self):
            services('stop-rabbit', timeout=120)

        def start(self):
            services('start-rabbit', timeout=300)

    outage = Outage()
    yield outage
    outage.start()   # never leave the suite without its server


@pytest.fixture
def rabbit_vhost(transport_url):
    """The transport URL of a fresh RabbitMQ vhost, deleted afterwards.

    Its exchanges are the test's own, so they can be declared durable while
    other tests share non-durable ones of the same names on ``/``.
    """
    if os.environ.get('NVS_TEST_TRANSPORT_URL'):
        pytest.skip('vhost tests manage RabbitMQ; NVS_TEST_TRANSPORT_URL is not ours')
    name = 'nvs-test-%s' % uuid.uuid4().hex[:10]
    services('add-vhost', name, timeout=60)
    yield '%s/%s' % (transport_url.rstrip('/'), name)
    services('delete-vhost', name, timeout=60)
