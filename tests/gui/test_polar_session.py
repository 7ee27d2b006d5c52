"""Polar Verity Sense straps through the whole product, against the emulated BlueZ and the real
bleak: ``scan`` recognises them, ``assign`` takes them by tapping, ``record`` records them and
``analyze`` finds the simulated reps where the simulator put them."""

import functools

import numpy as np
import pandas as pd
import pytest

from collector.protocols import decode_raw, polar
from collector.recording import load_recording, read_raw_packets
from collector.roles import (
    StrapConfig,
    StrapEntry,
    config_path,
    load_strap_config,
    save_strap_config,
)
from collector.simulator import simulate
from tests.ble.emulator import sim_config
from tests.ble.harness import device
from tests.gui.command import run_command
from tests.gui.test_cli_assign import assign, tap

SHIN, HEAD = "A0:9E:1A:00:00:01", "A0:9E:1A:00:00:02"
NAMES = {SHIN: "Polar Sense 1A000001", HEAD: "Polar Sense 1A000002"}
RATE_HZ = 104  # what `record` asks for by default (100 Hz) becomes in SDK mode


run = functools.partial(run_command, timeout=120)  # one recording is 41 s long


@pytest.mark.slow
def test_scan_and_assign_polar_straps_then_record_them(bluez, flossmeter_cmd, tmp_path):
    bluez.start([device("polar", SHIN, "shin"), device("polar", HEAD, "head", compressed=False)])
    out = run(flossmeter_cmd, "scan", "--timeout-s", "1")
    rows = out.stdout.splitlines()[1:]
    for address in (SHIN, HEAD):
        assert [ln for ln in rows if address in ln and "Polar Verity Sense" in ln], out.stdout

    talk = assign(flossmeter_cmd, "--yes")
    talk.expect("connecting 2 strap(s)")
    talk.expect("tap the SHIN strap")
    tap(bluez, HEAD)
    assert talk.expect("shin:") == f"shin: {NAMES[HEAD]} ({HEAD})"
    talk.expect("tap the HEAD strap")
    tap(bluez, SHIN)
    assert talk.expect("head:") == f"head: {NAMES[SHIN]} ({SHIN})"
    rc, err = talk.finish()
    assert rc == 0, err
    assert load_strap_config().straps == {
        "shin": StrapEntry(HEAD, NAMES[HEAD], "polar-verity-sense"),
        "head": StrapEntry(SHIN, NAMES[SHIN], "polar-verity-sense"),
    }
    # assign left the sensors as it found them: streams stopped, SDK mode off
    emu = bluez.sync("stats")["devices"]
    assert all(d["writes"][-1] == "0309" for d in emu.values())

    path = tmp_path / "r.flossrec"
    out = run(flossmeter_cmd, "record", "-o", str(path), "--duration-s", "4")
    assert out.returncode == 0, out.stderr
    rec = load_recording(path)
    assert rec.meta["ble"]["roles_from"] == str(config_path())
    for role in ("shin", "head"):
        assert rec.sensors[role]["kind"] == "polar-verity-sense"
        assert rec.sensors[role]["rate_hz"] == RATE_HZ
        assert len(rec.samples[role]) > RATE_HZ and len(rec.gaps(role)) == 0
    assert "batt 87%" in out.stderr  # the status line says each strap's battery


@pytest.mark.slow
def test_a_recorded_polar_session_analyses_to_the_simulated_reps(bluez, flossmeter_cmd, tmp_path):
    sim = {"seed": 3, "reps_per_set": 3}
    bluez.start(
        [
            device("polar", SHIN, "shin", sim=sim, drift_ppm=80),
            device("polar", HEAD, "head", sim=sim, drift_ppm=-80, gyro_offset_s=0.002),
        ]
    )
    save_strap_config(StrapConfig({"shin": StrapEntry(SHIN, NAMES[SHIN]),
                                   "head": StrapEntry(HEAD, NAMES[HEAD])}))  # fmt: skip
    path = tmp_path / "s.flossrec"
    out = run(flossmeter_cmd, "record", "-o", str(path), "--duration-s", "41")
    assert out.returncode == 0, out.stderr
    emu = bluez.sync("stats")["devices"]
    rec = load_recording(path)
    assert all(len(rec.gaps(role)) == 0 for role in ("shin", "head"))
    # the frames kept with the recording re-decode to the very samples recorded
    for role in ("shin", "head"):
        df = rec.samples[role]
        raw = read_raw_packets(path, role)
        assert {fmt for fmt, _ in raw} == {polar.RAW_FORMAT}
        again = decode_raw(polar.RAW_FORMAT, [p for _, p in raw])
        assert not again.bad and len(again) == len(df)
        np.testing.assert_allclose(again.acc_mps2, df[["acc_x", "acc_y", "acc_z"]], rtol=1e-6)
        np.testing.assert_allclose(again.gyro_dps, df[["gyr_x", "gyr_y", "gyr_z"]], rtol=1e-6)
        # (to the float64 step at 7.9e8 s: the first frame, with no frame before it, is spaced
        # at the rate the frames show instead of the nominal one the link started with)
        np.testing.assert_allclose(again.device_time_s, df["device_time_s"], rtol=0, atol=2e-7)

    csv = tmp_path / "reps.csv"
    out = run(flossmeter_cmd, "analyze", str(path), "--summary", "-o", str(csv))
    assert out.returncode == 0, out.stderr
    reps = pd.read_csv(csv)

    # the simulator's reps, moved onto the recording's session time through the shin sensor's
    # clock: simulator sample → sensor grid sample → sensor time → session time
    session = simulate(sim_config(sim, RATE_HZ, 16.0, 2000.0))
    sim_t = session.streams["shin"].time_s
    grid = emu[SHIN]["streams"][-1]
    df = rec.samples["shin"]

    def to_rec(t_sim):
        k = np.interp(t_sim, sim_t, np.arange(len(sim_t))) - grid["sim_offset"]
        return np.interp(grid["device_t0_s"] + k / RATE_HZ, df["device_time_s"], df["time_s"])

    truth = pd.DataFrame(session.truth.to_dict()["reps"])
    assert len(reps) == len(truth) == 3, out.stdout
    assert list(reps.technique) == list(truth.technique) == ["slider"] * 3
    assert np.abs(reps.start_s - to_rec(truth.start_s)).max() < 0.3
    assert np.abs(reps.end_s - to_rec(truth.end_s)).max() < 0.3
    assert np.abs(reps.knee_rom_deg - truth.knee_rom_deg).max() < 5.0
