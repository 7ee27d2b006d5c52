"""Exercise scripts (sets × reps, rests, fidgets) turned into joint trajectories and ground truth.

Degrees of freedom of the seated model (see ``kinematics.py`` for the body they move):

* ``knee``  – shin inclination, rad: 0 = shin vertical, + = knee extension (foot forward/up);
* ``trunk`` – trunk flexion at the hip, rad: + = leaning forward / slumped;
* ``neck``  – neck flexion relative to the trunk, rad: + = chin towards chest;
* ``yaw``   – head turn about the neck's long axis, rad;
* ``hip_x``, ``hip_z`` – seat shifts of the pelvis, m.

Head pitch (+ = extension / looking up) is ``−(trunk + neck)``.

A *slider* rep (docs/simulator.md): knee extends while the trunk sits up and the chin lifts to
neutral; at end range the head looks up a further 15–30° with the knee still, returns to
neutral; then the knee bends while slumping and chin-to-chest. A *tensioner* rep: the knee
extends while the neck *flexes*, then both return. Everything a rep does is made of minimum-jerk
moves, so ground-truth onsets, ends and still periods are exact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from collector.trajectory import DofTrajectory, Oscillation, Track, merge_intervals

Technique = Literal["slider", "tensioner"]
FidgetKind = Literal["leg_swing", "seat_shift", "head_turn", "strap_handling"]
DOFS = ("knee", "trunk", "neck", "yaw", "hip_x", "hip_z")
_ANGLE_DOFS = ("knee", "trunk", "neck", "yaw")

# Ground-truth flag thresholds (used only to label simulated reps; the analyzer has its own).
HELD_MIN_S = 1.0  # a scripted stillness at end range at least this long is a hold
FAST_MAX_S = 1.5  # a half-rep (out or back) shorter than this is fast
PARTIAL_MAX_DEG = 45.0  # knee range below this is partial
LONG_PAUSE_MIN_S = 5.0  # a pause before a rep at least this long is a long pause


@dataclass(frozen=True)
class RepSpec:
    """One scripted repetition. Angles in degrees, times in seconds."""

    technique: Technique = "slider"
    out_s: float = 2.5  # knee extension, excluding halts
    back_s: float = 2.5  # knee flexion back, excluding halts
    knee_rom_deg: float = 70.0
    trunk_rom_deg: float = 15.0  # slider: sitting up out of the slump
    neck_rom_deg: float = 40.0  # slider: chin-to-chest → neutral; tensioner: neutral → chin down
    look_up_deg: float = 20.0  # slider: extra head extension at end range (0 = none)
    look_s: float = 0.8  # look-up duration, each way
    head_lag_s: float = 0.0  # head starts this much after the knee (negative: before)
    hold_s: float = 0.0  # both straps still at end range
    hold_at: Literal["top", "look_up"] = "top"
    halts: int = 0  # stops within each half (halting rep)
    halt_s: float = 0.4  # duration of each stop
    tremor_deg: float = 0.0  # knee tremor amplitude during movement
    tremor_hz: float = 8.0
    knee_rest_shift_deg: float = 0.0  # knee comes back this much off where it started
    pause_before_s: float = 1.0  # stillness before the rep starts
    settle_s: float = 0.15  # short natural pause between phases


@dataclass(frozen=True)
class FidgetSpec:
    """Non-exercise movement between reps or sets.

    ``amplitude`` is in deg (leg swing, head turn, strap rotation) or m (seat shift);
    ``residual`` is what stays changed afterwards: deg of knee rest (seat shift) or of strap
    mounting (strap handling).
    """

    kind: FidgetKind
    duration_s: float
    amplitude: float
    freq_hz: float = 1.0
    residual: float = 0.0
    sensor: Literal["shin", "head"] = "shin"
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)  # strap handling: rotation axis (body)


@dataclass(frozen=True)
class SetSpec:
    """Reps of one set, then a rest with fidgets at given offsets into the rest."""

    reps: tuple[RepSpec, ...]
    rest_after_s: float = 30.0
    fidgets: tuple[tuple[float, FidgetSpec], ...] = ()

    @property
    def technique(self) -> Technique:
        return self.reps[0].technique if self.reps else "slider"


@dataclass(frozen=True)
class Posture:
    """Resting postures, degrees."""

    knee_rest_deg: float = 0.0  # shin inclination when the knee is bent at rest
    slump_trunk_deg: float = 25.0
    chin_neck_deg: float = 40.0
    upright_trunk_deg: float = 5.0


@dataclass(frozen=True)
class SessionScript:
    """A whole session: start-up calibration, sets with rests, still lead-out.

    With ``calibration`` the session starts as the dashboard prompts: sitting upright and still,
    looking ahead, for ``lead_in_s`` (the zero of both angles); looking up ``look_up_deg`` and
    back (which way the head extends); then moving into the first set's start posture. Without
    it the session starts still, already in the first set's start posture.
    """

    sets: tuple[SetSpec, ...]
    posture: Posture = Posture()
    lead_in_s: float = 5.0
    lead_out_s: float = 3.0
    set_up_s: float = 2.0  # moving into a set's start posture at the end of a rest
    calibration: bool = True
    calibration_look_up_deg: float = 25.0


@dataclass(frozen=True)
class StrapAdjustment:
    """A strap being handled: its mounting rotates by ``angle`` about ``axis`` and jostles."""

    sensor: Literal["shin", "head"]
    t0_s: float
    duration_s: float
    axis: tuple[float, float, float]
    rotation: DofTrajectory  # rotation angle about ``axis``, rad
    jostle: tuple[DofTrajectory, DofTrajectory, DofTrajectory]  # strap displacement, m (body)


@dataclass
class GroundTruth:
    """What really happened in a simulated session (tables as lists of dicts)."""

    reps: list[dict[str, Any]] = field(default_factory=list)
    fidgets: list[dict[str, Any]] = field(default_factory=list)
    sets: list[dict[str, Any]] = field(default_factory=list)
    calibration: dict[str, Any] = field(default_factory=dict)  # empty: no calibration phase

    def to_dict(self) -> dict[str, Any]:
        return {
            "reps": self.reps,
            "fidgets": self.fidgets,
            "sets": self.sets,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroundTruth:
        return cls(
            list(d.get("reps", [])),
            list(d.get("fidgets", [])),
            list(d.get("sets", [])),
            dict(d.get("calibration", {})),
        )


@dataclass
class Choreography:
    """Joint trajectories, strap adjustments and ground truth of a scripted session."""

    dofs: dict[str, DofTrajectory]
    adjustments: list[StrapAdjustment]
    truth: GroundTruth
    duration_s: float

    def evaluate(self, t: np.ndarray) -> dict[str, Track]:
        """Every degree of freedom at the ascending times ``t`` (rad or m)."""
        return {name: dof.evaluate(t) for name, dof in self.dofs.items()}

    def knee_deg(self, t: np.ndarray) -> np.ndarray:
        """True shin inclination, deg (0 = vertical, + = extension)."""
        return np.degrees(self.dofs["knee"].evaluate(t).q)

    def head_pitch_deg(self, t: np.ndarray) -> np.ndarray:
        """True head pitch, deg (+ = extension / looking up)."""
        return -np.degrees(self.dofs["trunk"].evaluate(t).q + self.dofs["neck"].evaluate(t).q)


class _Builder:
    """Lays moves on the timeline and records ground truth as it goes."""

    def __init__(self, script: SessionScript) -> None:
        p = script.posture
        first = script.sets[0].technique if script.sets else "slider"
        # the calibration is done sitting upright, head neutral (the tensioner's start posture)
        trunk0, neck0 = self._start_posture(p, "tensioner" if script.calibration else first)
        self.script = script
        self.dofs = {name: DofTrajectory() for name in DOFS}
        self.dofs["knee"].base = np.radians(p.knee_rest_deg)
        self.dofs["trunk"].base = np.radians(trunk0)
        self.dofs["neck"].base = np.radians(neck0)
        self.adjustments: list[StrapAdjustment] = []
        self.truth = GroundTruth()

    @staticmethod
    def _start_posture(p: Posture, technique: Technique) -> tuple[float, float]:
        if technique == "slider":
            return p.slump_trunk_deg, p.chin_neck_deg
        return p.upright_trunk_deg, 0.0

    def now(self, dof: str) -> float:
        """Value the degree of freedom settles at after every move so far (rad or m)."""
        d = self.dofs[dof]
        return d.base + sum(m.delta for m in d.moves)

    def move(self, dof: str, t0: float, dur: float, delta: float) -> float:
        return self.dofs[dof].add_move(t0, dur, delta)

    def move_to(self, dof: str, t0: float, dur: float, target: float) -> float:
        delta = target - self.now(dof)
        if abs(delta) < 1e-9:
            return t0
        return self.move(dof, t0, dur, delta)

    def half(
        self, t0: float, deltas: dict[str, float], move_s: float, halts: int, halt_s: float
    ) -> float:
        """Move several DOFs together, split into ``halts + 1`` sub-moves with stops between."""
        parts = halts + 1
        t = t0
        for i in range(parts):
            for dof, delta in deltas.items():
                if delta != 0.0:
                    self.move(dof, t, move_s / parts, delta / parts)
            t += move_s / parts
            if i < halts:
                t += halt_s
        return t

    # -- reps ------------------------------------------------------------------------------

    def rep(self, t0: float, spec: RepSpec, rep_no: int, set_no: int) -> float:
        """Script one rep starting at ``t0``; return its end time."""
        rad = np.radians
        lag = spec.head_lag_s
        k0, h0 = t0 + max(0.0, -lag), t0 + max(0.0, lag)
        halts, halt_s = spec.halts, spec.halt_s
        knee_rom = rad(spec.knee_rom_deg)
        if spec.technique == "slider":
            head_out = {"trunk": -rad(spec.trunk_rom_deg), "neck": -rad(spec.neck_rom_deg)}
        else:
            head_out = {"neck": rad(spec.neck_rom_deg)}
        knee_top = self.half(k0, {"knee": knee_rom}, spec.out_s, halts, halt_s)
        head_top = self.half(h0, head_out, spec.out_s, halts, halt_s)
        tremor = []
        if spec.tremor_deg > 0:
            tremor.append((k0, knee_top))
        e = max(knee_top, head_top) + spec.settle_s
        if spec.hold_at == "top" or spec.technique != "slider" or spec.look_up_deg <= 0:
            e += spec.hold_s
        if spec.technique == "slider" and spec.look_up_deg > 0:
            e = self.move("neck", e, spec.look_s, -rad(spec.look_up_deg))
            if spec.hold_at == "look_up":
                e += spec.hold_s
            e = self.move("neck", e, spec.look_s, rad(spec.look_up_deg)) + spec.settle_s
        b0 = e
        kb0, hb0 = b0 + max(0.0, -lag), b0 + max(0.0, lag)
        knee_back = -knee_rom + rad(spec.knee_rest_shift_deg)
        knee_end = self.half(kb0, {"knee": knee_back}, spec.back_s, halts, halt_s)
        head_end = self.half(hb0, {k: -v for k, v in head_out.items()}, spec.back_s, halts, halt_s)
        if spec.tremor_deg > 0:
            tremor.append((kb0, knee_end))
        for a, b in tremor:
            self.dofs["knee"].add_oscillation(
                Oscillation(a, b - a, rad(spec.tremor_deg), spec.tremor_hz, phase_rad=0.3)
            )
        end = max(knee_end, head_end)
        self.truth.reps.append(
            {
                "rep": rep_no,
                "set": set_no,
                "technique": spec.technique,
                "start_s": t0,
                "end_s": end,
                "knee_out_start_s": k0,
                "knee_top_s": knee_top,
                "knee_back_start_s": kb0,
                "knee_back_end_s": knee_end,
                "out_s": knee_top - k0,
                "back_s": knee_end - kb0,
                "pause_before_s": spec.pause_before_s,
                "head_lag_s": lag,
                "halts": spec.halts,
                "tremor_deg": spec.tremor_deg,
                "spec": asdict(spec),
            }
        )
        return end

    # -- fidgets ---------------------------------------------------------------------------

    def fidget(self, t0: float, f: FidgetSpec, rng_phase: float = 0.0) -> float:
        rad = np.radians
        d = f.duration_s
        if f.kind == "leg_swing":
            self.dofs["knee"].add_oscillation(
                Oscillation(t0, d, rad(f.amplitude), f.freq_hz, phase_rad=rng_phase)
            )
        elif f.kind == "seat_shift":
            self.move("hip_x", t0, d / 2, f.amplitude)
            self.move("hip_x", t0 + d / 2, d / 2, -0.7 * f.amplitude)
            self.move("hip_z", t0, d / 2, 0.01)
            self.move("hip_z", t0 + d / 2, d / 2, -0.01)
            lean = rad(6.0) * np.sign(f.amplitude)
            self.move("trunk", t0, d / 2, lean)
            self.move("trunk", t0 + d / 2, d / 2, -lean)
            self.move("knee", t0, d, rad(f.residual))
        elif f.kind == "head_turn":
            self.move("yaw", t0, 0.35 * d, rad(f.amplitude))
            self.move("yaw", t0 + 0.65 * d, 0.35 * d, -rad(f.amplitude))
            self.move("neck", t0, 0.35 * d, rad(-5.0))
            self.move("neck", t0 + 0.65 * d, 0.35 * d, rad(5.0))
        elif f.kind == "strap_handling":
            rot = DofTrajectory()
            rot.add_move(t0, 0.25 * d, rad(f.amplitude))
            rot.add_oscillation(Oscillation(t0 + 0.2 * d, 0.6 * d, rad(4.0), 3.0))
            rot.add_move(t0 + 0.75 * d, 0.25 * d, rad(f.residual - f.amplitude))
            jostle = []
            for i in range(3):
                j = DofTrajectory()
                j.add_oscillation(Oscillation(t0, d, 0.003, 4.0 + 1.3 * i, phase_rad=i))
                jostle.append(j)
            axis = np.asarray(f.axis, dtype=float)
            axis = tuple(float(v) for v in axis / np.linalg.norm(axis))
            self.adjustments.append(
                StrapAdjustment(f.sensor, t0, d, axis, rot, (jostle[0], jostle[1], jostle[2]))
            )
        else:  # pragma: no cover - guarded by the Literal type and random_script
            raise ValueError(f"unknown fidget kind {f.kind!r}")
        self.truth.fidgets.append(
            {
                "kind": f.kind,
                "sensor": f.sensor if f.kind == "strap_handling" else "",
                "start_s": t0,
                "end_s": t0 + d,
                "amplitude": f.amplitude,
            }
        )
        return t0 + d

    # -- sets and rests --------------------------------------------------------------------

    def set_posture(self, t0: float, dur: float, technique: Technique) -> float:
        trunk, neck = self._start_posture(self.script.posture, technique)
        e1 = self.move_to("trunk", t0, dur, np.radians(trunk))
        e2 = self.move_to("neck", t0, dur, np.radians(neck))
        return max(e1, e2, t0)

    def calibrate(self) -> float:
        """Still upright, look up and back, move into the first set's start posture."""
        s = self.script
        t = s.lead_in_s
        look = np.radians(s.calibration_look_up_deg)
        t0 = t
        t = self.move("neck", t, 1.0, -look)
        t = self.move("neck", t + 0.3, 1.0, look)
        self.truth.calibration = {
            "still_start_s": 0.0,
            "still_end_s": s.lead_in_s,
            "look_up_start_s": t0,
            "look_up_end_s": t,
            "look_up_deg": s.calibration_look_up_deg,
        }
        return self.set_posture(t + 1.0, s.set_up_s, s.sets[0].technique)

    def build(self) -> Choreography:
        s = self.script
        t = self.calibrate() if s.calibration else s.lead_in_s
        rep_no = 0
        for set_no, st in enumerate(s.sets, start=1):
            set_start = None
            for spec in st.reps:
                rep_no += 1
                t += spec.pause_before_s
                set_start = t if set_start is None else set_start
                t = self.rep(t, spec, rep_no, set_no)
            self.truth.sets.append(
                {
                    "set": set_no,
                    "technique": st.technique,
                    "reps": len(st.reps),
                    "start_s": set_start if set_start is not None else t,
                    "end_s": t,
                }
            )
            if set_no < len(s.sets):
                t = self.rest(t, st, s.sets[set_no].technique)
        end = t + s.lead_out_s
        self._finish_truth()
        return Choreography(self.dofs, self.adjustments, self.truth, end)

    def rest(self, t0: float, st: SetSpec, next_technique: Technique) -> float:
        """Relax upright, fidget, then get into the next set's start posture."""
        relax_end = self.set_posture(t0 + 0.5, 1.5, "tensioner")  # upright, head neutral
        end = t0 + max(st.rest_after_s, 0.0)
        for offset, f in st.fidgets:
            self.fidget(relax_end + offset, f, rng_phase=0.5 * offset)
        set_up_start = max(end - self.script.set_up_s, relax_end)
        return self.set_posture(set_up_start, self.script.set_up_s, next_technique)

    def _finish_truth(self) -> None:
        """Add ranges and end-range stillness (holds) now that every move is known."""
        moving = merge_intervals(iv for name in DOFS for iv in self.dofs[name].active_intervals())
        if not self.truth.reps:
            return
        step = 0.005
        grid = np.arange(0.0, self.truth.reps[-1]["end_s"] + 2 * step, step)
        knee = np.degrees(self.dofs["knee"].evaluate(grid).q)
        head = -np.degrees(self.dofs["trunk"].evaluate(grid).q + self.dofs["neck"].evaluate(grid).q)
        for r in self.truth.reps:
            i0, i1 = np.searchsorted(grid, [r["start_s"], r["end_s"]])
            r["knee_rom_deg"] = float(np.ptp(knee[i0 : i1 + 1]))
            r["head_rom_deg"] = float(np.ptp(head[i0 : i1 + 1]))
            r["hold_s"] = _longest_still(moving, r["knee_top_s"], r["knee_back_start_s"])
            spec = r["spec"]
            r["held"] = r["hold_s"] >= HELD_MIN_S
            r["fast"] = min(spec["out_s"], spec["back_s"]) < FAST_MAX_S
            r["partial"] = spec["knee_rom_deg"] < PARTIAL_MAX_DEG
            r["halting"] = spec["halts"] > 0
            r["long_pause"] = spec["pause_before_s"] >= LONG_PAUSE_MIN_S


