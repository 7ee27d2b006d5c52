"""The live window: straps streaming through the hub into the dashboard, with recording controls
(start/stop, participant pseudonym, markers, notes) and a way into the replay of a recording."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from analysis.programme import Programme
from collector.errors import CollectorError
from collector.hub import Hub
from collector.model import Source, SourceEvent
from gui.dashboard.feed import clock_text, make_analyzer
from gui.dashboard.guided import GuidedSession
from gui.dashboard.guided_view import GuidedPanel, ScriptedAnswers
from gui.dashboard.pacer_tick import PacerTick
from gui.dashboard.session import SessionRecording
from gui.dashboard.window import DashboardWindow

log = logging.getLogger(__name__)


class LiveWindow(DashboardWindow):
    """Live dashboard over the source ``make_source()`` returns (entered when :meth:`start`
    runs). ``metadata`` goes into recordings made here; ``folder`` is where they go;
    ``explain`` turns a source's own exceptions (e.g. bleak's) into a message, or None;
    ``publish(source, feed, metadata)``, if given, returns one more hub sink that is also a
    context manager (the LSL outlet), closed after the feed has its last reps."""

    def __init__(
        self,
        make_source: Callable[[], Source],
        *,
        title: str = "flossmeter — live",
        metadata: dict[str, Any] | None = None,
        folder: Path = Path("recordings"),
        make_analyzer: Callable[..., Any] = make_analyzer,
        participant: str = "",
        record_to: Path | None = None,
        explain: Callable[[BaseException], str | None] | None = None,
        programme: Programme | None = None,
        answers: ScriptedAnswers | None = None,
        tick: bool = False,
        publish: Callable[[Source, Any, dict[str, Any]], Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.publish = publish
        self._published = contextlib.ExitStack()
        self.make_source = make_source
        self.make_analyzer = make_analyzer
        self.hub: Hub | None = None
        self.session = SessionRecording(folder, metadata)
        self.record_to = record_to
        self.explain = explain
        self.replays: list[QtWidgets.QMainWindow] = []
        self.setCentralWidget(self.panel)
        self._build_toolbar(participant)
        self.status_label = QtWidgets.QLabel("connecting…")
        self.statusBar().addWidget(self.status_label, 1)
        self.fps_label = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.fps_label)
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.timeout.connect(self._update_status)
        self.guided: GuidedSession | None = None
        self.answers = answers
        self.tick: PacerTick | None = None
        self._want_tick = tick
        if programme is not None:
            self.use_programme(programme)
        self.resize(1500, 940)

    def use_programme(self, programme: Programme) -> None:
        """Guide the session by ``programme`` from now on (the toolbar's Programme… does this
        before a guided session has begun); it is stored with the recording."""
        if self.guided is not None and self.guided.log:
            self._message("A guided session is under way: its programme stays.", "fair")
            return
        if self.guided is None:
            self.guided_panel = GuidedPanel(self._rated, self._decided)
            self.panel.add_guided(self.guided_panel)
        self.guided = GuidedSession(programme)
        self.session.metadata["programme"] = programme.to_dict()
        self.panel.guide = self._guide_step
        self.panel.pacer = self.guided.pacer_deg
        self.panel.pacer_cap = lambda: self.guided.cap_deg if self.guided else None
        self.tick = PacerTick() if self._want_tick else None
        self._ticked_to = -np.inf
        self.panel.pacer_tick = self._pacer_tick
        self.guided_panel.show_state(self.guided, 0.0)
        if self.hub is not None and not self.session.recording:
            self._record_when_streaming()

    def _programme_clicked(self) -> None:
        from gui.dashboard.programme_dialog import ProgrammeDialog

        current = self.guided.programme if self.guided is not None else None
        dialog = ProgrammeDialog(self, current, folder=self.session.folder)
        if dialog.exec() and dialog.programme is not None:
            self.use_programme(dialog.programme)

    # -- the guided session --------------------------------------------------------------------

    def _guide_step(self, now_s: float) -> None:
        """Count the reps into the programme, move its clock on, answer a scripted question,
        record what happened, show it."""
        g = self.guided
        assert g is not None
        g.on_reps(self.feed.reps, now_s)
        g.tick(now_s)
        if self.answers is not None:
            self.answers.step(g, now_s)
        for e in g.take_events():
            if self.hub is not None:  # every sink sees it; an open recording stores it
                self.hub.dispatch(SourceEvent(e.time_s, e.kind, None, e.detail))
        self.guided_panel.show_state(g, now_s)

    def _pacer_tick(self, now_s: float) -> None:
        """A tick for each glide the pacer began since the last frame (with ``tick``)."""
        g = self.guided
        if self.tick is None or g is None:
            return
        if self._ticked_to > -np.inf:
            for _ in g.glide_starts(self._ticked_to, now_s):
                self.tick.tick()
        self._ticked_to = now_s

    def _rated(self, rating: int, note: str) -> None:
        if self.guided is not None and self.guided.phase == "check":
            self.guided.rate(rating, self._now(), note)
            self._guide_step(self._now())

    def _decided(self, action: str) -> None:
        if self.guided is not None and self.guided.phase == "decide":
            self.guided.decide(action, self._now())
            self._guide_step(self._now())

    # -- controls ------------------------------------------------------------------------------

    def _build_toolbar(self, participant: str) -> None:
        bar = self.addToolBar("Recording")
        bar.setMovable(False)
        bar.setIconSize(QtCore.QSize(16, 16))
        bar.addWidget(QtWidgets.QLabel(" Participant: "))
        self.participant = QtWidgets.QLineEdit(participant)
        self.participant.setPlaceholderText("pseudonym, e.g. P07")
        self.participant.setMaximumWidth(140)
        bar.addWidget(self.participant)
        self.record_button = QtWidgets.QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.clicked.connect(self.toggle_recording)
        bar.addWidget(self.record_button)
        self.marker_button = QtWidgets.QPushButton("Marker (M)")
        self.marker_button.clicked.connect(lambda: self.add_marker())
        bar.addWidget(self.marker_button)
        QtGui.QShortcut(QtGui.QKeySequence("M"), self, activated=lambda: self.add_marker())
        self.note = QtWidgets.QLineEdit()
        self.note.setPlaceholderText("note (Enter adds it at the current time)")
        self.note.setMinimumWidth(260)
        self.note.returnPressed.connect(self._note_entered)
        bar.addWidget(self.note)
        bar.addSeparator()
        self.recording_label = QtWidgets.QLabel(" not recording ")
        bar.addWidget(self.recording_label)
        spacer = QtWidgets.QWidget()
        spacer.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Preferred)
        bar.addWidget(spacer)
        self.replay_button = QtWidgets.QPushButton("Replay…")
        self.replay_button.clicked.connect(self._replay_clicked)
        bar.addWidget(self.replay_button)
        self.programme_button = QtWidgets.QPushButton("Programme…")
        self.programme_button.clicked.connect(self._programme_clicked)
        bar.addWidget(self.programme_button)
        self.progress_button = QtWidgets.QPushButton("Progress")
        self.progress_button.clicked.connect(lambda: self.open_progress())
        bar.addWidget(self.progress_button)

    def toggle_recording(self) -> None:
        """Start recording, or stop the recording in progress."""
        if self.session.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, path: Path | None = None) -> Path | None:
        """Record the session from now on (to ``path`` or a new file in the folder)."""
        if self.hub is None or not self.feed.has_data:
            self._message("Nothing to record yet: wait until the straps stream.", "fair")
            self.record_button.setChecked(False)
            return None
        try:
            out = self.session.start(
                self.hub, self.feed.sensors, self.participant.text(), path, self._now()
            )
        except (ValueError, CollectorError) as e:
            self._message(f"Cannot record: {e}")
            self.record_button.setChecked(False)
            return None
        self.record_button.setChecked(True)
        self.record_button.setText("■ Stop")
        self.participant.setEnabled(False)
        self._message(f"Recording to {out}", "good")
        return out

    def stop_recording(self, say: bool = True) -> Path | None:
        """Close the recording cleanly (and ``say`` where it went)."""
        try:
            out = self.session.stop()
        except CollectorError as e:
            self._message(f"The recording could not be closed cleanly: {e}")
            out = None
        self.record_button.setChecked(False)
        self.record_button.setText("● Record")
        self.participant.setEnabled(True)
        if out is not None and say:
            self._message(f"Saved {out} — Replay… opens it", "good")
        return out

    def _now(self) -> float:
        now = self.feed.now_s
        return now if now == now else 0.0

    def add_marker(self, text: str = "") -> None:
        """Put a marker at the current time (in the recording, if one is open)."""
        if self.hub is not None:
            self.session.mark(self.hub, self._now(), text)

    def add_note(self, text: str) -> None:
        """Put a note at the current time (in the recording, if one is open)."""
        if self.hub is not None:
            self.session.note(self.hub, self._now(), text)

    def _note_entered(self) -> None:
        self.add_note(self.note.text())
        self.note.clear()

    def _replay_clicked(self) -> None:
        start = str(self.session.last_path or self.session.folder)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recording", start, "Recordings (*.flossrec);;All files (*)",
            options=QtWidgets.QFileDialog.DontUseNativeDialog,
        )  # fmt: skip
        if path:
            self.open_replay(Path(path))

    def open_replay(self, path: Path) -> QtWidgets.QMainWindow:
        """Open ``path`` in a replay window beside this one."""
        from gui.dashboard.replay_view import ReplayWindow

        window = ReplayWindow()
        self.replays.append(window)
        window.show()
        window.start(path)
        return window

    def open_progress(self) -> QtWidgets.QMainWindow:
        """The participant's progress over the sessions in the recordings folder."""
        from gui.dashboard.progress_view import ProgressWindow

        who = self.participant.text().strip() or None
        window = ProgressWindow(self.session.folder, who)
        self.replays.append(window)  # closed with this window
        window.show()
        try:
            window.start()
        except (OSError, ValueError) as e:
            self._message(f"Cannot read the sessions in {self.session.folder}: {e}")
        return window

    def _update_status(self) -> None:
        f = self.panel.frames
        self.fps_label.setText(f"{f.fps(over_s=3.0):.0f} fps")
        t = f"session {clock_text(self.feed.now_s)}"
        if self.session.recording:
            secs = self._now() - self.session.started_s
            self.recording_label.setText(
                f" ● REC {clock_text(secs)} · {self.session.path.name} · "
                f"{self.session.samples_written:,} samples "
            )
            self.recording_label.setStyleSheet("color: #c62828; font-weight: bold;")
        else:
            self.recording_label.setText(" not recording ")
            self.recording_label.setStyleSheet("color: #707070;")
        if self.feed.ended:
            t += " · the source has ended"
        self.status_label.setText(t)

    # -- running -------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Enter the source and stream it through the hub into the dashboard."""
        self.panel.start()
        self._status_timer.start(500)
        self.task = asyncio.ensure_future(self._run())
        return self.task

    async def _run(self) -> None:
        self.make_analyzer(("shin",))  # import the analysis (scipy: ~1 s) before the straps stream
        try:
            async with self.make_source() as source:
                sensors = source.sensors
                self.feed.set_sensors(sensors)
                self.feed.analyzer = self.make_analyzer(tuple(sensors))
                self.hub = Hub(source, [])
                self.feed.attach(self.hub)
                if self.publish is not None:
                    sink = self.publish(source, self.feed, self.session.metadata)
                    self.hub.add_sink(self._published.enter_context(sink))
                now = getattr(source, "now", None)  # session time of a source that keeps one
                self.session.session_start_unix = time.time() - (now() if callable(now) else 0.0)
                self.status_label.setText("streaming")
                if self.record_to is not None or self.guided is not None:
                    # a guided session is always recorded: its symptoms and decisions are data
                    self._record_when_streaming()
                await self.hub.run()
            self.feed.finish()
            while self.guided is not None and self.guided.phase in ("check", "decide"):
                # the last symptom question can come as the straps stop: the recording stays
                # open until it is answered (or the window closes)
                self._guide_step(self._now())
                await asyncio.sleep(0.1)
            if self.guided is not None:
                self._guide_step(self._now())
            saved = self.stop_recording(say=False) if self.session.recording else None
            also = f"; saved {saved} — Replay… opens it" if saved else ""
            self._message(f"The straps' stream has ended{also}.", "neutral")
        except asyncio.CancelledError:
            raise
        except (CollectorError, OSError, ValueError) as e:
            log.error("%s", e)
            self._message(f"Straps: {e}")
        except Exception as e:  # the window stays up and says what happened, no traceback
            text = self.explain(e) if self.explain is not None else None
            log.debug("the source failed", exc_info=True)
            log.error("%s", text or f"{type(e).__name__}: {e}")
            self._message(f"Straps: {text or f'{type(e).__name__}: {e}'}")
        finally:
            if self.session.recording:
                self.stop_recording()
            self._published.close()

    def _record_when_streaming(self) -> None:
        def check() -> None:
            if self.feed.has_data:
                self.start_recording(self.record_to)
            elif self.task is not None and not self.task.done():
                QtCore.QTimer.singleShot(50, check)

        QtCore.QTimer.singleShot(50, check)

    def _stopping(self) -> None:
        """Closing or shutting down stops the stream; the recording is closed cleanly."""
        if self.session.recording:
            self.stop_recording()
        self._status_timer.stop()
        super()._stopping()

    async def shutdown(self) -> None:
        """Stop streaming (and the replays opened from here); close any recording cleanly."""
        for w in self.replays:
            await w.shutdown()
            # deleted by Qt, in order, not by Python's collector at some later moment (a view
            # destroyed that way can find its plot items half gone and abort the process)
            w.close()
            w.deleteLater()
        self.replays.clear()
        await super().shutdown()

    def state(self) -> dict[str, Any]:
        """What is on screen (for tests and screenshot side files)."""
        s = self.panel.state()
        s["recording"] = str(self.session.path) if self.session.path else None
        s["last_recording"] = str(self.session.last_path) if self.session.last_path else None
        if self.guided is not None:
            g = self.guided
            s["guided"] = {
                "phase": g.phase,
                "progress": g.progress_text(self._now()),
                "set": g.set_no,
                "cap_deg": g.cap_deg,
                "verdicts": [(v.rep, v.set, v.as_prescribed, list(v.reasons)) for v in g.verdicts],
                "events": [(e.kind, e.detail.get("what", e.detail.get("rating"))) for e in g.log],
            }
        return s
