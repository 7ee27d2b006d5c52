"""Dashboard widgets and wiring, offscreen (pytest-qt): what the panel shows for a simulated
session, the live window's recording controls, the replay window's transport and errors."""

import asyncio
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import Qt

from analysis.session import analyze
from collector.hub import Hub
from collector.model import SampleBlock, SourceEvent
from collector.recording import load_recording, write_blocks
from collector.simulator import SimulatedSource
from gui.dashboard.feed import DashboardFeed, make_analyzer
from gui.dashboard.views import DashboardPanel
from tests.conftest import cached_session
from tests.gui.dashboard_helpers import make_rep

SESSION = {"seed": 3, "sets": 1, "reps_per_set": 3, "rate_hz": 100.0}


@pytest.fixture(scope="module")
def sim_recording(tmp_path_factory):
    s = cached_session(**SESSION)
    path = tmp_path_factory.mktemp("dash") / "sim.flossrec"
    items = [item for _, item in s.timeline()]
    items.insert(500, SourceEvent(8.0, "marker", None, {"text": "go"}))
    write_blocks(path, items, s.sensors, {"participant": "T1"})
    return path


def _fed_panel(qtbot, until_s):
    s = cached_session(**SESSION)
    feed = DashboardFeed(s.sensors, make_analyzer(("shin", "head")))
    hub = Hub(source=None)
    feed.attach(hub)
    for _, item in s.timeline():
        if isinstance(item, SampleBlock) and item.time_s[-1] > until_s:
            break
        hub.dispatch(item)
    panel = DashboardPanel(feed)
    qtbot.addWidget(panel)
    panel.resize(1400, 900)
    panel.show()
    panel.refresh()
    return panel, feed, s


def test_panel_shows_counter_card_trend_plots_and_straps(qtbot):
    panel, feed, _ = _fed_panel(qtbot, until_s=34.0)
    n = len(feed.reps)
    assert 2 <= n <= 3  # the analyzer found the reps completed by then
    assert panel.counter.count.text() == str(n)
    assert panel.counter.detail.text() == f"set 1 · {n} in this set"
    assert panel.card.title.text() == f"Rep {n} · set 1"
    assert panel.card.score.text() == f"{feed.reps[-1].quality:.0f}"
    assert "tempo: out" in panel.card.tempo.text()
    assert panel.trend.shown == n
    assert panel.calibration.title.text() == "Ready"
    assert panel.sensors.boxes["shin"].state.text() == "● connected"
    assert panel.sensors.boxes["head"].rate.text().endswith("Hz")
    plots = panel.plots
    x, _ = plots.raw_curves["shin"][0].getData()
    assert -10.0 <= x[0] < -9.9 and x[-1] == pytest.approx(0.0, abs=0.06)
    assert len(x) == pytest.approx(1000, abs=10)  # 10 s at 100 Hz, all there
    kx, ky = plots.knee.curve.getData()
    assert kx[0] >= -30.0 and np.nanmax(ky) > 40  # the knee straightened in a rep
    visible = [r for r in feed.reps if r.end_s > feed.now_s - 30.0]
    shaded = [reg for reg in plots.knee.regions if reg.isVisible()]
    assert len(shaded) == len(visible) >= 1
    a, b = shaded[-1].getRegion()
    assert a == pytest.approx(visible[-1].start_s - feed.now_s)
    assert b == pytest.approx(visible[-1].end_s - feed.now_s)
    assert [lab.toPlainText() for lab in plots.knee.labels if lab.isVisible()] == [
        str(r.rep) for r in visible
    ]
    img = panel.grab().toImage()
    assert img.width() == 1400 and len({img.pixel(x, 300) for x in range(0, 1400, 7)}) > 3


