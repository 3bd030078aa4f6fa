"""The ``Face`` record: what the tracker reports for one face in one image."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from puppet.motion.pose import HeadPose, head_pose
from puppet.tracking import landmarks as lm


@dataclass(frozen=True)
class Face:
    """478 landmarks of one face, in the pixels of the image they were found in.

    ``landmarks[:, 0:2]`` are x, y in pixels; ``landmarks[:, 2]`` is MediaPipe's
    relative depth on the same scale (smaller is nearer the camera).
    ``confidence`` is the face detector's score for this face's track.
    """

    landmarks: np.ndarray
    confidence: float
    image_size: tuple[int, int]  # (width, height)
    pose: HeadPose = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pts = np.asarray(self.landmarks, dtype=np.float32)
        if pts.shape != (lm.NUM_LANDMARKS, 3):
            raise ValueError(f"a Face needs {lm.NUM_LANDMARKS} x 3 landmarks, got {pts.shape}")
        pts.setflags(write=False)
        object.__setattr__(self, "landmarks", pts)
        object.__setattr__(self, "pose", head_pose(pts))

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the landmarks."""
        xy = self.landmarks[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return (x1 - x0) * (y1 - y0)

    @property
    def eye_distance(self) -> float:
        """2D distance between the outer eye corners, in pixels."""
        a = self.landmarks[lm.RIGHT_EYE_CORNERS[0], :2]
        b = self.landmarks[lm.LEFT_EYE_CORNERS[0], :2]
        return float(np.linalg.norm(a - b))

    def transformed(self, factor: float, offset: tuple[float, float],
                    image_size: tuple[int, int]) -> Face:
        """This face moved into another image: scaled by ``factor``, then shifted by ``offset``."""
        pts = self.landmarks.astype(np.float64) * factor
        pts[:, 0] += offset[0]
        pts[:, 1] += offset[1]
        return Face(pts.astype(np.float32), self.confidence, image_size)
