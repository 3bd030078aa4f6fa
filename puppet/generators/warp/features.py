"""The eyes and the mouth: small per-frame inputs for the warp model.

A warp can only move pixels: it stretches closed painted lips when the mouth
opens and squashes a painted eye instead of closing it.  So the model draws two
things a warp cannot:

* **Eyes.** Once per portrait, :func:`eye_region` takes the part of the crop that
  an eye's upper lid can cover.  Per frame, :func:`eye_patch` repaints that part
  with the lid brought down as far as the driver's (the colour of the skin just
  above the eye, in the tint of the skin around it, the painting's grain from the
  skin below it, a lash line along the lid's edge), hiding the eyeball instead of
  squashing it.
  The model samples the patch wherever the warp samples that part of the
  portrait, so the lid moves with the head.
* **Mouth.** Per frame, :func:`mouth_layer` paints the inside of the opening
  between the target lips: the driver's own mouth interior (teeth, tongue, the
  dark of the throat) mapped into the portrait's mouth shape and matched to the
  painting's colours, or, with no driver picture, a painted interior.

Everything here is in the generator's crop pixels: x to the right, y down, pixel
``j`` spanning ``[j, j + 1]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from puppet.tracking import landmarks as lm

EYES = (
    # (upper lid, lower lid, lower brow), corner to corner
    (lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER, lm.RIGHT_BROW_LOWER),
    (lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER, lm.LEFT_BROW_LOWER),
)
LASH_BAND = 0.12  # the painted lash line's width above the tracked lid line, eye half-widths
LID_SKIN = 0.3  # the band of skin above the lash line that a closing lid is coloured from
LID_OVER = 0.12  # a closing lid covers this much more above the lash line's band
LID_FADE = 0.2  # and fades in from the skin over this much above that
LID_TUCK = 0.08  # a shut lid ends this far past the painted lower lid line
SLIDE_BAND = 0.45  # the band above the lid line that stretches as a lid slides down
SLIDE_UNTIL = (0.2, 0.6)  # closing over which a sliding lid gives way to a painted one
WIDEN_MAX = 0.6  # an eye opens at most this much wider than painted (of its lids' gap)
WIDEN_SEAM = 0.12  # the eyeball is painted from this far below the upper lid line (at
# least 2 pixels: the lid's shadow and lashes lie above); opened wider, above that it is drawn
WIDEN_SHADE = 0.35  # how much darker the eyeball is right under a lid opened wider
WIDEN_CORNERS = (0.55, 0.95)  # towards the eye's corners (u) it stretches up instead
WIDEN_FADE = 0.1  # an eye opened wider than painted is drawn in over this much opening
WHITE_MIN = 0.85  # the painted white of the eye is at least this bright against the skin
WHITE_KNOWN = 0.5  # what between the lids is darker than this share of the white is not white
WHITE_SOFT = 0.1  # the white filled in is softened over this much (eye half-widths)
IRIS_SCALE = 0.95  # of the face mesh's iris radius (its ring sits on the iris's edge)
LID_ROUND = 0.06  # how much lighter a shut lid is across its middle, and darker at its ends
LID_DETAIL = 20.0  # the most a closed lid's borrowed detail changes a grey level
LID_TINT = 0.8  # how much of the tint of the skin around the eye a shut lid takes
LID_TINT_BLUR = 0.3  # over how far (eye half-widths) that skin is spread across the eye
LID_TINT_RANGE = (0.7, 1.3)  # the most that tint changes a channel of the lid's colour
GAZE_FADE = 0.08  # an iris moved less than this (eye half-widths) is drawn in part
GAZE_ERASE = 1.25  # where an iris was, the white is drawn out to this much of its radius
BRIDGE_REACH = 3.0  # and across that, the darker side's share is (1 - the way from it) ** this
BRIDGE_EVEN = 0.1  # sides within this share of each other's brightness mix evenly
# A painted catchlight (the light's reflection on the cornea, a bright dot on the iris)
# does not go along with an iris that looks aside: the cornea's curve is centred nearer
# the eye's centre of rotation than the iris is, so the reflection of a light in front
# of the face moves only about half as far (its centre of curvature ~5.8 mm in front of
# the rotation centre, the pupil as seen ~10.5 mm: 0.55).  Found at preparation: what in
# the iris is brighter than most of the painted white (its 90th percentile) and than
# half way from the iris to it, a small part of the iris (at most GLINT_MAX), with a
# halo of GLINT_HALO of the iris's radius (at least 1.5 px) around it.  Looking far
# aside, it lags only as far as keeps it whole on the iris (at its edge, where a real
# eye's reflection then is; left behind on the white, it vanished from the eye).
GLINT_FOLLOW = 0.55
GLINT_MAX = 0.15
GLINT_HALO = 0.12
GLINT_CONTRAST = 40.0  # grey levels the white must be above the iris for a dot to stand out
# A look up or down is left to the lids, which follow the driver's, as a real eye's follow
# its gaze: an iris drawn moving up or down under a still lid read to the judge's face mesh
# as the eye opening or closing (its eye correlation on s0/d12 0.83 -> 0.72; none: 0.83)
GAZE_VERTICAL = 0.0
TEETH_RAMP_MIN = 1.15  # filmed teeth count as at least this much brighter than the lips
_AA_SHIFT = 4
_AA_ONE = 1 << _AA_SHIFT


@dataclass(frozen=True)
class Frame2D:
    """A feature's own axes: origin, unit vectors along (x) and across (y, down) it,
    and its half width in pixels."""

    origin: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    half: float

    @classmethod
    def from_corners(cls, a: np.ndarray, b: np.ndarray) -> Frame2D:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a[0] > b[0]:
            a, b = b, a
        d = b - a
        half = max(float(np.linalg.norm(d)) / 2.0, 1e-3)
        e1 = d / (2.0 * half)
        return cls(origin=(a + b) / 2.0, e1=e1, e2=np.array([-e1[1], e1[0]]), half=half)

    def to_local(self, xy: np.ndarray) -> np.ndarray:
        rel = np.asarray(xy, np.float64) - self.origin
        return np.stack([rel @ self.e1, rel @ self.e2], axis=-1) / self.half

    def to_pixels(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, np.float64) * self.half
        return self.origin + uv[..., :1] * self.e1 + uv[..., 1:2] * self.e2


def _curve(local: np.ndarray):
    """v as a function of u through the given (u, v) points (sorted, clamped)."""
    order = np.argsort(local[:, 0])
    us, vs = local[order, 0], local[order, 1]
    keep = np.concatenate([[True], np.diff(us) > 1e-6])
    us, vs = us[keep], vs[keep]
    return lambda u: np.interp(u, us, vs)


def _box_grid(origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Pixel centres (x, y) of a box with top-left (row, column) ``origin``."""
    r0, c0 = origin
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([xs + c0 + 0.5, ys + r0 + 0.5], axis=-1)


