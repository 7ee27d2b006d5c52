"""``flossmeter programme new/show/check``: the home programme a clinician prescribes
(analysis/programme.py, docs/programme.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gui.commands import AddCommand
from gui.errors import UserError
from gui.options import date_option, option_dest


def _load(path: Path) -> Any:
    from analysis.programme import ProgrammeError, load_programme

    try:
        return load_programme(path)
    except ProgrammeError as e:
        raise UserError(str(e)) from None


def programme_of(args: argparse.Namespace) -> Any:
    """The validated ``--programme`` (``analysis.programme.Programme``), or None."""
    path = getattr(args, "programme", None)
    return _load(path) if path is not None else None


def scripted_answers(args: argparse.Namespace) -> tuple[list[int], list[str]]:
    """``--symptoms 2,4,3`` and ``--decisions reduce,stop``, checked."""
    ratings, decisions = [], []
    for x in filter(None, (getattr(args, "symptoms", "") or "").split(",")):
        if not x.strip().isdigit() or not 0 <= int(x) <= 10:
            raise UserError(f"--symptoms: ratings are whole numbers 0–10, not {x!r}")
        ratings.append(int(x))
    for x in filter(None, (getattr(args, "decisions", "") or "").split(",")):
        if x.strip() not in ("reduce", "stop", "continue"):
            raise UserError(f"--decisions: each is reduce, stop or continue, not {x!r}")
        decisions.append(x.strip())
    return ratings, decisions


def programme_meta(args: argparse.Namespace) -> dict[str, Any]:
    """``{"programme": ...}`` for a recording's metadata when ``--programme`` was given (the
    file validated: a bad one stops the command before anything is recorded), else ``{}``."""
    path = getattr(args, "programme", None)
    return {"programme": _load(path).to_dict()} if path is not None else {}


def add_programme_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--programme", type=Path, metavar="P.toml",
        help="the prescribed programme, stored with the recording (flossmeter programme new)",
    )  # fmt: skip


def cmd_programme(args: argparse.Namespace) -> int:
    """Dispatch ``programme new/show/check``."""
    return int(args.programme_func(args))


#: ``programme new``'s options: the programme field each one sets (``section.key``, as in the
#: file), the option's type and its help. Its default is the field's default. The parser and the
#: programme are both built from this table, so an option sets the field it describes.
NEW_OPTIONS: dict[str, tuple[str, type, str | None]] = {
    "--name": ("name", str, "e.g. 'week 1-2, slider'"),
    "--prescribed-by": ("prescribed_by", str, "clinician's initials or role"),
    "--leg": ("leg", str, None),
    "--technique": ("technique", str, None),
    "--sets": ("sets", int, None),
    "--reps": ("reps_per_set", int, "reps per set"),
    "--rest-s": ("rest_between_sets_s", float, "rest between sets"),
    "--sessions-per-week": ("sessions_per_week", int, None),
    "--out-s": ("tempo.out_s", float, "seconds out per glide"),
    "--back-s": ("tempo.back_s", float, "seconds back"),
    "--tolerance-s": ("tempo.tolerance_s", float,
                      "a glide off by more than this is not as prescribed"),
    "--target-deg": ("range.knee_target_deg", float, "knee range to reach, degrees"),
    "--cap-deg": ("range.knee_cap_deg", float, "knee range not to exceed"),
    "--cap-step-deg": ("range.cap_step_deg", float, "how much a symptom rise lowers the cap"),
    "--stop-above": ("symptoms.stop_above", int, "a symptom rating (0-10) above this: stop"),
    "--max-rise": ("symptoms.max_rise", int,
                   "a rise of this many points: reduce the range or stop"),
}  # fmt: skip


def _slot(values: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    """Where field ``key`` (``section.key`` or ``key``) is in a programme's dict: the table that
    holds it and its name there."""
    section, _, name = key.rpartition(".")
    return (values[section] if section else values), name


def cmd_new(args: argparse.Namespace) -> int:
    """Write a programme file from the defaults and the options given."""
    from analysis.programme import Programme, ProgrammeError

    out: Path = args.output
    if out.exists() and not args.overwrite:
        raise UserError(f"{out}: already exists (use --overwrite to replace it)")
    values = Programme().to_dict()
    for option, (key, _, _) in NEW_OPTIONS.items():
        table, name = _slot(values, key)
        table[name] = getattr(args, option_dest(option))
    try:
        prog = Programme.from_dict(values, "options")
    except ProgrammeError as e:
        raise UserError(str(e).replace("options: ", "", 1)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(prog.to_toml(), encoding="utf-8")
    print(f"wrote {out}\n{prog.summary()}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a programme in words (from its file, or the one a recording stores)."""
    path: Path = args.path
    if path.suffix.lower() == ".toml":
        print(_load(path).summary())
        return 0
    from analysis.programme import Programme, ProgrammeError
    from collector.io import load

    meta = load(path).meta
    if "programme" not in meta:
        raise UserError(f"{path}: the recording stores no programme")
    try:
        print(Programme.from_dict(meta["programme"], f"{path} (programme)").summary())
    except ProgrammeError as e:
        raise UserError(str(e)) from None
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate programme files: 'ok' each, or the first problem in one line (exit 2)."""
    for path in args.paths:
        _load(path)
        print(f"{path}: ok")
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    """Analyse a recording and mark each rep done as prescribed or not (with why), per set;
    the programme from --programme, else the one the recording stores."""
    from analysis.programme import (
        Programme,
        ProgrammeError,
        assess_session,
        session_log,
        set_summaries,
    )
    from analysis.session import RepAnalysis
    from collector.io import load

    rec = load(args.path)
    if args.programme is not None:
        prog = _load(args.programme)
    elif "programme" in rec.meta:
        try:
            prog = Programme.from_dict(rec.meta["programme"], f"{args.path} (programme)")
        except ProgrammeError as e:
            raise UserError(str(e)) from None
    else:
        raise UserError(f"{args.path}: the recording stores no programme: give --programme P.toml")
    if "shin" not in rec.samples:
        raise UserError(f"{args.path}: no shin samples (the shin strap is required)")
    reps = RepAnalysis(angles=False).run(rec.samples).reps_
    # each rep against the cap in force when it began (a guided session may have lowered it)
    verdicts = assess_session(reps.itertuples(), prog, session_log(rec.events))
    print(prog.summary())
    for v in verdicts:
        print(f"  rep {v.rep:>3} (set {v.set}): {v.text()}")
    for s in set_summaries(verdicts, prog):
        print(s.text())
    done = sum(v.as_prescribed for v in verdicts)
    print(
        f"{done} of {len(verdicts)} reps as prescribed ({prog.sets * prog.reps_per_set} prescribed)"
    )
    if args.output is not None:
        import pandas as pd

        table = pd.DataFrame(
            {
                "rep": [v.rep for v in verdicts],
                "set": [v.set for v in verdicts],
                "as_prescribed": [v.as_prescribed for v in verdicts],
                "reasons": [";".join(v.reasons) for v in verdicts],
                "details": ["; ".join(v.details) for v in verdicts],
            }
        )
        table.to_csv(args.output, index=False)
        print(f"wrote {args.output}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """The sessions in a folder, with adherence to the programme per week."""
    from gui.history import Catalogue, adherence, history_table

    folder: Path = args.folder
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    since = date_option(args.since)
    cat = Catalogue(folder)
    if args.rebuild:
        cat.db.execute("DELETE FROM sessions")
    changed = cat.refresh()
    sessions = cat.sessions(args.participant, since)
    failed = cat.failed()
    cat.close()
    if any(changed.values()):
        print(f"catalogue: {changed['added']} new, {changed['updated']} changed, "
              f"{changed['removed']} removed ({cat.path})")  # fmt: skip
    for s in failed:
        print(f"flossmeter: skipped {s.path}: {s.error}", file=sys.stderr)
    if not sessions:
        who = f" of {args.participant}" if args.participant else ""
        print(f"no sessions{who} in {folder}")
        return 0
    print(history_table(sessions))
    for who in sorted({s.participant for s in sessions}):
        print(f"adherence ({who or 'no participant'}):")
        for w in adherence([s for s in sessions if s.participant == who]):
            print("  " + w.text())
    return 0


def register(add: AddCommand) -> None:
    """Add ``programme`` and its subcommands."""
    from analysis.programme import CHOICES, Programme

    d = Programme().to_dict()
    p = add("programme", cmd_programme, "write, show or check a home programme (TOML)")
    sub = p.add_subparsers(dest="programme_command", metavar="ACTION", required=True)

    n = sub.add_parser("new", help="write a programme file", description=cmd_new.__doc__)
    n.set_defaults(programme_func=cmd_new)
    n.add_argument("-o", "--output", type=Path, required=True, help="programme file to write")
    n.add_argument("--overwrite", action="store_true", help="replace an existing file")
    for option, (key, kind, text) in NEW_OPTIONS.items():
        table, name = _slot(d, key)
        n.add_argument(option, type=kind, default=table[name], choices=CHOICES.get(name), help=text)

    s = sub.add_parser("show", help="print a programme in words", description=cmd_show.__doc__)
    s.set_defaults(programme_func=cmd_show)
    s.add_argument("path", type=Path, help="programme (.toml) or a recording that stores one")

    a = sub.add_parser(
        "assess", help="mark a recording's reps done as prescribed or not",
        description=cmd_assess.__doc__,
    )  # fmt: skip
    a.set_defaults(programme_func=cmd_assess)
    a.add_argument("path", type=Path, help="recording (.flossrec) or long CSV")
    a.add_argument("--programme", type=Path, metavar="P.toml", help="instead of the stored one")
    a.add_argument("-o", "--output", type=Path, help="CSV of the verdicts (rep, set, reasons)")

    h = add("history", cmd_history, "sessions in a folder and adherence to the programme")
    h.add_argument("folder", type=Path, nargs="?", default=Path("recordings"),
                   help="where the recordings are (default: recordings/)")  # fmt: skip
    h.add_argument("--participant", help="only this pseudonym's sessions")
    h.add_argument("--since", metavar="YYYY-MM-DD", help="only sessions from this date on")
    h.add_argument("--rebuild", action="store_true", help="summarise every recording again")

    c = sub.add_parser("check", help="validate programme files", description=cmd_check.__doc__)
    c.set_defaults(programme_func=cmd_check)
    c.add_argument("paths", type=Path, nargs="+", help="programme files (.toml)")
