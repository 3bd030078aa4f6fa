"""The face mesh as a surface: its triangles, and the landmarks a face hides itself.

MediaPipe's first 468 landmarks (the irises are the other ten) are the corners of a
triangulated surface over the front of the head.  It places every one of them, seen
or not: in a three-quarter view the far cheek's edge, the far side of the jaw and the
side of the nose lie behind the face that is seen, and their landmarks sit on the
picture over the near cheek or the nose.  The warp's control points move the pixels
under them, so a hidden point that moves as its own part of the head does (the far
cheek's edge, outwards as the head turns further away) drags pixels of the visible
face with it, and the warp folds there.  :func:`hidden_landmarks` finds those points
once per portrait, so that the warp can move them mostly as the seen points around
them move instead.
"""
from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from puppet.tracking import landmarks as lm

MESH_POINTS = 468  # the landmarks that are corners of the mesh (the irises are not)
DEPTH_MARGIN = 0.05  # how far behind the surface a point must lie to be hidden (eye distances)


def _edges(tri: Iterable[int]) -> list[frozenset[int]]:
    a, b, c = tri
    return [frozenset((a, b)), frozenset((b, c)), frozenset((c, a))]


def triangles_from_edges(edges: Iterable[tuple[int, int]]) -> np.ndarray:
    """[T, 3] the triangles of a mesh given by its edges, all wound the same way.

    A triangle is three points joined to each other.  A ring of three such points that
    lies around a triangle (all three of its edges already border two triangles: in
    MediaPipe's mesh, one over each nostril) closes no face and is left out.  The
    winding is then made to agree across every shared edge (neighbours run along it
    in opposite directions); which way round is the front is up to the view (see
    :func:`facing_area`)."""
    near: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        if a != b:
            near[a].add(b)
            near[b].add(a)
    found = {tuple(sorted((a, b, c))) for a in near for b in near[a] if b > a
             for c in near[a] & near[b] if c > b}
    count = Counter(e for tri in found for e in _edges(tri))
    tris = [list(t) for t in sorted(found) if not all(count[e] > 2 for e in _edges(t))]

    by_edge: dict[frozenset[int], list[int]] = defaultdict(list)
    for i, tri in enumerate(tris):
        for e in _edges(tri):
            by_edge[e].append(i)
    done = [False] * len(tris)
    for start in range(len(tris)):
        if done[start]:
            continue
        done[start] = True
        todo = [start]
        while todo:
            tri = tris[todo.pop()]
            for k in range(3):
                a, b = tri[k], tri[(k + 1) % 3]
                for j in by_edge[frozenset((a, b))]:
                    if done[j]:
                        continue
                    other = tris[j]
                    if any(other[m] == a and other[(m + 1) % 3] == b for m in range(3)):
                        other[1], other[2] = other[2], other[1]  # runs a -> b too: turn it
                    done[j] = True
                    todo.append(j)
    return np.array(tris, dtype=np.int64).reshape(-1, 3)


@functools.lru_cache(maxsize=1)
def triangles() -> np.ndarray:
    """[T, 3] the face mesh's triangles (indices of landmarks), read from MediaPipe."""
    from puppet.tracking.mediapipe_tracker import import_mediapipe

    import_mediapipe()
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    tris = triangles_from_edges(FACEMESH_TESSELATION)
    tris.setflags(write=False)
    return tris


def facing_area(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """[T] each triangle's area in the picture (points' x and y): positive where it
    faces the camera, negative where it faces away.  The front is the winding that
    covers more of the picture, as a face's front does in any view short of a profile."""
    p = np.asarray(points, np.float64)[:, :2]
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    area = 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
                  - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    return -area if area.sum() < 0 else area


def hidden_landmarks(points: np.ndarray, tris: np.ndarray | None = None,
                     depth_margin: float = DEPTH_MARGIN) -> np.ndarray:
    """[N] bool: the landmarks of one face (N x 3: x, y in pixels, MediaPipe's depth on
    the same scale, smaller nearer) that the face itself hides in this view.

    A point is hidden where the triangles around it face away from the camera more
    (by area) than towards it, or where a triangle that faces the camera covers it
    and lies in front of it by more than ``depth_margin`` eye distances.  The irises
    are not part of the mesh and count as seen."""
    tris = triangles() if tris is None else tris
    p = np.asarray(points, np.float64)
    n = len(p)
    area = facing_area(p, tris)
    front = area > 0
    corners = tris.ravel()
    towards = np.bincount(corners, np.repeat(np.where(front, area, 0.0), 3), minlength=n)
    away = np.bincount(corners, np.repeat(np.where(front, 0.0, -area), 3), minlength=n)
    hidden = away > towards

    # behind the surface: each point against each triangle facing the camera
    ft = tris[front]
    a, b, c = p[ft[:, 0]], p[ft[:, 1]], p[ft[:, 2]]
    e1, e2 = (b - a)[:, :2], (c - a)[:, :2]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # never 0: these have an area
    mesh = min(n, MESH_POINTS)
    rel = p[:mesh, None, :2] - a[None, :, :2]  # [P, F, 2]
    u = (rel[..., 0] * e2[:, 1] - rel[..., 1] * e2[:, 0]) / det
    v = (e1[:, 0] * rel[..., 1] - e1[:, 1] * rel[..., 0]) / det
    inside = (u > 0.02) & (v > 0.02) & (u + v < 0.98)
    inside &= ~np.any(ft[None, :, :] == np.arange(mesh)[:, None, None], axis=2)
    depth = a[:, 2] + u * (b - a)[:, 2] + v * (c - a)[:, 2]  # the surface's, at the point
    eyes = np.linalg.norm(p[lm.RIGHT_EYE_CORNERS[0], :2] - p[lm.LEFT_EYE_CORNERS[0], :2]) \
        if n > max(lm.RIGHT_EYE_CORNERS[0], lm.LEFT_EYE_CORNERS[0]) else 0.0
    behind = inside & (depth < p[:mesh, None, 2] - depth_margin * eyes)
    hidden[:mesh] |= behind.any(axis=1)
    hidden[mesh:] = False
    return hidden
