"""The API over a SQLite store, whole pipeline, a fake auth_token (api_support):
what each endpoint answers, for whom, and how it pages."""
import urllib.parse

import pytest
from werkzeug import test as wtest

from tests.unit import api_support as s

#: Text only project B's records (or the project-less one) contain.
NOT_A = s.not_a()
ENDPOINTS = ('/v1/notifications', '/v1/traces/req-a-ok', '/v1/history', '/v1/sla',
             '/v1/sla?breakdown=compute.instance.create', '/v1/errors', '/v1/stuck',
             '/v1/hosts', '/v1/notifications/msg-a-01')


@pytest.fixture(scope='module')
def client(tmp_path_factory):
    url = 'sqlite:///%s' % (tmp_path_factory.mktemp('api') / 'nvs.db')
    s.fill(url)
    app, store = s.make_api(url, default_limit=3)
    yield wtest.Client(app)
    store.close()


def get(client, path, token='tok-reader-a', **headers):
    if token:
        headers['X-Auth-Token'] = token
    return client.get(path, headers=headers)


@pytest.mark.parametrize('path', ENDPOINTS)
def test_a_reader_of_a_gets_a_records_and_never_b(client, path):
    r = get(client, path)
    assert r.status_code == 200, r.get_data(as_text=True)
    text = r.get_data(as_text=True)
    assert any(r.json.values())                        # not an empty answer
    assert not any(marker in text for marker in NOT_A), text
    assert r.headers['x-openstack-request-id'].startswith('req-')


@pytest.mark.parametrize('path', ENDPOINTS)
def test_a_member_reads_too_and_a_user_without_a_reader_role_does_not(client, path):
    assert get(client, path, 'tok-member-a').status_code == 200
    r = get(client, path, 'tok-norole-a')
    assert r.status_code == 403
    assert r.json['error']['code'] == 403


def every_page(client, path, token):
    ids, pages = [], 0
    while path:
        r = get(client, path, token)
        assert r.status_code == 200, r.json
        ids += [n['message_id'] for n in r.json['notifications']]
        nexts = [link['href'] for link in r.json['links'] if link['rel'] == 'next']
        path = urllib.parse.urlsplit(nexts[0])._replace(scheme='', netloc='').geturl() \
            if nexts else None
        pages += 1
    return ids, pages


def test_pages_follow_next_links_to_exactly_the_projects_notifications(client):
    ids, pages = every_page(client, '/v1/notifications', 'tok-reader-a')
    assert sorted(ids) == ['msg-a-%02d' % n for n in range(1, 6)]
    assert pages == 2                                  # default_limit = 3
    assert ids[0] == 'msg-a-04'                     # newest first


def test_an_admin_sees_every_project_and_the_records_of_none_only_with_all_projects(client):
    ids, _ = every_page(client, '/v1/notifications?all_projects=true&limit=4', 'tok-admin')
    assert len(ids) == 11 and 'msg-none-01' in ids
    own, _ = every_page(client, '/v1/notifications', 'tok-admin')
    assert own == []                                   # the admin's own project has none
    b, _ = every_page(client, '/v1/notifications?project_id=%s' % s.PROJECT_B, 'tok-admin')
    assert sorted(b) == ['msg-b-%02d' % n for n in range(1, 6)]
    assert get(client, '/v1/traces/req-b-ok?all_projects=true', 'tok-admin').json['spans']


@pytest.mark.parametrize('path', [
    '/v1/notifications/msg-b-01', '/v1/notifications/msg-none-01',
    '/v1/traces/req-b-ok', '/v1/traces/req-periodic', '/v1/notifications/no-such-id',
    '/v1/traces/no-such-request'])
def test_another_projects_ids_are_as_unknown_as_ids_that_never_existed(client, path):
    r = get(client, path)
    assert r.status_code == 404
    assert set(r.json['error']) == {'code', 'title', 'message'}


@pytest.mark.parametrize('query', ['all_projects=true', 'project_id=' + s.PROJECT_B,
                                   'all_projects=1'])
def test_a_reader_cannot_widen_the_scope(client, query):
    for path in ENDPOINTS:
        sep = '&' if '?' in path else '?'
        r = get(client, path + sep + query)
        assert r.status_code == 403, (path, r.json)
        assert not any(marker in r.get_data(as_text=True) for marker in NOT_A)


def test_a_reader_may_name_their_own_project(client):
    r = get(client, '/v1/notifications?project_id=' + s.PROJECT_A)
    assert r.status_code == 200 and len(r.json['notifications']) == 3


