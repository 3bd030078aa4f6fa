"""Provider choice: the provider really used is always reported, CUDA never silently lost."""
from __future__ import annotations

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
