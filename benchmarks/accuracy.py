"""Accuracy of the analysis against the simulator's ground truth, across varied conditions.

Usage: ``python benchmarks/accuracy.py [--sessions N] [--out docs/accuracy.md] [--jobs J]``.
Sessions vary sample rate (25–400 Hz), mounting, sensor noise, variety of reps (held, partial,
halting, fast, long pauses), technique (slider, tensioner, mixed), notification loss, and
shin-only recordings; all have fidgets between sets. Detected reps are matched one-to-one to
true reps by greatest time overlap.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.results import AnalysisResult
from analysis.session import analyze
from collector.simulator import SimConfig, simulate

RATES = (25.0, 50.0, 100.0, 200.0, 400.0)
NOISES = (0.5, 1.0, 2.0)
TECHNIQUES = ("slider", "slider", "mixed", "tensioner")
VARIETIES = ("typical", "messy")


def session_configs(n: int, seed0: int = 1000) -> list[SimConfig]:
    """``n`` varied session configurations (deterministic)."""
    rng = np.random.default_rng(seed0)
    out = []
    for i in range(n):
        out.append(
            SimConfig(
                seed=seed0 + i,
                sets=int(rng.integers(2, 4)),
                reps_per_set=int(rng.integers(5, 9)),
                technique=TECHNIQUES[i % len(TECHNIQUES)],  # type: ignore[arg-type]
                variety=VARIETIES[(i // 4) % 2],  # type: ignore[arg-type]
                head=(i % 10) != 7,  # 10 % shin-only
                rate_hz=RATES[i % len(RATES)],
                noise=NOISES[(i // 5) % 3],
                loss=0.02 if i % 3 == 0 else 0.0,
                mounting="random",
                calibration=(i % 7) != 3,  # 1 in 7 skips the start-up calibration
            )
        )
    return out


def samples_of(session) -> dict[str, pd.DataFrame]:
    """What a recording of the session would hold: received samples per strap."""
    out = {}
    for role, st in session.streams.items():
        k = st.kept
        d = {"time_s": st.time_s[k]}
        for i, c in enumerate(("acc_x", "acc_y", "acc_z")):
            d[c] = st.acc_mps2[k, i]
        for i, c in enumerate(("gyr_x", "gyr_y", "gyr_z")):
            d[c] = st.gyro_dps[k, i]
        out[role] = pd.DataFrame(d)
    return out


def match(found: pd.DataFrame, truth: pd.DataFrame) -> list[tuple[int, int]]:
    """One-to-one pairs (found row, truth row) by greatest overlap."""
    pairs = []
    for i, f in found.iterrows():
        for j, g in truth.iterrows():
            ov = min(f.end_s, g.end_s) - max(f.start_s, g.start_s)
            if ov > 0:
                pairs.append((ov, i, j))
    pairs.sort(reverse=True)
    used_f, used_t, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def evaluate(config: SimConfig) -> tuple[dict, list[dict]]:
    """Run one session; return a per-session row and per-true-rep rows."""
    return score(config, *simulate_and_analyze(config))


def simulate_and_analyze(config: SimConfig) -> tuple[Any, AnalysisResult, float]:
    """The simulated session, its analysis and how long the analysis took (s)."""
    s = simulate(config)
    t0 = time.perf_counter()
    res = analyze(samples_of(s))
    return s, res, time.perf_counter() - t0


def score(
    config: SimConfig, s: Any, res: AnalysisResult, elapsed: float
) -> tuple[dict, list[dict]]:
    """A per-session row and per-true-rep rows of an analysis against the session's truth."""
    truth = pd.DataFrame(s.truth.reps)
    found = res.reps
    pairs = match(found, truth)
    matched_t = {j for _, j in pairs}
    rows = []
    for i, j in pairs:
        f, g = found.loc[i], truth.loc[j]
        rows.append(_rep_row(config, f, g))
    for j in set(range(len(truth))) - matched_t:
        rows.append({**_conditions(config, truth.loc[j]), "found": False})
    angle_err = _angle_error(s, res)
    session = {
        **session_row(config, s, len(truth), len(found), len(pairs)),
        "analyze_s": elapsed,
        "head_sign_source": res.status.head_sign_source,
        **angle_err,
    }
    return session, rows


def session_row(config: SimConfig, s: Any, true: int, found: int, matched: int) -> dict:
    """What a per-session row says of the session and its counts."""
    return {
        "seed": config.seed,
        "calibration": config.calibration,
        "rate_hz": config.rate_hz,
        "head": config.head,
        "technique": config.technique,
        "variety": config.variety,
        "noise": config.noise,
        "loss": config.loss,
        "true_reps": true,
        "found_reps": found,
        "matched": matched,
        "false_reps": found - matched,
        "exact_count": found == true == matched,
        "duration_s": s.duration_s,
    }


