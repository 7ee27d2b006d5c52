"""A recording's analysis, computed once and handed out in step with its replay.

Replay runs the same online analyzer as live, once over the whole recording when it is opened
(so the timeline can show every rep and seeking is instant); during playback this object stands
in for the analyzer: ``push`` returns the reps the analyzer had completed by then and
``take_angles`` the angles it had produced.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from analysis.results import AnalyzerStatus, Rep
    from gui.dashboard.feed import Analyzer

ACC = ["acc_x", "acc_y", "acc_z"]
GYR = ["gyr_x", "gyr_y", "gyr_z"]
#: Session time fed to the analyzer at a time: the reps are the same for any chunking; this
#: only sets when, during playback, a rep and a calibration step appear (at most this late).
CHUNK_S = 0.25


def _snapshot(status: AnalyzerStatus) -> AnalyzerStatus:
    return dataclasses.replace(status, notes=list(status.notes))


class RecordedAnalysis:
    """What an analyzer produced over a recording, replayable from any time.

    ``done`` pairs each rep with the session time at which the analyzer reported it;
    ``angles`` holds every ``(time_s, angle_deg)`` per strap; ``statuses`` the analyzer status
    from each time it changed.
    """

    def __init__(
        self,
        done: list[tuple[float, Rep]],
        angles: dict[str, tuple[np.ndarray, np.ndarray]],
        statuses: list[tuple[float, AnalyzerStatus]],
    ) -> None:
        self.done = done
        self._done_t = [t for t, _ in done]
        self.angles = angles
        self.statuses = statuses
        self._status_t = [t for t, _ in statuses]
        self._t = -math.inf
        self._angle_t: dict[str, float] = {}

    # -- building it -----------------------------------------------------------------------

    @classmethod
    def compute(
        cls, samples: Mapping[str, pd.DataFrame], analyzer: Analyzer, chunk_s: float = CHUNK_S
    ) -> RecordedAnalysis:
        """Run ``analyzer`` over a recording's samples (per strap: ``time_s``, ``acc_x..z``,
        ``gyr_x..z``) at once, in time order, ``chunk_s`` at a time."""
        builder = _Builder(analyzer)
        for role, t, acc, gyro in chunks(samples, chunk_s):
            builder.push(role, t, acc, gyro)
        return builder.result()

    @classmethod
    async def compute_async(
        cls,
        samples: Mapping[str, pd.DataFrame],
        analyzer: Analyzer,
        chunk_s: float = CHUNK_S,
        progress: Callable[[float], None] | None = None,
        every: int = 50,
    ) -> RecordedAnalysis:
        """As :meth:`compute`, yielding to the event loop every ``every`` chunks so the window
        stays responsive; ``progress`` gets the fraction done."""
        builder = _Builder(analyzer)
        end = max((float(df["time_s"].iloc[-1]) for df in samples.values() if len(df)), default=0)
        for k, (role, t, acc, gyro) in enumerate(chunks(samples, chunk_s)):
            builder.push(role, t, acc, gyro)
            if k % every == every - 1:
                if progress is not None and end > 0:
                    progress(min(1.0, float(t[-1]) / end))
                await asyncio.sleep(0)
        return builder.result()

    @property
    def all_reps(self) -> list[Rep]:
        """Every rep of the recording."""
        return [r for _, r in self.done]

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


def chunks(
    samples: Mapping[str, pd.DataFrame], chunk_s: float
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """The straps' samples in time order, ``chunk_s`` of each strap at a time:
    ``(role, time_s, acc_mps2, gyro_dps)``."""
    cols = {}
    for role, df in samples.items():
        if len(df):
            t = df["time_s"].to_numpy(np.float64)
            cols[role] = (t, df[ACC].to_numpy(np.float64), df[GYR].to_numpy(np.float64))
    if not cols:
        return
    start = min(c[0][0] for c in cols.values())
    stop = max(c[0][-1] for c in cols.values())
    edges = np.arange(start, stop + chunk_s, chunk_s)
    cuts = {role: np.searchsorted(c[0], edges, side="right") for role, c in cols.items()}
    for k in range(len(edges) - 1):
        for role, (t, acc, gyro) in cols.items():
            a, b = cuts[role][k], cuts[role][k + 1]
            if k == 0:
                a = 0
            if b > a:
                yield role, t[a:b], acc[a:b], gyro[a:b]


class _Builder:
    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.done: list[tuple[float, Rep]] = []
        self.angles: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.statuses: list[tuple[float, AnalyzerStatus]] = []
        self.t = -math.inf

    def push(self, role: str, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray) -> None:
        self.t = max(self.t, float(t[-1]))
        for rep in self.analyzer.push(role, t, acc, gyro):
            self.done.append((self.t, rep))
        for r, (ta, a) in self.analyzer.take_angles().items():
            if len(ta):
                self.angles.setdefault(r, []).append((np.asarray(ta), np.asarray(a)))
        self._status(self.t)

    def _status(self, t: float) -> None:
        st = self.analyzer.status
        if not self.statuses or self.statuses[-1][1] != st:
            self.statuses.append((t, _snapshot(st)))

    def result(self) -> RecordedAnalysis:
        finish = getattr(self.analyzer, "finish", None)
        if finish is not None:
            for rep in finish():
                self.done.append((self.t, rep))
            for r, (ta, a) in self.analyzer.take_angles().items():
                if len(ta):
                    self.angles.setdefault(r, []).append((np.asarray(ta), np.asarray(a)))
            self._status(self.t)
        angles = {
            role: (np.concatenate([t for t, _ in parts]), np.concatenate([a for _, a in parts]))
            for role, parts in self.angles.items()
        }
        return RecordedAnalysis(self.done, angles, self.statuses)
