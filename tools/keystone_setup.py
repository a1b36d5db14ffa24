"""The test Keystone's projects, users and role assignments, and the script that
makes a Keystone hold them (run by ``tools/test-services.sh``).

    python tools/keystone_setup.py URL
    python tools/keystone_setup.py --admin-password   (prints it, for the bootstrap)

URL is Keystone's root (``http://127.0.0.1:5000``); the admin is the user
``admin`` of ``keystone-manage bootstrap`` (admin role on the project
``admin``, domain ``Default``), whose password is $NVS_TEST_KEYSTONE_ADMIN_PASSWORD
or, for the Keystone test-services.sh provisions, ``nvs-admin-secret``.
Idempotent: what exists and works is left alone (a second run changes
nothing), a user whose password no longer works gets it back. Prints what it
created or repaired.

Only the standard library and keystoneauth1 are used, so the script runs with
the Keystone venv's Python or the project's. The functional tests import
``USERS``, ``SERVICE_USER`` and ``DOMAIN`` from here: the test data is
declared once.
"""
import argparse
import os
import sys

DOMAIN = 'Default'


class User:
    """A test user with one role on one project (Keystone's implied roles add
    the rest: admin implies member, member implies reader)."""

    def __init__(self, name, project, role, password=None):
        self.name = name
        self.project = project
        self.role = role
        # Test-only passwords of a Keystone that only listens on loopback.
        self.password = password or name + '-secret'

    def __repr__(self):
        return '<User %s: %s on %s>' % (self.name, self.role, self.project)


#: The users the tests take tokens for, by the key the fixtures use.
USERS = {
    'a-member': User('nvs-a-member', 'nvs-project-a', 'member'),
    'a-reader': User('nvs-a-reader', 'nvs-project-a', 'reader'),
    'b-member': User('nvs-b-member', 'nvs-project-b', 'member'),
    'b-reader': User('nvs-b-reader', 'nvs-project-b', 'reader'),
    # The bootstrap admin.
    'admin': User('admin', 'admin', 'admin',
                  password=os.environ.get('NVS_TEST_KEYSTONE_ADMIN_PASSWORD', 'nvs-admin-secret')),
}

#: The service user keystonemiddleware authenticates as to validate tokens,
#: as devstack makes one per service (role ``service`` on project ``service``).
SERVICE_USER = User('nvs-notif', 'service', 'service')


def password_auth(url, user):
    """keystoneauth1's password auth of ``user`` at Keystone's root ``url``,
    scoped to the user's project."""
    from keystoneauth1.identity import v3
    return v3.Password(auth_url=url.rstrip('/') + '/v3', username=user.name,
                       password=user.password, user_domain_name=DOMAIN,
                       project_name=user.project, project_domain_name=DOMAIN)


def ensure(session, url):
    """Make the Keystone at ``url`` hold USERS and SERVICE_USER; return the
    list of what was created or repaired (empty when nothing changed)."""
    from keystoneauth1 import exceptions
    from keystoneauth1 import session as ks_session

    changes = []
    v3url = url.rstrip('/') + '/v3'

    def find(kind, name, **filters):
        found = session.get('%s/%s' % (v3url, kind), params=dict(name=name, **filters)).json()
        return found[kind][0]['id'] if found[kind] else None

    def create(kind, body):
        one = kind[:-1]
        changes.append('created %s %s' % (one, body['name']))
        return session.post('%s/%s' % (v3url, kind), json={one: body}).json()[one]['id']

    def works(user):
        try:
            ks_session.Session(auth=password_auth(url, user)).get_token()
            return True
        except exceptions.Unauthorized:
            return False

    domain_id = find('domains', DOMAIN)
    roles = {}
    for user in [*USERS.values(), SERVICE_USER]:
        if user is USERS['admin']:   # bootstrap's own
            continue
        project_id = (find('projects', user.project, domain_id=domain_id)
                      or create('projects', {'name': user.project, 'domain_id': domain_id,
                                             'description': 'nvs-notif tests'}))
        user_id = find('users', user.name, domain_id=domain_id)
        if user_id is None:
            user_id = create('users', {'name': user.name, 'domain_id': domain_id,
                                       'password': user.password})
        if user.role not in roles:
            roles[user.role] = find('roles', user.role)
        grant = '%s/projects/%s/users/%s/roles/%s' % (v3url, project_id, user_id, roles[user.role])
        if session.head(grant, raise_exc=False).status_code != 204:
            session.put(grant)
            changes.append('granted %s on %s to %s' % (user.role, user.project, user.name))
        if not works(user):
            session.patch('%s/users/%s' % (v3url, user_id),
                          json={'user': {'password': user.password}})
            changes.append('reset the password of %s' % user.name)
    return changes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('url', nargs='?', help="Keystone's root URL")
    parser.add_argument('--admin-password', action='store_true',
                        help='print the bootstrap admin password and exit')
    args = parser.parse_args(argv)
    admin = USERS['admin']
    if args.admin_password:
        print(admin.password)
        return 0
    if not args.url:
        parser.error('the URL is required')

    from keystoneauth1 import session as ks_session
    for line in ensure(ks_session.Session(auth=password_auth(args.url, admin)), args.url):
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
