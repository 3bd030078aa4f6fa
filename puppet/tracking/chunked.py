"""Tracking a driving video in chunks, several at once, for a render on many cores.

One tracker follows a video one frame after another, at about 130 to 200 frames a second
on one core (each frame starts from where the last one's face was), so it caps a render
there however many cores and however fast a GPU the machine has.  :class:`ChunkedTracking`
cuts the video into chunks of ``CHUNK_SECONDS`` and tracks them in ``workers`` threads, each
with a decoder and a tracker of its own (PyAV and MediaPipe give up Python's GIL for their
work); each chunk is tracked from ``WARMUP_SECONDS`` before its first frame, so that its
tracker has settled into the track by then.  The render takes the faces in order
(:meth:`face`); the workers run at most ``AHEAD`` chunks each ahead of it, so the faces
held stay few.

The faces are those of one tracker but for the tracker's own noise: on a sample clip
(1008 frames, four chunks, two trackers) the first chunk's were a single tracker's, and
in the others a frame's landmarks were on average 0.06 px from a single tracker's
(median over the frames; at most 0.31 px), its farthest landmark 0.29 px (median). Where
the face followed changes (a face found away from where the last one was, as
:class:`~puppet.tracking.mediapipe_tracker.FaceTracker` counts a switch), :meth:`face`
says so, across chunks too.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from puppet.threads import join
from puppet.tracking.face import Face

CHUNK_SECONDS = 10.0
WARMUP_SECONDS = 1.0
AHEAD = 2  # chunks each worker may run ahead of the one the render is in
MAX_WORKERS = 4


def chunk_frames(fps: float) -> int:
    """Frames in a chunk of a video at ``fps``."""
    return max(1, int(round(CHUNK_SECONDS * fps)))


def default_workers(cores: int | None = None) -> int:
    """Trackers to run at once: 1 below 8 cores (there the other stages keep every core
    busy and a second tracker only takes from them), else a quarter of the cores, at most
    ``MAX_WORKERS``."""
    cores = cores or os.cpu_count() or 1
    return 1 if cores < 8 else min(MAX_WORKERS, cores // 4)


class TrackingStopped(Exception):
    """:meth:`ChunkedTracking.face` was waiting when the tracking was closed."""


class ChunkedTracking:
    """Tracks frames ``first`` to ``first + total - 1`` of the video at ``path`` in chunks,
    in ``workers`` threads; :meth:`face` hands each frame's face over, in order (frame
    numbers from ``first``).  ``total`` may be an estimate (a video's frame count often
    is): then the last chunk runs to the end of the video; ``exact``: it ends at ``total``
    (a render of the video's first frames).  ``times``: each tracked frame's milliseconds
    go to its "track" stage (a :class:`puppet.engine.StageTimes`)."""

    def __init__(self, path: str | Path, total: int, fps: float, workers: int,
                 first: int = 0, times=None, exact: bool = False):
        self.path = str(path)
        self.first = first
        self.total = total
        self.exact = exact
        self.chunk = chunk_frames(fps)
        self.warmup = max(0, int(round(WARMUP_SECONDS * fps)))
        self.count = max(1, -(-max(total, 1) // self.chunk))  # chunks
        self.workers = max(1, min(workers, self.count))
        self.times = times
        self._faces: dict[int, Face | None] = {}
        self._finished: set[int] = set()
        self._taken = 0  # the chunk the render is in
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._last_box: tuple[float, float, float, float] | None = None
        self._threads = [threading.Thread(target=self._work, args=(w,), daemon=True,
                                          name=f"puppet-track-{w}")
                         for w in range(self.workers)]
        for thread in self._threads:
            thread.start()

    # the render's side --------------------------------------------------------
    def face(self, index: int) -> tuple[Face | None, bool]:
        """Frame ``index``'s face (None: none seen), and whether it is another face than
        the one followed before it (so a new neutral).  Call in order."""
        from puppet.tracking.mediapipe_tracker import _boxes_meet

        c = min(index // self.chunk, self.count - 1)
        with self._cond:
            if c > self._taken:
                self._taken = c
                self._cond.notify_all()  # the workers may go further
            while index not in self._faces:
                if self._error is not None:
                    raise self._error
                if c in self._finished:  # the chunk's video ended before this frame
                    break
                if self._stop.is_set():
                    raise TrackingStopped()
                self._cond.wait(0.1)
            face = self._faces.pop(index, None)
        new = False
        if face is not None:
            box = face.bbox
            new = self._last_box is not None and not _boxes_meet(box, self._last_box)
            self._last_box = box
        return face, new

    def close(self) -> None:
        """Stops the workers (they end within a frame) and waits for them."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            join(thread, 10.0)

    def __enter__(self) -> ChunkedTracking:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the workers ------------------------------------------------------------------
    def _work(self, worker: int) -> None:
        try:
            for c in range(worker, self.count, self.workers):
                with self._cond:
                    while c > self._taken + AHEAD * self.workers and not self._stop.is_set():
                        self._cond.wait(0.1)
                if self._stop.is_set():
                    return
                self._track_chunk(c)
        except BaseException as exc:  # noqa: BLE001 - handed to the render, which raises it
            with self._cond:
                if self._error is None:
                    self._error = exc
                self._cond.notify_all()

    def _track_chunk(self, c: int) -> None:
        from puppet.sources.video import VideoFile
        from puppet.tracking.mediapipe_tracker import FaceTracker

        start = c * self.chunk
        if c < self.count - 1:
            end = start + self.chunk
        else:  # the last chunk: to the video's end, unless the render ends before it
            end = self.total if self.exact else None
        begin = max(0, start - self.warmup)
        try:
            with VideoFile(self.path) as video, FaceTracker(video=True) as tracker:
                for frame in video.frames("rgb24", first=self.first + begin):
                    i = frame.index - self.first
                    if (end is not None and i >= end) or self._stop.is_set():
                        break
                    t0 = time.perf_counter()
                    face = tracker.track_rgb(frame.image)
                    if i < start:
                        continue  # the warm-up
                    if self.times is not None:
                        self.times.add("track", (time.perf_counter() - t0) * 1000.0)
                    with self._cond:
                        self._faces[i] = face
                        self._cond.notify_all()
        finally:
            with self._cond:
                self._finished.add(c)
                self._cond.notify_all()
