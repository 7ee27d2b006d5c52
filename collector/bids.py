"""BIDS-Motion datasets: write a session as one, read any session of one into a Recording.

The mapping (every file, column, unit and choice) is documented in ``docs/interchange.md``. In
short, each strap is its own tracking system (its own device, clock and sample count), so a
session ``sub-<S>/ses-<N>/motion/`` holds per strap ``…_tracksys-<role>_motion.tsv`` (no
header: LATENCY s, acc x/y/z m/s^2, gyro x/y/z deg/s), ``_motion.json``, ``_channels.tsv`` and
``_channels.json``; the reps (and markers, symptom ratings) are ``…_events.tsv`` with
``_events.json``. One time base: ``acq_time`` (``scans.tsv``) is the session's start, LATENCY
and onsets are session time. A sample the strap counted but never delivered is a row of ``n/a``
(``MissingValues``), so row k is sample k of the strap's nominal grid.

The reader takes one ``*_motion.tsv`` and gathers its session: every tracking system beside it
with the same subject/session/task/acq/run entities, sidecars by BIDS inheritance, the scans
file, the events. Roles come from each channel's ``tracked_point`` (else ``placement``, else
the tracking system's label) or from an explicit map (``--map shin=LeftShank``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from collector.errors import CollectorError, last_line, reading
from collector.gaps import first_step_back, median_rate_hz
from collector.model import ROLES, Role
from collector.recording import APP_VERSION, SAMPLE_COLUMNS, Recording

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: The specification version the files follow (BIDS-Motion is part of BIDS since 1.9.0).
BIDS_VERSION = "1.10.0"
#: The task label of a flossing session.
TASK = "floss"
#: How a missing value is written in every TSV (``MissingValues`` in ``_motion.json``).
NA = "n/a"
#: Labels (subject, session, task, tracking system) are letters and digits only.
LABEL = re.compile(r"[0-9a-zA-Z]+")

STANDARD_GRAVITY_MPS2 = 9.80665
_ACC_AXES = ("acc_x", "acc_y", "acc_z")
_GYR_AXES = ("gyr_x", "gyr_y", "gyr_z")

TASK_DESCRIPTION = (
    "Seated slump slider (lumbar nerve flossing): from a slumped seat with chin to chest and the "
    "knee bent, the knee extends while the trunk sits up and the head lifts, the head looks up "
    "at end range, then the movement reverses in one smooth glide; reps in sets with rests. Two "
    "IMU straps: one on the shin of the exercised leg, one on a head band."
)
PLACEMENT: dict[str, str] = {
    "shin": "shin (lower leg) of the exercised leg, strap 12-30 cm below the knee, at any angle "
    "around the segment (put on by the participant)",
    "head": "head, on a head band (forehead, or the back of the head when worn backwards)",
}
#: The motion channel types we do not write (their counts are 0, as the sidecar recommends).
OTHER_CHANNEL_COUNTS = tuple(
    f"{t}ChannelCount" for t in ("ANGACCEL", "JNTANG", "MAGN", "MISC", "ORNT", "POS", "VEL")
)
ARTEFACTS = (
    "Recorded at home or in clinic by the participant: strap knocks, chair bumps, shifting in "
    "the seat and fidgeting between sets can appear in the data; they are left untouched (the "
    "analysis bridges them and counts them per rep in the events' artefacts column)."
)
REFERENCE_FRAME = {
    "Description": "The strap's own sensor axes (body-fixed, moving with the segment). How the "
    "strap sits on the segment is not known (any rotation about the shin, a head band worn "
    "backwards), so no anatomical axis is implied. Acceleration is specific force (gravity "
    "included, about +9.81 m/s^2 upwards at rest); angular rate is about the same axes.",
    "RotationRule": "right-hand",
}
#: What we know about each strap family (the ``kind`` of a recording's sensor).
MANUFACTURERS = {
    "simulated": ("flossmeter simulator", "simulated IMU strap"),
    "flossmeter-strap": ("flossmeter", "flossmeter strap"),
    "witmotion": ("WitMotion", "WitMotion BLE IMU"),
    "movella-dot": ("Movella", "Movella DOT"),
}


# -- names -----------------------------------------------------------------------------------


def bids_label(text: str, what: str = "label") -> str:
    """``text`` as a BIDS label (letters and digits; other characters dropped, ``P-01`` →
    ``P01``); a text with no letter or digit raises :class:`CollectorError`."""
    label = "".join(LABEL.findall(str(text)))
    if not label:
        raise CollectorError(f"{what} {text!r} has no letters or digits to make a BIDS label of")
    return label


def parse_name(name: str) -> tuple[dict[str, str], str, str]:
    """A BIDS file name → ``(entities, suffix, extension)``, e.g.
    ``sub-1_task-x_tracksys-a_motion.tsv`` → ``({'sub': '1', 'task': 'x', 'tracksys': 'a'},
    'motion', '.tsv')``; parts that are not ``key-value`` are ignored."""
    stem, dot, ext = name.partition(".")
    parts = stem.split("_")
    suffix = parts[-1] if len(parts) > 1 or "-" not in parts[-1] else ""
    entities: dict[str, str] = {}
    for part in parts[:-1] if suffix else parts:
        key, sep, value = part.partition("-")
        if sep and value:
            entities[key] = value
    return entities, suffix, dot + ext


_ENTITY_ORDER = ("sub", "ses", "task", "tracksys", "acq", "run")


def _name(entities: Mapping[str, str], suffix: str, ext: str) -> str:
    """A file name from entities in the specification's order."""
    keys = [k for k in _ENTITY_ORDER if k in entities]
    keys += [k for k in entities if k not in _ENTITY_ORDER]
    return "_".join([*(f"{k}-{entities[k]}" for k in keys), suffix]) + ext


