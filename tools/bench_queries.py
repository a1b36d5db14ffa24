"""Benchmark: whole-history answers of the ``nvs-notif`` CLI, per store and size.

For each store (SQLite; Elasticsearch; OpenSearch once a driver is registered) and
each size N, a store holding N simulated notifications (:func:`nvs_notif.simulate.simulate`,
replayed through the nvs endpoint as ``nvs-notif replay`` does) is built once and
cached: SQLite files under ``--cache-dir``, search-engine indices under the prefix
``nvsbench-<key>``, where the key names the size, the seed and a digest of the
schema (the SQLite schema or the index templates, the document shapes) and of the
simulator's first notifications. A later run with the same key reuses it.

On that data it measures, for ``sla``, ``errors``, ``stuck``, ``hosts`` over the
whole history and ``trace`` of one request:

* ``cli``: the real ``nvs-notif`` command in its own process (``-f json``), wall
  time (median of ``--repeat``) and peak RSS (``os.wait4``'s rusage of that process),
  with the package's bytecode compiled first (:func:`compile_package`), as an
  installed package has it;
* ``python``: the Python-aggregation path (every span / notification read into
  Python, aggregated by :mod:`nvs_notif.queries`), run the same way in its own
  process (``python -m tools.bench_queries --python-path QUERY``), so the two are
  compared in one run on the same data; both answers must be identical (``same``);

plus the store's bytes per notification. Prints a table, or JSON with ``--json``::

    .venv/bin/python -m tools.bench_queries --sqlite 100000
    .venv/bin/python -m tools.bench_queries --sqlite 1000000,5000000 --elasticsearch 1000000
"""
import argparse
import collections
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing

QUERIES = ('sla', 'breakdown', 'errors', 'stuck', 'hosts', 'trace', 'history', 'summary',
           'failures')
#: The operation whose requests ``breakdown`` (``sla --breakdown``) follows.
BREAKDOWN = 'compute.instance.create'
#: Answers no command shows alone (``replay`` prints them after a replay): their ``cli``
#: side is the store's own method, run the same way in its own process (``--store-path``).
STORE_METHODS = ('summary', 'failures')
#: Queries whose Python path is the same as the CLI's whole answer path (nothing to compare).
NO_PYTHON_PATH = ('trace', 'history')
#: Output formats other than ``json``: a whole listing goes out as CSV, the formatter
#: that streams (cliff's json and table formatters hold every row), so its peak RSS
#: shows whether the listing streams end to end.
FORMATS = {'history': 'csv'}
#: The ``hosts`` window starts this long before the simulation: the whole history.
HISTORY_START = '2000-01-01T00:00:00+00:00'
SEARCH_ENGINES = {'elasticsearch': ('NVS_TEST_ES_URL', 'http://127.0.0.1:9200'),
                  'opensearch': ('NVS_TEST_OPENSEARCH_URL', 'http://127.0.0.1:9201')}


# --- the Python-aggregation path (kept callable for the comparison) ------------------

def python_answer(store, query, now, conf):
    """``(columns, rows)`` of ``query`` aggregated in Python over everything the store
    returns, as every command did before the stores aggregated: for the answers the
    stores compute, the contract's Python fallback (:class:`nvs_notif.storage.base.Store`),
    called past the store's own method."""
    from nvs_notif.answers import errors
    from nvs_notif.answers import hosts
    from nvs_notif.answers import sla
    from nvs_notif.answers import stuck
    from nvs_notif import storage
    from nvs_notif import timeutil
    if query == 'sla':
        return sla.COLUMNS, storage.Store.sla(store)
    if query == 'breakdown':
        return sla.BREAKDOWN_COLUMNS, storage.Store.breakdown(store, BREAKDOWN)
    if query == 'errors':
        return errors.COLUMNS, errors.rows(storage.Store.error_groups(store))
    if query == 'stuck':
        policy = stuck.policy_of(conf)
        return stuck.COLUMNS, stuck.stuck(storage.Store.stuck_spans(store, now, policy), now,
                                          policy)
    if query == 'hosts':
        since = timeutil.parse_time(HISTORY_START, now)
        return hosts.COLUMNS, hosts.rows(storage.Store.host_activity(store, since, now),
                                         now, since, 600.0)
    if query in STORE_METHODS:
        return store_method_answer(storage.Store, store, query, now, conf)
    raise ValueError('no Python path for %r' % query)


