"""The hub: gaps from sequence numbers, fan-out to sinks, ticks, and the simulated source."""

import asyncio

import numpy as np
import pytest

from collector.hub import GapTracker, Hub
from collector.model import SampleBlock, SourceEvent
from collector.simulator import SimulatedSource
from tests.conftest import cached_session


def _block(idx, sensor="shin", rate=100.0):
    idx = np.asarray(idx)
    t = idx / rate
    return SampleBlock(sensor, t, t, np.zeros((len(idx), 3)), np.zeros((len(idx), 3)), idx)


def test_gaps_between_and_inside_blocks_are_counted():
    g = GapTracker()
    assert g.observe(_block([0, 1, 2])) == []
    ev = g.observe(_block([6, 7, 9]))  # 3,4,5 lost between blocks; 8 lost inside
    assert [(e.kind, e.detail["lost"]) for e in ev] == [("gap", 3), ("gap", 1)]
    assert ev[0].time_s == pytest.approx(0.02) and ev[0].detail["until_s"] == pytest.approx(0.06)
    st = g.stats["shin"]
    assert (st.samples, st.gaps, st.lost_samples) == (6, 2, 4)
    assert st.loss_fraction == pytest.approx(0.4)
    assert st.rate_hz == pytest.approx(100.0)
    assert g.observe(_block([10], sensor="head")) == []  # each strap counts on its own


class Collect:
    def __init__(self):
        self.items, self.ticks = [], 0

    def on_block(self, b):
        self.items.append(b)

    def on_event(self, e):
        self.items.append(e)

    def tick(self):
        self.ticks += 1


def test_hub_passes_everything_in_order_with_gap_events_first():
    s = cached_session(seed=4, sets=1, reps_per_set=2, loss=0.1, outages=1)
    sink = Collect()

    async def run():
        async with SimulatedSource(s, speed=float("inf")) as src:
            hub = Hub(src, [sink])
            await hub.run()
            return hub

    hub = asyncio.run(run())
    blocks = [i for i in sink.items if isinstance(i, SampleBlock)]
    assert len(blocks) == sum(int(st.packet_kept.sum()) for st in s.streams.values())
    arrivals = [b.arrival_s for b in blocks]
    assert arrivals == sorted(arrivals)
    for role, st in s.streams.items():
        lost = int((~st.kept).sum())
        gaps = [
            i
            for i in sink.items
            if isinstance(i, SourceEvent) and i.kind == "gap" and i.sensor == role
        ]
        assert sum(e.detail["lost"] for e in gaps) == hub.stats[role].lost_samples
        # losses at the very end of a stream are invisible until a later sample arrives
        assert lost - 10 <= hub.stats[role].lost_samples <= lost
        for e in gaps:  # each gap event comes right before the block that revealed it
            nxt = sink.items[sink.items.index(e) + 1]
            assert isinstance(nxt, (SampleBlock, SourceEvent)) and nxt.sensor == role
    kinds = [i.kind for i in sink.items if isinstance(i, SourceEvent)]
    assert kinds.count("disconnected") == 1
    assert sink.ticks >= 1


def test_simulated_source_paces_in_real_time():
    s = cached_session(seed=4, sets=1, reps_per_set=2, loss=0.1, outages=1)

    async def first_second(speed):
        loop = asyncio.get_running_loop()
        got = []
        async with SimulatedSource(s, speed=speed) as src:
            t0 = loop.time()
            async for item in src:
                if isinstance(item, SampleBlock):
                    got.append((loop.time() - t0, item.arrival_s))
                    if item.arrival_s > 1.0:
                        break
        return got

    got = asyncio.run(first_second(4.0))
    wall, arrival = np.array(got).T
    # items are not delivered before their (scaled) arrival time
    assert (wall >= arrival / 4.0 - 1e-3).all()
    assert wall[-1] >= 0.25


def test_source_must_be_entered_before_iterating():
    s = cached_session(seed=4, sets=1, reps_per_set=2, loss=0.1, outages=1)

    async def bad():
        async for _ in SimulatedSource(s):
            pass

    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(bad())
