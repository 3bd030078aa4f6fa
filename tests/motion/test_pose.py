import numpy as np
import pytest

from puppet.motion.pose import (
    euler_degrees,
    euler_to_matrix,
    head_pose,
    rotation_power,
    similarity_fit,
)


@pytest.mark.parametrize("angles", [(0, 0, 0), (20, -10, 5), (-35, 15, -12)])
def test_euler_round_trip(angles):
    r = euler_to_matrix(*angles)
    np.testing.assert_allclose(euler_degrees(r), angles, atol=1e-6)


def test_head_pose_follows_a_rotated_face(grace_face):
    pts = grace_face.landmarks.astype(np.float64)
    base = head_pose(pts)
    turn = euler_to_matrix(25, 10, -8)
    c = pts.mean(axis=0)
    turned = (pts - c) @ turn.T + c
    pose = head_pose(turned)
    relative = pose.rotation @ base.rotation.T
    np.testing.assert_allclose(relative, turn, atol=1e-6)
    assert pose.scale == pytest.approx(base.scale)


def test_similarity_fit_recovers_the_transform():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 3))
    r = euler_to_matrix(10, 20, 30)
    b = 1.7 * a @ r.T + np.array([3.0, -2.0, 0.5])
    s, rr, t = similarity_fit(a, b)
    assert s == pytest.approx(1.7)
    np.testing.assert_allclose(rr, r, atol=1e-9)
    np.testing.assert_allclose(t, [3.0, -2.0, 0.5], atol=1e-9)


def test_rotation_power_scales_the_angle():
    r = euler_to_matrix(30, 0, 0)
    np.testing.assert_allclose(euler_degrees(rotation_power(r, 0.5)), (15, 0, 0), atol=1e-6)
    np.testing.assert_allclose(rotation_power(r, 0.0), np.eye(3), atol=1e-12)
