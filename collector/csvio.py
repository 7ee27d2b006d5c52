"""Long-format sample CSV: ``time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z`` (s, m/s², deg/s).

One row per sample; ``sensor`` is ``shin`` or ``head`` (head optional). The two sensors may have
different rates, start times, irregular timestamps and gaps: times are taken as given, never
put on a shared grid. Within a sensor, times must increase. Any bad row is reported by its line
number (line 1 is the header).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from collector.errors import CollectorError, reading
from collector.gaps import first_step_back, median_rate_hz
from collector.model import ROLES
from collector.recording import SAMPLE_COLUMNS, Recording

if TYPE_CHECKING:
    import pandas as pd

CSV_COLUMNS = ("time_s", "sensor", *SAMPLE_COLUMNS)
_NUMERIC = ("time_s", *SAMPLE_COLUMNS)


def write_samples_csv(rec: Recording, path: str | os.PathLike[str]) -> Path:
    """Write every sample of ``rec`` as long CSV, sorted by time (shin before head on ties)."""
    import pandas as pd

    frames = []
    for role, df in rec.samples.items():
        out = df.loc[:, ["time_s", *SAMPLE_COLUMNS]].copy()
        out.insert(1, "sensor", role)
        frames.append(out)
    if not frames:
        raise CollectorError(f"{rec.name}: no samples to export")
    all_ = pd.concat(frames, ignore_index=True)
    order = np.lexsort((all_["sensor"].map({r: i for i, r in enumerate(ROLES)}), all_["time_s"]))
    all_ = all_.iloc[order]
    # time with fixed 6 decimals (µs over hours); samples with 7 significant digits (float32)
    all_["time_s"] = all_["time_s"].map("{:.6f}".format)
    p = Path(path)
    try:
        all_.to_csv(p, index=False, float_format="%.7g", columns=list(CSV_COLUMNS))
    except OSError as e:
        raise CollectorError(f"{p}: cannot write ({e.strerror or e})") from None
    return p


def read_samples_csv(path: str | os.PathLike[str]) -> Recording:
    """Read long CSV into a :class:`Recording` (no events; sample indices count rows)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise CollectorError(f"{p}: no such file")
    with reading(p, "text CSV file"), open(p, encoding="utf-8") as f:
        header = f.readline()
    names = [h.strip() for h in header.strip().split(",")]
    if not header.strip():
        raise CollectorError(f"{p}: empty file")
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        raise CollectorError(
            f"{p}: line 1: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        )
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as e:
        raise CollectorError(f"{p}: {_parser_message(str(e))}") from None
    except UnicodeDecodeError:
        raise CollectorError(f"{p}: not a text CSV file") from None
    if df.empty:
        raise CollectorError(f"{p}: no samples (header only)")
    values = {}
    for col in _NUMERIC:
        num = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(num))
        if len(bad):
            i = int(bad[0])
            raise CollectorError(f"{p}: line {i + 2}: {col} is {df[col].iloc[i]!r}, not a number")
        values[col] = num
    sensor = df["sensor"].str.strip().to_numpy(dtype=object)
    bad = np.flatnonzero(~np.isin(sensor, ROLES))
    if len(bad):
        i = int(bad[0])
        raise CollectorError(f"{p}: line {i + 2}: sensor is {sensor[i]!r}, not 'shin' or 'head'")
    samples: dict[str, pd.DataFrame] = {}
    for role in ROLES:
        rows = np.flatnonzero(sensor == role)
        if len(rows) == 0:
            continue
        t = values["time_s"][rows]
        if (k := first_step_back(t)) is not None:
            raise CollectorError(
                f"{p}: line {rows[k] + 2}: {role} time {t[k]:g} s does not come after "
                f"the previous {role} sample ({t[k - 1]:g} s)"
            )
        samples[role] = _frame(t, {c: values[c][rows] for c in SAMPLE_COLUMNS})
    if "shin" not in samples:
        raise CollectorError(f"{p}: no shin samples (the shin sensor is required)")
    sensors = {
        role: {"role": role, "kind": "csv", "rate_hz": median_rate_hz(df_["time_s"].to_numpy())}
        for role, df_ in samples.items()
    }
    events = pd.DataFrame(columns=["time_s", "sensor", "kind", "detail"])
    meta = {"format": "long-csv", "source_file": str(p)}
    return Recording(p, meta, sensors, samples, events)  # type: ignore[arg-type]


def _frame(t: np.ndarray, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    import pandas as pd

    data = {"time_s": t, "device_time_s": t.copy(), "sample_index": _index_from_time(t)}
    data.update(cols)
    return pd.DataFrame(data)


def _index_from_time(t: np.ndarray) -> np.ndarray:
    """Sample counter for data without one: steps of round(dt / median dt), at least 1, so a
    gap of k periods reads as k − 1 lost samples and jitter never makes a step of 0."""
    if len(t) < 2:
        return np.zeros(len(t), dtype=np.int64)
    dt = np.diff(t)
    steps = np.maximum(1, np.rint(dt / np.median(dt))).astype(np.int64)
    return np.concatenate(([0], np.cumsum(steps)))


def _parser_message(msg: str) -> str:
    """pandas' tokenizer error → 'line N: expected 8 fields, saw 9'."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if m:
        return f"line {m.group(2)}: expected {m.group(1)} fields, saw {m.group(3)}"
    return f"unreadable CSV ({msg.strip().splitlines()[-1]})"
