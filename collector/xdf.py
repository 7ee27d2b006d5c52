"""XDF import (LabRecorder's files) through pyxdf: IMU streams become the straps of a Recording.

Reading rules (``docs/lsl-xdf.md``): pyxdf loads the file with clock synchronisation and
dejittering on (it leaves streams that declare ``can_drop_samples`` undejittered, as ours do).
The strap streams are ours (``flossmeter-shin``, ``flossmeter-head``) unless ``roles`` names
others by stream name or source_id. Channels are found by their labels (``acc_x``/``AccX``/…,
``gyr_x``/``GyroX``/…) and converted from their units (m/s² or g; deg/s or rad/s) to ours.
Session time 0 is our outlet's session zero when the streams carry it, else the earliest first
sample of the chosen streams. String streams (markers) become ``marker`` events.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from collector.constants import G_MPS2
from collector.errors import CollectorError
from collector.gaps import first_step_back
from collector.model import ROLES
from collector.recording import SAMPLE_COLUMNS, Recording

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

XDF_MAGIC = b"XDF:"
#: Unit strings (lower case, spaces removed) → factor to m/s² or to deg/s.
ACC_UNITS = {"m/s^2": 1.0, "m/s2": 1.0, "m/s²": 1.0, "m/s/s": 1.0, "ms^-2": 1.0, "g": G_MPS2}
GYRO_UNITS = {
    "deg/s": 1.0, "°/s": 1.0, "dps": 1.0, "degrees/s": 1.0, "degree/s": 1.0,
    "rad/s": 180.0 / math.pi, "radians/s": 180.0 / math.pi,
}  # fmt: skip
_LABEL = re.compile(
    r"^(?:(?P<acc>acc|accel|accelerometer|acceleration)|"
    r"(?P<gyr>gyr|gyro|gyroscope|angularvelocity|angvel))(?P<axis>[xyz])$"
)
_NUMERIC = {"float32", "double64", "int8", "int16", "int32", "int64"}


def read_xdf(path: str | os.PathLike[str], roles: Mapping[str, str] | None = None) -> Recording:
    """Read the strap streams of an XDF file into a :class:`Recording` (see the module's rules);
    ``roles`` maps ``shin``/``head`` to stream names or source_ids. A bad file, or streams
    that cannot be told apart, raise :class:`CollectorError` with a one-line message."""
    import pandas as pd

    p = Path(path)
    streams = _load(p)
    chosen = _choose(p, streams, roles)
    if "head" in chosen and not len(chosen["head"]["time_stamps"]):
        log.warning("%s: the head stream holds no samples: shin only", p)
        del chosen["head"]
    zero, zero_from = _session_zero(chosen)
    samples = {role: _frame(p, s, zero) for role, s in chosen.items()}
    sensors: dict[str, dict[str, Any]] = {}
    for role, s in chosen.items():
        rate = _rate_hz(s)
        sensors[role] = {
            "role": role, "kind": "xdf", "rate_hz": rate, "name": _info(s, "name"),
            "source_id": _info(s, "source_id"), "xdf_stream_id": s["info"].get("stream_id"),
        }  # fmt: skip
    rows = []
    for s in streams:
        if _info(s, "channel_format") != "string":
            continue
        name = _info(s, "name")
        for t, values in zip(s["time_stamps"], s["time_series"], strict=True):
            text = str(values[0]) if len(values) else ""
            rows.append((float(t) - zero, None, "marker", {"stream": name, "text": text}))
    rows.sort(key=lambda r: r[0])
    events = pd.DataFrame(rows, columns=["time_s", "sensor", "kind", "detail"])
    meta: dict[str, Any] = {
        "format": "xdf",
        "source_file": str(p),
        "xdf_streams": [
            {"name": _info(s, "name"), "type": _info(s, "type"), "source_id": _info(s, "source_id"),
             "channels": int(_info(s, "channel_count") or 0), "samples": len(s["time_stamps"])}
            for s in streams
        ],
        "session_zero": zero_from,
    }  # fmt: skip
    sessions = {_desc(s, "flossmeter", "session_id") for s in chosen.values()} - {None}
    if len(sessions) == 1:
        meta["lsl_session_id"] = sessions.pop()
    ordered = {role: samples[role] for role in ROLES if role in samples}
    return Recording(p, meta, sensors, ordered, events)  # type: ignore[arg-type]


# -- loading -----------------------------------------------------------------------------------


class _Complaints(logging.Handler):
    """Collects what pyxdf logs as errors (it skips damaged chunks and goes on)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _load(p: Path) -> list[dict[str, Any]]:
    """pyxdf's streams of ``p`` (clock sync and dejitter on); damage it skipped is a warning."""
    try:
        import pyxdf
    except ImportError:
        raise CollectorError(f"{p}: reading XDF needs pyxdf; reinstall flossmeter") from None
    pyxdf_log = logging.getLogger("pyxdf.pyxdf")
    complaints = _Complaints()
    # pyxdf logs a traceback for a damaged chunk: collect it instead of printing it
    old_propagate, pyxdf_log.propagate = pyxdf_log.propagate, False
    pyxdf_log.addHandler(complaints)
    try:
        streams, _header = pyxdf.load_xdf(
            str(p), synchronize_clocks=True, dejitter_timestamps=True, verbose=None
        )
    except Exception as e:  # pyxdf raises OSError, ParseError, KeyError … even bare Exception
        raise CollectorError(f"{p}: unreadable XDF file ({_short(e)})") from None
    finally:
        pyxdf_log.removeHandler(complaints)
        pyxdf_log.propagate = old_propagate
    damage = _short(complaints.messages[0]) if complaints.messages else ""
    if not streams:
        why = f"damaged: {damage}" if damage else "empty"
        raise CollectorError(f"{p}: no streams in this XDF file ({why})")
    if damage:
        log.warning("%s: damaged XDF file: %s; read what could be read", p, damage)
    return streams


def _short(e: object) -> str:
    text = str(e).strip().splitlines()
    return text[0][:160] if text else type(e).__name__


def _info(s: dict[str, Any], key: str) -> Any:
    """A stream header field (pyxdf keeps each as a one-element list of text)."""
    v = s["info"].get(key)
    return v[0] if isinstance(v, list) and v else v


def _desc(s: dict[str, Any], *path: str) -> Any:
    """A field of the stream's ``<desc>``, e.g. ``_desc(s, "flossmeter", "role")``."""
    node: Any = s["info"].get("desc")
    for key in path:
        if not isinstance(node, list) or not node or not isinstance(node[0], dict):
            return None
        node = node[0].get(key)
    return node[0] if isinstance(node, list) and node and isinstance(node[0], str) else None


def _describe(streams: list[dict[str, Any]]) -> str:
    return ", ".join(f"{_info(s, 'name')!r} ({_info(s, 'type') or 'no type'})" for s in streams)


# -- which stream is which strap -----------------------------------------------------------------


def _choose(
    p: Path, streams: list[dict[str, Any]], roles: Mapping[str, str] | None
) -> dict[str, dict[str, Any]]:
    from collector.lsl import stream_name

    chosen: dict[str, dict[str, Any]] = {}
    if roles:
        for role, name in roles.items():
            if role not in ROLES:
                raise CollectorError(f"--map: the roles are shin and head, not {role!r}")
            hits = [s for s in streams if name in (_info(s, "name"), _info(s, "source_id"))]
            if not hits:
                raise CollectorError(
                    f"{p}: no stream named {name!r} for the {role}; streams: {_describe(streams)}"
                )
            chosen[role] = _one(p, role, hits)
    else:
        for role in ROLES:
            hits = [s for s in streams if _info(s, "name") == stream_name(role)]
            if hits:
                chosen[role] = _one(p, role, hits)
    if "shin" not in chosen:
        raise CollectorError(
            f"{p}: no {stream_name('shin')} stream (the shin strap is required); streams: "
            f"{_describe(streams)}; say which is which with --map shin=NAME[,head=NAME]"
        )
    for role, s in chosen.items():
        fmt = _info(s, "channel_format")
        if fmt not in _NUMERIC:
            raise CollectorError(
                f"{p}: stream {_info(s, 'name')!r} ({role}) holds {fmt} values, not IMU samples"
            )
    return chosen


def _one(p: Path, role: str, hits: list[dict[str, Any]]) -> dict[str, Any]:
    if len(hits) > 1:
        ids = ", ".join(repr(_info(s, "source_id")) for s in hits)
        raise CollectorError(
            f"{p}: {len(hits)} streams could be the {role} (source_ids {ids}); "
            f"choose one with --map {role}=SOURCE_ID"
        )
    return hits[0]


def _channel_columns(p: Path, s: dict[str, Any]) -> tuple[list[int], np.ndarray]:
    """Which channel holds acc x, y, z and gyro x, y, z, and the factor to our units."""
    name = _info(s, "name")
    n = int(_info(s, "channel_count") or 0)
    chans = _channels(s)
    found: dict[str, tuple[int, float]] = {}
    for i, ch in enumerate(chans):
        label = re.sub(r"[\s_.\-]", "", (ch.get("label") or "").lower())
        m = _LABEL.match(label)
        if not m:
            continue
        kind = "acc" if m.group("acc") else "gyr"
        units = ACC_UNITS if kind == "acc" else GYRO_UNITS
        unit = (ch.get("unit") or "").replace(" ", "").lower()
        if unit and unit not in units:
            raise CollectorError(
                f"{p}: stream {name!r} channel {ch.get('label')!r} is in {ch.get('unit')!r}; "
                f"flossmeter reads {', '.join(units)}"
            )
        found.setdefault(f"{kind}_{m.group('axis')}", (i, units[unit] if unit else 1.0))
    if not chans and n == len(SAMPLE_COLUMNS):
        log.warning(
            "%s: stream %r has no channel labels: read as acc x, y, z (m/s²), gyro x, y, z (deg/s)",
            p, name,
        )  # fmt: skip
        return list(range(n)), np.ones(n)
    missing = [c for c in SAMPLE_COLUMNS if c not in found]
    if missing:
        raise CollectorError(
            f"{p}: stream {name!r} has no channel labelled {', '.join(missing)} "
            "(it needs acc x, y, z and gyro x, y, z)"
        )
    cols = [found[c][0] for c in SAMPLE_COLUMNS]
    return cols, np.array([found[c][1] for c in SAMPLE_COLUMNS])


def _channels(s: dict[str, Any]) -> list[dict[str, str | None]]:
    desc = s["info"].get("desc")
    try:
        chans = desc[0]["channels"][0]["channel"]
    except (TypeError, KeyError, IndexError):
        return []
    out = []
    for ch in chans:
        if not isinstance(ch, dict):
            continue
        out.append({k: (ch[k][0] if isinstance(ch.get(k), list) and ch[k] else None)
                    for k in ("label", "unit")})  # fmt: skip
    return out


# -- time ----------------------------------------------------------------------------------------


def _origin(chosen: dict[str, dict[str, Any]]) -> float | None:
    """Our outlet's session zero (LSL clock, s), when every chosen stream carries the same."""
    zeros = {_desc(s, "flossmeter", "session_zero_lsl_s") for s in chosen.values()}
    if len(zeros) != 1 or None in zeros:
        return None
    try:
        zero = float(zeros.pop())  # type: ignore[arg-type]
    except ValueError:
        return None
    return zero if math.isfinite(zero) else None


def _session_zero(chosen: dict[str, dict[str, Any]]) -> tuple[float, str]:
    """Session time 0 on the file's (synchronised) clock, s, and where it came from."""
    zero = _origin(chosen)
    firsts = [float(s["time_stamps"][0]) for s in chosen.values() if len(s["time_stamps"])]
    if zero is not None:
        # pyxdf moved the outlet's timestamps onto the recorder's clock by the ClockOffsets:
        # move the outlet's session zero the same way (their median; same host: ~0)
        shin = chosen["shin"]
        offsets = shin.get("clock_values") or []
        moved = zero + (float(np.median(offsets)) if len(offsets) else 0.0)
        # a zero that does not precede the samples is not this file's (e.g. a clock reset)
        if not firsts or min(firsts) >= moved - 1.0:
            return moved, "the outlet's session zero"
    return min(firsts, default=0.0), "the earliest first sample"


def _rate_hz(s: dict[str, Any]) -> float:
    nominal = float(_info(s, "nominal_srate") or 0.0)
    if nominal > 0:
        return nominal
    t = np.asarray(s["time_stamps"], dtype=np.float64)
    return float(1.0 / np.median(np.diff(t))) if len(t) > 1 else float("nan")


def _frame(p: Path, s: dict[str, Any], zero: float) -> pd.DataFrame:
    import pandas as pd

    name = _info(s, "name")
    cols, factor = _channel_columns(p, s)
    t = np.asarray(s["time_stamps"], dtype=np.float64)
    x = np.asarray(s["time_series"], dtype=np.float64)
    if len(t) == 0:
        raise CollectorError(f"{p}: stream {name!r} holds no samples")
    if (i := first_step_back(t)) is not None:
        raise CollectorError(
            f"{p}: stream {name!r}: sample {i} at {t[i]:.6f} s does not come after the "
            f"previous one ({t[i - 1]:.6f} s)"
        )
    values = x[:, cols] * factor
    if not np.isfinite(values).all():
        i = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise CollectorError(f"{p}: stream {name!r}: sample {i} is not a number")
    rate = _rate_hz(s)
    steps = np.maximum(1, np.rint(np.diff(t) * rate)).astype(np.int64)
    data: dict[str, Any] = {
        "time_s": t - zero,
        "device_time_s": t,  # the LSL timestamps as pyxdf gives them (synchronised), s
        "sample_index": np.concatenate(([0], np.cumsum(steps))),
    }
    for j, c in enumerate(SAMPLE_COLUMNS):
        data[c] = values[:, j]
    return pd.DataFrame(data)


def rep_markers(rec: Recording) -> list[dict[str, Any]]:
    """The rep markers of our outlet in an imported XDF recording, decoded (latest revision
    of each rep), in rep order."""
    from collector.lsl import MARKER_NAME

    latest: dict[int, dict[str, Any]] = {}
    for d in rec.events["detail"]:
        if not isinstance(d, dict) or d.get("stream") != MARKER_NAME:
            continue
        try:
            m = json.loads(d.get("text", ""))
        except json.JSONDecodeError:
            continue
        if isinstance(m, dict) and m.get("event") == "rep":
            latest[int(m["rep"])] = m
    return [latest[k] for k in sorted(latest)]
