"""The virtual camera: a clear message where the system has none, a steady rate, and a
slow driver that never holds the caller up."""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.outputs.frames import fit_frame
from puppet.outputs.virtual_camera import VirtualCamera, VirtualCameraSettings, install_hint


def test_no_virtual_camera_device_says_what_to_install():
    """The real pyvirtualcam: on a machine without a device (as where the tests run) the
    user reads what to install, and nothing crashes."""
    cam = VirtualCamera(VirtualCameraSettings(width=640, height=360))
    try:
        cam.start()
    except PuppetError as exc:
        message = exc.message
    else:  # pragma: no cover - a machine with v4l2loopback or OBS
        cam.send(np.zeros((100, 100, 3), np.uint8))
        cam.stop()
        pytest.skip("this machine has a virtual camera device")
    assert message.startswith("No virtual camera is available on this system (")
    hint = install_hint()
    assert message.endswith(f"{hint[0].upper()}{hint[1:]}.")  # what to install, for this OS
    status = cam.status()
    assert status.state == "failed" and status.message == message
    cam.send(np.zeros((10, 10, 3), np.uint8))  # the app carries on: sending is harmless
    cam.stop()


@pytest.mark.parametrize("platform, words", [
    ("linux", ["v4l2loopback", "modprobe"]),
    ("win32", ["OBS Studio", "Start Virtual Camera"]),
    ("darwin", ["OBS Studio", "system extension"]),
])
def test_the_hint_names_the_backend_for_each_system(platform, words):
    hint = install_hint(platform)
    assert all(w in hint for w in words)


class SlowCamera:
    """Stands in for a camera driver that takes 200 ms per frame."""

    def __init__(self, width, height, fps, *, device, backend):
        self.width, self.height, self.device = width, height, "Puppet test camera"
        self.frames = []
        self.closed = False

    def send(self, frame):
        time.sleep(0.2)
        self.frames.append(frame.copy())

    def close(self):
        self.closed = True


def test_a_slow_camera_never_holds_up_the_caller():
    made = []

    def factory(*args, **kw):
        made.append(SlowCamera(*args, **kw))
        return made[-1]

    cam = VirtualCamera(VirtualCameraSettings(width=320, height=180, fps=30), factory)
    status = cam.start()
    assert status.state == "on" and "Puppet test camera" in status.message
    longest = 0.0
    t_end = time.monotonic() + 1.2
    i = 0
    while time.monotonic() < t_end:
        t = time.perf_counter()
        cam.send(np.full((240, 240, 3), i % 250, np.uint8))
        longest = max(longest, time.perf_counter() - t)
        i += 1
        time.sleep(0.005)
    last = i - 1
    time.sleep(0.5)
    cam.stop()
    camera = made[0]
    assert i > 100 and longest < 0.1  # the caller ran at its own pace
    assert 3 <= len(camera.frames) <= 10  # the driver took what it could
    assert all(f.shape == (180, 320, 3) for f in camera.frames)
    assert abs(int(camera.frames[-1][90, 160, 0]) - last % 250) <= 10  # the newest frame
    assert cam.status().frames_skipped > 50
    assert camera.closed and cam.status().state == "off"


def test_frames_repeat_at_the_camera_rate_and_a_failing_driver_is_reported():
    class Camera(SlowCamera):
        def send(self, frame):
            if len(self.frames) == 5:
                raise RuntimeError("device unplugged")
            self.frames.append(frame)

    made = []
    cam = VirtualCamera(VirtualCameraSettings(width=64, height=64, fps=50),
                        lambda *a, **k: made.append(Camera(*a, **k)) or made[-1])
    cam.start()
    cam.send(np.zeros((64, 64, 3), np.uint8))  # one frame, then nothing: it repeats
    deadline = time.monotonic() + 5
    while cam.status().state == "on" and time.monotonic() < deadline:
        time.sleep(0.02)
    status = cam.status()
    assert len(made[0].frames) == 5 and status.state == "failed"
    assert "device unplugged" in status.message and made[0].closed
    cam.stop()


