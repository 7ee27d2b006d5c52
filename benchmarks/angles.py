"""Segment-angle accuracy and speed: the 1-D complementary filter vs imufusion's AHRS.

For simulated sessions (rates 25–400 Hz, random mounting, sensor noise ×0.5–2, fidgets) both
methods get the same bias-corrected gyro, the same segment axis and the same zero pose; the
RMS error against the true shin inclination / head pitch is taken after removing the constant
offset (the zero pose is the calibration posture, the truth's zero is the vertical).
Usage: ``python benchmarks/angles.py [--sessions N]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.angles import complementary_inclination
from analysis.fusion import imufusion_inclination
from analysis.session import RepAnalysis
from benchmarks.accuracy import samples_of, session_configs
from collector.simulator import simulate


def compare(config) -> list[dict]:
    s = simulate(config)
    an = RepAnalysis(angles=False).run(samples_of(s)).analyzer_
    rows = []
    for role in ("shin", "head"):
        x = an.angle_inputs(role)
        if x is None or x.zero_source != "calibration":
            continue
        t = x.time_s
        truth = np.interp(t, s.truth_angles(role)["time_s"], s.truth_angles(role)["angle_deg"])
        phi, acc, w, rate, axis, ref = x.phi_deg, x.acc_mps2, x.w_dps, x.rate_hz, x.axis, x.ref_acc
        for name in ("complementary", "imufusion"):
            t0 = time.perf_counter()
            if name == "complementary":
                est = complementary_inclination(phi, acc, axis, ref, rate)
            else:
                est = imufusion_inclination(acc, w, axis, ref, rate)
            el = time.perf_counter() - t0
            err = est - truth
            err -= np.median(err)
            rows.append(
                {
                    "seed": config.seed,
                    "rate_hz": config.rate_hz,
                    "noise": config.noise,
                    "role": role,
                    "method": name,
                    "rmse_deg": float(np.sqrt(np.mean(err**2))),
                    "p99_abs_deg": float(np.percentile(np.abs(err), 99)),
                    "s_per_hour": el / (t[-1] - t[0]) * 3600,
                }
            )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    args = ap.parse_args()
    rows = [r for c in session_configs(args.sessions) for r in compare(c)]
    df = pd.DataFrame(rows)
    print(f"Reproduce: python benchmarks/angles.py --sessions {args.sessions}\n")
    print("| strap | method | RMSE median (deg) | RMSE max | \\|error\\| p99 median | s per hour |")
    print("|---|---|---|---|---|---|")
    for (role, method), g in df.groupby(["role", "method"]):
        print(
            f"| {role} | {method} | {g['rmse_deg'].median():.2f} | {g['rmse_deg'].max():.2f} | "
            f"{g['p99_abs_deg'].median():.2f} | {g['s_per_hour'].median():.3f} |"
        )
    print("\nby rate (median RMSE, deg):")
    print(df.pivot_table(index="rate_hz", columns=["role", "method"], values="rmse_deg",
                         aggfunc="median").round(2).to_string())  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
