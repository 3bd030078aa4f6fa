"""Relative motion transfer, checked on real landmarks (the Grace Hopper photograph)."""
from __future__ import annotations

import numpy as np
import pytest

from puppet.motion.pose import euler_degrees, euler_to_matrix, similarity_fit
from puppet.motion.retarget import (
    NOD_TILT,
    PITCH_GAIN,
    ROLL_GAIN,
    YAW_GAIN,
    Retargeter,
    RetargetSettings,
    ease_head_motion,
)
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face

LOWER_LIP = lm.LIPS_INNER_LOWER[1:-1]


def _driver(face: Face, scale=2.0, offset=(300.0, 120.0), squeeze=1.0) -> Face:
    """The same face, bigger and elsewhere in a bigger image (optionally narrower)."""
    pts = face.landmarks.astype(np.float64).copy()
    c = pts.mean(axis=0)
    pts[:, 0] = c[0] + (pts[:, 0] - c[0]) * squeeze
    pts = pts * scale + np.array([offset[0], offset[1], 0.0])
    return Face(pts.astype(np.float32), 1.0, (2000, 1600))


def _with(face: Face, fn) -> Face:
    pts = face.landmarks.astype(np.float64).copy()
    fn(pts)
    return Face(pts.astype(np.float32), 1.0, face.image_size)


def test_the_neutral_maps_to_the_portrait_itself(grace_face):
    rt = Retargeter(grace_face)
    driver = _driver(grace_face)
    m = rt.motion(driver)
    assert m.neutral
    np.testing.assert_array_equal(m.landmarks, grace_face.landmarks.astype(np.float64))


def test_head_rotation_moves_over(grace_face):
    rt = Retargeter(grace_face, RetargetSettings(smoothing=0.0))
    d0 = _driver(grace_face)
    rt.calibrate(d0)
    turn = euler_to_matrix(6, -4, 3)

    def rotate(p):
        c = p[lm.RIGID].mean(axis=0)
        p[:] = (p - c) @ turn.T + c + np.array([40.0, 0.0, 0.0])

    m = rt.motion(_with(d0, rotate))
    s, r, _ = similarity_fit(grace_face.landmarks[lm.RIGID], m.landmarks[lm.RIGID])
    # each angle carried over with its perceptual gain (a warp shows a turn as
    # foreshortening only), a little eased: more than the driver's, never more than
    # the gain times it
    got = np.asarray(euler_degrees(r))
    driver = np.array([6.0, -4.0, 3.0])
    gains = np.array([YAW_GAIN, PITCH_GAIN, ROLL_GAIN])
    assert np.all(np.abs(got) > np.abs(driver) + 0.2)
    assert np.all(np.abs(got) <= gains * np.abs(driver) + 0.2)
    assert np.all(np.sign(got) == np.sign(driver))
    assert s == pytest.approx(1.0, abs=1e-3)
    # the head shift is scaled to the portrait (40 driver pixels at twice the size: 20),
    # and damped: a painted head slides less than a real one
    moved = m.landmarks[lm.RIGID, 0].mean() - grace_face.landmarks[lm.RIGID, 0].mean()
    assert 0.5 * 20.0 < moved < 20.0


def test_large_head_motion_is_eased_not_torn(grace_face):
    """A painting cannot turn 60 degrees or slide out of its frame: big motions are
    eased off smoothly, and more motion never gives less."""
    rt = Retargeter(grace_face, RetargetSettings(smoothing=0.0))
    d0 = _driver(grace_face)
    rt.calibrate(d0)
    yaws, shifts = [], []
    for yaw, dx in [(10, 50), (30, 200), (60, 600)]:
        turn = euler_to_matrix(yaw, 0, 0)

        def rotate(p, turn=turn, dx=dx):
            c = p[lm.RIGID].mean(axis=0)
            p[:] = (p - c) @ turn.T + c + np.array([dx, 0.0, 0.0])

        m = rt.motion(_with(d0, rotate))
        yaws.append(euler_degrees(m.rotation)[0])
        shifts.append(m.shift[0])
    # a small turn: the driver's, times the perceptual gain, barely eased
    assert 10 < yaws[0] < YAW_GAIN * 10 + 0.5
    assert yaws[0] < yaws[1] < yaws[2] < 25
    height = np.linalg.norm(grace_face.landmarks[152] - grace_face.landmarks[10])
    assert shifts[0] < shifts[1] < shifts[2] < 0.16 * height


