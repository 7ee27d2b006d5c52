"""Dashboard commands: ``live`` (simulated or BLE straps) and ``replay`` (a recording).

Every GUI command takes ``--screenshot PATH --quit-after-s S`` so docs and tests can capture
it. ``run_demo_dashboard(args)`` serves ``flossmeter demo``. Before any window, the checks of
:mod:`gui.window_check` say in one line why none can open (no display, a platform plugin that
cannot load); Qt is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from gui.cli_programme import (
    add_programme_option,
    programme_meta,
    programme_of,
    scripted_answers,
)
from gui.commands import AddCommand
from gui.errors import UserError
from gui.options import (
    add_acquisition_options,
    add_map_option,
    check_lsl,
    sim_config,
    strap_targets,
)

DEFAULT_FOLDER = Path("recordings")


def _screenshot_at(text: str) -> tuple[float, Path]:
    when, sep, path = text.partition(":")
    try:
        t = float(when)
    except ValueError:
        t = -1.0
    if not sep or not path or t < 0:
        raise argparse.ArgumentTypeError("use SECONDS:PATH, e.g. 5:early.png")
    return t, Path(path)


def _add_gui_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("capture (docs, tests)")
    g.add_argument("--screenshot", type=Path, metavar="PATH", help="save the window as PNG on quit")
    g.add_argument("--quit-after-s", type=float, metavar="S", help="close after S seconds")
    g.add_argument(
        "--screenshot-at", type=_screenshot_at, action="append", default=[], metavar="S:PATH",
        help="also save the window S seconds after it opens (repeatable)",
    )  # fmt: skip
    g.add_argument("--state-json", type=Path, metavar="PATH", help="write what was on screen")


def _capture(args: argparse.Namespace) -> Any:
    from gui.app import Capture

    quit_after = getattr(args, "quit_after_s", None)
    if quit_after is not None and quit_after <= 0:
        raise UserError("--quit-after-s must be positive")
    shot = getattr(args, "screenshot", None)
    if shot is not None and quit_after is None:
        raise UserError("--screenshot is taken when the window quits: add --quit-after-s S")
    return Capture(
        screenshot=shot,
        quit_after_s=quit_after,
        at=list(getattr(args, "screenshot_at", []) or []),
        state_json=getattr(args, "state_json", None),
    )


def _require_dashboard() -> None:
    """A window can open here (a display, Qt that imports, a platform plugin that loads), or
    a UserError says why in one line."""
    from gui.window_check import window_problem

    problem = window_problem()
    if problem:
        raise UserError(problem)


def _ble_module() -> Any:
    try:
        from collector import ble
    except ImportError as e:
        if e.name in ("collector.ble", "bleak"):
            missing = "BLE straps are not supported in this build (no collector.ble)"
            raise UserError(missing) from None
        raise UserError(f"BLE support cannot be loaded ({e}); reinstall: make install") from None
    if not hasattr(ble, "BleSource"):
        raise UserError("BLE straps are not supported in this build (no collector.ble.BleSource)")
    return ble


def open_ble_source(shin: str | None, head: str | None, rate_hz: float = 100.0) -> Any:
    """The BLE source for the given straps (``collector.ble``, imported only here)."""
    if not shin:
        raise UserError("say which strap is the shin: --shin ADDR (and --head ADDR)")
    ble = _ble_module()
    roles = {"shin": shin} | ({"head": head} if head else {})
    logging.getLogger("bleak.backends.bluezdbus.version").setLevel(logging.ERROR)
    try:
        return ble.BleSource(roles, rate_hz=rate_hz)
    except (ValueError, TypeError) as e:
        raise UserError(f"BLE straps: {e}") from None


def _sim_session(args: argparse.Namespace) -> Any:
    from collector.simulator import simulate

    return simulate(sim_config(args))


def _run_live(
    make_source: Any,
    metadata: dict[str, Any],
    args: argparse.Namespace,
    title: str,
    explain: Any = None,
) -> int:
    from gui.app import run_window
    from gui.dashboard.guided_view import ScriptedAnswers
    from gui.dashboard.live_view import LiveWindow

    programme = programme_of(args)
    ratings, decisions = scripted_answers(args)
    if (ratings or decisions) and programme is None:
        raise UserError("--symptoms and --decisions answer a guided session: add --programme")
    answers = ScriptedAnswers(ratings, decisions) if ratings or decisions else None

    capture = _capture(args)
    folder = getattr(args, "folder", None) or DEFAULT_FOLDER
    record_to = getattr(args, "record", None)
    if record_to is not None and Path(record_to).exists():
        raise UserError(f"{record_to}: already exists (choose another name)")

    def make_window() -> LiveWindow:
        return LiveWindow(
            make_source,
            title=title,
            metadata=metadata,
            folder=Path(folder),
            participant=getattr(args, "participant", "") or "",
            record_to=record_to,
            explain=explain,
            programme=programme,
            answers=answers,
            tick=bool(getattr(args, "tick", False)),
            publish=_lsl_publisher if getattr(args, "lsl", False) else None,
        )

    return run_window(make_window, lambda w: w.start(), capture)


def _lsl_publisher(source: Any, feed: Any, metadata: dict[str, Any]) -> Any:
    """The live session's LSL outlet: the straps' samples and the feed's reps (as scored now);
    its streams are noted in recordings made from here."""
    from collector.lsl import LslOutlet

    outlet = LslOutlet.for_source(source, lambda: feed.reps, lambda: feed.reps_version)
    metadata["lsl"] = outlet.description()
    return outlet


def cmd_live(args: argparse.Namespace) -> int:
    """Live dashboard on simulated (--sim) or BLE straps."""
    from gui.dashboard.session import check_pseudonym

    try:
        check_pseudonym(args.participant)
    except ValueError as e:
        raise UserError(str(e)) from None
    if not (args.speed > 0):
        raise UserError("--speed must be positive")
    programme = programme_meta(args)  # a bad programme file stops here, in one line
    check_lsl(args)
    if args.sim:
        _require_dashboard()
        from collector.simulator import SimulatedSource

        session = _sim_session(args)
        meta = session.metadata() | {"source": "simulator"} | programme
        return _run_live(
            lambda: SimulatedSource(session, speed=args.speed),
            meta,
            args,
            "flossmeter — live (simulated straps)",
        )
    targets, roles_from = strap_targets(args)  # named, or remembered by 'flossmeter assign'
    shin, head = targets.get("shin"), targets.get("head")
    open_ble_source(shin, head, args.rate_hz)  # fails early, before a window opens
    _require_dashboard()
    ble_meta = {"targets": targets, "roles_from": roles_from, "rate_hz_requested": args.rate_hz}
    return _run_live(
        lambda: open_ble_source(shin, head, args.rate_hz),
        {"source": "ble", "ble": ble_meta} | programme,
        args,
        "flossmeter — live",
        explain=getattr(_ble_module(), "bleak_error_message", None),
    )


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a recording in the dashboard."""
    from collector.replay import MAX_SPEED, MIN_SPEED
    from gui.options import load_input

    if not MIN_SPEED <= args.speed <= MAX_SPEED:
        raise UserError(f"--speed must be {MIN_SPEED:g}–{MAX_SPEED:g}")
    rec = load_input(args.path, args.map)  # a bad file fails here, in one line
    if not rec.samples:
        raise UserError(f"{args.path}: the recording holds no samples")
    if not 0 <= args.start_s <= rec.duration_s:
        raise UserError(f"--start-s must be within the recording (0–{rec.duration_s:.1f} s)")
    _require_dashboard()
    capture = _capture(args)
    # the timeline shows every gap; a log line for each would drown the terminal
    logging.getLogger("collector.hub").setLevel(logging.WARNING)
    import analysis.session  # noqa: F401  # scipy now, so it does not compete with the first frames
    from gui.app import run_window
    from gui.dashboard.replay_view import ReplayWindow

    def make_window() -> ReplayWindow:
        return ReplayWindow(speed=args.speed, start_s=args.start_s, playing=not args.paused)

    return run_window(make_window, lambda w: w.start(args.path, recording=rec), capture)


