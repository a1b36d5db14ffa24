"""What a request flow is, and the pieces flows share.

A flow is a generator function ``flow(w, t)`` of the :class:`~nvs_notif.simulate.world.World`
``w`` and the simulated second ``t`` it starts at. It yields ``(t, notification)`` pairs with
times that never decrease, drawing every random value from ``w.rng`` as it goes. Nothing
runs before the engine first advances it (the order of random draws is the order the
engine runs flows in, which is what keeps a seed's stream the same).

A service's module lists its flows in ``FLOWS`` as :class:`FlowKind` entries;
``nvs_notif.simulate.flows`` registers the modules."""
import dataclasses
import functools
import typing


@dataclasses.dataclass(frozen=True)
class FlowKind:
    """One kind of user request the simulated cloud serves."""
    #: The name used in ``mix`` (``SimConfig.mix``), e.g. ``server_create``.
    name: str
    #: The flow: ``start(w, t)`` -> generator of ``(t, notification)``.
    start: typing.Callable
    #: Its share of the requests by default (``DEFAULT_MIX``); relative to the others.
    weight: float


def on_instance(fallback):
    """Make ``flow(w, t, inst, req)`` a flow acting on an existing instance.

    The flow gets an idle instance (marked busy, released when the flow ends unless it
    deleted the instance) and a new request of the instance's user; when no instance is
    idle, ``fallback(w, t)`` runs instead (e.g. a server create). A hung flow never ends,
    so its instance stays busy, as a server stuck in a task state does."""
    def wrap(flow):
        @functools.wraps(flow)
        def start(w, t):
            inst = w.pick_instance()
            if inst is None:
                yield from fallback(w, t)
                return
            yield from flow(w, t, inst, w.request(t, inst.user))
            # A deleted server stays busy: an audit already under way skips it.
            if inst.state != 'deleted':
                inst.busy = False
        return start
    return wrap


def follow(flow, t):
    """Pass a sub-request's ``(t, notification)`` pairs on; return the time of the last
    one (``t`` if it sent none). Use: ``t = yield from follow(sub_flow, t)``."""
    for item in flow:
        t = item[0]
        yield item
    return t
