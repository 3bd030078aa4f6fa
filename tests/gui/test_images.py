"""Arrays to QImage (the one place), and the guard against the binding's reference bug."""
from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from puppet.gui.images import to_qimage


def test_bgr_arrays_become_images_with_the_same_colours():
    a = np.zeros((30, 40, 3), np.uint8)
    a[5, 7] = (10, 20, 250)  # B, G, R
    img = to_qimage(a)
    assert (img.width(), img.height()) == (40, 30)
    c = img.pixelColor(7, 5)
    assert (c.red(), c.green(), c.blue()) == (250, 20, 10)


def test_the_image_keeps_its_pixels_alive():
    img = to_qimage(np.full((16, 16, 3), (0, 200, 0), np.uint8))
    gc.collect()
    _ = [np.full((16, 16, 3), 7, np.uint8) for _ in range(100)]  # reuse freed memory
    assert img.pixelColor(3, 3).green() == 200


def test_gray_and_strided_arrays():
    g = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert to_qimage(g).pixelColor(3, 2).red() == g[2, 3]
    big = np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)
    part = big[::2, ::2]  # not contiguous
    c = to_qimage(part).pixelColor(4, 3)
    assert (c.blue(), c.green(), c.red()) == tuple(part[3, 4])


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)])
def test_other_arrays_are_refused(bad):
    with pytest.raises(ValueError):
        to_qimage(bad)


def test_many_qt_calls_do_not_kill_python():
    """PySide6 6.12.0 on Python 3.11 drops a reference to None on every void call and to
    True on every emit; without puppet.gui's guard this aborts at exit."""
    code = (
        "import puppet.gui\n"
        "from PySide6.QtCore import QObject, Signal\n"
        "class P(QObject):\n"
        "    s = Signal()\n"
        "p = P()\n"
        "for i in range(300000):\n"
        "    p.setObjectName('x')\n"
        "    p.s.emit()\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.strip() == "ok"


def test_a_cut_out_portraits_thumbnail_is_on_white_like_the_portrait(qapp, tmp_path):
    """The gallery shows a see-through portrait the way the window will: on white."""
    import cv2

    from puppet.gui.widgets import thumbnail

    rgba = np.zeros((200, 160, 4), np.uint8)  # transparent and black underneath ...
    rgba[50:150, 40:120] = (0, 0, 200, 255)  # ... round an opaque red square
    path = tmp_path / "cut out.png"
    cv2.imwrite(str(path), rgba)
    image = thumbnail(path).toImage()
    corner, middle = image.pixelColor(2, 2), image.pixelColor(image.width() // 2,
                                                               image.height() // 2)
    assert (corner.red(), corner.green(), corner.blue()) == (255, 255, 255)
    assert middle.red() > 150 and middle.green() < 60 and middle.blue() < 60
