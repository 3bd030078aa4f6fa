"""``puppet doctor``: each check on this machine, and with failures put in its way."""
from __future__ import annotations

import pytest
from test_render_cli import run_puppet

from puppet import doctor
from puppet.generators import runtime


def _states(checks, name):
    return [c for c in checks if c.name == name]


def test_doctor_on_this_machine_passes_for_the_cpu():
    r = run_puppet("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "ok    CPU provider: sessions run the built-in model and its field graph" in out
    assert "Everything Puppet needs to run on the CPU is fine" in out
    assert "ok    face tracking: the face mesh finds the built-in portrait's face" in out
    # what is missing here is said with a fix, never as a crash
    lines = out.splitlines()
    for line, after in zip(lines, lines[1:]):
        if line.lstrip().startswith("warn"):
            assert after.lstrip().startswith("fix: "), line


def test_a_missing_package_fails_with_its_pip_command(monkeypatch):
    real = doctor.dist_version
    monkeypatch.setattr(doctor, "dist_version",
                        lambda name: None if name == "mediapipe" else real(name))
    checks = doctor.check_packages()
    (mp,) = _states(checks, "mediapipe")
    assert mp.state == doctor.FAIL and mp.blocks_cpu
    assert mp.fix == 'pip install "mediapipe==0.10.21"'


def test_an_optional_package_missing_is_only_a_warning(monkeypatch):
    real = doctor.dist_version
    monkeypatch.setattr(doctor, "dist_version",
                        lambda name: None if name == "pyvirtualcam" else real(name))
    (cam,) = _states(doctor.check_packages(), "pyvirtualcam")
    assert cam.state == doctor.WARN and not cam.blocks_cpu
    assert doctor.check_virtual_camera() == []  # not tried when it is not installed


@pytest.mark.parametrize("name, version, words", [
    ("numpy", "2.1.0", "numpy<2"),
    ("opencv-contrib-python", "4.12.0.88", "opencv-contrib-python<=4.11.0.86"),
])
def test_a_wrong_version_fails(monkeypatch, name, version, words):
    real = doctor.dist_version
    monkeypatch.setattr(doctor, "dist_version", lambda n: version if n == name else real(n))
    (c,) = _states(doctor.check_packages(), name)
    assert c.state == doctor.FAIL and words in c.detail and words in c.fix


@pytest.mark.parametrize("bad, good", [("opencv-python", "opencv-contrib-python"),
                                       ("onnxruntime", "onnxruntime-gpu")])
def test_duplicates_that_break_each_other_are_found(monkeypatch, bad, good):
    real = doctor.dist_version
    monkeypatch.setattr(doctor, "dist_version", lambda n: "1.0" if n == bad else real(n))
    (c,) = _states(doctor.check_packages(), bad)
    assert c.state == doctor.FAIL and good in c.detail
    assert c.fix.startswith(f"pip uninstall -y {bad} {good}") and f'pip install "{good}' in c.fix


def test_the_cpu_provider_is_tried_not_listed():
    ok, detail = doctor.try_provider(runtime.CPU)
    assert ok and "run" in detail and "field graph" in detail


def test_the_cuda_check_draws_a_frame_that_moves():
    """A flat grey sample stays grey under any warp, right or wrong: the CUDA check
    compares a frame in which the warp really moves pixels."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(doctor._model()), providers=[runtime.CPU])
    feeds = doctor.moving_sample()
    moved = session.run(None, feeds)[0].astype(int)
    still = session.run(None, dict(feeds, dst_points=feeds["src_points"]))[0]
    assert np.abs(moved - still).mean() > 3


@pytest.mark.parametrize("black_squares", [False, True])
def test_a_cuda_provider_that_draws_wrong_frames_is_caught(monkeypatch, black_squares):
    """What TF32 did on an H100: the provider runs, but parts of the frame are black.
    Here the "CUDA" session is the CPU's, with or without squares blacked out."""
    import onnxruntime as ort

    real = ort.InferenceSession

    class Gpu:
        def __init__(self, model, options=None, providers=None, **kw):
            self.cuda = providers[0][0] == runtime.CUDA
            self.real = real(model, options, providers=[runtime.CPU])

        def get_providers(self):
            return [runtime.CUDA, runtime.CPU] if self.cuda else [runtime.CPU]

        def run(self, names, feeds):
            out = self.real.run(names, feeds)
            if self.cuda and black_squares and len(out[0]) == 96:  # the moving sample
                out[0][10:20, 30:40] = 0
                out[0][50:60, 60:70] = 0
            return out

    monkeypatch.setattr(ort, "InferenceSession", Gpu)
    ok, detail = doctor.try_provider(runtime.CUDA)
    assert ok is not black_squares
    assert ("draws other frames than the CPU" in detail) is black_squares


def test_a_missing_field_graph_fails_the_cpu_provider(monkeypatch, tmp_path):
    import shutil

    from puppet.resources import model_file

    shutil.copy(model_file("puppet_warp.onnx"), tmp_path / "puppet_warp.onnx")
    monkeypatch.setattr(doctor, "_model", lambda name="puppet_warp.onnx": tmp_path / name)
    ok, detail = doctor.try_provider(runtime.CPU)
    assert not ok and "field graph" in detail


def test_a_failing_cpu_provider_stops_puppet(monkeypatch):
    monkeypatch.setattr(doctor, "try_provider", lambda p: (False, "the session did not start"))
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    (cpu,) = _states(doctor.check_onnxruntime(), "CPU provider")
    assert cpu.state == doctor.FAIL and cpu.fix


def test_no_driver_says_so_and_lists_the_missing_cuda_libraries(monkeypatch):
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    monkeypatch.setattr(doctor, "missing_cuda_libraries", lambda: ["libcublas.so.13"])
    (cuda,) = _states(doctor.check_onnxruntime(), "CUDA provider")
    assert cuda.state == doctor.WARN and not cuda.blocks_cpu
    assert "no NVIDIA driver" in cuda.detail and "libcublas.so.13" in cuda.detail
    assert "580" in cuda.fix and "onnxruntime-gpu[cuda,cudnn]" in cuda.fix


def test_a_cuda_provider_that_falls_back_is_caught_with_the_library_fix(monkeypatch):
    """A driver is there but the CUDA libraries are not: onnxruntime silently falls back
    to the CPU; the doctor tries a session, notices, and names the libraries."""
    import onnxruntime as ort

    if runtime.CUDA not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no CUDA provider")
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: True)
    monkeypatch.setattr(doctor, "missing_cuda_libraries",
                        lambda: ["libcublasLt.so.13", "libcublas.so.13"])
    monkeypatch.setattr(doctor, "system", lambda: "Linux")
    (cuda,) = _states(doctor.check_onnxruntime(), "CUDA provider")
    assert cuda.state == doctor.WARN
    assert "fell back to CPUExecutionProvider" in cuda.detail or "did not start" in cuda.detail
    assert "libcublas.so.13" in cuda.detail
    assert 'pip install "onnxruntime-gpu[cuda,cudnn]"' in cuda.fix and "apt" in cuda.fix


