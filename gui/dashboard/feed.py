"""The one adapter between the hub and the views: a hub sink that fills ring buffers, feeds the
analyzer and keeps what the dashboard shows (reps, analyzer status, strap links, alerts)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from collector.model import ROLES, Role, SampleBlock, SensorInfo, SourceEvent
from gui.dashboard.ring import RingBuffer

if TYPE_CHECKING:
    from analysis.results import AnalyzerStatus, Rep
    from collector.hub import Hub, SensorStats

log = logging.getLogger(__name__)

ROLE_TITLES: dict[str, str] = {"shin": "Shin strap", "head": "Head strap"}
#: Rate assumed for buffer sizes when a strap does not say (the highest the collector takes).
FALLBACK_RATE_HZ = 1000.0


class Analyzer(Protocol):
    """What the feed needs from :class:`analysis.online.OnlineAnalyzer` (or a recorded stand-in)."""

    reps: list[Rep]

    @property
    def status(self) -> AnalyzerStatus: ...

    def push(self, sensor: str, time_s: Any, acc_mps2: Any, gyro_dps: Any) -> list[Rep]: ...

    def take_angles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]: ...


@dataclass
class LinkState:
    """What the dashboard knows about one strap's link."""

    connected: bool | None = None  # None: not heard of yet
    changed_s: float = float("nan")
    battery_pct: float | None = None
    battery_low: bool = False  # below the collector's low mark (collector.health)
    rssi_dbm: float | None = None  # the signal strength BlueZ last reported


def clock_text(t_s: float) -> str:
    """Session time as ``m:ss``."""
    if not math.isfinite(t_s):
        return "–:––"
    m, s = divmod(max(0, int(t_s)), 60)
    return f"{m}:{s:02d}"


def rssi_from(detail: dict[str, Any]) -> float | None:
    """Signal strength in dBm from an event's detail (``rssi_dbm``), or None."""
    v = detail.get("rssi_dbm")
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def battery_from(detail: dict[str, Any]) -> float | None:
    """Battery level in % from a ``status`` event's detail (``battery_pct``, or ``battery``
    as a percentage or a 0–1 fraction), or None when it does not say."""
    for key in ("battery_pct", "battery"):
        v = detail.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            return float(v) * 100.0 if key == "battery" and 0.0 <= v <= 1.0 else float(v)
    return None


