"""The built-in portraits are made by Puppet's own code from an installed photograph."""
import cv2
import numpy as np

from puppet.artwork import BUILTIN, JPEG_QUALITY, builtin_path, paint, source_photo


def test_committed_portraits_match_the_code():
    photo = source_photo()
    for name, (_file, _title) in BUILTIN.items():
        committed = cv2.imread(str(builtin_path(name)))
        ok, buf = cv2.imencode(".jpg", paint(photo, name.split("-", 1)[1]),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        fresh = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        assert committed.shape == fresh.shape
        assert np.abs(committed.astype(int) - fresh).mean() < 1.0, name


def test_builtin_portraits_have_a_face():
    from puppet.tracking.mediapipe_tracker import find_face

    for name in BUILTIN:
        face = find_face(cv2.imread(str(builtin_path(name))))
        assert face.eye_distance > 60
