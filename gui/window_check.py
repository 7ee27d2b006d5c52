"""Whether a dashboard window can open here — a display, Qt that imports, and a platform plugin
that loads — checked before the QApplication exists, as one line a user can act on.

A platform plugin that cannot load (e.g. PySide6 >= 6.5's xcb plugin without libxcb-cursor0)
makes Qt abort the whole process, so the plugin is tried in a short subprocess first: a
QGuiApplication on the same platform, with the same environment. Only a real window (xcb,
wayland) is probed; offscreen and the other headless platforms are not. Nothing is cached:
a library installed a minute ago counts at once.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

#: Platforms that draw real windows (and need a display and their plugin's X11/Wayland libraries).
WINDOW_PLATFORMS = ("xcb", "wayland")
#: How long the probe may take before it counts as failed (a cold start imports Qt from disk).
PROBE_TIMEOUT_S = 5.0
#: Creates the application on the platform Qt would choose, and says which one it chose.
_PROBE = (
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication(['flossmeter-window-check'])\n"
    "print(app.platformName())\n"
)
#: Debian's package of each library the xcb and wayland plugins load that a desktop may lack
#: (the wheel brings Qt itself; these come from the system).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}


def display_problem() -> str | None:
    """Why no window can be shown here (None when one can, or Qt is told to render offscreen)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")):
        return None
    if not sys.platform.startswith("linux"):
        return None
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        if Path(wayland).is_absolute() or Path(runtime, wayland).exists():
            return None
    display = os.environ.get("DISPLAY", "")
    if not display:
        return "no display (DISPLAY is not set)"
    host, _, rest = display.partition(":")
    number = rest.split(".")[0]
    local = host in ("", "unix") and number.isdigit()
    if local and not Path(f"/tmp/.X11-unix/X{number}").exists():
        return f"no X server at DISPLAY={display}"
    return None


def qt_problem() -> str | None:
    """Why Qt, pyqtgraph or qasync cannot be imported (None when they can)."""
    # qasync says at INFO which binding $QT_API forces: noise beside a one-line error
    logging.getLogger("qasync").setLevel(logging.WARNING)
    try:
        import pyqtgraph  # noqa: F401
        import PySide6.QtWidgets  # noqa: F401
        import qasync  # noqa: F401
    except ImportError as e:  # missing wheels or missing Debian libraries (libGL, libEGL...)
        return f"Qt is not usable here ({e})"
    return None


def requested_platforms(value: str | None = None) -> list[str]:
    """The platforms ``QT_QPA_PLATFORM`` (or ``value``) asks for, in order, without their
    options (``"xcb:dpi=96;offscreen"`` → ``["xcb", "offscreen"]``); [] for Qt's default."""
    value = os.environ.get("QT_QPA_PLATFORM", "") if value is None else value
    return [p.split(":")[0].strip() for p in value.split(";") if p.split(":")[0].strip()]


def wants_window(platforms: list[str]) -> bool:
    """Whether Qt would try a real window (xcb, wayland...) — its Linux default does."""
    if not sys.platform.startswith("linux"):
        return False  # macOS and Windows plugins come with the wheel and need no system library
    return not platforms or any(p.startswith(WINDOW_PLATFORMS) for p in platforms)


