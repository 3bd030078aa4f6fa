"""``puppet render`` end to end, through the real command line."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest
from conftest import REPO

LIP_GAP = (13, 14)


def run_puppet(*args, cwd=None, timeout=300):
    """Run ``python -m puppet ARGS`` on the working tree, as a user would."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "puppet", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or REPO, env=env,
                          timeout=timeout)


def read_video(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        rate = float(s.average_rate)
        codec = s.codec_context.name
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(s)]
    return frames, rate, codec


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def mouth_gaps(frames):
    from puppet.tracking.mediapipe_tracker import FaceTracker

    gaps = []
    with FaceTracker(video=True) as tracker:
        for f in frames:
            face = tracker.track(f)
            if face is None:
                gaps.append(None)
                continue
            a, b = face.landmarks[LIP_GAP[0], :2], face.landmarks[LIP_GAP[1], :2]
            gaps.append(float(np.linalg.norm(a - b)) / face.eye_distance)
    return gaps


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, driving_clip, builtin_portrait_path):
    clip, fps, mouth = driving_clip
    out = tmp_path_factory.mktemp("render") / "out.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    return out, result, clip, fps, mouth


def test_one_output_frame_per_driving_frame_at_its_rate(rendered):
    out, result, clip, fps, mouth = rendered
    frames, rate, codec = read_video(out)
    assert codec == "h264"
    assert len(frames) == len(mouth) == 36
    assert rate == pytest.approx(fps)
    h, w = frames[0].shape[:2]
    assert h % 2 == 0 and w % 2 == 0 and max(h, w) <= 1280
    assert "CPU" in result.stderr and "fps" in result.stderr.splitlines()[-1]
    # MediaPipe's native start-up chatter stays off the terminal
    assert "W0000" not in result.stderr and "XNNPACK" not in result.stderr


def test_frame_zero_is_the_portrait(rendered, builtin_portrait_path):
    out, *_ = rendered
    frames, _, _ = read_video(out)
    portrait = cv2.imread(str(builtin_portrait_path))
    portrait = cv2.resize(portrait, (frames[0].shape[1], frames[0].shape[0]),
                          interpolation=cv2.INTER_AREA)
    assert psnr(frames[0], portrait) > 35


def test_the_output_is_a_face_that_opens_its_mouth_with_the_driver(rendered):
    out, _, clip, _, mouth = rendered
    frames, _, _ = read_video(out)
    gaps = mouth_gaps(frames)
    assert sum(g is not None for g in gaps) >= 0.95 * len(gaps)
    open_ = [g for g, m in zip(gaps, mouth) if g is not None and m > 0.25]
    shut = [g for g, m in zip(gaps, mouth) if g is not None and m == 0.0]
    assert len(open_) >= 6 and len(shut) >= 6
    assert np.mean(open_) > np.mean(shut) + 0.08
    paired = [(g, m) for g, m in zip(gaps, mouth) if g is not None]
    corr = np.corrcoef([g for g, _ in paired], [m for _, m in paired])[0, 1]
    assert corr > 0.7


def test_the_portrait_moves_with_the_head(rendered):
    """The driver tilts its head by up to 8 degrees: the output's eye line tilts too."""
    out, *_ = rendered
    from puppet.tracking.mediapipe_tracker import FaceTracker

    frames, _, _ = read_video(out)
    rolls = []
    with FaceTracker(video=True) as tracker:
        for f in frames:
            face = tracker.track(f)
            rolls.append(face.pose.roll if face else np.nan)
    rolls = np.array(rolls) - rolls[0]
    expected = np.array([8.0 * math.sin(2 * math.pi * i / 35) for i in range(36)])
    ok = ~np.isnan(rolls)
    # image rotation by +a degrees (counter-clockwise) is a roll of -a in image coordinates
    assert np.corrcoef(rolls[ok], -expected[ok])[0, 1] > 0.8


