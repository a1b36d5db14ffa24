"""A seeded, deterministic synthetic OpenStack cloud that emits notifications.

:func:`simulate` yields :class:`SimulatedNotification` objects in timestamp order, as the
services of a small cloud would put them on the bus: nova (legacy and versioned payloads),
cinder, glance, neutron, keystone (CADF) and heat, with interleaved concurrent request flows,
sub-requests sharing a ``global_request_id``, reschedules, failures, hung requests and periodic
notifications. Used for demos, replay, benchmarks and load tests.

Layout (``docs/architecture.rst`` has the map):

* ``config.py``: :class:`SimConfig`, every knob, validated when made;
* ``world.py``: hosts, projects, users, images, instances; the seeded ids, times, contexts;
* ``engine.py``: arrivals of user requests, hung requests, the timestamp-ordered run;
* ``flow.py``: what a flow is; ``flows/<service>.py``: each service's flows, registered
  in ``flows/__init__.py``; ``nova_payloads.py``: nova's notification payloads;
* ``periodic.py``: usage audits and compute service changes;
* ``records.py``: :class:`SimulatedNotification` and :func:`write_jsonl`.

Real-life quirks reproduced on purpose (downstream correlation must cope with them):

* a NoValidHost scheduling failure leaves ``scheduler.select_destinations.start`` without an
  ``.end`` (nova never sends one); the request is closed by ``compute_task.build_instances``
  (priority ERROR, conductor) carrying the same request_id;
* a rescheduled create emits ``compute.instance.create.start``/``.error`` on 2-3 hosts under
  one request_id, the last attempt ending in ``.end`` or in ``compute_task.build_instances``
  (MaxRetriesExceeded);
* hung requests stop right after one ``.start`` (possibly a sub-request's, e.g. a neutron
  ``port.create.start``, which then also leaves the parent nova operation open);
* keystone sends its CADF notifications with an empty context (the request id is in
  ``initiator.request_id``);
* legacy error payloads carry the exception as the services' JSON serialiser
  (oslo.serialization ``to_primitive``) writes an exception object: its ``repr``. A
  NovaException's is ``str`` of its ``__dict__`` with ``'class'`` (nova >= 18), e.g.
  ``"{'kwargs': {'port_id': ..., 'code': 400}, 'message': '...', 'class': 'PortBindingFailed'}"``,
  any other exception's ``Name('message')``. ``compute.instance.*.error`` has it in
  ``exception`` (nova ``exception_to_dict``); the conductor's ``compute_task.build_instances``
  (``set_vm_state_and_notify``) and cinder's ``scheduler.create_volume`` have it in ``reason``
  and no ``exception`` key. A NoValidHost comes to the conductor in the scheduler's RPC
  reply, so its class is oslo.messaging's ``NoValidHost_Remote``;
* nova sends ``service.update`` only when a service's disabled / disabled_reason /
  forced_down changes (here: a compute service disabled for maintenance, then enabled),
  never as a heartbeat, so an idle host is silent.
"""
import dataclasses

from nvs_notif.simulate import engine
from nvs_notif.simulate.config import DEFAULT_START, SimConfig
from nvs_notif.simulate.flows import DEFAULT_MIX, FLOW_KINDS, FLOWS
from nvs_notif.simulate.records import SimulatedNotification, write_jsonl
from nvs_notif.simulate.world import World

__all__ = ['SimulatedNotification', 'SimConfig', 'simulate', 'ending_at', 'write_jsonl',
           'FLOW_KINDS', 'DEFAULT_START', 'DEFAULT_MIX']


def simulate(count, config=None, **settings):
    """Yield exactly ``count`` notifications of a synthetic cloud, in timestamp order.

    :param count: number of notifications to yield (the stream is cut there, so flows still
        in progress at the end are left open).
    :param config: a :class:`SimConfig`; or give its fields as keyword arguments
        (``simulate(1000, seed=3, hosts=4)``).
    :raises ValueError: for a bad ``count`` or configuration (before any notification).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError('count must be a non-negative integer')
    return engine.run(count, World(_config(config, settings)), FLOWS)


def ending_at(count, end, config=None, **settings):
    """:func:`simulate`, shifted in time so that its last notification is at ``end``.

    The same cloud as ``simulate(count, config)`` (same ids, payloads, durations; every
    time moved by one offset), so a demo can end at the time it runs and stay
    reproducible relative to that end. Runs the simulation once more to learn its span.

    :param end: aware datetime of the last notification.
    """
    config = _config(config, settings)
    if end.tzinfo is None:
        raise ValueError('end must be timezone-aware')
    last = None
    for last in simulate(count, config):
        pass
    if last is not None:
        config = dataclasses.replace(config, start=config.start + (end - last.timestamp))
    return simulate(count, config)


def _config(config, settings):
    if config is None:
        return SimConfig(**settings)
    if settings:
        raise TypeError('give a SimConfig or its fields, not both')
    return config
