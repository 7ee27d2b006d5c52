"""The ``flossmeter`` command: one entry point, subcommands, one-line errors (exit 2).

Each group of subcommands lives in its own module with a ``register(add)`` function, listed in
``COMMAND_MODULES``. Heavy modules (numpy, pandas, Qt, bleak) are imported inside the
commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("flossmeter")

EXIT_ERROR = 2
#: Modules whose ``register(add)`` adds subcommands, in --help order.
COMMAND_MODULES = (
    "gui.demo",
    "gui.cli_sessions",
    "gui.cli_analysis",
    "gui.cli_dashboard",
    "gui.cli_ble",
)

Command = Callable[[argparse.Namespace], int]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def load_input(path: Path) -> Any:
    """A recording or a long CSV (by extension) as a :class:`collector.recording.Recording`."""
    from collector.csvio import read_samples_csv
    from collector.recording import load_recording

    if path.suffix.lower() == ".csv":
        return read_samples_csv(path)
    return load_recording(path)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kept free of heavy imports)."""
    parser = argparse.ArgumentParser(
        prog="flossmeter",
        description="Measure seated slump nerve-flossing exercise with two IMU straps.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Command, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="flossmeter: %(message)s", stream=sys.stderr)
    from collector.errors import CollectorError

    try:
        return int(args.func(args))
    except (UserError, CollectorError) as e:
        print(f"flossmeter: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
