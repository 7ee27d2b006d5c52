"""The dashboard's cards: strap panel, calibration prompt, rep counter, quality card, alert bar.

Each widget shows one view-model record (``feedback``, ``sensors``) and holds no state of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6 import QtCore, QtWidgets

from gui.dashboard.feedback import (
    CALIBRATION_STEPS,
    STEP_LABELS,
    CounterText,
    Prompt,
    RepCard,
)
from gui.dashboard.sensors import SensorRow

TONE_COLOURS = {"good": "#2e7d32", "fair": "#b26a00", "poor": "#c62828", "neutral": "#616161"}
TONE_BACKGROUNDS = {"good": "#e8f5e9", "fair": "#fff4e0", "poor": "#fdecea", "neutral": "#f2f2f2"}

_Layout = TypeVar("_Layout", bound=QtWidgets.QLayout)


def _card(
    widget: QtWidgets.QFrame,
    name: str,
    layout: type[_Layout],
    margins: tuple[int, int, int, int],
) -> _Layout:
    """Make ``widget`` a white card named ``name``; its new ``layout``, with ``margins``."""
    widget.setObjectName(name)
    widget.setFrameShape(QtWidgets.QFrame.StyledPanel)
    widget.setStyleSheet(
        f"QFrame#{name} {{ background: white; border: 1px solid #d0d0d0; border-radius: 6px; }}"
    )
    lay = layout(widget)
    lay.setContentsMargins(*margins)
    return lay


def _redraws_on_change(attr: str) -> Callable[[Callable[[Any, Any], None]], Any]:
    """Decorate a widget's ``show_*(value)``: nothing happens while ``value`` equals what it
    shows (``self.<attr>``); otherwise ``value`` is kept there and drawn."""

    def decorate(show: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        @functools.wraps(show)
        def show_if_changed(self: Any, value: Any) -> None:
            if value == getattr(self, attr):
                return
            setattr(self, attr, value)
            show(self, value)

        return show_if_changed

    return decorate


def _label(
    text: str = "", size: int = 10, bold: bool = False, colour: str = "#303030"
) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    _set_colour(label, size, colour, bold)
    return label


def _set_colour(label: QtWidgets.QLabel, size: int, colour: str, bold: bool = False) -> None:
    weight = "bold" if bold else "normal"
    label.setStyleSheet(f"font-size: {size}pt; font-weight: {weight}; color: {colour};")


class SensorBox(QtWidgets.QFrame):
    """One strap: title, link state (coloured), device, signal, rate, loss and battery."""

    def __init__(self, role: str) -> None:
        super().__init__()
        lay = _card(self, f"sensor_{role}", QtWidgets.QGridLayout, (8, 6, 8, 6))
        lay.setVerticalSpacing(1)
        self.title = _label(role, 10, bold=True)
        self.state = _label("", 9)
        self.device = _label("", 8, colour="#707070")
        self.rate = _label("", 9)
        self.loss = _label("", 9)
        self.battery = _label("", 9)
        self.signal = _label("", 8, colour="#707070")
        lay.addWidget(self.title, 0, 0)
        lay.addWidget(self.device, 0, 1, 1, 2, QtCore.Qt.AlignRight)
        lay.addWidget(self.state, 1, 0, 1, 2)
        lay.addWidget(self.signal, 1, 2, QtCore.Qt.AlignRight)
        lay.addWidget(self.rate, 2, 0)
        lay.addWidget(self.loss, 2, 1)
        lay.addWidget(self.battery, 2, 2, QtCore.Qt.AlignRight)
        self.row: SensorRow | None = None

    @_redraws_on_change("row")
    def show_row(self, row: SensorRow) -> None:
        """Show ``row`` (no-op when unchanged)."""
        self.title.setText(row.title)
        self.state.setText(f"● {row.state_text}")
        _set_colour(self.state, 9, TONE_COLOURS[row.tone], bold=row.tone == "poor")
        self.device.setText(row.device)
        self.rate.setText(row.rate)
        self.loss.setText(row.loss)
        self.battery.setText(row.battery)
        colour = TONE_COLOURS["poor"] if row.battery_low else "#303030"
        _set_colour(self.battery, 9, colour, bold=row.battery_low)
        self.signal.setText(row.signal)


class SensorPanel(QtWidgets.QWidget):
    """Both straps, one above the other."""

    def __init__(self) -> None:
        super().__init__()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setSpacing(4)
        lay.setContentsMargins(0, 0, 0, 0)
        self.boxes = {role: SensorBox(role) for role in ("shin", "head")}
        for box in self.boxes.values():
            lay.addWidget(box)

    def show_rows(self, rows: list[SensorRow]) -> None:
        """Show the straps' rows."""
        for row in rows:
            self.boxes[row.role].show_row(row)


