"""The pipeline: driver frames -> tracking -> retargeting -> generator -> compose -> outputs.

This is the one module that knows about threads, queues and timing.  Offline
rendering (``puppet render``, ``puppet demo``) runs every stage in a thread of
its own, with short queues between them:

    [decode] -> [track] -> [retarget + generate] -> [compose] -> [encode]

onnxruntime, OpenCV, MediaPipe and PyAV release the GIL while they work, so the
stages really overlap.  Frames are composed straight in the encoder's pixel
format (I420) into a few reused buffers that already hold the portrait: only
the face crop's square is written per frame, and no stage copies or converts a
whole frame.  Every stage's time per frame is kept (:class:`StageTimes`), for
``puppet bench``.
"""
from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from puppet.compose import Compositor, FramePool
from puppet.errors import PuppetError
from puppet.generators import base as generators
from puppet.generators.runtime import ProviderInfo
from puppet.generators.warp.features import lip_colour
from puppet.motion.retarget import (
    DriverView,
    Motion,
    Retargeter,
    RetargetSettings,
    filter_parameters,
    neutral_motion,
)
from puppet.portrait import DEFAULT_SIZE, Portrait, load_portrait
from puppet.threads import join
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face
from puppet.tracking.smoothing import OneEuroFilter, smooth_both_ways

STAGES = ("decode", "track", "retarget", "generate", "compose", "encode")
# the render's threads and the stages' time each spends: "generate" is its two halves, the
# first (eyes, mouth; the field on the CPU) in the retargeting thread, the drawing after it
THREADS = {"source": (("decode", 1),), "track": (("track", 1),),
           "retarget": (("retarget", 1), ("generate-first-half", 1)),
           "generate": (("generate", 1), ("generate-first-half", -1)),
           "compose": (("compose", 1),), "encode": (("encode", 1),)}
QUEUE_SIZE = 4  # frames waiting between two stages
# a render smooths each driver frame's landmarks with the frames this far after it known
# (see SmoothAhead): 8 frames are about six of the filter's time constants at 30 fps
SMOOTH_AHEAD = 8
# and turns the head by its skull points smoothed with this many times the cut-off: the
# head's turn is fitted to 30 points at once, which averages out most of each point's
# tracking noise, so less smoothing keeps it nearly as steady and follows small turns more
# closely.  Judge over 30 pairs: pose 0.887 -> 0.896, expression 0.873 -> 0.874, jitter
# 1.259 -> 1.276.  The tracked points themselves, not smoothed, gave less pose and much more
# jitter (on 10 pairs: pose +0.012 against +0.015 at 2.4, jitter +0.145 against +0.035)
HEAD_CUTOFF = 2.4
# what a render keeps of a driver's picture around its lips, in mouth widths on each side
# (the inside of the mouth and the lips' colour are all it takes from it)
MOUTH_MARGIN = 0.25


@dataclass(frozen=True)
class DriverFrame:
    """One step of a performance: the driver's face (None when none was seen).

    ``neutral``, when set, is a face to take as the driver's neutral before this
    frame (a recorded performance replays the live engine's calibrations).
    ``image`` is the driver's picture when there is one (``channels`` says its
    order): the inside of the driver's mouth is carried over from it.
    """

    index: int
    time: float
    face: Face | None
    neutral: Face | None = None
    image: np.ndarray | None = field(default=None, compare=False, repr=False)
    channels: str = "rgb"
    # where ``image``'s top left corner lies in the driver's frame (x, y): a render keeps
    # only the part around the mouth (see :func:`mouth_picture`)
    origin: tuple[float, float] = (0.0, 0.0)
    # the face as tracked, where ``face`` has been smoothed already (see
    # :class:`SmoothAhead`): it says where the mouth is in ``image``
    seen: Face | None = field(default=None, compare=False, repr=False)
    # and its skull points (``lm.RIGID``) smoothed less, which turn the head
    head: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass
