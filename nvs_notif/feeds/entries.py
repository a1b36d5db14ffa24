"""Feed entries: what an operator reads of one notification or one finished span.

Pure functions from the records the stores return (notification documents of
:func:`nvs_notif.storage.documents.notification_doc`, :class:`nvs_notif.spans.Span`)
to :class:`Entry`, the format-neutral record :mod:`nvs_notif.feeds.atom` writes.
Only stored fields are read: payloads were redacted before they were stored,
and nothing else of the message is ever shown.
"""
import dataclasses
import datetime
import hashlib
import uuid

from nvs_notif import jsontext
from nvs_notif import timeutil

#: Namespaces of the name-based UUIDs: an entry's id is a function of the
#: message id (or span id) alone, so every API process names it the same.
NOTIFICATION_NAMESPACE = uuid.UUID('6f1d3c2e-5a0b-4f5e-9d8c-1b7a2e4c9f01')
SPAN_NAMESPACE = uuid.UUID('0c9e8b7a-3d2f-4e1c-8b5a-7f6e5d4c3b02')

#: Bounds of what one entry shows, so one absurd notification cannot make a
#: feed of megabytes: characters of the title, of the summary, of the content.
TITLE_LIMIT = 200
SUMMARY_LIMIT = 2000
CONTENT_LIMIT = 65536

@dataclasses.dataclass(frozen=True)
class Entry:
    """One feed entry, format-neutral.

    :ivar id: ``urn:uuid:...``, stable for the notification or span
    :ivar updated: aware datetime: the notification's time, the span's finish
    :ivar content_src: URL of the JSON document when the caller serves one
        (the entry then points at it instead of carrying the text)
    :ivar categories: ``(field, value)`` pairs of what feeds are filtered by
    """
    id: str
    updated: datetime.datetime
    title: str
    summary: str
    author: str
    text: str
    published: datetime.datetime | None = None
    content_src: str | None = None
    categories: tuple = ()


def entry_uuid(namespace, key):
    """``urn:uuid:`` of a message or span id: the id itself when it is a UUID
    (oslo.messaging's message ids are), else a name-based UUID of it."""
    try:
        return uuid.UUID(key).urn
    except (ValueError, TypeError, AttributeError):
        pass
    # uuid.uuid5, for any text: lone surrogates in a hostile id included.
    name = str(key).encode('utf-8', 'surrogatepass')
    digest = hashlib.sha1(namespace.bytes + name).digest()
    return uuid.UUID(bytes=digest[:16], version=5).urn


def clip(text, limit):
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    text = '' if text is None else str(text)
    if len(text) <= limit:
        return text
    note = ' [... %d more characters]' % (len(text) - limit)
    return text[:max(limit - len(note), 0)] + note


def _lines(pairs):
    return '\n'.join('%s: %s' % (k, v) for k, v in pairs if v not in (None, ''))


def _payload_text(payload):
    # Sorted and indented: the same payload is the same text (archive pages
    # are byte-identical).
    try:
        return jsontext.pretty(payload)
    except (ValueError, TypeError, RecursionError):
        # Stored payloads are cut at 64 levels (nvs_notif.redact); this is
        # for documents from elsewhere.
        return '(a payload json cannot show: keys of mixed types or nested too deeply)'


def notification_entry(doc, json_url=None):
    """The entry of a stored notification document.

    :param doc: a dict shaped by ``documents.notification_doc`` (as
        ``Store.notifications`` returns them)
    :param json_url: the URL of the notification's JSON document, or None
        to carry the payload as text
    """
    when = timeutil.parse_iso(doc['timestamp'])
    priority = (doc.get('priority') or '').upper()
    resource = ' '.join(str(x) for x in (doc.get('resource_type'), doc.get('resource_id')) if x)
    error = ': '.join(str(x) for x in (doc.get('error_type'), doc.get('error_message')) if x)
    where = doc.get('host') or doc.get('publisher_id')
    title = '%s%s%s%s' % (doc.get('event_type') or '(no event type)',
                          ' on %s' % where if where else '',
                          ' (%s)' % priority if priority not in ('', 'INFO') else '',
                          ': %s' % error if error else '')
    facts = _lines([
        ('event type', doc.get('event_type')), ('priority', priority),
        ('publisher', doc.get('publisher_id')), ('time', timeutil.iso(when)),
        ('request', doc.get('request_id')), ('global request', doc.get('global_request_id')),
        ('project', doc.get('project_id')), ('user', doc.get('user_id')),
        ('resource', resource), ('state', doc.get('state')), ('error', error),
    ])
    text = facts if json_url else '%s\npayload:\n%s' % (facts, _payload_text(doc.get('payload')))
    return Entry(
        id=entry_uuid(NOTIFICATION_NAMESPACE, doc.get('message_id')),
        updated=when, published=when,
        title=clip(title, TITLE_LIMIT), summary=clip(facts, SUMMARY_LIMIT),
        author=clip(doc.get('publisher_id') or doc.get('service') or 'unknown publisher',
                    TITLE_LIMIT),
        text=clip(text, CONTENT_LIMIT), content_src=json_url,
        categories=tuple((k, clip(doc[k], TITLE_LIMIT))
                         for k in ('service', 'operation', 'event_type', 'priority') if doc.get(k)))


def span_entry(span, json_url=None):
    """The entry of a finished span (a failed create with its exception is the
    one an operator wants); None while the span is open.

    The id is the span's for its whole life; ``updated`` is when it finished,
    so a span that finishes again (a later attempt) is the same entry, updated.
    """
    finished = span.finished
    if finished is None:
        return None
    fault = span.fault
    error = ': '.join(str(x) for x in (fault.exception, fault.message) if x) if fault else ''
    outcome = 'failed' if span.status == 'failure' else 'succeeded'
    took = ' in %.1f s' % span.duration if span.duration is not None else ''
    resource = ' '.join(str(x) for x in (span.resource_type, span.resource_id) if x)
    title = '%s %s%s%s%s' % (span.operation, outcome, took,
                             ' on %s' % span.host if span.host else '',
                             ': %s' % error if error else '')
    facts = _lines([
        ('operation', span.operation), ('outcome', outcome), ('service', span.service),
        ('started', timeutil.iso(span.start)), ('finished', timeutil.iso(finished)),
        ('duration', '%.3f s' % span.duration if span.duration is not None else None),
        ('attempts', span.attempts or None), ('host', span.host),
        ('hosts', ', '.join(sorted(span.hosts))), ('request', span.request_id),
        ('global request', span.global_request_id), ('project', span.project_id),
        ('user', span.user_id), ('resource', resource),
        ('availability zone', span.availability_zone), ('flavor', span.flavor),
        ('error', error), ('error code', fault.code if fault else None),
        ('failed in', fault.function if fault else None),
    ])
    return Entry(
        id=entry_uuid(SPAN_NAMESPACE, span.span_id), updated=finished, published=span.start,
        title=clip(title, TITLE_LIMIT), summary=clip(facts, SUMMARY_LIMIT),
        author=clip(span.service or 'unknown service', TITLE_LIMIT),
        text=clip(facts, CONTENT_LIMIT),
        content_src=json_url,
        categories=tuple((k, clip(v, TITLE_LIMIT)) for k, v in (
            ('service', span.service), ('operation', span.operation), ('outcome', span.status))
            if v))
