"""Dashboard widgets and wiring, offscreen (pytest-qt): what the panel shows for a simulated
session, the live window's recording controls, the replay window's transport and errors."""

import asyncio
import re
import time
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

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


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]


def _hue(label) -> int:
    """Hue (0–359) of a label's text colour."""
    colour = re.search(r"color: (#[0-9a-fA-F]{6})", label.styleSheet()).group(1)
    return QColor(colour).hslHue()


def _is_green(label) -> bool:
    return 90 <= _hue(label) <= 150


def test_panel_shows_counter_card_trend_plots_and_straps(qtbot):
    panel, feed, s = _fed_panel(qtbot, until_s=34.0)
    # ground truth of the session: three clean sliders (glides 2.2–3.5 s, knee 71–82°, no
    # holds), ending at 20.5, 28.5 and 38.8 s: two are complete at 34 s
    truth = s.truth.reps
    assert [round(t["end_s"], 1) for t in truth] == [20.5, 28.5, 38.8]
    assert not any(t[k] for t in truth for k in ("held", "fast", "partial", "halting"))
    assert panel.counter.count.text() == "2"
    assert panel.counter.detail.text() == "set 1 · 2 in this set"
    card = panel.card
    assert card.title.text() == "Rep 2 · set 1"
    # a clean rep scores 100 (docs/data-dictionary.md), green (docs/dashboard.md: ≥ 80)
    assert card.score.text() == "100" and _is_green(card.score)
    assert card.technique.text() == "technique: <b>slider</b>"
    assert card.advice.text() == "▸ smooth glide — keep this pace"
    rep2 = truth[1]  # out 2.62 s, back 2.16 s, knee 71.0°, head 63.4°
    out_s, back_s = _numbers(card.tempo.text())
    assert out_s == pytest.approx(rep2["out_s"], abs=0.3)
    assert back_s == pytest.approx(rep2["back_s"], abs=0.3)
    knee, head = _numbers(card.range.text())
    assert knee == pytest.approx(rep2["knee_rom_deg"], abs=3)
    assert head == pytest.approx(rep2["head_rom_deg"], abs=4)
    assert panel.trend.shown == 2
    assert panel.calibration.title.text() == "Ready"
    for role in ("shin", "head"):
        box = panel.sensors.boxes[role]
        assert box.state.text() == "● connected" and _is_green(box.state)
        rate, unit = box.rate.text().split()
        assert float(rate) == pytest.approx(100.0, abs=0.5) and unit == "Hz"  # 100 Hz straps
        assert box.loss.text() == "0.0 % lost"  # the session loses nothing
    plots = panel.plots
    x, _ = plots.raw_curves["shin"][0].getData()
    assert -10.0 <= x[0] < -9.9 and x[-1] == pytest.approx(0.0, abs=0.06)
    assert len(x) == pytest.approx(1000, abs=10)  # 10 s at 100 Hz, all there
    kx, ky = plots.knee.curve.getData()
    assert kx[0] >= -30.0 and np.nanmax(ky) > 40  # the knee straightened in a rep
    # both completed reps are within the last 30 s: shaded where they really were, numbered
    shaded = [reg.getRegion() for reg in plots.knee.regions if reg.isVisible()]
    assert len(shaded) == 2
    for (a, b), t in zip(shaded, truth, strict=False):
        assert a + feed.now_s == pytest.approx(t["start_s"], abs=0.15)
        assert b + feed.now_s == pytest.approx(t["end_s"], abs=0.15)
    assert [lab.toPlainText() for lab in plots.knee.labels if lab.isVisible()] == ["1", "2"]
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


