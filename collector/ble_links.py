"""One connected sensor per family: configure it on connect, turn its notifications into blocks.

A link outlives its BLE connections: sample counters, the clock mapping and what the first
connection measured (the WitMotion rate) carry over a reconnection, so a reconnection costs only
the time the sensor was away and gaps are measured across it. Notification callbacks only stamp
the arrival time and queue the bytes; :meth:`Link.drain` decodes (vectorised per device family),
maps device time to session time and returns blocks and counted problems.

A notification is the unit for every family: one that is not exactly what the sensor sends is
dropped whole, counted (``LinkStats.malformed``) and reported as an ``error`` event (at most
:data:`EVENTS_PER_S` a second; more are folded into the next one's ``count``) and a log line (the
first :data:`LOG_FIRST` one by one, then one summary every :data:`LOG_EVERY_S` s); its bytes are
never joined with the next notification's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collector.clock import ArrivalClock, DeviceClock, next_ping_delay_s
from collector.errors import CollectorError
from collector.model import Role, SampleBlock, SensorInfo, SourceEvent
from collector.protocols import movella, strap, witmotion
from collector.protocols.common import Decoded

log = logging.getLogger(__name__)
LOG_FIRST = 3  # malformed notifications logged one by one, then ...
LOG_EVERY_S = 10.0  # ... at most one summary line this often (s)
EVENTS_PER_S = 20  # error events per second per sensor; more are counted into the next one
WRAP_S = 2**32 * 1e-6  # a uint32 µs clock wraps after this many seconds (≈ 71.6 min)
Item = tuple[float, SampleBlock | SourceEvent]


@dataclass
class LinkStats:
    """Counts for one sensor: notifications, samples, malformed (dropped) notifications,
    time per stage."""

    notifications: int = 0
    samples: int = 0
    malformed: int = 0
    connects: int = 0
    drops: int = 0
    decode_s: float = 0.0
    clock_s: float = 0.0
    pings: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Link:
    """Base: the pending notifications of one sensor and the conversion into blocks."""

    kind = ""
    raw_format = ""

    def __init__(self, role: Role, rate_hz: float, now: Callable[[], float]) -> None:
        self.role = role
        self.requested_rate_hz = rate_hz
        self.rate_hz = rate_hz
        self.now = now  # session time, s
        self.pending: list[tuple[float, bytes]] = []
        self.held: list[tuple[float, bytes, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.stats = LinkStats()
        self.info: SensorInfo | None = None
        self.wake: Callable[[], None] = lambda: None
        self.streaming = False
        self.clock: DeviceClock = DeviceClock()
        self._log_next_t = -math.inf  # when the next summary line may be logged
        self._log_untold = 0  # malformed notifications not logged yet
        self._ev_window = (-math.inf, 0)  # (start, events emitted) of the current second
        self._ev_folded = 0  # malformed notifications not reported in an event yet

    # -- called by bleak ----------------------------------------------------------------------

    def on_data(self, _char: Any, data: bytearray) -> None:
        """Notification callback: stamp and queue (decoding happens in :meth:`drain`)."""
        if self.streaming:
            self.pending.append((self.now(), bytes(data)))
            self.wake()

    # -- per family ---------------------------------------------------------------------------

    async def setup(self, client: Any, name: str, address: str) -> list[SourceEvent]:
        """Configure and start the sensor on a fresh connection; set ``info``."""
        raise NotImplementedError

    async def run_while_connected(self, client: Any) -> None:
        """Background work during a connection (time-sync pings); returns when cancelled."""
        await asyncio.Event().wait()

    async def stop(self, client: Any) -> None:
        """Ask the sensor to stop streaming (best effort, before a clean disconnect)."""

    def decode_pending(self, batch: list[tuple[float, bytes]]) -> list[Item]:
        raise NotImplementedError

    # -- common ---------------------------------------------------------------------------------

    def drain(self) -> list[Item]:
        """Decode everything received since the last call: blocks and problem events."""
        if not self.pending:
            return []
        batch, self.pending = self.pending, []
        self.stats.notifications += len(batch)
        return self.decode_pending(batch)

    def _bad(self, t: float, raw: bytes, why: str) -> list[Item]:
        """Count one malformed notification (arrived at ``t``) that was dropped whole: a log line
        and an ``error`` event, both rate-limited (the counts stay exact)."""
        st = self.stats
        st.malformed += 1
        self._log_untold += 1
        if st.malformed <= LOG_FIRST or t >= self._log_next_t:
            if self._log_untold == 1:
                log.warning("%s: malformed notification dropped (%s)", self.role, why)
            else:
                log.warning("%s: %d malformed notifications dropped since the last report (%d in"
                            " all; latest: %s)", self.role, self._log_untold, st.malformed,
                            why)  # fmt: skip
            if st.malformed == LOG_FIRST:
                log.warning("%s: further malformed notifications are summarised every %.0f s",
                            self.role, LOG_EVERY_S)  # fmt: skip
            self._log_untold = 0
            if st.malformed >= LOG_FIRST:
                self._log_next_t = t + LOG_EVERY_S
        start, emitted = self._ev_window
        if t - start >= 1.0:
            start, emitted = t, 0
        self._ev_folded += 1
        if emitted >= EVENTS_PER_S:
            self._ev_window = (start, emitted)
            return []
        self._ev_window = (start, emitted + 1)
        detail = {
            "what": "malformed notification", "message": "malformed notification dropped",
            "why": why, "bytes": raw[:64].hex(), "count": self._ev_folded, "total": st.malformed,
        }  # fmt: skip
        self._ev_folded = 0
        return [(t, SourceEvent(t, "error", self.role, detail))]

    def _emit(
        self, arrival: float, raw: bytes, acc: np.ndarray, gyr: np.ndarray, dev: np.ndarray,
        idx: np.ndarray,
    ) -> list[Item]:  # fmt: skip
        """Map and emit one packet's samples, or hold them until the clock is ready."""
        self.held.append((arrival, raw, acc, gyr, dev, idx))
        if not self.clock.ready:
            return []
        out: list[Item] = []
        t0 = time.perf_counter()
        for a, r, ac, gy, dv, ix in self.held:
            t = self.clock.map(dv)
            out.append(
                (a, SampleBlock(self.role, t, dv, ac, gy, ix, r, self.raw_format, arrival_s=a))
            )
            self.stats.samples += len(ix)
        self.held.clear()
        self.stats.clock_s += time.perf_counter() - t0
        return out


