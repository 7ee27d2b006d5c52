"""The simulator's real-world disturbances (issue 9): every event is in the streams where the
ground truth says, with its documented size; each kind draws from its own random stream; and a
session without disturbances is exactly the session it always was.

Sizes are checked against the streams a strap reports (int16-quantised), by comparing a
disturbed session with the same seed undisturbed: everything else (motion, noise, clock, link)
is identical, so the difference is the disturbance alone. Stillness is the analysis front-end's
test (``analysis.frontend.FrontEndParams`` thresholds), recomputed here from the samples.
"""

import json
from itertools import pairwise

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from analysis.frontend import FrontEndParams
from collector.constants import G_MPS2
from collector.exercise import (
    DISTURBANCE_KINDS,
    DISTURBANCE_LEVELS,
    DOFS,
    PARTIAL_MAX_DEG,
    Disturbances,
    GroundTruth,
    disturbances_at,
)
from collector.simulator import SimConfig, parse_faults, simulate, with_faults
from tests.conftest import cached_session

FIELDS = (
    "time_s", "device_time_s", "acc_mps2", "gyro_dps", "acc_counts", "gyro_counts",
    "packet_starts", "packet_arrival_s", "packet_kept",
)  # fmt: skip
FE = FrontEndParams()


def _kind(kind: str, severity: str = "typical") -> Disturbances:
    return disturbances_at(severity, (kind,))


def _events(session, kind: str) -> list[dict]:
    return [e for e in session.truth.disturbances if e["kind"] == kind]


def _assert_same_streams(a, b) -> None:
    assert a.streams.keys() == b.streams.keys()
    for role in a.streams:
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(a.streams[role], f), getattr(b.streams[role], f))


def _changed(a, b, role: str) -> np.ndarray:
    """Sample indices where the strap's reported counts differ between two sessions."""
    sa, sb = a.streams[role], b.streams[role]
    diff = np.any(sa.acc_counts != sb.acc_counts, axis=1) | np.any(
        sa.gyro_counts != sb.gyro_counts, axis=1
    )
    return np.flatnonzero(diff)


def _still(stream) -> np.ndarray:
    """The front-end's stillness per sample, with the strap's true gyro bias (the best any
    estimate can do): over the trailing window the gyro and accelerometer variances are below
    their thresholds and the mean rate is within ``still_rate_dps`` of the bias."""
    rate = stream.info.rate_hz
    n = max(3, round(FE.window_s * rate))

    def mean(x):
        c = np.cumsum(np.vstack([np.zeros(x.shape[1]), x]), axis=0)
        return (c[n:] - c[:-n]) / n

    g, a = stream.gyro_dps, stream.acc_mps2
    var_g = np.maximum(mean(g**2) - mean(g) ** 2, 0).sum(axis=1)
    var_a = np.maximum(mean(a**2) - mean(a) ** 2, 0).sum(axis=1)
    off = np.linalg.norm(mean(g) - stream.errors.gyro_bias_dps, axis=1)
    quiet = (var_g < FE.still_gyro_sd_dps**2) & (var_a < FE.still_acc_sd_mps2**2)
    still = quiet & (off < FE.still_rate_dps)
    return np.concatenate([np.zeros(n - 1, bool), still])  # aligned with the window's last sample


