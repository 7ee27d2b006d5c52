"""Battery and signal health of a strap: what each family reports, as ``status`` events.

Battery levels come from the standard Battery Service (``0x180F``, Battery Level ``0x2A19``: one
byte, percent) where a device has it, else from the family's own source (Movella DOT: its battery
characteristic, level and charging; WitMotion: the battery voltage register). Each change becomes
a ``status`` event ``{"battery_pct", "battery_low", "text", "source", ...}``; below
:data:`LOW_BATTERY_PCT` the event says ``battery_low`` and one warning is logged (again only after
the level has been back above it). Signal strength is the RSSI BlueZ reports for the device (from
advertisements): ``{"rssi_dbm"}`` events, thinned out (:class:`RssiThinner`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
#: Below this charge (%) a strap is reported as low: charging is the most common support question,
#: and 15 % leaves roughly a session for the sensors we support.
LOW_BATTERY_PCT = 15.0

#: WitMotion has no Battery Service: register 0x64 holds the cell voltage in 10 mV (the vendor's
#: BWT901BLE5.0 SDK reads it about once a minute while streaming: ``FF AA 27 64 00``, answered by
#: a ``55 71`` register packet on the data characteristic).
WITMOTION_BATTERY_REG = 0x64
#: WitMotion's single-cell voltage → charge table (V, %), as the vendor's BWT901BLE5.0 SDK maps the
#: battery register (``WITMOTION/WitBluetooth_BWT901BLE5_0``); linear between the points.
WITMOTION_CELL_V = (3.40, 3.50, 3.68, 3.70, 3.73, 3.77, 3.79, 3.82, 3.87, 3.93, 3.96, 3.99)
WITMOTION_CELL_PCT = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0, 100.0)


def battery_level_pct(data: bytes) -> float | None:
    """The standard Battery Level value (``0x2A19``): one byte, 0–100 %; None if not that."""
    if len(data) < 1 or data[0] > 100:
        return None
    return float(data[0])


def movella_battery(data: bytes) -> tuple[float, bool] | None:
    """The Movella DOT battery characteristic: (level %, charging); None if not that."""
    if len(data) < 2 or data[0] > 100 or data[1] > 1:
        return None
    return float(data[0]), bool(data[1])


def witmotion_battery_pct(volts: float) -> float:
    """Charge (%) of a WitMotion sensor's cell at ``volts`` (the vendor's table, clamped)."""
    return float(np.interp(volts, WITMOTION_CELL_V, WITMOTION_CELL_PCT))


@dataclass
class BatteryWatch:
    """One strap's battery: turns readings into ``status`` event details, only when they change.

    :meth:`reading` returns the detail of the event to emit (None when nothing changed) and
    whether this reading should be logged as a warning (the first one below
    :data:`LOW_BATTERY_PCT`; again only after the level went back above it).
    """

    low_pct: float = LOW_BATTERY_PCT
    last_pct: float | None = None
    warned: bool = False

    def reading(self, pct: float, source: str, **extra: object) -> tuple[dict[str, object] | None,
                                                                         bool]:  # fmt: skip
        """The event detail for a reading of ``pct`` % from ``source``, and whether to warn."""
        pct = round(float(pct), 1)
        low = pct < self.low_pct
        warn = low and not self.warned
        self.warned = low
        if self.last_pct is not None and pct == self.last_pct and not warn:
            return None, False
        self.last_pct = pct
        text = f"battery {pct:.0f} %"
        if low:
            text += f" (low: below {self.low_pct:.0f} %, charge it after this session)"
        detail: dict[str, object] = {"battery_pct": pct, "battery_low": low, "text": text,
                                     "source": source, **extra}  # fmt: skip
        return detail, warn


@dataclass
class RssiThinner:
    """Which RSSI reports to keep as events: the first, then one that moved by ``step_db`` or
    more, or came ``every_s`` after the last kept (RSSI jitters by a few dB every advertisement:
    keeping all would fill a recording with noise)."""

    step_db: float = 6.0
    every_s: float = 10.0
    last_dbm: float | None = None
    last_t: float = -math.inf

    def keep(self, rssi_dbm: float, t_s: float) -> bool:
        """Whether the report of ``rssi_dbm`` at ``t_s`` (s) becomes an event."""
        if (self.last_dbm is None or abs(rssi_dbm - self.last_dbm) >= self.step_db
                or t_s - self.last_t >= self.every_s):  # fmt: skip
            self.last_dbm, self.last_t = rssi_dbm, t_s
            return True
        return False
