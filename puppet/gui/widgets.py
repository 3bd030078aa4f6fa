"""The window's widgets: an image view with overlays, the gallery, sliders, a message bar."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QImageReader,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from puppet.errors import PuppetError
from puppet.gui.images import to_qimage
from puppet.portrait import read_image
from puppet.tracking import landmarks as lm

BACKGROUND = QColor(24, 24, 27)
SKETCH = [lm.FACE_OVAL + lm.FACE_OVAL[:1], lm.LIPS_OUTER_UPPER, lm.LIPS_OUTER_LOWER,
          lm.LIPS_INNER_UPPER, lm.LIPS_INNER_LOWER, lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER,
          lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER, lm.RIGHT_BROW_UPPER, lm.LEFT_BROW_UPPER,
          [168, 6, 197, 195, 5, 4], [98, 2, 327]]  # the face's lines, for the demo's sketch


def _wrap_at_dots(lines: list[str], room: float, width) -> list[str]:
    """Lines too wide for ``room`` (``width`` measures a line) broken where their parts
    meet (" · "), the rest indented: in a narrow window the overlay's stage timings ran
    off the picture's edge."""
    out = []
    for line in lines:
        parts = line.split(" · ")
        if width(line) <= room or len(parts) == 1:
            out.append(line)
            continue
        current = parts[0]
        for part in parts[1:]:
            joined = f"{current} · {part}"
            if width(joined) <= room:
                current = joined
            else:
                out.append(current)
                current = f"  {part}"
        out.append(current)
    return out