def test_expression_is_scaled_to_the_portrait_and_keeps_its_shape(grace_face):
    rt = Retargeter(grace_face, RetargetSettings(smoothing=0.0))
    d0 = _driver(grace_face, squeeze=0.8)  # a narrower face: another identity
    rt.calibrate(d0)

    def open_mouth(p):
        p[LOWER_LIP, 1] += 30.0  # 30 driver pixels = 15 portrait pixels

    m = rt.motion(_with(d0, open_mouth))
    moved = m.landmarks[:, :2] - grace_face.landmarks[:, :2]
    assert np.allclose(moved[LOWER_LIP, 1], 15.0, atol=1.5)
    others = [i for i in range(478) if i not in LOWER_LIP]
    assert np.abs(moved[others]).max() < 1.0  # the portrait's own shape is untouched


def test_the_nose_stays_put_while_the_mouth_moves(grace_face):
    """The face mesh bends its nose down with an opening mouth (on a talking driver, the
    nose's tip, base and wings all about 0.1 eye distances per unit of mouth opening);
    the portrait's mouth opens, its nose does not move, and the cheeks still follow.
    (The nose points among the skull's are left to the head's pose here.)"""
    rt = Retargeter(grace_face, RetargetSettings(smoothing=0.0))
    d0 = _driver(grace_face)
    rt.calibrate(d0)
    cheeks = [50, 280, 117, 346]
    nose = [i for i in lm.NOSE if i not in lm.RIGID]  # the tip, its base, the wings

    def talk(p):
        p[LOWER_LIP, 1] += 30.0  # 15 portrait pixels
        p[nose, 1] += 6.0  # the mesh's nose bending with it
        p[cheeks, 1] -= 4.0  # the cheeks rising (2 portrait pixels)

    m = rt.motion(_with(d0, talk))
    moved = m.landmarks[:, :2] - grace_face.landmarks[:, :2]
    assert np.allclose(moved[LOWER_LIP, 1], 15.0, atol=1.5)
    assert np.abs(moved[lm.NOSE]).max() < 0.3
    assert np.allclose(moved[cheeks, 1], -2.0, atol=0.3)


def test_gains_switch_features_off(grace_face):
    d0 = _driver(grace_face)
    turn = euler_to_matrix(20, 0, 0)

    def both(p):
        p[LOWER_LIP, 1] += 30.0
        c = p[lm.RIGID].mean(axis=0)
        p[:] = (p - c) @ turn.T + c

    still = Retargeter(grace_face, RetargetSettings(expression=0.0, head=0.0, smoothing=0.0))
    still.calibrate(d0)
    m = still.motion(_with(d0, both))
    np.testing.assert_allclose(m.landmarks, grace_face.landmarks, atol=1e-6)
    half = Retargeter(grace_face, RetargetSettings(expression=0.5, head=0.0, smoothing=0.0))
    half.calibrate(d0)
    m = half.motion(_with(d0, both))
    lip = m.landmarks[LOWER_LIP, 1] - grace_face.landmarks[LOWER_LIP, 1]
    assert np.allclose(lip, 7.5, atol=1.0)


def test_smoothing_calms_a_jittery_still_driver(grace_face):
    rng = np.random.default_rng(0)
    d0 = _driver(grace_face)

    def jitter_run(smoothing):
        rt = Retargeter(grace_face, RetargetSettings(smoothing=smoothing))
        out = []
        for i in range(90):
            noisy = _with(d0, lambda p: p.__iadd__(rng.normal(0, 1.5, p.shape)))
            out.append(rt.motion(noisy, i / 30.0).landmarks[:, :2])
        return np.abs(np.diff(np.array(out)[30:], axis=0)).mean()

    assert jitter_run(0.8) < 0.5 * jitter_run(0.0)


