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

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from collector.constants import G_MPS2
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

SHIN_LENGTH_M = 0.43  # knee to the planted foot (a seat slide turns the shin about the foot)
SLIDE_GAP_S = 0.4  # a seat slide starts this long after the previous rep ends


@dataclass(frozen=True)
class Disturbances:
    """What real straps and restless people add to a session (docs/simulator.md,
    "Disturbances"). Rates are per minute of session, sizes the ranges measured on real straps
    and people; the default (everything zero / off) leaves a session exactly as without it.
    """

    # strap knocks: one sample of one strap reads the shock (sensor level)
    knocks_per_min: float = 0.0
    knock_acc_g: tuple[float, float] = (4.0, 15.0)  # |acc| of the knocked sample
    knock_gyro_dps: tuple[float, float] = (500.0, 1900.0)  # |gyro| of the knocked sample
    # chair bumps: the pelvis jolts and both straps wobble on their bands at once (body level)
    bumps_per_min: float = 0.0
    bump_ms: tuple[float, float] = (30.0, 80.0)  # duration, the same for both straps
    bump_acc_g: tuple[float, float] = (1.0, 4.0)  # peak acceleration of the pelvis
    bump_gyro_dps: tuple[float, float] = (50.0, 200.0)  # peak rate of each strap's wobble
    # hard hits beyond full scale: the strap clips at its int16 range (sensor level)
    saturation_per_min: float = 0.0
    saturation_ms: tuple[float, float] = (5.0, 20.0)  # hit duration (≥ 1 sample)
    saturation_x: tuple[float, float] = (1.1, 3.0)  # largest axis of the hit, × full scale
    # restless sitting: every joint sways for the whole session (body level)
    sway_deg: float = 0.0  # peak sway of each joint
    sway_hz: tuple[float, float] = (0.1, 0.8)
    sway_max_still_s: float | None = None  # the sway leaves no strap still for longer
    # seat slides between reps: the knee's rest angle moves by slide_deg, forward then back
    seat_slides: int = 0  # per session
    slide_deg: float = 15.0
    # short returns: a rep's knee stops this far above the rest it started from
    short_returns: float = 0.0  # probability per (non-partial) rep, never two in a row
    short_return_deg: tuple[float, float] = (10.0, 18.0)
    # no still start: the first movement begins after at most start_still_s of stillness
    no_still_start: bool = False
    start_still_s: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            if any(x is not None and not isinstance(x, bool) and x < 0 for x in vals):
                raise ValueError(f"disturbance {f.name} must not be negative, got {v}")
            if isinstance(v, tuple) and not (len(v) == 2 and v[0] <= v[1]):
                raise ValueError(f"disturbance {f.name} must be a range (low, high), got {v}")
        if self.short_returns > 1.0:
            raise ValueError(f"short_returns is a probability, got {self.short_returns:g}")

    @property
    def active(self) -> bool:
        """True if anything is disturbed."""
        rates = (self.knocks_per_min, self.bumps_per_min, self.saturation_per_min, self.sway_deg)
        moves = self.seat_slides > 0 or self.short_returns > 0 or self.no_still_start
        return any(v > 0 for v in rates) or moves


#: The disturbances one at a time, at three severities (the fault matrix,
#: benchmarks/robustness.py). Sizes not named here are the measured ranges above.
DISTURBANCE_LEVELS: dict[str, dict[str, dict[str, Any]]] = {
    "knocks": {
        "mild": {"knocks_per_min": 3.0},
        "typical": {"knocks_per_min": 9.0},  # 12 in an 80 s session, as measured
        "severe": {"knocks_per_min": 18.0},
    },
    "bumps": {
        "mild": {"bumps_per_min": 1.0},
        "typical": {"bumps_per_min": 2.0},  # 6 in a 16-rep session, as measured
        "severe": {"bumps_per_min": 5.0},
    },
    "saturation": {
        "mild": {"saturation_per_min": 1.0},
        "typical": {"saturation_per_min": 3.0},
        "severe": {"saturation_per_min": 6.0},
    },
    "sway": {
        "mild": {"sway_deg": 1.5},  # may still look still now and then
        "typical": {"sway_deg": 3.0, "sway_max_still_s": 0.4},
        "severe": {"sway_deg": 5.0, "sway_max_still_s": 0.4},
    },
    "seat_slides": {
        "mild": {"seat_slides": 1, "slide_deg": 5.0},
        "typical": {"seat_slides": 2, "slide_deg": 10.0},
        "severe": {"seat_slides": 3, "slide_deg": 15.0},  # 15°: the largest measured
    },
    "short_returns": {
        "mild": {"short_returns": 0.15, "short_return_deg": (5.0, 10.0)},
        "typical": {"short_returns": 0.3, "short_return_deg": (10.0, 18.0)},
        "severe": {"short_returns": 0.6, "short_return_deg": (10.0, 18.0)},
    },
    "no_still_start": {
        "mild": {"no_still_start": True, "start_still_s": 1.0},
        "typical": {"no_still_start": True, "start_still_s": 0.5},
        "severe": {"no_still_start": True, "start_still_s": 0.1},
    },
}
DISTURBANCE_KINDS = tuple(DISTURBANCE_LEVELS)
SEVERITIES = ("mild", "typical", "severe")


