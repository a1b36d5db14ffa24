"""tools.bench_queries: what it measures is the measured process's own."""
import sys

from tools import bench_queries


def test_peak_rss_is_the_commands_not_the_benchmarks():
    ballast = bytearray(300 * 2 ** 20)      # this process is larger than what it runs
    small = bench_queries.measure(['/bin/true']).peak_rss_mb
    _seconds, cpu, large, out = bench_queries.measure(
        [sys.executable, '-c', 'x = bytearray(200 * 2 ** 20); print("ok")'])
    assert small < 50 < 200 < large < 300 and out == b'ok\n'
    assert 0 < cpu
    del ballast


def test_the_cache_key_names_size_seed_and_content():
    key = bench_queries.data_key(1000, 3, 'sqlite')
    assert key.startswith('1000-s3-') and key == bench_queries.data_key(1000, 3, 'sqlite')
    assert key != bench_queries.data_key(1000, 4, 'sqlite')
    assert key[8:] != bench_queries.data_key(1000, 3, 'elasticsearch')[8:]


def test_estimated_percentiles_are_counted_not_compared():
    exact = [{'operation': 'a', 'count': 3, 'p50 (s)': 1.0, 'p95 (s)': 2.0, 'p99 (s)': 2.0}]
    estimated = [dict(exact[0], **{'p95 (s)': 1.9})]
    assert bench_queries.agree('sla', estimated, exact) == (True, 1)
    assert bench_queries.agree('sla', [dict(estimated[0], count=4)], exact)[0] is False
    assert bench_queries.agree('stuck', exact, exact) == (True, 0)
    assert bench_queries.agree('stuck', [dict(exact[0], count=4)], exact) == (False, 0)


def test_a_larger_sqlite_store_is_copies_of_a_smaller_one_days_apart(tmp_path):
    """replicate: three copies, a day apart, with fresh ids; its rollups made by
    the store's upgrade answer as the Python meaning over its rows does."""
    from nvs_notif import storage
    source, copies = str(tmp_path / 'one.db'), str(tmp_path / 'three.db')
    bench_queries.fill('sqlite:///' + source, 600, 0, lambda _: None)
    bench_queries.replicate(source, copies, 3, lambda _: None)
    one, three = (storage.get_store('sqlite:///' + p) for p in (source, copies))
    try:
        assert three.count('notifications') == 3 * one.count('notifications')
        assert three.count('spans') == 3 * one.count('spans')
        days = {n['timestamp'][:10] for n in three.notifications()}
        assert len(days) == 3 * len({n['timestamp'][:10] for n in one.notifications()})
        sla = three.sla()
        assert sla == storage.Store.sla(three)
        assert [r.count for r in sla] == [3 * r.count for r in one.sla()]
        assert sorted(three.error_groups(), key=str) == sorted(
            storage.Store.error_groups(three), key=str)
    finally:
        one.close()
        three.close()
