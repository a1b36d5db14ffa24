"""A bounded local disk queue between ceilometer's stock pipelines and a store.

The stock event and meter pipelines call a publisher once per event and
acknowledge the notification when it returns.  One Elasticsearch request per
event would be slow, and dropping events while Elasticsearch is down would
lose them.  So publishing appends to a spool (a SQLite file in WAL mode: one
cheap local commit) and returns; a flusher thread sends what is spooled to the
store in bulk every ``flush_interval`` seconds or as soon as ``flush_size``
documents wait, and deletes them once stored.  While the store is down the
spool grows up to ``max_docs``; past that the oldest documents are dropped,
counted and logged.

Every worker process of an agent may share one spool file: whoever flushes
first sends a document, and stores ignore the second copy (ids are the
documents' message ids), so nothing needs to be claimed.
"""
import json
import logging
import os
import sqlite3
import threading

from nvs_notif import jsontext

LOG = logging.getLogger(__name__)

# AUTOINCREMENT: ids are never reused, so a flusher's delete of the id range it
# sent cannot touch a document spooled after it read.
_SCHEMA = ('CREATE TABLE IF NOT EXISTS spool '
           '(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, doc TEXT)')


class Spool:
    """Durable hand-off of documents to ``write(kind, docs)``.

    :param path: the spool file
    :param write: callable storing a list of documents of one kind; raises on failure
    :param flush_interval: seconds between flushes (the most a document waits
        while the store is up)
    :param flush_size: documents per flush, and how many wake the flusher early
    :param max_docs: bound of the spool; the oldest documents beyond it are dropped
    :param max_backoff: longest pause between flush attempts while the store fails
    """

    def __init__(self, path, write, flush_interval=1.0, flush_size=500, max_docs=1000000,
                 max_backoff=30.0):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._write = write
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.max_docs = max_docs
        self.max_backoff = max_backoff
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=NORMAL')
        self._db.execute(_SCHEMA)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name='nvs-spool', daemon=True)
        self._thread.start()

    def put(self, kind, docs):
        """Spool ``docs`` of ``kind`` durably; returns once they are on disk."""
        if not docs:
            return
        with self._lock:
            self._db.execute('BEGIN IMMEDIATE')
            try:
                self._db.executemany('INSERT INTO spool (kind, doc) VALUES (?, ?)',
                                     ((kind, jsontext.encode(d)) for d in docs))
                waiting = self._db.execute('SELECT count(*) FROM spool').fetchone()[0]
                excess = waiting - self.max_docs
                if excess > 0:
                    self._db.execute('DELETE FROM spool WHERE id IN '
                                     '(SELECT id FROM spool ORDER BY id LIMIT ?)', (excess,))
            except BaseException:
                self._db.execute('ROLLBACK')
                raise
            self._db.execute('COMMIT')
        if excess > 0:
            self.dropped += excess
            LOG.error('Spool %s is full (%d documents): dropped the %d oldest, %d in all',
                      self.path, self.max_docs, excess, self.dropped)
        if waiting >= self.flush_size:
            self._wake.set()

    def pending(self):
        with self._lock:
            return self._db.execute('SELECT count(*) FROM spool').fetchone()[0]

    def flush(self):
        """Send one chunk to the store; returns how many documents were stored.

        Raises what ``write`` raises; the chunk then stays spooled.
        """
        with self._lock:
            rows = self._db.execute('SELECT id, kind, doc FROM spool ORDER BY id LIMIT ?',
                                    (self.flush_size,)).fetchall()
        if not rows:
            return 0
        by_kind = {}
        for _id, kind, doc in rows:
            by_kind.setdefault(kind, []).append(json.loads(doc))
        for kind, docs in by_kind.items():
            self._write(kind, docs)
        with self._lock:
            self._db.execute('DELETE FROM spool WHERE id <= ? AND id >= ?',
                             (rows[-1][0], rows[0][0]))
        return len(rows)

    def _run(self):
        failures = 0
        while not self._stopped.is_set():
            pause = self.flush_interval if not failures else min(
                self.flush_interval * 2 ** failures, self.max_backoff)
            self._wake.wait(pause)
            self._wake.clear()
            try:
                while self.flush() == self.flush_size and not self._stopped.is_set():
                    pass
            except Exception as exc:
                if not failures:
                    LOG.warning('Spool %s cannot reach its store (%s: %s); keeping %d '
                                'documents and retrying', self.path, type(exc).__name__, exc,
                                self.pending())
                failures += 1
                continue
            if failures:
                LOG.info('Spool %s drained after %d failed attempts', self.path, failures)
            failures = 0

    def close(self, drain=True):
        """Stop the flusher, sending what is spooled first if ``drain``."""
        self._stopped.set()
        self._wake.set()
        self._thread.join()
        if drain:
            try:
                while self.flush():
                    pass
            except Exception:
                LOG.warning('Spool %s closed with %d documents kept for the next start',
                            self.path, self.pending())
        with self._lock:
            self._db.close()
