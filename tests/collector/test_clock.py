"""Clock mapping: head–shin alignment under drift and connection-event jitter; arrival timing."""

import numpy as np
import pytest

from benchmarks.arrival_clock import stall, through_clock
from benchmarks.clock_alignment import alignment_ms
from collector.clock import ArrivalClock, DeviceClock, lower_envelope_fit
from tests.ble.linkmodel import LinkModel


# Worst head–shin error per 120 s session (benchmarks/clock_alignment.py, 100 sessions, seed
# block 5000): quiet host max 2.48 ms before the 30 s of fast pings and the refit at readiness,
# 1.48 ms after; busy host (a floor common to both straps wandering 0–1 ms, 0.5 ms more of its
# own per event, stalls) p95 2.36 → 1.78 ms, 3 of 100 still over the 2 ms budget. Seeds 0–11
# quiet: 0.62–1.20 ms now, seed 0 was 1.57; seeds 0–5 busy: ≤ 1.72 ms.
@pytest.mark.parametrize(
    ("seed", "busy"), [(s, False) for s in range(12)] + [(s, True) for s in range(6)]
)
def test_head_shin_alignment_within_budget_with_drift_jitter_and_load(seed, busy):
    err, ready_s, forward = alignment_ms(seed, busy=busy)
    assert forward  # session times never go back
    assert err.max() <= (2.0 if busy else 1.5)  # the design's budget is 2 ms
    assert ready_s < 3.0  # warm-up (hold-back) is short


def test_arrival_only_mapping_is_biased_by_phase_lock():
    # Without pings the envelope of arrivals can stay late by part of a connection interval
    # when the notification period locks to it: why the strap answers time-sync pings.
    worst = max(alignment_ms(s, 60.0, pings=False)[0].max() for s in range(4))
    assert worst > 2.0


def test_lower_envelope_fit_recovers_line_under_positive_noise():
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(0, 100, 2000))
    y = 3.0 + 1.0001 * x + rng.exponential(0.01, len(x))
    a, b = lower_envelope_fit(x, y)
    assert a == pytest.approx(3.0, abs=2e-4) and b == pytest.approx(1.0001, abs=5e-6)


def test_arrival_clock_estimates_rate_and_infers_long_gaps():
    rng = np.random.default_rng(2)
    rate, true_rate = 100.0, 100.0 * (1 + 300e-6)
    t = np.arange(6000) / true_rate
    keep = np.ones(len(t), bool)
    keep[3000:3050] = False  # half a second lost
    link = LinkModel.random(rng)
    arr = link.arrivals(t + 3e-4, rng)
    clk = ArrivalClock(rate)
    idx_out = []
    for i in np.flatnonzero(keep):
        idx_out += [idx[0] for _, idx, _ in clk.add(1, arr[i], i)]
    idx_out += [idx[0] for _, idx, _ in clk.flush()]
    assert len(idx_out) == keep.sum()  # every notification numbered once, none left held
    jump = np.diff(idx_out).max()
    assert abs(jump - 51) <= 4  # 50 lost, counted to ± the typical jitter
    assert clk.gaps == 1  # resends and batching are not taken for losses
    assert clk.clock.fit.drift_ppm == pytest.approx(-300, abs=60)


def arrival_clock_run(rng, stalls, lost=(), rate=100.0, dur_s=30.0):
    """One WitMotion-like stream (1 sample a notification) through ``ArrivalClock.add`` and the
    mapping, with host stalls ``(start_s, length_s)`` (what became ready meanwhile arrives when
    the host wakes up) and losses ``(start_s, length_s)``: (clock, true sample numbers, their
    indices, mapped times, true times)."""
    true_rate = rate * (1 + 80e-6)
    t = np.arange(int(dur_s * rate)) / true_rate
    keep = np.ones(len(t), bool)
    for a, n in lost:
        keep[(t >= a) & (t < a + n)] = False
    arr = LinkModel.random(rng).arrivals(t + 3e-4, rng)
    for a, n in stalls:
        stall(arr, t, a, n, rng)
    arr = np.maximum.accumulate(arr)
    clk = ArrivalClock(rate)
    got = through_clock(clk, 1, arr, keep)
    k = np.array([j for j, _, _ in got])
    idx = np.array([i[0] for _, i, _ in got])
    mapped = np.array([m[0] for _, _, m in got])
    return clk, k, idx, mapped, t[k]


