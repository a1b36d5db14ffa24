"""Unit tests for the pure parts of ``hosts`` and ``watch`` (nvs_notif.queries)."""
import datetime

import pytest

from nvs_notif import queries
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


class TestHosts:
    def test_counts_rates_errors_and_last_seen(self):
        docs = [doc(0), doc(60), doc(120, priority='error', error='NoValidHost'),
                doc(30, priority='critical'), doc(100, service='neutron'),
                doc(50, host='host-2')]
        rows = queries.hosts(docs, now=t(600), since=t(0), silent_after=600)
        assert [r[:2] for r in rows] == [('host-1', 'neutron'), ('host-1', 'nova'),
                                         ('host-2', 'nova')]
        row = dict(zip(queries.HOSTS_COLUMNS, rows[1]))
        assert row == {'host': 'host-1', 'service': 'nova', 'notifications': 4,
                       'per minute': 0.4, 'last seen': t(120).isoformat(), 'errors': 2,
                       'error %': 50.0, 'silent': 'no'}

    def test_window_is_inclusive_and_exact(self):
        docs = [doc(-0.000001), doc(0), doc(300), doc(300.000001)]
        (row,) = queries.hosts(docs, now=t(300), since=t(0), silent_after=60)
        assert row[2] == 2 and row[4] == t(300).isoformat()

    def test_silent(self):
        docs = [doc(0, host='quiet'), doc(59, host='edge'), doc(60, host='edge2'),
                doc(290, host='busy')]
        rows = {r[0]: r[7] for r in queries.hosts(docs, t(300), t(0), silent_after=240)}
        # quiet since t(60): edge (59 s) is silent, edge2 (exactly 240 s ago) is not.
        assert rows == {'quiet': 'yes', 'edge': 'yes', 'edge2': 'no', 'busy': 'no'}

    def test_silent_after_longer_than_time_goes_back(self):
        # no OverflowError: nobody has been quiet that long
        largest = timeutil.parse_duration('99999999d')
        for silent_after in (largest, 1e300, float('inf')):
            (row,) = queries.hosts([doc(0)], t(60), t(0), silent_after=silent_after)
            assert row[7] == 'no'

    def test_silence_is_per_service_on_a_host(self):
        docs = [doc(0, service='nova'), doc(590, service='neutron')]
        rows = {r[1]: r[7] for r in queries.hosts(docs, t(600), t(0), silent_after=300)}
        assert rows == {'nova': 'yes', 'neutron': 'no'}

    def test_missing_host_or_service_and_timestamp(self):
        docs = [doc(10, host=None), doc(20, service=None), dict(doc(30), timestamp=None)]
        rows = queries.hosts(docs, t(60), t(0), 600)
        assert [(r[0], r[1], r[2]) for r in rows] == [('-', 'nova', 1), ('host-1', '-', 1)]

    def test_empty_and_zero_window(self):
        assert queries.hosts([], t(60), t(0), 600) == []
        (row,) = queries.hosts([doc(0)], t(0), t(0), 600)
        assert row[3] is None and row[2] == 1

    def test_reads_docs_once(self):
        rows = queries.hosts(iter([doc(1), doc(2)]), t(60), t(0), 600)
        assert rows[0][2] == 2


class TestWatchMatch:
    D = doc(0, host='host-3', service='nova', priority='error', request='req-a',
            global_request='req-g', project='p9', event_type='compute.instance.create.error')

    @pytest.mark.parametrize('filters', [
        {}, {'project': 'p9'}, {'request': 'req-a'}, {'request': 'req-g'},
        {'host': 'host-3'}, {'service': 'nova'}, {'event_type': 'compute.instance.'},
        {'event_type': 'compute.instance.create.error'}, {'errors_only': True},
        {'project': 'p9', 'host': 'host-3', 'errors_only': True, 'event_type': 'compute'}])
    def test_match(self, filters):
        assert queries.watch_match(self.D, **filters)

    @pytest.mark.parametrize('filters', [
        {'project': 'p1'}, {'request': 'req-b'}, {'host': 'host-30'}, {'host': 'host'},
        {'service': 'cinder'}, {'event_type': 'volume.'}, {'event_type': 'instance'},
        {'project': 'p9', 'host': 'host-4'}])
    def test_no_match(self, filters):
        assert not queries.watch_match(self.D, **filters)

    def test_errors_only(self):
        assert not queries.watch_match(doc(0, priority='info'), errors_only=True)
        assert queries.watch_match(doc(0, priority='critical'), errors_only=True)
        assert not queries.watch_match(dict(doc(0), event_type=None), event_type='x')

    def test_row(self):
        row = queries.watch_row(doc(0, error=None, request=None))
        assert row == (t(0).isoformat(), 'info', 'host-1', 'compute.instance.create.start',
                       '-', '-')


class TestTailStep:
    def test_first_poll_oldest_first_and_next_since(self):
        docs = [doc(5, message_id='b'), doc(1, message_id='a'), doc(9, message_id='c')]
        fresh, seen, since = queries.tail_step(docs, {}, t(0), late=2)
        assert [d['message_id'] for d in fresh] == ['a', 'b', 'c']
        assert since == t(7)
        assert seen == {'c': t(9)}

    def test_dedupe_by_message_id(self):
        fresh, seen, since = queries.tail_step([doc(5, message_id='a')], {}, t(0))
        assert since == t(5) and seen == {'a': t(5)}
        # The store returns 'a' again (since is inclusive) and a newcomer at the same time.
        fresh, seen, since = queries.tail_step(
            [doc(5, message_id='b'), doc(5, message_id='a')], seen, since)
        assert [d['message_id'] for d in fresh] == ['b']
        assert seen == {'a': t(5), 'b': t(5)} and since == t(5)

    def test_late_arrival_inside_late_window_is_shown_once(self):
        _, seen, since = queries.tail_step([doc(10, message_id='new')], {}, t(0), late=5)
        assert since == t(5)
        fresh, seen, since = queries.tail_step(
            [doc(10, message_id='new'), doc(7, message_id='late'), doc(4, message_id='old')],
            seen, since, late=5)
        assert [d['message_id'] for d in fresh] == ['late']
        fresh, _, _ = queries.tail_step([doc(10, message_id='new'), doc(7, message_id='late')],
                                        seen, since, late=5)
        assert fresh == []

    def test_coarse_store_results_before_since_are_dropped(self):
        fresh, seen, since = queries.tail_step([doc(-0.0005, message_id='x')], {}, t(0))
        assert fresh == [] and seen == {} and since == t(0)

    def test_nothing_new_keeps_since(self):
        fresh, seen, since = queries.tail_step([], {}, t(3), late=10)
        assert (fresh, seen, since) == ([], {}, t(3))

    def test_seen_is_pruned(self):
        seen = {'old': t(1)}
        _, seen, since = queries.tail_step([doc(100, message_id='new')], seen, t(0), late=10)
        assert seen == {'new': t(100)} and since == t(90)
