"""``puppet bench``: how fast and how big, stage by stage, on each provider that works here.

For each provider (the CPU, and CUDA where it really starts) a fresh process
measures, on the same portrait and driving clip:

* decode + tracking alone (the same two threads a render runs, nothing after
  them): what a render can at best reach;
* ``puppet render`` end to end (the same pipeline, writing a real H.264 file to
  a temporary folder), with every stage's median and 95th percentile:
  decode, track, retarget, generate, compose, encode;
* the generator alone (its model on the portrait, frame after frame);
* peak memory (and GPU memory where ``nvidia-smi`` says);

and a second fresh process runs a live-like session (a paced camera that keeps
only its newest frame -> track -> generate -> compose, no encoding) for its
frame rate, latency and peak memory.

With no inputs given it needs nothing: the built-in portrait, driven by a clip
it synthesises from the built-in performance on the other built-in portrait.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from puppet import __version__
from puppet.errors import PuppetError

BUILTIN_PORTRAIT = "grace-oil"
DRIVER_PORTRAIT = "grace-sepia"  # the synthesised driving clip shows the other built-in
DRIVER_SIZE = 512
DRIVER_FPS = 25.0
GENERATOR_RUNS = 200  # at least this many generator calls for its own timing
GENERATOR_FRAMES = 400  # the driving frames it is timed on (each at least once)


@dataclass(frozen=True)
class BenchSettings:
    portrait: str | None = None  # an image; None: the built-in portrait
    driving: str | None = None  # a video; None: a clip synthesised from the performance
    frames: int | None = None  # at most this many driving frames (None: all)
    size: int = 1280  # output size, as for puppet render
    threads: int | None = None  # onnxruntime CPU threads (None: the default)
    repeat: int = 1  # renders per provider (their fps are all reported)
    live_seconds: float = 10.0  # length of the live-like session (0: skip it)
    binding: bool = True  # False: plain session.run calls, for comparisons
    track_threads: int | None = None  # trackers at once, as puppet render's (None: default)


Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# inputs


def synthesise_driving(path: Path, frames: int, fps: float = DRIVER_FPS,
                       size: int = DRIVER_SIZE) -> Path:
    """A driving clip with a real face: the other built-in portrait, animated by the
    built-in performance through Puppet's own generator (``frames`` frames, H.264)."""
    from puppet.demo import builtin_portrait
    from puppet.engine import DriverFrame, render_performance
    from puppet.generators import base as generators
    from puppet.outputs.video_writer import VideoWriter
    from puppet.sources.procedural import performance

    portrait = builtin_portrait(DRIVER_PORTRAIT, size=size)
    generator = generators.create("warp", "cpu")
    faces = performance(portrait.face, frames / fps, fps)
    driver = ((DriverFrame(i, t, face), 0.0)
              for i, (t, face) in enumerate(itertools.islice(faces, frames)))
    w, h = portrait.size
    writer = VideoWriter(path, w, h, fps)
    try:
        render_performance(portrait, driver, writer, generator, total=frames)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return path


def _load_portrait(settings: BenchSettings):
    from puppet.portrait import load_portrait

    if settings.portrait is None:
        from puppet.demo import builtin_portrait

        return builtin_portrait(BUILTIN_PORTRAIT, size=settings.size)
    return load_portrait(settings.portrait, settings.size)


# ---------------------------------------------------------------------------
# what runs in a child process


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / (1024.0 * 1024.0)


