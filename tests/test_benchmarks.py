"""The benchmark suite runs (quick sizes) and reports every figure it promises."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_benchmarks_run_and_report(tmp_path):
    out_json = tmp_path / "bench.json"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "run_all.py"),
        "--quick",
        "--json",
        str(out_json),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tmp_path)
    results = json.loads(out_json.read_text())
    for key in (
        "help_s",
        "simulate_s_per_hour",
        "write_x_realtime_2x1khz",
        "load_s",
        "csv_over_recording",
    ):
        assert results[key] > 0
    assert "recording write vs 2 straps @ 1 kHz" in out.stdout
    assert results["samples"] > 50_000
