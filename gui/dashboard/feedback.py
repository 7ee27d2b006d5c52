"""What the dashboard says about a rep and the calibration: texts and tones, no numbers made here.

Everything shown comes from the analysis (:class:`analysis.results.Rep` and
:class:`analysis.results.AnalyzerStatus`); this module only words it for a patient and a
physiotherapist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from analysis.results import AnalyzerStatus, Rep

Tone = Literal["good", "fair", "poor", "neutral"]

#: Score bands for the colour of the quality score (presentation only).
GOOD_SCORE, FAIR_SCORE = 80.0, 60.0

#: Flag → plain-language advice, most important first. ``{hold_s}`` etc. are Rep fields.
FLAG_ADVICE: dict[str, str] = {
    "head_missing": "head strap not seen: check it is on and connected",
    "head_direction_unknown": "look up to the ceiling and back once, so the head strap knows "
    "which way is up (slider or tensioner)",
    "partial": "partial range: straighten the knee further",
    "held": "held {hold_s:.0f} s at end range — keep gliding",
    "too_fast": "too fast: take 2–3 s each way",
    "too_slow": "too slow: 2–3 s each way is enough",
    "halting": "halting: one smooth glide, no stops on the way",
    "head_not_coordinated": "head not moving with the knee",
    "no_look_up": "look up at end range, then come back",
}
TENSIONER_ADVICE = "tensioner: the head went down as the knee straightened — lift it for a slider"
GOOD_ADVICE = "smooth glide — keep this pace"


def _num(value: float, fmt: str, unit: str = "") -> str:
    """``value`` formatted, or an en dash when it is missing (NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:{fmt}}{unit}"


def score_tone(quality: float) -> Tone:
    """The colour band of a 0–100 quality score."""
    if not math.isfinite(quality):
        return "neutral"
    if quality >= GOOD_SCORE:
        return "good"
    return "fair" if quality >= FAIR_SCORE else "poor"


def advice(rep: Rep, has_head: bool = True) -> list[str]:
    """Plain-language feedback for one rep, most important first (at least one line).
    Without a head strap in the session, ``head_missing`` is expected and not advice."""
    lines = []
    order = list(FLAG_ADVICE)
    flags = [f for f in rep.flags if has_head or f != "head_missing"]
    for flag in sorted(flags, key=lambda f: order.index(f) if f in order else len(order)):
        template = FLAG_ADVICE.get(flag)
        if template is None:
            lines.append(flag.replace("_", " "))
            continue
        hold = rep.hold_s if math.isfinite(rep.hold_s) else 0.0
        lines.append(template.format(hold_s=max(hold, 1.0)))
    if rep.technique == "tensioner":
        lines.append(TENSIONER_ADVICE)
    return lines or [GOOD_ADVICE]


@dataclass(frozen=True)
class RepCard:
    """The last rep's quality card, as texts."""

    title: str  # "Rep 4 · set 1"
    score: str  # "86"
    tone: Tone
    technique: str  # "slider"
    tempo: str  # "out 2.4 s · back 2.6 s"
    range: str  # "knee 78° · head 31°"
    smoothness: str  # "SPARC −1.62 · LDLJ −6.1"
    hold: str  # "hold 0.3 s"
    advice: tuple[str, ...]


def rep_card(rep: Rep, has_head: bool = True) -> RepCard:
    """Word the metrics of ``rep`` for the quality card (``has_head``: the session has a head
    strap)."""
    sparc = _num(rep.sparc, ".2f").replace("-", "−")
    ldlj = _num(rep.ldlj, ".1f").replace("-", "−")
    return RepCard(
        title=f"Rep {rep.rep} · set {rep.set}",
        score=_num(rep.quality, ".0f"),
        tone=score_tone(rep.quality),
        technique=rep.technique,
        tempo=f"out {_num(rep.out_s, '.1f', ' s')} · back {_num(rep.back_s, '.1f', ' s')}",
        range=f"knee {_num(rep.knee_rom_deg, '.0f', '°')} · "
        f"head {_num(rep.head_rom_deg, '.0f', '°')}",
        smoothness=f"SPARC {sparc} · LDLJ {ldlj}",
        hold=f"hold {_num(rep.hold_s, '.1f', ' s')}",
        advice=tuple(advice(rep, has_head)),
    )


@dataclass(frozen=True)
class CounterText:
    """The big rep counter."""

    reps: str
    detail: str  # "set 2 · rep 3 of this set"


def counter_text(reps: list[Rep], status: AnalyzerStatus) -> CounterText:
    """The counter: reps so far and the set they belong to."""
    n = max(len(reps), status.reps)
    current_set = max(status.set, reps[-1].set if reps else 0)
    if current_set == 0:
        return CounterText(str(n), "no set yet")
    in_set = sum(1 for r in reps if r.set == current_set)
    return CounterText(str(n), f"set {current_set} · {in_set} in this set")


#: Calibration steps in order, as the prompt shows them.
CALIBRATION_STEPS = ("hold_still", "look_up", "calibrated")
STEP_LABELS = {"hold_still": "sit still", "look_up": "look up", "calibrated": "begin"}


@dataclass(frozen=True)
class Prompt:
    """The calibration prompt: what to do now, and how far the start-up has come."""

    stage: str
    title: str
    text: str
    tone: Tone
    step: int  # index into CALIBRATION_STEPS of the current step; -1 while waiting
    done: bool  # calibrated
    skipped: tuple[str, ...] = ()  # steps that do not apply (the look-up without a head strap)
    missed: tuple[str, ...] = ()  # steps the first rep came before (counting went on)


def calibration_prompt(
    status: AnalyzerStatus, *, has_data: bool = True, has_head: bool = True, analysing: bool = False
) -> Prompt:
    """The prompt for the analyzer's calibration stage (and its notes); without a head strap
    the look-up step is skipped; ``analysing``: a replayed recording's analysis is still running."""
    stage = status.calibration
    if analysing:
        return Prompt("waiting", "Analysing the recording", "Reps, angles and calibration appear "
                      "here as soon as it is done; the signals play meanwhile.", "neutral", -1,
                      False)  # fmt: skip
    if stage == "waiting" or not has_data:
        return Prompt("waiting", "Waiting for the straps", "Switch the straps on and put them "
                      "on: one on the shin, one on the head.", "neutral", -1, False)  # fmt: skip
    skipped = () if has_head else ("look_up",)
    if stage == "hold_still":
        text = "Sit upright and still, looking straight ahead."
        return Prompt(stage, "Calibrating: sit still", text, "fair", 0, False, skipped)
    if stage == "look_up":
        text = "Look up to the ceiling, then back ahead."
        return Prompt(stage, "Calibrating: look up", text, "fair", 1, False)
    text = "Get into the start position (slumped, chin down, knee bent) and begin."
    missed = tuple(m for m in status.calibration_missed if m not in skipped)
    if status.reps > 0:
        text = "Calibrated."
        if "hold_still" in missed:
            text = "Counting without calibration: angles start from the rest before the first rep."
        elif missed:
            text = "Counting; the look-up was not done."
    if has_head and status.head_sign_source == "unknown" and status.reps > 0:
        text += " Head direction not known yet: look up at end range."
    if status.notes:
        text += " " + status.notes[-1]
    title = "Ready" if not missed else "Counting"
    return Prompt(stage, title, text, "good", 2, True, skipped, missed)
