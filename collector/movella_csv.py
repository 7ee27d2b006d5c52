"""Movella DOT CSV import: the DOT app's export, one file per sensor, into one Recording.

Layout (``docs/lsl-xdf.md`` says what is confirmed): ``sep=,``, then ``Key:,value`` header lines
(``DeviceTag``, ``FirmwareVersion``, ``AppVersion``, ``SyncStatus``, ``OutputRate``,
``StartTime``, …), a copyright line, a blank line, and the column header ``PacketCounter,
SampleTimeFine,…,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z,…``: SampleTimeFine in µs (uint32,
wraps at 2³²), Acc in m/s², Gyr in deg/s. Reading one file reads its session: the DOT files
beside it that started within :data:`SAME_SESSION_S` of it. Which file is which strap comes
from ``roles`` (a DeviceTag, file name or path per role) or from "shin"/"head" in the DeviceTag
or file name.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from collector.errors import CollectorError, last_line, reading
from collector.model import ROLES
from collector.recording import SAMPLE_COLUMNS, Recording

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

KIND = "movella-dot-csv"
#: SampleTimeFine is a uint32 count of µs: it wraps every 2³² µs (about 71.6 min).
WRAP_US = 2**32
#: DOT files whose StartTime lies within this of each other are one session (the app starts
#: the sensors of a session together; their StartTimes differ by milliseconds).
SAME_SESSION_S = 5.0
#: How many lines the header may have before the column names (the app writes about 12).
MAX_HEADER_LINES = 40
DOT_COLUMNS = ("Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z")
_START_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})_(\d{2}):(\d{2}):(\d{2})_(\d{3})(?:\s*GMT([+-]\d+))?")


def is_dot_csv(head: bytes) -> bool:
    """The first bytes of a file look like a DOT app export (its column names or header)."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    return "SampleTimeFine" in text or (text.startswith("sep=") and "DeviceTag" in text)


@dataclass
class DotFile:
    """One sensor's export: header items, column names, where the data begin."""

    path: Path
    header: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    data_line: int = 0  # 0-based line index of the first data row

    @property
    def tag(self) -> str:
        return self.header.get("DeviceTag", "")

    @property
    def start(self) -> dt.datetime | None:
        """StartTime as an aware date-time (ms resolution), or None if absent or unreadable."""
        m = _START_TIME.search(self.header.get("StartTime", ""))
        if not m:
            return None
        day, hh, mm, ss, ms, tz = m.groups()
        zone = dt.timezone(dt.timedelta(hours=int(tz))) if tz else dt.UTC
        base = dt.datetime.fromisoformat(day).replace(tzinfo=zone)
        return base + dt.timedelta(hours=int(hh), minutes=int(mm), seconds=int(ss),
                                   milliseconds=int(ms))  # fmt: skip

    @property
    def synced(self) -> bool:
        return self.header.get("SyncStatus", "").strip().lower() == "synced"

    @property
    def rate_hz(self) -> float | None:
        m = re.match(r"\s*([\d.]+)\s*hz", self.header.get("OutputRate", ""), re.I)
        return float(m.group(1)) if m else None


def read_header(path: Path) -> DotFile:
    """The header of a DOT export (no data); a file that is not one raises CollectorError."""
    f = DotFile(path)
    with reading(path), open(path, encoding="utf-8-sig", newline="") as fh:
        for i, line in enumerate(fh):
            if i > MAX_HEADER_LINES:
                break
            cells = [c.strip() for c in line.rstrip("\r\n").split(",")]
            if "SampleTimeFine" in cells:
                f.columns, f.data_line = cells, i + 1
                return f
            key = cells[0]
            if key.endswith(":") and len(cells) > 1:
                f.header[key[:-1].strip()] = ",".join(cells[1:]).strip()
    raise CollectorError(
        f"{path}: not a Movella DOT export (no PacketCounter,SampleTimeFine,… column line in "
        f"its first {MAX_HEADER_LINES} lines)"
    )


