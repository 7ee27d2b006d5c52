"""The scrolling plots (raw signals and angles with reps shaded) and the per-rep quality trend.

pyqtgraph practice: every item is created once; a frame only calls ``setData``/``setRegion``
on existing items, with fixed axis ranges (time is plotted as seconds before now, so the time
axis never moves), clip-to-view and peak downsampling, no OpenGL.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from gui.dashboard.feedback import score_tone

if TYPE_CHECKING:
    from analysis.results import Rep
    from gui.dashboard.feed import DashboardFeed

AXIS_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")  # x, y, z
KNEE_COLOUR, HEAD_COLOUR = "#1f5fa8", "#e07b00"
PACER_COLOUR = "#8e24aa"  # the guided session's ghost glide
TONE_RGBA = {
    "good": (46, 160, 67),
    "fair": (235, 165, 0),
    "poor": (214, 39, 40),
    "neutral": (128, 128, 128),
}
ACC_RANGE = (-25.0, 25.0)  # m/s²
GYRO_RANGE = (-200.0, 200.0)  # deg/s
KNEE_RANGE = (-20.0, 100.0)  # deg, + = extension
HEAD_RANGE = (-80.0, 50.0)  # deg, + = looking up
REGIONS = 12  # shaded reps per angle plot (a 30 s window holds at most a few)
MARKS = 8


def configure() -> None:
    """Global pyqtgraph options for the dashboard (light theme, no antialiasing, no OpenGL)."""
    pg.setConfigOptions(antialias=False, useOpenGL=False, background="w", foreground="#404040")


def tone_brush(tone: str, alpha: int = 50) -> QtGui.QBrush:
    """A translucent brush in a tone's colour."""
    r, g, b = TONE_RGBA.get(tone, TONE_RGBA["neutral"])
    return pg.mkBrush(r, g, b, alpha)


def _xyz_title(what: str) -> str:
    pairs = zip(AXIS_COLOURS, "xyz", strict=True)
    letters = " ".join(f"<span style='color:{c}'>{a}</span>" for c, a in pairs)
    return f"{what} &nbsp; {letters}"


def _setup(plot: pg.PlotItem, title: str, window_s: float, yrange: tuple[float, float]) -> None:
    plot.setTitle(title, size="9pt")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.disableAutoRange()
    plot.setXRange(-window_s, 0.0, padding=0)
    plot.setYRange(*yrange, padding=0)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    plot.showGrid(x=False, y=True, alpha=0.12)
    plot.getAxis("left").setWidth(42)


class TimedLayout(pg.GraphicsLayoutWidget):
    """A plot layout that reports the end of each paint (for frame rate and latency)."""

    def __init__(self, on_painted: Callable[[float, float], None] | None = None) -> None:
        super().__init__()
        self.on_painted = on_painted

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:
        """Paint, then tell whoever measures (end time and duration, perf_counter s)."""
        t0 = time.perf_counter()
        super().paintEvent(ev)
        if self.on_painted is not None:
            t1 = time.perf_counter()
            self.on_painted(t1, t1 - t0)


