"""The window, offscreen, with a video file as the camera (pytest-qt)."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from puppet.gui.settings import Settings  # noqa: E402
from puppet.gui.window import MainWindow  # noqa: E402
from puppet.live import LOOKING, RUNNING, SOURCE_FAILED  # noqa: E402

SIZE = 480  # small portraits keep the tests quick on a CPU


@pytest.fixture()
def ini(tmp_path):
    return str(tmp_path / "puppet.ini")


@pytest.fixture()
def open_window(qtbot, ini):
    opened = []

    def make(**kwargs) -> MainWindow:
        kwargs.setdefault("device", "cpu")
        kwargs.setdefault("size", SIZE)
        w = MainWindow(Settings(QSettings(ini, QSettings.Format.IniFormat)), **kwargs)
        w.show()
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


@pytest.fixture()
def clip(driving_clip):
    return str(driving_clip[0])


def overlay_fps(w: MainWindow) -> float:
    m = re.match(r"\s*([\d.]+) fps", w.portrait_view.overlay)
    return float(m.group(1)) if m else -1.0


def test_frames_arrive_and_the_overlay_shows_fps_and_latency(qtbot, open_window, clip):
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.frames_displayed >= 15, timeout=60000)
    qtbot.waitUntil(lambda: overlay_fps(w) > 0, timeout=10000)
    text = w.portrait_view.overlay
    assert "ms camera→screen" in text
    assert re.search(r"track [\d.]+ · retarget [\d.]+ · generate [\d.]+ · compose [\d.]+ ms", text)
    assert "generator on CPU" in text
    assert re.search(r"no frames dropped|\d+% of frames dropped", text)
    assert w.portrait_view.has_image and w.camera_view.has_image
    assert w.engine.state == RUNNING
    assert w.portrait_view.banner == ""
    assert w.state_label.text() == "Following the face"
    assert w.source_combo.currentText() == "Video: driver.mp4"
    # the overlay is switched off and on with its action
    w.act_stats.trigger()
    assert w.portrait_view.overlay == ""
    w.act_stats.trigger()
    qtbot.waitUntil(lambda: overlay_fps(w) > 0, timeout=5000)


def test_choosing_a_portrait_in_the_gallery(qtbot, open_window, clip, ini):
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    item = w.gallery.find("built-in:grace-oil")
    rect = w.gallery.visualItemRect(item)
    qtbot.mouseClick(w.gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w.engine.latest is not None
                    and w.engine.latest.portrait.source == "built-in:grace-oil", timeout=30000)
    assert w.gallery.currentItem().data(Qt.ItemDataRole.UserRole) == "built-in:grace-oil"
    assert w.windowTitle() == "Puppet — Grace, in oils"
    w.close()
    assert QSettings(ini, QSettings.Format.IniFormat).value("portrait") == "built-in:grace-oil"


def test_calibrate_button_and_hotkey(qtbot, open_window, clip):
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    qtbot.mouseClick(w.calibrate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Calibrated" in w.statusBar().currentMessage(), timeout=10000)
    n = sum(1 for e in w.engine.events if e.kind == "calibrated")
    assert n == 1
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # shortcuts go to the active window
    qtbot.keyClick(w, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: sum(1 for e in w.engine.events if e.kind == "calibrated") == 2,
                    timeout=10000)
    assert not w.message_bar.isVisible()


def test_the_window_says_when_another_face_is_followed(qtbot, open_window, two_people_clip):
    w = open_window(source=str(two_people_clip), portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: "Following another face" in w.statusBar().currentMessage(),
                    timeout=60000)
    assert "press C" in w.statusBar().currentMessage()


def test_a_first_window_fits_a_small_screen(qtbot, open_window, clip):
    """Without a remembered size the window takes 1400 x 900 where the screen has room,
    and less where it has not (this offscreen screen is 800 x 800, a laptop's 1366 x 768)."""
    from PySide6.QtWidgets import QApplication

    w = open_window(source=clip, portrait="built-in:grace-sepia")
    free = QApplication.primaryScreen().availableGeometry()
    least = w.minimumSizeHint()  # what the controls need, whatever the screen
    assert w.width() <= max(min(1400, free.width()), least.width())
    assert w.height() <= max(min(900, free.height()), least.height())
    assert w.width() >= min(1400, free.width()) * 0.8  # not needlessly small either
    # the controls fit an 800-pixel-wide screen (an unwrapped line under the portrait
    # kept the window 1015 pixels wide, its right side off such a screen)
    assert least.width() <= 800
    if free.width() <= 900:
        assert w.width() <= free.width()


def test_the_portrait_size_is_chosen_and_remembered(qtbot, open_window, clip, group_portrait):
    """The Size picker reads the portrait again at that size; the next window starts at
    the size chosen (without one given, as a user starts it)."""
    path = str(group_portrait[0])  # 1800 x 720
    w = open_window(source=clip, portrait=path, size=None)
    assert w.engine.size == 960 and w.size_combo.currentData() == 960
    qtbot.waitUntil(lambda: w.engine.latest is not None, timeout=60000)
    assert w.engine.portrait.size == (960, 384)
    w.size_combo.setCurrentIndex(w.size_combo.findData(640))
    w.size_combo.activated.emit(w.size_combo.currentIndex())
    qtbot.waitUntil(lambda: w.engine.portrait.size == (640, 256), timeout=30000)
    qtbot.waitUntil(lambda: w.engine.latest.frame.shape == (256, 640, 3), timeout=30000)
    w.close()
    w2 = open_window(source=clip, portrait=path, size=None)
    assert w2.engine.size == 640 and w2.size_combo.currentData() == 640


def test_a_click_on_a_face_in_the_camera_picture_makes_that_person_drive(qtbot, open_window,
                                                                        grace_photo, tmp_path):
    from conftest import two_people, write_clip

    # both always in view: without the click the near (larger) one drives throughout
    clip = write_clip(tmp_path / "both.mp4", [two_people(grace_photo, True)] * 25, 25)
    w = open_window(source=str(clip), portrait="built-in:grace-sepia")
    view = w.camera_view
    qtbot.waitUntil(lambda: view.has_image and w.engine.latest is not None
                    and w.engine.latest.face is not None, timeout=60000)
    rect, (iw, _ih) = view.target_rect(), view.image_size()
    scale = rect.width() / iw
    at = QPoint(round(rect.x() + 1060 * scale), round(rect.y() + 320 * scale))  # the far one
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at)
    qtbot.waitUntil(lambda: "Following another face" in w.statusBar().currentMessage(),
                    timeout=30000)
    qtbot.waitUntil(lambda: w.engine.latest.face is not None
                    and w.engine.latest.face.landmarks[:, 0].mean() > 640, timeout=30000)


