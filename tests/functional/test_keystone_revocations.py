"""Keystone's project updates end subscriptions only when the real Keystone says
the project is disabled or gone (nvs_notif.websub.keystone, the ``[keystone]``
credentials): a project of its own is made, disabled and deleted in the test
Keystone, and the hub, handed keystone's ``identity.project.updated`` through
the real pipeline, denies the subscription to it at a real HTTP subscriber."""
import ipaddress
import logging
import uuid

import pytest

from nvs_notif.api import config
from nvs_notif import replay
from nvs_notif.feeds import fanout
from nvs_notif.feeds.topics import Topic
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import keystone as keystone_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from tests.subscriber import subscribers  # noqa: F401 (a fixture)
from tools.keystone_setup import DOMAIN, SERVICE_USER, USERS

BASE = 'https://api.example.test:8788'


def conf_of(tmp_path, keystone, user):
    """An API configuration whose ``[keystone]`` holds ``user``'s credentials."""
    path = tmp_path / ('%s.conf' % user.name)
    path.write_text('\n'.join([
        '[keystone]', 'auth_type = password', 'auth_url = %s' % keystone.url,
        'username = %s' % user.name, 'password = %s' % user.password,
        'project_name = %s' % user.project, 'user_domain_name = %s' % DOMAIN,
        'project_domain_name = %s' % DOMAIN, 'valid_interfaces = public']) + '\n')
    return config.load_conf([str(path)])


@pytest.fixture
def project(keystone):
    """A project of this test's own in the test Keystone, deleted at the end."""
    admin = keystone.session('admin')
    made = admin.post(keystone.v3 + '/projects', json={'project': {
        'name': 'nvs-test-revoke-%s' % uuid.uuid4().hex[:10], 'domain_id': 'default'}}
    ).json()['project']
    yield made['id']
    admin.delete('%s/projects/%s' % (keystone.v3, made['id']), raise_exc=False)


def test_the_check_follows_keystone_and_refused_credentials_end_nothing_silently(
        tmp_path, keystone, project, caplog):
    check = keystone_mod.ProjectCheck.from_conf(conf_of(tmp_path, keystone, USERS['admin']))
    admin = keystone.session('admin')
    assert check(project) is True
    assert check(keystone.project_id('a-reader')) is True
    admin.patch('%s/projects/%s' % (keystone.v3, project),
                json={'project': {'enabled': False}})
    assert check(project) is False
    admin.delete('%s/projects/%s' % (keystone.v3, project))
    assert check(project) is False
    assert check('no-such-project') is False
    # The token validation user may not read projects: said, at ERROR.
    service = keystone_mod.ProjectCheck.from_conf(conf_of(tmp_path, keystone, SERVICE_USER))
    with caplog.at_level(logging.ERROR, logger=keystone_mod.__name__):
        assert service(keystone.project_id('a-reader')) is False
    assert 'answered 403' in caplog.text
    assert keystone_mod.ProjectCheck.from_conf(config.load_conf([])) is None


def test_a_disabled_project_loses_its_subscriptions_through_the_pipeline(
        tmp_path, keystone, project, subscribers):
    check = keystone_mod.ProjectCheck.from_conf(conf_of(tmp_path, keystone, USERS['admin']))
    policy = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),),
                             allow_public=False)
    hub = hub_mod.Hub(store_mod.SQLiteHubStore(str(tmp_path / 'hub.db')), policy)
    mine, other = subscribers(), subscribers()
    endpoint = replay.local_endpoint('sqlite:///%s' % (tmp_path / 'nvs.db'))
    store = replay.local_store(endpoint)

    def keystone_says(n, project_id):
        # keystone's basic format: {'resource_info': id, 'request_id': ...}
        replay.process(endpoint, [{
            'message_id': str(uuid.UUID(int=n)), 'priority': 'INFO',
            'publisher_id': 'identity.keystone-1', 'event_type': 'identity.project.updated',
            'timestamp': '2026-12-05 08:00:%02d.000000' % n,
            'payload': {'resource_info': project_id, 'request_id': 'req-%d' % n}}])
        return [d for d in store.notifications(oldest_first=True)
                if d['message_id'] == str(uuid.UUID(int=n))]
    try:
        for sub, project_id in ((mine, project), (other, keystone.project_id('a-reader'))):
            hub.request({'hub.mode': 'subscribe', 'hub.callback': sub.url,
                         'hub.topic': Topic('notifications', project_id).url(BASE)},
                        lambda url: True, user_id='u-1')
        hub.run_once()
        assert hub.stats['verified'] == 2
        # Renamed, still enabled: nothing ends.
        fanout.publish(hub, notifications=keystone_says(1, project),
                       project_enabled=check)
        assert [g['hub.mode'] for g in mine.gets] == ['subscribe']
        keystone.session('admin').patch('%s/projects/%s' % (keystone.v3, project),
                                        json={'project': {'enabled': False}})
        fanout.publish(hub, notifications=keystone_says(2, project),
                       project_enabled=check)
        assert [g['hub.mode'] for g in mine.gets] == ['subscribe', 'denied']
        assert mine.gets[-1]['hub.reason'] == 'project %s is disabled' % project
        assert [g['hub.mode'] for g in other.gets] == ['subscribe']
    finally:
        hub.close()
        hub.store.close()
        store.close()
