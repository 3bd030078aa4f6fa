"""A performance animated by code: talk, blink, smile, nod, turn, raise the brows.

It needs no camera and no video: a neutral face's landmarks are deformed by a
small hand-made rig (jaw, lids, mouth corners, brows, head rotation) following
a ten-second script, and handed on as driver faces.  ``puppet demo`` uses it,
and the live window falls back to it where there is no camera.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from puppet.motion.pose import euler_to_matrix
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face

SCRIPT_SECONDS = 10.0


@dataclass(frozen=True)
class Expression:
    jaw: float = 0.0  # 0 closed .. 1 wide open
    blink_right: float = 0.0  # 0 open .. 1 closed
    blink_left: float = 0.0
    smile: float = 0.0  # 0 .. 1
    brows: float = 0.0  # -1 frown .. 1 raised
    yaw: float = 0.0  # degrees
    pitch: float = 0.0
    roll: float = 0.0


def _bump(t: float, start: float, end: float) -> float:
    """0 outside [start, end], a smooth hill inside."""
    if t <= start or t >= end:
        return 0.0
    x = (t - start) / (end - start)
    return math.sin(math.pi * x) ** 2


def _plateau(t: float, start: float, end: float, ramp: float = 0.35) -> float:
    if t <= start or t >= end:
        return 0.0
    up = min(1.0, (t - start) / ramp)
    down = min(1.0, (end - t) / ramp)
    x = min(up, down)
    return x * x * (3 - 2 * x)


# pseudo-random but fixed syllable loudness, so the demo is the same every time
_SYLLABLES = [0.55, 0.9, 0.4, 0.75, 1.0, 0.35, 0.8, 0.6, 0.95, 0.5, 0.7, 0.85, 0.45, 0.65]


def script(t: float) -> Expression:
    """The expression at time ``t`` seconds into the ten-second script (it loops)."""
    t = t % SCRIPT_SECONDS
    jaw = 0.0
    if 0.8 < t < 4.0:  # talking: about four syllables a second
        phase = (t - 0.8) * 4.2
        k = int(phase)
        loud = _SYLLABLES[k % len(_SYLLABLES)]
        jaw = loud * math.sin(math.pi * (phase - k)) ** 2 * _plateau(t, 0.8, 4.0, 0.2)
    blink = sum(_bump(t, s, s + 0.28) for s in (1.6, 3.5, 6.1, 8.9))
    wink = _bump(t, 5.0, 5.5)  # the right eye alone, while smiling
    smile = _plateau(t, 4.1, 5.8)
    pitch = 11.0 * math.sin(2 * math.pi * 1.3 * (t - 5.9)) * _plateau(t, 5.9, 7.2, 0.3)
    turn = _plateau(t, 7.2, 9.2, 0.4)
    yaw = 20.0 * math.sin(2 * math.pi * 0.5 * (t - 7.2)) * turn
    roll = 5.0 * math.sin(2 * math.pi * 0.5 * (t - 7.2)) * turn
    surprise = _plateau(t, 9.2, 9.9, 0.2)
    brows = surprise - 0.6 * _plateau(t, 3.9, 4.3, 0.1)
    jaw = max(jaw, 0.45 * surprise)
    return Expression(jaw=jaw, blink_right=min(1.0, blink + wink), blink_left=min(1.0, blink),
                      smile=smile, brows=brows, yaw=yaw, pitch=pitch, roll=roll)


class FaceRig:
    """Deforms one neutral face by an :class:`Expression`."""

    def __init__(self, neutral: Face):
        self.neutral = neutral
        pose = neutral.pose
        self.rotation = pose.rotation
        self.center = pose.center
        self.unit = pose.scale  # eye-corner distance in pixels
        pts = neutral.landmarks.astype(np.float64)
        self.local = (pts - self.center) @ self.rotation  # head frame: x right, y down
        q = self.local / self.unit
        mouth_y = 0.5 * (q[13, 1] + q[14, 1])
        mouth_x = 0.5 * (q[61, 0] + q[291, 0])
        chin_y = q[lm.CHIN_BOTTOM, 1]
        half_width = max(0.5 * abs(q[291, 0] - q[61, 0]), 1e-3)
        lateral = np.exp(-(((q[:, 0] - mouth_x) / 0.8) ** 2))
        below = np.clip((q[:, 1] - mouth_y) / max(chin_y - mouth_y, 1e-3), 0.0, 1.0)
        jaw_w = np.where(q[:, 1] > mouth_y, (0.55 + 0.45 * below) * lateral, 0.0)
        lower_lip = list(set(lm.LIPS_INNER_LOWER[1:-1] + lm.LIPS_OUTER_LOWER[1:-1]))
        jaw_w[lower_lip] = lateral[lower_lip]
        upper_lip = list(set(lm.LIPS_INNER_UPPER[1:-1] + lm.LIPS_OUTER_UPPER[1:-1]))
        jaw_w[upper_lip] = 0.0
        corners = list(lm.MOUTH_CORNERS + lm.INNER_MOUTH_CORNERS)
        jaw_w[corners] = 0.45
        self.jaw_w = jaw_w
        self.upper_inner = lm.LIPS_INNER_UPPER[1:-1]
        # smile: mouth points move out and up in proportion to how far out they sit
        side = np.clip((q[:, 0] - mouth_x) / half_width, -1.2, 1.2)
        near_mouth = np.exp(-(((q[:, 1] - mouth_y) / 0.35) ** 2)) * np.exp(
            -(((q[:, 0] - mouth_x) / 0.9) ** 2))
        self.smile_dx = side * near_mouth * 0.10
        self.smile_dy = -np.abs(side) ** 1.5 * near_mouth * 0.07
        cheeks = np.zeros(len(q))
        cheeks[lm.CHEEKS] = 1.0
        self.smile_dy -= cheeks * 0.03
        self.brow_w = np.zeros(len(q))
        self.brow_w[lm.BROWS] = 1.0
        self.brow_w[lm.FOREHEAD] = 0.35
        self.brow_w[lm.RIGHT_EYE_UPPER[1:-1] + lm.LEFT_EYE_UPPER[1:-1]] = 0.2

    def pose(self, e: Expression) -> Face:
        if e == Expression():
            return self.neutral
        q = self.local.copy()
        u = self.unit
        q[:, 1] += e.jaw * 0.28 * u * self.jaw_w
        q[self.upper_inner, 1] -= e.jaw * 0.05 * u
        for amount, upper, lower in ((e.blink_right, lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER),
                                     (e.blink_left, lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER)):
            if amount > 0:
                up, lo = upper[1:-1], lower[1:-1]
                gap = q[lo] - q[up]
                q[up] += amount * 0.88 * gap
                q[lo] -= amount * 0.08 * gap
        q[:, 0] += e.smile * u * self.smile_dx
        q[:, 1] += e.smile * u * self.smile_dy
        q[:, 1] -= e.brows * 0.10 * u * self.brow_w
        turn = euler_to_matrix(e.yaw, e.pitch, e.roll)
        pts = (q @ turn.T) @ self.rotation.T + self.center
        return Face(pts.astype(np.float32), 1.0, self.neutral.image_size)


def performance(neutral: Face, seconds: float = SCRIPT_SECONDS, fps: float = 25.0,
                start: float = 0.0) -> Iterator[tuple[float, Face]]:
    """(time, face) at ``fps`` for ``seconds``: the script played on this face."""
    rig = FaceRig(neutral)
    n = int(round(seconds * fps))
    for i in range(n):
        t = start + i / fps
        yield i / fps, rig.pose(script(t))