def store_method_answer(cls, store, query, now, conf):
    """``(columns, rows)`` of the :data:`STORE_METHODS` ``query``, as ``cls``'s method
    answers it (``storage.Store``: the Python path; the store's class: its own query)."""
    from nvs_notif.answers import stuck
    from nvs_notif.answers import summary
    if query == 'summary':
        return summary.SpanSummary._fields, [cls.span_summary(store, now,
                                                              stuck.policy_of(conf))]
    return summary.Failure._fields, cls.top_failures(store)


def run_python_path(args):
    """The child process of the ``python`` side (and of the ``cli`` side of
    :data:`STORE_METHODS`): print the answer as ``-f json`` would."""
    from nvs_notif.cli import common
    from nvs_notif import storage
    from nvs_notif import timeutil
    conf = common.load_conf([args.config_file])
    store = storage.get_store(args.store, conf)
    try:
        now = timeutil.parse_time(args.now, None)
        if args.store_path:
            columns, rows = store_method_answer(type(store), store, args.store_path, now, conf)
        else:
            columns, rows = python_answer(store, args.python_path, now, conf)
        json.dump([dict(zip(columns, row)) for row in rows], sys.stdout)
    finally:
        store.close()


# --- stores, built once and cached ---------------------------------------------------

def _schema_text(module):
    # The module's constants (schema statements, columns, mappings), not its code:
    # a change in how a store queries keeps the data.
    return repr(sorted((name, value) for name, value in vars(module).items()
                       if name.lstrip('_').isupper() and isinstance(value, (str, tuple, dict))))


def data_key(count, seed, kind):
    """``<count>-s<seed>-<digest>``: what the cached store's content depends on: the
    size, the seed, the document shapes, the simulator (its first notifications)
    and, for the search engines, the index templates.  A SQLite file of an
    earlier layout is upgraded by the store itself when opened, so its layout
    is not part of the key."""
    from nvs_notif import simulate
    from nvs_notif.storage import documents
    digest = hashlib.sha1(kind.encode())
    if kind != 'sqlite':
        from nvs_notif.storage import search_templates
        digest.update(_schema_text(search_templates).encode())
    digest.update(inspect.getsource(documents).encode())
    for sim in simulate.simulate(min(count, 2000), seed=seed):
        digest.update(json.dumps(sim.to_message(), sort_keys=True).encode())
    return '%d-s%d-%s' % (count, seed, digest.hexdigest()[:10])


def fill(url, count, seed, say):
    """Replay ``count`` simulated notifications into the store at ``url``."""
    from nvs_notif import replay
    from nvs_notif import simulate
    endpoint = replay.local_endpoint(url)
    started = time.monotonic()
    done = [0]

    def progress(n):
        done[0] += n
        if done[0] % 100000 < n:
            say('  %d/%d notifications (%.0f/s)'
                % (done[0], count, done[0] / (time.monotonic() - started)))
    messages = (s.to_message() for s in simulate.simulate(count, seed=seed))
    replay.replay(messages, endpoint, batch_size=500, progress=progress)
    replay.local_store(endpoint).close()
    return time.monotonic() - started


