"""The WebSub hub end to end with real Keystone tokens: nvs-notif-api
(keystonemiddleware validating against the test Keystone, oslo.policy)
serves ``POST /v1/hub``; ``nvs-notif-hub`` runs as its own process (the
console script's code, ``--config-file``), verifies at real HTTP subscribers
on 127.0.0.1 and publishes from the store's tail what the agent's pipeline
(the replay path, ceilometer's endpoint code) stores, on SQLite,
Elasticsearch and OpenSearch.

A member of project A subscribes to A's topic and receives, signed, exactly
A's new entries, and none stored before; B's subscriber gets only B's; A's
token cannot subscribe to B's topic; a restarted hub process keeps the
subscriptions and delivers what was stored while it was down; after A
unsubscribes, A gets nothing more and B still gets B's."""
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import feedparser
import pytest
import requests

from nvs_notif.api import app as api_app
from nvs_notif.api import config
from nvs_notif.api import serve
from nvs_notif import replay
from nvs_notif.feeds.topics import Topic
from tests.functional.support import delete_prefix
from tests.functional.support import engine_client
from tests.functional.support import store_url
from tests.functional.support import write_api_conf
from tests.subscriber import Subscriber

HUB_COMMAND = os.path.join(os.path.dirname(sys.executable), 'nvs-notif-hub')


def note(project, n):
    """A legacy nova notification of ``project`` with a UUID message id."""
    return {'message_id': str(uuid.uuid4()), 'event_type': 'compute.instance.update',
            'publisher_id': 'compute.host-%d' % n, 'priority': 'INFO',
            'timestamp': time.strftime('%Y-%m-%d %H:%M:%S.000000', time.gmtime()),
            '_context_request_id': 'req-%s' % uuid.uuid4(), '_context_project_id': project,
            '_context_user_id': 'u-%d' % n,
            'payload': {'instance_id': 'inst-%d' % n, 'tenant_id': project, 'state': 'active'}}


