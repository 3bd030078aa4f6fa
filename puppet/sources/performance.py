"""Performance files: a driver's performance (its face frame by frame, and its voice).

A performance is what the driver did, without any portrait: the 478 tracked
landmarks of every frame (or none, where no face was seen), when each was
captured, the neutral face the live engine measured motion from, and the
sound.  ``puppet render --driving FILE.performance --portrait ANY_IMAGE`` plays
it onto any portrait; output frame *i* is performance frame *i*, at the
performance's frame rate, and the sound is muxed in.

The file (``.performance``) is a ZIP archive:

``performance.json``
    ``{"format": "puppet-performance", "version": 1, "fps": [num, den],
    "frames": N, "image_size": [w, h], "landmark_scale": s, "faces": P,
    "neutral_frames": K, "audio": {"codec": "opus", "member": "audio.ogg",
    "samplerate": 48000, "channels": 1, "samples": S} or null, ...}``
``present.npy``      bool (N,): a face was seen in frame i
``times.npy``        float64 (N,): capture time, in seconds from the start, of the face in frame i
                     (NaN where none); frames are on a constant-rate grid, so a face
                     repeats over a camera stall
``confidence.npy``   float16 (N,)
``landmarks.npy``    int16 (P, 478, 3): the P frames with a face, in pixels times
                     ``landmark_scale`` (16: 1/16 px), each frame stored as its
                     difference from the previous one (wrapping int16); bzip2-compressed
                     (about 2 MB for a minute of a face at 30 fps: most of it is the
                     tracker's own jitter, which no lossless coding removes; files
                     written before used LZMA, which reads the same)
``neutral_frames.npy``, ``neutral_landmarks.npy``: int32 (K,), int16 (K, 478, 3):
                     the neutral face taken (calibrated) before frame ``neutral_frames[k]``
``audio.ogg``        the sound, Opus in Ogg (48 kbit/s per channel)

A recording in progress is a log beside it (``.NAME.performance.part``): a header
and then one record per face, neutral or block of sound, appended and flushed
as they happen.  It survives the app being killed; :func:`finish_log` turns a
log, finished or not, into the file above.
"""
from __future__ import annotations

import io
import json
import math
import queue
import struct
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

from puppet.errors import PuppetError, existing_file
from puppet.files import PartLock, part_path, remove
from puppet.sources.audio import AudioTrack, Resampler, decode_samples
from puppet.threads import join
from puppet.timeline import (
    AudioFormat,
    AudioTimeline,
    as_samples,
    frame_count,
    slot_sources,
)
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face

FORMAT = "puppet-performance"
VERSION = 1
SUFFIX = ".performance"
LOG_MAGIC = b"PUPPET-PERFORMANCE-LOG\n"
OPUS_BITRATE_PER_CHANNEL = 48_000
_OPUS_RATE = 48000
_POINTS = lm.NUM_LANDMARKS


@dataclass(frozen=True)
class Performance:
    """A driver's performance on a constant-rate grid of ``frame_count`` frames."""

    fps: Fraction
    image_size: tuple[int, int]  # (width, height) of the driver's video
    landmarks: np.ndarray  # float32 (N, 478, 3), pixels; zeros where no face
    present: np.ndarray  # bool (N,)
    confidence: np.ndarray  # float32 (N,)
    times: np.ndarray  # float64 (N,), seconds from the start; NaN where no face
    neutrals: tuple[tuple[int, np.ndarray], ...] = ()  # (frame, 478 x 3 landmarks)
    audio: AudioTrack | None = None
    created: str = ""

    @property
    def frame_count(self) -> int:
        return int(len(self.present))

    @property
    def seconds(self) -> float:
        return self.frame_count / float(self.fps)

    def face(self, i: int) -> Face | None:
        if not self.present[i]:
            return None
        return Face(self.landmarks[i], float(self.confidence[i]), self.image_size)

    def frames(self) -> Iterator[tuple[int, float, Face | None, Face | None]]:
        """(index, time, face or None, neutral face taken before this frame or None)."""
        neutral_at = dict(self.neutrals)
        fps = float(self.fps)
        for i in range(self.frame_count):
            t = float(self.times[i])
            neutral = neutral_at.get(i)
            yield (i, t if math.isfinite(t) else i / fps, self.face(i),
                   None if neutral is None else Face(neutral, 1.0, self.image_size))


# --- reading ---------------------------------------------------------------------------

