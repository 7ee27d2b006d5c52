"""Jolts: the chair or the floor knocked, seen by both straps at once.

A bump of the chair (someone knocks into it, the patient drops back onto the seat) shakes the
whole body for a few tens of milliseconds: the shin and the head, which no muscle moves
together that fast, both read an acceleration that departs from their own motion by a
fraction of a g or more, at the same moment. A body segment's acceleration during the
exercise changes smoothly: within ±``half_window_s`` it stays within a few tenths of a m/s² of
its running median (the simulated glides, look-ups and fidgets of every variety: ≤ 0.3 m/s²,
docs/analysis.md, "Artefacts"); a jolt of ≤ 80 ms fills less than half of that window, so the
median ignores it and the deviation is the jolt itself.

A *jolt* is a run of shin samples whose acceleration lies more than ``acc_mps2`` from the
centred median of ±``half_window_s`` of its samples [a median filter's residual, as in the
Hampel identifier: Pearson et al. 2016], with a head sample doing the same within ±``pair_s``.
Unlike a knock (one strap, caught and bridged by :mod:`analysis.artefacts`), a jolt is what
the straps really felt, so it is reported (an ``artefact`` event of type ``jolt``, counted in
the rep's ``artefacts``) but not bridged: it neither opens a rep nor breaks one (fault
matrix, docs/accuracy.md). A jolt shorter than the sample period cannot be seen in the
samples (at 25–50 Hz most are not); the single-strap screen still catches those whose rate
jumps are impossible.

Streaming: a sample's deviation needs ``half_window_s`` of samples after it, and a run needs
``pair_s`` after its end on both straps, so a jolt is decided (``final_s``) at a data time
that depends only on the samples: any chunking finds the same jolts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.constants import g as G_MPS2
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from analysis.frontend import StrapFrontEnd
from analysis.vectors import row_norm


@dataclass(frozen=True)
class JoltParams:
    """Thresholds of the jolt finder (docs/analysis.md, "Artefacts")."""

    half_window_s: float = 0.1  # the median reaches this far either side: a jolt (30–80 ms)
    #   fills less than half of it, a body segment's own acceleration barely changes within it
    acc_mps2: float = 2.94  # 0.3 g from the median: ten times the most a simulated movement
    #   departs from it, a third of the weakest bump the straps feel at 100 Hz
    pair_s: float = 0.05  # shin and head deviate within this of each other: one jolt


@dataclass
class Jolt:
    """One jolt felt by both straps (session times, s)."""

    start_s: float
    end_s: float
    samples: int  # shin samples beyond the threshold
    acc_g: float  # largest deviation from the median on the shin, in g
    head_acc_g: float  # ... on the head
    final_s: float  # end + pair_s: decided once both straps' deviations reach past it


class _Deviation:
    """One strap's acceleration deviation from its centred median, row by row as the window
    completes (only the flagged rows are kept)."""

    def __init__(self, fe: StrapFrontEnd, p: JoltParams) -> None:
        self.fe = fe
        self.k = max(1, round(p.half_window_s * fe.rate))
        self.limit = p.acc_mps2
        self.cursor = 0  # global row: deviations decided below it
        self.t = np.empty(0)  # flagged rows' times ...
        self.dev = np.empty(0)  # ... and deviations (m/s²), not yet consumed

    def advance(self, final: bool) -> float:
        """Decide the rows whose window is complete; return the time they reach."""
        cols = self.fe.cols
        assert cols is not None
        k, end = self.k, cols.end
        stop = end if final else end - k
        c = max(self.cursor, cols.base)
        if stop > c:
            lo = max(c - k, cols.base)
            acc = cols.get("acc", lo, min(stop + k, end))
            rows, dev = _deviations(acc, k, c - lo, stop - lo, self.limit)
            hit = dev > self.limit
            if hit.any():
                self.t = np.concatenate((self.t, cols.get("t", lo, stop)[rows[hit]]))
                self.dev = np.concatenate((self.dev, dev[hit]))
            self.cursor = stop
        cols = self.fe.cols
        i = self.cursor - 1
        return float(cols.at("t", i)) if i >= cols.base else -np.inf

    def reach_at(self, end: int) -> float:
        """Time of the last row decided (not at the end of the stream) once the front-end held
        the rows below ``end``."""
        cols = self.fe.cols
        assert cols is not None
        i = end - 1 - self.k
        return float(cols.at("t", i)) if i >= cols.base else -np.inf

    def drop(self, before_s: float) -> None:
        keep = self.t >= before_s
        self.t, self.dev = self.t[keep], self.dev[keep]


def _deviations(
    acc: np.ndarray, k: int, a: int, b: int, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distance of rows [a, b) of ``acc`` from the component-wise median of the ``2k + 1``
    rows around each (clipped at the ends), for the rows where it can exceed ``limit``: a row
    is that far from the median only if some component's range over the window exceeds
    ``limit``/√3, so the medians (the costly part) are taken only there."""
    n = len(acc)
    size = 2 * k + 1
    spread = maximum_filter1d(acc, size, axis=0, mode="nearest")
    spread -= minimum_filter1d(acc, size, axis=0, mode="nearest")
    cut = limit / np.sqrt(3.0)
    s = spread[a:b]
    rows = np.flatnonzero((s[:, 0] > cut) | (s[:, 1] > cut) | (s[:, 2] > cut)) + a
    if not len(rows):
        return rows, np.empty(0)
    idx = np.clip(rows[:, None] + np.arange(-k, k + 1)[None, :], 0, n - 1)
    med = np.median(acc[idx], axis=1)
    return rows, row_norm(acc[rows] - med)


