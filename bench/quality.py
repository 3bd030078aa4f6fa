#!/usr/bin/env python3
"""Judge rendered videos with the independent evaluator, for every portrait x driving clip.

    python bench/quality.py [--portraits s0,s9] [--clips d3,d18] [--max-frames N] [--out DIR]
                            [--mirror]

Renders each pair with `python -m puppet render` (this checkout), runs
../shared/eval/puppet_eval.py on the result and prints one row per pair plus the
averages; writes everything to DIR/quality.json.  Needs ../shared (sample data and
the evaluator), so it is a benchmark, not a test.

``--mirror`` drives every portrait with the clips flipped left to right instead (made
once, in DIR/mirrored/, with their sound and frame times), and judges each render
against its flipped clip.  Releases are judged on clips we have not seen; a flipped clip
is a cheap stand-in that the tuning has not seen either: each turn goes the other way
against a turned portrait, a one-sided smile, brow or wink moves to the other side of
the face, and the judge's tracker reads every frame afresh.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
KEYS = ["output_face_rate", "expression_score", "pose_score", "jitter_ratio",
        "cavity_ratio_driver", "cavity_ratio_output", "border_mad_max", "frame0_psnr_vs_portrait"]
CORR = ["mouth_open", "mouth_width", "eye_open", "brow_raise", "yaw", "pitch", "roll"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portraits", default="s0,s5,s9,s10,s12")
    ap.add_argument("--clips", default="d0,d3,d6,d9,d12,d18")
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("--out", default="/tmp/puppet-quality")
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--extra", default="", help="extra arguments for puppet render")
    ap.add_argument("--compare", help="an earlier run's quality.json: print each average's "
                    "change from it, over the pairs both have")
    ap.add_argument("--mirror", action="store_true",
                    help="drive with the clips flipped left to right (see above)")
    a = ap.parse_args()
    shared = Path(a.shared)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rows = []
    for p in a.portraits.split(","):
        for d in a.clips.split(","):
            portrait = shared / "data" / "portraits" / f"{p}.jpg"
            driving = shared / "data" / "driving" / f"{d}.mp4"
            if a.mirror:
                if not driving.exists():
                    print(f"{p} {d}: no driving clip {driving}")
                    continue
                driving = mirrored_clip(driving, out / "mirrored")
            video = out / f"{p}_{d}.mp4"
            cmd = [sys.executable, "-m", "puppet", "render", "--portrait", str(portrait),
                   "--driving", str(driving), "--output", str(video), "--device", "cpu"]
            if a.max_frames:
                cmd += ["--max-frames", str(a.max_frames)]
            cmd += a.extra.split()
            t0 = time.time()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{p} {d}: render failed: {r.stderr.strip().splitlines()[-1:]}")
                continue
            render_s = time.time() - t0
            ev = [sys.executable, str(shared / "eval" / "puppet_eval.py"), "--driving",
                  str(driving), "--output", str(video), "--portrait", str(portrait)]
            if a.max_frames:
                ev += ["--max-frames", str(a.max_frames)]
            r = subprocess.run(ev, capture_output=True, text=True)
            try:
                res = json.loads(r.stdout.strip().splitlines()[-1])
            except (json.JSONDecodeError, IndexError):
                print(f"{p} {d}: evaluation failed: {r.stderr[-300:]}")
                continue
            res.update(portrait=p, clip=d, render_seconds=round(render_s, 1))
            rows.append(res)
            corr = " ".join(f"{k[:5]}={res['corr'][k]:+.2f}" for k in CORR)
            print(f"{p:>4} {d:>4} face={res['output_face_rate']:.3f} "
                  f"expr={res['expression_score']:.3f} pose={res['pose_score']:.3f} "
                  f"jit={res['jitter_ratio']:.2f} "
                  f"cav={res.get('cavity_ratio_output', float('nan')):.2f}"
                  f"/{res.get('cavity_ratio_driver', float('nan')):.2f} "
                  f"border={res.get('border_mad_max', float('nan')):.2f} "
                  f"psnr0={res.get('frame0_psnr_vs_portrait', float('nan')):.1f}  {corr}",
                  flush=True)
    if not rows:
        return 1
    avg = {}
    for k in KEYS:
        vals = [r[k] for r in rows if k in r and not math.isnan(r[k])]
        avg[k] = round(sum(vals) / len(vals), 3) if vals else float("nan")
    for k in CORR:
        vals = [r["corr"][k] for r in rows if not math.isnan(r["corr"][k])]
        avg["corr_" + k] = round(sum(vals) / len(vals), 3) if vals else float("nan")
    worst = {k: min(r[k] for r in rows) for k in ("output_face_rate", "expression_score",
                                                     "pose_score")}
    groups = {}
    for key in ("clip", "portrait"):
        groups[key] = {}
        for name in sorted({r[key] for r in rows}):
            part = [r for r in rows if r[key] == name]
            groups[key][name] = {k: round(_mean([r[k] for r in part]), 3)
                                 for k in ("expression_score", "pose_score", "jitter_ratio")}
    print("average:", json.dumps(avg))
    print("worst:", json.dumps(worst))
    for key, by in groups.items():
        print(f"by {key}:", "; ".join(
            f"{name} expr {v['expression_score']:.3f} pose {v['pose_score']:.3f} "
            f"jit {v['jitter_ratio']:.2f}" for name, v in by.items()))
    (out / "quality.json").write_text(json.dumps({"rows": rows, "average": avg,
                                                  "worst": worst, "by": groups}, indent=1))
    if a.compare:
        compare(rows, json.loads(Path(a.compare).read_text())["rows"])
    return 0


def mirrored_clip(path: Path, folder: Path) -> Path:
    """``path`` flipped left to right, as ``folder/<name>``: each frame as
    :class:`puppet.sources.video.VideoFile` gives it (upright, a 4K clip at 1920) mirrored,
    at its own time where the clip's frame rate varies, and its sound as it was.  Made
    once: a copy newer than the clip is used as it is."""
    from puppet.outputs.video_writer import VideoWriter
    from puppet.sources.video import VideoFile, read_sound

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    sound, _ = read_sound(path)
    with VideoFile(path) as video:
        variable = not video.constant_rate()
        w, h = video.width, video.height
        with VideoWriter(target, w - w % 2, h - h % 2, video.rate, crf=14, audio=sound,
                         time_base=video.time_base if variable else None) as writer:
            for frame in video.frames():
                flipped = frame.image[: h - h % 2, ::-1][:, : w - w % 2]
                writer.write(np.ascontiguousarray(flipped), frame.time if variable else None)
    return target


def _mean(values: list[float]) -> float:
    """The mean of the values that are numbers (the judge gives NaN where it cannot
    measure)."""
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def compare(rows: list[dict], before: list[dict]) -> None:
    """Each average's change from an earlier run, over the pairs both runs have, and the
    pairs whose pose or expression moved most."""
    old = {(r["portrait"], r["clip"]): r for r in before}
    both = [(old[(r["portrait"], r["clip"])], r) for r in rows
            if (r["portrait"], r["clip"]) in old]
    if not both:
        print("compare: no pair in common")
        return

    print(f"compared with the earlier run over {len(both)} pairs (before -> now):")
    for k in ("expression_score", "pose_score", "jitter_ratio"):
        print(f"  {k:17s} {_mean([b[k] for b, _ in both]):.3f} -> "
              f"{_mean([n[k] for _, n in both]):.3f}")
    for k in CORR:
        print(f"  {k:17s} {_mean([b['corr'][k] for b, _ in both]):.3f} -> "
              f"{_mean([n['corr'][k] for _, n in both]):.3f}")
    for k in ("pose_score", "expression_score"):
        moved = sorted(both, key=lambda p: abs(p[1][k] - p[0][k]), reverse=True)[:5]
        print(f"  most moved, {k}: " + ", ".join(
            f"{n['portrait']}/{n['clip']} {b[k]:.3f} -> {n[k]:.3f}" for b, n in moved))


if __name__ == "__main__":
    raise SystemExit(main())
