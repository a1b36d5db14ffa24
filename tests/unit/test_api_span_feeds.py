"""``/v1/feeds/spans`` and the RFC 5005 archive pages of both feeds over a
SQLite store filled by the real pipeline: valid Atom (feedparser and the RFC
4287 checks), a project's finished spans only, the errors feed, and archive
pages reached by ``prev-archive`` that hold every older entry once and are
the same bytes on every fetch, also after new entries were stored."""
import datetime

import pytest
from werkzeug import test as wtest

from nvs_notif.api import feeds as api_feeds
from nvs_notif import replay
from nvs_notif.feeds import archive
from nvs_notif.feeds import topics
from nvs_notif import timeutil
from tests import atom_check
from tests.unit import api_support as s

BASE = 'http://localhost/'
#: Spans of project A older than the settle time (every 10 s, one in 7 failed),
#: and a few newer ones: enough for several archive pages.
OLD, NEW = 700, 5
SETTLE = 600


def create(n, project, label, seconds_ago, failed):
    request = 'req-%s-%04d' % (label, n)
    start = s.message(2 * n, 'compute.instance.create.start', seconds_ago + 5, label, project,
                      request, 'host-%s' % label)
    if failed:
        end = s.message(2 * n + 1, 'compute.instance.create.error', seconds_ago, label, project,
                        request, 'host-%s' % label, priority='ERROR',
                        exception="NoValidHost(u'No valid host was found.')")
    else:
        end = s.message(2 * n + 1, 'compute.instance.create.end', seconds_ago, label, project,
                        request, 'host-%s' % label)
    return [start, end]


def creates(project, label, count, newest_ago, first=0):
    """``count`` creates, every 10 s, the newest ``newest_ago`` seconds ago."""
    out = []
    for n in range(first, first + count):
        out += create(n, project, label, newest_ago + 10 * (first + count - n), n % 7 == 3)
    return out


@pytest.fixture(scope='module')
def api(tmp_path_factory):
    url = 'sqlite:///%s' % (tmp_path_factory.mktemp('span-feeds') / 'nvs.db')
    endpoint = replay.local_endpoint(url)
    replay.process(endpoint, creates(s.PROJECT_A, 'a', OLD, SETTLE * 2)
                   + creates(s.PROJECT_B, 'b', 50, SETTLE * 2))
    app, store = s.make_api(url, default_limit=50, archive_settle_seconds=SETTLE)
    yield wtest.Client(app), endpoint
    store.close()
    replay.local_store(endpoint).close()


get = s.get
valid = s.valid_atom


def local(url):
    return url[len(BASE) - 1:]


def test_the_spans_feed_is_the_newest_finished_spans_of_the_project(api):
    client, _ = api
    body, parsed = valid(get(client, '/v1/feeds/spans'))
    topic = topics.Topic('spans', s.PROJECT_A).url(BASE)
    assert atom_check.links(body)['self'] == [topic]
    assert get(client, '/v1/feeds/spans').headers['Link'] == (
        '<%s>; rel="hub", <%s>; rel="self"' % (topics.hub_url(BASE), topic))
    assert len(parsed.entries) == 50
    assert 'req-b-' not in body.decode() and s.PROJECT_B not in body.decode()
    updated = [e.updated_parsed for e in parsed.entries]
    assert updated == sorted(updated, reverse=True)
    assert parsed.entries[0].title.startswith('compute.instance.create ')


def test_the_errors_feed_holds_failed_creates_with_their_exception(api):
    client, _ = api
    body, parsed = valid(get(client, '/v1/feeds/spans?outcome=failure&service=nova'))
    assert atom_check.links(body)['self'] == [topics.Topic(
        'spans', s.PROJECT_A, service='nova', outcome='failure').url(BASE)]
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.title.startswith('compute.instance.create failed in 5.0 s on host-a: '
                                      'NoValidHost'), entry.title
        assert {'failure', 'nova'} <= {t.term for t in entry.tags}


def test_admins_read_every_projects_spans(api):
    client, _ = api
    body, _ = valid(get(client, '/v1/feeds/spans?all_projects=true&limit=1000', 'tok-admin'))
    assert s.PROJECT_A in body.decode() and s.PROJECT_B in body.decode()


def walk(client, url, kind='spans', current=None):
    """Every archive page from ``url`` back: ``[(url, body)]``; each names
    ``current`` (default: the kind's topic of A) as its subscription document."""
    pages = []
    while url:
        body, _ = valid(get(client, local(url)))
        assert atom_check.is_archive(body)
        links = atom_check.links(body)
        assert links['self'] == [url]
        assert links['current'] == [current or topics.Topic(kind, s.PROJECT_A).url(BASE)]
        pages.append((url, body))
        url = (links.get('prev-archive') or [None])[0]
    return pages


