"""Jolts (analysis/jolts.py): a chair bump felt by both straps at once is reported where the
simulator put it (its ground truth), never on sessions without one, counted in the reps it falls
in, the same live and offline and for any chunking."""

import numpy as np
import pytest

from analysis.online import OnlineAnalyzer
from analysis.session import RepAnalysis
from benchmarks.accuracy import samples_of
from collector.exercise import disturbances_at
from collector.model import SampleBlock
from collector.simulator import SimConfig, simulate

MARGIN_S = 0.06  # a report within this of the bump's span (its samples and the window's edge)


def _bumps(s):
    return [e for e in s.truth.disturbances if e["kind"] == "bump"]


def _artefacts(result):
    return [(e.time_s, e.detail) for e in result.events if e.kind == "artefact"]


def _near(t0, t1, evs, margin=MARGIN_S):
    return any(t0 <= e["end_s"] + margin and t1 >= e["start_s"] - margin for e in evs)


@pytest.mark.parametrize("rate_hz", [100, 400])
def test_every_chair_bump_is_reported_and_no_jolt_is_invented(rate_hz):
    found = total = 0
    for seed in (11, 12, 13):
        cfg = SimConfig(
            seed=seed, rate_hz=rate_hz, variety="messy", disturbances=disturbances_at("typical")
        )
        s = simulate(cfg)
        arts = _artefacts(RepAnalysis(angles=False).run(samples_of(s)).result_)
        bumps = _bumps(s)
        total += len(bumps)
        for b in bumps:
            found += any(_near(t, d["end_s"], [b]) for t, d in arts)
        jolts = [(t, d) for t, d in arts if d["type"] == "jolt"]
        assert jolts, "the screen alone found every bump: the jolt finder was not exercised"
        for t, d in jolts:  # every jolt is a simulated bump: sway, slides, knocks make none
            assert _near(t, d["end_s"], bumps), (seed, t, d)
            assert d["sensor"] == "both" and d["acc_g"] >= 0.3 and d["head_acc_g"] >= 0.3
    assert total >= 10 and found == total


@pytest.mark.parametrize("rate_hz", [25, 100, 400])
def test_sessions_without_bumps_have_no_jolt(rate_hz):
    for seed in (21, 22):
        s = simulate(SimConfig(seed=seed, rate_hz=rate_hz, variety="messy"))  # fidgets on
        arts = _artefacts(RepAnalysis(angles=False).run(samples_of(s)).result_)
        assert [d for _, d in arts if d["type"] == "jolt"] == []


def test_a_rep_counts_the_bumps_within_it_the_same_live_and_offline():
    cfg = SimConfig(seed=14, sets=2, reps_per_set=6, rate_hz=200,
                    disturbances=disturbances_at("severe", ("bumps",)))  # fmt: skip
    s = simulate(cfg)
    offline = RepAnalysis(angles=False).run(samples_of(s)).reps_
    truth_in = [
        sum(_near(r.start_s, r.end_s, [b], 0.0) for b in _bumps(s)) for r in offline.itertuples()
    ]
    assert sum(truth_in) >= 3  # the session puts bumps inside reps
    # a rep reports artefacts exactly where a bump fell in it (a bump the screen sees as two
    # short runs on one strap counts twice: the column counts runs)
    assert [n > 0 for n in offline["artefacts"]] == [n > 0 for n in truth_in]
    an = OnlineAnalyzer(sensors=list(s.streams))
    for _, item in s.timeline():
        if isinstance(item, SampleBlock):
            an.push(item.sensor, item.time_s, item.acc_mps2, item.gyro_dps)
    an.finish()
    assert [r.artefacts for r in an.reps] == offline["artefacts"].tolist()


def test_any_chunking_finds_the_same_jolts():
    s = simulate(SimConfig(seed=15, sets=1, reps_per_set=6, rate_hz=100,
                           disturbances=disturbances_at("severe", ("bumps",))))  # fmt: skip
    whole = RepAnalysis(angles=False).run(samples_of(s)).analyzer_
    ref = [(j.start_s, j.end_s, j.samples, j.acc_g) for j in whole.jolts.jolts]
    assert ref
    rng = np.random.default_rng(0)
    an = OnlineAnalyzer(sensors=list(s.streams), display_angles=False)
    arrays = {r: (st.time_s[st.kept], st.acc_mps2[st.kept], st.gyro_dps[st.kept])
              for r, st in s.streams.items()}  # fmt: skip
    pos = {r: 0 for r in arrays}
    while any(pos[r] < len(arrays[r][0]) for r in arrays):
        for r, (t, acc, gyro) in arrays.items():
            a = pos[r]
            b = min(len(t), a + int(rng.integers(1, 400)))
            if b > a:
                an.push(r, t[a:b], acc[a:b], gyro[a:b])
            pos[r] = b
    an.finish()
    assert [(j.start_s, j.end_s, j.samples, j.acc_g) for j in an.jolts.jolts] == ref


def test_a_shin_only_session_has_no_jolt_finder():
    s = simulate(SimConfig(seed=16, sets=1, reps_per_set=3, head=False))
    an = RepAnalysis(angles=False).run(samples_of(s)).analyzer_
    assert an.jolts is None
