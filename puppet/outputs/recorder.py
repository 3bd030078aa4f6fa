"""Recording a live session: an H.264 MP4 with the microphone's sound, and its performance file.

Nothing recorded is lost when the app is closed or killed mid-way:

* The MP4 is written as it goes as a *fragmented* MP4 (``.NAME.mp4.part``): a
  header first, then every half second a self-contained fragment of video and
  AAC sound, handed to the operating system at once.  A process that dies
  leaves every finished fragment readable.  On :meth:`Recorder.stop` the
  fragments are copied (not re-encoded) into an ordinary MP4 (``NAME.mp4``,
  moov in front, so it plays and uploads everywhere) and the part removed.
* The performance (the driver's landmarks and the sound, see
  :mod:`puppet.sources.performance`) is appended to a log as it happens.
* :func:`recover_recordings` (``puppet recover FOLDER``; the window should run
  it on its recordings folder at start) turns whatever a dead process left into
  ``NAME.mp4`` and ``NAME.performance``: all but at most about the last second (the
  fragment being written, and the frames still inside the encoder: 0.5 to 0.9 s).
  A recording that is still running holds a lock on its part files, so
  recovery never touches it.

Timing: frames and sound carry capture times on :data:`puppet.timeline.CLOCK`;
the file has a constant frame rate (frames repeated or dropped against their
time stamps) and its sound starts at its first frame (see :mod:`puppet.timeline`).
No microphone: the recording is video only, and :attr:`RecorderStatus.note`
says so.

Intended wiring (live engine and window; all calls are thread-safe)::

    rec = Recorder(folder, RecorderSettings(fps=30), audio="microphone")
    status = rec.start()                 # raises PuppetError (folder not writable...)
    if status.note: show(status.note)    # e.g. "Video only: no microphone was found. ..."
    engine.add_sink(rec.add_frame)       # fn(frame_bgr, capture_time): never blocks
    rec.add_neutral(neutral_face, t)     # the driver's neutral now, and on each Calibrate
    rec.add_face(face_or_None, t)        # per driver frame (for the performance file)
    rec.status()                         # UI timer: state, elapsed, elapsed_text, note
    result = rec.stop()                  # blocks while the files are finished: off the UI
                                         # thread, or rec.stop_async(on_done)
    engine.remove_sink(rec.add_frame)

Threads: the caller's (add_*), the audio source's (sound blocks), one encoder
thread ("puppet-record") that owns the PyAV container, one log thread
("puppet-performance").  The recorder owns the audio source it opened.
"""
from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from puppet.errors import PuppetError, sentence
from puppet.files import PartLock, final_path, part_path, remove, reserve, timestamped_stem
from puppet.outputs.frames import even_size, fit_frame
from puppet.outputs.video_writer import AacEncoder
from puppet.sources.audio import AudioSource, open_microphone
from puppet.sources.performance import LOG_MAGIC, PerformanceRecorder, finish_log
from puppet.sources.performance import SUFFIX as PERFORMANCE_SUFFIX
from puppet.threads import join
from puppet.timeline import CLOCK, AudioFormat, AudioTimeline, FrameSlots, frame_count
from puppet.tracking.face import Face

#: Written into every recording's metadata; recovery only touches files that carry it.
RECORDING_TAG = "puppet-recording"
FRAGMENT_SECONDS = 0.5
_AUDIO_HOLD_SECONDS = 0.2  # sound kept back so the end can be cut exactly at stop
_AUDIO_STALL_SECONDS = 1.0  # sound this far behind the picture is filled with silence
_AUDIO_GRACE_SECONDS = 0.12  # at stop, wait this long for sound still on its way
_CLOCK_MISMATCH_SECONDS = 5.0

State = Literal["idle", "recording", "saving", "done", "failed"]
AudioChoice = Literal["microphone"] | AudioSource | AudioFormat | None


@dataclass(frozen=True)
class RecorderSettings:
    """How recordings are made (the window keeps these between sessions)."""

    fps: float = 30.0
    quality: int = 20  # x264 CRF: lower is better and bigger (17 is near lossless)
    preset: str = "veryfast"  # x264 speed; "superfast" or "ultrafast" on a slow machine
    audio_bitrate: int = 128_000
    performance: bool = True  # also record the driver's performance file
    prefix: str = "puppet"

    def __post_init__(self) -> None:
        if not 1.0 <= self.fps <= 120.0:
            raise ValueError(f"fps must be between 1 and 120, got {self.fps}")
        if not 0 <= self.quality <= 51:
            raise ValueError(f"quality (CRF) must be between 0 and 51, got {self.quality}")


