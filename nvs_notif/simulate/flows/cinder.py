"""cinder's flows: volume create (or its scheduling failure), delete, and attach to a
server (a nova request that has cinder attach the volume); and the volume sub-requests
nova makes when it boots from a volume."""
from nvs_notif.simulate import catalogue
from nvs_notif.simulate.flow import FlowKind, follow, on_instance
from nvs_notif.simulate.nova_payloads import legacy_payload, nova_event
from nvs_notif.simulate.records import NOTIFICATIONS


def volume_payload(w, vol_id, name, size, proj, user, status, created, attach=None,
                   image=None):
    p = {'tenant_id': proj.id, 'user_id': user.id, 'host': w.cinder_host + '@lvm#lvm',
         'availability_zone': 'nova', 'volume_id': vol_id, 'volume_type': 'lvmdriver-1',
         'display_name': name, 'created_at': created,
         'launched_at': created if status != 'creating' else '', 'size': size,
         'status': status, 'snapshot_id': None, 'replication_status': 'disabled',
         'replication_extended_status': None, 'replication_driver_data': None,
         'metadata': [], 'volume_attachment': attach or []}
    if image is not None:
        p['glance_metadata'] = [{'key': 'image_id', 'value': image.id},
                                {'key': 'image_name', 'value': image.name}]
    return p


def create_volume(w, t, req, vol_id, name, size, image=None):
    """volume.create.start/.end on cinder-volume (a volume from an image takes longer)."""
    created = w.ts_legacy(t)
    pub = 'volume.' + w.cinder_host
    proj, user = req.project, req.user
    yield t, w.notif(t, 'cinder', NOTIFICATIONS, pub, 'INFO', 'volume.create.start',
                     volume_payload(w, vol_id, name, size, proj, user, 'creating', created,
                                    image=image), req.ctx)
    if image is not None:
        t += 5 + image.size / w.rng.uniform(150e6, 400e6) + w.lognorm(3, 0.5)
    else:
        t += w.lognorm(2.0, 0.6)
    yield t, w.notif(t, 'cinder', NOTIFICATIONS, pub, 'INFO', 'volume.create.end',
                     volume_payload(w, vol_id, name, size, proj, user, 'available', created,
                                    image=image), req.ctx)


def attach_volume(w, t, req, vol_id, size, inst, created):
    """volume.attach.start/.end: the volume attached to ``inst``."""
    pub = 'volume.' + w.cinder_host
    proj, user = req.project, req.user
    att = [{'id': w.uuid(), 'volume_id': vol_id, 'instance_uuid': inst.uuid,
            'attached_host': inst.host, 'mountpoint': '/dev/vda' if inst.volume_id == vol_id
            else '/dev/vdb', 'attach_status': 'attaching'}]
    p = volume_payload(w, vol_id, '', size, proj, user, 'attaching', created, att)
    yield t, w.notif(t, 'cinder', NOTIFICATIONS, pub, 'INFO', 'volume.attach.start', p,
                     req.ctx)
    t += w.lognorm(1.5, 0.4)
    att = [dict(att[0], attach_status='attached')]
    p = volume_payload(w, vol_id, '', size, proj, user, 'in-use', created, att)
    yield t, w.notif(t, 'cinder', NOTIFICATIONS, pub, 'INFO', 'volume.attach.end', p, req.ctx)


def volume_create(w, t):
    """A new volume, empty or from an image; or cinder's scheduler finds no backend."""
    rng = w.rng
    req = w.request(t, service='cinder')
    vol_id = w.uuid()
    if rng.random() < w.config.error_ratio:
        t += w.lognorm(0.3, 0.4)
        payload = {'request_spec': {'volume_id': vol_id,
                                    'volume_type': {'name': 'lvmdriver-1'},
                                    'volume_properties': {'size': rng.choice((1, 10, 100)),
                                                          'project_id': req.project.id,
                                                          'user_id': req.user.id}},
                   'volume_id': vol_id, 'state': 'error', 'method': 'create_volume',
                   # ScheduleCreateVolumeTask._notify_failure: reason=<the exception>
                   'reason': catalogue.wire_exception(
                       'NoValidBackend', 'No valid backend was found. Insufficient free '
                       'virtual space (0.0GB) to accommodate thin provisioned volume.')}
        yield t, w.notif(t, 'cinder', NOTIFICATIONS, 'scheduler.' + w.cinder_host, 'ERROR',
                         'scheduler.create_volume', payload, req.ctx)
        return
    image = rng.choice(w.images) if rng.random() < 0.3 else None
    yield from create_volume(w, t, req, vol_id, 'vol-%d' % rng.randint(1, 9999),
                             rng.choice((1, 10, 20, 50, 100, 500)), image)


def volume_delete(w, t):
    req = w.request(t, service='cinder')
    vol_id = w.uuid()
    size = w.rng.choice((1, 10, 20, 50))
    created = w.ts_legacy(t - w.rng.uniform(3600, 30 * 86400))
    pub = 'volume.' + w.cinder_host
    yield t, w.notif(t, 'cinder', NOTIFICATIONS, pub, 'INFO', 'volume.delete.start',
                     volume_payload(w, vol_id, '', size, req.project, req.user, 'deleting',
                                    created), req.ctx)
    t += w.lognorm(1.5 + size / 50.0, 0.5)
    yield t, w.notif(t, 'cinder', NOTIFICATIONS, pub, 'INFO', 'volume.delete.end',
                     volume_payload(w, vol_id, '', size, req.project, req.user, 'deleted',
                                    created), req.ctx)


@on_instance(fallback=volume_create)
def volume_attach(w, t, inst, req):
    """nova attaches an existing volume to a server (versioned nova requests send their
    own start/end around cinder's; legacy nova sends one ``volume.attach``)."""
    vol_id = w.uuid()
    size = w.rng.choice((10, 20, 50, 100))
    created = w.ts_legacy(t - w.rng.uniform(60, 86400))
    v_name = ('InstanceActionVolumePayload', '1.6')
    v_extra = {'volume_id': vol_id}
    if req.versioned:
        yield t, nova_event(w, t, req, inst, 'volume_attach', 'start', v_name=v_name,
                            v_extra=v_extra)
        t += 0.2
    creq = w.sub_request(t, req, 'cinder')
    t = yield from follow(attach_volume(w, t + 0.3, creq, vol_id, size, inst, created), t)
    t += w.lognorm(0.5, 0.3)
    if req.versioned:
        yield t, nova_event(w, t, req, inst, 'volume_attach', 'end', v_name=v_name,
                            v_extra=v_extra)
    else:
        p = legacy_payload(w, inst, {'volume_id': vol_id})
        yield t, w.notif(t, 'nova', NOTIFICATIONS, 'compute.' + inst.host, 'INFO',
                         'compute.instance.volume.attach', p, req.ctx)


FLOWS = (
    FlowKind('volume_create', volume_create, 0.06),
    FlowKind('volume_delete', volume_delete, 0.04),
    FlowKind('volume_attach', volume_attach, 0.04),
)
