"""Shared fixtures: small simulated sessions, cached because simulation is deterministic."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@functools.cache
def cached_session(**kwargs):
    """A simulated session for ``SimConfig(**kwargs)``; do not mutate it."""
    from collector.simulator import SimConfig, simulate

    return simulate(SimConfig(**kwargs))


@pytest.fixture
def flossmeter_cmd() -> list[str]:
    """The console script as a subprocess command line."""
    exe = Path(sys.executable).with_name("flossmeter")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gui.cli"]


@pytest.fixture
def bluez(tmp_path, monkeypatch):
    """The emulated BlueZ (``tests.ble.harness.Bluez``) on a fresh private bus, for one test."""
    from tests.ble.harness import bluez_session  # imported here: only the BLE tests need it

    yield from bluez_session(tmp_path, monkeypatch)
