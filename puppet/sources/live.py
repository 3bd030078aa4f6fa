"""Live sources: a camera, a video file played like a camera, the built-in performance.

A live source runs its own thread and keeps only its newest frame: whoever reads
it gets the freshest picture there is, and frames nobody took in time are gone
(latency first).  Each frame carries the moment it was captured
(``time.perf_counter()``), so the engine can measure capture-to-output latency.

A source that fails (a camera unplugged, a damaged video) does not raise in its
reader's thread: it stores a :class:`PuppetError` in ``error`` and stops; the
engine reports it and carries on with another source.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from puppet.errors import PuppetError
from puppet.threads import join
from puppet.tracking.face import Face


@dataclass(frozen=True)
class LiveFrame:
    """One frame from a live source.

    ``image`` is the camera or video picture (BGR), or None for a performance,
    whose frames are driver faces already (``face``).
    """

    seq: int  # 1, 2, 3 ... in capture order, per source
    capture_time: float  # time.perf_counter() when it was captured
    time: float  # seconds since the source started (video: position in the file)
    image: np.ndarray | None
    face: Face | None = None
    size: tuple[int, int] = (0, 0)  # (width, height) of the picture the face lives in


class LiveSource:
    """A thread that produces frames and keeps only the newest one."""

    kind = "source"

    def __init__(self, label: str):
        self.label = label
        self.fps: float | None = None
        self.error: PuppetError | None = None
        self.ended = False
        self.frames_captured = 0
        self.frames_skipped = 0  # frames the source itself had to miss (it ran late)
        self._latest: LiveFrame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # the producing side -------------------------------------------------------
    def _produce(self) -> None:  # pragma: no cover - every source overrides it
        raise NotImplementedError

    def _release(self) -> None:
        """Free what the source holds (called in its own thread when it ends)."""

    def _publish(self, image: np.ndarray | None, t: float, face: Face | None = None,
                 size: tuple[int, int] | None = None) -> None:
        now = time.perf_counter()
        if size is None:
            size = (image.shape[1], image.shape[0]) if image is not None else (0, 0)
        with self._cond:
            self.frames_captured += 1
            self._latest = LiveFrame(self.frames_captured, now, t, image, face, size)
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            self._produce()
        except PuppetError as exc:
            self._fail(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the user, never raised here
            self._fail(PuppetError(f"{self.label} failed: {type(exc).__name__}: {exc}",
                                   "choose the source again, or another one"))
        finally:
            try:
                self._release()
            finally:
                with self._cond:
                    self._cond.notify_all()

    def _fail(self, error: PuppetError) -> None:
        with self._cond:
            self.error = error
            self._cond.notify_all()

    def _finish(self) -> None:
        with self._cond:
            self.ended = True
            self._cond.notify_all()

    def _sleep_until(self, due: float) -> bool:
        """Wait until ``due`` (perf_counter); False when the source was stopped meanwhile."""
        delay = due - time.perf_counter()
        if delay > 0:
            return not self._stop.wait(delay)
        return not self._stop.is_set()

    # the reading side ---------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"puppet-source-{self.kind}",
                                        daemon=True)
        self._thread.start()

    def newest(self, after: int = 0, timeout: float = 0.1) -> LiveFrame | None:
        """The newest frame if it is newer than frame ``after``; waits up to ``timeout``
        seconds for one.  None when there is none (yet), or the source failed or ended."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while True:
                frame = self._latest
                if frame is not None and frame.seq > after:
                    return frame
                if self.error is not None or self.ended or self._stop.is_set():
                    return None
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self, timeout: float = 3.0) -> None:
        """Stop the thread and free the device or file."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            self._release()
        elif thread is not threading.current_thread():
            join(thread, timeout)

    def __enter__(self) -> LiveSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"


class VideoPlayer(LiveSource):
    """A video file played at its own frame rate, as if it were a camera.

    Frame *i* is handed on at *i / fps* seconds after the start; a frame that is
    already late by more than a frame's time when it is decoded is skipped, as a
    camera would miss it.  ``loop`` starts again at the end; otherwise the
    source ends (``ended``) after the last frame.
    """

    kind = "video"

    def __init__(self, path: str | Path, loop: bool = False):
        from puppet.sources.video import VideoFile

        super().__init__(f"video {Path(path).name}")
        self.path = Path(path)
        self.loop = loop
        self._video: VideoFile | None = VideoFile(path, "video source")  # checks it now
        self.fps = self._video.fps
        self.size = (self._video.width, self._video.height)
        # the playing schedule, also for the video's sound (see video_sound): a frame at
        # time t in the file, in pass p, is due at clock_start + p * pass_seconds + t
        self.clock_start: float | None = None
        self.pass_seconds: float | None = None  # one pass's length, once one was played

    def _produce(self) -> None:
        from puppet.sources.video import VideoFile

        fps = self.fps or 30.0
        start = time.perf_counter()
        self.clock_start = start
        offset = 0.0  # the passes before this one, in seconds: with the frames' own times
        while not self._stop.is_set():  # they set the clock (a variable rate plays true)
            video = self._video or VideoFile(self.path, "video source")
            self._video = video
            last = None
            for frame in video.frames():
                due = start + offset + frame.time
                last = frame.time
                if time.perf_counter() > due + 1.0 / fps:
                    self.frames_skipped += 1  # running late: a camera would have missed it
                    continue
                if not self._sleep_until(due):
                    return
                self._publish(frame.image, frame.time)
            video.close()
            self._video = None
            if last is not None:
                self.pass_seconds = last + 1.0 / fps
                offset += self.pass_seconds
            if not self.loop:
                self._finish()
                return

    def _release(self) -> None:
        video, self._video = self._video, None
        if video is not None:
            video.close()


class SoundCursor:
    """Samples of a video's sound by their index, decoded as they are asked for: playing
    goes forward through the file, holding only the last block; asking for samples
    elsewhere (the video looped, or a recording starts deep into a long video) seeks."""

    KEEP = 1 << 14  # samples kept behind the read position (a block may start a little back)
    SEEK = 1 << 16  # samples ahead past which the file is sought rather than decoded through

    def __init__(self, path: Path):
        from puppet.sources.video import open_sound

        self.path = path
        self._reader, _ = open_sound(path)  # no sound, or none that decodes: silence
        self.format = self._reader.format if self._reader is not None else None
        self._kept = np.zeros((0, self.format.channels if self.format else 1), np.float32)
        self._lock = threading.Lock()

    def take(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop), shorter where the sound ends."""
        with self._lock:
            reader = self._reader
            if reader is None:
                return self._kept[:0]
            if start < reader.position - len(self._kept) or start > reader.position + self.SEEK:
                reader.seek(start)
                self._kept = self._kept[:0]
            elif start > reader.position:  # a little ahead: decoded through
                reader.read(start - reader.position)
                self._kept = self._kept[:0]
            if stop > reader.position:
                self._kept = np.concatenate([self._kept, reader.read(stop - reader.position)])
            first = reader.position - len(self._kept)
            out = self._kept[max(start - first, 0):max(stop - first, 0)]
            if len(self._kept) > self.KEEP:
                self._kept = self._kept[-self.KEEP:]
            return out

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


