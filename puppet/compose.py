"""Pasting the generator's face crop back into the whole portrait, with no seam."""
from __future__ import annotations

import cv2
import numpy as np

from puppet.generators.base import CropBox

FEATHER = 0.08  # width of the blend at the crop's edges, as a fraction of its side


def _ramp(n: int, width: int) -> np.ndarray:
    """1 in the middle, a smooth fall to 0 over ``width`` samples at both ends."""
    x = np.arange(n, dtype=np.float64) + 0.5
    d = np.minimum(x, n - x) / max(width, 1)
    d = np.clip(d, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * d)).astype(np.float32)


class Compositor:
    """Blends crops drawn by a generator into a portrait.

    The crop's edges blend into the portrait over a soft band; the portrait
    outside the crop is never touched.
    """

    def __init__(self, image: np.ndarray, box: CropBox, feather: float = FEATHER):
        self.image = image
        self.box = box
        h, w = image.shape[:2]
        self.dst = (slice(max(0, box.y0), min(h, box.y0 + box.side)),
                    slice(max(0, box.x0), min(w, box.x0 + box.side)))
        self.src = (slice(self.dst[0].start - box.y0, self.dst[0].stop - box.y0),
                    slice(self.dst[1].start - box.x0, self.dst[1].stop - box.x0))
        ramp = _ramp(box.side, int(round(feather * box.side)))
        alpha = np.outer(ramp, ramp)[self.src]
        self.alpha = np.ascontiguousarray(alpha)
        self.beta = np.ascontiguousarray(1.0 - alpha)
        self.region = np.ascontiguousarray(image[self.dst])

    def paste(self, crop: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The whole frame with ``crop`` (res x res x 3) blended in; written into ``out``
        when given (it must hold a copy of the portrait)."""
        box = self.box
        if crop.shape[0] != box.side:
            crop = cv2.resize(crop, (box.side, box.side), interpolation=cv2.INTER_LINEAR)
        part = np.ascontiguousarray(crop[self.src])
        blended = cv2.blendLinear(part, self.region, self.alpha, self.beta)
        frame = self.image.copy() if out is None else out
        frame[self.dst] = blended
        return frame
