"""The Progress view: a participant's sessions over time from the session library
(gui/history.py) — knee range against symptoms, quality, and adherence per week."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from gui.history import Catalogue, SessionSummary, WeekAdherence, adherence


def progress_series(sessions: list[SessionSummary]) -> dict[str, np.ndarray]:
    """What the view plots, per session in time order (x: days since the first session)."""
    t0 = min((s.start_unix for s in sessions if math.isfinite(s.start_unix)), default=0.0)
    return {
        "day": np.array([(s.start_unix - t0) / 86400.0 for s in sessions]),
        "knee_rom_deg": np.array([s.knee_rom_deg for s in sessions], float),
        "symptoms_after": np.array([s.last_rating for s in sessions], float),
        "quality": np.array([s.quality for s in sessions], float),
    }


def calendar_cells(sessions: list[SessionSummary]) -> list[tuple[int, int, int]]:
    """(weekday 0 = Monday, week row from the first session's week, sessions that day) of
    every day with a session (UTC dates)."""
    dated = [s.date for s in sessions if s.date is not None]
    if not dated:
        return []
    monday = min(dated) - dt.timedelta(days=min(dated).weekday())
    counts: dict[tuple[int, int], int] = {}
    for d in dated:
        key = (d.weekday(), (d - monday).days // 7)
        counts[key] = counts.get(key, 0) + 1
    return [(x, y, n) for (x, y), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


class ProgressWindow(QtWidgets.QMainWindow):
    """Progress of one participant (or everyone) from a folder's catalogue."""

    closed = QtCore.Signal()

    def __init__(self, folder: Path, participant: str | None = None) -> None:
        super().__init__()
        self.folder, self.participant = Path(folder), participant
        who = participant or "all participants"
        self.setWindowTitle(f"flossmeter — progress of {who}")
        self.summary = QtWidgets.QLabel("")
        self.summary.setWordWrap(True)
        self.plots = pg.GraphicsLayoutWidget()
        self.range_plot = self.plots.addPlot(0, 0, title="Knee range (°, blue) and symptoms "
                                             "after the session (0–10, red)")  # fmt: skip
        self.quality_plot = self.plots.addPlot(1, 0, title="Quality per session (0–100)")
        self.week_plot = self.plots.addPlot(2, 0, title="Sessions per week: done (bars) and "
                                            "prescribed (line)")  # fmt: skip
        self.calendar_plot = self.plots.addPlot(3, 0, title="Calendar: a square per day with a "
                                                "session, a week per row")  # fmt: skip
        self.calendar = pg.ScatterPlotItem(symbol="s", size=16, pen=pg.mkPen("#555555"))
        self.calendar_plot.addItem(self.calendar)
        self.calendar_plot.invertY(True)
        self.calendar_plot.getAxis("bottom").setTicks(
            [list(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]))]
        )
        self.calendar_plot.setXRange(-0.6, 6.6, padding=0)
        for p in (self.range_plot, self.quality_plot):
            p.setLabel("bottom", "days since the first session")
            p.showGrid(x=False, y=True, alpha=0.15)
        self.range_curve = self.range_plot.plot(pen=pg.mkPen("#1f5fa8", width=2), symbol="o",
                                                symbolSize=6, symbolBrush="#1f5fa8")  # fmt: skip
        self.symptom_view = pg.ViewBox()
        self.range_plot.showAxis("right")
        self.range_plot.scene().addItem(self.symptom_view)
        self.range_plot.getAxis("right").linkToView(self.symptom_view)
        self.symptom_view.setXLink(self.range_plot)
        self.symptom_view.setYRange(0, 10)
        self.symptom_curve = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=1), symbol="s",
                                             symbolSize=6, symbolBrush="#d62728")  # fmt: skip
        self.symptom_view.addItem(self.symptom_curve)
        # a bound method, not a lambda over self: a lambda held by a plot item's signal keeps
        # the window alive until Qt's teardown, which then crashed the process on exit
        self.range_plot.vb.sigResized.connect(self._fit_symptom_view)
        self.quality_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#2e9e43")
        self.quality_plot.addItem(self.quality_bars)
        self.quality_plot.setYRange(0, 100)
        self.week_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#9ecae1")
        self.week_plot.addItem(self.week_bars)
        self.week_line = self.week_plot.plot(pen=pg.mkPen("#1f5fa8", width=2))
        self.week_plot.setLabel("bottom", "week")
        body = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(body)
        lay.addWidget(self.summary)
        lay.addWidget(self.plots, 1)
        self.setCentralWidget(body)
        self.resize(1100, 980)
        self.sessions: list[SessionSummary] = []
        self.weeks: list[WeekAdherence] = []

    def _fit_symptom_view(self) -> None:
        self.symptom_view.setGeometry(self.range_plot.vb.sceneBoundingRect())

    def start(self) -> None:
        """Read (and bring up to date) the folder's catalogue and draw it."""
        cat = Catalogue(self.folder)
        try:
            cat.refresh()
            self.sessions = cat.sessions(self.participant)
        finally:
            cat.close()
        self.weeks = adherence(self.sessions)
        self.show_sessions()

    def show_sessions(self) -> None:
        s = self.sessions
        if not s:
            self.summary.setText(f"No sessions in {self.folder}.")
            return
        d = progress_series(s)
        self.range_curve.setData(d["day"], d["knee_rom_deg"])
        ok = np.isfinite(d["symptoms_after"])
        self.symptom_curve.setData(d["day"][ok], d["symptoms_after"][ok])
        self.quality_bars.setOpts(x=d["day"], height=np.nan_to_num(d["quality"]), width=0.6)
        x = np.arange(len(self.weeks))
        self.week_bars.setOpts(x=x, height=[w.sessions for w in self.weeks], width=0.6)
        self.week_line.setData(x, [w.sessions_prescribed for w in self.weeks])
        ticks = [(i, w.week[-3:]) for i, w in enumerate(self.weeks)]
        self.week_plot.getAxis("bottom").setTicks([ticks])
        cells = calendar_cells(s)
        self.calendar.setData(
            x=[c[0] for c in cells], y=[c[1] for c in cells],
            brush=[pg.mkBrush(46, 158, 67, min(255, 110 + 70 * (c[2] - 1))) for c in cells],
        )  # fmt: skip
        self.calendar_plot.getAxis("left").setTicks([ticks])
        self.calendar_plot.setYRange(-0.6, len(self.weeks) - 0.4, padding=0)
        done = sum(w.sessions for w in self.weeks)
        prescribed = sum(w.sessions_prescribed for w in self.weeks)
        adherence_text = f"; {done} of {prescribed} prescribed sessions" if prescribed else ""
        self.summary.setText(
            f"{len(s)} sessions from {s[0].date} to {s[-1].date}{adherence_text}; knee range "
            f"{d['knee_rom_deg'][0]:.0f}° → {d['knee_rom_deg'][-1]:.0f}°, quality "
            f"{d['quality'][0]:.0f} → {d['quality'][-1]:.0f}"
        )

    def state(self) -> dict[str, Any]:
        return {
            "sessions": len(self.sessions),
            "weeks": [w.text() for w in self.weeks],
            "summary": self.summary.text(),
        }

    async def shutdown(self) -> None:
        return None

    def closeEvent(self, event: Any) -> None:
        super().closeEvent(event)
        self.closed.emit()
