"""The ``puppet`` command."""
from __future__ import annotations

import argparse
import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from puppet import __version__
from puppet.errors import PuppetError, by_ctrl_c
from puppet.files import file_to_write


def _add_render_options(p: argparse.ArgumentParser, size: int = 1280) -> None:
    p.add_argument("--size", type=int, default=size, metavar="N",
                   help=f"longest side of the output in pixels (default {size}; never enlarged)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the generator runs (default auto: CUDA when it works)")
    p.add_argument("--expression", type=float, default=1.0, metavar="GAIN",
                   help="intensity of every expression, 0..2 (default 1)")
    p.add_argument("--mouth", type=float, default=1.0, metavar="GAIN",
                   help="intensity of the mouth and jaw, on top of --expression, "
                        "0..2 (default 1)")
    p.add_argument("--eyes", type=float, default=1.0, metavar="GAIN",
                   help="intensity of blinks and gaze, on top of --expression, "
                        "0..2 (default 1)")
    p.add_argument("--brows", type=float, default=1.0, metavar="GAIN",
                   help="intensity of the brows, on top of --expression, "
                        "0..2 (default 1)")
    p.add_argument("--head", type=float, default=1.0, metavar="GAIN",
                   help="head-motion intensity, 0..2 (default 1)")
    p.add_argument("--smoothing", type=float, default=0.3, metavar="S",
                   help="landmark smoothing, 0 (none) .. 1 (heavy) (default 0.3)")


