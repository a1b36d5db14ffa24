"""Benchmark: a search-engine store and the whole agent against plain baselines.

Two measurements, both sides of each in the same run, on the real servers the
functional tests use (``--engine elasticsearch``, the default: Elasticsearch on
``$NVS_TEST_ES_URL``, default ``http://127.0.0.1:9200``; ``--engine opensearch``:
OpenSearch on ``$NVS_TEST_OPENSEARCH_URL``, default ``http://127.0.0.1:9201``, where
the baseline is opensearch-py's ``helpers.bulk`` and there is no orjson baseline;
RabbitMQ on ``$NVS_TEST_TRANSPORT_URL``, default ``rabbit://guest:guest@127.0.0.1:5672/``).

1. **Bulk indexing.** N simulated notifications (:func:`nvs_notif.simulate.simulate`,
   ``normalize(redact(message))``) are written

   * by our driver, ``ElasticsearchStore.write(Batch(notifications=chunk))`` per
     ``--batch-size`` chunk (no span fragments: pure indexing), and, as a second line,
     with the chunk's span fragments as well (``Batch(notifications, fragments)``, what
     the agent hands the store);
   * by a plain ``elasticsearch.helpers.bulk(client, actions, chunk_size=500)`` of the
     same documents (``notification_doc``, ``create`` with the message id as ``_id``,
     like ours), into a fresh index under the same index templates; and again with
     the client's ``OrjsonSerializer`` (our store's serializer), as a second baseline.

   Inputs (Notification objects for ours, the action dicts for plain) are built before
   timing; template installation and client construction are outside the timed part.
   Each run gets fresh indices (own prefix), runs are interleaved with the order
   alternating per repeat, after ``--warmup`` untimed rounds of every side.  Printed:
   best and median docs/s of each, and the ratio ours/plain of the medians (target
   >= 0.8).

2. **End to end.** ``--e2e-repeat`` R (default 3) runs of each of two sides,
   interleaved with the order alternating per repeat (ceiling, ours; ours, ceiling;
   ...).  Every run gets its own topic, into which M (``--e2e-count``) notifications
   are published with oslo.messaging's ``Notifier`` (``messagingv2``, control exchange
   ``nova``, one thread) *before* any consumer runs (the queue depth is checked); the
   run then consumes them:

   * the ceiling: ``--ceiling-consumers`` K (default: ``--workers``, so that both
     sides have as many consuming processes) oslo batch listeners
     (``oslo_messaging.get_batch_notification_listener``, executor ``threading``, batch
     ``--e2e-batch-size``, timeout 1, the transport's default prefetch: unlimited)
     whose endpoints only count.  K = 1: one listener in this process, timed from
     ``listener.start()`` until M were handed to it (t_last, exact).  K > 1: K
     consumer processes (multiprocessing 'spawn'), competing for the topic's queues;
     each builds its listener and reports ready, then all start on one event (t0 is
     taken just before it is set), and every batch is reported to this process with
     its ``time.monotonic()`` (system-wide): t_last is when the summed count reached M
     (exact).  The consumers are stopped (stop event, then SIGTERM, then SIGKILL) on
     every way out, and exit by themselves when this process is gone;
   * ours: a real ``ceilometer-agent-notification`` subprocess (``[notification]
     pipelines = nvs``, ``workers = --workers``, prefetch 4 x batch, the sink
     publishing to ``elasticsearch://...?index_prefix=<unique per run>``, its config,
     log and spool in a directory of its own), timed from process start until
     Elasticsearch counts M documents in ``<prefix>-notifications*`` (refresh + count
     every 0.5 s: t_last is up to 0.5 s late).

   Three rates per run, M over different windows ending at t_last:

   * **from consumption start** (the headline): from the first probe of the topic's
     queues (passive declares from this process, every 20 ms for the ceiling, 50 ms
     for ours, until then) that finds fewer than M messages ready, i.e. the moment
     RabbitMQ started delivering to the side's consumer(s).  This leaves out the
     agent's Python start-up (and the listener's connection set-up) but keeps all
     the work on messages in both sides' windows;
   * **first->last**: ``(M - n_first) / (t_last - t_first)`` from the first batch
     handed to the ceiling's endpoint / the first poll that counts documents for
     ours (n_first: what had arrived by then).  Biased when the first batch comes
     late *because of work*: the listener subscribes its priority queues one after
     the other and, while it waits for each ``basic.consume-ok``, py-amqp takes in
     (and oslo decodes) the deliveries already streaming from the queues subscribed
     before -- with unlimited prefetch up to the whole 'info' queue, depending on
     the (per-run) order of the subscriptions.  Such a run shows a late first batch
     with ``cpu_before_first_batch`` close to it, and first->last rates 2-4 times
     its CPU allows (seen: 14,500/s at ~250 us of CPU per notification).  The
     agent's workers do the same up to their prefetch;
   * **total**: from ``listener.start()`` / agent process start.

   **CPU.** Each run also records the CPU seconds (user + system) used in its timed
   window, and per consumed notification, by

   * ours: the agent's process tree (the master and its forked workers: the tree is
     walked anew, through the ``ppid`` of every ``/proc/<pid>/stat``, at each sample),
     the Elasticsearch JVM (``org.elasticsearch.bootstrap.Elasticsearch``) and
     RabbitMQ (``beam.smp``), each as a process tree, and this process (``bench``:
     the polling); sampled right after the agent is spawned, when the first
     document is counted (giving the ``first->last only`` figures and the agent's
     start-up CPU) and after the last count, before the agent is stopped;
   * the ceiling: the consumer(s) (``listener``: with K = 1 this process,
     ``getrusage(RUSAGE_SELF)``, the listener's threads and the main thread's probing;
     with K > 1 the K consumer processes' trees summed, and this process, the probing,
     as ``bench``), RabbitMQ and, as a background check, Elasticsearch; sampled just
     before the listener(s) start and when this process sees the count reached.

   A tree's CPU is ``utime + stime + cutime + cstime`` summed over its live members
   (exited children count once their parent reaped them).  A process that is not
   found, is gone or was restarted (pid or start time changed) is reported as None.
   Also reported: the whole machine's busy time (``/proc/stat``), what of it no
   named process accounts for (``unaccounted``: other processes, kernel threads) and
   the steal time -- a shared machine shows up there.  The servers' CPU includes
   the benchmark's own probing and refresh + count every 0.5 s.

   Printed: every run (rates, CPU), then per side the medians over the runs of the
   three rates and of each process's CPU per notification, then the ratios
   ours/ceiling of the medians: from consumption start (headline, target >= 0.6),
   first->last and total.  ``--json`` has all the runs as well.

Everything the script creates carries one unique name (``nvs-bench-<hex>``): indices and
index templates, the notification topics (queues ``<topic>.<priority>``), the temp dir
with the agent's config and log.  They are removed at the end, also on failure,
Ctrl-C or SIGTERM; every agent is stopped (SIGTERM to its process group, then SIGKILL).
Exchanges the run had to create (e.g. ``nova`` on an empty broker) are deleted only if
unused.  Every loop is bounded in count and in time (see the ``--*-timeout`` options).

::

    .venv/bin/python -m tools.bench_es
    .venv/bin/python -m tools.bench_es --count 50000 --repeat 5 --skip-e2e
    .venv/bin/python -m tools.bench_es --e2e-count 20000 --workers 2 --skip-bulk --json
    .venv/bin/python -m tools.bench_es --skip-bulk --e2e-count 20000 --e2e-repeat 5
    .venv/bin/python -m tools.bench_es --skip-bulk --workers 2 --ceiling-consumers 1
    .venv/bin/python -m tools.bench_es --skip-bulk --pin-services 1

``--pin-services CPUS`` runs Elasticsearch and RabbitMQ (every thread of their process
trees) on those CPUs and this process, the ceiling's consumers and the agent on the
others, for the whole end-to-end part: the shape of a deployment where the store and
the broker have machines of their own, so that Elasticsearch's indexing does not take
CPU from the agent that the ceiling never pays for. Each keeps its own CPU accounting;
affinities are given back at the end, also on failure.
"""
import argparse
import collections
import gc
import importlib
import json
import logging
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
import warnings

