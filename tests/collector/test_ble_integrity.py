"""A notification is the unit, for every family: against an emulated peer that numbers every
notification it sends and garbles a few (wrong header, truncated, random bytes, over-long), with
one drop-out, every valid notification received becomes exactly its samples with their exact
values, every malformed one exactly one counted error, none is joined with the next, and the
reconnection loses only the time the sensor was away. Real bleak against the emulated BlueZ."""

import asyncio
import contextlib
import itertools
import logging
import struct

import numpy as np
import pytest

from collector.ble import BleSource
from collector.ble_links import (
    EVENTS_PER_S,
    LOG_FIRST,
    MovellaLink,
    PolarLink,
    StrapLink,
    WitMotionLink,
)
from collector.clock import ArrivalClock
from collector.constants import G_MPS2
from collector.hub import Hub
from collector.model import SampleBlock
from collector.protocols import movella, polar, witmotion
from tests.ble.harness import SHIN, Collect, device

#: family → (rate asked, subscriptions whose notifications nobody decodes: the
#: WitMotion rate check of the first connection counts packets before streaming starts)
FAMILIES = {
    "strap": (100, set()),
    "witmotion": (100, {1}),
    "movella": (60, set()),
}
POLAR = (104, set())  # its own test: two streams make one block
MALFORMED_P = 0.04


def stream(bluez, family, malformed_p=MALFORMED_P, **options):
    rate, _ = POLAR if family == "polar" else FAMILIES[family]
    faults = {"malformed_p": malformed_p, "seed": 5}
    bluez.start([device(family, SHIN, "shin", seed=4, drift_ppm=60, faults=faults, **options)])

    async def run():
        async with BleSource({"shin": SHIN}, rate_hz=rate) as src:
            sink = Collect()
            hub = asyncio.create_task(Hub(src, [sink]).run())
            await asyncio.sleep(5.0)
            await bluez.drop(SHIN, away_s=1.0)
            async with asyncio.timeout(20):  # reconnects, or the test fails
                while not [e for e in sink.kinds("connected") if not e.detail["first"]]:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(5.0)
            await bluez.set_faults(SHIN, mute=True)  # a clean end: nothing left in flight
            await asyncio.sleep(1.0)
            hub.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hub
            link = src.links["shin"]
            return sink, link, src.t0, await bluez.sent(SHIN), await bluez.stats()

    return asyncio.run(run())


