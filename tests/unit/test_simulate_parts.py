"""The parts of nvs_notif.simulate: configuration, registry, the instance opening."""
import dataclasses
import datetime

import pytest

from nvs_notif import simulate as sim
from nvs_notif.simulate import flow, flows, world


@pytest.mark.parametrize('bad', [
    {'hosts': 0}, {'controllers': 0}, {'rate': 0}, {'audit_interval': -1},
    {'error_ratio': 1.5}, {'hung_ratio': -0.1}, {'mix': {'no_such_flow': 1}}, {'mix': {}},
    {'start': datetime.datetime(2024, 1, 1)},
])
def test_config_refuses_bad_values_when_made(bad):
    with pytest.raises(ValueError):
        sim.SimConfig(**bad)


def test_config_normalises_once():
    start = datetime.datetime(2030, 1, 1, 9, tzinfo=datetime.timezone(
        datetime.timedelta(hours=1)))
    config = sim.SimConfig(start=start, hosts=3, mix={'keystone_auth': 2, 'heat_stack': 0})
    assert config.start.utcoffset() == datetime.timedelta(0) and config.start == start
    assert config.max_instances == 64 * 3
    assert config.mix == {'keystone_auth': 2.0}            # zero weights dropped
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hosts = 4


def test_config_object_or_fields_give_the_same_stream():
    by_fields = [n.to_message() for n in sim.simulate(300, seed=5, hosts=3)]
    by_config = [n.to_message() for n in sim.simulate(300, sim.SimConfig(seed=5, hosts=3))]
    assert by_fields == by_config
    with pytest.raises(TypeError):
        sim.simulate(10, sim.SimConfig(), seed=1)


def test_registry_lists_every_service_module_in_mix_order():
    assert list(sim.DEFAULT_MIX) == list(sim.FLOW_KINDS) == list(flows.FLOWS)
    modules = {kind.start.__module__.rsplit('.', 1)[-1] for kind in flows.FLOWS.values()}
    assert modules == {'nova', 'cinder', 'glance', 'neutron', 'keystone', 'heat'}


def _world(**fields):
    return world.World(sim.SimConfig(**fields))


def test_on_instance_acts_on_an_idle_instance_and_releases_it():
    w = _world(instances_per_host=1, hosts=2)
    seen = []

    @flow.on_instance(fallback=None)
    def touch(w, t, inst, req):
        seen.append((inst, inst.busy, req.user))
        yield t, None

    assert len(list(touch(w, 0.0))) == 1
    inst, busy, user = seen[0]
    assert busy and user is inst.user and not inst.busy


def test_on_instance_falls_back_when_no_instance_is_idle():
    w = _world(instances_per_host=0)

    def fallback(w, t):
        yield t, 'fallback'

    @flow.on_instance(fallback=fallback)
    def never(w, t, inst, req):
        raise AssertionError('no instance to act on')

    assert list(never(w, 1.0)) == [(1.0, 'fallback')]


def test_follow_returns_the_last_time():
    def sub():
        yield 2.0, 'a'
        yield 3.5, 'b'

    def outer():
        t = yield from flow.follow(sub(), 1.0)
        yield t, 'after'
        t = yield from flow.follow(iter(()), t)
        yield t, 'unchanged'

    assert list(outer()) == [(2.0, 'a'), (3.5, 'b'), (3.5, 'after'), (3.5, 'unchanged')]


def test_ending_at_moves_the_same_cloud_in_time():
    end = datetime.datetime(2031, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
    base = list(sim.simulate(400, seed=2))
    moved = list(sim.ending_at(400, end, seed=2))
    assert moved[-1].timestamp == end
    shift = end - base[-1].timestamp
    assert [n.message_id for n in moved] == [n.message_id for n in base]
    assert all(m.timestamp - b.timestamp == shift for m, b in zip(moved, base))
    assert [n.event_type for n in moved] == [n.event_type for n in base]
    with pytest.raises(ValueError):
        sim.ending_at(10, datetime.datetime(2031, 1, 1))