def fill_polygon(shape: tuple[int, int], points: np.ndarray,
                 origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Anti-aliased coverage (0..1 float32) of a polygon in a box; points in crop pixels."""
    h, w = shape
    canvas = np.zeros((h, w), np.uint8)
    pts = np.asarray(points, np.float64) - np.array([origin[1] + 0.5, origin[0] + 0.5])
    fixed = np.round(pts * _AA_ONE).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [fixed], 255, cv2.LINE_AA, _AA_SHIFT)
    return canvas.astype(np.float32) / 255.0


def box_origin(centre: np.ndarray, shape: tuple[int, int], res: int) -> tuple[int, int]:
    """Top-left (row, column) of a box of ``shape`` centred near ``centre``, inside the crop."""
    h, w = shape
    r0 = int(round(float(centre[1]) - h / 2.0))
    c0 = int(round(float(centre[0]) - w / 2.0))
    return min(max(r0, 0), res - h), min(max(c0, 0), res - w)


def _smoothstep(x: np.ndarray | float, lo: float, hi: float):
    t = np.clip((np.asarray(x, np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# ---------------------------------------------------------------------------
# eyes


def opening_polygon(points: np.ndarray, eye: int) -> np.ndarray:
    upper, lower, _ = EYES[eye]
    return np.concatenate([points[upper, :2], points[lower[-2:0:-1], :2]], axis=0)


def lid_gaps(points: np.ndarray, eye: int) -> np.ndarray:
    """How far apart the paired points of the upper and lower lid are (corners left
    out), in pixels across the eye (square to the line between its corners).

    Across, not straight: the face mesh's paired points are not above one another.
    On the Vermeer's near eye the lower one sits 0.3 eye half-widths along from the
    upper one, with a gap of 0.7 across; a straight distance kept that sideways part
    when the driver's lids met, so her shut eye read as only 0.6 closed and its lid
    stopped across her iris."""
    upper, lower, _ = EYES[eye]
    frame = Frame2D.from_corners(points[upper[0], :2], points[upper[-1], :2])
    gap = points[lower[1:-1], :2] - points[upper[1:-1], :2]
    return np.abs(gap @ frame.e2)


@dataclass(frozen=True)
class EyeRegion:
    """One eye of the portrait, prepared once: the region of the crop its lids may
    cover (``box``: x0, y0, x1, y1 crop pixels), its lid curves in the eye's own
    frame, and the size of the output box it may show in."""

    eye: int
    box: tuple[int, int, int, int]
    frame: Frame2D
    pair_u: np.ndarray  # where along the eye each lid pair sits
    top: np.ndarray  # upper lid v on a fine u grid
    bottom: np.ndarray
    skin: np.ndarray  # top of the lid's skin band (above the lash line and crease)
    lid_colour: np.ndarray  # [len(u_grid), 3] BGR of the lid's skin along the eye
    u_grid: np.ndarray
    out_size: tuple[int, int]
    rest: np.ndarray  # [1, 3, h, w] the region as painted (lids where they are)
    uv: np.ndarray  # [h, w, 2] the region's pixels in the eye's frame
    source: np.ndarray  # [h, w, 3] float32, the region's pixels
    texture: np.ndarray  # [h, w, 3] float32, the fine detail a closed lid shows (see below)
    # the region with its eyeball carried on up under the upper lid (see _eyeball), or
    # None (without the face mesh's iris points, or with no white of the eye painted)
    eyeball: np.ndarray | None = None
    # what moving the iris within the eye takes (None where eyeball is None): the gaze is
    # drawn here, at the portrait's resolution, instead of by the warp
    gaze: _Gaze | None = None
    # what eye_patch needs per pixel that no frame changes, made here once
    fixed: _EyeFixed = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _EyeFixed.of(self))


@dataclass(frozen=True)
class _EyeFixed:
    """An eye region's per-pixel values that depend only on the portrait (its painted
    lid lines and colours, where each pixel sits in the eye's frame), so that
    :func:`eye_patch` computes only what the frame's closing changes."""

    u_clipped: np.ndarray  # u within the corners
    corner_fade: np.ndarray  # 1 inside the eye, 0 past its corners
    top: np.ndarray  # the painted upper lid line (v) at each pixel's u
    reach: np.ndarray  # how far a shut lid comes down from there
    top_edge: np.ndarray  # the top of the painted lash line
    cover_top: np.ndarray  # a closed lid's fade in from the skin above it
    base: np.ndarray  # [h, w, 3] the lid's colour plus the painting's grain
    slide: np.ndarray  # how much of a lid's slide each pixel takes
    skin_top: np.ndarray  # where that sliding band starts (v)
    bottom: np.ndarray  # the painted lower lid line (v) at each pixel's u
    rows: np.ndarray  # float32 pixel rows and columns of the region
    cols: np.ndarray
    pair_u: np.ndarray  # the lid pairs' u, sorted, and their order
    pair_order: np.ndarray
    widen_seam: np.ndarray  # where the painted eyeball begins under the upper lid (v)
    widen_middle: np.ndarray  # 1 where an eye opened wider shows a drawn eyeball, 0 where
    # it stretches (its corners)
    widen_box: tuple[slice, slice]  # the rows and columns that drawn eyeball may be in
    lid_middle: np.ndarray  # how much lighter a shut lid is across its middle
    lid_ends: np.ndarray  # and how much darker towards its ends
    lash_width: np.ndarray  # its lash line's width (eye units) and darkness
    lash: np.ndarray

    @classmethod
    def of(cls, region: EyeRegion) -> _EyeFixed:
        u = region.uv[..., 0]
        v = region.uv[..., 1]
        grid = region.u_grid
        t = np.interp(u, grid, region.top)
        b = np.interp(u, grid, region.bottom)
        k = np.interp(u, grid, region.skin)
        px = 1.0 / region.frame.half  # one pixel, in the eye's units
        # fully covered from a little above the painted lash line (painted lashes are
        # often thicker than the tracker's lid line says), fading in from the skin above
        full = np.interp(u, grid, _lid_full(region.skin, region.top, region.frame.half))
        fade_top = np.maximum(k, full - LID_FADE)
        colour = np.stack([np.interp(u, grid, region.lid_colour[:, i]) for i in range(3)],
                          axis=-1)
        colour = colour * _lid_tint(region, t, b, colour)
        k_slide = np.maximum(k, t - SLIDE_BAND)
        rows, cols = np.indices(u.shape, dtype=np.float32)
        order = np.argsort(region.pair_u)
        middle = 1.0 - _smoothstep(np.abs(u), *WIDEN_CORNERS)
        along_lid = 1.0 - np.clip(u, -1.0, 1.0) ** 2  # 1 across a lid's middle, 0 at its ends
        rr, cc = np.nonzero((middle > 0.0) & (v > k) & (v < np.maximum(b, t + px)))
        widen_box = ((slice(int(rr.min()), int(rr.max()) + 1),
                      slice(int(cc.min()), int(cc.max()) + 1)) if len(rr)
                     else (slice(0, 0), slice(0, 0)))
        return cls(u_clipped=np.clip(u, -1.0, 1.0),
                   corner_fade=_smoothstep(1.1 - np.abs(u), 0.0, 0.25),
                   top=t, reach=np.maximum(b - t, 0.0) + LID_TUCK, top_edge=t - LASH_BAND,
                   cover_top=_smoothstep(v, fade_top, np.maximum(full, fade_top + px)),
                   base=colour + region.texture,
                   slide=np.clip((v - k_slide) / np.maximum(t - k_slide, px), 0.0, 1.0),
                   skin_top=k_slide, bottom=np.maximum(b, t + px), rows=rows, cols=cols,
                   pair_u=region.pair_u[order], pair_order=order,
                   widen_seam=widen_seam(t, region.frame.half),
                   widen_middle=middle, widen_box=widen_box,
                   lid_middle=LID_ROUND * along_lid, lid_ends=LID_ROUND * (1.0 - along_lid),
                   lash_width=max(1.3 * px, 0.08) * (0.8 + 0.5 * along_lid),
                   lash=0.65 * (0.35 + 0.65 * along_lid))


def eye_region(crop: np.ndarray, points: np.ndarray, eye: int) -> EyeRegion:
    upper, lower, brow = EYES[eye]
    res = crop.shape[0]
    frame = Frame2D.from_corners(points[upper[0], :2], points[upper[-1], :2])
    top_c = _curve(frame.to_local(points[upper, :2]))
    bottom_c = _curve(frame.to_local(points[lower, :2]))
    brow_c = _curve(frame.to_local(points[brow, :2]))
    u_grid = np.linspace(-1.2, 1.2, 49)
    uc = np.clip(u_grid, -1.0, 1.0)
    top, bottom = top_c(uc), bottom_c(uc)
    band = np.clip(0.6 * (top - brow_c(uc)), 0.12, 0.9)
    skin = top - band
    # the region: from the skin band's top to below the lower lid, corner to corner
    corners = frame.to_pixels(np.array([[u, v] for u in (-1.25, 1.25)
                                        for v in (skin.min() - 0.1, bottom.max() + 0.15)]))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, res), min(y1, res)
    region = np.ascontiguousarray(crop[y0:y1, x0:x1]).astype(np.float32)
    uv = frame.to_local(_box_grid((y0, x0), (y1 - y0, x1 - x0)))
    pair_u = frame.to_local(points[upper[1:-1], :2])[:, 0]
    rest = np.ascontiguousarray(region.transpose(2, 0, 1)[None] / 255.0)
    lid_colour = _lid_colour(region, uv, u_grid, skin, top)
    out_h = min(res, int(np.ceil(1.6 * (y1 - y0))) + 4)
    out_w = min(res, int(np.ceil(1.6 * (x1 - x0))) + 4)
    iris = _iris(points, eye, frame)
    ball = None if iris is None else _eyeball(
        region, uv, np.interp(uv[..., 0], u_grid, top), np.interp(uv[..., 0], u_grid, bottom),
        iris, frame)
    return EyeRegion(eye=eye, box=(int(x0), int(y0), int(x1), int(y1)), frame=frame,
                     pair_u=pair_u, top=top, bottom=bottom, skin=skin,
                     lid_colour=lid_colour, u_grid=u_grid,
                     out_size=(out_h, out_w), rest=rest, uv=uv, source=region,
                     texture=_lid_texture(crop, uv, frame, u_grid, skin, top, bottom),
                     eyeball=None if ball is None else ball[0],
                     gaze=None if ball is None else ball[1])