def test_panel_prompts_calibration_then_alerts_a_lost_strap(qtbot):
    panel, feed, _ = _fed_panel(qtbot, until_s=1.0)
    assert feed.status.calibration == "hold_still"
    assert panel.calibration.title.text() == "Calibrating: sit still"
    assert panel.counter.count.text() == "0"
    assert panel.card.title.text() == "Last rep" and not panel.alert.isVisible()
    feed.hub.dispatch(SourceEvent(1.2, "disconnected", "head"))
    panel.refresh_cards()
    assert panel.alert.isVisible() and panel.alert.text().startswith("Head strap disconnected")
    assert panel.sensors.boxes["head"].state.text() == "● disconnected since 0:01"


def test_card_widget_shows_feedback_for_a_flawed_rep(qtbot):
    from gui.dashboard.feedback import rep_card
    from gui.dashboard.widgets import RepCardWidget

    w = RepCardWidget()
    qtbot.addWidget(w)
    w.show_card(rep_card(make_rep(quality=48, flags=("held", "too_fast"), hold_s=3.2)))
    assert w.score.text() == "48" and "#c62828" in w.score.styleSheet()
    assert "held 3 s at end range — keep gliding" in w.advice.text()
    assert "too fast: take 2–3 s each way" in w.advice.text()
    w.show_card(None)
    assert w.score.text() == "–"


def test_live_window_streams_counts_and_records(qtbot, run_qasync, tmp_path):
    from gui.dashboard.live_view import LiveWindow

    s = cached_session(**SESSION)
    win = LiveWindow(lambda: SimulatedSource(s, speed=25.0), folder=tmp_path,
                     metadata={"source": "simulator"}, participant="P3")  # fmt: skip
    qtbot.addWidget(win)

    async def drive():
        win.show()
        task = win.start()
        while not win.feed.has_data:
            await asyncio.sleep(0.01)
        qtbot.mouseClick(win.record_button, Qt.LeftButton)  # the toolbar's Record button
        assert win.session.recording
        assert win.record_button.text() == "■ Stop" and not win.participant.isEnabled()
        await asyncio.sleep(0.3)
        win.add_marker()
        win.note.setText("left knee")
        win.note.returnPressed.emit()
        await task  # the simulated session ends (about 1.7 s at 25×)
        await asyncio.sleep(0.1)
        state = win.state()
        replay = win.open_replay(win.session.last_path)  # what Replay… does after the dialog
        while replay.source is None:
            await asyncio.sleep(0.02)
        replay_reps = len(replay.analysis.all_reps)
        await win.shutdown()
        return state, replay_reps

    state, replay_reps = run_qasync(drive())
    assert replay_reps == 3
    assert state["reps"] == len(s.truth.reps) == 3
    assert state["counter"] == "3" and state["frames"] > 10
    out = win.session.last_path
    assert out is not None and out.parent == tmp_path and out.name.startswith("P3-")
    assert not win.session.recording and win.record_button.text() == "● Record"
    r = load_recording(out)
    assert r.closed_cleanly and r.meta["participant"] == "P3" and r.meta["notes"] == "left knee"
    assert list(r.events["kind"][r.events["kind"] != "gap"]) == ["connected"] * 2 + [
        "marker",
        "note",
    ]
    assert r.samples["shin"]["time_s"].iloc[-1] == pytest.approx(s.duration_s, abs=0.1)
    assert win.feed.alert[0].startswith("The straps' stream has ended; saved ")


def test_live_window_reports_a_source_that_fails(qtbot, run_qasync, tmp_path):
    from collector.errors import CollectorError
    from gui.dashboard.live_view import LiveWindow

    class NoStrap:
        sensors: ClassVar[dict] = {}

        async def __aenter__(self):
            raise CollectorError("shin strap AA:BB not found; is it switched on?")

        async def __aexit__(self, *exc):
            return None

    win = LiveWindow(NoStrap, folder=tmp_path)
    qtbot.addWidget(win)

    async def drive():
        win.show()
        await win.start()
        assert win.start_recording() is None  # nothing to record: says so, no file

    run_qasync(drive())
    assert win.feed.alert[0].startswith("Nothing to record yet")
    assert not list(tmp_path.iterdir())
    win.feed.alert = None

    async def again():
        await win.start()

    run_qasync(again())
    assert win.feed.alert == ("Straps: shin strap AA:BB not found; is it switched on?", "poor")
    assert win.panel.alert.isVisible()


