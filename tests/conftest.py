"""Shared fixtures: real photographs from installed packages, and clips made from them.

Nothing here reads ../shared or the network.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def grace_photo() -> np.ndarray:
    """matplotlib's sample photograph of Grace Hopper (600 x 512, BGR)."""
    from puppet.artwork import source_photo

    return source_photo()


@pytest.fixture(scope="session")
def grace_face(grace_photo):
    from puppet.tracking.mediapipe_tracker import find_face

    return find_face(grace_photo)


@pytest.fixture(scope="session")
def builtin_portrait_path() -> Path:
    from puppet.artwork import builtin_path

    return builtin_path("grace-sepia")


def turned(points: np.ndarray, yaw: float) -> np.ndarray:
    """Landmarks (N x 3) of the head turned by ``yaw`` degrees about its middle, seen
    from the same place (x and y stay pixels, depth stays depth)."""
    from puppet.motion.pose import euler_to_matrix
    from puppet.tracking import landmarks as lm

    pts = np.asarray(points, np.float64)
    c = pts[lm.RIGID].mean(axis=0)
    return (pts - c) @ euler_to_matrix(yaw, 0.0, 0.0).T + c


def mouth_open_warp(image: np.ndarray, face, amount: float) -> np.ndarray:
    """The image with its jaw dropped by ``amount`` eye-distances and a dark mouth
    painted into the gap (a cv2 warp written for the tests, not Puppet's generator)."""
    if amount <= 0:
        return image.copy()
    pts = face.landmarks
    iod = face.eye_distance
    mx = 0.5 * (pts[61, 0] + pts[291, 0])
    my = 0.5 * (pts[13, 1] + pts[14, 1])
    half_w = 0.5 * abs(pts[291, 0] - pts[61, 0])
    chin = pts[152, 1]
    drop = amount * iod
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    lateral = np.exp(-(((xs - mx) / (1.4 * half_w)) ** 2))
    below = np.clip((ys - my) / max(drop, 1.0), 0.0, 1.0)
    fade = np.clip(1.0 - (ys - chin) / (0.6 * iod), 0.0, 1.0)
    dy = drop * lateral * below * fade
    warped = cv2.remap(image, xs, ys - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gap = np.zeros((h, w), np.uint8)
    cv2.ellipse(gap, (int(mx), int(my + 0.5 * drop)), (int(0.85 * half_w), int(0.45 * drop)),
                0, 0, 360, 255, -1)
    gap = cv2.GaussianBlur(gap, (0, 0), 1.5).astype(np.float32)[..., None] / 255.0
    cavity = np.array([30, 25, 60], np.float32)  # dark red-brown, BGR
    return (warped * (1 - gap) + cavity * gap).astype(np.uint8)


def moved(image: np.ndarray, angle: float, dx: float, dy: float, scale: float,
          centre: tuple[float, float]) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, angle, scale)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]),
                          borderMode=cv2.BORDER_REFLECT)


def driver_schedule(n: int) -> list[tuple[float, float, float, float, float]]:
    """(angle, dx, dy, scale, mouth) for each frame: frame 0 neutral; the mouth opens
    twice; the head tilts and shifts."""
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        mouth = max(0.0, math.sin(2 * math.pi * 2 * t)) * 0.32 if i else 0.0
        out.append((8.0 * math.sin(2 * math.pi * t), 6.0 * math.sin(4 * math.pi * t),
                    3.0 * math.sin(2 * math.pi * t), 1.0 + 0.04 * math.sin(2 * math.pi * t),
                    mouth))
    return out


def write_clip(path: Path, frames: list[np.ndarray], fps: int,
               display_rotation: int | None = None,
               sound: tuple[np.ndarray, int, float] | None = None,
               times: list[float] | None = None, options: dict | None = None) -> Path:
    """An H.264 MP4 of BGR frames; ``display_rotation`` (degrees counter-clockwise)
    goes into the container's display matrix, as a phone writes it; ``sound`` is
    (float32 samples [n, channels], sample rate, start in seconds) for an AAC track;
    ``times`` (seconds, one per frame) gives a variable frame rate, as a phone's clip
    in dim light has; ``options`` go to x264 too (e.g. {"g": "8"}: a key frame every 8)."""
    from fractions import Fraction

    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if display_rotation is not None:
            if not hasattr(stream, "set_display_rotation"):
                pytest.skip("this PyAV cannot write a display rotation")
            stream.set_display_rotation(display_rotation)
        stream.options = {"crf": "16", "preset": "veryfast", **(options or {})}
        if sound is not None:  # every stream is added before the first packet
            samples, rate, start = sound
            layout = "mono" if samples.shape[1] == 1 else "stereo"
            audio = container.add_stream("aac", rate=rate)
            audio.layout = layout
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="bgr24")
            if times is not None:
                vf.pts, vf.time_base = int(round(times[i] * 1000)), Fraction(1, 1000)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            first = int(round(start * rate))
            for k in range(0, len(samples), 1024):
                block = np.ascontiguousarray(samples[k:k + 1024].T, np.float32)
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
                frame.sample_rate, frame.pts = rate, first + k
                for packet in audio.encode(frame):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path


