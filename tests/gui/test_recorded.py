"""Replay hands out the one analysis result in step with playback, as live reported it."""

import numpy as np
import pytest

from analysis.online import OnlineAnalyzer
from analysis.session import RepAnalysis
from benchmarks.accuracy import samples_of
from collector.model import SampleBlock
from gui.dashboard.recorded import RecordedAnalysis
from tests.conftest import cached_session


@pytest.fixture(scope="module")
def session():
    return cached_session(seed=51, sets=2, reps_per_set=3, variety="messy")


def test_replayed_status_and_reps_follow_what_live_reported(session):
    """At every notification, live's reps, set and head direction equal what the recorded
    analysis says at the data time live had decided up to; its calibration stages come in the
    same order, each within a notification or two of when live showed it."""
    result = RepAnalysis().run(samples_of(session)).result_
    ra = RecordedAnalysis(result)
    live = OnlineAnalyzer(sensors=list(session.streams))
    last = dict.fromkeys(session.streams, -np.inf)
    checked = 0
    reported = []
    live_stages: list[tuple[float, str]] = []
    for _, item in session.timeline():
        if not isinstance(item, SampleBlock):
            continue
        reported += live.push(item.sensor, item.time_s, item.acc_mps2, item.gyro_dps)
        last[item.sensor] = float(item.time_s[-1])
        t_ready = live.analysed_to_s  # the data time live had decided up to
        want = live.status
        if not live_stages or live_stages[-1][1] != want.calibration:
            live_stages.append((max(last.values()), want.calibration))
        if not np.isfinite(t_ready):
            continue
        ra.seek(t_ready)
        got = ra.status
        assert (got.reps, got.set, got.head_sign_source) == (
            want.reps, want.set, want.head_sign_source
        ), t_ready  # fmt: skip
        assert [r.rep for r in ra.reps] == [r.rep for r in reported]
        checked += 1
    assert checked > 1000 and len(reported) == len(session.truth.reps) == len(ra.all_reps)
    replayed = [(t, s.calibration) for t, s in ra.statuses]
    replayed = [x for i, x in enumerate(replayed) if i == 0 or x[1] != replayed[i - 1][1]]
    assert [s for _, s in replayed] == [s for _, s in live_stages[1:]]  # live starts "waiting"
    for (t_replay, _), (t_live, _) in zip(replayed, live_stages[1:], strict=True):
        assert t_replay <= t_live + 1e-9 and t_live - t_replay < 0.2


def test_playback_hands_out_reps_when_decided_and_angles_once(session):
    result = RepAnalysis().run(samples_of(session)).result_
    ra = RecordedAnalysis(result)
    d = result.decided_s
    ra.seek(0.0)
    assert ra.push("shin", np.array([d[0] - 0.01]), None, None) == []
    assert [r.rep for r in ra.push("shin", np.array([d[0]]), None, None)] == [1]
    got = ra.take_angles()
    assert set(got) == {"shin", "head"}
    t, a = got["shin"]
    assert t[0] > 0.0 and t[-1] == pytest.approx(d[0], abs=0.02) and np.isfinite(a).all()
    assert ra.take_angles() == {}  # nothing new until playback moves on
    # joining late (the analysis finished while playing): the last 30 s come at once
    ra.catch_up(d[2] + 1.0, history_s=30.0)
    assert [r.rep for r in ra.reps] == [1, 2, 3]
    t, _ = ra.take_angles()["shin"]
    assert t[0] == pytest.approx(d[2] + 1.0 - 30.0, abs=0.02) and t[-1] <= d[2] + 1.0
    assert [r.rep for r in ra.finish()] == [r.rep for r in result.records[3:]]


def test_angles_are_the_offline_ones_from_the_first_sample(session):
    """Replay shows the zero-phase session angles, known from the start (not only after a
    replayed calibration), and they follow the simulated truth."""
    result = RepAnalysis().run(samples_of(session)).result_
    ra = RecordedAnalysis(result)
    ra.seek(-1.0)
    ra.push("shin", np.array([session.duration_s]), None, None)
    for role, (t, a) in ra.take_angles().items():
        assert np.array_equal(a, result.angles[role]["angle_deg"].to_numpy(), equal_nan=True)
        truth = session.truth_angles(role)
        ok = np.isfinite(a)
        assert ok.mean() > 0.95, role
        err = a[ok] - np.interp(t[ok], truth["time_s"], truth["angle_deg"])
        err -= np.median(err)  # zero = calibration pose, truth's zero = vertical
        assert np.sqrt(np.mean(err**2)) < 3.0, role
