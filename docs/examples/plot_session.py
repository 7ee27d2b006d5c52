"""Plot a session: knee and head angles over time with each rep shaded by its quality.

    python docs/examples/plot_session.py [RECORDING] [-o session.png]

Without a RECORDING, the shipped sample; the figure is written as PNG (no window needed).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt

from analysis.session import RepAnalysis
from collector.io import load

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "sample-slider-2x5.flossrec"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("recording", nargs="?", type=Path, default=SAMPLE)
parser.add_argument("-o", "--output", type=Path, default=Path("session.png"))
args = parser.parse_args()

rec = load(args.recording)
analysis = RepAnalysis().run(rec.samples)  # angles_: zero-phase angles per strap, degrees

fig, ax = plt.subplots(figsize=(10, 3.5), layout="constrained")
for role, colour in (("shin", "tab:blue"), ("head", "tab:orange")):
    if role in analysis.angles_:
        angle = analysis.angles_[role]
        label = "knee (shin inclination)" if role == "shin" else "head pitch"
        ax.plot(angle["time_s"], angle["angle_deg"], color=colour, lw=1, label=label)
for rep in analysis.reps_.itertuples():
    # green for a good rep, red for a poor one (quality 0–100)
    ax.axvspan(rep.start_s, rep.end_s, color=plt.cm.RdYlGn(rep.quality / 100), alpha=0.25)
    ax.annotate(str(rep.rep), (rep.start_s, 1.0), xycoords=("data", "axes fraction"),
                va="top", fontsize=8)  # fmt: skip
ax.set(xlabel="session time (s)", ylabel="angle (deg)", title=rec.name)
ax.legend(loc="lower right")
fig.savefig(args.output, dpi=100)
print(f"wrote {args.output} ({len(analysis.reps_)} reps shaded)")
