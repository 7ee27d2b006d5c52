"""Run every benchmark and print one table (``make bench``; ``--quick`` for a short smoke run)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (
    bench_analysis,
    bench_ble,
    bench_cli,
    bench_gui,
    bench_history,
    bench_recording,
    bench_replay,
    bench_simulator,
)

TARGETS = {
    "help_s": ("flossmeter --help", "s", "< 0.3"),
    "simulate_s_per_hour": ("simulate 1 h, 2 straps @ 100 Hz", "s", "well under 1"),
    "write_x_realtime_2x1khz": ("recording write vs 2 straps @ 1 kHz", "×", "> 100"),
    "load_s": ("load 1 h, 2 straps @ 100 Hz", "s", "< 0.3"),
    "csv_over_recording": ("pandas.read_csv of same data / load", "×", "(ratio)"),
    "import_baseline_s": ("import numpy+pandas+scipy.signal (fresh)", "s", "(baseline)"),
    "analyze_beyond_import_s": ("flossmeter analyze 1 h, beyond that import", "s", "≤ 0.5"),
    "analyze_2x_ratio": ("flossmeter analyze, 2 h / 1 h (beyond import)", "×", "≤ 2.1"),
    "analysis_s_per_hour": ("RepAnalysis with angles, per hour (in process)", "s", "(info)"),
    "analysis_peak_mem_ratio": ("analysis peak memory / samples' size", "×", "≤ 3"),
    "replay_first_frame_s": ("replay 1 h: first frame after opening", "s", "≤ 1"),
    "replay_analysis_ready_s": ("replay 1 h: analysis joined after opening", "s", "(info)"),
    "stream_ms_per_block": ("live analysis per 10-sample block", "ms", "≤ 0.2"),
    "event_latency_s_max": ("rep event after the rep ends (max, data time)", "s", "≤ 0.5"),
    "index_s_per_session": ("summarise a session into the library", "s", "(info)"),
    "history_1000_s": ("flossmeter history, 1,000 sessions", "s", "< 0.5"),
    "ble_lost_samples": ("BLE 2 straps @ 1 kHz: samples lost", "", "0"),
    "ble_cpu_client_pct": ("BLE 2 straps @ 1 kHz: collector CPU", "%", "< 25"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    results: dict[str, float] = {}
    modules = (
        bench_cli, bench_simulator, bench_recording, bench_analysis, bench_replay, bench_history,
    )  # fmt: skip
    for mod in (*modules, bench_gui, bench_ble):
        results.update(mod.run(args.quick))
    print(
        f"flossmeter benchmarks ({'quick' if args.quick else 'full'}; {platform.machine()}, "
        f"Python {platform.python_version()})"
    )
    print(
        f"  session: {results['session_h']:.2f} h, {results['samples']:,.0f} samples, "
        f"recording {results['file_mb']:.1f} MB, long CSV {results['csv_mb']:.1f} MB"
    )
    for key, (what, unit, target) in TARGETS.items():
        print(f"  {what:<42} {results[key]:>10.3f} {unit:<2} target {target}")
    print(bench_gui.report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
