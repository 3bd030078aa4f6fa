"""The face mesh's triangles, and which landmarks a face hides, on a real face turned in 3D."""
from __future__ import annotations

from collections import Counter

import numpy as np
from conftest import turned

from puppet.tracking import landmarks as lm
from puppet.tracking import mesh


def _directed(tris: np.ndarray) -> Counter:
    return Counter((int(t[k]), int(t[(k + 1) % 3])) for t in tris for k in range(3))


def test_a_ring_drawn_around_a_triangle_is_no_face_and_the_winding_agrees():
    # a triangle 0-1-2 with a point 3 inside, joined to its corners, and a triangle
    # outside each of its sides (as around a nostril): the ring 0-1-2 is three joined
    # points too, but no face
    edges = [(0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3),
             (0, 4), (1, 4), (1, 5), (2, 5), (2, 6), (0, 6)]
    tris = mesh.triangles_from_edges(edges)
    assert sorted(tuple(sorted(t)) for t in tris) == [
        (0, 1, 3), (0, 1, 4), (0, 2, 3), (0, 2, 6), (1, 2, 3), (1, 2, 5)]
    directed = _directed(tris)
    assert max(directed.values()) == 1
    shared = [(a, b) for a, b in directed if (b, a) in directed]
    assert len(shared) == 2 * 6  # the six inner edges, each run both ways


def test_mediapipes_mesh_is_one_surface_wound_one_way_and_edged_by_the_face_oval():
    tris = mesh.triangles()
    assert len(tris) > 800 and tris.max() < mesh.MESH_POINTS
    directed = _directed(tris)
    assert max(directed.values()) == 1  # no edge run twice the same way: one winding
    undirected = Counter(frozenset(e) for e in directed.elements())
    assert max(undirected.values()) == 2
    edge = {e for e, n in undirected.items() if n == 1}
    oval = lm.FACE_OVAL
    assert all(frozenset((a, b)) in edge for a, b in zip(oval, oval[1:] + oval[:1]))


def test_a_face_seen_from_the_front_hides_nothing(grace_face):
    hidden = mesh.hidden_landmarks(grace_face.landmarks)
    assert hidden.shape == (lm.NUM_LANDMARKS,)
    assert not hidden.any()
    area = mesh.facing_area(grace_face.landmarks, mesh.triangles())
    assert (area > 0).mean() > 0.97


def test_a_turned_face_hides_its_far_side_and_the_far_wing_of_its_nose(grace_face):
    front = grace_face.landmarks.astype(np.float64)
    oval = np.array(lm.FACE_OVAL)
    nose_x = front[lm.NOSE_TIP, 0]
    sides = []
    for yaw in (35.0, -35.0):
        hidden = mesh.hidden_landmarks(turned(front, yaw))
        far = oval[hidden[oval]]
        assert len(far) >= 8  # a stretch of the face's edge
        side = np.sign(front[far, 0] - nose_x)  # where those points are on the face
        assert np.all(side == side[0])
        sides.append(side[0])
        # the nose hides the wing on the far side, not the near one
        wings = (64, 294) if side[0] < 0 else (294, 64)
        assert hidden[wings[0]] and not hidden[wings[1]]
        assert not hidden[lm.NOSE_TIP] and not hidden[lm.IRISES].any()
    assert sides[0] == -sides[1]