IRISES = (lm.RIGHT_IRIS, lm.LEFT_IRIS)  # each eye's iris points, centre first


def gaze_shift(target: np.ndarray, rest: np.ndarray, eye: int) -> np.ndarray:
    """How far the iris's centre in ``target`` is from where it is in ``rest`` (the
    portrait's points moved with the head alone), within the eye: (u, v) in the eye's
    half-widths, along and across it; of the look up or down, GAZE_VERTICAL."""
    upper = EYES[eye][0]
    frame = Frame2D.from_corners(rest[upper[0], :2], rest[upper[-1], :2])
    centre = IRISES[eye][0]
    shift = frame.to_local(target[centre, :2]) - frame.to_local(rest[centre, :2])
    return shift * np.array([1.0, GAZE_VERTICAL])


def _iris(points: np.ndarray, eye: int, frame: Frame2D) -> np.ndarray | None:
    """The painted iris as (u, v, radius) in the eye's frame, from the face mesh's iris
    points (its centre and four points on its rim); None without them."""
    iris = IRISES[eye]
    if len(points) <= max(iris):
        return None
    local = frame.to_local(points[iris, :2])
    radius = float(np.linalg.norm(local[1:] - local[0], axis=1).mean()) * IRIS_SCALE
    return np.array([local[0, 0], local[0, 1], radius])


def widen_seam(top: np.ndarray, half: float) -> np.ndarray:
    """Where the painted eyeball begins under the upper lid line (v)."""
    return top + max(WIDEN_SEAM, 2.0 / half)


@dataclass(frozen=True)
class _Gaze:
    """What moving an eye's iris within it takes (see :func:`_looking`), made once."""

    white: np.ndarray  # [h, w, 3] the eyeball with no iris, above the seam (see _eyeball)
    bridge: np.ndarray  # [h, w, 3] and between the lids: the painted eye beside it, bridged
    iris: np.ndarray  # [h, w, 3] the iris as a whole disc where it is (hidden parts completed)
    # (without its catchlight, which is ``glint``: what it adds to the iris, or None)
    disc: np.ndarray  # [h, w] how much of each pixel that disc covers
    erase: np.ndarray  # [h, w] and where the painted iris is taken out (a little more)
    centre: tuple[int, int]  # the iris's centre (row, column of the region)
    reach: float  # and how far from it (pixels) erase reaches, and a little more
    shade: np.ndarray  # [h, w] the upper lid's shade on the eyeball right under it
    opening: np.ndarray  # [h, w] 1 between the lid lines, 0 on and past them
    seam: np.ndarray  # where the painted eyeball begins under the upper lid (v)
    glint: np.ndarray | None = None  # [h, w, 3] the catchlight (see GLINT_FOLLOW)
    glint_offset: np.ndarray | None = None  # its centre from the iris's (x, y pixels)
    glint_room: float = 0.0  # how far from the iris's centre it may lie and stay whole


