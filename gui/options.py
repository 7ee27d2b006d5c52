"""Option groups several commands share — simulated straps, which straps — and what they mean.

``live`` and ``record`` take the same straps (``--sim``, ``--shin/--head``, ``--config``) and
resolve them here, so both say the same thing when none are given.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gui.errors import UserError

if TYPE_CHECKING:
    from collector.recording import Recording

log = logging.getLogger("flossmeter")


#: The simulated session's options: option → (the ``SimConfig`` field it sets, argparse
#: keywords). Defaults are ``SimConfig``'s (a test holds them equal; importing the simulator to
#: read them would load numpy for ``--help``); a ``--no-…``/``--shin-only`` flag clears its field.
SIM_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "--sets": ("sets", {"type": int, "default": 2, "help": "number of sets (default %(default)s)"}),
    "--reps": ("reps_per_set", {"type": int, "default": 8,
                                "help": "reps per set (default %(default)s)"}),
    "--seed": ("seed", {"type": int, "default": 0, "help": "random seed; same seed, same session"}),
    "--rate-hz": ("rate_hz", {"type": float, "default": 100.0,
                              "help": "sample rate, Hz: straps 25–400, simulated 25–1000 "
                                      "(default %(default)g)"}),
    "--head-rate-hz": ("head_rate_hz", {"type": float, "default": None,
                                        "help": "head rate if different"}),
    "--technique": ("technique", {"choices": ("slider", "tensioner", "mixed"), "default": "slider",
                                  "help": "floss technique of the sets (mixed: alternating sets)"}),
    "--variety": ("variety", {"choices": ("clean", "typical", "messy"), "default": "typical",
                              "help": "how often reps are held, partial, halting, fast or follow "
                                      "a long pause"}),
    "--no-fidgets": ("fidgets", {"action": "store_false", "help": "no fidgeting between sets"}),
    "--shin-only": ("head", {"action": "store_false", "help": "simulate the shin strap only"}),
    "--no-calibration": ("calibration", {"action": "store_false",
                                         "help": "skip the start-up calibration (upright still, "
                                                 "look up and back)"}),
    "--noise": ("noise", {"type": float, "default": 1.0,
                          "help": "IMU error scale: 0 ideal, 1 typical"}),
    "--mounting": ("mounting", {"choices": ("random", "nominal", "backwards"), "default": "random",
                                "help": "how the straps are put on (default: random, as patients "
                                        "do)"}),
}  # fmt: skip


def option_dest(option: str) -> str:
    """The attribute argparse stores ``option`` in (``--rest-s`` → ``rest_s``)."""
    return option.removeprefix("--").replace("-", "_")


def add_sim_options(p: argparse.ArgumentParser) -> None:
    """The simulated session's options (``SIM_OPTIONS``, and ``--faults``)."""
    g = p.add_argument_group("simulated straps")
    for option, (name, kw) in SIM_OPTIONS.items():
        if "type" in kw:  # named after the option, not the field (--reps REPS)
            kw = {"metavar": option_dest(option).upper(), **kw}
        g.add_argument(option, dest=name, **kw)
    g.add_argument(
        "--faults", default="",
        help="link and clock faults and real-life disturbances, e.g. loss=0.02,outages=1,"
        "drift-ppm=80,knocks=9,bumps=2,sway=typical,all=mild (docs/simulator.md)",
    )  # fmt: skip


def sim_config(args: argparse.Namespace) -> Any:
    """The :class:`collector.simulator.SimConfig` of :func:`add_sim_options`' arguments."""
    from collector.simulator import SimConfig, parse_faults

    try:
        fields = {name: getattr(args, name) for name, _ in SIM_OPTIONS.values()}
        return SimConfig(**fields, **parse_faults(args.faults))
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None


def add_acquisition_options(p: argparse.ArgumentParser) -> None:
    """What ``live`` and ``record`` stream from: the straps (simulated or BLE), how fast a
    simulation runs, the simulated session, and ``--lsl``."""
    add_strap_options(p)
    p.add_argument("--speed", type=float, default=1.0, help="simulated time per real second")
    add_lsl_option(p)
    add_sim_options(p)