def _conditions(config: SimConfig, g) -> dict:
    cond = [k for k in ("held", "partial", "halting", "fast", "long_pause") if g[k]]
    return {
        "seed": config.seed,
        "rate_hz": config.rate_hz,
        "head": config.head,
        "true_technique": g["technique"],
        "conditions": ";".join(cond) or "normal",
        "true_held": bool(g["held"]),
        "true_halting": bool(g["halting"]),
    }


def _rep_row(config: SimConfig, f, g) -> dict:
    return {
        **_conditions(config, g),
        "found": True,
        "start_err_s": f.start_s - g.start_s,
        "end_err_s": f.end_s - g.end_s,
        "out_err_s": f.out_s - g.out_s,
        "back_err_s": f.back_s - g.back_s,
        "knee_rom_err_deg": f.knee_rom_deg - g.knee_rom_deg,
        "head_rom_err_deg": f.head_rom_deg - g.head_rom_deg if config.head else np.nan,
        "hold_err_s": f.hold_s - g.hold_s,
        "found_held": "held" in str(f["flags"]).split(";"),
        "technique": f.technique,
        "sparc": f.sparc,
        "quality": f.quality,
    }


def _angle_error(session, res) -> dict:
    """RMS error (deg) of the session angles against truth, after removing the constant offset
    (the calibration pose is the zero; the truth's zero is the vertical)."""
    out = {}
    for role, df in res.angles.items():
        truth = session.truth_angles(role)
        est = df["angle_deg"].to_numpy()
        t_true = truth["time_s"]
        true = np.interp(df["time_s"].to_numpy(), t_true, truth["angle_deg"])
        ok = np.isfinite(est)
        if ok.sum() < 10:
            out[f"{role}_angle_rmse_deg"] = np.nan
            continue
        err = est[ok] - true[ok]
        err -= np.median(err)
        out[f"{role}_angle_rmse_deg"] = float(np.sqrt(np.mean(err**2)))
    return out


def auc(scores_pos: np.ndarray, scores_neg: np.ndarray) -> float:
    """P(score of a negative > score of a positive): SPARC ranks halting (positive) lower."""
    if len(scores_pos) == 0 or len(scores_neg) == 0:
        return float("nan")
    pos, neg = np.asarray(scores_pos)[:, None], np.asarray(scores_neg)[None, :]
    return float(np.mean((neg > pos) + 0.5 * (neg == pos)))


def report(sessions: pd.DataFrame, reps: pd.DataFrame, cmd: str) -> str:
    """Markdown tables of the figures against their targets."""
    found = reps[reps["found"]]
    with_head = found[found["head"]]
    lines = [
        "# Analysis accuracy against simulated ground truth",
        "",
        f"Reproduce: `{cmd}` (deterministic; {len(sessions)} sessions, "
        f"{int(sessions['true_reps'].sum())} true reps, "
        f"{sessions['duration_s'].sum() / 3600:.1f} h of two-strap data).",
        "",
        "Sessions: rates 25/50/100/200/400 Hz; random strap mounting (any turn about the segment, "
        "head band any way round, tilted, upside down); sensor noise ×0.5/1/2 of a typical MEMS "
        "IMU; `typical` and `messy` rep variety (held, partial, halting with tremor, fast, long "
        "pauses); slider, tensioner and mixed sets; 2 % notification loss in a third; 10 % "
        "shin-only; fidgets (leg swings, seat shifts, head turns, strap handling) in every rest; "
        "start-up calibration (still, look up and back). See docs/simulator.md.",
        "",
        "## Overall",
        "",
        "| measure | result | target |",
        "|---|---|---|",
    ]
    exact = sessions["exact_count"].mean() * 100
    tech = with_head[with_head["true_technique"].isin(["slider", "tensioner"])]
    calibrated = tech["seed"].isin(sessions.loc[sessions["calibration"], "seed"])

    def tech_row(sel: pd.DataFrame) -> tuple[float, float, float]:
        ok = sel["technique"] == sel["true_technique"]
        unclear = sel["technique"] == "unclear"
        return ok.mean() * 100, unclear.mean() * 100, (~ok & ~unclear).mean() * 100

    cal_ok, cal_unclear, cal_wrong = tech_row(tech[calibrated])
    raw_ok, raw_unclear, raw_wrong = tech_row(tech[~calibrated])
    hold_ok = (found["found_held"] == found["true_held"]).mean() * 100
    halting = found[found["true_halting"]]["sparc"].dropna()
    smooth = found[~found["true_halting"]]["sparc"].dropna()
    knee_err = found["knee_rom_err_deg"].abs().median()
    head_err = with_head["head_rom_err_deg"].abs().median()
    rows = [
        ("sessions with the exact rep count", f"{exact:.1f} %", "≥ 99 %"),
        ("true reps found", f"{reps['found'].mean() * 100:.2f} %", ""),
        ("false reps (not a true rep)", f"{int(sessions['false_reps'].sum())}", ""),
        ("median abs. rep start error", f"{found['start_err_s'].abs().median():.3f} s", "≤ 0.15 s"),
        ("median abs. rep end error", f"{found['end_err_s'].abs().median():.3f} s", "≤ 0.15 s"),
        ("technique right / unclear / wrong, with the start-up calibration",
         f"{cal_ok:.1f} / {cal_unclear:.1f} / {cal_wrong:.1f} %", "≥ 99 % right"),
        ("technique right / unclear / wrong, without it (see below)",
         f"{raw_ok:.1f} / {raw_unclear:.1f} / {raw_wrong:.1f} %", ""),
        ("hold detected correctly (held flag)", f"{hold_ok:.1f} %", "≥ 97 %"),
        ("median abs. knee range error", f"{knee_err:.2f}°", "≤ 3°"),
        ("median abs. head range error", f"{head_err:.2f}°", ""),
        ("SPARC ranks halting below smooth (AUC)", f"{auc(halting, smooth):.3f}", "≥ 0.95"),
        ("median abs. out / back glide error", f"{found['out_err_s'].abs().median():.3f} / "
         f"{found['back_err_s'].abs().median():.3f} s", ""),
        ("median shin / head angle RMSE (offset removed)",
         f"{sessions['shin_angle_rmse_deg'].median():.2f}° / "
         f"{sessions.get('head_angle_rmse_deg', pd.Series([np.nan])).median():.2f}°", ""),
    ]  # fmt: skip
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "## By sample rate", "", _by(sessions, found, "rate_hz"), ""]
    lines += ["## By rep condition", "", _by_condition(reps), ""]
    lines += ["## By session technique", "", _by(sessions, found, "technique", rep_key=None), ""]
    lines += ["## Shin-only vs two straps", "", _by(sessions, found, "head"), ""]
    lines += ["## With and without the start-up calibration", ""]
    lines += [_by_calibration(sessions, found), ""]
    return "\n".join(lines)


