"""Every stored field, declared once: its type, whether SQLite keeps it in a
column, how search engines map it, and where its value comes from.

The SQLite tables and indexes (:mod:`nvs_notif.storage.sqlite`), the index
templates' mappings (:mod:`nvs_notif.storage.search_templates`) and the
document converters (:mod:`nvs_notif.storage.documents`) are derived from
:data:`KINDS`, so adding a stored field is one :class:`Field` here.

Fields marked ``derived`` are computed from the record for the stores to
filter and group on (``finished``, ``error_key``...); reads never turn them
back into the record.
"""
import dataclasses
import operator

from nvs_notif import faults
from nvs_notif import timeutil
from nvs_notif.notification import Notification
from nvs_notif.spans import Span

# ignore_above: an absurdly long id is kept in _source but not indexed,
# instead of failing its document (and its batch) as an immense term.
_KEYWORD_MAPPING = {'type': 'keyword', 'ignore_above': 1024}
#: Where a schemaless object goes: replaced by the engine's flat type.
FLAT = {'type': 'flat'}


def _sorted_list(values):
    return sorted(values)


@dataclasses.dataclass(frozen=True)
class Type:
    """How values of a field are kept.

    :param sql: the SQLite column type
    :param mapping: the search engines' mapping
    :param to_doc: record value -> document value (None: as is)
    :param from_doc: document value -> record value (None: as is)
    """
    sql: str
    mapping: dict
    to_doc: object = None
    from_doc: object = None


KEYWORD = Type('TEXT', _KEYWORD_MAPPING)
TEXT = Type('TEXT', {'type': 'text', 'fields': {'keyword': _KEYWORD_MAPPING}})
DATE = Type('TEXT', {'type': 'date'}, timeutil.iso, timeutil.parse_iso)
# date keeps milliseconds; the ISO text (microseconds, UTC) as a keyword sorts
# and bounds in exactly the order the SQLite store gives (exact windows,
# first/last times: nvs_notif.storage.search_reads).
_EXACT_DATE_MAPPING = {'type': 'date', 'fields': {'exact': {'type': 'keyword'}}}
INTEGER = Type('INTEGER', {'type': 'integer'})
DOUBLE = Type('REAL', {'type': 'double'})
BOOLEAN = Type('INTEGER', {'type': 'boolean'})
#: A set of names, kept as a sorted list.
KEYWORDS = Type('TEXT', _KEYWORD_MAPPING, _sorted_list, frozenset)
#: Message ids kept for the span merge (read from _source), never searched: a
#: span is rewritten with every notification of it, so indexing them cost every time.
IDS = Type('TEXT', {'type': 'keyword', 'index': False, 'doc_values': False},
           _sorted_list, frozenset)
#: A schemaless object (payloads, traits): the engine's flat type.
OBJECT = Type('TEXT', FLAT)


@dataclasses.dataclass(frozen=True)
class Field:
    """One stored field.

    :param get: record -> value, before ``type.to_doc`` (default: the
        record's attribute of the same name)
    :param column: SQLite keeps it in a column of its own
    :param mapping: the search engines' mapping when not the type's; None
        with ``mapped=False``: kept in ``_source`` only
    :param derived: computed for the stores, not read back into the record
    """
    name: str
    type: Type
    get: object = None
    column: bool = False
    mapping: dict = None
    mapped: bool = True
    derived: bool = False

    @property
    def search_mapping(self):
        return self.mapping if self.mapping is not None else self.type.mapping


@dataclasses.dataclass(frozen=True)
class Index:
    """A SQLite index of a kind's columns."""
    name: str
    columns: tuple
    unique: bool = False
    where: str = None


@dataclasses.dataclass(frozen=True)
class Kind:
    """What one kind of document keeps.

    :param key: the SQLite primary key column (None: the rowid)
    :param record: the class documents are read back into (None: documents
        are what is stored, e.g. ceilometer's serialised events)
    :param aliases: ``{alias: field}`` the search engines answer to too
    :param open: documents may hold fields not declared (ceilometer's
        serialised events and samples), kept as they come
    :param stamped: fields the search-engine stores stamp on each document
        when they write it, never part of the record (SQLite orders by its
        rowid instead)
    :param documents: SQLite keeps the whole document (``doc``) when some
        field is not a column; False: such fields are the search engines'
        alone (the hub's state, whose engines keep different shapes)
    """
    name: str
    fields: tuple
    key: str = None
    indexes: tuple = ()
    record: type = None
    aliases: dict = dataclasses.field(default_factory=dict)
    open: bool = False
    stamped: tuple = ()
    documents: bool = True

    @property
    def columns(self):
        """The names of the fields SQLite keeps in columns, in declaration order."""
        return tuple(f.name for f in self.fields if f.column)

    def field(self, name):
        return next(f for f in self.fields if f.name == name)


