"""MediaPipe face mesh: 478 landmarks (with irises) of the largest face in a frame.

Uses the face-mesh models that ship inside the ``mediapipe==0.10.21`` wheel, so
it works offline.

The face mesh finds faces with MediaPipe's short-range detector, which looks at the
whole frame shrunk to 128 pixels: in a 1280 x 720 video a face under about 90 pixels
across is never found.  A video tracker that sees no face therefore also looks with
the full-range detector (faces down to about 35 pixels there), and then follows that
face in a square window around it, where it is large.
"""
from __future__ import annotations

import sys
import threading
import types

import cv2
import numpy as np

from puppet.errors import PuppetError, not_installed
from puppet.tracking.face import Face

_GRAPH = "mediapipe/modules/face_landmark/face_landmark_front_cpu.binarypb"
# the files of MediaPipe's package that this graph reads at run time (the short-range face
# detector, the landmark model with attention, i.e. with irises); the desktop bundle
# (build.spec) carries these and no other MediaPipe data
GRAPH_FILES = (
    _GRAPH,
    "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite",
    # the full-range detector that finds small faces (see the module's docstring)
    "mediapipe/modules/face_detection/face_detection_full_range_cpu.binarypb",
    "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
)
# frames without a face between two searches for a small one (a search takes about as
# long as tracking a frame; searching every frame would halve the speed of a video
# whose face is out of view for a while)
SEARCH_EVERY = 10
# frames a small face may be gone from its window (a hand in front of it, a turn away)
# before the whole frame is looked at again
WINDOW_PATIENCE = 30
# frames between two looks, while a face is followed, for a clearly larger one elsewhere
# (the full-range detector, about 6 ms on a 1280 x 720 frame): someone who turned away
# for a moment while another person was in view is taken back within half a second
LARGER_EVERY = 15
# a new track's face mesh runs again on its first picture, each pass from the last one's
# landmarks, until they move less than SETTLE_PIXELS on average, SETTLE_PASSES times at
# most (about 4 ms each, only when a face is found afresh; see FaceTracker._settle)
SETTLE_PASSES = 4
SETTLE_PIXELS = 0.1
# how much wider (the detector's boxes compared) another face must be to be taken instead
LARGER = 1.3
# the detector's box is 1.05-1.46 times as wide as the landmarks' (measured on the driving
# clips, wider on turned faces): where the detector misses the face followed (small, or
# turned aside), its box is taken to be this wide, so that only a clearly larger face wins
DETECTOR_WIDTH = 1.4
_NO_TRIAL = object()  # FaceTracker._trial when no larger face is being tried
# a small face is followed in a square this many of its widths across: a sixth of what the
# short-range detector sees, about 20 of its 128 pixels (it finds faces of 10), and room to
# move before the window must follow (each move makes the graph find the face afresh)
WINDOW_FACES = 6.0

_IMPORT_LOCK = threading.Lock()


def _pyplot_left_out(name: str):
    raise ImportError(f"matplotlib.pyplot.{name}: Puppet imported MediaPipe without "
                      "matplotlib's plotting (only MediaPipe's plot_landmarks uses it)")


def import_mediapipe() -> None:
    """Import MediaPipe without ``matplotlib.pyplot``: importing ``mediapipe`` imports its
    ``solutions.drawing_utils``, which imports pyplot for a plotting helper Puppet never
    calls, and that was 0.32 of the 0.58 s MediaPipe took to import, in every command
    (and every child process of ``puppet bench``).  For the import only, a stand-in answers
    for pyplot (and for matplotlib, when it is not imported yet); then it is taken out of
    ``sys.modules`` again, so a later ``import matplotlib.pyplot`` gets the real one.  (The
    desktop bundle leaves matplotlib out altogether: tools/bundle_runtime_hook.py.)"""
    with _IMPORT_LOCK:
        if "mediapipe" in sys.modules or "matplotlib.pyplot" in sys.modules:
            import mediapipe  # noqa: F401 - already imported, or pyplot is here anyway
            return
        pyplot = types.ModuleType("matplotlib.pyplot")
        pyplot.__getattr__ = _pyplot_left_out  # type: ignore[method-assign]
        stand_ins = {"matplotlib.pyplot": pyplot}
        if "matplotlib" not in sys.modules:
            package = types.ModuleType("matplotlib")
            package.__path__ = []  # a package, with no submodules of its own
            package.pyplot = pyplot  # type: ignore[attr-defined]
            stand_ins["matplotlib"] = package
        sys.modules.update(stand_ins)
        try:
            import mediapipe  # noqa: F401
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]


