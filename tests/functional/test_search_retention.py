"""Retention on Elasticsearch and OpenSearch: daily indices behind aliases, and purge
(what every store's purge keeps and removes is the contract's: test_store_contract.py)."""
import datetime

from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import storage
from tests.functional.support import store_url

DAY = datetime.timedelta(days=1)


def test_daily_indices_are_read_through_aliases_and_purged_whole(engine, search_client,
                                                                es_prefix):
    url = store_url(engine, es_prefix)
    start = datetime.datetime(2024, 3, 1, 23, 0, tzinfo=datetime.timezone.utc)
    # Two simulated hours either side of midnight: two daily indices.
    messages = [s.to_message() for s in simulate.simulate(3000, seed=9, start=start, rate=0.05)]
    stats = replay.replay(messages, replay.local_endpoint(url))
    assert stats['notifications'] == 3000

    daily = sorted(search_client.indices.get(index='%s-notifications-*' % es_prefix))
    assert daily[0] == '%s-notifications-2024.03.01' % es_prefix and len(daily) >= 2
    aliases = search_client.indices.get_alias(name='%s-notifications' % es_prefix)
    assert sorted(aliases) == daily

    store = storage.get_store(url)
    try:
        assert store.count('notifications') == 3000
        spans_before = store.count('spans')
        cutoff = datetime.datetime(2024, 3, 2, tzinfo=datetime.timezone.utc)
        first_day = search_client.count(index=daily[0])['count']
        removed = store.purge(cutoff)
        assert removed['notifications'] == 1
        assert store.count('notifications') == 3000 - first_day
        # spans go only when all their times are older than the cutoff
        assert 0 < removed['spans'] < spans_before
        assert all(max(t for t in (s.start, s.last_start, s.end, s.failed) if t) >= cutoff
                   for s in store.spans())
        assert store.purge(cutoff + 30 * DAY)['notifications'] == len(daily) - 1
        assert store.count('notifications') == 0 and store.count('spans') == 0
    finally:
        store.close()
