"""What the live and the replay window share: a dashboard panel over a feed, one running task,
messages on the alert card, and a ``closed`` signal when the window goes."""

from __future__ import annotations

import asyncio
import contextlib

from PySide6 import QtCore, QtGui, QtWidgets

from gui.dashboard.feed import DashboardFeed
from gui.dashboard.views import DashboardPanel


class DashboardWindow(QtWidgets.QMainWindow):
    """A main window around a :class:`DashboardPanel`; subclasses run :attr:`task`."""

    closed = QtCore.Signal()

    def __init__(self, title: str) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.feed = DashboardFeed()
        self.panel = DashboardPanel(self.feed)
        self.task: asyncio.Task[None] | None = None

    def _message(self, text: str, tone: str = "poor") -> None:
        """Show ``text`` on the alert card (tone: good, neutral, fair, poor)."""
        self.feed.alert = (text, tone)
        self.feed.version += 1
        self.panel.refresh_cards()

    def _stopping(self) -> None:
        """Closing or shutting down: stop what the window runs besides its task (override)."""
        self.panel.stop()

    async def shutdown(self) -> None:
        """Stop the window's work and wait for its task to end."""
        self._stopping()
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Closing the window stops its work."""
        self._stopping()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        super().closeEvent(event)
        self.closed.emit()