def _clock_text(seconds: float) -> str:
    s = max(0, int(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


@dataclass(frozen=True)
class RecorderStatus:
    """What a recording indicator shows."""

    state: State
    elapsed: float  # seconds recorded
    video: Path | None  # where the MP4 goes
    performance: Path | None  # where the performance file goes (None: not recorded)
    sound: bool  # the recording has sound
    note: str  # one line about the sound or the time stamps ("" when all is well)
    frames: int  # frames in the file so far
    dropped: int  # frames the encoder could not keep up with (shown as repeats)
    error: str  # why recording failed ("" when it did not)

    @property
    def recording(self) -> bool:
        return self.state == "recording"

    @property
    def elapsed_text(self) -> str:
        """``0:42`` or ``1:02:03``."""
        return _clock_text(self.elapsed)

    @property
    def message(self) -> str:
        """One line for a status bar."""
        if self.state == "recording":
            line = f"Recording {self.elapsed_text}" + (" with sound" if self.sound else
                                                       "" if self.note else ", video only")
        elif self.state == "saving":
            line = f"Saving the recording ({self.elapsed_text})"
        elif self.state == "done":
            line = f"Saved {self.video}" + (f" (recording stopped early: {self.error})"
                                             if self.error else "")
        elif self.state == "failed":
            line = f"Recording failed: {self.error}"
        else:
            line = "Not recording"
        return f"{line}. {self.note}" if self.note else f"{line}."


@dataclass(frozen=True)
class RecordingResult:
    video: Path | None  # the MP4 (None when nothing was recorded)
    performance: Path | None  # the performance file (None: off, or no face was seen)
    seconds: float
    frames: int
    sound: bool
    dropped: int
    note: str
    error: str


def default_recordings_folder() -> Path:
    """``~/Videos/Puppet`` (``~/Movies/Puppet`` on macOS), or ``~/Puppet`` without either."""
    home = Path.home()
    for name in ("Videos", "Movies"):
        if (home / name).is_dir():
            return home / name / "Puppet"
    return home / "Puppet"


def check_folder(folder: str | Path) -> Path:
    """The folder, created if missing, or a :class:`PuppetError` if it cannot hold files."""
    p = Path(folder).expanduser()
    if p.exists() and not p.is_dir():
        raise PuppetError(f"{p} is a file, not a folder", "choose a folder for the recordings")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PuppetError(f"cannot create the recordings folder {p} ({exc.strerror or exc})",
                          "choose another folder") from exc
    if not os.access(p, os.W_OK):
        raise PuppetError(f"cannot write in the recordings folder {p}",
                          "choose a folder you can write to")
    return p


class _LiveMp4:
    """The fragmented MP4 being written; its thread owns the PyAV container."""

    def __init__(self, final: Path, t0: float, settings: RecorderSettings,
                 audio: AudioFormat | None, live: bool = True):
        self.final = final
        self.live = live  # live: never wait for the encoder, fill a stalled microphone
        self.part = part_path(final)
        self.t0 = t0
        self.settings = settings
        self.fps = settings.fps
        self.audio = audio
        self.frames = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self.lock = PartLock.acquire(self.part)
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._max_pending = max(4, int(round(self.fps)))  # at most a second behind
        self._slots: FrameSlots[np.ndarray] = FrameSlots(t0, self.fps)
        self._timeline = AudioTimeline(t0, audio) if audio is not None else None
        self._audio_buf: list[np.ndarray] = []
        self._audio_buffered = 0
        self._container = None
        self._video = None
        self._aac: AacEncoder | None = None
        self._size: tuple[int, int] | None = None
        self._thread = threading.Thread(target=self._run, name="puppet-record", daemon=True)
        self._thread.start()

    # the caller's side ---------------------------------------------------------------
    def put_frame(self, frame: np.ndarray, t: float) -> None:
        while True:
            with self._pending_lock:
                if self.error is not None:
                    self.dropped += 1
                    return
                if self._pending < self._max_pending:
                    self._pending += 1
                    break
                if self.live:
                    self.dropped += 1  # live: never hold the caller up; the slot repeats
                    return
            time.sleep(0.005)
        self._queue.put(("frame", frame, t))

    def put_audio(self, block: np.ndarray, t: float) -> None:
        if self._timeline is not None and self.error is None:
            self._queue.put(("audio", block, t))

    def finish(self, t_end: float) -> None:
        self._queue.put(("end", None, t_end))
        join(self._thread)

    # the encoder thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                kind, data, t = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self.error is None:
                    self._guarded(self._fill_stalled_audio)
                continue
            if kind == "frame":
                with self._pending_lock:
                    self._pending -= 1
            if self.error is not None:
                if kind == "end":
                    self._guarded(self._close, quiet=True)
                    return
                continue
            if kind == "frame":
                self._guarded(self._frame, data, t)
            elif kind == "audio":
                self._guarded(self._audio, data, t)
            elif kind == "end":
                self._guarded(self._end, t)
                return

    def _guarded(self, fn: Callable, *args, quiet: bool = False) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - kept, shown, and the part file stays
            if not quiet and self.error is None:
                self.error = exc

    def _open(self, width: int, height: int) -> None:
        import av

        self._size = even_size(width, height)
        rate = Fraction(self.fps).limit_denominator(1001)
        options = {"movflags": "empty_moov+default_base_moof",
                   "frag_duration": str(int(FRAGMENT_SECONDS * 1_000_000)),
                   "flush_packets": "1"}
        container = av.open(str(self.part), mode="w", format="mp4", options=options)
        container.metadata["comment"] = f"{RECORDING_TAG} audio-priming={AacEncoder.PRIMING}"
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height = self._size
        video.pix_fmt = "yuv420p"
        # no B-frames: time stamps never run negative in the fragments, and frames
        # leave the encoder at once
        video.options = {"crf": str(self.settings.quality), "preset": self.settings.preset,
                         "bf": "0", "g": str(max(1, int(round(2 * self.fps))))}
        video.codec_context.time_base = Fraction(1, 1) / rate
        if self.audio is not None:
            # the encoder's priming samples are put at time 0..PRIMING instead of before
            # 0, which a fragment cannot hold; finishing moves them back (see _remux)
            self._aac = AacEncoder(container, self.audio, self.settings.audio_bitrate,
                                   pts_offset=AacEncoder.PRIMING)
        self._container, self._video = container, video

    def _encode(self, frame: np.ndarray, slot: int) -> None:
        import av

        assert self._size is not None and self._container is not None
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = fit_frame(frame, self._size, "letterbox")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        vf.pts = slot
        for packet in self._video.encode(vf):
            self._container.mux(packet)
        self.frames = slot + 1

    def _frame(self, frame: np.ndarray, t: float) -> None:
        if self._container is None:
            self._open(frame.shape[1], frame.shape[0])
        for slot, f in self._slots.push(frame, t):
            self._encode(f, slot)
        self._fill_stalled_audio()
        self._encode_audio(_AUDIO_HOLD_SECONDS)

    def _audio(self, block: np.ndarray, t: float) -> None:
        assert self._timeline is not None
        samples = self._timeline.place(block, t)
        self._audio_buf.append(samples)
        self._audio_buffered += len(samples)
        self._encode_audio(_AUDIO_HOLD_SECONDS)

    def _encode_audio(self, hold_seconds: float, limit: int | None = None) -> None:
        """Encode the buffered sound but the last ``hold_seconds``, and no sample at or
        beyond ``limit``."""
        if self._aac is None or not self._audio_buf:
            return
        assert self.audio is not None
        keep = int(hold_seconds * self.audio.samplerate)
        if self._audio_buffered <= keep:
            return
        samples = np.concatenate(self._audio_buf)
        cut = len(samples) - keep
        if limit is not None:
            cut = min(cut, max(0, limit - self._aac.samples))
        self._audio_buf = [samples[cut:]] if keep else []
        self._audio_buffered = len(samples) - cut
        assert self._container is not None
        for packet in self._aac.encode(samples[:cut]):
            self._container.mux(packet)

    def _fill_stalled_audio(self) -> None:
        """A microphone that stopped delivering: silence up to shortly before the picture,
        so the muxer never holds the picture back waiting for sound."""
        if not self.live or self._timeline is None or self._container is None or \
                self.audio is None:
            return
        behind = self._slots.next_slot / self.fps - self._timeline.position / self.audio.samplerate
        if behind > _AUDIO_STALL_SECONDS:
            target = int((self._slots.next_slot / self.fps - 0.5) * self.audio.samplerate)
            silence = self._timeline.silence_until(target)
            self._audio_buf.append(silence)
            self._audio_buffered += len(silence)
            self._encode_audio(_AUDIO_HOLD_SECONDS)

    def _end(self, t_end: float) -> None:
        if self._container is None:
            raise PuppetError("nothing was recorded: no frame arrived",
                              "start the camera or the performance before recording")
        n = frame_count(self.t0, t_end, self.fps)
        for slot, f in self._slots.finish(n):
            self._encode(f, slot)
        if self._aac is not None and self._timeline is not None and self.audio is not None:
            total = int(round(n / self.fps * self.audio.samplerate))
            silence = self._timeline.silence_until(total)
            self._audio_buf.append(silence)
            self._audio_buffered += len(silence)
            self._encode_audio(0.0, limit=total)
        self._close()

    def _close(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            for packet in self._video.encode():
                container.mux(packet)
            if self._aac is not None:
                for packet in self._aac.flush():
                    container.mux(packet)
        finally:
            container.close()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


@dataclass(frozen=True)
class _Remuxed:
    video_packets: int
    seconds: float
    sound: bool
    complete: bool  # False when the part file was cut off (a crash)


def _remux(src: Path, dst: Path) -> _Remuxed:
    """Copy the streams of a (possibly cut off) fragmented recording into an ordinary MP4,
    moving the sound's priming samples back before time 0."""
    import av

    size = src.stat().st_size
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise PuppetError(f"{src} cannot be read ({exc})", "nothing in it can be rescued") \
            from exc
    complete = True
    try:
        comment = str(inp.metadata.get("comment", ""))
        if not comment.startswith(RECORDING_TAG):
            raise PuppetError(f"{src} is not a Puppet recording", "leave it alone")
        priming = 0
        for word in comment.split():
            if word.startswith("audio-priming="):
                priming = int(word.split("=", 1)[1])
        streams = [s for s in inp.streams if s.type in ("video", "audio")]
        if not any(s.type == "video" for s in streams):
            raise PuppetError(f"{src} has no video", "nothing in it can be rescued")
        out = av.open(str(dst), mode="w", format="mp4", options={"movflags": "+faststart"})
        video_packets, video_end, sound = 0, 0.0, False
        try:
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            try:
                for packet in inp.demux(streams):
                    if packet.dts is None or packet.size == 0:
                        continue
                    if packet.pos is not None and packet.pos >= 0 and \
                            packet.pos + packet.size > size:
                        complete = False  # its bytes were never written
                        continue
                    kind = packet.stream.type
                    if kind == "audio" and priming:
                        packet.pts -= priming
                        packet.dts -= priming
                    if kind == "video":
                        video_packets += 1
                        end = (packet.pts + (packet.duration or 0)) * packet.time_base
                        video_end = max(video_end, float(end))
                    else:
                        sound = True
                    packet.stream = mapping[packet.stream.index]
                    out.mux(packet)
            except (av.error.FFmpegError, OSError):
                complete = False  # a fragment cut off mid-way: keep what came before it
        finally:
            if video_packets:
                out.close()
            else:
                try:
                    out.close()
                except (av.error.FFmpegError, OSError):
                    pass
    finally:
        inp.close()
    if not video_packets:
        remove(dst)
        raise PuppetError(f"{src} holds no complete frame", "nothing in it can be rescued")
    return _Remuxed(video_packets, video_end, sound, complete)


def _finish_mp4(part: Path, final: Path) -> _Remuxed:
    """``.NAME.mp4.part`` -> ``NAME.mp4``; removes the part."""
    tmp = final.with_name(f".{final.name}.finishing")
    try:
        done = _remux(part, tmp)
        os.replace(tmp, final)
    except BaseException:
        remove(tmp)
        raise
    remove(part)
    return done


_ACTIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:  # the process ends normally mid-recording: finish the files
    for rec in list(_ACTIVE):
        try:
            rec.stop()
        except Exception:  # noqa: BLE001 - the part files stay for recovery
            pass


class Recorder:
    """Records the output frames (and the driver's performance) of a live session.

    ``audio``: ``"microphone"`` (the default input device; no device means video
    only, said in :attr:`RecorderStatus.note`), any :class:`AudioSource`, an
    :class:`AudioFormat` (the caller hands blocks to :meth:`add_audio`), or None.

    ``name``: the recording's own name (``take`` gives ``take.mp4`` and
    ``take.performance``) instead of a timestamped one; a name whose files exist
    already is refused, so no earlier recording is ever replaced.
    """

    def __init__(self, folder: str | Path, settings: RecorderSettings = RecorderSettings(),
                 audio: AudioChoice = "microphone", clock: Callable[[], float] = CLOCK,
                 name: str | None = None):
        self.folder = Path(folder)
        self.settings = settings
        self.name = name
        self._audio_choice = audio
        self._clock = clock
        self._lock = threading.RLock()
        self._state: State = "idle"
        self._t0 = 0.0
        self._t_end: float | None = None
        self._live_clock = True
        self._source: AudioSource | None = None
        self._format: AudioFormat | None = None
        self._note = ""
        self._mp4: _LiveMp4 | None = None
        self._perf: PerformanceRecorder | None = None
        self._video_path: Path | None = None
        self._perf_path: Path | None = None
        self._result: RecordingResult | None = None
        self._error = ""
        self._warned_clock = False

    # --- start ---------------------------------------------------------------------------
    def start(self, at: float | None = None) -> RecorderStatus:
        """Start a new recording in the folder.

        ``at`` gives the start time on the clock explicitly, for frames that are not
        live (rendered offline, tests): ``add_frame`` then waits for the encoder
        instead of dropping frames, and every capture time must be given.
        """
        with self._lock:
            if self._state in ("recording", "saving"):
                raise PuppetError("a recording is already running", "stop it first")
            folder = check_folder(self.folder)
            suffixes = (".mp4", PERFORMANCE_SUFFIX)
            if self.name:
                stem = _reserve_name(folder, self.name, suffixes)
            else:
                stem = reserve(folder, timestamped_stem(self.settings.prefix), suffixes)
            self._video_path = stem.with_name(stem.name + ".mp4")
            self._perf_path = stem.with_name(stem.name + PERFORMANCE_SUFFIX) \
                if self.settings.performance else None
            self._note, self._error, self._result = "", "", None
            self._source, self._format = self._open_audio()
            if self._source is not None:
                try:  # sound that arrives before the state is "recording" is dropped
                    self._source.start(self.add_audio)
                except PuppetError as exc:
                    self._note = _video_only(exc)
                    self._source, self._format = None, None
            self._live_clock = at is None
            self._t0 = self._clock() if at is None else at
            self._t_end = None
            try:
                self._mp4 = _LiveMp4(self._video_path, self._t0, self.settings, self._format,
                                     live=self._live_clock)
                self._perf = PerformanceRecorder(self._perf_path, self._t0, self.settings.fps,
                                                 self._format) if self._perf_path else None
            except OSError as exc:
                if self._source is not None:
                    self._source.stop()
                remove(part_path(self._video_path))
                raise PuppetError(f"cannot write in {folder} ({exc.strerror or exc})",
                                  "check the folder and the free disk space") from exc
            self._state = "recording"
            _ACTIVE.add(self)
            return self.status()

    def _open_audio(self) -> tuple[AudioSource | None, AudioFormat | None]:
        choice = self._audio_choice
        if choice is None:
            self._note = "Video only: sound recording is switched off."
            return None, None
        if isinstance(choice, AudioFormat):
            return None, choice
        if choice == "microphone":
            try:
                mic = open_microphone(clock=self._clock)
            except PuppetError as exc:
                self._note = _video_only(exc)
                return None, None
            return mic, mic.format
        return choice, choice.format

    # --- input ---------------------------------------------------------------------------
    def _time(self, t: float | None) -> float:
        now = self._clock()
        if t is None:
            return now
        if self._live_clock and abs(t - now) > _CLOCK_MISMATCH_SECONDS:
            if not self._warned_clock:
                self._warned_clock = True
                self._note = (self._note + " " if self._note else "") + \
                    "Capture times are not on Puppet's clock; using arrival times."
            return now
        return t

    def add_frame(self, frame_bgr: np.ndarray, capture_time: float | None = None) -> None:
        """An output frame (BGR, not changed afterwards); returns at once."""
        mp4 = self._mp4
        if self._state == "recording" and mp4 is not None:
            mp4.put_frame(frame_bgr, self._time(capture_time))

    def add_face(self, face: Face | None, capture_time: float | None = None) -> None:
        """The driver's face (None: none seen) in the driver frame captured then."""
        perf = self._perf
        if self._state == "recording" and perf is not None:
            perf.add_face(face, self._time(capture_time))

    def add_neutral(self, face: Face, capture_time: float | None = None) -> None:
        """The driver's neutral face: at the start, and whenever the user calibrates."""
        perf = self._perf
        if self._state == "recording" and perf is not None:
            perf.add_neutral(face, self._time(capture_time))

    def add_audio(self, block: np.ndarray, capture_time: float) -> None:
        """Sound (float32, frames x channels) captured from ``capture_time``."""
        if self._state != "recording" and self._t_end is None:
            return
        mp4, perf = self._mp4, self._perf
        if mp4 is not None:
            mp4.put_audio(block, capture_time)
        if perf is not None and self._format is not None:
            perf.add_audio(block, capture_time)

    # --- state ---------------------------------------------------------------------------
    def status(self) -> RecorderStatus:
        state = self._state
        mp4 = self._mp4
        error = self._error
        if state == "recording" and mp4 is not None and mp4.error is not None:
            error = _why(mp4.error)
        if state == "recording":
            elapsed = self._clock() - self._t0 if self._live_clock else \
                (mp4.frames / self.settings.fps if mp4 else 0.0)
        elif self._t_end is not None:
            elapsed = self._t_end - self._t0
        else:
            elapsed = 0.0
        result = self._result
        return RecorderStatus(
            state="failed" if error and state == "recording" else state,
            elapsed=max(0.0, elapsed),
            video=result.video if result else self._video_path,
            performance=result.performance if result else self._perf_path,
            sound=result.sound if result else self._format is not None and (
                self._source is not None or isinstance(self._audio_choice, AudioFormat)),
            note=self._note, frames=mp4.frames if mp4 else (result.frames if result else 0),
            dropped=mp4.dropped if mp4 else (result.dropped if result else 0), error=error)

    @property
    def recording(self) -> bool:
        return self._state == "recording"

    @property
    def t0(self) -> float:
        """When the current (or last) recording started, on the clock: its frame 0."""
        return self._t0

    # --- stop ----------------------------------------------------------------------------
    def stop(self, at: float | None = None) -> RecordingResult:
        """Stop and finish the files (seconds for a long recording: a copy, no re-encoding)."""
        with self._lock:
            if self._state != "recording":
                if self._result is not None:
                    return self._result
                raise PuppetError("no recording is running", "start one first")
            self._t_end = self._clock() if at is None else at
            sound = self.status().sound
            self._state = "saving"
            if self._source is not None:
                if self._live_clock:
                    time.sleep(_AUDIO_GRACE_SECONDS)  # sound captured before the stop
                self._source.stop()
            mp4, perf = self._mp4, self._perf
            assert mp4 is not None
            mp4.finish(self._t_end)
            video: Path | None = None
            notes = [self._note] if self._note else []
            error = _why(mp4.error) if mp4.error is not None else ""
            try:
                _finish_mp4(mp4.part, mp4.final)
                video = mp4.final
            except PuppetError as exc:
                error = error or exc.message
                remove(mp4.part)
            except Exception as exc:  # noqa: BLE001 - keep the playable fragmented file
                os.replace(mp4.part, mp4.final)
                video = mp4.final
                notes.append(f"The recording was kept as written ({_why(exc)}).")
            finally:
                mp4.release()
            performance = None
            if perf is not None and video is None and not mp4.frames:
                perf.abort()  # stopped before a frame was recorded: nothing to pair it with
            elif perf is not None:
                try:
                    performance = perf.finish(self._t_end)
                except (PuppetError, OSError) as exc:
                    notes.append(f"The performance file could not be written ({_why(exc)}).")
            seconds = self._t_end - self._t0
            self._result = RecordingResult(
                video=video, performance=performance, seconds=seconds, frames=mp4.frames,
                sound=sound and video is not None, dropped=mp4.dropped, note=" ".join(notes),
                error=error)
            self._error = error
            self._state = "done" if video is not None else "failed"
            self._mp4, self._perf, self._source = None, None, None
            _ACTIVE.discard(self)
            return self._result

    def stop_async(self, on_done: Callable[[RecordingResult | PuppetError], None] | None = None
                   ) -> threading.Thread:
        """Stop on a thread of its own; ``on_done`` gets the result (or the error) there."""

        def run() -> None:
            try:
                result: RecordingResult | PuppetError = self.stop()
            except PuppetError as exc:
                result = exc
            if on_done is not None:
                on_done(result)

        thread = threading.Thread(target=run, name="puppet-record-stop", daemon=False)
        thread.start()
        return thread


def _reserve_name(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path:
    """``folder/NAME`` for a recording of that exact name, its first part file created;
    a :class:`PuppetError` when one of its files is there already."""
    for suffix in suffixes:
        final = folder / f"{name}{suffix}"
        if final.exists():
            raise PuppetError(f"{final} already exists",
                              "give another name, or a folder for timestamped names")
        if part_path(final).exists():
            raise PuppetError(f"a recording named {final.name} was cut off or is still "
                              f"running in {folder}",
                              f"give another name, or rescue it with 'puppet recover {folder}'")
    first = folder / f"{name}{suffixes[0]}"
    try:
        fd = os.open(part_path(first), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError as exc:
        raise PuppetError(f"a recording named {first.name} is running in {folder}",
                          "give another name") from exc
    os.close(fd)
    return folder / name


def _video_only(exc: PuppetError) -> str:
    """``Video only: no microphone was found. Connect one, or ...``"""
    fix = f" {sentence(exc.fix)}." if exc.fix else ""
    return f"Video only: {exc.problem}.{fix}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, PuppetError):
        return exc.problem
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# --- recovery ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Recovered:
    """What :func:`recover_recordings` did with one file left by a dead recording."""

    part: Path  # the part file that was found
    path: Path | None  # the rescued file (None when nothing could be rescued)
    seconds: float  # length of the rescued recording
    message: str  # one line for the user


def recover_recordings(folder: str | Path) -> list[Recovered]:
    """Finish every recording in ``folder`` that a crashed or killed process left behind.

    Recordings still being written (by this or another process) are left alone.
    """
    from puppet.sources.performance import read_performance

    base = Path(folder).expanduser()
    if not base.is_dir():
        return []
    found: list[Recovered] = []
    for part in sorted(base.glob(".*.part")):
        final = final_path(part)
        if final is None or final.suffix.lower() not in (".mp4", PERFORMANCE_SUFFIX):
            continue
        lock = PartLock.acquire(part)
        if lock is None:
            continue  # being written right now
        try:
            if final.exists():  # finished: the process died just before tidying up
                remove(part)
                continue
            if not _is_ours(part):
                continue
            try:
                if final.suffix.lower() == ".mp4":
                    done = _finish_mp4(part, final)
                    what = "with sound" if done.sound else "video only"
                    found.append(Recovered(part, final, done.seconds,
                                           f"Recovered {final.name} ({done.seconds:.1f} s, "
                                           f"{what})"))
                else:
                    path = finish_log(part, final)
                    if path is None:
                        found.append(Recovered(part, None, 0.0,
                                               f"{final.name}: no face was recorded; removed"))
                    else:
                        seconds = read_performance(path).seconds
                        found.append(Recovered(part, path, seconds,
                                               f"Recovered {final.name} ({seconds:.1f} s)"))
            except PuppetError as exc:
                remove(part)
                found.append(Recovered(part, None, 0.0,
                                       f"{final.name}: nothing could be rescued "
                                       f"({exc.problem}); removed"))
            except OSError as exc:  # in use after all (Windows), or the disk is full
                found.append(Recovered(part, None, 0.0,
                                       f"{final.name}: cannot be recovered now "
                                       f"({exc.strerror or exc}); try again later"))
        finally:
            lock.release()
    return found


def _is_ours(part: Path) -> bool:
    """A part file that a recorder wrote (not, say, a render that is still running)."""
    try:
        size = part.stat().st_size
        with open(part, "rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    if size == 0:  # reserved, then killed before the header: ours if not brand new
        return time.time() - part.stat().st_mtime > 60
    if part.name.endswith(PERFORMANCE_SUFFIX + ".part"):
        return head.startswith(LOG_MAGIC)
    return RECORDING_TAG.encode() in head