def test_a_working_cuda_provider_is_ok(monkeypatch):
    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: True)
    monkeypatch.setattr(doctor, "try_provider", lambda p: (True, "a session runs"))
    import onnxruntime as ort

    if runtime.CUDA not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no CUDA provider")
    (cuda,) = _states(doctor.check_onnxruntime(), "CUDA provider")
    assert cuda.state == doctor.OK


@pytest.mark.parametrize("os_name, words", [("Linux", "v4l2loopback"), ("Windows", "OBS"),
                                            ("Darwin", "OBS")])
def test_no_virtual_camera_backend_names_the_one_to_install(monkeypatch, os_name, words):
    def fail():
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found")

    monkeypatch.setattr(doctor, "open_virtual_camera", fail)
    monkeypatch.setattr(doctor, "system", lambda: os_name)
    (c,) = doctor.check_virtual_camera()
    assert c.state == doctor.WARN and "no backend" in c.detail and words in c.fix


def test_the_real_virtual_camera_attempt_is_reported():
    (c,) = doctor.check_virtual_camera()
    assert c.state in (doctor.OK, doctor.WARN)
    if c.state == doctor.WARN:
        assert c.fix  # here: no v4l2loopback, and the fix says how to get it


def test_cameras_skip_virtual_devices(monkeypatch):
    monkeypatch.setattr(doctor, "system", lambda: "Linux")
    monkeypatch.setattr(doctor, "_v4l2_names", lambda: {"/dev/video0": "Dummy video device",
                                                        "/dev/video1": "HD Webcam"})
    monkeypatch.setattr(doctor, "open_camera", lambda dev: True)
    (c,) = doctor.check_cameras()
    assert c.state == doctor.OK and "/dev/video1 (HD Webcam)" in c.detail
    assert "video0" not in c.detail
    monkeypatch.setattr(doctor, "_v4l2_names", lambda: {"/dev/video0": "v4l2loopback"})
    (c,) = doctor.check_cameras()
    assert c.state == doctor.WARN and "no camera" in c.detail and c.fix