def is_performance_file(path: str | Path) -> bool:
    """True for a file that claims to be a performance (its name or its first bytes)."""
    p = Path(path)
    if p.suffix.lower() == SUFFIX:
        return True
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _damaged(path: Path, why: str) -> PuppetError:
    return PuppetError(f"the performance file {path} is damaged ({why})",
                       "record it again; a recording that was cut off can be rescued with "
                       "'puppet recover FOLDER'")


def read_performance(path: str | Path) -> Performance:
    """Read a ``.performance`` file; a :class:`PuppetError` says what is wrong with a bad one."""
    p = existing_file(path, "performance file", "a .performance file")
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
            if "performance.json" not in names:
                raise PuppetError(f"{p} is not a Puppet performance file",
                                  "give a .performance file recorded by Puppet, or a video")
            try:
                head = json.loads(z.read("performance.json"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise _damaged(p, "its header cannot be read") from exc
            if not isinstance(head, dict) or head.get("format") != FORMAT:
                raise PuppetError(f"{p} is not a Puppet performance file",
                                  "give a .performance file recorded by Puppet, or a video")
            version = head.get("version")
            if not isinstance(version, int) or version < 1:
                raise _damaged(p, "it has no valid format version")
            if version > VERSION:
                raise PuppetError(f"{p} was written by a newer Puppet (performance format "
                                  f"version {version}; this one reads up to {VERSION})",
                                  "update Puppet to render it")

            def array(name: str) -> np.ndarray:
                try:
                    with z.open(name) as f:
                        return np.lib.format.read_array(f, allow_pickle=False)
                except KeyError as exc:
                    raise _damaged(p, f"{name} is missing") from exc

            return _decode(p, head, array, z)
    except zipfile.BadZipFile as exc:
        if p.suffix.lower() == SUFFIX:
            raise _damaged(p, "it is not a complete ZIP archive") from exc
        raise PuppetError(f"{p} is not a Puppet performance file",
                          "give a .performance file recorded by Puppet, or a video") from exc
    except (OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise _damaged(p, str(exc) or type(exc).__name__) from exc
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise _damaged(p, str(exc) or type(exc).__name__) from exc


def _decode(p: Path, head: dict, array: Callable[[str], np.ndarray],
            z: zipfile.ZipFile) -> Performance:
    num, den = head["fps"]
    fps = Fraction(int(num), int(den))
    n = int(head["frames"])
    w, h = (int(v) for v in head["image_size"])
    scale = float(head["landmark_scale"])
    if not (fps > 0 and n >= 1 and w > 0 and h > 0 and scale > 0):
        raise _damaged(p, "its header has impossible values")
    present = array("present.npy").astype(bool)
    times = array("times.npy").astype(np.float64)
    confidence = array("confidence.npy").astype(np.float32)
    deltas = array("landmarks.npy")
    if present.shape != (n,) or times.shape != (n,) or confidence.shape != (n,):
        raise _damaged(p, "its frame arrays do not match its header")
    faces = int(present.sum())
    if deltas.dtype != np.int16 or deltas.shape != (faces, _POINTS, 3):
        raise _damaged(p, "its landmark array has the wrong shape")
    landmarks = np.zeros((n, _POINTS, 3), np.float32)
    if faces:
        landmarks[present] = np.cumsum(deltas, axis=0, dtype=np.int16).astype(np.float32) / scale
    neutral_frames = array("neutral_frames.npy").astype(np.int64)
    neutral_q = array("neutral_landmarks.npy")
    if neutral_q.shape != (len(neutral_frames), _POINTS, 3) or \
            (len(neutral_frames) and not (0 <= neutral_frames.min() and neutral_frames.max() < n)):
        raise _damaged(p, "its neutral faces do not match its header")
    neutrals = tuple((int(f), neutral_q[k].astype(np.float32) / scale)
                     for k, f in enumerate(neutral_frames))
    audio = None
    if head.get("audio"):
        audio = _read_audio(p, head["audio"], z)
    return Performance(fps=fps, image_size=(w, h), landmarks=landmarks, present=present,
                       confidence=confidence, times=times, neutrals=neutrals, audio=audio,
                       created=str(head.get("created", "")))


def _read_audio(p: Path, info: dict, z: zipfile.ZipFile) -> AudioTrack:
    import av

    fmt = AudioFormat(int(info["samplerate"]), int(info["channels"]))
    total = int(info["samples"])
    try:
        data = z.read(info["member"])
    except KeyError as exc:
        raise _damaged(p, "its sound is missing") from exc
    try:
        with av.open(io.BytesIO(data)) as c:
            samples = decode_samples(c, c.streams.audio[0], fmt)[:total]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise _damaged(p, f"its sound cannot be decoded: {exc}") from exc
    if len(samples) < total:
        samples = np.concatenate([samples, np.zeros((total - len(samples), fmt.channels),
                                                    np.float32)])
    return AudioTrack(np.ascontiguousarray(samples, np.float32), fmt)


# --- writing ---------------------------------------------------------------------------

def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def landmark_scale(image_size: tuple[int, int]) -> float:
    """Fixed-point scale for landmarks in an image of this size: 1/16 pixel (far below a
    tracker's jitter), coarser only for pictures over 1000 px so that int16 holds twice
    the picture (faces partly outside it)."""
    return min(16.0, 16000.0 / max(image_size[0], image_size[1], 1))


def _quantize(pts: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(pts * scale), -32768, 32767).astype(np.int16)


def _encode_opus(audio: AudioTrack) -> tuple[bytes, AudioFormat, int]:
    """Opus in Ogg; returns (bytes, the format it decodes to, samples it decodes to)."""
    return _encode_opus_blocks([audio.samples], audio.format)


def _encode_opus_blocks(blocks: Iterable[np.ndarray], fmt: AudioFormat
                        ) -> tuple[bytes, AudioFormat, int]:
    """:func:`_encode_opus` of the blocks of samples (in ``fmt``) one after the other, as
    they come: the sound is never held whole (an hour of it is 700 MB as float32)."""
    import av

    layout = "mono" if fmt.channels == 1 else "stereo"
    out_fmt = AudioFormat(_OPUS_RATE, fmt.channels)
    resample = Resampler(out_fmt) if fmt.samplerate != _OPUS_RATE else None
    step = _OPUS_RATE  # one second per frame handed over
    pending = np.zeros((step, fmt.channels), np.float32)
    fill = encoded = taken = 0
    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as c:
        stream = c.add_stream("libopus", rate=_OPUS_RATE)
        stream.layout = layout
        stream.bit_rate = OPUS_BITRATE_PER_CHANNEL * fmt.channels

        def encode(block: np.ndarray) -> None:
            nonlocal encoded
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block).reshape(1, -1),
                                               format="flt", layout=layout)
            frame.sample_rate = _OPUS_RATE
            frame.pts = encoded
            for packet in stream.encode(frame):
                c.mux(packet)
            encoded += len(block)

        def feed(samples: np.ndarray) -> None:
            nonlocal fill
            i = 0
            while i < len(samples):
                n = min(step - fill, len(samples) - i)
                pending[fill:fill + n] = samples[i:i + n]
                fill, i = fill + n, i + n
                if fill == step:
                    encode(pending)
                    fill = 0

        for block in blocks:
            block = as_samples(block, fmt.channels)
            if resample is None:
                feed(block)
                continue
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt",
                                               layout=layout)
            frame.sample_rate = fmt.samplerate
            frame.pts = taken
            taken += len(block)
            for out in resample(frame):
                feed(out)
        if resample is not None:
            for out in resample(None):
                feed(out)
        if fill:
            encode(pending[:fill])
        for packet in stream.encode(None):
            c.mux(packet)
    return buf.getvalue(), out_fmt, encoded


