"""The per-strap panel as texts: role, device, link state, rate, loss, battery and signal."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collector.model import ROLES, Role
from gui.dashboard.feed import ROLE_TITLES, LinkState, clock_text

if TYPE_CHECKING:
    from collector.hub import SensorStats
    from collector.model import SensorInfo
    from gui.dashboard.feed import DashboardFeed
    from gui.dashboard.feedback import Tone


@dataclass(frozen=True)
class SensorRow:
    """One strap's line in the sensor panel."""

    role: Role
    title: str  # "Shin strap"
    device: str  # "SIM-SHIN (SIM:01) · simulated"
    state: str  # "waiting", "connected", "disconnected", "absent"
    state_text: str
    tone: Tone
    rate: str  # "99.8 Hz"
    loss: str  # "0.4 % lost"
    battery: str  # "battery 87 %" or "battery –"
    battery_low: bool = False  # shown as a warning
    signal: str = ""  # "-62 dBm" (RSSI BlueZ reported) or "" when none


def sensor_row(
    role: Role,
    info: SensorInfo | None,
    link: LinkState | None,
    stats: SensorStats | None,
) -> SensorRow:
    """Word one strap's state; ``info`` None means the session has no such strap."""
    title = ROLE_TITLES[role]
    if info is None and (link is None or link.connected is None):
        return SensorRow(role, title, "not in this session", "absent", "not used", "neutral",
                         "–", "–", "battery –")  # fmt: skip
    device = "?"
    if info is not None:
        name = info.name or info.address
        addr = f" ({info.address})" if info.address and info.address != name else ""
        device = f"{name}{addr} · {info.kind}" if name else info.kind
    connected = link.connected if link is not None else None
    if connected is None:
        state, text, tone = "waiting", "waiting for data", "neutral"
    elif connected:
        state, text, tone = "connected", "connected", "good"
    else:
        state, tone = "disconnected", "poor"
        text = f"disconnected since {clock_text(link.changed_s)}" if link else "disconnected"
    rate = "–"
    loss = "–"
    if stats is not None and stats.samples:
        if math.isfinite(stats.rate_hz):
            rate = f"{stats.rate_hz:.1f} Hz"
        loss = f"{100 * stats.loss_fraction:.1f} % lost"
    elif info is not None and math.isfinite(info.rate_hz):
        rate = f"{info.rate_hz:g} Hz set"
    battery = "battery –"
    low = False
    if link is not None and link.battery_pct is not None:
        low = link.battery_low
        battery = f"battery {link.battery_pct:.0f} %" + (" (low)" if low else "")
    signal = ""
    if link is not None and link.rssi_dbm is not None and link.connected:
        signal = f"{link.rssi_dbm:.0f} dBm"
    return SensorRow(role, title, device, state, text, tone, rate, loss, battery, low, signal)


def sensor_rows(feed: DashboardFeed) -> list[SensorRow]:
    """Both straps' rows, shin first."""
    stats = feed.stats
    return [
        sensor_row(role, feed.sensors.get(role), feed.links.get(role), stats.get(role))
        for role in ROLES
    ]
