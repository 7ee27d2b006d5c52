"""Writing analysis results for researchers: the per-rep CSV and its data dictionary beside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def dictionary_path(csv_path: str | os.PathLike[str]) -> Path:
    """Where the data dictionary of ``csv_path`` goes: ``<name>.dictionary.csv`` beside it."""
    p = Path(csv_path)
    return p.with_name(p.stem + ".dictionary.csv")


def write_reps_csv(reps: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the per-rep table (columns in data-dictionary order) and its dictionary beside it.

    Floats keep 6 significant digits (times with µs). Raises ``OSError`` if it cannot write.
    """
    import pandas as pd

    from analysis.dictionary import columns, rows

    order = [c.name for c in columns() if c.name in reps.columns]
    out = reps.loc[:, order].copy()
    for col in ("start_s", "end_s", "knee_top_s", "knee_back_start_s"):
        if col in out:
            out[col] = out[col].map(lambda v: f"{v:.6f}" if v == v else "")
    p = Path(path)
    out.to_csv(p, index=False, float_format="%.6g")
    pd.DataFrame(rows()).to_csv(dictionary_path(p), index=False)
    return p
