"""``hosts`` and ``watch`` against real stores: SQLite, Elasticsearch and OpenSearch.

``hosts``: one simulated cloud (``simulate(2000, seed=3)``) is replayed into a
SQLite file and an Elasticsearch and an OpenSearch prefix; the command's JSON
output must be identical on all three and match counts computed here from the stored
notifications.  ``watch``: notifications written into the store by another
thread while the command runs are printed, once each, filtered.
"""
import collections
import datetime
import json
import threading
import time
import uuid

import pytest

from nvs_notif.answers import history
from nvs_notif import pipeline
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import storage
from tests.functional.cli import on_every_store, run_text as run
from tests.functional.support import store_url as search_store_url


@pytest.fixture
def stores(es_prefix, tmp_path):
    urls = {'sqlite': 'sqlite:///%s' % (tmp_path / 'nvs.db'),
            'elasticsearch': search_store_url('elasticsearch', es_prefix),
            'opensearch': search_store_url('opensearch', es_prefix)}
    for url in urls.values():
        endpoint = replay.local_endpoint(url)
        replay.replay((s.to_message() for s in simulate.simulate(2000, seed=3)), endpoint)
        replay.local_store(endpoint).close()
    return urls


def stored_docs(url):
    store = storage.get_store(url)
    try:
        return list(store.notifications())
    finally:
        store.close()


def expected_hosts(docs, now, since, silent_after):
    """The hosts rows recomputed by hand, as {(host, service): row dict}."""
    rows = collections.defaultdict(lambda: {'notifications': 0, 'errors': 0, 'last': None})
    for d in docs:
        when = datetime.datetime.fromisoformat(d['timestamp'])
        if since <= when <= now:
            row = rows[(d['host'] or '-', d['service'] or '-')]
            row['notifications'] += 1
            row['errors'] += d['priority'] in ('error', 'critical')
            row['last'] = max(row['last'] or when, when)
    minutes = (now - since).total_seconds() / 60
    return {key: {'host': key[0], 'service': key[1], 'notifications': r['notifications'],
                  'per minute': round(r['notifications'] / minutes, 2),
                  'last seen': r['last'].isoformat(), 'errors': r['errors'],
                  'error %': round(100.0 * r['errors'] / r['notifications'], 1),
                  'silent': 'yes' if (now - r['last']).total_seconds() > silent_after
                  else 'no'}
            for key, r in rows.items()}


def test_hosts(stores):
    docs = stored_docs(stores['sqlite'])
    assert len(docs) == 2000
    now = max(datetime.datetime.fromisoformat(d['timestamp']) for d in docs)
    rows = on_every_store(stores, 'hosts', '--now', now.isoformat())
    # The simulated cloud lasts minutes: the default hour holds all of it, and
    # every host spoke in the last 10 minutes.
    expected = expected_hosts(docs, now, now - datetime.timedelta(hours=1), 600)
    assert {(r['host'], r['service']): r for r in rows} == expected
    assert [(r['host'], r['service']) for r in rows] == sorted(expected)
    assert sum(r['notifications'] for r in rows) == 2000
    assert sum(r['errors'] for r in rows) == sum(
        d['priority'] in ('error', 'critical') for d in docs) > 0
    assert {r['silent'] for r in rows} == {'no'}
    assert {r['host'] for r in rows} >= {'ctl-1', 'host-1', 'cinder-1@lvm#lvm'}


def test_hosts_window_and_silence(stores):
    docs = stored_docs(stores['sqlite'])
    now = max(datetime.datetime.fromisoformat(d['timestamp']) for d in docs)
    since = now - datetime.timedelta(seconds=150)
    # A silence limit between the rows' quietest and busiest: some are silent.
    ages = sorted((now - r['last seen']).total_seconds() for r in map(
        _parsed, expected_hosts(docs, now, since, 0).values()))
    limit = round((ages[0] + ages[-1]) / 2, 3)
    rows = on_every_store(stores, 'hosts', '--now', now.isoformat(), '--since', '150s',
                          '--silent-after', '%ss' % limit)
    expected = expected_hosts(docs, now, since, limit)
    assert {(r['host'], r['service']): r for r in rows} == expected
    assert sum(r['notifications'] for r in rows) < 2000
    silent = {(r['host'], r['service']) for r in rows if r['silent'] == 'yes'}
    assert silent and silent != set(expected)
    # An ISO --since says the same as the age.
    assert on_every_store(stores, 'hosts', '--now', now.isoformat(), '--since',
                          since.isoformat(), '--silent-after', str(limit)) == rows


def _parsed(row):
    return dict(row, **{'last seen': datetime.datetime.fromisoformat(row['last seen'])})


def test_hosts_default_now_sees_nothing_of_old_data(stores):
    # The simulated cloud ran in January 2024: nothing in the last hour.
    assert on_every_store(stores, 'hosts') == []


