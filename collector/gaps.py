"""Gaps and measured sample rates from a strap's sample counter, for hub, recording and replay.

A *gap* is a jump of more than one in the (unwrapped) sample counter between two consecutive
samples of one strap: ``lost = index[j + 1] - index[j] - 1`` samples are missing between
them. A *break* is any step other than exactly one (a gap, a repeat or a counter that went
back): a block of consecutive samples never spans one. The measured rate counts sample periods
(received plus lost) over the session time they span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Gaps:
    """The gaps of one stream, in order. Arrays of equal length, one entry per gap.

    Attributes:
        after: row of the first sample after each gap (int64, in the arrays given).
        lost: samples missing in each gap (int64, ≥ 1).
        time_s: time of the last sample before each gap, s.
        until_s: time of the first sample after each gap, s.
    """

    after: np.ndarray
    lost: np.ndarray
    time_s: np.ndarray
    until_s: np.ndarray

    def __len__(self) -> int:
        return len(self.after)


def gap_positions(sample_index: np.ndarray) -> np.ndarray:
    """Rows ``j`` whose next sample is more than one count on: a gap between ``j`` and ``j+1``."""
    return np.flatnonzero(np.diff(sample_index) > 1)


def break_positions(sample_index: np.ndarray) -> np.ndarray:
    """Rows that start a new run of consecutive samples (the counter did not step by exactly
    one from the row before: a gap, a repeat or a restart); row 0 is not listed."""
    return np.flatnonzero(np.diff(sample_index) != 1) + 1


def find_gaps(
    sample_index: np.ndarray,
    time_s: np.ndarray,
    previous: tuple[int, float] | None = None,
) -> Gaps:
    """The gaps in one strap's samples (counter ``sample_index``, session times ``time_s`` in s).

    For a stream cut into blocks, ``previous`` is ``(sample_index, time_s)`` of the last sample
    before this block, so a gap across the boundary is found too (its ``after`` is 0); the
    gaps of all blocks together are then exactly those of the whole stream.
    """
    idx, t = np.asarray(sample_index), np.asarray(time_s)
    first = 1
    if previous is not None and len(idx):
        idx = np.concatenate(([previous[0]], idx))
        t = np.concatenate(([previous[1]], t))
        first = 0
    j = gap_positions(idx)
    return Gaps(
        after=(j + first).astype(np.int64),
        lost=(idx[j + 1] - idx[j] - 1).astype(np.int64),
        time_s=t[j],
        until_s=t[j + 1],
    )


def rate_over_span_hz(periods: float, span_s: float) -> float:
    """``periods`` sample periods over ``span_s`` seconds, Hz; NaN when the span is not positive."""
    return periods / span_s if span_s > 0 else float("nan")


def measured_rate_hz(sample_index: np.ndarray, time_s: np.ndarray) -> float:
    """Samples received plus lost per second of the time they span (first to last sample), Hz;
    NaN for fewer than two samples or no time spanned."""
    if len(sample_index) < 2:
        return float("nan")
    periods = float(sample_index[-1] - sample_index[0])
    return rate_over_span_hz(periods, float(time_s[-1] - time_s[0]))


def median_rate_hz(time_s: np.ndarray) -> float:
    """One over the median time step, Hz: the rate of samples that carry no counter; NaN for
    fewer than two samples."""
    dt = np.diff(time_s)
    return float(1.0 / np.median(dt)) if len(dt) else float("nan")


def first_step_back(time_s: np.ndarray) -> int | None:
    """The first row whose time does not come after the time of the row before it (a file
    reader's check that its samples are in order); None if time only moves forward."""
    back = np.flatnonzero(np.diff(time_s) <= 0)
    return int(back[0]) + 1 if len(back) else None