def copy_sqlite(source, url, say):
    """Fill the search store at ``url`` with what the SQLite store at ``source`` holds
    (a store the agent's pipeline filled from the same simulation), many times faster
    than :func:`fill` replays it: notifications and spans read through the SQLite
    store's own reads, written as the search store's writer makes them (the same
    documents, ids and daily indices as a replay's, each payload spliced in as the
    pipeline's :func:`~nvs_notif.redact.redact_json` hands it over), by the client's
    parallel bulk helper."""
    from nvs_notif import redact
    from nvs_notif import storage
    from nvs_notif.storage import documents
    from nvs_notif.storage import search_writer
    reader, writer = storage.get_store(source), storage.get_store(url)
    started = time.monotonic()
    try:
        others = {k: reader.count(k) for k in ('events', 'samples', 'rejects')}
        if any(others.values()):
            raise RuntimeError('%s holds %s: a replay stores none' % (source, others))
        writer.write(storage.Batch())       # the index templates, as a first write installs

        def batch(chunk):
            # The payload text as the pipeline hands it over: stored payloads are
            # already redacted, and redact_json says None for a payload a secret's
            # word is in, whose document the writer then encodes whole, as then.
            texts = {n.message_id: redact.redact_json(n.payload)[1] for n in chunk}
            return map(search_writer.sendable, writer.writer.document_actions(
                storage.Batch(chunk, payload_json=texts)))

        def actions():
            chunk = []
            for i, doc in enumerate(reader.notifications(oldest_first=True), 1):
                chunk.append(documents.notification_from_doc(doc))
                if len(chunk) == 1000:
                    yield from batch(chunk)
                    chunk = []
                if i % 100000 == 0:
                    say('  %d notifications (%.0f/s)' % (i, i / (time.monotonic() - started)))
            yield from batch(chunk)
            for span in reader.spans():
                yield writer.writer.span_action(span)
        refused = [item for ok, item in writer.engine.helpers.parallel_bulk(
            writer.client, actions(), thread_count=2, chunk_size=500, raise_on_error=False)
            if not ok]
        if refused:
            raise RuntimeError('%d documents refused, e.g. %s' % (len(refused), refused[0]))
    finally:
        reader.close()
        writer.close()
    return time.monotonic() - started


#: SQLite stores of a multiple of this size are built from the cached store of this
#: size (:func:`replicate`) rather than simulated.
REPLICA_BASE = 1000000


