"""Battery and signal health for every family, through the real bleak and the emulated BlueZ:
read at connect, followed where it notifies, a warning below 15 %, recorded as ``status`` events;
RSSI where BlueZ reports it."""

import asyncio
import logging

import pytest

from collector.ble import BleSource
from collector.hub import Hub
from collector.recording import Recorder, load_recording
from tests.ble.harness import HEAD, SHIN, Collect, device

WIT, POLAR = "C0:FF:EE:00:00:03", "A0:9E:1A:00:00:04"


def rssi_of(sink, role):
    """The signal strengths (dBm) reported for one strap, in order."""
    return [e.detail["rssi_dbm"] for e in sink.kinds("status", role) if "rssi_dbm" in e.detail]


def battery_events(events, role):
    return [e.detail for e in events if e.sensor == role and "battery_pct" in e.detail]


def test_every_family_reports_its_battery_and_a_low_one_is_warned_and_recorded(
    bluez, tmp_path, caplog
):
    bluez.start(
        [
            device("strap", SHIN, "shin", battery_pct=71),
            device("movella", HEAD, "head", battery_pct=64, charging=True),
            device("witmotion", WIT, "shin", battery_v=3.82),  # 50 % in WitMotion's own table
            device("polar", POLAR, "head", battery_pct=40),
        ]
    )

    async def session(targets, path, during):
        async with BleSource(targets, rate_hz=100) as src:
            with Recorder(path, src.sensors, {"source": "ble"}) as rec:
                sink = Collect()
                hub = asyncio.create_task(Hub(src, [sink, rec]).run())
                await during()
                hub.cancel()
                await asyncio.gather(hub, return_exceptions=True)
        bluez.close_control()  # its connection belongs to this event loop
        return sink

    async def strap_falls_low():
        await asyncio.sleep(1.0)
        await bluez.set_battery(SHIN, 14)  # notified: below 15 %
        await asyncio.sleep(0.5)
        await bluez.set_battery(SHIN, 12)  # (the strap's firmware notifies 2-point moves)
        await asyncio.sleep(0.5)

    async def polar_falls_low():
        await asyncio.sleep(3.0)
        await bluez.set_battery(POLAR, 9)
        await asyncio.sleep(0.5)

    with caplog.at_level(logging.WARNING, logger="collector.ble_links"):
        first = asyncio.run(session({"shin": SHIN, "head": HEAD}, tmp_path / "a.flossrec",
                                    strap_falls_low))  # fmt: skip
        second = asyncio.run(session({"shin": WIT, "head": POLAR}, tmp_path / "b.flossrec",
                                     polar_falls_low))  # fmt: skip

    # our strap and the Polar: the standard Battery Level, read, then notified
    assert [(d["battery_pct"], d["battery_low"]) for d in battery_events(first.events, "shin")] \
        == [(71, False), (14, True), (12, True)]  # fmt: skip
    assert [(d["battery_pct"], d["battery_low"]) for d in battery_events(second.events, "head")] \
        == [(40, False), (9, True)]  # fmt: skip
    # the DOT: its own characteristic, with the charging flag
    (dot,) = battery_events(first.events, "head")
    assert dot["battery_pct"] == 64 and dot["charging"] is True and dot["source"].startswith("DOT")
    # WitMotion: the voltage register, mapped by the vendor's table
    (wit,) = battery_events(second.events, "shin")
    assert wit["battery_v"] == pytest.approx(3.82) and wit["battery_pct"] == pytest.approx(50)
    # one warning line per strap that fell low, not one per reading
    lows = [r.getMessage() for r in caplog.records if "battery low" in r.getMessage()]
    assert lows == ["shin strap battery low: 14 % (charge it after this session)",
                    "head strap battery low: 9 % (charge it after this session)"]  # fmt: skip
    # recorded as status events
    rec = load_recording(tmp_path / "a.flossrec")
    status = rec.events[rec.events.kind == "status"]
    levels = [d["battery_pct"] for d in status.detail if "battery_pct" in d]
    assert sorted(levels) == [12, 14, 64, 71]


def test_rssi_where_bluez_reports_it(bluez):
    # BlueZ has an RSSI from advertisements while it discovers: at the scan, and while the
    # source looks for a strap that dropped out. The Polar keeps advertising while connected.
    bluez.start(
        [
            device("polar", POLAR, "shin", rssi=-55, rssi_while_connected=True),
            device("strap", HEAD, "head", rssi=-66),
        ]
    )

    async def run():
        async with BleSource({"shin": POLAR, "head": HEAD}, rate_hz=52) as src:
            sink = Collect()
            hub = asyncio.create_task(Hub(src, [sink]).run())
            await asyncio.sleep(1.0)
            await bluez.set_rssi(POLAR, -85)  # the shin moved away from the laptop
            await asyncio.sleep(0.5)  # nobody discovers: BlueZ has nothing new to say
            before = rssi_of(sink, "shin")
            await bluez.drop(HEAD, away_s=1.5)  # the source discovers until the head is back
            async with asyncio.timeout(10):
                while len(sink.kinds("connected", "head")) < 2:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            hub.cancel()
            await asyncio.gather(hub, return_exceptions=True)
            return sink, before

    sink, before = asyncio.run(run())
    first = {e.sensor: e.detail["rssi_dbm"] for e in sink.kinds("connected") if e.detail["first"]}
    assert -58 <= first["shin"] <= -52 and -69 <= first["head"] <= -63  # from the scan
    assert len(before) == 1 and -58 <= before[0] <= -52  # the scan's, as long as none discovers
    shin = rssi_of(sink, "shin")
    assert -88 <= shin[-1] <= -82  # then followed while BlueZ reported it
    assert len(shin) <= 3  # jitter of ±3 dB every 0.1 s is not an event each time
    (again,) = [e for e in sink.kinds("connected", "head") if not e.detail["first"]]
    assert -69 <= again.detail["rssi_dbm"] <= -63  # the advertisement it reconnected on
