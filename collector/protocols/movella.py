"""Movella DOT (formerly Xsens DOT): "rate quantities" streaming, output rate, recognition.

Source: Movella DOT BLE Service Specification (XD0506P rev. C, 2023) and Xsens' DOT Server
example. Measurement data arrive on the medium-payload characteristic ``0x2003``; payload mode
21 ("rate quantities") is 28 bytes: timestamp uint32 µs (wraps at 2³²), calibrated acceleration
x, y, z float32 m/s² and angular velocity x, y, z float32 °/s, zero-padded to the
characteristic's 40 bytes. Notifications must be enabled before measurement is started. Each
notification carries one payload: it is decoded on its own and rejected whole if malformed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from collector.constants import G_MPS2
from collector.protocols.common import Advertisement, Decoded

KIND = "movella-dot"
RAW_FORMAT = "movella-dot-mode21/1"
COMPANY_ID = 2182  # 0x0886, Movella Technologies B.V.
NAMES = ("movella dot", "xsens dot")


def uuid(short: int) -> str:
    """The full 128-bit UUID of a DOT attribute from its 16-bit short form."""
    return f"1517{short:04x}-4947-11e9-8646-d663bd873d93"


CONFIG_SERVICE_UUID = uuid(0x1000)
DEVICE_INFO_UUID = uuid(0x1001)
DEVICE_CONTROL_UUID = uuid(0x1002)
MEASUREMENT_SERVICE_UUID = uuid(0x2000)
CONTROL_UUID = uuid(0x2001)
MEDIUM_PAYLOAD_UUID = uuid(0x2003)
BATTERY_SERVICE_UUID = uuid(0x3000)
BATTERY_UUID = uuid(0x3001)

MODE_RATE_QUANTITIES = 21
PAYLOAD_SIZE = 28
MEDIUM_SIZE = 40
DEFAULT_RATE_HZ = 60
#: Output rates the DOT accepts for real-time streaming (120 Hz is for recording only).
STREAM_RATES_HZ = (1, 4, 10, 12, 15, 20, 30, 60)
DEVICE_CONTROL_SIZE = 32
DEVICE_INFO_SIZE = 34  # address 0–5, firmware 6–8, build date 9–15, serial 20–27, product 28–33
_VISIT_OUTPUT_RATE = 0x10  # visit-index bit 4: apply the output rate field
_RATE_OFFSET = 24  # visit, identify, power off, 4 × power saving, tag length, 16 tag bytes
#: The DOT's sensor full scale is ±16 g and ±2000 °/s; a calibrated value beyond twice that is
#: no measurement (a knock saturates near full scale, it does not double it).
ACC_LIMIT_MPS2 = 2 * 16 * G_MPS2
GYRO_LIMIT_DPS = 2 * 2000.0
_PAYLOAD = np.dtype([("t_us", "<u4"), ("acc", "<f4", 3), ("gyr", "<f4", 3)])


def cmd_start(mode: int = MODE_RATE_QUANTITIES) -> bytes:
    """Start real-time measurement in payload ``mode`` (write to the control characteristic)."""
    return bytes([0x01, 0x01, mode])


def cmd_stop(mode: int = MODE_RATE_QUANTITIES) -> bytes:
    """Stop real-time measurement."""
    return bytes([0x01, 0x00, mode])


def cmd_set_output_rate(rate_hz: float) -> bytes:
    """The 32-byte device-control write that sets the output rate in Hz (before starting)."""
    r = round(rate_hz)
    if r != rate_hz or r not in STREAM_RATES_HZ:
        raise ValueError(f"Movella DOT streams at {', '.join(map(str, STREAM_RATES_HZ))} Hz")
    out = bytearray(DEVICE_CONTROL_SIZE)
    out[0] = _VISIT_OUTPUT_RATE
    struct.pack_into("<H", out, _RATE_OFFSET, r)
    return bytes(out)


def parse_output_rate(device_control: bytes) -> int | None:
    """The output rate (Hz) in a device-control value read back from the DOT."""
    if len(device_control) < _RATE_OFFSET + 2:
        return None
    return struct.unpack_from("<H", device_control, _RATE_OFFSET)[0]


@dataclass(frozen=True)
class DeviceInfo:
    """The DOT's device-info characteristic: address, firmware, serial and product code."""

    address: str
    firmware: str
    serial: int
    product: str


