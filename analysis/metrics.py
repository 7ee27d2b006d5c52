"""Per-rep quality metrics, computed from the rep's own samples once it has ended.

For each strap the rep's rotation axis is the principal axis of its bias-corrected angular rate
over the rep; the angle about it is the integrated rate, calibrated against the accelerometer
where the strap is still (least-squares scale, offset and drift), so it is drift-free and keeps
the gyro's shape during movement. The knee's extension direction is the way it went out; the
head's comes from the start-up look-up or a slider's end-range look-up.

:func:`compute_rep` runs a few pure stages — knee summary, head summary, coordination, hold,
flags, quality — each returning its evidence. Nothing here keeps or changes session state: what
a rep teaches about the session (the head's extension axis) is returned as
:class:`HeadEvidence` for the analyzer to learn from.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, lfilter, lfilter_zi

from analysis.angles import accel_rotation_deg
from analysis.coordination import classify_technique, continuous_relative_phase, xcorr_lag
from analysis.frontend import StrapFrontEnd
from analysis.params import RepParams
from analysis.results import Rep
from analysis.segmentation import RepSegment
from analysis.smoothness import ldlj, sparc_each
from analysis.vectors import row_norm, true_runs

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
class _Strap:
    """One strap's samples around a rep: times (s), rate w and its integral phi (deg/s, deg),
    acceleration (m/s²), stillness, sample rate (Hz)."""

    t: np.ndarray
    w: np.ndarray
    phi: np.ndarray
    acc: np.ndarray
    still: np.ndarray
    rate: float


@dataclass(frozen=True)
class KneeSummary:
    """The knee over one rep: its angle on the rep's samples and where the glides are."""

    strap: _Strap
    theta: np.ndarray  # extension-positive angle (deg) at strap.t
    omega: np.ndarray  # angular rate about the knee axis (deg/s)
    t_onset: float
    t_end: float
    t_top: float  # reaches end range
    t_back: float  # leaves end range
    rom_deg: float
    peak_speed_dps: float
    sparc: float
    ldlj: float
    halting: bool

    @property
    def out_s(self) -> float:
        return self.t_top - self.t_onset

    @property
    def back_s(self) -> float:
        return self.t_end - self.t_back


@dataclass(frozen=True)
class HeadEvidence:
    """What a rep tells about the head's extension axis (unit, in the head sensor's frame)."""

    axis: np.ndarray
    from_look_up: bool  # True: this rep's own look-up fixed the sign (not an earlier axis)


@dataclass(frozen=True)
class HeadSummary:
    """The head over one rep (angles signed extension-positive when the direction is known)."""

    strap: _Strap
    theta: np.ndarray
    rom_deg: float
    look_up_deg: float
    sparc: float
    direction_known: bool
    evidence: HeadEvidence | None


@dataclass(frozen=True)
class Coordination:
    """Head against knee over one rep."""

    technique: str
    lag_s: float
    crp_mean_deg: float
    crp_sd_deg: float


def strap_slice(fe: StrapFrontEnd, t0: float, t1: float) -> _Strap | None:
    """One strap's front-end columns between session times ``t0`` and ``t1`` (None if < 4)."""
    cols = fe.cols
    if cols is None or len(cols) == 0:
        return None
    t = cols.get("t")
    a, b = np.searchsorted(t, [t0, t1])
    if b - a < 4:
        return None
    a, b = a + cols.base, b + cols.base
    get = functools.partial(cols.get, start=a, stop=b)
    return _Strap(get("t"), get("w"), get("phi"), get("acc"), get("still"), fe.rate)


def principal_axis(w: np.ndarray) -> np.ndarray:
    """Unit eigenvector of Σ w wᵀ with the largest eigenvalue (sign arbitrary)."""
    _, vecs = np.linalg.eigh(w.T @ w)
    return vecs[:, -1]


def fused_angle_deg(s: _Strap, axis: np.ndarray, p: RepParams | None = None) -> np.ndarray:
    """Angle about ``axis`` (deg, 0 at the window start): gyro integral calibrated on still samples.

    Where the strap is still the accelerometer gives the true angle; θ = k·θ_gyro + c + d·t is
    fitted to it there (d only when still samples span ``fit_drift_min_s``; k only when they lie
    at angles ``fit_scale_min_deg`` apart, e.g. rest and end range, limited to
    ±``fit_scale_limit``), correcting gyro offset, drift and scale error.
    """
    p = p or _DEFAULTS
    theta_g = (s.phi - s.phi[0]) @ axis
    still = s.still & np.isfinite(s.acc).all(axis=1)
    if still.sum() < 3:
        return theta_g - theta_g[0]
    acc_still = s.acc[still]
    tt = s.t - s.t[0]
    g, a, ts = theta_g[still], accel_rotation_deg(acc_still, axis, acc_still[0]), tt[still]
    cols = [np.ones_like(g)]
    if np.ptp(ts) > p.fit_drift_min_s:
        cols.append(ts)
    scale = np.ptp(g) >= p.fit_scale_min_deg
    if scale:
        cols.append(g)
        coef, *_ = np.linalg.lstsq(np.column_stack(cols), a, rcond=None)
        lim = p.fit_scale_limit
        k = float(np.clip(coef[-1], 1.0 - lim, 1.0 + lim))
        rest, *_ = np.linalg.lstsq(np.column_stack(cols[:-1]), a - k * g, rcond=None)
    else:
        k = 1.0
        rest, *_ = np.linalg.lstsq(np.column_stack(cols), a - g, rcond=None)
    out = k * theta_g + rest[0] + (rest[1] * tt if len(rest) > 1 else 0.0)
    return out - out[0]