def sqlite_store(cache_dir, count, seed, say):
    """``(url, bytes per notification)`` of the cached SQLite file, made if missing."""
    path = os.path.join(cache_dir, 'sqlite-%s.db' % data_key(count, seed, 'sqlite'))
    if not os.path.exists(path):
        partial = path + '.partial'
        for suffix in ('', '-wal', '-shm'):
            if os.path.exists(partial + suffix):
                os.unlink(partial + suffix)
        say('building %s' % path)
        started = time.monotonic()
        if count > REPLICA_BASE and count % REPLICA_BASE == 0:
            base, _ = sqlite_store(cache_dir, REPLICA_BASE, seed, say)
            replicate(base[len('sqlite:///'):], partial, count // REPLICA_BASE, say)
        else:
            fill('sqlite:///' + partial, count, seed, say)
        say('  built in %.0f s' % (time.monotonic() - started))
        os.rename(partial, path)
    size = sum(os.path.getsize(path + s) for s in ('', '-wal') if os.path.exists(path + s))
    return 'sqlite:///' + path, size / count


#: What a copy of a stored row changes (:func:`replicate`): ids get a suffix, times
#: move by whole days, in the columns and in the part of the document beside them
#: alike (``rest``: JSON text where it is not packed; a packed rest holds
#: neither ids nor times, and its block is copied as is).
_COPY_IDS = ('message_id', 'span_id', 'request_id', 'global_request_id')
_COPY_TIMES = ('timestamp', 'start', 'last_start', 'end', 'failed', 'aborted', 'finished',
               'open_since', 'zone_seen', 'flavor_seen')


def _copied(kind, columns, copy):
    """The SQL expressions of ``columns`` (a table's) in the ``copy``-th copy."""
    from nvs_notif.storage import sqlite_layout

    def moved(value, name):
        if name in _COPY_IDS:
            return "%s || '~%d'" % (value, copy)
        if name in _COPY_TIMES:
            return "date(substr(%s, 1, 10), '+%d days') || substr(%s, 11)" % (value, copy, value)
        return value
    rest = [f.name for f in kind.fields if not f.column and f.name in _COPY_IDS + _COPY_TIMES]
    expressions = []
    for c in columns:
        if c == 'rest' and rest and not sqlite_layout.is_packed(kind):
            # json_replace: a rest leaves out null fields, which stay out.
            c = 'json_replace(rest, %s)' % ', '.join(
                "'$.%s', %s" % (n, moved("json_extract(rest, '$.%s')" % n, n)) for n in rest)
            expressions.append(c)
        else:
            expressions.append(moved('"%s"' % c, c))
    return expressions


def replicate(source, path, copies, say):
    """Make ``path`` hold ``copies`` copies of the SQLite store ``source``: copy
    ``k`` (from 0) is the notifications and spans of ``source`` ``k`` days later,
    with fresh ids (``~k`` appended): ``copies`` simulated days from one; a
    copied row's rowid is the source row's plus ``k`` times the source's
    largest, so the copies of the blocks of packed rests find them. Events,
    samples and rejects are not copied (no answer measured reads them). The
    rollups are made as an upgrade of an older file makes them: the copies are
    written without them, then they are created and filled from the rows."""
    import shutil
    import sqlite3
    from nvs_notif import storage
    from nvs_notif.storage import schema
    from nvs_notif.storage import sqlite_blocks
    from nvs_notif.storage import sqlite_layout
    from nvs_notif.storage import sqlite_rollups
    storage.get_store('sqlite:///' + source).close()       # upgraded and checkpointed
    shutil.copyfile(source, path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute('PRAGMA journal_mode=OFF')
        db.execute('PRAGMA synchronous=OFF')
        db.execute('PRAGMA cache_size=-1000000')
        db.execute('BEGIN')
        for rollup in sqlite_rollups.ROLLUPS:
            db.execute('DROP TABLE %s' % rollup.table)
        for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                     " AND name LIKE '%_rollup_%'").fetchall():
            db.execute('DROP TRIGGER %s' % trigger)
        # Indexes are made again once the rows are in: sorting once beats
        # inserting millions of keys at random places.
        indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                             "AND sql IS NOT NULL AND tbl_name IN ('notifications', 'spans')"
                             ).fetchall()
        for name, _ in indexes:
            db.execute('DROP INDEX %s' % name)
        db.execute('COMMIT')
        kinds = [(kind, last) for kind, last in (
            (kind, db.execute('SELECT max(rowid) FROM %s' % kind.name).fetchone()[0])
            for kind in (schema.NOTIFICATIONS, schema.SPANS)) if last is not None]
        for copy in range(1, copies):
            for kind, last in kinds:
                # The rowid is given (a packed kind's seq column is it).
                columns = [row[1] for row in db.execute('PRAGMA table_info(%s)' % kind.name)
                           if row[1] != sqlite_layout.SEQ]
                started = time.monotonic()
                db.execute('INSERT INTO %s (rowid, %s) SELECT rowid + ?, %s FROM %s '
                           'WHERE rowid <= ? ORDER BY rowid' % (
                               kind.name, ', '.join('"%s"' % c for c in columns),
                               ', '.join(_copied(kind, columns, copy)), kind.name),
                           [copy * last, last])
                if sqlite_layout.is_packed(kind):
                    db.execute('INSERT INTO {b} (first, block) SELECT first + ?, block FROM {b} '
                               'WHERE first <= ?'.format(b=sqlite_blocks.table(kind.name)),
                               [copy * last, last])
                say('  copy %d of the %s in %.0f s' % (copy, kind.name,
                                                        time.monotonic() - started))
        for name, sql in indexes:
            started = time.monotonic()
            db.execute(sql)
            say('  index %s in %.0f s' % (name, time.monotonic() - started))
        started = time.monotonic()
        sqlite_rollups.register(db)
        db.execute('BEGIN')
        sqlite_rollups.create(db)
        sqlite_rollups.backfill(db)
        db.execute('COMMIT')
        say('  rollups made from the rows in %.0f s' % (time.monotonic() - started))
        db.execute('PRAGMA journal_mode=WAL')
    finally:
        db.close()


def _engine_client(kind):
    variable, default = SEARCH_ENGINES[kind]
    url = os.environ.get(variable, default)
    if kind == 'opensearch':
        import opensearchpy
        return url, opensearchpy.OpenSearch(url, timeout=60)
    import elasticsearch
    return url, elasticsearch.Elasticsearch(url, request_timeout=60)


