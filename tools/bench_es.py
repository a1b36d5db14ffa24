#!/usr/bin/env python3
"""Benchmark: the Elasticsearch store and the whole agent against plain baselines.

Two measurements, both sides of each in the same run, on the real servers the
functional tests use (Elasticsearch on ``$NVS_TEST_ES_URL``, default
``http://127.0.0.1:9200``; RabbitMQ on ``$NVS_TEST_TRANSPORT_URL``, default
``rabbit://guest:guest@127.0.0.1:5672/``).

1. **Bulk indexing.** N simulated notifications (:func:`nvs_notif.simulate.simulate`,
   ``normalize(redact(message))``) are written

   * by our driver, ``ElasticsearchStore.write(Batch(notifications=chunk))`` per
     ``--batch-size`` chunk (no span fragments: pure indexing), and, as a second line,
     with the chunk's span fragments as well (``Batch(notifications, fragments)``, what
     the agent hands the store);
   * by a plain ``elasticsearch.helpers.bulk(client, actions, chunk_size=500)`` of the
     same documents (``notification_doc``, ``create`` with the message id as ``_id``,
     like ours), into a fresh index under the same index templates.

   Inputs (Notification objects for ours, the action dicts for plain) are built before
   timing; template installation and client construction are outside the timed part.
   Each run gets fresh indices (own prefix), runs are interleaved with the order
   alternating per repeat, after ``--warmup`` untimed rounds of every side.  Printed:
   best and median docs/s of each, and the ratio ours/plain of the medians (target
   >= 0.8).

2. **End to end.** M notifications are published with oslo.messaging's ``Notifier``
   (``messagingv2``, control exchange ``nova``) into a fresh topic *before* any
   consumer runs (the queue depth is checked), then consumed by

   * the ceiling: an in-process ``oslo_messaging.get_batch_notification_listener``
     (executor ``threading``, batch 500, timeout 1) whose endpoint only counts; timed
     from ``listener.start()`` until M were handed to it;
   * ours: a real ``ceilometer-agent-notification`` subprocess (``[notification]
     pipelines = nvs``, the sink publishing to ``elasticsearch://...?index_prefix=<unique>``),
     timed from process start until Elasticsearch counts M documents in
     ``<prefix>-notifications*`` (refresh + count every 0.5 s).  Also printed: the
     start-up time (until the first document is counted) and the rate between the
     first and the last count (``(M - count at first sight) / (t_last - t_first)``),
     both with the 0.5 s polling resolution.

   Each side gets its own topic and freshly preloaded queues.  Printed: both rates and
   the ratio ours/ceiling (target >= 0.6).

Everything the script creates carries one unique name (``nvs-bench-<hex>``): indices and
index templates, the notification topics (queues ``<topic>.<priority>``), the temp dir
with the agent's config and log.  They are removed at the end, also on failure,
Ctrl-C or SIGTERM; the agent is stopped (SIGTERM to its process group, then SIGKILL).
Exchanges the run had to create (e.g. ``nova`` on an empty broker) are deleted only if
unused.  Every loop is bounded in count and in time (see the ``--*-timeout`` options).

::

    .venv/bin/python tools/bench_es.py
    .venv/bin/python tools/bench_es.py --count 50000 --repeat 5 --skip-e2e
    .venv/bin/python tools/bench_es.py --e2e-count 20000 --workers 2 --skip-bulk --json
"""
import argparse
import collections
import gc
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
import urllib.parse
import uuid
import warnings

