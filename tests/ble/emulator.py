"""An emulated BlueZ (``org.bluez`` on a private D-Bus) serving simulated IMU peripherals.

Run as ``python -m tests.ble.emulator --bus ADDRESS --config FILE``; it prints ``READY`` once it
owns ``org.bluez``. It serves what bleak's Linux backend uses (docs/ble.md, first section): the
object manager, ``Adapter1`` discovery, ``Device1`` connect/disconnect, ``GattService1`` and
``GattCharacteristic1`` read/write/notify, with BlueZ-shaped object paths. Peripherals speak our
strap profile, WitMotion's or Movella DOT's, with motion from the physically modelled simulator,
a drifting device clock, BLE connection-event timing (``linkmodel.py``) and injectable faults.
Tests steer it through ``org.flossmeter.Emulator1`` at ``/org/flossmeter/Emulator`` (``Drop``,
``SetFaults``, ``SetAdvertising``, ``Tap``: a finger tap on a strap, ``Stats``, ``Sent``).

Ground truth: every data notification a peripheral sends is numbered and logged (``Sent``): its
number, emulator time, connection and subscription, the bytes sent, whether it was garbled and
how, and the exact values of the samples it should have carried (int16 counts, or the DOT's
float32 values). Garbled notifications (``Faults.malformed_p``, seeded by ``Faults.seed``) are
made to break a rule the family's documentation states (:meth:`Peripheral.breaks_rule`), so the
number injected is exactly the number a correct collector can reject.

Our straps play one simulated body: the motion starts when the first strap streams, and a strap
that starts later joins it on its own sample grid (``Stats``: ``streams[i].sim_offset`` is the
simulator sample played as counter ``first_index``), so head and shin stay aligned as worn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from collector.constants import G_MPS2
from collector.protocols import movella, polar, strap, witmotion
from collector.simulator import SimConfig, simulate
from tests.ble import firmware_core
from tests.ble.linkmodel import LinkModel

ADAPTER = "/org/bluez/hci0"
OM = "org.freedesktop.DBus.ObjectManager"
PROPS = "org.freedesktop.DBus.Properties"
DEVICE = "org.bluez.Device1"
SERVICE = "org.bluez.GattService1"
CHAR = "org.bluez.GattCharacteristic1"
CONTROL_PATH = "/org/flossmeter/Emulator"
CONTROL_IFACE = "org.flossmeter.Emulator1"
ERR_FAILED = "org.bluez.Error.Failed"


GARBLES = ("header", "truncated", "random", "overlong")


@dataclass
class Faults:
    """What can go wrong with one peripheral (probabilities per packet; times in s)."""

    drop_p: float = 0.0  # notifications generated but never delivered
    malformed_p: float = 0.0  # notifications garbled on the way (kinds: ``GARBLES``)
    malformed_kinds: tuple[str, ...] = GARBLES
    seed: int | None = None  # of the fault draws (None: from the device's seed)
    mute: bool = False  # send no data notifications (a test's clean end: nothing in flight)
    connect_delay_s: float = 0.0  # a slow Connect
    ci_s: float | None = None  # connection interval (None: random in 7.5–50 ms)
    stack_jitter_s: float = 0.0005
    retransmit_p: float = 0.05


_SIM_CACHE: dict[tuple[Any, ...], Any] = {}


def sim_config(sim: dict[str, Any], rate: float, acc_g: float, gyro_dps: float) -> SimConfig:
    """The simulated session an emulated device plays (device ``sim`` options over defaults).

    The simulator's own clock model is off (``drift_ppm=0``): its samples lie on an exact grid
    from ``time_s[0]``, and the emulated device samples that grid with a drifting clock of its own.
    """
    defaults = {
        "sets": 1,
        "reps_per_set": 4,
        "variety": "clean",
        "fidgets": False,
        "drift_ppm": 0.0,
    }
    return SimConfig(
        **{**defaults, **sim},
        rate_hz=min(max(rate, 25.0), 400.0),
        acc_range_g=acc_g,
        gyro_range_dps=gyro_dps,
    )


def sim_stream(sim: dict[str, Any], role: str, rate: float, acc_g: float, gyro_dps: float) -> Any:
    """A simulated strap stream at this rate and ranges (cached: deterministic by seed)."""
    key = (json.dumps(sim, sort_keys=True), role, rate, acc_g, gyro_dps)
    if key not in _SIM_CACHE:
        _SIM_CACHE[key] = simulate(sim_config(sim, rate, acc_g, gyro_dps)).streams[role]
    return _SIM_CACHE[key]


class Peripheral:
    """One emulated device: advertising data, GATT table, device clock, stream and faults."""

    kind = ""
    services: tuple[tuple[str, list[tuple[str, list[str]]]], ...] = ()

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        self.emu = emu
        self.cfg = cfg
        self.address: str = cfg["address"].upper()
        self.name: str = cfg.get("name", "")
        self.path = f"{ADAPTER}/dev_{self.address.replace(':', '_')}"
        self.rng = np.random.default_rng(cfg.get("seed", 0) + 7919)
        self.faults = Faults(**cfg.get("faults", {}))
        seed = self.faults.seed if self.faults.seed is not None else cfg.get("seed", 0) + 104729
        self.fault_rng = np.random.default_rng(seed)
        self.sent: list[dict[str, Any]] = []  # ground truth: every data notification sent
        self.subscriptions = 0  # StartNotify calls on the data characteristic
        self.drift = cfg.get("drift_ppm", 0.0) * 1e-6
        self.clock_offset_s = cfg.get("clock_offset_s", float(self.rng.uniform(10, 4000)))
        self.sim = cfg.get("sim", {"seed": cfg.get("seed", 0)})
        self.role = cfg.get("stream", "shin")
        self.connected = False
        self.away_until = 0.0
        self.advertising = cfg.get("advertising", True)
        self.battery_pct = int(cfg.get("battery_pct", 87))  # SetBattery changes it
        self.chars: dict[str, str] = {}  # uuid → path
        self.notifying: set[str] = set()
        self.link = LinkModel()
        self._last_event: dict[str, float] = {}  # per queue: in order within it
        self.stream_task: asyncio.Task[None] | None = None
        self.tap_at: float | None = None
        self.stats: dict[str, Any] = {
            "connects": 0, "disconnects": 0, "sent": 0, "dropped": 0, "malformed": 0,
            "malformed_by_kind": dict.fromkeys(GARBLES, 0), "writes": [], "streams": [],
        }  # fmt: skip

    # -- time --------------------------------------------------------------------------------

    def now(self) -> float:
        """Emulator session time (s since the emulator booted)."""
        return time.monotonic() - self.emu.t_boot

    def device_time(self, tau: float) -> float:
        """The device clock (s) at emulator time ``tau``."""
        return self.clock_offset_s + (1.0 + self.drift) * tau

    def emu_time(self, device_s: float) -> float:
        """Emulator time at which the device clock reads ``device_s``."""
        return (device_s - self.clock_offset_s) / (1.0 + self.drift)

    def uplink_time(self, ready: float, queue: str = "data") -> float:
        """When a notification ready at ``ready`` reaches the host (connection events).

        Notifications of one ``queue`` (data, control replies) arrive in order; a reply does not
        hold back data that was ready before it (the link layer sends both at one event).
        """
        t = float(self.link.arrivals(np.array([ready]), self.rng)[0])
        self._last_event[queue] = max(self._last_event.get(queue, -math.inf), t)
        return self._last_event[queue]

    def downlink_time(self, sent: float) -> float:
        """When a write sent by the host at ``sent`` reaches the device."""
        return float(self.link.downlink(np.array([sent]), self.rng)[0])

    # -- GATT ---------------------------------------------------------------------------------

    def on_connect(self) -> None:
        f = self.faults
        ci = f.ci_s if f.ci_s is not None else None
        rnd = LinkModel.random(self.rng)
        self.link = LinkModel(
            interval_s=ci or rnd.interval_s,
            phase_s=float(self.rng.uniform(0, ci or rnd.interval_s)) + self.now(),
            stack_jitter_s=f.stack_jitter_s,
            retransmit_p=f.retransmit_p,
        )
        self._last_event.clear()

    def on_disconnect(self) -> None:
        if self.stream_task is not None:
            self.stream_task.cancel()
            self.stream_task = None
        self.notifying.clear()

    def read(self, uuid: str) -> bytes:
        return b""

    battery_uuid = ""  # the characteristic that carries the battery level (none: not read)

    def battery_value(self) -> bytes:
        """The battery characteristic's value (the standard Battery Level: one byte, %)."""
        return bytes([self.battery_pct])

    def set_battery(self, pct: int) -> None:
        """The battery is at ``pct`` %: notify it if the host subscribed."""
        self.battery_pct = int(pct)
        if self.battery_uuid:
            self.notify(self.battery_uuid, self.battery_value())

    def write(self, uuid: str, data: bytes) -> None:
        pass

    def notify_changed(self, uuid: str, on: bool) -> None:
        pass

    data_uuid = ""  # the characteristic that carries the samples

    def notify(self, uuid: str, data: bytes) -> bool:
        """Send one notification now (if the host subscribed); whether it was sent."""
        if uuid in self.notifying and self.connected:
            self.emu.send_value(self.chars[uuid], data)
            return True
        return False

    async def send_data(self, uuid: str, pkt: bytes, ready: float, values: dict[str, Any]) -> None:
        """Send a data packet when the link can take it (ready at emulator time ``ready``),
        unless the injected faults drop or garble it; log what was sent (``values``: the
        samples it carries, for the ground truth)."""
        delay = self.uplink_time(ready) - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
        f, r = self.faults, self.fault_rng
        if f.mute:
            return
        if r.random() < f.drop_p:
            self.stats["dropped"] += 1
            return
        how = ""
        if r.random() < f.malformed_p:
            how = str(f.malformed_kinds[int(r.integers(len(f.malformed_kinds)))])
        out = self.garble(pkt, how) if how else pkt
        if not self.notify(uuid, out):
            return
        self.stats["sent"] += 1
        if how:
            self.stats["malformed"] += 1
            self.stats["malformed_by_kind"][how] += 1
        self.sent.append({
            "n": len(self.sent), "t": self.now(), "conn": self.stats["connects"],
            "sub": self.subscriptions, "valid": not how, "how": how, "hex": out.hex(),
            "values": values,
        })  # fmt: skip

    async def notify_at(self, uuid: str, when: float, data: bytes) -> None:
        delay = when - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
        self.notify(uuid, data)

    def garble(self, data: bytes, how: str) -> bytes:
        """``data`` corrupted ``how`` (one of ``GARBLES``), breaking a documented rule."""
        r = self.fault_rng
        for _ in range(1000):
            if how == "header":
                out = self.bad_header(data)
            elif how == "truncated":
                out = data[: int(r.integers(1, len(data)))]
            elif how == "overlong":
                extra = int(r.integers(1, self.overlong_max + 1))
                out = data + bytes(r.integers(0, 256, extra, dtype=np.uint8))
            elif how == "random":
                out = bytes(r.integers(0, 256, len(data), dtype=np.uint8))
            else:
                raise ValueError(f"unknown garble {how!r}")
            if self.breaks_rule(out, data):
                return out
        raise RuntimeError(f"could not garble {how}")

    overlong_max = 11  # bytes appended by an over-long garble

    def bad_header(self, data: bytes) -> bytes:
        """``data`` with its header (or what stands for one) corrupted."""
        raise NotImplementedError

    def breaks_rule(self, out: bytes, original: bytes) -> bool:
        """Whether ``out`` (garbled from ``original``) breaks a rule of the family's protocol
        documentation that a collector can check."""
        raise NotImplementedError

    def tap(self) -> None:
        """A finger tap on the strap: a sharp jolt in the acceleration for 60 ms."""
        self.tap_at = self.now()

    def tap_jolt_g(self, tau: np.ndarray) -> np.ndarray:
        if self.tap_at is None:
            return np.zeros(len(tau))
        dt = tau - self.tap_at
        return np.where((dt >= 0) & (dt < 0.06), 3.0 * np.sin(np.pi * dt / 0.06), 0.0)


