"""How a real strap distorts the truth: mounting, bias, scale, noise, int16, clock, lost packets.

Magnitudes follow consumer MEMS IMU datasheets (e.g. Bosch BMI270: accelerometer noise density
≈160 µg/√Hz, gyroscope ≈0.008 °/s/√Hz; zero offsets ±20 mg and ±0.5–3 °/s; sensitivity errors
±1–2 %) and BLE practice (notifications every ~50 ms carrying several samples, crystal clocks
within ±100 ppm). ``noise=1`` is such a typical sensor, ``0`` an ideal one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from collector.constants import G_MPS2
from collector.kinematics import rot_axis

MountingMode = Literal["random", "nominal", "backwards"]


@dataclass(frozen=True)
class Mounting:
    """Where a strap sits on its segment and how it is turned.

    ``R`` is segment ← sensor (columns: the sensor's axes in the segment frame); ``offset_m`` is
    the sensor's position in the segment frame (origin at the knee or the neck pivot).
    """

    R: np.ndarray
    offset_m: np.ndarray
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "R": np.round(self.R, 9).tolist(),
            "offset_m": np.round(self.offset_m, 6).tolist(),
            "description": self.description,
        }


def _frame_on_surface(
    around_deg: float, spin_deg: float, tilt_deg: float, flip: bool
) -> np.ndarray:
    """Sensor axes on a cylinder's surface: z = outward normal, x ≈ along the segment."""
    chi = np.radians(around_deg)
    n = np.array([np.cos(chi), np.sin(chi), 0.0])
    x = np.array([0.0, 0.0, 1.0])
    R0 = np.column_stack([x, np.cross(n, x), n])  # right-handed: y = z × x
    R = R0 @ rot_axis(np.array([0.0, 0.0, 1.0]), np.radians(spin_deg))
    tilt_axis = R[:, 0] if tilt_deg >= 0 else R[:, 1]
    R = rot_axis(tilt_axis, np.radians(abs(tilt_deg))) @ R
    if flip:
        R = R @ rot_axis(np.array([1.0, 0.0, 0.0]), np.pi)
    return R


def shin_mounting(
    around_deg: float = 0.0,
    spin_deg: float = 0.0,
    tilt_deg: float = 0.0,
    flip: bool = False,
    below_knee_m: float = 0.2,
) -> Mounting:
    """A strap on the shin surface, ``around_deg`` from the front (+ towards the left), turned
    ``spin_deg`` in its own plane, tilted and possibly clipped in upside down."""
    chi = np.radians(around_deg)
    radius = 0.05
    offset = np.array([radius * np.cos(chi), radius * np.sin(chi), -below_knee_m])
    R = _frame_on_surface(around_deg, spin_deg, tilt_deg, flip)
    desc = f"shin, {around_deg:.0f}° round from the front, turned {spin_deg:.0f}°"
    desc += f", tilted {tilt_deg:.0f}°" + (", upside down" if flip else "")
    return Mounting(R, offset, desc)


def head_mounting(
    around_deg: float = 0.0,
    spin_deg: float = 0.0,
    tilt_deg: float = 0.0,
    flip: bool = False,
) -> Mounting:
    """A pod on a head band, ``around_deg`` round from the forehead (180 = band worn backwards)."""
    chi = np.radians(around_deg)
    radius, centre_fwd, height = 0.09, 0.02, 0.14  # above the neck's pivot
    offset = np.array([centre_fwd + radius * np.cos(chi), radius * np.sin(chi), height])
    R = _frame_on_surface(around_deg, spin_deg, tilt_deg, flip)
    where = "backwards" if abs(((around_deg + 180) % 360) - 180) > 135 else "forehead"
    if 45 < abs(((around_deg + 180) % 360) - 180) <= 135:
        where = "side"
    desc = f"head band ({where}), {around_deg:.0f}° round, turned {spin_deg:.0f}°"
    desc += f", tilted {tilt_deg:.0f}°" + (", upside down" if flip else "")
    return Mounting(R, offset, desc)


def random_mounting(rng: np.random.Generator, role: str, mode: MountingMode = "random") -> Mounting:
    """Draw how a patient put a strap on: any turn about the segment, spin, tilt, flips."""
    if mode == "nominal":
        return shin_mounting() if role == "shin" else head_mounting()
    if mode == "backwards":
        return shin_mounting(around_deg=180.0) if role == "shin" else head_mounting(180.0)
    around = rng.uniform(0.0, 360.0)
    spin = rng.uniform(0.0, 360.0)
    tilt = rng.uniform(-15.0, 15.0)
    flip = bool(rng.random() < 0.25)
    if role == "shin":
        return shin_mounting(around, spin, tilt, flip, below_knee_m=rng.uniform(0.12, 0.30))
    return head_mounting(around, spin, tilt, flip)


@dataclass(frozen=True)
class ImuErrors:
    """Deterministic and random errors of one IMU (all in the sensor frame)."""

    acc_bias_mps2: np.ndarray = field(default_factory=lambda: np.zeros(3))
    acc_matrix: np.ndarray = field(default_factory=lambda: np.eye(3))  # scale + cross-axis
    acc_noise_density: float = 0.0  # m/s² per √Hz
    gyro_bias_dps: np.ndarray = field(default_factory=lambda: np.zeros(3))
    gyro_matrix: np.ndarray = field(default_factory=lambda: np.eye(3))
    gyro_noise_density: float = 0.0  # deg/s per √Hz
    gyro_bias_walk: float = 0.0  # deg/s per √s (random walk of the bias)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (np.round(v, 9).tolist() if isinstance(v, np.ndarray) else v)
            for k, v in self.__dict__.items()
        }


