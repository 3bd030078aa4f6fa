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
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from puppet import __version__
from puppet.artwork import BUILTIN, builtin_path
from puppet.errors import PuppetError, sentence
from puppet.files import render_path
from puppet.generators import base as generators
from puppet.gui.settings import Settings
from puppet.gui.widgets import Gallery, ImageView, MessageBar, RateMeter, SliderRow
from puppet.live import (
    BUILTIN_PREFIX,
    ENDED,
    EVENT_CALIBRATED,
    EVENT_GENERATOR,
    EVENT_GENERATOR_ERROR,
    EVENT_OTHER_FACE,
    EVENT_PORTRAIT,
    EVENT_PORTRAIT_ERROR,
    EVENT_SINK_ERROR,
    EVENT_SOURCE,
    EVENT_SOURCE_ENDED,
    EVENT_SOURCE_ERROR,
    EVENT_STATE,
    LIVE_SIZE,
    LOOKING,
    MAX_SIZE,
    MIN_SIZE,
    NO_SOURCE,
    SOURCE_FAILED,
    STARTING,
    LiveEngine,
    LiveEvent,
)
from puppet.motion.retarget import RetargetSettings
from puppet.outputs.recorder import RecordingResult, default_recordings_folder
from puppet.outputs.stream import LOCAL, StreamSettings
from puppet.outputs.virtual_camera import VirtualCameraSettings
from puppet.portrait import DEFAULT_SIZE, FRAMINGS, IMAGE_KINDS, IMAGE_TYPES, read_image
from puppet.session import LiveOutputs, stream_reach
from puppet.sources.camera import CameraInfo, list_cameras
from puppet.sources.live import SourceSpec, parse_source
from puppet.sources.performance import SUFFIX as PERFORMANCE_SUFFIX

LIVE_SIZES = (640, 960, 1280, 1920)  # the sizes offered for the live portrait
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


def face_at(boxes, x: float, y: float) -> int | None:
    """The number (from 1) of the face whose box, grown by a fifth on each side (a click
    on the hair or the chin counts), holds (x, y) most centrally; None for none."""
    best, best_d = None, 1.0
    for n, (x0, y0, x1, y1) in enumerate(boxes, 1):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        hw, hh = 0.7 * (x1 - x0), 0.7 * (y1 - y0)  # half the box, plus a fifth of it
        d = max(abs(x - cx) / max(hw, 1e-6), abs(y - cy) / max(hh, 1e-6))
        if d <= best_d:
            best, best_d = n, d
    return best


def _first_size() -> tuple[int, int]:
    """The window's size before any is remembered: 1400 x 900, or nine tenths of a smaller
    screen's free area (a 1366 x 768 laptop), so that all of it shows."""
    screen = QApplication.primaryScreen()
    if screen is None:
        return 1400, 900
    free = screen.availableGeometry()
    return min(1400, int(free.width() * 0.9)), min(900, int(free.height() * 0.9))


RENDER_CANCELLED = "cancelled"
CHOOSE_FOLDER = "Choose another with the Folder… button under Record and share."
FULLSCREEN_MESSAGE_MS = 6000  # how long a message shows over a fullscreen portrait


class _Cancelled(Exception):
    """Raised from a render's progress callback to end it (the file is not kept)."""


class EngineBridge(QObject):
    """Carries the engine's news into the GUI thread as queued signals."""

    frame_ready = Signal()
    event = Signal(object)
    cameras_found = Signal(object)
    recording_done = Signal(object)  # a RecordingResult or a PuppetError
    recovered = Signal(object)  # (folder, [Recovered])
    render_progress = Signal(int, int, float)  # frames done, of, fps
    render_done = Signal(object)  # a RenderReport, a PuppetError, or RENDER_CANCELLED

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


def _picker(items: list[tuple[str, object]], current: object, tip: str,
            chosen: Callable[[int], None]) -> QComboBox:
    """A drop-down of (label, value) items, ``current`` selected, calling ``chosen``
    when the user picks one."""
    combo = QComboBox()
    for label, value in items:
        combo.addItem(label, value)
    combo.setCurrentIndex(combo.findData(current))
    combo.setToolTip(tip)
    combo.activated.connect(chosen)
    return combo


