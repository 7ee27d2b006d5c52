"""Commands for BLE straps: ``scan``, ``assign`` (roles by tapping) and headless ``record``.

Roles come from ``--shin/--head`` or, without them, from the saved strap config
(:mod:`collector.roles`) that ``flossmeter assign`` writes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

from gui.commands import AddCommand
from gui.errors import UserError

if TYPE_CHECKING:
    from collector.roles import StrapConfig, StrapEntry

log = logging.getLogger("flossmeter")
#: ``assign`` connects at most this many straps at once (BlueZ adapters manage a handful).
MAX_ASSIGN = 4


def _quiet_bleak() -> None:
    # Without bluetoothctl on PATH bleak warns on every run; the D-Bus API is what we use.
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)


def cmd_scan(args: argparse.Namespace) -> int:
    """List nearby BLE devices: name, address, RSSI and the sensor profile recognised."""
    import asyncio

    from collector.ble import scan

    _quiet_bleak()
    config = _saved_config(args)
    found = asyncio.run(scan(args.timeout_s))
    rows = sorted(found.values(), key=lambda f: (f.family is None, -f.adv.rssi))
    if not args.all:
        rows = [f for f in rows if f.family is not None]
    if not rows:
        what = "devices" if args.all else "supported sensors (use --all to list every device)"
        print(f"no {what} found in {args.timeout_s:g} s")
        return 0
    print(f"{'name':<20} {'address':<18} {'rssi':>5}  {'profile':<18} role")
    for f in rows:
        role = (config.role_of(f.adv.address, f.adv.name) if config else None) or ""
        print(
            f"{(f.adv.name or '-')[:20]:<20} {f.adv.address:<18} {f.adv.rssi:>5}  "
            f"{f.label:<18} {role}".rstrip()
        )
    seen = {config.role_of(f.adv.address, f.adv.name) for f in found.values()} if config else ()
    for role, entry in config.straps.items() if config else ():
        if role not in seen:
            print(f"{role} strap {entry.label()} not seen (switched off or out of range?)")
    return 0


def _saved_config(args: argparse.Namespace) -> StrapConfig | None:
    """The strap config of ``--config`` (or the default path), if any; an unreadable one is a
    warning and None (``scan`` and ``assign`` work without it)."""
    from collector.errors import CollectorError
    from collector.roles import load_strap_config

    try:
        return load_strap_config(getattr(args, "config", None))
    except CollectorError as e:
        log.warning("%s", e)
        return None


def record_ble(args: argparse.Namespace) -> int:
    """``flossmeter record --shin ADDR --head ADDR -o PATH``: record BLE straps headless."""
    from collector.ble import BleSource
    from gui.acquisition import Acquisition
    from gui.cli_programme import programme_meta
    from gui.options import strap_targets

    _quiet_bleak()
    targets, roles_from = strap_targets(args)
    if args.output.exists() and not args.overwrite:
        raise UserError(f"{args.output}: already exists (choose another name or --overwrite)")
    meta = {
        "participant": args.participant,
        "notes": args.notes,
        "source": "ble",
        "ble": {"targets": targets, "roles_from": roles_from, "rate_hz_requested": args.rate_hz},
    } | programme_meta(args)

    def keep_link_stats(rec: Any, source: Any) -> None:
        rec.set_meta("ble_stats", source.stats())
        rec.set_meta(
            "ble_connect_s",
            {"first": source.connect_times_s, "reconnect": source.reconnect_times_s},
        )

    return Acquisition(
        lambda: BleSource(targets, rate_hz=args.rate_hz),  # type: ignore[arg-type]
        args.output,
        meta,
        duration_s=args.duration_s,
        overwrite=args.overwrite,
        on_end=keep_link_stats,
        lsl=getattr(args, "lsl", False),
    ).run()


# -- assign: roles by tapping --------------------------------------------------------------------


def say(text: str) -> None:
    """One line of the conversation with the user, at once (stdout may be a pipe)."""
    print(text, flush=True)


def ask_yes_no(question: str, stdin: TextIO, stdout: TextIO) -> bool:
    """Ask on ``stdout``, read the answer from ``stdin`` (Enter = yes); EOF is a user error."""
    while True:
        stdout.write(question)
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            raise UserError("no answer (input closed): nothing saved; use --yes to save unasked")
        answer = line.strip().lower()
        if answer in ("", "y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        stdout.write("please answer y or n\n")


def cmd_assign(args: argparse.Namespace) -> int:
    """Assign roles by tapping: connect the straps, ask for a tap on each, save the config."""
    import asyncio

    from collector.roles import StrapConfig, config_path, describe_straps, save_strap_config

    _quiet_bleak()
    path = config_path(args.config)
    for name in ("scan_s", "tap_timeout_s"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    old = _saved_config(args)
    try:
        straps = asyncio.run(_assign(args))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        say("cancelled: nothing saved")
        return 1
    say(f"assigned: {describe_straps(straps)}")
    if old is not None and old.straps:
        say(f"replaces: {describe_straps(old.straps)}")
    if not args.yes and not ask_yes_no(f"save to {path}? [Y/n] ", sys.stdin, sys.stdout):
        say("not saved")
        return 1
    save_strap_config(StrapConfig(straps), path)
    say(f"saved to {path}")
    return 0


def _candidates(args: argparse.Namespace, found: dict[str, Any]) -> list[Any]:
    """The straps to listen to: those named on the command line, else every supported one."""
    from collector.ble import pick

    if args.straps:
        chosen: list[Any] = []
        for target in args.straps:
            f = pick(found, target, scan_s=args.scan_s)
            if f not in chosen:
                chosen.append(f)
        return chosen
    chosen = sorted((f for f in found.values() if f.family is not None), key=lambda f: -f.adv.rssi)
    if not chosen:
        raise UserError(
            f"no supported straps found in {args.scan_s:g} s: switch them on and bring them "
            "close (see what is around with 'flossmeter scan --all')"
        )
    if len(chosen) > MAX_ASSIGN:
        names = ", ".join(f.adv.name or f.adv.address for f in chosen)
        raise UserError(
            f"{len(chosen)} straps nearby ({names}): name the ones to assign, "
            "e.g. flossmeter assign ADDR1 ADDR2"
        )
    return chosen


async def _assign(args: argparse.Namespace) -> dict[str, StrapEntry]:
    """Connect the candidate straps, ask for a tap on each role, return role → strap."""
    import contextlib
    import time

    from collector.ble import BleSource, scan, seen_all
    from collector.model import ROLES
    from collector.roles import StrapEntry, TapListener

    found = await scan(args.scan_s, seen_all(*args.straps) if args.straps else None)
    chosen = _candidates(args, found)
    label = {f.adv.address: f"{f.adv.name} ({f.adv.address})" if f.adv.name else f.adv.address
             for f in chosen}  # fmt: skip
    say(f"connecting {len(chosen)} strap(s): {', '.join(label.values())}")
    feed = _TapFeed(TapListener(list(label)), time.monotonic())
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(feed.close)
        for f in chosen:  # one at a time: BlueZ runs one discovery, and each source scans
            src = BleSource({"shin": f.adv.address}, rate_hz=args.rate_hz,
                            scan_timeout_s=max(args.scan_s, 5.0))  # fmt: skip
            await stack.enter_async_context(src)
            feed.add(f.adv.address, src)
        if not await feed.wait_for(feed.all_streaming, 15.0):
            silent = next(a for a in label if feed.listener.latest_s(a) == float("-inf"))
            raise UserError(
                f"{label[silent]} connected but sends no data: switch it off and on, and try again"
            )
        roles = ROLES if len(chosen) > 1 else ROLES[:1]
        assigned: dict[str, str] = {}  # role → address
        for role in roles:
            assigned[role] = await _ask_tap(feed, role, assigned, label, args.tap_timeout_s)
            say(f"{role}: {label[assigned[role]]}")
        if len(chosen) == 1:
            say("only one strap found: head not assigned (a shin-only session)")
    by_address = {f.adv.address: f for f in chosen}
    return {
        role: StrapEntry(a, by_address[a].adv.name, by_address[a].family.kind)
        for role, a in assigned.items()
    }


async def _ask_tap(
    feed: _TapFeed, role: str, assigned: dict[str, str], label: dict[str, str], timeout_s: float
) -> str:
    """Prompt for a tap on ``role``'s strap until exactly one new strap is tapped; its address."""
    listener = feed.listener
    while True:
        say(f"tap the {role.upper()} strap")
        listener.listen_from(feed.now())
        d = await feed.wait_for(lambda: listener.decide(feed.now()), timeout_s)
        if d is None:
            raise UserError(
                f"no tap in {timeout_s:g} s: tap the {role} strap firmly with a fingertip "
                "(or give --shin/--head to 'flossmeter record')"
            )
        # the same tap (or its double) must not answer the next prompt
        listener.listen_from(d.time_s + max(listener.coincidence_s, listener.detector.merge_s))
        if not d.clear:
            say(f"{len(d.tapped)} straps moved at once: tap only the {role.upper()} strap")
            continue
        address = str(d.tapped[0])
        other = next((r for r, a in assigned.items() if a == address), None)
        if other is not None:
            say(f"that is the {other.upper()} strap ({label[address]})")
            continue
        return address


