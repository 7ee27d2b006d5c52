"""Fault matrix: the analysis with real-world disturbances on, beside the clean baseline.

Usage: ``python benchmarks/robustness.py [--sessions-per-cell N] [--quick] [--jobs J]
[--seed0 S] [--out FILE.md]``.

Cells: the clean baseline; each disturbance of the simulator alone (strap knocks, chair bumps,
saturating hits, restless sway, seat slides, short returns, no still start) at three severities
(``collector.exercise.DISTURBANCE_LEVELS``, printed with the table); and all of them together at
their typical severity. Every cell runs the same sessions (paired: the same seeds, the same
mixture as ``benchmarks/accuracy.py`` — 25–400 Hz, random mounting, noise ×0.5–2, typical and
messy reps, slider/tensioner/mixed, some shin-only, some without the start-up calibration), so a
cell differs from the baseline by its disturbance alone. Matching and per-rep figures are
``benchmarks/accuracy.py``'s (``evaluate``, ``match``). The seeds start at 900000: no test and no
other benchmark uses them, and nothing was tuned on them (tune with another ``--seed0``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import accuracy
from collector.exercise import (
    DISTURBANCE_KINDS,
    DISTURBANCE_LEVELS,
    SEVERITIES,
    Disturbances,
    disturbances_at,
)
from collector.simulator import SimConfig

SEED0 = 900_000  # held-out seeds: never used by the tests or benchmarks/accuracy.py (1000+)
SESSIONS_PER_CELL = 50
QUICK_SESSIONS_PER_CELL = 2
IMPULSES = ("knock", "bump", "saturation")  # artefacts no body segment can make
NEAR_S = 0.25  # a false rep "falls on" an impulse within this of its span

# the targets of issue 9
TARGET_EXACT_PCT = 98.0


def cells(only: tuple[str, ...] = ()) -> list[tuple[str, str, Disturbances]]:
    """``(disturbance, severity, Disturbances)`` of every cell, the clean baseline first
    (``only``: just the clean baseline and these disturbances; "all" is all together)."""
    out = [("clean", "", Disturbances())]
    for kind in DISTURBANCE_KINDS:
        if only and kind not in only:
            continue
        for severity in SEVERITIES:
            out.append((kind, severity, disturbances_at(severity, (kind,))))
    if not only or "all" in only:
        out.append(("all together", "typical", disturbances_at("typical")))
    return out


def cell_configs(
    n: int, seed0: int = SEED0, only: tuple[str, ...] = ()
) -> list[tuple[str, str, SimConfig]]:
    """Every cell's sessions: the same ``n`` base sessions with the cell's disturbances."""
    base = accuracy.session_configs(n, seed0=seed0)
    return [(k, s, replace(c, disturbances=d)) for k, s, d in cells(only) for c in base]


def evaluate_cell(job: tuple[str, str, SimConfig]) -> tuple[dict, list[dict]]:
    """One session of one cell: accuracy.evaluate's rows plus where the false reps fall."""
    kind, severity, config = job
    t0 = time.perf_counter()
    s = accuracy.simulate(config)
    try:
        t1 = time.perf_counter()
        result = accuracy.analyze(accuracy.samples_of(s))
        session, rows = accuracy.score(config, s, result, time.perf_counter() - t1)
        error = ""
    except Exception as e:  # an analysis that fails counts no rep (and is reported)
        error = f"{type(e).__name__}: {e}"
        session, rows = _failed(config, s)
        result = None
    truth = pd.DataFrame(s.truth.reps)
    found = result.reps if result is not None else truth.iloc[:0]
    matched = {i for i, _ in accuracy.match(found, truth)}
    events = s.truth.disturbances
    impulses = [e for e in events if e["kind"] in IMPULSES]
    slides = [e for e in events if e["kind"] == "seat_slide"]

    def near(f, evs) -> bool:
        return any(
            e["start_s"] <= f.end_s + NEAR_S and e["end_s"] >= f.start_s - NEAR_S for e in evs
        )

    false = [f for i, f in found.iterrows() if i not in matched]
    counts = {k: sum(e["kind"] == k for e in events) for k in (*IMPULSES, "short_return")}
    session.update(
        cell=kind,
        severity=severity,
        false_on_impulse=sum(near(f, impulses) for f in false),
        false_on_slide=sum(near(f, slides) for f in false),
        wall_s=time.perf_counter() - t0,
        error=error,
        **{f"n_{k}": v for k, v in counts.items()},
    )
    for r in rows:
        r.update(cell=kind, severity=severity)
    return session, rows


