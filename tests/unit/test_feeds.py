"""Atom feeds (nvs_notif.feeds): entries of notifications and spans, the XML,
RFC 5005 archive pages.  Every document is parsed by feedparser and checked
against RFC 4287's requirements (tests/atom_check.py)."""
import datetime
import uuid

import feedparser
import pytest

from nvs_notif import replay
from nvs_notif import spans
from nvs_notif.faults import Fault
from nvs_notif.feeds import archive
from nvs_notif.feeds import atom
from nvs_notif.feeds import entries
from tests import atom_check

T0 = datetime.datetime(2026, 12, 5, 8, 0, 0, tzinfo=datetime.timezone.utc)
FEED = atom.Feed(topic='https://api.example.test/v1/feeds/projects/p1',
                 title='Notifications of project p1', hub='https://api.example.test/v1/hub')


def doc(message_id='a2f1c1d4-7a52-4c8e-9d61-0b9f1e7f3a10', seconds=0, **fields):
    d = {'message_id': message_id, 'timestamp': (T0 + datetime.timedelta(seconds=seconds)).isoformat(),
         'event_type': 'compute.instance.create.end', 'operation': 'compute.instance.create',
         'phase': 'end', 'priority': 'info', 'publisher_id': 'nova-compute:host-1',
         'service': 'nova', 'host': 'host-1', 'request_id': 'req-1', 'project_id': 'p1',
         'user_id': 'u1', 'resource_type': 'instance', 'resource_id': 'inst-1',
         'state': 'active', 'payload': {'instance_id': 'inst-1', 'state': 'active'},
         'error_type': None, 'error_message': None}
    d.update(fields)
    return d


def failed_create(**fields):
    s = spans.Span(span_id='0123456789abcdef0123456789abcdef01234567',
                   operation='compute.instance.create', service='nova', host='host-2',
                   hosts=frozenset(('host-1', 'host-2')), request_id='req-9', project_id='p1',
                   resource_type='instance', resource_id='inst-9', start=T0, last_start=T0,
                   failed=T0 + datetime.timedelta(seconds=42),
                   fault=Fault('NoValidHost', 'No valid host was found.', 500, None),
                   start_ids=frozenset(('s1',)), error_ids=frozenset(('e1',)))
    for k, v in fields.items():
        setattr(s, k, v)
    return s


def check(document):
    """Parse with feedparser (no bozo) and with the RFC 4287 checks; the parsed feed."""
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get('bozo_exception')
    assert parsed.version == 'atom10'
    assert atom_check.problems(document) == []
    return parsed


def test_notification_feed_is_valid_atom_with_self_hub_and_readable_entries():
    body = atom.document(FEED, [entries.notification_entry(doc()),
                                entries.notification_entry(doc(
                                    'b0000000-0000-4000-8000-000000000001', 5,
                                    event_type='compute.instance.create.error', priority='error',
                                    error_type='NoValidHost', error_message='No valid host'))])
    parsed = check(body)
    assert parsed.feed.id == atom.Feed(FEED.topic, 'x').id        # a function of the topic
    assert atom_check.links(body) == {'self': [FEED.topic], 'hub': [FEED.hub]}
    assert not atom_check.is_archive(body)
    first, second = parsed.entries
    assert first.id == 'urn:uuid:a2f1c1d4-7a52-4c8e-9d61-0b9f1e7f3a10'
    assert first.title == 'compute.instance.create.end on host-1'
    assert first.author == 'nova-compute:host-1'
    assert 'request: req-1' in first.summary and 'project: p1' in first.summary
    assert first.content[0].type == 'text/plain'
    assert '"instance_id": "inst-1"' in first.content[0].value       # the payload, as text
    assert second.title == ('compute.instance.create.error on host-1 (ERROR): '
                            'NoValidHost: No valid host')
    assert {t.term for t in second.tags} == {'nova', 'compute.instance.create',
                                             'compute.instance.create.error', 'error'}
    assert parsed.feed.updated == '2026-12-05T08:00:05Z'           # the newest entry


