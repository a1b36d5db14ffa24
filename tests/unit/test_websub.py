"""The WebSub hub (nvs_notif.websub) against real HTTP subscribers: servers
on 127.0.0.1 (threads with http.server) that verify intents, take
deliveries, fail, come back, answer 410; the hub's state in a real SQLite
file shared by two hubs; no part of the hub is replaced."""
import datetime
import hashlib
import hmac
import ipaddress
import threading
import time

import pytest
import requests

from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as store_mod
from nvs_notif.websub import subscriptions
from nvs_notif.websub.subscriptions import InvalidRequest
from tests.subscriber import subscribers  # noqa: F401 (a fixture)

TOPIC = 'https://api.example.test/v1/feeds/projects/p1'
OTHER_TOPIC = 'https://api.example.test/v1/feeds/projects/p2'
LINK = '<https://api.example.test/v1/hub>; rel="hub", <%s>; rel="self"' % TOPIC
LOCAL_ONLY = outbound.Policy(networks=(ipaddress.ip_network('127.0.0.1/32'),),
                             allow_public=False, connect_timeout=1, read_timeout=0.5)
FAST = hub_mod.Settings(limits=subscriptions.Limits(default_lease=60, min_lease=1, max_lease=600),
                        retry_initial=0.2, retry_max=0.4, retry_window=30, workers=4)


def known_topic(topic):
    return topic in (TOPIC, OTHER_TOPIC)


@pytest.fixture
def hub(tmp_path):
    hubs = []

    def make(path=tmp_path / 'hub.db', settings=FAST, policy=LOCAL_ONLY):
        hubs.append(hub_mod.Hub(store_mod.SQLiteHubStore(str(path)), policy, settings))
        return hubs[-1]
    yield make
    for h in hubs:
        h.close()
        h.store.close()


def subscribe(h, sub, topic=TOPIC, **fields):
    form = {'hub.mode': 'subscribe', 'hub.topic': topic, 'hub.callback': sub.url}
    form.update(fields)
    intent = h.request(form, known_topic)
    h.run_once()
    return intent


