"""Segment inclination about the strap's rotation axis: a 1-D complementary filter.

For a strap on a segment that turns mainly about one axis ``u`` (shin about the knee, head in
pitch), the inclination is the integrated bias-corrected gyro about ``u`` corrected towards the
accelerometer's angle about ``u`` at low frequency:

``θ = θ_gyro + LPF(θ_acc − θ_gyro)``, with ``θ_gyro = (φ − φ₀)·u`` and ``θ_acc`` the rotation of
gravity about ``u`` from its direction in the zero pose (sign: + = the segment turned about +u).

The low-pass is a first-order Butterworth at ``cutoff_hz`` (default 0.1 Hz): the gyro decides
above it (movement), the accelerometer below it (no drift). ``zero_phase`` runs it forwards and
backwards (offline); otherwise causally (live). ``analysis/fusion.py`` compares this with a full
orientation filter (imufusion); ``benchmarks/angles.py`` measures both against ground truth.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, filtfilt, lfilter, lfilter_zi

from analysis.vectors import cross_rows


def accel_rotation_deg(acc: np.ndarray, axis: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Rotation (deg) of the segment about unit ``axis`` implied by gravity moving from ``ref``
    to ``acc`` in the sensor frame (gravity appears to turn by −θ when the segment turns +θ)."""
    a = acc - np.outer(acc @ axis, axis)
    r = ref - (ref @ axis) * axis
    sin = cross_rows(r, a) @ axis
    cos = a @ r
    return -np.degrees(np.arctan2(sin, cos))


def lowpass(rate_hz: float, cutoff_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """First-order Butterworth low-pass coefficients (b, a)."""
    b, a = butter(1, min(cutoff_hz / (rate_hz / 2.0), 0.99))
    return b, a


def complementary_inclination(
    phi_deg: np.ndarray,
    acc_mps2: np.ndarray,
    axis: np.ndarray,
    ref_acc: np.ndarray,
    rate_hz: float,
    cutoff_hz: float = 0.1,
    zero_phase: bool = True,
) -> np.ndarray:
    """Inclination (deg) about ``axis``: gyro integral ``phi_deg`` fused with the accelerometer.

    ``phi_deg`` is the running integral of the bias-corrected angular rate (N×3, deg); the
    result is 0 where gravity points as in ``ref_acc``.
    """
    theta_g = (phi_deg - phi_deg[0]) @ axis
    theta_a = accel_rotation_deg(acc_mps2, axis, ref_acc)
    diff = theta_a - theta_g
    b, a = lowpass(rate_hz, cutoff_hz)
    if zero_phase and len(diff) > 3 * max(len(a), len(b)):
        corr = filtfilt(b, a, diff)
    else:
        corr, _ = lfilter(b, a, diff, zi=lfilter_zi(b, a) * diff[0])
    return theta_g + corr


class CausalInclination:
    """The complementary filter run block by block (for live display); axis may change."""

    def __init__(self, rate_hz: float, cutoff_hz: float = 0.1) -> None:
        self.b, self.a = lowpass(rate_hz, cutoff_hz)
        self._zi: np.ndarray | None = None

    def update(
        self, phi_deg: np.ndarray, acc_mps2: np.ndarray, axis: np.ndarray, ref_phi: np.ndarray,
        ref_acc: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """Inclination (deg) of the new samples, 0 at the reference pose."""
        theta_g = (phi_deg - ref_phi) @ axis
        diff = accel_rotation_deg(acc_mps2, axis, ref_acc) - theta_g
        if self._zi is None:
            self._zi = lfilter_zi(self.b, self.a) * diff[0]
        corr, self._zi = lfilter(self.b, self.a, diff, zi=self._zi)
        return theta_g + corr
