"""The storage interface every driver implements, and the driver loader."""
import abc
import dataclasses
import datetime
import functools
import types
import urllib.parse

from stevedore import driver

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import hosts as hosts_answer
from nvs_notif.answers import sla as answers_sla
from nvs_notif.answers import summary
from nvs_notif import credentials as credentials_mod
from nvs_notif import timeutil


class StoreError(Exception):
    """The store could not do what was asked: unreachable, closed, or it refused.

    The one error every :class:`Store` method raises for a failure of the store
    (the driver's own errors never escape); a write that raised it stored
    nothing or a part that a retry of the whole batch completes, so the caller
    retries.  Wrong arguments remain ``ValueError``.
    """


def operation(method):
    """Make a :class:`Store` method keep the contract's one error: called on a
    closed store, or failing with one of the driver's :attr:`Store.errors`
    (also while an iterator it returned is consumed), it raises
    :class:`StoreError`."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if self.closed:
            raise StoreError('%s is closed' % type(self).__name__)
        try:
            result = method(self, *args, **kwargs)
        except self.errors as exc:
            raise StoreError('%s: %s' % (type(exc).__name__, exc)) from exc
        if isinstance(result, types.GeneratorType):
            return _checked_iteration(result, self.errors)
        return result
    return checked


def _checked_iteration(results, errors):
    try:
        yield from results
    except errors as exc:
        raise StoreError('%s: %s' % (type(exc).__name__, exc)) from exc


@dataclasses.dataclass(frozen=True)
class Reject:
    """A message that could not be understood: kept, with why, for operators."""
    raw: str
    reason: str
    received: datetime.datetime


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What a store did with a batch."""
    spans: dict                # {span_id: Span} the batch touched, merged
    duplicates: int = 0        # notifications already stored (redelivery, replay)


@dataclasses.dataclass
class Batch:
    """What one endpoint call hands a store: written together or not at all."""
    notifications: list = dataclasses.field(default_factory=list)
    fragments: list = dataclasses.field(default_factory=list)
    rejects: list = dataclasses.field(default_factory=list)
    #: {message_id: JSON text of the payload of the first notification with
    #: that id, or None}: what the pipeline already encoded (see
    #: redact.redact_json); a store may use it instead of encoding again.
    payload_json: dict = dataclasses.field(default_factory=dict)


