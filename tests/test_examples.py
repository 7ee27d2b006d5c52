"""The examples gallery (docs/examples/) runs: each script as a user would, in a fresh folder,
on the shipped sample (or a small simulated study), its output checked against the truth."""

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from collector.io import load
from collector.recording import write_blocks
from collector.simulator import SimConfig, simulate
from tests.conftest import ROOT

EXAMPLES = ROOT / "docs" / "examples"
SAMPLE = ROOT / "recordings" / "sample-slider-2x5.flossrec"


def run(script: str, *args: str, cwd: Path) -> str:
    """Run an example script in ``cwd``; its standard output (it must exit 0)."""
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def sample_truth() -> int:
    """Reps in the shipped sample, from the simulator's ground truth stored in it."""
    return len(load(SAMPLE).ground_truth.reps)


def test_every_example_is_tested_and_the_readme_links_the_gallery():
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    tested = {"analyse_recording.py", "plot_session.py", "batch_study.py", "export_bids.py"}
    tested.add("stream_lsl.py")  # run beside `record --lsl` in tests/collector/test_lsl.py
    assert scripts == tested
    readme = (ROOT / "README.md").read_text()
    assert "docs/examples/" in readme
    for name in scripts:
        assert f"docs/examples/{name}" in readme


def test_analyse_a_recording(tmp_path, sample_truth):
    out = run("analyse_recording.py", "-o", "reps.csv", cwd=tmp_path)
    assert f"ground truth: {sample_truth} reps; found {sample_truth}" in out
    assert len(pd.read_csv(tmp_path / "reps.csv")) == sample_truth


def test_plot_a_session(tmp_path, sample_truth):
    out = run("plot_session.py", str(SAMPLE), "-o", "s.png", cwd=tmp_path)
    assert f"({sample_truth} reps shaded)" in out
    png = (tmp_path / "s.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (1000, 350)  # 10 × 3.5 in at 100 dpi


def test_batch_a_study_folder(tmp_path, sample_truth):
    study = tmp_path / "study"
    (study / "sample").mkdir(parents=True)
    shutil.copy(SAMPLE, study / "sample" / "a.flossrec")
    session = simulate(
        SimConfig(seed=1, sets=1, reps_per_set=3, rate_hz=50, loss=0.02, outages=1,
                  variety="clean")
    )  # fmt: skip
    (study / "P2").mkdir()
    items = (i for _, i in session.timeline())
    write_blocks(study / "P2" / "b.flossrec", items, session.sensors, {"participant": "P2"})
    out = run("batch_study.py", str(study), "-o", "all.csv", cwd=tmp_path)
    table = pd.read_csv(tmp_path / "all.csv")
    assert table.groupby("participant").size().to_dict() == {
        "P2": len(session.truth.reps),
        "sample": sample_truth,
    }
    assert f"wrote {sample_truth + 3} reps of 2 sessions" in out


def test_export_bids(tmp_path):
    out = run("export_bids.py", str(SAMPLE), "-o", "ds", cwd=tmp_path)
    assert "validator: 0 errors" in out
    original = load(SAMPLE)
    for role, df in original.samples.items():
        assert f"{role} {len(df)} samples" in out  # read back: every sample of every strap
    assert (tmp_path / "ds" / "dataset_description.json").is_file()
