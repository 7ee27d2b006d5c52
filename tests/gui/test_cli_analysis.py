"""`flossmeter analyze` and `dictionary`: files, CSV input, folders, errors; the reps CSV."""

import subprocess

import pandas as pd
import pytest

from analysis.dictionary import columns
from gui.cli import main
from tests.conftest import cached_session


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("recs")
    for seed, extra in ((1, []), (2, ["--technique", "tensioner"]), (3, ["--shin-only"])):
        argv = ["simulate", "-o", str(d / f"s{seed}.flossrec"), "--sets", "2", "--reps", "3"]
        assert main([*argv, "--seed", str(seed), "--rate-hz", "50", *extra]) == 0
    return d


def truth_count(path):
    from collector.recording import load_recording

    return len(load_recording(path).ground_truth.reps)


def test_analyze_one_recording_writes_reps_and_dictionary(recordings, tmp_path, capsys):
    out = tmp_path / "reps.csv"
    rec = recordings / "s1.flossrec"
    assert main(["analyze", str(rec), "-o", str(out), "--summary"]) == 0
    text = capsys.readouterr().out
    assert "set 1: 3 reps" in text and "set 2: 3 reps" in text and "slider" in text
    reps = pd.read_csv(out)
    assert len(reps) == truth_count(rec)
    assert list(reps.columns) == [c.name for c in columns() if c.name != "recording"]
    dictionary = pd.read_csv(tmp_path / "reps.dictionary.csv")
    assert list(dictionary["name"]) == [c.name for c in columns()]
    assert (dictionary["definition"].str.len() > 10).all()


def test_long_csv_input_gives_the_same_reps(recordings, tmp_path):
    rec = recordings / "s2.flossrec"
    csv = tmp_path / "s2.csv"
    assert main(["export", str(rec), "--samples-csv", str(csv)]) == 0
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["analyze", str(rec), "-o", str(a)]) == 0
    assert main(["analyze", str(csv), "-o", str(b)]) == 0
    ra, rb = pd.read_csv(a), pd.read_csv(b)
    assert len(ra) == len(rb) == truth_count(rec)
    assert (ra["technique"] == "tensioner").all() and (rb["technique"] == "tensioner").all()
    pd.testing.assert_series_equal(ra["start_s"], rb["start_s"], atol=0.02)


def test_folder_gets_a_recording_column_and_skips_bad_files(recordings, tmp_path, capsys):
    folder = tmp_path / "study"
    folder.mkdir()
    for f in recordings.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "notes.csv").write_text("this is not a sample file\n")
    out = tmp_path / "all.csv"
    code = main(["analyze", str(folder), "-o", str(out), "--jobs", "2"])
    assert code == 2  # a file was skipped: scripts notice, the rest is still written
    err = capsys.readouterr().err
    assert "skipped" in err and "notes.csv" in err and "line 1: missing column" in err
    reps = pd.read_csv(out)
    assert reps.columns[0] == "recording"
    counts = reps.groupby("recording").size()
    for f in recordings.iterdir():
        assert counts[str(folder / f.name)] == truth_count(f)
    shin_only = reps[reps["recording"].str.endswith("s3.flossrec")]
    assert (shin_only["technique"] == "unclear").all()


def test_a_folder_of_only_bad_files_writes_nothing(tmp_path, flossmeter_cmd):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "notes.csv").write_text("this is not a sample file\n")
    (folder / "broken.flossrec").write_bytes(b"SQLite format 3\x00" + bytes(100))
    out = tmp_path / "all.csv"
    run = subprocess.run(
        [*flossmeter_cmd, "analyze", str(folder), "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert sum(line.startswith("flossmeter: skipped: ") for line in lines) == 2
    assert lines[-1] == "flossmeter: error: none of the 2 files could be analysed: nothing written"
    assert not out.exists()  # not an empty CSV that looks like a result


@pytest.mark.parametrize(
    "argv,message",
    [
        (["analyze", "{tmp}/missing.flossrec", "-o", "{tmp}/r.csv"], "no such file"),
        (["analyze", "{tmp}/head_only.csv", "-o", "{tmp}/r.csv"], "no shin samples"),
        (["analyze", "{tmp}"], "-o reps.csv"),
        (["analyze", "{tmp}/empty_dir", "-o", "{tmp}/r.csv"], "no recordings"),
        (["analyze", "{tmp}/ok.csv", "-o", "{tmp}/no_dir/r.csv"], "r.csv: cannot write ("),
        (["export", "{tmp}/ok.csv", "--samples-csv", "{tmp}/no_dir/s.csv"], "cannot write ("),
    ],
)
def test_errors_are_one_line_exit_2(tmp_path, flossmeter_cmd, argv, message):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "head_only.csv").write_text(
        "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0.0,head,0,0,9.8,0,0,0\n"
    )
    (tmp_path / "ok.csv").write_text(
        "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n"
        + "".join(f"{k / 100},shin,0,0,9.8,0,0,0\n" for k in range(300))
    )
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    out = subprocess.run([*flossmeter_cmd, *argv], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.stderr
    assert "(None)" not in lines[0]  # a reason, always


def test_dictionary_command_prints_markdown(capsys):
    assert main(["dictionary"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Data dictionary") and "`crp_mean_deg`" in text and "Lamb" in text


def test_session_without_reps_writes_an_empty_table(tmp_path):
    s = cached_session(seed=9, sets=1, reps_per_set=1)
    from benchmarks.accuracy import samples_of
    from collector.csvio import write_samples_csv
    from collector.recording import Recording

    samples = samples_of(s)
    still = {r: df[df["time_s"] < 3.0] for r, df in samples.items()}  # the still lead-in only
    for df in still.values():
        df.insert(1, "device_time_s", df["time_s"])
        df.insert(2, "sample_index", range(len(df)))
    events = pd.DataFrame(columns=["time_s", "sensor", "kind", "detail"])
    csv = write_samples_csv(Recording(None, {}, {}, still, events), tmp_path / "still.csv")
    out = tmp_path / "r.csv"
    assert main(["analyze", str(csv), "-o", str(out), "--summary"]) == 0
    assert pd.read_csv(out).empty
