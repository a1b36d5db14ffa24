"""The store's tail to the hub (nvs_notif.feeds.tail): notifications through
the real pipeline into a SQLite file, read in ingest order by two tails
sharing the file's cursor, each entry queued once to the real HTTP
subscribers of its topics; what was stored before the tail started is not."""
import ipaddress

import feedparser
import pytest

from nvs_notif import replay
from nvs_notif.feeds import tail as tail_mod
from nvs_notif.feeds.topics import Topic
from nvs_notif import storage
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from tests.subscriber import subscribers  # noqa: F401 (a fixture)
from tests.unit.test_feed_topics import BASE, message

POLICY = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),), allow_public=False)


def test_two_tails_publish_each_new_entry_once_to_its_topics(tmp_path, subscribers):
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    endpoint = replay.local_endpoint(url)
    replay.process(endpoint, [message(1, 'pA', 'compute.instance.create.start')])
    store = storage.get_store(url)
    hub_file = store_mod.hub_file(str(tmp_path / 'nvs.db'))
    hubs = [hub_mod.Hub(store_mod.SQLiteHubStore(hub_file), POLICY) for _ in range(2)]
    tails = [tail_mod.Tail(store, hub, tail_mod.Settings(batch=2)) for hub in hubs]
    a, b = subscribers(), subscribers()
    try:
        for sub, project in ((a, 'pA'), (b, 'pB')):
            hubs[0].request({'hub.mode': 'subscribe', 'hub.callback': sub.url,
                             'hub.topic': Topic('notifications', project).url(BASE)},
                            lambda topic: True)
        hubs[0].run_once()
        assert [t.run_once() for t in tails] == [0, 0]    # the cursor starts at the newest
        replay.process(endpoint, [message(n, project, 'compute.instance.update')
                                  for n, project in ((2, 'pA'), (3, 'pB'), (4, 'pA'),
                                                     (5, 'pA'), (6, 'pB'))])
        # A cursor claimed by one tail is skipped by the other.
        held = hubs[0].store.claim_cursor(tail_mod.CURSOR, hubs[0].clock(), 60)
        assert tails[1].run_once() == 0
        hubs[0].store.advance_cursor(held, held.marker, [], hubs[0].clock())
        rounds = [t.run_once() for t in tails * 3]
        assert rounds == [2, 2, 1, 0, 0, 0]
        for hub in hubs:
            hub.run_once()
    finally:
        for hub in hubs:
            hub.close()
            hub.store.close()
        store.close()
        replay.local_store(endpoint).close()
    got = {sub: sorted(e.id for _, body in sub.posts for e in feedparser.parse(body).entries)
           for sub in (a, b)}
    assert got == {a: ['urn:uuid:00000000-0000-4000-8000-%012d' % n for n in (2, 4, 5)],
                   b: ['urn:uuid:00000000-0000-4000-8000-%012d' % n for n in (3, 6)]}
    assert sum(t.stats['read'] for t in tails) == 5


@pytest.fixture
def one_tail(tmp_path):
    """``(endpoint, store, hub, tail)``: the pipeline into a SQLite file, and
    one hub and tail over it."""
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    endpoint = replay.local_endpoint(url)
    store = storage.get_store(url)
    hub = hub_mod.Hub(store_mod.SQLiteHubStore(store_mod.hub_file(str(tmp_path / 'nvs.db'))),
                      POLICY)
    yield endpoint, store, hub, tail_mod.Tail(store, hub)
    hub.close()
    hub.store.close()
    store.close()
    replay.local_store(endpoint).close()


def test_a_tail_without_subscribers_reads_nothing_and_keeps_up(one_tail):
    endpoint, store, hub, tail = one_tail
    tail.run_once()
    replay.process(endpoint, [message(n, 'pA', 'compute.instance.update')
                              for n in range(1, 4)])
    assert tail.run_once() == 0 and tail.stats['read'] == 0
    cursor = hub.store.claim_cursor(tail_mod.CURSOR, hub.clock(), 60)
    assert cursor.marker == store.ingest_marker()


def test_finished_spans_reach_spans_subscribers_once_per_finish(one_tail, subscribers):
    """A span topic's subscriber gets each span when its end or error is
    stored: once per finish (the same entry id, a newer ``updated`` when a
    retry ends it again), not for its start or a late duplicate."""
    endpoint, store, hub, tail = one_tail
    failures, every = subscribers(), subscribers()
    failed = message(2, 'pA', 'compute.instance.create.error', 'ERROR',
                     exception='NoValidHost: No valid host was found.')
    for sub, topic in ((failures, Topic('spans', 'pA', outcome='failure')),
                       (every, Topic('spans', 'pA'))):
        hub.request({'hub.mode': 'subscribe', 'hub.callback': sub.url,
                     'hub.topic': topic.url(BASE)}, lambda topic: True)
    hub.run_once()
    tail.run_once()
    rounds = [[message(1, 'pA', 'compute.instance.create.start'), failed],
              [failed],                                             # delivered again
              [message(3, 'pA', 'compute.instance.create.start'),   # the retry
               message(4, 'pA', 'compute.instance.create.end')],
              [message(5, 'pA', 'compute.instance.update')]]
    for batch in rounds:
        replay.process(endpoint, batch)
        tail.run_once()
        hub.run_once()
    got = {sub: [(e.id, e.updated, e.title) for _, body in sub.posts
                 for e in feedparser.parse(body).entries] for sub in (failures, every)}
    (span_id, failed_at, title), = got[failures]
    assert 'failed' in title and 'NoValidHost' in title
    assert failed_at.startswith('2026-12-05T08:00:02')
    assert [(i, t[:19]) for i, t, _ in got[every]] == [
        (span_id, '2026-12-05T08:00:02'), (span_id, '2026-12-05T08:00:04')]
    assert tail.stats['spans'] == 2
