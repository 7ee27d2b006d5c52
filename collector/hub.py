"""The hub: reads one source and hands every block and event to its sinks, finding gaps on the way.

Sinks (recorder, online analyzer, GUI buffers, status line) are plain objects with
``on_block(block)`` and ``on_event(event)`` and, optionally, ``tick()``, called about every
``tick_s`` even when no data arrive (so a recorder commits and a status line updates while a
strap is silent). They run on the event loop and must be quick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from collector.gaps import find_gaps, rate_over_span_hz
from collector.model import Role, SampleBlock, Source, SourceEvent

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Something that consumes the hub's stream."""

    def on_block(self, block: SampleBlock) -> None: ...

    def on_event(self, event: SourceEvent) -> None: ...


@dataclass
class SensorStats:
    """Running counts for one strap."""

    samples: int = 0
    blocks: int = 0
    gaps: int = 0
    lost_samples: int = 0
    first_time_s: float = float("nan")
    last_time_s: float = float("nan")
    last_index: int | None = None
    connected: bool = False

    @property
    def loss_fraction(self) -> float:
        """Lost over expected samples (0–1)."""
        total = self.samples + self.lost_samples
        return self.lost_samples / total if total else 0.0

    @property
    def rate_hz(self) -> float:
        """Samples received plus lost per second of session time spanned."""
        # one sample spans no time, so a positive span implies at least one period
        periods = self.samples + self.lost_samples - 1
        return rate_over_span_hz(periods, self.last_time_s - self.first_time_s)


class GapTracker:
    """Finds missing samples from sequence numbers and keeps :class:`SensorStats` per strap."""

    def __init__(self) -> None:
        self.stats: dict[Role, SensorStats] = {}

    def observe(self, block: SampleBlock) -> list[SourceEvent]:
        """Update the counts with ``block``; return a ``gap`` event for each jump in its indices."""
        st = self.stats.setdefault(block.sensor, SensorStats())
        if len(block) == 0:
            return []
        # compare across the boundary with the previous block too
        previous = None if st.last_index is None else (st.last_index, st.last_time_s)
        gaps = find_gaps(block.sample_index, block.time_s, previous)
        events = []
        for n_lost, t, until in zip(gaps.lost, gaps.time_s, gaps.until_s, strict=True):
            lost = int(n_lost)
            st.gaps += 1
            st.lost_samples += lost
            detail = {"lost": lost, "until_s": float(until)}
            events.append(SourceEvent(float(t), "gap", block.sensor, detail))
        if st.samples == 0:
            st.first_time_s = float(block.time_s[0])
        st.samples += len(block)
        st.blocks += 1
        st.last_index = int(block.sample_index[-1])
        st.last_time_s = float(block.time_s[-1])
        return events


class Dispatcher:
    """Fan items out to sinks, finding gaps on the way: what the hub does with each item, also
    usable without a source (the batch writer feeds a whole stream through it).

    With ``log_gaps`` each gap is logged (the live hub); a batch writer stays quiet.
    """

    def __init__(self, sinks: Iterable[Sink] = (), *, log_gaps: bool = False) -> None:
        self.sinks: list[Sink] = list(sinks)
        self.tracker = GapTracker()
        self.log_gaps = log_gaps

    @property
    def stats(self) -> dict[Role, SensorStats]:
        return self.tracker.stats

    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Stop handing items to ``sink`` (e.g. a recorder stopped while the session goes on)."""
        if sink in self.sinks:
            self.sinks.remove(sink)

    def reset_stats(self) -> None:
        """Forget counts and sequence numbers, keeping connection states (a replay that seeks)."""
        for role, st in self.tracker.stats.items():
            self.tracker.stats[role] = SensorStats(connected=st.connected)

    def dispatch(self, item: SampleBlock | SourceEvent) -> None:
        """Hand one item to every sink (gap events first, before the block that reveals them)."""
        if isinstance(item, SampleBlock):
            for gap in self.tracker.observe(item):
                if self.log_gaps:
                    d = gap.detail
                    log.info(
                        "%s: %d samples lost before t=%.3f s", gap.sensor, d["lost"], d["until_s"]
                    )
                for s in self.sinks:
                    s.on_event(gap)
            for s in self.sinks:
                s.on_block(item)
        else:
            st = self.tracker.stats.setdefault(item.sensor, SensorStats()) if item.sensor else None
            if st is not None and item.kind in ("connected", "disconnected"):
                st.connected = item.kind == "connected"
            for s in self.sinks:
                s.on_event(item)

    def tick(self) -> None:
        for s in self.sinks:
            tick = getattr(s, "tick", None)
            if tick is not None:
                tick()


class Hub(Dispatcher):
    """Run a source and fan its items out to sinks."""

    def __init__(self, source: Source, sinks: Iterable[Sink] = (), tick_s: float = 0.1) -> None:
        super().__init__(sinks, log_gaps=True)
        self.source = source
        self.tick_s = tick_s
        self.started_monotonic: float | None = None

    async def run(self, duration_s: float | None = None) -> None:
        """Consume the (entered) source until it ends or ``duration_s`` of wall time pass."""
        self.started_monotonic = time.monotonic()
        ticker = asyncio.create_task(self._tick_forever())
        try:
            async with asyncio.timeout(duration_s):
                async for item in self.source:
                    self.dispatch(item)
        except TimeoutError:
            log.info("stopped after %.1f s", duration_s)
        finally:
            ticker.cancel()
            self.tick()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()
