"""Run dashboard windows: one QApplication, one qasync event loop serving Qt and asyncio (bleak,
the simulator and replay run in it, no polling threads), screenshots and timed exits."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class DashboardWindow(Protocol):
    """What :func:`run_window` needs from a window (live or replay)."""

    def show(self) -> None: ...

    def close(self) -> bool: ...

    def grab(self) -> Any: ...

    def state(self) -> dict[str, Any]: ...

    async def shutdown(self) -> None: ...

    def deleteLater(self) -> None: ...


@dataclass
class Capture:
    """Screenshots to take and when to quit (``--screenshot``, ``--quit-after-s`` ...)."""

    screenshot: Path | None = None  # taken when quitting
    quit_after_s: float | None = None
    at: list[tuple[float, Path]] = field(default_factory=list)  # (seconds after start, png)
    state_json: Path | None = None  # what was on screen at each screenshot


#: Qt messages that say nothing to a user (the offscreen platform's, for captures).
_QT_NOISE = ("propagateSizeHints",)


def _qt_message(mode: Any, context: Any, message: str) -> None:
    """Qt's own messages go to the log (a few known harmless ones are dropped)."""
    from PySide6 import QtCore

    if any(noise in message for noise in _QT_NOISE):
        return
    levels = {QtCore.QtMsgType.QtDebugMsg: logging.DEBUG, QtCore.QtMsgType.QtInfoMsg: logging.INFO}
    logging.getLogger("qt").log(levels.get(mode, logging.WARNING), "%s", message)


def make_app() -> Any:
    """The QApplication (created once), set up for the dashboard."""
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6 import QtCore, QtWidgets

    QtCore.qInstallMessageHandler(_qt_message)

    from gui.dashboard.plots import configure

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication([sys.argv[0] if sys.argv else "flossmeter"])
        app.setApplicationName("flossmeter")
    app.setQuitOnLastWindowClosed(False)  # the asyncio side decides when to stop
    configure()
    return app


def save_screenshot(window: DashboardWindow, path: Path) -> dict[str, Any]:
    """Grab ``window`` into a PNG at ``path``; returns what was on screen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        log.error("could not write the screenshot %s", path)
    state = window.state()
    log.info("screenshot %s: %s reps, %s fps", path, state.get("reps"), state.get("fps"))
    return state


async def show_window(
    window: DashboardWindow, start: Callable[[], Any], capture: Capture | None = None
) -> int:
    """Show ``window``, call ``start()``, and run until every window is closed (or until
    ``capture.quit_after_s``), taking the screenshots asked for."""
    from PySide6 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance()
    capture = capture or Capture()
    all_closed = asyncio.Event()
    app.lastWindowClosed.connect(all_closed.set)
    loop = asyncio.get_running_loop()

    def close_all(*_: object) -> None:  # Ctrl-C or kill: close windows, recordings cleanly
        loop.call_soon_threadsafe(lambda: QtCore.QTimer.singleShot(0, app.closeAllWindows))

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close_all)
    window.show()
    start()
    shots: list[dict[str, Any]] = []

    async def take(delay_s: float, path: Path) -> None:
        await asyncio.sleep(delay_s)
        shots.append({"t_s": delay_s, "path": str(path), "state": save_screenshot(window, path)})

    timed = [asyncio.ensure_future(take(t, p)) for t, p in sorted(capture.at)]
    try:
        async with asyncio.timeout(capture.quit_after_s):
            await all_closed.wait()
    except TimeoutError:
        if capture.screenshot is not None:
            state = save_screenshot(window, capture.screenshot)
            shots.append({"t_s": capture.quit_after_s, "path": str(capture.screenshot),
                          "state": state})  # fmt: skip
    finally:
        for task in timed:
            task.cancel()
        final = window.state()
        await window.shutdown()
        app.closeAllWindows()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
    if capture.state_json is not None:
        capture.state_json.parent.mkdir(parents=True, exist_ok=True)
        capture.state_json.write_text(json.dumps({"final": final, "screenshots": shots}, indent=1))
    return 0


def run_window(
    make_window: Callable[[], DashboardWindow],
    start: Callable[[DashboardWindow], Any],
    capture: Capture | None = None,
) -> int:
    """Create the app and run ``make_window()`` in the qasync loop until it closes.

    Call :func:`gui.window_check.window_problem` first: a platform plugin that cannot load
    makes Qt abort the process here, where nothing can catch it.
    """
    make_app()
    import qasync
    from PySide6 import QtCore

    async def main() -> int:
        window = make_window()
        try:
            return await show_window(window, lambda: start(window), capture)
        finally:
            # destroy the window now, while the application lives: left to the interpreter's
            # exit, Qt's teardown may destroy it from inside one of its own items (a crash)
            window.deleteLater()
            QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)

    return qasync.run(main())
