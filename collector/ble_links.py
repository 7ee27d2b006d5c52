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

from collector import health
from collector.clock import ArrivalClock, DeviceClock, next_ping_delay_s
from collector.errors import CollectorError
from collector.model import Role, SampleBlock, SensorInfo, SourceEvent
from collector.protocols import movella, polar, strap, witmotion
from collector.protocols.common import Decoded

log = logging.getLogger(__name__)
LOG_FIRST = 3  # malformed notifications logged one by one, then ...
LOG_EVERY_S = 10.0  # ... at most one summary line this often (s)
EVENTS_PER_S = 20  # error events per second per sensor; more are counted into the next one
WRAP_S = 2**32 * 1e-6  # a uint32 µs clock wraps after this many seconds (≈ 71.6 min)
Item = tuple[float, SampleBlock | SourceEvent]


@dataclass
class LinkStats:
    """Counts for one sensor over the whole session, across its connections (``flossmeter
    record`` stores them as the recording's ``ble_stats``; the BLE benchmark reads them).

    Attributes:
        notifications: data notifications received (decoded in :meth:`Link.drain`).
        samples: samples emitted in blocks, once mapped to session time.
        malformed: notifications dropped whole as not what the sensor sends.
        connects: connections made (the first, then each reconnection).
        drops: connections lost (the source then waits for the sensor to advertise again).
        decode_s: wall time spent decoding notifications, s.
        clock_s: wall time spent mapping device time to session time, s.
        pings: time-sync requests written (strap; their replies feed the clock).
        replies: notifications on the data characteristic that answer a command (WitMotion),
            not counted in ``notifications``.
        unpaired: samples of one stream whose partner in the other never came (Polar).
        extra: family-specific counts (none so far).
    """

    notifications: int = 0
    samples: int = 0
    malformed: int = 0
    connects: int = 0
    drops: int = 0
    decode_s: float = 0.0
    clock_s: float = 0.0
    pings: int = 0
    replies: int = 0
    unpaired: int = 0
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
        self.events: list[Item] = []  # from callbacks other than data (battery, signal)
        self.battery = health.BatteryWatch()
        self.rssi = health.RssiThinner()

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

    # -- battery and signal ---------------------------------------------------------------------

    battery_uuid = health.BATTERY_LEVEL_UUID  # the family's battery characteristic
    battery_source = "battery service"

    def parse_battery(self, data: bytes) -> tuple[float, dict[str, Any]] | None:
        """(level %, extra detail) of a battery characteristic value; None if not one."""
        pct = health.battery_level_pct(data)
        return None if pct is None else (pct, {})

    async def start_battery(self, client: Any) -> list[Item]:
        """Read the battery level on a fresh connection and follow it where it notifies; a
        device without the characteristic (or one that refuses) just has no level."""
        char = client.services.get_characteristic(self.battery_uuid)
        if char is None:
            return []
        try:
            out = self.battery_reading(self.now(), bytes(await client.read_gatt_char(char)))
            if "notify" in char.properties or "indicate" in char.properties:
                await client.start_notify(char, self._on_battery)
        except Exception as e:  # an optional characteristic: never fatal
            log.info("%s: battery level not available (%s)", self.role, e)
            return []
        return out

    def _on_battery(self, _char: Any, data: bytearray) -> None:
        self.events.extend(self.battery_reading(self.now(), bytes(data)))
        self.wake()

    def battery_reading(self, t: float, data: bytes) -> list[Item]:
        """A ``status`` event for a battery value that changed (a warning below the low mark)."""
        parsed = self.parse_battery(data)
        if parsed is None:
            log.info("%s: unreadable battery value %s", self.role, data.hex())
            return []
        return self._battery_event(t, *parsed)

    def _battery_event(self, t: float, pct: float, extra: dict[str, Any]) -> list[Item]:
        detail, warn = self.battery.reading(pct, self.battery_source, **extra)
        if detail is None:
            return []
        if warn:
            log.warning("%s strap battery low: %.0f %% (charge it after this session)",
                        self.role, pct)  # fmt: skip
        return [(t, SourceEvent(t, "status", self.role, detail))]

    def on_rssi(self, rssi_dbm: float) -> None:
        """BlueZ reported the device's signal strength (dBm): a ``status`` event, thinned out."""
        t = self.now()
        if self.rssi.keep(rssi_dbm, t):
            detail = {"rssi_dbm": int(rssi_dbm), "text": f"signal {int(rssi_dbm)} dBm"}
            self.events.append((t, SourceEvent(t, "status", self.role, detail)))
            self.wake()

    # -- common ---------------------------------------------------------------------------------

    def drain(self) -> list[Item]:
        """Decode everything received since the last call: blocks, problem and health events."""
        out, self.events = self.events, []
        if self.pending:
            batch, self.pending = self.pending, []
            self.stats.notifications += len(batch)
            out.extend(self.decode_pending(batch))
        return out

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
        return self._map_held()

    def _map_held(self) -> list[Item]:
        """Map the held packets' samples with the clock as it is and emit them."""
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
    battery_uuid = movella.BATTERY_UUID
    battery_source = "DOT battery characteristic"

    def parse_battery(self, data: bytes) -> tuple[float, dict[str, Any]] | None:
        got = health.movella_battery(data)
        return None if got is None else (got[0], {"charging": got[1]})

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
    BATTERY_EVERY_S = 60.0  # the vendor's own app reads the battery register about this often
    battery_source = "battery voltage register"

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

    async def start_battery(self, client: Any) -> list[Item]:
        # No Battery Service: the voltage register, read on the data characteristic's channel
        # (the reply comes back as a 55 71 packet among the data, see decode_pending).
        await client.write_gatt_char(
            witmotion.WRITE_UUID, witmotion.read_register(health.WITMOTION_BATTERY_REG), False
        )
        return []

    async def run_while_connected(self, client: Any) -> None:
        while True:
            await asyncio.sleep(self.BATTERY_EVERY_S)
            await self.start_battery(client)

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
            for reg, values in frames.registers:
                if reg == health.WITMOTION_BATTERY_REG:
                    volts = values[0] / 100.0  # the register holds the cell voltage in 10 mV
                    out.extend(self._battery_event(arrival, health.witmotion_battery_pct(volts),
                                                   {"battery_v": volts}))  # fmt: skip
            if len(frames.data) == 0:
                self.stats.notifications -= 1  # a reply to a command, not data
                self.stats.replies += 1
                continue
            dec = witmotion.decode_rows(frames.data)
            self._per_notification = len(dec)
            t0 = time.perf_counter()
            # a late notification is held until it is clear whether samples were lost before
            # it or it was delayed (collector.clock.ArrivalClock)
            decided = self.arrival_clock.add(len(dec), arrival, (arrival, raw, dec))
            self.stats.clock_s += time.perf_counter() - t0
            for (a, r, d), idx, dev in decided:
                out.extend(self._emit(a, r, d.acc_mps2, d.gyro_dps, dev, idx))
        return out