def test_replay_window_plays_seeks_and_shows_every_rep(qtbot, run_qasync, sim_recording):
    from gui.dashboard.replay_view import ReplayWindow

    win = ReplayWindow(speed=8.0, start_s=0.0)
    qtbot.addWidget(win)
    rec = load_recording(sim_recording)

    async def drive():
        win.show()
        win.start(sim_recording)
        while win.source is None:
            await asyncio.sleep(0.02)
        assert win.analysis is not None
        assert win.play_button.text() in ("❚❚ Pause", "▶ Play")
        await asyncio.sleep(0.4)
        early = win.source.position_s
        win.toggle_play()
        assert not win.source.playing
        await asyncio.sleep(0.2)
        paused = win.source.position_s
        win.seek(rec.duration_s - 1.0)
        win.set_speed(2.0)
        win.toggle_play()
        await asyncio.sleep(1.0)
        return early, paused, win.state()

    early, paused, state = run_qasync(drive())
    assert 1.5 < early < 6.0  # 8× for ~0.4 s
    assert paused == pytest.approx(early, abs=0.5)
    assert state["all_reps"] == len(analyze(rec.samples).reps) == 3
    assert state["reps"] == 3 and state["counter"] == "3"  # all reps known at the end
    assert state["position_s"] == pytest.approx(rec.duration_s, abs=0.01)
    assert win.source.speed == 2.0 and win.speed_box.currentText() == "2×"
    assert not win.source.playing  # paused at the end, waiting for a seek
    assert len(win.timeline.rep_labels) == 3
    assert win.timeline.events.data["symbol"].tolist().count("t") == 1  # the marker
    win.timeline.seek_requested.emit(5.0)
    assert win.source.position_s == pytest.approx(5.0, abs=0.01)


def test_replay_window_says_why_a_file_cannot_be_opened(qtbot, run_qasync, tmp_path):
    from gui.dashboard.replay_view import ReplayWindow

    foreign = tmp_path / "notes.flossrec"
    foreign.write_text("this is not a recording\n" * 10)
    win = ReplayWindow()
    qtbot.addWidget(win)

    async def drive():
        win.show()
        await win.start(foreign)

    run_qasync(drive())
    text, tone = win.feed.alert
    assert text.startswith("Cannot open this file:") and "not a flossmeter recording" in text
    assert tone == "poor" and win.panel.alert.isVisible() and win.source is None
    assert not win.export_button.isEnabled()
    assert win.export_reps(tmp_path / "x.csv") is None
    assert win.feed.alert[0] == "Open a recording first."


def test_replay_window_exports_reps_with_dictionary(qtbot, run_qasync, sim_recording, tmp_path):
    pytest.importorskip("gui.export")
    from gui.dashboard.replay_view import ReplayWindow

    win = ReplayWindow(playing=False)
    qtbot.addWidget(win)

    async def drive():
        win.start(sim_recording)
        while win.source is None:
            await asyncio.sleep(0.02)
        return win.export_reps(tmp_path / "reps.csv")

    out = run_qasync(drive())
    import pandas as pd

    table = pd.read_csv(out)
    assert len(table) == 3 and list(table["rep"]) == [1, 2, 3]
    assert table["quality"].to_numpy() == pytest.approx([r.quality for r in win.analysis.all_reps])
    assert any("dictionary" in p.name for p in out.parent.iterdir())
    assert win.feed.alert[0].startswith("Exported the reps to")
    blocked = tmp_path / "no_such_dir" / "reps.csv"
    assert win.export_reps(blocked) is None and win.feed.alert[0].startswith("Cannot export")
