"""The pipeline: driver frames -> tracking -> retargeting -> generator -> compose -> outputs.

This is the one module that knows about threads, queues and timing.  Offline
rendering (``puppet render``, ``puppet demo``) overlaps three stages:

    [decode + track]  ->  [retarget + generate + compose]  ->  [encode]

each in its own thread with a short queue between them (onnxruntime, OpenCV,
MediaPipe and PyAV release the GIL while they work).
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from puppet.compose import Compositor
from puppet.errors import PuppetError
from puppet.generators import base as generators
from puppet.generators.runtime import ProviderInfo
from puppet.generators.warp.features import lip_colour
from puppet.motion.retarget import DriverView, Motion, Retargeter, RetargetSettings, neutral_motion
from puppet.portrait import DEFAULT_SIZE, Portrait, load_portrait
from puppet.tracking.face import Face


@dataclass(frozen=True)
class DriverFrame:
    """One step of a performance: the driver's face (None when none was seen).

    ``neutral``, when set, is a face to take as the driver's neutral before this
    frame (a recorded performance replays the live engine's calibrations).
    """

    index: int
    time: float
    face: Face | None
    neutral: Face | None = None
    image: np.ndarray | None = field(default=None, compare=False, repr=False)  # BGR, if any


@dataclass
class StageTimes:
    """Milliseconds spent per frame in each stage."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, ms: float) -> None:
        self.samples.setdefault(stage, []).append(ms)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage, values in self.samples.items():
            arr = np.asarray(values)
            out[stage] = {"median_ms": float(np.median(arr)),
                          "p95_ms": float(np.percentile(arr, 95)), "frames": int(arr.size)}
        return out


@dataclass
class RenderReport:
    output: Path
    frames: int
    video_fps: float
    seconds: float
    provider: ProviderInfo
    frames_without_face: int
    times: StageTimes
    sound: bool = False  # the output has a sound track

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


ProgressFn = Callable[[int, int, float], None]  # (frames done, total or 0, fps so far)


def track_video(video, tracker, max_frames: int = 0) -> Iterator[tuple[DriverFrame, float]]:
    """Decode and track a video: (DriverFrame, milliseconds spent) for each frame."""
    t0 = time.perf_counter()
    for frame in video.frames():
        if max_frames and frame.index >= max_frames:
            break
        face = tracker.track(frame.image)
        t1 = time.perf_counter()
        yield DriverFrame(frame.index, frame.time, face, image=frame.image), (t1 - t0) * 1000.0
        t0 = time.perf_counter()


class _Stop(Exception):
    pass


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


_END = object()


class FrameRenderer:
    """Retarget + generate + compose for one portrait: driver face in, output frame out."""

    def __init__(self, portrait: Portrait, generator, settings: RetargetSettings | None = None):
        self.portrait = portrait
        self.generator = generator
        self.retargeter = Retargeter(portrait.face, settings)
        self.prepared = generator.prepare(portrait)
        self.compositor = Compositor(portrait.image, self.prepared.box)
        self.last_motion: Motion = neutral_motion(portrait.face)
        self.driver_lips: np.ndarray | None = None

    def calibrate(self, face: Face, image: np.ndarray | None = None) -> None:
        """Take this driver face (and picture) as the neutral."""
        self.retargeter.calibrate(face)
        self.driver_lips = None if image is None else lip_colour(image, face.landmarks[:, :2])

    def motion_for(self, face: Face | None, t: float | None,
                   image: np.ndarray | None = None) -> Motion:
        """The motion for a driver face (None: hold the last good pose).  With the
        driver's picture, the inside of its mouth is carried over too."""
        if face is None:
            return self.last_motion
        if not self.retargeter.calibrated:
            self.calibrate(face, image)
        view = None if image is None else DriverView(image, face.landmarks, self.driver_lips)
        self.last_motion = self.retargeter.motion(face, t, view)
        return self.last_motion

    def draw(self, motion: Motion) -> tuple[np.ndarray, float, float]:
        """The output frame, and the milliseconds spent generating and composing."""
        t0 = time.perf_counter()
        crop = None if motion.neutral else self.generator.render(self.prepared, motion)
        t1 = time.perf_counter()
        frame = self.portrait.image.copy() if crop is None else self.compositor.paste(crop)
        t2 = time.perf_counter()
        return frame, (t1 - t0) * 1000.0, (t2 - t1) * 1000.0


def render_performance(portrait: Portrait, driver: Iterable[tuple[DriverFrame, float]],
                       writer, generator, settings: RetargetSettings | None = None,
                       total: int = 0, progress: ProgressFn | None = None) -> RenderReport:
    """Render every driver frame to ``writer``; the stages run in overlapping threads."""
    renderer = FrameRenderer(portrait, generator, settings)
    times = StageTimes()
    stop = threading.Event()
    errors: list[BaseException] = []
    tracked: queue.Queue = queue.Queue(maxsize=8)
    drawn: queue.Queue = queue.Queue(maxsize=8)
    counters = {"missing": 0, "written": 0}

    def produce() -> None:
        try:
            for item in driver:
                _put(tracked, item, stop)
            _put(tracked, _END, stop)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
            stop.set()

    def consume() -> None:
        try:
            while True:
                item = _get(drawn, stop)
                if item is _END:
                    return
                t0 = time.perf_counter()
                writer.write(item)
                times.add("encode", (time.perf_counter() - t0) * 1000.0)
                counters["written"] += 1
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop.set()

    producer = threading.Thread(target=produce, name="puppet-track", daemon=True)
    encoder = threading.Thread(target=consume, name="puppet-encode", daemon=True)
    start = time.perf_counter()
    producer.start()
    encoder.start()
    done = 0
    try:
        while True:
            item = _get(tracked, stop)
            if item is _END:
                _put(drawn, _END, stop)
                break
            dframe, track_ms = item
            times.add("decode+track", track_ms)
            if dframe.face is None:
                counters["missing"] += 1
            if dframe.neutral is not None:
                renderer.calibrate(dframe.neutral)
            t0 = time.perf_counter()
            motion = renderer.motion_for(dframe.face, dframe.time, dframe.image)
            times.add("retarget", (time.perf_counter() - t0) * 1000.0)
            frame, gen_ms, comp_ms = renderer.draw(motion)
            times.add("generate", gen_ms)
            times.add("compose", comp_ms)
            _put(drawn, frame, stop)
            done += 1
            if progress is not None:
                elapsed = time.perf_counter() - start
                progress(done, total, done / elapsed if elapsed > 0 else 0.0)
        encoder.join()
    except _Stop:
        pass
    finally:
        stop.set()  # after a normal end both threads are done already
        producer.join(timeout=5)
        encoder.join(timeout=5)
    if errors:
        raise errors[0]
    seconds = time.perf_counter() - start
    return RenderReport(output=Path(getattr(writer, "path", "")), frames=counters["written"],
                        video_fps=0.0, seconds=seconds, provider=generator.info,
                        frames_without_face=counters["missing"], times=times)


def performance_driver(perf) -> Iterator[tuple[DriverFrame, float]]:
    """A recorded performance as driver frames (frame i at its recorded capture time)."""
    for i, t, face, neutral in perf.frames():
        yield DriverFrame(i, t, face, neutral), 0.0


def render_file(portrait_path: str | Path, driving_path: str | Path, output_path: str | Path,
                size: int = DEFAULT_SIZE, device: str = "auto",
                settings: RetargetSettings | None = None, generator_name: str = "warp",
                progress: ProgressFn | None = None,
                on_provider: Callable[[ProviderInfo], None] | None = None,
                max_frames: int = 0) -> RenderReport:
    """``puppet render``: a portrait driven by a video or by a recorded performance file
    (see :mod:`puppet.sources.performance`), written to an H.264 MP4; a performance's
    sound goes into the MP4 as AAC.  ``max_frames`` > 0 renders only a driving video's
    first frames."""
    from puppet.outputs.video_writer import VideoWriter, check_output_path
    from puppet.sources.performance import is_performance_file, read_performance

    out = check_output_path(output_path, (portrait_path, driving_path))
    if is_performance_file(driving_path):
        perf = read_performance(driving_path)
        portrait = load_portrait(portrait_path, size)
        generator = generators.create(generator_name, device)
        if on_provider is not None:
            on_provider(generator.info)
        w, h = portrait.size
        writer = VideoWriter(out, w, h, perf.fps, audio=perf.audio)
        try:
            report = render_performance(portrait, performance_driver(perf), writer, generator,
                                        settings, perf.frame_count, progress)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        what, fix = "performance", "record a performance where a face is seen from the front"
        report.video_fps = float(perf.fps)
        report.sound = writer.has_sound
    else:
        report = _render_video(portrait_path, driving_path, out, size, device, settings,
                               generator_name, progress, on_provider, max_frames)
        what, fix = "driving video", "use a video where a face is seen from the front"
    if report.frames_without_face == report.frames:
        out.unlink(missing_ok=True)
        raise PuppetError(f"no face was found in any frame of the {what} {driving_path}", fix)
    return report


def _render_video(portrait_path, driving_path, out: Path, size: int, device: str,
                  settings: RetargetSettings | None, generator_name: str,
                  progress: ProgressFn | None,
                  on_provider: Callable[[ProviderInfo], None] | None,
                  max_frames: int = 0) -> RenderReport:
    from puppet.outputs.video_writer import VideoWriter
    from puppet.sources.video import VideoFile
    from puppet.tracking.mediapipe_tracker import FaceTracker

    portrait = load_portrait(portrait_path, size)
    video = VideoFile(driving_path)
    try:
        generator = generators.create(generator_name, device)
        if on_provider is not None:
            on_provider(generator.info)
        w, h = portrait.size
        with FaceTracker(video=True) as tracker:
            writer = VideoWriter(out, w, h, video.rate)
            try:
                total = min(video.frame_count, max_frames) if max_frames else video.frame_count
                report = render_performance(portrait, track_video(video, tracker, max_frames),
                                            writer, generator, settings, total, progress)
                writer.close()
            except BaseException:
                writer.abort()
                raise
    finally:
        video.close()
    report.video_fps = video.fps
    return report