def add_strap_options(p: argparse.ArgumentParser) -> None:
    """Which straps: ``--sim``, or BLE ``--shin/--head``, or the saved ``--config``."""
    src = p.add_argument_group("straps (choose --sim, or BLE addresses/names)")
    src.add_argument("--sim", action="store_true", help="use simulated straps")
    for role in ("shin", "head"):  # not args.head: that is the simulator's head strap
        src.add_argument(
            f"--{role}", metavar="ADDR", dest=f"{role}_addr",
            help=f"BLE address or name of the {role} strap",
        )  # fmt: skip
    src.add_argument(
        "--config", type=Path, metavar="PATH",
        help="saved strap config when no straps are named (default: the one 'assign' writes)",
    )  # fmt: skip


def strap_targets(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """The BLE straps of :func:`add_strap_options`' arguments: role → address or name, and where
    they came from (``"command line"`` or the saved config's path).

    Straps named on the command line win; otherwise those ``flossmeter assign`` saved. None at
    all is a :class:`UserError`; a broken config file a ``CollectorError`` (one line each).
    """
    from collector.roles import config_path, describe_straps, load_strap_config

    targets = {r: addr for r in ("shin", "head") if (addr := getattr(args, f"{r}_addr"))}
    if targets:
        return targets, "command line"
    config = load_strap_config(getattr(args, "config", None))
    if config is None or not config.straps:
        path = config_path(getattr(args, "config", None))
        raise UserError(
            f"no straps assigned yet ({path} not found): run 'flossmeter assign' once, "
            "or give --shin ADDR [--head ADDR] (or --sim for simulated straps)"
        )
    log.info("straps from %s: %s", config.path, describe_straps(config.straps))
    return dict(config.targets()), str(config.path)


def add_lsl_option(p: argparse.ArgumentParser) -> None:
    """``--lsl``: publish the straps and reps on Lab Streaming Layer (opens network sockets)."""
    p.add_argument(
        "--lsl", action="store_true",
        help="also publish the straps' samples and the reps as Lab Streaming Layer streams "
        "(LabRecorder records them; docs/lsl-xdf.md)",
    )  # fmt: skip


def check_lsl(args: argparse.Namespace) -> None:
    """With ``--lsl``, pylsl must load (a one-line error otherwise), before any strap connects."""
    if getattr(args, "lsl", False):
        from collector.lsl import import_pylsl

        import_pylsl()


def add_map_option(p: argparse.ArgumentParser) -> None:
    """``--map shin=NAME,head=NAME``: which stream, sensor or tracked point of an imported
    session is which strap."""
    p.add_argument(
        "--map", metavar="ROLE=NAME,…", default=None,
        help="which tracked point or tracking system (BIDS-Motion), stream (XDF) or sensor "
        "file/tag (Movella DOT CSV) is which strap, e.g. shin=LeftShank,head=Head "
        "(default: from their names)",
    )  # fmt: skip


def load_input(path: str | os.PathLike[str], map_text: str | None = None) -> Recording:
    """A session file through the one loader (:func:`collector.io.load`), with ``--map``'s
    roles for formats whose straps are named otherwise (BIDS-Motion, XDF, DOT CSV)."""
    from collector.io import load

    return load(path, roles=parse_map(map_text))


def parse_map(text: str | None) -> dict[str, str] | None:
    """``shin=NAME,head=NAME`` → ``{"shin": NAME, "head": NAME}`` (None if not given); a
    :class:`UserError` in one line for anything else."""
    from collector.model import ROLES

    if text is None:
        return None
    roles: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, sep, name = (x.strip() for x in part.partition("="))
        if not sep or not name:
            raise UserError(f"--map: use ROLE=NAME, e.g. shin=ImuLeftShank, not {part!r}")
        if role not in ROLES:
            raise UserError(f"--map: the roles are {' and '.join(ROLES)}, not {role!r}")
        if role in roles:
            raise UserError(f"--map: {role} is given twice")
        roles[role] = name
    if not roles:
        raise UserError("--map: say which is which, e.g. shin=ImuLeftShank,head=ImuHead")
    return roles


def date_option(text: str | None, option: str = "--since") -> Any:
    """A ``YYYY-MM-DD`` option as a ``datetime.date`` (None if not given); a UserError in one
    line otherwise."""
    import datetime as dt

    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option}: a date as YYYY-MM-DD, not {text!r}") from None
