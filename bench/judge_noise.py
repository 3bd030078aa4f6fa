#!/usr/bin/env python3
"""How much of the judge's head-pose score is lost to its own tracking noise.

    python bench/judge_noise.py [--quality DIR] [--frames 8] [--copies 12] [--still 60]

The evaluator (../shared/eval/puppet_eval.py) correlates the head pose it reads on the
driving clip with the pose it reads on the rendered video.  Its face mesh reads a
painting less steadily than a filmed face, so on a clip where the head hardly turns
(a speaker looking into the camera) that noise alone keeps the correlation low,
whatever the render does.  This measures it:

* the noise: a few frames of each video are each shown to the evaluator's face mesh
  (video mode, as the evaluator runs it) as a short clip of copies moved by random
  sub-pixel amounts, the least a moving picture changes from frame to frame; the spread
  of yaw, pitch and roll it reads over those copies is its noise on that picture;
* the signal: the spread of the driver's own head pose over the clip (less the
  driver's noise);
* the ceiling: the correlation a render that reproduced the driver's pose exactly
  would get, given both noises, ``s^2 / sqrt((s^2 + n_d^2) (s^2 + n_o^2))``;
* the mouth's share: how much of the driver's pose, as read, goes with its mouth
  opening (the squared correlation).  Where the head hardly moves, the face mesh reads
  a mouth that opens as a head that nods a little, on the driver and on the render
  alike, each in its own way; a high share says the clip's "head pose" is largely that;
* the still jitter: the evaluator's jitter ratio for a video of the portrait that does
  not move at all (its first frame, repeated exactly), against the driver's jitter.  On
  some paintings its face mesh moves its landmarks from frame to frame over an
  unchanging picture, so a render cannot score below that, however steady it is.

DIR is a folder written by bench/quality.py (quality.json and the rendered videos);
each pair's measured correlation is printed beside its ceiling.  Needs ../shared and
mediapipe, so it is a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
AXES = ("yaw", "pitch", "roll")


def sample_frames(path: Path, samples: int) -> list[np.ndarray]:
    """``samples`` frames spread evenly over the video (only those are kept: a long
    render at full size would not fit in memory whole)."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.grab():
        count += 1
    cap.release()
    wanted = set(np.linspace(0, max(count - 1, 0), samples).round().astype(int).tolist())
    cap = cv2.VideoCapture(str(path))
    frames = []
    for i in range(count):
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            frames.append(frame)
    cap.release()
    return frames


def mesh():
    import mediapipe as mp

    # the evaluator's settings
    return mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1,
                                           refine_landmarks=True, min_detection_confidence=0.3,
                                           min_tracking_confidence=0.3)


def landmarks(fm, frame: np.ndarray) -> np.ndarray | None:
    h, w = frame.shape[:2]
    r = fm.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    if not r.multi_face_landmarks:
        return None
    return np.array([[p.x * w, p.y * h, p.z * w] for p in r.multi_face_landmarks[0].landmark])


def pose(pe, ref: np.ndarray, lm: np.ndarray) -> np.ndarray:
    return np.array(pe.euler(pe.kabsch(ref[pe.RIGID], lm[pe.RIGID])))


def noise(pe, frames: list[np.ndarray], copies: int, rng: np.random.Generator) -> np.ndarray:
    """Standard deviation of yaw, pitch, roll (degrees) read on sub-pixel-shifted copies
    of each of ``frames``, averaged over those frames."""
    spreads = []
    for frame in frames:
        h, w = frame.shape[:2]
        readings = []
        with mesh() as fm:
            for _ in range(copies + 1):
                dx, dy = rng.uniform(-0.5, 0.5, 2)
                moved = cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                lm = landmarks(fm, moved)
                if lm is not None:
                    readings.append(lm)
        if len(readings) > 3:
            # the first copy only finds the face; the rest are tracked, as in a video
            ref = readings[1]
            spreads.append(np.std([pose(pe, ref, lm) for lm in readings[1:]], axis=0))
    return np.mean(spreads, axis=0) if spreads else np.full(3, np.nan)


def jitter(pe, tracks: list) -> float:
    """The evaluator's jitter of a track: the mean absolute second difference of the
    landmarks (x, y in eye distances, about the centre of its rigid points); the same
    formula as its own, which is local to its main()."""
    found = [lm for lm in tracks if lm is not None]
    if len(found) < 3:
        return float("nan")
    arr = np.stack([lm[:, :2] / np.linalg.norm(lm[pe.L_EYE_OUT, :2] - lm[pe.R_EYE_OUT, :2])
                    for lm in found])
    arr = arr - arr[:, pe.RIGID].mean(axis=1, keepdims=True)
    return float(np.abs(np.diff(arr, 2, axis=0)).mean())


def still_jitter(pe, frame: np.ndarray, copies: int) -> float:
    """The evaluator's jitter over ``copies`` exact copies of one frame (video mode)."""
    with mesh() as fm:
        return jitter(pe, [landmarks(fm, frame) for _ in range(copies)])


