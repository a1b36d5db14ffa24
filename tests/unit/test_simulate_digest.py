"""The simulated cloud is pinned: the same seeds give the same notifications.

The demo, the benchmarks and most tests read this stream, so a change to it must be
deliberate. The digests cover every field of every notification in order, with the
payloads' key order. Update them only on purpose, and say why in the commit."""
import hashlib
import json

from nvs_notif import simulate as sim

#: simulate(20000, seed=0) with the default cloud.
DEFAULT_DIGEST = 'd8af688763c5dbe0d2b75d2c423106a14557776b9376e7db9c4fd2a59cc5ea8a'
#: A small, busy cloud: many failures, reschedules, hangs, maintenance windows.
STRESSED = dict(seed=7, error_ratio=0.5, reschedule_ratio=0.5, versioned_ratio=0.5,
                hung_ratio=0.1, boot_from_volume_ratio=0.5, maintenance_interval=120.0,
                audit_interval=600.0, hosts=3, max_instances=20)
STRESSED_DIGEST = 'd8e386a19e83823b326f87dc37d29e272ec34f10f1e93267b82a093399093aba'


def _digest(notifications):
    h = hashlib.sha256()
    for n in notifications:
        h.update(json.dumps([n.exchange, n.topic, n.to_message()]).encode())
    return h.hexdigest()


def test_default_cloud_is_pinned():
    assert _digest(sim.simulate(20000, seed=0)) == DEFAULT_DIGEST


def test_stressed_cloud_is_pinned():
    assert _digest(sim.simulate(5000, **STRESSED)) == STRESSED_DIGEST
