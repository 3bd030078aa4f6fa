"""``puppet live`` through the real command line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_input import _check_error
from test_render_cli import run_puppet


def test_live_on_a_video_writes_sane_stats(tmp_path, driving_clip, builtin_portrait_path):
    clip, fps, _ = driving_clip
    stats = tmp_path / "stats.json"
    r = run_puppet("live", "--source", clip, "--portrait", builtin_portrait_path, "--device",
                   "cpu", "--size", "480", "--stats", stats)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    s = json.loads(stats.read_text())
    assert s["source_fps"] == fps
    assert s["state"] == "ended"  # the whole clip played, once
    # a 36-frame clip at 24 fps plays in real time, never faster
    assert s["seconds"] >= 1.4
    assert 0 < s["frames_shown"] <= 36
    assert s["frames_captured"] == 36
    assert 0 <= s["frames_captured"] - s["frames_shown"] - s["frames_dropped"] <= 2
    assert s["frames_without_face"] == 0
    assert 0 < s["fps"] <= fps * 1.5
    assert 0 < s["latency_p50_ms"] <= s["latency_p95_ms"] < 10000
    for stage in ("track", "retarget", "generate", "compose"):
        assert s["stages_ms"][stage] > 0
    assert s["provider"].startswith("CPU")
    assert s["size"][0] <= 480 and s["size"][1] <= 480
    assert "fps" in r.stderr.splitlines()[-1]


def test_live_for_a_duration_with_the_demo_performance(tmp_path):
    stats = tmp_path / "s.json"
    r = run_puppet("live", "--source", "demo", "--duration", "2", "--device", "cpu", "--size",
                   "400", "--stats", stats)
    assert r.returncode == 0, r.stderr
    s = json.loads(stats.read_text())
    assert 1.9 <= s["seconds"] < 10
    assert s["frames_shown"] > 5 and s["source_fps"] == 25.0
    assert s["portrait"] == "built-in:grace-oil"


def test_a_camera_that_does_not_exist_is_a_clear_error(tmp_path):
    r = run_puppet("live", "--source", "57", "--duration", "1", "--stats", tmp_path / "s.json")
    _check_error(r, "camera 57 does not exist")
    assert not (tmp_path / "s.json").exists()


def test_a_stats_file_that_cannot_be_written_is_said_before_the_session(tmp_path):
    r = run_puppet("live", "--source", "demo", "--duration", "30", "--stats", tmp_path)
    _check_error(r, "--stats", "is a folder", "stats.json")
    assert "Live:" not in r.stderr  # said at once, not after the session


def test_a_file_to_write_is_checked_by_writing(tmp_path):
    from puppet.errors import PuppetError
    from puppet.files import file_to_write

    ok = file_to_write(str(tmp_path / "s.json"), "--stats")
    assert ok == tmp_path / "s.json" and list(tmp_path.iterdir()) == []  # nothing left
    for bad, words in ((tmp_path / "no" / "s.json", "does not exist"),
                       (tmp_path, "is a folder")):
        with pytest.raises(PuppetError) as err:
            file_to_write(str(bad), "--stats")
        assert words in err.value.message
    if Path("/proc/self").is_dir():  # a folder no one can make files in, not even root
        with pytest.raises(PuppetError) as err:
            file_to_write("/proc/puppet-stats.json", "--stats")
        assert "cannot be written" in err.value.message


def test_a_missing_video_is_a_clear_error(tmp_path):
    r = run_puppet("live", "--source", tmp_path / "nope.mp4")
    _check_error(r, "not found", "nope.mp4")


def test_a_picture_as_the_camera_is_a_clear_error(builtin_portrait_path):
    r = run_puppet("live", "--source", builtin_portrait_path, "--duration", "1")
    _check_error(r, "is a still picture, not a video")


def test_live_says_when_another_face_is_followed(two_people_clip):
    r = run_puppet("live", "--source", two_people_clip, "--device", "cpu", "--size", "400")
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("Following another face")]
    assert said  # the one behind (then, where no frames were dropped, the near one back)


def test_live_frames_head_and_shoulders_and_points_out_a_small_face(tmp_path, full_length):
    """--framing head: the live portrait (and its stats) is the crop; without it, the
    small face of a full-length picture is pointed out."""
    path = full_length[0]
    stats = tmp_path / "s.json"
    r = run_puppet("live", "--source", "demo", "--portrait", path, "--duration", "1",
                   "--device", "cpu", "--stats", stats)
    assert r.returncode == 0, r.stderr
    assert "--framing head shows a head-and-shoulders crop" in r.stderr
    assert json.loads(stats.read_text())["size"] == [640, 960]
    r = run_puppet("live", "--source", "demo", "--portrait", path, "--duration", "1",
                   "--device", "cpu", "--framing", "head", "--stats", stats)
    assert r.returncode == 0, r.stderr
    assert "--framing head" not in r.stderr
    w, h = json.loads(stats.read_text())["size"]
    assert h < 700 and abs(w / h - 0.8) < 0.02
