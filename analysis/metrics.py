"""Per-rep quality metrics, computed from the rep's own samples once it has ended.

For each strap the rep's rotation axis is the principal axis of its bias-corrected angular rate
over the rep; the angle about it is the integrated rate, calibrated against the accelerometer
where the strap is still (least-squares scale, offset and drift), so it is drift-free and keeps
the gyro's shape during movement. The knee's extension direction is the way it went out; the
head's comes from the start-up look-up or a slider's end-range look-up (see ``RepContext``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, filtfilt

from analysis.angles import accel_rotation_deg
from analysis.coordination import classify_technique, continuous_relative_phase, xcorr_lag
from analysis.frontend import StrapFrontEnd
from analysis.params import RepParams
from analysis.results import Rep
from analysis.segmentation import RepSegment
from analysis.smoothness import ldlj, sparc

#: Quality penalty per flag (points off 100). Documented in docs/analysis.md.
PENALTIES = {
    "too_fast": 20,
    "too_slow": 10,
    "held": 20,
    "partial": 20,
    "halting": 20,
    "head_not_coordinated": 15,
    "no_look_up": 10,
    "head_missing": 0,
    "head_direction_unknown": 0,
}


@dataclass
class RepContext:
    """What the analysis knows about the session so far (updated as reps come in)."""

    head_axis: np.ndarray | None = None  # head's extension axis in its sensor frame (unit)
    head_axis_source: str = "unknown"  # "calibration", "look_up" or "unknown"
    head_axis_sum: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class _Strap:
    t: np.ndarray
    w: np.ndarray
    phi: np.ndarray
    acc: np.ndarray
    still: np.ndarray
    rate: float


def _slice(fe: StrapFrontEnd, t0: float, t1: float) -> _Strap | None:
    cols = fe.cols
    if cols is None or len(cols) == 0:
        return None
    t = cols.get("t")
    a, b = np.searchsorted(t, [t0, t1])
    if b - a < 4:
        return None
    get = lambda k: cols.get(k)[a:b]  # noqa: E731
    return _Strap(t[a:b], get("w"), get("phi"), get("acc"), get("still"), fe.rate_hz or 100.0)


def principal_axis(w: np.ndarray) -> np.ndarray:
    """Unit eigenvector of Σ w wᵀ with the largest eigenvalue (sign arbitrary)."""
    _, vecs = np.linalg.eigh(w.T @ w)
    return vecs[:, -1]


def fused_angle_deg(s: _Strap, axis: np.ndarray) -> np.ndarray:
    """Angle about ``axis`` (deg, 0 at the window start): gyro integral calibrated on still samples.

    Where the strap is still the accelerometer gives the true angle; θ = k·θ_gyro + c + d·t is
    fitted to it there (k only when still samples lie at two angles ≥ 10° apart, e.g. rest and
    end range; k limited to ±10 %), correcting gyro offset, drift and scale error.
    """
    theta_g = (s.phi - s.phi[0]) @ axis
    still = s.still & np.isfinite(s.acc).all(axis=1)
    if still.sum() < 3:
        return theta_g - theta_g[0]
    ref = s.acc[np.argmax(still)]
    theta_a = accel_rotation_deg(s.acc, axis, ref)
    tt = s.t - s.t[0]
    g, a, ts = theta_g[still], theta_a[still], tt[still]
    cols = [np.ones_like(g)]
    if np.ptp(ts) > 1.0:
        cols.append(ts)
    scale = np.ptp(g) >= 10.0
    if scale:
        cols.append(g)
        coef, *_ = np.linalg.lstsq(np.column_stack(cols), a, rcond=None)
        k = float(np.clip(coef[-1], 0.9, 1.1))
        rest, *_ = np.linalg.lstsq(np.column_stack(cols[:-1]), a - k * g, rcond=None)
    else:
        k = 1.0
        rest, *_ = np.linalg.lstsq(np.column_stack(cols), a - g, rcond=None)
    out = k * theta_g + rest[0] + (rest[1] * tt if len(rest) > 1 else 0.0)
    return out - out[0]


def _uniform(t: np.ndarray, x: np.ndarray, t0: float, t1: float, rate: float) -> np.ndarray:
    grid = np.arange(t0, t1, 1.0 / rate)
    return np.interp(grid, t, x) if len(grid) else np.zeros(0)


@functools.lru_cache(maxsize=16)
def _ldlj_lowpass(rate: float) -> tuple[np.ndarray, np.ndarray] | None:
    return butter(2, 10.0 / (rate / 2.0)) if rate > 25.0 else None  # type: ignore[return-value]


def _glide_smoothness(t, speed, windows, rate, with_ldlj: bool = True) -> tuple[float, float]:
    """Mean SPARC and LDLJ over glides. LDLJ's jerk (2nd derivative) would measure sensor noise
    on raw IMU speed, so its input is first low-passed at SPARC's 10 Hz (2nd-order Butterworth,
    zero phase)."""
    sp, lj = [], []
    lowpass = _ldlj_lowpass(float(rate)) if with_ldlj else None
    for a, b in windows:
        v = _uniform(t, speed, a, b, rate)
        if len(v) >= 8:
            sp.append(sparc(v, rate))
            if with_ldlj:
                vf = filtfilt(*lowpass, v) if lowpass is not None and len(v) > 9 else v
                lj.append(ldlj(vf, rate))
    return (float(np.nanmean(sp)) if sp else np.nan, float(np.nanmean(lj)) if lj else np.nan)


def _longest_run_s(t: np.ndarray, flags: np.ndarray) -> float:
    """Duration (s) of the longest run of True, first to last sample."""
    if not flags.any():
        return 0.0
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return float(np.max(t[stops] - t[starts]))


def compute_rep(
    seg: RepSegment,
    shin: StrapFrontEnd,
    head: StrapFrontEnd | None,
    ctx: RepContext,
    p: RepParams,
) -> Rep:
    """All metrics of one rep (see analysis/dictionary.py for the definitions)."""
    cols = shin.cols
    assert cols is not None
    rate = shin.rate_hz or 100.0
    t_onset, t_kend = seg.knee_onset_s, seg.knee_end_s
    pad = 0.5
    # after the rep, only data the live analysis had when it decided (live == offline)
    until = min(seg.end_s + pad, seg.decided_s)
    k = _slice(shin, seg.start_s - pad, until)
    assert k is not None
    inside = (k.t >= seg.start_s) & (k.t <= seg.end_s)
    axis = principal_axis(k.w[inside])
    if axis @ seg.excursion_axis < 0:
        axis = -axis
    theta = fused_angle_deg(k, axis)
    omega = k.w @ axis
    knee_in = (k.t >= t_onset) & (k.t <= t_kend)
    th_in = np.where(knee_in, theta, -np.inf)
    i_max = int(np.argmax(th_in))
    rom = float(theta[i_max] - theta[knee_in].min())
    tol = max(p.end_range_deg, 0.08 * rom)
    in_range = np.flatnonzero(knee_in & (theta >= theta[i_max] - tol))
    i_top0, i_back0 = int(in_range[0]), int(in_range[-1])
    stopped = np.abs(omega) < p.onset_dps
    tops = np.flatnonzero(stopped[i_top0 : i_back0 + 1])
    if len(tops):
        i_top = i_top0 + int(tops[0])
        i_back = i_top0 + int(tops[-1])
    else:
        i_top = i_back = i_max
    t_top, t_back = float(k.t[i_top]), float(k.t[i_back])
    out_s, back_s = t_top - t_onset, t_kend - t_back
    peak_speed = float(np.abs(omega[knee_in]).max())
    glides = [(t_onset, t_top), (t_back, t_kend)]
    knee_sparc, knee_ldlj = _glide_smoothness(k.t, np.abs(omega), glides, rate)
    halting = _has_halt(k.t, theta, omega, glides, rom, p)

    # -- head ------------------------------------------------------------------------------------
    flags: list[str] = []
    h = _slice(head, seg.start_s - pad, until) if head is not None else None
    head_rom = sparc_head = lag = crp_mean = crp_sd = look_up = np.nan
    technique = "unclear"
    hold_head_speed = None
    if h is None:
        flags.append("head_missing")
    else:
        h_in = (h.t >= seg.start_s) & (h.t <= seg.end_s)
        h_axis = principal_axis(h.w[h_in])
        theta_h = fused_angle_deg(h, h_axis)
        omega_h = h.w @ h_axis
        look_mask = (h.t >= t_top) & (h.t <= t_back)
        look_up, look_dir = _look_up(theta_h, look_mask, p)
        sign = 0.0
        if ctx.head_axis is not None:
            sign = float(np.sign(h_axis @ ctx.head_axis)) or 1.0
        elif look_dir != 0:
            sign = look_dir
        if sign != 0:
            theta_h, omega_h, h_axis = sign * theta_h, sign * omega_h, sign * h_axis
            _learn_head_axis(ctx, h_axis, look_dir != 0)
        else:
            flags.append("head_direction_unknown")
        head_rom = float(np.ptp(theta_h[h_in]))
        grid0, grid1 = seg.start_s, seg.end_s
        kg = _uniform(k.t, theta, grid0, grid1, rate)
        hg = _uniform(h.t, theta_h, grid0, grid1, rate)
        tg = np.arange(grid0, grid1, 1.0 / rate)[: len(kg)]
        glide = (tg <= t_top) | (tg >= t_back)
        if sign != 0:
            technique, _ = classify_technique(
                kg[glide], hg[glide], head_rom, p.head_min_rom_deg, p.coupling_min_r
            )
        lag_sign = {"slider": 1, "tensioner": -1}.get(technique, 0)
        lag, _ = xcorr_lag(kg, hg, rate, max_lag_s=1.0, sign=lag_sign)
        crp_mean, crp_sd = continuous_relative_phase(kg, hg)
        head_glides = [(seg.start_s, t_top), (t_back, seg.end_s)]
        sparc_head, _ = _glide_smoothness(h.t, np.abs(omega_h), head_glides, h.rate, False)
        hold_head_speed = np.interp(k.t, h.t, np.linalg.norm(h.w, axis=1))
        uncoupled = technique == "unclear" and sign != 0
        if head_rom < p.head_min_rom_deg or uncoupled or abs(lag) > p.lag_flag_s:
            flags.append("head_not_coordinated")
        if technique == "slider" and look_up < p.look_up_min_deg:
            flags.append("no_look_up")

    # -- holds, tempo, flags, quality ----------------------------------------------------------
    still_both = np.linalg.norm(k.w, axis=1) < p.hold_dps
    if hold_head_speed is not None:
        still_both &= hold_head_speed < p.hold_dps
    at_top = (k.t >= t_top) & (k.t <= t_back)
    hold = _longest_run_s(k.t[at_top], still_both[at_top]) if at_top.any() else 0.0
    if min(out_s, back_s) < p.fast_glide_s:
        flags.append("too_fast")
    if max(out_s, back_s) > p.slow_glide_s:
        flags.append("too_slow")
    if hold >= (p.hold_flag_s if h is not None else p.hold_flag_shin_only_s):
        flags.append("held")
    if rom < p.partial_deg:
        flags.append("partial")
    if halting or (np.isfinite(knee_sparc) and knee_sparc < p.halting_sparc):
        flags.append("halting")
    order = list(PENALTIES)
    flags.sort(key=order.index)
    quality = max(0.0, 100.0 - sum(PENALTIES[f] for f in flags))
    return Rep(
        rep=seg.rep,
        set=seg.set,
        start_s=seg.start_s,
        end_s=seg.end_s,
        duration_s=seg.end_s - seg.start_s,
        out_s=out_s,
        back_s=back_s,
        knee_rom_deg=rom,
        head_rom_deg=float(head_rom),
        knee_peak_speed_dps=peak_speed,
        hold_s=hold,
        pause_before_s=seg.pause_before_s,
        sparc=knee_sparc,
        ldlj=knee_ldlj,
        sparc_head=float(sparc_head),
        coordination_lag_s=float(lag),
        crp_mean_deg=float(crp_mean),
        crp_sd_deg=float(crp_sd),
        technique=technique,  # type: ignore[arg-type]
        quality=quality,
        flags=tuple(flags),
        knee_top_s=t_top,
        knee_back_start_s=t_back,
        look_up_deg=float(look_up),
    )


def _look_up(theta_h: np.ndarray, mask: np.ndarray, p: RepParams) -> tuple[float, float]:
    """Extra head rotation out and back while the knee is at end range: (size deg, direction)."""
    idx = np.flatnonzero(mask)
    if len(idx) < 4:
        return 0.0, 0.0
    d = theta_h[idx] - theta_h[idx[0]]
    j = int(np.argmax(np.abs(d)))
    size = abs(float(d[j]))
    returned = abs(float(d[-1])) <= 0.5 * size
    if size >= p.look_up_min_deg and returned and 0 < j < len(d) - 1:
        return size, float(np.sign(d[j]))
    return 0.0, 0.0


def _learn_head_axis(ctx: RepContext, axis: np.ndarray, from_look_up: bool) -> None:
    """Refine the head's extension axis with a rep whose direction is known."""
    if ctx.head_axis is None and from_look_up:
        ctx.head_axis_source = "look_up"
    ctx.head_axis_sum = ctx.head_axis_sum + axis
    ctx.head_axis = ctx.head_axis_sum / np.linalg.norm(ctx.head_axis_sum)


def _has_halt(t, theta, omega, glides, rom, p: RepParams) -> bool:
    """The knee stops for ``halt_min_s`` with 15–85 % of its range covered, within a glide."""
    lo = theta.min()
    for a, b in glides:
        m = (t > a) & (t < b)
        if m.sum() < 3:
            continue
        frac = (theta[m] - lo) / max(rom, 1e-9)
        stop = (np.abs(omega[m]) < p.onset_dps) & (frac > 0.15) & (frac < 0.85)
        if _longest_run_s(t[m], stop) >= p.halt_min_s:
            return True
    return False
