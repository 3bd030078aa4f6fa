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
