"""tools/bench_hub.py runs end to end on a small load and accounts for every entry."""
from tools import bench_hub


def test_small_run_delivers_every_entry_once(capsys):
    assert bench_hub.main(['--rate', '50', '--seconds', '1', '--subscribers', '3',
                           '--projects', '2', '--hubs', '2']) == 0
    out = capsys.readouterr().out
    assert 'lost 0, duplicated 0' in out and 'latency made -> callback: p50' in out
