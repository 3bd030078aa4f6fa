"""``puppet gui --quit-after --screenshot``: the window in a script, as tests and demos use it."""
from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
from conftest import REPO


def run_gui(tmp_path, *args, timeout=180):
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen",
               PUPPET_SETTINGS=str(tmp_path / "settings.ini"))
    return subprocess.run([sys.executable, "-m", "puppet", "gui", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=timeout)


def test_a_scripted_window_takes_its_screenshot_and_closes(tmp_path, driving_clip,
                                                            builtin_portrait_path):
    shot = tmp_path / "window.png"
    r = run_gui(tmp_path, "--source", driving_clip[0], "--portrait", builtin_portrait_path,
                "--device", "cpu", "--quit-after", "6", "--screenshot", shot)
    assert r.returncode == 0, r.stderr[-2000:]
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[0] >= 400 and image.shape[1] >= 600
    assert float(image.std()) > 20  # a window with pictures in it, not a blank
    settings = (tmp_path / "settings.ini").read_text()
    assert "driver.mp4" in settings  # the source is remembered for the next run
    assert "grace_sepia.jpg" in settings


def test_screenshot_needs_quit_after(tmp_path):
    r = run_gui(tmp_path, "--screenshot", tmp_path / "x.png")
    assert r.returncode == 2
    assert "puppet: error: --screenshot" in r.stderr and "--quit-after" in r.stderr
    assert "Traceback" not in r.stderr
    assert not np.any([p.suffix == ".png" for p in tmp_path.iterdir()])


def test_a_screenshot_that_cannot_be_saved_is_said_before_the_window_opens(tmp_path):
    # it was taken, not saved, and the window closed with exit code 0 and nothing said
    r = run_gui(tmp_path, "--source", "demo", "--quit-after", "30", "--screenshot",
                "/proc/puppet-window.png", timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--screenshot /proc/puppet-window.png cannot be written" in r.stderr
    folder = tmp_path / "shots.png"
    folder.mkdir()
    r = run_gui(tmp_path, "--source", "demo", "--quit-after", "30", "--screenshot", folder,
                timeout=60)
    assert r.returncode == 2 and "is a folder" in r.stderr
