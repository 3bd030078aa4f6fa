"""The built-in warp model: the committed ONNX file, its source, and its NumPy reference."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

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


def _feeds(img, src, dst, closed=None, layers=None):
    """All of the model's inputs; by default the eyes fully open and no mouth drawn."""
    size = img.shape[2]
    closed = np.zeros_like(img) if closed is None else closed
    feeds = {"portrait": img, "closed_eyes": closed, "src_points": src, "dst_points": dst,
             "eye_r": np.concatenate([np.ones((4, 5, 1)), np.zeros((4, 5, 1))], 2),
             "eye_r_origin": [0, 0],
             "eye_l": np.concatenate([np.ones((4, 5, 1)), np.zeros((4, 5, 1))], 2),
             "eye_l_origin": [size - 4, size - 5],
             "mouth": np.zeros((3, 3, 4)), "mouth_origin": [1, 1]}
    for name, (layer, origin) in (layers or {}).items():
        feeds[name], feeds[name + "_origin"] = layer, origin
    return {k: np.asarray(v, np.int64 if k.endswith("origin") else np.float32)
            for k, v in feeds.items()}


def _random_layers(rng, size):
    h, w = size // 6, size // 4
    return {"eye_r": (rng.random((h, w, 2)), [size // 4, size // 6]),
            "eye_l": (rng.random((h, w, 2)), [size // 4, size // 2]),
            "mouth": (rng.random((h, w + 3, 4)), [size // 2 + 5, size // 3])}


def test_committed_model_matches_a_fresh_export(tmp_path):
    committed = _session(model_file("puppet_warp.onnx"))
    fresh_path = model.export(tmp_path / "fresh.onnx")
    fresh = _session(fresh_path)
    rng = np.random.default_rng(1)
    for size, k in [(64, 40), (137, 90), (256, 200)]:
        img = rng.random((1, 3, size, size)).astype(np.float32)
        closed = rng.random((1, 3, size, size)).astype(np.float32)
        src, dst = _points(rng, k, 0.05)
        feeds = _feeds(img, src, dst, closed, _random_layers(rng, size))
        a = committed.run(None, feeds)[0]
        b = fresh.run(None, feeds)[0]
        assert a.shape == (size, size, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)


def test_metadata_carries_name_version_and_contract():
    meta = _session(model_file("puppet_warp.onnx")).get_modelmeta().custom_metadata_map
    assert meta["puppet.name"] == model.NAME
    assert meta["puppet.version"] == model.VERSION
    contract = json.loads(meta["puppet.contract"])
    assert set(contract["inputs"]) == {"portrait", "closed_eyes", "src_points", "dst_points",
                                       "eye_r", "eye_r_origin", "eye_l", "eye_l_origin",
                                       "mouth", "mouth_origin"}
    assert set(contract["outputs"]) == {"frame"}


def test_onnx_agrees_with_the_numpy_reference():
    sess = _session(model.build().SerializeToString())
    rng = np.random.default_rng(2)
    img = _smooth_image(rng, 160)
    closed = _smooth_image(rng, 160)
    src, dst = _points(rng, 80, 0.04)
    layers = _random_layers(rng, 160)
    out = sess.run(None, _feeds(img, src, dst, closed, layers))[0]
    ref = model.reference(img, src, dst, closed,
                          {k: (v.astype(np.float32), o) for k, (v, o) in layers.items()})
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.05


def test_no_motion_gives_the_portrait_back_exactly():
    sess = _session(model_file("puppet_warp.onnx"))
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (1, 3, 200, 200)).astype(np.float32)
    src, _ = _points(rng, 120)
    out = sess.run(None, _feeds(pixels / 255.0, src, src))[0]
    np.testing.assert_array_equal(out, pixels[0].transpose(1, 2, 0).astype(np.uint8))


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


def test_layers_close_the_eyes_and_paint_the_mouth():
    """Where an eye layer says shut, the shut-eye image shows (darkened on the lash
    line); where the mouth layer covers, its colour shows; elsewhere the portrait."""
    sess = _session(model_file("puppet_warp.onnx"))
    size = 64
    img = np.full((1, 3, size, size), 0.5, np.float32)
    closed = np.full((1, 3, size, size), 0.8, np.float32)
    src, _ = _points(np.random.default_rng(5), 20)
    eye = np.zeros((6, 8, 2), np.float32)  # shut everywhere in its box
    eye[3:, :, 1] = 1.0  # lash line on its lower half
    mouth = np.zeros((5, 7, 4), np.float32)
    mouth[..., :3] = 0.1
    mouth[..., 3] = 1.0
    feeds = _feeds(img, src, src, closed, {"eye_r": (eye, [10, 12]), "mouth": (mouth, [40, 20])})
    out = sess.run(None, feeds)[0].astype(int)
    assert abs(out[11, 13, 0] - 204) <= 1  # 0.8: the shut eye
    assert abs(out[14, 13, 0] - round(0.8 * 0.4 * 255)) <= 1  # lash line: darkened
    assert abs(out[42, 23, 0] - 26) <= 1  # 0.1: inside of the mouth
    assert abs(out[30, 30, 0] - 128) <= 1  # elsewhere the portrait
