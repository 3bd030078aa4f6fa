"""Puppet's window (PySide6): the only package that imports Qt.

It is a thin layer over :class:`puppet.live.LiveEngine`, which runs the camera,
tracking and rendering in threads of its own; the window shows what the engine
hands on and passes the user's choices back to it.
"""

import os as _os


def _forget_opencv_qt() -> None:
    """OpenCV's wheel points Qt at its own (different) Qt plugins and fonts when it is
    imported; PySide6 then fails to start ("could not load the Qt platform plugin").
    Import it first, then take those settings back, before any QApplication exists."""
    import cv2  # noqa: F401 - sets the variables that are removed below

    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = _os.environ.get(name, "")
        if value and "cv2" in _os.path.normpath(value).split(_os.sep):
            del _os.environ[name]


_forget_opencv_qt()


def _guard() -> None:
    from puppet.gui.qtcompat import guard_singletons

    guard_singletons()


_guard()