class DashboardFeed:
    """A hub sink holding everything the live and replay views draw.

    ``analyzer`` is an online analyzer (live) or a :class:`~gui.dashboard.recorded.
    RecordedAnalysis` (replay); without one the views show the raw signals only. Raw signals
    keep ``raw_window_s`` and angles ``angle_window_s`` of history. ``version`` grows whenever
    something drawable changed, so the views redraw only then.
    """

    def __init__(
        self,
        sensors: dict[Role, SensorInfo] | None = None,
        analyzer: Analyzer | None = None,
        *,
        raw_window_s: float = 10.0,
        angle_window_s: float = 30.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sensors: dict[Role, SensorInfo] = dict(sensors or {})
        self.analyzer = analyzer
        self.raw_window_s = raw_window_s
        self.angle_window_s = angle_window_s
        self.clock = clock
        self.raw: dict[Role, RingBuffer] = {}
        self.angles: dict[Role, RingBuffer] = {}
        self.links: dict[Role, LinkState] = {}
        self.reps: list[Rep] = list(analyzer.reps) if analyzer is not None else []
        self.reps_version = 0  # changes whenever reps are added or scored again
        self._revisions = getattr(analyzer, "revisions", 0)
        self.marks: list[SourceEvent] = []  # markers, notes and link changes, for the plots
        self.samples_in: dict[Role, int] = {}
        self.now_s = float("nan")
        self.version = 0
        self.alert: tuple[str, str] | None = None  # (text, tone)
        self.analysis_error: str | None = None
        self.analysis_pending = False  # an analysis will join (replay, while it runs)
        self.ended = False
        self.hub: Hub | None = None
        self._receipts: list[float] = []

    # -- set-up ----------------------------------------------------------------------------

    def attach(self, hub: Hub) -> None:
        """Read link statistics (rate, loss) from ``hub`` and reset them when a replay seeks."""
        self.hub = hub
        hub.add_sink(self)

    def set_analyzer(self, analyzer: Analyzer) -> None:
        """An analysis joins the stream under way (a replay's, once it is ready): the reps it
        has reported by now, and the angles of the last ``angle_window_s``."""
        self.analyzer = analyzer
        self.analysis_pending = False
        catch_up = getattr(analyzer, "catch_up", None)
        if catch_up is not None and math.isfinite(self.now_s):
            catch_up(self.now_s, self.angle_window_s)
        self.reps = list(analyzer.reps)
        self._revisions = getattr(analyzer, "revisions", 0)
        self.reps_version += 1
        self._take_angles(analyzer.take_angles())
        self.version += 1

    def set_sensors(self, sensors: dict[Role, SensorInfo]) -> None:
        """Describe the straps (known once a source is entered)."""
        self.sensors.update(sensors)
        self.version += 1

    def _buffers(self, role: Role) -> tuple[RingBuffer, RingBuffer]:
        raw = self.raw.get(role)
        if raw is None:
            info = self.sensors.get(role)
            rate = info.rate_hz if info and math.isfinite(info.rate_hz) else FALLBACK_RATE_HZ
            raw = RingBuffer(int(rate * self.raw_window_s * 1.25) + 64, 6)
            self.raw[role] = raw
            self.angles[role] = RingBuffer(int(rate * self.angle_window_s * 1.25) + 64, 1)
        return raw, self.angles[role]

    @property
    def stats(self) -> dict[Role, SensorStats]:
        """Per-strap link statistics from the hub (empty without one)."""
        return self.hub.stats if self.hub is not None else {}

    @property
    def status(self) -> AnalyzerStatus:
        """The analyzer's status (a waiting one without an analyzer)."""
        from analysis.results import AnalyzerStatus

        if self.analyzer is None:
            return AnalyzerStatus()
        return self.analyzer.status

    # -- the sink --------------------------------------------------------------------------

    def on_block(self, block: SampleBlock) -> None:
        """Buffer a block's samples and run it through the analyzer."""
        n = len(block)
        if n == 0:
            return
        self._receipts.append(self.clock())
        role = block.sensor
        raw, _ = self._buffers(role)
        raw.extend(block.time_s, np.hstack((block.acc_mps2, block.gyro_dps)))
        self.samples_in[role] = self.samples_in.get(role, 0) + n
        t_last = float(block.time_s[-1])
        self.now_s = t_last if not math.isfinite(self.now_s) else max(self.now_s, t_last)
        link = self.links.setdefault(role, LinkState())
        if link.connected is None:
            link.connected, link.changed_s = True, float(block.time_s[0])
        if self.analyzer is not None:
            self._analyse(block)
        self.version += 1

    def _analyse(self, block: SampleBlock) -> None:
        assert self.analyzer is not None
        try:
            new = self.analyzer.push(block.sensor, block.time_s, block.acc_mps2, block.gyro_dps)
            angles = self.analyzer.take_angles()
        except Exception as e:  # a bug in the analysis must not take the dashboard down
            log.exception("the analysis failed; showing raw signals only")
            self.analysis_error = f"analysis stopped ({type(e).__name__}: {e}); raw signals only"
            self.alert = (self.analysis_error, "poor")
            self.analyzer = None
            return
        self._took(new)
        self._take_angles(angles)

    def _took(self, new: list[Rep]) -> None:
        """New reps; and, if the analysis has scored earlier ones again (their technique, once
        the head's direction became known), those replaced in place."""
        revisions = getattr(self.analyzer, "revisions", 0)
        if revisions != self._revisions:
            self._revisions = revisions
            self.reps = list(self.analyzer.reps)  # type: ignore[union-attr]
            self.reps_version += 1
        elif new:
            self.reps.extend(new)
            self.reps_version += 1

    def _take_angles(self, angles: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        for role, (t, a) in angles.items():
            if role not in ROLES or len(t) == 0:
                continue
            a = np.asarray(a, dtype=np.float64)
            shown = np.isfinite(a)  # NaN: no angle yet (before calibration); nothing to draw
            if not shown.all():
                t, a = np.asarray(t)[shown], a[shown]
            self._buffers(role)[1].extend(t, a)

    def on_event(self, event: SourceEvent) -> None:
        """Follow link changes, battery, markers and notes, errors and replay seeks."""
        role = event.sensor
        title = ROLE_TITLES.get(role or "", "Strap")
        if event.kind in ("connected", "disconnected") and role is not None:
            link = self.links.setdefault(role, LinkState())
            link.rssi_dbm = rssi_from(event.detail) if event.kind == "connected" else None
            was = link.connected
            link.connected = event.kind == "connected"
            link.changed_s = event.time_s
            if was is not None and was != link.connected:  # a strap lost or back: draw it
                self.marks.append(event)
            self._analyser_link(role, link.connected)
            if not link.connected:
                self.alert = (
                    f"{title} disconnected at {clock_text(event.time_s)} — check that it is "
                    "switched on, charged and within a few metres.",
                    "poor",
                )
            elif was is False:
                self.alert = (f"{title} reconnected at {clock_text(event.time_s)}.", "good")
        elif event.kind == "status":
            if "seek_s" in event.detail:
                self._seeked(float(event.detail.get("from_s", event.detail["seek_s"])))
            level = battery_from(event.detail)
            if level is not None and role is not None:
                link = self.links.setdefault(role, LinkState())
                link.battery_pct = level
                low = bool(event.detail.get("battery_low", False))
                if low and not link.battery_low:
                    self.alert = (f"{title} battery low ({level:.0f} %): charge it after this "
                                  "session.", "fair")  # fmt: skip
                link.battery_low = low
            rssi = rssi_from(event.detail)
            if rssi is not None and role is not None:
                self.links.setdefault(role, LinkState()).rssi_dbm = rssi
        elif event.kind in ("marker", "note"):
            self.marks.append(event)
        elif event.kind == "error":
            what = event.detail.get("message") or event.detail.get("text") or "error"
            self.alert = (f"{title}: {what}", "fair")
        self.version += 1

    def _analyser_link(self, role: Role, connected: bool) -> None:
        """Tell the analyzer a strap (dis)connected, so a lost strap does not hold it back."""
        set_connected = getattr(self.analyzer, "set_connected", None)
        if set_connected is None:
            return
        try:
            self._took(set_connected(role, connected))
            self._take_angles(self.analyzer.take_angles())  # type: ignore[union-attr]
        except Exception as e:  # as in on_block: never take the dashboard down
            log.exception("the analysis failed")
            self.analysis_error = f"analysis stopped ({type(e).__name__}: {e}); raw signals only"
            self.alert = (self.analysis_error, "poor")
            self.analyzer = None

    def _seeked(self, from_s: float) -> None:
        for ring in (*self.raw.values(), *self.angles.values()):
            ring.clear()
        self.marks.clear()
        self._receipts.clear()
        self.now_s = from_s
        seek = getattr(self.analyzer, "seek", None)
        if seek is not None:
            seek(from_s)
        self.reps = list(self.analyzer.reps) if self.analyzer is not None else []
        self.reps_version += 1
        if self.hub is not None:
            self.hub.reset_stats()

    def finish(self) -> None:
        """The stream ended: collect the reps the analyzer completes at its end."""
        self.ended = True
        finish = getattr(self.analyzer, "finish", None)
        if finish is not None:
            try:
                self._took(finish())
            except Exception:  # as in on_block: never take the dashboard down
                log.exception("the analysis failed at the end of the stream")
        self.version += 1

    # -- for the views ---------------------------------------------------------------------

    def take_receipts(self) -> list[float]:
        """Arrival clock times of the blocks since the last call (for sample-to-paint latency)."""
        r, self._receipts = self._receipts, []
        return r

    @property
    def has_data(self) -> bool:
        """Any sample has arrived."""
        return bool(self.samples_in)


def make_analyzer(roles: Iterable[str] = ROLES) -> Analyzer | None:
    """A new online analyzer for the straps ``roles`` (from ``analysis.online``), or None with
    a warning when this build has no analysis or the straps cannot be analysed (no shin)."""
    try:
        from analysis.online import OnlineAnalyzer
    except ImportError as e:
        log.warning("no online analysis in this build (%s): showing raw signals only", e)
        return None
    try:
        return OnlineAnalyzer(sensors=tuple(roles))
    except ValueError as e:
        log.warning("no rep analysis for this session: %s", e)
        return None
