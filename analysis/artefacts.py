"""Artefact screen: samples no body segment can produce are found and bridged, never counted.

A strap that is knocked, or hit hard enough to clip at its full scale, reads for one or a few
samples an acceleration and angular rate that a seated person's shin or head cannot make: a
jump of hundreds of °/s and back within tens of milliseconds. Integrated, one such sample is
5–76° of rotation that never happened (at 25–100 Hz), enough to open a rep or to leave one that
never returns. The screen runs first in each strap's front-end, on the raw samples, and hands on
samples in which those are *bridged*: replaced by the straight line between the good samples
either side. The recording itself is never changed.

Method: a Hampel identifier [Hampel 1974; Pearson et al. 2016, "Generalized Hampel filters"]
over a centred window of ``2k + 1`` samples (``k`` = ``half_window_s`` · rate, at least 2),
applied to the gyro and accelerometer vectors: a sample is an outlier when its distance from the
window's component-wise median exceeds ``max(floor, n_mad · 1.4826 · MAD)``, MAD being the
median of the window's distances from that median. The floors (``gyro_dps``, ``acc_mps2``) are
physical: the most a body segment's rate or acceleration can differ from its own neighbours
within ±25 ms (docs/analysis.md, "Artefacts"). Independently of the window, a sample beyond the
absolute bounds (``bound_gyro_dps`` on any axis, ``bound_acc_mps2`` in magnitude) is an artefact:
it is at or near a MEMS strap's full scale. Only samples whose jump to a neighbour exceeds a
floor, or that exceed a bound, are tested, so clean data cost one difference per sample.

Streaming: a sample's verdict needs ``k`` samples after it, so the screen holds back the newest
``k`` samples (and a run of artefacts until the good sample after it arrives, for at most
``max_bridge_s``; a longer run is bridged by holding the last good sample). Every verdict
depends only on the samples in its window, so any chunking gives the same output, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.constants import g as G_MPS2  # standard gravity, for the reports in g

from analysis.vectors import row_norm, true_runs


@dataclass(frozen=True)
class ArtefactParams:
    """Thresholds of the artefact screen (docs/analysis.md, "Artefacts")."""

    half_window_s: float = 0.025  # the Hampel window reaches this far either side (≥ 2 samples)
    gyro_dps: float = 150.0  # a body segment's rate stays within this of its ±25 ms median
    acc_mps2: float = 14.7  # ... its acceleration within 1.5 g of the median
    n_mad: float = 6.0  # ... or within this many (scaled) MADs, where the window itself varies
    bound_gyro_dps: float = 1500.0  # any axis beyond this: at a MEMS gyro's full scale
    bound_acc_mps2: float = 78.5  # |acc| beyond 8 g: a hit, not a movement
    max_bridge_s: float = 0.25  # a run of artefacts longer than this holds the last good sample


@dataclass
class Artefact:
    """One run of artefact samples of one strap (raw values, before bridging)."""

    start_s: float
    end_s: float
    samples: int
    gyro_dps: float  # largest |gyro| read in the run
    acc_g: float  # largest |acc| read in the run, in g
    kind: str  # "spike" (Hampel outlier) or "beyond_bounds"


class ArtefactScreen:
    """Streaming Hampel screen and bridge for one strap's samples (rows ``t, acc, gyro``)."""

    def __init__(self, rate_hz: float, params: ArtefactParams | None = None) -> None:
        self.p = params or ArtefactParams()
        self.k = max(2, round(self.p.half_window_s * rate_hz))
        self._max_run = max(1, round(self.p.max_bridge_s * rate_hz))
        self._ctx = np.empty((0, 7))  # the last k raw rows handed on (left context)
        self._held = np.empty((0, 7))  # raw rows not yet decided
        self._last_good: np.ndarray | None = None  # raw row
        self._in_long_run = False  # the last row handed on was part of a long run (the only
        #   run a later call can continue: a shorter one is held back until it ends)
        self.artefacts: list[Artefact] = []

    @property
    def max_held(self) -> int:
        """The most rows the screen holds back undecided: the newest ``k`` and a run of
        artefacts of up to ``max_bridge_s`` waiting for the good row after it."""
        return self.k + self._max_run

    def screen(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, final: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Take new raw samples; return the decided ones ``(t, acc, gyro, artefact)``, bridged.
        ``final``: the stream has ended, decide everything held."""
        x = np.column_stack((t, acc, gyro)) if len(t) else self._held
        if len(t) and len(self._held):
            x = np.concatenate((self._held, x))
        n, k = len(x), self.k
        if n == 0:
            return _empty()
        ctx = self._ctx
        c = np.concatenate((ctx, x)) if len(ctx) else x  # (no copy of a whole recording)
        lo = len(ctx)
        ready = n if final else max(0, n - k)
        flags = self._flags(c, lo, lo + ready)
        if not final and ready and flags[-1]:
            # a run of artefacts reaching the newest decided row waits for the good row after it
            start = ready - _run_at_end(flags)
            whole = start == 0 and self._in_long_run
            if ready - start <= self._max_run and not whole:
                ready, flags = start, flags[:start]
        if ready == 0:
            self._held = x
            return _empty()
        # the next call's left context: the last k raw rows handed on (before bridging)
        self._ctx = np.concatenate((ctx, x[max(0, ready - k) : ready]))[-k:]
        self._held = x[ready:].copy()  # (a view would keep all of x alive)
        runs = true_runs(flags)
        if len(runs[0]):
            out = x[:ready].copy()
            self._record(out, runs)  # before _bridge, which says whether the last run goes on
        else:
            out = x[:ready]  # nothing to bridge: hand on the rows as they are
        self._bridge(out, flags, runs)
        return out[:, 0], out[:, 1:4], out[:, 4:7], flags

    # -- internals -----------------------------------------------------------------------------

    def _flags(self, c: np.ndarray, a: int, b: int) -> np.ndarray:
        """Artefact verdicts of rows [a, b) of ``c`` (raw rows with their context)."""
        p, k = self.p, self.k
        if b <= a:
            return np.zeros(0, dtype=bool)
        acc, gyro = c[:, 1:4], c[:, 4:7]
        ag = np.abs(gyro[a:b])
        beyond = (np.maximum(np.maximum(ag[:, 0], ag[:, 1]), ag[:, 2]) >= p.bound_gyro_dps) | (
            row_norm(acc[a:b]) >= p.bound_acc_mps2
        )
        jump = np.zeros(len(c), dtype=bool)
        big = (row_norm(np.diff(gyro, axis=0)) > p.gyro_dps) | (
            row_norm(np.diff(acc, axis=0)) > p.acc_mps2
        )
        jump[1:] |= big
        jump[:-1] |= big
        flags = beyond.copy()
        cand = np.flatnonzero(jump[a:b] & ~beyond) + a
        if len(cand):
            idx = np.clip(cand[:, None] + np.arange(-k, k + 1)[None, :], 0, len(c) - 1)
            out = np.zeros(len(cand), dtype=bool)
            for cols, floor in ((slice(4, 7), p.gyro_dps), (slice(1, 4), p.acc_mps2)):
                w = c[idx, cols]  # (K, 2k+1, 3)
                med = np.median(w, axis=1)
                r = np.sqrt(((w - med[:, None, :]) ** 2).sum(axis=2))  # (K, 2k+1)
                mad = np.median(r, axis=1)
                dev = np.sqrt(((c[cand, cols] - med) ** 2).sum(axis=1))
                out |= dev > np.maximum(floor, p.n_mad * 1.4826 * mad)
            flags[cand - a] = out
        return flags

    def _bridge(
        self, out: np.ndarray, flags: np.ndarray, runs: tuple[np.ndarray, np.ndarray]
    ) -> None:
        """Replace flagged rows of ``out`` (their ``runs``) by the line between the good rows
        either side (a run reaching the end of ``out`` only at the end of the stream: the last
        good row)."""
        starts, ends = runs
        if not len(starts):
            self._last_good = out[-1].copy()
            self._in_long_run = False
            return
        raw_last = self._last_good
        for s, e in zip(starts, ends, strict=True):
            before = out[s - 1] if s > 0 else raw_last
            nxt = out[e] if e < len(out) else None
            long_run = self._is_long(s, e)
            if before is None and nxt is None:
                continue  # nothing good seen yet: leave the run as read (flagged)
            if long_run or nxt is None:
                fill = before if before is not None else nxt
                out[s:e, 1:] = fill[1:]
            elif before is None:
                out[s:e, 1:] = nxt[1:]
            else:
                span = nxt[0] - before[0]
                f = (out[s:e, 0] - before[0]) / span if span > 0 else np.full(e - s, 0.5)
                out[s:e, 1:] = before[1:] + f[:, None] * (nxt[1:] - before[1:])
        good = np.flatnonzero(~flags)
        if len(good):
            self._last_good = out[good[-1]].copy()
        self._in_long_run = bool(flags[-1]) and self._is_long(int(starts[-1]), int(ends[-1]))

    def _is_long(self, s: int, e: int) -> bool:
        """Is the run of rows [s, e) longer than a bridge (or the rest of one that was)?"""
        return (e - s) > self._max_run or (s == 0 and self._in_long_run)

    def _record(self, raw: np.ndarray, runs: tuple[np.ndarray, np.ndarray]) -> None:
        """Add the ``runs`` of artefact rows of ``raw`` to :attr:`artefacts`."""
        starts, ends = runs
        if not len(starts):
            return
        gyro = row_norm(raw[:, 4:7])
        acc = row_norm(raw[:, 1:4])
        lim = self.p
        for s, e in zip(starts, ends, strict=True):
            beyond = bool(
                (np.abs(raw[s:e, 4:7]).max() >= lim.bound_gyro_dps)
                or (acc[s:e].max() >= lim.bound_acc_mps2)
            )
            a = Artefact(
                float(raw[s, 0]),
                float(raw[e - 1, 0]),
                int(e - s),
                float(gyro[s:e].max()),
                float(acc[s:e].max() / G_MPS2),
                "beyond_bounds" if beyond else "spike",
            )
            prev = self.artefacts[-1] if self.artefacts else None
            if s == 0 and prev is not None and self._in_long_run:  # a long run goes on
                prev.end_s, prev.samples = a.end_s, prev.samples + a.samples
                prev.gyro_dps, prev.acc_g = max(prev.gyro_dps, a.gyro_dps), max(prev.acc_g, a.acc_g)
                if beyond:
                    prev.kind = "beyond_bounds"
            else:
                self.artefacts.append(a)


def _run_at_end(flags: np.ndarray) -> int:
    """Length of the run of True at the end of ``flags``."""
    good = np.flatnonzero(~flags)
    return len(flags) - (int(good[-1]) + 1 if len(good) else 0)


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0), np.empty((0, 3)), np.empty((0, 3)), np.zeros(0, dtype=bool)