def disturbances_at(severity: str, kinds: tuple[str, ...] = DISTURBANCE_KINDS) -> Disturbances:
    """The disturbances ``kinds`` (default: all of them) at one severity."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    kw: dict[str, Any] = {}
    for kind in kinds:
        if kind not in DISTURBANCE_LEVELS:
            raise ValueError(f"unknown disturbance {kind!r}; use {', '.join(DISTURBANCE_KINDS)}")
        kw.update(DISTURBANCE_LEVELS[kind][severity])
    return Disturbances(**kw)


def disturbance_rngs(seed: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """One random stream per disturbance kind, so switching one on leaves the others alone."""
    return {
        k: np.random.default_rng(s)
        for k, s in zip(DISTURBANCE_KINDS, seed.spawn(len(DISTURBANCE_KINDS)), strict=True)
    }


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
    short_return_deg: float = 0.0  # the knee stops this far above the rest it started from
    seat_slide_deg: float = 0.0  # a seat slide before the rep moves the knee's rest by this
    seat_slide_s: float = 1.2  # duration of that slide


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
    calibration_top_s: float = 0.3  # pause at the top of the calibration look-up
    calibration_settle_s: float = 1.0  # still after the look-up, before the set's posture
    start_still_max_s: float | None = None  # set by a "no still start" disturbance (truth)


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
    #: disturbance events (knocks, bumps, saturation, sway, seat slides, short returns, no still
    #: start): ``kind, sensor, start_s, end_s`` and the event's sizes (docs/simulator.md)
    disturbances: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reps": self.reps,
            "fidgets": self.fidgets,
            "sets": self.sets,
            "calibration": self.calibration,
            "disturbances": self.disturbances,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroundTruth:
        return cls(
            list(d.get("reps", [])),
            list(d.get("fidgets", [])),
            list(d.get("sets", [])),
            dict(d.get("calibration", {})),
            list(d.get("disturbances", [])),
        )


@dataclass(frozen=True)
class StrapWobble:
    """A strap jolted on its band (chair bump): it turns about ``axis`` (segment frame) by
    ``rotation`` (rad; a one-cycle pulse that ends where it began) about its own centre."""

    sensor: Literal["shin", "head"]
    t0_s: float
    duration_s: float
    axis: tuple[float, float, float]
    rotation: DofTrajectory


@dataclass
class Choreography:
    """Joint trajectories, strap adjustments and ground truth of a scripted session."""

    dofs: dict[str, DofTrajectory]
    adjustments: list[StrapAdjustment]
    truth: GroundTruth
    duration_s: float
    wobbles: list[StrapWobble] = field(default_factory=list)

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
        self.knee_carry = 0.0  # rad the knee stays above its rest after a short return

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
        carry, short = self.knee_carry, rad(spec.short_return_deg)
        knee_start = self.now("knee")
        # after a short return the knee reaches its usual end range from where it stopped
        knee_out = knee_rom - carry if knee_rom - carry >= 0.6 * knee_rom else knee_rom
        if spec.technique == "slider":
            head_out = {"trunk": -rad(spec.trunk_rom_deg), "neck": -rad(spec.neck_rom_deg)}
        else:
            head_out = {"neck": rad(spec.neck_rom_deg)}
        knee_top = self.half(k0, {"knee": knee_out}, spec.out_s, halts, halt_s)
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
        if carry or short:  # back to the rest level (+ the rep's own shortfall)
            knee_back = -(carry + knee_out) + rad(spec.knee_rest_shift_deg) + short
        else:
            knee_back = -knee_rom + rad(spec.knee_rest_shift_deg)
        self.knee_carry = short
        knee_end = self.half(kb0, {"knee": knee_back}, spec.back_s, halts, halt_s)
        head_end = self.half(hb0, {k: -v for k, v in head_out.items()}, spec.back_s, halts, halt_s)
        if spec.tremor_deg > 0:
            tremor.append((kb0, knee_end))
        for a, b in tremor:
            self.dofs["knee"].add_oscillation(
                Oscillation(a, b - a, rad(spec.tremor_deg), spec.tremor_hz, phase_rad=0.3)
            )
        end = max(knee_end, head_end)
        if short:
            self.truth.disturbances.append(
                {
                    "kind": "short_return",
                    "sensor": "shin",
                    "rep": rep_no,
                    "start_s": knee_end,  # where the knee really stopped
                    "end_s": knee_end,
                    "short_deg": spec.short_return_deg,
                    "start_knee_deg": float(np.degrees(knee_start)),
                    "end_knee_deg": float(np.degrees(self.now("knee"))),
                }
            )
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

    def seat_slide(self, t0: float, deg: float, dur: float, before_rep: int) -> float:
        """Slide on the seat: the pelvis moves while the foot stays planted, so the shin's rest
        inclination changes by ``deg`` (− = sliding forward); the trunk leans into it."""
        th0 = self.now("knee")
        th1 = th0 + np.radians(deg)
        dx = -SHIN_LENGTH_M * (np.sin(th1) - np.sin(th0))  # foot fixed: the knee moves by dx
        self.move("knee", t0, dur, th1 - th0)
        self.move("hip_x", t0, dur, dx)
        lean = np.radians(8.0)
        self.move("trunk", t0, dur / 2, lean)
        self.move("trunk", t0 + dur / 2, dur / 2, -lean)
        self.truth.disturbances.append(
            {
                "kind": "seat_slide",
                "sensor": "both",
                "start_s": t0,
                "end_s": t0 + dur,
                "knee_deg": deg,
                "hip_x_m": float(dx),
                "before_rep": before_rep,
            }
        )
        return t0 + dur

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
        t = self.move("neck", t + s.calibration_top_s, 1.0, look)
        self.truth.calibration = {
            "still_start_s": 0.0,
            "still_end_s": s.lead_in_s,
            "look_up_start_s": t0,
            "look_up_end_s": t,
            "look_up_deg": s.calibration_look_up_deg,
        }
        return self.set_posture(t + s.calibration_settle_s, s.set_up_s, s.sets[0].technique)

    def build(self) -> Choreography:
        s = self.script
        t = self.calibrate() if s.calibration else s.lead_in_s
        rep_no = 0
        for set_no, st in enumerate(s.sets, start=1):
            set_start = None
            for spec in st.reps:
                rep_no += 1
                if spec.seat_slide_deg:
                    t = self.seat_slide(
                        t + SLIDE_GAP_S, spec.seat_slide_deg, spec.seat_slide_s, rep_no
                    )
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
        if self.knee_carry:  # relaxing, the knee goes back down after a short last return
            relax_end = max(relax_end, self.move("knee", t0 + 0.5, 1.5, -self.knee_carry))
            self.knee_carry = 0.0
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
        _rep_ranges(self.truth.reps, self.dofs)
        if self.script.start_still_max_s is not None:
            first = self.truth.reps[0]["start_s"]
            self.truth.disturbances.append(
                {
                    "kind": "no_still_start",
                    "sensor": "both",
                    "start_s": 0.0,
                    "end_s": first,
                    "max_still_s": self.script.start_still_max_s,
                    "first_move_s": min((a for a, _ in moving), default=first),
                    "still_s": _longest_still(moving, 0.0, first),
                }
            )
        for r in self.truth.reps:
            r["hold_s"] = _longest_still(moving, r["knee_top_s"], r["knee_back_start_s"])
            spec = r["spec"]
            r["held"] = r["hold_s"] >= HELD_MIN_S
            r["fast"] = min(spec["out_s"], spec["back_s"]) < FAST_MAX_S
            r["partial"] = spec["knee_rom_deg"] < PARTIAL_MAX_DEG
            r["halting"] = spec["halts"] > 0
            r["long_pause"] = spec["pause_before_s"] >= LONG_PAUSE_MIN_S


def _rep_ranges(reps: list[dict[str, Any]], dofs: dict[str, DofTrajectory]) -> None:
    """Set each rep's true knee and head range (max − min within the rep), deg."""
    step = 0.005
    grid = np.arange(0.0, reps[-1]["end_s"] + 2 * step, step)
    knee = np.degrees(dofs["knee"].evaluate(grid).q)
    head = -np.degrees(dofs["trunk"].evaluate(grid).q + dofs["neck"].evaluate(grid).q)
    for r in reps:
        i0, i1 = np.searchsorted(grid, [r["start_s"], r["end_s"]])
        r["knee_rom_deg"] = float(np.ptp(knee[i0 : i1 + 1]))
        r["head_rom_deg"] = float(np.ptp(head[i0 : i1 + 1]))


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


