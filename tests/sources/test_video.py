import cv2
import numpy as np
import pytest
from conftest import write_clip

from puppet.errors import PuppetError
from puppet.sources.video import VideoFile


def _frames(n=12, w=96, h=64):
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, : (i + 1) * w // n] = 200
        out.append(f)
    return out


def test_reads_every_frame_with_its_rate(tmp_path):
    path = write_clip(tmp_path / "c.mp4", _frames(), 15)
    with VideoFile(path) as v:
        assert v.fps == pytest.approx(15.0)
        assert (v.width, v.height) == (96, 64)
        assert v.frame_count == 12
        frames = list(v.frames())
    assert [f.index for f in frames] == list(range(12))
    assert frames[3].time == pytest.approx(3 / 15)
    assert frames[5].image.shape == (64, 96, 3)
    # the white bar grows frame by frame
    assert (frames[2].image[..., 0] > 128).mean() < (frames[9].image[..., 0] > 128).mean()


@pytest.mark.parametrize("content, words", [
    (None, "not found"),
    (b"", "cannot be read as a video"),
    (b"this is not a video at all" * 40, "cannot be read as a video"),
])
def test_bad_files_say_what_is_wrong(tmp_path, content, words):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PuppetError) as err:
        with VideoFile(path) as v:
            list(v.frames())
    assert words in err.value.message


def test_a_truncated_video_is_reported(tmp_path):
    good = write_clip(tmp_path / "good.mp4", _frames(30), 15)
    data = good.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(PuppetError) as err:
        with VideoFile(cut) as v:
            list(v.frames())
    assert str(cut) in err.value.message


def test_a_folder_is_not_a_video(tmp_path):
    with pytest.raises(PuppetError) as err:
        VideoFile(tmp_path)
    assert "folder" in err.value.message


def test_frames_decode_straight_to_rgb(tmp_path):
    frames = _frames(4)
    for f in frames:
        f[..., 0] = 30  # blue low, red high: the order shows
        f[..., 2] = 220
    path = write_clip(tmp_path / "c.mp4", frames, 15)
    with VideoFile(path) as v:
        bgr = [f.image for f in v.frames()]
    with VideoFile(path) as v:
        rgb = [f.image for f in v.frames("rgb24")]
    assert len(bgr) == len(rgb) == 4
    for a, b in zip(bgr, rgb):
        assert np.array_equal(a[..., ::-1], b)
    assert rgb[0][..., 0].mean() > 150 and rgb[0][..., 2].mean() < 80
    with pytest.raises(ValueError):
        next(VideoFile(path).frames("yuv"))


@pytest.mark.parametrize("stored, degrees", [
    (cv2.ROTATE_90_CLOCKWISE, 90),  # a phone held upright: stored on its side
    (cv2.ROTATE_90_COUNTERCLOCKWISE, -90),
    (cv2.ROTATE_180, 180),
])
def test_a_phone_clip_stored_on_its_side_comes_out_upright(tmp_path, stored, degrees):
    upright = []
    for i in range(6):
        f = np.full((64, 96, 3), 40, np.uint8)
        f[4:20, 6:30] = (230, 230, 230)  # a light block top left: the way up shows
        f[40:60, 70 - i:90 - i] = (0, 0, 220)  # a red block bottom right
        upright.append(f)
    path = write_clip(tmp_path / "phone.mp4", [cv2.rotate(f, stored) for f in upright], 15,
                      display_rotation=degrees)
    with VideoFile(path) as v:
        assert (v.width, v.height) == (96, 64)
        frames = [f.image for f in v.frames()]
    assert len(frames) == 6
    for got, want in zip(frames, upright):
        assert got.shape == want.shape
        assert np.abs(got.astype(int) - want).mean() < 4
    # and a clip without a display rotation is left as stored
    path = write_clip(tmp_path / "plain.mp4", [cv2.rotate(f, stored) for f in upright], 15)
    with VideoFile(path) as v:
        assert v.turns == 0
        assert next(v.frames()).image.shape == cv2.rotate(upright[0], stored).shape


def _two_tones(seconds, sr=44100):
    t = np.arange(int(seconds * sr)) / sr
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t),
                     0.2 * np.sin(2 * np.pi * 660 * t)], 1).astype(np.float32)


