"""BIDS-Motion: our writer against the specification's file layout, the round trip back to the
same samples and reps, foreign files written here from the specification, malformed files."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.session import RepAnalysis
from collector.bids import (
    RepEvents,
    bids_label,
    parse_name,
    read_motion,
    role_of,
    sample_grid,
    write_session,
)
from collector.errors import CollectorError
from collector.io import load
from collector.model import SampleBlock, SensorInfo, SourceEvent
from collector.recording import write_blocks
from collector.simulator import SimConfig, simulate
from tests.collector.bad_files import assert_one_line_error

START_UNIX = 1_700_000_000.25  # 2023-11-14T22:13:20.250000Z
RATE = 64.0  # times k/64 s print exactly with 6 decimals


def _blocks(sensor, idx, seed):
    """Blocks of 8 samples at RATE with values float32 keeps exactly."""
    rng = np.random.default_rng(seed)
    t = idx / RATE
    acc = rng.integers(-160, 160, (len(idx), 3)) / 8.0
    gyr = rng.integers(-4000, 4000, (len(idx), 3)) / 4.0
    return [
        SampleBlock(sensor, t[s], t[s], acc[s], gyr[s], idx[s], arrival_s=t[s][-1])
        for s in (slice(a, a + 8) for a in range(0, len(idx), 8))
    ]


def _small_recording(path, shin_idx, head_idx=None, events=(), meta=None):
    items = [*events, *_blocks("shin", shin_idx, 1)]
    sensors = {"shin": SensorInfo("shin", "witmotion", RATE, name="WT901", address="AA:01")}
    if head_idx is not None:
        items += _blocks("head", head_idx, 2)
        sensors["head"] = SensorInfo("head", "witmotion", RATE, name="WT901", address="AA:02")
    write_blocks(path, items, sensors, {"participant": "P-01", **(meta or {})})
    rec = load(path)
    rec.meta["start_unix"] = START_UNIX  # a fixed start: acq_time is then known exactly
    return rec


def _motion_rows(path):
    return [line.split("\t") for line in path.read_text().splitlines()]


# -- names and labels ------------------------------------------------------------------------


def test_labels_and_names():
    assert bids_label("P-01") == "P01" and bids_label("sub 7b") == "sub7b"
    with pytest.raises(CollectorError, match="no letters or digits"):
        bids_label("--")
    assert parse_name("sub-01_ses-2_task-floss_tracksys-shin_motion.tsv") == (
        {"sub": "01", "ses": "2", "task": "floss", "tracksys": "shin"},
        "motion",
        ".tsv",
    )
    assert role_of("LeftShank") == "shin" and role_of("RightLowerLeg") == "shin"
    assert role_of("Forehead") == "head" and role_of("t1") is None


def test_sample_grid_leaves_a_row_per_lost_sample_and_none_for_a_restart():
    t = np.arange(10) / 50.0
    # 2 lost after index 3; the counter restarts (goes back) after index 8
    idx = np.array([0, 1, 2, 3, 6, 7, 8, 2, 3, 4])
    assert sample_grid(idx, t, 50.0).tolist() == [0, 1, 2, 3, 6, 7, 8, 9, 10, 11]
    # a jump of 10 000 within 20 ms cannot be samples lost at 50 Hz: a restart, no rows
    assert sample_grid(np.array([0, 10_000]), t[:2], 50.0).tolist() == [0, 1]


# -- writing ---------------------------------------------------------------------------------


def test_the_written_session_has_the_files_columns_and_sidecars_of_the_spec(tmp_path):
    events = [
        SourceEvent(0.5, "marker", None, {"text": "start of set 1"}),
        SourceEvent(1.0, "symptom", None, {"rating": 3, "set": 1}),
    ]
    rec = _small_recording(tmp_path / "s.flossrec", np.r_[0:100, 104:200], np.r_[0:150], events)
    reps = pd.DataFrame(
        {"rep": [1], "set": [1], "start_s": [0.25], "end_s": [1.5], "knee_rom_deg": [70.5],
         "technique": ["slider"], "flags": [""]}
    )  # fmt: skip
    docs = {"knee_rom_deg": {"Description": "knee range", "Units": "deg"}}
    out = write_session(rec, tmp_path / "ds", "P-01", reps=RepEvents(reps, docs))
    assert (out.subject, out.session, out.lost) == ("P01", "01", {"shin": 4, "head": 0})

    root = tmp_path / "ds"
    motion = root / "sub-P01" / "ses-01" / "motion"
    stem = "sub-P01_ses-01_task-floss"
    expected = {
        f"{stem}_tracksys-{r}_{s}" for r in ("shin", "head")
        for s in ("motion.tsv", "motion.json", "channels.tsv", "channels.json")
    } | {f"{stem}_events.tsv", f"{stem}_events.json"}  # fmt: skip
    assert {f.name for f in motion.iterdir()} == expected
    assert {str(f) for f in out.files} >= {f"sub-P01/ses-01/motion/{n}" for n in expected}

    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "raw"
    assert tuple(map(int, desc["BIDSVersion"].split("."))) >= (1, 9, 0)  # Motion since 1.9.0
    assert (root / "participants.tsv").read_text() == "participant_id\nsub-P01\n"
    acq = "2023-11-14T22:13:20.250000Z"
    assert (root / "sub-P01" / "sub-P01_sessions.tsv").read_text() == (
        f"session_id\tacq_time\nses-01\t{acq}\n"
    )
    assert (root / "sub-P01" / "ses-01" / "sub-P01_ses-01_scans.tsv").read_text() == (
        f"filename\tacq_time\nmotion/{stem}_tracksys-shin_motion.tsv\t{acq}\n"
        f"motion/{stem}_tracksys-head_motion.tsv\t{acq}\n"
    )

    channels = pd.read_csv(
        motion / f"{stem}_tracksys-shin_channels.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    assert list(channels.columns[:5]) == ["name", "component", "type", "tracked_point", "units"]
    assert channels["type"].tolist() == ["LATENCY"] + ["ACCEL"] * 3 + ["GYRO"] * 3
    assert channels["component"].tolist() == ["n/a", "x", "y", "z", "x", "y", "z"]
    assert channels["units"].tolist() == ["s"] + ["m/s^2"] * 3 + ["deg/s"] * 3
    assert set(channels["tracked_point"]) == {"shin"}

    side = json.loads((motion / f"{stem}_tracksys-shin_motion.json").read_text())
    assert side["TaskName"] == "floss" and side["TrackingSystemName"] == "shin"
    assert side["SamplingFrequency"] == RATE
    # 200 sample periods (196 received + 4 lost) over 199/64 s
    assert side["SamplingFrequencyEffective"] == pytest.approx(199 * RATE / 199, abs=1e-6)
    assert side["MissingValues"] == "n/a" and side["MotionChannelCount"] == 7
    assert (side["ACCELChannelCount"], side["GYROChannelCount"]) == (3, 3)
    assert side["Manufacturer"] == "WitMotion" and side["DeviceSerialNumber"] == "AA:01"
    frame = json.loads((motion / f"{stem}_tracksys-shin_channels.json").read_text())
    assert frame["reference_frame"]["Levels"]["sensor"]["RotationRule"] == "right-hand"

    rows = _motion_rows(motion / f"{stem}_tracksys-shin_motion.tsv")
    assert len(rows) == 200 and {len(r) for r in rows} == {7}
    assert rows[100:104] == [["n/a"] * 7] * 4  # the lost samples 100–103, in place
    shin = rec.samples["shin"]
    for k, row in ((0, 0), (99, 99), (100, 104), (195, 199)):
        assert float(rows[row][0]) == shin["time_s"].iloc[k]  # LATENCY: session time
        assert [float(v) for v in rows[row][1:]] == shin.iloc[k, 3:].tolist()

    ev = pd.read_csv(motion / f"{stem}_events.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert ev["trial_type"].tolist() == ["rep", "marker", "symptom"]
    assert ev["onset"].tolist() == ["0.250000", "0.500000", "1.000000"]
    assert ev["duration"].tolist() == ["1.250000", "0.000000", "0.000000"]
    assert ev["knee_rom_deg"].tolist() == ["70.5", "n/a", "n/a"]
    assert ev["note"].tolist() == ["n/a", "start of set 1", "n/a"]
    assert ev["symptom_rating"].tolist() == ["n/a", "n/a", "3"]
    doc = json.loads((motion / f"{stem}_events.json").read_text())
    assert set(ev.columns) <= set(doc)
    assert doc["knee_rom_deg"]["Units"] == "deg"
    assert (doc["rep"]["Format"], doc["technique"]["Format"]) == ("integer", "string")


def test_sessions_are_added_to_an_existing_dataset_once(tmp_path):
    rec = _small_recording(tmp_path / "s.flossrec", np.r_[0:64])
    root = tmp_path / "ds"
    assert write_session(rec, root, "P01").session == "01"
    rec.meta["start_unix"] = START_UNIX + 86400
    assert write_session(rec, root, "P01").session == "02"
    assert write_session(rec, root, "P02", "pre").session == "pre"
    table = pd.read_csv(root / "participants.tsv", sep="\t")
    assert table["participant_id"].tolist() == ["sub-P01", "sub-P02"]
    sessions = pd.read_csv(root / "sub-P01" / "sub-P01_sessions.tsv", sep="\t")
    assert sessions["session_id"].tolist() == ["ses-01", "ses-02"]

    with pytest.raises(CollectorError, match=r"already in the dataset as sub-P01/ses-02"):
        write_session(rec, root, "P01")
    with pytest.raises(CollectorError, match="exists already"):
        write_session(rec, root, "P02", "pre")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(CollectorError, match="not a BIDS dataset"):
        write_session(rec, other, "P01")
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


# -- round trip ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A short simulated session with notification loss and an outage, its export, its truth."""
    tmp = tmp_path_factory.mktemp("bids")
    session = simulate(
        SimConfig(seed=1, sets=1, reps_per_set=3, rate_hz=50, loss=0.02, outages=1,
                  variety="clean")
    )  # fmt: skip
    meta = session.metadata() | {"participant": "P-1", "ground_truth": session.truth.to_dict()}
    path = write_blocks(
        tmp / "s.flossrec", (i for _, i in session.timeline()), session.sensors, meta
    )
    rec = load(path)
    reps = RepAnalysis(angles=False).run(rec.samples).reps_
    write_session(rec, tmp / "ds", "P1", reps=RepEvents(reps))
    shin = tmp / "ds/sub-P1/ses-01/motion/sub-P1_ses-01_task-floss_tracksys-shin_motion.tsv"
    return rec, reps, session.truth, shin