def test_sliders_change_the_engine_and_are_remembered(qtbot, open_window, clip, ini):
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    w.expression_slider.slider.setValue(0)
    w.head_slider.slider.setValue(75)  # of 100 steps over 0..2: 1.5
    w.smoothing_slider.slider.setValue(10)
    st = w.engine.settings
    assert (st.expression, st.head, st.smoothing) == pytest.approx((0.0, 1.5, 0.1))
    assert w.expression_slider.value_label.text() == "0.00×"
    w.close()
    w2 = open_window(source=clip)
    st = w2.engine.settings
    assert (st.expression, st.head, st.smoothing) == pytest.approx((0.0, 1.5, 0.1))
    assert w2.head_slider.value_label.text() == "1.50×"
    w2.act_reset.trigger()
    assert w2.engine.settings.head == 1.0 and w2.engine.settings.expression == 1.0
    # one default smoothing everywhere: the window's, the command line's, the engine's
    from puppet.cli import build_parser
    from puppet.gui.settings import DEFAULTS
    from puppet.motion.retarget import RetargetSettings
    default = RetargetSettings().smoothing
    assert w2.engine.settings.smoothing == pytest.approx(default)
    assert DEFAULTS["smoothing"] == default
    args = build_parser().parse_args(["render", "--portrait", "p", "--driving", "d",
                                      "--output", "o.mp4"])
    assert args.smoothing == default
    assert f"{default:.2f}" in w2.findChild(QPushButton, "reset_sliders").toolTip()


