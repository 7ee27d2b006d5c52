"""Session recordings: one SQLite file per session, append-only, crash-safe, self-describing.

The format is specified in ``docs/recording-format.md``. In short: tables ``meta`` (JSON values),
``sensors`` (one JSON description per strap), ``blocks`` (one row per batch of samples from one
strap: arrays as little-endian BLOBs, plus the raw device packets) and ``events``. While
recording the database is in WAL mode and a transaction is committed at least every
``commit_interval_s``; a killed process loses only the uncommitted tail. A clean close switches
the file back to a single-file rollback journal, so a finished recording is exactly one file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from collector.errors import CollectorError
from collector.gaps import find_gaps, measured_rate_hz
from collector.model import ROLES, ResourceBase, Role, SampleBlock, SensorInfo, SourceEvent

if TYPE_CHECKING:
    import pandas as pd

    from collector.exercise import GroundTruth

log = logging.getLogger(__name__)

FORMAT_NAME = "flossmeter-recording"
FORMAT_VERSION = 1
APPLICATION_ID = 0x464C4F53  # "FLOS": tells our files from any other SQLite database
SUFFIX = ".flossrec"
APP_VERSION = "0.1.0"
SAMPLE_COLUMNS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sensors (role TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    n INTEGER NOT NULL,
    t_first_s REAL NOT NULL,
    t_last_s REAL NOT NULL,
    time_s BLOB NOT NULL,
    device_time_s BLOB NOT NULL,
    sample_index BLOB NOT NULL,
    acc_mps2 BLOB NOT NULL,
    gyro_dps BLOB NOT NULL,
    packet_n BLOB NOT NULL,
    arrival_s BLOB NOT NULL,
    raw BLOB,
    raw_sizes BLOB,
    raw_format TEXT
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    time_s REAL NOT NULL,
    sensor TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""
_INSERT_BLOCK = (
    "INSERT INTO blocks (sensor, n, t_first_s, t_last_s, time_s, device_time_s, sample_index,"
    " acc_mps2, gyro_dps, packet_n, arrival_s, raw, raw_sizes, raw_format)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_EVENT = "INSERT INTO events (time_s, sensor, kind, detail) VALUES (?,?,?,?)"


def _json(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot store {type(o).__name__} in recording metadata")

    return json.dumps(value, default=default, allow_nan=True)


class Recorder(ResourceBase):
    """Write one session to ``path``. A sink: feed it blocks and events, close it at the end.

    Use as ``with Recorder(path, sensors, metadata) as rec: rec.on_block(b) ...``. Data are
    committed at least every ``commit_interval_s`` (on the next write or :meth:`tick`), so a
    crash loses at most that much plus the time to the next call.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensors: dict[Role, SensorInfo] | Iterable[SensorInfo] = (),
        metadata: dict[str, Any] | None = None,
        *,
        commit_interval_s: float = 0.2,
        overwrite: bool = False,
        start_unix: float | None = None,
    ) -> None:
        self.path = Path(path)
        infos = sensors.values() if isinstance(sensors, dict) else sensors
        self._sensors = {info.role: info for info in infos}
        self._metadata = dict(metadata or {})
        self.commit_interval_s = commit_interval_s
        self.overwrite = overwrite
        self.start_unix = time.time() if start_unix is None else start_unix
        self._db: sqlite3.Connection | None = None
        self._blocks: list[SampleBlock] = []
        self._events: list[tuple[Any, ...]] = []
        self._last_commit = 0.0
        self.samples_written = 0
        self.last_time_s = 0.0

    # -- life cycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Create the file (atomically: it appears complete with its header, or not at all)."""
        if self.path.exists() and not self.overwrite:
            raise CollectorError(f"{self.path}: already exists (choose another name or overwrite)")
        if not self.path.parent.is_dir():
            raise CollectorError(f"{self.path}: folder {self.path.parent} does not exist")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            db = sqlite3.connect(tmp)
            with db:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            meta = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "app": "flossmeter",
                "app_version": APP_VERSION,
                "start_unix": self.start_unix,
                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.start_unix)),
                **self._metadata,
            }
            with db:
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [(k, _json(v)) for k, v in meta.items()]
                )
                db.executemany(
                    "INSERT INTO sensors VALUES (?, ?)",
                    [(r, _json(asdict(i))) for r, i in self._sensors.items()],
                )
            db.close()
            if self.path.exists():
                self.path.unlink()
            os.replace(tmp, self.path)
        except (OSError, sqlite3.Error) as e:
            tmp.unlink(missing_ok=True)
            raise CollectorError(f"{self.path}: cannot create recording ({e})") from None
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit is in the WAL file (OS cache) when it returns; survives a killed
        # process, and an OS crash loses at most the last commits, never the file.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN")
        self._last_commit = time.monotonic()

    def close(self) -> None:
        """Commit everything, mark the file closed cleanly and fold the WAL back into it."""
        if self._db is None:
            return
        db, self._db = self._db, None
        try:
            self._flush(db)
            end = time.time()
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("closed_cleanly", _json(True)),
                    ("end_unix", _json(end)),
                    ("duration_s", _json(self.last_time_s)),
                ],
            )
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode=DELETE")
        finally:
            db.close()

    # -- writing -----------------------------------------------------------------------------

    def add_sensor(self, info: SensorInfo) -> None:
        """Describe a strap (again): e.g. when it connects after the recording started."""
        self._sensors[info.role] = info
        self._require().execute(
            "INSERT OR REPLACE INTO sensors VALUES (?, ?)", (info.role, _json(asdict(info)))
        )

    def set_meta(self, key: str, value: Any) -> None:
        """Store (or replace) one metadata item."""
        self._require().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _json(value)))

    def on_block(self, block: SampleBlock) -> None:
        """Append one block of samples (a :class:`~collector.hub.Sink` method)."""
        self._require()
        n = len(block)
        if n == 0:
            return
        self._blocks.append(block)
        self.samples_written += n
        self.last_time_s = max(self.last_time_s, float(block.time_s[-1]))
        self.tick()

    def on_event(self, event: SourceEvent) -> None:
        """Append one event (a :class:`~collector.hub.Sink` method)."""
        self._require()
        self._events.append((event.time_s, event.sensor, event.kind, _json(event.detail)))
        self.tick()

    def tick(self) -> None:
        """Commit if the oldest uncommitted data is older than ``commit_interval_s``."""
        if self._db is not None and time.monotonic() - self._last_commit >= self.commit_interval_s:
            self._flush(self._db)
            self._db.execute("BEGIN")

    def flush(self) -> None:
        """Commit now."""
        if self._db is not None:
            self._flush(self._db)
            self._db.execute("BEGIN")

    def _flush(self, db: sqlite3.Connection) -> None:
        if self._blocks:
            db.executemany(_INSERT_BLOCK, _rows(self._blocks))
            self._blocks.clear()
        if self._events:
            db.executemany(_INSERT_EVENT, self._events)
            self._events.clear()
        if db.in_transaction:
            db.execute("COMMIT")
        self._last_commit = time.monotonic()

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise CollectorError(f"{self.path}: recorder is not open")
        return self._db


