"""The window's outputs, offscreen (pytest-qt): the Record button and its indicator, recovery at
start, the virtual camera toggle where there is none, the stream toggle read by a real HTTP
client on 127.0.0.1, and the per-feature sliders."""
from __future__ import annotations

import http.client
import shutil
import socket
import time

import av
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from puppet.gui.settings import Settings  # noqa: E402
from puppet.gui.window import MainWindow  # noqa: E402
from puppet.live import RUNNING  # noqa: E402
from puppet.outputs.recorder import Recorder, RecorderSettings  # noqa: E402
from puppet.session import TEST_AUDIO_ENV  # noqa: E402

SIZE = 400


@pytest.fixture()
def folder(tmp_path):
    return tmp_path / "recordings"


@pytest.fixture()
def ini(tmp_path, folder):
    path = str(tmp_path / "puppet.ini")
    store = QSettings(path, QSettings.Format.IniFormat)
    store.setValue("record_folder", str(folder))
    store.sync()
    return path


@pytest.fixture()
def open_window(qtbot, ini, driving_clip):
    opened = []

    def make(**kwargs) -> MainWindow:
        kwargs.setdefault("device", "cpu")
        kwargs.setdefault("source", str(driving_clip[0]))
        kwargs.setdefault("portrait", "built-in:grace-sepia")
        w = MainWindow(Settings(QSettings(ini, QSettings.Format.IniFormat)), size=SIZE,
                       **kwargs)
        w.show()
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


def probe(path):
    with av.open(str(path)) as c:
        return {s.type: (s.codec_context.name, float(s.duration * s.time_base))
                for s in c.streams}


def files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _seconds(label: str) -> int:
    """The elapsed time an indicator such as '● REC 1:05' shows, in seconds (-1: none)."""
    import re

    m = re.search(r"REC (\d+):(\d\d)", label)
    return int(m.group(1)) * 60 + int(m.group(2)) if m else -1


def test_record_button_indicator_and_stop(qtbot, open_window, folder, monkeypatch):
    monkeypatch.setenv(TEST_AUDIO_ENV, "tone:440")  # a microphone for the test
    w = open_window()
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    assert w.record_button.text().startswith("●  Record")
    qtbot.mouseClick(w.record_button, Qt.MouseButton.LeftButton)
    assert w.outputs.recording
    qtbot.waitUntil(lambda: any(n.endswith(".mp4.part") for n in files(folder)), timeout=5000)
    # the indicator counts up (a busy machine may skip a second between two paints)
    qtbot.waitUntil(lambda: _seconds(w.record_label.text()) >= 1, timeout=10000)
    assert w.portrait_view.badge.startswith("REC 0:0")
    assert w.record_button.text().startswith("■  Stop")
    assert not w.folder_button.isEnabled()  # the folder stays while recording
    assert "Video only" not in w.message_bar.text()  # it has sound
    qtbot.waitUntil(lambda: _seconds(w.record_label.text()) >= 2, timeout=10000)
    qtbot.mouseClick(w.record_button, Qt.MouseButton.LeftButton)
    # the files are finished on a thread of their own: the window goes on meanwhile
    assert w.outputs.saving and w.record_button.text() == "Saving…"
    assert not w.record_button.isEnabled()
    n = w.frames_displayed
    qtbot.waitUntil(lambda: "Saved puppet-" in w.message_bar.text(), timeout=30000)
    assert w.frames_displayed > n
    assert w.record_button.isEnabled() and w.record_label.text() == ""
    assert w.portrait_view.badge == ""
    result = w.last_recording
    assert result.sound and result.video.parent == folder
    assert f"in {folder}" in w.message_bar.text()
    names = files(folder)
    assert names == sorted([result.video.name, result.performance.name])  # no part left
    streams = probe(result.video)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    assert abs(streams["video"][1] - result.seconds) < 0.1
    assert abs(streams["audio"][1] - streams["video"][1]) < 0.1
    assert 2.0 <= result.seconds < 10


def test_record_hotkey_without_a_microphone_says_video_only(qtbot, open_window, folder,
                                                             monkeypatch):
    try:
        import sounddevice as sd

        if any(d["max_input_channels"] > 0 for d in sd.query_devices()):
            pytest.skip("this machine has a microphone")  # pragma: no cover
    except (OSError, ImportError):
        pass
    monkeypatch.delenv(TEST_AUDIO_ENV, raising=False)
    w = open_window()
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # shortcuts go to the active window
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.outputs.recording
    assert "Video only: no microphone" in w.message_bar.text()
    assert w.message_bar.kind == "info"
    qtbot.waitUntil(lambda: _seconds(w.record_label.text()) >= 1, timeout=10000)
    qtbot.keyClick(w, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: "Saved puppet-" in w.message_bar.text(), timeout=30000)
    assert "video only" in w.message_bar.text()
    assert set(probe(w.last_recording.video)) == {"video"}


