"""The dashboard's view models, without any window: buffers, feed, texts, frame statistics,
recording from the dashboard and a recording's analysis replayed in step."""

import math

import numpy as np
import pytest

from analysis.results import AnalyzerStatus
from collector.hub import Hub, SensorStats
from collector.model import SensorInfo, SourceEvent
from collector.recording import load_recording
from gui.dashboard.feed import DashboardFeed, battery_from, clock_text
from gui.dashboard.feedback import (
    GOOD_ADVICE,
    advice,
    calibration_prompt,
    counter_text,
    rep_card,
    score_tone,
)
from gui.dashboard.frames import FrameStats
from gui.dashboard.recorded import RecordedAnalysis
from gui.dashboard.ring import RingBuffer
from gui.dashboard.sensors import sensor_row
from gui.dashboard.session import SessionRecording, check_pseudonym
from tests.gui.dashboard_helpers import BrokenAnalyzer, ScriptedAnalyzer, block, make_rep
from tests.gui.imports import loaded_after

SENSORS = {
    "shin": SensorInfo("shin", "simulated", 100.0, name="SIM-SHIN", address="SIM:01"),
    "head": SensorInfo("head", "simulated", 100.0, name="SIM-HEAD", address="SIM:02"),
}


def test_view_models_import_no_qt():
    code = (
        "import gui.dashboard.feed, gui.dashboard.feedback, gui.dashboard.sensors,"
        " gui.dashboard.ring, gui.dashboard.frames, gui.dashboard.recorded, gui.dashboard.session"
    )
    assert loaded_after(code, ("PySide6", "pyqtgraph")) == []


# -- ring buffer ---------------------------------------------------------------------------------


def test_ring_keeps_the_newest_rows_contiguous_through_wraps():
    ring = RingBuffer(10, 2)
    assert len(ring) == 0 and math.isnan(ring.last_time_s)
    seen = []
    for k in range(7):  # 3 rows at a time: wraps at 10
        t = np.arange(3 * k, 3 * k + 3, dtype=float)
        ring.extend(t, np.stack([t, -t], axis=1))
        seen.extend(t)
        tv, vv = ring.view()
        assert np.array_equal(tv, seen[-10:])
        assert np.array_equal(vv[:, 1], -tv)
        assert tv.base is not None  # a view, not a copy
    assert ring.total == 21 and len(ring) == 10 and ring.last_time_s == 20.0
    t, _ = ring.since(15.5)
    assert list(t) == [16, 17, 18, 19, 20]
    with pytest.raises(ValueError):
        ring.view()[0][0] = 1.0  # read-only for the plots


def test_ring_takes_a_block_bigger_than_itself_and_clears():
    ring = RingBuffer(4, 1)
    ring.extend([0.0], [1.0])
    ring.extend(np.arange(1.0, 11.0), np.arange(1.0, 11.0))
    assert list(ring.view()[0]) == [7, 8, 9, 10]
    ring.extend([11.0, 12.0], [11.0, 12.0])
    assert list(ring.view()[1][:, 0]) == [9, 10, 11, 12]
    ring.clear()
    assert len(ring) == 0 and ring.total == 13
    ring.extend([1.0], [2.0])
    assert list(ring.view()[0]) == [1.0]


# -- feedback texts ------------------------------------------------------------------------------


def test_clean_rep_card_words_the_metrics():
    card = rep_card(make_rep(rep=4, set_=2, quality=86.4, hold_s=0.34))
    assert card.title == "Rep 4 · set 2"
    assert card.score == "86" and card.tone == "good"
    assert card.technique == "slider"
    assert card.tempo == "out 2.4 s · back 2.6 s"
    assert card.range == "knee 78° · head 31°"
    assert card.smoothness == "SPARC −1.62 · LDLJ −6.1"
    assert card.hold == "hold 0.3 s"
    assert card.advice == (GOOD_ADVICE,)


