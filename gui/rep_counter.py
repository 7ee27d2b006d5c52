"""Counting reps during headless acquisition: a hub sink that feeds the online analyzer, puts
"reps N (set S)" on the status line and, at the end, holds the session's analysis result."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.results import AnalysisResult
    from collector.model import SampleBlock, SourceEvent

log = logging.getLogger(__name__)


class RepCounter:
    """Hub sink: blocks go to an :class:`~analysis.online.OnlineAnalyzer`; each new rep is logged
    and shown on ``status`` (a :class:`~gui.status.StatusLine`, optional)."""

    def __init__(self, sensors: Iterable[str], status: Any = None) -> None:
        from analysis.online import OnlineAnalyzer

        self.analyzer = OnlineAnalyzer(sensors=tuple(sensors), display_angles=False)
        self.status = status
        self.result: AnalysisResult | None = None  # set by finish()
        self._revisions = 0
        self._show()

    @property
    def reps(self) -> list[Any]:
        return self.analyzer.reps

    def on_block(self, block: SampleBlock) -> None:
        self._took(self.analyzer.push(block.sensor, block.time_s, block.acc_mps2, block.gyro_dps))

    def on_event(self, event: SourceEvent) -> None:
        if event.kind in ("connected", "disconnected") and event.sensor is not None:
            self._took(self.analyzer.set_connected(event.sensor, event.kind == "connected"))

    def finish(self) -> None:
        """End of acquisition: decide a rep still in progress; keep the analysis result."""
        self._took(self.analyzer.finish())
        self.result = self.analyzer.result(angles=False)
        if self.result.records:
            log.info("%s", self.result.summary().replace("\n", "\n  "))

    def _took(self, reps: list[Any]) -> None:
        revised = self.analyzer.revisions - self._revisions
        if revised:
            self._revisions = self.analyzer.revisions
            log.info("%d earlier rep(s) scored again: the head's direction is now known", revised)
        for r in reps:
            flags = f" ({', '.join(r.flags)})" if r.flags else ""
            log.info(
                "rep %d (set %d): %s, quality %.0f, knee %.0f°%s",
                r.rep, r.set, r.technique, r.quality, r.knee_rom_deg, flags,
            )  # fmt: skip
        if reps:
            self._show()

    def _show(self) -> None:
        if self.status is not None:
            st = self.analyzer.status
            self.status.extra = f"reps {st.reps}" + (f" (set {st.set})" if st.set else "")
