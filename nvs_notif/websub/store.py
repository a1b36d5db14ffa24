"""Where the hub keeps its state, shared by every API process: subscriptions,
intents waiting for verification, and deliveries waiting to be sent.

:class:`HubStore` is the interface; :class:`SQLiteHubStore` keeps the state
in ``websub_*`` tables of a SQLite file (beside the store's file when the
store is ``sqlite://``, :func:`hub_file`).  Work is *claimed* before it is done: a claim is held for
``hold`` seconds, so two processes never take the same intent or delivery,
and the work of a process that died is taken again once its claim lapses.
"""
import abc
import dataclasses
import datetime
import secrets
import sqlite3
import threading
import urllib.parse

from nvs_notif.storage import schema
from nvs_notif.storage import sqlite
from nvs_notif.storage import sqlite_layout
from nvs_notif.websub.subscriptions import Intent, Subscription


class HubStoreError(Exception):
    """The hub's store refused a write; the round fails and is tried again."""


class CursorLost(Exception):
    """Another process took the cursor (its claim lapsed): nothing advanced."""


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where a tail of the store stands, claimed by one process.

    :ivar marker: the last ingest marker published (None: never started)
    :ivar claim: what proves the claim (the store's own token)
    """
    name: str
    marker: str | None
    claim: object


@dataclasses.dataclass(frozen=True)
class Delivery:
    """New entries of a topic, for one subscriber."""
    id: int
    topic: str
    callback: str
    secret: str | None
    body: bytes
    content_type: str
    link: str
    attempts: int           # failed attempts so far
    first_attempt: float | None     # epoch seconds


class HubStore(metaclass=abc.ABCMeta):
    """The hub's shared state.  Times are aware datetimes."""

    @abc.abstractmethod
    def add_intent(self, intent, now):
        """Keep a request until it is verified."""

    @abc.abstractmethod
    def claim_intents(self, now, hold, limit):
        """Up to ``limit`` unclaimed intents, oldest first, claimed for
        ``hold`` seconds: ``[(id, Intent)]``."""

    @abc.abstractmethod
    def finish_intent(self, intent_id):
        """Forget an intent (verified, refused or failed)."""

    @abc.abstractmethod
    def put_subscription(self, subscription):
        """Add or renew (same topic and callback) a subscription."""

    @abc.abstractmethod
    def remove_subscription(self, topic, callback):
        """End a subscription and drop its pending deliveries; whether it existed."""

    @abc.abstractmethod
    def subscriptions(self, topic, now):
        """The subscriptions of ``topic`` whose lease runs at ``now``."""

    @abc.abstractmethod
    def topics(self, now):
        """The topics with a subscription whose lease runs at ``now``."""

    @abc.abstractmethod
    def expire(self, now):
        """End the subscriptions whose lease ran out; how many."""

    @abc.abstractmethod
    def enqueue(self, contents, now):
        """A delivery of each content to every subscriber of its topic at
        ``now``, in one write; how many.

        :param contents: ``(topic, body, content_type, link)`` tuples
        """

    @abc.abstractmethod
    def claim_deliveries(self, now, hold, limit):
        """Up to ``limit`` deliveries due at ``now``, claimed for ``hold``
        seconds: :class:`Delivery` objects."""

    @abc.abstractmethod
    def delivered(self, delivery_ids):
        """Forget the deliveries of ``delivery_ids`` (an iterable) the
        subscribers took (or that are given up): a round's at once."""

    @abc.abstractmethod
    def reschedule(self, delivery_id, due, attempts, first_attempt):
        """Try a delivery again at ``due``."""

    @abc.abstractmethod
    def cursor_marker(self, name):
        """The marker of the cursor ``name`` (None: not started), read
        without claiming it."""

    @abc.abstractmethod
    def claim_cursor(self, name, now, hold):
        """The :class:`Cursor` ``name``, claimed for ``hold`` seconds, or None
        while another process holds it: one process at a time reads and
        publishes what follows it."""

    @abc.abstractmethod
    def advance_cursor(self, cursor, marker, contents, now):
        """:meth:`enqueue` ``contents`` and move the claimed ``cursor`` to
        ``marker``, releasing it; how many deliveries that made.

        :raises CursorLost: when the claim lapsed and another process took
            the cursor (SQLite: nothing was enqueued; the search engines
            enqueue first, so the range may be published twice)
        """

    def close(self):
        """Release the connection."""


#: The tables and indexes of the hub's state, as storage/schema.py declares them.
_SCHEMA = [statement for kind in schema.HUB_KINDS.values() for statement in (
    [sqlite_layout.table_sql(kind)] + [sqlite_layout.index_sql(kind, i) for i in kind.indexes])]
#: Columns added since the tables were first made: ``(kind, column)``.
_ADDED_COLUMNS = ((schema.HUB_SUBSCRIPTIONS, 'user_id'), (schema.HUB_SUBSCRIPTIONS, 'project_id'),
                  (schema.HUB_INTENTS, 'user_id'), (schema.HUB_INTENTS, 'project_id'))


def _epoch(when):
    return when.timestamp()


def time_of(epoch):
    """The aware UTC datetime of epoch seconds (how the stores keep times)."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


class SQLiteHubStore(HubStore):
    """The hub's state in a SQLite file (WAL), safe for several processes:
    every claim is one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute('PRAGMA journal_mode=WAL')
        # Columns first: an index of the schema may name an added one.
        for statement in _SCHEMA:
            if statement.startswith('CREATE TABLE'):
                self._db.execute(statement)
        self._write(_add_columns)
        for statement in _SCHEMA:
            if not statement.startswith('CREATE TABLE'):
                self._db.execute(statement)

    def _write(self, work):
        return sqlite.in_transaction(self._db, self._lock, work)

    def _any(self, sql, args):
        # A read before a write transaction: an idle hub round takes no write
        # lock, which the agents writing the same file would wait for.
        with self._lock:
            return self._db.execute(sql, args).fetchone() is not None

    def add_intent(self, intent, now):
        self._write(lambda db: db.execute(
            'INSERT INTO websub_intents (mode, topic, callback, lease_seconds, secret,'
            ' received, claimed_until, user_id, project_id) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)',
            (intent.mode, intent.topic, intent.callback, intent.lease_seconds, intent.secret,
             _epoch(now), intent.user_id, intent.project_id)))

    def claim_intents(self, now, hold, limit):
        if not self._any('SELECT 1 FROM websub_intents WHERE claimed_until <= ? LIMIT 1',
                         (_epoch(now),)):
            return []

        def claim(db):
            rows = db.execute(
                'SELECT id, mode, topic, callback, lease_seconds, secret, user_id, project_id'
                ' FROM websub_intents WHERE claimed_until <= ? ORDER BY id LIMIT ?',
                (_epoch(now), limit)).fetchall()
            db.executemany('UPDATE websub_intents SET claimed_until = ? WHERE id = ?',
                           [(_epoch(now) + hold, r[0]) for r in rows])
            return [(r[0], Intent(*r[1:])) for r in rows]
        return self._write(claim)

    def finish_intent(self, intent_id):
        self._write(lambda db: db.execute('DELETE FROM websub_intents WHERE id = ?',
                                          (intent_id,)))

    def put_subscription(self, subscription):
        s = subscription
        self._write(lambda db: db.execute(
            'INSERT OR REPLACE INTO websub_subscriptions (topic, callback, secret, expires,'
            ' user_id, project_id) VALUES (?, ?, ?, ?, ?, ?)',
            (s.topic, s.callback, s.secret, _epoch(s.expires), s.user_id, s.project_id)))

    def remove_subscription(self, topic, callback):
        def remove(db):
            db.execute('DELETE FROM websub_deliveries WHERE topic = ? AND callback = ?',
                       (topic, callback))
            _drop_orphan_contents(db)
            return db.execute('DELETE FROM websub_subscriptions WHERE topic = ? AND callback = ?',
                              (topic, callback)).rowcount > 0
        return self._write(remove)

    def subscriptions(self, topic, now):
        with self._lock:
            rows = self._db.execute(
                'SELECT topic, callback, expires, secret, user_id, project_id'
                ' FROM websub_subscriptions WHERE topic = ? AND expires > ? ORDER BY callback',
                (topic, _epoch(now)))
            return [Subscription(t, c, time_of(e), s, u, p) for t, c, e, s, u, p in rows]

    def topics(self, now):
        with self._lock:
            return [r[0] for r in self._db.execute(
                'SELECT DISTINCT topic FROM websub_subscriptions WHERE expires > ?'
                ' ORDER BY topic', (_epoch(now),))]

    def expire(self, now):
        if not self._any('SELECT 1 FROM websub_subscriptions WHERE expires <= ? LIMIT 1',
                         (_epoch(now),)):
            return 0

        def expire(db):
            db.execute('DELETE FROM websub_deliveries WHERE EXISTS (SELECT 1 FROM'
                       ' websub_subscriptions s WHERE s.topic = websub_deliveries.topic AND'
                       ' s.callback = websub_deliveries.callback AND s.expires <= ?)',
                       (_epoch(now),))
            _drop_orphan_contents(db)
            return db.execute('DELETE FROM websub_subscriptions WHERE expires <= ?',
                              (_epoch(now),)).rowcount
        return self._write(expire)

    def enqueue(self, contents, now):
        return self._write(lambda db: _enqueue(db, contents, now))

    def cursor_marker(self, name):
        with self._lock:
            row = self._db.execute('SELECT marker FROM websub_cursors WHERE name = ?',
                                   (name,)).fetchone()
        return row[0] if row else None

    def claim_cursor(self, name, now, hold):
        owner = secrets.token_hex(16)

        def claim(db):
            row = db.execute('SELECT marker, claimed_until FROM websub_cursors WHERE name = ?',
                             (name,)).fetchone()
            if row is not None and row[1] > _epoch(now):
                return None
            marker = row[0] if row else None
            db.execute('INSERT OR REPLACE INTO websub_cursors (name, marker, owner,'
                       ' claimed_until) VALUES (?, ?, ?, ?)',
                       (name, marker, owner, _epoch(now) + hold))
            return Cursor(name, marker, owner)
        return self._write(claim)

    def advance_cursor(self, cursor, marker, contents, now):
        def advance(db):
            # One transaction: the deliveries exist exactly when the cursor moved.
            moved = db.execute('UPDATE websub_cursors SET marker = ?, owner = NULL,'
                               ' claimed_until = 0 WHERE name = ? AND owner = ?',
                               (marker, cursor.name, cursor.claim)).rowcount
            if not moved:
                raise CursorLost(cursor.name)
            return _enqueue(db, contents, now)
        return self._write(advance)

    def claim_deliveries(self, now, hold, limit):
        if not self._any('SELECT 1 FROM websub_deliveries WHERE due <= ? AND claimed_until <= ?'
                         ' LIMIT 1', (_epoch(now), _epoch(now))):
            return []

        def claim(db):
            rows = db.execute(
                'SELECT d.id, d.topic, d.callback, s.secret, c.body, c.content_type, c.link,'
                ' d.attempts, d.first_attempt FROM websub_deliveries d'
                ' JOIN websub_contents c ON c.id = d.content_id'
                ' JOIN websub_subscriptions s ON s.topic = d.topic AND s.callback = d.callback'
                ' WHERE d.due <= ? AND d.claimed_until <= ? ORDER BY d.due, d.id LIMIT ?',
                (_epoch(now), _epoch(now), limit)).fetchall()
            db.executemany('UPDATE websub_deliveries SET claimed_until = ? WHERE id = ?',
                           [(_epoch(now) + hold, r[0]) for r in rows])
            return [Delivery(*r) for r in rows]
        return self._write(claim)

    def delivered(self, delivery_ids):
        def forget(db):
            for delivery_id in delivery_ids:
                row = db.execute('SELECT content_id FROM websub_deliveries WHERE id = ?',
                                 (delivery_id,)).fetchone()
                db.execute('DELETE FROM websub_deliveries WHERE id = ?', (delivery_id,))
                if row:
                    _drop_orphan_contents(db, 'AND id = %d' % row[0])
        self._write(forget)

    def reschedule(self, delivery_id, due, attempts, first_attempt):
        self._write(lambda db: db.execute(
            'UPDATE websub_deliveries SET due = ?, attempts = ?, first_attempt = ?,'
            ' claimed_until = 0 WHERE id = ?', (_epoch(due), attempts, first_attempt, delivery_id)))

    def close(self):
        with self._lock:
            self._db.close()


def _enqueue(db, contents, now):
    """A delivery of each ``(topic, body, content_type, link)`` to every
    live subscriber of its topic (the body kept once); how many."""
    made = 0
    for topic, body, content_type, link in contents:
        callbacks = [r[0] for r in db.execute(
            'SELECT callback FROM websub_subscriptions WHERE topic = ? AND expires > ?',
            (topic, _epoch(now)))]
        if not callbacks:
            continue
        content = db.execute(
            'INSERT INTO websub_contents (topic, body, content_type, link)'
            ' VALUES (?, ?, ?, ?)', (topic, body, content_type, link)).lastrowid
        db.executemany(
            'INSERT INTO websub_deliveries (content_id, topic, callback, attempts, due,'
            ' claimed_until) VALUES (?, ?, ?, 0, ?, 0)',
            [(content, topic, c, _epoch(now)) for c in callbacks])
        made += len(callbacks)
    return made


def _add_columns(db):
    """Add the columns files of earlier releases lack (under the write lock,
    so of processes opening one at once, one adds them)."""
    for kind, column in _ADDED_COLUMNS:
        present = {row[1] for row in db.execute('PRAGMA table_info(%s)' % kind.name)}
        if column not in present:
            db.execute('ALTER TABLE %s ADD COLUMN %s %s'
                       % (kind.name, column, kind.field(column).type.sql))


def _drop_orphan_contents(db, only=''):
    # Contents are shared by the deliveries of one publish; the last one out drops it.
    db.execute('DELETE FROM websub_contents WHERE NOT EXISTS (SELECT 1 FROM websub_deliveries d'
               ' WHERE d.content_id = websub_contents.id) ' + only)


def hub_file(path):
    """The SQLite file of the hub's state beside a store file: its own, so
    the hub's writes never take the write lock the agents' batches wait for
    (the hub only reads the store's file: WAL readers block no writer)."""
    return path if path in ('', ':memory:') else path + '-websub'


def hub_store_of(store):
    """The hub's state of an open :class:`~nvs_notif.storage.base.Store`:
    the ``websub_*`` tables of the SQLite file beside its file
    (:func:`hub_file`), or indices of its search engine (its client)."""
    from nvs_notif.websub import search_store
    if store.url.scheme == 'sqlite':
        return SQLiteHubStore(hub_file(store.url.path) or ':memory:')
    return search_store.SearchHubStore(store)


def open_hub_store(url, conf=None):
    """The hub's state of the store of ``url``: ``websub_*`` tables of the
    SQLite file beside it, or ``<prefix>-websub-*`` indices of
    Elasticsearch/OpenSearch (``conf`` holds the store's credentials, as for
    ``get_store``)."""
    from nvs_notif import storage
    from nvs_notif.websub import search_store
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == 'sqlite':
        return SQLiteHubStore(hub_file(parsed.path) or ':memory:')
    return search_store.SearchHubStore(storage.get_store(url, conf))