def write_performance(path: str | Path, perf: Performance) -> Path:
    """Write ``perf`` to ``path``, all or nothing (a hidden part file moved into place)."""
    scale = landmark_scale(perf.image_size)
    q = _quantize(perf.landmarks[perf.present], scale)
    deltas = q.copy()
    if len(q) > 1:
        deltas[1:] = q[1:] - q[:-1]  # wraps in int16; the cumulative sum wraps back
    audio = None
    if perf.audio is not None and len(perf.audio.samples):
        audio = _encode_opus(perf.audio)
    return _write_zip(Path(path), perf.fps, perf.image_size, perf.present, perf.times,
                      perf.confidence, lambda f: np.lib.format.write_array(
                          f, np.ascontiguousarray(deltas), allow_pickle=False),
                      perf.neutrals, audio, perf.created)


def _write_zip(out: Path, fps: Fraction, image_size: tuple[int, int], present: np.ndarray,
               times: np.ndarray, confidence: np.ndarray,
               write_landmarks: Callable[[IO[bytes]], None],
               neutrals: Sequence[tuple[int, np.ndarray]],
               audio: tuple[bytes, AudioFormat, int] | None, created: str) -> Path:
    """The file (see the module's description), from its parts; ``write_landmarks`` writes
    ``landmarks.npy`` (the quantised differences) into the stream it is given."""
    import os

    from puppet import __version__

    n = len(present)
    scale = landmark_scale(image_size)
    faces = int(present.sum())
    neutral_frames = np.array([f for f, _ in neutrals], np.int32)
    neutral_q = np.array([_quantize(np.asarray(x, np.float32), scale) for _, x in neutrals],
                         np.int16).reshape(-1, _POINTS, 3)
    head = {
        "format": FORMAT, "version": VERSION,
        "fps": [fps.numerator, fps.denominator], "frames": n,
        "seconds": round(n / float(fps), 6),
        "image_size": list(image_size), "landmark_scale": scale,
        "faces": faces, "neutral_frames": len(neutrals),
        "audio": None, "created": created or datetime.now().isoformat(timespec="seconds"),
        "app": f"puppet {__version__}",
    }
    if audio is not None:
        _, fmt, total = audio
        head["audio"] = {"codec": "opus", "member": "audio.ogg", "samplerate": fmt.samplerate,
                         "channels": fmt.channels, "samples": total}
    tmp = part_path(out).with_name(part_path(out).name + "-zip")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.writestr("performance.json", json.dumps(head, indent=1))
            z.writestr("present.npy", _npy(present.astype(bool)))
            z.writestr("times.npy", _npy(times.astype(np.float64)))
            z.writestr("confidence.npy", _npy(confidence.astype(np.float16)))
            # bzip2, not LZMA: on four minutes of a face LZMA took 17.8 s of a core to finish
            # the file (while the live session waited, and the render shared the CPU), bzip2
            # 1.4 s, for 8.7 MB of landmarks instead of 4.9
            info = zipfile.ZipInfo("landmarks.npy", date_time=datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_BZIP2
            with z.open(info, "w", force_zip64=faces * _POINTS * 6 > 2**30) as f:
                write_landmarks(f)
            z.writestr("neutral_frames.npy", _npy(neutral_frames))
            z.writestr("neutral_landmarks.npy", _npy(neutral_q))
            if audio is not None:
                z.writestr(zipfile.ZipInfo("audio.ogg", date_time=(1980, 1, 1, 0, 0, 0)),
                           audio[0], compress_type=zipfile.ZIP_STORED)
        os.replace(tmp, out)
    except BaseException:
        remove(tmp)
        raise
    return out


# --- recording: a crash-safe log --------------------------------------------------------

_HEADER, _FACE, _NEUTRAL, _AUDIO, _END = b"H", b"F", b"N", b"A", b"E"
_CHUNK = struct.Struct("<cI")  # kind, payload length
_FACE_HEAD = struct.Struct("<dBfII")  # capture time, face present, confidence, width, height
_AUDIO_HEAD = struct.Struct("<dI")  # capture time of the first sample, frames
_FACE_BYTES = _POINTS * 3 * 4


def _face_record(face: Face | None, t: float) -> bytes:
    if face is None:
        return _FACE_HEAD.pack(t, 0, 0.0, 0, 0)
    w, h = face.image_size
    return _FACE_HEAD.pack(t, 1, float(face.confidence), int(w), int(h)) + \
        np.ascontiguousarray(face.landmarks, np.float32).tobytes()


class PerformanceRecorder:
    """Records a performance as it happens into a crash-safe log beside ``path``.

    ``add_face``, ``add_neutral`` and ``add_audio`` never block: a thread of its
    own appends the records and flushes them.  ``finish(t_end)`` writes the
    ``.performance`` file (constant rate ``fps`` from ``t0``) and removes the log.
    """

    def __init__(self, path: str | Path, t0: float, fps: float,
                 audio: AudioFormat | None = None):
        self.path = Path(path)
        self.part = part_path(self.path)
        self.t0 = t0
        self.fps = float(fps)
        self.faces = 0
        self.error: BaseException | None = None
        # the caller may have reserved the name by creating the part file already
        self._file = open(self.part, "wb")  # noqa: SIM115 - closed by the writer thread
        self._lock = PartLock.acquire(self.part)
        header = {"format": "puppet-performance-log", "version": VERSION, "t0": t0,
                  "fps": self.fps, "created": datetime.now().isoformat(timespec="seconds"),
                  "audio": None if audio is None else
                  {"samplerate": audio.samplerate, "channels": audio.channels}}
        self._file.write(LOG_MAGIC)
        self._write(_HEADER, json.dumps(header).encode())
        self._file.flush()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="puppet-performance",
                                        daemon=True)
        self._thread.start()

    def _write(self, kind: bytes, payload: bytes) -> None:
        self._file.write(_CHUNK.pack(kind, len(payload)))
        self._file.write(payload)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            items = [item]
            while True:  # take everything waiting, then flush once
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for kind, payload in items:
                    if kind is None:
                        self._file.flush()
                        return
                    self._write(kind, payload)
                self._file.flush()
            except OSError as exc:
                self.error = exc
                return

    def add_face(self, face: Face | None, t: float) -> None:
        if self.error is None:
            self.faces += face is not None
            self._queue.put((_FACE, _face_record(face, t)))

    def add_neutral(self, face: Face, t: float) -> None:
        if self.error is None:
            self._queue.put((_NEUTRAL, _face_record(face, t)))

    def add_audio(self, block: np.ndarray, t: float) -> None:
        if self.error is None:
            pcm = np.clip(np.round(np.asarray(block, np.float32) * 32767), -32768, 32767)
            pcm = pcm.astype("<i2")
            frames = pcm.shape[0]
            self._queue.put((_AUDIO, _AUDIO_HEAD.pack(t, frames) + pcm.tobytes()))

    def _close_log(self, t_end: float | None) -> None:
        if t_end is not None:
            self._queue.put((_END, struct.pack("<d", t_end)))
        self._queue.put((None, b""))
        join(self._thread, 30)
        self._file.close()
        if self._lock is not None:
            self._lock.release()

    def finish(self, t_end: float) -> Path | None:
        """Write the performance file; None (and no file) when no face was ever seen."""
        self._close_log(t_end)
        return finish_log(self.part, self.path)

    def abort(self) -> None:
        self._close_log(None)
        remove(self.part)