def random_errors(rng: np.random.Generator, noise: float = 1.0) -> ImuErrors:
    """Draw a typical consumer MEMS IMU's errors, scaled by ``noise`` (0 = ideal)."""
    if noise <= 0:
        return ImuErrors()

    def matrix(scale_pct: float, cross_pct: float) -> np.ndarray:
        m = np.eye(3) + np.diag(rng.uniform(-scale_pct, scale_pct, 3) / 100 * noise)
        off = rng.uniform(-cross_pct, cross_pct, (3, 3)) / 100 * noise
        return m + off - np.diag(np.diag(off))

    return ImuErrors(
        acc_bias_mps2=rng.uniform(-0.2, 0.2, 3) * noise,
        acc_matrix=matrix(2.0, 0.5),
        acc_noise_density=160e-6 * G_MPS2 * noise,
        gyro_bias_dps=rng.uniform(-2.0, 2.0, 3) * noise,
        gyro_matrix=matrix(2.0, 0.5),
        gyro_noise_density=0.008 * noise,
        gyro_bias_walk=0.005 * noise,
    )


def apply_errors(
    rng: np.random.Generator,
    errors: ImuErrors,
    acc_mps2: np.ndarray,
    gyro_dps: np.ndarray,
    rate_hz: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Ideal readings → what the sensor's ADC sees (before quantisation)."""
    n = len(acc_mps2)
    bw = np.sqrt(rate_hz / 2.0)  # noise RMS = density · √(Nyquist bandwidth)
    acc = acc_mps2 @ errors.acc_matrix.T + errors.acc_bias_mps2
    gyro = gyro_dps @ errors.gyro_matrix.T + errors.gyro_bias_dps
    if errors.acc_noise_density > 0:
        acc = acc + rng.standard_normal((n, 3)) * errors.acc_noise_density * bw
    if errors.gyro_noise_density > 0:
        gyro = gyro + rng.standard_normal((n, 3)) * errors.gyro_noise_density * bw
    if errors.gyro_bias_walk > 0:
        steps = rng.standard_normal((n, 3)) * errors.gyro_bias_walk / np.sqrt(rate_hz)
        gyro = gyro + np.cumsum(steps, axis=0)
    return acc, gyro


def quantise(x: np.ndarray, full_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Clip to ±``full_scale`` and round to int16 counts; return ``(counts, value)``."""
    lsb = full_scale / 32768.0
    counts = np.clip(np.rint(x / lsb), -32768, 32767).astype(np.int16)
    return counts, counts.astype(np.float64) * lsb


@dataclass(frozen=True)
class DeviceClock:
    """A strap's crystal: ``device = offset + (1 + drift_ppm·1e-6)·session``; sampling starts
    ``start_s`` into the session and ticks at the nominal rate *on the device clock*."""

    offset_s: float = 0.0
    drift_ppm: float = 0.0
    start_s: float = 0.0

    def sample_times(self, rate_hz: float, until_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Session times and device times of every sample up to ``until_s``."""
        k = 1.0 + self.drift_ppm * 1e-6
        n = max(0, int(np.floor((until_s - self.start_s) * rate_hz * k)) + 1)
        session = self.start_s + np.arange(n) / (rate_hz * k)
        return session, self.offset_s + k * session


def random_clock(rng: np.random.Generator, drift_ppm: float | None = None) -> DeviceClock:
    """Draw a device clock: arbitrary uptime offset, drift within ±100 ppm, start within 50 ms."""
    drift = rng.uniform(-100.0, 100.0) if drift_ppm is None else drift_ppm
    return DeviceClock(rng.uniform(10.0, 4000.0), float(drift), rng.uniform(0.0, 0.05))


def packetise(
    rng: np.random.Generator,
    time_s: np.ndarray,
    rate_hz: float,
    loss: float = 0.0,
    outages: list[tuple[float, float]] | None = None,
    packet_period_s: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group samples into BLE notifications and lose some.

    Returns ``(starts, arrival_s, kept)``: first sample index of every packet, its arrival
    session time (last sample + 5–30 ms link latency, never before the previous packet's), and
    whether it arrived (independent loss with probability ``loss``; none during ``outages``).
    """
    per_packet = max(1, round(rate_hz * packet_period_s))
    starts = np.arange(0, len(time_s), per_packet)
    last = np.minimum(starts + per_packet, len(time_s)) - 1
    arrival = np.maximum.accumulate(time_s[last] + rng.uniform(0.005, 0.03, len(starts)))
    kept = rng.random(len(starts)) >= loss
    for a, b in outages or []:
        kept &= ~((time_s[last] >= a) & (time_s[starts] <= b))
    return starts, arrival, kept
