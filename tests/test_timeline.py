"""Constant-rate frame slots and the audio timeline."""
import numpy as np
import pytest

from puppet.timeline import AudioFormat, AudioTimeline, FrameSlots, frame_count, slot_sources


def test_frames_are_repeated_over_a_stall_and_dropped_in_a_burst():
    slots = FrameSlots(t0=10.0, fps=10)
    out = []
    for name, t in [("a", 10.02), ("b", 10.04), ("c", 10.13), ("d", 10.44), ("e", 10.46)]:
        out += slots.push(name, t)
    out += slots.finish(frame_count(10.0, 10.8, 10))
    assert out == [(0, "b"), (1, "c"), (2, "c"), (3, "c"), (4, "d"), (5, "e"), (6, "e"),
                   (7, "e")]


def test_the_first_frame_fills_the_slots_before_it_and_late_frames_show_next():
    assert slot_sources([0.25, 0.31, 0.29], 0.0, 10, 5).tolist() == [0, 0, 0, 2, 2]
    assert slot_sources([], 0.0, 10, 3).tolist() == [-1, -1, -1]


def test_audio_keeps_its_place_on_the_timeline():
    fmt = AudioFormat(8000, 1)  # 8 samples a millisecond
    line = AudioTimeline(t0=5.0, fmt=fmt, tolerance=0.01)
    block = np.ones(800, np.float32)  # 100 ms
    a = line.place(block, 4.95)  # started before t0: the early part is cut
    assert len(a) == 400
    b = line.place(block * 2, 5.053)  # 3 ms of jitter: left alone
    assert len(b) == 800 and line.position == 1200
    c = line.place(block * 3, 5.4)  # a gap: silence first
    assert len(c) == 2800 and np.all(c[:2000] == 0) and np.all(c[2000:] == 3)
    d = line.place(block * 4, 5.45)  # overlaps: its start is cut
    assert len(d) == 400 and line.position == 4400
    e = line.silence_until(4800)
    assert len(e) == 400 and line.position == 4800
    stereo = AudioTimeline(0.0, AudioFormat(8000, 2)).place(np.ones((10, 1), np.float32), 0.0)
    assert stereo.shape == (10, 2)


def test_an_exact_first_placement():
    line = AudioTimeline(t0=0.0, fmt=AudioFormat(8000, 1), tolerance=0.04)
    out = line.place(np.ones(80, np.float32), 0.02)  # within the tolerance, yet placed exactly
    assert len(out) == 240 and np.all(out[:160] == 0)


def test_bad_formats_are_refused():
    with pytest.raises(ValueError):
        AudioFormat(1000, 1)  # below telephone quality
    with pytest.raises(ValueError):
        AudioFormat(48000, 6)
