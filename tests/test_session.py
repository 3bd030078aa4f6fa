"""LiveOutputs: the outputs wired to a real live engine (tracking and the generator on a
video played like a camera)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from test_live import PORTRAIT, engine_threads, wait_for

from puppet.errors import PuppetError
from puppet.live import LiveEngine
from puppet.outputs.recorder import RecorderSettings
from puppet.session import TEST_AUDIO_ENV, LiveOutputs, recording_audio, recording_target
from puppet.sources.audio import GeneratedAudio
from puppet.sources.live import SourceSpec
from puppet.sources.performance import read_performance


@pytest.fixture()
def engine(driving_clip):
    before = engine_threads()
    eng = LiveEngine(size=400, device="cpu")
    eng.set_portrait(PORTRAIT, wait=True)
    eng.set_source(SourceSpec("video", path=str(driving_clip[0]), loop=True), wait=True)
    yield eng
    eng.stop()
    assert engine_threads() <= before


def test_outputs_carry_the_drivers_neutral(engine):
    outputs = []
    engine.add_listener(outputs.append)
    engine.start()
    assert wait_for(lambda: sum(o.face is not None for o in outputs) >= 5)
    first = next(o for o in outputs if o.face is not None)
    assert first.neutral is first.face  # the first face seen is the neutral one
    assert all(o.neutral is first.neutral for o in outputs if o.face is not None)
    engine.calibrate()
    assert wait_for(lambda: outputs[-1].neutral is not first.neutral)
    taken = outputs[-1].neutral
    assert any(o.face is taken for o in outputs)  # a face the driver really showed


def test_a_recording_gets_the_frames_the_faces_and_every_calibration(engine, tmp_path):
    live = LiveOutputs(engine)
    engine.start()
    assert wait_for(lambda: engine.stats().frames_shown >= 5)  # a neutral was taken already
    status = live.start_recording(tmp_path, RecorderSettings(fps=25), audio=None)
    assert status.recording and status.note.startswith("Video only")
    assert live.recording
    time.sleep(1.0)
    engine.calibrate()
    time.sleep(1.0)
    result = live.stop_recording()
    assert not live.recording and result.error == ""
    assert result.video.exists() and result.performance.exists()
    assert 1.9 < result.seconds < 4
    perf = read_performance(result.performance)
    assert perf.frame_count == result.frames
    assert perf.present.mean() > 0.9
    # the neutral in force at the start, then the calibration about a second in
    frames = [f for f, _ in perf.neutrals]
    assert len(frames) == 2 and frames[0] <= 3 and 15 < frames[1] < 40
    assert not np.allclose(perf.neutrals[0][1], perf.neutrals[1][1])
    with pytest.raises(PuppetError, match="No recording is running"):
        live.stop_recording()
    # the sink and the listener are gone: nothing is kept for a recording any more
    assert not [s for s in engine._sinks if s.name == "recording"]


def test_stream_and_virtual_camera_are_sinks_that_come_and_go(engine):
    import urllib.request

    from puppet.outputs.stream import StreamSettings
    from puppet.outputs.virtual_camera import VirtualCameraSettings

    live = LiveOutputs(engine)
    engine.start()
    url = live.start_stream(StreamSettings(port=0))
    assert url.startswith("http://127.0.0.1:")
    assert wait_for(lambda: engine.stats().frames_shown >= 3)
    assert wait_for(lambda: _snapshot(urllib.request, url) is not None, timeout=10)
    try:
        live.start_virtual_camera(VirtualCameraSettings(width=320, height=240))
    except PuppetError as exc:  # as on every machine without v4l2loopback or OBS
        assert "No virtual camera is available" in exc.message
        assert live.camera is None
    else:  # pragma: no cover - a machine with a virtual camera device
        assert live.virtual_camera_status().state == "on"
    live.close()
    assert live.stream is None and live.camera is None
    assert engine._sinks == []


def _snapshot(request, url):
    try:
        return request.urlopen(url + "snapshot.jpg", timeout=5).read()
    except OSError:
        return None


def test_sound_for_tests_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(TEST_AUDIO_ENV, raising=False)
    assert recording_audio() == "microphone"
    monkeypatch.setenv(TEST_AUDIO_ENV, "tone:300")
    assert isinstance(recording_audio(), GeneratedAudio)
    monkeypatch.setenv(TEST_AUDIO_ENV, "none")
    assert recording_audio() is None
    monkeypatch.setenv(TEST_AUDIO_ENV, "bells")
    with pytest.raises(PuppetError, match="is not a sound"):
        recording_audio()


def test_record_targets(tmp_path):
    assert recording_target(tmp_path) == (tmp_path, None)
    assert recording_target(tmp_path / "take.mp4") == (tmp_path, "take")
    assert recording_target(tmp_path / "new-folder") == (tmp_path / "new-folder", None)
    for bad, words in ((tmp_path / "take.mov", "MP4"),
                       (tmp_path / "missing" / "take.mp4", "does not exist")):
        with pytest.raises(PuppetError, match=words):
            recording_target(bad)
    (tmp_path / "take.performance").write_text("x")
    with pytest.raises(PuppetError, match="already exists"):
        recording_target(tmp_path / "take.mp4")


def _mouth_motion(settings) -> float:
    """How much the portrait's lips move while the demo performance talks, live."""
    from puppet.tracking import landmarks as lm

    eng = LiveEngine(size=320, device="cpu", settings=settings)
    try:
        eng.set_portrait(PORTRAIT, wait=True)
        eng.set_source(SourceSpec("performance"), wait=True)
        frames = []
        eng.add_listener(lambda o: frames.append(o.frame) if o.driver is not None else None)
        eng.start()
        assert wait_for(lambda: len(frames) >= 60, timeout=60)
        lips = eng.portrait.face.landmarks[lm.LIPS, :2]
        (x0, y0), (x1, y1) = lips.min(axis=0).astype(int) - 4, lips.max(axis=0).astype(int) + 4
        still = eng.portrait.image[y0:y1, x0:x1].astype(np.float32)
        return float(np.mean([np.abs(f[y0:y1, x0:x1] - still).mean() for f in frames]))
    finally:
        eng.stop()