def _rows(blocks: list[SampleBlock]) -> list[tuple[Any, ...]]:
    """One row per strap (and raw format) for the blocks of one commit, in arrival order."""
    groups: dict[tuple[str, str], list[SampleBlock]] = {}
    for b in blocks:
        groups.setdefault((b.sensor, b.raw_format), []).append(b)
    rows = []
    for (sensor, raw_format), bs in groups.items():
        cat = np.concatenate
        t = cat([b.time_s for b in bs])
        has_raw = any(b.raw for b in bs)
        rows.append(
            (
                sensor,
                len(t),
                float(t[0]),
                float(t[-1]),
                t.astype("<f8").tobytes(),
                cat([b.device_time_s for b in bs]).astype("<f8").tobytes(),
                cat([b.sample_index for b in bs]).astype("<i8").tobytes(),
                cat([b.acc_mps2 for b in bs]).astype("<f4").tobytes(),
                cat([b.gyro_dps for b in bs]).astype("<f4").tobytes(),
                np.array([len(b) for b in bs], dtype="<i4").tobytes(),
                np.array([b.arrival_s for b in bs], dtype="<f8").tobytes(),
                b"".join(b.raw for b in bs) if has_raw else None,
                np.array([len(b.raw) for b in bs], dtype="<i4").tobytes() if has_raw else None,
                raw_format or None,
            )
        )
    return rows


