"""The WebSub hub's work: verify intents, distribute new entries, end leases.

Requests are validated and kept (:meth:`Hub.request`, answered 202 by the
API); the rest runs in :meth:`Hub.run_once`, in any number of processes,
which share the :class:`~nvs_notif.websub.store.HubStore` and claim each
intent and delivery before working on it.

Distribution (WebSub 7): a POST of the topic's new entries with the topic's
``Content-Type`` and ``Link`` (hub, self) headers, and ``X-Hub-Signature:
sha256=<HMAC of the body>`` when the subscriber gave a secret.  A 2xx ends
the delivery, a 410 ends the subscription, anything else (or no answer) is
tried again after a back-off doubling up to ``retry_max`` seconds, for
``retry_window`` seconds after the first failure; then it is given up,
logged and counted.  The same delivery is sent twice only when a sender
died (or overran its claim) before recording the answer.
"""
import collections
import concurrent.futures
import dataclasses
import datetime
import hashlib
import hmac
import logging
import secrets
import threading
import urllib.parse

import requests

from nvs_notif.opts import websub_default
from nvs_notif import timeutil
from nvs_notif.websub import outbound
from nvs_notif.websub import subscriptions

LOG = logging.getLogger(__name__)


def run_rounds(round_once, stop, interval, name):
    """Call ``round_once`` until ``stop`` (a ``threading.Event``) is set,
    waiting ``interval`` seconds after a round that returned false (idle) or
    failed (logged, so one bad round never ends the process's rounds)."""
    while not stop.is_set():
        try:
            again = round_once()
        except Exception:
            LOG.exception('%s round failed', name)
            again = False
        if not again:
            stop.wait(interval)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the hub works; the ``[websub]`` options (:meth:`from_conf`)."""
    limits: subscriptions.Limits = subscriptions.Limits()
    max_subscriptions_per_topic: int = websub_default('max_subscriptions_per_topic')
    retry_initial: float = websub_default('delivery_retry_initial')
    retry_max: float = websub_default('delivery_retry_max')
    retry_window: float = websub_default('delivery_retry_window')
    #: Seconds a claimed intent or delivery stays with its process.
    claim_seconds: float = 120.0
    batch: int = 100
    workers: int = websub_default('delivery_workers')

    @classmethod
    def from_conf(cls, group):
        return cls(limits=subscriptions.Limits(group.lease_seconds_default,
                                               group.lease_seconds_min, group.lease_seconds_max),
                   max_subscriptions_per_topic=group.max_subscriptions_per_topic,
                   retry_initial=group.delivery_retry_initial,
                   retry_max=group.delivery_retry_max,
                   retry_window=group.delivery_retry_window,
                   workers=group.delivery_workers)

    def backoff(self, attempts):
        """Seconds before attempt ``attempts + 1`` (``attempts`` >= 1 failed)."""
        return min(self.retry_initial * 2 ** min(attempts - 1, 32), self.retry_max)


def signature(secret, body):
    """The ``X-Hub-Signature`` value of ``body`` (WebSub 7.1), HMAC-SHA256."""
    key = secret.encode('utf-8', 'surrogatepass')
    return 'sha256=' + hmac.new(key, body, hashlib.sha256).hexdigest()


class Hub:
    """The hub of one process.

    :param store: the shared :class:`~nvs_notif.websub.store.HubStore`
    :param policy: the :class:`~nvs_notif.websub.outbound.Policy` of callbacks
    :param settings: :class:`Settings`
    :param clock: returns the current aware datetime
    """

    def __init__(self, store, policy, settings=Settings(), clock=timeutil.utcnow):
        self.store = store
        self.policy = policy
        self.settings = settings
        self.clock = clock
        #: Per-process counters: verified, unverified, denied, delivered,
        #: retried, gone (410), given_up, refused (callback not allowed), expired.
        self.stats = collections.Counter()
        self._local = threading.local()
        self._pool = concurrent.futures.ThreadPoolExecutor(settings.workers,
                                                           thread_name_prefix='websub')

    def _client(self):
        # A requests.Session per thread.
        client = getattr(self._local, 'client', None)
        if client is None:
            client = self._local.client = outbound.Client(self.policy)
        return client

    def request(self, form, topic_allowed, secure=True, user_id=None, project_id=None):
        """Validate and keep a subscription request; the caller answers 202.

        :param topic_allowed: see :func:`subscriptions.parse_request`
        :param secure: whether the request came over HTTPS (see there)
        :param user_id: the Keystone user who asked
        :param project_id: the project of that user's token
        :raises subscriptions.InvalidRequest: for a 400 answer, with the reason
        """
        intent = dataclasses.replace(
            subscriptions.parse_request(form, topic_allowed, self.settings.limits, secure),
            user_id=user_id, project_id=project_id)
        self.store.add_intent(intent, self.clock())
        return intent

    def publish(self, topic, body, content_type, link):
        """Queue ``body`` (the topic's new entries) for every subscriber of
        ``topic``; how many deliveries that makes."""
        return self.publish_all([(topic, body, content_type, link)])

    def publish_all(self, contents):
        """:meth:`publish` of many ``(topic, body, content_type, link)`` in one write."""
        return self.store.enqueue(list(contents), self.clock())

    def deny(self, topic, callback, reason):
        """End (or refuse) a subscription and tell the subscriber (WebSub 5.2)."""
        self.store.remove_subscription(topic, callback)
        self.stats['denied'] += 1
        try:
            self._client().get(subscriptions.with_query(
                callback, subscriptions.denial_params(topic, reason)))
        except (outbound.CallbackRefused, requests.RequestException) as exc:
            LOG.info('WebSub: denial notice to %s not delivered: %s', _where(callback), exc)

    def run_once(self):
        """One round: expire leases, verify intents, send due deliveries; the
        number of intents and deliveries handled."""
        expired = self.store.expire(self.clock())
        self.stats['expired'] += expired
        intents = self.store.claim_intents(self.clock(), self.settings.claim_seconds,
                                           self.settings.batch)
        deliveries = self.store.claim_deliveries(self.clock(), self.settings.claim_seconds,
                                                 self.settings.batch)
        verified = [self._pool.submit(self._verify, i, intent) for i, intent in intents]
        sent = [self._pool.submit(self._deliver, d) for d in deliveries]
        for future in verified:
            future.result()
        # The deliveries done (taken or given up) forgotten in one write
        # per round: one request, where one per delivery kept a search
        # engine's hub busy with small bulk requests.
        done = [i for i in (future.result() for future in sent) if i is not None]
        if done:
            self.store.delivered(done)
        return len(intents) + len(deliveries)

    def run(self, stop, interval=0.2):
        """Rounds until ``stop`` (a ``threading.Event``) is set; a round that
        found work is followed by the next at once."""
        run_rounds(self.run_once, stop, interval, 'WebSub hub')

    def close(self):
        self._pool.shutdown(wait=True)

    def _verify(self, intent_id, intent):
        try:
            if intent.mode == 'subscribe' and self._topic_full(intent):
                self.deny(intent.topic, intent.callback, 'too many subscriptions to this topic')
                return
            challenge = secrets.token_urlsafe(24)
            url = subscriptions.with_query(intent.callback,
                                           subscriptions.verification_params(intent, challenge))
            try:
                answer = self._client().get(url)
            except outbound.CallbackRefused as exc:
                self.stats['refused'] += 1
                LOG.warning('WebSub: %s of %s refused: %s', intent.mode,
                            _where(intent.callback), exc)
                return
            except requests.RequestException as exc:
                answer = exc
            if not (isinstance(answer, outbound.Response) and 200 <= answer.status < 300
                    and answer.body == challenge.encode()):
                self.stats['unverified'] += 1
                LOG.info('WebSub: %s of %s to %s not verified (%s)', intent.mode,
                         _where(intent.callback), intent.topic, _said(answer))
                return
            if intent.mode == 'subscribe':
                self.store.put_subscription(subscriptions.subscription(intent, self.clock()))
            else:
                self.store.remove_subscription(intent.topic, intent.callback)
            self.stats['verified'] += 1
        finally:
            self.store.finish_intent(intent_id)

    def _topic_full(self, intent):
        others = [s for s in self.store.subscriptions(intent.topic, self.clock())
                  if s.callback != intent.callback]
        return len(others) >= self.settings.max_subscriptions_per_topic

    def _deliver(self, d):
        """POST delivery ``d``; its id when it is done (taken or given up),
        for the round to forget, else None (retried, or its subscription ended)."""
        headers = {'Content-Type': d.content_type, 'Link': d.link}
        if d.secret:
            headers['X-Hub-Signature'] = signature(d.secret, d.body)
        try:
            answer = self._client().post(d.callback, d.body, headers)
        except outbound.CallbackRefused as exc:
            # Its name resolves somewhere not allowed now: the subscription ends.
            self.stats['refused'] += 1
            LOG.warning('WebSub: subscription of %s to %s ended: %s', _where(d.callback), d.topic,
                        exc)
            self.store.remove_subscription(d.topic, d.callback)
            return None
        except requests.RequestException as exc:
            answer = exc
        status = getattr(answer, 'status', None)
        if status is not None and 200 <= status < 300:
            self.stats['delivered'] += 1
            return d.id
        if status == 410:
            self.stats['gone'] += 1
            LOG.info('WebSub: %s answered 410 Gone, subscription to %s ended', _where(d.callback),
                     d.topic)
            self.store.remove_subscription(d.topic, d.callback)
            return None
        return self._retry(d, answer)

    def _retry(self, d, answer):
        """Reschedule ``d`` after a failure (None), or give it up past the
        retry window (its id, to forget)."""
        now = self.clock()
        first = d.first_attempt if d.first_attempt is not None else now.timestamp()
        attempts = d.attempts + 1
        if now.timestamp() - first >= self.settings.retry_window:
            self.stats['given_up'] += 1
            LOG.error('WebSub: delivery to %s of %s given up after %d attempts (%s)',
                      _where(d.callback), d.topic, attempts, _said(answer))
            return d.id
        self.stats['retried'] += 1
        due = now + datetime.timedelta(seconds=self.settings.backoff(attempts))
        LOG.info('WebSub: delivery to %s failed (%s), attempt %d at %s', _where(d.callback),
                 _said(answer), attempts + 1, timeutil.iso(due))
        self.store.reschedule(d.id, due, attempts, first)
        return None


def _where(callback):
    """A callback as logged: without its query, where subscribers may keep tokens."""
    parts = urllib.parse.urlsplit(callback)
    return urllib.parse.urlunsplit(parts._replace(query='', fragment=''))


def _said(answer):
    # Only the exception's kind: requests puts the URL, query included, in its text.
    if isinstance(answer, outbound.Response):
        return 'HTTP %d' % answer.status
    return type(answer).__name__