@pytest.mark.parametrize("start", [0.0, 0.25])
def test_a_videos_sound_is_read_in_place_against_its_picture(tmp_path, start):
    from puppet.sources.video import read_sound

    sr = 44100
    path = write_clip(tmp_path / "talk.mp4", _frames(30), 15,
                      sound=(_two_tones(0.8, sr), sr, start))
    track, note = read_sound(path)
    assert note == "" and track is not None
    assert (track.format.samplerate, track.format.channels) == (sr, 2)
    x = track.samples
    assert track.seconds == pytest.approx(start + 0.8, abs=0.05)
    onset = int(np.argmax(np.abs(x[:, 0]) > 0.05)) / sr
    assert onset == pytest.approx(start, abs=0.01)  # a late sound starts late
    rms = np.sqrt((x[int((start + 0.1) * sr):int((start + 0.7) * sr)] ** 2).mean(0))
    assert rms == pytest.approx([0.3 / 2 ** 0.5, 0.2 / 2 ** 0.5], rel=0.1)  # both channels

    silent = write_clip(tmp_path / "silent.mp4", _frames(10), 15)
    assert read_sound(silent) == (None, "")


def test_a_variable_frame_rate_keeps_each_frames_own_time(tmp_path):
    """A phone in dim light: 10 frames a second for a second, then 25."""
    times = [i / 10 for i in range(10)] + [1 + i / 25 for i in range(25)]
    path = write_clip(tmp_path / "vfr.mp4", _frames(len(times)), 25, times=times)
    with VideoFile(path) as v:
        got = [f.time for f in v.frames()]
        assert not v.constant_rate()
        assert v.frame_times() == pytest.approx(times, abs=1e-3)
    assert got == pytest.approx(times, abs=1e-3)  # not i / fps: 1.0 s is frame 10's
    plain = write_clip(tmp_path / "cfr.mp4", _frames(12), 15)
    with VideoFile(plain) as v:
        assert v.constant_rate()
        assert [f.time for f in v.frames()] == pytest.approx([i / 15 for i in range(12)])


