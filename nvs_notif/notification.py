"""The normalised notification: one record per OpenStack notification.

Everything downstream (correlation, stores, queries) reads :class:`Notification`,
never the wire message, so the many shapes services emit are understood here only.

:func:`normalize` accepts three message forms:

1. the dict oslo.messaging's (batch) dispatcher hands an endpoint:
   ``{ctxt, publisher_id, event_type, payload, metadata: {message_id, timestamp}}``
   with the priority given separately (the endpoint method's name);
2. a plain notification (oslo envelope v1, or one line of a JSON-lines replay file):
   ``{message_id, publisher_id, event_type, priority, payload, timestamp}`` with the
   request context as flattened ``_context_*`` keys or as a ``ctxt``/``context`` dict;
3. the oslo.messaging v2 wire envelope ``{"oslo.version": "2.x", "oslo.message": "<json of 2>"}``.

Payload generations understood: legacy (unversioned) dicts of nova, cinder, glance,
neutron (``{"port": {...}}``), heat and keystone (basic ``resource_info`` and CADF),
and nova's versioned ``nova_object.*`` payloads, which are unwrapped into plain dicts.
"""
import ast
import dataclasses
import datetime
import functools
import http
import json
import re


PHASES = ('start', 'end', 'error', 'progress', 'none')
PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample')


class InvalidNotification(ValueError):
    """A message that cannot be understood as a notification; says why."""


@dataclasses.dataclass(frozen=True)
class Fault:
    exception: str | None = None
    message: str | None = None
    code: int | None = None
    function: str | None = None


# Not frozen: a frozen dataclass sets each field through object.__setattr__,
# which made building Notifications and Spans ~6% of the endpoint's time
# (py-spy, tools/bench_pipeline.py); plain slots cost about half.  Nothing
# changes a Notification once normalize() made it.
@dataclasses.dataclass(slots=True)
class Notification:
    message_id: str
    timestamp: datetime.datetime        # timezone-aware, UTC
    event_type: str
    operation: str                      # event_type without its phase suffix
    phase: str                          # one of PHASES
    priority: str                       # one of PRIORITIES (lower case)
    publisher_id: str
    service: str                        # e.g. nova, cinder, glance, neutron, keystone, heat
    host: str | None
    request_id: str | None = None
    global_request_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    resource_type: str | None = None    # instance, volume, image, port, network, ...
    resource_id: str | None = None
    state: str | None = None
    fault: Fault | None = None
    payload: dict = dataclasses.field(default_factory=dict)
    availability_zone: str | None = None
    flavor: str | None = None           # flavor name (nova's instance_type)


# --- normalisation ---------------------------------------------------------

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
_NOVA_DATA = 'nova_object.data'

_PRIORITY_ALIASES = {'warning': 'warn'}
_ERROR_PRIORITIES = frozenset(('error', 'critical'))
# 'progress' is nova's (e.g. aggregate.cache_images.progress); '.update' is a
# periodic state report (compute.instance.update), not a phase.
_PHASE_SUFFIXES = frozenset(('start', 'end', 'error', 'progress'))

_CONTEXT_KEYS = {
    'request_id': ('request_id',),
    'global_request_id': ('global_request_id',),
    'project_id': ('project_id', 'tenant', 'project', 'tenant_id'),
    'user_id': ('user_id', 'user'),
}
# oslo.messaging flattens the context into the message as `_context_<key>`.
_FLAT_CONTEXT_KEYS = {field: tuple('_context_' + k for k in keys)
                      for field, keys in _CONTEXT_KEYS.items()}