def _longest_still(moving: list[tuple[float, float]], a: float, b: float) -> float:
    """Longest sub-interval of [a, b] that no movement interval touches, s."""
    best, cursor = 0.0, a
    for s, e in moving:
        if e <= a:
            continue
        if s >= b:
            break
        best = max(best, min(s, b) - cursor)
        cursor = max(cursor, e)
    return max(best, b - cursor, 0.0) if cursor < b else best


def choreograph(script: SessionScript) -> Choreography:
    """Turn a script into joint trajectories, strap adjustments and ground truth."""
    if not script.sets:
        raise ValueError("a session script needs at least one set")
    return _Builder(script).build()


# -- random scripts ------------------------------------------------------------------------

VARIETY = {
    # probability of each rep condition (independent draws; tensioner comes from the set)
    "clean": {"held": 0.0, "partial": 0.0, "halting": 0.0, "fast": 0.0, "long_pause": 0.0},
    "typical": {"held": 0.1, "partial": 0.08, "halting": 0.08, "fast": 0.08, "long_pause": 0.05},
    "messy": {"held": 0.2, "partial": 0.15, "halting": 0.2, "fast": 0.15, "long_pause": 0.1},
}


def random_rep(rng: np.random.Generator, technique: Technique, variety: str) -> RepSpec:
    """Draw one rep: a normal glide, possibly held, partial, halting, fast or after a long pause."""
    p = VARIETY[variety]
    u = rng.uniform
    kw: dict[str, Any] = dict(
        technique=technique,
        out_s=u(1.8, 3.5),
        back_s=u(1.8, 3.5),
        knee_rom_deg=u(60.0, 85.0),
        trunk_rom_deg=u(10.0, 25.0) if technique == "slider" else 0.0,
        neck_rom_deg=u(30.0, 45.0) if technique == "slider" else u(25.0, 40.0),
        look_up_deg=u(15.0, 30.0) if technique == "slider" else 0.0,
        look_s=u(0.6, 1.2),
        head_lag_s=u(-0.25, 0.35),
        knee_rest_shift_deg=float(np.clip(rng.normal(0.0, 1.5), -4.0, 4.0)),
        pause_before_s=u(0.3, 2.0),
        settle_s=u(0.05, 0.25),
    )
    draws = {k: rng.random() < v for k, v in p.items()}
    if draws["fast"]:
        kw.update(
            out_s=u(0.8, 1.3), back_s=u(0.8, 1.3), look_s=u(0.4, 0.6), pause_before_s=u(0.0, 0.4)
        )
        kw.update(look_up_deg=u(10.0, 20.0) if technique == "slider" else 0.0)
    if draws["held"]:
        kw.update(hold_s=u(2.0, 6.0), hold_at=str(rng.choice(["top", "look_up"])))
    if draws["partial"]:
        kw.update(knee_rom_deg=u(25.0, 42.0), trunk_rom_deg=kw["trunk_rom_deg"] * 0.6)
    if draws["halting"] and not draws["fast"]:
        kw.update(
            halts=int(rng.integers(1, 4)),
            halt_s=u(0.3, 0.7),
            tremor_deg=u(0.2, 0.8),  # physiological tremor: tenths of a degree at 6–10 Hz
            tremor_hz=u(6.0, 10.0),
            out_s=u(2.5, 4.0),
            back_s=u(2.5, 4.0),
        )
    if draws["long_pause"]:
        kw.update(pause_before_s=u(5.0, 12.0))
    return RepSpec(**kw)


