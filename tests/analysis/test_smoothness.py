"""SPARC and LDLJ against values derived independently (analytic spectra, hand calculus)."""

from itertools import pairwise

import numpy as np
import pytest
from scipy.integrate import quad

from analysis.smoothness import ldlj, sparc


def min_jerk_speed(fs, duration=1.0, amplitude=1.0):
    t = np.arange(0.0, duration + 0.5 / fs, 1.0 / fs) / duration
    return amplitude * 30 * t**2 * (1 - t) ** 2


def test_ldlj_of_minimum_jerk_matches_hand_calculus():
    # v = 30 t²(1−t)² on [0, 1]: v'' = 60(1 − 6t + 6t²), ∫(v'')² = 3600 · 1/5 = 720,
    # v_peak = 30/16, so LDLJ = −ln(1³ / (30/16)² · 720) = −ln 204.8
    assert ldlj(min_jerk_speed(2000), 2000) == pytest.approx(-np.log(204.8), abs=0.01)


def test_ldlj_is_dimensionless():
    base = ldlj(min_jerk_speed(1000), 1000)
    assert ldlj(min_jerk_speed(1000, amplitude=37.0), 1000) == pytest.approx(base, abs=1e-9)
    assert ldlj(min_jerk_speed(1000, duration=3.0) / 3.0, 1000) == pytest.approx(base, abs=0.01)


def _continuous_sparc(spectrum, f_max):
    """Arc length of a normalised continuous spectrum |V(f)|/|V(0)| down to amp 0.05."""
    f_c = next(f for f in np.linspace(0, f_max, 200001) if spectrum(f) < 0.05)
    # refine the crossing
    lo, hi = f_c - f_max / 200000, f_c
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if spectrum(mid) >= 0.05 else (lo, mid)
    f_c = lo
    h = 1e-6

    def integrand(f):
        d = (spectrum(f + h) - spectrum(f - h)) / (2 * h)
        return np.sqrt((1 / f_c) ** 2 + d**2)

    return -quad(integrand, 0, f_c, limit=200)[0] * 1.0


def test_sparc_of_a_gaussian_profile_matches_its_analytic_spectrum():
    sigma = 0.1
    # |V(f)| of exp(−t²/2σ²) is exp(−2π²σ²f²); the arc length does not depend on σ
    expected = _continuous_sparc(lambda f: np.exp(-2 * np.pi**2 * sigma**2 * f**2), 20.0)
    fs = 1000
    t = np.arange(-8 * sigma, 8 * sigma, 1 / fs)
    assert sparc(np.exp(-(t**2) / (2 * sigma**2)), fs) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(-1.414, abs=0.005)


def test_sparc_of_minimum_jerk_matches_its_numerical_fourier_transform():
    def spectrum(f):
        re = quad(lambda t: 30 * t**2 * (1 - t) ** 2 * np.cos(2 * np.pi * f * t), 0, 1)[0]
        im = quad(lambda t: 30 * t**2 * (1 - t) ** 2 * np.sin(2 * np.pi * f * t), 0, 1)[0]
        return np.hypot(re, im)  # |V(0)| = 1

    expected = _continuous_sparc(spectrum, 10.0)
    assert sparc(min_jerk_speed(1000), 1000) == pytest.approx(expected, abs=0.01)


def test_sparc_is_invariant_to_amplitude_and_duration():
    base = sparc(min_jerk_speed(1000), 1000)
    assert sparc(min_jerk_speed(1000, amplitude=50), 1000) == pytest.approx(base, abs=1e-9)
    # 3 s at 100 Hz has the same shape (spectrum scaled in f; cut-off adapts)
    assert sparc(min_jerk_speed(100, duration=3.0), 100) == pytest.approx(base, abs=0.02)


def test_more_submovements_are_less_smooth():
    fs = 200
    one = min_jerk_speed(fs, duration=0.6)
    values = []
    for k in range(1, 5):
        v = np.concatenate([np.concatenate([one, np.zeros(int(0.2 * fs))]) for _ in range(k)])
        values.append(sparc(v, fs))
    assert all(a > b for a, b in pairwise(values)), values
    tremor = min_jerk_speed(fs, 2.0) * (1 + 0.3 * np.sin(2 * np.pi * 8 * np.arange(401) / fs))
    assert sparc(tremor, fs) < sparc(min_jerk_speed(fs, 2.0), fs) - 0.3


def test_degenerate_inputs_give_nan():
    assert np.isnan(sparc(np.zeros(50), 100))
    assert np.isnan(ldlj(np.zeros(50), 100))
    assert np.isnan(sparc(np.array([1.0]), 100))
    assert np.isnan(ldlj(np.array([1.0, np.nan, 2.0]), 100))