def test_flags_become_plain_language_in_order_of_importance():
    rep = make_rep(flags=("too_fast", "held", "head_not_coordinated"), hold_s=2.6, quality=55)
    lines = advice(rep)
    assert lines == [
        "held 3 s at end range — keep gliding",
        "too fast: take 2–3 s each way",
        "head not moving with the knee",
    ]
    assert rep_card(rep).tone == "poor"
    assert advice(make_rep(flags=("held",), hold_s=1.2))[0].startswith("held 1 s")
    assert advice(make_rep(flags=("some_new_flag",))) == ["some new flag"]
    from analysis.dictionary import FLAGS

    for flag in FLAGS:  # every flag the analysis raises has its own plain-language line
        assert advice(make_rep(flags=(flag,)))[0] != flag.replace("_", " "), flag
    tensioner = advice(make_rep(technique="tensioner"))
    assert len(tensioner) == 1 and tensioner[0].startswith("tensioner")
    no_head = make_rep(flags=("head_missing", "too_slow"), head_rom_deg=math.nan)
    assert advice(no_head)[0].startswith("head strap not seen")
    assert advice(no_head, has_head=False) == ["too slow: 2–3 s each way is enough"]
    assert rep_card(make_rep(flags=("head_missing",)), has_head=False).advice == (GOOD_ADVICE,)


def test_missing_metrics_show_a_dash():
    card = rep_card(make_rep(head_rom_deg=math.nan, sparc=math.nan, quality=math.nan))
    assert card.range == "knee 78° · head –"
    assert card.smoothness.startswith("SPARC –")
    assert card.score == "–" and card.tone == "neutral"
    assert [score_tone(q) for q in (80, 79.9, 60, 59)] == ["good", "fair", "fair", "poor"]


def test_counter_counts_reps_and_the_current_set():
    reps = [make_rep(1, 1), make_rep(2, 1), make_rep(3, 2)]
    c = counter_text(reps, AnalyzerStatus(reps=3, set=2))
    assert (c.reps, c.detail) == ("3", "set 2 · 1 in this set")
    assert counter_text([], AnalyzerStatus()).reps == "0"


def test_calibration_prompt_walks_the_start_up():
    stages = {
        s: calibration_prompt(AnalyzerStatus(calibration=s))
        for s in ("waiting", "hold_still", "look_up", "calibrated")
    }
    assert stages["waiting"].step == -1 and "Waiting" in stages["waiting"].title
    assert stages["hold_still"].step == 0 and "still" in stages["hold_still"].text
    assert stages["look_up"].step == 1 and "Look up" in stages["look_up"].text
    assert stages["calibrated"].done and "start position" in stages["calibrated"].text
    assert calibration_prompt(AnalyzerStatus(calibration="look_up"), has_data=False).step == -1
    later = calibration_prompt(AnalyzerStatus(calibration="calibrated", reps=3))
    assert later.text.startswith("Calibrated.") and "Head direction" in later.text
    shin_only = calibration_prompt(AnalyzerStatus(calibration="calibrated", reps=3), has_head=False)
    assert shin_only.text == "Calibrated." and shin_only.skipped == ("look_up",)
    # reps began before the start-up protocol: the prompt says so instead of "Calibrated."
    both = ("hold_still", "look_up")
    uncal = calibration_prompt(
        AnalyzerStatus(calibration="calibrated", reps=2, calibration_missed=both)
    )
    assert uncal.missed == ("hold_still", "look_up") and uncal.title == "Counting"
    assert "without calibration" in uncal.text and "Calibrated" not in uncal.text
    no_look = calibration_prompt(
        AnalyzerStatus(calibration="calibrated", reps=2, calibration_missed=("look_up",))
    )
    assert no_look.missed == ("look_up",) and "look-up was not done" in no_look.text
    # without a head strap the look-up is not missed but does not apply
    shin = calibration_prompt(
        AnalyzerStatus(calibration="calibrated", reps=2, calibration_missed=("look_up",)),
        has_head=False,
    )
    assert shin.missed == () and shin.skipped == ("look_up",) and shin.text == "Calibrated."
    # a replay whose analysis still runs says so instead of asking to put the straps on
    pending = calibration_prompt(AnalyzerStatus(), analysing=True)
    assert pending.title == "Analysing the recording" and pending.step == -1 and not pending.done


# -- sensor rows ---------------------------------------------------------------------------------