def test_a_check_that_crashes_is_a_finding_not_a_crash():
    def broken():
        raise KeyError("boom")

    checks = doctor.run_checks([doctor.check_python, broken])
    assert checks[-1].state == doctor.WARN and "boom" in checks[-1].detail
    assert "Everything Puppet needs" in doctor.report(checks)


def test_the_exit_code_says_whether_the_cpu_can_run(monkeypatch, capsys):
    from puppet import cli

    real = doctor.dist_version
    monkeypatch.setattr(doctor, "dist_version",
                        lambda n: "1.0" if n == "opencv-python" else real(n))
    monkeypatch.setattr(doctor, "CHECKS", [doctor.check_packages])
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  opencv-python" in out and "stop Puppet from running" in out
    monkeypatch.setattr(doctor, "dist_version", real)
    assert cli.main(["doctor"]) == 0


def test_in_the_desktop_bundle_it_does_not_ask_for_what_the_bundle_leaves_out(monkeypatch):
    import sys

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    real = doctor.dist_version
    monkeypatch.setattr(doctor, "dist_version",
                        lambda name: None if name in doctor.NOT_BUNDLED else real(name))
    checks = doctor.check_packages()
    assert not [c for c in checks if c.name in doctor.NOT_BUNDLED]
    assert not [c for c in checks if c.state == doctor.FAIL]
    (python,) = doctor.check_python()
    assert "inside the desktop bundle" in python.detail


def test_in_the_desktop_bundle_the_cuda_fix_is_no_pip_command(monkeypatch):
    import sys

    monkeypatch.setattr(runtime, "nvidia_driver_present", lambda: False)
    monkeypatch.setattr(doctor, "missing_cuda_libraries", lambda: ["libcublas.so.13"])
    monkeypatch.setattr(doctor, "system", lambda: "Linux")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    (cuda,) = _states(doctor.check_onnxruntime(), "CUDA provider")
    assert "the libraries: install them from NVIDIA" in cuda.fix
    assert "sudo apt install cuda-libraries-13-0" in cuda.fix and "LD_LIBRARY_PATH" in cuda.fix
    assert doctor.CUDA_PIP_FIX not in cuda.fix


def test_face_tracking_is_tried_and_a_broken_part_is_named(monkeypatch):
    from puppet.tracking import mediapipe_tracker

    (ok,) = doctor.check_tracking()
    assert ok.state == doctor.OK and "full-range detector" in ok.detail

    def broken(*args, **kwargs):
        raise RuntimeError("face_detection_full_range_sparse.tflite not found")

    monkeypatch.setattr(mediapipe_tracker, "small_face_detector", broken)
    (warn,) = doctor.check_tracking()
    assert warn.state == doctor.WARN and not warn.blocks_cpu
    assert "small faces" in warn.detail and "not found" in warn.detail
    assert warn.fix == 'pip install --force-reinstall "mediapipe==0.10.21"'

    monkeypatch.setattr(mediapipe_tracker.FaceTracker, "track", lambda self, image: None)
    (fail,) = doctor.check_tracking()
    assert fail.state == doctor.FAIL and fail.blocks_cpu and "finds no face" in fail.detail


def test_pyav_without_the_photo_decoders_is_a_warning(monkeypatch):
    """HEIC and AVIF portraits need PyAV's HEVC and AV1 decoders (its wheels have both);
    an FFmpeg without them costs only those portraits."""
    import av

    real = av.codec.Codec

    def codec(name, mode="r"):
        if name == "hevc" and mode == "r":
            raise av.error.FFmpegError(0, "no such decoder")
        return real(name, mode)

    assert not [c for c in doctor.check_imports() if c.state != doctor.OK]  # as installed
    monkeypatch.setattr(av.codec, "Codec", codec)
    checks = doctor.check_imports()
    (warn,) = _states(checks, "photo decoders")
    assert warn.state == doctor.WARN and not warn.blocks_cpu
    assert "HEIC (no hevc decoder)" in warn.detail and "AVIF" not in warn.detail
    assert _states(checks, "imports")[0].state == doctor.OK
