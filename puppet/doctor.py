"""``puppet doctor``: what is installed, what works, and for each problem the fix.

Every check is tried, not just looked up: a provider counts as working when a
session on it runs the built-in model, the virtual camera when pyvirtualcam
opens one, a camera when OpenCV opens it.  Problems that stop Puppet from
running on the CPU (a missing package, two OpenCVs, numpy 2, no working CPU
session) are failures and make the exit code non-zero; a missing GPU, camera,
virtual-camera backend or audio device only switches a feature off and is a
warning.
"""
from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OK, INFO, WARN, FAIL = "ok", "info", "warn", "FAIL"

# distribution -> (version rule as text, needed to run on the CPU, what it is for)
REQUIRED = {
    "numpy": ("<2", "arrays everywhere; mediapipe 0.10.21 needs numpy 1"),
    "opencv-contrib-python": ("<=4.11.0.86", "images; the build MediaPipe needs"),
    "mediapipe": ("==0.10.21", "face tracking (its wheel carries the face-mesh models)"),
    "onnxruntime-gpu": (">=1.20", "runs the generator on CUDA or the CPU"),
    "av": (">=12", "reads videos and writes H.264 MP4s"),
    "PySide6-Essentials": (">=6.6", "the window"),
}
OPTIONAL = {
    "pyvirtualcam": (">=0.11", "the virtual camera"),
    "sounddevice": (">=0.4", "recording the voice"),
    "matplotlib": (">=3.7", "the photograph the built-in portraits are painted from"),
}
# left out of the desktop bundle (build.spec): only 'python -m puppet.artwork' needs it
NOT_BUNDLED = {"matplotlib"}
# installed beside the ones above, these break them
CONFLICTS = {
    "opencv-python": "opencv-contrib-python",
    "opencv-python-headless": "opencv-contrib-python",
    "opencv-contrib-python-headless": "opencv-contrib-python",
    "onnxruntime": "onnxruntime-gpu",
}
# the CUDA 13 libraries onnxruntime-gpu's CUDA provider links to (cuDNN 9, cuFFT and
# NVRTC are loaded only by models that need them; the pip fix below brings them all)
CUDA_LIBS_LINUX = ["libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10"]
CUDA_LIBS_WINDOWS = ["cudart64_13.dll", "cublasLt64_13.dll", "cublas64_13.dll",
                     "curand64_10.dll"]
