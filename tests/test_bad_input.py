"""Bad input gives one clear line, a non-zero exit, no traceback and no file."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_render_cli import run_puppet


@pytest.fixture()
def blank_image(tmp_path):
    p = tmp_path / "wall.png"
    cv2.imwrite(str(p), np.full((300, 300, 3), 128, np.uint8))
    return p


def _check_error(result, *words):
    assert result.returncode != 0
    err = result.stderr.strip()
    assert "Traceback" not in result.stderr
    lines = [line for line in err.splitlines() if line.startswith("puppet: error:")]
    assert len(lines) == 1, err
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]


def test_missing_portrait(tmp_path, driving_clip):
    out = tmp_path / "o.mp4"
    r = run_puppet("render", "--portrait", tmp_path / "nope.jpg", "--driving", driving_clip[0],
                   "--output", out)
    _check_error(r, "not found", "nope.jpg")
    assert not out.exists()


def test_unreadable_portrait(tmp_path, driving_clip):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    r = run_puppet("render", "--portrait", bad, "--driving", driving_clip[0],
                   "--output", tmp_path / "o.mp4")
    _check_error(r, "is not an image")


def test_portrait_without_a_face(tmp_path, driving_clip, blank_image):
    out = tmp_path / "o.mp4"
    r = run_puppet("render", "--portrait", blank_image, "--driving", driving_clip[0],
                   "--output", out)
    _check_error(r, "no face found", "wall.png")
    assert list(tmp_path.glob("*.mp4")) == [] and list(tmp_path.glob(".*part")) == []


def test_broken_video(tmp_path, builtin_portrait_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    out = tmp_path / "o.mp4"
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", broken,
                   "--output", out)
    _check_error(r, "broken.mp4")
    assert not out.exists()


def test_a_video_cut_off_with_its_index_at_the_start(tmp_path, driving_clip,
                                                    builtin_portrait_path):
    """An MP4 written for streaming (its index first) and cut off part-way, as an unfinished
    download is: the decoder ends quietly where the data ends, and the render used to end
    there too, a short video and exit code 0 with nothing said."""
    import av
    from conftest import write_clip
    from test_render_cli import read_video

    frames, _, _ = read_video(driving_clip[0])
    whole = write_clip(tmp_path / "whole.mp4", frames * 3, 24)
    streamed = tmp_path / "streamed.mp4"
    with av.open(str(whole)) as src, av.open(str(streamed), "w",
                                             options={"movflags": "faststart"}) as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    data = streamed.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the index first
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) * 6 // 10])
    out = tmp_path / "o.mp4"
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", cut,
                   "--output", out, "--device", "cpu", "--size", "320")
    _check_error(r, "cut.mp4 is cut off", f"of the {len(frames) * 3} it lists")
    assert not out.exists() and not list(tmp_path.glob(".*part"))
    # the whole file renders; and a part of the cut one that it holds still renders
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", streamed,
                   "--output", out, "--device", "cpu", "--size", "320")
    assert r.returncode == 0, r.stderr
    assert len(read_video(out)[0]) == len(frames) * 3
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", cut,
                   "--output", out, "--device", "cpu", "--size", "320", "--max-frames", "20")
    assert r.returncode == 0, r.stderr


def test_driving_video_without_faces(tmp_path, builtin_portrait_path):
    from conftest import write_clip

    clip = write_clip(tmp_path / "noface.mp4",
                      [np.full((64, 64, 3), i * 20, np.uint8) for i in range(6)], 10)
    out = tmp_path / "o.mp4"
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", clip,
                   "--output", out)
    _check_error(r, "no face was found in any frame")
    assert not out.exists() and not list(tmp_path.glob(".*part"))


def test_output_folder_missing(tmp_path, driving_clip, builtin_portrait_path):
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", driving_clip[0],
                   "--output", tmp_path / "no" / "such" / "o.mp4")
    _check_error(r, "does not exist", "create it")


def test_bad_size(tmp_path, driving_clip, builtin_portrait_path):
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", driving_clip[0],
                   "--output", tmp_path / "o.mp4", "--size", "10")
    _check_error(r, "--size")


def test_portrait_and_driving_swapped(tmp_path, driving_clip, builtin_portrait_path):
    """A picture given as the driving video and a video given as the portrait, the mistake
    of swapping them: each says what it is, instead of rendering a one-frame video."""
    out = tmp_path / "o.mp4"
    r = run_puppet("render", "--portrait", driving_clip[0], "--driving", builtin_portrait_path,
                   "--output", out)
    _check_error(r, "is a video, not a picture")
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving",
                   builtin_portrait_path, "--output", out)
    _check_error(r, "is a still picture, not a video", "picture can be the portrait")
    assert not out.exists() and not list(tmp_path.glob(".*part"))
    # a file named like a picture that is none (FFmpeg goes by the name) is not called one
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    r = run_puppet("render", "--portrait", builtin_portrait_path, "--driving", text,
                   "--output", out)
    _check_error(r, "notes.jpg cannot be read: it is neither a video nor a picture")
    assert not out.exists()


def test_a_message_that_begins_with_a_path_keeps_the_path_as_it_is():
    from puppet.errors import PuppetError

    # a capital changed the path the user has to look for ("Live/take.mp4 already exists")
    assert PuppetError("live/take.mp4 already exists", "choose another name").message == \
        "live/take.mp4 already exists. Choose another name."
    assert PuppetError("a.mp4 is not a folder").message == "a.mp4 is not a folder."
    assert PuppetError("portrait not found: x.jpg", "check the path").message == \
        "Portrait not found: x.jpg. Check the path."


def test_ctrl_c_during_an_import_is_not_a_missing_package(monkeypatch):
    """Ctrl+C while onnxruntime's or MediaPipe's compiled module loads makes the import
    fail; that was said as "onnxruntime is not installed. Install Puppet again"."""
    import sys

    from puppet.errors import PuppetError
    from puppet.generators import runtime
    from puppet.tracking.mediapipe_tracker import FaceTracker

    for name, load in (("onnxruntime", runtime._ort), ("mediapipe", FaceTracker)):
        monkeypatch.setitem(sys.modules, name, None)  # its import fails
        with pytest.raises(PuppetError, match="not installed"):
            load()
        with pytest.raises(KeyboardInterrupt):
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                load()  # fails while Ctrl+C is being handled: its context
