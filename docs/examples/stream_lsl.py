"""Receive a flossmeter session on Lab Streaming Layer: the shin strap's samples and each rep.

Start a session with ``--lsl`` (``flossmeter record --sim --lsl -o s.flossrec``, or ``live``),
then run ``python docs/examples/stream_lsl.py``: it prints each rep as the analysis decides it
and, when the session ends, how many shin samples arrived at what rate. Needs
``pip install 'flossmeter[lsl]'``. Stream layout: docs/lsl-xdf.md.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pylsl
from pylsl.util import LostError


def find(name: str, timeout_s: float) -> pylsl.StreamInlet:
    """An open inlet on the stream called ``name`` (waits up to ``timeout_s``)."""
    found = pylsl.resolve_byprop("name", name, 1, timeout_s)
    if not found:
        raise SystemExit(f"no LSL stream {name!r} in {timeout_s:g} s: is flossmeter running --lsl?")
    inlet = pylsl.StreamInlet(found[0], recover=False)
    inlet.open_stream(timeout=10.0)
    return inlet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wait-s", type=float, default=30.0, help="how long to look for the streams")
    args = p.parse_args()
    shin, reps = find("flossmeter-shin", args.wait_s), find("flossmeter-reps", args.wait_s)
    zero = float(shin.info().desc().child("flossmeter").child_value("session_zero_lsl_s"))
    print(f"receiving {shin.info().source_id()} at {shin.info().nominal_srate():g} Hz", flush=True)
    stamps: list[float] = []
    live = {"shin": shin, "reps": reps}
    while live:  # until the session ends and both outlets are gone
        for key, inlet in list(live.items()):
            try:
                data, t = inlet.pull_chunk(timeout=0.05)
            except LostError:
                del live[key]
                continue
            if key == "shin":
                stamps += t
                continue
            for (text,), ts in zip(data, t, strict=True):
                m = json.loads(text)
                again = f" (scored again, revision {m['revision']})" if m["revision"] else ""
                print(
                    f"rep {m['rep']} (set {m['set']}): {m['technique']}, "
                    f"quality {m['quality']:.0f}, {ts - zero:.2f}–{m['end_s']:.2f} s{again}",
                    flush=True,
                )
    if len(stamps) > 1:
        rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        step_ms = np.median(np.diff(stamps)) * 1e3
        print(f"shin: {len(stamps)} samples at {rate:.1f} Hz (median step {step_ms:.1f} ms)")


if __name__ == "__main__":
    main()
