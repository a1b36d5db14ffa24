"""The store's tail to the hub: what was ingested since the last round, as
the new entries of every subscribed topic holding them.

New entries reach the hub from the store, never from the agent's hot path:
each round reads the notifications stored after a cursor, in ingest order
(``Store.ingested``), with the spans their ends and errors finished
(:func:`finished_by`), and queues them for the subscribers of the topics they
belong to (:func:`nvs_notif.feeds.fanout.contents`).  A span is finished in
the write that stores the notification finishing it (a search engine's
writer sends the span first), so the notifications' cursor orders the spans'
finishes too: one cursor, one claim, for both kinds of entries.  The cursor lives in the
hub's store and is claimed for the round, so of several hub processes one
reads a range and the others wait their turn: each entry is published once
(on SQLite the deliveries and the cursor's move are one transaction; on the
search engines a process that loses its claim mid-round may publish its
range twice, never lose it).  A new cursor starts at the store's newest
marker: subscribers get what comes after, not the history.
"""
import collections
import dataclasses
import logging

from nvs_notif.feeds import fanout
from nvs_notif.opts import websub_default
from nvs_notif import spans as spans_mod
from nvs_notif.storage import documents
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import store as hub_store

LOG = logging.getLogger(__name__)

#: The cursor of the notifications' tail in the hub's store.
CURSOR = 'notifications'
#: The phases of the notifications that finish spans.
FINISHING_PHASES = ('end', 'error')


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the tail reads; the ``[websub]`` options (:meth:`from_conf`)."""
    #: Notifications read and published per round.
    batch: int = websub_default('tail_batch')
    #: Seconds a search engine's write may take to become searchable.
    settle: float = websub_default('tail_settle_seconds')
    #: Seconds a claimed cursor stays with its process.
    hold: float = 60.0

    @classmethod
    def from_conf(cls, group):
        return cls(batch=group.tail_batch, settle=group.tail_settle_seconds)


class Tail:
    """Publishes what ``store`` ingests to ``hub``'s subscribers.

    :param store: the :class:`~nvs_notif.storage.base.Store` the agents write
    :param hub: the :class:`~nvs_notif.websub.hub.Hub` (its store keeps the cursor)
    """

    def __init__(self, store, hub, settings=Settings(), project_enabled=None):
        self.store = store
        self.hub = hub
        self.settings = settings
        #: Asked whether a project Keystone updated is still enabled
        #: (:func:`nvs_notif.feeds.fanout.revoke`).
        self.project_enabled = project_enabled
        #: Per-process counters: read (notifications), spans (finished spans
        #: published), published (deliveries queued), lost (rounds whose claim
        #: another process took).
        self.stats = collections.Counter()

    def run_once(self):
        """One round; how many notifications it read (0: nothing new, or
        another process holds the cursor)."""
        hub = self.hub
        now = hub.clock()
        topics = hub.store.topics(now)
        # Read first; claim (a write) only when the cursor is to move.
        start = hub.store.cursor_marker(CURSOR)
        items, marker = self._next(start, topics)
        if marker == start:
            return 0
        cursor = hub.store.claim_cursor(CURSOR, now, self.settings.hold)
        if cursor is None:
            return 0
        if cursor.marker != start:      # another process moved it meanwhile
            items, marker = self._next(cursor.marker, topics)
        docs = [doc for _, doc in items]
        if fanout.revoke(hub, docs, self.project_enabled):
            topics = hub.store.topics(now)
        spans = finished_by(self.store, docs) if fanout.holds_spans(topics) else []
        contents = fanout.contents(topics, docs, spans) if docs else []
        try:
            made = hub.store.advance_cursor(cursor, marker, contents, now)
        except hub_store.CursorLost:
            self.stats['lost'] += 1
            LOG.warning('WebSub tail: the cursor was taken by another process while this one '
                        'read %d notifications (a round took longer than %s s)', len(items),
                        self.settings.hold)
            return 0
        self.stats['read'] += len(items)
        self.stats['spans'] += len(spans)
        self.stats['published'] += made
        return len(items)

    def _next(self, start, topics):
        """``(items, marker)``: what follows ``start`` and where the cursor
        goes after it."""
        if start is None or not topics:
            # Nobody to publish to (or a new cursor): skip to the newest.
            return [], self.store.ingest_marker(self.settings.settle)
        items = self.store.ingested(start, self.settings.batch, self.settings.settle)
        return items, items[-1][0] if items else start

    def run(self, stop, interval=0.2):
        """Rounds until ``stop`` (a ``threading.Event``) is set; a round that
        read a full batch is followed by the next at once."""
        hub_mod.run_rounds(lambda: self.run_once() >= self.settings.batch, stop, interval,
                           'WebSub tail')


def finished_by(store, docs):
    """The spans the notification documents ``docs`` finished, as ``store``
    holds them now (:meth:`~nvs_notif.storage.base.Store.spans_by_id`).

    A span finishes (or finishes again, later) with an end or error: the
    spans such a notification tells (:func:`nvs_notif.spans.fragments`: its
    own, and those its error aborts) were finished by it when their
    ``finished`` is its time.  A span finished again meanwhile, or open
    again, is left to the notification that finished it last, so each finish
    is published once, by the round that reads its notification.
    """
    times = collections.defaultdict(set)
    for doc in docs:
        if doc.get('phase') in FINISHING_PHASES:
            n = documents.notification_from_doc(doc)
            for fragment in spans_mod.fragments(n):
                times[fragment.span_id].add(n.timestamp)
    if not times:
        return []
    return [s for i, s in sorted(store.spans_by_id(times).items()) if s.finished in times[i]]
