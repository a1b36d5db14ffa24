"""nova's request flows: server create, delete, resize, rebuild, power on/off, snapshot.

Each flow sends what nova's API, scheduler, conductor and compute send for the request
(legacy or versioned, decided per request), and the sub-requests nova makes of neutron,
cinder and glance under the same global request id."""
from nvs_notif.simulate import catalogue
from nvs_notif.simulate.flow import FlowKind, follow, on_instance
from nvs_notif.simulate.flows import cinder, glance, neutron
from nvs_notif.simulate.nova_payloads import (build_failed, fixed_ips, instance_update,
                                              nova_event, scheduler_event, v_flavor,
                                              wrapped_failure)


class CreateOutcome:
    """How a server create ended, for a caller that waits for it (heat)."""
    __slots__ = ('ok', 'instance', 'fault')

    def __init__(self):
        self.ok = None
        self.instance = None
        self.fault = None


def server_create(w, t, req=None, outcome=None):
    """Boot a server: API, scheduler, then up to three compute hosts (reschedules), the
    last one failing (MaxRetriesExceeded, a fatal fault) or booting it.

    :param req: the request (default: a new one of a random user).
    :param outcome: a :class:`CreateOutcome` to fill in.
    """
    rng = w.rng
    config = w.config
    if req is None:
        req = w.request(t)
    inst = w.new_instance(req.user, t)
    if outcome is not None:
        outcome.instance = inst
    # nova-api: instance record created
    yield t, instance_update(w, t, req, inst, None, None, host=req.api, api=True)
    t += w.lognorm(0.15, 0.4)
    yield t, scheduler_event(w, t, req, inst, 'start')
    t += w.lognorm(0.25, 0.6)
    roll = rng.random()
    if roll < config.error_ratio * 0.3:
        # NoValidHost: nova never sends select_destinations.end
        t += w.lognorm(0.05, 0.3)
        inst.state, inst.task_state = 'error', None
        yield t, build_failed(w, t, req, inst, 'NoValidHost', catalogue.NO_VALID_HOST)
        t += 0.01
        yield t, instance_update(w, t, req, inst, 'building', 'scheduling', host=req.api)
        if outcome is not None:
            outcome.ok, outcome.fault = False, 'NoValidHost'
        return
    yield t, scheduler_event(w, t, req, inst, 'end')
    # alternates: up to 3 attempts
    hosts = rng.sample(w.computes, min(3, len(w.computes)))
    if rng.random() < config.reschedule_ratio and len(hosts) > 1:
        failures = 1 if (len(hosts) == 2 or rng.random() < 0.7) else 2
    else:
        failures = 0
    final_fail = roll > 1.0 - config.error_ratio * 0.7
    if failures and final_fail:
        failures = len(hosts)           # every alternate fails: MaxRetriesExceeded
    bfv = rng.random() < config.boot_from_volume_ratio
    admin_password = rng.random() < 0.3
    for attempt, host in enumerate(hosts):
        fails_here = attempt < failures or (final_fail and not failures)
        inst.host = host
        t += w.lognorm(0.3, 0.4)
        old = inst.task_state
        inst.task_state = 'spawning' if attempt == 0 else 'scheduling'
        yield t, instance_update(w, t, req, inst, 'building', old)
        t += 0.02 + rng.random() * 0.05
        extra = {'admin_password': 'Pa55-%06x' % rng.getrandbits(24)} \
            if admin_password else None
        yield t, nova_event(w, t, req, inst, 'create', 'start', l_extra=extra)
        if not fails_here:
            t = yield from _spawn(w, t, req, inst, host, bfv)
            if outcome is not None:
                outcome.ok = True
            return
        exc, tmpl = rng.choice(catalogue.RESCHEDULABLE if attempt < failures
                               else catalogue.FATAL)
        msg = tmpl.format(port=inst.port_id, mem=inst.flavor.memory_mb,
                          image=inst.image.id, uuid=inst.uuid)
        if exc == 'PortBindingFailed':
            t = yield from follow(neutron.port_for_instance(w, t + 0.1, req, inst, host), t)
        t += w.lognorm(1.5, 0.8)
        reschedule = attempt < failures and attempt + 1 < len(hosts)
        inst.state, inst.task_state = ('building', 'scheduling') if reschedule \
            else ('error', None)
        yield t, nova_event(w, t, req, inst, 'create', 'error',
                            fault=(exc, msg, '_build_and_run_instance',
                                   'nova.compute.manager'))
        if reschedule:
            continue
        if attempt < failures:
            t += w.lognorm(0.3, 0.4)
            yield t, build_failed(w, t, req, inst, 'MaxRetriesExceeded',
                                  catalogue.MAX_RETRIES.format(uuid=inst.uuid))
        if outcome is not None:
            outcome.ok, outcome.fault = False, exc
        return


