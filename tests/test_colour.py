"""A picture's colour profile: a phone's Display P3 photo is read as sRGB, as a colour-
managed picture viewer shows it, not with its colours dulled."""
from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from puppet import heif
from puppet.colour import PRIMARIES, matrix_profile
from puppet.portrait import read_image

DATA = Path(__file__).parent / "data"
# linear sRGB to linear Display P3 and back, as published (CSS Color 4's sample code,
# rounded): worked out from nothing of Puppet's
SRGB_TO_P3 = np.array([[0.8225, 0.1774, 0.0000],
                       [0.0332, 0.9669, 0.0000],
                       [0.0171, 0.0724, 0.9108]])
P3_TO_SRGB = np.array([[1.2249, -0.2247, 0.0000],
                       [-0.0420, 1.0419, 0.0000],
                       [-0.0197, -0.0786, 1.0979]])
# sRGB colours (BGR) in squares: red, green, blue and a skin tone, which P3 writes with
# numbers far from sRGB's, and a grey, which it writes alike
PATCHES = ((40, 40, 220), (60, 200, 40), (210, 70, 30), (140, 170, 225), (128, 128, 128))


def _convert(bgr: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """BGR uint8 through sRGB's curve (both spaces have it), the matrix and back."""
    v = bgr[..., ::-1] / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    out = np.clip(linear @ matrix.T, 0.0, 1.0)
    coded = np.where(out <= 0.0031308, 12.92 * out, 1.055 * out ** (1 / 2.4) - 0.055)
    return np.round(coded * 255.0)[..., ::-1].astype(np.uint8)


def _srgb_to_p3(bgr: np.ndarray) -> np.ndarray:
    return _convert(bgr, SRGB_TO_P3)


def _chart() -> np.ndarray:
    """The PATCHES, 32 pixels square each, side by side (sRGB, BGR)."""
    return np.hstack([np.full((32, 32, 3), c, np.uint8) for c in PATCHES])


def _centres(image: np.ndarray, top: int = 0, side: int = 32, n: int = len(PATCHES)
             ) -> np.ndarray:
    """The first ``n`` patches' mean colours over their middle halves (BGR)."""
    q = side // 4
    return np.array([image[top + q:top + side - q, i * side + q:(i + 1) * side - q]
                     .reshape(-1, 3).mean(axis=0) for i in range(n)])


def _save(path: Path, bgr: np.ndarray, icc: bytes | None, **options) -> Path:
    im = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]), "RGB")
    if icc is not None:
        options["icc_profile"] = icc
    im.save(path, **options)
    return path


def test_a_display_p3_png_is_read_as_the_srgb_colours_it_shows(tmp_path):
    chart = _chart()
    p3 = _srgb_to_p3(chart)
    assert np.abs(p3.astype(int) - chart).max() > 30  # P3 writes these colours differently
    path = _save(tmp_path / "p3.png", p3, matrix_profile(PRIMARIES[12], "Display P3"))
    read = read_image(path)
    assert np.abs(read.astype(int) - chart).max() <= 2
    # OpenCV alone takes the numbers as sRGB: the red comes out dull
    plain = cv2.imread(str(path))
    assert np.abs(plain.astype(int) - chart)[:, :32].max() > 15


@pytest.mark.parametrize("kind", ["webp", "tiff"])
def test_webp_and_tiff_pictures_say_their_colour_space_too(tmp_path, kind):
    chart = _chart()
    options = {"lossless": True} if kind == "webp" else {}
    path = _save(tmp_path / f"p3.{kind}", _srgb_to_p3(chart),
                 matrix_profile(PRIMARIES[12], "Display P3"), **options)
    assert np.abs(read_image(path).astype(int) - chart).max() <= 2


def test_a_phone_jpeg_in_display_p3_is_read_in_srgb(tmp_path):
    chart = np.kron(_chart(), np.ones((2, 2, 1), np.uint8))  # squares of 64: JPEG's blocks
    path = _save(tmp_path / "p3.jpg", _srgb_to_p3(chart),
                 matrix_profile(PRIMARIES[12], "Display P3"), quality=95, subsampling=0)
    read = read_image(path)
    assert np.abs(_centres(read, side=64) - _centres(chart, side=64)).max() < 3.0
    # and the grey, the same in both, stays as it was
    assert np.abs(_centres(read, side=64)[4] - 128).max() < 1.5


