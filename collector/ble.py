"""The BLE source: scan, connect two straps concurrently, stream, reconnect, all through bleak.

``BleSource({"shin": "C0:FF:EE:00:00:01", "head": "FLOSS-0002"}, rate_hz=100)`` is a
:class:`collector.model.Source`: entering it scans for the straps (by address or advertised
name), connects both at once, configures them (rate, ranges, start) and starts a supervisor per
strap; iterating yields :class:`SampleBlock` s and :class:`SourceEvent` s in arrival order.
When a strap drops, its supervisor emits ``disconnected``, releases the bleak client (bleak 3.1
otherwise keeps one D-Bus connection per drop) and reconnects with backoff as soon as the strap
advertises again; the link keeps what it learnt (counters, clock model, the measured WitMotion
rate: a reconnection is not measured again), so it costs only the time away and the hub sees the
gap in the sample counter. Everything the user can fix surfaces as one :class:`CollectorError`
line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from collector.ble_links import LINKS, Item, Link
from collector.errors import CollectorError
from collector.model import ROLES, Role, SampleBlock, SensorInfo, SourceBase, SourceEvent
from collector.protocols import FAMILIES, Advertisement, Family, recognise

log = logging.getLogger(__name__)
SUPPORTED = ", ".join(f.label for f in FAMILIES)


@dataclass(frozen=True)
class Found:
    """A device seen while scanning: its advertisement, recognised family and bleak handle."""

    adv: Advertisement
    family: Family | None
    device: Any  # bleak BLEDevice

    @property
    def label(self) -> str:
        return self.family.label if self.family else "-"


def bleak_error_message(e: BaseException) -> str | None:
    """A one-line explanation of why Bluetooth is unusable, or None if ``e`` is not that."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

    if isinstance(e, BleakBluetoothNotAvailableError):
        reason = str(e.args[0]) if e.args else str(e)
        if "powered" in reason.lower():
            return "Bluetooth is switched off: turn it on (bluetoothctl power on) and try again"
        return f"no usable Bluetooth adapter ({reason.rstrip('.')}): plug one in or enable it"
    if isinstance(e, BleakDBusError):
        if e.dbus_error in (
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
        ):
            return "BlueZ is not running: start it (sudo systemctl start bluetooth) and try again"
        return f"BlueZ refused: {e.dbus_error} {e.dbus_error_details or ''}".strip()
    if isinstance(e, (FileNotFoundError, ConnectionRefusedError)):
        return "cannot reach the system D-Bus (is dbus running?): Bluetooth is unavailable"
    if isinstance(e, BleakError) and "adapter" in str(e).lower():
        return f"no usable Bluetooth adapter ({e})"
    return None


@contextlib.asynccontextmanager
async def bluetooth_errors() -> AsyncIterator[None]:
    """Turn 'Bluetooth unavailable' exceptions into one-line :class:`CollectorError` s."""
    try:
        yield
    except CollectorError:
        raise
    except Exception as e:
        msg = bleak_error_message(e)
        if msg is None:
            raise
        raise CollectorError(msg) from None


def _advertisement(device: Any, adv: Any) -> Advertisement:
    return Advertisement(
        address=device.address,
        name=adv.local_name or device.name or "",
        rssi=adv.rssi,
        service_uuids=tuple(adv.service_uuids or ()),
        manufacturer_data=dict(adv.manufacturer_data or {}),
    )


async def scan(timeout_s: float = 5.0, stop_when: Callable[[dict[str, Found]], bool] | None = None,
               ) -> dict[str, Found]:  # fmt: skip
    """Scan for ``timeout_s`` s (or until ``stop_when(found)``); devices by address."""
    from bleak import BleakScanner

    found: dict[str, Found] = {}
    done = asyncio.Event()

    def seen(device: Any, adv: Any) -> None:
        a = _advertisement(device, adv)
        found[device.address.upper()] = Found(a, recognise(a), device)
        if stop_when is not None and stop_when(found):
            done.set()

    async with bluetooth_errors():
        scanner = BleakScanner(detection_callback=seen)
        await scanner.start()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout_s)
        finally:
            await scanner.stop()
    return found