def video_sound(player: VideoPlayer):
    """The sound of the video ``player`` plays, delivered as it plays, in step with its
    frames (on their clock, looping with them), as a microphone beside it would hear it:
    an audio source for a recording.  None where the video has no sound.

    The sound is decoded as it is played (opening it, or starting deep into a long
    video, takes milliseconds), and only the last block of it is held."""
    from puppet.sources.audio import GeneratedAudio

    cursor = SoundCursor(player.path)
    if cursor.format is None:
        return None
    rate, channels = cursor.format.samplerate, cursor.format.channels

    def signal(times: np.ndarray) -> np.ndarray:
        out = np.zeros((len(times), channels), np.float32)
        start = player.clock_start
        if start is None or player._stop.is_set():  # not playing yet, or no longer (the
            return out  # source was changed mid-recording: the video's sound goes with it
        pos = np.asarray(times, np.float64) - start
        length = player.pass_seconds
        if player.loop and length:
            pos = np.where(pos >= 0, np.mod(pos, length), pos)
        index = np.floor(pos * rate + 0.5).astype(np.int64)
        where = np.flatnonzero(pos >= 0)
        if not len(where):
            return out
        # runs of consecutive samples (a block wraps round once where the video loops)
        cuts = np.flatnonzero(np.diff(index[where]) != 1) + 1
        for run in np.split(where, cuts):
            first = int(index[run[0]])
            got = cursor.take(first, first + len(run))
            out[run[:len(got)]] = got
        return out

    return GeneratedAudio(signal, cursor.format, description=f"the sound of {player.path.name}",
                          on_stop=cursor.close)


