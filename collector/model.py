"""The sample model every source produces: sample blocks, status events, sensor descriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

import numpy as np

Role = Literal["shin", "head"]
ROLES: tuple[Role, ...] = ("shin", "head")

#: Kinds of :class:`SourceEvent`. ``gap`` is raised by the hub from sequence numbers.
EVENT_KINDS = (
    "connected",  # a sensor is streaming (again)
    "disconnected",  # a sensor stopped streaming (link lost or closed)
    "gap",  # samples missing between two blocks (from sequence numbers)
    "marker",  # a user marker (e.g. "start of set 2")
    "note",  # free text from the user
    "status",  # battery, rate confirmed, configuration applied, ...
    "error",  # a counted, recoverable problem (malformed packet, ...)
    "symptom",  # a symptom rating 0–10 (before the first set, after each): {"rating", "set"}
    "programme",  # the guided session's progress and decisions: {"what", ...} (docs/programme.md)
)


def _frozen_array(a: Any, dtype: Any, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    """Return a read-only C-contiguous copy-free view of ``a`` as ``dtype``."""
    arr = np.ascontiguousarray(a, dtype=dtype)
    if arr.shape[1:] != shape_tail:
        raise ValueError(f"expected shape (N, {', '.join(map(str, shape_tail))}), got {arr.shape}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class SampleBlock:
    """A batch of consecutive samples from one sensor (typically one BLE notification).

    Attributes:
        sensor: role of the strap, ``"shin"`` or ``"head"``.
        time_s: session time of each sample, s (float64, one time base for all sensors).
        device_time_s: the device's own clock for each sample, s, kept raw (float64).
        acc_mps2: specific force in the sensor frame, m/s² (N×3, float64).
        gyro_dps: angular rate in the sensor frame, deg/s (N×3, float64).
        sample_index: device sample counter (int64, unwrapped); a jump > 1 is a gap.
        raw: the device packet(s) this block was decoded from, or ``b""`` for simulated data.
        raw_format: decoder name and version that reads ``raw`` (e.g. ``"flossmeter-strap/1"``).
        arrival_s: session time at which the block was received (for clock mapping and latency).
    """

    sensor: Role
    time_s: np.ndarray
    device_time_s: np.ndarray
    acc_mps2: np.ndarray
    gyro_dps: np.ndarray
    sample_index: np.ndarray
    raw: bytes = b""
    raw_format: str = ""
    arrival_s: float = float("nan")

    def __post_init__(self) -> None:
        if self.sensor not in ROLES:
            raise ValueError(f"sensor role must be one of {ROLES}, got {self.sensor!r}")
        set_ = object.__setattr__
        set_(self, "time_s", _frozen_array(self.time_s, np.float64))
        set_(self, "device_time_s", _frozen_array(self.device_time_s, np.float64))
        set_(self, "acc_mps2", _frozen_array(self.acc_mps2, np.float64, (3,)))
        set_(self, "gyro_dps", _frozen_array(self.gyro_dps, np.float64, (3,)))
        set_(self, "sample_index", _frozen_array(self.sample_index, np.int64))
        n = len(self.time_s)
        lengths = {len(self.device_time_s), len(self.acc_mps2), len(self.gyro_dps)}
        if lengths != {n} or len(self.sample_index) != n:
            raise ValueError("all arrays of a SampleBlock must have the same length")

    def __len__(self) -> int:
        return len(self.time_s)

    def __repr__(self) -> str:
        if len(self) == 0:
            return f"<SampleBlock {self.sensor} empty>"
        return (
            f"<SampleBlock {self.sensor} n={len(self)} "
            f"t={self.time_s[0]:.3f}–{self.time_s[-1]:.3f} s idx={self.sample_index[0]}>"
        )


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """Something that happened to a source at session time ``time_s`` (see ``EVENT_KINDS``)."""

    time_s: float
    kind: str
    sensor: Role | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {EVENT_KINDS}, got {self.kind!r}")


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What a recording needs to know about one strap.

    ``rate_hz`` is the configured (nominal) rate; ``acc_range_g`` and ``gyro_range_dps`` are the
    full-scale ranges of the int16 samples; ``calibration`` holds anything needed to re-derive
    physical units (and, for simulated straps, the true error model).
    """

    role: Role
    kind: str  # "simulated", "flossmeter-strap", "witmotion", "movella-dot", "csv"
    rate_hz: float
    name: str = ""
    address: str = ""
    firmware: str = ""
    acc_range_g: float = 16.0
    gyro_range_dps: float = 2000.0
    calibration: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """A stream of :class:`SampleBlock` and :class:`SourceEvent` items in arrival order.

    Use it as ``async with source: async for item in source: ...``. Entering connects (or opens),
    leaving releases every resource even on error. ``sensors`` describes the straps once entered.
    BLE, simulator and replay sources all implement this.
    """

    @property
    def sensors(self) -> dict[Role, SensorInfo]: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[SampleBlock | SourceEvent]: ...


class SourceBase:
    """What every :class:`Source` shares: ``async with`` runs :meth:`_open` and :meth:`_close`,
    iterating runs :meth:`_items`. Subclasses supply those three (and ``sensors``)."""

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    def __aiter__(self) -> AsyncIterator[SampleBlock | SourceEvent]:
        return self._items()

    async def _open(self) -> None:
        """Connect or open (on entering); release everything taken if it fails."""

    async def _close(self) -> None:
        """Release every resource (on leaving, also after an error)."""

    def _items(self) -> AsyncIterator[SampleBlock | SourceEvent]:
        raise NotImplementedError


class ResourceBase:
    """:class:`SourceBase`'s synchronous counterpart, for what holds a file or sockets (the
    recorder, the LSL outlet): ``with`` runs :meth:`open` and :meth:`close`. Subclasses supply
    :meth:`close` (and :meth:`open`, if there is anything to take on entering)."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Take the resource (on entering); release what was taken if it fails."""

    def close(self) -> None:
        """Release every resource (on leaving, also after an error)."""
        raise NotImplementedError
