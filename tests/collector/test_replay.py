"""ReplaySource: a recording streamed back as a Source, with play/pause, speed and seek."""

import asyncio
import time

import numpy as np
import pytest

from collector.hub import Hub
from collector.model import SampleBlock, Source, SourceEvent
from collector.recording import load_recording, write_blocks
from collector.replay import ReplaySource
from tests.conftest import cached_session


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    s = cached_session(seed=3, sets=1, reps_per_set=1, rate_hz=50.0, loss=0.05, outages=1)
    path = tmp_path_factory.mktemp("replay") / "r.flossrec"
    items = [item for _, item in s.timeline()]
    items.insert(40, SourceEvent(1.0, "marker", None, {"text": "start"}))
    write_blocks(path, items, s.sensors, {"participant": "p1"})
    return load_recording(path)


class Collect:
    def __init__(self):
        self.items = []

    def on_block(self, b):
        self.items.append(b)

    def on_event(self, e):
        self.items.append(e)

    def blocks(self, role=None):
        return [i for i in self.items if isinstance(i, SampleBlock) and role in (None, i.sensor)]

    def events(self, kind):
        return [i for i in self.items if isinstance(i, SourceEvent) and i.kind == kind]


def test_blocks_cover_the_recording_exactly_and_never_span_a_gap(recording):
    src = ReplaySource(recording)
    assert isinstance(src, Source)
    assert set(src.sensors) == {"shin", "head"}
    assert src.sensors["shin"].rate_hz == 50.0 and src.sensors["shin"].name == "SIM-SHIN"
    blocks = list(src.items())
    ends = [b.time_s[-1] for b in blocks]
    assert ends == sorted(ends)
    for role in ("shin", "head"):
        mine = [b for b in blocks if b.sensor == role]
        df = recording.samples[role]
        assert np.array_equal(np.concatenate([b.time_s for b in mine]), df["time_s"].to_numpy())
        acc = np.concatenate([b.acc_mps2 for b in mine])
        assert np.array_equal(acc[:, 2], df["acc_z"].to_numpy())
        for b in mine:
            assert np.all(np.diff(b.sample_index) == 1)
            assert len(b) <= 3  # 0.05 s at 50 Hz, rounded up


def test_hub_over_a_replay_finds_the_same_gaps_and_replays_events(recording):
    every = Collect()

    async def run(src, sink):
        async with src:
            hub = Hub(src, [sink])
            await hub.run()
        return hub

    # starting at the end with the whole recording as pre-roll delivers everything at once
    d = recording.duration_s
    t = time.monotonic()
    hub = asyncio.run(run(ReplaySource(recording, start_s=d, preroll_s=d), every))
    assert time.monotonic() - t < 1.0
    for role in ("shin", "head"):
        gaps = recording.gaps(role)
        assert hub.stats[role].gaps == len(gaps) > 0
        assert hub.stats[role].lost_samples == int(gaps["lost"].sum())
        assert hub.stats[role].samples == len(recording.samples[role])
    assert [e.detail["text"] for e in every.events("marker")] == ["start"]
    assert len(every.events("disconnected")) == 1
    assert not every.events("status")  # the initial seek is not announced

    tail = Collect()
    asyncio.run(run(ReplaySource(recording, speed=8.0, start_s=d - 1.5), tail))
    assert tail.blocks()[0].time_s[-1] >= d - 1.5
    assert tail.blocks()[-1].time_s[-1] == pytest.approx(d, abs=0.1)


@pytest.fixture(scope="module")
def clean_recording(tmp_path_factory):
    s = cached_session(seed=3, sets=1, reps_per_set=1, rate_hz=50.0)
    path = tmp_path_factory.mktemp("replay") / "clean.flossrec"
    write_blocks(path, (item for _, item in s.timeline()), s.sensors)
    return load_recording(path)


def test_paces_at_speed_and_pauses(clean_recording):
    async def run():
        src = ReplaySource(clean_recording, speed=4.0, start_s=5.0, hold_at_end=True)
        got = []
        async with src:

            async def consume():
                async for item in src:
                    if isinstance(item, SampleBlock):
                        got.append(float(item.time_s[-1]))

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.5)
            src.pause()
            paused_at, n_paused = src.position_s, len(got)
            await asyncio.sleep(0.3)
            still = src.position_s, len(got)
            src.set_speed(8.0)
            src.play()
            await asyncio.sleep(0.25)
            task.cancel()
        return got, paused_at, n_paused, still

    got, paused_at, n_paused, still = asyncio.run(run())
    assert got[0] == pytest.approx(5.0, abs=0.05)
    assert paused_at == pytest.approx(5.0 + 0.5 * 4.0, abs=0.15)
    assert still[0] == paused_at and still[1] <= n_paused + 1
    assert got[-1] == pytest.approx(paused_at + 0.25 * 8.0, abs=0.3)
    assert got == sorted(got)


def test_seek_announces_itself_then_delivers_the_preroll_at_once(recording):
    async def run():
        src = ReplaySource(recording, speed=1.0, playing=False, preroll_s=2.0, hold_at_end=True)
        got = []
        async with src:

            async def consume():
                async for item in src:
                    got.append(item)

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.05)
            before = list(got)  # paused at 0: only what is due at t=0
            src.seek(10.0)
            await asyncio.sleep(0.1)
            task.cancel()
        return before, got

    before, got = asyncio.run(run())
    assert all(not isinstance(i, SampleBlock) or i.time_s[-1] <= 0.05 for i in before)
    seek = [i for i in got if isinstance(i, SourceEvent) and i.kind == "status"]
    assert seek and seek[0].detail == {"seek_s": 10.0, "from_s": 8.0}
    after = got[got.index(seek[0]) + 1 :]
    blocks = [i for i in after if isinstance(i, SampleBlock)]
    assert blocks, "the pre-roll arrives although the clock is paused"
    assert min(b.time_s[-1] for b in blocks) >= 8.0
    assert max(b.time_s[-1] for b in blocks) <= 10.0


def test_speed_outside_half_to_eight_is_refused(recording):
    with pytest.raises(ValueError, match=r"0\.5–8×"):
        ReplaySource(recording, speed=10)
    src = ReplaySource(recording)
    with pytest.raises(ValueError):
        src.set_speed(0.25)
    src.set_speed(0.5)
    assert src.speed == 0.5


def test_play_at_the_end_starts_again(recording):
    src = ReplaySource(recording, playing=False)
    src.seek(recording.duration_s)
    src._cursor = len(src._due)  # everything delivered
    src.play()
    assert src.position_s < 0.1 and src.playing
