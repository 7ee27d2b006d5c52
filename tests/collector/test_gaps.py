"""Gaps and measured rates from sample counters: analytic cases, and blocks cut anywhere."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.gaps import (
    break_positions,
    find_gaps,
    first_step_back,
    gap_positions,
    measured_rate_hz,
    median_rate_hz,
    rate_over_span_hz,
)
from collector.hub import GapTracker
from collector.model import SampleBlock
from collector.recording import Recording
from collector.replay import ReplaySource

# times in 1/64 s: every sum and difference below is exact in binary floating point
RATE = 64.0


def _block(idx, t, sensor="shin"):
    z = np.zeros((len(idx), 3))
    return SampleBlock(sensor, t, t, z, z, idx)


def test_a_jump_of_k_counts_loses_k_minus_one_samples():
    idx = np.array([0, 1, 2, 5, 6, 9, 10])
    t = idx / RATE
    assert gap_positions(idx).tolist() == [2, 4]
    g = find_gaps(idx, t)
    assert len(g) == 2
    assert g.after.tolist() == [3, 5]
    assert g.lost.tolist() == [2, 2]
    assert g.time_s.tolist() == [2 / 64, 6 / 64]
    assert g.until_s.tolist() == [5 / 64, 9 / 64]
    assert g.lost.dtype == np.int64 and g.after.dtype == np.int64


def test_consecutive_samples_have_no_gap_and_no_break():
    idx = np.arange(7, 20)
    assert len(find_gaps(idx, idx / RATE)) == 0
    assert break_positions(idx).tolist() == []
    assert len(find_gaps(np.zeros(0, np.int64), np.zeros(0))) == 0
    assert len(find_gaps(np.array([3]), np.array([0.0]))) == 0


def test_repeats_and_restarts_are_breaks_but_not_gaps():
    idx = np.array([0, 1, 1, 0, 3, 4])  # a repeat, a restart, then a jump of 3
    g = find_gaps(idx, idx / RATE)
    assert g.after.tolist() == [4] and g.lost.tolist() == [2]
    assert break_positions(idx).tolist() == [2, 3, 4]


def test_the_previous_sample_finds_a_gap_across_a_block_boundary():
    g = find_gaps(np.array([5, 6, 8]), np.array([5, 6, 8]) / RATE, previous=(2, 2 / 64))
    assert g.after.tolist() == [0, 2]
    assert g.lost.tolist() == [2, 1]
    assert g.time_s.tolist() == [2 / 64, 6 / 64]
    assert g.until_s.tolist() == [5 / 64, 8 / 64]
    assert len(find_gaps(np.array([3, 4]), np.array([3, 4]) / RATE, previous=(2, 2 / 64))) == 0
    assert len(find_gaps(np.zeros(0, np.int64), np.zeros(0), previous=(2, 2 / 64))) == 0


def test_rates_count_received_and_lost_samples_over_the_span():
    idx = np.r_[0:50, 60:129]  # 119 received, 10 lost, 128 periods over 2 s
    t = idx / RATE
    assert measured_rate_hz(idx, t) == 64.0
    assert rate_over_span_hz(128, 2.0) == 64.0
    assert math.isnan(rate_over_span_hz(5, 0.0))
    assert math.isnan(rate_over_span_hz(5, -1.0))
    assert math.isnan(measured_rate_hz(np.array([4]), np.array([1.0])))
    assert math.isnan(measured_rate_hz(np.array([4, 5]), np.array([1.0, 1.0])))
    # timestamps alone: the median step, whatever the gaps
    assert median_rate_hz(np.array([0.0, 0.25, 0.5, 1.5, 1.75])) == 4.0
    assert math.isnan(median_rate_hz(np.array([1.0])))


def test_first_step_back_is_the_first_row_whose_time_does_not_move_forward():
    assert first_step_back(np.array([0.0, 0.1, 0.2, 0.3])) is None
    assert first_step_back(np.array([0.0])) is None
    assert first_step_back(np.zeros(0)) is None
    assert first_step_back(np.array([0.0, 0.1, 0.1, 0.0])) == 2  # a repeat is not forward
    assert first_step_back(np.array([0.0, 0.2, 0.1, 0.3, 0.2])) == 2  # the first of two


@st.composite
def cut_stream(draw):
    """A strap's counter with gaps (and sometimes repeats), cut into blocks anywhere."""
    n = draw(st.integers(1, 120))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 3, 7, 0]), min_size=n, max_size=n))
    idx = np.cumsum(steps).astype(np.int64) + draw(st.integers(0, 1000))
    cuts = sorted(set(draw(st.lists(st.integers(1, n), max_size=8))) - {n})
    return idx, np.array([0, *cuts, n])


@settings(max_examples=150, deadline=None)
@given(stream=cut_stream())
def test_gaps_found_block_by_block_are_the_gaps_of_the_whole_stream(stream):
    idx, bounds = stream
    t = idx / RATE
    whole = find_gaps(idx, t)
    tracker = GapTracker()
    events, pieces = [], []
    previous = None
    for a, b in itertools.pairwise(bounds):
        part = find_gaps(idx[a:b], t[a:b], previous)
        pieces.append(part.after + a)
        previous = (int(idx[b - 1]), float(t[b - 1]))
        events.extend(tracker.observe(_block(idx[a:b], t[a:b])))
    assert np.concatenate(pieces).tolist() == whole.after.tolist()
    assert [e.detail["lost"] for e in events] == whole.lost.tolist()
    assert [e.time_s for e in events] == whole.time_s.tolist()
    assert [e.detail["until_s"] for e in events] == whole.until_s.tolist()
    stats = tracker.stats["shin"]
    assert (stats.gaps, stats.lost_samples) == (len(whole), int(whole.lost.sum()))
    if (np.diff(idx) > 0).all():  # a counter that only moves on: the same rate either way
        rate = measured_rate_hz(idx, t)
        assert stats.rate_hz == rate or (math.isnan(stats.rate_hz) and math.isnan(rate))


def test_a_recording_and_its_replay_use_the_same_gaps():
    idx = np.array([0, 1, 2, 5, 6, 6, 7, 12, 13, 14])
    t = np.arange(len(idx)) / RATE  # a repeat takes its own time step
    df = pd.DataFrame({"time_s": t, "device_time_s": t, "sample_index": idx})
    for c in ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"):
        df[c] = 0.0
    events = pd.DataFrame(columns=["time_s", "sensor", "kind", "detail"])
    rec = Recording(None, {}, {"shin": {"rate_hz": RATE}}, {"shin": df}, events)
    gaps = rec.gaps("shin")
    assert gaps["lost"].tolist() == [2, 4]
    assert gaps["time_s"].tolist() == [2 / 64, 6 / 64]
    assert gaps["until_s"].tolist() == [3 / 64, 7 / 64]
    assert rec.rate_hz("shin") == pytest.approx(14 / (9 / 64), rel=1e-15)
    starts = [int(b.sample_index[0]) for b in ReplaySource(rec, block_s=1.0).items()]
    assert starts == [0, 5, 6, 12]  # a block starts at every break: gap, repeat
    for b in ReplaySource(rec, block_s=1.0).items():
        assert (np.diff(b.sample_index) == 1).all()