def _fault(attribute):
    getter = operator.attrgetter(attribute)
    return lambda record: None if record.fault is None else getter(record.fault)


def _fault_fields():
    return (
        Field('error_type', KEYWORD, _fault('exception'), column=True),
        Field('error_message', TEXT, _fault('message')),
        Field('error_code', Type('INTEGER', {'type': 'long', 'ignore_malformed': True}),
              _fault('code')),
        Field('error_function', KEYWORD, _fault('function')),
        # What answers group failures by: the exception, else the masked message.
        Field('error_key', KEYWORD, lambda record: faults.fault_name(record.fault),
              column=True, derived=True),
    )


def _common(column_zone_flavor):
    return (
        Field('operation', KEYWORD, column=True),
        Field('service', KEYWORD, column=True),
        Field('host', KEYWORD, column=True),
        Field('request_id', KEYWORD, column=True),
        Field('global_request_id', KEYWORD, column=True),
        Field('project_id', KEYWORD, column=True),
        Field('user_id', KEYWORD, column=True),
        Field('resource_type', KEYWORD, column=True),
        Field('resource_id', KEYWORD, column=True),
        Field('availability_zone', KEYWORD, column=column_zone_flavor),
        Field('flavor', KEYWORD, column=column_zone_flavor),
    )


# host.name and service.name are left out: ``host`` and ``service`` are
# keywords here, and an alias below them would need them to be objects.
_ECS_ALIASES = {
    'event.action': 'operation',
    'trace.id': 'global_request_id', 'transaction.id': 'request_id',
    'cloud.project.id': 'project_id', 'user.id': 'user_id',
    'cloud.availability_zone': 'availability_zone', 'cloud.machine.type': 'flavor',
    'error.type': 'error_type', 'error.message': 'error_message',
    'error.code': 'error_code',
}

NOTIFICATIONS = Kind(
    'notifications', record=Notification,
    fields=(
        Field('message_id', KEYWORD, column=True),
        Field('timestamp', DATE, column=True, mapping=_EXACT_DATE_MAPPING),
        Field('event_type', KEYWORD, column=True),
        Field('phase', KEYWORD, column=True),
        Field('priority', KEYWORD, column=True),
        Field('publisher_id', KEYWORD),
        # A column: history lists it without reading the packed rest (payload).
        Field('state', KEYWORD, column=True),
    ) + _common(False) + (
        Field('payload', OBJECT),
    ) + _fault_fields(),
    indexes=(
        Index('notifications_request', ('request_id',)),
        Index('notifications_project', ('project_id', 'timestamp')),
        # A notification is kept once per (timestamp, message_id): a
        # redelivery or replay repeats both.  That unique index grows at its
        # end as time goes on, where one on message_id alone (random ids) would
        # dirty a page per row and make every commit write most of it again; it
        # also serves time windows in the order notifications() returns.
        Index('notifications_time', ('timestamp', 'message_id'), unique=True),
        Index('notifications_user', ('user_id', 'timestamp')),
        Index('notifications_resource', ('resource_id', 'timestamp')),
        # Only the error notifications, by time, with what errors groups and
        # filters them by (its own condition's column too, which SQLite needs
        # to cover a query): errors, and the errors of hosts.
        Index('notifications_errors',
              ('timestamp', 'host', 'service', 'error_key', 'project_id', 'priority'),
              where='priority IN (%s)' % ', '.join(
                  "'%s'" % p for p in sorted(faults.ERROR_PRIORITIES))),
        # When each host and service reported (hosts: counts and newest, in the index).
        Index('notifications_host', ('host', 'service', 'timestamp')),
    ),
    aliases=dict(_ECS_ALIASES, **{'@timestamp': 'timestamp', 'event.kind': 'event_type'}),
    # When the writer sent it (fixed-width UTC text, so it sorts as text):
    # the search engines' ingest order, which the hub's tail reads
    # (Store.ingested).
    stamped=(Field('ingested', Type('TEXT', {'type': 'keyword'})),
             # Why the engine refused to index the payload, on a notification
             # stored with it in _source only (documents.UNINDEXED_PAYLOAD):
             # what operators search to find them (payload_refused:*).
             Field('payload_refused', KEYWORD)),
)

