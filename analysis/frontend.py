"""Per-strap streaming front-end: gyro bias, stillness, speed and integrated rotation.

Samples may arrive in any chunking; every output sample depends only on the samples before it
and is computed by the same sequential recurrences (running sums accumulated left to right from
carried state), so feeding a recording in one piece or in notification-sized blocks gives the
same numbers. The front-end knows nothing about mounting: it works on 3-D vectors in the sensor
frame.

Definitions (window ``W = window_s``):

* *still*: over the last W the gyro's variance (summed over axes) is below ``still_gyro_sd_dps²``,
  the accelerometer's below ``still_acc_sd_mps2²``, and the mean rate differs from the first bias
  estimate by less than ``still_rate_dps`` (before there is one: is below ``first_rate_dps``; the
  rate test rejects slow steady turning, which has a small variance too);
* *gyro bias*: the mean gyro over the last ``bias_window_s`` of an uninterrupted still run,
  re-estimated every ``bias_every_s`` while it lasts (applies to the samples after);
* *w*: bias-corrected angular rate (deg/s); *speed_s* = |mean of w over the last
  ``smooth_s``| (a boxcar: nulls 1/smooth_s Hz tremor and noise; delays by half its length,
  ``smooth_delay_s``);
* *phi*: running integral of w (deg), the rotation vector for rotations about a fixed axis;
  not advanced across gaps longer than ``max_gap_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analysis.artefacts import ArtefactParams, ArtefactScreen
from analysis.errors import AnalysisError
from analysis.vectors import row_norm


@dataclass(frozen=True)
class FrontEndParams:
    """Front-end thresholds and windows (documented in docs/analysis.md)."""

    warmup_samples: int = 32  # samples used to find the sample rate before processing starts
    window_s: float = 0.25
    still_gyro_sd_dps: float = 1.5
    still_acc_sd_mps2: float = 0.12
    still_rate_dps: float = 3.0
    first_rate_dps: float = 8.0
    bias_window_s: float = 1.0
    bias_every_s: float = 0.5
    max_gap_s: float = 0.25
    smooth_s: float = 0.1
    artefacts: ArtefactParams = field(default_factory=ArtefactParams)  # knocks, hits: bridged


_PIECE = 8192  # rows processed at a time (see StrapFrontEnd._process_in_pieces)


class Columns:
    """Growable column store with global row indices; old rows can be dropped."""

    def __init__(self, widths: dict[str, tuple[int, type]], keep_rows: int | None = None) -> None:
        self._widths = widths
        self._data = {
            k: np.empty((1024, w) if w > 1 else 1024, dtype=dt) for k, (w, dt) in widths.items()
        }
        self._n = 0  # rows held
        self.base = 0  # global index of row 0
        self.keep_rows = keep_rows

    def __len__(self) -> int:
        return self._n

    @property
    def end(self) -> int:
        """Global index one past the last row."""
        return self.base + self._n

    def make_room(self, n: int) -> None:
        """Make room for ``n`` more rows: one allocation for a whole recording, and room that
        at least doubles when it grows (so appends in many pieces copy each row O(1) times)."""
        need = self._n + n
        cap = len(next(iter(self._data.values())))
        if need > cap:
            rows = max(need, 2 * cap)
            for k, a in self._data.items():
                b = np.empty((rows, *a.shape[1:]), dtype=a.dtype)
                b[: self._n] = a[: self._n]
                self._data[k] = b

    def append(self, **cols: np.ndarray) -> None:
        n = len(next(iter(cols.values())))
        need = self._n + n
        self.make_room(n)
        for k, v in cols.items():
            self._data[k][self._n : need] = v
        self._n = need
        if self.keep_rows is not None and self._n > 2 * self.keep_rows:
            drop = self._n - self.keep_rows
            for a in self._data.values():
                a[: self.keep_rows] = a[drop : self._n].copy()
            self._n -= drop
            self.base += drop

    def get(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` (global indices, clipped to what is held) of a column."""
        a = self._data[name][: self._n]
        lo = 0 if start is None else max(0, start - self.base)
        hi = self._n if stop is None else max(0, min(self._n, stop - self.base))
        return a[lo:hi]

    def at(self, name: str, i: int) -> np.ndarray:
        """One row by global index."""
        return self._data[name][i - self.base]