def _runs_s(mask: np.ndarray, t: np.ndarray) -> list[tuple[float, float]]:
    """(start, length) in s of each run of True (length counted in samples × period)."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    period = np.median(np.diff(t))
    return [
        (float(t[a]), (b - a) * period)
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
    ]


# -- no disturbances ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_session_without_disturbances_is_unchanged(seed):
    plain = simulate(SimConfig(seed=seed))
    # every rate and count zero, but other sizes changed: nothing may happen
    zero = Disturbances(
        knock_acc_g=(1.0, 2.0), bump_ms=(10.0, 20.0), sway_hz=(0.2, 0.3), slide_deg=3.0,
        short_return_deg=(1.0, 2.0), start_still_s=0.1, sway_max_still_s=0.2,
    )  # fmt: skip
    assert not zero.active and not Disturbances().active
    other = simulate(SimConfig(seed=seed, disturbances=zero))
    _assert_same_streams(plain, other)
    assert plain.truth.to_dict() == other.truth.to_dict()
    assert plain.truth.disturbances == []
    for role in plain.streams:
        np.testing.assert_array_equal(
            plain.truth_angles(role)["angle_deg"], other.truth_angles(role)["angle_deg"]
        )


def test_sensor_disturbances_leave_the_motion_and_the_noise_alone():
    d = Disturbances(knocks_per_min=9.0, saturation_per_min=3.0)
    clean = cached_session(seed=700001)
    hit = cached_session(seed=700001, disturbances=d)
    assert hit.truth.reps == clean.truth.reps
    for role in clean.streams:
        np.testing.assert_array_equal(
            hit.truth_angles(role)["angle_deg"], clean.truth_angles(role)["angle_deg"]
        )
        hits = {
            i
            for e in hit.truth.disturbances
            if e["sensor"] == role
            for i in range(e["sample"], e["sample"] + e["samples"])
        }
        assert hits and set(_changed(hit, clean, role)) == hits


# -- knocks -------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [25.0, 400.0])
def test_knocks_are_single_samples_of_the_measured_size(rate):
    clean = cached_session(seed=700002, rate_hz=rate)
    s = cached_session(seed=700002, rate_hz=rate, disturbances=_kind("knocks"))
    knocks = _events(s, "knock")
    expected = 9.0 * s.duration_s / 60.0
    assert abs(len(knocks) - expected) < 5 * np.sqrt(expected)
    assert {e["sensor"] for e in knocks} == {"shin", "head"}
    lsb_acc = 16.0 * G_MPS2 / 32768
    for role, st in s.streams.items():
        mine = [e for e in knocks if e["sensor"] == role]
        assert sorted(_changed(s, clean, role)) == sorted(e["sample"] for e in mine)
        for e in mine:
            i = e["sample"]
            assert e["samples"] == 1 and e["start_s"] == e["end_s"] == st.time_s[i]
            acc_g = np.linalg.norm(st.acc_mps2[i]) / G_MPS2
            gyro = np.linalg.norm(st.gyro_dps[i])
            assert 4.0 - 1e-3 <= acc_g <= 15.0 + 1e-3
            assert 500.0 - 0.2 <= gyro <= 1900.0 + 0.2
            assert acc_g == pytest.approx(e["acc_g"], abs=2 * lsb_acc / G_MPS2)
            assert gyro == pytest.approx(e["gyro_dps"], abs=0.2)
            # its neighbours are the body's motion: far below the knock
            for j in (i - 1, i + 1):
                if 0 <= j < len(st.time_s) and j not in {k["sample"] for k in mine}:
                    assert np.linalg.norm(st.acc_mps2[j]) / G_MPS2 < 2.0


# -- chair bumps ----------------------------------------------------------------------------


def test_bumps_jolt_both_straps_within_the_same_30_to_80_ms():
    clean = cached_session(seed=700003, rate_hz=400.0)
    s = cached_session(seed=700003, rate_hz=400.0, disturbances=_kind("bumps", "severe"))
    bumps = _events(s, "bump")
    assert len(bumps) >= 5
    for e in bumps:
        assert 30.0 <= e["duration_ms"] <= 80.0 and 1.0 <= e["acc_g"] <= 4.0
        assert e["end_s"] - e["start_s"] == pytest.approx(e["duration_ms"] / 1000)
    for role, st in s.streams.items():
        changed = _changed(s, clean, role)
        t = st.time_s
        inside = np.zeros(len(t), bool)
        for e in bumps:
            window = (t >= e["start_s"]) & (t <= e["end_s"])
            inside |= window
            hit = np.intersect1d(np.flatnonzero(window), changed)
            # the jolt fills the bump on this strap ...
            assert len(hit) >= 0.6 * window.sum(), (role, e)
            d_acc = st.acc_mps2[window] - clean.streams[role].acc_mps2[window]
            d_gyro = st.gyro_dps[window] - clean.streams[role].gyro_dps[window]
            # ... with the pelvis's few g and the strap's wobble (scale errors ±2 %)
            peak_acc_g = np.linalg.norm(d_acc, axis=1).max() / G_MPS2
            peak_gyro = np.linalg.norm(d_gyro, axis=1).max()
            assert peak_acc_g == pytest.approx(e["acc_g"], rel=0.15), (role, e)
            assert peak_gyro == pytest.approx(e[f"{role}_gyro_dps"], rel=0.15), (role, e)
            assert peak_gyro <= 200.0 * 1.05
        assert not np.isin(changed, np.flatnonzero(~inside)).any(), "nothing outside a bump"
        # the segments do not turn: the true angles are the undisturbed ones
        np.testing.assert_array_equal(
            s.truth_angles(role)["angle_deg"], clean.truth_angles(role)["angle_deg"]
        )


def test_a_bumped_strap_reads_its_true_motion():
    """Ideal sensors at 400 Hz: inside every bump the readings equal the specific force and
    angular rate of the strap's pose (body × wobble × mounting), differentiated here."""
    s = simulate(
        SimConfig(seed=700004, noise=0.0, rate_hz=400.0, disturbances=_kind("bumps", "severe"))
    )
    body = s.body
    h = 1e-4
    for role, st in s.streams.items():
        wobbles = [w for w in s.choreography.wobbles if w.sensor == role]
        t = np.concatenate(
            [
                st.time_s[(st.time_s >= w.t0_s) & (st.time_s < w.t0_s + w.duration_s)]
                for w in wobbles
            ]
        )
        for a in s.choreography.adjustments:  # a strap being handled: not modelled here
            if a.sensor == role:
                t = t[(t < a.t0_s) | (t > a.t0_s + a.duration_s)]
        assert len(t) > 50

        def pose(tt, role=role, st=st, wobbles=wobbles):
            q = {k: d.evaluate(tt).q for k, d in s.choreography.dofs.items()}
            hip = np.stack([q["hip_x"], 0 * tt, q["hip_z"]], -1)
            if role == "shin":
                R = Rotation.from_rotvec(np.outer(-q["knee"], [0, 1, 0]))
                origin = hip + np.array([body.thigh_length_m, 0, 0])
            else:
                trunk = Rotation.from_rotvec(np.outer(q["trunk"], [0, 1, 0]))
                origin = hip + trunk.apply([0, 0, body.trunk_length_m])
                pitch = Rotation.from_rotvec(np.outer(q["trunk"] + q["neck"], [0, 1, 0]))
                R = pitch * Rotation.from_rotvec(np.outer(q["yaw"], [0, 0, 1]))
            p = origin + R.apply(st.mounting.offset_m)  # the wobble turns about the strap
            W = Rotation.identity(len(tt))
            for w in wobbles:
                W = W * Rotation.from_rotvec(np.outer(w.rotation.evaluate(tt).q, w.axis))
            return R * W * Rotation.from_matrix(st.mounting.R), p

        R0, p0 = pose(t)
        Rp, pp = pose(t + h)
        Rm, pm = pose(t - h)
        acc_world = (pp - 2 * p0 + pm) / h**2
        gyro = np.degrees((Rm.inv() * Rp).as_rotvec()) / (2 * h)  # sensor frame
        acc = R0.inv().apply(acc_world + np.array([0, 0, G_MPS2]))
        idx = np.searchsorted(st.time_s, t)
        np.testing.assert_allclose(st.gyro_dps[idx], gyro, atol=0.2)
        np.testing.assert_allclose(st.acc_mps2[idx], acc, atol=0.05)
        assert np.abs(gyro).max() > 40.0, "the wobble did turn the strap"


