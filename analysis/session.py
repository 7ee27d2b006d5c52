"""Offline analysis of a whole session: the live pipeline run over a recording, plus angles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.angles import complementary_inclination
from analysis.online import OnlineAnalyzer
from analysis.params import RepParams
from analysis.results import AnalyzerStatus, Rep

ACC = ["acc_x", "acc_y", "acc_z"]
GYR = ["gyr_x", "gyr_y", "gyr_z"]


@dataclass
class SessionAnalysis:
    """Reps of a session and its segment angles.

    ``reps``: one row per rep, columns ``Rep.columns()``; ``angles[role]``: ``time_s`` and
    ``angle_deg`` (shin inclination / head pitch, 0 = calibration pose, + = extension), NaN where
    the strap's axis or the zero pose is unknown; ``status``: how calibration went.
    """

    reps: pd.DataFrame
    angles: dict[str, pd.DataFrame] = field(default_factory=dict)
    status: AnalyzerStatus = field(default_factory=AnalyzerStatus)
    rejected: list[Any] = field(default_factory=list)

    def summary(self) -> str:
        """Per-set summary: reps, mean quality, technique, most common flags."""
        return summarise(self.reps)


def analyze(
    samples: Mapping[str, pd.DataFrame], params: RepParams | None = None, angles: bool = True
) -> SessionAnalysis:
    """Analyse a session given per-strap sample tables (``time_s``, ``acc_x..z`` in m/s²,
    ``gyr_x..z`` in deg/s). The shin strap is required; the head strap is optional."""
    if "shin" not in samples or len(samples["shin"]) == 0:
        raise ValueError("no shin samples: the shin strap is required")
    roles = [r for r in ("shin", "head") if r in samples and len(samples[r])]
    an = OnlineAnalyzer(params, sensors=roles, keep_s=None)
    an.collect_angles = False
    # head first: the detector then never waits for it (same result as any interleaving)
    for role in reversed(roles):
        df = samples[role]
        an.push(
            role, df["time_s"].to_numpy(float), df[ACC].to_numpy(float), df[GYR].to_numpy(float)
        )
    an.finish()
    table = pd.DataFrame([r.to_dict() for r in an.reps], columns=Rep.columns())
    out = SessionAnalysis(table, status=an.status, rejected=list(an.detector.rejected))
    if angles:
        out.angles = session_angles(an)
    return out


def session_angles(an: OnlineAnalyzer) -> dict[str, pd.DataFrame]:
    """Zero-phase complementary inclination of each strap over the whole session."""
    axes = {"shin": an.detector.knee_axis, "head": an.ctx.head_axis}
    out = {}
    for role, fe in an.fe.items():
        cols = fe.cols
        if cols is None or fe.rate_hz is None:
            continue
        t = cols.get("t")
        zero = an.calibration.zero.get(role)
        axis = axes[role]
        if zero is None and an.detector.anchor_i >= 0 and role == "shin":
            zero = cols.base
        if axis is None or zero is None:
            angle = np.full(len(t), np.nan)
        else:
            angle = complementary_inclination(
                cols.get("phi"), cols.get("acc"), axis, cols.at("acc_mean", zero), fe.rate_hz
            )
            angle = angle - angle[zero - cols.base]
        out[role] = pd.DataFrame({"time_s": t, "angle_deg": angle})
    return out


def summarise(reps: pd.DataFrame) -> str:
    """Reps per set, mean quality, technique and the most common flags, as text."""
    if reps.empty:
        return "no reps found"
    lines = []
    for set_no, g in reps.groupby("set"):
        tech = g["technique"].value_counts()
        flags = pd.Series([f for fs in g["flags"] for f in str(fs).split(";") if f]).value_counts()
        common = ", ".join(f"{k} ×{v}" for k, v in flags.head(3).items()) or "none"
        lines.append(
            f"set {set_no}: {len(g)} reps, quality {g['quality'].mean():.0f}/100, "
            f"{', '.join(f'{k} {v}' for k, v in tech.items())}; "
            f"tempo out {g['out_s'].median():.1f} s / back {g['back_s'].median():.1f} s, "
            f"knee range {g['knee_rom_deg'].median():.0f}°; flags: {common}"
        )
    lines.append(
        f"total: {len(reps)} reps in {reps['set'].nunique()} sets, "
        f"mean quality {reps['quality'].mean():.0f}/100"
    )
    return "\n".join(lines)