class StageTimes:
    """Milliseconds spent per frame in each stage (safe to add to from several threads)."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, ms: float) -> None:
        self.samples.setdefault(stage, []).append(ms)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage, values in self.samples.items():
            arr = np.asarray(values)
            out[stage] = {"median_ms": float(np.median(arr)),
                          "p95_ms": float(np.percentile(arr, 95)),
                          "mean_ms": float(arr.mean()), "frames": int(arr.size)}
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
    generator_mode: str = ""  # how the model ran: io-binding, static-shapes, cuda-graph...
    generator_note: str = ""  # why not faster, where it could not be (e.g. no CUDA graph)
    first_frame_seconds: float = 0.0  # from the start until the first frame was written
    sound: bool = False  # the output has a sound track
    sound_note: str = ""  # why the driver's sound could not go along, if it could not
    portrait_faces: int = 1  # faces in the portrait (a group photo: several)
    face_number: int = 1  # the one that moved, counted from the left
    small_face: bool = False  # the portrait's face is small in it (Portrait.face_is_small)
    track_threads: int = 1  # trackers that tracked the driving video's chunks at once

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_fps(self) -> float:
        """Frames per second after the first one (without the start-up)."""
        rest = self.seconds - self.first_frame_seconds
        return (self.frames - 1) / rest if self.frames > 1 and rest > 0 else self.fps


ProgressFn = Callable[[int, int, float], None]  # (frames done, total or 0, fps so far)


# ---------------------------------------------------------------------------
# threads and queues


class _Stop(Exception):
    pass


_END = object()


class Several(list):
    """What a pipeline step returns to hand on several items, or none, for one it took
    (a step that holds items back: see :class:`SmoothAhead`).  Such a step may also have a
    ``flush()`` that gives what it still holds once its input has ended."""


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stop()
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


def run_pipeline(source: Iterable[Any], steps: list[tuple[str, Callable[[Any], Any]]],
                 sink: Callable[[Any], None], queue_size: int = QUEUE_SIZE,
                 stop: threading.Event | None = None) -> None:
    """Run ``source`` -> each step -> ``sink``, every step in a thread of its own.

    The source is iterated in its own thread too; the sink runs in the calling
    thread (so a progress callback and Ctrl+C behave as usual).  Items keep
    their order; a step hands on one item for each it takes, or a :class:`Several`.
    The first error in any stage stops them all and is raised here.  Setting
    ``stop`` from outside ends the run early (without error).
    """
    stop = stop or threading.Event()
    errors: list[BaseException] = []
    queues: list[queue.Queue] = [queue.Queue(maxsize=queue_size) for _ in range(len(steps) + 1)]

    def fail(exc: BaseException) -> None:
        errors.append(exc)
        stop.set()

    def feed() -> None:
        try:
            for item in source:
                _put(queues[0], item, stop)
            _put(queues[0], _END, stop)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            fail(exc)

    def work(step: Callable[[Any], Any], q_in: queue.Queue, q_out: queue.Queue) -> None:
        try:
            while True:
                item = _get(q_in, stop)
                if item is _END:
                    for out in getattr(step, "flush", tuple)():
                        _put(q_out, out, stop)
                    _put(q_out, _END, stop)
                    return
                out = step(item)
                if isinstance(out, Several):
                    for one in out:
                        _put(q_out, one, stop)
                else:
                    _put(q_out, out, stop)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001
            fail(exc)

    threads = [threading.Thread(target=feed, name="puppet-source", daemon=True)]
    for i, (name, step) in enumerate(steps):
        threads.append(threading.Thread(target=work, args=(step, queues[i], queues[i + 1]),
                                        name=f"puppet-{name}", daemon=True))
    for t in threads:
        t.start()
    try:
        while True:
            item = _get(queues[-1], stop)
            if item is _END:
                break
            sink(item)
    except _Stop:
        pass
    finally:
        stop.set()  # after a normal end every thread is done already
        for t in threads:
            join(t, 5)
    if errors:
        raise errors[0]


def timed(iterable: Iterable[Any], times: StageTimes, stage: str) -> Iterator[Any]:
    """Iterate, adding the time each item took to ``stage``."""
    it = iter(iterable)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        times.add(stage, (time.perf_counter() - t0) * 1000.0)
        yield item


# ---------------------------------------------------------------------------
# stages


class FrameRenderer:
    """Retarget + generate + compose for one portrait: driver face in, output frame out.

    ``fmt`` is the format of the frames :meth:`draw` returns (``bgr24`` or
    ``yuv420p``, see :class:`puppet.compose.Compositor`).
    """

    def __init__(self, portrait: Portrait, generator, settings: RetargetSettings | None = None,
                 fmt: str = "bgr24"):
        self.portrait = portrait
        self.generator = generator
        self.retargeter = Retargeter(portrait.face, settings)
        self.prepared = generator.prepare(portrait)
        self.compositor = Compositor(portrait.image, self.prepared.box, fmt=fmt)
        self.last_motion: Motion = neutral_motion(portrait.face)
        self.driver_lips: np.ndarray | None = None

    def calibrate(self, face: Face, image: np.ndarray | None = None,
                  channels: str = "rgb", origin: tuple[float, float] = (0.0, 0.0),
                  seen: Face | None = None) -> None:
        """Take this driver face (and picture) as the neutral.  ``origin``: where the
        picture's top left corner lies in the face's frame, if it is a part of it;
        ``seen``: the face as tracked in the picture, where ``face`` is smoothed."""
        self.retargeter.calibrate(face)
        self.driver_lips = None
        if image is not None:
            lips = lip_colour(image, _in_picture((seen or face).landmarks, origin)[:, :2])
            self.driver_lips = lips[::-1].copy() if channels == "rgb" else lips

    def motion_for(self, face: Face | None, t: float | None, image: np.ndarray | None = None,
                   channels: str = "rgb", origin: tuple[float, float] = (0.0, 0.0),
                   seen: Face | None = None, head: np.ndarray | None = None) -> Motion:
        """The motion for a driver face (None: hold the last good pose), smoothed by the
        retargeter at time ``t`` (None: as it is), the head turned by ``head``'s points
        where given.  With the driver's picture (or its part from ``origin`` on, where
        the face is ``seen``, if not where ``face`` says), the inside of its mouth is
        carried over too."""
        if face is None:
            return self.last_motion
        if not self.retargeter.calibrated:
            self.calibrate(face, image, channels, origin, seen)
        view = None
        if image is not None:
            view = DriverView(image, _in_picture((seen or face).landmarks, origin),
                              self.driver_lips, channels)
        self.last_motion = self.retargeter.motion(face, t, view, head)
        return self.last_motion

    def motion_for_frame(self, dframe: DriverFrame) -> Motion:
        """The motion for a driver frame; one smoothed already (:class:`SmoothAhead`)
        is not smoothed again."""
        if dframe.neutral is dframe.face and dframe.face is not None:
            # its own picture too
            self.calibrate(dframe.face, dframe.image, dframe.channels, dframe.origin,
                           dframe.seen)
        elif dframe.neutral is not None:
            self.calibrate(dframe.neutral)
        return self.motion_for(dframe.face, None if dframe.seen is not None else dframe.time,
                               dframe.image, dframe.channels, dframe.origin, dframe.seen,
                               dframe.head)

    def crop_for(self, motion: Motion) -> np.ndarray | None:
        """The generator's crop for this motion; None for the neutral pose (the portrait)."""
        return None if motion.neutral else self.generator.render(self.prepared, motion)

    def begin_crop(self, motion: Motion) -> tuple[Motion, Any] | None:
        """:meth:`crop_for` in two halves, for two threads: this one does the frame's work
        that draws no pixels (where the generator splits it: ``begin``/``finish``), and
        :meth:`finish_crop` draws."""
        if motion.neutral:
            return None
        begin = getattr(self.generator, "begin", None)
        return motion, (begin(self.prepared, motion) if begin is not None else None)

    def finish_crop(self, begun: tuple[Motion, Any] | None) -> np.ndarray | None:
        if begun is None:
            return None
        motion, token = begun
        if token is None:
            return self.generator.render(self.prepared, motion)
        return self.generator.finish(self.prepared, token)

    def draw(self, motion: Motion, out: np.ndarray | None = None
             ) -> tuple[np.ndarray, float, float]:
        """The output frame, and the milliseconds spent generating and composing.

        ``out``: a frame to draw into (see :meth:`Compositor.paste`); a new one otherwise.
        """
        t0 = time.perf_counter()
        crop = self.crop_for(motion)
        t1 = time.perf_counter()
        frame = self.compositor.paste(crop, out)
        t2 = time.perf_counter()
        return frame, (t1 - t0) * 1000.0, (t2 - t1) * 1000.0


