"""A portrait in three-quarter view, turned: the points its face hides must not fold the warp."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import turned

from puppet.generators.base import create
from puppet.generators.warp.dense import folded
from puppet.motion.retarget import Retargeter, RetargetSettings
from puppet.portrait import Portrait
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face


@pytest.fixture(scope="module")
def three_quarter(grace_photo, grace_face):
    """The photograph with the landmarks of its face turned 35 degrees (the warp reads
    only where the points are, so this is a three-quarter view to it)."""
    face = Face(turned(grace_face.landmarks, 35.0).astype(np.float32), 1.0,
                grace_face.image_size)
    return Portrait(image=grace_photo, face=face, name="three-quarter", source="test")


def _folded(prepared, field) -> int:
    """Pixels where the warp's sampling map turns over (the picture shown twice there)."""
    return int(folded(prepared.drawer.sampling_map(field)).sum())


@pytest.mark.parametrize("turn", [20.0, -20.0])
def test_turning_a_three_quarter_view_does_not_fold_the_face(three_quarter, grace_face, turn):
    gen = create("warp", "cpu")
    prepared = gen.prepare(three_quarter)
    assert prepared.hidden is not None and len(prepared.hidden.index) >= 10

    rt = Retargeter(three_quarter.face, RetargetSettings(smoothing=0.0))
    rt.calibrate(grace_face)
    driver = Face(turned(grace_face.landmarks, turn).astype(np.float32), 1.0,
                  grace_face.image_size)
    motion = rt.motion(driver)

    field, _ = gen.begin(prepared, motion)
    assert _folded(prepared, field) == 0
    # the same turn with the hidden points moving as their own part of the head: the
    # far cheek's edge drags the face in front of it along, and the warp folds
    as_seen = dataclasses.replace(prepared, hidden=None)
    field_as_seen, _ = gen.begin(as_seen, motion)
    assert _folded(as_seen, field_as_seen) > 30

    # only the hidden points' targets differ: each moves mostly as its seen neighbours
    # do, keeping a little of its own move
    dst, dst_as_seen = gen.targets(prepared, motion), gen.targets(as_seen, motion)
    hidden = np.zeros(len(dst), bool)
    hidden[prepared.hidden.index] = True
    np.testing.assert_array_equal(dst[~hidden], dst_as_seen[~hidden])
    assert not np.allclose(dst[hidden], dst_as_seen[hidden], atol=1e-3)
    assert not hidden[prepared.hidden.neighbours].any()
    src = prepared.field_inputs["src_points"]
    move, own = dst - src, dst_as_seen - src
    near = np.einsum("hn,hnc->hc", prepared.hidden.weights, move[prepared.hidden.neighbours])
    keep = prepared.hidden.OWN
    assert 0.0 < keep < 0.5
    np.testing.assert_allclose(move[hidden], (1 - keep) * near + keep * own[hidden],
                               atol=1e-6)


def test_a_portrait_seen_from_the_front_has_no_hidden_points(grace_photo, grace_face):
    portrait = Portrait(image=grace_photo, face=grace_face, name="front", source="test")
    assert create("warp", "cpu").prepare(portrait).hidden is None
    assert len(lm.CONTROL) > 100
