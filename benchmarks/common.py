"""Helpers for the benchmark scripts: timing and a one-hour simulated session."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from collector.simulator import SimConfig

ONE_HOUR = SimConfig(seed=1, sets=28, reps_per_set=10, rate_hz=100.0)  # ≈ 62 min, 2 straps


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float]:
    """(median, min) wall time of ``fn`` in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def session_config(quick: bool) -> SimConfig:
    """The one-hour session, or a 1/10 of it for a quick run."""
    if quick:
        return SimConfig(seed=1, sets=3, reps_per_set=10, rate_hz=100.0)
    return ONE_HOUR


def quick_flag(doc: str | None) -> bool:
    """Parse a benchmark script's command line: ``--quick`` for small sizes (a smoke run)."""
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    return ap.parse_args().quick


def print_report(
    doc: str | None,
    run: Callable[[bool], dict[str, float]],
    *lines: str,
    **derived: Callable[[dict[str, float]], float],
) -> None:
    """A benchmark script's ``main``: its figures (``run``, ``--quick`` from the command line)
    printed in words. Each of ``lines`` is a :meth:`str.format` template over the figures and
    the ``derived`` ones (name → a function of the figures, e.g. a time in other units)."""
    figures = run(quick_flag(doc))
    figures |= {name: f(figures) for name, f in derived.items()}
    for line in lines:
        print(line.format_map(figures))
