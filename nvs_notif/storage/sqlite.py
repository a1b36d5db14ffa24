"""The embedded store: one SQLite file (WAL), for a single machine.

Several processes may share the file: each batch is one ``BEGIN IMMEDIATE``
transaction, so span merges are serialised by SQLite's write lock.  Reads
of a file go through read-only connections of their own, one per read at a
time (a pool), so the threads of a process (the API's) read at once, and
never wait for a batch being written (WAL: readers see the last commit).
"""
import collections
import logging
import os
import queue
import sqlite3
import threading

from nvs_notif.answers import stuck as stuck_answer
from nvs_notif.answers import summary
from nvs_notif import spans as spans_mod
from nvs_notif import timeutil
from nvs_notif.storage import base
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_blocks
from nvs_notif.storage import sqlite_layout
from nvs_notif.storage import sqlite_reads
from nvs_notif.storage import sqlite_rollups
from nvs_notif.storage import sqlite_span_answers as span_answers

# Notifications written between background checkpoints (SQLiteStore._maybe_checkpoint).
_CHECKPOINT_EVERY = 2000
# The writer connection's page cache (SQLite's default is 2 MB): a batch
# touches pages all over 16 indexes, which then stay in memory instead of
# being read again by the next batch (bench_pipeline, 50,000 notifications:
# 196 against 204 us a notification; ingest 0.925 of layout 1's against 0.908).
_WRITER_CACHE_KIB = 64 * 1024

LOG = logging.getLogger(__name__)

_UPSERT_SPANS = sqlite_layout.upsert_sql(schema.SPANS)
_INSERT_REJECTS = sqlite_layout.insert_sql(schema.REJECTS)
_SPAN_COLUMNS = sqlite_layout.select_sql(schema.SPANS)
_NOTIFICATION_COLUMNS = sqlite_layout.select_sql(schema.NOTIFICATIONS)


def _checkpoint(path):
    """Copy what the WAL holds into the file; a passive checkpoint never waits
    for readers or writers, and a failed one only leaves it to the next."""
    try:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute('PRAGMA wal_checkpoint(PASSIVE)')
        finally:
            db.close()
    except sqlite3.Error as exc:
        LOG.debug('Checkpoint of %s failed: %s', path, exc)


def _connect(path):
    """A connection in autocommit mode (transactions are explicit), for any
    thread (one at a time), that waits up to a minute for SQLite's locks, with
    the functions the rollups' triggers and reads call."""
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    sqlite_rollups.register(db)
    return db


def _marker(rowid):
    # Zero-padded: markers compare as text in ingest order.
    return '%020d' % rowid


def _ingested(row):
    """``(marker, document)`` of a row ``(rowid, <_NOTIFICATION_COLUMNS>)``."""
    return _marker(row[0]), sqlite_layout.notification_document(row[1:])


def _rowid(marker):
    if marker is None:
        return 0
    if not (isinstance(marker, str) and marker.isascii() and marker.isdigit()
            and int(marker) < 2 ** 63):
        raise ValueError('not an ingest marker of this store: %r' % (marker,))
    return int(marker)