SPANS = Kind(
    'spans', key='span_id', record=Span,
    fields=(
        Field('span_id', KEYWORD, column=True),
    ) + _common(True) + (
        Field('hosts', KEYWORDS),
        # When the zone / flavor was last reported (the latest report wins).
        Field('zone_seen', DATE, mapped=False),
        Field('flavor_seen', DATE, mapped=False),
        Field('start', DATE, column=True),
        # Where dashboards place the span in time: a failure reported
        # without a start (NoValidHost from select_destinations) has one too.
        Field('timestamp', DATE, lambda s: s.start or s.finished or s.last_start,
              derived=True),
        Field('last_start', DATE),
        Field('end', DATE, column=True),
        Field('failed', DATE, column=True),
        Field('aborted', DATE),
        Field('duration', DOUBLE, column=True, derived=True),
        Field('attempts', INTEGER, column=True, derived=True),
        Field('status', KEYWORD, column=True, derived=True),
        Field('start_ids', IDS),
        Field('end_ids', IDS),
        Field('error_ids', IDS),
    ) + _fault_fields() + (
        Field('finished', DATE, column=True, mapping=_EXACT_DATE_MAPPING, derived=True),
        Field('open_since', DATE, column=True, derived=True),
        Field('rescheduled', BOOLEAN, column=True, derived=True),
    ),
    indexes=(
        Index('spans_request', ('request_id',)),
        Index('spans_global_request', ('global_request_id',)),
        Index('spans_operation', ('operation', 'start')),
        # Only the spans with an attempt running, by when it started, with
        # what ``stuck`` reads and filters by (its own condition's column too,
        # which SQLite needs to cover a query): a few rows, whatever the
        # history holds, never the table's pages.
        Index('spans_open', ('open_since', 'operation', 'project_id', 'span_id', 'request_id',
                             'host', 'status'), where="status = 'open'"),
        # Failures (and successes) by when they finished: what sla groups.
        Index('spans_status', ('status', 'finished')),
        # Only the failed spans, by when they finished, with what errors
        # groups and filters them by: errors never reads the table.
        Index('spans_failed', ('finished', 'host', 'service', 'error_key', 'project_id', 'status'),
              where="status = 'failure'"),
        # sla: every column it reads, by operation then duration (its
        # percentiles' window order), so a whole-history sla reads this index
        # alone (nvs_notif.storage.sqlite_span_answers).
        Index('spans_sla', ('operation', 'duration', 'status', 'attempts', 'rescheduled',
                            'error_key', 'start')),
        # report's sample: the spans of a request with the most attempts.
        Index('spans_attempts', ('attempts',), where='request_id IS NOT NULL'),
    ),
    aliases=dict(_ECS_ALIASES, **{'@timestamp': 'timestamp'}),
)

EVENTS = Kind(
    'events', key='message_id',
    fields=(
        Field('message_id', KEYWORD, column=True),
        Field('event_type', KEYWORD, column=True),
        Field('generated', DATE, column=True),
        Field('traits', OBJECT),
        Field('raw', OBJECT, mapping={'type': 'object', 'enabled': False}),
    ),
    aliases={'@timestamp': 'generated'}, open=True,
)

SAMPLES = Kind(
    'samples', key='message_id',
    fields=(
        Field('message_id', KEYWORD, column=True),
        Field('counter_name', KEYWORD, column=True),
        Field('counter_type', KEYWORD),
        Field('counter_unit', KEYWORD),
        Field('counter_volume', DOUBLE),
        Field('user_id', KEYWORD),
        Field('project_id', KEYWORD),
        Field('resource_id', KEYWORD),
        Field('source', KEYWORD),
        Field('timestamp', DATE, column=True),
        Field('resource_metadata', OBJECT),
    ),
    aliases={'@timestamp': 'timestamp'}, open=True,
)

REJECTS = Kind(
    'rejects', key='reject_id',
    fields=(
        # The document's id in the search engines.
        Field('reject_id', KEYWORD, column=True),
        Field('received', DATE, column=True),
        Field('reason', TEXT, column=True),
        Field('raw', TEXT, column=True, mapping={'type': 'text', 'index': False}),
    ),
    aliases={'@timestamp': 'received'},
)

