"""The dashboard body shared by the live and replay windows: cards on the left, plots on the right,
redrawn by one timer from a :class:`~gui.dashboard.feed.DashboardFeed`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from gui.dashboard.feed import DashboardFeed
from gui.dashboard.feedback import calibration_prompt, counter_text, rep_card
from gui.dashboard.frames import FrameStats
from gui.dashboard.plots import QualityTrend, SignalPlots
from gui.dashboard.sensors import sensor_rows
from gui.dashboard.widgets import (
    AlertBar,
    CalibrationBanner,
    RepCardWidget,
    RepCounter,
    SensorPanel,
)

FRAME_INTERVAL_MS = 16  # up to ~60 frames/s; a frame is drawn only when data changed
CARDS_INTERVAL_S = 0.25  # strap rates and losses change every block; words need not
INFO_ALERT_S = 8.0  # good news and notes leave the alert bar after this; problems stay


class DashboardPanel(QtWidgets.QWidget):
    """Sensor panel, calibration prompt, rep counter, last rep's card and quality trend beside
    the scrolling plots. Call :meth:`refresh` (its timer does) to show the feed's state."""

    def __init__(self, feed: DashboardFeed) -> None:
        super().__init__()
        self.feed = feed
        self.frames = FrameStats()
        self.alert = AlertBar()
        self.sensors = SensorPanel()
        self.calibration = CalibrationBanner()
        self.counter = RepCounter()
        self.card = RepCardWidget()
        self.trend = QualityTrend()
        self.plots = SignalPlots(feed.raw_window_s, feed.angle_window_s, self._painted)

        left = QtWidgets.QVBoxLayout()
        left.setSpacing(6)
        left.addWidget(self.sensors)
        left.addWidget(self.calibration)
        left.addWidget(self.counter)
        left.addWidget(self.card)
        left.addWidget(self.trend, 1)
        left_box = QtWidgets.QWidget()
        left_box.setLayout(left)
        left_box.setFixedWidth(390)
        body = QtWidgets.QHBoxLayout()
        body.addWidget(left_box)
        body.addWidget(self.plots, 1)
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self.alert)
        outer.addLayout(body, 1)

        self._left = left
        self.guide: Callable[[float], None] | None = None  # a guided session's step (live)
        self.pacer: Callable[[np.ndarray], np.ndarray] | None = None  # its ghost glide (deg)
        self.pacer_cap: Callable[[], float | None] = lambda: None
        self.pacer_tick: Callable[[float], None] | None = None  # the pacer's audio tick
        self._drawn_version = -1
        self._reps_shown = -1
        self._cards_at = 0.0
        self._alert_since: tuple[object, float] | None = None
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.refresh_cards()

    def add_guided(self, widget: QtWidgets.QWidget) -> None:
        """Show a guided session's panel under the calibration prompt."""
        self._left.insertWidget(2, widget)

    def start(self) -> None:
        """Start redrawing at display rate."""
        self.timer.start(FRAME_INTERVAL_MS)

    def stop(self) -> None:
        """Stop redrawing."""
        self.timer.stop()

    def set_feed(self, feed: DashboardFeed) -> None:
        """Show another feed (a replay opened another recording)."""
        self.feed = feed
        self._drawn_version = -1
        self._reps_shown = -1
        self.plots.blank()
        self.refresh_cards()

    def _painted(self, t: float, paint_s: float) -> None:
        self.frames.painted(t, paint_s)

    def refresh(self) -> None:
        """One frame: new data to the plots, and the cards when something they show changed."""
        feed = self.feed
        if feed.version != self._drawn_version:
            self._drawn_version = feed.version
            t0 = time.perf_counter()
            self.plots.update_from(feed)
            if self.pacer is not None and math.isfinite(feed.now_s):
                self.plots.show_pacer(feed.now_s, self.pacer, self.pacer_cap())
                if self.pacer_tick is not None:
                    self.pacer_tick(feed.now_s)
            self.frames.prepared(feed.take_receipts(), time.perf_counter() - t0)
        if feed.reps_version != self._reps_shown or time.monotonic() - self._cards_at > (
            CARDS_INTERVAL_S
        ):
            self.refresh_cards()

    def refresh_cards(self) -> None:
        """Update the strap panel, prompt, counter, card, trend and alert from the feed."""
        feed = self.feed
        self._cards_at = time.monotonic()
        if self.guide is not None and math.isfinite(feed.now_s):
            self.guide(feed.now_s)
        status = feed.status
        has_head = "head" in feed.sensors or "head" in feed.samples_in
        self.sensors.show_rows(sensor_rows(feed))
        prompt = calibration_prompt(
            status, has_data=feed.has_data, has_head=has_head, analysing=feed.analysis_pending
        )
        self.calibration.show_prompt(prompt)
        self.counter.show_count(counter_text(feed.reps, status))
        if feed.reps_version != self._reps_shown:  # a new rep, or earlier ones scored again
            self._reps_shown = feed.reps_version
            self.card.show_card(rep_card(feed.reps[-1], has_head) if feed.reps else None)
            self.trend.show_reps(feed.reps)
        self.alert.show_message(self._current_alert())

    def _current_alert(self) -> tuple[str, str] | None:
        alert = self.feed.alert
        now = time.monotonic()
        if alert is None or alert[1] == "poor":
            self._alert_since = None
            return alert
        if self._alert_since is None or self._alert_since[0] is not alert:
            self._alert_since = (alert, now)
        if now - self._alert_since[1] > INFO_ALERT_S:
            return None
        return alert

    def state(self) -> dict[str, Any]:
        """What is on screen, for screenshots' side files and tests."""
        f = self.frames

        def rect(w: QtWidgets.QWidget) -> list[int]:
            top_left = w.mapTo(self.window(), QtCore.QPoint(0, 0))
            return [top_left.x(), top_left.y(), w.width(), w.height()]

        return {
            "reps": len(self.feed.reps),
            "counter": self.counter.count.text(),
            "set_text": self.counter.detail.text(),
            "calibration": self.feed.status.calibration,
            "prompt": self.calibration.title.text(),
            "card_title": self.card.title.text(),
            "advice": self.card.card.advice if self.card.card else [],
            "alert": self.feed.alert[0] if self.feed.alert else None,
            "straps": {
                role: {"battery": box.battery.text(), "signal": box.signal.text()}
                for role, box in self.sensors.boxes.items()
            },
            "samples": dict(self.feed.samples_in),
            "frames": f.frames,
            "fps": round(f.fps(over_s=5.0), 1),
            "latency_p95_ms": round(f.latency_ms(95), 1) if f.latencies_s else None,
            "widgets": {
                "counter": rect(self.counter),
                "card": rect(self.card),
                "calibration": rect(self.calibration),
                "plots": rect(self.plots),
                "trend": rect(self.trend),
            },
        }
