"""Analysis speed and memory: the CLI end to end, linearity in length, and the streaming path.

* ``flossmeter analyze S.flossrec -o reps.csv`` in a fresh process (load, analyse, write the
  CSV) for a 1 h and a 2 h two-strap 100 Hz session: the time beyond the import of numpy, pandas
  and scipy.signal, measured in the same process (targets: ≤ 0.5 s for 1 h; 2 h ≤ 2.1 × 1 h);
* in process: ``RepAnalysis`` over the loaded samples (with angles, as replay runs it), and its
  peak traced memory over the size of the samples (target ≤ 3 ×);
* streaming: ``OnlineAnalyzer.push`` per 10-sample block, both straps interleaved (target
  ≤ 0.2 ms per block), and how long after a rep ends its event fires, in data time (≤ 0.5 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from analysis.online import OnlineAnalyzer
from analysis.session import RepAnalysis
from benchmarks.common import best_of, print_report
from collector.recording import load_recording, write_blocks
from collector.simulator import SimConfig, simulate

ROOT = Path(__file__).resolve().parents[1]

#: What the script prints, line by line (templates over :func:`run`'s figures).
REPORT = (
    "flossmeter analyze {analysis_session_h:.2f} h (fresh process): {analyze_cli_s:.3f} s ="
    " import of numpy+pandas+scipy.signal {import_baseline_s:.3f} s +"
    " {analyze_beyond_import_s:.3f} s; 2× length: {analyze_2x_ratio:.2f}× the time beyond the"
    " import",
    "in process, with angles: {analysis_session_s:.3f} s ({analysis_reps} reps of"
    " {analysis_true_reps}); peak memory {analysis_peak_mem_ratio:.2f}× the samples"
    " ({analysis_samples_mb:.0f} MB)",
    "streaming: {stream_ms_per_block:.3f} ms per 10-sample block (p99"
    " {stream_ms_per_block_p99:.3f}); rep event {event_latency_s_median:.2f} s (max"
    " {event_latency_s_max:.2f} s) after the rep ends",
)


def _session(hours: float, seed: int = 1):
    sets = max(1, round(28 * hours))
    return simulate(SimConfig(seed=seed, sets=sets, reps_per_set=10, rate_hz=100.0))


def _write(tmp: Path, hours: float):
    s = _session(hours)
    path = tmp / f"s{hours}.flossrec"
    write_blocks(path, (it for _, it in s.timeline()), s.sensors, overwrite=True)
    return s, path


#: ``flossmeter analyze`` in a fresh interpreter that first imports numpy, pandas and
#: scipy.signal and prints how long that took and how long the command took after it.
_TIMED_CLI = """
import sys, time
t0 = time.perf_counter()
import numpy, pandas, scipy.signal
t1 = time.perf_counter()
from gui.cli import main
code = main(sys.argv[1:])
print(t1 - t0, time.perf_counter() - t1, code)
"""


def _timed_analyze(path: Path, out: Path) -> tuple[float, float]:
    """(import of numpy+pandas+scipy.signal, the rest of ``flossmeter analyze``) in s, one
    fresh process."""
    cmd = [sys.executable, "-c", _TIMED_CLI, "analyze", "--jobs", "1", "-o", str(out), str(path)]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    imports, rest, code = res.stdout.split()[-3:]
    if code != "0":
        raise RuntimeError(f"flossmeter analyze exited with {code}: {res.stderr.strip()}")
    return float(imports), float(rest)


def cli(paths: dict[float, Path], out: Path, repeat: int) -> dict[str, float]:
    """``flossmeter analyze`` per session length in fresh processes: the smallest time beyond
    the import of numpy+pandas+scipy.signal (measured in the same process), and that import."""
    imports, runs = [], {h: [] for h in paths}
    for _ in range(repeat):
        for h, p in paths.items():
            t_import, t_rest = _timed_analyze(p, out)
            imports.append(t_import)
            runs[h].append(t_rest)
    return {"import": min(imports)} | {h: min(v) for h, v in runs.items()}


def in_process(path: Path, repeat: int) -> dict[str, float]:
    """``RepAnalysis`` (with angles) over the loaded samples: time, reps, peak memory ratio."""
    rec = load_recording(path)
    n = [0]

    def run() -> None:
        n[0] = len(RepAnalysis().run(rec.samples).reps_)

    run()  # warm lazy imports and caches
    med, _ = best_of(run, repeat=repeat)
    size = sum(int(df.memory_usage(index=False).sum()) for df in rec.samples.values())
    tracemalloc.start()
    RepAnalysis().run(rec.samples)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": med, "reps": n[0], "peak_ratio": peak / size, "samples_mb": size / 1e6}


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
    h1, h2 = (0.1, 0.2) if quick else (1.0, 2.0)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        s1, p1 = _write(tmp, h1)
        _, p2 = _write(tmp, h2)
        fresh = cli({h1: p1, h2: p2}, tmp / "reps.csv", repeat=2 if quick else 5)
        inproc = in_process(p1, repeat=1 if quick else 3)
    st = streaming(2.0 if quick else 10.0)
    hours = s1.duration_s / 3600
    return {
        "import_baseline_s": fresh["import"],
        "analyze_cli_s": fresh["import"] + fresh[h1],
        "analyze_beyond_import_s": fresh[h1],
        "analyze_2x_ratio": fresh[h2] / fresh[h1],
        "analysis_s_per_hour": inproc["seconds"] / hours,
        "analysis_session_h": hours,
        "analysis_session_s": inproc["seconds"],
        "analysis_peak_mem_ratio": inproc["peak_ratio"],
        "analysis_samples_mb": inproc["samples_mb"],
        "analysis_reps": inproc["reps"],
        "analysis_true_reps": len(s1.truth.reps),
        "stream_ms_per_block": st["ms_per_block_mean"],
        "stream_ms_per_block_p99": st["ms_per_block_p99"],
        "event_latency_s_max": st["latency_s_max"],
        "event_latency_s_median": st["latency_s_median"],
    }


def main() -> None:
    print_report(__doc__, run, *REPORT)


if __name__ == "__main__":
    main()
