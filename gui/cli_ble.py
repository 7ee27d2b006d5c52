"""Commands for BLE straps: ``scan``, and headless recording for ``record --shin/--head``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from gui.cli import AddCommand, UserError

log = logging.getLogger("flossmeter")


def _quiet_bleak() -> None:
    # Without bluetoothctl on PATH bleak warns on every run; the D-Bus API is what we use.
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)


def cmd_scan(args: argparse.Namespace) -> int:
    """List nearby BLE devices: name, address, RSSI and the sensor profile recognised."""
    import asyncio

    from collector.ble import scan

    _quiet_bleak()
    found = asyncio.run(scan(args.timeout_s))
    rows = sorted(found.values(), key=lambda f: (f.family is None, -f.adv.rssi))
    if not args.all:
        rows = [f for f in rows if f.family is not None]
    if not rows:
        what = "devices" if args.all else "supported sensors (use --all to list every device)"
        print(f"no {what} found in {args.timeout_s:g} s")
        return 0
    print(f"{'name':<20} {'address':<18} {'rssi':>5}  profile")
    for f in rows:
        print(f"{(f.adv.name or '-')[:20]:<20} {f.adv.address:<18} {f.adv.rssi:>5}  {f.label}")
    return 0


def build_sinks(recorder: Any, status: Any, sensors: Any) -> list[Any]:
    """The hub's sinks for headless recording: file, rep counter, status line."""
    from gui.rep_counter import RepCounter

    return [recorder, RepCounter(sensors, status), status]


def record_ble(args: argparse.Namespace) -> int:
    """``flossmeter record --shin ADDR --head ADDR -o PATH``: record BLE straps headless."""
    import asyncio

    from collector.recording import load_recording

    _quiet_bleak()
    targets = {r: getattr(args, r) for r in ("shin", "head") if getattr(args, r, None)}
    if not targets:
        raise UserError("say which straps to record: --shin ADDR [--head ADDR]")
    if args.output.exists() and not args.overwrite:
        raise UserError(f"{args.output}: already exists (choose another name or --overwrite)")
    try:
        asyncio.run(_record(args, targets))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        log.info("stopped by the user")
    if args.output.exists():
        print(load_recording(args.output).summary())
    return 0


async def _record(args: argparse.Namespace, targets: dict[str, str]) -> None:
    import asyncio
    import signal
    import time

    from collector.ble import BleSource
    from collector.hub import Hub
    from collector.recording import Recorder
    from gui.status import StatusLine

    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:  # stop cleanly (file closed, straps released) on Ctrl-C or kill
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
    source = BleSource(targets, rate_hz=args.rate_hz)  # type: ignore[arg-type]
    async with source:
        meta = {
            "participant": args.participant,
            "notes": args.notes,
            "source": "ble",
            "ble": {"targets": targets, "rate_hz_requested": args.rate_hz},
        }
        with Recorder(
            args.output, source.sensors, meta, start_unix=time.time() - source.now(),
            overwrite=args.overwrite,
        ) as rec:  # fmt: skip
            status = StatusLine(sys.stderr)
            sinks = build_sinks(rec, status, source.sensors)
            hub = Hub(source, sinks)
            status.hub = hub
            try:
                await hub.run(duration_s=args.duration_s)
            except asyncio.CancelledError:
                log.info("stopped")
            finally:
                for sink in sinks:
                    if hasattr(sink, "finish") and sink is not status:
                        sink.finish()
                status.finish()
                rec.set_meta("ble_stats", source.stats())
                rec.set_meta(
                    "ble_connect_s",
                    {"first": source.connect_times_s, "reconnect": source.reconnect_times_s},
                )


def register(add: AddCommand) -> None:
    """Add this module's subcommands."""
    p = add("scan", cmd_scan, "list nearby BLE sensors: name, address, RSSI, profile")
    p.add_argument("--timeout-s", type=float, default=5.0, help="how long to listen (default 5)")
    p.add_argument("--all", action="store_true", help="also list devices that are no sensor")