def test_the_round_trip_gives_back_the_same_samples(simulated):
    rec, _, _, shin_file = simulated
    back = load(shin_file)  # through the one loader, by name and bytes
    assert back.meta["format"] == "bids-motion" and back.meta["participant"] == "P1"
    assert back.meta["start_unix"] == pytest.approx(rec.meta["start_unix"], abs=1e-6)
    assert list(back.samples) == ["shin", "head"]
    for role, df in rec.samples.items():
        got = back.samples[role]
        assert len(got) == len(df)
        assert np.abs(got["time_s"].to_numpy() - df["time_s"].to_numpy()).max() <= 5e-7
        # float32 values come back bit for bit
        np.testing.assert_array_equal(got.iloc[:, 3:].to_numpy(), df.iloc[:, 3:].to_numpy())
        # the same gaps (rows of n/a) with the same lost counts
        pd.testing.assert_frame_equal(
            back.gaps(role)[["lost"]], rec.gaps(role)[["lost"]], check_dtype=False
        )
        assert rec.gaps(role)["lost"].sum() > 0
        assert back.sensors[role]["rate_hz"] == 50.0


def test_the_imported_session_has_the_same_reps_as_the_original_and_the_truth(simulated):
    _, reps, truth, shin_file = simulated
    again = RepAnalysis(angles=False).run(load(shin_file).samples).reps_
    assert len(truth.reps) == len(reps) == len(again) == 3
    np.testing.assert_allclose(again["start_s"], reps["start_s"], atol=1e-3)
    np.testing.assert_allclose(again["end_s"], reps["end_s"], atol=1e-3)
    np.testing.assert_allclose(again["knee_rom_deg"], reps["knee_rom_deg"], atol=1e-3)
    assert again["technique"].tolist() == reps["technique"].tolist() == ["slider"] * 3
    true_start = [r["start_s"] for r in truth.reps]
    np.testing.assert_allclose(again["start_s"], true_start, atol=0.5)


