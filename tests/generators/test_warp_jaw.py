"""A jaw dropping: the skin under the chin goes down with it, so that the warp takes the
painted chin all the way to where the driver's chin says."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from puppet.generators.base import create
from puppet.motion.retarget import Retargeter, RetargetSettings
from puppet.portrait import Portrait
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face


def _jaw_dropped(points: np.ndarray, amount: float) -> np.ndarray:
    """The lower lip, the chin and the jaw's lower edge moved down by ``amount`` eye
    distances at the chin, less towards the ears, as a jaw opening does."""
    pts = points.copy()
    iod = float(np.linalg.norm(pts[33, :2] - pts[263, :2]))
    mouth_y = pts[list(lm.MOUTH_CORNERS), 1].mean()
    chin_y = pts[lm.CHIN_BOTTOM, 1]
    jaw = sorted(set(lm.LIPS_INNER_LOWER[1:-1] + lm.LIPS_OUTER_LOWER[1:-1] + lm.CHIN
                     + [i for i in lm.FACE_OVAL if pts[i, 1] > mouth_y]))
    share = np.clip((pts[jaw, 1] - mouth_y) / (chin_y - mouth_y), 0.0, 1.0)
    pts[jaw, 1] += amount * iod * np.maximum(share, 0.5)
    return pts


@pytest.fixture(scope="module")
def opened(grace_photo, grace_face):
    portrait = Portrait(image=grace_photo, face=grace_face, name="grace", source="test")
    gen = create("warp", "cpu")
    prepared = gen.prepare(portrait)
    rt = Retargeter(portrait.face, RetargetSettings(smoothing=0.0))
    rt.calibrate(grace_face)
    driver = Face(_jaw_dropped(grace_face.landmarks, 0.3).astype(np.float32), 1.0,
                  grace_face.image_size)
    return gen, prepared, rt.motion(driver)


def _chin_miss(gen, prepared, motion) -> float:
    """How far (eye distances) from the portrait's chin the output samples where the chin
    should now be."""
    field, _ = gen.begin(prepared, motion)
    where = prepared.drawer.sampling_map(field)
    target = prepared.box.to_pixels(motion.landmarks[:, :2])
    painted = prepared.points
    iod = float(np.linalg.norm(painted[33] - painted[263]))
    x, y = target[lm.CHIN_BOTTOM]
    sampled = where[int(round(y - 0.5)), int(round(x - 0.5))] + 0.5
    return float(np.linalg.norm(sampled - painted[lm.CHIN_BOTTOM]) / iod)


def test_the_skin_under_the_chin_goes_down_with_a_dropping_jaw(opened):
    gen, prepared, motion = opened
    # in the crop's pixels
    target = prepared.box.to_pixels(motion.landmarks[:, :2])
    drop = float(np.linalg.norm(target[lm.CHIN_BOTTOM] - prepared.points[lm.CHIN_BOTTOM]))
    iod = float(np.linalg.norm(prepared.points[33] - prepared.points[263]))
    assert drop > 0.2 * iod  # the retargeter carried the drop over

    # the ring points below the chin follow it; those beyond the jaw's angles (where the
    # ears and earrings are) and above the mouth do not
    still = dataclasses.replace(prepared, ring_jaw=np.zeros_like(prepared.ring_jaw))
    ring = slice(len(lm.CONTROL), len(lm.CONTROL) + len(prepared.ring))
    moved = gen.targets(prepared, motion)[ring] - gen.targets(still, motion)[ring]
    moved_px = np.linalg.norm(moved, axis=1) * prepared.box.res / 2.0
    below_chin = prepared.ring[:, 1] > prepared.landmarks[lm.CHIN_BOTTOM, 1]
    above_mouth = prepared.ring[:, 1] < prepared.landmarks[list(lm.MOUTH_CORNERS), 1].min()
    assert below_chin.any() and above_mouth.any()
    assert moved_px[below_chin].max() > 0.5 * drop
    assert np.all(moved_px[above_mouth] < 1e-3)
    angles = np.isin(prepared.ring_of, [172, 397, 58, 288, 132, 361])
    assert angles.any() and np.all(moved_px[angles] < 1e-3)

    # and so the warp takes the painted chin nearly to the driver's: held by the ring, it
    # stopped 0.13 eye distances short of a 0.3 drop (0.04 now)
    reached, held = _chin_miss(gen, prepared, motion), _chin_miss(gen, still, motion)
    assert reached < 0.06
    assert held > 2.5 * reached


def _on_canvas(image: np.ndarray, face: Face, degrees: float) -> Portrait:
    """The photo in the middle of a large canvas (far from its edges, which hold the
    warp still), turned by ``degrees`` about its centre, its landmarks turned with it."""
    h, w = image.shape[:2]
    side = 1600
    canvas = np.full((side, side, 3), 128, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top:top + h, left:left + w] = image
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    turned = cv2.warpAffine(canvas, turn, (side, side), borderValue=(128, 128, 128))
    pts = face.landmarks.astype(np.float64).copy()
    xy = pts[:, :2] + np.array([left, top])
    pts[:, :2] = xy @ turn[:, :2].T + turn[:, 2]
    return Portrait(image=turned, face=Face(pts.astype(np.float32), 1.0, (side, side)),
                    name="grace", source="test")


def test_a_tilted_head_takes_its_jaw_and_neck_shares_by_its_own_axes(grace_photo, grace_face):
    """A portrait whose head is tilted (here the whole picture, by 30 degrees): which ring
    points count as below the mouth, beside the chin and on the neck goes by the face's
    own up and down, so each takes the share it takes upright."""
    gen = create("warp", "cpu")
    upright = gen.prepare(_on_canvas(grace_photo, grace_face, 0.0))
    tilted = gen.prepare(_on_canvas(grace_photo, grace_face, 30.0))
    both = np.intersect1d(upright.ring_of, tilted.ring_of)
    assert len(both) > 20
    a = np.searchsorted(upright.ring_of, both, sorter=np.argsort(upright.ring_of))
    b = np.searchsorted(tilted.ring_of, both, sorter=np.argsort(tilted.ring_of))
    a, b = np.argsort(upright.ring_of)[a], np.argsort(tilted.ring_of)[b]
    assert (upright.ring_jaw[a] > 0.3).sum() >= 3  # the points under the chin
    np.testing.assert_allclose(tilted.ring_jaw[b], upright.ring_jaw[a], atol=0.02)
    np.testing.assert_allclose(tilted.ring_amount[b], upright.ring_amount[a], atol=0.02)
