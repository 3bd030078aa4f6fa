import av
from test_render_cli import run_puppet


def test_demo_needs_nothing_but_the_package(tmp_path):
    r = run_puppet("demo", "--seconds", "2", "--output", tmp_path / "d.mp4", "--device", "cpu",
                   cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(tmp_path / "d.mp4") in r.stdout
    with av.open(str(tmp_path / "d.mp4")) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(s)]
    assert len(frames) == 50 and float(s.average_rate) == 25.0
    # it moves: later frames differ from the first
    assert max(abs(f.astype(int) - frames[0]).mean() for f in frames) > 1.0
    from puppet.tracking.mediapipe_tracker import FaceTracker

    with FaceTracker(video=True) as t:
        assert all(t.track(f) is not None for f in frames[::5])


def test_no_command_on_a_machine_without_display_renders_the_demo(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(REPO)
    r = subprocess.run([sys.executable, "-m", "puppet"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "no display" in r.stderr
    assert (tmp_path / "demo.mp4").exists()
