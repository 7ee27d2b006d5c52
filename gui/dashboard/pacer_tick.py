"""The pacer's audio tick: a short tone at the start of each glide out and back.

The tone is made with numpy (a Hann-windowed sine, 16-bit mono WAV) and played through Qt's
``QSoundEffect``, which lives in QtMultimedia (PySide6-Addons: ``pip install
'flossmeter[audio]'``). Off unless asked for (``--tick``); without QtMultimedia or without an
audio device it says so once and stays silent — never an error.
"""

from __future__ import annotations

import io
import logging
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TICK_HZ = 880.0  # A5: clear over a room's noise, not shrill
TICK_S = 0.04
SAMPLE_RATE = 44100


def tick_wav(
    freq_hz: float = TICK_HZ, duration_s: float = TICK_S, rate: int = SAMPLE_RATE
) -> bytes:
    """The tick as WAV bytes: a sine of ``freq_hz`` under a Hann window (no click), half of
    full scale."""
    n = round(duration_s * rate)
    t = np.arange(n) / rate
    y = 0.5 * np.sin(2 * np.pi * freq_hz * t) * np.hanning(n)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((y * 32767).astype("<i2").tobytes())
    return buf.getvalue()


class PacerTick:
    """Plays the tick when asked; silent (with one log line why) where it cannot."""

    def __init__(self) -> None:
        self.played = 0  # ticks asked for (counted even when silent: what the pacer did)
        self.effect: Any = None
        self.problem = ""
        try:
            from PySide6 import QtCore, QtMultimedia
        except ImportError:
            self.problem = "the audio tick needs QtMultimedia: pip install 'flossmeter[audio]'"
            log.warning("%s", self.problem)
            return
        self._dir = tempfile.TemporaryDirectory(prefix="flossmeter-tick-")
        path = Path(self._dir.name) / "tick.wav"
        path.write_bytes(tick_wav())
        self.effect = QtMultimedia.QSoundEffect()
        self.effect.setSource(QtCore.QUrl.fromLocalFile(str(path)))
        self.effect.setVolume(0.6)
        if not QtMultimedia.QMediaDevices.audioOutputs():
            self.problem = "no audio output device: the pacer's tick is silent"
            log.warning("%s", self.problem)

    def tick(self) -> None:
        self.played += 1
        if self.effect is not None and not self.problem:
            self.effect.play()
