"""Performance files: written as they happen, read back the same, small, and damaged or
foreign files refused with a clear message."""
from __future__ import annotations

import json
import zipfile
from fractions import Fraction

import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.sources.audio import AudioTrack
from puppet.sources.performance import (
    Performance,
    PerformanceRecorder,
    finish_log,
    is_performance_file,
    landmark_scale,
    read_performance,
    write_performance,
)
from puppet.timeline import AudioFormat
from puppet.tracking.face import Face

SR = 48000


def _faces(grace_face, n):
    """Talking-like motion: the jaw points go down and up, the head sways."""
    out = []
    for i in range(n):
        pts = grace_face.landmarks.astype(np.float32).copy()
        pts[:, 0] += 4.0 * np.sin(i / 5)
        pts[152, 1] += 6.0 * abs(np.sin(i / 3))
        out.append(Face(pts, 0.9, grace_face.image_size))
    return out


def _signal(n):
    t = np.arange(n) / SR
    x = (0.25 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    x[int(0.7 * SR): int(0.7 * SR) + 96] = 0.9  # a click at 0.7 s
    return x


def test_round_trip_of_a_recorded_performance(tmp_path, grace_face):
    fps, n = 25, 50
    faces = _faces(grace_face, n)
    path = tmp_path / "take.performance"
    rec = PerformanceRecorder(path, t0=100.0, fps=fps, audio=AudioFormat(SR, 1))
    rec.add_neutral(faces[0], 99.0)
    signal = _signal(2 * SR)
    times = [100.0 + i / fps + 0.002 for i in range(n)]
    for i, (t, face) in enumerate(zip(times, faces)):
        rec.add_face(None if i in (10, 11) else face, t)
        if i == 20:  # the user calibrates between two camera frames
            rec.add_neutral(faces[5], t + 0.01)
    rec.add_neutral(faces[6], 103.0)  # after the last face: changes nothing
    for k in range(0, len(signal), 1024):
        rec.add_audio(signal[k:k + 1024, None], 100.0 + k / SR)
    assert rec.finish(t_end=102.0) == path
    assert [p.name for p in tmp_path.iterdir()] == ["take.performance"]  # the log is gone
    assert is_performance_file(path)

    perf = read_performance(path)
    assert perf.fps == 25 and perf.frame_count == n and perf.seconds == pytest.approx(2.0)
    assert perf.image_size == grace_face.image_size
    assert [bool(p) for p in perf.present] == [i not in (10, 11) for i in range(n)]
    precision = 0.5 / landmark_scale(grace_face.image_size) + 1e-4
    for i in range(n):
        if i in (10, 11):
            assert perf.face(i) is None and np.isnan(perf.times[i])
        else:
            assert np.abs(perf.face(i).landmarks - faces[i].landmarks).max() <= precision
            assert perf.times[i] == pytest.approx(times[i] - 100.0)
    assert [k for k, _ in perf.neutrals] == [0, 21]  # before the first face after each
    assert np.abs(perf.neutrals[0][1] - faces[0].landmarks).max() <= precision
    assert np.abs(perf.neutrals[1][1] - faces[5].landmarks).max() <= precision

    audio = perf.audio
    assert audio is not None and audio.format == AudioFormat(SR, 1)
    assert len(audio.samples) == 2 * SR  # exactly the performance's length
    x, y = signal, audio.samples[:, 0]
    snr = 10 * np.log10(np.sum(x ** 2) / np.sum((x - y) ** 2))
    assert snr > 20  # Opus at 48 kbit/s
    assert abs(int(np.argmax(y > 0.6)) - int(0.7 * SR)) < 48  # the click within 1 ms

    frames = list(perf.frames())
    assert [f[0] for f in frames] == list(range(n))
    assert [f[0] for f in frames if f[3] is not None] == [0, 21]
    assert frames[10][2] is None and frames[11][1] == pytest.approx(11 / fps)


def test_the_file_is_small(tmp_path, grace_face):
    """A minute of a talking face (with a tracker's jitter) and sound: a few megabytes,
    a tenth of the video's size."""
    fps, n = 30, 1800
    faces = _faces(grace_face, n)
    rng = np.random.default_rng(1)
    landmarks = np.stack([f.landmarks for f in faces])
    landmarks += rng.normal(0, 0.3, landmarks.shape).astype(np.float32)  # tracker jitter
    t = np.arange(60 * SR) / SR
    voice = (0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)))
    perf = Performance(fps=Fraction(fps),
                       image_size=grace_face.image_size, landmarks=landmarks,
                       present=np.ones(n, bool), confidence=np.full(n, 0.9, np.float32),
                       times=np.arange(n) / fps,
                       audio=AudioTrack(voice.astype(np.float32)[:, None], AudioFormat(SR, 1)))
    path = write_performance(tmp_path / "minute.performance", perf)
    size = path.stat().st_size
    assert size < 3_000_000, size
    back = read_performance(path)
    assert back.frame_count == n and np.abs(back.landmarks - landmarks).max() < 0.05


