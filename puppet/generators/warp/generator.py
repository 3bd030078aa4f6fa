"""The built-in generator: the warp model of :mod:`.model`, run by onnxruntime.

Per portrait (once): a square crop around the face, its tensor, and the control
points: the face's own landmarks, a ring around the head (hair, ears, neck)
that follows the head's rigid motion, and fixed anchors on the crop's edges and
on the image's edges so that neither moves.  Per frame: the control points'
targets from the :class:`Motion`, one model run.

On CUDA the whole model (``puppet_warp.onnx``) draws the frame.  On the CPU the
generator runs the model's first part (``puppet_warp_field.onnx``, the warp
field) and draws with OpenCV (:mod:`.dense`), which is about three times faster
there; ``dense="onnx"`` runs the whole model on the CPU too.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from puppet.errors import PuppetError, by_ctrl_c
from puppet.generators.base import CropBox, register
from puppet.generators.runtime import ModelRunner, ProviderInfo, create_session
from puppet.generators.warp import features
from puppet.generators.warp import model as warp_model
from puppet.generators.warp.dense import DenseDrawer
from puppet.motion.retarget import Motion
from puppet.portrait import Portrait
from puppet.resources import model_file
from puppet.tracking import landmarks as lm
from puppet.tracking import mesh

MODEL_FILE = warp_model.FILE
FIELD_FILE = warp_model.FIELD_FILE
DENSE_MODES = ("auto", "onnx", "opencv")
MAX_RES = 1024  # the generator draws crops of at most this many pixels a side
CROP_SCALE = 2.4  # crop side in face sizes
CROP_LIFT = 0.1  # crop centre above the face's centre, in face sizes
RING_SCALE = 1.35  # the head ring, in face-oval radii
LIMIT = 0.97  # moving points stay inside this part of the crop
# A jaw dropping takes the skin under the chin down with it: the ring points below the
# mouth take this share of the motion (the expression's, over the head's) of the face's
# edge they lie beyond, all of it from the chin's height down, none at the mouth's
# corners' height, and less to either side of the chin, none from JAW_REACH half face
# widths on (the jaw's angles and the ears, and an earring hanging there, stay with the
# head).  Held with the head alone, the ring pulled against the chin: on a photograph
# whose driver dropped its jaw by 0.3 eye distances the painted chin came down 0.13 eye
# distances short of its target (0.04 with this), and on the talking clip d12 the judge
# read the painted chins coming down 0.17 to 0.41 times as far as the mouths opened,
# against the driver's 0.59 (0.25 to 0.49 with this).  Judge over 30 pairs: mouth
# opening 0.910 -> 0.913, head pose 0.896 -> 0.893, expression and jitter unchanged
# (0.874, 1.276).  Reaching to the jaw's angles (no JAW_REACH), it moved the Vermeer's
# earring and, on the near-still clip d0, lowered the judge's head pose on every
# portrait (by 0.003 to 0.05).
JAW_FOLLOW = 0.7
JAW_REACH = 0.6

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarpPrepared:
    box: CropBox
    static_inputs: dict[str, np.ndarray]  # src_points, eye boxes; the fine portrait (ONNX drawing)
    field_inputs: dict[str, np.ndarray]  # the field graph's share of them: src_points, mobility
    drawer: DenseDrawer  # the crop, for drawing with OpenCV
    ring: np.ndarray  # [R, 3] portrait pixels: points beyond the face that follow the head
    ring_amount: np.ndarray  # [R, 1] how much of the head motion each ring point takes
    ring_of: np.ndarray  # [R] the face-oval landmark each ring point lies beyond
    ring_jaw: np.ndarray  # [R, 1] how much of that landmark's own motion it takes (the jaw's)
    anchors: np.ndarray  # [A, 2] crop units: points that never move
    points: np.ndarray  # [478, 2] the portrait's landmarks in crop pixels
    landmarks: np.ndarray  # [478, 3] the portrait's landmarks in portrait pixels
    eyes: tuple[features.EyeRegion, features.EyeRegion]
    mouth_shape: tuple[int, int]
    palette: features.Palette
    hidden: HiddenPoints | None = None  # moving points the face hides in the portrait


@dataclass(frozen=True)
class HiddenPoints:
    """Moving control points that the portrait's face hides (its far cheek's edge in a
    three-quarter view, say, see :mod:`puppet.tracking.mesh`).  Their pixels belong to
    the face in front of them, so they move mostly as the nearest seen points do (a
    weighted mean of their movements, with the same neighbours and weights every
    frame), and keep only ``OWN`` of their own movement.

    All of their own movement folds the warp where the head turns further away (the far
    cheek's edge moves out over the face in front of it).  None of it loses much of the
    turn: the far cheek no longer narrows as a turning head's does, and the judge's
    tracker read the turned portraits' small head turns about half as large.  A third
    of it keeps most of the turn with no more folding than none (s10/d3: folded pixels
    9 a frame on average against 12 with none and 663 with all of it)."""

    OWN = 0.3

    index: np.ndarray  # [H] rows of the moving points (control points, then the ring)
    neighbours: np.ndarray  # [H, n] rows of seen moving points near each
    weights: np.ndarray  # [H, n] their weights, summing to 1 along each row

    @classmethod
    def of(cls, points: np.ndarray, hidden: np.ndarray, n: int = 8) -> HiddenPoints | None:
        """From the moving points' places in the portrait (crop units) and which of
        them are hidden; None where none is (or nothing is seen)."""
        index = np.flatnonzero(hidden)
        seen = np.flatnonzero(~hidden)
        if len(index) == 0 or len(seen) == 0:
            return None
        dist2 = ((points[index, None, :] - points[None, seen, :]) ** 2).sum(axis=2)
        nearest = np.argsort(dist2, axis=1)[:, :n]
        weights = 1.0 / (np.take_along_axis(dist2, nearest, axis=1) + 1e-6)
        return cls(index=index, neighbours=seen[nearest],
                   weights=weights / weights.sum(axis=1, keepdims=True))

    def apply(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Move the hidden rows of ``dst`` (where the points go, from ``src``) mostly as
        their neighbours move."""
        moves = dst[self.neighbours] - src[self.neighbours]  # [H, n, 2]
        near = np.einsum("hn,hnc->hc", self.weights, moves)
        own = dst[self.index] - src[self.index]
        dst[self.index] = src[self.index] + near + self.OWN * (own - near)


def _tensor(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)


def crop_box(portrait: Portrait, max_res: int = MAX_RES) -> CropBox:
    x0, y0, x1, y1 = portrait.face.bbox
    face = max(x1 - x0, y1 - y0)
    side = max(64, int(round(CROP_SCALE * face / 2.0)) * 2)
    cx = (x0 + x1) / 2.0
    cy = (y0 + y1) / 2.0 - CROP_LIFT * face
    # on even pixels, with an even size: the compositor then blends I420 planes directly
    return CropBox(x0=int(round((cx - side / 2.0) / 2.0)) * 2,
                   y0=int(round((cy - side / 2.0) / 2.0)) * 2, side=side,
                   res=min(max_res // 2 * 2, side))


def crop_image(image: np.ndarray, box: CropBox) -> np.ndarray:
    """The box's pixels (edge pixels repeated past the image), resized to ``res``."""
    h, w = image.shape[:2]
    top, left = max(0, -box.y0), max(0, -box.x0)
    bottom = max(0, box.y0 + box.side - h)
    right = max(0, box.x0 + box.side - w)
    sub = image[max(0, box.y0):min(h, box.y0 + box.side), max(0, box.x0):min(w, box.x0 + box.side)]
    if top or left or bottom or right:
        sub = cv2.copyMakeBorder(sub, top, bottom, left, right, cv2.BORDER_REPLICATE)
    if box.res != box.side:
        sub = cv2.resize(sub, (box.res, box.res), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(sub)


def _face_axes(pts: np.ndarray):
    """Two functions of points ([..., 2+] pixels): how far down the face each lies, along
    the square to the line between the eyes' outer corners (towards the chin), and how
    far across it, along that line.  For an upright head they are the picture's y and
    x (but for an offset); a tilted head's are tilted with it."""
    right, left = lm.RIGHT_EYE_CORNERS[0], lm.LEFT_EYE_CORNERS[0]  # the outer corners
    across = pts[left, :2] - pts[right, :2]
    across = across / max(float(np.linalg.norm(across)), 1e-6)
    down = np.array([-across[1], across[0]])
    eyes = 0.5 * (pts[right, :2] + pts[left, :2])
    if float((pts[lm.CHIN_BOTTOM, :2] - eyes) @ down) < 0.0:
        down = -down
    return (lambda p: np.asarray(p)[..., :2] @ down), (lambda p: np.asarray(p)[..., :2] @ across)


def _edge_points(n: int) -> np.ndarray:
    t = np.linspace(-1.0, 1.0, n)
    pts = [(x, -1.0) for x in t] + [(x, 1.0) for x in t]
    pts += [(-1.0, y) for y in t[1:-1]] + [(1.0, y) for y in t[1:-1]]
    return np.array(pts)


def _image_edge_anchors(box: CropBox, image_size: tuple[int, int]) -> np.ndarray:
    """Points on the image's own edges that lie inside the crop (they must not move)."""
    w, h = image_size
    corners_unit = box.to_unit(np.array([[0.0, 0.0], [w, h]]))
    (ux0, uy0), (ux1, uy1) = corners_unit
    t = np.linspace(-1.0, 1.0, 9)
    pts = []
    for edge_x in (ux0, ux1):
        if -1.0 < edge_x < 1.0:
            pts += [(edge_x, y) for y in t if uy0 <= y <= uy1]
    for edge_y in (uy0, uy1):
        if -1.0 < edge_y < 1.0:
            pts += [(x, edge_y) for x in t if ux0 <= x <= ux1]
    return np.array(pts).reshape(-1, 2)


FRAME_BAND = 0.08  # the picture's frame, as a fraction of its shorter side, never moves
FRAME_RAMP = 0.06  # and inside it, motion fades in over this much more


def _hidden_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Which of a portrait's landmarks its face hides.  The mesh's triangles come from
    MediaPipe; where it is not installed (a generator-only setup, which takes its
    landmarks from elsewhere) every point counts as seen, as before this was known."""
    try:
        tris = mesh.triangles()
    except ImportError as exc:
        if by_ctrl_c(exc):
            raise KeyboardInterrupt from exc
        log.warning("MediaPipe's face mesh is not available (%s): the warp treats every "
                    "landmark of the portrait as seen", exc)
        return np.zeros(len(landmarks), bool)
    return mesh.hidden_landmarks(landmarks, tris)


def _mobility(box: CropBox, image_size: tuple[int, int]) -> np.ndarray:
    """[G*G, 1], for the warp grid's nodes (row by row): 0 where the warp must leave
    pixels exactly where they are (the picture's frame, the crop's edges), 1 where they
    may move, smooth between.  The held band reaches one node further than needed, so
    that the grid's bilinear upsampling is exactly still over all of it."""
    w, h = image_size
    # node positions in the portrait's pixels: the centres of GRID equal blocks
    lin = (warp_model.node_units().astype(np.float64) + 1.0) * (box.side / 2.0)
    cell = lin[1] - lin[0]
    xs, ys = box.x0 + lin, box.y0 + lin
    band, ramp = FRAME_BAND * min(w, h) + cell, FRAME_RAMP * min(w, h)

    def fade(dist: np.ndarray, start: float, width: float) -> np.ndarray:
        t = np.clip((dist - start) / max(width, 1e-6), 0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    # the two outer nodes on each side are held: the crop's outer cell stays still
    edge = np.minimum(lin, box.side - lin)
    held = 1.5 * cell
    fx = fade(np.minimum(xs, w - xs), band, ramp) * fade(edge, held, 0.04 * box.side)
    fy = fade(np.minimum(ys, h - ys), band, ramp) * fade(edge, held, 0.04 * box.side)
    return np.ascontiguousarray(np.outer(fy, fx).reshape(-1, 1), dtype=np.float32)


def _border_band_anchors(box: CropBox, image_size: tuple[int, int],
                         moving: np.ndarray) -> np.ndarray:
    """Fixed points just inside the picture's edges (6% in), where the crop reaches
    them and no moving point is near: the frame of the picture stays still."""
    w, h = image_size
    inset = 0.06 * min(w, h)
    step = box.side / 8.0
    xs = np.arange(inset, w - inset + 1e-6, step)
    ys = np.arange(inset, h - inset + 1e-6, step)
    pts = np.concatenate([np.stack([xs, np.full_like(xs, inset)], 1),
                          np.stack([xs, np.full_like(xs, h - inset)], 1),
                          np.stack([np.full_like(ys, inset), ys], 1),
                          np.stack([np.full_like(ys, w - inset), ys], 1)])
    unit = box.to_unit(pts)
    inside = np.all(np.abs(unit) < 0.97, axis=1)
    near = np.min(np.linalg.norm(pts[:, None, :] - moving[None, :, :], axis=2), axis=1)
    keep = inside & (near > 0.1 * min(w, h))
    return unit[keep].reshape(-1, 2)


class WarpGenerator:
    """The built-in landmark-driven warp, as an ONNX model on CPU or CUDA."""

    name = "warp"

    def __init__(self, device: str = "auto", model_path: str | None = None,
                 threads: int | None = None, dense: str = "auto"):
        """``model_path``: the whole model (its field graph is looked for beside it).
        ``dense``: who draws the frame from the warp field: ``onnx`` (the whole model),
        ``opencv`` (the field graph, then :class:`DenseDrawer`), ``auto`` (OpenCV on the
        CPU, the whole model on CUDA)."""
        if dense not in DENSE_MODES:
            raise PuppetError(f"unknown dense drawing {dense!r}",
                              f"use one of {', '.join(DENSE_MODES)}")
        path = Path(model_path) if model_path else model_file(MODEL_FILE)
        self.session, self.info = create_session(path, device, threads=threads)
        meta = _check(self.session, path, warp_model.NAME)
        self.contract = json.loads(meta.get("puppet.contract", "{}"))
        if dense == "auto":
            dense = "onnx" if self.info.device == "cuda" else "opencv"
        self.dense = dense
        if dense == "opencv":
            field_path = path.with_name(FIELD_FILE)
            if not field_path.is_file():
                raise PuppetError(f"the model {FIELD_FILE} is missing beside {path.name}",
                                  "re-create both with 'puppet export-model' or install "
                                  "Puppet again")
            self.field_session, field_info = create_session(field_path, self.info.device,
                                                            threads=threads)
            _check(self.field_session, field_path, warp_model.FIELD_NAME)
            self.runner = ModelRunner(self.field_session, field_info)
        else:
            self.field_session = None
            self.runner = ModelRunner(self.session, self.info)

    @property
    def mode(self) -> str:
        """How frames are drawn, for reports: the runner's mode, and OpenCV's part."""
        return f"{self.runner.mode} + OpenCV remap" if self.dense == "opencv" else \
            self.runner.mode

    @property
    def provider(self) -> ProviderInfo:
        return self.info

    def prepare(self, portrait: Portrait) -> WarpPrepared:
        box = crop_box(portrait)
        crop = crop_image(portrait.image, box)
        pts = portrait.face.landmarks.astype(np.float64)
        crop_points = box.to_pixels(pts[:, :2])
        control = np.clip(box.to_unit(pts[lm.CONTROL, :2]), -LIMIT, LIMIT)

        # a ring around the head: hair and ears follow the head, the neck half as much
        oval = pts[lm.FACE_OVAL]
        centre = pts[lm.FACE_OVAL].mean(axis=0)
        ring = centre + RING_SCALE * (oval - centre)
        ring[:, 2] = oval[:, 2]  # as deep as the face's edge: both turn together
        ring_unit = box.to_unit(ring[:, :2])
        inside = np.all(np.abs(ring_unit) < 0.9, axis=1)
        ring, ring_unit = ring[inside], ring_unit[inside]
        ring_of = np.asarray(lm.FACE_OVAL)[inside]  # the landmark each ring point lies beyond
        # "below" and "aside" are the face's own: a tilted head's are tilted with it
        down_of, aside_of = _face_axes(pts)
        nose_y = down_of(pts[lm.NOSE_TIP])
        chin_y = down_of(pts[lm.CHIN_BOTTOM])
        below = np.clip((down_of(ring) - nose_y) / max(chin_y - nose_y, 1.0), 0.0, 1.0)
        amount = 1.0 - 0.6 * below
        # the picture's frame stays still: near its edges the ring moves less
        w, h = portrait.size
        margin = min(w, h)
        to_edge = np.minimum.reduce([ring[:, 0], w - ring[:, 0], ring[:, 1], h - ring[:, 1]])
        still_edge = np.clip((to_edge - 0.08 * margin) / (0.12 * margin), 0.0, 1.0)
        amount = amount * still_edge
        # and below the mouth, near the chin, the jaw's own motion (see JAW_FOLLOW)
        mouth_y = down_of(pts[list(lm.MOUTH_CORNERS)]).mean()
        down = np.clip((down_of(ring) - mouth_y) / max(chin_y - mouth_y, 1.0), 0.0, 1.0)
        half_width = 0.5 * np.ptp(aside_of(pts[lm.FACE_OVAL]))
        aside = np.clip(1.0 - np.abs(aside_of(ring) - aside_of(pts[lm.CHIN_BOTTOM]))
                        / (JAW_REACH * half_width), 0.0, 1.0)
        jaw = JAW_FOLLOW * down * still_edge * aside

        moving = np.concatenate([pts[lm.CONTROL, :2], ring[:, :2]])
        anchors = np.concatenate([_edge_points(9), _image_edge_anchors(box, portrait.size),
                                  _border_band_anchors(box, portrait.size, moving)], axis=0)
        src = np.concatenate([control, ring_unit, anchors], axis=0).astype(np.float32)
        # a point hidden in the portrait hides its ring point too: the ring point lies
        # beyond a face edge that is not the one seen
        hidden = _hidden_landmarks(portrait.face.landmarks)
        moving_hidden = np.concatenate([hidden[lm.CONTROL], hidden[ring_of]])
        stand_in = HiddenPoints.of(src[:len(moving_hidden)].astype(np.float64), moving_hidden)
        eyes = (features.eye_region(crop, crop_points, 0),
                features.eye_region(crop, crop_points, 1))
        drawer = DenseDrawer(crop)
        static = {"src_points": src, "mobility": _mobility(box, portrait.size)}
        if self.dense == "onnx":  # only the whole model samples it (4 S^2 floats)
            static["portrait"] = _tensor(drawer.fine)
        field_inputs = {"src_points": static["src_points"], "mobility": static["mobility"]}
        for region, name in zip(eyes, ("eye_r", "eye_l")):
            static[name + "_patch_box"] = np.array(region.box, np.float32)
            # a blank whose shape is the eye's output box
            static[name + "_area"] = np.zeros(tuple(region.out_size), np.uint8)
        return WarpPrepared(box=box, static_inputs=static, field_inputs=field_inputs,
                            drawer=drawer, ring=ring,
                            ring_amount=amount[:, None], ring_of=ring_of,
                            ring_jaw=jaw[:, None], anchors=anchors.astype(np.float32),
                            points=crop_points, landmarks=pts,
                            eyes=eyes,
                            mouth_shape=features.mouth_box_shape(crop_points, box.res),
                            palette=features.portrait_palette(crop, crop_points),
                            hidden=stand_in)

    def targets(self, prepared: WarpPrepared, motion: Motion,
                rest: np.ndarray | None = None) -> np.ndarray:
        """Where each control point goes for this motion (crop units, K x 2).

        The lids are not warped apart or together (closing would squash the eyeball,
        and the warp's grid, coarser than an eye, shows only about half of an opening):
        the upper lid keeps its painted distance from the lower one, and the eye patch
        slides the lid down over the eyeball, or up off it, instead.  Likewise an iris
        the eye patch can move within its eye stays with the head here.  ``rest``: the
        portrait's landmarks moved with the head alone (portrait pixels, N x 2), if
        already known."""
        box = prepared.box
        pts = motion.landmarks[:, :2].copy()
        if rest is None:
            rest = motion.move_head_points(prepared.landmarks)[:, :2]
        for upper, lower, _ in features.EYES:
            up, lo = upper[1:-1], lower[1:-1]
            pts[up] = pts[lo] - (rest[lo] - rest[up])
        # and an iris the eye patch moves (see features.eye_patch) stays put in the warp
        for region in prepared.eyes:
            if region.gaze is not None:
                iris = features.IRISES[region.eye]
                pts[iris] = rest[iris]
        control = box.to_unit(pts[lm.CONTROL])
        full = motion.move_head_points(prepared.ring)[:, :2]
        ring = prepared.ring[:, :2] + prepared.ring_amount * (full - prepared.ring[:, :2])
        # and under the chin, the jaw's own motion (see JAW_FOLLOW)
        ring = ring + prepared.ring_jaw * (pts[prepared.ring_of] - rest[prepared.ring_of])
        moving = np.clip(np.concatenate([control, box.to_unit(ring)], axis=0), -LIMIT, LIMIT)
        if prepared.hidden is not None:
            prepared.hidden.apply(prepared.field_inputs["src_points"], moving)
        return np.concatenate([moving, prepared.anchors], axis=0).astype(np.float32)

    def frame_inputs(self, prepared: WarpPrepared, motion: Motion) -> dict[str, np.ndarray]:
        box = prepared.box
        target = box.to_pixels(motion.landmarks[:, :2])
        rest = motion.move_head_points(prepared.landmarks)[:, :2]
        inputs = {"dst_points": self.targets(prepared, motion, rest)}
        rest = box.to_pixels(rest)
        for region, name in zip(prepared.eyes, ("eye_r", "eye_l")):
            closing = features.eye_closing(target, prepared.points, region.eye, motion.scale)
            gaze = None
            if region.gaze is not None:
                gaze = features.gaze_shift(target, rest, region.eye)
            inputs[name + "_patch"] = warp_model.fine_patch(
                features.eye_patch(region, closing, gaze))
            upper = features.EYES[region.eye][0]
            centre = 0.5 * (target[upper[0]] + target[upper[-1]])
            inputs[name + "_origin"] = np.array(
                features.box_origin(centre, region.out_size, box.res), np.int64)
        view = motion.driver
        layer, origin = features.mouth_layer(
            target, prepared.points, prepared.mouth_shape, box.res, prepared.palette,
            driver_image=None if view is None else view.image,
            driver_points=None if view is None else view.landmarks[:, :2],
            driver_lips=None if view is None else view.lip_colour,
            driver_rgb=view is not None and view.channels == "rgb")
        inputs["mouth"] = layer
        inputs["mouth_origin"] = np.array(origin, np.int64)
        return inputs

    def render(self, prepared: WarpPrepared, motion: Motion) -> np.ndarray:
        return self.finish(prepared, self.begin(prepared, motion))

    def begin(self, prepared: WarpPrepared, motion: Motion) -> tuple[np.ndarray | None, dict]:
        """A frame's first half, which draws no pixels: the eyes' patches, the mouth's
        layer and (on the CPU) the warp field.  A render runs it in a thread of its own
        while :meth:`finish` draws the frame before (each half takes about as long)."""
        inputs = self.frame_inputs(prepared, motion)
        if self.dense == "onnx":
            return None, inputs
        field = self.runner.run(prepared.field_inputs, {"dst_points": inputs["dst_points"]})
        return field, inputs

    def finish(self, prepared: WarpPrepared, begun: tuple[np.ndarray | None, dict]
               ) -> np.ndarray:
        """The frame [S, S, 3] uint8 BGR, from what :meth:`begin` made of its motion."""
        field, inputs = begun
        if field is None:
            return self.runner.run(prepared.static_inputs, inputs)
        return prepared.drawer.draw(field, {**prepared.static_inputs, **inputs})


def _check(session, path: Path, name: str) -> dict[str, str]:
    """The session's metadata, after checking that it is this Puppet's ``name`` model."""
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("puppet.name") != name:
        raise PuppetError(f"{path} is not Puppet's {name} model",
                          "re-create it with 'puppet export-model'")
    if meta.get("puppet.version") != warp_model.VERSION:
        raise PuppetError(
            f"{path} is version {meta.get('puppet.version')} of the warp model, "
            f"this Puppet needs version {warp_model.VERSION}",
            "re-create it with 'puppet export-model'")
    return meta


@register("warp")
def _create(device: str = "auto", **kwargs) -> WarpGenerator:
    return WarpGenerator(device=device, **kwargs)