def test_letterbox_and_crop():
    tall = np.full((400, 200, 3), 255, np.uint8)
    box = fit_frame(tall, (320, 180), "letterbox")
    assert box.shape == (180, 320, 3)
    assert box[:, 160].min() == 255 and box[:, :100].max() == 0  # bars left and right
    crop = fit_frame(tall, (320, 180), "crop")
    assert crop.shape == (180, 320, 3) and crop.min() == 255  # filled, the rest cut off
    same = np.zeros((180, 320, 3), np.uint8)
    assert fit_frame(same, (320, 180)) is same
    with pytest.raises(ValueError):
        VirtualCameraSettings(fit="stretch")


def tall_portrait_with_a_face():
    """A tall 'portrait' (700 x 1400): white, with a red 'face' box near its top."""
    frame = np.full((1400, 700, 3), 255, np.uint8)
    face = (300, 150, 400, 250)  # x0, y0, x1, y1
    frame[face[1]:face[3], face[0]:face[2]] = (0, 0, 255)
    return frame, face


def red_rows(picture):
    rows = np.nonzero((picture[..., 2] > 200) & (picture[..., 1] < 60))[0]
    return rows.min(), rows.max()


def test_crop_keeps_the_face_in_view_and_face_shows_a_close_up():
    """Cropped evenly, a tall portrait loses its head; cropped around the face it keeps
    it whole; the close-up makes the face FACE_HEIGHT of the picture's height."""
    from puppet.outputs.frames import FACE_HEIGHT

    frame, face = tall_portrait_with_a_face()
    even = fit_frame(frame, (320, 180), "crop")
    assert not np.any(even[..., 1] < 60)  # no face
    crop = fit_frame(frame, (320, 180), "crop", face)
    assert crop.shape == (180, 320, 3)
    top, bottom = red_rows(crop)
    assert 0 < top and bottom < 179  # all of it, with room around
    close = fit_frame(frame, (320, 180), "face", face)
    top, bottom = red_rows(close)
    assert (bottom - top + 1) / 180 == pytest.approx(FACE_HEIGHT, abs=0.02)
    assert top > 180 - bottom - 1  # more room above the face than below
    # a frame of the picture's own size is still framed on the face in close-up
    same = cv2.resize(frame, (320, 800))
    assert fit_frame(same, (320, 800), "face", (120, 96, 200, 192)) is not same


def test_the_virtual_camera_crops_around_the_portraits_face():
    made = []

    def factory(*args, **kw):
        made.append(SlowCamera(*args, **kw))
        return made[-1]

    frame, face = tall_portrait_with_a_face()
    focus = [((700, 1400), face)]
    cam = VirtualCamera(VirtualCameraSettings(width=320, height=180, fps=30, fit="crop"),
                        factory, focus=lambda: focus[0])
    cam.start()
    cam.send(frame)
    deadline = time.monotonic() + 5
    while not made[0].frames and time.monotonic() < deadline:
        time.sleep(0.01)
    focus[0] = ((200, 500), face)  # a new portrait's size: its frames are cropped evenly
    other = np.full((500, 200, 3), 255, np.uint8)
    other[60:120, 75:125] = (0, 0, 255)
    sent = len(made[0].frames)
    cam.send(other)
    deadline = time.monotonic() + 5
    while len(made[0].frames) < sent + 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    cam.stop()
    first, last = made[0].frames[0], made[0].frames[-1]
    assert np.any(first[..., 1] < 60)  # the face, in view
    assert not np.any(last[..., 1] < 60)  # the other frame: not framed on a wrong box


def test_stop_does_not_wait_for_a_stuck_driver():
    gate = threading.Event()

    class Stuck(SlowCamera):
        def send(self, frame):
            gate.wait(10)

    cam = VirtualCamera(VirtualCameraSettings(width=64, height=64),
                        lambda *a, **k: Stuck(*a, **k))
    cam.start()
    cam.send(np.zeros((64, 64, 3), np.uint8))
    time.sleep(0.2)
    t = time.monotonic()
    cam.stop()
    assert time.monotonic() - t < 2
    gate.set()