# -- saturation -----------------------------------------------------------------------------


@pytest.mark.parametrize("ranges", [(16.0, 2000.0), (4.0, 500.0)])
def test_hard_hits_clip_at_the_straps_int16_full_scale(ranges):
    acc_g, gyro_dps = ranges
    d = Disturbances(saturation_per_min=6.0, knocks_per_min=9.0)
    s = cached_session(seed=700005, acc_range_g=acc_g, gyro_range_dps=gyro_dps, disturbances=d)
    sats = _events(s, "saturation")
    assert len(sats) >= 5
    for role, st in s.streams.items():
        # nothing beyond full scale, ever; the counts are the values
        assert np.abs(st.acc_mps2).max() <= acc_g * G_MPS2
        assert np.abs(st.gyro_dps).max() <= gyro_dps
        np.testing.assert_allclose(st.acc_counts * (acc_g * G_MPS2 / 32768), st.acc_mps2)
        for e in (e for e in sats if e["sensor"] == role):
            assert e["acc_over_full_scale"] > 1.0 and e["gyro_over_full_scale"] > 1.0
            assert e["acc_g"] > acc_g and e["gyro_dps"] > gyro_dps
            rows = slice(e["sample"], e["sample"] + e["samples"])
            for counts in (st.acc_counts[rows], st.gyro_counts[rows]):
                assert ((counts == 32767) | (counts == -32768)).any(axis=1).all()
            # a 5–20 ms hit covers the samples in it (at least the next one)
            assert 5.0 <= e["duration_ms"] <= 20.0
            t = st.time_s
            in_hit = (t >= e["hit_s"]) & (t < e["hit_s"] + e["duration_ms"] / 1000)
            assert e["samples"] == max(1, int(in_hit.sum()))
            assert e["start_s"] == t[t >= e["hit_s"]][0]
    if acc_g < 15.0:  # knocks of up to 15 g clip on a ±4 g strap
        knocked = [e for e in _events(s, "knock") if e["acc_g"] > acc_g * np.sqrt(3)]
        assert knocked
        for e in knocked:
            counts = s.streams[e["sensor"]].acc_counts[e["sample"]]
            assert ((counts == 32767) | (counts == -32768)).any()