def expected(family, values):
    """What the decoder must make of a valid notification's values: acc, gyro, device time."""
    if family == "movella":
        return np.array([values["acc"]]), np.array([values["gyro"]]), values["t_us"] * 1e-6
    acc_g = values.get("acc_range_g", 16.0)
    gyro_dps = values.get("gyro_range_dps", 2000.0)
    acc = np.array(values["acc"], dtype=float).reshape(-1, 3) * (acc_g * G_MPS2 / 32768.0)
    gyr = np.array(values["gyro"], dtype=float).reshape(-1, 3) * (gyro_dps / 32768.0)
    return acc, gyr, values.get("t_us", 0) * 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_valid_notification_is_exactly_its_samples_and_no_more(bluez, family):
    sink, link, t0, sent, emu = stream(bluez, family)
    rate, unread = FAMILIES[family]
    dev = emu["devices"][SHIN]
    assert dev["connects"] == 2 and dev["disconnects"] == 1
    # the emulator's count is exact: every garbled notification breaks a documented rule
    assert dev["malformed"] == sum(not e["valid"] for e in sent) > 0
    assert sorted({e["how"] for e in sent} - {""}) == ["header", "overlong", "random", "truncated"]
    read = [e for e in sent if e["sub"] not in unread]
    valid = [e for e in read if e["valid"]]
    bad = [e for e in read if not e["valid"]]
    blocks, errors = sink.blocks, sink.kinds("error")

    # 1. every valid notification sent became exactly one block, in order, from its own bytes:
    #    none lost (not at the reconnection either), none joined, none invented
    assert [b.raw.hex() for b in blocks] == [e["hex"] for e in valid]
    # 2. every malformed one exactly one counted error, nothing else
    assert sorted(e.detail["bytes"] for e in errors) == sorted(e["hex"][:128] for e in bad)
    assert all(e.detail["count"] == 1 for e in errors)
    assert link.stats.malformed == len(bad) == len(errors)
    assert link.stats.notifications == len(valid) + len(bad)
    # 3. exact values (int16 counts → physical units as the family defines them)
    for b, e in zip(blocks, valid, strict=True):
        acc, gyr, t_dev = expected(family, e["values"])
        np.testing.assert_allclose(b.acc_mps2, acc, rtol=1e-12, atol=0)
        np.testing.assert_allclose(b.gyro_dps, gyr, rtol=1e-12, atol=0)
        if family == "strap":
            np.testing.assert_array_equal(b.sample_index, e["values"]["seq"] + np.arange(len(b)))
            dt = np.arange(len(b)) * e["values"]["period_ns"] * 1e-9
            np.testing.assert_allclose(b.device_time_s, t_dev + dt, rtol=0, atol=1e-9)
        elif family == "movella":
            np.testing.assert_allclose(b.device_time_s, [t_dev], rtol=0, atol=1e-9)
    # 4. sample counters: a malformed notification is a gap of its samples, never a shift; the
    #    reconnection a gap of the time away
    first = [int(b.sample_index[0]) for b in blocks]
    inferred = 0
    for k, (e0, e1) in enumerate(itertools.pairwise(valid)):
        step = first[k + 1] - first[k]
        if e1["sub"] != e0["sub"]:  # the reconnection: a gap of the time away (≥ 1 s)
            v0, v1 = e0["values"], e1["values"]
            if family == "strap":  # the strap's counter kept counting
                assert step == v1["seq"] - v0["seq"] > rate
            elif family == "movella":  # from the DOT's clock
                assert step == round((v1["t_us"] - v0["t_us"]) * 1e-6 * rate) > rate
            else:  # from the lateness of the first notification after it
                away = (e1["t"] - e0["t"]) * rate
                assert step > rate and abs(step - away) <= 0.5 * rate
            continue
        per = len(e0["values"]["acc"]) if family == "strap" else 1
        n_between = e1["n"] - e0["n"]  # notifications sent since (the malformed ones too)
        if family == "witmotion":  # no counter: a late arrival may be taken for a loss
            assert step >= n_between
            inferred += step != n_between
        else:
            assert step == n_between * per
    if family == "witmotion":
        assert inferred <= link.arrival_clock.gaps - 1  # each one counted (and the reconnection)
    # 5. one session time base before and after the reconnection: each sample mapped close
    #    to when the emulator sent it (both clocks are CLOCK_MONOTONIC)
    t = np.concatenate([b.time_s for b in blocks])
    assert (np.diff(t) > 0).all()
    sent_s = np.array([emu["t_boot"] + e["t"] - t0 for e in valid])
    late = sent_s - np.array([b.time_s[-1] for b in blocks])
    assert late.min() > -0.15 and late.max() < 0.5  # a wrong time base: off by the time away


def polar_truth(sent, rate):
    """Per stream, sample number on the sensor's IMU grid → (values, sensor time in s), for the
    valid frames; and every valid frame's bytes per stream, in the order sent."""
    truth = {polar.ACC: {}, polar.GYRO: {}}
    frames = {polar.ACC: [], polar.GYRO: []}
    for e in sent:
        if not e["valid"]:
            continue
        v = e["values"]
        counts = np.array(v["counts"], dtype=float)
        n = len(counts)
        for j in range(n):
            t_s = (v["t_ns"] - (n - 1 - j) * 1e9 / rate) * 1e-9
            if v["mtype"] == polar.ACC:
                value = counts[j] * G_MPS2 / 1000  # mG → m/s²
            else:
                value = counts[j] * v["factor"]  # counts × the start answer's factor → °/s
            truth[v["mtype"]][v["k"] + j] = (value, t_s)
        frames[v["mtype"]].append(e["hex"])
    return truth, frames


