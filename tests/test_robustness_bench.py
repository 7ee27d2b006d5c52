"""The fault matrix (benchmarks/robustness.py) runs at its quick size and prints every cell with
plausible figures; the clean cell is exact, as today's analysis is on clean sessions.

Plausible means what the matrix's construction guarantees, not what the analysis achieves:
every cell runs the same sessions (so the same true reps, except that no disturbance adds or
removes a rep), percentages are percentages, a false rep "on a hit" is a false rep, and boundary
errors of matched reps are a fraction of a rep's few seconds.
"""

import re
import subprocess
import sys

import pytest

from collector.exercise import DISTURBANCE_KINDS, DISTURBANCE_LEVELS, SEVERITIES
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # about 10 s on 2 cores

COLUMNS = [
    "disturbance", "severity", "sessions", "true reps", "exact", "matched", "false", "on hit",
    "start err", "end err", "technique", "hold", "target",
]  # fmt: skip


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """``(printed text, rows of the main table as dicts, text written to --out)``."""
    out = tmp_path_factory.mktemp("robustness") / "matrix.md"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "robustness.py"), "--quick", "--jobs", "2"]
    run = subprocess.run(
        [*cmd, "--out", str(out)], capture_output=True, text=True, check=True, timeout=120
    )
    lines = run.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| disturbance | severity |"))
    assert [c.strip() for c in lines[head].strip("|").split("|")] == COLUMNS
    rows = []
    for line in lines[head + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(
            dict(zip(COLUMNS, (c.strip() for c in line.strip("|").split("|")), strict=True))
        )
    return run.stdout, rows, out.read_text()


def _pct(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?) %", text)
    assert m, text
    return float(m.group(1))


def _seconds(text: str) -> float | None:
    if text == "–":
        return None
    m = re.fullmatch(r"(\d+\.\d{3}) s", text)
    assert m, text
    return float(m.group(1))


def test_every_cell_is_there_in_order(matrix):
    _, rows, _ = matrix
    expected = [("clean", "–")]
    expected += [(k, s) for k in DISTURBANCE_KINDS for s in SEVERITIES]
    expected += [("all together", "typical")]
    assert [(r["disturbance"], r["severity"]) for r in rows] == expected


def test_the_clean_cell_is_exact(matrix):
    _, rows, _ = matrix
    clean = rows[0]
    assert _pct(clean["exact"]) == 100.0 and _pct(clean["matched"]) == 100.0
    assert clean["false"] == "0" and clean["target"] == "met"


def test_figures_are_plausible(matrix):
    _, rows, _ = matrix
    true_reps = {int(r["true reps"]) for r in rows}
    assert len(true_reps) == 1 and true_reps.pop() >= 2 * 5  # the same sessions in every cell
    for r in rows:
        assert int(r["sessions"]) == 2
        for col in ("exact", "matched"):
            assert 0.0 <= _pct(r[col]) <= 100.0
        assert 0 <= int(r["on hit"]) <= int(r["false"])
        for col in ("start err", "end err"):
            err = _seconds(r[col])
            assert err is None or 0.0 <= err < 10.0, (r, col)
        for col in ("technique", "hold"):
            assert r[col] == "–" or 0.0 <= _pct(r[col]) <= 100.0
        if _pct(r["matched"]) > 0:
            assert _seconds(r["start err"]) is not None
        ok = _pct(r["exact"]) >= 98.0 and r["on hit"] == "0"
        assert r["target"] == ("met" if ok else "missed")


def test_the_report_names_its_command_sizes_and_severities(matrix):
    text, _, written = matrix
    assert "`python benchmarks/robustness.py --quick`" in text
    assert "23 cells × 2 sessions = 46 sessions" in text
    assert written.strip() == text.strip()
    for kind, levels in DISTURBANCE_LEVELS.items():
        row = next(
            line for line in text.splitlines() if line.startswith(f"| {kind} | ") and "=" in line
        )
        for severity in SEVERITIES:
            for name in levels[severity]:
                assert name in row
    assert "### Exact count by sample rate" in text