class StrapPeripheral(Peripheral):
    """Our strap (``firmware_specs/flossmeter_strap.json``), running the reference firmware's C
    core (``firmware_specs/reference/strap_core.c`` through ``tests/ble/firmware_core.py``): the
    core counts the samples, packs the data packets, answers commands and time-sync pings and
    serves the battery level and device information, as on a real strap. The emulator plays the
    board around it: the IMU (the simulator's samples, on the drifting device clock), the radio
    (connection events) and the injected faults, which act on the core's packets on their way."""

    kind = "strap"
    services = (
        (strap.SERVICE_UUID, [(strap.DATA_UUID, ["notify"]),
                              (strap.CONTROL_UUID, ["read", "write", "notify"])]),
        ("0000180f-0000-1000-8000-00805f9b34fb", [(strap.BATTERY_LEVEL_UUID, ["read", "notify"])]),
        ("0000180a-0000-1000-8000-00805f9b34fb", [(strap.FIRMWARE_REVISION_UUID, ["read"]),
                                                  (strap.MODEL_NUMBER_UUID, ["read"])]),
    )  # fmt: skip

    data_uuid = strap.DATA_UUID
    MTU = 247  # the ATT MTU the characteristics declare (and the core packs for)
    READS: ClassVar[dict[str, int]] = {
        strap.CONTROL_UUID: firmware_core.CONTROL,
        strap.BATTERY_LEVEL_UUID: firmware_core.BATTERY,
        strap.FIRMWARE_REVISION_UUID: firmware_core.FIRMWARE_REVISION,
        strap.MODEL_NUMBER_UUID: firmware_core.MODEL_NUMBER,
    }
    battery_uuid = strap.BATTERY_LEVEL_UUID

    def bad_header(self, data: bytes) -> bytes:
        out = bytearray(data)
        out[0] = int(self.fault_rng.integers(2, 256))  # format version (1)
        return bytes(out)

    def breaks_rule(self, out: bytes, original: bytes) -> bool:
        # firmware_specs/flossmeter_strap.md: length 16 + 12·N, version 1, count N
        n = len(out)
        return n < 28 or (n - 16) % 12 != 0 or out[0] != 1 or out[1] != (n - 16) // 12

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        super().__init__(emu, cfg)
        self.uuids = [strap.SERVICE_UUID]
        # benchmark: a rate beyond the profile and a notification every per_packet samples
        self.override_rate = cfg.get("rate_hz")
        per = cfg.get("per_packet")
        self.core = firmware_core.FirmwareCore(
            firmware_revision=cfg.get("firmware", "1.2.0-emu"),
            model_number="FM-STRAP-1",
            manufacturer="flossmeter (emulated)",
            rate_max_hz=max(strap.RATE_MAX_HZ, int(self.override_rate or 0)),
            notify_interval_us=round(per * 1e6 / (self.override_rate or 100)) if per else None,
        )
        # the cell's voltage (the core turns it into %): given, or the one the core reads as
        # battery_pct (what SetBattery and the other peers' tests speak)
        mv = cfg.get("battery_mv")
        self.core.set_battery_mv(int(mv) if mv is not None else self._mv_for(self.battery_pct))
        self.stats["core"] = self.core.stats()  # refreshed on every control write (pings: 20/s)

    @staticmethod
    def _mv_for(pct: int) -> int:
        """The lowest cell voltage (mV) the firmware core reads as ``pct`` % or more."""
        return next((mv for mv in range(3000, 4301) if firmware_core.battery_percent(mv) >= pct),
                    4300)  # fmt: skip

    def battery_value(self) -> bytes:
        return self.core.read(firmware_core.BATTERY)

    def set_battery(self, pct: int) -> None:
        # the core notifies a level that moved by FM_CORE_BATTERY_STEP (2) points or more
        self.battery_pct = int(pct)
        self.core.set_battery_mv(self._mv_for(self.battery_pct))
        for value in self.core.take_all(firmware_core.BATTERY):
            self.notify(self.battery_uuid, value)

    def device_us(self, tau: float) -> int:
        """The device's µs clock at emulator time ``tau`` (the core takes it modulo 2³²)."""
        return round(self.device_time(tau) * 1e6)

    def on_connect(self) -> None:
        super().on_connect()
        self.core.connected(self.MTU, self.device_us(self.now()))

    def on_disconnect(self) -> None:
        super().on_disconnect()
        self.core.disconnected(self.device_us(self.now()))

    def read(self, uuid: str) -> bytes:
        return self.core.read(self.READS[uuid]) if uuid in self.READS else b""

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != strap.CONTROL_UUID:
            return
        self.stats["writes"].append(data.hex())
        if data[:1] == bytes([strap.OPCODES["time_sync"]]):
            # stamped when the write reaches the strap; the reply leaves at a later event
            got = self.downlink_time(self.now())
            self.core.write(data, self.device_us(got))
            self.stats["core"] = self.core.stats()
            for reply in self.core.take_all(firmware_core.CONTROL):
                when = self.uplink_time(got + 0.0003, queue="control")
                asyncio.get_running_loop().create_task(
                    self.notify_at(strap.CONTROL_UUID, when, reply)
                )
            return
        now_us = self.device_us(self.now())
        if data[:1] == strap.cmd_start() and self.override_rate:
            self.core.write(struct.pack("<BH", strap.OPCODES["set_rate"], self.override_rate),
                            now_us)  # fmt: skip
            self.core.take_all(firmware_core.CONTROL)  # the host did not ask: no reply
        was_streaming = self.core.streaming
        self.core.write(data, now_us)
        self.stats["core"] = self.core.stats()
        for reply in self.core.take_all(firmware_core.CONTROL):
            self.notify(strap.CONTROL_UUID, reply)
        if self.core.streaming and not was_streaming:
            self.start_stream()
        elif was_streaming and not self.core.streaming:
            self.stop_stream()

    def start_stream(self) -> None:
        if self.stream_task is None:
            self.stream_task = asyncio.get_running_loop().create_task(self._stream())

    def stop_stream(self) -> None:
        if self.stream_task is not None:
            self.stream_task.cancel()
            self.stream_task = None

    async def _stream(self) -> None:
        rate = float(self.core.rate_hz)
        acc_code, gyro_code = self.core.ranges
        acc_g, gyro = strap.ACC_RANGES_G[acc_code], strap.GYRO_RANGES_DPS[gyro_code]
        s = sim_stream(self.sim, self.role, rate, acc_g, gyro)
        n_sim = len(s.acc_counts)
        per = self.core.samples_per_packet
        period_ns = round(1e9 / rate)
        dev_now = self.device_time(self.now())
        first = getattr(self, "_first_stream", None)
        if first is not None and first[1] == rate:
            # the counter keeps running through a disconnection (the strap keeps sampling)
            j0 = math.ceil((dev_now - first[0]) * rate)
            dev0 = first[0] + j0 / rate
        else:
            # One body wears every strap: the simulated motion starts when the first strap
            # streams (its first sample is the simulator's first), and a strap that starts later
            # waits for the next sample of its own simulated grid, so the straps stay aligned.
            now, t_sim0 = self.now(), float(s.time_s[0])
            motion0 = self.emu.motion_start(now - t_sim0)
            self._sim_offset = max(0, math.ceil((now - motion0 - t_sim0) * rate - 1e-9))
            dev0 = self.device_time(motion0 + t_sim0 + self._sim_offset / rate)
            self._first_stream = (dev0, rate)
            j0 = 0
        self.stats["streams"].append(
            {"first_index": j0, "device_t0_s": dev0, "rate_hz": rate, "per_packet": per,
             "sim_offset": self._sim_offset}
        )  # fmt: skip
        lsb_acc = acc_g * G_MPS2 / 32768.0
        k = 0
        while True:
            j = j0 + k * per
            dev_t = dev0 + (k * per + np.arange(per)) / rate
            tau = self.emu_time(dev_t)
            ready = float(tau[-1]) + 0.0003
            idx = (self._sim_offset + j + np.arange(per)) % n_sim
            acc = s.acc_counts[idx].astype(np.int32)
            jolt = self.tap_jolt_g(tau)
            if jolt.any():
                acc[:, 0] += np.rint(jolt * G_MPS2 / lsb_acc).astype(np.int32)
            acc = np.clip(acc, -32768, 32767)
            gyr = s.gyro_counts[idx]
            t_us = np.round(dev_t * 1e6).astype(np.int64)
            # the board flags a sample whose value sits at the sensor's full scale
            rail = np.hstack([acc, gyr])
            clipped = ((rail >= 32767) | (rail <= -32768)).any(axis=1)
            self.core.push(acc, gyr, t_us, clipped)
            pkt = self.core.take(firmware_core.DATA)
            if pkt is None:
                raise RuntimeError(f"the firmware core packed no packet from {per} samples")
            values = {
                "seq": j, "t_us": int(t_us[0]), "period_ns": period_ns, "acc": acc.tolist(),
                "gyro": np.asarray(gyr).tolist(), "acc_range_g": acc_g, "gyro_range_dps": gyro,
            }  # fmt: skip
            k += 1
            await self.send_data(strap.DATA_UUID, pkt, ready, values)


