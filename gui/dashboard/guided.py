"""The guided session (no Qt): a programme's sets and reps, rests, symptom checks and a pacer,
over the session's data time.

The dashboard feeds it the reps the analyzer counts and the data time; it says what to show
(:meth:`GuidedSession.progress_text`, the pacer's target angle, each rep's verdict, the pending
symptom question) and hands back the events a recording stores (``symptom`` ratings and
``programme`` steps and decisions, docs/programme.md).

Phases: ``check`` (a symptom rating is asked: before the first set and after each), ``decide``
(the rating's advice was to reduce the range or stop: the patient chooses), ``set`` (doing set
k: reps are counted into it, the pacer glides), ``rest`` (the rest between sets; the next set
starts when it is over, or earlier when a rep begins), ``done`` (every set done), ``stopped``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.programme import (
    Programme,
    RepVerdict,
    SetSummary,
    SymptomAdvice,
    SymptomCheck,
    assess_rep,
    set_summaries,
)

PACER_PAUSE_S = 1.0  # the ghost rests this long in the slump between glides (never at the top)


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """The minimum-jerk profile 10τ³ − 15τ⁴ + 6τ⁵ (0 → 1 over τ ∈ [0, 1]) [Flash & Hogan 1985]."""
    tau = np.clip(tau, 0.0, 1.0)
    return tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)


@dataclass(frozen=True)
class GuidedEvent:
    """An event for the recording: ``kind`` ``symptom`` or ``programme``."""

    time_s: float
    kind: str
    detail: dict[str, Any]


class GuidedSession:
    """One guided session of ``programme`` (docs/programme.md, "Guided session")."""

    def __init__(self, programme: Programme) -> None:
        self.programme = programme
        self.symptoms = SymptomCheck(programme)
        self.phase = "check"  # before the first set: how are the symptoms now?
        self.set_no = 0  # the set being done (or last done)
        self.set_started_s = math.nan
        self.rest_until_s = math.nan
        self.verdicts: list[RepVerdict] = []
        self._counted: dict[int, int] = {}  # analyzer rep number → guided set (0: none)
        self._reps: dict[int, Any] = {}  # rep number → the analyzer's record, as last assessed
        self._cap_at: dict[int, float | None] = {}  # rep → the cap in force when it was done
        self._advice: SymptomAdvice | None = None
        self.events: list[GuidedEvent] = []  # not yet taken (:meth:`take_events`)
        self.log: list[GuidedEvent] = []  # all of them

    # -- what the patient does ---------------------------------------------------------------

    def rate(self, rating: int, now_s: float, note: str = "") -> SymptomAdvice:
        """The symptom rating asked for (phase ``check``): returns the programme's advice."""
        if self.phase != "check":
            raise ValueError(f"no symptom rating is asked for now (phase {self.phase})")
        after = self.set_no if self.set_no > 0 else None
        roms = (
            [self._reps[v.rep].knee_rom_deg for v in self.verdicts_of(self.set_no)] if after else []
        )
        advice = self.symptoms.rate(rating, after_set=after, knee_rom_deg=roms)
        detail = {"rating": rating, "set": self.set_no, "note": note.strip(),
                  "advice": advice.action, "text": advice.text}  # fmt: skip
        self._emit(now_s, "symptom", detail)
        self._advice = advice
        if advice.action == "continue":
            self._after_check(now_s)
        else:
            self.phase = "decide"
        return advice

    def decide(self, action: str, now_s: float) -> None:
        """What the patient chose on advice to reduce or stop: ``reduce``, ``stop`` or
        ``continue``."""
        if self.phase != "decide" or self._advice is None:
            raise ValueError(f"nothing to decide now (phase {self.phase})")
        detail = self.symptoms.decide(self._advice, action)
        self._emit(now_s, "programme", {"what": "decision", **detail})
        if action == "stop":
            self.phase = "stopped"
            self._emit(now_s, "programme", {"what": "stopped", "sets_done": self.set_no})
        else:
            self._after_check(now_s)

    # -- what the analysis says --------------------------------------------------------------

    def on_reps(self, reps: list[Any], now_s: float) -> list[RepVerdict]:
        """The analyzer's reps so far (all of them; earlier ones may have been scored again):
        new reps count into the current set; returns the verdicts of the new ones."""
        new = []
        for rep in reps:
            if rep.rep in self._counted:
                continue
            if self.phase == "rest" and rep.start_s >= self.set_started_s:
                self._start_set(min(now_s, rep.start_s))  # began before the rest was over
            if self.phase != "set":
                self._counted[rep.rep] = 0  # not part of a set (before, between, after)
                continue
            self._counted[rep.rep] = self.set_no
            self._cap_at[rep.rep] = self.symptoms.cap_deg
            v = self._assess(rep)
            self.verdicts.append(v)
            new.append(v)
            if len(self.verdicts_of(self.set_no)) >= self.programme.reps_per_set:
                self._set_done(now_s)
        # earlier reps scored again (the technique learnt later; a new record): verdicts follow
        by_rep = {r.rep: r for r in reps}
        self.verdicts = [
            self._assess(by_rep[v.rep])
            if v.rep in by_rep and by_rep[v.rep] is not self._reps[v.rep]
            else v
            for v in self.verdicts
        ]
        return new

    def _assess(self, rep: Any) -> RepVerdict:
        """A counted rep against the programme, with the cap in force when it was done."""
        self._reps[rep.rep] = rep
        v = assess_rep(rep, self.programme, cap_deg=self._cap_at[rep.rep])
        return RepVerdict(v.rep, self._counted[rep.rep], v.as_prescribed, v.reasons, v.details)

    def tick(self, now_s: float) -> None:
        """Data time moves on: a rest that is over starts the next set."""
        if self.phase == "rest" and now_s >= self.rest_until_s:
            self._start_set(self.rest_until_s)

    # -- what to show ------------------------------------------------------------------------

    def progress_text(self, now_s: float) -> str:
        p = self.programme
        if self.phase == "check":
            when = "before the first set" if self.set_no == 0 else f"after set {self.set_no}"
            return f"How are your symptoms {when}? (0–10)"
        if self.phase == "decide":
            return self._advice.text if self._advice is not None else ""
        if self.phase == "set":
            n = len(self.verdicts_of(self.set_no))
            return f"set {self.set_no} of {p.sets} · rep {min(n + 1, p.reps_per_set)} of " \
                f"{p.reps_per_set}"  # fmt: skip
        if self.phase == "rest":
            left = max(0.0, self.rest_until_s - now_s)
            return f"rest {int(left // 60)}:{int(left % 60):02d} · then set {self.set_no + 1} of " \
                f"{p.sets}"  # fmt: skip
        done = sum(v.as_prescribed for v in self.verdicts)
        head = "Done" if self.phase == "done" else f"Stopped after set {self.set_no}"
        return f"{head}: {len(self.verdicts)} reps, {done} as prescribed"

    def pacer_deg(self, t: np.ndarray) -> np.ndarray:
        """The ghost glide's knee angle (deg) at data times ``t``: from each set's start, a
        pause in the slump, out over ``tempo.out_s`` to the aim, straight back over
        ``tempo.back_s`` (minimum-jerk, never held); NaN outside a set."""
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, np.nan)
        if self.phase != "set" or not math.isfinite(self.set_started_s):
            return out
        tempo = self.programme.tempo
        cycle = PACER_PAUSE_S + tempo.out_s + tempo.back_s
        u = np.mod(t - self.set_started_s, cycle) - PACER_PAUSE_S
        live = t >= self.set_started_s
        going = min_jerk(u / tempo.out_s)
        coming = 1.0 - min_jerk((u - tempo.out_s) / tempo.back_s)
        shape = np.where(u < 0, 0.0, np.where(u < tempo.out_s, going, coming))
        out[live] = self.aim_deg * shape[live]
        return out

    def glide_starts(self, t0: float, t1: float) -> list[float]:
        """Data times in (t0, t1] at which the pacer's glide out or back begins (the audio
        tick's times)."""
        if self.phase != "set" or not math.isfinite(self.set_started_s) or t1 <= t0:
            return []
        tempo = self.programme.tempo
        cycle = PACER_PAUSE_S + tempo.out_s + tempo.back_s
        start = self.set_started_s + PACER_PAUSE_S
        out = []
        k = max(0, math.floor((t0 - start) / cycle))
        while start + k * cycle <= t1:
            for t in (start + k * cycle, start + k * cycle + tempo.out_s):
                if t0 < t <= t1:
                    out.append(t)
            k += 1
        return out

    @property
    def aim_deg(self) -> float:
        """How far the ghost glides: the target, or the cap when one lies below it."""
        return self.symptoms.target_deg

    @property
    def cap_deg(self) -> float | None:
        return self.symptoms.cap_deg

    @property
    def pending_advice(self) -> SymptomAdvice | None:
        return self._advice if self.phase == "decide" else None

    def verdict_of(self, rep_no: int) -> RepVerdict | None:
        return next((v for v in self.verdicts if v.rep == rep_no), None)

    def verdicts_of(self, set_no: int) -> list[RepVerdict]:
        return [v for v in self.verdicts if v.set == set_no]

    def summaries(self) -> list[SetSummary]:
        return set_summaries(self.verdicts, self.programme)

    def take_events(self) -> list[GuidedEvent]:
        out, self.events = self.events, []
        return out

    # -- internals ---------------------------------------------------------------------------

    def _emit(self, t: float, kind: str, detail: dict[str, Any]) -> None:
        e = GuidedEvent(float(t), kind, detail)
        self.events.append(e)
        self.log.append(e)

    def _after_check(self, now_s: float) -> None:
        if self.set_no >= self.programme.sets:
            self.phase = "done"
            self._emit(now_s, "programme", {"what": "done", "sets_done": self.set_no})
        elif self.set_no == 0:
            self._start_set(now_s)
        else:
            self.phase = "rest"
            self.rest_until_s = now_s + self.programme.rest_between_sets_s
            self.set_started_s = now_s  # reps that begin after this count into the next set

    def _start_set(self, t: float) -> None:
        self.set_no += 1
        self.phase = "set"
        self.set_started_s = float(t)
        detail = {"what": "set_start", "set": self.set_no, "cap_deg": self.symptoms.cap_deg,
                  "aim_deg": self.aim_deg}  # fmt: skip
        self._emit(t, "programme", detail)

    def _set_done(self, now_s: float) -> None:
        s = set_summaries([v for v in self.verdicts if v.set == self.set_no], self.programme)[0]
        self._emit(now_s, "programme", {"what": "set_done", "set": self.set_no,
                                        "reps": s.reps_done, "as_prescribed": s.as_prescribed,
                                        "reasons": s.reasons, "text": s.text()})  # fmt: skip
        self.phase = "check"
