"""The warp generator's CPU drawing (field graph + OpenCV) against the whole ONNX model."""
from __future__ import annotations

import dataclasses
import shutil

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from puppet.errors import PuppetError
from puppet.generators.warp import model
from puppet.generators.warp.dense import DenseDrawer
from puppet.generators.warp.generator import WarpGenerator
from puppet.motion.retarget import neutral_motion
from puppet.portrait import portrait_from_image
from puppet.resources import model_file


@pytest.fixture(scope="module")
def sessions():
    def make(name):
        return ort.InferenceSession(str(model_file(name)), providers=["CPUExecutionProvider"])
    return make(model.FILE), make(model.FIELD_FILE)


def _smooth(rng, h, w):
    small = rng.random((max(2, h // 8), max(2, w // 8), 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


def _inputs(rng, size, k=80, spread=0.04, mobility=None):
    """Every input of the whole model: a smooth crop, moved points, both eyes and a mouth."""
    crop = _smooth(rng, size, size)
    src = rng.uniform(-0.85, 0.85, (k, 2)).astype(np.float32)
    dst = (src + rng.normal(0, spread, (k, 2))).astype(np.float32)
    feeds = {"portrait": crop.transpose(2, 0, 1)[None].copy(), "src_points": src,
             "dst_points": dst,
             "mobility": np.ones((model.GRID ** 2, 1), np.float32) if mobility is None
             else mobility}
    h, w = size // 6, size // 4
    for side, x in (("r", 0.2), ("l", 0.6)):
        feeds[f"eye_{side}_patch"] = model.fine_patch(_smooth(rng, h, w).transpose(2, 0, 1)[None])
        feeds[f"eye_{side}_patch_box"] = np.array(
            [size * x, size * 0.25, size * x + w, size * 0.25 + h], np.float32)
        feeds[f"eye_{side}_origin"] = np.array([size // 5, int(size * x) - 3], np.int64)
        feeds[f"eye_{side}_area"] = np.zeros((h + 8, w + 6), np.uint8)
    mouth = np.zeros((h, w + 3, 4), np.float32)
    mouth[..., :3] = 0.1
    mouth[2:-2, 3:-3, 3] = 0.9
    feeds["mouth"] = mouth
    feeds["mouth_origin"] = np.array([size // 2 + 5, size // 3], np.int64)
    return feeds


def _whole(sessions, feeds):
    """The whole model's frame, its portrait input the crop of ``feeds`` made fine."""
    return sessions[0].run(None, dict(feeds, portrait=model.fine_patch(feeds["portrait"])))[0]


def _draw(sessions, feeds):
    _, field = sessions
    off = field.run(None, {k: feeds[k] for k in ("src_points", "dst_points", "mobility")})[0]
    crop = np.clip(feeds["portrait"][0].transpose(1, 2, 0) * 255.0 + 0.5, 0, 255)
    return DenseDrawer(crop.astype(np.uint8)).draw(off, feeds)


@pytest.mark.parametrize("size", [96, 257, 512])
def test_opencv_drawing_matches_the_whole_model(sessions, size):
    rng = np.random.default_rng(size)
    feeds = _inputs(rng, size)
    # the whole model samples the float crop; give it the same uint8 crop OpenCV gets
    feeds["portrait"] = (np.round(feeds["portrait"] * 255.0) / 255.0).astype(np.float32)
    whole = _whole(sessions, feeds).astype(int)
    ours = _draw(sessions, feeds).astype(int)
    assert ours.shape == whole.shape == (size, size, 3) and ours.dtype != np.float32
    diff = np.abs(ours - whole)
    # OpenCV's bilinear weights are in 1/32 pixel steps, onnxruntime's are exact
    assert diff.mean() < 0.3 and diff.max() <= 6
    # the eyes and the mouth were drawn (they differ from the plain warp there)
    plain = dict(feeds, mouth=np.zeros_like(feeds["mouth"]))
    for side in "rl":
        plain[f"eye_{side}_area"] = np.zeros((1, 1), np.uint8)
    assert np.abs(_draw(sessions, plain).astype(int) - ours).max() > 40


def test_no_motion_gives_the_crop_back_exactly(sessions):
    rng = np.random.default_rng(1)
    feeds = _inputs(rng, 200)
    feeds["dst_points"] = feeds["src_points"].copy()
    feeds["mouth"][..., 3] = 0.0
    for side in "rl":  # patches equal to the crop's own pixels there: nothing changes
        x0, y0, x1, y1 = feeds[f"eye_{side}_patch_box"].astype(int)
        feeds[f"eye_{side}_patch"] = model.fine_patch(feeds["portrait"][:, :, y0:y1, x0:x1])
    feeds["portrait"] = rng.integers(0, 256, (1, 3, 200, 200)).astype(np.float32) / 255.0
    for side in "rl":
        x0, y0, x1, y1 = feeds[f"eye_{side}_patch_box"].astype(int)
        feeds[f"eye_{side}_patch"] = model.fine_patch(feeds["portrait"][:, :, y0:y1, x0:x1])
    out = _draw(sessions, feeds)
    expected = np.round(feeds["portrait"][0].transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_held_nodes_leave_their_pixels_exactly(sessions):
    rng = np.random.default_rng(2)
    mobility = np.ones((model.GRID, model.GRID), np.float32)
    mobility[:, :16] = 0.0  # the left quarter of the nodes
    feeds = _inputs(rng, 128, spread=0.08, mobility=mobility.reshape(-1, 1))
    feeds["mouth"][..., 3] = 0.0
    for side in "rl":
        feeds[f"eye_{side}_area"] = np.zeros((1, 1), np.uint8)
    feeds["portrait"] = rng.integers(0, 256, (1, 3, 128, 128)).astype(np.float32) / 255.0
    out = _draw(sessions, feeds)
    crop = np.round(feeds["portrait"][0].transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[:, :30], crop[:, :30])  # 15 node cells of 2 px
    assert np.abs(out[:, 40:].astype(int) - crop[:, 40:]).mean() > 10


@pytest.fixture(scope="module")
def portrait(grace_photo):
    return portrait_from_image(grace_photo, "grace", "test")


def _smiling(portrait):
    pts = portrait.face.landmarks.astype(np.float64).copy()
    centre = pts[:, :2].mean(axis=0)
    pts[:, 0] += 6.0  # the head moves right
    pts[[61, 291], 0] += np.array([-8.0, 8.0])  # the mouth's corners go out
    pts[:, :2] = centre + (pts[:, :2] - centre) @ np.array([[0.995, -0.1], [0.1, 0.995]]).T
    return dataclasses.replace(neutral_motion(portrait.face), landmarks=pts, neutral=False)


def test_the_generator_draws_with_opencv_on_the_cpu_like_the_whole_model(portrait):
    fast = WarpGenerator("cpu")
    whole = WarpGenerator("cpu", dense="onnx")
    assert fast.dense == "opencv" and fast.mode.endswith("+ OpenCV remap")
    assert whole.dense == "onnx" and "OpenCV" not in whole.mode
    prepared = fast.prepare(portrait)
    assert "portrait" not in prepared.static_inputs  # OpenCV samples its own uint8 copy
    motion = _smiling(portrait)
    a = fast.render(prepared, motion).astype(int)
    b = whole.render(whole.prepare(portrait), motion).astype(int)
    assert np.abs(a - b).mean() < 0.5
    still = fast.render(prepared, dataclasses.replace(motion,
                                                      landmarks=portrait.face.landmarks))
    assert np.abs(a - still.astype(int)).mean() > 2  # and the motion did move it


def test_unknown_dense_mode_and_a_missing_field_graph(tmp_path):
    with pytest.raises(PuppetError, match="(?i)unknown dense drawing"):
        WarpGenerator("cpu", dense="gpu")
    shutil.copy(model_file(model.FILE), tmp_path / model.FILE)
    with pytest.raises(PuppetError, match="puppet_warp_field.onnx is missing") as info:
        WarpGenerator("cpu", model_path=str(tmp_path / model.FILE))
    assert "export-model" in info.value.fix
    assert WarpGenerator("cpu", model_path=str(tmp_path / model.FILE), dense="onnx").dense == "onnx"


def _detail(image):
    """High-frequency energy: the variance of the Laplacian of the grey image."""
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_a_large_portrait_keeps_its_detail_when_it_moves(grace_photo):
    """The crop is drawn at the portrait's own resolution (up to 1024 pixels a side), so
    the fine grain of a large painting (canvas, craquelure) survives a small motion; a
    crop drawn at 512 and scaled back up would lose most of it."""
    from puppet.compose import Compositor
    from puppet.generators.warp.generator import MAX_RES

    rng = np.random.default_rng(8)
    big = cv2.resize(grace_photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    # a grain a couple of pixels wide, like a canvas's or the cracks of old paint
    grain = cv2.GaussianBlur(rng.normal(0, 40, big.shape[:2]), (0, 0), 1.0)[..., None]
    big = np.clip(big + grain, 0, 255).astype(np.uint8)
    portrait = portrait_from_image(big, "grain", "test", size=max(big.shape[:2]))
    generator = WarpGenerator("cpu")
    prepared = generator.prepare(portrait)
    box = prepared.box
    assert 512 < box.side <= MAX_RES and box.res == box.side
    pts = portrait.face.landmarks.astype(np.float64).copy()
    pts[:, 0] += 1.5  # a small move of the head
    motion = dataclasses.replace(neutral_motion(portrait.face), landmarks=pts, neutral=False)
    frame = Compositor(portrait.image, box).paste(generator.render(prepared, motion))
    x0, y0, x1, y1 = (int(v) for v in portrait.face.bbox)
    face, still = frame[y0:y1, x0:x1], portrait.image[y0:y1, x0:x1]
    assert np.abs(face.astype(int) - still).mean() > 1.0  # it did move
    assert _detail(face) > 0.6 * _detail(still)


@pytest.mark.parametrize("shift", [0.5, 0.25])
def test_a_fraction_of_a_pixel_keeps_the_fine_grain(sessions, shift):
    """Moved by a fraction of a pixel, a fine grain (a canvas's, the cracks of old paint)
    stays: the crop is sampled at twice its resolution (model.fine), not bilinearly
    between its own pixels, which at half a pixel smears a line one pixel wide over
    two (that gave 2.4 to 3.2 grey levels from a finely shifted copy, and kept 0.38 to
    0.51 of the grain's detail; now 1.5 to 1.6, and 0.63 to 0.64)."""
    rng = np.random.default_rng(3)
    size = 128
    grain = cv2.GaussianBlur(rng.normal(0, 50, (size, size, 3)), (0, 0), 0.8)
    crop = np.clip(128 + grain, 0, 255).astype(np.uint8)
    feeds = _inputs(rng, size)
    feeds["mouth"][..., 3] = 0.0
    boxes = []
    for side in "rl":  # eye patches of the crop's own pixels: the eyes as painted
        x0, y0, x1, y1 = feeds[f"eye_{side}_patch_box"].astype(int)
        feeds[f"eye_{side}_patch_box"] = np.array([x0, y0, x1, y1], np.float32)
        region = crop[y0:y1, x0:x1].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        feeds[f"eye_{side}_patch"] = model.fine_patch(region)
        boxes.append((slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2)))
    # every node samples ``shift`` pixels right of and below itself
    field = np.full((model.GRID, model.GRID, 2), shift * 2.0 / size, np.float32)
    out = DenseDrawer(crop).draw(field, feeds)
    finely = cv2.warpAffine(crop, np.float32([[1, 0, -shift], [0, 1, -shift]]), (size, size),
                            flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(out[inner].astype(int) - finely[inner]).mean() < 2.0
    assert _detail(out[inner]) > 0.58 * _detail(crop[inner])
    for box in boxes:  # the eyes too: their patches are sampled as finely
        assert np.abs(out[box].astype(int) - finely[box]).mean() < 2.0
