"""The local library of sessions: one summary per recording in a folder, kept in a SQLite
catalogue beside them (no network), and adherence to the programme over the weeks.

:class:`Catalogue` scans a folder (``recordings/`` by default) for ``*.flossrec``; a recording
is analysed once (``analysis.session.RepAnalysis``) and its :class:`SessionSummary` stored in
``<folder>/.flossmeter-index.sqlite`` keyed by path, size and modification time, so a later scan
only analyses what is new or changed and forgets what was removed. The catalogue is rebuilt when
it is missing, unreadable or written by another summary version (``SUMMARY_VERSION``).
Definitions of every number: docs/programme.md, "History".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INDEX_NAME = ".flossmeter-index.sqlite"
SUMMARY_VERSION = 1  # bump when a summary's definition changes: every session is summarised again


@dataclass(frozen=True)
class SessionSummary:
    """One recorded session in numbers (NaN where it does not apply; ``error`` if unreadable)."""

    path: str
    size: int
    mtime_ns: int
    participant: str = ""
    start_unix: float = math.nan
    duration_s: float = math.nan
    reps: int = 0
    sets: int = 0
    quality: float = math.nan  # mean of the reps' quality (0–100)
    knee_rom_deg: float = math.nan  # mean knee range of the reps
    head_rom_deg: float = math.nan
    out_s: float = math.nan  # mean glide out
    back_s: float = math.nan
    sparc: float = math.nan  # mean SPARC of the knee
    prescribed_reps: int = 0  # the stored programme's sets × reps_per_set (0: no programme)
    sessions_per_week: int = 0  # the stored programme's (0: none)
    as_prescribed: int = -1  # reps done as prescribed (−1: no programme)
    symptoms_before: float = math.nan  # the first symptom rating (0–10) of the session
    symptoms_after: float = math.nan  # the last one, if there were two or more
    error: str = ""

    @property
    def last_rating(self) -> float:
        """The session's last symptom rating (its only one, if there was one; NaN: none)."""
        return (
            self.symptoms_after
            if self.symptoms_after == self.symptoms_after
            else (self.symptoms_before)
        )

    @property
    def date(self) -> dt.date | None:
        if not math.isfinite(self.start_unix):
            return None
        return dt.datetime.fromtimestamp(self.start_unix, dt.UTC).date()


def _mean(values: Iterable[float]) -> float:
    v = [float(x) for x in values if x == x]
    return sum(v) / len(v) if v else math.nan


def summarise_recording(path: Path) -> SessionSummary:
    """Load and analyse one recording into its summary (an unreadable one: ``error`` set)."""
    from analysis.programme import assess_session, session_log, stored_programme
    from analysis.session import RepAnalysis
    from collector.errors import CollectorError
    from collector.io import load

    st = path.stat()
    base = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        rec = load(path)
        if "shin" not in rec.samples:
            return SessionSummary(**base, error="no shin samples")
        reps = RepAnalysis(angles=False).run(rec.samples).reps_
    except (CollectorError, ValueError) as e:
        return SessionSummary(**base, error=str(e).splitlines()[0])
    meta = rec.meta
    prog = stored_programme(meta)
    log = session_log(rec.events)
    ratings = [float(r) for _, r, _ in log.ratings]
    done = -1
    if prog is not None:
        done = sum(v.as_prescribed for v in assess_session(reps.itertuples(), prog, log))
    return SessionSummary(
        **base,
        participant=str(meta.get("participant") or ""),
        start_unix=float(meta.get("start_unix", math.nan)),
        duration_s=float(rec.duration_s),
        reps=len(reps),
        sets=int(reps["set"].max()) if len(reps) else 0,
        quality=_mean(reps["quality"]),
        knee_rom_deg=_mean(reps["knee_rom_deg"]),
        head_rom_deg=_mean(reps["head_rom_deg"]),
        out_s=_mean(reps["out_s"]),
        back_s=_mean(reps["back_s"]),
        sparc=_mean(reps["sparc"]),
        prescribed_reps=prog.sets * prog.reps_per_set if prog else 0,
        sessions_per_week=prog.sessions_per_week if prog else 0,
        as_prescribed=done,
        symptoms_before=ratings[0] if ratings else math.nan,
        symptoms_after=ratings[-1] if len(ratings) > 1 else math.nan,
    )


_COLUMNS = [f.name for f in fields(SessionSummary)]


