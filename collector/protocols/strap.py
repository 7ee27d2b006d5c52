"""Our strap's GATT profile (``firmware_specs/flossmeter_strap.json``): decode, encode, commands.

The layout is not written down twice: the numpy dtypes of the data header and of the control
characteristic's state are built from the machine-readable profile that the firmware's C header
and the Markdown spec describe too.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from collector.constants import G_MPS2
from collector.protocols.common import Advertisement, Decoded
from firmware_specs import load_profile

PROFILE = load_profile()
KIND = "flossmeter-strap"
RAW_FORMAT = f"{KIND}/{PROFILE['data_packet']['format_version']}"

_U = PROFILE["uuids"]
SERVICE_UUID: str = _U["service"]
DATA_UUID: str = _U["data"]
CONTROL_UUID: str = _U["control"]
BATTERY_LEVEL_UUID: str = _U["battery_level"]
FIRMWARE_REVISION_UUID: str = _U["firmware_revision"]
MODEL_NUMBER_UUID: str = _U["model_number"]
NAME_PREFIX: str = PROFILE["advertising"]["name_prefix"]

_P = PROFILE["data_packet"]
FORMAT_VERSION: int = _P["format_version"]
HEADER_SIZE: int = _P["header_size"]
SAMPLE_SIZE: int = _P["sample"]["size"]
MAX_SAMPLES: int = _P["max_samples"]
ACC_RANGES_G: dict[int, float] = {int(k): float(v) for k, v in PROFILE["ranges"]["acc_g"].items()}
GYRO_RANGES_DPS: dict[int, float] = {
    int(k): float(v) for k, v in PROFILE["ranges"]["gyro_dps"].items()
}
RATE_MIN_HZ: int = PROFILE["rates_hz"]["min"]
RATE_MAX_HZ: int = PROFILE["rates_hz"]["max"]
NOTIFICATION_PERIOD_S: float = PROFILE["notification_period_s"]
# A decoded period outside this is corruption, not a setting (the emulator's benchmark runs 1 kHz).
_PERIOD_NS_RANGE = (400_000, 100_000_000)

_TYPES = {"u8": "u1", "u16": "<u2", "u32": "<u4", "i16": "<i2"}


def _layout(fields: list[dict[str, Any]], itemsize: int | None = None) -> np.dtype:
    """The numpy record type of a layout in the profile (fields with a name, offset and type);
    ``itemsize``: its size where the profile gives one (else up to its last field)."""
    spec: dict[str, Any] = {
        "names": [f["name"] for f in fields],
        "formats": [_TYPES[f["type"]] for f in fields],
        "offsets": [f["offset"] for f in fields],
    }
    return np.dtype(spec if itemsize is None else {**spec, "itemsize": itemsize})


HEADER_DTYPE = _layout(_P["header"], HEADER_SIZE)

_C = PROFILE["control"]
OPCODES: dict[str, int] = {name: op["code"] for name, op in _C["opcodes"].items()}
RESPONSE_FLAG: int = _C["response_flag"]
RESULTS: dict[int, str] = {code: name for name, code in _C["results"].items()}
#: What reading the control characteristic returns (:class:`StrapState` in the strap's codes).
STATE_DTYPE = _layout(_C["state"])


def acc_code(range_g: float) -> int:
    """Range code of an accelerometer full scale in g (ValueError if the strap has none)."""
    for code, g in ACC_RANGES_G.items():
        if g == range_g:
            return code
    raise ValueError(f"accelerometer range must be one of {sorted(ACC_RANGES_G.values())} g")


def gyro_code(range_dps: float) -> int:
    """Range code of a gyroscope full scale in deg/s (ValueError if the strap has none)."""
    for code, dps in GYRO_RANGES_DPS.items():
        if dps == range_dps:
            return code
    raise ValueError(f"gyroscope range must be one of {sorted(GYRO_RANGES_DPS.values())} deg/s")


def samples_per_packet(rate_hz: float, mtu: int = 247) -> int:
    """Samples the firmware puts in one notification at ``rate_hz``: about every 20 ms, as many
    as the ATT MTU (bytes) allows."""
    fit = (mtu - 3 - HEADER_SIZE) // SAMPLE_SIZE
    if fit < 1:
        raise ValueError(f"ATT MTU {mtu} is too small for one sample (need ≥ {HEADER_SIZE + 15})")
    # round(rate × 0.02), halves up, as the firmware computes it (firmware_specs/flossmeter_strap.h)
    want = math.floor(rate_hz * NOTIFICATION_PERIOD_S + 0.5)
    return int(max(1, min(fit, MAX_SAMPLES, want)))


# -- data packets ----------------------------------------------------------------------------


def _group_decode(blob: bytes, n_packets: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Header records and an (P, count, 6) int16 sample array for equal-length packets."""
    size = HEADER_SIZE + SAMPLE_SIZE * count
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(n_packets, size)
    header = rows[:, :HEADER_SIZE].copy().view(HEADER_DTYPE)[:, 0]
    samples = rows[:, HEADER_SIZE:].copy().view("<i2").reshape(n_packets, count, 6)
    return header, samples