import benchutil
from agentproc import Agent
from benchutil import (AGENT_EXCHANGES, ES_URL, TRANSPORT_URL, Cleanup, Rabbit,
                       es_check, es_client, es_count, es_delete_prefix,
                       es_delete_prefix_patiently, es_indices, es_store_url, preload,
                       run_ceiling, simulated)

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
    label = 'ours: ElasticsearchStore.write, notifications only'
    with_fragments = False

    def __init__(self, notifications, fragments, batch_size):
        self.notifications = notifications
        self.fragments = fragments
        self.batch_size = batch_size

    def prepare(self, client, prefix):
        from nvs_notif.storage import elasticsearch as es_store
        store = es_store.ElasticsearchStore(urllib.parse.urlsplit(es_store_url(prefix)))
        # Template installation is a once-per-process cost: keep it out of the timing.
        ensure = getattr(store, '_ensure_templates', None)
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
    label = 'ours: ElasticsearchStore.write, with span fragments'
    with_fragments = True


def daily_index(prefix, iso_timestamp):
    day = iso_timestamp[:10].replace('-', '.') if iso_timestamp else time.strftime(
        '%Y.%m.%d', time.gmtime())
    return '%s-notifications-%s' % (prefix, day)


class PlainSide:
    name = 'plain'
    label = 'plain: helpers.bulk(chunk_size=500)'

    def __init__(self, docs):
        self.docs = docs

    def prepare(self, client, prefix):
        from nvs_notif.storage import es_templates
        es_templates.install(client, prefix)
        # The same layout as the store's: daily indices by the notification's own time
        # (the template makes '<prefix>-notifications' an alias over them, so that
        # name cannot be an index).
        actions = [{'_op_type': 'create', '_index': daily_index(prefix, d['timestamp']),
                    '_id': d['message_id'], '_source': d} for d in self.docs]
        return client, actions

    @staticmethod
    def run(state):
        from elasticsearch import helpers
        client, actions = state
        ok, errors = helpers.bulk(client, actions, chunk_size=500)
        return {'ok': ok, 'errors': len(errors) if isinstance(errors, list) else errors}

    @staticmethod
    def close(_state):
        pass


