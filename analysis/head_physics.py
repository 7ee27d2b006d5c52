"""The head's extension direction without a look-up: from gravity, the strap's build and posture.

Issue 9: settle which way of the head strap's pitch rotation is *extension* for sessions with no
look-up at all, and never guess. This module is a study candidate; nothing in the analysis calls
it yet (see :func:`assess_head_direction` for how it would be wired in).

What is identifiable (docs in the study report, ``benchmarks/head_physics.py``):

* **Nothing, from the head strap's kinematics alone.** Give the head strap the mounting
  ``Rz(180°)·M`` (the pod on the other side of the head) and the body the mirrored motion (every
  pitch negated: head and trunk extend where they flexed): the strap's orientation becomes
  ``Rz(180°)·R(t)``, its linear acceleration ``Rz(180°)·a(t)`` and gravity is unchanged, so it
  reads exactly the same specific force and rate — lever arm (strap above the pivot) and all.
* **Nor with the shin strap**: both straps know "up", the shin also its world frame (the knee's
  extension is known), but nothing fixes the heading of the head strap relative to the shin's
  (no magnetometer); the mirror above leaves the shin's data untouched. Only an acceleration
  both straps feel at once (the pelvis moving: seat shifts, slides, chair bumps) would link the
  two frames, and a clean session has none.
* **What breaks the mirror is a prior**: the mirrored person sits with the head extended most
  of the time and never flexes it, which people doing this exercise without look-ups do not do.
  To use it the head's own long axis ``e`` must be known in the strap frame: its inclination
  from gravity about the pitch axis ``a``, signed with ``a`` as the flexion axis, is the head's
  pitch ``β`` (+ = flexion) under one hypothesis and ``−β`` under the other.
* ``e`` comes from the strap's build: the pod sits flat on the head band, so its z axis is the
  band's normal (either way), horizontal in the head's frame up to the pod's tilt on the band
  (≤ ``tilt_max_deg``). The pitch axis is horizontal in the head's frame too, so
  ``e ∝ a × z`` (sign: up), with an error of at most ``atan(tan(tilt)/|a × z|)`` in the sagittal
  plane: exact for a pod on the forehead or the back of the head, useless on the side
  (``|a × z| → 0``, the normal is the pitch axis itself).

Decision: with the head's measured pitch ``β`` (each hypothesis, its sign), over the session so
far, its low and high percentiles must lie in the ranges a seated person without look-ups
covers (``lo_range_deg``, ``hi_range_deg``) after removing one common offset ``|ε| ≤ E`` (the
``e`` error bound). A hypothesis is *feasible* if such an ``ε`` exists; the axis is returned
only if exactly one is, and the other misses by at least ``min_margin_deg`` (the slack every
bound would need to gain for it to fit: the confidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.vectors import row_norm

G = 9.80665  # m/s²


@dataclass(frozen=True)
class HeadPhysicsParams:
    """Thresholds and priors of the physics-based head direction (study values)."""

    tilt_max_deg: float = 15.0  # how far the pod may tilt on its band (its z off the normal)
    axis_err_deg: float = 3.0  # pitch-axis estimate and band play, deg; it reaches ``e`` as
    #   ``axis_err_deg / |a × z|`` (a cross product with a near-parallel z magnifies it)
    min_normal_sin: float = 0.45  # |a × z| below this: the band normal is too near the axis
    min_planar: float = 0.6  # share of the reps' rate energy about the pitch axis (sway, bumps
    #   and knocks take up to a third of it; the axis itself stays within a few degrees)
    max_rate_dps: float = 200.0  # faster samples (bumps, knocks) are left out of the axis
    min_head_rom_deg: float = 15.0  # the head must pitch this much (p95 − p5) to say anything
    min_reps: int = 2  # reps seen before deciding
    gravity_tol_mps2: float = 0.6  # samples whose |acc mean| is this close to g give gravity
    lo_pct: float = 5.0  # percentiles of the pitch that are compared with the priors
    hi_pct: float = 95.0
    # the most extended (lo) and most flexed (hi) pitch (deg, + = flexion from upright) of a
    # seated session without look-ups, with margin (tuning seeds; see the benchmark)
    lo_range_deg: tuple[float, float] = (-20.0, 22.0)
    hi_range_deg: tuple[float, float] = (25.0, 85.0)
    min_margin_deg: float = 5.0  # the rejected hypothesis must miss by this much


@dataclass(frozen=True)
class HeadPhysics:
    """What :func:`assess_head_direction` found: the axis, or why there is none, and the
    evidence (for diagnosis and the benchmark)."""

    axis: np.ndarray | None  # extension axis (unit, head sensor frame), None: undecided
    confidence: float  # deg: how far the rejected hypothesis misses (0 when undecided)
    reason: str  # "decided" or why not
    pitch_axis: np.ndarray | None = None  # principal axis of the reps' rate (sign arbitrary)
    normal_sin: float = 0.0  # |a × z|
    error_bound_deg: float = 0.0  # E
    pitch_pct_deg: tuple[float, float] = (np.nan, np.nan)  # (lo, hi) with pitch_axis as flexion
    miss_deg: tuple[float, float] = (np.nan, np.nan)  # slack needed: (+pitch_axis, −pitch_axis)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _miss(lo: float, hi: float, err: float, p: HeadPhysicsParams) -> float:
    """Slack (deg) every bound needs so that some offset |ε| ≤ err puts (lo, hi) − ε in the
    priors; 0 if it already fits."""
    (l1, l2), (u1, u2) = p.lo_range_deg, p.hi_range_deg
    left = max(lo - l2, hi - u2, -err)
    right = min(lo - l1, hi - u1, err)
    return max(0.0, (left - right) / 2.0)


def assess_head_direction(
    t: np.ndarray,
    w_dps: np.ndarray,
    acc_mean_mps2: np.ndarray,
    segments: list[tuple[float, float]],
    params: HeadPhysicsParams | None = None,
    usable: np.ndarray | None = None,
) -> HeadPhysics:
    """Assess the head's extension axis from its strap's front-end columns so far: ``axis``
    (unit, head sensor frame) and ``confidence`` (deg by which the other direction misses the
    priors), or ``axis`` None and ``confidence`` 0 when physics cannot tell (``reason`` says why).

    ``t``, ``w_dps`` (bias-corrected rate), ``acc_mean_mps2`` (the front-end's windowed mean
    acceleration): the head strap's rows up to now; ``segments``: ``(start_s, end_s)`` of the
    reps detected so far; ``usable``: rows to use for gravity (default: all but the first
    window, where the mean is still filling up).

    Inputs are what ``OnlineAnalyzer`` holds: the head front-end's ``t``, ``w`` and ``acc_mean``
    columns up to the latest decided rep, and the detected reps' ``(start_s, end_s)``. Wiring
    (not done): in ``OnlineAnalyzer._advance``, after a rep is appended and while
    ``head_direction.axis`` is None, call this on the head rows up to ``seg.decided_s``; on an
    axis, ``HeadDirection.calibrated``-like with source ``"physics"`` and ``_revise``.
    """
    p = params or HeadPhysicsParams()
    if len(segments) < p.min_reps or len(t) < 10:
        return HeadPhysics(None, 0.0, "too_few_reps")
    in_rep = np.zeros(len(t), dtype=bool)
    for a, b in segments:
        i0, i1 = np.searchsorted(t, [a, b])
        in_rep[i0:i1] = True
    w = w_dps[in_rep]
    w = w[row_norm(w) < p.max_rate_dps]
    if len(w) < 10:
        return HeadPhysics(None, 0.0, "no_head_data")
    vals, vecs = np.linalg.eigh(w.T @ w)
    a = vecs[:, -1]
    planar = float(vals[-1] / max(vals.sum(), 1e-12))
    if planar < p.min_planar:
        return HeadPhysics(None, 0.0, "not_planar", a)
    c = np.cross(a, np.array([0.0, 0.0, 1.0]))
    s = float(np.linalg.norm(c))
    tilt = np.tan(np.radians(p.tilt_max_deg))
    err = float(np.degrees(np.arctan2(tilt, s))) + p.axis_err_deg / max(s, 1e-6)
    if s < p.min_normal_sin:
        return HeadPhysics(None, 0.0, "normal_along_axis", a, s, err)
    e = c / s
    ok = np.abs(row_norm(acc_mean_mps2) - G) < p.gravity_tol_mps2
    if usable is None:
        usable = np.ones(len(t), dtype=bool)
        usable[: min(len(t), 64)] = False
    ok &= usable
    if ok.sum() < 10:
        return HeadPhysics(None, 0.0, "no_gravity", a, s, err)
    u = acc_mean_mps2[ok] / row_norm(acc_mean_mps2[ok])[:, None]
    if np.median(u @ e) < 0:
        e = -e  # the head's long axis points up
    # pitch with ``a`` as the flexion axis: flexion tips e towards a × up (forward)
    beta = np.degrees(np.arctan2(np.cross(a, u) @ e, u @ e))
    lo, hi = (float(v) for v in np.percentile(beta, [p.lo_pct, p.hi_pct]))
    if hi - lo < p.min_head_rom_deg:
        return HeadPhysics(None, 0.0, "head_still", a, s, err, (lo, hi))
    miss_pos = _miss(lo, hi, err, p)  # a is the flexion axis
    miss_neg = _miss(-hi, -lo, err, p)  # −a is
    detail = dict(pitch_axis=a, normal_sin=s, error_bound_deg=err, pitch_pct_deg=(lo, hi),
                  miss_deg=(miss_pos, miss_neg))  # fmt: skip
    if miss_pos == 0.0 and miss_neg >= p.min_margin_deg:
        return HeadPhysics(-a, miss_neg, "decided", **detail)  # type: ignore[arg-type]
    if miss_neg == 0.0 and miss_pos >= p.min_margin_deg:
        return HeadPhysics(a.copy(), miss_pos, "decided", **detail)  # type: ignore[arg-type]
    why = "both_fit" if miss_pos == 0.0 and miss_neg == 0.0 else "ambiguous"
    if miss_pos > 0 and miss_neg > 0:
        why = "neither_fits"
    return HeadPhysics(None, 0.0, why, **detail)  # type: ignore[arg-type]
