"""H.264 MP4 files written with PyAV (libx264), all or nothing.

Frames go to a hidden ``.part`` file beside the target; only a finished file is
moved into place, so a failed or interrupted render never leaves a file that
looks valid.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from puppet.errors import PuppetError


def check_output_path(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """The output path, or a :class:`PuppetError` if it cannot be written."""
    p = Path(path)
    if p.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise PuppetError(f"output {p} should end in .mp4", "give a file name like out.mp4")
    if p.is_dir():
        raise PuppetError(f"output {p} is a folder", "give a file name like out.mp4")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise PuppetError(f"the output folder {parent} does not exist",
                          "create it first, or choose another output path")
    if not parent.is_dir():
        raise PuppetError(f"{parent} is not a folder", "choose another output path")
    if not os.access(parent, os.W_OK):
        raise PuppetError(f"cannot write in the output folder {parent}",
                          "choose a folder you can write to")
    for other in inputs:
        try:
            if Path(other).exists() and p.exists() and p.samefile(other):
                raise PuppetError(f"the output {p} is also an input",
                                  "choose another output name")
        except OSError:
            pass
    return p


# x264's "superfast" with its macroblock tree and a short look-ahead put back: the same
# quality (PSNR) and about the same size as "veryfast" on Puppet's mostly still frames,
# for about two thirds of the encoder's time (bench/encode_options.py measures it).
PRESET = "superfast"
X264_PARAMS = "mbtree=1:rc-lookahead=10"


class VideoWriter:
    """Writes frames of one fixed size to an H.264 MP4 at a constant rate.

    Frames are BGR (H x W x 3) or I420 (one H * 3/2 x W array, see
    :func:`puppet.compose.bgr_to_i420`); I420 frames go to the encoder as they are.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float | Fraction,
                 crf: int = 17, preset: str = PRESET, x264_params: str | None = X264_PARAMS,
                 threads: int | None = None):
        import av

        if width % 2 or height % 2:
            raise ValueError("H.264 in yuv420p needs an even width and height")
        self.path = Path(path)
        self.part = self.path.with_name(f".{self.path.name}.part")
        self.width, self.height = width, height
        rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
        self.frames = 0
        self._closed = False
        try:
            self._container = av.open(str(self.part), mode="w", format="mp4")
        except (av.error.FFmpegError, OSError) as exc:
            raise PuppetError(f"cannot create {self.path}: {exc}",
                              "check the folder and the free disk space") from exc
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        options = {"crf": str(crf), "preset": preset}
        if x264_params:
            options["x264-params"] = x264_params
        if threads:
            options["threads"] = str(threads)
        stream.options = options
        stream.codec_context.time_base = Fraction(1, 1) / rate
        self._stream = stream

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame: BGR (H x W x 3) or I420 (H * 3/2 x W)."""
        import av

        if frame.ndim == 2 and frame.shape == (self.height * 3 // 2, self.width):
            i420 = frame
        elif frame.ndim == 3 and frame.shape[:2] == (self.height, self.width):
            i420 = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
        else:
            raise ValueError(f"frame of shape {frame.shape} does not fit "
                             f"the video's {self.width}x{self.height}")
        vf = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        vf.pts = self.frames
        self.frames += 1
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise PuppetError(f"writing {self.path} failed: {exc}",
                              "check the free disk space") from exc

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except Exception:
            self._remove_part()
            raise
        if self.frames == 0:
            self._remove_part()
            raise PuppetError(f"no frames were written to {self.path}", "check the inputs")
        os.replace(self.part, self.path)
        return self.path

    def abort(self) -> None:
        """Stop and delete what was written so far."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - we are deleting it anyway
            pass
        self._remove_part()

    def _remove_part(self) -> None:
        try:
            self.part.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
