"""A private Xvfb server for tests and benchmarks that need a real window (Qt's xcb platform)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def free_display(first: int = 91, last: int = 240) -> int:
    """A display number with neither an X socket nor a lock file."""
    for n in range(first, last):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@contextlib.contextmanager
def private_xvfb(first_display: int = 91, attempts: int = 5) -> Iterator[dict[str, str]]:
    """Run Xvfb for the block; yields what a subprocess's environment needs to use it
    (``DISPLAY``, ``QT_QPA_PLATFORM=xcb``). Raises FileNotFoundError without Xvfb and
    RuntimeError when it does not start (another process may take the same number: retried)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise FileNotFoundError("Xvfb is not installed (Debian: xvfb)")
    for _ in range(attempts):
        n = free_display(first_display)
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
        raise RuntimeError("Xvfb did not start")
    try:
        yield {"DISPLAY": f":{n}", "QT_QPA_PLATFORM": "xcb"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
