"""tools/bench_feeds.py runs end to end on a small load (a writer process, the
nvs-notif-hub process, real subscribers) and accounts for every entry."""
from tools import bench_feeds


def test_small_run_delivers_every_stored_entry_once(capsys):
    assert bench_feeds.main(['--rate', '100', '--seconds', '1', '--subscribers', '3',
                             '--projects', '2', '--batch', '20']) == 0
    out = capsys.readouterr().out
    assert 'lost 0, duplicated 0' in out and 'latency stored -> callback: p50' in out
    assert 'uptime: ' in out
