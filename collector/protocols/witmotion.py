"""WitMotion BLE 5.0 IMUs (WT901BLECL family): ``55 61`` packets, rate commands, recognition.

Each 20-byte packet is ``0x55 0x61`` followed by nine int16 LE: acceleration x, y, z
(count/32768·16 g), angular rate x, y, z (count/32768·2000 °/s) and angle x, y, z
(count/32768·180°). There is no timestamp and no sequence number: the collector times the
samples from their arrival (``collector.clock.ArrivalClock``). A notification is the unit: the
sensor sends at most 20 bytes per notification, one packet (a notification of whole packets back
to back is accepted too); a notification that is not whole ``55 61``/``55 71`` packets is
rejected whole, never joined with the next one. Register reads (``FF AA 27 reg 00``) are answered
by ``0x55 0x71`` packets on the same characteristic.
Sources: WitMotion's BLE 5.0 protocol, the WT901BLECL datasheet (§6.1: "Bluetooth uploads up to
20 bytes per data") and its Python SDK (``WITMOTION/WitBluetooth_BWT901BLE5_0``, whose byte-stream
parser is its serial-port code reused); see ``docs/ble.md`` for what could not be confirmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from collector.constants import G_MPS2
from collector.protocols.common import Advertisement, Decoded

KIND = "witmotion"
RAW_FORMAT = "witmotion-0x61/1"
# WitMotion's base ends 805f9a34fb, not the Bluetooth base 805f9b34fb: not a typo.
SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
PACKET_SIZE = 20
HEADER = 0x55
FLAG_DATA = 0x61
FLAG_REGISTER = 0x71
ACC_RANGE_G = 16.0
GYRO_RANGE_DPS = 2000.0
ANGLE_RANGE_DEG = 180.0
DEFAULT_RATE_HZ = 10.0

UNLOCK = bytes.fromhex("FFAA6988B5")
SAVE = bytes.fromhex("FFAA000000")
REG_RATE = 0x03
#: Return-rate codes for register 0x03 that the vendor documents consistently.
RATE_CODES: dict[int, int] = {10: 0x06, 20: 0x07, 50: 0x08, 100: 0x09}
#: 200 Hz: the WT901 datasheets say 0x0B, the BLE 5.0 (WTVB01-BT50) manual says 0x0A. Both are
#: tried, in this order, and the rate is verified by counting packets.
RATE_200HZ_CANDIDATES = (0x0B, 0x0A)
_NAME = re.compile(r"^B?WT\d", re.IGNORECASE)


def write_register(reg: int, value: int) -> bytes:
    """``FF AA reg lo hi``: write a 16-bit register (takes effect only after :data:`UNLOCK`)."""
    return bytes([0xFF, 0xAA, reg & 0xFF, value & 0xFF, (value >> 8) & 0xFF])


def read_register(reg: int) -> bytes:
    """``FF AA 27 reg 00``: ask for registers ``reg``…``reg+7`` (answered by a 0x71 packet)."""
    return bytes([0xFF, 0xAA, 0x27, reg & 0xFF, 0x00])


def rate_codes(rate_hz: float) -> list[int]:
    """Register 0x03 codes to try for ``rate_hz`` (ValueError if the device has no such rate)."""
    r = round(rate_hz)
    if r == 200 and r == rate_hz:
        return list(RATE_200HZ_CANDIDATES)
    if r in RATE_CODES and r == rate_hz:
        return [RATE_CODES[r]]
    raise ValueError(f"WitMotion rate must be one of {[*RATE_CODES, 200]} Hz, got {rate_hz:g}")


def configure_commands(rate_code: int) -> list[bytes]:
    """Unlock, set the return rate, save: the writes that configure the output rate."""
    return [UNLOCK, write_register(REG_RATE, rate_code), SAVE]


@dataclass
class Frames:
    """One notification cut into packets: data rows (K×20 uint8) and register replies, or the
    reason it is not a notification the sensor sends (``bad``; then there is nothing else)."""

    data: np.ndarray
    registers: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    bad: str = ""


_NO_ROWS = np.zeros((0, PACKET_SIZE), dtype=np.uint8)


def parse_notification(data: bytes) -> Frames:
    """Cut one notification into its 20-byte packets, or reject it whole.

    The sensor sends at most 20 bytes per notification (its datasheet: "Bluetooth uploads up to
    20 bytes per data"), i.e. one packet; whole packets back to back are accepted too. A
    notification whose length is not a multiple of 20, or any of whose packets does not start
    ``55 61`` (data) or ``55 71`` (register reply), is rejected whole (``bad`` says why) and is
    never joined with the next one: with no checksum, bytes of two notifications cannot be
    told apart from a sample the sensor never took.
    """
    n = len(data)
    if n == 0 or n % PACKET_SIZE:
        return Frames(_NO_ROWS, bad=f"length {n} is not a whole number of 20-byte packets")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET_SIZE)
    is_data = (rows[:, 0] == HEADER) & (rows[:, 1] == FLAG_DATA)
    if is_data.all():  # the usual case
        return Frames(rows)
    is_reg = (rows[:, 0] == HEADER) & (rows[:, 1] == FLAG_REGISTER)
    wrong = np.flatnonzero(~(is_data | is_reg))
    if len(wrong):
        k = int(wrong[0])
        return Frames(
            _NO_ROWS,
            bad=f"packet {k} starts {rows[k, 0]:02x} {rows[k, 1]:02x}, not 55 61 or 55 71",
        )
    regs = []
    for r in rows[is_reg]:
        words = r[2:].view("<i2")
        regs.append((int(r[2]) | int(r[3]) << 8, tuple(int(w) for w in words[1:])))
    return Frames(rows[is_data], regs)


def decode_rows(rows: np.ndarray) -> Decoded:
    """Decode K×20 ``55 61`` packets: m/s² and deg/s (no device time: NaN; no counter: -1)."""
    words = np.ascontiguousarray(rows[:, 2:]).view("<i2").astype(np.float64)
    k = len(words)
    return Decoded(
        acc_mps2=words[:, 0:3] * (ACC_RANGE_G * G_MPS2 / 32768.0),
        gyro_dps=words[:, 3:6] * (GYRO_RANGE_DPS / 32768.0),
        device_time_s=np.full(k, np.nan),
        sample_index=np.full(k, -1, dtype=np.int64),
        packet_n=np.ones(k, dtype=np.int64),
    )


def decode_angles_deg(rows: np.ndarray) -> np.ndarray:
    """The sensor's own Euler angles (x, y, z) of K×20 ``55 61`` packets, degrees."""
    words = np.ascontiguousarray(rows[:, 2:]).view("<i2").astype(np.float64)
    return words[:, 6:9] * (ANGLE_RANGE_DEG / 32768.0)


def decode(packets: list[bytes]) -> Decoded:
    """Decode notifications, each on its own (:func:`parse_notification`): register replies are
    skipped, a malformed notification is left out whole and listed in ``Decoded.bad``.
    ``packet_n`` holds the data samples of each well-formed notification (0 for a reply)."""
    bad: list[tuple[int, str]] = []
    rows: list[np.ndarray] = []
    counts: list[int] = []
    for i, p in enumerate(packets):
        f = parse_notification(p)
        if f.bad:
            bad.append((i, f.bad))
            continue
        rows.append(f.data)
        counts.append(len(f.data))
    if not rows:
        return Decoded.empty(bad)
    dec = decode_rows(np.vstack(rows))
    return Decoded(
        dec.acc_mps2, dec.gyro_dps, dec.device_time_s, dec.sample_index,
        np.asarray(counts, dtype=np.int64), bad,
    )  # fmt: skip


def encode(acc_counts: np.ndarray, gyro_counts: np.ndarray, angle_counts: np.ndarray) -> bytes:
    """K ``55 61`` packets from int16 counts (K×3 each): what the sensor sends."""
    words = np.hstack(
        [np.asarray(x, dtype="<i2").reshape(-1, 3) for x in (acc_counts, gyro_counts, angle_counts)]
    )
    head = np.tile(np.array([HEADER, FLAG_DATA], dtype=np.uint8), (len(words), 1))
    return np.hstack([head, words.astype("<i2").view(np.uint8)]).tobytes()


def encode_register_reply(reg: int, values: list[int]) -> bytes:
    """The ``55 71`` packet answering a read of ``reg`` (8 registers, zero-filled)."""
    words = (list(values) + [0] * 8)[:8]
    return (
        bytes([HEADER, FLAG_REGISTER, reg & 0xFF, reg >> 8])
        + np.asarray(words, dtype="<i2").tobytes()
    )


def recognise(adv: Advertisement) -> bool:
    """Whether an advertisement looks like a WitMotion BLE 5.0 IMU (service UUID or name)."""
    uuids = {u.lower() for u in adv.service_uuids}
    return SERVICE_UUID in uuids or bool(_NAME.match(adv.name))
