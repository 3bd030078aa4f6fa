"""Smoke test of the built desktop bundle (build.spec): does ``dist/puppet/puppet`` work
on its own, with no Python package in sight?

    python tools/bundle_smoke.py [dist/puppet] [--driving VIDEO] [--keep]

Every command runs the bundle's executable in an empty temporary folder (outside the
checkout) with an empty environment: ``PATH=/usr/bin:/bin`` and ``HOME`` set to that folder,
nothing else (no PYTHONPATH, no virtual environment), as ``env -i`` would. It runs:

* ``doctor``: exit code 0, everything needed on the CPU fine, the bundle's own executable
  as Python, every package found;
* ``demo --seconds 2``: a valid H.264 MP4 of 2 s x 25 fps = 50 frames in which the portrait
  moves;
* ``render``: a built-in portrait driven by that demo video (or by --driving VIDEO), 30
  frames: a valid H.264 MP4 with one output frame per driving frame at the driving frame
  rate, a face found in every driving frame, and the portrait moving;
* ``render`` of a HEIC photo (``tests/data/grid.heic``, a grid of tiles) as the portrait,
  checked as the render above: the bundle's FFmpeg has the HEVC decoder the photo needs;
* ``gui --quit-after 3 --screenshot`` with QT_QPA_PLATFORM=offscreen: exit code 0 and a PNG
  of the window that is not blank;
* two mistakes a user can make (a missing portrait; export-model, whose ONNX package is left
  out of the bundle): exit code 2 and one line that says what to do, no traceback.

Start-up time to the first frame: from launching ``puppet demo`` until its progress bar
reports the first frame rendered (the built-in portrait found, the model loaded, one frame
generated, composed and handed to the H.264 encoder); ``--startup-runs N`` repeats it.

The checks read the outputs with PyAV and OpenCV from the Python that runs this script
(the build's virtual environment has both); the bundle itself never sees them. Exit code 0
when every check passes; the figures are printed, and written as JSON with ``--json``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_SECONDS = 2.0
DEMO_FPS = 25.0
RENDER_FRAMES = 30
MIN_MOTION = 20.0  # grey levels; a still portrait stays below 2 (encoding noise)


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    problems: list[str] = field(default_factory=list)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), **extra}


def run(exe: Path, args: list[str], cwd: Path, env: dict[str, str],
        timeout: float = 300.0) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    p = subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


def time_to_first_frame(exe: Path, cwd: Path, env: dict[str, str]) -> float | None:
    """Seconds from launching ``puppet demo`` until its progress bar reports frame 1 (it
    prints that line as soon as the first frame is handed to the encoder); None when the
    run fails."""
    t0 = time.perf_counter()
    p = subprocess.Popen([str(exe), "demo", "--seconds", "1", "--output", "startup.mp4"],
                         cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, bufsize=1)
    first = None
    assert p.stderr is not None
    for line in p.stderr:
        if first is None and line.startswith("Rendering demo") and "| 1/" in line:
            first = time.perf_counter() - t0
    return first if p.wait() == 0 else None


def probe(path: Path) -> tuple[str, int, float, tuple[int, int], float]:
    """(codec, frames decoded, frame rate, (width, height), motion) of an MP4's video;
    motion: how far the picture moves from its first frame, the largest over the frames of
    the 99th percentile of the grey-level differences."""
    import av
    import numpy as np

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        rate = float(stream.average_rate or 0)
        size = (stream.codec_context.width, stream.codec_context.height)
        frames, first, motion = 0, None, 0.0
        for frame in container.decode(stream):
            grey = frame.to_ndarray(format="gray").astype(np.int16)
            first = grey if first is None else first
            motion = max(motion, float(np.percentile(np.abs(grey - first), 99)))
            frames += 1
    return codec, frames, rate, size, motion


def check_video(path: Path, frames: int, fps: float, problems: list[str]) -> str:
    if not path.is_file() or path.stat().st_size == 0:
        problems.append(f"{path.name} was not written")
        return ""
    try:
        codec, got, rate, size, motion = probe(path)
    except Exception as exc:  # noqa: BLE001 - any failure to read it is the finding
        problems.append(f"{path.name} cannot be read: {exc}")
        return ""
    if codec != "h264":
        problems.append(f"{path.name} is {codec}, not H.264")
    if got != frames:
        problems.append(f"{path.name} has {got} frames, not {frames}")
    if abs(rate - fps) > 0.01:
        problems.append(f"{path.name} runs at {rate:g} fps, not {fps:g}")
    if motion < MIN_MOTION:
        problems.append(f"the portrait in {path.name} does not move (motion {motion:.0f})")
    return (f"{path.name}: {codec}, {got} frames at {rate:g} fps, {size[0]}x{size[1]}, "
            f"motion {motion:.0f}")


def check_png(path: Path, problems: list[str]) -> str:
    if not path.is_file() or path.stat().st_size == 0:
        problems.append(f"no screenshot at {path}")
        return ""
    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        problems.append(f"{path.name} is not a PNG")
        return ""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        problems.append(f"{path.name} cannot be decoded")
        return ""
    h, w = image.shape[:2]
    spread = float(image.std())
    if w < 400 or h < 300 or spread < 10:
        problems.append(f"{path.name} looks empty ({w}x{h}, spread {spread:.1f})")
    return f"{path.name}: {w}x{h} PNG, {path.stat().st_size // 1024} KiB, spread {spread:.0f}"


def one_line_error(code: int, err: str, problems: list[str], what: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("puppet: ")]
    if code != 2:
        problems.append(f"{what}: exit code {code}, not 2")
    if "Traceback" in err or not lines or not lines[-1].startswith("puppet: error: "):
        problems.append(f"{what}: no one-line error: {err.strip()[-300:]}")
    return lines[-1] if lines else ""


def smoke(bundle: Path, work: Path, driving: Path | None, startup_runs: int) -> dict:
    exe = bundle.resolve() / "puppet"  # the commands run in the work folder
    if not exe.is_file():
        raise SystemExit(f"no bundle at {exe}: build it first (pyinstaller build.spec)")
    env = clean_env(work)
    steps: list[Step] = []

    # doctor
    code, out, err, secs = run(exe, ["doctor"], work, env)
    problems = [] if code == 0 else [f"exit code {code}"]
    for needle in ("Everything Puppet needs to run on the CPU is fine", "ok    CPU provider",
                   "ok    imports", f"inside the desktop bundle ({exe.resolve()})"):
        if needle not in out:
            problems.append(f"doctor did not say {needle!r}")
    problems += [f"doctor: {ln.strip()}" for ln in out.splitlines()
                 if ln.strip().startswith("FAIL") or "not installed" in ln]
    steps.append(Step("doctor", not problems, secs, out.splitlines()[-1] if out else err,
                      problems))

    # demo
    demo = work / "demo.mp4"
    code, out, err, secs = run(exe, ["demo", "--seconds", f"{DEMO_SECONDS:g}", "--output",
                                     demo.name], work, env)
    problems = [] if code == 0 else [f"exit code {code}: {err.strip()[-300:]}"]
    detail = check_video(demo, int(round(DEMO_SECONDS * DEMO_FPS)), DEMO_FPS, problems)
    steps.append(Step("demo", not problems, secs, detail, problems))

    # render: a built-in portrait driven by the demo video (a real face moving) or VIDEO
    portrait = work / "portrait.jpg"
    shutil.copy(REPO / "assets" / "portraits" / "grace_sepia.jpg", portrait)
    source = work / ("driving" + (driving.suffix if driving else ".mp4"))
    if driving is not None or demo.is_file():
        shutil.copy(driving or demo, source)
    out_mp4 = work / "render.mp4"
    problems = []
    detail = ""
    if not source.is_file():
        problems.append("no driving video (the demo failed)")
        secs = 0.0
    else:
        code, out, err, secs = run(exe, ["render", "--portrait", portrait.name, "--driving",
                                         source.name, "--output", out_mp4.name, "--max-frames",
                                         str(RENDER_FRAMES), "--size", "640"], work, env)
        if code != 0:
            problems.append(f"exit code {code}: {err.strip()[-300:]}")
        else:
            _, n_drv, fps_drv, _, _ = probe(source)
            detail = check_video(out_mp4, min(RENDER_FRAMES, n_drv), fps_drv, problems)
            if "no face in" in err:
                problems.append("faces were missed: " + next(
                    ln for ln in err.splitlines() if "no face in" in ln))
    steps.append(Step("render", not problems, secs, detail, problems))

    # a phone's HEIC photo as the portrait: the bundle's FFmpeg decodes its HEVC tiles
    heic = work / "photo.heic"
    shutil.copy(REPO / "tests" / "data" / "grid.heic", heic)
    problems, detail = [], ""
    if not source.is_file():
        problems.append("no driving video (the demo failed)")
        secs = 0.0
    else:
        code, out, err, secs = run(exe, ["render", "--portrait", heic.name, "--driving",
                                         source.name, "--output", "heic.mp4", "--max-frames",
                                         str(RENDER_FRAMES)], work, env)
        if code != 0:
            problems.append(f"exit code {code}: {err.strip()[-300:]}")
        else:
            _, n_drv, fps_drv, _, _ = probe(source)
            detail = check_video(work / "heic.mp4", min(RENDER_FRAMES, n_drv), fps_drv,
                                 problems)
    steps.append(Step("render heic", not problems, secs, detail, problems))

    # the window, offscreen
    shot = work / "window.png"
    code, out, err, secs = run(exe, ["gui", "--quit-after", "3", "--screenshot", shot.name],
                               work, clean_env(work, QT_QPA_PLATFORM="offscreen"))
    problems = [] if code == 0 else [f"exit code {code}: {err.strip()[-300:]}"]
    detail = check_png(shot, problems)
    steps.append(Step("gui", not problems, secs, detail, problems))

    # mistakes: one line each, exit code 2
    problems = []
    code, _, err, secs = run(exe, ["render", "--portrait", "missing.jpg", "--driving",
                                   source.name, "--output", "x.mp4"], work, env)
    first = one_line_error(code, err, problems, "render with a missing portrait")
    code, _, err, more = run(exe, ["export-model", "--output", str(work)], work, env)
    second = one_line_error(code, err, problems, "export-model")
    steps.append(Step("errors", not problems, secs + more, f"{first} / {second}", problems))

    # start-up time to the first frame
    startup = []
    for _ in range(startup_runs):
        seconds = time_to_first_frame(exe, work, env)
        if seconds is not None:
            startup.append(seconds)
    problems = [] if len(startup) == startup_runs else ["a start-up run failed"]
    detail = (f"first frame after {statistics.median(startup):.2f} s (median of "
              f"{len(startup)}: {', '.join(f'{s:.2f}' for s in startup)})") if startup else ""
    steps.append(Step("startup", not problems, sum(startup), detail, problems))

    leaked = sorted(p.name for p in work.iterdir()
                    if p.name.startswith(".") and p.name.endswith(".part"))
    if leaked:
        steps.append(Step("leftovers", False, 0.0, "", [f"left behind: {', '.join(leaked)}"]))
    return {"bundle": str(bundle.resolve()), "work": str(work),
            "startup_seconds": startup, "steps": [asdict(s) for s in steps],
            "ok": all(s.ok for s in steps)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(REPO / "dist" / "puppet"),
                        help="the built bundle's folder (default dist/puppet)")
    parser.add_argument("--driving", help="a video of a face to render from (default: the "
                                          "demo video the bundle has just made)")
    parser.add_argument("--startup-runs", type=int, default=3,
                        help="how often to measure the start-up time (default 3)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="puppet-bundle-smoke-"))
    if REPO in work.parents:
        raise SystemExit("the temporary folder must be outside the checkout")
    try:
        result = smoke(Path(args.bundle), work, Path(args.driving).resolve()
                       if args.driving else None, max(1, args.startup_runs))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for s in result["steps"]:
        print(f"{'ok  ' if s['ok'] else 'FAIL'} {s['name']:<9} {s['seconds']:6.1f} s  "
              f"{s['detail']}")
        for problem in s["problems"]:
            print(f"       {problem}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print("bundle smoke test: " + ("passed" if result["ok"] else "FAILED")
          + (f" (kept {work})" if args.keep else ""))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
