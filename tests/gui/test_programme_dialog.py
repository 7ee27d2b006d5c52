"""The dashboard's programme editor and Programme… in the live window: a file opened into the
form and saved back is the same programme; bad combinations are refused in words; the chosen
programme guides the session and goes into the recording."""

from analysis.programme import Programme, RangeRule, Tempo, load_programme


def test_open_edit_save_round_trip(qtbot, tmp_path):
    from gui.dashboard.programme_dialog import ProgrammeDialog

    f = tmp_path / "p.toml"
    written = Programme(name="week 2", leg="left", sets=2, reps_per_set=8,
                        tempo=Tempo(3.0, 3.5, 0.5), range=RangeRule(40.0, 60.0, 5.0))  # fmt: skip
    f.write_text(written.to_toml())
    d = ProgrammeDialog(None, None, tmp_path)
    qtbot.addWidget(d)
    assert d.built() == Programme()  # opens on the defaults
    assert d.open_file(f)
    assert d.built() == written
    d.reps.setValue(12)
    d.use_cap.setChecked(False)
    out = tmp_path / "q.toml"
    assert d.save_file(out)
    assert load_programme(out) == Programme(**{**written.__dict__, "reps_per_set": 12,
                                               "range": RangeRule(40.0, None, 5.0)})  # fmt: skip
    # a cap below the target is refused, in words, and nothing is accepted
    d.use_cap.setChecked(True)
    d.cap.setValue(30.0)
    d._accept()
    assert d.programme is None and "below range.knee_target_deg" in d.error.text()
    bad = tmp_path / "bad.toml"
    bad.write_text("sets = 0\n")
    assert not d.open_file(bad) and "outside 1–20" in d.error.text()


def test_programme_from_the_dashboard_guides_the_live_session(qtbot, tmp_path):
    from collector.simulator import SimulatedSource
    from gui.dashboard.live_view import LiveWindow
    from tests.conftest import cached_session

    s = cached_session(seed=3, sets=1, reps_per_set=3, rate_hz=100.0)
    win = LiveWindow(lambda: SimulatedSource(s, speed=10.0), folder=tmp_path)
    qtbot.addWidget(win)
    assert win.guided is None
    prog = Programme(sets=1, reps_per_set=3)
    win.use_programme(prog)
    assert win.guided is not None and win.guided.programme == prog
    assert win.session.metadata["programme"] == prog.to_dict()
    assert win.guided_panel.title.text() == "How are your symptoms before the first set? (0–10)"
    win.guided_panel.rating_buttons[2].click()  # the patient presses 2
    assert win.guided.phase == "set" and win.guided.symptoms.baseline == 2
    # once it has begun, another programme does not replace it
    win.use_programme(Programme(sets=3))
    assert win.guided.programme == prog and "under way" in win.feed.alert[0]
