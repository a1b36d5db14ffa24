"""Finished spans reach the subscribers of spans feeds end to end: a real
``ceilometer-agent-notification`` stores what oslo.messaging's Notifier sends
(nova's versioned create notifications, a failed one with its
``ExceptionPayload``), and the ``nvs-notif-hub`` process's tail publishes each
span when it finishes, to members subscribed with real Keystone tokens
through ``POST /v1/hub``, on SQLite, Elasticsearch and OpenSearch.

Project A's failures topic (``outcome=failure``) gets exactly A's failed
create with its exception, signed; A's spans topic gets it and A's
successful create, and the failed one again, same entry id with a later
``updated``, when a retry ends it; B's subscriber gets only B's."""
import time
import uuid

import feedparser

from nvs_notif.feeds.topics import Topic
from tests import atom_check
from tests.functional.test_hub_keystone import deployment  # noqa: F401 (a fixture)
from tests.functional.test_hub_keystone import entries, subscribe, wait_for
from tests.subscriber import Subscriber


def versioned(event, project, uuid_, host, fault=None):
    """nova's versioned ``InstanceActionPayload`` (``instance.create.*``)."""
    data = {'uuid': uuid_, 'host': host, 'node': host, 'tenant_id': project,
            'user_id': 'u-1', 'state': 'error' if fault else 'building', 'fault': fault,
            'availability_zone': 'az-1',
            'flavor': {'nova_object.name': 'FlavorPayload', 'nova_object.namespace': 'nova',
                       'nova_object.version': '1.4', 'nova_object.data': {'name': 'm1.small'}}}
    return {'nova_object.name': 'InstanceActionPayload', 'nova_object.namespace': 'nova',
            'nova_object.version': '1.8', 'nova_object.data': data}


NO_VALID_HOST = {'nova_object.name': 'ExceptionPayload', 'nova_object.namespace': 'nova',
                 'nova_object.version': '1.1', 'nova_object.data': {
                     'module_name': 'nova.exception', 'function_name': '_build_and_run_instance',
                     'exception': 'NoValidHost',
                     'exception_message': 'No valid host was found. There are not enough '
                                          'hosts available.', 'traceback': ''}}


def create(sender, project, request, host, outcome):
    """The start and the end (or error) of one create of ``request``."""
    context = {'request_id': request, 'project_id': project, 'user_id': 'u-1'}
    vm = str(uuid.uuid5(uuid.NAMESPACE_URL, request))
    sender.send('nova', 'nova-compute:' + host, 'INFO', 'instance.create.start',
                versioned('start', project, vm, host), context)
    if outcome == 'failure':
        sender.send('nova', 'nova-compute:' + host, 'ERROR', 'instance.create.error',
                    versioned('error', project, vm, host, NO_VALID_HOST), context)
    else:
        sender.send('nova', 'nova-compute:' + host, 'INFO', 'instance.create.end',
                    versioned('end', project, vm, host), context)


def received(sub, secret):
    """``(entry id, updated, title, summary)`` of every entry the subscriber
    got, in order; each delivery signed, a valid Atom document."""
    entries(sub, secret)        # checks the signatures
    got = []
    for _, body in sub.posts:
        assert atom_check.problems(body) == []
        got += [(e.id, e.updated, e.title, e.summary) for e in feedparser.parse(body).entries]
    return got


def test_finished_spans_reach_exactly_their_topics_subscribers(
        deployment, keystone, keystone_tokens, agent_factory, sender):
    api, url, hub = deployment
    agent_factory([url])
    project_a, project_b = keystone.project_id('a-member'), keystone.project_id('b-member')
    base = 'https' + api[len('http'):]
    failures_a, spans_a, spans_b = Subscriber(), Subscriber(), Subscriber()
    subs = ((failures_a, 'a-member', Topic('spans', project_a, outcome='failure')),
            (spans_a, 'a-member', Topic('spans', project_a)),
            (spans_b, 'b-member', Topic('spans', project_b)))
    failed, ok, other = ('req-%s' % uuid.uuid4() for _ in range(3))
    try:
        for sub, user, topic in subs:
            r = subscribe(api, keystone_tokens[user], topic.url(base), sub.url,
                          'secret-%d' % sub.port)
            assert r.status_code == 202, r.text
        wait_for(lambda: all(len(sub.gets) == 1 for sub, _, _ in subs))
        time.sleep(1)       # a hub round sees the subscriptions before the agent stores

        create(sender, project_a, failed, 'host-1', 'failure')
        create(sender, project_a, ok, 'host-2', 'success')
        create(sender, project_b, other, 'host-3', 'failure')
        wait_for(lambda: len(received(spans_a, 'secret-%d' % spans_a.port)) == 2
                 and len(received(spans_b, 'secret-%d' % spans_b.port)) == 1
                 and len(received(failures_a, 'secret-%d' % failures_a.port)) == 1)
        # The failed create is retried and ends: the same entry, updated.
        create(sender, project_a, failed, 'host-4', 'success')
        wait_for(lambda: len(received(spans_a, 'secret-%d' % spans_a.port)) == 3)
        time.sleep(2)       # nothing more comes
    finally:
        for sub, _, _ in subs:
            sub.stop()

    (failure_id, failed_at, title, summary), = received(
        failures_a, 'secret-%d' % failures_a.port)
    assert 'create failed' in title and 'NoValidHost' in title
    assert 'No valid host was found' in summary
    got_a = received(spans_a, 'secret-%d' % spans_a.port)
    assert sorted(got_a[:2]) == sorted([(failure_id, failed_at, title, summary),
                                        got_a[1] if got_a[0][0] == failure_id else got_a[0]])
    (again_id, again_at, again_title, _), = got_a[2:]
    assert again_id == failure_id and again_at > failed_at
    assert 'create succeeded' in again_title
    assert len({e[0] for e in got_a}) == 2
    (b_id, _, b_title, _), = received(spans_b, 'secret-%d' % spans_b.port)
    assert b_id not in {e[0] for e in got_a} and 'NoValidHost' in b_title
    for sub, _, topic in subs:
        for headers, _ in sub.posts:
            assert headers['Link'] == '<%s>; rel="hub", <%s>; rel="self"' % (
                base + '/v1/hub', topic.url(base))
