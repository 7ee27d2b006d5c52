"""Offline analysis of a whole session: the live pipeline run over a recording, plus angles.

``RepAnalysis(params).run(samples)`` is the one way a recording is analysed: it is the only
feeder of :class:`~analysis.online.OnlineAnalyzer` for recordings, so the CLI, replay and
exports read one :class:`~analysis.results.AnalysisResult`, exactly what live would have said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Self

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.frontend import FrontEndParams
from analysis.online import OnlineAnalyzer
from analysis.params import RepParams
from analysis.results import AnalysisResult, AnalyzerStatus, summarise

ACC = ["acc_x", "acc_y", "acc_z"]
GYR = ["gyr_x", "gyr_y", "gyr_z"]

__all__ = ["AnalysisResult", "RepAnalysis", "analyze", "summarise"]


class RepAnalysis:
    """Count and score the reps of a whole session.

    The session's samples go through the live analyzer (:class:`~analysis.online.
    OnlineAnalyzer`: per-strap front-end, start-up calibration, rep state machine, per-rep
    metrics; docs/analysis.md), so the result equals what the live counter reports on the
    same data, bit for bit.

    Parameters
    ----------
    params
        Thresholds of segmentation, calibration and scoring (:class:`~analysis.params.
        RepParams`); never changed by :meth:`run`.
    frontend
        The per-strap front-end's windows and thresholds.
    angles
        Also compute each strap's zero-phase angle over the session (``angles_``).

    Attributes (after :meth:`run`)
    ------------------------------
    result_ : AnalysisResult
        Everything below in one object, for consumers.
    analyzer_ : OnlineAnalyzer
        The analyzer as the session left it (e.g. ``angle_inputs`` for estimator comparisons).
    reps_ : DataFrame
        One row per rep (columns: docs/data-dictionary.md).
    angles_ : dict[str, DataFrame]
        ``time_s``, ``angle_deg`` per strap.
    status_ : AnalyzerStatus
        Calibration and head-direction outcome.
    events_ : DataFrame
        ``time_s, kind, detail``: calibration stages, head direction, rejected candidates.
    """

    def __init__(
        self,
        params: RepParams | None = None,
        frontend: FrontEndParams | None = None,
        angles: bool = True,
    ) -> None:
        self.params = params
        self.frontend = frontend
        self.angles = angles

    def run(
        self,
        samples: Mapping[str, pd.DataFrame],
        progress: Callable[[float], None] | None = None,
        chunk_s: float = 60.0,
    ) -> Self:
        """Analyse per-strap sample tables (``time_s`` s, ``acc_x..z`` m/s², ``gyr_x..z``
        deg/s; the shin strap is required, the head optional). With ``progress``, the session
        is fed ``chunk_s`` at a time in time order and ``progress(fraction)`` is called after
        each chunk (same result: the analyzer is chunk-invariant)."""
        if progress is None:
            an, columns = self._analyzer(samples)
            # both straps' front-ends side by side, then the detector over all of it (the
            # analyzer is chunk-invariant: the same bits as any interleaving); in pieces, so
            # that no whole-recording copy of the samples is ever made
            an.push_all({role: _pieces(cols) for role, cols in columns.items()})
            self._finish(an)
        else:
            for fraction in self.steps(samples, chunk_s):
                progress(fraction)
        return self

    def steps(self, samples: Mapping[str, pd.DataFrame], chunk_s: float = 10.0) -> Iterator[float]:
        """:meth:`run` a chunk of ``chunk_s`` (session time) at a time, yielding the fraction
        done after each, so a caller can interleave other work (a window that keeps painting);
        the results are set once it is exhausted."""
        an, columns = self._analyzer(samples)
        t0 = min(float(c[0][0]) for c in columns.values())
        t1 = max(float(c[0][-1]) for c in columns.values())
        edges = np.append(np.arange(t0, t1, chunk_s), np.inf)
        cuts = {role: np.searchsorted(c[0], edges, side="left") for role, c in columns.items()}
        cuts = {role: np.concatenate(([0], c[1:])) for role, c in cuts.items()}
        n = len(edges) - 1
        for k in range(n):
            for role in reversed(list(columns)):
                a, b = cuts[role][k], cuts[role][k + 1]
                if b > a:
                    an.push(role, *_rows(columns[role], a, b))
            yield (k + 1) / n if k + 1 < n else 1.0
        self._finish(an)

    def _analyzer(
        self, samples: Mapping[str, pd.DataFrame]
    ) -> tuple[OnlineAnalyzer, dict[str, list[np.ndarray]]]:
        """The analyzer, and each strap's columns (time, acc x–z, gyro x–z; views where the
        table holds them as float64)."""
        roles = [r for r in ("shin", "head") if r in samples and len(samples[r])]
        if "shin" not in roles:
            raise AnalysisError("no shin samples: the shin strap is required")
        an = OnlineAnalyzer(
            self.params, sensors=roles, frontend=self.frontend, keep_s=None, display_angles=False
        )
        columns = {
            role: [samples[role][c].to_numpy(float) for c in ("time_s", *ACC, *GYR)]
            for role in roles
        }
        for role, cols in columns.items():
            an.expect(role, len(cols[0]))
        return an, columns

    def _finish(self, an: OnlineAnalyzer) -> None:
        an.finish()
        self.analyzer_ = an
        self.result_ = an.result(angles=self.angles)

    @property
    def reps_(self) -> pd.DataFrame:
        return self.result_.reps

    @property
    def angles_(self) -> dict[str, pd.DataFrame]:
        return self.result_.angles

    @property
    def status_(self) -> AnalyzerStatus:
        return self.result_.status

    @property
    def events_(self) -> pd.DataFrame:
        return self.result_.events_frame()


#: Rows of one strap pushed at a time by :meth:`RepAnalysis.run` (~3.7 MB of samples).
_FEED_ROWS = 1 << 16


def _pieces(columns: list[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A strap's columns as ``(time_s, acc, gyro)`` pieces of ``_FEED_ROWS`` rows."""
    for a in range(0, len(columns[0]), _FEED_ROWS):
        yield _rows(columns, a, a + _FEED_ROWS)


def _rows(columns: list[np.ndarray], a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows [a, b) of a strap's columns as ``(time_s, acc N×3, gyro N×3)``."""
    t = columns[0][a:b]
    acc = np.column_stack([c[a:b] for c in columns[1:4]])
    return t, acc, np.column_stack([c[a:b] for c in columns[4:7]])


def analyze(
    samples: Mapping[str, pd.DataFrame], params: RepParams | None = None, angles: bool = True
) -> AnalysisResult:
    """``RepAnalysis(params, angles=angles).run(samples).result_`` (a shorthand)."""
    return RepAnalysis(params, angles=angles).run(samples).result_
