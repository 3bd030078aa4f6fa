"""onnxruntime sessions: choosing the provider, always saying which one runs, and
running a model with its per-portrait inputs kept where the model runs.

onnxruntime silently falls back to the CPU when the CUDA provider fails to load
(a missing cuBLAS or cuDNN, a driver too old); the only trace is a log line.
Here every session is checked after creation and the provider actually in use
is returned with a note saying why, so the CLI and the GUI can show it.

:class:`ModelRunner` runs a model whose inputs are split in two: per-portrait
("static") inputs, bound once with I/O binding and kept on the device (the GPU
for CUDA), and per-frame inputs, the only ones copied in per frame; the first
output is the only thing copied out.  On CUDA it also tries CUDA graphs: one
session specialised to the portrait's shapes, whose kernels are captured once
and replayed per frame.  Whatever it cannot use it says so in ``runner.note``.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from puppet.errors import PuppetError, not_installed

DEVICES = ("auto", "cpu", "cuda")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# The CUDA provider runs matrix products in TF32 by default (10 bits of mantissa): the
# warp's distances come from one MatMul whose rounding then exceeds their epsilon, and
# on an H100 that drew black squares into the frames.  The products are tiny; full
# precision costs nothing measurable.
CUDA_OPTIONS = {"use_tf32": "0"}


def cuda_provider(**options: str) -> tuple[str, dict[str, str]]:
    """The CUDA provider with Puppet's options (and ``options``), for ``providers=``."""
    return CUDA, {**CUDA_OPTIONS, **options}


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
        raise not_installed(exc, "onnxruntime is not installed",
                            "install Puppet again with: pip install .") from exc
    return ort


def default_threads() -> int:
    """onnxruntime threads for a CPU generator: half the cores, 1 to 4.

    The generator shares the machine with decoding, tracking and encoding, which
    run in threads of their own; on 2 cores one generator thread renders faster
    than two (``puppet bench --threads`` measures it).
    """
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def session_options(threads: int | None = None, overrides: dict[str, int] | None = None):
    """Session options: full graph optimisation, ``threads`` intra-op threads that
    sleep rather than spin when idle (the other stages need those cores), and
    free dimensions fixed to ``overrides`` (which makes every shape static)."""
    ort = _ort()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for name, value in (overrides or {}).items():
        opts.add_free_dimension_override_by_name(name, int(value))
    return opts


@dataclass(frozen=True)
class _Origin:
    """How a session was made, so a runner can make a specialised twin of it."""

    model: str | bytes
    threads: int | None


_ORIGINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def create_session(model: str | Path | bytes, device: str = "auto",
                   threads: int | None = None):
    """An ``InferenceSession`` on the requested device, and the :class:`ProviderInfo`.

    ``device``: ``auto`` uses CUDA where it really works and the CPU otherwise,
    ``cuda`` fails with a clear error where CUDA does not work, ``cpu`` never
    tries CUDA.  ``threads``: onnxruntime's intra-op threads (default
    :func:`default_threads`).
    """
    if device not in DEVICES:
        raise PuppetError(f"unknown device '{device}'", "use one of: auto, cpu, cuda")
    ort = _ort()
    ort.set_default_logger_severity(3)
    opts = session_options(threads)
    model_arg = model if isinstance(model, bytes) else str(model)

    note = ""
    if device in ("auto", "cuda"):
        reason = _cuda_unavailable_reason(ort)
        if reason is None:
            try:
                session = ort.InferenceSession(model_arg, opts,
                                               providers=[cuda_provider(), CPU])
            except Exception as exc:  # a CUDA library that loads but fails to start
                session, reason = None, f"the CUDA provider failed to start: {exc}"
            if session is not None:
                if session.get_providers()[0] == CUDA:
                    _ORIGINS[session] = _Origin(model_arg, threads)
                    return session, ProviderInfo(CUDA, device)
                reason = ("the CUDA provider did not load (a CUDA 13 or cuDNN 9 library is "
                          "missing or does not match the driver); run 'puppet doctor'")
        if device == "cuda":
            raise PuppetError(f"CUDA was asked for but cannot be used: {reason}",
                              "run 'puppet doctor' for the fix, or use --device cpu")
        note = reason or ""
    session = ort.InferenceSession(model_arg, opts, providers=[CPU])
    _ORIGINS[session] = _Origin(model_arg, threads)
    return session, ProviderInfo(session.get_providers()[0], device, note)