def test_feature_gains_from_the_command_line(tmp_path, driving_clip, builtin_portrait_path):
    """--mouth 0 keeps the portrait's mouth shut while the driver talks."""
    clip, _, mouth = driving_clip
    out = tmp_path / "quiet.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                        "--output", out, "--device", "cpu", "--mouth", "0")
    assert result.returncode == 0, result.stderr
    frames, _, _ = read_video(out)
    gaps = [g for g, m in zip(mouth_gaps(frames), mouth) if g is not None and m > 0.25]
    assert len(gaps) >= 6 and max(gaps) < 0.05
    bad = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                     "--output", tmp_path / "x.mp4", "--eyes", "7")
    assert bad.returncode == 2 and "--eyes 7 is out of range" in bad.stderr
    # the range the help, the README and the window's sliders give (2.5 used to be taken)
    bad = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                     "--output", tmp_path / "x.mp4", "--head", "2.5")
    assert bad.returncode == 2 and "--head 2.5 is out of range" in bad.stderr
    assert "0 (none) to 2" in bad.stderr
    for bad_count in ("0", "-5"):  # rendered the whole clip
        bad = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                         "--output", tmp_path / "x.mp4", "--max-frames", bad_count)
        assert bad.returncode == 2 and "is not a number of frames" in bad.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_a_still_driver_gives_a_still_portrait(tmp_path, grace_photo, builtin_portrait_path):
    """No flicker: a driver that does not move leaves the portrait as it is."""
    from conftest import write_clip

    still = write_clip(tmp_path / "still.mp4", [grace_photo[60:460, 56:456]] * 24, 24)
    out = tmp_path / "still_out.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", still,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    frames, _, _ = read_video(out)
    assert len(frames) == 24
    # the tracker wobbles by about half a pixel on a still face: nothing of it shows (on
    # this photograph the face mesh never settles, its passes wander by 0.4 to 0.8 px, so
    # the median step is 0.2 to 0.3 grey levels, depending on where its wandering starts)
    steps = [np.abs(b.astype(int) - a).mean() for a, b in zip(frames, frames[1:])]
    assert max(steps) < 0.6 and np.median(steps) < 0.3
    assert max(np.abs(f.astype(int) - frames[0]).mean() for f in frames) < 2.0


def test_the_drivers_voice_goes_along(tmp_path, driving_clip, builtin_portrait_path):
    """A driving video with sound: the render has that sound, in place, cut where the
    render ends."""
    from conftest import clip_frames, spoken, write_clip

    from puppet.sources.video import read_sound

    clip, fps, mouth = driving_clip
    frames = clip_frames(clip)
    sr = 48000
    seconds = len(frames) / fps
    voice = spoken(seconds, [(0.4, 0.6), (1.0, 1.2)], sr=sr)  # two words
    talking = write_clip(tmp_path / "talking.mp4", frames, fps, sound=(voice, sr, 0.0))
    out = tmp_path / "out.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", talking,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "with sound" in result.stderr
    track, note = read_sound(out)
    assert note == "" and track is not None and track.format.samplerate == sr
    assert track.seconds == pytest.approx(seconds, abs=0.05)
    loud = np.abs(track.samples[:, 0]) > 0.1
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) / sr
    assert starts.min() == pytest.approx(0.4, abs=0.02)  # the first word where it was said
    assert ((starts > 0.9) & (starts < 1.1)).any()  # and the second

    # only the first 18 frames: the sound stops there too
    short = tmp_path / "short.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", talking,
                        "--output", short, "--device", "cpu", "--max-frames", 18)
    assert result.returncode == 0, result.stderr
    track, _ = read_sound(short)
    assert track.seconds == pytest.approx(18 / fps, abs=0.05)


def test_a_render_starts_part_way_into_the_clip_with_its_sound(tmp_path, driving_clip,
                                                                builtin_portrait_path):
    """--start: frame 0 is the clip's frame at that time, and the sound is cut there too,
    so the words stay where they were said; past the clip's end is a clear error."""
    from conftest import clip_frames, spoken, write_clip

    from puppet.sources.video import read_sound

    clip, fps, _ = driving_clip  # 36 frames at 24 fps
    frames = clip_frames(clip)
    sr = 48000
    voice = spoken(len(frames) / fps, [(0.4, 0.6), (1.0, 1.2)], sr=sr)
    talking = write_clip(tmp_path / "talking.mp4", frames, fps, sound=(voice, sr, 0.0))
    out = tmp_path / "out.mp4"
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", talking,
                   "--output", out, "--device", "cpu", "--start", "0.25")
    assert r.returncode == 0, r.stderr
    got, _, _ = read_video(out)
    assert len(got) == len(frames) - 6  # 0.25 s at 24 fps
    track, _ = read_sound(out)
    assert track.seconds == pytest.approx((len(frames) - 6) / fps, abs=0.05)
    loud = np.abs(track.samples[:, 0]) > 0.1
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) / sr
    assert starts.min() == pytest.approx(0.15, abs=0.02)  # each word 0.25 s earlier
    assert ((starts > 0.7) & (starts < 0.8)).any()
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", talking,
                   "--output", tmp_path / "x.mp4", "--device", "cpu", "--start", "9")
    assert r.returncode == 2 and "1.5 s long" in r.stderr and "nothing from 9 s on" in r.stderr


