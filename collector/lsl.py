"""Lab Streaming Layer outlet: one stream per strap and a marker stream of reps, as a hub sink.

Opened only when the user asks (``--lsl``): creating an outlet opens network sockets. The
layout (names, types, channels, units, the XML description) and the clock mapping are
specified in ``docs/lsl-xdf.md``. In short: stream ``flossmeter-<role>`` of type ``IMU``, six
float32 channels ``acc_x, acc_y, acc_z`` (m/s²) and ``gyr_x, gyr_y, gyr_z`` (deg/s) at the
strap's nominal rate; stream ``flossmeter-reps`` of type ``Markers``, one JSON string per rep.
Each sample's LSL timestamp is ``session_zero_lsl_s + time_s``: the session clock moved onto
``pylsl.local_clock()`` by one constant fixed when the outlet opens.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from collector.errors import CollectorError
from collector.model import ResourceBase, Role, SampleBlock, SensorInfo, SourceEvent
from collector.recording import APP_VERSION, SAMPLE_COLUMNS

log = logging.getLogger(__name__)

#: Content type of the strap streams (LSL has no registered type for IMUs; ``IMU`` is what
#: IMU outlets commonly use, and what the XDF reader looks for).
STREAM_TYPE = "IMU"
MARKER_TYPE = "Markers"
MARKER_NAME = "flossmeter-reps"
#: Channel label, unit and type (BIDS-Motion's channel types), in the order samples are sent.
CHANNELS: tuple[tuple[str, str, str], ...] = tuple(
    (label, "m/s^2" if label.startswith("acc") else "deg/s",
     "ACCEL" if label.startswith("acc") else "GYRO")
    for label in SAMPLE_COLUMNS
)  # fmt: skip
#: Fields of a rep (``analysis.results.Rep.to_dict()``) carried in its marker, in this order.
REP_FIELDS = (
    "rep", "set", "start_s", "end_s", "duration_s", "technique", "quality",
    "knee_rom_deg", "head_rom_deg", "flags",
)  # fmt: skip
#: After the last push, how long a closing outlet waits for its data to reach connected inlets
#: (liblsl sends asynchronously; destroying the outlet at once can drop the tail).
LINGER_S = 0.5
INSTALL_HINT = "install it with: pip install 'flossmeter[lsl]'"


def stream_name(role: Role) -> str:
    """The LSL stream name of a strap, e.g. ``flossmeter-shin``."""
    return f"flossmeter-{role}"


def new_session_id() -> str:
    """A random id for one session's streams: no participant, host or time in it."""
    return uuid.uuid4().hex[:12]


#: Where liblsl looks for a configuration file (besides ``$LSLAPICFG``), per the LSL docs.
CONFIG_PATHS = ("lsl_api.cfg", "~/lsl_api/lsl_api.cfg", "/etc/lsl_api/lsl_api.cfg")
#: Used only when the lab has no liblsl configuration: log warnings and errors, not the
#: start-up INFO lines liblsl prints by default.
QUIET_CONFIG = b"[log]\nlevel = -1\n"


def import_pylsl() -> ModuleType:
    """The ``pylsl`` module, or a one-line :class:`CollectorError` saying how to install it."""
    try:
        import pylsl
    except ImportError:
        raise CollectorError(f"--lsl needs the pylsl package; {INSTALL_HINT}") from None
    except (OSError, RuntimeError) as e:  # the bundled liblsl cannot load on this machine
        raise CollectorError(f"--lsl: pylsl cannot load its liblsl ({e})") from None
    _quiet_unless_configured(pylsl)
    return pylsl


_configured = False


def _quiet_unless_configured(pylsl: ModuleType) -> None:
    # A lab's own lsl_api.cfg (SessionID, KnownPeers, log level) always wins: it is never
    # replaced, only its absence is filled. liblsl reads its configuration once, on first use.
    import os
    from pathlib import Path

    global _configured
    if _configured:
        return
    _configured = True
    if os.environ.get("LSLAPICFG") or any(Path(p).expanduser().exists() for p in CONFIG_PATHS):
        return
    set_content = getattr(getattr(pylsl, "lib", None), "lib", None)
    if set_content is not None and hasattr(set_content, "lsl_set_config_content"):
        set_content.lsl_set_config_content(QUIET_CONFIG)


