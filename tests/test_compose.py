import numpy as np

from puppet.compose import Compositor
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