def signal(pe, path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Standard deviation of the driver's yaw, pitch, roll over the clip, as the
    evaluator reads it (its own tracking), the share of each that goes with the
    mouth's opening (squared correlation), and the driver's jitter."""
    tracks, _ = pe.track(str(path))
    found = [lm for lm in tracks if lm is not None]
    rows = np.array([pose(pe, found[0], lm) for lm in found])
    mouth = np.array([pe.features(lm, found[0])["mouth_open"] for lm in found])
    share = np.array([np.corrcoef(rows[:, i], mouth)[0, 1] ** 2 if rows[:, i].std() > 0
                      and mouth.std() > 0 else 0.0 for i in range(3)])
    return rows.std(axis=0), share, jitter(pe, tracks)


def ceiling(measured: float, nd: float, no: float) -> float:
    s2 = max(measured ** 2 - nd ** 2, 1e-9)
    return s2 / math.sqrt((s2 + nd ** 2) * (s2 + no ** 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", default="/tmp/puppet-quality",
                    help="a folder written by bench/quality.py")
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--frames", type=int, default=8, help="frames sampled per video")
    ap.add_argument("--copies", type=int, default=12, help="shifted copies per frame")
    ap.add_argument("--still", type=int, default=60,
                    help="frames of the unmoving video the still jitter is read on")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    shared, folder = Path(a.shared), Path(a.quality)
    sys.path.insert(0, str(shared / "eval"))
    import puppet_eval as pe  # the evaluator's own kabsch, euler and rigid points

    rows = json.loads((folder / "quality.json").read_text())["rows"]
    rng = np.random.default_rng(0)
    drivers: dict[str, tuple[np.ndarray, np.ndarray, float, np.ndarray]] = {}
    stills: dict[str, float] = {}  # per portrait: the jitter of its unmoving video
    out = []
    print(f"{'pair':10s} {'axis':5s} {'driver sd':>9s} {'mouth':>6s} {'noise drv':>9s} "
          f"{'noise out':>9s} {'ceiling':>8s} {'measured':>8s}   (degrees)")
    for row in rows:
        p, d = row["portrait"], row["clip"]
        video = folder / f"{p}_{d}.mp4"
        if not video.exists():
            continue
        if d not in drivers:
            clip = shared / "data" / "driving" / f"{d}.mp4"
            drivers[d] = (*signal(pe, clip),
                          noise(pe, sample_frames(clip, a.frames), a.copies, rng))
        sd, share, jd, nd = drivers[d]
        frames = sample_frames(video, a.frames)
        no = noise(pe, frames, a.copies, rng)
        if p not in stills:  # frame 0 of a render is the portrait as it is
            stills[p] = still_jitter(pe, frames[0], a.still)
        entry = {"portrait": p, "clip": d, "still_jitter_ratio": round(stills[p] / jd, 3),
                 "jitter_ratio": row.get("jitter_ratio")}
        for i, axis in enumerate(AXES):
            c = ceiling(sd[i], nd[i], no[i])
            got = row["corr"].get(axis, float("nan"))
            entry[axis] = {"driver_sd": round(float(sd[i]), 3),
                           "mouth_share": round(float(share[i]), 3),
                           "noise_driver": round(float(nd[i]), 3),
                           "noise_output": round(float(no[i]), 3), "ceiling": round(c, 3),
                           "measured": got}
            print(f"{p + ' ' + d:10s} {axis:5s} {sd[i]:9.2f} {share[i]:6.2f} {nd[i]:9.2f} "
                  f"{no[i]:9.2f} {c:8.3f} {got:8.3f}")
        entry["pose_ceiling"] = round(float(np.mean([entry[x]["ceiling"] for x in AXES])), 3)
        entry["pose_score"] = row.get("pose_score")
        print(f"{p + ' ' + d:10s} jitter ratio of the portrait held still "
              f"{entry['still_jitter_ratio']:.2f}, of the render {row.get('jitter_ratio')}")
        out.append(entry)
    if out:
        print(f"\naverage over {len(out)} pairs: pose ceiling "
              f"{np.mean([e['pose_ceiling'] for e in out]):.3f}, measured pose score "
              f"{np.mean([e['pose_score'] for e in out]):.3f}")
        print(f"  jitter ratio: {np.mean([e['jitter_ratio'] for e in out]):.3f} measured; "
              f"{np.mean([e['still_jitter_ratio'] for e in out]):.3f} for the portraits "
              "held still")
        for p in stills:
            mine = [e for e in out if e["portrait"] == p]
            print(f"  {p}: held still, jitter ratio "
                  f"{min(e['still_jitter_ratio'] for e in mine):.2f}-"
                  f"{max(e['still_jitter_ratio'] for e in mine):.2f}; rendered "
                  f"{min(e['jitter_ratio'] for e in mine):.2f}-"
                  f"{max(e['jitter_ratio'] for e in mine):.2f}")
        for d in sorted(drivers, key=lambda k: int(k[1:]) if k[1:].isdigit() else 0):
            mine = [e for e in out if e["clip"] == d]
            sd, share, _, _ = drivers[d]
            print(f"  {d}: ceiling {np.mean([e['pose_ceiling'] for e in mine]):.3f}, "
                  f"measured {np.mean([e['pose_score'] for e in mine]):.3f}; the driver's "
                  f"yaw, pitch, roll spread {', '.join(f'{v:.2f}' for v in sd)} degrees, "
                  f"the mouth's share {', '.join(f'{v:.2f}' for v in share)}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
