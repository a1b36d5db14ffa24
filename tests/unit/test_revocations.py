"""Keystone's notifications ending subscriptions (nvs_notif.feeds.revocations):
payloads built as keystone 30 builds them (``keystone/notifications.py``: the
basic format's dict, the CADF events with pycadf, as ``_send_audit_notification``
does), through the real pipeline into SQLite, read back, and handed to the hub
with the new entries (``fanout.publish``), with real HTTP subscribers."""
import ipaddress
import sqlite3

import pytest
from pycadf import cadftaxonomy as taxonomy
from pycadf import cadftype
from pycadf import eventfactory
from pycadf import resource

from nvs_notif import replay
from nvs_notif.feeds import fanout
from nvs_notif.feeds import revocations
from nvs_notif.feeds.revocations import Revocation
from nvs_notif.feeds.topics import Topic
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from nvs_notif.websub.subscriptions import Subscription
from tests.subscriber import subscribers  # noqa: F401 (a fixture)

BASE = 'https://api.example.test:8788'
PA, PB = 'a1b2c3d4e5f60718293a4b5c6d7e8f90', 'b1b2c3d4e5f60718293a4b5c6d7e8f90'
ALICE, BOB = 'u-alice-0000000000000000000000001', 'u-bob-00000000000000000000000000002'


def basic(resource_id):
    """keystone's ``_send_notification`` payload (notification_format = basic)."""
    return {'resource_info': resource_id, 'request_id': 'req-0f0e0d0c-1111-2222-3333-444455556666'}


def cadf(action, target, outcome=taxonomy.OUTCOME_SUCCESS, **kwargs):
    """keystone's ``_send_audit_notification`` payload: a pycadf event as a dict."""
    initiator = resource.Resource(typeURI=taxonomy.ACCOUNT_USER, id='u-admin')
    initiator.request_id = 'req-0f0e0d0c-1111-2222-3333-444455556666'
    event = eventfactory.EventFactory().new_event(
        eventType=cadftype.EVENTTYPE_ACTIVITY, outcome=outcome, action=action,
        initiator=initiator, target=target,
        observer=resource.Resource(typeURI=taxonomy.SERVICE_SECURITY))
    for key, value in kwargs.items():
        setattr(event, key, value)
    return event.as_dict()


def project_event(operation, project_id, kind='project', type_uri=taxonomy.SECURITY_PROJECT):
    """``_create_cadf_payload`` of a project (notification_format = cadf)."""
    return cadf('%s.%s' % (operation, kind), resource.Resource(typeURI=type_uri, id=project_id),
                resource_info=project_id)


def role_removed(outcome=taxonomy.OUTCOME_SUCCESS, **actors):
    """``CadfRoleAssignmentNotificationWrapper('deleted')``: always CADF."""
    return cadf('deleted.role_assignment', resource.Resource(typeURI=taxonomy.ACCOUNT_USER),
                outcome, inherited_to_projects=False, role='r-member', **actors)


def doc(event_type, payload):
    return {'event_type': event_type, 'payload': payload}


@pytest.mark.parametrize('event_type, payload, wanted', [
    ('identity.project.deleted', basic(PA), Revocation('project %s was deleted' % PA, PA)),
    ('identity.project.deleted', project_event('deleted', PA),
     Revocation('project %s was deleted' % PA, PA)),
    ('identity.project.updated', basic(PA),
     Revocation('project %s is disabled' % PA, PA, confirm=True)),
    ('identity.project.updated', project_event('updated', PA),
     Revocation('project %s is disabled' % PA, PA, confirm=True)),
    ('identity.role_assignment.deleted', role_removed(project=PA, user=ALICE),
     Revocation('role removed from user %s on project %s' % (ALICE, PA), PA, ALICE)),
    ('identity.role_assignment.deleted', role_removed(project=PA, group='g-ops'),
     Revocation('role removed from group g-ops on project %s' % PA, PA)),
    ('identity.role_assignment.deleted', role_removed(domain='default', user=ALICE),
     Revocation('role removed from user %s on domain default' % ALICE, user_id=ALICE)),
    ('identity.user.deleted', basic(ALICE), Revocation('user %s was deleted' % ALICE,
                                                       user_id=ALICE)),
    # What takes nothing away, or says too little to act on.
    ('identity.role_assignment.deleted',
     role_removed(taxonomy.OUTCOME_FAILURE, project=PA, user=ALICE), None),
    ('identity.role_assignment.deleted', role_removed(domain='default', group='g-ops'), None),
    ('identity.role_assignment.created', role_removed(project=PA, user=ALICE), None),
    ('identity.project.created', basic(PA), None),
    ('identity.project.deleted', {'resource_info': ''}, None),
    ('identity.project.deleted', {'resource_info': ['x']}, None),
    ('identity.project.deleted', 'not a dict', None),
    ('compute.instance.delete.end', basic(PA), None),
])
def test_keystone_notifications_map_to_the_subscriptions_they_end(event_type, payload, wanted):
    assert revocations.revocation(doc(event_type, payload)) == wanted


def keystone_message(n, event_type, payload):
    """As keystone's notifier sends it (publisher ``identity.<host>``, empty context)."""
    return {'message_id': '00000000-0000-4000-8000-%012d' % n, 'priority': 'INFO',
            'publisher_id': 'identity.keystone-1', 'event_type': event_type,
            'timestamp': '2026-12-05 08:00:%02d.000000' % n, 'payload': payload}


@pytest.fixture
def hub(tmp_path):
    policy = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),),
                             allow_public=False)
    hub = hub_mod.Hub(store_mod.SQLiteHubStore(str(tmp_path / 'hub.db')), policy)
    yield hub
    hub.close()
    hub.store.close()