_DEFAULTS = RepParams()


def _uniform(t: np.ndarray, x: np.ndarray, t0: float, t1: float, rate: float) -> np.ndarray:
    grid = np.arange(t0, t1, 1.0 / rate)
    return np.interp(grid, t, x) if len(grid) else np.zeros(0)


@functools.lru_cache(maxsize=16)
def _ldlj_lowpass(rate: float, fc: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """2nd-order Butterworth at ``fc`` (b, a) and its step-response initial state ``zi``;
    at ≤ 2.5·fc (fc at ≥ 80 % of Nyquist) the low-pass would barely filter: None."""
    if rate <= 2.5 * fc:
        return None
    b, a = butter(2, fc / (rate / 2.0))
    return b, a, lfilter_zi(b, a)


def filtfilt_cached(b: np.ndarray, a: np.ndarray, zi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.filtfilt(b, a, x)`` (its default odd extension of 3·max(len(a), len(b))
    samples) with the filter's ``lfilter_zi`` given: filtfilt solves for it on every call, which
    was most of its cost on short glides. Equal to filtfilt bit for bit (tested)."""
    n = 3 * max(len(a), len(b))
    ext = np.concatenate((2 * x[0] - x[n:0:-1], x, 2 * x[-1] - x[-2 : -n - 2 : -1]))
    y, _ = lfilter(b, a, ext, zi=zi * ext[0])
    y, _ = lfilter(b, a, y[::-1], zi=zi * y[-1])
    return y[::-1][n:-n]


def glide_smoothness(
    t: np.ndarray,
    speed: np.ndarray,
    windows: list[tuple[float, float]],
    rate: float,
    p: RepParams,
    with_ldlj: bool = True,
) -> tuple[float, float]:
    """Mean SPARC and LDLJ over glides (each resampled uniformly at ``rate``). LDLJ's jerk
    (2nd derivative) would measure sensor noise on raw IMU speed, so its input is first
    low-passed at SPARC's cut-off (2nd-order Butterworth, zero phase)."""
    lowpass = _ldlj_lowpass(float(rate), p.smoothness_fc_hz) if with_ldlj else None
    glides = [_uniform(t, speed, a, b, rate) for a, b in windows]
    glides = [v for v in glides if len(v) >= p.min_glide_samples]
    sp = sparc_each(glides, rate, fc=p.smoothness_fc_hz)
    lj = []
    if with_ldlj:
        for v in glides:
            vf = filtfilt_cached(*lowpass, v) if lowpass is not None and len(v) > 9 else v
            lj.append(ldlj(vf, rate))
    return _mean_of_finite(sp), _mean_of_finite(lj)


def _mean_of_finite(values: list[float]) -> float:
    """Mean of the non-NaN values of one or two glides (NaN if none): ``np.nanmean`` of them
    bit for bit, without its overhead."""
    v = [x for x in values if x == x]
    if len(v) > 2:
        return float(np.nanmean(v))
    return float(v[0] + v[1]) / 2.0 if len(v) == 2 else (float(v[0]) if v else np.nan)


def _longest_run_s(t: np.ndarray, flags: np.ndarray) -> float:
    """Duration (s) of the longest run of True, first to last sample."""
    starts, ends = true_runs(flags)
    return float(np.max(t[ends - 1] - t[starts])) if len(starts) else 0.0


# -- stages ----------------------------------------------------------------------------------


def knee_summary(seg: RepSegment, k: _Strap, p: RepParams) -> KneeSummary:
    """Knee angle, range, end range, glide times, peak speed, smoothness and halts of a rep."""
    t_onset, t_kend = seg.knee_onset_s, seg.knee_end_s
    inside = (k.t >= seg.start_s) & (k.t <= seg.end_s)
    axis = principal_axis(k.w[inside])
    if axis @ seg.excursion_axis < 0:
        axis = -axis
    theta = fused_angle_deg(k, axis, p)
    omega = k.w @ axis
    knee_in = (k.t >= t_onset) & (k.t <= t_kend)
    th_in = np.where(knee_in, theta, -np.inf)
    i_max = int(np.argmax(th_in))
    rom = float(theta[i_max] - theta[knee_in].min())
    tol = max(p.end_range_deg, p.end_range_frac * rom)
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
    glides = [(t_onset, t_top), (t_back, t_kend)]
    knee_sparc, knee_ldlj = glide_smoothness(k.t, np.abs(omega), glides, k.rate, p)
    return KneeSummary(
        strap=k,
        theta=theta,
        omega=omega,
        t_onset=t_onset,
        t_end=t_kend,
        t_top=t_top,
        t_back=t_back,
        rom_deg=rom,
        peak_speed_dps=float(np.abs(omega[knee_in]).max()),
        sparc=knee_sparc,
        ldlj=knee_ldlj,
        halting=_has_halt(k.t, theta, omega, glides, rom, p),
    )


def head_summary(
    seg: RepSegment, knee: KneeSummary, h: _Strap, head_axis: np.ndarray | None, p: RepParams
) -> HeadSummary:
    """Head angle, range, look-up and smoothness of a rep. Its direction comes from
    ``head_axis`` (learnt earlier in the session) or from this rep's own look-up."""
    h_in = (h.t >= seg.start_s) & (h.t <= seg.end_s)
    h_axis = principal_axis(h.w[h_in])
    theta_h = fused_angle_deg(h, h_axis, p)
    omega_h = h.w @ h_axis
    look_mask = (h.t >= knee.t_top) & (h.t <= knee.t_back)
    look_up, look_dir = _look_up(theta_h, look_mask, p)
    sign = 0.0
    if head_axis is not None:
        sign = float(np.sign(h_axis @ head_axis)) or 1.0
    elif look_dir != 0 and look_up >= p.look_up_evidence_deg:
        sign = look_dir
    evidence = None
    if sign != 0:
        theta_h, omega_h, h_axis = sign * theta_h, sign * omega_h, sign * h_axis
        evidence = HeadEvidence(h_axis, from_look_up=look_dir != 0)
    head_glides = [(seg.start_s, knee.t_top), (knee.t_back, seg.end_s)]
    sparc_head, _ = glide_smoothness(h.t, np.abs(omega_h), head_glides, h.rate, p, False)
    return HeadSummary(
        strap=h,
        theta=theta_h,
        rom_deg=float(np.ptp(theta_h[h_in])),
        look_up_deg=float(look_up),
        sparc=float(sparc_head),
        direction_known=sign != 0,
        evidence=evidence,
    )


def coordination(
    seg: RepSegment, knee: KneeSummary, head: HeadSummary, p: RepParams
) -> Coordination:
    """Technique (slider/tensioner/unclear), head lag and relative phase over the rep, on a
    uniform grid at the shin's rate."""
    rate = knee.strap.rate
    tg = np.arange(seg.start_s, seg.end_s, 1.0 / rate)
    kg = np.interp(tg, knee.strap.t, knee.theta)
    hg = np.interp(tg, head.strap.t, head.theta)
    glide = (tg <= knee.t_top) | (tg >= knee.t_back)
    technique = "unclear"
    if head.direction_known:
        technique, _ = classify_technique(
            kg[glide], hg[glide], head.rom_deg, p.head_min_rom_deg, p.coupling_min_r
        )
    lag_sign = {"slider": 1, "tensioner": -1}.get(technique, 0)
    lag, _ = xcorr_lag(kg, hg, rate, max_lag_s=p.lag_max_s, sign=lag_sign)
    crp_mean, crp_sd = continuous_relative_phase(kg, hg)
    return Coordination(technique, float(lag), float(crp_mean), float(crp_sd))


def hold_s(knee: KneeSummary, head: HeadSummary | None, p: RepParams) -> float:
    """Longest time at end range with both straps (the shin alone without a head strap)
    slower than ``hold_dps``."""
    k = knee.strap
    still_both = row_norm(k.w) < p.hold_dps
    if head is not None:
        h = head.strap
        still_both &= np.interp(k.t, h.t, row_norm(h.w)) < p.hold_dps
    at_top = (k.t >= knee.t_top) & (k.t <= knee.t_back)
    return _longest_run_s(k.t[at_top], still_both[at_top]) if at_top.any() else 0.0


def rep_flags(
    knee: KneeSummary,
    head: HeadSummary | None,
    coord: Coordination | None,
    hold: float,
    p: RepParams,
) -> tuple[str, ...]:
    """The rep's faults (docs/data-dictionary.md), in ``PENALTIES`` order."""
    flags: list[str] = []
    if head is None:
        flags.append("head_missing")
    else:
        assert coord is not None
        if not head.direction_known:
            flags.append("head_direction_unknown")
        uncoupled = coord.technique == "unclear" and head.direction_known
        if head.rom_deg < p.head_min_rom_deg or uncoupled or abs(coord.lag_s) > p.lag_flag_s:
            flags.append("head_not_coordinated")
        if coord.technique == "slider" and head.look_up_deg < p.look_up_min_deg:
            flags.append("no_look_up")
    if min(knee.out_s, knee.back_s) < p.fast_glide_s:
        flags.append("too_fast")
    if max(knee.out_s, knee.back_s) > p.slow_glide_s:
        flags.append("too_slow")
    if hold >= (p.hold_flag_s if head is not None else p.hold_flag_shin_only_s):
        flags.append("held")
    if knee.rom_deg < p.partial_deg:
        flags.append("partial")
    if knee.halting or (np.isfinite(knee.sparc) and knee.sparc < p.halting_sparc):
        flags.append("halting")
    order = list(PENALTIES)
    return tuple(sorted(flags, key=order.index))


def quality(flags: tuple[str, ...]) -> float:
    """100 minus the flags' penalties (``PENALTIES``), at least 0."""
    return max(0.0, 100.0 - sum(PENALTIES[f] for f in flags))


def compute_rep(
    seg: RepSegment,
    shin: StrapFrontEnd,
    head: StrapFrontEnd | None,
    head_axis: np.ndarray | None,
    p: RepParams,
) -> tuple[Rep, HeadEvidence | None]:
    """All metrics of one rep (definitions: analysis/dictionary.py), and what it tells about
    the head's extension axis. ``head_axis`` is the axis learnt from earlier reps (or None)."""
    # after the rep, only data the live analysis had when it decided (live == offline)
    until = min(seg.end_s + p.rep_pad_s, seg.decided_s)
    k = strap_slice(shin, seg.start_s - p.rep_pad_s, until)
    assert k is not None
    knee = knee_summary(seg, k, p)
    h = strap_slice(head, seg.start_s - p.rep_pad_s, until) if head is not None else None
    hs = head_summary(seg, knee, h, head_axis, p) if h is not None else None
    coord = coordination(seg, knee, hs, p) if hs is not None else None
    hold = hold_s(knee, hs, p)
    flags = rep_flags(knee, hs, coord, hold, p)
    nan = float("nan")
    rep = Rep(
        rep=seg.rep,
        set=seg.set,
        start_s=seg.start_s,
        end_s=seg.end_s,
        duration_s=seg.end_s - seg.start_s,
        out_s=knee.out_s,
        back_s=knee.back_s,
        knee_rom_deg=knee.rom_deg,
        head_rom_deg=hs.rom_deg if hs else nan,
        knee_peak_speed_dps=knee.peak_speed_dps,
        hold_s=hold,
        pause_before_s=seg.pause_before_s,
        sparc=knee.sparc,
        ldlj=knee.ldlj,
        sparc_head=hs.sparc if hs else nan,
        coordination_lag_s=coord.lag_s if coord else nan,
        crp_mean_deg=coord.crp_mean_deg if coord else nan,
        crp_sd_deg=coord.crp_sd_deg if coord else nan,
        technique=coord.technique if coord else "unclear",  # type: ignore[arg-type]
        quality=quality(flags),
        flags=flags,
        knee_top_s=knee.t_top,
        knee_back_start_s=knee.t_back,
        look_up_deg=hs.look_up_deg if hs else nan,
    )
    return rep, hs.evidence if hs else None


def _look_up(theta_h: np.ndarray, mask: np.ndarray, p: RepParams) -> tuple[float, float]:
    """Extra head rotation out and back while the knee is at end range: (size deg, direction)."""
    idx = np.flatnonzero(mask)
    if len(idx) < 4:
        return 0.0, 0.0
    d = theta_h[idx] - theta_h[idx[0]]
    j = int(np.argmax(np.abs(d)))
    size = abs(float(d[j]))
    returned = abs(float(d[-1])) <= p.look_up_return_frac * size
    if size >= p.look_up_min_deg and returned and 0 < j < len(d) - 1:
        return size, float(np.sign(d[j]))
    return 0.0, 0.0


def _has_halt(t, theta, omega, glides, rom, p: RepParams) -> bool:
    """The knee stops for ``halt_min_s`` within ``halt_from_frac``–``halt_to_frac`` of its
    range, within a glide."""
    lo = theta.min()
    for a, b in glides:
        m = (t > a) & (t < b)
        if m.sum() < 3:
            continue
        frac = (theta[m] - lo) / max(rom, 1e-9)
        stop = (
            (np.abs(omega[m]) < p.onset_dps) & (frac > p.halt_from_frac) & (frac < p.halt_to_frac)
        )
        if _longest_run_s(t[m], stop) >= p.halt_min_s:
            return True
    return False
