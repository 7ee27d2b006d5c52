"""Replay a recording as a live :class:`~collector.model.Source`: play/pause, speed, seek.

The recording's samples are cut into blocks of about ``block_s`` per strap (never across a
gap) and delivered in time order, each when the playback clock reaches its last sample. Gap
events are not replayed: the hub finds them again from the sample indices, exactly as live.
A seek first yields a ``status`` event with ``detail={"seek_s": t, "from_s": t0}`` so sinks
can drop what they hold, then the blocks from ``t0`` (``t`` minus the pre-roll) at once, then
plays on from ``t``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from collector.gaps import break_positions
from collector.model import (
    EVENT_KINDS,
    ROLES,
    Role,
    SampleBlock,
    SensorInfo,
    SourceBase,
    SourceEvent,
)

if TYPE_CHECKING:
    from collector.recording import Recording

MIN_SPEED = 0.5
MAX_SPEED = 8.0
#: Items delivered in a burst (seek pre-roll, catching up) before yielding to the event loop.
_BURST = 32


@dataclasses.dataclass(frozen=True)
class _Blocks:
    """One strap's samples and where its blocks start and end."""

    role: Role
    time_s: np.ndarray
    device_time_s: np.ndarray
    sample_index: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def block(self, k: int) -> SampleBlock:
        a, b = int(self.starts[k]), int(self.ends[k])
        return SampleBlock(
            sensor=self.role,
            time_s=self.time_s[a:b],
            device_time_s=self.device_time_s[a:b],
            acc_mps2=self.acc[a:b],
            gyro_dps=self.gyro[a:b],
            sample_index=self.sample_index[a:b],
            arrival_s=float(self.time_s[b - 1]),
        )


def _cut(role: Role, df: Any, rate_hz: float, block_s: float) -> _Blocks:
    t = df["time_s"].to_numpy(np.float64)
    idx = df["sample_index"].to_numpy(np.int64) if "sample_index" in df else np.arange(len(t))
    dev = df["device_time_s"].to_numpy(np.float64) if "device_time_s" in df else t
    acc = df[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64)
    gyro = df[["gyr_x", "gyr_y", "gyr_z"]].to_numpy(np.float64)
    n = len(t)
    per_block = max(1, round(rate_hz * block_s)) if math.isfinite(rate_hz) else 5
    cuts = set(range(0, n, per_block))
    cuts.update(break_positions(idx).tolist())  # never across a gap (or a repeat, a restart)
    starts = np.array(sorted(c for c in cuts if c < n), dtype=np.int64)
    ends = np.append(starts[1:], n).astype(np.int64)
    return _Blocks(role, t, dev, idx, acc, gyro, starts, ends)


def _sensor_info(role: Role, described: dict[str, Any] | None, rate_hz: float) -> SensorInfo:
    names = {f.name for f in dataclasses.fields(SensorInfo)}
    kw = {k: v for k, v in (described or {}).items() if k in names}
    kw["role"] = role
    kw.setdefault("kind", "recording")
    kw.setdefault("rate_hz", rate_hz)
    try:
        return SensorInfo(**kw)
    except TypeError:
        return SensorInfo(role=role, kind="recording", rate_hz=rate_hz)