def test_the_events_file_holds_each_rep_at_its_session_time(simulated):
    _, reps, _, shin_file = simulated
    events = shin_file.with_name("sub-P1_ses-01_task-floss_events.tsv")
    ev = pd.read_csv(events, sep="\t", na_values="n/a", keep_default_na=False)
    assert ev["trial_type"].tolist() == ["rep"] * 3
    np.testing.assert_allclose(ev["onset"], reps["start_s"], atol=1e-6)
    np.testing.assert_allclose(ev["duration"], reps["end_s"] - reps["start_s"], atol=1e-6)
    assert ev["rep"].tolist() == [1, 2, 3]


# -- foreign files, written here from the specification --------------------------------------


G = 9.80665


def _foreign_dataset(root, *, shin="LeftShank", head="Head", latency=True, sidecar_at_root=True):
    """One tracking system 'imu' with two tracked points, channels in another order than ours
    (gyro before acc, head before shin, LATENCY in between), gyro in rad/s and acc in g, the
    sidecar inherited from the dataset root, no scans, events with a foreign trial type.
    Returns the motion file and the true samples (our units) per tracked point."""
    rng = np.random.default_rng(3)
    n, fs = 120, 60.0
    truth = {
        p: (rng.normal(0, 3, (n, 3)) + np.array([0, 0, G]), rng.normal(0, 40, (n, 3)))
        for p in (shin, head)
    }
    truth[shin][0][5] = np.nan  # one lost shin sample (a row with n/a in its channels)
    names, cols = [], []
    for point in (head, shin):
        acc, gyr = truth[point]
        for axis, k in zip("xyz", range(3), strict=True):
            names.append((f"{point}_gyr_{axis}", axis, "GYRO", point, "rad/s"))
            cols.append(np.radians(gyr[:, k]))
        if latency and point == head:
            names.append(("imu_latency", "n/a", "LATENCY", "n/a", "ms"))
            cols.append(np.arange(n) / fs * 1000.0)
        for axis, k in zip("xyz", range(3), strict=True):
            names.append((f"{point}_acc_{axis}", axis, "ACCEL", point, "g"))
            cols.append(acc[:, k] / G)
    motion_dir = root / "sub-07" / "motion"
    motion_dir.mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.10.0"}')
    stem = "sub-07_task-walk_tracksys-imu"
    header = "name\tcomponent\ttype\ttracked_point\tunits\n"
    (motion_dir / f"{stem}_channels.tsv").write_text(
        header + "".join("\t".join(r) + "\n" for r in names)
    )
    data = np.column_stack(cols)
    text = "\n".join("\t".join("n/a" if math.isnan(v) else repr(float(v)) for v in row)
                     for row in data)  # fmt: skip
    (motion_dir / f"{stem}_motion.tsv").write_text(text + "\n")
    sidecar = {"TaskName": "walk", "SamplingFrequency": fs, "TrackingSystemName": "imu"}
    where = root if sidecar_at_root else motion_dir
    name = "task-walk_tracksys-imu_motion.json" if sidecar_at_root else f"{stem}_motion.json"
    (where / name).write_text(json.dumps(sidecar))
    (motion_dir / "sub-07_task-walk_events.tsv").write_text(
        "onset\tduration\ttrial_type\n0.5\t0\tstart_walk\n1.25\t0.5\tn/a\n"
    )
    return motion_dir / f"{stem}_motion.tsv", truth, fs


