"""Fitting a frame into a fixed picture size: letterboxed (all of it) or cropped (filled)."""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Fit = Literal["letterbox", "crop"]
FITS: tuple[str, ...] = ("letterbox", "crop")


def fit_frame(frame: np.ndarray, size: tuple[int, int], fit: Fit = "letterbox") -> np.ndarray:
    """``frame`` (BGR) scaled into ``size`` = (width, height).

    ``letterbox`` shows the whole frame with black bars where the shapes differ;
    ``crop`` fills the picture and cuts off the overflow evenly on both sides.
    """
    w, h = size
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, not {fit!r}")
    scale = min(w / fw, h / fh) if fit == "letterbox" else max(w / fw, h / fh)
    sw, sh = max(1, round(fw * scale)), max(1, round(fh * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(frame, (sw, sh), interpolation=interp)
    if fit == "crop":
        x, y = (sw - w) // 2, (sh - h) // 2
        return np.ascontiguousarray(scaled[y:y + h, x:x + w])
    out = np.zeros((h, w, 3), np.uint8)
    x, y = (w - sw) // 2, (h - sh) // 2
    out[y:y + sh, x:x + sw] = scaled
    return out


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size rounded down to even numbers (H.264 in yuv420p needs them)."""
    return max(2, width // 2 * 2), max(2, height // 2 * 2)
