"""Hostile requests to the API: every one answered with a JSON status that says
why (never a 500, never a traceback) and never with another project's records."""
import base64
import json

import pytest
from werkzeug import test as wtest

from tests.unit import api_support as s
from tests.unit.test_api import NOT_A

READER_A = {'X-Auth-Token': 'tok-reader-a'}
FORGED = {'X-Project-Id': s.PROJECT_B, 'X-Tenant-Id': s.PROJECT_B, 'X-Roles': 'admin',
          'X-Role': 'admin', 'X-Identity-Status': 'Confirmed', 'X-Is-Admin-Project': 'True'}
LONG = 'x' * 10000


def marker(value):
    """A marker as this API encodes one, of any JSON ``value``."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip('=')


CASES = [
    # absurd limits
    ('/v1/notifications?limit=0', 400), ('/v1/notifications?limit=-1', 400),
    ('/v1/notifications?limit=1001', 400),
    ('/v1/notifications?limit=' + '9' * 40, 400), ('/v1/notifications?limit=1e3', 400),
    ('/v1/notifications?limit=abc', 400), ('/v1/notifications?limit=', 400),
    ('/v1/notifications?limit=%D9%A3', 400),            # an Arabic-Indic digit three
    ('/v1/notifications?limit=1&limit=2', 400), ('/v1/errors?limit=0', 400),
    ('/v1/history?limit=1000000', 400),
    # bad markers
    ('/v1/notifications?marker=no-such-message', 400), ('/v1/notifications?marker=', 400),
    ('/v1/notifications?marker=' + LONG, 400), ('/v1/notifications?marker=msg-b-01', 400),
    ('/v1/notifications?marker=msg-none-01', 400),
    ("/v1/notifications?marker=msg-a-01'%20OR%20'1'='1", 400),
    ('/v1/notifications?marker=' + marker(['yesterday', 'msg-a-01']), 400),
    ('/v1/notifications?marker=' + marker(['2024-01-01T00:00:00+00:00', '']), 400),
    ('/v1/notifications?marker=' + marker([1, 2]), 400),
    ('/v1/notifications?marker=' + marker({'project_id': 'bbbb'}), 400),
    ('/v1/notifications?marker=' + marker(['2999-01-01T00:00:00+00:00', "' OR 1=1"]), 200),
    ('/v1/notifications?marker=%FF%FE', 400),
    # injected filter syntax: matched literally, so nothing
    ("/v1/notifications?event_type='%20OR%201=1%20--", 200),
    ('/v1/notifications?event_type=*:*', 200), ('/v1/notifications?event_type=compute.*', 200),
    ('/v1/notifications?request_id=req-%25', 200), ('/v1/notifications?host=_', 200),
    ('/v1/notifications?service=nova)%20OR%20project_id:(bbbb*', 200),
    ('/v1/notifications?event_type={"match_all":{}}', 200),
    ("/v1/history?user_id='%20OR%20''='", 200), ('/v1/sla?operation=%25', 200),
    ('/v1/stuck?operation=compute%25', 200), ('/v1/notifications?resource=%00', 400),
    ('/v1/notifications?event_type=' + LONG, 400),
    # times
    ('/v1/notifications?since=yesterday', 400), ('/v1/notifications?since=1e400s', 400),
    ('/v1/notifications?since=-5m', 400), ('/v1/notifications?since=99999999999d', 400),
    ('/v1/notifications?since=2024-13-45', 400),
    ('/v1/notifications?since=1h&until=2h', 400), ('/v1/hosts?since=2999-01-01', 400),
    ('/v1/hosts?silent_after=inf', 400), ('/v1/hosts?silent_after=nan', 400),
    # parameters
    ('/v1/notifications?all_projects=maybe', 400),
    ('/v1/notifications?all_projects=true&project_id=x', 400),
    ('/v1/notifications?foo=bar', 400), ('/v1/notifications?project_id[]=x', 400),
    ('/v1/sla?group_by=__class__', 400), ('/v1/sla?breakdown=x&group_by=host', 400),
    ('/v1/notifications?project_id=' + LONG, 400),
    # huge, unicode and traversing ids
    ('/v1/notifications/' + LONG, 400), ('/v1/traces/' + LONG, 400),
    ('/v1/notifications/%E2%98%83', 404), ('/v1/traces/%F0%9F%92%A9', 404),
    ('/v1/traces/req-b-ok%00', 400), ('/v1/notifications/..%2F..%2Fetc%2Fpasswd', 404),
    ('/v1/../etc/passwd', 404), ('/v1//notifications', 200), ('/V1/notifications', 404),
    ('/v1/traces/req-b-ok%20', 404), ('/v1/traces/REQ-B-OK', 404),
]


@pytest.fixture(scope='module')
def client(tmp_path_factory):
    url = 'sqlite:///%s' % (tmp_path_factory.mktemp('hostile') / 'nvs.db')
    s.fill(url)
    app, store = s.make_api(url)
    yield wtest.Client(app)
    store.close()


def check(r, status):
    text = r.get_data(as_text=True)
    assert r.status_code == status, text[:300]
    assert 'Traceback' not in text
    assert not any(marker in text for marker in NOT_A), text[:300]
    if status >= 400:
        assert r.json['error']['code'] == status and r.json['error']['message']


@pytest.mark.parametrize('path,status', CASES)
def test_hostile_query(client, path, status):
    check(client.get(path, headers=READER_A), status)


@pytest.mark.parametrize('path', ['/v1/notifications', '/v1/traces/req-b-ok', '/v1/sla'])
def test_identity_headers_without_a_token_are_refused(client, path):
    check(client.get(path, headers=FORGED), 401)


@pytest.mark.parametrize('path', ['/v1/notifications', '/v1/history', '/v1/errors',
                                  '/v1/stuck', '/v1/hosts'])
def test_identity_headers_beside_a_token_are_replaced_by_the_tokens(client, path):
    r = client.get(path, headers=dict(FORGED, **READER_A))
    check(r, 200)
    assert any(r.json.values())


@pytest.mark.parametrize('method,path', [
    ('POST', '/v1/notifications'), ('DELETE', '/v1/notifications/msg-a-01'),
    ('PUT', '/v1/sla'), ('PATCH', '/v1/traces/req-a-ok'), ('TRACE', '/'),
    ('POST', '/')])
def test_methods_not_allowed(client, method, path):
    r = client.open(path, method=method, headers=READER_A, data='{"project_id": "bbbb"}')
    check(r, 405)
    assert 'GET' in r.headers['Allow']
