"""A live session's outputs: a recording, the virtual camera, the network stream.

:class:`LiveOutputs` wires the output components (:mod:`puppet.outputs`) to a
:class:`~puppet.live.LiveEngine`, the same way behind ``puppet live`` and
behind the window:

* each output takes the engine's frames as a *sink* (a thread of its own with a
  short mailbox: a slow disk, driver or viewer loses frames, never slows the
  portrait down); the engine hands on a new array per frame and never changes
  it afterwards, so no copy is needed;
* the recording's performance file gets the driver's face of every output frame
  and the driver's neutral face (at the start and on every Calibrate) from an
  engine *listener* that only stamps and queues them (the render thread never
  waits for the disk).

Capture times are the engine's, on :data:`puppet.timeline.CLOCK`, so picture and
sound stay in sync in the file.  Nothing here imports Qt.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from puppet.errors import PuppetError
from puppet.live import LiveEngine, LiveOutput, Sink
from puppet.outputs.frames import Box
from puppet.outputs.recorder import (
    AudioChoice,
    Recorder,
    RecorderSettings,
    RecorderStatus,
    RecordingResult,
)
from puppet.outputs.stream import LOCAL, MjpegServer, StreamSettings, StreamStatus
from puppet.outputs.virtual_camera import (
    VirtualCamera,
    VirtualCameraSettings,
    VirtualCameraStatus,
)
from puppet.sources.performance import SUFFIX as PERFORMANCE_SUFFIX
from puppet.threads import join
from puppet.tracking.face import Face

#: For tests and demos on machines without a microphone: ``tone`` (or ``tone:FREQ``)
#: records a generated sine tone as if a microphone heard it; ``none`` records no sound.
TEST_AUDIO_ENV = "PUPPET_TEST_AUDIO"
VIDEO_SUFFIXES = (".mov", ".mkv", ".avi", ".webm", ".m4v")


def recording_audio(source: object | None = None) -> AudioChoice:
    """What a recording takes its sound from: a video played as the camera's own sound
    (someone driving the portrait with a clip of themselves wants their recorded voice,
    not the room), otherwise the microphone; $PUPPET_TEST_AUDIO overrides both (tests)."""
    wanted = os.environ.get(TEST_AUDIO_ENV, "").strip().lower()
    if not wanted:
        from puppet.sources.live import VideoPlayer, video_sound

        if isinstance(source, VideoPlayer):
            sound = video_sound(source)
            if sound is not None:
                return sound
        return "microphone"
    if wanted == "none":
        return None
    kind, _, value = wanted.partition(":")
    if kind != "tone":
        raise PuppetError(f"${TEST_AUDIO_ENV}={wanted} is not a sound Puppet can make",
                          f"use 'tone', 'tone:440' or 'none', or unset {TEST_AUDIO_ENV}")
    from puppet.sources.audio import GeneratedAudio, tone

    try:
        frequency = float(value) if value else 440.0
    except ValueError as exc:
        raise PuppetError(f"${TEST_AUDIO_ENV}={wanted}: {value} is not a frequency",
                          "use e.g. tone:440") from exc
    return GeneratedAudio(tone(frequency), description=f"a generated {frequency:g} Hz tone")


def recording_target(text: str | Path) -> tuple[Path, str | None]:
    """``--record``'s argument: an ``.mp4`` path (that name) or a folder (timestamped
    names).  Returns (folder, name without suffix, or None for timestamped names)."""
    p = Path(text).expanduser()
    if p.is_dir():
        return p, None
    suffix = p.suffix.lower()
    if suffix == ".mp4":
        folder = p.parent if str(p.parent) else Path(".")
        if not folder.is_dir():
            raise PuppetError(f"the folder for the recording, {folder}, does not exist",
                              "create it first, or give another path")
        for other in (p, p.with_suffix(PERFORMANCE_SUFFIX)):
            if other.exists():
                raise PuppetError(f"{other} already exists",
                                  "give another name, or a folder for timestamped names")
        return folder, p.stem
    if suffix in VIDEO_SUFFIXES:
        raise PuppetError(f"recordings are MP4 files, not {suffix}",
                          "give a name ending in .mp4, or a folder")
    return p, None


class _PerformanceFeed:
    """An engine listener that hands the driver's faces and neutrals to a recorder."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self._neutral: Face | None = None

    def __call__(self, out: LiveOutput) -> None:
        if out.driver is None:  # a still (a new portrait shown before any frame)
            return
        if out.neutral is not None and out.neutral is not self._neutral:
            # the neutral in force when the recording starts, then each new one
            self._neutral = out.neutral
            self.recorder.add_neutral(out.neutral, out.capture_time)
        self.recorder.add_face(out.face, out.capture_time)


