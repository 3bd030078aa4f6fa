"""The one place where NumPy arrays become ``QImage`` s."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def to_qimage(array: np.ndarray) -> QImage:
    """A ``QImage`` over the array's own memory (no copy): BGR (H x W x 3) or gray (H x W),
    uint8.  The image keeps a reference to the array, so the pixels stay alive with it;
    the array must not be changed while the image is in use (the engine never changes a
    frame it has handed on)."""
    if array.dtype != np.uint8:
        raise ValueError(f"to_qimage takes uint8 arrays, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 3:
        fmt = QImage.Format.Format_BGR888
    elif array.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    else:
        raise ValueError(f"to_qimage takes H x W x 3 or H x W arrays, got {array.shape}")
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, array.strides[0], fmt)
    image._puppet_array = array  # the memory under the image; freed with it
    return image
