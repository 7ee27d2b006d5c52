"""The Progress view (gui/dashboard/progress_view.py): a participant's sessions from the
library drawn as they are catalogued — knee range, symptoms, quality, sessions per week."""

import datetime as dt
import json
import subprocess

import numpy as np

from analysis.programme import Programme
from gui.history import Catalogue, adherence
from tests.gui.test_history import _record


def _library(folder):
    """Three sessions of P05 (days 0, 3 and 8, with symptom ratings) and one of P06."""
    prog = Programme(sets=1, reps_per_set=3, sessions_per_week=2)
    t0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC).timestamp()
    for k, (day, ratings) in enumerate([(0, (2, 3)), (3, (3, 4)), (8, (2,))]):
        _record(folder, f"P05-{k}.flossrec", 90 + k, "P05", t0 + day * 86400, prog, ratings)
    _record(folder, "P06-0.flossrec", 95, "P06", t0, prog)  # someone else: not shown


def test_the_progress_view_draws_the_catalogued_sessions(qtbot, tmp_path):
    from gui.dashboard.progress_view import ProgressWindow

    _library(tmp_path)
    w = ProgressWindow(tmp_path, "P05")
    qtbot.addWidget(w)
    w.start()
    cat = Catalogue(tmp_path)
    truth = cat.sessions("P05")
    cat.close()
    x, y = w.range_curve.getData()
    np.testing.assert_allclose(x, [0, 3, 8])
    np.testing.assert_allclose(y, [s.knee_rom_deg for s in truth])
    _, sym = w.symptom_curve.getData()
    np.testing.assert_allclose(sym, [3, 4, 2])  # the last rating of each session
    heights = w.week_bars.opts["height"]
    assert list(heights) == [w_.sessions for w_ in adherence(truth)] == [2, 1]
    assert w.state()["weeks"] == ["2026-W45: 2 of 2 sessions, 6 of 6 reps",
                                  "2026-W46: 1 of 2 sessions, 3 of 6 reps"]  # fmt: skip
    assert w.summary.text().startswith("3 sessions from 2026-11-02 to 2026-11-10; 3 of 4 ")
    # the calendar: Monday and Thursday of the first week, Tuesday of the second
    from gui.dashboard.progress_view import calendar_cells

    assert calendar_cells(truth) == [(0, 0, 1), (3, 0, 1), (1, 1, 1)]
    xs, ys = w.calendar.getData()
    assert list(xs) == [0, 3, 1] and list(ys) == [0, 0, 1]


def test_the_progress_command_exits_cleanly_every_time(flossmeter_cmd, tmp_path):
    """``flossmeter progress`` draws the folder and exits 0. It used to die on exit with a
    segmentation fault in about half the runs (Qt's teardown destroyed the window from inside
    one of its plot items), so one run proves little: eight must all end cleanly."""
    _library(tmp_path)
    for k in range(8):
        state = tmp_path / f"state{k}.json"
        cmd = [*flossmeter_cmd, "progress", str(tmp_path), "--participant", "P05",
               "--quit-after-s", "0.5", "--state-json", str(state)]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"run {k}: exit {out.returncode}\n{out.stderr[-2000:]}"
        assert json.loads(state.read_text())["final"]["sessions"] == 3