def test_a_sound_that_cannot_be_decoded_is_left_out_and_said(tmp_path, driving_clip,
                                                              builtin_portrait_path):
    from conftest import clip_frames

    clip, fps, _ = driving_clip
    frames = clip_frames(clip)[:12]
    talking = tmp_path / "garbled.mp4"
    with av.open(str(talking), "w") as c:  # a picture, and an AAC track of noise bytes
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        a = c.add_stream("aac", rate=44100)
        a.layout = "mono"
        for f in frames:
            for packet in v.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                c.mux(packet)
        for packet in v.encode():
            c.mux(packet)
        rng = np.random.default_rng(0)
        for k in range(20):
            packet = av.Packet(rng.integers(0, 255, 300, dtype=np.uint8).tobytes())
            packet.stream, packet.time_base = a, a.time_base
            packet.pts = packet.dts = k * 1024
            c.mux(packet)
    out = tmp_path / "out.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", talking,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "Without sound: the driving video's sound cannot be decoded" in result.stderr
    assert "with sound" not in result.stderr
    with av.open(str(out)) as c:
        assert not c.streams.audio and c.streams.video[0].frames == 12


def test_a_variable_frame_rate_clip_keeps_its_mouth_on_its_voice(tmp_path, driving_clip,
                                                                  builtin_portrait_path):
    """A phone's clip in dim light: its frames come 12 a second, then 24.  Each output
    frame keeps its driving frame's time, so the picture stays on the sound (spread at
    the average rate, frame 12 would show 0.33 s early)."""
    from conftest import clip_frames, spoken, write_clip

    from puppet.sources.video import VideoFile

    clip, fps, _ = driving_clip
    frames = clip_frames(clip)
    times = [i / 12 for i in range(12)] + [1 + i / 24 for i in range(len(frames) - 12)]
    sr = 48000
    voice = spoken(times[-1] + 0.1, [(1.0, 1.1)], sr=sr)
    vfr = write_clip(tmp_path / "vfr.mp4", frames, 24, times=times, sound=(voice, sr, 0.0))
    out = tmp_path / "out.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", vfr,
                        "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "with sound" in result.stderr
    with VideoFile(out) as video:
        got = [f.time for f in video.frames()]
    assert len(got) == len(times)
    assert got == pytest.approx(times, abs=2e-3)
    with av.open(str(out)) as c:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    onset = np.flatnonzero(np.abs(samples) > 0.1)[0] / sr
    assert onset == pytest.approx(1.0, abs=0.02)  # the word said with frame 12, heard there