def subscribe(hub, plan):
    """``plan``: ``{subscriber: (topic, user id)}``, each verified."""
    for sub, (topic, user) in plan.items():
        hub.request({'hub.mode': 'subscribe', 'hub.topic': topic.url(BASE),
                     'hub.callback': sub.url}, lambda url: True, user_id=user)
    hub.run_once()
    assert hub.stats['verified'] == len(plan)


def modes(sub):
    return [g['hub.mode'] for g in sub.gets]


def stored(tmp_path, *messages):
    """The notification documents of ``messages`` after the real pipeline
    stored them (what a store tail hands fanout.publish)."""
    endpoint = replay.local_endpoint('sqlite:///%s' % (tmp_path / 'nvs.db'))
    replay.process(endpoint, list(messages))
    return list(replay.local_store(endpoint).notifications(oldest_first=True))


def test_a_deleted_project_and_a_removed_role_end_exactly_their_subscriptions(
        tmp_path, hub, subscribers):
    alice_a, alice_a_spans, bob_a, bob_b, admin_all = (subscribers() for _ in range(5))
    subscribe(hub, {alice_a: (Topic('notifications', PA), ALICE),
                    alice_a_spans: (Topic('spans', PA, outcome='failure'), ALICE),
                    bob_a: (Topic('notifications', PA), BOB),
                    bob_b: (Topic('notifications', PB), BOB),
                    admin_all: (Topic('notifications', None), 'u-admin')})
    # Alice loses her role on A: her two subscriptions to A end, Bob's stay.
    fanout.publish(hub, notifications=stored(tmp_path, keystone_message(
        1, 'identity.role_assignment.deleted', role_removed(project=PA, user=ALICE))))
    assert [modes(s)[-1] for s in (alice_a, alice_a_spans)] == ['denied', 'denied']
    assert alice_a.gets[-1]['hub.reason'] == 'role removed from user %s on project %s' % (
        ALICE, PA)
    assert [modes(s) for s in (bob_a, bob_b)] == [['subscribe'], ['subscribe']]
    # A is deleted (basic format): Bob's subscription to A ends; B's and the admin's stay.
    fanout.publish(hub, notifications=stored(tmp_path, keystone_message(
        2, 'identity.project.deleted', basic(PA))))
    assert modes(bob_a) == ['subscribe', 'denied']
    assert hub.store.topics(hub.clock()) == sorted(
        [Topic('notifications', PB).url(BASE), Topic('notifications', None).url(BASE)])
    hub.run_once()      # keystone's notifications reach the admin's feed of every project
    bodies = b''.join(body for _, body in admin_all.posts)
    assert b'identity.role_assignment.deleted' in bodies
    assert b'identity.project.deleted' in bodies
    assert modes(admin_all) == ['subscribe'] and not bob_b.posts


@pytest.mark.parametrize('enabled, ended', [(True, 0), (False, 1)])
def test_an_updated_project_ends_its_subscriptions_only_when_keystone_says_disabled(
        tmp_path, hub, subscribers, enabled, ended):
    a = subscribers()
    subscribe(hub, {a: (Topic('notifications', PA), ALICE)})
    asked = []

    def project_enabled(project_id):
        asked.append(project_id)
        return enabled
    updated, = stored(tmp_path, keystone_message(3, 'identity.project.updated',
                                                 project_event('updated', PA)))
    assert revocations.revoke(hub, revocations.revocation(updated),
                              project_enabled) == ended
    assert asked == [PA]
    assert modes(a) == ['subscribe', 'denied'][:1 + ended]
    # Without a way to ask Keystone, an update ends nothing.
    assert revocations.revoke(hub, revocations.revocation(updated)) == 0


def test_a_deleted_user_loses_every_subscription_in_every_project(tmp_path, hub, subscribers):
    alice_a, alice_all, bob_a = (subscribers() for _ in range(3))
    subscribe(hub, {alice_a: (Topic('notifications', PA), ALICE),
                    alice_all: (Topic('spans', None), ALICE),
                    bob_a: (Topic('notifications', PA), BOB)})
    fanout.publish(hub, notifications=stored(tmp_path, keystone_message(
        4, 'identity.user.deleted',
        project_event('deleted', ALICE, 'user', taxonomy.SECURITY_ACCOUNT_USER))))
    assert [modes(s)[-1] for s in (alice_a, alice_all, bob_a)] == [
        'denied', 'denied', 'subscribe']


def test_hub_tables_of_an_earlier_release_get_the_user_column(tmp_path):
    path = str(tmp_path / 'old.db')
    old = sqlite3.connect(path)
    old.executescript(
        'CREATE TABLE websub_subscriptions (topic TEXT NOT NULL, callback TEXT NOT NULL,'
        ' secret TEXT, expires REAL NOT NULL, PRIMARY KEY (topic, callback));'
        "INSERT INTO websub_subscriptions VALUES ('t', 'http://127.0.0.1/cb', NULL, 9e9);"
        'CREATE TABLE websub_intents (id INTEGER PRIMARY KEY, mode TEXT NOT NULL,'
        ' topic TEXT NOT NULL, callback TEXT NOT NULL, lease_seconds INTEGER, secret TEXT,'
        ' received REAL NOT NULL, claimed_until REAL NOT NULL);')
    old.close()
    store = store_mod.SQLiteHubStore(path)
    try:
        now = store_mod.time_of(0)
        kept, = store.subscriptions('t', now)
        assert kept.user_id is None
        store.put_subscription(Subscription('t2', kept.callback, kept.expires, None, ALICE))
        assert [s.user_id for s in store.subscriptions('t2', now)] == [ALICE]
    finally:
        store.close()
