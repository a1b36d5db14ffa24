"""The test Keystone (tools/test-services.sh) and its token fixtures: real tokens,
scoped to the right project with the right roles, validated by Keystone itself and
by keystonemiddleware running as the service user; revoked and expired ones refused."""
import json

from keystonemiddleware import auth_token
import pytest
import webob

from tools import keystone_setup


def validated(keystone, token):
    response = keystone.validate(token)
    assert response.status_code == 200, response.text
    return response.json()['token']


@pytest.mark.parametrize('key', sorted(keystone_setup.USERS))
def test_each_users_token_names_its_project_and_role(keystone, keystone_tokens, key):
    user = keystone_setup.USERS[key]
    token = validated(keystone, keystone_tokens[key])
    assert token['user']['name'] == user.name
    assert token['project']['name'] == user.project
    assert token['project']['id'] == keystone.project_id(key)
    # Keystone's implied roles: admin -> member -> reader.
    expected = {'reader': {'reader'}, 'member': {'member', 'reader'},
                'admin': {'admin', 'manager', 'member', 'reader'}}[user.role]
    assert {role['name'] for role in token['roles']} == expected


def test_projects_a_and_b_are_two_projects(keystone):
    assert keystone.project_id('a-member') == keystone.project_id('a-reader')
    assert keystone.project_id('b-member') == keystone.project_id('b-reader')
    assert keystone.project_id('a-member') != keystone.project_id('b-member')


def test_a_forged_token_does_not_validate(keystone, keystone_tokens):
    forged = keystone_tokens['a-member'][:-4] + 'AAAA'
    assert keystone.validate(forged).status_code == 404


def test_a_revoked_token_does_not_validate(keystone):
    assert keystone.validate(keystone.revoked_token('a-reader')).status_code == 404


def test_an_expired_token_does_not_validate(keystone, keystone_expired_token):
    assert keystone.validate(keystone_expired_token).status_code == 404


@pytest.fixture(scope='module')
def guarded(keystone_authtoken):
    """A WSGI app behind keystonemiddleware's auth_token, answering with what the
    middleware told it about the caller."""
    def app(environ, start_response):
        seen = {name: environ.get('HTTP_X_' + name.upper().replace('-', '_'))
                for name in ('project-id', 'project-name', 'roles', 'user-name')}
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [json.dumps(seen).encode()]
    return auth_token.AuthProtocol(app, dict(keystone_authtoken, delay_auth_decision='false'))


def call(app, token=None):
    request = webob.Request.blank('/')
    if token is not None:
        request.headers['X-Auth-Token'] = token
    return request.get_response(app)


def test_keystonemiddleware_admits_a_real_token_with_its_project_and_roles(
        guarded, keystone, keystone_tokens):
    response = call(guarded, keystone_tokens['a-reader'])
    assert response.status_int == 200
    assert response.json == {'project-id': keystone.project_id('a-reader'),
                             'project-name': 'nvs-project-a', 'roles': 'reader',
                             'user-name': 'nvs-a-reader'}
    assert call(guarded, keystone_tokens['b-member']).json['project-name'] == 'nvs-project-b'


def test_keystonemiddleware_refuses_missing_forged_revoked_and_expired_tokens(
        guarded, keystone, keystone_tokens, keystone_expired_token):
    for token in (None, 'not-a-token', keystone_tokens['a-member'][:-4] + 'AAAA',
                  keystone.revoked_token('b-reader'), keystone_expired_token):
        response = call(guarded, token)
        assert response.status_int == 401, (token, response.text)
        # Where to get a token: the public Keystone.
        assert keystone.url in response.headers['WWW-Authenticate']
