"""Video files as frame sources (PyAV): frames with their index and time.

Frames come out the way a player shows them: a phone's clip, stored sideways with a
display rotation in its container, is turned upright (a face on its side would be
tracked turning where it nods).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from puppet.errors import PuppetError, existing_file

PIXEL_FORMATS = ("bgr24", "rgb24")


@dataclass(frozen=True)
class Frame:
    index: int
    time: float  # seconds from the start of the source
    image: np.ndarray  # BGR uint8 (RGB where the source was asked for rgb24)


def _av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise PuppetError("PyAV is not installed", "install Puppet again: pip install .") from exc
    return av


class VideoFile:
    """A video file read frame by frame; ``fps`` is the file's own frame rate."""

    def __init__(self, path: str | Path, what: str = "driving video"):
        av = _av()
        self.path = existing_file(path, what, "a video file")
        self.what = what
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise PuppetError(f"{what} {self.path} cannot be read as a video ({_reason(exc)})",
                              "check that it is a complete video file (MP4, MOV, MKV, AVI, WebM)") \
                from exc
        streams = self._container.streams.video
        if not streams:
            self._container.close()
            raise PuppetError(f"{what} {self.path} has no video track",
                              "give a file with video in it")
        self._stream = streams[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        if not rate or rate <= 0 or rate > 1000:
            rate = Fraction(30, 1)
        self.rate = Fraction(rate)
        self.fps = float(self.rate)
        ctx = self._stream.codec_context
        self.width, self.height = int(ctx.width or 0), int(ctx.height or 0)
        if self.width <= 0 or self.height <= 0:
            self._container.close()
            raise PuppetError(f"{what} {self.path} has a video track with no picture size",
                              "check that the file is not damaged")
        # quarter turns counter-clockwise that bring the stored picture upright
        self.turns = _display_turns(av, self.path)
        if self.turns % 2:
            self.width, self.height = self.height, self.width
        frames = int(self._stream.frames or 0)
        if frames <= 0 and self._stream.duration and self._stream.time_base:
            frames = int(round(float(self._stream.duration * self._stream.time_base) * self.fps))
        if frames <= 0 and self._container.duration:
            frames = int(round(self._container.duration / 1_000_000 * self.fps))
        self.frame_count = max(0, frames)  # an estimate: some files do not say

    def frames(self, pixel_format: str = "bgr24") -> Iterator[Frame]:
        """Every frame in order; frame i is at time i / fps (constant rate).

        ``pixel_format`` is ``bgr24`` (OpenCV's order) or ``rgb24`` (MediaPipe's):
        the decoder converts straight to it, so no stage converts again.
        """
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel_format must be one of {PIXEL_FORMATS}")
        av = _av()
        turn = _UPRIGHT[self.turns]
        index = 0
        try:
            for vf in self._container.decode(self._stream):
                image = vf.to_ndarray(format=pixel_format)
                if turn is not None:
                    image = cv2.rotate(image, turn)
                yield Frame(index, index / self.fps, image)
                index += 1
        except av.error.FFmpegError as exc:
            if index == 0:
                raise PuppetError(f"{self.what} {self.path} cannot be decoded ({_reason(exc)})",
                                  "check that it is a complete, playable video file") from exc
            raise PuppetError(
                f"{self.what} {self.path} is damaged after frame {index} ({_reason(exc)})",
                "re-export or re-download the video") from exc
        if index == 0:
            raise PuppetError(f"{self.what} {self.path} has no frames that can be decoded",
                              "check that it is a complete, playable video file")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_UPRIGHT = (None, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE)


def _display_turns(av, path: Path) -> int:
    """The container's display rotation as quarter turns counter-clockwise (0-3), read
    from the first frame's display matrix (PyAV gives it per frame, in degrees
    counter-clockwise); 0 where there is none or the file cannot be decoded (reading
    its frames then says what is wrong)."""
    try:
        with av.open(str(path)) as container:
            for vf in container.decode(video=0):
                degrees = float(getattr(vf, "rotation", 0) or 0)
                return int(round(degrees / 90.0)) % 4
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        pass
    return 0


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.split(":")[-1].strip() if ":" in text and len(text) > 80 else text.strip()
