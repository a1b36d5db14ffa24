"""Periodic traffic that belongs to no user request: each compute host's usage audit
(``compute.instance.exists``, with an occasional power-state sync), and compute services
disabled for maintenance and enabled again (``service.update``).

Each source is a generator like a flow, except that it may also yield a new flow to start
(a maintenance window) or ``None`` (woken up with nothing to say)."""
from nvs_notif.simulate.nova_payloads import (fixed_ips, instance_update, legacy_payload,
                                              v_payload)
from nvs_notif.simulate.records import NOTIFICATIONS, VERSIONED
from nvs_notif.simulate.world import Request


def sources(w):
    """Every periodic source of the world: one audit per compute host, then the service
    changes. Each compute service gets its id and report count here."""
    found = []
    service_ids = {}
    for host in w.computes:
        service_ids[host] = (w.uuid(), w.rng.randint(1000, 100000))
        found.append(audits(w, host))
    found.append(service_changes(w, service_ids))
    return found


def service_changes(w, service_ids):
    """nova-compute services disabled for maintenance, then enabled again.

    nova sends ``service.update`` only when a service's disabled, disabled_reason or
    forced_down changes (Service.save), never periodically: these are the only ones.
    Yields a maintenance window (a flow) every ``maintenance_interval`` s on average."""
    rng = w.rng
    busy = set()

    def window(t, host):
        service_id, base = service_ids[host]
        # report_count: one state report every 10 s (nova's report_interval)
        yield t, service_update(w, t, host, service_id, base + int(t / 10), True)
        t += w.lognorm(900.0, 0.5)
        yield t, service_update(w, t, host, service_id, base + int(t / 10), False)
        busy.discard(host)

    t = 0.0
    while True:
        t += rng.expovariate(1.0 / w.config.maintenance_interval)
        free = [h for h in w.computes if h not in busy]
        if not free:
            yield t, None
            continue
        host = rng.choice(free)
        busy.add(host)
        yield t, window(t, host)


def service_update(w, t, host, service_id, count, disabled):
    payload = {'nova_object.name': 'ServiceStatusPayload',
               'nova_object.namespace': 'nova', 'nova_object.version': '1.1',
               'nova_object.data': {
                   'host': host, 'binary': 'nova-compute', 'topic': 'compute',
                   'uuid': service_id, 'disabled': disabled,
                   'disabled_reason': 'maintenance' if disabled else None,
                   'forced_down': False, 'last_seen_up': w.ts_v(t - t % 10),
                   'report_count': count, 'version': 66,
                   'availability_zone': w.zones.get(host, 'internal')}}
    # the API (os-services) changes the record; the notification names the service
    return w.notif(t, 'nova', VERSIONED, 'nova-compute:' + host, 'INFO',
                   'service.update', payload, w.admin_ctx())


def audits(w, host):
    """Usage audit on one compute host: compute.instance.exists for each of its instances
    (first run within the first minute, as nova's periodic task does after a start)."""
    rng = w.rng
    t = rng.uniform(5.0, 60.0)
    while True:
        ctx = w.admin_ctx()
        versioned = rng.random() < w.config.versioned_ratio
        begin = t - w.config.audit_interval
        for inst in [i for i in w.instances if i.host == host]:
            t += rng.uniform(0.005, 0.05)
            if versioned:
                extra = {'audit_period': {
                    'nova_object.name': 'AuditPeriodPayload',
                    'nova_object.namespace': 'nova', 'nova_object.version': '1.0',
                    'nova_object.data': {'audit_period_beginning': w.ts_v(begin),
                                         'audit_period_ending': w.ts_v(t)}},
                    'bandwidth': []}
                payload = v_payload(w, inst, None, 'InstanceExistsPayload', '2.1',
                                    None, extra)
                del payload['nova_object.data']['fault']
                yield t, w.notif(t, 'nova', VERSIONED, 'nova-compute:' + host, 'INFO',
                                 'instance.exists', payload, ctx)
            else:
                payload = legacy_payload(w, inst, {
                    'audit_period_beginning': w.ts_legacy(begin),
                    'audit_period_ending': w.ts_legacy(t), 'bandwidth': {},
                    'fixed_ips': fixed_ips(inst)})
                yield t, w.notif(t, 'nova', NOTIFICATIONS, 'compute.' + host, 'INFO',
                                 'compute.instance.exists', payload, ctx)
            if not inst.busy and rng.random() < 0.05:
                # power-state sync found a guest shut down from inside
                if inst.power_state == 'running':
                    req = Request(ctx, ctx['request_id'], versioned, inst.user,
                                  inst.project, host)
                    inst.power_state, inst.state = 'shutdown', 'stopped'
                    t += 0.01
                    yield t, instance_update(w, t, req, inst, 'active', None)
        t += w.config.audit_interval * rng.uniform(0.99, 1.01)
        yield t, None           # nothing to report now; wake up at the next period
