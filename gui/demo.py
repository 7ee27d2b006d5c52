"""``flossmeter demo``: the live dashboard on simulated straps, or without a window the headless
demo — simulate two straps, record, analyse, summarise, export the reps for researchers.

The demo never aborts: when no window can open (no display, or a Qt platform plugin that cannot
load, e.g. a desktop without libxcb-cursor0) it says why in one line and runs headless.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from gui.commands import AddCommand

log = logging.getLogger("flossmeter")

DEFAULT_DEMO_PATH = Path("recordings") / "demo.flossrec"


def _window_refused(args: argparse.Namespace) -> str | None:
    """Why the demo runs headless ("" when asked to, or nobody would see the window), or None
    when the dashboard can open; a reason worth telling is logged as one line."""
    from gui.window_check import display_problem, window_problem

    if args.headless:
        return ""
    capture = args.screenshot is not None or args.quit_after_s is not None
    offscreen = os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal"))
    if offscreen and not capture:
        return ""  # nobody would see it: show the headless demo instead
    if display_problem():
        return "no screen"  # the common case (a server, ssh): no need to explain at length
    problem = window_problem()
    if problem is None:
        return None
    log.warning("no dashboard window: %s; running the headless demo instead", problem)
    return "no window"


def cmd_demo(args: argparse.Namespace) -> int:
    """Live dashboard on simulated straps when a window can open, else the headless demo."""
    reason = _window_refused(args)
    if reason is None:
        from gui.cli_dashboard import run_demo_dashboard

        return run_demo_dashboard(args)
    return headless_demo(args, reason)


def headless_demo(args: argparse.Namespace, reason: str = "") -> int:
    """Simulate, record, analyse and summarise a session; write the reps CSV + dictionary.
    ``reason`` (e.g. "no screen") starts the first line."""
    from analysis.session import RepAnalysis
    from collector.recording import load_recording, write_blocks
    from collector.simulator import SimConfig, simulate
    from gui.export import dictionary_path, write_reps_csv

    out: Path = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    config = SimConfig(seed=args.seed, sets=2, reps_per_set=6, technique="slider", loss=0.01)
    print(
        f"{reason + ': ' if reason else ''}headless demo. Simulating two straps (shin, head): "
        f"{config.sets} sets × {config.reps_per_set} slider reps, 1 % of notifications lost ..."
    )
    session = simulate(config)
    meta = session.metadata() | {
        "participant": "demo",
        "source": "simulator",
        "ground_truth": session.truth.to_dict(),
    }
    items = (item for _, item in session.timeline())
    write_blocks(out, items, session.sensors, meta, overwrite=True)
    rec = load_recording(out)
    print(rec.summary())
    result = RepAnalysis(angles=False).run(rec.samples).result_
    print("\nreps found (per set):")
    print("  " + result.summary().replace("\n", "\n  "))
    truth = rec.ground_truth
    if truth is not None:
        print(f"  (simulated truth: {len(truth.reps)} reps in {len(truth.sets)} sets)")
    reps_csv = out.with_name(out.stem + ".reps.csv")
    write_reps_csv(result.reps, reps_csv)
    print(f"\nwrote {out}, {reps_csv} and {dictionary_path(reps_csv)}")
    print(f"next: flossmeter info {out}   |   flossmeter analyze {out} --summary")
    return 0


def register(add: AddCommand) -> None:
    """Add the ``demo`` subcommand."""
    p = add("demo", cmd_demo, "simulated straps: live dashboard, or headless record + analysis")
    p.add_argument("-o", "--output", type=Path, default=DEFAULT_DEMO_PATH)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--headless", action="store_true", help="no dashboard, even with a screen")
    p.add_argument("--screenshot", type=Path, metavar="PATH", help="(dashboard) save a PNG")
    p.add_argument("--quit-after-s", type=float, metavar="S", help="(dashboard) quit after S s")
