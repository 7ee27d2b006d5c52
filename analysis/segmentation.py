"""Rep segmentation: one state machine serves the live counter and the offline analysis.

The detector walks the shin strap's samples in time order. Its signal is the knee's rotation
since it last rested, ``E = |phi − phi_rest|`` (deg): the magnitude of the integrated,
bias-corrected angular rate, which for a hinge like the knee is the joint's rotation whatever way
the strap is mounted. (After a data gap the tilt of the accelerometer's mean against its resting
direction stands in.) States:

* ``idle``: while the knee is still for ``anchor_still_s`` its rest is re-zeroed; ``E`` above
  ``start_deg`` opens a candidate. Its *start* is the movement onset found backwards from there:
  where the knee's speed was last below ``onset_dps`` — or earlier, if the head was already
  moving then (up to ``max_head_lead_s``);
* ``active``: track the peak; when ``E`` falls below ``max(return_min_deg, return_frac·peak)``
  the knee is back;
* ``returning``: the rep ends when the knee has stayed below ``onset_dps`` for ``confirm_s``
  (its *end* is where it came to rest, or later if the head came to rest later, within
  ``max_head_tail_s``), or at the valley if ``E`` climbs past ``start_deg`` again first (the
  next rep started without a pause).

No state lasts for ever (``RepParams`` "bounds"): a rep that stops short of its start ends
where it stopped; a candidate too small to be a rep and passed the other way was a shift of the
rest; a candidate calm for ``max_calm_s``, out for ``max_active_s`` or back but unsettled for
``max_return_s`` is closed and the rest re-zeroed; a candidate opposite to the learnt knee axis
(a flexion: its rest was re-zeroed mid-rep) restarts the detector at its lowest point, or, if
the knee had risen from a lower rest before it (``_rest_before``), from that rest, which then
stays put until the knee is back (the rep is counted from it). For someone never still,
"rest" is also *settled* (the front-end's column: swaying in place) and the speed thresholds
rise to the strap's background speed (``_levels``); docs/analysis.md, "Real straps and restless
people".

A candidate becomes a rep only with at least ``min_rom_deg`` of knee range (a small one that is
out and back within ``swing_max_s`` is a leg swing), about a horizontal
axis (within ``max_axis_tilt_deg``: the knee's axis is horizontal, a strap being turned by hand
usually is not) that agrees with the knee axis learned from earlier reps (``axis_tol_deg``).
Where the axis is in doubt (beyond ``axis_doubt_deg``), or the candidate is small (below
``lever_below_deg``: a strap twisted by hand), the strap must also be seen to swing on
a lever about it (``analysis/lever.py``): a hand turning the strap turns it in place.
Everything is decided from the samples alone, so block-by-block and whole-recording runs agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.constants import g as G_MPS2

from analysis.frontend import StrapFrontEnd, _run_lengths
from analysis.lever import lever_arm, lever_visibility
from analysis.params import RepParams
from analysis.vectors import angle_deg, row_norm


@dataclass
class RepSegment:
    """Where one rep is in the data (global sample indices of the shin strap, session times)."""

    rep: int
    set: int
    start_s: float
    end_s: float
    knee_onset_s: float
    knee_end_s: float
    knee_onset_i: int
    knee_end_i: int
    peak_i: int
    anchor_i: int
    pause_before_s: float
    excursion_axis: np.ndarray  # unit rotation vector of the knee's extension (sensor frame)
    decided_s: float  # data time at which the rep was known to be over (metrics use no later data)


@dataclass
class Rejected:
    """A candidate that was not a rep, and why (kept for diagnosis)."""

    start_s: float
    end_s: float
    reason: str


def _first(mask: np.ndarray) -> int | None:
    i = int(np.argmax(mask)) if len(mask) else 0
    return i if len(mask) and mask[i] else None


def crossing_time(t: np.ndarray, v: np.ndarray, level: float, i: int, rising: bool) -> float:
    """When ``v`` crosses ``level`` between samples i−1 and i (rising) or i and i+1 (falling),
    by linear interpolation (s)."""
    j = i - 1 if rising else i + 1
    if j < 0 or j >= len(v) or v[j] == v[i]:
        return float(t[i])
    f = (level - v[j]) / (v[i] - v[j])
    return float(t[j] + np.clip(f, 0.0, 1.0) * (t[i] - t[j]))


def quadratic_onset(
    t: np.ndarray, v: np.ndarray, i1: int, level: float, rising: bool, max_shift_s: float = 0.4
) -> float:
    """Onset (rising) or end (falling) of a movement whose speed ``v`` passes ``level`` at sample
    ``i1``: where a speed growing like (t − t₀)², the shape of any smooth start from rest (e.g.
    minimum jerk), reaches zero — ``t₀ = 2·t(level) − t(4·level)`` — within ``max_shift_s`` of
    t(level)."""
    t1 = crossing_time(t, v, level, i1, rising)
    if rising:
        after = np.flatnonzero(v[i1:] >= 4 * level)
        if not len(after):
            return t1
        j = i1 + int(after[0])
        t2 = crossing_time(t, v, 4 * level, j, True)
        return max(2 * t1 - t2, t1 - max_shift_s)
    before = np.flatnonzero(v[: i1 + 1] >= 4 * level)
    if not len(before):
        return t1
    j = int(before[-1])
    t2 = crossing_time(t, v, 4 * level, j, False)
    return min(2 * t1 - t2, t1 + max_shift_s)


def track_peak(e: np.ndarray, peak: float, stop: np.ndarray) -> tuple[int | None, float, int]:
    """Walk an excursion ``e`` until ``stop`` first holds: ``(that index or None, the highest
    value up to and including it — at least ``peak`` —, its index or −1 if still ``peak``)``."""
    k = _first(stop)
    upto = len(e) if k is None else k + 1
    j = int(np.argmax(e[:upto]))
    return (k, float(e[j]), j) if e[j] > peak else (k, peak, -1)


def _valley_since_peak(e: np.ndarray, peak_run: np.ndarray, carried: float) -> np.ndarray:
    """Lowest ``e`` since the latest running peak at each sample (``carried``: the valley so
    far, before ``e[0]``), exactly and without a loop over samples: a range minimum over
    [latest peak, i] from a sparse table of minima over power-of-two spans."""
    n = len(e)
    if n == 0:
        return e.copy()
    idx = np.arange(n)
    lo = np.maximum.accumulate(np.where(e >= peak_run, idx, 0))
    table = [e]
    span = 1
    while 2 * span <= n:
        prev = table[-1]
        table.append(np.minimum(prev[:-span], prev[span:]))
        span *= 2
    length = idx - lo + 1
    level = np.frexp(length)[1] - 1  # floor(log2(length)), exactly
    out = np.empty(n)
    for k in np.unique(level):
        m = level == k
        t = table[k]
        out[m] = np.minimum(t[lo[m]], t[idx[m] - (1 << k) + 1])
    before_peak = (lo == 0) & (e[0] < peak_run[0])
    out[before_peak] = np.minimum(out[before_peak], carried)
    return out


def _run_length(flags: np.ndarray) -> np.ndarray:
    idx = np.arange(1, len(flags) + 1)
    return idx - np.maximum.accumulate(np.where(flags, 0, idx))


@dataclass
class _Candidate:
    start_s: float
    knee_onset_s: float
    knee_onset_i: int
    peak: float = 0.0
    peak_i: int = -1
    return_i: int = -1
    thr: float = 0.0
    knee_end_i: int = -1
    knee_end_s: float = np.nan
    confirm_i: int = -1
    continuing: bool = False
    open_i: int = -1  # where the candidate opened (E passed start_deg, or the valley)
    valley: float = np.inf  # lowest E since the current peak
    quiet_run: int = 0  # samples the knee has been quiet up to the cursor
    settled_run: int = 0  # ... and settled
    below: float = 0.0  # how far the knee came back past its start (signed along the rep)
    rest_i: int = -1  # where the knee's rest is after the rep, if not at confirm_i


class RepDetector:
    """Finds reps in the shin stream (head stream optional), incrementally."""

    def __init__(self, params: RepParams, shin: StrapFrontEnd, head: StrapFrontEnd | None) -> None:
        self.p = params
        self.shin = shin
        self.head = head
        self.state: Literal["idle", "active", "returning", "ending"] = "idle"
        self.cursor = 0
        self.anchor_i = -1
        self.cand: _Candidate | None = None
        self.n_reps = 0
        self.set_no = 0
        self.prev_end_s = -np.inf
        self._prev_end_i = 0
        self._head_decided_s = -np.inf
        self.axis_sum = np.zeros(3)  # sum of accepted reps' extension axes
        self.rejected: list[Rejected] = []
        self._restart_at = -1  # set by _validate: start again from this row
        self._hold_rest_until = -1  # ... and until this row, stillness does not move the rest
        self.first_open: tuple[int, float] | None = None  # (row, start s) of the first candidate

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def knee_axis(self) -> np.ndarray | None:
        """Unit extension axis of the knee in the shin sensor's frame (None before a rep)."""
        n = np.linalg.norm(self.axis_sum)
        return self.axis_sum / n if n > 0 else None

    def _n(self, seconds: float) -> int:
        return max(1, round(seconds * self.shin.rate))

    def _from_rest(
        self, c: int, r: int, anchor: np.ndarray | int
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """The knee's integrated rotation over shin rows [c, r) from per-row anchor indices
        (global) or one anchor: ``(d, untrusted, horizontal)``. Where the bias is not from
        stillness, ``d`` counts only rotation about horizontal axes (``horizontal``: some row
        did); ``untrusted``: rows whose integral cannot be used (a data gap since the anchor, or
        an anchor before any bias estimate), where the accelerometer's tilt stands in."""
        cols = self.shin.cols
        assert cols is not None
        base = cols.base
        phi_all = cols.get("phi")
        d = phi_all[c - base : r - base] - phi_all[anchor - base]
        moving = cols.get("bias_moving")[c - base : r - base]
        horizontal = bool(moving.any())
        if horizontal:
            # restless (bias from gravity: its vertical part unknown): only the rotation about
            # horizontal axes counts, which is what a knee does
            d = np.where(moving[:, None], _horizontal(d, cols.get("acc_mean")[anchor - base]), d)
        gaps_all = cols.get("gaps")
        untrusted = gaps_all[c - base : r - base] > gaps_all[anchor - base]
        # from a rest before the gyro's bias was known (someone restless from the start), the
        # integrated rate has drifted: the accelerometer's tilt stands in, as across a gap
        untrusted = untrusted | self._before_bias(anchor)
        return d, untrusted, horizontal

    def _tilt(self, c: int, r: int, anchor: np.ndarray | int) -> np.ndarray:
        """Angle between the accelerometer's mean direction at shin rows [c, r) and at the
        anchor(s), deg."""
        cols = self.shin.cols
        assert cols is not None
        acc_all = cols.get("acc_mean")
        rows = np.broadcast_to(np.asarray(anchor) - cols.base, (r - c,))
        return angle_deg(acc_all[c - cols.base : r - cols.base], acc_all[rows])

    def _excursion(self, c: int, r: int, anchor: np.ndarray | int) -> np.ndarray:
        """E over shin rows [c, r) against per-row anchor indices (global), or one anchor."""
        d, untrusted, _ = self._from_rest(c, r, anchor)
        e = row_norm(d)
        if untrusted.any():
            e = np.where(untrusted, self._tilt(c, r, anchor), e)
        return e

    def _before_bias(self, anchor: np.ndarray | int) -> np.ndarray | bool:
        """Is the anchor row before the first row that used a gyro-bias estimate?"""
        fb = self.shin.first_bias_row
        return np.asarray(anchor) < fb if fb is not None else np.ones_like(anchor, dtype=bool)

    # -- main loop -------------------------------------------------------------------------------

    def advance(self, t_ready: float, final: bool = False) -> list[RepSegment]:
        """Examine shin samples up to session time ``t_ready``; return reps that completed."""
        cols = self.shin.cols
        if cols is None:
            return []
        t = cols.get("t")
        r = cols.end if final else cols.base + int(np.searchsorted(t, t_ready, side="right"))
        out: list[RepSegment] = []
        self.cursor = max(self.cursor, cols.base)
        restarts: set[int] = set()
        while True:
            self._scan(r, t_ready, final, out)
            c = self.cand
            if not (final and c is not None and self.state in ("active", "returning")):
                break
            # the recording ended with the knee out or on its way back: a rep ends at the last
            # sample if it was back, or (active) had come back as far as a short return does
            back_from = c.return_i if self.state == "returning" else None
            p = self.p
            if back_from is None and c.peak >= p.min_rom_deg and c.peak_i >= cols.base:
                ev = self._excursion(c.peak_i, cols.end, self.anchor_i)
                if c.peak - float(ev.min()) >= max(p.min_rom_deg, p.short_back_frac * c.peak):
                    back_from = c.peak_i + int(np.argmin(ev))
            if back_from is None:
                if not self._restart_flexion(c):
                    break
                self._rezero(self._restart_at)
                self._restart_at = -1
                if self.cursor in restarts:
                    break
                restarts.add(self.cursor)
                continue
            c.knee_end_i = self._end_backtrack(back_from, cols.end - 1)
            c.knee_end_s = self._knee_time(c.knee_end_i, rising=False)
            c.confirm_i = cols.end - 1
            self.state = "ending"
            seg = self._try_finish(np.inf, True)
            if seg is not None:
                out.append(seg)
            if self.state != "idle" or self.cursor >= r or self.cursor in restarts:
                break
            # a restart (a flexion: the rest was re-zeroed) scans the last rows again
            restarts.add(self.cursor)
        return out

    def _scan(self, r: int, t_ready: float, final: bool, out: list[RepSegment]) -> None:
        """Run the state machine over shin rows up to ``r``, appending completed reps."""
        window = self._n(self.p.scan_window_s)
        while True:
            before = (self.state, self.cursor)
            if self.state == "ending":
                seg = self._try_finish(t_ready, final)
                if seg is None and self.state == "ending":
                    break
                if seg is not None:
                    out.append(seg)
                continue
            if self.cursor >= r:
                break
            stop = min(r, self.cursor + window)
            if self.state == "idle":
                self._idle(self.cursor, stop)
            elif self.state == "active":
                self._active(self.cursor, stop)
            else:
                self._returning(self.cursor, stop)
            if (self.state, self.cursor) == before:
                break

    def _idle(self, c: int, r: int) -> None:
        cols = self.shin.cols
        assert cols is not None
        run = cols.get("still_run", c, r)
        # rest: still for a while (variance) and not turning right now (speed); the variance
        # window lags a slow onset, the speed test does not
        slow = cols.get("speed_s", c, r) < _levels(self.shin, self.p, c, r)
        # ... or, for someone who is never still, settled: the knee has stayed within a few
        # degrees over the front-end's settle_s, turning round (sway, not a glide); the rest is
        # then where that window began (a glide leaving the band has not yet moved the rest)
        still_rest = (run >= self._n(self.p.anchor_still_s)) & slow
        settled = cols.get("settled", c, r)
        idx = np.arange(c, r)
        back = self.shin.settle_rows - 1
        # (not before the front-end's window means are full: the accelerometer's mean there is
        # of a few samples, all of one knock if it hit the first one; until then the rest is
        # where the knee is)
        first = max(1, round(self.shin.p.window_s * self.shin.rate))
        start = np.where(idx < first, idx, np.maximum(idx - back, max(cols.base, first)))
        mark = np.where(still_rest, idx, np.where(settled, start, -1))
        mark[idx < self._hold_rest_until] = -1  # scanning a rep again from its rest
        eff = np.maximum.accumulate(np.maximum(mark, self.anchor_i))
        if eff[-1] < 0:
            self.cursor = r
            return
        ok = eff >= 0
        e = np.zeros(r - c)
        e[ok] = self._excursion(c + int(np.argmax(ok)), r, eff[ok])
        k = _first(ok & (e > self.p.start_deg))
        if k is None:
            self.anchor_i = int(eff[-1])
            self.cursor = r
            return
        self.anchor_i = int(eff[k])
        x = c + k
        floor = max(cols.base, self.anchor_i - self._n(self.p.onset_lookback_s), self._prev_end_i)
        onset = self._onset_backtrack(floor, x)
        # the onset is refined from the data up to x, where it is decided (live == offline)
        t_on = self._knee_time(onset, rising=True, stop=x + 1)
        t_x = float(cols.at("t", x))
        self.cand = _Candidate(self._start_time(t_on, t_x), t_on, onset, float(e[k]), x, open_i=x)
        if self.first_open is None:
            self.first_open = (x, self.cand.start_s)  # the start-up protocol is over here
        self.state = "active"
        self.cursor = x + 1

    def _active(self, c: int, r: int) -> None:
        cand = self.cand
        cols = self.shin.cols
        assert cand is not None and cols is not None
        p = self.p
        e = self._excursion(c, r, self.anchor_i)
        peak_run = np.maximum.accumulate(np.maximum(e, cand.peak))
        thr = np.maximum(p.return_min_deg, p.return_frac * peak_run)
        went_out = peak_run >= p.start_deg  # a candidate begun at a valley must go out first
        back = (e < thr) & went_out
        # the lowest E since the latest peak, and how long the knee has been quiet
        valley = _valley_since_peak(e, peak_run, cand.valley)
        quiet = _run_lengths(
            cols.get("speed_s", c, r) < _levels(self.shin, p, c, r), cand.quiet_run
        )
        rep_sized = peak_run >= p.min_rom_deg
        came_back = rep_sized & (
            peak_run - valley >= np.maximum(p.min_rom_deg, p.short_back_frac * peak_run)
        )
        again = came_back & (e - valley > p.start_deg)  # stopped short, and the next rep began
        # still, or settled (restless: swaying within a few degrees, not going anywhere)
        calm_settled = _run_lengths(cols.get("settled", c, r), cand.settled_run)
        calm = np.maximum(quiet, calm_settled)
        stopped = came_back & (calm >= self._n(p.short_stop_s)) & (e - valley < p.return_min_deg)
        # the rest has moved: calm this long, or (restless) settled for most of that time
        n_calm = self._n(p.max_calm_s)
        lo = max(cols.base, c - n_calm)
        cs = np.cumsum(np.concatenate(([0], cols.get("settled", lo, r).astype(np.int64))))
        i = np.arange(c, r) - lo + 1
        mostly = (cs[i] - cs[np.maximum(i - n_calm, 0)] >= p.calm_share * n_calm) & (
            np.arange(c, r) - cand.open_i >= n_calm
        )
        shifted = ~came_back & ((calm >= n_calm) | mostly)
        shifted &= np.arange(c, r) >= self._hold_rest_until  # known to come back (a rescan)
        t_open = float(cols.at("t", max(cand.open_i, cols.base)))
        timeout = cols.get("t", c, r) - t_open > p.max_active_s
        # a candidate begun at a valley that stays calm before it goes out: no rep began there
        # (the knee rests; back to idle, where stillness and sway move the rest)
        resting = ~went_out & (calm >= self._n(p.short_stop_s))
        stop = back | again | stopped | shifted | timeout | resting
        k, cand.peak, j = track_peak(e, cand.peak, stop)
        if j >= 0:
            cand.peak_i = c + j
        if k is None:
            cand.valley, cand.quiet_run = float(valley[-1]), int(quiet[-1])
            cand.settled_run = int(calm_settled[-1])
            self.cursor = r
            return
        x = c + k
        if resting[k]:
            self._rezero(self.anchor_i)
            self.cursor = x + 1
        elif back[k]:
            cand.thr = float(thr[k])
            cand.return_i = x
            self.state = "returning"
            self.cursor = x + 1
        elif again[k] or stopped[k]:
            ev = self._excursion(cand.peak_i, x + 1, self.anchor_i)
            low = cand.peak_i + int(np.argmin(ev))
            if again[k]:  # ends at its valley; the next rep is under way from there
                cand.knee_end_i, cand.confirm_i, cand.continuing = low, low, True
                cand.knee_end_s = float(cols.at("t", low))
            else:
                cand.knee_end_i = self._end_backtrack(low, x)
                # refined from the rows up to x, where it is decided (live == offline)
                cand.knee_end_s = self._knee_time(cand.knee_end_i, rising=False, stop=x + 1)
                cand.confirm_i = x
            self.state = "ending"
            self.cursor = cand.confirm_i + 1
        else:  # no rep: the knee's rest has moved (or it never came back); start again here
            why = "did not return" if timeout[k] else f"moved {cand.peak:.0f}° and stayed"
            t_k = float(cols.at("t", x))
            self.rejected.append(Rejected(cand.start_s, t_k, f"{why}: rest re-zeroed"))
            if self._restart_flexion(cand):  # it was the back glide of a rep from a lower rest
                self._rezero(self._restart_at)
                self._restart_at = -1
            else:
                self._rezero(x)

    def _rezero(self, x: int) -> None:
        """Drop the candidate; the knee's rest is at row ``x`` and the detector idles from it."""
        self.anchor_i, self.cand, self.state, self.cursor = x, None, "idle", x + 1

    def _returning(self, c: int, r: int) -> None:
        cand = self.cand
        cols = self.shin.cols
        assert cand is not None and cols is not None
        p = self.p
        need = self._n(p.confirm_s)
        # look back just far enough to count quiet samples that began before c
        lo = max(cand.return_i, cols.base, c - need)
        # signed along the rep's own extension: a knee that comes back past its start (the rep
        # after a short one returns to the old rest) is back, not going out again
        e = self._along(lo, r)
        quiet = cols.get("speed_s", lo, r) < _levels(self.shin, p, lo, r)
        # at rest: quiet for confirm_s, or settled (swaying in place: never quiet)
        settled = cols.get("settled", lo, r)
        ended = ((_run_length(quiet) >= need) | settled) & (e < cand.thr)
        # the next rep began: the knee went out again by start_deg from its rest, or from its
        # lowest point since it came back (a rep that came back past its start, to an older
        # rest, and the next one rises from there: a halt of it near the rest is not an end)
        lowest = np.minimum.accumulate(np.minimum(e, -cand.below)) if len(e) else e
        rise = (e > p.start_deg) | (e - lowest > p.start_deg)
        # ... or, for a candidate too small to be a rep, past its start the other way by as much
        # as opens one: it was a shift of the rest (a seat slide) and a movement from the new
        # rest is under way
        over = (e < -p.start_deg) & (cand.peak < p.min_rom_deg)
        t_back = float(cols.at("t", max(cand.return_i, cols.base)))
        late = cols.get("t", lo, r) - t_back > p.max_return_s
        off = c - lo
        k_end, k_rise, k_late = _first(ended[off:]), _first(rise[off:]), _first(late[off:])
        k_over = _first(over[off:])
        firsts = [k for k in (k_end, k_rise, k_late, k_over) if k is not None]
        if not firsts:
            cand.below = max(cand.below, float(-np.min(e)) if len(e) else 0.0)
            self.cursor = r
            return
        k = min(firsts)
        upto = off + k + 1
        cand.below = max(cand.below, float(-np.min(e[:upto])) if upto > 0 else 0.0)
        if k == k_over and k != k_end:
            # ends where that movement began; the next candidate starts from there
            onset = self._onset_backtrack(max(cand.peak_i, cols.base), c + k_over)
            cand.knee_end_i, cand.confirm_i, cand.continuing = onset, onset, True
            cand.knee_end_s = float(cols.at("t", onset))
        elif k == k_end:
            x = c + k_end
            swaying = bool(settled[off + k_end]) and not quiet[off + k_end]
            cand.knee_end_i = self._end_backtrack(cand.return_i, x, swaying)
            # refined from the rows up to x, where it is decided: the end can be x itself (a
            # swaying knee), whose next row live may not have yet (live == offline)
            cand.knee_end_s = self._knee_time(cand.knee_end_i, rising=False, stop=x + 1)
            cand.confirm_i = x
            if swaying:
                # settled is decided over the trailing settle_s, which can span the end of the
                # back glide and the slow start of the next rep's (down, then up again by a few
                # degrees): the knee's rest is its lowest point since it came back, not x,
                # which may already be on the way out
                lo_v = max(cand.return_i, cols.base)
                cand.rest_i = lo_v + int(np.argmin(self._along(lo_v, x + 1)))
        else:  # the next rep began from the valley, or the knee never settled: end at it
            stop = c + k
            lo_v = max(cand.return_i, cols.base)
            valley = lo_v + int(np.argmin(self._along(lo_v, stop + 1)))
            cand.knee_end_i, cand.confirm_i = valley, valley if k == k_rise else stop
            cand.continuing = k == k_rise
            cand.knee_end_s = float(cols.at("t", valley))
        self.state = "ending"
        self.cursor = cand.confirm_i + 1

    def _along(self, c: int, r: int) -> np.ndarray:
        """The knee's rotation from its rest along the candidate's extension (deg; the
        unsigned excursion across a data gap)."""
        cand = self.cand
        cols = self.shin.cols
        assert cand is not None and cols is not None
        d, untrusted, horizontal = self._from_rest(c, r, self.anchor_i)
        v = cols.at("phi", cand.peak_i) - cols.at("phi", self.anchor_i)
        if horizontal:
            v = _horizontal(v[None, :], cols.at("acc_mean", self.anchor_i))[0]
        u = v / max(float(np.linalg.norm(v)), 1e-12)
        s = d[:, 0] * u[0] + d[:, 1] * u[1] + d[:, 2] * u[2]
        if untrusted.any():
            s = np.where(untrusted, self._tilt(c, r, self.anchor_i), s)
        return s

    # -- onsets and ends ---------------------------------------------------------------------

    def _onset_backtrack(self, lo: int, x: int) -> int:
        """Knee onset sample: the first of the final run in [lo, x] at or above ``onset_dps``
        (``x`` itself if the knee is below it there: restless sway can carry the excursion past
        ``start_deg`` at a slow moment; the onset is never after the row that opened the
        candidate, which live may be the newest row)."""
        speed = self.shin.cols.get("speed_s", lo, x + 1)  # type: ignore[union-attr]
        slow = np.flatnonzero(speed < _levels(self.shin, self.p, lo, x + 1))
        return min(lo + int(slow[-1]) + 1, x) if len(slow) else lo

    def _end_backtrack(self, lo: int, k: int, swaying: bool = False) -> int:
        """Knee end sample: the last in [lo, k] at or above ``onset_dps`` (``swaying``: above
        floor_k × the background speed, whatever ``restless`` says)."""
        cols = self.shin.cols
        assert cols is not None
        speed = cols.get("speed_s", lo, k + 1)
        level = _levels(self.shin, self.p, lo, k + 1)
        if swaying:
            level = np.maximum(level, self.p.floor_k * cols.get("floor", lo, k + 1))
        fast = np.flatnonzero(speed >= level)
        return lo + int(fast[-1]) if len(fast) else lo

    def _knee_time(self, i: int, rising: bool, stop: int | None = None) -> float:
        """Refined onset/end time of the knee around sample ``i`` (see ``quadratic_onset``)."""
        return _refined(self.shin, i, self.p, rising, stop)

    def _start_time(self, t_knee: float, t_decided: float) -> float:
        """Rep start: the knee's onset, or the head's if it was already moving then."""
        h = self.head
        if h is None or h.cols is None or len(h.cols) == 0:
            return t_knee
        lo_t = max(t_knee - self.p.max_head_lead_s, self.prev_end_s)
        ht = h.cols.get("t")
        a = int(np.searchsorted(ht, lo_t, side="left"))
        b = int(np.searchsorted(ht, t_knee, side="right"))
        if b - a < 2:
            return t_knee
        speed = h.cols.get("speed_s")[a:b]
        level = _levels(h, self.p, h.cols.base + a, h.cols.base + b)
        if speed[-1] < level[-1]:
            return t_knee
        slow = np.flatnonzero(speed < level)
        i = a + (int(slow[-1]) + 1 if len(slow) else 0)
        stop = h.cols.base + int(np.searchsorted(ht, t_decided, side="right"))
        return min(t_knee, max(_refined(h, h.cols.base + i, self.p, True, stop), lo_t))

    def _head_end(
        self, t_knee_end: float, t_ready: float, final: bool, continuing: bool = False
    ) -> float | None:
        """When the head came to rest after the knee (None: not known yet, wait for data).

        Between back-to-back reps the head never rests: it turns round, so its end is its
        slowest moment within ``turn_window_s`` of the knee's valley. Sets
        ``self._head_decided_s``: the head data time the answer needed.
        """
        h = self.head
        self._head_decided_s = t_knee_end
        if h is None or h.cols is None or len(h.cols) == 0:
            # nothing to wait for: the rep is decided at the knee's confirming row (its refined
            # end time can lie after that row, beyond the data live has)
            self._head_decided_s = -np.inf
            return t_knee_end
        p = self.p
        ht = h.cols.get("t")
        if continuing:
            win = p.turn_window_s
            lo_t, hi_t = max(t_knee_end - win, self.prev_end_s), t_knee_end + win
            if not final and t_ready < hi_t:
                return None
            a, b = np.searchsorted(ht, [lo_t, hi_t])
            self._head_decided_s = hi_t
            if b - a < 2:
                return t_knee_end
            return float(ht[a + int(np.argmin(h.cols.get("speed_s")[a:b]))])
        limit = t_knee_end + p.max_head_tail_s
        a = int(np.searchsorted(ht, t_knee_end, side="left"))
        b = int(np.searchsorted(ht, min(limit, t_ready), side="right"))
        if b > a:
            quiet = h.cols.get("speed_s")[a:b] < _levels(h, p, h.cols.base + a, h.cols.base + b)
            need = max(1, round(p.head_rest_s * h.rate))
            k = _first(_run_length(quiet) >= need)
            if k is not None:
                self._head_decided_s = float(ht[a + k])
                first_quiet = a + k - need + 1
                if first_quiet == a:
                    return t_knee_end  # the head was already at rest
                last_moving = h.cols.base + first_quiet - 1
                return max(t_knee_end, _refined(h, last_moving, p, False))
        if not (final or t_ready >= limit):
            return None  # the head may still come to rest within the tail window
        # moving all along (capped at the window) or no head data there (head absent)
        self._head_decided_s = limit
        return float(ht[b - 1]) if b > a else t_knee_end

    def _try_finish(self, t_ready: float, final: bool) -> RepSegment | None:
        cand = self.cand
        cols = self.shin.cols
        assert cand is not None and cols is not None
        t_knee_end = cand.knee_end_s
        head_end = self._head_end(t_knee_end, t_ready, final, cand.continuing)
        if head_end is None:
            return None
        end_s = max(t_knee_end, head_end)
        decided = max(float(cols.at("t", min(cand.confirm_i, cols.end - 1))), self._head_decided_s)
        self._restart_at = -1
        seg = self._validate(cand, end_s, decided)
        next_onset = cand.confirm_i
        self.anchor_i = cand.rest_i if cand.rest_i >= 0 else cand.confirm_i
        self.cand = None
        self.state = "idle"
        self.cursor = cand.confirm_i + 1
        if self._restart_at >= 0:
            self.anchor_i = self._restart_at
            self.cursor = self._restart_at + 1
            return None
        if cand.continuing:  # the next rep is already under way from the valley
            t_on = max(float(cols.at("t", next_onset)), end_s)
            self.cand = _Candidate(t_on, t_on, next_onset, open_i=next_onset)
            self.cand.peak_i = next_onset
            self.state = "active"
        return seg

    def _restart_flexion(self, cand: _Candidate) -> bool:
        """A candidate that never came back (dropped, or out at the end of the recording): if
        it flexed from its anchor and the knee had gone out from a lower rest before (see
        ``_rest_before``), set ``_restart_at`` there and return True."""
        known = self.knee_axis
        cols = self.shin.cols
        assert cols is not None
        if known is None or cand.peak < self.p.min_rom_deg or cand.peak_i < cols.base:
            return False
        v = cols.at("phi", cand.peak_i) - cols.at("phi", self.anchor_i)
        if float(angle_deg(v, known)) <= 180.0 - self.p.axis_tol_deg:
            return False
        low = self._rest_before(cand, known)
        if low < 0:
            return False
        self.rejected.append(Rejected(cand.start_s, cand.start_s, "flexion: scanned again"))
        self._restart_at, self._hold_rest_until = low, cand.peak_i
        return True

    def _rest_before(self, cand: _Candidate, known: np.ndarray) -> int:
        """For a flexion candidate (the knee flexed from its anchor): the row of the knee's
        lowest point along the knee axis in the ``flexion_lookback_s`` before the anchor (since
        the last rep), if the anchor is ``start_deg`` or more above it (the knee was out when
        its rest was re-zeroed) and the flexion brought it back within ``return_min_deg`` of it
        (or lower): out from a rest and back is a rep. −1 if not (or if this stretch was
        already scanned again once)."""
        p = self.p
        cols = self.shin.cols
        assert cols is not None
        a, low_i = self.anchor_i, cand.peak_i
        lo = max(cols.base, self._prev_end_i, a - self._n(p.flexion_lookback_s))
        if low_i <= self._hold_rest_until or lo >= a or low_i < a:
            return -1
        gaps = cols.get("gaps", lo, low_i + 1)
        if gaps[0] != gaps[-1] or bool(self._before_bias(lo)):
            return -1
        ext = (cols.get("phi", lo, low_i + 1) - cols.at("phi", a)) @ known  # 0 at the anchor
        j = int(np.argmin(ext[: a - lo + 1]))
        if -ext[j] < p.start_deg or ext[-1] - ext[j] > p.return_min_deg:
            return -1
        return lo + j

    def _rate_axis(self, cand: _Candidate, axis: np.ndarray) -> np.ndarray:
        """The rep's turning axis where the bias is not from stillness: the principal axis of
        the rate over the knee's movement (``Σ w wᵀ``), signed like ``axis``.

        ``phi(peak) − phi(anchor)`` carries the bias error integrated from the anchor (its part
        along gravity is unknown under sway: 0.5–4 deg/s before the reps constrain it), which
        tilts a 25–30° partial rep, or a rep whose rest was set long before it, past
        ``max_axis_tilt_deg`` and away from the learnt axis. In ``Σ w wᵀ`` an error ``e``
        enters as ``e Σwᵀ + Σw eᵀ + N e eᵀ``: ``Σw`` is the rep's net rotation (about zero, out
        and back) and ``|e|² ≪ |w|²`` during a glide, so the axis is the knee's."""
        cols = self.shin.cols
        assert cols is not None
        # over the rep's own glides: out to the peak and as long again (a candidate that ran on
        # through a seat slide or restless movement would take those in)
        b = min(cand.knee_end_i, 2 * cand.peak_i - cand.knee_onset_i) + 1
        w = cols.get("w", cand.knee_onset_i, b)
        if len(w) < self.p.lever_min_samples:
            return axis
        _, vecs = np.linalg.eigh(w.T @ w)
        pa = vecs[:, -1]
        return pa if float(pa @ axis) >= 0 else -pa

    def _lever_rows(self, cand: _Candidate) -> tuple[int, int]:
        """The rows a lever is judged on: the knee's movement, at least ``lever_min_samples``."""
        a = cand.knee_onset_i
        return a, max(cand.knee_end_i, a + self.p.lever_min_samples) + 1

    def _swings_on_lever(self, cand: _Candidate, axis: np.ndarray) -> bool:
        a, b = self._lever_rows(cand)
        return _lever_ok(self.shin, a, b, self.anchor_i, axis, self.p)

    def _lever_visible(self, cand: _Candidate, axis: np.ndarray) -> bool:
        """Would a lever of ``min_lever_m`` show in this candidate's acceleration (at least
        ``lever_visible_mps2``)? A slow glide moves too gently to tell."""
        cols = self.shin.cols
        assert cols is not None
        a, b = self._lever_rows(cand)
        per_m = lever_visibility(cols.get("t", a, b), cols.get("w", a, b), axis)
        return per_m * self.p.min_lever_m >= self.p.lever_visible_mps2

    def _validate(self, cand: _Candidate, end_s: float, decided_s: float) -> RepSegment | None:
        p = self.p
        cols = self.shin.cols
        assert cols is not None
        # its range: out to the peak, and back past the start (the rep after a short one goes
        # back down to the old rest)
        rom = cand.peak + max(cand.below, 0.0)
        if rom < p.min_rom_deg:
            self.rejected.append(Rejected(cand.start_s, end_s, f"range {rom:.0f}°"))
            return None
        took = cand.knee_end_s - cand.knee_onset_s
        if rom < p.lever_below_deg and took < p.swing_max_s:
            self.rejected.append(
                Rejected(cand.start_s, end_s, f"a swing: out and back in {took:.1f} s")
            )
            return None
        v = cols.at("phi", cand.peak_i) - cols.at("phi", self.anchor_i)
        before_bias = bool(self._before_bias(self.anchor_i))
        if before_bias:  # drifted: the axis gravity turned about
            v = np.cross(cols.at("acc_mean", cand.peak_i), cols.at("acc_mean", self.anchor_i))
        axis = v / max(np.linalg.norm(v), 1e-12)
        if not before_bias and cols.at("bias_moving", self.anchor_i):
            axis = self._rate_axis(cand, axis)
        tilt = abs(90.0 - float(angle_deg(axis, cols.at("acc_mean", self.anchor_i))))
        if tilt > p.max_axis_tilt_deg:
            self.rejected.append(Rejected(cand.start_s, end_s, f"axis {tilt:.0f}° off horizontal"))
            return None
        known = self.knee_axis
        off_axis = float(angle_deg(axis, known)) if known is not None else 0.0
        if off_axis > 180.0 - p.axis_tol_deg:
            # the knee flexed from the anchor: it was not at rest there (a rest re-zeroed at
            # end range); its lowest point is the rest, and the detector starts again from it
            self.rejected.append(Rejected(cand.start_s, end_s, "flexion: rest re-zeroed"))
            self._restart_at = cand.peak_i
            low = self._rest_before(cand, known)
            if low >= 0:
                # the knee had gone out from a rest below the anchor (a slow or halting rep
                # whose stops moved the rest, or a long hold dropped as a shift): scan again
                # from that rest, which stays put until the knee is back at its lowest
                self._restart_at, self._hold_rest_until = low, cand.peak_i
            return None
        if off_axis > p.axis_tol_deg:
            self.rejected.append(Rejected(cand.start_s, end_s, "not about the knee axis"))
            return None
        # where the bias is not from stillness, an unseen drift about the vertical tilts the
        # measured axis: the tilt still rejects beyond max_axis_tilt_deg, but raises no doubt
        doubt_tilt = 0.0 if cols.at("bias_moving", self.anchor_i) else tilt
        # a small one must show the lever too where one would be seen: a strap twisted by
        # hand about an axis that happens to lie near the knee's passes the axis tests
        doubt = max(doubt_tilt, off_axis) > p.axis_doubt_deg
        doubt |= rom < p.lever_below_deg and self._lever_visible(cand, axis)
        if doubt and not self._swings_on_lever(cand, axis):
            self.rejected.append(Rejected(cand.start_s, end_s, "turns in place (strap handling)"))
            return None
        self.axis_sum = p.axis_memory * self.axis_sum + axis  # follows strap re-adjustments
        if cand.start_s - self.prev_end_s > p.set_gap_s or self.set_no == 0:
            self.set_no += 1
            pause = float("nan")
        else:
            pause = cand.start_s - self.prev_end_s
        self.n_reps += 1
        self.prev_end_s = end_s
        self._prev_end_i = cand.knee_end_i
        return RepSegment(
            rep=self.n_reps,
            set=self.set_no,
            start_s=cand.start_s,
            end_s=end_s,
            knee_onset_s=cand.knee_onset_s,
            knee_end_s=cand.knee_end_s,
            knee_onset_i=cand.knee_onset_i,
            knee_end_i=cand.knee_end_i,
            peak_i=cand.peak_i,
            anchor_i=self.anchor_i,
            pause_before_s=pause,
            excursion_axis=axis,
            decided_s=decided_s,
        )


def _horizontal(d: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rows of ``d`` (N×3) without their component along ``up`` (one vector, or N×3)."""
    u = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-12)
    along = (d * u).sum(axis=-1, keepdims=True)
    return d - along * u


def _levels(fe: StrapFrontEnd, p: RepParams, a: int, b: int) -> np.ndarray:
    """The speed (deg/s) below which a strap counts as not moving, rows [a, b): onset_dps, or
    for a restless strap floor_k × its background speed if that is higher."""
    cols = fe.cols
    assert cols is not None
    floor = cols.get("floor", a, b)
    return np.where(
        cols.get("restless", a, b), np.maximum(p.onset_dps, p.floor_k * floor), p.onset_dps
    )


def _lever_ok(
    fe: StrapFrontEnd, a: int, b: int, anchor: int, axis: np.ndarray, p: RepParams
) -> bool:
    """Does the strap swing on a lever about ``axis`` over rows [a, b)?"""
    cols = fe.cols
    assert cols is not None
    rest = cols.at("acc_mean", anchor)
    rot = cols.get("phi", a, b) - cols.at("phi", anchor)
    r, explained = lever_arm(
        cols.get("t", a, b), cols.get("w", a, b), cols.get("acc", a, b), rot, rest, axis,
        jolt_mps2=p.lever_jolt_g * G_MPS2,
    )  # fmt: skip
    return float(np.linalg.norm(r)) >= p.min_lever_m or explained >= p.min_lever_explained


def _refined(
    fe: StrapFrontEnd, i: int, p: RepParams, rising: bool, stop: int | None = None
) -> float:
    """Onset/end time near global row ``i`` of a strap, from its smoothed speed (rows before
    ``stop`` only: what was known when it was decided)."""
    cols = fe.cols
    assert cols is not None
    half = round(p.refine_window_s * fe.rate)
    lo = max(cols.base, i - half)
    hi = min(cols.end, i + half + 1)
    if stop is not None:
        hi = max(i + 1, min(hi, stop))
    t = cols.get("t", lo, hi)
    v = cols.get("speed_s", lo, hi)
    level = float(_levels(fe, p, i, i + 1)[0])
    onset = quadratic_onset(t, v, i - lo, level, rising, p.onset_extrapolate_max_s)
    # not before the window (the extrapolation stays inside it, except at the first sample)
    return max(onset - fe.smooth_delay_s, float(t[0]))