class SmoothAhead:
    """A render's smoothing of the driver's landmarks, with no lag: a pipeline step that
    holds each driver frame until the :data:`SMOOTH_AHEAD` frames after it are tracked,
    then hands it on with its face smoothed both ways (see
    :func:`~puppet.tracking.smoothing.smooth_both_ways`) by the filter the live engine
    runs forward only (the same cut-off and speed response, from the ``smoothing``
    setting).

    Live, a face can only be smoothed by the faces before it, and the One Euro filter
    lags a moving head by about its time constant (50 ms at the default smoothing): the
    painted head turned and the mouth opened that much after the driver's.  A render
    knows what comes next.  Smoothed both ways, the 30 portrait x clip pairs of
    ``bench/quality.py`` followed the driver more closely (the judge's head pose 0.876 ->
    0.887, expression 0.862 -> 0.873), with a little less jitter (1.273 -> 1.259).

    A new neutral (another person followed, or a performance's recalibration) starts the
    smoothing afresh: the frames before it are handed on smoothed with what came before
    only.  Frames without a face pass through as they are, in their place."""

    def __init__(self, min_cutoff: float, beta: float, ahead: int = SMOOTH_AHEAD):
        self.min_cutoff, self.beta, self.ahead = min_cutoff, beta, max(1, ahead)
        self.head_cutoff = HEAD_CUTOFF * min_cutoff  # the skull's points
        self._forward = OneEuroFilter(min_cutoff, beta)
        self._head = OneEuroFilter(self.head_cutoff, beta)
        self._held: deque[tuple[DriverFrame, tuple[np.ndarray, np.ndarray] | None]] = deque()

    @classmethod
    def for_settings(cls, settings: RetargetSettings | None) -> SmoothAhead | None:
        """The step for these retargeting settings; None where they ask for no smoothing."""
        settings = settings or RetargetSettings()
        if settings.smoothing <= 0.0:
            return None
        return cls(*filter_parameters(settings.smoothing))

    def __call__(self, dframe: DriverFrame) -> Several:
        out = Several()
        if dframe.neutral is not None:  # measured from a new neutral: a fresh start
            out.extend(self.flush())
            self._forward.reset()
            self._head.reset()
        forward = None
        if dframe.face is not None:
            scale = _filter_scale(dframe.face)
            forward = (self._forward(dframe.face.landmarks, dframe.time, scale=scale),
                       self._head(dframe.face.landmarks[lm.RIGID], dframe.time, scale=scale))
        self._held.append((dframe, forward))
        while len(self._held) > self.ahead:
            out.append(self._hand_on())
        return out

    def flush(self) -> Several:
        """The frames still held (the input has ended, or a new neutral comes)."""
        out = Several()
        while self._held:
            out.append(self._hand_on())
        return out

    def _hand_on(self) -> DriverFrame:
        dframe, forward = self._held.popleft()
        if forward is None or dframe.face is None:
            return dframe
        faces = [dframe.face] + [d.face for d, f in self._held if d.face is not None]
        times = [dframe.time] + [d.time for d, f in self._held if d.face is not None]
        scales = [_filter_scale(f) for f in faces]
        smoothed = smooth_both_ways(forward[0], [f.landmarks for f in faces], times, scales,
                                    self.min_cutoff, self.beta)
        head = smooth_both_ways(forward[1], [f.landmarks[lm.RIGID] for f in faces], times,
                                scales, self.head_cutoff, self.beta)
        face = Face(smoothed.astype(np.float32), dframe.face.confidence,
                    dframe.face.image_size)
        neutral = face if dframe.neutral is dframe.face else dframe.neutral
        return replace(dframe, face=face, neutral=neutral, seen=dframe.face, head=head)