def choreograph(
    script: SessionScript,
    disturbances: Disturbances | None = None,
    rngs: dict[str, np.random.Generator] | None = None,
) -> Choreography:
    """Turn a script into joint trajectories, strap adjustments and ground truth; with
    ``disturbances`` add restless sway and chair bumps to the motion (random streams ``rngs``
    from :func:`disturbance_rngs`). Seat slides, short returns and a start without stillness
    are in the script (:func:`disturb_script`)."""
    if not script.sets:
        raise ValueError("a session script needs at least one set")
    choreo = _Builder(script).build()
    if disturbances is not None and (disturbances.sway_deg > 0 or disturbances.bumps_per_min > 0):
        if rngs is None:
            raise ValueError("body disturbances need their random streams (disturbance_rngs)")
        if disturbances.sway_deg > 0:
            _add_sway(choreo, disturbances, rngs["sway"])
            if choreo.truth.reps:  # the true angles (and so the ranges) include the sway
                _rep_ranges(choreo.truth.reps, choreo.dofs)
        if disturbances.bumps_per_min > 0:
            _add_bumps(choreo, disturbances, rngs["bumps"])
        choreo.truth.disturbances.sort(key=lambda e: e["start_s"])
    return choreo


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


# -- disturbances ----------------------------------------------------------------------------