class StrapFrontEnd:
    """Turns one strap's raw samples into still/speed/rotation columns, chunk by chunk."""

    COLUMNS: ClassVar[dict[str, tuple[int, type]]] = {
        "t": (1, np.float64),
        "acc": (3, np.float64),
        "w": (3, np.float64),
        "speed_s": (1, np.float64),
        "still": (1, np.bool_),
        "still_run": (1, np.int64),
        "phi": (3, np.float64),
        "acc_mean": (3, np.float64),
        "gap": (1, np.bool_),
        "gaps": (1, np.int64),  # gaps so far (cumulative), to ask "was there a gap since i?"
        "artefact": (1, np.bool_),  # the raw sample was an artefact (bridged: analysis/artefacts)
    }

    def __init__(self, params: FrontEndParams | None = None, keep_s: float | None = None) -> None:
        self.p = params or FrontEndParams()
        self.keep_s = keep_s
        self.rate_hz: float | None = None
        self.cols: Columns | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.bias = np.zeros(3)
        self._b0: np.ndarray | None = None
        self._window_mean_of: Boxcar | None = None  # stillness statistics over ``window_s``
        self._smooth: Boxcar | None = None  # speed smoother over ``smooth_s``
        self.smooth_delay_s = 0.0
        self._phi_end = np.zeros((1, 3))  # phi at the last sample so far
        self._gaps = 0
        self._last_t: float | None = None
        self._run = 0
        self._win = 0
        self._bias_win = 0
        self._bias_every = 1
        self.screen: ArtefactScreen | None = None
        self.started_s: float | None = None  # time of the sample that completed the warm-up

    @property
    def ready(self) -> bool:
        return self.cols is not None

    @property
    def rate(self) -> float:
        """The strap's sample rate (Hz), measured from its first samples."""
        if self.rate_hz is None:
            raise AnalysisError("the sample rate is not known yet (too few samples)")
        return self.rate_hz

    def add(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray) -> None:
        """Take new samples (s, m/s², deg/s); process them once the rate is known."""
        if len(t) == 0:
            return
        # C order whatever the caller's layout: summation order, hence every bit, then depends
        # only on the samples
        t = np.ascontiguousarray(t, dtype=np.float64)
        acc = np.ascontiguousarray(acc, dtype=np.float64)
        gyro = np.ascontiguousarray(gyro, dtype=np.float64)
        if self.cols is None:
            self._pending.append((t, acc, gyro))
            if sum(len(x[0]) for x in self._pending) < self.p.warmup_samples:
                return
            self._start()
            return
        self._screened(t, acc, gyro)

    def flush(self) -> None:
        """End of stream: start processing even with fewer than ``warmup_samples``, and decide
        the samples the artefact screen holds back."""
        if self.cols is None and self._pending and sum(len(x[0]) for x in self._pending) >= 2:
            self._start()
        if self.screen is not None:
            self._screened(np.empty(0), np.empty((0, 3)), np.empty((0, 3)), final=True)

    @property
    def artefacts(self) -> list:
        """Runs of artefact samples found so far (``analysis.artefacts.Artefact``)."""
        return self.screen.artefacts if self.screen is not None else []

    def _screened(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, final: bool = False
    ) -> None:
        assert self.screen is not None
        t, acc, gyro, art = self.screen.screen(t, acc, gyro, final)
        if len(t):
            self._process_in_pieces(t, np.ascontiguousarray(acc), np.ascontiguousarray(gyro), art)

    def _start(self) -> None:
        t = np.concatenate([x[0] for x in self._pending])
        acc = np.concatenate([x[1] for x in self._pending])
        gyro = np.concatenate([x[2] for x in self._pending])
        self._pending = []
        self.started_s = float(t[min(self.p.warmup_samples, len(t)) - 1])
        dt = np.diff(t[: self.p.warmup_samples])
        dt = dt[dt > 0]
        if not len(dt):
            raise AnalysisError(
                f"cannot tell the sample rate: the first {len(t)} samples all have the same time"
            )
        self.rate_hz = float(1.0 / np.median(dt))
        keep = None if self.keep_s is None else int(self.keep_s * self.rate_hz)
        self.cols = Columns(self.COLUMNS, keep)
        self._win = max(3, round(self.p.window_s * self.rate_hz))
        self._bias_win = max(self._win, round(self.p.bias_window_s * self.rate_hz))
        self._bias_every = max(1, round(self.p.bias_every_s * self.rate_hz))
        self._gyro_tail = np.empty((0, 3))  # the last bias window − 1 raw gyro samples
        self._window_mean_of = Boxcar(self._win, 12)
        n_s = max(1, round(self.p.smooth_s * self.rate_hz))
        self._smooth = Boxcar(n_s, 3)
        self.smooth_delay_s = (n_s - 1) / (2.0 * self.rate_hz)
        self.screen = ArtefactScreen(self.rate_hz, self.p.artefacts)
        self._screened(t, acc, gyro)

    def _process_in_pieces(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, art: np.ndarray
    ) -> None:
        # the output does not depend on how the stream is cut, so a long input is processed in
        # pieces whose temporaries stay in the CPU cache (~3× faster on a whole recording)
        assert self.cols is not None
        if self.cols.keep_rows is None:
            self.cols.make_room(len(t))
        for a in range(0, len(t), _PIECE):
            b = a + _PIECE
            self._process(t[a:b], acc[a:b], gyro[a:b], art[a:b])

    def _process(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, art: np.ndarray) -> None:
        assert (
            self.cols is not None and self._window_mean_of is not None and self._smooth is not None
        )
        p = self.p
        prev = self._last_t if self._last_t is not None else t[0] - 1.0 / self.rate_hz
        dt = np.empty_like(t)  # np.diff(t, prepend=prev), without its overhead
        dt[0] = t[0] - prev
        np.subtract(t[1:], t[:-1], out=dt[1:])
        gap = (dt > p.max_gap_s) | (dt <= 0)
        dt = np.where(gap, 0.0, dt)
        self._last_t = float(t[-1])
        x = np.concatenate([gyro, gyro**2, acc, acc**2], axis=1)
        means = self._window_mean_of(x)
        m_g, m_g2, m_a, m_a2 = means[:, :3], means[:, 3:6], means[:, 6:9], means[:, 9:12]
        var_g = _row_sum(np.maximum(m_g2 - m_g**2, 0.0))
        var_a = _row_sum(np.maximum(m_a2 - m_a**2, 0.0))
        quiet = (var_g < p.still_gyro_sd_dps**2) & (var_a < p.still_acc_sd_mps2**2) & ~gap
        n = len(t)
        still = quiet & self._rate_ok(m_g)
        run = _run_lengths(still, self._run)
        due = self._due(run)
        if self._b0 is None and due.any():
            # the first bias estimate fixes the rate test from the next sample on
            k = int(np.argmax(due))
            self._b0 = self._window_means(gyro, np.array([k]))[0]
            still[k + 1 :] = quiet[k + 1 :] & self._rate_ok(m_g[k + 1 :])
            run[k + 1 :] = _run_lengths(still[k + 1 :], int(run[k]))
            due[k + 1 :] = self._due(run[k + 1 :])
        # the bias changes after each checkpoint: rows up to it use the previous estimate
        checkpoints = np.flatnonzero(due)
        if len(checkpoints):
            values = np.concatenate((self.bias[None, :], self._window_means(gyro, checkpoints)))
            rows = np.diff(checkpoints, prepend=-1, append=n - 1)  # rows per bias value
            w = gyro - np.repeat(values, rows, axis=0)
            self.bias = values[-1]
        else:  # moving: one bias for the whole piece
            w = gyro - self.bias
        self._run = int(run[-1])
        # the running integral, summed left to right from the carried end: any cut, same bits
        phi = np.cumsum(np.concatenate((self._phi_end, w * dt[:, None])), axis=0)[1:]
        self._phi_end = phi[-1:]
        gaps = self._gaps + np.cumsum(gap)
        self._gaps = int(gaps[-1])
        self._gyro_tail = np.concatenate((self._gyro_tail, gyro))[-(self._bias_win - 1) :]
        self.cols.append(
            t=t,
            acc=acc,
            w=w,
            speed_s=row_norm(self._smooth(w)),
            still=still,
            still_run=run,
            phi=phi,
            acc_mean=m_a,
            gap=gap,
            gaps=gaps,
            artefact=art,
        )

    @property
    def bias_ready(self) -> bool:
        """True once the gyro bias has been measured in a still period."""
        return self._b0 is not None

    def _rate_ok(self, m_g: np.ndarray) -> np.ndarray:
        if self._b0 is None:
            return row_norm(m_g) < self.p.first_rate_dps
        return row_norm(m_g - self._b0) < self.p.still_rate_dps

    def _due(self, run: np.ndarray) -> np.ndarray:
        """Bias checkpoints: a still run reaches the bias window, then every ``bias_every``."""
        return (run >= self._bias_win) & ((run - self._bias_win) % self._bias_every == 0)

    def _window_means(self, gyro_chunk: np.ndarray, ks: np.ndarray) -> np.ndarray:
        """Mean gyro over the bias window ending at each chunk row of ``ks`` (K×3), reaching
        back into the samples before the chunk; rows are summed in time order."""
        if len(ks) == 0:
            return np.empty((0, 3))
        need = self._bias_win
        held = self._gyro_tail
        ext = np.concatenate((held, gyro_chunk))
        windows = sliding_window_view(ext, need, axis=0)  # (rows, 3, need)
        return windows[ks + len(held) - need + 1].transpose(0, 2, 1).mean(axis=1)


class Boxcar:
    """Mean of the last ``n`` rows at each row, from running sums carried across chunks.

    The running sum is accumulated strictly left to right from the carried total, so the output
    is bit-identical however the stream is chunked.
    """

    def __init__(self, n: int, width: int) -> None:
        self.n = n
        self._tail = np.zeros((n, width))  # the last n running sums, oldest first

    def __call__(self, x: np.ndarray) -> np.ndarray:
        s = np.cumsum(np.concatenate([self._tail[-1:], x]), axis=0)[1:]
        both = np.concatenate([self._tail, s])
        self._tail = both[-self.n :]
        return (s - both[: len(s)]) / self.n


def _row_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=1)`` of an N×3 array, in the same order, without the reduction's overhead."""
    return x[:, 0] + x[:, 1] + x[:, 2]


def _run_lengths(flags: np.ndarray, carry: int) -> np.ndarray:
    """Length of the run of True ending at each sample (continuing a run of ``carry``)."""
    n = len(flags)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(1, n + 1)
    last_false = np.maximum.accumulate(np.where(flags, 0, idx))
    run = idx - last_false
    first_false = np.flatnonzero(~flags)
    head = first_false[0] if len(first_false) else n
    run[:head] += carry
    return run.astype(np.int64)
