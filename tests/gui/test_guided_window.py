"""The guided session in the live window: a programme's progress, the pacer on the knee plot,
symptom questions answered, a rise that lowers the cap, every step in the recording."""

import asyncio

import numpy as np

from analysis.programme import Programme, RangeRule, SymptomRule, Tempo
from collector.recording import load_recording
from collector.simulator import SimulatedSource
from gui.dashboard.guided_view import ScriptedAnswers
from tests.conftest import cached_session

PROGRAMME = Programme(
    sets=2, reps_per_set=3, rest_between_sets_s=10.0, tempo=Tempo(2.5, 2.5, 1.0),
    range=RangeRule(knee_target_deg=40.0, cap_step_deg=10.0),
    symptoms=SymptomRule(stop_above=6, max_rise=2),
)  # fmt: skip


def test_a_guided_session_runs_its_programme_and_records_every_step(qtbot, run_qasync, tmp_path):
    from gui.dashboard.live_view import LiveWindow

    s = cached_session(seed=41, sets=2, reps_per_set=3, rate_hz=100.0)
    out = tmp_path / "guided.flossrec"
    win = LiveWindow(
        lambda: SimulatedSource(s, speed=8.0), folder=tmp_path, record_to=out,
        metadata={"source": "simulator", "programme": PROGRAMME.to_dict()},
        programme=PROGRAMME, answers=ScriptedAnswers([2, 4, 3], ["reduce"], delay_s=0.3),
        tick=True,  # silent here (no audio device, or no QtMultimedia): counted, never an error
    )  # fmt: skip
    qtbot.addWidget(win)
    seen = {}

    async def drive():
        win.show()
        task = win.start()
        while not win.feed.has_data:
            await asyncio.sleep(0.01)
        seen["question"] = win.guided_panel.rating_box.isVisibleTo(win)
        while win.guided.phase != "set":
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        seen["pacer"] = win.panel.plots.ghost.getData()
        seen["progress"] = win.guided_panel.title.text()
        await task
        await asyncio.sleep(0.1)
        win.panel.refresh_cards()
        state = win.state()
        await win.shutdown()
        return state

    state = run_qasync(drive())
    g = state["guided"]
    # the question before the first set was on screen, then set 1 with the ghost glide
    assert seen["question"] and seen["progress"].startswith("set 1 of 2 · rep ")
    x, y = seen["pacer"]
    assert len(x) and np.nanmax(y) <= 40.0 + 1e-9 and np.nanmin(y) >= 0.0
    # every rep in its set, as the simulator did them; the rise after set 1 lowered the cap
    assert [v[1] for v in g["verdicts"]] == [r["set"] for r in s.truth.reps]
    assert g["phase"] == "done" and g["cap_deg"] is not None
    assert g["progress"].startswith("Done: 6 reps, ")
    r = load_recording(out)
    kinds = [k for k in r.events["kind"] if k in ("symptom", "programme")]
    assert kinds.count("symptom") == 3
    details = [d for k, d in zip(r.events["kind"], r.events["detail"], strict=True)
               if k == "programme"]  # fmt: skip
    assert [d["what"] for d in details] == ["set_start", "set_done", "decision", "set_start",
                                            "set_done", "done"]  # fmt: skip
    decision = details[2]
    assert decision["decision"] == "reduce" and decision["cap_deg"] == g["cap_deg"]
    assert r.meta["programme"]["sets"] == 2
    assert not win.guided_panel.rating_box.isVisibleTo(win)
    # the pacer ticked as its glides began: two a cycle of 6 s over ~2 sets of ~30 s
    assert win.tick is not None and win.tick.played >= 6
    # ... and its report says what was prescribed, done and decided
    from gui.report import write_report

    html, n = write_report(out, tmp_path / "guided.html")
    text = html.read_text()
    assert n == 6 and "reps as prescribed (6 prescribed)" in text
    assert "<b>2/10</b>" in text and "<b>4/10</b>" in text and "<b>3/10</b>" in text
    assert f"range capped at {g['cap_deg']:g}°" in text
