"""Check a strap against its profile: a measured session, judged criterion by criterion.

:func:`measure` connects to one strap through bleak, reads its device information, configures it
(±16 g, ±2000 °/s, the rate asked), streams for the duration while sending time-sync pings as the
collector does, and keeps every notification and ping with its host time. :func:`evaluate` is a
pure function of that :class:`Measurement`: it decodes the packets with the collector's decoder
and judges eight criteria against :class:`Limits` (``flossmeter check-strap``; the definitions are
in ``firmware_specs/README.md``, "How flossmeter verifies a strap").
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np

from collector.clock import DeviceClock, lower_envelope_fit, next_ping_delay_s
from collector.errors import CollectorError
from collector.protocols import strap

WRAP = 2**32
ACC_RANGE_G = 16.0
GYRO_RANGE_DPS = 2000.0


@dataclass(frozen=True)
class Limits:
    """What check-strap accepts. The profile fixes the packet layout, N per notification and the
    rate; the tolerances below are flossmeter's, each with its reason."""

    #: samples per second on the host clock vs the rate set (the analysis trusts time stamps, not
    #: the rate; 0.5 % still catches an IMU on a wrong ODR, e.g. 104 Hz for 100)
    rate_tolerance: float = 0.005
    #: declared ``period_ns`` vs the period measured on the strap's clock (µs stamps vs counter)
    period_tolerance: float = 500e-6
    #: packet stamps off the counter's line: the 2 ms head–shin alignment budget, halved
    stamp_jitter_s: float = 0.001
    #: lost samples / samples the counter says were taken (a BLE link retransmits: a strap that
    #: keeps up loses none)
    max_loss: float = 0.001
    #: device clock drift vs the host: what the collector's clock model accepts
    max_drift_ppm: float = DeviceClock().max_drift * 1e6
    #: time-sync pings answered (written without response; only a full reply queue loses them)
    min_answered: float = 0.99
    #: median ping round trip: one connection interval each way (≤ 50 ms on Linux)
    max_round_trip_s: float = 0.100
    #: a sample mapped (through the ping stamps) after its notification arrived, by more than
    #: this, means the strap stamps pings too early (not when the write arrived)
    causality_s: float = 0.001


@dataclass
class Measurement:
    """What one check session saw. Times are host seconds since the session started."""

    name: str
    address: str
    rate_hz: int
    duration_s: float
    mtu: int | None = None  # ATT MTU BlueZ reported (None: not reported; 247 assumed)
    firmware: str | None = None
    model: str | None = None
    battery_pct: int | None = None
    replies: dict[str, str] = field(default_factory=dict)  # command → result word
    state: strap.StrapState | None = None
    packets: list[tuple[float, bytes]] = field(default_factory=list)  # (arrival, notification)
    pings: list[tuple[int, float]] = field(default_factory=list)  # (token, sent)
    answers: list[tuple[int, int, float]] = field(default_factory=list)  # (token, t_us, received)


@dataclass(frozen=True)
class Criterion:
    """One line of the verdict: name, pass or fail, what was measured, what is allowed."""

    name: str
    passed: bool
    measured: str
    limit: str


