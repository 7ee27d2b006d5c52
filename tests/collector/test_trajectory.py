"""Minimum-jerk moves and windowed oscillations: values, analytic derivatives, stillness."""

import numpy as np
import pytest

from collector.trajectory import DofTrajectory, Oscillation, merge_intervals, min_jerk


def test_min_jerk_profile_ends_at_rest():
    s, ds, dds = min_jerk(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ds[[0, 2]], 0.0)
    np.testing.assert_allclose(dds[[0, 2]], 0.0, atol=1e-12)
    assert ds[1] == pytest.approx(1.875)  # peak speed of minimum jerk is 15/8 of the mean


def _numeric_derivatives(q, dt):
    return np.gradient(q, dt), np.gradient(np.gradient(q, dt), dt)


@pytest.mark.parametrize("kind", ["move", "oscillation", "both"])
def test_analytic_derivatives_match_numerical(kind):
    d = DofTrajectory(base=0.3)
    if kind in ("move", "both"):
        d.add_move(1.0, 2.0, 1.2)
        d.add_move(2.5, 1.0, -0.4)  # overlapping moves superpose
    if kind in ("oscillation", "both"):
        d.add_oscillation(Oscillation(0.5, 3.0, 0.05, 8.0, 0.3))
    dt = 1e-4
    t = np.arange(0.0, 5.0, dt)
    tr = d.evaluate(t)
    qd_num, qdd_num = _numeric_derivatives(tr.q, dt)
    inner = slice(5, -5)
    np.testing.assert_allclose(tr.qd[inner], qd_num[inner], atol=2e-4 * max(1, np.abs(tr.qd).max()))
    np.testing.assert_allclose(
        tr.qdd[inner], qdd_num[inner], atol=2e-3 * max(1, np.abs(tr.qdd).max())
    )


def test_value_settles_at_base_plus_deltas_and_is_still_outside_moves():
    d = DofTrajectory(base=1.0)
    d.add_move(1.0, 1.0, 2.0)
    d.add_move(4.0, 0.5, -0.5)
    t = np.array([0.0, 0.99, 2.0, 3.0, 4.5, 9.0])
    tr = d.evaluate(t)
    np.testing.assert_allclose(tr.q, [1.0, 1.0, 3.0, 3.0, 2.5, 2.5])
    np.testing.assert_allclose(tr.qd[[0, 1, 3, 5]], 0.0)
    assert d.value_at(10.0) == pytest.approx(2.5)


def test_oscillation_is_zero_outside_its_window():
    d = DofTrajectory()
    d.add_oscillation(Oscillation(1.0, 2.0, 1.0, 3.0))
    tr = d.evaluate(np.array([0.5, 0.999, 3.0, 4.0]))
    np.testing.assert_allclose(tr.q, 0.0, atol=1e-9)
    np.testing.assert_allclose(tr.qd, 0.0, atol=1e-6)


def test_merge_intervals():
    assert merge_intervals([(3, 4), (0, 1), (0.5, 2), (2, 2.5)]) == [(0, 2.5), (3, 4)]
