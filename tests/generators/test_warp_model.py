"""The built-in warp model: the committed ONNX file, its source, and its NumPy reference."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from puppet.generators import runtime
from puppet.generators.warp import model
from puppet.resources import model_file


def _session(source):
    data = source if isinstance(source, bytes) else str(source)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _smooth_image(rng, size):
    import cv2

    small = rng.random((size // 8, size // 8, 3)).astype(np.float32)
    big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0, 1).transpose(2, 0, 1)[None].astype(np.float32)


def _points(rng, k, spread=0.03):
    src = rng.uniform(-0.85, 0.85, (k, 2)).astype(np.float32)
    dst = (src + rng.normal(0, spread, (k, 2))).astype(np.float32)
    return src, dst


def _fine(img):
    """The model's portrait input for a crop [1, 3, S, S]: the crop at twice its resolution."""
    return model.fine_patch(img)


def _feeds(img, src, dst, eyes=None, mouth=None, mobility=None):
    """All of the model's inputs for the crop ``img`` [1, 3, S, S]; by default the eyes as
    painted, no mouth drawn and every pixel free to move."""
    feeds = {"portrait": _fine(img), "src_points": src, "dst_points": dst,
             "mobility": np.ones((model.GRID ** 2, 1)) if mobility is None else mobility,
             "mouth": np.zeros((3, 3, 4)), "mouth_origin": [1, 1]}
    for side in ("r", "l"):
        feeds.update({f"eye_{side}_patch": model.fine_patch(img[:, :, 0:4, 0:5]),
                      f"eye_{side}_patch_box": [0, 0, 5, 4],
                      f"eye_{side}_origin": [0, 0], f"eye_{side}_area": np.zeros((4, 5))})
    for side, (patch, box, origin, box_size) in zip("rl", eyes or []):
        feeds.update({f"eye_{side}_patch": model.fine_patch(patch), f"eye_{side}_patch_box": box,
                      f"eye_{side}_origin": origin,
                      f"eye_{side}_area": np.zeros(tuple(box_size))})
    if mouth is not None:
        feeds["mouth"], feeds["mouth_origin"] = mouth
    types = {"origin": np.int64, "area": np.uint8}
    return {k: np.asarray(v, types.get(k.rsplit("_", 1)[-1], np.float32))
            for k, v in feeds.items()}