class AnglePlot:
    """One angle curve with the reps shaded (coloured by their quality) and numbered."""

    def __init__(self, plot: pg.PlotItem, colour: str, yrange: tuple[float, float]) -> None:
        self.plot = plot
        self.yrange = list(yrange)
        self.curve = plot.plot(pen=pg.mkPen(colour, width=2), skipFiniteCheck=True)
        self.regions: list[pg.LinearRegionItem] = []
        self.labels: list[pg.TextItem] = []
        for _ in range(REGIONS):
            region = pg.LinearRegionItem(
                (0, 0), movable=False, brush=tone_brush("neutral"), pen=pg.mkPen(None)
            )
            region.setZValue(-10)
            region.hide()
            plot.addItem(region)
            self.regions.append(region)
            label = pg.TextItem("", color="#404040", anchor=(0.5, 0.0))
            label.hide()
            plot.addItem(label)
            self.labels.append(label)
        self.marks: list[pg.InfiniteLine] = []
        for _ in range(MARKS):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#7f7f7f", style=QtCore.Qt.DashLine))
            line.hide()
            plot.addItem(line)
            self.marks.append(line)
        self._shown: list[tuple[object, ...]] = []
        self._range_checked = 0.0

    def show_reps(self, reps: list[Rep], now_s: float, window_s: float) -> None:
        """Shade the reps visible in the window (times relative to ``now_s``)."""
        visible = [r for r in reps if r.end_s > now_s - window_s][-REGIONS:]
        top = self.yrange[1]
        for k, region in enumerate(self.regions):
            label = self.labels[k]
            if k >= len(visible):
                if region.isVisible():
                    region.hide()
                    label.hide()
                continue
            r = visible[k]
            a, b = r.start_s - now_s, r.end_s - now_s
            region.setRegion((a, b))
            key = (r.rep, score_tone(r.quality))
            if k >= len(self._shown) or self._shown[k] != key:
                region.setBrush(tone_brush(key[1]))
                label.setText(str(r.rep))
            label.setPos((a + b) / 2, top)
            if not region.isVisible():
                region.show()
                label.show()
        self._shown = [(r.rep, score_tone(r.quality)) for r in visible]

    def show_marks(self, times_colours: list[tuple[float, str]], now_s: float) -> None:
        """Dashed lines at markers, notes and link changes."""
        for k, line in enumerate(self.marks):
            if k < len(times_colours):
                t, colour = times_colours[k]
                line.setPos(t - now_s)
                line.setPen(pg.mkPen(colour, style=QtCore.Qt.DashLine))
                line.show()
            elif line.isVisible():
                line.hide()

    def fit(self, y: np.ndarray) -> None:
        """Widen (never narrow) the fixed range when the angle leaves it (checked rarely)."""
        if len(y) == 0:
            return
        lo, hi = float(np.min(y)), float(np.max(y))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return
        if lo < self.yrange[0] or hi > self.yrange[1]:
            self.yrange = [min(self.yrange[0], 10 * math.floor(lo / 10 - 0.5)),
                           max(self.yrange[1], 10 * math.ceil(hi / 10 + 0.5))]  # fmt: skip
            self.plot.setYRange(*self.yrange, padding=0)

    def blank(self) -> None:
        """Nothing to show."""
        self.curve.setData([], [])
        for item in (*self.regions, *self.labels, *self.marks):
            item.hide()
        self._shown = []


class SignalPlots(TimedLayout):
    """Knee and head angles (reps shaded) over ``angle_window_s``; acceleration and angular
    rate of both straps over ``raw_window_s``; time axis in seconds before now."""

    def __init__(
        self,
        raw_window_s: float = 10.0,
        angle_window_s: float = 30.0,
        on_painted: Callable[[float, float], None] | None = None,
    ) -> None:
        super().__init__(on_painted)
        self.raw_window_s = raw_window_s
        self.angle_window_s = angle_window_s
        self.ci.setSpacing(2)
        knee = self.addPlot(0, 0, title="")
        head = self.addPlot(0, 1, title="")
        _setup(knee, "Knee angle, deg (+ = straighter)", angle_window_s, KNEE_RANGE)
        _setup(head, "Head angle, deg (+ = looking up)", angle_window_s, HEAD_RANGE)
        self.knee = AnglePlot(knee, KNEE_COLOUR, KNEE_RANGE)
        self.head = AnglePlot(head, HEAD_COLOUR, HEAD_RANGE)
        self.angle_plots = {"shin": self.knee, "head": self.head}
        self.raw_curves: dict[str, list[pg.PlotDataItem]] = {}
        self.raw_plots: dict[str, list[pg.PlotItem]] = {}
        for col, role in enumerate(("shin", "head")):
            name = "Shin" if role == "shin" else "Head"
            acc = self.addPlot(1, col)
            gyro = self.addPlot(2, col)
            _setup(acc, _xyz_title(f"{name} acceleration, m/s²"), raw_window_s, ACC_RANGE)
            _setup(gyro, _xyz_title(f"{name} angular rate, deg/s"), raw_window_s, GYRO_RANGE)
            gyro.setLabel("bottom", "s before now")
            curves = [acc.plot(pen=pg.mkPen(c), skipFiniteCheck=True) for c in AXIS_COLOURS]
            curves += [gyro.plot(pen=pg.mkPen(c), skipFiniteCheck=True) for c in AXIS_COLOURS]
            self.raw_curves[role] = curves
            self.raw_plots[role] = [acc, gyro]
        knee.setLabel("bottom", "s before now")
        head.setLabel("bottom", "s before now")
        # the guided session's pacer: the ghost glide over the window, its target now, the cap
        self.ghost = knee.plot(pen=pg.mkPen(PACER_COLOUR, width=2, style=QtCore.Qt.DashLine))
        self.ghost_now = pg.ScatterPlotItem(size=14, brush=pg.mkBrush(PACER_COLOUR), pen=None)
        knee.addItem(self.ghost_now)
        self.cap_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen("#c62828", width=1, style=QtCore.Qt.DotLine),
            label="cap", labelOpts={"position": 0.06, "color": "#c62828"},
        )  # fmt: skip
        self.cap_line.hide()
        knee.addItem(self.cap_line)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 2)
        self.ci.layout.setRowStretchFactor(2, 2)
        self._frames = 0

    def update_from(self, feed: DashboardFeed) -> None:
        """Hand the feed's newest data to the existing curves and regions."""
        now = feed.now_s
        if not math.isfinite(now):
            self.blank()
            return
        self._frames += 1
        for role, curves in self.raw_curves.items():
            ring = feed.raw.get(role)
            if ring is None or not len(ring):
                for c in curves:
                    c.setData([], [])
                continue
            t, v = ring.since(now - self.raw_window_s)
            x = t - now
            for k, c in enumerate(curves):
                c.setData(x, v[:, k], skipFiniteCheck=True)
        marks = [
            (e.time_s, "#d62728" if e.kind == "disconnected" else "#7f7f7f")
            for e in feed.marks
            if e.time_s > now - self.angle_window_s
        ][-MARKS:]
        for role, plot in self.angle_plots.items():
            ring = feed.angles.get(role)
            if ring is None or not len(ring):
                plot.curve.setData([], [])
            else:
                t, v = ring.since(now - self.angle_window_s)
                plot.curve.setData(t - now, v[:, 0], skipFiniteCheck=True)
                if self._frames % 30 == 1:
                    plot.fit(v[:, 0])
            plot.show_reps(feed.reps, now, self.angle_window_s)
            plot.show_marks(marks, now)

    def show_pacer(
        self, now_s: float, pacer: Callable[[np.ndarray], np.ndarray], cap_deg: float | None
    ) -> None:
        """The ghost glide ``pacer(t)`` (deg) over the angle window up to now, a dot at its
        target now, and the knee's range cap (None: no cap)."""
        t = np.linspace(now_s - self.angle_window_s, now_s, 600)
        y = pacer(t)
        ok = np.isfinite(y)
        self.ghost.setData(t[ok] - now_s, y[ok])
        self.ghost_now.setData([0.0], [y[-1]]) if ok[-1] else self.ghost_now.setData([], [])
        if cap_deg is None:
            self.cap_line.hide()
        else:
            self.cap_line.setPos(cap_deg)
            self.cap_line.label.setFormat(f"cap {cap_deg:.0f}°")
            self.cap_line.show()

    def blank(self) -> None:
        """Show nothing (no data yet, or after a seek). Not ``clear``: pyqtgraph's layout
        widget binds that name to removing every plot."""
        for curves in self.raw_curves.values():
            for c in curves:
                c.setData([], [])
        for plot in self.angle_plots.values():
            plot.blank()


