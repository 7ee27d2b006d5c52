"""Commands on sessions: simulate, record, export, info."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from gui.cli import AddCommand, UserError, load_input

log = logging.getLogger("flossmeter")


def add_sim_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("simulated straps")
    g.add_argument("--sets", type=int, default=2, help="number of sets (default 2)")
    g.add_argument("--reps", type=int, default=8, help="reps per set (default 8)")
    g.add_argument("--seed", type=int, default=0, help="random seed; same seed, same session")
    g.add_argument("--rate-hz", type=float, default=100.0, help="sample rate, 25–400 Hz")
    g.add_argument("--head-rate-hz", type=float, default=None, help="head rate if different")
    g.add_argument(
        "--technique", choices=("slider", "tensioner", "mixed"), default="slider",
        help="floss technique of the sets (mixed: alternating sets)",
    )  # fmt: skip
    g.add_argument(
        "--variety", choices=("clean", "typical", "messy"), default="typical",
        help="how often reps are held, partial, halting, fast or follow a long pause",
    )  # fmt: skip
    g.add_argument("--no-fidgets", action="store_true", help="no fidgeting between sets")
    g.add_argument("--shin-only", action="store_true", help="simulate the shin strap only")
    g.add_argument(
        "--no-calibration", action="store_true",
        help="skip the start-up calibration (upright still, look up and back)",
    )  # fmt: skip
    g.add_argument("--noise", type=float, default=1.0, help="IMU error scale: 0 ideal, 1 typical")
    g.add_argument(
        "--mounting", choices=("random", "nominal", "backwards"), default="random",
        help="how the straps are put on (default: random, as patients do)",
    )  # fmt: skip
    g.add_argument(
        "--faults", default="",
        help="link and clock faults, e.g. loss=0.02,outages=1,drift-ppm=80",
    )  # fmt: skip


def add_strap_options(p: argparse.ArgumentParser) -> None:
    """Which straps: ``--sim``, or BLE ``--shin/--head``, or the saved ``--config``."""
    src = p.add_argument_group("straps (choose --sim, or BLE addresses/names)")
    src.add_argument("--sim", action="store_true", help="use simulated straps")
    src.add_argument("--shin", metavar="ADDR", help="BLE address or name of the shin strap")
    src.add_argument("--head", metavar="ADDR", help="BLE address or name of the head strap")
    src.add_argument(
        "--config", type=Path, metavar="PATH",
        help="saved strap config when no straps are named (default: the one 'assign' writes)",
    )  # fmt: skip


def sim_config(args: argparse.Namespace) -> Any:
    from collector.simulator import SimConfig, parse_faults

    try:
        return SimConfig(
            seed=args.seed,
            sets=args.sets,
            reps_per_set=args.reps,
            technique=args.technique,
            variety=args.variety,
            fidgets=not args.no_fidgets,
            head=not args.shin_only,
            calibration=not args.no_calibration,
            rate_hz=args.rate_hz,
            head_rate_hz=args.head_rate_hz,
            noise=args.noise,
            mounting=args.mounting,
            **parse_faults(args.faults),
        )
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None


def _session_meta(args: argparse.Namespace, session: Any) -> dict[str, Any]:
    meta = session.metadata()
    meta["participant"] = args.participant
    meta["notes"] = args.notes
    meta["source"] = "simulator"
    meta["ground_truth"] = session.truth.to_dict()
    return meta


def _add_session_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, help="recording file to write")
    p.add_argument("--participant", default="", help="participant pseudonym (no real names)")
    p.add_argument("--notes", default="", help="free-text notes stored in the recording")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")


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
    if not args.sim:  # BLE straps: addresses/names given, or the saved strap config
        try:
            from gui.cli_ble import record_ble
        except ImportError:
            raise UserError("recording from BLE straps is not available in this build") from None
        return record_ble(args)
    return run_acquisition(_record_sim(args), args.output)


def run_acquisition(coro: Any, output: Path) -> int:
    """Run an acquisition coroutine to its end (or Ctrl-C) and summarise the recording."""
    import asyncio

    from collector.recording import load_recording

    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        log.info("stopped by the user")
    if output.exists():
        print(load_recording(output).summary())
    return 0


def stop_on_signals() -> None:
    """Cancel the running task on Ctrl-C or kill (even in the background), so that the
    acquisition's ``finally`` and context managers close the file and release the straps."""
    import asyncio
    import signal

    task = asyncio.current_task()
    if task is not None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)


async def run_hub(hub: Any, duration_s: float | None, status: Any) -> None:
    """Run ``hub`` until its source ends, ``duration_s`` pass or it is stopped; then let every
    sink with a ``finish`` (e.g. the rep counter) finish, the status line last."""
    import asyncio

    try:
        await hub.run(duration_s=duration_s)
    except asyncio.CancelledError:
        log.info("stopped")
    finally:
        for sink in hub.sinks:
            if sink is not status and hasattr(sink, "finish"):
                sink.finish()
        status.finish()


async def _record_sim(args: argparse.Namespace) -> None:
    import time

    from collector.hub import Hub
    from collector.recording import Recorder
    from collector.simulator import SimulatedSource, simulate
    from gui.rep_counter import RepCounter
    from gui.status import StatusLine

    session = simulate(sim_config(args))
    meta = _session_meta(args, session)
    stop_on_signals()
    status = StatusLine(sys.stderr)
    counter = RepCounter(session.sensors, status)  # before the clock starts: imports take time
    async with SimulatedSource(session, speed=args.speed) as source:
        start_unix = time.time()
        with Recorder(
            args.output, source.sensors, meta, start_unix=start_unix, overwrite=args.overwrite
        ) as rec:
            hub = Hub(source, [rec, counter, status])
            status.hub = hub
            try:
                await run_hub(hub, args.duration_s, status)
            finally:  # the ground truth of what was recorded
                gt = session.truth.to_dict()
                gt["reps"] = [r for r in gt["reps"] if r["end_s"] <= rec.last_time_s]
                gt["fidgets"] = [f for f in gt["fidgets"] if f["end_s"] <= rec.last_time_s]
                gt["sets"] = [s for s in gt["sets"] if s["start_s"] <= rec.last_time_s]
                rec.set_meta("ground_truth", gt)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a recording's samples as long CSV."""
    from collector.csvio import write_samples_csv

    if not args.samples_csv:
        raise UserError("say what to export, e.g. --samples-csv samples.csv")
    rec = load_input(args.path)
    out = write_samples_csv(rec, args.samples_csv)
    n = sum(len(df) for df in rec.samples.values())
    print(f"wrote {n} samples of {', '.join(rec.samples)} to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a recording (or long CSV): sensors, duration, rates, gaps, events."""
    print(load_input(args.path).summary())
    return 0


def register(add: AddCommand) -> None:
    """Add this module's subcommands."""
    p = add("simulate", cmd_simulate, "write a simulated session with its ground truth")
    _add_session_options(p)
    add_sim_options(p)

    p = add("record", cmd_record, "record straps in real time into a recording")
    add_strap_options(p)
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--speed", type=float, default=1.0, help="simulated time per real second")
    _add_session_options(p)
    add_sim_options(p)

    p = add("export", cmd_export, "export a recording's samples as long CSV")
    p.add_argument("path", type=Path, help="recording (.flossrec) or long CSV")
    p.add_argument("--samples-csv", type=Path, help="long CSV to write")

    p = add("info", cmd_info, "describe a recording: sensors, duration, rates, gaps, events")
    p.add_argument("path", type=Path, help="recording (.flossrec) or long CSV")