def test_live_applies_the_per_feature_gains():
    from puppet.motion.retarget import RetargetSettings

    quiet = _mouth_motion(RetargetSettings(mouth=0.0, head=0.0))
    loud = _mouth_motion(RetargetSettings(mouth=2.0, head=0.0))
    assert loud > 2 * quiet and loud > 1.0


def test_a_recording_of_a_given_name_never_replaces_a_file(tmp_path):
    from puppet.outputs.recorder import Recorder

    rec = Recorder(tmp_path, RecorderSettings(fps=10), audio=None, name="take")
    rec.start(at=0.0)
    with pytest.raises(PuppetError, match="still running"):  # the same name, meanwhile
        Recorder(tmp_path, audio=None, name="take").start(at=0.0)
    rec.add_frame(np.zeros((32, 32, 3), np.uint8), 0.0)
    assert rec.stop(at=0.5).video == tmp_path / "take.mp4"
    with pytest.raises(PuppetError, match="already exists"):
        Recorder(tmp_path, audio=None, name="take").start(at=0.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.mp4"]


def test_a_video_played_as_the_camera_records_its_own_sound(tmp_path, driving_clip,
                                                             monkeypatch):
    """Someone driving the portrait with a clip of themselves: the recording has the
    clip's voice, in step with the clip as it plays (and loops), not the microphone."""
    from conftest import clip_frames, spoken, write_clip

    from puppet.sources.live import video_sound
    from puppet.sources.video import read_sound

    monkeypatch.delenv(TEST_AUDIO_ENV, raising=False)
    clip, fps, _ = driving_clip
    frames = clip_frames(clip)
    sr = 48000
    pass_s = len(frames) / fps
    voice = spoken(pass_s, [(0.3, 0.4), (0.9, 1.0)], level=0.4, sr=sr)  # two words a pass
    talking = write_clip(tmp_path / "talking.mp4", frames, fps, sound=(voice, sr, 0.0))

    eng = LiveEngine(size=400, device="cpu")
    try:
        eng.set_portrait(PORTRAIT, wait=True)
        eng.set_source(SourceSpec("video", path=str(talking), loop=True), wait=True)
        live = LiveOutputs(eng)
        eng.start()
        assert wait_for(lambda: eng.stats().frames_shown >= 3)
        status = live.start_recording(tmp_path / "takes", RecorderSettings(fps=25))
        assert status.sound and status.note == ""
        player, t0 = eng.source, live.recorder._t0
        time.sleep(2.6)  # through the end of a pass: the sound loops with the picture
        result = live.stop_recording()
        sound = video_sound(player)
        in_a_word = player.clock_start + np.arange(0.32, 0.38, 1 / sr)
        assert np.abs(sound.signal(in_a_word)).max() > 0.3
    finally:
        eng.stop()
    # a source that was closed (changed mid-recording) takes its sound with it
    assert not np.any(sound.signal(in_a_word))
    assert result.error == "" and result.sound
    track, _ = read_sound(result.video)
    rate = track.format.samplerate
    loud = np.flatnonzero(np.abs(track.samples[:, 0]) > 0.2) / rate
    onsets = loud[np.r_[True, np.diff(loud) > 0.05]]  # a word starts after 50 ms of quiet
    # where the clip's words were heard: its start, plus a pass for each loop
    expected = [player.clock_start + k * pass_s + w - t0
                for k in range(4) for w in (0.3, 0.9)]
    expected = [e for e in expected if 0.05 < e < result.seconds - 0.15]
    assert len(expected) >= 3
    for e in expected:
        assert np.abs(onsets - e).min() < 0.03, (e, onsets)
    assert abs(len(onsets) - len(expected)) <= 1  # no other sound (a word cut at an end)