def test_foreign_files_with_other_names_order_and_units_are_read(tmp_path):
    path, truth, fs = _foreign_dataset(tmp_path)
    rec = load(path)
    assert rec.sensors["shin"]["tracked_point"] == "LeftShank"
    assert rec.sensors["head"]["tracked_point"] == "Head"
    assert rec.meta["task"] == "walk" and "start_unix" not in rec.meta  # no scans file
    for role, point in (("shin", "LeftShank"), ("head", "Head")):
        acc, gyr = truth[point]
        keep = ~np.isnan(acc).any(axis=1)
        df = rec.samples[role]
        np.testing.assert_allclose(df["time_s"], np.flatnonzero(keep) / fs, atol=1e-9)
        want = np.column_stack([acc, gyr])[keep].astype(np.float32)
        np.testing.assert_allclose(df.iloc[:, 3:].to_numpy(), want, rtol=1e-6, atol=1e-5)
    assert rec.gaps("shin")["lost"].tolist() == [1] and len(rec.gaps("head")) == 0
    assert rec.events["kind"].tolist() == ["marker", "marker"]
    assert [e["text"] for e in rec.events["detail"]] == ["start_walk", "event"]
    np.testing.assert_allclose(rec.events["time_s"], [0.5, 1.25])


def test_without_latency_the_times_come_from_the_sampling_frequency(tmp_path):
    path, truth, fs = _foreign_dataset(tmp_path, latency=False, sidecar_at_root=False)
    rec = load(path)
    n = len(truth["Head"][0])
    np.testing.assert_allclose(rec.samples["head"]["time_s"], np.arange(n) / fs)


