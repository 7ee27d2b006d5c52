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
from collector.protocols import movella, strap, witmotion
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
        self.core.set_battery_mv(int(cfg.get("battery_mv", 3985)))
        self.stats["core"] = self.core.stats()  # refreshed on every control write (pings: 20/s)

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
    overlong_max = 20
    FAR_US = 10_000_000  # a corrupted timestamp is at least this far (µs) from the true one

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
            return bytes([64, 0])
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


class OtherPeripheral(Peripheral):
    """Some other BLE device (a heart-rate band): not a sensor flossmeter supports."""

    kind = "other"
    services = (("0000180d-0000-1000-8000-00805f9b34fb",
                 [("00002a37-0000-1000-8000-00805f9b34fb", ["notify"])]),)  # fmt: skip

    def __init__(self, emu: Emulator, cfg: dict[str, Any]) -> None:
        super().__init__(emu, cfg)
        self.uuids = ["0000180d-0000-1000-8000-00805f9b34fb"]


KINDS = {
    c.kind: c for c in (StrapPeripheral, WitMotionPeripheral, MovellaPeripheral, OtherPeripheral)
}


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
        """While discovering, each advertising device reports RSSI about every 100 ms."""
        while True:
            await asyncio.sleep(0.1)
            if not self.discovering:
                continue
            now = time.monotonic() - self.t_boot
            for dev in self.devices.values():
                if dev.connected or not dev.advertising or now < dev.away_until:
                    continue
                if dev.path not in self.objects:
                    self.add_device_object(dev)
                    continue
                rssi = int(dev.cfg.get("rssi", -60)) + int(dev.rng.integers(-3, 4))
                self.set_props(dev.path, DEVICE, {"RSSI": Variant("n", rssi)})

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
