"""Commands that analyse sessions: ``analyze`` (reps CSV, summary) and ``dictionary``."""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from gui.commands import AddCommand
from gui.errors import UserError
from gui.options import add_map_option, date_option, parse_map

INPUT_SUFFIXES = (".flossrec", ".csv", ".xdf")


def _inputs(paths: list[Path]) -> tuple[list[Path], bool]:
    """Expand folders into the recordings, sample CSVs and BIDS-Motion sessions inside them
    (recursively); a BIDS-Motion session given by several of its files counts once."""
    from collector.bids import motion_files, one_per_session

    files: list[Path] = []
    folder = False
    for p in paths:
        if p.is_dir():
            folder = True
            found = sorted(
                f
                for f in p.rglob("*")
                if f.suffix.lower() in INPUT_SUFFIXES
                and f.is_file()
                and not f.name.endswith((".dictionary.csv", ".reps.csv"))
            )
            found += motion_files(p)
            if not found:
                raise UserError(
                    f"{p}: no recordings (.flossrec), sample CSVs or BIDS-Motion files "
                    "(*_motion.tsv) in this folder"
                )
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise UserError(f"{p}: no such file or folder")
    files = one_per_session(files)
    return files, folder or len(files) > 1


def analyse_file(path: Path, roles: dict[str, str] | None = None) -> tuple[Path, Any, str | None]:
    """Load and analyse one input (``roles``: ``--map``): (path, reps DataFrame or None, error
    line or None)."""
    from analysis.session import RepAnalysis
    from collector.errors import CollectorError
    from collector.io import load

    try:
        rec = load(path, roles=roles)
        if "shin" not in rec.samples:
            return path, None, f"{path}: no shin samples (the shin strap is required)"
        return path, RepAnalysis(angles=False).run(rec.samples).reps_, None
    except CollectorError as e:
        return path, None, str(e)
    except (ValueError, UserError) as e:
        return path, None, f"{path}: {e}"


def cmd_analyze(args: argparse.Namespace) -> int:
    """Count and score reps of one or more sessions; write the per-rep CSV."""
    import pandas as pd

    from analysis.session import summarise
    from gui.export import write_reps_csv

    if args.output is None and not args.summary:
        raise UserError("say where to write the reps (-o reps.csv) or ask for --summary")
    roles = parse_map(args.map)
    files, many = _inputs(args.inputs)
    jobs = max(1, min(args.jobs or os.cpu_count() or 1, len(files)))
    results: list[tuple[Path, Any, str | None]] = []
    progress = _Progress(len(files), enabled=many)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            for res in ex.map(analyse_file, files, [roles] * len(files)):
                results.append(res)
                progress.step(res[0])
    else:
        for f in files:
            results.append(analyse_file(f, roles))
            progress.step(f)
    progress.done()
    errors = [e for _, _, e in results if e]
    if errors and not many:
        raise UserError(errors[0].removeprefix("flossmeter: "))
    for e in errors:
        print(f"flossmeter: skipped: {e}", file=sys.stderr)
    if len(errors) == len(files):  # not an empty CSV that looks like a result
        raise UserError(f"none of the {len(files)} files could be analysed: nothing written")
    frames = []
    for path, reps, _ in results:
        if reps is None:
            continue
        if many:
            reps = reps.assign(recording=str(path))
        frames.append(reps)
        if args.summary:
            print(f"{path}:" if many else f"{path}")
            print("  " + summarise(reps).replace("\n", "\n  "))
    if args.output is not None:
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        try:
            out = write_reps_csv(table, args.output)
        except OSError as e:
            raise UserError(f"{args.output}: cannot write ({e.strerror or e})") from None
        n_ok = len(files) - len(errors)
        print(f"wrote {len(table)} reps from {n_ok} session(s) to {out} (+ data dictionary)")
    return 2 if errors else 0