def test_render_moves_the_chosen_face_of_a_group_portrait(tmp_path, driving_clip,
                                                         group_portrait):
    path, boxes = group_portrait
    out = tmp_path / "group.mp4"
    result = run_puppet("render", "--portrait", path, "--driving", driving_clip[0],
                        "--output", out, "--face", "3", "--size", "1800", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "The portrait shows 3 faces; face 3 from the left moved" in result.stderr
    frames, _, _ = read_video(out)
    assert frames[0].shape == (720, 1800, 3)

    def change(box):
        x0, y0, x1, y1 = box
        return max(float(np.abs(f[y0:y1, x0:x1].astype(int) - frames[0][y0:y1, x0:x1]).mean())
                   for f in frames)

    moved = [change(b) for b in boxes]
    assert moved[2] > 5.0, moved  # the right face talks and tilts its head ...
    assert moved[0] < 0.5 and moved[1] < 0.5, moved  # ... the others hold still (coding noise)
    # a face the portrait does not have: a clear error, and nothing written
    out2 = tmp_path / "none.mp4"
    result = run_puppet("render", "--portrait", path, "--driving", driving_clip[0],
                        "--output", out2, "--face", "4", "--device", "cpu")
    assert result.returncode != 0
    assert "shows 3 faces, so there is no face 4" in result.stderr
    assert "from 1 to 3" in result.stderr
    assert not out2.exists()
    result = run_puppet("render", "--portrait", path, "--driving", driving_clip[0],
                        "--output", out2, "--face", "0")
    assert result.returncode == 2 and "not a face number" in result.stderr


def test_another_persons_face_is_measured_from_its_own_neutral(tmp_path, two_people_clip,
                                                              builtin_portrait_path):
    """The person at the camera turns away while someone far behind is in view, then comes
    back: the tracker follows the other one meanwhile and takes the near one back.  Each
    new face becomes the neutral, so none of them (all holding still) moves the portrait;
    measured from the near one's neutral, the far one (half the size, elsewhere) would
    have shrunk and shifted it."""
    from conftest import TWO_PEOPLE_NEAR_AWAY

    out = tmp_path / "two.mp4"
    result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving",
                        two_people_clip, "--output", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    frames, _, _ = read_video(out)
    assert len(frames) == 70
    change = [np.abs(f.astype(int) - frames[0]).mean() for f in frames]
    away = TWO_PEOPLE_NEAR_AWAY
    assert max(change[away[0]:]) < 2.0, [round(c, 2) for c in change]


def test_a_folder_as_the_output_gets_a_new_file_named_after_the_inputs(tmp_path, driving_clip,
                                                                       builtin_portrait_path):
    clip = driving_clip[0]
    for _ in range(2):
        result = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                            "--output", tmp_path, "--device", "cpu", "--max-frames", "3")
        assert result.returncode == 0, result.stderr
    stem = f"{builtin_portrait_path.stem}_{clip.stem}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}-2.mp4", f"{stem}.mp4"]
    assert f"Wrote {tmp_path / (stem + '-2.mp4')}" in result.stderr
    assert len(read_video(tmp_path / f"{stem}-2.mp4")[0]) == 3


def test_an_output_ending_in_a_slash_is_a_folder_made_where_missing(tmp_path, driving_clip,
                                                                     builtin_portrait_path):
    clip = driving_clip[0]
    folder = tmp_path / "new ü"
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", f"{folder}/", "--device", "cpu", "--max-frames", "3")
    assert r.returncode == 0, r.stderr  # it said "should end in .mp4"
    assert [p.name for p in folder.iterdir()] == [f"{builtin_portrait_path.stem}_{clip.stem}.mp4"]
    # a name that is neither: both ways out are said
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", tmp_path / "results", "--max-frames", "3")
    assert r.returncode == 2 and "neither an .mp4 file nor a folder" in r.stderr
    assert "results/ is made" in r.stderr and not (tmp_path / "results").exists()
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", f"{tmp_path / 'take.mp4'}/", "--max-frames", "3")
    assert r.returncode == 2 and "named like a video file" in r.stderr
    assert not (tmp_path / "take.mp4").exists()


def test_several_portraits_and_clips_render_each_pair_into_a_folder(tmp_path, driving_clip,
                                                                    builtin_portrait_path):
    """Every portrait with every clip, one generator for all; a pair that fails is said and
    the others are still rendered; the exit code says something failed."""
    clip = driving_clip[0]
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    out = tmp_path / "renders"  # made where missing
    r = run_puppet("render", "--portrait", builtin_portrait_path, bad, "--driving", clip, clip,
                   "--output", out, "--device", "cpu", "--max-frames", "3")
    assert r.returncode == 2, r.stderr
    stem = f"{builtin_portrait_path.stem}_{clip.stem}"
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}-2.mp4", f"{stem}.mp4"]
    assert r.stderr.count("Generator runs on") == 1
    assert "[4/4]" in r.stderr and "not an image" in r.stderr
    assert "2 of 4 renders failed: notes.jpg with driver.mp4; notes.jpg with driver.mp4" \
        in r.stderr
    # several renders into one file name: refused before anything is rendered
    r = run_puppet("render", "--portrait", builtin_portrait_path, builtin_portrait_path,
                   "--driving", clip, "--output", tmp_path / "one.mp4", "--device", "cpu")
    assert r.returncode == 2 and "should be a folder" in r.stderr
    assert not (tmp_path / "one.mp4").exists()