def search_store(kind, count, seed, say, source=None, keys=()):
    """``(url, bytes per notification)`` of the cached indices, made if missing or
    partial: replayed, or copied from the SQLite file ``source`` (:func:`copy_sqlite`).
    ``keys``: data keys to use instead of this tree's for their size (indices an
    earlier tree built from the same simulation and seed; the store brings their
    layout up to date on its first operation)."""
    import urllib.parse
    server, client = _engine_client(kind)
    reused = next((k for k in keys if k.startswith('%d-s%d-' % (count, seed))), None)
    prefix = 'nvsbench-%s' % (reused or data_key(count, seed, kind))
    url = '%s://%s/?%s' % (kind, urllib.parse.urlsplit(server).netloc,
                           urllib.parse.urlencode({'index_prefix': prefix}))
    client.indices.refresh(index=prefix + '-*', ignore_unavailable=True)
    stored = client.count(index=prefix + '-notifications', ignore_unavailable=True)['count'] \
        if client.indices.exists_alias(name=prefix + '-notifications') else 0
    if stored != count and reused:
        raise SystemExit('%s on %s holds %d notifications, not %d: not reused'
                         % (prefix, server, stored, count))
    if stored != count:
        say('building %s on %s (%d there)%s' % (prefix, server, stored,
                                                ' from ' + source if source else ''))
        from tools import benchutil
        benchutil.es_delete_prefix(client, prefix)
        say('  built in %.0f s' % (copy_sqlite('sqlite:///' + source, url, say) if source
                                   else fill(url, count, seed, say)))
        client.indices.refresh(index=prefix + '-*')
    stats = client.indices.stats(index=prefix + '-*', metric='store')
    return url, stats['_all']['primaries']['store']['size_in_bytes'] / count


# --- measuring ----------------------------------------------------------------------

def compile_package():
    """Write the bytecode of the ``nvs_notif`` package the command runs, as
    ``pip install`` does: an editable install (or ``PYTHONDONTWRITEBYTECODE``,
    which the command inherits) would have every run compile the modules it
    imports from source, a tenth of a second no installed command pays."""
    import compileall
    import nvs_notif
    compileall.compile_dir(os.path.dirname(nvs_notif.__file__), quiet=1)


#: Runs a command and reports its wall time, CPU time and peak RSS. The measured process is forked
#: from this small interpreter: a child inherits its parent's high-water mark (fork
#: copies the page tables, exec keeps the mark), so forking it from the benchmark
#: itself would report the benchmark's own size.
_LAUNCHER = """
import os, sys, time
started = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_pid, status, usage = os.wait4(pid, 0)
os.write(int(sys.argv[1]), b'%d %f %f' % (usage.ru_maxrss, time.monotonic() - started,
                                          usage.ru_utime + usage.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status))
"""


class Run(typing.NamedTuple):
    """One measured run of a command."""
    seconds: float          # wall time
    cpu_seconds: float      # user + system: comparable when the machine is loaded
    peak_rss_mb: float
    stdout: bytes


