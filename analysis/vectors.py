"""3-vector helpers for rows of N×3 arrays: the same arithmetic as numpy's general functions
(``np.linalg.norm(x, axis=1)``, ``np.cross``), bit for bit, without their per-call overhead,
which dominated on the short arrays of one rep; and the runs of True in a flag array."""

from __future__ import annotations

import numpy as np


def row_norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of ``x`` (N×3): ``np.linalg.norm(x, axis=1)``."""
    return np.sqrt(x[:, 0] * x[:, 0] + x[:, 1] * x[:, 1] + x[:, 2] * x[:, 2])


def cross_rows(r: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``np.cross(r, a)`` of one vector ``r`` with each row of ``a`` (N×3)."""
    out = np.empty_like(a)
    out[:, 0] = r[1] * a[:, 2] - r[2] * a[:, 1]
    out[:, 1] = r[2] * a[:, 0] - r[0] * a[:, 2]
    out[:, 2] = r[0] * a[:, 1] - r[1] * a[:, 0]
    return out


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between rows of ``a`` and vector(s) ``b``, deg."""
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    c = np.einsum("...i,...i->...", a, b) / np.maximum(na * nb, 1e-12)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the runs of True in ``flags`` (ends exclusive)."""
    bad = np.flatnonzero(flags)
    if not len(bad):
        return bad, bad
    split = np.diff(bad) > 1
    return bad[np.r_[True, split]], bad[np.r_[split, True]] + 1
