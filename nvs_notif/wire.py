"""The oslo.messaging wire: envelope, ids, timestamps, request context, payload.

Reads the fields every notification has, whatever service sent it: the v2
envelope (``{"oslo.version": "2.0", "oslo.message": "<json>"}``), message id,
event type, priority, publisher id, timestamp, the request context (a
``ctxt``/``context`` dict or flattened ``_context_*`` keys) and nova's
versioned ``nova_object.*`` (and ironic's ``ironic_object.*``) payload wrapping.  Any bad field raises
:class:`InvalidNotification` with the reason.
"""
import datetime
import functools
import json


PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample')


class InvalidNotification(ValueError):
    """A message that cannot be understood as a notification; says why."""

_UTC = datetime.timezone.utc
_MIN_YEAR = 1970
_MAX_YEAR = 2200
# Longer than any timestamp format we know; refuse before parsing garbage.
_MAX_TIMESTAMP_LEN = 64
# Versioned payloads nest a handful of levels; anything deeper is left as is
# rather than risking the recursion limit on hostile input.
_MAX_UNWRAP_DEPTH = 32

_ENVELOPE_VERSION_KEY = 'oslo.version'
_ENVELOPE_MESSAGE_KEY = 'oslo.message'
#: The oslo.versionedobjects namespaces of versioned payloads: nova's and
#: ironic's (``<namespace>.name``, ``.namespace``, ``.version``, ``.data``).
_OBJECT_NAMESPACES = ('nova_object', 'ironic_object')
_DATA_KEYS = tuple(namespace + '.data' for namespace in _OBJECT_NAMESPACES)

_PRIORITY_ALIASES = {'warning': 'warn'}

#: Where each field is in a request context, best first.  heat's legacy
#: context has 'tenant' = the project *name* next to 'tenant_id', and 'user' =
#: the user name; heat acting through a trust (deferred auth, autoscaling)
#: acts for the trustor, who is the user ('trustor_user_id').
_CONTEXT_KEYS = {
    'request_id': ('request_id',),
    'global_request_id': ('global_request_id',),
    'project_id': ('project_id', 'tenant_id', 'project', 'tenant'),
    'user_id': ('trustor_user_id', 'user_id', 'user'),
}
# oslo.messaging flattens the context into the message as `_context_<key>`.
_FLAT_CONTEXT_KEYS = {field: tuple('_context_' + k for k in keys)
                      for field, keys in _CONTEXT_KEYS.items()}


# --- envelope fields ---

def open_envelope(message):
    """The notification inside an oslo.messaging v2 wire envelope; others as they are.

    Callers that redact before normalising open the envelope first, so the
    redaction sees the payload's keys rather than one JSON string.
    """
    if isinstance(message, dict) and _ENVELOPE_MESSAGE_KEY in message:
        return _open_envelope(message)
    return message


def _open_envelope(message):
    version = message.get(_ENVELOPE_VERSION_KEY)
    if not isinstance(version, str) or version.partition('.')[0] != '2':
        raise InvalidNotification('unsupported oslo envelope version %r'
                                  % (version,))
    body = message[_ENVELOPE_MESSAGE_KEY]
    if not isinstance(body, (str, bytes, bytearray)):
        raise InvalidNotification('oslo.message is a %s, not a JSON string'
                                  % type(body).__name__)
    try:
        inner = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidNotification('oslo.message is not JSON: %s' % exc) from None
    if not isinstance(inner, dict):
        raise InvalidNotification('oslo.message holds a %s, not an object'
                                  % type(inner).__name__)
    if _ENVELOPE_MESSAGE_KEY in inner:
        raise InvalidNotification('nested oslo envelope')
    return inner


def event_type(message):
    event_type = message.get('event_type')
    if event_type is None:
        raise InvalidNotification('event_type is missing')
    if not isinstance(event_type, str):
        raise InvalidNotification('event_type is a %s, not a string'
                                  % type(event_type).__name__)
    if not event_type.strip():
        raise InvalidNotification('event_type is empty')
    return event_type



def priority(value):
    if value is None:
        raise InvalidNotification('priority is missing')
    if not isinstance(value, str):
        raise InvalidNotification('priority is a %s, not a string'
                                  % type(value).__name__)
    prio = value.lower()
    prio = _PRIORITY_ALIASES.get(prio, prio)
    if prio not in PRIORITIES:
        raise InvalidNotification('unknown priority %r' % (value,))
    return prio


def publisher_id(message):
    publisher_id = message.get('publisher_id')
    # oslo's Notifier allows publisher_id=None; the message is still usable.
    if publisher_id is None:
        return ''
    if not isinstance(publisher_id, str):
        raise InvalidNotification('publisher_id is a %s, not a string'
                                  % type(publisher_id).__name__)
    return publisher_id


