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
        length = rng.uniform(0.2, 1.0)
        stalled = (ready >= a) & (ready < a + length)
        arr[stalled] = np.maximum(arr[stalled], a + length + rng.uniform(0, 0.002))
    arr = np.maximum.accumulate(arr)
    clk = ArrivalClock(RATE)
    mapped, truth, held = [], [], []
    for j in np.flatnonzero(keep):
        held += clk.add(per, float(arr[j]), j)
        if clk.clock.ready:
            for k, _, dev in held:
                mapped.append(clk.clock.map(dev))
                truth.append((first[k] + np.arange(per)) / (RATE * (1 + DRIFT)))
            held = []
    for k, _, dev in held + clk.flush():
        mapped.append(clk.clock.map(dev))
        truth.append((first[k] + np.arange(per)) / (RATE * (1 + DRIFT)))
    m, t = np.concatenate(mapped), np.concatenate(truth)
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
