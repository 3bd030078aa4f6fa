"""A driving video tracked in chunks by several trackers at once (for a render on many
cores) gives one tracker's faces: the first chunk's exactly, the later ones' within the
tracker's own noise, and a face followed elsewhere from a chunk's start is a new one."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from conftest import write_clip

from puppet.engine import StageTimes, tracking_workers
from puppet.errors import PuppetError
from puppet.sources.video import VideoFile
from puppet.tracking import chunked
from puppet.tracking.chunked import ChunkedTracking, default_workers
from puppet.tracking.mediapipe_tracker import FaceTracker


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of half a second (12 frames at 24 fps), each tracked from a quarter of a
    second before it."""
    monkeypatch.setattr(chunked, "CHUNK_SECONDS", 0.5)
    monkeypatch.setattr(chunked, "WARMUP_SECONDS", 0.25)


def one_tracker(path) -> list:
    with VideoFile(path) as video, FaceTracker(video=True) as tracker:
        return [tracker.track_rgb(f.image) for f in video.frames("rgb24")]


def chunked_faces(path, workers: int) -> tuple[list, list[int], StageTimes]:
    times = StageTimes()
    with VideoFile(path) as video:
        total, fps = video.frame_count, video.fps
    faces, new = [], []
    with ChunkedTracking(path, total, fps, workers, times=times) as tracking:
        for i in range(total):
            face, is_new = tracking.face(i)
            faces.append(face)
            if is_new:
                new.append(i)
    return faces, new, times


def test_chunks_give_one_trackers_faces(driving_clip, small_chunks):
    path, fps, _ = driving_clip  # 36 frames at 24 fps: three chunks
    single = one_tracker(path)
    faces, new, times = chunked_faces(path, workers=2)
    assert len(faces) == len(single) == 36
    assert all(f is not None for f in faces)
    assert new == []  # one face throughout
    assert len(times.samples["track"]) == 36  # the warm-ups are not counted
    # the first chunk's tracker starts where the single one does: the same faces
    for a, b in zip(faces[:12], single[:12]):
        assert np.array_equal(a.landmarks, b.landmarks)
    # the later chunks' trackers start a quarter of a second early and settle into the
    # same track within the tracker's own noise: their landmarks are on average a
    # fraction of a pixel from the single tracker's (0.08 to 0.79 in the runs seen; the
    # face mesh's last digits differ with what the process ran before), where the
    # moving, tilting head moves them 0.7 to 2.9 pixels a frame
    apart = np.array([np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]).mean()
                      for a, b in zip(faces[12:], single[12:])])
    step = np.array([np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]).mean()
                     for a, b in zip(single[1:], single[:-1])])
    assert apart.max() < 1.5 and np.median(apart) < 0.5, apart
    assert np.median(apart) < 0.35 * np.median(step)


