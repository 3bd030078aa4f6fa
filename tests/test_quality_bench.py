"""bench/quality.py --mirror: the driving clips flipped left to right, with their frame
times and their sound, as a stand-in for performers the tuning has not seen."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _quality():
    spec = importlib.util.spec_from_file_location("quality_bench", REPO / "bench" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frames(n: int) -> list[np.ndarray]:
    """Frames whose left and right differ: a bright bar on the left that moves right, on
    a ramp that is dark on the left."""
    out = []
    for i in range(n):
        f = np.zeros((96, 128, 3), np.uint8)
        f[:] = np.linspace(20, 200, 128, dtype=np.uint8)[None, :, None]
        x = 10 + 6 * i
        f[20:70, x:x + 12] = (255, 255, 255)
        f[75:90, 5:30, 2] = 250  # a red patch, near the left edge
        out.append(f)
    return out


def test_a_mirrored_clip_is_the_clip_flipped_with_its_times_and_its_sound(tmp_path):
    from conftest import spoken, write_clip

    from puppet.sources.video import VideoFile, read_sound

    sr = 48000
    frames = _frames(12)
    times = [0.0, 0.04, 0.08, 0.16, 0.2, 0.24, 0.36, 0.4, 0.44, 0.48, 0.6, 0.64]
    voice = spoken(0.68, [(0.1, 0.3)], sr=sr)  # as long as the picture
    clip = write_clip(tmp_path / "talk.mp4", frames, 25, sound=(voice, sr, 0.0), times=times)
    quality = _quality()

    mirrored = quality.mirrored_clip(clip, tmp_path / "mirrored")

    assert mirrored == tmp_path / "mirrored" / "talk.mp4"
    with VideoFile(clip) as a, VideoFile(mirrored) as b:
        assert (b.width, b.height) == (a.width, a.height)
        assert not b.constant_rate()
        assert np.allclose(b.frame_times(), a.frame_times(), atol=0.002)
        originals = [f.image for f in a.frames()]
        flipped = [f.image for f in b.frames()]
    assert len(flipped) == len(originals) == len(frames)
    for o, m in zip(originals, flipped):
        diff = np.abs(m.astype(np.int16) - o[:, ::-1].astype(np.int16)).mean()
        unflipped = np.abs(m.astype(np.int16) - o.astype(np.int16)).mean()
        assert diff < 2.0, diff
        assert unflipped > 20 * max(diff, 0.5)
    # the red patch is now near the right edge
    red = flipped[0][..., 2].astype(np.int16) - flipped[0][..., 1]
    assert red[75:90, -30:-5].mean() > 40
    assert abs(red[75:90, 5:30].mean()) < 10

    sound, note = read_sound(mirrored)
    original, _ = read_sound(clip)
    assert sound is not None, note
    assert abs(len(sound.samples) - len(original.samples)) <= 2048
    loud = np.abs(sound.samples[:, 0]) > 0.1
    assert loud[int(0.12 * sr):int(0.28 * sr)].mean() > 0.3  # the word, where it was
    assert not loud[int(0.4 * sr):].any()


def test_a_mirrored_clip_is_made_once_and_again_when_the_clip_is_newer(tmp_path):
    from conftest import write_clip

    clip = write_clip(tmp_path / "still.mp4", _frames(5), 25)
    quality = _quality()
    first = quality.mirrored_clip(clip, tmp_path / "m")
    made = first.stat().st_mtime_ns
    os.utime(first, ns=(made, made))

    assert quality.mirrored_clip(clip, tmp_path / "m") == first
    assert first.stat().st_mtime_ns == made  # not written again

    later = made + 5_000_000_000
    os.utime(clip, ns=(later, later))  # the clip changed since
    quality.mirrored_clip(clip, tmp_path / "m")
    assert first.stat().st_mtime_ns != made
