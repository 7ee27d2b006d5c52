"""The replay timeline: the whole recording with its reps (coloured by quality) and events;
click or drag the playhead to seek."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from gui.dashboard.feedback import score_tone
from gui.dashboard.plots import tone_brush

if TYPE_CHECKING:
    import pandas as pd

    from analysis.results import Rep

#: How each event kind is drawn: (row y, symbol, colour). Gaps are drawn small, low down.
EVENT_STYLE = {
    "marker": (0.88, "t", "#1f5fa8"),
    "note": (0.88, "s", "#6a3d9a"),
    "disconnected": (0.88, "x", "#c62828"),
    "connected": (0.88, "o", "#2e7d32"),
    "error": (0.88, "star", "#b26a00"),
    "gap": (0.08, "|", "#9e9e9e"),
}


class Timeline(pg.PlotWidget):
    """Reps as bars, events as symbols over session time; emits ``seek_requested(t_s)``."""

    seek_requested = QtCore.Signal(float)

    def __init__(self) -> None:
        super().__init__()
        p = self.getPlotItem()
        p.setMenuEnabled(False)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        p.disableAutoRange()
        p.hideAxis("left")
        p.setYRange(0, 1, padding=0)
        p.setLabel("bottom", "session time, s")
        self.setFixedHeight(92)
        self.bars = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[])
        p.addItem(self.bars)
        self.rep_labels: list[pg.TextItem] = []
        self.events = pg.ScatterPlotItem(size=9, pxMode=True)
        p.addItem(self.events)
        pen = pg.mkPen("#202020", width=2)
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pen)
        # a bound method, not a lambda over self (see ProgressWindow: a crash on exit)
        self.playhead.sigPositionChangeFinished.connect(self._playhead_moved)
        p.addItem(self.playhead)
        self.duration_s = 0.0
        p.scene().sigMouseClicked.connect(self._clicked)

    def show_recording(self, duration_s: float, reps: list[Rep], events: pd.DataFrame) -> None:
        """Draw the whole recording: ``reps`` and ``events`` (time_s, kind, ...)."""
        p = self.getPlotItem()
        self.duration_s = max(duration_s, 1e-3)
        p.setXRange(0, self.duration_s, padding=0.01)
        for label in self.rep_labels:
            p.removeItem(label)
        self.rep_labels = []
        if reps:
            x0 = np.array([r.start_s for r in reps])
            x1 = np.array([r.end_s for r in reps])
            brushes = [tone_brush(score_tone(r.quality), 200) for r in reps]
            pens = [None] * len(reps)
            self.bars.setOpts(x0=x0, x1=x1, y0=0.22, y1=0.72, brushes=brushes, pens=pens)
            for r in reps:
                label = pg.TextItem(str(r.rep), color="#202020", anchor=(0.5, 0.5))
                label.setPos((r.start_s + r.end_s) / 2, 0.47)
                p.addItem(label)
                self.rep_labels.append(label)
        else:
            self.bars.setOpts(x0=[], x1=[], y0=[], y1=[], brushes=[])
        spots = []
        if events is not None and len(events):
            for t, kind in events[["time_s", "kind"]].itertuples(index=False):
                style = EVENT_STYLE.get(kind)
                if style is None or not math.isfinite(t):
                    continue
                y, symbol, colour = style
                spots.append({"pos": (t, y), "symbol": symbol, "brush": colour, "pen": colour,
                              "size": 6 if kind == "gap" else 10})  # fmt: skip
        self.events.setData(spots)

    def set_position(self, t_s: float) -> None:
        """Move the playhead (unless the user is dragging it)."""
        if not self.playhead.moving:
            self.playhead.setValue(t_s)

    def _playhead_moved(self, line: pg.InfiniteLine) -> None:
        self.seek_requested.emit(float(line.value()))

    def _clicked(self, ev: object) -> None:
        pos = ev.scenePos()  # type: ignore[attr-defined]
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(pos):
            return
        t = float(vb.mapSceneToView(pos).x())
        self.seek_requested.emit(min(max(t, 0.0), self.duration_s))