def test_archive_pages_hold_every_older_span_once_and_never_change(api):
    client, endpoint = api
    body, parsed = valid(get(client, '/v1/feeds/spans'))
    prev, = atom_check.links(body)['prev-archive']
    pages = walk(client, prev)
    assert len(pages) >= 3
    ids = [i for _, page in pages for i in atom_check.entry_ids(page)]
    assert len(ids) == len(set(ids))
    # The chain reaches the oldest span: the subscription document and the
    # pages hold every finished span of A.
    assert len(set(ids) | {e.id for e in parsed.entries}) == OLD
    # A second fetch, and one after newer spans were stored, is the same bytes.
    replay.process(endpoint, creates(s.PROJECT_A, 'a', NEW, 0, first=OLD))
    assert [(u, valid(get(client, local(u)))[0]) for u, _ in pages] == pages
    # The subscription document's link may move with new entries; its chain
    # meets the pages a client already has (at a boundary page) and goes on
    # through the same pages.
    again, = atom_check.links(valid(get(client, '/v1/feeds/spans'))[0])['prev-archive']
    chain = walk(client, again)
    assert chain[-(len(pages) - 1):] == pages[1:]
    # Another project's reader cannot read A's pages (their URL names A).
    r = get(client, local(prev), 'tok-reader-b')
    assert r.status_code == 403 and s.PROJECT_A not in r.get_data(as_text=True)


def test_notification_archive_pages_in_ingest_order_never_change(api):
    client, endpoint = api
    body, parsed = valid(get(client, '/v1/feeds/notifications?limit=100'))
    prev, = atom_check.links(body)['prev-archive']
    pages = walk(client, prev, 'notifications')
    ids = [i for _, page in pages for i in atom_check.entry_ids(page)]
    assert len(ids) == len(set(ids))
    # Every notification of A, once (a page may repeat what the feed shows).
    stored = replay.local_store(endpoint).notifications(project_id=s.PROJECT_A)
    assert len(set(ids) | {e.id for e in parsed.entries}) == len(list(stored))
    assert not any(s.PROJECT_B in page.decode() for _, page in pages)
    replay.process(endpoint, creates(s.PROJECT_A, 'a', 3, 0, first=OLD + NEW))
    assert [(u, valid(get(client, local(u)))[0]) for u, _ in pages] == pages
    errors, _ = valid(get(client, '/v1/feeds/notifications?priority=error&limit=5'))
    for _, page in walk(client, atom_check.links(errors)['prev-archive'][0], 'notifications',
                        atom_check.links(errors)['self'][0]):
        assert all('(ERROR)' in t for t in atom_check.entry_titles(page))


def test_unsettled_and_foreign_markers_are_refused(api):
    client, _ = api
    now = timeutil.iso(timeutil.utcnow() - datetime.timedelta(seconds=5))
    fresh = api_feeds.marker_text('%s %s' % (now, 'f' * 40))
    assert get(client, '/v1/feeds/spans/archive?marker=' + fresh).status_code == 404
    assert get(client, '/v1/feeds/spans/archive?marker=bm90IGEgcG9zaXRpb24').status_code == 400
    assert get(client, '/v1/feeds/spans/archive').status_code == 400
    assert get(client, '/v1/feeds/spans/archive?marker=x&limit=3').status_code == 400
    for marker in ('bm90IGEgcG9zaXRpb24', api_feeds.marker_text('9' * 20)):
        r = get(client, '/v1/feeds/notifications/archive?marker=' + marker)
        assert r.status_code in (400, 404), r.get_data(as_text=True)


def test_an_archive_page_whose_marker_expired_keeps_the_rest_of_its_entries():
    def item(n):
        return archive.Item('%04d' % n, type('E', (), {'id': 'urn:uuid:%d' % n})())
    items = [item(n) for n in range(300, 0, -1)]
    boundaries = [i for i in items if archive.is_boundary(i.entry.id)]
    first = items.index(boundaries[0])
    # The page named by an entry that is gone: what follows it, down to the boundary.
    page = archive.archive_page(items[first - 3:], marker='9999')
    assert page.items[0] == items[first - 3] and page.prev_marker == boundaries[0].marker
    assert archive.archive_page(items[first:], marker='9999') == archive.Page(
        (), boundaries[0].marker)