CUDA_PIP_FIX = 'pip install "onnxruntime-gpu[cuda,cudnn]"  (CUDA 13 and cuDNN 9 from PyPI)'


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, its state, what was seen, and the fix."""

    name: str
    state: str  # ok, info, warn or FAIL
    detail: str
    fix: str = ""

    @property
    def blocks_cpu(self) -> bool:
        return self.state == FAIL


# ---------------------------------------------------------------------------
# seams (tests replace these)


def dist_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _spec_ok(installed: str, rule: str) -> bool:
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version
    except ImportError:  # cannot tell: do not complain
        return True
    try:
        return Version(installed) in SpecifierSet(rule)
    except InvalidVersion:
        return True


def system() -> str:
    return platform.system()


def bundled() -> bool:
    """Whether this is Puppet's desktop bundle (PyInstaller, build.spec): its packages are
    frozen into it, and pip cannot change them."""
    return bool(getattr(sys, "frozen", False))


# ---------------------------------------------------------------------------
# checks


def check_python() -> list[Check]:
    v = sys.version_info
    where = "inside the desktop bundle " if bundled() else ""
    text = f"Python {platform.python_version()} {where}({sys.executable})"
    if (v.major, v.minor) in ((3, 11), (3, 12)):
        return [Check("python", OK, text)]
    return [Check("python", FAIL, text + ": Puppet needs Python 3.11 or 3.12",
                  "install Python 3.11 and make a virtual environment with it")]


def check_packages() -> list[Check]:
    out = []
    for table, needed in ((REQUIRED, True), (OPTIONAL, False)):
        for name, (rule, what) in table.items():
            if bundled() and name in NOT_BUNDLED:
                continue
            got = dist_version(name)
            if got is None:
                out.append(Check(name, FAIL if needed else WARN, f"not installed ({what})",
                                 f'pip install "{name}{rule}"'))
            elif not _spec_ok(got, rule):
                out.append(Check(name, FAIL if needed else WARN,
                                 f"{got} is installed, Puppet needs {name}{rule} ({what})",
                                 f'pip install "{name}{rule}"'))
            else:
                out.append(Check(name, OK, f"{got}"))
    for bad, good in CONFLICTS.items():
        got = dist_version(bad)
        if got is not None:
            out.append(Check(bad, FAIL,
                             f"{bad} {got} is installed beside {good}: both install the same "
                             "module and break each other",
                             f"pip uninstall -y {bad} {good} && "
                             f'pip install "{good}{REQUIRED[good][0]}"'))
    return out


def check_imports() -> list[Check]:
    """The modules really import (a broken wheel or a missing system library shows here)."""
    out = []
    for module, dist in (("numpy", "numpy"), ("cv2", "opencv-contrib-python"),
                         ("mediapipe", "mediapipe"), ("onnxruntime", "onnxruntime-gpu"),
                         ("av", "av")):
        try:
            mod = __import__(module)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            out.append(Check(f"import {module}", FAIL, f"{type(exc).__name__}: {exc}",
                             f'pip install --force-reinstall "{dist}"'))
            continue
        if module == "cv2" and not hasattr(mod, "ximgproc"):
            out.append(Check("import cv2", FAIL,
                             "cv2 is not the contrib build (another OpenCV shadows it)",
                             "pip uninstall -y opencv-python opencv-python-headless "
                             "opencv-contrib-python && pip install "
                             '"opencv-contrib-python<=4.11.0.86"'))
        if module == "av":
            try:
                import av

                av.codec.Codec("libx264", "w")
            except Exception as exc:  # noqa: BLE001
                out.append(Check("H.264 encoder", FAIL, f"PyAV has no libx264 ({exc})",
                                 'pip install --force-reinstall "av>=12" (its wheels carry '
                                 "libx264)"))
            missing = []
            for decoder, kind in (("hevc", "HEIC"), ("libdav1d", "AVIF")):
                try:
                    av.codec.Codec(decoder, "r")
                except Exception:  # noqa: BLE001 - any failure means the same here
                    missing.append(f"{kind} (no {decoder} decoder)")
            if missing:  # an FFmpeg built without them: those portraits only
                out.append(Check("photo decoders", WARN,
                                 f"PyAV cannot read {' or '.join(missing)} portraits",
                                 'pip install --force-reinstall "av>=12" (its wheels carry '
                                 "both), or save such photos as JPEG"))
    if not [c for c in out if c.state == FAIL]:
        decoders = "" if out else ", and the HEVC and AV1 decoders of HEIC and AVIF photos"
        out.insert(0, Check("imports", OK, "numpy, cv2 (contrib), mediapipe, onnxruntime, "
                                           f"av (with libx264{decoders}) import"))
    return out


def check_tracking() -> list[Check]:
    """MediaPipe's face mesh and its full-range detector really find a face (the built-in
    portrait's, which the desktop bundle carries too): a wheel missing its models shows
    here, not in the middle of a session."""
    import time

    import cv2

    from puppet.artwork import builtin_path
    from puppet.tracking.mediapipe_tracker import FaceTracker, small_face_detector

    fix = f'pip install --force-reinstall "mediapipe{REQUIRED["mediapipe"][0]}"'
    if bundled():
        fix = "download the desktop bundle again"
    photo = cv2.imread(str(builtin_path("grace-sepia")), cv2.IMREAD_COLOR)
    if photo is None:
        return [Check("face tracking", FAIL, "the built-in portrait cannot be read",
                      "install Puppet again" if not bundled() else fix)]
    t0 = time.perf_counter()
    try:
        with FaceTracker(video=False) as tracker:
            face = tracker.track(photo)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return [Check("face tracking", FAIL, f"the face mesh does not run: {_first_line(exc)}",
                      fix)]
    if face is None:
        return [Check("face tracking", FAIL, "the face mesh finds no face in the built-in "
                      "portrait", fix)]
    ms = (time.perf_counter() - t0) * 1000.0
    try:
        finder = small_face_detector()
        try:
            found = bool(finder.process(photo[..., ::-1].copy()).detections)
        finally:
            finder.close()
    except Exception as exc:  # noqa: BLE001
        found, why = False, _first_line(exc)
    else:
        why = "it finds no face in the built-in portrait"
    if not found:
        return [Check("face tracking", WARN, f"the face mesh works ({ms:.0f} ms), but the "
                      f"full-range detector does not ({why}): small faces in videos (under "
                      "about 90 pixels in 1280x720) are not found", fix)]
    return [Check("face tracking", OK, f"the face mesh finds the built-in portrait's face "
                  f"({ms:.0f} ms with start-up), and so does the full-range detector that "
                  "looks for small faces")]


def _model(name: str = "puppet_warp.onnx"):
    from puppet.resources import model_file

    return model_file(name)


def try_provider(provider: str) -> tuple[bool, str]:
    """Whether a session on ``provider`` starts and runs the built-in model, and what
    happened (an error, or the provider onnxruntime fell back to)."""
    import onnxruntime as ort

    from puppet.generators.runtime import CPU, CUDA, cuda_provider, session_options

    providers: list = [CPU] if provider == CPU else \
        [cuda_provider() if provider == CUDA else provider, CPU]
    try:
        session = ort.InferenceSession(str(_model()), session_options(1), providers=providers)
    except Exception as exc:  # noqa: BLE001
        return False, f"the session did not start: {_first_line(exc)}"
    used = session.get_providers()[0]
    if used != provider:
        return False, f"onnxruntime fell back to {used}"
    from puppet.generators.warp.model import sample_inputs

    try:
        out = session.run(None, sample_inputs(64))[0]
    except Exception as exc:  # noqa: BLE001
        return False, f"the session started but a run failed: {_first_line(exc)}"
    if out.shape != (64, 64, 3) or abs(float(out.mean()) - 128.0) > 1.0:
        return False, "a run gave a wrong result"
    import numpy as np

    if provider != CPU:  # it must also draw what the CPU draws, for a frame that moves
        feeds = moving_sample()
        try:
            got = session.run(None, feeds)[0].astype(np.int16)
        except Exception as exc:  # noqa: BLE001
            return False, f"the session started but a run failed: {_first_line(exc)}"
        cpu = ort.InferenceSession(str(_model()), session_options(1), providers=[CPU])
        diff = np.abs(got - cpu.run(None, feeds)[0])
        if diff.mean() > 0.5 or diff.max() > 32:
            return False, (f"a session runs but draws other frames than the CPU (on average "
                           f"{diff.mean():.1f} grey levels apart, up to {diff.max()})")
        return True, "a session runs the built-in model and draws what the CPU draws"
    # on the CPU the generator runs the model's field graph and draws with OpenCV
    feeds = sample_inputs(64)
    try:
        field = ort.InferenceSession(str(_model("puppet_warp_field.onnx")), session_options(1),
                                     providers=[CPU])
        off = field.run(None, {k: feeds[k] for k in ("src_points", "dst_points", "mobility")})[0]
    except Exception as exc:  # noqa: BLE001
        return False, f"the field graph did not run: {_first_line(exc)}"
    if np.abs(off).max() > 1e-4:  # no point moved: no offset
        return False, "the field graph gave a wrong result"
    return True, "sessions run the built-in model and its field graph"


def moving_sample(size: int = 96) -> dict:
    """The built-in model's inputs for a frame that moves: a picture with gradients and
    waves, its control points pushed about (the flat grey of ``sample_inputs`` stays
    grey under any warp, right or wrong)."""
    import numpy as np

    from puppet.generators.warp.model import fine, sample_inputs

    feeds = sample_inputs(size, points=40)
    yy, xx = np.mgrid[0:size, 0:size] / float(size)
    picture = np.stack([xx, yy, 0.5 + 0.4 * np.sin(9.0 * xx + 5.0 * yy)], axis=2)
    feeds["portrait"] = fine(picture.astype(np.float32)).transpose(2, 0, 1)[None].copy()
    rng = np.random.default_rng(7)
    src = feeds["src_points"]
    feeds["dst_points"] = np.clip(src + rng.normal(0.0, 0.05, src.shape), -0.95, 0.95
                                  ).astype(np.float32)
    return feeds


def missing_cuda_libraries() -> list[str]:
    """The CUDA 13 libraries the CUDA provider links to that cannot be loaded (after
    onnxruntime's own preloading from pip's nvidia-* wheels)."""
    import contextlib
    import ctypes
    import io

    try:
        import onnxruntime as ort

        preload = getattr(ort, "preload_dlls", None)
        if preload is not None:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its own warnings
                preload()
    except Exception:  # noqa: BLE001 - best effort, the loads below decide
        pass
    names = CUDA_LIBS_WINDOWS if system() == "Windows" else CUDA_LIBS_LINUX
    missing = []
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def nvidia_smi() -> str | None:
    """``nvidia-smi``'s one-line view of each GPU, or None where there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        r = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total",
                            "--format=csv,noheader"], capture_output=True, text=True,
                           timeout=15)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"
    return (r.stdout.strip() or r.stderr.strip() or "nvidia-smi printed nothing")


