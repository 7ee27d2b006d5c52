"""Which strap is which: the saved strap config, and telling a tapped strap from its acceleration.

Roles (``shin``, ``head``) are remembered in a small JSON file (:func:`config_path`: the
``FLOSSMETER_CONFIG`` environment variable, else ``$XDG_CONFIG_HOME/flossmeter/straps.json``,
else ``~/.config/flossmeter/straps.json``)::

    {"format": "flossmeter-straps/1",
     "straps": {"shin": {"address": "C0:FF:EE:00:00:01", "name": "FLOSS-0001",
                         "profile": "flossmeter-strap"},
                "head": {"address": "C0:FF:EE:00:00:02", "name": "FLOSS-0002",
                         "profile": "flossmeter-strap"}},
     "saved": "2026-01-31T10:00:00Z"}

An entry needs an address or a name (a hand-written file may give only the advertised name).
``flossmeter assign`` writes it by asking the user to tap each strap in turn:
:class:`TapDetector` finds taps in one strap's acceleration, :class:`TapListener` decides which
of several streaming straps was tapped. Both are pure (no I/O, no asyncio) and fed with arrays.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from collector.constants import G_MPS2
from collector.errors import CollectorError
from collector.model import ROLES, Role

CONFIG_ENV = "FLOSSMETER_CONFIG"
CONFIG_FORMAT = "flossmeter-straps"
CONFIG_VERSION = 1

# -- the saved strap config -------------------------------------------------------------------


@dataclass(frozen=True)
class StrapEntry:
    """One remembered strap: its BLE address and/or advertised name, and its profile (kind)."""

    address: str = ""
    name: str = ""
    profile: str = ""  # family kind: "flossmeter-strap", "witmotion", "movella-dot"

    @property
    def target(self) -> str:
        """What to look for when connecting: the address if known, else the name."""
        return self.address or self.name

    def matches(self, address: str, name: str = "") -> bool:
        """Whether a device seen with this address/name is this strap (any case)."""
        if self.address:
            return self.address.lower() == address.strip().lower()
        return bool(name) and self.name.lower() == name.strip().lower()

    def label(self) -> str:
        """``name (address)`` for messages."""
        if self.name and self.address:
            return f"{self.name} ({self.address})"
        return self.name or self.address


@dataclass(frozen=True)
class StrapConfig:
    """The saved roles: ``straps`` maps ``shin``/``head`` to a :class:`StrapEntry`."""

    straps: dict[Role, StrapEntry] = field(default_factory=dict)
    path: Path | None = None

    def targets(self) -> dict[Role, str]:
        """Role → address (or name) for :class:`collector.ble.BleSource`, shin first."""
        return {r: self.straps[r].target for r in ROLES if r in self.straps}

    def role_of(self, address: str, name: str = "") -> Role | None:
        """The role of a device seen while scanning, or None if it is not a remembered strap."""
        for role, entry in self.straps.items():
            if entry.matches(address, name):
                return role
        return None

    def to_json(self) -> dict[str, Any]:
        """The file's content (a JSON object)."""
        straps = {
            r: {k: v for k, v in vars(self.straps[r]).items() if v}
            for r in ROLES
            if r in self.straps
        }
        return {
            "format": f"{CONFIG_FORMAT}/{CONFIG_VERSION}",
            "straps": straps,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The strap config file: ``path`` if given, else ``$FLOSSMETER_CONFIG``, else the default."""
    if path:
        return Path(path).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "flossmeter" / "straps.json"


def _bad(path: Path, why: str) -> CollectorError:
    return CollectorError(
        f"{path}: {why}; fix or delete it, or run 'flossmeter assign' to write it again"
    )


def parse_strap_config(data: Any, path: Path) -> StrapConfig:
    """Check the JSON content of a strap config; raises a one-line :class:`CollectorError`."""
    if not isinstance(data, dict) or not isinstance(data.get("straps"), dict):
        raise _bad(path, 'not a flossmeter strap config (no "straps" object)')
    fmt = data.get("format", f"{CONFIG_FORMAT}/{CONFIG_VERSION}")
    name, _, version = str(fmt).partition("/")
    if name != CONFIG_FORMAT:
        raise _bad(path, f"not a flossmeter strap config (format {fmt!r})")
    if not version.isdigit() or int(version) > CONFIG_VERSION:
        raise _bad(path, f"strap config format {fmt!r} is newer than this flossmeter reads")
    straps: dict[Role, StrapEntry] = {}
    for role, entry in data["straps"].items():
        if role not in ROLES:
            raise _bad(path, f"unknown role {role!r} (roles are {', '.join(ROLES)})")
        if not isinstance(entry, dict):
            raise _bad(path, f"{role}: expected an object with an address or a name")
        fields = {k: entry.get(k, "") for k in ("address", "name", "profile")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise _bad(path, f"{role}: address, name and profile must be text")
        e = StrapEntry(**{k: v.strip() for k, v in fields.items()})
        if not e.target:
            raise _bad(path, f"{role}: no address or name")
        straps[role] = e
    targets = [e.target.lower() for e in straps.values()]
    if len(set(targets)) < len(targets):
        raise _bad(path, "shin and head name the same strap")
    return StrapConfig(straps, path)


def load_strap_config(path: str | os.PathLike[str] | None = None) -> StrapConfig | None:
    """The saved strap config (see :func:`config_path`), or None if there is none."""
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _bad(p, "is a folder, not a strap config") from None
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise CollectorError(f"{p}: cannot read the strap config ({why})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _bad(p, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    return parse_strap_config(data, p)


def save_strap_config(config: StrapConfig, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the config atomically (a crash leaves the old file or the new one); its path."""
    p = config_path(path)
    text = json.dumps(config.to_json(), indent=2) + "\n"
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".straps-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise CollectorError(f"{p}: cannot save the strap config ({e.strerror or e})") from None
    return p


# -- taps ---------------------------------------------------------------------------------------


class TapDetector:
    """Finds finger taps in one strap's acceleration: short, sharp spikes far from rest.

    Method: the baseline is the running median of the acceleration vector over
    ``baseline_s`` (centred; a spike shorter than half the window does not move it, slow
    posture changes do). The deviation ``d(t) = |a(t) − baseline(t)| / g`` is cut into runs
    where it exceeds ``threshold_g / 2``; a run is a tap if its peak reaches ``threshold_g``
    and it lasts at most ``max_duration_s``. Runs closer than ``merge_s`` count as one tap (a
    double tap, the strap ringing).

    Thresholds: at rest ``d`` is sensor noise (< 0.05 g); during the exercise and fidgeting
    (simulated messy sessions with leg swings, strap adjustments, head turns) ``d`` peaks at
    1.25 g, mostly from rotating the gravity vector, and sustained swings last well over
    0.15 s. A firm fingertip tap on a strap gives a 2–5 g spike of 10–60 ms (the emulator
    models 3 g over 60 ms), so ``threshold_g = 1.5`` sits between the two; the vector
    deviation (not ``|a| − 1 g``) makes it independent of the tap's direction relative to
    gravity and of the sensor's scale error.

    Parameters:
        threshold_g: peak deviation from the baseline a tap must reach, g.
        max_duration_s: longest a tap may stay above half the threshold, s.
        baseline_s: running-median window of the baseline, s.
        merge_s: taps closer than this are one tap, s.

    Results (after :meth:`detect`): ``tap_times_s_`` (time of each tap's peak, s),
    ``peak_g_`` (its deviation, g), ``duration_s_`` (time above half the threshold, s).
    """

    def __init__(
        self,
        *,
        threshold_g: float = 1.5,
        max_duration_s: float = 0.15,
        baseline_s: float = 0.5,
        merge_s: float = 0.3,
    ) -> None:
        self.threshold_g = threshold_g
        self.max_duration_s = max_duration_s
        self.baseline_s = baseline_s
        self.merge_s = merge_s

    @property
    def settle_s(self) -> float:
        """How much later data a tap needs before it is final (half the baseline window), s."""
        return self.baseline_s / 2

    def deviation_g(self, time_s: np.ndarray, acc_mps2: np.ndarray) -> np.ndarray:
        """Per sample: distance of the acceleration from its running median, g."""
        t = np.asarray(time_s, dtype=np.float64)
        a = np.asarray(acc_mps2, dtype=np.float64) / G_MPS2
        if len(t) < 2:
            return np.zeros(len(t))
        dt = float(np.median(np.diff(t)))
        n = max(3, round(self.baseline_s / dt) if dt > 0 else 3) | 1  # odd: centred
        padded = np.pad(a, ((n // 2, n // 2), (0, 0)), mode="edge")
        base = np.median(np.lib.stride_tricks.sliding_window_view(padded, n, axis=0), axis=-1)
        return np.linalg.norm(a - base, axis=1)

    def detect(self, time_s: np.ndarray, acc_mps2: np.ndarray) -> Self:
        """Find the taps in one strap's samples (times in s, acceleration N×3 in m/s²)."""
        t = np.asarray(time_s, dtype=np.float64)
        d = self.deviation_g(t, acc_mps2)
        above = d > self.threshold_g / 2
        edges = np.flatnonzero(np.diff(np.concatenate(([0], above.view(np.int8), [0]))))
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        times: list[float] = []
        peaks: list[float] = []
        durations: list[float] = []
        for i0, i1 in zip(edges[::2], edges[1::2], strict=True):
            k = i0 + int(np.argmax(d[i0:i1]))
            duration = float(t[i1 - 1] - t[i0]) + dt
            if d[k] < self.threshold_g or duration > self.max_duration_s:
                continue
            if times and t[k] - times[-1] < self.merge_s:
                if d[k] > peaks[-1]:
                    times[-1], peaks[-1] = float(t[k]), float(d[k])
                durations[-1] = max(durations[-1], duration)
                continue
            times.append(float(t[k]))
            peaks.append(float(d[k]))
            durations.append(duration)
        self.tap_times_s_ = np.array(times)
        self.peak_g_ = np.array(peaks)
        self.duration_s_ = np.array(durations)
        return self


@dataclass(frozen=True)
class TapDecision:
    """What :class:`TapListener` saw: the strap(s) that spiked together at ``time_s`` (s).

    One key in ``tapped``: that strap was tapped. More than one: they moved together (both
    tapped, or a knock on the chair); ask again.
    """

    tapped: tuple[Hashable, ...]
    time_s: float

    @property
    def clear(self) -> bool:
        """Exactly one strap was tapped."""
        return len(self.tapped) == 1


class TapListener:
    """Decides which of several streaming straps was tapped (pure; fed block by block).

    Feed every strap's samples with :meth:`push` (one time base for all, s), call
    :meth:`listen_from` when the prompt is shown, and :meth:`decide` as data comes in. A
    decision waits until every strap has sent data up to ``coincidence_s`` after the first
    tap (plus the detector's settling time), so a spike on a second strap within
    ``coincidence_s`` makes it ambiguous; a strap that sends nothing for ``stale_s`` after the
    tap is not waited for.
    """

    def __init__(
        self,
        keys: Iterable[Hashable],
        detector: TapDetector | None = None,
        *,
        coincidence_s: float = 0.25,
        stale_s: float = 2.0,
        keep_s: float = 4.0,
    ) -> None:
        self.detector = detector or TapDetector()
        self.coincidence_s = coincidence_s
        self.stale_s = stale_s
        self.keep_s = keep_s
        self.since_s = -math.inf
        self._t: dict[Hashable, list[np.ndarray]] = {k: [] for k in keys}
        self._a: dict[Hashable, list[np.ndarray]] = {k: [] for k in self._t}

    @property
    def keys(self) -> tuple[Hashable, ...]:
        return tuple(self._t)

    def latest_s(self, key: Hashable) -> float:
        """Time of the last sample received from ``key``, s (−inf before any)."""
        return float(self._t[key][-1][-1]) if self._t[key] else -math.inf

    def push(self, key: Hashable, time_s: np.ndarray, acc_mps2: np.ndarray) -> None:
        """Add one block of a strap's samples (times in s, acceleration N×3 in m/s²)."""
        if len(time_s) == 0:
            return
        self._t[key].append(np.asarray(time_s, dtype=np.float64))
        self._a[key].append(np.asarray(acc_mps2, dtype=np.float64))
        horizon = float(time_s[-1]) - self.keep_s
        while len(self._t[key]) > 1 and self._t[key][0][-1] < horizon:
            self._t[key].pop(0)
            self._a[key].pop(0)

    def listen_from(self, time_s: float) -> None:
        """Ignore taps before ``time_s`` (s): the prompt is shown now."""
        self.since_s = time_s

    def taps(self, key: Hashable) -> np.ndarray:
        """Times of the taps found on ``key`` since :meth:`listen_from`, s."""
        if not self._t[key]:
            return np.zeros(0)
        t = np.concatenate(self._t[key])
        a = np.concatenate(self._a[key])
        keep = t >= self.since_s - self.detector.baseline_s  # enough for the baseline
        det = self.detector.detect(t[keep], a[keep])
        return det.tap_times_s_[det.tap_times_s_ >= self.since_s]

    def decide(self, now_s: float | None = None) -> TapDecision | None:
        """Which strap was tapped, or None while there is no (final) tap yet; ``now_s`` in s."""
        settle = self.detector.settle_s
        taps = {k: self.taps(k) for k in self._t}
        final = [
            float(ts[0]) for k, ts in taps.items() if len(ts) and ts[0] + settle <= self.latest_s(k)
        ]
        if not final:
            return None
        first = min(final)
        waited = now_s is not None and now_s - first >= self.stale_s
        needed = first + self.coincidence_s + settle
        if not waited and any(self.latest_s(k) < needed for k in self._t):
            return None
        near = tuple(
            k for k, ts in taps.items() if np.any(np.abs(ts - first) <= self.coincidence_s)
        )
        return TapDecision(near, first)


def describe_straps(straps: Mapping[Role, StrapEntry]) -> str:
    """``shin FLOSS-0001 (C0:…), head …`` for messages."""
    return ", ".join(f"{r} {straps[r].label()}" for r in ROLES if r in straps)