_SERVICE_BY_EVENT_PREFIX = {
    **dict.fromkeys(('compute', 'compute_task', 'scheduler', 'conductor',
                     'aggregate', 'keypair', 'flavor', 'instance',
                     'server_group', 'libvirt', 'metrics'), 'nova'),
    **dict.fromkeys(('volume', 'snapshot', 'backup', 'consistencygroup',
                     'cgsnapshot', 'group', 'group_snapshot', 'capacity'),
                    'cinder'),
    'image': 'glance',
    **dict.fromkeys(('network', 'subnet', 'port', 'router', 'floatingip',
                     'security_group', 'security_group_rule'), 'neutron'),
    'identity': 'keystone',
    'orchestration': 'heat',
}
# Legacy publisher_id prefixes ('compute.host-1') and binaries that are not
# named after their project.
_SERVICE_BY_PUBLISHER = {
    'compute': 'nova', 'conductor': 'nova', 'scheduler': 'nova',
    'volume': 'cinder', 'image': 'glance', 'network': 'neutron',
    'identity': 'keystone', 'orchestration': 'heat',
}
# Event prefixes that name the service, not the resource: the resource noun
# is the next component (compute.instance.create.start -> instance).
_NOUN_IS_SECOND = frozenset(('compute', 'orchestration', 'identity'))
# Event prefixes whose resource is not named in the event type.
_NOUN_OVERRIDE = {'compute_task': 'instance'}
_ID_KEYS = {
    'instance': ('instance_id', 'instance_uuid', 'uuid'),
    'stack': ('stack_identity', 'stack_id', 'id'),
    'image': ('id', 'image_id'),
}
_FALLBACK_ID_KEYS = (('instance_id', 'instance'), ('instance_uuid', 'instance'),
                     ('volume_id', 'volume'), ('snapshot_id', 'snapshot'),
                     ('image_id', 'image'))
_STATE_KEYS = ('state', 'status', 'vm_state', 'outcome')
_PROJECT_KEYS = ('tenant_id', 'project_id')
# heat's 'user_id' is the user *name*; 'user_identity' is the id.
_USER_KEYS = ('user_identity', 'user_id')


def normalize(message, priority=None):
    """Turn one notification, in any form oslo.messaging produces, into a
    :class:`Notification`.

    :param message: the dispatched dict, a plain notification dict or a v2
        wire envelope (see the module docstring).
    :param priority: the priority when the message does not carry it, as for
        the dispatched form (the endpoint method name); wins over the
        message's own ``priority`` when both are given.
    :returns: a :class:`Notification`.
    :raises InvalidNotification: with the reason, for anything that is not
        a usable notification; no other exception escapes for bad input.
    """
    try:
        n = _normalize(message, priority)
    except InvalidNotification:
        raise
    except Exception as exc:  # noqa: BLE001
        # One odd message must not take a batch down: the caller counts and
        # dead-letters InvalidNotification, so every failure becomes one.
        raise InvalidNotification('cannot normalise: %s: %s'
                                  % (type(exc).__name__, exc)) from exc
    # A lone surrogate (a non-UTF-8 byte read with surrogateescape, or a
    # '\ud800' JSON escape) in an id or name cannot be encoded, so a store
    # would refuse the whole batch, forever; refuse the message instead.
    # (redact makes payload strings encodable.)
    for field in _TEXT_FIELDS:
        value = getattr(n, field)
        if type(value) is str and not value.isascii():
            try:
                value.encode('utf-8')
            except UnicodeEncodeError:
                raise InvalidNotification('%s is not valid UTF-8' % field) from None
    return n


_TEXT_FIELDS = ('message_id', 'event_type', 'publisher_id', 'host', 'request_id',
                'global_request_id', 'project_id', 'user_id', 'resource_id', 'state',
                'availability_zone', 'flavor')


def _normalize(message, priority):
    if not isinstance(message, dict):
        raise InvalidNotification('message is a %s, not a dict'
                                  % type(message).__name__)
    if _ENVELOPE_MESSAGE_KEY in message:
        message = _open_envelope(message)
    metadata = message.get('metadata')
    if not isinstance(metadata, dict):
        metadata = {}

    event_type = _event_type(message)
    operation, phase, head, noun = _event_parts(event_type)
    prio = _priority(message.get('priority') if priority is None else priority)
    publisher_id = _publisher_id(message)
    prefix, host, binary_form = _publisher_parts(publisher_id)
    payload = plain_payload(message.get('payload'))
    ctxt = _context_dict(message)

    service = _service(head, prefix, binary_form, payload)
    resource_type, resource_id = _resource(service, noun, payload)
    nested = payload.get(noun) if noun else None
    if not isinstance(nested, dict):
        nested = None
    availability_zone, flavor = _placement(payload)
    return Notification(
        message_id=_message_id(message, metadata),
        timestamp=_timestamp(message, metadata),
        event_type=event_type,
        operation=operation,
        phase=phase,
        priority=prio,
        publisher_id=publisher_id,
        service=service,
        host=host or _as_id(payload.get('host')),
        request_id=(_context_value(message, ctxt, 'request_id')
                    or _as_id(payload.get('request_id'))
                    or _cadf_initiator(payload, 'request_id')),
        global_request_id=_context_value(message, ctxt, 'global_request_id'),
        project_id=(_context_value(message, ctxt, 'project_id')
                    or _payload_project(service, payload, nested)),
        user_id=(_context_value(message, ctxt, 'user_id')
                 or _payload_user(payload, nested)),
        resource_type=resource_type,
        resource_id=resource_id,
        state=_state(payload, nested),
        fault=_fault(payload, prio, phase),
        payload=payload,
        availability_zone=availability_zone,
        flavor=flavor,
    )


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