def test_a_portrait_with_no_face_shows_an_error_and_keeps_the_old_one(qtbot, open_window, clip,
                                                                       tmp_path):
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 128, np.uint8))
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    w.handle_dropped([str(wall)])  # as if dropped on the window
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=30000)
    text = w.message_bar.text()
    assert "No face found" in text and "wall.png" in text
    assert "Still showing Grace, an old photograph" in text
    assert w.gallery.find(str(wall)) is None  # not added to the gallery
    assert w.engine.portrait.source == "built-in:grace-sepia"
    n = w.frames_displayed
    qtbot.waitUntil(lambda: w.frames_displayed > n + 5, timeout=30000)  # still alive


def test_a_start_up_portrait_with_no_face_falls_back_to_a_built_in_one(qtbot, open_window, clip,
                                                                       tmp_path):
    # nothing shown yet to keep: the window used to wait on "Loading the portrait..." for good
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 128, np.uint8))
    w = open_window(source=clip, portrait=str(wall))
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    assert w.engine.portrait.source.startswith("built-in:")
    qtbot.waitUntil(lambda: w.frames_displayed >= 5, timeout=60000)
    text = w.message_bar.text()  # the error stays up after the built-in one has loaded
    assert "No face found" in text and "wall.png" in text
    assert "Showing a built-in portrait instead" in text
    assert w.gallery.find(str(wall)) is None


def showing_own_portrait(qtbot, open_window, clip, picture, path):
    """A window showing ``picture``, saved at ``path`` and dropped on it."""
    cv2.imwrite(str(path), picture)
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    w.handle_dropped([str(path)])
    qtbot.waitUntil(lambda: w.engine.portrait is not None
                    and w.engine.portrait.source == str(path), timeout=60000)
    return w


def test_own_portraits_are_added_and_remembered(qtbot, open_window, clip, grace_photo, tmp_path):
    mine = tmp_path / "my portrait.jpg"
    w = showing_own_portrait(qtbot, open_window, clip, grace_photo, mine)
    assert w.gallery.find(str(mine)) is not None
    w.close()
    w2 = open_window(source=clip)
    assert w2.gallery.find(str(mine)) is not None
    qtbot.waitUntil(lambda: w2.engine.portrait is not None
                    and w2.engine.portrait.source == str(mine), timeout=60000)


def test_page_down_and_up_show_the_next_and_previous_portraits(qtbot, open_window, clip):
    """The keys moved only the gallery's highlight: the picture stayed as it was."""
    from PySide6.QtTest import QTest

    w = open_window(source=clip, portrait="built-in:grace-oil")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    order = w.gallery.sources()
    i = order.index("built-in:grace-oil")
    QTest.keyClick(w, Qt.Key.Key_PageDown)
    after = order[(i + 1) % len(order)]
    qtbot.waitUntil(lambda: w.engine.portrait.source == after, timeout=60000)
    assert w.gallery.currentItem().data(Qt.ItemDataRole.UserRole) == after
    QTest.keyClick(w, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: w.engine.portrait.source == "built-in:grace-oil", timeout=60000)


