"""Video files as frame sources (PyAV): frames with their index and time.

Frames come out the way a player shows them: a phone's clip, stored sideways with a
display rotation in its container, is turned upright (a face on its side would be
tracked turning where it nods).

A picture longer than ``LARGE`` pixels (a phone's 4K clip) comes out scaled down to
``DECODED`` pixels on its longer side, by the decoder's own scaler: all that is taken
from a driving video is its face's landmarks and the inside of its mouth, and the face
tracker looks at a face through a 192-pixel window anyway: a face a tenth of a 4K
picture's width across is still 192 pixels across at 1920.  On a 3840x2160 clip this took
a render of the Vermeer from 26.2 to 29.2 fps on 2 cores and its peak memory from 868 to
1030 MB down to 743 (``puppet bench --repeat 3``): each frame's conversion, its tracking
and the copies handed between the render's threads are a quarter of the size.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from puppet.errors import PuppetError, existing_file, not_installed
from puppet.timeline import AudioFormat

if TYPE_CHECKING:
    from puppet.sources.audio import AudioTrack

PIXEL_FORMATS = ("bgr24", "rgb24")
LARGE = 2560  # pixels on a picture's longer side past which it is decoded smaller
DECODED = 1920  # and how many it then has there


def decoded_size(width: int, height: int) -> tuple[int, int]:
    """The size a picture of ``width`` x ``height`` is decoded at (see ``LARGE``): even
    numbers, as the decoder's planes want, the picture's shape kept."""
    longer = max(width, height)
    if longer <= LARGE:
        return width, height
    scale = DECODED / longer
    return (max(2, 2 * int(round(width * scale / 2))),
            max(2, 2 * int(round(height * scale / 2))))


@dataclass(frozen=True)
class Frame:
    index: int
    time: float  # seconds from the start of the source
    image: np.ndarray  # BGR uint8 (RGB where the source was asked for rgb24)


def _av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise not_installed(exc, "PyAV is not installed",
                            "install Puppet again: pip install .") from exc
    return av


class VideoFile:
    """A video file read frame by frame; ``fps`` is the file's own frame rate.

    ``width`` and ``height`` are the frames' own (upright, and scaled down past
    ``LARGE``); ``stored_size`` is the picture's size in the file (upright)."""

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
        if _is_still(self._container, self._stream):
            picture = _decodes(self._container, self._stream)
            self._container.close()
            if not picture:  # FFmpeg goes by the name: a text file called .jpg
                raise PuppetError(f"{what} {self.path} cannot be read: it is neither a video "
                                  "nor a picture", "give a video of a face (MP4, MOV, MKV, "
                                  "AVI, WebM)")
            raise PuppetError(f"{what} {self.path} is a still picture, not a video",
                              "give a video of a face (MP4, MOV, MKV, AVI, WebM); a picture "
                              "can be the portrait instead")
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        if not rate or rate <= 0 or rate > 1000:
            rate = Fraction(30, 1)
        self.rate = Fraction(rate)
        self.fps = float(self.rate)
        self.time_base = self._stream.time_base  # of the file's own time stamps
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
        self.stored_size = (self.width, self.height)
        self.width, self.height = decoded_size(self.width, self.height)
        frames = int(self._stream.frames or 0)
        if frames <= 0 and self._stream.duration and self._stream.time_base:
            frames = int(round(float(self._stream.duration * self._stream.time_base) * self.fps))
        if frames <= 0 and self._container.duration:
            frames = int(round(self._container.duration / 1_000_000 * self.fps))
        self.frame_count = max(0, frames)  # an estimate: some files do not say

    def frame_times(self) -> list[float] | None:
        """Every frame's time from the first frame's, read from the packets (nothing is
        decoded), or None where the file gives no time stamps."""
        stamps, _ = self._packet_stamps()
        base = self._stream.time_base
        if not stamps or not base:
            return None
        return [float((p - stamps[0]) * base) for p in stamps]

    def _packet_stamps(self) -> tuple[list[int], bool]:
        """The video packets' time stamps, sorted (nothing is decoded; an empty list where
        the file cannot be read so), and whether some packet had none."""
        av = _av()
        stamps, missing = [], False
        try:
            with av.open(str(self.path)) as container:
                for packet in container.demux(container.streams.video[0]):
                    if packet.size:
                        if packet.pts is None:
                            missing = True
                        else:
                            stamps.append(int(packet.pts))
        except (av.error.FFmpegError, OSError, ValueError, IndexError):
            return [], True
        return sorted(stamps), missing

    def constant_rate(self) -> bool:
        """Whether every frame is where a constant rate puts it (within a quarter of a
        frame); a file without time stamps counts as constant."""
        times = self.frame_times()
        if not times:
            return True
        return max(abs(t - i / self.fps) for i, t in enumerate(times)) < 0.25 / self.fps

    def frames(self, pixel_format: str = "bgr24", first: int = 0) -> Iterator[Frame]:
        """Every frame in order, each at its own time from the first frame's (a phone's
        clip often has a variable frame rate: fewer frames a second in dim light); i / fps
        where the file gives no times.  Times always increase.

        ``pixel_format`` is ``bgr24`` (OpenCV's order) or ``rgb24`` (MediaPipe's):
        the decoder converts straight to it, so no stage converts again.

        ``first``: the frames from that one on, numbered and timed as from the start.  The
        decoder jumps to the key frame before it where the file's time stamps allow (the
        frames between are decoded, not converted); elsewhere it decodes from the start.
        """
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel_format must be one of {PIXEL_FORMATS}")
        av = _av()
        turn = _UPRIGHT[self.turns]
        # a large picture is scaled as stored, before it is turned upright
        scaled = (self.width, self.height) != self.stored_size
        width, height = (self.height, self.width) if self.turns % 2 else (self.width,
                                                                          self.height)
        index = 0
        first_stamp = last = None
        stamps = self._seek(first) if first > 0 else None
        if stamps is not None:
            first_stamp = float(stamps[0] * self._stream.time_base)
        try:
            for vf in self._container.decode(self._stream):
                if stamps is not None and vf.pts is not None:
                    index = bisect.bisect_left(stamps, vf.pts)
                if index < first:
                    index += 1
                    continue
                if scaled:  # its YUV planes scaled, then converted: a quarter less
                    # time than scaling while converting
                    image = vf.reformat(width=width, height=height, format="yuv420p",
                                        interpolation="AREA").to_ndarray(format=pixel_format)
                else:
                    image = vf.to_ndarray(format=pixel_format)
                if turn is not None:
                    image = cv2.rotate(image, turn)
                t = index / self.fps
                if vf.pts is not None and vf.time_base:
                    stamp = float(vf.pts * vf.time_base)
                    first_stamp = stamp if first_stamp is None else first_stamp
                    t = stamp - first_stamp
                if last is not None and t <= last:  # a repeated or missing time stamp
                    t = last + 1e-3
                last = t
                yield Frame(index, t, image)
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
        # a file cut off (an unfinished download or copy) whose index is at its start: the
        # threaded decoder ends quietly where the data ends, so the decoded frames are
        # counted against the frames the file lists (an MP4's count is exact; a couple
        # may be left out by an edit list)
        stated = int(self._stream.frames or 0)
        if stated and index < stated - max(2, stated // 100):
            raise PuppetError(
                f"{self.what} {self.path} is cut off: it ends after frame {index} of the "
                f"{stated} it lists", "re-export or re-download the video")

    def _seek(self, first: int) -> list[int] | None:
        """Moves the decoder to the key frame at or before frame ``first``: the frames'
        sorted time stamps (to number the frames decoded from there), or None where the
        file cannot be sought so (no time stamps, or ``first`` past its end)."""
        av = _av()
        stamps, missing = self._packet_stamps()
        if missing or first >= len(stamps):
            return None
        try:
            self._container.seek(stamps[first], backward=True, any_frame=False,
                                 stream=self._stream)
        except (av.error.FFmpegError, OSError, ValueError):
            return None
        return stamps

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SoundReader:
    """A video's sound (its first audio track) decoded as it is read, in order, placed
    against the picture: sample 0 at the first video frame (a sound that starts late is
    led in with silence), float32 (frames, channels), mono or stereo at the track's own
    rate.  Only what has been decoded and not yet read is held, so an hour-long clip takes
    no more memory than a short one.  Made by :func:`open_sound`.

    A decoding error part-way ends the sound there (``error`` says why).
    """

    def __init__(self, path: Path, fmt: AudioFormat, container, stream, lead: int):
        av = _av()
        self.path = path
        self.format = fmt
        self.error = ""
        self._av = av
        self._container = container
        self._stream = stream
        self._lead = lead  # where the track's first sample falls, in samples from frame 0
        self._start(0)

    def _start(self, index: int, align: bool = False) -> None:
        """Decode from here on (after opening, or a seek) to give sample ``index`` next;
        ``align``: the decoder starts somewhere before it, which its first frame's time
        says."""
        from puppet.sources.audio import Resampler

        fmt = self.format
        self.position = index  # the next sample read
        self._frames = self._container.decode(self._stream)
        self._resample = Resampler(fmt)
        self._blocks: list[np.ndarray] = []
        self._held = 0
        self._ended = False
        self._align = align
        lead = self._lead - index
        if lead > 0:  # the sound starts after the first frame: silence first
            self._blocks.append(np.zeros((lead, fmt.channels), np.float32))
            self._held = lead
        self._skip = max(-lead, 0)  # it starts before that: cut off what comes before

    def seek(self, index: int) -> None:
        """Read from sample ``index`` on (0 is the first frame's).  The file is sought
        to a little before it and decoded from there, not all the way from the start."""
        rate = self.format.samplerate
        index = max(int(index), 0)
        base = self._stream.time_base
        start = _start_seconds(self._stream)
        seconds = start + (index - self._lead) / rate - 1.0  # the codec settles in a second
        if seconds > start and base:
            try:
                self._container.seek(int(seconds / base), stream=self._stream, backward=True)
                self._start(index, align=True)
                return
            except (self._av.error.FFmpegError, ValueError):
                pass
        # near the start: from the top, as when opened (a seek to 0 does not drop the
        # encoder's priming samples the way opening does)
        self._container.close()
        self._container = self._av.open(str(self.path))
        self._stream = self._container.streams.audio[0]
        self._start(index)

    @property
    def ended(self) -> bool:
        """Whether everything has been read."""
        return self._ended and self._held == 0

    @property
    def held(self) -> int:
        """Samples decoded and not yet read (what the reader holds in memory)."""
        return self._held

    def _decode_more(self) -> None:
        av, fmt = self._av, self.format
        try:
            blocks = self._resample(next(self._frames))
        except StopIteration:
            blocks, self._ended = self._resample(None), True
        except (av.error.FFmpegError, ValueError) as exc:
            blocks, self._ended = [], True
            decoded = (self.position + self._held) / fmt.samplerate
            self.error = f"its sound is damaged after {decoded:.1f} s ({_reason(exc)})"
        if self._align and blocks:  # after a seek: where did the decoder start?
            self._align = False
            if self._resample.first_time is not None:
                at = int(round((self._resample.first_time - _start_seconds(self._stream))
                               * fmt.samplerate)) + self._lead
                self._skip = max(self.position - at, 0)
                if at > self.position:  # it started past the sample asked for: silence
                    self._blocks.append(np.zeros((at - self.position, fmt.channels),
                                                 np.float32))
                    self._held += at - self.position
        for block in blocks:
            if self._skip:
                cut = min(self._skip, len(block))
                block, self._skip = block[cut:], self._skip - cut
            if len(block):
                self._blocks.append(block)
                self._held += len(block)

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples (fewer only at the end of the sound)."""
        n = max(int(n), 0)
        while self._held < n and not self._ended:
            self._decode_more()
        if not self._blocks or n == 0:
            return np.zeros((0, self.format.channels), np.float32)
        joined = self._blocks[0] if len(self._blocks) == 1 else np.concatenate(self._blocks)
        out, rest = joined[:n], joined[n:]
        self._blocks = [rest] if len(rest) else []
        self._held = len(rest)
        self.position += len(out)
        return np.ascontiguousarray(out, np.float32)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> SoundReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sound(path: str | Path) -> tuple[SoundReader | None, str]:
    """The sound of a video, to be read as it is decoded (see :class:`SoundReader`).

    Returns (reader, ""); (None, "") for a video without sound; (None, why) when the
    sound cannot be decoded: a render then goes on without it and says so.
    """
    av = _av()
    container = None
    try:
        container = av.open(str(path))
        if not container.streams.audio:
            container.close()
            return None, ""
        stream = container.streams.audio[0]
        rate = int(stream.rate or 0)
        if not 8000 <= rate <= 192000:
            rate = 48000
        channels = 1 if (stream.channels or 1) == 1 else 2
        fmt = AudioFormat(rate, channels)
        # where the sound starts against the picture (a file may start one before the
        # other): led in with silence, or cut, so that sample 0 is the first frame's
        video = container.streams.video[0] if container.streams.video else None
        lead = int(round((_start_seconds(stream) - (_start_seconds(video) if video else 0.0))
                         * rate))
        reader = SoundReader(Path(path), fmt, container, stream, lead)
        # the first sound decoded now: a track that cannot be decoded is known at once
        while not reader._held and not reader._ended:
            reader._decode_more()
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        if container is not None:
            container.close()
        return None, f"its sound cannot be decoded ({_reason(exc)})"
    if not reader._held:
        reader.close()
        return None, reader.error.replace("is damaged after 0.0 s", "cannot be decoded")
    return reader, ""


def read_sound(path: str | Path) -> tuple[AudioTrack | None, str]:
    """A video's whole sound in memory (see :func:`open_sound`, which reads it as it
    goes): (track, ""), (None, "") without sound, (None, why) when it cannot be decoded."""
    from puppet.sources.audio import AudioTrack

    reader, note = open_sound(path)
    if reader is None:
        return None, note
    with reader:
        blocks = []
        while not reader.ended:
            block = reader.read(1 << 16)
            if not len(block):
                break
            blocks.append(block)
    samples = np.concatenate(blocks) if blocks else np.zeros((0, reader.format.channels))
    return AudioTrack(np.ascontiguousarray(samples, np.float32), reader.format), reader.error


def _start_seconds(stream) -> float:
    if stream is None or stream.start_time is None or not stream.time_base:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _is_still(container, stream) -> bool:
    """Whether a file FFmpeg opened is a single picture (a JPEG, PNG, a one-frame GIF or
    an AVIF/HEIC photo), which cannot drive a portrait.  FFmpeg reads pictures with its
    image demuxers ("image2", "png_pipe", ...) as one-frame videos."""
    name = container.format.name
    return name == "image2" or name.endswith("_pipe") or int(stream.frames or 0) == 1


def _decodes(container, stream) -> bool:
    """Whether the first picture of a stream decodes."""
    av = _av()
    try:
        return next(iter(container.decode(stream)), None) is not None
    except (av.error.FFmpegError, OSError, ValueError):
        return False


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
