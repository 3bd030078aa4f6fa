"""``puppet render --driving FILE.performance``: a recorded performance re-rendered onto a
portrait, with its sound, moving as the same driver did in the video."""
from __future__ import annotations

import av
import numpy as np
import pytest
from test_render_cli import psnr, read_video, run_puppet

from puppet.sources.audio import tone
from puppet.sources.performance import PerformanceRecorder, read_performance
from puppet.sources.video import VideoFile
from puppet.timeline import AudioFormat

SR = 48000


@pytest.fixture(scope="module")
def performance_of_clip(tmp_path_factory, driving_clip):
    """The driving clip's faces, tracked frame by frame as the live engine would, recorded
    with a tone for sound: frame i captured at i / fps."""
    from puppet.tracking.mediapipe_tracker import FaceTracker

    clip, fps, mouth = driving_clip
    path = tmp_path_factory.mktemp("perf") / "clip.performance"
    t0 = 50.0
    rec = PerformanceRecorder(path, t0=t0, fps=fps, audio=AudioFormat(SR, 1))
    with VideoFile(clip) as video, FaceTracker(video=True) as tracker:
        for frame in video.frames():
            rec.add_face(tracker.track(frame.image), t0 + frame.time)
    seconds = len(mouth) / fps
    signal = tone(440.0, 0.3)
    for k in range(0, int(seconds * SR), 960):
        rec.add_audio(signal(np.arange(k, k + 960) / SR), t0 + k / SR)
    rec.finish(t0 + seconds)
    return path, fps, len(mouth)


def test_a_performance_renders_with_its_sound(tmp_path, performance_of_clip,
                                               builtin_portrait_path, driving_clip):
    perf_path, fps, n = performance_of_clip
    perf = read_performance(perf_path)
    assert perf.frame_count == n and perf.present.all()

    out = tmp_path / "from-performance.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", perf_path,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "with sound" in result.stderr
    frames, rate, codec = read_video(out)
    assert codec == "h264" and len(frames) == n and rate == pytest.approx(fps)
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        audio_s = float(audio.duration * audio.time_base)
        video_s = float(c.streams.video[0].duration * c.streams.video[0].time_base)
        level = max(float(np.abs(f.to_ndarray()).max()) for f in c.decode(audio=0))
    assert abs(audio_s - n / fps) < 0.1 and abs(video_s - n / fps) < 0.1
    assert 0.2 < level < 0.45  # the 0.3 tone

    # the same driver, rendered from its video: the same motion, frame for frame (only
    # the inside of an open mouth differs: a performance has no picture of the driver's
    # mouth, so it is painted)
    clip, *_ = driving_clip
    ref = tmp_path / "from-video.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                        "--output", ref, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    ref_frames, _, _ = read_video(ref)
    assert len(ref_frames) == n
    scores = [psnr(a, b) for a, b in zip(frames, ref_frames)]
    assert min(scores) > 34, scores


def test_a_damaged_performance_is_a_clear_error(tmp_path, builtin_portrait_path,
                                                performance_of_clip):
    perf_path, *_ = performance_of_clip
    bad = tmp_path / "bad.performance"
    bad.write_bytes(perf_path.read_bytes()[:3000])
    out = tmp_path / "o.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", bad,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("puppet: error: ") and "is damaged" in line and "Traceback" not in \
        result.stderr
    assert not out.exists()


def test_recorded_calibrations_are_replayed(performance_of_clip, builtin_portrait_path):
    """A neutral recorded before frame 0 is the driver's neutral: the frame whose face is
    that neutral shows the portrait exactly as it is, and frame 0 does not."""
    import dataclasses

    from puppet.engine import performance_driver, render_performance
    from puppet.generators import base as generators
    from puppet.motion.retarget import RetargetSettings
    from puppet.portrait import load_portrait

    perf_path, *_ = performance_of_clip
    perf = read_performance(perf_path)
    perf = dataclasses.replace(perf, neutrals=((0, perf.landmarks[18].copy()),))
    portrait = load_portrait(builtin_portrait_path, 512)

    import cv2

    class Frames(list):  # a writer that keeps what it is given (I420, in reused buffers)
        def write(self, frame):
            self.append(frame.copy())

    frames = Frames()
    render_performance(portrait, performance_driver(perf), frames,
                       generators.create("warp", "cpu"), RetargetSettings(smoothing=0.0))
    assert len(frames) == perf.frame_count
    still = cv2.cvtColor(portrait.image, cv2.COLOR_BGR2YUV_I420)
    assert np.array_equal(frames[18], still)
    assert not np.array_equal(frames[0], still)


def test_a_performance_has_no_driver_face_to_choose(tmp_path, performance_of_clip,
                                                    builtin_portrait_path):
    path, _, _ = performance_of_clip
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", path,
                   "--output", tmp_path / "o.mp4", "--driver-face", "2")
    assert r.returncode == 2 and "holds one face" in r.stderr


def test_max_frames_renders_the_start_of_a_performance(tmp_path, performance_of_clip,
                                                       builtin_portrait_path):
    """--max-frames cuts a performance as it cuts a video (it was ignored: every frame was
    rendered), with the sound cut where the video ends."""
    path, fps, n = performance_of_clip
    out = tmp_path / "start.mp4"
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", path,
                   "--output", out, "--device", "cpu", "--max-frames", "7")
    assert r.returncode == 0, r.stderr
    frames, rate, _ = read_video(out)
    assert n > 7 and len(frames) == 7 and rate == pytest.approx(fps)
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert abs(float(audio.duration * audio.time_base) - 7 / fps) < 0.1