def test_removing_the_portrait_shown_shows_another_and_it_stays_removed(
        qtbot, open_window, clip, grace_photo, tmp_path):
    """It stayed on screen, remembered as the last portrait, and the next start put it back
    into the gallery."""
    mine = tmp_path / "mine.jpg"
    w = showing_own_portrait(qtbot, open_window, clip, grace_photo, mine)
    w.gallery.remove_requested.emit(str(mine))  # its context menu's Remove
    qtbot.waitUntil(lambda: w.engine.portrait.source != str(mine), timeout=60000)
    shown = w.engine.portrait.source
    assert w.gallery.find(str(mine)) is None
    assert w.gallery.currentItem().data(Qt.ItemDataRole.UserRole) == shown
    w.close()
    w2 = open_window(source=clip)
    qtbot.waitUntil(lambda: w2.engine.portrait is not None, timeout=60000)
    assert w2.engine.portrait.source == shown and w2.gallery.find(str(mine)) is None


def test_the_overlay_breaks_its_lines_to_fit_a_narrow_picture():
    from puppet.gui.widgets import _wrap_at_dots

    line = "track 6 · retarget 1 · generate 9 · compose 0.7 ms"
    assert _wrap_at_dots([line], 1000, len) == [line]
    assert _wrap_at_dots([line, "30 fps"], 30, len) == [
        "track 6 · retarget 1", "  generate 9 · compose 0.7 ms", "30 fps"]
    assert _wrap_at_dots(["no dots here at all"], 5, len) == ["no dots here at all"]


def test_heic_and_avif_portraits_are_added(qtbot, open_window, clip, grace_photo, tmp_path):
    """Qt reads neither here; the gallery's thumbnails come from Puppet's own reader, and
    a damaged photo says what it is."""
    from PIL import Image

    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    cut = tmp_path / "cut.heic"
    cut.write_bytes((Path(__file__).parents[1] / "data" / "grid.heic").read_bytes()[:3000])
    w.handle_dropped([str(cut)])
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=30000)
    assert "HEIC photo that cannot be read" in w.message_bar.text()
    assert w.gallery.find(str(cut)) is None
    heic = Path(__file__).parents[1] / "data" / "grid.heic"
    avif = tmp_path / "mine.avif"
    Image.fromarray(np.ascontiguousarray(grace_photo[..., ::-1])).save(avif, quality=90)
    for path in (heic, avif):
        w.handle_dropped([str(path)])
        qtbot.waitUntil(lambda p=path: w.engine.portrait.source == str(p), timeout=60000)
        item = w.gallery.find(str(path))
        assert item is not None and not item.icon().isNull()


def test_a_portrait_chosen_just_before_closing_is_remembered(qtbot, open_window, clip,
                                                             grace_photo, tmp_path):
    """The engine shows the new portrait, and the window closes before it has handled
    the news (no Qt events in between): the next start still shows that portrait."""
    mine = tmp_path / "just now.jpg"
    cv2.imwrite(str(mine), grace_photo)
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    w.handle_dropped([str(mine)])
    deadline = time.perf_counter() + 60
    while (w.engine.portrait is None or w.engine.portrait.source != str(mine)) \
            and time.perf_counter() < deadline:
        time.sleep(0.01)  # waiting without handing Qt its events
    w.close()
    w2 = open_window(source=clip)
    qtbot.waitUntil(lambda: w2.engine.portrait is not None
                    and w2.engine.portrait.source == str(mine), timeout=60000)


