"""MediaPipe face mesh: 478 landmarks (with irises) of the largest face in a frame.

Uses the face-mesh models that ship inside the ``mediapipe==0.10.21`` wheel, so
it works offline.
"""
from __future__ import annotations

import cv2
import numpy as np

from puppet.errors import PuppetError
from puppet.tracking.face import Face

_GRAPH = "mediapipe/modules/face_landmark/face_landmark_front_cpu.binarypb"
# the files of MediaPipe's package that this graph reads at run time (the short-range face
# detector, the landmark model with attention, i.e. with irises); the desktop bundle
# (build.spec) carries these and no other MediaPipe data
GRAPH_FILES = (
    _GRAPH,
    "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite",
)
class FaceTracker:
    """Tracks the largest face in a stream of BGR frames (or in single images).

    ``video=True`` follows a face from frame to frame (fast; the detector only
    runs when the track is lost); ``video=False`` treats every image alone.
    """

    def __init__(self, video: bool = True, max_faces: int = 3,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        try:
            from mediapipe.python.solution_base import SolutionBase
        except ImportError as exc:  # pragma: no cover - the package pins it
            raise PuppetError("MediaPipe is not installed",
                              "install Puppet again: pip install .") from exc
        self.video = video
        self._last_confidence = 0.0
        self._tracking = False
        self._graph = SolutionBase(
            binary_graph_path=_GRAPH,
            side_inputs={
                "num_faces": max_faces,
                "with_attention": True,
                "use_prev_landmarks": video,
            },
            calculator_params={
                "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
                "TensorsToDetectionsCalculator.min_score_thresh": min_detection_confidence,
                "facelandmarkcpu__ThresholdingCalculator.threshold": min_tracking_confidence,
            },
            outputs=["multi_face_landmarks", "face_detections"],
        )

    def track(self, frame_bgr: np.ndarray) -> Face | None:
        """The largest face in the frame (BGR), or None."""
        if frame_bgr is None or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError("FaceTracker.track takes an H x W x 3 BGR image")
        return self.track_rgb(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))

    def track_rgb(self, rgb: np.ndarray) -> Face | None:
        """The largest face in an RGB frame (MediaPipe's own order: no conversion), or None."""
        if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("FaceTracker.track_rgb takes an H x W x 3 RGB image")
        h, w = rgb.shape[:2]
        result = self._graph.process({"image": rgb})
        faces = result.multi_face_landmarks
        detections = result.face_detections
        if faces and self.video and not self._tracking:
            # a new track: the detector's crop gives landmarks a little off those that
            # tracking gives on the very same picture; settle into tracking at once so
            # the first face (the neutral) matches the ones after it
            faces = self._graph.process({"image": rgb}).multi_face_landmarks
        self._tracking = bool(faces)
        if not faces:
            self._last_confidence = 0.0
            return None
        scale = np.array([w, h, w], dtype=np.float32)
        best, best_area = None, -1.0
        for f in faces:
            pts = np.array([(p.x, p.y, p.z) for p in f.landmark], dtype=np.float32) * scale
            span = pts[:, :2].max(axis=0) - pts[:, :2].min(axis=0)
            area = float(span[0] * span[1])
            if area > best_area:
                best, best_area = pts, area
        assert best is not None
        if detections:
            self._last_confidence = _score_for(best, detections, w, h)
        elif self._last_confidence == 0.0:
            self._last_confidence = 0.5  # tracked without a detection this run: unknown
        return Face(best, self._last_confidence, (w, h))

    def close(self) -> None:
        graph, self._graph = getattr(self, "_graph", None), None
        if graph is not None:
            graph.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _score_for(pts: np.ndarray, detections: list, w: int, h: int) -> float:
    """The score of the detection whose box holds this face's centre best."""
    cx, cy = pts[:, 0].mean() / w, pts[:, 1].mean() / h
    best_score, best_d = 0.0, 1e9
    for det in detections:
        box = det.location_data.relative_bounding_box
        bx, by = box.xmin + box.width / 2, box.ymin + box.height / 2
        d = (bx - cx) ** 2 + (by - cy) ** 2
        if d < best_d:
            best_d, best_score = d, float(det.score[0]) if det.score else 0.0
    return best_score


def find_face(image_bgr: np.ndarray, what: str = "the portrait") -> Face:
    """The largest face in a still image, looking harder than one pass when needed.

    Small faces in large paintings escape MediaPipe's short-range detector, so
    when the whole image shows none, overlapping windows are searched too.
    Raises :class:`PuppetError` when no face is found anywhere.
    """
    h, w = image_bgr.shape[:2]
    with FaceTracker(video=False, max_faces=3, min_detection_confidence=0.4) as tracker:
        face = tracker.track(image_bgr)
        if face is not None:
            return face
        found: list[Face] = []
        for frac in (0.6, 0.4, 0.25):
            side = int(min(w, h) * frac)
            if side < 48:
                continue
            step = max(1, side // 2)
            for y0 in range(0, max(1, h - side + 1), step):
                for x0 in range(0, max(1, w - side + 1), step):
                    tile = image_bgr[y0:y0 + side, x0:x0 + side]
                    factor = 1.0
                    if side < 320:  # the detector likes faces of at least ~100 pixels
                        factor = 320.0 / side
                        tile = cv2.resize(tile, None, fx=factor, fy=factor,
                                          interpolation=cv2.INTER_CUBIC)
                    f = tracker.track(np.ascontiguousarray(tile))
                    if f is not None:
                        found.append(f.transformed(1.0 / factor, (x0, y0), (w, h)))
            if found:
                return max(found, key=lambda f: (f.confidence, f.area))
    raise PuppetError(f"no face found in {what}",
                      "choose an image where one face is seen from the front, "
                      "at least about 60 pixels wide")
