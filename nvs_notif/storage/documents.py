"""The document shapes every store keeps: flat, JSON-ready dicts, converted
to and from records as :mod:`nvs_notif.storage.schema` declares."""
import dataclasses
import datetime
import hashlib
import json
import operator

from nvs_notif import jsontext
from nvs_notif.faults import Fault
from nvs_notif.storage import schema

_FAULT_FIELDS = ('error_type', 'error_message', 'error_code', 'error_function')


def encoder(kind, fields=None):
    """record -> document of ``kind`` (its ``fields``, default all).

    Fields read as is go through one ``attrgetter`` (the notification
    documents are on the agent's hot path); the others one by one.
    """
    fields = kind.fields if fields is None else fields
    plain = tuple(f.name for f in fields if f.get is None and f.type.to_doc is None)
    # attrgetter of one name gives the value, not a tuple; of none, nothing.
    get_plain = (operator.attrgetter(*plain) if len(plain) > 1
                 else lambda record: tuple(getattr(record, name) for name in plain))
    computed = tuple((f.name, f.get or operator.attrgetter(f.name), f.type.to_doc)
                     for f in fields if f.name not in plain)

    def to_doc(record):
        doc = dict(zip(plain, get_plain(record)))
        for name, get, convert in computed:
            value = get(record)
            doc[name] = value if value is None or convert is None else convert(value)
        return doc
    return to_doc


def decoder(kind, fault_when_failed):
    """document -> record of ``kind``: its record's attributes that are
    stored fields, and the fault from the error fields."""
    attributes = {f.name for f in dataclasses.fields(kind.record)}
    read = tuple((f.name, f.type.from_doc) for f in kind.fields
                 if f.name in attributes and not f.derived)

    def from_doc(doc):
        values = {}
        for name, convert in read:
            value = doc.get(name)
            values[name] = value if value is None or convert is None else convert(value)
        fault = [doc.get(k) for k in _FAULT_FIELDS]
        # A failed span always has a fault, if only an empty one.
        if any(v is not None for v in fault) or (fault_when_failed and doc.get('failed')):
            values['fault'] = Fault(*fault)
        return kind.record(**values)
    return from_doc


notification_doc = encoder(schema.NOTIFICATIONS)
notification_doc.__doc__ = 'A notification as its document.'
span_doc = encoder(schema.SPANS)
span_doc.__doc__ = 'A span as its document.'
span_from_doc = decoder(schema.SPANS, fault_when_failed=True)
span_from_doc.__doc__ = 'The span a document holds.'
notification_from_doc = decoder(schema.NOTIFICATIONS, fault_when_failed=False)
notification_from_doc.__doc__ = 'The notification a document holds.'
notification_fields = encoder(
    schema.NOTIFICATIONS, [f for f in schema.NOTIFICATIONS.fields if f.name != 'payload'])
notification_fields.__doc__ = 'A notification as its document, without the payload.'


def notification_json(n, payload_json=None):
    """``(doc, its JSON text)`` of a notification.

    :param payload_json: the payload's JSON text when the pipeline already
        made it (:func:`nvs_notif.redact.redact_json`), spliced in instead of
        encoding the payload a second time; None to encode it here
    """
    if payload_json is None:
        doc = notification_doc(n)
        return doc, jsontext.encode(doc)
    doc = notification_fields(n)
    text = '%s,"payload":%s}' % (jsontext.encode(doc)[:-1], payload_json)
    doc['payload'] = n.payload
    return doc, text


def reject_id(r):
    """Deterministic id, so a redelivered bad message is kept once."""
    return hashlib.sha1((r.reason + '\x1f' + r.raw).encode('utf-8', 'surrogateescape')).hexdigest()


_reject_fields = encoder(schema.REJECTS, [f for f in schema.REJECTS.fields
                                           if f.name != 'reject_id'])


def reject_doc(r):
    """A reject as its document (with its :func:`reject_id`)."""
    doc = _reject_fields(r)
    doc['reject_id'] = reject_id(r)
    return doc


#: Where a search store keeps a payload its engine refused to index: not a
#: mapped field (``dynamic: false``), so it stays in ``_source`` only.
UNINDEXED_PAYLOAD = 'payload_unindexed'


#: The field (schema ``stamped``) saying why a notification's payload is
#: under :data:`UNINDEXED_PAYLOAD`: the engine's reason.
PAYLOAD_REFUSED = 'payload_refused'


def payload_unindexed(text, reason):
    """A notification document's JSON text with its payload moved to
    :data:`UNINDEXED_PAYLOAD`, marked with why (:data:`PAYLOAD_REFUSED`)."""
    doc = json.loads(text)
    doc[UNINDEXED_PAYLOAD] = doc.pop('payload', None)
    doc[PAYLOAD_REFUSED] = reason
    return jsontext.encode(doc)


#: The field the search stores stamp on notifications (schema ``stamped``).
INGESTED = 'ingested'


def ingest_stamp(when):
    """The ``ingested`` text of an aware time: fixed width (microseconds
    always written), UTC, so texts sort in time order."""
    return when.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


@dataclasses.dataclass(frozen=True)
class Unstamped:
    """A notification document's JSON text, stamped ``ingested`` only as
    its bulk request goes out (:meth:`stamped`)."""
    text: str

    def stamped(self, when):
        """The JSON text with ``ingested`` added: ``when``, an aware time."""
        return '%s,"%s":"%s"}' % (self.text[:-1], INGESTED, ingest_stamp(when))


_NOTIFICATION_DERIVED = tuple(f.name for f in schema.NOTIFICATIONS.fields if f.derived)


def stored_notification(doc):
    """A notification document as a search store returns it: the payload
    where every store has it, indexed or not, no write stamp (the documents
    of every store are the same), and the derived fields a document of an
    earlier release lacks when they are null (the upgrade writes only the
    others: :func:`nvs_notif.storage.search_upgrade.backfill`)."""
    if UNINDEXED_PAYLOAD in doc:
        doc['payload'] = doc.pop(UNINDEXED_PAYLOAD)
    doc.pop(INGESTED, None)
    doc.pop(PAYLOAD_REFUSED, None)
    for name in _NOTIFICATION_DERIVED:
        doc.setdefault(name, None)
    return doc