@functools.lru_cache(maxsize=4096)
def publisher_parts(publisher_id):
    """(binary or legacy prefix, host, is 'binary:host' form).

    'nova-compute:node1.example.com' splits on the first ':'; the legacy
    'compute.node1.example.com' on the first '.', as hosts may hold dots.
    """
    if ':' in publisher_id:
        prefix, _, host = publisher_id.partition(':')
        return prefix, host or None, True
    if '.' in publisher_id:
        prefix, _, host = publisher_id.partition('.')
        return prefix, host or None, False
    return publisher_id, None, False


def message_id(message, metadata):
    message_id = message.get('message_id') or metadata.get('message_id')
    if message_id is None or message_id == '':
        raise InvalidNotification('message_id is missing')
    if not isinstance(message_id, str):
        raise InvalidNotification('message_id is a %s, not a string'
                                  % type(message_id).__name__)
    return message_id


def timestamp(message, metadata):
    value = message.get('timestamp') or metadata.get('timestamp')
    if value is None or value == '':
        raise InvalidNotification('timestamp is missing')
    return parse_timestamp(value)


def parse_timestamp(value):
    """UTC-aware datetime from oslo's '2012-03-12 17:01:29.899834' and the
    ISO 8601 variants services use ('T', 'Z', '+hh:mm', '+hhmm'); naive is UTC.
    """
    if isinstance(value, datetime.datetime):
        when = value
    elif isinstance(value, str):
        if len(value) > _MAX_TIMESTAMP_LEN:
            raise InvalidNotification('timestamp is too long')
        try:
            # 3.11's fromisoformat takes the space separator, 'Z', any
            # fraction length and '+hhmm': the whole hot path in one C call.
            when = datetime.datetime.fromisoformat(value)
        except ValueError:
            when = _parse_timestamp_slow(value)
    else:
        raise InvalidNotification('timestamp is a %s, not a string'
                                  % type(value).__name__)
    try:
        if when.tzinfo is None:
            when = when.replace(tzinfo=_UTC)
        elif when.utcoffset():
            when = when.astimezone(_UTC)
        elif when.tzinfo is not _UTC:
            when = when.replace(tzinfo=_UTC)
    except OverflowError:
        raise InvalidNotification('timestamp %r is out of range'
                                  % (value,)) from None
    if not _MIN_YEAR <= when.year <= _MAX_YEAR:
        raise InvalidNotification('timestamp %r has an absurd year' % (value,))
    return when


def _parse_timestamp_slow(value):
    text = value.strip()
    # Seen in hand-written replay files: '... UTC' and a trailing 'z'.
    for suffix in (' UTC', 'UTC', 'z'):
        if text.endswith(suffix):
            text = text[:-len(suffix)] + '+00:00'
            break
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidNotification('timestamp %r is not ISO 8601'
                                  % (value,)) from None


# --- context ---

def context_dict(message):
    for key in ('ctxt', 'context'):
        ctxt = message.get(key)
        if isinstance(ctxt, dict):
            return ctxt
    return None


def context_value(message, ctxt, field):
    """One request-context field; only these few fields ever leave the
    context, which also holds the auth token."""
    if ctxt is not None:
        for key in _CONTEXT_KEYS[field]:
            value = as_id(ctxt.get(key))
            if value:
                return value
    for key in _FLAT_CONTEXT_KEYS[field]:
        value = as_id(message.get(key))
        if value:
            return value
    return None


def as_id(value):
    if type(value) is str:
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# --- payload ---

def plain_payload(payload):
    """The payload as a plain dict: nova's and ironic's versioned objects
    unwrapped, a non-dict value under ``value``; a plain dict is returned as is."""
    if payload is None:
        return {}
    if isinstance(payload, dict):
        for namespace, data_key in zip(_OBJECT_NAMESPACES, _DATA_KEYS):
            if data_key in payload:
                return _unwrap_versioned(payload, namespace, data_key)
        return payload
    # oslo allows any JSON value as payload; keep it under a fixed key.
    return {'value': payload}


def _unwrap_versioned(payload, namespace, data_key):
    """Plain dict of a versioned payload; the top object's name and
    version are kept as '_object_name' / '_object_version'."""
    data = payload[data_key]
    if not isinstance(data, dict):
        return payload
    plain = _plain(data, data_key, 0)
    plain['_object_name'] = payload.get(namespace + '.name')
    plain['_object_version'] = payload.get(namespace + '.version')
    return plain


def _plain(value, data_key, depth):
    if depth >= _MAX_UNWRAP_DEPTH:
        return value
    if isinstance(value, dict):
        data = value.get(data_key)
        if isinstance(data, dict):
            value = data
        # Scalars inline: a call per leaf was most of the unwrapping's cost.
        return {k: _plain(v, data_key, depth + 1) if isinstance(v, (dict, list)) else v
                for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, data_key, depth + 1) if isinstance(v, (dict, list)) else v
                for v in value]
    return value

