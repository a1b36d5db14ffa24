"""Ceilometer events and samples derived from finished spans.

Ids are derived from the span and what is known of it, so a span reported
again (redelivery, replay) yields the same ids and stores keep one copy.
"""
from ceilometer.event import models
from ceilometer import sample as sample_mod

SPAN_EVENT_TYPE = 'nvs.span'
DURATION_METER = 'nvs.request.duration'
ERROR_METER = 'nvs.request.errors'

_T = models.Trait


def _traits(span):
    values = [
        ('operation', _T.TEXT_TYPE, span.operation), ('service', _T.TEXT_TYPE, span.service),
        ('host', _T.TEXT_TYPE, span.host), ('request_id', _T.TEXT_TYPE, span.request_id),
        ('global_request_id', _T.TEXT_TYPE, span.global_request_id),
        ('project_id', _T.TEXT_TYPE, span.project_id), ('user_id', _T.TEXT_TYPE, span.user_id),
        ('resource_id', _T.TEXT_TYPE, span.resource_id),
        ('outcome', _T.TEXT_TYPE, span.status),
        ('duration', _T.FLOAT_TYPE, span.duration), ('attempts', _T.INT_TYPE, span.attempts),
        ('start', _T.DATETIME_TYPE, span.start),
        ('error_type', _T.TEXT_TYPE, span.fault.exception if span.fault else None),
    ]
    return [_T(name, dtype, value) for name, dtype, value in values if value is not None]


def _event_id(span):
    return '%s:%s:%s' % (span.span_id, span.status,
                         'timed' if span.duration is not None else 'untimed')


def span_event(span):
    """The ``nvs.span`` event of a finished span."""
    return models.Event(message_id=_event_id(span), event_type=SPAN_EVENT_TYPE,
                        generated=span.finished, traits=_traits(span), raw={})


def span_samples(span):
    """Duration and error samples of a finished span."""
    metadata = {'operation': span.operation, 'service': span.service, 'host': span.host,
                'outcome': span.status,
                'request_id': span.request_id, 'attempts': span.attempts,
                'error_type': span.fault.exception if span.fault else None}
    common = dict(user_id=span.user_id, project_id=span.project_id,
                  resource_id=span.resource_id or span.request_id,
                  timestamp=span.finished.isoformat(), resource_metadata=metadata,
                  source='nvs')
    samples = []
    if span.duration is not None:
        samples.append(sample_mod.Sample(
            name=DURATION_METER, type=sample_mod.TYPE_GAUGE, unit='s', volume=span.duration,
            id=_event_id(span) + ':duration', **common))
    if span.status == 'failure':
        samples.append(sample_mod.Sample(
            name=ERROR_METER, type=sample_mod.TYPE_DELTA, unit='error', volume=1,
            id=_event_id(span) + ':error', **common))
    return samples
