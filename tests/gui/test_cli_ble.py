"""``flossmeter scan`` and ``flossmeter record`` against the emulated BlueZ; strap config errors."""

import functools
import io

import pytest

from collector.recording import load_recording
from collector.roles import StrapConfig, StrapEntry, save_strap_config
from gui.cli import main
from gui.cli_ble import ask_yes_no
from gui.errors import UserError
from tests.ble.harness import HEAD, SHIN, device
from tests.gui.command import run_command

run = functools.partial(run_command, timeout=60)


def test_scan_command(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin"), {"kind": "other", "address": "C0:FF:EE:00:00:09",
                                              "name": "Mi Band 5"}])  # fmt: skip
    out = run(flossmeter_cmd, "scan", "--timeout-s", "1")
    assert out.returncode == 0, out.stderr
    assert "FLOSS-0001" in out.stdout and "flossmeter strap" in out.stdout
    assert "Mi Band" not in out.stdout
    assert "Mi Band 5" in run(flossmeter_cmd, "scan", "--timeout-s", "1", "--all").stdout


def test_record_against_emulator(bluez, flossmeter_cmd, tmp_path):
    bluez.start([device("strap", SHIN, "shin"), device("strap", HEAD, "head")])
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
        bluez.start([device("strap", SHIN, "shin")])
    elif setup == "no-adapter":
        bluez.start([device("strap", SHIN, "shin")], adapter=False)
    args = args or ["--shin", SHIN]
    out = run(flossmeter_cmd, "record", *args, "-o", str(tmp_path / "x.flossrec"),
              "--duration-s", "2")  # fmt: skip
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("flossmeter: error:") and message in lines[-1]
    assert "Traceback" not in out.stderr


def test_scan_marks_known_straps_and_survives_a_bad_config(bluez, flossmeter_cmd, tmp_path):
    bluez.start([device("strap", SHIN, "shin"), device("strap", HEAD, "head")])
    config = tmp_path / "straps.json"
    save_strap_config(StrapConfig({"head": StrapEntry(HEAD), "shin": StrapEntry(name="FLOSS-7")}),
                      config)  # fmt: skip
    out = run(flossmeter_cmd, "scan", "--timeout-s", "1", "--config", str(config))
    assert out.returncode == 0, out.stderr
    rows = {ln.split()[0]: ln.split() for ln in out.stdout.splitlines()[1:]}
    assert rows["FLOSS-0002"][-1] == "head" and rows["FLOSS-0001"][-1] == "strap"  # no role
    assert "shin strap FLOSS-7 not seen (switched off or out of range?)" in out.stdout
    config.write_text("{not json")
    out = run(flossmeter_cmd, "scan", "--timeout-s", "1", "--config", str(config))
    assert out.returncode == 0 and "FLOSS-0001" in out.stdout and "Traceback" not in out.stderr
    assert f"{config}: not valid JSON" in out.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no straps assigned yet ({path} not found): run 'flossmeter assign' once, "
               "or give --shin ADDR [--head ADDR] (or --sim for simulated straps)"),
        ('{"straps": {"knee": {"address": "x"}}}', "{path}: unknown role 'knee' (roles are "
         "shin, head); fix or delete it, or run 'flossmeter assign' to write it again"),
    ],
)  # fmt: skip
def test_record_without_straps_or_with_a_bad_config_is_one_line(
    tmp_path, monkeypatch, capsys, content, message
):
    path = tmp_path / "straps.json"
    monkeypatch.setenv("FLOSSMETER_CONFIG", str(path))
    if content is not None:
        path.write_text(content)
    rc = main(["record", "-o", str(tmp_path / "x.flossrec"), "--duration-s", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [f"flossmeter: error: {message.format(path=path)}"]
    assert not (tmp_path / "x.flossrec").exists()


@pytest.mark.parametrize(
    ("answers", "result", "asked"),
    [("y\n", True, 1), ("\n", True, 1), ("No\n", False, 1), ("maybe\nn\n", False, 2)],
)
def test_ask_yes_no(answers, result, asked):
    out = io.StringIO()
    assert ask_yes_no("save? [Y/n] ", io.StringIO(answers), out) is result
    assert out.getvalue().count("save? [Y/n] ") == asked


def test_ask_yes_no_without_an_answer_is_a_user_error():
    with pytest.raises(UserError, match=r"no answer .*use --yes"):
        ask_yes_no("save? [Y/n] ", io.StringIO(""), io.StringIO())