def test_closing_the_window_mid_recording_finishes_the_file(qtbot, open_window, folder,
                                                            monkeypatch):
    monkeypatch.setenv(TEST_AUDIO_ENV, "none")
    w = open_window()
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    w.toggle_recording()
    qtbot.waitUntil(lambda: _seconds(w.record_label.text()) >= 1, timeout=10000)
    w.close()
    names = files(folder)
    assert len(names) == 2 and not any(n.endswith(".part") for n in names)
    video = folder / next(n for n in names if n.endswith(".mp4"))
    assert probe(video)["video"][0] == "h264" and probe(video)["video"][1] >= 1.0


def test_an_interrupted_recording_is_recovered_at_start(qtbot, open_window, folder):
    # what a killed Puppet leaves: the part file of a recording that nobody writes any more
    scratch = folder.parent / "scratch"
    rec = Recorder(scratch, RecorderSettings(fps=10, performance=False), audio=None)
    rec.start(at=0.0)
    for i in range(30):
        rec.add_frame(np.full((64, 64, 3), 8 * i, np.uint8), i / 10)
    part = next(scratch.glob(".*.mp4.part"))
    deadline = time.monotonic() + 30
    while rec.status().frames < 25 and time.monotonic() < deadline:
        time.sleep(0.02)
    folder.mkdir()
    shutil.copy(part, folder / ".puppet-2001-01-01_00-00-00.mp4.part")
    rec.stop(at=3.0)

    w = open_window()
    qtbot.waitUntil(lambda: "rescued" in w.message_bar.text(), timeout=30000)
    text = w.message_bar.text()
    assert "Recovered puppet-2001-01-01_00-00-00.mp4" in text and str(folder) in text
    assert files(folder) == ["puppet-2001-01-01_00-00-00.mp4"]
    assert probe(folder / "puppet-2001-01-01_00-00-00.mp4")["video"][1] >= 1.5


