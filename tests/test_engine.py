"""The pipeline: stages overlap in threads, yet frames keep their order and content."""
from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from puppet.compose import bgr_to_i420
from puppet.engine import (
    QUEUE_SIZE,
    DriverFrame,
    FrameRenderer,
    Several,
    SmoothAhead,
    StageTimes,
    render_performance,
    run_pipeline,
)


def test_items_keep_their_order_through_threads():
    rng = random.Random(0)

    def slow(x):
        time.sleep(rng.random() * 0.003)
        return x

    out = []
    run_pipeline(iter(range(60)), [("a", slow), ("b", lambda x: x * 2), ("c", slow)], out.append)
    assert out == [2 * i for i in range(60)]


def test_a_step_may_hand_on_several_items_or_none_and_the_rest_at_the_end():
    held = []

    def pairs(x):  # holds every item until the next one comes
        held.append(x)
        return Several(held.pop(0) for _ in range(len(held) - 1))

    pairs.flush = lambda: Several(held)
    out = []
    run_pipeline(iter(range(20)), [("a", lambda x: x), ("pairs", pairs),
                                   ("b", lambda x: x * 10)], out.append)
    assert out == [10 * i for i in range(20)]


def test_an_error_in_a_stage_stops_everything_and_reaches_the_caller():
    pulled = []

    def source():
        for i in range(10_000):
            pulled.append(i)
            yield i

    def boom(x):
        if x == 5:
            raise ValueError("stage failed at 5")
        return x

    before = threading.active_count()
    with pytest.raises(ValueError, match="stage failed at 5"):
        run_pipeline(source(), [("boom", boom), ("id", lambda x: x)], lambda x: None)
    assert len(pulled) < 100  # the source stopped too
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_an_error_in_the_sink_stops_the_stages():
    def sink(x):
        if x == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_pipeline(iter(range(1000)), [("id", lambda x: x)], sink)


class _Collect:
    path = "memory"

    def __init__(self):
        self.frames = []

    def write(self, frame):
        self.frames.append(frame.copy())


@pytest.mark.parametrize("dense", ["opencv", "onnx"])
def test_render_gives_the_frames_a_sequential_render_gives(grace_photo, dense):
    """Frame i follows driver frame i and frame 0 is the portrait, although the
    stages overlap (the generator's two halves in two threads: with OpenCV drawing, as
    on the CPU, and with the whole model drawing, as on CUDA) and frames are composed
    (in I420) into reused buffers."""
    from puppet.generators import base as generators
    from puppet.portrait import portrait_from_image
    from puppet.sources.procedural import performance

    portrait = portrait_from_image(grace_photo, "grace", "test", 512)
    generator = generators.create("warp", "cpu", dense=dense)
    faces = list(performance(portrait.face, 1.2, 25.0, start=1.0))  # talking
    faces[7] = (faces[7][0], None)  # a frame with no face: holds the last pose
    driver = [(DriverFrame(i, t, face), 0.0) for i, (t, face) in enumerate(faces)]
    writer = _Collect()
    report = render_performance(portrait, iter(driver), writer, generator)
    assert report.frames == len(faces) == len(writer.frames)
    assert report.frames_without_face == 1
    expected_renderer = FrameRenderer(portrait, generators.create("warp", "cpu", dense=dense),
                                      fmt="yuv420p")
    # the faces smoothed with the frames after them known, one by one
    smooth = SmoothAhead.for_settings(None)
    smoothed = [d for dframe, _ in driver for d in smooth(dframe)] + smooth.flush()
    assert [d.index for d in smoothed] == list(range(len(faces)))
    for dframe, got in zip(smoothed, writer.frames):
        motion = expected_renderer.motion_for_frame(dframe)
        frame, _, _ = expected_renderer.draw(motion)
        assert np.array_equal(got, frame), dframe.index
    assert np.array_equal(writer.frames[0], bgr_to_i420(portrait.image))
    assert np.array_equal(writer.frames[7], writer.frames[6])  # the held pose
    assert not np.array_equal(writer.frames[6], writer.frames[0])
    assert not np.array_equal(writer.frames[8], writer.frames[7])
    for stage in ("track", "retarget", "generate", "compose", "encode"):
        assert len(report.times.samples[stage]) == len(faces)


