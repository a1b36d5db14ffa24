"""The test Keystone from the client's side: project-scoped tokens of the users of
``tools/keystone_setup.py`` (``tools/test-services.sh`` provisions them), revoked
and expired tokens, validation as the service user, and the ``[keystone_authtoken]``
options keystonemiddleware needs to validate them."""
import datetime
import time
import uuid

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session

from tools import keystone_setup
from tools.keystone_setup import DOMAIN, SERVICE_USER, USERS


class Keystone:
    """One Keystone and a keystoneauth1 session per test user (``USERS`` keys, and
    ``'service'`` for the service user keystonemiddleware runs as)."""

    def __init__(self, url):
        self.url = url.rstrip('/')
        self.v3 = self.url + '/v3'
        self._sessions = {}

    def user(self, key):
        return SERVICE_USER if key == 'service' else USERS[key]

    def password_auth(self, key):
        return keystone_setup.password_auth(self.url, self.user(key))

    def session(self, key):
        """The user's session: its token is issued once and reused (keystoneauth1
        renews it before it expires)."""
        if key not in self._sessions:
            self._sessions[key] = ks_session.Session(auth=self.password_auth(key))
        return self._sessions[key]

    def token(self, key):
        return self.session(key).get_token()

    def project_id(self, key):
        return self.session(key).get_project_id()

    def validate(self, token):
        """Keystone's answer to ``GET /v3/auth/tokens`` for ``token``, asked as the
        service user (as keystonemiddleware asks); 404 for a bad one."""
        return self.session('service').get(self.v3 + '/auth/tokens', raise_exc=False,
                                           headers={'X-Subject-Token': token})

    def revoked_token(self, key):
        """A fresh token of ``key`` that Keystone has revoked (``DELETE
        /v3/auth/tokens``): never seen by a middleware's token cache."""
        token = ks_session.Session(auth=self.password_auth(key)).get_token()
        self.session(key).delete(self.v3 + '/auth/tokens', headers={'X-Subject-Token': token})
        return token

    def expired_token(self, key, lifetime=5):
        """A token of ``key`` that has expired: issued for an application credential
        that expires ``lifetime`` seconds later (Keystone ends such a token with
        its credential), valid when issued, returned once that moment has passed."""
        session = self.session(key)
        expires_at = (datetime.datetime.now(datetime.timezone.utc)
                      + datetime.timedelta(seconds=lifetime))
        credentials = '%s/users/%s/application_credentials' % (self.v3, session.get_user_id())
        credential = session.post(credentials, json={'application_credential': {
            'name': 'nvs-test-expiring-%s' % uuid.uuid4().hex[:10],
            'expires_at': expires_at.strftime('%Y-%m-%dT%H:%M:%S.%f')}},
        ).json()['application_credential']
        auth = v3.ApplicationCredential(auth_url=self.v3,
                                        application_credential_id=credential['id'],
                                        application_credential_secret=credential['secret'])
        token = ks_session.Session(auth=auth).get_token()
        assert self.validate(token).status_code == 200, 'the token was never valid'
        time.sleep(max(0.0, (expires_at - datetime.datetime.now(datetime.timezone.utc))
                       .total_seconds()) + 1)
        session.delete('%s/%s' % (credentials, credential['id']))
        return token

    def authtoken_options(self):
        """``[keystone_authtoken]`` of a service behind keystonemiddleware, as the
        service user; ``interface = public``: the test Keystone's only endpoint."""
        return {'www_authenticate_uri': self.url, 'auth_url': self.url,
                'auth_type': 'password', 'username': SERVICE_USER.name,
                'password': SERVICE_USER.password, 'project_name': SERVICE_USER.project,
                'user_domain_name': DOMAIN, 'project_domain_name': DOMAIN,
                'interface': 'public'}