def _filter_scale(face: Face) -> float:
    """The size the filter's speeds are measured in (as the retargeter's own filter)."""
    return max(float(face.pose.scale), 1.0)


def _in_picture(points: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Landmarks moved into a part of the picture whose top left corner is ``origin``."""
    if origin == (0.0, 0.0):
        return points
    return points - np.array([origin[0], origin[1], 0.0], dtype=points.dtype)


def mouth_picture(image: np.ndarray, face: Face | None
                  ) -> tuple[np.ndarray | None, tuple[float, float]]:
    """The part of a driver's picture a render needs, and where its top left corner lies:
    the lips with :data:`MOUTH_MARGIN` around them, copied out, so that the whole frame
    is let go as soon as it is tracked.  A render takes only the inside of the mouth and
    the lips' colour from the driver's picture, and the frames waiting between the render's
    stages would otherwise hold the whole of each (a 4K frame is 25 MB).  No face: nothing
    is needed."""
    if face is None:
        return None, (0.0, 0.0)
    lips = face.landmarks[lm.LIPS, :2]
    lo, hi = lips.min(axis=0), lips.max(axis=0)
    pad = MOUTH_MARGIN * float(hi[0] - lo[0]) + 4.0
    h, w = image.shape[:2]
    x0 = int(np.clip(np.floor(lo[0] - pad), 0, w - 1))
    y0 = int(np.clip(np.floor(lo[1] - pad), 0, h - 1))
    x1 = int(np.clip(np.ceil(hi[0] + pad), x0 + 1, w))
    y1 = int(np.clip(np.ceil(hi[1] + pad), y0 + 1, h))
    return image[y0:y1, x0:x1].copy(), (float(x0), float(y0))


def track_step(tracker, times: StageTimes, driver_face: int | None = None
               ) -> Callable[[Any], DriverFrame]:
    """The tracking stage: an RGB :class:`~puppet.sources.video.Frame` in, a DriverFrame out.

    Where the tracker starts following another face (``FaceTracker.switches``: the person
    in front left and someone else is in view, or they came back), that face becomes the
    neutral: motion measured from one person's neutral face means nothing on another's.
    ``driver_face``: in a video of several people, the one who drives, counted from the
    left where faces first appear (by default the tracker's choice, the largest)."""
    seen = [getattr(tracker, "switches", 0)]
    choosing = [driver_face is not None]

    def track(frame) -> DriverFrame:
        t0 = time.perf_counter()
        face = tracker.track_rgb(frame.image)
        if face is not None and choosing[0] and _choose_driver(tracker, frame.image,
                                                                int(driver_face)):
            choosing[0] = False
            face = tracker.track_rgb(frame.image)  # this very frame: the chosen face
        times.add("track", (time.perf_counter() - t0) * 1000.0)
        switches = getattr(tracker, "switches", 0)
        neutral = face if face is not None and switches != seen[0] else None
        seen[0] = switches
        image, origin = mouth_picture(frame.image, face)
        return DriverFrame(frame.index, frame.time, face, neutral=neutral, image=image,
                           origin=origin)

    return track


def chunked_track_step(tracking) -> Callable[[Any], DriverFrame]:
    """The tracking stage where :class:`~puppet.tracking.chunked.ChunkedTracking` tracks
    the video in chunks on other threads: each frame's face is taken from there (the
    trackers' own times go to the "track" stage); a change of the face followed makes the
    new face the neutral, as in :func:`track_step`."""

    def track(frame) -> DriverFrame:
        face, new = tracking.face(frame.index)
        image, origin = mouth_picture(frame.image, face)
        return DriverFrame(frame.index, frame.time, face, neutral=face if new else None,
                           image=image, origin=origin)

    return track


def tracking_workers(track_threads: int | None, total: int, fps: float,
                     driver_face: int | None = None) -> int:
    """How many trackers a render of ``total`` frames runs at once: ``track_threads``
    (None: :func:`~puppet.tracking.chunked.default_workers`), but one where the video's
    length is unknown, where it is a single chunk, or where ``driver_face`` chooses whom
    to follow (the tracker that chose keeps following them)."""
    from puppet.tracking import chunked

    workers = chunked.default_workers() if track_threads is None else max(1, track_threads)
    if workers <= 1 or total <= 0 or driver_face is not None:
        return 1
    return min(workers, -(-total // chunked.chunk_frames(fps)))


def open_tracking(held: contextlib.ExitStack, video, total: int, times: StageTimes,
                  track_threads: int | None, first: int = 0, exact: bool = False,
                  driver_face: int | None = None) -> tuple[Callable[[Any], DriverFrame], int]:
    """The tracking stage for a render (or decode + track alone) of ``video``'s frames from
    ``first`` on, ``total`` of them (``exact``: no more; otherwise perhaps an estimate):
    (the stage, how many trackers it runs).  Its tracker, or its chunks' trackers (see
    :func:`tracking_workers`), are closed with ``held``."""
    from puppet.tracking.chunked import ChunkedTracking
    from puppet.tracking.mediapipe_tracker import FaceTracker

    workers = tracking_workers(track_threads, total, video.fps, driver_face)
    if workers > 1:  # the video's chunks tracked at once, ahead of the render
        tracking = held.enter_context(ChunkedTracking(
            video.path, total, video.fps, workers, first=first, times=times, exact=exact))
        return chunked_track_step(tracking), workers
    tracker = held.enter_context(FaceTracker(video=True))
    return track_step(tracker, times, driver_face), 1


def _start_frame(video, start: float) -> tuple[int, float]:
    """(index, time) of the video's first frame at ``start`` seconds or later (within half
    a frame), from the packets' time stamps (nothing decoded); an error past its end."""
    stamps = video.frame_times() or [i / video.fps for i in range(video.frame_count)]
    for i, t in enumerate(stamps):
        if t >= start - 0.5 / video.fps:
            return i, t
    length = stamps[-1] + 1 / video.fps if stamps else 0.0
    raise PuppetError(f"the driving video {video.path} is {length:.1f} s long, so it has "
                      f"nothing from {start:g} s on",
                      "give a --start within the video")


def _from_frame(frames: Iterable[Any], skip: int, t0: float) -> Iterator[Any]:
    """The frames from number ``skip`` on, numbered and timed from there."""
    from puppet.sources.video import Frame

    for frame in frames:
        if frame.index >= skip:
            yield Frame(frame.index - skip, frame.time - t0, frame.image)


def _choose_driver(tracker, rgb: np.ndarray, number: int) -> bool:
    """Have ``tracker`` follow face ``number`` (from the left) of the frame (RGB) from its
    next call on; False where this frame's faces cannot be told apart (none found as a
    still: the next frame is tried), an error where the frame has no face ``number``."""
    import cv2

    from puppet.tracking.mediapipe_tracker import find_faces

    try:
        faces = find_faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "the driving video")
    except PuppetError:
        return False
    if number > len(faces):
        shows = "one face" if len(faces) == 1 else f"{len(faces)} faces"
        raise PuppetError(f"the driving video shows {shows} where a face first appears, so "
                          f"there is no face {number}",
                          f"choose a face from 1 to {len(faces)} with --driver-face, "
                          f"counted from the left")
    x0, y0, x1, y1 = faces[number - 1].bbox
    tracker.follow_at((x0 + x1) / 2, (y0 + y1) / 2)
    return True


def measure_tracking(video, max_frames: int | None = None,
                     stop: threading.Event | None = None, track_threads: int | None = 1
                     ) -> tuple[list[DriverFrame], float, StageTimes]:
    """Decode + track a video (at most ``max_frames`` frames) with nothing after it, in
    the same overlapping threads as a render: (driver frames, seconds, times).
    What a render's speed is measured against (``puppet bench``), so with the same
    ``track_threads`` as the render (see :func:`open_tracking`).  The frames keep their
    faces, not their pictures: a clip's pictures held to the end would count in the
    memory a render is measured to take."""
    times = StageTimes()
    dframes: list[DriverFrame] = []
    source = itertools.islice(video.frames("rgb24"), max_frames)
    total = min(video.frame_count, max_frames) if max_frames else video.frame_count
    exact = bool(max_frames) and max_frames < video.frame_count
    with contextlib.ExitStack() as held:
        step, _ = open_tracking(held, video, total, times, track_threads, exact=exact)
        start = time.perf_counter()
        run_pipeline(timed(source, times, "decode"), [("track", step)],
                     lambda d: dframes.append(replace(d, image=None)), stop=stop)
        seconds = time.perf_counter() - start
    return dframes, seconds, times


def render_frames(portrait: Portrait, source: Iterable[Any],
            driver_steps: list[tuple[str, Callable[[Any], Any]]], writer, generator,
            settings: RetargetSettings | None, total: int, progress: ProgressFn | None,
            times: StageTimes, stop: threading.Event | None = None,
            frame_times: bool = False) -> RenderReport:
    """The render pipeline: ``source`` and ``driver_steps`` (each in its own thread) make
    DriverFrames; then retarget (with the generator's first half), generate, compose (into
    pooled I420 frames) and encode (in the calling thread).  Stage times go to ``times``.
    ``frame_times``: each frame is written at its driver frame's time (a variable-rate
    clip)."""
    renderer = FrameRenderer(portrait, generator, settings, fmt="yuv420p")
    pool = FramePool(renderer.compositor, QUEUE_SIZE + 3)
    stop = stop or threading.Event()
    counters = {"missing": 0, "written": 0}
    first: list[float] = []

    # retargeting with the generator's first half, then its second half: two threads, so
    # that one frame is drawn while the next one's field, eyes and mouth are made
    # (each item carries its driver frame's time along to the encoder)
    def retarget_one(dframe: DriverFrame, smoothing_ms: float) -> tuple[Any, float, float]:
        if dframe.face is None:
            counters["missing"] += 1
        t0 = time.perf_counter()
        motion = renderer.motion_for_frame(dframe)
        t1 = time.perf_counter()
        begun = renderer.begin_crop(motion)
        begin_ms = (time.perf_counter() - t1) * 1000.0
        times.add("retarget", smoothing_ms + (t1 - t0) * 1000.0)
        times.add("generate-first-half", begin_ms)  # in this thread; see THREADS
        return begun, begin_ms, dframe.time

    # the driver's faces are smoothed with the frames after them known (SmoothAhead), in
    # the retargeting thread: it holds each frame back until those are tracked
    smooth = SmoothAhead.for_settings(settings)

    def retarget(dframe: DriverFrame) -> Several | tuple[Any, float, float]:
        if smooth is None:
            return retarget_one(dframe, 0.0)
        t0 = time.perf_counter()
        ready = smooth(dframe)
        ms = (time.perf_counter() - t0) * 1000.0 / max(len(ready), 1)
        return Several(retarget_one(d, ms) for d in ready)

    def flush() -> Several:
        return Several(retarget_one(d, 0.0) for d in smooth.flush()) if smooth else Several()

    retarget.flush = flush  # type: ignore[attr-defined]

    def generate(item: tuple[Any, float, float]) -> tuple[np.ndarray | None, float]:
        begun, begin_ms, t = item
        t0 = time.perf_counter()
        crop = renderer.finish_crop(begun)
        times.add("generate", begin_ms + (time.perf_counter() - t0) * 1000.0)
        return crop, t

    def compose(item: tuple[np.ndarray | None, float]) -> tuple[np.ndarray, float]:
        crop, t = item
        while True:  # a free buffer, or stop
            try:
                frame = pool.take(timeout=0.1)
                break
            except queue.Empty:
                if stop.is_set():
                    raise _Stop() from None
        t0 = time.perf_counter()
        renderer.compositor.paste(crop, frame)
        times.add("compose", (time.perf_counter() - t0) * 1000.0)
        return frame, t

    start = time.perf_counter()

    def encode(item: tuple[np.ndarray, float]) -> None:
        frame, t = item
        t0 = time.perf_counter()
        if frame_times:
            writer.write(frame, t)
        else:
            writer.write(frame)
        times.add("encode", (time.perf_counter() - t0) * 1000.0)
        pool.give_back(frame)
        counters["written"] += 1
        if not first:
            first.append(time.perf_counter() - start)
        if progress is not None:
            elapsed = time.perf_counter() - start
            done = counters["written"]
            progress(done, total, done / elapsed if elapsed > 0 else 0.0)

    steps = [*driver_steps, ("retarget", retarget), ("generate", generate), ("compose", compose)]
    run_pipeline(source, steps, encode, stop=stop)
    seconds = time.perf_counter() - start
    runner = getattr(generator, "runner", None)
    return RenderReport(output=Path(getattr(writer, "path", "")), frames=counters["written"],
                        video_fps=0.0, seconds=seconds, provider=generator.info,
                        frames_without_face=counters["missing"], times=times,
                        generator_mode=str(getattr(generator, "mode",
                                                   getattr(runner, "mode", ""))),
                        generator_note=str(getattr(runner, "note", "")),
                        first_frame_seconds=first[0] if first else 0.0)


def render_performance(portrait: Portrait, driver: Iterable[tuple[DriverFrame, float]],
                       writer, generator, settings: RetargetSettings | None = None,
                       total: int = 0, progress: ProgressFn | None = None) -> RenderReport:
    """Render every driver frame to ``writer``; the stages run in overlapping threads.

    ``driver`` yields (DriverFrame, milliseconds it took to make); those times
    are kept as the "track" stage.
    """
    times = StageTimes()

    def frames() -> Iterator[DriverFrame]:
        for dframe, ms in driver:
            times.add("track", ms)
            yield dframe

    return render_frames(portrait, frames(), [], writer, generator, settings, total, progress,
                         times)


def performance_driver(perf) -> Iterator[tuple[DriverFrame, float]]:
    """A recorded performance as driver frames (frame i at its recorded capture time)."""
    for i, t, face, neutral in perf.frames():
        yield DriverFrame(i, t, face, neutral), 0.0


def render_file(portrait_path: str | Path, driving_path: str | Path, output_path: str | Path,
                size: int = DEFAULT_SIZE, device: str = "auto",
                settings: RetargetSettings | None = None, generator_name: str = "warp",
                progress: ProgressFn | None = None,
                on_provider: Callable[[ProviderInfo], None] | None = None,
                generator=None, max_frames: int = 0, face: int | None = None,
                driver_face: int | None = None, start: float = 0.0,
                framing: str = "whole", track_threads: int | None = None) -> RenderReport:
    """``puppet render``: a portrait driven by a video or by a recorded performance file
    (see :mod:`puppet.sources.performance`), written to an H.264 MP4; the video's or the
    performance's sound goes into the MP4 as AAC.  ``face``: which face of a group
    portrait moves, counted from the left (default: the largest); ``driver_face``: which
    person of a driving video drives, counted from the left where faces first appear
    (default: the largest; not for a performance, which holds one face); ``framing``:
    the whole portrait, or "head" and shoulders around that face.

    ``generator``: one made already (``puppet bench`` passes its own); by default
    ``generator_name`` is created on ``device``.  ``max_frames`` > 0 renders only the
    driving video's (or performance's) first frames; ``start`` (seconds) begins at the
    driving video's frame nearest that time (its sound too), which is then frame 0.
    ``track_threads``: trackers that track a driving video's chunks at once (see
    :func:`tracking_workers`; None: one below 8 cores).
    """
    from puppet.outputs.video_writer import VideoWriter, check_output_path
    from puppet.sources.performance import is_performance_file, read_performance

    out = check_output_path(output_path, (portrait_path, driving_path))
    if is_performance_file(driving_path):
        if driver_face is not None:
            raise PuppetError("a performance holds one face, so there is no face to choose in it",
                              "leave out --driver-face")
        if start:
            raise PuppetError("--start is for a driving video, not a performance",
                              "leave out --start")
        perf = read_performance(driving_path)
        portrait = load_portrait(portrait_path, size, face, framing)
        if generator is None:
            generator = generators.create(generator_name, device)
        if on_provider is not None:
            on_provider(generator.info)
        w, h = portrait.size
        total = min(perf.frame_count, max_frames) if max_frames else perf.frame_count
        # (the sound is cut where the video ends)
        writer = VideoWriter(out, w, h, perf.fps, audio=perf.audio)
        try:
            report = render_performance(portrait,
                                        itertools.islice(performance_driver(perf), total),
                                        writer, generator, settings, total, progress)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        what, fix = "performance", "record a performance where a face is seen from the front"
        report.video_fps = float(perf.fps)
        report.sound = writer.has_sound
        report.portrait_faces, report.face_number = portrait.faces, portrait.face_number
        report.small_face = portrait.face_is_small
    else:
        report = _render_video(portrait_path, driving_path, out, size, device, settings,
                               generator_name, progress, on_provider, generator, max_frames,
                               face, driver_face, start, framing, track_threads)
        what, fix = "driving video", "use a video where a face is seen from the front"
    if report.frames_without_face == report.frames:
        out.unlink(missing_ok=True)
        raise PuppetError(f"no face was found in any frame of the {what} {driving_path}", fix)
    return report


def _render_video(portrait_path, driving_path, out: Path, size: int, device: str,
                  settings: RetargetSettings | None, generator_name: str,
                  progress: ProgressFn | None,
                  on_provider: Callable[[ProviderInfo], None] | None,
                  generator=None, max_frames: int = 0, face: int | None = None,
                  driver_face: int | None = None, start: float = 0.0,
                  framing: str = "whole", track_threads: int | None = None) -> RenderReport:
    from puppet.outputs.video_writer import VideoWriter
    from puppet.sources.video import VideoFile, open_sound

    portrait = load_portrait(portrait_path, size, face, framing)
    video = VideoFile(driving_path)
    sound = None
    try:
        if generator is None:
            generator = generators.create(generator_name, device)
        if on_provider is not None:
            on_provider(generator.info)
        w, h = portrait.size
        times = StageTimes()
        frames = video.frames("rgb24")
        total = video.frame_count
        skip, t0 = _start_frame(video, start) if start > 0 else (0, 0.0)
        if skip:
            frames = _from_frame(frames, skip, t0)
            total = max(1, total - skip) if total else 0
        exact = False  # whether the render ends at ``total`` (not at the video's end)
        if max_frames:
            frames = itertools.islice(frames, max_frames)
            exact = bool(total) and max_frames < total
            total = min(total, max_frames) if total else max_frames
        # the driver's voice goes along, decoded as the picture needs it
        sound, sound_note = open_sound(driving_path)
        if sound is not None and skip:
            sound.seek(int(round(t0 * sound.format.samplerate)))  # sample 0 at frame 0
        # a clip with a variable frame rate (a phone's, in dim light) keeps its frames'
        # times: spread evenly, its mouth would drift away from its voice
        variable = not video.constant_rate()
        with contextlib.ExitStack() as held:
            step, workers = open_tracking(held, video, total, times, track_threads, skip,
                                          exact, driver_face)
            writer = VideoWriter(out, w, h, video.rate, audio=sound,
                                 time_base=video.time_base if variable else None)
            try:
                report = render_frames(portrait, timed(frames, times, "decode"),
                                       [("track", step)], writer,
                                       generator, settings, total, progress, times,
                                       frame_times=variable)
                writer.close()
            except BaseException:
                writer.abort()
                raise
        report.track_threads = workers
    finally:
        video.close()
        if sound is not None:
            sound.close()
    report.video_fps = video.fps
    report.sound = writer.has_sound
    report.sound_note = sound_note or (sound.error if sound is not None else "")
    report.portrait_faces, report.face_number = portrait.faces, portrait.face_number
    report.small_face = portrait.face_is_small
    return report