def _face_number(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a face number (1 is the leftmost face)")
    return n


def _frame_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:  # 0 or less rendered the whole clip, the opposite of what was asked
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of frames (1 or more)")
    return n


def _track_threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 16:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of trackers from 1 to 16")
    return n


def _add_face_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--face", type=_face_number, default=None, metavar="N",
                   help="in a portrait with several faces (a group photo), the one that moves: "
                        "1 is the leftmost (default: the largest)")
    p.add_argument("--framing", choices=("whole", "head"), default=None,
                   help="the whole portrait (default), or a head-and-shoulders crop around "
                        "its face (for a full-length painting, whose face is small)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="puppet",
        description="Bring still portraits to life: a portrait moves with a face on video.",
        epilog="Run 'puppet COMMAND --help' for a command's options. With no command, "
               "Puppet opens its window, or renders the demo where there is no display.")
    parser.add_argument("--version", action="version", version=f"puppet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("render", help="render a portrait driven by a video or a performance",
                       description="Render PORTRAIT moving with the face in the driving video, "
                                   "or with a recorded performance (.performance file, with "
                                   "its sound). Output frame i follows driving frame i; frame "
                                   "0 is the portrait itself.")
    p.add_argument("--portrait", required=True, nargs="+", metavar="IMAGE",
                   help="the portrait image (several: each is rendered)")
    p.add_argument("--driving", required=True, nargs="+", metavar="VIDEO",
                   help="a video of a face, or a .performance file (several: each drives "
                        "each portrait)")
    p.add_argument("--output", required=True, metavar="OUT.mp4|FOLDER",
                   help="the H.264 MP4 to write, or a folder to write it in (named after the "
                        "portrait and the driving clip, never replacing a file); a folder "
                        "(made where missing) when several are rendered, or when it ends "
                        "in /")
    p.add_argument("--max-frames", type=_frame_count, default=None, metavar="N",
                   help="render only the first N driving frames (default: all)")
    p.add_argument("--start", type=float, default=0.0, metavar="SECONDS",
                   help="begin at this time of the driving video, its sound too (default 0); "
                        "with --max-frames, a part of a long clip")
    _add_face_option(p)
    p.add_argument("--driver-face", type=_face_number, default=None, metavar="N",
                   help="in a driving video of several people, the one who drives: 1 is the "
                        "leftmost where faces first appear (default: the largest)")
    p.add_argument("--track-threads", type=_track_threads, default=None, metavar="N",
                   help="track the driving video's 10-second chunks with N trackers at once, "
                        "for a faster render on many cores (default: 1 below 8 cores, else "
                        "a quarter of them, at most 4)")
    _add_render_options(p)

    p = sub.add_parser("demo", help="render the built-in portrait with a built-in performance",
                       description="Needs no webcam and no data: renders the built-in portrait "
                                   "driven by a built-in performance (talk, blink, smile, nod, "
                                   "turn).")
    p.add_argument("--output", default="demo.mp4", metavar="OUT.mp4",
                   help="where to write the video (default demo.mp4)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="length of the performance (default 10)")
    _add_render_options(p)

    p = sub.add_parser("live", help="drive a portrait live from a camera or a video, headless",
                       description="Runs the live engine without a window: the portrait moves "
                                   "with the face from a camera (or a video file played at its "
                                   "own frame rate, like a camera). Stops after --duration, at "
                                   "the end of a video, on Ctrl+C or on SIGTERM; can record "
                                   "the portrait (--record), send it to a virtual camera "
                                   "(--virtual-camera) or stream it (--stream), and write its "
                                   "figures (fps, latency, stage timings) to a JSON file.")
    p.add_argument("--source", required=True, metavar="CAMERA|VIDEO|demo",
                   help="a camera number (0, 1 ...; 'camera' is the first), a video file, "
                        "or 'demo' for the built-in performance")
    p.add_argument("--portrait", default=None, metavar="IMAGE",
                   help="the portrait image (default: the built-in portrait)")
    _add_face_option(p)
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this many seconds (default: at the end of a video, or on "
                        "Ctrl+C)")
    p.add_argument("--loop", action="store_true", help="play a video source again at its end")
    p.add_argument("--stats", default=None, metavar="STATS.json",
                   help="write frames shown, fps, latency and stage timings to this JSON file")
    p.add_argument("--no-mirror", dest="mirror", action="store_false",
                   help="do not mirror a camera's picture")
    p.add_argument("--record", default=None, metavar="PATH.mp4|FOLDER",
                   help="record the portrait (H.264 MP4 with the microphone's sound, and the "
                        "driver's .performance file beside it) to this file, or into this "
                        "folder with a timestamped name")
    p.add_argument("--virtual-camera", action="store_true",
                   help="send the portrait to a virtual camera for call apps (needs "
                        "v4l2loopback on Linux, OBS elsewhere)")
    p.add_argument("--vcam-size", default="1280x720", metavar="WxH",
                   help="the virtual camera's picture size (default 1280x720)")
    p.add_argument("--vcam-fps", type=float, default=30.0, metavar="FPS",
                   help="the virtual camera's frame rate (default 30)")
    p.add_argument("--vcam-fit", choices=("letterbox", "crop", "face"), default="letterbox",
                   help="letterbox: the whole portrait with black bars (default); crop: fill "
                        "the picture, the face kept in view; face: a close-up of the face "
                        "(head and shoulders, as a call shows a person)")
    p.add_argument("--stream", type=int, default=None, metavar="PORT",
                   help="serve the portrait as an MJPEG stream over HTTP on this port "
                        "(0: any free port); open http://127.0.0.1:PORT/ in a browser")
    p.add_argument("--stream-host", default="127.0.0.1", metavar="ADDRESS",
                   help="the address the stream listens on (default 127.0.0.1: this computer "
                        "only; 0.0.0.0 makes it reachable from the network)")
    _add_render_options(p, size=960)

    p = sub.add_parser("gui", help="open the window",
                       description="Opens Puppet's window: the portrait moves with your face on "
                                   "the camera. Options choose the source and the portrait for "
                                   "this run; --quit-after and --screenshot are for scripted "
                                   "checks and demos.")
    p.add_argument("--source", default=None, metavar="CAMERA|VIDEO|demo",
                   help="a camera number ('camera' is the first), a video file (played "
                        "in a loop) or 'demo'")
    p.add_argument("--portrait", default=None, metavar="IMAGE", help="the portrait to show")
    _add_face_option(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="where the generator runs (default: as last time, else auto)")
    p.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                   help="close the window after this many seconds")
    p.add_argument("--screenshot", default=None, metavar="PATH.png",
                   help="save a picture of the window just before it closes (needs --quit-after)")
    p.add_argument("--fullscreen", action="store_true", help="start with the portrait fullscreen")

    p = sub.add_parser("recover", help="rescue recordings cut off by a crash",
                       description="Finish the recordings (MP4 and performance files) that a "
                                   "crashed or killed Puppet left in FOLDER. Recordings still "
                                   "running are left alone.")
    p.add_argument("folder", nargs="?", default=None, metavar="FOLDER",
                   help="the recordings folder (default: the standard one, "
                        "e.g. ~/Videos/Puppet)")

    p = sub.add_parser("bench", help="measure speed and memory, stage by stage, per provider",
                       description="Measures decode + tracking alone, 'puppet render' end to "
                                   "end (median and p95 of every stage), the generator alone, "
                                   "peak memory and a live-like session, on the CPU and on "
                                   "CUDA where it works. With no inputs it uses the built-in "
                                   "portrait and a driving clip synthesised from the built-in "
                                   "performance.")
    p.add_argument("--portrait", metavar="IMAGE", help="the portrait (default: built-in)")
    p.add_argument("--driving", metavar="VIDEO",
                   help="a video of a face (default: synthesised from the built-in performance)")
    p.add_argument("--frames", type=int, metavar="N",
                   help="use at most N driving frames (default: all; 250 when synthesised)")
    p.add_argument("--size", type=int, default=1280, metavar="N",
                   help="longest side of the output in pixels (default 1280)")
    p.add_argument("--device", choices=("all", "auto", "cpu", "cuda"), default="all",
                   help="providers to measure (default all: the CPU, and CUDA where it works)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="onnxruntime threads on the CPU (default: half the cores)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="runs of decode + track alone and of a render per provider; every "
                        "run's fps is reported and the medians compared (default 1)")
    p.add_argument("--live-seconds", type=float, default=10.0, metavar="S",
                   help="length of the live-like session, 0 to skip it (default 10)")
    p.add_argument("--plain", action="store_true",
                   help="run the generator with plain session.run calls (no I/O binding), "
                        "for comparison")
    p.add_argument("--track-threads", type=_track_threads, default=None, metavar="N",
                   help="trackers at once in the render and in decode + track alone, as for "
                        "puppet render (default: 1 below 8 cores, else a quarter of them, "
                        "at most 4)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")

    sub.add_parser("doctor", help="check what is installed and what works, with fixes",
                   description="Checks packages and their versions (and the duplicates that "
                               "break them), the onnxruntime providers (by running the model "
                               "on them), GPUs, cameras, the virtual-camera backend and audio, "
                               "and says how to fix each problem. The exit code is 0 when "
                               "everything needed to run on the CPU is fine.")

    p = sub.add_parser("export-model", help="re-create the built-in generator's ONNX files",
                       description="Exports the built-in warp generator from its source in "
                                   "puppet/generators/warp/model.py.")
    p.add_argument("--output", default=None, metavar="PATH",
                   help="folder to write them to (default: the package's onnx_models/)")
    return parser


