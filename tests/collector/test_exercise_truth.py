"""Ground truth of simulated sessions agrees with the motion and with the sensor signals."""

from itertools import pairwise

import numpy as np
import pytest

from collector.exercise import (
    DOFS,
    HELD_MIN_S,
    RepSpec,
    SessionScript,
    SetSpec,
    choreograph,
    random_script,
)
from collector.simulator import SimConfig, simulate
from tests.conftest import cached_session


def _moving(choreo, t):
    """True where any degree of freedom moves at time t."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    return np.any([np.abs(choreo.dofs[d].evaluate(t).qd) > 0 for d in DOFS], axis=0)


@pytest.fixture(scope="module")
def messy():
    return cached_session(seed=21, sets=3, reps_per_set=10, technique="mixed", variety="messy")


def test_rep_count_and_sets(messy):
    gt = messy.truth
    assert len(gt.reps) == 30
    assert [s["reps"] for s in gt.sets] == [10, 10, 10]
    assert {r["technique"] for r in gt.reps} == {"slider", "tensioner"}
    assert [r["rep"] for r in gt.reps] == list(range(1, 31))


def test_rep_boundaries_are_movement_onset_and_end(messy):
    c = messy.choreography
    for r in messy.truth.reps:
        before = np.linspace(
            r["start_s"] - min(r["pause_before_s"], 1.0) + 1e-3, r["start_s"] - 1e-6, 50
        )
        assert not _moving(c, before).any(), f"rep {r['rep']}: movement before its start"
        assert _moving(c, r["start_s"] + 0.02).all(), f"rep {r['rep']}: no movement at its start"
        assert _moving(c, r["end_s"] - 0.02).all(), f"rep {r['rep']}: no movement before its end"
        assert not _moving(c, r["end_s"] + 1e-6).any(), (
            f"rep {r['rep']}: still moving after its end"
        )


def test_knee_range_and_phases(messy):
    c = messy.choreography
    for r in messy.truth.reps:
        spec = r["spec"]
        tol = spec["tremor_deg"] + abs(spec["knee_rest_shift_deg"]) + 1e-6
        assert r["knee_rom_deg"] == pytest.approx(spec["knee_rom_deg"], abs=tol)
        knee_at = c.knee_deg(np.array([r["knee_out_start_s"], r["knee_top_s"]]))
        assert knee_at[1] - knee_at[0] == pytest.approx(spec["knee_rom_deg"], abs=1e-6)
        assert r["out_s"] >= spec["out_s"] - 1e-9 and r["back_s"] >= spec["back_s"] - 1e-9


def test_technique_is_the_sign_of_head_knee_coupling(messy):
    c = messy.choreography
    for r in messy.truth.reps:
        t = np.linspace(r["start_s"], r["end_s"], 400)
        coupling = np.corrcoef(c.knee_deg(t), c.head_pitch_deg(t))[0, 1]
        if r["technique"] == "slider":
            assert coupling > 0.5, f"slider rep {r['rep']}: head should lift as the knee extends"
        else:
            assert coupling < -0.5, (
                f"tensioner rep {r['rep']}: head should flex as the knee extends"
            )


def test_holds_are_stillness_of_both_straps_at_end_range(messy):
    held = [r for r in messy.truth.reps if r["spec"]["hold_s"] > 0]
    assert held, "messy sessions contain held reps"
    for r in messy.truth.reps:
        if r["spec"]["hold_s"] > 0:
            assert r["hold_s"] >= r["spec"]["hold_s"]
            assert r["held"]
        else:
            assert r["hold_s"] < HELD_MIN_S and not r["held"]


def test_a_look_up_with_the_knee_still_is_not_a_hold():
    spec = RepSpec(technique="slider", look_up_deg=25.0, look_s=1.5, hold_s=0.0, settle_s=0.1)
    c = choreograph(SessionScript((SetSpec((spec,)),)))
    r = c.truth.reps[0]
    assert r["knee_back_start_s"] - r["knee_top_s"] > 3.0  # knee still for > 3 s ...
    assert r["hold_s"] == pytest.approx(0.1)  # ... but the head moved all along


def test_halting_reps_stop_mid_movement(messy):
    c = messy.choreography
    halting = [r for r in messy.truth.reps if r["halting"]]
    assert halting
    for r in halting:
        t = np.linspace(r["knee_out_start_s"] + 0.05, r["knee_top_s"] - 0.05, 2000)
        knee_speed = np.abs(c.dofs["knee"].evaluate(t).qd)
        tremor = np.radians(r["spec"]["tremor_deg"]) * 2 * np.pi * r["spec"]["tremor_hz"]
        assert (knee_speed <= tremor + 1e-9).any(), "knee comes (close) to a stop"


def test_fidgets_happen_in_rests_and_are_smaller_than_reps(messy):
    sets = messy.truth.sets
    assert messy.truth.fidgets
    for f in messy.truth.fidgets:
        assert any(
            a["end_s"] < f["start_s"] and f["end_s"] < b["start_s"] for a, b in pairwise(sets)
        )
        if f["kind"] == "leg_swing":
            assert 2 * f["amplitude"] < 25.0  # peak to peak below a partial rep's range


def test_signals_agree_with_truth_on_when_the_shin_moves():
    s = cached_session(seed=8, sets=2, reps_per_set=4, noise=0.0, fidgets=False)
    st = s.streams["shin"]
    speed = np.linalg.norm(st.gyro_dps, axis=1)
    moving = _moving(s.choreography, st.time_s)
    assert speed[~moving].max() <= 0.11  # two int16 steps: nothing moves, nothing reads
    for r in s.truth.reps:
        inside = (st.time_s > r["knee_out_start_s"]) & (st.time_s < r["knee_top_s"])
        assert speed[inside].max() > 20.0


def test_random_scripts_cover_the_conditions():
    rng = np.random.default_rng(0)
    script = random_script(rng, sets=20, reps_per_set=10, technique="mixed", variety="messy")
    truth = choreograph(script).truth
    flags = {
        k: sum(r[k] for r in truth.reps)
        for k in ("held", "partial", "halting", "fast", "long_pause")
    }
    assert all(n >= 10 for n in flags.values()), flags
    kinds = {f["kind"] for f in truth.fidgets}
    assert kinds == {"leg_swing", "seat_shift", "head_turn", "strap_handling"}


def test_simulation_is_deterministic_and_parts_are_independent():
    a = simulate(SimConfig(seed=99, sets=1, reps_per_set=2))
    b = simulate(SimConfig(seed=99, sets=1, reps_per_set=2))
    c = simulate(SimConfig(seed=100, sets=1, reps_per_set=2))
    shin_only = simulate(SimConfig(seed=99, sets=1, reps_per_set=2, head=False))
    np.testing.assert_array_equal(a.streams["head"].acc_mps2, b.streams["head"].acc_mps2)
    assert a.truth.reps == b.truth.reps
    assert not np.array_equal(a.streams["shin"].acc_mps2[:100], c.streams["shin"].acc_mps2[:100])
    np.testing.assert_array_equal(a.streams["shin"].gyro_dps, shin_only.streams["shin"].gyro_dps)
    assert set(shin_only.streams) == {"shin"}


def test_truth_angles_follow_the_straps_sample_times():
    s = cached_session(seed=8, sets=2, reps_per_set=4, noise=0.0, fidgets=False)
    ta = s.truth_angles("shin")
    np.testing.assert_array_equal(ta["time_s"], s.streams["shin"].time_s)
    peak = max(r["knee_rom_deg"] for r in s.truth.reps)
    assert np.ptp(ta["angle_deg"]) == pytest.approx(peak, abs=6)