class QualityTrend(pg.PlotWidget):
    """Quality score per rep (bars coloured by band), the last ``keep`` reps."""

    def __init__(self, keep: int = 24) -> None:
        super().__init__()
        self.keep = keep
        p = self.getPlotItem()
        p.setTitle("Quality per rep (0–100)", size="9pt")
        p.setMenuEnabled(False)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.disableAutoRange()
        p.setYRange(0, 104, padding=0)
        p.setXRange(0.5, keep + 0.5, padding=0)
        p.getAxis("left").setTicks([[(0, "0"), (50, "50"), (100, "100")]])
        p.getAxis("left").setWidth(30)
        p.showGrid(x=False, y=True, alpha=0.12)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        p.addItem(self.bars)
        self.set_lines: list[pg.InfiniteLine] = []
        self.shown = 0
        self.setMinimumHeight(110)

    def show_reps(self, reps: list[Rep]) -> None:
        """Redraw the bars for ``reps`` (called when a rep completes)."""
        recent = reps[-self.keep :]
        self.shown = len(reps)
        p = self.getPlotItem()
        for line in self.set_lines:
            p.removeItem(line)
        self.set_lines = []
        if not recent:
            self.bars.setOpts(x=[], height=[], brushes=[])
            return
        x = np.array([r.rep for r in recent], dtype=float)
        q = np.array([r.quality if math.isfinite(r.quality) else 0.0 for r in recent])
        brushes = [tone_brush(score_tone(r.quality), 220) for r in recent]
        self.bars.setOpts(x=x, height=q, width=0.7, brushes=brushes, pens=[None] * len(x))
        first = x[0]
        p.setXRange(first - 0.5, first + self.keep - 0.5, padding=0)
        for prev, cur in itertools.pairwise(recent):
            if cur.set != prev.set:  # a new set starts between these bars
                line = pg.InfiniteLine(cur.rep - 0.5, angle=90, pen=pg.mkPen("#999", width=1))
                p.addItem(line)
                self.set_lines.append(line)
