"""The event engine: runs every flow and periodic source of a world in timestamp order.

* a flow or source is a generator yielding ``(sim_seconds, item)`` with increasing times;
  an item is a :class:`~nvs_notif.simulate.records.SimulatedNotification`, a new flow
  generator to start, or ``None`` (a periodic source waking up with nothing to say);
* the engine keeps one pending item per live generator in a heap, so memory is
  proportional to the number of concurrent flows (bounded), never to ``count``;
* user requests arrive as a Poisson process of rate ``SimConfig.rate``, their kinds drawn
  by the weights of ``SimConfig.mix``; a fraction ``hung_ratio`` of them hang;
* all randomness comes from the world's one generator, consumed in heap order, so the
  same configuration always produces the same stream.
"""
import heapq

from nvs_notif.simulate import periodic
from nvs_notif.simulate.records import SimulatedNotification


def run(count, world, flows):
    """Yield the first ``count`` notifications of ``world``; ``flows``: kind -> FlowKind."""
    if count == 0:
        return
    heap = []
    seq = 0
    sources = [arrivals(world, flows)] + periodic.sources(world)
    for src in sources:
        t, item = next(src)
        heap.append((t, seq, src, item))
        seq += 1
    heapq.heapify(heap)
    heappop, heappush = heapq.heappop, heapq.heappush
    notif_cls = SimulatedNotification
    n = 0
    while heap:
        t, _, gen, item = heappop(heap)
        if item.__class__ is notif_cls:
            yield item
            n += 1
            if n >= count:
                return
        elif item is not None:                  # a new flow starts now
            first = next(item, None)
            if first is not None:
                heappush(heap, (first[0], seq, item, first[1]))
                seq += 1
        nxt = next(gen, None)
        if nxt is not None:
            heappush(heap, (nxt[0], seq, gen, nxt[1]))
            seq += 1


def arrivals(world, flows):
    """The users' requests: a new flow (some of them hung) at each Poisson arrival."""
    config = world.config
    rng = world.rng
    kinds = list(config.mix)
    total = float(sum(config.mix.values()))
    acc, cum = 0.0, []
    for k in kinds:
        acc += config.mix[k] / total
        cum.append(acc)
    cum[-1] = 1.0
    starts = {k: flows[k].start for k in kinds}
    rate = config.rate
    hung = config.hung_ratio
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        r = rng.random()
        for i, c in enumerate(cum):
            if r <= c:
                break
        flow = starts[kinds[i]](world, t)
        if hung and rng.random() < hung:
            flow = hang(flow, rng.choice((1, 1, 2, 2, 3)))
        yield t, flow


def hang(flow, after):
    """Pass a flow through until its ``after``-th '.start' notification, then stop for good:
    the process handling the request is alive but hung, nothing else is ever sent."""
    seen = 0
    for item in flow:
        yield item
        n = item[1]
        if n.event_type.endswith('.start'):
            seen += 1
            if seen >= after:
                return
    # a flow with fewer starts than ``after`` simply completes
