"""Fixtures of the firmware tests: an emulated BlueZ on a private D-Bus per test."""

import pytest

from tests.ble.harness import bluez_session


@pytest.fixture
def bluez(tmp_path, monkeypatch):
    """The emulated BlueZ (``tests.ble.harness.Bluez``) on a fresh private bus."""
    yield from bluez_session(tmp_path, monkeypatch)