def check_onnxruntime() -> list[Check]:
    try:
        import onnxruntime as ort
    except Exception:  # noqa: BLE001 - reported by check_imports
        return []
    from puppet.generators.runtime import CPU, CUDA, nvidia_driver_present

    listed = ort.get_available_providers()
    out = [Check("onnxruntime providers", INFO, ", ".join(listed)
                 + " listed (Puppet uses CUDA and the CPU)")]
    ok, detail = try_provider(CPU)
    out.append(Check("CPU provider", OK if ok else FAIL, detail,
                     "" if ok else 'pip install --force-reinstall "onnxruntime-gpu>=1.20"'))
    if CUDA not in listed:
        out.append(Check("CUDA provider", WARN,
                         "this onnxruntime has no CUDA provider: the generator runs on the CPU",
                         "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"))
        return out
    if not nvidia_driver_present():
        detail = "no NVIDIA driver (libcuda) found: the generator runs on the CPU"
        fix = ("on a machine with an NVIDIA GPU install its driver (580 or newer for CUDA 13), "
               "then run 'puppet doctor' again")
        missing = missing_cuda_libraries()
        if missing:
            detail += f"; the CUDA libraries are missing too: {', '.join(missing)}"
            fix += f"; and the libraries: {_cuda_library_fix()}"
        out.append(Check("CUDA provider", WARN, detail, fix))
        return out
    ok, detail = try_provider(CUDA)
    if ok:
        out.append(Check("CUDA provider", OK, detail))
        return out
    missing = missing_cuda_libraries()
    if missing:
        out.append(Check("CUDA provider", WARN,
                         f"{detail}; missing: {', '.join(missing)}", _cuda_library_fix()))
    else:
        out.append(Check("CUDA provider", WARN, detail,
                         "update the NVIDIA driver (580 or newer for CUDA 13) and check that "
                         "only one CUDA 13 / cuDNN 9 is on the library path"))
    return out


