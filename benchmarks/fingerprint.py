"""Fingerprint of the analysis: one hash per session of everything it reports, to show that a
change meant to be faster keeps every result bit for bit.

Usage: ``python benchmarks/fingerprint.py [--sessions N] [--out FILE]``; run it before and
after a change (e.g. in a ``git worktree`` of the earlier commit) and ``diff`` the outputs.
Sessions: ``benchmarks/accuracy.py``'s varied mixture (25–400 Hz, random mounting, noise,
loss, shin-only, no calibration) with, in turn, no disturbance, each disturbance at its severe
level and all of them together; each analysed whole and fed in random chunks (the live path),
which must agree. Hashed: the reps table, when each rep was decided, the status, every event
and each strap's angles (raw float bits).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.online import OnlineAnalyzer
from analysis.session import RepAnalysis
from benchmarks import accuracy
from collector.exercise import DISTURBANCE_KINDS, disturbances_at
from collector.simulator import simulate


def _digest(result) -> str:
    h = hashlib.sha256()
    h.update(result.reps.to_csv(float_format="%r").encode())
    h.update(repr(result.decided_s).encode())
    h.update(repr(result.status).encode())
    h.update(repr(result.events).encode())
    for role in sorted(result.angles):
        h.update(role.encode())
        h.update(np.ascontiguousarray(result.angles[role].to_numpy(float)).tobytes())
    return h.hexdigest()[:16]


def _chunked(samples, seed: int):
    """The live path: both straps interleaved in random blocks of 1–40 samples."""
    rng = np.random.default_rng(seed)
    an = OnlineAnalyzer(sensors=list(samples), keep_s=None, display_angles=False)
    arrays = {
        r: (
            df["time_s"].to_numpy(float),
            df[["acc_x", "acc_y", "acc_z"]].to_numpy(float),
            df[["gyr_x", "gyr_y", "gyr_z"]].to_numpy(float),
        )
        for r, df in samples.items()
    }
    pos = dict.fromkeys(arrays, 0)
    while any(pos[r] < len(a[0]) for r, a in arrays.items()):
        left = [r for r, a in arrays.items() if pos[r] < len(a[0])]
        r = min(left, key=lambda x: arrays[x][0][pos[x]])
        a, b = pos[r], min(pos[r] + int(rng.integers(1, 41)), len(arrays[r][0]))
        an.push(r, *(x[a:b] for x in arrays[r]))
        pos[r] = b
    an.finish()
    return an.result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=6, help="base sessions per disturbance")
    ap.add_argument("--seed0", type=int, default=500_000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    lines = []
    kinds = [("clean", None), *((k, (k,)) for k in DISTURBANCE_KINDS), ("all", None)]
    for name, only in kinds:
        d = disturbances_at("severe", only) if only else None
        if name == "all":
            d = disturbances_at("typical")
        for c in accuracy.session_configs(args.sessions, seed0=args.seed0):
            cfg = replace(c, disturbances=d) if d is not None else c
            samples = accuracy.samples_of(simulate(cfg))
            whole = _digest(RepAnalysis().run(samples).result_)
            try:
                live = _digest(_chunked(samples, cfg.seed))
            except Exception as e:  # a live-only failure is a finding, not the end of the run
                live = f"live failed: {e!r}"
            lines.append(f"{name:14s} {cfg.seed} {whole} {'=' if live == whole else live}")
            print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
