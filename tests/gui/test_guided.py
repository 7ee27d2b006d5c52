"""The guided session's view model (gui/dashboard/guided.py, no Qt) driven end to end by a
simulated session through the live analyzer: programme → pacer → reps marked → a symptom rise →
the range cap lowered → the next set's reps marked against it; checked against the simulator's
truth and the programme's numbers."""

import itertools

import numpy as np
import pytest

from analysis.online import OnlineAnalyzer
from analysis.programme import Programme, RangeRule, SymptomRule, Tempo
from collector.model import SampleBlock
from collector.simulator import SimConfig, simulate
from gui.dashboard.guided import PACER_PAUSE_S, GuidedSession, min_jerk


def _drive(session, programme, ratings, decisions):
    """Feed the session block by block; answer each symptom question from ``ratings`` and each
    decision from ``decisions`` when it is asked."""
    an = OnlineAnalyzer(sensors=list(session.streams))
    g = GuidedSession(programme)
    ratings, decisions = list(ratings), list(decisions)
    seen = []
    for _, item in session.timeline():
        if not isinstance(item, SampleBlock):
            continue
        an.push(item.sensor, item.time_s, item.acc_mps2, item.gyro_dps)
        now = an.analysed_to_s
        if not np.isfinite(now):
            continue
        g.on_reps(an.reps, now)
        g.tick(now)
        if g.phase == "check" and ratings:
            seen.append((g.progress_text(now), now))
            g.rate(ratings.pop(0), now, note="tingling in the calf")
        if g.phase == "decide" and decisions:
            g.decide(decisions.pop(0), now)
    an.finish()
    g.on_reps(an.reps, float("inf"))
    return an, g, seen


@pytest.fixture(scope="module")
def guided():
    s = simulate(SimConfig(seed=41, sets=2, reps_per_set=6, technique="slider"))
    prog = Programme(
        sets=2, reps_per_set=6, rest_between_sets_s=20.0,
        tempo=Tempo(2.5, 2.5, 1.0), range=RangeRule(knee_target_deg=40.0, cap_step_deg=10.0),
        symptoms=SymptomRule(stop_above=6, max_rise=2),
    )  # fmt: skip
    an, g, seen = _drive(s, prog, ratings=[2, 4, 3], decisions=["reduce"])
    return s, prog, an, g, seen


def test_sets_and_reps_follow_the_programme_and_the_truth(guided):
    s, _, an, g, seen = guided
    assert len(an.reps) == len(s.truth.reps) == 12
    assert [v.set for v in g.verdicts] == [r["set"] for r in s.truth.reps]
    assert g.phase == "done" and g.set_no == 2
    assert [text for text, _ in seen] == [
        "How are your symptoms before the first set? (0–10)",
        "How are your symptoms after set 1? (0–10)",
        "How are your symptoms after set 2? (0–10)",
    ]
    assert g.progress_text(0.0).startswith("Done: 12 reps, ")


def test_a_symptom_rise_lowers_the_cap_and_the_next_set_is_marked_against_it(guided):
    s, _, an, g, _ = guided
    set1 = [r for r in an.reps if r.set == 1]
    # a rise of 2 (from 2 to 4): the largest range of set 1 less the 10° step, rounded
    assert g.cap_deg == round(max(r.knee_rom_deg for r in set1) - 10.0)
    for v, truth in zip(g.verdicts, s.truth.reps, strict=True):
        if v.set == 1:
            assert "range_above_cap" not in v.reasons  # no cap yet
            continue
        rom = truth["knee_rom_deg"]
        if abs(rom - g.cap_deg) < 3.0:
            continue  # within the measurement's error of the cap
        assert ("range_above_cap" in v.reasons) == (rom > g.cap_deg), (v, rom)
        assert ("range_below_target" in v.reasons) == (rom < 40.0)
    assert any("range_above_cap" in v.reasons for v in g.verdicts if v.set == 2)
    kinds = [(e.kind, e.detail.get("what", e.detail.get("rating"))) for e in g.log]
    assert kinds == [
        ("symptom", 2), ("programme", "set_start"), ("programme", "set_done"),
        ("symptom", 4), ("programme", "decision"), ("programme", "set_start"),
        ("programme", "set_done"), ("symptom", 3), ("programme", "done"),
    ]  # fmt: skip
    decision = next(e.detail for e in g.log if e.detail.get("what") == "decision")
    assert decision["decision"] == "reduce" and decision["cap_deg"] == g.cap_deg
    rise = [e.detail for e in g.log if e.kind == "symptom"][1]
    assert rise["advice"] == "reduce" and rise["note"] == "tingling in the calf"
    done = [e.detail for e in g.log if e.detail.get("what") == "set_done"]
    assert [d["reps"] for d in done] == [6, 6]
    assert done[0]["text"].startswith("set 1: 6 of 6 reps, ")


