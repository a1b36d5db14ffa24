"""``nvs-notif history`` and ``nvs-notif watch``: notifications listed as they are
stored, streamed.

Stores list notifications in order, filtered and limited
(:meth:`nvs_notif.storage.base.Store.notifications`); the rows here are made
one document at a time, so no listing is ever held whole.
"""
import datetime
import typing

from nvs_notif.answers import common

HISTORY_COLUMNS = ('timestamp', 'event_type', 'priority', 'service', 'host', 'request_id',
                   'resource_id', 'state', 'error')
#: The document fields a history row is made of (``Store.notifications(fields=...)``).
HISTORY_FIELDS = HISTORY_COLUMNS[:-1] + ('error_type',)
WATCH_COLUMNS = ('timestamp', 'priority', 'host', 'event_type', 'request_id', 'error')


class HistoryRow(typing.NamedTuple):
    """One row of ``history`` (:data:`HISTORY_COLUMNS`)."""
    timestamp: str
    event_type: str
    priority: str
    service: typing.Optional[str]
    host: typing.Optional[str]
    request_id: typing.Optional[str]
    resource_id: typing.Optional[str]
    state: typing.Optional[str]
    error: typing.Optional[str]


class WatchRow(typing.NamedTuple):
    """One line of ``watch`` (:data:`WATCH_COLUMNS`), ``-`` for what is missing."""
    timestamp: str
    priority: str
    host: str
    event_type: str
    request_id: str
    error: str


def history_rows(docs):
    """Notification documents as history rows, lazily, in the order given
    (stores list newest first)."""
    return (HistoryRow(*map(d.get, HISTORY_FIELDS)) for d in docs)


def history_objects(docs):
    """Notification documents as history rows in dicts keyed by
    :data:`HISTORY_COLUMNS` (the API's JSON objects), in the order given:
    without a :class:`HistoryRow` between, which took a 100-row page's
    conversion from ~0.7 to ~0.5 ms of CPU."""
    return [dict(zip(HISTORY_COLUMNS, map(d.get, HISTORY_FIELDS))) for d in docs]


def watch_row(doc):
    """One notification as a :class:`WatchRow`."""
    return WatchRow(*(doc.get(k) or '-' for k in (
        'timestamp', 'priority', 'host', 'event_type', 'request_id', 'error_type')))


class Tail:
    """A live tail: what each poll of the store shows, and where the next one starts.

    A notification is new when its message id was not shown yet and its time
    is at or after :attr:`since` (stores filter times coarsely).  The next
    poll starts ``late`` seconds before the newest time seen so far (never
    before :attr:`since`), so a notification that reaches the store up to
    ``late`` seconds behind a newer one is still shown.  Only the ids a later
    poll can return again are remembered, so memory stays bounded by what
    arrives within ``late`` seconds, however long a poll's listing is.

    :param since: aware datetime, the exact lower bound of the first poll
    :param late: seconds
    """

    def __init__(self, since, late=0.0):
        self.since = since
        self.late = datetime.timedelta(seconds=late)
        #: ``{message_id: aware datetime}`` shown that the next poll may return again.
        self.seen = {}
        self._bound = 1000

    def step(self, docs):
        """The new documents of one poll, as an iterator.

        :param docs: what a store listed for ``since=self.since``, oldest first
            (ties by message id), as ``Store.notifications(oldest_first=True)`` does
        """
        newest = max(self.seen.values(), default=self.since)
        for d in docs:
            when = common.doc_time(d) or common.MIN
            message_id = d.get('message_id')
            if message_id in self.seen or when < self.since:
                continue
            self.seen[message_id] = when
            newest = max(newest, when)
            if len(self.seen) > self._bound:
                self._forget_before(newest)
            yield d
        self._forget_before(newest)
        self.since = max(self.since, newest - self.late)

    def _forget_before(self, newest):
        following = max(self.since, newest - self.late)
        self.seen = {m: t for m, t in self.seen.items() if t >= following}
        self._bound = 2 * len(self.seen) + 1000