class WitMotionPeripheral(Peripheral):
    """A WitMotion WT901BLECL-style IMU: streams ``55 61`` packets as soon as subscribed."""

    kind = "witmotion"
    services = (
        (witmotion.SERVICE_UUID, [(witmotion.NOTIFY_UUID, ["notify", "read"]),
                                  (witmotion.WRITE_UUID, ["write-without-response", "write"])]),
    )  # fmt: skip
    CODE_HZ: ClassVar[dict[int, float]] = {
        0x01: 0.2, 0x02: 0.5, 0x03: 1, 0x04: 2, 0x05: 5, 0x06: 10, 0x07: 20, 0x08: 50,
        0x09: 100, 0x0B: 200,
    }  # fmt: skip

    data_uuid = witmotion.NOTIFY_UUID
    overlong_max = 19
    _STARTS = (bytes([0x55, 0x61]), bytes([0x55, 0x71]))

    def bad_header(self, data: bytes) -> bytes:
        out = bytearray(data)
        out[1] = int(self.fault_rng.choice([b for b in range(256) if b not in (0x61, 0x71)]))
        return bytes(out)

    def breaks_rule(self, out: bytes, original: bytes) -> bool:
        # WT901BLECL datasheet §6.1: 20-byte packets starting 55 61 (data) or 55 71 (registers)
        if len(out) % 20 or not out:
            return True
        return any(out[i : i + 2] not in self._STARTS for i in range(0, len(out), 20))

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        super().__init__(emu, cfg)
        self.rate_code = 0x06
        self.unlocked_until = -1.0
        self.uuids = [witmotion.SERVICE_UUID] if cfg.get("advertise_uuid", False) else []
        self.count = 0

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != witmotion.WRITE_UUID:
            return
        self.stats["writes"].append(data.hex())
        if data == witmotion.UNLOCK:
            self.unlocked_until = self.now() + 10.0
        elif len(data) == 5 and data[:2] == b"\xff\xaa":
            reg, lo = data[2], data[3]
            if reg == 0x27:
                if lo == witmotion.REG_RATE:
                    self.notify(witmotion.NOTIFY_UUID,
                                witmotion.encode_register_reply(lo, [self.rate_code]))  # fmt: skip
                elif lo == 0x64:  # the battery register: cell voltage in 10 mV
                    volts = float(self.cfg.get("battery_v", 3.87))
                    reply = witmotion.encode_register_reply(lo, [round(volts * 100)])
                    self.notify(witmotion.NOTIFY_UUID, reply)
            elif (
                reg == witmotion.REG_RATE
                and self.now() < self.unlocked_until
                and lo in self.CODE_HZ
            ):
                self.rate_code = lo
                self._restart()

    def _unlocked(self) -> bool:
        return self.now() < self.unlocked_until

    def notify_changed(self, uuid: str, on: bool) -> None:
        if uuid == witmotion.NOTIFY_UUID and on and self.stream_task is None:
            self.stream_task = asyncio.get_running_loop().create_task(self._stream())

    def _restart(self) -> None:
        if self.stream_task is not None:
            self.stream_task.cancel()
            self.stream_task = asyncio.get_running_loop().create_task(self._stream())

    async def _stream(self) -> None:
        rate = float(self.CODE_HZ[self.rate_code])
        s = sim_stream(self.sim, self.role, max(rate, 25.0), 16.0, 2000.0)
        n_sim = len(s.acc_counts)
        tau0 = self.now()
        k = 0
        while True:
            tau = tau0 + k / (rate * (1.0 + self.drift))
            i = self.count % n_sim
            acc = s.acc_counts[i].astype(np.float64)
            acc[0] += self.tap_jolt_g(np.array([tau]))[0] * 32768 / 16.0  # ±16 g full scale
            acc = np.clip(np.rint(acc), -32768, 32767)
            roll = math.degrees(math.atan2(acc[1], acc[2]))
            pitch = math.degrees(math.atan2(-acc[0], math.hypot(acc[1], acc[2])))
            ang = np.rint(np.array([roll, pitch, 0.0]) / 180.0 * 32768).clip(-32768, 32767)
            pkt = witmotion.encode(acc.astype(np.int16), s.gyro_counts[i], ang)
            values = {
                "index": self.count, "acc": acc.astype(int).tolist(),
                "gyro": np.asarray(s.gyro_counts[i]).astype(int).tolist(),
                "angle": ang.astype(int).tolist(),
            }  # fmt: skip
            self.count += 1
            k += 1
            await self.send_data(witmotion.NOTIFY_UUID, pkt, tau + 0.0003, values)


