"""The document shapes both stores keep: flat, JSON-ready dicts."""
import hashlib

from nvs_notif import faults
from nvs_notif import jsontext
from nvs_notif import timeutil
from nvs_notif.notification import Fault
from nvs_notif.spans import Span


def _fault_fields(fault):
    f = fault or Fault()
    return {'error_type': f.exception, 'error_message': f.message,
            'error_code': f.code, 'error_function': f.function,
            # What answers group failures by (derived, for the stores to group on).
            'error_key': faults.fault_name(fault)}


def notification_doc(n):
    doc = {
        'message_id': n.message_id, 'timestamp': timeutil.iso(n.timestamp),
        'event_type': n.event_type, 'operation': n.operation, 'phase': n.phase,
        'priority': n.priority, 'publisher_id': n.publisher_id,
        'service': n.service, 'host': n.host, 'request_id': n.request_id,
        'global_request_id': n.global_request_id, 'project_id': n.project_id,
        'user_id': n.user_id, 'resource_type': n.resource_type,
        'resource_id': n.resource_id, 'state': n.state,
        'availability_zone': n.availability_zone, 'flavor': n.flavor, 'payload': n.payload,
    }
    doc.update(_fault_fields(n.fault))
    return doc


def notification_json(n, payload_json=None):
    """``(doc, its JSON text)`` of a notification.

    :param payload_json: the payload's JSON text when the pipeline already
        made it (:func:`nvs_notif.redact.redact_json`), spliced in instead of
        encoding the payload a second time; None to encode it here
    """
    doc = notification_doc(n)
    if payload_json is None:
        return doc, jsontext.encode(doc)
    payload = doc.pop('payload')
    text = '%s,"payload":%s}' % (jsontext.encode(doc)[:-1], payload_json)
    doc['payload'] = payload
    return doc, text


def span_doc(s):
    doc = {
        'span_id': s.span_id, 'operation': s.operation, 'service': s.service,
        'host': s.host, 'hosts': sorted(s.hosts), 'request_id': s.request_id,
        'global_request_id': s.global_request_id, 'project_id': s.project_id,
        'user_id': s.user_id, 'resource_type': s.resource_type,
        'resource_id': s.resource_id, 'availability_zone': s.availability_zone,
        'flavor': s.flavor, 'zone_seen': timeutil.iso(s.zone_seen),
        'flavor_seen': timeutil.iso(s.flavor_seen),
        'start': timeutil.iso(s.start),
        # Where dashboards place the span in time: a failure reported
        # without a start (NoValidHost from select_destinations) has one too.
        'timestamp': timeutil.iso(s.start or s.finished or s.last_start),
        'last_start': timeutil.iso(s.last_start), 'end': timeutil.iso(s.end),
        'failed': timeutil.iso(s.failed), 'aborted': timeutil.iso(s.aborted), 'duration': s.duration,
        'attempts': s.attempts,
        'status': s.status,
        # Derived, for the stores to filter and group on (never read back).
        'finished': timeutil.iso(s.finished), 'open_since': timeutil.iso(s.open_since),
        'rescheduled': s.rescheduled,
        'start_ids': sorted(s.start_ids), 'end_ids': sorted(s.end_ids),
        'error_ids': sorted(s.error_ids),
    }
    doc.update(_fault_fields(s.fault))
    return doc


def span_from_doc(d):
    has_fault = any(d.get(k) is not None for k in ('error_type', 'error_message',
                                                   'error_code', 'error_function'))
    return Span(
        span_id=d['span_id'], operation=d['operation'], service=d['service'],
        host=d.get('host'), hosts=frozenset(d.get('hosts') or ()),
        request_id=d.get('request_id'),
        global_request_id=d.get('global_request_id'),
        project_id=d.get('project_id'), user_id=d.get('user_id'),
        resource_type=d.get('resource_type'), resource_id=d.get('resource_id'),
        availability_zone=d.get('availability_zone'), flavor=d.get('flavor'),
        zone_seen=timeutil.parse_iso(d.get('zone_seen')), flavor_seen=timeutil.parse_iso(d.get('flavor_seen')),
        start=timeutil.parse_iso(d.get('start')), last_start=timeutil.parse_iso(d.get('last_start')),
        end=timeutil.parse_iso(d.get('end')),
        failed=timeutil.parse_iso(d.get('failed')), aborted=timeutil.parse_iso(d.get('aborted')),
        # A failure always has a fault, if only an empty one.
        fault=Fault(d.get('error_type'), d.get('error_message'), d.get('error_code'),
                    d.get('error_function')) if has_fault or d.get('failed') else None,
        start_ids=frozenset(d.get('start_ids') or ()),
        end_ids=frozenset(d.get('end_ids') or ()),
        error_ids=frozenset(d.get('error_ids') or ()),
    )


def reject_id(r):
    """Deterministic id, so a redelivered bad message is kept once."""
    return hashlib.sha1((r.reason + '\x1f' + r.raw).encode('utf-8', 'surrogateescape')).hexdigest()


def reject_doc(r):
    return {'raw': r.raw, 'reason': r.reason, 'received': timeutil.iso(r.received)}