def test_ambiguous_or_unnamed_straps_need_a_map(tmp_path):
    path, truth, _ = _foreign_dataset(tmp_path / "a", shin="LeftShank", head="RightShank")
    assert_one_line_error(load, path, r"several tracked points could be the shin.*--map")
    rec = load(path, roles={"shin": "RightShank"})
    assert list(rec.samples) == ["shin"]
    got = rec.samples["shin"]["acc_x"].to_numpy()
    np.testing.assert_allclose(got, truth["RightShank"][0][:, 0].astype(np.float32), rtol=1e-6)

    path, _, _ = _foreign_dataset(tmp_path / "b", shin="t1", head="t2")
    assert_one_line_error(load, path, r"no shin strap among the tracked points \(t1, t2\)")
    rec = load(path, roles={"shin": "t1", "head": "t2"})
    assert rec.sensors["head"]["tracked_point"] == "t2"
    with pytest.raises(CollectorError, match="the --map given names none"):
        load(path, roles={"shin": "t9"})


def test_missing_optional_files_are_fine(tmp_path):
    """Only the motion and channels files: no dataset_description, sidecar, scans or events;
    the LATENCY channel gives the times."""
    path, _, fs = _foreign_dataset(tmp_path)
    (tmp_path / "dataset_description.json").unlink()
    (tmp_path / "task-walk_tracksys-imu_motion.json").unlink()
    path.with_name("sub-07_task-walk_events.tsv").unlink()
    rec = load(path)
    assert len(rec.events) == 0
    assert math.isnan(rec.sensors["shin"]["rate_hz"])  # no sidecar says the nominal rate
    np.testing.assert_allclose(rec.samples["head"]["time_s"], np.arange(120) / fs, atol=1e-9)