def _cuda_library_fix() -> str:
    if bundled():  # no pip inside the bundle: CUDA comes from the system, never from it
        if system() == "Windows":
            return ("install the CUDA 13 toolkit and cuDNN 9 for CUDA 13 from NVIDIA and put "
                    "their bin folders on PATH")
        return ("install them from NVIDIA (Ubuntu, from NVIDIA's repository: sudo apt install "
                "cuda-libraries-13-0 libcudnn9-cuda-13), or put the lib folders of pip's "
                'nvidia-* wheels (pip install "onnxruntime-gpu[cuda,cudnn]") on '
                "LD_LIBRARY_PATH")
    if system() == "Windows":
        return (f"{CUDA_PIP_FIX}; or install the CUDA 13 toolkit and cuDNN 9 for CUDA 13 "
                "from NVIDIA and put their bin folders on PATH")
    return (f"{CUDA_PIP_FIX}; or the system packages (Ubuntu, from NVIDIA's repository): "
            "sudo apt install cuda-libraries-13-0 libcudnn9-cuda-13")


def check_gpu() -> list[Check]:
    from puppet.generators.runtime import nvidia_driver_present

    smi = nvidia_smi()
    if smi is None:
        if nvidia_driver_present():
            return [Check("GPU", INFO, "an NVIDIA driver is loaded but nvidia-smi is missing")]
        return [Check("GPU", INFO, "no NVIDIA GPU found (no driver, no nvidia-smi): "
                                   "the generator runs on the CPU")]
    return [Check("GPU", INFO, smi.replace("\n", "; "))]


def _v4l2_names() -> dict[str, str]:
    names = {}
    for dev in sorted(glob.glob("/dev/video*")):
        name_file = Path("/sys/class/video4linux") / Path(dev).name / "name"
        try:
            names[dev] = name_file.read_text().strip()
        except OSError:
            names[dev] = ""
    return names


def open_camera(index_or_path) -> bool:
    """Whether OpenCV opens this camera (a seam for tests)."""
    import cv2

    cap = cv2.VideoCapture(index_or_path)
    try:
        return bool(cap.isOpened())
    finally:
        cap.release()


