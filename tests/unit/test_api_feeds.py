"""``/v1/feeds/notifications`` over a SQLite store of two projects (the API's
test pipeline, tests/unit/api_support.py): valid Atom (feedparser and the RFC
4287 checks), the topic's canonical self link, a project's entries only."""
import pytest
from werkzeug import test as wtest

from nvs_notif.feeds import entries
from nvs_notif.feeds import topics
from tests import atom_check
from tests.unit import api_support as s

NOT_A = s.not_a()
BASE = 'http://localhost/'


@pytest.fixture(scope='module')
def client(tmp_path_factory):
    url = 'sqlite:///%s' % (tmp_path_factory.mktemp('feeds') / 'nvs.db')
    s.fill(url)
    app, store = s.make_api(url, default_limit=50)
    yield wtest.Client(app)
    store.close()


get = s.get
valid = s.valid_atom


def test_a_reader_gets_a_feed_of_a_only_with_the_topic_as_self(client):
    body, parsed = valid(get(client, '/v1/feeds/notifications'))
    topic = topics.Topic('notifications', s.PROJECT_A).url(BASE)
    assert atom_check.links(body)['self'] == [topic]
    assert get(client, '/v1/feeds/notifications').headers['Link'] == (
        '<%s>; rel="hub", <%s>; rel="self"' % (topics.hub_url(BASE), topic))
    assert atom_check.links(body)['hub'] == [topics.hub_url(BASE)]
    assert parsed.entries and not any(m in body.decode() for m in NOT_A)
    # The self link is the same feed.
    assert valid(get(client, topic[len(BASE) - 1:]))[0] == body
    # Each entry points at the notification's JSON document, which answers.
    first = parsed.entries[0]
    (src,) = [link.href for link in first.links if link.rel == 'alternate']
    r = get(client, src[len(BASE) - 1:])
    assert r.status_code == 200
    assert entries.entry_uuid(entries.NOTIFICATION_NAMESPACE,
                              r.json['notification']['message_id']) == first.id


def test_filters_make_their_topic(client):
    body, parsed = valid(get(client, '/v1/feeds/notifications?priority=error&service=nova'))
    assert atom_check.links(body)['self'] == [topics.Topic(
        'notifications', s.PROJECT_A, service='nova', priority='error').url(BASE)]
    assert parsed.entries
    assert all({'error', 'nova'} <= {t.term for t in e.tags} for e in parsed.entries)


def test_admin_reads_every_project(client):
    body, parsed = valid(get(client, '/v1/feeds/notifications?all_projects=true', 'tok-admin'))
    assert atom_check.links(body)['self'] == [topics.Topic('notifications', None).url(BASE)]
    assert s.PROJECT_B in body.decode() and s.PROJECT_A in body.decode()


@pytest.mark.parametrize('path, token, status', [
    ('/v1/feeds/notifications', None, 401),
    ('/v1/feeds/notifications', 'tok-norole-a', 403),
    ('/v1/feeds/notifications?all_projects=true', 'tok-reader-a', 403),
    ('/v1/feeds/notifications?project_id=' + s.PROJECT_B, 'tok-reader-a', 403),
    ('/v1/feeds/notifications?priority=loud', 'tok-reader-a', 400),
    ('/v1/feeds/notifications?limit=0', 'tok-reader-a', 400),
    ('/v1/feeds/notifications?bogus=1', 'tok-reader-a', 400),
])
def test_refusals(client, path, token, status):
    r = get(client, path, token)
    assert r.status_code == status
    assert not any(m in r.get_data(as_text=True) for m in NOT_A)


def test_topic_urls_keep_the_prefix_the_api_is_served_at(client):
    r = client.get('/v1/feeds/notifications', headers={'X-Auth-Token': 'tok-reader-a'},
                   environ_overrides={'SCRIPT_NAME': '/nvs-notif'})
    body, _ = valid(r)
    topic = topics.Topic('notifications', s.PROJECT_A).url('http://localhost/nvs-notif')
    assert atom_check.links(body)['self'] == [topic]
    assert topic.startswith('http://localhost/nvs-notif/v1/feeds/notifications?')
