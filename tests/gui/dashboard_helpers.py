"""Helpers for the dashboard tests: reps and statuses built by hand, a scripted analyzer."""

from __future__ import annotations

import math

import numpy as np

from analysis.results import AnalyzerStatus, Rep

NAN = math.nan


def make_rep(rep: int = 1, set_: int = 1, start_s: float = 10.0, **kw) -> Rep:
    """A plausible slider rep; override any field."""
    fields = dict(
        rep=rep, set=set_, start_s=start_s, end_s=start_s + 5.0, duration_s=5.0, out_s=2.4,
        back_s=2.6, knee_rom_deg=78.0, head_rom_deg=31.0, knee_peak_speed_dps=60.0, hold_s=0.3,
        pause_before_s=NAN, sparc=-1.62, ldlj=-6.1, sparc_head=-1.7, coordination_lag_s=0.05,
        crp_mean_deg=4.0, crp_sd_deg=15.0, technique="slider", quality=86.0, flags=(),
    )  # fmt: skip
    fields.update(kw)
    return Rep(**fields)


class ScriptedAnalyzer:
    """Stands in for OnlineAnalyzer: reports a rep whenever pushed time passes its end,
    an angle equal to the sample time, and a calibration stage by time."""

    def __init__(self, reps: list[Rep], stages: tuple[tuple[float, str], ...] = ()) -> None:
        self.pending = list(reps)
        self.reps: list[Rep] = []
        self.stages = stages or ((0.0, "hold_still"), (2.0, "look_up"), (4.0, "calibrated"))
        self.t = -math.inf
        self._angles: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.connected: dict[str, bool] = {}
        self.finished = False

    @property
    def status(self) -> AnalyzerStatus:
        stage = "waiting"
        for t, s in self.stages:
            if self.t >= t:
                stage = s
        return AnalyzerStatus(
            calibration=stage, reps=len(self.reps), set=self.reps[-1].set if self.reps else 0
        )

    def push(self, sensor, time_s, acc_mps2, gyro_dps):
        self.t = max(self.t, float(time_s[-1]))
        angle = np.asarray(time_s, dtype=float).copy()
        if self.t < 1.0:
            angle[:] = np.nan  # not calibrated yet: no angle
        self._angles.setdefault(sensor, []).append((np.asarray(time_s, float), angle))
        new = [r for r in self.pending if r.end_s <= self.t]
        self.pending = [r for r in self.pending if r.end_s > self.t]
        self.reps.extend(new)
        return new

    def take_angles(self):
        out = {
            k: (np.concatenate([p[0] for p in v]), np.concatenate([p[1] for p in v]))
            for k, v in self._angles.items()
            if v
        }
        self._angles = {}
        return out

    def set_connected(self, sensor, connected):
        self.connected[sensor] = connected
        return []

    def finish(self):
        self.finished = True
        new, self.pending = self.pending, []
        self.reps.extend(new)
        return new


class BrokenAnalyzer(ScriptedAnalyzer):
    """Fails on the third block."""

    def __init__(self) -> None:
        super().__init__([])
        self.n = 0

    def push(self, sensor, time_s, acc_mps2, gyro_dps):
        self.n += 1
        if self.n == 3:
            raise ZeroDivisionError("boom")
        return super().push(sensor, time_s, acc_mps2, gyro_dps)


def block(sensor: str, t0: float, n: int = 5, rate: float = 100.0, first_index: int | None = None):
    """A SampleBlock of ``n`` samples from ``t0`` (zeros but gravity on z)."""
    from collector.model import SampleBlock

    t = t0 + np.arange(n) / rate
    idx = np.arange(n) + (round(t0 * rate) if first_index is None else first_index)
    acc = np.zeros((n, 3))
    acc[:, 2] = 9.81
    return SampleBlock(sensor, t, t, acc, np.zeros((n, 3)), idx)
