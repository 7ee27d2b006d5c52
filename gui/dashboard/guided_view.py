"""The guided session on screen: progress against the programme, the symptom question with its
0–10 buttons and the advice, the last rep's verdict; the pacer's ghost glide goes on the knee
plot (:class:`~gui.dashboard.views.DashboardPanel`'s ``pacer``). The state is
:class:`~gui.dashboard.guided.GuidedSession`'s; this module only shows it and passes on what the
patient pressed."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6 import QtWidgets

from gui.dashboard.guided import GuidedSession
from gui.dashboard.widgets import _set_colour

PHASE_TONES = {
    "check": ("#8d6e00", "#fff8e1"),
    "decide": ("#c62828", "#ffebee"),
    "set": ("#1f5fa8", "#e8f0fb"),
    "rest": ("#2e7d32", "#e8f5e9"),
    "done": ("#2e7d32", "#e8f5e9"),
    "stopped": ("#707070", "#eeeeee"),
}


class GuidedPanel(QtWidgets.QFrame):
    """Progress, symptom question and advice of a guided session. ``on_rate(rating, note)``
    and ``on_decide(action)`` are called when the patient answers."""

    def __init__(
        self, on_rate: Callable[[int, str], None], on_decide: Callable[[str], None]
    ) -> None:
        super().__init__()
        self.setObjectName("guided")
        self.on_rate, self.on_decide = on_rate, on_decide
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(4)
        self.title = QtWidgets.QLabel("")
        self.title.setWordWrap(True)
        self.detail = QtWidgets.QLabel("")
        self.detail.setWordWrap(True)
        lay.addWidget(self.title)
        lay.addWidget(self.detail)
        self.rating_box = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(self.rating_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        self.rating_buttons = []
        for k in range(11):
            b = QtWidgets.QPushButton(str(k))
            b.setFixedWidth(30)
            b.clicked.connect(lambda _=False, k=k: self._rated(k))
            grid.addWidget(b, k // 6, k % 6)
            self.rating_buttons.append(b)
        self.note = QtWidgets.QLineEdit()
        self.note.setPlaceholderText("tingling, pain, numbness… (optional)")
        grid.addWidget(self.note, 2, 0, 1, 6)
        lay.addWidget(self.rating_box)
        self.decision_box = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.decision_box)
        row.setContentsMargins(0, 0, 0, 0)
        self.reduce_button = QtWidgets.QPushButton("Reduce the range")
        self.stop_button = QtWidgets.QPushButton("Stop for today")
        self.continue_button = QtWidgets.QPushButton("Carry on")
        for b, action in (
            (self.reduce_button, "reduce"),
            (self.stop_button, "stop"),
            (self.continue_button, "continue"),
        ):
            b.clicked.connect(lambda _=False, a=action: self.on_decide(a))
            row.addWidget(b)
        lay.addWidget(self.decision_box)
        self._shown: tuple[object, ...] = ()

    def _rated(self, k: int) -> None:
        note = self.note.text()
        self.note.clear()
        self.on_rate(k, note)

    def show_state(self, g: GuidedSession, now_s: float) -> None:
        """Show ``g`` at data time ``now_s`` (no-op when nothing visible changed)."""
        last = g.verdicts[-1] if g.verdicts else None
        detail = ""
        if g.phase == "decide" and g.pending_advice is not None:
            detail = "What would you like to do?"
        elif g.phase in ("rest", "check", "done", "stopped") and g.set_no > 0 and g.summaries():
            detail = g.summaries()[-1].text()
        elif last is not None:
            detail = f"rep {last.rep}: {last.text()}"
        if g.phase == "set":
            cap = f", at most {g.cap_deg:g}°" if g.cap_deg is not None else ""
            detail = (detail + "\n" if detail else "") + (
                f"follow the dashed glide: {g.programme.tempo.out_s:g} s out to "
                f"{g.aim_deg:g}°{cap}, {g.programme.tempo.back_s:g} s back, no hold"
            )
        state = (g.phase, g.progress_text(now_s), detail, g.cap_deg)
        if state == self._shown:
            return
        self._shown = state
        colour, bg = PHASE_TONES.get(g.phase, PHASE_TONES["set"])
        self.setStyleSheet(
            f"QFrame#guided {{ background: {bg}; border: 2px solid {colour}; border-radius: 6px; }}"
        )
        self.title.setText(state[1])
        _set_colour(self.title, 11, colour, bold=True)
        self.detail.setText(detail)
        self.rating_box.setVisible(g.phase == "check")
        self.decision_box.setVisible(g.phase == "decide")
        advice = g.pending_advice
        if advice is not None:
            can_reduce = advice.cap_deg is not None
            self.reduce_button.setVisible(can_reduce)
            if can_reduce:
                self.reduce_button.setText(f"Reduce to {advice.cap_deg:g}°")
            self.continue_button.setVisible(advice.action != "stop")


class ScriptedAnswers:
    """Answers the guided session's questions from a script (``--symptoms 2,4,3``,
    ``--decisions reduce``), ``delay_s`` of wall-clock time after each is asked (a question can
    come as the stream ends) — for headless runs, tests and screenshots."""

    def __init__(self, ratings: list[int], decisions: list[str], delay_s: float = 1.5) -> None:
        self.ratings, self.decisions = list(ratings), list(decisions)
        self.delay_s = delay_s
        self._asked: tuple[str, int, float] | None = None

    def step(self, g: GuidedSession, now_s: float) -> None:
        key = (g.phase, g.set_no)
        if g.phase not in ("check", "decide"):
            self._asked = None
            return
        wall = time.monotonic()
        if self._asked is None or self._asked[:2] != key:
            self._asked = (*key, wall)
            return
        if wall - self._asked[2] < self.delay_s:
            return
        if g.phase == "check" and self.ratings:
            g.rate(self.ratings.pop(0), now_s, note="scripted")
        elif g.phase == "decide" and self.decisions:
            g.decide(self.decisions.pop(0), now_s)
        self._asked = None
