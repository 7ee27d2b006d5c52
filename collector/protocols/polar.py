"""Polar Verity Sense over the Polar Measurement Data (PMD) service: commands, frames, recognition.

Sources: Polar's "Polar Measurement Data Specification for 3rd party" (``technical_documentation``
of ``polarofficial/polar-ble-sdk``), its ``SdkModeExplained.md`` and ``TimeSystemExplained.md``,
and the worked byte examples in the SDK's parser tests; see ``docs/ble.md`` for what could not be
confirmed without hardware.

The PMD service ``FB005C80-…`` has a control point ``…81`` (read: the supported measurement
types; write a command, answered by an indication ``F0 op type status more params…``) and a data
characteristic ``…82`` (notify). ACC and GYRO are separate streams, each started with its own
settings (TLVs: sample rate, resolution, range, channels). Every data notification is one frame:
``type u8 | timestamp u64 LE ns (of the frame's last sample, since 2000-01-01) | frame type u8
(bit 7: delta-compressed) | content``. Uncompressed content is whole samples of 3 channels;
compressed content is a reference sample (full bytes, little endian) followed by blocks
``bit width u8 | sample count u8 | count × 3 deltas of that width, packed LSB first``, each block
padded to a whole byte; a sample is the previous one plus its delta. A frame is decoded on its own
and rejected whole when it is not exactly that (:func:`parse_frame`); two frames are never joined.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from collector.constants import G_MPS2
from collector.protocols.common import Advertisement, Decoded

KIND = "polar-verity-sense"
RAW_FORMAT = "polar-pmd/1"
_BASE = "-02e7-f387-1cad-8acd2d8df0c8"
SERVICE_UUID = "fb005c80" + _BASE
CONTROL_UUID = "fb005c81" + _BASE
DATA_UUID = "fb005c82" + _BASE
COMPANY_ID = 107  # 0x006B, Polar Electro Oy
NAME_PREFIX = "polar sense"  # the Verity Sense advertises "Polar Sense XXXXXXXX"

# measurement types (frame byte 0, command parameter)
ECG, PPG, ACC, PPI, GYRO, MAG, SDK_MODE = 0, 1, 2, 3, 5, 6, 9
TYPE_NAMES = {ECG: "ECG", PPG: "PPG", ACC: "ACC", PPI: "PPI", GYRO: "GYRO", MAG: "MAG",
              SDK_MODE: "SDK mode"}  # fmt: skip
# the control point read: 0x0F, then a bit per measurement type
FEATURE_READ = 0x0F
_FEATURE_BITS = {ECG: (1, 0x01), PPG: (1, 0x02), ACC: (1, 0x04), PPI: (1, 0x08),
                 GYRO: (1, 0x20), MAG: (1, 0x40), SDK_MODE: (2, 0x02)}  # fmt: skip

# control point
OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
OP_GET_SDK_SETTINGS = 0x04
RESPONSE = 0xF0
OP_MEASUREMENT_STOPPED = 0x01  # sent by the sensor unasked (not 0xF0): it stopped a stream
STATUS_NAMES = (
    "success", "invalid op code", "invalid measurement type", "not supported", "invalid length",
    "invalid parameter", "already in state", "invalid resolution", "invalid sample rate",
    "invalid range", "invalid MTU", "invalid number of channels", "invalid state",
    "device in charger", "disk full",
)  # fmt: skip
SUCCESS = 0
ALREADY_IN_STATE = 6

# settings TLVs: type u8, count u8, count values of the type's size (little endian)
SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR = 0, 1, 2, 3, 4, 5
_SETTING_SIZE = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1,
                 FACTOR: 4}  # fmt: skip

#: Verity Sense: ACC and GYRO at 52 Hz in normal mode; 26–416 Hz in SDK mode (SdkModeExplained).
NORMAL_RATES_HZ = (52,)
SDK_RATES_HZ = (26, 52, 104, 208, 416)
ACC_RANGE_G = 16  # asked for in SDK mode (normal mode offers 8 g only)
GYRO_RANGE_DPS = 2000
RESOLUTION_BITS = 16
CHANNELS_N = 3

#: Frame types decoded, per measurement: (compressed, type) → (bits per channel, encoding,
#: extra scale). Values are mG for ACC, deg/s for GYRO, after the stream's factor (FACTOR from
#: the start response; 1 without). Compressed ACC type 0 is in g (×1000 to mG), GYRO type 1
#: carries IEEE-754 float32 bit patterns (deltas added to the bits). These are the formats of
#: Polar's SDK parsers; GYRO has no uncompressed format there, so none here.
FORMATS: dict[int, dict[tuple[bool, int], tuple[int, str, float]]] = {
    ACC: {(False, 0): (8, "int", 1.0), (False, 1): (16, "int", 1.0), (False, 2): (24, "int", 1.0),
          (True, 0): (16, "int", 1000.0), (True, 1): (16, "int", 1.0)},
    GYRO: {(True, 0): (16, "int", 1.0), (True, 1): (32, "float", 1.0)},
}  # fmt: skip
#: Frame type bit 7: delta-compressed. Factors apply to compressed frames only (the SDK
#: ignores them for uncompressed ACC).
COMPRESSED = 0x80
HEADER_SIZE = 10

# raw records kept in a recording: tag u8, length u16 LE, the bytes as received
REC_DATA = 0x01  # a PMD data notification
REC_CONTROL = 0x02  # a control point indication (start responses carry the factors)


def recognise(adv: Advertisement) -> bool:
    """Whether an advertisement is a Polar Verity Sense (advertised name ``Polar Sense …``)."""
    return adv.name.strip().lower().startswith(NAME_PREFIX)


# -- control point ----------------------------------------------------------------------------


def parse_features(data: bytes) -> set[int]:
    """The measurement types (and :data:`SDK_MODE`) a control point read says are supported."""
    if len(data) < 3 or data[0] != FEATURE_READ:
        return set()
    return {t for t, (i, bit) in _FEATURE_BITS.items() if data[i] & bit}


def encode_features(types: set[int]) -> bytes:
    """The control point's read value for these types (the sensor side)."""
    out = bytearray([FEATURE_READ, 0, 0])
    for t in types:
        i, bit = _FEATURE_BITS[t]
        out[i] |= bit
    return bytes(out)


