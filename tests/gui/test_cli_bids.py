"""``flossmeter export --bids`` of a study folder, checked by the official BIDS validator, and
BIDS-Motion input to ``analyze`` and ``info`` (with ``--map``)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collector.model import SourceEvent
from collector.recording import write_blocks
from collector.simulator import SimConfig, simulate
from gui.cli import build_parser, main

#: What the validator may still say about an export: metadata only the study can give
#: (authors, licence, institution, instructions); anything else is a finding.
EXPECTED_WARNINGS = {
    "NO_AUTHORS",
    "TOO_FEW_AUTHORS",
    "JSON_KEY_RECOMMENDED",  # dataset_description: License, HEDVersion, SourceDatasets
    "SIDECAR_KEY_RECOMMENDED",  # Institution*, Instructions, StimulusPresentation
}


def validator() -> str:
    """The official validator's command (the test extra installs it with its deno runtime)."""
    exe = Path(sys.executable).with_name("bids-validator-deno")
    found = str(exe) if exe.exists() else shutil.which("bids-validator-deno")
    assert found, "bids-validator-deno is missing: make install (it is in the test extra)"
    return found


def validate(root: Path) -> dict:
    """Run the validator over every row of every table; its JSON report."""
    out = subprocess.run(
        [validator(), "--format", "json", "--max-rows", "-1", str(root)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.stdout.strip(), f"validator gave no report: {out.stderr[-2000:]}"
    return json.loads(out.stdout)


def by_severity(report: dict) -> dict[str, list[dict]]:
    issues: dict[str, list[dict]] = {}
    for issue in report["issues"]["issues"]:
        issues.setdefault(issue["severity"], []).append(issue)
    return issues


#: The study: pseudonym, seed, and symptom/marker events of each simulated session.
SESSIONS = [("P-01", 11), ("P-01", 12), ("P-02", 13), ("P-02", 14)]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Four short simulated sessions of two participants (50 Hz, 3 reps, notification loss),
    written in an order other than their start times, with a marker and a symptom rating."""
    folder = tmp_path_factory.mktemp("study")
    truths = {}
    for k, (who, seed) in enumerate(reversed(SESSIONS)):
        session = simulate(
            SimConfig(seed=seed, sets=1, reps_per_set=3, rate_hz=50, loss=0.02,
                      variety="clean", fidgets=False)
        )  # fmt: skip
        events = [
            SourceEvent(2.0, "marker", None, {"text": "ready"}),
            SourceEvent(3.0, "symptom", None, {"rating": 2, "set": 0}),
        ]
        items = [*events, *(i for _, i in session.timeline())]
        meta = session.metadata() | {"participant": who, "ground_truth": session.truth.to_dict()}
        path = folder / who / f"s{seed}.flossrec"
        path.parent.mkdir(exist_ok=True)
        write_blocks(path, items, session.sensors, meta)
        truths[path] = session.truth
        # later seeds are written first, yet start earlier: sessions are numbered by start time
        _set_start(path, 1_700_000_000.0 + 86400 * (SESSIONS.index((who, seed)) + 1) + k)
    return folder, truths


def _set_start(path: Path, start_unix: float) -> None:
    """Give a recording another start time (as if recorded then)."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'start_unix'", (json.dumps(start_unix),))


@pytest.fixture(scope="module")
def dataset(study, tmp_path_factory):
    folder, _ = study
    root = tmp_path_factory.mktemp("bids") / "ds"
    assert main(["export", str(folder), "--bids", str(root)]) == 0
    return root


def test_the_study_exports_to_a_dataset_the_official_validator_accepts(dataset):
    report = validate(dataset)
    issues = by_severity(report)
    assert issues.get("error", []) == []
    assert {i["code"] for i in issues.get("warning", [])} <= EXPECTED_WARNINGS
    summary = report["summary"]
    assert sorted(summary["subjects"]) == ["P01", "P02"]
    assert sorted(summary["sessions"]) == ["01", "02"]
    assert summary["tasks"] == ["floss"] and summary["modalities"] == ["motion"]
    # 3 dataset files, 2 sessions tables, per session: scans + 2 × 4 strap files + 2 events
    assert summary["totalFiles"] == 3 + 2 + 4 * (1 + 8 + 2)


def test_the_validator_does_find_what_the_spec_forbids(dataset, tmp_path):
    """The same dataset with a required field removed and a channel type the spec does not
    know: the validator reports both, so its silence above means something."""
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    motion = broken / "sub-P01" / "ses-01" / "motion"
    sidecar = motion / "sub-P01_ses-01_task-floss_tracksys-shin_motion.json"
    meta = json.loads(sidecar.read_text())
    del meta["SamplingFrequency"]
    sidecar.write_text(json.dumps(meta))
    channels = motion / "sub-P01_ses-01_task-floss_tracksys-head_channels.tsv"
    channels.write_text(channels.read_text().replace("\tGYRO\t", "\tgyroscope\t"))
    codes = {i["code"] for i in by_severity(validate(broken)).get("error", [])}
    assert {"SIDECAR_KEY_REQUIRED", "TSV_VALUE_INCORRECT_TYPE"} <= codes


def test_participants_and_sessions_follow_the_recordings(dataset):
    participants = pd.read_csv(dataset / "participants.tsv", sep="\t")
    assert participants["participant_id"].tolist() == ["sub-P01", "sub-P02"]
    for who, label in (("P-01", "P01"), ("P-02", "P02")):
        sessions = pd.read_csv(dataset / f"sub-{label}" / f"sub-{label}_sessions.tsv", sep="\t")
        seeds = [s for w, s in SESSIONS if w == who]
        days = [SESSIONS.index((who, s)) + 1 for s in seeds]
        assert sessions["session_id"].tolist() == ["ses-01", "ses-02"]
        # numbered by start time: ses-01 is the earlier day
        assert [t[:10] for t in sessions["acq_time"]] == [
            pd.Timestamp(1_700_000_000 + 86400 * d, unit="s").strftime("%Y-%m-%d") for d in days
        ]


def test_the_dataset_analyses_to_the_reps_of_the_recordings(study, dataset, tmp_path):
    folder, truths = study
    from_bids, from_recs = tmp_path / "bids.csv", tmp_path / "recs.csv"
    assert main(["analyze", str(dataset), "-o", str(from_bids), "--jobs", "1"]) == 0
    assert main(["analyze", str(folder), "-o", str(from_recs), "--jobs", "1"]) == 0
    a, b = pd.read_csv(from_bids), pd.read_csv(from_recs)
    assert a["recording"].nunique() == 4 and all(a["recording"].str.contains("tracksys-shin"))
    assert len(a) == len(b) == sum(len(t.reps) for t in truths.values()) == 12
    # the same sessions in the same order (both sorted by participant, then start time)
    a = a.sort_values(["recording", "rep"]).reset_index(drop=True)
    b["key"] = b["recording"].map(lambda r: _bids_key(Path(r), folder, dataset))
    b = b.sort_values(["key", "rep"]).reset_index(drop=True)
    np.testing.assert_allclose(a["start_s"], b["start_s"], atol=1e-3)
    np.testing.assert_allclose(a["knee_rom_deg"], b["knee_rom_deg"], atol=1e-3)
    assert a["technique"].tolist() == b["technique"].tolist()


def _bids_key(rec: Path, folder: Path, dataset: Path) -> str:
    """The shin motion file the export made of recording ``rec``, via the sessions tables."""
    from collector.io import load

    start = load(rec).meta["start_unix"]
    label = "P01" if rec.parent.name == "P-01" else "P02"
    sessions = pd.read_csv(dataset / f"sub-{label}" / f"sub-{label}_sessions.tsv", sep="\t")
    acq = pd.Timestamp(start, unit="s").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ses = sessions.loc[sessions["acq_time"] == acq, "session_id"].item()
    name = f"sub-{label}_{ses}_task-floss_tracksys-shin_motion.tsv"
    return str(dataset / f"sub-{label}" / ses / "motion" / name)


def test_info_and_map_on_a_motion_file(dataset, capsys):
    shin = next(dataset.rglob("*tracksys-shin_motion.tsv"))
    assert main(["info", str(shin)]) == 0
    out = capsys.readouterr().out
    assert "bids-motion" in out and "1 marker, 1 symptom" in out
    assert main(["info", str(shin), "--map", "shin=head"]) == 0
    assert "head    (none)" in capsys.readouterr().out  # the head strap read as the shin
    assert main(["info", str(shin), "--map", "shin"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--map: use ROLE=NAME" in err


def test_map_on_a_file_that_is_no_bids_is_refused(study, capsys):
    folder, _ = study
    rec = next(folder.rglob("*.flossrec"))
    assert main(["info", str(rec), "--map", "shin=a"]) == 2
    assert "--map is for BIDS-Motion, XDF and Movella DOT CSV files" in capsys.readouterr().err


def test_export_refusals_are_one_line(study, tmp_path, capsys):
    folder, _ = study
    used = tmp_path / "used"
    used.mkdir()
    (used / "x.txt").write_text("x")
    cases = [
        (["export", str(folder), "--bids", str(used)], "a study folder exports to a new dataset"),
        (
            ["export", str(folder), "--bids", str(tmp_path / "n"), "--session", "01"],
            "--session names one session",
        ),
        (["export", str(folder)], "say what to export"),
    ]
    for argv, match in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err
    nobody = tmp_path / "nobody.flossrec"
    session = simulate(SimConfig(seed=1, sets=1, reps_per_set=1, rate_hz=50))
    write_blocks(nobody, (i for _, i in session.timeline()), session.sensors, {})
    assert main(["export", str(nobody), "--bids", str(tmp_path / "ds")]) == 2
    assert "no participant pseudonym in the recording; give --subject" in capsys.readouterr().err
    assert main(["export", str(nobody), "--bids", str(tmp_path / "ds"), "--subject", "X9"]) == 0
    assert (tmp_path / "ds" / "sub-X9" / "ses-01").is_dir()

    clash = tmp_path / "clash"
    clash.mkdir()
    for who in ("P-1", "P1"):
        items = (i for _, i in session.timeline())
        write_blocks(clash / f"{who}.flossrec", items, session.sensors, {"participant": who})
    assert main(["export", str(clash), "--bids", str(tmp_path / "ds2")]) == 2
    assert "'P-1' and 'P1' both make the BIDS label sub-P1" in capsys.readouterr().err
    assert not (tmp_path / "ds2").exists()  # refused before anything was written


def test_replay_takes_a_map_too():
    args = build_parser().parse_args(["replay", "x_motion.tsv", "--map", "shin=LeftShank"])
    assert args.map == "shin=LeftShank"


def test_a_session_read_from_bids_exports_to_the_same_motion_files(dataset, tmp_path):
    """BIDS → Recording → BIDS: the motion and channels files come out byte for byte (the
    samples, their times and the n/a rows survive the trip)."""
    shin = next(dataset.rglob("sub-P02_ses-02_*tracksys-shin_motion.tsv"))
    again = tmp_path / "again"
    assert main(["export", str(shin), "--bids", str(again), "--session", "02"]) == 0
    for f in shin.parent.glob("*tracksys-*_*.tsv"):
        copy = again / "sub-P02" / "ses-02" / "motion" / f.name
        assert copy.read_bytes() == f.read_bytes(), f.name
    assert "n/a\tn/a" in shin.read_text()  # there were lost samples to carry
    scans = "sub-P02_ses-02_scans.tsv"
    assert (again / "sub-P02/ses-02" / scans).read_text() == (shin.parents[1] / scans).read_text()
