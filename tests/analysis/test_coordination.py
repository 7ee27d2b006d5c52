"""Continuous relative phase, cross-correlation lag and technique classification."""

import numpy as np
import pytest

from analysis.coordination import (
    circular_mean_sd_deg,
    classify_technique,
    continuous_relative_phase,
    hilbert_phase,
    xcorr_lag,
)

FS = 100.0
T = np.arange(0, 6, 1 / FS)


def bump(t0, dur, amp):
    tau = np.clip((T - t0) / dur, 0, 1)
    return amp * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)


def rep(lag=0.0, amp=1.0):
    """Out at 0.5 s over 2 s, back at 3.3 s over 2 s."""
    return bump(0.5 + lag, 2.0, amp) - bump(3.3 + lag, 2.0, amp)


def test_hilbert_phase_of_a_sine_advances_linearly():
    x = 10 + 3 * np.sin(2 * np.pi * 0.5 * T)
    ph = np.unwrap(hilbert_phase(x))
    slope = np.polyfit(T[100:-100], ph[100:-100], 1)[0]
    assert slope == pytest.approx(2 * np.pi * 0.5, rel=0.02)


def test_crp_in_phase_is_zero_and_anti_phase_is_180():
    mean, sd = continuous_relative_phase(rep(), rep(amp=0.5))
    assert abs(mean) < 1.0 and sd < 1.0
    mean, _ = continuous_relative_phase(rep(), -rep(amp=0.5))
    assert abs(abs(mean) - 180) < 1.0


def test_crp_grows_with_lag():
    m1, _ = continuous_relative_phase(rep(), rep(lag=0.2))
    m2, _ = continuous_relative_phase(rep(), rep(lag=0.4))
    assert 0 < m1 < m2 < 90  # knee leads: its phase is ahead


def test_circular_statistics():
    mean, sd = circular_mean_sd_deg(np.radians([170, -170]))
    assert abs(abs(mean) - 180) < 1e-9
    assert sd == pytest.approx(np.degrees(np.sqrt(-2 * np.log(np.cos(np.radians(10))))))


@pytest.mark.parametrize("lag", [-0.3, -0.05, 0.0, 0.123, 0.35])
def test_xcorr_lag_recovers_the_shift(lag):
    got, r = xcorr_lag(rep(), rep(lag=lag, amp=0.4), FS, sign=+1)
    assert got == pytest.approx(lag, abs=0.01)
    assert r > 0.95
    got, r = xcorr_lag(rep(), -rep(lag=lag), FS, sign=-1)
    assert got == pytest.approx(lag, abs=0.01) and r < -0.95


def test_technique_from_coupling_sign():
    assert classify_technique(rep(), rep(lag=0.2), 40, 10, 0.3)[0] == "slider"
    assert classify_technique(rep(), -rep(lag=0.2), 40, 10, 0.3)[0] == "tensioner"
    assert classify_technique(rep(), rep(), 5, 10, 0.3)[0] == "unclear"  # head barely moves
    noise = np.random.default_rng(0).normal(size=len(T))
    assert classify_technique(rep(), noise, 40, 10, 0.3)[0] == "unclear"