def test_content_src_points_at_the_json_document_never_inlines_json():
    url = 'https://api.example.test/v1/notifications/a2f1c1d4'
    body = atom.document(FEED, [entries.notification_entry(doc(), json_url=url)])
    parsed = check(body)
    (entry,) = parsed.entries
    assert b'"instance_id"' not in body                              # no payload inline
    assert [link.href for link in entry.links if link.rel == 'alternate'] == [url]
    assert b'<content type="application/json" src="%s"/>' % url.encode() in body


def test_failed_span_entry_names_the_exception_and_keeps_its_id_when_finished_again():
    span = failed_create()
    entry = entries.span_entry(span)
    assert entry.title == ('compute.instance.create failed in 42.0 s on host-2: '
                           'NoValidHost: No valid host was found.')
    assert entry.updated == T0 + datetime.timedelta(seconds=42)
    assert 'hosts: host-1, host-2' in entry.text and 'error code: 500' in entry.text
    check(atom.document(FEED, [entry]))
    # A later attempt starts and succeeds: same entry id, a new updated.
    again = failed_create(last_start=T0 + datetime.timedelta(seconds=60),
                          end=T0 + datetime.timedelta(seconds=90),
                          start_ids=frozenset(('s1', 's2')))
    later = entries.span_entry(again)
    assert later.id == entry.id and later.updated == T0 + datetime.timedelta(seconds=90)
    assert later.title.startswith('compute.instance.create succeeded in 90.0 s')
    # While open there is no entry.
    assert entries.span_entry(failed_create(last_start=T0 + datetime.timedelta(seconds=60))) is None


def test_ids_are_stable_urn_uuids_for_any_message_id():
    for message_id in ('not-a-uuid', '', 'x' * 10000, 'ünïcødé', '\x00\ud800'):
        e = entries.notification_entry(doc(message_id))
        assert e.id.startswith('urn:uuid:')
        uuid.UUID(e.id[len('urn:uuid:'):])
        assert e.id == entries.notification_entry(doc(message_id)).id
    assert entries.notification_entry(doc('n1')).id != entries.notification_entry(doc('n2')).id


@pytest.mark.parametrize('hostile', [
    'bell\x07 nul\x00 esc\x1b vt\x0b ff\x0c', 'lone surrogate \ud800 and \udfff',
    'non-characters \ufffe\uffff', ']]> <![CDATA[ & </entry> <script>', 'ünïcødé 漢字 😀 RTL \u202e',
    'y' * 300000,
])
def test_hostile_text_stays_well_formed_bounded_and_readable(hostile):
    d = doc(event_type=hostile, publisher_id=hostile, host=hostile, request_id=hostile,
            error_type=hostile, error_message=hostile,
            payload={hostile[:100]: hostile, 'list': [hostile] * 3})
    span = failed_create(operation=hostile, host=hostile,
                         fault=Fault(hostile, hostile, None, hostile))
    body = atom.document(atom.Feed(FEED.topic, hostile[:100], FEED.hub),
                         [entries.notification_entry(d), entries.span_entry(span)])
    parsed = check(body)
    assert len(body) < 4 * (entries.CONTENT_LIMIT + 10 * entries.SUMMARY_LIMIT)   # bounded
    for entry in parsed.entries:
        assert len(entry.title) <= entries.TITLE_LIMIT
        assert len(entry.summary) <= entries.SUMMARY_LIMIT
    if hostile.isprintable() and len(hostile) < 100:
        assert hostile in parsed.entries[0].title                    # shown as it is


def test_deep_and_odd_payloads_render():
    deep = current = {}
    for _ in range(2000):
        current['k'] = current = {}
    odd = {'n': float('nan'), 'big': 10 ** 40, 'bytes': b'\xff'}
    for payload in (deep, odd, None, [], 'text'):
        check(atom.document(FEED, [entries.notification_entry(doc(payload=payload))]))


