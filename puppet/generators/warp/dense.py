"""The warp generator's dense drawing on the CPU, with OpenCV.

The whole model (``puppet_warp.onnx``) computes the warp field on a coarse grid,
upsamples it to the crop, samples the portrait through it (GridSample), then
draws the eye patches and the mouth layer.  On the CPU, onnxruntime's Resize and
GridSample take about two thirds of that model's time, so there the generator
runs only the field graph (``puppet_warp_field.onnx``) and :class:`DenseDrawer`
does the rest here, the same steps as the model's second part:

* the field upsampled to the crop (``cv2.resize``: bilinear, half-pixel centres,
  edges held, like the model's Resize) and added to the identity (the model
  then keeps samples within the outer pixels' centres; remap's replicated
  border gives the same);
* the portrait at twice its resolution (``model.fine``, made once) sampled
  through it (``cv2.remap``, bilinear with 1/32-pixel weights, kept as uint8; on
  an 886 crop it reads four times the pixels and takes 5.2 ms on one core of a
  2-core CPU where the crop itself took 4.0);
* in each eye's output box, where the warp samples the eye's region of the
  portrait, this frame's eye patch instead, faded in at the region's edges;
* the mouth layer over the warped lips.

It works in pixel-index coordinates (pixel ``i``'s centre at ``i``); the model
works in crop units (``x = 2 * (i + 0.5) / S - 1``).  The two agree to within
rounding (tests/generators/test_warp_dense.py compares them).
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from puppet.generators.warp.model import PATCH_EDGE, fine


def folded(sampling: np.ndarray) -> np.ndarray:
    """[H-1, W-1] bool: where a sampling map (H x W x 2, x and y) turns over, so that
    the picture shows the same strip twice there (for tests and benchmarks)."""
    mx, my = sampling[..., 0], sampling[..., 1]
    det = (np.diff(mx, axis=1)[:-1] * np.diff(my, axis=0)[:, :-1]
           - np.diff(mx, axis=0)[:, :-1] * np.diff(my, axis=1)[:-1])
    return det <= 0


class DenseDrawer:
    """Draws one portrait crop (``S`` x ``S`` x 3 uint8 BGR) through warp fields."""

    def __init__(self, crop: np.ndarray):
        if crop.ndim != 3 or crop.shape[0] != crop.shape[1] or crop.shape[2] != 3:
            raise ValueError(f"a square BGR crop is needed, not {crop.shape}")
        # the crop at twice its resolution: its pixel (2i, 2j) is the crop's (i, j)
        self.fine = fine(np.ascontiguousarray(crop, dtype=np.uint8))
        size = crop.shape[0]
        self.size = size
        ramp = np.arange(size, dtype=np.float32)
        self._identity = np.empty((size, size, 2), np.float32)
        self._identity[..., 0] = ramp[None, :]
        self._identity[..., 1] = ramp[:, None]
        self._fine_identity = self._identity * 2.0
        self._map = np.empty((size, size, 2), np.float32)
        self._lock = threading.Lock()  # the map is reused: one frame at a time

    def sampling_map(self, field: np.ndarray) -> np.ndarray:
        """Where each output pixel samples the crop, [S, S, 2] (x, y) pixel indices
        (possibly past the edges), for a field [G, G, 2] of offsets in crop units.
        Reused by the next call."""
        return cv2.scaleAdd(self._offsets(field), self.size / 2.0, self._identity,
                            dst=self._map)

    def fine_map(self, field: np.ndarray) -> np.ndarray:
        """The same in the fine picture's pixel indices (twice the crop's).  Reused by the
        next call."""
        return cv2.scaleAdd(self._offsets(field), float(self.size), self._fine_identity,
                            dst=self._map)

    def _offsets(self, field: np.ndarray) -> np.ndarray:
        # not clipped to the outer pixels' centres like the model's grid: remap's
        # replicated border samples exactly what the clipped position would
        return cv2.resize(np.asarray(field, np.float32), (self.size, self.size),
                          interpolation=cv2.INTER_LINEAR)

    def draw(self, field: np.ndarray, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The frame [S, S, 3] uint8 BGR: the crop warped by ``field``, with the eyes and
        the mouth of ``inputs`` (the whole model's per-frame inputs) drawn in."""
        with self._lock:
            m = self.fine_map(field)
            out = cv2.remap(self.fine, m, None, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
            for side in ("r", "l"):
                self._eye(out, m, inputs[f"eye_{side}_patch"], inputs[f"eye_{side}_patch_box"],
                          inputs[f"eye_{side}_origin"], inputs[f"eye_{side}_area"].shape)
        _mouth(out, inputs["mouth"], inputs["mouth_origin"])
        return out

    def _eye(self, out: np.ndarray, m: np.ndarray, patch: np.ndarray, patch_box: np.ndarray,
             origin: np.ndarray, box_size: tuple[int, ...]) -> None:
        r0, c0 = int(origin[0]), int(origin[1])
        r1, c1 = r0 + int(box_size[0]), c0 + int(box_size[1])
        r0, c0 = max(r0, 0), max(c0, 0)
        if r1 <= r0 or c1 <= c0:
            return
        # continuous crop pixels (a pixel's centre at i + 0.5), kept within the outer
        # pixels' centres as the model's grid is (``m`` is in the fine picture's pixels)
        where = np.clip(m[r0:r1, c0:c1] * 0.5, 0.0, self.size - 1.0) + 0.5
        x0, y0, x1, y1 = (float(v) for v in patch_box)
        hp, wp = (patch.shape[2] + 1) // 2, (patch.shape[3] + 1) // 2  # the region's size
        lx = (where[..., 0] - x0) / (x1 - x0)  # 0..1 across the patch's region
        ly = (where[..., 1] - y0) / (y1 - y0)
        # the patch shows only where both are strictly inside 0..1 (its weight is 0
        # elsewhere, and blending by 0 leaves a pixel as it is): the box's rows and
        # columns that hold such pixels are enough
        inside = (lx > 0.0) & (lx < 1.0) & (ly > 0.0) & (ly < 1.0)
        rows = np.flatnonzero(inside.any(axis=1))
        if rows.size == 0:
            return
        cols = np.flatnonzero(inside.any(axis=0))
        part = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
        lx, ly = lx[part], ly[part]
        r0, c0 = r0 + part[0].start, c0 + part[1].start
        r1, c1 = r0 + lx.shape[0], c0 + lx.shape[1]
        # the region's pixel u * w - 0.5 (GridSample, align_corners=0, border padding) is
        # the fine patch's 2 u w - 1
        sampled = cv2.remap(np.ascontiguousarray(patch[0].transpose(1, 2, 0), np.float32),
                            (lx * (2 * wp) - 1.0).astype(np.float32),
                            (ly * (2 * hp) - 1.0).astype(np.float32),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        wx = np.clip((1.0 - np.abs(lx * 2.0 - 1.0)) * PATCH_EDGE, 0.0, 1.0)
        wy = np.clip((1.0 - np.abs(ly * 2.0 - 1.0)) * PATCH_EDGE, 0.0, 1.0)
        _blend(out[r0:r1, c0:c1], sampled, (wx * wy)[..., None])


def _mouth(out: np.ndarray, layer: np.ndarray, origin: np.ndarray) -> None:
    """The inside of the mouth over the warped lips: layer [h, w, 4] (BGR 0..1, coverage)."""
    r0, c0 = int(origin[0]), int(origin[1])
    h, w = layer.shape[:2]
    r1, c1 = min(r0 + h, out.shape[0]), min(c0 + w, out.shape[1])
    r0c, c0c = max(r0, 0), max(c0, 0)
    if r1 <= r0c or c1 <= c0c:
        return
    part = layer[r0c - r0:r1 - r0, c0c - c0:c1 - c0]
    cover = part[..., 3:4]
    if not np.any(cover > 0):
        return
    _blend(out[r0c:r1, c0c:c1], part[..., :3], cover)


def _blend(box: np.ndarray, colour: np.ndarray, weight: np.ndarray) -> None:
    """``box`` (uint8 BGR, in place) towards ``colour`` (BGR 0..1) by ``weight`` (0..1),
    rounded as the model rounds its float frame."""
    base = box.astype(np.float32) * (1.0 / 255.0)
    blended = base + (colour - base) * weight
    box[...] = np.clip(blended * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)
