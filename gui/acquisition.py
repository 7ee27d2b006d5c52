"""Headless acquisition, one runner for simulated and BLE straps: source → hub → recording, rep
counter and a live status line, until the source ends, a duration passes, Ctrl-C or kill."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.hub import Hub
    from collector.model import Source
    from collector.recording import Recorder
    from gui.status import StatusLine

log = logging.getLogger("flossmeter")

#: Called when acquisition ends (normally, by the user or by an error), with the recorder still
#: open and the source still entered: the place for metadata that is known only at the end.
OnEnd = Callable[["Recorder", Any], None]


@dataclass(frozen=True)
class Acquisition:
    """A headless recording: the source ``make_source()`` returns (entered in the event loop
    that runs it) into ``output`` with ``meta``, for ``duration_s`` (None: until the source ends
    or the process is stopped); ``on_end`` adds what is known only at the end. With ``lsl``
    the samples and reps are also published on Lab Streaming Layer (``collector.lsl``)."""

    make_source: Callable[[], Source]
    output: Path
    meta: dict[str, Any]
    duration_s: float | None = None
    overwrite: bool = False
    on_end: OnEnd | None = None
    lsl: bool = False

    def run(self) -> int:
        """Acquire in a new event loop (Ctrl-C ends it cleanly); print the recording's summary;
        return the exit code."""
        import asyncio

        from collector.recording import load_recording

        try:
            asyncio.run(self.acquire())
        except KeyboardInterrupt:
            print(file=sys.stderr)
            log.info("stopped by the user")
        if self.output.exists():
            print(load_recording(self.output).summary())
        return 0

    async def acquire(self) -> None:
        """Enter the source, record it, count reps and show the status line until it ends,
        ``duration_s`` pass or the process is told to stop (SIGINT, SIGTERM)."""
        import contextlib
        import time

        import analysis.online  # noqa: F401  (~1 s of imports: before the straps stream, not after)
        from collector.hub import Hub
        from collector.recording import Recorder
        from gui.rep_counter import RepCounter
        from gui.status import StatusLine

        stop_on_signals()
        status = StatusLine(sys.stderr)
        async with self.make_source() as source:
            now = getattr(source, "now", None)  # session time of a source that keeps one (BLE)
            start_unix = time.time() - (now() if callable(now) else 0.0)
            with contextlib.ExitStack() as stack:
                rec = stack.enter_context(
                    Recorder(self.output, source.sensors, self.meta, start_unix=start_unix,
                             overwrite=self.overwrite)
                )  # fmt: skip
                counter = RepCounter(source.sensors, status)
                hub = Hub(source, [rec, counter, status])
                if self.lsl:  # after the counter, so it sees each block's reps; closed first
                    hub.add_sink(stack.enter_context(_lsl_outlet(source, counter, rec)))
                status.hub = hub
                try:
                    await run_hub(hub, self.duration_s, status)
                finally:
                    if self.on_end is not None:
                        self.on_end(rec, source)


def _lsl_outlet(source: Source, counter: Any, rec: Recorder) -> Any:
    """The LSL outlet of a recorded session: its streams are noted in the recording."""
    from collector.lsl import LslOutlet

    outlet = LslOutlet.for_source(
        source, lambda: counter.reps, lambda: (len(counter.reps), counter.analyzer.revisions)
    )
    rec.set_meta("lsl", outlet.description())
    return outlet


def stop_on_signals() -> None:
    """Cancel the running task on Ctrl-C or kill (even in the background), so that the
    acquisition's ``finally`` and context managers close the file and release the straps."""
    import asyncio
    import signal

    task = asyncio.current_task()
    if task is not None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)


async def run_hub(hub: Hub, duration_s: float | None, status: StatusLine) -> None:
    """Run ``hub`` until its source ends, ``duration_s`` pass or it is stopped; then let every
    sink with a ``finish`` (e.g. the rep counter) finish, the status line last."""
    import asyncio

    try:
        await hub.run(duration_s=duration_s)
    except asyncio.CancelledError:
        log.info("stopped")
    finally:
        for sink in hub.sinks:
            if sink is not status and hasattr(sink, "finish"):
                sink.finish()
        status.finish()