def encode_settings(settings: Mapping[int, float | tuple[float, ...]]) -> bytes:
    """Settings TLVs: each ``type, count, values`` (FACTOR as float32, the others integers)."""
    out = bytearray()
    for kind, value in settings.items():
        values = value if isinstance(value, tuple) else (value,)
        out += bytes([kind, len(values)])
        for v in values:
            if kind == FACTOR:
                out += struct.pack("<f", v)
            else:
                out += int(v).to_bytes(_SETTING_SIZE[kind], "little")
    return bytes(out)


def parse_settings(data: bytes) -> dict[int, tuple[float, ...]] | None:
    """Settings TLVs → ``{type: values}`` (FACTOR decoded as float32); None if malformed."""
    out: dict[int, tuple[float, ...]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data) or data[i] not in _SETTING_SIZE:
            return None
        kind, count = data[i], data[i + 1]
        size = _SETTING_SIZE[kind]
        i += 2
        if i + count * size > len(data):
            return None
        vals = []
        for _ in range(count):
            chunk = data[i : i + size]
            if kind == FACTOR:
                vals.append(float(struct.unpack("<f", chunk)[0]))
            else:
                vals.append(int.from_bytes(chunk, "little"))
            i += size
        out[kind] = tuple(vals)
    return out


def cmd_get_settings(mtype: int, sdk: bool = False) -> bytes:
    """Ask which settings ``mtype`` offers now (``sdk``: every setting SDK mode would offer)."""
    return bytes([OP_GET_SDK_SETTINGS if sdk else OP_GET_SETTINGS, mtype])


def cmd_start(mtype: int, settings: Mapping[int, float | tuple[float, ...]] | None = None) -> bytes:
    """Start ``mtype`` with these settings (start :data:`SDK_MODE` without settings)."""
    return bytes([OP_START, mtype]) + encode_settings(settings or {})


def cmd_stop(mtype: int) -> bytes:
    """Stop ``mtype`` (stop :data:`SDK_MODE`: back to normal mode)."""
    return bytes([OP_STOP, mtype])


