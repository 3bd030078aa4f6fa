"""Pasting the generator's face crop back into the whole portrait, with no seam.

Only the crop's square ever changes from frame to frame, so a frame is composed
by rewriting that square in a buffer that already holds the portrait (see
:class:`FramePool`); the rest of the portrait is never touched or copied.
Frames can be composed in BGR or straight in I420 (YUV 4:2:0, the H.264
encoder's own format), so the encoder needs no colour conversion of whole
frames.  When the crop's square sits on even pixels (the generator's boxes do)
the crop is converted to I420 at its own size and each plane is scaled and
blended on its own: the colour conversion runs on the small crop and the
chroma planes are a quarter of the work.  Other squares are blended in BGR,
grown to even bounds and converted there.
"""
from __future__ import annotations

import queue

import cv2
import numpy as np

from puppet.generators.base import CropBox

FEATHER = 0.08  # width of the blend at the crop's edges, as a fraction of its side
FORMATS = ("bgr24", "yuv420p")


def _ramp(n: int, width: int) -> np.ndarray:
    """1 in the middle, a smooth fall to 0 over ``width`` samples at both ends."""
    x = np.arange(n, dtype=np.float64) + 0.5
    d = np.minimum(x, n - x) / max(width, 1)
    d = np.clip(d, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * d)).astype(np.float32)