def _by(sessions, found, key, rep_key=...) -> str:
    rep_key = key if rep_key is ... else rep_key
    out = [f"| {key} | sessions | exact count | start err (median) | end err | knee range err |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    for v, g in sessions.groupby(key):
        r = found[found[rep_key] == v] if rep_key else found[found["seed"].isin(g["seed"])]
        out.append(
            f"| {v} | {len(g)} | {g['exact_count'].mean() * 100:.0f} % | "
            f"{r['start_err_s'].abs().median():.3f} s | {r['end_err_s'].abs().median():.3f} s | "
            f"{r['knee_rom_err_deg'].abs().median():.2f}° |"
        )
    return "\n".join(out)


def _by_calibration(sessions, found) -> str:
    out = ["| calibration | session technique | sessions | reps | technique right | unclear |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    head = sessions[sessions["head"]]
    for (cal, tech), g in head.groupby(["calibration", "technique"]):
        r = found[found["seed"].isin(g["seed"])]
        out.append(
            f"| {'yes' if cal else 'no'} | {tech} | {len(g)} | {len(r)} | "
            f"{(r['technique'] == r['true_technique']).mean() * 100:.1f} % | "
            f"{(r['technique'] == 'unclear').mean() * 100:.1f} % |"
        )
    return "\n".join(out)


def _by_condition(reps) -> str:
    out = ["| condition | true reps | found | start err | end err | held flag right | technique |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    expl = reps.assign(cond=reps["conditions"].str.split(";")).explode("cond")
    for cond, g in expl.groupby("cond"):
        f = g[g["found"]]
        th = f[f["head"]]
        out.append(
            f"| {cond} | {len(g)} | {g['found'].mean() * 100:.1f} % | "
            f"{f['start_err_s'].abs().median():.3f} s | {f['end_err_s'].abs().median():.3f} s | "
            f"{(f['found_held'] == f['true_held']).mean() * 100:.1f} % | "
            f"{(th['technique'] == th['true_technique']).mean() * 100:.1f} % |"
        )
    return "\n".join(out)


def run(n: int, jobs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-session and per-rep rows of ``n`` varied sessions."""
    return evaluate_all(evaluate, session_configs(n), jobs, chunksize=4)


def evaluate_all(
    fn: Callable[[Any], tuple[dict, list[dict]]], items: list[Any], jobs: int, chunksize: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``fn`` over ``items`` (in ``jobs`` processes): its per-session rows and its per-rep
    rows, each as one table."""
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(fn, items, chunksize=chunksize))
    else:
        results = [fn(c) for c in items]
    sessions = pd.DataFrame([r[0] for r in results])
    reps = pd.DataFrame([row for r in results for row in r[1]])
    return sessions, reps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, help="write the markdown report here")
    ap.add_argument("--csv", type=Path, help="write per-rep rows here (for inspection)")
    args = ap.parse_args()
    sessions, reps = run(args.sessions, args.jobs)
    cmd = f"python benchmarks/accuracy.py --sessions {args.sessions}"
    text = report(sessions, reps, cmd)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.csv:
        reps.to_csv(args.csv, index=False)
        sessions.to_csv(args.csv.with_suffix(".sessions.csv"), index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "evaluate",
    "evaluate_all",
    "match",
    "replace",
    "score",
    "session_configs",
    "simulate_and_analyze",
]