def test_files_written_with_lzma_still_read(tmp_path, grace_face):
    """Files from before the landmarks were bzip2-compressed (LZMA then) read the same."""
    faces = _faces(grace_face, 40)
    new = tmp_path / "new.performance"
    rec = PerformanceRecorder(new, t0=0.0, fps=25)
    for i, face in enumerate(faces):
        rec.add_face(face, i / 25)
    rec.finish(40 / 25)
    old = tmp_path / "old.performance"
    with zipfile.ZipFile(new) as z_in, zipfile.ZipFile(old, "w") as z_out:
        for item in z_in.infolist():
            kind = zipfile.ZIP_LZMA if item.filename == "landmarks.npy" else item.compress_type
            z_out.writestr(item.filename, z_in.read(item.filename), compress_type=kind)
    with zipfile.ZipFile(old) as z:
        assert z.getinfo("landmarks.npy").compress_type == zipfile.ZIP_LZMA
    a, b = read_performance(new), read_performance(old)
    assert b.frame_count == 40 and np.array_equal(a.landmarks, b.landmarks)


def test_finishing_a_long_log_reads_it_bit_by_bit(tmp_path, grace_face):
    """Finishing a recording's log does not hold it in memory (an hour of landmarks is
    620 MB as float32, its sound as much again; before, two minutes took 164 MB at the
    peak, five times the log): here under half of the log's size."""
    import tracemalloc

    n, fps = 3600, 30  # two minutes
    rng = np.random.default_rng(3)
    base = grace_face.landmarks.astype(np.float32)
    rec = PerformanceRecorder(tmp_path / "long.performance", t0=0.0, fps=fps,
                              audio=AudioFormat(SR, 1))
    for i in range(n):
        pts = base + rng.normal(0, 0.3, base.shape).astype(np.float32)
        rec.add_face(Face(pts, 0.9, grace_face.image_size), i / fps)
        if i % fps == 0:
            rec.add_audio(np.full((SR, 1), 0.1, np.float32), i / fps)
    rec._close_log(n / fps)
    size = rec.part.stat().st_size
    tracemalloc.start()
    try:
        path = finish_log(rec.part, rec.path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 30_000_000 and peak < size / 2, (size, peak)
    perf = read_performance(path)
    assert perf.frame_count == n and perf.present.all()
    assert np.abs(perf.landmarks[-1] - pts).max() < 0.05
    assert perf.audio is not None and len(perf.audio.samples) == 120 * SR


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_damaged_and_foreign_files_are_refused_clearly(tmp_path, grace_face):
    good = tmp_path / "good.performance"
    rec = PerformanceRecorder(good, t0=0.0, fps=25)
    for i in range(10):
        rec.add_face(grace_face, i / 25)
    rec.finish(0.4)

    cut = tmp_path / "cut.performance"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    noise = tmp_path / "noise.performance"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    foreign = _zip(tmp_path / "foreign.performance", {"readme.txt": "hello"})
    other = _zip(tmp_path / "other.performance",
                 {"performance.json": json.dumps({"format": "something-else"})})
    newer = tmp_path / "newer.performance"
    with zipfile.ZipFile(good) as z_in, zipfile.ZipFile(newer, "w") as z_out:
        for item in z_in.infolist():
            data = z_in.read(item.filename)
            if item.filename == "performance.json":
                head = json.loads(data)
                head["version"] = 99
                data = json.dumps(head).encode()
            z_out.writestr(item.filename, data)
    missing = tmp_path / "missing.performance"
    with zipfile.ZipFile(good) as z_in, zipfile.ZipFile(missing, "w") as z_out:
        for item in z_in.infolist():
            if item.filename != "landmarks.npy":
                z_out.writestr(item.filename, z_in.read(item.filename))

    cases = {cut: "is damaged", noise: "is damaged", foreign: "not a Puppet performance",
             other: "not a Puppet performance", newer: "newer Puppet",
             missing: "landmarks.npy is missing", tmp_path / "none.performance": "not found",
             tmp_path: "is a folder"}
    for path, words in cases.items():
        with pytest.raises(PuppetError) as err:
            read_performance(path)
        assert words in err.value.message, (path.name, err.value.message)
        assert str(path) in err.value.message
    assert read_performance(good).frame_count == 10


def test_a_performance_with_no_face_is_not_written(tmp_path):
    rec = PerformanceRecorder(tmp_path / "empty.performance", t0=0.0, fps=25)
    for i in range(5):
        rec.add_face(None, i / 25)
    assert rec.finish(0.2) is None
    assert list(tmp_path.iterdir()) == []


def test_videos_are_not_taken_for_performances(tmp_path):
    from conftest import write_clip

    clip = write_clip(tmp_path / "c.mp4", [np.zeros((32, 32, 3), np.uint8)] * 3, 10)
    assert not is_performance_file(clip)
    assert is_performance_file(tmp_path / "anything.performance")


def test_sound_at_another_rate_and_in_stereo(tmp_path, grace_face):
    """A 44.1 kHz stereo microphone: Opus stores it at 48 kHz, the length is kept."""
    sr = 44100
    t = np.arange(sr) / sr
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, 0.5 * left], axis=1).astype(np.float32)
    perf = Performance(fps=Fraction(10), image_size=grace_face.image_size,
                       landmarks=np.repeat(grace_face.landmarks[None], 10, axis=0),
                       present=np.ones(10, bool), confidence=np.ones(10, np.float32),
                       times=np.arange(10) / 10.0, audio=AudioTrack(stereo, AudioFormat(sr, 2)))
    back = read_performance(write_performance(tmp_path / "s.performance", perf))
    assert back.audio.format == AudioFormat(48000, 2)
    assert abs(len(back.audio.samples) - 48000) <= 48
    peak = np.abs(back.audio.samples[4800:-4800]).max(axis=0)
    assert abs(peak[0] - 0.3) < 0.05 and abs(peak[1] - 0.15) < 0.05
