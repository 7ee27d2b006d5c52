"""What every device decoder returns, and the counter arithmetic they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Advertisement", "Decoded", "unwrap"]


@dataclass(frozen=True)
class Advertisement:
    """What a scan saw of one device: enough to recognise its family."""

    address: str
    name: str = ""
    rssi: int = -127
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Decoded:
    """Samples decoded from one or more notifications of one device, in order.

    Every decoder takes each notification on its own: its bytes are never joined with another's.
    ``sample_index`` is the device's raw counter (not unwrapped); ``device_time_s`` the device's
    raw clock (wrapping where the device's does). ``packet_n`` holds the number of samples of
    each well-formed notification, in order; ``bad`` lists ``(notification number, reason)``
    for every notification that was rejected whole.
    """

    acc_mps2: np.ndarray  # N×3, m/s²
    gyro_dps: np.ndarray  # N×3, deg/s
    device_time_s: np.ndarray  # N, s (raw device clock; NaN where the device has none)
    sample_index: np.ndarray  # N, int64, raw device counter
    packet_n: np.ndarray  # P, int64
    bad: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.acc_mps2)

    @classmethod
    def empty(cls, bad: list[tuple[int, str]] | None = None) -> Decoded:
        """No samples (all packets rejected, if any)."""
        z3 = np.zeros((0, 3))
        z = np.zeros(0)
        return cls(z3, z3, z, z.astype(np.int64), z.astype(np.int64), bad or [])


def unwrap(raw: np.ndarray, previous_raw: int | None, previous: int, bits: int) -> np.ndarray:
    """Unwrap a ``bits``-wide counter that only moves forward: int64 values continuing
    ``previous`` (whose raw value was ``previous_raw``; ``None`` starts at ``raw[0]``)."""
    raw = np.asarray(raw, dtype=np.int64)
    if len(raw) == 0:
        return raw
    mod = 1 << bits
    start_raw = raw[0] if previous_raw is None else previous_raw
    start = raw[0] if previous_raw is None else previous
    steps = np.diff(np.concatenate(([start_raw], raw))) % mod
    return start + np.cumsum(steps)