class FaceTracker:
    """Tracks the largest face in a stream of BGR frames (or in single images).

    ``video=True`` follows a face from frame to frame (fast; the detector only
    runs when the track is lost); ``video=False`` treats every image alone.

    ``max_faces`` (by default 1 for a video, 3 for images): how many faces the face mesh
    looks for, of which the largest is returned.  A video tracker following fewer faces
    than that runs the detector on every frame to look for more, which took a third of
    the tracking time (5.8 against 4.0 ms a frame, the same landmarks); so a video
    follows one face, and every ``LARGER_EVERY`` frames looks for a clearly larger one
    elsewhere to follow instead (the face mesh follows whoever it found first: after
    the person at the camera looked away, someone behind them, until they were lost).

    :meth:`follow_at` follows a face chosen by its place (a click on it) instead, of any
    size, until it is lost.

    ``switches`` counts the times the face followed became another one: one found away
    from where the last one was (neither box holding the other's centre), after a loss,
    for being larger or for being chosen.  Motion measured from one person's neutral face
    means nothing on another's, so the engine takes the new face as the neutral.
    """

    def __init__(self, video: bool = True, max_faces: int | None = None,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        try:
            import_mediapipe()
            from mediapipe.python.solution_base import SolutionBase
        except ImportError as exc:  # pragma: no cover - the package pins it
            raise not_installed(exc, "MediaPipe is not installed",
                                "install Puppet again: pip install .") from exc
        self.video = video
        if max_faces is None:
            max_faces = 1 if video else 3
        self._last_confidence = 0.0
        self._tracking = False
        self._window: tuple[int, int, int] | None = None  # (x0, y0, side): a small face's
        self._misses = 0  # frames in a row without a face
        self._finder = None  # the full-range detector, made when first needed (False: broken)
        self.search_error = ""  # why small faces cannot be looked for, if they cannot
        self.switches = 0  # see the class's docstring
        self._last_box: tuple[float, float, float, float] | None = None  # the face followed
        self._since_look = 0  # frames with a face since the last look for a larger one
        self._trial = _NO_TRIAL  # where the face followed was, while a larger one is tried
        self._wanted: tuple[float, float] | None = None  # follow_at's point, not yet taken
        self._pinned = False  # a face chosen with follow_at: kept until it is lost
        self._min_detection = min_detection_confidence
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
        wanted, self._wanted = self._wanted, None
        if wanted is not None and self.video:
            self._go_to(rgb, *wanted)
        face = self._follow(rgb)
        if face is None and self._window is None:
            self._pinned = False  # the chosen face is given up: the largest one again
        if self._trial is not _NO_TRIAL:
            back, self._trial = self._trial, _NO_TRIAL
            if face is None:  # no face where the detector saw a larger one: a false find;
                self._restart(back)  # back to the face followed, in this very frame
                face = self._follow(rgb)
        if face is not None and self.video:
            box = face.bbox
            if self._last_box is not None and not _boxes_meet(box, self._last_box):
                self.switches += 1
            self._last_box = box
            self._since_look += 1
            if self._since_look >= LARGER_EVERY and not self._pinned:
                self._since_look = 0
                self._take_larger(rgb, box)
        return face

    def _follow(self, rgb: np.ndarray) -> Face | None:
        h, w = rgb.shape[:2]
        if self._window is not None and (self._window[0] + self._window[2] > w
                                         or self._window[1] + self._window[2] > h):
            self._restart(None)  # the frames got smaller (another source): start afresh
        if self._window is not None:
            face = self._track_in_window(rgb)
            if face is not None:
                self._misses = 0
                return face
            self._misses += 1
            if self._misses <= WINDOW_PATIENCE:
                # gone from its window (a hand, a turn away): look there again next frame,
                # where it is found at once when it comes back; now and then everywhere
                # (not while a chosen face is kept: the search would take whoever is surest)
                if self._pinned or not self._search_due():
                    return None
                return self._search(rgb, keep=True)
            self._restart(None)  # gone for a while: the whole frame again
        face = self._track_in(rgb, 0, 0, (w, h))
        if face is not None or not self.video:
            self._misses = 0
            return face
        self._misses += 1
        return self._search(rgb, keep=False) if self._search_due() else None

    def _search_due(self) -> bool:
        """The first frame without a face looks for a small one at once, then every tenth."""
        return (self._misses - 1) % SEARCH_EVERY == 0

    def _search(self, rgb: np.ndarray, keep: bool) -> Face | None:
        """Look for a small face with the full-range detector; follow it in a window
        around it where there is one.  ``keep``: stay with the current window if none
        is found."""
        window = self._small_face_window(rgb)
        if window is None:
            return None
        self._restart(window)
        face = self._track_in_window(rgb)
        if face is not None:
            self._misses = 0
        elif not keep:
            self._restart(None)
        return face

    def _track_in(self, rgb: np.ndarray, x0: int, y0: int,
                  frame_size: tuple[int, int]) -> Face | None:
        """The largest face in ``rgb``, a part of a frame of ``frame_size`` at (x0, y0)."""
        h, w = rgb.shape[:2]
        result = self._graph.process({"image": rgb})
        faces = result.multi_face_landmarks
        detections = result.face_detections
        if faces and self.video and not self._tracking:
            # a new track: the detector's crop gives landmarks a little off those that
            # tracking gives on the very same picture, and tracking takes a few frames
            # to settle from there; settle at once, on this picture, so that the first
            # face (the neutral) matches the ones after it
            faces = self._settle(rgb, faces)
        self._tracking = bool(faces)
        if not faces:
            self._last_confidence = 0.0
            return None
        scale = np.array([w, h, w], dtype=np.float32)
        best, best_area = None, -1.0
        for f in faces:
            pts = landmark_array(f) * scale
            span = pts[:, :2].max(axis=0) - pts[:, :2].min(axis=0)
            area = float(span[0] * span[1])
            if area > best_area:
                best, best_area = pts, area
        assert best is not None
        if detections:
            self._last_confidence = _score_for(best, detections, w, h)
        elif self._last_confidence == 0.0:
            self._last_confidence = 0.5  # tracked without a detection this run: unknown
        if x0 or y0:
            best[:, 0] += x0
            best[:, 1] += y0
        return Face(best, self._last_confidence, frame_size)

    def _settle(self, rgb: np.ndarray, faces: list) -> list:
        """The face mesh again on the same picture, each pass from the last one's crop,
        until the landmarks move less than SETTLE_PIXELS (on average) or after
        SETTLE_PASSES passes.  On the sample driving clips' first frames one pass left
        them 0.45 to 0.97 pixels from where tracking the still picture settles, and the
        next frames came 0.1 to 0.4 pixels apart (0.6 to 1 from the first): the portrait
        jumped when the render began; four left 0.04 to 0.25."""
        h, w = rgb.shape[:2]
        scale = np.array([w, h], dtype=np.float32)
        before = landmark_array(faces[0])[:, :2] * scale
        for _ in range(SETTLE_PASSES):
            again = self._graph.process({"image": rgb}).multi_face_landmarks
            if not again or len(again) != len(faces):
                break
            faces = again
            now = landmark_array(faces[0])[:, :2] * scale
            moved = float(np.linalg.norm(now - before, axis=1).mean())
            before = now
            if moved < SETTLE_PIXELS:
                break
        return faces

    def _track_in_window(self, rgb: np.ndarray) -> Face | None:
        """The face followed in its window; moves the window (from the next frame) when
        the face nears its edge or changes size.  A face that grows stays in a window
        that grows with it, up to the frame's height: leaving the window for the whole
        frame would need the short-range detector again, which misses some faces."""
        assert self._window is not None
        h, w = rgb.shape[:2]
        x0, y0, side = self._window
        face = self._track_in(np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side]),
                              x0, y0, (w, h))
        if face is None:
            return None
        fx0, fy0, fx1, fy1 = face.bbox
        width = fx1 - fx0
        cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
        window = _window_around(cx, cy, width, w, h)
        off_centre = max(abs(cx - (x0 + side / 2)), abs(cy - (y0 + side / 2))) > side / 3
        resized = (not side / (WINDOW_FACES * 1.6) <= width <= side / (WINDOW_FACES / 1.6)
                   and abs(window[2] - side) > 0.1 * side)  # not when held by the frame
        if (off_centre or resized) and window != self._window:
            self._restart(window)
        return face

    def _detect(self, rgb: np.ndarray) -> list:
        """The full-range detector's detections in the frame (none where it cannot run)."""
        if self._finder is None:
            try:
                self._finder = small_face_detector(self._min_detection)
            except Exception as exc:  # noqa: BLE001 - a broken install: 'puppet doctor' says so
                self._finder = False
                self.search_error = f"{type(exc).__name__}: {exc}"
        if self._finder is False:
            return []
        return list(self._finder.process(rgb).detections or [])

    def follow_at(self, x: float, y: float) -> None:
        """From the next frame, follow the face at (x, y) (the frame's pixels; someone
        chosen with a click), and keep it, whatever its size, until it is given up (gone
        from its window for WINDOW_PATIENCE frames).  May be called from another thread
        than the one that tracks."""
        self._wanted = (float(x), float(y))

    def _go_to(self, rgb: np.ndarray, x: float, y: float) -> None:
        """Follow the face whose detector box holds (x, y), where there is one: looked for
        in the whole frame, then in squares around the point (a face far back is too small
        for the detector in the whole frame)."""
        h, w = rgb.shape[:2]
        for side in (0, min(w, h) // 2, min(w, h) // 4):
            x0 = y0 = 0
            part = rgb
            if side:
                x0 = int(min(max(x - side / 2, 0), w - side))
                y0 = int(min(max(y - side / 2, 0), h - side))
                part = np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side])
            ph, pw = part.shape[:2]
            for det in self._detect(part):
                b = det.location_data.relative_bounding_box
                bx0, by0 = x0 + b.xmin * pw, y0 + b.ymin * ph
                bx1, by1 = bx0 + b.width * pw, by0 + b.height * ph
                if _box_holds((bx0, by0, bx1, by1), x, y):
                    self._restart(_window_around((bx0 + bx1) / 2, (by0 + by1) / 2,
                                                 bx1 - bx0, w, h))
                    self._pinned = True
                    self._since_look = 0
                    return

    def _take_larger(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> None:
        """Follow a face clearly larger than the one in ``box``, from the next frame, where
        the detector sees one away from it (compared with the detector's own box for the
        face followed, where it sees that one too)."""
        h, w = rgb.shape[:2]
        found = []
        for det in self._detect(rgb):
            b = det.location_data.relative_bounding_box
            found.append(((b.xmin + b.width / 2) * w, (b.ymin + b.height / 2) * h, b.width * w))
        own = [width for cx, cy, width in found if _box_holds(box, cx, cy)]
        # the landmarks' width, or their height where a turned head makes it narrow
        landmarks = max(box[2] - box[0], 0.8 * (box[3] - box[1]))
        size = max(own) if own else DETECTOR_WIDTH * landmarks
        others = [f for f in found if not _box_holds(box, f[0], f[1]) and f[2] >= LARGER * size]
        if others:
            cx, cy, width = max(others, key=lambda f: f[2])
            self._trial = self._window
            self._restart(_window_around(cx, cy, width, w, h))

    def _small_face_window(self, rgb: np.ndarray) -> tuple[int, int, int] | None:
        """A window around the face the full-range detector is surest of, or None."""
        h, w = rgb.shape[:2]
        detections = self._detect(rgb)
        if not detections:
            return None
        best = max(detections, key=lambda d: float(d.score[0]) if d.score else 0.0)
        box = best.location_data.relative_bounding_box
        return _window_around((box.xmin + box.width / 2) * w, (box.ymin + box.height / 2) * h,
                              box.width * w, w, h)

    def _restart(self, window: tuple[int, int, int] | None) -> None:
        """Follow the face in ``window`` (x0, y0, side) from now on, or in the whole frame
        (None); the graph forgets its track, whose place was relative to the old picture."""
        self._window = window
        self._graph.reset()
        self._tracking = False

    def close(self) -> None:
        graph, self._graph = getattr(self, "_graph", None), None
        if graph is not None:
            graph.close()
        finder, self._finder = getattr(self, "_finder", None), None
        if finder:
            finder.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def small_face_detector(min_confidence: float = 0.5):
    """MediaPipe's full-range face detector (faces down to about 35 pixels in a 1280 x 720
    frame): ``.process(rgb).detections``."""
    import_mediapipe()
    from mediapipe.python.solutions.face_detection import FaceDetection

    return FaceDetection(model_selection=1, min_detection_confidence=min_confidence)


def _window_around(cx: float, cy: float, width: float, w: int, h: int) -> tuple[int, int, int]:
    """A square (x0, y0, side) of WINDOW_FACES face widths centred on (cx, cy) as far as
    the frame allows, on even pixels."""
    side = int(min(max(WINDOW_FACES * width, 96.0), w, h)) // 2 * 2
    x0 = int(round(min(max(cx - side / 2, 0), w - side))) // 2 * 2
    y0 = int(round(min(max(cy - side / 2, 0), h - side))) // 2 * 2
    return x0, y0, side


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


# faces looked for in a portrait (a group photo); the face mesh's own pass finds the large ones
PORTRAIT_FACES = 8


def _box_holds(box: tuple[float, float, float, float], x: float, y: float) -> bool:
    """Whether the point lies within the box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return bool(x0 <= x <= x1 and y0 <= y <= y1)


def _boxes_meet(a: tuple[float, float, float, float],
                b: tuple[float, float, float, float]) -> bool:
    """Whether either box holds the other's centre (one face, moved a little)."""
    return _box_holds(a, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2) or \
        _box_holds(b, (a[0] + a[2]) / 2, (a[1] + a[3]) / 2)


def _holds(face: Face, x: float, y: float) -> bool:
    """Whether the point lies within the face's box."""
    return _box_holds(face.bbox, x, y)


def _same_face(a: Face, b: Face) -> bool:
    """Whether two finds are one face: either's centre inside the other's box."""
    def centre(f: Face) -> tuple[float, float]:
        return float(f.landmarks[:, 0].mean()), float(f.landmarks[:, 1].mean())
    return _holds(b, *centre(a)) or _holds(a, *centre(b))


def _mesh_in_box(tracker: FaceTracker, image_bgr: np.ndarray, cx: float, cy: float,
                 width: float) -> Face | None:
    """The face mesh on a square about three face widths around (cx, cy), enlarged when
    small (the mesh's detector likes faces of at least ~100 pixels); the largest face
    there, in the image's pixels."""
    h, w = image_bgr.shape[:2]
    side = int(min(max(3.0 * width, 64.0), w, h))
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    tile = image_bgr[y0:y0 + side, x0:x0 + side]
    factor = max(1.0, 320.0 / side)
    if factor > 1.0:
        tile = cv2.resize(tile, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(np.ascontiguousarray(tile), cv2.COLOR_BGR2RGB)
    face = tracker._track_in(rgb, 0, 0, (rgb.shape[1], rgb.shape[0]))
    if face is None:
        return None
    return face.transformed(1.0 / factor, (x0, y0), (w, h))


def find_faces(image_bgr: np.ndarray, what: str = "the portrait") -> list[Face]:
    """Every face in a still image (a group photo), from left to right.

    The face mesh's own pass finds the large faces; MediaPipe's full-range detector
    finds the smaller ones, and the mesh then looks closely around each.  Where neither
    finds a face, overlapping windows are searched (a small face in a large painting),
    which gives at most one.  Raises :class:`PuppetError` when no face is found anywhere.
    """
    h, w = image_bgr.shape[:2]
    with FaceTracker(video=False, max_faces=PORTRAIT_FACES,
                     min_detection_confidence=0.4) as tracker:
        found = _mesh_faces(tracker, image_bgr)
        try:
            finder = small_face_detector(0.5)
        except Exception:  # noqa: BLE001 - a broken install: 'puppet doctor' says so
            finder = None
        if finder is not None:
            with finder:
                candidates = _detect_tiled(finder, image_bgr)
            for cx, cy, width in candidates:
                if any(_holds(f, cx, cy) for f in found):
                    continue
                face = _mesh_in_box(tracker, image_bgr, cx, cy, width)
                if face is not None and not any(_same_face(face, f) for f in found):
                    found.append(face)
        if not found:
            face = _window_search(tracker, image_bgr)
            if face is not None:
                found.append(face)
    if not found:
        raise PuppetError(f"no face found in {what}",
                          "choose an image where one face is seen from the front, "
                          "at least about 60 pixels wide")
    return sorted(found, key=lambda f: f.bbox[0] + f.bbox[2])


def _detect_tiled(finder, image_bgr: np.ndarray) -> list[tuple[float, float, float]]:
    """Faces the full-range detector sees in the whole image and in its four overlapping
    corners (each 0.6 of it: faces a group photo shows side by side come out larger there),
    as (centre x, centre y, width) in the image's pixels, surest first."""
    h, w = image_bgr.shape[:2]
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    tw, th = int(w * 0.6), int(h * 0.6)
    tiles = [(0, 0, w, h)] + [(x0, y0, tw, th) for y0 in (0, h - th) for x0 in (0, w - tw)]
    found = []
    for x0, y0, tw_, th_ in tiles:
        tile = np.ascontiguousarray(rgb[y0:y0 + th_, x0:x0 + tw_])
        for det in finder.process(tile).detections or []:
            box = det.location_data.relative_bounding_box
            score = float(det.score[0]) if det.score else 0.0
            found.append((score, x0 + (box.xmin + box.width / 2) * tw_,
                          y0 + (box.ymin + box.height / 2) * th_, box.width * tw_))
    found.sort(key=lambda d: -d[0])
    return [(cx, cy, width) for _score, cx, cy, width in found]


# One NormalizedLandmark as protobuf writes it when it has x, y and z only: the field
# tag and length of the landmark, then each coordinate's tag and little-endian float.
_LANDMARK_WIRE = np.dtype([("tag", "u1"), ("size", "u1"), ("x_tag", "u1"), ("x", "<f4"),
                           ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])


def landmark_array(landmarks) -> np.ndarray:
    """A NormalizedLandmarkList's points as an N x 3 float32 array (x, y, z).

    Read from the list's serialised bytes in one step where every landmark holds just
    x, y and z (the face mesh's do): reading 478 landmarks' attributes one by one takes
    about 0.2 ms of Python, holding the GIL, in every frame.  Anything else (a
    landmark with visibility or presence, another layout) is read attribute by
    attribute; both give the same float32 values."""
    raw = landmarks.SerializeToString()
    n = len(landmarks.landmark)
    if n and len(raw) == n * _LANDMARK_WIRE.itemsize:
        rec = np.frombuffer(raw, _LANDMARK_WIRE)
        if (np.all(rec["tag"] == 0x0A) and np.all(rec["size"] == 15)
                and np.all(rec["x_tag"] == 0x0D) and np.all(rec["y_tag"] == 0x15)
                and np.all(rec["z_tag"] == 0x1D)):
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)


def _mesh_faces(tracker: FaceTracker, image_bgr: np.ndarray) -> list[Face]:
    """All the faces of the face mesh's own pass over the whole image."""
    h, w = image_bgr.shape[:2]
    result = tracker._graph.process({"image": cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)})
    scale = np.array([w, h, w], dtype=np.float32)
    faces = []
    for f in result.multi_face_landmarks or []:
        pts = landmark_array(f) * scale
        conf = _score_for(pts, result.face_detections or [], w, h) or 0.5
        faces.append(Face(pts, conf, (w, h)))
    return faces


def _window_search(tracker: FaceTracker, image_bgr: np.ndarray) -> Face | None:
    """The surest face in overlapping windows of the image, each enlarged when small."""
    h, w = image_bgr.shape[:2]
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
    return None


def find_face(image_bgr: np.ndarray, what: str = "the portrait", number: int | None = None
              ) -> Face:
    """The face to animate in a still image: the largest, or face ``number`` counted from
    the left (1 is the leftmost) of those :func:`find_faces` finds.

    Raises :class:`PuppetError` when there is no face, or no face of that number.
    """
    return choose_face(find_faces(image_bgr, what), what, number)


def choose_face(faces: list[Face], what: str, number: int | None = None) -> Face:
    if number is None:
        return max(faces, key=lambda f: f.area)
    if not 1 <= number <= len(faces):
        shown = "one face" if len(faces) == 1 else f"{len(faces)} faces"
        raise PuppetError(f"{what} shows {shown}, so there is no face {number}",
                          "choose a face from 1 to "
                          f"{len(faces)}, counted from the left" if len(faces) > 1
                          else "leave the face number out")
    return faces[number - 1]