def _failed(config: SimConfig, s) -> tuple[dict, list[dict]]:
    """The rows of a session whose analysis raised: every true rep missed."""
    truth = pd.DataFrame(s.truth.reps)
    session = accuracy.session_row(config, s, len(truth), 0, 0)
    rows = [{**accuracy._conditions(config, g), "found": False} for _, g in truth.iterrows()]
    return session, rows


def run(
    n: int, jobs: int, seed0: int = SEED0, only: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every cell's per-session and per-rep rows."""
    return accuracy.evaluate_all(evaluate_cell, cell_configs(n, seed0, only), jobs, chunksize=2)


def cell_figures(sessions: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """One row of figures per cell run, in the order of :func:`cells`."""
    rows = []
    for kind, severity, _ in cells():
        g = sessions[(sessions["cell"] == kind) & (sessions["severity"] == severity)]
        if not len(g):
            continue
        r = reps[(reps["cell"] == kind) & (reps["severity"] == severity)]
        f = r[r["found"]]
        tech = f[f["head"] & f["true_technique"].isin(["slider", "tensioner"])]
        true_reps = int(g["true_reps"].sum())
        rows.append(
            {
                "cell": kind,
                "severity": severity,
                "sessions": len(g),
                "true_reps": true_reps,
                "exact_pct": 100.0 * g["exact_count"].mean(),
                "matched_pct": 100.0 * g["matched"].sum() / max(true_reps, 1),
                "false_reps": int(g["false_reps"].sum()),
                "false_on_impulse": int(g["false_on_impulse"].sum()),
                "start_err_s": f["start_err_s"].abs().median() if len(f) else np.nan,
                "end_err_s": f["end_err_s"].abs().median() if len(f) else np.nan,
                "technique_pct": 100.0 * (tech["technique"] == tech["true_technique"]).mean()
                if len(tech)
                else np.nan,
                "hold_pct": 100.0 * (f["found_held"] == f["true_held"]).mean()
                if len(f)
                else np.nan,
                "impulses": int(g[[f"n_{k}" for k in IMPULSES]].to_numpy().sum()),
                "errors": int((g["error"] != "").sum()),
                "by_rate": {
                    float(rate): 100.0 * x["exact_count"].mean() for rate, x in g.groupby("rate_hz")
                },
            }
        )
    return pd.DataFrame(rows)


def _levels_table() -> list[str]:
    out = ["| disturbance | mild | typical | severe |", "|---|---|---|---|"]
    for kind, levels in DISTURBANCE_LEVELS.items():
        cols = []
        for severity in SEVERITIES:
            kw = levels[severity]
            cols.append(
                ", ".join(
                    f"{k}={'–'.join(f'{x:g}' for x in v) if isinstance(v, tuple) else v}"
                    for k, v in kw.items()
                )
            )
        out.append(f"| {kind} | " + " | ".join(cols) + " |")
    return out


def _fmt(v: float, unit: str = "", digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f}{unit}"


def report(sessions: pd.DataFrame, reps: pd.DataFrame, cmd: str) -> str:
    """The fault matrix as markdown."""
    figs = cell_figures(sessions, reps)
    n_cell = int(figs["sessions"].max())
    rates = sorted(sessions["rate_hz"].unique())
    hours = sessions["duration_s"].sum() / 3600
    lines = [
        "## Fault matrix",
        "",
        f"Reproduce: `{cmd}` (deterministic; {len(figs)} cells × {n_cell} sessions = "
        f"{len(sessions)} sessions, {int(sessions['true_reps'].sum())} true reps, {hours:.1f} h "
        f"of two-strap data; rates {'/'.join(f'{r:g}' for r in rates)} Hz; seeds "
        f"{int(sessions['seed'].min())}–{int(sessions['seed'].max())}, the same in every cell).",
        "",
        f"Targets (issue 9): every cell ≥ {TARGET_EXACT_PCT:g} % of sessions with the exact count, "
        "no false rep on a knock, bump or saturating hit, the clean cell no worse than today. "
        "*exact*: sessions whose count is exact and every rep matched; *matched*: true reps "
        "found; *false*: detected reps matching no true rep, *on hit*: of them, those within "
        f"{NEAR_S:g} s of a knock, bump or saturating hit; start/end error: median |detected − "
        "true| of matched reps; technique: matched reps of two-strap sessions classified right "
        "(all sessions, with and without the start-up calibration); hold: held flag right.",
        "",
        "| disturbance | severity | sessions | true reps | exact | matched | false | on hit | "
        "start err | end err | technique | hold | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, f in figs.iterrows():
        ok = f["exact_pct"] >= TARGET_EXACT_PCT and f["false_on_impulse"] == 0
        lines.append(
            f"| {f['cell']} | {f['severity'] or '–'} | {f['sessions']} | {f['true_reps']} | "
            f"{_fmt(f['exact_pct'], ' %')} | {_fmt(f['matched_pct'], ' %')} | "
            f"{f['false_reps']} | {f['false_on_impulse']} | {_fmt(f['start_err_s'], ' s', 3)} | "
            f"{_fmt(f['end_err_s'], ' s', 3)} | {_fmt(f['technique_pct'], ' %')} | "
            f"{_fmt(f['hold_pct'], ' %')} | {'met' if ok else 'missed'} |"
        )
    met = sum(
        (f["exact_pct"] >= TARGET_EXACT_PCT) and f["false_on_impulse"] == 0
        for _, f in figs.iterrows()
    )
    errors = sessions[sessions["error"] != ""]
    lines += [
        "",
        f"Cells meeting the targets: {met} of {len(figs)}.",
        *(
            [
                "",
                f"Analyses that raised (counted as no rep): {len(errors)}, e.g. "
                f"`{errors['error'].iloc[0]}`.",
            ]
            if len(errors)
            else []
        ),
        "",
        "### Exact count by sample rate",
        "",
        "| disturbance | severity | " + " | ".join(f"{r:g} Hz" for r in rates) + " |",
        "|---|---|" + "---|" * len(rates),
    ]
    for _, f in figs.iterrows():
        cols = [_fmt(f["by_rate"].get(float(r), np.nan), " %", 0) for r in rates]
        lines.append(f"| {f['cell']} | {f['severity'] or '–'} | " + " | ".join(cols) + " |")
    lines += [
        "",
        "### Severities",
        "",
        "Per minute of session unless named; sizes not listed are the measured ranges "
        '(docs/simulator.md, "Disturbances"): knocks 4–15 g and 500–1900 °/s on one sample of '
        "one strap; bumps 30–80 ms, pelvis 1–4 g, each strap wobbling at 50–200 °/s; hard hits "
        "1.1–3 × full scale for 5–20 ms; sway at 0.1–0.8 Hz.",
        "",
        *_levels_table(),
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions-per-cell", type=int, default=SESSIONS_PER_CELL)
    ap.add_argument("--quick", action="store_true", help="a few sessions per cell (smoke run)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed0", type=int, default=SEED0, help="first seed (default: held out)")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    ap.add_argument("--csv", type=Path, help="write per-session rows here (for inspection)")
    ap.add_argument(
        "--cells",
        default="",
        help="comma-separated disturbances to run beside the clean cell (e.g. knocks,sway,all)",
    )
    args = ap.parse_args()
    only = tuple(c for c in args.cells.split(",") if c)
    unknown = set(only) - {*DISTURBANCE_KINDS, "all"}
    if unknown:
        ap.error(f"unknown cell {sorted(unknown)[0]!r}; known: {', '.join(DISTURBANCE_KINDS)}, all")
    n = QUICK_SESSIONS_PER_CELL if args.quick else args.sessions_per_cell
    t0 = time.perf_counter()
    sessions, reps = run(n, args.jobs, args.seed0, only)
    cmd = "python benchmarks/robustness.py" + (" --quick" if args.quick else "")
    if not args.quick and n != SESSIONS_PER_CELL:
        cmd += f" --sessions-per-cell {n}"
    if args.seed0 != SEED0:
        cmd += f" --seed0 {args.seed0}"
    if only:
        cmd += f" --cells {args.cells}"
    text = report(sessions, reps, cmd)
    text += (
        f"\n\nRun {datetime.date.today().isoformat()}, {time.perf_counter() - t0:.0f} s with "
        f"{args.jobs} worker(s)."
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.csv:
        sessions.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