def _gpu_memory_mb() -> float | None:
    """This process's GPU memory as nvidia-smi reports it (None where it cannot)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-compute-apps=pid,used_memory",
                              "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(os.getpid()):
            try:
                return float(parts[1])
            except ValueError:
                return None
    return None


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "frames": 0}
    return {"median_ms": float(np.median(arr)), "p95_ms": float(np.percentile(arr, 95)),
            "mean_ms": float(arr.mean()), "frames": int(arr.size)}


def _generator(device: str, settings: BenchSettings):
    from puppet.generators import base as generators
    from puppet.generators.runtime import ModelRunner

    generator = generators.create("warp", device, threads=settings.threads)
    if not settings.binding:
        generator.runner = ModelRunner(generator.runner.session, generator.runner.info,
                                       binding=False)
    return generator


def _runner_info(generator) -> dict[str, Any]:
    runner = getattr(generator, "runner", None)
    if runner is None:
        return {}
    return {"runner": runner.mode, "runner_note": runner.note,
            "drawing": "OpenCV" if getattr(generator, "dense", "onnx") == "opencv" else "ONNX"}


def _track_only(driving: str, frames: int | None, track_threads: int | None = None
                ) -> tuple[dict[str, Any], list]:
    """Decode + track alone, in the render's threads (with as many trackers as the render
    runs); also returns the driver frames."""
    from puppet.engine import measure_tracking
    from puppet.sources.video import VideoFile

    with VideoFile(driving) as video:
        dframes, seconds, times = measure_tracking(video, frames, track_threads=track_threads)
        fps = video.fps
    n = len(dframes)
    return ({"fps": n / seconds if seconds > 0 else 0.0, "frames": n, "seconds": seconds,
             "video_fps": fps, "stages": times.summary()}, dframes)


def _render_once(portrait, driving: str, frames: int | None, generator, out: Path,
                 track_threads: int | None = None) -> tuple[Any, float]:
    """One ``puppet render`` through the engine's own pipeline, at most ``frames`` frames."""
    from puppet.engine import StageTimes, open_tracking, render_frames, timed
    from puppet.outputs.video_writer import VideoWriter
    from puppet.sources.video import VideoFile

    times = StageTimes()
    w, h = portrait.size
    with VideoFile(driving) as video, contextlib.ExitStack() as held:
        total = min(video.frame_count, frames) if frames else video.frame_count
        step, workers = open_tracking(held, video, total, times, track_threads,
                                      exact=bool(frames) and frames < video.frame_count)
        writer = VideoWriter(out, w, h, video.rate)
        try:
            source = itertools.islice(video.frames("rgb24"), frames)
            report = render_frames(portrait, timed(source, times, "decode"),
                                   [("track", step)], writer, generator,
                                   None, 0, None, times)
            writer.close()
        except BaseException:
            writer.abort()
            raise
    report.track_threads = workers
    return report, video.fps


def _threads_busy(times, renders: list[dict[str, Any]]) -> dict[str, float]:
    """The share of the renders' time each of the render's threads spent in its stages
    (a thread near 100% is what the render waits for; wall-clock time, so a thread
    waiting for Python's GIL or for the CPU counts as busy)."""
    from puppet.engine import THREADS

    seconds = sum(r["seconds"] for r in renders)
    if seconds <= 0:
        return {}
    totals = {stage: sum(values) / 1000.0 for stage, values in times.samples.items()}
    return {thread: max(0.0, sum(sign * totals.get(stage, 0.0) for stage, sign in parts))
            / seconds for thread, parts in THREADS.items()}


def _generator_alone(portrait, generator, dframes: list, driving: str) -> dict[str, Any]:
    """The generator's own time per frame, on the driving clip's motions made as a render
    makes them: from its faces and its pictures (the inside of the mouth is carried over
    from the driver's).  The pictures are decoded again, each let go once used; every
    frame of the first ``GENERATOR_FRAMES`` is timed, then the clip again from its start
    until there have been ``GENERATOR_RUNS``."""
    from puppet.engine import FrameRenderer
    from puppet.sources.video import VideoFile

    renderer = FrameRenderer(portrait, generator)
    prepared = renderer.prepared
    times, first, second = [], [], []
    warm_up = 5  # (and the CUDA graph's capture)
    frames = dframes[:GENERATOR_FRAMES]
    loop = (frames[-1].time + 1.0) if frames else 0.0
    for lap in range(GENERATOR_RUNS):
        used = 0
        with VideoFile(driving) as video:
            for d, frame in zip(frames, video.frames("rgb24")):
                if d.face is None:
                    continue
                m = renderer.motion_for(d.face, d.time + lap * loop, frame.image)
                if m.neutral:
                    continue
                used += 1
                if warm_up:
                    generator.render(prepared, m)
                    warm_up -= 1
                    continue
                t0 = time.perf_counter()
                if hasattr(generator, "begin"):
                    begun = generator.begin(prepared, m)
                    t1 = time.perf_counter()
                    generator.finish(prepared, begun)
                else:
                    t1 = t0
                    generator.render(prepared, m)
                t2 = time.perf_counter()
                times.append((t2 - t0) * 1000.0)
                first.append((t1 - t0) * 1000.0)
                second.append((t2 - t1) * 1000.0)
                if lap and len(times) >= GENERATOR_RUNS:
                    break
        if not used or len(times) >= GENERATOR_RUNS:
            break
    if not times:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "frames": 0}
    crop = prepared.box.res
    # the first half makes the eyes' patches and the mouth's layer (and on the CPU the
    # warp field); the second draws: on CUDA that is the model alone, frame in and out
    return {**_stats(times), "crop": f"{crop}x{crop}",
            "begin_median_ms": float(np.median(first)),
            "draw_median_ms": float(np.median(second))}


