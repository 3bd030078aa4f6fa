import queue

import numpy as np
import pytest

from puppet.compose import Compositor, FramePool, bgr_to_i420
from puppet.generators.base import CropBox
from puppet.generators.warp.generator import crop_image


def _image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)


def test_an_unchanged_crop_gives_the_portrait_back():
    img = _image()
    box = CropBox(x0=100, y0=50, side=160, res=160)
    out = Compositor(img, box).paste(crop_image(img, box))
    assert np.abs(out.astype(int) - img).max() <= 1


def test_outside_the_crop_is_never_touched_and_edges_blend():
    img = _image()
    box = CropBox(x0=100, y0=50, side=160, res=80)  # drawn at half size
    crop = np.zeros((80, 80, 3), np.uint8)
    out = Compositor(img, box).paste(crop)
    mask = np.ones(img.shape[:2], bool)
    mask[50:210, 100:260] = False
    assert np.array_equal(out[mask], img[mask])
    assert out[130, 180].max() == 0  # the middle is the crop
    # the blend band: the crop's edge rows are (nearly) the portrait
    assert np.abs(out[50, 100:260].astype(int) - img[50, 100:260]).mean() < 5


def test_a_crop_past_the_image_edge():
    img = _image()
    box = CropBox(x0=-40, y0=200, side=200, res=200)
    crop = crop_image(img, box)
    assert crop.shape == (200, 200, 3)
    assert np.array_equal(crop[0, 40:], img[200, :160])  # inside: the image itself
    assert np.array_equal(crop[0, 0], img[200, 0])  # outside: edge pixels repeated
    out = Compositor(img, box).paste(np.zeros_like(crop))
    assert out.shape == img.shape
    assert np.array_equal(out[:200], img[:200])


def _reference_paste(img, box, crop, feather=0.08):
    """The straightforward way (what Compositor did before it learned to skip work):
    resize the crop, blend the whole square with the ramp, copy the whole frame."""
    import cv2

    from puppet.compose import _ramp

    h, w = img.shape[:2]
    dst = (slice(max(0, box.y0), min(h, box.y0 + box.side)),
           slice(max(0, box.x0), min(w, box.x0 + box.side)))
    src = (slice(dst[0].start - box.y0, dst[0].stop - box.y0),
           slice(dst[1].start - box.x0, dst[1].stop - box.x0))
    big = cv2.resize(crop, (box.side, box.side), interpolation=cv2.INTER_LINEAR)
    ramp = _ramp(box.side, int(round(feather * box.side)))
    alpha = np.ascontiguousarray(np.outer(ramp, ramp)[src])
    out = img.copy()
    out[dst] = cv2.blendLinear(np.ascontiguousarray(big[src]), np.ascontiguousarray(img[dst]),
                               alpha, np.ascontiguousarray(1.0 - alpha))
    return out


@pytest.mark.parametrize("box", [CropBox(x0=100, y0=50, side=160, res=80),
                                 CropBox(x0=-40, y0=150, side=200, res=128),
                                 CropBox(x0=301, y0=-7, side=121, res=121)])
def test_paste_equals_blending_the_whole_square(box):
    img = _image()
    rng = np.random.default_rng(5)
    crop = rng.integers(0, 256, (box.res, box.res, 3), dtype=np.uint8)
    expected = _reference_paste(img, box, crop)
    comp = Compositor(img, box)
    assert np.array_equal(comp.paste(crop), expected)
    # into a reused frame: only the square is rewritten, and the result is the same
    frame = comp.blank()
    comp.paste(rng.integers(0, 256, (box.res, box.res, 3), dtype=np.uint8), frame)
    assert np.array_equal(comp.paste(crop, frame), expected)
    assert np.array_equal(comp.paste(None, frame), img)  # the neutral frame: the portrait


@pytest.mark.parametrize("box", [CropBox(x0=101, y0=50, side=160, res=80),
                                 CropBox(x0=-41, y0=151, side=199, res=128),
                                 CropBox(x0=301, y0=-7, side=121, res=121)])
def test_i420_frames_equal_converting_the_bgr_frame(box):
    """A square off the even pixels: composing straight in I420 gives exactly the I420
    of the BGR frame, though only the crop's square (grown to even bounds) is converted."""
    img = _image()
    rng = np.random.default_rng(6)
    bgr = Compositor(img, box)
    yuv = Compositor(img, box, fmt="yuv420p")
    frame = yuv.blank()
    assert frame.shape == (450, 400) and np.array_equal(frame, bgr_to_i420(img))
    for _ in range(3):
        crop = rng.integers(0, 256, (box.res, box.res, 3), dtype=np.uint8)
        assert np.array_equal(yuv.paste(crop, frame), bgr_to_i420(bgr.paste(crop)))
    assert np.array_equal(yuv.paste(None, frame), bgr_to_i420(img))


@pytest.mark.parametrize("box", [CropBox(x0=100, y0=50, side=160, res=80),
                                 CropBox(x0=-40, y0=150, side=200, res=128),
                                 CropBox(x0=300, y0=-8, side=122, res=122)])
def test_i420_planes_on_even_squares_match_the_bgr_frame(box):
    """A square on even pixels: the crop is converted at its own size and each plane
    scaled and blended alone; that is the I420 of the BGR frame up to rounding, and
    outside the square the frame is the portrait's exactly."""
    import cv2

    # a painting is smooth at the scale of a pixel (the chroma of pure noise, blended
    # per pixel, then averaged over 2 x 2, is not the blend of the averages)
    img = cv2.GaussianBlur(_image(), (0, 0), 1.5)
    rng = np.random.default_rng(7)
    bgr = Compositor(img, box)
    yuv = Compositor(img, box, fmt="yuv420p")
    assert yuv._planes is not None  # the per-plane way
    frame = yuv.blank()
    for _ in range(3):
        small = rng.integers(0, 256, (box.res // 8, box.res // 8, 3), dtype=np.uint8)
        crop = cv2.resize(small, (box.res, box.res), interpolation=cv2.INTER_CUBIC)
        got = yuv.paste(crop, frame).astype(int)
        expected = bgr_to_i420(bgr.paste(crop)).astype(int)
        diff = np.abs(got - expected)
        # in the feathered band the blend weight changes within a 2 x 2 block, so the
        # chroma of blended pixels and the blend of chroma differ a little
        assert diff.mean() < 0.5 and diff.max() <= 16
        assert diff[:300].max() <= 2  # luma
        inside = (slice(max(0, box.y0) + 16, box.y0 + box.side - 16),
                  slice(max(0, box.x0) + 16, box.x0 + box.side - 16))
        assert diff[:300][inside].max() <= 2
        changed = np.flatnonzero((got != bgr_to_i420(img)).any(axis=1))
        assert changed.size > 0
    # outside the square: the portrait's own pixels, exactly
    y = got[:300]
    mask = np.ones(y.shape, bool)
    mask[max(0, box.y0):box.y0 + box.side, max(0, box.x0):box.x0 + box.side] = False
    assert np.array_equal(y[mask], bgr_to_i420(img)[:300][mask])
    assert np.array_equal(yuv.paste(None, frame), bgr_to_i420(img))


def test_frame_pool_hands_out_portrait_frames_and_waits_when_empty():
    img = _image()
    comp = Compositor(img, CropBox(x0=100, y0=50, side=160, res=80))
    pool = FramePool(comp, 2)
    a, b = pool.take(), pool.take()
    assert a is not b and np.array_equal(a, img) and np.array_equal(b, img)
    with pytest.raises(queue.Empty):
        pool.take(timeout=0.01)
    pool.give_back(a)
    assert pool.take(timeout=0.01) is a
