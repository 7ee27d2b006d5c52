"""Timing a strap without a clock (WitMotion): host stalls and losses through ``ArrivalClock``.

Each session: 20 s of one sample a notification at 100 Hz (the sensor's crystal 60 ppm fast)
over a random BLE link (``tests/ble/linkmodel.py``: connection interval 7.5–50 ms, batching,
resends); 0–3 host stalls of 0.2–1 s (what became ready meanwhile arrives when the host wakes
up; stalls may overlap) and 0–2 losses of 0.3–1.2 s, at random times. Each notification goes
through ``ArrivalClock.add`` and is mapped as the link maps it (held until the clock is ready).

Reported: sessions whose session times ever run back; samples counted lost against those really
lost; the timing error (mapped − true, less the session's median: the fixed delivery delay),
its 95th percentile and maximum over sessions.

``python benchmarks/arrival_clock.py [--sessions 400] [--seed0 0]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.clock import ArrivalClock
from tests.ble.linkmodel import LinkModel

RATE = 100.0
DRIFT = 60e-6


def stall(
    arrivals: np.ndarray,
    ready_s: np.ndarray,
    start_s: float,
    length_s: float,
    rng: np.random.Generator,
) -> None:
    """The host busy from ``start_s`` for ``length_s``: what became ready meanwhile arrives
    when it wakes up (``arrivals`` changed in place)."""
    stalled = (ready_s >= start_s) & (ready_s < start_s + length_s)
    arrivals[stalled] = np.maximum(arrivals[stalled], start_s + length_s + rng.uniform(0, 0.002))


def through_clock(
    clk: ArrivalClock, per: int, arrivals: np.ndarray, keep: np.ndarray
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The kept notifications (``per`` samples each) through ``clk.add`` and its mapping, as
    the WitMotion link does it (held until the clock is ready; the hold flushed at the end):
    ``(notification, sample_index, session_time_s)`` in the order they were mapped."""
    out, held = [], []
    for j in np.flatnonzero(keep):
        held += clk.add(per, float(arrivals[j]), int(j))
        if clk.clock.ready:
            out += [(k, idx, clk.clock.map(dev)) for k, idx, dev in held]
            held = []
    return out + [(k, idx, clk.clock.map(dev)) for k, idx, dev in held + clk.flush()]


def session(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    per = int(rng.integers(1, 4))
    n = int(20.0 * RATE)
    ready = (np.arange(per - 1, n, per)) / (RATE * (1 + DRIFT))  # each notification's last sample
    first = np.arange(0, n - per + 1, per)
    keep = np.ones(len(ready), bool)
    for a in rng.uniform(3, 15, int(rng.integers(0, 3))):
        keep[(ready >= a) & (ready < a + rng.uniform(0.3, 1.2))] = False
    arr = LinkModel.random(rng).arrivals(ready, rng)
    for a in rng.uniform(3, 15, int(rng.integers(0, 4))):
        stall(arr, ready, a, rng.uniform(0.2, 1.0), rng)
    arr = np.maximum.accumulate(arr)
    clk = ArrivalClock(RATE)
    got = through_clock(clk, per, arr, keep)
    m = np.concatenate([t for _, _, t in got])
    t = np.concatenate([(first[k] + np.arange(per)) / (RATE * (1 + DRIFT)) for k, _, _ in got])
    err = m - t
    return {
        "back": float((np.diff(m) <= 0).any()),
        "lost": float(per * (~keep).sum()),
        "counted_lost": float(clk.inferred_lost),
        "err_max_s": float(np.abs(err - np.median(err)).max()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=400)
    ap.add_argument("--seed0", type=int, default=0)
    args = ap.parse_args(argv)
    rows = [session(args.seed0 + i) for i in range(args.sessions)]
    err = np.array([r["err_max_s"] for r in rows])
    print(
        f"{len(rows)} sessions: times ran back in {int(sum(r['back'] for r in rows))}; "
        f"samples lost {int(sum(r['lost'] for r in rows)):,}, counted lost "
        f"{int(sum(r['counted_lost'] for r in rows)):,}; timing error per session "
        f"p95 {np.percentile(err, 95):.3f} s, max {err.max():.3f} s"
    )


if __name__ == "__main__":
    main()