def measure(argv):
    """The :class:`Run` of ``argv`` in its own process."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.run([sys.executable, '-S', '-E', '-c', _LAUNCHER, str(write_end)]
                              + argv, capture_output=True, pass_fds=(write_end,))
        os.close(write_end)
        write_end = None
        with os.fdopen(read_end, 'rb') as report:
            read_end = None
            measured = report.read().split()
    finally:
        for fd in (read_end, write_end):
            if fd is not None:
                os.close(fd)
    if proc.returncode or len(measured) != 3:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(argv), proc.returncode,
                                                   proc.stderr.decode(errors='replace')))
    return Run(float(measured[1]), float(measured[2]), int(measured[0]) / 1024.0, proc.stdout)


def probe(url, conf_file):
    """``(now, request id, project)``: the newest notification's time, a create's
    request id, and the project with the most of the newest notifications."""
    from nvs_notif.cli import common
    from nvs_notif import storage
    store = storage.get_store(url, common.load_conf([conf_file]))
    try:
        docs = list(store.notifications(limit=5000))
    finally:
        store.close()
    request = next((d['request_id'] for d in docs if d.get('request_id')
                    and d.get('operation') == 'compute.instance.create'),
                   next(d['request_id'] for d in docs if d.get('request_id')))
    project = collections.Counter(d['project_id'] for d in docs if d.get('project_id'))
    return docs[0]['timestamp'], request, project.most_common(1)[0][0]


def commands(url, conf_file, now, request, project):
    """``{query: (cli argv, python-path argv or None)}``."""
    cli = [os.path.join(os.path.dirname(sys.executable), 'nvs-notif'),
           '--store', url, '--config-file', conf_file]
    arguments = {'sla': ['sla'], 'breakdown': ['sla', '--breakdown', BREAKDOWN],
                 'errors': ['errors'], 'stuck': ['stuck', '--now', now],
                 'hosts': ['hosts', '--since', HISTORY_START, '--now', now],
                 'trace': ['trace', request],
                 # every notification of the project: a listing of tens of thousands
                 'history': ['history', '--project', project, '--limit', '1000000000']}
    child = [sys.executable, '-m', 'tools.bench_queries', '--store', url,
             '--config-file', conf_file, '--now', now]
    for query in STORE_METHODS:
        arguments[query] = None
    return {q: (cli + arguments[q] + ['-f', FORMATS.get(q, 'json')]
                if arguments[q] is not None else child + ['--store-path', q],
                None if q in NO_PYTHON_PATH else child + ['--python-path', q])
            for q in QUERIES}


#: The cells a store may estimate (percentiles of groups of more than 1,000 durations,
#: within a tested tolerance: the search engines' t-digest, SQLite's histogram of its
#: rollups): ``same`` compares every other cell, and ``estimated`` counts the cells
#: that differ.
ESTIMATED = {'sla': ('p50 (s)', 'p95 (s)', 'p99 (s)')}


def agree(query, cli, python):
    """``(same, estimated cells that differ)`` of the two answers of ``query``."""
    loose = ESTIMATED.get(query, ())
    if not loose or len(cli) != len(python):
        return cli == python, 0
    differ = sum(a[c] != b[c] for a, b in zip(cli, python) for c in loose)
    strip = [[{k: v for k, v in r.items() if k not in loose} for r in rows]
             for rows in (cli, python)]
    return strip[0] == strip[1], differ


def bench_store(url, conf_file, repeat, queries, say, python_repeat=None):
    """Per query: median seconds and peak RSS of each path, and whether the answers
    agree; the Python path is run ``python_repeat`` times (default ``repeat``; 0:
    the ``cli`` side alone)."""
    python_repeat = repeat if python_repeat is None else python_repeat
    now, request, project = probe(url, conf_file)
    results = {}
    for query, argvs in commands(url, conf_file, now, request, project).items():
        if query not in queries:
            continue
        sides, answers = {}, {}
        # Interleaved, so both paths share the machine's noise.
        for i in range(repeat):
            for side, argv in zip(('cli', 'python'), argvs):
                if argv is None or (side == 'python' and i >= python_repeat):
                    continue
                run = measure(argv)
                sides.setdefault(side, []).append(run)
                answers[side] = (run.stdout.decode().splitlines()[1:] if query in FORMATS
                                 else json.loads(run.stdout))
        row = {'rows': len(answers['cli'])}
        for side, runs in sides.items():
            row[side] = {'median_s': round(statistics.median(r.seconds for r in runs), 3),
                         'median_cpu_s': round(statistics.median(r.cpu_seconds for r in runs), 3),
                         'peak_rss_mb': round(max(r.peak_rss_mb for r in runs), 1)}
        if 'python' in answers:
            row['same'], estimated = agree(query, answers['cli'], answers['python'])
            if estimated:
                row['estimated'] = estimated
            row['python/cli'] = round(row['python']['median_s'] / row['cli']['median_s'], 2)
            row['python/cli cpu'] = round(row['python']['median_cpu_s']
                                          / row['cli']['median_cpu_s'], 2)
        say('  %-6s %s' % (query, json.dumps(row)))
        results[query] = row
    return results


def table(report):
    lines = ['%-13s %9s %7s %7s %8s %8s %7s %9s %8s %7s %7s %7s %5s' % (
        'store', 'size', 'B/notif', 'query', 'cli s', 'cli cpu', 'cli MB', 'python s',
        'py cpu', 'py MB', 'py/cli', 'cpu x', 'same')]
    for entry in report:
        for query, row in entry['queries'].items():
            py = row.get('python', {})
            lines.append('%-13s %9d %7.0f %7s %8.3f %8.3f %7.1f %9s %8s %7s %7s %7s %5s' % (
                entry['store'], entry['size'], entry['bytes_per_notification'], query,
                row['cli']['median_s'], row['cli']['median_cpu_s'], row['cli']['peak_rss_mb'],
                py.get('median_s', '-'), py.get('median_cpu_s', '-'),
                py.get('peak_rss_mb', '-'), row.get('python/cli', '-'),
                row.get('python/cli cpu', '-'), row.get('same', '-')))
    return '\n'.join(lines)


def sizes(text):
    return [int(float(s)) for s in text.split(',') if s] if text else []


def sqlite_sources(text):
    """``{notifications held: path}`` of SQLite files."""
    import sqlite3
    sources = {}
    for path in filter(None, text.split(',')):
        db = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
        try:
            sources[db.execute('SELECT count(*) FROM notifications').fetchone()[0]] = path
        finally:
            db.close()
    return sources


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sqlite', type=sizes, default=sizes('1000000,5000000'),
                        metavar='N[,N]', help='SQLite sizes (default 1M and 5M; empty: none)')
    for kind in SEARCH_ENGINES:
        parser.add_argument('--' + kind, type=sizes, default=[], metavar='N[,N]',
                            help='%s sizes (none by default; 1000000 for the issue\'s '
                                 'targets)' % kind)
    parser.add_argument('--copy-sqlite', type=sqlite_sources, default={},
                        metavar='FILE[,FILE]',
                        help='build a missing search-engine store by copying the SQLite '
                             'store of its size (one the pipeline filled from the same '
                             'simulation and seed, e.g. a cached --sqlite store) instead '
                             'of replaying the simulation into it (faster: see '
                             'docs/operations.rst)')
    parser.add_argument('--search-key', type=lambda v: v.split(','), default=[],
                        metavar='KEY[,KEY]',
                        help="reuse the search-engine indices nvsbench-KEY-* (KEY as "
                             "<size>-s<seed>-<digest>, from an earlier tree's run on the same "
                             "simulation) instead of building them for this tree's key")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeat', type=int, default=5, help='runs per query and path')
    parser.add_argument('--python-repeat', type=int, metavar='N',
                        help='runs of the python path per query (default --repeat; the '
                             'first N runs stay interleaved with the cli ones)')
    parser.add_argument('--queries', default=','.join(QUERIES),
                        help='comma-separated subset of %s' % ','.join(QUERIES))
    parser.add_argument('--cache-dir', default=os.path.expanduser('~/.cache/nvs-notif-bench'),
                        help='where SQLite stores are kept between runs (default %(default)s)')
    parser.add_argument('--python-up-to', type=int, default=1000000, metavar='N',
                        help='measure the Python path of stores of at most N notifications '
                             '(default %(default)s: it reads the whole history, minutes at 1M)')
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    # The python side's child process.
    parser.add_argument('--python-path', choices=[q for q in QUERIES if q not in NO_PYTHON_PATH],
                        help=argparse.SUPPRESS)
    parser.add_argument('--store-path', choices=STORE_METHODS, help=argparse.SUPPRESS)
    parser.add_argument('--store', help=argparse.SUPPRESS)
    parser.add_argument('--now', help=argparse.SUPPRESS)
    parser.add_argument('--config-file', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.python_path or args.store_path:
        return run_python_path(args)
    # Not imported by the python side's child: it imports what that path needs only.
    from tools import benchutil
    say = benchutil.stderr
    os.makedirs(args.cache_dir, exist_ok=True)
    compile_package()
    queries = set(args.queries.split(','))
    report = []
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
        # Defaults only: no operator's nvs-notif.conf changes what is measured.
        conf.write('[nvs]\n')
        conf.flush()
        plan = [('sqlite', n) for n in args.sqlite]
        plan += [(kind, n) for kind in SEARCH_ENGINES for n in getattr(args, kind)]
        for kind, count in plan:
            if kind == 'sqlite':
                url, per = sqlite_store(args.cache_dir, count, args.seed, say)
            else:
                url, per = search_store(kind, count, args.seed, say,
                                        args.copy_sqlite.get(count), args.search_key)
            say('%s, %d notifications, %.0f bytes each' % (kind, count, per))
            report.append({'store': kind, 'size': count, 'bytes_per_notification': round(per),
                           'queries': bench_store(
                               url, conf.name, args.repeat, queries, say,
                               args.python_repeat if count <= args.python_up_to else 0)})
    benchutil.stdout(json.dumps(report, indent=2) if args.json else table(report))
    return 0 if all(r.get('same', True) for e in report for r in e['queries'].values()) else 1


if __name__ == '__main__':
    sys.exit(main())