class MainWindow(QMainWindow):
    """The window.  ``source``, ``portrait`` (with ``face``, for a group portrait),
    ``device``, ``size`` and ``framing`` override the remembered ones."""

    def __init__(self, settings: Settings, source: str | None = None,
                 portrait: str | None = None, device: str | None = None,
                 size: int | None = None, face: int | None = None,
                 framing: str | None = None):
        super().__init__()
        self.settings = settings
        self.setWindowTitle("Puppet")
        self.setAcceptDrops(True)
        self.resize(*_first_size())
        self.rate = RateMeter()
        self._drops: list[tuple[float, int, int]] = []
        self.frames_displayed = 0
        self._last_counted = 0.0
        self._fullscreen = False
        self._cameras: list[CameraInfo] = []
        self._camera_thread: threading.Thread | None = None
        self._requested_portrait = ""
        self._keep_portrait_error = False  # the next portrait shown is a fallback for one
        self._fresh_portraits: set[str] = set()  # added just now: dropped again if no face
        self._video_path = ""
        self._closed = False
        self._start_source = source
        self._start_device = device

        dev = device or settings.get("device")
        if dev not in ("auto", "cpu", "cuda"):
            dev = "auto"
        if size is None:
            size = settings.get("live_size")
            if not MIN_SIZE <= size <= MAX_SIZE:
                size = LIVE_SIZE
        if framing is None:
            framing = settings.get("framing")
            if framing not in FRAMINGS:
                framing = "whole"
        self.engine = LiveEngine(size=size, device=dev,
                                 generator=settings.get("generator"),
                                 settings=self._slider_settings_from_store(),
                                 mirror=settings.get("mirror"), framing=framing)
        self.bridge = EngineBridge(self.engine)
        self.bridge.frame_ready.connect(self._show_frame)
        self.bridge.event.connect(self._on_event)
        self.bridge.cameras_found.connect(self._on_cameras)
        self.outputs = LiveOutputs(self.engine)
        self.bridge.recording_done.connect(self._on_recording_done)
        self.bridge.recovered.connect(self._on_recovered)
        self.bridge.render_progress.connect(self._on_render_progress)
        self.bridge.render_done.connect(self._on_render_done)
        self._render_thread: threading.Thread | None = None
        self._render_cancel = threading.Event()
        self.last_render = None  # the RenderReport of the last render finished
        self._recover_thread: threading.Thread | None = None
        self.last_recording: RecordingResult | None = None

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
        self.choose_portrait(portrait or settings.get("portrait"), startup=True,
                             face=face if portrait else None)
        self.refresh_cameras(startup=True)
        self.recover_recordings()

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
        self.portrait_view.on_clicked = self._portrait_clicked
        self.portrait_view.clickable = lambda x, y: self._face_number_at(x, y) is not None
        self.portrait_view.mouseDoubleClickEvent = lambda _e: self.toggle_fullscreen()
        left.addWidget(self.message_bar)
        left.addWidget(self.portrait_view, 1)

        # a group portrait: which face moves (hidden for a portrait with one face)
        self.face_row = QWidget()
        face_line = QHBoxLayout(self.face_row)
        face_line.setContentsMargins(0, 0, 0, 0)
        self.face_label = QLabel("")
        self.face_label.setWordWrap(True)  # unwrapped, a long line set the window's least width
        self.face_choice = QComboBox()
        self.face_choice.setToolTip("This portrait shows several faces: choose the one that "
                                    "moves (counted from the left)")
        self.face_choice.activated.connect(self._face_chosen)
        face_line.addWidget(self.face_label)
        face_line.addWidget(self.face_choice)
        face_line.addStretch(1)
        self.face_row.hide()
        left.addWidget(self.face_row)

        self.gallery_row = QWidget()
        column = QVBoxLayout(self.gallery_row)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        heading = QLabel("Portraits: click one to bring it to life. Add your own with Open… "
                         "or by dropping image files on the window.")
        heading.setStyleSheet("color: palette(mid);")
        heading.setWordWrap(True)  # unwrapped, it kept the window 1015 pixels wide at least
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
        side.setSpacing(6)

        drv = QGroupBox("Source")
        dl = QVBoxLayout(drv)
        self.camera_view = ImageView("No source yet")
        self.camera_view.setToolTip("With several people in view, click a face to have that "
                                    "person drive the portrait")
        self.camera_view.on_clicked = self._camera_clicked
        self.camera_view.setFixedHeight(160)
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
        self.mouth_slider = SliderRow(
            "  Mouth", 0.0, 2.0, st.mouth, "{:.2f}×",
            "The mouth and jaw, on top of Expression (talking, smiling)")
        self.eyes_slider = SliderRow(
            "  Eyes", 0.0, 2.0, st.eyes, "{:.2f}×",
            "Blinks and gaze, on top of Expression")
        self.brows_slider = SliderRow(
            "  Brows", 0.0, 2.0, st.brows, "{:.2f}×",
            "Raised and frowning brows, on top of Expression")
        self.smoothing_slider = SliderRow(
            "Smoothing", 0.0, 1.0, st.smoothing, "{:.2f}",
            "Calms jitter; fast moves are not slowed down (0 = raw, 1 = heavy)")
        self.sliders = (self.expression_slider, self.mouth_slider, self.eyes_slider,
                        self.brows_slider, self.head_slider, self.smoothing_slider)
        for s in self.sliders:
            s.changed.connect(self._sliders_changed)
            ml.addWidget(s)
        reset = QPushButton("Reset")
        reset.setObjectName("reset_sliders")
        reset.setToolTip("Every intensity back to 1×, smoothing to "
                         f"{RetargetSettings().smoothing:.2f} (Ctrl+R)")
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
        pick = QHBoxLayout()
        pick.addWidget(self.generator_combo, 1)
        pick.addWidget(QLabel("on"))
        pick.addWidget(self.device_combo, 1)
        gl.addRow("Model", pick)
        self.size_combo = _picker(
            [(f"{n} pixels" + (" (default)" if n == LIVE_SIZE else ""), n)
             for n in sorted({*LIVE_SIZES, self.engine.size})], self.engine.size,
            "The portrait's longest side, live and in recordings and the stream: larger is "
            "sharper and takes more of the computer (on a CPU, 960 keeps up with a 30 fps "
            "camera). A portrait is never enlarged past its own pixels.", self._size_chosen)
        gl.addRow("Size", self.size_combo)
        self.framing_combo = _picker(
            [(label, key) for key, label in FRAMINGS.items()], self.engine.framing,
            "Head and shoulders shows a crop around the portrait's face, as a portrait "
            "frames it, live and in recordings, the stream and rendered videos: for a "
            "full-length painting, whose face is otherwise small", self._framing_chosen)
        gl.addRow("Framing", self.framing_combo)
        gl.addRow("Runs on", self.provider_label)
        side.addWidget(gen)
        side.addWidget(self._build_outputs())
        side.addStretch(1)
        # on a small screen the controls scroll; the portrait keeps its room
        scroll = QScrollArea()
        scroll.setWidget(self.side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(self.side.width() + 14)
        self.side_scroll = scroll
        outer.addWidget(scroll)
        self.setCentralWidget(central)

        self.state_label = QLabel("Starting…")
        self.source_label = QLabel("")
        self.render_bar = QProgressBar()
        self.render_bar.setMinimumWidth(300)
        self.render_bar.setTextVisible(True)
        self.render_cancel = QToolButton()
        self.render_cancel.setText("Cancel")
        self.render_cancel.setToolTip("Stop the render; nothing of it is kept")
        self.render_cancel.clicked.connect(self.cancel_render)
        for widget in (self.render_bar, self.render_cancel):
            self.statusBar().addPermanentWidget(widget)
            widget.hide()
        hint = QLabel("F1: keyboard shortcuts")
        hint.setStyleSheet("color: palette(mid); padding-right: 12px;")
        self.statusBar().addWidget(self.state_label, 1)
        self.statusBar().addPermanentWidget(hint)
        self.statusBar().addPermanentWidget(self.source_label)

    def _build_outputs(self) -> QGroupBox:
        box = QGroupBox("Record and share")
        layout = QVBoxLayout(box)
        layout.setSpacing(6)

        row = QHBoxLayout()
        self.record_button = QPushButton("●  Record  (R)")
        self.record_button.setMinimumHeight(34)
        self.record_button.setToolTip("Record the portrait with your voice to an MP4 file, "
                                      "and your performance beside it (R)")
        self.record_button.clicked.connect(self.toggle_recording)
        self.record_label = QLabel("")
        self.record_label.setMinimumWidth(84)
        self.record_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.record_button, 1)
        row.addWidget(self.record_label)
        layout.addLayout(row)

        row = QHBoxLayout()
        self.folder_label = QLabel()
        self.folder_label.setStyleSheet("color: palette(mid);")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folder_button = QToolButton()
        folder_button.setText("Folder…")
        folder_button.setToolTip("Choose where recordings go")
        folder_button.clicked.connect(self.choose_record_folder)
        self.folder_button = folder_button
        row.addWidget(self.folder_label, 1)
        row.addWidget(folder_button)
        layout.addLayout(row)
        self._show_record_folder()

        row = QHBoxLayout()
        self.vcam_button = QPushButton("Virtual camera  (V)")
        self.vcam_button.setCheckable(True)
        self.vcam_button.setToolTip("Send the portrait to call apps (Zoom, Teams, Meet, OBS) "
                                    "as a webcam, 1280×720 at 30 fps (V)")
        self.vcam_button.toggled.connect(self._vcam_toggled)
        self.vcam_fit = QComboBox()
        self.vcam_fit.addItem("Letterbox", "letterbox")
        self.vcam_fit.addItem("Crop", "crop")
        self.vcam_fit.addItem("Face", "face")
        self.vcam_fit.setToolTip("Letterbox: all of the portrait, black bars at the sides. "
                                 "Crop: the picture filled, what overflows cut off around the "
                                 "face. Face: a close-up of the face, head and shoulders, as a "
                                 "call shows a person")
        self.vcam_fit.setCurrentIndex(max(0, self.vcam_fit.findData(self.settings.get(
            "vcam_fit"))))
        self.vcam_fit.activated.connect(self._vcam_fit_chosen)
        row.addWidget(self.vcam_button, 1)
        row.addWidget(self.vcam_fit)
        layout.addLayout(row)
        self.vcam_label = QLabel("")
        self.vcam_label.setWordWrap(True)
        self.vcam_label.setStyleSheet("color: palette(mid);")
        self.vcam_label.hide()
        layout.addWidget(self.vcam_label)

        row = QHBoxLayout()
        self.stream_button = QPushButton("Stream  (S)")
        self.stream_button.setCheckable(True)
        self.stream_button.setToolTip("Serve the portrait as an MJPEG stream over HTTP, for a "
                                      "browser, OBS, VLC or ffmpeg (S)")
        self.stream_button.toggled.connect(self._stream_toggled)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1024, 65535)
        self.port_spin.setPrefix("port ")
        self.port_spin.setToolTip("The stream's port (settings remember it)")
        self.port_spin.setValue(min(65535, max(1024, self.settings.get("stream_port"))))
        self.port_spin.valueChanged.connect(lambda v: self.settings.set("stream_port", v))
        row.addWidget(self.stream_button, 1)
        row.addWidget(self.port_spin)
        layout.addLayout(row)
        for button in (self.vcam_button, self.stream_button):
            button.setMinimumHeight(28)
            button.setStyleSheet("QPushButton:checked { background-color: #2f6b45; color: white;"
                                 " border: 1px solid #4c9a68; border-radius: 3px; }")
        self.stream_row = QWidget()
        srow = QHBoxLayout(self.stream_row)
        srow.setContentsMargins(0, 0, 0, 0)
        self.stream_url = QLineEdit()
        self.stream_url.setReadOnly(True)
        self.stream_url.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.stream_url.setToolTip("Open it in a browser; in OBS use a Browser Source with it, "
                                   "or a Media Source with …/stream.mjpg")
        copy = QToolButton()
        copy.setText("Copy")
        copy.setToolTip("Copy the address")
        copy.clicked.connect(self.copy_stream_url)
        self.copy_url_button = copy
        srow.addWidget(self.stream_url, 1)
        srow.addWidget(copy)
        self.stream_row.hide()
        layout.addWidget(self.stream_row)
        self.stream_label = QLabel("")
        self.stream_label.setWordWrap(True)
        self.stream_label.setStyleSheet("color: palette(mid);")
        self.stream_label.hide()
        layout.addWidget(self.stream_label)
        return box

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
        self.act_head = action("&Head and shoulders (a crop around the face)", ["H"],
                               self._head_toggled, True, self.engine.framing == "head")
        self.act_next = action("&Next portrait", ["PgDown"], lambda: self.step_portrait(1))
        self.act_prev = action("&Previous portrait", ["PgUp"], lambda: self.step_portrait(-1))
        self.act_reset = action("&Reset the sliders", ["Ctrl+R"], self.reset_sliders)
        self.act_record = action("Start or stop &recording", ["R"], self.toggle_recording)
        self.act_vcam = action("&Virtual camera on or off", ["V"], self.vcam_button.click)
        self.act_stream = action("Network &stream on or off", ["S"], self.stream_button.click)
        self.act_folder = action("Recordings &folder…", [], self.choose_record_folder)
        self.act_show_folder = action("Show the recordings", [], self.show_record_folder)
        self.act_open = action("&Open portraits…", ["Ctrl+O"], self.open_portraits)
        self.act_video = action("Use a &video file as the camera…", ["Ctrl+Shift+O"],
                                self.open_video)
        self.act_render = action("R&ender a video…", ["Ctrl+E"], self.render_video)
        self.act_keys = action("&Keyboard shortcuts", ["F1"], self.show_shortcuts)
        self.act_quit = action("&Quit", ["Ctrl+Q"], self.close)
        self.act_about = action("&About Puppet", [], self.show_about)

        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addActions([self.act_open, self.act_video, self.act_render])
        m.addSeparator()
        m.addAction(self.act_quit)
        m = bar.addMenu("&Source")
        m.addActions([self.act_calibrate, self.act_demo, self.act_video, self.act_refresh,
                      self.act_mirror])
        m = bar.addMenu("&Record")
        m.addActions([self.act_record, self.act_vcam, self.act_stream])
        m.addSeparator()
        m.addActions([self.act_folder, self.act_show_folder])
        m = bar.addMenu("&View")
        m.addActions([self.act_fullscreen, self.act_stats, self.act_landmarks])
        m.addSeparator()
        m.addActions([self.act_head, self.act_next, self.act_prev, self.act_reset])
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
                bad.append(path)
        if len(bad) == 1:  # why, where the reader knows (a HEIC photo, a video)
            try:
                read_image(bad[0])
                reason = f"Not an image that can be read: {Path(bad[0]).name}."
            except PuppetError as exc:
                reason = exc.message
            self.show_error(reason, "portrait")
        elif bad:
            self.show_error(f"Not images that can be read: {', '.join(Path(b).name for b in bad)}"
                            f". Use {IMAGE_KINDS} files.", "portrait")
        self._save_user_portraits()
        return added

    def remove_user_portrait(self, source: str) -> None:
        item = self.gallery.find(source)
        row = self.gallery.row(item) if item is not None else -1
        self.gallery.remove(source)
        self._save_user_portraits()
        current = self.engine.portrait
        shown = current is not None and current.source == source
        if (shown or self._requested_portrait == source) and self.gallery.count():
            # the one shown is gone: the next one takes its place (it stayed on screen,
            # remembered as the last portrait, and came back into the gallery next time)
            self._requested_portrait = ""
            nearby = self.gallery.item(min(max(row, 0), self.gallery.count() - 1))
            self.choose_portrait(nearby.data(Qt.ItemDataRole.UserRole))
        elif current is not None:
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
        item = self.gallery.currentItem()
        if item is not None:  # a key moved only the highlight; a click also loads
            self.choose_portrait(item.data(Qt.ItemDataRole.UserRole))

    def choose_portrait(self, source: str, startup: bool = False,
                        face: int | None = None) -> None:
        """Ask the engine for this portrait (it loads off the GUI thread); ``face``: which
        face of a group portrait (default: the one chosen last time, else the largest)."""
        if not source:
            return
        if face is None:
            face = self._remembered_faces().get(source)
        current = self.engine.portrait
        if current is not None and current.source == source and (
                face is None or face == current.face_number):
            return
        if source == self._requested_portrait and not startup and face is None:
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
        self.engine.set_portrait(source, face=face)

    def _remembered_faces(self) -> dict[str, int]:
        """The face chosen in each group portrait, by source."""
        faces = {}
        for entry in self.settings.get("portrait_faces"):
            number, _, source = entry.partition("\t")
            if number.isdigit() and source:
                faces[source] = int(number)
        return faces

    def _remember_face(self, portrait) -> None:
        faces = self._remembered_faces()
        if portrait.faces > 1:
            faces[portrait.source] = portrait.face_number
        else:
            faces.pop(portrait.source, None)
        self.settings.set("portrait_faces", [f"{n}\t{src}" for src, n in faces.items()])

    def _show_faces(self, portrait) -> None:
        """The face row: shown for a portrait with several faces."""
        fullscreen = "Double-click (or press F) for fullscreen"
        if portrait.faces <= 1:
            self.face_row.hide()
            self.portrait_view.setToolTip(fullscreen)
            return
        self.portrait_view.setToolTip(f"Click a face to bring it to life. {fullscreen}")
        self.face_label.setText(f"This portrait shows {portrait.faces} faces (click one to "
                                f"bring it to life); the one that moves:")
        self.face_choice.clear()
        for n in range(1, portrait.faces + 1):
            where = " (left)" if n == 1 else " (right)" if n == portrait.faces else ""
            self.face_choice.addItem(f"Face {n}{where}", n)
        self.face_choice.setCurrentIndex(portrait.face_number - 1)
        if not self._fullscreen:  # fullscreen shows the portrait alone
            self.face_row.show()

    def _face_number_at(self, x: float, y: float) -> int | None:
        """The face of a group portrait at (x, y) that does not move yet, if any."""
        current = self.engine.portrait
        if current is None or current.faces <= 1 or len(current.face_boxes) != current.faces:
            return None
        number = face_at(current.face_boxes, x, y)
        return number if number != current.face_number else None

    def _camera_clicked(self, x: float, y: float) -> None:
        """A click on a face in the camera's picture: that person drives."""
        if self.camera_view.has_image:  # not the demo performance's sketch
            self.engine.follow_face_at(x, y)

    def _portrait_clicked(self, x: float, y: float) -> None:
        """A click on a face of a group portrait brings that face to life."""
        number = self._face_number_at(x, y)
        if number is not None:
            self.face_choice.setCurrentIndex(number - 1)
            self.choose_portrait(self.engine.portrait.source, face=number)

    def _face_chosen(self, index: int) -> None:
        current = self.engine.portrait
        number = self.face_choice.itemData(index)
        if current is None or number is None:
            return
        self.choose_portrait(current.source, face=int(number))

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
    GAINS = ("expression", "mouth", "eyes", "brows", "head")

    def _slider_settings_from_store(self) -> RetargetSettings:
        try:
            gains = {k: min(2.0, max(0.0, self.settings.get(k))) for k in self.GAINS}
            return RetargetSettings(**gains,
                                    smoothing=min(1.0, max(0.0, self.settings.get("smoothing"))))
        except ValueError:
            return RetargetSettings()

    def _sliders_changed(self, _value: float = 0.0) -> None:
        st = RetargetSettings(expression=self.expression_slider.value(),
                              mouth=self.mouth_slider.value(), eyes=self.eyes_slider.value(),
                              brows=self.brows_slider.value(), head=self.head_slider.value(),
                              smoothing=self.smoothing_slider.value())
        self.engine.update_settings(st)
        for key in (*self.GAINS, "smoothing"):
            self.settings.set(key, getattr(st, key))

    def reset_sliders(self) -> None:
        d = RetargetSettings()
        for key in (*self.GAINS, "smoothing"):
            getattr(self, f"{key}_slider").set_value(getattr(d, key))

    # ------------------------------------------------------------------ recording
    def record_folder(self) -> Path:
        chosen = self.settings.get("record_folder")
        return Path(chosen).expanduser() if chosen else default_recordings_folder()

    def _show_record_folder(self) -> None:
        folder = self.record_folder()
        home = Path.home()
        text = f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) else str(folder)
        self.folder_label.setText(self.folder_label.fontMetrics().elidedText(
            f"Saves to {text}", Qt.TextElideMode.ElideMiddle, 250))
        self.folder_label.setToolTip(f"Recordings go to {folder}")

    def choose_record_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where recordings go",
                                                  str(self.record_folder()))
        if folder:
            self.settings.set("record_folder", folder)
            self._show_record_folder()
            self.recover_recordings()

    def show_record_folder(self) -> None:
        folder = self.record_folder()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def toggle_recording(self) -> None:
        if self.outputs.saving:
            return
        if self.outputs.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> None:
        folder = self.record_folder()
        try:
            status = self.outputs.start_recording(folder)
        except PuppetError as exc:
            message = exc.message
            if "folder" in exc.fix:  # say where another is chosen
                message = f"{sentence(exc.problem)}. {CHOOSE_FOLDER}"
            self.show_error(f"Cannot record: {message}", "record")
            return
        if status.note:  # e.g. "Video only: no microphone was found. ..."
            self.show_info(f"Recording {status.video.name}. {status.note}", "record")
        else:
            self.message_bar.clear_topic("record")
        self.statusBar().showMessage(f"Recording to {status.video}", 4000)
        self._refresh_recording()

    def stop_recording(self) -> None:
        """Stop; the files are finished on a thread of their own (the window never waits)."""
        if not self.outputs.recording:
            return
        self.outputs.stop_recording_async(self.bridge.recording_done.emit)
        self._refresh_recording()

    def _on_recording_done(self, result) -> None:
        self._refresh_recording()
        if self._closed:
            return
        if isinstance(result, PuppetError):
            self.show_error(result.message, "record")
            return
        self.last_recording = result
        if result.video is None and not result.frames:  # stopped as soon as started
            self.show_info("Nothing was recorded: it was stopped before its first frame.",
                           "record")
            return
        if result.video is None:
            self.show_error(f"Nothing was recorded: {result.error}.", "record")
            return
        mins, secs = divmod(int(round(result.seconds)), 60)
        sound = "with sound" if result.sound else "video only"
        text = f"Saved {result.video.name} ({mins}:{secs:02d}, {sound}) in {result.video.parent}"
        if result.performance is not None:
            text += f", with its performance {result.performance.name}"
        text += "."
        if result.error:
            text += f" The recording stopped early: {result.error}."
        elif result.note:
            text += f" {result.note}"
        self.show_info(text, "record")

    # ------------------------------------------------------------------ rendering
    def render_video(self) -> None:
        """Ask for a driving video (or performance) and render the portrait with it; the
        video playing as the camera, if one is, is offered first."""
        spec = self.engine.source_spec
        playing = spec.path if spec is not None and spec.kind == "video" else ""
        start = playing or self.settings.get("last_folder") or str(Path.home())
        kinds = " ".join(f"*{t}" for t in (*VIDEO_TYPES, PERFORMANCE_SUFFIX))
        path, _ = QFileDialog.getOpenFileName(
            self, "Render a video: choose the driving video", start,
            f"Videos and performances ({kinds});;All files (*)")
        if path:
            self.settings.set("last_folder", str(Path(path).parent))
            self.start_render(path)

    def start_render(self, driving: str) -> Path | None:
        """Render the portrait shown, driven by ``driving`` (a video or a performance file),
        at full quality (every frame, 1280 pixels or the live Size where larger, the sliders
        as they are) into the recordings folder, in a thread of its own with a progress bar;
        the live portrait goes on meanwhile.  Returns the file it is writing, or None (a
        message says why)."""
        if self._render_thread is not None:
            self.show_error("A render is running already: wait for it, or cancel it.", "render")
            return None
        portrait = self.engine.portrait
        if portrait is None:
            self.show_error("No portrait is shown yet to render.", "render")
            return None
        source = portrait.source
        image = builtin_path(source[len(BUILTIN_PREFIX):]) if source.startswith(BUILTIN_PREFIX) \
            else Path(source)
        folder = self.record_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.show_error(f"Cannot create the recordings folder {folder}: "
                            f"{exc.strerror or exc}. {CHOOSE_FOLDER}", "render")
            return None
        out = render_path(folder, image, driving)
        face = portrait.face_number if portrait.faces > 1 else None
        framing = portrait.framing
        device, settings = self.engine.device, self.engine.settings
        size = max(DEFAULT_SIZE, self.engine.size)  # as 'puppet render', or the live Size
        cancel = self._render_cancel
        cancel.clear()
        bridge = self.bridge

        def progress(done: int, total: int, fps: float) -> None:
            if cancel.is_set():
                raise _Cancelled()
            bridge.render_progress.emit(done, total, fps)

        def work() -> None:
            from puppet.engine import render_file

            try:
                result = render_file(str(image), driving, out, size=size, device=device,
                                     settings=settings, progress=progress, face=face,
                                     framing=framing)
            except _Cancelled:
                result = RENDER_CANCELLED
            except PuppetError as exc:
                result = exc
            except Exception as exc:  # noqa: BLE001 - a bug: said, and the window goes on
                result = PuppetError(f"the render failed: {type(exc).__name__}: {exc}",
                                     "try again; if it keeps failing, run 'puppet render' "
                                     "in a terminal to see more")
            bridge.render_done.emit(result)

        self._render_thread = threading.Thread(target=work, name="puppet-render", daemon=True)
        self.render_bar.setRange(0, 0)  # busy until the first frame says how many
        self.render_bar.setFormat(f"Rendering {Path(driving).name}…")
        self.render_bar.show()
        self.render_cancel.show()
        self.act_render.setEnabled(False)
        self.message_bar.clear_topic("render")
        self._render_thread.start()
        return out

    def cancel_render(self) -> None:
        self._render_cancel.set()

    @property
    def rendering(self) -> bool:
        return self._render_thread is not None

    def _on_render_progress(self, done: int, total: int, fps: float) -> None:
        if self._render_thread is None:
            return
        total = max(total, done, 1)
        self.render_bar.setRange(0, total)
        self.render_bar.setValue(done)
        left = ""
        if fps > 0 and total > done:
            secs = int((total - done) / fps)
            left = f", {secs // 60}:{secs % 60:02d} left"
        self.render_bar.setFormat(f"Rendering %p% ({fps:.0f} fps{left})")

    def _on_render_done(self, result) -> None:
        thread, self._render_thread = self._render_thread, None
        if thread is not None:
            thread.join(timeout=5)
        self.render_bar.hide()
        self.render_cancel.hide()
        self.act_render.setEnabled(True)
        if self._closed:
            return
        if result is RENDER_CANCELLED:
            self.statusBar().showMessage("Render cancelled; nothing of it was kept.", 5000)
            return
        if isinstance(result, PuppetError):
            self.show_error(f"The render failed: {result.message}", "render")
            return
        self.last_render = result
        sound = "with sound" if result.sound else "without sound"
        text = (f"Rendered {result.output.name} ({result.frames} frames at "
                f"{result.video_fps:g} fps, {sound}) in {result.output.parent}, "
                f"{result.fps:.0f} fps on {result.provider.label}.")
        if result.frames_without_face:
            text += (f" No face was seen in {result.frames_without_face} of the driving "
                     f"frames: the portrait held its pose there.")
        self.show_info(text, "render")

    def _refresh_recording(self) -> None:
        status = self.outputs.recording_status()
        if status is not None and status.state == "failed" and self.outputs.recording:
            # the disk is full, the folder went away ...: say so and keep what was written
            self.show_error(f"Recording failed: {status.error}.", "record")
            self.stop_recording()
            status = self.outputs.recording_status()
        saving = self.outputs.saving or (status is not None and status.state == "saving")
        if saving:
            self.record_button.setText("Saving…")
            self.record_label.setText("")
            self.portrait_view.set_badge("")
        elif status is not None and status.recording:
            self.record_button.setText("■  Stop  (R)")
            self.record_label.setText(f"● REC {status.elapsed_text}")
            self.record_label.setStyleSheet("color: #ff5a5f; font-weight: bold;")
            self.record_label.setToolTip(status.message)
            self.portrait_view.set_badge(f"REC {status.elapsed_text}")
        else:
            self.record_button.setText("●  Record  (R)")
            self.record_label.setText("")
            self.record_label.setToolTip("")
            self.portrait_view.set_badge("")
        self.record_button.setEnabled(not saving)
        self.folder_button.setEnabled(not saving and (status is None or not status.recording))

    def recover_recordings(self) -> None:
        """Finish recordings a crash or kill left in the folder (off the GUI thread)."""
        if self._recover_thread is not None and self._recover_thread.is_alive():
            return
        folder = self.record_folder()

        def work() -> None:
            from puppet.outputs.recorder import recover_recordings

            try:
                found = recover_recordings(folder)
            except OSError:
                found = []
            if found and not self._closed:
                self.bridge.recovered.emit((folder, found))

        self._recover_thread = threading.Thread(target=work, name="puppet-gui-recover",
                                                daemon=True)
        self._recover_thread.start()

    def _on_recovered(self, found) -> None:
        folder, items = found
        if self._closed or not items:
            return
        rescued = [r for r in items if r.path is not None]
        lines = "; ".join(r.message for r in items)
        if rescued:
            what = "a recording" if len(rescued) == 1 else f"{len(rescued)} files"
            text = f"Puppet stopped last time while recording; {what} rescued in {folder}: "
        else:
            text = f"Recordings cut off last time in {folder}: "
        self.show_info(text + lines + ".", "recover")

    # ------------------------------------------------------------------ virtual camera
    def _vcam_fit_chosen(self, _index: int = 0) -> None:
        fit = self.vcam_fit.currentData()
        self.settings.set("vcam_fit", fit)
        if self.outputs.camera is not None:  # applies now: start it again with the new fit
            self.outputs.stop_virtual_camera()
            self._vcam_toggled(True)

    def _set_checked(self, button: QPushButton, on: bool) -> None:
        button.blockSignals(True)
        button.setChecked(on)
        button.blockSignals(False)

    def _vcam_toggled(self, on: bool) -> None:
        if not on:
            self.outputs.stop_virtual_camera()
            self.vcam_label.hide()
            self.message_bar.clear_topic("vcam")
            return
        try:
            status = self.outputs.start_virtual_camera(VirtualCameraSettings(
                fit=self.vcam_fit.currentData()))
        except PuppetError as exc:  # no backend here: say what to install; the app goes on
            self._set_checked(self.vcam_button, False)
            self.vcam_label.hide()
            self.show_error(exc.message, "vcam")
            return
        self._set_checked(self.vcam_button, True)
        self.message_bar.clear_topic("vcam")
        self.vcam_label.setText(status.message)
        self.vcam_label.show()

    def _refresh_vcam(self) -> None:
        status = self.outputs.virtual_camera_status()
        if status is not None and status.state == "failed":  # the device went away
            self.outputs.stop_virtual_camera()
            self._set_checked(self.vcam_button, False)
            self.vcam_label.hide()
            self.show_error(status.message, "vcam")

    # ------------------------------------------------------------------ stream
    def _stream_toggled(self, on: bool) -> None:
        if not on:
            self.outputs.stop_stream()
            self.stream_row.hide()
            self.stream_label.hide()
            self.port_spin.setEnabled(True)
            self.message_bar.clear_topic("stream")
            return
        host = self.settings.get("stream_host") or LOCAL
        try:
            url = self.outputs.start_stream(StreamSettings(port=self.port_spin.value(),
                                                           host=host))
        except (PuppetError, ValueError) as exc:
            self._set_checked(self.stream_button, False)
            self.show_error(exc.message if isinstance(exc, PuppetError) else str(exc),
                            "stream")
            return
        self._set_checked(self.stream_button, True)
        self.message_bar.clear_topic("stream")
        self.port_spin.setEnabled(False)
        self.stream_url.setText(url)
        self.stream_url.setCursorPosition(0)
        self.stream_row.show()
        self.stream_label.show()
        self._refresh_stream()

    def _refresh_stream(self) -> None:
        status = self.outputs.stream_status()
        if status is None:
            return
        host = self.settings.get("stream_host") or LOCAL
        who = "nobody watching" if not status.viewers else \
            f"{status.viewers} watching" if status.viewers > 1 else "1 watching"
        self.stream_label.setText(f"{stream_reach(host)[:1].upper()}{stream_reach(host)[1:]}; "
                                  f"{who}.")

    def copy_stream_url(self) -> None:
        url = self.stream_url.text()
        if url:
            QApplication.clipboard().setText(url)
            self.statusBar().showMessage(f"Copied {url}", 3000)

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

    def _size_chosen(self, _index: int = 0) -> None:
        size = int(self.size_combo.currentData())
        self.settings.set("live_size", size)
        self.engine.set_size(size)

    def _framing_chosen(self, _index: int = 0) -> None:
        self._set_framing(str(self.framing_combo.currentData()))

    def _head_toggled(self, on: bool) -> None:
        self._set_framing("head" if on else "whole")

    def _set_framing(self, framing: str) -> None:
        """Frame the portrait so (the picker or H): remembered, both controls agree."""
        self._show_framing(framing)
        self.engine.set_framing(framing)

    def _show_framing(self, framing: str | None = None) -> None:
        """The framing picker and the View menu's check as ``framing`` (default: as the
        engine has it), which is remembered."""
        framing = framing or self.engine.framing
        self.framing_combo.setCurrentIndex(self.framing_combo.findData(framing))
        if self.act_head.isChecked() != (framing == "head"):
            self.act_head.blockSignals(True)
            self.act_head.setChecked(framing == "head")
            self.act_head.blockSignals(False)
        self.settings.set("framing", framing)

    def _show_size(self) -> None:
        """The size picker as the engine has it."""
        index = self.size_combo.findData(self.engine.size)
        if index >= 0 and index != self.size_combo.currentIndex():
            self.size_combo.setCurrentIndex(index)
            self.settings.set("live_size", self.engine.size)

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
            for w in (self.side_scroll, self.gallery_row, self.face_row, self.message_bar,
                      self.menuBar(), self.statusBar()):
                w.hide()
            self.centralWidget().layout().setContentsMargins(0, 0, 0, 0)
            self.showFullScreen()

    def leave_fullscreen(self) -> None:
        if not self._fullscreen:
            return
        self._fullscreen = False
        for w in (self.side_scroll, self.gallery_row, self.menuBar(), self.statusBar()):
            w.show()
        if self.engine.portrait is not None:
            self._show_faces(self.engine.portrait)  # the face row, for a group portrait
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
        self._brief_in_fullscreen()

    def show_info(self, text: str, topic: str = "") -> None:
        self.message_bar.show_message(text, "info", topic)
        self._brief_in_fullscreen()

    def _brief_in_fullscreen(self) -> None:
        """In fullscreen a message is shown across the portrait for a few seconds, then
        kept for when fullscreen is left (it stayed over the portrait until then)."""
        if not self._fullscreen:
            return
        shown = self.message_bar.label.text()

        def hide() -> None:
            if self._fullscreen and self.message_bar.label.text() == shown:
                self.message_bar.setVisible(False)  # its topic stays: shown again on leaving
        QTimer.singleShot(FULLSCREEN_MESSAGE_MS, hide)

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
            self._remember_face(portrait)
            self._show_faces(portrait)
            self.setWindowTitle(f"Puppet — {portrait.name}")
            if self._keep_portrait_error:
                self._keep_portrait_error = False
            else:
                self.message_bar.clear_topic("portrait")
            if portrait.face_is_small:
                self.show_info("The face is a small part of this portrait: View → Head and "
                               "shoulders (H) shows it closer.", "portrait")
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
            fallback = ""
            if current is not None:
                self.gallery.select(current.source)
                text += f" Still showing {current.name}."
            elif failed != DEMO_PORTRAIT:
                # nothing shown yet (the portrait asked for at start-up): the built-in one
                # instead, so that the window comes to life rather than waiting on nothing
                fallback = DEMO_PORTRAIT
                text += " Showing a built-in portrait instead."
            self.show_error(text, "portrait")
            self._keep_portrait_error = bool(fallback)  # its loading must not clear this
            if fallback:
                self.choose_portrait(fallback)
            self._show_size()  # a size the portrait could not be read at was given up
            self._show_framing()  # (or a framing)
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
            self.show_error(self._generator_error_text(ev), "generator")
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
        elif ev.kind == EVENT_OTHER_FACE:
            self.statusBar().showMessage(ev.message, 6000)
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
        problem = sentence(ev.error.problem) + "."
        if "does not exist" in ev.error.problem:
            if self._cameras:
                names = ", ".join(c.label for c in self._cameras)
                return f"{problem} Connected now: {names}. Choose one under Source."
            return (f"{problem} No camera is connected: choose a video file or the demo "
                    "performance under Source, or connect a camera and press ⟳.")
        fix = ev.error.fix
        return f"{problem} {sentence(fix)}." if fix and "--" not in fix \
            else f"{problem} Choose the source again, or another one, under Source."

    @staticmethod
    def _generator_error_text(ev: LiveEvent) -> str:
        """The error in the window's words: the engine's fix line speaks to the command
        line ("use --device cpu")."""
        if ev.error is None or "--" not in ev.error.fix:
            return ev.message
        problem = sentence(ev.error.problem) + "."
        return (f"{problem} Choose CPU or Auto under Generator; 'puppet doctor' in a terminal "
                "says what to install for CUDA.")

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
        self._refresh_recording()
        self._refresh_vcam()
        self._refresh_stream()
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
        performances = [f for f in files if Path(f).suffix.lower() == PERFORMANCE_SUFFIX]
        images = [f for f in files if f not in videos and f not in performances]
        if performances:  # a recorded performance: rendered onto the portrait shown
            self.start_render(performances[0])
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
            portrait = self.engine.portrait  # shown already, its event maybe not handled yet
            if portrait is not None:
                self.settings.set("portrait", portrait.source)
                self._remember_face(portrait)
            self.settings.sync()
            if self.outputs.recording or self.outputs.saving:
                self.statusBar().showMessage("Saving the recording…")
                self.statusBar().repaint()
            self.outputs.close()  # a recording is finished, not lost
            if self._render_thread is not None:  # a render is cut short: its file is not kept
                self._render_cancel.set()
                self._render_thread.join(timeout=10)
            t0 = time.perf_counter()
            self.engine.stop()
            if self._camera_thread is not None:
                self._camera_thread.join(max(0.1, 5.0 - (time.perf_counter() - t0)))
        super().closeEvent(event)
