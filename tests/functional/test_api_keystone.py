"""nvs-notif-api with real Keystone tokens: the whole application (keystonemiddleware
validating against the test Keystone as the service user, oslo.policy) served over
HTTP by a real server, on SQLite, Elasticsearch and OpenSearch stores holding A's
and B's requests and a record of no project. A's users get exactly A's records on
every endpoint; B's ids, markers and project are unknown or refused; only the admin
sees B and the records of no project; forged, expired, revoked and missing tokens
are 401."""
import threading
import time
import urllib.parse
import uuid

import feedparser
import pytest
import requests

from nvs_notif.api import app as api_app
from nvs_notif.api import config
from nvs_notif.api import serve
from tests import atom_check
from tests.functional.support import delete_prefix
from tests.functional.support import engine_client
from tests.functional.support import store_url
from tests.functional.support import write_api_conf
from tests.unit import api_support as s

#: Every read endpoint, as a user of A asks it (A's own ids in the paths).
ENDPOINTS = ('/v1/notifications', '/v1/notifications/msg-a-01', '/v1/traces/req-a-ok',
             '/v1/history', '/v1/sla', '/v1/sla?breakdown=compute.instance.create',
             '/v1/errors', '/v1/stuck', '/v1/hosts?since=3h')


#: The API's ``[api] archive_settle_seconds`` here.
ARCHIVE_SETTLE = 2


class Api:
    def __init__(self, base, projects, filled):
        self.base = base
        self.a, self.b = projects
        #: ``time.time()`` when the store's notifications were written.
        self.filled = filled

    def wait_settled(self):
        """Sleep until every notification written is past the archive's
        settle time (a search engine's are archived only then)."""
        time.sleep(max(0.0, self.filled + ARCHIVE_SETTLE + 0.1 - time.time()))

    def get(self, path, token=None, **headers):
        if token is not None:
            headers['X-Auth-Token'] = token
        return requests.get(self.base + path, headers=headers, timeout=60)

    def every_page(self, path, token):
        """The message ids of every page, following ``next`` links (absolute URLs)."""
        ids, url = [], self.base + path
        while url:
            r = requests.get(url, headers={'X-Auth-Token': token}, timeout=60)
            assert r.status_code == 200, r.text
            ids += [n['message_id'] for n in r.json()['notifications']]
            url = next((link['href'] for link in r.json()['links'] if link['rel'] == 'next'),
                       None)
        return ids