def test_card_widget_words_the_rep_it_is_given(qtbot):
    from gui.dashboard.feedback import rep_card
    from gui.dashboard.widgets import RepCardWidget

    w = RepCardWidget()
    qtbot.addWidget(w)
    # make_rep: rep 1 of set 1, out 2.4 s, back 2.6 s, knee 78°, head 31°, SPARC -1.62,
    # LDLJ -6.1, hold 0.3 s, slider
    w.show_card(rep_card(make_rep(quality=86.0)))
    assert w.title.text() == "Rep 1 · set 1"
    assert w.score.text() == "86"
    assert w.technique.text() == "technique: <b>slider</b>"
    assert w.tempo.text() == "tempo: out 2.4 s · back 2.6 s"
    assert w.range.text() == "range: knee 78° · head 31°"
    assert w.smoothness.text() == "smoothness: SPARC −1.62 · LDLJ −6.1"
    assert w.hold.text() == "hold 0.3 s"
    assert w.advice.text() == "▸ smooth glide — keep this pace"
    # docs/dashboard.md: partial before held, held with the rep's hold_s; a tensioner is told
    flawed = make_rep(
        rep=7, set_=2, quality=60.0, technique="tensioner", flags=("held", "partial"), hold_s=4.4
    )
    w.show_card(rep_card(flawed))
    assert w.title.text() == "Rep 7 · set 2"
    assert w.advice.text() == (
        "▸ partial range: straighten the knee further<br>"
        "▸ held 4 s at end range — keep gliding<br>"
        "▸ tensioner: the head went down as the knee straightened — lift it for a slider"
    )
    w.show_card(rep_card(make_rep(head_rom_deg=float("nan"), ldlj=float("nan"))))
    assert w.range.text() == "range: knee 78° · head –"
    assert w.smoothness.text() == "smoothness: SPARC −1.62 · LDLJ –"


@pytest.mark.parametrize(
    ("quality", "band"),
    [(100, "green"), (80, "green"), (79, "amber"), (60, "amber"), (59, "red"), (0, "red")],
)
def test_card_score_colour_follows_the_documented_bands(qtbot, quality, band):
    from gui.dashboard.feedback import rep_card
    from gui.dashboard.widgets import RepCardWidget

    w = RepCardWidget()
    qtbot.addWidget(w)
    w.show_card(rep_card(make_rep(quality=float(quality))))
    assert w.score.text() == str(quality)
    # docs/dashboard.md: green ≥ 80, amber ≥ 60, red below (hues: green ~120°, amber ~40°)
    hue = _hue(w.score)
    assert {"green": 90 <= hue <= 150, "amber": 25 <= hue <= 55, "red": hue <= 10 or hue >= 350}[
        band
    ], hue