class CalibrationBanner(QtWidgets.QFrame):
    """What to do now at start-up, and the three steps with the current one highlighted."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("calibration")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(2)
        self.title = _label("", 12, bold=True)
        self.text = _label("", 10)
        self.text.setWordWrap(True)
        self.text.setFixedHeight(36)  # two lines, so the cards below never jump
        self.text.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        steps = QtWidgets.QHBoxLayout()
        self.steps = {}
        for k, stage in enumerate(CALIBRATION_STEPS):
            pill = _label(f"{k + 1} {STEP_LABELS[stage]}", 9)
            pill.setAlignment(QtCore.Qt.AlignCenter)
            steps.addWidget(pill)
            self.steps[stage] = pill
        lay.addWidget(self.title)
        lay.addWidget(self.text)
        lay.addLayout(steps)
        self.prompt: Prompt | None = None

    @_redraws_on_change("prompt")
    def show_prompt(self, prompt: Prompt) -> None:
        """Show ``prompt`` (no-op when unchanged)."""
        colour, bg = TONE_COLOURS[prompt.tone], TONE_BACKGROUNDS[prompt.tone]
        self.setStyleSheet(
            f"QFrame#calibration {{ background: {bg}; border: 2px solid {colour};"
            " border-radius: 6px; }"
        )
        self.title.setText(prompt.title)
        _set_colour(self.title, 12, colour, bold=True)
        self.text.setText(prompt.text)
        for k, pill in enumerate(self.steps.values()):
            if CALIBRATION_STEPS[k] in prompt.skipped:
                style = "color: #9e9e9e; background: #eeeeee;"
                label = f"– {STEP_LABELS[CALIBRATION_STEPS[k]]} (no head strap)"
            elif CALIBRATION_STEPS[k] in prompt.missed:
                style = "color: #8d6e00; background: #fff3c4;"
                label = f"– {STEP_LABELS[CALIBRATION_STEPS[k]]} (skipped)"
            elif k < prompt.step or prompt.done:
                style = "color: white; background: #2e7d32;"
                label = f"✓ {STEP_LABELS[CALIBRATION_STEPS[k]]}"
            elif k == prompt.step:
                style = f"color: white; background: {colour}; font-weight: bold;"
                label = f"{k + 1} {STEP_LABELS[CALIBRATION_STEPS[k]]}"
            else:
                style = "color: #707070; background: #e0e0e0;"
                label = f"{k + 1} {STEP_LABELS[CALIBRATION_STEPS[k]]}"
            pill.setText(label)
            pill.setStyleSheet(f"font-size: 9pt; border-radius: 8px; padding: 2px 6px; {style}")


class RepCounter(QtWidgets.QFrame):
    """The large rep count with the set it belongs to."""

    def __init__(self) -> None:
        super().__init__()
        lay = _card(self, "counter", QtWidgets.QVBoxLayout, (8, 2, 8, 6))
        lay.setSpacing(0)
        caption = _label("REPS", 9, bold=True, colour="#707070")
        caption.setAlignment(QtCore.Qt.AlignCenter)
        self.count = _label("0", 54, bold=True, colour="#1f5fa8")
        self.count.setAlignment(QtCore.Qt.AlignCenter)
        self.detail = _label("", 11)
        self.detail.setAlignment(QtCore.Qt.AlignCenter)
        lay.addWidget(caption)
        lay.addWidget(self.count)
        lay.addWidget(self.detail)
        self.text: CounterText | None = None

    @_redraws_on_change("text")
    def show_count(self, text: CounterText) -> None:
        """Show the count (no-op when unchanged)."""
        self.count.setText(text.reps)
        self.detail.setText(text.detail)


class RepCardWidget(QtWidgets.QFrame):
    """The last rep's quality card: score, technique, tempo, range, smoothness, advice."""

    def __init__(self) -> None:
        super().__init__()
        lay = _card(self, "repcard", QtWidgets.QGridLayout, (10, 6, 10, 8))
        lay.setVerticalSpacing(2)
        self.title = _label("Last rep", 10, bold=True)
        self.score = _label("–", 30, bold=True, colour=TONE_COLOURS["neutral"])
        self.score.setAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
        self.technique = _label("", 10)
        self.tempo = _label("", 10)
        self.range = _label("", 10)
        self.smoothness = _label("", 10)
        self.hold = _label("", 10)
        self.advice = _label("Reps appear here as they are completed.", 11)
        self.advice.setWordWrap(True)
        lay.addWidget(self.title, 0, 0)
        lay.addWidget(self.score, 0, 1, 3, 1)
        lay.addWidget(self.technique, 1, 0)
        lay.addWidget(self.tempo, 2, 0)
        lay.addWidget(self.range, 3, 0, 1, 2)
        lay.addWidget(self.smoothness, 4, 0, 1, 2)
        lay.addWidget(self.hold, 5, 0, 1, 2)
        lay.addWidget(self.advice, 6, 0, 1, 2)
        self.card: RepCard | None = None

    @_redraws_on_change("card")
    def show_card(self, card: RepCard | None) -> None:
        """Show ``card`` (None: no rep yet)."""
        if card is None:
            self.title.setText("Last rep")
            self.score.setText("–")
            for label in (self.technique, self.tempo, self.range, self.smoothness, self.hold):
                label.setText("")
            self.advice.setText("Reps appear here as they are completed.")
            return
        self.title.setText(card.title)
        self.score.setText(card.score)
        _set_colour(self.score, 30, TONE_COLOURS[card.tone], bold=True)
        self.technique.setText(f"technique: <b>{card.technique}</b>")
        self.tempo.setText(f"tempo: {card.tempo}")
        self.range.setText(f"range: {card.range}")
        self.smoothness.setText(f"smoothness: {card.smoothness}")
        self.hold.setText(card.hold)
        self.advice.setText("<br>".join(f"▸ {line}" for line in card.advice))
        _set_colour(self.advice, 11, TONE_COLOURS[card.tone], bold=True)


class AlertBar(QtWidgets.QLabel):
    """A one-line message across the window (a strap lost, a file that cannot be read, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.hide()
        self.message: tuple[str, str] | None = None

    @_redraws_on_change("message")
    def show_message(self, message: tuple[str, str] | None) -> None:
        """Show ``(text, tone)``, or hide when None."""
        if message is None:
            self.hide()
            return
        text, tone = message
        self.setText(text)
        self.setStyleSheet(
            f"font-size: 11pt; padding: 6px; color: {TONE_COLOURS[tone]};"
            f" background: {TONE_BACKGROUNDS[tone]}; border: 1px solid {TONE_COLOURS[tone]};"
            " border-radius: 4px;"
        )
        self.show()