class ImageView(QWidget):
    """Shows an image scaled to fit (aspect kept), with optional landmark dots, a small
    text overlay in the top-left corner and a banner across the lower part."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: np.ndarray | None = None  # BGR; scaled to the view when painted
        self._scaled: QImage | None = None
        self._scaled_key: tuple = ()
        self._canvas: tuple[int, int] | None = None  # (w, h) to show when there is no image
        self._points: np.ndarray | None = None
        self._sketch = False  # draw the face's contours instead of dots
        self._overlay = ""
        self._banner = ""
        self._badge = ""
        self._placeholder = placeholder
        self.capture_time = 0.0
        self.on_painted: Callable[[float], None] | None = None  # (capture_time) after a paint
        self.on_clicked: Callable[[float, float], None] | None = None  # (x, y) in the image
        # (x, y) in the image -> whether a click there does something (a pointing hand)
        self.clickable: Callable[[float, float], bool] | None = None
        self.setMouseTracking(True)
        self.paints = 0

    # content --------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None, points: np.ndarray | None = None,
                  canvas: tuple[int, int] | None = None, capture_time: float = 0.0,
                  sketch: bool = False) -> None:
        """Show ``image`` (BGR, or an empty canvas of ``canvas`` pixels), with ``points``
        (the 478 landmarks, in the image's pixels) drawn as dots, or with ``sketch`` as
        the lines of the face (its outline, brows, eyes, nose and lips).  The array must
        not change afterwards (the engine never changes a frame it has handed on)."""
        self._image = image
        self._canvas = canvas
        self._points = points
        self._sketch = sketch
        self.capture_time = capture_time
        self.update()

    def clear(self) -> None:
        self.set_image(None)

    def set_overlay(self, text: str) -> None:
        if text != self._overlay:
            self._overlay = text
            self.update()

    def set_banner(self, text: str) -> None:
        if text != self._banner:
            self._banner = text
            self.update()

    def set_badge(self, text: str) -> None:
        """A short line in the top-right corner behind a red dot (``REC 0:42``); "" hides it."""
        if text != self._badge:
            self._badge = text
            self.update()

    @property
    def badge(self) -> str:
        return self._badge

    def set_placeholder(self, text: str) -> None:
        if text != self._placeholder:
            self._placeholder = text
            self.update()

    @property
    def overlay(self) -> str:
        return self._overlay

    @property
    def banner(self) -> str:
        return self._banner

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def image_size(self) -> tuple[int, int] | None:
        if self._image is not None:
            return self._image.shape[1], self._image.shape[0]
        return self._canvas

    def _scaled_image(self, rect: QRectF) -> QImage:
        """The image at the size it is shown, with its dots: scaled by OpenCV, which lets
        the engine's threads run meanwhile (Qt's smooth scaling would hold Python's lock)."""
        assert self._image is not None
        tw, th = max(1, int(round(rect.width()))), max(1, int(round(rect.height())))
        key = (id(self._image), id(self._points), self._sketch, tw, th)
        if key != self._scaled_key or self._scaled is None:
            h, w = self._image.shape[:2]
            interp = cv2.INTER_AREA if tw < w else cv2.INTER_LINEAR
            small = cv2.resize(self._image, (tw, th), interpolation=interp)
            if self._points is not None and len(self._points) and not self._sketch:
                _dots(small, self._points[:, :2] * np.array([tw / w, th / h]))
            self._scaled, self._scaled_key = to_qimage(small), key
        return self._scaled

    def target_rect(self) -> QRectF | None:
        size = self.image_size()
        if not size or size[0] <= 0 or size[1] <= 0:
            return None
        w, h = size
        scale = min(self.width() / w, self.height() / h)
        tw, th = w * scale, h * scale
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def image_point(self, x: float, y: float) -> tuple[float, float] | None:
        """The image pixel shown at (x, y) of the view, or None outside the image."""
        rect, size = self.target_rect(), self.image_size()
        if rect is None or size is None or not rect.contains(QPointF(x, y)):
            return None
        return ((x - rect.x()) * size[0] / rect.width(),
                (y - rect.y()) * size[1] / rect.height())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.clickable is not None:
            point = self.image_point(event.position().x(), event.position().y())
            if point is not None and self.clickable(*point):
                self.setCursor(Qt.CursorShape.PointingHandCursor)
            else:
                self.unsetCursor()
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.on_clicked is not None and event.button() == Qt.MouseButton.LeftButton:
            point = self.image_point(event.position().x(), event.position().y())
            if point is not None:
                self.on_clicked(*point)
                return
        super().mousePressEvent(event)

    # painting -------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        rect = self.target_rect()
        if rect is not None:
            if self._image is not None:
                p.drawImage(QPointF(round(rect.x()), round(rect.y())), self._scaled_image(rect))
            else:
                p.fillRect(rect, QColor(34, 36, 42))
            if self._points is not None and len(self._points):
                if self._sketch:
                    self._draw_sketch(p, rect)
                elif self._image is None:
                    self._draw_points(p, rect)
        elif self._placeholder:
            self._draw_centered(p, self._placeholder, QColor(170, 170, 178))
        if self._overlay:
            self._draw_overlay(p)
        if self._banner:
            self._draw_banner(p)
        if self._badge:
            self._draw_badge(p)
        p.end()
        self.paints += 1
        if self.on_painted is not None and self.capture_time:
            self.on_painted(self.capture_time)

    def _draw_points(self, p: QPainter, rect: QRectF) -> None:
        w, h = self.image_size() or (1, 1)
        sx, sy = rect.width() / w, rect.height() / h
        pts = self._points
        poly = QPolygonF([QPointF(rect.x() + x * sx, rect.y() + y * sy) for x, y in pts[:, :2]])
        pen = QPen(QColor(80, 230, 170))
        pen.setWidthF(max(1.5, min(3.0, rect.width() / 220)))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(pen)
        p.drawPoints(poly)

    def _draw_sketch(self, p: QPainter, rect: QRectF) -> None:
        w, h = self.image_size() or (1, 1)
        sx, sy = rect.width() / w, rect.height() / h
        pts = self._points
        pen = QPen(QColor(120, 225, 190))
        pen.setWidthF(max(1.5, rect.height() / 150))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(pen)
        for line in SKETCH:
            p.drawPolyline(QPolygonF([QPointF(rect.x() + pts[i, 0] * sx,
                                              rect.y() + pts[i, 1] * sy) for i in line]))
        p.setBrush(QColor(120, 225, 190))
        for iris in (lm.RIGHT_IRIS, lm.LEFT_IRIS):
            if len(pts) > iris[0]:
                c = pts[iris[0]]
                r = max(1.5, float(np.linalg.norm(pts[iris[1], :2] - c[:2])) * sx * 0.6)
                p.drawEllipse(QPointF(rect.x() + c[0] * sx, rect.y() + c[1] * sy), r, r)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _draw_centered(self, p: QPainter, text: str, color: QColor) -> None:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        p.setFont(font)
        p.setPen(color)
        p.drawText(self.rect().adjusted(24, 24, -24, -24),
                   Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _draw_overlay(self, p: QPainter) -> None:
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(max(8.0, self.font().pointSizeF() * 0.9))
        p.setFont(font)
        fm = QFontMetrics(font)
        lines = _wrap_at_dots(self._overlay.splitlines(), self.width() - 36,
                              fm.horizontalAdvance)
        width = max(fm.horizontalAdvance(line) for line in lines) + 16
        height = fm.lineSpacing() * len(lines) + 12
        box = QRectF(10, 10, width, height)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(QColor(235, 235, 235))
        for i, line in enumerate(lines):
            p.drawText(QPointF(box.x() + 8, box.y() + 6 + fm.ascent() + i * fm.lineSpacing()),
                       line)

    def _draw_badge(self, p: QPainter) -> None:
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        fm = QFontMetrics(font)
        dot = fm.height() * 0.6
        width = fm.horizontalAdvance(self._badge) + dot + 28
        box = QRectF(self.width() - width - 10, 10, width, fm.height() + 12)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 160))
        p.drawRoundedRect(box, box.height() / 2, box.height() / 2)
        p.setBrush(QColor(230, 40, 45))
        p.drawEllipse(QPointF(box.x() + 10 + dot / 2, box.center().y()), dot / 2, dot / 2)
        p.setPen(QColor(245, 245, 245))
        p.drawText(QRectF(box.x() + dot + 16, box.y(), width - dot - 16, box.height()),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self._badge)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _draw_banner(self, p: QPainter) -> None:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        p.setFont(font)
        fm = QFontMetrics(font)
        text_w = min(fm.horizontalAdvance(self._banner) + 4, self.width() - 60)
        box = QRectF((self.width() - text_w) / 2 - 18, self.height() * 0.78 - fm.height(),
                     text_w + 36, fm.height() + 16)
        path = QPainterPath()
        path.addRoundedRect(box, box.height() / 2, box.height() / 2)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillPath(path, QColor(20, 20, 24, 190))
        p.setPen(QColor(255, 214, 120))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter,
                   fm.elidedText(self._banner, Qt.TextElideMode.ElideRight, int(text_w) + 2))


