"""Simulator speed: a two-strap 100 Hz session generated in one batch."""

from __future__ import annotations

from benchmarks.common import best_of, print_report, session_config
from collector.simulator import simulate

#: What the script prints (a template over :func:`run`'s figures).
REPORT = (
    "simulate {session_h:.2f} h, 2 straps @ 100 Hz: {simulate_s:.3f} s"
    " ({simulate_s_per_hour:.3f} s per hour)"
)


def run(quick: bool = False) -> dict[str, float]:
    config = session_config(quick)
    session = simulate(config)
    hours = session.duration_s / 3600
    med, _ = best_of(lambda: simulate(config), repeat=3)
    return {"session_h": hours, "simulate_s": med, "simulate_s_per_hour": med / hours}


def main() -> None:
    print_report(__doc__, run, REPORT)


if __name__ == "__main__":
    main()
