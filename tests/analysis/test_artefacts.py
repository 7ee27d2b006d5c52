"""The artefact screen (analysis/artefacts.py): knocks and hits beyond full scale are found where
the simulator put them (its ground truth), bridged so they neither open nor break a rep, counted
per rep and reported as events; clean data, fidgets included, raise none; any chunking gives the
same bits."""

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analysis.artefacts import ArtefactParams, ArtefactScreen
from analysis.frontend import StrapFrontEnd
from analysis.session import RepAnalysis
from collector.exercise import Disturbances
from collector.simulator import SimConfig, simulate
from tests.conftest import cached_session

AP = ArtefactParams()


def _samples(session):
    """The received samples per strap, as a recording holds them."""
    out = {}
    for role, st in session.streams.items():
        k = st.kept
        cols = {"time_s": st.time_s[k]}
        for i, ax in enumerate("xyz"):
            cols[f"acc_{ax}"], cols[f"gyr_{ax}"] = st.acc_mps2[k, i], st.gyro_dps[k, i]
        out[role] = pd.DataFrame(cols)
    return out


def _hits(session, kinds=("knock", "saturation")):
    return [e for e in session.truth.disturbances if e["kind"] in kinds]


@pytest.mark.parametrize("rate_hz", [25, 100, 400])
def test_every_knock_and_hit_is_found_where_the_truth_puts_it_and_nothing_else(rate_hz):
    d = Disturbances(knocks_per_min=12.0, saturation_per_min=4.0)
    s = simulate(SimConfig(seed=71, sets=2, reps_per_set=6, rate_hz=rate_hz, disturbances=d))
    an = RepAnalysis().run(_samples(s)).analyzer_
    hits = _hits(s)
    assert len(hits) >= 10
    for role, fe in an.fe.items():
        mine = [h for h in hits if h["sensor"] == role]
        found = fe.artefacts
        # one run per hit (hits of one strap further apart than the window), at its samples
        assert len(found) == len(mine), role
        for h, a in zip(sorted(mine, key=lambda h: h["start_s"]), found, strict=True):
            assert a.start_s == pytest.approx(h["start_s"], abs=1e-9)
            assert a.end_s == pytest.approx(h["end_s"], abs=1e-9)
            assert a.samples == h["samples"]
            if h["kind"] == "saturation":
                assert a.kind == "beyond_bounds"


@pytest.mark.parametrize("seed,rate_hz", [(72, 25), (73, 50), (74, 200)])
def test_clean_sessions_with_fidgets_raise_no_artefact(seed, rate_hz):
    s = cached_session(seed=seed, sets=2, reps_per_set=5, rate_hz=rate_hz, variety="messy")
    assert s.truth.fidgets  # leg swings, seat shifts, head turns, strap handling
    an = RepAnalysis().run(_samples(s)).analyzer_
    assert [a for fe in an.fe.values() for a in fe.artefacts] == []


def test_bridged_rotation_equals_the_undisturbed_one():
    """A knock integrates to 5–76° at 25–100 Hz; bridged, the shin's integrated rotation stays
    within a fraction of a degree of the same session without the knocks."""
    base = SimConfig(seed=75, sets=1, reps_per_set=6, rate_hz=50)
    clean = simulate(base)
    knocked = simulate(replace(base, disturbances=Disturbances(knocks_per_min=15.0)))
    assert _hits(knocked)
    phis = []
    for s in (clean, knocked):
        fe = StrapFrontEnd()
        st = s.streams["shin"]
        fe.add(st.time_s, st.acc_mps2, st.gyro_dps)
        fe.flush()
        phis.append(fe.cols.get("phi"))
    err = np.linalg.norm(phis[1] - phis[0], axis=1)
    assert err.max() < 0.5


def test_a_knocked_session_counts_every_rep_and_each_rep_counts_its_knocks():
    """The field report: 12 single-sample knocks over an 80 s, 10-rep session (2 of 10 were
    counted before the screen)."""
    d = Disturbances(knocks_per_min=9.0)
    s = simulate(SimConfig(seed=76, sets=1, reps_per_set=10, rate_hz=50, disturbances=d))
    result = RepAnalysis().run(_samples(s)).result_
    truth = s.truth.reps
    assert len(result.reps) == len(truth)
    hits = _hits(s)
    for _, r in result.reps.iterrows():
        inside = sum(r.start_s <= h["end_s"] and h["start_s"] <= r.end_s for h in hits)
        assert r.artefacts == inside
    events = [e for e in result.events if e.kind == "artefact"]
    assert len(events) == len(hits)
    assert sorted(e.time_s for e in events) == pytest.approx(sorted(h["start_s"] for h in hits))


def test_screen_output_is_the_same_for_any_chunking():
    d = Disturbances(knocks_per_min=20.0, saturation_per_min=8.0)
    st = simulate(SimConfig(seed=77, sets=1, reps_per_set=3, rate_hz=400, disturbances=d))
    st = st.streams["shin"]
    n = len(st.time_s)
    rng = np.random.default_rng(3)
    outs = []
    for cuts in ([0, n], sorted({0, n, *rng.integers(1, n, 600).tolist()})):
        fe = StrapFrontEnd()
        for a, b in itertools.pairwise(cuts):
            fe.add(st.time_s[a:b], st.acc_mps2[a:b], st.gyro_dps[a:b])
        fe.flush()
        outs.append(fe)
    for name in StrapFrontEnd.COLUMNS:
        np.testing.assert_array_equal(outs[0].cols.get(name), outs[1].cols.get(name), err_msg=name)
    assert outs[0].artefacts == outs[1].artefacts and outs[0].artefacts


def _screen_all(screen, t, acc, gyro, cuts):
    parts = [screen.screen(t[a:b], acc[a:b], gyro[a:b]) for a, b in itertools.pairwise(cuts)]
    parts.append(screen.screen(np.empty(0), np.empty((0, 3)), np.empty((0, 3)), final=True))
    return [np.concatenate([p[i] for p in parts]) for i in range(4)]


def test_a_spike_is_replaced_by_the_line_between_its_neighbours_and_a_long_run_holds():
    """Analytic: a 10 deg/s ramp with one 900 deg/s sample and, later, a 0.5 s stuck run at
    full scale; the spike becomes the ramp's own value, the long run the last good sample."""
    rate = 100.0
    t = np.arange(400) / rate
    gyro = np.zeros((400, 3))
    gyro[:, 1] = 10.0 * t  # a slow, steady change
    acc = np.tile([0.0, 0.0, 9.81], (400, 1))
    raw = gyro.copy()
    raw[100, 1] = 900.0
    raw[250:300, 0] = 2000.0  # stuck at full scale for 0.5 s (> max_bridge_s)
    for cuts in ([0, 400], [0, 7, 101, 102, 180, 251, 260, 299, 300, 400]):
        screen = ArtefactScreen(rate)
        tt, _, g, flag = _screen_all(screen, t, acc, raw, cuts)
        np.testing.assert_array_equal(tt, t)
        np.testing.assert_array_equal(np.flatnonzero(flag), [100, *range(250, 300)])
        np.testing.assert_allclose(g[100], gyro[100], atol=1e-12)  # on the line
        np.testing.assert_array_equal(g[250:300], np.tile(raw[249], (50, 1)))  # held
        np.testing.assert_array_equal(np.delete(g, [100, *range(250, 300)], 0),
                                      np.delete(raw, [100, *range(250, 300)], 0))  # fmt: skip
        assert [(x.samples, x.kind) for x in screen.artefacts] == [
            (1, "spike"),
            (50, "beyond_bounds"),
        ]