def stream_settings(rate_hz: int, range_: int) -> dict[int, float | tuple[float, ...]]:
    """The start settings flossmeter asks for: rate, 16-bit resolution, range, 3 channels."""
    return {SAMPLE_RATE: rate_hz, RESOLUTION: RESOLUTION_BITS, RANGE: range_,
            CHANNELS: CHANNELS_N}  # fmt: skip


@dataclass(frozen=True)
class Response:
    """A control point answer: ``F0 opcode type status more params…``."""

    opcode: int
    mtype: int
    status: int
    more: bool = False
    params: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS

    @property
    def status_name(self) -> str:
        if self.status < len(STATUS_NAMES):
            return STATUS_NAMES[self.status]
        return f"status {self.status}"


def parse_response(data: bytes) -> Response | None:
    """A control point indication as a :class:`Response` (None if it is not one)."""
    if len(data) < 4 or data[0] != RESPONSE:
        return None
    status = data[3]
    more = status == SUCCESS and len(data) > 4 and data[4] != 0
    return Response(data[1], data[2], status, more, bytes(data[5:]) if status == SUCCESS else b"")


def encode_response(opcode: int, mtype: int, status: int = SUCCESS, params: bytes = b"") -> bytes:
    """A control point answer (the sensor side; never split with ``more``)."""
    return bytes([RESPONSE, opcode, mtype, status, 0]) + params


def factor_of(response_params: bytes) -> float | None:
    """The FACTOR setting a start response carries, or None."""
    s = parse_settings(response_params)
    return s[FACTOR][0] if s and s.get(FACTOR) else None


# -- data frames --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded data frame: measurement type, the sensor clock at its last sample, samples.

    ``values`` is N×3 float64 in mG (ACC) or deg/s (GYRO); ``counts`` the integers (or float32
    values) the frame carried, before any factor.
    """

    mtype: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    values: np.ndarray
    counts: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def timestamp_s(self) -> float:
        return self.timestamp_ns * 1e-9


def _signed(u: np.ndarray, bits: int) -> np.ndarray:
    """Two's complement of ``bits``-wide unsigned values (int64)."""
    u = u.astype(np.int64)
    if bits == 0:
        return u
    return np.where(u >= (1 << (bits - 1)), u - (1 << bits), u)


def _le_words(data: bytes, nbytes: int) -> np.ndarray:
    """Little-endian unsigned words of ``nbytes`` bytes each (int64)."""
    b = np.frombuffer(data, dtype=np.uint8).reshape(-1, nbytes).astype(np.int64)
    return (b << (8 * np.arange(nbytes, dtype=np.int64))).sum(axis=1)


def _unpack_deltas(data: bytes, width: int, n: int) -> np.ndarray:
    """``n`` signed ``width``-bit values packed LSB first into ``data`` (int64)."""
    if width == 0:
        return np.zeros(n, dtype=np.int64)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    bits = bits[: n * width].reshape(n, width).astype(np.int64)
    return _signed(bits @ (np.int64(1) << np.arange(width, dtype=np.int64)), width)


def _delta_decode(content: bytes, bits: int, encoding: str) -> np.ndarray | str:
    """Reference sample + delta blocks → K×3 int64 (float frames: their uint32 bit patterns)."""
    ref_bytes = math.ceil(bits / 8)
    ref_size = CHANNELS_N * ref_bytes
    if len(content) < ref_size:
        return f"compressed content of {len(content)} bytes has no whole reference sample"
    ref = _le_words(content[:ref_size], ref_bytes)
    if encoding == "int":
        ref = _signed(ref, bits)
    parts = [ref.reshape(1, CHANNELS_N)]
    off = ref_size
    while off < len(content):
        if off + 2 > len(content):
            return f"a delta block header is cut off at byte {off}"
        width, count = content[off], content[off + 1]
        if width > 32:
            return f"delta width {width} bits at byte {off} (at most 32)"
        if count == 0:
            return f"a delta block of no samples at byte {off}"
        nbytes = math.ceil(width * count * CHANNELS_N / 8)
        if off + 2 + nbytes > len(content):
            return f"a delta block of {count}×{width} bits runs {off + 2 + nbytes - len(content)}"\
                   " bytes past the end"  # fmt: skip
        d = _unpack_deltas(content[off + 2 : off + 2 + nbytes], width, count * CHANNELS_N)
        parts.append(d.reshape(count, CHANNELS_N))
        off += 2 + nbytes
    samples = np.cumsum(np.vstack(parts), axis=0)
    if encoding == "float":
        samples &= 0xFFFFFFFF  # 32-bit sums wrap, as the sensor's do
    return samples