class _Progress:
    """A one-line progress bar on stderr for folder analyses."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.n = total, 0
        self.enabled = enabled
        self.tty = sys.stderr.isatty()

    def step(self, path: Path) -> None:
        self.n += 1
        if not self.enabled:
            return
        width = 30
        fill = round(width * self.n / self.total)
        line = f"[{'#' * fill}{'.' * (width - fill)}] {self.n}/{self.total} {path.name}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def cmd_dictionary(args: argparse.Namespace) -> int:
    """Print (or write) the data dictionary of the per-rep CSV as Markdown."""
    from analysis.dictionary import markdown

    text = markdown()
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write a session's report: one self-contained HTML file (plots embedded)."""
    from collector.errors import CollectorError
    from gui.report import write_report

    if args.participant is not None:
        return _period_report(args)
    if args.path is None:
        raise UserError("say which recording to report on, or --participant P for a period")
    out = args.output or args.path.with_suffix(".html")
    if out.exists() and not args.overwrite:
        raise UserError(f"{out}: already exists (use --overwrite to replace it)")
    try:
        path, n = write_report(args.path, out)
    except CollectorError as e:
        raise UserError(str(e)) from None
    except ValueError as e:
        raise UserError(str(e)) from None
    print(f"wrote {path} ({n} reps)")
    return 0


def _period_report(args: argparse.Namespace) -> int:
    """``report --participant P [FOLDER]``: the participant's sessions in the folder."""
    from gui.history import Catalogue
    from gui.report import build_period_report

    folder = args.path or Path("recordings")
    if not folder.is_dir():
        raise UserError(
            f"{folder}: no such folder (with --participant, give the recordings folder)"
        )
    since = date_option(args.since)
    out = args.output or folder / f"{args.participant}-progress.html"
    if out.exists() and not args.overwrite:
        raise UserError(f"{out}: already exists (use --overwrite to replace it)")
    cat = Catalogue(folder)
    try:
        cat.refresh()
        sessions = cat.sessions(args.participant, since)
        if not sessions:  # a mistyped pseudonym must not give an empty report
            known = sorted({s.participant for s in cat.sessions()} - {""})
            period = f" since {since}" if since else ""
            there = f"; sessions there are of {', '.join(known)}" if known else ""
            raise UserError(
                f"no sessions of {args.participant} in {folder}{period}: nothing written{there}"
            )
    finally:
        cat.close()
    out.write_text(build_period_report(sessions, args.participant), encoding="utf-8")
    n = len(sessions)
    print(f"wrote {out} ({n} session{'s' if n != 1 else ''} of {args.participant})")
    return 0


def register(add: AddCommand) -> None:
    """Add ``analyze``, ``report`` and ``dictionary``."""
    p = add("analyze", cmd_analyze, "count and score reps; write the per-rep CSV")
    p.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT",
        help="recording (.flossrec), long sample CSV, BIDS-Motion file (…_motion.tsv), XDF, "
        "Movella DOT CSV, or a folder of them (a BIDS dataset: one input per session)",
    )  # fmt: skip
    add_map_option(p)
    p.add_argument("-o", "--output", type=Path, help="per-rep CSV to write (+ .dictionary.csv)")
    p.add_argument("--summary", action="store_true", help="print reps per set, quality, flags")
    p.add_argument("--jobs", type=int, default=None, help="processes for folders (default: CPUs)")
    p = add("report", cmd_report, "write a session report: one HTML file with plots and reps")
    p.add_argument("path", type=Path, nargs="?",
                   help="recording (.flossrec) or CSV; with --participant, the folder")  # fmt: skip
    p.add_argument("-o", "--output", type=Path, help="HTML file (default: beside the recording)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--participant", help="a period's report of this pseudonym's sessions")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="with --participant: from this date on")
    p = add("dictionary", cmd_dictionary, "print the data dictionary of the per-rep CSV")
    p.add_argument("-o", "--output", type=Path, help="write it to this Markdown file")