# -- restless sway ----------------------------------------------------------------------------


@pytest.mark.parametrize("severity", ["typical", "severe"])
@pytest.mark.parametrize("rate", [25.0, 100.0, 400.0])
def test_restless_sway_leaves_nobody_still_for_more_than_04_s(severity, rate):
    for seed in (700010, 700011):
        d = _kind("sway", severity)
        assert d.sway_max_still_s == 0.4
        s = cached_session(seed=seed, rate_hz=rate, variety="messy", disturbances=d)
        for role, st in s.streams.items():
            runs = _runs_s(_still(st), st.time_s)
            longest = max((r[1] for r in runs), default=0.0)
            assert longest <= 0.4, (seed, role, max(runs, key=lambda r: r[1]))
        # the same session sitting still: the test above would have seen it
        clean = cached_session(seed=seed, rate_hz=rate, variety="messy")
        for st in clean.streams.values():
            assert max(r[1] for r in _runs_s(_still(st), st.time_s)) > 1.5


def test_sway_is_in_the_true_angles_with_its_size_and_band():
    d = _kind("sway", "severe")
    clean = cached_session(seed=700012, rate_hz=100.0)
    s = cached_session(seed=700012, rate_hz=100.0, disturbances=d)
    assert len(_events(s, "sway")) == 1
    for role in s.streams:
        t = s.streams[role].time_s
        sway = s.truth_angles(role)["angle_deg"] - clean.truth_angles(role)["angle_deg"]
        peak = np.abs(sway).max()
        # each joint sways by up to sway_deg (twitches add half of it); the head pitch is
        # trunk + neck (0.6 + 0.9 of it)
        top = 1.5 * d.sway_deg if role == "shin" else 2.0 * d.sway_deg
        assert 0.8 * d.sway_deg <= peak <= top, (role, peak)
        power = np.abs(np.fft.rfft(sway - sway.mean())) ** 2
        f = np.fft.rfftfreq(len(sway), np.median(np.diff(t)))
        in_band = power[(f >= 0.05) & (f <= 1.0)].sum() / power.sum()
        assert in_band > 0.95, (role, in_band)
        assert 0.1 <= f[np.argmax(power)] <= 0.8
    # the reps are the same reps, and their true ranges include the sway
    assert [r["start_s"] for r in s.truth.reps] == [r["start_s"] for r in clean.truth.reps]
    assert [r["end_s"] for r in s.truth.reps] == [r["end_s"] for r in clean.truth.reps]
    for r, c in zip(s.truth.reps, clean.truth.reps, strict=True):
        assert abs(r["knee_rom_deg"] - c["knee_rom_deg"]) <= 2 * 1.5 * d.sway_deg
        assert r["held"] == c["held"]  # a hold is a scripted hold, swaying or not


# -- seat slides ------------------------------------------------------------------------------