def test_the_pacer_glides_out_and_back_at_the_prescribed_tempo_and_never_holds():
    prog = Programme(tempo=Tempo(out_s=3.0, back_s=2.0), range=RangeRule(knee_target_deg=60.0))
    g = GuidedSession(prog)
    assert np.isnan(g.pacer_deg(np.array([0.0]))).all()  # no set yet: no ghost
    g.rate(1, now_s=10.0)  # before the first set: carry on, set 1 starts
    assert g.phase == "set" and g.progress_text(10.0) == "set 1 of 3 · rep 1 of 10"
    t0 = 10.0 + PACER_PAUSE_S
    at = g.pacer_deg(np.array([10.5, t0, t0 + 1.5, t0 + 3.0, t0 + 4.0, t0 + 5.0, t0 + 5.0 + 0.5]))
    np.testing.assert_allclose(at, [0.0, 0.0, 30.0, 60.0, 30.0, 0.0, 0.0], atol=1e-9)
    # the top is a single instant: 0.1 s either side is already below it
    near_top = g.pacer_deg(np.array([t0 + 2.9, t0 + 3.1]))
    assert (near_top < 60.0).all() and (near_top > 59.0).all()
    # the profile is minimum-jerk: at a quarter of the glide out, 10τ³ − 15τ⁴ + 6τ⁵ of the aim
    assert g.pacer_deg(np.array([t0 + 0.75]))[0] == pytest.approx(60.0 * 0.103515625)
    assert min_jerk(np.array([0.25]))[0] == pytest.approx(0.103515625)


def test_stopping_on_advice_ends_the_session_and_says_so():
    prog = Programme(sets=3, reps_per_set=1, symptoms=SymptomRule(stop_above=4, max_rise=3))
    g = GuidedSession(prog)
    g.rate(2, 0.0)

    class R:  # the fields a verdict reads
        rep, set, out_s, back_s, knee_rom_deg, hold_s = 1, 1, 2.5, 2.5, 55.0, 0.0
        technique, flags, start_s = "slider", (), 1.0

    g.on_reps([R()], 5.0)
    assert g.phase == "check"
    advice = g.rate(5, 6.0)
    assert advice.action == "stop" and g.phase == "decide"
    with pytest.raises(ValueError, match="no symptom rating"):
        g.rate(3, 6.5)
    g.decide("stop", 7.0)
    assert (
        g.phase == "stopped"
        and g.progress_text(7.0) == "Stopped after set 1: 1 reps, 1 as prescribed"
    )
    assert g.log[-1].detail == {"what": "stopped", "sets_done": 1}


def test_the_tick_sounds_at_each_glide_start_and_is_a_clean_tone():
    import io
    import wave

    from gui.dashboard.pacer_tick import TICK_HZ, tick_wav

    prog = Programme(tempo=Tempo(out_s=3.0, back_s=2.0))
    g = GuidedSession(prog)
    assert g.glide_starts(0.0, 100.0) == []  # no set: no pacer, no tick
    g.rate(1, now_s=10.0)
    t0 = 10.0 + PACER_PAUSE_S  # glides out at t0 + 6k, back at t0 + 3 + 6k
    assert g.glide_starts(10.0, 22.5) == pytest.approx([t0, t0 + 3, t0 + 6, t0 + 9])
    assert g.glide_starts(t0, t0 + 3.0) == pytest.approx([t0 + 3])  # (t0, t1]: t1 counts
    # frame by frame (as the dashboard asks), each start once
    frames = np.arange(10.0, 22.5, 0.016)
    got = [t for a, b in itertools.pairwise(frames) for t in g.glide_starts(a, b)]
    assert got == pytest.approx([t0, t0 + 3, t0 + 6, t0 + 9])
    with wave.open(io.BytesIO(tick_wav())) as w:
        rate, n = w.getframerate(), w.getnframes()
        y = np.frombuffer(w.readframes(n), "<i2").astype(float)
    assert (w.getnchannels(), w.getsampwidth(), rate) == (1, 2, 44100)
    assert n == round(0.04 * rate) and abs(y[0]) < 50 and abs(y[-1]) < 50  # no click
    spectrum = np.abs(np.fft.rfft(y, 1 << 16))
    peak_hz = np.argmax(spectrum) * rate / (1 << 16)
    assert abs(peak_hz - TICK_HZ) < 5.0


def test_a_tick_without_audio_is_silent_not_an_error(qapp):
    from gui.dashboard.pacer_tick import PacerTick

    t = PacerTick()
    t.tick()
    t.tick()
    assert t.played == 2
    try:
        from PySide6 import QtMultimedia  # noqa: F401
    except ImportError:
        assert "flossmeter[audio]" in t.problem
