"""Keystone's own notifications end subscriptions end to end: members of
project A subscribe with their real Keystone tokens (``POST /v1/hub``, the
token's user kept with the subscription); keystone's
``identity.role_assignment.deleted`` (CADF, as keystone 30 sends it) and then
``identity.project.deleted`` (basic format) go through the agent's pipeline
into the store, and the ``nvs-notif-hub`` process's tail ends exactly the
subscriptions they concern, each with a ``hub.mode=denied`` notice, on
SQLite, Elasticsearch and OpenSearch."""
import time
import uuid

from pycadf import cadftaxonomy as taxonomy
from pycadf import cadftype
from pycadf import eventfactory
from pycadf import resource

from nvs_notif import replay
from nvs_notif.feeds.topics import Topic
from tests.functional.test_hub_keystone import deployment  # noqa: F401 (a fixture)
from tests.functional.test_hub_keystone import note, subscribe, wait_for
from tests.subscriber import Subscriber


def keystone_notification(event_type, payload):
    """As keystone's notifier sends it: publisher ``identity.<host>``, empty context."""
    return {'message_id': str(uuid.uuid4()), 'event_type': event_type, 'priority': 'INFO',
            'publisher_id': 'identity.keystone-1',
            'timestamp': time.strftime('%Y-%m-%d %H:%M:%S.000000', time.gmtime()),
            'payload': payload}


def role_removed(user_id, project_id):
    """keystone's ``CadfRoleAssignmentNotificationWrapper('deleted')`` payload."""
    event = eventfactory.EventFactory().new_event(
        eventType=cadftype.EVENTTYPE_ACTIVITY, outcome=taxonomy.OUTCOME_SUCCESS,
        action='deleted.role_assignment',
        initiator=resource.Resource(typeURI=taxonomy.ACCOUNT_USER, id=str(uuid.uuid4())),
        target=resource.Resource(typeURI=taxonomy.ACCOUNT_USER),
        observer=resource.Resource(typeURI=taxonomy.SERVICE_SECURITY))
    for key, value in (('project', project_id), ('user', user_id), ('role', 'member-role-id'),
                       ('inherited_to_projects', False)):
        setattr(event, key, value)
    return event.as_dict()


def modes(sub):
    return [g['hub.mode'] for g in sub.gets]


def test_a_removed_role_and_a_deleted_project_end_exactly_their_subscriptions(
        deployment, keystone, keystone_tokens):
    api, url, hub = deployment
    project_a, project_b = keystone.project_id('a-member'), keystone.project_id('b-member')
    member_a = keystone.session('a-member').get_user_id()
    endpoint = replay.local_endpoint(url)
    subs = {key: Subscriber() for key in ('a-member', 'a-reader', 'b-member')}
    try:
        base = 'https' + api[len('http'):]
        for key, sub in subs.items():
            project = project_b if key.startswith('b-') else project_a
            r = subscribe(api, keystone_tokens[key], Topic('notifications', project).url(base),
                          sub.url, 'secret-%s' % key)
            assert r.status_code == 202, r.text
        wait_for(lambda: all(modes(s) == ['subscribe'] for s in subs.values()))
        time.sleep(1)       # a hub round sees the subscriptions

        # A's member loses the role: only their subscription ends.
        replay.process(endpoint, [keystone_notification(
            'identity.role_assignment.deleted', role_removed(member_a, project_a))])
        wait_for(lambda: modes(subs['a-member']) == ['subscribe', 'denied'])
        assert subs['a-member'].gets[-1]['hub.reason'] == (
            'role removed from user %s on project %s' % (member_a, project_a))
        entry = note(project_a, 1)
        replay.process(endpoint, [entry])
        wait_for(lambda: any(entry['message_id'].encode() in body
                             for _, body in subs['a-reader'].posts))
        assert not subs['a-member'].posts

        # A is deleted (keystone's basic format): A's reader's subscription ends; B's stays.
        replay.process(endpoint, [keystone_notification(
            'identity.project.deleted', {'resource_info': project_a,
                                         'request_id': 'req-%s' % uuid.uuid4()})])
        wait_for(lambda: modes(subs['a-reader']) == ['subscribe', 'denied'])
        replay.process(endpoint, [note(project_b, 2)])
        wait_for(lambda: len(subs['b-member'].posts) == 1)
        assert modes(subs['b-member']) == ['subscribe']
    finally:
        for sub in subs.values():
            sub.stop()
        replay.local_store(endpoint).close()
