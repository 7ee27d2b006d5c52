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
from collector.ble_links import EVENTS_PER_S, LOG_FIRST, MovellaLink, StrapLink, WitMotionLink
from collector.clock import ArrivalClock
from collector.constants import G_MPS2
from collector.hub import Hub
from collector.model import SampleBlock
from collector.protocols import movella, witmotion
from tests.ble.harness import (
    SHIN,
    Collect,
    movella_device,
    strap_device,
    witmotion_device,
)

#: family → (emulated device, rate asked, subscriptions whose notifications nobody decodes: the
#: WitMotion rate check of the first connection counts packets before streaming starts)
FAMILIES = {
    "strap": (strap_device, 100, set()),
    "witmotion": (witmotion_device, 100, {1}),
    "movella": (movella_device, 60, set()),
}
MALFORMED_P = 0.04


def stream(bluez, family):
    make, rate, _ = FAMILIES[family]
    faults = {"malformed_p": MALFORMED_P, "seed": 5}
    bluez.start([make(SHIN, "shin", seed=4, drift_ppm=60, faults=faults)])

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
    _, rate, unread = FAMILIES[family]
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
