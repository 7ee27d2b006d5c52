"""Clock mapping: each device's clock → session time, from when its notifications arrive.

A notification arrives some time after its last sample was taken: at least the stack's fixed
delay, often a whole BLE connection interval more (7.5–50 ms), and several packets that waited
for the same connection event arrive together. So arrival times scatter *above* the line
``session = offset + rate · device``; the packets that travelled fastest lie on it.
:class:`DeviceClock` therefore fits the lower envelope of (device time, arrival time): the line
below every point that minimises the summed vertical distance to them (a linear programme whose
optimum is the edge of the lower convex hull spanning the mean device time). Drift (±100 ppm
crystals: 6 ms a minute) is fitted once the window spans long enough; before that the rate is
taken as nominal and the offset from the recent envelope. Points are kept as the fastest packet
per 0.25 s bin over a two-minute window, so a refit costs the same at 20 or 2000 packets/s.

Both straps share the BLE stack's fixed delay, so it cancels between them: what remains is how
close each envelope gets to the fastest possible delivery, well under a millisecond after the
warm-up. Changes of the fit are slewed (at most 1 ms per second of device time) so a strap's
session times never run backwards.

:class:`ArrivalClock` serves devices without timestamps (WitMotion): it counts samples at the
configured rate, infers gaps longer than the arrival jitter, and times the count through a
:class:`DeviceClock`, which estimates the real rate.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClockFit:
    """``session_s = offset_s + slope · device_s``; ``drift_ppm`` = (slope − 1)·10⁶."""

    offset_s: float
    slope: float
    span_s: float
    points: int

    @property
    def drift_ppm(self) -> float:
        return (self.slope - 1.0) * 1e6

    def __call__(self, device_s: np.ndarray | float) -> np.ndarray:
        return self.offset_s + self.slope * np.asarray(device_s, dtype=np.float64)


def lower_envelope_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(offset, slope)`` of the line below all points (x, y) with the least summed vertical
    distance to them: the lower-hull edge spanning mean(x). Needs x increasing, ≥ 2 points."""
    hull: list[int] = []
    for i in range(len(x)):  # monotone chain, lower hull
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (x[a] - x[o]) * (y[i] - y[o]) - (y[a] - y[o]) * (x[i] - x[o])
            if cross > 0:
                break
            hull.pop()
        hull.append(i)
    xm = float(np.mean(x))
    for a, b in itertools.pairwise(hull):
        if x[b] >= xm:
            slope = (y[b] - y[a]) / (x[b] - x[a])
            return float(y[a] - slope * x[a]), float(slope)
    a, b = hull[-2], hull[-1]
    slope = (y[b] - y[a]) / (x[b] - x[a])
    return float(y[a] - slope * x[a]), float(slope)


