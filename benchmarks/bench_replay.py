"""Replay of a long recording: how soon the first frame shows, and when the analysis joins.

``flossmeter replay S.flossrec`` (offscreen Qt, fresh process) on a 1 h two-strap 100 Hz
recording: seconds from opening the file to the first painted frame with data (target ≤ 1 s:
the raw signals play at once) and to the analysis joining the playback (it runs in a worker
thread: reps, angles, counter). Median of runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_analysis import ROOT, _write
from benchmarks.common import print_report

#: What the script prints (a template over :func:`run`'s figures).
REPORT = (
    "replay {replay_session_h:.2f} h: first frame {replay_first_frame_s:.2f} s after opening, "
    "analysis joined after {replay_analysis_ready_s:.2f} s "
    "({replay_reps:.0f} reps of {replay_true_reps:.0f})"
)


def replay_once(path: Path, state: Path, quit_after_s: float) -> dict[str, float]:
    """One fresh ``flossmeter replay`` run; what its window said at the end."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, "-m", "gui", "replay", str(path), "--quit-after-s",
           str(quit_after_s), "--state-json", str(state)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env, timeout=120)
    return json.loads(state.read_text())["final"]


def run(quick: bool = False) -> dict[str, float]:
    hours = 0.1 if quick else 1.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        session, path = _write(tmp, hours)
        runs = [replay_once(path, tmp / "state.json", 4.0 if quick else 10.0)
                for _ in range(2 if quick else 3)]  # fmt: skip
    first = [r["first_frame_s"] for r in runs if r.get("first_frame_s") is not None]
    ready = [r["analysis_ready_s"] for r in runs if r.get("analysis_ready_s") is not None]
    return {
        "replay_session_h": session.duration_s / 3600,
        "replay_first_frame_s": statistics.median(first) if first else float("nan"),
        "replay_analysis_ready_s": statistics.median(ready) if ready else float("nan"),
        "replay_reps": float(runs[-1]["all_reps"]),
        "replay_true_reps": float(len(session.truth.reps)),
    }


def main() -> None:
    print_report(__doc__, run, REPORT)


if __name__ == "__main__":
    main()