def _unwrap(raw: np.ndarray, modulus: int) -> np.ndarray:
    """A wrapping counter as int64, continuous (steps of less than half the modulus)."""
    raw = np.asarray(raw, dtype=np.int64)
    if len(raw) == 0:
        return raw
    step = (np.diff(raw) + modulus // 2) % modulus - modulus // 2
    return raw[0] + np.concatenate([[0], np.cumsum(step)])


def _read(m: Measurement) -> dict[str, np.ndarray] | None:
    """Per valid packet: first sample's counter and device time (s), N, period, arrival."""
    dec = strap.decode([p for _, p in m.packets])
    bad = {i for i, _ in dec.bad}
    good = [i for i in range(len(m.packets)) if i not in bad]
    if not good:
        return None
    raws = [m.packets[i][1] for i in good]
    header = np.frombuffer(b"".join(r[: strap.HEADER_SIZE] for r in raws), strap.HEADER_DTYPE)
    return {
        "seq": _unwrap(header["seq"], WRAP),
        "t_s": _unwrap(header["t_us"], WRAP) * 1e-6,
        "t_us0": int(header["t_us"][0]),
        "n": np.asarray(dec.packet_n, dtype=np.int64),
        "period_ns": header["period_ns"].astype(np.int64),
        "arrival": np.array([m.packets[i][0] for i in good]),
        "last_t": (
            _unwrap(header["t_us"], WRAP) * 1e-6
            + (np.asarray(dec.packet_n) - 1) * header["period_ns"].astype(np.int64) * 1e-9
        ),
    }


def _ping_fit(m: Measurement, t0_us: int, t0_s: float) -> tuple[np.ndarray, ...] | None:
    """Answered pings as (device s, sent s, received s), sorted by device time."""
    sent = dict(m.pings)
    rows = []
    for token, t_us, received in m.answers:
        if token in sent:
            dev = t0_s + (((t_us - t0_us + WRAP // 2) % WRAP) - WRAP // 2) * 1e-6
            rows.append((dev, sent[token], received))
    if not rows:
        return None
    arr = np.array(sorted(rows))
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def expected_samples_per_packet(rate_hz: int, mtu: int) -> int:
    """N of the profile: round(rate × 20 ms), halves up as the C header rounds, at least 1, as
    many as the ATT MTU (bytes) holds (0: not even one)."""
    fit = min((mtu - 3 - strap.HEADER_SIZE) // strap.SAMPLE_SIZE, strap.MAX_SAMPLES)
    return max(0, min(max(1, (rate_hz * 2 + 50) // 100), fit))


def _info(m: Measurement) -> Criterion:
    ok = bool(m.firmware) and bool(m.model) and m.battery_pct is not None
    ok = ok and 0 <= (m.battery_pct or 0) <= 100
    bat = "–" if m.battery_pct is None else f"{m.battery_pct} %"
    seen = f"firmware {m.firmware or '–'}, model {m.model or '–'}, battery {bat}"
    return Criterion("device information", ok, seen, "all readable, battery 0–100 %")


def _configuration(m: Measurement) -> Criterion:
    st = m.state
    commands = ("set ranges", "set rate", "start")
    ok = (
        all(m.replies.get(k) == "ok" for k in commands)
        and st is not None
        and st.rate_hz == m.rate_hz
        and (st.acc_range_g, st.gyro_range_dps) == (ACC_RANGE_G, GYRO_RANGE_DPS)
    )
    said = ", ".join(f"{k} {m.replies.get(k, 'no answer')}" for k in commands)
    state = (
        f"state {st.rate_hz} Hz ±{st.acc_range_g:g} g ±{st.gyro_range_dps:g} °/s"
        if st
        else "state unreadable"
    )
    limit = f"{m.rate_hz} Hz, ±16 g, ±2000 °/s accepted and read back"
    return Criterion("configuration", ok, f"{said}; {state}", limit)


def _notifications(m: Measurement, p: dict[str, np.ndarray], n_bad: int) -> Criterion:
    want = expected_samples_per_packet(m.rate_hz, m.mtu or 247)
    n = p["n"]
    # a packet may be short only where the counter jumps after it (a gap) or at the end
    follows = np.append(p["seq"][1:] == p["seq"][:-1] + n[:-1], False)
    wrong = int(np.sum((n > want) | ((n != want) & follows)))
    mtu = f"MTU {m.mtu}" if m.mtu else "MTU not reported, 247 assumed"
    return Criterion(
        "notifications",
        n_bad == 0 and wrong == 0,
        f"{len(m.packets)} received, {n_bad} malformed, {wrong} not holding N = {want}",
        f"0 malformed; N = {want} samples each ({m.rate_hz} Hz, {mtu})",
    )


def _clock(m: Measurement, p: dict[str, np.ndarray]) -> tuple[float, float, str, tuple | None]:
    """(offset s, slope, source, pings): session = offset + slope · device time. From the upper
    envelope of the pings (a stamp is taken after its ping was sent), else from the lower
    envelope of the data arrivals (a sample is taken before its packet arrives)."""
    pings = _ping_fit(m, int(p["t_us0"]), float(p["t_s"][0]))
    if pings is not None and len(pings[0]) >= 20 and pings[0][-1] - pings[0][0] > 1.0:
        off, slope = lower_envelope_fit(pings[0], -pings[1])
        return -off, -slope, "pings", pings
    offset, slope = lower_envelope_fit(p["last_t"], p["arrival"])
    return offset, slope, "data arrivals", pings


def _rate(m: Measurement, p: dict[str, np.ndarray], slope: float, lim: Limits) -> Criterion:
    # the counter per second of the strap's clock, on the host's clock
    span = float(p["t_s"][-1] - p["t_s"][0])
    rate_dev = float(p["seq"][-1] - p["seq"][0]) / span if span > 0 else math.nan
    rate_host = rate_dev / slope
    err = rate_host / m.rate_hz - 1
    return Criterion(
        "sample rate",
        bool(abs(err) <= lim.rate_tolerance),
        f"{rate_host:.3f} Hz on the host clock ({err * 100:+.2f} %)",
        f"{m.rate_hz} Hz ± {_fmt_pct(lim.rate_tolerance)}",
    )


def _device_time(p: dict[str, np.ndarray], lim: Limits) -> Criterion:
    seq, t_s = p["seq"] - p["seq"][0], p["t_s"] - p["t_s"][0]
    if len(seq) >= 2 and seq[-1] > 0:
        fit = np.polyfit(seq, t_s, 1)  # the period on the strap's own clock (s per sample)
        measured_ns = fit[0] * 1e9
        worst = float(np.max(np.abs(np.polyval(fit, seq) - t_s)))
    else:
        measured_ns, worst = math.nan, math.nan
    declared = float(np.median(p["period_ns"]))
    err = declared / measured_ns - 1
    ok = bool(abs(err) <= lim.period_tolerance and worst <= lim.stamp_jitter_s)
    return Criterion(
        "device time",
        ok,
        f"period {declared:.0f} ns declared, {measured_ns:.0f} ns measured ({err * 1e6:+.0f} ppm);"
        f" stamps within {worst * 1e3:.3f} ms of the counter",
        f"± {lim.period_tolerance * 1e6:.0f} ppm; ≤ {lim.stamp_jitter_s * 1e3:g} ms",
    )


def _loss(p: dict[str, np.ndarray], lim: Limits) -> Criterion:
    seq, n = p["seq"], p["n"]
    taken: set[int] = set()
    for s0, k in zip(seq.tolist(), n.tolist(), strict=True):
        taken.update(range(s0, s0 + k))
    expected = int(seq[-1] + n[-1] - seq[0])  # samples the counter says were taken
    lost = expected - len(taken)
    frac = lost / expected if expected else 1.0
    return Criterion(
        "loss",
        frac <= lim.max_loss,
        f"{lost} of {expected} samples ({_fmt_pct(frac)})",
        f"≤ {_fmt_pct(lim.max_loss)}",
    )


def _sync(m: Measurement, p: dict[str, np.ndarray], clock: tuple, lim: Limits) -> Criterion:
    offset, slope, _, pings = clock
    limit = (
        f"≥ {_fmt_pct(lim.min_answered)} answered, median ≤ {lim.max_round_trip_s * 1e3:.0f} ms,"
        f" none mapped > {lim.causality_s * 1e3:g} ms after arrival"
    )
    if pings is None or not m.pings:
        return Criterion("time sync", False, f"0 of {len(m.pings)} pings answered", limit)
    rtt = pings[2] - pings[1]
    late = float(np.max(offset + slope * p["last_t"] - p["arrival"]))  # > 0: after arrival
    answered = len(rtt) / len(m.pings)
    med = float(np.median(rtt))
    ok = answered >= lim.min_answered and med <= lim.max_round_trip_s and late <= lim.causality_s
    seen = (
        f"{len(rtt)} of {len(m.pings)} answered; round trip median {med * 1e3:.1f} ms, "
        f"p95 {np.percentile(rtt, 95) * 1e3:.1f} ms; samples mapped ≥ {-late * 1e3:.2f} ms "
        "before they arrived"
    )
    return Criterion("time sync", bool(ok), seen, limit)


def evaluate(m: Measurement, limits: Limits | None = None) -> list[Criterion]:
    """Judge a measurement against the profile and ``limits``: eight criteria, in order (device
    information, configuration, notifications, sample rate, device time, loss, clock drift,
    time sync; definitions in ``firmware_specs/README.md``)."""
    lim = limits or Limits()
    out = [_info(m), _configuration(m)]
    p = _read(m)
    n_bad = len(strap.decode([b for _, b in m.packets]).bad)
    if p is None:
        out.append(
            Criterion(
                "notifications", False, f"{len(m.packets)} received, none valid", "valid packets"
            )
        )
        names = ("sample rate", "device time", "loss", "clock drift", "time sync")
        return out + [Criterion(name, False, "no data", "–") for name in names]
    clock = _clock(m, p)
    drift = (1.0 / clock[1] - 1.0) * 1e6  # the strap's clock against the host's: + runs fast
    return [
        *out,
        _notifications(m, p, n_bad),
        _rate(m, p, clock[1], lim),
        _device_time(p, lim),
        _loss(p, lim),
        Criterion(
            "clock drift",
            bool(abs(drift) <= lim.max_drift_ppm),
            f"{drift:+.0f} ppm (from the {clock[2]})",
            f"± {lim.max_drift_ppm:.0f} ppm",
        ),
        _sync(m, p, clock, lim),
    ]


# -- the session over BLE --------------------------------------------------------------------


async def _text(client, uuid: str) -> str | None:
    """A Device Information string, or None if the strap has no such characteristic."""
    try:
        return bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace").strip("\0")
    except Exception:
        return None


async def measure(
    target: str, duration_s: float = 30.0, rate_hz: int = 100, scan_s: float = 10.0
) -> Measurement:
    """Connect to the strap ``target`` (address or name), stream ``duration_s`` s at ``rate_hz``
    with time-sync pings, and return everything seen. Problems a user can fix raise
    :class:`CollectorError`."""
    from bleak import BleakClient
    from bleak.exc import BleakError

    from collector.ble import bluetooth_errors, pick, scan, seen_all

    if not strap.RATE_MIN_HZ <= rate_hz <= strap.RATE_MAX_HZ:
        raise CollectorError(
            f"the strap profile's rates are {strap.RATE_MIN_HZ}–"
            f"{strap.RATE_MAX_HZ} Hz, not {rate_hz}"
        )
    found = pick(await scan(scan_s, seen_all(target)), target, scan_s=scan_s)
    if found.family is None or found.family.kind != strap.KIND:
        raise CollectorError(
            f"{found.adv.name or found.adv.address} is a {found.label}, not a flossmeter strap: "
            "check-strap checks straps that run the flossmeter profile"
        )
    m = Measurement(found.adv.name, found.adv.address, rate_hz, duration_s)
    t0 = time.monotonic()

    def now() -> float:
        return time.monotonic() - t0

    recording = False
    names = {
        strap.OPCODES["set_ranges"]: "set ranges",
        strap.OPCODES["set_rate"]: "set rate",
        strap.OPCODES["start"]: "start",
    }

    def on_data(_c, data: bytearray) -> None:
        if recording:
            m.packets.append((now(), bytes(data)))

    def on_control(_c, data: bytearray) -> None:
        resp = strap.parse_response(bytes(data))
        if resp is None:
            return
        sync = strap.parse_time_sync(resp)
        if sync is not None:
            m.answers.append((sync[0], sync[1], now()))
        elif resp.opcode in names:
            m.replies[names[resp.opcode]] = resp.result.replace("_", " ")

    client = BleakClient(found.device, timeout=10.0)
    try:
        async with bluetooth_errors():
            await client.connect()
            m.firmware = await _text(client, strap.FIRMWARE_REVISION_UUID)
            m.model = await _text(client, strap.MODEL_NUMBER_UUID)
            with contextlib.suppress(Exception):
                level = bytes(await client.read_gatt_char(strap.BATTERY_LEVEL_UUID))
                m.battery_pct = level[0] if level else None
            char = client.services.get_characteristic(strap.DATA_UUID)
            if char is None:
                raise CollectorError(f"{m.name or m.address} has no strap data characteristic")
            reported = char.max_write_without_response_size + 3
            m.mtu = reported if reported > 23 else None  # 23: BlueZ < 5.62 does not say
            await client.start_notify(strap.CONTROL_UUID, on_control)
            await client.start_notify(strap.DATA_UUID, on_data)
            control = strap.CONTROL_UUID
            await client.write_gatt_char(control, strap.cmd_set_ranges(16, 2000), True)
            await client.write_gatt_char(control, strap.cmd_set_rate(rate_hz), True)
            m.state = strap.parse_state(bytes(await client.read_gatt_char(control)))
            recording = True
            await client.write_gatt_char(control, strap.cmd_start(), True)
            await _ping(client, m, now, duration_s)
            recording = False
            await asyncio.sleep(0.5)  # the last pings' answers
            await client.write_gatt_char(control, strap.cmd_stop(), True)
    except (BleakError, TimeoutError, OSError, EOFError) as e:
        raise CollectorError(
            f"lost {m.name or m.address} during the check: {e or type(e).__name__}"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 5.0)
    return m


async def _ping(client, m: Measurement, now, duration_s: float) -> None:
    """Time-sync pings at random moments for ``duration_s`` s, as the collector sends them."""
    rng = np.random.default_rng()
    start = now()
    token = 0
    while True:
        await asyncio.sleep(next_ping_delay_s(rng, now() - start))
        if now() - start >= duration_s:
            return
        token += 1
        m.pings.append((token, now()))
        await client.write_gatt_char(strap.CONTROL_UUID, strap.cmd_time_sync(token), False)
