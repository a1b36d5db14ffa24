"""Feed topics (nvs_notif.feeds.topics) and the fan-out of new entries to the
hub (nvs_notif.feeds.fanout): notifications through the real pipeline into a
SQLite store, read back, rendered per subscribed topic and delivered by the
hub to real HTTP subscribers, each getting only its topic's entries."""
import hashlib
import hmac
import ipaddress

import feedparser
import pytest

from nvs_notif import replay
from nvs_notif.feeds import fanout
from nvs_notif.feeds import topics
from nvs_notif.feeds.topics import InvalidTopic, Topic
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from tests import atom_check
from tests.subscriber import subscribers  # noqa: F401 (a fixture)

BASE = 'https://api.example.test:8788'
HUB = BASE + '/v1/hub'


def test_urls_are_canonical_and_parse_back():
    cases = [Topic('notifications', 'p1'),
             Topic('notifications', 'p1', service='nova', priority='error'),
             Topic('notifications', None, event_type='compute.instance.create'),
             Topic('spans', 'p 2/&=', operation='compute.instance', outcome='failure')]
    for topic in cases:
        assert topics.parse(topic.url(BASE), BASE) == topic
    assert cases[1].url(BASE + '/') == (BASE + '/v1/feeds/notifications?priority=error'
                                        '&project_id=p1&service=nova')
    assert cases[2].url(BASE).endswith('?all_projects=true&event_type=compute.instance.create')
    assert cases[1].title == 'notifications (service nova, priority error) of project p1'
    assert cases[2].title == ('notifications (event type compute.instance.create) '
                              'of every project')


@pytest.mark.parametrize('url, reason', [
    ('https://evil.test/v1/feeds/notifications?project_id=p1', 'not a feed of this API'),
    (BASE + '/v1/feeds/events?project_id=p1', "no feed 'events'"),
    (BASE + '/v1/feeds/notifications', 'give project_id, or all_projects=true'),
    (BASE + '/v1/feeds/notifications?project_id', 'bad query'),
    (BASE + '/v1/feeds/notifications?project_id=p1&project_id=p2', 'a parameter is given twice'),
    (BASE + '/v1/feeds/notifications?project_id=p1&x=1', 'unknown parameter x'),
    (BASE + '/v1/feeds/spans?priority=error&project_id=p1', 'unknown parameter priority'),
    (BASE + '/v1/feeds/notifications?project_id=', 'empty, overlong or unprintable value'),
    (BASE + '/v1/feeds/notifications?project_id=%00', 'empty, overlong or unprintable value'),
    (BASE + '/v1/feeds/notifications?project_id=' + 'a' * 300,
     'empty, overlong or unprintable value'),
    (BASE + '/v1/feeds/notifications?service=nova', 'give project_id, or all_projects=true'),
    (BASE + '/v1/feeds/notifications?all_projects=true&project_id=p1',
     'give project_id, or all_projects=true'),
    (BASE + '/v1/feeds/notifications?all_projects=yes', 'give project_id, or all_projects=true'),
    (BASE + '/v1/feeds/notifications?priority=loud&project_id=p1', 'unknown priority'),
    (BASE + '/v1/feeds/spans?outcome=maybe&project_id=p1', 'outcome must be failure or success'),
    (BASE + '/v1/feeds/notifications?service=nova&project_id=p1', 'not the canonical URL'),
    (BASE + '/v1/feeds/notifications?project_id=p1#x', 'not the canonical URL'),
    (None, 'not a feed of this API'),
])
def test_other_urls_are_refused_with_the_reason(url, reason):
    with pytest.raises(InvalidTopic) as caught:
        topics.parse(url, BASE)
    assert str(caught.value).startswith(reason)


def message(n, project, event_type, priority='INFO', request='req', **payload):
    return {'message_id': '00000000-0000-4000-8000-%012d' % n, 'priority': priority,
            'publisher_id': 'compute.host-1', 'event_type': event_type,
            'timestamp': '2026-12-05 08:00:%02d.000000' % n,
            '_context_request_id': '%s-%s' % (request, project), '_context_project_id': project,
            'payload': dict({'instance_id': 'inst-' + project, 'tenant_id': project}, **payload)}


def test_new_entries_reach_exactly_the_subscribers_of_their_topics(tmp_path, subscribers):
    endpoint = replay.local_endpoint('sqlite:///%s' % (tmp_path / 'nvs.db'))
    replay.process(endpoint, [
        message(1, 'pA', 'compute.instance.create.start'),
        message(2, 'pA', 'compute.instance.create.error', 'ERROR',
                exception='NoValidHost: No valid host was found.'),
        message(3, 'pB', 'compute.instance.create.start'),
        message(4, 'pB', 'compute.instance.create.end', state='active',
                admin_password='PASSWORD-SECRET-9'),
    ])
    store = replay.local_store(endpoint)
    policy = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),),
                             allow_public=False)
    hub = hub_mod.Hub(store_mod.SQLiteHubStore(str(tmp_path / 'nvs.db')), policy)
    a_all, a_failures, b_all, admin_errors = (subscribers() for _ in range(4))
    wanted = {a_all: Topic('notifications', 'pA'),
              a_failures: Topic('spans', 'pA', outcome='failure'),
              b_all: Topic('notifications', 'pB'),
              admin_errors: Topic('notifications', None, priority='error')}
    try:
        for sub, topic in wanted.items():
            hub.request({'hub.mode': 'subscribe', 'hub.topic': topic.url(BASE),
                         'hub.callback': sub.url, 'hub.secret': 'key-%d' % sub.port},
                        lambda url: bool(topics.parse(url, BASE)))
        hub.run_once()
        assert hub.stats['verified'] == 4
        made = fanout.publish(hub, notifications=store.notifications(), spans=store.spans())
        assert made == 4
        hub.run_once()
    finally:
        hub.close()
        hub.store.close()

    got = {}
    for sub, topic in wanted.items():
        (headers, body), = sub.posts
        assert headers['X-Hub-Signature'] == 'sha256=' + hmac.new(
            b'key-%d' % sub.port, body, hashlib.sha256).hexdigest()
        assert headers['Content-Type'] == 'application/atom+xml'
        assert headers['Link'] == '<%s>; rel="hub", <%s>; rel="self"' % (HUB, topic.url(BASE))
        parsed = feedparser.parse(body)
        assert not parsed.bozo and atom_check.problems(body) == []
        assert atom_check.links(body)['self'] == [topic.url(BASE)]
        assert b'PASSWORD-SECRET-9' not in body
        got[sub] = [e.title for e in parsed.entries]
    assert got[a_all] == [
        'compute.instance.create.error on host-1 (ERROR): NoValidHost: No valid host was found.',
        'compute.instance.create.start on host-1']
    assert got[a_failures] == ['compute.instance.create failed in 1.0 s on host-1: '
                               'NoValidHost: No valid host was found.']
    assert got[b_all] == ['compute.instance.create.end on host-1',
                          'compute.instance.create.start on host-1']
    assert got[admin_errors] == got[a_all][:1]


def test_documents_skip_topics_without_new_entries_and_open_spans():
    assert list(fanout.documents([Topic('notifications', 'p9').url(BASE)],
                                 notifications=[{'project_id': 'p1'}])) == []
    assert list(fanout.documents(['https://elsewhere.example/feed'],
                                 notifications=[{'project_id': 'p1'}])) == []