@pytest.mark.slow
@pytest.mark.parametrize("compressed", [True, False])
def test_polar_every_valid_frame_is_kept_once_and_its_samples_paired_exactly(bluez, compressed):
    # small frames (6 ACC, 4 GYRO samples: they line up only every 12) so that ~12 s carry ~450
    # frames, ~35 of them garbled
    sink, link, t0, sent, emu = stream(bluez, "polar", 0.08, compressed=compressed,
                                       acc_per_frame=6, gyro_per_frame=4)  # fmt: skip
    rate = POLAR[0]
    dev = emu["devices"][SHIN]
    assert dev["connects"] == 2 and dev["disconnects"] == 1
    assert dev["malformed"] == sum(not e["valid"] for e in sent) > 0
    assert sorted({e["how"] for e in sent} - {""}) == ["header", "overlong", "random", "truncated"]
    bad = [e for e in sent if not e["valid"]]
    truth, frames = polar_truth(sent, rate)
    blocks, errors = sink.blocks, sink.kinds("error")

    # 1. every valid frame of either stream is kept exactly once, in the order sent, in the raw
    #    records of the blocks; no malformed one is; only frames of the last moments still wait
    kept = {polar.ACC: [], polar.GYRO: []}
    for b in blocks:
        assert b.raw_format == polar.RAW_FORMAT
        for tag, rec in polar.unpack_records(b.raw):
            if tag == polar.REC_DATA:
                kept[rec[0]].append(rec.hex())
    for mtype, hexes in frames.items():
        assert hexes[: len(kept[mtype])] == kept[mtype]
        assert len(hexes) - len(kept[mtype]) <= 4
    # 2. every malformed frame exactly one counted error
    assert sorted(e.detail["bytes"] for e in errors) == sorted(e["hex"][:128] for e in bad)
    assert all(e.detail["count"] == 1 for e in errors)
    assert link.stats.malformed == len(bad) == len(errors)
    assert link.stats.notifications == len(sent)
    # 3. the samples are exactly those both streams delivered, paired at the same grid sample,
    #    with the exact values and the sensor time of the ACC sample
    stream0 = dev["streams"][0]
    dev_t = np.concatenate([b.device_time_s for b in blocks])
    k = np.rint((dev_t - stream0["device_t0_s"]) * rate).astype(int)
    both = sorted(set(truth[polar.ACC]) & set(truth[polar.GYRO]))
    assert k.tolist() == both[: len(k)] and len(both) - len(k) <= 6
    acc = np.concatenate([b.acc_mps2 for b in blocks])
    gyro = np.concatenate([b.gyro_dps for b in blocks])
    np.testing.assert_allclose(acc, [truth[polar.ACC][i][0] for i in k], rtol=1e-12, atol=0)
    np.testing.assert_allclose(gyro, [truth[polar.GYRO][i][0] for i in k], rtol=1e-12, atol=0)
    np.testing.assert_allclose(dev_t, [truth[polar.ACC][i][1] for i in k], rtol=0, atol=1e-6)
    # samples whose partner frame was malformed are missing, and counted
    lone = set(truth[polar.ACC]) ^ set(truth[polar.GYRO])
    assert link.stats.unpaired >= len([i for i in lone if i <= k[-1]]) > 0
    # 4. the counter is the grid: a malformed frame is a gap of its samples, the reconnection
    #    a gap of the time away (measured by the sensor's clock)
    idx = np.concatenate([b.sample_index for b in blocks])
    np.testing.assert_array_equal(idx, k - k[0])
    subs = [e["sub"] for e in sent]
    assert subs[0] == 1 and subs[-1] == 2
    # 5. one session time base before and after the reconnection: each sample mapped to when
    #    the emulator's sensor took it (both clocks CLOCK_MONOTONIC), late by at most the link
    t = np.concatenate([b.time_s for b in blocks])
    assert (np.diff(t) > 0).all()
    tau = (dev_t - dev["clock_offset_s"]) / (1 + dev["drift_ppm"] * 1e-6)
    late = t - (emu["t_boot"] + tau - t0)
    assert late.min() > -0.01 and late.max() < 0.08


