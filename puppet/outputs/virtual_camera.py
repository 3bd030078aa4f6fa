"""The living portrait as a webcam for call apps, through pyvirtualcam.

Call apps want a steady picture of a size they know: by default 1280x720 at 30
fps.  The portrait is letterboxed into it (all of it, black bars) or cropped
(filling it), as the user chooses.  A thread of its own sends the newest frame
at that rate (repeating it when the engine is slower), so a slow or broken
camera driver never holds the engine up: :meth:`VirtualCamera.send` only
swaps a reference.

pyvirtualcam needs a virtual camera device from the system: v4l2loopback on
Linux, OBS Studio's virtual camera on Windows and macOS.  Where there is none,
:meth:`VirtualCamera.start` raises a :class:`PuppetError` that says what to
install (:func:`install_hint`); the app shows it and carries on.

Intended wiring (live engine and window)::

    cam = VirtualCamera(VirtualCameraSettings(fit="crop"))
    try:
        cam.start()                      # opens the device; PuppetError if there is none
    except PuppetError as exc:
        show(exc.message)                # and switch the toggle back off
    else:
        engine.add_sink(cam.send)        # fn(frame_bgr, capture_time): never blocks
    ...
    engine.remove_sink(cam.send); cam.stop()
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from puppet.errors import PuppetError, not_installed
from puppet.outputs.frames import FITS, Box, Fit, fit_frame
from puppet.threads import join
from puppet.timeline import CLOCK

CameraFactory = Callable[..., Any]  # (width, height, fps, *, fmt, device, backend) -> camera
# where the portrait's face is: ((frame width, height), face box) for frames of that size
Focus = Callable[[], "tuple[tuple[int, int], Box] | None"]


@dataclass(frozen=True)
class VirtualCameraSettings:
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    fit: Fit = "letterbox"  # or "crop", "face" (see puppet.outputs.frames.fit_frame)
    device: str | None = None  # e.g. /dev/video10 on Linux; None: the first one
    backend: str | None = None  # pyvirtualcam's backend name; None: any that works

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, not {self.fit!r}")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ValueError(f"{self.width}x{self.height} is not a camera size")
        if not 1 <= self.fps <= 120:
            raise ValueError(f"fps must be between 1 and 120, got {self.fps}")


@dataclass(frozen=True)
class VirtualCameraStatus:
    state: Literal["off", "on", "failed"]
    device: str  # the device call apps see ("" when off)
    frames_sent: int
    frames_skipped: int  # frames the engine made that the camera's rate left out
    message: str  # one line for the window


def install_hint(platform: str | None = None) -> str:
    """What to install for a virtual camera on this system (one sentence, no full stop)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return ("install v4l2loopback and load it (Debian/Ubuntu: sudo apt install "
                "v4l2loopback-dkms, then sudo modprobe v4l2loopback devices=1 exclusive_caps=1 "
                "card_label=Puppet), then switch the virtual camera on again")
    if platform == "darwin":
        return ("install OBS Studio (https://obsproject.com), click Start Virtual Camera in it "
                "once and allow its system extension, then switch the virtual camera on again")
    return ("install OBS Studio (https://obsproject.com) and click Start Virtual Camera in it "
            "once, then switch the virtual camera on again")


