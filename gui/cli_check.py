"""``flossmeter check-strap ADDR``: does a strap (your own build, or ours) meet the strap profile?

It connects to one strap, reads its device information, streams for ``--duration-s`` seconds with
time-sync pings and prints one PASS/FAIL line per criterion (``collector.strap_check``; the
criteria and limits are explained in ``firmware_specs/README.md``). Exit code 0: every criterion
passed; 1: one or more failed; 2: the check could not run (no such strap, Bluetooth off, ...).
"""

from __future__ import annotations

import argparse

from gui.commands import AddCommand
from gui.errors import UserError

EXIT_PASS, EXIT_FAIL = 0, 1


def cmd_check_strap(args: argparse.Namespace) -> int:
    """Measure one strap and print the verdict per criterion; 0 pass, 1 fail."""
    import asyncio
    import logging

    from collector.strap_check import evaluate, measure

    # Without bluetoothctl on PATH bleak warns on every run; the D-Bus API is what we use.
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)
    if args.duration_s <= 0:
        raise UserError("--duration-s must be positive")
    print(f"checking {args.strap} for {args.duration_s:g} s at {args.rate_hz} Hz ...", flush=True)
    m = asyncio.run(measure(args.strap, args.duration_s, args.rate_hz, args.scan_s))
    verdict = evaluate(m)
    print(f"strap {m.name or '-'} ({m.address})")
    width = max(len(c.name) for c in verdict)
    for c in verdict:
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.name:<{width}}  {c.measured}  [{c.limit}]")
    failed = [c.name for c in verdict if not c.passed]
    if failed:
        print(f"result: FAIL ({len(failed)} of {len(verdict)}: {', '.join(failed)})")
        return EXIT_FAIL
    print(f"result: PASS ({len(verdict)} of {len(verdict)})")
    return EXIT_PASS


def register(add: AddCommand) -> None:
    """Add this module's subcommands."""
    p = add(
        "check-strap",
        cmd_check_strap,
        "check a strap against the profile: rate, loss, clock drift, ping round trip (exit 0/1)",
    )
    p.add_argument("strap", metavar="ADDR", help="the strap's address or advertised name")
    p.add_argument(
        "--duration-s", type=float, default=30.0, help="how long to measure (default 30)"
    )
    p.add_argument(
        "--rate-hz", type=int, default=100, help="sample rate to check, 25–400 (default 100)"
    )
    p.add_argument("--scan-s", type=float, default=10.0, help="how long to look for it (10)")
