#!/usr/bin/env python3
"""How long a stage's C work waits for Python's GIL beside a thread running Python.

    python bench/gil_convoy.py [--driving VIDEO] [--portrait IMAGE] [--frames N]
                               [--device cpu|cuda] [--intervals 0.005,0.001,0.0005,0.0001]

A render runs its stages in threads.  Tracking, the generator, drawing and encoding give
the GIL up for their C work and must get it back to go on; Python hands it over from a
thread running Python code only every "switch interval" (sys.setswitchinterval, 5 ms by
default), so each return can wait up to that long while another stage runs Python.  This
times tracking a clip and generating a portrait's crops, alone and beside a thread that
runs Python the whole time (a stand-in for the retargeting stage), at each interval, and
prints the milliseconds a frame and how much of its own speed the Python thread kept.
Puppet sets 0.0005 s (puppet/__init__.py; PUPPET_SWITCH_INTERVAL sets another).  Needs a
driving clip with a face (by default ../shared/data), so it is a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))


def _spin(stop: threading.Event, counts: list[int]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
    counts.append(n)


def _timed(work, items, busy: bool) -> tuple[float, float]:
    """(ms a frame, Python loops a second in the busy thread, or 0)."""
    stop, counts = threading.Event(), []
    spinner = threading.Thread(target=_spin, args=(stop, counts), daemon=True)
    if busy:
        spinner.start()
    t0 = time.perf_counter()
    for item in items:
        work(item)
    seconds = time.perf_counter() - t0
    if busy:
        stop.set()
        spinner.join()
    return seconds / len(items) * 1000.0, (counts[0] / seconds if counts else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driving", default=str(SHARED / "driving" / "d3.mp4"))
    ap.add_argument("--portrait", default=str(SHARED / "portraits" / "s10.jpg"))
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                    help="where the generator runs (default cpu)")
    ap.add_argument("--intervals", default="0.005,0.001,0.0005,0.0001",
                    help="switch intervals to try, in seconds (0.005 is Python's default)")
    a = ap.parse_args()
    if not Path(a.driving).is_file() or not Path(a.portrait).is_file():
        print(f"gil_convoy: needs {a.driving} and {a.portrait}", file=sys.stderr)
        return 2

    from puppet.engine import FrameRenderer
    from puppet.errors import PuppetError
    from puppet.generators import base as generators
    from puppet.portrait import load_portrait
    from puppet.sources.video import VideoFile
    from puppet.tracking.mediapipe_tracker import FaceTracker

    video = VideoFile(a.driving)
    images = [f.image for _, f in zip(range(a.frames), video.frames("rgb24"))]
    video.close()
    try:
        generator = generators.create("warp", a.device)
    except PuppetError as exc:
        print(f"gil_convoy: {exc}", file=sys.stderr)
        return 2
    renderer = FrameRenderer(load_portrait(a.portrait, 1280), generator)
    intervals = [float(v) for v in a.intervals.split(",")]
    alone_loops = _timed(lambda _: time.sleep(0.001), range(200), True)[1]

    with FaceTracker(video=True) as tracker:
        faces = [tracker.track_rgb(im) for im in images]  # warm up, and the faces to draw
        motions = [renderer.motion_for(f, i / 30.0, im) for i, (f, im)
                   in enumerate(zip(faces, images)) if f is not None]
        stages = {"track": (lambda im: tracker.track_rgb(im), images),
                  "generate": (renderer.crop_for, motions)}
        print(f"{len(images)} frames of {a.driving}; portrait {a.portrait}; generator on "
              f"{renderer.generator.info.provider}")
        print(f"{'stage':10} {'interval':>9} {'alone ms':>9} {'beside Python ms':>17} "
              f"{'Python kept':>12}")
        default = sys.getswitchinterval()
        try:
            for name, (work, items) in stages.items():
                for interval in intervals:
                    sys.setswitchinterval(interval)
                    alone, _ = _timed(work, items, False)
                    beside, loops = _timed(work, items, True)
                    print(f"{name:10} {interval:9.4f} {alone:9.2f} {beside:17.2f} "
                          f"{loops / alone_loops:12.2f}")
        finally:
            sys.setswitchinterval(default)
    return 0


if __name__ == "__main__":
    sys.exit(main())
