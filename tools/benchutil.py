"""What the benchmark scripts share.

* :func:`summarize`: the per-side summary of timed runs;
* the servers: :class:`Cleanup` of everything a run creates, Elasticsearch helpers
  (``es_*``), RabbitMQ admin through kombu (:class:`Rabbit`), oslo transports;
* the end-to-end parts: preloading a topic with oslo's ``Notifier`` (:func:`preload`),
  and the oslo.messaging no-op batch consumer ceiling (:func:`run_ceiling`: one
  in-process listener, or several consumer processes); the agent subprocess is
  ``agentproc.Agent``;
* CPU accounting from ``/proc`` (Linux): process-tree CPU seconds
  (:func:`proc_table`, :func:`tree_cpu`), the Elasticsearch and RabbitMQ server
  processes (:func:`find_elasticsearch`, :func:`find_rabbitmq`), and snapshots of
  several of them plus this process and the whole machine (:func:`cpu_snapshot`,
  :func:`cpu_usage`).

The servers are those of the functional tests: Elasticsearch on ``$NVS_TEST_ES_URL``
(default ``http://127.0.0.1:9200``), RabbitMQ on ``$NVS_TEST_TRANSPORT_URL`` (default
``rabbit://guest:guest@127.0.0.1:5672/``).
"""
import collections
import os
import resource
import statistics
import sys
import threading
import time
import urllib.parse

from nvs_notif import notification
from nvs_notif import pipeline
from tools import loadgen

ES_URL = os.environ.get('NVS_TEST_ES_URL',
                        'http://127.0.0.1:%s' % os.environ.get('NVS_ES_PORT', '9200'))
OPENSEARCH_URL = os.environ.get(
    'NVS_TEST_OPENSEARCH_URL', 'http://127.0.0.1:%s' % os.environ.get('NVS_OPENSEARCH_PORT', '9201'))
#: The search engines a benchmark can run on, and their servers (as the functional tests').
ENGINE_URLS = {'elasticsearch': ES_URL, 'opensearch': OPENSEARCH_URL}
TRANSPORT_URL = loadgen.TRANSPORT_URL
EXCHANGE = 'nova'
#: ceilometer's default [notification] notification_control_exchanges: the agent
#: declares these (the only broker objects besides our queues it may create).
AGENT_EXCHANGES = ('nova', 'glance', 'neutron', 'cinder', 'heat', 'keystone', 'trove',
                   'zaqar', 'swift', 'ceilometer', 'magnum', 'dns', 'ironic', 'aodh')


def stderr(*args):
    print(*args, file=sys.stderr, flush=True)


def stdout(*args):
    print(*args, flush=True)


def summarize(sides, times, checks, count):
    """``{side name: {label, seconds, rates, best_rate, median_rate, checks}}``.

    :param times: ``{side name: [seconds per run]}``
    :param checks: ``{side name: [what each run verified]}``
    :param count: items processed per run
    """
    summary = {}
    for side in sides:
        rates = [count / t for t in times[side.name]]
        summary[side.name] = {
            'label': side.label,
            'seconds': [round(t, 4) for t in times[side.name]],
            'rates': [round(x, 1) for x in rates],
            'best_rate': round(max(rates), 1),
            'median_rate': round(statistics.median(rates), 1),
            'checks': checks[side.name][-1],
        }
    return summary


# --- cleanup ------------------------------------------------------------------