def child_render(device: str, settings: BenchSettings, driving: str, workdir: str
                 ) -> dict[str, Any]:
    """Everything measured on one provider except the live-like session (in a child)."""
    portrait = _load_portrait(settings)
    generator = _generator(device, settings)
    result: dict[str, Any] = {"provider": generator.info.label, "device": generator.info.device,
                              "threads": settings.threads,
                              "portrait_size": list(portrait.size)}
    renders, alone, dframes = [], [], []
    from puppet.engine import StageTimes

    merged = StageTimes()
    for i in range(max(1, settings.repeat)):
        # decode + track alone before each render, so that the ratio compares runs made
        # under the same load (on a shared machine one run of either swings by 10-20%)
        track_only, frames_seen = _track_only(driving, settings.frames, settings.track_threads)
        alone.append(track_only)
        dframes = dframes or frames_seen
        report, video_fps = _render_once(portrait, driving, settings.frames, generator,
                                         Path(workdir) / f"render-{device}-{i}.mp4",
                                         settings.track_threads)
        renders.append({"fps": report.fps, "frames": report.frames, "seconds": report.seconds,
                        "steady_fps": report.steady_fps,
                        "first_frame_seconds": report.first_frame_seconds})
        for stage, values in report.times.samples.items():
            merged.samples.setdefault(stage, []).extend(values)
    stages = merged.summary()
    fps_values = [r["fps"] for r in renders]
    result["render"] = {"fps": float(np.median(fps_values)), "fps_runs": fps_values,
                        "steady_fps": float(np.median([r["steady_fps"] for r in renders])),
                        "first_frame_seconds": float(np.median(
                            [r["first_frame_seconds"] for r in renders])),
                        "frames": renders[-1]["frames"], "video_fps": video_fps,
                        "stages": stages, "threads_busy": _threads_busy(merged, renders),
                        "track_threads": report.track_threads}
    track_only = dict(alone[-1])
    track_only["fps"] = float(np.median([a["fps"] for a in alone]))
    track_only["fps_runs"] = [a["fps"] for a in alone]
    result["track_only"] = track_only
    if track_only["fps"] > 0:
        result["render"]["ratio_to_track_only"] = result["render"]["fps"] / track_only["fps"]
    # the render's peak, before the generator is timed alone on pictures read again
    result["peak_rss_mb"] = _peak_rss_mb()
    result["generator"] = _generator_alone(portrait, generator, dframes, driving)
    result.update(_runner_info(generator))
    result["gpu_memory_mb"] = _gpu_memory_mb()
    return result


def child_live(device: str, settings: BenchSettings, driving: str) -> dict[str, Any]:
    """A live-like session: a camera (the driving clip, looped, paced at its frame rate,
    keeping only its newest frame) -> track -> generate -> compose, for a while."""
    from puppet.engine import FrameRenderer
    from puppet.sources.video import VideoFile
    from puppet.tracking.mediapipe_tracker import FaceTracker

    portrait = _load_portrait(settings)
    generator = _generator(device, settings)
    renderer = FrameRenderer(portrait, generator)
    newest: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    counts = {"captured": 0, "dropped": 0}
    errors: list[BaseException] = []
    fps_box: list[float] = []

    def camera() -> None:
        try:
            while not stop.is_set():
                with VideoFile(driving) as video:
                    period = 1.0 / video.fps
                    fps_box.append(video.fps)
                    next_t = time.perf_counter()
                    for frame in itertools.islice(video.frames("rgb24"), settings.frames):
                        if stop.is_set():
                            return
                        next_t += period
                        delay = next_t - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                        item = (time.perf_counter(), frame.image)
                        counts["captured"] += 1
                        try:
                            newest.put_nowait(item)
                        except queue.Full:  # the stale frame goes, the new one stays
                            try:
                                newest.get_nowait()
                                counts["dropped"] += 1
                            except queue.Empty:
                                pass
                            newest.put_nowait(item)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            stop.set()

    latencies: list[float] = []
    shown = 0
    out = renderer.compositor.blank()
    cam = threading.Thread(target=camera, name="bench-camera", daemon=True)
    with FaceTracker(video=True) as tracker:
        cam.start()
        start = time.perf_counter()
        cpu_start = time.process_time()
        t_clip = 0.0
        while time.perf_counter() - start < settings.live_seconds and not stop.is_set():
            try:
                captured, image = newest.get(timeout=0.5)
            except queue.Empty:
                continue
            face = tracker.track_rgb(image)
            t_clip = time.perf_counter() - start
            motion = renderer.motion_for(face, t_clip, image)  # as the live engine does
            renderer.draw(motion, out)
            latencies.append((time.perf_counter() - captured) * 1000.0)
            shown += 1
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        stop.set()
        cam.join(timeout=5)
    if errors:
        raise errors[0]
    return {"seconds": seconds, "frames_shown": shown, "fps": shown / seconds,
            "camera_fps": fps_box[0] if fps_box else None,
            "frames_dropped": counts["dropped"], "latency": _stats(latencies),
            # the whole process's CPU time (every thread, the clip's decoding included,
            # as a camera's would be) over the session, in per cent of one core
            "cpu_percent": 100.0 * cpu_seconds / seconds if seconds > 0 else None,
            "cpu_count": os.cpu_count(),
            "peak_rss_mb": _peak_rss_mb(), "gpu_memory_mb": _gpu_memory_mb(),
            **_runner_info(generator)}


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh process (so its peak memory is its own)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# ---------------------------------------------------------------------------
# the whole benchmark