def parse_device_info(data: bytes) -> DeviceInfo | None:
    """Parse the 34-byte device-info value (None if too short)."""
    if len(data) < DEVICE_INFO_SIZE:
        return None
    mac = ":".join(f"{b:02X}" for b in reversed(data[0:6]))
    major, minor, rev = data[6:9]
    serial = struct.unpack_from("<Q", data, 20)[0]
    product = data[28:34].split(b"\0")[0].decode("ascii", "replace")
    return DeviceInfo(mac, f"{major}.{minor}.{rev}", serial, product)


def encode_device_info(address: str, firmware: tuple[int, int, int], serial: int) -> bytes:
    """A device-info value (the sensor side, for the emulator)."""
    mac = bytes(reversed(bytes.fromhex(address.replace(":", ""))))
    out = bytearray(DEVICE_INFO_SIZE)
    out[0:6] = mac
    out[6:9] = bytes(firmware)
    struct.pack_into("<HBBBBB", out, 9, 2023, 7, 1, 12, 0, 0)
    struct.pack_into("<Q", out, 20, serial)
    out[28:34] = b"XS-T02"
    return bytes(out)


def decode(packets: list[bytes]) -> Decoded:
    """Decode mode-21 payloads (vectorised): m/s², deg/s and the raw device clock in s.

    Each notification is one payload, on its own: one of 28 bytes (the payload) or 40 (the
    characteristic, padded), holding finite values within twice the sensor's full scale
    (:data:`ACC_LIMIT_MPS2`, :data:`GYRO_LIMIT_DPS`). Anything else is left out whole and listed
    in ``Decoded.bad``; it never raises. Whether the timestamp follows the stream is the link's
    check (``collector.ble_links.MovellaLink``). ``sample_index`` is -1: the collector derives it
    from the timestamps.
    """
    bad: list[tuple[int, str]] = []
    keep = []
    for i, p in enumerate(packets):
        if len(p) in (PAYLOAD_SIZE, MEDIUM_SIZE):
            keep.append(i)
        else:
            bad.append((i, f"length {len(p)} is not a 28- or 40-byte mode-21 payload"))
    if not keep:
        return Decoded.empty(bad)
    rec = np.frombuffer(b"".join(packets[i][:PAYLOAD_SIZE] for i in keep), dtype=_PAYLOAD)
    acc = rec["acc"].astype(np.float64)
    gyr = rec["gyr"].astype(np.float64)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
        acc_in = (np.abs(acc) <= ACC_LIMIT_MPS2).all(axis=1)
        inside = acc_in & (np.abs(gyr) <= GYRO_LIMIT_DPS).all(axis=1)
    for j in np.flatnonzero(~finite):
        bad.append((keep[j], "non-finite acceleration or angular velocity"))
    for j in np.flatnonzero(finite & ~inside):
        bad.append((keep[j], "acceleration or angular velocity beyond twice the full scale"))
    ok = finite & inside
    bad.sort()
    n = int(ok.sum())
    return Decoded(
        acc_mps2=acc[ok],
        gyro_dps=gyr[ok],
        device_time_s=rec["t_us"][ok].astype(np.float64) * 1e-6,
        sample_index=np.full(n, -1, dtype=np.int64),
        packet_n=np.ones(n, dtype=np.int64),
        bad=bad,
    )


def encode(t_us: int, acc_mps2: np.ndarray, gyro_dps: np.ndarray, padded: bool = True) -> bytes:
    """One mode-21 payload (the sensor side): timestamp µs, acceleration, angular velocity."""
    body = struct.pack(
        "<I6f", t_us & 0xFFFFFFFF, *np.asarray(acc_mps2, float), *np.asarray(gyro_dps, float)
    )
    return body + bytes(MEDIUM_SIZE - PAYLOAD_SIZE) if padded else body


def recognise(adv: Advertisement) -> bool:
    """Whether an advertisement is a Movella/Xsens DOT (company ID 2182, else its name)."""
    return COMPANY_ID in adv.manufacturer_data or adv.name.strip().lower() in NAMES
