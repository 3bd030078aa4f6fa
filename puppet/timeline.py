"""Time for everything that records: one clock, constant-rate frame slots, audio placement.

Live frames and sound arrive when they arrive: a camera delivers 29.7 frames a
second one moment and stalls the next, a microphone hands over blocks of
samples with their own latency.  A recording needs a constant frame rate and
sound that starts where the picture starts.  Everything is stamped with
:data:`CLOCK` at capture, and a recording that starts at ``t0`` then

* puts frame *k* of its file at ``t0 + k / fps`` and shows there the newest
  frame captured at or before about that time (:class:`FrameSlots`: frames are
  repeated over a stall and dropped in a burst), and
* puts audio sample *n* at ``t0 + n / samplerate`` (:class:`AudioTimeline`:
  silence fills a gap, an overlap is cut).

The MP4 recorder and the performance recorder use the same rules, so frame *k*
of a recording and frame *k* of its performance file are the same moment.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

#: The capture clock: seconds, monotonic, the same in every thread of the process
#: (``time.perf_counter``: fine-grained on Windows too, unlike ``time.monotonic``).
CLOCK = time.perf_counter

T = TypeVar("T")

#: A gap longer than this (10 minutes) between two frames is taken as a bad time stamp.
MAX_GAP_SECONDS = 600.0


def slot_of(t: float, t0: float, fps: float) -> int:
    """The slot (output frame index) nearest to capture time ``t``; may be negative."""
    return math.floor((t - t0) * fps + 0.5)


def frame_count(t0: float, t_end: float, fps: float) -> int:
    """How many frames a recording from ``t0`` to ``t_end`` has at ``fps`` (at least 1)."""
    return max(1, slot_of(t_end, t0, fps))


class FrameSlots(Generic[T]):
    """Turns frames stamped with capture times into a constant-rate sequence.

    ``push(item, t)`` returns the (slot, item) pairs that are now final: every
    slot before the new frame's slot shows the frame that was newest at its
    time (the first frame also fills the slots before it).  ``finish(count)``
    returns the rest up to ``count`` slots.  Frames that arrive late (their
    slot is already out) show in the next slot.
    """

    def __init__(self, t0: float, fps: float):
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.t0 = t0
        self.fps = fps
        self.next_slot = 0
        self.latest: T | None = None
        self._have = False

    def push(self, item: T, t: float) -> list[tuple[int, T]]:
        slot = slot_of(t, self.t0, self.fps)
        slot = min(slot, self.next_slot + int(MAX_GAP_SECONDS * self.fps))
        fill = item if not self._have else self.latest
        out: list[tuple[int, T]] = []
        while self.next_slot < slot:
            out.append((self.next_slot, fill))  # type: ignore[arg-type]
            self.next_slot += 1
        self.latest = item
        self._have = True
        return out

    def finish(self, count: int) -> list[tuple[int, T]]:
        if not self._have:
            return []
        out = [(k, self.latest) for k in range(self.next_slot, count)]
        self.next_slot = max(self.next_slot, count)
        return out  # type: ignore[return-value]


def slot_sources(times: Sequence[float], t0: float, fps: float, count: int) -> np.ndarray:
    """For each of ``count`` slots, the index of the frame it shows (frames in arrival
    order, stamped ``times``); -1 where there is no frame at all."""
    slots: FrameSlots[int] = FrameSlots(t0, fps)
    out = np.full(count, -1, np.int64)
    for i, t in enumerate(times):
        for k, src in slots.push(i, t):
            if k < count:
                out[k] = src
    for k, src in slots.finish(count):
        out[k] = src
    return out


@dataclass(frozen=True)
class AudioFormat:
    """Sample rate and channel count of a sound track (samples are float32 in -1..1)."""

    samplerate: int = 48000
    channels: int = 1

    def __post_init__(self) -> None:
        if not 8000 <= self.samplerate <= 192000:
            raise ValueError(f"sample rate {self.samplerate} is out of range")
        if self.channels not in (1, 2):
            raise ValueError("sound must be mono or stereo")


class AudioTimeline:
    """Lays blocks of samples stamped with capture times onto one track from ``t0``.

    ``place(block, t)`` returns the samples to append: the block itself while
    the sound runs on without a break, with silence in front after a gap, or
    with its start cut off where it overlaps what is already placed (a sound
    card whose clock runs a little fast, or sound from before ``t0``).  The
    first sound is placed exactly; after that, jitter below ``tolerance``
    seconds is ignored, so steady sound is never touched.
    """

    def __init__(self, t0: float, fmt: AudioFormat, tolerance: float = 0.04):
        self.t0 = t0
        self.format = fmt
        self.position = 0  # samples placed so far
        self._tolerance = int(round(tolerance * fmt.samplerate))

    def _empty(self, n: int = 0) -> np.ndarray:
        return np.zeros((n, self.format.channels), np.float32)

    def place(self, block: np.ndarray, t: float) -> np.ndarray:
        block = as_samples(block, self.format.channels)
        start = int(round((t - self.t0) * self.format.samplerate))
        diff = start - self.position
        if abs(diff) <= self._tolerance and self.position > 0:
            out = block
        elif diff > 0:
            out = np.concatenate([self._empty(diff), block])
        else:
            out = block[-diff:]
        self.position += len(out)
        return out

    def silence_until(self, samples: int) -> np.ndarray:
        """Silence from the current position up to ``samples`` (for a stalled source)."""
        n = max(0, samples - self.position)
        self.position += n
        return self._empty(n)


def as_samples(block: np.ndarray, channels: int) -> np.ndarray:
    """A block as float32 (frames, channels); mono is duplicated or stereo mixed down."""
    a = np.asarray(block)
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    a = a.astype(np.float32, copy=False)
    if a.ndim == 1:
        a = a[:, None]
    if a.shape[1] != channels:
        a = np.repeat(a[:, :1], channels, axis=1) if a.shape[1] == 1 else \
            a.mean(axis=1, keepdims=True).repeat(channels, axis=1)
    return np.ascontiguousarray(a)


def concat_samples(blocks: Iterable[np.ndarray], channels: int) -> np.ndarray:
    blocks = list(blocks)
    if not blocks:
        return np.zeros((0, channels), np.float32)
    return np.concatenate(blocks)
