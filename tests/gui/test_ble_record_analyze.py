"""``flossmeter record`` (straps from the saved config) against the emulated BlueZ, then
``flossmeter analyze``: the BLE path counts the simulator's reps and tells their technique.

Two sessions record at once, each on its own private bus: a slider set and a tensioner set, both
played by two emulated straps with ±80 ppm clocks from the physically modelled simulator.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.session import analyze
from collector.recording import load_recording, write_blocks
from collector.roles import StrapConfig, StrapEntry, save_strap_config
from collector.simulator import simulate
from tests.ble.emulator import sim_config
from tests.ble.harness import HEAD, SHIN, Bluez, device

#: name → (the emulated straps' simulation, recording length in s: the simulated session
#: without its last ~1 s, since the emulator plays it in a loop)
SESSIONS = {
    "slider": ({"seed": 3, "reps_per_set": 3}, 41.0),
    "tensioner": ({"seed": 5, "reps_per_set": 3, "technique": "tensioner"}, 30.0),
}
RATE_HZ = 100.0
CONFIG = StrapConfig(
    {
        "shin": StrapEntry(SHIN, "FLOSS-0001", "flossmeter-strap"),
        "head": StrapEntry(HEAD, "FLOSS-0002", "flossmeter-strap"),
    }
)


def start_recording(cmd: list[str], folder: Path, sim: dict, duration_s: float):
    """An emulator on a bus of its own and ``flossmeter record`` on it (straps from a config)."""
    bus = Bluez(folder)
    bus.start(
        [
            device("strap", SHIN, "shin", sim=sim, drift_ppm=80),
            device("strap", HEAD, "head", sim=sim, drift_ppm=-80),
        ]
    )
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
    env["FLOSSMETER_CONFIG"] = str(save_strap_config(CONFIG, folder / "straps.json"))
    args = ["record", "-o", str(folder / "s.flossrec"), "--duration-s", str(duration_s)]
    proc = subprocess.Popen(
        [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    return bus, proc


def truth_in_recording(sim: dict, rec, stream: dict):
    """The simulator's reps, their times moved onto the recording's session time; the session."""
    session = simulate(sim_config(sim, RATE_HZ, 16.0, 2000.0))
    sim_t = session.streams["shin"].time_s
    df = rec.samples["shin"]
    offset = stream["sim_offset"] - stream["first_index"]  # simulator sample − strap counter

    def to_rec(t_sim):
        i = np.interp(t_sim, sim_t, np.arange(len(sim_t)))
        return np.interp(i - offset, df["sample_index"], df["time_s"])

    reps = pd.DataFrame(session.truth.to_dict()["reps"])
    return reps.assign(start_rec_s=to_rec(reps.start_s), end_rec_s=to_rec(reps.end_s)), session


@pytest.mark.slow
def test_recorded_sessions_count_reps_and_techniques_like_the_simulator(tmp_path, flossmeter_cmd):
    buses, procs = {}, {}
    try:
        for name, (sim, duration_s) in SESSIONS.items():
            (tmp_path / name).mkdir()
            buses[name], procs[name] = start_recording(
                flossmeter_cmd, tmp_path / name, sim, duration_s
            )
        outputs = {name: p.communicate(timeout=120) for name, p in procs.items()}
        emu = {name: bus.sync("stats") for name, bus in buses.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        for bus in buses.values():
            bus.close()

    for name, (sim, _) in SESSIONS.items():
        _, err = outputs[name]
        assert procs[name].returncode == 0, err
        path = tmp_path / name / "s.flossrec"
        rec = load_recording(path)
        assert rec.meta["ble"]["roles_from"] == str(tmp_path / name / "straps.json")
        assert all(len(rec.gaps(role)) == 0 for role in ("shin", "head"))
        csv = tmp_path / f"{name}.csv"
        out = subprocess.run(
            [*flossmeter_cmd, "analyze", str(path), "--summary", "-o", str(csv)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        reps = pd.read_csv(csv)
        truth, session = truth_in_recording(sim, rec, emu[name]["devices"][SHIN]["streams"][0])

        # the count and the technique of every rep, offline and live (the status line)
        assert len(reps) == len(truth) == 3, out.stdout
        technique = sim.get("technique", "slider")
        assert list(reps.technique) == list(truth.technique) == [technique] * 3
        assert "3 reps, quality" in out.stdout and "reps 3 (set 1)" in err
        # each rep where the simulator put it, with its knee range
        assert np.abs(reps.start_s - truth.start_rec_s).max() < 0.3
        assert np.abs(reps.end_s - truth.end_rec_s).max() < 0.3
        assert np.abs(reps.knee_rom_deg - truth.knee_rom_deg).max() < 5.0

        # the BLE path is transparent: the same samples written straight from the simulator
        # analyse to the same reps. Head–knee lag: the collector aligns the straps to ≤ 2 ms,
        # but the emulated straps' ±80 ppm clocks sample the simulator's grid, so their data
        # slip apart by 0.16 ms/s (≈ 5 ms at 30 s); measured: 1–6 ms.
        direct = tmp_path / f"{name}-direct.flossrec"
        write_blocks(direct, (item for _, item in session.timeline()), session.sensors, {})
        ref = analyze(load_recording(direct).samples, angles=False).reps
        assert list(ref.technique) == list(reps.technique)
        assert np.abs(reps.knee_rom_deg.to_numpy() - ref.knee_rom_deg.to_numpy()).max() < 0.5
        lag = reps.coordination_lag_s.to_numpy() - ref.coordination_lag_s.to_numpy()
        assert np.abs(lag).max() < 0.01