def test_stored_notification_carries_no_secret(tmp_path):
    """Through the real pipeline into SQLite and back: what the store keeps
    (redacted) is all a feed shows."""
    endpoint = replay.local_endpoint('sqlite:///%s' % (tmp_path / 'nvs.db'))
    replay.process(endpoint, [{
        'message_id': '1d6c9a3e-5a41-4c57-9e69-2f1c0e9b8a77', 'priority': 'INFO',
        'publisher_id': 'compute.host-1', 'event_type': 'compute.instance.create.start',
        'timestamp': '2026-12-05 08:00:00.000000',
        '_context_request_id': 'req-s', '_context_project_id': 'p1',
        '_context_auth_token': 'TOKEN-SECRET-1',
        'payload': {'instance_id': 'i1', 'admin_password': 'PASSWORD-SECRET-2',
                    'image_ref_url': 'http://glance:s3cr3tPASS@img/x'}}])
    store = replay.local_store(endpoint)
    body = atom.document(FEED, [entries.notification_entry(d) for d in store.notifications()])
    check(body)
    assert b'i1' in body
    for secret in (b'TOKEN-SECRET-1', b'PASSWORD-SECRET-2', b's3cr3tPASS'):
        assert secret not in body


def items(count, start=0):
    """(marker, entry) items of a topic, newest first, markers in ingest order."""
    out = [archive.Item('%012d' % i, entries.notification_entry(
        doc(str(uuid.UUID(int=i + 1)), i))) for i in range(start, start + count)]
    return out[::-1]


def walk(all_items, settled_upto, max_entries=archive.MAX_ENTRIES, page_size=archive.PAGE_SIZE):
    """Follow prev-archive from the subscription document as a client would:
    ``[(marker, document bytes)]`` of every archive page, newest first."""
    position = {i.marker: n for n, i in enumerate(all_items)}

    def older_than(marker):
        return all_items[position[marker]:]                     # newest first

    def settled(marker):
        return marker <= settled_upto

    current = archive.current_page(all_items, settled, page_size, max_entries)
    pages, marker = [], current.prev_marker
    while marker is not None:
        page = archive.archive_page(older_than(marker), page_size, max_entries)
        pages.append((marker, render_archive(marker, page)))
        marker = page.prev_marker
    return current, pages


def archive_url(marker):
    return '%s/archive/%s' % (FEED.topic, marker)


def render_archive(marker, page):
    return atom.document(FEED, [i.entry for i in page.items], self_url=archive_url(marker),
                         archive=True, prev_archive=page.prev_marker and archive_url(page.prev_marker))


def test_archive_pages_are_valid_linked_and_never_change():
    first = items(1000)
    current, pages = walk(first, settled_upto='%012d' % 950)
    assert current.prev_marker <= '%012d' % 950
    body = atom.document(FEED, [i.entry for i in current.items],
                         prev_archive=archive_url(current.prev_marker))
    check(body)
    assert atom_check.links(body)['prev-archive'] == [archive_url(current.prev_marker)]
    # Every entry is in the subscription document or an archive page.
    seen = {e for _, p in pages for e in atom_check.entry_ids(p)} | {
        i.entry.id for i in current.items}
    assert seen == {i.entry.id for i in first}
    for marker, page in pages:
        check(page)
        assert atom_check.is_archive(page)
        assert atom_check.links(page)['current'] == [FEED.topic]
        assert atom_check.links(page)['self'] == [archive_url(marker)]
        assert 'next-archive' not in atom_check.links(page)        # it would change
    assert 'prev-archive' not in atom_check.links(pages[-1][1])    # the oldest page
    sizes = [len(atom_check.entry_ids(p)) for _, p in pages]
    assert max(sizes) <= archive.MAX_ENTRIES and sum(sizes) / len(sizes) > 30

    # 500 more entries, 300 more settled; entries expire at the old end: the
    # pages the client already has are byte-identical, and walking back from
    # the new subscription document meets them.
    later = items(600, 1000) + [i for i in first if i.marker >= '%012d' % 100]
    _, again = walk(later, settled_upto='%012d' % 1250)
    before = dict(pages)
    common = [(m, p) for m, p in again if m in before]
    assert common, 'the new chain never meets the pages already fetched'
    alive = {i.entry.id for i in later}
    for marker, page in common:
        old = atom_check.entry_ids(before[marker])
        if set(old) <= alive:
            assert page == before[marker]
        else:                                # expired entries: shorter, not shifted
            assert atom_check.entry_ids(page) == [e for e in old if e in alive]
    newest_known = common[0][0]
    assert all(m > newest_known for m, _ in again[:again.index(common[0])])