# -- reading ---------------------------------------------------------------------------------


@dataclass
class Recording:
    """A session in memory: samples per strap, metadata, events (and ground truth if simulated).

    ``samples[role]`` is a DataFrame with ``time_s`` (session time, s), ``device_time_s`` (s),
    ``sample_index`` and ``acc_x, acc_y, acc_z`` (m/s²), ``gyr_x, gyr_y, gyr_z`` (deg/s).
    ``events`` has ``time_s, sensor, kind, detail``.
    """

    path: Path | None
    meta: dict[str, Any]
    sensors: dict[Role, dict[str, Any]]
    samples: dict[Role, pd.DataFrame]
    events: pd.DataFrame
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "<memory>"

    @property
    def duration_s(self) -> float:
        """From session start to the last sample of any strap, s."""
        ends = [float(df["time_s"].iloc[-1]) for df in self.samples.values() if len(df)]
        return max(ends, default=0.0)

    @property
    def closed_cleanly(self) -> bool:
        return bool(self.meta.get("closed_cleanly", False))

    @property
    def ground_truth(self) -> GroundTruth | None:
        """The simulator's ground truth, when this is a simulated session."""
        from collector.exercise import GroundTruth

        gt = self.meta.get("ground_truth")
        return GroundTruth.from_dict(gt) if gt else None

    def gaps(self, role: Role) -> pd.DataFrame:
        """Samples missing by sequence number: ``time_s`` (before), ``until_s``, ``lost``."""
        import pandas as pd

        df = self.samples[role]
        gaps = find_gaps(df["sample_index"].to_numpy(), df["time_s"].to_numpy())
        return pd.DataFrame({"time_s": gaps.time_s, "until_s": gaps.until_s, "lost": gaps.lost})

    def rate_hz(self, role: Role) -> float:
        """Measured sample rate: samples received plus lost, over the time they span, Hz."""
        df = self.samples[role]
        return measured_rate_hz(df["sample_index"].to_numpy(), df["time_s"].to_numpy())

    def summary(self) -> str:
        """A human-readable overview (what ``flossmeter info`` prints)."""
        m = self.meta
        if m.get("format") == FORMAT_NAME:
            origin = (
                f"  format: {FORMAT_NAME} v{m.get('format_version', '?')}, written by "
                f"{m.get('app', '?')} {m.get('app_version', '?')}\n"
                f"  created: {m.get('created_utc', '?')}   participant: "
                f"{m.get('participant') or '-'}   closed cleanly: "
                f"{'yes' if self.closed_cleanly else 'no (recovered after a crash)'}"
            )
        else:
            # imported (long CSV, BIDS-Motion, XDF, DOT CSV): what the file itself carries
            said = [f"{k}: {m[k]}" for k in ("participant", "session", "task") if m.get(k)]
            origin = f"  format: {m.get('format', 'unknown')} (imported)" + (
                "   " + "   ".join(said) if said else ""
            )
        lines = [f"{self.path or '<memory>'}", origin, f"  duration: {self.duration_s:.1f} s"]
        if m.get("notes"):
            lines.append(f"  notes: {m['notes']}")
        prog = m.get("programme")
        if isinstance(prog, dict):  # what was prescribed (analysis/programme.py's dict)
            lines.append(
                f"  programme: {prog.get('name') or 'unnamed'}: {prog.get('technique')}, "
                f"{prog.get('leg')} leg, {prog.get('sets')} sets × {prog.get('reps_per_set')} "
                f"reps (flossmeter programme show {self.name})"
            )
        lines.append(
            "  sensor  kind              samples  rate_hz  first_s    last_s  gaps  lost_samples"
        )
        for role in ROLES:
            if role not in self.samples:
                lines.append(f"  {role:<6}  (none)")
                continue
            df = self.samples[role]
            info = self.sensors.get(role, {})
            gaps = self.gaps(role)
            t0 = float(df["time_s"].iloc[0]) if len(df) else float("nan")
            lines.append(
                f"  {role:<6}  {info.get('kind', '?'):<16} {len(df):>8}  {self.rate_hz(role):>7.2f}"
                f"  {t0:>7.2f}  {self.duration_of(role):>8.2f}  {len(gaps):>4}"
                f"  {int(gaps['lost'].sum()):>12}"
            )
        if len(self.events):
            counts = self.events["kind"].value_counts()
            lines.append("  events: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        else:
            lines.append("  events: none")
        gt = self.ground_truth
        if gt is not None:
            techs = {}
            for r in gt.reps:
                techs[r["technique"]] = techs.get(r["technique"], 0) + 1
            tech = f" ({', '.join(f'{n} {k}' for k, n in techs.items())})" if techs else ""
            lines.append(
                f"  ground truth: {len(gt.sets)} sets, {len(gt.reps)} reps{tech}, "
                f"{len(gt.fidgets)} fidgets"
            )
        return "\n".join(lines)

    def duration_of(self, role: Role) -> float:
        df = self.samples[role]
        return float(df["time_s"].iloc[-1]) if len(df) else float("nan")

    def __repr__(self) -> str:
        parts = [
            f"{role} {len(df)} samples @ {self.rate_hz(role):.0f} Hz"
            for role, df in self.samples.items()
        ]
        return (
            f"<Recording {self.name!r}: {self.duration_s:.1f} s; {'; '.join(parts)}; "
            f"{len(self.events)} events>"
        )


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording file; a bad file raises :class:`CollectorError` with a one-line message."""
    p = Path(path)
    if not p.exists():
        raise CollectorError(f"{p}: no such file")
    if not p.is_file():
        raise CollectorError(f"{p}: not a file")
    with open(p, "rb") as f:
        head = f.read(100)
    if len(head) < 100:
        if head.startswith(b"SQLite format 3"):
            raise CollectorError(f"{p}: truncated recording ({len(head)} bytes)")
        raise CollectorError(f"{p}: not a flossmeter recording (empty or too short)")
    if not head.startswith(b"SQLite format 3\x00"):
        raise CollectorError(f"{p}: not a flossmeter recording (not an SQLite file)")
    try:
        db = _connect_for_reading(p)
    except sqlite3.Error as e:
        raise CollectorError(f"{p}: cannot open recording ({e})") from None
    try:
        return _read(p, db)
    except sqlite3.DatabaseError as e:
        raise CollectorError(f"{p}: corrupt or truncated recording ({e})") from None
    finally:
        db.close()


def _connect_for_reading(p: Path) -> sqlite3.Connection:
    # A killed recorder leaves a WAL beside the file: open read-write so SQLite can recover it
    # (it folds the WAL in when we close). Fall back to read-only for files we cannot write.
    if os.access(p, os.W_OK) and os.access(p.parent, os.W_OK):
        return sqlite3.connect(p)
    return sqlite3.connect(f"file:{p}?mode=ro", uri=True)


def _read(p: Path, db: sqlite3.Connection) -> Recording:
    import pandas as pd

    (app_id,) = db.execute("PRAGMA application_id").fetchone()
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app_id != APPLICATION_ID or not {"meta", "sensors", "blocks", "events"} <= tables:
        raise CollectorError(f"{p}: not a flossmeter recording (an SQLite file of another kind)")
    meta = {k: _loads(p, v) for k, v in db.execute("SELECT key, value FROM meta")}
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CollectorError(
            f"{p}: recording format v{version} is newer than this flossmeter reads "
            f"(v{FORMAT_VERSION}); update flossmeter"
        )
    sensors = {role: _loads(p, info) for role, info in db.execute("SELECT role, info FROM sensors")}
    rows = db.execute(
        "SELECT id, sensor, n, time_s, device_time_s, sample_index, acc_mps2, gyro_dps"
        " FROM blocks ORDER BY id"
    ).fetchall()
    by_role: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        by_role.setdefault(r[1], []).append(r)
    samples = {}
    for role, rs in by_role.items():
        if role not in ROLES:
            raise CollectorError(f"{p}: corrupt recording (unknown sensor role {role!r})")
        samples[role] = _frame(p, rs)
    events = pd.DataFrame(
        [
            (t, s, k, _loads(p, d))
            for t, s, k, d in db.execute(
                "SELECT time_s, sensor, kind, detail FROM events ORDER BY id"
            )
        ],
        columns=["time_s", "sensor", "kind", "detail"],
    )
    ordered = {role: samples[role] for role in ROLES if role in samples}
    return Recording(p, meta, sensors, ordered, events)


def _frame(p: Path, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    import pandas as pd

    n = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    total = int(n.sum())

    def column(i: int, dtype: str, width: int = 1) -> np.ndarray:
        buf = b"".join(r[i] for r in rows)
        itemsize = np.dtype(dtype).itemsize
        if len(buf) != total * width * itemsize:
            bad = next(r[0] for r in rows if len(r[i]) != r[2] * width * itemsize)
            raise CollectorError(f"{p}: corrupt recording (block {bad} has a wrong length)")
        a = np.frombuffer(buf, dtype=dtype)
        return a.reshape(total, width) if width > 1 else a

    t = column(3, "<f8")
    acc = column(6, "<f4", 3)
    gyro = column(7, "<f4", 3)
    data = {
        "time_s": t,
        "device_time_s": column(4, "<f8"),
        "sample_index": column(5, "<i8"),
        "acc_x": acc[:, 0],
        "acc_y": acc[:, 1],
        "acc_z": acc[:, 2],
        "gyr_x": gyro[:, 0],
        "gyr_y": gyro[:, 1],
        "gyr_z": gyro[:, 2],
    }
    return pd.DataFrame(
        {
            k: np.asarray(v, dtype=np.int64 if k == "sample_index" else np.float64)
            for k, v in data.items()
        }
    )


def _loads(p: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise CollectorError(f"{p}: corrupt recording (unreadable metadata)") from None


def read_raw_packets(path: str | os.PathLike[str], role: Role) -> list[tuple[str, bytes]]:
    """The raw device packets stored for one strap, in arrival order: ``(raw_format, bytes)``."""
    p = Path(path)
    load_recording(p)  # validates the file with a clear error
    db = _connect_for_reading(p)
    out: list[tuple[str, bytes]] = []
    try:
        query = (
            "SELECT raw_format, raw, raw_sizes FROM blocks"
            " WHERE sensor = ? AND raw IS NOT NULL ORDER BY id"
        )
        for fmt, raw, sizes in db.execute(query, (role,)):
            ends = np.cumsum(np.frombuffer(sizes, dtype="<i4"))
            starts = ends - np.frombuffer(sizes, dtype="<i4")
            out.extend((fmt or "", bytes(raw[a:b])) for a, b in zip(starts, ends, strict=True))
    finally:
        db.close()
    return out


def write_blocks(
    path: str | os.PathLike[str],
    blocks: Iterable[SampleBlock | SourceEvent],
    sensors: dict[Role, SensorInfo],
    metadata: dict[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a whole stream of blocks and events to a new recording at once (batch path).

    Items go through the hub's own dispatch, so gaps are found and recorded as events exactly
    as live.
    """
    from collector.hub import Dispatcher

    with Recorder(path, sensors, metadata, overwrite=overwrite, commit_interval_s=1.0) as rec:
        dispatch = Dispatcher([rec]).dispatch
        for item in blocks:
            dispatch(item)
    return Path(path)
