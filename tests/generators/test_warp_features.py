"""Eyes that close and mouths that open: the warp generator's layers, on a real face."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from puppet.generators.base import create
from puppet.generators.warp import features
from puppet.generators.warp.generator import crop_image
from puppet.motion.retarget import DriverView, Retargeter, neutral_motion
from puppet.portrait import portrait_from_image
from puppet.tracking import landmarks as lm
from puppet.tracking.face import Face
from puppet.tracking.mediapipe_tracker import FaceTracker


@pytest.fixture(scope="module")
def portrait(grace_photo):
    return portrait_from_image(grace_photo, "grace", "test")


@pytest.fixture(scope="module")
def generator():
    return create("warp", "cpu")


@pytest.fixture(scope="module")
def prepared(generator, portrait):
    return generator.prepare(portrait)


def _motion(portrait, fn):
    pts = portrait.face.landmarks.astype(np.float64).copy()
    fn(pts)
    return dataclasses.replace(neutral_motion(portrait.face), landmarks=pts, neutral=False)


def _shut(pts):
    for upper, lower, _ in features.EYES:
        pts[upper[1:-1], :2] = pts[lower[1:-1], :2] - 0.5 * (
            pts[lower[1:-1], :2] - pts[upper[1:-1], :2]) * 0.05


def _open_mouth(pts, amount=0.35):
    """Drop the lower lip and the chin, most in the middle, as a jaw does."""
    width = np.linalg.norm(pts[61, :2] - pts[291, :2])
    for contour in (lm.LIPS_INNER_LOWER, lm.LIPS_OUTER_LOWER):
        taper = np.sin(np.linspace(0, np.pi, len(contour)))
        pts[contour, 1] += amount * width * taper
    pts[lm.CHIN, 1] += amount * width


def _measure(image):
    with FaceTracker(video=False) as t:
        face = t.track(image)
    assert face is not None
    p = face.landmarks
    eyes = (np.linalg.norm(p[159, :2] - p[145, :2]) + np.linalg.norm(p[386, :2] - p[374, :2]))
    mouth = np.linalg.norm(p[13, :2] - p[14, :2])
    return eyes / face.eye_distance, mouth / face.eye_distance, face


def test_no_motion_draws_the_portrait_exactly(generator, prepared, portrait):
    still = dataclasses.replace(neutral_motion(portrait.face), neutral=False)
    out = generator.render(prepared, still)
    crop = crop_image(portrait.image, prepared.box)
    assert np.abs(out.astype(int) - crop).max() <= 1


def test_eye_patches_leave_an_open_eye_as_painted_and_cover_a_shut_one(prepared):
    """No closing: the patch is the region itself.  Shut: the eyeball is covered by
    the lid, whose colour is the skin's, not the eye's, and nothing changes outside
    the region's eye part."""
    for region in prepared.eyes:
        assert np.array_equal(features.eye_patch(region, np.zeros(7)), region.rest)
        shut = features.eye_patch(region, np.ones(7))[0].transpose(1, 2, 0) * 255
        opened = region.source
        x0, y0 = region.box[:2]
        eye = features.fill_polygon(opened.shape[:2],
                                    features.opening_polygon(prepared.points, region.eye),
                                    (y0, x0)) > 0.99
        eye = cv2.erode(eye.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert eye.sum() > 20
        skin = np.median(region.lid_colour, axis=0)
        assert np.abs(shut[eye].mean(0) - skin).mean() < np.abs(opened[eye].mean(0) - skin).mean()
        above = region.uv[..., 1] < region.skin.min()  # the brow's side: untouched
        assert above.sum() > 20
        assert np.abs(shut[above] - opened[above]).max() < 1.0


def _grain(image: np.ndarray, where: np.ndarray) -> float:
    """Mean fine detail (grey level minus its 1-pixel blur) over ``where``."""
    g = (image @ np.array([0.114, 0.587, 0.299])).astype(np.float32)
    return float(np.abs(g - cv2.GaussianBlur(g, (0, 0), 1.0))[where].mean())


def _profile(grey: np.ndarray, rel: np.ndarray, edges: np.ndarray):
    """Mean grey level by height (``rel``) in the bins ``edges``: bin centres, means."""
    step = edges[1] - edges[0]
    means = np.array([grey[(rel >= lo) & (rel < lo + step)].mean() for lo in edges[:-1]])
    return edges[:-1] + step / 2, means


def test_a_shut_lid_is_skin_with_the_paintings_grain_not_a_flat_sticker(prepared):
    """The shut lid is as light as the skin just above the eye (not the shadow of the
    eye's corners or crease), and carries the picture's fine detail."""
    for region in prepared.eyes:
        shut = features.eye_patch(region, np.ones(7))[0].transpose(1, 2, 0) * 255
        x0, y0 = region.box[:2]
        eye = features.fill_polygon(shut.shape[:2],
                                    features.opening_polygon(prepared.points, region.eye),
                                    (y0, x0)) > 0.99
        # the lid's upper half: clear of the lash line drawn along its edge
        u, v = region.uv[..., 0], region.uv[..., 1]
        t = np.interp(u, region.u_grid, region.top)
        b = np.interp(u, region.u_grid, region.bottom)
        lid = eye & (v < 0.5 * (t + b)) & (np.abs(u) < 0.7)
        skin = (v > region.skin.mean()) & (v < t - features.LASH_BAND - features.LID_OVER) \
            & (np.abs(u) < 0.7)
        assert lid.sum() > 10 and skin.sum() > 10
        luma = shut @ np.array([0.114, 0.587, 0.299])
        assert luma[lid].mean() > 0.85 * np.percentile(luma[skin], 60)

        # the grain: against the same lid painted flat
        flat_region = dataclasses.replace(region, texture=np.zeros_like(region.texture))
        flat = features.eye_patch(flat_region, np.ones(7))[0].transpose(1, 2, 0) * 255
        assert _grain(shut, lid) > 2.0 * _grain(flat, lid) + 0.5


def test_a_shut_lid_is_round_and_its_lashes_are_thickest_in_the_middle(prepared):
    """Against the lid's own colour (``base``: the skin's colour and the grain), a shut lid
    is lighter across its middle than at its ends, as the lid curves round the eyeball,
    and its lash line is darker in the middle than towards the corners."""
    for region in prepared.eyes:
        f = region.fixed
        shut = features.eye_patch(region, np.ones(7))[0].transpose(1, 2, 0) * 255
        luma = np.array([0.114, 0.587, 0.299])
        ratio = (shut @ luma) / np.maximum(f.base @ luma, 1.0)
        u, v = region.uv[..., 0], region.uv[..., 1]
        lid = f.top + f.corner_fade * f.reach  # where the shut lid ends
        px = 1.0 / region.frame.half
        body = (f.cover_top > 0.99) & (v < lid - 4 * px)  # clear of the lash line
        middle, ends = body & (np.abs(u) < 0.3), body & (np.abs(u) > 0.7) & (np.abs(u) < 0.95)
        assert middle.sum() > 5 and ends.sum() > 5
        assert ratio[middle].mean() > ratio[ends].mean() + 0.05
        lash = np.abs(v - lid) < px
        lash_middle, lash_ends = lash & (np.abs(u) < 0.3), lash & (np.abs(u) > 0.75)
        assert lash_middle.sum() > 2 and lash_ends.sum() > 2
        assert ratio[lash_middle].mean() < ratio[lash_ends].mean() - 0.1


def _lower_lid(region: features.EyeRegion) -> np.ndarray:
    """Mean BGR of a shut lid's lower half (clear of its corners)."""
    shut = features.eye_patch(region, np.ones(7))[0].transpose(1, 2, 0) * 255
    u, v = region.uv[..., 0], region.uv[..., 1]
    t = np.interp(u, region.u_grid, region.top)
    b = np.interp(u, region.u_grid, region.bottom)
    return shut[(np.abs(u) < 0.6) & (v > 0.5 * (t + b)) & (v < b)].mean(axis=0)


@pytest.mark.parametrize("tint", [True, False])
def test_a_shut_lid_takes_the_tint_of_the_skin_around_the_eye(prepared, portrait,
                                                              monkeypatch, tint):
    """With the skin under the eye warmer (redder, less blue, as bright), a shut lid
    warms towards it where it comes down to that skin, at the same brightness: its
    colour is not only the skin's above the eye.  The control: without the tint
    (``LID_TINT`` 0) the lid does not change, so the check tells the two apart."""
    if not tint:
        monkeypatch.setattr(features, "LID_TINT", 0.0)
    luma = np.array([0.114, 0.587, 0.299])
    crop = crop_image(portrait.image, prepared.box).astype(np.float32)
    for region in prepared.eyes:
        warm = crop.copy()
        x0, y0, x1, y1 = region.box
        u, v = region.uv[..., 0], region.uv[..., 1]
        below = v > np.interp(u, region.u_grid, region.bottom) + 0.1
        skin = warm[y0:y1, x0:x1]
        shifted = skin[below] * np.array([0.8, 1.0, 1.15])
        shifted *= ((skin[below] @ luma) / np.maximum(shifted @ luma, 1.0))[:, None]
        skin[below] = np.clip(shifted, 0, 255)
        plain = _lower_lid(features.eye_region(crop.astype(np.uint8), prepared.points,
                                               region.eye))
        warmed = _lower_lid(features.eye_region(warm.astype(np.uint8), prepared.points,
                                                region.eye))
        # red over blue, as shares of the brightness
        warmth = (warmed[2] - warmed[0]) / (warmed @ luma) - (plain[2] - plain[0]) / (plain @ luma)
        if tint:
            assert warmth > 0.04, (plain, warmed)
            assert abs(warmed @ luma / (plain @ luma) - 1.0) < 0.01
        else:
            assert abs(warmth) < 0.01, (plain, warmed)


def test_a_lid_closing_a_little_slides_down_as_painted(prepared):
    """A small closing moves the painted lash line down over the eye (a lid coming
    down), rather than painting a new lid over it."""
    luma = np.array([0.114, 0.587, 0.299])
    for region in prepared.eyes:
        u, v = region.uv[..., 0], region.uv[..., 1]
        t = np.interp(u, region.u_grid, region.top)
        b = np.interp(u, region.u_grid, region.bottom)
        middle = np.abs(u) < 0.3
        closing = 0.2
        drop = float(np.median((closing * (b - t + features.LID_TUCK))[middle]))
        px = 1.0 / region.frame.half
        assert drop > 2 * px  # at least two pixels on this face

        patch = features.eye_patch(region, np.full(7, closing))[0].transpose(1, 2, 0) * 255
        rel = (v - t)[middle]
        edges = np.arange(-0.5, drop + 2 * px, px)
        at, src = _profile(region.source[middle] @ luma, rel, edges)
        _, out = _profile(patch[middle] @ luma, rel, edges)
        # the lash line and the skin above it, now lower by the drop: compared with the
        # painting moved down by the drop, and with the painting where it was
        band = (at > -0.2 + drop) & (at < drop)
        moved = np.interp(at - drop, at, src)
        assert np.abs(out - moved)[band].mean() < 0.5 * np.abs(out - src)[band].mean()
        # and the painted grain is kept: the patch is not a flat colour there
        band = middle & (v > t - 0.3) & (v < t + drop)
        assert (patch @ luma)[band].std() > 0.5 * (region.source @ luma)[band].std()


def test_a_blink_closes_the_portraits_eyes(generator, prepared, portrait):
    open_eyes, _, _ = _measure(generator.render(prepared, _motion(portrait, lambda p: None)))
    shut_eyes, _, _ = _measure(generator.render(prepared, _motion(portrait, _shut)))
    assert shut_eyes < 0.5 * open_eyes


def test_a_shut_driver_shuts_an_eye_whose_lid_points_are_not_above_one_another(portrait):
    """On a turned eye the face mesh's paired lid points sit sideways of one another
    (the Vermeer's near eye: 0.3 eye half-widths along, 0.7 across).  When the driver
    shuts its eyes, the portrait's lids meet across the eye, and that is shut, however
    far along the eye the pairs still are."""
    pts = portrait.face.landmarks.astype(np.float64).copy()
    for eye, (upper, lower, _) in enumerate(features.EYES):
        frame = features.Frame2D.from_corners(pts[upper[0], :2], pts[upper[-1], :2])
        pts[lower[1:-1], :2] += (0.3 if eye else -0.3) * frame.half * frame.e1
    retargeter = Retargeter(Face(pts.astype(np.float32), 1.0, portrait.face.image_size))
    driver = portrait.face
    retargeter.calibrate(driver)
    shut = driver.landmarks.astype(np.float64).copy()
    _shut(shut)
    motion = retargeter.motion(Face(shut.astype(np.float32), 1.0, driver.image_size))
    for eye in (0, 1):
        assert features.eye_closing(motion.landmarks, pts, eye).min() > 0.99


def _widen(amount):
    """Raise the upper lids by ``amount`` of each lid pair's gap."""
    def fn(pts):
        for upper, lower, _ in features.EYES:
            up, lo = upper[1:-1], lower[1:-1]
            pts[up, :2] -= amount * (pts[lo, :2] - pts[up, :2])
    return fn


def test_wide_open_eyes_open_the_portraits_eyes(generator, prepared, portrait):
    """Lids raised by 40% of their gap: MediaPipe reads the portrait's eyes 13.8% wider
    (with the lids pulled apart by the warp, as before, 6.1%)."""
    painted, _, _ = _measure(generator.render(prepared, _motion(portrait, lambda p: None)))
    wide, _, _ = _measure(generator.render(prepared, _motion(portrait, _widen(0.4))))
    assert wide > 1.1 * painted


def test_a_widened_eye_patch_moves_only_the_lid_and_the_eye(prepared):
    """Opening wider changes the region between the skin band above the lid and the
    lower lid line; the rest of the region stays as painted."""
    for region in prepared.eyes:
        f = region.fixed
        v = region.uv[..., 1]
        rest = region.rest[0].transpose(1, 2, 0) * 255
        wide = features.eye_patch(region, np.full(len(region.pair_u), -0.4))[0]
        wide = wide.transpose(1, 2, 0) * 255
        outside = (v <= f.skin_top) | (v >= f.bottom)
        assert np.abs(wide - rest)[outside].max() < 1e-3
        assert np.abs(wide - rest)[~outside].mean() > 2.0


WHITE, IRIS = (215, 220, 225), (40, 60, 90)  # BGR
GLINT = (252, 252, 252)


def _painted_eyes_image(grace_photo, glint: bool = False) -> np.ndarray:
    """The photograph with its eyes painted over as a painter shows them: a pale white
    between the lids and a dark iris disc (where the face mesh puts it), cut by the lids,
    and (``glint``) a catchlight on each iris, a brighter dot just above its centre.
    (In the photograph itself the lids meet a dark iris: no white shows.)  Twice the
    photograph's size, so that a lid opened wider uncovers a few pixels above the iris."""
    image = cv2.resize(grace_photo, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    face = portrait_from_image(image, "grace", "test").face
    for eye, iris in ((0, lm.RIGHT_IRIS), (1, lm.LEFT_IRIS)):
        opening = np.zeros(image.shape[:2], np.uint8)
        polygon = features.opening_polygon(face.landmarks, eye)
        cv2.fillPoly(opening, [np.round(polygon).astype(np.int32)], 255)
        centre = face.landmarks[iris[0], :2]
        radius = np.linalg.norm(face.landmarks[iris[1:], :2] - centre, axis=1).mean()
        disc = np.zeros_like(opening)
        cv2.circle(disc, tuple(int(c) for c in np.round(centre)), int(round(radius)), 255, -1)
        image[opening > 0] = WHITE
        image[(opening > 0) & (disc > 0)] = IRIS
        if glint:
            dot = np.zeros_like(opening)
            cv2.circle(dot, (int(round(centre[0])), int(round(centre[1] - 0.2 * radius))),
                       max(2, int(round(0.25 * radius))), 255, -1)
            image[(opening > 0) & (dot > 0)] = GLINT
    return image


@pytest.fixture(scope="module")
def painted_portrait(grace_photo):
    return portrait_from_image(_painted_eyes_image(grace_photo), "painted eyes", "test")


@pytest.fixture(scope="module")
def painted_eyes(generator, painted_portrait):
    return generator.prepare(painted_portrait)


def test_an_eye_opened_wider_shows_white_above_a_round_iris(painted_eyes, prepared):
    """Opened wider than painted, the lid uncovers the eyeball: above the iris's top
    (its disc, not the painted iris stretched up) the white of the eye, under the iris's
    hidden top the iris; the painted eyeball below the seam stays exactly as painted
    (but for its corners, where the eye stretches up after the lid as before)."""
    luma = np.array([0.114, 0.587, 0.299])
    middle = 0.5 * (np.dot(WHITE, luma) + np.dot(IRIS, luma))
    for region in painted_eyes.eyes:
        assert region.eyeball is not None
        f = region.fixed
        u, v = region.uv[..., 0], region.uv[..., 1]
        px = 1.0 / region.frame.half
        cu, cv, radius = features._iris(painted_eyes.points, region.eye, region.frame)
        rest = region.rest[0].transpose(1, 2, 0) * 255
        wide = features.eye_patch(region, np.full(len(region.pair_u), -features.WIDEN_MAX))
        wide = (wide[0].transpose(1, 2, 0) * 255) @ luma
        lid = np.maximum(f.top - features.WIDEN_MAX * (f.bottom - f.top),
                         f.skin_top + 0.5 * (f.top - f.skin_top))
        # beside the iris's top (where a stretched iris would be), a little way out from
        # its middle: the white of the eye, from under the lid down to the iris's rim
        for side in (-0.7, 0.7):
            column = np.abs(u - (cu + side * radius)) < 1.5 * px
            rim = cv - radius * np.sqrt(1.0 - side ** 2)
            above = column & (v > lid + 2 * px) & (v < rim - px)
            assert above.sum() >= 2
            assert wide[above].min() > middle, "the white of the eye beside the iris"
        # the iris's hidden top, from its rim down to the seam, in its middle: the iris
        column = np.abs(u - cu) < 1.5 * px
        hidden_top = column & (v > cv - radius + 2 * px) & (v < f.widen_seam)
        assert hidden_top.sum() >= 2
        assert wide[hidden_top].max() < middle, "the iris's hidden top"
        # below the seam, away from the corners (which stretch up), as painted
        painted = (v >= f.widen_seam + px) & (v < f.bottom) & (f.widen_middle == 1.0)
        assert painted.sum() > 20
        assert np.abs(wide - rest @ luma)[painted].max() < 1e-3
    # the photograph's own eyes show no white to carry on: they stretch instead
    assert all(region.eyeball is None for region in prepared.eyes)


def test_an_eye_starts_opening_wider_without_a_jump(painted_eyes, monkeypatch):
    """The drawn eyeball replaces a painted band (lashes, the lid's shadow): it fades in
    over the first of an opening, so a lid that rises a little changes a little.  The
    control: drawn at once, the same slight opening changes the band by far more."""
    def jumps(region):
        rest = region.rest[0] * 255
        slight = features.eye_patch(region, np.full(len(region.pair_u), -0.002))[0] * 255
        return float(np.abs(slight - rest).max())

    for region in painted_eyes.eyes:
        wider = features.eye_patch(region, np.full(len(region.pair_u), -0.3))[0] * 255
        assert np.abs(wider - region.rest[0] * 255).max() > 60.0
        assert jumps(region) < 15.0
        with monkeypatch.context() as m:
            m.setattr(features, "WIDEN_FADE", 1e-6)
            assert jumps(region) > 50.0


def _dark_centre(patch, region):
    """Where the iris is in an eye patch: the centre (u, v) of what is darker than half
    way from the iris to the white, between the painted lid lines."""
    luma = (patch[0].transpose(1, 2, 0) * 255) @ np.array([0.114, 0.587, 0.299])
    u, v = region.uv[..., 0], region.uv[..., 1]
    f = region.fixed
    middle = 0.5 * (np.dot(WHITE, [0.114, 0.587, 0.299]) + np.dot(IRIS, [0.114, 0.587, 0.299]))
    dark = (luma < middle) & (v > f.widen_seam) & (v < f.bottom - 0.1) & (np.abs(u) < 0.9)
    assert dark.sum() > 10
    return np.array([u[dark].mean(), v[dark].mean()])


def test_gaze_moves_the_iris_within_an_eye_that_stays_put(painted_eyes):
    """Looking aside moves the iris within the eye, drawn at the portrait's resolution:
    its dark disc moves the whole way, the white of the eye shows where it was, and the
    lids, lashes and skin around (the eye's corners with them) stay exactly as painted."""
    luma = np.array([0.114, 0.587, 0.299])
    middle = 0.5 * (np.dot(WHITE, luma) + np.dot(IRIS, luma))
    open_ = np.zeros(len(painted_eyes.eyes[0].pair_u))
    for region in painted_eyes.eyes:
        assert region.gaze is not None
        u, v = region.uv[..., 0], region.uv[..., 1]
        f = region.fixed
        cu, cv, radius = features._iris(painted_eyes.points, region.eye, region.frame)
        before = _dark_centre(features.eye_patch(region, open_, None), region)
        for side in (-0.3, 0.3):
            patch = features.eye_patch(region, open_, np.array([side, 0.0]))
            after = _dark_centre(patch, region)
            # the iris's part clipped by the lids moves with it, so its dark area's centre
            # moves about as far as the iris
            assert 0.75 * abs(side) < (after[0] - before[0]) * np.sign(side) < 1.25 * abs(side)
            assert abs(after[1] - before[1]) < 0.1
            got = (patch[0].transpose(1, 2, 0) * 255)
            rest = region.rest[0].transpose(1, 2, 0) * 255
            # above the painted lid line and below the lower one: as painted
            outside = (v < f.top - 1e-6) | (v > f.bottom + 2.0 / region.frame.half)
            assert np.abs(got[outside] - rest[outside]).max() < 0.01
            # where the iris was, on the side it left: the white of the eye
            left = (np.abs(u - (cu - np.sign(side) * 0.6 * radius)) < 0.03) & (
                np.abs(v - cv) < 0.3 * radius)
            assert left.sum() > 0
            assert (got[left] @ luma).min() > middle


def test_a_catchlight_stays_about_where_it_is_while_the_iris_looks_aside(
        generator, grace_photo, painted_eyes):
    """A painted catchlight (the light's reflection on the cornea) is not carried along
    by an iris that looks aside: it moves about half as far (GLINT_FOLLOW), still on the
    iris, one dot, not two, and none left behind on the white; an iris painted without
    one gets none."""
    glinted = generator.prepare(portrait_from_image(
        _painted_eyes_image(grace_photo, glint=True), "glint", "test"))
    assert all(region.gaze is not None and region.gaze.glint is None
               for region in painted_eyes.eyes)
    luma = np.array([0.114, 0.587, 0.299])
    bright = 0.5 * (np.dot(WHITE, luma) + np.dot(GLINT, luma))
    open_ = np.zeros(len(glinted.eyes[0].pair_u))
    for region in glinted.eyes:
        assert region.gaze is not None and region.gaze.glint is not None
        u, v = region.uv[..., 0], region.uv[..., 1]
        eye = (v > region.fixed.top) & (v < region.fixed.bottom) & (np.abs(u) < 1.0)

        def dot(patch, u=u, v=v, eye=eye):
            shows = ((patch[0].transpose(1, 2, 0) * 255) @ luma > bright) & eye
            assert shows.sum() >= 4
            return shows.sum(), np.array([u[shows].mean(), v[shows].mean()])

        area, at_rest = dot(region.rest)
        iris_before = _dark_centre(region.rest, region)
        for side in (-0.2, 0.2):
            patch = features.eye_patch(region, open_, np.array([side, 0.0]))
            moved_area, moved = dot(patch)
            iris_moved = _dark_centre(patch, region)[0] - iris_before[0]
            glint_moved = moved[0] - at_rest[0]
            assert 0.7 * abs(side) < iris_moved * np.sign(side) < 1.25 * abs(side)
            assert 0.35 * abs(side) < glint_moved * np.sign(side) < 0.75 * abs(side)
            assert abs(moved[1] - at_rest[1]) < 0.05
            assert 0.6 * area < moved_area < 1.5 * area
        # looking far aside, it is still on the iris (where the eye narrows towards its
        # corner, the lids may cover part of it), and has lagged behind
        cu, cv, radius = features._iris(glinted.points, region.eye, region.frame)
        for side in (-0.6, 0.6):
            patch = features.eye_patch(region, open_, np.array([side, 0.0]))
            moved_area, moved = dot(patch)
            assert moved_area > 0.3 * area
            assert abs(moved[0] - (cu + side)) < radius
            assert 0.3 * abs(side) < (moved[0] - at_rest[0]) * np.sign(side) < 0.9 * abs(side)


def test_a_catchlight_lags_no_further_than_keeps_it_on_the_iris():
    """The catchlight moves GLINT_FOLLOW of its iris's move, until lagging that far
    would take it past the room it has on the iris: then it stays at that edge."""
    gaze = type("G", (), {"glint_offset": np.array([0.0, -3.0]), "glint_room": 8.0})()
    gx, gy = features._glint_move(gaze, 4.0, 0.0)
    assert gx == pytest.approx(features.GLINT_FOLLOW * 4.0) and gy == 0.0
    for dx, dy in ((40.0, 0.0), (-30.0, 12.0)):
        gx, gy = features._glint_move(gaze, dx, dy)
        # from the moved iris's centre: the offset less what it lagged, at the room's edge
        where = gaze.glint_offset - np.array([dx - gx, dy - gy])
        assert np.linalg.norm(where) == pytest.approx(8.0)
        assert 0.0 < (gx * dx + gy * dy) / (dx * dx + dy * dy) < 1.0  # lags, but less
    # one painted beyond that room (near the iris's edge) keeps its distance at most
    gaze.glint_offset = np.array([9.0, 0.0])
    gx, gy = features._glint_move(gaze, -20.0, 0.0)
    assert np.linalg.norm(gaze.glint_offset - np.array([-20.0 - gx, -gy])) <= 9.0 + 1e-9
    assert gx == pytest.approx(-20.0)  # (all the lag would take it further out)


def _drawn_eye(paint):
    """A painted eye drawn from scratch, level, in its own frame (half width 80 px): skin,
    the white between flat lid lines, what ``paint(region, u, v, opening)`` adds, then the
    iris.  Returns what :func:`features._eyeball` made of it, (u, v), the upper lid line,
    the iris (u, v, radius) and the half width."""
    h, w, half = 144, 200, 80.0
    frame = features.Frame2D(origin=np.array([w / 2.0, h / 2.0]), e1=np.array([1.0, 0.0]),
                             e2=np.array([0.0, 1.0]), half=half)
    uv = frame.to_local(features._box_grid((0, 0), (h, w)))
    u, v = uv[..., 0], uv[..., 1]
    top, bottom = np.full(u.shape, -0.45), np.full(u.shape, 0.45)
    iris = np.array([0.0, 0.0, 0.2])
    region = np.empty((h, w, 3), np.float32)
    region[:] = (120, 150, 200)  # skin
    opening = (v > top) & (v < bottom) & (np.abs(u) < 1.0)
    region[opening] = WHITE
    paint(region, u, v, opening)
    region[opening & (np.hypot(u, v) < iris[2])] = IRIS
    made = features._eyeball(region, uv, top, bottom, iris, frame)
    assert made is not None
    return made, u, v, top, iris, half


def test_where_an_iris_was_beside_a_dark_corner_the_white_shows():
    """An iris painted next to something dark (the eye's corner, a shadow) on one side:
    where it was, the eye is bridged across row by row between the ends of that row's
    own chord of it, the lit white carrying across and the dark reaching in only a
    little way from its end.  Above and below the iris's middle those ends lie on the
    white, and the white shows there.  Bridged evenly between the ends of its widest
    chord, every row darkened towards the dark beside the middle: a grey ghost of the
    iris, with an edge where it began."""
    dark = (60, 70, 90)
    # the dark beside the iris: a band from lid to lid, a little way past where the iris
    # is taken out (GAZE_ERASE of its radius)
    reach = features.GAZE_ERASE * 0.2

    def paint(region, u, v, opening):
        region[opening & (u > reach + 0.02) & (u < reach + 0.15)] = dark

    (_, gaze), u, v, _, _, half = _drawn_eye(paint)
    luma = np.array([0.114, 0.587, 0.299])
    bridge = gaze.bridge @ luma
    white, grey = float(np.dot(WHITE, luma)), float(np.dot(dark, luma))
    # above and below the middle, on the white's side of the iris and across its middle
    off = np.abs(v)
    chord = np.sqrt(np.maximum(reach ** 2 - v ** 2, 0.0))
    rows = (off > 0.5 * reach) & (off < 0.9 * reach) & (u > -0.8 * chord) & (u < 0.3 * chord)
    assert rows.sum() > 50
    assert bridge[rows].min() > white - 0.15 * (white - grey)
    # level with the middle, the dark reaches in from its end only a little way: half
    # way across, the white shows (blended evenly, it was half way to the dark there),
    # and near the end it still darkens towards the band
    middle = off < 2.0 / half
    assert bridge[middle & (np.abs(u) < 1.0 / half)].min() > white - 0.2 * (white - grey)
    assert bridge[middle & (np.abs(u - 0.8 * reach) < 1.0 / half)].max() < \
        white - 0.3 * (white - grey)


def test_the_white_filled_in_above_the_iris_has_no_edge_where_two_lights_meet():
    """The white an eye opened wider shows above its painted eyeball is filled in from
    the painted white.  Where that is lit on one side and shadowed towards a corner on
    the other, the fill comes in from both and meets: softened, it shades from one to
    the other instead of stepping (the painting's own grain, carried up from below,
    aside)."""
    def paint(region, u, v, opening):
        region[opening & (u > 0.3)] = (120, 125, 135)  # the white in shadow

    (_, gaze), u, v, top, _, half = _drawn_eye(paint)
    luma = gaze.white @ np.array([0.114, 0.587, 0.299])
    band = (v > top) & (v < features.widen_seam(top, half)) & (np.abs(u) < 0.9)
    steps = np.abs(np.diff(luma, axis=1))[band[:, 1:] & band[:, :-1]]
    assert steps.size > 500
    # (filled in by inpainting alone, the two fronts met in a step: 18.6 at the 99th
    # percentile of neighbouring pixels' differences, 84 at most)
    assert np.percentile(steps, 99) < 10.0


def test_an_iris_starts_moving_without_a_jump(painted_eyes):
    open_ = np.zeros(len(painted_eyes.eyes[0].pair_u))
    for region in painted_eyes.eyes:
        rest = region.rest[0] * 255
        slight = features.eye_patch(region, open_, np.array([0.002, 0.0]))[0] * 255
        aside = features.eye_patch(region, open_, np.array([0.3, 0.0]))[0] * 255
        assert np.abs(slight - rest).max() < 15.0
        assert np.abs(aside - rest).max() > 100.0


def test_the_warp_leaves_an_iris_the_eye_patch_moves_where_it_is(
        generator, painted_eyes, painted_portrait, prepared, portrait):
    """Where the eye patch draws the gaze, the warp's control points on the irises stay
    with the head (it dragged the eye's corners and lids along, and moved the iris only
    part of the way); the photograph's own eyes, which show no white to move an iris
    over, are still looked aside by the warp."""
    def aside(pts):
        width = np.linalg.norm(pts[33, :2] - pts[133, :2])
        pts[lm.IRISES, 0] += 0.15 * width

    rows = [lm.CONTROL.index(i) for i in lm.IRISES]
    for prep, face_of in ((painted_eyes, painted_portrait), (prepared, portrait)):
        motion = _motion(face_of, aside)
        moved = generator.targets(prep, motion)[rows]
        still = generator.targets(prep, neutral_motion(face_of.face))[rows]
        shift = np.abs(moved - still).max()
        if all(region.gaze is not None for region in prep.eyes):
            assert shift < 1e-6
        else:
            assert all(region.gaze is None for region in prep.eyes)
            assert shift > 0.005


def test_a_look_aside_shows_in_the_rendered_portrait(generator, painted_eyes,
                                                     painted_portrait):
    """End to end: the face mesh finds the rendered portrait's irises moved within its
    eyes most of the way the motion asked for, and its eye corners where they were; moved
    by the warp, they went about a third of the way."""
    p = painted_eyes.points  # the portrait's landmarks in the crop's pixels

    def aside(pts):
        for corners, iris in (((33, 133), lm.RIGHT_IRIS), ((362, 263), lm.LEFT_IRIS)):
            pts[iris, 0] += 0.15 * np.linalg.norm(pts[corners[0], :2] - pts[corners[1], :2])

    # the control: the same eyes with the iris moved by the warp, as before
    by_warp = dataclasses.replace(painted_eyes, eyes=tuple(
        dataclasses.replace(region, gaze=None) for region in painted_eyes.eyes))
    motion = _motion(painted_portrait, aside)
    moved = {}
    with FaceTracker(video=False) as t:
        for name, prep in (("drawn", painted_eyes), ("warped", by_warp)):
            seen = t.track(generator.render(prep, motion)).landmarks
            for corners, iris in (((33, 133), lm.RIGHT_IRIS), ((362, 263), lm.LEFT_IRIS)):
                width = np.linalg.norm(p[corners[0], :2] - p[corners[1], :2])
                moved[name, iris[0]] = (seen[iris[0], 0] - p[iris[0], 0]) / width
                if name == "drawn":
                    assert np.abs(seen[list(corners), :2] - p[list(corners), :2]).max() \
                        < 0.08 * width
    for iris in (lm.RIGHT_IRIS[0], lm.LEFT_IRIS[0]):
        # (0.138 and 0.143 of the 0.15 asked for; by the warp 0.050 and 0.058)
        assert moved["drawn", iris] > 0.8 * 0.15, moved
        assert moved["drawn", iris] > moved["warped", iris] + 0.05, moved


def test_an_open_mouth_is_dark_inside(generator, prepared, portrait):
    out = generator.render(prepared, _motion(portrait, _open_mouth))
    _, gap, face = _measure(out)
    assert gap > 0.2
    p = face.landmarks
    inner = features.fill_polygon(out.shape[:2], features.inner_mouth_polygon(p)) > 0.5
    outer = np.concatenate([p[lm.LIPS_OUTER_UPPER, :2], p[lm.LIPS_OUTER_LOWER[-2:0:-1], :2]])
    ring = (features.fill_polygon(out.shape[:2], outer) > 0.5) & ~inner
    grey = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).astype(float)
    assert grey[inner].mean() < 0.6 * grey[ring].mean()


def test_the_drivers_teeth_come_over_in_the_portraits_colours(prepared, portrait):
    """A driver whose mouth is bright inside gives a bright inside; a dark one, dark."""
    target = prepared.points.copy()
    target3 = np.concatenate([target, np.zeros((478, 1))], axis=1)
    _open_mouth(target3)
    target = target3[:, :2]
    pal = prepared.palette
    driver_pts = target * 1.3 + 20  # another face, elsewhere
    means = []
    for inside in (235, 20):
        image = np.full((800, 800, 3), 150, np.uint8)
        poly = features.inner_mouth_polygon(driver_pts)
        cv2.fillPoly(image, [np.round(poly - 0.5).astype(np.int32)], (inside, inside, inside))
        layer, _ = features.mouth_layer(target, prepared.points, prepared.mouth_shape,
                                        prepared.box.res, pal, image, driver_pts,
                                        np.array([150.0, 150.0, 150.0]))
        cover = layer[..., 3] > 0.9
        means.append(layer[..., :3][cover].mean() * 255)
    assert means[0] > max(pal.lips.mean(), 0.9 * pal.teeth.mean())
    assert means[1] < 0.5 * pal.lips.mean()


def _saturation(bgr):
    bgr = np.asarray(bgr, float)
    return (bgr.max(-1) - bgr.min(-1)) / np.maximum(bgr.max(-1), 1.0)


def test_a_pink_tongue_comes_over_in_the_lips_hue_and_white_teeth_as_teeth(prepared):
    """Brighter than the lips is not always teeth: a tongue about as colourful as the
    driver's lips takes the portrait's lip colour, lightened as the driver's is; white
    teeth beside the same lips still take the portrait's teeth colour."""
    target = prepared.points.copy()
    target3 = np.concatenate([target, np.zeros((478, 1))], axis=1)
    _open_mouth(target3)
    target = target3[:, :2]
    pal = prepared.palette
    driver_pts = target * 1.3 + 20
    lips = np.array([70.0, 73.0, 134.0])  # a driver's lips (BGR), as on the clips here
    got = {}
    for name, inside in (("tongue", (110, 105, 168)), ("teeth", (200, 205, 212))):
        image = np.full((800, 800, 3), 150, np.uint8)
        poly = features.inner_mouth_polygon(driver_pts)
        cv2.fillPoly(image, [np.round(poly - 0.5).astype(np.int32)], inside)
        layer, _ = features.mouth_layer(target, prepared.points, prepared.mouth_shape,
                                        prepared.box.res, pal, image, driver_pts, lips)
        cover = layer[..., 3] > 0.9
        got[name] = layer[..., :3][cover].mean(axis=0) * 255
    luma = np.array([0.114, 0.587, 0.299])
    tongue, teeth = got["tongue"], got["teeth"]
    # the tongue: lighter than the portrait's lips, in their hue, and about as colourful
    # as the driver's tongue is against its lips (0.78; as teeth it was 0.33)
    assert tongue @ luma > pal.lips @ luma
    hue = (pal.lips - pal.lips.mean()) / np.linalg.norm(pal.lips - pal.lips.mean())
    assert (tongue - tongue.mean()) @ hue / np.linalg.norm(tongue - tongue.mean()) > 0.98
    assert 0.6 < _saturation(tongue) / _saturation(pal.lips) < 1.0
    assert _saturation(tongue) > _saturation(teeth) + 0.1
    # the teeth: the portrait's teeth colour, as before
    assert np.linalg.norm(teeth - pal.teeth) < 0.15 * np.linalg.norm(pal.teeth)


def test_filmed_teeth_come_over_as_teeth_whatever_the_portraits_lips(prepared):
    """A filmed driver's teeth are only about 1.35 times as bright as its lips.  They
    take the portrait's teeth colour, not a mix with its lips: beside orange-red painted
    lips that mix gave orange teeth, and under a dark moustache (teeth 2.7 times as
    bright as the lips) almost none showed at all."""
    target = prepared.points.copy()
    target3 = np.concatenate([target, np.zeros((478, 1))], axis=1)
    _open_mouth(target3)
    target = target3[:, :2]
    driver_pts = target * 1.3 + 20
    lips = np.array([104.0, 109.0, 157.0])  # a filmed driver's lips (BGR), luma 123
    image = np.full((800, 800, 3), 150, np.uint8)
    poly = features.inner_mouth_polygon(driver_pts)
    cv2.fillPoly(image, [np.round(poly - 0.5).astype(np.int32)], (160, 166, 172))  # 1.36x
    luma = np.array([0.114, 0.587, 0.299])
    for painted_lips, teeth in (([52.0, 90.0, 156.0], [135.0, 151.0, 167.0]),  # orange-red
                                ([54.0, 61.0, 82.0], [170.0, 175.0, 187.0])):  # moustache
        pal = features.Palette(lips=np.array(painted_lips), teeth=np.array(teeth),
                               cavity=0.22 * np.array(painted_lips) + 4.0)
        layer, _ = features.mouth_layer(target, prepared.points, prepared.mouth_shape,
                                        prepared.box.res, pal, image, driver_pts, lips)
        cover = layer[..., 3] > 0.9
        got = layer[..., :3][cover].mean(axis=0) * 255
        assert np.linalg.norm(got - pal.teeth) < 0.1 * np.linalg.norm(pal.teeth), (got, teeth)
        assert got @ luma > 0.95 * (pal.teeth @ luma)


def test_the_drivers_teeth_keep_their_shading(prepared):
    """Teeth with dark gaps between them (and darker ones at the sides) come over with
    those gaps, in the portrait's teeth colour: not as one flat colour."""
    target = prepared.points.copy()
    target3 = np.concatenate([target, np.zeros((478, 1))], axis=1)
    _open_mouth(target3)
    target = target3[:, :2]
    driver_pts = target * 1.3 + 20
    image = np.full((800, 800, 3), 150, np.uint8)
    inside = np.zeros((800, 800), np.uint8)
    poly = features.inner_mouth_polygon(driver_pts)
    cv2.fillPoly(inside, [np.round(poly - 0.5).astype(np.int32)], 1)
    x0, x1 = poly[:, 0].min(), poly[:, 0].max()
    xs = np.arange(800)[None, :].repeat(800, 0)
    # six teeth a mouth wide, 240 in the middle of each, 170 in the gaps between them
    teeth = 170 + 70 * np.sin(np.pi * np.clip((xs - x0) / (x1 - x0), 0, 1) * 6) ** 2
    image[inside == 1] = teeth[inside == 1, None].astype(np.uint8)
    layer, origin = features.mouth_layer(target, prepared.points, prepared.mouth_shape,
                                         prepared.box.res, prepared.palette, image, driver_pts,
                                         np.array([150.0, 150.0, 150.0]))
    cover = layer[..., 3] > 0.9
    luma = (layer[..., :3] @ np.array([0.114, 0.587, 0.299]) * 255)[cover]
    assert luma.std() > 10.0  # shaded (13.4): one flat teeth colour gave 6.6
    # and where the driver's teeth are brightest, the portrait's are brightest
    rows, cols = np.nonzero(cover)
    ox = origin[1] + cols + 0.5
    t_x0, t_x1 = target[lm.LIPS_INNER_UPPER + lm.LIPS_INNER_LOWER, 0].min(), \
        target[lm.LIPS_INNER_UPPER + lm.LIPS_INNER_LOWER, 0].max()
    phase = np.sin(np.pi * np.clip((ox - t_x0) / (t_x1 - t_x0), 0, 1) * 6) ** 2
    assert np.corrcoef(phase, luma)[0, 1] > 0.5


@pytest.mark.parametrize("driver", [True, False])
def test_the_mouths_colour_is_made_only_where_it_shows(prepared, monkeypatch, driver):
    """The inside's colour is made only in the rows and columns the layer covers (and the
    opening's): where it covers, the layer is the same as made over the whole box."""
    target = prepared.points.copy()
    target3 = np.concatenate([target, np.zeros((478, 1))], axis=1)
    _open_mouth(target3, 0.2)
    target = target3[:, :2]
    driver_pts = target * 1.3 + 20
    image = np.full((800, 800, 3), 150, np.uint8)
    poly = features.inner_mouth_polygon(driver_pts)
    cv2.fillPoly(image, [np.round(poly - 0.5).astype(np.int32)], (110, 105, 168))
    view = (image, driver_pts, np.array([70.0, 73.0, 134.0])) if driver else ()

    def layer():
        return features.mouth_layer(target, prepared.points, prepared.mouth_shape,
                                    prepared.box.res, prepared.palette, *view)[0]

    spans, made = features._spans, []

    def recorded(mask):
        rows, cols = spans(mask)
        made.append((rows.stop - rows.start) * (cols.stop - cols.start))
        return rows, cols

    monkeypatch.setattr(features, "_spans", recorded)
    part = layer()
    monkeypatch.setattr(features, "_spans", lambda mask: (slice(0, mask.shape[0]),
                                                          slice(0, mask.shape[1])))
    whole = layer()
    cover = whole[..., 3] > 0
    assert cover.any() and np.array_equal(part[..., 3], whole[..., 3])
    np.testing.assert_array_equal(part[..., :3][cover], whole[..., :3][cover])
    # and it is a part: the box is about 1.5 by 1.7 mouth widths, the opening smaller
    assert made[0] < 0.6 * cover.size


def test_closing_the_mouth_hides_the_inside(prepared):
    layer, _ = features.mouth_layer(prepared.points, prepared.points, prepared.mouth_shape,
                                    prepared.box.res, prepared.palette)
    assert layer[..., 3].max() == 0.0


def test_driver_view_reaches_the_mouth(generator, prepared, portrait, grace_photo):
    """With a driver picture, the mouth's inside comes from it."""
    white = np.full_like(grace_photo, 255)
    black = np.zeros_like(grace_photo)
    outs = []
    for image in (white, black):
        m = _motion(portrait, _open_mouth)
        m = dataclasses.replace(m, driver=DriverView(image, m.landmarks, None))
        outs.append(generator.render(prepared, m).astype(int))
    assert np.abs(outs[0] - outs[1]).max() > 60


def test_the_pictures_frame_stays_still(generator, prepared, portrait):
    """A big turn and shift of the head moves the face but not the picture's edge band."""
    from puppet.motion.pose import euler_to_matrix

    m = neutral_motion(portrait.face)
    turn = euler_to_matrix(15, 10, 8)
    pts = portrait.face.landmarks.astype(np.float64)
    c = m.center
    moved = (pts - c) @ turn.T + c + np.array([25.0, -20.0, 0.0])
    m = dataclasses.replace(m, landmarks=moved, rotation=turn, shift=np.array([25.0, -20.0, 0]),
                            neutral=False)
    out = generator.render(prepared, m).astype(int)
    crop = crop_image(portrait.image, prepared.box).astype(int)
    box = prepared.box
    top = -box.y0  # the picture's top edge, in crop rows
    band = int(0.08 * min(portrait.size))
    assert top >= 0
    np.testing.assert_array_equal(out[top:top + band - 1], crop[top:top + band - 1])
    assert np.abs(out[top + 3 * band:] - crop[top + 3 * band:]).mean() > 3  # the rest moved
