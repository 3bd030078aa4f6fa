"""Fitting a frame into a fixed picture size: letterboxed (all of it), cropped (filled, the
face kept in view) or a close-up of the face (as a call shows a person)."""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Fit = Literal["letterbox", "crop", "face"]
FITS: tuple[str, ...] = ("letterbox", "crop", "face")
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in the frame's pixels

# a close-up shows the face's landmarks (brows to chin) this tall in the picture, their
# centre this far down it: head and shoulders, with room above the head, as webcams frame
FACE_HEIGHT = 0.42
FACE_CENTRE = 0.55


def crop_window(frame_size: tuple[int, int], size: tuple[int, int], fit: Fit,
                face: Box | None) -> tuple[int, int, int, int]:
    """The part of a frame of ``frame_size`` (w, h) that ``crop`` or ``face`` shows in a
    picture of ``size``: (x, y, w, h), of the picture's shape, within the frame.

    ``crop``: the largest such part, around the face where one is given (a tall portrait
    cropped evenly would lose the head); ``face``: a close-up of the face (its box
    FACE_HEIGHT of the picture's height, or as close as the frame allows)."""
    fw, fh = frame_size
    aspect = size[0] / size[1]
    cw, ch = (fw, fw / aspect) if fw / fh < aspect else (fh * aspect, fh)  # the largest
    if face is None:
        cx, cy = fw / 2, fh / 2
    else:
        x0, y0, x1, y1 = face
        if fit == "face":
            scale = min(1.0, (y1 - y0) / FACE_HEIGHT / ch)
            cw, ch = cw * scale, ch * scale
        cx = (x0 + x1) / 2
        cy = (y0 + y1) / 2 + (0.5 - FACE_CENTRE) * ch
    w, h = max(1, round(cw)), max(1, round(ch))
    x = int(round(min(max(cx - w / 2, 0), fw - w)))
    y = int(round(min(max(cy - h / 2, 0), fh - h)))
    return x, y, w, h


def fit_frame(frame: np.ndarray, size: tuple[int, int], fit: Fit = "letterbox",
              face: Box | None = None) -> np.ndarray:
    """``frame`` (BGR) scaled into ``size`` = (width, height).

    ``letterbox`` shows the whole frame with black bars where the shapes differ;
    ``crop`` fills the picture, cutting off what overflows: evenly on both sides, or
    around ``face`` (the portrait's face box, in the frame's pixels) where it is given;
    ``face`` shows a close-up of that face (the same as ``crop`` without one).
    """
    w, h = size
    fh, fw = frame.shape[:2]
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, not {fit!r}")
    if (fw, fh) == (w, h) and (fit != "face" or face is None):
        return frame
    if fit != "letterbox":
        x, y, cw, ch = crop_window((fw, fh), size, fit, face)
        part = frame[y:y + ch, x:x + cw]
        interp = cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR
        return cv2.resize(part, (w, h), interpolation=interp)
    scale = min(w / fw, h / fh)
    sw, sh = max(1, round(fw * scale)), max(1, round(fh * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(frame, (sw, sh), interpolation=interp)
    out = np.zeros((h, w, 3), np.uint8)
    x, y = (w - sw) // 2, (h - sh) // 2
    out[y:y + sh, x:x + sw] = scaled
    return out


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size rounded down to even numbers (H.264 in yuv420p needs them)."""
    return max(2, width // 2 * 2), max(2, height // 2 * 2)