def test_settings_are_checked():
    with pytest.raises(ValueError):
        RetargetSettings(expression=-1)
    with pytest.raises(ValueError):
        RetargetSettings(smoothing=2)


def _eased(rotation: np.ndarray, portrait_yaw: float) -> np.ndarray:
    r, _, _ = ease_head_motion(rotation, 1.0, np.zeros(3), 300.0, portrait_yaw)
    return np.asarray(euler_degrees(r))


def test_a_nod_on_a_turned_portrait_gets_a_counter_tilt():
    """On a three-quarter view a nod is carried with a tilt against the one a face
    tracker reads into it; on a frontal portrait, and for turns and tilts, nothing."""
    nod = euler_to_matrix(0.0, 4.0, 0.0)
    frontal = _eased(nod, 0.0)
    assert frontal[0] == pytest.approx(0.0, abs=1e-9)
    assert frontal[2] == pytest.approx(0.0, abs=1e-9)
    carried = frontal[1]
    assert 4.0 < carried <= PITCH_GAIN * 4.0
    turned = _eased(nod, 30.0)
    assert turned[1] == pytest.approx(carried, abs=1e-9)
    assert turned[2] == pytest.approx(-NOD_TILT * np.tan(np.radians(30.0)) * carried, abs=1e-9)
    # mirrored portrait, mirrored tilt; more turned, more tilt, up to TURN_MAX
    assert _eased(nod, -30.0)[2] == pytest.approx(-turned[2], abs=1e-9)
    assert abs(_eased(nod, 40.0)[2]) > abs(turned[2])
    assert _eased(nod, 80.0)[2] == pytest.approx(_eased(nod, 45.0)[2], abs=1e-9)
    # the tilt leans the way a nod about the head's own ear-to-ear axis does, by less
    head = euler_to_matrix(30.0, 0.0, 0.0)
    own_axis = euler_degrees(head @ euler_to_matrix(0.0, carried, 0.0) @ head.T)[2]
    assert np.sign(turned[2]) == np.sign(own_axis)
    assert abs(turned[2]) < abs(own_axis)
    # a turn or a tilt of the driver gets none (a turned portrait turns less, though)
    for yaw, roll in [(8.0, 0.0), (0.0, 5.0)]:
        plain = _eased(euler_to_matrix(yaw, 0.0, roll), 0.0)
        np.testing.assert_allclose(_eased(euler_to_matrix(yaw, 0.0, roll), 30.0)[1:], plain[1:],
                                   atol=1e-9)


def test_the_head_can_turn_by_its_own_points(grace_face):
    """A render turns the head by the skull's points smoothed less than the rest: given
    them, the head turns by them, the expression still comes from the face."""
    rt = Retargeter(grace_face, RetargetSettings(smoothing=0.0))
    d0 = _driver(grace_face)
    rt.calibrate(d0)
    turn = euler_to_matrix(6, 0, 0)
    pts = d0.landmarks.astype(np.float64)
    c = pts[lm.RIGID].mean(axis=0)
    head = (pts[lm.RIGID] - c) @ turn.T + c
    talking = _with(d0, lambda p: p.__setitem__((LOWER_LIP, 1), p[LOWER_LIP, 1] + 12.0))
    still = rt.motion(talking)
    turned = rt.motion(talking, head=head)
    assert abs(euler_degrees(still.rotation)[0]) < 0.1
    assert 6.0 < euler_degrees(turned.rotation)[0] <= 6.0 * YAW_GAIN + 1e-6
    # the mouth opened in both, by the same amount in the head's own frame
    gap = [m.landmarks[LOWER_LIP, 1].mean() - m.landmarks[lm.LIPS_INNER_UPPER[1:-1], 1].mean()
           for m in (still, turned)]
    assert gap[0] > 3.0 and abs(gap[0] - gap[1]) < 0.05 * gap[0]
