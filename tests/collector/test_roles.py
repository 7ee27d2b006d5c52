"""Strap roles: the saved config (paths, round trip, one-line errors) and the tap detector."""

import json

import numpy as np
import pytest

from collector.constants import G_MPS2
from collector.errors import CollectorError
from collector.roles import (
    StrapConfig,
    StrapEntry,
    TapDetector,
    TapListener,
    config_path,
    load_strap_config,
    save_strap_config,
)
from tests.conftest import cached_session

SHIN = StrapEntry("C0:FF:EE:00:00:01", "FLOSS-0001", "flossmeter-strap")
HEAD = StrapEntry("D4:22:CD:00:00:04", "Movella DOT", "movella-dot")

# -- config -----------------------------------------------------------------------------------


def test_config_round_trip_and_lookup(tmp_path):
    path = save_strap_config(StrapConfig({"head": HEAD, "shin": SHIN}), tmp_path / "a" / "s.json")
    data = json.loads(path.read_text())
    assert data["format"] == "flossmeter-straps/1" and list(data["straps"]) == ["shin", "head"]
    cfg = load_strap_config(path)
    assert cfg.straps == {"shin": SHIN, "head": HEAD} and cfg.path == path
    assert cfg.targets() == {"shin": SHIN.address, "head": HEAD.address}
    assert cfg.role_of("c0:ff:ee:00:00:01") == "shin"
    assert cfg.role_of("D4:22:CD:00:00:04", "anything") == "head"
    assert cfg.role_of("C0:FF:EE:00:00:09", "FLOSS-0001") is None  # the address decides


def test_a_hand_written_config_may_name_the_straps(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"straps": {"shin": {"name": "FLOSS-0001"}}}')
    cfg = load_strap_config(path)
    assert cfg.targets() == {"shin": "FLOSS-0001"}
    assert cfg.role_of("C0:FF:EE:00:00:07", "floss-0001") == "shin"
    assert cfg.role_of("C0:FF:EE:00:00:07", "FLOSS-0002") is None


def test_config_path_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOSSMETER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert config_path() == tmp_path / "home" / ".config" / "flossmeter" / "straps.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "flossmeter" / "straps.json"
    monkeypatch.setenv("FLOSSMETER_CONFIG", str(tmp_path / "env.json"))
    assert config_path() == tmp_path / "env.json"
    assert config_path(tmp_path / "arg.json") == tmp_path / "arg.json"


def test_no_config_is_none(tmp_path):
    assert load_strap_config(tmp_path / "missing.json") is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "not valid JSON"),
        (b'{"straps": {"shin": ', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "cannot read the strap config"),
        (b"[1, 2]", "not a flossmeter strap config"),
        (b'{"window": {"width": 800}}', "not a flossmeter strap config"),
        (b'{"format": "other-app/3", "straps": {}}', "not a flossmeter strap config"),
        (b'{"format": "flossmeter-straps/2", "straps": {}}', "newer than this flossmeter"),
        (b'{"straps": {"knee": {"address": "C0:FF:EE:00:00:01"}}}', "unknown role 'knee'"),
        (b'{"straps": {"shin": "C0:FF:EE:00:00:01"}}', "shin: expected an object"),
        (b'{"straps": {"shin": {"profile": "witmotion"}}}', "shin: no address or name"),
        (b'{"straps": {"shin": {"address": 17}}}', "must be text"),
        (b'{"straps": {"shin": {"name": "A"}, "head": {"name": "a"}}}', "the same strap"),
    ],
)
def test_a_bad_config_is_one_clear_line(tmp_path, content, why):
    path = tmp_path / "straps.json"
    path.write_bytes(content)
    with pytest.raises(CollectorError) as e:
        load_strap_config(path)
    msg = str(e.value)
    assert why in msg and str(path) in msg and "\n" not in msg


def test_a_folder_or_unwritable_place_is_one_line(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(CollectorError, match="is a folder"):
        load_strap_config(tmp_path / "dir.json")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CollectorError, match="cannot save the strap config"):
        save_strap_config(StrapConfig({"shin": SHIN}), tmp_path / "file" / "straps.json")


# -- tap detector -------------------------------------------------------------------------------


