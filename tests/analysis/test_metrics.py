"""Per-rep metric building blocks against analytic cases; the data dictionary stays complete."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from analysis.angles import accel_rotation_deg, complementary_inclination
from analysis.dictionary import FLAGS, columns, markdown
from analysis.fusion import imufusion_inclination
from analysis.lever import lever_arm
from analysis.metrics import PENALTIES, _look_up, _Strap, fused_angle_deg, principal_axis
from analysis.params import RepParams
from analysis.results import Rep
from tests.conftest import ROOT

G = 9.80665
FS = 100.0
T = np.arange(0, 8, 1 / FS)


def hinge(axis, lever, rom_deg=70.0, bias_dps=(0.0, 0.0, 0.0), scale=1.0, noise=0.0, seed=0):
    """A strap on a segment turning about ``axis`` (strap frame) out and back, gravity ``g0``."""
    rng = np.random.default_rng(seed)
    u = np.asarray(axis, float) / np.linalg.norm(axis)

    def mj(q):
        return 10 * q**3 - 15 * q**4 + 6 * q**5

    out, back = mj(np.clip((T - 1.0) / 2.5, 0, 1)), mj(np.clip((T - 4.5) / 2.5, 0, 1))
    s = out - back  # out over 1–3.5 s, back over 4.5–7 s
    th = np.radians(rom_deg) * s
    thd, thdd = np.gradient(th, T), np.gradient(np.gradient(th, T), T)
    w, al = np.outer(thd, u), np.outer(thdd, u)
    lin = np.cross(al, lever) + np.cross(w, np.cross(w, lever))
    g0 = np.cross(u, [0.3, 0.2, 0.9])
    g0 = G * g0 / np.linalg.norm(g0)
    grav = Rotation.from_rotvec(np.outer(th, u)).inv().apply(g0)
    acc = lin + grav + rng.normal(0, noise * 0.02, (len(T), 3))
    gyro = np.degrees(w) * scale + np.asarray(bias_dps) + rng.normal(0, noise * 0.06, (len(T), 3))
    return u, np.degrees(th), acc, gyro, g0


def integrate(gyro):
    return np.concatenate([np.zeros((1, 3)), np.cumsum(gyro[1:] / FS, axis=0)])


def test_accelerometer_rotation_sign_and_size():
    u, th, acc, _, g0 = hinge([0, 1, 0], np.zeros(3))
    np.testing.assert_allclose(accel_rotation_deg(acc, u, g0), th, atol=1e-9)


def test_fused_angle_corrects_gyro_scale_and_bias_where_still():
    u, th, acc, gyro, _ = hinge(
        [0.2, 0.9, -0.3], np.zeros(3), bias_dps=(0.3, -0.2, 0.1), scale=1.05
    )
    still = np.abs(np.gradient(th)) < 1e-9
    strap = _Strap(T, gyro, integrate(gyro), acc, still, FS)
    est = fused_angle_deg(strap, u)
    naive = (integrate(gyro) - integrate(gyro)[0]) @ u
    assert np.abs(naive - th).max() > 3.0  # the raw gyro integral drifts and over-reads
    assert np.abs(est - th).max() < 0.5


def test_principal_axis_of_a_hinge():
    u, _, _, gyro, _ = hinge([0.6, -0.3, 0.74], np.zeros(3))
    a = principal_axis(gyro)
    assert abs(a @ u) == pytest.approx(1.0, abs=1e-9)


def test_lever_arm_is_found_for_a_swinging_strap_and_absent_when_turned_in_place():
    axis = np.array([0.1, 0.95, 0.2])
    u = axis / np.linalg.norm(axis)
    lever = np.cross(u, [1.0, 0, 0])
    lever *= 0.22 / np.linalg.norm(lever)
    for noise in (0.0, 1.0):
        _, _, acc, gyro, g0 = hinge(axis, lever, noise=noise)
        r, explained = lever_arm(T, gyro, acc, integrate(gyro), g0, u)
        np.testing.assert_allclose(r, lever, atol=0.02)
        assert explained > 0.5
        _, _, acc0, gyro0, g00 = hinge(axis, np.zeros(3), noise=noise)
        r0, _explained0 = lever_arm(T, gyro0, acc0, integrate(gyro0), g00, u)
        assert np.linalg.norm(r0) < 0.02


def test_complementary_inclination_is_drift_free_and_beats_the_reference_filter():
    u, th, acc, gyro, g0 = hinge(
        [0, 1, 0], np.array([0, 0, -0.2]), bias_dps=(0.0, 0.5, 0.0), noise=1
    )
    est = complementary_inclination(integrate(gyro - [0, 0.5, 0]), acc, u, g0, FS)
    assert np.sqrt(np.mean((est - th) ** 2)) < 1.0
    ref = imufusion_inclination(acc, gyro - [0, 0.5, 0], u, g0, FS)
    settled = T > 1.0  # the AHRS starts from no orientation and converges during its start-up
    assert np.sqrt(np.mean((ref - th)[settled] ** 2)) < 5.0  # coarser: see docs/analysis.md


def test_look_up_is_an_out_and_back_head_excursion():
    p = RepParams()
    x = np.concatenate([np.zeros(20), np.linspace(0, 22, 50), np.linspace(22, 1, 50), np.ones(20)])
    size, direction = _look_up(x, np.ones(len(x), bool), p)
    assert size == pytest.approx(22.0) and direction == 1.0
    size, direction = _look_up(-x, np.ones(len(x), bool), p)
    assert direction == -1.0
    one_way = np.linspace(0, 30, 100)  # still going when the knee leaves end range: not a look-up
    assert _look_up(one_way, np.ones(100, bool), p) == (0.0, 0.0)


def test_every_rep_field_and_flag_is_in_the_dictionary_and_docs_are_current():
    names = [c.name for c in columns()]
    assert names == ["recording", *Rep.columns()]
    assert all(c.definition for c in columns())
    assert set(PENALTIES) == set(FLAGS)
    doc = (ROOT / "docs" / "data-dictionary.md").read_text()
    assert doc == markdown(), "regenerate: flossmeter dictionary -o docs/data-dictionary.md"


def test_quality_is_100_minus_the_flag_penalties(tmp_path: Path):
    from analysis.session import analyze
    from benchmarks.accuracy import samples_of
    from tests.conftest import cached_session

    s = cached_session(seed=21, sets=3, reps_per_set=10, technique="mixed", variety="messy")
    reps = analyze(samples_of(s), angles=False).reps
    for q, flags in zip(reps["quality"], reps["flags"], strict=True):
        penalty = sum(PENALTIES[f] for f in flags.split(";") if f)
        assert q == max(0, 100 - penalty)
    assert reps["quality"].min() < 100 < reps["quality"].max() + 1