def test_a_foreign_session_exports_with_its_measured_rate(tmp_path):
    """No sidecar says the nominal rate: the export states the rate the LATENCY shows."""
    path, _, fs = _foreign_dataset(tmp_path / "in")
    (tmp_path / "in" / "task-walk_tracksys-imu_motion.json").unlink()
    write_session(load(path), tmp_path / "out", "7")
    motion = tmp_path / "out" / "sub-7" / "ses-01" / "motion"
    for role in ("shin", "head"):
        side = json.loads(
            (motion / f"sub-7_ses-01_task-floss_tracksys-{role}_motion.json").read_text()
        )
        assert side["SamplingFrequency"] == pytest.approx(fs)
        assert side["Manufacturer"] == "n/a"


# -- malformed files -------------------------------------------------------------------------


@pytest.fixture
def ours(tmp_path):
    """A small session as we write it: the shin motion file and its folder."""
    rec = _small_recording(tmp_path / "s.flossrec", np.r_[0:40], np.r_[0:40])
    write_session(rec, tmp_path / "ds", "P01")
    motion = tmp_path / "ds" / "sub-P01" / "ses-01" / "motion"
    return motion / "sub-P01_ses-01_task-floss_tracksys-shin_motion.tsv"


def _edit_line(path, k, fn):
    lines = path.read_text().splitlines()
    lines[k] = fn(lines[k])
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        (lambda p: p.write_text("lat\tax\n" + p.read_text()), r"line 1 is not numbers.*header"),
        (lambda p: _edit_line(p, 0, lambda s: s + "\t1.0"), r"8 columns, but its channels file"),
        (
            lambda p: _edit_line(p, 7, lambda s: s.rsplit("\t", 1)[0]),
            r"line 8: no value for shin_gyr_z \(a short line",
        ),
        (
            lambda p: _edit_line(p, 4, lambda s: s.replace("\t", "\tabc\t", 1).rsplit("\t", 1)[0]),
            r"line 5: shin_acc_x is 'abc', not a number",
        ),
        (
            lambda p: _edit_line(p, 9, lambda s: "0.0" + s[s.index("\t") :]),
            r"line 10: time 0 s does not come after",
        ),
        (
            lambda p: p.with_name(p.name.replace("motion.tsv", "channels.tsv")).unlink(),
            r"no channels file beside it",
        ),
        (lambda p: p.write_text(""), r"empty file"),
    ],
)
def test_malformed_motion_files_are_one_line_errors(ours, breakage, match):
    breakage(ours)
    assert_one_line_error(load, ours, match)


def _error_naming(culprit, path, match):
    """Reading ``path`` fails with one line matching ``match`` that names the file at fault."""
    with pytest.raises(CollectorError, match=match) as e:
        read_motion(path)
    assert "\n" not in str(e.value) and str(culprit) in str(e.value)


def test_malformed_sidecars_and_channels_are_one_line_errors(ours):
    channels = ours.with_name(ours.name.replace("motion.tsv", "channels.tsv"))
    text = channels.read_text()
    channels.write_text(text.replace("deg/s", "furlong/fortnight", 1))
    _error_naming(channels, ours, r"shin_gyr_x: unit 'furlong/fortnight' not understood")
    channels.write_text(text.replace("LATENCY", "MISC"))  # no LATENCY: the sidecar's rate
    sidecar = ours.with_suffix(".json")
    sidecar.write_text("{not json")
    _error_naming(sidecar, ours, r"not valid JSON \(line 1")
    sidecar.write_text("{}")
    _error_naming(ours, ours, r"no LATENCY channel and no SamplingFrequency")
    channels.write_text("name\tunits\nx\tm\n")
    _error_naming(channels, ours, r"no 'type' column")


def test_a_tsv_that_is_no_motion_file(tmp_path):
    numbers = tmp_path / "numbers.tsv"
    numbers.write_text("1\t2\n3\t4\n")
    assert_one_line_error(load, numbers, r"not a BIDS-Motion data file.*_motion\.tsv")
    table = tmp_path / "table.tsv"
    table.write_text("a\tb\n1\t2\n")  # a header: the reader names what it expected
    assert_one_line_error(load, table, r"not a BIDS-Motion data file")