#: Every kind, by name.
KINDS = {k.name: k for k in (NOTIFICATIONS, SPANS, EVENTS, SAMPLES, REJECTS)}

# --- The WebSub hub's state (nvs_notif.websub.store, .search_store) ----------------
# SQLite keeps the fields marked column (a table each, websub_<kind>); the
# search engines those mapped (an index each, <prefix>-websub-<kind>, strict
# mappings: a document holds nothing else).  A hub kind's key is its SQLite
# primary key; the search engines keep it as the document's _id.

_HUB_KEYWORD = Type('TEXT', {'type': 'keyword'})
#: Epoch seconds: the hub's times, compared and never shown.
_EPOCH = Type('REAL', {'type': 'double'})
_COUNT = Type('INTEGER', {'type': 'long'})
#: Kept and read back, never searched: secrets, markers, headers.
_KEPT = Type('TEXT', {'type': 'keyword', 'index': False})
#: A delivery's body, the bytes sent (text in the search engines).
_BODY = Type('BLOB', {'type': 'text', 'index': False})


def _hub(name, fields, **kwargs):
    return Kind('websub_' + name, fields, documents=False, **kwargs)


def _key(name, type_=_COUNT):
    """The key: SQLite's primary key column, the search engines' _id."""
    return Field(name, type_, column=True, mapped=False)


_WHO = (Field('user_id', _HUB_KEYWORD, column=True),     # the Keystone user who asked
        Field('project_id', _HUB_KEYWORD, column=True))  # and the token's project
_CONTENT = (Field('body', _BODY, column=True), Field('content_type', _KEPT, column=True),
            Field('link', _KEPT, column=True))

HUB_SUBSCRIPTIONS = _hub('subscriptions', (
    Field('topic', _HUB_KEYWORD, column=True), Field('callback', _HUB_KEYWORD, column=True),
    Field('secret', _KEPT, column=True), Field('expires', _EPOCH, column=True)) + _WHO,
    indexes=(Index('websub_subscriptions_key', ('topic', 'callback'), unique=True),
             Index('websub_subscriptions_expires', ('expires',))))
HUB_INTENTS = _hub('intents', (
    _key('id'), Field('mode', _HUB_KEYWORD, column=True),
    Field('topic', _HUB_KEYWORD, column=True), Field('callback', _HUB_KEYWORD, column=True),
    Field('lease_seconds', _COUNT, column=True), Field('secret', _KEPT, column=True),
    Field('received', _EPOCH, column=True), Field('claimed_until', _EPOCH, column=True)) + _WHO,
    key='id')
#: SQLite keeps a publish's body once, for all its deliveries.
HUB_CONTENTS = _hub('contents', (
    _key('id'), Field('topic', _HUB_KEYWORD, column=True, mapped=False))
    + tuple(dataclasses.replace(f, mapped=False) for f in _CONTENT), key='id')
HUB_DELIVERIES = _hub('deliveries', (
    _key('id'),
    Field('content_id', _COUNT, column=True, mapped=False),
    # The search engines: the subscription's _id, and the content in each.
    Field('subscription', _HUB_KEYWORD)) + tuple(
    dataclasses.replace(f, column=False) for f in _CONTENT) + (
    Field('topic', _HUB_KEYWORD, column=True), Field('callback', _HUB_KEYWORD, column=True),
    Field('attempts', _COUNT, column=True), Field('first_attempt', _EPOCH, column=True),
    Field('due', _EPOCH, column=True), Field('claimed_until', _EPOCH, column=True)),
    key='id', indexes=(Index('websub_deliveries_due', ('due',)),
                       Index('websub_deliveries_sub', ('topic', 'callback')),
                       Index('websub_deliveries_content', ('content_id',))))
#: Where each tail has read to, claimed by one hub process at a time.
HUB_CURSORS = _hub('cursors', (
    _key('name', _HUB_KEYWORD), Field('marker', _KEPT, column=True),
    Field('owner', _HUB_KEYWORD, column=True, mapped=False),
    Field('claimed_until', _EPOCH, column=True)), key='name')

#: The hub's kinds, by name.
HUB_KINDS = {k.name: k for k in (HUB_SUBSCRIPTIONS, HUB_INTENTS, HUB_CONTENTS, HUB_DELIVERIES,
                                 HUB_CURSORS)}
