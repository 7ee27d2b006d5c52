"""GUI test fixtures: the qasync loop on pytest-qt's application, and a private X server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.gui.xserver import private_xvfb


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


@pytest.fixture
def xvfb() -> Iterator[dict[str, str]]:
    """A private Xvfb server; yields the environment for a subprocess that uses it."""
    try:
        with private_xvfb() as display:
            yield dict(os.environ, **display)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    except RuntimeError as e:
        pytest.fail(str(e))