def es_unreachable(exc):
    """Whether ``exc`` (or what caused it) is a connection failure to Elasticsearch."""
    import elasticsearch
    for _ in range(10):
        if exc is None:
            return False
        if isinstance(exc, (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def es_wait(client, wait):
    """Wait (at most ``wait`` seconds) until the cluster is yellow again."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            client.cluster.health(wait_for_status='yellow', timeout='5s')
            return
        except Exception:  # noqa: BLE001
            time.sleep(2)
    raise RuntimeError('Elasticsearch did not come back within %ss' % wait)


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
    sides = [OursSide(notifications, fragments, args.batch_size), PlainSide(docs)]
    if not args.no_spans:
        sides.append(OursSpansSide(notifications, fragments, args.batch_size))
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
    if 'ours+spans' in summary:
        out['ratio_ours_spans_over_plain'] = round(summary['ours+spans']['median_rate']
                                                   / plain, 3)
    return out


# --- measurement 2: end to end ---------------------------------------------------------

def run_agent(args, topic, prefix, workdir, client, timeout, cleanup, say):
    agent = Agent(workdir, 'bench-agent', TRANSPORT_URL, topic, [es_store_url(prefix)],
                  workers=args.workers, batch_size=args.e2e_batch_size)
    cleanup.add('agent', agent.stop)
    pattern = '%s-notifications*' % prefix
    expected = args.e2e_count
    t0 = time.perf_counter()
    agent.start()
    deadline = time.monotonic() + timeout
    first = None             # (seconds since start, count then)
    last_progress = (time.monotonic(), 0)
    count, polls, reason = 0, 0, 'timeout'
    while time.monotonic() < deadline:
        polls += 1
        count = es_count(client, pattern)
        now = time.perf_counter()
        if count and first is None:
            first = (now - t0, count)
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
    rejects = es_count(client, '%s-rejects*' % prefix)
    spans = es_count(client, '%s-spans*' % prefix)
    indices = es_indices(client, pattern)
    agent.stop()
    log = agent.log_summary()
    out = {'finished': reason == 'done', 'end': reason, 'stored': count,
           'rejects_stored': rejects, 'spans_stored': spans, 'indices': indices,
           'polls': polls, 'seconds': round(total, 3),
           'rate': round(count / total, 1) if total > 0 else None,
           'workers': args.workers, 'log': log}
    if first is not None:
        t_first, n_first = first
        out['startup_seconds'] = round(t_first, 3)
        out['count_at_first_sight'] = n_first
        span = total - t_first
        out['first_to_last_seconds'] = round(span, 3)
        out['first_to_last_rate'] = round((count - n_first) / span, 1) if span > 0 else None
    if reason != 'done':
        say('  agent did not finish (%s); log tail:' % reason)
        for line in log['tail']:
            say('    ' + line[:300])
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

    # The ceiling: in-process batch listener that only counts.
    topic_c = '%s-ceiling' % base
    say('e2e ceiling (in-process oslo.messaging batch listener):')
    pre_c = preload(rabbit, topic_c, args.e2e_count, args.seed, args.publish_timeout,
                    cleanup, say)
    gc.collect()
    ceiling = run_ceiling(topic_c, args.e2e_count, args.e2e_batch_size, timeout)
    ceiling['preload'] = pre_c
    ceiling['left_in_queues'] = {p: n for p, n in rabbit.depths(topic_c).items() if n}
    say('  consumed %d in %.2fs (%.0f/s)%s'
        % (ceiling['consumed'], ceiling['seconds'], ceiling['rate'] or 0,
           '' if ceiling['finished'] else '  NOT FINISHED'))
    rabbit.delete_topic(topic_c)

    # Ours: the real agent storing into Elasticsearch.
    topic_a = '%s-agent' % base
    prefix = '%s-e2e' % base
    cleanup.add('es %s' % prefix, es_delete_prefix_patiently, client, prefix,
                args.cleanup_wait)
    say('e2e ours (ceilometer-agent-notification, %d worker(s) -> %s):'
        % (args.workers, es_store_url(prefix)))
    pre_a = preload(rabbit, topic_a, args.e2e_count, args.seed, args.publish_timeout,
                    cleanup, say)
    gc.collect()
    ours = run_agent(args, topic_a, prefix, workdir, client, timeout, cleanup, say)
    ours['preload'] = pre_a
    ours['left_in_queues'] = {p: n for p, n in rabbit.depths(topic_a).items() if n}
    say('  stored %d in %.2fs (%.0f/s)%s; start-up %s s; first->last %s/s'
        % (ours['stored'], ours['seconds'], ours['rate'] or 0,
           '' if ours['finished'] else '  NOT FINISHED (%s)' % ours['end'],
           ours.get('startup_seconds'), ours.get('first_to_last_rate')))
    es_delete_prefix(client, prefix)
    rabbit.delete_topic(topic_a)

    out = {'count': args.e2e_count, 'batch_size': args.e2e_batch_size,
           'ceiling': ceiling, 'ours': ours, 'target': 0.6,
           'exchanges_created_by_run': missing}
    if ceiling['rate'] and ours['rate']:
        out['ratio_ours_over_ceiling'] = round(ours['rate'] / ceiling['rate'], 3)
    if ceiling.get('first_to_last_rate') and ours.get('first_to_last_rate'):
        out['ratio_first_to_last'] = round(ours['first_to_last_rate']
                                           / ceiling['first_to_last_rate'], 3)
    return out


# --- main -------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument('--e2e-count', type=int, default=10000,
                   help='end to end: notifications published per side (default 10000)')
    p.add_argument('--e2e-batch-size', type=int, default=500,
                   help='end to end: listener/agent batch_size (default 500)')
    p.add_argument('--workers', type=int, default=1,
                   help='end to end: agent [notification] workers (default 1)')
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
    p.add_argument('--seed', type=int, default=42, help='simulator seed (default 42)')
    p.add_argument('--skip-bulk', action='store_true', help='skip the bulk measurement')
    p.add_argument('--skip-e2e', action='store_true', help='skip the end-to-end measurement')
    p.add_argument('--json', action='store_true',
                   help='print one JSON document on stdout (progress goes to stderr)')
    args = p.parse_args(argv)
    if min(args.count, args.batch_size, args.repeat, args.e2e_count, args.e2e_batch_size,
           args.workers) < 1 or args.warmup < 0:
        p.error('counts, sizes, --repeat and --workers must be >= 1')
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
        if 'ratio_ours_spans_over_plain' in bulk:
            out('ratio ours+spans/plain (median docs/s): %.2f'
                % bulk['ratio_ours_spans_over_plain'])
    e2e = doc.get('e2e')
    if e2e:
        c, o = e2e['ceiling'], e2e['ours']
        out()
        out('end to end: %d notifications per side, batch %d, agent workers %d'
            % (e2e['count'], e2e['batch_size'], o['workers']))
        out('  preload (oslo Notifier, one thread): ceiling %.0f/s, ours %.0f/s'
            % (c['preload']['publish_rate'], o['preload']['publish_rate']))
        out('  ceiling  oslo batch listener, counting endpoint: %d in %.2fs = %.0f/s '
            '(first batch after %.2fs; first->last %.0f/s)%s'
            % (c['consumed'], c['seconds'], c['rate'] or 0, c.get('startup_seconds', -1),
               c.get('first_to_last_rate') or 0, '' if c['finished'] else '  NOT FINISHED'))
        out('  ours     ceilometer-agent-notification -> ES: %d in %.2fs = %.0f/s '
            '(start-up until first doc %.1fs; first->last %.0f/s over %.1fs)%s'
            % (o['stored'], o['seconds'], o['rate'] or 0, o.get('startup_seconds', -1),
               o.get('first_to_last_rate') or 0, o.get('first_to_last_seconds', -1),
               '' if o['finished'] else '  NOT FINISHED (%s)' % o['end']))
        out('  ours: rejects %d, spans %d, indices %s, left in queues %s, agent log %s, '
            'tracebacks %d' % (o['rejects_stored'], o['spans_stored'], o['indices'],
                               o['left_in_queues'], o['log']['levels'],
                               o['log']['tracebacks']))
        for line in o['log']['samples']:
            out('    log: ' + line)
        if 'ratio_ours_over_ceiling' in e2e:
            r = e2e['ratio_ours_over_ceiling']
            out('ratio ours/ceiling (total, agent start-up included): %.2f (target >= %.1f)%s'
                % (r, e2e['target'], '' if r >= e2e['target'] else '  BELOW TARGET'))
        if 'ratio_first_to_last' in e2e:
            out('ratio ours/ceiling (first->last rates): %.2f' % e2e['ratio_first_to_last'])
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
    doc = {'run_id': base, 'es_url': ES_URL, 'transport_url': TRANSPORT_URL,
           'count': args.count, 'batch_size': args.batch_size, 'repeat': args.repeat,
           'warmup': args.warmup,
           'seed': args.seed, 'python': platform.python_version(),
           'machine': platform.machine(), 'cpus': os.cpu_count()}
    try:
        from importlib import metadata
        doc['versions'] = {d: metadata.version(d) for d in
                           ('ceilometer', 'oslo.messaging', 'elasticsearch', 'nvs-notif')}
    except Exception:  # noqa: BLE001
        pass
    client = es_client()
    cleanup.add('es client', client.close)
    status = 0
    try:
        doc['es_status'] = es_check(client, args.cleanup_wait)
        say('run %s: Elasticsearch %s (%s), RabbitMQ %s'
            % (base, ES_URL, doc['es_status'], TRANSPORT_URL))
        if not args.skip_bulk:
            doc['bulk'] = bench_bulk(args, base, client, cleanup, say)
        if not args.skip_e2e:
            doc['e2e'] = bench_e2e(args, base, client, cleanup, say)
            if not (doc['e2e']['ceiling']['finished'] and doc['e2e']['ours']['finished']):
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