def matches(found: Found, target: str) -> bool:
    """Whether a scan result is the device the user named (address or name, any case)."""
    t = target.strip().lower()
    return found.adv.address.lower() == t or (bool(found.adv.name) and found.adv.name.lower() == t)


def seen_all(*targets: str) -> Callable[[dict[str, Found]], bool]:
    """A :func:`scan` stop condition: every one of ``targets`` (addresses or names) was seen."""

    def complete(found: dict[str, Found]) -> bool:
        return all(any(matches(f, t) for f in found.values()) for t in targets)

    return complete


def pick(
    found: dict[str, Found], target: str, role: str | None = None, scan_s: float = 5.0
) -> Found:
    """The scan result the user named ``target`` (address or name), a supported sensor.

    Nothing of that name among ``found`` (a ``scan_s`` s scan), or a device that is no sensor we
    support, is a :class:`CollectorError` saying what to do; ``role`` names the strap in it.
    """
    hits = [f for f in found.values() if matches(f, target)]
    if not hits:
        which = f"{target!r} ({role})" if role else repr(target)
        raise CollectorError(
            f"no device {which} found in {scan_s:g} s: switch it on and bring it close, "
            "or see what is around with 'flossmeter scan'"
        )
    f = hits[0]
    if f.family is None:
        name = f"{f.adv.name} ({f.adv.address})" if f.adv.name else f.adv.address
        raise CollectorError(f"{name} is not a supported sensor (supported: {SUPPORTED})")
    return f


class _AdvertWatch:
    """One shared scanner for every strap waiting to reconnect (BlueZ allows one discovery)."""

    def __init__(self) -> None:
        self._waiters: dict[str, asyncio.Future[Any]] = {}
        self._scanner: Any = None
        self._lock = asyncio.Lock()
        self.rssi: dict[str, int] = {}  # address → RSSI (dBm) of the advertisement last seen

    async def wait(self, address: str) -> Any:
        """The BLEDevice of ``address`` as soon as it advertises."""
        from bleak import BleakScanner

        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        key = address.upper()
        self._waiters[key] = fut
        async with self._lock:
            if self._scanner is None:
                self._scanner = BleakScanner(detection_callback=self._seen)
                await self._scanner.start()
        try:
            return await fut
        finally:
            self._waiters.pop(key, None)
            async with self._lock:
                if not self._waiters and self._scanner is not None:
                    scanner, self._scanner = self._scanner, None
                    with contextlib.suppress(Exception):
                        await scanner.stop()

    def _seen(self, device: Any, adv: Any) -> None:
        fut = self._waiters.get(device.address.upper())
        if fut is not None and not fut.done():
            if adv.rssi is not None:
                self.rssi[device.address.upper()] = int(adv.rssi)
            fut.set_result(device)

    async def close(self) -> None:
        for fut in self._waiters.values():
            fut.cancel()
        if self._scanner is not None:
            with contextlib.suppress(Exception):
                await self._scanner.stop()
            self._scanner = None