def devices_to_run(device: str) -> tuple[list[str], dict[str, str]]:
    """The devices to measure for ``--device`` (auto, cpu, cuda or all), and why any
    provider was left out."""
    from puppet.generators.runtime import CUDA, _cuda_unavailable_reason, _ort, create_session
    from puppet.resources import model_file

    if device == "cpu":
        return ["cpu"], {}
    skipped: dict[str, str] = {}
    ort = _ort()
    reason = _cuda_unavailable_reason(ort)
    if reason is None:
        try:
            session, info = create_session(model_file("puppet_warp.onnx"), "auto")
            if info.provider != CUDA:
                reason = info.note or "CUDA did not start"
            del session
        except PuppetError as exc:
            reason = exc.message
    if device == "cuda":
        if reason is not None:
            raise PuppetError(f"CUDA was asked for but cannot be used: {reason}",
                              "run 'puppet doctor' for the fix, or use --device cpu")
        return ["cuda"], {}
    if device == "auto":
        return (["cuda"] if reason is None else ["cpu"]), ({"CUDA": reason} if reason else {})
    if reason is not None:
        skipped["CUDA"] = reason
    return (["cpu", "cuda"] if reason is None else ["cpu"]), skipped


def machine_info() -> dict[str, Any]:
    import onnxruntime as ort

    info: dict[str, Any] = {
        "platform": platform.platform(), "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
        "onnxruntime": ort.__version__, "onnxruntime_providers": ort.get_available_providers(),
    }
    try:
        info["load_average"] = list(os.getloadavg())
    except (AttributeError, OSError):
        pass
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
            info["gpus"] = [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def run_bench(settings: BenchSettings, device: str = "all", log: Log = _stderr
              ) -> dict[str, Any]:
    """The whole benchmark: a dict ready for JSON (see the module's docstring)."""
    from puppet.sources.video import VideoFile

    if settings.frames is not None and settings.frames < 2:
        raise PuppetError(f"--frames {settings.frames} is too few", "use at least 2")
    devices, skipped = devices_to_run(device)
    for name, why in skipped.items():
        log(f"bench: {name} is left out: {why}")
    workdir = tempfile.mkdtemp(prefix="puppet-bench-")
    try:
        driving = settings.driving
        if driving is None:
            n = settings.frames or int(10 * DRIVER_FPS)
            log(f"bench: synthesising a {n}-frame driving clip from the built-in performance")
            driving = str(synthesise_driving(Path(workdir) / "driving.mp4", n))
        with VideoFile(driving) as video:
            clip = {"path": str(settings.driving or "synthesised (built-in performance)"),
                    "width": video.width, "height": video.height, "fps": video.fps,
                    "frames": video.frame_count, "stored_size": list(video.stored_size)}
        results: dict[str, Any] = {
            "puppet": __version__, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": machine_info(), "settings": asdict(settings),
            "inputs": {"portrait": settings.portrait or f"built-in:{BUILTIN_PORTRAIT}",
                       "driving": clip},
            "skipped": skipped, "runs": [],
        }
        for dev in devices:
            log(f"bench: {dev}: decode + track alone and a render, x{settings.repeat}; "
                "the generator alone")
            run = _in_child(child_render, dev, settings, driving, workdir)
            if settings.live_seconds > 0:
                log(f"bench: {dev}: a live-like session for {settings.live_seconds:g} s")
                run["live"] = _in_child(child_live, dev, settings, driving)
            results["runs"].append(run)
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------
# printing


def _ms(stats: dict[str, Any] | None) -> str:
    if not stats or not stats.get("frames"):
        return f"{'-':>9} {'-':>9}"
    return f"{stats['median_ms']:9.2f} {stats['p95_ms']:9.2f}"


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def _cpu_share(live: dict[str, Any]) -> str:
    cpu = live.get("cpu_percent")
    if cpu is None:
        return ""
    cores = live.get("cpu_count") or 1
    return f", CPU {cpu:.0f}% of one core ({cpu / cores:.0f}% of all {cores})"


def format_table(results: dict[str, Any]) -> str:
    from puppet.engine import STAGES

    m = results["machine"]
    clip = results["inputs"]["driving"]
    lines = [f"Puppet {results['puppet']} bench, {results['created']}: "
             f"{m['cpu_count']} CPU cores, onnxruntime {m['onnxruntime']}"
             + (f", GPU {m['gpus'][0]}" if m.get("gpus") else "")]
    if "load_average" in m:
        lines.append(f"load average at the start: {m['load_average'][0]:.2f} "
                     "(others' work makes every figure noisier)")
    stored = clip.get("stored_size") or [clip["width"], clip["height"]]
    size = f"{stored[0]}x{stored[1]}" + (
        f", decoded at {clip['width']}x{clip['height']}"
        if list(stored) != [clip["width"], clip["height"]] else "")
    lines.append(f"portrait: {results['inputs']['portrait']}; driving: {clip['path']} "
                 f"({size}, {clip['fps']:g} fps)")
    for name, why in results.get("skipped", {}).items():
        lines.append(f"{name}: not measured ({why})")
    for run in results["runs"]:
        w, h = run["portrait_size"]
        mode = run.get("runner", "")
        if run.get("drawing") == "OpenCV":
            mode += " (the field graph), drawn with OpenCV"
        note = f"; {run['runner_note']}" if run.get("runner_note") else ""
        lines.append("")
        lines.append(f"== {run['provider']}: output {w}x{h}, generator via {mode}{note}")
        lines.append(f"  {'stage':<12}{'median ms':>10}{'p95 ms':>10}")
        stages = run["render"]["stages"]
        for stage in STAGES:
            lines.append(f"  {stage:<12} {_ms(stages.get(stage))}")
        r, t = run["render"], run["track_only"]
        if r.get("threads_busy"):
            lines.append("  threads busy: " + ", ".join(
                f"{name} {share:.0%}" for name, share in r["threads_busy"].items()))
        runs = ", ".join(f"{f:.1f}" for f in r["fps_runs"])
        lines.append(f"  render: {r['fps']:.1f} fps end to end ({r['frames']} frames; "
                     f"runs: {runs}); {r['steady_fps']:.1f} fps after the first frame, "
                     f"which took {r['first_frame_seconds'] * 1000:.0f} ms")
        ratio = r.get("ratio_to_track_only")
        alone = ", ".join(f"{f:.1f}" for f in t.get("fps_runs", [t["fps"]]))
        trackers = r.get("track_threads", 1)
        lines.append(f"  decode + track alone: {t['fps']:.1f} fps (runs: {alone})"
                     + (f"; render / that = {ratio:.2f}" if ratio is not None else "")
                     + (f"; both with {trackers} trackers at once" if trackers > 1 else ""))
        g = run["generator"]
        split = ""
        if "draw_median_ms" in g:
            split = (f" (eyes, mouth{', field' if run.get('drawing') == 'OpenCV' else ''}"
                     f" {g['begin_median_ms']:.2f}, drawing {g['draw_median_ms']:.2f})")
        lines.append(f"  generator alone ({g.get('crop', '?')} crop): "
                     f"{g['median_ms']:.2f} ms median, {g['p95_ms']:.2f} ms p95{split}")
        lines.append(f"  peak memory of the render process: {_mb(run.get('peak_rss_mb'))}"
                     + (f", GPU {_mb(run['gpu_memory_mb'])}" if run.get("gpu_memory_mb")
                        else ""))
        live = run.get("live")
        if live:
            lines.append(f"  live-like session: {live['fps']:.1f} fps shown of a "
                         f"{live['camera_fps']:g} fps camera, latency "
                         f"{live['latency']['median_ms']:.1f} ms median / "
                         f"{live['latency']['p95_ms']:.1f} ms p95, "
                         f"peak memory {_mb(live.get('peak_rss_mb'))}"
                         + _cpu_share(live))
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: str | Path) -> Path:
    p = Path(path)
    if not p.parent.exists():
        raise PuppetError(f"the folder {p.parent} does not exist", "create it first")
    p.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return p