def test_live_window_streams_counts_and_records(qtbot, run_qasync, tmp_path):
    from gui.dashboard.live_view import LiveWindow

    s = cached_session(**SESSION)
    win = LiveWindow(lambda: SimulatedSource(s, speed=10.0), folder=tmp_path,
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
        # at once: on a busy machine the loop may next return to this test only at the end
        win.add_marker()
        win.note.setText("left knee")
        win.note.returnPressed.emit()
        await task  # the simulated session ends (about 4 s at 10×)
        await asyncio.sleep(0.1)
        state = win.state()
        replay = win.open_replay(win.session.last_path)  # what Replay… does after the dialog
        analysis = await replay.wait_for_analysis()
        replay_reps = len(analysis.all_reps)
        await win.shutdown()
        return state, replay_reps

    state, replay_reps = run_qasync(drive())
    assert state["reps"] == len(s.truth.reps) == 3
    # painted as data arrived, not only at the end (a count of frames is no speed test: a busy
    # machine paints few)
    assert state["counter"] == "3" and state["frames"] >= 2
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
    # the replay finds the reps the recording holds: all three (it starts during the start-up
    # calibration; on a busy machine Record may be pressed later and miss the first)
    first_s = r.samples["shin"]["time_s"].iloc[0]
    assert replay_reps == sum(t["start_s"] > first_s for t in s.truth.reps) >= 2
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
        while win.source is None:  # the raw signals play before the analysis is done
            await asyncio.sleep(0.02)
        assert await win.wait_for_analysis() is win.analysis is not None
        assert win.play_button.text() in ("❚❚ Pause", "▶ Play")
        wall0, pos0 = time.monotonic(), win.source.position_s
        await asyncio.sleep(0.4)
        early, wall1 = win.source.position_s, time.monotonic()
        speed = (early - pos0) / (wall1 - wall0)  # the playback clock runs at 8×
        win.toggle_play()
        assert not win.source.playing
        await asyncio.sleep(0.2)
        paused = win.source.position_s
        win.seek(rec.duration_s - 1.0)
        win.set_speed(2.0)
        win.toggle_play()
        while not win.source.at_end:  # the last second at 2×: about 0.5 s
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the cards are re-worded at most 4 times a second
        return early, speed, paused, win.state()

    early, speed, paused, state = run_qasync(drive())
    assert early > 3.0 and speed == pytest.approx(8.0, rel=0.05)  # 8× for at least 0.4 s
    assert paused == pytest.approx(early, abs=0.5)
    assert state["all_reps"] == len(cached_session(**SESSION).truth.reps) == 3
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


def test_replay_save_buttons_ask_where_beside_the_recording_then_write_there(
    qtbot, tmp_path, monkeypatch
):
    from gui.dashboard.replay_view import ReplayWindow

    win = ReplayWindow()
    qtbot.addWidget(win)
    asked = []
    monkeypatch.setattr(win, "_save_as", lambda *dialog: asked.append(dialog) or tmp_path / "x")
    win.export_button.setEnabled(True)
    win.report_button.setEnabled(True)
    win.export_button.click()  # no recording open: nothing asked
    assert asked == []
    win.recording = SimpleNamespace(path=tmp_path / "s.flossrec")
    win.export_button.click()
    assert asked == [("Export the reps as CSV", "-reps.csv", "CSV (*.csv)")]
    assert win.feed.alert[0].startswith("The analysis is not ready yet: export")  # export_reps
    win.report_button.click()
    assert asked[1] == ("Save the session report", ".html", "HTML (*.html)")
    assert win.feed.alert[0].startswith("The analysis is not ready yet: save the report")


def test_replay_window_exports_reps_with_dictionary(qtbot, run_qasync, sim_recording, tmp_path):
    pytest.importorskip("gui.export")
    from gui.dashboard.replay_view import ReplayWindow, analyse_recording

    released = asyncio.Event()

    def held_back(rec):  # the analysis, held until the test lets it finish
        while not released.is_set():
            yield 0.0
        return (yield from analyse_recording(rec))

    win = ReplayWindow(playing=False, analyse=held_back)
    qtbot.addWidget(win)

    async def drive():
        win.start(sim_recording)
        while win.source is None:
            await asyncio.sleep(0.02)
        early = win.export_reps(tmp_path / "early.csv")  # before the analysis is done
        said = win.feed.alert[0]
        assert early is None and said.startswith("The analysis is not ready yet")
        assert not win.report_button.isEnabled() and win.save_report(tmp_path / "e.html") is None
        released.set()
        await win.wait_for_analysis()
        report = win.save_report(tmp_path / "report.html")  # the Report… button, same analysis
        assert win.report_button.isEnabled() and report is not None
        assert report.read_text().count("<tr><td>") == 3
        return win.export_reps(tmp_path / "reps.csv")

    out = run_qasync(drive())
    import pandas as pd

    table = pd.read_csv(out, keep_default_na=False)
    # the session's ground truth: three clean sliders, each scoring 100 without a flag
    truth = cached_session(**SESSION).truth.reps
    assert list(table["rep"]) == [1, 2, 3] and list(table["set"]) == [1, 1, 1]
    assert list(table["quality"]) == [100, 100, 100]
    assert list(table["flags"]) == ["", "", ""]
    assert list(table["technique"]) == ["slider"] * 3
    assert table["start_s"].astype(float).to_numpy() == pytest.approx(
        [t["start_s"] for t in truth], abs=0.15
    )
    assert table["end_s"].astype(float).to_numpy() == pytest.approx(
        [t["end_s"] for t in truth], abs=0.15
    )
    assert any("dictionary" in p.name for p in out.parent.iterdir())
    assert win.feed.alert[0].startswith("Exported the reps to")
    blocked = tmp_path / "no_such_dir" / "reps.csv"
    assert win.export_reps(blocked) is None and win.feed.alert[0].startswith("Cannot export")