def test_stage_times_summary():
    t = StageTimes()
    for v in range(1, 101):
        t.add("x", float(v))
    s = t.summary()["x"]
    assert s["median_ms"] == pytest.approx(50.5) and s["p95_ms"] == pytest.approx(95.05)
    assert s["frames"] == 100


def test_frames_are_composed_into_a_few_reused_buffers(grace_photo):
    from puppet.generators import base as generators
    from puppet.portrait import portrait_from_image
    from puppet.sources.procedural import performance

    portrait = portrait_from_image(grace_photo, "grace", "test", 256)
    seen = set()

    class Ids:
        path = "memory"

        def write(self, frame):
            seen.add(id(frame))

    faces = performance(portrait.face, 2.0, 25.0)
    driver = ((DriverFrame(i, t, f), 0.0) for i, (t, f) in enumerate(faces))
    report = render_performance(portrait, driver, Ids(), generators.create("warp", "cpu"))
    assert report.frames == 50 and len(seen) <= QUEUE_SIZE + 3


def test_steady_fps_leaves_out_the_start():
    from pathlib import Path

    from puppet.engine import RenderReport
    from puppet.generators.runtime import ProviderInfo

    r = RenderReport(Path("x"), frames=101, video_fps=25.0, seconds=3.0,
                     provider=ProviderInfo("CPUExecutionProvider", "cpu"), frames_without_face=0,
                     times=StageTimes(), first_frame_seconds=1.0)
    assert r.fps == pytest.approx(101 / 3.0) and r.steady_fps == pytest.approx(50.0)


def test_a_render_keeps_only_the_part_of_the_drivers_picture_around_the_mouth(
        driving_clip, grace_photo):
    """Tracked, a driver frame keeps only its mouth's surroundings (the frames waiting
    between a render's stages held whole 4K frames, 25 MB each), and the inside of the
    mouth drawn from that part is the one drawn from the whole frame."""
    from puppet.engine import MOUTH_MARGIN, track_step
    from puppet.generators import base as generators
    from puppet.portrait import portrait_from_image
    from puppet.sources.video import VideoFile
    from puppet.tracking import landmarks as lm
    from puppet.tracking.mediapipe_tracker import FaceTracker

    path, _, mouths = driving_clip
    with VideoFile(path) as video:
        frames = list(video.frames("rgb24"))
    with FaceTracker(video=True) as tracker:
        step = track_step(tracker, StageTimes())
        dframes = [step(frame) for frame in frames]
    portrait = portrait_from_image(grace_photo, "grace", "test", 512)
    whole = FrameRenderer(portrait, generators.create("warp", "cpu"))
    part = FrameRenderer(portrait, generators.create("warp", "cpu"))
    misplaced = FrameRenderer(portrait, generators.create("warp", "cpu"))
    compared = 0
    for frame, dframe, mouth in zip(frames, dframes, mouths):
        assert dframe.face is not None
        crop = dframe.image
        assert crop.size < 0.25 * frame.image.size  # 400 x 400 frames
        x0, y0 = dframe.origin
        assert np.array_equal(crop, frame.image[int(y0):int(y0) + crop.shape[0],
                                                int(x0):int(x0) + crop.shape[1]])
        lips = dframe.face.landmarks[lm.LIPS, :2] - np.array(dframe.origin)
        margin = MOUTH_MARGIN * float(np.ptp(lips[:, 0]))
        assert np.all(lips - margin >= -1e-3)  # the face is well inside the frame
        assert np.all(lips + margin <= np.array([crop.shape[1], crop.shape[0]]))
        expected = whole.crop_for(whole.motion_for(dframe.face, dframe.time, frame.image))
        got = part.crop_for(part.motion_for(dframe.face, dframe.time, crop, "rgb",
                                            dframe.origin))
        wrong = misplaced.crop_for(misplaced.motion_for(dframe.face, dframe.time, crop))
        if expected is None:
            continue
        # the same pixels sampled at coordinates a few hundred pixels smaller: float32
        # rounds them differently, a grey level or two at most
        assert np.abs(got.astype(int) - expected).max() <= 3, dframe.index
        if mouth > 0.2:  # wide open: the inside is drawn from the picture
            compared += 1
            assert np.abs(wrong.astype(int) - expected).max() > 30, dframe.index
    assert compared >= 4


