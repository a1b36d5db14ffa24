"""The WebSub hub over each store it can keep its state in: a SQLite file,
real Elasticsearch and real OpenSearch; real HTTP subscribers on 127.0.0.1.
Two hubs (as two API processes) share the state: every entry reaches every
subscriber of its topic exactly once, retries survive a subscriber outage,
410 and lease expiry end subscriptions, a restarted hub keeps them."""
import hashlib
import hmac
import ipaddress
import threading
import time

import pytest

from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from nvs_notif.websub import subscriptions
from tests.functional.support import store_url
from tests.subscriber import subscribers  # noqa: F401 (a fixture)

TOPIC = 'https://api.example.test/v1/feeds/notifications?project_id=pA'
OTHER = 'https://api.example.test/v1/feeds/notifications?project_id=pB'
LINK = '<https://api.example.test/v1/hub>; rel="hub", <%s>; rel="self"' % TOPIC
POLICY = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),), allow_public=False,
                         connect_timeout=1, read_timeout=1)
SETTINGS = hub_mod.Settings(limits=subscriptions.Limits(60, 1, 600), retry_initial=0.2,
                            retry_max=0.5, retry_window=60, batch=10, workers=4)


@pytest.fixture(params=['sqlite', 'elasticsearch', 'opensearch'])
def hub_store_url(request, tmp_path):
    if request.param == 'sqlite':
        return 'sqlite:///%s' % (tmp_path / 'nvs.db')
    request.getfixturevalue('es_client')               # the server is up, else fail
    return store_url(request.param, request.getfixturevalue('es_prefix'))


@pytest.fixture
def hubs(hub_store_url):
    made = []

    def make():
        made.append(hub_mod.Hub(store_mod.open_hub_store(hub_store_url), POLICY, SETTINGS))
        return made[-1]
    yield make
    for h in made:
        h.close()
        h.store.close()


def subscribe(h, sub, topic, lease='60'):
    h.request({'hub.mode': 'subscribe', 'hub.topic': topic, 'hub.callback': sub.url,
               'hub.lease_seconds': lease, 'hub.secret': 'k%d' % sub.port}, lambda t: True,
              user_id='u-%d' % sub.port)


def run_until(hub_list, condition, seconds=30):
    stop = threading.Event()
    threads = [threading.Thread(target=h.run, args=(stop, 0.05)) for h in hub_list]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, 'not reached in %s s' % seconds
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()


def bodies(sub):
    return sorted(body for _, body in sub.posts)


def test_two_hubs_share_state_and_deliver_each_entry_once(hubs, subscribers):
    one, two = hubs(), hubs()
    a, b, other = subscribers(), subscribers(), subscribers()
    subscribe(one, a, TOPIC)
    subscribe(two, b, TOPIC)
    subscribe(one, other, OTHER)
    run_until([one, two], lambda: one.stats['verified'] + two.stats['verified'] == 3)
    assert one.store.topics(one.clock()) == [TOPIC, OTHER]
    assert [(s.callback, s.user_id) for s in two.store.subscriptions(TOPIC, two.clock())] == \
        sorted([(a.url, 'u-%d' % a.port), (b.url, 'u-%d' % b.port)])

    sent = [b'<feed>entry %02d</feed>' % n for n in range(30)]
    # What one hub queues, the other delivers: their state is shared.
    for body in sent[:10]:
        one.publish(TOPIC, body, 'application/atom+xml', LINK)
    run_until([two], lambda: len(a.posts) >= 10 and len(b.posts) >= 10)
    for body in sent[10:20]:
        two.publish(TOPIC, body, 'application/atom+xml', LINK)
    run_until([one], lambda: len(a.posts) >= 20 and len(b.posts) >= 20)
    assert one.stats['delivered'] == two.stats['delivered'] == 20
    # Both running at once over the same deliveries (which of them delivers
    # an entry is a race): each delivered exactly once.
    for n, body in enumerate(sent[20:]):
        (one if n % 2 else two).publish(TOPIC, body, 'application/atom+xml', LINK)
    run_until([one, two], lambda: len(a.posts) >= 30 and len(b.posts) >= 30)
    time.sleep(0.5)
    run_until([one, two], lambda: True)
    assert bodies(a) == sent and bodies(b) == sent                 # each exactly once
    assert other.posts == []
    for headers, body in a.posts:
        assert headers['X-Hub-Signature'] == 'sha256=' + hmac.new(
            b'k%d' % a.port, body, hashlib.sha256).hexdigest()
        assert headers['Link'] == LINK
    assert one.stats['delivered'] + two.stats['delivered'] == 60


def test_outage_410_expiry_and_restart(hubs, subscribers):
    h = hubs()
    down, gone, short = subscribers(), subscribers(), subscribers()
    subscribe(h, down, TOPIC)
    subscribe(h, gone, TOPIC)
    # A lease long enough to get the first entry on a loaded machine.
    subscribe(h, short, TOPIC, lease='6')
    run_until([h], lambda: h.stats['verified'] == 3)
    short_ends = time.time() + 6.1
    port = down.port
    down.stop()
    gone.statuses = [410]
    h.publish(TOPIC, b'first', 'application/atom+xml', LINK)
    run_until([h], lambda: h.stats['retried'] >= 2 and h.stats['gone'] == 1
              and len(short.posts) == 1)
    left = {s.callback for s in h.store.subscriptions(TOPIC, h.clock())}
    assert down.url in left and gone.url not in left
    # The hub restarts (a new process, the same store) while the subscriber is down.
    h.close()
    h.store.close()
    again = hubs()
    back = subscribers(port=port)
    run_until([again], lambda: len(back.posts) == 1)
    assert bodies(back) == [b'first']
    # The short lease has run out: no more deliveries to it.
    time.sleep(max(0.0, short_ends - time.time()))
    assert again.publish(TOPIC, b'second', 'application/atom+xml', LINK) == 1
    run_until([again], lambda: len(back.posts) == 2)
    assert bodies(short) == [b'first'] and bodies(gone) == [b'first']
    assert again.store.topics(again.clock()) == [TOPIC]