def test_the_virtual_camera_toggle_says_what_to_install_and_switches_off(qtbot, open_window):
    from puppet.outputs.virtual_camera import install_hint

    w = open_window()
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    qtbot.mouseClick(w.vcam_button, Qt.MouseButton.LeftButton)
    if w.vcam_button.isChecked():  # pragma: no cover - a machine with a device
        pytest.skip("this machine has a virtual camera device")
    assert w.message_bar.isVisible() and w.message_bar.kind == "error"
    text = w.message_bar.text()
    assert "No virtual camera is available on this system (" in text
    hint = install_hint()
    assert text.endswith(f"{hint[0].upper()}{hint[1:]}.")
    assert w.outputs.camera is None and not w.vcam_label.isVisible()
    n = w.frames_displayed
    qtbot.waitUntil(lambda: w.frames_displayed > n + 5, timeout=30000)  # the app goes on
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    w.message_bar.dismiss()
    qtbot.keyClick(w, Qt.Key.Key_V)  # the hotkey does the same
    assert not w.vcam_button.isChecked() and "No virtual camera" in w.message_bar.text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jpegs(port: int, count: int) -> list[bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    out = []
    try:
        while len(out) < count:
            line = resp.fp.readline()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
                resp.fp.readline()
                out.append(resp.fp.read(length))
    finally:
        conn.close()
    return out


def test_the_stream_toggle_shows_a_url_that_serves_frames(qtbot, open_window, ini):
    port = free_port()
    store = QSettings(ini, QSettings.Format.IniFormat)
    store.setValue("stream_port", port)
    store.sync()
    w = open_window()
    assert w.port_spin.value() == port
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    assert not w.stream_row.isVisible()
    qtbot.mouseClick(w.stream_button, Qt.MouseButton.LeftButton)
    assert w.stream_button.isChecked() and w.stream_row.isVisible()
    url = w.stream_url.text()
    assert url == f"http://127.0.0.1:{port}/"
    assert "This computer only" in w.stream_label.text()
    assert not w.port_spin.isEnabled()
    qtbot.mouseClick(w.copy_url_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == url
    jpegs = []
    import threading

    reader = threading.Thread(target=lambda: jpegs.extend(read_jpegs(port, 6)))
    reader.start()
    qtbot.waitUntil(lambda: not reader.is_alive(), timeout=30000)
    assert len(jpegs) == 6 and all(j[:2] == b"\xff\xd8" and j[-2:] == b"\xff\xd9"
                                   for j in jpegs)
    assert len(set(jpegs)) > 1  # the frames change
    qtbot.mouseClick(w.stream_button, Qt.MouseButton.LeftButton)
    assert not w.stream_button.isChecked() and not w.stream_row.isVisible()
    assert w.outputs.stream is None and w.port_spin.isEnabled()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_port_in_use_is_a_message_and_the_toggle_goes_off(qtbot, open_window, ini):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        store = QSettings(ini, QSettings.Format.IniFormat)
        store.setValue("stream_port", port)
        store.sync()
        w = open_window()
        w.stream_button.click()
        assert not w.stream_button.isChecked()
        assert f"Port {port} on 127.0.0.1 is already in use" in w.message_bar.text()


def test_per_feature_sliders_change_the_engine_and_are_remembered(qtbot, open_window, ini):
    w = open_window()
    w.mouth_slider.slider.setValue(75)  # of 100 steps over 0..2: 1.5
    w.eyes_slider.slider.setValue(0)
    w.brows_slider.slider.setValue(100)
    st = w.engine.settings
    assert (st.mouth, st.eyes, st.brows) == pytest.approx((1.5, 0.0, 2.0))
    assert (st.expression, st.head) == (1.0, 1.0)
    assert w.eyes_slider.value_label.text() == "0.00×"
    w.close()
    w2 = open_window()
    st = w2.engine.settings
    assert (st.mouth, st.eyes, st.brows) == pytest.approx((1.5, 0.0, 2.0))
    assert w2.brows_slider.value_label.text() == "2.00×"
    w2.act_reset.trigger()
    st = w2.engine.settings
    assert (st.mouth, st.eyes, st.brows) == (1.0, 1.0, 1.0)


def test_the_virtual_camera_fit_is_offered_remembered_and_looks_at_the_face(qtbot, open_window):
    w = open_window()
    fits = [w.vcam_fit.itemData(i) for i in range(w.vcam_fit.count())]
    assert fits == ["letterbox", "crop", "face"]
    w.vcam_fit.setCurrentIndex(fits.index("face"))
    w.vcam_fit.activated.emit(fits.index("face"))
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    # what the virtual camera is told of the portrait: its size and its face's box
    size, box = w.outputs._portrait_face()
    assert size == w.engine.portrait.size and box == w.engine.portrait.face.bbox
    w.close()
    assert open_window().vcam_fit.currentData() == "face"


def test_a_video_is_rendered_from_the_window_with_a_progress_bar(qtbot, open_window, folder,
                                                                  driving_clip):
    """File → Render a video: the portrait shown, driven by a video, every frame into the
    recordings folder in the background (the live portrait goes on); then it says where."""
    clip = driving_clip[0]
    w = open_window()
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    seen = []
    w.bridge.render_progress.connect(lambda done, total, f: seen.append((done, total)))
    out = w.start_render(str(clip))
    assert out is not None and out.parent == folder and out.name == "grace_sepia_driver.mp4"
    assert w.rendering and w.render_bar.isVisibleTo(w) and not w.act_render.isEnabled()
    assert w.start_render(str(clip)) is None  # one at a time
    assert "running already" in w.message_bar.text()
    n = w.frames_displayed
    qtbot.waitUntil(lambda: not w.rendering, timeout=120000)
    assert w.frames_displayed > n  # the window kept moving
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        written = sum(1 for _ in c.decode(video=0))
    expected = len(driving_clip[2])  # every driving frame
    assert written == expected and seen[-1] == (expected, expected)
    assert not w.render_bar.isVisibleTo(w) and w.act_render.isEnabled()
    assert f"Rendered {out.name} ({expected} frames" in w.message_bar.text()
    assert w.last_render.output == out
    # again: a new name, never the file just written
    second = w.start_render(str(clip))
    assert second.name == "grace_sepia_driver-2.mp4"
    w.cancel_render()  # cancelled: nothing of it is kept
    qtbot.waitUntil(lambda: not w.rendering, timeout=60000)
    assert "cancelled" in w.statusBar().currentMessage()
    assert sorted(p.name for p in folder.iterdir()) == [out.name]


def test_a_dropped_performance_is_rendered_onto_the_portrait(qtbot, open_window, folder,
                                                              driving_clip, tmp_path):
    from puppet.sources.performance import PerformanceRecorder
    from puppet.sources.video import VideoFile
    from puppet.tracking.mediapipe_tracker import FaceTracker

    clip, fps, _ = driving_clip
    path = tmp_path / "take.performance"
    rec = PerformanceRecorder(path, t0=10.0, fps=fps)
    with VideoFile(clip) as video, FaceTracker(video=True) as tracker:
        frames = list(video.frames())[:12]
        for frame in frames:
            rec.add_face(tracker.track(frame.image), 10.0 + frame.time)
    rec.finish(10.0 + len(frames) / fps)
    w = open_window()
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    w.handle_dropped([str(path)])
    assert w.rendering
    qtbot.waitUntil(lambda: not w.rendering, timeout=120000)
    out = folder / "grace_sepia_take.mp4"
    assert w.last_render is not None and w.last_render.output == out
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12
    assert "Not an image" not in w.message_bar.text()


def test_a_render_from_the_window_keeps_the_framing(qtbot, open_window, folder, driving_clip,
                                                     full_length):
    """A head-and-shoulders portrait renders as it is shown: the crop, not the whole."""
    w = open_window(portrait=str(full_length[0]), framing="head")
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    shown = w.engine.portrait
    assert shown.framing == "head"
    out = w.start_render(str(driving_clip[0]))
    qtbot.waitUntil(lambda: not w.rendering, timeout=120000)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        # rendered at 1280 where the live one is smaller: the same crop, at least as large
        assert abs(s.width / s.height - shown.size[0] / shown.size[1]) < 0.01
        assert s.height >= shown.size[1]
