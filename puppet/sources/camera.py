"""Webcams: listing the real devices, and a camera that always hands on its newest frame.

On Linux the devices are read from ``/dev/video*`` and asked (V4L2's QUERYCAP)
whether they capture video, so metadata nodes and output-only devices (a
virtual camera's sink) are left out, and each is listed with its own name.
Elsewhere OpenCV is asked to open the first few indices.
"""
from __future__ import annotations

import contextlib
import os
import re
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from puppet.errors import PuppetError
from puppet.sources.live import LiveSource

_V4L2_CAP_VIDEO_CAPTURE = 0x00000001
_V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_V4L2_CAP_DEVICE_CAPS = 0x80000000
_VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
_PROBE_INDICES = 6  # where devices cannot be listed, indices 0..5 are tried
STALL_SECONDS = 2.0  # a camera that sends nothing for this long has failed
_LOG_LOCK = threading.Lock()


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str

    @property
    def label(self) -> str:
        return f"Camera {self.index}: {self.name}" if self.name else f"Camera {self.index}"


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs a warning for every camera index it cannot open; we report it ourselves."""
    with _LOG_LOCK:
        old = cv2.getLogLevel()
        cv2.setLogLevel(0)
        try:
            yield
        finally:
            cv2.setLogLevel(old)


def _v4l2_capture_name(dev: Path) -> str | None:
    """The device's name when it captures video; None when it does not (or cannot be asked)."""
    import fcntl  # POSIX only; this runs on Linux alone

    try:
        fd = os.open(str(dev), os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = bytearray(104)
        fcntl.ioctl(fd, _VIDIOC_QUERYCAP, buf)
    except OSError:
        return None
    finally:
        os.close(fd)
    card = bytes(buf[16:48]).split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    caps, device_caps = struct.unpack_from("<II", buf, 84)
    if caps & _V4L2_CAP_DEVICE_CAPS:
        caps = device_caps
    if not caps & (_V4L2_CAP_VIDEO_CAPTURE | _V4L2_CAP_VIDEO_CAPTURE_MPLANE):
        return None
    return card


def _linux_cameras(dev_dir: Path = Path("/dev")) -> list[CameraInfo]:
    found = []
    for dev in dev_dir.glob("video*"):
        m = re.fullmatch(r"video(\d+)", dev.name)
        if not m:
            continue
        name = _v4l2_capture_name(dev)
        if name is not None:
            found.append(CameraInfo(int(m.group(1)), name))
    return sorted(found, key=lambda c: c.index)


def _probe_cameras() -> list[CameraInfo]:
    found, misses = [], 0
    with _quiet_opencv():
        for index in range(_PROBE_INDICES):
            cap = cv2.VideoCapture(index)
            ok = cap.isOpened()
            cap.release()
            if ok:
                found.append(CameraInfo(index, ""))
                misses = 0
            else:
                misses += 1
                if misses >= 2:
                    break
    return found


def list_cameras() -> list[CameraInfo]:
    """The cameras connected now (may be empty)."""
    if sys.platform.startswith("linux"):
        return _linux_cameras()
    return _probe_cameras()


def _describe(cameras: list[CameraInfo]) -> str:
    if not cameras:
        return "no camera is connected; use a video file (--source VIDEO) or the demo " \
               "performance (--source demo) instead"
    listed = ", ".join(c.label for c in cameras)
    return f"the cameras here are: {listed}"


class Camera(LiveSource):
    """A webcam read by OpenCV in its own thread; only the newest frame is kept.

    It asks for 640 x 480 at 30 fps: plenty for the face tracker (the face is
    tracked at 192 pixels), and cheap to decode on a small CPU.

    ``mirror`` flips the picture left to right, as people expect to see
    themselves (and then the portrait moves like a mirror image of them).
    """

    kind = "camera"

    def __init__(self, index: int, mirror: bool = True, width: int = 640, height: int = 480,
                 fps: float = 30.0):
        super().__init__(f"camera {index}")
        self.index = index
        self.mirror = mirror
        if sys.platform.startswith("linux"):
            cameras = _linux_cameras()
            if index not in [c.index for c in cameras]:
                raise PuppetError(f"camera {index} does not exist", _describe(cameras))
            backend = cv2.CAP_V4L2
        else:
            backend = cv2.CAP_ANY
        with _quiet_opencv():
            cap = cv2.VideoCapture(index, backend)
        if not cap.isOpened():
            cap.release()
            cameras = list_cameras()
            if index not in [c.index for c in cameras]:
                raise PuppetError(f"camera {index} does not exist", _describe(cameras))
            raise PuppetError(f"camera {index} cannot be opened",
                              "close other programs that use it, check that Puppet may use "
                              "the camera, or choose another source")
        if backend == cv2.CAP_V4L2:  # most webcams reach 30 fps only in MJPG
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where the backend allows: no stale frames
        self._cap: cv2.VideoCapture | None = cap
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or fps)
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _produce(self) -> None:
        cap = self._cap
        assert cap is not None
        start = last_ok = time.perf_counter()
        while not self._stop.is_set():
            ok, image = cap.read()
            now = time.perf_counter()
            if ok and image is not None and image.size:
                last_ok = now
                if self.mirror:
                    image = cv2.flip(image, 1)
                self._publish(image, now - start)
                continue
            if now - last_ok > STALL_SECONDS:
                raise PuppetError(f"camera {self.index} stopped sending pictures "
                                  "(unplugged, or taken by another program)",
                                  "plug it in again and choose it again, or choose another source")
            self._stop.wait(0.02)

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
