"""When notifications reach the collector over a BLE link: connection events, batching, jitter.

A peripheral may only send at connection events, every connection interval (7.5–50 ms) on the
central's clock; a packet that becomes ready waits for the next event (several ready packets
leave together: batching), is sometimes lost in the air and resent an interval later, and then
crosses the host stack (controller, kernel, bluetoothd, D-Bus) with a small delay of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinkModel:
    """One connection's timing. Times in s of the central's (session) clock."""

    interval_s: float = 0.030
    phase_s: float = 0.0
    stack_delay_s: float = 0.0008
    stack_jitter_s: float = 0.0005
    retransmit_p: float = 0.05

    @classmethod
    def random(cls, rng: np.random.Generator, lo_s: float = 0.0075, hi_s: float = 0.050):
        """A connection with an interval drawn from [lo_s, hi_s] in 1.25 ms steps."""
        steps = rng.integers(round(lo_s / 0.00125), round(hi_s / 0.00125) + 1)
        ci = float(steps) * 0.00125
        return cls(interval_s=ci, phase_s=float(rng.uniform(0, ci)))

    def arrivals(self, ready_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Session times at which packets ready at ``ready_s`` (increasing) reach the host."""
        ready = np.asarray(ready_s, dtype=np.float64)
        k = np.ceil((ready - self.phase_s) / self.interval_s)
        k += rng.geometric(1.0 - self.retransmit_p, len(ready)) - 1  # resent next interval
        event = self.phase_s + k * self.interval_s
        event = np.maximum.accumulate(event)  # in order: a resend holds back later packets
        return event + self.stack_delay_s + rng.uniform(0, self.stack_jitter_s, len(ready))

    def downlink(self, sent_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Session times at which writes sent by the host at ``sent_s`` reach the peripheral."""
        sent = np.asarray(sent_s, dtype=np.float64)
        ready = sent + self.stack_delay_s + rng.uniform(0, self.stack_jitter_s, len(sent))
        k = np.ceil((ready - self.phase_s) / self.interval_s)
        k += rng.geometric(1.0 - self.retransmit_p, len(sent)) - 1
        return np.maximum.accumulate(self.phase_s + k * self.interval_s)
