"""The headless demo: simulate two straps, record and summarise, no screen needed."""

from __future__ import annotations

import argparse
from pathlib import Path

from gui.cli import AddCommand

DEFAULT_DEMO_PATH = Path("recordings") / "demo.flossrec"


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulate a session on two straps, record it and summarise it (no screen needed)."""
    from collector.recording import load_recording, write_blocks
    from collector.simulator import SimConfig, simulate

    out: Path = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    config = SimConfig(seed=args.seed, sets=2, reps_per_set=6, technique="slider", loss=0.01)
    print(
        f"simulating two straps (shin, head): {config.sets} sets × {config.reps_per_set} reps ..."
    )
    session = simulate(config)
    meta = session.metadata() | {
        "participant": "demo",
        "source": "simulator",
        "ground_truth": session.truth.to_dict(),
    }
    write_blocks(
        out, (item for _, item in session.timeline()), session.sensors, meta, overwrite=True
    )
    print(load_recording(out).summary())
    print(f"\nrecording written to {out}; try: flossmeter info {out}")
    return 0


def register(add: AddCommand) -> None:
    """Add the ``demo`` subcommand."""
    p = add("demo", cmd_demo, "simulate two straps, record and summarise a session")
    p.add_argument("-o", "--output", type=Path, default=DEFAULT_DEMO_PATH)
    p.add_argument("--seed", type=int, default=7)
