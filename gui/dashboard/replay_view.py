"""The replay window: a recording played back through the same hub, feed and panel as live, with
play/pause, speed 0.5–8×, a timeline of reps and events to seek on, and the per-rep CSV export."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets

from collector.errors import CollectorError
from collector.hub import Hub
from collector.replay import ReplaySource
from gui.dashboard.feed import DashboardFeed, clock_text
from gui.dashboard.recorded import RecordedAnalysis
from gui.dashboard.timeline import Timeline
from gui.dashboard.window import DashboardWindow

if TYPE_CHECKING:
    from analysis.results import AnalysisResult
    from collector.recording import Recording

log = logging.getLogger(__name__)

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0)
#: Analysis done between two frames (s): most of the time goes to the analysis, the playback
#: still moves at ~10 frames per second until it is done.
STEP_BUDGET_S = 0.06
#: Analyse = ``analyse(recording)``: yields the fraction done, then returns the result
#: (``StopIteration.value``); run on the event loop a step at a time.
Analyse = Callable[["Recording"], Generator[float, None, "AnalysisResult"]]


def analyse_recording(recording: Recording) -> Generator[float, None, AnalysisResult]:
    """The one analysis of a recording (``RepAnalysis``), 10 s of data per step."""
    from analysis.session import RepAnalysis

    analysis = RepAnalysis()
    yield from analysis.steps(recording.samples, chunk_s=10.0)
    return analysis.result_


class ReplayWindow(DashboardWindow):
    """Replay recordings: :meth:`start` opens one (or the Open… button does).

    The raw signals play at once; the recording is analysed once, a step at a time between
    frames (progress on the alert card), and its result joins the playback when ready — the
    timeline's reps, the angles, the counter and the reps CSV export all come from that one
    result.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        start_s: float = 0.0,
        playing: bool = True,
        analyse: Analyse | None = analyse_recording,
    ) -> None:
        super().__init__("flossmeter — replay")
        self.analyse = analyse
        self.initial_speed = speed
        self.initial_start_s = start_s
        self.initial_playing = playing
        self.recording: Recording | None = None
        self.analysis: RecordedAnalysis | None = None
        self.analysis_task: asyncio.Future[RecordedAnalysis | None] | None = None
        self.source: ReplaySource | None = None
        self.hub: Hub | None = None
        self._progress: float | None = None  # fraction analysed so far
        self.timeline = Timeline()
        self.timeline.seek_requested.connect(self.seek)
        body = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 6)
        lay.addWidget(self.panel, 1)
        lay.addWidget(self.timeline)
        self.setCentralWidget(body)
        self._build_toolbar()
        self.status_label = QtWidgets.QLabel("no recording open")
        self.statusBar().addWidget(self.status_label, 1)
        self._clock = QtCore.QTimer(self)
        self._clock.timeout.connect(self._update_position)
        self.resize(1500, 980)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Replay")
        bar.setMovable(False)
        self.open_button = QtWidgets.QPushButton("Open…")
        self.open_button.clicked.connect(self._open_clicked)
        bar.addWidget(self.open_button)
        bar.addSeparator()
        self.play_button = QtWidgets.QPushButton("▶ Play")
        self.play_button.setMinimumWidth(80)
        self.play_button.clicked.connect(self.toggle_play)
        bar.addWidget(self.play_button)
        QtGui.QShortcut(QtGui.QKeySequence("Space"), self, activated=self.toggle_play)
        bar.addWidget(QtWidgets.QLabel(" speed "))
        self.speed_box = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(self._speed_index(self.initial_speed))
        self.speed_box.currentIndexChanged.connect(
            lambda i: self.set_speed(float(self.speed_box.itemData(i)))
        )
        bar.addWidget(self.speed_box)
        self.position_label = QtWidgets.QLabel(" –:–– / –:–– ")
        self.position_label.setStyleSheet("font-family: monospace; font-size: 11pt;")
        bar.addWidget(self.position_label)
        bar.addSeparator()
        self.export_button = self._save_button(
            bar, "Export reps CSV…", ("Export the reps as CSV", "-reps.csv", "CSV (*.csv)"),
            self.export_reps,
        )  # fmt: skip
        self.report_button = self._save_button(
            bar, "Report…", ("Save the session report", ".html", "HTML (*.html)"),
            self.save_report,
        )  # fmt: skip

    def _save_button(
        self,
        bar: QtWidgets.QToolBar,
        label: str,
        dialog: tuple[str, str, str],
        write: Callable[[Path], Any],
    ) -> QtWidgets.QPushButton:
        """A toolbar button (off until a recording is open) that asks where to save, beside the
        recording (``dialog``: :meth:`_save_as`' title, suffix and kinds), and writes there."""

        def clicked() -> None:
            if self.recording is None:
                return
            path = self._save_as(*dialog)
            if path:
                write(path)

        button = QtWidgets.QPushButton(label)
        button.clicked.connect(clicked)
        button.setEnabled(False)
        bar.addWidget(button)
        return button

    @staticmethod
    def _speed_index(speed: float) -> int:
        return min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))

    # -- opening -------------------------------------------------------------------------------

    def _open_clicked(self) -> None:
        start = str(self.recording.path.parent) if self.recording and self.recording.path else ""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recording", start or "recordings",
            "Recordings (*.flossrec *.csv);;All files (*)",
            options=QtWidgets.QFileDialog.DontUseNativeDialog,
        )  # fmt: skip
        if path:
            self.start(Path(path))

    def start(self, path: Path, recording: Recording | None = None) -> asyncio.Task[None]:
        """Open ``path`` and play it (stopping whatever was playing); ``recording``: the file,
        already loaded."""
        self._opened_at = time.perf_counter()
        self._analysed_at: float | None = None
        self.panel.frames.reset()
        self.panel.start()
        self._clock.start(100)
        self.task = asyncio.ensure_future(self._open_and_play(Path(path), self.task, recording))
        return self.task

    async def _open_and_play(
        self, path: Path, previous: asyncio.Task[None] | None, rec: Recording | None = None
    ) -> None:
        if previous is not None and not previous.done():
            previous.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        self._stop_analysis()
        from collector.io import load

        try:
            rec = rec or load(path)  # a recording, or long CSV from another tool
        except CollectorError as e:
            self._message(f"Cannot open this file: {e}")
            return
        if not rec.samples:
            self._message(f"{path.name}: the recording holds no samples")
            return
        self.setWindowTitle(f"flossmeter — replay — {path.name}")
        src = ReplaySource(
            rec,
            speed=self.initial_speed,
            start_s=self.initial_start_s,
            playing=self.initial_playing,
            hold_at_end=True,
            preroll_s=self.feed.angle_window_s,
        )
        feed = DashboardFeed(src.sensors)  # raw signals at once; the analysis joins when ready
        feed.analysis_pending = self.analyse is not None
        self.recording, self.analysis, self.source, self.feed = rec, None, src, feed
        self.panel.set_feed(feed)
        self.timeline.show_recording(rec.duration_s, [], rec.events)
        self.status_label.setText(f"{path}  ·  {rec.duration_s:.1f} s  ·  analysing…")
        self.initial_start_s = 0.0
        self.analysis_task = asyncio.ensure_future(self._analyse(rec))
        try:
            async with src:
                self.hub = Hub(src, [])
                feed.attach(self.hub)
                await self.hub.run()
        except (CollectorError, ValueError) as e:
            self._message(f"Replay stopped: {e}")

    async def _analyse(self, rec: Recording) -> RecordedAnalysis | None:
        """Analyse ``rec`` between frames, then join the result to the playback.

        The analysis runs on the event loop in slices of about :data:`STEP_BUDGET_S`, so the
        window keeps painting (a worker thread would fight the painting for Python's GIL:
        measured 4× slower); its modules are imported in a thread first, so the first frame
        does not wait for scipy."""
        if self.analyse is None:
            self._message("No rep analysis in this build: showing the raw signals only.", "fair")
            return None
        self._progress = 0.0
        self._message(f"Analysing {rec.name} …", "neutral")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, importlib.import_module, "analysis.session")
            steps = self.analyse(rec)
            while True:
                deadline = time.perf_counter() + STEP_BUDGET_S
                try:
                    while time.perf_counter() < deadline:
                        self._progress = next(steps)
                except StopIteration as done:
                    result = done.value
                    break
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug in the analysis must not take the window down
            log.exception("the analysis of %s failed", rec.name)
            self._progress = None
            self.feed.analysis_pending = False
            self._message(f"The analysis failed ({type(e).__name__}: {e}); raw signals only")
            return None
        self._progress = None
        if self.recording is not rec:  # another recording was opened meanwhile
            return None
        analysis = RecordedAnalysis(result)
        self.analysis = analysis
        self._analysed_at = time.perf_counter()
        self.feed.alert = None
        self.feed.set_analyzer(analysis)
        self.timeline.show_recording(rec.duration_s, analysis.all_reps, rec.events)
        self.export_button.setEnabled(True)
        self.report_button.setEnabled(True)
        self.status_label.setText(
            f"{rec.path or rec.name}  ·  {rec.duration_s:.1f} s  ·  {len(analysis.all_reps)} reps"
        )
        return analysis

    async def wait_for_analysis(self) -> RecordedAnalysis | None:
        """The open recording's analysis, once it is done (None without one)."""
        while self.analysis_task is None:
            await asyncio.sleep(0.01)
        return await asyncio.shield(self.analysis_task)

    def _stop_analysis(self) -> None:
        if self.analysis_task is not None and not self.analysis_task.done():
            self.analysis_task.cancel()
        self.analysis_task = None

    # -- transport -------------------------------------------------------------------------------

    def toggle_play(self) -> None:
        """Play or pause."""
        if self.source is None:
            return
        if self.source.playing:
            self.source.pause()
        else:
            self.source.play()
        self._update_position()

    def set_speed(self, speed: float) -> None:
        """Playback speed, 0.5–8×."""
        self.initial_speed = speed
        if self.source is not None:
            self.source.set_speed(speed)
        if self.speed_box.currentIndex() != self._speed_index(speed):
            self.speed_box.setCurrentIndex(self._speed_index(speed))

    def seek(self, t_s: float) -> None:
        """Jump to session time ``t_s``."""
        if self.source is not None:
            self.source.seek(t_s)
            self._update_position()

    def _update_position(self) -> None:
        if self._progress is not None:
            self._message(f"Analysing: {100 * self._progress:.0f} %", "neutral")
        src = self.source
        if src is None:
            return
        pos = src.position_s
        self.timeline.set_position(pos)
        self.position_label.setText(f" {clock_text(pos)} / {clock_text(src.duration_s)} ")
        self.play_button.setText("❚❚ Pause" if src.playing else "▶ Play")

    # -- export ----------------------------------------------------------------------------------

    def _save_as(self, title: str, suffix: str, kinds: str) -> Path | None:
        """A save dialog beside the open recording, named after it."""
        assert self.recording is not None
        name = (self.recording.path.stem if self.recording.path else "session") + suffix
        folder = self.recording.path.parent if self.recording.path else Path()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, title, str(folder / name), kinds,
            options=QtWidgets.QFileDialog.DontUseNativeDialog,
        )  # fmt: skip
        return Path(path) if path else None

    def export_reps(self, path: Path) -> Path | None:
        """Write the per-rep CSV (and its data dictionary beside it) of the open recording,
        from the analysis the replay shows."""
        if self.recording is None:
            self._message("Open a recording first.", "fair")
            return None
        if self.analysis is None:
            self._message("The analysis is not ready yet: export once it is done.", "fair")
            return None
        try:
            from gui.export import write_reps_csv

            out = write_reps_csv(self.analysis.result.reps, path)
        except ImportError as e:
            self._message(f"Export is not available in this build ({e}).")
            return None
        except (OSError, CollectorError, ValueError) as e:
            self._message(f"Cannot export: {e}")
            return None
        out = Path(out) if out is not None else path
        self._message(f"Exported the reps to {out} (with its data dictionary)", "good")
        return out

    def save_report(self, path: Path) -> Path | None:
        """Write the session report (one HTML file) from the analysis the replay shows."""
        if self.recording is None or self.analysis is None:
            self._message("The analysis is not ready yet: save the report once it is done.", "fair")
            return None
        try:
            from gui.report import report_of

            out = report_of(self.recording, self.analysis.result, path)
        except (OSError, ValueError) as e:
            self._message(f"Cannot write the report: {e}")
            return None
        self._message(f"Saved the report to {out} — open it in any browser", "good")
        return out

    # -- closing ---------------------------------------------------------------------------------

    def _stopping(self) -> None:
        """Closing or shutting down stops the playback and drops a running analysis."""
        self._stop_analysis()
        self._clock.stop()
        super()._stopping()

    def state(self) -> dict[str, Any]:
        """What is on screen (for tests and screenshot side files)."""
        s = self.panel.state()
        s["position_s"] = self.source.position_s if self.source else None
        s["all_reps"] = len(self.analysis.all_reps) if self.analysis else 0
        s["recording"] = str(self.recording.path) if self.recording else None
        # since the file was opened: the first frame painted, the analysis joined (s)
        opened = getattr(self, "_opened_at", None)
        first = self.panel.frames.first_data_frame_t
        s["first_frame_s"] = first - opened if opened is not None and first is not None else None
        done = getattr(self, "_analysed_at", None)
        s["analysis_ready_s"] = done - opened if opened is not None and done is not None else None
        return s
