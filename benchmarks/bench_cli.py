"""CLI start-up: wall time of `flossmeter --help` in a fresh process (median of 10)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def run(quick: bool = False) -> dict[str, float]:
    exe = Path(sys.executable).with_name("flossmeter")
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "gui.cli", "--help"]
    times = []
    for _ in range(3 if quick else 10):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return {"help_s": statistics.median(times)}


if __name__ == "__main__":
    print(f"flossmeter --help: {run()['help_s'] * 1000:.0f} ms")