def _event_type(message):
    event_type = message.get('event_type')
    if event_type is None:
        raise InvalidNotification('event_type is missing')
    if not isinstance(event_type, str):
        raise InvalidNotification('event_type is a %s, not a string'
                                  % type(event_type).__name__)
    if not event_type.strip():
        raise InvalidNotification('event_type is empty')
    return event_type


@functools.lru_cache(maxsize=4096)
def _event_parts(event_type):
    """(operation, phase, first component, resource noun) of an event type."""
    operation, dot, last = event_type.rpartition('.')
    if dot and operation and last in _PHASE_SUFFIXES:
        phase = last
    else:
        operation, phase = event_type, 'none'
    parts = event_type.split('.')
    head = parts[0]
    if head in _NOUN_OVERRIDE:
        noun = _NOUN_OVERRIDE[head]
    elif head in _NOUN_IS_SECOND and len(parts) > 1:
        noun = parts[1]
    else:
        noun = head
    return operation, phase, head, noun


def _priority(value):
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


def _publisher_id(message):
    publisher_id = message.get('publisher_id')
    # oslo's Notifier allows publisher_id=None; the message is still usable.
    if publisher_id is None:
        return ''
    if not isinstance(publisher_id, str):
        raise InvalidNotification('publisher_id is a %s, not a string'
                                  % type(publisher_id).__name__)
    return publisher_id


@functools.lru_cache(maxsize=4096)
def _publisher_parts(publisher_id):
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


def _message_id(message, metadata):
    message_id = message.get('message_id') or metadata.get('message_id')
    if message_id is None or message_id == '':
        raise InvalidNotification('message_id is missing')
    if not isinstance(message_id, str):
        raise InvalidNotification('message_id is a %s, not a string'
                                  % type(message_id).__name__)
    return message_id


def _timestamp(message, metadata):
    value = message.get('timestamp') or metadata.get('timestamp')
    if value is None or value == '':
        raise InvalidNotification('timestamp is missing')
    return _parse_timestamp(value)


def _parse_timestamp(value):
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

def _context_dict(message):
    for key in ('ctxt', 'context'):
        ctxt = message.get(key)
        if isinstance(ctxt, dict):
            return ctxt
    return None


def _context_value(message, ctxt, field):
    """One request-context field; only these few fields ever leave the
    context, which also holds the auth token."""
    if ctxt is not None:
        for key in _CONTEXT_KEYS[field]:
            value = _as_id(ctxt.get(key))
            if value:
                return value
    for key in _FLAT_CONTEXT_KEYS[field]:
        value = _as_id(message.get(key))
        if value:
            return value
    return None


def _as_id(value):
    if type(value) is str:
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# --- payload ---

def plain_payload(payload):
    """The payload as a plain dict: nova's versioned objects unwrapped, a
    non-dict value under ``value``; a plain dict is returned as is."""
    if payload is None:
        return {}
    if isinstance(payload, dict):
        if _NOVA_DATA in payload:
            return _unwrap_versioned(payload)
        return payload
    # oslo allows any JSON value as payload; keep it under a fixed key.
    return {'value': payload}


def _unwrap_versioned(payload):
    """Plain dict of a nova versioned payload; the top object's name and
    version are kept as '_object_name' / '_object_version'."""
    data = payload[_NOVA_DATA]
    if not isinstance(data, dict):
        return payload
    plain = _plain(data, 0)
    plain['_object_name'] = payload.get('nova_object.name')
    plain['_object_version'] = payload.get('nova_object.version')
    return plain


