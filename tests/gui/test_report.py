"""The session report (gui/report.py, ``flossmeter report``): one self-contained HTML file with
the session's reps as the simulator made them, the programme against what was done, symptoms;
rendered by a real browser (headless Chromium) into a picture that is not blank."""

import base64
import re
import shutil
import subprocess

import pytest

from analysis.programme import Programme, RangeRule
from collector.model import SourceEvent
from collector.recording import write_blocks
from collector.simulator import SimConfig, simulate
from gui.cli import main

PROGRAMME = Programme(sets=2, reps_per_set=3, range=RangeRule(knee_target_deg=40.0))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    s = simulate(SimConfig(seed=60, sets=2, reps_per_set=3, variety="messy"))  # 2 held reps
    items = [item for _, item in s.timeline()]
    items += [
        SourceEvent(5.0, "symptom", None, {"rating": 2, "set": 0, "note": "calf <b>tingles</b>"}),
        SourceEvent(60.0, "symptom", None, {"rating": 4, "set": 1, "note": ""}),
        SourceEvent(61.0, "programme", None, {"what": "decision", "decision": "reduce",
                                              "cap_deg": 55.0}),
    ]  # fmt: skip
    meta = s.metadata() | {"participant": "P42", "programme": PROGRAMME.to_dict()}
    path = folder / "s.flossrec"
    write_blocks(path, iter(items), s.sensors, meta)
    out = folder / "s.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    return s, out, out.read_text()


def test_the_report_is_one_self_contained_file(recorded):
    _, _, text = recorded
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    # nothing is fetched: no script, no external stylesheet, image, font or link
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*['"](https?:|//|file:)""", text)
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 2
    for b64 in images:
        png = base64.b64decode(b64)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # the note is text, not markup; only the pseudonym names the person
    assert "calf &lt;b&gt;tingles&lt;/b&gt;" in text and "P42" in text


def test_the_report_holds_the_reps_programme_and_symptoms(recorded):
    s, _, text = recorded
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>", text)
    assert [(int(a), int(b)) for a, b in rows] == [(r["rep"], r["set"]) for r in s.truth.reps]
    assert "reps as prescribed (6 prescribed)" in text
    assert "set 1: 3 of 3 reps" in text and "set 2: 3 of 3 reps" in text
    assert "<b>2/10</b>" in text and "<b>4/10</b>" in text and "range capped at 55°" in text
    held = [r for r in s.truth.reps if r["held"]]
    assert held and text.count("s at end range — keep gliding") == len(held)


def test_existing_files_are_not_replaced_and_bad_inputs_are_one_line(recorded, tmp_path, capsys):
    _, out, _ = recorded
    assert main(["report", str(out.with_suffix(".flossrec")), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    bad = tmp_path / "x.flossrec"
    bad.write_bytes(b"nope")
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flossmeter: error: ")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it "
                    "as root: apt-get install chromium)")  # fmt: skip
def test_a_real_browser_renders_the_report(recorded, tmp_path):
    from PySide6.QtGui import QImage

    _, out, _ = recorded
    png = tmp_path / "report.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--window-size=1200,2400", f"--screenshot={png}", out.resolve().as_uri()]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = QImage(str(png))
    assert (img.width(), img.height()) == (1200, 2400)
    # the page drew text, plots and coloured score tags: many colours, and not only white
    colours = {img.pixel(x, y) for x in range(0, 1200, 7) for y in range(0, 2400, 7)}
    assert len(colours) > 50
    white = sum(
        img.pixel(x, y) == 0xFFFFFFFF for x in range(0, 1200, 20) for y in range(0, 1200, 20)
    )
    assert white < 0.97 * (60 * 60)


def test_a_period_report_lists_a_participants_sessions_and_adherence(tmp_path, capsys):
    import datetime as dt

    from tests.gui.test_history import _record

    prog = Programme(sets=1, reps_per_set=3, sessions_per_week=2)
    t0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC).timestamp()
    for k, day in enumerate((0, 2, 9)):
        _record(tmp_path, f"P09-{k}.flossrec", 80 + k, "P09", t0 + day * 86400, prog, (1, 2))
    _record(tmp_path, "P10-0.flossrec", 85, "P10", t0, prog)
    assert main(["report", str(tmp_path), "--participant", "P09"]) == 0
    out = tmp_path / "P09-progress.html"
    assert "wrote" in capsys.readouterr().out
    text = out.read_text()
    rows = re.findall(r"<tr><td>(2026-\d\d-\d\d)</td><td>(\d+)</td>", text)
    assert rows == [("2026-11-02", "3"), ("2026-11-04", "3"), ("2026-11-11", "3")]
    assert "2026-W45: 2 of 2 sessions, 6 of 6 reps" in text and "P10" not in text
    assert "<script" not in text.lower() and text.count("data:image/png;base64,") == 1
    assert main(["report", str(tmp_path / "nope"), "--participant", "P09"]) == 2
    capsys.readouterr()
    # a mistyped pseudonym, or a period without sessions: one line, and no empty report
    assert main(["report", str(tmp_path), "--participant", "P99"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"flossmeter: error: no sessions of P99 in {tmp_path}: nothing written; "
        "sessions there are of P09, P10"
    )
    assert main(["report", str(tmp_path), "--participant", "P10", "--since", "2026-11-03"]) == 2
    assert "no sessions of P10 in" in capsys.readouterr().err
    assert not (tmp_path / "P99-progress.html").exists()
    assert not (tmp_path / "P10-progress.html").exists()
