"""Reading portraits: images with see-through parts, and their depth."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from puppet.portrait import load_portrait, read_image


def cut_out(photo: np.ndarray) -> np.ndarray:
    """The photograph as a cut-out: an oval around the head kept, the rest transparent
    and black underneath (as background removers often leave it), a soft edge between."""
    h, w = photo.shape[:2]
    alpha = np.zeros((h, w), np.uint8)
    cv2.ellipse(alpha, (w // 2, h // 2 - 20), (200, 250), 0, 0, 360, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 4)
    rgba = np.dstack([photo, alpha])
    rgba[alpha == 0, :3] = 0
    return rgba


def test_a_cut_out_png_is_laid_on_white_and_its_face_found(tmp_path, grace_photo):
    rgba = cut_out(grace_photo)
    path = tmp_path / "cut out.png"
    cv2.imwrite(str(path), rgba)
    image = read_image(path)
    assert image.shape == grace_photo.shape and image.dtype == np.uint8
    alpha = rgba[..., 3]
    assert (image[alpha == 0] == 255).all()  # white where it is see-through, not black
    assert np.array_equal(image[alpha == 255], grace_photo[alpha == 255])
    edge = (alpha > 60) & (alpha < 200)  # the soft edge: between the photo and white
    expect = grace_photo[edge] * (alpha[edge, None] / 255.0) + 255 * (1 - alpha[edge, None] / 255.0)
    assert np.abs(image[edge].astype(float) - expect).max() <= 1.0
    portrait = load_portrait(path)
    assert portrait.faces == 1 and portrait.face.area > 100 * 100

    # the same at 16 bits a channel reads the same, to the rounding
    path16 = tmp_path / "cut out 16.png"
    cv2.imwrite(str(path16), rgba.astype(np.uint16) * 257)
    assert np.abs(read_image(path16).astype(int) - image).max() <= 1


def test_images_without_alpha_read_as_shown(tmp_path, grace_photo):
    grey16 = (cv2.cvtColor(grace_photo, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "grey16.png"), grey16)
    image = read_image(tmp_path / "grey16.png")
    assert image.shape == grace_photo.shape and image.dtype == np.uint8
    assert np.abs(image[..., 0].astype(int) - grey16 // 257).max() <= 1
    cv2.imwrite(str(tmp_path / "photo.png"), grace_photo)
    assert np.array_equal(read_image(tmp_path / "photo.png"), grace_photo)


def test_a_phone_photo_stored_on_its_side_is_read_upright(tmp_path, grace_photo):
    """A phone keeps a portrait photo on its side with an EXIF orientation; it is read
    the way viewers show it (Pillow, which matplotlib brings, writes the test file)."""
    from PIL import Image

    side = np.ascontiguousarray(np.rot90(grace_photo))  # stored turned a quarter to the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    path = tmp_path / "phone.jpg"
    Image.fromarray(side[..., ::-1]).save(path, exif=exif.tobytes(), quality=95)
    image = read_image(path)
    assert image.shape == grace_photo.shape
    assert np.abs(image.astype(int) - grace_photo).mean() < 3.0
    assert load_portrait(path).face.pose.roll == pytest.approx(0.0, abs=8.0)