def test_a_marker_from_bs_pages_only_pages_through_as_records(client):
    first = get(client, '/v1/notifications?limit=2&project_id=%s' % s.PROJECT_B, 'tok-admin')
    marker = urllib.parse.parse_qs(urllib.parse.urlsplit(
        first.json['links'][0]['href']).query)['marker'][0]
    r = get(client, '/v1/notifications?limit=10&marker=' + marker)
    assert r.status_code == 200
    assert r.json['notifications'] and not any(m in r.get_data(as_text=True) for m in NOT_A)
    r = get(client, '/v1/notifications?marker=msg-b-02')
    assert r.status_code == 400
    assert r.json['error']['message'] == "marker is not one of this API's next links"


def test_filters_match_literally(client):
    r = get(client, '/v1/notifications?event_type=compute.instance.create.start&limit=10')
    assert sorted(n['message_id'] for n in r.json['notifications']) == [
        'msg-a-01', 'msg-a-03', 'msg-a-05']
    r = get(client, '/v1/notifications?request_id=req-a-fail&host=host-a')
    assert [n['message_id'] for n in r.json['notifications']] == ['msg-a-04', 'msg-a-03']
    assert get(client, '/v1/notifications?request_id=req-b-fail').json['notifications'] == []
    assert get(client, '/v1/notifications?event_type=compute.*').json['notifications'] == []


def test_answers_are_the_commands_answers_for_the_project(client):
    sla = get(client, '/v1/sla').json['sla']
    assert [(r['operation'], r['count'], r['failures']) for r in sla] == [
        ('compute.instance.create', 3, 'NoValidHost:1')]
    stuck = get(client, '/v1/stuck').json['stuck']
    assert [r['request_id'] for r in stuck] == ['req-a-hung']
    trace = get(client, '/v1/traces/req-a-fail').json
    assert [(x['operation'], x['depth'], x['outcome']) for x in trace['spans']] == [
        ('compute.instance.create', 0, 'failure')]
    hosts = get(client, '/v1/hosts?since=3h').json['hosts']
    assert [(h['host'], h['notifications'], h['errors']) for h in hosts] == [('host-a', 5, 1)]


def test_stuck_limits_are_the_configurations(tmp_path):
    """The process reads [nvs] stuck_after(_overrides) once, at start (state.Resources)."""
    from nvs_notif.api import app as api_app
    from nvs_notif.api import config
    from nvs_notif import storage
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    s.fill(url)
    conf = config.load_conf([])
    # The hung create is two hours old.
    conf.set_override('stuck_after_overrides', {'compute.instance.create': 3 * 3600}, 'nvs')
    store = storage.get_store(url, conf)
    try:
        client = wtest.Client(api_app.make_app(conf, store=store, auth=s.FakeAuthToken))
        assert get(client, '/v1/stuck').json['stuck'] == []
        trace = get(client, '/v1/traces/req-a-hung').json['spans']
        assert [x['outcome'] for x in trace] == ['in_progress']     # not stuck
    finally:
        store.close()


def test_no_token_or_a_bad_one_is_401_and_the_open_paths_need_none(client):
    for token in (None, 'forged', ''):
        r = get(client, '/v1/notifications', token)
        assert r.status_code == 401 and r.json['error']['code'] == 401
    assert get(client, '/healthcheck', None).status_code == 200
    versions = get(client, '/', None).json['versions']
    assert versions[0]['links'][0]['href'] == 'http://localhost/v1/'


def test_an_unscoped_token_gets_403(client):
    r = get(client, '/v1/notifications', 'tok-unscoped')
    assert r.status_code == 403
    assert 'project-scoped token' in r.json['error']['message']


def test_a_failing_store_is_a_503_that_says_nothing_of_it(tmp_path):
    app, store = s.make_api('sqlite:///%s' % (tmp_path / 'closed.db'))
    store.close()
    r = get(wtest.Client(app), '/v1/notifications')
    assert r.status_code == 503
    assert r.json['error']['message'] == 'The store did not answer; try again later.'


def test_the_search_clients_request_lines_are_not_logged_at_info(tmp_path):
    from nvs_notif.api import config
    conf_file = tmp_path / 'api.conf'
    conf_file.write_text('[api]\nstore = sqlite:///%s\n' % (tmp_path / 'x.db'))
    conf = config.load_conf([str(conf_file)])
    assert {'elastic_transport=WARN', 'opensearch=WARN'} <= set(conf.default_log_levels)
    # ... while the operator's own list still decides.
    conf_file.write_text('[DEFAULT]\ndefault_log_levels = opensearch=INFO\n')
    assert config.load_conf([str(conf_file)]).default_log_levels == ['opensearch=INFO']
