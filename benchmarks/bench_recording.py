"""Recording speed: write throughput, and load time of an hour vs pandas.read_csv of the same data.

Writes follow the live pattern: one notification per block (50 ms of samples), a commit every
0.2 s of session time, as the recorder does in real time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import best_of, print_report, session_config
from collector.csvio import write_samples_csv
from collector.model import SampleBlock, SensorInfo
from collector.recording import Recorder, load_recording

#: What the script prints, line by line (templates over :func:`run`'s figures).
REPORT = (
    "write: {write_samples_per_s:,.0f} samples/s = {write_x_realtime_2x1khz:.0f}× two straps at "
    "1 kHz",
    "load {session_h:.2f} h ({samples:,.0f} samples, {file_mb:.1f} MB): {load_s:.3f} s;"
    " pandas.read_csv of the same long CSV ({csv_mb:.1f} MB): {read_csv_s:.3f} s"
    " ({csv_over_recording:.0f}× slower)",
)


def _write_live_pattern(path: Path, items, sensors, commit_every_s: float = 0.2) -> int:
    n = 0
    with Recorder(path, sensors, overwrite=True, commit_interval_s=1e9) as rec:
        next_commit = commit_every_s
        for arrival, item in items:
            if arrival >= next_commit:
                rec.flush()
                next_commit += commit_every_s
            if isinstance(item, SampleBlock):
                rec.on_block(item)
                n += len(item)
            else:
                rec.on_event(item)
    return n


def write_throughput(tmp: Path, seconds: float = 60.0) -> dict[str, float]:
    """Two straps at 1 kHz, 50 samples per notification: samples written per second."""
    rate, per_packet = 1000.0, 50
    rng = np.random.default_rng(0)
    items = []
    for p in range(int(seconds * rate / per_packet)):
        for role in ("shin", "head"):
            idx = np.arange(p * per_packet, (p + 1) * per_packet)
            t = idx / rate
            acc, gyr = rng.normal(0, 9.8, (per_packet, 3)), rng.normal(0, 100, (per_packet, 3))
            raw = rng.bytes(12 + 12 * per_packet)
            items.append(
                (t[-1], SampleBlock(role, t, t + 100, acc, gyr, idx, raw, "bench/1", t[-1]))
            )
    sensors = [SensorInfo(r, "bench", rate) for r in ("shin", "head")]
    path = tmp / "throughput.flossrec"
    n = 0

    def write():
        nonlocal n
        n = _write_live_pattern(path, items, sensors)

    med, _ = best_of(write, repeat=3)
    return {"write_samples_per_s": n / med, "write_x_realtime_2x1khz": n / med / (2 * rate)}


def load_times(tmp: Path, quick: bool) -> dict[str, float]:
    """Load the session from the recording vs pandas.read_csv of the same data as long CSV."""
    import pandas as pd

    from collector.simulator import simulate

    session = simulate(session_config(quick))
    path = tmp / "hour.flossrec"
    _write_live_pattern(path, session.timeline(), session.sensors)
    rec = load_recording(path)
    csv = tmp / "hour.csv"
    write_samples_csv(rec, csv)
    load_s, _ = best_of(lambda: load_recording(path), repeat=5)
    csv_s, _ = best_of(lambda: pd.read_csv(csv), repeat=3)
    return {
        "session_h": rec.duration_s / 3600,
        "samples": float(sum(len(df) for df in rec.samples.values())),
        "file_mb": path.stat().st_size / 1e6,
        "csv_mb": csv.stat().st_size / 1e6,
        "load_s": load_s,
        "read_csv_s": csv_s,
        "csv_over_recording": csv_s / load_s,
    }


def run(quick: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        return write_throughput(tmp, 10.0 if quick else 60.0) | load_times(tmp, quick)


def main() -> None:
    print_report(__doc__, run, *REPORT)


if __name__ == "__main__":
    main()
