"""The command line: real commands end to end, lazy imports, one-line errors with exit code 2."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from collector.recording import load_recording
from gui.cli import main
from tests.conftest import ROOT
from tests.gui.imports import loaded_after


def test_help_imports_no_heavy_module():
    code = "import gui.cli; gui.cli.build_parser().format_help()"
    assert loaded_after(code, ("numpy", "pandas", "PySide6", "bleak", "scipy")) == []


def test_console_script_help(flossmeter_cmd):
    out = subprocess.run([*flossmeter_cmd, "--help"], capture_output=True, text=True, check=True)
    for cmd in ("demo", "simulate", "record", "export", "info"):
        assert cmd in out.stdout


def test_simulate_info_export(tmp_path, capsys):
    rec = tmp_path / "s.flossrec"
    argv = ["simulate", "-o", str(rec), "--sets", "2", "--reps", "3", "--seed", "4", "--rate-hz"]
    argv += ["50", "--technique", "mixed", "--faults", "loss=0.05,outages=1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ground truth: 2 sets, 6 reps" in out
    r = load_recording(rec)
    assert r.rate_hz("shin") == pytest.approx(50.0, rel=1e-3)
    assert {x["technique"] for x in r.ground_truth.reps} == {"slider", "tensioner"}
    assert r.gaps("shin")["lost"].sum() > 0

    assert main(["info", str(rec)]) == 0
    info = capsys.readouterr().out
    assert "shin" in info and "head" in info and "disconnected" in info

    csv = tmp_path / "s.csv"
    assert main(["export", str(rec), "--samples-csv", str(csv)]) == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"
    assert len(lines) - 1 == sum(len(df) for df in r.samples.values())


def test_shin_only_session(tmp_path, capsys):
    rec = tmp_path / "shin.flossrec"
    assert (
        main(
            [
                "simulate",
                "-o",
                str(rec),
                "--shin-only",
                "--sets",
                "1",
                "--reps",
                "2",
                "--rate-hz",
                "25",
            ]
        )
        == 0
    )
    r = load_recording(rec)
    assert list(r.samples) == ["shin"]
    assert "head    (none)" in capsys.readouterr().out


def test_record_sim_in_real_time_writes_the_simulated_stream(tmp_path, capsys):
    rec = tmp_path / "live.flossrec"
    assert (
        main(
            [
                "record",
                "--sim",
                "-o",
                str(rec),
                "--duration-s",
                "1.5",
                "--speed",
                "4",
                "--seed",
                "9",
            ]
        )
        == 0
    )
    r = load_recording(rec)
    assert r.closed_cleanly
    # ≈ 1.5 s × 4; a busy machine stops the source a few hundred ms of wall time late
    assert 4.0 <= r.duration_s <= 8.0
    from collector.simulator import SimConfig, simulate

    s = simulate(SimConfig(seed=9))
    idx = r.samples["shin"]["sample_index"].to_numpy()
    np.testing.assert_allclose(
        r.samples["shin"]["gyr_y"], s.streams["shin"].gyro_dps[idx, 1], atol=1e-4
    )


@pytest.mark.parametrize(
    "argv,message",
    [
        (["info", "/nonexistent/x.flossrec"], "no such file"),
        (["simulate", "-o", "{tmp}/a.flossrec", "--rate-hz", "5000"], "25–1000 Hz"),
        (["simulate", "-o", "{tmp}/a.flossrec", "--faults", "rain=3"], "unknown fault"),
        (["simulate", "-o", "{tmp}/a.flossrec", "--reps", "0"], "at least one set of one rep"),
        (["record", "--sim", "-o", "{tmp}/r.flossrec", "--sets", "0"], "at least one set"),
        (["simulate", "-o", "{tmp}/nofolder/a.flossrec"], "does not exist"),
        (["export", "{tmp}/x.csv"], "--samples-csv"),
        (["record", "--sim", "-o", "{tmp}/r.flossrec", "--duration-s", "-1"], "must be positive"),
    ],
)
def test_errors_are_one_line_and_exit_2(tmp_path, flossmeter_cmd, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    out = subprocess.run([*flossmeter_cmd, *argv], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flossmeter: error:") and message in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("module", ["gui", "gui.cli"])
def test_python_dash_m_gives_the_same_one_line_errors(tmp_path, module):
    # `python -m gui.cli` once ran the command line as __main__ beside the imported gui.cli, so
    # its UserError was another class and a bad argument ended in a traceback
    out = subprocess.run(
        [sys.executable, "-m", module, "simulate", "-o", str(tmp_path / "x"), "--rate-hz", "5000"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flossmeter: error:") and "5000" in lines[0]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x").exists()
    ok = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                        cwd=ROOT)  # fmt: skip
    assert ok.returncode == 0 and ok.stdout.startswith("usage: flossmeter")


def test_demo_writes_and_summarises_a_recording(tmp_path, capsys):
    out = tmp_path / "demo.flossrec"
    assert main(["demo", "--headless", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ground truth: 2 sets, 12 reps" in text
    assert "total: 12 reps in 2 sets" in text
    assert (
        out.with_name("demo.reps.csv").exists()
        and out.with_name("demo.reps.dictionary.csv").exists()
    )
    assert load_recording(out).closed_cleanly


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_record_stops_cleanly_on_interrupt(tmp_path, flossmeter_cmd, sig):
    path = tmp_path / "i.flossrec"
    cmd = [*flossmeter_cmd, "-q", "record", "--sim", "-o", str(path), "--duration-s", "30"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    rec = load_recording(path)
    assert rec.closed_cleanly and 0.5 < rec.duration_s < 10
    assert "closed cleanly: yes" in out


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    # `flossmeter dictionary | head -0`: the reader is gone before the first line is written
    # (unbuffered, so the write fails inside the command, not at the interpreter's exit)
    env = os.environ | {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gui", "dictionary"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=env)  # fmt: skip
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "Broken" not in err


@pytest.mark.parametrize(
    "command", [["simulate", "-o", "x"], ["record", "--sim", "-o", "x"], ["live", "--sim"]]
)
def test_sim_options_set_the_simulator_fields_they_name(command):
    from collector.simulator import SimConfig
    from gui.cli import build_parser
    from gui.options import sim_config

    def config(*argv):
        return sim_config(build_parser().parse_args([*command, *argv]))

    # no option: the simulator's own defaults (two straps: record and live once lost the head
    # to their BLE --head option, which stored into the same attribute as --shin-only)
    assert config() == SimConfig() and SimConfig().head
    argv = ["--sets", "3", "--reps", "5", "--seed", "7", "--rate-hz", "50", "--head-rate-hz",
            "25", "--technique", "mixed", "--variety", "messy", "--no-fidgets", "--shin-only",
            "--no-calibration", "--noise", "0.5", "--mounting", "nominal",
            "--faults", "loss=0.1"]  # fmt: skip
    assert config(*argv) == SimConfig(
        sets=3, reps_per_set=5, seed=7, rate_hz=50.0, head_rate_hz=25.0, technique="mixed",
        variety="messy", fidgets=False, head=False, calibration=False, noise=0.5,
        mounting="nominal", loss=0.1,
    )  # fmt: skip


def test_no_two_options_of_a_command_store_into_the_same_attribute():
    """Two options with one ``dest`` silently share a value (the first one's default wins)."""
    import argparse

    from gui.cli import build_parser

    def clashes(parser, name):
        seen: dict[str, str] = {}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, p in action.choices.items():
                    yield from clashes(p, f"{name} {sub}")
            elif action.dest in seen:
                yield f"{name}: {seen[action.dest]} and {'/'.join(action.option_strings)}"
            else:
                seen[action.dest] = "/".join(action.option_strings) or action.dest

    assert list(clashes(build_parser(), "flossmeter")) == []
