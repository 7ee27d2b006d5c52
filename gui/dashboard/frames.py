"""Frame rate and sample-to-paint latency, measured where the dashboard paints."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np


class FrameStats:
    """Counts painted frames and how long each block waited from arrival to its first paint.

    The view calls :meth:`prepared` after it has handed new data to its plots (with the arrival
    clock times of the blocks in it) and :meth:`painted` when a paint of the plots has ended;
    the latency of a block is the time from its arrival to the end of that paint.
    """

    def __init__(self, keep: int = 20_000, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.frames = 0
        self.frame_times: deque[float] = deque(maxlen=keep)
        self.latencies_s: deque[float] = deque(maxlen=keep)
        self.work_s: deque[float] = deque(maxlen=keep)  # updating + painting, per frame
        self._waiting: list[float] = []
        self.first_data_frame_t: float | None = None  # clock time of the first frame with data
        self._new_frame = False
        self._work = 0.0

    def prepared(self, receipts: list[float], work_s: float = 0.0) -> None:
        """New data went to the plots (taking ``work_s``); ``receipts`` are the arrival times
        of its blocks."""
        self._waiting.extend(receipts)
        self._new_frame = True
        self._work += work_s

    def painted(self, t: float | None = None, paint_s: float = 0.0) -> None:
        """A paint of the plots finished at clock time ``t``, taking ``paint_s``."""
        if not self._new_frame:
            return
        t = self.clock() if t is None else t
        self._new_frame = False
        self.frames += 1
        self.frame_times.append(t)
        self.work_s.append(self._work + paint_s)
        self._work = 0.0
        self.latencies_s.extend(t - r for r in self._waiting)
        if self._waiting and self.first_data_frame_t is None:
            self.first_data_frame_t = t
        self._waiting.clear()

    def reset(self) -> None:
        """Forget everything measured so far (e.g. after a warm-up)."""
        self.frames = 0
        self.frame_times.clear()
        self.latencies_s.clear()
        self.work_s.clear()
        self.first_data_frame_t = None

    def fps(self, over_s: float | None = None) -> float:
        """Frames per second over the last ``over_s`` seconds of frames (all kept by default)."""
        times = np.asarray(self.frame_times)
        if over_s is not None and len(times):
            times = times[times >= times[-1] - over_s]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / float(times[-1] - times[0])

    def work_ms(self, q: float) -> float:
        """The ``q``-th percentile of the time one frame took to update and paint, ms."""
        if not self.work_s:
            return float("nan")
        return float(np.percentile(np.asarray(self.work_s), q) * 1000.0)

    def latency_ms(self, q: float) -> float:
        """The ``q``-th percentile (0–100) of sample-to-paint latency, ms (NaN when none)."""
        if not self.latencies_s:
            return float("nan")
        return float(np.percentile(np.asarray(self.latencies_s), q) * 1000.0)