def rounds_until(h, condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, 'not reached in %s s' % seconds
        h.run_once()
        time.sleep(0.05)


def test_subscribe_is_verified_with_a_challenge_then_entries_arrive_signed(hub, subscribers):
    h, sub, plain, other = hub(), subscribers(), subscribers(), subscribers()
    intent = h.request({'hub.mode': 'subscribe', 'hub.topic': TOPIC, 'hub.callback': sub.url,
                        'hub.lease_seconds': '120', 'hub.secret': 's3cret'}, known_topic)
    assert intent.lease_seconds == 120 and sub.gets == []      # 202: verified later
    assert h.store.subscriptions(TOPIC, h.clock()) == []
    h.run_once()
    (check,) = sub.gets
    assert check['hub.mode'] == 'subscribe' and check['hub.topic'] == TOPIC
    assert check['hub.lease_seconds'] == '120' and check['client'] == '7'   # its own query kept
    assert len(check['hub.challenge']) >= 16
    subscribe(h, plain)
    subscribe(h, other, topic=OTHER_TOPIC)
    assert [s.callback for s in h.store.subscriptions(TOPIC, h.clock())] == sorted(
        [sub.url, plain.url])

    body = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">new</feed>'
    assert h.publish(TOPIC, body, 'application/atom+xml', LINK) == 2
    h.run_once()
    (headers, got), = sub.posts
    assert got == body
    assert headers['Content-Type'] == 'application/atom+xml' and headers['Link'] == LINK
    assert headers['X-Hub-Signature'] == 'sha256=' + hmac.new(
        b's3cret', body, hashlib.sha256).hexdigest()
    (headers, got), = plain.posts
    assert got == body and 'X-Hub-Signature' not in headers
    assert other.posts == []                                  # another topic's subscriber
    assert h.stats['delivered'] == 2 and h.stats['verified'] == 3


def test_unverified_intent_makes_no_subscription(hub, subscribers):
    h, sub = hub(), subscribers(accept=False)
    subscribe(h, sub)
    assert len(sub.gets) == 1 and h.stats['unverified'] == 1
    assert h.store.subscriptions(TOPIC, h.clock()) == []
    assert h.publish(TOPIC, b'x', 'application/atom+xml', LINK) == 0


def test_unsubscribe_is_verified_and_ends_deliveries(hub, subscribers):
    h, sub = hub(), subscribers()
    subscribe(h, sub)
    h.request({'hub.mode': 'unsubscribe', 'hub.topic': TOPIC, 'hub.callback': sub.url},
              known_topic)
    assert h.store.subscriptions(TOPIC, h.clock())             # until verified
    h.run_once()
    assert sub.gets[-1]['hub.mode'] == 'unsubscribe' and 'hub.lease_seconds' not in sub.gets[-1]
    assert h.store.subscriptions(TOPIC, h.clock()) == []
    assert h.publish(TOPIC, b'x', 'application/atom+xml', LINK) == 0


def test_subscriber_down_then_up_gets_every_entry_once_after_retries(hub, subscribers):
    h, sub = hub(), subscribers()
    subscribe(h, sub)
    port = sub.port
    sub.stop()                                                 # down: connection refused
    for n in range(3):
        h.publish(TOPIC, b'entry-%d' % n, 'application/atom+xml', LINK)
    h.run_once()
    assert h.stats['retried'] == 3 and h.stats['delivered'] == 0
    time.sleep(0.5)
    h.run_once()                                               # still down: a second failure
    assert h.stats['retried'] == 6
    back = subscribers(port=port)                              # up again, same callback
    back.statuses = [503]                                      # one more failure, answered
    rounds_until(h, lambda: h.stats['delivered'] == 3)
    bodies = [body for _, body in back.posts]
    assert sorted(set(bodies)) == [b'entry-0', b'entry-1', b'entry-2']
    assert len(back.posts) == 4                                # 3 + the one answered 503
    h.run_once()
    assert len(back.posts) == 4                                # nothing sent twice


def test_slow_subscriber_times_out_and_is_retried(hub, subscribers):
    h, sub = hub(), subscribers()
    subscribe(h, sub)
    sub.delay = 1.0                                            # over the 0.5 s read timeout
    h.publish(TOPIC, b'slow', 'application/atom+xml', LINK)
    h.run_once()
    assert h.stats['retried'] == 1
    sub.delay = 0
    rounds_until(h, lambda: h.stats['delivered'] == 1)


def test_delivery_is_given_up_after_the_retry_window(hub, subscribers):
    settings = hub_mod.Settings(retry_initial=0.1, retry_max=0.1, retry_window=0.5,
                                limits=FAST.limits)
    h, sub = hub(settings=settings), subscribers()
    subscribe(h, sub)
    sub.statuses = [500] * 100
    h.publish(TOPIC, b'never', 'application/atom+xml', LINK)
    rounds_until(h, lambda: h.stats['given_up'] == 1)
    tried = len(sub.posts)
    h.run_once()
    assert len(sub.posts) == tried >= 2
    assert h.store.subscriptions(TOPIC, h.clock())            # the subscription stays


def test_410_ends_the_subscription(hub, subscribers):
    h, sub = hub(), subscribers()
    subscribe(h, sub)
    sub.statuses = [410]
    h.publish(TOPIC, b'a', 'application/atom+xml', LINK)
    h.publish(TOPIC, b'b', 'application/atom+xml', LINK)
    h.run_once()
    assert h.stats['gone'] >= 1
    assert h.store.subscriptions(TOPIC, h.clock()) == []
    assert h.publish(TOPIC, b'c', 'application/atom+xml', LINK) == 0
    time.sleep(0.3)
    h.run_once()
    assert len(sub.posts) <= 2 and b'c' not in [b for _, b in sub.posts]


def test_lease_expires(hub, subscribers):
    h, sub = hub(), subscribers()
    now = [h.clock()]
    h.clock = lambda: now[0]                 # the lease is 1 s of this clock, whatever the load
    subscribe(h, sub, **{'hub.lease_seconds': '1'})
    assert sub.gets[0]['hub.lease_seconds'] == '1'
    assert h.publish(TOPIC, b'in lease', 'application/atom+xml', LINK) == 1
    h.run_once()
    now[0] += datetime.timedelta(seconds=1.01)
    assert h.publish(TOPIC, b'after', 'application/atom+xml', LINK) == 0
    h.run_once()
    assert h.stats['expired'] == 1 and [b for _, b in sub.posts] == [b'in lease']
    assert h.store.topics(h.clock()) == []


def test_renewal_replaces_lease_and_secret(hub, subscribers):
    h, sub = hub(), subscribers()
    subscribe(h, sub, **{'hub.lease_seconds': '1', 'hub.secret': 'one'})
    subscribe(h, sub, **{'hub.lease_seconds': '300', 'hub.secret': 'two'})
    (s,) = h.store.subscriptions(TOPIC, h.clock())
    assert s.secret == 'two' and (s.expires - h.clock()).total_seconds() > 200


def test_disallowed_callbacks_are_never_called(hub, subscribers):
    h = hub()
    elsewhere = subscribers(host='127.0.0.2')                  # not in the allow-list
    subscribe(h, elsewhere)
    assert elsewhere.gets == [] and h.stats['refused'] == 1
    assert h.store.subscriptions(TOPIC, h.clock()) == []
    # A redirect from an allowed callback to a disallowed host is not followed.
    redirecting = subscribers()
    redirecting.redirect_to = elsewhere.url
    subscribe(h, redirecting)
    assert len(redirecting.gets) == 1 and elsewhere.gets == []
    assert h.store.subscriptions(TOPIC, h.clock()) == []
    # An allowed redirect is followed, each hop checked.
    target = subscribers()
    redirecting.redirect_to = target.url
    subscribe(h, redirecting)
    assert target.gets and [s.callback for s in h.store.subscriptions(TOPIC, h.clock())] == [
        redirecting.url]


def test_callback_that_moves_to_a_disallowed_address_loses_its_subscription(hub, subscribers):
    h, sub = hub(), subscribers()
    subscribe(h, sub)
    strict = hub_mod.Hub(h.store, outbound.Policy(allow_public=False), FAST)
    try:
        strict.publish(TOPIC, b'x', 'application/atom+xml', LINK)
        strict.run_once()
    finally:
        strict.close()
    assert sub.posts == [] and strict.stats['refused'] == 1
    assert h.store.subscriptions(TOPIC, h.clock()) == []


def test_topic_full_denies_with_a_notice(hub, subscribers):
    settings = hub_mod.Settings(max_subscriptions_per_topic=1, limits=FAST.limits)
    h, first, second = hub(settings=settings), subscribers(), subscribers()
    subscribe(h, first)
    subscribe(h, second)
    (notice,) = second.gets
    assert notice == {'client': '7', 'hub.mode': 'denied', 'hub.topic': TOPIC,
                      'hub.reason': 'too many subscriptions to this topic'}
    assert [s.callback for s in h.store.subscriptions(TOPIC, h.clock())] == [first.url]
    subscribe(h, first)                                        # renewing is not a new one
    assert len(h.store.subscriptions(TOPIC, h.clock())) == 1 and h.stats['denied'] == 1


def test_huge_verification_answer_is_read_to_the_bound(hub, subscribers):
    policy = outbound.Policy(networks=LOCAL_ONLY.networks, allow_public=False,
                             max_response_bytes=1024)
    sub = subscribers()
    client = outbound.Client(policy)
    try:
        sub.accept = True
        huge = sub.url + '&hub.challenge=' + 'x' * 5000
        assert len(client.get(huge).body) == 1024
    finally:
        client.close()


def test_two_hubs_share_subscriptions_and_never_send_one_delivery_twice(hub, subscribers,
                                                                        tmp_path):
    small = hub_mod.Settings(batch=5, limits=FAST.limits)
    a, sub = hub(settings=small), subscribers()
    subscribe(a, sub)
    b = hub(settings=small)                                    # another process's hub, same file
    assert b.store.subscriptions(TOPIC, b.clock())
    for n in range(60):
        a.publish(TOPIC, b'e%d' % n, 'application/atom+xml', LINK)
    stop = threading.Event()
    threads = [threading.Thread(target=x.run, args=(stop, 0.01)) for x in (a, b)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 20
        while len(sub.posts) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    bodies = [body for _, body in sub.posts]
    assert sorted(bodies) == sorted(b'e%d' % n for n in range(60))    # each exactly once
    assert a.stats['delivered'] > 0 and b.stats['delivered'] > 0


def test_restart_keeps_subscriptions_and_pending_deliveries(hub, subscribers, tmp_path):
    first, sub = hub(), subscribers()
    subscribe(first, sub)
    first.publish(TOPIC, b'pending', 'application/atom+xml', LINK)
    first.close()
    first.store.close()
    again = hub()
    again.run_once()
    assert [b for _, b in sub.posts] == [b'pending']


@pytest.mark.parametrize('form, reason', [
    ({'hub.mode': None}, 'hub.mode must be subscribe or unsubscribe'),
    ({'hub.mode': 'publish'}, 'hub.mode must be subscribe or unsubscribe'),
    ({'hub.mode': ['subscribe', 'unsubscribe']}, 'hub.mode must be given once'),
    ({'hub.mode': 'subscribe'}, 'hub.topic is required'),
    ({'hub.mode': 'subscribe', 'hub.topic': 'https://evil.test/feed'},
     'hub.topic is not a topic of this hub'),
    ({'hub.mode': 'subscribe', 'hub.topic': TOPIC}, 'hub.callback is required'),
    ({'hub.callback': 'ftp://h/x'}, 'hub.callback must be an http or https URL'),
    ({'hub.callback': 'file:///etc/passwd'}, 'hub.callback must be an http or https URL'),
    ({'hub.callback': 'gopher://127.0.0.1:6379/_'}, 'hub.callback must be an http or https URL'),
    ({'hub.callback': 'http:///nohost'}, 'hub.callback has no host'),
    ({'hub.callback': 'http://u:p@h/x'}, 'hub.callback must not hold credentials'),
    ({'hub.callback': 'http://h/x#frag'}, 'hub.callback must not have a fragment'),
    ({'hub.callback': 'http://h/x y'}, 'hub.callback holds spaces or control characters'),
    ({'hub.callback': 'http://h/\x00'}, 'hub.callback holds spaces or control characters'),
    ({'hub.callback': 'http://h:99999/'}, 'hub.callback is not a URL: Port out of range 0-65535'),
    ({'hub.callback': 'http://h/' + 'a' * 3000}, 'hub.callback is longer than 2048 characters'),
    ({'hub.lease_seconds': '-5'}, 'hub.lease_seconds must be a positive integer'),
    ({'hub.lease_seconds': '0'}, 'hub.lease_seconds must be a positive integer'),
    ({'hub.lease_seconds': '1e9'}, 'hub.lease_seconds must be a positive integer'),
    ({'hub.lease_seconds': '٣'}, 'hub.lease_seconds must be a positive integer'),
    ({'hub.secret': ''}, 'hub.secret must not be empty'),
    ({'hub.secret': 's' * 200}, 'hub.secret must be less than 200 bytes'),
    ({'hub.secret': 'é' * 100}, 'hub.secret must be less than 200 bytes'),
])
def test_bad_requests_are_refused_with_the_reason(form, reason):
    # A form naming hub.mode is the whole request; others change a good one.
    full = form if 'hub.mode' in form else dict(
        {'hub.mode': 'subscribe', 'hub.topic': TOPIC, 'hub.callback': 'https://h/cb'}, **form)
    with pytest.raises(InvalidRequest) as caught:
        subscriptions.parse_request(full, known_topic)
    assert str(caught.value) == reason


def test_leases_are_clamped_and_defaulted():
    limits = subscriptions.Limits(default_lease=100, min_lease=10, max_lease=1000)
    base = {'hub.mode': 'subscribe', 'hub.topic': TOPIC, 'hub.callback': 'https://h/cb'}
    lease = [subscriptions.parse_request(dict(base, **extra), known_topic, limits).lease_seconds
             for extra in ({}, {'hub.lease_seconds': '5'}, {'hub.lease_seconds': '500'},
                           {'hub.lease_seconds': '9' * 40})]
    assert lease == [100, 10, 500, 1000]
    assert subscriptions.parse_request(dict(base, **{'hub.secret': 's' * 199}),
                                       known_topic).secret == 's' * 199


@pytest.mark.parametrize('address, allowed', [
    ('8.8.8.8', True), ('2001:4860:4860::8888', True),
    ('127.0.0.1', False), ('10.1.2.3', False), ('192.168.0.1', False), ('172.16.0.1', False),
    ('169.254.169.254', False), ('::1', False), ('fe80::1', False), ('fd00::1', False),
    ('0.0.0.0', False), ('224.0.0.1', False), ('::ffff:127.0.0.1', False),
    ('100.64.0.1', False), ('10.20.0.5', True),
])
def test_address_policy(address, allowed):
    policy = outbound.Policy(networks=(ipaddress.ip_network('10.20.0.0/16'),))
    assert policy.address_allowed(address) is allowed


def test_host_names_allowed_by_name():
    policy = outbound.Policy(hosts=('hooks.internal', '.svc.example'))
    assert policy.host_allowed('hooks.internal') and policy.host_allowed('a.svc.example')
    assert not policy.host_allowed('svc.example.evil') and not policy.host_allowed('internal')


def test_backoff_doubles_to_its_bound():
    s = hub_mod.Settings(retry_initial=2, retry_max=300)
    assert [s.backoff(n) for n in (1, 2, 3, 8, 9, 1000)] == [2, 4, 8, 256, 300, 300]


def test_settings_and_policy_come_from_the_websub_options():
    from oslo_config import cfg

    from nvs_notif import opts
    conf = cfg.ConfigOpts()
    conf.register_opts(opts.WEBSUB_OPTS, group=opts.WEBSUB_GROUP)
    conf([], default_config_files=[])
    conf.set_override('callback_allowed_networks', ['10.20.0.0/16', 'fd12::/16'], 'websub')
    conf.set_override('callback_allowed_hosts', ['Hooks.Example'], 'websub')
    conf.set_override('lease_seconds_min', 60, 'websub')
    policy = outbound.Policy.from_conf(conf.websub)
    settings = hub_mod.Settings.from_conf(conf.websub)
    assert policy.address_allowed('10.20.3.4') and policy.address_allowed('fd12::1')
    assert policy.host_allowed('hooks.example') and policy.read_timeout == 10.0
    assert settings.limits == subscriptions.Limits(86400, 60, 864000)
    assert (settings.retry_initial, settings.retry_max, settings.retry_window,
            settings.workers, settings.max_subscriptions_per_topic) == (2.0, 300.0, 3600.0, 8, 1000)
    assert (opts.WEBSUB_GROUP, opts.WEBSUB_OPTS) in opts.list_opts()


def test_redirects_are_bounded(subscribers):
    loop = subscribers()
    loop.redirect_to = loop.url
    client = outbound.Client(LOCAL_ONLY)
    try:
        with pytest.raises(requests.TooManyRedirects):
            client.get(loop.url)
    finally:
        client.close()
    assert len(loop.gets) == LOCAL_ONLY.max_redirects + 1
