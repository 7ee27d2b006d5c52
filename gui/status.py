"""A live one-line terminal status for headless acquisition (per-strap rate, loss, state,
battery and signal)."""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collector.hub import Hub
    from collector.model import SampleBlock, SourceEvent


class StatusLine:
    """A hub sink that redraws one status line about once a second (a log line when not a tty)."""

    def __init__(self, stream: IO[str], hub: Hub | None = None, every_s: float = 1.0) -> None:
        self.stream = stream
        self.hub = hub
        self.every_s = every_s if stream.isatty() else 5.0
        self._last = 0.0
        self._t = 0.0
        self.extra: str = ""  # e.g. "reps 4" once the analyzer counts
        self.battery: dict[str, tuple[float, bool]] = {}  # role → (%, low)
        self.rssi: dict[str, float] = {}  # role → dBm, while BlueZ reports it

    def on_block(self, block: SampleBlock) -> None:
        self._t = max(self._t, float(block.time_s[-1]))

    def on_event(self, event: SourceEvent) -> None:
        from gui.dashboard.feed import battery_from, rssi_from

        role = event.sensor
        if role is not None and event.kind in ("status", "connected"):
            level = battery_from(event.detail)
            if level is not None:
                low = bool(event.detail.get("battery_low", False))
                was_low = self.battery.get(role, (0.0, False))[1]
                self.battery[role] = (level, low)
                if low and not was_low:
                    self._draw(force=True)
            rssi = rssi_from(event.detail)
            if rssi is not None:
                self.rssi[role] = rssi
        if event.kind == "disconnected" and role is not None:
            self.rssi.pop(role, None)
        if event.kind == "disconnected" or (event.kind == "connected" and self._t > 0):
            self._draw(force=True)

    def tick(self) -> None:
        self._draw()

    def text(self) -> str:
        parts = [f"t={self._t:7.1f} s"]
        if self.hub is not None:
            for role, st in self.hub.stats.items():
                state = "" if st.connected else " (disconnected)"
                rate = f"{st.rate_hz:6.1f} Hz" if st.rate_hz == st.rate_hz else "   -- Hz"
                health = ""
                if role in self.battery:
                    level, low = self.battery[role]
                    health += f" batt {level:.0f}%" + (" LOW" if low else "")
                if role in self.rssi:
                    health += f" {self.rssi[role]:.0f} dBm"
                parts.append(f"{role} {rate} loss {100 * st.loss_fraction:4.1f}%{health}{state}")
        if self.extra:
            parts.append(self.extra)
        return "  ".join(parts)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        if self.stream.isatty():
            self.stream.write("\r\033[K" + self.text())
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """Leave the last status on screen and end the line."""
        self._draw(force=True)
        if self.stream.isatty():
            self.stream.write("\n")
            self.stream.flush()
