"""Portraits: reading the image, sizing it for output, finding its face once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from puppet import colour, heif
from puppet.errors import PuppetError, existing_file
from puppet.tracking.face import Face

DEFAULT_SIZE = 1280
IMAGE_TYPES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".avif",
               ".heic", ".heif")
IMAGE_KINDS = "JPEG, PNG, BMP, WebP, TIFF, GIF, AVIF or HEIC"


@dataclass(frozen=True)
class Portrait:
    """A portrait ready to animate: the image at output size and its face."""

    image: np.ndarray  # BGR uint8, even width and height
    face: Face
    name: str
    source: str  # a path, or "built-in:<name>"
    faces: int = 1  # how many faces the image shows (a group photo: several)
    face_number: int = 1  # which of them is animated, counted from the left
    # every face's box (x0, y0, x1, y1) in the image's pixels, from the left (with a
    # head-and-shoulders framing, boxes of faces outside the picture lie outside it)
    face_boxes: tuple[tuple[float, float, float, float], ...] = ()
    framing: str = "whole"  # or "head": see FRAMINGS

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h

    @property
    def face_share(self) -> float:
        """The face's height (its mesh's, mid-forehead to chin) in the picture's."""
        x0, y0, x1, y1 = self.face.bbox
        return (y1 - y0) / self.image.shape[0]

    @property
    def face_is_small(self) -> bool:
        """The whole picture, its face a small part of it (a full-length painting): a
        head-and-shoulders framing would show the face much larger."""
        return self.framing == "whole" and self.face_share < SMALL_FACE


# How much of the picture is the portrait: all of it, or a head-and-shoulders crop
# around the face (a full-length painting's face is otherwise a small part of the frame).
FRAMINGS = {"whole": "Whole picture", "head": "Head and shoulders"}
HEAD_FACE_HEIGHT = 0.36  # the face mesh's height (mid-forehead to chin) in the crop's height
HEAD_FACE_CENTRE = 0.42  # where the mesh's centre sits, down from the crop's top
HEAD_ASPECT = 0.8  # width / height of the crop (4:5, a portrait's)
HEAD_MIN_SIZE = 512  # a smaller crop is enlarged to this (longest side), so the face shows
HEAD_WHOLE = 0.8  # a crop that would keep this much of the picture's area keeps it all
# a face under this share of the picture's height would show at least twice as large
# framed head and shoulders (the Sargent's face is 0.15 of its picture, the Mona Lisa's 0.18)
SMALL_FACE = HEAD_FACE_HEIGHT / 2