from tools import benchutil
from tools.agentproc import Agent
from tools.benchutil import (AGENT_EXCHANGES, ENGINE_URLS, TRANSPORT_URL, Cleanup, Rabbit,
                             connection_errors, es_check, es_client, es_count, es_delete_prefix,
                             es_delete_prefix_patiently, es_health, es_indices, es_store_url,
                             preload, run_ceiling, simulated)

POLL_INTERVAL = 0.5
_stderr, _stdout = benchutil.stderr, benchutil.stdout


def build_bulk_inputs(count, seed):
    """Notifications (ours), their docs (plain) and span fragments, all pre-built."""
    from nvs_notif import notification
    from nvs_notif import redact
    from nvs_notif import spans
    from nvs_notif.storage import documents
    notifications = [notification.normalize(redact.redact(s.to_message()))
                     for s in simulated(count, seed)]
    t0 = time.perf_counter()
    docs = [documents.notification_doc(n) for n in notifications]
    doc_seconds = time.perf_counter() - t0
    fragments = [spans.fragment(n) for n in notifications]
    sizes = [len(json.dumps(d, default=str)) for d in docs]
    info = {
        'notifications': len(notifications),
        'priorities': dict(sorted(collections.Counter(n.priority for n in notifications)
                                  .items())),
        'span_fragments': sum(f is not None for f in fragments),
        'mean_doc_json_bytes': round(statistics.fmean(sizes)) if sizes else 0,
        'notification_doc_seconds': round(doc_seconds, 4),
        'days': sorted({n.timestamp.date().isoformat() for n in notifications
                        if n.timestamp is not None}),
    }
    return notifications, docs, fragments, info


# --- measurement 1: bulk indexing ------------------------------------------------------

class OursSide:
    name = 'ours'
    label = 'ours: store.write, notifications only'
    with_fragments = False

    def __init__(self, notifications, fragments, batch_size, options, engine):
        self.notifications = notifications
        self.fragments = fragments
        self.batch_size = batch_size
        self.options = options
        self.engine = engine

    def prepare(self, client, prefix):
        from nvs_notif import storage
        store = storage.get_store(es_store_url(prefix, self.options, self.engine))
        # Template installation is a once-per-process cost: keep it out of the timing.
        ensure = getattr(store, '_prepare', None)
        if ensure is not None:
            ensure()
        # The batches are built here so that only write() is timed.
        from nvs_notif.storage import Batch
        batches = []
        for start in range(0, len(self.notifications), self.batch_size):
            chunk = self.notifications[start:start + self.batch_size]
            frags = ([f for f in self.fragments[start:start + self.batch_size]
                      if f is not None] if self.with_fragments else [])
            batches.append(Batch(notifications=chunk, fragments=frags))
        return store, batches

    @staticmethod
    def run(state):
        store, batches = state
        touched = set()
        duplicates = 0
        for batch in batches:
            result = store.write(batch)
            touched.update(result.spans)
            duplicates += result.duplicates
        return {'spans_touched': len(touched), 'duplicates': duplicates}

    @staticmethod
    def close(state):
        state[0].close()