class MovellaPeripheral(Peripheral):
    """A Movella DOT streaming payload mode 21 ("rate quantities") on the medium payload."""

    kind = "movella"
    services = (
        (movella.CONFIG_SERVICE_UUID, [(movella.DEVICE_INFO_UUID, ["read"]),
                                       (movella.DEVICE_CONTROL_UUID, ["read", "write"])]),
        (movella.MEASUREMENT_SERVICE_UUID, [(movella.CONTROL_UUID, ["read", "write"]),
                                            (movella.MEDIUM_PAYLOAD_UUID, ["notify"])]),
        (movella.BATTERY_SERVICE_UUID, [(movella.BATTERY_UUID, ["read", "notify"])]),
    )  # fmt: skip

    data_uuid = movella.MEDIUM_PAYLOAD_UUID
    battery_uuid = movella.BATTERY_UUID
    overlong_max = 20
    FAR_US = 10_000_000  # a corrupted timestamp is at least this far (µs) from the true one

    def battery_value(self) -> bytes:
        # DOT BLE spec: battery level (%), charging status (0 not charging, 1 charging)
        return bytes([self.battery_pct, int(self.cfg.get("charging", False))])

    def bad_header(self, data: bytes) -> bytes:
        # no header: the timestamp is what ties a payload to the stream
        true = struct.unpack_from("<I", data)[0]
        while True:
            t = int(self.fault_rng.integers(0, 2**32))
            if min((t - true) % 2**32, (true - t) % 2**32) >= self.FAR_US:
                return struct.pack("<I", t) + data[4:]

    def breaks_rule(self, out: bytes, original: bytes) -> bool:
        # one 28-byte payload (40 with the padding) of finite values within twice the full
        # scale, whose timestamp follows the stream
        if len(out) not in (movella.PAYLOAD_SIZE, movella.MEDIUM_SIZE):
            return True
        v = np.frombuffer(out[4:28], dtype="<f4").astype(np.float64)
        with np.errstate(invalid="ignore"):
            if not np.isfinite(v).all() or (np.abs(v[:3]) > 2 * 16 * G_MPS2).any():
                return True
            if (np.abs(v[3:]) > 2 * 2000.0).any():
                return True
        t, true = struct.unpack_from("<I", out)[0], struct.unpack_from("<I", original)[0]
        return min((t - true) % 2**32, (true - t) % 2**32) >= self.FAR_US

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        super().__init__(emu, cfg)
        self.rate = movella.DEFAULT_RATE_HZ
        self.mode = 0
        self.uuids = []
        self.manufacturer = {movella.COMPANY_ID: b"\x01\x02"}

    def read(self, uuid: str) -> bytes:
        if uuid == movella.DEVICE_INFO_UUID:
            return movella.encode_device_info(self.address, (2, 6, 0), 12345678)
        if uuid == movella.DEVICE_CONTROL_UUID:
            out = bytearray(32)
            struct.pack_into("<H", out, 24, self.rate)
            return bytes(out)
        if uuid == movella.CONTROL_UUID:
            return bytes([1, int(self.stream_task is not None), self.mode])
        if uuid == movella.BATTERY_UUID:
            return self.battery_value()
        return b""

    def write(self, uuid: str, data: bytes) -> None:
        self.stats["writes"].append(data.hex())
        if uuid == movella.DEVICE_CONTROL_UUID and len(data) == 32 and data[0] & 0x10:
            r = struct.unpack_from("<H", data, 24)[0]
            if r in movella.STREAM_RATES_HZ and self.stream_task is None:
                self.rate = r
        elif uuid == movella.CONTROL_UUID and len(data) == 3 and data[0] == 1:
            if data[1] == 1 and movella.MEDIUM_PAYLOAD_UUID in self.notifying:
                self.mode = data[2]
                if self.stream_task is None:
                    self.stream_task = asyncio.get_running_loop().create_task(self._stream())
            elif data[1] == 0 and self.stream_task is not None:
                self.stream_task.cancel()
                self.stream_task = None

    async def _stream(self) -> None:
        rate = float(self.rate)
        s = sim_stream(self.sim, self.role, max(rate, 25.0), 16.0, 2000.0)
        n_sim = len(s.acc_counts)
        dev0 = self.device_time(self.now())
        self.stats["streams"].append({"device_t0_s": dev0, "rate_hz": rate})
        k = 0
        while True:
            dev_t = dev0 + k / rate
            tau = self.emu_time(dev_t)
            i = k % n_sim
            acc = s.acc_mps2[i] + np.array([self.tap_jolt_g(np.array([tau]))[0] * G_MPS2, 0, 0])
            t_us = round(dev_t * 1e6) & 0xFFFFFFFF
            pkt = movella.encode(t_us, acc, s.gyro_dps[i])
            values = {  # what the DOT sends: float32
                "t_us": t_us, "acc": np.float32(acc).astype(float).tolist(),
                "gyro": np.float32(s.gyro_dps[i]).astype(float).tolist(),
            }  # fmt: skip
            k += 1
            await self.send_data(movella.MEDIUM_PAYLOAD_UUID, pkt, tau + 0.0003, values)