def test_a_face_of_a_group_portrait_is_chosen_and_remembered(qtbot, open_window, clip,
                                                            grace_photo, tmp_path):
    from puppet.artwork import builtin_path

    oil = cv2.imread(str(builtin_path("grace-oil")))
    pair = np.full((300, 560, 3), 96, np.uint8)
    for image, x in ((grace_photo, 10), (oil, 290)):
        pair[:, x:x + 256] = cv2.resize(image, (256, 300), interpolation=cv2.INTER_AREA)
    path = tmp_path / "pair.png"
    cv2.imwrite(str(path), pair)
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    assert not w.face_row.isVisibleTo(w)  # one face: nothing to choose
    w.choose_portrait(str(path))
    qtbot.waitUntil(lambda: w.engine.portrait.source == str(path) and w.face_row.isVisibleTo(w),
                    timeout=60000)
    assert w.face_choice.count() == 2
    assert "shows 2 faces" in w.face_label.text()
    first = w.engine.portrait.face_number
    other = 3 - first
    w.face_choice.setCurrentIndex(other - 1)
    w.face_choice.activated.emit(other - 1)
    qtbot.waitUntil(lambda: w.engine.portrait.face_number == other, timeout=60000)
    right = w.engine.portrait.face.landmarks[:, 0].mean() > 240
    assert right == (other == 2)  # counted from the left
    qtbot.waitUntil(lambda: w.face_choice.currentIndex() == other - 1, timeout=10000)
    # a click on the first face brings it back to life (and a click beside both, nothing)
    view = w.portrait_view
    qtbot.waitUntil(lambda: view.image_size() == w.engine.portrait.size, timeout=10000)
    rect, (iw, _ih) = view.target_rect(), view.image_size()

    def click_at(x, y):  # image pixels (the aspect is kept: one scale)
        scale = rect.width() / iw
        at = QPoint(round(rect.x() + x * scale), round(rect.y() + y * scale))
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at)

    click_at(280, 5)  # the grey gap between the two pictures, at the top
    time.sleep(0.3)
    assert w.engine.portrait.face_number == other
    x0, y0, x1, y1 = w.engine.portrait.face_boxes[first - 1]
    # the pointer says where a click does something: a face that does not move yet
    assert w.portrait_view.clickable((x0 + x1) / 2, (y0 + y1) / 2)
    assert not w.portrait_view.clickable(280, 5)
    moving = w.engine.portrait.face_boxes[other - 1]
    assert not w.portrait_view.clickable((moving[0] + moving[2]) / 2, (moving[1] + moving[3]) / 2)
    click_at((x0 + x1) / 2, (y0 + y1) / 2)
    qtbot.waitUntil(lambda: w.engine.portrait.face_number == first, timeout=60000)
    assert w.face_choice.currentIndex() == first - 1
    click_at(*w.engine.portrait.face_boxes[other - 1][:2])  # its box's corner: still it
    qtbot.waitUntil(lambda: w.engine.portrait.face_number == other, timeout=60000)
    w.close()
    # the next start shows the same face of that portrait
    w2 = open_window(source=clip)
    qtbot.waitUntil(lambda: w2.engine.portrait is not None
                    and w2.engine.portrait.source == str(path), timeout=60000)
    assert w2.engine.portrait.face_number == other
    qtbot.waitUntil(lambda: w2.face_row.isVisibleTo(w2), timeout=10000)
    assert w2.face_choice.currentIndex() == other - 1
    # a portrait with one face hides the choice again
    w2.choose_portrait("built-in:grace-oil")
    qtbot.waitUntil(lambda: w2.engine.portrait.source == "built-in:grace-oil"
                    and not w2.face_row.isVisibleTo(w2), timeout=60000)


def test_a_picture_chosen_as_the_video_says_so(qtbot, open_window, builtin_portrait_path):
    w = open_window(source=str(builtin_portrait_path), portrait="built-in:grace-oil")
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=30000)
    text = w.message_bar.text()
    assert "is a still picture, not a video. Give a video of a face" in text, text


def test_a_camera_that_does_not_exist_is_shown_in_the_window(qtbot, open_window):
    w = open_window(source="63", portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=30000)
    assert "Camera 63 does not exist" in w.message_bar.text()
    assert "under Source" in w.message_bar.text()
    # re-chosen without a restart: the demo performance from the picker
    combo = w.source_combo
    i = next(i for i in range(combo.count()) if "Demo" in combo.itemText(i))
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=30000)
    assert not w.message_bar.isVisible()