def test_seat_slides_move_the_rest_angle_by_the_asked_degrees():
    d = _kind("seat_slides", "severe")
    s = cached_session(seed=700013, sets=2, reps_per_set=6, disturbances=d)
    slides = _events(s, "seat_slide")
    assert len(slides) == d.seat_slides == 3
    assert [np.sign(e["knee_deg"]) for e in slides] == [-1, 1, -1]
    c = s.choreography
    t = s.streams["shin"].time_s
    knee = s.truth_angles("shin")["angle_deg"]
    for e in slides:
        assert abs(e["knee_deg"]) == d.slide_deg
        ends = np.array([e["start_s"], e["end_s"]])
        start, end = c.knee_deg(ends)
        assert end - start == pytest.approx(e["knee_deg"], abs=1e-9)
        hip = c.dofs["hip_x"].evaluate(ends).q
        assert hip[1] - hip[0] == pytest.approx(e["hip_x_m"], abs=1e-12)
        assert 0.0 < abs(e["hip_x_m"]) < 0.15  # a slide of some cm forward or back
        # between reps: the rep before ended, the one after starts from the new rest
        nxt = s.truth.reps[e["before_rep"] - 1]
        prev = s.truth.reps[e["before_rep"] - 2]
        assert prev["end_s"] < e["start_s"] < e["end_s"] <= nxt["start_s"]
        assert c.knee_deg(np.array([nxt["start_s"]]))[0] == pytest.approx(end, abs=1e-9)
        # the strap's true angles show the step between the two reps
        rest_before = knee[(t > prev["end_s"]) & (t < e["start_s"])]
        rest_after = knee[(t > e["end_s"]) & (t < nxt["start_s"])]
        assert np.ptp(rest_before) < 1e-9 and np.ptp(rest_after[:1]) < 1e-9
        assert rest_before[-1] == pytest.approx(start, abs=1e-9)


# -- short returns -----------------------------------------------------------------------------


def test_short_returns_end_where_the_knee_really_stopped():
    d = _kind("short_returns", "severe")
    clean = cached_session(seed=700014, sets=2, reps_per_set=8, variety="messy")
    s = cached_session(seed=700014, sets=2, reps_per_set=8, variety="messy", disturbances=d)
    shorts = _events(s, "short_return")
    assert len(shorts) >= 3
    assert len(s.truth.reps) == len(clean.truth.reps)
    c = s.choreography
    numbers = [e["rep"] for e in shorts]
    assert all(b - a > 1 for a, b in pairwise(numbers)), "never two in a row"
    for e in shorts:
        r = s.truth.reps[e["rep"] - 1]
        assert 10.0 <= e["short_deg"] <= 18.0 and r["knee_rom_deg"] >= PARTIAL_MAX_DEG - 1
        start, end = c.knee_deg(np.array([r["start_s"], r["end_s"]]))
        assert end - start == pytest.approx(e["short_deg"], abs=1e-9)
        assert e["start_s"] == r["knee_back_end_s"] <= r["end_s"]
        # the knee has really stopped there: no movement until the next rep
        nxt = s.truth.reps[e["rep"]] if e["rep"] < len(s.truth.reps) else None
        if nxt is not None and nxt["set"] == r["set"]:
            gap = np.linspace(r["end_s"] + 1e-6, nxt["start_s"] - 1e-6, 50)
            assert not np.any([np.abs(c.dofs[k].evaluate(gap).qd) > 0 for k in DOFS])
            # the next rep starts up there and reaches its end range from it
            assert c.knee_deg(np.array([nxt["start_s"]]))[0] == pytest.approx(end, abs=1e-9)
            assert nxt["knee_rom_deg"] >= 0.6 * nxt["spec"]["knee_rom_deg"] - 1e-6


# -- no still start -------------------------------------------------------------------------


@pytest.mark.parametrize("severity", ["mild", "typical", "severe"])
@pytest.mark.parametrize("calibration", [True, False])
def test_no_still_start_leaves_no_still_pose_before_the_first_rep(severity, calibration):
    d = _kind("no_still_start", severity)
    s = cached_session(seed=700015, calibration=calibration, disturbances=d)
    (e,) = _events(s, "no_still_start")
    first = s.truth.reps[0]["start_s"]
    # independently: the longest time before the first rep when no joint moves at all
    c = s.choreography
    t = np.arange(0.0, first, 1e-3)
    moving = np.any([np.abs(c.dofs[k].evaluate(t).qd) > 0 for k in DOFS], axis=0)
    still = max((r[1] for r in _runs_s(~moving, t)), default=0.0)
    assert still <= d.start_still_s + 2e-3
    assert e["still_s"] == pytest.approx(still, abs=2e-3) and e["max_still_s"] == d.start_still_s
    assert bool(s.truth.calibration) == calibration
    # in the streams: both straps still together only briefly (a move starts slowly, and the
    # window spans 0.25 s), where the undisturbed session sits still for seconds
    both = {}
    for sess in (s, cached_session(seed=700015, calibration=calibration)):
        sh, hd = sess.streams["shin"], sess.streams["head"]
        head_still = np.interp(sh.time_s, hd.time_s, _still(hd).astype(float)) > 0.5
        mask = _still(sh) & head_still & (sh.time_s < sess.truth.reps[0]["start_s"])
        both[sess is s] = max((r[1] for r in _runs_s(mask, sh.time_s)), default=0.0)
    assert both[True] <= d.start_still_s + 0.5
    assert both[False] >= 2.5