def read_dot_csv(path: str | os.PathLike[str], roles: Mapping[str, str] | None = None) -> Recording:
    """Read the DOT session ``path`` belongs to (see the module's rules) into a
    :class:`Recording`: times in s from the earliest first sample, acc m/s², gyro deg/s."""
    import pandas as pd

    p = Path(path)
    first = read_header(p)
    files = _assign(first, _session_files(first), roles)
    times = {role: _times_us(f) for role, f in files.items()}
    offsets_s = _alignment(files, times)
    samples: dict[str, pd.DataFrame] = {}
    sensors: dict[str, dict[str, Any]] = {}
    zero = min(float(times[r][0][0]) * 1e-6 + offsets_s[r] for r in files)
    for role, f in files.items():
        t_us, values = times[role]
        t = t_us * 1e-6 + offsets_s[role] - zero
        rate = f.rate_hz or (float(1.0 / np.median(np.diff(t))) if len(t) > 1 else None)
        steps = np.maximum(1, np.rint(np.diff(t) * (rate or 1.0))).astype(np.int64)
        frame = {"time_s": t, "device_time_s": t_us * 1e-6,
                 "sample_index": np.concatenate(([0], np.cumsum(steps)))}  # fmt: skip
        frame.update({c: values[:, j] for j, c in enumerate(SAMPLE_COLUMNS)})
        samples[role] = pd.DataFrame(frame)
        sensors[role] = {
            "role": role, "kind": KIND, "rate_hz": rate, "name": f.tag,
            "firmware": f.header.get("FirmwareVersion", ""), "source_file": f.path.name,
        }  # fmt: skip
    meta = {
        "format": KIND,
        "source_file": str(p),
        "source_files": {role: str(f.path) for role, f in files.items()},
        "dot_headers": {role: f.header for role, f in files.items()},
        "time_alignment": _how_aligned(files),
    }
    events = pd.DataFrame(columns=["time_s", "sensor", "kind", "detail"])
    ordered = {role: samples[role] for role in ROLES if role in samples}
    return Recording(p, meta, sensors, ordered, events)  # type: ignore[arg-type]


# -- which files, which strap ----------------------------------------------------------------


def _session_files(first: DotFile) -> list[DotFile]:
    """``first`` and the DOT exports beside it that started within SAME_SESSION_S of it."""
    found = [first]
    start = first.start
    if start is None:
        return found
    for q in sorted(first.path.parent.glob("*.csv")):
        if q == first.path or not q.is_file():
            continue
        try:
            with open(q, "rb") as fh:
                head = fh.read(512)
            if not is_dot_csv(head):
                continue
            other = read_header(q)
        except (OSError, CollectorError):
            continue
        if other.start is not None and abs((other.start - start).total_seconds()) <= SAME_SESSION_S:
            found.append(other)
    return found


def _role_by_name(f: DotFile) -> str | None:
    found = {r for r in ROLES for text in (f.tag, f.path.stem) if r in text.lower()}
    return found.pop() if len(found) == 1 else None


def _assign(
    first: DotFile, candidates: list[DotFile], roles: Mapping[str, str] | None
) -> dict[str, DotFile]:
    p = first.path
    files: dict[str, DotFile] = {}
    if roles:
        for role, name in roles.items():
            if role not in ROLES:
                raise CollectorError(f"--map: the roles are shin and head, not {role!r}")
            hits = [f for f in candidates if name in (f.tag, f.path.name, f.path.stem)]
            if not hits:
                q = Path(name) if Path(name).is_file() else p.parent / name
                if q.is_file():
                    hits = [read_header(q)]
            if not hits:
                tags = ", ".join(repr(f.tag or f.path.name) for f in candidates)
                raise CollectorError(
                    f"{p}: no DOT file or DeviceTag {name!r} for the {role} in this session "
                    f"({tags})"
                )
            if len(hits) > 1:
                raise CollectorError(
                    f"{p}: {len(hits)} DOT files have the tag {name!r}: give the {role}'s file name"
                )
            files[role] = hits[0]
    else:
        for f in candidates:
            role = _role_by_name(f)
            if role is None:
                if f is first:
                    raise CollectorError(
                        f"{p}: which strap is DOT {f.tag or f.path.stem!r}? Name its tag or file "
                        "shin/head, or say --map shin=TAG,head=TAG"
                    )
                continue
            if role in files:
                raise CollectorError(
                    f"{p}: two DOT files of this session are the {role} ({files[role].path.name}, "
                    f"{f.path.name}): choose with --map {role}=FILE"
                )
            files[role] = f
    if "shin" not in files:
        raise CollectorError(f"{p}: no shin sensor in this DOT session (the shin is required)")
    return files


