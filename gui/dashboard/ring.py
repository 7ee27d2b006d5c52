"""Ring buffers for scrolling plots: the latest rows of a time series as one contiguous view."""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The latest ``capacity`` samples of a time series with ``channels`` values each.

    Every row is written twice, at ``i`` and ``i + capacity``, so the newest rows are always a
    contiguous slice: :meth:`view` costs no copy, whatever the fill level.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity < 1 or channels < 1:
            raise ValueError("capacity and channels must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._t = np.zeros(2 * self.capacity)
        self._v = np.zeros((2 * self.capacity, self.channels))
        self._next = 0  # where the next row goes, in [0, capacity)
        self.size = 0
        self.total = 0  # rows ever appended (for counting what was shown or dropped)

    def __len__(self) -> int:
        return self.size

    def clear(self) -> None:
        """Forget every row (``total`` keeps counting)."""
        self._next = 0
        self.size = 0

    def extend(self, time_s: np.ndarray, values: np.ndarray) -> None:
        """Append rows: ``time_s`` (N,) and ``values`` (N, channels) or (N,) for one channel."""
        t = np.asarray(time_s, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64).reshape(len(t), self.channels)
        n = len(t)
        self.total += n
        if n == 0:
            return
        if n > self.capacity:  # only the newest rows fit
            t, v = t[-self.capacity :], v[-self.capacity :]
            self._next = (self._next + n - self.capacity) % self.capacity
            n = self.capacity
        first = min(n, self.capacity - self._next)
        for dst, src in ((self._next, slice(0, first)), (0, slice(first, n))):
            k = src.stop - src.start
            if k == 0:
                continue
            for off in (0, self.capacity):
                self._t[dst + off : dst + off + k] = t[src]
                self._v[dst + off : dst + off + k] = v[src]
        self._next = (self._next + n) % self.capacity
        self.size = min(self.capacity, self.size + n)

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """``(time_s, values)`` of every row held, oldest first (read-only views, no copy)."""
        end = self._next + self.capacity
        t, v = self._t[end - self.size : end], self._v[end - self.size : end]
        t.flags.writeable = False
        v.flags.writeable = False
        return t, v

    def since(self, t0_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The rows with ``time_s >= t0_s`` (assumes rows were appended in time order)."""
        t, v = self.view()
        i = int(np.searchsorted(t, t0_s, side="left"))
        return t[i:], v[i:]

    @property
    def last_time_s(self) -> float:
        """Time of the newest row, or NaN when empty."""
        return float(self._t[self._next + self.capacity - 1]) if self.size else float("nan")