def _cuda_unavailable_reason(ort) -> str | None:
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
    if not nvidia_driver_present():
        return "no NVIDIA GPU driver found"
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # loads CUDA and cuDNN from pip's nvidia-* wheels where present
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints what it misses
                preload()
        except Exception:  # noqa: BLE001 - a best effort; the session check decides
            pass
    return None


# ---------------------------------------------------------------------------
# running a model with I/O binding


def free_dimensions(session, feeds: dict[str, np.ndarray]) -> dict[str, int]:
    """The values of the model's named (free) dimensions, read off the given inputs.

    E.g. inputs declared ``[1, 3, "S", "S"]`` and ``["K", 2]`` fed arrays of shape
    (1, 3, 512, 512) and (248, 2) give ``{"S": 512, "K": 248}``.  A name seen with
    two different values raises ``ValueError``.
    """
    dims: dict[str, int] = {}
    for inp in session.get_inputs():
        if inp.name not in feeds:
            continue
        shape = np.shape(feeds[inp.name])
        if len(shape) != len(inp.shape):
            raise ValueError(f"input {inp.name} has {len(shape)} dimensions, "
                             f"the model wants {len(inp.shape)}")
        for declared, actual in zip(inp.shape, shape):
            if isinstance(declared, str) and declared:
                if dims.setdefault(declared, int(actual)) != int(actual):
                    raise ValueError(f"dimension {declared} is {dims[declared]} in one input "
                                     f"and {actual} in another")
    return dims


def _as_input(arr: Any) -> np.ndarray:
    return np.ascontiguousarray(arr)


class _Binding:
    """One session's I/O binding for one set of static inputs."""

    def __init__(self, session, device: str, device_id: int, static: dict[str, np.ndarray],
                 output_name: str, fixed_output: tuple[tuple[int, ...], np.dtype] | None):
        ort = _ort()
        self.ort = ort
        self.session = session
        self.device = device
        self.device_id = device_id
        self.binding = session.io_binding()
        self.output_name = output_name
        self.static_values: dict[str, Any] = {}
        self.frame_values: dict[str, Any] = {}
        self._frame_refs: dict[str, np.ndarray] = {}
        for name, arr in static.items():  # uploaded once, kept on the device
            arr = _as_input(arr)
            if fixed_output is not None:  # a buffer of our own, refilled for a new portrait
                value = ort.OrtValue.ortvalue_from_shape_and_type(list(arr.shape), arr.dtype,
                                                                  device, device_id)
                value.update_inplace(arr)
            else:
                value = ort.OrtValue.ortvalue_from_numpy(arr, device, device_id)
            self.binding.bind_ortvalue_input(name, value)
            self.static_values[name] = value
        self.output = None
        if fixed_output is not None:  # a fixed address (CUDA graphs need one)
            shape, dtype = fixed_output
            self.output = ort.OrtValue.ortvalue_from_shape_and_type(list(shape), dtype,
                                                                    device, device_id)
            self.binding.bind_ortvalue_output(output_name, self.output)
        elif device != "cpu":
            self.binding.bind_output(output_name, device, device_id)
        self._out_spec: tuple[tuple[int, ...], np.dtype] | None = None

    def refill_static(self, static: dict[str, np.ndarray]) -> None:
        """New values for the static inputs, into the same buffers (same shapes): the
        session, and a captured CUDA graph, stay as they are."""
        for name, arr in static.items():
            self.static_values[name].update_inplace(_as_input(arr))

    def set_frame_inputs(self, per_frame: dict[str, np.ndarray]) -> None:
        """Per-frame values in: on the CPU bound where they are (no copy), elsewhere, and
        always with fixed buffers, copied into the buffers bound before."""
        fixed = self.output is not None
        for name, arr in per_frame.items():
            arr = _as_input(arr)
            value = self.frame_values.get(name)
            if self.device == "cpu" and not fixed:
                self._frame_refs[name] = arr  # alive until the next frame replaces it
                value = self.ort.OrtValue.ortvalue_from_numpy(arr)
                self.binding.bind_ortvalue_input(name, value)
                self.frame_values[name] = value
                continue
            if value is None or tuple(value.shape()) != arr.shape:
                if fixed and value is not None:
                    raise ValueError(f"input {name} changed shape from {value.shape()} to "
                                     f"{list(arr.shape)}; fixed buffers cannot follow")
                # a buffer of our own (on the CPU, never the caller's array)
                value = self.ort.OrtValue.ortvalue_from_shape_and_type(
                    list(arr.shape), arr.dtype, self.device, self.device_id)
                self.binding.bind_ortvalue_input(name, value)
                self.frame_values[name] = value
            value.update_inplace(arr)  # copies the values into the bound buffer

    def run(self) -> np.ndarray:
        if self.device == "cpu" and self.output is None:
            if self._out_spec is not None:
                # a fresh array per frame for onnxruntime to write into: the caller
                # may keep the last frame while the next one runs
                out = np.empty(*self._out_spec)
                self.binding.bind_ortvalue_output(self.output_name,
                                                  self.ort.OrtValue.ortvalue_from_numpy(out))
                self.session.run_with_iobinding(self.binding)
                return out
            self.binding.bind_output(self.output_name, "cpu")
            self.session.run_with_iobinding(self.binding)
            first = self.binding.get_outputs()[0].numpy().copy()
            self._out_spec = (first.shape, first.dtype)
            return first
        if self.device != "cpu":
            # update_inplace copies on CUDA's default stream and may return before the
            # copy lands, while onnxruntime runs on streams of its own and does not wait
            # for bound inputs (its documented contract): a frame could read the last
            # frame's values
            self.binding.synchronize_inputs()
        self.session.run_with_iobinding(self.binding)
        if self.output is not None:
            out = self.output.numpy()  # from a device: a new array; on the CPU: the buffer
            return out.copy() if self.device == "cpu" else out
        return self.binding.get_outputs()[0].numpy()