# -- samples and time --------------------------------------------------------------------------


def _times_us(f: DotFile) -> tuple[np.ndarray, np.ndarray]:
    """SampleTimeFine unwrapped (µs, int64, from the file's own first value) and the six
    Acc/Gyr columns (m/s², deg/s); bad rows raise CollectorError with their line number."""
    import pandas as pd

    p = f.path
    missing = [c for c in ("SampleTimeFine", *DOT_COLUMNS) if c not in f.columns]
    if missing:
        present = ", ".join(c for c in f.columns if c) or "none"
        raise CollectorError(
            f"{p}: no {', '.join(missing)} column (columns: {present}); export with "
            "acceleration and angular velocity (the DOT app's custom mode)"
        )
    try:
        df = pd.read_csv(
            p, skiprows=f.data_line, header=None, names=f.columns, dtype=str,
            keep_default_na=False, encoding="utf-8-sig", index_col=False,
            usecols=["SampleTimeFine", *DOT_COLUMNS],
        )  # fmt: skip
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as e:
        raise CollectorError(f"{p}: unreadable DOT data ({last_line(e)})") from None
    if df.empty:
        raise CollectorError(f"{p}: no samples (header only)")
    first_data = f.data_line + 1  # 1-based line number of data row 0
    st = pd.to_numeric(df["SampleTimeFine"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(st) | (st < 0) | (st >= WRAP_US) | (st != np.floor(st)))
    if len(bad):
        i = int(bad[0])
        raise CollectorError(
            f"{p}: line {first_data + i}: SampleTimeFine is {df['SampleTimeFine'].iloc[i]!r}, "
            "not a count of µs"
        )
    values = np.empty((len(df), 6))
    for j, c in enumerate(DOT_COLUMNS):
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            i = int(bad[0])
            raise CollectorError(
                f"{p}: line {first_data + i}: {c} is {df[c].iloc[i]!r}, not a number"
            )
        values[:, j] = v
    raw = st.astype(np.int64)
    step = np.diff(raw) % WRAP_US  # a wrap reads as a small step forward
    back = np.flatnonzero((step == 0) | (step >= WRAP_US // 2))
    if len(back):
        i = int(back[0]) + 1
        raise CollectorError(
            f"{p}: line {first_data + i}: SampleTimeFine {raw[i]} does not come after the "
            f"previous sample's {raw[i - 1]}"
        )
    return raw[0] + np.concatenate(([0], np.cumsum(step))), values


def _alignment(
    files: dict[str, DotFile], times: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, float]:
    """Per role, seconds to add to its SampleTimeFine (s) to put every file on one clock."""
    roles = list(files)
    ref = roles[0]
    out = {ref: 0.0}
    for role in roles[1:]:
        a, b = files[ref], files[role]
        if a.synced and b.synced:
            # synced sensors share SampleTimeFine: the signed difference modulo 2³²
            first_ref, first = int(times[ref][0][0]), int(times[role][0][0])
            d = (first - first_ref + WRAP_US // 2) % WRAP_US - WRAP_US // 2
            out[role] = (first_ref + d - first) * 1e-6
        elif a.start is not None and b.start is not None:
            # each clock starts at its file's StartTime (ms): line the first samples up by it
            gap_s = (b.start - a.start).total_seconds()
            out[role] = times[ref][0][0] * 1e-6 + gap_s - times[role][0][0] * 1e-6
        else:
            log.warning("%s: no StartTime or sync: the sensors' first samples are taken as "
                        "simultaneous", b.path)  # fmt: skip
            out[role] = (times[ref][0][0] - times[role][0][0]) * 1e-6
    return out


def _how_aligned(files: dict[str, DotFile]) -> str:
    fs = list(files.values())
    if len(fs) < 2:
        return "one sensor"
    if all(f.synced for f in fs):
        return "SampleTimeFine (sensors synced)"
    if all(f.start is not None for f in fs):
        return "StartTime (ms)"
    return "first samples taken as simultaneous"
