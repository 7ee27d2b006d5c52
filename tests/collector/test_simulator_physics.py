"""The simulator's physics, checked against an independent model built here with scipy's Rotation.

Positions of each strap are computed from the ground-truth joint angles alone; accelerations and
angular velocities come from finite differences, so the simulator's analytic rigid-body terms
(tangential, centripetal, chained rotations) are checked, not repeated.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from collector.constants import G_MPS2
from collector.exercise import FidgetSpec, RepSpec, SessionScript, SetSpec
from collector.imu_model import head_mounting, shin_mounting
from collector.kinematics import Body, head_motion, sensor_readings, shin_motion
from collector.simulator import SimConfig, simulate
from collector.trajectory import Track

RATE = 400.0


def _script():
    reps = (
        RepSpec(technique="slider", out_s=2.0, back_s=2.2, knee_rom_deg=75, head_lag_s=0.2),
        RepSpec(technique="slider", out_s=1.0, back_s=1.0, hold_s=2.0, pause_before_s=0.5),
    )
    fidgets = (
        (1.0, FidgetSpec("leg_swing", 3.0, 8.0, freq_hz=1.0)),
        (5.0, FidgetSpec("seat_shift", 2.0, 0.04, residual=2.0)),
        (8.0, FidgetSpec("head_turn", 3.0, 50.0)),
    )
    tens = (RepSpec(technique="tensioner", out_s=2.0, back_s=2.0, neck_rom_deg=35),)
    return SessionScript((SetSpec(reps, rest_after_s=20.0, fidgets=fidgets), SetSpec(tens)))


@pytest.fixture(scope="module")
def ideal():
    """Ideal sensors (no bias, scale error or noise; still int16), random mounting, 400 Hz."""
    return simulate(SimConfig(seed=11, rate_hz=RATE, noise=0.0), script=_script())


def _rot(axis, angle):
    return Rotation.from_rotvec(np.outer(angle, np.eye(3)["xyz".index(axis)]))


def _joint_angles(session, t):
    return {k: d.evaluate(t).q for k, d in session.choreography.dofs.items()}


def _shin_pose(session, t):
    """Independent model: knee ahead of the hip, shin rotated about y by −knee."""
    q = _joint_angles(session, t)
    body = session.body
    R = _rot("y", -q["knee"])
    knee = np.stack([q["hip_x"] + body.thigh_length_m, 0 * t, q["hip_z"]], -1)
    return R, knee + R.apply(session.streams["shin"].mounting.offset_m)


def _head_pose(session, t):
    """Independent model: trunk about the hip, head pitch about the neck pivot, then yaw."""
    q = _joint_angles(session, t)
    body = session.body
    hip = np.stack([q["hip_x"], 0 * t, q["hip_z"]], -1)
    neck = hip + _rot("y", q["trunk"]).apply([0, 0, body.trunk_length_m])
    R = _rot("y", q["trunk"] + q["neck"]) * _rot("z", q["yaw"])
    return R, neck + R.apply(session.streams["head"].mounting.offset_m)


@pytest.mark.parametrize("role,pose", [("shin", _shin_pose), ("head", _head_pose)])
def test_sensor_readings_match_finite_differences_of_the_body(ideal, role, pose):
    s = ideal.streams[role]
    t = s.time_s
    h = 1e-3
    R0, p0 = pose(ideal, t)
    Rp, pp = pose(ideal, t + h)
    Rm, pm = pose(ideal, t - h)
    acc_world = (pp - 2 * p0 + pm) / h**2
    omega_world = (Rp * Rm.inv()).as_rotvec() / (2 * h)
    R_ws = R0 * Rotation.from_matrix(s.mounting.R)
    expected_acc = R_ws.inv().apply(acc_world + np.array([0, 0, G_MPS2]))
    expected_gyro = np.degrees(R_ws.inv().apply(omega_world))
    # int16 steps are 0.0048 m/s² and 0.061 deg/s; finite differences add far less
    np.testing.assert_allclose(s.acc_mps2, expected_acc, atol=0.01)
    np.testing.assert_allclose(s.gyro_dps, expected_gyro, atol=0.1)
    assert np.abs(acc_world).max() > 1.0, "the body did move"


def test_integrated_gyro_matches_scripted_knee_angle(ideal):
    s = ideal.streams["shin"]
    gyro_body = np.radians(s.gyro_dps) @ s.mounting.R.T  # sensor → shin frame
    angle = np.concatenate(
        ([0.0], np.cumsum(0.5 * (gyro_body[1:, 1] + gyro_body[:-1, 1]) * np.diff(s.time_s)))
    )
    truth = np.radians(ideal.choreography.knee_deg(s.time_s))
    # shin frame turns by −knee about y
    np.testing.assert_allclose(np.degrees(-angle), np.degrees(truth - truth[0]), atol=0.5)
    assert np.degrees(truth).max() - np.degrees(truth).min() > 70


def test_integrated_gyro_matches_head_pitch_when_the_head_does_not_turn(ideal):
    s = ideal.streams["head"]
    first_turn = min(f["start_s"] for f in ideal.truth.fidgets if f["kind"] == "head_turn")
    keep = s.time_s < first_turn
    gyro_body = np.radians(s.gyro_dps[keep]) @ s.mounting.R.T
    t = s.time_s[keep]
    angle = np.concatenate(
        ([0.0], np.cumsum(0.5 * (gyro_body[1:, 1] + gyro_body[:-1, 1]) * np.diff(t)))
    )
    pitch = ideal.choreography.head_pitch_deg(t)
    np.testing.assert_allclose(-np.degrees(angle), pitch - pitch[0], atol=0.5)
    assert np.ptp(pitch) > 40


angles = st.floats(0, 360)


@settings(max_examples=40, deadline=None)
@given(around=angles, spin=angles, tilt=st.floats(-15, 15), flip=st.booleans(),
       knee=st.floats(-20, 90), trunk=st.floats(-10, 30), neck=st.floats(-30, 45),
       yaw=st.floats(-70, 70))  # fmt: skip
def test_at_rest_the_accelerometer_reads_g_whatever_the_mounting(
    around, spin, tilt, flip, knee, trunk, neck, yaw
):
    n = 3
    still = {k: Track(np.full(n, np.radians(v)), np.zeros(n), np.zeros(n))
             for k, v in dict(knee=knee, trunk=trunk, neck=neck, yaw=yaw).items()}  # fmt: skip
    still |= {k: Track(np.zeros(n), np.zeros(n), np.zeros(n)) for k in ("hip_x", "hip_z")}
    for m, motion in (
        (shin_mounting(around, spin, tilt, flip), shin_motion),
        (head_mounting(around, spin, tilt, flip), head_motion),
    ):
        acc, gyro = sensor_readings(motion(Body(), still, m.offset_m), m.R)
        np.testing.assert_allclose(np.linalg.norm(acc, axis=1), G_MPS2, rtol=1e-12)
        np.testing.assert_allclose(gyro, 0.0, atol=1e-12)
        assert np.allclose(m.R @ m.R.T, np.eye(3)) and np.isclose(np.linalg.det(m.R), 1.0)


@pytest.mark.parametrize("seed", range(6))
def test_simulated_rest_reads_g_and_no_rotation_in_any_random_mounting(seed):
    s = simulate(SimConfig(seed=seed, noise=0.0, sets=1, reps_per_set=1))
    for stream in s.streams.values():
        rest = stream.time_s < 3.0  # lead-in: sitting still in the start position
        norm = np.linalg.norm(stream.acc_mps2[rest], axis=1)
        np.testing.assert_allclose(norm, G_MPS2, atol=0.01)
        assert np.abs(stream.gyro_dps[rest]).max() <= 0.062  # one int16 step


def test_head_band_worn_backwards_flips_the_pitch_axis_in_the_sensor_frame():
    kw = dict(seed=3, noise=0.0, sets=1, reps_per_set=2, fidgets=False)
    front = simulate(SimConfig(mounting="nominal", **kw)).streams["head"]
    back = simulate(SimConfig(mounting="backwards", **kw)).streams["head"]
    y_front, y_back = front.gyro_dps[:, 1], back.gyro_dps[:, 1]
    assert np.abs(y_front).max() > 20
    assert np.corrcoef(y_front, y_back)[0, 1] < -0.999


def test_sensor_errors_show_as_configured():
    s = simulate(SimConfig(seed=5, noise=1.0, sets=1, reps_per_set=1, rate_hz=200))
    st_ = s.streams["shin"]
    rest = st_.time_s < 3.0
    # at rest the gyro reads its bias (plus a tiny random walk and noise)
    np.testing.assert_allclose(st_.gyro_dps[rest].mean(0), st_.errors.gyro_bias_dps, atol=0.05)
    noise = st_.gyro_dps[rest].std(0)
    expected = st_.errors.gyro_noise_density * np.sqrt(200 / 2)
    np.testing.assert_allclose(noise, expected, rtol=0.35)
    # |acc| differs from g by no more than bias and scale errors allow
    assert abs(np.linalg.norm(st_.acc_mps2[rest], axis=1).mean() - G_MPS2) < 0.6


def test_samples_are_int16_counts_and_saturate_at_full_scale():
    fast = SessionScript((SetSpec((RepSpec(out_s=0.8, back_s=0.8, knee_rom_deg=80),)),))
    config = SimConfig(seed=1, acc_range_g=2.0, gyro_range_dps=125.0)
    s = simulate(config, script=fast)
    st_ = s.streams["shin"]
    lsb_acc, lsb_gyro = 2.0 * G_MPS2 / 32768, 125.0 / 32768
    np.testing.assert_allclose(st_.acc_mps2 / lsb_acc, st_.acc_counts, atol=1e-6)
    np.testing.assert_allclose(st_.gyro_dps / lsb_gyro, st_.gyro_counts, atol=1e-6)
    assert st_.gyro_counts.max() == 32767 or st_.gyro_counts.min() == -32768, (
        "fast knee saturates 125 °/s"
    )


def test_device_clock_has_its_own_offset_and_drift():
    s = simulate(SimConfig(seed=4, sets=1, reps_per_set=1, drift_ppm=80.0, rate_hz=50))
    st_ = s.streams["head"]
    k = 1 + 80e-6
    np.testing.assert_allclose(np.diff(st_.time_s), 1 / (50 * k), rtol=1e-9)
    np.testing.assert_allclose(st_.device_time_s, st_.clock.offset_s + k * st_.time_s, rtol=1e-12)
    assert st_.clock.offset_s > 1.0


@pytest.mark.parametrize("rate", [25.0, 60.0, 100.0, 400.0])
def test_configurable_sample_rate(rate):
    s = simulate(SimConfig(seed=2, sets=1, reps_per_set=1, rate_hz=rate, drift_ppm=0.0))
    t = s.streams["shin"].time_s
    assert np.median(np.diff(t)) == pytest.approx(1 / rate)
    start = s.streams["shin"].clock.start_s
    assert len(t) == pytest.approx((s.duration_s - start) * rate, abs=1)


@pytest.mark.parametrize("rate", [10.0, 2000.0])
def test_rates_outside_25_to_1000_hz_are_refused(rate):
    with pytest.raises(ValueError, match="25–1000 Hz"):
        SimConfig(rate_hz=rate)