class Cleanup:
    """Callbacks run in reverse order at the end; each failure is reported, not raised."""

    def __init__(self, say):
        self.say = say
        self._callbacks = []

    def add(self, what, func, *args, **kwargs):
        self._callbacks.append((what, func, args, kwargs))

    def run(self):
        errors = []
        while self._callbacks:
            what, func, args, kwargs = self._callbacks.pop()
            try:
                func(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - keep cleaning up
                errors.append('%s: %s: %s' % (what, type(exc).__name__, exc))
        for err in errors:
            self.say('cleanup failed: %s' % err)
        return errors


def raise_on_sigterm(signum, _frame):
    # Turn SIGTERM into an exception so that every finally: block (the cleanup) runs.
    raise SystemExit(128 + signum)


# --- Elasticsearch --------------------------------------------------------------

def es_client(engine='elasticsearch', **kwargs):
    """A client of the test server of ``engine`` (its official client);
    ``kwargs`` go to the constructor."""
    if engine == 'opensearch':
        import opensearchpy
        return opensearchpy.OpenSearch(OPENSEARCH_URL, timeout=30, **kwargs)
    import elasticsearch
    return elasticsearch.Elasticsearch(ES_URL, request_timeout=30, **kwargs)


def is_opensearch(client):
    return type(client).__module__.startswith('opensearchpy')


def connection_errors():
    """Both clients' connection failures."""
    import elasticsearch
    import opensearchpy
    return (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout,
            opensearchpy.ConnectionError)


def es_health(client, timeout):
    """The cluster's health once yellow (at most ``timeout``, e.g. '10s')."""
    if is_opensearch(client):
        # opensearch-py takes ``timeout`` for the request's own without request_timeout.
        return client.cluster.health(wait_for_status='yellow', timeout=timeout,
                                     request_timeout=60)
    return client.cluster.health(wait_for_status='yellow', timeout=timeout)


def es_store_url(prefix, options=None, engine='elasticsearch'):
    """The store URL the way the functional tests build it (tests.functional.support.store_url),
    with more URL ``options`` (``{'index_payload': 'false'}``)."""
    parsed = urllib.parse.urlsplit(ENGINE_URLS[engine])
    query = dict(options or {}, index_prefix=prefix)
    if parsed.scheme == 'https':
        query['scheme'] = 'https'
    return '%s://%s/?%s' % (engine, parsed.netloc, urllib.parse.urlencode(query))


def es_check(client, wait):
    """The cluster's status, waiting up to ``wait`` seconds for it to answer (it may be
    in the middle of a restart by the functional tests)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return es_health(client, '10s')['status']
        except Exception as exc:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise RuntimeError('%s is not reachable (tools/test-services.sh start): %s'
                                   % (type(client).__name__, exc)) from None
            time.sleep(2)


def es_count(client, pattern, refresh=True):
    """Documents in the indices matching ``pattern`` (0 while there is none)."""
    if refresh:
        client.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    return client.count(index=pattern, ignore_unavailable=True,
                        allow_no_indices=True)['count']


def es_indices(client, pattern):
    """``{index name: docs.count}`` of the indices matching ``pattern``."""
    rows = client.cat.indices(index=pattern, format='json', h='index,docs.count',
                              expand_wildcards='all')
    return {r['index']: int(r.get('docs.count') or 0) for r in rows}


def es_delete_prefix_patiently(client, prefix, wait):
    """:func:`es_delete_prefix`, retried while Elasticsearch is unreachable (it may be
    restarted under us, e.g. by the functional tests' outage fixture), for at most
    ``wait`` seconds."""
    deadline = time.monotonic() + wait
    for attempt in range(1000):
        try:
            return es_delete_prefix(client, prefix)
        except connection_errors():
            if time.monotonic() + 5 > deadline:
                raise
            if attempt == 0:
                stderr('Elasticsearch unreachable; retrying the removal of %s-* for up to '
                       '%ds' % (prefix, wait))
            time.sleep(5)
    raise RuntimeError('unreachable')


def es_delete_prefix(client, prefix):
    """Delete the indices and index templates named ``<prefix>-*``, by resolved name."""
    pattern = '%s-*' % prefix
    # A 404 is not an error here; each client says so its own way.
    if is_opensearch(client):
        lenient, ignore = client, {'ignore': 404}
    else:
        lenient, ignore = client.options(ignore_status=404), {}
    names = sorted(es_indices(client, pattern))
    for start in range(0, len(names), 50):
        lenient.indices.delete(index=','.join(names[start:start + 50]),
                               expand_wildcards='none', **ignore)
    templates = lenient.indices.get_index_template(name=pattern, **ignore)
    tnames = sorted(t['name'] for t in templates.get('index_templates', ()))
    for name in tnames:
        lenient.indices.delete_index_template(name=name, **ignore)
    return len(names), len(tnames)


# --- RabbitMQ (admin bits through kombu) -----------------------------------------

def kombu_url(transport_url):
    """``rabbit://u:p@h:5672,h2:5672/vhost`` -> kombu URL of the first host."""
    parsed = urllib.parse.urlsplit(transport_url)
    scheme = {'rabbit': 'amqp', 'amqp': 'amqp'}.get(parsed.scheme.split('+')[0], 'amqp')
    netloc = parsed.netloc
    if ',' in netloc:
        creds, _, hosts = netloc.rpartition('@')
        netloc = (creds + '@' if creds else '') + hosts.split(',')[0]
    vhost = parsed.path[1:] if parsed.path not in ('', '/') else '/'
    return '%s://%s/%s' % (scheme, netloc, urllib.parse.quote(vhost, safe=''))


class Rabbit:
    """Queue depths, queue and exchange deletion; one short-lived channel per call
    (a failed passive declare closes its channel)."""

    def __init__(self, transport_url):
        import kombu
        self.conn = kombu.Connection(kombu_url(transport_url), connect_timeout=10)
        self.conn.ensure_connection(max_retries=3)

    def _call(self, func):
        import amqp.exceptions
        try:
            channel = self.conn.channel()
        except (OSError, self.conn.connection_errors):
            # The broker dropped us (restart, idle timeout): reconnect once.
            self.conn.close()
            self.conn.ensure_connection(max_retries=3)
            channel = self.conn.channel()
        try:
            return func(channel)
        except amqp.exceptions.NotFound:
            return None
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001 - already closed by the broker
                pass

    def depth(self, queue):
        """Messages ready in ``queue``, or None if it does not exist."""
        ok = self._call(lambda ch: ch.queue_declare(queue=queue, passive=True))
        return None if ok is None else ok.message_count

    def depths(self, topic):
        return {p: self.depth('%s.%s' % (topic, p)) for p in notification.PRIORITIES}

    def exchange_exists(self, name):
        return self._call(lambda ch: ch.exchange_declare(name, 'topic', passive=True)
                          or True) is not None

    def delete_queue(self, queue):
        self._call(lambda ch: ch.queue_delete(queue=queue))

    def delete_topic(self, topic):
        """Delete ``<topic>.<priority>`` for every priority; returns the names deleted."""
        deleted = []
        for prio in notification.PRIORITIES:
            name = '%s.%s' % (topic, prio)
            if self.depth(name) is not None:
                self.delete_queue(name)
                deleted.append(name)
        return deleted

    def delete_exchange_if_unused(self, name):
        import amqp.exceptions
        try:
            self._call(lambda ch: ch.exchange_delete(name, if_unused=True))
        except amqp.exceptions.PreconditionFailed:
            pass  # something is bound to it: not ours alone

    def close(self):
        self.conn.release()


def oslo_transport(exchange=EXCHANGE):
    """A notification transport whose control exchange is ``exchange``."""
    return loadgen.notification_transport(TRANSPORT_URL, exchange)


# --- end to end: preloaded topics, the no-op consumer ceiling, the agent ---------------

def simulated(count, seed):
    from nvs_notif import simulate
    return list(simulate.simulate(count, seed=seed))


def publish(topic, sims, timeout, say):
    """Publish ``sims`` to ``topic`` on exchange nova as fast as one thread can."""
    from oslo_context import context as oslo_context
    import oslo_messaging
    # Contexts are built first, as services have them; sending is what is timed.
    prepared = []
    for sim in sims:
        values = dict(sim.context or {})
        values.setdefault('user', values.get('user_id'))
        prepared.append((sim.publisher_id, sim.priority.lower(), sim.event_type,
                         sim.payload, oslo_context.RequestContext.from_dict(values)))
    transport = oslo_transport(EXCHANGE)
    try:
        notifier = oslo_messaging.Notifier(transport, publisher_id='nvs-bench',
                                           driver='messagingv2', topics=[topic], retry=3)
        subs = {}
        deadline = time.monotonic() + timeout
        t0 = time.perf_counter()
        sent = 0
        for publisher_id, prio, event_type, payload, ctxt in prepared:
            if time.monotonic() > deadline:
                raise RuntimeError('publishing took more than %ss (%d of %d sent)'
                                   % (timeout, sent, len(prepared)))
            sub = subs.get(publisher_id)
            if sub is None:
                sub = subs[publisher_id] = notifier.prepare(publisher_id=publisher_id)
            getattr(sub, prio)(ctxt, event_type, payload)
            sent += 1
        elapsed = time.perf_counter() - t0
    finally:
        transport.cleanup()
    return sent, elapsed


def wait_queued(rabbit, topic, expected, timeout):
    """Wait until the topic's queues hold ``expected`` messages; returns the depths."""
    deadline = time.monotonic() + timeout
    depths = {}
    while True:
        depths = {p: n for p, n in rabbit.depths(topic).items() if n is not None}
        if sum(depths.values()) >= expected or time.monotonic() > deadline:
            return depths
        time.sleep(0.2)


def preload(rabbit, topic, count, seed, publish_timeout, cleanup, say):
    """Publish ``count`` simulated notifications to ``topic`` (exchange nova) before any
    consumer runs, and check that the queues hold them all."""
    cleanup.add('rabbit queues %s.*' % topic, rabbit.delete_topic, topic)
    sims = simulated(count, seed)
    sent, elapsed = publish(topic, sims, publish_timeout, say)
    depths = wait_queued(rabbit, topic, sent, 30)
    queued = sum(depths.values())
    say('  preloaded topic %s: %d published in %.2fs (%.0f/s), queued %s'
        % (topic, sent, elapsed, sent / elapsed, depths))
    if queued != sent:
        raise RuntimeError('topic %s: %d published but %d queued' % (topic, sent, queued))
    return {'published': sent, 'publish_seconds': round(elapsed, 3),
            'publish_rate': round(sent / elapsed, 1), 'queued': depths}


class CountingEndpoint:
    """A batch endpoint that only counts what it is handed."""

    def __init__(self, expected):
        self.expected = expected
        self.count = 0
        self.batches = 0
        self.by_priority = collections.Counter()
        self.first = None          # (perf_counter, messages in the first batch)
        self.first_cpu = None      # this process's CPU seconds then
        self.done_at = None
        self.done = threading.Event()
        self._lock = threading.Lock()

    def _take(self, priority, messages):
        now = time.perf_counter()
        with self._lock:
            if self.first is None:
                self.first = (now, len(messages))
                self.first_cpu = self_cpu()
            self.count += len(messages)
            self.batches += 1
            self.by_priority[priority] += len(messages)
            if self.count >= self.expected and self.done_at is None:
                self.done_at = now
                self.done.set()


# All priorities the nvs endpoint has, so both sides consume the same queues.
pipeline.priority_methods(CountingEndpoint, process='_take')


def wait_consuming(rabbit, topic, queued, timeout, interval=0.02, alive=None,
                   clock=time.perf_counter):
    """When a consumer started taking the preloaded messages of ``topic``: the
    ``clock()`` (default ``time.perf_counter()``) of the first probe (every ``interval``
    s) that finds fewer than ``sum(queued.values())`` messages ready in its queues
    (delivered, even if not yet acknowledged, are no longer ready), or None after
    ``timeout`` s or once ``alive()`` is false.

    :param queued: ``{priority: messages}`` as :func:`preload` left them
    """
    queues = ['%s.%s' % (topic, p) for p, n in queued.items() if n]
    expected = sum(queued.values())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = clock()
        if sum(rabbit.depth(q) or 0 for q in queues) < expected:
            return now
        if alive is not None and not alive():
            return None
        time.sleep(max(0.0, interval - (clock() - now)))
    return None


def _ceiling_listener(transport, topic, endpoint, batch_size):
    """The no-op consumer's oslo batch listener (executor ``threading``,
    ``batch_timeout`` 1, the transport's default prefetch), not started."""
    import oslo_messaging
    targets = [oslo_messaging.Target(topic=topic, exchange=EXCHANGE)]
    return oslo_messaging.get_batch_notification_listener(
        transport, targets, [endpoint], executor='threading',
        batch_size=batch_size, batch_timeout=1)


def _add_rates(out, consumed, t0, t_end, t_consume, first):
    """The rate keys of a ceiling result: from ``t_consume`` (the consumption start,
    or None) and from ``first`` (``(time, messages)`` of the first batch, or None)
    to ``t_end``."""
    if t_consume is not None:
        out['consume_start_seconds'] = round(t_consume - t0, 3)
        span = t_end - t_consume
        out['consume_to_last_rate'] = round(consumed / span, 1) if span > 0 else None
    if first is not None:
        t_first, n_first = first
        out['startup_seconds'] = round(t_first - t0, 3)
        span = t_end - t_first
        out['first_to_last_seconds'] = round(span, 3)
        out['first_to_last_rate'] = (round((consumed - n_first) / span, 1)
                                     if span > 0 else None)


def run_ceiling(topic, count, batch_size, timeout, cpu_roots=None, rabbit=None,
                queued=None, consumers=1):
    """The oslo.messaging no-op consumer ceiling: an in-process batch listener whose
    endpoint only counts, timed from ``listener.start()`` until ``count`` were handed
    to it.  With ``consumers`` > 1: that many consumer processes instead, see
    :func:`run_ceiling_processes`.

    Also the first batch's arrival and the rate from there to the last
    (``first_to_last_rate``, ``(count - first batch) / (t_last - t_first)``), and
    this process's CPU by then (``cpu_before_first_batch``): when that is close to
    ``startup_seconds``, the listener was busy before its first batch (see
    ``bench_es.py``: the consumers' set-up takes deliveries in) and the first->last
    rate overstates.  With ``rabbit`` and ``queued`` (``{priority: messages}``, as
    :func:`preload` returns them), :func:`wait_consuming` probes the queues from the
    main thread after ``listener.start()`` (every 20 ms, until the first delivery):
    ``consume_start_seconds`` and ``consume_to_last_rate``
    (``count / (t_last - t_consume)``).

    With ``cpu_roots`` (``{name: pid or None}``, see :func:`cpu_snapshot`), the result's
    ``cpu`` is :func:`cpu_usage` of those process trees and of this process
    (``listener``: ``getrusage(RUSAGE_SELF)``, the listener's threads and the waiting
    main thread) from just before ``listener.start()`` until the main thread sees the
    count reached.
    """
    if consumers > 1:
        return run_ceiling_processes(topic, count, batch_size, timeout, consumers,
                                     cpu_roots=cpu_roots, rabbit=rabbit, queued=queued)
    endpoint = CountingEndpoint(count)
    transport = oslo_transport(EXCHANGE)
    listener = None
    cpu = None
    t_consume = None
    try:
        listener = _ceiling_listener(transport, topic, endpoint, batch_size)
        cpu0 = cpu_snapshot(cpu_roots, 'listener') if cpu_roots is not None else None
        t0 = time.perf_counter()
        c0 = self_cpu()
        listener.start()
        if rabbit is not None and queued:
            t_consume = wait_consuming(rabbit, topic, queued, timeout,
                                       alive=lambda: not endpoint.done.is_set())
        finished = endpoint.done.wait(max(0.0, timeout - (time.perf_counter() - t0)))
        t_end = endpoint.done_at if finished else time.perf_counter()
        if cpu0 is not None:
            cpu = cpu_usage(cpu0, cpu_snapshot(cpu_roots, 'listener'), endpoint.count)
    finally:
        if listener is not None:
            _stop_listener(listener, 10)
        transport.cleanup()
    total = t_end - t0
    out = {'consumed': endpoint.count, 'finished': finished, 'batches': endpoint.batches,
           'by_priority': dict(endpoint.by_priority), 'seconds': round(total, 3),
           'rate': round(endpoint.count / total, 1) if total > 0 else None}
    if cpu is not None:
        out['cpu'] = cpu
    _add_rates(out, endpoint.count, t0, t_end, t_consume, endpoint.first)
    if endpoint.first:
        out['cpu_before_first_batch'] = round(endpoint.first_cpu - c0, 3)
    return out


# --- the ceiling with several consumer processes ---------------------------------------

#: Seconds a consumer process lives at most beyond the run's timeout (it also exits when
#: told to, when this process is gone, or when it is not started in time).
CONSUMER_GRACE = 60


class ReportingEndpoint:
    """A consumer process's batch endpoint: counts nothing itself, reports every batch
    to the parent as ``('batch', index, time.monotonic(), priority, messages, cpu)``
    (``cpu``: this process's CPU seconds since :attr:`c0`, on the first batch only)."""

    def __init__(self, index, reports):
        self.index = index
        self.reports = reports
        self.c0 = None
        self.first = True
        self._lock = threading.Lock()

    def _take(self, priority, messages):
        now = time.monotonic()
        with self._lock:
            cpu = None
            if self.first:
                self.first = False
                cpu = self_cpu() - self.c0 if self.c0 is not None else None
            self.reports.put(('batch', self.index, now, priority, len(messages), cpu))


pipeline.priority_methods(ReportingEndpoint, process='_take')


def _stop_listener(listener, wait):
    """``listener.stop(); listener.wait()`` in a thread, for at most ``wait`` seconds."""
    def stop():
        try:
            listener.stop()
            listener.wait()
        except Exception:  # noqa: BLE001
            pass
    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    thread.join(wait)


def ceiling_consumer(index, topic, batch_size, timeout, parent, reports, start, stop):
    """One consumer process of :func:`run_ceiling_processes` (the target of a 'spawn'
    process): an oslo batch listener (executor ``threading``, ``batch_timeout`` 1, the
    transport's default prefetch) with a :class:`ReportingEndpoint`.

    Reports ``('ready', index, pid)`` once the listener is built, starts it when the
    ``start`` event is set, and stops when the ``stop`` event is set, when ``parent``
    (a pid) is no longer its parent, or ``timeout + CONSUMER_GRACE`` s after it was
    spawned; a failure is reported as ``('error', index, text)``.  SIGINT is ignored:
    Ctrl-C reaches the whole process group, and the parent stops its consumers itself.
    """
    import signal
    import warnings
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)    # nothing of ours on the parent's stdout (its --json document)
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    deadline = time.monotonic() + timeout + CONSUMER_GRACE

    def go_on():
        return os.getppid() == parent and time.monotonic() < deadline

    transport = listener = None
    try:
        endpoint = ReportingEndpoint(index, reports)
        transport = oslo_transport(EXCHANGE)
        listener = _ceiling_listener(transport, topic, endpoint, batch_size)
        reports.put(('ready', index, os.getpid()))
        while not start.wait(0.1):
            if stop.is_set() or not go_on():
                return
        if stop.is_set():
            return
        endpoint.c0 = self_cpu()
        listener.start()
        while not stop.wait(0.2) and go_on():
            pass
    except BaseException as exc:  # noqa: BLE001 - report, then exit
        reports.put(('error', index, '%s: %s' % (type(exc).__name__, exc)))
    finally:
        if listener is not None:
            _stop_listener(listener, 10)
        if transport is not None:
            try:
                transport.cleanup()
            except Exception:  # noqa: BLE001
                pass


def _end_processes(procs, stop, drain, wait=15.0):
    """Stop the consumer processes: the ``stop`` event, then (after ``wait`` s in all)
    SIGTERM, then SIGKILL; ``drain()`` empties the report queue meanwhile (a child
    exits only once what it put there is written).  Returns the exit codes."""
    stop.set()
    deadline = time.monotonic() + wait
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        drain()
        for p in procs:
            p.join(0.05)
    for signal_them in ('terminate', 'kill'):
        alive = [p for p in procs if p.is_alive()]
        for p in alive:
            getattr(p, signal_them)()
        for p in alive:
            p.join(5)
    return [p.exitcode for p in procs]


def run_ceiling_processes(topic, count, batch_size, timeout, consumers, cpu_roots=None,
                          rabbit=None, queued=None):
    """The ceiling with ``consumers`` processes (multiprocessing 'spawn'), each a batch
    listener on ``topic`` as in :func:`run_ceiling` (:func:`ceiling_consumer`); they
    compete for the topic's queues and together consume the ``count`` messages.

    The processes build their listeners, report ready, then all start on one event:
    t0 is taken just before it is set.  Every batch is reported with its
    ``time.monotonic()`` (system-wide, comparable across processes), so t_last (the
    time the summed count reached ``count``) and the first batch are exact; the
    consumption start is probed by :func:`wait_consuming` from this process.  The
    result has the keys of :func:`run_ceiling` (``cpu_before_first_batch``: of the
    consumer that had the first batch) and ``per_consumer`` (pid, consumed, batches,
    by_priority, startup_seconds and cpu_before_first_batch of each).

    With ``cpu_roots``, ``cpu`` has those trees, the consumers' process trees summed as
    ``listener`` and this process (the probing) as ``bench``, from just before the start
    event until this process has seen the count reached, before the consumers are
    stopped.  The consumers are stopped (stop event, then SIGTERM, SIGKILL) on every
    way out, all waits bounded.
    """
    import multiprocessing
    import queue as queue_mod
    ctx = multiprocessing.get_context('spawn')
    reports = ctx.Queue()
    start, stop = ctx.Event(), ctx.Event()
    procs = []
    per = [{'pid': None, 'consumed': 0, 'batches': 0, 'by_priority': collections.Counter(),
            'first': None, 'cpu_before_first_batch': None} for _ in range(consumers)]
    events = []            # (monotonic, messages)
    errors = []
    state = {'total': 0, 'ready': 0}

    def handle(msg):
        kind, index = msg[0], msg[1]
        if kind == 'ready':
            per[index]['pid'] = msg[2]
            state['ready'] += 1
        elif kind == 'batch':
            _kind, _index, t, priority, n, cpu = msg
            c = per[index]
            if c['first'] is None:
                c['first'] = (t, n)
                c['cpu_before_first_batch'] = cpu
            c['consumed'] += n
            c['batches'] += 1
            c['by_priority'][priority] += n
            events.append((t, n))
            state['total'] += n
        elif kind == 'error':
            errors.append('consumer %d: %s' % (index + 1, msg[2]))

    def drain(wait=0.0):
        try:
            handle(reports.get(timeout=wait) if wait else reports.get_nowait())
            while True:
                handle(reports.get_nowait())
        except (queue_mod.Empty, EOFError, OSError):
            pass

    def dead():
        return [p.name for p in procs if not p.is_alive()]

    cpu = None
    t_consume = None
    t_end = None
    try:
        for i in range(consumers):
            p = ctx.Process(target=ceiling_consumer, name='ceiling-consumer-%d' % (i + 1),
                            args=(i, topic, batch_size, timeout, os.getpid(), reports,
                                  start, stop), daemon=True)
            p.start()
            procs.append(p)
        ready_deadline = time.monotonic() + min(timeout, 120.0)
        while state['ready'] < consumers:
            drain(0.1)
            if errors:
                raise RuntimeError('ceiling consumer failed: %s' % '; '.join(errors))
            if dead():
                raise RuntimeError('ceiling consumer(s) exited before ready: %s'
                                   % ', '.join(dead()))
            if time.monotonic() > ready_deadline:
                raise RuntimeError('%d of %d ceiling consumers ready after %.0fs'
                                   % (state['ready'], consumers, min(timeout, 120.0)))
        roots = None
        if cpu_roots is not None:
            roots = dict(cpu_roots, listener=[p.pid for p in procs])
            cpu0 = cpu_snapshot(roots, 'bench')
        t0 = time.monotonic()
        start.set()
        deadline = t0 + timeout

        def going():
            drain()
            return state['total'] < count and not errors and not dead()

        if rabbit is not None and queued:
            t_consume = wait_consuming(rabbit, topic, queued, timeout, alive=going,
                                       clock=time.monotonic)
        while going() and time.monotonic() < deadline:
            drain(min(0.05, max(0.001, deadline - time.monotonic())))
        finished = state['total'] >= count
        if finished:
            # When the summed count reached ``count``: the batches in time order.
            seen = 0
            for t, n in sorted(events):
                seen += n
                if seen >= count:
                    t_end = t
                    break
        else:
            t_end = time.monotonic()
        if roots is not None:
            cpu = cpu_usage(cpu0, cpu_snapshot(roots, 'bench'), state['total'])
    finally:
        exitcodes = _end_processes(procs, stop, drain)
        drain()
        reports.close()
        reports.join_thread()
    total = t_end - t0
    consumed = state['total']
    out = {'consumed': consumed, 'finished': finished, 'consumers': consumers,
           'batches': sum(c['batches'] for c in per),
           'by_priority': dict(sum((c['by_priority'] for c in per), collections.Counter())),
           'seconds': round(total, 3),
           'rate': round(consumed / total, 1) if total > 0 else None,
           'exitcodes': exitcodes}
    if errors:
        out['errors'] = errors
    if cpu is not None:
        out['cpu'] = cpu
    firsts = [c for c in per if c['first'] is not None]
    earliest = min(firsts, key=lambda c: c['first']) if firsts else None
    _add_rates(out, consumed, t0, t_end, t_consume, earliest and earliest['first'])
    if earliest and earliest['cpu_before_first_batch'] is not None:
        out['cpu_before_first_batch'] = round(earliest['cpu_before_first_batch'], 3)
    out['per_consumer'] = [
        {'pid': c['pid'], 'consumed': c['consumed'], 'batches': c['batches'],
         'by_priority': dict(c['by_priority']),
         'startup_seconds': round(c['first'][0] - t0, 3) if c['first'] else None,
         'cpu_before_first_batch': (round(c['cpu_before_first_batch'], 3)
                                    if c['cpu_before_first_batch'] is not None else None)}
        for c in per]
    return out


# --- CPU accounting from /proc -----------------------------------------------------------

PROC = '/proc'
CLK_TCK = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


def parse_proc_stat(text):
    """``(ppid, cpu seconds, start time in ticks)`` from a ``/proc/<pid>/stat`` line.

    The CPU seconds are ``utime + stime + cutime + cstime``: the process's own time and
    that of its children it has already waited for.  Summed over a process tree this
    counts every member once, also those that exited (and were reaped) in between.
    The command name (field 2) may contain spaces and parentheses: fields are counted
    from its last ``)``.
    """
    rest = text.rpartition(')')[2].split()
    # rest[0] is field 3 (state): ppid is field 4, utime..cstime 14..17, starttime 22.
    ticks = sum(int(x) for x in rest[11:15])
    return int(rest[1]), ticks / CLK_TCK, int(rest[19])


def _read(path, mode='r'):
    try:
        with open(path, mode) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def proc_table(proc=PROC):
    """``{pid: (ppid, cpu seconds, start ticks)}`` of every process now alive."""
    table = {}
    try:
        names = os.listdir(proc)
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        text = _read(os.path.join(proc, name, 'stat'))
        if text:
            try:
                table[int(name)] = parse_proc_stat(text)
            except (ValueError, IndexError):
                pass
    return table


def tree_pids(table, root):
    """``root`` and all its descendants in ``table`` (``root`` first), or ``[]`` if it
    is not alive."""
    if root not in table:
        return []
    children = collections.defaultdict(list)
    for pid, (ppid, _cpu, _start) in table.items():
        children[ppid].append(pid)
    out, todo = [], [root]
    while todo and len(out) <= len(table):   # bounded even with a broken table
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def tree_cpu(table, root):
    """CPU seconds of ``root``'s process tree (see :func:`parse_proc_stat`), or None if
    ``root`` is not alive."""
    pids = tree_pids(table, root)
    return round(sum(table[p][1] for p in pids), 3) if pids else None


def proc_cmdline(pid, proc=PROC):
    """The argument list of ``pid`` (``[]`` if gone or unreadable)."""
    raw = _read(os.path.join(proc, str(pid), 'cmdline'), 'rb')
    return [a.decode(errors='replace') for a in raw.split(b'\0') if a] if raw else []


def find_process(match, proc=PROC):
    """The oldest process whose argument list satisfies ``match(argv)``, or None
    (the oldest is the parent when a matching process forked)."""
    table = proc_table(proc)
    found = [pid for pid in table if pid != os.getpid() and match(proc_cmdline(pid, proc))]
    return min(found, key=lambda p: (table[p][2], p)) if found else None


def _is_elasticsearch(argv):
    if not argv:
        return False
    if 'org.elasticsearch.bootstrap.Elasticsearch' in argv:
        return True
    return (os.path.basename(argv[0]) == 'java'
            and any('elasticsearch' in a for a in argv)
            and not any(a.startswith('org.elasticsearch.server.cli')
                        or a.startswith('org.elasticsearch.launcher') for a in argv))


def _is_rabbitmq(argv):
    return (bool(argv) and os.path.basename(argv[0]) == 'beam.smp'
            and any('rabbit' in a for a in argv))


def find_elasticsearch(proc=PROC):
    """The Elasticsearch server JVM (``org.elasticsearch.bootstrap.Elasticsearch``, or a
    ``java`` with ``elasticsearch`` in its arguments that is not the CLI launcher)."""
    return find_process(_is_elasticsearch, proc)


def find_rabbitmq(proc=PROC):
    """RabbitMQ's Erlang VM (``beam.smp`` with ``rabbit`` in its arguments)."""
    return find_process(_is_rabbitmq, proc)


def set_tree_affinity(root, cpus, proc=PROC):
    """Put every thread of ``root``'s process tree on ``cpus`` (threads and children
    made later inherit it); a thread that is gone meanwhile is skipped.

    :returns: how many threads were moved
    """
    moved = 0
    for pid in tree_pids(proc_table(proc), root):
        try:
            tids = os.listdir(os.path.join(proc, str(pid), 'task'))
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
                moved += 1
            except (ProcessLookupError, PermissionError, ValueError):
                pass
    return moved


def self_cpu():
    """CPU seconds of this process, all threads (``getrusage(RUSAGE_SELF)``)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def machine_cpu(proc=PROC):
    """``(busy, steal)`` CPU seconds of the whole machine since boot, from the ``cpu``
    line of ``/proc/stat`` (busy: user, nice, system, irq, softirq; guest time is
    already in user), or None."""
    text = _read(os.path.join(proc, 'stat'))
    if not text or not text.startswith('cpu '):
        return None
    v = [int(x) for x in text.split('\n', 1)[0].split()[1:]]
    v += [0] * (8 - len(v))
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK, v[7] / CLK_TCK


def cpu_snapshot(roots, self_name=None, proc=PROC):
    """CPU counters now: ``roots`` is ``{name: pid or None}`` (the process trees to
    follow; a list or tuple of pids: the sum of their trees under one name);
    ``self_name`` (if given) adds this process under that name.

    Each process entry is ``(pid, start ticks, tree CPU seconds)`` (for a list of pids:
    ``(pids, start ticks of each, sum)``) or None (no pid, or a process is gone); the
    start time tells a restarted server from the same one.
    """
    table = proc_table(proc)
    procs = {}
    for name, pid in roots.items():
        if isinstance(pid, (list, tuple)):
            cpus = [tree_cpu(table, p) for p in pid] if pid else [None]
            procs[name] = None if None in cpus else (
                tuple(pid), tuple(table[p][2] for p in pid), round(sum(cpus), 3))
            continue
        cpu = tree_cpu(table, pid) if pid else None
        procs[name] = None if cpu is None else (pid, table[pid][2], cpu)
    return {'time': time.perf_counter(), 'procs': procs,
            'self': (self_name, self_cpu()) if self_name else None,
            'machine': machine_cpu(proc)}


def cpu_usage(start, end, count, cpus=None):
    """What each process tree used between two :func:`cpu_snapshot` s.

    ``{'wall', 'cpus', 'seconds': {name: CPU s}, 'us_per_notification': {name: us},
    'machine_busy', 'machine_steal', 'unaccounted', 'missing': {name: why}}``.  A name is
    None in ``seconds`` when its process was not found at either end, or was a different
    process at the end (a restart).  ``unaccounted`` is the machine's busy time minus
    the named ones (other processes, the kernel's own threads, and anything a missing
    name used).
    """
    wall = end['time'] - start['time']
    seconds, missing = {}, {}
    for name in start['procs']:
        a, b = start['procs'][name], end['procs'].get(name)
        if a is None or b is None:
            seconds[name] = None
            missing[name] = 'not found' if a is None else 'gone by the end'
        elif a[:2] != b[:2]:
            seconds[name] = None
            missing[name] = 'restarted (pid %s -> %s)' % (a[0], b[0])
        else:
            seconds[name] = round(b[2] - a[2], 3)
    if start.get('self') and end.get('self'):
        seconds[start['self'][0]] = round(end['self'][1] - start['self'][1], 3)
    out = {'wall': round(wall, 3), 'cpus': cpus or os.cpu_count(), 'seconds': seconds,
           'us_per_notification': {n: (round(s * 1e6 / count) if s is not None and count
                                       else None) for n, s in seconds.items()},
           'missing': missing}
    if start.get('machine') and end.get('machine'):
        busy = end['machine'][0] - start['machine'][0]
        out['machine_busy'] = round(busy, 3)
        out['machine_steal'] = round(end['machine'][1] - start['machine'][1], 3)
        out['unaccounted'] = round(busy - sum(s for s in seconds.values() if s), 3)
    return out


def format_cpu(usage):
    """``cpu us/notification: agent 412 (4.12 s), ... (wall 9.3s, 2 CPUs, ...)``."""
    parts = []
    for name, s in usage['seconds'].items():
        if s is None:
            parts.append('%s None (%s)' % (name, usage['missing'].get(name, '?')))
        else:
            us = usage['us_per_notification'][name]
            parts.append('%s %s (%.2f s)' % (name, 'n/a' if us is None else us, s))
    tail = 'wall %.1fs, %d CPUs' % (usage['wall'], usage['cpus'])
    if 'machine_busy' in usage:
        tail += ', machine busy %.2f s = %.0f%%, unaccounted %.2f s, steal %.2f s' % (
            usage['machine_busy'],
            100.0 * usage['machine_busy'] / (usage['wall'] * usage['cpus'])
            if usage['wall'] > 0 else 0,
            usage['unaccounted'], usage['machine_steal'])
    return 'cpu us/notification: %s (%s)' % (', '.join(parts), tail)
