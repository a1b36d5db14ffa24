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
neutron (``{"port": {...}}``), heat, keystone (basic ``resource_info`` and CADF),
octavia, designate, manila, trove and magnum (CADF), and the versioned payloads of
nova (``nova_object.*``) and ironic (``ironic_object.*``), unwrapped into plain dicts.

The fields every message has are read by :mod:`nvs_notif.wire`, what each service
means by its payload by :mod:`nvs_notif.services`, and faults by :mod:`nvs_notif.faults`.
"""
import dataclasses
import datetime

from nvs_notif import faults
from nvs_notif import services
from nvs_notif import wire
from nvs_notif.faults import Fault
from nvs_notif.wire import InvalidNotification, PRIORITIES, open_envelope, plain_payload

__all__ = ('Fault', 'InvalidNotification', 'Notification', 'PHASES', 'PRIORITIES',
           'normalize', 'open_envelope', 'plain_payload')

PHASES = ('start', 'end', 'error', 'progress', 'none')


# Not frozen: a frozen dataclass sets each field through object.__setattr__,
# which made building Notifications and Spans ~6% of the endpoint's time
# (py-spy, tools/bench_pipeline.py); plain slots cost about half.  Nothing
# changes a Notification once normalize() made it.
@dataclasses.dataclass(slots=True)
class Notification:
    message_id: str
    timestamp: datetime.datetime        # timezone-aware, UTC
    event_type: str
    # What the notification is about: event_type without its phase suffix and
    # the phase, except for failures reported for another operation (nova's
    # wrap_exception, the conductor's NoValidHost): that operation, 'error'
    # (services.reported_operation).
    operation: str
    phase: str                          # one of PHASES
    priority: str                       # one of PRIORITIES (lower case)
    publisher_id: str
    service: str                        # e.g. nova, cinder, glance, neutron, keystone, heat, ironic
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


def normalize(message, priority=None, payload=None):
    """Turn one notification, in any form oslo.messaging produces, into a
    :class:`Notification`.

    :param message: the dispatched dict, a plain notification dict or a v2
        wire envelope (see the module docstring).
    :param priority: the priority when the message does not carry it, as for
        the dispatched form (the endpoint method name); wins over the
        message's own ``priority`` when both are given.
    :param payload: the message's payload as the caller already made it
        plain (:func:`plain_payload`) and redacted; None to read the message's.
    :returns: a :class:`Notification`.
    :raises InvalidNotification: with the reason, for anything that is not
        a usable notification; no other exception escapes for bad input.
    """
    try:
        n = _normalize(message, priority, payload)
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


def _normalize(message, priority, payload):
    if not isinstance(message, dict):
        raise InvalidNotification('message is a %s, not a dict'
                                  % type(message).__name__)
    message = wire.open_envelope(message)
    metadata = message.get('metadata')
    if not isinstance(metadata, dict):
        metadata = {}

    event_type = wire.event_type(message)
    operation, phase, head, noun = services.event_parts(event_type)
    prio = wire.priority(message.get('priority') if priority is None else priority)
    publisher_id = wire.publisher_id(message)
    prefix, host, binary_form = wire.publisher_parts(publisher_id)
    if payload is None:
        payload = wire.plain_payload(message.get('payload'))
    ctxt = wire.context_dict(message)

    service = services.service(head, prefix, binary_form, payload)
    resource_type, resource_id = services.resource(service, noun, payload)
    nested = payload.get(noun) if noun else None
    if not isinstance(nested, dict):
        nested = None
    fault = faults.fault(payload, prio, phase)
    operation, reported_phase = services.reported_operation(operation, phase, prio, service,
                                                            payload, fault)
    if reported_phase != phase:
        # An error told at another phase (an aborted build's .end, a bare
        # error notification): its fault is read as an error's.
        phase, fault = reported_phase, faults.fault(payload, prio, reported_phase)
    availability_zone, flavor = services.placement(payload)
    return Notification(
        message_id=wire.message_id(message, metadata),
        timestamp=wire.timestamp(message, metadata),
        event_type=event_type,
        operation=operation,
        phase=phase,
        priority=prio,
        publisher_id=publisher_id,
        service=service,
        host=services.host(service, host, payload),
        request_id=(wire.context_value(message, ctxt, 'request_id')
                    or wire.as_id(payload.get('request_id'))
                    or services.cadf_initiator(payload, 'request_id')),
        global_request_id=wire.context_value(message, ctxt, 'global_request_id'),
        project_id=services.project(service, wire.context_value(message, ctxt, 'project_id'),
                                    payload, nested),
        user_id=(wire.context_value(message, ctxt, 'user_id')
                 or services.payload_user(service, payload, nested)),
        resource_type=resource_type,
        resource_id=resource_id,
        state=services.state(payload, nested),
        fault=fault,
        payload=payload,
        availability_zone=availability_zone,
        flavor=flavor,
    )
