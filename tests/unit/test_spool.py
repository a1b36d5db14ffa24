import threading

import pytest

from nvs_notif import spool as spool_mod


class Sink:
    """A store stand-in that can be made to fail."""

    def __init__(self):
        self.docs = {'events': [], 'samples': []}
        self.down = False
        self.calls = 0
        self.lock = threading.Lock()

    def write(self, kind, docs):
        with self.lock:
            self.calls += 1
            if self.down:
                raise ConnectionError('store down')
            self.docs[kind].extend(docs)


def _docs(n, start=0):
    return [{'message_id': 'm-%d' % i, 'n': i} for i in range(start, start + n)]


@pytest.fixture
def sink():
    return Sink()


def _spool(tmp_path, sink, **kw):
    kw.setdefault('flush_interval', 3600)   # flushed by hand unless a test says otherwise
    return spool_mod.Spool(str(tmp_path / 'spool.db'), sink.write, **kw)


def test_put_then_flush_in_order_by_kind(tmp_path, sink):
    sp = _spool(tmp_path, sink, flush_size=10)
    sp.put('events', _docs(3))
    sp.put('samples', _docs(2, 100))
    assert sp.pending() == 5
    assert sp.flush() == 5
    assert sink.docs['events'] == _docs(3) and sink.docs['samples'] == _docs(2, 100)
    assert sp.pending() == 0 and sp.flush() == 0
    sp.close()


def test_failed_flush_keeps_documents_and_restart_drains(tmp_path, sink):
    sp = _spool(tmp_path, sink)
    sp.put('events', _docs(4))
    sink.down = True
    with pytest.raises(ConnectionError):
        sp.flush()
    assert sp.pending() == 4
    sp.close()                      # cannot drain: kept for the next start
    sink.down = False
    again = _spool(tmp_path, sink)
    assert again.pending() == 4
    again.close()                   # drains on close
    assert sink.docs['events'] == _docs(4)
    assert _spool(tmp_path, sink).pending() == 0


def test_bound_drops_oldest_and_counts(tmp_path, sink):
    sp = _spool(tmp_path, sink, max_docs=5)
    sp.put('events', _docs(4))
    sp.put('events', _docs(3, 4))
    assert sp.pending() == 5 and sp.dropped == 2
    sp.flush()
    assert [d['n'] for d in sink.docs['events']] == [2, 3, 4, 5, 6]
    sp.close()


def test_flusher_thread_sends_within_the_interval_and_retries(tmp_path, sink):
    sp = _spool(tmp_path, sink, flush_interval=0.05, max_backoff=0.2)
    sink.down = True
    sp.put('events', _docs(3))
    _wait(lambda: sink.calls >= 2)          # it retried while down
    assert sp.pending() == 3
    sink.down = False
    _wait(lambda: sp.pending() == 0)
    assert sink.docs['events'] == _docs(3)
    sp.close()


def test_two_spools_on_one_file_lose_nothing(tmp_path, sink):
    a, b = _spool(tmp_path, sink, flush_size=7), _spool(tmp_path, sink, flush_size=7)
    for i in range(10):
        (a if i % 2 else b).put('events', _docs(5, i * 5))
    while a.flush() + b.flush():
        pass
    got = sorted({d['n'] for d in sink.docs['events']})
    assert got == list(range(50))
    a.close()
    b.close()


def _wait(predicate, timeout=10):
    import time
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.02)
