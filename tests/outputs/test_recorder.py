"""The live recorder: H.264 + AAC in sync at a constant rate, video only without a
microphone, and nothing lost when the recording process is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import av
import numpy as np
import pytest
from conftest import REPO

from puppet.errors import PuppetError
from puppet.outputs.recorder import Recorder, RecorderSettings, recover_recordings
from puppet.sources.audio import GeneratedAudio, clicks
from puppet.sources.performance import read_performance
from puppet.timeline import CLOCK, AudioFormat


def probe(path):
    """{kind: (codec, seconds from the stream header, rate)} and the container length."""
    out = {}
    with av.open(str(path)) as c:
        for s in c.streams:
            rate = float(s.average_rate) if s.type == "video" else s.rate
            out[s.type] = (s.codec_context.name, float(s.duration * s.time_base), rate)
        length = c.duration / 1_000_000
    return out, length


def video_levels(path):
    with av.open(str(path)) as c:
        return [float(f.to_ndarray(format="gray").mean()) for f in c.decode(video=0)]


def audio_samples(path):
    with av.open(str(path)) as c:
        blocks = [f.to_ndarray()[0] for f in c.decode(audio=0)]
    return np.concatenate(blocks)


def test_records_h264_and_aac_in_sync_from_capture_times(tmp_path):
    """Real time: a generated video and clicks at known times; the flash frames and the
    clicks land where their capture times say, the durations agree."""
    fps, sr = 25, 48000
    base = CLOCK() + 0.5
    marks = [base + 0.8, base + 1.6, base + 2.4]
    source = GeneratedAudio(clicks(marks), AudioFormat(sr, 1), block=0.02)
    rec = Recorder(tmp_path, RecorderSettings(fps=fps, performance=False), audio=source)
    status = rec.start()
    assert status.recording and status.sound and status.note == ""
    t0 = rec.t0
    first_flash = {}
    i = 0
    while CLOCK() - t0 < 3.5:
        ts = CLOCK()
        lit = [m for m in marks if m <= ts < m + 3 / fps]
        frame = np.full((120, 160, 3), 230 if lit else 40, np.uint8)
        frame[:8, : (i % 160)] = 128  # every frame differs a little
        rec.add_frame(frame, ts)
        for m in lit:
            first_flash.setdefault(m, ts)
        i += 1
        time.sleep(max(0.0, ts + 1 / fps - CLOCK()))
    assert 0.5 < rec.status().elapsed < 5
    result = rec.stop()
    assert result.error == "" and result.sound and result.video.exists()
    assert result.video.suffix == ".mp4" and result.video.name.startswith("puppet-")
    assert [p.name for p in tmp_path.iterdir()] == [result.video.name]  # no part left

    streams, length = probe(result.video)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    assert streams["video"][2] == pytest.approx(fps)
    video_s, audio_s = streams["video"][1], streams["audio"][1]
    assert abs(video_s - audio_s) < 0.1
    assert abs(video_s - result.seconds) < 0.1 and abs(audio_s - result.seconds) < 0.1
    levels = video_levels(result.video)
    assert len(levels) == result.frames == round(result.seconds * fps)

    samples = audio_samples(result.video)
    assert abs(len(samples) / sr - result.seconds) < 0.1
    for m in marks:
        # the click is where its capture time puts it (AAC smears a millisecond or two)
        lo, hi = int((m - t0 - 0.1) * sr), int((m - t0 + 0.1) * sr)
        onset = lo + int(np.argmax(np.abs(samples[lo:hi]) > 0.3))
        assert abs(onset / sr - (m - t0)) < 0.004
        # the first bright frame is the slot of the first bright capture
        k = round((first_flash[m] - t0) * fps)
        assert levels[k] > 180 and levels[k - 1] < 100
        assert abs(k / fps - onset / sr) < 1.5 / fps


def test_constant_rate_repeats_and_drops_frames_by_their_times(tmp_path):
    """Frames arrive in a burst and after a stall; the file holds one frame per slot."""
    rec = Recorder(tmp_path, RecorderSettings(fps=10, performance=False), audio=None)
    assert rec.start(at=0.0).note == "Video only: sound recording is switched off."
    arrivals = [(0.00, 10), (0.04, 20), (0.10, 30), (0.21, 40), (0.62, 50), (0.69, 60)]
    for t, level in arrivals:
        rec.add_frame(np.full((64, 64, 3), level, np.uint8), t)
    result = rec.stop(at=1.0)
    levels = [round(v / 10) * 10 for v in video_levels(result.video)]
    # slot k shows the newest frame captured before (k + 0.5) / 10 s
    assert levels == [20, 30, 40, 40, 40, 40, 50, 60, 60, 60]
    streams, _ = probe(result.video)
    assert "audio" not in streams and streams["video"][1] == pytest.approx(1.0)


def test_sound_gaps_and_late_start_keep_the_timeline(tmp_path):
    """A stalled source leaves silence, not a shift: sound after the gap stays in place."""
    sr = 48000
    rec = Recorder(tmp_path, RecorderSettings(fps=25, performance=False),
                   audio=AudioFormat(sr, 1))
    rec.start(at=10.0)
    for i in range(50):
        rec.add_frame(np.zeros((32, 32, 3), np.uint8), 10.0 + i / 25)
    block = np.full((960, 1), 0.5, np.float32)
    for k in range(0, sr // 2, 960):  # the first half second, then nothing for one second
        rec.add_audio(block * 0.0, 10.0 + k / sr)
    for k in range(0, sr // 2, 960):  # loud from 1.5 s on
        rec.add_audio(block, 11.5 + k / sr)
    result = rec.stop(at=12.0)
    samples = audio_samples(result.video)
    onset = int(np.argmax(np.abs(samples) > 0.25))
    assert abs(onset / sr - 1.5) < 0.01
    assert abs(len(samples) / sr - 2.0) < 0.05


def test_no_microphone_records_video_only_and_says_so(tmp_path):
    rec = Recorder(tmp_path, RecorderSettings(fps=25, performance=False))  # the default device
    status = rec.start()
    try:
        import sounddevice as sd

        has_mic = any(d["max_input_channels"] > 0 for d in sd.query_devices())
    except (OSError, ImportError):
        has_mic = False
    if has_mic:  # pragma: no cover - not on the machines the tests run on
        pytest.skip("this machine has a microphone")
    assert not status.sound
    assert status.note.startswith("Video only: no microphone")
    assert status.message == f"Recording 0:00. {status.note}"
    for i in range(10):
        rec.add_frame(np.full((48, 64, 3), 20 * i, np.uint8), CLOCK())
        time.sleep(0.02)
    result = rec.stop()
    assert not result.sound and result.note == status.note
    streams, _ = probe(result.video)
    assert set(streams) == {"video"}


def test_a_recording_stopped_before_its_first_frame_leaves_no_file(tmp_path, grace_face):
    """Its performance file was kept, beside no video."""
    rec = Recorder(tmp_path, RecorderSettings(fps=25), audio=None)
    rec.start()
    rec.add_neutral(grace_face, CLOCK())
    rec.add_face(grace_face, CLOCK())
    result = rec.stop()
    assert result.video is None and result.frames == 0 and result.performance is None
    assert "no frame arrived" in result.error
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_hold_recordings_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PuppetError) as err:
        Recorder(blocker, audio=None).start()
    assert "not a folder" in err.value.message
    rec = Recorder(tmp_path / "new" / "folder", audio=None)  # created when missing
    rec.start(at=0.0)
    rec.add_frame(np.zeros((32, 32, 3), np.uint8), 0.0)
    assert rec.stop(at=0.2).video.parent == tmp_path / "new" / "folder"


def test_frames_of_another_size_are_letterboxed(tmp_path):
    rec = Recorder(tmp_path, RecorderSettings(fps=10, performance=False), audio=None)
    rec.start(at=0.0)
    rec.add_frame(np.full((60, 80, 3), 100, np.uint8), 0.0)
    rec.add_frame(np.full((80, 80, 3), 200, np.uint8), 0.1)  # the portrait was changed
    result = rec.stop(at=0.2)
    with av.open(str(result.video)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert [f.shape for f in frames] == [(60, 80, 3), (60, 80, 3)]
    assert frames[1][30, 40].mean() > 180 and frames[1][30, 2].mean() < 20  # bars at the sides


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from puppet.outputs.recorder import Recorder, RecorderSettings
    from puppet.sources.audio import GeneratedAudio, tone
    from puppet.timeline import CLOCK, AudioFormat
    from puppet.tracking.face import Face

    folder, landmarks = sys.argv[1], np.load(sys.argv[2])
    rec = Recorder(folder, RecorderSettings(fps=25),
                   audio=GeneratedAudio(tone(440.0), AudioFormat(48000, 1)))
    rec.start()
    rec.add_neutral(Face(landmarks, 0.9, (400, 400)))
    i = 0
    while True:
        t = CLOCK()
        rec.add_frame(np.full((96, 128, 3), (i * 9) % 256, np.uint8), t)
        moved = landmarks + np.array([3.0 * np.sin(i / 4), 0.0, 0.0], np.float32)
        rec.add_face(Face(moved, 0.9, (400, 400)) if i % 10 else None, t)
        i += 1
        if i % 5 == 0:
            print("elapsed", rec.status().elapsed, flush=True)
        time.sleep(max(0.0, t + 0.04 - CLOCK()))
""")


