"""``flossmeter check-strap`` end to end: the console script with the real bleak against the
emulated BlueZ, whose strap runs the reference firmware core; a conforming strap passes, one with
injected loss and a drifting clock fails exactly those criteria, problems are one line, exit 2."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.ble.harness import SHIN, device
from tests.gui.command import run_command


def check(cmd, *args, timeout=90):
    return run_command(cmd, "check-strap", *args, timeout=timeout)


def lines(out):
    """criterion → (PASS/FAIL, the rest of its line)."""
    rows = re.findall(r"^(PASS|FAIL)  (\S+(?: \S+)?)\s{2,}(.*)$", out, re.M)
    return {name: (verdict, rest) for verdict, name, rest in rows}


@pytest.mark.slow
def test_a_strap_running_the_reference_core_passes(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin", drift_ppm=60, battery_mv=3985)])
    out = check(flossmeter_cmd, SHIN, "--duration-s", "10")
    assert out.returncode == 0, out.stdout + out.stderr
    v = lines(out.stdout)
    assert len(v) == 8 and all(verdict == "PASS" for verdict, _ in v.values()), out.stdout
    # the core's device information and battery (3985 mV: 3980 → 75 %, 4020 → 80 %: 75.6 → 76)
    assert "firmware 1.2.0-emu, model FM-STRAP-1, battery 76 %" in v["device information"][1]
    assert "0 malformed, 0 not holding N = 2" in v["notifications"][1]
    drift = float(re.search(r"([+-]\d+) ppm", v["clock drift"][1]).group(1))
    # 10 s of pings on a busy 2-core host: see the margin of the failing case below
    assert abs(drift - 60) < 300
    assert out.stdout.rstrip().endswith("result: PASS (8 of 8)")


@pytest.mark.slow
def test_loss_and_clock_drift_beyond_the_limits_fail_exactly_those(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin", drift_ppm=3000, faults={"drop_p": 0.05, "seed": 2})])
    out = check(flossmeter_cmd, SHIN, "--duration-s", "10")
    assert out.returncode == 1, out.stdout + out.stderr
    v = lines(out.stdout)
    assert sorted(n for n, (verdict, _) in v.items() if verdict == "FAIL") == [
        "clock drift",
        "loss",
    ]
    assert "result: FAIL (2 of 8: loss, clock drift)" in out.stdout
    drift = float(re.search(r"([+-]\d+) ppm", v["clock drift"][1]).group(1))
    # the ping envelope's minimum delay wanders with the host's load: over 6 s of pings the
    # error was -39..+201 ppm with two CPU hogs here and -328 ppm once in CI (2 cores, the test
    # suite, the emulator and the check sharing them); over 10 s -44..+14 ppm with the hogs.
    # The estimator's own precision is pinned on hand-built sessions (test_strap_check.py)
    assert abs(drift - 3000) < 300
    # the loss is exactly the samples of the packets the emulator dropped in that span
    lost, span = map(int, re.search(r"(\d+) of (\d+) samples", v["loss"][1]).groups())
    sent = asyncio.run(bluez.sent(SHIN))
    first = sent[0]["values"]["seq"]
    delivered = sum(len(e["values"]["acc"]) for e in sent if e["values"]["seq"] < first + span)
    assert lost == span - delivered > 0


def test_what_cannot_be_checked_is_one_line_exit_2(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin"), device("witmotion", "C0:FF:EE:00:00:03", "head")])
    for args, message in (
        (["C0:FF:EE:00:00:09", "--scan-s", "1"], "no device 'C0:FF:EE:00:00:09' found in 1 s"),
        (["C0:FF:EE:00:00:03", "--scan-s", "2"], "is a WitMotion BLE 5.0, not a flossmeter strap"),
        ([SHIN, "--rate-hz", "1000"], "rates are 25–400 Hz, not 1000"),
        ([SHIN, "--duration-s", "0"], "--duration-s must be positive"),
    ):
        out = check(flossmeter_cmd, *args)
        assert out.returncode == 2, out.stdout + out.stderr
        err = out.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("flossmeter: error: ") and message in err[0]
        assert "Traceback" not in out.stderr
