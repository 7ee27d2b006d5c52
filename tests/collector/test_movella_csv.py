"""Movella DOT CSV import: exports built here in the DOT app's documented layout from simulated
sessions (SampleTimeFine wrapping at 2³², synced and unsynced sensors, roles from names or
--map) analyse like our recordings of the same sessions; bad files give one line."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from collector.errors import CollectorError
from collector.io import load
from collector.recording import SAMPLE_COLUMNS, load_recording, write_blocks
from gui.cli import main
from tests.conftest import cached_session

DOT_COLUMNS = ["Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z"]
#: SampleTimeFine at session time 0 of the synced files: it wraps 20 s into the session.
ST_BASE_US = 2**32 - 20_000_000


def write_dot(path, df, *, tag, st_us, start="2024-03-01_10:15:30_125", synced=True,
              rate_hz=60, columns=None, euler=True):  # fmt: skip
    """One sensor's export as the DOT app writes it: header lines, a blank line, columns."""
    header = [
        "sep=,",
        f"DeviceTag:,{tag}",
        "FirmwareVersion:,2.6.0",
        "AppVersion:,2023.6.0",
        f"SyncStatus:,{'Synced' if synced else 'Unsynced'}",
        f"OutputRate:,{rate_hz}Hz",
        "FilterProfile:,General",
        "Measurement Mode:,Custom Mode 4",
        f"StartTime: ,{start} GMT+1",
        "© Movella Technologies B. V. 2005-2023",
        "",
    ]
    angles = ["Euler_X", "Euler_Y", "Euler_Z"] if euler else []
    cols = columns or ["PacketCounter", "SampleTimeFine", *angles, *DOT_COLUMNS]
    rows = [",".join(cols)]
    values = df[list(SAMPLE_COLUMNS)].to_numpy()
    for i, (st, v) in enumerate(zip(st_us, values, strict=True)):
        cells = {"PacketCounter": str(i), "SampleTimeFine": str(int(st)),
                 "Euler_X": "0.0", "Euler_Y": "0.0", "Euler_Z": "0.0"}  # fmt: skip
        cells.update({c: f"{x:.8f}" for c, x in zip(DOT_COLUMNS, v, strict=True)})
        rows.append(",".join(cells.get(c, "0") for c in cols))
    path.write_text("\n".join(header + rows) + "\n", encoding="utf-8")
    return path


def _synced_st(df):
    return (ST_BASE_US + np.rint(df["time_s"].to_numpy() * 1e6).astype(np.int64)) % 2**32


@pytest.fixture(scope="module")
def session60(tmp_path_factory):
    """A 60 Hz simulated session (the DOT's recording rate) as our recording."""
    d = tmp_path_factory.mktemp("dot")
    s = cached_session(seed=31, sets=2, reps_per_set=3, rate_hz=60.0)
    path = write_blocks(
        d / "s.flossrec", (i for _, i in s.timeline()), s.sensors,
        {"ground_truth": s.truth.to_dict()},
    )  # fmt: skip
    return load_recording(path), path


@pytest.fixture
def synced(tmp_path, session60):
    rec, _ = session60
    files = {}
    for role, tag in (("shin", "shin-L"), ("head", "head")):
        df = rec.samples[role]
        files[role] = write_dot(
            tmp_path / f"{tag}_D422CD00000{len(files)}_20240301_101530.csv", df, tag=tag,
            st_us=_synced_st(df),
        )  # fmt: skip
    return files


def _analyze(path, tmp_path, *extra):
    out = tmp_path / f"{path.stem}.reps.csv"
    assert main(["analyze", str(path), "-o", str(out), *extra]) == 0
    return pd.read_csv(out)


def test_synced_session_reads_back_across_the_wrap(synced, session60):
    rec, _ = session60
    got = load(synced["head"])  # either file of the session reads both
    assert got.meta["format"] == "movella-dot-csv"
    assert got.meta["time_alignment"] == "SampleTimeFine (sensors synced)"
    shift = min(df["time_s"].iloc[0] for df in rec.samples.values())
    for role, df in rec.samples.items():
        back = got.samples[role]
        assert len(back) == len(df)
        # SampleTimeFine wrapped 20 s in; unwrapped it is the session clock (µs) again
        np.testing.assert_allclose(back["time_s"], df["time_s"] - shift, atol=1.01e-6)
        np.testing.assert_allclose(
            back[list(SAMPLE_COLUMNS)].to_numpy(), df[list(SAMPLE_COLUMNS)].to_numpy(),
            atol=1e-8,
        )  # fmt: skip
        assert got.sensors[role]["rate_hz"] == 60.0
        assert got.sensors[role]["kind"] == "movella-dot-csv"
    assert got.sensors["shin"]["name"] == "shin-L"


def test_dot_export_analyses_like_our_recording_and_the_truth(synced, session60, tmp_path):
    rec, flossrec = session60
    shift = min(df["time_s"].iloc[0] for df in rec.samples.values())
    ours, dot = _analyze(flossrec, tmp_path), _analyze(synced["shin"], tmp_path)
    truth = np.array([r["start_s"] for r in rec.ground_truth.reps])
    assert len(dot) == len(ours) == len(truth) == 6
    np.testing.assert_allclose(dot["start_s"] + shift, ours["start_s"], atol=1e-4)
    np.testing.assert_allclose(dot["quality"], ours["quality"], atol=0.5)
    assert list(dot["technique"]) == list(ours["technique"])
    assert np.abs(dot["start_s"].to_numpy() + shift - truth).max() < 0.6