class JoltFinder:
    """Finds jolts in a shin and a head strap's front-end columns as they grow."""

    def __init__(self, shin: StrapFrontEnd, head: StrapFrontEnd, params: JoltParams | None = None):
        self.p = params or JoltParams()
        self.fe = {"shin": shin, "head": head}
        self._dev: dict[str, _Deviation] = {}
        self._done_s = -np.inf  # shin flags before this are consumed
        self.jolts: list[Jolt] = []

    def advance(self, final: bool = False) -> list[Jolt]:
        """Decide what the data so far allows; return the new jolts."""
        for role, fe in self.fe.items():
            if role not in self._dev:
                if fe.cols is None or fe.rate_hz is None:
                    return []
                self._dev[role] = _Deviation(fe, self.p)
        reach = min(d.advance(final) for d in self._dev.values())
        pair = self.p.pair_s
        shin, head = self._dev["shin"], self._dev["head"]
        ts, ds, th, dh = shin.t, shin.dev, head.t, head.dev
        new: list[Jolt] = []
        done = reach - pair if not final else np.inf  # no run can start before this any more
        if len(ts):
            split = np.flatnonzero(np.diff(ts) > pair)
            for a, b in zip(np.r_[0, split + 1], np.r_[split, len(ts) - 1], strict=True):
                t0, t1 = float(ts[a]), float(ts[b])
                if not final and t1 + pair >= reach:
                    done = t0  # may go on, or its head partner is not decided yet
                    break
                near = (th >= t0 - pair) & (th <= t1 + pair)
                if near.any() and not self._screened(t0 - pair, t1 + pair):
                    acc_g = float(ds[a : b + 1].max() / G_MPS2)
                    head_g = float(dh[near].max() / G_MPS2)
                    new.append(Jolt(t0, t1, int(b - a + 1), acc_g, head_g, t1 + pair))
        self._done_s = max(self._done_s, done)
        shin.drop(self._done_s)
        head.drop(self._done_s - pair)
        self.jolts += new
        return new

    def _screened(self, a: float, b: float) -> bool:
        """Has the single-strap screen already reported (and bridged) samples within [a, b]?"""
        return any(x.start_s <= b and x.end_s >= a for fe in self.fe.values() for x in fe.artefacts)

    def decided_by(self, t_s: float) -> list[Jolt]:
        """The jolts the finder had decided once both straps' data reached ``t_s`` (whatever
        more it has seen since), so a rep decided at ``t_s`` counts the same ones live and
        offline."""
        reach = np.inf
        for d in self._dev.values():
            cols = d.fe.cols
            assert cols is not None
            end = cols.base + int(np.searchsorted(cols.get("t"), t_s, side="right"))
            reach = min(reach, d.reach_at(end))
        return [j for j in self.jolts if j.final_s < reach]
