"""Provider choice: the provider really used is always reported, CUDA never silently lost."""
from __future__ import annotations

import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.generators import base as generators
from puppet.generators import runtime
from puppet.resources import model_file

MODEL = model_file("puppet_warp.onnx")


def test_cpu_is_cpu():
    session, info = runtime.create_session(MODEL, "cpu")
    assert info.provider == runtime.CPU == session.get_providers()[0]
    assert info.label == "CPU"


def test_auto_reports_what_runs_and_why(monkeypatch):
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    session, info = runtime.create_session(MODEL, "auto")
    assert session.get_providers()[0] == info.provider == runtime.CPU
    assert "no NVIDIA GPU driver" in info.note
    assert info.label.startswith("CPU (")


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    with pytest.raises(PuppetError) as err:
        runtime.create_session(MODEL, "cuda")
    assert "CUDA was asked for" in err.value.message and "--device cpu" in err.value.message


def test_cuda_that_falls_back_inside_onnxruntime_is_caught(monkeypatch):
    """onnxruntime may create the session on the CPU although CUDA was listed: we notice."""
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: True)
    import onnxruntime as ort

    if runtime.CUDA not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no CUDA provider at all")
    with pytest.raises(PuppetError) as err:
        runtime.create_session(MODEL, "cuda")
    assert "CUDA" in err.value.message
    _, info = runtime.create_session(MODEL, "auto")
    assert info.provider == runtime.CPU and "did not load" in info.note


def test_unknown_device_and_generator():
    with pytest.raises(PuppetError):
        runtime.create_session(MODEL, "tpu")
    with pytest.raises(PuppetError) as err:
        generators.create("nope", "cpu")
    assert "warp" in err.value.message


# --- ModelRunner: I/O binding ------------------------------------------------------------