def test_a_render_smooths_the_drivers_faces_without_lag(grace_face):
    """A render knows the frames after each one, so it smooths a face with those too: a
    head swaying to and fro is followed without the live filter's lag, its tracking
    noise is still calmed, a frame without a face stays in its place, and a new neutral
    (another person) is not smoothed with the faces before it."""
    from puppet.motion.retarget import filter_parameters
    from puppet.tracking import landmarks as lm
    from puppet.tracking.face import Face
    from puppet.tracking.smoothing import OneEuroFilter

    rng = np.random.default_rng(1)
    fps, n, switch = 30.0, 90, 60
    t = np.arange(n) / fps
    sway = 20.0 * np.sin(2 * np.pi * 0.8 * t)  # pixels, about as fast as a nod
    sway[switch:] += 150.0  # someone else, further right
    shift = sway + rng.normal(0.0, 0.6, n)  # the tracker's noise
    frames = []
    for i in range(n):
        face = None
        if i != 40:
            pts = grace_face.landmarks.astype(np.float64).copy()
            pts[:, 0] += shift[i]
            face = Face(pts, 1.0, grace_face.image_size)
        frames.append(DriverFrame(i, float(t[i]), face, neutral=face if i == switch else None))
    smooth = SmoothAhead.for_settings(None)
    out = [d for f in frames for d in smooth(f)] + smooth.flush()
    assert [d.index for d in out] == list(range(n))
    assert out[40].face is None
    got = np.array([np.nan if d.face is None else
                    float(np.mean(d.face.landmarks[:, 0] - grace_face.landmarks[:, 0]))
                    for d in out])
    # the live engine's filter, run forward only, with the same settings
    live = OneEuroFilter(*filter_parameters(0.3))
    forward = np.array([np.nan if f.face is None else float(np.mean(
        live(f.face.landmarks, f.time, scale=max(f.face.pose.scale, 1.0))[:, 0]
        - grace_face.landmarks[:, 0])) for f in frames[:switch]])
    steady = [i for i in range(10, switch - 10) if i not in (40, 41)]
    lag_live = np.abs(forward[steady] - sway[steady]).mean()
    lag_both = np.abs(got[steady] - sway[steady]).mean()
    noise = np.abs(shift[steady] - sway[steady]).mean()
    assert lag_both < 0.5 * lag_live, (lag_both, lag_live)
    assert lag_both < noise, (lag_both, noise)  # still smoothed
    # the frames just before the switch are not pulled towards the other person
    assert np.abs(got[switch - 5:switch] - sway[switch - 5:switch]).max() < 3.0
    assert out[switch].neutral is out[switch].face  # the new neutral is the smoothed face
    assert out[switch].seen is frames[switch].face  # the face as tracked, for the picture
    # the skull's points, which turn the head, are smoothed less: nearer the tracked
    # points, and still not them
    head = np.array([float(np.mean(d.head[:, 0] - grace_face.landmarks[lm.RIGID, 0]))
                     for d in out[:switch] if d.face is not None])
    kept = [i for i in range(switch) if i != 40]
    face_off = np.abs(got[kept] - shift[kept]).mean()
    head_off = np.abs(head - shift[kept]).mean()
    assert 0.05 < head_off < 0.7 * face_off, (head_off, face_off)