def decode(packets: Sequence[bytes]) -> Decoded:
    """Decode data packets (vectorised over packets of equal length) into m/s², deg/s, s.

    Malformed packets (wrong length or version, unknown range codes, implausible period) are
    left out and listed in ``Decoded.bad``; they never raise.
    """
    bad: list[tuple[int, str]] = []
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(packets):
        n = len(p)
        if n < HEADER_SIZE + SAMPLE_SIZE or (n - HEADER_SIZE) % SAMPLE_SIZE:
            bad.append((i, f"length {n} is not {HEADER_SIZE} + 12·N bytes"))
            continue
        by_len.setdefault(n, []).append(i)
    parts = []
    for n, idx in by_len.items():
        count = (n - HEADER_SIZE) // SAMPLE_SIZE
        header, samples = _group_decode(b"".join(packets[i] for i in idx), len(idx), count)
        acc_c = header["ranges"] >> 4
        gyr_c = header["ranges"] & 0x0F
        ok = np.ones(len(idx), dtype=bool)
        checks = (
            (header["version"] != FORMAT_VERSION, "format version {v} is not 1"),
            (header["count"] != count, "sample count does not match the length"),
            (~np.isin(acc_c, list(ACC_RANGES_G)), "unknown accelerometer range code"),
            (~np.isin(gyr_c, list(GYRO_RANGES_DPS)), "unknown gyroscope range code"),
            (
                (header["period_ns"] < _PERIOD_NS_RANGE[0])
                | (header["period_ns"] > _PERIOD_NS_RANGE[1]),
                "implausible sample period",
            ),
        )
        for mask, why in checks:
            for j in np.flatnonzero(mask & ok):
                bad.append((idx[j], why.format(v=int(header["version"][j]))))
            ok &= ~mask
        if not ok.any():
            continue
        header, samples = header[ok], samples[ok]
        pkt = np.asarray(idx)[ok]
        acc_scale = np.array([ACC_RANGES_G.get(int(c), 0.0) for c in acc_c[ok]]) * G_MPS2
        gyr_scale = np.array([GYRO_RANGES_DPS.get(int(c), 0.0) for c in gyr_c[ok]])
        j = np.arange(count)
        parts.append(
            (
                np.repeat(pkt, count),
                (samples[:, :, :3] * (acc_scale / 32768.0)[:, None, None]).reshape(-1, 3),
                (samples[:, :, 3:] * (gyr_scale / 32768.0)[:, None, None]).reshape(-1, 3),
                (
                    header["t_us"][:, None].astype(np.float64) * 1e-6
                    + j[None, :] * (header["period_ns"][:, None] * 1e-9)
                ).ravel(),
                (header["seq"][:, None].astype(np.int64) + j[None, :]).ravel(),
                pkt,
                np.full(len(pkt), count, dtype=np.int64),
            )
        )
    bad.sort()
    if not parts:
        return Decoded.empty(bad)
    if len(parts) == 1:
        _, acc, gyr, t, seq, _, n = parts[0]
        return Decoded(acc, gyr, t, seq, n, bad)
    order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
    porder = np.argsort(np.concatenate([p[5] for p in parts]), kind="stable")

    def cat(k: int) -> np.ndarray:
        return np.concatenate([p[k] for p in parts])

    return Decoded(cat(1)[order], cat(2)[order], cat(3)[order], cat(4)[order], cat(6)[porder], bad)