@dataclass(frozen=True)
class ClockMap:
    """Session time (s) → LSL time (s, ``pylsl.local_clock()``): one constant offset."""

    session_zero_lsl_s: float

    def lsl_time(self, time_s: Any) -> Any:
        """The LSL timestamp of session time ``time_s`` (scalar or array, s)."""
        return self.session_zero_lsl_s + time_s


def _stream_info(pylsl: ModuleType, info: SensorInfo, session_id: str, clock: ClockMap) -> Any:
    role = info.role
    rate = info.rate_hz if math.isfinite(info.rate_hz) and info.rate_hz > 0 else 0.0
    si = pylsl.StreamInfo(
        stream_name(role), STREAM_TYPE, len(CHANNELS), rate, "float32",
        f"flossmeter-{session_id}-{role}",
    )  # fmt: skip
    desc = si.desc()
    channels = desc.append_child("channels")
    for label, unit, kind in CHANNELS:
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", kind)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "flossmeter")
    acq.append_child_value("model", info.kind)
    # a strap drops samples on a lossy BLE link and timestamps come from its own clock, so
    # XDF readers must not dejitter them onto a regular grid (pyxdf honours this flag)
    desc.append_child("synchronization").append_child_value("can_drop_samples", "true")
    _flossmeter_node(desc, session_id, clock, role)
    return si


def _flossmeter_node(desc: Any, session_id: str, clock: ClockMap, role: str) -> None:
    node = desc.append_child("flossmeter")
    node.append_child_value("role", role)
    node.append_child_value("session_id", session_id)
    node.append_child_value("session_zero_lsl_s", repr(clock.session_zero_lsl_s))
    node.append_child_value("app_version", APP_VERSION)


