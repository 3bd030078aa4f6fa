"""Puppet's main window: the living portrait, the camera, the gallery and the controls.

The window never waits for the engine: the engine renders in its own threads
and tells the window about a new frame through a queued signal (at most one
waiting at a time, so a busy window skips frames instead of piling them up);
slow choices (a portrait, a camera, a device) go to the engine's control thread
and come back as events.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from puppet import __version__
from puppet.artwork import BUILTIN, builtin_path
from puppet.errors import PuppetError
from puppet.generators import base as generators
from puppet.gui.settings import Settings
from puppet.gui.widgets import Gallery, ImageView, MessageBar, RateMeter, SliderRow
from puppet.live import (
    BUILTIN_PREFIX,
    ENDED,
    EVENT_CALIBRATED,
    EVENT_GENERATOR,
    EVENT_GENERATOR_ERROR,
    EVENT_PORTRAIT,
    EVENT_PORTRAIT_ERROR,
    EVENT_SINK_ERROR,
    EVENT_SOURCE,
    EVENT_SOURCE_ENDED,
    EVENT_SOURCE_ERROR,
    EVENT_STATE,
    LIVE_SIZE,
    LOOKING,
    NO_SOURCE,
    SOURCE_FAILED,
    STARTING,
    LiveEngine,
    LiveEvent,
)
from puppet.motion.retarget import RetargetSettings
from puppet.portrait import IMAGE_TYPES
from puppet.sources.camera import CameraInfo, list_cameras
from puppet.sources.live import SourceSpec, parse_source

VIDEO_TYPES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
DEVICES = [("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda")]
DEMO_PORTRAIT = f"{BUILTIN_PREFIX}grace-oil"
BANNERS = {
    LOOKING: "Looking for a face…",
    SOURCE_FAILED: "The source stopped: choose one on the right",
    NO_SOURCE: "Choose a source on the right",
    ENDED: "The video has ended",
}


def _framed(points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Points moved into a canvas of the view's shape around them (the face fills it)."""
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h = 1.5 * max(y1 - y0, (x1 - x0) * height / max(width, 1), 1.0)
    w = h * width / max(height, 1)
    return points - np.array([cx - w / 2, cy - h / 2]), (max(1, int(w)), max(1, int(h)))


class EngineBridge(QObject):
    """Carries the engine's news into the GUI thread as queued signals."""

    frame_ready = Signal()
    event = Signal(object)
    cameras_found = Signal(object)

    def __init__(self, engine: LiveEngine):
        super().__init__()
        self._pending = False
        self._lock = threading.Lock()
        engine.add_listener(self._on_output)
        engine.on_event(self.event.emit)

    def _on_output(self, _output) -> None:
        # at most one frame signal waits in the GUI's queue: a busy window skips frames
        with self._lock:
            if self._pending:
                return
            self._pending = True
        self.frame_ready.emit()

    def taken(self) -> None:
        with self._lock:
            self._pending = False


