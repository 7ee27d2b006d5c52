"""XDF import: files built here from the XDF spec (tests/xdf_writer.py) carrying simulated
sessions analyse like our own recordings of them; foreign streams by --map; bad files."""

from __future__ import annotations

import json
import logging
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from collector.errors import CollectorError
from collector.io import load
from collector.recording import SAMPLE_COLUMNS, load_recording, write_blocks
from collector.xdf import read_xdf, rep_markers
from gui.cli import main
from tests.conftest import cached_session
from tests.xdf_writer import Stream, write_xdf

#: Where session time 0 sits on the sending host's LSL clock in these files, s.
ZERO_LSL_S = 51234.5
#: What the recorder measured its clock to be ahead of the sender's (LabRecorder's
#: ClockOffset value: add it to the sender's timestamps), s.
OFFSET_S = 0.25
#: Our outlet's channels as docs/lsl-xdf.md specifies them.
OUR_CHANNELS = [(c, "m/s^2" if c.startswith("acc") else "deg/s") for c in SAMPLE_COLUMNS]


def _our_desc(role: str, session_id: str = "abc123") -> str:
    return (
        "<synchronization><can_drop_samples>true</can_drop_samples></synchronization>"
        f"<flossmeter><role>{role}</role><session_id>{session_id}</session_id>"
        f"<session_zero_lsl_s>{ZERO_LSL_S!r}</session_zero_lsl_s></flossmeter>"
    )


def _our_streams(rec, session_id="abc123", offsets=True):
    """The streams our outlet sends for recording ``rec``, as LabRecorder would store them."""
    streams = []
    end = ZERO_LSL_S + rec.duration_s
    clock = [(ZERO_LSL_S + OFFSET_S + t, OFFSET_S) for t in np.arange(0, rec.duration_s, 5.0)]
    for role, df in rec.samples.items():
        streams.append(
            Stream(
                name=f"flossmeter-{role}", type="IMU", channel_format="float32",
                nominal_srate=float(rec.sensors[role]["rate_hz"]),
                time_stamps=ZERO_LSL_S + df["time_s"].to_numpy(),
                values=df[list(SAMPLE_COLUMNS)].to_numpy(np.float32),
                source_id=f"flossmeter-{session_id}-{role}", channels=OUR_CHANNELS,
                desc_xml=_our_desc(role, session_id), clock_offsets=clock if offsets else (),
            )
        )  # fmt: skip
    assert end > ZERO_LSL_S
    return streams


@pytest.fixture(scope="module")
def lossy(tmp_path_factory):
    """A simulated session with BLE losses, as our recording and as an XDF file of it."""
    d = tmp_path_factory.mktemp("xdf")
    session = cached_session(seed=11, sets=2, reps_per_set=3, rate_hz=50.0, loss=0.03)
    flossrec = write_blocks(
        d / "s.flossrec",
        (item for _, item in session.timeline()),
        session.sensors,
        {"ground_truth": session.truth.to_dict()},
    )
    rec = load_recording(flossrec)
    xdf = write_xdf(d / "s.xdf", _our_streams(rec))
    return rec, flossrec, xdf


def _reps(path, *extra):
    out = path.with_suffix(f".{path.suffix[1:]}{len(extra)}.reps.csv")
    assert main(["analyze", str(path), "-o", str(out), *extra]) == 0
    return pd.read_csv(out)


def test_our_streams_read_back_as_the_recording(lossy):
    rec, _, xdf = lossy
    got = load(xdf)
    assert got.meta["format"] == "xdf" and got.meta["lsl_session_id"] == "abc123"
    assert list(got.samples) == ["shin", "head"]
    for role, df in rec.samples.items():
        back = got.samples[role]
        assert len(back) == len(df)
        # the session clock comes back through the outlet's zero and the clock offset
        np.testing.assert_allclose(back["time_s"], df["time_s"], atol=2e-6, rtol=0)
        np.testing.assert_array_equal(
            back[list(SAMPLE_COLUMNS)].to_numpy(), df[list(SAMPLE_COLUMNS)].to_numpy()
        )
        # samples lost on the link stay lost (can_drop_samples: not dejittered over the gaps)
        assert len(got.gaps(role)) == len(rec.gaps(role)) > 0
        assert got.gaps(role)["lost"].sum() == rec.gaps(role)["lost"].sum()
        assert got.sensors[role]["rate_hz"] == 50.0


def test_xdf_analyses_like_our_recording_and_the_truth(lossy):
    rec, flossrec, xdf = lossy
    truth = rec.ground_truth.reps
    ours, imported = _reps(flossrec), _reps(xdf)
    assert len(imported) == len(ours) == len(truth) == 6
    np.testing.assert_allclose(imported["start_s"], ours["start_s"], atol=1e-6)
    np.testing.assert_allclose(imported["quality"], ours["quality"], atol=1e-6)
    assert list(imported["technique"]) == list(ours["technique"])
    starts = np.array([r["start_s"] for r in truth])
    assert np.abs(imported["start_s"].to_numpy() - starts).max() < 0.6