class _RssiWatch:
    """The signal strength BlueZ reports for devices while a source runs (``Device1.RSSI``
    changes), handed on by address.

    BlueZ sets RSSI from advertisements, so a connected sensor has one only if it keeps
    advertising while BlueZ discovers (during another strap's reconnection, say): reported
    where it exists, never asked for. Linux only; without it the source works the same.
    """

    RULE = (
        "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
        "arg0='org.bluez.Device1'"
    )

    def __init__(self, on_rssi: Callable[[str, int], None]) -> None:
        self.on_rssi = on_rssi
        self._bus: Any = None

    async def start(self) -> None:
        """Subscribe on the system bus (best effort: logged and skipped if it cannot)."""
        if not sys.platform.startswith("linux"):
            return
        try:
            from dbus_fast import BusType, Message
            from dbus_fast.aio import MessageBus

            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
            await bus.call(
                Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                        body=[self.RULE])
            )  # fmt: skip
        except Exception as e:
            log.info("signal strength not followed (%s)", e)
            return
        bus.add_message_handler(self._handle)
        self._bus = bus

    def _handle(self, msg: Any) -> None:
        if msg.member != "PropertiesChanged" or len(msg.body) < 2:
            return
        if msg.body[0] != "org.bluez.Device1" or "RSSI" not in msg.body[1]:
            return
        tail = (msg.path or "").rsplit("/", 1)[-1]
        if tail.startswith("dev_"):
            self.on_rssi(tail[4:].replace("_", ":").upper(), int(msg.body[1]["RSSI"].value))

    def close(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None


class BleSource(SourceBase):
    """Two (or one) sensors over BLE as a :class:`collector.model.Source`.

    ``targets`` maps roles to an address or advertised name. ``rate_hz`` is the sample rate
    asked of every sensor (each family gets its nearest supported rate). Backoff after a
    failed reconnection doubles from ``backoff_s`` up to ``max_backoff_s``.
    """

    def __init__(
        self,
        targets: dict[Role, str],
        *,
        rate_hz: float = 100.0,
        scan_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
    ) -> None:
        bad = [r for r in targets if r not in ROLES]
        if bad or not targets:
            raise CollectorError(f"say which strap is which: roles are {', '.join(ROLES)}")
        self.targets = dict(targets)
        self.rate_hz = rate_hz
        self.scan_timeout_s = scan_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.links: dict[Role, Link] = {}
        self.found: dict[Role, Found] = {}
        self.t0 = time.monotonic()
        self._events: list[Item] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: dict[Role, Any] = {}
        self._watch = _AdvertWatch()
        self._rssi_watch = _RssiWatch(self._on_rssi)
        self._closing = False
        self.connect_times_s: dict[Role, list[float]] = {r: [] for r in targets}
        self.reconnect_times_s: dict[Role, list[float]] = {r: [] for r in targets}

    def now(self) -> float:
        """Session time, s (0 when the source was entered)."""
        return time.monotonic() - self.t0

    @property
    def sensors(self) -> dict[Role, SensorInfo]:
        return {r: link.info for r, link in self.links.items() if link.info is not None}

    def _event(self, kind: str, role: Role | None, **detail: Any) -> None:
        t = self.now()
        self._events.append((t, SourceEvent(t, kind, role, detail)))
        self._wake.set()

    # -- entering: find, check, connect -------------------------------------------------------

    async def _open(self) -> None:
        self.t0 = time.monotonic()
        self._wake = asyncio.Event()
        self._watch = _AdvertWatch()
        self._rssi_watch = _RssiWatch(self._on_rssi)
        try:
            await self._find()
            await self._rssi_watch.start()
            results = await asyncio.gather(
                *(self._connect(r, first=True) for r in self.targets), return_exceptions=True
            )
            for res in results:
                if isinstance(res, BaseException):
                    raise res
        except BaseException:
            await self._close()
            raise
        for role in self.targets:
            self._tasks.append(asyncio.create_task(self._supervise(role)))

    async def _find(self) -> None:
        found = await scan(self.scan_timeout_s, seen_all(*self.targets.values()))
        for role, target in self.targets.items():
            f = pick(found, target, role, self.scan_timeout_s)
            self.found[role] = f
            self.links[role] = LINKS[f.family.kind](role, self.rate_hz, self.now)
            self.links[role].wake = self._wake.set
        addresses = [f.adv.address.upper() for f in self.found.values()]
        if len(set(addresses)) < len(addresses):
            raise CollectorError("shin and head name the same device: give two different straps")

    def _on_rssi(self, address: str, rssi_dbm: int) -> None:
        for role, f in self.found.items():
            if f.adv.address.upper() == address and role in self.links:
                self.links[role].on_rssi(rssi_dbm)

    async def _connect(self, role: Role, first: bool = False, device: Any = None) -> None:
        """Connect and configure one sensor; raises on failure."""
        from bleak import BleakClient
        from bleak.exc import BleakError

        f = self.found[role]
        link = self.links[role]
        dropped = asyncio.Event()
        t_start = time.monotonic()
        client = BleakClient(
            device or f.device,
            disconnected_callback=lambda _c: dropped.set(),
            timeout=self.connect_timeout_s,
        )
        self._clients[role] = client
        try:
            async with bluetooth_errors():
                await client.connect()
                events = await link.setup(client, f.adv.name, f.adv.address)
                try:
                    battery = await link.start_battery(client)
                except (BleakError, TimeoutError, OSError, EOFError) as e:
                    log.info("%s: battery level not read (%s)", role, e)
                    battery = []
        except CollectorError:
            await _release(client)
            raise
        except (BleakError, TimeoutError, OSError, EOFError) as e:
            await _release(client)
            if first:
                why = str(e) or type(e).__name__
                raise CollectorError(
                    f"cannot connect to {f.adv.name or f.adv.address} ({role}): {why}"
                ) from None
            raise
        elapsed = time.monotonic() - t_start
        (self.connect_times_s if first else self.reconnect_times_s)[role].append(elapsed)
        link.stats.connects += 1
        for ev in events:
            self._events.append((ev.time_s, ev))
        self._events.extend(battery)
        client.flossmeter_dropped = dropped  # type: ignore[attr-defined]
        # the signal strength of the advertisement that led to this connection
        rssi = f.adv.rssi if first else self._watch.rssi.get(f.adv.address.upper())
        known = rssi is not None and -127 < rssi < 20
        self._event("connected", role, address=f.adv.address, name=f.adv.name,
                    connect_s=round(elapsed, 4), first=first,
                    **({"rssi_dbm": int(rssi)} if known else {}))  # fmt: skip
        if known:
            link.on_rssi(int(rssi))

    async def _supervise(self, role: Role) -> None:
        """Keep one sensor connected: wait for a drop, release, reconnect with backoff."""
        link = self.links[role]
        f = self.found[role]
        while not self._closing:
            client = self._clients.get(role)
            if client is None:
                await asyncio.sleep(0.1)
                continue
            pinger = asyncio.create_task(link.run_while_connected(client))
            try:
                await client.flossmeter_dropped.wait()
            finally:
                pinger.cancel()
                with contextlib.suppress(BaseException):
                    await pinger
            if self._closing:
                return
            link.streaming = False
            link.stats.drops += 1
            self._event("disconnected", role, why="link lost")
            log.warning("%s strap disconnected; reconnecting when it advertises", role)
            self._clients.pop(role, None)
            await _release(client)  # bleak 3.1 keeps the D-Bus connection otherwise
            delay = self.backoff_s
            while not self._closing:
                try:
                    device = await self._watch.wait(f.adv.address)
                    await self._connect(role, device=device)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.info("%s: reconnection failed (%s); retrying in %.1f s", role, e, delay)
                    self._event("status", role, text=f"reconnection failed: {e}")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_backoff_s)

    # -- iterating ------------------------------------------------------------------------------

    async def _items(self) -> AsyncIterator[SampleBlock | SourceEvent]:
        while True:
            await self._wake.wait()
            self._wake.clear()
            out: list[Item] = []
            for link in self.links.values():
                out.extend(link.drain())
            out.extend(self._events)
            self._events.clear()
            out.sort(key=lambda x: x[0])
            for _, item in out:
                yield item

    # -- leaving ----------------------------------------------------------------------------------

    async def _close(self) -> None:
        self._closing = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks.clear()
        await self._watch.close()
        self._rssi_watch.close()
        for role, client in list(self._clients.items()):
            link = self.links.get(role)
            if link is not None and client.is_connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(link.stop(client), 2.0)
            await _release(client)
        self._clients.clear()

    def stats(self) -> dict[str, Any]:
        """Per sensor: notifications, samples, malformed packets, drops, time per stage."""
        return {role: vars(link.stats) for role, link in self.links.items()}


async def _release(client: Any) -> None:
    """Disconnect a client and close its D-Bus connection, never raising."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), 5.0)
