"""The reference orientation filter: gravity in the strap's frame from imufusion's AHRS.

imufusion (x-io Technologies' Fusion library; a complementary-filter AHRS of the Madgwick/Mahony
family with acceleration rejection) estimates the full orientation sample by sample. For a
segment's inclination only gravity's direction in the strap frame matters; its rotation about
the segment axis is then measured exactly like the accelerometer angle of ``angles.py``.

``benchmarks/angles.py`` compares it with the 1-D complementary filter that the analysis uses:
see docs/analysis.md for the figures and the choice.

.. [1] Madgwick S. AHRS algorithms and calibration solutions to facilitate new applications
   using low-cost MEMS. PhD thesis, University of Bristol, 2014 (the Fusion library's AHRS).
"""

from __future__ import annotations

import numpy as np
from scipy.constants import g as G_MPS2  # standard gravity, 9.80665 m/s² (CGPM 1901)

from analysis.angles import accel_rotation_deg


def imufusion_gravity(
    acc_mps2: np.ndarray, gyro_dps: np.ndarray, rate_hz: float, gain: float = 0.5
) -> np.ndarray:
    """Gravity (m/s², strap frame) from imufusion's AHRS, sample by sample (N×3).

    Acceleration rejection is on (10°) with a 5 s timeout, as the library recommends for
    moving limbs.
    """
    import imufusion

    ahrs = imufusion.Ahrs()
    s = imufusion.AhrsSettings()
    s.convention = imufusion.CONVENTION_NWU
    s.gain = gain
    s.gyroscope_range = 2000.0
    s.acceleration_rejection = 10.0
    s.rejection_timeout = int(5 * rate_hz)
    s.sample_rate = float(rate_hz)
    ahrs.set_settings(s)
    acc_g = np.ascontiguousarray(acc_mps2 / G_MPS2)
    gyro = np.ascontiguousarray(gyro_dps, dtype=float)
    out = np.empty_like(acc_g)
    update, gravity = ahrs.update_no_magnetometer, ahrs.get_gravity
    for i in range(len(acc_g)):
        update(gyro[i], acc_g[i])
        out[i] = gravity()
    return out * G_MPS2


def imufusion_inclination(
    acc_mps2: np.ndarray,
    gyro_dps: np.ndarray,
    axis: np.ndarray,
    ref_acc: np.ndarray,
    rate_hz: float,
) -> np.ndarray:
    """Inclination (deg) about ``axis`` from imufusion's gravity estimate, 0 at ``ref_acc``."""
    return accel_rotation_deg(imufusion_gravity(acc_mps2, gyro_dps, rate_hz), axis, ref_acc)