class ReplaySource(SourceBase):
    """Stream a loaded :class:`~collector.recording.Recording` in (scaled) real time.

    ``speed`` is playback time per wall second (0.5–8); ``start_s`` where playback begins;
    ``playing`` whether it starts at once; with ``hold_at_end`` the stream pauses at the end
    and waits for a seek instead of ending; ``preroll_s`` of data before a seek target (and
    before ``start_s``) are delivered at once so plots show what led up to it.
    """

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float = 1.0,
        start_s: float = 0.0,
        playing: bool = True,
        hold_at_end: bool = False,
        preroll_s: float = 0.0,
        block_s: float = 0.05,
    ) -> None:
        self.recording = recording
        self.hold_at_end = hold_at_end
        self.preroll_s = max(0.0, preroll_s)
        self._speed = self._check_speed(speed)
        self._strips: list[_Blocks] = []
        self._sensors: dict[Role, SensorInfo] = {}
        for role in ROLES:
            df = recording.samples.get(role)
            if df is None or len(df) == 0:
                continue
            rate = recording.rate_hz(role) if len(df) > 1 else float("nan")
            info = _sensor_info(role, recording.sensors.get(role), rate)
            self._sensors[role] = info
            self._strips.append(_cut(role, df, info.rate_hz or rate, block_s))
        self._events = self._replayable_events(recording)
        self._due, self._ref = self._plan()
        self.duration_s = float(recording.duration_s)
        self._cursor = 0
        self._anchor_pos = 0.0
        self._anchor_wall = time.monotonic()
        self._playing = playing
        self._changed = asyncio.Event()
        self._pending: list[SourceEvent] = []
        self._entered = False
        if start_s > 0 or self.preroll_s > 0:
            self.seek(start_s)
            self._pending.clear()  # nothing to drop yet

    # -- what is in it -----------------------------------------------------------------------

    @property
    def sensors(self) -> dict[Role, SensorInfo]:
        """The straps of the recording, as they were described when it was made."""
        return dict(self._sensors)

    @staticmethod
    def _replayable_events(recording: Recording) -> list[SourceEvent]:
        out = []
        ev = recording.events
        if ev is None or len(ev) == 0:
            return out
        for t, sensor, kind, detail in ev[["time_s", "sensor", "kind", "detail"]].itertuples(
            index=False
        ):
            if kind == "gap" or kind not in EVENT_KINDS:
                continue  # the hub re-derives gaps from sample indices
            role = sensor if sensor in ROLES else None
            out.append(SourceEvent(float(t), kind, role, dict(detail or {})))
        return out

    def _plan(self) -> tuple[np.ndarray, np.ndarray]:
        """Due times of every item, sorted; refs: (-1, event k) or (strip i, block k)."""
        dues, refs, order = [], [], []
        if self._events:
            dues.append(np.array([e.time_s for e in self._events]))
            k = np.arange(len(self._events))
            refs.append(np.stack([np.full_like(k, -1), k], axis=1))
            order.append(np.zeros(len(k)))
        for i, s in enumerate(self._strips):
            dues.append(s.time_s[s.ends - 1])
            k = np.arange(len(s.starts))
            refs.append(np.stack([np.full_like(k, i), k], axis=1))
            order.append(np.full(len(k), i + 1.0))
        if not dues:
            return np.zeros(0), np.zeros((0, 2), dtype=np.int64)
        due, ref, o = np.concatenate(dues), np.concatenate(refs), np.concatenate(order)
        sort = np.lexsort((o, due))  # by time; events before blocks at the same instant
        return due[sort], ref[sort].astype(np.int64)

    def items(self, from_s: float = 0.0, to_s: float = math.inf) -> Iterator[SampleBlock]:
        """The blocks due in ``[from_s, to_s)``, in delivery order, without pacing or events."""
        a, b = np.searchsorted(self._due, [from_s, to_s], side="left")
        for j in range(int(a), int(b)):
            i, k = self._ref[j]
            if i >= 0:
                yield self._strips[i].block(int(k))

    # -- playback control ----------------------------------------------------------------------

    @staticmethod
    def _check_speed(speed: float) -> float:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValueError(f"replay speed must be {MIN_SPEED:g}–{MAX_SPEED:g}×, got {speed:g}")
        return float(speed)

    @property
    def speed(self) -> float:
        """Playback seconds per wall second."""
        return self._speed

    @property
    def playing(self) -> bool:
        """Whether the playback clock runs."""
        return self._playing

    @property
    def at_end(self) -> bool:
        """Every item has been delivered."""
        return self._cursor >= len(self._due)

    @property
    def position_s(self) -> float:
        """Current playback time (session time, s)."""
        pos = self._anchor_pos
        if self._playing:
            pos += (time.monotonic() - self._anchor_wall) * self._speed
        return min(pos, self.duration_s)

    def _reanchor(self) -> None:
        self._anchor_pos = self.position_s
        self._anchor_wall = time.monotonic()
        self._changed.set()

    def play(self) -> None:
        """Start (or resume) the playback clock; at the end, start again from the beginning."""
        if self.at_end and self.position_s >= self.duration_s:
            self.seek(0.0)
        self._reanchor()
        self._playing = True

    def pause(self) -> None:
        """Stop the playback clock where it is."""
        self._reanchor()
        self._playing = False

    def set_speed(self, speed: float) -> None:
        """Change the playback speed (0.5–8×) without jumping."""
        speed = self._check_speed(speed)
        self._reanchor()
        self._speed = speed

    def seek(self, t_s: float) -> None:
        """Jump to session time ``t_s`` (clamped to the recording); blocks from the pre-roll
        before it are delivered at once after a ``status`` event announcing the seek."""
        t = min(max(0.0, float(t_s)), self.duration_s)
        t0 = max(0.0, t - self.preroll_s)
        self._cursor = int(np.searchsorted(self._due, t0, side="left"))
        self._anchor_pos = t
        self._anchor_wall = time.monotonic()
        self._pending.append(SourceEvent(t, "status", None, {"seek_s": t, "from_s": t0}))
        self._changed.set()

    # -- the Source protocol -------------------------------------------------------------------

    async def _open(self) -> None:
        self._entered = True
        self._anchor_wall = time.monotonic()

    async def _close(self) -> None:
        self._entered = False

    async def _wait(self, timeout_s: float | None) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()
        except TimeoutError:
            pass
        self._changed.clear()

    async def _items(self) -> AsyncIterator[SampleBlock | SourceEvent]:
        if not self._entered:
            raise RuntimeError("use 'async with ReplaySource(...)' before iterating")
        burst = 0
        while True:
            if self._pending:
                yield self._pending.pop(0)
                continue
            if self.at_end:
                if not self.hold_at_end:
                    return
                if self._playing:
                    self._anchor_pos, self._playing = self.duration_s, False
                await self._wait(None)
                continue
            ahead = float(self._due[self._cursor]) - self.position_s
            if ahead > 0:  # not due yet (a paused clock waits for play or a seek)
                burst = 0
                await self._wait(ahead / self._speed if self._playing else None)
                continue
            i, k = self._ref[self._cursor]
            self._cursor += 1
            yield self._events[int(k)] if i < 0 else self._strips[int(i)].block(int(k))
            burst += 1
            if burst >= _BURST:  # let the GUI paint while a pre-roll or catch-up streams in
                burst = 0
                await asyncio.sleep(0)