def cmd_progress(args: argparse.Namespace) -> int:
    """A participant's progress over the sessions in a folder (the session library)."""
    if not args.folder.is_dir():
        raise UserError(f"{args.folder}: no such folder")
    _require_dashboard()
    capture = _capture(args)
    from gui.app import run_window
    from gui.dashboard.progress_view import ProgressWindow

    return run_window(
        lambda: ProgressWindow(args.folder, args.participant), lambda w: w.start(), capture
    )


def run_demo_dashboard(args: argparse.Namespace) -> int:
    """The demo as a live dashboard on two simulated straps (2 sets × 6 slider reps); the
    caller has checked that a window can open (:func:`gui.window_check.window_problem`)."""
    from collector.simulator import SimConfig, SimulatedSource, simulate

    session = simulate(
        SimConfig(seed=getattr(args, "seed", 7), sets=2, reps_per_set=6, technique="slider",
                  loss=0.01)
    )  # fmt: skip
    output = getattr(args, "output", None)
    folder = Path(output).parent if output else DEFAULT_FOLDER
    ns = argparse.Namespace(
        folder=folder,
        participant="demo",
        record=None,
        screenshot=getattr(args, "screenshot", None),
        quit_after_s=getattr(args, "quit_after_s", None),
        screenshot_at=getattr(args, "screenshot_at", []),
        state_json=getattr(args, "state_json", None),
    )
    meta = session.metadata() | {"source": "simulator"}
    return _run_live(
        lambda: SimulatedSource(session, speed=1.0), meta, ns, "flossmeter — demo (simulated)"
    )