def _inputs(size=96, k=40, frames=4, seed=0):
    """The warp model's inputs, split like a generator splits them: per portrait
    (static) and per frame."""
    rng = np.random.default_rng(seed)
    e = size // 8  # eye and mouth boxes
    fine = 2 * size - 1  # the model samples the crop at twice its resolution
    static = {"portrait": rng.random((1, 3, fine, fine), dtype=np.float32),
              "src_points": rng.uniform(-0.9, 0.9, (k, 2)).astype(np.float32),
              "mobility": np.ones((64 * 64, 1), np.float32)}
    for side, x in (("r", size // 4), ("l", size // 2)):
        static[f"eye_{side}_patch_box"] = np.array([x, e, x + e, 2 * e], np.float32)
        static[f"eye_{side}_area"] = np.zeros((2 * e, 2 * e), np.uint8)
    per_frame = []
    for _ in range(frames):
        frame = {"dst_points": (static["src_points"]
                                + rng.normal(0, 0.04, (k, 2))).astype(np.float32),
                 "mouth": rng.random((e, 2 * e, 4), dtype=np.float32),
                 "mouth_origin": np.array([size // 2, size // 3], np.int64)}
        for side, x in (("r", size // 4), ("l", size // 2)):
            frame[f"eye_{side}_patch"] = rng.random((1, 3, e, e), dtype=np.float32)
            frame[f"eye_{side}_origin"] = np.array([e // 2, x - e // 2], np.int64)
        per_frame.append(frame)
    return static, per_frame


def _plain(session, static, frame):
    return session.run(["frame"], {**static, **frame})[0]


@pytest.mark.parametrize("static_shapes", [False, True])
def test_static_inputs_are_bound_once_and_results_equal_plain_runs(static_shapes):
    session, info = runtime.create_session(MODEL, "cpu")
    runner = runtime.ModelRunner(session, info, static_shapes=static_shapes)
    static, frames = _inputs()
    outs = [runner.run(static, f) for f in frames]
    bound = runner._bound
    assert runner.static_uploads == 1 and runner.runs == len(frames)
    assert runner.mode == ("static-shapes" if static_shapes else "io-binding")
    # the portrait's values were bound once and are the same objects at the end
    assert set(bound.static_values) == set(static)
    assert "dst_points" not in bound.static_values
    for f, out in zip(frames, outs):
        np.testing.assert_array_equal(out, _plain(session, static, f))
    # earlier results are not overwritten by later runs (each frame owns its array)
    assert not np.array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], _plain(session, static, frames[0]))
    # the caller's per-frame arrays are left alone
    again = _inputs()[1]
    for f, g in zip(frames, again):
        np.testing.assert_array_equal(f["dst_points"], g["dst_points"])


def test_a_new_portrait_binds_anew():
    session, info = runtime.create_session(MODEL, "cpu")
    runner = runtime.ModelRunner(session, info)
    static, frames = _inputs()
    runner.run(static, frames[0])
    first = runner._bound
    runner.run(static, frames[1])
    assert runner._bound is first and runner.static_uploads == 1
    other, other_frames = _inputs(size=64, k=25, seed=1)
    out = runner.run(other, other_frames[0])
    assert runner.static_uploads == 2 and out.shape == (64, 64, 3)
    np.testing.assert_array_equal(out, _plain(session, other, other_frames[0]))


def test_static_shapes_follow_a_change_of_shape():
    session, info = runtime.create_session(MODEL, "cpu")
    runner = runtime.ModelRunner(session, info, static_shapes=True)
    static, frames = _inputs(k=40)
    runner.run(static, frames[0])
    # same portrait arrays, but a per-frame input of another shape: a new twin session
    rng = np.random.default_rng(9)
    static2 = {**static, "src_points": rng.uniform(-0.9, 0.9, (30, 2)).astype(np.float32)}
    frame2 = {**frames[0], "dst_points": static2["src_points"] + np.float32(0.01)}
    out = runner.run(static2, frame2)
    assert runner.static_uploads == 2 and runner.mode == "static-shapes"
    np.testing.assert_array_equal(out, _plain(session, static2, frame2))


def test_a_twin_session_that_fails_is_reported_and_the_runner_carries_on(monkeypatch):
    session, info = runtime.create_session(MODEL, "cpu")

    def refuse(*args, **kwargs):
        raise RuntimeError("This session cannot use the graph feature: a node is on the CPU")

    monkeypatch.setattr(runtime, "_make_session", refuse)
    runner = runtime.ModelRunner(session, info, static_shapes=True)
    static, frames = _inputs()
    out = runner.run(static, frames[0])
    assert runner.mode == "io-binding" and not runner.cuda_graph
    assert runner.note.startswith("no static shapes:") and "node is on the CPU" in runner.note
    np.testing.assert_array_equal(out, _plain(session, static, frames[0]))


def test_plain_runs_when_binding_is_off():
    session, info = runtime.create_session(MODEL, "cpu")
    runner = runtime.ModelRunner(session, info, binding=False)
    static, frames = _inputs()
    np.testing.assert_array_equal(runner.run(static, frames[0]),
                                  _plain(session, static, frames[0]))
    assert runner.mode == "plain" and runner.static_uploads == 0


def test_free_dimensions_are_read_off_the_inputs():
    session, _ = runtime.create_session(MODEL, "cpu")
    static, frames = _inputs(size=80, k=33)
    dims = runtime.free_dimensions(session, {**static, **frames[0]})
    assert dims["F"] == 2 * 80 - 1 and dims["K"] == 33 and dims["Hm"] == 10 and dims["Wm"] == 20
    with pytest.raises(ValueError):
        runtime.free_dimensions(session, {**static, **frames[0],
                                          "dst_points": np.zeros((5, 2), np.float32)})


def test_cuda_graph_is_asked_for_on_cuda_only(monkeypatch):
    """On CUDA a runner wants static shapes with a CUDA graph unless PUPPET_CUDA_GRAPH=0;
    on the CPU it does not."""
    session, info = runtime.create_session(MODEL, "cpu")
    assert not runtime.ModelRunner(session, info).want_static
    cuda_info = runtime.ProviderInfo(runtime.CUDA, "cuda")
    assert runtime.ModelRunner(session, cuda_info).want_static
    monkeypatch.setenv("PUPPET_CUDA_GRAPH", "0")
    assert not runtime.ModelRunner(session, cuda_info).want_static


def test_a_cuda_provider_that_fails_to_start_is_reported(monkeypatch):
    """CUDA is listed and a driver is there, but the session cannot start on it."""
    import onnxruntime as ort

    monkeypatch.setattr(runtime, "_cuda_unavailable_reason", lambda _ort: None)
    real = ort.InferenceSession
    asked = []

    def fake(model, options=None, providers=None, **kw):
        cuda = [p for p in providers or [] if p == runtime.CUDA or p[0] == runtime.CUDA]
        if cuda:
            asked.extend(cuda)
            raise RuntimeError("CUDA failure 35: CUDA driver version is insufficient")
        return real(model, options, providers=providers, **kw)

    monkeypatch.setattr(ort, "InferenceSession", fake)
    session, info = runtime.create_session(MODEL, "auto")
    assert info.provider == runtime.CPU == session.get_providers()[0]
    assert "failed to start" in info.note and "driver version" in info.note
    # asked for with full-precision matrix products (TF32 drew black squares on an H100)
    assert asked == [(runtime.CUDA, {"use_tf32": "0"})]
    with pytest.raises(PuppetError) as err:
        runtime.create_session(MODEL, "cuda")
    assert "CUDA was asked for" in err.value.message and "puppet doctor" in err.value.message


def test_generator_threads_sleep_when_idle():
    opts = runtime.session_options(1, {"S": 64})
    assert opts.intra_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert 1 <= runtime.default_threads() <= 4


def test_when_binding_itself_fails_the_runner_runs_plainly_and_says_why(monkeypatch):
    session, info = runtime.create_session(MODEL, "cpu")

    def broken(*args, **kwargs):
        raise RuntimeError("cudaMalloc failed: out of memory")

    monkeypatch.setattr(runtime, "_Binding", broken)
    runner = runtime.ModelRunner(session, info)
    static, frames = _inputs()
    for f in frames[:2]:
        np.testing.assert_array_equal(runner.run(static, f), _plain(session, static, f))
    assert runner.mode == "plain" and "no I/O binding: cudaMalloc failed" in runner.note


def test_a_new_portrait_of_the_same_shapes_reuses_the_twin_session():
    """Switching to a portrait whose inputs have the same shapes refills the twin's
    buffers (on CUDA: keeps the captured graph) instead of making a new session."""
    session, info = runtime.create_session(MODEL, "cpu")
    runner = runtime.ModelRunner(session, info, static_shapes=True)
    first, frames = _inputs(seed=0)
    second, frames2 = _inputs(seed=3)  # same sizes, other values
    a = runner.run(first, frames[0])
    b = runner.run(second, frames2[0])
    assert runner.twins_made == 1 and runner.static_uploads == 2
    np.testing.assert_array_equal(a, _plain(session, first, frames[0]))
    np.testing.assert_array_equal(b, _plain(session, second, frames2[0]))
    # the caller's arrays were copied, not written over
    np.testing.assert_array_equal(first["portrait"], _inputs(seed=0)[0]["portrait"])
    np.testing.assert_array_equal(runner.run(first, frames[1]),
                                  _plain(session, first, frames[1]))
    other, other_frames = _inputs(size=64, k=25, seed=1)
    runner.run(other, other_frames[0])
    assert runner.twins_made == 2