def test_a_killed_recording_is_recovered(tmp_path, grace_face):
    folder = tmp_path / "recordings"
    np.save(tmp_path / "face.npy", grace_face.landmarks - np.array([56, 60, 0], np.float32))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(tmp_path / "face.npy")],
                             stdout=subprocess.PIPE, text=True, env=env)
    elapsed = 0.0
    try:
        deadline = time.monotonic() + 120
        while elapsed < 3.0 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            elapsed = float(line.split()[1])
        assert elapsed >= 3.0, "the recording process did not run"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and all(n.startswith(".") and n.endswith(".part") for n in names)

    recovered = {r.path.suffix: r for r in recover_recordings(folder)}
    assert set(recovered) == {".mp4", ".performance"}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        r.path.name for r in recovered.values())  # the part files are gone
    mp4 = recovered[".mp4"]
    assert mp4.seconds >= elapsed - 1.0 and "Recovered" in mp4.message
    streams, _ = probe(mp4.path)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    assert abs(streams["video"][1] - mp4.seconds) < 0.05
    assert abs(streams["audio"][1] - streams["video"][1]) < 0.6
    levels = video_levels(mp4.path)
    assert len(levels) == round(mp4.seconds * 25)
    tone_part = audio_samples(mp4.path)[4800:9600]
    assert 0.1 < np.abs(tone_part).max() < 0.3  # the 0.2 tone, not silence

    perf = read_performance(recovered[".performance"].path)
    assert perf.fps == 25 and perf.seconds >= elapsed - 1.0
    assert 0.7 < perf.present.mean() < 0.98  # every tenth driver frame had no face
    assert perf.neutrals and perf.neutrals[0][0] == 0
    assert perf.audio is not None and abs(perf.audio.seconds - perf.seconds) < 0.05
    assert recover_recordings(folder) == []  # nothing left to do


