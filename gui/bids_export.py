"""BIDS-Motion for the command line: export sessions with their analysed reps as events, and
read BIDS input with an explicit strap map (``--map``).

The files are written and read by :mod:`collector.bids`; this module adds what the collector
may not know: the reps (``analysis.session.RepAnalysis``) and their data dictionary
(``analysis.dictionary``), which become the events file and its ``_events.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gui.errors import UserError
from gui.options import load_input

if TYPE_CHECKING:
    from collector.bids import RepEvents, SessionExport
    from collector.recording import Recording

#: Units of the data dictionary that are physical units (written as ``Units``); the others
#: ("count", "1", "category", "list", "0–100") say what kind of value it is, in the text.
PHYSICAL_UNITS = ("s", "deg", "deg/s")
#: Levels of the technique column (analysis.results.Technique), for ``_events.json``.
TECHNIQUE_LEVELS = {
    "slider": "knee and head move in phase (the head extends as the knee extends)",
    "tensioner": "knee and head move in anti-phase (the head flexes as the knee extends)",
    "unclear": "neither pattern is clear",
}


def rep_column_docs() -> dict[str, dict[str, Any]]:
    """``_events.json`` entries of the per-rep columns, from the data dictionary."""
    from analysis.dictionary import columns

    docs: dict[str, dict[str, Any]] = {}
    for c in columns():
        text = c.definition + (f" Reference: {c.reference}." if c.reference else "")
        doc: dict[str, Any] = {"Description": text}
        if c.unit in PHYSICAL_UNITS:
            doc["Units"] = c.unit
        elif c.name == "technique":
            doc["Levels"] = dict(TECHNIQUE_LEVELS)
        elif c.name == "quality":
            doc |= {"Format": "number", "Minimum": 0, "Maximum": 100}
        docs[c.name] = doc
    return docs


def rep_events(rec: Recording) -> RepEvents:
    """The session's reps as :func:`collector.bids.write_session` writes them (the same
    analysis as ``flossmeter analyze``)."""
    import pandas as pd

    from analysis.session import RepAnalysis
    from collector.bids import RepEvents

    if "shin" not in rec.samples:
        return RepEvents(pd.DataFrame(columns=["start_s", "end_s"]))
    reps = RepAnalysis(angles=False).run(rec.samples).reps_
    return RepEvents(reps, rep_column_docs())


def recordings_in(path: Path) -> list[Path]:
    """The recordings to export: ``path`` itself, or the ``.flossrec`` files in a folder."""
    from collector.recording import SUFFIX

    if path.is_dir():
        found = sorted(f for f in path.rglob(f"*{SUFFIX}") if f.is_file())
        if not found:
            raise UserError(f"{path}: no recordings ({SUFFIX}) in this folder")
        return found
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    return [path]


def export_bids(
    path: Path,
    root: Path,
    subject: str | None = None,
    session: str | None = None,
    task: str = "floss",
    report: Callable[[str], None] = print,
    role_map: str | None = None,
) -> list[SessionExport]:
    """Export a recording, or a folder of them (a whole study, into a new dataset), to the
    BIDS-Motion dataset ``root``; each session's reps become its events. Every input is read
    and its subject label checked before anything is written. ``role_map``: ``--map`` for an
    imported input."""
    from collector.bids import bids_label, write_session
    from collector.errors import CollectorError

    files = recordings_in(path)
    many = path.is_dir()
    if many and root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UserError(f"{root}: a study folder exports to a new dataset; choose a new folder")
    if many and session is not None:
        raise UserError("--session names one session: give one recording, not a folder")
    plan: list[tuple[Path, str, float]] = []
    labels: dict[str, str] = {}
    for f in files:
        rec = load_input(f, role_map)  # a bad file stops the export before anything is written
        who = subject or str(rec.meta.get("participant") or "")
        if not who:
            raise UserError(f"{f}: no participant pseudonym in the recording; give --subject ID")
        try:
            label = bids_label(who, "subject")
        except CollectorError as e:
            raise UserError(f"{f}: {e}") from None
        if labels.setdefault(label, who) != who:
            raise UserError(
                f"{f}: participants {labels[label]!r} and {who!r} both make the BIDS label "
                f"sub-{label}; rename one"
            )
        start = rec.meta.get("start_unix")
        plan.append((f, label, float(start) if isinstance(start, int | float) else float("inf")))
    # a participant's sessions are numbered in the order they were recorded
    plan.sort(key=lambda x: (x[1], x[2], str(x[0])))
    done = []
    for f, label, _ in plan:
        rec = load_input(f, role_map)
        exported = write_session(
            rec, root, label, session, task=task, reps=rep_events(rec),
            dataset_name=f"flossmeter sessions ({path.name})",
        )  # fmt: skip
        report(f"{f.name} -> {exported}")
        done.append(exported)
    return done
