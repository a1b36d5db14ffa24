"""Unit tests for the pure parts of ``hosts`` and ``watch`` (nvs_notif.answers), and
the SQLite store's filters, aggregation and order that they rely on."""
import datetime
import tracemalloc

import pytest

from nvs_notif.answers import history
from nvs_notif.answers import hosts as hosts_answer
from nvs_notif import pipeline
from nvs_notif import storage
from nvs_notif import timeutil

T0 = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)


def t(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def doc(seconds, host='host-1', service='nova', priority='info',
        event_type='compute.instance.create.start', message_id=None, request='req-1',
        global_request=None, project='p1', error=None):
    return {'message_id': message_id or 'm-%s-%s-%s' % (seconds, host, service),
            'timestamp': t(seconds).isoformat(), 'host': host, 'service': service,
            'priority': priority, 'event_type': event_type, 'request_id': request,
            'global_request_id': global_request, 'project_id': project, 'error_type': error}


class TestParseDuration:
    @pytest.mark.parametrize('text,seconds', [('90', 90), ('90s', 90), ('10m', 600),
                                              ('1.5h', 5400), ('2d', 172800), (' 1W ', 604800),
                                              ('0', 0)])
    def test_valid(self, text, seconds):
        assert timeutil.parse_duration(text) == seconds

    @pytest.mark.parametrize('text', ['', 'm', 'ten', '-5m', '10x', None, 'inf', 'infh',
                                      '-inf', 'nan', '1e400', '1e300s', '99999999999w'])
    def test_invalid(self, text):
        with pytest.raises(ValueError):
            timeutil.parse_duration(text)


def hosts(docs, now, since, silent_after):
    """The ``hosts`` rows of ``docs`` by the Python path (the stores' fallback)."""
    return hosts_answer.rows(hosts_answer.activity_of(docs, since, now), now, since,
                             silent_after)


class TestHosts:
    def test_counts_rates_errors_and_last_seen(self):
        docs = [doc(0), doc(60), doc(120, priority='error', error='NoValidHost'),
                doc(30, priority='critical'), doc(100, service='neutron'),
                doc(50, host='host-2')]
        rows = hosts(docs, now=t(600), since=t(0), silent_after=600)
        assert [r[:2] for r in rows] == [('host-1', 'neutron'), ('host-1', 'nova'),
                                         ('host-2', 'nova')]
        row = dict(zip(hosts_answer.COLUMNS, rows[1]))
        assert row == {'host': 'host-1', 'service': 'nova', 'notifications': 4,
                       'per minute': 0.4, 'last seen': t(120).isoformat(), 'errors': 2,
                       'error %': 50.0, 'silent': 'no'}

    def test_window_is_inclusive_and_exact(self):
        docs = [doc(-0.000001), doc(0), doc(300), doc(300.000001)]
        (row,) = hosts(docs, now=t(300), since=t(0), silent_after=60)
        assert row[2] == 2 and row[4] == t(300).isoformat()

    def test_silent(self):
        docs = [doc(0, host='quiet'), doc(59, host='edge'), doc(60, host='edge2'),
                doc(290, host='busy')]
        rows = {r[0]: r[7] for r in hosts(docs, t(300), t(0), silent_after=240)}
        # quiet since t(60): edge (59 s) is silent, edge2 (exactly 240 s ago) is not.
        assert rows == {'quiet': 'yes', 'edge': 'yes', 'edge2': 'no', 'busy': 'no'}

    def test_silent_after_longer_than_time_goes_back(self):
        # no OverflowError: nobody has been quiet that long
        largest = timeutil.parse_duration('99999999d')
        for silent_after in (largest, 1e300, float('inf')):
            (row,) = hosts([doc(0)], t(60), t(0), silent_after=silent_after)
            assert row[7] == 'no'

    def test_silence_is_per_service_on_a_host(self):
        docs = [doc(0, service='nova'), doc(590, service='neutron')]
        rows = {r[1]: r[7] for r in hosts(docs, t(600), t(0), silent_after=300)}
        assert rows == {'nova': 'yes', 'neutron': 'no'}

    def test_missing_host_or_service_and_timestamp(self):
        docs = [doc(10, host=None), doc(20, service=None), dict(doc(30), timestamp=None)]
        rows = hosts(docs, t(60), t(0), 600)
        assert [(r[0], r[1], r[2]) for r in rows] == [('-', 'nova', 1), ('host-1', '-', 1)]

    def test_empty_and_zero_window(self):
        assert hosts([], t(60), t(0), 600) == []
        (row,) = hosts([doc(0)], t(0), t(0), 600)
        assert row[3] is None and row[2] == 1

    def test_reads_docs_once(self):
        rows = hosts(iter([doc(1), doc(2)]), t(60), t(0), 600)
        assert rows[0][2] == 2


class TestWatchRow:
    def test_row(self):
        row = history.watch_row(doc(0, error=None, request=None))
        assert row == (t(0).isoformat(), 'info', 'host-1', 'compute.instance.create.start',
                       '-', '-')
        assert row.request_id == '-' and row.event_type == 'compute.instance.create.start'


def step(tail, docs):
    """One poll of ``tail`` over ``docs`` (listed oldest first, as stores do):
    ``(the new docs, seen, since)`` after it."""
    docs = sorted(docs, key=lambda d: (d['timestamp'], d['message_id']))
    return list(tail.step(docs)), tail.seen, tail.since


class TestTail:
    def test_first_poll_oldest_first_and_next_since(self):
        docs = [doc(5, message_id='b'), doc(1, message_id='a'), doc(9, message_id='c')]
        fresh, seen, since = step(history.Tail(t(0), late=2), docs)
        assert [d['message_id'] for d in fresh] == ['a', 'b', 'c']
        assert since == t(7)
        assert seen == {'c': t(9)}

    def test_dedupe_by_message_id(self):
        tail = history.Tail(t(0))
        fresh, seen, since = step(tail, [doc(5, message_id='a')])
        assert since == t(5) and seen == {'a': t(5)}
        # The store returns 'a' again (since is inclusive) and a newcomer at the same time.
        fresh, seen, since = step(tail, [doc(5, message_id='b'), doc(5, message_id='a')])
        assert [d['message_id'] for d in fresh] == ['b']
        assert seen == {'a': t(5), 'b': t(5)} and since == t(5)

    def test_late_arrival_inside_late_window_is_shown_once(self):
        tail = history.Tail(t(0), late=5)
        _, seen, since = step(tail, [doc(10, message_id='new')])
        assert since == t(5)
        fresh, seen, since = step(tail, [doc(10, message_id='new'), doc(7, message_id='late'),
                                         doc(4, message_id='old')])
        assert [d['message_id'] for d in fresh] == ['late']
        fresh, _, _ = step(tail, [doc(10, message_id='new'), doc(7, message_id='late')])
        assert fresh == []

    def test_coarse_store_results_before_since_are_dropped(self):
        fresh, seen, since = step(history.Tail(t(0)), [doc(-0.0005, message_id='x')])
        assert fresh == [] and seen == {} and since == t(0)

    def test_nothing_new_keeps_since(self):
        fresh, seen, since = step(history.Tail(t(3), late=10), [])
        assert (fresh, seen, since) == ([], {}, t(3))

    def test_seen_is_pruned(self):
        tail = history.Tail(t(0), late=10)
        step(tail, [doc(1, message_id='old')])
        _, seen, since = step(tail, [doc(100, message_id='new')])
        assert seen == {'new': t(100)} and since == t(90)

    def test_a_long_poll_keeps_only_what_the_next_can_list_again(self):
        # A day of history, one notification a second, streamed in one poll:
        # what the tail remembers stays within ``late`` of the newest seen.
        tail = history.Tail(t(0), late=10)
        largest = 0
        for d in tail.step(doc(i, message_id='m%06d' % i) for i in range(86400)):
            largest = max(largest, len(tail.seen))
        assert largest <= 2 * 11 + 1000
        assert set(tail.seen) == {'m%06d' % i for i in range(86389, 86400)}
        assert tail.since == t(86389)


@pytest.fixture
def sqlite_store():
    store = storage.get_store('sqlite://')
    yield store
    store.close()


def notification(seconds, index, host='host-1', service='compute', priority='info',
                 event_type='compute.instance.create.start', request='req-1',
                 global_request=None, project='p1'):
    return {'message_id': 'm-%04d' % index, 'publisher_id': '%s.%s' % (service, host),
            'event_type': event_type, 'priority': priority, 'payload': {},
            'timestamp': t(seconds).isoformat(), '_context_request_id': request,
            '_context_global_request_id': global_request, '_context_project_id': project}


def write(store, messages):
    for priority in {m['priority'] for m in messages}:
        batch = pipeline.build_batch([m for m in messages if m['priority'] == priority],
                                     priority)
        assert not batch.rejects
        store.write(batch)


class TestStoreListing:
    """The SQLite store lists and filters what ``watch`` and ``history`` show."""

    MESSAGES = [notification(0, 1), notification(0, 2, host='host-3', priority='error',
                                                 event_type='compute.instance.create.error',
                                                 request='req-a', global_request='req-g',
                                                 project='p9'),
                notification(5, 3, request='req-g'), notification(9, 4, host='host-3'),
                notification(9, 0, event_type='volume.create.start')]

    @pytest.mark.parametrize('filters,expected', [
        ({}, ['m-0001', 'm-0002', 'm-0003', 'm-0000', 'm-0004']),
        ({'project_id': 'p9'}, ['m-0002']),
        ({'request': 'req-a'}, ['m-0002']), ({'request': 'req-g'}, ['m-0002', 'm-0003']),
        ({'host': 'host-3'}, ['m-0002', 'm-0004']), ({'host': 'host'}, []),
        ({'event_type': 'compute.instance.'}, ['m-0001', 'm-0002', 'm-0003', 'm-0004']),
        ({'event_type': 'compute.instance.create.error'}, ['m-0002']),
        ({'event_type': 'instance'}, []),
        ({'priorities': ['error', 'critical']}, ['m-0002']),
        ({'since': t(5)}, ['m-0003', 'm-0000', 'm-0004']),
        ({'after': (t(0).isoformat(), 'm-0001')}, ['m-0002', 'm-0003', 'm-0000', 'm-0004']),
        ({'limit': 2}, ['m-0001', 'm-0002'])])
    def test_filters_oldest_first(self, sqlite_store, filters, expected):
        write(sqlite_store, self.MESSAGES)
        docs = sqlite_store.notifications(oldest_first=True, **filters)
        assert [d['message_id'] for d in docs] == expected
        newest_first = sqlite_store.notifications(**dict(filters, after=None))
        if 'after' not in filters and 'limit' not in filters:
            assert [d['message_id'] for d in newest_first] == expected[::-1]

    def test_pages_follow_their_marker(self, sqlite_store, monkeypatch):
        from nvs_notif.storage import sqlite_reads
        monkeypatch.setattr(sqlite_reads, 'PAGE', 2)     # several statements per listing
        write(sqlite_store, self.MESSAGES)
        every = [d['message_id'] for d in sqlite_store.notifications()]
        assert every == ['m-0004', 'm-0000', 'm-0003', 'm-0002', 'm-0001']
        pages, marker = [], None
        while True:
            docs, marker = sqlite_store.notification_page(2, marker)
            pages.append([d['message_id'] for d in docs])
            if marker is None:
                break
        assert pages == [every[:2], every[2:4], every[4:]]
        assert sqlite_store.notification_page(5)[1] == (t(0).isoformat(), 'm-0001')
        assert sqlite_store.notification_page(2, project_id='p9') == (
            [d for d in sqlite_store.notifications(project_id='p9')], None)

    def test_a_listing_holds_one_page_at_a_time(self, sqlite_store, monkeypatch):
        """Memory stays flat: streaming every notification peaks at a small
        fraction of what holding them does (pages of 50 of 4,000; a page
        holds one block of packed rests at a time, 64 of them, besides)."""
        from nvs_notif.storage import sqlite_reads
        monkeypatch.setattr(sqlite_reads, 'PAGE', 50)
        messages = [dict(notification(i / 10.0, i), payload={'text': 'x' * 1000, 'n': i})
                    for i in range(4000)]
        write(sqlite_store, messages)

        def peak(consume):
            tracemalloc.start()
            try:
                consume(sqlite_store.notifications(oldest_first=True))
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        count = []
        streamed = peak(lambda docs: count.append(sum(1 for _ in docs)))
        held = peak(list)
        assert count == [4000]
        assert streamed * 10 < held, (streamed, held)

    def test_host_activity_is_the_python_paths(self, sqlite_store):
        hostless = dict(notification(3, 6), publisher_id='compute')
        write(sqlite_store, self.MESSAGES + [notification(7, 5, priority='critical'), hostless])
        assert ((None, 'nova') in {(a.host, a.service) for a in storage.Store.host_activity(
            sqlite_store, t(0), t(9))})
        for since, until in ((t(0), t(9)), (t(1), t(9)), (t(0), t(5)), (t(10), t(20)),
                             (t(-1), t(10)), (t(3), t(3))):
            python = storage.Store.host_activity(sqlite_store, since, until)
            assert sorted(sqlite_store.host_activity(since, until), key=repr) == sorted(
                python, key=repr)
        assert sorted(sqlite_store.host_activity(t(0), t(9), project_id='p9')) == [
            ('host-3', 'nova', 1, 1, t(0))]
