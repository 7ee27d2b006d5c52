"""The LSL outlet against real pylsl inlets on this machine (loopback): samples, rates, units,
timestamps and rep markers checked against what was sent and recorded; a LabRecorder-like
capture written as XDF analyses to the same reps; ``record``/``live --lsl`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

pylsl = pytest.importorskip("pylsl")
from pylsl.util import LostError  # noqa: E402

from collector.errors import CollectorError  # noqa: E402
from collector.hub import Dispatcher  # noqa: E402
from collector.io import load  # noqa: E402
from collector.lsl import LslOutlet  # noqa: E402
from collector.model import SampleBlock  # noqa: E402
from collector.recording import SAMPLE_COLUMNS, load_recording  # noqa: E402
from collector.xdf import rep_markers  # noqa: E402
from gui.cli import main  # noqa: E402
from gui.rep_counter import RepCounter  # noqa: E402
from tests.conftest import cached_session  # noqa: E402
from tests.xdf_writer import Stream, write_xdf  # noqa: E402

RESOLVE_S = 30.0


class Capture:
    """A LabRecorder stand-in: one inlet per stream, each pulled in its own thread until its
    outlet goes away; keeps the samples, timestamps, header XML and clock offsets."""

    def __init__(self, info, clock_offset: bool = True) -> None:
        self.inlet = pylsl.StreamInlet(info, max_buflen=600, recover=False)
        self.inlet.open_stream(timeout=10.0)
        self.info = self.inlet.info(timeout=10.0)  # the full header, while the outlet lives
        self.xml = self.info.as_xml()
        self.offsets = (
            [(pylsl.local_clock(), self.inlet.time_correction(timeout=5.0))] if clock_offset else []
        )
        self.values: list = []
        self.stamps: list[float] = []
        self.thread = threading.Thread(target=self._pull, daemon=True)
        self.thread.start()

    def _pull(self) -> None:
        while True:
            try:
                data, stamps = self.inlet.pull_chunk(timeout=0.2)
            except LostError:
                return
            self.values.extend(data)
            self.stamps.extend(stamps)

    def join(self) -> Capture:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self


def _resolve(prop: str, value: str, deadline_s: float = RESOLVE_S):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = pylsl.resolve_byprop(prop, value, 1, 0.5)
        if found:
            return found[0]
    raise AssertionError(f"no LSL stream with {prop}={value} within {deadline_s} s")


def _markers(cap: Capture) -> dict[int, tuple[dict, float]]:
    """Latest revision of each rep marker, with its timestamp."""
    latest: dict[int, tuple[dict, float]] = {}
    for (text,), ts in zip(cap.values, cap.stamps, strict=True):
        m = json.loads(text)
        latest[m["rep"]] = (m, ts)
    return latest


@pytest.fixture(scope="module")
def streamed():
    """A lossy simulated session pushed through the hub into the outlet, received by inlets."""
    session = cached_session(seed=21, sets=1, reps_per_set=3, rate_hz=50.0, loss=0.02)
    items = [item for _, item in session.timeline()]
    opened_lsl = pylsl.local_clock()
    outlet = LslOutlet(session.sensors, session_id="t1" + os.urandom(4).hex())
    sid = outlet.session_id
    caps = {
        key: Capture(_resolve("source_id", f"flossmeter-{sid}-{key}"))
        for key in ("shin", "head", "reps")
    }
    counter = RepCounter(session.sensors)
    outlet.watch_reps(lambda: counter.reps, lambda: (len(counter.reps), counter.analyzer.revisions))
    dispatch = Dispatcher([counter, outlet]).dispatch
    for item in items:
        dispatch(item)
    counter.finish()
    outlet.close()
    for c in caps.values():
        c.join()
    blocks = [b for b in items if isinstance(b, SampleBlock)]
    return session, outlet, caps, counter.result, blocks, opened_lsl


def test_inlets_receive_every_sample_with_its_session_time(streamed):
    _, outlet, caps, _, blocks, opened_lsl = streamed
    offsets = []
    for role in ("shin", "head"):
        sent = [b for b in blocks if b.sensor == role]
        t = np.concatenate([b.time_s for b in sent])
        x = np.concatenate([np.hstack((b.acc_mps2, b.gyro_dps)) for b in sent])
        cap = caps[role]
        assert len(cap.stamps) == len(t) == outlet.samples_sent[role]
        np.testing.assert_array_equal(np.array(cap.values, np.float32), x.astype(np.float32))
        ts = np.array(cap.stamps)
        # each sample keeps its own time: spacing as sent, including the link's gaps
        np.testing.assert_allclose(np.diff(ts), np.diff(t), atol=1e-9)
        assert (np.diff(t) > 1.5 / 50).any()  # there were gaps to keep
        offsets.append(ts - t)
    offset = np.concatenate(offsets)
    # one constant maps the session clock of both straps onto the LSL clock ...
    assert np.ptp(offset) < 1e-9
    # ... and it is the LSL clock when the session began (the outlet opened at session time 0)
    assert abs(offset[0] - opened_lsl) < 1.0
    assert offset[0] == pytest.approx(outlet.clock.session_zero_lsl_s, abs=1e-9)


def test_stream_headers_say_rate_type_channels_and_units(streamed):
    session, _, caps, _, _, _ = streamed
    for role in ("shin", "head"):
        info = caps[role].info
        assert info.name() == f"flossmeter-{role}" and info.type() == "IMU"
        assert info.channel_count() == 6 and info.nominal_srate() == 50.0
        assert info.channel_format() == pylsl.cf_float32
        assert info.get_channel_labels() == list(SAMPLE_COLUMNS)
        assert info.get_channel_units() == ["m/s^2"] * 3 + ["deg/s"] * 3
        assert info.get_channel_types() == ["ACCEL"] * 3 + ["GYRO"] * 3
        desc = info.desc()
        assert desc.child("synchronization").child_value("can_drop_samples") == "true"
        assert desc.child("flossmeter").child_value("role") == role
        assert session.sensors[role].rate_hz == 50.0
    info = caps["reps"].info
    assert info.name() == "flossmeter-reps" and info.type() == "Markers"
    assert info.channel_format() == pylsl.cf_string and info.nominal_srate() == 0.0


def test_marker_stream_carries_the_reps(streamed):
    session, outlet, caps, result, _, _ = streamed
    latest = _markers(caps["reps"])
    reps = result.records
    assert len(reps) == len(session.truth.reps) == 3
    assert sorted(latest) == [r.rep for r in reps]
    for r in reps:
        m, ts = latest[r.rep]
        assert m["event"] == "rep" and m["set"] == r.set and m["technique"] == r.technique
        assert m["start_s"] == pytest.approx(r.start_s, abs=1e-9)
        assert m["end_s"] == pytest.approx(r.end_s, abs=1e-9)
        assert m["quality"] == pytest.approx(r.quality, abs=1e-9)
        assert m["flags"] == list(r.flags)
        # stamped at the rep's start on the LSL clock
        assert ts == pytest.approx(outlet.clock.session_zero_lsl_s + r.start_s, abs=1e-6)
    assert len(caps["reps"].values) == outlet.markers_sent >= len(reps)


def test_a_labrecorder_like_capture_as_xdf_analyses_to_the_same_reps(streamed, tmp_path):
    """Outlet → inlets → an XDF file (written from the spec) → our reader → the same reps."""
    _, outlet, caps, result, _, _ = streamed
    streams = []
    for key, cap in caps.items():
        values = [v[0] for v in cap.values] if key == "reps" else np.array(cap.values)
        streams.append(
            Stream(
                name="", type="", channel_format="string" if key == "reps" else "float32",
                nominal_srate=0.0, time_stamps=np.array(cap.stamps), values=values,
                header=cap.xml, clock_offsets=cap.offsets,
            )
        )  # fmt: skip
    path = write_xdf(tmp_path / "capture.xdf", streams)
    rec = load(path)
    assert rec.meta["lsl_session_id"] == outlet.session_id
    out = tmp_path / "reps.csv"
    assert main(["analyze", str(path), "-o", str(out)]) == 0
    reps = pd.read_csv(out)
    assert len(reps) == len(result.records)
    np.testing.assert_allclose(reps["start_s"], [r.start_s for r in result.records], atol=1e-4)
    assert list(reps["technique"]) == [r.technique for r in result.records]
    assert [m["rep"] for m in rep_markers(rec)] == [r.rep for r in result.records]


def test_revised_reps_are_sent_again_with_a_revision(streamed):
    session, _, _, _, _, _ = streamed
    with LslOutlet(session.sensors, session_id="t2" + os.urandom(4).hex()) as outlet:
        cap = Capture(_resolve("source_id", f"flossmeter-{outlet.session_id}-reps"))
        rep = {"rep": 1, "set": 1, "start_s": 10.0, "end_s": 15.0, "duration_s": 5.0,
               "technique": "unknown", "quality": 80.0, "knee_rom_deg": 70.0,
               "head_rom_deg": float("nan"), "flags": "held;partial"}  # fmt: skip
        assert outlet.publish_reps([rep]) == 1
        assert outlet.publish_reps([rep]) == 0  # nothing new
        assert outlet.publish_reps([rep | {"technique": "slider"}]) == 1
    cap.join()
    sent = [json.loads(v[0]) for v in cap.values]
    assert [(m["technique"], m["revision"]) for m in sent] == [("unknown", 0), ("slider", 1)]
    assert sent[0]["flags"] == ["held", "partial"] and sent[0]["head_rom_deg"] is None


def test_reps_decided_before_a_recorder_connects_reach_it_when_it_does():
    """Markers published with no inlet connected are held, then sent with their own stamps:
    a recorder started after the first rep still gets every rep (LSL itself would drop it)."""
    session = cached_session(seed=21, sets=1, reps_per_set=3, rate_hz=50.0, loss=0.02)
    items = [item for _, item in session.timeline()]
    counter = RepCounter(session.sensors)
    with LslOutlet(session.sensors, session_id="t3" + os.urandom(4).hex()) as outlet:
        outlet.watch_reps(
            lambda: counter.reps, lambda: (len(counter.reps), counter.analyzer.revisions)
        )
        dispatch = Dispatcher([counter, outlet]).dispatch
        items = iter(items)
        while not counter.reps:  # up to the first rep decided, nobody listening
            dispatch(next(items))
        assert outlet.markers_sent == 0 and [json.loads(t)["rep"] for t, _ in outlet.held] == [1]
        cap = Capture(_resolve("source_id", f"flossmeter-{outlet.session_id}-reps"))
        for item in items:
            dispatch(item)
        counter.finish()
    cap.join()
    assert outlet.held == []
    latest = _markers(cap)
    reps = counter.result.records
    assert len(reps) == len(session.truth.reps) == 3
    assert sorted(latest) == [r.rep for r in reps]
    for r in reps:
        m, ts = latest[r.rep]
        assert m["start_s"] == pytest.approx(r.start_s, abs=1e-9)
        assert ts == pytest.approx(outlet.clock.session_zero_lsl_s + r.start_s, abs=1e-6)


def test_missing_pylsl_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "pylsl", None)
    with pytest.raises(CollectorError, match=r"--lsl needs the pylsl package; .*flossmeter\[lsl\]"):
        LslOutlet({})
    argv = ["record", "--sim", "--lsl", "-o", str(tmp_path / "x.flossrec")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flossmeter: error: --lsl needs the pylsl package") and "\n" not in err
    assert not (tmp_path / "x.flossrec").exists()


def _capture_new(name: str, stale: set[str]) -> Capture:
    """Capture the live stream called ``name`` whose source_id is not in ``stale`` (streams of
    this process's earlier outlets, which may still answer a query for a moment)."""
    end = time.monotonic() + RESOLVE_S
    while time.monotonic() < end:
        for info in pylsl.resolve_byprop("name", name, 1, 0.5):
            if info.source_id() in stale:
                continue
            try:
                return Capture(info, clock_offset=False)  # connect at once: samples are flowing
            except (LostError, TimeoutError):
                stale.add(info.source_id())
    raise AssertionError(f"no live LSL stream {name} within {RESOLVE_S} s")


def _run_and_capture(cmd: list[str], env: dict[str, str] | None = None):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        stale: set[str] = set()
        shin = _capture_new("flossmeter-shin", stale)
        session = shin.info.source_id().removesuffix("-shin")
        reps = Capture(_resolve("source_id", f"{session}-reps"), clock_offset=False)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    caps = {"shin": shin.join(), "reps": reps.join()}
    assert proc.returncode == 0, err.decode()
    return caps, err.decode()


def _check_against_recording(caps, rec, reps_csv, start_tol_s=1e-6):
    lsl = rec.meta["lsl"]
    assert caps["shin"].info.source_id() == f"flossmeter-{lsl['session_id']}-shin"
    df = rec.samples["shin"]
    ts = np.array(caps["shin"].stamps)
    t = ts - lsl["session_zero_lsl_s"]
    # the inlet connected a little after the outlet opened: from then on, every sample
    recorded = df[df["time_s"] >= t[0] - 1e-6]
    assert len(recorded) == len(t) > 100
    np.testing.assert_allclose(t, recorded["time_s"], atol=1e-6)
    np.testing.assert_array_equal(
        np.array(caps["shin"].values, np.float32), recorded[list(SAMPLE_COLUMNS)].to_numpy()
    )
    latest = _markers(caps["reps"])
    reps = pd.read_csv(reps_csv)
    truth = cached_session(seed=4, sets=1, reps_per_set=3, rate_hz=50.0).truth  # the CLI's
    assert len(reps) == len(truth.reps) == 3
    assert sorted(latest) == list(reps["rep"])
    for _, r in reps.iterrows():
        m, stamp = latest[r["rep"]]
        assert m["technique"] == r["technique"]
        assert m["start_s"] == pytest.approx(r["start_s"], abs=start_tol_s)
        assert stamp - lsl["session_zero_lsl_s"] == pytest.approx(m["start_s"], abs=1e-6)


@pytest.mark.slow
def test_record_lsl_publishes_what_it_records(flossmeter_cmd, tmp_path):
    out = tmp_path / "r.flossrec"
    cmd = [*flossmeter_cmd, "record", "--sim", "--lsl", "--speed", "5", "--seed", "4",
           "--sets", "1", "--reps", "3", "--rate-hz", "50", "-o", str(out)]  # fmt: skip
    caps, err = _run_and_capture(cmd)
    assert "INFO|" not in err  # liblsl's start-up chatter is quiet without a lab config
    rec = load_recording(out)
    assert main(["analyze", str(out), "-o", str(tmp_path / "reps.csv")]) == 0
    # record: the counter and the recording see every sample, so live equals offline exactly
    _check_against_recording(caps, rec, tmp_path / "reps.csv")


@pytest.mark.slow
def test_live_lsl_publishes_what_the_dashboard_records(flossmeter_cmd, tmp_path):
    out = tmp_path / "l.flossrec"
    cmd = [*flossmeter_cmd, "live", "--sim", "--lsl", "--speed", "5", "--seed", "4",
           "--sets", "1", "--reps", "3", "--rate-hz", "50", "--record", str(out),
           "--quit-after-s", "14"]  # fmt: skip
    caps, _ = _run_and_capture(cmd, {**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    rec = load_recording(out)
    assert rec.meta["recorded_from"] == "dashboard"
    assert main(["analyze", str(out), "-o", str(tmp_path / "reps.csv")]) == 0
    # the dashboard's recording begins with the first block it sees, a few samples after the
    # session (and the analyzer, and the outlet) began: its offline analysis differs by a hair
    _check_against_recording(caps, rec, tmp_path / "reps.csv", start_tol_s=0.02)


@pytest.mark.slow
def test_the_stream_lsl_example_prints_the_reps(flossmeter_cmd, tmp_path):
    """docs/examples/stream_lsl.py beside a running `record --lsl`: each rep, the shin's rate."""
    from tests.conftest import ROOT

    example = [sys.executable, str(ROOT / "docs" / "examples" / "stream_lsl.py")]
    listener = subprocess.Popen(example, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "r.flossrec"
    record = [*flossmeter_cmd, "record", "--sim", "--lsl", "--speed", "5", "--seed", "4",
              "--sets", "1", "--reps", "3", "--rate-hz", "50", "-o", str(out)]  # fmt: skip
    subprocess.run(record, capture_output=True, timeout=120, check=True)
    text, err = listener.communicate(timeout=60)
    assert listener.returncode == 0, err
    lines = text.splitlines()
    assert lines[0].startswith("receiving flossmeter-") and lines[0].endswith("at 50 Hz")
    assert main(["analyze", str(out), "-o", str(tmp_path / "reps.csv")]) == 0
    expected = [
        f"rep {r.rep} (set {r.set}): {r.technique}, quality {r.quality:.0f}, "
        f"{r.start_s:.2f}–{r.end_s:.2f} s"
        for r in pd.read_csv(tmp_path / "reps.csv").itertuples()
    ]
    assert [line for line in lines if line.startswith("rep ")] == expected
    n, rate = lines[-1].split(" samples at ")
    assert int(n.removeprefix("shin: ")) > 1000 and rate.startswith("50.0 Hz")
