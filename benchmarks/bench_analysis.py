"""Analysis speed: a whole session end to end, linearity in length, and the streaming path.

* end to end: load a recording + angles + segmentation + metrics + write the reps CSV, for a
  1 h and a 2 h two-strap 100 Hz session (target ≤ 1 s for 1 h on one core, 2 h ≤ 2.2 × 1 h);
* streaming: ``OnlineAnalyzer.push`` per 10-sample block, both straps interleaved (target
  ≤ 0.2 ms per block), and how long after a rep ends its event fires, in data time (≤ 0.5 s).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.online import OnlineAnalyzer
from analysis.session import analyze
from benchmarks.common import best_of
from collector.recording import load_recording, write_blocks
from collector.simulator import SimConfig, simulate
from gui.export import write_reps_csv


def _session(hours: float, seed: int = 1):
    sets = max(1, round(28 * hours))
    return simulate(SimConfig(seed=seed, sets=sets, reps_per_set=10, rate_hz=100.0))


def end_to_end(tmp: Path, hours: float) -> dict[str, float]:
    """Seconds to load + analyse + write CSV for a session of ``hours``."""
    s = _session(hours)
    path = tmp / f"s{hours}.flossrec"
    write_blocks(path, (it for _, it in s.timeline()), s.sensors, overwrite=True)
    out = tmp / "reps.csv"
    n = [0]

    def run() -> None:
        rec = load_recording(path)
        result = analyze(rec.samples)
        write_reps_csv(result.reps, out)
        n[0] = len(result.reps)

    run()  # warm imports and caches
    med, _ = best_of(run, repeat=3)
    return {
        "hours": s.duration_s / 3600,
        "seconds": med,
        "reps": n[0],
        "true_reps": len(s.truth.reps),
    }


def streaming(minutes: float = 10.0) -> dict[str, float]:
    """Per-block cost and event latency of the live path (10-sample blocks, both straps)."""
    s = simulate(SimConfig(seed=2, sets=max(1, round(minutes / 4)), reps_per_set=8, rate_hz=100))
    blocks = []
    for role, st in s.streams.items():
        for a in range(0, len(st.time_s), 10):
            b = min(a + 10, len(st.time_s))
            blocks.append(
                (st.time_s[b - 1], role, st.time_s[a:b], st.acc_mps2[a:b], st.gyro_dps[a:b])
            )
    blocks.sort(key=lambda x: x[0])
    an = OnlineAnalyzer(sensors=list(s.streams))
    costs, latency = [], []
    for arrival, role, t, acc, gyro in blocks:
        t0 = time.perf_counter()
        reps = an.push(role, t, acc, gyro)
        costs.append(time.perf_counter() - t0)
        latency += [arrival - r.end_s for r in reps]
    an.finish()
    costs_ms = np.array(costs) * 1e3
    return {
        "blocks": len(costs),
        "ms_per_block_mean": float(costs_ms.mean()),
        "ms_per_block_p50": float(np.percentile(costs_ms, 50)),
        "ms_per_block_p99": float(np.percentile(costs_ms, 99)),
        "latency_s_max": max(latency) if latency else float("nan"),
        "latency_s_median": statistics.median(latency) if latency else float("nan"),
        "reps": len(an.reps),
    }


def run(quick: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        one = end_to_end(tmp, 0.1 if quick else 1.0)
        two = end_to_end(tmp, 0.2 if quick else 2.0)
    st = streaming(2.0 if quick else 10.0)
    return {
        "analysis_s_per_hour": one["seconds"] / one["hours"],
        "analysis_session_h": one["hours"],
        "analysis_session_s": one["seconds"],
        "analysis_2x_ratio": two["seconds"] / one["seconds"],
        "analysis_reps": one["reps"],
        "analysis_true_reps": one["true_reps"],
        "stream_ms_per_block": st["ms_per_block_mean"],
        "stream_ms_per_block_p99": st["ms_per_block_p99"],
        "event_latency_s_max": st["latency_s_max"],
        "event_latency_s_median": st["latency_s_median"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    r = run(ap.parse_args().quick)
    print(
        f"end to end {r['analysis_session_h']:.2f} h: {r['analysis_session_s']:.3f} s "
        f"({r['analysis_reps']} reps of {r['analysis_true_reps']}); 2× length: "
        f"{r['analysis_2x_ratio']:.2f}× the time"
    )
    print(
        f"streaming: {r['stream_ms_per_block']:.3f} ms per 10-sample block (p99 "
        f"{r['stream_ms_per_block_p99']:.3f}); rep event {r['event_latency_s_median']:.2f} s "
        f"(max {r['event_latency_s_max']:.2f} s) after the rep ends"
    )


if __name__ == "__main__":
    main()