def disturb_script(
    script: SessionScript, d: Disturbances, rngs: dict[str, np.random.Generator]
) -> SessionScript:
    """``script`` with the scripted disturbances of ``d``: short returns, seat slides between
    reps, and a start without stillness (the start-up still pose and pauses cut short)."""
    sets = [list(st.reps) for st in script.sets]
    flat = [(i, j) for i, st in enumerate(sets) for j in range(len(st))]
    if d.short_returns > 0:
        rng, prev_short = rngs["short_returns"], False
        for i, j in flat:
            u, size = rng.random(), rng.uniform(*d.short_return_deg)
            spec = sets[i][j]
            short = u < d.short_returns and not prev_short and spec.knee_rom_deg >= PARTIAL_MAX_DEG
            if short:
                sets[i][j] = replace(spec, short_return_deg=size, knee_rest_shift_deg=0.0)
            prev_short = short
    if d.seat_slides > 0 and len(flat) > 1:
        rng = rngs["seat_slides"]
        n = min(d.seat_slides, len(flat) - 1)
        picks = sorted(rng.choice(np.arange(1, len(flat)), n, replace=False))
        for k, p in enumerate(picks):
            i, j = flat[int(p)]
            sign = -1.0 if k % 2 == 0 else 1.0  # forward first (the shin inclines back), back
            sets[i][j] = replace(
                sets[i][j], seat_slide_deg=sign * d.slide_deg, seat_slide_s=rng.uniform(0.8, 1.5)
            )
    changes: dict[str, Any] = {}
    if d.no_still_start:
        rng, m = rngs["no_still_start"], d.start_still_s
        if script.calibration:  # the still pose, the look-up's top and the settle cut short
            changes.update(
                lead_in_s=rng.uniform(0.0, m),
                calibration_top_s=min(script.calibration_top_s, m),
                calibration_settle_s=rng.uniform(0.0, m / 2),
            )
            first_pause = rng.uniform(0.0, m / 2)
        else:  # the lead-in runs straight into the first rep's pause
            changes.update(lead_in_s=rng.uniform(0.0, m / 2))
            first_pause = rng.uniform(0.0, m / 2)
        sets[0][0] = replace(sets[0][0], pause_before_s=first_pause)
        changes["start_still_max_s"] = m
    new_sets = tuple(replace(st, reps=tuple(sets[i])) for i, st in enumerate(script.sets))
    return replace(script, sets=new_sets, **changes)