class LiveOutputs:
    """The outputs of one live engine; every method may be called from any thread.

    ``stop_recording`` blocks while the files are finished (a copy, no re-encoding:
    about a second for a few minutes); a window uses ``stop_recording_async``.
    """

    def __init__(self, engine: LiveEngine):
        self.engine = engine
        self._lock = threading.RLock()
        self.recorder: Recorder | None = None
        self._rec_sink: Sink | None = None
        self._feed: _PerformanceFeed | None = None
        self._saving: threading.Thread | None = None
        self._save_pending = threading.Event()
        self.last_recording: RecordingResult | None = None
        self.camera: VirtualCamera | None = None
        self._cam_sink: Sink | None = None
        self.stream: MjpegServer | None = None
        self._stream_sink: Sink | None = None

    # ------------------------------------------------------------------ recording
    @property
    def recording(self) -> bool:
        rec = self.recorder
        return rec is not None and rec.recording

    @property
    def saving(self) -> bool:
        """A recording is being finished (cleared once its files are, before the result
        is handed on: whoever gets it can start the next recording at once)."""
        return self._save_pending.is_set()

    def start_recording(self, folder: str | Path, settings: RecorderSettings = RecorderSettings(),
                        audio: AudioChoice | str = "default", name: str | None = None
                        ) -> RecorderStatus:
        """Start recording the output frames (and the driver's performance) into ``folder``
        (``name``: that name; otherwise a timestamped one).  ``audio="default"`` is the
        microphone, or a video source's own sound (see :func:`recording_audio`).
        :class:`PuppetError` when it cannot."""
        with self._lock:
            if self.recording:
                raise PuppetError("a recording is already running", "stop it first")
            if self.saving:
                raise PuppetError("the last recording is still being saved",
                                  "wait a moment, then start again")
            choice = recording_audio(self.engine.source) if audio == "default" else audio
            rec = Recorder(folder, settings, audio=choice, name=name)
            status = rec.start()
            self.recorder = rec
            self._feed = _PerformanceFeed(rec)
            self.engine.add_listener(self._feed)
            self._rec_sink = self.engine.add_sink(rec.add_frame, name="recording")
            return status

    def recording_status(self) -> RecorderStatus | None:
        rec = self.recorder
        return rec.status() if rec is not None else None

    def _detach_recorder(self) -> None:
        feed, sink = self._feed, self._rec_sink
        self._feed = self._rec_sink = None
        if feed is not None:
            self.engine.remove_listener(feed)
        if sink is not None:
            self.engine.remove_sink(sink)

    def stop_recording(self) -> RecordingResult:
        """Stop and finish the files; :class:`PuppetError` when nothing records."""
        with self._lock:
            rec = self.recorder
            if rec is None or not rec.recording:
                raise PuppetError("no recording is running", "start one first")
            try:
                result = rec.stop()
            finally:
                self._detach_recorder()
            self.last_recording = result
            return result

    def stop_recording_async(self, on_done: Callable[[RecordingResult | PuppetError], None]
                             ) -> threading.Thread:
        """Stop on a thread of its own; ``on_done`` gets the result (or the error) there."""

        def run() -> None:
            try:
                result: RecordingResult | PuppetError = self.stop_recording()
            except PuppetError as exc:
                result = exc
            finally:
                self._save_pending.clear()
            on_done(result)

        with self._lock:
            thread = threading.Thread(target=run, name="puppet-record-stop", daemon=False)
            self._saving = thread
            self._save_pending.set()
            thread.start()
        return thread

    def wait_saved(self, timeout: float | None = None) -> None:
        """Wait for a recording being saved by ``stop_recording_async``."""
        thread = self._saving
        if thread is not None and thread is not threading.current_thread():
            join(thread, timeout)

    # ------------------------------------------------------------------ virtual camera
    def start_virtual_camera(self, settings: VirtualCameraSettings = VirtualCameraSettings()
                             ) -> VirtualCameraStatus:
        """Send the portrait to a virtual camera; :class:`PuppetError` (saying what to
        install) where the system has none."""
        with self._lock:
            if self.camera is not None and self.camera.status().state == "on":
                return self.camera.status()
            self.stop_virtual_camera()
            cam = VirtualCamera(settings, focus=self._portrait_face)
            status = cam.start()
            self.camera = cam
            self._cam_sink = self.engine.add_sink(cam.send, name="virtual camera")
            return status

    def _portrait_face(self) -> tuple[tuple[int, int], Box] | None:
        """The portrait's size and its face's box: where the virtual camera's crop looks."""
        portrait = self.engine.portrait
        return None if portrait is None else (portrait.size, portrait.face.bbox)

    def virtual_camera_status(self) -> VirtualCameraStatus | None:
        cam = self.camera
        return cam.status() if cam is not None else None

    def stop_virtual_camera(self) -> None:
        with self._lock:
            cam, sink = self.camera, self._cam_sink
            self.camera = self._cam_sink = None
        if sink is not None:
            self.engine.remove_sink(sink)
        if cam is not None:
            cam.stop()

    # ------------------------------------------------------------------ stream
    def start_stream(self, settings: StreamSettings = StreamSettings()) -> str:
        """Serve the portrait as MJPEG over HTTP; returns the page's URL.  :class:`PuppetError`
        when the port is taken."""
        with self._lock:
            if self.stream is not None:
                return self.stream.url
            server = MjpegServer(settings)
            url = server.start()
            self.stream = server
            self._stream_sink = self.engine.add_sink(server.send, name="stream")
            return url

    def stream_status(self) -> StreamStatus | None:
        server = self.stream
        return server.status() if server is not None else None

    def stop_stream(self) -> None:
        with self._lock:
            server, sink = self.stream, self._stream_sink
            self.stream = self._stream_sink = None
        if sink is not None:
            self.engine.remove_sink(sink)
        if server is not None:
            server.stop()

    # ------------------------------------------------------------------ all
    def close(self) -> RecordingResult | None:
        """Everything off; a running recording is finished (blocks meanwhile)."""
        result = None
        if self.recording:
            try:
                result = self.stop_recording()
            except PuppetError:
                result = None
        self.wait_saved()
        self.stop_virtual_camera()
        self.stop_stream()
        return result


def stream_reach(host: str) -> str:
    """Who can open a stream served on ``host``, for the user."""
    if host == LOCAL or host == "localhost" or host.startswith("127."):
        return "this computer only"
    return "reachable from the network: anyone who can reach this computer can watch"
