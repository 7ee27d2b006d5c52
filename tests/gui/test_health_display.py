"""Battery and signal per strap where the user looks: the dashboard's sensor rows and alert, and
the headless ``record`` status line — from the ``status`` events the collector records."""

import io

from collector.hub import SensorStats
from collector.model import SensorInfo, SourceEvent
from gui.dashboard.feed import DashboardFeed
from gui.dashboard.sensors import sensor_rows
from gui.status import StatusLine

SENSORS = {
    "shin": SensorInfo("shin", "polar-verity-sense", 104.0, name="Polar Sense 1A2B3C4D"),
    "head": SensorInfo("head", "movella-dot", 60.0, name="Movella DOT"),
}
EVENTS = [  # as the collector words them (collector.health, collector.ble)
    SourceEvent(0.0, "connected", "shin", {"rssi_dbm": -58}),
    SourceEvent(0.0, "connected", "head", {}),
    SourceEvent(0.1, "status", "shin", {"battery_pct": 40.0, "battery_low": False}),
    SourceEvent(0.1, "status", "head", {"battery_pct": 64.0, "battery_low": False}),
    SourceEvent(30.0, "status", "shin", {"rssi_dbm": -71, "text": "signal -71 dBm"}),
    SourceEvent(95.0, "status", "head", {"battery_pct": 12.0, "battery_low": True}),
]


class Hub:
    """Just the statistics the status line reads."""

    def __init__(self):
        self.stats = {
            "shin": SensorStats(samples=1041, first_time_s=0.0, last_time_s=10.0, connected=True),
            "head": SensorStats(samples=601, first_time_s=0.0, last_time_s=10.0, connected=True),
        }


def test_dashboard_rows_show_battery_signal_and_warn_once_when_low():
    feed = DashboardFeed(SENSORS)
    for e in EVENTS[:5]:
        feed.on_event(e)
    shin, head = sensor_rows(feed)
    assert (shin.battery, shin.battery_low, shin.signal) == ("battery 40 %", False, "-71 dBm")
    assert (head.battery, head.signal) == ("battery 64 %", "")  # no RSSI reported: none shown
    assert feed.alert is None
    feed.on_event(EVENTS[5])
    head = sensor_rows(feed)[1]
    assert head.battery == "battery 12 % (low)" and head.battery_low
    assert feed.alert == ("Head strap battery low (12 %): charge it after this session.", "fair")
    feed.alert = None
    feed.on_event(SourceEvent(120.0, "status", "head", {"battery_pct": 11.0, "battery_low": True}))
    assert feed.alert is None  # said once
    feed.on_event(SourceEvent(130.0, "disconnected", "shin"))
    assert sensor_rows(feed)[0].signal == ""  # no signal while away


def test_status_line_shows_battery_and_signal_per_strap():
    out = io.StringIO()
    line = StatusLine(out, Hub())  # type: ignore[arg-type]
    for e in EVENTS[:5]:
        line.on_event(e)
    text = line.text()
    assert "shin  104.0 Hz loss  0.0% batt 40% -71 dBm" in text
    assert "head   60.0 Hz loss  0.0% batt 64%" in text and "LOW" not in text
    line.on_event(EVENTS[5])
    assert "head   60.0 Hz loss  0.0% batt 12% LOW" in line.text()
    assert "batt 12% LOW" in out.getvalue()  # drawn at once, not at the next tick
