"""The live dashboard on BLE straps end to end: ``flossmeter live --shin --head`` (offscreen)
against the emulated BlueZ on a private bus; a strap that drops is shown, not a traceback."""

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from tests.ble.harness import HEAD, SHIN, device
from tests.conftest import ROOT


@pytest.mark.slow
def test_live_dashboard_on_emulated_straps_shows_a_drop(bluez, tmp_path):
    bluez.start(
        [device("strap", SHIN, "shin", rssi=-58), device("strap", HEAD, "head", battery_pct=12)]
    )
    state = tmp_path / "state.json"
    rec = tmp_path / "ble.flossrec"
    cmd = [sys.executable, "-m", "gui", "live", "--shin", SHIN, "--head", "FLOSS-0002",
           "--quit-after-s", "9", "--screenshot-at", f"3.5:{tmp_path / 'a.png'}",
           "--state-json", str(state), "--record", str(rec), "--participant", "B1"]  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)  # fmt: skip
    deadline = time.monotonic() + 20
    while not rec.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)
    asyncio.run(bluez.drop(HEAD, away_s=30.0))  # the head strap goes away for good
    bluez.close_control()
    _, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    s = json.loads(state.read_text())
    before, final = s["screenshots"][0]["state"], s["final"]
    assert before["samples"]["shin"] > 100 and before["samples"]["head"] > 100
    assert before["calibration"] != "waiting"
    # each strap's battery (read from its Battery Service) and the signal it connected with
    assert before["straps"]["shin"]["battery"] == "battery 87 %"
    assert before["straps"]["head"]["battery"] == "battery 12 % (low)"
    assert -61 <= int(before["straps"]["shin"]["signal"].split()[0]) <= -55
    assert final["alert"].startswith("Head strap disconnected at ")
    assert final["samples"]["shin"] > before["samples"]["shin"]  # still arriving on screen
    from collector.recording import load_recording

    r = load_recording(rec)
    assert r.closed_cleanly and r.meta["source"] == "ble" and r.meta["participant"] == "B1"
    assert "disconnected" in set(r.events["kind"])
    # the shin streams on without the head, gap-free, to the end (counted in session time: how
    # many samples a busy machine shows on screen by a wall-clock deadline varies)
    dropped = r.events[(r.events["kind"] == "disconnected") & (r.events["sensor"] == "head")]
    t_drop = float(dropped["time_s"].iloc[0])
    shin = r.samples["shin"]
    after = shin[shin["time_s"] > t_drop]
    assert after["time_s"].iloc[-1] - t_drop > 1.0 and len(r.gaps("shin")) == 0
    assert len(after) == pytest.approx(100.0 * (after["time_s"].iloc[-1] - t_drop), abs=3)
    assert {info["kind"] for info in r.sensors.values()} == {"flossmeter-strap"}
