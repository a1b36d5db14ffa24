"""The API under test: built on a SQLite store of two projects' requests, behind
a fake keystonemiddleware that sets the identity headers the real one sets
(from keystoneauth1's token fixtures) after stripping what the client sent."""
import datetime
import json

import feedparser
from keystoneauth1 import access
from keystonemiddleware.auth_token import _request
import webob

from nvs_notif.api import app as api_app
from nvs_notif.api import config
from nvs_notif import replay
from nvs_notif import storage
from nvs_notif import timeutil
from tests import atom_check

PROJECT_A = 'aaaa0000aaaa0000aaaa0000aaaa0000'
PROJECT_B = 'bbbb1111bbbb1111bbbb1111bbbb1111'
ADMIN_PROJECT = 'adad2222adad2222adad2222adad2222'

#: token -> (project id, roles), as Keystone would scope them (implied roles included).
TOKENS = {
    'tok-reader-a': (PROJECT_A, ['reader']),
    'tok-member-a': (PROJECT_A, ['member', 'reader']),
    'tok-reader-b': (PROJECT_B, ['reader']),
    'tok-admin': (ADMIN_PROJECT, ['admin', 'member', 'reader']),
    'tok-norole-a': (PROJECT_A, ['creator']),
    'tok-unscoped': (None, []),
}


def token_body(token):
    """A Keystone v3 token response body of ``TOKENS[token]``."""
    project, roles = TOKENS[token]
    domain = {'id': 'default', 'name': 'Default'}
    body = {'user': {'id': 'u-' + token, 'name': token, 'domain': domain},
            'roles': [{'id': 'r-' + r, 'name': r} for r in roles],
            'methods': ['password'], 'expires_at': '2999-01-01T00:00:00.000000Z'}
    if project is not None:
        body['project'] = {'id': project, 'name': 'p-' + project[:4], 'domain': domain}
    return {'token': body}


class FakeAuthToken:
    """auth_token's contract without a Keystone: strip every identity header
    the client sent, refuse (401, keystonemiddleware's body) a missing or
    unknown token, set the headers of a known one."""

    def __init__(self, app, conf=None):
        self.app = app

    def __call__(self, environ, start_response):
        req = _request._AuthTokenRequest(environ)
        req.remove_auth_headers()
        token = req.headers.get('X-Auth-Token')
        if token not in TOKENS:
            body = {'error': {'code': 401, 'title': 'Unauthorized',
                              'message': 'The request you have made requires authentication.'}}
            return webob.Response(json.dumps(body).encode(), status=401,
                                  content_type='application/json')(environ, start_response)
        req.user_token_valid = True
        req.set_user_headers(access.create(body=token_body(token), auth_token=token))
        return self.app(environ, start_response)


NOW = timeutil.utcnow().replace(microsecond=0)


def at(seconds_ago):
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime('%Y-%m-%d %H:%M:%S.%f')


def message(n, event_type, when, label, project, request, host, priority='INFO', **payload):
    """A legacy nova notification of ``project`` (None: of no project);
    ``label`` names its ids (``msg-<label>-<n>``, ``inst-<label>``)."""
    msg = {'message_id': 'msg-%s-%02d' % (label, n), 'event_type': event_type,
           'publisher_id': 'compute.%s' % host, 'priority': priority, 'timestamp': at(when),
           '_context_request_id': request,
           'payload': dict(payload, instance_id='inst-%s' % label, host=host)}
    if project:
        msg['_context_project_id'] = project
        msg['_context_user_id'] = 'user-%s' % label
        msg['payload'].update(tenant_id=project, user_id='user-%s' % label)
    return msg


def project_messages(label, project):
    """A finished create, a failed create and a create hung for two hours, on
    host ``host-<label>``, requests ``req-<label>-ok|fail|hung``."""
    host = 'host-%s' % label

    def m(n, event_type, when, outcome, **kw):
        return message(n, event_type, when, label, project, 'req-%s-%s' % (label, outcome),
                       host, **kw)
    return [
        m(1, 'compute.instance.create.start', 600, 'ok'),
        m(2, 'compute.instance.create.end', 560, 'ok'),
        m(3, 'compute.instance.create.start', 500, 'fail'),
        m(4, 'compute.instance.create.error', 490, 'fail', priority='ERROR',
          exception="NoValidHost(u'No valid host')"),
        m(5, 'compute.instance.create.start', 7200, 'hung'),
    ]


def all_messages(project_a=PROJECT_A, project_b=PROJECT_B):
    """Project A's (label ``a``), B's (``b``) and a periodic notification of no project."""
    return (project_messages('a', project_a) + project_messages('b', project_b)
            + [message(1, 'compute.instance.exists', 300, 'none', None, 'req-periodic',
                       'host-c')])


def not_a(project_b=PROJECT_B):
    """Texts only B's records, or the project-less one, contain."""
    return (project_b, 'req-b-', 'msg-b-', 'host-b', 'inst-b', 'msg-none', 'req-periodic',
            'host-c')


def fill(url, conf=None, **projects):
    endpoint = replay.local_endpoint(url, conf or replay.make_conf())
    replay.process(endpoint, all_messages(**projects))
    replay.local_store(endpoint).close()


def make_api(url, **overrides):
    """``(WSGI app, store)`` of the whole pipeline over ``url``, FakeAuthToken for auth."""
    conf = config.load_conf([])
    for name, value in overrides.items():
        conf.set_override(name, value, 'api')
    store = storage.get_store(url, conf)
    return api_app.make_app(conf, store=store, auth=FakeAuthToken), store


def get(client, path, token='tok-reader-a'):
    """``path`` asked of a werkzeug test client with ``token`` (None: no token)."""
    return client.get(path, headers={'X-Auth-Token': token} if token else {})


def valid_atom(r):
    """``(body, feedparser's result)`` of an Atom answer, checked by feedparser
    and by the RFC 4287 checks (tests/atom_check.py)."""
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers['Content-Type'] == 'application/atom+xml'
    body = r.get_data()
    parsed = feedparser.parse(body)
    assert not parsed.bozo and atom_check.problems(body) == []
    return body, parsed
