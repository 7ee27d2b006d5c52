"""The ``flossmeter`` command line: the parser of every subcommand and :func:`main`.

The program starts in ``gui/__main__.py`` (``python -m gui``) or the ``flossmeter`` console
script; no module imports this one but those, so it is never both the program and a library.
Each group of subcommands lives in its own module with a ``register(add)`` function, listed in
``COMMAND_MODULES``. Heavy modules (numpy, pandas, Qt, bleak) are imported inside the
commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from gui import cli_analysis, cli_ble, cli_check, cli_dashboard, cli_programme, cli_sessions, demo
from gui.commands import AddCommand, Command
from gui.errors import EXIT_ERROR, UserError

__all__ = ["AddCommand", "build_parser", "main"]

#: Modules whose ``register(add)`` adds subcommands, in --help order.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    demo, cli_sessions, cli_analysis, cli_dashboard, cli_ble, cli_check, cli_programme,
)  # fmt: skip


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
        module.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (2 with one line on stderr for user errors)."""
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
    except BrokenPipeError:
        # the reader went away (`flossmeter history | head`): stop quietly, as other tools do;
        # stdout is pointed at /dev/null so the interpreter's final flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    # `python -m gui.cli`, the spelling from before gui/__main__.py: hand over to the one entry
    # point, which imports this file as gui.cli, so nothing ever runs from this __main__ copy.
    import runpy

    runpy.run_module("gui", run_name="__main__", alter_sys=True)