def _dots(image: np.ndarray, xy: np.ndarray, color: tuple[int, int, int] = (170, 230, 80),
          radius: int = 1) -> None:
    """Square dots (BGR ``color``) at the points ``xy`` (N x 2 pixels), in place."""
    h, w = image.shape[:2]
    pts = np.round(xy).astype(np.int64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            image[np.clip(pts[:, 1] + dy, 0, h - 1), np.clip(pts[:, 0] + dx, 0, w - 1)] = color


class MessageBar(QFrame):
    """A line across the top of the window for errors (red) and notes (blue); it stays
    until the user closes it or the problem is solved."""

    closed = Signal()
    STYLES = {
        "error": "background: #5c1f24; color: #ffe6e6; border-radius: 6px;",
        "info": "background: #1f3b5c; color: #e6f0ff; border-radius: 6px;",
    }

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = ""
        self.topic = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close this message")
        self.close_button.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, kind: str = "error", topic: str = "") -> None:
        """Show ``text``; ``topic`` lets a later success clear the message it concerns."""
        self.kind, self.topic = kind, topic
        self.setStyleSheet(f"MessageBar {{{self.STYLES[kind]}}} QLabel {{background: "
                           f"transparent; color: inherit;}}")
        prefix = "⚠  " if kind == "error" else "ℹ  "
        self.label.setText(prefix + text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def clear_topic(self, topic: str) -> None:
        if self.isVisible() and self.topic == topic:
            self.dismiss()

    def dismiss(self) -> None:
        self.hide()
        self.kind = self.topic = ""
        self.closed.emit()


class SliderRow(QWidget):
    """A named slider with its value shown beside it."""

    changed = Signal(float)

    def __init__(self, name: str, low: float, high: float, value: float, fmt: str,
                 tooltip: str, parent: QWidget | None = None, steps: int = 100):
        super().__init__(parent)
        self.low, self.high, self.fmt = low, high, fmt
        self._steps = steps
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.name = QLabel(name)
        self.name.setMinimumWidth(92)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, steps)
        self.slider.setToolTip(tooltip)
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(44)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.name)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._moved)
        self.set_value(value)

    def value(self) -> float:
        return self.low + (self.high - self.low) * self.slider.value() / self._steps

    def set_value(self, value: float) -> None:
        v = min(max(value, self.low), self.high)
        pos = int(round((v - self.low) / (self.high - self.low) * self._steps))
        if pos == self.slider.value():
            self._moved(pos)
        else:
            self.slider.setValue(pos)

    def _moved(self, _pos: int) -> None:
        self.value_label.setText(self.fmt.format(self.value()))
        self.changed.emit(self.value())