def _glint(region: np.ndarray, luma: np.ndarray, inside: np.ndarray, white: np.ndarray,
           radius_px: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The painted iris's catchlight (see GLINT_FOLLOW): the region with it taken out
    (inpainted from the iris around it) and what it adds there, or the region as it is
    and None where the iris shows none.  ``inside``: the iris's pixels that show;
    ``white``: the painted white's."""
    core = _glint_core(luma, inside, white)
    if core is None:
        return region, None
    r = max(1, int(round(max(1.5, GLINT_HALO * radius_px))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    zone = cv2.dilate(core.astype(np.uint8), kernel) & inside
    image = np.clip(region, 0, 255).astype(np.uint8)
    clean = cv2.inpaint(image, zone.astype(np.uint8), r + 1, cv2.INPAINT_TELEA)
    clean = np.where(zone[..., None] > 0, clean.astype(np.float32), region)
    return clean, (region - clean).astype(np.float32)


def _glint_core(luma: np.ndarray, inside: np.ndarray, white: np.ndarray
                ) -> np.ndarray | None:
    """The catchlight's own pixels (see GLINT_FOLLOW), or None where there is none."""
    if inside.sum() < 5 or white.sum() < 3:
        return None
    bright = float(np.percentile(luma[white], 90))
    iris = float(np.median(luma[inside]))
    if bright - iris < GLINT_CONTRAST:
        return None
    core = inside & (luma > bright) & (luma > iris + 0.5 * (bright - iris))
    if not core.any() or core.sum() > GLINT_MAX * inside.sum():
        return None
    return core


def _glint_move(gaze: _Gaze, dx: float, dy: float) -> tuple[float, float]:
    """How far (x, y pixels) the catchlight moves when its iris moves by (dx, dy): about
    half as far (GLINT_FOLLOW), but no further behind than keeps it whole on the iris."""
    lag = (1.0 - GLINT_FOLLOW) * np.array([dx, dy])
    o = gaze.glint_offset
    room = max(gaze.glint_room, float(np.linalg.norm(o)))
    ll = float(lag @ lag)
    if ll < 1e-12:
        return dx, dy
    ol = float(o @ lag)
    # the most of the lag (s <= 1) that keeps |o - s lag| within the room
    s = (ol + np.sqrt(max(ol * ol - ll * (float(o @ o) - room * room), 0.0))) / ll
    s = min(1.0, max(0.0, s))
    return dx - s * lag[0], dy - s * lag[1]


def _eyeball(region: np.ndarray, uv: np.ndarray, top: np.ndarray, bottom: np.ndarray,
             iris: np.ndarray, frame: Frame2D) -> tuple[np.ndarray, _Gaze] | None:
    """The eye's region with its eyeball carried on up under the upper lid, for an eye
    opened wider than painted: from the seam below the upper lid line (see
    :func:`widen_seam`) up, the iris is completed as a disc (each point of its hidden top
    takes the painted iris at the same distance from its centre, level with the centre,
    on its own side), and the white of the eye is filled in from the painted white
    around it (inpainted, the iris kept out of it, with the painted white's grain).
    Below the seam it is as painted.  With it, what the gaze needs (see :class:`_Gaze`).
    None where the painted eye shows no white of the eye to carry on (what shows beside
    the iris is darker than the skin above the eye: a small dark eye, or an iris that
    fills it)."""
    u, v = uv[..., 0], uv[..., 1]
    half = frame.half
    px = 1.0 / half
    seam = widen_seam(top, half)
    cu, cv, radius = iris
    du, dv = u - cu, v - cv
    rho = np.hypot(du, dv)
    luma = _luma(region)
    # a painted eye that shows no white (a small dark eye, the iris filling it): None
    shows_white = ((v > seam) & (v < bottom - px) & (np.abs(u) < 0.85)
                   & (rho > radius + 1.5 * px))
    skin = v < top - 0.3
    if shows_white.sum() < 3 or not skin.any() or (
            np.median(luma[shows_white]) < WHITE_MIN * np.median(luma[skin])):
        return None
    in_iris = rho < radius + px
    # the white: inpainted above the seam, from the painted white below it
    rows, cols = np.indices(u.shape, dtype=np.float64)
    image = np.clip(region, 0, 255).astype(np.uint8)
    # (the painted white alone is known: not the iris, the lids or the skin around, nor
    # a lash or a lid the face mesh's lid lines take in)
    known = (v >= seam) & (v < bottom - px) & (np.abs(u) < 1.0) & ~in_iris
    known &= luma >= WHITE_KNOWN * np.median(luma[shows_white])
    unknown = (~known).astype(np.uint8)
    white = cv2.inpaint(image, unknown, 3, cv2.INPAINT_TELEA).astype(np.float32)
    # softened where filled in: inpainting's fronts, coming in from a lit white and from a
    # shadowed corner, met in a hard edge across the white
    white = np.where(unknown[..., None] > 0,
                     cv2.GaussianBlur(white, (0, 0), max(1.0, WHITE_SOFT * half)), white)
    # with the painting's grain: the fine detail of the painted white, mirrored up
    # across the seam (none from the iris, the lower lid or past the corners)
    detail = np.clip(region - cv2.GaussianBlur(region, (0, 0), max(1.0, 0.05 * half)),
                     -LID_DETAIL, LID_DETAIL)
    across = 2.0 * seam - v  # the painted point mirrored across the seam
    grain_from = ((across < bottom - 2.0 * px) & (np.abs(u) < 0.9)
                  & (np.hypot(u - cu, across - cv) > radius + 2.0 * px))
    up = (v - across) * half  # pixels, across the eye (e2)
    grain = cv2.remap(detail, (cols - up * frame.e2[0]).astype(np.float32),
                      (rows - up * frame.e2[1]).astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    white = white + grain * grain_from[..., None]
    ball = np.where((v < seam)[..., None], white, region)
    # the iris: the painted one, level with its centre, at each point's distance from it
    right = np.clip(0.5 + 0.5 * du / np.maximum(rho, px), 0.0, 1.0)[..., None]
    shift = np.minimum(rho, radius)
    maps = []
    for side in (-1.0, 1.0):
        # from (u, v) to (cu + side * rho, cv), in pixels
        move_u = (cu + side * shift - u) * half
        move_v = (cv - v) * half
        maps.append(((cols + move_u * frame.e1[0] + move_v * frame.e2[0]).astype(np.float32),
                     (rows + move_u * frame.e1[1] + move_v * frame.e2[1]).astype(np.float32)))

    def completed_from(image: np.ndarray) -> np.ndarray:
        level = [cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                 for mx, my in maps]
        return level[0] + (level[1] - level[0]) * right

    completed = completed_from(region)
    disc = np.clip((radius - rho) / px + 0.5, 0.0, 1.0)
    cover = (disc * (v < seam))[..., None]
    eyeball = (ball + (completed - ball) * cover).astype(np.float32)
    # for the gaze (see _looking): the iris as a whole disc where it is, its parts under
    # either lid completed, and the eye without it (below)
    hidden = (v < seam) | (v > bottom - 2.0 * px)
    # (its catchlight taken out: it stays about where it is, see GLINT_FOLLOW)
    clean, glint = _glint(region, luma, (rho < radius) & (v > top) & (v < bottom),
                          shows_white, radius * half)
    glint_offset, glint_room = None, 0.0
    if glint is not None:
        completed = completed_from(clean)
        # where the catchlight is on the iris, and how far out it may go (its own
        # extent in from the iris's edge)
        shows = np.abs(glint).max(axis=2) > 0.5
        ou, ov = float(du[shows].mean()), float(dv[shows].mean())
        glint_offset = half * (ou * np.asarray(frame.e1) + ov * np.asarray(frame.e2))
        extent = float(np.sqrt(shows.sum() / np.pi))
        glint_room = max(radius * half - extent, 0.0)
    iris_disc = np.where(hidden[..., None], completed, clean)
    under = np.clip((v - top) / np.maximum(seam - top, px), 0.0, 1.0)
    opening = (np.clip((v - top) / px, 0.0, 1.0)
               * np.clip((bottom - v) / px - 0.5, 0.0, 1.0))
    # (the painted iris is often a little larger than the face mesh's: where it was, a
    # little more is taken out, or its rim stays behind as a thin dark arc)
    reach = GAZE_ERASE * radius
    erase = np.clip((reach - rho) / px + 0.5, 0.0, 1.0)
    # where it was, the eye as painted on either side of it, level, bridged across: the
    # white where white shows on both sides, darkening near a corner or under the lid
    # where the painting darkens there (the white of the eye filled in alone was a pale
    # block where an iris had touched the eye's corner).  Each row is bridged between the
    # ends of its own chord of the erased disc (between the ends of its widest, the rows
    # above and below its middle began darker than the white beside them where the other
    # end lay on the corner: a grey ghost of the iris, with an edge)
    sides = []
    soft = cv2.GaussianBlur(region, (0, 0), 1.5)  # a pixel's own grain would streak across
    chord = np.sqrt(np.maximum(reach * reach - dv * dv, 0.0))
    for side in (-1.0, 1.0):
        move = (cu + side * (chord + 2.5 * px) - u) * half
        sides.append(cv2.remap(soft, (cols + move * frame.e1[0]).astype(np.float32),
                               (rows + move * frame.e1[1]).astype(np.float32),
                               cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    across_iris = np.clip(0.5 + 0.5 * du / np.maximum(chord, px), 0.0, 1.0)
    # the lit white carries across: what darkens the eye at one end (its corner, a lid's
    # shadow) reaches in only a little way from that end, as it does beside the iris
    ends = _luma(sides[0]), _luma(sides[1])
    right_lighter = _smoothstep((ends[1] - ends[0]) / np.maximum(np.maximum(*ends), 1.0),
                                -BRIDGE_EVEN, BRIDGE_EVEN)
    to_right = (right_lighter * (1.0 - (1.0 - across_iris) ** BRIDGE_REACH)
                + (1.0 - right_lighter) * across_iris ** BRIDGE_REACH)
    bridge = sides[0] + (sides[1] - sides[0]) * to_right[..., None]
    gaze = _Gaze(white=white.astype(np.float32), bridge=bridge.astype(np.float32),
                 iris=iris_disc.astype(np.float32),
                 disc=disc.astype(np.float32), erase=erase.astype(np.float32),
                 centre=tuple(int(i) for i in np.unravel_index(np.argmin(rho), rho.shape)),
                 reach=reach * half + 2.0,
                 shade=(1.0 - WIDEN_SHADE * (1.0 - under) ** 2).astype(np.float32),
                 opening=opening.astype(np.float32), seam=seam, glint=glint,
                 glint_offset=glint_offset, glint_room=glint_room)
    return eyeball, gaze


def _lid_tint(region: EyeRegion, top: np.ndarray, bottom: np.ndarray,
              colour: np.ndarray) -> np.ndarray:
    """[h, w, 3] factor on a shut lid's colour (per channel) that gives it the tint of
    the skin around the eye, at its own brightness: the lid's colour is taken from the
    skin just above its lashes, which on a painting is often paler or greyer than the
    face around the eye (the Vermeer's lids came out pale grey ovals).  The skin's
    colour is spread across the opening by a normalised blur (the eye itself left out);
    each pixel then takes that colour's hue, not its brightness, so a lid lowered over
    a dark eye stays as light against it as before.  Per portrait: no frame changes
    it."""
    v = region.uv[..., 1]
    skin = (v < top - LASH_BAND - LID_OVER) | (v > bottom + LID_TUCK + 0.1)
    if skin.sum() < 12:
        return np.ones(v.shape + (1,))
    sigma = max(2.0, LID_TINT_BLUR * region.frame.half)
    mask = skin.astype(np.float32)
    spread = cv2.GaussianBlur(region.source * mask[..., None], (0, 0), sigma) / np.maximum(
        cv2.GaussianBlur(mask, (0, 0), sigma), 1e-3)[..., None]
    # channel by channel, the spread colour over the lid's, both as shares of their
    # brightness: the lid's brightness (its luma) stays exactly as it was
    hue = (spread / np.maximum(_luma(spread), 1.0)[..., None]) / (
        np.maximum(colour, 1.0) / np.maximum(_luma(colour), 1.0)[..., None])
    return 1.0 + LID_TINT * (np.clip(hue, *LID_TINT_RANGE) - 1.0)


def _lid_full(skin: np.ndarray, top: np.ndarray, half: float) -> np.ndarray:
    """Where a closing lid covers the painting fully from (v along the eye's u grid)."""
    return np.maximum(top - LASH_BAND - LID_OVER, skin + 1.0 / half)


def _lid_texture(crop: np.ndarray, uv: np.ndarray, frame: Frame2D, u_grid: np.ndarray,
                 skin: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """The painting's fine detail (brush strokes, craquelure, photo grain) for a closed
    lid, so that it is not a flat sticker.  Above the line where the lid covers fully:
    the region's own detail.  Below it: the detail of the skin under the eye, below
    the lower lash line (skin with no crease or lashes in it), flipped upwards."""
    sigma = max(1.0, 0.05 * frame.half)
    u, v = uv[..., 0], uv[..., 1]
    full = np.interp(u, u_grid, _lid_full(skin, top, frame.half))
    below = np.interp(u, u_grid, bottom) + LID_TUCK + 0.25 + (v - full) * 0.7
    src = frame.to_pixels(np.stack([u, np.where(v > full, below, v)], axis=-1))
    res = crop.shape[0]
    pad = int(np.ceil(3 * sigma)) + 2
    x0 = max(int(np.floor(src[..., 0].min())) - pad, 0)
    y0 = max(int(np.floor(src[..., 1].min())) - pad, 0)
    x1 = min(int(np.ceil(src[..., 0].max())) + pad, res)
    y1 = min(int(np.ceil(src[..., 1].max())) + pad, res)
    window = crop[y0:y1, x0:x1].astype(np.float32)
    detail = np.clip(window - cv2.GaussianBlur(window, (0, 0), sigma), -LID_DETAIL, LID_DETAIL)
    mx = (src[..., 0] - x0 - 0.5).astype(np.float32)
    my = (src[..., 1] - y0 - 0.5).astype(np.float32)
    return cv2.remap(np.ascontiguousarray(detail), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def _lid_colour(region: np.ndarray, uv: np.ndarray, u_grid: np.ndarray, skin: np.ndarray,
                top: np.ndarray) -> np.ndarray:
    """The lid's skin colour along the eye: in the band just above the painted lash
    line (the skin a lid is made of), the brighter half of the pixels near each u (so
    that the crease, lashes and shadows of the eye's corners do not darken it),
    smoothed along the eye and drawn half way to the whole band's colour."""
    u = uv[..., 0]
    v = uv[..., 1]
    luma = _luma(region)
    out = np.zeros((len(u_grid), 3))
    step = u_grid[1] - u_grid[0]
    band_lo = np.interp(u, u_grid, np.maximum(skin, top - LASH_BAND - LID_OVER - LID_SKIN))
    band_hi = np.interp(u, u_grid, top) - LASH_BAND - LID_OVER
    band = (v > band_lo) & (v < band_hi)
    if band.sum() < 6:
        band = v < np.interp(u, u_grid, top) - LASH_BAND
    for i, ug in enumerate(u_grid):
        near = band & (np.abs(u - ug) < 2.5 * step)
        if near.sum() < 6:
            near = band & (np.abs(u - ug) < 8 * step)
        if near.sum() < 3:
            near = band if band.any() else np.ones_like(band)
        bright = near & (luma >= np.median(luma[near]))
        out[i] = np.median(region[bright], axis=0)
    for c in range(3):
        out[:, c] = np.convolve(np.pad(out[:, c], 6, mode="edge"), np.ones(13) / 13, "valid")
    band = band if band.any() else np.ones_like(band)
    whole = band & (luma >= np.median(luma[band]))
    return 0.5 * out + 0.5 * np.median(region[whole], axis=0)


def _looking(region: EyeRegion, gaze: np.ndarray, with_eyeball: bool = False
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """The eye's region with its iris moved by ``gaze`` (u, v: eye half-widths) within
    the eye, and (``with_eyeball``) its eyeball (see :func:`_eyeball`) with the iris
    moved likewise.

    The lids, the eye's corners and the painted white stay where they are, as a real
    eye's do: where the iris was, the painted eye on either side of it shows, bridged
    across (made when the portrait was prepared), and the iris, a whole disc, is drawn
    where it now is, between the lid lines, in the upper lid's shade right under it.
    Moved by the warp instead (its grid is coarser than an eye), an iris dragged its
    eye's corners and lids along and moved only part of the way.  A small move is drawn
    in part, so that an iris starting to move does not jump."""
    g = region.gaze
    amount = float(np.hypot(gaze[0], gaze[1]))
    if g is None or amount <= 1e-4:
        return region.source, region.eyeball
    f = region.fixed
    e1, e2, half = region.frame.e1, region.frame.e2, region.frame.half
    dx = (gaze[0] * e1[0] + gaze[1] * e2[0]) * half
    dy = (gaze[0] * e1[1] + gaze[1] * e2[1]) * half
    # only around the iris, where it was and where it is, does anything change
    (y, x), reach = g.centre, g.reach
    h, w = g.disc.shape
    r0, r1 = max(int(min(y, y + dy) - reach), 0), min(int(max(y, y + dy) + reach) + 2, h)
    c0, c1 = max(int(min(x, x + dx) - reach), 0), min(int(max(x, x + dx) + reach) + 2, w)
    if r1 <= r0 or c1 <= c0:
        return region.source, region.eyeball
    box = (slice(r0, r1), slice(c0, c1))
    mx, my = f.cols[box] - np.float32(dx), f.rows[box] - np.float32(dy)
    iris = cv2.remap(g.iris, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if g.glint is not None:
        # the catchlight moves only part of the way (see GLINT_FOLLOW), on the iris
        gx, gy = _glint_move(g, dx, dy)
        glint = cv2.remap(g.glint, f.cols[box] - np.float32(gx), f.rows[box] - np.float32(gy),
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        iris = np.minimum(iris + glint, np.float32(255.0))
    disc = cv2.remap(g.disc, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0.0)
    bridge = g.bridge[box]
    ball = bridge + (iris * g.shade[box][..., None] - bridge) * disc[..., None]
    # fading in over GAZE_FADE
    changed = np.maximum(g.erase[box], disc) * np.float32(min(amount / GAZE_FADE, 1.0))
    source = region.source.copy()
    part = source[box]
    part += (ball - part) * (changed * g.opening[box])[..., None]
    eyeball = region.eyeball
    if with_eyeball and eyeball is not None:
        # above the seam (shown when the lids open wider) the iris moves too, over the
        # white filled in there; below it the eyeball is the region's, as the region is
        white = g.white[box]
        eyeball = eyeball.copy()
        e = eyeball[box]
        above = white + (iris - white) * disc[..., None]
        eyeball[box] = np.where((region.uv[..., 1][box] < g.seam[box])[..., None],
                                e + (above - e) * changed[..., None], part)
    return source, eyeball


def eye_patch(region: EyeRegion, closing: np.ndarray,
              gaze: np.ndarray | None = None) -> np.ndarray:
    """The eye's region with its upper lid brought down by ``closing`` (per lid pair,
    0 open as painted .. 1 shut; below 0, opened wider: see :func:`_widened`), and its
    iris moved within it by ``gaze`` (u, v in eye half-widths, see :func:`_looking`;
    where the region has no ``gaze`` parts the warp moves the iris instead).
    [1, 3, h, w] float32, BGR 0..1.

    A lid closing a little slides down as painted (its lash line and the skin just
    above it move down, that skin stretching).  Closing further, it gives way to a
    painted lid: the colour of the skin just above the eye (in the tint of the skin
    around the eye, see :func:`_lid_tint`), fading in from that skin
    (no edge at its top), the painting's grain, a little darker towards its edge,
    with a lash line along the edge, covering the painted lash line and reaching
    where the lid now ends (a shut lid a little past the painted lower lid line, so
    no white of the eye shows beneath it).  Either way the eyeball is hidden by the
    lid rather than squashed."""
    c = np.clip(np.asarray(closing, np.float64), -WIDEN_MAX, 1.0)
    widened = c.max() <= 0.0 and np.abs(c).max() > 1e-3
    source, eyeball = (region.source, region.eyeball) if gaze is None else \
        _looking(region, np.asarray(gaze, np.float64), with_eyeball=widened)
    if np.abs(c).max() <= 1e-3:
        if source is region.source:
            return region.rest
        return np.ascontiguousarray(source.transpose(2, 0, 1)[None] / 255.0,
                                    dtype=np.float32)
    f = region.fixed
    v = region.uv[..., 1]
    if widened:
        return _widened(region, np.interp(f.u_clipped, f.pair_u, -c[f.pair_order])
                        * f.corner_fade, source, eyeball)
    c = np.maximum(c, 0.0)  # partly closing, partly opening: the opening pairs as painted
    along = np.interp(f.u_clipped, f.pair_u, c[f.pair_order]) * f.corner_fade
    t = f.top
    lid = t + along * f.reach  # where the lid now ends
    px = 1.0 / region.frame.half  # one pixel, in the eye's units
    cover = f.cover_top * np.clip((lid - v) / px + 0.5, 0.0, 1.0)
    depth = np.clip((v - f.top_edge) / np.maximum(lid - f.top_edge, 1e-6), 0.0, 1.0)
    # a lid is round over the eyeball: lightest part way down its middle, darker
    # towards its edge and its corners; its lashes are thickest in the middle
    # (made once per portrait: see _EyeFixed's lid_middle, lid_ends, lash_width, lash)
    shade = (1.0 - 0.10 * depth * depth + f.lid_middle * np.sin(np.pi * depth)
             - f.lid_ends)
    shade = shade * (1.0 - f.lash * np.exp(-(((lid - v) / f.lash_width) ** 2)))
    painted = f.base * shade[..., None]
    # A lid that closes a little slides down as painted: its lash line and the skin
    # just above it move down by how far the lid has come, that skin stretching; only
    # a lid closing further is painted.  Each pixel samples the region higher up
    # across the eye (along e2) by ``up`` pixels.
    up = np.where(v < lid, (lid - t) * f.slide, 0.0) * region.frame.half
    e2 = region.frame.e2
    slid = cv2.remap(source, (f.cols - up * e2[0]).astype(np.float32),
                     (f.rows - up * e2[1]).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    weight = (cover * _smoothstep(along, SLIDE_UNTIL[0], SLIDE_UNTIL[1]))[..., None]
    patch = slid + (painted - slid) * weight
    return np.ascontiguousarray(patch.transpose(2, 0, 1)[None] / 255.0, dtype=np.float32)


def _widened(region: EyeRegion, wider: np.ndarray, source: np.ndarray | None = None,
             eyeball: np.ndarray | None = None) -> np.ndarray:
    """The eye's region opened ``wider`` (per pixel, a share of the lids' painted gap)
    than painted: the upper lid's lash line and the skin above it slide up (that skin
    folding into the band above), and below it the eyeball shows further up: the
    region's eyeball carried on up under the lid (:func:`_eyeball`: the iris a disc,
    the white of the eye around it), in the lid's shade right under it.  The painted
    eyeball stays where and as it is, as a real one does when the lids open; towards
    the corners, where no iris shows, the eye below the lash line stretches up after it
    instead, and the drawn eyeball fades in over the first of an opening.  Drawn here
    at the portrait's own resolution: in the warp, two lid lines a few pixels apart
    moved apart by only about half as much (its grid is coarser than an eye).

    Without the face mesh's iris points, or where the painted eye shows no white, the
    eye below the lash line stretches up after it instead.  ``source`` and ``eyeball``:
    the region and its eyeball with the iris moved (:func:`_looking`), if it is."""
    if source is None:
        source, eyeball = region.source, region.eyeball
    f = region.fixed
    v = region.uv[..., 1]
    t, b, k = f.top, f.bottom, f.skin_top
    lid = np.maximum(t - wider * (b - t), k + 0.5 * (t - k))  # where the lash line goes
    above = (v > k) & (v < lid)
    src = v.copy()
    src[above] = (k + (v - k) * (t - k) / np.maximum(lid - k, 1e-6))[above]
    # the eye below the lash line stretched up after it: all of it without a drawn
    # eyeball, and towards the corners (no iris there to stretch) with one
    below = (v >= lid) & (v < b)
    src[below] = (t + (v - lid) * (b - t) / np.maximum(b - lid, 1e-6))[below]
    up = (v - src) * region.frame.half  # pixels, across the eye (e2)
    e2 = region.frame.e2
    patch = cv2.remap(source, (f.cols - up * e2[0]).astype(np.float32),
                      (f.rows - up * e2[1]).astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    if eyeball is not None:
        # elsewhere, from the lash line down to the seam the drawn eyeball, in the lid's
        # shade right under it, and below the seam the eyeball as painted
        # (below the seam the shade is none and the eyeball is the painted one)
        box = f.widen_box
        v_, lid_, seam = v[box], lid[box], f.widen_seam[box]
        under = np.clip((v_ - lid_) / np.maximum(seam - lid_, 1e-6), 0.0, 1.0)
        shade = (1.0 - WIDEN_SHADE * (1.0 - under) ** 2).astype(np.float32)
        # which fades in over the first of an opening
        weight = f.widen_middle[box] * np.clip(wider[box] / WIDEN_FADE, 0.0, 1.0) * below[box]
        shown = patch[box]
        shown += (eyeball[box] * shade[..., None] - shown) * weight[
            ..., None].astype(np.float32)
    return np.ascontiguousarray(patch.transpose(2, 0, 1)[None] / 255.0, dtype=np.float32)


def eye_closing(target: np.ndarray, source: np.ndarray, eye: int, scale: float = 1.0
                ) -> np.ndarray:
    """How shut each lid pair is in ``target`` against the portrait (0 .. 1; below 0
    where the eye is opened wider than painted)."""
    return 1.0 - lid_gaps(target, eye) / np.maximum(lid_gaps(source, eye) * scale, 1e-3)


# ---------------------------------------------------------------------------
# mouth


@dataclass(frozen=True)
class Palette:
    """The portrait's colours the mouth is painted with (BGR, 0..255)."""

    lips: np.ndarray
    teeth: np.ndarray
    cavity: np.ndarray


def portrait_palette(crop: np.ndarray, points: np.ndarray) -> Palette:
    res = crop.shape[0]
    outer = np.concatenate([points[lm.LIPS_OUTER_UPPER, :2],
                            points[lm.LIPS_OUTER_LOWER[-2:0:-1], :2]])
    ring = fill_polygon((res, res), outer) > 0.5
    lips = crop[ring].reshape(-1, 3).astype(np.float64)
    lips_c = np.median(lips, axis=0) if len(lips) else np.array([90.0, 90.0, 150.0])
    face = np.concatenate([points[lm.FACE_OVAL, :2]])
    skin_mask = fill_polygon((res, res), face) > 0.5
    skin = crop[skin_mask].reshape(-1, 3).astype(np.float64)
    if len(skin):
        lum = skin.mean(axis=1)
        light = skin[lum >= np.percentile(lum, 85)].mean(axis=0)
    else:
        light = np.array([200.0, 210.0, 220.0])
    grey = light.mean()
    # teeth in the painting's light: its brightest skin, a little paler and darker.  With
    # more grey than skin in them they looked blue-grey beside warm skin and varnish
    teeth = 0.85 * (0.7 * light + 0.3 * grey)
    cavity = 0.22 * lips_c + 4.0
    return Palette(lips=lips_c, teeth=teeth, cavity=cavity)


def mouth_box_shape(points: np.ndarray, res: int) -> tuple[int, int]:
    w = float(np.linalg.norm(points[lm.MOUTH_CORNERS[0], :2] - points[lm.MOUTH_CORNERS[1], :2]))
    return min(res, max(4, int(round(1.5 * w)))), min(res, max(4, int(round(1.7 * w))))


def inner_mouth_polygon(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points[lm.LIPS_INNER_UPPER, :2],
                           points[lm.LIPS_INNER_LOWER[-2:0:-1], :2]], axis=0)


def _mouth_curves(points: np.ndarray) -> tuple[Frame2D, object, object]:
    frame = Frame2D.from_corners(points[lm.INNER_MOUTH_CORNERS[0], :2],
                                 points[lm.INNER_MOUTH_CORNERS[1], :2])
    return (frame, _curve(frame.to_local(points[lm.LIPS_INNER_UPPER, :2])),
            _curve(frame.to_local(points[lm.LIPS_INNER_LOWER, :2])))


def _edge_fade(shape: tuple[int, int], width: int = 3) -> np.ndarray:
    h, w = shape
    ry = np.minimum(np.arange(h) + 1, h - np.arange(h)) / float(width)
    rx = np.minimum(np.arange(w) + 1, w - np.arange(w)) / float(width)
    return np.clip(np.outer(ry, np.ones(w)), 0, 1) * np.clip(np.outer(np.ones(h), rx), 0, 1)


def mouth_gap(points: np.ndarray) -> float:
    """How open the mouth is: the mean gap between the inner lips (lower below upper,
    across the mouth's line; never below 0) over the mouth's width."""
    a, b = points[lm.MOUTH_CORNERS[0], :2], points[lm.MOUTH_CORNERS[1], :2]
    width = max(float(np.linalg.norm(b - a)), 1e-3)
    across = np.array([-(b - a)[1], (b - a)[0]]) / width
    if across[1] < 0:
        across = -across
    gaps = (points[lm.LIPS_INNER_LOWER[1:-1], :2] - points[lm.LIPS_INNER_UPPER[1:-1], :2]) @ across
    return float(np.maximum(gaps, 0.0).mean() / width)


def mouth_layer(target: np.ndarray, source: np.ndarray, shape: tuple[int, int], res: int,
                palette: Palette, driver_image: np.ndarray | None = None,
                driver_points: np.ndarray | None = None,
                driver_lips: np.ndarray | None = None,
                driver_rgb: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
    """The mouth box's layer [h, w, 4] (BGR 0..1, coverage) and its origin.

    With a driver picture the inside comes from the driver's own mouth, mapped
    column by column from its opening into the target opening, keeping its
    brightness relative to its lips and painted in the portrait's colours; without
    one it is painted.  A mouth no more open than the portrait's own shows the
    portrait as it is."""
    polygon = inner_mouth_polygon(target)
    centre = polygon.mean(axis=0)
    origin = box_origin(centre, shape, res)
    layer = np.zeros(shape + (4,), np.float32)
    opening = float(_smoothstep(mouth_gap(target) - mouth_gap(source), 0.0, 0.03))
    if opening <= 0.0:
        return layer, origin
    cover = fill_polygon(shape, polygon, origin)
    cover = cv2.GaussianBlur(cover, (0, 0), 0.5) * _edge_fade(shape) * opening
    layer[..., 3] = cover
    frame, top, bottom = _mouth_curves(target)
    uv = frame.to_local(_box_grid(origin, shape))
    u = np.clip(uv[..., 0], -1.0, 1.0)
    t, b = top(u), bottom(u)
    s = np.clip((uv[..., 1] - t) / np.maximum(b - t, 1e-3), 0.0, 1.0)
    # the colour only matters where the layer covers the lips (elsewhere it is blended in
    # at weight 0), so it is made only in the rows and columns that have such pixels, and
    # those of the opening the driver's teeth are measured over: the box is about 1.5 by
    # 1.7 mouth widths, and a talking mouth's opening a small part of it
    rows, cols = _spans((cover > 0) | ((s > 0.0) & (s < 1.0) & (np.abs(u) < 1.0)))
    if rows is None:
        return layer, origin
    u, s, t, b = u[rows, cols], s[rows, cols], t[rows, cols], b[rows, cols]
    if driver_image is not None and driver_points is not None:
        colour = _driver_interior(u, s, driver_image, driver_points, palette, driver_lips,
                                  driver_rgb)
    else:
        colour = _painted_interior(u, s, (b - t) * frame.half, frame.half, palette)
    layer[rows, cols, :3] = np.clip(colour / 255.0, 0.0, 1.0)
    return layer, origin


def _spans(mask: np.ndarray) -> tuple[slice | None, slice | None]:
    """The rows and columns (slices) of a 2-D mask's bounding box; (None, None) if empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if not len(ys):
        return None, None
    xs = np.flatnonzero(mask.any(axis=0))
    return slice(int(ys[0]), int(ys[-1]) + 1), slice(int(xs[0]), int(xs[-1]) + 1)


def _driver_interior(u, s, image, points, palette: Palette, driver_lips,
                     rgb: bool = False) -> np.ndarray:
    frame, top, bottom = _mouth_curves(points)
    t, b = top(u), bottom(u)
    v = t + s * (b - t)
    src = frame.to_pixels(np.stack([u, v], axis=-1)) - 0.5
    colour = cv2.remap(image, src[..., 0].astype(np.float32), src[..., 1].astype(np.float32),
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
    if rgb:
        colour = colour[..., ::-1]
    if driver_lips is None:
        driver_lips = lip_colour(image, points)
        if rgb:
            driver_lips = driver_lips[::-1]
    # keep the driver's brightness relative to its lips (dark throat, bright teeth),
    # but paint it in the portrait's colours: darker than the lips in the lips' hue,
    # brighter than the lips towards the portrait's teeth colour
    luma = _luma(colour)
    rel = luma / max(float(_luma(driver_lips)), 1.0)
    lips = palette.lips
    teeth_rel = max(float(_luma(palette.teeth)) / max(float(_luma(lips)), 1.0), 1.05)
    base = lips * np.minimum(rel, 1.0)[..., None]
    bright = rel > 1.0
    # the driver's brightest teeth (a tenth of what is brighter than its lips, in the
    # opening's middle): teeth are measured against them
    inside = (s > 0.05) & (s < 0.95) & (np.abs(u) < 0.9) & bright
    ref = float(np.percentile(rel[inside], 90)) if np.count_nonzero(inside) >= 8 else 0.0
    # what is brighter than the lips turns from lips to teeth by the time it is as bright
    # as the driver's brightest teeth (or as the portrait's teeth are against its lips,
    # if that comes first).  Filmed teeth are only 1.3 to 1.4 times as bright as the
    # lips; ramping up to the portrait's own ratio (1.3 to 2.7 here) left them mostly lip
    # coloured: pink teeth, and none at all under a dark moustache
    top = teeth_rel * 1.15
    if ref > 1.0:
        top = min(top, max(ref, TEETH_RAMP_MIN))
    light = _smoothstep(rel, 1.0, top)
    # what is brighter than the lips is teeth where it is pale, and a tongue where it is
    # about as colourful as the lips and in their hue: that keeps the lips' hue, with the
    # driver's brightness and colourfulness against its lips (the driver's pink tongue
    # came over as a grey, teeth-coloured blob)
    pale = np.ones_like(rel)
    if np.any(bright):
        redness = _redness(colour[bright], luma[bright], driver_lips)
        pale[bright] = _pale(redness, driver_lips)
        tongue = bright & (pale < 1.0)
        if np.any(tongue):
            r, k = rel[tongue], np.minimum(redness[pale[bright] < 1.0], 1.2)
            k = 1.0 + (k - 1.0) * _smoothstep(r, 1.0, 1.3)
            grey = float(_luma(lips))
            cap = max(1.0, min(1.6, 250.0 / max(float(lips.max()), 1.0)))
            hued = (grey + (lips - grey) * k[:, None]) * np.minimum(r, cap)[:, None]
            base[tongue] += (hued - base[tongue]) * (1.0 - pale[tongue])[:, None]
    # the teeth keep the driver's shading (the gaps between them, the ones in shadow at
    # the sides): the driver's brightest teeth take the portrait's teeth colour and the
    # rest follow in proportion; one flat colour looked like a grey blob close up
    shade = np.clip(rel / ref, 0.6, 1.1)[..., None] if ref > 1.0 else 1.0
    return base + (palette.teeth * shade - base) * (light * pale)[..., None]


def _redness(colour: np.ndarray, luma: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """How far each colour (of brightness ``luma``) goes the lips' way from grey, over
    its brightness, as a share of the lips' own (1: as colourful as the lips and in
    their hue, 0: grey or across their hue)."""
    lips = np.asarray(lips, np.float64)
    towards = (lips - _luma(lips)) / max(float(_luma(lips)), 1.0)
    return (colour @ towards - luma * towards.sum()) / (
        np.maximum(luma, 1.0) * max(float(towards @ towards), 1e-6))


def _pale(redness: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """From :func:`_redness`: 1 where the driver's mouth is pale against its lips
    (teeth, even warm-lit, pink-lit or in shadow: up to about 0.55 of the lips' colour
    on the drivers here), 0 where it is nearly as red (a tongue: 0.65 to 0.8).  Grey
    lips (a black-and-white video) tell nothing: then all is pale, as teeth."""
    lips = np.asarray(lips, np.float64)
    colour_of_lips = float(np.linalg.norm(lips - _luma(lips))) / max(float(_luma(lips)), 1.0)
    return 1.0 - _smoothstep(redness, 0.55, 0.72) * _smoothstep(colour_of_lips, 0.1, 0.2)


def _luma(bgr: np.ndarray) -> np.ndarray:
    bgr = np.asarray(bgr, np.float64)
    return 0.114 * bgr[..., 0] + 0.587 * bgr[..., 1] + 0.299 * bgr[..., 2]


def _painted_interior(u, s, height_px, half_px, palette: Palette) -> np.ndarray:
    """Dark throat, a row of upper teeth once the mouth is open enough, a tongue."""
    depth = np.sin(np.pi * s) * (1.0 - 0.5 * u * u)
    colour = palette.cavity * (1.0 - 0.55 * depth)[..., None]
    open_enough = _smoothstep(height_px / max(half_px, 1e-3), 0.15, 0.45)
    # upper teeth: a soft row just under the upper lip, separated, fading to the sides
    row = _smoothstep(0.24 - s, 0.0, 0.12) * _smoothstep(0.75 - np.abs(u), 0.0, 0.35)
    gaps = 0.8 + 0.2 * np.cos(2.0 * np.pi * 3.5 * u) ** 2
    teeth = 0.7 * row * open_enough
    colour = colour + (palette.teeth * gaps[..., None] - colour) * teeth[..., None]
    tongue = _smoothstep(s - 0.72, 0.0, 0.2) * _smoothstep(0.75 - np.abs(u), 0.0, 0.3)
    colour = colour + (0.55 * palette.lips - colour) * (0.6 * tongue)[..., None]
    return colour


def lip_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Median BGR of the lips (between the outer and inner lip lines) in an image."""
    outer = np.concatenate([points[lm.LIPS_OUTER_UPPER, :2],
                            points[lm.LIPS_OUTER_LOWER[-2:0:-1], :2]])
    x0, y0 = np.floor(outer.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 2
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.array([90.0, 90.0, 150.0])
    shape = (y1 - y0, x1 - x0)
    ring = (fill_polygon(shape, outer, (y0, x0))
            - fill_polygon(shape, inner_mouth_polygon(points), (y0, x0))) > 0.5
    pixels = image[y0:y1, x0:x1][ring]
    return np.median(pixels, axis=0).astype(np.float64) if len(pixels) else \
        np.array([90.0, 90.0, 150.0])