def register(add: AddCommand) -> None:
    """Add the ``live`` and ``replay`` subcommands."""
    p = add("progress", cmd_progress, "a participant's progress over the sessions in a folder")
    p.add_argument("folder", type=Path, nargs="?", default=DEFAULT_FOLDER,
                   help="where the recordings are (default: recordings/)")  # fmt: skip
    p.add_argument("--participant", help="one pseudonym's sessions (default: all)")
    _add_gui_options(p)

    p = add("live", cmd_live, "live dashboard: signals, reps counted and scored, recording")
    add_acquisition_options(p)
    p.add_argument("--participant", default="", help="participant pseudonym (no real names)")
    p.add_argument("--record", type=Path, metavar="PATH", help="start recording to PATH at once")
    add_programme_option(p)
    p.add_argument("--tick", action="store_true",
                   help="with --programme: a tick as each pacer glide begins")  # fmt: skip
    g = p.add_argument_group("guided session: scripted answers (demos, tests)")
    g.add_argument("--symptoms", default="", metavar="R,R,…",
                   help="answer the symptom questions in turn, e.g. 2,4,3")  # fmt: skip
    g.add_argument("--decisions", default="", metavar="D,…",
                   help="answer each advice in turn: reduce, stop or continue")  # fmt: skip
    p.add_argument(
        "--folder", type=Path, default=DEFAULT_FOLDER,
        help="where the Record button writes (default: recordings/)",
    )  # fmt: skip
    _add_gui_options(p)

    p = add("replay", cmd_replay, "replay a recording in the dashboard; export its reps")
    p.add_argument(
        "path", type=Path, help="recording (.flossrec), long CSV, BIDS-Motion file, XDF or DOT CSV"
    )
    add_map_option(p)
    p.add_argument("--speed", type=float, default=1.0, help="playback speed, 0.5–8 (default 1)")
    p.add_argument("--start-s", type=float, default=0.0, help="start at this session time, s")
    p.add_argument("--paused", action="store_true", help="open paused")
    _add_gui_options(p)