def test_archive_page_of_a_settled_marker_is_byte_identical_whatever_came_after():
    marker = '%012d' % 400
    page = archive.archive_page(items(401))
    again = archive.archive_page(items(5000)[5000 - 401:])
    assert render_archive(marker, page) == render_archive(marker, again)


def test_an_entry_rendered_once_is_the_same_bytes_in_every_document():
    made = [entries.notification_entry(doc('m%d' % i, seconds=i)) for i in range(3)]
    made.append(entries.span_entry(failed_create()))
    other = atom.Feed(topic='https://api.example.test/v1/feeds/notifications', title='All')
    rendered = {}
    shared = [atom.document(FEED, made[:3], rendered=rendered),
              atom.document(other, made, rendered=rendered, archive=True,
                            self_url=other.topic + '?marker=x')]
    alone = [atom.document(FEED, made[:3]),
             atom.document(other, made, archive=True, self_url=other.topic + '?marker=x')]
    assert shared == alone and len(rendered) == 4
    check(shared[1])


def test_pages_are_cut_at_boundaries_and_bounded():
    page_size = 10
    all_items = items(300)
    boundary = [i for i in all_items if archive.is_boundary(i.entry.id, page_size)]
    assert 10 < len(boundary) < 60                                 # one in ten, roughly
    b = boundary[3]
    page = archive.archive_page(all_items[all_items.index(b):], page_size, max_entries=1000)
    assert page.items[0] is b
    assert not any(archive.is_boundary(i.entry.id, page_size) for i in page.items[1:])
    assert archive.is_boundary(
        next(i for i in all_items if i.marker == page.prev_marker).entry.id, page_size)
    capped = archive.archive_page(all_items, page_size=10 ** 9, max_entries=7)
    assert len(capped.items) == 7 and capped.prev_marker == all_items[7].marker
    assert archive.archive_page([]) == archive.Page((), None)


def test_current_page_without_a_settled_marker_has_no_prev_archive():
    current = archive.current_page(items(50), settled=lambda m: False)
    assert len(current.items) == 50 and current.prev_marker is None
    body = atom.document(FEED, [i.entry for i in current.items])
    assert 'prev-archive' not in atom_check.links(check(body) and body)


def test_current_page_past_its_size_links_the_first_settled_item():
    all_items = items(100)
    current = archive.current_page(all_items, settled=lambda m: m <= '%012d' % 40,
                                   page_size=10 ** 9, max_entries=20)
    assert [i.marker for i in current.items] == [i.marker for i in all_items[:20]]
    assert current.prev_marker == '%012d' % 40


def test_empty_feed_is_valid_and_stable():
    body = atom.document(FEED, [])
    check(body)
    assert body == atom.document(FEED, [])
    assert b'<updated>1970-01-01T00:00:00Z</updated>' in body


def test_rfc3339_and_link_header():
    assert atom.rfc3339(datetime.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))) == '2026-01-02T01:04:05.006000Z'
    assert atom.rfc3339(datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)) == \
        '0001-01-01T00:00:00Z'
    assert atom.link_header(FEED) == '<%s>; rel="hub", <%s>; rel="self"' % (FEED.hub, FEED.topic)
    assert atom.link_header(atom.Feed('https://t', 'x')) == '<https://t>; rel="self"'


def test_checker_catches_what_feedparser_lets_through():
    bad = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
           b'<entry><title>e</title><content type="application/json">{"a": 1}</content></entry>'
           b'</feed>')
    assert not feedparser.parse(bad).bozo                          # feedparser is happy
    found = atom_check.problems(bad)
    assert 'feed has 0 atom:id (exactly one required)' in found
    assert 'entry 0 has no atom:author and the feed has none' in found
    assert 'entry 0 carries application/json inline (not text)' in found
    assert any('updated' in p for p in found)