@dataclass
class _PmdStream:
    """One PMD stream's timing (ACC or GYRO): its last frame's timestamp and sample spacing."""

    period_s: float
    last_s: float | None = None  # sensor time of the last sample of the last accepted frame
    last_arrival: float = math.nan
    fresh: bool = True  # no frame of this connection accepted yet


@dataclass
class _AccFrame:
    """An accepted ACC frame waiting for the GYRO samples of its time span."""

    arrival: float
    raw: bytes
    t: np.ndarray  # sensor time of each sample, s
    acc_mps2: np.ndarray
    index: np.ndarray


class PolarLink(Link):
    """Polar Verity Sense (PMD): ACC and GYRO streams started at one rate (SDK mode above 52 Hz),
    timed by the sensor's ns clock and paired into 6-axis samples.

    The two streams arrive as separate frames with their own timestamps and sizes. Each sample
    gets its sensor time (:func:`collector.protocols.polar.frame_times`); an ACC sample and a GYRO
    sample are the same sample when each is the other's nearest within half a period
    (:func:`~collector.protocols.polar.pair`). An ACC frame waits until the GYRO stream has
    passed its last sample (or, if GYRO falls silent, :data:`GIVE_UP_S` of ACC later); its
    samples with a partner become one block, the others — a frame of either stream lost or
    malformed — a gap in the sample counter (``LinkStats.unpaired``). The counter follows the
    ACC stream's time. Each block keeps the raw records behind it (its ACC frame, the GYRO frames
    and control answers received since the last block; :func:`~collector.protocols.polar.
    pack_records`), so every valid notification is stored once. A frame whose timestamp does not
    follow its stream (it must advance by at least half its samples' time and not claim a sample
    taken over :data:`AHEAD_TOL_S` after it arrived) is dropped whole; on a fresh connection such
    a frame means the sensor's clock was set meanwhile: the clock mapping restarts.
    """

    kind = polar.KIND
    raw_format = polar.RAW_FORMAT
    AHEAD_TOL_S = 1.0
    GIVE_UP_S = 5.0  # sensor time an ACC frame waits for a silent GYRO stream
    COMMAND_TIMEOUT_S = 5.0
    FIRMWARE_UUID = strap.FIRMWARE_REVISION_UUID  # the standard Device Information 0x2A26

    def __init__(self, role: Role, rate_hz: float, now: Callable[[], float]) -> None:
        super().__init__(role, rate_hz, now)
        # frames come every 0.3–1.4 s: warm up on fewer packets than the per-sample families
        self.clock = DeviceClock(warmup_packets=8)
        self.sdk_mode = False
        self.factors: dict[int, float] = {}
        self.limits: dict[int, float] = polar.limits_for(polar.ACC_RANGE_G, polar.GYRO_RANGE_DPS)
        self.streams = {polar.ACC: _PmdStream(1 / 52), polar.GYRO: _PmdStream(1 / 52)}
        self._acc: list[_AccFrame] = []
        self._gyro_t = np.zeros(0)
        self._gyro_v = np.zeros((0, 3))
        self._records: list[tuple[int, bytes]] = []  # not yet kept in a block
        self._last_index = -1
        self._last_acc_t = math.nan
        self._last_acc_arrival = math.nan
        self._restarted = False
        self._answers: asyncio.Queue[bytes] = asyncio.Queue()

    # -- control point ----------------------------------------------------------------------

    def _on_control(self, _char: Any, data: bytearray) -> None:
        raw = bytes(data)
        if raw[:1] == bytes([polar.RESPONSE]):
            self._answers.put_nowait(raw)
        elif raw[:1] == bytes([polar.OP_MEASUREMENT_STOPPED]):
            names = ", ".join(polar.TYPE_NAMES.get(t, str(t)) for t in raw[1:])
            text = f"the Polar stopped its {names} stream (in its charger, or battery empty?)"
            log.warning("%s: %s", self.role, text)
            t = self.now()
            self.events.append((t, SourceEvent(t, "status", self.role, {"text": text})))
            self.wake()

    async def _command(self, client: Any, cmd: bytes, label: str) -> polar.Response:
        """Write a command and wait for its answer (joined if the sensor splits it); the answers
        are kept as raw records (start answers carry the factors a re-decoder needs)."""
        while not self._answers.empty():
            self._answers.get_nowait()  # stale answers of an earlier connection
        await client.write_gatt_char(polar.CONTROL_UUID, cmd, True)
        first: polar.Response | None = None
        params = b""
        try:
            async with asyncio.timeout(self.COMMAND_TIMEOUT_S):
                while True:
                    raw = await self._answers.get()
                    r = polar.parse_response(raw)
                    if r is None or r.opcode != cmd[0]:
                        continue
                    self._records.append((polar.REC_CONTROL, raw))
                    first = first or r
                    params += r.params
                    if not r.more:
                        break
        except TimeoutError:
            raise CollectorError(
                f"{label}: the Polar did not answer command {cmd.hex()} within "
                f"{self.COMMAND_TIMEOUT_S:g} s"
            ) from None
        assert first is not None
        return polar.Response(first.opcode, first.mtype, first.status, False, params)

    def _choose_rate(self, features: set[int]) -> list[SourceEvent]:
        """The rate of every connection, chosen on the first: the supported rate nearest the one
        asked for; above 52 Hz that needs SDK mode."""
        rates = polar.SDK_RATES_HZ if polar.SDK_MODE in features else polar.NORMAL_RATES_HZ
        rate = min(rates, key=lambda r: (abs(r - self.requested_rate_hz), r))
        self.sdk_mode = rate not in polar.NORMAL_RATES_HZ
        self.rate_hz = float(rate)
        for st in self.streams.values():
            st.period_s = 1.0 / rate
        if rate == self.requested_rate_hz:
            return []
        mode = " in SDK mode" if self.sdk_mode else ""
        asked = self.requested_rate_hz
        text = f"Polar Verity Sense streams at {rate} Hz{mode} (asked for {asked:g})"
        return [SourceEvent(self.now(), "status", self.role, {"text": text})]

    async def _start_stream(self, client: Any, mtype: int, want_range: int, label: str) -> int:
        """Start ACC or GYRO at the link's rate; the range used."""
        name = polar.TYPE_NAMES[mtype]
        rate = round(self.rate_hz)
        got = await self._command(client, polar.cmd_get_settings(mtype), label)
        offered = polar.parse_settings(got.params) if got.ok else None
        if not offered or rate not in offered.get(polar.SAMPLE_RATE, ()):
            rates = ", ".join(f"{r:g}" for r in (offered or {}).get(polar.SAMPLE_RATE, ()))
            raise CollectorError(f"{label}: the Polar offers {name} at {rates or 'no rate'} Hz, "
                                 f"not {rate} Hz")  # fmt: skip
        ranges = offered.get(polar.RANGE, (want_range,))
        range_ = want_range if want_range in ranges else int(max(ranges))
        cmd = polar.cmd_start(mtype, polar.stream_settings(rate, range_))
        r = await self._command(client, cmd, label)
        if r.status == polar.ALREADY_IN_STATE:  # still streaming from before: start afresh
            await self._command(client, polar.cmd_stop(mtype), label)
            r = await self._command(client, cmd, label)
        if not r.ok:
            hint = ": take it out of its charger" if r.status == 13 else ""
            raise CollectorError(f"{label}: the Polar refused to start {name} ({r.status_name})"
                                 f"{hint}")  # fmt: skip
        self.factors[mtype] = polar.factor_of(r.params) or 1.0
        return range_

    async def setup(self, client: Any, name: str, address: str) -> list[SourceEvent]:
        label = name or address
        self._answers = asyncio.Queue()
        await client.start_notify(polar.CONTROL_UUID, self._on_control)
        features = polar.parse_features(bytes(await client.read_gatt_char(polar.CONTROL_UUID)))
        missing = [polar.TYPE_NAMES[t] for t in (polar.ACC, polar.GYRO) if t not in features]
        if missing:
            what = " or ".join(missing)
            raise CollectorError(f"{label}: this Polar sensor has no {what} stream; flossmeter "
                                 "needs both (a Polar Verity Sense)")  # fmt: skip
        events = self._choose_rate(features) if self.info is None else []
        firmware = await _read_text(client, self.FIRMWARE_UUID)
        for st in self.streams.values():
            st.fresh = True
        await client.start_notify(polar.DATA_UUID, self.on_data)
        self.streaming = True
        if self.sdk_mode:
            r = await self._command(client, polar.cmd_start(polar.SDK_MODE), label)
            if not r.ok and r.status != polar.ALREADY_IN_STATE:
                raise CollectorError(f"{label}: the Polar did not enter SDK mode "
                                     f"({r.status_name}), needed above 52 Hz")  # fmt: skip
        acc_g = await self._start_stream(client, polar.ACC, polar.ACC_RANGE_G, label)
        gyro_dps = await self._start_stream(client, polar.GYRO, polar.GYRO_RANGE_DPS, label)
        self.limits = polar.limits_for(acc_g, gyro_dps)
        calibration = {
            "sdk_mode": self.sdk_mode, "timing": "sensor clock (ns since 2000-01-01)",
            "factors": {polar.TYPE_NAMES[t]: f for t, f in self.factors.items()},
        }  # fmt: skip
        self.info = SensorInfo(self.role, polar.KIND, self.rate_hz, name, address, firmware,
                               float(acc_g), float(gyro_dps), calibration)  # fmt: skip
        return events

    async def stop(self, client: Any) -> None:
        self.streaming = False
        for mtype in (polar.ACC, polar.GYRO):
            await client.write_gatt_char(polar.CONTROL_UUID, polar.cmd_stop(mtype), True)
        if self.sdk_mode:  # normal mode again: the optical heart rate works for other apps
            await client.write_gatt_char(polar.CONTROL_UUID, polar.cmd_stop(polar.SDK_MODE), True)

    # -- frames -----------------------------------------------------------------------------

    def decode_pending(self, batch: list[tuple[float, bytes]]) -> list[Item]:
        out: list[Item] = []
        for arrival, raw in batch:
            t0 = time.perf_counter()
            frame = polar.parse_frame(raw, self.factors, self.limits)
            self.stats.decode_s += time.perf_counter() - t0
            if isinstance(frame, str):
                out.extend(self._bad(arrival, raw, frame))
            else:
                out.extend(self._frame(arrival, raw, frame))
        out.extend(self._pair_ready())
        return out

    def _follows(self, st: _PmdStream, t_s: float, n: int, arrival: float) -> bool:
        """Whether a frame of ``n`` samples ending at sensor time ``t_s`` follows its stream."""
        assert st.last_s is not None
        advance = t_s - st.last_s
        if advance < 0.5 * n * st.period_s:
            return False  # repeated, or gone back
        fit = self.clock.fit if self.clock.ready else None
        if fit is not None:
            ahead = float(fit(t_s)) - arrival
        else:  # the sensor's clock cannot have run much faster than ours
            ahead = advance - (arrival - st.last_arrival)
        return ahead <= self.AHEAD_TOL_S + 1e-3 * advance

    def _frame(self, arrival: float, raw: bytes, frame: polar.Frame) -> list[Item]:
        out: list[Item] = []
        st = self.streams[frame.mtype]
        name = polar.TYPE_NAMES[frame.mtype]
        t_s, n = frame.timestamp_s, len(frame)
        if st.last_s is not None and not self._follows(st, t_s, n, arrival):
            if not st.fresh:
                why = f"{name} timestamp {t_s:.6f} s does not follow its stream ({st.last_s:.6f} s)"
                return self._bad(arrival, raw, why)
            # the first frame of a new connection from another time: the clock was set meanwhile.
            # What waited for a partner is settled on the old mapping, then a new one starts.
            out.extend(self._pair_ready(flush=True))
            if self.clock.fit is not None:  # still warming up: the fit so far is all there is
                out.extend(self._map_held())
            self.held.clear()
            text = "Polar clock changed while away: clock mapping restarted"
            out.append((arrival, SourceEvent(arrival, "status", self.role, {"text": text})))
            log.warning("%s: %s", self.role, text)
            self.clock = DeviceClock(warmup_packets=8)
            for s in self.streams.values():
                s.last_s = None
            self._restarted = True
        st.fresh = False
        t, spacing, _ = polar.frame_times(t_s, n, st.last_s, st.period_s)
        st.period_s, st.last_s, st.last_arrival = spacing, t_s, arrival
        t0 = time.perf_counter()
        self.clock.observe(t_s, arrival)
        self.stats.clock_s += time.perf_counter() - t0
        if frame.mtype == polar.GYRO:
            self._gyro_t = np.concatenate([self._gyro_t, t])
            self._gyro_v = np.vstack([self._gyro_v, frame.values])
            self._records.append((polar.REC_DATA, raw))
            return out
        period = st.period_s
        if self._last_index < 0:
            first = 0
        elif self._restarted:  # the sensor clock cannot tell what was missed: the arrivals can
            # (from last sample to last sample: each frame arrives after its last sample)
            steps = round((arrival - self._last_acc_arrival) / period) - (n - 1)
            first = self._last_index + max(1, steps)
        else:
            first = self._last_index + max(1, round((t[0] - self._last_acc_t) / period))
        self._restarted = False
        index = first + np.arange(n, dtype=np.int64)
        self._last_index, self._last_acc_t, self._last_acc_arrival = int(index[-1]), t[-1], arrival
        self._acc.append(_AccFrame(arrival, raw, t, polar.mg_to_mps2(frame.values), index))
        return out

    def _pair_ready(self, flush: bool = False) -> list[Item]:
        """Blocks of the ACC frames whose GYRO samples have all come (or never will)."""
        out: list[Item] = []
        tol = 0.5 * self.streams[polar.ACC].period_s
        last_gyro = self.streams[polar.GYRO].last_s
        while self._acc:
            f = self._acc[0]
            end = float(f.t[-1])
            gt = self._gyro_t
            ready = (
                flush
                or (last_gyro is not None and last_gyro > end + tol)
                or (len(gt) > 0 and float(np.min(np.abs(gt - end))) <= tol)
                or float(self._acc[-1].t[-1]) - end > self.GIVE_UP_S
            )
            if not ready:
                break
            self._acc.pop(0)
            k = int(np.searchsorted(gt, end + tol, side="right"))
            ra, rg = polar.pair(f.t, gt[:k], tol)
            gyro = self._gyro_v[:k][rg]
            self.stats.unpaired += (len(f.t) - len(ra)) + (k - len(rg))
            self._gyro_t, self._gyro_v = gt[k:], self._gyro_v[k:]
            if len(ra) == 0:
                self._records.append((polar.REC_DATA, f.raw))  # kept with the next block
                continue
            records, self._records = [*self._records, (polar.REC_DATA, f.raw)], []
            raw = polar.pack_records(records)
            out.extend(self._emit(f.arrival, raw, f.acc_mps2[ra], gyro, f.t[ra], f.index[ra]))
        if not self._acc and len(self._gyro_t):  # GYRO without ACC: keep GIVE_UP_S of it
            keep = self._gyro_t >= self._gyro_t[-1] - self.GIVE_UP_S
            self.stats.unpaired += int((~keep).sum())
            self._gyro_t, self._gyro_v = self._gyro_t[keep], self._gyro_v[keep]
        return out


LINKS: dict[str, type[Link]] = {
    strap.KIND: StrapLink,
    movella.KIND: MovellaLink,
    witmotion.KIND: WitMotionLink,
    polar.KIND: PolarLink,
}


async def _read_text(client: Any, uuid: str) -> str:
    try:
        return bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace").strip("\0")
    except Exception as e:  # optional characteristic
        log.debug("cannot read %s: %s", uuid, e)
        return ""