def test_foreign_stream_by_map_units_labels_and_dejitter(tmp_path, lossy):
    """Another system's IMU: gyro first in rad/s, acc in g, its own labels, jittered
    timestamps without can_drop_samples: converted, reordered and dejittered by pyxdf."""
    session = cached_session(seed=12, sets=1, reps_per_set=3, rate_hz=50.0)
    rec = load_recording(
        write_blocks(tmp_path / "c.flossrec", (i for _, i in session.timeline()), session.sensors)
    )
    rng = np.random.default_rng(0)
    streams = []
    for role, name in (("shin", "LeftShank"), ("head", "Head")):
        df = rec.samples[role]
        n = len(df)
        regular = 100.0 + np.arange(n) / 50.0
        acc_g = df[["acc_x", "acc_y", "acc_z"]].to_numpy() / 9.80665
        gyr_rad = np.deg2rad(df[["gyr_x", "gyr_y", "gyr_z"]].to_numpy())
        streams.append(
            Stream(
                name=name, type="MoCap", channel_format="double64", nominal_srate=50.0,
                time_stamps=regular + rng.uniform(-0.003, 0.003, n),
                values=np.hstack([gyr_rad, acc_g]), source_id=f"imu-{name}",
                channels=[("GyroX", "rad/s"), ("Gyro Y", "rad/s"), ("gyro_z", "rad/s"),
                          ("AccX", "g"), ("Acc Y", "g"), ("acc_z", "g")],
            )
        )  # fmt: skip
    streams.append(
        Stream(
            name="Trigger", type="Markers", channel_format="string", nominal_srate=0.0,
            time_stamps=np.array([110.0, 120.0]), values=["go", "stop"],
        )
    )  # fmt: skip
    path = write_xdf(tmp_path / "foreign.xdf", streams)
    with pytest.raises(CollectorError, match=r"no flossmeter-shin stream.*'LeftShank' \(MoCap\)"):
        load(path)
    got = load(path, roles={"shin": "LeftShank", "head": "imu-Head"})  # a name, a source_id
    shin = got.samples["shin"]
    dt = np.diff(shin["time_s"].to_numpy())
    assert np.ptp(dt) < 1e-9 and abs(dt.mean() - 0.02) < 1e-4  # dejittered onto 50 Hz
    # no outlet zero: the earliest first sample of the two is 0
    assert min(df["time_s"].iloc[0] for df in got.samples.values()) == 0.0
    np.testing.assert_allclose(
        shin[list(SAMPLE_COLUMNS)].to_numpy(),
        rec.samples["shin"][list(SAMPLE_COLUMNS)].to_numpy(),
        rtol=1e-9, atol=1e-9,
    )  # fmt: skip
    markers = got.events[got.events["kind"] == "marker"]
    assert [d["text"] for d in markers["detail"]] == ["go", "stop"]
    assert markers["time_s"].tolist() == pytest.approx([10.0, 20.0], abs=0.01)
    ours = _reps(tmp_path / "c.flossrec")
    out = tmp_path / "f.csv"
    assert main(["analyze", str(path), "--map", "shin=LeftShank,head=Head", "-o", str(out)]) == 0
    imported = pd.read_csv(out)
    assert len(imported) == len(ours) == len(session.truth.reps) == 3
    # the same motion on another clock: start times shifted by the first sample's time
    shift = rec.samples["shin"]["time_s"].iloc[0]
    np.testing.assert_allclose(imported["start_s"] + shift, ours["start_s"], atol=0.05)


def test_rep_markers_decode_the_latest_revision(tmp_path, lossy):
    rec, _, _ = lossy
    texts = [
        '{"event": "rep", "rep": 1, "technique": "unknown", "revision": 0}',
        '{"event": "rep", "rep": 2, "technique": "slider", "revision": 0}',
        '{"event": "rep", "rep": 1, "technique": "slider", "revision": 1}',
        "not json",
    ]
    streams = [
        *_our_streams(rec),
        Stream(
            name="flossmeter-reps", type="Markers", channel_format="string", nominal_srate=0.0,
            time_stamps=ZERO_LSL_S + np.array([12.0, 20.0, 21.0, 22.0]), values=texts,
            desc_xml=_our_desc("reps"), clock_offsets=[(ZERO_LSL_S + 1.0, OFFSET_S)],
        ),
    ]  # fmt: skip
    got = load(write_xdf(tmp_path / "m.xdf", streams))
    assert [(m["rep"], m["technique"], m["revision"]) for m in rep_markers(got)] == [
        (1, "slider", 1),
        (2, "slider", 0),
    ]
    # markers are on the session clock like the samples
    assert got.events["time_s"].tolist() == pytest.approx([12.0, 20.0, 21.0, 22.0], abs=1e-6)


