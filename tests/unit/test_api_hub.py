"""``POST /v1/hub`` over a SQLite store (the API's test pipeline,
tests/unit/api_support.py): who may subscribe to which topic, the answers
WebSub asks for (202, plain-text errors), hub.secret only over HTTPS, and the
intent kept with its subscriber's user and project."""
import pytest
from werkzeug import test as wtest

from nvs_notif.feeds import topics
from nvs_notif.websub import store as hub_store
from tests.unit import api_support as s

HTTPS = 'https://localhost/'
HTTP = 'http://localhost/'
CALLBACK = 'https://subscriber.example.test/cb?id=1'


@pytest.fixture
def api(tmp_path):
    path = tmp_path / 'nvs.db'
    s.fill('sqlite:///%s' % path)
    app, store = s.make_api('sqlite:///%s' % path)
    yield wtest.Client(app), path
    store.close()


def topic(project, base=HTTPS, **filters):
    return topics.Topic('notifications', project, **filters).url(base)


def post(client, form, token='tok-reader-a', base=HTTPS):
    return client.post('/v1/hub', base_url=base, data=form,
                       headers={'X-Auth-Token': token} if token else {})


def form(topic_url, mode='subscribe', **extra):
    return dict({'hub.mode': mode, 'hub.topic': topic_url, 'hub.callback': CALLBACK}, **extra)


def intents(path):
    store = hub_store.SQLiteHubStore(hub_store.hub_file(str(path)))
    try:
        return [i for _, i in store.claim_intents(s.NOW.replace(year=2999), 1, 100)]
    finally:
        store.close()


@pytest.mark.parametrize('token,project', [
    ('tok-reader-a', s.PROJECT_A), ('tok-member-a', s.PROJECT_A),
    ('tok-admin', s.PROJECT_B), ('tok-admin', None)])
def test_a_reader_or_member_of_the_project_or_an_admin_subscribes(api, token, project):
    client, path = api
    r = post(client, form(topic(project, priority='error'), **{'hub.secret': 's3cret',
                                                               'hub.lease_seconds': '3600'}),
             token)
    assert r.status_code == 202, r.get_data(as_text=True)
    (intent,) = intents(path)
    assert (intent.mode, intent.topic, intent.callback, intent.lease_seconds, intent.secret) == (
        'subscribe', topic(project, priority='error'), CALLBACK, 3600, 's3cret')
    assert (intent.user_id, intent.project_id) == ('u-' + token, s.TOKENS[token][0])


def test_without_a_token_401(api):
    client, path = api
    assert post(client, form(topic(s.PROJECT_A)), token=None).status_code == 401
    assert post(client, form(topic(s.PROJECT_A)), token='forged').status_code == 401
    assert intents(path) == []


@pytest.mark.parametrize('token,project', [
    ('tok-reader-a', s.PROJECT_B), ('tok-reader-a', None), ('tok-reader-b', s.PROJECT_A),
    ('tok-norole-a', s.PROJECT_A), ('tok-unscoped', s.PROJECT_A)])
def test_a_topic_of_a_project_the_token_may_not_read_403_in_plain_text(api, token, project):
    client, path = api
    r = post(client, form(topic(project)), token)
    assert r.status_code == 403
    assert r.headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert intents(path) == []


def test_refusals_never_tell_whether_the_other_project_exists(api):
    client, _ = api
    b = post(client, form(topic(s.PROJECT_B)))
    unknown = post(client, form(topic('0123456789abcdef0123456789abcdef')))
    assert (b.status_code, b.get_data()) == (unknown.status_code, unknown.get_data())
    assert s.PROJECT_B.encode() not in b.get_data()


@pytest.mark.parametrize('fields,reason', [
    ({'hub.topic': 'https://elsewhere.example/feed'}, 'not a topic of this hub'),
    ({'hub.topic': topic(s.PROJECT_A, base='https://other-api.example/')},
     'not a topic of this hub'),
    ({'hub.mode': 'publish'}, 'hub.mode'),
    ({'hub.callback': 'ftp://x.example/'}, 'http or https'),
    ({'hub.lease_seconds': '-5'}, 'positive integer'),
])
def test_bad_requests_400_with_the_reason_in_plain_text(api, fields, reason):
    client, path = api
    r = post(client, dict(form(topic(s.PROJECT_A)), **fields))
    assert r.status_code == 400 and reason in r.get_data(as_text=True)
    assert r.headers['Content-Type'] == 'text/plain; charset=utf-8'
    assert intents(path) == []


def test_a_secret_over_plain_http_is_refused_without_one_accepted(api):
    client, path = api
    r = post(client, form(topic(s.PROJECT_A, base=HTTP), **{'hub.secret': 's3cret'}), base=HTTP)
    assert r.status_code == 400 and 'HTTPS' in r.get_data(as_text=True)
    assert 's3cret' not in r.get_data(as_text=True)
    assert intents(path) == []
    assert post(client, form(topic(s.PROJECT_A, base=HTTP)), base=HTTP).status_code == 202
    (intent,) = intents(path)
    assert intent.secret is None


def test_unsubscribe_is_checked_like_subscribe(api):
    client, path = api
    assert post(client, form(topic(s.PROJECT_B), mode='unsubscribe')).status_code == 403
    assert post(client, form(topic(s.PROJECT_A), mode='unsubscribe')).status_code == 202
    assert [i.mode for i in intents(path)] == ['unsubscribe']
