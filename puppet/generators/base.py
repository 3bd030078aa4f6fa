"""The ``Generator`` protocol, the crop it works on, and the registry by name."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from puppet.errors import PuppetError

if TYPE_CHECKING:
    from puppet.generators.runtime import ProviderInfo
    from puppet.motion.retarget import Motion
    from puppet.portrait import Portrait


@dataclass(frozen=True)
class CropBox:
    """A square of the portrait around the face: ``side`` output pixels from (x0, y0),
    drawn by the generator at ``res`` x ``res`` pixels.  It may reach past the
    image's edges (those pixels are padded and never pasted back)."""

    x0: int
    y0: int
    side: int
    res: int

    def to_unit(self, xy: np.ndarray) -> np.ndarray:
        """Portrait pixel coordinates (N x 2) to the crop's [-1, 1] coordinates."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - np.array([self.x0, self.y0])) * (2.0 / self.side) - 1.0

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Portrait pixel coordinates (N x 2) to the crop's own pixels (at ``res``)."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - np.array([self.x0, self.y0])) * (self.res / self.side)

    def from_unit(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=np.float64)
        return (uv + 1.0) * (self.side / 2.0) + np.array([self.x0, self.y0])


class Prepared(Protocol):
    """What a generator computes once per portrait."""

    box: CropBox
    static_inputs: dict[str, np.ndarray]  # model inputs that depend on the portrait alone


class Generator(Protocol):
    """Draws the portrait's face crop for a :class:`Motion`.

    A generator is an ONNX model plus the NumPy code that turns a ``Motion`` into
    the model's per-frame inputs.  The model's inputs are split in two: those in
    ``prepared.static_inputs`` depend only on the portrait (computed once, and
    kept on the GPU by a CUDA runner), those from :meth:`frame_inputs` change
    every frame.
    """

    name: str
    info: ProviderInfo

    def prepare(self, portrait: Portrait) -> Prepared:
        """Everything that depends on the portrait alone, computed once."""
        ...

    def frame_inputs(self, prepared: Prepared, motion: Motion) -> dict[str, np.ndarray]:
        """The model inputs that change from frame to frame."""
        ...

    def render(self, prepared: Prepared, motion: Motion) -> np.ndarray:
        """The crop (``res`` x ``res`` x 3, BGR uint8) for one output frame."""
        ...


_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[name] = factory
        return factory

    return deco


def available() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create(name: str = "warp", device: str = "auto", **kwargs: Any) -> Generator:
    """A generator by name, on ``device`` (auto, cpu or cuda)."""
    _load_builtins()
    if name not in _REGISTRY:
        raise PuppetError(f"unknown generator '{name}'", f"use one of: {', '.join(available())}")
    return _REGISTRY[name](device=device, **kwargs)


def _load_builtins() -> None:
    import puppet.generators.warp.generator  # noqa: F401  (registers "warp")