def _random_layers(rng, size):
    h, w = size // 6, size // 4
    eyes = [(rng.random((1, 3, h, w)), [size * 0.2, size * 0.2, size * 0.2 + w, size * 0.2 + h],
             [size // 5, size // 8], [h + 8, w + 6]),
            (rng.random((1, 3, h + 1, w)), [size * 0.6, size * 0.2, size * 0.6 + w,
                                            size * 0.2 + h + 1],
             [size // 5, size // 2], [h + 8, w + 6])]
    mouth = (rng.random((h, w + 3, 4)), [size // 2 + 5, size // 3])
    return eyes, mouth


def test_the_fine_portrait_keeps_the_crops_pixels_and_interpolates_between_them():
    """model.fine: every other pixel is the crop's own; between them a wave is found
    far closer than a straight line between its neighbours finds it."""
    x = np.arange(40, dtype=np.float64)
    wave = lambda t: 0.5 + 0.4 * np.sin(2 * np.pi * t / 5.0)  # noqa: E731  five pixels a cycle
    crop = np.repeat(np.repeat(wave(x)[None, :, None], 9, axis=0), 3, axis=2)
    out = model.fine(crop.astype(np.float32))
    assert out.shape == (17, 79, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[::2, ::2], crop.astype(np.float32))
    between = out[4, 1::2, 0][4:-4]  # away from the held edges
    truth = wave(x[:-1] + 0.5)[4:-4]
    linear = 0.5 * (crop[0, :-1, 0] + crop[0, 1:, 0])[4:-4]
    assert np.abs(between - truth).max() < 0.3 * np.abs(linear - truth).max()
    grey = model.fine(np.clip(crop * 255, 0, 255).astype(np.uint8))
    assert grey.dtype == np.uint8 and grey.flags.c_contiguous
    np.testing.assert_array_equal(grey[::2, ::2], np.clip(crop * 255, 0, 255).astype(np.uint8))


def test_committed_model_matches_a_fresh_export(tmp_path):
    committed = _session(model_file("puppet_warp.onnx"))
    fresh_path, field_path = model.export(tmp_path)
    assert fresh_path.name == "puppet_warp.onnx" and field_path.name == "puppet_warp_field.onnx"
    fresh = _session(fresh_path)
    rng = np.random.default_rng(1)
    for size, k in [(64, 40), (137, 90), (256, 200)]:
        img = rng.random((1, 3, size, size)).astype(np.float32)
        src, dst = _points(rng, k, 0.05)
        mobility = rng.random((model.GRID ** 2, 1))
        feeds = _feeds(img, src, dst, *_random_layers(rng, size), mobility)
        a = committed.run(None, feeds)[0]
        b = fresh.run(None, feeds)[0]
        assert a.shape == (size, size, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)


def test_metadata_carries_name_version_and_contract():
    meta = _session(model_file("puppet_warp.onnx")).get_modelmeta().custom_metadata_map
    assert meta["puppet.name"] == model.NAME
    assert meta["puppet.version"] == model.VERSION
    contract = json.loads(meta["puppet.contract"])
    assert set(contract["inputs"]) == {
        "portrait", "src_points", "dst_points", "mobility", "mouth", "mouth_origin",
        *(f"eye_{s}_{k}" for s in "rl" for k in ("patch", "patch_box", "origin", "area"))}
    assert set(contract["outputs"]) == {"frame"}


def test_no_shape_depends_on_a_value(tmp_path):
    """With the inputs' shapes fixed, onnxruntime folds every shape computation away.
    A shape computed from a value cannot be captured in a CUDA graph, and it makes the
    CUDA provider copy the value back to the host mid-run: on an H100 those reads came
    back wrong and runs failed on boxes of garbage size (v6 sized the boxes by value)."""
    feeds = model.sample_inputs(64)
    path = str(model_file("puppet_warp.onnx"))
    dims = runtime.free_dimensions(_session(path), feeds)
    assert {"F", "K", "Her", "Wer", "Hm", "Wm"} <= set(dims)
    opts = runtime.session_options(1, dims)
    opts.optimized_model_filepath = str(tmp_path / "static.onnx")
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    left = [n.op_type for n in onnx.load(str(tmp_path / "static.onnx")).graph.node
            if n.op_type in ("Shape", "Range", "Expand", "Slice")]
    assert left == []
    frame = sess.run(None, feeds)[0]  # and it still draws the same frame
    np.testing.assert_array_equal(frame, _session(path).run(None, feeds)[0])


def test_onnx_agrees_with_the_numpy_reference():
    sess = _session(model.build().SerializeToString())
    rng = np.random.default_rng(2)
    img = _smooth_image(rng, 160)
    src, dst = _points(rng, 80, 0.04)
    eyes, mouth = _random_layers(rng, 160)
    mobility = np.clip(rng.random((model.GRID ** 2, 1)) * 2, 0, 1)
    out = sess.run(None, _feeds(img, src, dst, eyes, mouth, mobility))[0]
    fine_eyes = [(model.fine_patch(patch), *rest) for patch, *rest in eyes]
    ref = model.reference(_fine(img), src, dst, fine_eyes, mouth, mobility)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.05


def test_no_motion_gives_the_portrait_back_exactly():
    sess = _session(model_file("puppet_warp.onnx"))
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (1, 3, 200, 200)).astype(np.float32)
    src, _ = _points(rng, 120)
    out = sess.run(None, _feeds(pixels / 255.0, src, src))[0]
    np.testing.assert_array_equal(out, pixels[0].transpose(1, 2, 0).astype(np.uint8))


def test_held_pixels_do_not_move():
    """Where mobility is 0 (the picture's frame) the warp leaves pixels exactly."""
    sess = _session(model_file("puppet_warp.onnx"))
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (1, 3, 96, 96)).astype(np.float32)
    src, dst = _points(rng, 60, 0.08)
    mobility = np.ones((model.GRID, model.GRID), np.float32)
    mobility[:, :16] = 0.0  # the left quarter of the nodes, and one more column
    out = sess.run(None, _feeds(pixels / 255.0, src, dst, mobility=mobility.reshape(-1, 1)))[0]
    np.testing.assert_array_equal(out[:, :20], pixels[0].transpose(1, 2, 0)[:, :20])
    assert np.abs(out[:, 30:].astype(int) - pixels[0].transpose(1, 2, 0)[:, 30:]).mean() > 10


def test_a_moved_point_carries_its_pixels():
    """A bright dot under a control point follows that point; fixed corners stay."""
    size = 128
    img = np.zeros((1, 3, size, size), np.float32)
    img[0, :, 60:68, 60:68] = 1.0  # a dot around (64, 64): unit coords ~ (0, 0)
    corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], np.float32)
    src = np.concatenate([[[0.0, 0.0]], corners]).astype(np.float32)
    dst = np.concatenate([[[0.25, 0.0]], corners]).astype(np.float32)  # 16 px to the right
    out = _session(model_file("puppet_warp.onnx")).run(None, _feeds(img, src, dst))[0]
    ys, xs = np.nonzero(out[..., 0] > 128)
    assert abs(xs.mean() - (64 + 16)) < 2.0 and abs(ys.mean() - 64) < 2.0
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 0


@pytest.mark.parametrize("k", [5, 300])
def test_any_number_of_points_and_size(k):
    sess = _session(model_file("puppet_warp.onnx"))
    rng = np.random.default_rng(k)
    src, dst = _points(rng, k)
    img = rng.random((1, 3, 96, 96)).astype(np.float32)
    out = sess.run(None, _feeds(img, src, dst))[0]
    assert out.shape == (96, 96, 3)


def test_eye_patches_and_the_mouth_layer_are_drawn_where_they_belong():
    """Where the warp samples an eye's region of the portrait, this frame's patch
    shows; where the mouth layer covers, its colour; elsewhere the portrait."""
    sess = _session(model_file("puppet_warp.onnx"))
    size = 64
    img = np.full((1, 3, size, size), 0.5, np.float32)
    src, _ = _points(np.random.default_rng(5), 20)
    patch = np.full((1, 3, 6, 8), 0.8, np.float32)  # the region x 10..18, y 12..18
    eye = (patch, [10, 12, 18, 18], [8, 6], [14, 16])
    mouth = np.zeros((5, 7, 4), np.float32)
    mouth[..., :3] = 0.1
    mouth[..., 3] = 1.0
    out = sess.run(None, _feeds(img, src, src, [eye], (mouth, [40, 20])))[0].astype(int)
    assert abs(out[15, 14, 0] - 204) <= 1  # inside the patch's region: the patch
    assert abs(out[10, 8, 0] - 128) <= 1  # in the eye's box, outside the region
    assert abs(out[42, 23, 0] - 26) <= 1  # inside of the mouth
    assert abs(out[30, 30, 0] - 128) <= 1  # elsewhere the portrait


def test_committed_field_graph_matches_a_fresh_export_and_the_reference(tmp_path):
    committed = _session(model_file("puppet_warp_field.onnx"))
    fresh = _session(model.export(tmp_path)[1])
    meta = committed.get_modelmeta().custom_metadata_map
    assert meta["puppet.name"] == model.FIELD_NAME and meta["puppet.version"] == model.VERSION
    rng = np.random.default_rng(6)
    for k in (5, 90, 300):
        src, dst = _points(rng, k, 0.05)
        mobility = rng.random((model.GRID ** 2, 1)).astype(np.float32)
        feeds = {"src_points": src, "dst_points": dst, "mobility": mobility}
        a = committed.run(None, feeds)[0]
        np.testing.assert_array_equal(a, fresh.run(None, feeds)[0])
        assert a.shape == (model.GRID, model.GRID, 2) and a.dtype == np.float32
        ref = model.field_reference(src, dst, mobility)
        assert np.abs(a - ref).max() < 2e-4  # crop units: under 0.05 px of a 512 crop


def test_the_field_is_the_whole_models_first_part():
    """The whole model upsamples the field graph's output: where no eye or mouth is
    drawn, its frame is the crop sampled through that field."""
    whole = _session(model_file("puppet_warp.onnx"))
    field = _session(model_file("puppet_warp_field.onnx"))
    rng = np.random.default_rng(7)
    size = 128
    img = _smooth_image(rng, size)
    src, dst = _points(rng, 60, 0.05)
    mobility = np.ones((model.GRID ** 2, 1), np.float32)
    out = whole.run(None, _feeds(img, src, dst))[0]
    off = field.run(None, {"src_points": src, "dst_points": dst, "mobility": mobility})[0]
    up = model.resize_half_pixel(off.astype(np.float64), size)
    centres = (np.arange(size) * 2.0 + 1.0) / size - 1.0
    edge = 1.0 - 1.0 / size
    gx = np.clip(centres[None, :] + up[..., 0], -edge, edge)
    gy = np.clip(centres[:, None] + up[..., 1], -edge, edge)
    ref = model.sample_fine(_fine(img)[0].transpose(1, 2, 0).astype(np.float64), gx, gy)
    ref = np.clip(ref * 255.0 + 0.5, 0, 255).astype(np.uint8)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff[20:-20, 20:-20].max() <= 1  # away from the eye boxes in the corner