def _settings(args: argparse.Namespace):
    from puppet.motion.retarget import RetargetSettings

    for name in ("expression", "mouth", "eyes", "brows", "head"):
        value = getattr(args, name)
        if not 0.0 <= value <= 2.0:  # as the window's sliders go; help and README say so
            raise PuppetError(f"--{name} {value:g} is out of range",
                              "give 0 (none) to 2 (twice as strong); 1 copies it as it is")
    if not 0.0 <= args.smoothing <= 1.0:
        raise PuppetError(f"--smoothing {args.smoothing:g} is out of range",
                          "give 0 (none) to 1 (heavy)")
    try:
        return RetargetSettings(expression=args.expression, head=args.head, mouth=args.mouth,
                                eyes=args.eyes, brows=args.brows, smoothing=args.smoothing)
    except ValueError as exc:
        raise PuppetError(str(exc), "see 'puppet render --help'") from exc


def _print_report(report, what: str) -> None:
    missing = (f", no face in {report.frames_without_face} driving frames (held the last pose)"
               if report.frames_without_face else "")
    sound = ", with sound" if getattr(report, "sound", False) else ""
    print(f"Wrote {report.output} ({report.frames} frames at {report.video_fps:g} fps{sound}"
          f"{missing})", file=sys.stderr)
    note = getattr(report, "sound_note", "")
    if note and getattr(report, "sound", False):  # damaged part-way: silent from there
        print(f"Sound: the driving video's {note.removeprefix('its ')}; the rest is silent",
              file=sys.stderr)
    elif note:
        print(f"Without sound: the driving video's {note.removeprefix('its ')}",
              file=sys.stderr)
    faces = getattr(report, "portrait_faces", 1)
    if faces > 1:
        print(f"The portrait shows {faces} faces; face {report.face_number} from the left moved. "
              f"Choose another with --face N (1 to {faces}).", file=sys.stderr)
    if getattr(report, "small_face", False):
        print("The face is a small part of this portrait: --framing head renders a "
              "head-and-shoulders crop around it.", file=sys.stderr)
    where = report.provider.label
    note = report.generator_note
    if note and (report.provider.device == "cuda" or note.startswith("no ")):
        where += f", {note}"  # a CUDA graph, or why not
    trackers = getattr(report, "track_threads", 1)
    tracked = f", {trackers} trackers at once" if trackers > 1 else ""
    print(f"{what}: {report.frames} frames in {report.seconds:.1f} s, {report.fps:.1f} fps, "
          f"generator on {where}{tracked}", file=sys.stderr)


