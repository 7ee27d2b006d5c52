"""The console script run as a user runs it, for the end-to-end command tests."""

from __future__ import annotations

import os
import subprocess


def run_command(cmd: list[str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``cmd`` with ``args`` in a subprocess, its output captured as text, killed after
    ``timeout`` s; it sees the environment as the test has set it (the private bus, the config)."""
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )
