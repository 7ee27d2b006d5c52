"""GUI test fixtures: the qasync loop on pytest-qt's application, and a private X server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def run_qasync(qapp) -> Iterator[Callable[..., Any]]:
    """Run a coroutine to completion in a qasync loop on the test application (one loop for Qt
    and asyncio, as the dashboard runs)."""
    import qasync

    from gui.app import make_app

    make_app()  # the dashboard's pyqtgraph options

    def run(coro: Any, timeout_s: float = 60.0) -> Any:
        loop = qasync.QEventLoop(qapp)
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(asyncio.wait_for(coro, timeout_s))
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    yield run


def _free_display() -> int:
    for n in range(91, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb() -> Iterator[dict[str, str]]:
    """A private Xvfb server; yields the environment for a subprocess that uses it."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (Debian: xvfb)")
    for _ in range(5):
        n = _free_display()
        proc = subprocess.Popen(
            [exe, f":{n}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp", "-noreset"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail("Xvfb did not start")
    env = dict(os.environ, DISPLAY=f":{n}", QT_QPA_PLATFORM="xcb")
    try:
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