def _plain(value, depth):
    if depth >= _MAX_UNWRAP_DEPTH:
        return value
    if isinstance(value, dict):
        data = value.get(_NOVA_DATA)
        if isinstance(data, dict):
            value = data
        # Scalars inline: a call per leaf was most of the unwrapping's cost.
        return {k: _plain(v, depth + 1) if isinstance(v, (dict, list)) else v
                for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _service(head, prefix, binary_form, payload):
    if binary_form:
        # 'nova-compute:host1' names its project: the most reliable signal.
        project = prefix.partition('-')[0]
        return _SERVICE_BY_PUBLISHER.get(project, project) or head
    service = _SERVICE_BY_EVENT_PREFIX.get(head)
    if service:
        # cinder's scheduler also emits 'scheduler.*' (create_volume).
        if head == 'scheduler' and 'volume_id' in payload:
            return 'cinder'
        return service
    return _SERVICE_BY_PUBLISHER.get(prefix) or head


def _resource(service, noun, payload):
    if service == 'keystone':
        return _keystone_resource(noun, payload)
    # neutron wraps the resource: {"port": {"id": ...}}; delete has port_id.
    nested = payload.get(noun)
    if isinstance(nested, dict):
        resource_id = _as_id(nested.get('id'))
        if resource_id:
            return noun, resource_id
    for key in _ID_KEYS.get(noun) or (noun + '_id', 'id', 'uuid'):
        resource_id = _as_id(payload.get(key))
        if resource_id:
            if noun == 'stack' and resource_id.startswith('arn:'):
                # old heat: arn:openstack:heat::<tenant>:stacks/<name>/<id>
                resource_id = resource_id.rpartition('/')[2] or resource_id
            return noun, resource_id
    # The event names no resource (scheduler.create_volume, wrapped
    # exceptions): fall back to the id keys services commonly use.
    for key, resource_type in _FALLBACK_ID_KEYS:
        resource_id = _as_id(payload.get(key))
        if resource_id:
            return resource_type, resource_id
    return None, None


def _keystone_resource(noun, payload):
    target = payload.get('target')
    if not isinstance(target, dict):
        target = {}
    type_uri = target.get('typeURI')
    if isinstance(type_uri, str) and type_uri:
        # CADF: data/security/project -> project
        resource_type = type_uri.rstrip('/').rpartition('/')[2]
    else:
        resource_type = noun
    resource_id = _as_id(payload.get('resource_info'))
    if not resource_id and noun == 'authenticate':
        # The CADF target of an authentication is a fresh id; the user is
        # the initiator.
        initiator = payload.get('initiator')
        if isinstance(initiator, dict):
            resource_id = (_as_id(initiator.get('user_id'))
                           or _as_id(initiator.get('id')))
        resource_type = 'user'
    if not resource_id:
        resource_id = _as_id(target.get('id'))
    if not resource_id:
        return None, None
    return resource_type, resource_id


def _payload_project(service, payload, nested):
    value = _first_id(payload, _PROJECT_KEYS)
    if value:
        return value
    if nested is not None:
        value = _first_id(nested, _PROJECT_KEYS)
        if value:
            return value
    if service == 'glance':
        return _as_id(payload.get('owner'))
    return _cadf_initiator(payload, 'project_id')


def _payload_user(payload, nested):
    value = _first_id(payload, _USER_KEYS)
    if value:
        return value
    if nested is not None:
        value = _first_id(nested, _USER_KEYS)
        if value:
            return value
    return _cadf_initiator(payload, 'user_id')


def _cadf_initiator(payload, key):
    initiator = payload.get('initiator')
    if isinstance(initiator, dict):
        return _as_id(initiator.get(key))
    return None


def _first_id(mapping, keys):
    for key in keys:
        value = _as_id(mapping.get(key))
        if value:
            return value
    return None


def _state(payload, nested):
    for source in (payload, nested):
        if source is None:
            continue
        for key in _STATE_KEYS:
            value = source.get(key)
            if type(value) is str and value:
                return value
    return None


def _placement(payload):
    """(availability zone, flavor name) a nova or cinder payload names, or Nones.

    Instances and volumes carry ``availability_zone``; the flavor is legacy
    nova's ``instance_type`` (its name) or versioned ``flavor.name``.  The
    scheduler's and conductor's ``request_spec`` hold them too: legacy
    ``instance_properties.availability_zone`` and ``instance_type.name``,
    versioned ``availability_zone`` and ``flavor.name``.
    """
    zone, flavor = _text(payload.get('availability_zone')), _flavor_name(payload)
    spec = payload.get('request_spec')
    if isinstance(spec, dict):
        props = spec.get('instance_properties')
        zone = (zone or _text(spec.get('availability_zone'))
                or (_text(props.get('availability_zone')) if isinstance(props, dict) else None))
        flavor = flavor or _flavor_name(spec)
    return zone, flavor


def _flavor_name(data):
    for key in ('flavor', 'instance_type'):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get('name')
        if type(value) is str and value:
            return value
    return None


# --- faults ---

def _fault(payload, priority, phase):
    """The fault a notification reports, or None when it reports none.

    Looked for in nova's versioned ExceptionPayload ('fault', or 'reason' of
    ComputeTaskPayload, or the payload itself for compute.exception), legacy
    nova 'exception' / 'fault' / top-level 'message'+'code', the 'reason' of
    nova's set_vm_state_and_notify and cinder's scheduler, heat's
    'state_reason' and CADF's failed 'outcome'.

    Legacy payloads carry the exception object itself, which the services'
    JSON serialiser (oslo.serialization ``to_primitive``) turns into its
    ``repr``: ``Name('message')`` for a plain exception, and for a
    NovaException (since nova 18) the ``str`` of its ``__dict__`` with
    ``'class'`` added.  Both are read back by :func:`_exception_repr`.
    """
    fault = payload.get('fault')
    if isinstance(fault, dict) and fault:
        return _fault_from_dict(fault)
    if type(fault) is str and fault:
        return Fault(message=fault)
    exception = payload.get('exception')
    if exception is not None:
        return _fault_from_exception(exception, payload)
    failed = (priority in _ERROR_PRIORITIES or phase == 'error'
              or payload.get('outcome') == 'failure')
    if not failed:
        return None
    reason = payload.get('reason')
    if isinstance(reason, dict) and reason:
        found = _fault_from_dict(reason)
    elif type(reason) is str and reason:
        # nova set_vm_state_and_notify / cinder _set_volume_state_and_notify:
        # reason=<the exception>, i.e. its repr on the wire; else free text
        found = _exception_repr(reason) or Fault(message=reason)
    else:
        found = Fault()
    return Fault(
        exception=found.exception,
        message=(found.message or _text(payload.get('message'))
                 or _text(payload.get('state_reason'))),
        code=found.code if found.code is not None else _as_int(payload.get('code')),
        function=found.function,
    )


def _fault_from_exception(exception, payload):
    if isinstance(exception, dict):
        # legacy nova wrap_exception: the exception's attributes, serialised
        found = _fault_from_dict(exception)
    else:
        found = _exception_text(exception)
    return Fault(
        exception=found.exception,
        message=(found.message or _text(payload.get('exception_message'))
                 or _text(payload.get('message'))),
        code=found.code if found.code is not None else _as_int(payload.get('code')),
        function=found.function or _text(payload.get('function_name')),
    )


def _fault_from_dict(data):
    kwargs = data.get('kwargs')
    code = _as_int(data.get('code'))
    if code is None:
        code = _as_int(data.get('reasonCode'))
    if code is None and isinstance(kwargs, dict):
        code = _as_int(kwargs.get('code'))
    found = _exception_text(_text(data.get('exception')) or _text(data.get('class'))
                            or _cadf_reason_type(data.get('reasonType'), code))
    return Fault(
        exception=found.exception,
        message=(_text(data.get('exception_message'))
                 or _text(data.get('message')) or _text(data.get('msg'))
                 or found.message),
        code=code if code is not None else found.code,
        function=_text(data.get('function_name')),
    )


def _cadf_reason_type(reason_type, code):
    """A CADF reason's type as an error name: keystone names the status
    (``Unauthorized``), keystonemiddleware's audit events say ``HTTP`` and
    put the status in the code: named the same way here."""
    reason_type = _text(reason_type)
    if reason_type == 'HTTP' and code is not None:
        try:
            return http.HTTPStatus(code).phrase
        except ValueError:
            pass
    return reason_type


def _exception_text(value):
    """A Fault from the text of an exception: a repr (see :func:`_exception_repr`),
    a (module-qualified) class name, or any other text, kept as the name."""
    text = _text(value)
    if text is None:
        return Fault()
    found = _exception_repr(text)
    if found is not None:
        return found
    if _CLASS_PATH.fullmatch(text):
        return Fault(exception=_class_name(text))
    return Fault(exception=text)


#: oslo.messaging names an exception re-raised from an RPC reply ``<name>_Remote``
#: (a subclass made on the fly; module ``<module>_Remote``).
_REMOTE_SUFFIX = '_Remote'
_CLASS_PATH = re.compile(r'[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*')
#: ``Name(args)`` / ``package.module.Name(args)``: BaseException.__repr__.
_CALL_REPR = re.compile(r'([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\((.*)\)', re.DOTALL)
#: The first Python string literal at the start of a text.
_STR_LITERAL = re.compile(r'''[rbuRBU]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")''')
#: NovaException.__repr__: str(self.__dict__) with 'class' added.
_DICT_CLASS = re.compile(r'''['"]class['"]\s*:\s*['"]([A-Za-z_][\w.]*)['"]''')
_DICT_MESSAGE = re.compile(r'''['"]message['"]\s*:\s*''')
_DICT_CODE = re.compile(r'''['"]code['"]\s*:\s*(\d{1,9})\b''')
#: repr texts longer than this are not parsed (a payload field, not an attack surface).
_REPR_MAX = 65536


def _class_name(path):
    name = path.rpartition('.')[2]
    if name.endswith(_REMOTE_SUFFIX) and len(name) > len(_REMOTE_SUFFIX):
        name = name[:-len(_REMOTE_SUFFIX)]
    return name or None


def _exception_repr(text):
    """The Fault of an exception's repr as a service serialised it, or None.

    ``PortBindingFailed('Binding failed ...')``, ``NoValidBackend("...")``,
    ``nova.exception.NoValidHost(...)``, ``Timeout()``, and nova's
    ``{'kwargs': {'code': 500, ...}, 'message': '...', 'class': 'NoValidHost'}``.
    The name loses its module and oslo.messaging's ``_Remote`` suffix.
    """
    text = text.strip()
    if len(text) > _REPR_MAX:
        return None
    if text.startswith('{'):
        return _nova_exception_repr(text)
    match = _CALL_REPR.fullmatch(text)
    if match is None:
        return None
    name = _class_name(match.group(1))
    args = match.group(2).strip()
    message = None
    if args and args != '...':
        literal = _STR_LITERAL.match(args)
        if literal is not None:
            message = _literal_str(literal.group(0))
    return Fault(exception=name, message=message or None)


def _nova_exception_repr(text):
    try:
        data = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        data = None         # a kwarg's repr is not a literal: read the keys
    if isinstance(data, dict):
        name = data.get('class')
        if type(name) is not str or not _CLASS_PATH.fullmatch(name):
            return None
        kwargs = data.get('kwargs')
        code = _as_int(kwargs.get('code')) if isinstance(kwargs, dict) else None
        return Fault(exception=_class_name(name), message=_text(data.get('message')),
                     code=code)
    # 'class' is the key NovaException.__repr__ adds last; 'message' follows 'kwargs'
    names = _DICT_CLASS.findall(text)
    if not names:
        return None
    message = None
    for found in _DICT_MESSAGE.finditer(text):
        literal = _STR_LITERAL.match(text, found.end())
        if literal is not None:
            message = _literal_str(literal.group(0)) or message
    code = _DICT_CODE.search(text)
    return Fault(exception=_class_name(names[-1]), message=message or None,
                 code=int(code.group(1)) if code else None)


def _literal_str(literal):
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if type(value) is str else None


def _text(value):
    if type(value) is str:
        return value or None
    return None


def _as_int(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if type(value) is str and value.isdigit() and len(value) < 10:
        return int(value)
    return None