class OursSpansSide(OursSide):
    name = 'ours+spans'
    label = 'ours: store.write, with span fragments'
    with_fragments = True


def daily_index(prefix, iso_timestamp):
    day = iso_timestamp[:10].replace('-', '.') if iso_timestamp else time.strftime(
        '%Y.%m.%d', time.gmtime())
    return '%s-notifications-%s' % (prefix, day)


class PlainSide:
    name = 'plain'
    label = 'plain: helpers.bulk(chunk_size=500)'

    def __init__(self, docs, engine):
        self.docs = docs
        self.engine = engine

    def prepare(self, client, prefix):
        from nvs_notif.storage import search_templates
        search_templates.install(engine_adapter(self.engine).Engine(client), prefix)
        # The same layout as the store's: daily indices by the notification's own time
        # (the template makes '<prefix>-notifications' an alias over them, so that
        # name cannot be an index).
        actions = [{'_op_type': 'create', '_index': daily_index(prefix, d['timestamp']),
                    '_id': d['message_id'], '_source': d} for d in self.docs]
        return client, actions

    def run(self, state):
        client, actions = state
        helpers = engine_adapter(self.engine).Engine(client).helpers     # the client's own
        ok, errors = helpers.bulk(client, actions, chunk_size=500)
        return {'ok': ok, 'errors': len(errors) if isinstance(errors, list) else errors}

    @staticmethod
    def close(_state):
        pass


class PlainOrjsonSide(PlainSide):
    """The plain baseline with elasticsearch-py's orjson serializer, which our
    store uses too: so the ratio is not a serializer's."""
    name = 'plain+orjson'
    label = 'plain: helpers.bulk(chunk_size=500), OrjsonSerializer'

    def prepare(self, client, prefix):
        from elasticsearch.serializer import OrjsonSerializer
        _client, actions = super().prepare(client, prefix)
        return es_client(serializer=OrjsonSerializer()), actions

    @staticmethod
    def close(state):
        state[0].close()


def engine_adapter(engine):
    """Our store's adapter module of ``engine`` (its Engine: the client's helpers, templates)."""
    return importlib.import_module('nvs_notif.storage.' + engine)


