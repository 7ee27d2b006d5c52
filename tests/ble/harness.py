"""Test harness: a private dbus-daemon per test with the emulated BlueZ on it, and its controls.

Use the ``bluez`` fixture (tests/conftest.py, built on :func:`bluez_session`): it starts a
private bus, points ``DBUS_SYSTEM_BUS_ADDRESS`` at it (so bleak talks to it), and
``bluez.start(devices)`` runs the emulator and waits until it owns ``org.bluez``, before bleak's
first call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUS_CONF = """<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
    <allow own="*"/><allow user="*"/>
  </policy>
</busconfig>
"""
SHIN, HEAD = "C0:FF:EE:00:00:01", "C0:FF:EE:00:00:02"


#: Each emulated family's advertised name, from its address (what the real sensors advertise).
NAMES = {
    "strap": lambda address: f"FLOSS-{address[-5:].replace(':', '')}",
    "witmotion": lambda address: "WT901BLE68",  # a WitMotion WT901BLECL
    "movella": lambda address: "Movella DOT",
    "polar": lambda address: f"Polar Sense {address.replace(':', '')[-8:]}",  # Verity Sense
}


def device(kind: str, address: str, stream: str, seed: int = 3, **kw: Any) -> dict[str, Any]:
    """An emulated sensor of family ``kind`` (``strap``, ``witmotion``, ``movella``, ``polar``)
    streaming the simulator's ``stream`` (``shin``/``head``) of ``seed``; ``kw``: the
    emulator's options for it (``name``, ``faults``, ``battery_pct``, ...)."""
    name = kw.pop("name", NAMES[kind](address))
    return {"kind": kind, "address": address, "name": name, "stream": stream,
            "seed": seed, "sim": {"seed": seed}, **kw}  # fmt: skip


def proc_cpu_s(pid: int) -> float:
    """CPU time (user + system, s) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bluez:
    """A private system bus, optionally with the emulated BlueZ on it."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.socket = tmp / "system_bus_socket"
        self.address = f"unix:path={self.socket}"
        conf = tmp / "bus.conf"
        conf.write_text(BUS_CONF.format(socket=self.socket))
        self.daemon = subprocess.Popen(
            ["dbus-daemon", "--config-file", str(conf), "--nofork"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("private dbus-daemon did not start")
            time.sleep(0.01)
        self.emulator: subprocess.Popen[str] | None = None

    def start(self, devices: list[dict[str, Any]], **config: Any) -> None:
        """Run the emulator with these devices and wait until it owns ``org.bluez``."""
        cfg = self.dir / "emulator.json"
        cfg.write_text(json.dumps({"devices": devices, **config}))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._log = open(self.dir / "emulator.log", "w")  # noqa: SIM115 (lives as long as we do)
        self.emulator = subprocess.Popen(
            [sys.executable, "-m", "tests.ble.emulator", "--bus", self.address,
             "--config", str(cfg)],
            stdout=subprocess.PIPE, stderr=self._log,
            text=True, cwd=ROOT, env=env,
        )  # fmt: skip
        line = self.emulator.stdout.readline() if self.emulator.stdout else ""
        if not line.startswith("READY"):
            raise RuntimeError(f"emulator failed: {(self.dir / 'emulator.log').read_text()}")

    def close(self) -> None:
        for p in (self.emulator, self.daemon):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()

    # -- control (async: call from the test's event loop) ------------------------------------

    async def _call(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        if not hasattr(self, "_bus") or not self._bus.connected:
            self._bus = await MessageBus(bus_address=self.address).connect()
        reply = await self._bus.call(
            Message(
                destination="org.bluez", path="/org/flossmeter/Emulator",
                interface="org.flossmeter.Emulator1", member=member,
                signature=signature, body=body or [],
            )
        )  # fmt: skip
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"emulator {member}: {reply.error_name} {reply.body}")
        return reply.body

    async def drop(self, address: str, away_s: float = 0.0) -> None:
        """Remote disconnect now; the device does not advertise for ``away_s``."""
        await self._call("Drop", "sd", [address, away_s])

    async def tap(self, *addresses: str) -> None:
        """A finger tap on each strap now (a 3 g, 60 ms jolt in its acceleration)."""
        for address in addresses:
            await self._call("Tap", "s", [address])

    def sync(self, method: str, *args: Any) -> Any:
        """Call a control method (``tap``, ``drop``, ``stats``, …) from synchronous test code."""
        import asyncio

        async def call() -> Any:
            try:
                return await getattr(self, method)(*args)
            finally:
                self.close_control()  # its connection belongs to this event loop

        return asyncio.run(call())

    async def set_battery(self, address: str, pct: int) -> None:
        """The device's battery is now at ``pct`` % (notified if the host subscribed)."""
        await self._call("SetBattery", "si", [address, pct])

    async def set_rssi(self, address: str, rssi_dbm: int) -> None:
        """The device's signal is now ``rssi_dbm`` dBm (± 3 dB jitter)."""
        await self._call("SetRssi", "si", [address, rssi_dbm])

    async def set_faults(self, address: str, **faults: Any) -> None:
        await self._call("SetFaults", "ss", [address, json.dumps(faults)])

    async def stats(self) -> dict[str, Any]:
        return json.loads((await self._call("Stats"))[0])

    async def sent(self, address: str) -> list[dict[str, Any]]:
        """The ground truth: every data notification the device sent, numbered, in order
        (``n``, emulator time ``t``, ``conn``, ``sub``: its connection and subscription,
        ``valid``, ``how`` it was garbled, the ``hex`` sent, the ``values`` it should carry)."""
        return json.loads((await self._call("Sent", "s", [address]))[0])

    async def connection_count(self) -> int:
        """Unique connections on the bus (bleak's, the emulator's, ours)."""
        from dbus_fast import Message

        await self._call("Stats")  # ensures our control connection exists
        reply = await self._bus.call(
            Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus", member="ListNames")
        )  # fmt: skip
        return sum(1 for n in reply.body[0] if n.startswith(":"))

    def close_control(self) -> None:
        if hasattr(self, "_bus"):
            self._bus.disconnect()
            del self._bus


def bluez_session(tmp_path, monkeypatch):
    """Fixture body: a private bus for this test; ``DBUS_SYSTEM_BUS_ADDRESS`` points at it, and
    ``FLOSSMETER_CONFIG`` at a strap config in the test's folder (never the user's).

    The ``bluez`` fixture of tests/conftest.py is this; a test asks for ``bluez``.
    """
    b = Bluez(tmp_path)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", b.address)
    monkeypatch.setenv("FLOSSMETER_CONFIG", str(tmp_path / "config" / "straps.json"))
    try:
        yield b
    finally:
        b.close()


class Collect:
    """A hub sink that keeps every block and event it is handed (for assertions)."""

    def __init__(self) -> None:
        self.blocks: list[Any] = []
        self.events: list[Any] = []

    def on_block(self, b: Any) -> None:
        self.blocks.append(b)

    def on_event(self, e: Any) -> None:
        self.events.append(e)

    def kinds(self, kind: str, role: str | None = None) -> list[Any]:
        """The events of ``kind`` (of one strap's ``role``, or all)."""
        return [e for e in self.events if e.kind == kind and (role is None or e.sensor == role)]
