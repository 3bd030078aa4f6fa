"""Cameras: a missing one is a clear error that lists what there is."""
from __future__ import annotations

import sys

import pytest

from puppet.errors import PuppetError
from puppet.sources.camera import Camera, CameraInfo, _linux_cameras, list_cameras


def test_a_camera_that_does_not_exist_is_a_clear_error():
    present = {c.index for c in list_cameras()}
    missing = next(i for i in range(40, 100) if i not in present)
    with pytest.raises(PuppetError) as err:
        Camera(missing)
    text = str(err.value)
    assert f"Camera {missing} does not exist" in text
    if not present:
        assert "--source demo" in text  # says what to use instead


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 is Linux only")
def test_only_capture_devices_are_listed(tmp_path):
    # files that are named like devices but are not: none of them is a camera
    (tmp_path / "video0").write_bytes(b"")
    (tmp_path / "video1").mkdir()
    (tmp_path / "videox").write_bytes(b"")
    assert _linux_cameras(tmp_path) == []


def test_camera_labels():
    assert CameraInfo(2, "HD Webcam").label == "Camera 2: HD Webcam"
    assert CameraInfo(0, "").label == "Camera 0"