def bgr_to_i420(image: np.ndarray) -> np.ndarray:
    """A BGR image (even width and height) as one I420 array of shape (h * 3 / 2, w)."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)


def i420_planes(frame: np.ndarray, width: int, height: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an I420 array."""
    flat = frame.reshape(-1)
    n = width * height
    y = flat[:n].reshape(height, width)
    u = flat[n:n + n // 4].reshape(height // 2, width // 2)
    v = flat[n + n // 4:n + n // 2].reshape(height // 2, width // 2)
    return y, u, v


def _first_full(ramp: np.ndarray) -> tuple[int, int]:
    """The first and one past the last index where ``ramp`` is exactly 1 (0, 0 if never)."""
    full = np.flatnonzero(ramp == 1.0)
    if full.size == 0:
        return 0, 0
    return int(full[0]), int(full[-1]) + 1


class _PlaneBlend:
    """Blending one plane (or one BGR image) of a crop, scaled to its square, into the
    same plane of a frame: the inside copied, the feathered band blended."""

    def __init__(self, region: np.ndarray, ry: np.ndarray, rx: np.ndarray):
        self.region = np.ascontiguousarray(region)  # the portrait's pixels under the square
        alpha = np.outer(ry, rx)
        self.alpha = np.ascontiguousarray(alpha)
        self.beta = np.ascontiguousarray(1.0 - alpha)
        top, bottom = _first_full(ry)
        left, right = _first_full(rx)
        rh, rw = self.region.shape[:2]
        if bottom <= top or right <= left:  # no inner part: blend everything
            top = bottom = rh
            left = right = rw
        self.inner = (slice(top, bottom), slice(left, right))
        self.band = [s for s in (
            (slice(0, top), slice(0, rw)), (slice(bottom, rh), slice(0, rw)),
            (slice(top, bottom), slice(0, left)), (slice(top, bottom), slice(right, rw)))
            if s[0].stop > s[0].start and s[1].stop > s[1].start]

    def blend(self, part: np.ndarray, target: np.ndarray) -> None:
        """``part``: the scaled crop's pixels over the square; ``target``: the frame's."""
        if self.inner[0].stop > self.inner[0].start:
            target[self.inner] = part[self.inner]
        for s in self.band:
            cv2.blendLinear(part[s], self.region[s], self.alpha[s], self.beta[s], dst=target[s])


class Compositor:
    """Blends crops drawn by a generator into a portrait.

    The crop's edges blend into the portrait over a soft band; the portrait
    outside the crop is never touched.  ``fmt`` is the format of the frames it
    makes: ``bgr24`` (H x W x 3) or ``yuv420p`` (one I420 array, H * 3/2 x W;
    the portrait's width and height must be even).
    """

    def __init__(self, image: np.ndarray, box: CropBox, feather: float = FEATHER,
                 fmt: str = "bgr24"):
        if fmt not in FORMATS:
            raise ValueError(f"unknown frame format {fmt!r}; use one of {FORMATS}")
        self.image = image
        self.box = box
        self.fmt = fmt
        h, w = image.shape[:2]
        self.width, self.height = w, h
        self.dst = (slice(max(0, box.y0), min(h, box.y0 + box.side)),
                    slice(max(0, box.x0), min(w, box.x0 + box.side)))
        self.src = (slice(self.dst[0].start - box.y0, self.dst[0].stop - box.y0),
                    slice(self.dst[1].start - box.x0, self.dst[1].stop - box.x0))
        ramp = _ramp(box.side, int(round(feather * box.side)))
        ry, rx = ramp[self.src[0]], ramp[self.src[1]]
        self._bgr = _PlaneBlend(image[self.dst], ry, rx)
        self.region = self._bgr.region
        self._big = np.empty((box.side, box.side, 3), np.uint8)
        self._planes: list[_PlaneBlend] | None = None
        if fmt == "yuv420p":
            if w % 2 or h % 2:
                raise ValueError("I420 frames need an even width and height")
            self.base = bgr_to_i420(image)
            if box.x0 % 2 == 0 and box.y0 % 2 == 0 and box.side % 2 == 0 and box.res % 2 == 0:
                self._init_planes(feather, ry, rx)
            else:
                # the crop's square grown to even bounds (I420 shares chroma in 2 x 2 blocks)
                y0, y1 = self.dst[0].start // 2 * 2, (self.dst[0].stop + 1) // 2 * 2
                x0, x1 = self.dst[1].start // 2 * 2, (self.dst[1].stop + 1) // 2 * 2
                self._even = (slice(y0, y1), slice(x0, x1))
                self._scratch = np.ascontiguousarray(image[self._even])
                self._scratch_dst = (slice(self.dst[0].start - y0, self.dst[0].stop - y0),
                                     slice(self.dst[1].start - x0, self.dst[1].stop - x0))
                self._region_i420 = bgr_to_i420(self._scratch)
        else:
            self.base = image

    def _init_planes(self, feather: float, ry: np.ndarray, rx: np.ndarray) -> None:
        """I420 per plane: Y at the square's size (its ramps ``ry``, ``rx``), U and V at
        half of it."""
        box = self.box
        half = box.side // 2
        ramp_c = _ramp(half, int(round(feather * half)))
        self._dst_c = tuple(slice(s.start // 2, s.stop // 2) for s in self.dst)
        self._src_c = tuple(slice(s.start // 2, s.stop // 2) for s in self.src)
        planes = i420_planes(self.base, self.width, self.height)
        cy, cx = ramp_c[self._src_c[0]], ramp_c[self._src_c[1]]
        self._planes = [_PlaneBlend(planes[0][self.dst], ry, rx),
                        _PlaneBlend(planes[1][self._dst_c], cy, cx),
                        _PlaneBlend(planes[2][self._dst_c], cy, cx)]
        self._small = np.empty((box.res * 3 // 2, box.res), np.uint8)
        self._scaled = [np.empty((box.side, box.side), np.uint8),
                        np.empty((half, half), np.uint8), np.empty((half, half), np.uint8)]

    # frames -------------------------------------------------------------
    def blank(self) -> np.ndarray:
        """A new frame (in ``fmt``) showing the portrait as it is."""
        return self.base.copy()

    def paste(self, crop: np.ndarray | None, out: np.ndarray | None = None) -> np.ndarray:
        """The frame with ``crop`` (res x res x 3 BGR) blended in, or the portrait
        itself where ``crop`` is None.

        Written into ``out`` when given: ``out`` must be a frame in ``fmt`` that
        holds the portrait outside the crop's square (one from :meth:`blank` or
        from an earlier ``paste``); only that square is rewritten.
        """
        frame = self.blank() if out is None else out
        if self.fmt == "bgr24":
            target = frame[self.dst]
            if crop is None:
                target[...] = self.region
            else:
                self._bgr.blend(self._scaled_bgr(crop)[self.src], target)
            return frame
        if self._planes is not None:
            self._paste_planes(crop, frame)
            return frame
        scratch = self._scratch
        if crop is None:
            scratch[...] = self.image[self._even]
        else:
            self._bgr.blend(self._scaled_bgr(crop)[self.src], scratch[self._scratch_dst])
        cv2.cvtColor(scratch, cv2.COLOR_BGR2YUV_I420, dst=self._region_i420)
        (ys, xs) = self._even
        sh, sw = scratch.shape[:2]
        planes = i420_planes(frame, self.width, self.height)
        parts = i420_planes(self._region_i420, sw, sh)
        planes[0][ys, xs] = parts[0]
        half = (slice(ys.start // 2, ys.stop // 2), slice(xs.start // 2, xs.stop // 2))
        planes[1][half] = parts[1]
        planes[2][half] = parts[2]
        return frame

    def _scaled_bgr(self, crop: np.ndarray) -> np.ndarray:
        side = self.box.side
        if crop.shape[0] == side:
            return crop
        return cv2.resize(crop, (side, side), dst=self._big, interpolation=cv2.INTER_LINEAR)

    def _paste_planes(self, crop: np.ndarray | None, frame: np.ndarray) -> None:
        assert self._planes is not None
        targets = i420_planes(frame, self.width, self.height)
        where = (self.dst, self._dst_c, self._dst_c)
        if crop is None:
            for plane, target, dst in zip(self._planes, targets, where):
                target[dst] = plane.region
            return
        res = self.box.res
        cv2.cvtColor(crop, cv2.COLOR_BGR2YUV_I420, dst=self._small)
        small = i420_planes(self._small, res, res)
        srcs = (self.src, self._src_c, self._src_c)
        for plane, part, scaled, target, dst, src in zip(self._planes, small, self._scaled,
                                                         targets, where, srcs):
            if part.shape != scaled.shape:
                part = cv2.resize(part, scaled.shape[::-1], dst=scaled,
                                  interpolation=cv2.INTER_LINEAR)
            plane.blend(part[src], target[dst])


class FramePool:
    """A few frame buffers that already hold the portrait, handed out and given back.

    Composing into a buffer from the pool rewrites only the crop's square; the
    encoder gives the buffer back once it has taken the frame.  When every
    buffer is in use, :meth:`take` waits, which keeps a fast producer from
    running ahead of the encoder.
    """

    def __init__(self, compositor: Compositor, size: int):
        self._free: queue.Queue[np.ndarray] = queue.Queue()
        for _ in range(max(1, size)):
            self._free.put(compositor.blank())

    def take(self, timeout: float | None = None) -> np.ndarray:
        """A free buffer (raises ``queue.Empty`` after ``timeout`` seconds)."""
        return self._free.get(timeout=timeout)

    def give_back(self, frame: np.ndarray) -> None:
        self._free.put(frame)
