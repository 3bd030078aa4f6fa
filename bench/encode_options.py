"""x264 settings for Puppet's frames: encoder CPU time, file size and quality.

Puppet's output is mostly still (only the face crop changes), which x264's
macroblock tree handles well.  This renders real frames (the built-in portrait
driven by the built-in performance, or --portrait) and encodes them with a few
settings, printing CPU milliseconds per frame, kilobytes per second of video
and PSNR against the frames (decoded back).  It backs the choice of
``PRESET``/``X264_PARAMS`` in puppet/outputs/video_writer.py.

    python bench/encode_options.py [--frames 120] [--size 1280] [--portrait IMAGE]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIGS = [
    ("veryfast", {"preset": "veryfast", "x264_params": None}),
    ("superfast + mbtree, lookahead 10 (the old default)",
     {"preset": "superfast", "x264_params": "mbtree=1:rc-lookahead=10"}),
    ("ultrafast + mbtree, lookahead 10", {"x264_params": "mbtree=1:rc-lookahead=10"}),
    ("ultrafast + mbtree + subme 1 + deblock", {
        "x264_params": "mbtree=1:rc-lookahead=10:subme=1:deblock=0,0"}),
    ("ultrafast + mbtree + subme 1 + deblock + B-frames (default)", {}),
    ("the default, 1 thread", {"threads": 1}),
]


def _frames(portrait_path: str | None, n: int, size: int) -> tuple[list[np.ndarray], float]:
    from puppet.demo import DEMO_FPS, builtin_portrait
    from puppet.engine import FrameRenderer
    from puppet.generators import base as generators
    from puppet.portrait import load_portrait
    from puppet.sources.procedural import performance

    portrait = (builtin_portrait(size=size) if portrait_path is None
                else load_portrait(portrait_path, size))
    renderer = FrameRenderer(portrait, generators.create("warp", "cpu"))
    frames = []
    for t, face in performance(portrait.face, n / DEMO_FPS, DEMO_FPS):
        frames.append(renderer.draw(renderer.motion_for(face, t))[0])
    return frames[:n], DEMO_FPS


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _psnr(path: Path, frames: list[np.ndarray]) -> float:
    import av

    mse = []
    with av.open(str(path)) as c:
        for vf, ref in zip(c.decode(video=0), frames):
            diff = vf.to_ndarray(format="bgr24").astype(np.float64) - ref
            mse.append(float((diff ** 2).mean()))
    return 10 * np.log10(255 ** 2 / max(np.mean(mse), 1e-12))


def main(argv: list[str] | None = None) -> int:
    import cv2

    from puppet.outputs.video_writer import VideoWriter

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", type=int, default=1280)
    ap.add_argument("--portrait")
    args = ap.parse_args(argv)
    frames, fps = _frames(args.portrait, args.frames, args.size)
    h, w = frames[0].shape[:2]
    i420 = [cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420) for f in frames]
    print(f"{len(frames)} frames of {w}x{h}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, kwargs in CONFIGS:
            out = Path(tmp) / "o.mp4"
            writer = VideoWriter(out, w, h, fps, **kwargs)
            c0, t0 = _cpu(), time.perf_counter()
            for f in i420:
                writer.write(f)
            writer.close()
            cpu = (_cpu() - c0) / len(frames) * 1000
            wall = (time.perf_counter() - t0) / len(frames) * 1000
            kbps = out.stat().st_size / 1024 / (len(frames) / fps)
            print(f"{label:44s} cpu {cpu:6.2f} ms/frame  wall {wall:6.2f}  "
                  f"{kbps:6.0f} KB/s  PSNR {_psnr(out, frames):.2f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
