"""The sample model: blocks validate and freeze their arrays; events have known kinds."""

import numpy as np
import pytest

from collector.model import SampleBlock, Source, SourceEvent
from collector.simulator import SimulatedSource
from tests.conftest import cached_session


def test_block_arrays_are_read_only_float64_and_validated():
    b = SampleBlock(
        "head", [0.0, 0.01], [5.0, 5.01], np.ones((2, 3), np.float32), np.zeros((2, 3)), [7, 8]
    )
    assert b.acc_mps2.dtype == np.float64 and not b.acc_mps2.flags.writeable
    assert b.sample_index.dtype == np.int64 and len(b) == 2
    with pytest.raises(ValueError):
        b.time_s[0] = 1.0
    with pytest.raises(ValueError, match="same length"):
        SampleBlock("shin", [0.0], [0.0, 1.0], np.zeros((1, 3)), np.zeros((1, 3)), [0])
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        SampleBlock("shin", [0.0], [0.0], np.zeros((1, 2)), np.zeros((1, 3)), [0])
    with pytest.raises(ValueError, match="role"):
        SampleBlock("knee", [0.0], [0.0], np.zeros((1, 3)), np.zeros((1, 3)), [0])


def test_event_kinds_are_checked():
    assert SourceEvent(1.0, "marker", None, {"text": "x"}).detail == {"text": "x"}
    with pytest.raises(ValueError, match="event kind"):
        SourceEvent(1.0, "exploded")


def test_simulated_source_implements_the_source_protocol():
    assert isinstance(SimulatedSource(cached_session(seed=1, sets=1, reps_per_set=1)), Source)