def test_two_sessions_in_one_file_need_a_source_id(tmp_path, lossy):
    rec, _, _ = lossy
    path = write_xdf(tmp_path / "two.xdf", [*_our_streams(rec, "s1"), *_our_streams(rec, "s2")])
    with pytest.raises(CollectorError, match=r"2 streams could be the shin.*--map shin="):
        load(path)
    got = load(path, roles={"shin": "flossmeter-s2-shin", "head": "flossmeter-s2-head"})
    assert got.meta["lsl_session_id"] == "s2"


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (
            {"shin": "nothing"},
            r"no stream named 'nothing' for the shin; streams: 'flossmeter-shin'",
        ),
        ({"shin": "flossmeter-reps"}, r"'flossmeter-reps' \(shin\) holds string values"),
    ],
)
def test_map_errors_are_one_line(tmp_path, lossy, roles, message):
    rec, _, _ = lossy
    reps = Stream(
        name="flossmeter-reps", type="Markers", channel_format="string", nominal_srate=0.0,
        time_stamps=np.array([1.0]), values=["x"],
    )  # fmt: skip
    path = write_xdf(tmp_path / "m.xdf", [*_our_streams(rec), reps])
    with pytest.raises(CollectorError, match=message) as e:
        load(path, roles=roles)
    assert "\n" not in str(e.value)


def test_stream_without_gyro_labels_is_refused(tmp_path):
    s = Stream(
        name="flossmeter-shin", type="IMU", channel_format="float32", nominal_srate=50.0,
        time_stamps=np.arange(10) / 50.0, values=np.zeros((10, 6)),
        channels=[("acc_x", "m/s^2"), ("acc_y", "m/s^2"), ("acc_z", "m/s^2"),
                  ("temp", "C"), ("pressure", "hPa"), ("gyr_z", "deg/s")],
    )  # fmt: skip
    with pytest.raises(CollectorError, match="no channel labelled gyr_x, gyr_y"):
        load(write_xdf(tmp_path / "x.xdf", [s]))
    s.channels = [(c, "furlongs") for c in SAMPLE_COLUMNS]
    with pytest.raises(CollectorError, match="'acc_x' is in 'furlongs'"):
        load(write_xdf(tmp_path / "y.xdf", [s]))


def test_truncated_file_keeps_what_was_written(tmp_path, lossy, caplog):
    rec, _, _ = lossy
    whole = write_xdf(tmp_path / "w.xdf", _our_streams(rec, offsets=False), interleave=False)
    data = whole.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: len(data) // 4])  # inside the shin's samples: a killed recorder
    with caplog.at_level(logging.WARNING, logger="collector.xdf"):
        got = read_xdf(cut)
    assert "damaged XDF file" in caplog.text
    n = len(got.samples["shin"])
    assert 0 < n < len(rec.samples["shin"])
    np.testing.assert_allclose(
        got.samples["shin"]["time_s"], rec.samples["shin"]["time_s"][:n], atol=2e-6
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"XDF:", "no streams in this XDF file"),
        (b"XDF:\x07\x00\x00\x00garbage", "unreadable XDF file|no streams"),
        (b"XDF:" + bytes(range(256)) * 4, "unreadable XDF file|no streams"),
    ],
)
def test_bad_xdf_files_give_one_line(tmp_path, flossmeter_cmd, content, message):
    path = tmp_path / "bad.xdf"
    path.write_bytes(content)
    with pytest.raises(CollectorError, match=message):
        load(path)
    r = subprocess.run(
        [*flossmeter_cmd, "info", str(path)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert r.stderr.startswith("flossmeter: error: ") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_info_and_suffix_sniffing(tmp_path, lossy, capsys):
    rec, _, xdf = lossy
    renamed = tmp_path / "session.bak"
    renamed.write_bytes(xdf.read_bytes())  # found by its magic, not its name
    assert main(["info", str(renamed)]) == 0
    out = capsys.readouterr().out
    assert "format: xdf" in out and "shin    xdf" in out and "head    xdf" in out
    with pytest.raises(CollectorError, match="--map is for BIDS-Motion, XDF"):
        load(rec.path, roles={"shin": "x"})


def test_replay_reads_foreign_streams_by_map(tmp_path, lossy, flossmeter_cmd):
    rec, _, _ = lossy
    streams = _our_streams(rec)
    for s, name in zip(streams, ("ShankIMU", "HeadIMU"), strict=True):
        s.name, s.desc_xml = name, ""  # another system's names, no outlet zero
    path = write_xdf(tmp_path / "f.xdf", streams)
    state = tmp_path / "state.json"
    cmd = [*flossmeter_cmd, "replay", str(path), "--map", "shin=ShankIMU,head=HeadIMU",
           "--speed", "8", "--quit-after-s", "6", "--state-json", str(state)]  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(state.read_text())["final"]["all_reps"] == len(rec.ground_truth.reps)
    out = subprocess.run(cmd[:3], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and "--map shin=NAME" in out.stderr
