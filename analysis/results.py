"""What the analysis reports: one record per rep, and the live analyzer's status.

Every field is defined (unit, method, reference) in ``analysis/dictionary.py``, which generates
``docs/data-dictionary.md`` and the data-dictionary CSV written beside every export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Technique = Literal["slider", "tensioner", "unclear"]


@dataclass(frozen=True)
class Rep:
    """One repetition and its quality metrics (NaN where a metric does not apply)."""

    rep: int  # 1-based over the session
    set: int  # 1-based; a new set starts after a rest of at least RepParams.set_gap_s
    start_s: float  # onset of the first movement (knee or head), session time
    end_s: float  # the last of knee and head comes to rest
    duration_s: float
    out_s: float  # knee extension: onset → knee reaches end range
    back_s: float  # knee flexion: leaves end range → back at rest
    knee_rom_deg: float
    head_rom_deg: float
    knee_peak_speed_dps: float
    hold_s: float  # longest time near end range with neither strap moving
    pause_before_s: float  # since the previous rep of the same set ended (NaN for a set's first)
    sparc: float  # shin angular speed, mean of out and back glides
    ldlj: float
    sparc_head: float
    coordination_lag_s: float  # head vs knee, + = head later (cross-correlation)
    crp_mean_deg: float  # continuous relative phase knee − head (Hilbert), circular mean
    crp_sd_deg: float  # circular standard deviation
    technique: Technique
    quality: float  # 0–100
    flags: tuple[str, ...] = ()
    # where things happened, for plots and feedback (session time, s)
    knee_top_s: float = float("nan")
    knee_back_start_s: float = float("nan")
    look_up_deg: float = float("nan")  # slider: extra head extension at end range

    def to_dict(self) -> dict[str, Any]:
        """Flat dict with ``flags`` joined by ``;`` (the CSV row)."""
        d = asdict(self)
        d["flags"] = ";".join(self.flags)
        return d

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass
class AnalyzerStatus:
    """What the live analyzer is doing, for the dashboard.

    ``calibration`` walks the start-up protocol the dashboard prompts for: ``"waiting"`` (no data
    yet) → ``"hold_still"`` (sit upright, still, looking ahead: the zero of both angles) →
    ``"look_up"`` (look up to the ceiling and back: tells which way the head extends; skipped
    without a head strap) → ``"calibrated"`` (get into the start position and begin). If reps
    start before the look-up, the analyzer learns the head's direction from slider look-ups.
    ``phase`` is ``"idle"`` or ``"in_rep"``.
    """

    calibration: Literal["waiting", "hold_still", "look_up", "calibrated"] = "waiting"
    phase: Literal["idle", "in_rep"] = "idle"
    reps: int = 0
    set: int = 0
    head_sign_source: str = "unknown"  # "calibration", "look_up", "unknown"
    notes: list[str] = field(default_factory=list)