class LslOutlet(ResourceBase):
    """Hub sink that publishes each strap's samples and the session's reps on LSL.

    ``sensors`` are the straps (one stream each, created at once); ``session_now_s`` is the
    session time now (so the clock mapping holds for a session already under way). Reps are
    published when :meth:`watch_reps`' version changes (after each block) and when the outlet
    closes; a rep whose published fields change later (scored again) is sent again with
    ``revision`` counting up. A marker published while no inlet is connected to the marker
    stream is held, and sent (in order, with its own timestamp) once one connects: a recorder
    started after the first rep still gets every rep. Use it as a context manager: leaving
    closes every stream.
    """

    def __init__(
        self,
        sensors: Mapping[Role, SensorInfo],
        *,
        session_now_s: float = 0.0,
        session_id: str | None = None,
    ) -> None:
        pylsl = import_pylsl()
        self.session_id = session_id or new_session_id()
        self.clock = ClockMap(float(pylsl.local_clock()) - session_now_s)
        self.samples_sent: dict[Role, int] = {}
        self.markers_sent = 0
        #: Markers published while no inlet was connected, not sent yet: (text, LSL timestamp).
        self.held: list[tuple[str, float]] = []
        self._published: dict[int, tuple[Any, ...]] = {}
        self._revisions: dict[int, int] = {}
        self._reps: Callable[[], Sequence[Any]] | None = None
        self._version: Callable[[], Hashable] | None = None
        self._seen_version: Hashable = None
        self._unknown_roles: set[str] = set()
        try:
            self._outlets = {
                role: pylsl.StreamOutlet(_stream_info(pylsl, info, self.session_id, self.clock))
                for role, info in sensors.items()
            }
            mi = pylsl.StreamInfo(
                MARKER_NAME, MARKER_TYPE, 1, 0.0, "string", f"flossmeter-{self.session_id}-reps"
            )
            mi.desc().append_child("channels").append_child("channel").append_child_value(
                "label", "rep"
            )
            _flossmeter_node(mi.desc(), self.session_id, self.clock, "reps")
            self._markers = pylsl.StreamOutlet(mi)
        except RuntimeError as e:  # liblsl could not open its sockets
            raise CollectorError(f"--lsl: cannot open LSL outlets ({e})") from None
        self._closed = False
        log.info(
            "LSL: streaming %s and %s (session %s)",
            ", ".join(stream_name(r) for r in self._outlets), MARKER_NAME, self.session_id,
        )  # fmt: skip

    @classmethod
    def for_source(
        cls,
        source: Any,
        reps: Callable[[], Sequence[Any]] | None = None,
        version: Callable[[], Hashable] | None = None,
    ) -> LslOutlet:
        """An outlet for an entered source: its straps, and its session clock if it keeps one
        (a BLE source's ``now()``; otherwise the session has just begun); with ``reps`` and
        ``version``, the reps are published as :meth:`watch_reps` says."""
        now = getattr(source, "now", None)
        outlet = cls(source.sensors, session_now_s=float(now()) if callable(now) else 0.0)
        if reps is not None and version is not None:
            outlet.watch_reps(reps, version)
        return outlet

    def description(self) -> dict[str, Any]:
        """What a recording stores about these streams (to find them in an XDF file later)."""
        return {
            "session_id": self.session_id,
            "session_zero_lsl_s": self.clock.session_zero_lsl_s,
            "streams": {role: stream_name(role) for role in self._outlets},
            "markers": MARKER_NAME,
        }

    def watch_reps(
        self, reps: Callable[[], Sequence[Any]], version: Callable[[], Hashable]
    ) -> None:
        """Publish ``reps()`` (reps, or their ``to_dict()``) whenever ``version()`` changes."""
        self._reps, self._version = reps, version

    # -- the sink ------------------------------------------------------------------------------

    def on_block(self, block: SampleBlock) -> None:
        """Send a block's samples, each with its own LSL timestamp; then any new reps."""
        n = len(block)
        outlet = self._outlets.get(block.sensor)
        if outlet is None:
            if block.sensor not in self._unknown_roles:
                self._unknown_roles.add(block.sensor)
                log.warning("LSL: no stream for the %s strap (not known at start)", block.sensor)
        elif n:
            data = np.hstack((block.acc_mps2, block.gyro_dps)).astype(np.float32)
            outlet.push_chunk(data, self.clock.lsl_time(block.time_s).tolist())
            self.samples_sent[block.sensor] = self.samples_sent.get(block.sensor, 0) + n
        self._check_reps()
        if self.held:
            self._send_held()

    def on_event(self, event: SourceEvent) -> None:
        """Events are not streamed (reps come from :meth:`watch_reps`)."""

    def _check_reps(self) -> None:
        if self._version is None:
            return
        v = self._version()
        if v != self._seen_version:
            self._seen_version = v
            self.publish_reps(self._reps() if self._reps is not None else ())

    def publish_reps(self, reps: Sequence[Any]) -> int:
        """Publish a marker for each rep not published yet or whose fields changed; return how
        many. A rep is a mapping of its fields or an object with ``to_dict()`` (``analysis``'
        Rep). The markers are sent at once, or held until an inlet connects (:attr:`held`).

        A marker's timestamp is the rep's start on the LSL clock; its text is JSON with
        :data:`REP_FIELDS` and ``revision`` (0, then 1, 2 … when the rep was scored again).
        """
        published = 0
        for rep in reps:
            r: Mapping[str, Any] = rep.to_dict() if hasattr(rep, "to_dict") else rep
            fields = {k: _plain(r.get(k)) for k in REP_FIELDS}
            flags = fields["flags"]  # ";"-joined in a CSV row, a tuple on a Rep
            if isinstance(flags, str):
                fields["flags"] = [f for f in flags.split(";") if f]
            number = int(fields["rep"])
            key = tuple(fields.values())
            if self._published.get(number) == key:
                continue
            revision = self._revisions.get(number, -1) + 1
            self._published[number], self._revisions[number] = key, revision
            text = json.dumps({"event": "rep", **fields, "revision": revision})
            self.held.append((text, self.clock.lsl_time(float(fields["start_s"]))))
            published += 1
        if self.held:
            self._send_held()
        return published

    def _send_held(self) -> None:
        """Push the held markers if an inlet is connected to the marker stream (LSL delivers a
        sample only to the inlets connected when it is pushed)."""
        if not self._markers.have_consumers():
            return
        for text, stamp in self.held:
            self._markers.push_sample([text], stamp)
        self.markers_sent += len(self.held)
        self.held.clear()

    # -- life cycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Publish the last reps, let connected inlets receive the tail, close the streams."""
        if self._closed:
            return
        self._closed = True
        if self._reps is not None:
            self.publish_reps(self._reps())
        if self.held:
            log.info(
                "LSL: %d rep marker(s) not sent: no inlet connected to %s",
                len(self.held), MARKER_NAME,
            )  # fmt: skip
        outlets = [*self._outlets.values(), self._markers]
        if any(o.have_consumers() for o in outlets):
            time.sleep(LINGER_S)
        self._outlets.clear()
        del outlets, self._markers  # liblsl destroys an outlet with its last reference


def _plain(v: Any) -> Any:
    """A JSON-able value: numbers as float/int (NaN as None), flags as a list of words."""
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v