class DeviceClock:
    """Map one device clock to session time from arrivals and, if the device answers them,
    time-sync pings.

    Two kinds of observation bound the mapping from both sides:

    * :meth:`observe` — a data packet whose last sample has device time ``device_s`` arrived
      at ``arrival_s``: the sample was taken *before* (an upper bound);
    * :meth:`observe_sync` — the device stamped ``device_s`` on a ping the host sent at
      ``sent_s``: the stamp was taken *after* (a lower bound).

    Data packets become ready in step with the device's sample clock, so when the notification
    period is commensurate with the connection interval their waits for a connection event do
    not average out and the arrival envelope can stay late by up to an interval. The host picks
    the ping times at random, so the earliest-delivered pings approach the true offset whatever
    the phase: with ``expect_sync`` the fit follows the ping envelope (never later than the
    arrivals allow) and the warm-up waits for ``warmup_syncs`` pings; without, the arrival
    envelope. Then :meth:`map` the device times of a block's samples.
    """

    def __init__(
        self,
        *,
        expect_sync: bool = False,
        window_s: float = 120.0,
        bin_s: float = 0.25,
        refit_every_s: float = 0.5,
        drift_span_s: float = 10.0,
        recent_s: float = 5.0,
        warmup_s: float = 2.0,
        warmup_packets: int = 30,
        warmup_syncs: int = 150,
        max_drift_ppm: float = 500.0,
        max_slew: float = 1e-3,
    ) -> None:
        self.expect_sync = expect_sync
        self.window_s = window_s
        self.bin_s = bin_s
        self.refit_every_s = refit_every_s
        self.drift_span_s = drift_span_s
        self.recent_s = recent_s
        self.warmup_s = warmup_s
        self.warmup_packets = warmup_packets
        self.warmup_syncs = warmup_syncs
        self.max_drift = max_drift_ppm * 1e-6
        self.max_slew = max_slew
        self._kwargs = {
            "expect_sync": expect_sync, "window_s": window_s, "bin_s": bin_s,
            "refit_every_s": refit_every_s, "drift_span_s": drift_span_s,
            "recent_s": recent_s, "warmup_s": warmup_s, "warmup_packets": warmup_packets,
            "warmup_syncs": warmup_syncs, "max_drift_ppm": max_drift_ppm, "max_slew": max_slew,
        }  # fmt: skip
        self._up: dict[int, tuple[float, float]] = {}  # bin → (x, y) of the fastest packet
        self._low: dict[int, tuple[float, float]] = {}  # bin → (x, y) of the fastest ping
        self._first_x = math.nan
        self._last_x = -math.inf
        self._fit_x = -math.inf
        self.packets = 0
        self.syncs = 0
        self.fit: ClockFit | None = None
        self._prev: tuple[float, float] | None = None  # last mapped (device, session)
        self._slope_prior = 1.0
        self._was_ready = False
        self._leap = False  # after restart_segment: the next mapping may jump forward

    @property
    def ready(self) -> bool:
        """Whether enough was seen to map with the promised accuracy (stays true once true)."""
        if not self._was_ready and self.fit is not None:
            enough = self.syncs >= self.warmup_syncs if self.expect_sync else True
            self._was_ready = (
                enough
                and self.packets >= self.warmup_packets
                and self._last_x - self._first_x >= self.warmup_s
            )
            if self._was_ready:  # the first mapping from every point seen, not a fit up to
                self._refit()  # refit_every_s old (early on the envelope tightens fast)
        return self._was_ready

    def reset(self) -> None:
        """Forget everything (the device clock restarted)."""
        self.__init__(**self._kwargs)  # type: ignore[misc]

    def restart_segment(self) -> None:
        """Re-anchor after a discontinuity (e.g. an uncertain gap): drop the points, keep the
        fitted rate as the prior and the readiness, and let the next mapping jump forward to
        the fit (never back: a strap's session times only increase)."""
        if self.fit is not None:
            self._slope_prior = self.fit.slope
        self._up.clear()
        self._low.clear()
        self._first_x = math.nan
        self._last_x = -math.inf
        self.fit = None
        self._leap = True

    def _seen(self, x: float) -> None:
        if math.isnan(self._first_x):
            self._first_x = x
        if x > self._last_x:
            self._last_x = x

    def observe(self, device_s: float, arrival_s: float) -> None:
        """Add one packet: device time (s) of its last sample, session time (s) it arrived."""
        if self._add(self._up, device_s, arrival_s, 1.0):
            self.packets += 1

    def observe_sync(self, device_s: float, sent_s: float) -> None:
        """Add one ping: the device time (s) when it got a ping the host sent at ``sent_s``."""
        if self._add(self._low, device_s, sent_s, -1.0):
            self.syncs += 1

    def _add(
        self, bins: dict[int, tuple[float, float]], device_s: float, host_s: float, sign: float
    ) -> bool:
        """Keep the fastest point of its bin: the least ``host − device`` for packets (upper
        bounds, ``sign`` 1), the greatest for pings (lower bounds, ``sign`` −1); False if not
        finite. Negation is exact, so ``sign`` changes no comparison."""
        if not (math.isfinite(device_s) and math.isfinite(host_s)):
            return False
        self._seen(device_s)
        k = int(device_s // self.bin_s)
        old = bins.get(k)
        if old is None or sign * (host_s - device_s) < sign * (old[1] - old[0]):
            bins[k] = (device_s, host_s)
        self._maybe_refit(device_s)
        return True

    def _maybe_refit(self, x: float) -> None:
        if self.fit is None or x - self._fit_x >= self.refit_every_s:
            self._refit()

    @staticmethod
    def _points(bins: dict[int, tuple[float, float]], lo: int) -> tuple[np.ndarray, np.ndarray]:
        for k in [k for k in bins if k < lo]:
            del bins[k]
        pts = sorted(bins.values())
        return (
            np.fromiter((p[0] for p in pts), float, len(pts)),
            np.fromiter((p[1] for p in pts), float, len(pts)),
        )

    def _envelope(
        self, x: np.ndarray, y: np.ndarray, x0: float, sign: float
    ) -> tuple[float, float]:
        """(offset at x0, slope) of the envelope below (sign=1) or above (sign=-1) the points."""
        xr, ys = x - x0, sign * y
        span = float(x[-1] - x[0])
        if span >= self.drift_span_s and len(x) >= 3:
            a, b = lower_envelope_fit(xr, ys)
            if abs(b - sign) <= self.max_drift:
                return sign * a, sign * b
            b = sign * self._slope_prior
        else:
            b = sign * self._slope_prior
        # the latest observations of this kind (pings may have stopped while data go on)
        recent = xr >= xr[-1] - self.recent_s
        return sign * float(np.min(ys[recent] - b * xr[recent])), sign * b

    def _refit(self) -> None:
        lo = int((self._last_x - self.window_s) // self.bin_s)
        xu, yu = self._points(self._up, lo)
        xl, yl = self._points(self._low, lo)
        x0 = self._last_x  # work relative to the newest point: small numbers stay exact
        if self.expect_sync and len(xl):
            a, b = self._envelope(xl, yl, x0, -1.0)
            if len(xu):  # a sample cannot be mapped after it arrived
                a = min(a, float(np.min(yu - b * (xu - x0))))
            span, n = float(xl[-1] - xl[0]), len(xl)
        elif len(xu):
            a, b = self._envelope(xu, yu, x0, 1.0)
            span, n = float(xu[-1] - xu[0]), len(xu)
        else:
            return
        self.fit = ClockFit(a - b * x0, b, span, n)
        self._fit_x = self._last_x

    def map(self, device_s: np.ndarray) -> np.ndarray:
        """Session times (s) of samples at these device times (increasing, after earlier calls).

        Continues from the previous call at the fitted rate and slews towards the fit by at
        most ``max_slew`` s per s, so successive outputs never go backwards.
        """
        if self.fit is None:
            raise RuntimeError("DeviceClock.map before any packet was observed")
        x = np.asarray(device_s, dtype=np.float64)
        if len(x) == 0:
            return x.copy()
        fit = self.fit
        if self._prev is None or x[0] <= self._prev[0]:
            y = fit(x)
        else:
            px, py = self._prev
            cont = py + fit.slope * (x - px)
            err = float(fit(x[0]) - cont[0])
            allowed = self.max_slew * float(x[0] - px)
            # a new segment later than the old one continued jumps to the fit; else slew
            leap = self._leap and err > 0
            y = fit(x) if leap else cont + max(-allowed, min(allowed, err))
        self._leap = False
        self._prev = (float(x[-1]), float(y[-1]))
        return y


#: a stream's first seconds of fast time-sync pings (100/s, then 20/s): see next_ping_delay_s
FAST_PINGS_S = 30.0


def next_ping_delay_s(rng: np.random.Generator, since_start_s: float) -> float:
    """Random wait (s) before the next time-sync ping: 100/s in a stream's first
    ``FAST_PINGS_S`` (30 s), then 20/s. Random times keep pings out of step with the connection
    interval, which is what lets the earliest ones approach the true offset. Only the ping sent
    last before a connection event can tighten the envelope, so at 20/s a long interval (50 ms:
    one ping an event) leaves the envelope's points sparse, and the rate fitted from them after
    10 s can be 50 ppm off for another 10–20 s; 100/s until 30 s gives every event several
    (``benchmarks/clock_alignment.py``, 100 sessions of seed block 5000: the worst head–shin
    error per session, p95 1.60 → 1.27 ms; docs/ble.md)."""
    return float(rng.exponential(0.01 if since_start_s < FAST_PINGS_S else 0.05))


class ArrivalClock:
    """Sample counter and session times for a device without timestamps or sequence numbers.

    Each call to :meth:`add` numbers the ``n`` samples of one notification. A packet later
    than ``jitter_s`` beyond the fastest delivery seen (and the typical, median, lateness) is
    either the first after lost samples or the first of a backlog that was delayed (a host
    busy for a moment, BLE resends): the samples of a backlog follow it faster than real time
    until it is drained, those after a loss at the sample rate. So the late packet and the ones
    after it are held: if a packet numbered straight on is back within the jitter, the backlog
    was drained and nothing was lost (``delays``); if after ``decide_s`` of arrivals they are
    still late, as many samples as that lateness are counted lost just before the first late
    packet (``gaps``, ``inferred_lost``). Shorter losses hide in the jitter and cannot be told
    from it. Device time is ``index / rate_hz``; session time comes from a
    :class:`DeviceClock`, whose slope measures the real rate.
    """

    def __init__(
        self, rate_hz: float, jitter_s: float = 0.15, decide_s: float = 0.3, **clock_kwargs: float
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate must be positive")
        self.rate_hz = float(rate_hz)
        self.period_s = 1.0 / self.rate_hz
        self.jitter_s = jitter_s
        self.decide_s = decide_s
        self.clock = DeviceClock(**clock_kwargs)  # type: ignore[arg-type]
        self.next_index = 0
        self.inferred_lost = 0
        self.skipped = 0
        self.gaps = 0
        self.delays = 0  # late packets that were a drained backlog, not a loss
        self._last_arrival = math.nan
        self._late: list[float] = []
        # held: (item, first index as numbered straight on, n, arrival) of undecided packets
        self._held: list[tuple[Any, int, int, float]] = []

    def skip(self, n: int) -> None:
        """``n`` samples the device took will never be assigned (their notification was
        rejected as malformed): the count moves past them, so later samples keep their place."""
        self.next_index += max(0, int(n))
        self.skipped += max(0, int(n))

    def add(self, n: int, arrival_s: float, item: Any) -> list[tuple[Any, np.ndarray, np.ndarray]]:
        """Number the ``n`` samples of a notification that arrived at ``arrival_s``: the
        notifications decided now, in order, as ``(item, sample_index, device_time_s)`` (none
        while a late one is held, several when a hold ends)."""
        if n <= 0:
            return [(item, np.zeros(0, dtype=np.int64), np.zeros(0))]
        if self.clock.fit is None or not self.clock.ready:
            if math.isfinite(self._last_arrival):
                gap = arrival_s - self._last_arrival - n * self.period_s
                if gap > self.jitter_s:
                    self._lost(max(1, round(gap / self.period_s)), restart=False)
            return [self._number(item, n, arrival_s)]
        out: list[tuple[Any, np.ndarray, np.ndarray]] = []
        if self._held and arrival_s - self._held[-1][3] >= self.decide_s:
            out += self.flush()  # nothing came for a while: decide on what was held
        late, typical = self._lateness(self.next_index + n - 1, arrival_s)
        if late <= self.jitter_s + typical:
            if self._held:  # numbered straight on, back in time: a delayed backlog, drained
                self.delays += 1
                out += self._release()
            else:
                self._late.append(late)
                if len(self._late) > 400:
                    del self._late[:200]
            return [*out, self._number(item, n, arrival_s)]
        self._held.append((item, self.next_index, n, arrival_s))
        self.next_index += n
        if arrival_s - self._held[0][3] >= self.decide_s:
            out += self._decide(late - typical)
        return out

    def flush(self) -> list[tuple[Any, np.ndarray, np.ndarray]]:
        """Decide the held notifications now (the stream paused or ends): their lateness is
        taken for a loss before them."""
        if not self._held:
            return []
        _, first, n, arrival = self._held[-1]
        late, typical = self._lateness(first + n - 1, arrival)
        if late <= self.jitter_s + typical:
            return self._release()
        return self._decide(late - typical)

    def _lateness(self, last_index: int, arrival_s: float) -> tuple[float, float]:
        """How late a notification whose last sample is ``last_index`` arrived against the
        fastest delivery the fit allows, and the typical (median) lateness, s."""
        assert self.clock.fit is not None
        late = arrival_s - float(self.clock.fit(last_index * self.period_s))
        return late, float(np.median(self._late)) if self._late else 0.0

    def _decide(self, lateness_s: float) -> list[tuple[Any, np.ndarray, np.ndarray]]:
        """The held packets are still late: samples were lost just before the first."""
        assert self.clock.fit is not None
        missed = max(1, round(lateness_s / (self.period_s * self.clock.fit.slope)))
        self._lost(missed, restart=True)
        self._held = [(it, k + missed, n, a) for it, k, n, a in self._held]
        return self._release()

    def _lost(self, missed: int, restart: bool) -> None:
        self.next_index += missed
        self.inferred_lost += missed
        self.gaps += 1
        if restart:
            self.clock.restart_segment()  # the count is only good to ± the jitter

    def _release(self) -> list[tuple[Any, np.ndarray, np.ndarray]]:
        held, self._held = self._held, []
        return [self._observed(it, k, n, a) for it, k, n, a in held]

    def _number(self, item: Any, n: int, arrival_s: float) -> tuple[Any, np.ndarray, np.ndarray]:
        first = self.next_index
        self.next_index += n
        return self._observed(item, first, n, arrival_s)

    def _observed(
        self, item: Any, first: int, n: int, arrival_s: float
    ) -> tuple[Any, np.ndarray, np.ndarray]:
        idx = np.arange(first, first + n, dtype=np.int64)
        t = idx * self.period_s
        self._last_arrival = arrival_s
        self.clock.observe(float(t[-1]), arrival_s)
        return item, idx, t