class Catalogue:
    """The SQLite catalogue of a folder's recordings (see the module's docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / INDEX_NAME
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        for attempt in (1, 2):
            try:
                db = sqlite3.connect(self.path)
                version = db.execute("PRAGMA user_version").fetchone()[0]
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
                if version == SUMMARY_VERSION and "sessions" in tables:
                    return db
                db.close()
            except sqlite3.DatabaseError:
                pass
            if attempt == 1:  # missing, foreign, corrupt or older: start again
                log.info("rebuilding the session catalogue %s", self.path)
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                db = sqlite3.connect(self.path)
                cols = ", ".join(f"{c} {'TEXT' if c in ('path', 'participant', 'error') else ''}"
                                 for c in _COLUMNS)  # fmt: skip
                db.execute(f"CREATE TABLE sessions ({cols}, PRIMARY KEY (path))")
                db.execute(f"PRAGMA user_version = {SUMMARY_VERSION}")
                db.commit()
                db.close()
        raise sqlite3.DatabaseError(f"{self.path}: cannot create the session catalogue")

    def refresh(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Bring the catalogue up to date with the folder: summarise new and changed
        recordings, forget removed ones. Returns how many were added, updated, removed."""
        files = sorted(p for p in self.folder.rglob("*.flossrec") if p.is_file())
        known = {
            r[0]: (r[1], r[2]) for r in self.db.execute("SELECT path, size, mtime_ns FROM sessions")
        }
        seen, todo = set(), []
        for p in files:
            st = p.stat()
            seen.add(str(p))
            if known.get(str(p)) != (st.st_size, st.st_mtime_ns):
                todo.append(p)
        gone = [p for p in known if p not in seen]
        for k, p in enumerate(todo):
            s = summarise_recording(p)
            self._put(s)
            if progress is not None:
                progress(k + 1, len(todo))
        self.db.executemany("DELETE FROM sessions WHERE path = ?", [(p,) for p in gone])
        self.db.commit()
        added = sum(str(p) not in known for p in todo)
        return {"added": added, "updated": len(todo) - added, "removed": len(gone)}

    def _put(self, s: SessionSummary) -> None:
        values = [_sql(v) for v in asdict(s).values()]
        marks = ", ".join("?" * len(_COLUMNS))
        self.db.execute(f"INSERT OR REPLACE INTO sessions VALUES ({marks})", values)

    def sessions(
        self, participant: str | None = None, since: dt.date | None = None
    ) -> list[SessionSummary]:
        """The catalogued sessions (readable ones), oldest first, optionally one participant's
        and from a date on."""
        where, args = ["error = ''"], []
        if participant is not None:
            where.append("participant = ?")
            args.append(participant)
        if since is not None:
            start = dt.datetime.combine(since, dt.time(), dt.UTC).timestamp()
            where.append("start_unix >= ?")
            args.append(start)
        rows = self.db.execute(
            f"SELECT * FROM sessions WHERE {' AND '.join(where)} ORDER BY start_unix, path", args
        )
        return [_summary(r) for r in rows]

    def failed(self) -> list[SessionSummary]:
        rows = self.db.execute("SELECT * FROM sessions WHERE error != '' ORDER BY path")
        return [_summary(r) for r in rows]

    def close(self) -> None:
        self.db.close()


def _sql(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _summary(row: tuple[Any, ...]) -> SessionSummary:
    """A catalogue row back into a summary (SQL NULL: NaN)."""
    return SessionSummary(*(math.nan if v is None else v for v in row))


@dataclass(frozen=True)
class WeekAdherence:
    """One ISO week of a participant's sessions against the programme."""

    week: str  # "2026-W49"
    sessions: int
    sessions_prescribed: int  # the programme's sessions_per_week (0: no programme)
    reps: int
    reps_prescribed: int  # sessions_prescribed × the programme's reps per session

    def text(self) -> str:
        if not self.sessions_prescribed:
            return f"{self.week}: {self.sessions} sessions, {self.reps} reps (no programme)"
        return (
            f"{self.week}: {self.sessions} of {self.sessions_prescribed} sessions, "
            f"{self.reps} of {self.reps_prescribed} reps"
        )


def adherence(sessions: list[SessionSummary]) -> list[WeekAdherence]:
    """Per ISO week (UTC dates of the sessions' starts): sessions and reps done against the
    latest programme stored in that week's sessions (its sessions per week and reps per
    session). Weeks without a session between the first and the last are listed as 0 done."""
    dated = [s for s in sessions if s.date is not None]
    if not dated:
        return []
    weeks: dict[str, list[SessionSummary]] = {}
    for s in dated:
        y, w, _ = s.date.isocalendar()  # type: ignore[union-attr]
        weeks.setdefault(f"{y}-W{w:02d}", []).append(s)
    first = min(s.date for s in dated)  # type: ignore[type-var]
    last = max(s.date for s in dated)  # type: ignore[type-var]
    out, day = [], first - dt.timedelta(days=first.weekday())  # type: ignore[operator]
    prog_week, prog_reps = 0, 0
    while day <= last:  # type: ignore[operator]
        y, w, _ = day.isocalendar()
        key = f"{y}-W{w:02d}"
        ss = weeks.get(key, [])
        with_prog = [s for s in ss if s.sessions_per_week]
        if with_prog:  # the week's latest prescription carries on into empty weeks
            prog_week, prog_reps = with_prog[-1].sessions_per_week, with_prog[-1].prescribed_reps
        out.append(
            WeekAdherence(
                week=key,
                sessions=len(ss),
                sessions_prescribed=prog_week,
                reps=sum(s.reps for s in ss),
                reps_prescribed=prog_week * prog_reps,
            )
        )
        day += dt.timedelta(days=7)
    return out


def history_table(sessions: list[SessionSummary]) -> str:
    """The sessions as a plain-text table (one line each)."""
    head = (f"{'date':<10} {'participant':<12} {'reps':>4} {'as presc.':>9} {'quality':>7} "
            f"{'knee°':>5} {'head°':>5} {'out s':>5} {'back s':>6} {'SPARC':>6} "
            f"{'symptoms':>9}")  # fmt: skip
    lines = [head]

    def f(x: float, spec: str) -> str:
        return format(x, spec) if x == x else "–"

    for s in sessions:
        presc = f"{s.as_prescribed}/{s.prescribed_reps}" if s.as_prescribed >= 0 else "–"
        symptoms = (f"{f(s.symptoms_before, '.0f')}→{f(s.symptoms_after, '.0f')}"
                    if s.symptoms_before == s.symptoms_before else "–")  # fmt: skip
        lines.append(
            f"{s.date or '?'!s:<10} {s.participant or '-':<12} {s.reps:>4} {presc:>9} "
            f"{f(s.quality, '.0f'):>7} {f(s.knee_rom_deg, '.0f'):>5} {f(s.head_rom_deg, '.0f'):>5} "
            f"{f(s.out_s, '.1f'):>5} {f(s.back_s, '.1f'):>6} {f(s.sparc, '.2f'):>6} "
            f"{symptoms:>9}"
        )
    return "\n".join(lines)