@pytest.mark.parametrize("seed", range(6))
def test_a_host_stall_is_a_delay_not_a_loss_and_times_never_run_back(seed):
    """The host busy for 0.4–0.9 s twice, 0.5–1.5 s apart: the backlog then arrives at once.
    Nothing was lost: the count goes straight on (the code before counted each stall as a loss
    and numbered the backlog after it: times ran back by up to 0.3 s at the next stall)."""
    rng = np.random.default_rng(100 + seed)
    a = rng.uniform(8, 12)
    stalls = [(a, rng.uniform(0.4, 0.9)), (a + rng.uniform(1.4, 2.4), rng.uniform(0.4, 0.9))]
    clk, k, idx, mapped, truth = arrival_clock_run(rng, stalls)
    assert len(k) == len(set(k.tolist())) and (np.diff(k) > 0).all()  # each once, in order
    np.testing.assert_array_equal(idx, k)  # no phantom loss: every sample keeps its number
    assert clk.gaps == 0 and clk.inferred_lost == 0 and clk.delays == 2
    assert (np.diff(mapped) > 0).all()
    err = mapped - truth
    assert np.abs(err - np.median(err)).max() < 0.06


@pytest.mark.parametrize("seed", range(4))
def test_a_loss_after_a_stall_is_still_counted_where_it_was(seed):
    rng = np.random.default_rng(200 + seed)
    stall = (rng.uniform(8, 10), rng.uniform(0.4, 0.9))
    loss = (stall[0] + stall[1] + rng.uniform(2, 4), rng.uniform(0.4, 1.0))
    clk, k, idx, mapped, truth = arrival_clock_run(rng, [stall], [loss])
    err = mapped - truth
    assert np.abs(err - np.median(err)).max() < 0.2
    n_lost = int(np.diff(k).max()) - 1
    jump = np.diff(idx)[np.argmax(np.diff(k))] - 1  # the count's gap where the loss was
    assert clk.gaps == 1 and clk.delays == 1
    assert abs(jump - n_lost) <= 0.15 * 100  # to ± the jitter
    assert (np.diff(idx) == 1).sum() == len(idx) - 2  # no other jump
    assert (np.diff(mapped) > 0).all()


def test_a_restarted_segment_may_jump_forward_but_never_back():
    clk = DeviceClock()
    for i in range(400):  # 4 s at 100 Hz, 10 ms late
        clk.observe(i / 100, i / 100 + 0.01)
    before = clk.map(np.arange(390, 400) / 100.0)
    for later, x0 in ((-0.3, 4.5), (0.4, 6.0)):  # the next segment's fit: earlier, then later
        clk.restart_segment()
        clk.observe(x0 + 0.09, x0 + 0.09 + 0.01 + later)
        after = clk.map(np.arange(x0 * 100, x0 * 100 + 10) / 100.0)
        assert after[0] > before[-1] and (np.diff(after) > 0).all()
        if later > 0:  # a later fit is taken at once
            assert after[-1] == pytest.approx(x0 + 0.09 + 0.01 + later, abs=1e-9)
        before = after


def test_mapping_survives_a_strap_that_stops_answering_pings():
    """Pings for 3 s, then data only for 20 s: no crash, times keep increasing and close."""
    off, rate = 1234.5, 100.0
    clk = DeviceClock(expect_sync=True, warmup_syncs=20)
    mapped, truth = [], []
    for k in range(int(23 * rate) // 2):
        t = 0.2 + 2 * k / rate
        dev = off + (1 + 50e-6) * t
        if t < 3.0:
            clk.observe_sync(off + (1 + 50e-6) * (t - 0.004), t - 0.005)
        clk.observe(dev, t + 0.01)
        if clk.ready:
            mapped.append(clk.map(np.array([dev]))[0])
            truth.append(t)
    err = np.array(mapped) - np.array(truth)
    assert truth[-1] > 22.0
    assert np.all(np.diff(mapped) > 0) and np.abs(err).max() < 0.02