def test_the_person_who_drives_is_chosen_with_driver_face(tmp_path, grace_photo,
                                                          builtin_portrait_path):
    """Two people in view all along: by default the larger (still) one drives; with
    --driver-face 2 the one on the right, who nods, does; a face the video does not
    have is a clear error."""
    from conftest import two_people, write_clip

    far = cv2.resize(grace_photo, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    h, w = far.shape[:2]
    frames = []
    for i in range(30):
        frame = two_people(grace_photo, True)
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), 8 * math.sin(i / 5), 1.0)
        frame[200:200 + h, 960:960 + w] = cv2.warpAffine(far, turn, (w, h),
                                                         borderMode=cv2.BORDER_REPLICATE)
        frames.append(frame)
    clip = write_clip(tmp_path / "two.mp4", frames, 25)

    def change(*extra):
        out = tmp_path / "out.mp4"
        r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                       "--output", out, "--device", "cpu", *extra)
        assert r.returncode == 0, r.stderr
        got, _, _ = read_video(out)
        return max(np.abs(f.astype(int) - got[0]).mean() for f in got)

    still, nodding = change(), change("--driver-face", "2")
    assert still < 2.0  # the near one holds still
    assert nodding > 2 * still + 1.0  # the far one nods
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", tmp_path / "x.mp4", "--device", "cpu", "--driver-face", "3")
    assert r.returncode == 2 and "shows 2 faces" in r.stderr and "no face 3" in r.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_framing_head_renders_a_head_and_shoulders_crop(tmp_path, driving_clip, full_length):
    """--framing head: the video is the crop around the face, at the picture's own pixels
    (frame 0 is that part of the picture), and the face in it moves."""
    path, canvas, _ = full_length
    out = tmp_path / "head.mp4"
    result = run_puppet("render", "--portrait", path, "--driving", driving_clip[0],
                        "--output", out, "--framing", "head", "--device", "cpu",
                        "--max-frames", "30")
    assert result.returncode == 0, result.stderr
    frames, _, _ = read_video(out)
    h, w = frames[0].shape[:2]
    assert h < 700 and abs(w / h - 0.8) < 0.02  # not the 852 x 1280 of the whole picture
    match = cv2.matchTemplate(canvas, frames[0], cv2.TM_SQDIFF)
    assert cv2.minMaxLoc(match)[0] / frames[0].size < 16.0  # its pixels (H.264: RMS < 4)
    change = max(float(np.abs(f.astype(int) - frames[0]).mean()) for f in frames)
    assert change > 2.0
    assert "--framing head" not in result.stderr
    # the whole picture: the small face is pointed out
    result = run_puppet("render", "--portrait", path, "--driving", driving_clip[0],
                        "--output", tmp_path / "whole.mp4", "--device", "cpu",
                        "--max-frames", "5")
    assert result.returncode == 0, result.stderr
    assert "The face is a small part of this portrait: --framing head" in result.stderr
    result = run_puppet("render", "--portrait", path, "--driving", driving_clip[0],
                        "--output", tmp_path / "x.mp4", "--framing", "tight")
    assert result.returncode == 2 and "invalid choice: 'tight'" in result.stderr


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_render_ended_by_a_signal_leaves_nothing_behind(tmp_path, driving_clip,
                                                          builtin_portrait_path, sig):
    """``kill`` or a closed terminal ends a render as Ctrl+C does: its hidden part file is
    removed (killed unhandled, the file stayed, and the next render into the folder took
    the name NAME-2.mp4)."""
    import signal
    import time

    from conftest import write_clip

    frames, _, _ = read_video(driving_clip[0])
    clip = write_clip(tmp_path / "long.mp4", frames * 30, 24)  # 1080 frames: ~20 s to render
    folder = tmp_path / "out"
    folder.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "puppet", "render", "--portrait",
                             str(builtin_portrait_path), "--driving", str(clip), "--output",
                             str(folder), "--device", "cpu", "--size", "320"], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        end = time.monotonic() + 120
        while not list(folder.iterdir()) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        assert proc.poll() is None, "the render ended before it could be stopped"
        time.sleep(0.5)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "puppet: stopped." in err
    assert list(folder.iterdir()) == []
