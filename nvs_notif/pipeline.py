"""The ``nvs`` pipeline manager: ceilometer-agent-notification's glue.

Per batch: redact the payload -> normalise -> span fragments -> every store publisher
writes the batch (requeue on failure) -> finished spans become ``nvs.span``
events and request meters for the sink's other publishers.
"""
import collections
import dataclasses
import datetime
import json
import logging
import threading
import time

from ceilometer.pipeline import base
from ceilometer.pipeline import event as event_pipeline
from oslo_config import cfg
import oslo_messaging

from nvs_notif import meters
from nvs_notif import notification
from nvs_notif import opts
from nvs_notif import redact
from nvs_notif import spans
from nvs_notif import storage
from nvs_notif.publisher import StorePublisher

LOG = logging.getLogger(__name__)


def _raw_text(message, limit):
    try:
        text = json.dumps(message, default=repr, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(message)
    return text[:limit]


@dataclasses.dataclass(slots=True)
class Item:
    """One good message of a batch, each part computed once."""
    notification: notification.Notification
    #: the redacted payload's JSON text (redact.redact_json), spliced into the
    #: stored document instead of encoding the payload again; None when
    #: redaction masked a copy
    payload_json: str | None
    #: the span fragments the notification tells (spans.fragments)
    fragments: list


@dataclasses.dataclass
class Items:
    """A batch as the pipeline builds it: good messages and rejects."""
    items: list = dataclasses.field(default_factory=list)
    rejects: list = dataclasses.field(default_factory=list)

    def batch(self, selected=None):
        """The :class:`storage.Batch` of ``selected`` items (default: all)."""
        items = self.items if selected is None else selected
        texts = {}
        for i in items:
            # Of duplicate ids, the first is the one stored.
            texts.setdefault(i.notification.message_id, i.payload_json)
        return storage.Batch([i.notification for i in items],
                             [f for i in items for f in i.fragments],
                             self.rejects, texts)


def build_items(messages, priority, extra_keys=(), raw_limit=65536, stats=None):
    """Turn dispatched messages into :class:`Items`; bad ones become rejects.

    One pass per message: open the envelope, unwrap and redact the payload
    (encoding it once), normalise, take its span fragment.  Normalising keeps
    only the ids of the request context, so the payload is all there is to
    mask, before the fault is read from it; a reject keeps the whole
    (redacted) message.
    """
    built = Items()
    now = datetime.datetime.now(datetime.timezone.utc)
    for message in messages:
        opened = message
        try:
            # Opened first, so a reject is redacted by key, not as one string.
            opened = notification.open_envelope(message)
            if type(opened) is not dict:
                raise notification.InvalidNotification(
                    'message is a %s, not a dict' % type(opened).__name__)
            payload, payload_json = redact.redact_json(
                notification.plain_payload(opened.get('payload')), extra_keys)
            n = notification.normalize(opened, priority, payload=payload)
            built.items.append(Item(n, payload_json, spans.fragments(n)))
        except Exception as exc:
            if not isinstance(exc, notification.InvalidNotification):
                # A bug of ours, not of the message: still one message, not
                # the batch, and loud.
                LOG.exception('Could not process a notification')
                exc = 'internal error: %s: %s' % (type(exc).__name__, exc)
            raw = _raw_text(redact.redact(opened, extra_keys), raw_limit)
            built.rejects.append(storage.Reject(raw, str(exc), now))
    if stats is not None:
        stats['notifications'] += len(built.items)
        stats['rejects'] += len(built.rejects)
    return built


def build_batch(messages, priority, extra_keys=(), raw_limit=65536, stats=None):
    """The :class:`storage.Batch` of dispatched messages (see :func:`build_items`)."""
    return build_items(messages, priority, extra_keys, raw_limit, stats).batch()


def prefetch_warning(conf):
    """Why RabbitMQ's prefetch slows the agent down, or None if it does not.

    oslo.messaging cuts every batch at the channel's prefetch count, and
    ceilometer lowers that to 100: with ``batch_size = 500`` the batches
    are 100 long and the broker waits for their acknowledgements before
    sending more, so the agent idles while a batch is stored.
    """
    try:
        prefetch = conf.oslo_messaging_rabbit.rabbit_qos_prefetch_count
        batch_size = conf.notification.batch_size
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return None                 # not the rabbit driver, or not in an agent
    if not prefetch or prefetch >= 2 * batch_size:
        return None
    return ('[oslo_messaging_rabbit] rabbit_qos_prefetch_count = %d holds the agent back: '
            'batches are cut at %d and wait for their acknowledgement; set it to at least '
            '2 x [notification] batch_size (%d), e.g. %d'
            % (prefetch, min(prefetch, batch_size), 2 * batch_size, 4 * batch_size))


def priority_methods(cls, process='process'):
    """Give an endpoint class one batch method per priority, as oslo.messaging's
    dispatcher looks them up by name, each calling ``process(priority, messages)``."""
    for priority in notification.PRIORITIES:
        def handle(self, messages, _priority=priority):
            return getattr(self, process)(_priority, messages)
        handle.__name__ = priority
        handle.__doc__ = 'Process a batch of %s notifications.' % priority
        setattr(cls, priority, handle)
    return cls


@priority_methods
class NvsEndpoint:
    """Batch notification endpoint for every priority."""

    #: Seconds to wait before requeueing when nothing can be stored (doubled
    #: per consecutive failure, up to REQUEUE_PAUSE_MAX), so a broken store or
    #: configuration does not spin the agent.
    REQUEUE_PAUSE = 1.0
    REQUEUE_PAUSE_MAX = 16.0

    #: The counters of :attr:`stats`, in the order they are logged.
    COUNTERS = ('notifications', 'rejects', 'duplicates', 'spans', 'requeued')

    def __init__(self, conf, manager):
        self.conf = conf
        self.manager = manager
        self.stats = dict.fromkeys(self.COUNTERS, 0)
        self._failures = 0
        # oslo's executor calls the endpoint from several threads at once.
        self._stats_lock = threading.Lock()
        self._reported = dict(self.stats)
        self._reported_at = time.monotonic()
        self._prefetch_checked = False

    def process(self, priority, messages):
        if not self._prefetch_checked:
            # The driver registers its options when the listener starts,
            # after the pipeline managers are built: checked here, once.
            self._prefetch_checked = True
            warning = prefetch_warning(self.conf)
            if warning:
                LOG.warning(warning)
        counts = collections.Counter()
        try:
            return self._process(priority, messages, counts)
        finally:
            self._count(counts)

    def _process(self, priority, messages, counts):
        if self.manager.unloaded_publishers:
            # Keep the messages on the bus until the configuration is fixed:
            # acknowledging them would lose them for this pipeline.
            LOG.error('Publishers (%s) failed to load (see the error logged at start); '
                      'requeueing %d notifications', ', '.join(self.manager.unloaded_publishers),
                      len(messages))
            return self._requeue(messages, counts)
        nvs = self.conf[opts.GROUP]
        batch = build_items(messages, priority, nvs.redact_keys, nvs.reject_raw_limit, counts)
        for rej in batch.rejects:
            LOG.warning('Rejected notification: %s', rej.reason)
        try:
            for pipe in self.manager.pipelines:
                self._publish(pipe, batch, counts)
        except Exception as exc:
            # The traceback only at debug level: while a store is down this
            # repeats for every batch.
            LOG.error('Store did not accept a batch of %d (%s: %s); requeueing',
                      len(messages), type(exc).__name__, exc, exc_info=LOG.isEnabledFor(10))
            return self._requeue(messages, counts)
        self._failures = 0
        return oslo_messaging.NotificationResult.HANDLED

    def _requeue(self, messages, counts):
        """Give the batch back to the bus after a pause that grows while
        failures last (1, 2, 4 ... REQUEUE_PAUSE_MAX seconds): back-pressure
        instead of spinning through redeliveries."""
        counts['requeued'] += len(messages)
        time.sleep(min(self.REQUEUE_PAUSE * 2 ** self._failures, self.REQUEUE_PAUSE_MAX))
        self._failures += 1
        return oslo_messaging.NotificationResult.REQUEUE

    def _count(self, counts):
        """Add one batch's counts; every ``[nvs] stats_interval`` seconds, log them."""
        interval = self.conf[opts.GROUP].stats_interval
        with self._stats_lock:
            for name, n in counts.items():
                self.stats[name] += n
            now = time.monotonic()
            if not interval or now - self._reported_at < interval:
                return
            seconds, self._reported_at = now - self._reported_at, now
            last, total = _counters(self.stats, self._reported), _counters(self.stats)
            self._reported = dict(self.stats)
        LOG.info('nvs endpoint, last %ds: %s; since start: %s', seconds, last, total)

    @staticmethod
    def _select(pipe, built):
        if pipe.source.events == ['*']:
            return built.batch()
        return built.batch([i for i in built.items
                            if pipe.source.support_event(i.notification.event_type)])

    def _publish(self, pipe, batch, counts):
        selected = self._select(pipe, batch)
        stores = [p for p in pipe.publishers if isinstance(p, StorePublisher)]
        others = [p for p in pipe.publishers if not isinstance(p, StorePublisher)]
        touched = {}
        for pub in stores:
            result = pub.write(selected)
            touched.update(result.spans)
            counts['duplicates'] += result.duplicates
        counts['spans'] += len(touched)
        # Stores keep the spans themselves; span events and meters are for the
        # other publishers (gnocchi, prometheus, notifier, ...).
        finished = [s for s in touched.values() if s.finished is not None]
        if not (finished and others):
            return
        events = [meters.span_event(s) for s in finished]
        samples = [smp for s in finished for smp in meters.span_samples(s)]
        for pub in others:
            pub.publish_events(events)
            pub.publish_samples(samples)


def _counters(stats, before=None):
    """'12 notifications, 0 rejects, ...': ``stats`` minus ``before``."""
    return ', '.join('%d %s' % (stats[name] - (before[name] if before else 0), name)
                     for name in NvsEndpoint.COUNTERS)


class NvsPipelineManager(base.PipelineManager):
    """Loaded by ceilometer-agent-notification as ``[notification] pipelines = nvs``."""

    pm_type = 'event'
    pm_pipeline = event_pipeline.EventPipeline
    pm_source = event_pipeline.EventSource
    pm_sink = event_pipeline.EventSink

    def __init__(self, conf):
        opts.register(conf)
        super().__init__(conf, conf[opts.GROUP].pipeline_cfg_file)
        # ceilometer logs and drops a publisher that fails to load; we refuse
        # to acknowledge anything while one is missing (see NvsEndpoint).
        self.unloaded_publishers = []
        for pipe in self.pipelines:
            missing = len(pipe.sink.cfg['publishers']) - len(pipe.publishers)
            if missing:
                self.unloaded_publishers.append('%d of sink %s' % (missing, pipe.sink))
            if not any(isinstance(p, StorePublisher) for p in pipe.publishers):
                LOG.warning('nvs sink %s has no store publisher: spans cannot be '
                            'correlated without one', pipe.sink)

    def get_main_endpoints(self):
        return [NvsEndpoint(self.conf, self)]