def es_unreachable(exc):
    """Whether ``exc`` (or what caused it) is a connection failure to the search engine."""
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, connection_errors()):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def es_wait(client, wait):
    """Wait (at most ``wait`` seconds) until the cluster is yellow again."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            es_health(client, '5s')
            return
        except Exception:  # noqa: BLE001
            time.sleep(2)
    raise RuntimeError('the search engine did not come back within %ss' % wait)


def timed_run(side, client, prefix):
    state = side.prepare(client, prefix)
    gc.collect()
    t_start = time.perf_counter()
    try:
        result = side.run(state)
        return time.perf_counter() - t_start, result
    finally:
        side.close(state)


def bench_bulk(args, base, client, cleanup, say):
    t0 = time.perf_counter()
    notifications, docs, fragments, inputs = build_bulk_inputs(args.count, args.seed)
    say('bulk inputs: %d notifications (seed %d), %d span fragments, mean doc %d bytes '
        'JSON, built in %.1fs; notification_doc() of all takes %.3fs'
        % (inputs['notifications'], args.seed, inputs['span_fragments'],
           inputs['mean_doc_json_bytes'], time.perf_counter() - t0,
           inputs['notification_doc_seconds']))
    sides = [OursSide(notifications, fragments, args.batch_size, args.es_option, args.engine),
             PlainSide(docs, args.engine)]
    if args.engine == 'elasticsearch':
        # opensearch-py has no orjson serializer of its own.
        sides.append(PlainOrjsonSide(docs, args.engine))
    if not args.no_spans:
        sides.append(OursSpansSide(notifications, fragments, args.batch_size, args.es_option,
                                   args.engine))
    times = {s.name: [] for s in sides}
    checks = {s.name: [] for s in sides}
    for w in range(args.warmup):
        # Untimed: the first bulk requests after a quiet spell (or an ES restart) are
        # much slower (JIT, caches, shard creation paths); neither side should pay it.
        t_w = time.perf_counter()
        for side in sides:
            prefix = '%s-w%d%s' % (base, w + 1, re.sub(r'\W', '', side.name))
            cleanup.add('es %s' % prefix, es_delete_prefix_patiently, client, prefix,
                        args.cleanup_wait)
            state = side.prepare(client, prefix)
            try:
                side.run(state)
            finally:
                side.close(state)
            es_delete_prefix(client, prefix)
        say('  warm-up round %d (all sides, untimed): %.1fs'
            % (w + 1, time.perf_counter() - t_w))
    for r in range(args.repeat):
        order = sides if r % 2 == 0 else sides[::-1]
        for side in order:
            prefix = '%s-b%d%s' % (base, r + 1, re.sub(r'\W', '', side.name))
            cleanup.add('es %s' % prefix, es_delete_prefix_patiently, client, prefix,
                        args.cleanup_wait)
            for attempt in range(3):
                try:
                    elapsed, result = timed_run(side, client, prefix)
                    break
                except Exception as exc:  # noqa: BLE001
                    if attempt == 2 or not es_unreachable(exc):
                        raise
                    # Elasticsearch went away under us (the functional tests restart it):
                    # wait for it, drop the partial run and do it again.
                    say('  run %d %-10s Elasticsearch unreachable (%s); waiting up to %ds '
                        'and redoing the run' % (r + 1, side.name, type(exc).__name__,
                                                 args.cleanup_wait))
                    es_wait(client, args.cleanup_wait)
                    es_delete_prefix(client, prefix)
            stored = es_count(client, '%s-notifications*' % prefix)
            info = dict(result, stored=stored,
                        indices=es_indices(client, '%s-notifications*' % prefix))
            if side.name == 'ours+spans':
                info['spans_stored'] = es_count(client, '%s-spans*' % prefix)
            info['rejects_stored'] = es_count(client, '%s-rejects*' % prefix)
            times[side.name].append(elapsed)
            checks[side.name].append(info)
            say('  run %d %-10s %7.3fs %8.0f docs/s  stored %d%s'
                % (r + 1, side.name, elapsed, args.count / elapsed, stored,
                   '' if stored == args.count else '  (MISMATCH: expected %d)' % args.count))
            # Keep the cluster small: drop this run's indices now (they are also
            # registered for the final cleanup, which then finds nothing).
            es_delete_prefix(client, prefix)
    summary = benchutil.summarize(sides, times, checks, args.count)
    for side in sides:
        summary[side.name]['all_stored'] = all(c['stored'] == args.count
                                               for c in checks[side.name])
    plain = summary['plain']['median_rate']
    out = {'inputs': inputs, 'sides': summary,
           'ratio_ours_over_plain': round(summary['ours']['median_rate'] / plain, 3),
           'target': 0.8}
    if 'plain+orjson' in summary:
        out['ratio_ours_over_plain_orjson'] = round(
            summary['ours']['median_rate'] / summary['plain+orjson']['median_rate'], 3)
    if 'ours+spans' in summary:
        out['ratio_ours_spans_over_plain'] = round(summary['ours+spans']['median_rate']
                                                   / plain, 3)
    return out


# --- measurement 2: end to end ---------------------------------------------------------

def service_pids():
    """The server processes whose CPU each end-to-end run reports (None: not found)."""
    return {'elasticsearch': benchutil.find_elasticsearch(),
            'rabbitmq': benchutil.find_rabbitmq()}


def run_agent(args, rabbit, topic, queued, prefix, workdir, client, timeout, cleanup, say,
              name='bench-agent'):
    agent = Agent(workdir, name, TRANSPORT_URL, topic,
                  [es_store_url(prefix, args.es_option, args.engine)],
                  workers=args.workers, batch_size=args.e2e_batch_size)
    cleanup.add('agent %s' % name, agent.stop)
    pattern = '%s-notifications*' % prefix
    expected = args.e2e_count
    services = service_pids()
    t0 = time.perf_counter()
    agent.start()
    # CPU: the agent's process tree (its workers are forked later: every snapshot walks
    # the tree anew), the servers, and this process (the polling).
    roots = dict(agent=agent.proc.pid, **services)
    cpu_start = benchutil.cpu_snapshot(roots, 'bench')
    cpu_first = None
    deadline = time.monotonic() + timeout
    # Until its consumers take the first deliveries, nothing can be stored: probe the
    # queues instead (every 50 ms; the agent's Python start-up takes seconds).
    t_consume = benchutil.wait_consuming(rabbit, topic, queued,
                                         max(0.0, deadline - time.monotonic()),
                                         interval=0.05, alive=agent.alive)
    first = None             # (seconds since start, count then)
    last_progress = (time.monotonic(), 0)
    count, polls, reason = 0, 0, 'timeout'
    while time.monotonic() < deadline:
        polls += 1
        count = es_count(client, pattern)
        now = time.perf_counter()
        if count and first is None:
            first = (now - t0, count)
            cpu_first = benchutil.cpu_snapshot(roots, 'bench')
        if count >= expected:
            reason = 'done'
            break
        if count != last_progress[1]:
            last_progress = (time.monotonic(), count)
        elif first is not None and time.monotonic() - last_progress[0] > args.stall_timeout:
            reason = 'stalled at %d for %ss' % (count, args.stall_timeout)
            break
        if not agent.alive():
            reason = 'agent exited with %s' % agent.proc.returncode
            break
        # Sleep to the next 0.5 s tick (the refresh+count itself takes a little).
        time.sleep(max(0.0, POLL_INTERVAL - (time.perf_counter() - now)))
    total = time.perf_counter() - t0
    cpu_end = benchutil.cpu_snapshot(roots, 'bench')
    rejects = es_count(client, '%s-rejects*' % prefix)
    spans = es_count(client, '%s-spans*' % prefix)
    indices = es_indices(client, pattern)
    agent.stop()
    log = agent.log_summary()
    out = {'finished': reason == 'done', 'end': reason, 'stored': count,
           'rejects_stored': rejects, 'spans_stored': spans, 'indices': indices,
           'polls': polls, 'seconds': round(total, 3),
           'rate': round(count / total, 1) if total > 0 else None,
           'workers': args.workers, 'log': log,
           'cpu': benchutil.cpu_usage(cpu_start, cpu_end, count)}
    if t_consume is not None:
        out['consume_start_seconds'] = round(t_consume - t0, 3)
        span = total - (t_consume - t0)
        out['consume_to_last_rate'] = round(count / span, 1) if span > 0 else None
    if first is not None:
        t_first, n_first = first
        out['startup_seconds'] = round(t_first, 3)
        out['count_at_first_sight'] = n_first
        span = total - t_first
        out['first_to_last_seconds'] = round(span, 3)
        out['first_to_last_rate'] = round((count - n_first) / span, 1) if span > 0 else None
        out['cpu_first_to_last'] = benchutil.cpu_usage(cpu_first, cpu_end, count - n_first)
        out['cpu_startup'] = benchutil.cpu_usage(cpu_start, cpu_first, n_first)
    if reason != 'done':
        say('  agent did not finish (%s); log tail:' % reason)
        for line in log['tail']:
            say('    ' + line[:300])
    return out


def fmt_s(value, fmt='%.2f'):
    return 'None' if value is None else fmt % value


def ceiling_line(c):
    line = ('%d in %.2fs = %.0f/s; consuming after %ss, from there %.0f/s; first batch '
            'after %ss (%s CPU s by then), from there %.0f/s%s'
            % (c['consumed'], c['seconds'], c['rate'] or 0,
               fmt_s(c.get('consume_start_seconds')), c.get('consume_to_last_rate') or 0,
               fmt_s(c.get('startup_seconds')), fmt_s(c.get('cpu_before_first_batch')),
               c.get('first_to_last_rate') or 0, '' if c['finished'] else '  NOT FINISHED'))
    if 'per_consumer' in c:
        line += '; per consumer %s' % ' + '.join(
            '%d (first after %ss)' % (p['consumed'], fmt_s(p['startup_seconds']))
            for p in c['per_consumer'])
    for err in c.get('errors', ()):
        line += '; ' + err
    return line


def ceiling_label(consumers):
    if consumers == 1:
        return 'oslo batch listener, counting endpoint'
    return 'oslo batch listener x%d, counting endpoints' % consumers


def ours_line(o):
    return ('%d in %.2fs = %.0f/s; consuming after %ss, from there %.0f/s; first doc '
            'after %ss, from there %.0f/s over %ss%s'
            % (o['stored'], o['seconds'], o['rate'] or 0,
               fmt_s(o.get('consume_start_seconds')), o.get('consume_to_last_rate') or 0,
               fmt_s(o.get('startup_seconds'), '%.1f'), o.get('first_to_last_rate') or 0,
               fmt_s(o.get('first_to_last_seconds'), '%.1f'),
               '' if o['finished'] else '  NOT FINISHED (%s)' % o['end']))


def fmt_us(us_per_notification):
    return ', '.join('%s %s' % (n, 'None' if v is None else '%.0f' % v)
                     for n, v in us_per_notification.items())


def ours_cpu_lines(o):
    lines = [benchutil.format_cpu(o['cpu'])]
    if 'cpu_first_to_last' in o:
        f, s = o['cpu_first_to_last'], o['cpu_startup']
        lines.append('first->last only: %s; agent start-up %s CPU s'
                     % (fmt_us(f['us_per_notification']), s['seconds'].get('agent')))
    return lines


def e2e_ceiling(args, base, n, rabbit, timeout, cleanup, say):
    topic = '%s-c%d' % (base, n)
    k = args.ceiling_consumers
    say('e2e run %d: ceiling (%s):' % (n, 'in-process oslo.messaging batch listener' if k == 1
                                       else '%d oslo.messaging batch listener processes' % k))
    pre = preload(rabbit, topic, args.e2e_count, args.seed, args.publish_timeout,
                  cleanup, say)
    roots = service_pids()
    gc.collect()
    out = dict(side='ceiling', run=n, consumers=k)
    out.update(run_ceiling(topic, args.e2e_count, args.e2e_batch_size, timeout,
                           cpu_roots=roots, rabbit=rabbit, queued=pre['queued'],
                           consumers=k))
    out['preload'] = pre
    out['left_in_queues'] = {p: q for p, q in rabbit.depths(topic).items() if q}
    say('  consumed ' + ceiling_line(out))
    if 'cpu' in out:
        say('  ' + benchutil.format_cpu(out['cpu']))
    rabbit.delete_topic(topic)
    return out


def e2e_ours(args, base, n, rabbit, client, workdir, timeout, cleanup, say):
    topic = '%s-a%d' % (base, n)
    prefix = '%s-e2e%d' % (base, n)
    # Own directory per run: the agent's config, log and spool (a spool left by a failed
    # run must not be replayed into the next run's indices).
    rundir = os.path.join(workdir, 'run%d' % n)
    os.mkdir(rundir)
    cleanup.add('es %s' % prefix, es_delete_prefix_patiently, client, prefix,
                args.cleanup_wait)
    say('e2e run %d: ours (ceilometer-agent-notification, %d worker(s) -> %s):'
        % (n, args.workers, es_store_url(prefix, args.es_option, args.engine)))
    pre = preload(rabbit, topic, args.e2e_count, args.seed, args.publish_timeout,
                  cleanup, say)
    gc.collect()
    out = dict(side='ours', run=n)
    out.update(run_agent(args, rabbit, topic, pre['queued'], prefix, rundir, client,
                         timeout, cleanup, say,
                         name='bench-agent-%d' % n))
    out['preload'] = pre
    out['left_in_queues'] = {p: q for p, q in rabbit.depths(topic).items() if q}
    say('  stored ' + ours_line(out))
    for line in ours_cpu_lines(out):
        say('  ' + line)
    es_delete_prefix(client, prefix)
    rabbit.delete_topic(topic)
    return out


def median_of(values, digits=1):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), digits) if values else None


def e2e_medians(runs):
    """Per side: medians of the total and first->last rates and of each process's CPU
    microseconds per notification (over the runs where it was measured)."""
    out = {}
    for side in ('ceiling', 'ours'):
        rs = [r for r in runs if r['side'] == side]
        cpu_names = []
        for r in rs:
            cpu_names += [k for k in r['cpu']['us_per_notification'] if k not in cpu_names]
        out[side] = {
            'runs': len(rs),
            'rate': median_of([r['rate'] for r in rs]),
            'consume_to_last_rate': median_of([r.get('consume_to_last_rate') for r in rs]),
            'first_to_last_rate': median_of([r.get('first_to_last_rate') for r in rs]),
            'consume_start_seconds': median_of([r.get('consume_start_seconds')
                                                for r in rs], 3),
            'startup_seconds': median_of([r.get('startup_seconds') for r in rs], 3),
            'cpu_us_per_notification': {
                k: median_of([r['cpu']['us_per_notification'].get(k) for r in rs], 0)
                for k in cpu_names},
        }
        if side == 'ours':
            out[side]['cpu_first_to_last_us_per_notification'] = {
                k: median_of([r['cpu_first_to_last']['us_per_notification'].get(k)
                              for r in rs if 'cpu_first_to_last' in r], 0)
                for k in cpu_names}
    return out


def bench_e2e(args, base, client, cleanup, say):
    rabbit = Rabbit(TRANSPORT_URL)
    cleanup.add('rabbit connection', rabbit.close)
    # Exchanges an empty broker would get from us: remember which exist already.
    missing = [e for e in AGENT_EXCHANGES if not rabbit.exchange_exists(e)]
    for name in missing:
        cleanup.add('exchange %s' % name, rabbit.delete_exchange_if_unused, name)
    workdir = tempfile.mkdtemp(prefix='%s-' % base)
    cleanup.add('workdir', shutil.rmtree, workdir, ignore_errors=True)
    timeout = args.e2e_timeout or max(120.0, args.e2e_count / 100.0)
    services = service_pids()
    say('e2e: %d runs of each side, order alternating; CPU of %s'
        % (args.e2e_repeat, ', '.join('%s pid %s' % kv for kv in services.items())))
    pinned = pin(services, args.pin_services, cleanup, say) if args.pin_services else None

    runs = []
    for r in range(1, args.e2e_repeat + 1):
        order = ('ceiling', 'ours') if r % 2 else ('ours', 'ceiling')
        for side in order:
            if side == 'ceiling':
                runs.append(e2e_ceiling(args, base, r, rabbit, timeout, cleanup, say))
            else:
                runs.append(e2e_ours(args, base, r, rabbit, client, workdir, timeout,
                                     cleanup, say))

    medians = e2e_medians(runs)
    out = {'count': args.e2e_count, 'batch_size': args.e2e_batch_size,
           'repeat': args.e2e_repeat, 'workers': args.workers,
           'ceiling_consumers': args.ceiling_consumers, 'target': 0.6,
           'services': services, 'pinned': pinned, 'exchanges_created_by_run': missing,
           'runs': runs, 'medians': medians,
           'finished': all(r['finished'] for r in runs)}
    c, o = medians['ceiling'], medians['ours']
    for key, rate in (('ratio_consume_to_last_medians', 'consume_to_last_rate'),
                      ('ratio_first_to_last_medians', 'first_to_last_rate'),
                      ('ratio_total_medians', 'rate')):
        if c[rate] and o[rate]:
            out[key] = round(o[rate] / c[rate], 3)
    return out


# --- main -------------------------------------------------------------------------------

def _url_option(text):
    key, sep, value = text.partition('=')
    if not (key and sep):
        raise argparse.ArgumentTypeError('KEY=VALUE expected, got %r' % text)
    return key, value


def _cpu_list(text):
    try:
        cpus = {int(c) for c in text.split(',') if c.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError('CPU numbers expected, got %r' % text) from None
    usable = os.sched_getaffinity(0)
    if not cpus or not cpus < usable:
        raise argparse.ArgumentTypeError('%r must name some, not all, of the CPUs this '
                                         'process may use (%s)' % (text, sorted(usable)))
    return cpus


def pin(services, service_cpus, cleanup, say):
    """Services on ``service_cpus``, this process (and what it starts) on the rest."""
    every = os.sched_getaffinity(0)
    for name, pid in services.items():
        if pid is None:
            raise SystemExit('--pin-services: %s not found' % name)
        cleanup.add('%s affinity' % name, benchutil.set_tree_affinity, pid, every)
        moved = benchutil.set_tree_affinity(pid, service_cpus)
        say('pinned %s (pid %s, %d threads) to CPUs %s' % (name, pid, moved,
                                                         sorted(service_cpus)))
    clients = every - service_cpus
    cleanup.add('own affinity', os.sched_setaffinity, 0, every)
    os.sched_setaffinity(0, clients)
    say('this process, its consumers and the agent on CPUs %s' % sorted(clients))
    return {'services': sorted(service_cpus), 'clients': sorted(clients)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--engine', choices=('elasticsearch', 'opensearch'), default='elasticsearch',
                   help='the search engine: its test server, our store for it and its '
                        'client\'s bulk helper as the baseline (default elasticsearch)')
    p.add_argument('--count', '-n', type=int, default=20000,
                   help='bulk: documents per run (default 20000)')
    p.add_argument('--batch-size', '-b', type=int, default=500,
                   help='bulk: notifications per ElasticsearchStore.write() (default 500)')
    p.add_argument('--repeat', '-r', type=int, default=3,
                   help='bulk: runs of each side, interleaved (default 3)')
    p.add_argument('--warmup', type=int, default=1,
                   help='bulk: untimed rounds of every side first (default 1)')
    p.add_argument('--no-spans', action='store_true',
                   help='bulk: skip the line with span fragments')
    # Long enough for the sustained rate: the agent's one-off costs (templates, index
    # creation, the first batches in flight) were ~10% of a 20,000 run.
    p.add_argument('--e2e-count', type=int, default=60000,
                   help='end to end: notifications published per side (default 60000)')
    p.add_argument('--e2e-repeat', type=int, default=3,
                   help='end to end: runs of each side, interleaved (default 3)')
    p.add_argument('--e2e-batch-size', type=int, default=500,
                   help='end to end: listener/agent batch_size (default 500)')
    p.add_argument('--workers', type=int, default=1,
                   help='end to end: agent [notification] workers (default 1)')
    p.add_argument('--ceiling-consumers', type=int, default=None, metavar='K',
                   help='end to end: consumers of the ceiling (default: --workers, like '
                        'for like); 1: one oslo batch listener in this process, K > 1: K '
                        'consumer processes, each an oslo batch listener on the topic')
    p.add_argument('--e2e-timeout', type=float, default=0,
                   help='end to end: seconds each side may take (default max(120, M/100))')
    p.add_argument('--stall-timeout', type=float, default=60,
                   help='end to end: give up when the stored count does not move for this '
                        'long (default 60)')
    p.add_argument('--publish-timeout', type=float, default=300,
                   help='end to end: seconds the preload may take (default 300)')
    p.add_argument('--cleanup-wait', type=float, default=180,
                   help='seconds the final cleanup waits for an unreachable Elasticsearch '
                        '(default 180)')
    p.add_argument('--pin-services', type=_cpu_list, metavar='CPUS',
                   help='end to end: run Elasticsearch and RabbitMQ on these CPUs (e.g. 1) '
                        'and this process, the ceiling\'s consumers and the agent on the '
                        'others, as when the store and the broker have machines of their '
                        'own; every CPU is given back at the end')
    p.add_argument('--es-option', type=_url_option, action='append', default=[],
                   metavar='KEY=VALUE',
                   help='an elasticsearch:// URL option of our store (repeatable), e.g. '
                        'index_payload=false')
    p.add_argument('--seed', type=int, default=42, help='simulator seed (default 42)')
    p.add_argument('--skip-bulk', action='store_true', help='skip the bulk measurement')
    p.add_argument('--skip-e2e', action='store_true', help='skip the end-to-end measurement')
    p.add_argument('--json', action='store_true',
                   help='print one JSON document on stdout (progress goes to stderr)')
    args = p.parse_args(argv)
    args.es_option = dict(args.es_option)
    if args.ceiling_consumers is None:
        args.ceiling_consumers = args.workers
    if min(args.count, args.batch_size, args.repeat, args.e2e_count, args.e2e_batch_size,
           args.e2e_repeat, args.workers, args.ceiling_consumers) < 1 or args.warmup < 0:
        p.error('counts, sizes, --repeat, --e2e-repeat, --workers and --ceiling-consumers '
                'must be >= 1')
    if args.skip_bulk and args.skip_e2e:
        p.error('nothing to do with both --skip-bulk and --skip-e2e')
    return args


def print_report(doc):
    out = _stdout
    bulk = doc.get('bulk')
    if bulk:
        out()
        out('%-58s %10s %10s' % ('bulk: %d docs, batch %d, %d runs each'
                                % (doc['count'], doc['batch_size'], doc['repeat']),
                                'best/s', 'median/s'))
        for s in bulk['sides'].values():
            out('%-58s %10.0f %10.0f' % (s['label'], s['best_rate'], s['median_rate']))
        for name, s in bulk['sides'].items():
            out('  %s last run: %s' % (name, json.dumps(s['checks'], sort_keys=True)))
        out('ratio ours/plain (median docs/s): %.2f (target >= %.1f)%s'
            % (bulk['ratio_ours_over_plain'], bulk['target'],
               '' if bulk['ratio_ours_over_plain'] >= bulk['target'] else '  BELOW TARGET'))
        if 'ratio_ours_over_plain_orjson' in bulk:
            out('ratio ours/plain+orjson (median docs/s): %.2f'
                % bulk['ratio_ours_over_plain_orjson'])
        if 'ratio_ours_spans_over_plain' in bulk:
            out('ratio ours+spans/plain (median docs/s): %.2f'
                % bulk['ratio_ours_spans_over_plain'])
    e2e = doc.get('e2e')
    if e2e:
        out()
        out('end to end: %d notifications per run, batch %d, agent workers %d, ceiling '
            'consumers %d, %d runs of each side (interleaved, order alternating)'
            % (e2e['count'], e2e['batch_size'], e2e['workers'], e2e['ceiling_consumers'],
               e2e['repeat']))
        if e2e.get('pinned'):
            out('  Elasticsearch and RabbitMQ on CPUs %s, the consumers and the agent on %s'
                % (e2e['pinned']['services'], e2e['pinned']['clients']))
        for r in e2e['runs']:
            if r['side'] == 'ceiling':
                out('  run %d ceiling  %s: %s'
                    % (r['run'], ceiling_label(r.get('consumers', 1)), ceiling_line(r)))
                if 'cpu' in r:
                    out('        ' + benchutil.format_cpu(r['cpu']))
            else:
                out('  run %d ours     ceilometer-agent-notification -> ES: %s'
                    % (r['run'], ours_line(r)))
                for line in ours_cpu_lines(r):
                    out('        ' + line)
                out('        rejects %d, spans %d, indices %s, left in queues %s, '
                    'agent log %s, tracebacks %d'
                    % (r['rejects_stored'], r['spans_stored'], r['indices'],
                       r['left_in_queues'], r['log']['levels'], r['log']['tracebacks']))
                for line in r['log']['samples']:
                    out('          log: ' + line)
            out('        preload (oslo Notifier, one thread): %.0f/s'
                % r['preload']['publish_rate'])
        out('medians over the runs (rates /s; CPU us/notification):')
        for side, m in e2e['medians'].items():
            out('  %-8s from consuming %5.0f, first->last %5.0f, total %5.0f; consuming after '
                '%ss, first %s after %ss; cpu %s'
                % (side, m['consume_to_last_rate'] or 0, m['first_to_last_rate'] or 0,
                   m['rate'] or 0, fmt_s(m['consume_start_seconds']),
                   'batch' if side == 'ceiling' else 'doc', fmt_s(m['startup_seconds']),
                   fmt_us(m['cpu_us_per_notification'])))
            if 'cpu_first_to_last_us_per_notification' in m:
                out('  %-8s cpu first->last only: %s'
                    % (side, fmt_us(m['cpu_first_to_last_us_per_notification'])))
        target = e2e['target']
        for key, label in (('ratio_consume_to_last_medians',
                            'medians of the rates from consumption start'),
                           ('ratio_first_to_last_medians', 'medians of first->last rates'),
                           ('ratio_total_medians',
                            'medians of total rates, agent start-up included')):
            r = e2e.get(key)
            note = ''
            if key == 'ratio_consume_to_last_medians':
                note = (' (target >= %.1f)%s' % (target, '' if r is None or r >= target
                                                  else '  BELOW TARGET'))
            elif key == 'ratio_first_to_last_medians':
                note = ' (biased when a first batch comes late: see the module docstring)'
            out('ratio ours/ceiling (%s): %s%s' % (label, fmt_s(r, '%.3f'), note))
    for err in doc.get('cleanup_errors', ()):
        out('cleanup error: %s' % err)


def main(argv=None):
    args = parse_args(argv)
    say = _stderr if args.json else _stdout
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The transport logs every retried request with a full traceback; a failure that
    # matters surfaces as an exception anyway.
    logging.getLogger('elastic_transport').setLevel(logging.ERROR)
    # oslo.service's import-time notice; says nothing about this benchmark.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    old_term = signal.signal(signal.SIGTERM, benchutil.raise_on_sigterm)
    base = 'nvs-bench-%s' % uuid.uuid4().hex[:10]
    cleanup = Cleanup(_stderr)
    doc = {'run_id': base, 'engine': args.engine, 'es_url': ENGINE_URLS[args.engine],
           'transport_url': TRANSPORT_URL,
           'count': args.count, 'batch_size': args.batch_size, 'repeat': args.repeat,
           'warmup': args.warmup,
           'seed': args.seed, 'python': platform.python_version(),
           'machine': platform.machine(), 'cpus': os.cpu_count()}
    try:
        from importlib import metadata
        doc['versions'] = {d: metadata.version(d) for d in
                           ('ceilometer', 'oslo.messaging', 'elasticsearch', 'opensearch-py',
                            'nvs-notif')}
    except Exception:  # noqa: BLE001
        pass
    client = es_client(args.engine)
    cleanup.add('es client', client.close)
    status = 0
    try:
        doc['es_status'] = es_check(client, args.cleanup_wait)
        say('run %s: %s %s (%s), RabbitMQ %s'
            % (base, args.engine, doc['es_url'], doc['es_status'], TRANSPORT_URL))
        if not args.skip_bulk:
            doc['bulk'] = bench_bulk(args, base, client, cleanup, say)
        if not args.skip_e2e:
            doc['e2e'] = bench_e2e(args, base, client, cleanup, say)
            if not doc['e2e']['finished']:
                status = 1
    except (KeyboardInterrupt, SystemExit):
        _stderr('interrupted; cleaning up run %s' % base)
        raise
    except Exception as exc:
        _stderr('failed (%s: %s); cleaning up run %s' % (type(exc).__name__, exc, base))
        raise
    finally:
        doc['cleanup_errors'] = cleanup.run()
        signal.signal(signal.SIGTERM, old_term)
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
    else:
        print_report(doc)
    return status


if __name__ == '__main__':
    sys.exit(main())