class Hub:
    """``nvs-notif-hub --config-file FILE`` as a process of its own."""

    def __init__(self, conf_file):
        self.conf_file = conf_file
        self.process = None

    def start(self):
        self.process = subprocess.Popen([HUB_COMMAND, '--config-file', str(self.conf_file)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err.decode()
        return err.decode()


def wait_for(condition, seconds=60, seen=lambda: ''):
    """Wait for ``condition``; on time-out say what ``seen`` returns."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, 'not reached in %s s; %s' % (seconds, seen())
        time.sleep(0.05)


def entries(sub, secret):
    """The entry ids the subscriber got, each delivery's signature checked."""
    got = []
    for headers, body in sub.posts:
        assert headers['X-Hub-Signature'] == 'sha256=' + hmac.new(
            secret.encode(), body, hashlib.sha256).hexdigest()
        parsed = feedparser.parse(body)
        assert not parsed.bozo
        got += [e.id for e in parsed.entries]
    return sorted(got)


@pytest.fixture(params=['sqlite', 'elasticsearch', 'opensearch'])
def deployment(request, tmp_path, keystone, keystone_authtoken):
    """The API behind Keystone and a hub process over a store of ``request.param``."""
    prefix = 'nvs-test-%s' % uuid.uuid4().hex[:10]
    url = ('sqlite:///%s' % (tmp_path / 'nvs.db') if request.param == 'sqlite'
           else store_url(request.param, prefix))
    conf_file = write_api_conf(tmp_path / 'nvs-notif-api.conf', url, keystone_authtoken)
    with open(conf_file, 'a') as f:
        f.write('\n'.join([
            '[websub]', 'callback_allowed_networks = 127.0.0.1/32',
            'callback_allow_public = false', 'poll_interval = 0.05',
            'tail_settle_seconds = 1', 'delivery_retry_initial = 0.2',
            # Behind a TLS-terminating proxy: hub.secret is taken over its HTTPS.
            '[oslo_middleware]', 'enable_proxy_headers_parsing = true']) + '\n')
    app = api_app.make_app(config.load_conf([str(conf_file)]))
    server = serve.make_server(app, '127.0.0.1', 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub = Hub(conf_file)
    hub.start()
    client = engine_client(request, request.param)
    yield 'http://127.0.0.1:%d' % server.server_port, url, hub
    if hub.process.poll() is None:
        hub.stop()
    server.shutdown()
    server.server_close()
    if request.param != 'sqlite':
        delete_prefix(client, prefix)


def subscribe(api, token, topic, callback, secret=None, https=True):
    form = {'hub.mode': 'subscribe', 'hub.topic': topic, 'hub.callback': callback,
            'hub.lease_seconds': '3600'}
    if secret:
        form['hub.secret'] = secret
    headers = {'X-Auth-Token': token}
    if https:
        headers['X-Forwarded-Proto'] = 'https'
    return requests.post(api + '/v1/hub', data=form, headers=headers, timeout=60)


def test_a_member_gets_exactly_their_projects_new_entries_signed_across_a_hub_restart(
        deployment, keystone, keystone_tokens):
    api, url, hub = deployment
    project_a, project_b = keystone.project_id('a-member'), keystone.project_id('b-member')
    endpoint = replay.local_endpoint(url)
    before = [note(project_a, 0)]
    replay.process(endpoint, before)
    sub_a, sub_b = Subscriber(), Subscriber()

    def got():
        return 'A got %s, B got %s' % (entries(sub_a, 'secret-a'), entries(sub_b, 'secret-b'))
    try:
        # The topics as the feeds name them (self), under the public https base.
        topic_a = Topic('notifications', project_a).url('https' + api[len('http'):])
        topic_b = Topic('notifications', project_b).url('https' + api[len('http'):])
        # A's token may not subscribe to B's topic; nothing reaches B's callback.
        r = subscribe(api, keystone_tokens['a-member'], topic_b, sub_b.url, 'x')
        assert r.status_code == 403 and r.headers['Content-Type'].startswith('text/plain')
        # A secret over plain HTTP is refused.
        r = subscribe(api, keystone_tokens['a-member'], topic_a.replace('https', 'http', 1),
                      sub_a.url, 'secret-a', https=False)
        assert r.status_code == 400 and 'HTTPS' in r.text
        assert subscribe(api, None, topic_a, sub_a.url).status_code == 401
        for token, topic, sub, secret in (('a-member', topic_a, sub_a, 'secret-a'),
                                          ('b-member', topic_b, sub_b, 'secret-b')):
            r = subscribe(api, keystone_tokens[token], topic, sub.url, secret)
            assert r.status_code == 202, r.text
        wait_for(lambda: len(sub_a.gets) == 1 and len(sub_b.gets) == 1)
        assert [(g['hub.mode'], g['hub.topic']) for g in sub_a.gets + sub_b.gets] == [
            ('subscribe', topic_a), ('subscribe', topic_b)]
        # Give the hub a round to see both subscriptions before the agent stores.
        time.sleep(1)

        first = [note(project_a, 1), note(project_b, 2), note(project_a, 3)]
        replay.process(endpoint, first)
        wait_for(lambda: len(entries(sub_a, 'secret-a')) == 2
                 and len(entries(sub_b, 'secret-b')) == 1, seen=got)

        # The hub process restarts; what is stored meanwhile arrives after.
        hub.stop()
        second = [note(project_b, 4), note(project_a, 5)]
        replay.process(endpoint, second)
        hub.start()
        wait_for(lambda: len(entries(sub_a, 'secret-a')) == 3
                 and len(entries(sub_b, 'secret-b')) == 2, seen=got)
        # A unsubscribes (verified at the callback); B's subscription goes on.
        r = requests.post(api + '/v1/hub', timeout=60, data={
            'hub.mode': 'unsubscribe', 'hub.topic': topic_a, 'hub.callback': sub_a.url},
            headers={'X-Auth-Token': keystone_tokens['a-member'],
                     'X-Forwarded-Proto': 'https'})
        assert r.status_code == 202, r.text
        wait_for(lambda: [g['hub.mode'] for g in sub_a.gets] == ['subscribe', 'unsubscribe'])
        time.sleep(1)
        third = [note(project_a, 6), note(project_b, 7)]
        replay.process(endpoint, third)
        wait_for(lambda: len(entries(sub_b, 'secret-b')) == 3, seen=got)
        time.sleep(2)       # nothing more comes
        stderr = hub.stop()
    finally:
        sub_a.stop()
        sub_b.stop()
        replay.local_store(endpoint).close()

    def ids(notes, project):
        return sorted('urn:uuid:' + n['message_id'] for n in notes
                      if n['_context_project_id'] == project)
    assert entries(sub_a, 'secret-a') == ids(first + second, project_a)
    assert entries(sub_b, 'secret-b') == ids(first + second + third, project_b)
    for sub, topic in ((sub_a, topic_a), (sub_b, topic_b)):
        for headers, _ in sub.posts:
            assert headers['Content-Type'] == 'application/atom+xml'
            assert headers['Link'] == '<%s>; rel="hub", <%s>; rel="self"' % (
                topic.split('/v1/')[0] + '/v1/hub', topic)
    assert 'secret-a' not in stderr and 'secret-b' not in stderr
