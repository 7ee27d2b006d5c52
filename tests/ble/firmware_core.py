"""The reference firmware's C core (``firmware_specs/reference/strap_core.c``), built with gcc and
driven through ctypes: what the emulated strap runs for packing, counters and replies.

:func:`build_library` compiles the core with the warnings the tests demand (``-std=c99 -Wall
-Wextra -Werror -pedantic``) into a shared library in the system's temporary directory, keyed by
a hash of the sources and flags, so every emulator process of a test run loads the same build and
nothing binary lands in the repository. Without gcc it raises :class:`BuildError` with one line
saying what to install: the emulator then fails to start and the test fails — never skips.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = ROOT / "firmware_specs"
REFERENCE_DIR = SPEC_DIR / "reference"
SOURCES = (
    REFERENCE_DIR / "strap_core.c",
    REFERENCE_DIR / "strap_core.h",
    SPEC_DIR / "flossmeter_strap.h",
)
WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SHARED = ("-O2", "-shared", "-fPIC")

# strap_core.h: fm_channel_t and fm_stat_t, in declaration order
DATA, CONTROL, BATTERY, FIRMWARE_REVISION, MODEL_NUMBER, MANUFACTURER = range(6)
STATS = (
    "samples_in", "samples_skipped", "samples_sent", "samples_overwritten", "packets",
    "commands", "replies_dropped",
)  # fmt: skip


class BuildError(RuntimeError):
    """The core could not be compiled (gcc missing, or a warning)."""


class Sample(ctypes.Structure):
    """``fm_sample_t``: int16 counts."""

    _fields_ = [("acc", ctypes.c_int16 * 3), ("gyr", ctypes.c_int16 * 3)]


def compile_core(out: Path, flags: tuple[str, ...]) -> None:
    """Compile ``strap_core.c`` with the test warnings and ``flags`` into ``out``."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise BuildError(
            "gcc is needed to build the reference firmware core for the emulated strap "
            "(Debian: apt-get install gcc; it is in the Makefile's APT_TEST)"
        )
    cmd = [gcc, *WARNINGS, *flags, f"-I{SPEC_DIR}", str(SOURCES[0]), "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"gcc failed on the reference firmware core:\n{done.stderr}")


def build_library() -> Path:
    """The core as a shared library (built once per source version, in the temp directory)."""
    h = hashlib.sha256(" ".join((*WARNINGS, *SHARED)).encode())
    for src in SOURCES:
        h.update(src.read_bytes())
    folder = Path(tempfile.gettempdir()) / f"flossmeter-strap-core-{h.hexdigest()[:16]}"
    lib = folder / "libstrapcore.so"
    if lib.exists():
        return lib
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
    os.close(fd)
    try:
        compile_core(Path(tmp), SHARED)
        os.replace(tmp, lib)  # atomic: parallel emulators never load half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


_LIB: ctypes.CDLL | None = None


def load() -> ctypes.CDLL:
    """The core library with its function signatures declared."""
    global _LIB
    if _LIB is not None:
        return _LIB
    lib = ctypes.CDLL(str(build_library()))
    p, u8, u16, u32, sz = (ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32,
                           ctypes.c_size_t)  # fmt: skip
    buf = ctypes.c_char_p
    sigs = {
        "fm_core_init": (None, [p]),
        "fm_core_size": (sz, []),
        "fm_core_set_info": (None, [p, ctypes.c_int, buf]),
        "fm_core_set_limits": (None, [p, u16, u32]),
        "fm_core_connected": (None, [p, u16, u32]),
        "fm_core_set_mtu": (None, [p, u16]),
        "fm_core_disconnected": (None, [p, u32]),
        "fm_core_write": (None, [p, buf, sz, u32]),
        "fm_core_push": (None, [p, p, u32, ctypes.c_int]),  # fm_sample_t * as an address
        "fm_core_take": (sz, [p, ctypes.c_int, buf, sz]),
        "fm_core_read": (sz, [p, ctypes.c_int, buf, sz]),
        "fm_core_set_battery_mv": (None, [p, u16]),
        "fm_core_battery_percent": (u8, [u16]),
        "fm_core_tick": (None, [p, u32]),
        "fm_core_led": (ctypes.c_int, [p, u32]),
        "fm_core_sampling": (ctypes.c_int, [p]),
        "fm_core_streaming": (ctypes.c_int, [p]),
        "fm_core_rate_hz": (u16, [p]),
        "fm_core_ranges": (None, [p, ctypes.POINTER(u8), ctypes.POINTER(u8)]),
        "fm_core_period_ns": (u32, [p]),
        "fm_core_samples_per_packet": (u8, [p]),
        "fm_core_stat": (u32, [p, ctypes.c_int]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    _LIB = lib
    return lib


def battery_percent(mv: int) -> int:
    """The core's battery level (%) for a cell voltage in mV."""
    return int(load().fm_core_battery_percent(mv))


def _getter(function: str, kind: Callable[[int], Any]) -> property:
    """A read-only attribute of :class:`FirmwareCore`: what the core's getter ``function``
    returns, as ``kind``."""
    return property(lambda self: kind(getattr(self._lib, function)(self._c)))


class FirmwareCore:
    """One strap's core (an ``fm_core_t`` in a ctypes buffer). Times are the device clock in µs,
    taken modulo 2³² as the firmware's counter wraps."""

    def __init__(
        self,
        firmware_revision: str = "",
        model_number: str = "",
        manufacturer: str = "",
        rate_max_hz: int | None = None,
        notify_interval_us: int | None = None,
    ) -> None:
        self._lib = lib = load()
        self._buf = ctypes.create_string_buffer(lib.fm_core_size())
        self._c = ctypes.cast(self._buf, ctypes.c_void_p)
        lib.fm_core_init(self._c)
        for ch, text in ((FIRMWARE_REVISION, firmware_revision), (MODEL_NUMBER, model_number),
                         (MANUFACTURER, manufacturer)):  # fmt: skip
            lib.fm_core_set_info(self._c, ch, text.encode())
        if rate_max_hz is not None or notify_interval_us is not None:
            lib.fm_core_set_limits(self._c, rate_max_hz or 400, notify_interval_us or 20000)
        self._out = ctypes.create_string_buffer(256)

    # -- link -----------------------------------------------------------------------------------

    def connected(self, mtu: int, now_us: int) -> None:
        """A central connected with this ATT MTU (bytes)."""
        self._lib.fm_core_connected(self._c, mtu, now_us & 0xFFFFFFFF)

    def set_mtu(self, mtu: int) -> None:
        self._lib.fm_core_set_mtu(self._c, mtu)

    def disconnected(self, now_us: int) -> None:
        self._lib.fm_core_disconnected(self._c, now_us & 0xFFFFFFFF)

    def write(self, data: bytes, now_us: int) -> None:
        """A write to the control characteristic that arrived at device time ``now_us``."""
        self._lib.fm_core_write(self._c, data, len(data), now_us & 0xFFFFFFFF)

    # -- samples --------------------------------------------------------------------------------

    def push(self, acc: np.ndarray, gyr: np.ndarray, t_us: np.ndarray,
             clipped: np.ndarray | None = None) -> None:  # fmt: skip
        """Push N samples (N×3 int16 counts each) taken at device times ``t_us`` (µs)."""
        # fm_sample_t rows (acc x y z, gyro x y z as int16) in one buffer the core reads from
        rows = np.ascontiguousarray(
            np.hstack([np.reshape(acc, (-1, 3)), np.reshape(gyr, (-1, 3))]), dtype=np.int16
        )
        t = (np.atleast_1d(np.asarray(t_us, dtype=np.int64)) & 0xFFFFFFFF).tolist()
        clip = [0] * len(t) if clipped is None else np.atleast_1d(clipped).astype(int).tolist()
        base = rows.ctypes.data
        push, c = self._lib.fm_core_push, self._c
        for i in range(len(t)):
            push(c, base + i * ctypes.sizeof(Sample), t[i], clip[i])

    # -- notifications and reads ----------------------------------------------------------------

    def take(self, channel: int) -> bytes | None:
        """The next notification due on ``channel`` (None if none)."""
        n = self._lib.fm_core_take(self._c, channel, self._out, len(self._out))
        return self._out.raw[:n] if n else None

    def take_all(self, channel: int) -> list[bytes]:
        out = []
        while (b := self.take(channel)) is not None:
            out.append(b)
        return out

    def read(self, channel: int) -> bytes:
        """What a read of ``channel`` returns."""
        n = self._lib.fm_core_read(self._c, channel, self._out, len(self._out))
        return self._out.raw[:n]

    # -- the rest -------------------------------------------------------------------------------

    def set_battery_mv(self, mv: int) -> None:
        self._lib.fm_core_set_battery_mv(self._c, mv)

    def tick(self, now_us: int) -> None:
        self._lib.fm_core_tick(self._c, now_us & 0xFFFFFFFF)

    def led(self, now_us: int) -> bool:
        return bool(self._lib.fm_core_led(self._c, now_us & 0xFFFFFFFF))

    # the core's state, one C getter each
    sampling = _getter("fm_core_sampling", bool)
    streaming = _getter("fm_core_streaming", bool)
    rate_hz = _getter("fm_core_rate_hz", int)
    period_ns = _getter("fm_core_period_ns", int)
    samples_per_packet = _getter("fm_core_samples_per_packet", int)

    @property
    def ranges(self) -> tuple[int, int]:
        """(accelerometer code, gyroscope code)."""
        a, g = ctypes.c_uint8(), ctypes.c_uint8()
        self._lib.fm_core_ranges(self._c, ctypes.byref(a), ctypes.byref(g))
        return a.value, g.value

    def stats(self) -> dict[str, int]:
        """The core's counters (``STATS``)."""
        return {name: int(self._lib.fm_core_stat(self._c, i)) for i, name in enumerate(STATS)}