def test_sensor_rows_say_state_rate_loss_battery():
    from gui.dashboard.feed import LinkState

    st = SensorStats(samples=990, lost_samples=10, first_time_s=0.0, last_time_s=9.99)
    row = sensor_row("shin", SENSORS["shin"], LinkState(True, 0.0, 87.0), st)
    assert row.title == "Shin strap" and row.state == "connected" and row.tone == "good"
    assert row.device == "SIM-SHIN (SIM:01) · simulated"
    assert sensor_row("shin", SensorInfo("shin", "csv", 50.0), None, None).device == "csv"
    assert row.rate == "100.0 Hz" and row.loss == "1.0 % lost" and row.battery == "battery 87 %"
    lost = sensor_row("head", SENSORS["head"], LinkState(False, 75.0), st)
    assert lost.state == "disconnected" and lost.state_text == "disconnected since 1:15"
    assert sensor_row("head", None, None, None).state == "absent"
    waiting = sensor_row("head", SENSORS["head"], None, None)
    assert waiting.state == "waiting" and waiting.rate == "100 Hz set"
    assert battery_from({"battery_pct": 55}) == 55 and battery_from({"battery": 0.4}) == 40
    assert battery_from({"rate": 100}) is None
    assert clock_text(75.9) == "1:15" and clock_text(math.nan) == "–:––"


# -- the feed ------------------------------------------------------------------------------------


def _feed(analyzer=None, **kw):
    return DashboardFeed(SENSORS, analyzer, **kw)


def test_feed_buffers_blocks_and_collects_reps_and_angles():
    an = ScriptedAnalyzer([make_rep(1, start_s=1.0), make_rep(2, start_s=6.0)])
    feed = _feed(an, raw_window_s=2.0)
    v0 = feed.version
    for k in range(240):  # 12 s of both straps, 5 samples per block at 100 Hz
        feed.on_block(block("shin", k * 0.05))
        feed.on_block(block("head", k * 0.05))
    assert feed.version > v0 and feed.has_data
    assert feed.samples_in == {"shin": 1200, "head": 1200}
    assert feed.now_s == pytest.approx(11.99)
    t, v = feed.raw["shin"].view()
    assert len(t) == feed.raw["shin"].capacity == int(100 * 2.0 * 1.25) + 64
    assert v[-1, 2] == pytest.approx(9.81)
    assert [r.rep for r in feed.reps] == [1, 2]
    ta, a = feed.angles["shin"].view()
    assert ta[0] >= 1.0 - 0.05  # the NaN angles before "calibration" are not buffered
    assert np.array_equal(ta, a[:, 0])
    assert len(feed.take_receipts()) == 480 and feed.take_receipts() == []
    assert feed.links["shin"].connected is True
    feed.finish()
    assert an.finished and feed.ended


def test_feed_follows_link_events_battery_markers_and_errors():
    an = ScriptedAnalyzer([])
    feed = _feed(an)
    feed.on_event(SourceEvent(0.0, "connected", "head"))
    feed.on_event(SourceEvent(1.0, "status", "head", {"battery_pct": 63}))
    assert feed.links["head"].battery_pct == 63 and feed.alert is None
    feed.on_event(SourceEvent(83.0, "disconnected", "head"))
    assert feed.links["head"].connected is False and an.connected == {"head": False}
    text, tone = feed.alert
    assert text.startswith("Head strap disconnected at 1:23") and tone == "poor"
    feed.on_event(SourceEvent(90.0, "connected", "head"))
    assert feed.alert == ("Head strap reconnected at 1:30.", "good")
    feed.on_event(SourceEvent(91.0, "marker", None, {"text": "set 2"}))
    assert [e.kind for e in feed.marks] == ["disconnected", "connected", "marker"]
    feed.on_event(SourceEvent(92.0, "error", "shin", {"message": "malformed packet"}))
    assert feed.alert == ("Shin strap: malformed packet", "fair")


def test_a_failing_analysis_leaves_the_raw_signals_and_says_so(caplog):
    feed = _feed(BrokenAnalyzer())
    for k in range(5):
        feed.on_block(block("shin", k * 0.05))  # the third push raises
    assert feed.analyzer is None
    assert feed.samples_in["shin"] == 25
    assert "analysis stopped (ZeroDivisionError: boom)" in feed.alert[0]
    assert feed.status == AnalyzerStatus()


def test_feed_without_analyzer_shows_raw_only():
    feed = _feed(None)
    feed.on_block(block("shin", 0.0))
    assert feed.reps == [] and feed.status.calibration == "waiting" and not feed.angles["shin"]


def _result(decided_reps, angles, events=()):
    """An analysis result built by hand: ``(decided_s, rep)`` pairs, angles, events."""
    import pandas as pd

    from analysis.results import AnalysisEvent, AnalysisResult

    return AnalysisResult(
        records=tuple(r for _, r in decided_reps),
        decided_s=tuple(d for d, _ in decided_reps),
        angles={k: pd.DataFrame({"time_s": t, "angle_deg": a}) for k, (t, a) in angles.items()},
        events=tuple(AnalysisEvent(t, kind, d) for t, kind, d in events),
    )