def test_recovery_leaves_a_running_recording_alone(tmp_path):
    rec = Recorder(tmp_path, RecorderSettings(fps=10), audio=None)
    rec.start(at=0.0)
    rec.add_frame(np.zeros((32, 32, 3), np.uint8), 0.0)
    parts = sorted(p.name for p in tmp_path.iterdir())
    assert recover_recordings(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == parts
    result = rec.stop(at=0.5)
    assert result.video.exists() and result.performance is None  # no face was given
    assert [p.name for p in tmp_path.iterdir()] == [result.video.name]


def test_puppet_recover_on_the_command_line(tmp_path):
    from test_render_cli import run_puppet

    result = run_puppet("recover", tmp_path)
    assert result.returncode == 0 and "Nothing to recover" in result.stdout
    result = run_puppet("recover", tmp_path / "missing")
    assert result.returncode == 2 and "does not exist" in result.stderr
    # with no folder given, on a machine that never recorded: nothing to recover, no error
    import os
    import subprocess
    import sys

    from conftest import REPO

    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(home))
    result = subprocess.run([sys.executable, "-m", "puppet", "recover"], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"Nothing to recover: {home / 'Puppet'}" in result.stdout
    assert list(home.iterdir()) == []  # nor is the folder made


def test_an_app_that_quits_mid_recording_leaves_a_finished_file(tmp_path):
    """The process ends normally without stopping the recording: the files are finished
    on the way out (a crash or a kill is left to recovery, above)."""
    script = textwrap.dedent("""
        import sys, time
        import numpy as np
        from puppet.outputs.recorder import Recorder, RecorderSettings
        from puppet.timeline import CLOCK

        rec = Recorder(sys.argv[1], RecorderSettings(fps=20), audio=None)
        rec.start()
        for i in range(30):
            rec.add_frame(np.full((64, 64, 3), 8 * i, np.uint8), CLOCK())
            time.sleep(0.05)
        sys.exit(0)  # no rec.stop()
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".mp4"  # no part file, no performance
    streams, _ = probe(files[0])
    assert streams["video"][0] == "h264" and 1.2 < streams["video"][1] < 2.5


def test_a_microphone_that_stops_does_not_hold_the_picture_back(tmp_path):
    """Sound stops coming after half a second: the picture still reaches the disk as it
    goes (silence is filled in), so a crash would not lose it."""
    from puppet.sources.audio import GeneratedAudio, tone

    source = GeneratedAudio(tone(300.0), AudioFormat(48000, 1), block=0.02)
    rec = Recorder(tmp_path, RecorderSettings(fps=25, performance=False), audio=source)
    rec.start()
    t0 = rec.t0
    stopped = False
    while CLOCK() - t0 < 3.0:
        if not stopped and CLOCK() - t0 > 0.5:
            source.stop()  # the microphone goes silent (unplugged, or its driver hangs)
            stopped = True
        ts = CLOCK()
        rec.add_frame(np.full((64, 64, 3), 100, np.uint8), ts)
        time.sleep(max(0.0, ts + 0.04 - CLOCK()))
    part = next(tmp_path.glob(".*.mp4.part"))
    with av.open(str(part)) as c:  # what a crash now would leave
        on_disk = sum(1 for p in c.demux(c.streams.video[0]) if p.dts is not None)
    result = rec.stop()
    assert on_disk >= (3.0 - 1.5) * 25
    streams, _ = probe(result.video)
    assert abs(streams["audio"][1] - streams["video"][1]) < 0.1
    samples = audio_samples(result.video)
    assert np.abs(samples[4800:19200]).max() > 0.1 and np.abs(samples[-24000:]).max() < 0.01
