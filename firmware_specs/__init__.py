"""The strap firmware contract as data: the GATT profile, golden test vectors and the C header."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

PROFILE_FILE = "flossmeter_strap.json"
VECTORS_FILE = "golden_vectors.json"
C_HEADER_FILE = "flossmeter_strap.h"


@functools.cache
def load_profile() -> dict[str, Any]:
    """The machine-readable strap profile (UUIDs, packet layout, commands) as a dict."""
    return json.loads(resources.files(__name__).joinpath(PROFILE_FILE).read_text("utf-8"))


def load_golden_vectors() -> list[dict[str, Any]]:
    """Golden test vectors: packets as hex with their decoded values (see the profile spec)."""
    text = resources.files(__name__).joinpath(VECTORS_FILE).read_text("utf-8")
    return json.loads(text)["vectors"]


def c_header_text() -> str:
    """The portable C99 header firmware uses to pack data packets and parse commands."""
    return resources.files(__name__).joinpath(C_HEADER_FILE).read_text("utf-8")
