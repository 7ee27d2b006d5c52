"""check-strap's verdict (collector.strap_check.evaluate) on hand-built sessions whose truth is
known: a strap whose clock runs a known amount fast, pings delivered with known delays, and one
fault at a time (lost packets, wrong N, a period that is not the IMU's, stale ping stamps)."""

from __future__ import annotations

import numpy as np
import pytest

from collector.protocols import strap
from collector.strap_check import Measurement, evaluate, expected_samples_per_packet

DRIFT = 200e-6  # the strap's clock runs 200 ppm fast
OFFSET_S = 50.0  # its clock read 50 s when the session started


def device_s(host_s):
    return OFFSET_S + (1 + DRIFT) * np.asarray(host_s)


def session(
    seconds=12.0,
    rate=100,
    true_rate=None,
    drop=(),
    extra_n=None,
    ping_stamp_s=0.0,
    garbage=False,
) -> Measurement:
    """A session at ``rate`` (N = 2): the IMU samples at ``true_rate`` on the strap's clock;
    packets numbered in ``drop`` never arrive; packet ``extra_n`` holds 3 samples; ping stamps
    are ``ping_stamp_s`` off the time the ping arrived."""
    rng = np.random.default_rng(3)
    m = Measurement("FLOSS-TEST", "C0:FF:EE:00:00:01", rate, seconds, mtu=247,
                    firmware="1.0.0", model="FM-TEST", battery_pct=80,
                    replies={"set ranges": "ok", "set rate": "ok", "start": "ok"},
                    state=strap.StrapState(False, rate, 16.0, 2000.0, 0))  # fmt: skip
    period = 1.0 / (true_rate or rate)
    t_dev0 = float(device_s(0.1))
    seq, k = 0, 0
    while (t := t_dev0 + seq * period) < device_s(seconds):
        n = 3 if k == extra_n else 2
        ts = t_dev0 + (seq + np.arange(n)) * period
        host_last = (ts[-1] - OFFSET_S) / (1 + DRIFT)
        arrival = host_last + 0.0012 + (0.0 if k % 50 == 0 else rng.uniform(0, 0.03))
        pkt = strap.encode(
            seq, round(t * 1e6), round(1e9 / rate), np.zeros((n, 3)), np.zeros((n, 3))
        )
        if k not in drop:
            m.packets.append((arrival, pkt))
        seq, k = seq + n, k + 1
    if garbage:
        m.packets.insert(10, (m.packets[10][0], b"\x02" + m.packets[10][1][1:]))
    sent = np.sort(rng.uniform(0.1, seconds, 600))
    # delivered one stack delay (1 ms) after sending, plus a wait for a connection event; the
    # fastest (every 30th) with no wait
    delay = np.where(np.arange(600) % 30 == 0, 0.001, 0.001 + rng.uniform(0, 0.03, 600))
    stamps = device_s(sent + delay) + ping_stamp_s
    for i, (s, st) in enumerate(zip(sent, stamps, strict=True)):
        m.pings.append((i + 1, float(s)))
        m.answers.append((i + 1, round(st * 1e6) % 2**32, float(s + 0.04)))  # 40 ms round trip
    return m


def verdict(m):
    return {c.name: c for c in evaluate(m)}


def test_a_conforming_strap_passes_with_its_drift_measured():
    v = verdict(session())
    assert all(c.passed for c in v.values()), [c for c in v.values() if not c.passed]
    assert "+200 ppm (from the pings)" in v["clock drift"].measured
    # 0.1 s … 12 s: 11.9 s × 1.0002 × 100 Hz = 1190.2 samples, in whole packets of 2: 596 × 2
    assert "0 of 1192 samples" in v["loss"].measured
    assert "100.020 Hz on the host clock" in v["sample rate"].measured  # 100 Hz × (1 + 200 ppm)
    assert "600 of 600 answered; round trip median 40.0 ms" in v["time sync"].measured
    # mapped through the fastest pings (1 ms to arrive): 1 ms early; the fastest packets arrive
    # 1.2 ms after their last sample: 2.2 ms between
    assert "samples mapped ≥ 2.20 ms before they arrived" in v["time sync"].measured


def test_lost_packets_are_counted_from_the_sequence_numbers():
    v = verdict(session(drop={100, 101, 300}))
    assert not v["loss"].passed and "6 of 1192 samples (0.50 %)" in v["loss"].measured
    assert [c.name for c in v.values() if not c.passed] == ["loss"]


def test_a_packet_with_the_wrong_sample_count_or_a_malformed_one_fails_notifications():
    v = verdict(session(extra_n=40))
    assert not v["notifications"].passed and "1 not holding N = 2" in v["notifications"].measured
    v = verdict(session(garbage=True))
    assert not v["notifications"].passed and "1 malformed" in v["notifications"].measured


def test_an_imu_off_its_rate_fails_the_rate_and_a_period_that_is_not_its_own():
    # asked for 100 Hz, samples at 99.84 Hz, declares 10 ms: the counter and the clock disagree
    v = verdict(session(true_rate=99.84))
    assert not v["device time"].passed and "(-1600 ppm)" in v["device time"].measured
    assert v["sample rate"].passed  # 0.14 % slow on the host clock: within 0.5 %
    v = verdict(session(true_rate=104.0))  # an LSM6DS3 at 104 Hz for 100
    assert not v["sample rate"].passed


def test_pings_stamped_before_they_arrived_fail_time_sync():
    # a strap answering with a stale clock (5 ms early): its samples map after they arrived
    v = verdict(session(ping_stamp_s=-0.005))
    assert not v["time sync"].passed and "mapped ≥ -" in v["time sync"].measured
    assert verdict(session(ping_stamp_s=+0.005))["time sync"].passed  # late: a looser bound


def test_no_data_at_all_fails_every_data_criterion_without_raising():
    m = session()
    m.packets = [(1.0, b"\x01\x02")]
    v = verdict(m)
    assert [c.passed for c in v.values()] == [True, True] + [False] * 6


@pytest.mark.parametrize(
    "rate, mtu, n",
    [(100, 247, 2), (125, 247, 3), (400, 247, 8), (400, 43, 2), (25, 31, 1), (400, 23, 0)],
)
def test_samples_per_notification_as_the_profile_says(rate, mtu, n):
    # round(rate × 20 ms) with halves up (125 Hz: 2.5 → 3), capped by (MTU − 19) // 12
    assert expected_samples_per_packet(rate, mtu) == n
