"""Analyse a study folder into one table: every rep of every session, with its participant.

    python docs/examples/batch_study.py FOLDER [-o study-reps.csv]

FOLDER holds recordings (.flossrec, searched recursively), e.g. one subfolder per participant.
The table has one row per rep; a second table, one row per session. (The command line does
the same with processes: flossmeter analyze FOLDER -o reps.csv.)
"""

import argparse
from pathlib import Path

import pandas as pd

from analysis.session import RepAnalysis
from collector.io import load

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("folder", type=Path)
parser.add_argument("-o", "--output", type=Path, default=Path("study-reps.csv"))
args = parser.parse_args()

tables = []
for path in sorted(args.folder.rglob("*.flossrec")):
    rec = load(path)
    reps = RepAnalysis(angles=False).run(rec.samples).reps_
    participant = rec.meta.get("participant") or "?"
    tables.append(
        reps.assign(recording=str(path.relative_to(args.folder)), participant=participant)
    )
    print(f"{path.name}: {participant}, {len(reps)} reps")

study = pd.concat(tables, ignore_index=True)
study.to_csv(args.output, index=False)
sessions = study.groupby(["participant", "recording"]).agg(
    reps=("rep", "size"), sets=("set", "max"), quality=("quality", "mean"),
    knee_rom_deg=("knee_rom_deg", "median"),
)  # fmt: skip
print(sessions.round(1).to_string())
print(f"wrote {len(study)} reps of {len(tables)} sessions to {args.output}")