# -- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepEvents:
    """The analysed reps of a session for its events file (the collector does not analyse).

    ``table`` has one row per rep with ``start_s`` and ``end_s`` (session time, s) and any
    metric columns; ``columns`` describes each column for ``_events.json`` (``Description``,
    ``Units``, ``Levels`` ...; a column without ``Format`` or ``Levels`` gets the ``Format`` of
    its values: integer, number or string).
    """

    table: pd.DataFrame
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionExport:
    """What :func:`write_session` wrote: the labels and the files (relative to the root)."""

    subject: str
    session: str
    files: tuple[Path, ...]
    reps: int
    lost: dict[str, int]

    def __str__(self) -> str:
        lost = ", ".join(f"{n} {r}" for r, n in self.lost.items() if n)
        return (
            f"sub-{self.subject}/ses-{self.session}: {len(self.files)} files, {self.reps} reps"
            + (f", missing samples as n/a rows: {lost}" if lost else "")
        )


def _iso_utc(unix_s: float) -> str:
    """A unix time as a BIDS datetime in UTC with microseconds (``…T10:00:00.123456Z``)."""
    t = dt.datetime.fromtimestamp(unix_s, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise CollectorError(f"{path}: cannot write ({e.strerror or e})") from None


def _json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``n/a`` (JSON has no such numbers)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return NA
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(_json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False)
    _write_text(path, text + "\n")


def _write_tsv(path: Path, df: pd.DataFrame, header: bool = True) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, sep="\t", index=False, header=header, na_rep=NA, lineterminator="\n")
    except OSError as e:
        raise CollectorError(f"{path}: cannot write ({e.strerror or e})") from None


def sample_grid(sample_index: np.ndarray, time_s: np.ndarray, rate_hz: float) -> np.ndarray:
    """Row of each delivered sample on the strap's nominal grid: consecutive samples on
    consecutive rows, a counter jump of k + 1 leaves k empty rows (the lost samples). A jump the
    time between the two samples cannot hold (more than twice the samples ``rate_hz`` fits in,
    plus one) or a counter that stepped back is a restart, not a loss: no rows are left."""
    idx = np.asarray(sample_index, dtype=np.int64)
    if len(idx) < 2:
        return np.arange(len(idx), dtype=np.int64)
    step = np.diff(idx)
    fits = 2.0 * np.diff(np.asarray(time_s, dtype=float)) * rate_hz + 1.0
    lost = np.where((step > 1) & (step - 1 <= fits), step - 1, 0)
    return np.arange(len(idx), dtype=np.int64) + np.concatenate(([0], np.cumsum(lost)))


def _motion_table(df: pd.DataFrame, rate_hz: float) -> tuple[pd.DataFrame, int]:
    """One strap's ``_motion.tsv`` content (LATENCY, acc, gyro; n/a rows for lost samples) and
    the number of those rows."""
    import pandas as pd

    t = df["time_s"].to_numpy(dtype=float)
    rows = sample_grid(df["sample_index"].to_numpy(), t, rate_hz)
    n = int(rows[-1]) + 1 if len(rows) else 0
    latency = np.full(n, NA, dtype=object)
    latency[rows] = [f"{v:.6f}" for v in t]
    out = {"latency": latency}
    for col in SAMPLE_COLUMNS:
        values = np.full(n, np.nan, dtype=np.float32)
        # the recording keeps float32: written in float32's shortest form, read back exactly
        values[rows] = df[col].to_numpy(dtype=np.float32)
        out[col] = values
    return pd.DataFrame(out), n - len(rows)


def _channels(role: str) -> pd.DataFrame:
    """The ``_channels.tsv`` rows of one strap, in the motion file's column order."""
    import pandas as pd

    rows = [
        {
            "name": f"{role}_latency",
            "component": NA,
            "type": "LATENCY",
            "tracked_point": role,
            "units": "s",
            "placement": PLACEMENT[role],
            "reference_frame": NA,
            "description": "session time of the sample: seconds from the start of the session "
            "(acq_time in scans.tsv), the strap's clock mapped to the session's",
        }
    ]
    for cols, kind, units, what in (
        (_ACC_AXES, "ACCEL", "m/s^2", "specific force (gravity included)"),
        (_GYR_AXES, "GYRO", "deg/s", "angular rate"),
    ):
        for col in cols:
            axis = col[-1]
            rows.append(
                {
                    "name": f"{role}_{col}",
                    "component": axis,
                    "type": kind,
                    "tracked_point": role,
                    "units": units,
                    "placement": PLACEMENT[role],
                    "reference_frame": "sensor",
                    "description": f"{what} along the strap's {axis} axis",
                }
            )
    return pd.DataFrame(rows)


def nominal_rate_hz(rec: Recording, role: str) -> float:
    """The strap's configured rate (Hz), else its measured one, else its median step's."""
    for rate in (rec.sensors.get(role, {}).get("rate_hz"), rec.rate_hz(role)):
        if isinstance(rate, int | float) and math.isfinite(rate) and rate > 0:
            return float(rate)
    return median_rate_hz(rec.samples[role]["time_s"].to_numpy())