class PolarPeripheral(Peripheral):
    """A Polar Verity Sense: the PMD control point (features, settings, start/stop, SDK mode) and
    ACC and GYRO frames on the data characteristic, on one IMU sample grid of the sensor's ns
    clock (since 2000). ACC frames are delta-compressed (type 0x81, mG) or, with
    ``compressed: false``, uncompressed int16 mG (0x01); GYRO frames are compressed type 0x80
    (int16 counts × the FACTOR its start answer gives, full scale / 32768). Frames hold
    ``acc_per_frame``/``gyro_per_frame`` samples (so the two streams' frames do not line up),
    deltas cut into blocks of 1–15 samples, each as narrow as its deltas allow; GYRO samples
    may be taken ``gyro_offset_s`` after the ACC ones. ``features`` narrows what the control
    point says is supported (an H10 has no GYRO).
    """

    kind = "polar"
    services = (
        (polar.SERVICE_UUID, [(polar.CONTROL_UUID, ["read", "write", "indicate"]),
                              (polar.DATA_UUID, ["notify"])]),
        ("0000180f-0000-1000-8000-00805f9b34fb", [(strap.BATTERY_LEVEL_UUID, ["read", "notify"])]),
        ("0000180a-0000-1000-8000-00805f9b34fb", [(strap.FIRMWARE_REVISION_UUID, ["read"])]),
    )  # fmt: skip

    data_uuid = polar.DATA_UUID
    battery_uuid = strap.BATTERY_LEVEL_UUID  # the standard Battery Level 0x2A19
    overlong_max = 12
    FAR_NS = 10_000_000_000  # a garbled timestamp is at least this far (ns) from the true one
    SDK_RANGES: ClassVar = {polar.ACC: (2, 4, 8, 16), polar.GYRO: (250, 500, 1000, 2000)}
    NORMAL_RANGES: ClassVar = {polar.ACC: (8,), polar.GYRO: (2000,)}
    # the frame types Polar's SDK parses (uncompressed ACC types 0–2: int8, int16, int24)
    FRAME_TYPES: ClassVar = {polar.ACC: (0x00, 0x01, 0x02, 0x80, 0x81), polar.GYRO: (0x80, 0x81)}

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        super().__init__(emu, cfg)
        if "clock_offset_s" not in cfg:  # the sensor's clock: seconds since 2000 (≈ 2025)
            self.clock_offset_s = 7.9e8 + float(self.rng.uniform(0, 1e6))
        names = cfg.get("features", ["ACC", "GYRO", "MAG", "PPG", "PPI", "SDK mode"])
        self.features = {t for t, n in polar.TYPE_NAMES.items() if n in names}
        self.sdk = False
        self.compressed = bool(cfg.get("compressed", True))
        self.per_frame = {polar.ACC: int(cfg.get("acc_per_frame", 36)),
                          polar.GYRO: int(cfg.get("gyro_per_frame", 24))}  # fmt: skip
        self.gyro_offset_s = float(cfg.get("gyro_offset_s", 0.0))
        self.settings: dict[int, tuple[int, int]] = {}  # streaming type → (rate Hz, range)
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._grid: tuple[float, int, int] | None = None  # sensor time of sample 0, rate, sim
        self.uuids = []
        self.manufacturer = {polar.COMPANY_ID: b"\x33\x1e"}

    # -- control point --------------------------------------------------------------------------

    def read(self, uuid: str) -> bytes:
        if uuid == polar.CONTROL_UUID:
            return polar.encode_features(self.features)
        if uuid == strap.BATTERY_LEVEL_UUID:
            return self.battery_value()
        if uuid == strap.FIRMWARE_REVISION_UUID:
            return b"2.1.0"
        return b""

    def offered(self, mtype: int, sdk: bool) -> dict[int, tuple[int, ...]]:
        rates = polar.SDK_RATES_HZ if sdk else polar.NORMAL_RATES_HZ
        ranges = (self.SDK_RANGES if sdk else self.NORMAL_RANGES)[mtype]
        return {polar.SAMPLE_RATE: rates, polar.RESOLUTION: (16,), polar.RANGE: ranges,
                polar.CHANNELS: (3,)}  # fmt: skip

    def factor(self, mtype: int, range_: int) -> float | None:
        """GYRO counts → deg/s (full scale over 32768); ACC is sent in mG (no factor)."""
        return range_ / 32768.0 if mtype == polar.GYRO else None

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != polar.CONTROL_UUID or len(data) < 2:
            return
        self.stats["writes"].append(data.hex())
        op, mtype = data[0], data[1]
        status, params = polar.SUCCESS, b""
        if mtype not in self.features:
            status = 2 if mtype not in polar.TYPE_NAMES else 3  # invalid type, not supported
        elif op in (polar.OP_GET_SETTINGS, polar.OP_GET_SDK_SETTINGS):
            if mtype in (polar.ACC, polar.GYRO):
                sdk = self.sdk or op == polar.OP_GET_SDK_SETTINGS
                params = polar.encode_settings(self.offered(mtype, sdk))
        elif op == polar.OP_START and mtype == polar.SDK_MODE:
            if self.sdk:
                status = polar.ALREADY_IN_STATE
            else:  # entering SDK mode closes every stream
                self.sdk = True
                self.stop_all()
        elif op == polar.OP_STOP and mtype == polar.SDK_MODE:
            if not self.sdk:
                status = polar.ALREADY_IN_STATE
            else:
                self.sdk = False
                self.stop_all()
        elif op == polar.OP_START and mtype in (polar.ACC, polar.GYRO):
            status, params = self.start(mtype, polar.parse_settings(data[2:]))
        elif op == polar.OP_STOP and mtype in (polar.ACC, polar.GYRO):
            task = self.tasks.pop(mtype, None)
            self.settings.pop(mtype, None)
            if task is None:
                status = polar.ALREADY_IN_STATE
            else:
                task.cancel()
        else:
            status = 1  # invalid op code
        self.notify(polar.CONTROL_UUID, polar.encode_response(op, mtype, status, params))

    def start(self, mtype: int, got: dict[int, tuple[float, ...]] | None) -> tuple[int, bytes]:
        """Start a stream with the settings asked for: (status, answer parameters)."""
        if mtype in self.tasks:
            return polar.ALREADY_IN_STATE, b""
        offer = self.offered(mtype, self.sdk)
        if got is None:
            return 5, b""  # invalid parameter
        rate = int(got.get(polar.SAMPLE_RATE, (0,))[0])
        range_ = int(got.get(polar.RANGE, (0,))[0])
        if rate not in offer[polar.SAMPLE_RATE]:
            return 8, b""  # invalid sample rate
        if got.get(polar.RESOLUTION, (16,))[0] != 16:
            return 7, b""
        if range_ not in offer[polar.RANGE]:
            return 9, b""
        self.settings[mtype] = (rate, range_)
        self.tasks[mtype] = asyncio.get_running_loop().create_task(self._stream(mtype))
        f = self.factor(mtype, range_)
        return polar.SUCCESS, (polar.encode_settings({polar.FACTOR: f}) if f else b"")

    def stop_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()
        self.settings.clear()

    def on_disconnect(self) -> None:
        super().on_disconnect()
        self.stop_all()  # streams end with the connection; SDK mode stays on

    # -- streaming ------------------------------------------------------------------------------

    def grid(self, rate: int) -> tuple[float, int, int]:
        """(sensor time of IMU sample 0, rate, simulator sample played as sample 0): one grid
        for both streams, kept while the rate stays, so the motion goes on across reconnections.
        """
        if self._grid is None or self._grid[1] != rate:
            s = sim_stream(self.sim, self.role, rate, 16.0, 2000.0)
            now, t_sim0 = self.now(), float(s.time_s[0])
            motion0 = self.emu.motion_start(now - t_sim0)
            offset = max(0, math.ceil((now - motion0 - t_sim0) * rate - 1e-9))
            dev0 = self.device_time(motion0 + t_sim0 + offset / rate)
            self._grid = (dev0, rate, offset)
            self.stats["streams"].append(
                {"first_index": 0, "device_t0_s": dev0, "rate_hz": rate, "sim_offset": offset}
            )
        return self._grid

    async def _stream(self, mtype: int) -> None:
        rate, range_ = self.settings[mtype]
        dev0, _, sim_offset = self.grid(rate)
        s = sim_stream(self.sim, self.role, rate, 16.0, 2000.0)
        n_sim = len(s.acc_mps2)
        per = self.per_frame[mtype]
        shift = self.gyro_offset_s if mtype == polar.GYRO else 0.0
        factor = self.factor(mtype, range_)
        k = max(0, math.ceil((self.device_time(self.now()) - dev0) * rate))
        while True:
            ks = k + np.arange(per)
            dev_t = dev0 + ks / rate + shift
            tau = self.emu_time(dev_t)
            wait = float(tau[-1]) - self.now()
            if wait > 0:  # the frame is filled as its samples are taken: a tap meanwhile shows
                await asyncio.sleep(wait)
            idx = (sim_offset + ks) % n_sim
            if mtype == polar.ACC:
                mg = s.acc_mps2[idx] / G_MPS2 * 1000.0
                mg[:, 0] += self.tap_jolt_g(tau) * 1000.0
                counts = np.clip(np.rint(mg), -1000 * range_, 1000 * range_).astype(np.int64)
            else:
                counts = np.clip(np.rint(s.gyro_dps[idx] / factor), -32768, 32767).astype(np.int64)
            t_ns = round(float(dev_t[-1]) * 1e9)
            if mtype == polar.ACC and not self.compressed:
                pkt = polar.encode_raw(mtype, t_ns, counts, frame_type=1)
            else:
                sizes = self.block_sizes(per - 1)
                ftype = 1 if mtype == polar.ACC else 0
                pkt = polar.encode_delta(mtype, t_ns, counts, sizes, frame_type=ftype)
            values = {"mtype": mtype, "t_ns": t_ns, "k": int(ks[0]), "counts": counts.tolist(),
                      "factor": factor, "range": range_}  # fmt: skip
            k += per
            await self.send_data(polar.DATA_UUID, pkt, float(tau[-1]) + 0.0003, values)

    def block_sizes(self, n: int) -> list[int]:
        """Delta blocks of 1–15 samples adding up to ``n``."""
        sizes = []
        while n > 0:
            sizes.append(min(n, int(self.rng.integers(1, 16))))
            n -= sizes[-1]
        return sizes

    # -- faults ---------------------------------------------------------------------------------

    def bad_header(self, data: bytes) -> bytes:
        out = bytearray(data)
        if self.fault_rng.random() < 0.5:  # a measurement type that is neither ACC nor GYRO
            out[0] = int(self.fault_rng.choice([b for b in range(256) if b not in (2, 5)]))
        else:  # a frame type not decoded
            types = self.FRAME_TYPES[data[0]]
            out[9] = int(self.fault_rng.choice([b for b in range(256) if b not in types]))
        return bytes(out)

    def breaks_rule(self, out: bytes, original: bytes) -> bool:
        # PMD spec: type ACC or GYRO, a frame type the SDK decodes, whole samples or exactly a
        # reference sample and whole delta blocks (1–255 samples, ≤ 32 bits), values within twice
        # the stream's full scale, and a timestamp that follows the stream
        if len(out) < 11 or out[0] not in (2, 5) or out[9] not in self.FRAME_TYPES[out[0]]:
            return True
        mtype, ftype, content = out[0], out[9], out[10:]
        # compressed: 16-bit integers (GYRO type 1: float32); uncompressed types 0–2: 8–24 bits
        compressed_bits = 32 if (mtype, ftype) == (5, 0x81) else 16
        bits = compressed_bits if ftype & 0x80 else (8, 16, 24)[ftype]
        nbytes = bits // 8
        if ftype & 0x80:
            samples = self._plain_delta_decode(content, nbytes)
            if samples is None:
                return True
        else:
            if len(content) % (3 * nbytes):
                return True
            samples = [[int.from_bytes(content[i + c * nbytes : i + (c + 1) * nbytes], "little",
                                       signed=True) for c in range(3)]
                       for i in range(0, len(content), 3 * nbytes)]  # fmt: skip
        rate_range = self.settings.get(mtype) or (0, 16 if mtype == 2 else 2000)
        limit = 2 * rate_range[1] * (1000 if mtype == 2 else 1)
        factor = self.factor(mtype, rate_range[1]) or 1.0
        for sample in samples:
            for v in sample:
                if (mtype, ftype) == (5, 0x81):
                    v = struct.unpack("<f", struct.pack("<I", v & 0xFFFFFFFF))[0]
                scaled = v * (factor if ftype & 0x80 else 1.0) * (1000 if ftype == 0x80 and
                                                                   mtype == 2 else 1)  # fmt: skip
                if not math.isfinite(scaled) or abs(scaled) > limit:
                    return True
        t, true = int.from_bytes(out[1:9], "little"), int.from_bytes(original[1:9], "little")
        return abs(t - true) >= self.FAR_NS

    @staticmethod
    def _plain_delta_decode(content: bytes, nbytes: int) -> list[list[int]] | None:
        """Reference sample and delta blocks, one bit at a time (None if not exactly that)."""
        if len(content) < 3 * nbytes:
            return None
        bits = 8 * nbytes
        ref = [int.from_bytes(content[c * nbytes : (c + 1) * nbytes], "little", signed=bits < 32)
               for c in range(3)]  # fmt: skip
        samples, pos = [ref], 3 * nbytes
        while pos < len(content):
            if pos + 2 > len(content):
                return None
            width, count = content[pos], content[pos + 1]
            size = (width * count * 3 + 7) // 8
            if width > 32 or count == 0 or pos + 2 + size > len(content):
                return None
            stream = content[pos + 2 : pos + 2 + size]
            bit = 0
            for _ in range(count):
                sample = []
                for c in range(3):
                    v = 0
                    for i in range(width):
                        v |= ((stream[(bit + i) // 8] >> ((bit + i) % 8)) & 1) << i
                    if width and v >= 1 << (width - 1):
                        v -= 1 << width
                    bit += width
                    sample.append(samples[-1][c] + v)
                samples.append(sample)
            pos += 2 + size
        return samples


class OtherPeripheral(Peripheral):
    """Some other BLE device (a heart-rate band): not a sensor flossmeter supports."""

    kind = "other"
    services = (("0000180d-0000-1000-8000-00805f9b34fb",
                 [("00002a37-0000-1000-8000-00805f9b34fb", ["notify"])]),)  # fmt: skip

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        super().__init__(emu, cfg)
        self.uuids = ["0000180d-0000-1000-8000-00805f9b34fb"]


KINDS = {
    c.kind: c
    for c in (
        StrapPeripheral, WitMotionPeripheral, MovellaPeripheral, PolarPeripheral, OtherPeripheral,
    )
}  # fmt: skip


@dataclass
class Emulator:
    """The ``org.bluez`` service: object tree, method handlers, signals, the control API."""

    bus: MessageBus
    config: dict[str, Any]
    t_boot: float = field(default_factory=time.monotonic)
    objects: dict[str, dict[str, dict[str, Variant]]] = field(default_factory=dict)
    devices: dict[str, Peripheral] = field(default_factory=dict)  # path → peripheral
    discovering: bool = False
    char_owner: dict[str, tuple[Peripheral, str]] = field(default_factory=dict)
    motion_t0: float | None = None  # emulator time at which the simulated person starts moving

    def motion_start(self, t: float) -> float:
        """When the simulated motion started (s of emulator time): the first call's ``t``."""
        if self.motion_t0 is None:
            self.motion_t0 = t
        return self.motion_t0

    def setup(self) -> None:
        if self.config.get("adapter", True):
            self.objects[ADAPTER] = {
                "org.bluez.Adapter1": {
                    "Address": Variant("s", "00:1A:7D:DA:71:13"),
                    "Name": Variant("s", "emulated"),
                    "Alias": Variant("s", "emulated"),
                    "Powered": Variant("b", self.config.get("powered", True)),
                    "Discovering": Variant("b", False),
                    "Roles": Variant("as", ["central", "peripheral"]),
                }
            }
        for cfg in self.config.get("devices", []):
            dev = KINDS[cfg["kind"]](self, cfg)
            self.devices[dev.path] = dev
            if self.config.get("known", True) and ADAPTER in self.objects:
                self.objects[dev.path] = {DEVICE: self._device_props(dev)}
        self.bus.add_message_handler(self.handle)
        asyncio.get_running_loop().create_task(self._advertise())

    # -- helpers ------------------------------------------------------------------------------

    def _device_props(self, dev: Peripheral) -> dict[str, Variant]:
        props = {
            "Address": Variant("s", dev.address),
            "AddressType": Variant("s", "random"),
            "Name": Variant("s", dev.name),
            "Alias": Variant("s", dev.name or dev.address.replace(":", "-")),
            "Adapter": Variant("o", ADAPTER),
            "Connected": Variant("b", False),
            "ServicesResolved": Variant("b", False),
            "Paired": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "UUIDs": Variant("as", list(getattr(dev, "uuids", []))),
            "RSSI": Variant("n", int(dev.cfg.get("rssi", -60))),
        }
        if not dev.name:
            del props["Name"]
        manuf = getattr(dev, "manufacturer", None)
        if manuf:
            props["ManufacturerData"] = Variant(
                "a{qv}", {k: Variant("ay", v) for k, v in manuf.items()}
            )
        return props

    def signal(self, path: str, iface: str, member: str, sig: str, body: list[Any]) -> None:
        self.bus.send(Message.new_signal(path, iface, member, sig, body))

    def set_props(self, path: str, iface: str, changed: dict[str, Variant]) -> None:
        self.objects.setdefault(path, {}).setdefault(iface, {}).update(changed)
        self.signal(path, PROPS, "PropertiesChanged", "sa{sv}as", [iface, changed, []])

    def send_value(self, char_path: str, data: bytes) -> None:
        """A notification: ``PropertiesChanged(Value)`` on the characteristic."""
        self.signal(
            char_path, PROPS, "PropertiesChanged", "sa{sv}as",
            [CHAR, {"Value": Variant("ay", data)}, []],
        )  # fmt: skip

    def add_device_object(self, dev: Peripheral) -> None:
        if dev.path not in self.objects:
            props = self._device_props(dev)
            self.objects[dev.path] = {DEVICE: props}
            self.signal("/", OM, "InterfacesAdded", "oa{sa{sv}}", [dev.path, {DEVICE: props}])

    async def _advertise(self) -> None:
        """While discovering, each advertising device reports RSSI about every 100 ms (a
        connected one too if it keeps advertising: ``rssi_while_connected``)."""
        while True:
            await asyncio.sleep(0.1)
            if not self.discovering:
                continue
            now = time.monotonic() - self.t_boot
            for dev in self.devices.values():
                if dev.connected and dev.cfg.get("rssi_while_connected"):
                    # a sensor that keeps advertising while connected: BlueZ reports its RSSI
                    self.set_props(dev.path, DEVICE, {"RSSI": Variant("n", self.rssi_of(dev))})
                    continue
                if dev.connected or not dev.advertising or now < dev.away_until:
                    continue
                if dev.path not in self.objects:
                    self.add_device_object(dev)
                    continue
                self.set_props(dev.path, DEVICE, {"RSSI": Variant("n", self.rssi_of(dev))})

    @staticmethod
    def rssi_of(dev: Peripheral) -> int:
        """The device's RSSI now (dBm): its ``rssi`` (SetRssi changes it) ± 3 dB."""
        return int(dev.cfg.get("rssi", -60)) + int(dev.rng.integers(-3, 4))

    # -- connection life cycle ----------------------------------------------------------------

    def _gatt_objects(self, dev: Peripheral) -> dict[str, dict[str, dict[str, Variant]]]:
        objs: dict[str, dict[str, dict[str, Variant]]] = {}
        handle = 0x0010
        for suuid, chars in dev.services:
            spath = f"{dev.path}/service{handle:04x}"
            objs[spath] = {
                SERVICE: {
                    "UUID": Variant("s", suuid),
                    "Device": Variant("o", dev.path),
                    "Primary": Variant("b", True),
                }
            }
            handle += 1
            for cuuid, flags in chars:
                cpath = f"{spath}/char{handle:04x}"
                objs[cpath] = {
                    CHAR: {
                        "UUID": Variant("s", cuuid),
                        "Service": Variant("o", spath),
                        "Value": Variant("ay", b""),
                        "Notifying": Variant("b", False),
                        "Flags": Variant("as", flags),
                        "MTU": Variant("q", 247),
                    }
                }
                dev.chars[cuuid] = cpath
                self.char_owner[cpath] = (dev, cuuid)
                handle += 2
            handle = (handle + 0x10) & ~0x0F
        return objs

    async def connect(self, msg: Message, dev: Peripheral) -> None:
        if dev.faults.connect_delay_s:
            await asyncio.sleep(dev.faults.connect_delay_s)
        now = time.monotonic() - self.t_boot
        if now < dev.away_until or not dev.advertising:
            await asyncio.sleep(0.2)
            self.bus.send(Message.new_error(msg, ERR_FAILED, "le-connection-timeout"))
            return
        if not dev.connected:
            dev.connected = True
            dev.stats["connects"] += 1
            dev.on_connect()
            self.set_props(dev.path, DEVICE, {"Connected": Variant("b", True)})
            for path, ifaces in self._gatt_objects(dev).items():
                self.objects[path] = ifaces
                self.signal("/", OM, "InterfacesAdded", "oa{sa{sv}}", [path, ifaces])
            self.set_props(dev.path, DEVICE, {"ServicesResolved": Variant("b", True)})
        self.bus.send(Message.new_method_return(msg))

    def disconnect(self, dev: Peripheral, away_s: float = 0.0) -> None:
        """Drop the link (remote drop or host request); away: not advertising for a while."""
        if away_s:
            dev.away_until = time.monotonic() - self.t_boot + away_s
        if not dev.connected:
            return
        dev.connected = False
        dev.stats["disconnects"] += 1
        dev.on_disconnect()
        self.set_props(dev.path, DEVICE, {"ServicesResolved": Variant("b", False)})
        self.set_props(dev.path, DEVICE, {"Connected": Variant("b", False)})
        gatt = sorted((p for p in self.objects if p.startswith(dev.path + "/")), reverse=True)
        for path in gatt:
            ifaces = list(self.objects.pop(path))
            self.char_owner.pop(path, None)
            self.signal("/", OM, "InterfacesRemoved", "oas", [path, ifaces])
        dev.chars.clear()

    # -- D-Bus dispatch -----------------------------------------------------------------------

    def handle(self, msg: Message) -> Message | bool | None:
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        path, iface, member = msg.path or "", msg.interface, msg.member
        try:
            if iface == OM and member == "GetManagedObjects":
                return Message.new_method_return(msg, "a{oa{sa{sv}}}", [self.objects])
            if iface == PROPS:
                return self._props(msg)
            if iface == "org.bluez.Adapter1" and path == ADAPTER:
                if member in ("SetDiscoveryFilter", "RemoveDevice"):
                    return Message.new_method_return(msg)
                if member in ("StartDiscovery", "StopDiscovery"):
                    self.discovering = member == "StartDiscovery"
                    self.set_props(ADAPTER, "org.bluez.Adapter1",
                                   {"Discovering": Variant("b", self.discovering)})  # fmt: skip
                    return Message.new_method_return(msg)
            if iface == DEVICE and path in self.devices:
                dev = self.devices[path]
                if member == "Connect":
                    asyncio.get_running_loop().create_task(self.connect(msg, dev))
                    return True
                if member == "Disconnect":
                    self.disconnect(dev)
                    return Message.new_method_return(msg)
            if iface == CHAR and path in self.char_owner:
                return self._char(msg, *self.char_owner[path])
            if iface == CONTROL_IFACE and path == CONTROL_PATH:
                return self._control(msg)
        except Exception as e:  # an emulator bug must show up in the test, not hang it
            return Message.new_error(msg, ERR_FAILED, f"emulator: {e!r}")
        if path in self.objects or path in self.devices or path == CONTROL_PATH:
            return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", member)
        return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownObject", path)

    def _props(self, msg: Message) -> Message:
        if msg.member == "GetAll":
            return Message.new_method_return(
                msg, "a{sv}", [self.objects.get(msg.path or "", {}).get(msg.body[0], {})]
            )
        if msg.member == "Get":
            v = self.objects.get(msg.path or "", {}).get(msg.body[0], {}).get(msg.body[1])
            if v is None:
                return Message.new_error(msg, "org.freedesktop.DBus.Error.InvalidArgs", "no")
            return Message.new_method_return(msg, "v", [v])
        return Message.new_method_return(msg)

    def _char(self, msg: Message, dev: Peripheral, uuid: str) -> Message:
        if not dev.connected:
            return Message.new_error(msg, ERR_FAILED, "Not connected")
        if msg.member == "ReadValue":
            return Message.new_method_return(msg, "ay", [dev.read(uuid)])
        if msg.member == "WriteValue":
            dev.write(uuid, bytes(msg.body[0]))
            return Message.new_method_return(msg)
        if msg.member in ("StartNotify", "StopNotify"):
            on = msg.member == "StartNotify"
            if on and uuid == dev.data_uuid:
                dev.subscriptions += 1
            (dev.notifying.add if on else dev.notifying.discard)(uuid)
            self.set_props(msg.path or "", CHAR, {"Notifying": Variant("b", on)})
            dev.notify_changed(uuid, on)
            return Message.new_method_return(msg)
        return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", msg.member)

    def _by_address(self, address: str) -> Peripheral:
        for dev in self.devices.values():
            if dev.address == address.upper():
                return dev
        raise KeyError(address)

    def _control(self, msg: Message) -> Message:
        m, body = msg.member, msg.body
        if m == "Drop":
            self.disconnect(self._by_address(body[0]), float(body[1]))
        elif m == "SetFaults":
            dev = self._by_address(body[0])
            for k, v in json.loads(body[1]).items():
                setattr(dev.faults, k, v)
        elif m == "SetAdvertising":
            self._by_address(body[0]).advertising = bool(body[1])
        elif m == "Tap":
            self._by_address(body[0]).tap()
        elif m == "SetBattery":
            self._by_address(body[0]).set_battery(int(body[1]))
        elif m == "SetRssi":
            self._by_address(body[0]).cfg["rssi"] = int(body[1])
        elif m == "Stats":
            out = {
                "t_boot": self.t_boot,
                "devices": {
                    d.address: {
                        **d.stats, "drift_ppm": d.drift * 1e6, "clock_offset_s": d.clock_offset_s,
                        "connected": d.connected, "ci_s": d.link.interval_s,
                    }
                    for d in self.devices.values()
                },
            }  # fmt: skip
            return Message.new_method_return(msg, "s", [json.dumps(out)])
        elif m == "Sent":
            out = self._by_address(body[0]).sent
            return Message.new_method_return(msg, "s", [json.dumps(out)])
        elif m == "Quit":
            asyncio.get_running_loop().call_later(0.05, sys.exit, 0)
        else:
            return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", m)
        return Message.new_method_return(msg)


async def serve(address: str, config: dict[str, Any]) -> None:
    """Connect to the bus at ``address``, own ``org.bluez`` and serve until killed."""
    bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
    emu = Emulator(bus, config)
    emu.setup()
    reply = await bus.request_name("org.bluez")
    print(f"READY {reply}", flush=True)
    await bus.wait_for_disconnect()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bus", required=True, help="D-Bus address of the private bus")
    ap.add_argument("--config", required=True, help="JSON file: adapter, devices")
    args = ap.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.bus, config))


if __name__ == "__main__":
    main()
