"""Head pose from face landmarks: absolute orientation and rigid fits between frames."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from puppet.tracking import landmarks as lm


@dataclass(frozen=True)
class HeadPose:
    """Orientation of a head in the camera frame (x right, y down, z away from the camera).

    ``rotation`` maps head-frame vectors to camera-frame vectors; a face looking
    straight into the camera has the identity.  ``scale`` is the 3D distance
    between the outer eye corners in pixels, ``center`` the centroid of the
    skull's rigid points.
    """

    rotation: np.ndarray
    scale: float
    center: np.ndarray

    @property
    def yaw(self) -> float:
        return euler_degrees(self.rotation)[0]

    @property
    def pitch(self) -> float:
        return euler_degrees(self.rotation)[1]

    @property
    def roll(self) -> float:
        return euler_degrees(self.rotation)[2]


def euler_degrees(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation matrix, Y-X-Z convention."""
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -float(r[2, 0])))))
    pitch = math.degrees(math.atan2(float(r[2, 1]), float(r[2, 2])))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
    return yaw, pitch, roll


def head_pose(points: np.ndarray) -> HeadPose:
    """Absolute head pose from 478 landmarks (x, y, z in pixels).

    The head frame is built from the face itself: x along the line between the
    outer eye corners, y from the top of the forehead down to the chin (made
    orthogonal to x), z their cross product.
    """
    p = np.asarray(points, dtype=np.float64)
    x = p[lm.LEFT_EYE_CORNERS[0]] - p[lm.RIGHT_EYE_CORNERS[0]]
    scale = float(np.linalg.norm(x))
    x = x / max(scale, 1e-9)
    y = p[lm.CHIN_BOTTOM] - p[lm.FOREHEAD_TOP]
    y = y - x * float(np.dot(x, y))
    y = y / max(float(np.linalg.norm(y)), 1e-9)
    z = np.cross(x, y)
    rotation = np.stack([x, y, z], axis=1)
    center = p[lm.RIGID].mean(axis=0)
    return HeadPose(rotation=rotation, scale=scale, center=center)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares s, R, t with ``dst ≈ s * R @ src + t`` (Umeyama), for N x 3 points."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    r = u @ np.diag(d) @ vt
    var_s = (a * a).sum() / len(src)
    s = float((sig * d).sum() / max(var_s, 1e-12))
    t = mu_d - s * r @ mu_s
    return s, r, t


def rotation_power(r: np.ndarray, amount: float) -> np.ndarray:
    """The rotation ``r`` scaled in angle by ``amount`` (about the same axis)."""
    if amount == 1.0:
        return r
    angle = math.acos(max(-1.0, min(1.0, (float(np.trace(r)) - 1.0) / 2.0)))
    if angle < 1e-9:
        return np.eye(3)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    norm = np.linalg.norm(axis)
    if norm < 1e-9:  # 180 degrees: leave it
        return r
    axis /= norm
    return axis_angle(axis, angle * amount)


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' formula."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / max(float(np.linalg.norm(axis)), 1e-12)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def euler_to_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation from (yaw, pitch, roll) in degrees; the inverse of :func:`euler_degrees`."""
    ry = axis_angle(np.array([0.0, 1.0, 0.0]), math.radians(yaw))
    rx = axis_angle(np.array([1.0, 0.0, 0.0]), math.radians(pitch))
    rz = axis_angle(np.array([0.0, 0.0, 1.0]), math.radians(roll))
    return rz @ ry @ rx