def _motion_json(rec: Recording, role: str, task: str) -> dict[str, Any]:
    info = rec.sensors.get(role, {})
    t = rec.samples[role]["time_s"]
    nominal = nominal_rate_hz(rec, role)
    effective = rec.rate_hz(role)
    maker, model = MANUFACTURERS.get(str(info.get("kind")), (NA, NA))
    out: dict[str, Any] = {
        "TaskName": task,
        "TaskDescription": TASK_DESCRIPTION,
        "TrackingSystemName": role,
        "SamplingFrequency": nominal,
        "SamplingFrequencyEffective": round(effective, 6) if math.isfinite(effective) else NA,
        "MotionChannelCount": 7,
        "ACCELChannelCount": 3,
        "GYROChannelCount": 3,
        "LATENCYChannelCount": 1,
        **dict.fromkeys(OTHER_CHANNEL_COUNTS, 0),
        "TrackedPointsCount": 1,
        "MissingValues": NA,
        "SubjectArtefactDescription": ARTEFACTS,
        "Manufacturer": maker,
        "ManufacturersModelName": str(info.get("name") or model),
        "SoftwareVersions": str(info.get("firmware") or NA),
        "RecordingDuration": round(float(t.iloc[-1] - t.iloc[0]), 6),
    }
    if info.get("address"):
        out["DeviceSerialNumber"] = str(info["address"])
    return out