class _TapFeed:
    """Blocks of several BLE sources into one :class:`TapListener`, on one time base."""

    def __init__(self, listener: Any, t0: float) -> None:
        self.listener = listener
        self.t0 = t0  # time.monotonic() of this time base's zero
        self.tasks: list[Any] = []  # one asyncio task per source

    def now(self) -> float:
        """Time on this feed's base, s."""
        import time

        return time.monotonic() - self.t0

    def add(self, key: str, source: Any) -> None:
        """Start feeding ``source``'s blocks under ``key``."""
        import asyncio

        self.tasks.append(asyncio.create_task(self._pump(key, source)))

    async def _pump(self, key: str, source: Any) -> None:
        from collector.model import SampleBlock

        offset = source.t0 - self.t0  # each source counts from its own start
        async for item in source:
            if isinstance(item, SampleBlock):
                self.listener.push(key, item.time_s + offset, item.acc_mps2)

    def all_streaming(self) -> bool:
        """Whether every source has delivered samples."""
        return all(self.listener.latest_s(k) > float("-inf") for k in self.listener.keys)

    async def wait_for(self, poll: Any, timeout_s: float) -> Any:
        """Re-check ``poll()`` ten times a second; its first truthy result, or None at timeout."""
        import asyncio

        deadline = self.now() + timeout_s
        while not (result := poll()):
            if self.now() >= deadline:
                return None
            await asyncio.sleep(min(0.1, max(0.0, deadline - self.now())))
        return result

    async def close(self) -> None:
        """Stop feeding (before the sources close)."""
        import asyncio
        import contextlib

        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


def register(add: AddCommand) -> None:
    """Add this module's subcommands."""
    p = add("scan", cmd_scan, "list nearby BLE sensors: name, address, RSSI, profile")
    p.add_argument("--timeout-s", type=float, default=5.0, help="how long to listen (default 5)")
    p.add_argument("--all", action="store_true", help="also list devices that are no sensor")
    _add_config_option(p)

    p = add("assign", cmd_assign, "tell which strap is shin and which is head, by tapping them")
    p.add_argument(
        "straps", nargs="*", metavar="STRAP",
        help="address or name of the straps to choose from (default: every strap nearby)",
    )  # fmt: skip
    p.add_argument("--yes", action="store_true", help="save without asking")
    p.add_argument("--scan-s", type=float, default=4.0, help="how long to look for straps (4)")
    p.add_argument(
        "--tap-timeout-s", type=float, default=30.0, help="how long to wait for each tap (30)"
    )
    p.add_argument("--rate-hz", type=float, default=100.0, help=argparse.SUPPRESS)
    _add_config_option(p)


def _add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", metavar="PATH", default=None,
        help="strap config file (default: $FLOSSMETER_CONFIG or ~/.config/flossmeter/straps.json)",
    )  # fmt: skip