class Store(metaclass=abc.ABCMeta):
    """A place that durably keeps notifications, spans, events and meters.

    The kinds of documents are :data:`KINDS`.  Every method below is an
    :func:`operation`: a failure of the store raises :class:`StoreError`,
    and so does any call after :meth:`close`.  The contract suite
    (``tests/functional/test_store_contract.py``) holds every driver to this
    on its real server.

    :param url: the store URL, already split (``urllib.parse.urlsplit``),
        without credentials
    :param credentials: a :class:`nvs_notif.credentials.Credentials`
    :raises StoreError: when the store cannot be opened (a driver that opens
        nothing before its first operation raises then)
    """

    #: Whether the store is across the network: the stock pipelines' one-event
    #: publishes then go through a local spool (see nvs_notif.publisher).
    remote = False
    #: The driver's library errors that mean the store failed (raised as StoreError).
    errors = ()
    #: Set by :meth:`close`.
    closed = False

    def __init__(self, url, credentials=None):
        self.url = url
        self.credentials = credentials or credentials_mod.Credentials()

    @abc.abstractmethod
    def write(self, batch):
        """Durably store ``batch``, merging its span fragments into the stored spans.

        Idempotent: writing the same batch twice changes nothing.  Raises on
        failure, having stored either everything or a part that a retry of
        the whole batch completes.

        :returns: a :class:`WriteResult`
        """

    @abc.abstractmethod
    def write_events(self, docs):
        """Store serialised ceilometer events (dicts with a ``message_id``)."""

    @abc.abstractmethod
    def write_samples(self, docs):
        """Store serialised ceilometer samples (dicts with a ``message_id``)."""

    @abc.abstractmethod
    def spans(self, request_id=None, global_request_id=None, project_id=None,
              operation=None, since=None, until=None):
        """Stored spans as :class:`Span` objects, filtered by every given argument.

        :param request_id: spans of this request
        :param global_request_id: spans whose global request id is this
        :param project_id: spans of this project (tenant)
        :param operation: spans whose operation starts with this prefix
        :param since: aware datetime; spans with a start, end, failure or
            abort (``aborted``) at or after it
        :param until: aware datetime; spans with a start, end or failure at or
            before it (with ``since``: one of those times inside the range)

        Time filters are coarse (Elasticsearch compares milliseconds): they
        may let through a span a microsecond outside the range, never drop one
        inside it; :mod:`nvs_notif.queries` applies exact bounds.
        """

    @abc.abstractmethod
    def spans_by_id(self, span_ids):
        """The stored spans of these ids, as they are now (a search engine's
        read is real-time, not bound by its refresh): what the hub's tail
        reads of the spans the new notifications finished
        (:mod:`nvs_notif.feeds.tail`).

        :param span_ids: an iterable of span ids
        :returns: ``{span_id: Span}`` of those stored (others are left out)
        """

    # -- Answers computed by the store ------------------------------------------------
    # Each method below is one answer; the body here is its meaning, computed in
    # Python from spans() (what every store did before the stores aggregated).
    # Stores override them with their own queries, which must give the same
    # rows; these stay callable (``Store.sla(store, ...)``) for the comparison
    # (tests, tools/bench_queries.py).

    def stuck_spans(self, now, policy, operation=None, project_id=None):
        """Spans still open past their operation's stuck limit as of ``now``:
        what ``nvs-notif stuck`` lists (:func:`nvs_notif.answers.stuck.stuck` orders them).

        :param now: aware datetime
        :param policy: the :class:`nvs_notif.spans.StuckPolicy`
        :param operation: only operations starting with this prefix
        :param project_id: only spans of this project

        Stores answer from their open spans only (an indexed status), with the
        limits as query parameters; they may return a few more (coarse times),
        never fewer.  They return spans, or :class:`nvs_notif.answers.stuck.OpenSpan`
        rows (what ``stuck`` reads of a span).
        """
        return [s for s in self.spans(operation=operation, project_id=project_id)
                if policy.outcome(s, now) == 'timeout']

    def sla(self, group_by=None, operation=None, since=None, until=None, project_id=None):
        """``nvs-notif sla``: :class:`nvs_notif.answers.sla.SlaRow` rows per
        operation (and group), sorted by operation, then group.

        :param group_by: None or a key of :data:`nvs_notif.answers.sla.GROUPS`
        :param operation: only operations starting with this prefix
        :param since: only spans started at or after this (aware datetime)
        :param until: only spans started at or before this
        :param project_id: only spans of this project

        Percentiles are nearest-rank; a store whose engine estimates them
        answers exactly for small groups and documents its tolerance.
        """
        return answers_sla.sla(self.spans(operation=operation, since=since, until=until,
                                          project_id=project_id),
                               group_by, operation, since, until)

    def breakdown(self, operation, since=None, until=None, project_id=None):
        """``nvs-notif sla --breakdown``: :class:`nvs_notif.answers.sla.BreakdownRow`
        rows of where requests of ``operation`` (started inside ``since`` ..
        ``until``, of ``project_id``) spend their time
        (:func:`nvs_notif.answers.sla.breakdown`)."""
        return answers_sla.breakdown(self.spans(project_id=project_id), operation,
                                     since, until)

    def span_summary(self, now, policy, project_id=None):
        """:class:`nvs_notif.answers.summary.SpanSummary` of the spans (of
        ``project_id``) as of ``now``, outcomes judged by ``policy``."""
        return summary.span_summary(self.spans(project_id=project_id), now, policy)

    def top_failures(self, limit=5, project_id=None):
        """The ``limit`` most frequent :class:`nvs_notif.answers.summary.Failure`
        rows (operation, exception) of the failed spans (of ``project_id``)."""
        return summary.top_failures(self.spans(project_id=project_id), limit)

    def sample_span(self, project_id=None):
        """The span ``report`` traces as its sample: of a request, with the most
        attempts (ties: on the most hosts, then the greatest span id); None
        without any.  Stores read only the spans with the most attempts."""
        return sample_of(self.spans(project_id=project_id))

    def latest_time(self, project_id=None):
        """The newest start, end, failure or abort of a span (of ``project_id``),
        or None: the "now" of a replayed store."""
        return summary.latest_time(self.spans(project_id=project_id))

    # -- listings and aggregations of notifications (errors, hosts, history, trace, watch)

    def notifications(self, request_ids=None, project_id=None, user_id=None,
                      resource_id=None, since=None, until=None, priorities=None,
                      limit=None, host=None, service=None, event_type=None, request=None,
                      oldest_first=False, after=None, message_id=None, fields=None):
        """Stored notification documents (dicts), streamed: newest first by
        ``(timestamp, message_id)``, or oldest first.

        Stores read them in pages (bounded memory whatever the listing's
        length) and apply every filter and the limit themselves.

        :param request_ids: notifications of any of these request ids
        :param project_id: of this project
        :param user_id: of this user
        :param resource_id: about this resource
        :param since: aware datetime, inclusive (coarse, like :meth:`spans`)
        :param until: aware datetime, inclusive (coarse, like :meth:`spans`)
        :param priorities: notifications of any of these priorities
        :param limit: at most this many
        :param host: from this host
        :param service: from this service (``nova``...)
        :param event_type: whose event type starts with this prefix
        :param request: whose request id or global request id is this
        :param oldest_first: ascending ``(timestamp, message_id)`` order
        :param after: ``(timestamp ISO text, message_id)`` of a document
            listed before: only what follows it in this order (a page marker)
        :param message_id: the notification(s) of this message id (the API's
            ``/v1/notifications/{message_id}``)
        :param fields: the fields the caller reads (None: all); the documents
            may hold only these (and ``timestamp`` and ``message_id``), which
            spares a store reading the rest (the payload)
        :returns: an iterator of dicts shaped by
            :func:`nvs_notif.storage.documents.notification_doc`
        """
        raise NotImplementedError('%s cannot read notifications' % type(self).__name__)

    def notification_page(self, limit, marker=None, **filters):
        """One page of notifications, newest first by ``(timestamp, message_id)``.

        :param limit: at most this many (> 0)
        :param marker: None for the first page, else the ``next`` marker the
            previous page returned
        :param filters: :meth:`notifications`' filters (``project_id``...)
        :returns: ``(documents, next)``: ``next`` is the last document's
            ``(timestamp, message_id)`` when the page is full, else None
        """
        docs = list(self.notifications(limit=limit, after=marker, **filters))
        last = docs[-1] if len(docs) == limit else None
        return docs, (last['timestamp'], last['message_id']) if last else None

    def ingested(self, after=None, limit=500, settle=0.0):
        """Notifications in the order they were stored (ingest order, not
        their own times), oldest first, each with its ingest *marker*: what
        the hub's tail reads (:mod:`nvs_notif.feeds.tail`).

        A marker is text, larger for a later ingest.  SQLite's markers are its
        rowids: a write is seen whole at its commit, after every earlier one,
        so a marker once read is final.  The search engines stamp each
        notification when the writer sends it (``ingested``); one becomes
        searchable a bulk request (and its retries) later, so only stamps
        older than ``settle`` seconds are read.

        :param after: a marker this store gave (None: from the first kept)
        :param limit: at most this many
        :param settle: seconds a search engine's stamped write may take to
            become searchable (SQLite ignores it)
        :returns: a list of ``(marker, document)``, documents as
            :meth:`notifications` returns them
        """
        raise NotImplementedError('%s keeps no ingest order' % type(self).__name__)

    def ingest_marker(self, settle=0.0):
        """The marker of the newest notification :meth:`ingested` may return
        now (the same ``settle``): where a tail starts that wants only what
        comes next."""
        raise NotImplementedError('%s keeps no ingest order' % type(self).__name__)

    def ingest_page(self, limit, before=None, inclusive=False, **filters):
        """Notifications newest first in ingest order, each with its marker
        (:meth:`ingested`'s, read the other way): what the notifications
        feeds and their archive pages show.

        :param limit: at most this many
        :param before: a marker this store gave: only what was ingested
            before it (None: from the newest)
        :param inclusive: the notification at ``before`` too (an archive
            page starts at its marker)
        :param filters: ``project_id``, ``service``, ``event_type`` (a
            prefix), ``priorities``, as :meth:`notifications` takes them
        :returns: a list of ``(marker, document)``
        :raises ValueError: for a marker this store did not give
        """
        raise NotImplementedError('%s keeps no ingest order' % type(self).__name__)

    def error_groups(self, since=None, until=None, project_id=None):
        """What ``nvs-notif errors`` counts (:mod:`nvs_notif.answers.errors`):
        failed spans by host, service and ``error_key`` at their ``finished``
        time, and notifications of priority error or critical by host, service
        and ``error_key`` at their time, each with its count and first and
        last time, exactly inside ``since``..``until`` (inclusive).

        :param project_id: only spans and notifications of this project
        :returns: an iterable of :class:`~nvs_notif.answers.errors.ErrorGroup`

        Stores group in the engine (one row per group crosses into Python).
        This fallback reads every span and error notification into Python.
        """
        return errors_answer.groups_of(
            self.spans(since=since, until=until, project_id=project_id),
            self.notifications(since=since, until=until, project_id=project_id,
                               priorities=errors_answer.PRIORITIES), since, until)

    def host_activity(self, since, until, project_id=None):
        """What ``nvs-notif hosts`` counts (:mod:`nvs_notif.answers.hosts`):
        per host and service, the notifications timed exactly inside
        ``since``..``until`` (inclusive), those of priority error or critical,
        and the newest one's time.

        :param project_id: only notifications of this project
        :returns: an iterable of :class:`~nvs_notif.answers.hosts.HostActivity`

        Stores group in the engine; this fallback reads every notification of
        the window into Python.
        """
        return hosts_answer.activity_of(
            self.notifications(since=since, until=until, project_id=project_id), since, until)

    def finished_spans(self, limit, before=None, project_id=None, service=None,
                       operation=None, status=None, inclusive=False):
        """The finished spans, newest first by ``(finished, span_id)``, with
        their position: what the spans feeds show (:mod:`nvs_notif.feeds`).

        :param limit: at most this many
        :param before: a position this method returned: only what follows
            it in this order (None: from the newest)
        :param inclusive: the span at ``before`` too (an archive page starts
            at its marker)
        :param project_id: of this project
        :param service: of this service
        :param operation: whose operation starts with this prefix
        :param status: ``failure`` or ``success``
        :returns: a list of ``(position, Span)``, the position the text
            ``"<finished ISO text> <span_id>"`` (:func:`span_position`)

        Stores read it from their indexes; this fallback reads every span of
        the filters into Python.
        """
        found = sorted(((span_position(s), s) for s in self.spans(
            project_id=project_id, operation=operation)
            if s.finished is not None and (service is None or s.service == service)
            and (status is None or s.status == status)),
            key=lambda item: split_position(item[0]), reverse=True)
        if before is not None:
            bound = split_position(before)
            found = [item for item in found if split_position(item[0]) < bound
                     or (inclusive and split_position(item[0]) == bound)]
        return found[:limit]

    @abc.abstractmethod
    def count(self, kind):
        """How many documents of ``kind`` are stored.

        :param kind: one of :data:`KINDS`
        :raises ValueError: for any other kind
        """

    @abc.abstractmethod
    def purge(self, before):
        """Remove documents older than ``before`` (aware datetime, any time
        zone); spans only when all their times (start, latest start, end,
        failure, abort) are older.

        The search engines remove the time-based kinds by whole UTC days (the
        daily indices before ``before``'s day): never a newer document, but
        older ones of that day stay.

        :returns: ``{kind: how many removed}`` for every kind (for the search
            engines, daily indices removed for the time-based kinds)
        """

    def close(self):
        """Release connections and files; the store answers no more calls
        (:class:`StoreError`).  Closing again does nothing."""
        self.closed = True


