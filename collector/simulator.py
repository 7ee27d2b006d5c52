"""Simulated straps: a physically modelled seated person doing floss reps, seen through real IMUs.

``simulate(SimConfig(...))`` draws an exercise script (``exercise.py``), moves the body
(``kinematics.py``) and measures it with imperfect, arbitrarily mounted sensors
(``imu_model.py``). The result carries its ground truth and can be written to a recording in one
go (batch, an hour in a fraction of a second) or streamed in real time as a :class:`Source`.
Everything is deterministic from ``SimConfig.seed``; each part draws from its own random
stream, so switching the head strap off does not change the shin's data. Real-world disturbances
(``SimConfig.disturbances``: knocks, chair bumps, saturating hits, restless sway, seat slides,
short returns, no still start; docs/simulator.md) draw from streams of their own, and none at
all when there are none, so an undisturbed session is exactly what it always was.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np

from collector.constants import G_MPS2
from collector.exercise import (
    DISTURBANCE_KINDS,
    DISTURBANCE_LEVELS,
    SEVERITIES,
    Choreography,
    Disturbances,
    GroundTruth,
    SessionScript,
    StrapWobble,
    choreograph,
    disturb_script,
    disturbance_rngs,
    random_script,
)
from collector.imu_model import (
    DeviceClock,
    ImuErrors,
    Mounting,
    MountingMode,
    apply_errors,
    packetise,
    quantise,
    random_clock,
    random_errors,
    random_mounting,
)
from collector.kinematics import Body, head_motion, rot_axis, sensor_readings, shin_motion
from collector.model import Role, SampleBlock, SensorInfo, SourceBase, SourceEvent


@dataclass(frozen=True)
class SimConfig:
    """Everything that defines a simulated session. Rates in Hz, ranges in g and deg/s."""

    seed: int = 0
    sets: int = 2
    reps_per_set: int = 8
    technique: Literal["slider", "tensioner", "mixed"] = "slider"
    variety: Literal["clean", "typical", "messy"] = "typical"
    fidgets: bool = True
    head: bool = True  # False: a shin-only session
    calibration: bool = True  # start upright and still, look up and back (the dashboard's prompt)
    rate_hz: float = 100.0
    head_rate_hz: float | None = None  # None: same as rate_hz
    noise: float = 1.0  # IMU error magnitude: 0 ideal, 1 typical consumer MEMS
    mounting: MountingMode = "random"
    loss: float = 0.0  # fraction of notifications lost
    outages: int = 0  # times a strap vanishes for 2–8 s
    drift_ppm: float | None = None  # device clock drift; None: random within ±100 ppm
    acc_range_g: float = 16.0
    gyro_range_dps: float = 2000.0
    disturbances: Disturbances = field(default_factory=Disturbances)  # knocks, bumps, sway ...

    #: The fields that say what the person does (``random_script``'s options); the others say
    #: how the straps measure and send it.
    SCRIPT_FIELDS: ClassVar[tuple[str, ...]] = (
        "sets", "reps_per_set", "technique", "variety", "fidgets", "head", "calibration",
    )  # fmt: skip

    def script_options(self) -> dict[str, Any]:
        """The options of the random session script this configuration asks for."""
        return {name: getattr(self, name) for name in self.SCRIPT_FIELDS}

    def __post_init__(self) -> None:
        # the straps run at 25–400 Hz; up to 1 kHz is allowed for stress tests and benchmarks
        for r in (self.rate_hz, self.head_rate_hz or self.rate_hz):
            if not 25.0 <= r <= 1000.0:
                raise ValueError(f"sample rate must be 25–1000 Hz (straps: 25–400), got {r:g}")
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"loss must be a fraction in [0, 1), got {self.loss:g}")
        if self.sets < 1 or self.reps_per_set < 1:
            raise ValueError(
                f"a session needs at least one set of one rep, got {self.sets} set(s) of "
                f"{self.reps_per_set} rep(s)"
            )


@dataclass
class SimulatedStream:
    """All samples of one simulated strap, including the ones lost on the way."""

    info: SensorInfo
    time_s: np.ndarray
    device_time_s: np.ndarray
    acc_mps2: np.ndarray  # quantised, as the strap reports it
    gyro_dps: np.ndarray
    acc_counts: np.ndarray  # int16
    gyro_counts: np.ndarray
    packet_starts: np.ndarray
    packet_arrival_s: np.ndarray
    packet_kept: np.ndarray
    mounting: Mounting
    errors: ImuErrors
    clock: DeviceClock
    outages: list[tuple[float, float]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)  # knocks and saturating hits (truth)

    @property
    def kept(self) -> np.ndarray:
        """Per-sample mask of the samples that reached the collector."""
        per_packet = np.diff(np.append(self.packet_starts, len(self.time_s)))
        return np.repeat(self.packet_kept, per_packet)

    def block(self, p: int) -> SampleBlock:
        """Packet ``p`` as the block a collector would decode from it."""
        a = self.packet_starts[p]
        b = self.packet_starts[p + 1] if p + 1 < len(self.packet_starts) else len(self.time_s)
        return SampleBlock(
            sensor=self.info.role,
            time_s=self.time_s[a:b],
            device_time_s=self.device_time_s[a:b],
            acc_mps2=self.acc_mps2[a:b],
            gyro_dps=self.gyro_dps[a:b],
            sample_index=np.arange(a, b),
            arrival_s=float(self.packet_arrival_s[p]),
        )


@dataclass
class SimulatedSession:
    """A simulated session: streams per strap, the script, the motion and the ground truth."""

    config: SimConfig
    script: SessionScript
    choreography: Choreography
    streams: dict[Role, SimulatedStream]
    body: Body = field(default_factory=Body)

    @property
    def truth(self) -> GroundTruth:
        return self.choreography.truth

    @property
    def duration_s(self) -> float:
        return self.choreography.duration_s

    @property
    def sensors(self) -> dict[Role, SensorInfo]:
        return {role: s.info for role, s in self.streams.items()}

    def truth_angles(self, role: Role) -> dict[str, np.ndarray]:
        """True segment angles at that strap's sample times: ``time_s`` and ``angle_deg``
        (shin inclination for the shin, head pitch for the head)."""
        t = self.streams[role].time_s
        c = self.choreography
        angle = c.knee_deg(t) if role == "shin" else c.head_pitch_deg(t)
        return {"time_s": t, "angle_deg": angle}

    def timeline(self) -> Iterator[tuple[float, SampleBlock | SourceEvent]]:
        """Every item a collector would see, with its arrival time, in arrival order."""
        items: list[tuple[float, int, int, Any]] = []
        for order, (role, s) in enumerate(self.streams.items()):
            items.append((0.0, 0, order, SourceEvent(0.0, "connected", role)))
            for a, b in s.outages:
                items.append(
                    (a, 1, order, SourceEvent(a, "disconnected", role, {"why": "simulated"}))
                )
                items.append(
                    (b, 1, order, SourceEvent(b, "connected", role, {"why": "reconnected"}))
                )
            for p in np.flatnonzero(s.packet_kept):
                items.append((float(s.packet_arrival_s[p]), 2, order, (role, int(p))))
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        for arrival, _, _, item in items:
            if isinstance(item, tuple):
                role, p = item
                yield arrival, self.streams[role].block(p)
            else:
                yield arrival, item

    def blocks(self) -> Iterator[SampleBlock]:
        """Blocks that arrived, in arrival order."""
        for _, item in self.timeline():
            if isinstance(item, SampleBlock):
                yield item

    def metadata(self) -> dict[str, Any]:
        """What a recording of this session stores about how it was made."""
        return {"simulation": {"config": asdict(self.config), "duration_s": self.duration_s}}


def simulate(
    config: SimConfig | None = None, script: SessionScript | None = None
) -> SimulatedSession:
    """Simulate a session from ``config`` (and an explicit ``script``, else a random one)."""
    config = config or SimConfig()
    root = np.random.SeedSequence(config.seed)
    seeds = root.spawn(5)
    r_script, r_shin, r_head, r_shin_link, r_head_link = (np.random.default_rng(s) for s in seeds)
    if script is None:
        script = random_script(r_script, **config.script_options())
    dist = config.disturbances
    rngs = disturbance_rngs(root.spawn(1)[0]) if dist.active else None
    if rngs is not None:
        script = disturb_script(script, dist, rngs)
    choreo = choreograph(script, dist if rngs is not None else None, rngs)
    body = Body()
    roles: tuple[Role, ...] = ("shin", "head") if config.head else ("shin",)
    outage_plan = _plan_outages(r_script, config, choreo.duration_s, roles)
    hit_plan = _plan_hits(dist, rngs, choreo.duration_s, roles) if rngs is not None else {}
    streams: dict[Role, SimulatedStream] = {}
    for role in roles:
        rng, link = (r_shin, r_shin_link) if role == "shin" else (r_head, r_head_link)
        rate = config.rate_hz if role == "shin" else (config.head_rate_hz or config.rate_hz)
        streams[role] = _simulate_strap(
            role, rate, choreo, body, config, rng, link, outage_plan.get(role, []),
            hit_plan.get(role, []),
        )  # fmt: skip
    if rngs is not None:
        truth = choreo.truth
        truth.disturbances.extend(h for s in streams.values() for h in s.hits)
        truth.disturbances.sort(key=lambda e: (e["start_s"], e["kind"], e.get("sensor", "")))
    return SimulatedSession(config, script, choreo, streams, body)


def _plan_hits(
    d: Disturbances,
    rngs: dict[str, np.random.Generator],
    duration_s: float,
    roles: tuple[Role, ...],
) -> dict[Role, list[dict[str, Any]]]:
    """Knocks and saturating hits: when, on which strap, and the shock each sample reads."""
    plan: dict[Role, list[dict[str, Any]]] = {r: [] for r in roles}
    for kind, rate in (("knock", d.knocks_per_min), ("saturation", d.saturation_per_min)):
        if rate <= 0:
            continue
        rng = rngs["knocks" if kind == "knock" else "saturation"]
        for _ in range(int(rng.poisson(rate * duration_s / 60.0))):
            role = roles[int(rng.integers(len(roles)))]
            t = rng.uniform(0.0, duration_s)
            u_acc, u_gyro = _unit(rng), _unit(rng)
            if kind == "knock":  # the sample reads the shock: |acc| and |gyro| as drawn
                hit = {
                    "t": t,
                    "n_s": 0.0,
                    "acc_g": rng.uniform(*d.knock_acc_g),
                    "gyro_dps": rng.uniform(*d.knock_gyro_dps),
                }
                hit["acc"], hit["gyro"] = u_acc * hit["acc_g"] * G_MPS2, u_gyro * hit["gyro_dps"]
            else:  # beyond full scale on the largest axis: the strap clips (scaled below)
                hit = {
                    "t": t,
                    "n_s": rng.uniform(*d.saturation_ms) / 1000.0,
                    "acc_x": rng.uniform(*d.saturation_x),
                    "gyro_x": rng.uniform(*d.saturation_x),
                    "u_acc": u_acc / np.abs(u_acc).max(),
                    "u_gyro": u_gyro / np.abs(u_gyro).max(),
                }
            hit["kind"] = kind
            plan[role].append(hit)
    return plan


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _apply_hits(
    role: Role,
    hits: list[dict[str, Any]],
    t: np.ndarray,
    acc: np.ndarray,
    gyro: np.ndarray,
    acc_fs: float,
    gyro_fs: float,
) -> list[dict[str, Any]]:
    """Write knocks and saturating hits into the (unquantised) readings; return their truth."""
    truth = []
    for h in sorted(hits, key=lambda h: h["t"]):
        i0 = int(np.searchsorted(t, h["t"]))
        if i0 >= len(t):
            continue
        i1 = max(i0 + 1, int(np.searchsorted(t, h["t"] + h["n_s"])))
        event: dict[str, Any] = {"kind": h["kind"], "sensor": role}
        if h["kind"] == "knock":
            acc[i0], gyro[i0] = h["acc"], h["gyro"]
            event.update(acc_g=h["acc_g"], gyro_dps=h["gyro_dps"])
        else:
            a, g = h["u_acc"] * h["acc_x"] * acc_fs, h["u_gyro"] * h["gyro_x"] * gyro_fs
            acc[i0:i1], gyro[i0:i1] = a, g
            event.update(
                acc_g=float(np.linalg.norm(a) / G_MPS2),  # true size, before clipping
                gyro_dps=float(np.linalg.norm(g)),
                acc_over_full_scale=h["acc_x"],
                gyro_over_full_scale=h["gyro_x"],
                hit_s=h["t"],
                duration_ms=h["n_s"] * 1000.0,
            )
        event.update(start_s=float(t[i0]), end_s=float(t[i1 - 1]), sample=i0, samples=i1 - i0)
        truth.append(event)
    return truth


def _plan_outages(
    rng: np.random.Generator, config: SimConfig, duration_s: float, roles: tuple[Role, ...]
) -> dict[Role, list[tuple[float, float]]]:
    plan: dict[Role, list[tuple[float, float]]] = {r: [] for r in roles}
    for _ in range(config.outages):
        role = roles[int(rng.integers(len(roles)))]
        start = rng.uniform(0.1, 0.9) * duration_s
        plan[role].append((start, start + rng.uniform(2.0, 8.0)))
    return {r: sorted(v) for r, v in plan.items()}


def _simulate_strap(
    role: Role,
    rate_hz: float,
    choreo: Choreography,
    body: Body,
    config: SimConfig,
    rng: np.random.Generator,
    link_rng: np.random.Generator,
    outages: list[tuple[float, float]],
    hits: list[dict[str, Any]] | None = None,
) -> SimulatedStream:
    mounting = random_mounting(rng, role, config.mounting)
    errors = random_errors(rng, config.noise)
    clock = random_clock(rng, config.drift_ppm)
    t, device_t = clock.sample_times(rate_hz, choreo.duration_s)
    joints = choreo.evaluate(t)
    motion = (shin_motion if role == "shin" else head_motion)(body, joints, mounting.offset_m)
    R_adj, w_adj, a_adj = _adjustments(choreo, role, t)
    wobbles = [w for w in choreo.wobbles if w.sensor == role]
    if wobbles:
        R_adj, w_adj, a_adj = _wobble(wobbles, t, R_adj, w_adj, a_adj)
    acc, gyro_rps = sensor_readings(motion, mounting.R, R_adj, w_adj, a_adj)
    acc, gyro = apply_errors(rng, errors, acc, np.degrees(gyro_rps), rate_hz)
    hit_truth = []
    if hits:
        acc_fs, gyro_fs = config.acc_range_g * G_MPS2, config.gyro_range_dps
        hit_truth = _apply_hits(role, hits, t, acc, gyro, acc_fs, gyro_fs)
    acc_counts, acc = quantise(acc, config.acc_range_g * G_MPS2)
    gyro_counts, gyro = quantise(gyro, config.gyro_range_dps)
    starts, arrival, kept = packetise(link_rng, t, rate_hz, config.loss, outages)
    info = SensorInfo(
        role=role,
        kind="simulated",
        rate_hz=rate_hz,
        name=f"SIM-{role.upper()}",
        address=f"SIM:{'01' if role == 'shin' else '02'}",
        firmware="simulator",
        acc_range_g=config.acc_range_g,
        gyro_range_dps=config.gyro_range_dps,
        calibration={
            "true_mounting": mounting.to_dict(),
            "true_errors": errors.to_dict(),
            "true_clock": asdict(clock),
        },
    )
    stream = SimulatedStream(
        info, t, device_t, acc, gyro, acc_counts, gyro_counts, starts, arrival, kept,
        mounting, errors, clock, outages, hit_truth,
    )  # fmt: skip
    if hit_truth:
        received = stream.kept
        for h in hit_truth:
            h["received"] = bool(received[h["sample"] : h["sample"] + h["samples"]].all())
    return stream


def _adjustments(
    choreo: Choreography, role: Role, t: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Mounting changes of a strap being handled: rotation, its rate and the jostle, per sample."""
    adjs = sorted((a for a in choreo.adjustments if a.sensor == role), key=lambda a: a.t0_s)
    if not adjs:
        return None, None, None
    n = len(t)
    R = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    w = np.zeros((n, 3))
    acc = np.zeros((n, 3))
    R_res = np.eye(3)  # what earlier handling left changed
    for adj in adjs:
        i0, i1 = np.searchsorted(t, [adj.t0_s, adj.t0_s + adj.duration_s])
        u = np.asarray(adj.axis)
        tr = adj.rotation.evaluate(t[i0:i1])
        R[i0:i1] = R_res @ rot_axis(u, tr.q)
        w[i0:i1] = (R_res @ u)[None, :] * tr.qd[:, None]
        acc[i0:i1] = np.stack([j.evaluate(t[i0:i1]).qdd for j in adj.jostle], -1)
        R_res = R_res @ rot_axis(u, np.float64(sum(m.delta for m in adj.rotation.moves)))
        R[i1:] = R_res
    return R, w, acc


