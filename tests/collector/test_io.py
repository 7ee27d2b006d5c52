"""The one loader: format from the name, checked against the bytes; one-line errors otherwise."""

import zipfile

import numpy as np
import pandas as pd
import pytest

from collector.csvio import write_samples_csv
from collector.io import READABLE_SUFFIXES, load
from collector.model import SampleBlock, SensorInfo, SourceEvent
from collector.recording import load_recording, write_blocks
from tests.collector.bad_files import assert_one_line_error, write_other_sqlite

RATE = 64.0  # times k/64 s print exactly with the CSV's 6 decimals


def _blocks(sensor, idx, seed):
    """Blocks of 8 samples with values that float32 and 7 significant digits keep exactly."""
    rng = np.random.default_rng(seed)
    t = idx / RATE
    acc = rng.integers(-160, 160, (len(idx), 3)) / 8.0
    gyr = rng.integers(-4000, 4000, (len(idx), 3)) / 4.0
    out = []
    for a in range(0, len(idx), 8):
        s = slice(a, a + 8)
        out.append(SampleBlock(sensor, t[s], t[s], acc[s], gyr[s], idx[s], arrival_s=t[s][-1]))
    return out


@pytest.fixture(scope="module")
def recording_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "s.flossrec"
    shin = _blocks("shin", np.r_[0:100, 104:200], 1)  # 4 samples lost (100–103)
    head = _blocks("head", np.r_[0:40, 41:150], 2)  # 1 lost (40)
    items = [SourceEvent(0.0, "connected", "shin"), *shin, *head]
    sensors = {r: SensorInfo(r, "simulated", RATE) for r in ("shin", "head")}
    write_blocks(path, items, sensors, {"participant": "P-1"})
    return path


def _one_line_error(path, match):
    return assert_one_line_error(load, path, match)


def test_a_recording_loads_as_the_recording_reader_reads_it(recording_file):
    rec, direct = load(recording_file), load_recording(recording_file)
    assert rec.meta == direct.meta and rec.meta["participant"] == "P-1"
    for role in ("shin", "head"):
        pd.testing.assert_frame_equal(rec.samples[role], direct.samples[role])
    pd.testing.assert_frame_equal(rec.events, direct.events)
    assert rec.gaps("shin")["lost"].tolist() == [4]


def test_a_recording_and_a_csv_of_the_same_samples_load_to_equal_sample_tables(
    recording_file, tmp_path
):
    rec = load(recording_file)
    csv = write_samples_csv(rec, tmp_path / "s.csv")
    back = load(csv)
    assert back.meta["format"] == "long-csv"
    assert list(back.samples) == list(rec.samples) == ["shin", "head"]
    for role in rec.samples:
        pd.testing.assert_frame_equal(back.samples[role], rec.samples[role], check_exact=True)
        pd.testing.assert_frame_equal(back.gaps(role), rec.gaps(role))


@pytest.mark.parametrize("name", ["s.bak", "s.csv", "s", "S.FLOSSREC"])
def test_a_recording_under_another_name_still_loads(recording_file, tmp_path, name):
    other = tmp_path / name
    other.write_bytes(recording_file.read_bytes())
    rec = load(other)
    for role in ("shin", "head"):
        pd.testing.assert_frame_equal(
            rec.samples[role], load_recording(recording_file).samples[role]
        )


def test_a_sample_csv_under_another_name_still_loads(recording_file, tmp_path):
    csv = write_samples_csv(load(recording_file), tmp_path / "s.csv")
    txt = tmp_path / "export.txt"
    txt.write_bytes(csv.read_bytes())
    pd.testing.assert_frame_equal(load(txt).samples["shin"], load(csv).samples["shin"])


def test_files_of_other_kinds_are_named(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    for name in ("plot.png", "plot.flossrec", "plot.csv"):
        (tmp_path / name).write_bytes(png)
        msg = _one_line_error(tmp_path / name, "a PNG image, not a session file")
        assert ".flossrec" in msg and ".csv" in msg  # says what would load

    archive = tmp_path / "session.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("s.csv", "time_s,sensor\n")
    _one_line_error(archive, "a ZIP archive")
    renamed = tmp_path / "session.flossrec"
    renamed.write_bytes(archive.read_bytes())
    _one_line_error(renamed, "a ZIP archive")

    _one_line_error(write_other_sqlite(tmp_path / "other.db"), "an SQLite file of another kind")


def test_random_bytes_are_refused_by_what_the_name_promised(tmp_path):
    noise = b"\x00" + np.random.default_rng(7).bytes(4095)  # starts with no known signature
    for name, match in [
        ("x.flossrec", r"not a flossmeter recording \(not an SQLite file\)"),
        ("x.csv", "binary data, not a text long sample CSV"),
        ("x.bin", r"unknown kind of file \('\.bin'\); flossmeter reads .*\.flossrec.*\.csv"),
        ("x", r"unknown kind of file \(no file name ending\)"),
    ]:
        (tmp_path / name).write_bytes(noise)
        _one_line_error(tmp_path / name, match)


def test_text_that_is_no_sample_csv(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("pain 3/10 after set 2\n")
    _one_line_error(notes, r"unknown kind of file \('\.txt'\)")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("t,acc\n0,1\n")
    _one_line_error(wrong, "line 1: missing column")


def test_empty_truncated_missing_and_folders(recording_file, tmp_path):
    for name in ("e.flossrec", "e.csv", "e.dat"):
        (tmp_path / name).write_bytes(b"")
        _one_line_error(tmp_path / name, r"empty file \(0 bytes\)")

    data = recording_file.read_bytes()
    tiny = tmp_path / "tiny.flossrec"
    tiny.write_bytes(data[:50])
    _one_line_error(tiny, r"truncated recording \(50 bytes\)")
    for frac in (0.3, 0.6, 0.95):
        cut = tmp_path / f"cut{frac}.bak"  # sniffed, then read as a recording
        cut.write_bytes(data[: int(len(data) * frac)])
        _one_line_error(cut, "corrupt or truncated|wrong length|cannot open")

    for name in ("missing.flossrec", "missing.csv", "missing"):
        _one_line_error(tmp_path / name, "no such file")
    folder = tmp_path / "folder.flossrec"
    folder.mkdir()
    _one_line_error(folder, "a folder, not a session file")


def test_the_readable_endings_are_listed():
    assert READABLE_SUFFIXES == (".flossrec", ".csv", ".tsv", ".xdf")