#: The kinds of documents a store keeps (:meth:`Store.count`).
KINDS = ('notifications', 'spans', 'events', 'samples', 'rejects')


def span_position(span):
    """Where a finished span is in :meth:`Store.finished_spans`' order, as
    text (UTC ISO texts sort in time order, as every store compares them)."""
    return '%s %s' % (timeutil.iso(span.finished), span.span_id)


def split_position(position):
    """``(finished ISO text, span_id)`` of a :func:`span_position`.

    :raises ValueError: for text that is not one
    """
    finished, space, span_id = position.partition(' ') if isinstance(position, str) else ('', '', '')
    if not (space and span_id):
        raise ValueError('not a span position: %r' % (position,))
    timeutil.parse_iso(finished)
    return finished, span_id


def _sample_order(span):
    return (span.attempts, len(span.hosts), span.span_id)


def sample_of(spans):
    """:meth:`Store.sample_span` among ``spans`` (those a store narrowed down)."""
    return max((s for s in spans if s.request_id), key=_sample_order, default=None)


def stuck_cutoff(now, seconds):
    """The UTC ISO time an open span must have been open since (at the latest,
    inclusively: a span exactly at its limit is returned, and
    :func:`nvs_notif.spans.outcome` leaves it out) to be past a limit of
    ``seconds`` as of ``now``; None when that is before year 1 (none is)."""
    try:
        return timeutil.iso(now - datetime.timedelta(seconds=float(seconds)))
    except OverflowError:
        return None


def get_store(url, conf=None):
    """Load the driver for a store URL (``sqlite:///path``, ``elasticsearch://host:9200``).

    :param url: the URL as a string, or already split (as ceilometer hands
        publishers theirs); a split URL is not re-joined, which would turn
        ``sqlite:////abs/path`` into a host name.
    :param conf: the oslo.config options of the caller, where the store's
        credentials are (:mod:`nvs_notif.credentials`)
    """
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else url
    parsed, credentials = credentials_mod.split(parsed, conf)
    return driver.DriverManager('nvs_notif.store', parsed.scheme, invoke_on_load=True,
                                invoke_args=(parsed,),
                                invoke_kwds={'credentials': credentials}).driver
