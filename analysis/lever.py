"""Where a strap sits relative to the joint it turns about, from its own acceleration.

A strap on a segment turning about a fixed axis ``u`` through the joint, at ``r`` from it (the
lever, in the strap's frame), feels besides gravity the rigid-body acceleration
``a = α × r + ω × (ω × r)`` (tangential + centripetal). Gravity is removed by turning the resting
gravity vector with the integrated gyro; ``r`` (its part perpendicular to ``u`` — the part along
``u`` is invisible) is then the least-squares solution over the movement.

Used to tell a knee rotation (the shin strap swings on a 10–35 cm arc below the knee) from a
strap being turned by hand (it turns about itself: no consistent lever).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import savgol_filter

from analysis.vectors import true_runs


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros(len(v))
    return np.stack(
        [
            np.stack([z, -v[:, 2], v[:, 1]], -1),
            np.stack([v[:, 2], z, -v[:, 0]], -1),
            np.stack([-v[:, 1], v[:, 0], z], -1),
        ],
        -2,
    )


def lever_arm(
    t: np.ndarray,
    gyro_dps: np.ndarray,
    acc_mps2: np.ndarray,
    rotation_deg: np.ndarray,
    rest_acc_mps2: np.ndarray,
    axis: np.ndarray,
    jolt_mps2: float = np.inf,
    jolt_window_s: float = 0.2,
    jolt_max_s: float = 0.1,
    jolt_max_frac: float = 0.15,
) -> tuple[np.ndarray, float]:
    """Lever ``r`` (m, strap frame, ⟂ ``axis``) and the fraction of the linear acceleration's
    variance it explains (0–1).

    ``gyro_dps``: bias-corrected rate; ``rotation_deg``: its integral since the resting pose
    (rows of rotation vectors, deg); ``rest_acc_mps2``: the accelerometer at rest (gravity).
    Angular rate and acceleration come from a Savitzky–Golay fit over 0.15 s (quadratic).
    Runs of rows whose acceleration lies more than ``jolt_mps2`` from its median over
    ``jolt_window_s``, no longer than ``jolt_max_s`` (a chair bump jolting the strap for
    30–80 ms; a limb's own acceleration changes over the glide, far more slowly), and the
    Savitzky–Golay window either side of them, are left out of the fit — unless they would
    leave out more than ``jolt_max_frac`` of the rows: a strap shaken for seconds (a hand
    adjusting it) is not jolted, and it has no lever.
    """
    if len(t) < 8:
        return np.zeros(3), 0.0
    phi = np.radians(rotation_deg)
    ang = np.linalg.norm(phi, axis=1)
    k = _skew(phi / np.maximum(ang, 1e-12)[:, None])
    rot = np.eye(3) + np.sin(ang)[:, None, None] * k + (1 - np.cos(ang))[:, None, None] * (k @ k)
    linear = acc_mps2 - np.einsum("nji,j->ni", rot, rest_acc_mps2)  # gravity turned with the strap
    rate, n, w, alpha = _rate_and_acceleration(t, gyro_dps)
    m = _skew(alpha) + _skew(w) @ _skew(w)
    # solve in the plane perpendicular to the axis (the lever along it is unobservable)
    u = axis / np.linalg.norm(axis)
    e1 = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    basis = np.column_stack([e1, e2])
    a, y = m @ basis, linear
    keep = _without_jolts(acc_mps2, rate, jolt_mps2, jolt_window_s, jolt_max_s, jolt_max_frac, n)
    if keep is not None:
        a, y = a[keep], y[keep]
    a, y = a.reshape(-1, 2), y.reshape(-1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    resid = y - a @ coef
    var = float(np.var(y))
    explained = 1.0 - float(np.var(resid)) / var if var > 0 else 0.0
    return basis @ coef, explained


def lever_visibility(t: np.ndarray, gyro_dps: np.ndarray, axis: np.ndarray) -> float:
    """How much acceleration a lever would show per metre of its length over a movement about
    ``axis`` (m/s² per m): the RMS of ``sqrt(α² + ω⁴)`` (tangential and centripetal, rad/s
    about the axis; Savitzky–Golay as in :func:`lever_arm`). Times a lever's length, it says
    whether :func:`lever_arm` can see that lever above the accelerometer's noise: a slow
    glide of 20–30° at 10–20 °/s moves a 6 cm lever by about 0.01 m/s², below it."""
    if len(t) < 8:
        return 0.0
    _, _, w, alpha = _rate_and_acceleration(t, gyro_dps)
    u = axis / np.linalg.norm(axis)
    wu, au = w @ u, alpha @ u
    return float(np.sqrt(np.mean(au * au + wu**4)))


def _rate_and_acceleration(
    t: np.ndarray, gyro_dps: np.ndarray
) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Sample rate (Hz), the smoothing window (samples), and the smoothed rate and angular
    acceleration (rad/s, rad/s²) from a quadratic Savitzky–Golay fit over 0.15 s."""
    rate = 1.0 / float(np.median(np.diff(t)))
    n = max(5, int(0.15 * rate) // 2 * 2 + 1)
    n = min(n, len(t) - (1 - len(t) % 2))
    w = np.radians(gyro_dps)
    if n >= 5:
        alpha = savgol_filter(w, n, 2, deriv=1, delta=1.0 / rate, axis=0)
        w = savgol_filter(w, n, 2, axis=0)
    else:
        alpha = np.gradient(w, axis=0) * rate
    return rate, n, w, alpha


def _without_jolts(
    acc: np.ndarray,
    rate: float,
    limit_mps2: float,
    window_s: float,
    max_s: float,
    max_frac: float,
    spread: int,
) -> np.ndarray | None:
    """Rows away from a jolt (see :func:`lever_arm`), or None if there is none; None too
    where too few rows would be left to fit, or more than ``max_frac`` of them left out
    (shaken, not jolted)."""
    if not np.isfinite(limit_mps2):
        return None
    w = max(3, int(window_s * rate) // 2 * 2 + 1)
    dev = np.linalg.norm(acc - median_filter(acc, size=(w, 1), mode="nearest"), axis=1)
    starts, ends = true_runs(dev > limit_mps2)
    brief = ends - starts <= max(1, round(max_s * rate))  # only brief runs are jolts
    if not brief.any():
        return None
    bad = np.zeros(len(acc), dtype=bool)
    for a, b in zip(starts[brief], ends[brief], strict=True):
        bad[a:b] = True
    # the jolt also reaches the rate's derivative over the smoothing window either side
    bad = np.convolve(bad, np.ones(spread, dtype=bool), mode="same") > 0
    keep = ~bad
    return keep if keep.sum() >= 8 and keep.mean() >= 1.0 - max_frac else None
