"""Reading portraits: images with see-through parts, their depth, and their framing."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.portrait import (
    HEAD_ASPECT,
    HEAD_FACE_CENTRE,
    HEAD_FACE_HEIGHT,
    HEAD_MIN_SIZE,
    check_framing,
    head_box,
    load_portrait,
    read_image,
)


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


def _face_height(portrait) -> float:
    x0, y0, x1, y1 = portrait.face.bbox
    return y1 - y0


def test_head_and_shoulders_frames_a_full_length_picture_around_its_face(full_length,
                                                                          grace_face):
    """framing "head": a crop around the face, taken from the picture as read (so the
    face keeps its own pixels, not the whole picture's 1280 ones), the face a third of
    its height and centred across; the whole picture otherwise."""
    path, canvas, (px, py) = full_length
    whole = load_portrait(path, 1280)
    assert whole.framing == "whole" and whole.size == (852, 1280)
    assert _face_height(whole) / whole.size[1] < 0.1

    head = load_portrait(path, 1280, framing="head")
    assert head.framing == "head"
    w, h = head.size
    source_face = grace_face.bbox[3] - grace_face.bbox[1]  # the face's height as painted
    assert abs(h - source_face / HEAD_FACE_HEIGHT) < 0.05 * h
    assert abs(w / h - HEAD_ASPECT) < 0.02
    assert abs(_face_height(head) - source_face) < 0.05 * source_face  # not scaled down
    assert abs(_face_height(head) / h - HEAD_FACE_HEIGHT) < 0.03
    fx, fy = head.face.landmarks[:, :2].mean(axis=0)
    assert abs(fx / w - 0.5) < 0.05
    # the picture's own pixels, unscaled: the crop matches the source at the face's place
    match = cv2.matchTemplate(canvas, head.image, cv2.TM_SQDIFF)
    least, _, (x0, y0), _ = cv2.minMaxLoc(match)
    assert least / head.image.size < 1.0  # mean squared difference per value
    assert abs(x0 + w / 2 - (px + (grace_face.bbox[0] + grace_face.bbox[2]) / 2)) < 6
    assert abs(y0 + HEAD_FACE_CENTRE * h - (py + (grace_face.bbox[1] + grace_face.bbox[3]) / 2)) < 6


def test_head_and_shoulders_enlarges_a_small_face_and_keeps_a_framed_portrait(
        tmp_path, grace_photo):
    """A small face's crop is enlarged to HEAD_MIN_SIZE (the face would hardly show);
    a picture that is a head-and-shoulders portrait already is kept whole."""
    small = np.full((900, 700, 3), 120, np.uint8)
    photo = cv2.resize(grace_photo, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    small[100:100 + photo.shape[0], 250:250 + photo.shape[1]] = photo
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), small)
    head = load_portrait(path, 1280, framing="head")
    assert max(head.size) == HEAD_MIN_SIZE
    assert _face_height(head) / head.size[1] > 0.3

    framed = tmp_path / "framed.png"
    cv2.imwrite(str(framed), grace_photo)
    a, b = load_portrait(framed, 1280), load_portrait(framed, 1280, framing="head")
    assert b.framing == "head" and np.array_equal(a.image, b.image)


def test_head_and_shoulders_of_a_group_frames_the_face_chosen(group_portrait):
    """--face N with framing "head": the crop is around that face; faces are still
    counted in the whole picture, their boxes moved into the crop (so a click there
    chooses by the same numbers), those outside it outside the picture."""
    path, _ = group_portrait
    head = load_portrait(path, 1280, face=3, framing="head")
    assert (head.faces, head.face_number) == (3, 3)
    w, h = head.size
    fx, fy = head.face.landmarks[:, :2].mean(axis=0)
    x0, y0, x1, y1 = head.face_boxes[2]
    assert x0 < fx < x1 and y0 < fy < y1
    assert head.face_boxes[0][2] < 0  # the large face on the far left is out of the crop
    assert head.face_boxes[1][2] < fx  # the middle one is left of the face, if in at all


def test_the_head_box_stays_within_the_picture():
    assert head_box((10, 5, 110, 125), 1000, 1000) == (0, 0, 266, 332)  # even sides
    x0, y0, x1, y1 = head_box((900, 860, 990, 990), 1000, 1000)
    assert (x1, y1) == (1000, 1000) and x0 > 0 and y0 > 0
    assert head_box((300, 200, 700, 700), 1000, 1000) is None  # a framed portrait already
    with pytest.raises(PuppetError, match="no framing"):
        check_framing("tight")


def test_a_face_not_found_again_in_the_crop_is_moved_there(full_length, monkeypatch):
    """Where the crop's own search misses the face, the face found in the whole picture
    is moved into the crop instead of failing."""
    import puppet.tracking.mediapipe_tracker as mt

    path, _, _ = full_length
    found = load_portrait(path, 1280, framing="head")
    real, calls = mt.find_faces, []

    def only_once(image, what="the portrait"):
        calls.append(image.shape)
        if len(calls) > 1:
            raise PuppetError("no face found", "none")
        return real(image, what)

    monkeypatch.setattr(mt, "find_faces", only_once)
    moved = load_portrait(path, 1280, framing="head")
    assert len(calls) == 2 and moved.size == found.size
    assert np.abs(moved.face.landmarks[:, :2] - found.face.landmarks[:, :2]).mean() < 4.0


def test_gif_and_avif_portraits_are_read(tmp_path, grace_photo):
    """OpenCV's decoders read neither; PyAV does (Pillow writes the test files). A GIF's
    first picture is the portrait, its see-through colour laid on white."""
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(grace_photo[..., ::-1]))
    rgb.save(tmp_path / "photo.avif", quality=90)
    image = read_image(tmp_path / "photo.avif")
    assert image.shape == grace_photo.shape
    assert np.abs(image.astype(int) - grace_photo).mean() < 4.0
    assert load_portrait(tmp_path / "photo.avif").faces == 1
    # stored on its side with an orientation (Pillow keeps it as the AVIF's turn): upright
    side = Image.fromarray(np.ascontiguousarray(np.rot90(grace_photo)[..., ::-1]))
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    side.save(tmp_path / "side.avif", exif=exif.tobytes(), quality=90)
    assert np.abs(read_image(tmp_path / "side.avif").astype(int) - grace_photo).mean() < 4.0

    # an animated GIF: 256 colours, its first frame with a see-through corner
    first = rgb.quantize(255)
    first.putpixel((0, 0), 255)  # the palette's last entry, unused by the photo, is see-through
    for x in range(40):
        for y in range(30):
            first.putpixel((x, y), 255)
    second = Image.fromarray(np.full_like(grace_photo, 40)).quantize(255)
    first.save(tmp_path / "photo.gif", save_all=True, append_images=[second], duration=100,
               transparency=255, loop=0)
    image = read_image(tmp_path / "photo.gif")
    assert image.shape == grace_photo.shape
    assert (image[:30, :40] == 255).all()  # white where it is see-through
    assert np.abs(image[100:, 100:].astype(int) - grace_photo[100:, 100:]).mean() < 6.0
    assert load_portrait(tmp_path / "photo.gif").faces == 1  # the first frame, not the grey


def test_a_video_given_as_the_portrait_says_so(driving_clip):
    with pytest.raises(PuppetError, match="is a video, not a picture"):
        read_image(driving_clip[0])