def test_a_seek_clears_the_buffers_and_restarts_the_analysis_there():
    reps = [make_rep(1, start_s=1.0), make_rep(2, start_s=8.0)]
    result = _result(
        [(6.5, reps[0]), (13.5, reps[1])],
        {"shin": (np.arange(0, 20, 0.01), np.arange(0, 20, 0.01))},
        [(0.0, "calibration", {"stage": "hold_still"}), (4.0, "calibration",
                                                         {"stage": "calibrated"})],
    )  # fmt: skip
    feed = _feed(RecordedAnalysis(result))
    for k in range(200):
        feed.on_block(block("shin", k * 0.05))
    assert [r.rep for r in feed.reps] == [1]
    assert feed.status.calibration == "calibrated" and feed.status.reps == 1
    feed.on_event(SourceEvent(15.0, "status", None, {"seek_s": 15.0, "from_s": 12.0}))
    assert len(feed.raw["shin"]) == 0 and len(feed.angles["shin"]) == 0
    assert feed.now_s == 12.0 and [r.rep for r in feed.reps] == [1]
    for k in range(240, 300):
        feed.on_block(block("shin", k * 0.05))
    assert [r.rep for r in feed.reps] == [1, 2]
    t, _ = feed.angles["shin"].view()
    assert t[0] > 12.0 and t[-1] == pytest.approx(14.99)


def test_an_analysis_that_arrives_during_playback_joins_in_step():
    """Replay plays the raw signals at once and attaches the analysis when it is done: the reps
    decided by then appear, and the angle plot fills with the last ``angle_window_s``."""
    reps = [make_rep(1, start_s=1.0), make_rep(2, start_s=8.0)]
    t = np.arange(0, 20, 0.01)
    result = _result([(6.5, reps[0]), (13.5, reps[1])], {"shin": (t, -t)})
    feed = _feed(None, angle_window_s=5.0)
    for k in range(200):  # 10 s of raw signal, no analysis yet
        feed.on_block(block("shin", k * 0.05))
    assert feed.reps == [] and len(feed.angles["shin"]) == 0
    v = feed.version
    feed.set_analyzer(RecordedAnalysis(result))
    assert feed.version > v and [r.rep for r in feed.reps] == [1]
    ta, a = feed.angles["shin"].view()
    assert ta[0] == pytest.approx(10.0 - 5.0, abs=0.011) and ta[-1] == pytest.approx(9.99)
    np.testing.assert_array_equal(a[:, 0], -ta)
    for k in range(200, 280):
        feed.on_block(block("shin", k * 0.05))
    assert [r.rep for r in feed.reps] == [1, 2]


# -- frame statistics ----------------------------------------------------------------------------


def test_frame_stats_fps_and_sample_to_paint_latency():
    now = [0.0]
    fs = FrameStats(clock=lambda: now[0])
    for k in range(31):  # a frame every 1/30 s; each shows a block that arrived 10 ms earlier
        now[0] = k / 30
        fs.prepared([now[0] - 0.010])
        now[0] += 0.005
        fs.painted()
        fs.painted()  # a second paint of the same frame is not a new frame
    assert fs.frames == 31
    assert fs.fps() == pytest.approx(30.0)
    assert fs.latency_ms(50) == pytest.approx(15.0)
    assert fs.latency_ms(95) == pytest.approx(15.0)
    fs.reset()
    assert fs.frames == 0 and math.isnan(fs.latency_ms(50))


# -- recording from the dashboard ----------------------------------------------------------------


