"""WebSub subscription requests and records (pure functions).

A subscriber POSTs ``hub.mode``, ``hub.topic``, ``hub.callback`` and
optionally ``hub.lease_seconds`` and ``hub.secret`` (WebSub 5.1); the hub
answers 202 and verifies the intent later by a GET to the callback with
``hub.challenge`` (5.3), or sends ``hub.mode=denied`` (5.2).
"""
import dataclasses
import datetime
import urllib.parse

from nvs_notif.opts import websub_default

MODES = ('subscribe', 'unsubscribe')
#: WebSub 5.1: hub.secret MUST be less than 200 bytes.
SECRET_MAX_BYTES = 199
CALLBACK_MAX_LENGTH = 2048


class InvalidRequest(ValueError):
    """A subscription request the hub refuses at once (HTTP 400), with why."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Lease bounds (seconds): a requested lease is clamped into them."""
    default_lease: int = websub_default('lease_seconds_default')
    min_lease: int = websub_default('lease_seconds_min')
    max_lease: int = websub_default('lease_seconds_max')


@dataclasses.dataclass(frozen=True)
class Intent:
    """A validated request, waiting for its verification.

    ``user_id`` and ``project_id`` are the Keystone user and project of the
    token that asked (kept with the subscription, so it can be ended when
    the project goes or the user loses the role).
    """
    mode: str
    topic: str
    callback: str
    lease_seconds: int | None = None    # subscribe only
    secret: str | None = None
    user_id: str | None = None
    project_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Subscription:
    """A verified subscription: deliveries go to ``callback`` until ``expires``;
    ``user_id`` and ``project_id``: who subscribed (:class:`Intent`)."""
    topic: str
    callback: str
    expires: datetime.datetime
    secret: str | None = None
    user_id: str | None = None
    project_id: str | None = None


def _one(form, name):
    value = form.get(name)
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise InvalidRequest('%s must be given once' % name)
        value = value[0]
    return value


def check_callback(url):
    """``url`` if it can be a callback: an absolute http(s) URL with a host,
    no credentials, no fragment (where it may resolve is checked when it is
    called, :mod:`nvs_notif.websub.outbound`).

    :raises InvalidRequest: with the reason
    """
    if not url:
        raise InvalidRequest('hub.callback is required')
    if len(url) > CALLBACK_MAX_LENGTH:
        raise InvalidRequest('hub.callback is longer than %d characters' % CALLBACK_MAX_LENGTH)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidRequest('hub.callback holds spaces or control characters')
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port     # raises on a bad port
    except ValueError as exc:
        raise InvalidRequest('hub.callback is not a URL: %s' % exc) from None
    if parts.scheme not in ('http', 'https'):
        raise InvalidRequest('hub.callback must be an http or https URL')
    if not parts.hostname:
        raise InvalidRequest('hub.callback has no host')
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest('hub.callback must not hold credentials')
    if parts.fragment:
        raise InvalidRequest('hub.callback must not have a fragment')
    return url


def parse_request(form, topic_allowed, limits=Limits(), secure=True):
    """The :class:`Intent` of a subscription request.

    :param form: the form fields (``{name: value}`` or ``{name: [values]}``)
    :param topic_allowed: ``topic_allowed(topic)``: whether this hub serves
        the topic (the API decides: one of its feed URLs; it may raise its
        own refusal, e.g. a 403 for a topic of another project)
    :param secure: whether the request came over HTTPS: WebSub 5.1 says
        ``hub.secret`` SHOULD only be sent so, and a secret that crossed the
        network in clear text signs nothing; such a request is refused
    :raises InvalidRequest: with the reason, for a 400 answer
    """
    mode = _one(form, 'hub.mode')
    if mode not in MODES:
        raise InvalidRequest('hub.mode must be subscribe or unsubscribe')
    topic = _one(form, 'hub.topic')
    if not topic:
        raise InvalidRequest('hub.topic is required')
    if not topic_allowed(topic):
        raise InvalidRequest('hub.topic is not a topic of this hub')
    callback = check_callback(_one(form, 'hub.callback'))
    if mode == 'unsubscribe':
        return Intent(mode, topic, callback)
    lease = _one(form, 'hub.lease_seconds')
    if lease in (None, ''):
        seconds = limits.default_lease
    else:
        if not (isinstance(lease, str) and lease.isascii() and lease.isdigit()) or int(lease) <= 0:
            raise InvalidRequest('hub.lease_seconds must be a positive integer')
        seconds = min(max(int(lease), limits.min_lease), limits.max_lease)
    secret = _one(form, 'hub.secret')
    if secret is not None and not secure:
        raise InvalidRequest('hub.secret must only be sent over HTTPS (WebSub 5.1): this '
                             'request came over plain HTTP, so the secret is no longer one; '
                             'subscribe again over HTTPS with a new secret, or without one')
    if secret is not None:
        if not secret:
            raise InvalidRequest('hub.secret must not be empty')
        if len(secret.encode('utf-8', 'surrogatepass')) > SECRET_MAX_BYTES:
            raise InvalidRequest('hub.secret must be less than 200 bytes')
    return Intent(mode, topic, callback, seconds, secret)


def verification_params(intent, challenge):
    """The query of the verification GET (WebSub 5.3)."""
    params = {'hub.mode': intent.mode, 'hub.topic': intent.topic, 'hub.challenge': challenge}
    if intent.mode == 'subscribe':
        params['hub.lease_seconds'] = str(intent.lease_seconds)
    return params


def denial_params(topic, reason):
    """The query of a denial notice (WebSub 5.2)."""
    return {'hub.mode': 'denied', 'hub.topic': topic, 'hub.reason': reason}


def with_query(url, params):
    """``url`` with ``params`` added to the query it already has (WebSub 5.3:
    the callback's own query is kept)."""
    parts = urllib.parse.urlsplit(url)
    extra = urllib.parse.urlencode(params)
    return urllib.parse.urlunsplit(parts._replace(
        query='%s&%s' % (parts.query, extra) if parts.query else extra))


def subscription(intent, now):
    """The subscription a verified subscribe intent makes."""
    return Subscription(intent.topic, intent.callback,
                        now + datetime.timedelta(seconds=intent.lease_seconds), intent.secret,
                        intent.user_id, intent.project_id)