def check_cameras() -> list[Check]:
    fix = ("plug in a webcam (and allow camera access in the system settings); without one "
           "Puppet can still be driven by a video file or the built-in performance")
    if system() == "Linux":
        devices = _v4l2_names()
        real = {d: n for d, n in devices.items()
                if not any(k in n.lower() for k in ("loopback", "dummy", "virtual", "obs"))}
        opened = [f"{d} ({n})" if n else d for d, n in real.items() if open_camera(d)]
        if opened:
            return [Check("camera", OK, ", ".join(opened))]
        if real:
            return [Check("camera", WARN, f"{', '.join(real)} found but none opens",
                          "close other programs using the camera; add yourself to the "
                          "'video' group: sudo usermod -aG video $USER (then log in again)")]
        return [Check("camera", WARN, "no camera found (no /dev/video device)", fix)]
    opened = [str(i) for i in range(3) if open_camera(i)]
    if opened:
        return [Check("camera", OK, f"camera index {', '.join(opened)} opens")]
    return [Check("camera", WARN, "no camera opens", fix)]


def open_virtual_camera() -> str:
    """Open and close a small pyvirtualcam camera; its device name (raises on failure)."""
    import pyvirtualcam

    with pyvirtualcam.Camera(width=64, height=64, fps=20) as cam:
        return f"{cam.device} ({cam.backend})"


def virtual_camera_fix(os_name: str) -> str:
    if os_name == "Linux":
        return ("install v4l2loopback and load it: sudo apt install v4l2loopback-dkms && "
                "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=Puppet")
    if os_name == "Darwin":
        return ("install OBS Studio 30 or newer and start its virtual camera once "
                "(Start Virtual Camera), then quit OBS")
    return ("install OBS Studio 28 or newer and start its virtual camera once "
            "(Start Virtual Camera), then quit OBS")


def check_virtual_camera() -> list[Check]:
    if dist_version("pyvirtualcam") is None:
        return []  # reported by check_packages
    try:
        device = open_virtual_camera()
    except Exception as exc:  # noqa: BLE001 - pyvirtualcam raises RuntimeError without a backend
        return [Check("virtual camera", WARN,
                      f"pyvirtualcam found no backend: {_first_line(exc)}",
                      virtual_camera_fix(system()))]
    return [Check("virtual camera", OK, device)]


def check_audio() -> list[Check]:
    if dist_version("sounddevice") is None:
        return []
    try:
        import sounddevice as sd

        devices = sd.query_devices()
    except OSError as exc:
        fix = ("sudo apt install libportaudio2" if system() == "Linux"
               else "pip install --force-reinstall sounddevice")
        return [Check("audio", WARN, f"no PortAudio: {exc} (no voice in recordings)", fix)]
    except Exception as exc:  # noqa: BLE001
        return [Check("audio", WARN, f"sounddevice failed: {_first_line(exc)}", "")]
    inputs = [d for d in devices if d.get("max_input_channels", 0) > 0]
    if not inputs:
        return [Check("audio", WARN, "no microphone found (no voice in recordings)",
                      "plug in a microphone or headset")]
    return [Check("audio", OK, f"{len(inputs)} input device(s), e.g. {inputs[0]['name']}")]


def check_display() -> list[Check]:
    if system() == "Linux" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                    or os.environ.get("QT_QPA_PLATFORM") == "offscreen"):
        return [Check("display", INFO, "no display: 'puppet' renders the demo instead of "
                                       "opening the window")]
    return [Check("display", OK, "a display is there for the window")]


CHECKS: list[Callable[[], list[Check]]] = [
    check_python, check_packages, check_imports, check_tracking, check_onnxruntime, check_gpu,
    check_cameras, check_virtual_camera, check_audio, check_display,
]


def run_checks(checks: list[Callable[[], list[Check]]] | None = None) -> list[Check]:
    """Every check's findings; a check that crashes is a finding too."""
    out: list[Check] = []
    for check in checks or CHECKS:
        try:
            out.extend(check())
        except Exception as exc:  # noqa: BLE001 - the doctor never crashes
            out.append(Check(check.__name__.removeprefix("check_"), WARN,
                             f"the check itself failed: {type(exc).__name__}: {exc}"))
    return out


def report(checks: list[Check]) -> str:
    from puppet import __version__

    lines = [f"Puppet {__version__} doctor ({platform.platform()})"]
    for c in checks:
        lines.append(f"  {c.state:<5} {c.name}: {c.detail}")
        if c.fix and c.state in (WARN, FAIL):
            lines.append(f"        fix: {c.fix}")
    blocking = [c for c in checks if c.blocks_cpu]
    if blocking:
        lines.append(f"{len(blocking)} problem(s) stop Puppet from running; the fixes are "
                     "above.")
    else:
        warned = sum(c.state == WARN for c in checks)
        tail = f" ({warned} optional feature(s) off, see the warnings)" if warned else ""
        lines.append(f"Everything Puppet needs to run on the CPU is fine{tail}.")
    return "\n".join(lines)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
