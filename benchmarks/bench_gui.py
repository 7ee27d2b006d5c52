"""Dashboard speed: frame rate, sample-to-paint latency, CPU and samples lost, live.

Each scenario runs the real live window (simulated straps streaming in real time through the
hub, the online analyzer, the plots) in a fresh process, in a real window under Xvfb when it is
installed (else Qt's offscreen platform), and measures after a warm-up:

- fps: frames painted per second (a frame is drawn only when new data arrived);
- latency: from a block reaching the dashboard (hub dispatch) to the end of the first paint
  that shows it, ms percentiles;
- CPU: the process's user + system time over wall time, % of one core (Xvfb not included);
- frame work: time to hand one frame's data to the plots and paint them, ms p95 (the
  headroom: 1000 / this is the frame rate the dashboard could sustain);
- lost: samples the source sent minus samples the dashboard received (and analysed);
- lag: how late the event loop delivered blocks against their arrival schedule, ms p95.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"2x100hz": 100.0, "2x1khz": 1000.0}


# -- the measuring child ------------------------------------------------------------------------


class CountingSource:
    """Wraps a simulated source: counts samples sent and how late each block was delivered."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent = 0
        self.lag_s: list[tuple[float, float]] = []  # (loop time, lateness)
        self._t0 = 0.0

    @property
    def sensors(self) -> Any:
        return self.inner.sensors

    async def __aenter__(self) -> CountingSource:
        import asyncio

        await self.inner.__aenter__()
        self._t0 = asyncio.get_running_loop().time()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.inner.__aexit__(*exc)

    def __aiter__(self) -> Any:
        return self._items()

    async def _items(self) -> Any:
        import asyncio

        from collector.model import SampleBlock

        loop = asyncio.get_running_loop()
        async for item in self.inner:
            if isinstance(item, SampleBlock):
                self.sent += len(item)
                now = loop.time()
                self.lag_s.append((now, now - (self._t0 + item.arrival_s)))
            yield item


def measure(rate_hz: float, seconds: float, warmup_s: float) -> dict[str, float]:
    """Run the live window for ``warmup_s + seconds`` and measure (in this process)."""
    import asyncio

    import numpy as np
    import qasync

    from collector.simulator import SimConfig, SimulatedSource, simulate
    from gui.app import make_app
    from gui.dashboard.live_view import LiveWindow

    session = simulate(SimConfig(seed=1, sets=3, reps_per_set=8, rate_hz=rate_hz))
    source = CountingSource(SimulatedSource(session, speed=1.0))
    make_app()
    out: dict[str, float] = {}

    async def main() -> None:
        win = LiveWindow(lambda: source, folder=Path("/nonexistent"))
        win.show()
        win.start()
        await asyncio.sleep(warmup_s)
        frames = win.panel.frames
        frames.reset()
        sent0, received0 = source.sent, sum(win.feed.samples_in.values())
        loop0 = asyncio.get_running_loop().time()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        fps = frames.frames / wall
        lat = np.asarray(frames.latencies_s) * 1000.0
        received = sum(win.feed.samples_in.values())
        hub_lost = sum(st.lost_samples for st in win.hub.stats.values()) if win.hub else 0
        lag = np.asarray([late for t, late in source.lag_s if t >= loop0]) * 1000.0
        out.update(
            fps=fps,
            latency_p50_ms=float(np.percentile(lat, 50)),
            latency_p95_ms=float(np.percentile(lat, 95)),
            latency_p99_ms=float(np.percentile(lat, 99)),
            frame_work_p95_ms=frames.work_ms(95),
            cpu_pct=100.0 * cpu / wall,
            samples_sent=float(source.sent - sent0),
            samples_received=float(received - received0),
            samples_lost=float(source.sent - received + hub_lost),
            lag_p95_ms=float(np.percentile(lag, 95)),
            reps=float(len(win.feed.reps)),
            seconds=wall,
        )
        await win.shutdown()
        win.close()

    qasync.run(main())
    return out


# -- the parent: one fresh process per scenario ---------------------------------------------------


def _run_child(name: str, seconds: float, warmup_s: float, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
           "--seconds", str(seconds), "--warmup-s", str(warmup_s)]  # fmt: skip
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=seconds + warmup_s + 120
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench_gui {name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict[str, float]:
    """Both scenarios; keys ``gui_<scenario>_<figure>`` plus ``gui_display``."""
    from tests.gui.xserver import private_xvfb

    seconds, warmup = (4.0, 2.0) if quick else (30.0, 5.0)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with contextlib.ExitStack() as stack:
        try:  # numbers from 140: clear of the test suite's displays when both run at once
            env.update(stack.enter_context(private_xvfb(first_display=140)))
            display = 1.0
        except (FileNotFoundError, RuntimeError):
            env["QT_QPA_PLATFORM"] = "offscreen"
            display = 0.0
        results: dict[str, float] = {"gui_display": display}
        for name in SCENARIOS:
            for key, value in _run_child(name, seconds, warmup, env).items():
                results[f"gui_{name}_{key}"] = value
    return results


def report(r: dict[str, float]) -> str:
    """The figures as a small table."""
    where = "real window under Xvfb" if r.get("gui_display") else "offscreen"
    lines = [f"dashboard ({where}); targets: ≥ 30 fps, p95 ≤ 50 ms, CPU ≤ 60 % at 2×100 Hz; "
             "≥ 30 fps and 0 lost at 2×1 kHz"]  # fmt: skip
    lines.append(
        "  scenario   fps   latency p50/p95/p99 ms   frame ms p95   CPU %   samples sent  lost"
        "  lag p95 ms"
    )
    for name in SCENARIOS:
        g = {
            k.removeprefix(f"gui_{name}_"): v for k, v in r.items() if k.startswith(f"gui_{name}_")
        }
        lines.append(
            f"  {name:<8} {g['fps']:5.1f}   {g['latency_p50_ms']:5.1f} / {g['latency_p95_ms']:5.1f}"
            f" / {g['latency_p99_ms']:5.1f}   {g['frame_work_p95_ms']:12.1f}"
            f"   {g['cpu_pct']:5.1f}   {g['samples_sent']:12,.0f}"
            f"  {g['samples_lost']:4.0f}  {g['lag_p95_ms']:9.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="4 s per scenario instead of 30 s")
    ap.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    ap.add_argument("--warmup-s", type=float, default=5.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(measure(SCENARIOS[args.child], args.seconds, args.warmup_s)))
        return
    print(report(run(args.quick)))


if __name__ == "__main__":
    main()