class PlatformProbe:
    """The probe subprocess, started at once so it runs while the caller imports Qt itself;
    :meth:`problem` waits for it."""

    def __init__(self, timeout_s: float = PROBE_TIMEOUT_S, code: str = _PROBE) -> None:
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def problem(self) -> str | None:
        """None when the platform plugin started; else why, in one line (which package to
        install when a library is missing)."""
        try:
            out, err = self.proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.cancel()
            return (
                f"Qt's platform plugin did not start within {self.timeout_s:g} s "
                f"(DISPLAY={os.environ.get('DISPLAY', '')!r}): is the display answering?"
            )
        if self.proc.returncode == 0 and out.strip():
            return None
        return explain_failure(err)

    def cancel(self) -> None:
        """Stop the probe (its answer is not needed)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def start_probe() -> PlatformProbe | None:
    """Start probing the platform plugin, or None when no real window is asked for."""
    if not wants_window(requested_platforms()):
        return None
    return PlatformProbe()


def window_problem() -> str | None:
    """Why the dashboard cannot open a window here, as one line (None when it can): no display,
    Qt not importable, or a platform plugin that cannot load."""
    problem = display_problem()
    if problem:
        return (
            f"the dashboard needs a screen: {problem}; for a headless capture set "
            "QT_QPA_PLATFORM=offscreen and use --screenshot/--quit-after-s"
        )
    probe = start_probe()  # runs while this process imports Qt (which it needs anyway)
    try:
        problem = qt_problem()
    except BaseException:
        if probe is not None:
            probe.cancel()
        raise
    if probe is None:
        return problem
    if problem:
        probe.cancel()
        return problem
    return probe.problem()


# -- why the probe failed ----------------------------------------------------------------------


def explain_failure(stderr: str) -> str:
    """One line from a failed probe's stderr: the libraries (and Debian packages) the plugin
    lacks, a display that refused, or Qt's own last word."""
    plugin = _failed_plugin(stderr)
    path = plugin_file(plugin) if plugin else None
    broken = library_problems(path) if path is not None else []
    if broken:
        return missing_libraries_message(plugin or "platform", broken)
    refused = re.search(r"could not connect to display ?(\S*)", stderr)
    if refused:
        display = refused.group(1) or os.environ.get("DISPLAY", "")
        return (
            f"Qt cannot connect to the display {display}: is the X server running, and may "
            "this user use it (XAUTHORITY)?"
        )
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    said = next(
        (ln for ln in reversed(lines) if "plugin" in ln.lower()), lines[-1] if lines else ""
    )
    what = f"Qt's {plugin} platform plugin" if plugin else "Qt's platform plugin"
    return f"{what} cannot start" + (f": {said}" if said else "")


def _failed_plugin(stderr: str) -> str | None:
    m = re.search(r'platform plugin "([^"]+)"', stderr)
    if m:
        return m.group(1)
    platforms = [p for p in requested_platforms() if p.startswith(WINDOW_PLATFORMS)]
    return platforms[0] if platforms else ("xcb" if not requested_platforms() else None)


def plugin_file(platform: str) -> Path | None:
    """The shared library of Qt's ``platform`` plugin (xcb, wayland...) in the installed PySide6,
    or in ``QT_QPA_PLATFORM_PLUGIN_PATH``; None when there is none."""
    import importlib.util

    name = "libqwayland.so" if platform.startswith("wayland") else f"libq{platform}.so"
    folders = [Path(p) for p in os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(":") if p]
    spec = importlib.util.find_spec("PySide6")
    roots = (spec.submodule_search_locations or []) if spec is not None else []
    folders += [Path(root, "Qt", "plugins", "platforms") for root in roots]
    return next((f / name for f in folders if (f / name).is_file()), None)


def library_problems(path: Path) -> list[tuple[str, str]]:
    """The shared libraries ``path`` cannot load (soname, why), as ``ldd`` sees them with this
    environment (``LD_LIBRARY_PATH`` included); [] when all load or ``ldd`` is missing."""
    try:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_ldd(out.stdout + out.stderr)


def parse_ldd(text: str) -> list[tuple[str, str]]:
    """(soname, why) of every library ``ldd`` output says is not found or cannot load."""
    problems = [
        (m.group(1), "not found") for m in re.finditer(r"^\s*(\S+) => not found", text, re.M)
    ]
    for m in re.finditer(r"error while loading shared libraries: ([^:]+): (.+)$", text, re.M):
        where = m.group(1).strip()  # a path when a copy on LD_LIBRARY_PATH is broken
        why = m.group(2).strip() + (f": {where}" if "/" in where else "")
        problems.append((Path(where).name, why))
    return problems


def missing_libraries_message(plugin: str, problems: list[tuple[str, str]]) -> str:
    """One line: which libraries Qt's ``plugin`` platform plugin lacks, and what to install."""
    libs = ", ".join(f"{lib} ({why})" for lib, why in problems)
    packages = list(dict.fromkeys(DEBIAN_PACKAGES.get(lib, "") for lib, _ in problems))
    unknown = [lib for lib, _ in problems if lib not in DEBIAN_PACKAGES]
    known = [p for p in packages if p]
    fix = []
    if known:
        noun = "package" if len(known) == 1 else "packages"
        fix.append(f"install the Debian {noun} {' '.join(known)} "
                   f"(sudo apt-get install {' '.join(known)})")  # fmt: skip
    if unknown:
        fix.append(f"install what provides {', '.join(unknown)}")
    return f"Qt's {plugin} platform plugin cannot load {libs}: {' and '.join(fix)}"
