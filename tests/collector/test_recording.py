"""Recordings: round trips, raw packets, clear errors on bad files, and survival of SIGKILL."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import numpy as np
import pytest

from collector.errors import CollectorError
from collector.model import SampleBlock, SensorInfo, SourceEvent
from collector.recording import (
    FORMAT_VERSION,
    Recorder,
    load_recording,
    read_raw_packets,
    write_blocks,
)
from collector.simulator import simulate
from gui.cli import build_parser
from gui.cli_sessions import sim_config
from tests.collector.bad_files import assert_one_line_error, write_other_sqlite
from tests.conftest import cached_session


def _write_session(path, **kw):
    s = cached_session(**kw)
    meta = s.metadata() | {"ground_truth": s.truth.to_dict(), "participant": "P-07"}
    write_blocks(path, (it for _, it in s.timeline()), s.sensors, meta)
    return s


def test_round_trip_keeps_every_sample_event_and_metadata(tmp_path):
    path = tmp_path / "s.flossrec"
    s = _write_session(path, seed=3, sets=1, reps_per_set=3, loss=0.05, outages=1)
    rec = load_recording(path)
    assert rec.closed_cleanly
    assert rec.meta["format_version"] == FORMAT_VERSION
    assert rec.meta["participant"] == "P-07"
    for role, st in s.streams.items():
        df = rec.samples[role]
        kept = st.kept
        np.testing.assert_array_equal(df["time_s"], st.time_s[kept])
        np.testing.assert_array_equal(df["device_time_s"], st.device_time_s[kept])
        np.testing.assert_array_equal(df["sample_index"], np.flatnonzero(kept))
        acc = df[["acc_x", "acc_y", "acc_z"]].to_numpy()
        np.testing.assert_allclose(acc, st.acc_mps2[kept], rtol=1e-6, atol=1e-6)
        gyr = df[["gyr_x", "gyr_y", "gyr_z"]].to_numpy()
        np.testing.assert_allclose(gyr, st.gyro_dps[kept], rtol=1e-6, atol=1e-6)
        assert rec.sensors[role]["rate_hz"] == 100.0
        gaps = rec.gaps(role)
        first, last = np.flatnonzero(kept)[[0, -1]]  # losses at the very ends leave no gap
        assert gaps["lost"].sum() == (~kept[first:last]).sum()
    kinds = rec.events["kind"].tolist()
    assert kinds.count("connected") == 3 and kinds.count("disconnected") == 1
    gap_events = rec.events[rec.events["kind"] == "gap"]
    assert len(gap_events) == sum(len(rec.gaps(r)) for r in rec.samples)
    assert sum(d["lost"] for d in gap_events["detail"]) == sum(
        rec.gaps(r)["lost"].sum() for r in rec.samples
    )
    assert rec.ground_truth.reps == s.truth.reps
    assert not any(p.name.endswith(("-wal", "-shm", ".tmp")) for p in tmp_path.iterdir())


def test_raw_packets_are_kept_in_arrival_order(tmp_path):
    path = tmp_path / "raw.flossrec"
    info = SensorInfo("shin", "flossmeter-strap", 100.0)
    packets = [bytes([i]) * (10 + i) for i in range(30)]
    with Recorder(path, [info]) as rec:
        for i, raw in enumerate(packets):
            t = np.array([i * 0.02, i * 0.02 + 0.01])
            idx = np.array([2 * i, 2 * i + 1])
            zeros = np.zeros((2, 3))
            rec.on_block(
                SampleBlock("shin", t, t, zeros, zeros, idx, raw, "flossmeter-strap/1", t[-1])
            )
            if i % 7 == 0:
                rec.flush()
    assert read_raw_packets(path, "shin") == [("flossmeter-strap/1", p) for p in packets]
    assert len(load_recording(path).samples["shin"]) == 60


def test_events_markers_and_notes_round_trip(tmp_path):
    path = tmp_path / "e.flossrec"
    with Recorder(path, [SensorInfo("shin", "simulated", 50.0)], {"notes": "left leg"}) as rec:
        rec.on_event(SourceEvent(1.5, "marker", None, {"text": "set 2"}))
        rec.on_event(SourceEvent(2.0, "note", None, {"text": "pain 3/10"}))
    rec = load_recording(path)
    assert rec.meta["notes"] == "left leg"
    assert rec.events[["time_s", "kind"]].values.tolist() == [[1.5, "marker"], [2.0, "note"]]
    assert rec.events["detail"].iloc[1] == {"text": "pain 3/10"}
    assert "shin" not in rec.samples  # no samples yet is a valid (empty) recording


def test_existing_file_is_not_overwritten_unless_asked(tmp_path):
    path = tmp_path / "x.flossrec"
    _write_session(path, seed=1, sets=1, reps_per_set=1)
    with pytest.raises(CollectorError, match="already exists"):
        Recorder(path).open()
    Recorder(path, overwrite=True).open()


def _one_line_error(path, match):
    return assert_one_line_error(load_recording, path, match)


def test_foreign_truncated_and_corrupt_files_give_one_line_errors(tmp_path):
    good = tmp_path / "good.flossrec"
    _write_session(good, seed=2, sets=1, reps_per_set=2)
    data = good.read_bytes()

    text = tmp_path / "notes.txt"
    text.write_text("time_s,sensor\n1,shin\n" * 20)
    _one_line_error(text, "not an SQLite file")

    empty = tmp_path / "empty.flossrec"
    empty.write_bytes(b"")
    _one_line_error(empty, "empty or too short")

    tiny = tmp_path / "tiny.flossrec"
    tiny.write_bytes(data[:50])
    _one_line_error(tiny, "truncated")

    for frac in (0.3, 0.6, 0.95):
        cut = tmp_path / f"cut{frac}.flossrec"
        cut.write_bytes(data[: int(len(data) * frac)])
        _one_line_error(cut, "corrupt or truncated|wrong length|cannot open")

    noise = tmp_path / "noise.flossrec"
    noise.write_bytes(data[:4096] + os.urandom(len(data) - 4096))
    _one_line_error(noise, "corrupt|wrong length|cannot open|not a flossmeter")

    other = write_other_sqlite(tmp_path / "other.sqlite")
    _one_line_error(other, "SQLite file of another kind")

    _one_line_error(tmp_path / "missing.flossrec", "no such file")


def test_newer_format_and_damaged_blocks_are_refused_clearly(tmp_path):
    newer = tmp_path / "newer.flossrec"
    _write_session(newer, seed=2, sets=1, reps_per_set=1)
    db = sqlite3.connect(newer)
    db.execute(
        "UPDATE meta SET value = ? WHERE key = 'format_version'", (json.dumps(FORMAT_VERSION + 1),)
    )
    db.commit()
    db.close()
    _one_line_error(newer, "newer than this flossmeter reads")

    damaged = tmp_path / "damaged.flossrec"
    _write_session(damaged, seed=2, sets=1, reps_per_set=1)
    db = sqlite3.connect(damaged)
    db.execute("UPDATE blocks SET acc_mps2 = x'00' WHERE id = 1")
    db.commit()
    db.close()
    _one_line_error(damaged, "block 1 has a wrong length")


@pytest.mark.slow
def test_sigkill_at_20_random_instants_loses_nothing_older_than_half_a_second(
    tmp_path, flossmeter_cmd
):
    rng = random.Random(2026)
    argv = ["--seed", "5", "--faults", "loss=0.02"]
    config = sim_config(build_parser().parse_args(["record", "--sim", "-o", "x", *argv]))
    session = simulate(config)
    kills = 20
    for k in range(kills):
        path = tmp_path / f"kill{k}.flossrec"
        proc = subprocess.Popen(
            [*flossmeter_cmd, "-q", "record", "--sim", "-o", str(path), "--duration-s=30", *argv],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not path.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "recorder did not start"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.2, 2.5))
        t_kill = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rec = load_recording(path)  # must open, whatever instant the kill hit
        assert not rec.closed_cleanly
        cutoff = t_kill - rec.meta["start_unix"] - 0.5
        for role, st in session.streams.items():
            arrived = st.packet_kept & (st.packet_arrival_s <= cutoff)
            starts = st.packet_starts[arrived]
            expected = np.concatenate([np.arange(a, a + 5) for a in starts]) if len(starts) else []
            df = rec.samples.get(role)
            got = set(df["sample_index"]) if df is not None else set()
            missing = set(map(int, expected)) - got
            assert not missing, f"kill {k}: {role} lost {len(missing)} samples older than 0.5 s"
            if df is not None:
                idx = df["sample_index"].to_numpy()
                np.testing.assert_allclose(df["gyr_x"], st.gyro_dps[idx, 0], atol=1e-4)