def encode(
    seq: int,
    t_us: int,
    period_ns: int,
    acc_counts: np.ndarray,
    gyro_counts: np.ndarray,
    acc_range_code: int = 3,
    gyro_range_code: int = 4,
    status: int = 0,
) -> bytes:
    """Pack one data packet (what the firmware's ``fm_pack_data`` does): counts are N×3 int16."""
    acc = np.asarray(acc_counts, dtype="<i2").reshape(-1, 3)
    gyr = np.asarray(gyro_counts, dtype="<i2").reshape(-1, 3)
    n = len(acc)
    if not 1 <= n <= 255 or len(gyr) != n:
        raise ValueError("a packet holds 1–255 samples with as many gyroscope as acc samples")
    header = struct.pack(
        "<BBBBIII",
        FORMAT_VERSION,
        n,
        (acc_range_code << 4) | gyro_range_code,
        status,
        seq & 0xFFFFFFFF,
        t_us & 0xFFFFFFFF,
        period_ns,
    )
    return header + np.hstack([acc, gyr]).astype("<i2").tobytes()


# -- control characteristic ------------------------------------------------------------------


def cmd_start() -> bytes:
    """Start streaming."""
    return bytes([OPCODES["start"]])


def cmd_stop() -> bytes:
    """Stop streaming."""
    return bytes([OPCODES["stop"]])


def cmd_set_rate(rate_hz: float) -> bytes:
    """Set the sample rate, integer Hz within 25–400 (ValueError otherwise)."""
    r = round(rate_hz)
    if r != rate_hz or not RATE_MIN_HZ <= r <= RATE_MAX_HZ:
        raise ValueError(f"strap sample rate must be a whole number of Hz in 25–400, got {rate_hz}")
    return struct.pack("<BH", OPCODES["set_rate"], r)


def cmd_set_ranges(acc_range_g: float, gyro_range_dps: float) -> bytes:
    """Set the full-scale ranges (g, deg/s)."""
    return bytes([OPCODES["set_ranges"], acc_code(acc_range_g), gyro_code(gyro_range_dps)])


def cmd_identify(seconds: int = 5) -> bytes:
    """Blink the strap's LED for ``seconds`` s so the user can see which one it is."""
    return bytes([OPCODES["identify"], max(0, min(255, int(seconds)))])


def cmd_time_sync(token: int) -> bytes:
    """Ask for the device clock: the strap answers with ``token`` and its time in µs."""
    return struct.pack("<BI", OPCODES["time_sync"], token & 0xFFFFFFFF)


@dataclass(frozen=True)
class Response:
    """The strap's answer to a command: opcode, result name and any payload."""

    opcode: int
    result: str
    payload: bytes = b""

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def parse_response(data: bytes) -> Response | None:
    """A notification on the control characteristic as a :class:`Response` (None if garbled)."""
    if len(data) < 2 or not data[0] & RESPONSE_FLAG:
        return None
    return Response(data[0] & ~RESPONSE_FLAG, RESULTS.get(data[1], f"code {data[1]}"), data[2:])


def parse_time_sync(resp: Response) -> tuple[int, int] | None:
    """``(token, device µs)`` from a time-sync response."""
    if resp.opcode != OPCODES["time_sync"] or len(resp.payload) < 8:
        return None
    token, t_us = struct.unpack_from("<II", resp.payload)
    return token, t_us


@dataclass(frozen=True)
class StrapState:
    """What reading the control characteristic returns."""

    streaming: bool
    rate_hz: int
    acc_range_g: float
    gyro_range_dps: float
    status: int


def parse_state(data: bytes) -> StrapState | None:
    """The control characteristic's value as a :class:`StrapState` (None if garbled)."""
    if len(data) < STATE_DTYPE.itemsize:
        return None
    s = np.frombuffer(data, STATE_DTYPE, count=1)[0]
    a, g = int(s["acc_code"]), int(s["gyro_code"])
    if a not in ACC_RANGES_G or g not in GYRO_RANGES_DPS:
        return None
    return StrapState(
        bool(s["streaming"]), int(s["rate_hz"]), ACC_RANGES_G[a], GYRO_RANGES_DPS[g],
        int(s["status"]),
    )  # fmt: skip


def encode_state(state: StrapState) -> bytes:
    """The control characteristic's value for ``state`` (the firmware side, for the emulator)."""
    s = np.zeros((), STATE_DTYPE)
    s["streaming"] = int(state.streaming)
    s["rate_hz"] = state.rate_hz
    s["acc_code"] = acc_code(state.acc_range_g)
    s["gyro_code"] = gyro_code(state.gyro_range_dps)
    s["status"] = state.status
    return s.tobytes()


def recognise(adv: Advertisement) -> bool:
    """Whether an advertisement is one of our straps (service UUID, else name prefix)."""
    uuids = {u.lower() for u in adv.service_uuids}
    return SERVICE_UUID in uuids or adv.name.startswith(NAME_PREFIX)
