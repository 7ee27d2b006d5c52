"""The rep analyzer: feed samples as they arrive, get reps as they complete (live and offline).

``OnlineAnalyzer`` is the one pipeline: per-strap front-ends (``frontend.py``), the start-up
calibration tracker, the rep detector (``segmentation.py``) and the per-rep metrics
(``metrics.py``). The offline analysis (``analysis.session.analyze``) feeds a whole recording
through the same object, so live counts equal offline counts.

Time ordering: the detector only looks at data up to the latest time every connected strap has
reached, so a strap whose data arrive a little later never changes a decision. A strap that
disconnects stops holding the others back (``set_connected``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from analysis.angles import CausalInclination
from analysis.frontend import FrontEndParams, StrapFrontEnd
from analysis.metrics import RepContext, compute_rep
from analysis.params import RepParams
from analysis.results import AnalyzerStatus, Rep
from analysis.segmentation import RepDetector, _angle_deg, _first, track_peak

ROLES = ("shin", "head")


class CalibrationTracker:
    """Follows the start-up protocol: still upright (zero), then the look-up (head direction)."""

    def __init__(self, p: RepParams, shin: StrapFrontEnd, head: StrapFrontEnd | None) -> None:
        self.p = p
        self.shin, self.head = shin, head
        self.stage = "waiting"
        self.zero: dict[str, int] = {}  # global row index of the zero pose per strap
        self.head_axis: np.ndarray | None = None
        self._cursor = 0  # shin row (zero search) or head row (look-up search)
        self._anchor = -1
        self._peak, self._peak_i = 0.0, -1

    def advance(self, t_ready: float, rep_started: bool) -> None:
        if self.stage == "calibrated":
            return
        if self.stage == "waiting" and self.shin.cols is not None and len(self.shin.cols):
            self.stage = "hold_still"
        if self.stage == "hold_still":
            self._find_zero(t_ready)
        if self.stage == "look_up":
            self._find_look_up(t_ready)
        if rep_started and self.stage != "calibrated":
            self.stage = "calibrated"

    def _find_zero(self, t_ready: float) -> None:
        cols = self.shin.cols
        if cols is None or self.shin.rate_hz is None:
            return
        t = cols.get("t")
        r = cols.base + int(np.searchsorted(t, t_ready, side="right"))
        c = max(self._cursor, cols.base)
        if r <= c:
            return
        need = round(self.p.calib_still_s * self.shin.rate_hz)
        ok = cols.get("still_run", c, r) >= need
        h = self.head
        hrows = None
        if h is not None:
            if h.cols is None or len(h.cols) == 0 or h.rate_hz is None:
                return
            ht = h.cols.get("t")
            hrows = np.searchsorted(ht, cols.get("t", c, r), side="right") - 1
            valid = hrows >= 0
            hrun = np.where(valid, h.cols.get("still_run")[np.maximum(hrows, 0)], 0)
            ok &= hrun >= round(self.p.calib_still_s * h.rate_hz)
        k = _first(ok)
        if k is None:
            self._cursor = r
            return
        self.zero["shin"] = c + k
        if h is not None and hrows is not None:
            self.zero["head"] = h.cols.base + int(hrows[k])  # type: ignore[union-attr]
            self._cursor = self.zero["head"]
            self._anchor = self.zero["head"]
            self.stage = "look_up"
        else:
            self.stage = "calibrated"

    def _find_look_up(self, t_ready: float) -> None:
        """A head-only rotation out and back about a horizontal axis, knee still."""
        h = self.head
        assert h is not None and h.cols is not None and h.rate_hz is not None
        cols = h.cols
        t = cols.get("t")
        r = cols.base + int(np.searchsorted(t, t_ready, side="right"))
        c = max(self._cursor, cols.base)
        if r <= c:
            return
        phi = cols.get("phi", c, r)
        run = cols.get("still_run", c, r)
        rest = round(0.3 * h.rate_hz)
        if self._peak_i < 0:  # waiting for the head to go out
            mark = np.where(run >= rest, np.arange(c, r), -1)
            eff = np.maximum.accumulate(np.maximum(mark, self._anchor))
            e = np.linalg.norm(phi - cols.get("phi")[eff - cols.base], axis=1)
            k = _first(e > self.p.calib_look_up_deg)
            if k is None:
                self._anchor = int(eff[-1])
                self._cursor = r
                return
            self._anchor = int(eff[k])
            self._peak, self._peak_i = float(e[k]), c + k
            c = c + k + 1
            if c >= r:
                self._cursor = r
                return
            phi, run = cols.get("phi", c, r), cols.get("still_run", c, r)
        e = np.linalg.norm(phi - cols.at("phi", self._anchor), axis=1)
        peak_run = np.maximum.accumulate(np.maximum(e, self._peak))
        back = (e < 0.4 * peak_run) & (run >= rest // 2 + 1)
        k, self._peak, j = track_peak(e, self._peak, back)
        if j >= 0:
            self._peak_i = c + j
        if k is None:
            self._cursor = r
            return
        self._cursor = c + k + 1
        v = cols.at("phi", self._peak_i) - cols.at("phi", self._anchor)
        up = cols.at("acc_mean", self._anchor)
        tilt_from_vertical = float(_angle_deg(v, up))
        knee_still = self._knee_rotation(cols.at("t", self._peak_i)) < 5.0
        if 50.0 < tilt_from_vertical < 130.0 and knee_still:
            self.head_axis = v / np.linalg.norm(v)
            self.stage = "calibrated"
        else:  # a head turn or a move with the knee: keep waiting
            self._anchor, self._peak, self._peak_i = self._cursor - 1, 0.0, -1

    def _knee_rotation(self, t: float) -> float:
        cols = self.shin.cols
        assert cols is not None
        i = cols.base + int(np.searchsorted(cols.get("t"), t, side="right")) - 1
        z = self.zero.get("shin", cols.base)
        return float(np.linalg.norm(cols.at("phi", max(i, cols.base)) - cols.at("phi", z)))


class OnlineAnalyzer:
    """Live rep analysis (also the offline path): ``push`` samples, collect ``Rep`` records."""

    def __init__(
        self,
        params: RepParams | None = None,
        sensors: Iterable[str] = ROLES,
        frontend: FrontEndParams | None = None,
        keep_s: float | None = 600.0,
    ) -> None:
        self.p = params or RepParams()
        self.expected = [r for r in ROLES if r in set(sensors)]
        if "shin" not in self.expected:
            raise ValueError("the shin strap is required")
        self.fe = {role: StrapFrontEnd(frontend, keep_s) for role in self.expected}
        self.connected = {role: True for role in self.expected}
        head = self.fe.get("head")
        self.detector = RepDetector(self.p, self.fe["shin"], head)
        self.calibration = CalibrationTracker(self.p, self.fe["shin"], head)
        self.ctx = RepContext()
        self.reps: list[Rep] = []
        self._display = {role: None for role in self.expected}
        self._display_from = {role: 0 for role in self.expected}
        self._angles: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
            role: [] for role in self.expected
        }
        self.collect_angles = True  # False: skip display angles (offline analysis)

    # -- feeding -------------------------------------------------------------------------------

    def push(
        self, sensor: str, time_s: np.ndarray, acc_mps2: np.ndarray, gyro_dps: np.ndarray
    ) -> list[Rep]:
        """Add samples of one strap (s, m/s², deg/s); return the reps they completed."""
        if sensor not in self.fe:
            return []
        self.fe[sensor].add(time_s, acc_mps2, gyro_dps)
        return self._advance(final=False)

    def set_connected(self, sensor: str, connected: bool) -> list[Rep]:
        """A strap (dis)connected: a disconnected strap no longer holds the analysis back."""
        if sensor in self.connected:
            self.connected[sensor] = connected
        return self._advance(final=False)

    def finish(self) -> list[Rep]:
        """End of stream: decide everything that is left."""
        for fe in self.fe.values():
            fe.flush()
        return self._advance(final=True)

    # -- results -------------------------------------------------------------------------------

    @property
    def status(self) -> AnalyzerStatus:
        d = self.detector
        return AnalyzerStatus(
            calibration=self.calibration.stage,  # type: ignore[arg-type]
            phase="idle" if d.state == "idle" else "in_rep",
            reps=len(self.reps),
            set=d.set_no,
            head_sign_source=self.ctx.head_axis_source,
        )

    def take_angles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """New display angles since the last call: ``(time_s, deg)`` per strap (shin: knee
        inclination, + = extension; head: pitch, + = looking up; 0 = the calibration pose)."""
        out = {}
        for role, parts in self._angles.items():
            if parts:
                out[role] = (
                    np.concatenate([p[0] for p in parts]),
                    np.concatenate([p[1] for p in parts]),
                )
                parts.clear()
        return out

    # -- internals -----------------------------------------------------------------------------

    def _t_ready(self) -> float:
        """Latest time every connected strap has reached (−inf while one has sent nothing)."""
        ts = []
        for role in self.expected:
            if not self.connected[role]:
                continue
            cols = self.fe[role].cols
            if cols is None or len(cols) == 0:
                return -np.inf
            ts.append(float(cols.at("t", cols.end - 1)))
        return min(ts) if ts else -np.inf

    def _advance(self, final: bool) -> list[Rep]:
        t_ready = np.inf if final else self._t_ready()
        cal = self.calibration
        was = cal.stage
        cal.advance(t_ready, rep_started=self.detector.state != "idle" or self.detector.n_reps > 0)
        if cal.head_axis is not None and self.ctx.head_axis is None and was != "calibrated":
            self.ctx.head_axis = cal.head_axis
            self.ctx.head_axis_sum = cal.head_axis.copy()
            self.ctx.head_axis_source = "calibration"
        new = []
        for seg in self.detector.advance(t_ready, final):
            rep = compute_rep(seg, self.fe["shin"], self.fe.get("head"), self.ctx, self.p)
            self.reps.append(rep)
            new.append(rep)
        if self.collect_angles:
            self._update_display()
        return new

    def _update_display(self) -> None:
        axes = {"shin": self.detector.knee_axis, "head": self.ctx.head_axis}
        for role in self.expected:
            fe = self.fe[role]
            cols = fe.cols
            if cols is None or fe.rate_hz is None:
                continue
            lo = max(self._display_from[role], cols.base)
            if lo >= cols.end:
                continue
            self._display_from[role] = cols.end
            t = cols.get("t", lo, cols.end)
            zero = self.calibration.zero.get(role)
            axis = axes[role]
            if zero is None or axis is None or zero < cols.base:
                angle = np.full(len(t), np.nan)
            else:
                if self._display[role] is None:
                    self._display[role] = CausalInclination(fe.rate_hz)
                angle = self._display[role].update(
                    cols.get("phi", lo, cols.end),
                    cols.get("acc", lo, cols.end),
                    axis,
                    cols.at("phi", zero),
                    cols.at("acc_mean", zero),
                )
            self._angles[role].append((t, angle))
