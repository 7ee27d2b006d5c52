"""The session library (gui/history.py, ``flossmeter history``): recordings summarised once into
a catalogue beside them, refreshed when files change, rebuilt when it is broken; numbers against
the simulator's truth; adherence per week against the stored programme."""

import datetime as dt
import math
import os
import sqlite3

import pytest

from analysis.programme import Programme
from collector.recording import write_blocks
from collector.simulator import SimConfig, simulate
from gui.cli import main
from gui.history import INDEX_NAME, Catalogue, SessionSummary, adherence

DAY = 86400.0


def _record(folder, name, seed, participant, start_unix, programme=None, ratings=()):
    s = simulate(SimConfig(seed=seed, sets=1, reps_per_set=3))
    meta = s.metadata() | {"participant": participant, "source": "simulator",
                           "start_unix": start_unix}  # fmt: skip
    if programme is not None:
        meta["programme"] = programme.to_dict()
    from collector.model import SourceEvent

    items = [item for _, item in s.timeline()]
    items += [SourceEvent(1.0 + k, "symptom", None, {"rating": r, "set": k})
              for k, r in enumerate(ratings)]  # fmt: skip
    path = folder / name
    write_blocks(path, iter(items), s.sensors, meta, overwrite=True)
    os.utime(path, ns=(int(start_unix * 1e9), int(start_unix * 1e9)))
    return s, path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordings")
    prog = Programme(sets=1, reps_per_set=3, sessions_per_week=3)
    monday = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()  # ISO week 45
    truths = {}
    for k, (day, who, ratings) in enumerate(
        [(0, "P01", (2, 3)), (2, "P01", (3, 3)), (9, "P01", (1,)), (1, "P02", ())]
    ):
        s, path = _record(folder, f"{who}-{k}.flossrec", 50 + k, who, monday + day * DAY,
                          prog if who == "P01" else None, ratings)  # fmt: skip
        truths[str(path)] = s
    (folder / "broken.flossrec").write_bytes(b"not a recording")
    return folder, truths


def test_each_session_is_summarised_as_the_truth_says(library):
    folder, truths = library
    cat = Catalogue(folder)
    assert cat.refresh() == {"added": 5, "updated": 0, "removed": 0}
    sessions = cat.sessions()
    assert [s.participant for s in sessions] == ["P01", "P02", "P01", "P01"]  # by start time
    for s in sessions:
        t = truths[s.path].truth.reps
        assert s.reps == len(t) == 3 and s.sets == 1
        true_rom = sum(r["knee_rom_deg"] for r in t) / 3
        assert abs(s.knee_rom_deg - true_rom) < 3.0
        assert abs(s.out_s - sum(r["out_s"] for r in t) / 3) < 0.2
        assert 0 <= s.quality <= 100 and s.sparc < 0
    p01 = [s for s in sessions if s.participant == "P01"]
    assert [(s.symptoms_before, s.symptoms_after) for s in p01[:2]] == [(2, 3), (3, 3)]
    assert p01[2].symptoms_before == 1 and math.isnan(p01[2].symptoms_after)
    assert all(s.prescribed_reps == 3 and 0 <= s.as_prescribed <= 3 for s in p01)
    p02 = next(s for s in sessions if s.participant == "P02")
    assert p02.as_prescribed == -1 and p02.prescribed_reps == 0
    assert [s.error for s in cat.failed()] and "broken" in cat.failed()[0].path
    # a second scan analyses nothing
    assert cat.refresh() == {"added": 0, "updated": 0, "removed": 0}
    cat.close()


def test_changed_files_are_summarised_again_and_removed_ones_forgotten(library, tmp_path):
    import shutil

    folder, _ = library
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / INDEX_NAME).unlink()
    cat = Catalogue(copy)
    assert cat.refresh()["added"] == 5
    a, b = sorted(copy.glob("P01-*.flossrec"))[:2]
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))  # touched
    b.unlink()
    assert cat.refresh() == {"added": 0, "updated": 1, "removed": 1}
    assert len(cat.sessions("P01")) == 2
    cat.close()


def test_filters_and_adherence_per_week(library):
    folder, _ = library
    cat = Catalogue(folder)
    cat.refresh()
    p01 = cat.sessions("P01")
    assert len(p01) == 3
    later = cat.sessions("P01", since=dt.date(2026, 11, 9))
    assert len(later) == 1
    weeks = adherence(p01)
    assert [(w.week, w.sessions, w.sessions_prescribed, w.reps, w.reps_prescribed)
            for w in weeks] == [("2026-W45", 2, 3, 6, 9), ("2026-W46", 1, 3, 3, 9)]  # fmt: skip
    assert weeks[0].text() == "2026-W45: 2 of 3 sessions, 6 of 9 reps"
    # a week with no session between two is listed as none done
    moved = SessionSummary(**{**p01[2].__dict__, "start_unix": p01[0].start_unix + 15 * DAY})
    gap = adherence([p01[0], moved])
    assert [w.sessions for w in gap] == [1, 0, 1]
    cat.close()


def test_a_broken_or_foreign_catalogue_is_rebuilt(library, tmp_path):
    folder, _ = library
    (folder / INDEX_NAME).write_bytes(b"garbage, not SQLite")
    cat = Catalogue(folder)
    assert cat.refresh()["added"] == 5
    cat.close()
    db = sqlite3.connect(folder / INDEX_NAME)
    db.execute("PRAGMA user_version = 999")  # another summary version: summarised again
    db.commit()
    db.close()
    cat = Catalogue(folder)
    assert cat.refresh()["added"] == 5
    cat.close()


def test_history_command_prints_sessions_and_adherence(library, capsys):
    folder, _ = library
    assert main(["history", str(folder), "--participant", "P01"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    table = [ln for ln in lines if ln.startswith("2026-")]
    assert len(table) == 3 and all(" P01 " in ln for ln in table)
    assert "2→3" in table[0] and "adherence (P01):" in lines
    assert "  2026-W45: 2 of 3 sessions, 6 of 9 reps" in lines
    assert "skipped" in out.err and "broken.flossrec" in out.err
    assert main(["history", str(folder / "nope")]) == 2
    assert main(["history", str(folder), "--since", "yesterday"]) == 2