# -- together, seeding, parsing ---------------------------------------------------------------


def test_every_disturbance_together_with_its_truth():
    clean = cached_session(seed=700016, rate_hz=100.0)
    s = cached_session(seed=700016, rate_hz=100.0, disturbances=disturbances_at("typical"))
    kinds = {e["kind"] for e in s.truth.disturbances}
    expected = {"knock", "bump", "saturation", "sway", "seat_slide", "short_return"}
    assert kinds == expected | {"no_still_start"}
    starts = [e["start_s"] for e in s.truth.disturbances]
    assert starts == sorted(starts)
    assert len(s.truth.reps) == len(clean.truth.reps)
    # the truth survives a recording's JSON, and so does the configuration
    back = GroundTruth.from_dict(json.loads(json.dumps(s.truth.to_dict())))
    assert back.to_dict() == json.loads(json.dumps(s.truth.to_dict()))
    meta = json.loads(json.dumps(s.metadata()))
    assert meta["simulation"]["config"]["disturbances"]["knocks_per_min"] == 9.0
    # deterministic from the seed
    again = simulate(SimConfig(seed=700016, rate_hz=100.0, disturbances=disturbances_at("typical")))
    _assert_same_streams(s, again)
    assert again.truth.to_dict() == s.truth.to_dict()


def test_each_kind_draws_from_its_own_random_stream():
    def events(d, kind):
        return _events(cached_session(seed=700017, disturbances=d), kind)

    knocks, bumps = _kind("knocks"), _kind("bumps")
    both = Disturbances(knocks_per_min=knocks.knocks_per_min, bumps_per_min=bumps.bumps_per_min)
    assert events(both, "knock") == events(knocks, "knock") != []
    assert events(both, "bump") == events(bumps, "bump") != []
    sat = Disturbances(saturation_per_min=3.0, sway_deg=3.0, sway_max_still_s=0.4)
    assert events(sat, "saturation") == events(_kind("saturation"), "saturation")


def test_severities_grow_and_are_documented():
    assert set(DISTURBANCE_KINDS) == {
        "knocks", "bumps", "saturation", "sway", "seat_slides", "short_returns", "no_still_start",
    }  # fmt: skip
    for kind, levels in DISTURBANCE_LEVELS.items():
        assert list(levels) == ["mild", "typical", "severe"], kind
        for severity in levels:
            assert _kind(kind, severity).active
    assert _kind("knocks", "typical").knocks_per_min == 9.0  # 12 in 80 s, as measured
    assert _kind("seat_slides", "severe").slide_deg == 15.0
    assert _kind("short_returns", "typical").short_return_deg == (10.0, 18.0)


def test_faults_strings_name_disturbances_by_number_or_severity():
    assert parse_faults("loss=0.02,outages=1") == {"loss": 0.02, "outages": 1}
    got = parse_faults("knocks=12,sway=typical,loss=0.02,slides=2,slide-deg=15")
    assert got == {
        "loss": 0.02,
        "disturbances": Disturbances(
            knocks_per_min=12.0, sway_deg=3.0, sway_max_still_s=0.4, seat_slides=2, slide_deg=15.0
        ),
    }
    assert parse_faults("all=severe")["disturbances"] == disturbances_at("severe")
    assert parse_faults("no-still-start=1,start-still-s=0.3")["disturbances"] == Disturbances(
        no_still_start=True, start_still_s=0.3
    )
    config = with_faults(SimConfig(disturbances=Disturbances(knocks_per_min=3.0)), "bumps=mild")
    assert config.disturbances == Disturbances(knocks_per_min=3.0, bumps_per_min=1.0)
    for bad in ("knocks=lots", "shakes=1", "slide-deg=typical", "all=3", "knocks=-1"):
        with pytest.raises(ValueError):
            simulate(SimConfig(sets=1, reps_per_set=1, **parse_faults(bad)))