def test_a_source_that_fails_while_running_can_be_chosen_again(qtbot, open_window, clip):
    from test_live import FailingCamera

    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=60000)
    w.engine.set_source(FailingCamera(clip, 8))
    qtbot.waitUntil(lambda: w.engine.state == SOURCE_FAILED, timeout=30000)
    qtbot.waitUntil(lambda: "camera 9 stopped" in w.message_bar.text().lower(), timeout=5000)
    assert "source stopped" in w.portrait_view.banner.lower()
    w.choose_source(w.source_combo.itemData(0) if w.source_combo.itemData(0) else
                    w.engine.source_spec)
    w.act_demo.trigger()
    qtbot.waitUntil(lambda: w.engine.state == RUNNING, timeout=30000)
    assert not w.message_bar.isVisible()


def test_looking_for_a_face(qtbot, open_window, tmp_path):
    from conftest import write_clip

    frames = [np.full((240, 320, 3), 80, np.uint8)] * 12
    wall = write_clip(tmp_path / "wall.mp4", frames, 24)
    w = open_window(source=str(wall), portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.state == LOOKING, timeout=60000)
    qtbot.waitUntil(lambda: w.portrait_view.banner == "Looking for a face…", timeout=5000)
    assert w.state_label.text() == "Looking for a face"


def test_no_camera_at_all_starts_the_demo_performance(qtbot, open_window, monkeypatch):
    import puppet.gui.window as window_module

    monkeypatch.setattr(window_module, "list_cameras", lambda: [])
    w = open_window()
    qtbot.waitUntil(lambda: w.frames_displayed >= 10, timeout=60000)
    assert w.engine.source_spec.kind == "performance"
    assert "demo performance" in w.message_bar.text()
    assert w.message_bar.kind == "info"
    assert w.camera_view.overlay == "demo performance"
    assert w.source_combo.currentText() == "Demo performance (no camera)"


def test_fullscreen_and_back(qtbot, open_window, clip):
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # shortcuts go to the active window
    qtbot.keyClick(w, Qt.Key.Key_F)
    assert w.is_fullscreen and not w.side.isVisible() and not w.gallery_row.isVisible()
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert not w.is_fullscreen and w.side.isVisible() and w.gallery_row.isVisible()


def test_cuda_chosen_where_it_cannot_run_is_said_in_the_windows_words(qtbot, open_window,
                                                                      clip):
    from puppet.generators.runtime import nvidia_driver_present

    if nvidia_driver_present():
        pytest.skip("a GPU here: CUDA may run")
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.portrait is not None, timeout=60000)
    w.device_combo.setCurrentIndex(w.device_combo.findData("cuda"))
    w.device_combo.activated.emit(w.device_combo.currentIndex())
    qtbot.waitUntil(lambda: "CUDA was asked for" in w.message_bar.text(), timeout=30000)
    text = w.message_bar.text()
    assert "Choose CPU or Auto under Generator" in text and "--device" not in text
    assert w.device_combo.currentData() != "cuda"  # back to what runs


def test_a_recordings_folder_that_cannot_be_made_says_where_to_choose_another(
        qtbot, open_window, clip):
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.engine.latest is not None, timeout=60000)
    w.settings.set("record_folder", "/proc/puppet-recordings")  # no one can make it
    w.start_recording()
    text = w.message_bar.text()
    assert "Cannot record: Cannot create the recordings folder /proc/puppet-recordings" in text
    assert text.endswith("Choose another with the Folder… button under Record and share.")
    assert not w.outputs.recording


def test_a_recording_stopped_at_once_is_not_called_a_failure(qtbot, open_window, clip):
    from puppet.outputs.recorder import RecordingResult

    w = open_window(source=clip, portrait="built-in:grace-sepia")
    w._on_recording_done(RecordingResult(video=None, performance=None, seconds=0.02, frames=0,
                                         sound=False, dropped=0, note="",
                                         error="nothing was recorded: no frame arrived"))
    assert w.message_bar.kind == "info"  # it read "Nothing was recorded: nothing was ..."
    assert w.message_bar.text().endswith(
        "Nothing was recorded: it was stopped before its first frame.")