def _unwrap_time(raw_s: float, last_raw: float | None, last: float, expect_dt: float) -> float:
    """Unwrap a wrapping µs clock (in s): the candidate closest to ``last + expect_dt``."""
    if last_raw is None:
        return raw_s
    k = round((last + expect_dt - raw_s) / WRAP_S)
    return raw_s + k * WRAP_S


class StrapLink(Link):
    """Our strap: sequence numbers, device timestamps and time-sync pings."""

    kind = strap.KIND
    raw_format = strap.RAW_FORMAT

    def __init__(self, role: Role, rate_hz: float, now: Callable[[], float]) -> None:
        super().__init__(role, rate_hz, now)
        self.clock = DeviceClock(expect_sync=True)
        self._last_seq_raw: int | None = None
        self._last_index = -1
        self._last_t_raw: float | None = None
        self._last_t = 0.0
        self._index_base = 0
        self._pings: dict[int, float] = {}
        self._token = 0
        self._stream_start = math.nan
        self._rng = np.random.default_rng()
        self._period_s = 1.0 / rate_hz

    async def setup(self, client: Any, name: str, address: str) -> list[SourceEvent]:
        events = []
        rate = round(min(max(self.requested_rate_hz, strap.RATE_MIN_HZ), strap.RATE_MAX_HZ))
        if rate != self.requested_rate_hz:
            events.append(self._status(f"strap rate {self.requested_rate_hz:g} Hz → {rate} Hz"))
        self.rate_hz = float(rate)
        self._period_s = 1.0 / rate
        firmware = await _read_text(client, strap.FIRMWARE_REVISION_UUID)
        await client.start_notify(strap.CONTROL_UUID, self._on_control)
        await client.start_notify(strap.DATA_UUID, self.on_data)
        await client.write_gatt_char(strap.CONTROL_UUID, strap.cmd_set_ranges(16, 2000), True)
        await client.write_gatt_char(strap.CONTROL_UUID, strap.cmd_set_rate(rate), True)
        state = strap.parse_state(bytes(await client.read_gatt_char(strap.CONTROL_UUID)))
        if state is None or state.rate_hz != rate:
            raise CollectorError(f"{name or address}: the strap did not accept {rate} Hz")
        self.streaming = True
        await client.write_gatt_char(strap.CONTROL_UUID, strap.cmd_start(), True)
        if math.isnan(self._stream_start):
            self._stream_start = self.now()
        self.info = SensorInfo(
            self.role, strap.KIND, float(rate), name, address, firmware,
            state.acc_range_g, state.gyro_range_dps,
        )  # fmt: skip
        return events

    def _status(self, text: str) -> SourceEvent:
        return SourceEvent(self.now(), "status", self.role, {"text": text})

    async def run_while_connected(self, client: Any) -> None:
        # Time-sync pings at random moments (see collector.clock.DeviceClock).
        while True:
            await asyncio.sleep(next_ping_delay_s(self._rng, self.now() - self._stream_start))
            self._token = (self._token + 1) & 0xFFFFFFFF
            self._pings[self._token] = self.now()
            if len(self._pings) > 1000:  # answers lost with a drop
                for k in list(self._pings)[:500]:
                    del self._pings[k]
            await client.write_gatt_char(
                strap.CONTROL_UUID, strap.cmd_time_sync(self._token), False
            )
            self.stats.pings += 1

    def _on_control(self, _char: Any, data: bytearray) -> None:
        resp = strap.parse_response(bytes(data))
        if resp is None:
            return
        sync = strap.parse_time_sync(resp)
        if sync is None:
            if not resp.ok:
                log.warning("%s: strap answered %s to command 0x%02x", self.role, resp.result,
                            resp.opcode)  # fmt: skip
            return
        token, t_us = sync
        sent = self._pings.pop(token, None)
        if sent is None or self._last_t_raw is None:
            return
        t = _unwrap_time(t_us * 1e-6, self._last_t_raw, self._last_t, 0.0)
        self.clock.observe_sync(t, sent)

    async def stop(self, client: Any) -> None:
        self.streaming = False
        await client.write_gatt_char(strap.CONTROL_UUID, strap.cmd_stop(), True)

    def decode_pending(self, batch: list[tuple[float, bytes]]) -> list[Item]:
        t0 = time.perf_counter()
        raws = [r for _, r in batch]
        dec = strap.decode(raws)
        self.stats.decode_s += time.perf_counter() - t0
        out: list[Item] = []
        for i, why in dec.bad:
            out.extend(self._bad(batch[i][0], batch[i][1], why))
        bad = {i for i, _ in dec.bad}
        good = [i for i in range(len(batch)) if i not in bad]
        ends = np.cumsum(dec.packet_n)
        for k, i in enumerate(good):
            a, b = int(ends[k] - dec.packet_n[k]), int(ends[k])
            out.extend(self._packet(batch[i][0], batch[i][1], dec, a, b))
        return out

    def _packet(self, arrival: float, raw: bytes, dec: Decoded, a: int, b: int) -> list[Item]:
        out: list[Item] = []
        seq_raw = int(dec.sample_index[a])
        n = b - a
        if self._last_seq_raw is None:
            index = seq_raw
        else:
            step = (seq_raw - self._last_seq_raw) % 2**32
            if step >= 2**31:  # counter went back: the strap restarted
                out.append((arrival, self._status("strap restarted: counters and clock reset")))
                self.clock.reset()
                self._last_t_raw = None
                step = self._last_index - self._index_base + 1
                self._index_base = self._last_index + 1 - seq_raw
            index = self._last_index + step if step else self._last_index + 1
        t_raw = float(dec.device_time_s[a])
        expect = (index - self._last_index) * self._period_s
        t_first = _unwrap_time(t_raw, self._last_t_raw, self._last_t, expect)
        dev = t_first + (dec.device_time_s[a:b] - t_raw)
        idx = index + np.arange(n, dtype=np.int64)
        self._last_seq_raw = (seq_raw + n - 1) % 2**32
        self._last_index = int(idx[-1])
        self._last_t_raw = float(dec.device_time_s[b - 1])
        self._last_t = float(dev[-1])
        t0 = time.perf_counter()
        self.clock.observe(float(dev[-1]), arrival)
        self.stats.clock_s += time.perf_counter() - t0
        out.extend(self._emit(arrival, raw, dec.acc_mps2[a:b], dec.gyro_dps[a:b], dev, idx))
        return out