def _spawn(w, t, req, inst, host, boot_from_volume):
    """The attempt that works: port, root volume or image download, boot; returns the
    time of ``create.end``."""
    rng = w.rng
    t = yield from follow(neutron.port_for_instance(w, t + w.lognorm(0.2, 0.3), req, inst,
                                                    host), t)
    if boot_from_volume:
        vreq = w.sub_request(t, req, 'cinder')
        inst.volume_id = vol_id = w.uuid()
        size = max(inst.flavor.root_gb, inst.image.min_disk, 1)
        created = w.ts_legacy(t)
        t = yield from follow(cinder.create_volume(w, t + 0.2, vreq, vol_id, '', size,
                                                   inst.image), t)
        t = yield from follow(cinder.attach_volume(w, t + 0.5, vreq, vol_id, size, inst,
                                                   created), t)
    elif rng.random() < 0.55:
        # image not cached on this host: download from glance dominates
        t += inst.image.size / rng.uniform(60e6, 250e6) + w.lognorm(1.0, 0.5)
        yield t, glance.image_send(w, t, req, inst, inst.image)
    t += w.lognorm(8.0, 0.4)                               # spawn + boot
    w.launch(inst, t)
    yield t, nova_event(w, t, req, inst, 'create', 'end',
                        l_extra={'message': 'Success', 'fixed_ips': fixed_ips(inst)})
    w.register(inst)
    return t


@on_instance(fallback=server_create)
def server_delete(w, t, inst, req):
    w.instances.remove(inst)
    old_task = inst.task_state
    inst.task_state = 'deleting'
    yield t, instance_update(w, t, req, inst, inst.state, old_task, host=req.api, api=True)
    t += w.lognorm(0.3, 0.4)
    yield t, nova_event(w, t, req, inst, 'delete', 'start')
    fails = w.rng.random() < w.config.error_ratio * 0.5
    if not req.versioned:
        t += 0.05
        yield t, nova_event(w, t, req, inst, 'shutdown', 'start')
    t += w.lognorm(2.0, 0.7)
    if fails:
        # the driver cannot destroy the guest: out of _shutdown_instance and
        # terminate_instance, whose wrap_exception is all that is sent
        inst.state, inst.task_state = 'error', None
        yield t, wrapped_failure(w, t, req, inst, 'terminate_instance',
                                 'InstanceTerminationFailure',
                                 'Failed to terminate instance: libvirtError: Failed to '
                                 'terminate process %d with SIGKILL: Device or resource busy'
                                 % w.rng.randint(1000, 99999), 'destroy',
                                 {'bdms': [], 'delete_type': 'delete'}, classless=True)
        return
    if not req.versioned:
        yield t, nova_event(w, t, req, inst, 'shutdown', 'end')
    if inst.volume_id is None and w.rng.random() < 0.6:
        t = yield from follow(neutron.port_delete(w, t, req, inst), t)
    t += w.lognorm(0.8, 0.4)
    inst.state, inst.power_state, inst.task_state = 'deleted', 'nostate', None
    yield t, nova_event(w, t, req, inst, 'delete', 'end',
                        l_extra={'terminated_at': w.ts_legacy(t),
                                 'deleted_at': w.ts_legacy(t)})


@on_instance(fallback=server_create)
def server_resize(w, t, inst, req):
    """Resize to another flavor on another host (prep, migrate, finish), then a second
    request confirms it (85 %) or reverts it."""
    rng = w.rng
    src = inst.host
    others = [h for h in w.computes if h != src] or [src]
    dst = rng.choice(others)
    new_fl = rng.choice([f for f in w.flavors if f is not inst.flavor])
    v_new = {'new_flavor': v_flavor(new_fl)}
    yield t, instance_update(w, t, req, inst, inst.state, None, host=req.api, api=True)
    t += w.lognorm(0.15, 0.4)
    yield t, scheduler_event(w, t, req, inst, 'start')
    t += w.lognorm(0.25, 0.6)
    yield t, scheduler_event(w, t, req, inst, 'end')
    inst.task_state = 'resize_prep'
    t += w.lognorm(0.3, 0.4)
    prep = dict(host=dst, v_action='resize_prep', v_extra=v_new,
                l_extra={'new_instance_type': new_fl.name, 'new_instance_type_id': new_fl.id},
                v_name=('InstanceActionResizePrepPayload', '1.3'))
    yield t, nova_event(w, t, req, inst, 'resize.prep', 'start', **prep)
    t += w.lognorm(0.5, 0.4)
    yield t, nova_event(w, t, req, inst, 'resize.prep', 'end', **prep)
    inst.task_state = 'resize_migrating'
    t += w.lognorm(0.4, 0.4)
    yield t, nova_event(w, t, req, inst, 'resize', 'start', host=src)
    t += w.lognorm(6.0 + inst.flavor.root_gb / 4.0, 0.5)   # disk copy
    yield t, nova_event(w, t, req, inst, 'resize', 'end', host=src)
    inst.host, inst.flavor = dst, new_fl
    inst.task_state = 'resize_finish'
    t += w.lognorm(0.4, 0.4)
    yield t, nova_event(w, t, req, inst, 'finish_resize', 'start', v_action='resize_finish')
    t += w.lognorm(4.0, 0.5)
    inst.state, inst.task_state = 'resized', None
    yield t, nova_event(w, t, req, inst, 'finish_resize', 'end', v_action='resize_finish')
    # later: a new API request confirms (or reverts) the resize
    t += rng.uniform(5, 90)
    creq = w.request(t, inst.user, versioned=req.versioned)
    if rng.random() < 0.85:
        yield t, nova_event(w, t, creq, inst, 'resize.confirm', 'start', host=src,
                            v_action='resize_confirm')
        t += w.lognorm(1.5, 0.4)
        inst.state = 'active'
        yield t, nova_event(w, t, creq, inst, 'resize.confirm', 'end', host=src,
                            v_action='resize_confirm')
    else:
        yield t, nova_event(w, t, creq, inst, 'resize.revert', 'start', host=dst,
                            v_action='resize_revert')
        t += w.lognorm(5.0, 0.4)
        inst.host, inst.state = src, 'active'
        yield t, nova_event(w, t, creq, inst, 'resize.revert', 'end', host=src,
                            v_action='resize_revert')


