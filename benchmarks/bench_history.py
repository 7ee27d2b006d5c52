"""Session library: summarising recordings into the catalogue, and ``flossmeter history`` over
1,000 catalogued sessions.

* ``index_s_per_session``: the first scan of a folder of ``N`` short recordings (1 set × 3 reps,
  two straps at 50 Hz; N = 8 quick, 30 full): load and analyse each, per session;
* ``history_1000_s``: a folder of 1,000 recordings whose catalogue is up to date (copies of one
  recording, each with its own path, date and catalogue row): the whole of ``flossmeter
  history`` in process (its steps, printed to a buffer) — scan and stat every file, read the
  catalogue, the table and the adherence per week (target: no noticeable delay, < 0.5 s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_report
from collector.recording import write_blocks
from collector.simulator import SimConfig, simulate
from gui.history import Catalogue, adherence, history_table

SESSIONS = 1000
DAY_S = 86400.0
#: What the script prints (a template over :func:`run`'s figures and ``index_ms_per_session``).
REPORT = (
    "session library: {index_ms_per_session:.0f} ms to summarise a session; "
    "'flossmeter history' over {history_sessions:.0f} catalogued sessions {history_1000_s:.3f} s"
)


def _recording(folder: Path, name: str, seed: int, start_unix: float) -> Path:
    s = simulate(SimConfig(seed=seed, sets=1, reps_per_set=3, rate_hz=50.0))
    meta = s.metadata() | {"participant": "P01", "start_unix": start_unix}
    path = folder / name
    write_blocks(path, (it for _, it in s.timeline()), s.sensors, meta, overwrite=True)
    return path


def run(quick: bool = False) -> dict[str, float]:
    n = 8 if quick else 30
    t0_unix = 1.78e9
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "few"
        folder.mkdir()
        for k in range(n):
            _recording(folder, f"s{k:03d}.flossrec", 100 + k, t0_unix + k * DAY_S)
        t = time.perf_counter()
        cat = Catalogue(folder)
        changed = cat.refresh()
        index_s = time.perf_counter() - t
        one = cat.sessions()[0]
        cat.close()
        assert changed["added"] == n
        many = Path(d) / "many"
        many.mkdir()
        src = Path(one.path)
        cat = Catalogue(many)
        for k in range(SESSIONS):
            p = many / f"s{k:04d}.flossrec"
            shutil.copyfile(src, p)
            st = p.stat()
            row = dataclasses.replace(one, path=str(p), size=st.st_size, mtime_ns=st.st_mtime_ns,
                                      start_unix=t0_unix + (k // 2) * DAY_S)  # fmt: skip
            cat._put(row)
        cat.db.commit()
        cat.close()
        best = float("inf")
        for _ in range(3):  # what 'flossmeter history FOLDER' does, printing to a buffer
            t = time.perf_counter()
            cat = Catalogue(many)
            changed = cat.refresh()
            sessions = cat.sessions()
            with contextlib.redirect_stdout(io.StringIO()) as out:
                print(history_table(sessions))
                for w in adherence(sessions):
                    print(w.text())
            cat.close()
            best = min(best, time.perf_counter() - t)
            assert not any(changed.values()) and out.getvalue().count("\n") > SESSIONS
    return {
        "index_s_per_session": index_s / n,
        "history_1000_s": best,
        "history_sessions": float(SESSIONS),
        "history_cpu_count": float(os.cpu_count() or 1),
    }


def main() -> None:
    print_report(
        __doc__, run, REPORT, index_ms_per_session=lambda r: r["index_s_per_session"] * 1000
    )


if __name__ == "__main__":
    main()