_Held = tuple[float, bytes, np.ndarray, np.ndarray, float]  # arrival, raw, acc, gyro, t_raw


class MovellaLink(Link):
    """Movella DOT: µs timestamps (sample counter derived from them), payload mode 21.

    The payload has no header or checksum, so the timestamp is what tells a payload of the
    stream from garbage: it must advance (by at least half a period) and must not claim a
    sample taken after the notification arrived (against the clock fit, with
    :data:`AHEAD_TOL_S` + 0.1 % of the step to spare). A payload that does not follow is dropped
    whole and counted. On a fresh connection the DOT may have restarted (its clock with it), so
    first payloads that do not follow are held (up to :data:`MAX_HELD`) until a later one
    follows one of them: then the DOT restarted (clock mapping reset, both kept, the others
    dropped); if a later one follows the stream, the held ones were garbage.
    """

    kind = movella.KIND
    raw_format = movella.RAW_FORMAT
    AHEAD_TOL_S = 1.0
    MAX_HELD = 4

    def __init__(self, role: Role, rate_hz: float, now: Callable[[], float]) -> None:
        super().__init__(role, rate_hz, now)
        self._last_t_raw: float | None = None
        self._last_t = 0.0
        self._last_index = -1
        self._last_arrival = math.nan
        self._fresh = True  # no payload of this connection has followed the stream yet
        self._connected_at = -math.inf  # payloads that arrived before are of the last one
        self._held: list[_Held] = []  # payloads of a fresh connection awaiting a second

    async def setup(self, client: Any, name: str, address: str) -> list[SourceEvent]:
        events = []
        rate = min(movella.STREAM_RATES_HZ, key=lambda r: abs(r - self.requested_rate_hz))
        if rate != self.requested_rate_hz:
            text = f"Movella DOT streams at {rate} Hz (asked for {self.requested_rate_hz:g})"
            events.append(SourceEvent(self.now(), "status", self.role, {"text": text}))
        self.rate_hz = float(rate)
        info = movella.parse_device_info(
            bytes(await client.read_gatt_char(movella.DEVICE_INFO_UUID))
        )
        await client.write_gatt_char(
            movella.DEVICE_CONTROL_UUID, movella.cmd_set_output_rate(rate), True
        )
        got = movella.parse_output_rate(
            bytes(await client.read_gatt_char(movella.DEVICE_CONTROL_UUID))
        )
        if got != rate:
            raise CollectorError(f"{name or address}: the DOT did not accept {rate} Hz")
        self._fresh, self._connected_at = True, self.now()
        await client.start_notify(movella.MEDIUM_PAYLOAD_UUID, self.on_data)
        self.streaming = True
        await client.write_gatt_char(movella.CONTROL_UUID, movella.cmd_start(), True)
        self.info = SensorInfo(
            self.role, movella.KIND, float(rate), name, address,
            info.firmware if info else "", 16.0, 2000.0,
            {"payload_mode": movella.MODE_RATE_QUANTITIES, "units": "calibrated m/s², °/s"},
        )  # fmt: skip
        return events

    async def stop(self, client: Any) -> None:
        self.streaming = False
        await client.write_gatt_char(movella.CONTROL_UUID, movella.cmd_stop(), True)

    def _follows(self, t_raw: float, arrival: float, ref: tuple[float, float, float],
                 use_fit: bool) -> float | None:  # fmt: skip
        """The unwrapped device time of ``t_raw`` if it follows ``ref`` = (raw, unwrapped,
        arrival) of an earlier payload, else None."""
        period = 1.0 / self.rate_hz
        t = _unwrap_time(t_raw, ref[0], ref[1], period)
        dt = t - ref[1]
        if dt < 0.5 * period:
            return None  # repeated or gone back
        fit = self.clock.fit if use_fit else None
        ahead = float(fit(t)) - arrival if fit is not None else dt - (arrival - ref[2])
        return t if ahead <= self.AHEAD_TOL_S + 1e-3 * dt else None

    def decode_pending(self, batch: list[tuple[float, bytes]]) -> list[Item]:
        t0 = time.perf_counter()
        dec = movella.decode([r for _, r in batch])
        self.stats.decode_s += time.perf_counter() - t0
        out: list[Item] = []
        for i, why in dec.bad:
            out.extend(self._bad(batch[i][0], batch[i][1], why))
        bad = {i for i, _ in dec.bad}
        for k, i in enumerate(i for i in range(len(batch)) if i not in bad):
            arrival, raw = batch[i]
            acc, gyr = dec.acc_mps2[k : k + 1], dec.gyro_dps[k : k + 1]
            out.extend(self._payload(arrival, raw, acc, gyr, float(dec.device_time_s[k])))
        return out

    def _payload(self, arrival: float, raw: bytes, acc: np.ndarray, gyr: np.ndarray,
                 t_raw: float) -> list[Item]:  # fmt: skip
        fresh = self._fresh and arrival >= self._connected_at
        t = None
        if self._last_t_raw is not None:
            ref = (self._last_t_raw, self._last_t, self._last_arrival)
            t = self._follows(t_raw, arrival, ref, use_fit=True)
        if t is not None:
            out = self._drop_held(self._held)  # none of them followed the stream: garbage
            if fresh:
                self._fresh = False
            return out + self._accept(arrival, raw, acc, gyr, t_raw, t)
        if not fresh:
            why = f"timestamp {t_raw:.6f} s does not follow the stream ({self._last_t:.6f} s)"
            return self._bad(arrival, raw, why)
        # The first payloads of a connection that do not follow the stream: the first two that
        # agree with each other are the stream of a restarted DOT, the others garbage.
        for j in range(len(self._held) - 1, -1, -1):
            ha, hraw, hacc, hgyr, ht = self._held[j]
            t = self._follows(t_raw, arrival, (ht, ht, ha), use_fit=False)
            if t is None:
                continue
            out = self._drop_held(self._held[:j] + self._held[j + 1 :])
            self._fresh = False
            if self._last_t_raw is not None:
                text = "Movella DOT clock restarted: clock mapping reset"
                out.append((ha, SourceEvent(ha, "status", self.role, {"text": text})))
                log.warning("%s: %s", self.role, text)
                self.clock.reset()
            out.extend(self._accept(ha, hraw, hacc, hgyr, ht, ht, restart=True))
            return out + self._accept(arrival, raw, acc, gyr, t_raw, t)
        self._held.append((arrival, raw, acc, gyr, t_raw))
        if len(self._held) > self.MAX_HELD:
            return self._drop_held(self._held[:1], keep=self._held[1:])
        return []

    def _drop_held(self, drop: list[_Held], keep: list[_Held] | None = None) -> list[Item]:
        """Count held payloads as malformed; keep holding ``keep``."""
        self._held = keep or []
        out: list[Item] = []
        for ha, hraw, _, _, ht in drop:
            out.extend(self._bad(ha, hraw, f"timestamp {ht:.6f} s follows neither the stream "
                                           "nor the payloads after it"))  # fmt: skip
        return out

    def _accept(self, arrival: float, raw: bytes, acc: np.ndarray, gyr: np.ndarray,
                t_raw: float, t: float, restart: bool = False) -> list[Item]:  # fmt: skip
        period = 1.0 / self.rate_hz
        if self._last_t_raw is None:
            index = 0
        elif restart:  # the device clock cannot tell how many were missed: the arrivals can
            index = self._last_index + max(1, round((arrival - self._last_arrival) / period))
        else:
            index = self._last_index + max(1, round((t - self._last_t) / period))
        self._last_t_raw, self._last_t, self._last_index = t_raw, t, index
        self._last_arrival = arrival
        self.clock.observe(t, arrival)
        return self._emit(arrival, raw, acc, gyr, np.array([t]), np.array([index], dtype=np.int64))


