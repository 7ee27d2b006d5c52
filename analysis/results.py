"""What the analysis reports: one record per rep, the live analyzer's status, and the result.

Every field is defined (unit, method, reference) in ``analysis/dictionary.py``, which generates
``docs/data-dictionary.md`` and the data-dictionary CSV written beside every export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

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
    artefacts: int = 0  # runs of artefact samples (either strap) within the rep, bridged

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
    calibration_missed: tuple[str, ...] = ()  # steps ("hold_still", "look_up") the first rep
    #   came before: counting went on without them (angles zeroed at the first rest)
    notes: list[str] = field(default_factory=list)


#: Kinds of :class:`AnalysisEvent`.
ANALYSIS_EVENT_KINDS = (
    "calibration",  # the start-up protocol reached a stage: detail {"stage", "skipped"?,
    #   "missed"? (the steps a first rep came before), ...}
    "head_direction",  # the head's extension direction became known: {"source", "rep"}
    "rejected",  # a rep candidate that was not a rep: {"end_s", "reason"}
    "revised",  # an earlier rep scored again once the head's direction became known:
    #   {"rep", "technique", "was", "quality", "source"}
    "artefact",  # samples no body segment can make, bridged: {"sensor", "end_s", "samples",
    #   "type" ("spike" or "beyond_bounds"), "gyro_dps", "acc_g"}; or a jolt both straps felt
    #   (not bridged): {"sensor": "both", "end_s", "samples", "type": "jolt", "acc_g",
    #   "head_acc_g"}
)


@dataclass(frozen=True)
class AnalysisEvent:
    """Something the analysis learnt or decided, at session time ``time_s`` (data time)."""

    time_s: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """What the analysis of a session found: the one result every consumer reads (reps CSV,
    replay, the record counter; the live analyzer's :meth:`~analysis.online.OnlineAnalyzer.
    result` is the same thing so far).

    ``records``: the reps in order; ``decided_s``: per rep, the data time at which the
    analysis knew it was over (when live reported it); ``angles[role]``: DataFrame ``time_s``,
    ``angle_deg`` (shin inclination / head pitch, 0 = calibration pose, + = extension; NaN where
    the axis or zero is unknown; zero-phase filtered); ``status``: the analyzer's final status;
    ``events``: calibration stages, head direction, rejected candidates, artefacts, in time
    order.
    """

    records: tuple[Rep, ...] = ()
    decided_s: tuple[float, ...] = ()
    angles: dict[str, pd.DataFrame] = field(default_factory=dict)
    status: AnalyzerStatus = field(default_factory=AnalyzerStatus)
    events: tuple[AnalysisEvent, ...] = ()

    @property
    def reps(self) -> pd.DataFrame:
        """One row per rep, columns ``Rep.columns()`` (the per-rep CSV)."""
        cached = self.__dict__.get("_reps")
        if cached is None:
            import pandas as pd

            cached = pd.DataFrame([r.to_dict() for r in self.records], columns=Rep.columns())
            object.__setattr__(self, "_reps", cached)
        return cached

    def events_frame(self) -> pd.DataFrame:
        """The events as a table: ``time_s, kind, detail``."""
        import pandas as pd

        return pd.DataFrame(
            [(e.time_s, e.kind, e.detail) for e in self.events],
            columns=["time_s", "kind", "detail"],
        )

    def summary(self) -> str:
        """Per-set summary: reps, mean quality, technique, most common flags."""
        return summarise(self.reps)


def summarise(reps: pd.DataFrame) -> str:
    """Reps per set, mean quality, technique and the most common flags, as text."""
    import pandas as pd

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