def test_fullscreen_shows_the_portrait_alone(qtbot, open_window, clip, group_portrait,
                                            monkeypatch):
    """A group portrait's face row stayed below it, and a message (a recording started)
    stayed across it until fullscreen was left: a message now shows for a few seconds."""
    import puppet.gui.window as window

    monkeypatch.setattr(window, "FULLSCREEN_MESSAGE_MS", 300)
    w = open_window(source=clip, portrait=str(group_portrait[0]))
    qtbot.waitUntil(lambda: w.engine.portrait is not None and w.face_row.isVisible(),
                    timeout=60000)
    w.toggle_fullscreen()
    assert not w.face_row.isVisible()
    w.show_info("Recording to somewhere", "recording")
    assert w.message_bar.isVisible()
    qtbot.waitUntil(lambda: not w.message_bar.isVisible(), timeout=5000)
    w.leave_fullscreen()
    assert w.face_row.isVisible() and w.message_bar.isVisible()  # kept for afterwards
    assert "Recording to somewhere" in w.message_bar.text()
    # out of fullscreen a message stays until it is closed or solved, as before
    w.show_error("Something failed", "other")
    qtbot.wait(600)
    assert w.message_bar.isVisible()


def test_closing_the_window_stops_every_thread(qtbot, open_window, clip):
    before = set(threading.enumerate())
    w = open_window(source=clip, portrait="built-in:grace-sepia")
    qtbot.waitUntil(lambda: w.frames_displayed >= 5, timeout=60000)
    during = {t.name for t in threading.enumerate()} - {t.name for t in before}
    assert {"puppet-live-track", "puppet-live-render", "puppet-live-control"} <= during
    w.close()
    assert set(threading.enumerate()) <= before


def test_the_readme_lists_the_windows_shortcuts(qtbot, open_window):
    w = open_window(source="demo")
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Keyboard shortcuts", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", section, re.M)[2:]  # after the header
    listed = {keys.replace("`", "") for keys, _ in rows}
    shown = {keys for keys, _ in w.shortcut_table(native=False)}
    assert listed == shown


def test_the_framing_is_chosen_and_remembered(qtbot, open_window, clip, full_length):
    """Framing → Head and shoulders reads the portrait again as a crop around its face;
    the next window starts with it."""
    path = str(full_length[0])  # 1600 x 2400, a small face high up
    w = open_window(source=clip, portrait=path)
    assert w.engine.framing == "whole" and w.framing_combo.currentData() == "whole"
    qtbot.waitUntil(lambda: w.engine.latest is not None, timeout=60000)
    whole = w.engine.portrait.size
    assert "Head and shoulders (H)" in w.message_bar.text()  # the small face is pointed out
    w.framing_combo.setCurrentIndex(w.framing_combo.findData("head"))
    w.framing_combo.activated.emit(w.framing_combo.currentIndex())
    qtbot.waitUntil(lambda: w.engine.portrait.framing == "head", timeout=30000)
    head = w.engine.portrait.size
    assert head != whole and abs(head[0] / head[1] - 0.8) < 0.02
    qtbot.waitUntil(lambda: w.engine.latest.frame.shape == (head[1], head[0], 3),
                    timeout=30000)
    assert w.act_head.isChecked()  # the View menu agrees
    assert "Head and shoulders" not in w.message_bar.text()
    w.close()
    w2 = open_window(source=clip, portrait=path)
    assert w2.engine.framing == "head" and w2.framing_combo.currentData() == "head"
    assert w2.act_head.isChecked()
    qtbot.waitUntil(lambda: w2.engine.latest is not None, timeout=60000)
    assert w2.engine.portrait.size == head
    w2.activateWindow()
    qtbot.waitUntil(w2.isActiveWindow, timeout=5000)  # shortcuts go to the active window
    qtbot.keyClick(w2, Qt.Key.Key_H)  # H: back to the whole picture
    qtbot.waitUntil(lambda: w2.engine.portrait.framing == "whole", timeout=30000)
    assert w2.framing_combo.currentData() == "whole" and not w2.act_head.isChecked()