def clip_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a clip, BGR."""
    from puppet.sources.video import VideoFile

    with VideoFile(path) as video:
        return [f.image for f in video.frames()]


def spoken(seconds: float, words: list[tuple[float, float]], level: float = 0.3,
           sr: int = 48000) -> np.ndarray:
    """A mono sound track [n, 1] of ``seconds``: a 300 Hz tone during each word
    (start, end in seconds), silence between them."""
    t = np.arange(int(seconds * sr)) / sr
    on = np.zeros(len(t), bool)
    for start, end in words:
        on |= (t > start) & (t < end)
    return (level * np.sin(2 * np.pi * 300 * t) * on).astype(np.float32)[:, None]


@pytest.fixture(scope="session")
def driving_clip(tmp_path_factory, grace_photo, grace_face):
    """A 36-frame, 24 fps clip of the Grace Hopper photograph: the head tilts and
    shifts (affine warps) and the mouth opens twice (warped open, dark inside).

    Returns (path, fps, list of mouth-open amounts per frame)."""
    crop = grace_photo[60:460, 56:456]  # 400 x 400 around the face
    from puppet.tracking.face import Face

    face = Face(grace_face.landmarks - np.array([56, 60, 0], np.float32),
                grace_face.confidence, (400, 400))
    sched = driver_schedule(36)
    centre = (float(face.landmarks[1, 0]), float(face.landmarks[1, 1]))
    frames = [moved(mouth_open_warp(crop, face, mouth), a, dx, dy, s, centre)
              for a, dx, dy, s, mouth in sched]
    path = write_clip(tmp_path_factory.mktemp("clips") / "driver.mp4", frames, 24)
    return path, 24, [m for *_, m in sched]


@pytest.fixture(scope="session")
def group_portrait(tmp_path_factory, grace_photo):
    """A group portrait: three pictures of faces side by side on a grey wall, a large one
    on the left, a small painted one in the middle, a middle-sized one on the right
    (the face mesh's own pass over the whole picture finds none of them).

    Returns (path, the three pictures' boxes (x0, y0, x1, y1) from the left)."""
    from puppet.artwork import builtin_path

    oil = cv2.imread(str(builtin_path("grace-oil")))
    canvas = np.full((720, 1800, 3), 96, np.uint8)
    boxes = []
    for image, x, y, h in ((grace_photo, 40, 200, 420), (oil, 800, 420, 200),
                           (grace_photo, 1300, 150, 300)):
        w = int(image.shape[1] * h / image.shape[0])
        canvas[y:y + h, x:x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        boxes.append((x, y, x + w, y + h))
    path = tmp_path_factory.mktemp("group") / "group.png"
    cv2.imwrite(str(path), canvas)
    return path, boxes


def two_people(grace_photo, near: bool) -> np.ndarray:
    """A 1280 x 720 room with someone far back on the right (the photograph at 0.45)
    and, where ``near``, someone close to the camera on the left (at 0.9)."""
    frame = np.empty((720, 1280, 3), np.uint8)
    frame[...] = np.linspace(160, 100, 1280, dtype=np.float32)[None, :, None]
    far = cv2.resize(grace_photo, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    frame[200:200 + far.shape[0], 960:960 + far.shape[1]] = far
    if near:
        close = cv2.resize(grace_photo, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA)
        frame[100:100 + close.shape[0], 60:60 + close.shape[1]] = close
    return frame


TWO_PEOPLE_NEAR_AWAY = range(20, 30)  # frames of the clip below where the near one is away


@pytest.fixture(scope="session")
def two_people_clip(tmp_path_factory, grace_photo) -> Path:
    """70 frames at 25 fps of :func:`two_people`: the near one turns away (is gone) for
    frames 20-29 and is back from frame 30."""
    frames = [two_people(grace_photo, i not in TWO_PEOPLE_NEAR_AWAY) for i in range(70)]
    return write_clip(tmp_path_factory.mktemp("two") / "two_people.mp4", frames, 25)


def face_centre(face) -> tuple[float, float]:
    return float(face.landmarks[:, 0].mean()), float(face.landmarks[:, 1].mean())


def inside(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    return box[0] < point[0] < box[2] and box[1] < point[1] < box[3]


@pytest.fixture(scope="session")
def full_length(tmp_path_factory, grace_photo):
    """A tall picture (1600 x 2400) whose face is small in it: the photograph as it is,
    high on a shaded wall, as a full-length painting shows a face.

    Returns (path, the picture, the photograph's top-left (x, y) in it)."""
    canvas = np.empty((2400, 1600, 3), np.uint8)
    canvas[...] = np.linspace(70, 170, 2400, dtype=np.float32)[:, None, None]
    canvas[:, :, 0] //= 2
    x, y = 560, 300
    canvas[y:y + grace_photo.shape[0], x:x + grace_photo.shape[1]] = grace_photo
    path = tmp_path_factory.mktemp("full") / "full_length.png"
    cv2.imwrite(str(path), canvas)
    return path, canvas, (x, y)