#: Without ranges given: twice the widest full scale flossmeter asks for (mG, deg/s).
_DEFAULT_LIMITS = {ACC: 2 * ACC_RANGE_G * 1000.0, GYRO: 2.0 * GYRO_RANGE_DPS}


def parse_frame(
    data: bytes,
    factors: Mapping[int, float] | None = None,
    limits: Mapping[int, float] | None = None,
) -> Frame | str:
    """Decode one data notification, or say why it is not a frame the sensor sends.

    ``factors`` (per measurement type, from the start responses; 1 without) scale compressed
    frames; ``limits`` (mG for ACC, deg/s for GYRO; default twice 16 g and 2000 °/s) bound the
    values: a sensor saturates at full scale, it does not exceed twice it. Rejected whole: a frame
    shorter than its header, a measurement type other than ACC and GYRO, a frame type not in
    :data:`FORMATS`, uncompressed content that is not whole samples, compressed content that is
    not exactly a reference sample and whole delta blocks, a block of no samples or wider than 32
    bits, non-finite values or values beyond ``limits``.
    """
    if len(data) < HEADER_SIZE + 1:
        return f"length {len(data)} is shorter than a frame header and one byte"
    mtype = data[0]
    if mtype not in FORMATS:
        return f"measurement type {mtype} is neither ACC (2) nor GYRO (5)"
    ftype = data[9]
    compressed, kind = bool(ftype & COMPRESSED), ftype & 0x7F
    fmt = FORMATS[mtype].get((compressed, kind))
    if fmt is None:
        which = "compressed" if compressed else "uncompressed"
        return f"{TYPE_NAMES[mtype]} frame type 0x{ftype:02x} ({which} type {kind}) is not decoded"
    bits, encoding, scale = fmt
    content = data[HEADER_SIZE:]
    if compressed:
        counts = _delta_decode(content, bits, encoding)
        if isinstance(counts, str):
            return counts
    else:
        size = CHANNELS_N * bits // 8
        if len(content) % size:
            return f"uncompressed content of {len(content)} bytes is not whole {size}-byte samples"
        counts = _signed(_le_words(content, bits // 8), bits).reshape(-1, CHANNELS_N)
    factor = (factors or {}).get(mtype, 1.0) if compressed else 1.0
    if encoding == "float":
        raw = counts.astype(np.uint32).view(np.float32).astype(np.float64)
    else:
        raw = counts.astype(np.float64)
    values = raw * (factor * scale)
    limit = (limits or {}).get(mtype, _DEFAULT_LIMITS[mtype])
    with np.errstate(invalid="ignore"):
        if not np.isfinite(values).all():
            return "non-finite values"
        if (np.abs(values) > limit).any():
            unit = "mG" if mtype == ACC else "°/s"
            return f"{TYPE_NAMES[mtype]} value {np.abs(values).max():.0f} {unit} beyond {limit:g}"
    ts = int.from_bytes(data[1:9], "little")
    return Frame(mtype, ts, kind, compressed, values, counts)


def limits_for(acc_range_g: float, gyro_range_dps: float) -> dict[int, float]:
    """Value bounds for :func:`parse_frame`: twice each stream's full scale (mG, deg/s)."""
    return {ACC: 2000.0 * acc_range_g, GYRO: 2.0 * gyro_range_dps}


def mg_to_mps2(mg: np.ndarray) -> np.ndarray:
    """Milli-g (the sensor's ACC unit, of standard gravity) → m/s²."""
    return np.asarray(mg, dtype=np.float64) * (G_MPS2 / 1000.0)


# -- the sensor side (emulator, tests of the link) ------------------------------------------------


def header(mtype: int, timestamp_ns: int, compressed: bool, frame_type: int) -> bytes:
    """A frame header: type, timestamp (ns, of the last sample), frame type."""
    return (
        bytes([mtype])
        + int(timestamp_ns).to_bytes(8, "little")
        + bytes([(COMPRESSED if compressed else 0) | frame_type])
    )


def encode_raw(mtype: int, timestamp_ns: int, counts: np.ndarray, frame_type: int = 1) -> bytes:
    """An uncompressed frame of N×3 integers (type 0: int8, 1: int16, 2: int24)."""
    nbytes = (8, 16, 24)[frame_type] // 8
    c = np.asarray(counts, dtype=np.int64).reshape(-1) & ((1 << (8 * nbytes)) - 1)
    body = ((c[:, None] >> (8 * np.arange(nbytes))) & 0xFF).astype(np.uint8).tobytes()
    return header(mtype, timestamp_ns, False, frame_type) + body


def encode_delta(
    mtype: int, timestamp_ns: int, counts: np.ndarray, block_sizes: list[int], frame_type: int = 0,
    bits: int = 16,
) -> bytes:  # fmt: skip
    """A delta-compressed frame of N×3 integers: the reference sample, then blocks of the given
    sizes (summing to N − 1), each as narrow as its deltas allow."""
    c = np.asarray(counts, dtype=np.int64).reshape(-1, CHANNELS_N)
    ref_bytes = math.ceil(bits / 8)
    ref = c[0] & ((1 << (8 * ref_bytes)) - 1)
    out = bytearray(header(mtype, timestamp_ns, True, frame_type))
    out += ((ref[:, None] >> (8 * np.arange(ref_bytes))) & 0xFF).astype(np.uint8).tobytes()
    deltas = np.diff(c, axis=0)
    if sum(block_sizes) != len(deltas):
        raise ValueError("block sizes must add up to the deltas")
    start = 0
    for size in block_sizes:
        d = deltas[start : start + size].reshape(-1)
        start += size
        width = max(int(np.max(np.maximum(d, -d - 1))).bit_length() + 1, 1)
        u = d & ((1 << width) - 1)
        bitarr = ((u[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        out += bytes([width, size]) + np.packbits(bitarr, bitorder="little").tobytes()
    return bytes(out)


# -- timing and the pairing of the two streams ----------------------------------------------------


def frame_times(
    timestamp_s: float, n: int, previous_s: float | None, period_s: float, tolerance: float = 0.05
) -> tuple[np.ndarray, float, bool]:
    """Sensor times (s) of a frame's ``n`` samples, the spacing used, and whether the frame
    follows the previous one of its stream without a gap.

    The timestamp is the last sample's. As Polar's SDK does, the spacing is the time since the
    previous frame's last sample over ``n`` when that frame is known; when that spacing is not
    within ``tolerance`` of ``period_s`` (a frame was lost, or it is the first), the samples are
    spaced at ``period_s`` instead (the SDK would spread them over the lost time).
    """
    spacing, contiguous = period_s, False
    if previous_s is not None and n > 0:
        d = (timestamp_s - previous_s) / n
        if abs(d - period_s) <= tolerance * period_s:
            spacing, contiguous = d, True
    return timestamp_s - spacing * np.arange(n - 1, -1, -1, dtype=np.float64), spacing, contiguous


def pair(t_a: np.ndarray, t_b: np.ndarray, tolerance_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``t_a`` and ``t_b`` (both increasing, s) that are the same sample: each one's
    nearest in the other stream, within ``tolerance_s``. Returns ``(rows_a, rows_b)``."""
    t_a, t_b = np.asarray(t_a, np.float64), np.asarray(t_b, np.float64)
    if len(t_a) == 0 or len(t_b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    def nearest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(y, x), 1, len(y) - 1) if len(y) > 1 else np.zeros(len(x), int)
        if len(y) == 1:
            return j
        left = np.abs(x - y[j - 1]) <= np.abs(y[j] - x)
        return np.where(left, j - 1, j)

    b_of_a = nearest(t_a, t_b)
    a_of_b = nearest(t_b, t_a)
    rows_a = np.arange(len(t_a))
    keep = (a_of_b[b_of_a] == rows_a) & (np.abs(t_a - t_b[b_of_a]) <= tolerance_s)
    return rows_a[keep], b_of_a[keep]


# -- raw records, as kept in a recording ----------------------------------------------------------


def pack_records(records: list[tuple[int, bytes]]) -> bytes:
    """Records ``(tag, bytes)`` as one raw blob: tag u8, length u16 LE, the bytes."""
    return b"".join(bytes([tag]) + struct.pack("<H", len(b)) + b for tag, b in records)


def unpack_records(blob: bytes) -> list[tuple[int, bytes]] | str:
    """The records of a raw blob (:func:`pack_records`), or why it is not one."""
    out, i = [], 0
    while i < len(blob):
        if i + 3 > len(blob):
            return f"a record header is cut off at byte {i}"
        tag, n = blob[i], struct.unpack_from("<H", blob, i + 1)[0]
        if tag not in (REC_DATA, REC_CONTROL) or i + 3 + n > len(blob):
            return f"not a record at byte {i}"
        out.append((tag, bytes(blob[i + 3 : i + 3 + n])))
        i += 3 + n
    return out


def decode(packets: list[bytes]) -> Decoded:
    """Re-decode the raw records a recording kept for one sensor (in arrival order): m/s², deg/s.

    Each packet is one block's records (:func:`pack_records`): the data frames, and the start
    responses that carry the factors. ACC and GYRO frames are timed (:func:`frame_times`, at
    the spacing of the frames themselves) and paired by time (:func:`pair`, within half a
    spacing); ``packet_n`` counts the paired samples of each packet's ACC frames. A packet that
    is not records, or a frame :func:`parse_frame` rejects, is listed in ``bad``.
    """
    bad: list[tuple[int, str]] = []
    factors: dict[int, float] = {}
    frames: dict[int, list[tuple[int, Frame]]] = {ACC: [], GYRO: []}
    for i, p in enumerate(packets):
        recs = unpack_records(p)
        if isinstance(recs, str):
            bad.append((i, recs))
            continue
        mine: list[Frame] = []
        for tag, b in recs:
            if tag == REC_CONTROL:
                r = parse_response(b)
                if r is not None and r.opcode == OP_START and r.ok:
                    f = factor_of(r.params)
                    if f is not None:
                        factors[r.mtype] = f
                continue
            fr = parse_frame(b, factors)
            if isinstance(fr, str):  # the packet is rejected whole, as one notification is
                bad.append((i, fr))
                mine = []
                break
            mine.append(fr)
        for fr in mine:
            frames[fr.mtype].append((i, fr))
    times: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for mtype, fl in frames.items():
        ts, vals, owner = [], [], []
        prev, period = None, _period_guess([f for _, f in fl])
        for i, fr in fl:
            t, spacing, _ = frame_times(fr.timestamp_s, len(fr), prev, period)
            period, prev = spacing, fr.timestamp_s
            ts.append(t)
            vals.append(fr.values)
            owner.append(np.full(len(fr), i))
        if ts:
            times[mtype] = (np.concatenate(ts), np.vstack(vals), np.concatenate(owner))
    if ACC not in times or GYRO not in times:
        return Decoded.empty(bad)
    ta, va, oa = times[ACC]
    tg, vg, _ = times[GYRO]
    period = float(np.median(np.diff(ta))) if len(ta) > 1 else 0.0
    ra, rg = pair(ta, tg, 0.5 * period)
    n_per = np.bincount(oa[ra], minlength=len(packets)).astype(np.int64)
    bad_rows = {i for i, _ in bad}
    return Decoded(
        acc_mps2=mg_to_mps2(va[ra]),
        gyro_dps=vg[rg],
        device_time_s=ta[ra],
        sample_index=np.full(len(ra), -1, dtype=np.int64),
        packet_n=np.array([n_per[i] for i in range(len(packets)) if i not in bad_rows], np.int64),
        bad=sorted(bad),
    )


def _period_guess(frames: list[Frame]) -> float:
    """The sample spacing of a list of frames of one stream from their timestamps (s)."""
    if len(frames) < 2:
        return 1.0 / 52
    dt = np.diff([f.timestamp_s for f in frames]) / np.array([len(f) for f in frames[1:]])
    return float(np.median(dt))
