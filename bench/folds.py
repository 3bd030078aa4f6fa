#!/usr/bin/env python3
"""Where the built-in warp folds: pixels at which its sampling map turns over.

    python bench/folds.py [--portraits s9,s10,s12] [--clips d3,d6] [--max-frames N] [--json PATH]

A backward warp that turns over shows the same part of the portrait twice, side by side
(a jagged cheek's edge, a doubled eye).  For each portrait x driving clip from
../shared/data this tracks the clip, retargets it and runs the generator's first half
(the warp field, as a render does on the CPU), then counts the pixels of the crop where
the sampling map's Jacobian is not positive, inside the open mouth (the mouth's layer
covers it) and outside it.  Prints a row per pair: frames with folds outside the mouth,
and the folded pixels a frame (mean, max).  Needs ../shared, so it is a benchmark.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from puppet import engine  # noqa: E402
from puppet.engine import FrameRenderer, StageTimes, load_portrait, track_step  # noqa: E402
from puppet.generators import base as generators  # noqa: E402
from puppet.generators.warp.dense import folded  # noqa: E402
from puppet.sources.video import VideoFile  # noqa: E402
from puppet.tracking import landmarks as lm  # noqa: E402
from puppet.tracking.mediapipe_tracker import FaceTracker  # noqa: E402


def pair(portrait_path: Path, clip: Path, max_frames: int) -> dict:
    portrait = load_portrait(str(portrait_path), engine.DEFAULT_SIZE, None, "whole")
    gen = generators.create("warp", "cpu")
    renderer = FrameRenderer(portrait, gen, None, fmt="yuv420p")
    prepared = renderer.prepared
    outside, inside = [], []
    with FaceTracker(video=True) as tracker:
        step = track_step(tracker, StageTimes(), None)
        for i, frame in enumerate(VideoFile(str(clip)).frames("rgb24")):
            if max_frames and i >= max_frames:
                break
            motion = renderer.motion_for_frame(step(frame))
            begun = renderer.begin_crop(motion)
            if begun is None:  # the neutral frame: the portrait itself
                outside.append(0)
                inside.append(0)
                continue
            fold = folded(prepared.drawer.sampling_map(begun[1][0]))
            mouth = np.zeros(fold.shape, np.uint8)
            lips = prepared.box.to_pixels(motion.landmarks[lm.LIPS, :2]).astype(np.int32)
            cv2.fillConvexPoly(mouth, cv2.convexHull(lips), 1)
            mouth = cv2.dilate(mouth, np.ones((15, 15), np.uint8)).astype(bool)
            outside.append(int((fold & ~mouth).sum()))
            inside.append(int((fold & mouth).sum()))
    out, ins = np.array(outside), np.array(inside)
    return {"portrait": portrait_path.stem, "clip": clip.stem, "frames": len(out),
            "hidden_points": len(getattr(getattr(prepared, "hidden", None), "index", ())),
            "frames_folded_outside_mouth": int((out > 0).sum()),
            "outside_mouth_mean": round(float(out.mean()), 1), "outside_mouth_max": int(out.max()),
            "inside_mouth_mean": round(float(ins.mean()), 1), "crop": prepared.box.res}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portraits", default="s9,s10,s12")
    ap.add_argument("--clips", default="d3,d6")
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--json", help="write the rows here too")
    a = ap.parse_args()
    data = Path(a.shared) / "data"
    rows = []
    for p in a.portraits.split(","):
        for d in a.clips.split(","):
            row = pair(data / "portraits" / f"{p}.jpg", data / "driving" / f"{d}.mp4",
                       a.max_frames)
            rows.append(row)
            print(f"{p:>4} {d:>4} crop {row['crop']}  hidden points {row['hidden_points']:3d}  "
                  f"frames folded outside the mouth {row['frames_folded_outside_mouth']:4d} "
                  f"of {row['frames']}  pixels a frame: mean {row['outside_mouth_mean']:7.1f} "
                  f"max {row['outside_mouth_max']:5d}  (inside the mouth: mean "
                  f"{row['inside_mouth_mean']:.1f})", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
