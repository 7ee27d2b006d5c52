"""A small subset of the accuracy benchmark, run in CI (the full run: docs/accuracy.md)."""

import numpy as np
import pytest

from benchmarks.accuracy import evaluate, session_configs

CONFIGS = [c for i, c in enumerate(session_configs(40)) if i in (0, 4, 9, 13, 17, 22, 26, 31)]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"seed{c.seed}-{c.rate_hz:g}Hz")
def test_counts_times_ranges_and_technique_against_truth(config):
    session, reps = evaluate(config)
    assert session["exact_count"], session
    found = [r for r in reps if r["found"]]
    starts = np.abs([r["start_err_s"] for r in found])
    ends = np.abs([r["end_err_s"] for r in found])
    assert np.median(starts) <= 0.15 and np.median(ends) <= 0.15
    assert np.median(np.abs([r["knee_rom_err_deg"] for r in found])) <= 3.0
    assert np.mean([r["found_held"] == r["true_held"] for r in found]) >= 0.9
    if config.head and config.calibration:
        assert all(r["technique"] == r["true_technique"] for r in found)