def head_box(face_box: tuple[float, float, float, float], width: int, height: int
             ) -> tuple[int, int, int, int] | None:
    """The head-and-shoulders crop (x0, y0, x1, y1) of a ``width`` x ``height`` picture
    around a face box (its landmarks' box): within the picture, the face placed as a
    portrait places it where the picture has room.  None when the picture is about
    that crop already (it would keep most of it)."""
    x0, y0, x1, y1 = face_box
    ch = (y1 - y0) / HEAD_FACE_HEIGHT
    cw = ch * HEAD_ASPECT
    cw, ch = min(cw, width), min(ch, height)
    left = (x0 + x1) / 2 - cw / 2
    top = (y0 + y1) / 2 - HEAD_FACE_CENTRE * ch
    # whole pixels, even sides (as output frames have): a crop of the size it is shown
    # at is used as it is, not resampled
    w, h = max(2, int(cw) // 2 * 2), max(2, int(ch) // 2 * 2)
    left = int(round(min(max(left, 0.0), width - w)))
    top = int(round(min(max(top, 0.0), height - h)))
    if w * h >= HEAD_WHOLE * width * height:
        return None
    return left, top, left + w, top + h


def output_size(width: int, height: int, size: int = DEFAULT_SIZE) -> tuple[int, int]:
    """(w, h) with the longest side at most ``size`` (never enlarged), both even."""
    if size < 64:
        raise PuppetError(f"--size {size} is too small", "use at least 64")
    scale = min(1.0, size / max(width, height))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return w, h


def read_image(path: str | Path, what: str = "portrait", small: bool = False) -> np.ndarray:
    """A BGR uint8 image from a file, or a :class:`PuppetError` saying what went wrong.
    ``small``: a thumbnail will do (a HEIC photo's own, where it has one)."""
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
            image = _not_for_opencv(p, data, what, small)
    if image is None:
        raise PuppetError(f"{what} {p} is not an image that can be read",
                          f"use a {IMAGE_KINDS} file")
    # in sRGB, whatever colour space the file says it is in (a phone's photo: Display P3)
    profile = heif.colour_profile(data.tobytes()) if heif.kind(data) else \
        colour.file_profile(data.tobytes())
    return colour.to_srgb(image, profile, what)


def _not_for_opencv(path: Path, data: np.ndarray, what: str, small: bool = False
                    ) -> np.ndarray | None:
    """The picture in a file OpenCV's decoders do not read: a HEIC or AVIF file (see
    :mod:`puppet.heif`), or a GIF (its first frame), decoded with PyAV; a
    :class:`PuppetError` for a video and for a HEIC or AVIF file that cannot be read; None
    for anything else."""
    kind = heif.kind(data)
    if kind is not None:
        try:
            return heif.read_heif(data.tobytes(), thumbnail=small)
        except heif.HeifError as exc:
            photo = "a HEIC photo" if kind == "HEIC" else "an AVIF picture"
            raise PuppetError(f"{what} {path} is {photo} that cannot be read ({exc})",
                              "save it as a JPEG and use that (on a Mac: open it in Preview, "
                              "File > Export, Format JPEG)") from exc
    import av
    still = data[:6].tobytes() in (b"GIF87a", b"GIF89a")
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                return None
            if not still:
                if int(streams[0].frames or 0) > 1 or (container.duration or 0) > 1_000_000:
                    raise PuppetError(f"{what} {path} is a video, not a picture",
                                      f"use a picture ({IMAGE_KINDS}); a video can drive "
                                      "the portrait instead")
                return None
            for frame in container.decode(streams[0]):  # a GIF's first picture
                return _flattened(frame.to_ndarray(format="bgra"))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        pass
    return None


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


def check_framing(framing: str) -> str:
    if framing not in FRAMINGS:
        raise PuppetError(f"there is no framing {framing!r}",
                          "use " + " or ".join(FRAMINGS))
    return framing


def portrait_from_image(image: np.ndarray, name: str, source: str,
                        size: int = DEFAULT_SIZE, face: int | None = None,
                        framing: str = "whole") -> Portrait:
    """The portrait in ``image``: its largest face, or face number ``face`` counted from
    the left where it shows several (a group photo).  ``framing`` "head" makes the
    portrait a head-and-shoulders crop around that face (see :func:`head_box`)."""
    from puppet.tracking.mediapipe_tracker import choose_face, find_faces

    check_framing(framing)
    img = resize_for_output(image, size)
    what = f"the portrait {source}"
    faces = find_faces(img, what=what)
    chosen = choose_face(faces, what, face)
    number = next(i for i, f in enumerate(faces, 1) if f is chosen)
    boxes = tuple(f.bbox for f in faces)
    if framing == "head":
        # the crop is taken from the picture as read, so a large painting's face keeps
        # its own detail rather than the whole picture's output size
        factor = image.shape[1] / img.shape[1]
        box = head_box(tuple(v * factor for v in chosen.bbox), image.shape[1], image.shape[0])
        if box is not None:
            img, chosen, boxes = _head_crop(image, box, size, chosen, boxes, factor, what)
    return Portrait(image=img, face=chosen, name=name, source=source, faces=len(faces),
                    face_number=number, face_boxes=boxes, framing=framing)


def _head_crop(image: np.ndarray, box: tuple[int, int, int, int], size: int, chosen: Face,
               boxes: tuple, factor: float, what: str) -> tuple[np.ndarray, Face, tuple]:
    """The crop at output size (enlarged to HEAD_MIN_SIZE where smaller), its face found
    again there (more exactly than scaled), and every face's box moved into it."""
    from puppet.tracking.mediapipe_tracker import find_faces

    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    longest = max(crop.shape[:2])
    k = min(size, max(longest, HEAD_MIN_SIZE)) / longest
    ow, oh = output_size(round(crop.shape[1] * k), round(crop.shape[0] * k), size)
    if (ow, oh) != (crop.shape[1], crop.shape[0]):
        crop = cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_AREA
                          if ow < crop.shape[1] else cv2.INTER_CUBIC)
    scale = ow / (x1 - x0)  # picture-as-read pixels to crop pixels
    to_crop = factor * scale  # output-size pixels to crop pixels

    def moved(b):
        return ((b[0] * factor - x0) * scale, (b[1] * factor - y0) * scale,
                (b[2] * factor - x0) * scale, (b[3] * factor - y0) * scale)

    expected = chosen.transformed(to_crop, (-x0 * scale, -y0 * scale), (ow, oh))
    ex, ey = expected.landmarks[:, :2].mean(axis=0)
    try:
        again = find_faces(crop, what=what)
    except PuppetError:
        again = []
    near = [f for f in again if _holds(f.bbox, ex, ey)]
    face = min(near, key=lambda f: float(np.hypot(*(f.landmarks[:, :2].mean(axis=0)
                                                    - (ex, ey))))) if near else expected
    return np.ascontiguousarray(crop), face, tuple(moved(b) for b in boxes)


def _holds(box: tuple[float, float, float, float], x: float, y: float) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def load_portrait(path: str | Path, size: int = DEFAULT_SIZE, face: int | None = None,
                  framing: str = "whole") -> Portrait:
    """Read a portrait, size it for output and find its face (errors say what to do);
    ``face``: which face of a group photo, counted from the left (default: the largest);
    ``framing``: the whole picture, or "head" and shoulders around that face."""
    image = read_image(path, "portrait")
    return portrait_from_image(image, Path(path).stem, str(path), size, face, framing)