def test_a_face_elsewhere_from_a_chunks_start_is_a_new_one(tmp_path, grace_photo,
                                                           small_chunks):
    # the photograph on the left for the first chunk, on the right for the rest: a
    # single tracker takes it for another face at frame 12 (so a new neutral), and so
    # must the chunks, whose second tracker never saw it on the left
    face = cv2.resize(grace_photo, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(24):
        frame = np.full((360, 720, 3), 120, np.uint8)
        x = 40 if i < 12 else 480
        frame[80:80 + face.shape[0], x:x + face.shape[1]] = face
        frames.append(frame)
    path = write_clip(tmp_path / "moves.mp4", frames, 24)

    from puppet.engine import track_step
    from puppet.sources.video import Frame

    times = StageTimes()
    with VideoFile(path) as video, FaceTracker(video=True) as tracker:
        step = track_step(tracker, times)
        single_new = [d.index for d in (step(Frame(f.index, f.time, f.image))
                                         for f in video.frames("rgb24"))
                      if d.neutral is not None]
    faces, new, _ = chunked_faces(path, workers=2)
    assert single_new == [12]
    assert new == [12]
    assert faces[12].bbox[0] > 400


def test_a_worker_that_fails_stops_the_render_with_its_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with ChunkedTracking(broken, 100, 25.0, 2) as tracking:
        with pytest.raises(PuppetError, match="cannot be read as a video"):
            tracking.face(0)


def test_how_many_trackers():
    assert [default_workers(c) for c in (1, 2, 4, 7, 8, 12, 16, 64)] == [1, 1, 1, 1, 2, 3, 4, 4]
    # 300 frames at 30 fps is one 10-second chunk: one tracker
    assert tracking_workers(4, 300, 30.0) == 1
    assert tracking_workers(4, 301, 30.0) == 2
    assert tracking_workers(4, 3000, 30.0) == 4
    assert tracking_workers(1, 3000, 30.0) == 1
    # a length not known, or a chosen driver (the tracker that chose follows them)
    assert tracking_workers(4, 0, 30.0) == 1
    assert tracking_workers(4, 3000, 30.0, driver_face=2) == 1


def test_a_render_with_two_trackers_is_a_render_with_one(tmp_path, driving_clip,
                                                         builtin_portrait_path, small_chunks):
    # part way into the clip (--start: the chunks count from there), two trackers at once
    from conftest import clip_frames

    from puppet.engine import render_file

    clip, fps, _ = driving_clip
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}.mp4"
        report = render_file(builtin_portrait_path, clip, out, device="cpu", start=0.25,
                             track_threads=workers)
        assert report.track_threads == workers
        assert report.frames == 30 and report.frames_without_face == 0
        outs[workers] = clip_frames(out)
    one, two = outs[1], outs[2]
    assert len(one) == len(two) == 30
    apart = [np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for a, b in zip(one, two)]
    step = [np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()
            for a, b in zip(one[1:], one[:-1])]
    # frame 0 is the portrait itself in both; the encoder's look-ahead (which sets how
    # finely a frame is coded by how much the frames after it take from it) sees the
    # frames after it differ a little, so its picture differs by a tenth of a grey level
    assert apart[0] < 0.3
    # the trackers' noise (and the encoder's answer to it), not another motion: the two
    # renders are much closer than one render's frame is to the next (a median of about
    # 0.8 against 2.2 grey levels, the largest 1.2 to 1.7 in the runs seen; one frame
    # off would be about as far as a step)
    assert np.median(apart) < 0.5 * np.median(step), (apart, step)
    assert max(apart) < 3.0, apart


def test_the_command_line_takes_a_number_of_trackers(tmp_path, driving_clip,
                                                     builtin_portrait_path):
    from test_render_cli import run_puppet

    clip, _, _ = driving_clip
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", tmp_path / "x.mp4", "--track-threads", "0")
    assert r.returncode == 2 and "not a number of trackers from 1 to 16" in r.stderr
    # a clip shorter than a chunk is tracked by one tracker whatever is asked
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", tmp_path / "y.mp4", "--device", "cpu", "--track-threads", "4")
    assert r.returncode == 0, r.stderr
    assert "trackers at once" not in r.stderr


def test_a_render_of_the_first_frames_tracks_no_further(driving_clip, small_chunks):
    path, fps, _ = driving_clip  # 36 frames: a render of the first 20 of them
    for exact, tracked in ((True, 20), (False, 36)):
        times = StageTimes()
        with ChunkedTracking(path, 20, fps, 2, times=times, exact=exact) as tracking:
            assert all(tracking.face(i)[0] is not None for i in range(20))
            deadline = time.monotonic() + 30
            while len(times.samples["track"]) < tracked and time.monotonic() < deadline:
                time.sleep(0.05)  # the last chunk's tracker may go on to the video's end
        assert len(times.samples["track"]) == tracked


def test_a_large_clip_is_tracked_in_its_decoded_picture_by_every_chunk(
        driving_clip, small_chunks, monkeypatch):
    # a clip decoded smaller (as a 4K one is: puppet.sources.video.LARGE) is tracked in
    # the smaller picture by the one tracker and by each chunk's, which open the file
    # themselves: every face in the same picture, at the size the render's frames have
    from puppet.sources import video

    path, _, _ = driving_clip  # 400 x 400
    full = one_tracker(path)
    monkeypatch.setattr(video, "LARGE", 300)
    monkeypatch.setattr(video, "DECODED", 240)
    single = one_tracker(path)
    faces, new, _ = chunked_faces(path, workers=2)
    assert new == [] and all(f is not None for f in faces + single)
    scale = 240 / 400
    for a, b, c in zip(full, single, faces):
        assert b.image_size == c.image_size == (240, 240)
        # where the full-size picture's tracker puts them, scaled: within the face mesh's
        # own noise (at most 0.47 and 0.21 pixels of the smaller picture on average in the
        # runs seen, where the head moves 0.85 pixels a frame, the median)
        assert np.abs(a.landmarks[:, :2] * scale - b.landmarks[:, :2]).mean() < 0.8
        assert np.abs(b.landmarks[:, :2] - c.landmarks[:, :2]).mean() < 0.8