# Sway components: (joint, share of sway_deg, band). "slow" is the lowest 30 % of sway_hz
# (postural sway), "fast" the highest 30 % (restlessness: leg bouncing, head bobbing, glancing
# about). The trunk only sways slowly (a fast trunk sway would swing the head by its 0.55 m
# lever); the head's pitch (trunk + neck) and yaw, and the knee, get a fast part.
_SWAY: tuple[tuple[str, float, str], ...] = (
    ("knee", 0.25, "slow"),
    ("knee", 0.75, "fast"),
    ("trunk", 0.6, "slow"),
    ("neck", 0.3, "slow"),
    ("neck", 0.6, "fast"),
    ("yaw", 0.6, "fast"),
)
# The analysis front-end's stillness (analysis/frontend.py, docs/analysis.md): over 0.25 s the
# gyro's SD is below 1.5 °/s and its mean below 3 °/s. With ``sway_max_still_s`` the whole
# motion (script + sway, ideal sensors) may leave no strap still for longer than that minus a
# margin (noise, scale errors, coarse sampling); where it would, the restless person twitches.
_STILL_WINDOW_S, _STILL_SD_DPS, _STILL_RATE_DPS, _STILL_MARGIN_S = 0.25, 1.5, 3.0, 0.1
_STILL_DT_S = 0.01
_TWITCH_S = 1.5  # a twitch: one windowed sway cycle at the top of the band, on the still strap


def _joint_rates_dps(dofs: dict[str, DofTrajectory], t: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.degrees(dofs[name].evaluate(t).qd) for name in _ANGLE_DOFS}


def still_runs(
    rates_dps: dict[str, np.ndarray], dt_s: float = _STILL_DT_S
) -> list[tuple[str, float, float]]:
    """``(strap, start_s, end_s)`` of every time a strap is still by the analysis front-end's
    test, for joint rates (deg/s, sampled every ``dt_s`` from 0) seen by ideal sensors: the shin
    turns with the knee, the head with trunk + neck (pitch) and yaw. Times are window ends."""
    zeros = np.zeros_like(rates_dps["knee"])
    shin = np.stack([zeros, rates_dps["knee"], zeros], -1)
    head = np.stack([zeros, rates_dps["trunk"] + rates_dps["neck"], rates_dps["yaw"]], -1)
    n = max(1, round(_STILL_WINDOW_S / dt_s))
    out = []
    for strap, w in (("shin", shin), ("head", head)):
        c1 = np.cumsum(np.vstack([np.zeros(3), w]), axis=0)
        c2 = np.cumsum(np.vstack([np.zeros(3), w**2]), axis=0)
        m1, m2 = (c1[n:] - c1[:-n]) / n, (c2[n:] - c2[:-n]) / n
        var = np.maximum(m2 - m1**2, 0.0).sum(axis=1)
        still = (var < _STILL_SD_DPS**2) & (np.linalg.norm(m1, axis=1) < _STILL_RATE_DPS)
        edges = np.diff(np.concatenate(([0], still.astype(np.int8), [0])))
        for i0, i1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            out.append((strap, (i0 + n) * dt_s, (i1 + n) * dt_s))
    return out


