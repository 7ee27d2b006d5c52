"""``flossmeter scan`` and ``flossmeter record --shin --head`` against the emulated BlueZ."""

import os
import subprocess

import pytest

from collector.recording import load_recording
from tests.ble.harness import HEAD, SHIN, bluez_session, strap_device


@pytest.fixture
def bluez(tmp_path, monkeypatch):
    yield from bluez_session(tmp_path, monkeypatch)


def run(cmd, *args, timeout=60):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())  # fmt: skip


def test_scan_command(bluez, flossmeter_cmd):
    bluez.start([strap_device(SHIN, "shin"), {"kind": "other", "address": "C0:FF:EE:00:00:09",
                                              "name": "Mi Band 5"}])  # fmt: skip
    out = run(flossmeter_cmd, "scan", "--timeout-s", "1")
    assert out.returncode == 0, out.stderr
    assert "FLOSS-0001" in out.stdout and "flossmeter strap" in out.stdout
    assert "Mi Band" not in out.stdout
    assert "Mi Band 5" in run(flossmeter_cmd, "scan", "--timeout-s", "1", "--all").stdout


def test_record_against_emulator(bluez, flossmeter_cmd, tmp_path):
    bluez.start([strap_device(SHIN, "shin"), strap_device(HEAD, "head")])
    path = tmp_path / "ble.flossrec"
    out = run(flossmeter_cmd, "record", "--shin", SHIN, "--head", HEAD, "-o", str(path),
              "--duration-s", "6", "--participant", "P07")  # fmt: skip
    assert out.returncode == 0, out.stderr
    rec = load_recording(path)
    assert rec.closed_cleanly and rec.meta["source"] == "ble" and rec.meta["participant"] == "P07"
    for role in ("shin", "head"):
        assert rec.sensors[role]["kind"] == "flossmeter-strap"
        assert len(rec.samples[role]) > 300 and len(rec.gaps(role)) == 0
    assert "shin" in out.stderr and "Hz" in out.stderr  # the live status line


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", [], "BlueZ is not running"),
        ("strap", ["--shin", "AA:BB:CC:DD:EE:FF"], "no device 'AA:BB:CC:DD:EE:FF'"),
        ("no-adapter", ["--shin", SHIN], "no usable Bluetooth adapter"),
    ],
)
def test_record_errors_are_one_line_exit_2(bluez, flossmeter_cmd, tmp_path, setup, args, message):
    if setup == "strap":
        bluez.start([strap_device(SHIN, "shin")])
    elif setup == "no-adapter":
        bluez.start([strap_device(SHIN, "shin")], adapter=False)
    args = args or ["--shin", SHIN]
    out = run(flossmeter_cmd, "record", *args, "-o", str(tmp_path / "x.flossrec"),
              "--duration-s", "2")  # fmt: skip
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("flossmeter: error:") and message in lines[-1]
    assert "Traceback" not in out.stderr
