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

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from analysis.angles import CausalInclination, complementary_inclination
from analysis.errors import AnalysisError
from analysis.frontend import FrontEndParams, StrapFrontEnd
from analysis.jolts import JoltFinder, JoltParams
from analysis.metrics import HeadEvidence, compute_rep
from analysis.params import RepParams
from analysis.results import AnalysisEvent, AnalysisResult, AnalyzerStatus, Rep
from analysis.segmentation import RepDetector, RepSegment, _first, track_peak
from analysis.vectors import angle_deg, row_norm

if TYPE_CHECKING:
    import pandas as pd

ROLES = ("shin", "head")


class CalibrationTracker:
    """Follows the start-up protocol: still upright (zero), then the look-up (head direction)."""

    def __init__(self, p: RepParams, shin: StrapFrontEnd, head: StrapFrontEnd | None) -> None:
        self.p = p
        self.shin, self.head = shin, head
        self.stage = "waiting"
        self.events: list[AnalysisEvent] = []  # each stage reached, stamped with its data time
        self.zero: dict[str, int] = {}  # global row index of the zero pose per strap
        self.head_axis: np.ndarray | None = None
        self._cursor = 0  # shin row (zero search) or head row (look-up search)
        self._anchor = -1
        self._peak, self._peak_i = 0.0, -1
        self.missed: tuple[str, ...] = ()  # protocol steps the first rep came before

    def advance(self, scanned_row: int, first_open: tuple[int, float] | None) -> None:
        """Follow the protocol over the shin rows the rep detector has examined (global rows
        below ``scanned_row``) and the head's rows up to their time. ``first_open``: the shin
        row at which the detector opened its first candidate, and that candidate's start (s):
        the protocol is over there, done or not, and nothing from that row on takes part.

        Bounded by the detector, not by the data received, so the outcome is the same however
        the stream is cut (live == offline): a still pose or a head nod after the first rep
        never becomes the calibration."""
        if self.stage == "calibrated":
            return
        if self.stage == "waiting" and self.shin.started_s is not None:
            # stamped with the sample that completed the front-end's warm-up
            self._enter("hold_still", self.shin.started_s)
        cols = self.shin.cols
        limit = scanned_row if first_open is None else min(scanned_row, first_open[0])
        if cols is not None and self.shin.rate_hz is not None and limit > cols.base:
            if self.stage == "hold_still":
                self._find_zero(limit)
            if self.stage == "look_up":
                self._find_look_up(float(cols.at("t", min(limit, cols.end) - 1)))
        if first_open is not None and self.stage != "calibrated":
            rep_start_s = first_open[1]
            self.missed = tuple(
                step
                for step, done in (
                    ("hold_still", "shin" in self.zero),
                    ("look_up", self.head is None or self.head_axis is not None),
                )
                if not done
            )
            self._enter("calibrated", rep_start_s, skipped=True, missed=list(self.missed))

    def _enter(self, stage: str, t_s: float, **detail: object) -> None:
        self.stage = stage
        self.events.append(AnalysisEvent(t_s, "calibration", {"stage": stage, **detail}))

    def _find_zero(self, limit: int) -> None:
        """The zero pose: both straps still for ``calib_still_s``, in shin rows below
        ``limit``."""
        cols = self.shin.cols
        assert cols is not None
        r = min(limit, cols.end)
        c = max(self._cursor, cols.base)
        if r <= c:
            return
        need = round(self.p.calib_still_s * self.shin.rate)
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
            ok &= hrun >= round(self.p.calib_still_s * h.rate)
        k = _first(ok)
        if k is None:
            self._cursor = r
            return
        self.zero["shin"] = c + k
        t_zero = float(cols.at("t", c + k))
        if h is not None and hrows is not None:
            self.zero["head"] = h.cols.base + int(hrows[k])  # type: ignore[union-attr]
            self._cursor = self.zero["head"]
            self._anchor = self.zero["head"]
            self._enter("look_up", t_zero)
        else:
            self._enter("calibrated", t_zero)

    def _find_look_up(self, t_ready: float) -> None:
        """A head-only rotation out and back about a horizontal axis, knee still, in the head's
        rows up to session time ``t_ready``."""
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
        rest = round(self.p.calib_rest_s * h.rate)
        if self._peak_i < 0:  # waiting for the head to go out
            mark = np.where(run >= rest, np.arange(c, r), -1)
            eff = np.maximum.accumulate(np.maximum(mark, self._anchor))
            e = row_norm(phi - cols.get("phi")[eff - cols.base])
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
        e = row_norm(phi - cols.at("phi", self._anchor))
        peak_run = np.maximum.accumulate(np.maximum(e, self._peak))
        back = (e < self.p.calib_return_frac * peak_run) & (run >= rest // 2 + 1)
        k, self._peak, j = track_peak(e, self._peak, back)
        if j >= 0:
            self._peak_i = c + j
        if k is None:
            self._cursor = r
            return
        self._cursor = c + k + 1
        v = cols.at("phi", self._peak_i) - cols.at("phi", self._anchor)
        up = cols.at("acc_mean", self._anchor)
        tilt_from_vertical = float(angle_deg(v, up))
        knee_still = self._knee_rotation(cols.at("t", self._peak_i)) < self.p.calib_knee_still_deg
        lim = self.p.calib_axis_tilt_deg
        if 90.0 - lim < tilt_from_vertical < 90.0 + lim and knee_still:
            self.head_axis = v / np.linalg.norm(v)
            self._enter("calibrated", float(cols.at("t", self._cursor - 1)), look_up=True)
        else:  # a head turn or a move with the knee: keep waiting
            self._anchor, self._peak, self._peak_i = self._cursor - 1, 0.0, -1

    def _knee_rotation(self, t: float) -> float:
        cols = self.shin.cols
        assert cols is not None
        i = cols.base + int(np.searchsorted(cols.get("t"), t, side="right")) - 1
        z = self.zero.get("shin", cols.base)
        return float(np.linalg.norm(cols.at("phi", max(i, cols.base)) - cols.at("phi", z)))


@dataclass(frozen=True)
class AngleInputs:
    """A strap's samples and reference for its angle: the bias-corrected rate ``w_dps`` and its
    integral ``phi_deg``, acceleration, the segment's axis (sensor frame, unit), gravity in the
    zero pose ``ref_acc`` (at row ``zero_i``; from the calibration, or for a shin without one the
    first rest), sample rate."""

    time_s: np.ndarray
    phi_deg: np.ndarray
    acc_mps2: np.ndarray
    w_dps: np.ndarray
    axis: np.ndarray
    ref_acc: np.ndarray
    zero_i: int
    zero_source: str  # "calibration", "first_rep" (the rest before it) or "first_samples"
    rate_hz: float


class HeadDirection:
    """The head's extension axis in its sensor frame, as the session has taught it so far:
    from the start-up look-up, else from slider look-ups, refined by every rep whose
    direction is known."""

    def __init__(self) -> None:
        self.axis: np.ndarray | None = None  # unit
        self.source = "unknown"  # "calibration", "look_up" or "unknown"
        self._sum = np.zeros(3)

    def calibrated(self, axis: np.ndarray) -> None:
        """The start-up look-up measured it."""
        self.axis, self._sum, self.source = axis, axis.copy(), "calibration"

    def learn(self, evidence: HeadEvidence) -> None:
        """A rep whose direction is known refines it."""
        if self.axis is None and evidence.from_look_up:
            self.source = "look_up"
        self._sum = self._sum + evidence.axis
        self.axis = self._sum / np.linalg.norm(self._sum)


class OnlineAnalyzer:
    """Live rep analysis (also the offline path): ``push`` samples, collect ``Rep`` records;
    :meth:`result` says everything known so far in the form every consumer reads."""

    def __init__(
        self,
        params: RepParams | None = None,
        sensors: Iterable[str] = ROLES,
        frontend: FrontEndParams | None = None,
        keep_s: float | None = 600.0,
        display_angles: bool = True,
        jolts: JoltParams | None = None,
    ) -> None:
        self.p = params or RepParams()
        self.expected = [r for r in ROLES if r in set(sensors)]
        if "shin" not in self.expected:
            raise AnalysisError("the shin strap is required")
        self.fe = {role: StrapFrontEnd(frontend, keep_s) for role in self.expected}
        self.connected = {role: True for role in self.expected}
        head = self.fe.get("head")
        self.detector = RepDetector(self.p, self.fe["shin"], head)
        self.calibration = CalibrationTracker(self.p, self.fe["shin"], head)
        self.head_direction = HeadDirection()
        self.jolts = JoltFinder(self.fe["shin"], head, jolts) if head is not None else None
        self.reps: list[Rep] = []
        self._segments: list[RepSegment] = []  # where each rep is (to score it again)
        self.revisions = 0  # reps scored again since the start (the dashboard redraws them)
        self._decided_s: list[float] = []
        self._events: list[AnalysisEvent] = []
        self.display_angles = display_angles  # False: no causal display angles (offline)
        self._display: dict[str, CausalInclination | None] = {role: None for role in self.expected}
        self._display_from = {role: 0 for role in self.expected}
        self._angles: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
            role: [] for role in self.expected
        }

    # -- feeding -------------------------------------------------------------------------------

    def push(
        self, sensor: str, time_s: np.ndarray, acc_mps2: np.ndarray, gyro_dps: np.ndarray
    ) -> list[Rep]:
        """Add samples of one strap (s, m/s², deg/s); return the reps they completed."""
        if sensor not in self.fe:
            return []
        self.fe[sensor].add(time_s, acc_mps2, gyro_dps)
        return self._advance(final=False)

    def push_all(
        self, blocks: Mapping[str, Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]]
    ) -> list[Rep]:
        """Offline: add each strap's blocks ``(time_s, acc_mps2, gyro_dps)``, then advance. The
        straps' front-ends share nothing, so they run side by side (all but the first strap's
        in a second thread: numpy lets go of the interpreter in its loops); the result is the
        same as pushing the blocks one at a time, in any order (the analyzer is chunk-invariant;
        ``benchmarks/fingerprint.py`` checks it)."""

        def feed(sensor: str) -> None:
            for t, acc, gyro in blocks[sensor]:
                self.fe[sensor].add(t, acc, gyro)

        sensors = [s for s in blocks if s in self.fe]
        with ThreadPoolExecutor(max_workers=1) as pool:
            others = [pool.submit(feed, s) for s in sensors[1:]]
            if sensors:
                feed(sensors[0])
            for f in others:
                f.result()
        return self._advance(final=False)

    def expect(self, sensor: str, samples: int) -> None:
        """Offline: a strap's stream will bring ``samples`` samples (memory is then allocated
        once; results are the same)."""
        if sensor in self.fe:
            self.fe[sensor].expect(samples)

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
            head_sign_source=self.head_direction.source,
            calibration_missed=self.calibration.missed,
        )

    def result(self, angles: bool = True) -> AnalysisResult:
        """Everything the analysis knows now: reps, when each was decided, status, events and
        (``angles``) each strap's zero-phase angle over the samples held."""
        events = [*self.calibration.events, *self._events]
        events += [
            AnalysisEvent(r.start_s, "rejected", {"end_s": r.end_s, "reason": r.reason})
            for r in self.detector.rejected
        ]
        events += [
            AnalysisEvent(
                a.start_s,
                "artefact",
                {
                    "sensor": role,
                    "end_s": a.end_s,
                    "samples": a.samples,
                    "type": a.kind,
                    "gyro_dps": round(a.gyro_dps, 1),
                    "acc_g": round(a.acc_g, 2),
                },
            )
            for role, fe in self.fe.items()
            for a in fe.artefacts
        ]
        events += [
            AnalysisEvent(
                j.start_s,
                "artefact",
                {
                    "sensor": "both",
                    "end_s": j.end_s,
                    "samples": j.samples,
                    "type": "jolt",
                    "acc_g": round(j.acc_g, 2),
                    "head_acc_g": round(j.head_acc_g, 2),
                },
            )
            for j in (self.jolts.jolts if self.jolts is not None else [])
        ]
        return AnalysisResult(
            records=tuple(self.reps),
            decided_s=tuple(self._decided_s),
            angles=self._session_angles() if angles else {},
            status=self.status,
            events=tuple(sorted(events, key=lambda e: e.time_s)),
        )

    def take_angles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """New display angles since the last call: ``(time_s, deg)`` per strap (shin: knee
        inclination, + = extension; head: pitch, + = looking up; 0 = the calibration pose),
        from a causal filter (what live can know); :meth:`result` has the zero-phase ones."""
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

    @property
    def analysed_to_s(self) -> float:
        """The data time the analysis has decided up to: the latest every connected strap's
        front-end has processed (it holds back the newest 25 ms for the artefact screen)."""
        return self._t_ready()

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
        segments = self.detector.advance(t_ready, final)
        # the protocol over what the detector has examined, up to its first candidate: all of
        # it is known before the first rep is scored (so no rep is scored without it)
        cal = self.calibration
        was = cal.stage
        cal.advance(self.detector.cursor, self.detector.first_open)
        hd = self.head_direction
        if cal.head_axis is not None and hd.axis is None and was != "calibrated":
            hd.calibrated(cal.head_axis)
            t_look_up = cal.events[-1].time_s
            self._events.append(AnalysisEvent(t_look_up, "head_direction", {"source": hd.source}))
            self._revise(t_look_up)
        if self.jolts is not None:
            self.jolts.advance(final)
        new = []
        for seg in segments:
            rep, evidence = self._rep(seg)
            if evidence is not None:
                source = hd.source
                hd.learn(evidence)
                if hd.source != source:
                    self._events.append(
                        AnalysisEvent(rep.start_s, "head_direction", {"source": hd.source,
                                                                      "rep": rep.rep})
                    )  # fmt: skip
                    self._revise(seg.decided_s)
            self.reps.append(rep)
            self._segments.append(seg)
            self._decided_s.append(seg.decided_s)
            new.append(rep)
        if self.display_angles:
            self._update_display()
        return new

    def _rep(self, seg: RepSegment) -> tuple[Rep, HeadEvidence | None]:
        """One rep's metrics with what the session knows of the head's direction now, and the
        evidence it gives about that direction."""
        hd = self.head_direction
        rep, evidence = compute_rep(seg, self.fe["shin"], self.fe.get("head"), hd.axis, self.p)
        n_art = self._artefacts_within(rep.start_s, rep.end_s, seg.decided_s)
        return (replace(rep, artefacts=n_art) if n_art else rep), evidence

    def _revise(self, t_s: float) -> None:
        """The head's direction has just become known: every earlier rep scored without it is
        scored again (from the same data as before) and a ``revised`` event says what changed."""
        cols = self.fe["shin"].cols
        if not self.reps or cols is None:
            return
        held_from_s = float(cols.at("t", cols.base))
        for i, (old, seg) in enumerate(zip(self.reps, self._segments, strict=True)):
            if "head_direction_unknown" not in old.flags or seg.start_s < held_from_s:
                continue  # known already, or its data are no longer held (live keeps keep_s)
            rep, _ = self._rep(seg)
            self.reps[i] = rep
            self.revisions += 1
            self._events.append(
                AnalysisEvent(
                    t_s,
                    "revised",
                    {
                        "rep": rep.rep,
                        "technique": rep.technique,
                        "was": old.technique,
                        "quality": rep.quality,
                        "source": self.head_direction.source,
                    },
                )
            )

    def _artefacts_within(self, a: float, b: float, decided_s: float) -> int:
        """Runs of artefact samples of any strap, and jolts of both (those known at
        ``decided_s``), overlapping session times [a, b]."""
        n = sum(x.start_s <= b and x.end_s >= a for fe in self.fe.values() for x in fe.artefacts)
        if self.jolts is not None:
            n += sum(j.start_s <= b and j.end_s >= a for j in self.jolts.decided_by(decided_s))
        return n

    def _display_zero(self, role: str) -> int | None:
        """The row a strap's live angle is 0 at: the calibration pose, else (nobody sat still
        for it) the knee's rest before the first rep and the head at that rep's start."""
        zero = self.calibration.zero.get(role)
        if zero is not None or not self._segments:
            return zero
        first = self._segments[0]
        if role == "shin":
            return first.anchor_i
        cols = self.fe[role].cols
        if cols is None or len(cols) == 0:
            return None
        i = cols.base + int(np.searchsorted(cols.get("t"), first.start_s, side="right")) - 1
        return max(i, cols.base)

    def _angle_axes(self) -> dict[str, np.ndarray | None]:
        """Each strap's angle axis: the knee axis learnt from reps, the head's extension axis."""
        return {"shin": self.detector.knee_axis, "head": self.head_direction.axis}

    def angle_inputs(self, role: str) -> AngleInputs | None:
        """What a strap's angle is computed from, over the samples held (None before its
        axis and zero pose are known): for comparing angle estimators on the same inputs."""
        fe = self.fe.get(role)
        if fe is None or fe.cols is None or fe.rate_hz is None:
            return None
        cols = fe.cols
        axis = self._angle_axes()[role]
        zero = self.calibration.zero.get(role)
        source = "calibration"
        if zero is None and self._segments:
            zero, source = self._display_zero(role), "first_rep"
        elif zero is None and self.detector.anchor_i >= 0 and role == "shin":
            zero, source = cols.base, "first_samples"
        if axis is None or zero is None or zero < cols.base:
            return None
        return AngleInputs(
            time_s=cols.get("t"),
            phi_deg=cols.get("phi"),
            acc_mps2=cols.get("acc"),
            w_dps=cols.get("w"),
            axis=axis,
            ref_acc=cols.at("acc_mean", zero),
            zero_i=zero - cols.base,
            zero_source=source,
            rate_hz=fe.rate_hz,
        )

    def _session_angles(self) -> dict[str, pd.DataFrame]:
        """Zero-phase complementary inclination of each strap over the samples held (NaN where
        its axis or zero pose is unknown)."""
        import pandas as pd

        out = {}
        for role, fe in self.fe.items():
            if fe.cols is None or fe.rate_hz is None:
                continue
            t = fe.cols.get("t")
            x = self.angle_inputs(role)
            if x is None:
                angle = np.full(len(t), np.nan)
            else:
                angle = complementary_inclination(
                    x.phi_deg, x.acc_mps2, x.axis, x.ref_acc, x.rate_hz
                )
                angle = angle - angle[x.zero_i]
            out[role] = pd.DataFrame({"time_s": t, "angle_deg": angle})
        return out

    def _update_display(self) -> None:
        axes = self._angle_axes()
        for role in self.expected:
            fe = self.fe[role]
            cols = fe.cols
            if cols is None or fe.rate_hz is None:
                continue
            lo = max(self._display_from[role], cols.base)
            zero = self._display_zero(role)
            axis = axes[role]
            known = zero is not None and axis is not None and zero >= cols.base
            if known and self._display[role] is None:
                lo = cols.base  # the axis is just known: back-fill what was not drawn
                self._angles[role].clear()
            if lo >= cols.end:
                continue
            self._display_from[role] = cols.end
            t = cols.get("t", lo, cols.end)
            if not known:
                angle = np.full(len(t), np.nan)
            else:
                display = self._display[role]
                if display is None:
                    display = self._display[role] = CausalInclination(fe.rate_hz)
                angle = display.update(
                    cols.get("phi", lo, cols.end),
                    cols.get("acc", lo, cols.end),
                    axis,
                    cols.at("phi", zero),
                    cols.at("acc_mean", zero),
                )
            self._angles[role].append((t, angle))
