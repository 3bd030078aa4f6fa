"""Relative motion transfer: the driver's change from its neutral, carried onto the portrait.

The driver's neutral is its first face (or the one taken by Calibrate).  For each
later face we separate

* the head's rigid motion relative to the neutral (rotation, scale, shift), from
* the expression: the landmarks with that head motion undone, minus the neutral.

The expression is turned from the driver's head frame into the portrait's,
scaled to the portrait's face size and added to the portrait's own landmarks;
then the head motion is applied about the portrait's head centre.  The portrait
keeps its identity and face shape; only the motion moves over.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from puppet.motion.pose import rotation_power, similarity_fit
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face
from puppet.tracking.smoothing import OneEuroFilter


@dataclass(frozen=True)
class RetargetSettings:
    """How strongly the driver's motion is carried over, and how much it is smoothed.

    Gains are 1.0 for a faithful copy, 0 to switch a feature off, up to 2 to
    exaggerate.  ``smoothing`` runs from 0 (raw landmarks) to 1 (heavy).
    """

    expression: float = 1.0
    head: float = 1.0
    smoothing: float = 0.5

    def __post_init__(self) -> None:
        for name in ("expression", "head"):
            v = getattr(self, name)
            if not 0.0 <= v <= 3.0:
                raise ValueError(f"{name} gain must be between 0 and 3, got {v}")
        if not 0.0 <= self.smoothing <= 1.0:
            raise ValueError(f"smoothing must be between 0 and 1, got {self.smoothing}")


@dataclass(frozen=True)
class Motion:
    """Where the portrait's landmarks go in one output frame.

    ``landmarks`` (478 x 3, portrait pixels) are the targets.  The head's rigid
    motion (``scale``, ``rotation`` about ``center``, then ``shift``) is kept
    too, so that points beyond the face (hair, neck) can follow the head.
    """

    landmarks: np.ndarray
    rotation: np.ndarray
    scale: float
    center: np.ndarray
    shift: np.ndarray
    neutral: bool = False  # exactly the portrait as it is (the neutral frame itself)

    def move_head_points(self, points: np.ndarray, amount: float = 1.0) -> np.ndarray:
        """Apply the head's rigid motion (a fraction ``amount`` of it) to N x 3 points."""
        pts = np.asarray(points, dtype=np.float64)
        r = rotation_power(self.rotation, amount) if amount != 1.0 else self.rotation
        s = self.scale ** amount
        return s * (pts - self.center) @ r.T + self.center + amount * self.shift


def neutral_motion(portrait: Face) -> Motion:
    """The motion that leaves the portrait exactly as it is."""
    return Motion(landmarks=portrait.landmarks.astype(np.float64), rotation=np.eye(3),
                  scale=1.0, center=portrait.pose.center.copy(), shift=np.zeros(3),
                  neutral=True)


class Retargeter:
    """Turns driver faces into portrait :class:`Motion`, relative to a neutral face."""

    def __init__(self, portrait: Face, settings: RetargetSettings | None = None):
        self.portrait = portrait
        self.settings = settings or RetargetSettings()
        self._portrait_pts = portrait.landmarks.astype(np.float64)
        self._neutral: np.ndarray | None = None
        self._neutral_pose = None
        self._axis_ratio = np.ones(3)
        self._filter = OneEuroFilter()
        self._apply_smoothing()

    # settings ---------------------------------------------------------------
    def update_settings(self, settings: RetargetSettings) -> None:
        self.settings = settings
        self._apply_smoothing()

    def _apply_smoothing(self) -> None:
        s = self.settings.smoothing
        # 0 -> no filtering; 1 -> heavy.  Still landmarks get a low cut-off, moving
        # ones open it up quickly so that talking does not lag.
        self._filter.min_cutoff = 30.0 * (1.0 - s) ** 2 + 0.6
        self._filter.beta = 8.0 * (1.0 - 0.6 * s)

    # neutral ----------------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        return self._neutral is not None

    def calibrate(self, driver: Face) -> None:
        """Take this driver face as the neutral: it maps onto the portrait as it is."""
        self._neutral = driver.landmarks.astype(np.float64).copy()
        self._neutral_pose = driver.pose
        across = self.portrait.pose.scale / max(driver.pose.scale, 1e-9)
        down = _face_height(self._portrait_pts) / max(_face_height(self._neutral), 1e-9)
        self._axis_ratio = np.array([across, down, across])
        self._filter.reset()

    # transfer ---------------------------------------------------------------
    def smooth(self, driver: Face, t: float) -> np.ndarray:
        """The driver's landmarks after the One Euro filter (t in seconds)."""
        pts = driver.landmarks.astype(np.float64)
        if self.settings.smoothing <= 0.0:
            return pts
        return self._filter(pts, t, scale=max(driver.pose.scale, 1.0))

    def motion(self, driver: Face, t: float | None = None) -> Motion:
        """The portrait's motion for this driver face (the first face calibrates)."""
        if self._neutral is None:
            self.calibrate(driver)
        assert self._neutral is not None and self._neutral_pose is not None
        pts = driver.landmarks.astype(np.float64) if t is None else self.smooth(driver, t)
        return self.motion_from_points(pts)

    def motion_from_points(self, pts: np.ndarray) -> Motion:
        assert self._neutral is not None and self._neutral_pose is not None
        if np.array_equal(pts, self._neutral):
            return neutral_motion(self.portrait)
        st = self.settings
        neutral = self._neutral
        # rigid head motion of the driver relative to its neutral
        s, r, t = similarity_fit(neutral[lm.RIGID], pts[lm.RIGID])
        # the expression: undo the head motion, compare with the neutral
        unposed = ((pts - t) @ r) / s
        expression = unposed - neutral
        # from the driver's head frame to the portrait's, scaled by the two faces'
        # widths (across) and heights (up and down), in portrait pixels
        to_head = self._neutral_pose.rotation
        expression_p = ((expression @ to_head) * self._axis_ratio) @ self.portrait.pose.rotation.T
        size_ratio = self._axis_ratio[0]
        # the head motion about the portrait's centre
        c_d = neutral[lm.RIGID].mean(axis=0)
        moved_c = s * r @ c_d + t
        shift = size_ratio * (moved_c - c_d)
        shift[2] = 0.0
        head = st.head
        rot = rotation_power(r, head)
        scale = s ** head
        shift = shift * head
        center = self.portrait.pose.center
        base = self._portrait_pts + st.expression * expression_p
        target = scale * (base - center) @ rot.T + center + shift
        return Motion(landmarks=target, rotation=rot, scale=scale, center=center.copy(),
                      shift=shift)


def _face_height(pts: np.ndarray) -> float:
    return float(np.linalg.norm(pts[lm.CHIN_BOTTOM] - pts[lm.FOREHEAD_TOP]))