class ModelRunner:
    """Runs one session with inputs split into per-portrait and per-frame ones.

    The per-portrait (static) inputs are bound once, with I/O binding, on the
    device the session runs on, and stay there while the same ``static`` dict
    (the same arrays) is passed in; a new dict binds anew.  Per frame, only the
    per-frame inputs go to the device and the first output comes back.

    ``static_shapes=True`` (the default on CUDA) runs each portrait on a twin
    session with every free dimension fixed to the portrait's shapes (so
    onnxruntime folds all shape arithmetic into constants) and with fixed
    input and output buffers that per-frame values are copied into; on CUDA
    that twin also has ``enable_cuda_graph``, so its kernels are captured once
    and replayed per frame.  The twin is checked against a plain run before it
    is used; where onnxruntime refuses it (a node left on the CPU, a shape that
    is not static) the runner carries on without it, and ``note`` says why.
    ``binding=False`` runs plain ``session.run`` calls (for comparisons).
    """

    def __init__(self, session, info, *, binding: bool = True,
                 static_shapes: bool | None = None):
        self.session = session
        self.info = info
        self.output_names = [o.name for o in session.get_outputs()]
        self.use_binding = binding
        on_cuda = info.provider == CUDA
        self.device = "cuda" if on_cuda else "cpu"
        self.device_id = _device_id(session) if on_cuda else 0
        if static_shapes is None:
            env = os.environ.get("PUPPET_CUDA_GRAPH", "1").lower()
            static_shapes = on_cuda and env not in ("0", "", "no", "off", "false")
        self.want_static = bool(static_shapes and binding)
        self.cuda_graph = False  # whether the current portrait runs as a captured CUDA graph
        self.static = False  # whether it runs on a twin session with static shapes
        self.note = ""
        self.static_uploads = 0  # how many times static inputs were bound (tests, bench)
        self.runs = 0
        self._key: tuple | None = None
        self._static: dict[str, np.ndarray] | None = None
        self._bound: _Binding | None = None
        self._signature: tuple | None = None
        self.twins_made = 0  # twin sessions created (tests, bench)

    @property
    def mode(self) -> str:
        """How frames run now: plain, bound, static shapes or CUDA graph."""
        if not self.use_binding:
            return "plain"
        if self.cuda_graph:
            return "cuda-graph"
        return "static-shapes" if self.static else "io-binding"

    def run(self, static: dict, per_frame: dict):
        """The model's first output for these inputs."""
        self.runs += 1
        if not self.use_binding:
            return self.session.run(self.output_names[:1], {**static, **per_frame})[0]
        key = (tuple((name, id(arr)) for name, arr in static.items()),
               tuple((name, np.shape(arr)) for name, arr in per_frame.items()))
        if self._bound is None or key != self._key:
            try:
                self._bind(static, per_frame)
            except Exception as exc:  # noqa: BLE001 - reported in note, then plain runs
                self._fall_back(exc)
                return self.session.run(self.output_names[:1], {**static, **per_frame})[0]
            self._key = key
            self._static = static  # keeps the arrays (and so their ids) alive
        bound = self._bound
        assert bound is not None
        bound.set_frame_inputs(per_frame)
        return bound.run()

    def _bind(self, static: dict, per_frame: dict) -> None:
        signature = _signature(static, per_frame)
        if self.static and self._bound is not None and self._signature == signature:
            # a new portrait with the same shapes: refill the twin's buffers, keep its
            # session (and its captured CUDA graph)
            self._bound.refill_static(static)
            self.static_uploads += 1
            return
        self._signature = signature
        self._bound = None
        self.static = self.cuda_graph = False
        if self.want_static:
            try:
                self._bound = self._static_binding(static, per_frame)
                self.static = True
                self.cuda_graph = self.device == "cuda"
                self.note = "CUDA graph" if self.cuda_graph else "static shapes"
            except Exception as exc:  # noqa: BLE001 - reported, then run without
                what = "no CUDA graph" if self.device == "cuda" else "no static shapes"
                self.note = f"{what}: {_short(exc)}"
        if self._bound is None:
            self._bound = _Binding(self.session, self.device, self.device_id, static,
                                   self.output_names[0], None)
        self.static_uploads += 1

    def _fall_back(self, exc: BaseException) -> None:
        """I/O binding itself failed: plain runs from now on, and say so."""
        self.use_binding = False
        self._bound = None
        self.static = self.cuda_graph = False
        self.note = f"no I/O binding: {_short(exc)}"

    def _static_binding(self, static: dict, per_frame: dict) -> _Binding:
        """A twin session for these shapes (a CUDA graph on CUDA), checked against the
        plain session."""
        ort = _ort()
        origin = _ORIGINS.get(self.session)
        if origin is None:
            raise RuntimeError("the session was not made by create_session")
        feeds = {**static, **per_frame}
        expected = self.session.run(self.output_names[:1], feeds)[0]
        overrides = free_dimensions(self.session, feeds)
        if self.device == "cuda":
            providers: list = [cuda_provider(device_id=str(self.device_id),
                                             enable_cuda_graph="1"), CPU]
        else:
            providers = [CPU]
        twin = _make_session(ort, origin.model, session_options(origin.threads, overrides),
                             providers)
        self.twins_made += 1
        if twin.get_providers()[0] != self.session.get_providers()[0]:
            raise RuntimeError(f"the twin session started on {twin.get_providers()[0]}")
        bound = _Binding(twin, self.device, self.device_id, static, self.output_names[0],
                         (expected.shape, expected.dtype))
        for _ in range(2):  # onnxruntime captures a CUDA graph on the first runs
            bound.set_frame_inputs(per_frame)
            got = bound.run()
        if got.shape != expected.shape or np.abs(got.astype(np.float64)
                                                 - expected.astype(np.float64)).mean() > 0.5:
            raise RuntimeError("its output differs from the plain session's")
        return bound


def _signature(static: dict, per_frame: dict) -> tuple:
    """Names, shapes and types of all inputs: what a twin session is specialised to."""
    return tuple((name, np.shape(arr), np.asarray(arr).dtype.str)
                 for name, arr in (*static.items(), *per_frame.items()))


def _make_session(ort, model, options, providers):
    """``ort.InferenceSession`` (a seam for tests)."""
    return ort.InferenceSession(model, options, providers=providers)


def _device_id(session) -> int:
    try:
        return int(session.get_provider_options().get(CUDA, {}).get("device_id", 0))
    except (AttributeError, TypeError, ValueError):
        return 0


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
