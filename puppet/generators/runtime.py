"""onnxruntime sessions: choosing the provider, and always saying which one runs.

onnxruntime silently falls back to the CPU when the CUDA provider fails to load
(a missing cuBLAS or cuDNN, a driver too old); the only trace is a log line.
Here every session is checked after creation and the provider actually in use
is returned with a note saying why, so the CLI and the GUI can show it.
"""
from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from puppet.errors import PuppetError

DEVICES = ("auto", "cpu", "cuda")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class ProviderInfo:
    """The provider a session really uses, and why that one."""

    provider: str
    requested: str
    note: str = ""

    @property
    def device(self) -> str:
        return "cuda" if self.provider == CUDA else "cpu"

    @property
    def label(self) -> str:
        name = "CUDA" if self.provider == CUDA else "CPU"
        return f"{name} ({self.note})" if self.note else name


def nvidia_driver_present() -> bool:
    """Whether the NVIDIA driver's user-space library can be loaded."""
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise PuppetError("onnxruntime is not installed",
                          "install Puppet again with: pip install .") from exc
    return ort


def create_session(model: str | Path | bytes, device: str = "auto",
                   threads: int | None = None):
    """An ``InferenceSession`` on the requested device, and the :class:`ProviderInfo`.

    ``device``: ``auto`` uses CUDA where it really works and the CPU otherwise,
    ``cuda`` fails with a clear error where CUDA does not work, ``cpu`` never
    tries CUDA.
    """
    if device not in DEVICES:
        raise PuppetError(f"unknown device '{device}'", "use one of: auto, cpu, cuda")
    ort = _ort()
    ort.set_default_logger_severity(3)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    model_arg = model if isinstance(model, bytes) else str(model)

    note = ""
    if device in ("auto", "cuda"):
        reason = _cuda_unavailable_reason(ort)
        if reason is None:
            try:
                session = ort.InferenceSession(model_arg, opts, providers=[CUDA, CPU])
            except Exception as exc:  # a CUDA library that loads but fails to start
                session, reason = None, f"the CUDA provider failed to start: {exc}"
            if session is not None:
                if session.get_providers()[0] == CUDA:
                    return session, ProviderInfo(CUDA, device)
                reason = ("the CUDA provider did not load (a CUDA 13 or cuDNN 9 library is "
                          "missing or does not match the driver); run 'puppet doctor'")
        if device == "cuda":
            raise PuppetError(f"CUDA was asked for but cannot be used: {reason}",
                              "run 'puppet doctor' for the fix, or use --device cpu")
        note = reason or ""
    session = ort.InferenceSession(model_arg, opts, providers=[CPU])
    return session, ProviderInfo(session.get_providers()[0], device, note)


class ModelRunner:
    """Runs one session with inputs split into per-portrait and per-frame ones."""

    def __init__(self, session, info: ProviderInfo):
        self.session = session
        self.info = info
        self.output_names = [o.name for o in session.get_outputs()]

    def run(self, static: dict, per_frame: dict):
        """The model's first output for these inputs."""
        return self.session.run(self.output_names[:1], {**static, **per_frame})[0]


def _cuda_unavailable_reason(ort) -> str | None:
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
    if not nvidia_driver_present():
        return "no NVIDIA GPU driver found"
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # loads CUDA and cuDNN from pip's nvidia-* wheels where present
        try:
            preload()
        except Exception:  # noqa: BLE001 - a best effort; the session check decides
            pass
    return None