def test_an_srgb_profile_leaves_the_picture_exactly_as_decoded(tmp_path):
    chart = _chart()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, icc in (("lcms.jpg", srgb),
                      ("made.jpg", matrix_profile(PRIMARIES[1], "sRGB primaries"))):
        path = _save(tmp_path / name, chart, icc, quality=90)
        assert np.array_equal(read_image(path), cv2.imread(str(path)))


def test_a_damaged_profile_is_passed_over_with_a_warning(tmp_path, caplog):
    path = _save(tmp_path / "broken.png", _chart(), b"not a colour profile at all" * 8)
    with caplog.at_level(logging.WARNING, logger="puppet.colour"):
        read = read_image(path)
    assert np.array_equal(read, _chart())
    assert any("colour profile cannot be used" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", ["p3.heic", "p3-icc.heic"])
def test_a_display_p3_heic_photo_is_read_in_srgb(name):
    """tools/heic_fixtures.py wrote these with libheif: a photo with the PATCHES' first
    four (squares of 64) in a band below it, all in Display P3's numbers, saying so by
    an 'nclx' colour box (p3.heic) or by an ICC profile (p3-icc.heic)."""
    data = (DATA / name).read_bytes()
    found = heif.colour_profile(data)
    assert found is not None
    read = read_image(DATA / name)
    assert read.shape == (364, 256, 3)
    want = np.array(PATCHES[:4], float)
    got = _centres(read, top=300, side=64, n=4)
    assert np.abs(got - want).max() < 6.0  # HEVC's own loss
    # read as sRGB numbers, the red and green are off by far more than that
    raw = _centres(heif.read_heif(data), top=300, side=64, n=4)
    assert np.abs(raw - want)[:2].max() > 15.0


def test_pictures_without_a_colour_box_or_profile_are_as_before():
    for name in ("grid.heic", "mirrored.heic"):
        data = (DATA / name).read_bytes()
        assert heif.colour_profile(data) is None
        assert np.array_equal(read_image(DATA / name), heif.read_heif(data))


def test_the_profile_made_for_p3_matches_the_published_conversion():
    """matrix_profile's profile, run by LittleCMS, against the published matrix, over
    colours from the whole cube (its curve is a table of 1024 points); colours P3 has
    and sRGB has not are clipped, as by the matrix."""
    rng = np.random.default_rng(3)
    p3 = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(matrix_profile(PRIMARIES[12], "P3")))
    srgb = ImageCms.applyTransform(Image.fromarray(p3[..., ::-1].copy(), "RGB"),
                                   ImageCms.buildTransform(profile,
                                                           ImageCms.createProfile("sRGB"),
                                                           "RGB", "RGB"))
    srgb = np.asarray(srgb)[..., ::-1].astype(int)
    want = _convert(p3, P3_TO_SRGB).astype(int)
    assert np.abs(srgb - want).max() <= 2
    assert np.abs(srgb - want).mean() < 0.3


# Adobe RGB (1998): its primaries, D65, and a plain gamma of 563/256
ADOBE_RGB = ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060), (0.3127, 0.3290))


@pytest.mark.parametrize("name", ["Display P3", "Adobe RGB"])
def test_the_conversion_agrees_with_littlecms(name):
    """Puppet's conversion (NumPy) against LittleCMS's (as Pillow has it) of the same
    profile, over colours from the whole cube: P3's curve is a table, Adobe RGB's a
    gamma."""
    from puppet.colour import to_srgb

    icc = matrix_profile(PRIMARIES[12], name) if name == "Display P3" else \
        matrix_profile(ADOBE_RGB, name, gamma=563 / 256)
    rng = np.random.default_rng(5)
    coded = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)  # BGR
    ours = to_srgb(coded, icc).astype(int)
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                        ImageCms.createProfile("sRGB"), "RGB", "RGB")
    theirs = np.asarray(ImageCms.applyTransform(
        Image.fromarray(coded[..., ::-1].copy(), "RGB"), transform))[..., ::-1].astype(int)
    assert np.abs(ours - theirs).max() <= 2
    assert np.abs(ours - theirs).mean() < 0.2
    assert np.abs(ours - coded).mean() > 2.0  # and the colours did change


def test_littlecms_own_srgb_profile_is_taken_for_srgb():
    """LittleCMS writes sRGB's curve as a formula ('para'), not a table."""
    from puppet.colour import to_srgb

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    coded = np.random.default_rng(6).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    assert to_srgb(coded, srgb) is coded