# -- the links without BLE: notifications in, blocks and counted errors out -----------------------


def split(items):
    blocks = [x for _, x in items if isinstance(x, SampleBlock)]
    return blocks, [x for _, x in items if not isinstance(x, SampleBlock)]


def test_witmotion_link_drops_a_truncated_notification_whole_and_keeps_the_count():
    link = WitMotionLink("shin", 100, lambda: 0.0)
    link.arrival_clock = ArrivalClock(100)
    link.clock = link.arrival_clock.clock
    rng = np.random.default_rng(3)
    acc = rng.integers(-20000, 20000, (400, 3))
    pkts = [witmotion.encode(acc[i], -acc[i], acc[i]) for i in range(400)]
    batch = [(1.0 + i / 100, p) for i, p in enumerate(pkts)]
    batch[300] = (batch[300][0], pkts[300][:13])  # truncated: it must not eat into the next
    blocks, events = split(link.decode_pending(batch))
    assert [e.kind for e in events] == ["error"] and link.stats.malformed == 1
    got = np.vstack([b.acc_mps2 for b in blocks])
    keep = np.r_[0:300, 301:400]
    np.testing.assert_array_equal(got, acc[keep] * (16 * G_MPS2 / 32768))
    idx = np.concatenate([b.sample_index for b in blocks])
    np.testing.assert_array_equal(idx, keep)  # a gap of one sample where it was, no shift


def dot_stream(t0_us, n, rate=60, first=0):
    """DOT payloads ``first``…``first + n - 1`` (the gyro's x says which)."""
    ks = range(first, first + n)
    return [movella.encode(t0_us + round(k * 1e6 / rate), [0, 0, 9.8], [k, 0, 0]) for k in ks]


def test_movella_link_drops_a_payload_whose_timestamp_does_not_follow():
    link = MovellaLink("head", 60, lambda: 0.0)
    link.rate_hz = 60.0
    link._connected_at = 0.0
    pkts = dot_stream(50_000_000, 300)
    garbage = struct.pack("<I", 3_000_000_000) + pkts[200][4:]  # a wild timestamp
    pkts.insert(200, garbage)
    arrivals = [1.0 + k / 60 + 0.004 for k in range(len(pkts))]
    blocks, events = split(link.decode_pending(list(zip(arrivals, pkts, strict=True))))
    assert [e.kind for e in events] == ["error"] and "timestamp" in events[0].detail["why"]
    assert events[0].detail["bytes"] == garbage.hex()
    assert len(blocks) == 300 and link.stats.malformed == 1
    np.testing.assert_array_equal(np.concatenate([b.sample_index for b in blocks]), range(300))
    np.testing.assert_array_equal(np.concatenate([b.gyro_dps[:, 0] for b in blocks]), range(300))


