"""Analyse one recording in Python: load it, count and score its reps, look at the numbers.

    python docs/examples/analyse_recording.py [RECORDING] [-o reps.csv]

RECORDING is any file flossmeter reads (a .flossrec, a long sample CSV, a BIDS-Motion
..._motion.tsv); without one, the shipped sample recording.
"""

import argparse
from pathlib import Path

from analysis.session import RepAnalysis
from collector.io import load

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "sample-slider-2x5.flossrec"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("recording", nargs="?", type=Path, default=SAMPLE)
parser.add_argument("-o", "--output", type=Path, help="also write the per-rep table as CSV")
args = parser.parse_args()

rec = load(args.recording)  # one loader for every format: a Recording
print(rec)  # <Recording '...': duration; samples and rate per strap; events>

analysis = RepAnalysis().run(rec.samples)  # the same pipeline as the live counter
reps = analysis.reps_  # one row per rep; every column is in docs/data-dictionary.md
print(analysis.result_.summary())
print(reps[["rep", "set", "start_s", "duration_s", "knee_rom_deg", "sparc", "quality"]])

truth = rec.ground_truth  # a simulated session knows what really happened
if truth is not None:
    print(f"ground truth: {len(truth.reps)} reps; found {len(reps)}")
if args.output:
    reps.to_csv(args.output, index=False)
    print(f"wrote {args.output}")
