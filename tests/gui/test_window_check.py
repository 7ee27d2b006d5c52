"""The check before any window: a Qt platform plugin that cannot load is one line naming the
Debian package to install (the demo then runs headless), never Qt's abort."""

import subprocess
import sys
import time

import pytest

from gui import window_check
from gui.window_check import (
    PlatformProbe,
    explain_failure,
    missing_libraries_message,
    parse_ldd,
    plugin_file,
    requested_platforms,
    wants_window,
    window_problem,
)
from tests.conftest import ROOT

SAMPLE = ROOT / "recordings" / "sample-slider-2x5.flossrec"

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f1)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-frobnicate.so.7 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f2)
"""
LDD_BROKEN = (
    "/x/libqxcb.so: error while loading shared libraries: /tmp/l/libxcb-cursor.so.0: "
    "file too short\n"
)


def test_ldd_output_says_which_libraries_cannot_load():
    assert parse_ldd(LDD_MISSING) == [
        ("libxcb-cursor.so.0", "not found"),
        ("libxcb-icccm.so.4", "not found"),
        ("libxcb-frobnicate.so.7", "not found"),
    ]
    assert parse_ldd(LDD_BROKEN) == [
        ("libxcb-cursor.so.0", "file too short: /tmp/l/libxcb-cursor.so.0")
    ]
    assert parse_ldd("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n") == []


def test_the_message_names_the_debian_packages():
    msg = missing_libraries_message("xcb", parse_ldd(LDD_MISSING))
    assert "\n" not in msg
    assert msg.startswith("Qt's xcb platform plugin cannot load libxcb-cursor.so.0 (not found)")
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4)" in msg
    assert msg.endswith("and install what provides libxcb-frobnicate.so.7")
    one = missing_libraries_message("xcb", [("libxcb-cursor.so.0", "not found")])
    assert "the Debian package libxcb-cursor0 (sudo apt-get install libxcb-cursor0)" in one


def test_which_platforms_need_the_probe(monkeypatch):
    assert requested_platforms("xcb:dpi=96;offscreen") == ["xcb", "offscreen"]
    assert requested_platforms("") == []
    monkeypatch.setattr(sys, "platform", "linux")
    assert wants_window([]) and wants_window(["xcb"]) and wants_window(["wayland-egl"])
    assert wants_window(["wayland", "offscreen"])
    assert not wants_window(["offscreen"]) and not wants_window(["minimal", "vnc"])
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not wants_window([])


def test_offscreen_is_not_probed(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")

    def no_subprocess(*args, **kwargs):
        raise AssertionError("probed an offscreen platform")

    monkeypatch.setattr(window_check.subprocess, "Popen", no_subprocess)
    assert window_problem() is None


def test_a_probe_that_hangs_is_stopped_and_said(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":42")
    t0 = time.monotonic()
    probe = PlatformProbe(timeout_s=0.5, code="import time; time.sleep(30)")
    problem = probe.problem()
    assert time.monotonic() - t0 < 5 and probe.proc.returncode is not None
    assert problem == (
        "Qt's platform plugin did not start within 0.5 s (DISPLAY=':42'): is the display answering?"
    )


def test_a_display_that_refuses_is_told_apart_from_missing_libraries(monkeypatch):
    if plugin_file("xcb") is None:
        pytest.skip("no xcb plugin in this PySide6")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    # what Qt says when no X server answers: its libxcb-cursor hint is a red herring here,
    # since every library of the plugin loads (ldd says so)
    stderr = (
        "qt.qpa.xcb: could not connect to display :99\n"
        "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt "
        "xcb platform plugin.\n"
        'qt.qpa.plugin: Could not load the Qt platform plugin "xcb" in "" even though it was '
        "found.\n"
    )
    assert explain_failure(stderr) == (
        "Qt cannot connect to the display :99: is the X server running, and may this user "
        "use it (XAUTHORITY)?"
    )


# -- end to end: a real X server, a plugin that cannot load -------------------------------------


@pytest.fixture
def broken_xcb(xvfb, tmp_path):
    """The environment of a desktop whose xcb plugin cannot load libxcb-cursor.so.0: a real X
    server, and an empty (unloadable) copy of the library first on the search path."""
    if plugin_file("xcb") is None:
        pytest.skip("no xcb plugin in this PySide6")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "libxcb-cursor.so.0").write_bytes(b"")
    return dict(xvfb, LD_LIBRARY_PATH=str(lib), QT_QPA_PLATFORM="xcb")


def _run(cmd, env, cwd):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_the_probe_passes_on_a_working_display(xvfb):
    code = "from gui.window_check import window_problem; print(window_problem())"
    out = _run([sys.executable, "-c", code], xvfb, ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "None", out.stderr


@pytest.mark.slow
def test_demo_falls_back_to_headless_and_says_which_package(broken_xcb, flossmeter_cmd, tmp_path):
    demo = tmp_path / "demo.flossrec"
    out = _run([*flossmeter_cmd, "demo", "-o", str(demo)], broken_xcb, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Aborted" not in out.stderr and "Traceback" not in out.stderr
    assert out.stdout.startswith("no window: headless demo.")
    assert "total: 12 reps in 2 sets" in out.stdout and demo.exists()
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("flossmeter: no dashboard window: Qt's xcb platform plugin")
    assert "libxcb-cursor.so.0" in lines[0] and "sudo apt-get install libxcb-cursor0" in lines[0]
    assert lines[0].endswith("; running the headless demo instead")


@pytest.mark.parametrize("command", [["live", "--sim"], ["replay", str(SAMPLE)]])
def test_dashboards_exit_2_with_the_same_line(broken_xcb, flossmeter_cmd, tmp_path, command):
    out = _run([*flossmeter_cmd, *command], broken_xcb, tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("flossmeter: error: Qt's xcb platform plugin cannot load ")
    assert "libxcb-cursor.so.0" in lines[0] and "sudo apt-get install libxcb-cursor0" in lines[0]