class WitMotionLink(Link):
    """WitMotion: rate set by register and verified by counting packets on the first
    connection; timed from arrival. A reconnection keeps the rate (saved in the sensor) and
    the arrival clock, and streams at once."""

    kind = witmotion.KIND
    raw_format = witmotion.RAW_FORMAT
    VERIFY_S = 1.0

    def __init__(self, role: Role, rate_hz: float, now: Callable[[], float]) -> None:
        super().__init__(role, rate_hz, now)
        self._arrivals: list[float] = []
        self._per_notification = 1  # data packets in the last valid notification
        self.arrival_clock: ArrivalClock | None = None

    def _count(self, _char: Any, data: bytearray) -> None:
        n = len(witmotion.parse_notification(bytes(data)).data)
        self._arrivals.extend([self.now()] * n)

    async def _measure_rate(self) -> float:
        self._arrivals.clear()
        await asyncio.sleep(0.25)  # let the new rate settle
        self._arrivals.clear()
        await asyncio.sleep(self.VERIFY_S)
        return len(self._arrivals) / self.VERIFY_S

    async def setup(self, client: Any, name: str, address: str) -> list[SourceEvent]:
        if self.arrival_clock is not None:
            # A reconnection: the first connection set the rate, saved it in the sensor and
            # measured it; measuring again would throw away VERIFY_S + 0.25 s of samples.
            self.streaming = True
            await client.start_notify(witmotion.NOTIFY_UUID, self.on_data)
            return []
        events = []
        supported = [*witmotion.RATE_CODES, 200]
        rate = min(supported, key=lambda r: abs(r - self.requested_rate_hz))
        if rate != self.requested_rate_hz:
            text = f"WitMotion rate {self.requested_rate_hz:g} Hz → {rate} Hz"
            events.append(SourceEvent(self.now(), "status", self.role, {"text": text}))
        self.streaming = False
        await client.start_notify(witmotion.NOTIFY_UUID, self._count)
        measured = 0.0
        for code in witmotion.rate_codes(rate):
            for cmd in witmotion.configure_commands(code):
                await client.write_gatt_char(witmotion.WRITE_UUID, cmd, False)
                await asyncio.sleep(0.05)
            measured = await self._measure_rate()
            if abs(measured - rate) <= 0.15 * rate:
                break
        if abs(measured - rate) > 0.15 * rate:
            if measured <= 0:
                raise CollectorError(f"{name or address}: the WitMotion sensor sends no data")
            text = (
                f"WitMotion did not take {rate} Hz: it sends {measured:.0f} packets/s; using that"
            )
            events.append(SourceEvent(self.now(), "status", self.role, {"text": text}))
            log.warning("%s: %s", self.role, text)
            rate = round(measured)
        self.rate_hz = float(rate)
        await client.stop_notify(witmotion.NOTIFY_UUID)
        self.arrival_clock = ArrivalClock(rate)
        self.clock = self.arrival_clock.clock
        self.streaming = True
        await client.start_notify(witmotion.NOTIFY_UUID, self.on_data)
        self.info = SensorInfo(
            self.role, witmotion.KIND, float(rate), name, address, "", witmotion.ACC_RANGE_G,
            witmotion.GYRO_RANGE_DPS, {"timing": "arrival (no device clock)",
                                       "measured_rate_hz": measured},
        )  # fmt: skip
        return events

    def decode_pending(self, batch: list[tuple[float, bytes]]) -> list[Item]:
        assert self.arrival_clock is not None
        out: list[Item] = []
        for arrival, raw in batch:
            t0 = time.perf_counter()
            frames = witmotion.parse_notification(raw)
            self.stats.decode_s += time.perf_counter() - t0
            if frames.bad:
                out.extend(self._bad(arrival, raw, frames.bad))
                # it stood for the samples of a notification: later ones keep their place
                self.arrival_clock.skip(self._per_notification)
                continue
            if len(frames.data) == 0:
                continue  # register replies only
            dec = witmotion.decode_rows(frames.data)
            self._per_notification = len(dec)
            t0 = time.perf_counter()
            idx, dev = self.arrival_clock.assign(len(dec), arrival)
            self.stats.clock_s += time.perf_counter() - t0
            out.extend(self._emit(arrival, raw, dec.acc_mps2, dec.gyro_dps, dev, idx))
        return out


LINKS: dict[str, type[Link]] = {
    strap.KIND: StrapLink,
    movella.KIND: MovellaLink,
    witmotion.KIND: WitMotionLink,
}


async def _read_text(client: Any, uuid: str) -> str:
    try:
        return bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace").strip("\0")
    except Exception as e:  # optional characteristic
        log.debug("cannot read %s: %s", uuid, e)
        return ""