class MainWindow(QMainWindow):
    """The window.  ``source``, ``portrait`` and ``device`` override the remembered ones."""

    def __init__(self, settings: Settings, source: str | None = None,
                 portrait: str | None = None, device: str | None = None,
                 size: int = LIVE_SIZE):
        super().__init__()
        self.settings = settings
        self.setWindowTitle("Puppet")
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.rate = RateMeter()
        self._drops: list[tuple[float, int, int]] = []
        self.frames_displayed = 0
        self._last_counted = 0.0
        self._fullscreen = False
        self._cameras: list[CameraInfo] = []
        self._camera_thread: threading.Thread | None = None
        self._requested_portrait = ""
        self._fresh_portraits: set[str] = set()  # added just now: dropped again if no face
        self._video_path = ""
        self._closed = False
        self._start_source = source
        self._start_device = device

        dev = device or settings.get("device")
        if dev not in ("auto", "cpu", "cuda"):
            dev = "auto"
        self.engine = LiveEngine(size=size, device=dev,
                                 generator=settings.get("generator"),
                                 settings=self._slider_settings_from_store(),
                                 mirror=settings.get("mirror"))
        self.bridge = EngineBridge(self.engine)
        self.bridge.frame_ready.connect(self._show_frame)
        self.bridge.event.connect(self._on_event)
        self.bridge.cameras_found.connect(self._on_cameras)

        self._build_ui()
        self._build_actions()
        self._fill_gallery()
        geometry = settings.store.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

        self.stats_timer = QTimer(self)
        self.stats_timer.timeout.connect(self._refresh_stats)
        self.stats_timer.start(250)

        self.engine.start()
        self.choose_portrait(portrait or settings.get("portrait"), startup=True)
        self.refresh_cameras(startup=True)

    # ------------------------------------------------------------------ building
    def _build_ui(self) -> None:
        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.setSpacing(10)

        left = QVBoxLayout()
        left.setSpacing(8)
        self.message_bar = MessageBar()
        self.portrait_view = ImageView("Loading the portrait…")
        self.portrait_view.setToolTip("Double-click (or press F) for fullscreen")
        self.portrait_view.on_painted = self._painted
        self.portrait_view.mouseDoubleClickEvent = lambda _e: self.toggle_fullscreen()
        left.addWidget(self.message_bar)
        left.addWidget(self.portrait_view, 1)

        self.gallery_row = QWidget()
        column = QVBoxLayout(self.gallery_row)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        heading = QLabel("Portraits: click one to bring it to life. Add your own with Open… "
                         "or by dropping image files on the window.")
        heading.setStyleSheet("color: palette(mid);")
        column.addWidget(heading)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        self.gallery = Gallery()
        self.gallery.itemClicked.connect(lambda item: self.choose_portrait(item.data(
            Qt.ItemDataRole.UserRole)))
        self.gallery.remove_requested.connect(self.remove_user_portrait)
        self.open_button = QToolButton()
        self.open_button.setText("+\nOpen…")
        self.open_button.setToolTip("Add your own portraits (JPEG, PNG …); you can also drop "
                                    "image files on the window (Ctrl+O)")
        self.open_button.clicked.connect(self.open_portraits)
        self.open_button.setFixedSize(96, 96)
        row.addWidget(self.gallery, 1)
        row.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignVCenter)
        left.addWidget(self.gallery_row)
        outer.addLayout(left, 1)

        self.side = QWidget()
        self.side.setFixedWidth(340)
        side = QVBoxLayout(self.side)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(10)

        drv = QGroupBox("Source")
        dl = QVBoxLayout(drv)
        self.camera_view = ImageView("No source yet")
        self.camera_view.setFixedHeight(230)
        self.camera_view.setMinimumWidth(300)
        dl.addWidget(self.camera_view)
        srow = QHBoxLayout()
        self.source_combo = QComboBox()
        self.source_combo.setToolTip("Where the face comes from: a camera, a video file played "
                                     "like a camera, or the built-in demo performance")
        self.source_combo.activated.connect(self._source_activated)
        self.source_combo.setPlaceholderText("Choose a source…")
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Look for cameras again (F5)")
        self.refresh_button.clicked.connect(lambda: self.refresh_cameras())
        srow.addWidget(self.source_combo, 1)
        srow.addWidget(self.refresh_button)
        dl.addLayout(srow)
        self.calibrate_button = QPushButton("Calibrate  (C)")
        self.calibrate_button.setToolTip("Look at the camera with a relaxed face, then press: "
                                         "your face as it is now becomes the portrait's neutral "
                                         "face")
        self.calibrate_button.setMinimumHeight(34)
        self.calibrate_button.clicked.connect(self.calibrate)
        dl.addWidget(self.calibrate_button)
        tip = QLabel("Face the camera, relax, then press Calibrate: the portrait takes your "
                     "face as it is now for its own.")
        tip.setWordWrap(True)
        tip.setStyleSheet("color: palette(mid);")
        dl.addWidget(tip)
        side.addWidget(drv)

        motion = QGroupBox("Motion")
        ml = QVBoxLayout(motion)
        st = self.engine.settings
        self.expression_slider = SliderRow(
            "Expression", 0.0, 2.0, st.expression, "{:.2f}×",
            "How strongly your expressions are copied (1 = as you do them, 0 = none)")
        self.head_slider = SliderRow(
            "Head motion", 0.0, 2.0, st.head, "{:.2f}×",
            "How strongly your head's turns, tilts and moves are copied")
        self.smoothing_slider = SliderRow(
            "Smoothing", 0.0, 1.0, st.smoothing, "{:.2f}",
            "Calms jitter; fast moves are not slowed down (0 = raw, 1 = heavy)")
        for s in (self.expression_slider, self.head_slider, self.smoothing_slider):
            s.changed.connect(self._sliders_changed)
            ml.addWidget(s)
        reset = QPushButton("Reset")
        reset.setToolTip("Back to 1×, 1× and 0.50 (Ctrl+R)")
        reset.clicked.connect(self.reset_sliders)
        ml.addWidget(reset, 0, Qt.AlignmentFlag.AlignRight)
        side.addWidget(motion)

        gen = QGroupBox("Generator")
        gl = QFormLayout(gen)
        self.generator_combo = QComboBox()
        for name in generators.available():
            self.generator_combo.addItem(name, name)
        self.generator_combo.setCurrentIndex(max(0, self.generator_combo.findData(
            self.engine.generator_name)))
        self.device_combo = QComboBox()
        for label, dev in DEVICES:
            self.device_combo.addItem(label, dev)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(self.engine.device)))
        self.device_combo.setToolTip("Auto uses CUDA where it really works, else the CPU")
        self.generator_combo.activated.connect(self._generator_chosen)
        self.device_combo.activated.connect(self._generator_chosen)
        self.provider_label = QLabel("Starting…")
        self.provider_label.setWordWrap(True)
        self.provider_label.setStyleSheet("color: palette(mid);")
        gl.addRow("Model", self.generator_combo)
        gl.addRow("Device", self.device_combo)
        gl.addRow("Runs on", self.provider_label)
        side.addWidget(gen)
        side.addStretch(1)
        hint = QLabel("F1: keyboard shortcuts")
        hint.setStyleSheet("color: palette(mid);")
        side.addWidget(hint)
        outer.addWidget(self.side)
        self.setCentralWidget(central)

        self.state_label = QLabel("Starting…")
        self.source_label = QLabel("")
        self.statusBar().addWidget(self.state_label, 1)
        self.statusBar().addPermanentWidget(self.source_label)

    def _build_actions(self) -> None:
        def action(text: str, keys: list[str], slot, checkable: bool = False,
                   checked: bool = False) -> QAction:
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if checkable:
                a.setCheckable(True)
                a.setChecked(checked)
                a.toggled.connect(slot)
            else:
                a.triggered.connect(slot)
            self.addAction(a)  # shortcuts work with the menu bar hidden (fullscreen)
            return a

        # in the order the Help menu lists them (and the README)
        self.act_calibrate = action("&Calibrate (your face now is neutral)", ["C"],
                                    self.calibrate)
        self.act_fullscreen = action("&Fullscreen portrait", ["F11", "F"], self.toggle_fullscreen)
        self.act_leave = action("Leave fullscreen", ["Esc"], self.leave_fullscreen)
        self.act_stats = action("Show &fps and latency", ["I"], self._stats_toggled, True,
                                self.settings.get("show_stats"))
        self.act_landmarks = action("Show &landmarks on the camera", ["L"],
                                    self._landmarks_toggled, True,
                                    self.settings.get("show_landmarks"))
        self.act_mirror = action("&Mirror the camera", ["M"], self._mirror_toggled, True,
                                 self.settings.get("mirror"))
        self.act_demo = action("Use the &demo performance", ["D"],
                               lambda: self.choose_source(SourceSpec("performance")))
        self.act_refresh = action("Look for cameras again", ["F5"], lambda: self.refresh_cameras())
        self.act_next = action("&Next portrait", ["PgDown"], lambda: self.step_portrait(1))
        self.act_prev = action("&Previous portrait", ["PgUp"], lambda: self.step_portrait(-1))
        self.act_reset = action("&Reset the sliders", ["Ctrl+R"], self.reset_sliders)
        self.act_open = action("&Open portraits…", ["Ctrl+O"], self.open_portraits)
        self.act_video = action("Use a &video file as the camera…", ["Ctrl+Shift+O"],
                                self.open_video)
        self.act_keys = action("&Keyboard shortcuts", ["F1"], self.show_shortcuts)
        self.act_quit = action("&Quit", ["Ctrl+Q"], self.close)
        self.act_about = action("&About Puppet", [], self.show_about)

        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addActions([self.act_open, self.act_video])
        m.addSeparator()
        m.addAction(self.act_quit)
        m = bar.addMenu("&Source")
        m.addActions([self.act_calibrate, self.act_demo, self.act_video, self.act_refresh,
                      self.act_mirror])
        m = bar.addMenu("&View")
        m.addActions([self.act_fullscreen, self.act_stats, self.act_landmarks])
        m.addSeparator()
        m.addActions([self.act_next, self.act_prev, self.act_reset])
        m = bar.addMenu("&Help")
        m.addActions([self.act_keys, self.act_about])

    def shortcut_table(self, native: bool = True) -> list[tuple[str, str]]:
        """(keys, what they do) for every action with a shortcut, as the Help menu shows
        (``native``: written as this system writes them, e.g. ⌘O on a Mac)."""
        fmt = QKeySequence.SequenceFormat.NativeText if native else \
            QKeySequence.SequenceFormat.PortableText
        seen, rows = set(), []
        for a in self.actions():
            keys = [k.toString(fmt) for k in a.shortcuts()]
            if not keys or a in seen:
                continue
            seen.add(a)
            rows.append((" or ".join(keys), a.text().replace("&", "").rstrip("…")))
        return rows

    # ------------------------------------------------------------------ gallery
    def _fill_gallery(self) -> None:
        for name, (_file, title) in BUILTIN.items():
            try:
                self.gallery.add_portrait(f"{BUILTIN_PREFIX}{name}", title, builtin_path(name),
                                          user=False)
            except PuppetError as exc:
                self.show_error(exc.message, "gallery")
        gone = []
        for path in self.settings.get("user_portraits"):
            if not Path(path).is_file() or not self.gallery.add_portrait(
                    path, Path(path).stem, path, user=True):
                gone.append(path)
        if gone:
            self._save_user_portraits()
            names = ", ".join(Path(p).name for p in gone)
            self.show_info(f"Removed from the gallery, as the files are gone or unreadable: "
                           f"{names}", "gallery")

    def _save_user_portraits(self) -> None:
        self.settings.set("user_portraits", self.gallery.sources(user_only=True))

    def add_user_portraits(self, paths: list[str]) -> list[str]:
        """Add image files to the gallery; returns those added (the unreadable are reported)."""
        added, bad = [], []
        for p in paths:
            path = str(Path(p).resolve())
            if self.gallery.find(path) is not None:
                added.append(path)
            elif self.gallery.add_portrait(path, Path(path).stem, path, user=True):
                added.append(path)
                self._fresh_portraits.add(path)
            else:
                bad.append(Path(path).name)
        if bad:
            self.show_error(f"Not an image that can be read: {', '.join(bad)}. Use JPEG, PNG, "
                            "BMP, WebP or TIFF files.", "portrait")
        self._save_user_portraits()
        return added

    def remove_user_portrait(self, source: str) -> None:
        self.gallery.remove(source)
        self._save_user_portraits()
        current = self.engine.portrait
        if current is not None:
            self.gallery.select(current.source)

    def open_portraits(self) -> None:
        kinds = " ".join(f"*{s}" for s in IMAGE_TYPES)
        files, _ = QFileDialog.getOpenFileNames(self, "Open portraits",
                                                self.settings.get("last_folder"),
                                                f"Images ({kinds});;All files (*)")
        if files:
            self.settings.set("last_folder", str(Path(files[0]).parent))
            added = self.add_user_portraits(files)
            if added:
                self.choose_portrait(added[0])

    def step_portrait(self, step: int) -> None:
        n = self.gallery.count()
        if not n:
            return
        row = self.gallery.currentRow()
        self.gallery.setCurrentRow((row + step) % n if row >= 0 else 0)

    def choose_portrait(self, source: str, startup: bool = False) -> None:
        """Ask the engine for this portrait (it loads off the GUI thread)."""
        if not source:
            return
        current = self.engine.portrait
        if current is not None and current.source == source:
            return
        if source == self._requested_portrait and not startup:
            return
        self._requested_portrait = source
        if startup and not source.startswith(BUILTIN_PREFIX) and not Path(source).is_file():
            self.show_info(f"The last portrait, {Path(source).name}, is gone; showing a "
                           f"built-in one.", "portrait")
            source = DEMO_PORTRAIT
            self._requested_portrait = source
        if not source.startswith(BUILTIN_PREFIX) and self.gallery.find(source) is None:
            self.add_user_portraits([source])  # e.g. given with --portrait
        name = BUILTIN[source[len(BUILTIN_PREFIX):]][1] if source.startswith(BUILTIN_PREFIX) \
            and source[len(BUILTIN_PREFIX):] in BUILTIN else Path(source).name
        self.state_label.setText(f"Loading {name}…")
        self.engine.set_portrait(source)

    # ------------------------------------------------------------------ sources
    def refresh_cameras(self, startup: bool = False) -> None:
        """List the cameras off the GUI thread (probing can be slow on some systems)."""
        if self._camera_thread is not None and self._camera_thread.is_alive():
            return

        def work() -> None:
            try:
                cams = list_cameras()
            except Exception:  # noqa: BLE001 - no list is shown as no camera
                cams = []
            if not self._closed:
                self.bridge.cameras_found.emit((cams, startup))

        self._camera_thread = threading.Thread(target=work, name="puppet-gui-cameras",
                                               daemon=True)
        self._camera_thread.start()

    def _on_cameras(self, found) -> None:
        cams, startup = found
        self._cameras = cams
        self._fill_source_combo()
        if startup:
            self._start_first_source()

    def _start_first_source(self) -> None:
        wanted = self._start_source if self._start_source is not None \
            else self.settings.get("source")
        spec = None
        note = ""
        if wanted:
            try:
                spec = parse_source(wanted, loop=True)
            except PuppetError:
                spec = None
            if spec is not None and spec.kind == "camera" and \
                    spec.index not in [c.index for c in self._cameras] and \
                    self._start_source is None:
                note = f"Camera {spec.index} is not connected, "
                spec = None
            elif spec is not None and spec.kind == "video" and not Path(spec.path).is_file() \
                    and self._start_source is None:
                note = f"The video {Path(spec.path).name} is gone, "
                spec = None
        if spec is None:
            if self._cameras:
                spec = SourceSpec("camera", index=self._cameras[0].index)
            else:
                spec = SourceSpec("performance")
                self.show_info((note or "No camera was found, ") + "so the portrait follows "
                               "the built-in demo performance. Connect a camera, or choose a "
                               "video file under Source.", "source")
        self.choose_source(spec)

    def _fill_source_combo(self) -> None:
        combo = self.source_combo
        combo.blockSignals(True)
        combo.clear()
        for cam in self._cameras:
            combo.addItem(cam.label, SourceSpec("camera", index=cam.index))
        if not self._cameras:
            combo.addItem("No camera found", None)
            item = combo.model().item(combo.count() - 1)
            item.setEnabled(False)
        combo.addItem("Demo performance (no camera)", SourceSpec("performance"))
        if self._video_path:
            combo.addItem(f"Video: {Path(self._video_path).name}",
                          SourceSpec("video", path=self._video_path, loop=True))
        combo.addItem("Video file…", "pick-video")
        combo.blockSignals(False)
        self._select_source_in_combo()

    def _select_source_in_combo(self) -> None:
        spec = self.engine.source_spec if self.engine.source is not None else None
        combo = self.source_combo
        if spec is None:
            combo.blockSignals(True)
            combo.setCurrentIndex(-1)  # shows the placeholder: nothing is running
            combo.blockSignals(False)
            return
        for i in range(combo.count()):
            data = combo.itemData(i)
            if isinstance(data, SourceSpec) and spec is not None and \
                    data.kind == spec.kind and data.index == spec.index and \
                    data.path == spec.path:
                combo.blockSignals(True)
                combo.setCurrentIndex(i)
                combo.blockSignals(False)
                return

    def _source_activated(self, index: int) -> None:
        data = self.source_combo.itemData(index)
        if data == "pick-video":
            self._select_source_in_combo()
            self.open_video()
        elif isinstance(data, SourceSpec):
            self.choose_source(data)

    def open_video(self) -> None:
        kinds = " ".join(f"*{s}" for s in VIDEO_TYPES)
        path, _ = QFileDialog.getOpenFileName(self, "Use a video file as the camera",
                                              self.settings.get("last_folder"),
                                              f"Videos ({kinds});;All files (*)")
        if path:
            self.settings.set("last_folder", str(Path(path).parent))
            self.choose_source(SourceSpec("video", path=str(Path(path).resolve()), loop=True))

    def choose_source(self, spec: SourceSpec) -> None:
        self.state_label.setText(f"Opening the {spec.label}…")
        self.engine.set_source(spec)

    def _mirror_toggled(self, on: bool) -> None:
        self.settings.set("mirror", on)
        self.engine.mirror = on
        spec = self.engine.source_spec
        if spec is not None and spec.kind == "camera":
            self.choose_source(spec)  # re-open it mirrored (or not)

    # ------------------------------------------------------------------ controls
    def _slider_settings_from_store(self) -> RetargetSettings:
        try:
            return RetargetSettings(expression=min(2.0, max(0.0, self.settings.get("expression"))),
                                    head=min(2.0, max(0.0, self.settings.get("head"))),
                                    smoothing=min(1.0, max(0.0, self.settings.get("smoothing"))))
        except ValueError:
            return RetargetSettings()

    def _sliders_changed(self, _value: float = 0.0) -> None:
        st = RetargetSettings(expression=self.expression_slider.value(),
                              head=self.head_slider.value(),
                              smoothing=self.smoothing_slider.value())
        self.engine.update_settings(st)
        self.settings.set("expression", st.expression)
        self.settings.set("head", st.head)
        self.settings.set("smoothing", st.smoothing)

    def reset_sliders(self) -> None:
        d = RetargetSettings()
        self.expression_slider.set_value(d.expression)
        self.head_slider.set_value(d.head)
        self.smoothing_slider.set_value(d.smoothing)

    def calibrate(self) -> None:
        try:
            self.engine.calibrate()
        except PuppetError as exc:
            self.show_error(exc.message, "calibrate")

    def _generator_chosen(self, _index: int = 0) -> None:
        name = self.generator_combo.currentData()
        device = self.device_combo.currentData()
        self.provider_label.setText("Starting…")
        self.engine.set_generator(name, device)

    def _stats_toggled(self, on: bool) -> None:
        self.settings.set("show_stats", on)
        if not on:
            self.portrait_view.set_overlay("")
        else:
            self._refresh_stats()

    def _landmarks_toggled(self, on: bool) -> None:
        self.settings.set("show_landmarks", on)

    # ------------------------------------------------------------------ fullscreen
    def toggle_fullscreen(self) -> None:
        if self._fullscreen:
            self.leave_fullscreen()
        else:
            self._fullscreen = True
            for w in (self.side, self.gallery_row, self.message_bar, self.menuBar(),
                      self.statusBar()):
                w.hide()
            self.centralWidget().layout().setContentsMargins(0, 0, 0, 0)
            self.showFullScreen()

    def leave_fullscreen(self) -> None:
        if not self._fullscreen:
            return
        self._fullscreen = False
        for w in (self.side, self.gallery_row, self.menuBar(), self.statusBar()):
            w.show()
        if self.message_bar.topic:
            self.message_bar.show()
        self.centralWidget().layout().setContentsMargins(8, 8, 8, 8)
        self.showNormal()

    @property
    def is_fullscreen(self) -> bool:
        return self._fullscreen

    # ------------------------------------------------------------------ messages
    def show_error(self, text: str, topic: str = "") -> None:
        self.message_bar.show_message(text, "error", topic)
        if self._fullscreen:
            self.statusBar().showMessage(text, 8000)

    def show_info(self, text: str, topic: str = "") -> None:
        self.message_bar.show_message(text, "info", topic)

    # ------------------------------------------------------------------ engine news
    def _on_event(self, ev: LiveEvent) -> None:
        if self._closed:
            return
        if ev.kind == EVENT_PORTRAIT:
            portrait = ev.value
            self._requested_portrait = ""
            self._fresh_portraits.discard(portrait.source)
            self.gallery.select(portrait.source)
            self.settings.set("portrait", portrait.source)
            self.setWindowTitle(f"Puppet — {portrait.name}")
            self.message_bar.clear_topic("portrait")
            self._update_state_text()
        elif ev.kind == EVENT_PORTRAIT_ERROR:
            failed = str(ev.value)
            self._requested_portrait = ""
            text = ev.message
            if failed in self._fresh_portraits:
                self._fresh_portraits.discard(failed)
                self.gallery.remove(failed)
                self._save_user_portraits()
                text += " It was not added to the gallery."
            current = self.engine.portrait
            if current is not None:
                self.gallery.select(current.source)
                text += f" Still showing {current.name}."
            self.show_error(text, "portrait")
            self._update_state_text()
        elif ev.kind == EVENT_SOURCE:
            spec: SourceSpec = ev.value
            if spec.kind == "video":
                self._video_path = spec.path
                self._fill_source_combo()
            self._select_source_in_combo()
            self.settings.set("source", spec.to_text())
            self.source_label.setText(spec.label[:1].upper() + spec.label[1:])
            if self.message_bar.topic == "source" and self.message_bar.kind == "error":
                self.message_bar.dismiss()
            self._update_state_text()
        elif ev.kind == EVENT_SOURCE_ERROR:
            self._select_source_in_combo()
            self.show_error(self._source_error_text(ev), "source")
            self._update_state_text()
        elif ev.kind == EVENT_SOURCE_ENDED:
            self.statusBar().showMessage(ev.message, 5000)
        elif ev.kind == EVENT_GENERATOR:
            info = ev.value
            self._show_provider(info)
            self.settings.set("device", self.engine.device)
            self.settings.set("generator", self.engine.generator_name)
            self.message_bar.clear_topic("generator")
        elif ev.kind == EVENT_GENERATOR_ERROR:
            self.show_error(ev.message, "generator")
            self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(
                self.engine.device)))
            self.generator_combo.setCurrentIndex(max(0, self.generator_combo.findData(
                self.engine.generator_name)))
            if self.engine.provider is not None:
                self._show_provider(self.engine.provider)
        elif ev.kind == EVENT_CALIBRATED:
            self.message_bar.clear_topic("calibrate")
            self.statusBar().showMessage("Calibrated: your face as it was is now the neutral "
                                         "one", 4000)
        elif ev.kind == EVENT_SINK_ERROR:
            self.show_error(ev.message, "sink")
        elif ev.kind == EVENT_STATE:
            self._update_state_text()
        if self.engine.provider is not None and self.provider_label.text() == "Starting…":
            self._show_provider(self.engine.provider)

    def _source_error_text(self, ev: LiveEvent) -> str:
        """The error in the window's words (the engine's fix line speaks to the command line)."""
        if ev.error is None:
            return ev.message + " Choose a source again on the right."
        problem = ev.error.problem[:1].upper() + ev.error.problem[1:] + "."
        if "does not exist" in ev.error.problem:
            if self._cameras:
                names = ", ".join(c.label for c in self._cameras)
                return f"{problem} Connected now: {names}. Choose one under Source."
            return (f"{problem} No camera is connected: choose a video file or the demo "
                    "performance under Source, or connect a camera and press ⟳.")
        return f"{problem} {ev.error.fix}." if ev.error.fix and "--" not in ev.error.fix \
            else f"{problem} Choose the source again, or another one, under Source."

    def _show_provider(self, info) -> None:
        if info.device == "cuda":
            text = "CUDA (the GPU)"
        elif info.note:
            text = f"CPU. CUDA is not used: {info.note}"
        else:
            text = "CPU"
        self.provider_label.setText(text)
        self.provider_label.setToolTip(info.label)

    def _update_state_text(self) -> None:
        state = self.engine.state
        if state == STARTING and self._requested_portrait:
            return
        texts = {LOOKING: "Looking for a face", "running": "Following your face"
                 if (self.engine.source_spec and self.engine.source_spec.kind == "camera")
                 else "Following the face", SOURCE_FAILED: "The source stopped",
                 NO_SOURCE: "No source", ENDED: "The video has ended", STARTING: "Starting…"}
        self.state_label.setText(texts.get(state, state))
        self.portrait_view.set_banner(BANNERS.get(state, ""))

    # ------------------------------------------------------------------ frames
    def _show_frame(self) -> None:
        self.bridge.taken()
        out = self.engine.latest
        if out is None or self._closed:
            return
        capture = out.capture_time if out.driver is not None else 0.0
        self.portrait_view.set_image(out.frame, capture_time=capture)
        drv = out.driver
        if drv is None:
            return
        face = out.face
        if drv.image is not None:
            pts = face.landmarks if face is not None and self.act_landmarks.isChecked() else None
            self.camera_view.set_image(drv.image, pts)
            self.camera_view.set_overlay("")
        else:  # the demo performance: a face with no picture; show its landmarks, large
            if face is not None:
                pts, canvas = _framed(face.landmarks[:, :2], self.camera_view.width(),
                                      self.camera_view.height())
                self.camera_view.set_image(None, pts, canvas=canvas, sketch=True)
            self.camera_view.set_overlay("demo performance")
        self.frames_displayed += 1

    def _painted(self, capture_time: float) -> None:
        if capture_time != self._last_counted:
            self._last_counted = capture_time
            self.rate.add(capture_time)

    def _drop_text(self, st) -> str:
        """The share of the source's frames dropped over the last two seconds."""
        now = time.perf_counter()
        self._drops.append((now, st.frames_captured, st.frames_dropped))
        while len(self._drops) > 2 and self._drops[0][0] < now - 2.0:
            self._drops.pop(0)
        _, c0, d0 = self._drops[0]
        captured, dropped = st.frames_captured - c0, st.frames_dropped - d0
        if captured <= 0:
            return "no frames coming in"
        share = min(1.0, max(0.0, dropped / captured))
        return "no frames dropped" if share == 0 else f"{share:.0%} of frames dropped"

    def _refresh_stats(self) -> None:
        self._update_state_text()
        if not self.act_stats.isChecked():
            return
        st = self.engine.stats(recent=True)
        ms = st.stages_ms
        shown = ("track",) if st.state == LOOKING else ("track", "retarget", "generate",
                                                         "compose")  # no face: no drawing
        stages = " · ".join(f"{k} {ms[k]:.0f}" if ms[k] >= 1 else f"{k} {ms[k]:.1f}"
                            for k in shown if k in ms)
        provider = self.engine.provider
        where = "CUDA" if provider is not None and provider.device == "cuda" else "CPU"
        lines = [f"{self.rate.fps():4.1f} fps   {self.rate.latency_ms():3.0f} ms camera→screen",
                 f"{stages} ms" if stages else "waiting for frames",
                 f"generator on {where} · {self._drop_text(st)}"]
        self.portrait_view.set_overlay("\n".join(lines))

    # ------------------------------------------------------------------ help
    def show_shortcuts(self) -> None:
        dlg = QDialog(self)
        dlg.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(dlg)
        rows = self.shortcut_table()
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Keys", "What it does"])
        for i, (keys, what) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(keys))
            table.setItem(i, 1, QTableWidgetItem(what))
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.setMinimumSize(560, 36 + 30 * len(rows))
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dlg.reject)
        layout.addWidget(buttons)
        self._shortcuts_dialog = dlg
        dlg.show()

    def show_about(self) -> None:
        QMessageBox.about(self, "About Puppet",
                          f"<b>Puppet {__version__}</b><p>Brings still portraits to life: the "
                          "portrait turns its head, talks and blinks with your face.</p>"
                          "<p>Face tracking: MediaPipe face mesh. Generator: a landmark-driven "
                          "warp run by onnxruntime.</p>")

    # ------------------------------------------------------------------ drops
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._dropped_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        files = self._dropped_files(event)
        if not files:
            return
        event.acceptProposedAction()
        self.handle_dropped(files)

    def handle_dropped(self, files: list[str]) -> None:
        videos = [f for f in files if Path(f).suffix.lower() in VIDEO_TYPES]
        images = [f for f in files if f not in videos]
        if images:
            added = self.add_user_portraits(images)
            if added:
                self.choose_portrait(added[0])
        if videos:
            self.choose_source(SourceSpec("video", path=str(Path(videos[0]).resolve()),
                                          loop=True))

    @staticmethod
    def _dropped_files(event) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()
                and Path(u.toLocalFile()).is_file()]

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self._closed:
            self._closed = True
            self.stats_timer.stop()
            if self._fullscreen:
                self.leave_fullscreen()
            self.settings.store.setValue("geometry", self.saveGeometry())
            self.settings.sync()
            t0 = time.perf_counter()
            self.engine.stop()
            if self._camera_thread is not None:
                self._camera_thread.join(max(0.1, 5.0 - (time.perf_counter() - t0)))
        super().closeEvent(event)
