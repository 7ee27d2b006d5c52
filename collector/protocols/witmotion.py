"""WitMotion BLE 5.0 IMUs (WT901BLECL family): ``55 61`` packets, rate commands, recognition.

Each 20-byte packet is ``0x55 0x61`` followed by nine int16 LE: acceleration x, y, z
(count/32768·16 g), angular rate x, y, z (count/32768·2000 °/s) and angle x, y, z
(count/32768·180°). There is no timestamp and no sequence number: the collector times the
samples from their arrival (``collector.clock.ArrivalClock``). A notification may hold several
packets or part of one, so decoding works on a byte stream and hands back what it could not use.
Register reads (``FF AA 27 reg 00``) are answered by ``0x55 0x71`` packets in the same stream.
Sources: WitMotion's BLE 5.0 protocol and its Python SDK (``WITMOTION/WitBluetooth_BWT901BLE5_0``);
see ``docs/ble.md`` for what could not be confirmed.
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
    """A byte stream cut into packets: data rows (K×20 uint8), register replies, junk, rest."""

    data: np.ndarray
    registers: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    junk_bytes: int = 0
    rest: bytes = b""


def split_frames(buf: bytes) -> Frames:
    """Cut a byte stream into 20-byte packets, skipping bytes that start none.

    An incomplete packet at the end is returned as ``rest`` (to be prefixed to the next
    notification); bytes that cannot start a packet are counted in ``junk_bytes``.
    """
    n = len(buf)
    a = np.frombuffer(buf, dtype=np.uint8)
    if n and n % PACKET_SIZE == 0:  # the usual case: whole packets only
        rows = a.reshape(-1, PACKET_SIZE)
        if np.all(rows[:, 0] == HEADER) and np.all(rows[:, 1] == FLAG_DATA):
            return Frames(rows)
    starts = np.flatnonzero(
        (a[:-1] == HEADER) & ((a[1:] == FLAG_DATA) | (a[1:] == FLAG_REGISTER))
    ).tolist()
    data: list[int] = []
    regs: list[tuple[int, tuple[int, ...]]] = []
    pos = junk = 0
    for s in starts:
        if s < pos:
            continue  # a 55 61 inside a packet we already took
        if s + PACKET_SIZE > n:
            break
        junk += s - pos
        if a[s + 1] == FLAG_DATA:
            data.append(s)
        else:
            words = a[s + 2 : s + PACKET_SIZE].view("<i2")
            regs.append((int(a[s + 2]) | int(a[s + 3]) << 8, tuple(int(w) for w in words[1:])))
        pos = s + PACKET_SIZE
    tail = buf[pos:]
    # keep a possible packet start for the next notification, drop the rest as junk
    keep = tail.rfind(bytes([HEADER]))
    if keep >= 0 and len(tail) - keep < PACKET_SIZE:
        junk += keep
        tail = tail[keep:]
    else:
        junk += len(tail)
        tail = b""
    rows = a[np.add.outer(np.asarray(data, dtype=np.int64), np.arange(PACKET_SIZE))]
    return Frames(rows.reshape(-1, PACKET_SIZE), regs, junk, tail)


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
    """Decode notifications holding ``55 61`` packets; junk and register replies are skipped."""
    frames = split_frames(b"".join(packets))
    dec = decode_rows(frames.data)
    bad = [(0, f"{frames.junk_bytes} bytes not in a packet")] if frames.junk_bytes else []
    if frames.rest:
        bad.append((len(packets) - 1, f"{len(frames.rest)} bytes of an incomplete packet"))
    if bad:
        return Decoded(
            dec.acc_mps2, dec.gyro_dps, dec.device_time_s, dec.sample_index, dec.packet_n, bad
        )
    return dec


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