def test_movella_link_after_a_reconnection_tells_a_restarted_dot_from_garbage():
    link = MovellaLink("head", 60, lambda: 0.0)
    link.rate_hz = 60.0
    link._connected_at = 0.0
    a = [(1.0 + k / 60, p) for k, p in enumerate(dot_stream(50_000_000, 240))]
    assert len(split(link.decode_pending(a))[0]) == 240
    # reconnected after 2 s away: first a payload with a wild timestamp, then the stream goes on
    link._fresh, link._connected_at = True, 7.0
    garbage = struct.pack("<I", 123) + a[0][1][4:]
    go_on = dot_stream(50_000_000, 60, first=360)
    b = [(7.0, garbage)] + [(7.01 + k / 60, p) for k, p in enumerate(go_on)]
    blocks, events = split(link.decode_pending(b))
    assert [e.kind for e in events] == ["error"] and len(blocks) == 60
    assert blocks[0].sample_index[0] == 360  # the gap measured from the DOT's clock
    # reconnected again: the DOT was switched off and on, its clock restarted near 0
    link._fresh, link._connected_at = True, 12.0
    c = [(12.0 + k / 60, p) for k, p in enumerate(dot_stream(1_000, 180))]
    blocks, events = split(link.decode_pending(c))
    assert [e.kind for e in events] == ["status"] and "restarted" in events[0].detail["text"]
    assert link.stats.malformed == 1  # nothing of the restarted stream was dropped
    d = [(15.0 + k / 60, p) for k, p in enumerate(dot_stream(1_000, 30, first=180))]
    blocks += split(link.decode_pending(d))[0]  # (held until the restarted clock was warm)
    assert link.stats.malformed == 1 and not link._held
    idx = np.concatenate([b.sample_index for b in blocks])
    last = 360 + 59  # the last sample before: the count goes on by the time away (≈ 2 s)
    away = round((12.0 - (7.01 + 59 / 60)) * 60)
    np.testing.assert_array_equal(idx, last + away + np.arange(210))
    np.testing.assert_array_equal(np.concatenate([b.gyro_dps[:, 0] for b in blocks]), range(210))
    assert (np.diff(np.concatenate([b.time_s for b in blocks])) > 0).all()


def test_malformed_notifications_are_counted_exactly_and_reported_rate_limited(caplog):
    link = StrapLink("shin", 100, lambda: 0.0)
    junk = [(10.0 + k / 500, bytes([2]) + bytes(39)) for k in range(1500)]  # 3 s at 500/s
    with caplog.at_level(logging.WARNING, logger="collector.ble_links"):
        events = split(link.decode_pending(junk))[1]
    assert link.stats.malformed == 1500
    per_s = np.bincount([int(e.time_s - 10.0) for e in events])
    assert per_s.max() <= EVENTS_PER_S and len(events) >= 3 * EVENTS_PER_S - 1
    folded = link._ev_folded
    assert sum(e.detail["count"] for e in events) + folded == 1500
    assert events[0].detail["what"] == "malformed notification"
    assert len(caplog.records) <= LOG_FIRST + 2  # one by one, then summaries every 10 s
    link.decode_pending([(21.0, bytes(40))])
    assert f"{1500 - LOG_FIRST + 1} malformed" in caplog.records[-1].getMessage()


def polar_frames(rate, seconds, acc_per=13, gyro_per=9, gyro_offset_s=0.002, t0_s=790e6):
    """ACC and GYRO frames of a sensor at ``rate`` on one grid (GYRO ``gyro_offset_s`` later),
    in arrival order (each 5 ms after its last sample): (arrival, bytes, stream, first k, n)."""
    n = int(seconds * rate)
    acc = np.stack([np.arange(n) % 500, -(np.arange(n) % 300), np.full(n, 1000)], axis=1)
    gyro = np.stack([np.arange(n) % 200, np.zeros(n, int), -(np.arange(n) % 100)], axis=1)
    out = []
    for mtype, per, values, shift in ((polar.ACC, acc_per, acc, 0.0),
                                      (polar.GYRO, gyro_per, gyro, gyro_offset_s)):  # fmt: skip
        for k in range(0, n - per + 1, per):
            t_last = t0_s + (k + per - 1) / rate + shift
            t_ns = round(t_last * 1e9)
            pkt = polar.encode_delta(mtype, t_ns, values[k : k + per], [per - 1],
                                     frame_type=1 if mtype == polar.ACC else 0)  # fmt: skip
            out.append((t_last - t0_s + 1.005, pkt, mtype, k, per))
    out.sort(key=lambda x: x[0])
    return out, acc, gyro


def polar_link(rate=104):
    link = PolarLink("shin", rate, lambda: 0.0)
    link.rate_hz = float(rate)
    for st in link.streams.values():
        st.period_s = 1 / rate
    link.factors = {polar.ACC: 1.0, polar.GYRO: 0.5}
    return link


