"""The per-strap front-end: identical output whatever the chunking; bias and stillness."""

import itertools

import numpy as np
import pytest

from analysis.frontend import Boxcar, StrapFrontEnd, _run_lengths
from tests.conftest import cached_session


def test_boxcar_is_bit_identical_however_chunked():
    x = np.random.default_rng(0).normal(size=(1000, 3)) * 100
    whole = Boxcar(25, 3)(x)
    box = Boxcar(25, 3)
    cuts = [0, 1, 7, 300, 301, 999, 1000]
    parts = np.concatenate([box(x[a:b]) for a, b in itertools.pairwise(cuts)])
    np.testing.assert_array_equal(parts, whole)
    np.testing.assert_allclose(whole[100], x[76:101].mean(0))


def test_run_lengths_continue_across_chunks():
    f = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1], bool)
    np.testing.assert_array_equal(_run_lengths(f, 0), [1, 2, 0, 1, 2, 3, 0, 0, 1])
    np.testing.assert_array_equal(_run_lengths(f, 5), [6, 7, 0, 1, 2, 3, 0, 0, 1])


def _feed(stream, cuts):
    fe = StrapFrontEnd()
    for a, b in itertools.pairwise(cuts):
        fe.add(stream.time_s[a:b], stream.acc_mps2[a:b], stream.gyro_dps[a:b])
    fe.flush()  # the artefact screen holds back its last window
    return fe


def test_front_end_is_bit_identical_for_blocks_and_whole_stream():
    st = cached_session(seed=41, sets=1, reps_per_set=2, noise=1.0).streams["shin"]
    n = len(st.time_s)
    whole = _feed(st, [0, n])
    rng = np.random.default_rng(1)
    cuts = sorted({0, n, *rng.integers(1, n, 400).tolist()})
    blocks = _feed(st, cuts)
    for name in StrapFrontEnd.COLUMNS:
        np.testing.assert_array_equal(blocks.cols.get(name), whole.cols.get(name), err_msg=name)


def test_bias_is_measured_while_still_and_stillness_follows_movement():
    s = cached_session(seed=42, sets=1, reps_per_set=2, noise=1.0)
    st = s.streams["shin"]
    fe = _feed(st, [0, len(st.time_s)])
    assert fe.bias_ready
    np.testing.assert_allclose(fe.bias, st.errors.gyro_bias_dps, atol=0.1)
    t, still = fe.cols.get("t"), fe.cols.get("still")
    r = s.truth.reps[0]
    moving = (t > r["knee_out_start_s"] + 0.6) & (t < r["knee_top_s"] - 0.3)
    assert not still[moving].any()
    assert still[(t > 1.0) & (t < s.truth.calibration["still_end_s"])].mean() > 0.9
    # once the bias is known (1 s of stillness), the smoothed speed at rest is far below the
    # 1 deg/s onset level
    speed = fe.cols.get("speed_s")[(t > 2.0) & (t < s.truth.calibration["still_end_s"])]
    assert speed.max() < 0.3


def test_gaps_are_marked_and_not_integrated():
    st = cached_session(seed=43, sets=1, reps_per_set=1, loss=0.1).streams["shin"]
    fe = _feed(st, [0, len(st.time_s)])
    kept = st.kept
    fe2 = StrapFrontEnd()
    fe2.add(st.time_s[kept], st.acc_mps2[kept], st.gyro_dps[kept])
    fe2.flush()
    gaps = fe2.cols.get("gap")
    dt = np.diff(st.time_s[kept], prepend=st.time_s[kept][0])
    np.testing.assert_array_equal(gaps[1:], dt[1:] > 0.25)
    assert fe2.cols.get("gaps")[-1] == gaps.sum()
    assert fe.cols.get("gaps")[-1] == 0


@pytest.mark.parametrize("rate", [25.0, 400.0])
def test_rate_is_found_from_the_first_samples(rate):
    st = cached_session(seed=44, sets=1, reps_per_set=1, rate_hz=rate).streams["head"]
    fe = _feed(st, [0, 10, 40, len(st.time_s)])
    assert fe.rate_hz == pytest.approx(rate, rel=1e-3)


def test_a_whole_recording_is_held_in_one_allocation():
    # offline the analysis knows the recording's length: its columns are allocated once, with
    # room for the rows the artefact screen holds back until the end (before, that end
    # doubled every column of a whole recording: 5.4x the samples' memory at the peak)
    from analysis.session import RepAnalysis
    from benchmarks.accuracy import samples_of

    samples = samples_of(cached_session(seed=45, sets=1, reps_per_set=2, rate_hz=200.0))
    an = RepAnalysis(angles=False).run(samples).analyzer_
    for role, df in samples.items():
        cols = an.fe[role].cols
        assert len(cols) == len(df)
        assert cols.capacity == len(df) + an.fe[role].screen.max_held
