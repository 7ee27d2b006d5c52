"""Export recordings to a BIDS-Motion dataset, check it with the official validator, read it back.

    python docs/examples/export_bids.py [RECORDING_OR_FOLDER] [-o DATASET]

Without an input, the shipped sample. The command line does the same:
flossmeter export FOLDER --bids DATASET. The mapping is in docs/interchange.md.
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from collector.io import load
from gui.bids_export import export_bids

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "sample-slider-2x5.flossrec"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("input", nargs="?", type=Path, default=SAMPLE)
parser.add_argument("-o", "--output", type=Path, default=Path("bids-dataset"))
args = parser.parse_args()

# each session's reps (the analysis) become its events file; one tracking system per strap
sessions = export_bids(args.input, args.output)

validator = Path(sys.executable).with_name("bids-validator-deno")
exe = str(validator) if validator.exists() else shutil.which("bids-validator-deno")
if exe:  # pip install bids-validator-deno (in flossmeter's test extra)
    out = subprocess.run([exe, "--format", "json", str(args.output)], capture_output=True)
    issues = json.loads(out.stdout)["issues"]["issues"]
    errors = [i for i in issues if i["severity"] == "error"]
    print(f"validator: {len(errors)} errors, {len(issues) - len(errors)} warnings")
else:
    print("validator: not installed (pip install bids-validator-deno)")

# any motion file of a session reads the whole session back, through the same loader
motion = sorted(args.output.rglob("*_tracksys-shin_motion.tsv"))[0]
back = load(motion)
print(back)
print(f"{len(sessions)} session(s) in {args.output}; {motion.relative_to(args.output)} read back")