def test_dashboard_recording_writes_a_normal_recording(tmp_path):
    hub = Hub(source=None, sinks=[])  # driven by hand, as the running loop would
    feed = _feed(None)
    feed.attach(hub)
    rec = SessionRecording(tmp_path / "recs", {"source": "simulator"}, session_start_unix=1000.0)
    hub.dispatch(SourceEvent(0.0, "connected", "shin"))
    for k in range(20):
        hub.dispatch(block("shin", k * 0.05))
    path = rec.start(hub, SENSORS, "P07", now_s=1.0)
    assert rec.recording and path.parent == tmp_path / "recs" and path.name.startswith("P07-")
    for k in range(20, 60):
        hub.dispatch(block("shin", k * 0.05))
        if k == 30:
            rec.mark(hub, 1.5)
            rec.note(hub, 1.6, "knee felt tight")
    assert rec.samples_written == 200
    assert rec.stop() == path and not rec.recording and rec.last_path == path
    assert rec not in hub.sinks
    hub.dispatch(block("shin", 3.0))  # after stop: not recorded, the feed still sees it
    assert feed.samples_in["shin"] == 305
    r = load_recording(path)
    assert r.closed_cleanly and r.meta["participant"] == "P07" and r.meta["source"] == "simulator"
    assert r.meta["notes"] == "knee felt tight" and r.meta["start_unix"] == 1000.0
    assert len(r.samples["shin"]) == 200 and r.samples["shin"]["time_s"].iloc[0] == 1.0
    kinds = list(r.events["kind"])
    assert kinds == ["connected", "marker", "note"]
    assert r.events["detail"].iloc[1] == {"text": "marker 1"}
    assert [e.kind for e in feed.marks] == ["marker", "note"]


def test_pseudonym_must_not_look_like_a_name_or_path(tmp_path):
    assert check_pseudonym("  P-07_a ") == "P-07_a"
    for bad in ("John Smith", "../x", "a" * 41):
        with pytest.raises(ValueError, match="pseudonym"):
            check_pseudonym(bad)
    rec = SessionRecording(tmp_path)
    hub = Hub(source=None)
    with pytest.raises(ValueError):
        rec.start(hub, SENSORS, "Jane Doe")
    assert not rec.recording and not list(tmp_path.iterdir())


def test_feed_replaces_earlier_reps_when_the_analysis_scores_them_again():
    """Tensioners before any look-up show as unclear; the slider's look-up settles the head's
    direction, the analysis scores them again, and the feed's reps (cards, trend, counter)
    become the revised ones, with a new reps_version though no rep was added."""
    from analysis.online import OnlineAnalyzer
    from collector.exercise import Posture, RepSpec, SessionScript, SetSpec
    from collector.model import SampleBlock
    from collector.simulator import SimConfig, simulate

    tens = SetSpec(tuple(RepSpec(technique="tensioner") for _ in range(2)), rest_after_s=20.0)
    slid = SetSpec(tuple(RepSpec(technique="slider") for _ in range(1)), rest_after_s=20.0)
    s = simulate(
        SimConfig(seed=41, rate_hz=50),
        script=SessionScript((tens, slid), posture=Posture(), calibration=False),
    )
    feed = _feed(OnlineAnalyzer(sensors=list(s.streams)))
    history = []
    for _, item in s.timeline():
        if isinstance(item, SampleBlock):
            feed.on_block(item)
            history.append((feed.reps_version, [r.technique for r in feed.reps]))
    feed.finish()
    assert any(t and t[0] == "unclear" for _, t in history)  # shown unclear at first
    assert [r.technique for r in feed.reps] == ["tensioner", "tensioner", "slider"]
    # the revision: the same number of reps, a new version, the techniques now known
    before = [h for h in history if h[1] == ["unclear", "unclear", "slider"]]
    after = [h for h in history if h[1] == ["tensioner", "tensioner", "slider"]]
    assert not before or before[-1][0] < after[0][0]
    assert after and all(len(h[1]) == 3 for h in after)


def test_replayed_status_says_the_calibration_was_skipped():
    from analysis.session import RepAnalysis
    from benchmarks.accuracy import samples_of
    from collector.exercise import disturbances_at
    from collector.simulator import SimConfig, simulate
    from gui.dashboard.recorded import status_timeline

    # restless from the start, no protocol: the simulator never holds still for 0.4 s
    cfg = SimConfig(seed=8, calibration=False, disturbances=disturbances_at("typical", ("sway",)))
    s = simulate(cfg)
    timeline = status_timeline(RepAnalysis(angles=False).run(samples_of(s)).result_)
    first_rep = s.truth.reps[0]["start_s"]
    before = [st for t, st in timeline if t < first_rep - 1.0]
    assert before and all(st.calibration_missed == () for st in before)
    last = timeline[-1][1]
    assert last.calibration_missed == ("hold_still", "look_up")
    assert last.reps == len(s.truth.reps)
    prompt = calibration_prompt(last)
    assert prompt.title == "Counting" and "without calibration" in prompt.text