def message(when, index, host='w-1', priority='info', event_type='compute.instance.reboot.start',
            request='req-watch'):
    return {'message_id': str(uuid.uuid4()), 'publisher_id': 'compute.%s' % host,
            'event_type': event_type, 'priority': priority,
            'payload': {'instance_id': 'inst-%d' % index, 'host': host},
            'timestamp': when.strftime('%Y-%m-%d %H:%M:%S.%f'),
            '_context_request_id': '%s-%d' % (request, index), '_context_project_id': 'p-w'}


def write(url, messages):
    by_priority = collections.defaultdict(list)
    for m in messages:
        by_priority[m['priority']].append(m)
    store = storage.get_store(url)
    try:
        for priority, group in by_priority.items():
            batch = pipeline.build_batch(group, priority)
            assert not batch.rejects
            store.write(batch)
    finally:
        store.close()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture(params=['sqlite', 'elasticsearch', 'opensearch'])
def store_url(request, tmp_path):
    if request.param == 'sqlite':
        return 'sqlite:///%s' % (tmp_path / 'watch.db')
    return search_store_url(request.param, request.getfixturevalue('es_prefix'))


@pytest.fixture
def first_poll(monkeypatch):
    """Set once watch's first poll is done (what was already stored is known)."""
    done = threading.Event()
    real = history.Tail.step

    def step(*args, **kwargs):
        yield from real(*args, **kwargs)
        done.set()

    monkeypatch.setattr(history.Tail, 'step', step)
    return done


def watch_while_writing(url, first_poll, writer, *argv):
    thread = threading.Thread(target=lambda: first_poll.wait(15) and writer(), daemon=True)
    thread.start()
    started = time.monotonic()
    code, out = run(url, 'watch', '--interval', '0.3', *argv)
    elapsed = time.monotonic() - started
    thread.join(15)
    assert code == 0
    return out.splitlines(), elapsed


def test_watch_prints_new_notifications(store_url, first_poll):
    # Already stored before the watch starts: not shown.
    write(store_url, [message(now() - datetime.timedelta(seconds=1), i, request='req-old')
                      for i in range(3)])
    sent = []

    def writer():
        for part in range(3):
            batch = [message(now(), 10 * part + i) for i in range(3)]
            sent.extend(batch)
            write(store_url, batch)
            time.sleep(0.4)

    lines, elapsed = watch_while_writing(store_url, first_poll, writer,
                                         '--count', '5', '--duration', '10')
    assert len(lines) == 5, lines
    assert elapsed < 10
    requests = [line.split()[4] for line in lines]
    assert requests == [m['_context_request_id'] for m in sent[:5]]
    for line in lines:
        when, priority, host, event_type = line.split()[:4]
        assert (priority, host, event_type) == ('info', 'w-1', 'compute.instance.reboot.start')
        assert line.split()[5] == '-'
        datetime.datetime.fromisoformat(when)


def test_watch_filters_and_duration(store_url, first_poll):
    # The store (a search engine's templates and daily index) made before the
    # watch starts: the writes below then take milliseconds, not the seconds
    # of making an index on a loaded machine, and land inside --duration.
    write(store_url, [message(now() - datetime.timedelta(seconds=1), 0, request='req-old')])

    def writer():
        t = now()
        write(store_url, [
            message(t, 1, host='w-2', priority='error',
                    event_type='compute.instance.reboot.error'),
            message(t, 2, host='w-1', priority='error',
                    event_type='compute.instance.reboot.error'),
            message(t, 3, host='w-2', priority='info'),
            message(t, 4, host='w-2', priority='error', event_type='volume.attach.error'),
        ])

    lines, elapsed = watch_while_writing(
        store_url, first_poll, writer, '--host', 'w-2', '--errors-only',
        '--event-type', 'compute.', '--duration', '2.5', '-f', 'json')
    assert 2.5 <= elapsed < 6
    (row,) = [json.loads(line) for line in lines]
    assert row['request_id'] == 'req-watch-1' and row['priority'] == 'error'
    assert row['host'] == 'w-2' and row['event_type'] == 'compute.instance.reboot.error'


def test_watch_since_shows_stored_history_first(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'since.db')
    t = now() - datetime.timedelta(minutes=5)
    write(url, [message(t + datetime.timedelta(seconds=i), i) for i in range(4)])
    code, out = run(url, 'watch', '--since', '6m', '--request', 'req-watch-2',
                    '--duration', '0.5')
    assert code == 0
    (line,) = out.splitlines()
    assert line.split()[4] == 'req-watch-2'


def test_watch_ends_cleanly_on_ctrl_c(tmp_path, monkeypatch):
    url = 'sqlite:///%s' % (tmp_path / 'int.db')

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(time, 'sleep', interrupt)
    assert run(url, 'watch')[0] == 0
