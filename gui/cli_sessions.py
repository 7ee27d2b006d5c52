"""Commands on sessions: simulate, record, export, info."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gui.cli_programme import add_programme_option, programme_meta
from gui.commands import AddCommand
from gui.errors import UserError
from gui.options import (
    add_acquisition_options,
    add_map_option,
    add_sim_options,
    check_lsl,
    sim_config,
)


def _session_meta(args: argparse.Namespace, session: Any) -> dict[str, Any]:
    meta = session.metadata()
    meta["participant"] = args.participant
    meta["notes"] = args.notes
    meta["source"] = "simulator"
    meta["ground_truth"] = session.truth.to_dict()
    return meta | programme_meta(args)


def _add_session_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, help="recording file to write")
    p.add_argument("--participant", default="", help="participant pseudonym (no real names)")
    p.add_argument("--notes", default="", help="free-text notes stored in the recording")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    add_programme_option(p)


# -- commands --------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write a simulated session (with its ground truth) to a recording, as fast as possible."""
    from collector.recording import load_recording, write_blocks
    from collector.simulator import simulate

    session = simulate(sim_config(args))
    items = (item for _, item in session.timeline())
    write_blocks(
        args.output, items, session.sensors, _session_meta(args, session), overwrite=args.overwrite
    )
    print(load_recording(args.output).summary())
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """Acquire in real time from the straps into a recording, with a live status line."""
    if args.duration_s is not None and args.duration_s <= 0:
        raise UserError("--duration-s must be positive")
    check_lsl(args)
    if not args.sim:  # BLE straps: addresses/names given, or the saved strap config
        from gui.cli_ble import record_ble

        return record_ble(args)
    from collector.simulator import SimulatedSource, simulate
    from gui.acquisition import Acquisition

    session = simulate(sim_config(args))

    def keep_truth_of_what_was_recorded(rec: Any, _source: Any) -> None:
        gt = session.truth.to_dict()
        gt["reps"] = [r for r in gt["reps"] if r["end_s"] <= rec.last_time_s]
        gt["fidgets"] = [f for f in gt["fidgets"] if f["end_s"] <= rec.last_time_s]
        gt["sets"] = [s for s in gt["sets"] if s["start_s"] <= rec.last_time_s]
        rec.set_meta("ground_truth", gt)

    return Acquisition(
        lambda: SimulatedSource(session, speed=args.speed),
        args.output,
        _session_meta(args, session),
        duration_s=args.duration_s,
        overwrite=args.overwrite,
        on_end=keep_truth_of_what_was_recorded,
        lsl=args.lsl,
    ).run()


def cmd_export(args: argparse.Namespace) -> int:
    """Export a recording's samples as long CSV, or recordings as a BIDS-Motion dataset."""
    from collector.csvio import write_samples_csv

    if not args.samples_csv and not args.bids:
        raise UserError("say what to export, e.g. --samples-csv samples.csv or --bids DATASET")
    if args.bids:
        from gui.bids_export import export_bids

        done = export_bids(
            args.path, args.bids, args.subject, args.session, args.task, role_map=args.map
        )
        print(f"wrote {len(done)} session(s) to the BIDS-Motion dataset {args.bids}")
    if args.samples_csv:
        from gui.options import load_input

        rec = load_input(args.path, args.map)
        out = write_samples_csv(rec, args.samples_csv)
        n = sum(len(df) for df in rec.samples.values())
        print(f"wrote {n} samples of {', '.join(rec.samples)} to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a recording (or long CSV): sensors, duration, rates, gaps, events."""
    from gui.options import load_input

    print(load_input(args.path, args.map).summary())
    return 0


def register(add: AddCommand) -> None:
    """Add this module's subcommands."""
    p = add("simulate", cmd_simulate, "write a simulated session with its ground truth")
    _add_session_options(p)
    add_sim_options(p)

    p = add("record", cmd_record, "record straps in real time into a recording")
    add_acquisition_options(p)
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    _add_session_options(p)

    p = add("export", cmd_export, "export a recording's samples as long CSV or BIDS-Motion")
    p.add_argument("path", type=Path, help="recording (.flossrec), long CSV or BIDS-Motion file; "
                   "with --bids also a folder of recordings (a study)")  # fmt: skip
    p.add_argument("--samples-csv", type=Path, help="long CSV to write")
    add_map_option(p)
    g = p.add_argument_group("BIDS-Motion dataset (docs/interchange.md)")
    g.add_argument("--bids", type=Path, metavar="DIR", help="write to (or add to) this dataset")
    g.add_argument("--subject", help="subject label (default: the participant pseudonym)")
    g.add_argument("--session", help="session label (default: the next number, 01, 02, …)")
    g.add_argument("--task", default="floss", help="task label (default: floss)")

    p = add("info", cmd_info, "describe a recording: sensors, duration, rates, gaps, events")
    p.add_argument(
        "path", type=Path,
        help="recording (.flossrec), long CSV, BIDS-Motion file, XDF or Movella DOT CSV",
    )  # fmt: skip
    add_map_option(p)