def _first_sentences(text: str) -> str:
    """pyvirtualcam's errors, one per backend, each cut to its first sentence."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    out = []
    for ln in lines:
        cut = ln.find(". ")
        out.append((ln[:cut] if cut > 0 else ln).rstrip(". "))
    return "; ".join(out)


def _pyvirtualcam_factory() -> CameraFactory:
    try:
        import pyvirtualcam
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise not_installed(exc, "the virtual camera needs pyvirtualcam, which is not "
                            "installed", "install Puppet again: pip install .") from exc

    def open_camera(width: int, height: int, fps: float, *, device: str | None,
                    backend: str | None):
        return pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                   device=device, backend=backend)

    return open_camera


class VirtualCamera:
    """Sends output frames to a virtual camera at a fixed size and rate."""

    def __init__(self, settings: VirtualCameraSettings = VirtualCameraSettings(),
                 camera_factory: CameraFactory | None = None,
                 clock: Callable[[], float] = CLOCK, focus: Focus | None = None):
        """``focus``: where the portrait's face is, asked for each new frame, so that a
        crop keeps it in view and a close-up shows it (a frame of another size than
        the focus's is taken as it is: a portrait just changed)."""
        self.settings = settings
        self._focus = focus
        self._factory = camera_factory
        self._clock = clock
        self._camera = None
        self._device = ""
        self._state: Literal["off", "on", "failed"] = "off"
        self._message = "The virtual camera is off."
        self._latest: np.ndarray | None = None
        self._seq = 0
        self._slot_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = 0
        self._skipped = 0

    def start(self) -> VirtualCameraStatus:
        """Open the device and start sending; :class:`PuppetError` when there is none."""
        if self._state == "on":
            return self.status()
        s = self.settings
        factory = self._factory or _pyvirtualcam_factory()
        try:
            camera = factory(s.width, s.height, s.fps, device=s.device, backend=s.backend)
        except (RuntimeError, OSError, ValueError) as exc:
            self._state = "failed"
            error = PuppetError(f"no virtual camera is available on this system "
                                f"({_first_sentences(str(exc))})", install_hint())
            self._message = error.message
            raise error from exc
        self._camera = camera
        self._device = str(getattr(camera, "device", "") or "virtual camera")
        self._sent = self._skipped = 0
        self._stop.clear()
        self._state = "on"
        self._message = (f"The virtual camera is on: call apps can choose \"{self._device}\" "
                         f"({s.width}x{s.height}, {s.fps:g} fps).")
        self._thread = threading.Thread(target=self._run, name="puppet-virtual-camera",
                                        daemon=True)
        self._thread.start()
        return self.status()

    def send(self, frame_bgr: np.ndarray, capture_time: float | None = None) -> None:
        """Hand over the newest output frame; returns at once."""
        if self._state != "on":
            return
        with self._slot_lock:
            self._latest = frame_bgr
            self._seq += 1

    def _run(self) -> None:
        s = self.settings
        period = 1.0 / s.fps
        size = (s.width, s.height)
        fitted: np.ndarray | None = None
        seen = 0
        next_t = self._clock()
        camera = self._camera
        while not self._stop.is_set():
            wait = next_t - self._clock()
            if wait > 0 and self._stop.wait(wait):
                break
            with self._slot_lock:
                frame, seq = self._latest, self._seq
            if frame is not None and seq != seen:
                self._skipped += max(0, seq - seen - 1)
                seen = seq
                fitted = fit_frame(frame, size, s.fit, self._face_in(frame))
            if fitted is not None:
                try:
                    camera.send(fitted)
                except Exception as exc:  # noqa: BLE001 - shown in the window, app carries on
                    self._state = "failed"
                    self._message = (f"The virtual camera stopped: {exc}. Switch it on again, "
                                     f"or {install_hint()}.")
                    break
                self._sent += 1
            next_t += period
            now = self._clock()
            if next_t < now - period:  # after a stall, do not try to catch up
                next_t = now
        self._close_camera()

    def _face_in(self, frame: np.ndarray) -> Box | None:
        if self._focus is None or self.settings.fit == "letterbox":
            return None
        try:
            focus = self._focus()
        except Exception:  # noqa: BLE001 - no focus: the frame is cropped evenly
            return None
        if focus is None or tuple(focus[0]) != (frame.shape[1], frame.shape[0]):
            return None
        return focus[1]

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
            except Exception:  # noqa: BLE001 - a device that went away: nothing to close
                pass

    def stop(self) -> None:
        """Stop sending and close the device (waits at most a second for a stuck driver)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            join(thread, 1.0)
        if self._state == "on":
            self._state = "off"
            self._message = "The virtual camera is off."
        with self._slot_lock:
            self._latest = None

    def status(self) -> VirtualCameraStatus:
        return VirtualCameraStatus(state=self._state, device=self._device if self._state == "on"
                                   else "", frames_sent=self._sent,
                                   frames_skipped=self._skipped, message=self._message)