def _add_sway(choreo: Choreography, d: Disturbances, rng: np.random.Generator) -> None:
    """Restless sitting: sinusoidal sway of every joint through the whole session (and, if
    everyone must keep moving, a twitch wherever the motion would still come to rest)."""
    lo, hi = d.sway_hz
    span = hi - lo
    duration = choreo.duration_s
    comps = []
    for dof, share, band in _SWAY:
        f_lo, f_hi = (lo, lo + 0.3 * span) if band == "slow" else (hi - 0.3 * span, hi)
        comps.append(
            {
                "dof": dof,
                "amplitude_deg": share * d.sway_deg,
                "freq_hz": float(rng.uniform(f_lo, f_hi)),
                "phase_rad": float(rng.uniform(0.0, 2.0 * np.pi)),
            }
        )
    for c in comps:
        choreo.dofs[c["dof"]].add_oscillation(
            Oscillation(
                0.0,
                duration + 1.0,
                np.radians(c["amplitude_deg"]),
                c["freq_hz"],
                c["phase_rad"],
                windowed=False,
            )
        )
    twitches: list[dict[str, Any]] = []
    if d.sway_max_still_s is not None:
        grid = np.arange(0.0, duration, _STILL_DT_S)
        limit = d.sway_max_still_s - _STILL_MARGIN_S
        for _ in range(20):
            runs = [
                r for r in still_runs(_joint_rates_dps(choreo.dofs, grid)) if r[2] - r[1] > limit
            ]
            if not runs:
                break
            for strap, a, b in runs:
                twitch = {
                    "dof": "knee" if strap == "shin" else "neck",
                    "start_s": float((a + b) / 2 - _STILL_WINDOW_S / 2 - _TWITCH_S / 2),
                    "duration_s": _TWITCH_S,
                    "amplitude_deg": 0.5 * d.sway_deg,
                    "freq_hz": hi,
                    "phase_rad": float(rng.uniform(0.0, 2.0 * np.pi)),
                }
                twitches.append(twitch)
                choreo.dofs[twitch["dof"]].add_oscillation(
                    Oscillation(
                        twitch["start_s"],
                        _TWITCH_S,
                        np.radians(twitch["amplitude_deg"]),
                        hi,
                        twitch["phase_rad"],
                    )
                )
        else:
            raise ValueError(
                f"a sway of {d.sway_deg:g}° at {lo:g}–{hi:g} Hz does not keep everyone moving "
                f"for {d.sway_max_still_s:g} s: raise sway_deg"
            )
    choreo.truth.disturbances.append(
        {
            "kind": "sway",
            "sensor": "both",
            "start_s": 0.0,
            "end_s": duration,
            "sway_deg": d.sway_deg,
            "band_hz": list(d.sway_hz),
            "max_still_s": d.sway_max_still_s,
            "components": comps,
            "twitches": twitches,
        }
    )


# max |d²/dτ² sin(2πτ)·sin⁴(πτ)| over τ ∈ [0, 1] (the pulse of a bump; max |d/dτ| is 2π)
_PULSE_QDD = 66.19224929514591


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _add_bumps(choreo: Choreography, d: Disturbances, rng: np.random.Generator) -> None:
    """Chair bumps: a one-cycle acceleration pulse of the pelvis (forward/back and up/down, so
    both straps feel it) and, over the same 30–80 ms, each strap wobbling on its band."""
    duration = choreo.duration_s
    n = int(rng.poisson(d.bumps_per_min * duration / 60.0))
    times = np.sort(rng.uniform(0.5, max(duration - 0.5, 0.5), n))
    last_end = -np.inf
    for t0 in times:
        dur = rng.uniform(*d.bump_ms) / 1000.0
        acc = rng.uniform(*d.bump_acc_g)
        direction = rng.uniform(0.0, 2.0 * np.pi)  # in the sagittal (x–z) plane
        rates = {sensor: rng.uniform(*d.bump_gyro_dps) for sensor in ("shin", "head")}
        axes = {sensor: _unit(rng) for sensor in ("shin", "head")}
        if t0 < last_end + 0.2:  # bumps are separate events
            continue
        last_end = t0 + dur
        amp = acc * G_MPS2 * dur**2 / _PULSE_QDD  # m: peak acceleration = acc
        for dof, share in (("hip_x", np.cos(direction)), ("hip_z", np.sin(direction))):
            choreo.dofs[dof].add_oscillation(Oscillation(float(t0), dur, amp * share, 1.0 / dur))
        for sensor in ("shin", "head"):
            rot = DofTrajectory()
            peak = np.radians(rates[sensor]) * dur / (2.0 * np.pi)  # rad: peak rate = rates
            rot.add_oscillation(Oscillation(float(t0), dur, peak, 1.0 / dur))
            axis = tuple(float(v) for v in axes[sensor])
            choreo.wobbles.append(StrapWobble(sensor, float(t0), dur, axis, rot))  # type: ignore[arg-type]
        choreo.truth.disturbances.append(
            {
                "kind": "bump",
                "sensor": "both",
                "start_s": float(t0),
                "end_s": float(t0 + dur),
                "duration_ms": dur * 1000.0,
                "acc_g": acc,
                "direction_deg": float(np.degrees(direction)),
                "shin_gyro_dps": rates["shin"],
                "head_gyro_dps": rates["head"],
            }
        )