class PerformancePlayer(LiveSource):
    """The built-in procedural performance (talk, blink, smile, nod, turn), live.

    Its frames are driver faces with no picture; it loops every ten seconds.
    """

    kind = "performance"

    def __init__(self, neutral: Face | None = None, fps: float = 25.0):
        super().__init__("demo performance")
        self.neutral = neutral if neutral is not None else demo_driver_face()
        self.fps = fps
        self.size = self.neutral.image_size

    def _produce(self) -> None:
        from puppet.sources.procedural import FaceRig, script

        rig = FaceRig(self.neutral)
        fps = self.fps or 25.0
        start = time.perf_counter()
        i = 0
        while True:
            due = start + i / fps
            if time.perf_counter() > due + 1.0 / fps:  # late: skip ahead like a camera
                skipped = int((time.perf_counter() - due) * fps)
                self.frames_skipped += skipped
                i += skipped
                continue
            if not self._sleep_until(due):
                return
            t = i / fps
            self._publish(None, t, face=rig.pose(script(t)), size=self.size)
            i += 1


_DEMO_FACE: Face | None = None
_DEMO_LOCK = threading.Lock()


def demo_driver_face() -> Face:
    """The neutral face that the built-in performance animates (found once, then kept)."""
    global _DEMO_FACE
    with _DEMO_LOCK:
        if _DEMO_FACE is None:
            from puppet.demo import builtin_portrait

            _DEMO_FACE = builtin_portrait(size=640).face
        return _DEMO_FACE


# choosing a source --------------------------------------------------------------

DEMO = "demo"


@dataclass(frozen=True)
class SourceSpec:
    """Which source to open: a camera by index, a video file, or the demo performance."""

    kind: str  # "camera", "video" or "performance"
    index: int = -1
    path: str = ""
    loop: bool = False

    @property
    def label(self) -> str:
        if self.kind == "camera":
            return f"camera {self.index}"
        if self.kind == "video":
            return f"video {Path(self.path).name}"
        return "demo performance"

    def to_text(self) -> str:
        """The spec as a string that :func:`parse_source` reads back."""
        if self.kind == "camera":
            return str(self.index)
        if self.kind == "video":
            return self.path
        return DEMO


_CAMERA_WORD = re.compile(r"(?:camera|webcam)\s*[:#]?\s*(\d*)", re.IGNORECASE)


def parse_source(text: str | int, loop: bool = False) -> SourceSpec:
    """``0``, ``1`` ... a camera, as are ``camera`` (the first) and ``camera 1``; ``demo``
    the built-in performance; anything else a video (a file named ``camera`` too, where
    one is there)."""
    s = str(text).strip()
    if s.isdigit():
        return SourceSpec("camera", index=int(s))
    if s.lower() == DEMO:
        return SourceSpec("performance")
    if not s:
        raise PuppetError("no source was given", "give a camera number, a video file or 'demo'")
    word = _CAMERA_WORD.fullmatch(s)
    if word and not Path(s).exists():
        return SourceSpec("camera", index=int(word.group(1) or 0))
    return SourceSpec("video", path=s, loop=loop)


def open_source(spec: SourceSpec, mirror: bool = True) -> LiveSource:
    """The source for ``spec``, opened (not started); a :class:`PuppetError` says what is
    wrong when it cannot be opened."""
    if spec.kind == "camera":
        from puppet.sources.camera import Camera

        return Camera(spec.index, mirror=mirror)
    if spec.kind == "video":
        return VideoPlayer(spec.path, loop=spec.loop)
    if spec.kind == "performance":
        return PerformancePlayer()
    raise PuppetError(f"unknown kind of source '{spec.kind}'", "use a camera, a video or 'demo'")
