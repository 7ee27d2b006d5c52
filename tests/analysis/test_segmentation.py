"""Rep segmentation on scripted sessions: what is a rep, what is not, sets, techniques."""

import numpy as np
import pandas as pd
import pytest

from analysis.session import analyze
from benchmarks.accuracy import match, samples_of
from collector.exercise import FidgetSpec, Posture, RepSpec, SessionScript, SetSpec
from collector.simulator import SimConfig, simulate


def run(script, **cfg):
    s = simulate(SimConfig(**cfg), script=script)
    return s, analyze(samples_of(s), angles=False)


def assert_matches_truth(s, res, tol_s=0.15):
    truth = pd.DataFrame(s.truth.reps)
    assert len(res.reps) == len(truth), res.reps[["start_s", "end_s", "knee_rom_deg"]]
    pairs = match(res.reps, truth)
    assert len(pairs) == len(truth)
    for i, j in pairs:
        assert res.reps.loc[i, "start_s"] == pytest.approx(truth.loc[j, "start_s"], abs=tol_s)
        assert res.reps.loc[i, "end_s"] == pytest.approx(truth.loc[j, "end_s"], abs=tol_s)


def test_shin_only_25hz_knee_extensions_held_5s_are_one_rep_per_lift():
    lift = RepSpec(
        technique="slider", out_s=2.0, back_s=2.0, knee_rom_deg=70, trunk_rom_deg=0,
        neck_rom_deg=0, look_up_deg=0, hold_s=5.0, pause_before_s=2.0,
    )  # fmt: skip
    script = SessionScript((SetSpec((lift,) * 6),), calibration=False)
    s, res = run(script, seed=3, rate_hz=25.0, head=False)
    assert_matches_truth(s, res)
    reps = res.reps
    assert (reps["hold_s"] > 4.5).all() and (reps["hold_s"] < 5.5).all()
    assert all("held" in f for f in reps["flags"])
    assert (reps["technique"] == "unclear").all() and reps["head_rom_deg"].isna().all()


def test_fast_reps_following_closely_are_counted_one_by_one():
    fast = RepSpec(out_s=0.9, back_s=0.9, look_s=0.4, look_up_deg=12, pause_before_s=0.0)
    first = RepSpec(out_s=0.9, back_s=0.9, look_s=0.4, look_up_deg=12, pause_before_s=2.0)
    script = SessionScript((SetSpec((first, *(fast for _ in range(9)))),))
    s, res = run(script, seed=4, rate_hz=100.0)
    assert_matches_truth(s, res)
    assert all("too_fast" in f for f in res.reps["flags"])
    assert (res.reps["technique"] == "slider").all()


def test_fidgets_are_not_reps_even_a_strap_turned_about_a_knee_like_axis():
    reps = (RepSpec(), RepSpec(), RepSpec())
    fidgets = (
        (1.0, FidgetSpec("leg_swing", 4.0, 10.0, freq_hz=1.0)),
        (7.0, FidgetSpec("seat_shift", 2.0, 0.05, residual=4.0)),
        (12.0, FidgetSpec("head_turn", 3.0, 70.0)),
        # the hard case: the strap is turned 35° about an axis close to the knee's (lateral)
        (18.0, FidgetSpec("strap_handling", 3.0, 35.0, sensor="shin", axis=(0.1, 0.99, 0.05))),
        (25.0, FidgetSpec("strap_handling", 3.0, 30.0, sensor="head", axis=(0.0, 1.0, 0.0))),
    )
    script = SessionScript((SetSpec(reps, rest_after_s=40.0, fidgets=fidgets), SetSpec(reps)))
    for seed in (1, 2, 3):
        s, res = run(script, seed=seed, rate_hz=100.0, mounting="random")
        assert_matches_truth(s, res)
        assert list(res.reps["set"]) == [1, 1, 1, 2, 2, 2]


def test_long_pauses_stay_in_the_set_rests_start_a_new_one():
    reps = (RepSpec(), RepSpec(pause_before_s=12.0), RepSpec(pause_before_s=0.3))
    script = SessionScript((SetSpec(reps, rest_after_s=20.0), SetSpec(reps[:2])))
    s, res = run(script, seed=5)
    assert_matches_truth(s, res)
    assert list(res.reps["set"]) == [1, 1, 1, 2, 2]
    assert np.isnan(res.reps["pause_before_s"].iloc[0]) and np.isnan(
        res.reps["pause_before_s"].iloc[3]
    )
    assert res.reps["pause_before_s"].iloc[1] == pytest.approx(12.0, abs=0.2)


def test_partial_and_halting_reps_are_reps_and_flagged():
    reps = (
        RepSpec(knee_rom_deg=30.0),
        RepSpec(halts=2, halt_s=0.5, tremor_deg=0.5, out_s=3.0, back_s=3.0),
        RepSpec(),
    )
    s, res = run(SessionScript((SetSpec(reps),)), seed=6, rate_hz=50.0)
    assert_matches_truth(s, res)
    flags = list(res.reps["flags"])
    assert "partial" in flags[0] and "halting" not in flags[0]
    assert "halting" in flags[1] and "partial" not in flags[1]
    assert flags[2] == ""
    assert res.reps["sparc"].iloc[1] < res.reps["sparc"].iloc[2] - 1.0


@pytest.mark.parametrize("mounting", ["nominal", "backwards", "random"])
def test_slider_and_tensioner_told_apart_whichever_way_the_band_is_worn(mounting):
    sliders = SetSpec(tuple(RepSpec(technique="slider") for _ in range(3)), rest_after_s=25.0)
    tensioners = SetSpec(tuple(RepSpec(technique="tensioner") for _ in range(3)))
    s, res = run(SessionScript((tensioners, sliders)), seed=7, mounting=mounting)
    assert_matches_truth(s, res)
    assert list(res.reps["technique"]) == ["tensioner"] * 3 + ["slider"] * 3
    assert res.status.head_sign_source == "calibration"
    sliders_ = res.reps.iloc[3:]
    assert (sliders_["crp_mean_deg"].abs() < 60).all() and (sliders_["look_up_deg"] > 15).all()
    assert (res.reps.iloc[:3]["crp_mean_deg"].abs() > 120).all()


def test_without_calibration_the_head_direction_comes_from_a_slider_look_up():
    tens = SetSpec(tuple(RepSpec(technique="tensioner") for _ in range(2)), rest_after_s=25.0)
    slid = SetSpec(tuple(RepSpec(technique="slider") for _ in range(2)), rest_after_s=25.0)
    script = SessionScript((tens, slid, tens), posture=Posture(), calibration=False)
    s, res = run(script, seed=8, mounting="random")
    assert_matches_truth(s, res)
    # before any look-up the direction is unknown (never guessed); once the first slider's
    # look-up teaches it, the two tensioners before are scored again, each with an event
    assert list(res.reps["technique"]) == ["tensioner"] * 2 + ["slider"] * 2 + ["tensioner"] * 2
    assert not any("head_direction_unknown" in f for f in res.reps["flags"])
    revised = [e for e in res.events if e.kind == "revised"]
    assert [(e.detail["rep"], e.detail["was"], e.detail["technique"]) for e in revised] == [
        (1, "unclear", "tensioner"),
        (2, "unclear", "tensioner"),
    ]
    slider = res.reps.iloc[2]
    assert all(slider.end_s <= e.time_s for e in revised)  # known only after the look-up
    assert res.status.head_sign_source == "look_up"