@pytest.fixture(scope='module', params=['sqlite', 'elasticsearch', 'opensearch'])
def api(request, tmp_path_factory, keystone, keystone_authtoken):
    """The API over a store of ``request.param`` filled with A's, B's and no
    project's notifications (A and B: the test Keystone's projects), configured
    by one nvs-notif.conf, served by a threaded HTTP server on a free port."""
    projects = keystone.project_id('a-reader'), keystone.project_id('b-reader')
    tmp = tmp_path_factory.mktemp('api-%s' % request.param)
    prefix = 'nvs-test-%s' % uuid.uuid4().hex[:10]
    url = ('sqlite:///%s' % (tmp / 'nvs.db') if request.param == 'sqlite'
           else store_url(request.param, prefix))
    s.fill(url, project_a=projects[0], project_b=projects[1])
    filled = time.time()
    conf_file = write_api_conf(tmp / 'nvs-notif.conf', url, keystone_authtoken, default_limit=3,
                               archive_settle_seconds=ARCHIVE_SETTLE)
    app = api_app.make_app(config.load_conf([str(conf_file)]))
    server = serve.make_server(app, '127.0.0.1', 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = engine_client(request, request.param)
    yield Api('http://127.0.0.1:%d' % server.server_port, projects, filled)
    server.shutdown()
    server.server_close()
    if request.param != 'sqlite':
        delete_prefix(client, prefix)


def leaks(api, response):
    """What of B (or of no project) a response holds."""
    return [m for m in s.not_a(api.b) if m in response.text]


@pytest.mark.parametrize('user', ['a-reader', 'a-member'])
def test_as_users_get_exactly_as_records_on_every_endpoint(api, keystone_tokens, user):
    token = keystone_tokens[user]
    for path in ENDPOINTS:
        r = api.get(path, token)
        assert r.status_code == 200, (path, r.text)
        assert any(r.json().values()), path
        assert not leaks(api, r), (path, r.text)
        assert r.headers['x-openstack-request-id'].startswith('req-')
    assert sorted(api.every_page('/v1/notifications', token)) == [
        'msg-a-%02d' % n for n in range(1, 6)]
    assert [x['request_id'] for x in api.get('/v1/stuck', token).json()['stuck']] == [
        'req-a-hung']
    sla = api.get('/v1/sla', token).json()['sla']
    assert [(r['operation'], r['count'], r['failures']) for r in sla] == [
        ('compute.instance.create', 3, 'NoValidHost:1')]
    hosts = api.get('/v1/hosts?since=3h', token).json()['hosts']
    assert [(h['host'], h['notifications']) for h in hosts] == [('host-a', 5)]


@pytest.mark.parametrize('path,status', [
    ('/v1/notifications/msg-b-01', 404), ('/v1/notifications/msg-none-01', 404),
    ('/v1/traces/req-b-ok', 404), ('/v1/traces/req-b-hung', 404),
    ('/v1/traces/req-periodic', 404), ('/v1/notifications?marker=msg-b-03', 400),
    ('/v1/notifications?all_projects=true', 403), ('/v1/sla?all_projects=true', 403),
    ('/v1/stuck?all_projects=true', 403)])
def test_bs_ids_markers_and_all_projects_are_refused_to_a(api, keystone_tokens, path, status):
    r = api.get(path, keystone_tokens['a-reader'])
    assert r.status_code == status, r.text
    assert set(r.json()['error']) == {'code', 'title', 'message'}
    assert not leaks(api, r)


@pytest.mark.parametrize('endpoint', ['/v1/notifications', '/v1/history', '/v1/sla',
                                      '/v1/errors', '/v1/stuck', '/v1/hosts'])
def test_filters_naming_b_give_a_nothing_of_b(api, keystone_tokens, endpoint):
    """Naming B's project is refused; naming B's request, host or resource finds nothing."""
    token = keystone_tokens['a-member']
    r = api.get('%s?project_id=%s' % (endpoint, api.b), token)
    assert r.status_code == 403 and not leaks(api, r)
    for query in ('request_id=req-b-ok', 'host=host-b', 'resource=inst-b'):
        r = api.get('/v1/notifications?' + query, token)
        assert r.status_code == 200 and r.json()['notifications'] == []


def test_a_marker_of_bs_page_pages_a_through_as_records_only(api, keystone_tokens):
    first = api.get('/v1/notifications?limit=2&project_id=%s' % api.b,
                    keystone_tokens['admin']).json()
    marker = urllib.parse.parse_qs(urllib.parse.urlsplit(
        first['links'][0]['href']).query)['marker'][0]
    r = api.get('/v1/notifications?limit=10&marker=' + marker, keystone_tokens['a-reader'])
    assert r.status_code == 200 and r.json()['notifications'] and not leaks(api, r)


def test_the_admin_sees_both_projects_and_the_records_of_none(api, keystone_tokens):
    token = keystone_tokens['admin']
    every = api.every_page('/v1/notifications?all_projects=true', token)
    assert sorted(every) == sorted(['msg-a-%02d' % n for n in range(1, 6)]
                                   + ['msg-b-%02d' % n for n in range(1, 6)] + ['msg-none-01'])
    assert sorted(api.every_page('/v1/notifications?project_id=%s' % api.b, token)) == [
        'msg-b-%02d' % n for n in range(1, 6)]
    assert api.every_page('/v1/notifications', token) == []      # the admin project's own
    trace = api.get('/v1/traces/req-b-ok?all_projects=true', token).json()
    assert [x['request'] for x in trace['spans']] == ['req-b-ok']
    stuck = api.get('/v1/stuck?all_projects=true', token).json()['stuck']
    assert sorted(x['request_id'] for x in stuck) == ['req-a-hung', 'req-b-hung']


def test_forged_expired_revoked_and_missing_tokens_are_401(api, keystone, keystone_tokens,
                                                           keystone_expired_token):
    forged = keystone_tokens['a-member'][:-4] + 'AAAA'
    for token in (forged, keystone_expired_token, keystone.revoked_token('a-reader'), None,
                  'not-a-token'):
        r = api.get('/v1/notifications', token)
        assert r.status_code == 401, r.text
        assert r.json()['error']['code'] == 401
        assert not leaks(api, r) and 'msg-a-' not in r.text


def test_identity_headers_a_client_sends_are_not_believed(api, keystone_tokens):
    forged = {'X-Project-Id': api.b, 'X-Tenant-Id': api.b, 'X-Roles': 'admin',
              'X-Identity-Status': 'Confirmed'}
    assert api.get('/v1/notifications?all_projects=true', **forged).status_code == 401
    r = api.get('/v1/notifications', keystone_tokens['a-reader'], **forged)
    assert r.status_code == 200 and not leaks(api, r)
    assert api.get('/v1/notifications?all_projects=true', keystone_tokens['a-reader'],
                   **forged).status_code == 403


def test_the_version_document_and_health_need_no_token(api):
    versions = api.get('/').json()['versions']
    assert urllib.parse.urlsplit(versions[0]['links'][0]['href']).path == '/v1/'
    assert api.get('/healthcheck').status_code == 200


def atom(r):
    """The body of an Atom answer, checked by feedparser and atom_check."""
    assert r.status_code == 200, r.text
    assert r.headers['Content-Type'] == 'application/atom+xml'
    assert not feedparser.parse(r.content).bozo and atom_check.problems(r.content) == []
    return r.content


def titles(body):
    return [e.title for e in feedparser.parse(body).entries]


def test_spans_feeds_and_their_archive_pages_with_real_tokens(api, keystone_tokens):
    """A's member reads A's finished spans (the failed create with its
    exception first), the errors feed, and the archive page its
    prev-archive names, the same bytes twice; B's reader gets none of it."""
    token = keystone_tokens['a-member']
    body = atom(api.get('/v1/feeds/spans?limit=1', token))
    assert titles(body) == [
        "compute.instance.create failed in 10.0 s on host-a: NoValidHost: No valid host"]
    assert atom_check.links(body)['self'] == [
        '%s/v1/feeds/spans?project_id=%s' % (api.base, api.a)]
    prev, = atom_check.links(body)['prev-archive']
    page = atom(requests.get(prev, headers={'X-Auth-Token': token}, timeout=60))
    assert atom_check.is_archive(page) and atom_check.links(page)['self'] == [prev]
    assert titles(page) == ['compute.instance.create succeeded in 40.0 s on host-a']
    assert atom(requests.get(prev, headers={'X-Auth-Token': token}, timeout=60)) == page
    assert titles(atom(api.get('/v1/feeds/spans?outcome=failure', token))) == titles(body)
    everything = api.get('/v1/feeds/spans', token)
    assert len(titles(atom(everything))) == 2 and not leaks(api, everything)
    other = keystone_tokens['b-reader']
    assert requests.get(prev, headers={'X-Auth-Token': other}, timeout=60).status_code == 403
    assert api.get('/v1/feeds/spans?project_id=%s' % api.b, token).status_code == 403
    assert api.get('/v1/feeds/spans?all_projects=true', token).status_code == 403
    every = atom(api.get('/v1/feeds/spans?all_projects=true', keystone_tokens['admin']))
    assert api.a in every.decode() and api.b in every.decode()


def test_notification_archive_pages_with_real_tokens(api, keystone_tokens):
    """A's notifications feed links, in ingest order, archive pages of A's
    notifications only, the same bytes on a second fetch."""
    token = keystone_tokens['a-reader']
    api.wait_settled()
    body = atom(api.get('/v1/feeds/notifications?limit=1', token))
    seen, url = list(atom_check.entry_ids(body)), atom_check.links(body)['prev-archive'][0]
    while url:
        page = atom(requests.get(url, headers={'X-Auth-Token': token}, timeout=60))
        assert atom(requests.get(url, headers={'X-Auth-Token': token}, timeout=60)) == page
        assert atom_check.is_archive(page) and 'msg-b-' not in page.decode()
        assert requests.get(url, headers={'X-Auth-Token': keystone_tokens['b-reader']},
                            timeout=60).status_code == 403
        seen += atom_check.entry_ids(page)
        url = (atom_check.links(page).get('prev-archive') or [None])[0]
    assert len(set(seen)) == 5          # A's five notifications, each reached
