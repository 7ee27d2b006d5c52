"""The emulated strap runs the reference firmware core: real bleak against the emulated BlueZ, and
every data packet, counter and ping reply the collector gets comes out of strap_core.c."""

import asyncio

import numpy as np

from collector.ble import BleSource
from collector.hub import Hub
from collector.protocols import strap
from tests.ble.harness import SHIN, Collect, device


def test_collector_streams_from_the_firmware_core(bluez):
    bluez.start([device("strap", SHIN, "shin", drift_ppm=50, battery_mv=3930)])

    async def run():
        async with BleSource({"shin": SHIN}, rate_hz=200) as src:
            sink = Collect()
            hub = asyncio.create_task(Hub(src, [sink]).run())
            await asyncio.sleep(4.0)
            hub.cancel()
        # leaving the source stopped the strap (the stop command): its stream is over
        return sink, src.links["shin"], await bluez.sent(SHIN), await bluez.stats()

    sink, link, sent, emu = asyncio.run(run())
    dev = emu["devices"][SHIN]
    core = dev["core"]
    # the core packed every packet sent (the last one may have been waiting for the link when
    # the stop came)
    samples = sum(len(e["values"]["acc"]) for e in sent)
    assert 0 <= core["packets"] - len(sent) <= 1
    assert 0 <= core["samples_sent"] - samples <= strap.samples_per_packet(200)
    # it handled every control write: ranges, rate, start, each time-sync ping, stop
    assert core["commands"] == len(dev["writes"])
    assert link.stats.pings <= len(dev["writes"]) - 4 <= link.stats.pings + 1
    assert core["replies_dropped"] == 0 and core["samples_overwritten"] == 0
    # packets carry the emulator's sample counts, counters and device times (its ground truth)
    blocks = sink.blocks
    assert [b.raw.hex() for b in blocks] == [e["hex"] for e in sent][: len(blocks)]
    for b, e in zip(blocks, sent, strict=False):
        np.testing.assert_array_equal(b.sample_index, e["values"]["seq"] + np.arange(len(b)))
        np.testing.assert_allclose(b.device_time_s[0], e["values"]["t_us"] * 1e-6, atol=1e-9)
    # after the first ping answered, the core marks its packets "time synced" (status bit 1)
    status = [bytes.fromhex(e["hex"])[3] for e in sent]
    assert status[0] == 0 and status[-1] == 0x02 and sorted(set(status)) == [0, 2]
    assert link.clock.syncs >= 150  # the pings were answered with the core's stamps