@dataclass
class _Log:
    """What a log holds, without its landmarks or its sound: those stay in the file, read
    from it as they are written out (an hour of them is 620 MB as float32, and the sound
    as much again), so that finishing a long recording does not take gigabytes."""

    header: dict
    faces: list[tuple[float, int, float, tuple[int, int]]]  # capture time, where its
    # landmarks start in the log (-1: no face), confidence, picture size
    neutrals: list[tuple[float, Face]]
    audio: list[tuple[float, int, int, int]]  # capture time, where its samples start,
    # frames, channels
    t_end: float | None
    complete: bool


def _read_log(part: Path) -> _Log:
    size = part.stat().st_size
    log = _Log({}, [], [], [], None, False)
    header: dict | None = None
    with open(part, "rb") as f:
        if f.read(len(LOG_MAGIC)) != LOG_MAGIC:
            raise ValueError("not a performance log")
        pos = len(LOG_MAGIC)
        while pos + _CHUNK.size <= size:
            f.seek(pos)
            kind, length = _CHUNK.unpack(f.read(_CHUNK.size))
            start, end = pos + _CHUNK.size, pos + _CHUNK.size + length
            if end > size:
                break  # cut off mid-record by a crash: everything before it is good
            pos = end
            if kind == _HEADER:
                header = json.loads(f.read(length))
            elif kind in (_FACE, _NEUTRAL):
                if length < _FACE_HEAD.size:
                    raise struct.error("a face record is too short")
                t, present, conf, w, h = _FACE_HEAD.unpack(f.read(_FACE_HEAD.size))
                seen = bool(present) and length >= _FACE_HEAD.size + _FACE_BYTES
                if kind == _FACE:
                    log.faces.append((t, start + _FACE_HEAD.size if seen else -1, conf, (w, h)))
                elif seen:
                    pts = np.frombuffer(f.read(_FACE_BYTES), np.float32)
                    log.neutrals.append((t, Face(pts.reshape(_POINTS, 3).copy(), conf, (w, h))))
            elif kind == _AUDIO:
                if length < _AUDIO_HEAD.size or (length - _AUDIO_HEAD.size) % 2:
                    raise ValueError("a sound record has a broken length")
                t, frames = _AUDIO_HEAD.unpack(f.read(_AUDIO_HEAD.size))
                count = (length - _AUDIO_HEAD.size) // 2
                if frames and count % frames == 0:
                    log.audio.append((t, start + _AUDIO_HEAD.size, frames, count // frames))
            elif kind == _END:
                log.t_end = struct.unpack("<d", f.read(length))[0]
                log.complete = True
    if header is None:
        raise ValueError("the log has no header")
    log.header = header
    return log


def finish_log(part: Path, dest: Path) -> Path | None:
    """Turn a performance log (finished, or cut off by a crash) into ``dest``; removes the
    log.  Returns None, writing nothing, when it holds no face at all."""
    try:
        log = _read_log(part)
    except (OSError, ValueError, struct.error) as exc:
        raise PuppetError(f"the performance log {part} cannot be read ({exc})",
                          "delete it; nothing in it can be rescued") from exc
    header = log.header
    faces = log.faces
    if not any(at >= 0 for _, at, _, _ in faces):
        remove(part)
        return None
    t0, fps = float(header["t0"]), float(header["fps"])
    ends = [t for t, _, _, _ in faces]
    fmt = None
    if header.get("audio"):
        fmt = AudioFormat(int(header["audio"]["samplerate"]), int(header["audio"]["channels"]))
        ends += [t + frames / fmt.samplerate for t, _, frames, _ in log.audio]
    t_end = log.t_end if log.t_end is not None else max(ends)
    n = frame_count(t0, t_end, fps)
    sources = slot_sources([t for t, _, _, _ in faces], t0, fps, n)
    size = next(size for _, at, _, size in faces if at >= 0)
    scale = landmark_scale(size)
    present = np.zeros(n, bool)
    confidence = np.zeros(n, np.float32)
    times = np.full(n, np.nan)
    for k, src in enumerate(sources):
        if src >= 0 and faces[src][1] >= 0:
            t, _, conf, _ = faces[src]
            present[k], confidence[k], times[k] = True, conf, t - t0
    # a neutral applies from the first frame that shows a face captured after it
    face_times = np.array([t for t, _, _, _ in faces])
    neutral_at: dict[int, np.ndarray] = {}
    for t, face in log.neutrals:
        after = np.nonzero(face_times >= t)[0]
        if not len(after):
            continue  # taken after the last face: it changes nothing
        frames = np.nonzero(sources >= after[0])[0]
        if len(frames):
            neutral_at[int(frames[0])] = face.landmarks
    with open(part, "rb") as f:

        def landmarks(src: int) -> np.ndarray:
            """The face's landmarks, quantised (in the first face's picture size)."""
            _, at, conf, own = faces[src]
            f.seek(at)
            pts = np.frombuffer(f.read(_FACE_BYTES), np.float32).reshape(_POINTS, 3)
            if own != size:  # the camera changed its picture size mid-way
                pts = Face(pts, conf, own).transformed(size[0] / own[0], (0.0, 0.0),
                                                       size).landmarks
            return _quantize(pts, scale)

        def write_landmarks(out: IO[bytes]) -> None:
            np.lib.format.write_array_header_1_0(out, {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.int16)),
                "fortran_order": False, "shape": (int(present.sum()), _POINTS, 3)})
            previous = np.zeros((_POINTS, 3), np.int16)
            shown, q = -1, previous
            chunk: list[np.ndarray] = []
            for src in sources[present]:
                if src != shown:  # a face shown again (the camera stalled) is read once
                    shown, q = src, landmarks(int(src))
                chunk.append(q - previous)  # wraps in int16; the cumulative sum wraps back
                previous = q
                if len(chunk) == 256:
                    out.write(np.stack(chunk).tobytes())
                    chunk = []
            if chunk:
                out.write(np.stack(chunk).tobytes())

        def sound() -> Iterator[np.ndarray]:
            """The sound on the frames' clock, block by block, up to the last frame's end."""
            assert fmt is not None
            timeline = AudioTimeline(t0, fmt)
            total = int(round(n / fps * fmt.samplerate))
            placed = 0
            for t, at, frames, channels in log.audio:
                if placed >= total:
                    break
                f.seek(at)
                pcm = np.frombuffer(f.read(frames * channels * 2), "<i2")
                block = timeline.place(pcm.reshape(frames, channels), t)[:total - placed]
                placed += len(block)
                yield block
            while placed < total:  # silence to the end
                step = min(total - placed, _OPUS_RATE)
                placed += step
                yield np.zeros((step, fmt.channels), np.float32)

        audio = None if fmt is None else _encode_opus_blocks(sound(), fmt)
        _write_zip(dest, Fraction(fps).limit_denominator(1001), size, present, times,
                   confidence, write_landmarks, tuple(sorted(neutral_at.items())), audio,
                   str(header.get("created", "")))
    remove(part)
    return dest
