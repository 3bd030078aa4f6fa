"""Portraits: reading the image, sizing it for output, finding its face once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from puppet.errors import PuppetError, existing_file
from puppet.tracking.face import Face

DEFAULT_SIZE = 1280
IMAGE_TYPES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Portrait:
    """A portrait ready to animate: the image at output size and its face."""

    image: np.ndarray  # BGR uint8, even width and height
    face: Face
    name: str
    source: str  # a path, or "built-in:<name>"
    faces: int = 1  # how many faces the image shows (a group photo: several)
    face_number: int = 1  # which of them is animated, counted from the left
    # every face's box (x0, y0, x1, y1) in the image's pixels, from the left
    face_boxes: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h


def output_size(width: int, height: int, size: int = DEFAULT_SIZE) -> tuple[int, int]:
    """(w, h) with the longest side at most ``size`` (never enlarged), both even."""
    if size < 64:
        raise PuppetError(f"--size {size} is too small", "use at least 64")
    scale = min(1.0, size / max(width, height))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def read_image(path: str | Path, what: str = "portrait") -> np.ndarray:
    """A BGR uint8 image from a file, or a :class:`PuppetError` saying what went wrong."""
    p = existing_file(path, what, "an image file")
    try:
        data = np.fromfile(str(p), dtype=np.uint8)  # works with any characters in the path
    except OSError as exc:
        raise PuppetError(f"cannot read {what} {p}: {exc.strerror or exc}",
                          "check that the file is readable") from exc
    image = None
    if data.size:
        if _may_see_through(data):
            image = _flattened(cv2.imdecode(data, cv2.IMREAD_UNCHANGED))
        if image is None:  # no see-through parts: decoded as it is shown (EXIF turns too)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise PuppetError(f"{what} {p} is not an image that can be read",
                          "use a JPEG, PNG, BMP, WebP or TIFF file")
    return image


def _may_see_through(data: np.ndarray) -> bool:
    """Whether the file is of a kind that can have an alpha channel (PNG, WebP, TIFF)."""
    head = data[:12].tobytes()
    return (head.startswith(b"\x89PNG") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or head[:4] in (b"II*\x00", b"MM\x00*"))


def _flattened(image: np.ndarray | None) -> np.ndarray | None:
    """An image with see-through parts (a cut-out PNG) laid on white, as image viewers
    show it, BGR uint8; None for an image without an alpha channel.  The colour a file
    keeps under its transparent pixels is arbitrary (often black), and would show."""
    if image is None or image.ndim != 3 or image.shape[2] != 4 \
            or image.dtype not in (np.uint8, np.uint16):
        return None  # no alpha, or an unusual depth: read as it is shown
    full = np.iinfo(image.dtype).max
    if image[..., 3].min() == full and image.dtype == np.uint8:  # an alpha that hides nothing
        return np.ascontiguousarray(image[..., :3])
    colour = image[..., :3].astype(np.float32) / full
    alpha = image[..., 3:4].astype(np.float32) / full
    out = colour * alpha + (1.0 - alpha)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def resize_for_output(image: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    h, w = image.shape[:2]
    ow, oh = output_size(w, h, size)
    if (ow, oh) == (w, h):
        return np.ascontiguousarray(image)
    return cv2.resize(image, (ow, oh), interpolation=cv2.INTER_AREA)


def portrait_from_image(image: np.ndarray, name: str, source: str,
                        size: int = DEFAULT_SIZE, face: int | None = None) -> Portrait:
    """The portrait in ``image``: its largest face, or face number ``face`` counted from
    the left where it shows several (a group photo)."""
    from puppet.tracking.mediapipe_tracker import choose_face, find_faces

    img = resize_for_output(image, size)
    what = f"the portrait {source}"
    faces = find_faces(img, what=what)
    chosen = choose_face(faces, what, face)
    number = next(i for i, f in enumerate(faces, 1) if f is chosen)
    return Portrait(image=img, face=chosen, name=name, source=source, faces=len(faces),
                    face_number=number, face_boxes=tuple(f.bbox for f in faces))


def load_portrait(path: str | Path, size: int = DEFAULT_SIZE, face: int | None = None
                  ) -> Portrait:
    """Read a portrait, size it for output and find its face (errors say what to do);
    ``face``: which face of a group photo, counted from the left (default: the largest)."""
    image = read_image(path, "portrait")
    return portrait_from_image(image, Path(path).stem, str(path), size, face)