def test_polar_link_pairs_the_streams_and_a_lost_frame_is_a_gap_of_its_samples():
    frames, acc, gyro = polar_frames(104, 6.0)
    link = polar_link()
    lost = [f for f in frames if f[2] == polar.GYRO][20]  # GYRO samples 180–188 never arrive
    batch = [(a, p[:-3] if f is lost else p) for f in frames for a, p in [f[:2]]]
    repeat = next(i for i, f in enumerate(frames) if f[2] == polar.ACC and f[3] == 13 * 30)
    batch.insert(repeat + 1, batch[repeat])  # the same ACC frame delivered twice
    items = []
    for i in range(0, len(batch), 7):  # drained a few notifications at a time
        items += link.decode_pending(batch[i : i + 7])
    blocks, events = split(items)
    assert [e.kind for e in events] == ["error", "error"]
    assert "past the end" in events[0].detail["why"]
    assert "does not follow" in events[1].detail["why"]
    k = np.concatenate([b.sample_index for b in blocks])
    pairs = min(f[3] + f[4] for f in frames if f[2] == polar.GYRO)  # both streams' samples
    last_gyro = max(f[3] + f[4] for f in frames if f[2] == polar.GYRO)
    expect = [i for i in range(last_gyro) if not 180 <= i < 189]
    assert pairs == 9 and k.tolist() == expect[: len(k)] and len(expect) - len(k) < 13
    np.testing.assert_allclose(np.concatenate([b.acc_mps2 for b in blocks]),
                               acc[k] * G_MPS2 / 1000, rtol=1e-12)  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([b.gyro_dps for b in blocks]), gyro[k] * 0.5)
    dev = np.concatenate([b.device_time_s for b in blocks])
    np.testing.assert_allclose(dev, 790e6 + k / 104, rtol=0, atol=1e-6)  # the ACC sample's time
    assert link.stats.unpaired == 9 and link.stats.malformed == 2


def test_polar_link_a_clock_set_while_away_restarts_the_mapping():
    frames, _, _ = polar_frames(104, 6.0)
    link = polar_link()
    before = split(link.decode_pending([f[:2] for f in frames]))[0]
    # reconnected 1 s later; meanwhile another app set the sensor's clock back by a day
    later, _, _ = polar_frames(104, 3.0, t0_s=790e6 - 86400)
    for st in link.streams.values():
        st.fresh = True
    blocks, events = split(link.decode_pending([(a + 7.0, p) for a, p, *_ in later]))
    assert [e.kind for e in events] == ["status"] and "clock changed" in events[0].detail["text"]
    assert link.stats.malformed == 0
    # the ACC frames still waiting for GYRO are settled on the old clock, then the new one starts
    old = [b for b in blocks if b.device_time_s[0] > 790e6 - 1]
    new = [b for b in blocks if b.device_time_s[0] < 790e6 - 1]
    assert len(old) + len(new) == len(blocks) and len(new) > 0
    idx_old = np.concatenate([b.sample_index for b in before + old])
    t_old = np.concatenate([b.time_s for b in before + old])
    np.testing.assert_allclose(t_old, 1.0 + idx_old / 104, atol=0.01)  # arrivals 5 ms after
    idx = np.concatenate([b.sample_index for b in new])
    # the count goes on by the time away, from the arrivals (the sensor's clock cannot tell):
    # the last ACC frame before ended at sample 623 (arrived 1.005 s + 623/104; its last three
    # samples had no GYRO partner), the first after at its sample 12 (arrived 7 + 1.005 + 12/104)
    assert idx_old[-1] == 620
    assert idx[0] + 12 == 623 + round((7.0 + 12 / 104 - 623 / 104) * 104)
    assert (np.diff(idx) == 1).all()
    t = np.concatenate([b.time_s for b in new])
    np.testing.assert_allclose(t, 8.0 + (idx - idx[0]) / 104, atol=0.01)  # the new mapping
