"""Recording from the dashboard: start and stop a crash-safe recording of the running session,
with a participant pseudonym, markers and notes (the same :class:`~collector.recording.Recorder`
that ``flossmeter record`` uses)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.model import SourceEvent
from collector.recording import SUFFIX, Recorder

if TYPE_CHECKING:
    from collector.hub import Hub
    from collector.model import Role, SensorInfo

PSEUDONYM = re.compile(r"[A-Za-z0-9._-]{0,40}")


def check_pseudonym(text: str) -> str:
    """The participant pseudonym, stripped; ValueError if it could be a real name or a path."""
    text = text.strip()
    if not PSEUDONYM.fullmatch(text):
        raise ValueError(
            "participant: use a pseudonym of up to 40 letters, digits, '.', '-' or '_' "
            "(no real names, no spaces)"
        )
    return text


class SessionRecording:
    """Record the hub's stream to a file while the dashboard runs.

    ``folder`` is where files go by default; ``metadata`` is stored in each recording (source,
    simulation settings, ...); ``session_start_unix`` is the wall time of session time 0, so
    a recording started mid-session keeps the session's time base.
    """

    def __init__(
        self,
        folder: Path,
        metadata: dict[str, Any] | None = None,
        session_start_unix: float | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.metadata = dict(metadata or {})
        self.session_start_unix = time.time() if session_start_unix is None else session_start_unix
        self.recorder: Recorder | None = None
        self.hub: Hub | None = None
        self.path: Path | None = None
        self.last_path: Path | None = None
        self.started_s = float("nan")
        self.notes: list[str] = []
        self.markers = 0

    @property
    def recording(self) -> bool:
        """A recording is open."""
        return self.recorder is not None

    def default_path(self, participant: str) -> Path:
        """``<folder>/<participant or session>-<local date-time>.flossrec``, not yet existing."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{participant or 'session'}-{stamp}"
        path = self.folder / f"{base}{SUFFIX}"
        n = 2
        while path.exists():
            path = self.folder / f"{base}-{n}{SUFFIX}"
            n += 1
        return path

    def start(
        self,
        hub: Hub,
        sensors: dict[Role, SensorInfo],
        participant: str = "",
        path: Path | None = None,
        now_s: float = 0.0,
    ) -> Path:
        """Open a new recording and add it to ``hub``; raises ValueError or CollectorError."""
        if self.recorder is not None:
            raise ValueError(f"already recording to {self.path}")
        participant = check_pseudonym(participant)
        if path is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.default_path(participant)
        meta = self.metadata | {
            "participant": participant,
            "notes": "",
            "recorded_from": "dashboard",
            "recording_started_s": now_s,
        }
        rec = Recorder(path, sensors, meta, start_unix=self.session_start_unix)
        rec.open()
        for role, link_connected in _connected(hub).items():
            if link_connected:  # the recording starts with its straps' state, as a live one
                rec.on_event(SourceEvent(now_s, "connected", role, {"why": "recording started"}))
        hub.add_sink(rec)
        self.recorder, self.hub, self.path = rec, hub, Path(path)
        self.started_s, self.notes, self.markers = now_s, [], 0
        return self.path

    def stop(self) -> Path | None:
        """Close the recording cleanly; returns its path (None if none was open)."""
        rec, hub, path = self.recorder, self.hub, self.path
        if rec is None:
            return None
        if hub is not None:
            hub.remove_sink(rec)
        try:
            if self.notes:
                rec.set_meta("notes", "\n".join(self.notes))
        finally:
            rec.close()
            self.recorder = self.hub = self.path = None
            self.last_path = path
        return path

    def mark(self, hub: Hub, now_s: float, text: str = "") -> SourceEvent:
        """Put a marker into the stream (every sink sees it, a recording stores it)."""
        self.markers += 1
        event = SourceEvent(now_s, "marker", None, {"text": text or f"marker {self.markers}"})
        hub.dispatch(event)
        return event

    def note(self, hub: Hub, now_s: float, text: str) -> SourceEvent | None:
        """Put a free-text note into the stream and the recording's ``notes``."""
        text = text.strip()
        if not text:
            return None
        event = SourceEvent(now_s, "note", None, {"text": text})
        hub.dispatch(event)
        if self.recorder is not None:
            self.notes.append(text)
        return event

    @property
    def samples_written(self) -> int:
        """Samples in the open recording so far."""
        return self.recorder.samples_written if self.recorder is not None else 0


def _connected(hub: Hub) -> dict[str, bool]:
    return {role: st.connected for role, st in hub.stats.items()}
