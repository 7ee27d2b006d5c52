"""Head–shin alignment of two straps mapped online by ``DeviceClock``, on a quiet or busy host.

Each session: two straps at 100 Hz, two samples a notification, crystals ``+drift`` and
``−drift`` ppm (100 by default), each over its own random BLE link (``tests/ble/linkmodel.py``:
connection interval 7.5–50 ms, batching, resends, 0.5 ms host-stack jitter), with time-sync
pings at random moments as the collector sends them. Each strap's notifications and ping stamps
go through its ``DeviceClock`` as the strap link feeds them (blocks held until the clock is
ready); the alignment error is the difference of the two straps' mapping errors (mapped − true
session time) on a 10 ms grid from the moment both are mapped.

``--busy`` adds what a loaded 2-core host adds on top of the stack: every ping leaves later than
its ``sent`` stamp and every notification is stamped later than it reached the stack, by a floor
common to both straps that changes every 1–8 s (uniform 0–``floor`` ms; a process competing for
the core) plus an exponential delay of its own (mean ``jitter`` ms), and 0–3 stalls of 20–80 ms.

Reported over the sessions: the worst alignment error of each session — median, 95th percentile
and maximum — and the sessions whose worst exceeds 2 ms (the design's budget).

``python benchmarks/clock_alignment.py [--sessions 100] [--seed0 0] [--duration-s 120] [--busy]``
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.clock import DeviceClock, next_ping_delay_s
from tests.ble.linkmodel import LinkModel

RATE = 100.0


@dataclass(frozen=True)
class HostLoad:
    """Extra host delays (s) as a function of session time: a floor common to every stream,
    piecewise constant, and stalls; each event adds an exponential delay of its own."""

    edges: np.ndarray  # segment starts (s), increasing, edges[0] = 0
    floors: np.ndarray  # floor (s) of each segment
    stalls: np.ndarray  # (k, 2): start, length (s)
    jitter_s: float

    @classmethod
    def quiet(cls) -> HostLoad:
        return cls(np.zeros(1), np.zeros(1), np.zeros((0, 2)), 0.0)

    @classmethod
    def busy(
        cls, rng: np.random.Generator, dur_s: float, floor_s: float = 1e-3, jitter_s: float = 5e-4
    ) -> HostLoad:
        edges = np.concatenate([[0.0], np.cumsum(rng.uniform(1.0, 8.0, int(dur_s) + 1))])
        floors = rng.uniform(0.0, floor_s, len(edges))
        k = int(rng.integers(0, 4))
        stalls = np.column_stack([rng.uniform(0, dur_s, k), rng.uniform(0.02, 0.08, k)])
        return cls(edges, floors, stalls, jitter_s)

    def delay(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """When events the host meets at ``t`` are done: ``t`` plus the host's delays."""
        t = np.asarray(t, dtype=np.float64)
        out = t + self.floors[np.searchsorted(self.edges, t, side="right") - 1]
        if self.jitter_s > 0:
            out = out + rng.exponential(self.jitter_s, len(t))
        for start, length in self.stalls:
            inside = (out >= start) & (out < start + length)
            out[inside] = start + length
        return out


def stream(
    rng: np.random.Generator,
    drift_ppm: float,
    dur_s: float,
    host: HostLoad | None = None,
    per: int = 2,
    pings: bool = True,
    clock: DeviceClock | None = None,
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Map one simulated strap online (held back until the clock is ready): the true session
    times of the mapped samples, their mapping errors (s) and when the clock became ready (s,
    the arrival that made it so)."""
    host = host or HostLoad.quiet()
    true_t = 0.2 + np.arange(int(dur_s * RATE)) / RATE
    off = rng.uniform(10, 4000)
    dev = off + (1 + drift_ppm * 1e-6) * true_t
    link = LinkModel.random(rng)  # connection interval 7.5–50 ms, batching, resends
    starts = np.arange(0, len(true_t) - per, per)
    arrivals = link.arrivals(true_t[starts + per - 1] + 3e-4, rng)
    arrivals = np.maximum.accumulate(host.delay(arrivals, rng))  # stamped when the host gets to it
    events = [(a, 0, s) for a, s in zip(arrivals, starts, strict=True)]
    if pings:
        sent, t = [], 0.0
        while t < dur_s:
            t += next_ping_delay_s(rng, t)
            sent.append(t)
        sent = np.array(sent)
        got = link.downlink(host.delay(sent, rng), rng)  # the write leaves when the host sends it
        dev_got = off + (1 + drift_ppm * 1e-6) * got
        events += [
            (g + link.interval_s, 1, (d, s)) for g, d, s in zip(got, dev_got, sent, strict=True)
        ]
    events.sort(key=lambda e: e[0])
    clk = clock or DeviceClock(expect_sync=pings)
    mapped = np.full(len(true_t), np.nan)
    held, ready_at = [], None
    for arrival, kind, x in events:
        if kind == 1:
            clk.observe_sync(*x)
            continue
        clk.observe(dev[x + per - 1], arrival)
        held.append(slice(x, x + per))
        if clk.ready:
            for h in held:
                mapped[h] = clk.map(dev[h])
            held = []
            ready_at = arrival if ready_at is None else ready_at
    ok = ~np.isnan(mapped)
    return true_t[ok], mapped[ok] - true_t[ok], ready_at


def alignment_ms(
    seed: int,
    dur_s: float = 120.0,
    pings: bool = True,
    busy: bool = False,
    drift_ppm: float = 100.0,
) -> tuple[np.ndarray, float, bool]:
    """|head − shin| mapping error (ms) on a 10 ms grid, when both clocks were ready (s), and
    whether both straps' mapped times only ever increased."""
    rng = np.random.default_rng(seed)
    host = HostLoad.busy(rng, dur_s) if busy else None
    ts, es, ready_s = stream(rng, +drift_ppm, dur_s, host, pings=pings)
    th, eh, ready_h = stream(rng, -drift_ppm, dur_s, host, pings=pings)
    grid = np.arange(max(ts[0], th[0]), min(ts[-1], th[-1]), 0.01)
    err = np.abs(np.interp(grid, th, eh) - np.interp(grid, ts, es)) * 1e3
    forward = bool((np.diff(ts + es) > 0).all() and (np.diff(th + eh) > 0).all())
    return err, max(ready_s or math.inf, ready_h or math.inf), forward


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--duration-s", type=float, default=120.0)
    ap.add_argument("--busy", action="store_true", help="a loaded host (see the module's text)")
    args = ap.parse_args(argv)
    rows = [
        alignment_ms(args.seed0 + i, args.duration_s, busy=args.busy) for i in range(args.sessions)
    ]
    worst = np.array([e.max() for e, _, _ in rows])
    first = np.array([f for _, f, _ in rows])
    print(
        f"{len(rows)} sessions of {args.duration_s:g} s ({'busy' if args.busy else 'quiet'} host):"
        f" worst alignment error per session median {np.median(worst):.2f} ms, p95"
        f" {np.percentile(worst, 95):.2f} ms, max {worst.max():.2f} ms; over 2 ms in"
        f" {int((worst > 2.0).sum())}; times ran back in {sum(not f for _, _, f in rows)};"
        f" both clocks ready after ≤ {first.max():.2f} s"
    )


if __name__ == "__main__":
    main()
