"""Writes the HEIC files the tests read (tests/data/*.heic) with libheif, the reference
HEIF library, as bundled in pillow-heif (not a dependency of Puppet: run it in a virtual
environment of its own, ``pip install pillow-heif
numpy opencv-python-headless matplotlib``, with
``python tools/heic_fixtures.py``).

They are laid out as phones store photos: ``grid.heic`` is a grid of 64-pixel tiles
(a phone's are 512) whose picture is cropped from the tiles' whole, and ``turned.heic``
and ``mirrored.heic`` keep a turn and a mirroring as properties beside the picture
(libheif writes them from an EXIF orientation); ``grid.heic`` has a thumbnail too, 64
pixels high, as a phone's photo has one.  The picture is the tests' Grace Hopper
photograph at 256 x 300 (``tests/test_heif.py`` makes the same).
"""
from __future__ import annotations

import ctypes as C
import glob
import sys
from pathlib import Path

import cv2
import numpy as np
import pillow_heif

REPO = Path(__file__).resolve().parents[1]
SIZE = (256, 300)  # width, height


class _Error(C.Structure):
    _fields_ = [("code", C.c_int), ("subcode", C.c_int), ("message", C.c_char_p)]


def _libheif() -> C.CDLL:
    libs = Path(pillow_heif.__file__).parent.parent / "pillow_heif.libs"
    lib = C.CDLL(glob.glob(str(libs / "libheif-*.so*"))[0])
    for name in ("heif_context_get_encoder_for_format", "heif_image_create",
                 "heif_image_add_plane", "heif_context_encode_grid",
                 "heif_context_encode_image", "heif_context_write_to_file",
                 "heif_context_encode_thumbnail",
                 "heif_encoder_set_lossy_quality"):
        getattr(lib, name).restype = _Error
    lib.heif_context_alloc.restype = C.c_void_p
    lib.heif_encoding_options_alloc.restype = C.c_void_p
    lib.heif_image_get_plane.restype = C.POINTER(C.c_uint8)
    lib.heif_init(None)
    return lib


def _check(error: _Error) -> None:
    if error.code:
        raise RuntimeError(error.message.decode())


def _image(lib: C.CDLL, rgb: np.ndarray) -> C.c_void_p:
    """A libheif image of an RGB array."""
    h, w = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    image = C.c_void_p()
    _check(lib.heif_image_create(w, h, 1, 10, C.byref(image)))  # RGB, interleaved
    _check(lib.heif_image_add_plane(image, 10, w, h, 8))
    stride = C.c_int()
    plane = lib.heif_image_get_plane(image, 10, C.byref(stride))
    for y in range(h):
        C.memmove(C.addressof(plane.contents) + y * stride.value, rgb[y].ctypes.data, w * 3)
    return image


def write(lib: C.CDLL, path: Path, bgr: np.ndarray, rows: int = 1, columns: int = 1,
          tile: int | None = None, orientation: int = 1, quality: int = 40,
          thumbnail: int | None = None) -> None:
    h, w = bgr.shape[:2]
    th, tw = (tile, tile) if tile else (h, w)
    canvas = np.zeros((rows * th, columns * tw, 3), np.uint8)
    canvas[:h, :w] = bgr
    rgb = canvas[..., ::-1]
    ctx = C.c_void_p(lib.heif_context_alloc())
    encoder = C.c_void_p()
    _check(lib.heif_context_get_encoder_for_format(ctx, 1, C.byref(encoder)))  # HEVC
    _check(lib.heif_encoder_set_lossy_quality(encoder, quality))
    images = (C.c_void_p * (rows * columns))()
    for r in range(rows):
        for c in range(columns):
            images[r * columns + c] = _image(lib, rgb[r * th:(r + 1) * th, c * tw:(c + 1) * tw])
    options = lib.heif_encoding_options_alloc()
    C.c_int.from_address(options + 20).value = orientation  # image_orientation (version 5)
    handle = C.c_void_p()
    if rows * columns == 1:
        _check(lib.heif_context_encode_image(ctx, C.c_void_p(images[0]), encoder,
                                             C.c_void_p(options), C.byref(handle)))
    else:  # libheif 1.23 takes the columns first, whatever its header says
        _check(lib.heif_context_encode_grid(ctx, images, C.c_uint16(columns), C.c_uint16(rows),
                                            encoder, C.c_void_p(options), C.byref(handle)))
    if thumbnail:  # as phones add one: a small picture of the whole, for file browsers
        thumb = C.c_void_p()
        _check(lib.heif_context_encode_thumbnail(ctx, _image(lib, rgb[:h, :w]), handle, encoder,
                                                 C.c_void_p(options), thumbnail,
                                                 C.byref(thumb)))
    _check(lib.heif_context_write_to_file(ctx, str(path).encode()))
    if tile and (w, h) != (columns * tw, rows * th):
        # libheif gives the grid the tiles' whole size; a phone's is cropped from it
        data = bytearray(path.read_bytes())
        grid = bytes([0, 0, rows - 1, columns - 1]) + (columns * tw).to_bytes(2, "big") \
            + (rows * th).to_bytes(2, "big")
        ispe = b"ispe" + bytes(4) + (columns * tw).to_bytes(4, "big") \
            + (rows * th).to_bytes(4, "big")
        assert data.count(grid) == 1 and data.count(ispe) == 1
        i = data.index(grid) + 4
        data[i:i + 4] = w.to_bytes(2, "big") + h.to_bytes(2, "big")
        i = data.index(ispe) + 8
        data[i:i + 8] = w.to_bytes(4, "big") + h.to_bytes(4, "big")
        path.write_bytes(bytes(data))
    # what libheif itself shows, to be sure of the file
    shown = np.asarray(pillow_heif.open_heif(str(path))[0])[..., ::-1]
    print(f"{path.name}: {path.stat().st_size} bytes, shown as {shown.shape[1]} x "
          f"{shown.shape[0]}", file=sys.stderr)


def main() -> None:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:  # what puppet.artwork reads
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    picture = cv2.resize(photo, SIZE, interpolation=cv2.INTER_AREA)
    lib = _libheif()
    out = REPO / "tests" / "data"
    out.mkdir(exist_ok=True)
    write(lib, out / "grid.heic", picture, rows=5, columns=4, tile=64, thumbnail=64)
    write(lib, out / "turned.heic", picture, orientation=6)  # shown turned a quarter clockwise
    write(lib, out / "mirrored.heic", picture, orientation=2)  # shown mirrored left to right


if __name__ == "__main__":
    main()