def _of_ids(span_ids):
    """``(WHERE clause, ids)`` selecting spans by id, a chunk at a time (under
    SQLite's bound-parameter limit)."""
    ids = list(span_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        yield 'WHERE span_id IN (%s)' % ','.join('?' * len(chunk)), chunk


def in_transaction(db, lock, work):
    """``work(db)`` in one ``BEGIN IMMEDIATE`` transaction (SQLite's write
    lock, so processes sharing the file take turns), under ``lock`` (threads
    sharing the connection); rolled back if it raises.  Its result."""
    with lock:
        db.execute('BEGIN IMMEDIATE')
        try:
            result = work(db)
        except BaseException:
            db.execute('ROLLBACK')
            raise
        db.execute('COMMIT')
        return result


class SQLiteStore(base.Store):
    """``sqlite:///path/to/file.db`` (``sqlite://`` alone: in memory)."""

    errors = (sqlite3.Error,)

    def __init__(self, url, credentials=None):
        super().__init__(url, credentials)
        path = url.path or ':memory:'
        # The agent calls endpoints from several threads; one connection
        # behind a lock keeps each batch a single transaction.
        self._lock = threading.Lock()
        self._path = path
        self._checkpointer = None
        self._unchecked = 0
        # Idle read connections (a file's; an in-memory database has only _db).
        self._readers = queue.SimpleQueue()
        try:
            self._db = self._open(path)
        except (OSError, sqlite3.Error) as exc:
            raise base.StoreError('cannot open %s: %s' % (path, exc)) from exc

    def _open(self, path):
        if path != ':memory:':
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = _connect(path)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=NORMAL')
        self._db.execute('PRAGMA wal_autocheckpoint=16384')
        self._db.execute('PRAGMA cache_size=-%d' % _WRITER_CACHE_KIB)
        # Deleted content overwritten, whatever the build's default: a purge
        # leaves nothing of a row in the file's free pages.
        self._db.execute('PRAGMA secure_delete=ON')
        if sqlite_layout.version(self._db) != sqlite_layout.VERSION:
            # Checked again under the write lock: another process may be upgrading too.
            self._transaction(sqlite_layout.prepare)
        return self._db

    def _reader(self):
        """An idle read connection, or a new one."""
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            db = _connect(self._path)
            db.execute('PRAGMA query_only = ON')
            return db

    def _read(self, sql, args=(), rests=None):
        """The rows of one statement, read on a connection of its own (in memory:
        the one connection, under the lock).

        :param rests: the kind the statement selects rows of
            (:func:`sqlite_layout.select_sql`), when it selects whole rows:
            their rests read with them (:func:`sqlite_layout.with_rests`)
        """
        def read(db):
            rows = db.execute(sql, args).fetchall()
            return rows if rests is None else sqlite_layout.with_rests(db, rests, rows)

        if self._path == ':memory:':
            with self._lock:
                return read(self._db)
        db = self._reader()
        try:
            if rests is None:
                return read(db)
            # One snapshot: a purge between the rows and their blocks would blank them.
            db.execute('BEGIN')
            try:
                return read(db)
            finally:
                if db.in_transaction:       # an error may have ended it
                    db.execute('COMMIT')
        finally:
            self._readers.put(db)

    def _transaction(self, work):
        return in_transaction(self._db, self._lock, work)

    @base.operation
    def write(self, batch):
        # Built before the transaction: they need nothing stored, and other
        # writers wait while it is open.
        texts = batch.payload_json
        rows = [sqlite_layout.notification_row(n, texts.get(n.message_id))
                for n in batch.notifications]
        packed = sqlite_blocks.pack([rest for _, rest in rows])

        def work(db):
            ids = {f.span_id for f in batch.fragments}
            existing = {s.span_id: s for s in self._load_spans(db, ids)}
            merged = spans_mod.merge_all(batch.fragments, existing)
            # The rollups are kept per batch, in this transaction: exact
            # whichever process writes the file.
            newest, inserted = sqlite_layout.insert_packed(db, schema.NOTIFICATIONS, rows, packed)
            sqlite_rollups.add_notifications(db, newest)
            with sqlite_rollups.spans_written(db, ids):
                db.executemany(_UPSERT_SPANS, (sqlite_layout.span_row(merged[i]) for i in ids))
            db.executemany(_INSERT_REJECTS, map(sqlite_layout.reject_row, batch.rejects))
            return base.WriteResult({i: merged[i] for i in ids},
                                    len(batch.notifications) - inserted)
        result = self._transaction(work)
        self._maybe_checkpoint(len(batch.notifications))
        return result

    def _maybe_checkpoint(self, written):
        """Every _CHECKPOINT_EVERY notifications, checkpoint in a thread of its
        own, so commits do not wait for it (SQLite's wal_autocheckpoint still
        bounds the WAL should that thread fall behind)."""
        with self._lock:
            self._unchecked += written
            if (self._path == ':memory:' or self._unchecked < _CHECKPOINT_EVERY
                    or (self._checkpointer is not None and self._checkpointer.is_alive())):
                return
            self._unchecked = 0
            self._checkpointer = threading.Thread(target=_checkpoint, args=(self._path,),
                                                  name='nvs-sqlite-checkpoint', daemon=True)
            self._checkpointer.start()

    @staticmethod
    def _load_spans(db, ids):
        for where, chunk in _of_ids(ids):
            yield from map(sqlite_layout.span, db.execute(
                'SELECT %s FROM spans %s' % (_SPAN_COLUMNS, where), chunk))

    def _spans(self, sql, args):
        """The spans of ``SELECT <their columns> FROM spans <sql>``."""
        return list(map(sqlite_layout.span, self._read(
            'SELECT %s FROM spans %s' % (_SPAN_COLUMNS, sql), args)))

    @base.operation
    def write_events(self, docs):
        self._write_keyed(schema.EVENTS, docs)

    @base.operation
    def write_samples(self, docs):
        self._write_keyed(schema.SAMPLES, docs)

    def _write_keyed(self, kind, docs):
        rows = [sqlite_layout.keyed_row(kind, d) for d in docs]
        packed = sqlite_blocks.pack([rest for _, rest in rows])
        self._transaction(lambda db: sqlite_layout.insert_packed(db, kind, rows, packed))

    @base.operation
    def spans(self, request_id=None, global_request_id=None, project_id=None,
              operation=None, since=None, until=None):
        where, args = [], []
        for column, value in (('request_id', request_id),
                              ('global_request_id', global_request_id),
                              ('project_id', project_id)):
            if value is not None:
                where.append('%s = ?' % column)
                args.append(value)
        if operation:
            sqlite_reads.add_prefix(where, args, 'operation', operation)
        if since is not None or until is not None:
            either = []
            # aborted: an inner operation failed with its outer one (spans.Span.aborted_at)
            for column in ('start', '"end"', 'failed', "json_extract(rest, '$.aborted')"):
                bounds = []
                sqlite_reads.window(bounds, args, column, since, until)
                either.append('(%s)' % ' AND '.join(bounds))
            where.append('(%s)' % ' OR '.join(either))
        return self._spans(' WHERE ' + ' AND '.join(where) if where else '', args)

    @base.operation
    def spans_by_id(self, span_ids):
        return {s.span_id: s for where, chunk in _of_ids(span_ids)
                for s in self._spans(where, chunk)}

    @base.operation
    def stuck_spans(self, now, policy, operation=None, project_id=None):
        # Only the spans_open index: the open spans started before the latest
        # cutoff, each then held to its own operation's.
        limit, limit_args, latest = span_answers.stuck_limit(now, policy)
        where = ["status = 'open'", 'open_since <= ?', 'open_since <= ' + limit]
        args = [latest] + limit_args
        if operation:
            sqlite_reads.add_prefix(where, args, 'operation', operation)
        if project_id is not None:
            where.append('project_id = ?')
            args.append(project_id)
        # What stuck reads, from the columns (no document is parsed).
        rows = self._read('SELECT span_id, request_id, operation, host, project_id, open_since '
                          'FROM spans INDEXED BY spans_open WHERE ' + ' AND '.join(where), args)
        return [stuck_answer.OpenSpan(*row[:5], timeutil.parse_iso(row[5])) for row in rows]

    @base.operation
    def finished_spans(self, limit, before=None, project_id=None, service=None,
                       operation=None, status=None, inclusive=False):
        # Per status, the spans_status index (status, finished) read backwards
        # from the position; the newest `limit` of both merged here.
        where, args = ['finished IS NOT NULL'], []
        if before is not None:
            where.append('(finished, span_id) %s (?, ?)' % ('<=' if inclusive else '<'))
            args += base.split_position(before)
        for column, value in (('project_id', project_id), ('service', service)):
            if value is not None:
                where.append('%s = ?' % column)
                args.append(value)
        if operation:
            sqlite_reads.add_prefix(where, args, 'operation', operation)
        found = []
        for wanted in (status,) if status else ('failure', 'success'):
            found += self._spans(
                'INDEXED BY spans_status WHERE status = ? AND ' + ' AND '.join(where)
                + ' ORDER BY finished DESC, span_id DESC LIMIT ?', [wanted] + args + [limit])
        return sorted(((base.span_position(s), s) for s in found),
                      key=lambda item: base.split_position(item[0]), reverse=True)[:limit]

    # -- span answers (SQL in sqlite_span_answers) -------------------------------------

    @base.operation
    def sla(self, group_by=None, operation=None, since=None, until=None, project_id=None):
        if group_by:
            # By host, zone...: the rollups do not keep them; read from the spans.
            parts = span_answers.sla_statements(group_by, operation, since, until, project_id)
            groups = self._read(*parts['groups'])
            percentiles = [row for statement in span_answers.percentile_statements(
                groups, group_by, operation, since, until, project_id)
                for row in self._read(*statement)]
            return span_answers.sla_rows(groups, self._read(*parts['failures']), percentiles)
        # The window's whole hours from the rollups, its edges from the spans.
        window = sqlite_rollups.split(since, until)
        statements = {'groups': [], 'failures': []}
        if window.hours is not None:
            for part, statement in span_answers.rollup_sla_statements(
                    window, operation, project_id).items():
                statements[part].append(statement)
        for edge in window.edges:
            statements['groups'].append(span_answers.sla_statements(
                None, operation, *edge, project_id)['groups'])
            statements['failures'].append(span_answers.failure_counts_statement(
                operation, *edge, project_id))
        groups, failures = ([row for statement in statements[part] for row in self._read(*statement)]
                            for part in ('groups', 'failures'))
        groups = span_answers.add_groups(groups)
        exact = [g for g in groups if g[4] <= span_answers.EXACT_PERCENTILES]
        percentiles = [row for statement in span_answers.percentile_statements(
            exact, None, operation, since, until, project_id) for row in self._read(*statement)]
        large = {g[0]: g for g in groups if g[4] > span_answers.EXACT_PERCENTILES}
        if large:
            buckets = collections.defaultdict(list)
            for statement in span_answers.histogram_statements(window, large, project_id):
                for op, k, n in self._read(*statement):
                    buckets[op].append((k, n))
            for op, (_, group, _count, _successes, timed, _total, longest, *_) in large.items():
                percentiles += span_answers.estimated_percentiles(op, group, timed, longest,
                                                                  buckets[op])
        return span_answers.sla_rows(groups, failures, percentiles)

    @base.operation
    def breakdown(self, operation, since=None, until=None, project_id=None):
        parts = span_answers.breakdown_statements(operation, since, until, project_id)
        (root,) = self._read(*parts['root'])
        return span_answers.breakdown_rows(operation, root, self._read(*parts['parts']))

    @base.operation
    def span_summary(self, now, policy, project_id=None):
        (row,) = self._read(*span_answers.summary_statement(now, policy, project_id))
        return span_answers.summary_row(row)

    @base.operation
    def top_failures(self, limit=5, project_id=None):
        return [summary.Failure(*row)
                for row in self._read(*span_answers.top_failures_statement(limit, project_id))]

    @base.operation
    def sample_span(self, project_id=None):
        rows = self._read(*span_answers.sample_statement(project_id))
        return sqlite_layout.span(rows[0]) if rows else None

    @base.operation
    def latest_time(self, project_id=None):
        rows = self._read(*span_answers.latest_time_statement(project_id))
        return timeutil.parse_iso(rows[0][0]) if rows else None

    @base.operation
    def notifications(self, request_ids=None, project_id=None, user_id=None,
                      resource_id=None, since=None, until=None, priorities=None,
                      limit=None, host=None, service=None, event_type=None, request=None,
                      oldest_first=False, after=None, message_id=None, fields=None):
        where, args = sqlite_reads.notification_filter(
            request_ids=request_ids, project_id=project_id, user_id=user_id,
            resource_id=resource_id, since=since, until=until, priorities=priorities,
            host=host, service=service, event_type=event_type, request=request,
            message_id=message_id)
        return sqlite_reads.notification_pages(self._read, where, args, limit, oldest_first,
                                               after, fields)

    @base.operation
    def ingested(self, after=None, limit=500, settle=0.0):
        rows = self._read('SELECT rowid, %s FROM notifications WHERE rowid > ?'
                          ' ORDER BY rowid LIMIT ?' % _NOTIFICATION_COLUMNS,
                          (_rowid(after), limit), rests=schema.NOTIFICATIONS)
        return [_ingested(row) for row in rows]

    @base.operation
    def ingest_page(self, limit, before=None, inclusive=False, **filters):
        where, args = sqlite_reads.notification_filter(**filters)
        if before is not None:
            where.append('rowid %s ?' % ('<=' if inclusive else '<'))
            args.append(_rowid(before))
        # NOT INDEXED: read backwards in rowid order from the marker, the
        # filters checked on the way (an index on a filter would read the
        # whole of its range to sort it by rowid).
        rows = self._read('SELECT rowid, %s FROM notifications NOT INDEXED%s'
                          ' ORDER BY rowid DESC LIMIT ?'
                          % (_NOTIFICATION_COLUMNS,
                             ' WHERE ' + ' AND '.join(where) if where else ''), args + [limit],
                          rests=schema.NOTIFICATIONS)
        return [_ingested(row) for row in rows]

    @base.operation
    def ingest_marker(self, settle=0.0):
        (newest,), = self._read('SELECT max(rowid) FROM notifications', ())
        return _marker(newest or 0)

    @base.operation
    def host_activity(self, since, until, project_id=None):
        return sqlite_reads.host_activity(self._read, since, until, project_id)

    @base.operation
    def error_groups(self, since=None, until=None, project_id=None):
        return sqlite_reads.error_groups(self._read, since, until, project_id)

    @base.operation
    def count(self, kind):
        if kind not in base.KINDS:
            raise ValueError('unknown kind %r' % kind)
        return self._read('SELECT count(*) FROM %s' % kind)[0][0]

    @base.operation
    def purge(self, before):
        cutoff = timeutil.iso(before)
        older = {
            'notifications': 'timestamp < ?',
            'events': 'generated < ?',
            'samples': 'timestamp < ?',
            'rejects': 'received < ?',
            'spans': """max(coalesce(start, ''), coalesce("end", ''), coalesce(failed, ''),
                        coalesce(json_extract(rest, '$.last_start'), ''),
                        coalesce(json_extract(rest, '$.aborted'), '')) < ?""",
        }

        def delete(db, kind, where):
            if sqlite_layout.is_packed(schema.KINDS[kind]):
                return sqlite_blocks.delete(db, kind, where, (cutoff,))
            return db.execute('DELETE FROM %s WHERE %s' % (kind, where), (cutoff,)).rowcount
        return self._transaction(lambda db: {
            kind: delete(db, kind, where) for kind, where in older.items()})

    def close(self):
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.join()
            self._db.close()
        while not self._readers.empty():
            self._readers.get_nowait().close()
        super().close()