def _events_table(rec: Recording, reps: RepEvents | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The events file's rows (reps, markers, symptom ratings) and its ``_events.json``."""
    import pandas as pd

    frames = []
    doc: dict[str, Any] = {
        "onset": {"Description": "session time of the start of the event: seconds from the "
                  "start of the session (acq_time in scans.tsv), the time base of LATENCY",
                  "Units": "s"},
        "duration": {"Description": "length of the event (0: a moment)", "Units": "s"},
        "trial_type": {
            "Description": "what the row is",
            "Levels": {
                "rep": "one repetition of the exercise, as flossmeter's analysis found it; its "
                "metrics are the columns below",
                "marker": "a marker set during the session (text in 'note')",
                "symptom": "a symptom rating 0-10 asked during a guided session",
            },
        },
    }  # fmt: skip
    if reps is not None and len(reps.table):
        table = reps.table.reset_index(drop=True)
        ev = pd.DataFrame(
            {
                "onset": table["start_s"],
                "duration": table["end_s"] - table["start_s"],
                "trial_type": "rep",
            }
        )
        for col in table.columns:
            if col in ("start_s", "end_s"):
                continue
            ev[col] = table[col]
            doc[col] = dict(reps.columns.get(col, {}))
            if "Format" not in doc[col] and "Levels" not in doc[col]:
                kind = table[col].dtype.kind
                doc[col]["Format"] = {"i": "integer", "u": "integer", "f": "number"}.get(
                    kind, "string"
                )
        frames.append(ev)
    marks = []
    for _, e in rec.events.iterrows():
        detail = e["detail"] if isinstance(e["detail"], dict) else {}
        if e["kind"] == "marker":
            marks.append((e["time_s"], "marker", str(detail.get("text", "")), np.nan))
        elif e["kind"] == "symptom":
            marks.append((e["time_s"], "symptom", NA, detail.get("rating", np.nan)))
    if marks:
        m = pd.DataFrame(marks, columns=["time_s", "trial_type", "note", "symptom_rating"])
        frames.append(
            pd.DataFrame(
                {
                    "onset": m["time_s"],
                    "duration": 0.0,
                    "trial_type": m["trial_type"],
                    "note": m["note"].replace("", NA),
                    "symptom_rating": pd.to_numeric(m["symptom_rating"], errors="coerce"),
                }
            )
        )
        doc["note"] = {"Description": "the marker's text", "Format": "string"}
        doc["symptom_rating"] = {
            "Description": "symptom rating, 0 none to 10 worst",
            "Format": "number",
            "Minimum": 0,
            "Maximum": 10,
        }
    if not frames:
        return pd.DataFrame(columns=["onset", "duration", "trial_type"]), doc
    events = pd.concat(frames, ignore_index=True)
    events = events.sort_values("onset", kind="stable").reset_index(drop=True)
    return events, doc


def _format_events(events: pd.DataFrame) -> pd.DataFrame:
    """Times with µs, other numbers with 6 significant digits, empty text as n/a."""
    out = events.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype.kind == "f":
            fmt = "{:.6f}" if col in ("onset", "duration") else "{:.6g}"
            out[col] = s.map(lambda v, f=fmt: f.format(v) if v == v else NA)
        elif s.dtype.kind in "OSU" or str(s.dtype) in ("string", "str"):
            out[col] = s.map(lambda v: NA if v is None or v != v or v == "" else v)
    return out


def _dataset_files(root: Path, name: str) -> None:
    """``dataset_description.json`` and ``README`` of a new dataset (an existing one is kept)."""
    if not (root / "dataset_description.json").exists():
        _write_json(
            root / "dataset_description.json",
            {
                "Name": name,
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "raw",
                "GeneratedBy": [
                    {
                        "Name": "flossmeter",
                        "Version": APP_VERSION,
                        "Description": "export of flossmeter session recordings to BIDS-Motion",
                    }
                ],
            },
        )
    if not (root / "README").exists():
        _write_text(
            root / "README",
            f"# {name}\n\n{TASK_DESCRIPTION}\n\n"
            "Each strap is its own tracking system (tracksys-shin, tracksys-head): its own "
            "device, clock and sample count. The motion files hold a LATENCY channel (session "
            "time: seconds from the session's start, the acq_time in scans.tsv; the same time "
            "base as the events' onsets) and the strap's accelerometer (m/s^2, "
            "gravity included) and gyroscope (deg/s) in the strap's own axes; a row of n/a is "
            "a sample the strap counted but never delivered. The events files list the reps "
            "found by flossmeter's analysis with their metrics (described in _events.json), "
            "and markers and symptom ratings made during the session.\n\n"
            f"Written by flossmeter {APP_VERSION}.\n",
        )


def _update_table(path: Path, key: str, row: Mapping[str, Any]) -> None:
    """Add (or replace) the row whose ``key`` column equals ``row[key]`` in a TSV table."""
    import pandas as pd

    if path.exists():
        table = _read_tsv_table(path)
        table = table[table[key] != row[key]]
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    else:
        table = pd.DataFrame([row])
    table = table.sort_values(key, kind="stable").fillna(NA)
    _write_tsv(path, table)


def next_session_label(root: str | os.PathLike[str], subject: str) -> str:
    """The first two-digit session label (``01``, ``02`` ...) not yet used by ``subject``."""
    base = Path(root) / f"sub-{subject}"
    n = 1
    while (base / f"ses-{n:02d}").exists():
        n += 1
    return f"{n:02d}"


def write_session(
    rec: Recording,
    root: str | os.PathLike[str],
    subject: str,
    session: str | None = None,
    *,
    task: str = TASK,
    reps: RepEvents | None = None,
    dataset_name: str = "flossmeter sessions",
) -> SessionExport:
    """Write ``rec`` as session ``ses-<session>`` of ``sub-<subject>`` in the BIDS dataset at
    ``root`` (created if missing; the session must be new), with ``reps`` as events.

    Adds the participant to ``participants.tsv``, the session to ``sub-<S>_sessions.tsv`` and
    its motion files with their ``acq_time`` to the session's ``scans.tsv``. ``session`` None:
    the next free number. Raises :class:`CollectorError` (one line) on a bad label, a session
    that exists, or a file it cannot write.
    """
    root = Path(root)
    subject = bids_label(subject, "subject")
    task = bids_label(task, "task")
    if root.exists() and not root.is_dir():
        raise CollectorError(f"{root}: not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / "dataset_description.json").exists():
        raise CollectorError(
            f"{root}: a folder that is not a BIDS dataset (no dataset_description.json); "
            "choose a new or empty folder"
        )
    session = next_session_label(root, subject) if session is None else bids_label(session)
    ses_dir = root / f"sub-{subject}" / f"ses-{session}"
    if ses_dir.exists():
        raise CollectorError(f"{ses_dir}: this session exists already in the dataset")
    roles = [r for r in ROLES if r in rec.samples and len(rec.samples[r])]
    if "shin" not in roles:
        raise CollectorError(f"{rec.name}: no shin samples to export")
    start_unix = rec.meta.get("start_unix")
    start_unix = float(start_unix) if isinstance(start_unix, int | float) else None
    if start_unix is not None:
        _check_not_exported(root, subject, rec, start_unix)

    _dataset_files(root, dataset_name)
    base = {"sub": subject, "ses": session, "task": task}
    # written beside, then moved into place: a failed export leaves no half session behind
    tmp = ses_dir.with_name(f".ses-{session}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        files, lost = _write_session_files(rec, tmp, roles, base, reps, start_unix)
        os.replace(tmp, ses_dir)
    except OSError as e:
        raise CollectorError(f"{ses_dir}: cannot write ({e.strerror or e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    session_acq = _iso_utc(start_unix) if start_unix is not None else NA
    _update_table(
        root / f"sub-{subject}" / f"sub-{subject}_sessions.tsv",
        "session_id",
        {"session_id": f"ses-{session}", "acq_time": session_acq},
    )
    _update_table(root / "participants.tsv", "participant_id", {"participant_id": f"sub-{subject}"})
    n_reps = 0 if reps is None else len(reps.table)
    rel = tuple(ses_dir.relative_to(root) / f for f in files)
    return SessionExport(subject, session, rel, n_reps, lost)


def _write_session_files(
    rec: Recording,
    ses_dir: Path,
    roles: list[Role],
    base: dict[str, str],
    reps: RepEvents | None,
    start_unix: float | None,
) -> tuple[list[Path], dict[str, int]]:
    """The files of one session under ``ses_dir``: per strap motion, sidecar and channels;
    the events; the scans table. Returns the files (relative to ``ses_dir``) and the samples
    written as n/a rows per strap."""
    import pandas as pd

    motion_dir = ses_dir / "motion"
    files: list[Path] = []
    scans = []
    lost: dict[str, int] = {}
    for role in roles:
        df = rec.samples[role]
        ent = base | {"tracksys": role}
        table, lost[role] = _motion_table(df, nominal_rate_hz(rec, role))
        names = {
            (s, e): _name(ent, s, e) for s in ("motion", "channels") for e in (".tsv", ".json")
        }
        _write_tsv(motion_dir / names["motion", ".tsv"], table, header=False)
        _write_json(motion_dir / names["motion", ".json"], _motion_json(rec, role, base["task"]))
        _write_tsv(motion_dir / names["channels", ".tsv"], _channels(role))
        _write_json(
            motion_dir / names["channels", ".json"],
            {"reference_frame": {"Levels": {"sensor": REFERENCE_FRAME}}},
        )
        files += [Path("motion") / n for n in names.values()]
        # one time base for the session: LATENCY and onsets are session time from acq_time
        acq = _iso_utc(start_unix) if start_unix is not None else NA
        scans.append({"filename": f"motion/{names['motion', '.tsv']}", "acq_time": acq})
    events, doc = _events_table(rec, reps)
    # no tracksys entity: the events belong to every tracking system (one time base)
    _write_tsv(motion_dir / _name(base, "events", ".tsv"), _format_events(events))
    _write_json(motion_dir / _name(base, "events", ".json"), doc)
    files += [Path("motion") / _name(base, "events", e) for e in (".tsv", ".json")]
    scans_name = f"sub-{base['sub']}_ses-{base['ses']}_scans.tsv"
    _write_tsv(ses_dir / scans_name, pd.DataFrame(scans))
    files.append(Path(scans_name))
    return files, lost


def _check_not_exported(root: Path, subject: str, rec: Recording, start_unix: float) -> None:
    """A recording already in the dataset (same subject, same start to the µs) is refused."""
    sessions = root / f"sub-{subject}" / f"sub-{subject}_sessions.tsv"
    if not sessions.exists():
        return
    table = _read_tsv_table(sessions)
    if "acq_time" not in table or "session_id" not in table:
        return
    same = table[table["acq_time"] == _iso_utc(start_unix)]
    if len(same):
        raise CollectorError(
            f"{rec.name}: already in the dataset as sub-{subject}/{same['session_id'].iloc[0]}"
        )


# -- reading ---------------------------------------------------------------------------------


def _read_tsv_table(path: Path) -> pd.DataFrame:
    """A TSV table with a header, every cell as text (``n/a`` kept as text)."""
    import pandas as pd

    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise CollectorError(f"{path}: unreadable table ({last_line(e)})") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise CollectorError(f"{path}: cannot read ({last_line(e)})") from None
    except json.JSONDecodeError as e:
        raise CollectorError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(obj, dict):
        raise CollectorError(f"{path}: not a JSON object")
    return obj


def dataset_root(path: Path) -> Path | None:
    """The folder holding ``dataset_description.json`` above ``path`` (None: not in a dataset)."""
    for parent in [path.parent, *path.parent.parents][:5]:
        if (parent / "dataset_description.json").is_file():
            return parent
    return None


def _sidecar(data: Path, suffix: str, ext: str, root: Path | None) -> dict[str, Any]:
    """The metadata of ``data`` from ``<…>_<suffix><ext>`` files by BIDS inheritance: every such
    file from the dataset root down to the data's folder whose entities all match, the nearer
    (and the more specific) overriding."""
    ent, _, _ = parse_name(data.name)
    folders = [data.parent]
    if root is not None:
        p = data.parent
        while p != root and root in p.parents:
            p = p.parent
            folders.append(p)
    found: list[tuple[int, int, Path]] = []
    for depth, folder in enumerate(reversed(folders)):
        for f in folder.glob(f"*_{suffix}{ext}"):
            e, s, x = parse_name(f.name)
            if s == suffix and x == ext and all(ent.get(k) == v for k, v in e.items()):
                found.append((depth, len(e), f))
    meta: dict[str, Any] = {}
    for _, _, f in sorted(found):
        meta.update(_read_json(f))
    return meta


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sniff_motion_tsv(head: bytes) -> bool:
    """Text whose first line is tab-separated numbers (or ``n/a``): a headerless motion TSV."""
    if b"\x00" in head or b"\t" not in head:
        return False
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    fields = first.split("\t")
    return len(fields) >= 2 and all(
        f.strip() in (NA, "NaN", "nan") or _is_number(f) for f in fields
    )


@dataclass
class _System:
    """One tracking system of a session: its motion file, channels, sidecar, onset."""

    path: Path
    label: str
    channels: pd.DataFrame
    meta: dict[str, Any]
    acq_unix: float | None = None
    data: np.ndarray | None = None  # rows × channels, NaN where missing


#: Accepted spellings of each unit (lower case, spaces removed) → factor to ours.
ACC_UNITS = {
    **dict.fromkeys(("m/s^2", "m/s2", "m/s²", "ms^-2", "ms-2", "m*s^-2", "m.s^-2", "m/s/s"), 1.0),
    **dict.fromkeys(("g", "g0", "gn"), STANDARD_GRAVITY_MPS2),
    "mg": STANDARD_GRAVITY_MPS2 / 1000.0,
}
GYRO_UNITS = {
    **dict.fromkeys(("deg/s", "°/s", "dps", "degs^-1", "deg*s^-1", "deg.s^-1", "degree/s",
                     "degrees/s"), 1.0),
    **dict.fromkeys(("rad/s", "rads^-1", "rad*s^-1", "rad.s^-1", "radian/s", "radians/s"),
                    180.0 / math.pi),
}  # fmt: skip
LATENCY_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3}

#: Words in a tracked point / placement / tracking-system name that say which strap it is.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "shin": ("shin", "shank", "tibia", "lowerleg", "calf", "crus"),
    "head": ("head", "forehead", "skull", "cranium"),
}


def role_of(name: str) -> Role | None:
    """The strap a body-part name means (``LeftShank`` → shin, ``Forehead`` → head), or None."""
    key = re.sub(r"[^a-z]", "", name.lower())
    hits = [r for r, words in ROLE_WORDS.items() if any(w in key for w in words)]
    return hits[0] if len(hits) == 1 else None  # type: ignore[return-value]


def session_siblings(path: Path) -> list[Path]:
    """Every ``*_motion.tsv`` beside ``path`` of the same session (same entities but
    ``tracksys``), ``path`` first."""
    ent, _, _ = parse_name(path.name)
    key = {k: v for k, v in ent.items() if k != "tracksys"}
    out = [path]
    for f in sorted(path.parent.glob("*_motion.tsv")):
        e, s, _ = parse_name(f.name)
        if f != path and s == "motion" and {k: v for k, v in e.items() if k != "tracksys"} == key:
            out.append(f)
    return out


def session_key(path: Path) -> tuple[str, str]:
    """What identifies the session of a motion file: its folder and entities but ``tracksys``."""
    ent, _, _ = parse_name(path.name)
    rest = "_".join(f"{k}-{v}" for k, v in ent.items() if k != "tracksys")
    return str(path.resolve().parent), rest


def one_per_session(paths: Iterable[Path]) -> list[Path]:
    """``paths`` with one ``*_motion.tsv`` per session (the shin's where there is a choice: it
    names the session in tables), order kept; other files pass through."""
    chosen: dict[Any, Path] = {}
    for f in paths:
        _, suffix, ext = parse_name(f.name)
        key = session_key(f) if (suffix, ext) == ("motion", ".tsv") else f
        if key not in chosen or parse_name(f.name)[0].get("tracksys") == "shin":
            chosen[key] = f
    return list(chosen.values())


def motion_files(folder: str | os.PathLike[str]) -> list[Path]:
    """One ``*_motion.tsv`` per session in a BIDS dataset (or any folder below one), sorted."""
    return sorted(one_per_session(sorted(Path(folder).rglob("*_motion.tsv"))))


def _scans_acq_times(path: Path) -> dict[str, float]:
    """``acq_time`` (unix s) of each file listed in the scans files above ``path``, by file
    name; times without an offset are taken as UTC."""
    out: dict[str, float] = {}
    # the session's (or subject's) scans file sits above the datatype folder
    for folder in dict.fromkeys((path.parent.parent, path.parent)):
        for scans in folder.glob("*_scans.tsv"):
            table = _read_tsv_table(scans)
            if "filename" not in table or "acq_time" not in table:
                continue
            for name, acq in zip(table["filename"], table["acq_time"], strict=True):
                t = _parse_datetime(acq)
                if t is not None:
                    out.setdefault(Path(name).name, t)
    return out


def _parse_datetime(text: str) -> float | None:
    if not text or text == NA:
        return None
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _read_system(path: Path, root: Path | None) -> _System:
    ent, _, _ = parse_name(path.name)
    chan_path = path.with_name(path.name.removesuffix("_motion.tsv") + "_channels.tsv")
    if not chan_path.is_file():
        raise CollectorError(f"{path}: no channels file beside it ({chan_path.name})")
    channels = _read_tsv_table(chan_path)
    for col in ("name", "type"):
        if col not in channels:
            raise CollectorError(f"{chan_path}: no '{col}' column (BIDS requires it)")
    channels["type"] = channels["type"].str.strip().str.upper()
    for col in ("component", "tracked_point", "units", "placement"):
        if col not in channels:
            channels[col] = NA
    meta = _sidecar(path, "motion", ".json", root)
    return _System(path, ent.get("tracksys", ""), channels, meta)


def _read_matrix(system: _System) -> np.ndarray:
    """The motion file as numbers (rows × channels, NaN for ``n/a``), checked against its
    channels file; one-line errors name the line."""
    import pandas as pd

    p = system.path
    n_ch = len(system.channels)
    with reading(p), open(p, encoding="utf-8") as f:
        first = f.readline()
    if not first.strip():
        raise CollectorError(f"{p}: empty motion file")
    cells = first.rstrip("\r\n").split("\t")
    if not all(c.strip() in (NA, "NaN", "nan") or _is_number(c) for c in cells):
        raise CollectorError(
            f"{p}: line 1 is not numbers (a header row? BIDS motion files have none; channel "
            "names are in the _channels.tsv)"
        )
    if len(cells) != n_ch:
        raise CollectorError(
            f"{p}: {len(cells)} columns, but its channels file lists {n_ch} channels"
        )
    fast = _read_numbers(p, n_ch)
    if fast is not None:
        return fast
    # something is wrong: read it as text to say where
    try:
        df = pd.read_csv(p, sep="\t", header=None, dtype=str, keep_default_na=False, engine="c")
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        where = f"line {m.group(2)}: {m.group(3)} columns, expected {m.group(1)}" if m else ""
        raise CollectorError(f"{p}: {where or 'unreadable (' + last_line(e) + ')'}") from None
    text = df.to_numpy(dtype=object)
    empty = np.argwhere(text == "")  # pandas pads a short line with empty cells
    if len(empty):
        r, c = empty[0]
        name = system.channels["name"].iloc[c]
        raise CollectorError(
            f"{p}: line {r + 1}: no value for {name} (a short line or an empty cell; a missing "
            "value is n/a)"
        )
    missing = np.isin(text, (NA, "NaN", "nan"))
    values = pd.to_numeric(pd.Series(np.where(missing, "nan", text).ravel()), errors="coerce")
    data = values.to_numpy(dtype=float).reshape(text.shape)
    bad = np.argwhere(np.isnan(data) & ~missing)
    if len(bad):
        r, c = bad[0]
        name = system.channels["name"].iloc[c]
        raise CollectorError(f"{p}: line {r + 1}: {name} is {text[r, c]!r}, not a number")
    return data


def _read_numbers(p: Path, n_ch: int) -> np.ndarray | None:
    """The motion file as numbers when it is well formed (every line ``n_ch`` non-empty
    fields, all numbers or n/a), fast; None otherwise (the caller finds the fault)."""
    import pandas as pd

    raw = p.read_bytes()
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    empty_field = any(x in raw for x in (b"\t\t", b"\t\n", b"\n\t", b"\t\r")) or raw[:1] == b"\t"
    if raw.count(b"\t") != lines * (n_ch - 1) or empty_field:
        return None  # a short or long line, or an empty cell
    try:
        df = pd.read_csv(
            p, sep="\t", header=None, dtype=np.float64, na_values=[NA, "NaN", "nan"],
            keep_default_na=False,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError):
        return None
    return df.to_numpy() if df.shape == (lines, n_ch) else None


@dataclass(frozen=True)
class _Source:
    """Where one strap's samples are: a tracking system and its six channel columns."""

    system: _System
    point: str
    columns: tuple[int, ...]  # acc x, y, z, gyro x, y, z
    factors: tuple[float, ...]


def _unit_factor(units: dict[str, float], text: str, where: str) -> float:
    key = re.sub(r"\s", "", str(text)).lower()
    if key not in units:
        raise CollectorError(
            f"{where}: unit {text!r} not understood (expected one of "
            f"{', '.join(sorted(set(list(units)[:3])))}, …)"
        )
    return units[key]


def _candidates(system: _System) -> dict[str, _Source]:
    """The tracked points of one system with three ACCEL and three GYRO axes, by name."""
    ch = system.channels
    out: dict[str, _Source] = {}
    chan_file = system.path.with_name(
        system.path.name.removesuffix("_motion.tsv") + "_channels.tsv"
    )
    for point in dict.fromkeys(ch["tracked_point"]):
        cols: list[int] = []
        factors: list[float] = []
        for kind, units in (("ACCEL", ACC_UNITS), ("GYRO", GYRO_UNITS)):
            rows = ch.index[(ch["tracked_point"] == point) & (ch["type"] == kind)]
            for axis in "xyz":
                hit = [i for i in rows if _axis(ch, i) == axis]
                if len(hit) != 1:
                    break
                i = hit[0]
                cols.append(int(ch.index.get_loc(i)))
                where = f"{chan_file}: {ch['name'][i]}"
                factors.append(_unit_factor(units, ch["units"][i], where))
        if len(cols) == 6:
            out[str(point)] = _Source(system, str(point), tuple(cols), tuple(factors))
    return out


def _axis(ch: pd.DataFrame, i: Any) -> str:
    """A channel's axis: its ``component``, else the last letter of its name (``acc_x``)."""
    comp = str(ch["component"][i]).strip().lower()
    if comp in ("x", "y", "z"):
        return comp
    m = re.search(r"[_\-. ]?([xyz])$", str(ch["name"][i]).lower())
    return m.group(1) if m else ""


def _assign_roles(
    systems: list[_System], role_map: Mapping[str, Role] | None, path: Path
) -> dict[Role, _Source]:
    """Which tracked point is which strap: by the map (tracked point or tracking-system name),
    else by name (tracked point, placement, tracking system)."""
    options: list[_Source] = [s for sys_ in systems for s in _candidates(sys_).values()]
    if not options:
        raise CollectorError(
            f"{path}: no tracked point with three ACCEL and three GYRO channels (x, y, z) in "
            "its channels file(s)"
        )
    by_role: dict[Role, list[_Source]] = {}
    for src in options:
        role = None
        if role_map is not None:
            role = role_map.get(src.point.lower()) or role_map.get(src.system.label.lower())
        else:
            ch = src.system.channels
            placement = ch.loc[ch["tracked_point"] == src.point, "placement"]
            for name in (src.point, placement.iloc[0] if len(placement) else "", src.system.label):
                role = role_of(str(name))
                if role is not None:
                    break
        if role is not None:
            by_role.setdefault(role, []).append(src)
    names = ", ".join(sorted({s.point for s in options}))
    for role, srcs in by_role.items():
        if len(srcs) > 1:
            points = ", ".join(s.point for s in srcs)
            raise CollectorError(
                f"{path}: several tracked points could be the {role} strap ({points}); choose "
                f"with --map, e.g. --map {role}={srcs[0].point}"
            )
    if "shin" not in by_role:
        how = "the --map given names none" if role_map is not None else "none is named like one"
        raise CollectorError(
            f"{path}: no shin strap among the tracked points ({names}): {how}; say which is the "
            "shin with --map shin=NAME[,head=NAME]"
        )
    return {r: by_role[r][0] for r in ROLES if r in by_role}


def _times(system: _System, data: np.ndarray) -> np.ndarray:
    """Each row's time from the file's onset, s: its LATENCY channel, else row / rate."""
    ch = system.channels
    lat = ch.index[ch["type"] == "LATENCY"]
    if len(lat):
        i = ch.index.get_loc(lat[0])
        where = f"{system.path}: {ch['name'][lat[0]]}"
        return data[:, i] * _unit_factor(LATENCY_UNITS, ch["units"][lat[0]], where)
    rate = system.meta.get("SamplingFrequencyEffective")
    if not isinstance(rate, int | float) or not rate > 0:
        rate = system.meta.get("SamplingFrequency")
    if not isinstance(rate, int | float) or not rate > 0:
        raise CollectorError(
            f"{system.path}: no LATENCY channel and no SamplingFrequency in its _motion.json, "
            "so the samples have no times"
        )
    return np.arange(len(data)) / float(rate)


def read_motion(path: str | os.PathLike[str], roles: Mapping[str, str] | None = None) -> Recording:
    """Read the session of a BIDS-Motion file ``…_motion.tsv`` (with its other tracking systems,
    channels, sidecars, scans and events) into a :class:`Recording`; ``roles`` names which
    tracked point (or tracking system) is which strap (role → name, matched without case). A
    bad or incomplete dataset raises :class:`CollectorError` with a one-line message."""
    role_map: dict[str, Role] | None = None
    if roles:
        role_map = {name.lower(): role for role, name in roles.items()}  # type: ignore[misc]

    p = Path(path)
    if not p.is_file():
        raise CollectorError(f"{p}: no such file")
    ent, suffix, ext = parse_name(p.name)
    if suffix != "motion" or ext != ".tsv":
        raise CollectorError(
            f"{p}: not a BIDS-Motion data file (its name must end in _motion.tsv, e.g. "
            "sub-01_task-floss_tracksys-shin_motion.tsv)"
        )
    root = dataset_root(p)
    systems = [_read_system(f, root) for f in session_siblings(p)]
    sources = _assign_roles(systems, role_map, p)
    acq = _scans_acq_times(p)
    used = {id(s.system): s.system for s in sources.values()}
    for system in used.values():
        system.data = _read_matrix(system)
        system.acq_unix = acq.get(system.path.name)
    known = [s.acq_unix for s in used.values() if s.acq_unix is not None]
    start = min(known) if len(known) == len(used) else None
    samples: dict[Role, pd.DataFrame] = {}
    sensors: dict[Role, dict[str, Any]] = {}
    for role, src in sources.items():
        sys_ = src.system
        assert sys_.data is not None
        offset = sys_.acq_unix - start if start is not None and sys_.acq_unix is not None else 0.0
        samples[role] = _role_frame(src, _times(sys_, sys_.data) + offset, role)
        rate = sys_.meta.get("SamplingFrequency")
        sensors[role] = {
            "role": role,
            "kind": "bids-motion",
            "rate_hz": float(rate) if isinstance(rate, int | float) else float("nan"),
            "name": str(sys_.meta.get("TrackingSystemName") or sys_.label),
            "tracked_point": src.point,
            "manufacturer": str(sys_.meta.get("Manufacturer", "")),
            "file": sys_.path.name,
        }
    ref = sources["shin"].system
    events = _read_events(p, ref, used.values(), start)
    meta = {
        "format": "bids-motion",
        "source_file": str(p),
        "participant": ent.get("sub", ""),
        "bids": {k: v for k, v in ent.items() if k != "tracksys"},
    }
    task = ref.meta.get("TaskName")
    if task:
        meta["task"] = str(task)
    if start is not None:
        meta["start_unix"] = start
        meta["created_utc"] = _iso_utc(start)[:19] + "Z"
    return Recording(p, meta, sensors, samples, events)


def _role_frame(src: _Source, t: np.ndarray, role: str) -> pd.DataFrame:
    """One strap's sample table: delivered rows only (a row with any of the six channels
    missing is a lost sample), sample index = row on the file's grid."""
    import pandas as pd

    data = src.system.data
    assert data is not None
    six = data[:, list(src.columns)] * np.asarray(src.factors)
    keep = ~np.isnan(six).any(axis=1)
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise CollectorError(f"{src.system.path}: the {src.point} channels hold no samples")
    t = t[rows]
    if np.isnan(t).any():
        r = int(rows[np.flatnonzero(np.isnan(t))[0]])
        raise CollectorError(f"{src.system.path}: line {r + 1}: a sample without a LATENCY")
    if (k := first_step_back(t)) is not None:
        raise CollectorError(
            f"{src.system.path}: line {rows[k] + 1}: time {t[k]:g} s does not come after "
            f"the previous sample's ({t[k - 1]:g} s)"
        )
    # float32 like every other reader: the values written from a recording come back exactly
    vals = six[rows].astype(np.float32).astype(np.float64)
    frame = {"time_s": t, "device_time_s": t.copy(), "sample_index": rows.astype(np.int64)}
    frame |= {c: vals[:, k] for k, c in enumerate(SAMPLE_COLUMNS)}
    if role == "shin" and np.nanmedian(np.linalg.norm(vals[:, :3], axis=1)) < 3.0:
        log.warning(
            "%s: the %s acceleration has no gravity in it (median |a| < 3 m/s^2); the "
            "analysis needs the sensor-frame specific force (not 'free acceleration')",
            src.system.path.name,
            src.point,
        )
    return pd.DataFrame(frame)


def _read_events(
    path: Path, ref: _System, systems: Iterable[_System], start: float | None
) -> pd.DataFrame:
    """The session's events as recording events (markers, symptom ratings, other trial types
    as markers); reps are not imported (the analysis finds them again)."""
    import pandas as pd

    ent, _, _ = parse_name(path.name)
    key = {k: v for k, v in ent.items() if k != "tracksys"}
    by_label = {s.label: s for s in systems}
    rows = []
    for f in sorted(path.parent.glob("*_events.tsv")):
        e, s, _ = parse_name(f.name)
        if s != "events" or {k: v for k, v in e.items() if k != "tracksys"} != key:
            continue
        base = by_label.get(e.get("tracksys", ""), ref)
        offset = base.acq_unix - start if start is not None and base.acq_unix is not None else 0.0
        table = _read_tsv_table(f)
        if "onset" not in table:
            raise CollectorError(f"{f}: no 'onset' column (BIDS requires it)")
        onset = pd.to_numeric(table["onset"], errors="coerce")
        kind = table["trial_type"] if "trial_type" in table else pd.Series(NA, index=table.index)
        for i in range(len(table)):
            if not np.isfinite(onset[i]) or kind[i] == "rep":
                continue
            t = float(onset[i]) + offset
            if kind[i] == "symptom" and "symptom_rating" in table:
                rating = pd.to_numeric(table["symptom_rating"][i], errors="coerce")
                rows.append((t, None, "symptom", {"rating": float(rating)}))
            else:
                text = table["note"][i] if "note" in table and table["note"][i] != NA else ""
                text = text or (kind[i] if kind[i] != NA else "event")
                rows.append((t, None, "marker", {"text": text}))
    rows.sort(key=lambda r: r[0])
    return pd.DataFrame(rows, columns=["time_s", "sensor", "kind", "detail"])
