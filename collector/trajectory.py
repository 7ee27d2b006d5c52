"""Smooth joint trajectories with analytic derivatives: minimum-jerk moves and tremors.

A degree of freedom (a joint angle in rad, or a displacement in m) is a base value plus a sum of
*moves* and *oscillations*. A move changes the value by ``delta`` along the minimum-jerk profile
of Flash & Hogan (1985), the classic model of smooth point-to-point human movement; its velocity
and acceleration are zero at both ends. An oscillation is a sinusoid under a ``sin⁴`` window
(tremor, leg swing, strap jostle) that starts and ends at rest. Velocity is exactly zero outside
every move and oscillation, which is what makes ground-truth stillness well defined.

.. [1] Flash T, Hogan N. The coordination of arm movements: an experimentally confirmed
   mathematical model. J Neurosci 1985;5(7):1688-1703.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


class Track(NamedTuple):
    """Value, first and second time derivative of one degree of freedom at given times."""

    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray


@dataclass(frozen=True, slots=True)
class Move:
    """Minimum-jerk change by ``delta`` starting at ``t0_s`` and lasting ``duration_s``."""

    t0_s: float
    duration_s: float
    delta: float

    @property
    def t1_s(self) -> float:
        return self.t0_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Oscillation:
    """``amplitude·sin(2π f (t−t0) + phase)`` under a ``sin⁴(π τ)`` window over ``duration_s``.

    ``windowed=False`` drops the window: a plain sinusoid over ``[t0, t0 + duration)`` (restless
    sway that lasts the whole session, so it never comes to rest inside it).
    """

    t0_s: float
    duration_s: float
    amplitude: float
    freq_hz: float
    phase_rad: float = 0.0
    windowed: bool = True

    @property
    def t1_s(self) -> float:
        return self.t0_s + self.duration_s


def min_jerk(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-jerk profile s(τ) = 10τ³ − 15τ⁴ + 6τ⁵ and its first two derivatives in τ."""
    t2 = tau * tau
    s = t2 * tau * (10.0 - 15.0 * tau + 6.0 * t2)
    ds = 30.0 * t2 * (1.0 - 2.0 * tau + t2)
    dds = 60.0 * tau * (1.0 - 3.0 * tau + 2.0 * t2)
    return s, ds, dds


@dataclass
class DofTrajectory:
    """One degree of freedom: ``base`` plus moves and oscillations (all in the same unit)."""

    base: float = 0.0
    moves: list[Move] = field(default_factory=list)
    oscillations: list[Oscillation] = field(default_factory=list)

    def add_move(self, t0_s: float, duration_s: float, delta: float) -> float:
        """Append a move and return its end time, s."""
        if duration_s <= 0:
            raise ValueError("a move needs a positive duration")
        self.moves.append(Move(float(t0_s), float(duration_s), float(delta)))
        return t0_s + duration_s

    def add_oscillation(self, osc: Oscillation) -> None:
        """Append an oscillation."""
        self.oscillations.append(osc)

    def value_at(self, t_s: float) -> float:
        """Value at one instant (used while scripting to know the current posture)."""
        return float(self.evaluate(np.array([t_s], dtype=float)).q[0])

    def evaluate(self, t: np.ndarray) -> Track:
        """Value, velocity (unit/s) and acceleration (unit/s²) at the ascending times ``t``."""
        t = np.asarray(t, dtype=float)
        n = len(t)
        q = np.zeros(n)
        qd = np.zeros(n)
        qdd = np.zeros(n)
        # A finished move adds a constant: collect the steps and integrate once (O(N) overall).
        step = np.zeros(n + 1)
        if self.moves:
            t0 = np.array([m.t0_s for m in self.moves])
            dur = np.array([m.duration_s for m in self.moves])
            delta = np.array([m.delta for m in self.moves])
            i0s = np.searchsorted(t, t0, side="left")
            i1s = np.searchsorted(t, t0 + dur, side="left")
            np.add.at(step, i1s, delta)
            for k in np.flatnonzero(i1s > i0s):
                i0, i1, d, T = i0s[k], i1s[k], delta[k], dur[k]
                s, ds, dds = min_jerk((t[i0:i1] - t0[k]) / T)
                q[i0:i1] += d * s
                qd[i0:i1] += d * ds / T
                qdd[i0:i1] += d * dds / (T * T)
        q += np.cumsum(step[:n])
        for o in self.oscillations:
            i0 = np.searchsorted(t, o.t0_s, side="left")
            i1 = np.searchsorted(t, o.t1_s, side="left")
            if i1 <= i0:
                continue
            tt = t[i0:i1] - o.t0_s
            a, b, c = _windowed_sine(tt, o) if o.windowed else _sine(tt, o)
            q[i0:i1] += a
            qd[i0:i1] += b
            qdd[i0:i1] += c
        q += self.base
        return Track(q, qd, qdd)

    def active_intervals(self) -> list[tuple[float, float]]:
        """Time intervals (s) during which this degree of freedom moves."""
        return [(m.t0_s, m.t1_s) for m in self.moves] + [
            (o.t0_s, o.t1_s) for o in self.oscillations
        ]


def _windowed_sine(tt: np.ndarray, o: Oscillation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and derivatives of ``A sin(ωt+φ)·sin⁴(πt/T)`` (product rule, analytic)."""
    w = 2.0 * np.pi * o.freq_hz
    k = np.pi / o.duration_s
    sn, cs = np.sin(w * tt + o.phase_rad), np.cos(w * tt + o.phase_rad)
    ws, wc = np.sin(k * tt), np.cos(k * tt)
    win = ws**4
    dwin = 4.0 * ws**3 * wc * k
    ddwin = k * k * (12.0 * ws**2 * wc**2 - 4.0 * ws**4)
    amp = o.amplitude
    q = amp * sn * win
    qd = amp * (w * cs * win + sn * dwin)
    qdd = amp * (-w * w * sn * win + 2.0 * w * cs * dwin + sn * ddwin)
    return q, qd, qdd


def _sine(tt: np.ndarray, o: Oscillation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and derivatives of ``A sin(ωt+φ)``."""
    w = 2.0 * np.pi * o.freq_hz
    sn, cs = np.sin(w * tt + o.phase_rad), np.cos(w * tt + o.phase_rad)
    return o.amplitude * sn, o.amplitude * w * cs, -o.amplitude * w * w * sn


def merge_intervals(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of closed intervals, sorted; touching intervals merge."""
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]
