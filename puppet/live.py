"""The live engine: a camera (or video, or the demo performance) drives a portrait, now.

Threads, each waiting only for the newest piece of work::

    [source] --newest frame--> [track] --newest face--> [render] --> listeners (the window)
                                                                 --> sinks (each its own thread)
    [control]: opening sources, loading portraits, creating generators

Latency first: no stage queues work.  The source keeps only its newest frame;
tracking takes the newest frame there is; rendering takes the newest tracked
face.  Whatever was overtaken is dropped and counted.  Slow work that the user
starts (a new portrait, a new camera, another device) runs on the control
thread, so the caller (the GUI's thread) never waits; the running portrait keeps
moving until the new one is ready, and stays if the new one fails.

Nothing here raises into the engine's threads' callers: failures become
:class:`LiveEvent` s (``on_event``) and the engine's ``state``.  The same engine
runs behind ``puppet live`` (headless) and behind the window.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from puppet.engine import FrameRenderer
from puppet.errors import PuppetError
from puppet.generators import base as generators
from puppet.generators.runtime import ProviderInfo
from puppet.motion.retarget import Retargeter, RetargetSettings, neutral_motion
from puppet.portrait import Portrait, check_framing
from puppet.sources.live import LiveFrame, LiveSource, SourceSpec, open_source, parse_source
from puppet.threads import join
from puppet.tracking.face import Face

LIVE_SIZE = 960  # longest side of the live portrait: the window shows it, latency stays low
MIN_SIZE, MAX_SIZE = 64, 4096  # what set_size takes
LOOKING_AFTER = 0.3  # seconds without a face before the engine says it is looking for one
BUILTIN_PREFIX = "built-in:"
STAGES = ("track", "retarget", "generate", "compose")
CPU_STAGES = ("render_cpu",)  # CPU time of the render thread itself

# engine states
STARTING = "starting"
RUNNING = "running"
LOOKING = "looking for a face"
NO_SOURCE = "no source"
SOURCE_FAILED = "source failed"
ENDED = "ended"
STOPPED = "stopped"

# kinds of events
EVENT_STATE = "state"
EVENT_PORTRAIT = "portrait"
EVENT_PORTRAIT_ERROR = "portrait-error"
EVENT_SOURCE = "source"
EVENT_SOURCE_ERROR = "source-error"
EVENT_SOURCE_ENDED = "source-ended"
EVENT_GENERATOR = "generator"
EVENT_GENERATOR_ERROR = "generator-error"
EVENT_CALIBRATED = "calibrated"
EVENT_OTHER_FACE = "other-face"  # the tracker follows another face: it is the new neutral
EVENT_SINK_ERROR = "sink-error"


@dataclass(frozen=True)
class LiveEvent:
    """Something the user should hear about: a new state, a portrait that loaded or failed,
    a camera that failed ...  ``message`` is one line for the user."""

    kind: str
    message: str
    error: PuppetError | None = None
    value: Any = None  # the state, the Portrait, the SourceSpec, the ProviderInfo ...


@dataclass(frozen=True)
class LiveOutput:
    """One output frame and what made it."""

    frame: np.ndarray  # the whole portrait, BGR uint8; never changed after it is handed on
    capture_time: float  # perf_counter() when its driver frame was captured
    output_time: float  # perf_counter() when it was handed on
    driver: LiveFrame | None  # None for a still (a new portrait shown before any frame)
    face: Face | None  # the driver's face in ``driver``'s picture, None when none was seen
    portrait: Portrait
    state: str
    # the driver's neutral face the motion is measured from (its first face, or the one
    # taken by Calibrate); a new object whenever it changes.  None before the first face
    neutral: Face | None = None

    @property
    def latency_ms(self) -> float:
        return (self.output_time - self.capture_time) * 1000.0


@dataclass(frozen=True)
class LiveStats:
    """How the engine is doing.

    ``stages_ms`` holds the median wall-clock milliseconds per stage; ``cpu_ms["render"]``
    the median CPU milliseconds the rendering thread itself spent on a frame (with one
    generator thread, as on two cores, onnxruntime runs inside it).  Where wall time is
    much longer than CPU time, other work had the CPU.
    """

    state: str
    seconds: float
    frames_captured: int
    frames_shown: int
    frames_dropped: int
    frames_without_face: int
    fps: float
    latency_p50_ms: float
    latency_p95_ms: float
    stages_ms: dict[str, float]
    cpu_ms: dict[str, float]
    provider: str
    source: str
    portrait: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SinkFn = Callable[[np.ndarray, float], None]


class Sink:
    """An output that consumes frames in its own thread (a recorder, a virtual camera ...).

    The engine only drops frames into the sink's short mailbox; when the sink is
    slower than the engine, its oldest waiting frame is dropped (counted in
    ``dropped``) and the engine never waits.  A sink that raises is stopped and
    reported as a ``sink-error`` event.
    """

    def __init__(self, fn: SinkFn, name: str, queue_size: int,
                 on_error: Callable[[Sink, BaseException], None]):
        self.fn = fn
        self.name = name
        self.delivered = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._box: deque[tuple[np.ndarray, float]] = deque(maxlen=max(1, queue_size))
        self._cond = threading.Condition()
        self._stop = False
        self._on_error = on_error
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"puppet-sink-{self.name}",
                                            daemon=True)
            self._thread.start()

    def offer(self, frame: np.ndarray, capture_time: float) -> None:
        with self._cond:
            if self._stop:
                return
            if len(self._box) == self._box.maxlen:
                self.dropped += 1
            self._box.append((frame, capture_time))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._box and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                frame, t = self._box.popleft()
            try:
                self.fn(frame, t)
                self.delivered += 1
            except BaseException as exc:  # noqa: BLE001 - reported, and this sink stops
                self.error = exc
                with self._cond:
                    self._stop = True
                self._on_error(self, exc)
                return

    def stop(self, timeout: float = 3.0) -> None:
        with self._cond:
            self._stop = True
            self._box.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            join(self._thread, timeout)


class _Meter:
    """Counters and timings; the whole run (the last ``keep`` frames) and the recent part."""

    def __init__(self, keep: int = 18000, recent_seconds: float = 2.0):
        self.lock = threading.Lock()
        self.keep = keep
        self.recent_seconds = recent_seconds
        self.reset()

    def reset(self) -> None:
        self.start = time.perf_counter()
        self.out_times: deque[float] = deque(maxlen=self.keep)
        self.latency: deque[float] = deque(maxlen=self.keep)
        self.stages: dict[str, deque[float]] = {s: deque(maxlen=self.keep)
                                                for s in STAGES + CPU_STAGES}
        self.shown = 0
        self.dropped = 0
        self.without_face = 0
        self.captured_closed = 0  # frames of sources already closed

    def stage(self, name: str, ms: float) -> None:
        with self.lock:
            self.stages[name].append(ms)

    def summary(self, recent: bool) -> dict[str, Any]:
        now = time.perf_counter()
        with self.lock:
            times = np.asarray(self.out_times, dtype=np.float64)
            lat = np.asarray(self.latency, dtype=np.float64)
            stages = {k: np.asarray(v, dtype=np.float64) for k, v in self.stages.items()}
        if recent:
            keep = times >= now - self.recent_seconds
            lat = lat[keep]
            n = int(keep.sum())
            span = min(self.recent_seconds, now - self.start)
            fps = n / span if span > 0 else 0.0
            stages = {k: v[-max(n, 1):] for k, v in stages.items()}
        else:
            fps = (times.size - 1) / (times[-1] - times[0]) if times.size > 1 else 0.0
        return {
            "fps": float(fps),
            "latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else 0.0,
            "latency_p95_ms": float(np.percentile(lat, 95)) if lat.size else 0.0,
            "stages_ms": {k: float(np.median(v)) for k, v in stages.items()
                          if v.size and k in STAGES},
            "cpu_ms": {k[:-4]: float(np.median(v)) for k, v in stages.items()
                       if v.size and k in CPU_STAGES},
        }


@dataclass
class _Tracked:
    source_id: int
    frame: LiveFrame
    face: Face | None
    other_face: bool = False  # the tracker took another face since the last frame handed on


class LiveEngine:
    """Runs a live source through tracking, retargeting, the generator and compose.

    Typical use (headless)::

        engine = LiveEngine(size=960, device="auto")
        engine.set_portrait("mona.jpg", wait=True)   # raises PuppetError when it fails
        engine.set_source("0", wait=True)            # camera 0
        engine.add_sink(lambda frame, t: ...)        # consumes output frames
        engine.start()
        ...
        engine.stop()

    Everything that changes while it runs (portrait, source, generator, device,
    settings, calibration) may be called from any thread and returns at once
    unless ``wait=True``; the outcome arrives as a :class:`LiveEvent`.
    """

    def __init__(self, size: int = LIVE_SIZE, device: str = "auto", generator: str = "warp",
                 settings: RetargetSettings | None = None, mirror: bool = True,
                 framing: str = "whole"):
        self.size = size
        self.framing = check_framing(framing)
        self.device = device
        self.generator_name = generator
        self.mirror = mirror
        self._settings = settings or RetargetSettings()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False

        self._portrait: Portrait | None = None
        self._generator = None
        self._renderer: FrameRenderer | None = None
        self._renderer_changed = False

        self._source: LiveSource | None = None
        self._source_spec: SourceSpec | None = None
        self._source_id = 0
        self._source_failed = False
        self._source_ended = False

        self._slot: _Tracked | None = None
        self._slot_cond = threading.Condition()

        self._last_face: Face | None = None
        self._last_face_time = 0.0
        self._looking_since = time.perf_counter()
        # the driver's neutral face and its picture (calibration), for this source
        self._neutral: tuple[Face, np.ndarray | None] | None = None
        self._pending_neutral: tuple[Face, np.ndarray | None] | None = None
        self._follow_request: tuple[float, float] | None = None  # see follow_face_at
        self._last_image: np.ndarray | None = None
        self._state = STARTING
        self._latest: LiveOutput | None = None

        self._jobs: deque[tuple[str, int, Callable[[], None], Future]] = deque()
        self._jobs_cond = threading.Condition()
        self._job_gen: dict[str, int] = {}

        self._event_fns: list[Callable[[LiveEvent], None]] = []
        self._output_fns: list[Callable[[LiveOutput], None]] = []
        self._sinks: list[Sink] = []
        self.events: deque[LiveEvent] = deque(maxlen=200)
        self.meter = _Meter()

    # ------------------------------------------------------------------ wiring
    def on_event(self, fn: Callable[[LiveEvent], None]) -> None:
        """Call ``fn(event)`` for every event, from the engine's threads (return quickly)."""
        self._event_fns.append(fn)

    def add_listener(self, fn: Callable[[LiveOutput], None]) -> None:
        """Call ``fn(output)`` for every output frame, in the render thread.  It must return
        at once (post an event, set a flag); anything slower belongs in a sink."""
        self._output_fns.append(fn)

    def remove_listener(self, fn: Callable[[LiveOutput], None]) -> None:
        if fn in self._output_fns:
            self._output_fns.remove(fn)

    def add_sink(self, fn: SinkFn, name: str = "sink", queue_size: int = 2) -> Sink:
        """Hand every output frame to ``fn(frame_bgr, capture_time)`` in a thread of its own
        (frames made from driver frames, in capture order; ``capture_time`` is
        ``time.perf_counter()`` when the driver frame was captured).

        A sink never slows the engine down: when it falls behind, frames waiting
        for it are dropped (``sink.dropped``).  Remove it with :meth:`remove_sink`.
        """
        sink = Sink(fn, name, queue_size, self._sink_failed)
        with self._lock:
            self._sinks.append(sink)
        if self._started and not self._stop.is_set():
            sink.start()
        return sink

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)
        sink.stop()

    def _sink_failed(self, sink: Sink, exc: BaseException) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)
        message = exc.message if isinstance(exc, PuppetError) else f"{type(exc).__name__}: {exc}"
        self._emit(EVENT_SINK_ERROR, f"The output '{sink.name}' stopped: {message}",
                   exc if isinstance(exc, PuppetError) else None, sink)

    def _emit(self, kind: str, message: str, error: PuppetError | None = None,
              value: Any = None) -> None:
        event = LiveEvent(kind, message, error, value)
        self.events.append(event)
        for fn in list(self._event_fns):
            try:
                fn(event)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the engine
                pass

    # ------------------------------------------------------------------ reading
    @property
    def portrait(self) -> Portrait | None:
        return self._portrait

    @property
    def source(self) -> LiveSource | None:
        return self._source

    @property
    def source_spec(self) -> SourceSpec | None:
        return self._source_spec

    @property
    def provider(self) -> ProviderInfo | None:
        gen = self._generator
        return gen.info if gen is not None else None

    @property
    def settings(self) -> RetargetSettings:
        return self._settings

    @property
    def state(self) -> str:
        return self._state

    @property
    def latest(self) -> LiveOutput | None:
        """The newest output frame (None before the first)."""
        return self._latest

    @property
    def running(self) -> bool:
        return self._started and not self._stop.is_set()

    def stats(self, recent: bool = True) -> LiveStats:
        """Counters, and fps / latency / stage timings over the last two seconds
        (``recent``) or the whole run."""
        m = self.meter
        summary = m.summary(recent)
        src = self._source
        captured = m.captured_closed
        if src is not None:
            captured += src.frames_captured + src.frames_skipped
        gen = self._generator
        return LiveStats(state=self._state, seconds=time.perf_counter() - m.start,
                         frames_captured=captured, frames_shown=m.shown,
                         frames_dropped=m.dropped + (src.frames_skipped if src else 0),
                         frames_without_face=m.without_face, fps=summary["fps"],
                         latency_p50_ms=summary["latency_p50_ms"],
                         latency_p95_ms=summary["latency_p95_ms"],
                         stages_ms=summary["stages_ms"], cpu_ms=summary["cpu_ms"],
                         provider=gen.info.label if gen is not None else "",
                         source=self._source_spec.label if self._source_spec else "",
                         portrait=self._portrait.source if self._portrait else "")

    def reset_stats(self) -> None:
        """Start the counters and timings afresh (the source keeps running)."""
        src = self._source
        with self.meter.lock:
            self.meter.reset()
            if src is not None:  # count only what the current source captures from now on
                self.meter.captured_closed = -(src.frames_captured + src.frames_skipped)
                self.meter.dropped = -src.frames_skipped

    # ------------------------------------------------------------------ changes
    def update_settings(self, settings: RetargetSettings) -> None:
        """New gains and smoothing; they apply from the next frame."""
        self._settings = settings

    def calibrate(self) -> Face:
        """Take the driver's current face as its neutral (it maps onto the portrait as it is).

        Raises :class:`PuppetError` when no face is seen right now.
        """
        with self._lock:
            face = self._last_face
            fresh = time.perf_counter() - self._last_face_time < 0.5
            if face is None or not fresh:
                raise PuppetError("no face is seen right now, so there is nothing to calibrate on",
                                  "look into the camera with a relaxed face, then calibrate again")
            self._pending_neutral = (face, self._last_image)
        return face

    def set_portrait(self, portrait: str | Path | Portrait, wait: bool = False,
                     face: int | None = None) -> Future:
        """Show another portrait: a path, ``built-in:NAME`` or a loaded :class:`Portrait`;
        ``face``: which face of a group portrait, counted from the left (default: the
        largest).

        It loads on the control thread; until it is ready the current portrait keeps
        moving, and it stays when the new one fails (``portrait-error``)."""
        return self._submit("portrait", lambda: self._load_portrait(portrait, face), wait)

    def follow_face_at(self, x: float, y: float) -> None:
        """Have the face at (x, y) of the source's pictures drive (someone clicked on it),
        whatever its size, until it is lost; it becomes the neutral (``other-face``)."""
        self._follow_request = (float(x), float(y))

    def set_size(self, size: int, wait: bool = False) -> Future:
        """Draw the portrait at another size (its longest side in pixels; a portrait is never
        enlarged past its own): the portrait shown is read again at that size, the same face
        of a group portrait moving.  Where it fails, the old size and portrait stay."""
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise PuppetError(f"a portrait size of {size} pixels is out of range",
                              f"use {MIN_SIZE} to {MAX_SIZE}")
        return self._submit("size", lambda: self._reread(size=size), wait)

    def set_framing(self, framing: str, wait: bool = False) -> Future:
        """Show the whole portrait, or a head-and-shoulders crop around its face ("head"):
        the portrait shown is read again so, the same face of a group portrait moving.
        Where it fails, the old framing and portrait stay."""
        check_framing(framing)
        return self._submit("framing", lambda: self._reread(framing=framing), wait)

    def _reread(self, size: int | None = None, framing: str | None = None) -> None:
        """The portrait shown, read again at another size or framing (which are kept
        for the next portraits too)."""
        portrait = self._portrait
        old = (self.size, self.framing)
        self.size = size or self.size
        self.framing = framing or self.framing
        if portrait is None or (self.framing == portrait.framing
                                and max(portrait.size) == self.size):
            return
        try:
            again = self._read_portrait(portrait.source, portrait.face_number
                                        if portrait.faces > 1 else None)
        except PuppetError as exc:  # (a group's small face, not found at a smaller size)
            self.size, self.framing = old  # before anyone hears of it
            self._emit(EVENT_PORTRAIT_ERROR, exc.message, exc, portrait.source)
            raise
        self._load_portrait(again)

    def set_source(self, spec: SourceSpec | str | int | LiveSource, wait: bool = False) -> Future:
        """Drive the portrait from another source: a :class:`SourceSpec`, its text (``0``,
        ``demo``, a video path) or an opened :class:`LiveSource`.  When it cannot be opened,
        the current source keeps running (``source-error``)."""
        return self._submit("source", lambda: self._open_source(spec), wait)

    def set_generator(self, name: str | None = None, device: str | None = None,
                      wait: bool = False) -> Future:
        """Use another generator and/or device (``auto``, ``cpu``, ``cuda``)."""
        return self._submit("generator", lambda: self._make_generator(name, device), wait)

    def close_source(self) -> None:
        """Stop the current source (the portrait holds still)."""
        with self._lock:
            old, self._source, self._source_spec = self._source, None, None
            self._source_id += 1
        if old is not None:
            self._retire(old)
        self._update_state()

    def _retire(self, source: LiveSource) -> None:
        """Close a source, keeping its counts in the stats."""
        source.close()
        with self.meter.lock:
            self.meter.captured_closed += source.frames_captured + source.frames_skipped
            self.meter.dropped += source.frames_skipped

    # -------------------------------------------------------------- control jobs
    def _submit(self, kind: str, job: Callable[[], None], wait: bool) -> Future:
        fut: Future = Future()
        with self._jobs_cond:
            gen = self._job_gen.get(kind, 0) + 1
            self._job_gen[kind] = gen
            self._jobs.append((kind, gen, job, fut))
            self._jobs_cond.notify()
        if not self._started:
            self._run_jobs()  # not running yet: do it here, now
        if wait:
            fut.result()
        return fut

    def _run_jobs(self) -> None:
        while True:
            with self._jobs_cond:
                if not self._jobs:
                    return
                kind, gen, job, fut = self._jobs.popleft()
                superseded = self._job_gen.get(kind) != gen
            if superseded:  # the user already asked for something newer
                fut.set_result(None)
                continue
            try:
                job()
                fut.set_result(None)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                fut.set_exception(exc)

    def _control_loop(self) -> None:
        while not self._stop.is_set():
            with self._jobs_cond:
                if not self._jobs:
                    self._jobs_cond.wait(0.2)
                    continue
            self._run_jobs()

    def _load_portrait(self, what: str | Path | Portrait, face: int | None = None) -> None:
        try:
            portrait = self._read_portrait(what, face)
            self._install_renderer(portrait, self._generator or self._new_generator())
        except PuppetError as exc:
            self._emit(EVENT_PORTRAIT_ERROR, exc.message, exc, what)
            raise
        self._emit(EVENT_PORTRAIT, f"Portrait: {portrait.name}", None, portrait)

    def _read_portrait(self, what: str | Path | Portrait, face: int | None = None) -> Portrait:
        if isinstance(what, Portrait):
            return what
        text = str(what)
        if text.startswith(BUILTIN_PREFIX):
            from puppet.demo import builtin_portrait

            return builtin_portrait(text[len(BUILTIN_PREFIX):], size=self.size,
                                    framing=self.framing)
        from puppet.portrait import load_portrait

        return load_portrait(what, self.size, face, self.framing)

    def _new_generator(self, name: str | None = None, device: str | None = None):
        name, device = name or self.generator_name, device or self.device
        # onnxruntime's threads: the runtime's default (half the cores, not spinning) leaves
        # the other cores to tracking and decoding, which run at the same time
        gen = generators.create(name, device)
        self.generator_name, self.device = name, device
        return gen

    def _make_generator(self, name: str | None, device: str | None) -> None:
        try:
            gen = self._new_generator(name, device)
            if self._portrait is not None:
                self._install_renderer(self._portrait, gen)
            else:
                self._generator = gen
        except PuppetError as exc:
            self._emit(EVENT_GENERATOR_ERROR, exc.message, exc, (name, device))
            raise
        self._emit(EVENT_GENERATOR, f"Generator {gen.name} runs on {gen.info.label}", None,
                   gen.info)

    def _install_renderer(self, portrait: Portrait, gen) -> None:
        renderer = FrameRenderer(portrait, gen, self._settings)
        # warm up: the first run of a session is slow; do it now, not on a live frame
        warm = dataclasses.replace(neutral_motion(portrait.face), neutral=False)
        renderer.draw(warm)
        with self._lock:
            self._portrait = portrait
            self._generator = gen
            self._renderer = renderer
            self._renderer_changed = True

    def _open_source(self, spec: SourceSpec | str | int | LiveSource) -> None:
        try:
            if isinstance(spec, LiveSource):
                source = spec
                spec = SourceSpec(source.kind, path=str(getattr(source, "path", "")),
                                  index=int(getattr(source, "index", -1)))
            else:
                if not isinstance(spec, SourceSpec):
                    spec = parse_source(spec)
                source = open_source(spec, mirror=self.mirror)
        except PuppetError as exc:
            self._emit(EVENT_SOURCE_ERROR, exc.message, exc, spec)
            raise
        with self._lock:
            old = self._source
            self._source, self._source_spec = source, spec
            self._source_id += 1
            self._source_failed = self._source_ended = False
            self._looking_since = time.perf_counter()
            self._last_face = None
        if old is not None:
            self._retire(old)
        if self._started:
            source.start()
        self._emit(EVENT_SOURCE, f"Source: {spec.label}", None, spec)
        self._update_state()

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Start the threads (the source, tracking, rendering, the control thread, sinks)."""
        if self._started:
            return
        self._started = True
        self._stop.clear()
        self.meter.reset()
        if self._source is not None:
            self._source.start()
        for name, target in (("control", self._control_loop), ("track", self._track_loop),
                             ("render", self._render_loop)):
            t = threading.Thread(target=target, name=f"puppet-live-{name}", daemon=True)
            self._threads.append(t)
            t.start()
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            sink.start()
        self._update_state()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread the engine started, and close the source."""
        self._stop.set()
        with self._slot_cond:
            self._slot_cond.notify_all()
        with self._jobs_cond:
            pending = list(self._jobs)
            self._jobs.clear()
            self._jobs_cond.notify_all()
        for *_, fut in pending:
            fut.cancel()
        for t in self._threads:
            if t is not threading.current_thread():
                join(t, timeout)
        self._threads = []
        with self._lock:
            sinks = list(self._sinks)
            src, self._source = self._source, None
        for sink in sinks:
            sink.stop()
        if src is not None:
            self._retire(src)
        self._started = False
        self._set_state(STOPPED)

    def run_for(self, seconds: float | None,
                tick: Callable[[LiveStats], None] | None = None) -> None:
        """Run until ``seconds`` have passed (None: until the source ends or fails)."""
        end = None if seconds is None else time.perf_counter() + seconds
        next_tick = time.perf_counter() + 1.0
        while not self._stop.is_set():
            now = time.perf_counter()
            if end is not None and now >= end:
                return
            if self._state in (ENDED, SOURCE_FAILED):
                return
            if tick is not None and now >= next_tick:
                tick(self.stats())
                next_tick += 1.0
            time.sleep(0.05)

    def __enter__(self) -> LiveEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ state
    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._emit(EVENT_STATE, state, None, state)

    def _update_state(self) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            if self._source is None:
                state = SOURCE_FAILED if self._source_failed else NO_SOURCE
            elif self._source_ended:
                state = ENDED
            elif self._renderer is None or not self._started:
                state = STARTING
            elif self._last_face is not None and \
                    time.perf_counter() - self._last_face_time < LOOKING_AFTER:
                state = RUNNING
            elif time.perf_counter() - self._looking_since < LOOKING_AFTER:
                state = self._state if self._state in (RUNNING, LOOKING) else STARTING
            else:
                state = LOOKING
        self._set_state(state)

    # ------------------------------------------------------------------ track
    def _track_loop(self) -> None:
        tracker = None
        current = -1
        after = 0
        switches = 0  # the tracker's count of faces taken instead of the one followed
        while not self._stop.is_set():
            with self._lock:
                sid, source = self._source_id, self._source
            if source is None:
                self._update_state()
                self._stop.wait(0.05)
                continue
            if current != sid:
                current, after = sid, 0
                if tracker is not None:  # a new driver: MediaPipe starts a fresh track
                    tracker.close()
                    tracker = None
                switches = 0
                self._follow_request = None  # a click on the last source's picture
            try:
                frame = source.newest(after, timeout=0.1)
                if frame is None:
                    if source.error is not None or source.ended:
                        self._check_source(sid, source)
                        self._stop.wait(0.05)
                    self._update_state()
                    continue
                if frame.seq - after > 1:
                    with self.meter.lock:
                        self.meter.dropped += frame.seq - after - 1
                after = frame.seq
                if frame.image is None:
                    face = frame.face
                else:
                    if tracker is None:
                        from puppet.tracking.mediapipe_tracker import FaceTracker

                        # one face (see FaceTracker): with more, MediaPipe runs its
                        # detector on every frame to look for the others
                        tracker = FaceTracker(video=True, max_faces=1)
                    request, self._follow_request = self._follow_request, None
                    if request is not None:
                        tracker.follow_at(*request)
                    t0 = time.perf_counter()
                    face = tracker.track(frame.image)
                    self.meter.stage("track", (time.perf_counter() - t0) * 1000.0)
                other_face = tracker is not None and tracker.switches != switches
                if tracker is not None:
                    switches = tracker.switches
            except Exception as exc:  # noqa: BLE001 - say so, keep the engine up
                if tracker is not None:
                    tracker.close()
                    tracker = None
                self._fail_source(sid, source, PuppetError(
                    f"face tracking failed on the {source.label}: {type(exc).__name__}: {exc}",
                    "choose the source again, or another one"))
                continue
            with self._lock:
                if sid != self._source_id:
                    continue
                if face is not None:
                    self._last_face, self._last_face_time = face, time.perf_counter()
                    self._last_image = frame.image
            with self._slot_cond:
                if self._slot is not None:
                    with self.meter.lock:
                        self.meter.dropped += 1
                    other_face = other_face or self._slot.other_face  # not lost with it
                self._slot = _Tracked(sid, frame, face, other_face)
                self._slot_cond.notify()
            self._update_state()
        if tracker is not None:
            tracker.close()

    def _check_source(self, sid: int, source: LiveSource) -> None:
        if source.error is not None:
            self._fail_source(sid, source, source.error)
        elif source.ended and not self._source_ended:
            with self._lock:
                if sid != self._source_id:
                    return
                self._source_ended = True
            self._emit(EVENT_SOURCE_ENDED, f"The {source.label} has ended", None,
                       self._source_spec)
            self._update_state()

    def _fail_source(self, sid: int, source: LiveSource, error: PuppetError) -> None:
        """The source failed: close it, say so; the portrait holds still meanwhile."""
        with self._lock:
            if sid != self._source_id:
                return
            self._source_failed = True
            self._source = None
            self._source_id += 1
            self._last_face = None
        self._retire(source)
        self._emit(EVENT_SOURCE_ERROR, error.message, error, self._source_spec)
        self._update_state()

    # ------------------------------------------------------------------ render
    def _take_tracked(self, timeout: float) -> _Tracked | None:
        with self._slot_cond:
            if self._slot is None and not self._stop.is_set():
                self._slot_cond.wait(timeout)
            item, self._slot = self._slot, None
            return item

    def _render_loop(self) -> None:
        renderer: FrameRenderer | None = None
        source_id = -1
        last_frame: np.ndarray | None = None  # the newest output picture of ``renderer``
        while not self._stop.is_set():
            item = self._take_tracked(0.1)
            with self._lock:
                changed = self._renderer_changed
                self._renderer_changed = False
                new_renderer = self._renderer
                pending = None
                if item is not None:
                    pending, self._pending_neutral = self._pending_neutral, None
            if changed and new_renderer is not None:
                renderer, last_frame = new_renderer, None
                if self._neutral is not None:
                    renderer.calibrate(*self._neutral, channels="bgr")
            if renderer is None:
                continue
            if renderer.retargeter.settings is not self._settings:
                renderer.retargeter.update_settings(self._settings)
            if item is not None and item.source_id != source_id:
                # a new source: a new driver, so a new neutral (its first face)
                source_id = item.source_id
                self._neutral = None
                renderer.retargeter = Retargeter(renderer.portrait.face, self._settings)
                renderer.driver_lips = None
                renderer.last_motion = neutral_motion(renderer.portrait.face)
                last_frame = None
            if pending is not None and item is not None and item.source_id == self._source_id:
                renderer.calibrate(*pending, channels="bgr")
                self._neutral = pending
                self._emit(EVENT_CALIBRATED, "Calibrated: this face is now the neutral one",
                           None, pending[0])
            if item is None:
                if last_frame is None:  # a new portrait and no frames: show it as it is
                    last_frame, *_ = renderer.draw(renderer.last_motion)
                    now = time.perf_counter()
                    self._hand_on(LiveOutput(last_frame, now, now, None, None, renderer.portrait,
                                             self._state), count=False)
                continue
            last_frame = self._render_one(renderer, item, last_frame)

    def _render_one(self, renderer: FrameRenderer, item: _Tracked,
                    last_frame: np.ndarray | None) -> np.ndarray:
        face = item.face
        if face is None:
            with self.meter.lock:
                self.meter.without_face += 1
        if face is None and last_frame is not None:
            frame = last_frame  # no face: the portrait holds still
        else:
            t0, c0 = time.perf_counter(), time.thread_time()
            if item.other_face and face is not None and self._neutral is not None:
                # another person (or the one in front, back from turning away while
                # someone else was in view): motion from the last one's neutral would
                # distort the portrait, so this face as it is now is the neutral
                renderer.calibrate(face, item.frame.image, channels="bgr")
                self._neutral = (face, item.frame.image)
                self._emit(EVENT_OTHER_FACE, "Following another face now; the neutral is that "
                           "face as first seen (press C with a relaxed face to calibrate)",
                           None, face)
            motion = renderer.motion_for(face, item.frame.capture_time, item.frame.image,
                                         channels="bgr")  # live pictures are BGR
            if face is not None and self._neutral is None:
                self._neutral = (face, item.frame.image)  # the first face calibrated it
            self.meter.stage("retarget", (time.perf_counter() - t0) * 1000.0)
            frame, gen_ms, comp_ms = renderer.draw(motion)
            self.meter.stage("generate", gen_ms)
            self.meter.stage("compose", comp_ms)
            self.meter.stage("render_cpu", (time.thread_time() - c0) * 1000.0)
        now = time.perf_counter()
        neutral = self._neutral
        self._hand_on(LiveOutput(frame, item.frame.capture_time, now, item.frame, face,
                                 renderer.portrait, self._state,
                                 neutral[0] if neutral is not None else None))
        return frame

    def _hand_on(self, out: LiveOutput, count: bool = True) -> None:
        self._latest = out
        if count:
            m = self.meter
            with m.lock:
                m.shown += 1
                m.out_times.append(out.output_time)
                m.latency.append(out.latency_ms)
        for fn in list(self._output_fns):
            try:
                fn(out)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the engine
                pass
        if not count:
            return  # a still (a new portrait before any frame): for the eyes only
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            sink.offer(out.frame, out.capture_time)
