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
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import lfilter

from analysis.artefacts import ArtefactParams, ArtefactScreen
from analysis.errors import AnalysisError
from analysis.vectors import angle_deg, row_norm


@dataclass(frozen=True)
class FrontEndParams:
    """Front-end thresholds and windows (documented in docs/analysis.md)."""

    warmup_samples: int = 32  # samples used to find the sample rate before processing starts
    window_s: float = 0.25  # stillness window: long enough to average noise, short enough to
    #   find a 0.3 s stop
    # Noise of a consumer MEMS IMU (BMI270 class: 0.008 deg/s/√Hz, 160 µg/√Hz) at 400 Hz is
    # an SD of 0.2 deg/s and 0.04 m/s² summed over the axes (0.4 and 0.08 at twice that noise):
    still_gyro_sd_dps: float = 1.5  # ≥ 3.75× the gyro's noise; a glide turns at ≥ 10 deg/s
    still_acc_sd_mps2: float = 0.12  # ≥ 1.5× the accelerometer's noise at twice the typical
    still_rate_dps: float = 3.0  # mean rate this far from the bias is a slow steady turn
    #   (small variance too), not stillness; the bias itself wanders by < 0.1 deg/s a minute
    first_rate_dps: float = 8.0  # before any bias is known: above the largest raw bias
    #   (±2 deg/s an axis, ±4 at twice the noise: |b| ≤ 6.9 deg/s)
    bias_window_s: float = 1.0  # averaging 1 s of stillness leaves < 0.02 deg/s of noise
    bias_every_s: float = 0.5  # re-estimated this often while still (the bias wanders slowly)
    still_tilt_deg: float = 0.5  # ... and only if gravity's direction moved less than this
    #   over the bias window (slow restless sway can pass the variance test; noise moves the
    #   0.25 s mean by < 0.15°)
    # without stillness (restless sitting), the bias is estimated against gravity (see
    # StrapFrontEnd._moving_bias): over the last moving_bias_s, once there
    # are moving_bias_min_s of data, if no still period has given one for moving_bias_after_s
    moving_bias_s: float = 20.0
    moving_bias_every_s: float = 2.0  # ... from stretches this long (one estimate per stretch)
    moving_bias_min_s: float = 4.0
    moving_bias_after_s: float = 120.0
    max_gap_s: float = 0.25  # a longer gap between samples is lost data: phi is not advanced
    #   across it (6 sample periods at 25 Hz, the slowest rate a strap sends)
    smooth_s: float = 0.1  # speed boxcar: nulls 10 Hz and averages noise; delays by 0.05 s
    artefacts: ArtefactParams = field(default_factory=ArtefactParams)  # knocks, hits: bridged
    settle_s: float = 2.5  # "settled": over this long ...
    settle_deg: float = 10.0  # ... each component of phi stays within this band (restless
    #   sitting sways a joint by up to ±5° at 0.1–0.8 Hz without ever being still) ...
    settle_turn_frac: float = 0.7  # ... and turns round: ends less than this fraction of the
    #   band apart (a slow glide, halts and all, goes one way: its ends are the band)
    settle_net_deg: float = 4.0  # ... and ends at most this far from where the window began
    #   (a slow glide moves more in settle_s, even with a halt in it)
    settle_quiet_deg: float = 2.0  # ... unless it stays within this (quiet: no turn needed)
    floor_tau_s: float = 5.0  # "floor": mean speed_s while settled (exponential, this time
    #   constant of settled time): the speed a restless person keeps up between movements
    restless_s: float = 5.0  # "restless": no still sample for this long


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

    @property
    def capacity(self) -> int:
        """Rows allocated (held and spare)."""
        return len(next(iter(self._data.values())))

    def make_room(self, n: int, spare: int = 0) -> None:
        """Make room for ``n`` more rows: one allocation for a whole recording (with ``spare``
        rows more, when it has to grow), and room that at least doubles when it grows (so
        appends in many pieces copy each row O(1) times)."""
        need = self._n + n
        cap = self.capacity
        if need > cap:
            rows = max(need + spare, 2 * cap)
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
        "settled": (1, np.bool_),  # the rotation about horizontal axes has stayed within
        #   settle_deg over the last settle_s, turning round (swaying, not gliding)
        "floor": (1, np.float64),  # background speed while settled (deg/s), see floor_tau_s
        "restless": (1, np.bool_),  # no still sample for restless_s
        "bias_moving": (1, np.bool_),  # the bias in use is not from a still period (none yet,
        #   or the gravity-referenced estimate: its part along gravity is unknown)
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
        self._phi_h_end = np.zeros((1, 3))  # ... and its horizontal-axes part
        self._gaps = 0
        self._last_t: float | None = None
        self._run = 0
        self._win = 0
        self._bias_win = 0
        self._bias_every = 1
        self.screen: ArtefactScreen | None = None
        self._expected_rows = 0  # offline: the recording's length (see expect)
        self.started_s: float | None = None  # time of the sample that completed the warm-up
        self.first_bias_row: int | None = None  # global row from which a bias estimate is used

    @property
    def ready(self) -> bool:
        return self.cols is not None

    @property
    def rate(self) -> float:
        """The strap's sample rate (Hz), measured from its first samples."""
        if self.rate_hz is None:
            raise AnalysisError("the sample rate is not known yet (too few samples)")
        return self.rate_hz

    def expect(self, rows: int) -> None:
        """The stream will bring about ``rows`` samples in all (offline: the recording's
        length): the column store is then allocated once, at that size, instead of growing."""
        self._expected_rows = rows

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
            self._process_in_pieces(t, acc, gyro, art)

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
        self._am_tail = np.empty((0, 3))  # the last bias window of acc_mean
        self._window_mean_of = Boxcar(self._win, 12)
        n_s = max(1, round(self.p.smooth_s * self.rate_hz))
        self._smooth = Boxcar(n_s, 3)
        self.smooth_delay_s = (n_s - 1) / (2.0 * self.rate_hz)
        self.screen = ArtefactScreen(self.rate_hz, self.p.artefacts)
        if keep is None and self._expected_rows:
            self.cols.make_room(self._expected_rows, spare=self.screen.max_held)
        self._n_settle = 2 * round(self.p.settle_s * self.rate_hz / 2) + 1  # odd
        self._mb_min = max(2, round(self.p.moving_bias_min_s * self.rate_hz))
        self._mb_after = round(self.p.moving_bias_after_s * self.rate_hz)
        self._mb_sums = np.zeros(7)  # running Σ ĝ dt, Σ ω×ĝ dt (rad), gaps
        self._mb_every = max(2, round(self.p.moving_bias_every_s * self.rate_hz))
        self._mb_keep = max(1, round(self.p.moving_bias_s / self.p.moving_bias_every_s))
        self._mb_mark: np.ndarray | None = None  # (sums, ĝ) at the last stretch end
        self._mb_terms = np.zeros((self._mb_keep, 12))  # terms of the last stretches
        self._last_still_row = None  # global row of the last still-based bias estimate
        self._still_bias = np.zeros(3)
        self._bias_moving = True  # no estimate yet
        self._phi_tail = np.empty((0, 3))
        a = float(np.exp(-1.0 / (self.p.floor_tau_s * self.rate_hz)))
        self._floor_ba = (np.array([1.0 - a]), np.array([1.0, -a]))
        self._floor_zi = np.zeros(1)
        self._floor_last = 0.0
        self._n_restless = round(self.p.restless_s * self.rate_hz)
        self._last_still = -1  # global row of the last still sample (−1: none yet)
        self._screened(t, acc, gyro)

    def _process_in_pieces(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, art: np.ndarray
    ) -> None:
        # the output does not depend on how the stream is cut, so a long input is processed in
        # pieces whose temporaries stay in the CPU cache (~3× faster on a whole recording)
        # (acc and gyro may be column views of the screen's rows: made contiguous a piece at
        # a time, not as whole-recording copies)
        assert self.cols is not None and self.screen is not None
        if self.cols.keep_rows is None:
            # room for the rows the screen still holds back too, so that the end of the stream
            # does not double a whole recording's columns
            self.cols.make_room(len(t), spare=self.screen.max_held)
        for a in range(0, len(t), _PIECE):
            b = a + _PIECE
            self._process(
                np.ascontiguousarray(t[a:b]),
                np.ascontiguousarray(acc[a:b]),
                np.ascontiguousarray(gyro[a:b]),
                art[a:b],
            )

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
        row0 = self.cols.end  # global row of this piece's first row
        up = m_a / np.maximum(row_norm(m_a), 1e-9)[:, None]  # gravity's direction, sensor frame
        # gravity's direction at each row and bias_window_s before it: a bias window in which
        # the strap tilted (slow sway passes the variance test) is not used for the bias
        am = np.concatenate((self._am_tail, m_a))
        self._am_tail = am[-(self._bias_win + 1) :]
        off = len(am) - n

        def steady(ks: np.ndarray) -> np.ndarray:
            # gravity's direction everywhere in the window within still_tilt_deg of its end
            # (means lag by half the stillness window: rows k − bias_win … k span it)
            if not len(ks):
                return np.zeros(0, dtype=bool)
            j = np.maximum(off + ks[:, None] - np.arange(0, self._bias_win + 1, 4)[None, :], 0)
            tilt = angle_deg(am[j], am[off + ks][:, None, :])
            return tilt.max(axis=1) < p.still_tilt_deg

        due = self._due(run)
        due[due] = steady(np.flatnonzero(due))
        if self._b0 is None and due.any():
            # the first bias estimate fixes the rate test from the next sample on
            k = int(np.argmax(due))
            self._b0 = self._window_means(gyro, np.array([k]))[0]
            still[k + 1 :] = quiet[k + 1 :] & self._rate_ok(m_g[k + 1 :])
            run[k + 1 :] = _run_lengths(still[k + 1 :], int(run[k]))
            due[k + 1 :] = self._due(run[k + 1 :])
            later = np.flatnonzero(due[k + 1 :]) + k + 1
            due[later] = steady(later)
        # the bias changes after each checkpoint: rows up to it use the previous estimate
        checkpoints = np.flatnonzero(due)
        still_values = self._window_means(gyro, checkpoints)
        m_rows, m_values = self._moving_bias(gyro, up, dt, gap, row0, checkpoints, still_values)
        if len(checkpoints) or len(m_rows):
            rows_all = np.concatenate((checkpoints, m_rows))
            order = np.argsort(rows_all, kind="stable")
            cps = rows_all[order]
            values = np.concatenate(
                (self.bias[None, :], np.vstack((still_values, m_values))[order])
            )
            moving = np.r_[np.zeros(len(checkpoints), bool), np.ones(len(m_rows), bool)][order]
            kinds = np.concatenate(([self._bias_moving], moving))
            rows = np.diff(cps, prepend=-1, append=n - 1)  # rows per bias value
            w = gyro - np.repeat(values, rows, axis=0)
            bias_moving = np.repeat(kinds, rows)
            self.bias = values[-1]
            self._bias_moving = bool(kinds[-1])
        else:  # moving: one bias for the whole piece
            w = gyro - self.bias
            bias_moving = np.full(n, self._bias_moving)
        if self.first_bias_row is None and (len(checkpoints) or len(m_rows)):
            first = min(int(x[0]) for x in (checkpoints, m_rows) if len(x))
            self.first_bias_row = row0 + first + 1  # the first row that uses it
        if len(checkpoints):
            self._last_still_row = row0 + int(checkpoints[-1])
            self._still_bias = still_values[-1]
        self._run = int(run[-1])
        # the running integral, summed left to right from the carried end: any cut, same bits
        phi = np.cumsum(np.concatenate((self._phi_end, w * dt[:, None])), axis=0)[1:]
        self._phi_end = phi[-1:]
        # the rotation about horizontal axes only (rate along gravity removed sample by
        # sample): what "settled" looks at, immune to a bias along gravity nobody can see
        w_h = w - _row_sum(w * up)[:, None] * up
        phi_h = np.cumsum(np.concatenate((self._phi_h_end, w_h * dt[:, None])), axis=0)[1:]
        self._phi_h_end = phi_h[-1:]
        settled = self._settled(phi_h)
        # the speed: where the bias is not from stillness its part along gravity is unknown,
        # so only the rate about horizontal axes counts (a knee's; a head's pitch)
        speed_s = row_norm(self._smooth(np.where(bias_moving[:, None], w_h, w)))
        floor = self._floor(speed_s, settled)
        gi = row0 + np.arange(n)  # global rows
        last = np.maximum.accumulate(np.where(still, gi, self._last_still))
        self._last_still = int(last[-1])
        restless = np.where(last < 0, gi + 1, gi - last) > self._n_restless
        gaps = self._gaps + np.cumsum(gap)
        self._gaps = int(gaps[-1])
        self._gyro_tail = np.concatenate((self._gyro_tail, gyro))[-(self._bias_win - 1) :]
        self.cols.append(
            t=t,
            acc=acc,
            w=w,
            speed_s=speed_s,
            still=still,
            still_run=run,
            phi=phi,
            acc_mean=m_a,
            gap=gap,
            gaps=gaps,
            artefact=art,
            settled=settled,
            floor=floor,
            restless=restless,
            bias_moving=bias_moving,
        )

    def _floor(self, speed_s: np.ndarray, settled: np.ndarray) -> np.ndarray:
        """Exponential mean of the speed over settled rows, held over the others (lfilter
        with carried state: any chunking, same bits)."""
        b, a = self._floor_ba
        idx = np.flatnonzero(settled)
        if not len(idx):  # (lfilter returns a wrong final state for an empty input)
            return np.full(len(speed_s), self._floor_last)
        y, self._floor_zi = lfilter(b, a, speed_s[idx], zi=self._floor_zi)
        pos = np.searchsorted(idx, np.arange(len(speed_s)), side="right") - 1
        out = np.where(pos >= 0, y[np.maximum(pos, 0)], self._floor_last)
        self._floor_last = float(y[-1])
        return out

    def _settled(self, phi: np.ndarray) -> np.ndarray:
        """Has phi stayed within ``settle_deg`` (each component) over the trailing
        ``settle_s``? From the carried tail, so any chunking gives the same answer."""
        n = self._n_settle
        x = np.concatenate((self._phi_tail, phi))
        self._phi_tail = x[-(n - 1) :] if n > 1 else x[:0]
        hi = maximum_filter1d(x, n, axis=0, origin=n // 2, mode="nearest")
        lo = minimum_filter1d(x, n, axis=0, origin=n // 2, mode="nearest")
        m = len(x) - len(phi)
        spread = (hi - lo)[m:]
        start = m - (n - 1)  # the row settle_s before the piece's first row
        if start >= 0:
            first = x[start : start + len(phi)]
        else:  # the stream's first rows: windows clipped at its start
            first = x[np.maximum(np.arange(m, len(x)) - (n - 1), 0)]
        net = np.abs(x[m:] - first)
        # within the band, and not a slow glide: a glide goes one way (net = spread), sway
        # turns round within the window (or the strap is quiet, below the noise band)
        band = np.maximum(np.maximum(spread[:, 0], spread[:, 1]), spread[:, 2])
        ok = net <= np.minimum(self.p.settle_turn_frac * spread, self.p.settle_net_deg)
        swaying = ok[:, 0] & ok[:, 1] & ok[:, 2]
        return (band <= self.p.settle_deg) & (swaying | (band <= self.p.settle_quiet_deg))

    def _moving_bias(
        self,
        gyro: np.ndarray,
        g: np.ndarray,
        dt: np.ndarray,
        gap: np.ndarray,
        row0: int,
        still_rows: np.ndarray,
        still_values: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gyro bias without stillness, against gravity: checkpoint rows and values.

        Gravity is fixed in the world, so in the sensor frame its direction ĝ (``g``: the
        accelerometer's mean over ``window_s``, normalised; ``row0``: the global row of the
        piece's first row) turns as dĝ/dt = −(ω − b) × ĝ.
        Integrated over a stretch k of ``moving_bias_every_s``: b × G_k = d_k with
        G_k = ∫ĝ dt and d_k = Δĝ + ∫ω × ĝ dt. Each stretch constrains the bias perpendicular
        to its mean gravity direction; stretches in different orientations (the shin during
        reps) constrain all of it. The estimate is the least-squares solution over the last
        ``moving_bias_s`` (normal equations Σ(|G_k|²I − G_kG_kᵀ) b = Σ G_k × d_k), pulled
        towards the last still-period estimate (else 0) along any direction the stretches do
        not constrain (ridge, 2 % of the mean eigenvalue). Error: the accelerometer's linear
        acceleration at the stretch ends (a few degrees), which telescopes along a steady
        direction: ~0.2 deg/s over 20 s. Used only where no still period gave an estimate
        for ``moving_bias_after_s``.
        """
        n = len(gyro)
        wr = np.radians(gyro)
        cross = np.empty_like(g)
        cross[:, 0] = wr[:, 1] * g[:, 2] - wr[:, 2] * g[:, 1]
        cross[:, 1] = wr[:, 2] * g[:, 0] - wr[:, 0] * g[:, 2]
        cross[:, 2] = wr[:, 0] * g[:, 1] - wr[:, 1] * g[:, 0]
        sums = np.empty((n + 1, 7))  # the carried sums, then each row's increments ...
        sums[0] = self._mb_sums
        np.multiply(g, dt[:, None], out=sums[1:, 0:3])
        np.multiply(cross, dt[:, None], out=sums[1:, 3:6])
        sums[1:, 6] = gap
        sums = np.cumsum(sums, axis=0, out=sums)[1:]  # ... summed in place, left to right
        self._mb_sums = sums[-1].copy()
        gi = row0 + np.arange(n)  # global rows
        ends = np.flatnonzero((gi + 1) % self._mb_every == 0)
        empty = np.empty(0, dtype=np.int64), np.empty((0, 3))
        if not len(ends):
            return empty
        marks = np.concatenate((sums[ends], g[ends]), axis=1)  # (sums, ĝ) at each stretch end
        prev = self._mb_mark
        self._mb_mark = marks[-1]
        starts = np.concatenate((prev[None, :], marks[:-1])) if prev is not None else marks[:-1]
        if prev is None:  # the first stretch end only marks a start
            ends, marks = ends[1:], marks[1:]
        ok = marks[:, 6] == starts[:, 6]  # no gap in the stretch
        G = (marks[:, 0:3] - starts[:, 0:3]) * ok[:, None]
        d = (marks[:, 7:10] - starts[:, 7:10] + marks[:, 3:6] - starts[:, 3:6]) * ok[:, None]
        gg = (G * G).sum(axis=1)
        terms = np.concatenate(
            (
                (gg[:, None, None] * np.eye(3) - G[:, :, None] * G[:, None, :]).reshape(-1, 9),
                np.cross(G, d),
            ),
            axis=1,
        )  # normal-equation terms of each stretch: A (9) and y (3)
        # the sum over the last moving_bias_s, always of the same rows in the same order (the
        # carried rows start as zeros): any chunking, same bits
        hist = np.concatenate((self._mb_terms, terms))
        self._mb_terms = hist[-self._mb_keep :]
        window = sliding_window_view(hist, self._mb_keep, axis=0)[1:].sum(axis=-1)
        due = (row0 + ends >= self._mb_min) & ok
        # stale: no still-based estimate within moving_bias_after_s before the row
        last = np.full(len(ends), -1 if self._last_still_row is None else self._last_still_row)
        prior = np.tile(self._still_bias, (len(ends), 1))
        if len(still_rows):
            k = np.searchsorted(still_rows, ends, side="right") - 1
            inside = k >= 0
            last[inside] = row0 + still_rows[k[inside]]
            prior[inside] = still_values[k[inside]]
        due &= (last < 0) | (row0 + ends - last > self._mb_after)
        if not due.any():
            return empty
        a = window[due, :9].reshape(-1, 3, 3)
        y = window[due, 9:]
        lam = 0.02 * np.trace(a, axis1=1, axis2=2) / 3.0 + 1e-12
        rhs = y + lam[:, None] * np.radians(prior[due])
        b = np.linalg.solve(a + lam[:, None, None] * np.eye(3), rhs[..., None])[..., 0]
        return ends[due].astype(np.int64), np.degrees(b)

    @property
    def settle_rows(self) -> int:
        """Rows of the "settled" window (odd)."""
        return self._n_settle

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
