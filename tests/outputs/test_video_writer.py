import av
import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.outputs.video_writer import VideoWriter, check_output_path


def test_writes_h264_at_a_constant_rate(tmp_path):
    out = tmp_path / "o.mp4"
    with VideoWriter(out, 128, 96, 25) as w:
        for i in range(20):
            w.write(np.full((96, 128, 3), i * 10, np.uint8))
    assert out.exists() and not (tmp_path / ".o.mp4.part").exists()
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert float(s.average_rate) == pytest.approx(25.0)
        frames = list(c.decode(s))
    assert len(frames) == 20
    assert [round(float(f.time) * 25) for f in frames] == list(range(20))
    assert abs(int(frames[-1].to_ndarray(format="bgr24").mean()) - 190) <= 3


def test_a_failed_render_leaves_no_file(tmp_path):
    out = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 64, 64, 30) as w:
            w.write(np.zeros((64, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_output_paths_are_checked(tmp_path):
    with pytest.raises(PuppetError) as err:
        check_output_path(tmp_path / "missing" / "o.mp4")
    assert "does not exist" in err.value.message
    with pytest.raises(PuppetError):
        check_output_path(tmp_path / "o.avi")
    assert check_output_path(tmp_path / "o.mp4") == tmp_path / "o.mp4"


def test_frame_size_must_match(tmp_path):
    w = VideoWriter(tmp_path / "o.mp4", 64, 64, 30)
    with pytest.raises(ValueError):
        w.write(np.zeros((32, 64, 3), np.uint8))
    w.abort()


def test_a_sound_track_is_muxed_as_aac_and_cut_at_the_video_end(tmp_path):
    from puppet.sources.audio import AudioTrack
    from puppet.timeline import AudioFormat

    sr = 48000
    t = np.arange(int(2.5 * sr)) / sr  # longer than the video
    track = AudioTrack((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None],
                       AudioFormat(sr, 1))
    out = tmp_path / "o.mp4"
    with VideoWriter(out, 64, 48, 25, audio=track) as w:
        assert w.has_sound
        for i in range(50):
            w.write(np.full((48, 64, 3), i * 4, np.uint8))
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert a.codec_context.name == "aac" and a.rate == sr
        assert float(v.duration * v.time_base) == pytest.approx(2.0)
        assert float(a.duration * a.time_base) == pytest.approx(2.0, abs=0.03)
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(a)])
    assert abs(len(samples) / sr - 2.0) < 0.03
    assert 0.25 < np.abs(samples[sr // 2: sr]).max() < 0.35


def test_i420_and_bgr_frames_give_the_same_video(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (0, 0), 3)
              for _ in range(5)]
    paths = []
    for fmt in ("bgr", "i420"):
        out = tmp_path / f"{fmt}.mp4"
        with VideoWriter(out, 128, 96, 25) as w:
            for f in frames:
                w.write(f if fmt == "bgr" else cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420))
        paths.append(out)
    decoded = []
    for p in paths:
        with av.open(str(p)) as c:
            decoded.append([f.to_ndarray(format="bgr24") for f in c.decode(video=0)])
    assert len(decoded[0]) == len(decoded[1]) == 5
    for a, b, src in zip(*decoded, frames):
        assert np.array_equal(a, b)
        assert np.abs(a.astype(int) - src).mean() < 3
    w = VideoWriter(tmp_path / "x.mp4", 128, 96, 25)
    with pytest.raises(ValueError):
        w.write(np.zeros((96, 128), np.uint8))  # neither BGR nor I420 of this size
    w.abort()


def test_every_frame_keeps_its_own_picture_though_buffers_are_reused(tmp_path):
    """The writer reuses one encoder frame, and the engine reuses its frame buffers:
    each decoded frame still shows what was written for it (x264 copies on encode)."""
    import cv2

    out = tmp_path / "o.mp4"
    buffer = np.zeros((96 * 3 // 2, 128), np.uint8)  # one I420 buffer, rewritten per frame
    levels = [(i * 37) % 200 + 20 for i in range(40)]
    with VideoWriter(out, 128, 96, 25) as w:
        for i, level in enumerate(levels):
            bgr = np.full((96, 128, 3), level, np.uint8)
            bgr[40:56, 3 * i:3 * i + 16] = 255 - level  # a square that moves
            cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420, dst=buffer)
            w.write(buffer)
    with av.open(str(out)) as c:
        got = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert len(got) == len(levels)
    for i, (frame, level) in enumerate(zip(got, levels)):
        assert abs(float(np.median(frame)) - level) <= 3
        assert abs(float(frame[44:52, 3 * i + 4:3 * i + 12].mean()) - (255 - level)) <= 8
