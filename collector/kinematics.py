"""Rigid-body kinematics of a seated person: joint tracks → strap specific force and rotation.

World frame: x forward, y to the person's left, z up; gravity is −g·z. The pelvis sits on the
chair (it may shift, ``hip_x``/``hip_z``); the thigh is horizontal and rigid with the pelvis, so
the knee is ``thigh_length_m`` ahead of the hip. Two chains hang off it:

* shin: rotates about the knee's medio-lateral (y) axis; orientation ``R_y(−knee)``;
* trunk → head: the trunk flexes at the hip (``R_y(trunk)``), the neck pivot sits
  ``trunk_length_m`` up the trunk, the head pitches about it (``R_y(trunk + neck)``) and turns
  about its own long axis (``R_z(yaw)``).

For a point at ``r`` from a body's origin O the acceleration is the textbook rigid-body sum
``a = a_O + α × r + ω × (ω × r)`` (tangential + centripetal terms), applied down each chain.
An accelerometer measures specific force ``f = a − g_vec = a + g·z``; a gyroscope measures ω;
both in the sensor's own frame ``R_ws`` (world ← sensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collector.constants import G_MPS2
from collector.trajectory import Track

_Z = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Body:
    """Segment lengths of the seated model, m."""

    thigh_length_m: float = 0.45
    trunk_length_m: float = 0.55  # hip joint to the neck's (single, lumped) pivot


@dataclass(frozen=True)
class StrapMotion:
    """World-frame motion of a strap point and orientation of the segment carrying it."""

    R_body: np.ndarray  # (N,3,3) world ← segment
    acc_world_mps2: np.ndarray  # (N,3) linear acceleration of the strap point (no gravity)
    omega_world_rps: np.ndarray  # (N,3) angular velocity of the segment, rad/s


def _rot(c: np.ndarray, s: np.ndarray, i: int, j: int, k: int) -> np.ndarray:
    """Rotation matrices about coordinate axis ``k`` (plane ``i``→``j``), shape (N,3,3)."""
    R = np.zeros((*np.shape(c), 3, 3))
    R[..., k, k] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def rot_y(a: np.ndarray) -> np.ndarray:
    """Rotation matrices about y by angles ``a`` (rad), shape (N,3,3)."""
    return _rot(np.cos(a), np.sin(a), 2, 0, 1)


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotation matrices about z by angles ``a`` (rad), shape (N,3,3)."""
    return _rot(np.cos(a), np.sin(a), 0, 1, 2)


def rot_axis(axis: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Rotation matrices about unit ``axis`` by angles ``a`` (Rodrigues), shape (..., 3, 3)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    a = np.asarray(a, dtype=float)[..., None, None]
    return np.eye(3) + np.sin(a) * k + (1.0 - np.cos(a)) * (k @ k)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N,3) arrays (np.cross is several times slower here)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def _point_acc(
    a_origin: np.ndarray, alpha: np.ndarray, omega: np.ndarray, r: np.ndarray
) -> np.ndarray:
    return a_origin + cross(alpha, r) + cross(omega, cross(omega, r))


def _apply(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nj->ni", R, v)


def shin_motion(body: Body, j: dict[str, Track], offset_m: np.ndarray) -> StrapMotion:
    """Motion of a point at ``offset_m`` in the shin frame (origin at the knee)."""
    n = len(j["knee"].q)
    zeros = np.zeros(n)
    a_hip = np.stack([j["hip_x"].qdd, zeros, j["hip_z"].qdd], -1)
    R = rot_y(-j["knee"].q)
    omega = np.stack([zeros, -j["knee"].qd, zeros], -1)
    alpha = np.stack([zeros, -j["knee"].qdd, zeros], -1)
    r = _apply(R, np.broadcast_to(offset_m, (n, 3)))
    return StrapMotion(R, _point_acc(a_hip, alpha, omega, r), omega)


def head_motion(body: Body, j: dict[str, Track], offset_m: np.ndarray) -> StrapMotion:
    """Motion of a point at ``offset_m`` in the head frame (origin at the neck pivot)."""
    n = len(j["trunk"].q)
    zeros = np.zeros(n)
    a_hip = np.stack([j["hip_x"].qdd, zeros, j["hip_z"].qdd], -1)
    trunk, neck, yaw = j["trunk"], j["neck"], j["yaw"]
    # trunk about the hip: planar, so α × r + ω × (ω × r) reduces to tangential + centripetal
    L = body.trunk_length_m
    ct, st = np.cos(trunk.q), np.sin(trunk.q)
    tangential = trunk.qdd * L
    centripetal = trunk.qd**2 * L
    a_neck = a_hip + np.stack(
        [tangential * ct - centripetal * st, zeros, -tangential * st - centripetal * ct], -1
    )
    # head about the neck pivot: pitch (trunk + neck) then yaw about the head's own long axis
    beta, beta_d, beta_dd = trunk.q + neck.q, trunk.qd + neck.qd, trunk.qdd + neck.qdd
    cb, sb = np.cos(beta), np.sin(beta)
    e = np.stack([sb, zeros, cb], -1)  # head long axis in the world: R_y(beta)·z
    y_hat = np.broadcast_to(np.array([0.0, 1.0, 0.0]), (n, 3))
    omega = beta_d[:, None] * y_hat + yaw.qd[:, None] * e
    alpha = (
        beta_dd[:, None] * y_hat
        + yaw.qdd[:, None] * e
        + (yaw.qd * beta_d)[:, None] * cross(y_hat, e)
    )
    cp, sp = np.cos(yaw.q), np.sin(yaw.q)
    R = np.empty((n, 3, 3))  # R_y(beta) @ R_z(yaw), written out
    R[:, 0, 0], R[:, 0, 1], R[:, 0, 2] = cb * cp, -cb * sp, sb
    R[:, 1, 0], R[:, 1, 1], R[:, 1, 2] = sp, cp, 0.0
    R[:, 2, 0], R[:, 2, 1], R[:, 2, 2] = -sb * cp, sb * sp, cb
    r = _apply(R, np.broadcast_to(offset_m, (n, 3)))
    return StrapMotion(R, _point_acc(a_neck, alpha, omega, r), omega)


def sensor_readings(
    motion: StrapMotion,
    R_mount: np.ndarray,
    R_adjust: np.ndarray | None = None,
    omega_adjust_body_rps: np.ndarray | None = None,
    acc_adjust_body_mps2: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ideal accelerometer (m/s²) and gyroscope (rad/s) readings in the sensor frame.

    ``R_mount`` is segment ← sensor; ``R_adjust`` (segment ← segment, N×3×3) with its angular
    velocity ``omega_adjust_body_rps`` and extra acceleration describe a strap being handled.
    """
    acc = motion.acc_world_mps2 + G_MPS2 * _Z
    acc_b = _apply_T(motion.R_body, acc)  # segment frame
    gyro_b = _apply_T(motion.R_body, motion.omega_world_rps)
    if R_adjust is not None:
        acc_b = _apply_T(R_adjust, acc_b + acc_adjust_body_mps2)
        gyro_b = _apply_T(R_adjust, gyro_b + omega_adjust_body_rps)
    return acc_b @ R_mount, gyro_b @ R_mount


def sensor_orientation(
    motion: StrapMotion, R_mount: np.ndarray, R_adjust: np.ndarray | None = None
) -> np.ndarray:
    """True sensor orientation, world ← sensor (N×3×3)."""
    R = motion.R_body if R_adjust is None else motion.R_body @ R_adjust
    return R @ R_mount


def _apply_T(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``Rᵀ v`` for stacks of matrices and vectors."""
    return np.einsum("nji,nj->ni", R, v)
