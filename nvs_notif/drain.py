"""Empty a RabbitMQ dead-letter queue into the store, through the nvs endpoint.

A batch oslo.messaging cannot dispatch (a message whose ``priority`` is not a
string) is requeued until the quorum queue's delivery limit dead-letters it,
good messages with it. :func:`drain` takes those wire messages back, hands
them to :func:`nvs_notif.replay.process` (the path of ``nvs-notif replay``)
and acknowledges each one only after the store accepted its batch.
"""
import contextlib
import urllib.parse

from amqp import exceptions as amqp_exceptions
import kombu
from oslo_config import cfg
import oslo_messaging

from nvs_notif import replay


def kombu_url(transport_url):
    """The kombu URL of an oslo.messaging ``rabbit://`` transport URL.

    Several hosts (``rabbit://u:p@h1:5672,u:p@h2:5672/vhost``) become kombu's
    ``;``-separated failover list.
    """
    parsed = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), transport_url)
    if parsed.transport not in ('rabbit', 'amqp'):
        raise ValueError('not a RabbitMQ transport URL: %s://' % parsed.transport)
    vhost = urllib.parse.quote(parsed.virtual_host or '/', safe='')
    urls = []
    for host in parsed.hosts:
        auth = ''
        if host.username is not None:
            auth = urllib.parse.quote(host.username, safe='')
            if host.password is not None:
                auth += ':' + urllib.parse.quote(host.password, safe='')
            auth += '@'
        urls.append('amqp://%s%s:%d/%s' % (auth, host.hostname, host.port or 5672, vhost))
    return ';'.join(urls)


def queue_depth(channel, queue):
    """Messages ready in ``queue``; a clear error when it does not exist."""
    try:
        _, count, _ = channel.queue_declare(queue, passive=True)
    except amqp_exceptions.NotFound:
        raise LookupError('queue %r does not exist' % queue) from None
    return count


def drain(channel, queue, endpoint, batch_size=500, limit=None):
    """Take the messages of ``queue`` and store them; returns the counters.

    Messages are taken in batches of ``batch_size`` (fewer at the end), at
    most ``limit`` in all (None: until the queue is empty). A batch the store
    does not accept is requeued, and the error raised.

    :returns: the endpoint's counters plus ``taken`` (messages acknowledged)
    """
    taken = 0
    while limit is None or taken < limit:
        want = batch_size if limit is None else min(batch_size, limit - taken)
        messages = _take(channel, queue, want)
        if not messages:
            break
        try:
            replay.process(endpoint, [replay.parse_body(m.body) for m in messages])
        except BaseException:
            # Not acknowledged: back to the queue, for the next run. If the
            # channel is gone the broker requeues them itself, so a failed
            # requeue must not hide why the batch failed.
            with contextlib.suppress(Exception):
                for m in messages:
                    m.requeue()
            raise
        for m in messages:
            m.ack()
        taken += len(messages)
    return dict(endpoint.stats, taken=taken)


def _take(channel, queue, n):
    source = kombu.Queue(queue, channel=channel, no_declare=True)
    messages = []
    while len(messages) < n:
        # basic.get: stops at an empty queue, no consumer left behind.
        message = source.get(no_ack=False)
        if message is None:
            break
        messages.append(message)
    return messages
