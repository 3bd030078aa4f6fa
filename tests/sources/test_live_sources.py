"""Live sources: a video played like a camera, the demo performance, choosing a source."""
from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import write_clip

from puppet.errors import PuppetError
from puppet.sources.live import (
    PerformancePlayer,
    SourceSpec,
    VideoPlayer,
    open_source,
    parse_source,
)


def _numbered_clip(tmp_path, n=30, fps=20):
    frames = []
    for i in range(n):
        f = np.zeros((48, 64, 3), np.uint8)
        f[:, : (i + 1) * 64 // n] = 230  # a bar that grows: frame i is recognisable
        frames.append(f)
    return write_clip(tmp_path / "numbered.mp4", frames, fps)


def _play_through(src) -> list:
    """Every frame a reader that keeps up gets, until the source ends."""
    seen, after = [], 0
    while True:
        frame = src.newest(after, timeout=1.0)
        if frame is None:
            return seen
        seen.append(frame)
        after = frame.seq


def _bar(frame) -> float:
    return float((frame.image[..., 1] > 128).mean())


def test_a_video_plays_at_its_own_rate_and_ends(tmp_path):
    path = _numbered_clip(tmp_path, n=30, fps=20)  # 1.5 s
    with VideoPlayer(path) as src:
        assert src.fps == pytest.approx(20.0)
        t0 = time.perf_counter()
        seen = _play_through(src)
        elapsed = time.perf_counter() - t0
        assert src.ended and src.error is None
    # never faster than the clip's own clock (slower only when the machine is busy)
    assert elapsed >= 1.3
    assert [f.seq for f in seen] == sorted(f.seq for f in seen)
    assert seen[-1].time == pytest.approx(29 / 20, abs=1e-6) or src.frames_skipped > 0
    captures = np.array([f.capture_time for f in seen])
    assert np.all(np.diff(captures) > 0)
    assert seen[-1].capture_time - seen[0].capture_time >= 1.2


def test_a_variable_rate_video_plays_each_frame_at_its_own_time(tmp_path):
    times = [i / 10 for i in range(10)] + [1 + i / 40 for i in range(20)]  # 10, then 40 fps
    frames = [np.full((48, 64, 3), 40 + 6 * i, np.uint8) for i in range(len(times))]
    path = write_clip(tmp_path / "vfr.mp4", frames, 20, times=times)
    with VideoPlayer(path) as src:
        seen = _play_through(src)
        start = src.clock_start
    assert len(seen) >= 20
    for f in seen:  # shown when its time in the file has come, not at i / fps
        assert min(abs(f.time - t) for t in times) < 1e-3
        assert 0 <= f.capture_time - start - f.time < 0.05
    assert src.pass_seconds == pytest.approx(times[-1] + 1 / src.fps)


def test_a_slow_reader_gets_the_newest_frame_not_a_queue(tmp_path):
    path = _numbered_clip(tmp_path, n=30, fps=20)
    with VideoPlayer(path) as src:
        first = src.newest(0, timeout=2.0)
        assert first is not None
        time.sleep(0.6)  # about 12 frames go by
        later = src.newest(first.seq, timeout=1.0)
        assert later is not None
        assert later.seq - first.seq >= 6  # it skipped ahead to what is newest now
        assert _bar(later) > _bar(first)


def test_a_looping_video_carries_on(tmp_path):
    path = _numbered_clip(tmp_path, n=10, fps=25)  # 0.4 s
    with VideoPlayer(path, loop=True) as src:
        time.sleep(1.0)
        frame = src.newest(0, timeout=1.0)
        assert not src.ended
        assert frame is not None and src.frames_captured + src.frames_skipped > 10


def test_the_demo_performance_hands_on_faces_without_pictures():
    with PerformancePlayer(fps=25) as src:
        a = src.newest(0, timeout=5.0)
        time.sleep(0.5)
        b = src.newest(a.seq, timeout=1.0)
    assert a.image is None and a.face is not None
    assert b.face is not None and b.seq > a.seq
    assert a.size == a.face.image_size
    assert b.time > a.time


@pytest.mark.parametrize("text, kind", [("0", "camera"), ("12", "camera"), ("demo", "performance"),
                                        ("DEMO", "performance"), ("clip.mp4", "video")])
def test_sources_are_named_by_number_word_or_path(text, kind):
    spec = parse_source(text)
    assert spec.kind == kind
    assert parse_source(spec.to_text()) == spec


@pytest.mark.parametrize("text, index", [("camera", 0), ("Webcam", 0), ("camera 1", 1),
                                         ("camera:2", 2)])
def test_a_camera_can_be_named_in_words(text, index):
    assert parse_source(text) == SourceSpec("camera", index=index)


def test_a_video_file_named_camera_is_that_video(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "camera").write_bytes(b"")
    assert parse_source("camera") == SourceSpec("video", path="camera")


def test_a_missing_video_says_so(tmp_path):
    with pytest.raises(PuppetError, match="not found"):
        open_source(SourceSpec("video", path=str(tmp_path / "nope.mp4")))
    with pytest.raises(PuppetError):
        parse_source("  ")