def at_rest(duration_s: float, rate_hz: float, seed: int = 0, noise_g: float = 0.01):
    """A strap lying still in a random orientation: times (s) and acceleration (m/s²)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration_s, 1 / rate_hz)
    up = rng.normal(size=3)
    up /= np.linalg.norm(up)
    acc = up * G_MPS2 + rng.normal(0, noise_g * G_MPS2, (len(t), 3))
    return t, acc


def add_jolt(t, acc, at_s, peak_g=3.0, width_s=0.06, direction=(1.0, 0.0, 0.0)):
    """A half-sine jolt (a tap: width 60 ms; a swing: hundreds of ms) added in place."""
    d = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    x = (t - at_s) / width_s
    shape = np.where((x >= 0) & (x < 1), np.sin(np.pi * x), 0.0)
    acc += np.outer(shape * peak_g * G_MPS2, d)
    return at_s + width_s / 2  # the peak


@pytest.mark.parametrize("rate_hz", [50.0, 60.0, 100.0, 400.0])
@pytest.mark.parametrize("direction", [(1, 0, 0), (0, 0, 1), (1, -1, 1)])
def test_a_tap_is_found_at_its_time_in_any_direction(rate_hz, direction):
    t, acc = at_rest(3.0, rate_hz, seed=int(rate_hz))
    peak = add_jolt(t, acc, 1.5, direction=direction)
    det = TapDetector().detect(t, acc)
    assert len(det.tap_times_s_) == 1
    assert abs(det.tap_times_s_[0] - peak) <= 0.6 / rate_hz + 1e-9
    assert det.peak_g_[0] == pytest.approx(3.0, rel=0.15)
    assert 0.03 <= det.duration_s_[0] <= 0.08


def test_rest_a_gentle_touch_and_a_slow_swing_are_not_taps():
    t, acc = at_rest(6.0, 100.0)
    add_jolt(t, acc, 1.0, peak_g=1.2)  # a touch below the threshold
    add_jolt(t, acc, 3.0, peak_g=2.5, width_s=0.5)  # a leg swing: strong but long
    # turning the strap over in 1 s: gravity moves 180° through the sensor frame
    k = (t >= 4.5) & (t < 5.5)
    ang = np.pi * (t[k] - 4.5)
    acc[k] = np.c_[np.sin(ang), np.zeros(k.sum()), np.cos(ang)] * G_MPS2
    acc[t >= 5.5] = [0, 0, -G_MPS2]
    det = TapDetector().detect(t, acc)
    assert len(det.tap_times_s_) == 0


def test_a_double_tap_counts_once_and_separate_taps_twice():
    t, acc = at_rest(4.0, 100.0)
    add_jolt(t, acc, 1.0)
    add_jolt(t, acc, 1.15, peak_g=3.5)
    add_jolt(t, acc, 2.5)
    det = TapDetector().detect(t, acc)
    assert det.tap_times_s_ == pytest.approx([1.18, 2.53], abs=0.011)
    assert det.peak_g_[0] == pytest.approx(3.5, rel=0.1)  # the stronger of the double


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_exercise_and_fidgets_are_never_taps(seed):
    session = cached_session(seed=seed, sets=2, reps_per_set=6, variety="messy", fidgets=True)
    det = TapDetector()
    for stream in session.streams.values():
        assert len(det.detect(stream.time_s, stream.acc_mps2).tap_times_s_) == 0
        # the documented margin: movement stays below 1.3 g from the running median
        assert det.deviation_g(stream.time_s, stream.acc_mps2).max() < 1.3


def test_taps_during_the_exercise_are_found():
    session = cached_session(seed=1, sets=2, reps_per_set=6, variety="messy", fidgets=True)
    s = session.streams["shin"]
    reps = session.truth.to_dict()["reps"]
    times = [reps[i]["knee_top_s"] - 0.5 for i in (0, 4, 9)]  # while the knee extends
    acc = s.acc_mps2.copy()
    peaks = [add_jolt(s.time_s, acc, at, direction=(0.3, -1, 0.2)) for at in times]
    det = TapDetector().detect(s.time_s, acc)
    assert det.tap_times_s_ == pytest.approx(peaks, abs=0.011)


# -- which strap was tapped ---------------------------------------------------------------------


def feed(listener, streams, block=2):
    """Push streams {key: (t, acc)} block by block (as notifications arrive)."""
    for key, (t, acc) in streams.items():
        for i in range(0, len(t), block):
            listener.push(key, t[i : i + block], acc[i : i + block])


def test_listener_names_the_tapped_strap_once_the_other_has_caught_up():
    a, b = at_rest(4.0, 100.0, seed=1), at_rest(4.0, 100.0, seed=2)
    peak = add_jolt(*a, 2.0)
    lis = TapListener(["A", "B"])
    lis.listen_from(1.0)
    feed(lis, {"A": a})  # A has sent all, B lags behind the tap
    feed(lis, {"B": (b[0][:221], b[1][:221])})  # up to 2.2 s
    assert lis.decide() is None  # B could still show a spike at the same moment
    feed(lis, {"B": (b[0][221:], b[1][221:])})
    d = lis.decide()
    assert d.clear and d.tapped == ("A",) and d.time_s == pytest.approx(peak, abs=0.011)


def test_listener_both_straps_at_once_is_ambiguous_and_old_taps_are_ignored():
    a, b = at_rest(4.0, 100.0, seed=1), at_rest(4.0, 100.0, seed=2)
    add_jolt(*a, 0.8)  # before the prompt
    add_jolt(*a, 2.0)
    add_jolt(*b, 2.1)  # a knock on the chair: both straps within 0.25 s
    lis = TapListener(["A", "B"])
    lis.listen_from(1.5)
    feed(lis, {"A": a, "B": b})
    d = lis.decide()
    assert not d.clear and set(d.tapped) == {"A", "B"}
    lis.listen_from(0.0)  # without the prompt time, the early tap would answer
    assert lis.decide().tapped == ("A",) and lis.decide().time_s < 1.0


def test_listener_does_not_wait_for_a_silent_strap_forever():
    a, b = at_rest(4.0, 100.0, seed=1), at_rest(1.0, 100.0, seed=2)
    peak = add_jolt(*a, 2.0)
    lis = TapListener(["A", "B"], stale_s=2.0)
    feed(lis, {"A": a})
    feed(lis, {"B": b})  # B stopped sending at 1 s
    assert lis.decide(now_s=peak + 1.0) is None
    assert lis.decide(now_s=peak + 2.05).tapped == ("A",)
