"""BLE path: two straps at 1 kHz through the emulated BlueZ → decode → clock → recorder.

Runs the real bleak against ``tests/ble/emulator.py`` on a private dbus-daemon and reports
loss, connect time and CPU per stage: emulator (the "radio"), dbus-daemon, and in the
collector process decode, clock mapping, recorder and the rest (bleak, dbus-fast, hub).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from collector.ble import BleSource
from collector.hub import Hub
from collector.recording import Recorder, load_recording
from tests.ble.harness import HEAD, SHIN, Bluez, device, proc_cpu_s


class _Timed:
    """Wrap a sink and add up the time spent in it."""

    def __init__(self, sink):
        self.sink, self.s = sink, 0.0

    def on_block(self, b):
        t = time.perf_counter()
        self.sink.on_block(b)
        self.s += time.perf_counter() - t

    def on_event(self, e):
        self.sink.on_event(e)

    def tick(self):
        t = time.perf_counter()
        self.sink.tick()
        self.s += time.perf_counter() - t


def run(quick: bool) -> dict[str, float]:
    """Stream for 3 s (quick) or 20 s and measure."""
    seconds = 3.0 if quick else 20.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bus = Bluez(tmp)
        old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        try:
            kw = {"rate_hz": 1000, "per_packet": 5}  # 200 notifications/s per strap
            bus.start([device("strap", SHIN, "shin", **kw), device("strap", HEAD, "head", **kw)])
            out = asyncio.run(_measure(bus, tmp, seconds))
        finally:
            bus.close()
            if old is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old
    return out


async def _measure(bus: Bluez, tmp: Path, seconds: float) -> dict[str, float]:
    assert bus.emulator is not None
    async with BleSource({"shin": SHIN, "head": HEAD}, rate_hz=400) as src:
        connect_s = max(max(v) for v in src.connect_times_s.values())
        path = tmp / "bench.flossrec"
        with Recorder(path, src.sensors, {}) as rec:
            timed = _Timed(rec)
            cpu0 = (time.process_time(), proc_cpu_s(bus.emulator.pid), proc_cpu_s(bus.daemon.pid))
            wall0 = time.perf_counter()
            await Hub(src, [timed]).run(seconds)
            wall = time.perf_counter() - wall0
            cpu1 = (time.process_time(), proc_cpu_s(bus.emulator.pid), proc_cpu_s(bus.daemon.pid))
        stats = src.stats()
        emu = await bus.stats()
    r = load_recording(path)
    sent = sum(d["sent"] for d in emu["devices"].values()) * 5
    got = sum(len(df) for df in r.samples.values())
    lost = sum(int(r.gaps(role)["lost"].sum()) for role in r.samples)
    decode = sum(s["decode_s"] for s in stats.values())
    clock = sum(s["clock_s"] for s in stats.values())
    client = cpu1[0] - cpu0[0]
    return {
        "ble_samples_per_s": got / wall,
        "ble_lost_samples": float(lost),
        "ble_unreceived_fraction": max(0.0, (sent - got) / sent),
        "ble_connect_s": connect_s,
        "ble_cpu_emulator_pct": 100 * (cpu1[1] - cpu0[1]) / wall,
        "ble_cpu_dbus_daemon_pct": 100 * (cpu1[2] - cpu0[2]) / wall,
        "ble_cpu_client_pct": 100 * client / wall,
        "ble_cpu_decode_pct": 100 * decode / wall,
        "ble_cpu_clock_pct": 100 * clock / wall,
        "ble_cpu_recorder_pct": 100 * timed.s / wall,
        "ble_cpu_bleak_hub_rest_pct": 100 * (client - decode - clock - timed.s) / wall,
    }


if __name__ == "__main__":
    for k, v in run(quick=False).items():
        print(f"{k:<30} {v:10.3f}")