ROLE_SOURCE = Qt.ItemDataRole.UserRole
ROLE_USER = Qt.ItemDataRole.UserRole + 1
THUMB = 96


def thumbnail(path: str | Path, side: int = THUMB) -> QPixmap | None:
    """A small picture of an image file (read at reduced size), or None when unreadable."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        scale = side / max(size.width(), size.height())
        reader.setScaledSize(QSize(max(1, int(size.width() * scale)),
                                   max(1, int(size.height() * scale))))
    image = reader.read()
    if image.isNull():  # a kind Qt has no reader for here (HEIC, AVIF): Puppet's reader
        try:
            array = read_image(path, small=True)
        except PuppetError:
            return None
        scale = min(1.0, side / max(array.shape[:2]))
        return QPixmap.fromImage(to_qimage(cv2.resize(array, None, fx=scale, fy=scale,
                                                      interpolation=cv2.INTER_AREA)))
    if image.hasAlphaChannel():  # a cut-out: on white, as the portrait itself is shown
        flat = QImage(image.size(), QImage.Format.Format_RGB32)
        flat.fill(QColor(255, 255, 255))
        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    return QPixmap.fromImage(image)


class Gallery(QListWidget):
    """The portraits to choose from: the built-in ones first, then the user's own."""

    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 50, THUMB + 44))
        self.setWordWrap(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setFixedHeight(THUMB + 58)
        # no keyboard focus: single-key shortcuts (C, F, L ...) must work after a click here;
        # Page Up / Page Down step through the portraits instead
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.setToolTip("Click a portrait to bring it to life. Add your own with Open… "
                        "or by dropping image files on the window; right-click one of "
                        "yours to remove it.")

    def add_portrait(self, source: str, title: str, path: str | Path, user: bool) -> bool:
        """Add one entry; False when its file cannot be read as an image."""
        if self.find(source) is not None:
            return True
        pix = thumbnail(path)
        if pix is None:
            return False
        item = QListWidgetItem(QIcon(pix), title)
        item.setData(ROLE_SOURCE, source)
        item.setData(ROLE_USER, user)
        item.setToolTip(str(path) if user else f"{title} (built in)")
        self.addItem(item)
        return True

    def find(self, source: str) -> QListWidgetItem | None:
        for i in range(self.count()):
            item = self.item(i)
            if item.data(ROLE_SOURCE) == source:
                return item
        return None

    def remove(self, source: str) -> None:
        item = self.find(source)
        if item is not None:
            self.takeItem(self.row(item))

    def select(self, source: str) -> None:
        item = self.find(source)
        self.blockSignals(True)
        try:
            if item is None:
                self.clearSelection()
            else:
                self.setCurrentItem(item)
                self.scrollToItem(item)
        finally:
            self.blockSignals(False)

    def sources(self, user_only: bool = False) -> list[str]:
        return [self.item(i).data(ROLE_SOURCE) for i in range(self.count())
                if not user_only or self.item(i).data(ROLE_USER)]

    def _context_menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None or not item.data(ROLE_USER):
            return
        menu = QMenu(self)
        remove = menu.addAction("Remove from the gallery")
        if menu.exec(self.viewport().mapToGlobal(pos)) is remove:
            self.remove_requested.emit(item.data(ROLE_SOURCE))


class RateMeter:
    """Frames per second and latency of what the window really painted (last 2 s)."""

    def __init__(self, seconds: float = 2.0):
        self.seconds = seconds
        self._times: list[float] = []
        self._latency: list[float] = []
        self.count = 0

    def add(self, capture_time: float) -> None:
        now = time.perf_counter()
        self.count += 1
        self._times.append(now)
        self._latency.append((now - capture_time) * 1000.0)
        cut = now - self.seconds
        while self._times and self._times[0] < cut:
            self._times.pop(0)
            self._latency.pop(0)

    def latency_ms(self) -> float:
        return float(np.median(self._latency)) if self._latency else 0.0

    def fps(self) -> float:
        now = time.perf_counter()
        n = sum(1 for t in self._times if t >= now - self.seconds)
        return n / self.seconds