def test_unsynced_sensors_are_lined_up_by_start_time(tmp_path, session60):
    """Each DOT counts on its own clock: the StartTime lines (ms) put them on one time base."""
    rec, _ = session60
    wall0_ms = 10 * 3600_000 + 15 * 60_000 + 30_000 + 125  # 10:15:30.125 at session time 0
    for role in ("shin", "head"):
        df = rec.samples[role]
        own_clock_us = np.rint(df["device_time_s"].to_numpy() * 1e6).astype(np.int64) % 2**32
        first_ms = wall0_ms + round(df["time_s"].iloc[0] * 1000)
        hh, rest = divmod(first_ms, 3600_000)
        mm, rest = divmod(rest, 60_000)
        ss, ms = divmod(rest, 1000)
        write_dot(
            tmp_path / f"{role}.csv", df, tag=f"DOT-{role}", st_us=own_clock_us, synced=False,
            start=f"2024-03-01_{hh:02d}:{mm:02d}:{ss:02d}_{ms:03d}",
        )  # fmt: skip
    got = load(tmp_path / "shin.csv")
    assert got.meta["time_alignment"] == "StartTime (ms)"
    shift = min(df["time_s"].iloc[0] for df in rec.samples.values())
    for role, df in rec.samples.items():
        # ms in StartTime plus the devices' clock drift (≤ 80 ppm over a minute): a few ms
        err = got.samples[role]["time_s"].to_numpy() - (df["time_s"].to_numpy() - shift)
        assert np.abs(err).max() < 0.012
    reps = _analyze(tmp_path / "shin.csv", tmp_path)
    assert len(reps) == len(rec.ground_truth.reps)


def test_roles_from_map_by_tag_or_file(tmp_path, session60, flossmeter_cmd):
    rec, _ = session60
    names = {"shin": ("L-shank", "DOT_D422CD000001_20240301_101530.csv"),
             "head": ("forehead", "DOT_D422CD000002_20240301_101530.csv")}  # fmt: skip
    for role, (tag, name) in names.items():
        write_dot(tmp_path / name, rec.samples[role], tag=tag, st_us=_synced_st(rec.samples[role]))
    first = tmp_path / names["shin"][1]
    with pytest.raises(CollectorError, match=r"which strap is DOT 'L-shank'\?.*--map shin=TAG"):
        load(first)
    got = load(first, roles={"shin": "L-shank", "head": names["head"][1]})  # a tag, a file name
    assert list(got.samples) == ["shin", "head"] and got.sensors["head"]["name"] == "forehead"
    with pytest.raises(CollectorError, match="no DOT file or DeviceTag 'knee'"):
        load(first, roles={"shin": "knee"})
    r = subprocess.run(
        [*flossmeter_cmd, "info", str(first), "--map", "shin=L-shank,head=forehead"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "shin    movella-dot-csv" in r.stdout and "head    movella-dot-csv" in r.stdout
    r = subprocess.run([*flossmeter_cmd, "info", str(first), "--map", "knee=L-shank"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2 and r.stderr.strip() == (
        "flossmeter: error: --map: the roles are shin and head, not 'knee'"
    )


def test_a_lone_head_file_is_not_a_session(tmp_path, session60):
    rec, _ = session60
    path = write_dot(tmp_path / "head.csv", rec.samples["head"], tag="head",
                     st_us=_synced_st(rec.samples["head"]))  # fmt: skip
    with pytest.raises(CollectorError, match="no shin sensor in this DOT session"):
        load(path)


def _small(session60, n=50):
    rec, _ = session60
    return rec.samples["shin"].iloc[:n]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: lines[:12], "no samples"),
        (lambda lines: [*lines[:20], lines[20].replace(",", ",x", 1), *lines[21:]],
         r"line 21: SampleTimeFine is 'x\d+', not a count of µs"),
        (lambda lines: [*lines[:25], ",".join([*lines[25].split(",")[:-2], "oops", "1"]),
                        *lines[26:]], r"line 26: Gyr_Y is 'oops', not a number"),
        (lambda lines: [*lines[:30], lines[28], *lines[31:]],
         r"line 31: SampleTimeFine \d+ does not come after the previous sample's \d+"),
        (lambda lines: [line.replace("Gyr_", "FreeAcc_") for line in lines],
         r"no Gyr_X, Gyr_Y, Gyr_Z column .*custom mode"),
        (lambda lines: lines[:8], "not a Movella DOT export"),
    ],
)  # fmt: skip
def test_bad_files_name_the_line(tmp_path, session60, edit, message):
    df = _small(session60)
    good = write_dot(tmp_path / "shin.csv", df, tag="shin", st_us=_synced_st(df))
    lines = good.read_text().splitlines()
    good.write_text("\n".join(edit(lines)) + "\n")
    with pytest.raises(CollectorError, match=message) as e:
        load(good)
    assert "\n" not in str(e.value)


def test_sniffed_from_its_header_whatever_its_name(tmp_path, session60, capsys):
    df = _small(session60, 200)
    path = write_dot(tmp_path / "export.txt", df, tag="shin", st_us=_synced_st(df))
    assert main(["info", str(path)]) == 0
    assert "movella-dot-csv" in capsys.readouterr().out
    binary = tmp_path / "shin2.csv"
    binary.write_bytes(b"sep=,\nDeviceTag:,shin\x00\x01\x02")
    with pytest.raises(CollectorError, match="binary data"):
        load(binary)
