"""A recording's analysis, handed out in step with its replay.

Replay analyses the whole recording once (``analysis.session.RepAnalysis``, the same pipeline
as live) and this object stands in for the live analyzer during playback: ``push`` returns the
reps the analysis had decided by then (each at its ``decided_s``, when live reported it),
``status`` what the live status was, and ``take_angles`` the session's angles up to the playback
time. The angles are the offline, zero-phase ones: the whole recording is known, so a replay
shows them from the first rep on, and exactly what the export contains.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from analysis.results import AnalysisResult, AnalyzerStatus, Rep


class RecordedAnalysis:
    """An :class:`~analysis.results.AnalysisResult`, replayable from any time."""

    def __init__(self, result: AnalysisResult) -> None:
        self.result = result
        self.done: list[tuple[float, Rep]] = list(
            zip(result.decided_s, result.records, strict=True)
        )
        self._done_t = [t for t, _ in self.done]
        self.angles: dict[str, tuple[np.ndarray, np.ndarray]] = {
            role: (df["time_s"].to_numpy(np.float64), df["angle_deg"].to_numpy(np.float64))
            for role, df in result.angles.items()
        }
        self.statuses = status_timeline(result)
        self._status_t = [t for t, _ in self.statuses]
        self._t = -math.inf
        self._angle_t: dict[str, float] = {}

    @property
    def all_reps(self) -> list[Rep]:
        """Every rep of the recording."""
        return list(self.result.records)

    # -- the analyzer interface, in step with playback ------------------------------------

    @property
    def reps(self) -> list[Rep]:
        """The reps reported by the current playback time."""
        return [r for _, r in self.done[: bisect.bisect_right(self._done_t, self._t)]]

    @property
    def status(self) -> AnalyzerStatus:
        """The analyzer's status at the current playback time."""
        from analysis.results import AnalyzerStatus

        i = bisect.bisect_right(self._status_t, self._t) - 1
        return self.statuses[i][1] if i >= 0 else AnalyzerStatus()

    def seek(self, t_s: float) -> None:
        """Playback (re)starts at ``t_s``: what was reported by then counts as already known."""
        self._t = t_s
        self._angle_t = dict.fromkeys(self.angles, t_s)

    def catch_up(self, t_s: float, history_s: float) -> None:
        """Joined while playback is at ``t_s`` (the analysis finished during it): reps reported
        by then are known, and the next :meth:`take_angles` hands out the last ``history_s``."""
        self._t = t_s
        self._angle_t = dict.fromkeys(self.angles, t_s - history_s)

    def push(self, sensor: str, time_s: Any, acc_mps2: Any, gyro_dps: Any) -> list[Rep]:
        """Playback reached the end of these samples: the reps reported meanwhile."""
        if len(time_s) == 0:
            return []
        t_new = max(self._t, float(time_s[-1]))
        a = bisect.bisect_right(self._done_t, self._t)
        b = bisect.bisect_right(self._done_t, t_new)
        self._t = t_new
        return [r for _, r in self.done[a:b]]

    def take_angles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Angles up to the playback time not handed out yet."""
        out = {}
        for role, (t, a) in self.angles.items():
            since = self._angle_t.get(role, -math.inf)
            i, j = np.searchsorted(t, [since, self._t], side="right")
            if j > i:
                out[role] = (t[i:j], a[i:j])
            self._angle_t[role] = max(since, self._t)
        return out

    def finish(self) -> list[Rep]:
        """End of the replay: the reps reported after the last sample."""
        a = bisect.bisect_right(self._done_t, self._t)
        self._t = math.inf
        return [r for _, r in self.done[a:]]


def status_timeline(result: AnalysisResult) -> list[tuple[float, AnalyzerStatus]]:
    """The live analyzer's status as it changed over the session, ``(from time s, status)``,
    rebuilt from the result: calibration stages, head direction, each rep's start (in a rep)
    and decision (counted)."""
    from analysis.results import AnalyzerStatus

    changes: list[tuple[float, int, str, Any]] = []
    for e in result.events:
        if e.kind == "calibration":
            changes.append((e.time_s, 0, "calibration", e.detail["stage"]))
            if e.detail.get("missed"):
                changes.append((e.time_s, 0, "calibration_missed", tuple(e.detail["missed"])))
        elif e.kind == "head_direction":
            changes.append((e.time_s, 0, "head_sign_source", e.detail["source"]))
    for rep, decided in zip(result.records, result.decided_s, strict=True):
        changes.append((rep.start_s, 1, "start", rep))
        changes.append((decided, 2, "decided", rep))
    changes.sort(key=lambda c: (c[0], c[1]))
    st = AnalyzerStatus()
    out: list[tuple[float, AnalyzerStatus]] = []
    for t, _, what, value in changes:
        if what == "start":
            st = dataclasses.replace(st, phase="in_rep")
        elif what == "decided":
            st = dataclasses.replace(st, phase="idle", reps=value.rep, set=value.set)
        else:
            st = dataclasses.replace(st, **{what: value})
        if out and out[-1][0] == t:
            out[-1] = (t, st)
        else:
            out.append((t, st))
    return out