def _stop_signals() -> list:
    """The signals that end a command the way Ctrl+C does: SIGTERM (``kill``) and SIGHUP
    (the terminal closed), where the system has them."""
    import signal

    return [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
            if s is not None]


def _sigterm_is_ctrl_c() -> Callable[[], None]:
    """SIGTERM and SIGHUP stop a command the way Ctrl+C does: ``puppet live``'s outputs
    finished and its figures written, a render's unfinished file removed (killed by them
    unhandled, it left its hidden part file behind).  Returns what puts the old handlers
    back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum, frame) -> None:
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, stop) for sig in _stop_signals()}

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return restore


def _stops_like_ctrl_c(command: Callable[[argparse.Namespace], int]
                       ) -> Callable[[argparse.Namespace], int]:
    """A command that SIGTERM and SIGHUP end as Ctrl+C does (see _sigterm_is_ctrl_c)."""
    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        restore = _sigterm_is_ctrl_c()
        try:
            return command(args)
        finally:
            restore()
    return run


@_stops_like_ctrl_c
def cmd_render(args: argparse.Namespace) -> int:
    from puppet.engine import render_file
    from puppet.files import render_path
    from puppet.generators import base as generators
    from puppet.progress import ProgressBar

    settings = _settings(args)
    if not 0 <= args.start < 24 * 3600:
        raise PuppetError(f"--start {args.start:g} is out of range",
                          "give the seconds into the driving video to begin at, 0 or more")
    pairs = [(p, d) for p in args.portrait for d in args.driving]
    folder = Path(args.output)
    # a name ending in a slash is a folder, made where missing, as for several renders
    as_folder = args.output.endswith(("/", os.sep))
    if len(pairs) == 1 and not as_folder and not folder.is_dir() and \
            folder.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise PuppetError(f"--output {args.output} is neither an .mp4 file nor a folder",
                          f"give a file name like out.mp4, or a folder ({args.output}/ "
                          f"is made if it does not exist)")
    if as_folder and folder.exists() and not folder.is_dir():
        raise PuppetError(f"--output {args.output} ends in a slash, so it is a folder, but "
                          f"{folder} is a file", "give a folder, or the file name without "
                          "the slash")
    if as_folder and not folder.exists() and folder.suffix.lower() in (".mp4", ".m4v", ".mov"):
        raise PuppetError(f"--output {args.output} ends in a slash, so it is a folder, but is "
                          "named like a video file", f"give {folder} for the file, or another "
                          "folder name")
    if len(pairs) > 1 or as_folder:
        if not as_folder and (folder.suffix.lower() in (".mp4", ".m4v", ".mov") or
                              (folder.exists() and not folder.is_dir())):
            raise PuppetError(f"{len(pairs)} renders make {len(pairs)} files, so --output "
                              f"{args.output} should be a folder",
                              "give a folder; each file is named after its portrait and clip")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PuppetError(f"cannot create the folder {folder}: {exc.strerror or exc}",
                              "give a folder you can write in") from exc

    def say_provider(info) -> None:
        print(f"Generator runs on {info.label}", file=sys.stderr)

    generator = None  # one render makes its own, after checking its inputs
    if len(pairs) > 1:  # several share one
        generator = generators.create("warp", args.device)
        say_provider(generator.info)
    failed: list[str] = []
    for k, (portrait, driving) in enumerate(pairs, 1):
        output = str(render_path(folder, portrait, driving)) if folder.is_dir() else args.output
        if len(pairs) > 1:
            print(f"[{k}/{len(pairs)}] {portrait} driven by {driving}", file=sys.stderr)
        bar = ProgressBar("Rendering")
        try:
            report = render_file(portrait, driving, output, size=args.size, device=args.device,
                                 settings=settings, progress=bar, generator=generator,
                                 on_provider=None if generator else say_provider,
                                 max_frames=args.max_frames or 0, face=args.face,
                                 driver_face=args.driver_face, start=args.start,
                                 framing=args.framing or "whole",
                                 track_threads=args.track_threads)
        except PuppetError as exc:
            if len(pairs) == 1:
                raise
            bar.finish()
            print(f"puppet: error: {exc.message}", file=sys.stderr)
            failed.append(f"{Path(portrait).name} with {Path(driving).name}")
            continue
        finally:
            bar.finish()
        _print_report(report, "Rendered")
    if failed:
        print(f"puppet: {len(failed)} of {len(pairs)} renders failed: {'; '.join(failed)}",
              file=sys.stderr)
        return 2
    return 0


@_stops_like_ctrl_c
def cmd_demo(args: argparse.Namespace) -> int:
    from puppet.demo import render_demo
    from puppet.progress import ProgressBar

    settings = _settings(args)
    bar = ProgressBar("Rendering demo")
    try:
        report = render_demo(args.output, seconds=args.seconds, size=args.size,
                             device=args.device, settings=settings, progress=bar,
                             on_provider=lambda info: print(f"Generator runs on {info.label}",
                                                            file=sys.stderr))
    finally:
        bar.finish()
    _print_report(report, "Demo")
    print(f"Open {Path(report.output).resolve()} to watch the demo.")
    return 0


def _vcam_settings(args: argparse.Namespace):
    from puppet.outputs.virtual_camera import VirtualCameraSettings

    try:
        w, h = (int(v) for v in args.vcam_size.lower().split("x"))
        return VirtualCameraSettings(width=w, height=h, fps=args.vcam_fps, fit=args.vcam_fit)
    except ValueError as exc:
        raise PuppetError(f"--vcam-size {args.vcam_size} / --vcam-fps {args.vcam_fps:g} is "
                          "not a camera format", "give e.g. --vcam-size 1280x720 --vcam-fps 30"
                          ) from exc


def _stream_settings(args: argparse.Namespace):
    from puppet.outputs.stream import StreamSettings

    try:
        return StreamSettings(port=args.stream, host=args.stream_host)
    except ValueError as exc:
        raise PuppetError(f"--stream {args.stream} is not a port", "use 1024 to 65535, or 0 "
                          "for any free port") from exc


class _Finishing:
    """While the outputs are finished, Ctrl+C and SIGTERM wait instead of cutting the
    recording off (SIGKILL still ends the process; 'puppet recover' rescues the files)."""

    def __init__(self, recording: bool):
        import signal
        import threading

        self.signals = [signal.SIGINT, *_stop_signals()]
        self.old: dict = {}
        self.recording = recording
        self.active = threading.current_thread() is threading.main_thread()
        self.told = False

    def _wait(self, signum, frame) -> None:
        if not self.told and self.recording:
            self.told = True
            print("\npuppet: finishing the recording, one moment...", file=sys.stderr,
                  flush=True)

    def __enter__(self) -> _Finishing:
        import signal

        if self.active:
            for sig in self.signals:
                self.old[sig] = signal.signal(sig, self._wait)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, handler in self.old.items():
            signal.signal(sig, handler)


@_stops_like_ctrl_c
def cmd_live(args: argparse.Namespace) -> int:
    from puppet.live import LiveEngine
    from puppet.session import LiveOutputs, recording_audio, recording_target
    from puppet.sources.live import parse_source

    settings = _settings(args)
    if args.duration is not None and not 0 < args.duration <= 24 * 3600:
        raise PuppetError(f"--duration {args.duration:g} is out of range",
                          "give a number of seconds above 0")
    stats_path = file_to_write(args.stats, "--stats") if args.stats else None
    if args.face is not None and not args.portrait:
        raise PuppetError("--face chooses a face of the portrait given with --portrait",
                          "name the group portrait with --portrait as well")
    spec = parse_source(args.source, loop=args.loop)
    if spec.kind == "video" and args.duration is None and args.loop:
        raise PuppetError("--loop plays the video forever", "give --duration SECONDS as well, "
                          "or stop it with Ctrl+C")
    # mistakes in the outputs' options are known before anything slow starts
    record = recording_target(args.record) if args.record else None
    audio = recording_audio() if record else None
    vcam = _vcam_settings(args) if args.virtual_camera else None
    stream = _stream_settings(args) if args.stream is not None else None

    engine = LiveEngine(size=args.size, device=args.device, settings=settings,
                        mirror=args.mirror, framing=args.framing or "whole")
    outputs = LiveOutputs(engine)
    try:
        return _run_live(args, engine, outputs, spec, settings, stats_path, record, audio,
                         vcam, stream)
    finally:  # an error or Ctrl+C on the way: the recording is finished all the same
        with _Finishing(outputs.recording):
            outputs.close()
            engine.stop()


def _run_live(args: argparse.Namespace, engine, outputs, spec, settings,
              stats_path: Path | None, record, audio, vcam, stream) -> int:
    import dataclasses
    import json

    from puppet.live import BUILTIN_PREFIX, ENDED, SOURCE_FAILED
    from puppet.session import recording_audio, stream_reach

    if stream is not None:  # a port in use is known before the model loads
        url = outputs.start_stream(stream)
        print(f"Streaming at {url} ({stream_reach(stream.host)}); the stream itself is "
              f"{url}stream.mjpg", file=sys.stderr, flush=True)
    engine.set_source(spec, wait=True)  # first: a missing camera is known at once
    source_fps = engine.source.fps if engine.source is not None else None
    portrait = args.portrait or f"{BUILTIN_PREFIX}grace-oil"
    engine.set_portrait(portrait, wait=True, face=args.face if args.portrait else None)
    print(f"Generator runs on {engine.provider.label}", file=sys.stderr)
    if vcam is not None:
        try:
            status = outputs.start_virtual_camera(vcam)
            print(status.message, file=sys.stderr)
        except PuppetError as exc:  # no backend: say what to install, and carry on
            print(f"puppet: {exc.message} Carrying on without it.", file=sys.stderr)
    messages: list[str] = []
    tty = sys.stderr.isatty()

    def heard(ev) -> None:
        if ev.kind in ("source-ended", "sink-error"):
            messages.append(ev.message)  # said at the end, with the figures
        elif ev.kind == "other-face":  # said now: the motion starts from a new neutral
            print(("\n" if tty else "") + "Following another face now; its face as first seen "
                  "is the neutral one", file=sys.stderr, flush=True)

    engine.on_event(heard)

    def tick(s) -> None:
        line = (f"live: {s.fps:5.1f} fps, latency {s.latency_p50_ms:3.0f} ms "
                f"(p95 {s.latency_p95_ms:3.0f}), {s.frames_shown} frames, {s.state}")
        rec = outputs.recording_status()
        if rec is not None and rec.recording:
            line += f", REC {rec.elapsed_text}"
        st = outputs.stream_status()
        if st is not None:
            line += f", {st.viewers} watching"
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr,
              flush=True)

    shown = engine.portrait
    print(f"Live from the {spec.label} onto {shown.name}"
          + (f" (face {shown.face_number} of {shown.faces} from the left; --face N chooses)"
             if shown.faces > 1 else "")
          + (f" for {args.duration:g} s" if args.duration else "")
          + (" (Ctrl+C stops)" if args.duration is None else ""), file=sys.stderr)
    if shown.face_is_small:
        print("The face is a small part of this portrait: --framing head shows a "
              "head-and-shoulders crop around it.", file=sys.stderr)
    if record is not None:
        folder, name = record
        if audio == "microphone":  # a video played as the camera records its own sound
            audio = recording_audio(engine.source)
        status = outputs.start_recording(folder, audio=audio, name=name)
        print(f"Recording to {status.video}"
              + (f" with sound from {getattr(audio, 'description', 'the microphone')}"
                 if status.sound else "")
              + (f". {status.note}" if status.note else ""), file=sys.stderr, flush=True)
    engine.start()
    interrupted = False
    try:
        engine.run_for(args.duration, tick=tick)
    except KeyboardInterrupt:
        interrupted = True
    state = engine.state
    if tty:
        print(file=sys.stderr)
    with _Finishing(outputs.recording):
        result = outputs.stop_recording() if outputs.recording else None
        stream_status = outputs.stream_status()
        vcam_status = outputs.virtual_camera_status()
        outputs.close()
        engine.stop()
    stats = engine.stats(recent=False)
    report = stats.to_dict()
    report["state"] = state
    report["source_fps"] = source_fps
    report["size"] = list(engine.portrait.size)
    report["settings"] = dataclasses.asdict(settings)
    if result is not None:
        report["recording"] = {
            "video": str(result.video) if result.video else None,
            "performance": str(result.performance) if result.performance else None,
            "seconds": result.seconds, "frames": result.frames, "sound": result.sound,
            "dropped": result.dropped, "note": result.note, "error": result.error}
    if stream_status is not None:
        report["stream"] = {"url": stream_status.url, "stream_url": stream_status.stream_url,
                            "frames_encoded": stream_status.frames_encoded}
    if vcam is not None:
        report["virtual_camera"] = {
            "state": vcam_status.state if vcam_status else "failed",
            "frames_sent": vcam_status.frames_sent if vcam_status else 0}
    if stats_path is not None:
        try:
            stats_path.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as exc:  # checked at the start; a disk filled up since, say
            messages.append(f"puppet: could not write the figures to {stats_path} "
                            f"({exc.strerror or exc})")
            stats_path = None
    for m in messages:
        print(m, file=sys.stderr)
    # stopped (Ctrl+C, --duration) before the first frame made reached the recording: the
    # source works, so this is not its fault (it was reported as one, "check the source")
    too_soon = result is not None and result.video is None and not result.frames and \
        (stats.frames_shown > 0 or interrupted)
    if result is not None:
        if result.video is not None:
            sound = "with sound" if result.sound else "video only"
            print(f"Saved {result.video} ({result.seconds:.1f} s, {result.frames} frames at "
                  f"{outputs.recorder.settings.fps:g} fps, {sound}"
                  + (f", {result.dropped} frames the encoder could not keep up with"
                     if result.dropped else "") + ")"
                  + (f"; the performance: {result.performance}" if result.performance else
                     "; no face was seen, so no performance file"), file=sys.stderr)
        if result.note:
            print(result.note, file=sys.stderr)
        if result.error and not too_soon:
            print(f"puppet: the recording {'stopped early' if result.video else 'failed'}: "
                  f"{result.error}", file=sys.stderr)
    print(f"Live: {stats.frames_shown} frames in {stats.seconds:.1f} s, {stats.fps:.1f} fps, "
          f"latency {stats.latency_p50_ms:.0f} ms (p95 {stats.latency_p95_ms:.0f}), "
          f"{stats.frames_dropped} dropped, generator on {stats.provider}"
          + (f"; stats in {stats_path}" if stats_path else ""), file=sys.stderr)
    if state == SOURCE_FAILED:
        err = next((e.error for e in reversed(engine.events) if e.error is not None), None)
        raise err or PuppetError("the source failed", "choose another source")
    if stats.frames_shown == 0 and not interrupted and state != ENDED:
        if args.duration is not None and args.duration < 2.0:  # over before a frame came
            raise PuppetError(f"no frame was shown in the {args.duration:g} s asked for",
                              "give a longer --duration (the first frame takes a moment)")
        raise PuppetError("no frame was shown", "check the source")
    if too_soon and interrupted:
        print("puppet: stopped before the first frame reached the recording; nothing was "
              "saved.", file=sys.stderr)
    elif too_soon:
        raise PuppetError("nothing was recorded: the session ended before the first frame "
                          "reached the recording", "give a longer --duration")
    elif result is not None and result.video is None:
        raise PuppetError(f"nothing was recorded ({result.error})", "check the source")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    gui = _gui_module()
    if gui is None:
        raise PuppetError("the window is not available in this installation (PySide6 is missing)",
                          "install Puppet again: pip install .")
    return gui.main(args)


def cmd_recover(args: argparse.Namespace) -> int:
    from puppet.outputs.recorder import default_recordings_folder, recover_recordings

    folder = Path(args.folder).expanduser() if args.folder else default_recordings_folder()
    if not args.folder and not folder.exists():  # nothing was ever recorded there
        print(f"Nothing to recover: {folder}, where recordings go, does not exist yet.")
        return 0
    if not folder.is_dir():
        raise PuppetError(f"the folder {folder} does not exist",
                          "give the folder the recordings were made in")
    found = recover_recordings(folder)
    for item in found:
        print(item.message)
    if not found:
        print(f"Nothing to recover in {folder}.")
    return 0


def cmd_export_model(args: argparse.Namespace) -> int:
    from puppet.generators.warp import model
    from puppet.resources import resource_dir

    target = args.output or resource_dir("onnx_models")
    paths = model.export(target)
    print(f"Exported {model.NAME} v{model.VERSION} to " + " and ".join(map(str, paths)))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from puppet.bench import BenchSettings, format_table, run_bench, write_json

    if args.repeat < 1:
        raise PuppetError(f"--repeat {args.repeat} is too few", "use 1 or more")
    if args.threads is not None and not 1 <= args.threads <= 64:
        raise PuppetError(f"--threads {args.threads} is out of range", "use 1 to 64")
    if args.live_seconds < 0:
        raise PuppetError("--live-seconds cannot be negative", "use 0 to skip the live session")
    if args.json:
        file_to_write(args.json, "--json", "bench.json")
    for path, what in ((args.portrait, "portrait"), (args.driving, "driving video")):
        if path is not None and not Path(path).is_file():
            raise PuppetError(f"{what} not found: {path}", "check the path and the file name")
    settings = BenchSettings(portrait=args.portrait, driving=args.driving, frames=args.frames,
                             size=args.size, threads=args.threads, repeat=args.repeat,
                             live_seconds=args.live_seconds, binding=not args.plain,
                             track_threads=args.track_threads)
    results = run_bench(settings, args.device)
    print(format_table(results))
    if args.json:
        try:
            path = write_json(results, args.json)
        except OSError as exc:  # checked at the start; a disk filled up since, say
            raise PuppetError(f"could not write {args.json} ({exc.strerror or exc})",
                              "the figures are in the table above") from exc
        print(f"Wrote {path}", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from puppet.doctor import report, run_checks

    checks = run_checks()
    print(report(checks))
    return 1 if any(c.blocks_cpu for c in checks) else 0


def cmd_default(args: argparse.Namespace) -> int:
    """No command: the window where there is a display, else the demo."""
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM") == "offscreen")
    gui = _gui_module()
    if gui is None or headless:
        why = "no display" if headless else "the window is not available in this build"
        print(f"puppet: {why}; rendering the built-in demo instead "
              "(see 'puppet --help' for the other commands).", file=sys.stderr)
        demo_args = build_parser().parse_args(["demo"])
        return cmd_demo(demo_args)
    return gui.main([])


def _gui_module():
    try:
        import puppet.gui.app as app  # noqa: F401
    except ImportError as exc:
        if by_ctrl_c(exc):
            raise KeyboardInterrupt from exc
        return None
    return app


COMMANDS = {
    "render": cmd_render,
    "live": cmd_live,
    "gui": cmd_gui,
    "demo": cmd_demo,
    "recover": cmd_recover,
    "export-model": cmd_export_model,
    "bench": cmd_bench,
    "doctor": cmd_doctor,
}


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # run as the program (not called with arguments from Python)
        from puppet.nativelog import filter_native_stderr

        filter_native_stderr()  # MediaPipe's native start-up chatter stays off the terminal
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS.get(args.command, cmd_default) if args.command else cmd_default
    try:
        return handler(args)
    except PuppetError as exc:
        print(f"puppet: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("puppet: stopped.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the details in a log file
        log = _write_crash_log()
        print(f"puppet: internal error: {type(exc).__name__}: {exc}. This is a bug; "
              f"the details are in {log}.", file=sys.stderr)
        return 1


def _write_crash_log() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "puppet"
    try:
        base.mkdir(parents=True, exist_ok=True)
        log = base / "last-error.log"
        log.write_text(traceback.format_exc())
        return log
    except OSError:
        return Path("(no log: the cache folder is not writable)")


if __name__ == "__main__":
    raise SystemExit(main())