def _wobble(seconds, sr):
    """A stereo sound whose every stretch differs (a slow glide, and noise-like in the
    right channel), so a sample read from the wrong place shows."""
    t = np.arange(int(seconds * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * (200 * t + 40 * t * t / seconds))
    right = 0.2 * np.sin(2 * np.pi * 523 * t) * np.sin(2 * np.pi * 0.7 * t)
    return np.stack([left, right], 1).astype(np.float32)


def test_a_long_sound_is_read_as_it_goes_holding_only_a_little(tmp_path):
    """A render or a recording reads the driving clip's sound as it goes: an hour-long
    clip would take over a gigabyte held whole.  Read in video-frame-sized steps, the
    reader holds well under a second; what it gives equals the whole decoded track."""
    from puppet.sources.video import open_sound, read_sound

    sr, seconds = 44100, 40.0
    path = write_clip(tmp_path / "long.mp4", _frames(int(seconds * 2)), 2,
                      sound=(_wobble(seconds, sr), sr, 0.25))
    whole, note = read_sound(path)
    assert note == "" and whole.seconds == pytest.approx(seconds + 0.25, abs=0.1)
    reader, note = open_sound(path)
    assert note == "" and reader.format == whole.format
    with reader:
        parts, most = [], 0
        while not reader.ended:
            parts.append(reader.read(sr // 30))  # a frame's worth at 30 fps
            most = max(most, reader.held)
    got = np.concatenate(parts)
    assert most < sr // 4
    assert np.array_equal(got, whole.samples)
    assert np.abs(got[:int(0.2 * sr)]).max() < 0.01  # led in with silence: it starts late
    # a recording that starts deep into the video seeks there instead of decoding through:
    # the same samples, wherever it lands (in the lead-in, near the start, far on)
    reader, _ = open_sound(path)
    with reader:
        for at in (int(30.5 * sr), 5 * sr, 100, int(0.3 * sr), 0, int(seconds * sr)):
            reader.seek(at)
            assert reader.position == at
            # (the decoder, started afresh, may differ in the sixth decimal: inaudible)
            np.testing.assert_allclose(reader.read(2205), whole.samples[at:at + 2205],
                                       atol=1e-4, err_msg=str(at))


def test_a_videos_sound_is_found_by_position_forward_and_after_a_loop(tmp_path):
    from puppet.sources.live import SoundCursor
    from puppet.sources.video import read_sound

    sr = 44100
    path = write_clip(tmp_path / "talk.mp4", _frames(40), 4,
                      sound=(_wobble(10.0, sr), sr, 0.0))
    whole, _ = read_sound(path)
    cursor = SoundCursor(path)
    try:
        for start, n in ((0, 882), (882, 882), (50_000, 4410), (300_000, 10),
                         (1000, 2000),  # back: the video looped, the sound starts again
                         (1500, 441),  # a little back: from what is kept
                         (len(whole.samples) - 100, 1000)):  # past the end: shorter
            got = cursor.take(start, start + n)
            np.testing.assert_allclose(got, whole.samples[start:start + n], atol=1e-4,
                                       err_msg=str((start, n)))
    finally:
        cursor.close()
    assert cursor.take(0, 10).shape == (0, 2)  # closed: nothing


@pytest.mark.parametrize("rate", ["constant", "variable"])
def test_frames_from_a_later_one_are_those_of_a_whole_decode(tmp_path, rate):
    # a key frame every 8 frames and B-frames between: the decoder jumps to the key frame
    # before the one asked for, and the frames from there must be numbered, timed and
    # pictured exactly as when decoding from the start
    rng = np.random.default_rng(3)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (0, 0), 2)
              for _ in range(40)]
    times = None
    if rate == "variable":
        times = list(np.cumsum([0.0] + [0.04 if i % 3 else 0.07 for i in range(39)]))
    path = write_clip(tmp_path / f"{rate}.mp4", frames, 25, times=times,
                      options={"g": "8", "bf": "2"})
    with VideoFile(path) as video:
        whole = list(video.frames())
    assert len(whole) == 40
    for first in (1, 7, 8, 9, 23, 39):
        with VideoFile(path) as video:
            part = list(video.frames(first=first))
        assert [f.index for f in part] == list(range(first, 40))
        for f in part:
            assert f.time == pytest.approx(whole[f.index].time, abs=1e-9)
            assert np.array_equal(f.image, whole[f.index].image)
    with VideoFile(path) as video:
        assert list(video.frames(first=40)) == []


def test_the_size_a_large_picture_is_decoded_at():
    from puppet.sources.video import DECODED, LARGE, decoded_size

    assert (LARGE, DECODED) == (2560, 1920)
    assert decoded_size(3840, 2160) == (1920, 1080)  # 4K: half
    assert decoded_size(2160, 3840) == (1080, 1920)  # and held upright
    assert decoded_size(4032, 3024) == (1920, 1440)
    assert decoded_size(4096, 1716) == (1920, 804)  # even sizes, the shape kept
    for small in ((2560, 1440), (1920, 1080), (512, 512), (97, 61)):
        assert decoded_size(*small) == small


@pytest.mark.parametrize("stored, degrees", [(None, None), (cv2.ROTATE_90_CLOCKWISE, 90)])
def test_a_large_picture_comes_out_scaled_down(tmp_path, monkeypatch, stored, degrees):
    from puppet.sources import video

    upright = []
    for i in range(5):
        f = np.full((128, 192, 3), 50, np.uint8)
        f[10:40, 12:60] = (230, 230, 230)  # a light block top left: the way up shows
        f[70:120, 120 - 4 * i:170 - 4 * i] = (0, 0, 220)  # a red block moving left
        upright.append(f)
    frames = upright if stored is None else [cv2.rotate(f, stored) for f in upright]
    path = write_clip(tmp_path / "big.mp4", frames, 15, display_rotation=degrees)
    with VideoFile(path) as v:
        full = [f.image for f in v.frames()]
    monkeypatch.setattr(video, "LARGE", 150)
    monkeypatch.setattr(video, "DECODED", 96)
    with VideoFile(path) as v:
        assert v.stored_size == (192, 128)
        assert (v.width, v.height) == (96, 64)
        small = list(v.frames("rgb24"))
    assert [f.index for f in small] == list(range(5))
    for got, big in zip(small, full):
        assert got.image.shape == (64, 96, 3)
        # the whole picture, scaled (not a corner of it, nor squeezed another way)
        want = cv2.resize(big, (96, 64), interpolation=cv2.INTER_AREA)[..., ::-1]
        assert np.abs(got.image.astype(int) - want).mean() < 3
    # the light block stays top left and the red one moves left
    assert small[0].image[12:18, 8:28].mean() > 200
    red = [np.nonzero(f.image[40:58, :, 0] > 150)[1].mean() for f in small]
    assert all(a > b for a, b in zip(red, red[1:]))
