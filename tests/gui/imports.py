"""What a fresh interpreter has imported after some code: for the lazy-import checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable


def loaded_after(code: str, watched: Iterable[str]) -> list[str]:
    """Those of the ``watched`` modules that a new Python process has loaded after ``code``."""
    watched = sorted(watched)
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {watched!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]