def random_fidget(rng: np.random.Generator, kind: FidgetKind, head: bool = True) -> FidgetSpec:
    """Draw one fidget of the given kind."""
    u = rng.uniform
    if kind == "leg_swing":
        freq = u(0.8, 1.5)
        return FidgetSpec(kind, int(rng.integers(2, 6)) / freq, u(4.0, 10.0), freq_hz=freq)
    if kind == "seat_shift":
        return FidgetSpec(
            kind, u(1.0, 2.5), float(rng.choice([-1, 1])) * u(0.02, 0.05), residual=u(-4.0, 4.0)
        )
    if kind == "head_turn":
        return FidgetSpec(kind, u(2.0, 4.0), float(rng.choice([-1, 1])) * u(30.0, 70.0))
    axis = rng.normal(size=3)
    return FidgetSpec(
        kind,
        u(2.0, 4.0),
        u(15.0, 40.0),
        residual=u(-3.0, 3.0),
        sensor=str(rng.choice(["shin", "head"])) if head else "shin",  # type: ignore[arg-type]
        axis=tuple(float(v) for v in axis / np.linalg.norm(axis)),  # type: ignore[arg-type]
    )


def random_script(
    rng: np.random.Generator,
    sets: int = 2,
    reps_per_set: int = 8,
    technique: Literal["slider", "tensioner", "mixed"] = "slider",
    variety: str = "typical",
    fidgets: bool = True,
    head: bool = True,
    calibration: bool = True,
) -> SessionScript:
    """Draw a session: ``sets`` × ``reps_per_set`` reps with rests of 20–60 s holding fidgets."""
    if variety not in VARIETY:
        raise ValueError(f"variety must be one of {sorted(VARIETY)}, got {variety!r}")
    if sets < 1 or reps_per_set < 1:
        raise ValueError("need at least one set of one rep")
    techniques: list[Technique]
    if technique == "mixed":
        techniques = [("slider", "tensioner")[i % 2] for i in range(sets)]
        rng.shuffle(techniques)
    else:
        techniques = [technique] * sets
    kinds: tuple[FidgetKind, ...] = ("leg_swing", "seat_shift", "head_turn", "strap_handling")
    out = []
    for i in range(sets):
        reps = tuple(random_rep(rng, techniques[i], variety) for _ in range(reps_per_set))
        reps = (_with_pause(reps[0], rng.uniform(2.0, 4.0)), *reps[1:])
        rest = rng.uniform(20.0, 60.0)
        placed: list[tuple[float, FidgetSpec]] = []
        if fidgets and i < sets - 1:
            cursor = rng.uniform(1.0, 4.0)
            for _ in range(int(rng.integers(1, 5))):
                f = random_fidget(rng, kinds[int(rng.integers(len(kinds)))], head=head)
                if cursor + f.duration_s > rest - 2.0 - 5.0:  # keep clear of the set-up move
                    break
                placed.append((cursor, f))
                cursor += f.duration_s + rng.uniform(1.0, 6.0)
        out.append(SetSpec(reps, rest_after_s=rest, fidgets=tuple(placed)))
    posture = Posture(
        knee_rest_deg=float(rng.normal(0.0, 5.0)),
        slump_trunk_deg=rng.uniform(20.0, 30.0),
        chin_neck_deg=rng.uniform(35.0, 45.0),
        upright_trunk_deg=rng.uniform(0.0, 8.0),
    )
    return SessionScript(
        tuple(out),
        posture=posture,
        lead_in_s=rng.uniform(3.0, 5.0),
        calibration=calibration,
        calibration_look_up_deg=rng.uniform(20.0, 35.0),
    )


def _with_pause(spec: RepSpec, pause_s: float) -> RepSpec:
    d = asdict(spec)
    d["pause_before_s"] = max(spec.pause_before_s, pause_s)
    return RepSpec(**d)