@on_instance(fallback=server_create)
def server_rebuild(w, t, inst, req):
    rng = w.rng
    v_name = ('InstanceActionRebuildPayload', '1.9')
    yield t, instance_update(w, t, req, inst, inst.state, None, host=req.api, api=True)
    inst.task_state = 'rebuilding'
    t += w.lognorm(0.4, 0.4)
    yield t, nova_event(w, t, req, inst, 'rebuild', 'start', v_name=v_name)
    inst.image = rng.choice(w.images)
    t += w.lognorm(1.0, 0.4)
    t += inst.image.size / rng.uniform(60e6, 250e6) + w.lognorm(1.0, 0.5)
    yield t, glance.image_send(w, t, req, inst, inst.image)
    t += w.lognorm(6.0, 0.4)
    if rng.random() < w.config.error_ratio:
        inst.state, inst.task_state = 'error', None
        fault = ('libvirtError', 'Requested operation is not valid: domain is not running',
                 '_do_rebuild_instance', 'nova.compute.manager')
        yield t, nova_event(w, t, req, inst, 'rebuild', 'error', v_name=v_name, fault=fault)
        # re-raised: rebuild_instance's wrap_exception reports it too
        t += 0.01
        yield t, wrapped_failure(w, t, req, inst, 'rebuild_instance', fault[0], fault[1],
                                 'spawn', {'image_ref': inst.image.id})
    else:
        inst.state, inst.task_state = 'active', None
        yield t, nova_event(w, t, req, inst, 'rebuild', 'end', v_name=v_name)


@on_instance(fallback=server_create)
def server_power(w, t, inst, req):
    """Power a running server off, or a stopped one on."""
    action = 'power_off' if inst.power_state == 'running' else 'power_on'
    yield t, instance_update(w, t, req, inst, inst.state, None, host=req.api, api=True)
    inst.task_state = 'powering-off' if action == 'power_off' else 'powering-on'
    t += w.lognorm(0.3, 0.4)
    yield t, nova_event(w, t, req, inst, action, 'start')
    t += w.lognorm(4.0 if action == 'power_off' else 2.5, 0.6)
    if action == 'power_off':
        inst.state, inst.power_state = 'stopped', 'shutdown'
    else:
        inst.state, inst.power_state = 'active', 'running'
    inst.task_state = None
    yield t, nova_event(w, t, req, inst, action, 'end')


@on_instance(fallback=server_create)
def server_snapshot(w, t, inst, req):
    """Snapshot a server into a new glance image (created, then uploaded by nova)."""
    img_id = w.uuid()
    v_name = ('InstanceActionSnapshotPayload', '1.9')
    v_extra = {'snapshot_image_id': img_id}
    inst.task_state = 'image_snapshot'
    yield t, nova_event(w, t, req, inst, 'snapshot', 'start', v_name=v_name, v_extra=v_extra)
    if w.rng.random() < w.config.error_ratio:
        # the driver fails: no .end, no .error; _snapshot_instance and snapshot_instance
        # are both wrapped, so both report it
        t += w.lognorm(3.0, 0.5)
        inst.task_state = None
        msg = ('internal error: unable to execute QEMU command \'blockdev-snapshot-sync\': '
               'No space left on device')
        for method in ('_snapshot_instance', 'snapshot_instance'):
            yield t, wrapped_failure(w, t, req, inst, method, 'libvirtError', msg, 'snapshot',
                                     {'image_id': img_id})
            t += 0.002
        return
    t = yield from follow(glance.snapshot_upload(w, t, req, inst, img_id), t)
    t += w.lognorm(0.5, 0.3)
    inst.task_state = None
    yield t, nova_event(w, t, req, inst, 'snapshot', 'end', v_name=v_name, v_extra=v_extra)


FLOWS = (
    FlowKind('server_create', server_create, 0.20),
    FlowKind('server_delete', server_delete, 0.10),
    FlowKind('server_resize', server_resize, 0.05),
    FlowKind('server_rebuild', server_rebuild, 0.03),
    FlowKind('server_power', server_power, 0.07),
    FlowKind('server_snapshot', server_snapshot, 0.04),
)