def _wobble(
    wobbles: list[StrapWobble],
    t: np.ndarray,
    R: np.ndarray | None,
    w: np.ndarray | None,
    acc: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compose a strap's bump wobbles (rotation about the strap's own centre) with its
    handling: mounting change ``R @ R_wobble``, rate ``w + R·(u q̇)`` in the segment frame."""
    n = len(t)
    if R is None or w is None or acc is None:
        R = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
        w, acc = np.zeros((n, 3)), np.zeros((n, 3))
    for wob in wobbles:
        i0, i1 = np.searchsorted(t, [wob.t0_s, wob.t0_s + wob.duration_s])
        if i1 <= i0:
            continue
        u = np.asarray(wob.axis)
        tr = wob.rotation.evaluate(t[i0:i1])
        w[i0:i1] = w[i0:i1] + np.einsum("nij,j->ni", R[i0:i1], u) * tr.qd[:, None]
        R[i0:i1] = R[i0:i1] @ rot_axis(u, tr.q)
    return R, w, acc


class SimulatedSource(SourceBase):
    """Stream a simulated session in real time (or ``speed`` × faster) as a :class:`Source`."""

    def __init__(self, session: SimulatedSession, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.session = session
        self.speed = speed
        self._t0: float | None = None

    @property
    def sensors(self) -> dict[Role, SensorInfo]:
        return self.session.sensors

    async def _open(self) -> None:
        self._t0 = asyncio.get_running_loop().time()

    async def _close(self) -> None:
        self._t0 = None

    async def _items(self) -> AsyncIterator[SampleBlock | SourceEvent]:
        if self._t0 is None:
            raise RuntimeError("use 'async with SimulatedSource(...)' before iterating")
        loop = asyncio.get_running_loop()
        for arrival, item in self.session.timeline():
            if math.isfinite(self.speed):
                delay = self._t0 + arrival / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            yield item


_LINK_FAULTS = {"loss": "loss", "outages": "outages", "drift-ppm": "drift_ppm", "noise": "noise"}
#: ``--faults`` names of the disturbances: the field a number sets, and the kind whose
#: severity (mild / typical / severe) a word sets
_DISTURBANCE_FAULTS = {
    "knocks": ("knocks_per_min", "knocks"),
    "bumps": ("bumps_per_min", "bumps"),
    "saturation": ("saturation_per_min", "saturation"),
    "sway": ("sway_deg", "sway"),
    "sway-max-still-s": ("sway_max_still_s", None),
    "slides": ("seat_slides", "seat_slides"),
    "slide-deg": ("slide_deg", None),
    "short-returns": ("short_returns", "short_returns"),
    "no-still-start": ("no_still_start", "no_still_start"),
    "start-still-s": ("start_still_s", None),
}


def _parse_faults(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(SimConfig keywords, Disturbances keywords)`` of a ``--faults`` string."""
    names = [*_LINK_FAULTS, *_DISTURBANCE_FAULTS, "all"]
    link: dict[str, Any] = {}
    dist: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        value = value.strip()
        if not sep or key not in names:
            raise ValueError(f"unknown fault {part!r}; use {', '.join(k + '=N' for k in names)}")
        if key == "all" or (key in _DISTURBANCE_FAULTS and value in SEVERITIES):
            kinds = DISTURBANCE_KINDS if key == "all" else (_DISTURBANCE_FAULTS[key][1],)
            if value not in SEVERITIES or None in kinds:
                raise ValueError(f"fault {key} takes {' / '.join(SEVERITIES)}, got {value!r}")
            for kind in kinds:
                dist.update(DISTURBANCE_LEVELS[str(kind)][value])
            continue
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"fault {key} needs a number, got {value!r}") from None
        if key in _LINK_FAULTS:
            link[_LINK_FAULTS[key]] = int(v) if key == "outages" else v
        else:
            field_name = _DISTURBANCE_FAULTS[key][0]
            dist[field_name] = (
                bool(v) if field_name == "no_still_start" else int(v) if key == "slides" else v
            )
    return link, dist


def parse_faults(text: str) -> dict[str, Any]:
    """Parse ``"loss=0.02,outages=1,drift-ppm=80,knocks=9,sway=typical"`` into ``SimConfig``
    keyword arguments (disturbances: a number per minute / degrees / count, or a severity;
    ``all=typical`` sets every disturbance; see docs/simulator.md)."""
    link, dist = _parse_faults(text)
    return {**link, "disturbances": Disturbances(**dist)} if dist else link


def with_faults(config: SimConfig, faults: str) -> SimConfig:
    """``config`` with the faults described by ``faults`` (see :func:`parse_faults`); named
    disturbances change, the others stay as they were."""
    link, dist = _parse_faults(faults)
    if dist:
        link["disturbances"] = replace(config.disturbances, **dist)
    return replace(config, **link)
