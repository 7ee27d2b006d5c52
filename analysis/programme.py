"""The home programme: what a clinician prescribed, as a small TOML file (docs/programme.md).

A programme says which leg and technique, how many sets of how many reps with what rest, the
tempo of each glide, the knee range to reach (and, optionally, not to go beyond), how many
sessions a week, and when symptoms mean "reduce the range or stop" — the exercise sheet's rule:
"if doing this movement causes your symptoms to start or increase, then either reduce the range
of movement you are moving, or stop".

:func:`load_programme` reads and validates a file (every problem is one line naming the file
and the key); :meth:`Programme.to_toml` writes one back; :meth:`Programme.to_dict` is what a
recording stores in its metadata, so a session always says what was prescribed.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from analysis.errors import AnalysisError

#: The schema's version, stored in every programme dict (recordings keep it).
SCHEMA_VERSION = 1


class ProgrammeError(AnalysisError):
    """A programme file that cannot be used, said in one line (file, key, what is wrong)."""


@dataclass(frozen=True)
class Tempo:
    """Seconds each glide should take, and how far off still counts as prescribed."""

    out_s: float = 2.5  # straightening the knee (and lifting the head, for a slider)
    back_s: float = 2.5  # returning to the slump
    tolerance_s: float = 1.0  # a glide off by more than this is not as prescribed


@dataclass(frozen=True)
class RangeRule:
    """Knee range (deg, from the slumped start) to reach, and optionally not to exceed."""

    knee_target_deg: float = 50.0  # reach at least this (a shorter rep is "range below target")
    knee_cap_deg: float | None = None  # do not go beyond this; a symptom rise lowers it
    cap_step_deg: float = 10.0  # how much a symptom rise lowers the cap (or sets one)


@dataclass(frozen=True)
class SymptomRule:
    """When symptoms (0–10: tingling, pain, numbness) mean reduce the range or stop."""

    stop_above: int = 5  # a rating above this: stop for today
    max_rise: int = 2  # a rise of at least this from the rating before the first set: reduce


@dataclass(frozen=True)
class Programme:
    """One prescription (docs/programme.md); every field has a default a clinician can keep."""

    leg: str = "right"  # "left" or "right"
    technique: str = "slider"  # "slider" or "tensioner"
    sets: int = 3
    reps_per_set: int = 10
    rest_between_sets_s: float = 60.0
    sessions_per_week: int = 7
    tempo: Tempo = field(default_factory=Tempo)
    range: RangeRule = field(default_factory=RangeRule)
    symptoms: SymptomRule = field(default_factory=SymptomRule)
    name: str = ""  # e.g. "week 1–2, slider"
    prescribed_by: str = ""  # clinician's initials or role, never a patient's name
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The programme as plain JSON-able values (a recording's ``programme`` metadata)."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "programme") -> Programme:
        """Validate ``d`` (a parsed TOML file or a recording's metadata); one-line
        :class:`ProgrammeError` naming ``source`` and the key otherwise."""
        return _parse(d, source)

    def to_toml(self) -> str:
        """The programme as a commented TOML file that :func:`load_programme` reads back."""
        cap = self.range.knee_cap_deg
        lines = [
            "# flossmeter home programme (schema: docs/programme.md)",
            f"name = {_toml_str(self.name)}",
            f"prescribed_by = {_toml_str(self.prescribed_by)}  # initials or role, no names",
            f"leg = {_toml_str(self.leg)}  # left | right",
            f"technique = {_toml_str(self.technique)}  # slider | tensioner",
            f"sets = {self.sets}",
            f"reps_per_set = {self.reps_per_set}",
            f"rest_between_sets_s = {_num(self.rest_between_sets_s)}",
            f"sessions_per_week = {self.sessions_per_week}",
            f"notes = {_toml_str(self.notes)}",
            "",
            "[tempo]  # seconds per glide",
            f"out_s = {_num(self.tempo.out_s)}",
            f"back_s = {_num(self.tempo.back_s)}",
            f"tolerance_s = {_num(self.tempo.tolerance_s)}  # off by more: not as prescribed",
            "",
            "[range]  # knee range from the slumped start, degrees",
            f"knee_target_deg = {_num(self.range.knee_target_deg)}",
            (f"knee_cap_deg = {_num(cap)}" if cap is not None else "# knee_cap_deg = 70")
            + "  # optional: not beyond this",
            f"cap_step_deg = {_num(self.range.cap_step_deg)}  # a symptom rise lowers the cap",
            "",
            "[symptoms]  # ratings 0-10 (tingling, pain, numbness)",
            f"stop_above = {self.symptoms.stop_above}  # a rating above this: stop",
            f"max_rise = {self.symptoms.max_rise}  # a rise this big: reduce the range or stop",
            "",
        ]
        return "\n".join(lines)

    def summary(self) -> str:
        """A few lines a patient or clinician reads."""
        t, r, s = self.tempo, self.range, self.symptoms
        cap = f", at most {_num(r.knee_cap_deg)}°" if r.knee_cap_deg is not None else ""
        head = f"{self.name}: " if self.name else ""
        by = f" (prescribed by {self.prescribed_by})" if self.prescribed_by else ""
        lines = [
            f"{head}{self.technique}, {self.leg} leg{by}",
            f"  {self.sets} sets × {self.reps_per_set} reps, "
            f"{_num(self.rest_between_sets_s)} s rest between sets, "
            f"{self.sessions_per_week} sessions a week",
            f"  tempo: {_num(t.out_s)} s out, {_num(t.back_s)} s back (± {_num(t.tolerance_s)} s)",
            f"  knee range: at least {_num(r.knee_target_deg)}°{cap}",
            f"  symptoms: stop above {s.stop_above}/10; a rise of {s.max_rise} points: "
            f"lower the range by {_num(r.cap_step_deg)}° or stop",
        ]
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)

    def with_cap(self, cap_deg: float) -> Programme:
        """The same programme with the knee range capped at ``cap_deg``."""
        return replace(self, range=replace(self.range, knee_cap_deg=float(cap_deg)))


def load_programme(path: str | Path) -> Programme:
    """Read and validate a programme file; :class:`ProgrammeError` (one line) otherwise."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgrammeError(f"{p}: no such programme file") from None
    except IsADirectoryError:
        raise ProgrammeError(f"{p}: is a folder, not a programme file") from None
    except UnicodeDecodeError:
        raise ProgrammeError(f"{p}: not a text file (a programme is TOML text)") from None
    except OSError as e:
        raise ProgrammeError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProgrammeError(f"{p}: not valid TOML: {e}") from None
    return _parse(data, str(p))


# -- validation ------------------------------------------------------------------------------

#: Allowed ranges of the numbers (inclusive), with why: a seated slider takes 1–10 s a glide,
#: the knee extends ≤ 90° from the slump, a day has at most 3 sessions.
LIMITS: dict[str, tuple[float, float]] = {
    "sets": (1, 20),
    "reps_per_set": (1, 50),
    "rest_between_sets_s": (0, 900),
    "sessions_per_week": (1, 21),
    "tempo.out_s": (0.5, 15),
    "tempo.back_s": (0.5, 15),
    "tempo.tolerance_s": (0.1, 10),
    "range.knee_target_deg": (5, 120),
    "range.knee_cap_deg": (5, 120),
    "range.cap_step_deg": (1, 60),
    "symptoms.stop_above": (0, 10),
    "symptoms.max_rise": (1, 10),
}
#: The texts a field may hold, for the fields that hold one of a few.
CHOICES = {"leg": ("left", "right"), "technique": ("slider", "tensioner")}
_SECTIONS = {"tempo": Tempo, "range": RangeRule, "symptoms": SymptomRule}


def _parse(d: dict[str, Any], source: str) -> Programme:
    if not isinstance(d, dict):
        raise ProgrammeError(f"{source}: a programme is a table of keys, not {type(d).__name__}")
    d = dict(d)
    version = d.pop("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ProgrammeError(
            f"{source}: schema_version {version!r} is not supported (this version reads "
            f"{SCHEMA_VERSION})"
        )
    top = {f.name: f for f in fields(Programme)}
    _unknown(d, top, source, "")
    kw: dict[str, Any] = {}
    for name, value in d.items():
        if name in _SECTIONS:
            kw[name] = _section(name, value, source)
        else:
            kw[name] = _value(name, value, top[name].type, source)
    prog = Programme(**kw)
    r = prog.range
    if r.knee_cap_deg is not None and r.knee_cap_deg < r.knee_target_deg:
        raise ProgrammeError(
            f"{source}: range.knee_cap_deg ({_num(r.knee_cap_deg)}) is below "
            f"range.knee_target_deg ({_num(r.knee_target_deg)}): the target could never be met"
        )
    return prog


def _section(name: str, value: Any, source: str) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(value, dict):
        raise ProgrammeError(f"{source}: [{name}] must be a table (a [{name}] section)")
    known = {f.name: f for f in fields(cls)}
    _unknown(value, known, source, f"{name}.")
    return cls(**{k: _value(f"{name}.{k}", v, known[k].type, source) for k, v in value.items()})


def _unknown(d: dict[str, Any], known: dict[str, Any], source: str, prefix: str) -> None:
    for key in d:
        if key not in known:
            close = [k for k in known if key in k] or difflib.get_close_matches(
                key, list(known), n=1
            )
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ProgrammeError(f"{source}: unknown key {prefix}{key}{hint}")


def _value(key: str, value: Any, type_: Any, source: str) -> Any:
    """Check one value against its field's type (as a string annotation) and limits."""
    t = str(type_)
    base = key.rpartition(".")[2]
    if value is None and "None" in t:  # optional (a recording's metadata stores null)
        return None
    if base in CHOICES:
        if value not in CHOICES[base]:
            raise ProgrammeError(
                f"{source}: {key} must be one of {', '.join(CHOICES[base])}, not {value!r}"
            )
        return value
    if t == "str":
        if not isinstance(value, str):
            raise ProgrammeError(f"{source}: {key} must be text in quotes, not {value!r}")
        if len(value) > 200:
            raise ProgrammeError(f"{source}: {key} is longer than 200 characters")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProgrammeError(f"{source}: {key} must be a number, not {value!r}")
    if t == "int" and not float(value).is_integer():
        raise ProgrammeError(f"{source}: {key} must be a whole number, not {value!r}")
    if not math.isfinite(value):
        raise ProgrammeError(f"{source}: {key} must be a finite number, not {value!r}")
    lo, hi = LIMITS[key]
    if not lo <= value <= hi:
        raise ProgrammeError(f"{source}: {key} = {_num(value)} is outside {_num(lo)}–{_num(hi)}")
    return int(value) if t == "int" else float(value)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# -- reps against the prescription -------------------------------------------------------------

#: Why a rep was not done as prescribed: code → what it means (the reasons' order).
REASONS: dict[str, str] = {
    "out_too_fast": "the glide out was quicker than prescribed",
    "out_too_slow": "the glide out was slower than prescribed",
    "back_too_fast": "the glide back was quicker than prescribed",
    "back_too_slow": "the glide back was slower than prescribed",
    "range_below_target": "the knee did not reach the target range",
    "range_above_cap": "the knee went beyond the range cap",
    "held": "held at end range (the glide should never stop)",
    "wrong_technique": "the other technique than prescribed",
}


@dataclass(frozen=True)
class RepVerdict:
    """Was one rep done as prescribed, and if not, why (codes of :data:`REASONS`, with the
    numbers in words)."""

    rep: int
    set: int
    as_prescribed: bool
    reasons: tuple[str, ...]
    details: tuple[str, ...]  # one plain sentence per reason, with the numbers

    def text(self) -> str:
        return "as prescribed" if self.as_prescribed else "; ".join(self.details)


def assess_rep(rep: Any, programme: Programme, cap_deg: float | None = None) -> RepVerdict:
    """Check a rep (``analysis.results.Rep`` or a reps-table row with its fields) against the
    programme: each glide within ``tempo.tolerance_s`` of its prescribed time, the knee range
    (``knee_rom_deg``) at least the target and at most the cap (``cap_deg``, the session's
    current cap, else the programme's), not held (its ``held`` flag), and the technique
    prescribed (a rep whose technique could not be told is not failed for it)."""
    t, r = programme.tempo, programme.range
    cap = r.knee_cap_deg if cap_deg is None else cap_deg
    reasons: list[tuple[str, str]] = []
    for side, measured, want in (("out", rep.out_s, t.out_s), ("back", rep.back_s, t.back_s)):
        if not math.isfinite(measured):
            continue
        what = f"{side} in {measured:.1f} s (prescribed {want:g} ± {t.tolerance_s:g} s)"
        if measured < want - t.tolerance_s:
            reasons.append((f"{side}_too_fast", what))
        elif measured > want + t.tolerance_s:
            reasons.append((f"{side}_too_slow", what))
    rom = rep.knee_rom_deg
    if math.isfinite(rom) and rom < r.knee_target_deg:
        reasons.append(("range_below_target", f"knee {rom:.0f}° (target {r.knee_target_deg:g}°)"))
    if cap is not None and math.isfinite(rom) and rom > cap:
        reasons.append(("range_above_cap", f"knee {rom:.0f}° (cap {cap:g}°)"))
    flags = rep.flags.split(";") if isinstance(rep.flags, str) else tuple(rep.flags)
    if "held" in flags:
        reasons.append(("held", f"held {rep.hold_s:.1f} s at end range"))
    if rep.technique in ("slider", "tensioner") and rep.technique != programme.technique:
        reasons.append(("wrong_technique", f"a {rep.technique}, not a {programme.technique}"))
    order = list(REASONS)
    reasons.sort(key=lambda x: order.index(x[0]))
    return RepVerdict(
        rep=int(rep.rep),
        set=int(rep.set),
        as_prescribed=not reasons,
        reasons=tuple(code for code, _ in reasons),
        details=tuple(text for _, text in reasons),
    )


@dataclass(frozen=True)
class SetSummary:
    """One set against the programme."""

    set: int
    reps_done: int
    reps_prescribed: int
    as_prescribed: int
    reasons: dict[str, int]  # how many reps failed for each reason

    def text(self) -> str:
        why = ", ".join(f"{REASONS[k].split(' (')[0]} ({n})" for k, n in self.reasons.items())
        return (
            f"set {self.set}: {self.reps_done} of {self.reps_prescribed} reps, "
            f"{self.as_prescribed} as prescribed" + (f"; {why}" if why else "")
        )


def set_summaries(verdicts: list[RepVerdict], programme: Programme) -> list[SetSummary]:
    """Per set: reps done of those prescribed, how many as prescribed, and why not."""
    out = []
    for s in sorted({v.set for v in verdicts}):
        vs = [v for v in verdicts if v.set == s]
        counts: dict[str, int] = {}
        for v in vs:
            for code in v.reasons:
                counts[code] = counts.get(code, 0) + 1
        order = list(REASONS)
        out.append(
            SetSummary(
                set=s,
                reps_done=len(vs),
                reps_prescribed=programme.reps_per_set,
                as_prescribed=sum(v.as_prescribed for v in vs),
                reasons=dict(sorted(counts.items(), key=lambda kv: order.index(kv[0]))),
            )
        )
    return out


# -- symptoms ----------------------------------------------------------------------------------

#: The lowest cap a symptom rise may set (deg): below it there is no glide left to do.
MIN_CAP_DEG = 5.0


@dataclass(frozen=True)
class SymptomAdvice:
    """What the programme's symptom rule says after a rating: ``continue``, ``reduce`` (the
    range: ``cap_deg`` is the proposed knee cap) or ``stop``, in plain words."""

    action: str
    text: str
    rating: int
    baseline: int
    cap_deg: float | None = None


class SymptomCheck:
    """The session's symptom ratings (0–10) against the programme's rule.

    The first rating (before the first set) is the baseline. After each set: a rating above
    ``symptoms.stop_above`` says stop; a rise of ``symptoms.max_rise`` or more from the baseline
    says, as the exercise sheet does, reduce the range or stop — the proposed cap is the current
    cap (else the largest knee range of the set just done) lowered by ``range.cap_step_deg``.
    What was decided is recorded with :meth:`decide`; a lowered cap is then the session's
    :attr:`cap_deg` (and its effective target is at most that cap)."""

    def __init__(self, programme: Programme) -> None:
        self.programme = programme
        self.cap_deg: float | None = programme.range.knee_cap_deg
        self.baseline: int | None = None
        self.ratings: list[tuple[int | None, int]] = []  # (after set n or None: before, rating)
        self.decisions: list[tuple[str, float | None]] = []

    @property
    def target_deg(self) -> float:
        """The knee range to reach now: the programme's, or the cap if a cap came below it."""
        t = self.programme.range.knee_target_deg
        return min(t, self.cap_deg) if self.cap_deg is not None else t

    def rate(
        self, rating: int, after_set: int | None = None, knee_rom_deg: list[float] | None = None
    ) -> SymptomAdvice:
        """Take a rating (``after_set``: the set just done, None before the first) and the knee
        ranges of that set's reps; return the rule's advice."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 10:
            raise ProgrammeError(f"a symptom rating is a whole number 0–10, not {rating!r}")
        self.ratings.append((after_set, rating))
        if self.baseline is None:
            self.baseline = rating
        s, base = self.programme.symptoms, self.baseline
        if rating > s.stop_above:
            return SymptomAdvice(
                "stop",
                f"Your symptoms are {rating}/10, above the {s.stop_above} your programme "
                "allows: stop for today, and tell your clinician.",
                rating,
                base,
            )
        if after_set is not None and rating - base >= s.max_rise:
            cap = self._lowered(knee_rom_deg or [])
            return SymptomAdvice(
                "reduce",
                f"Your symptoms rose from {base} to {rating}/10. Reduce the range: straighten "
                f"the knee at most {cap:g}° from now on — or stop if they keep rising.",
                rating,
                base,
                cap,
            )
        since = f" (started at {base})" if after_set is not None else ""
        return SymptomAdvice("continue", f"Symptoms {rating}/10{since}: carry on.", rating, base)

    def _lowered(self, knee_rom_deg: list[float]) -> float:
        step = self.programme.range.cap_step_deg
        reached = [x for x in knee_rom_deg if math.isfinite(x)]
        start = self.cap_deg if self.cap_deg is not None else (max(reached) if reached else None)
        if start is None:  # nothing measured yet: from the target
            start = self.programme.range.knee_target_deg
        return float(max(MIN_CAP_DEG, round(start - step)))

    def decide(self, advice: SymptomAdvice, action: str | None = None) -> dict[str, Any]:
        """Record what was decided on ``advice`` (its own action unless ``action`` overrides:
        ``continue``, ``reduce`` or ``stop``); a reduction applies its cap. Returns the
        decision as a recording event's detail."""
        action = action or advice.action
        if action not in ("continue", "reduce", "stop"):
            raise ProgrammeError(f"a decision is continue, reduce or stop, not {action!r}")
        if action == "reduce":
            cap = advice.cap_deg if advice.cap_deg is not None else self._lowered([])
            self.cap_deg = cap
        self.decisions.append((action, self.cap_deg))
        return {
            "decision": action,
            "advised": advice.action,
            "rating": advice.rating,
            "baseline": advice.baseline,
            "cap_deg": self.cap_deg,
        }


# -- what a recorded session says about its programme -----------------------------------------


@dataclass(frozen=True)
class SessionLog:
    """A recorded session's symptom ratings ``(time s, 0–10, note)`` and decisions on them
    ``(time s, decision, cap deg or None)``, in time order (its ``symptom`` and ``programme``
    events)."""

    ratings: tuple[tuple[float, int, str], ...]
    decisions: tuple[tuple[float, str, float | None], ...]

    def cap_at(self, programme: Programme, t_s: float) -> float | None:
        """The knee cap in force at session time ``t_s``: the last decision's before it, else
        the programme's."""
        cap = programme.range.knee_cap_deg
        for t, _, c in self.decisions:
            if t <= t_s:
                cap = c
        return cap


def session_log(events: Any) -> SessionLog:
    """The :class:`SessionLog` of a recording's events table (``time_s, kind, detail``)."""
    ratings, decisions = [], []
    rows = (
        zip(events["time_s"], events["kind"], events["detail"], strict=True) if len(events) else ()
    )
    for t, kind, detail in rows:
        if not isinstance(detail, dict):
            continue
        if kind == "symptom" and "rating" in detail:
            ratings.append((float(t), int(detail["rating"]), str(detail.get("note", ""))))
        elif kind == "programme" and detail.get("what") == "decision":
            decisions.append((float(t), str(detail.get("decision")), detail.get("cap_deg")))
    return SessionLog(tuple(ratings), tuple(decisions))


def assess_session(reps: Iterable[Any], programme: Programme, log: SessionLog) -> list[RepVerdict]:
    """Every rep of a recorded session against the programme, each with the cap in force when
    it began."""
    return [assess_rep(r, programme, log.cap_at(programme, r.start_s)) for r in reps]


def stored_programme(meta: dict[str, Any]) -> Programme | None:
    """The programme a recording's metadata stores, if a valid one (else None)."""
    if not isinstance(meta.get("programme"), dict):
        return None
    try:
        return Programme.from_dict(meta["programme"])
    except ProgrammeError:
        return None
