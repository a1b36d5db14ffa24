"""glance's flows: image create (then upload, sometimes an update) and delete; and what
glance sends for nova's requests: an image download (``image.send``) and a snapshot."""
from nvs_notif.simulate.flow import FlowKind
from nvs_notif.simulate.records import NOTIFICATIONS


def image_payload(w, t, img_id, name, req, status, size=None, disk_format='qcow2',
                  deleted=False, properties=None):
    created = w.ts_v(t)
    return {'id': img_id, 'name': name, 'status': status, 'owner': req.project.id,
            'visibility': 'private', 'protected': False,
            'checksum': None if size is None else img_id.replace('-', ''),
            'os_hash_algo': 'sha512' if size else None, 'os_hash_value': None,
            'size': size, 'virtual_size': None, 'disk_format': disk_format,
            'container_format': 'bare', 'min_disk': 0, 'min_ram': 0,
            'created_at': created, 'updated_at': created, 'deleted': deleted,
            'deleted_at': created if deleted else None, 'tags': [],
            'properties': properties or {}}


def _image_event(w, t, req, event_type, payload):
    return w.notif(t, 'glance', NOTIFICATIONS, 'image.' + w.glance_host, 'INFO', event_type,
                   payload, req.ctx)


def image_send(w, t, parent, inst, img):
    """``image.send``: glance served ``img`` to ``inst``'s compute host for ``parent``."""
    req = w.sub_request(t, parent, 'glance')
    payload = {'bytes_sent': img.size, 'image_id': img.id, 'owner_id': img.owner,
               'receiver_tenant_id': parent.project.id,
               'receiver_user_id': parent.user.id,
               'destination_ip': '172.16.0.%d' % (w.computes.index(inst.host) + 11)}
    return _image_event(w, t, req, 'image.send', payload)


def snapshot_upload(w, t, parent, inst, img_id):
    """nova's snapshot of ``inst`` as glance sees it: image ``img_id`` created, uploaded."""
    rng = w.rng
    req = w.sub_request(t, parent, 'glance')
    name = '%s-snap-%d' % (inst.name, rng.randint(1, 99))
    t += w.lognorm(0.3, 0.3)
    yield t, _image_event(w, t, req, 'image.create',
                          image_payload(w, t, img_id, name, req, 'queued'))
    size = int(inst.flavor.root_gb * rng.uniform(0.05, 0.5) * 2 ** 30)
    t += size / rng.uniform(80e6, 200e6) + w.lognorm(3.0, 0.4)
    yield t, _image_event(w, t, req, 'image.upload',
                          image_payload(w, t, img_id, name, req, 'active', size,
                                        properties={'instance_uuid': inst.uuid,
                                                    'image_type': 'snapshot'}))


def image_create(w, t):
    rng = w.rng
    req = w.request(t, service='glance')
    img_id = w.uuid()
    name = rng.choice(('ubuntu-custom', 'app-golden', 'base-hardened', 'ci-runner'))
    fmt = rng.choice(('qcow2', 'raw'))
    yield t, _image_event(w, t, req, 'image.create',
                          image_payload(w, t, img_id, name, req, 'queued', None, fmt))
    size = rng.randint(20, 4000) * 2 ** 20
    t += size / rng.uniform(50e6, 200e6) + w.lognorm(1.0, 0.4)
    yield t, _image_event(w, t, req, 'image.upload',
                          image_payload(w, t, img_id, name, req, 'active', size, fmt))
    if rng.random() < 0.4:
        t += rng.uniform(1, 30)
        ureq = w.request(t, req.user, service='glance')
        yield t, _image_event(w, t, ureq, 'image.update',
                              image_payload(w, t, img_id, name, ureq, 'active', size, fmt,
                                            properties={'os_distro': 'ubuntu',
                                                        'hw_qemu_guest_agent': 'yes'}))


def image_delete(w, t):
    req = w.request(t, service='glance')
    yield t, _image_event(w, t, req, 'image.delete',
                          image_payload(w, t, w.uuid(), 'old-image', req, 'deleted',
                                        w.rng.randint(20, 4000) * 2 ** 20, deleted=True))


FLOWS = (
    FlowKind('image_create', image_create, 0.04),
    FlowKind('image_delete', image_delete, 0.02),
)
