"""Writes the HEIC files the tests read (tests/data/*.heic) with libheif, the reference
HEIF library, as bundled in pillow-heif (not a dependency of Puppet: run it in a virtual
environment of its own, ``pip install pillow-heif
numpy opencv-python-headless matplotlib``, with
``python tools/heic_fixtures.py``).

They are laid out as phones store photos: ``grid.heic`` is a grid of 64-pixel tiles
(a phone's are 512) whose picture is cropped from the tiles' whole, with a thumbnail 64
pixels high, as a phone's photo has one; ``turned.heic`` is such a grid kept on its side
with a turn beside it ('irot', added by :func:`add_turn`: libheif writes none on a grid),
as a phone keeps a photo taken upright; ``mirrored.heic`` is one picture with a mirroring
('imir', which libheif writes from an EXIF orientation).  The picture is the tests' Grace Hopper
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
sys.path.insert(0, str(REPO))
from puppet.colour import PRIMARIES, matrix_profile, rgb_to_xyz, srgb_decode  # noqa: E402

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
                 "heif_encoder_set_lossy_quality", "heif_image_set_nclx_color_profile",
                 "heif_image_set_raw_color_profile",
                 "heif_nclx_color_profile_set_color_primaries",
                 "heif_nclx_color_profile_set_transfer_characteristics",
                 "heif_nclx_color_profile_set_matrix_coefficients"):
        getattr(lib, name).restype = _Error
    lib.heif_context_alloc.restype = C.c_void_p
    lib.heif_nclx_color_profile_alloc.restype = C.c_void_p
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


def _colour(lib: C.CDLL, image: C.c_void_p, nclx: int | None, icc: bytes | None) -> None:
    """Says the image's colour space: H.273 colour primaries ``nclx`` (with sRGB's curve
    and full-range BT.601 YCbCr, as libheif codes RGB) or an ICC profile."""
    if nclx is not None:
        profile = C.c_void_p(lib.heif_nclx_color_profile_alloc())
        _check(lib.heif_nclx_color_profile_set_color_primaries(profile, C.c_uint16(nclx)))
        _check(lib.heif_nclx_color_profile_set_transfer_characteristics(profile, C.c_uint16(13)))
        _check(lib.heif_nclx_color_profile_set_matrix_coefficients(profile, C.c_uint16(6)))
        C.c_uint8.from_address(profile.value + 16).value = 1  # full_range_flag
        _check(lib.heif_image_set_nclx_color_profile(image, profile))
    if icc is not None:
        _check(lib.heif_image_set_raw_color_profile(image, b"prof", icc, C.c_size_t(len(icc))))


def write(lib: C.CDLL, path: Path, bgr: np.ndarray, rows: int = 1, columns: int = 1,
          tile: int | None = None, orientation: int = 1, quality: int = 40,
          thumbnail: int | None = None, nclx: int | None = None,
          icc: bytes | None = None) -> None:
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
            _colour(lib, C.c_void_p(images[r * columns + c]), nclx, icc)
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
    heif = pillow_heif.open_heif(str(path))
    shown = np.asarray(heif[0])[..., ::-1]
    colour = {k: v if k == "nclx_profile" else f"{len(v)} bytes" for k, v in heif.info.items()
              if k in ("nclx_profile", "icc_profile")}
    print(f"{path.name}: {path.stat().st_size} bytes, shown as {shown.shape[1]} x "
          f"{shown.shape[0]}" + (f", its colours {colour}" if colour else ""), file=sys.stderr)


def _box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int]:
    """(offset, size) of the first box of this type between start and end."""
    off = start
    while off + 8 <= end:
        size = int.from_bytes(data[off:off + 4], "big")
        if data[off + 4:off + 8] == kind:
            return off, size
        off += size
    raise ValueError(f"no {kind!r} box")


def add_turn(path: Path, turns_ccw: int) -> None:
    """Gives the primary picture an 'irot' property (quarter turns counter-clockwise), as
    a phone does for a photo taken upright; libheif writes none on a grid.  The box goes
    at the end of 'ipco'; the boxes holding it grow, and the item locations in the file
    after it move on by as much."""
    data = bytearray(path.read_bytes())
    meta, meta_size = _box(data, 0, len(data), b"meta")
    iloc, _ = _box(data, meta + 12, meta + meta_size, b"iloc")
    iprp, iprp_size = _box(data, meta + 12, meta + meta_size, b"iprp")
    ipco, ipco_size = _box(data, iprp + 8, iprp + iprp_size, b"ipco")
    ipma, ipma_size = _box(data, iprp + 8, iprp + iprp_size, b"ipma")
    primary = int.from_bytes(data[_box(data, meta + 12, meta + meta_size, b"pitm")[0] + 12:][:2],
                             "big")
    count, off = 0, ipco + 8
    while off < ipco + ipco_size:
        count, off = count + 1, off + int.from_bytes(data[off:off + 4], "big")
    irot = (9).to_bytes(4, "big") + b"irot" + bytes([turns_ccw & 3])
    # the primary item's entry in 'ipma' (version 0, 1-byte indices): one more property
    assert data[ipma + 8] == 0 and not data[ipma + 11] & 1 and count + 1 < 128
    p = ipma + 16
    for _ in range(int.from_bytes(data[ipma + 12:ipma + 16], "big")):
        item, n = int.from_bytes(data[p:p + 2], "big"), data[p + 2]
        if item == primary:
            data[p + 2] += 1
            data[p + 3 + n:p + 3 + n] = bytes([0x80 | (count + 1)])
            break
        p += 3 + n
    else:
        raise ValueError("the primary item has no properties")
    data[ipco + ipco_size:ipco + ipco_size] = irot  # before 'ipma', which follows it
    grown = len(irot) + 1
    for box, size, more in ((meta, meta_size, grown), (iprp, iprp_size, grown),
                            (ipco, ipco_size, len(irot))):
        data[box:box + 4] = (size + more).to_bytes(4, "big")
    ipma += len(irot)
    data[ipma:ipma + 4] = (ipma_size + 1).to_bytes(4, "big")
    # iloc (before the insertion): data in the file after it moves on
    version = data[iloc + 8]
    off_size, len_size = data[iloc + 12] >> 4, data[iloc + 12] & 15
    base_size, index_size = data[iloc + 13] >> 4, (data[iloc + 13] & 15) if version else 0
    assert version in (0, 1) and off_size in (4, 8)
    moved = ipco + ipco_size  # data at or after this offset moved on by 'grown'
    p = iloc + 16  # past the box's header, its field sizes and its item count
    for _ in range(int.from_bytes(data[iloc + 14:iloc + 16], "big")):
        p += 2  # the item's number
        method = 0
        if version:
            method = int.from_bytes(data[p:p + 2], "big") & 15
            p += 2
        p += 2  # data reference index
        base = int.from_bytes(data[p:p + base_size], "big")
        if method == 0 and base_size and base >= moved:
            data[p:p + base_size] = (base + grown).to_bytes(base_size, "big")
        p += base_size
        extents = int.from_bytes(data[p:p + 2], "big")
        p += 2
        for _ in range(extents):
            p += index_size
            offset = int.from_bytes(data[p:p + off_size], "big")
            if method == 0 and base < moved <= base + offset:
                data[p:p + off_size] = (offset + grown).to_bytes(off_size, "big")
            p += off_size + len_size
    path.write_bytes(bytes(data))


# a few colours (sRGB, BGR) in squares of 64 pixels below the photo: red, green, blue,
# which P3 writes with very different numbers, and a skin tone
PATCHES = ((40, 40, 220), (60, 200, 40), (210, 70, 30), (140, 170, 225))


def colour_chart(picture: np.ndarray) -> np.ndarray:
    """The picture with the PATCHES in a band of 64 pixels below it (sRGB, BGR)."""
    band = np.zeros((64, picture.shape[1], 3), np.uint8)
    for i, colour in enumerate(PATCHES):
        band[:, i * 64:(i + 1) * 64] = colour
    return np.vstack([picture, band])


def to_p3(bgr: np.ndarray) -> np.ndarray:
    """An sRGB picture's colours in Display P3's numbers (both with sRGB's curve)."""
    linear = srgb_decode(bgr[..., ::-1] / 255.0)
    p3 = linear @ np.linalg.solve(rgb_to_xyz(PRIMARIES[12]), rgb_to_xyz(PRIMARIES[1])).T
    p3 = np.clip(p3, 0.0, 1.0)
    coded = np.where(p3 <= 0.0031308, 12.92 * p3, 1.055 * p3 ** (1 / 2.4) - 0.055)
    return np.round(coded * 255.0)[..., ::-1].astype(np.uint8)


def main() -> None:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:  # what puppet.artwork reads
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    picture = cv2.resize(photo, SIZE, interpolation=cv2.INTER_AREA)
    lib = _libheif()
    out = REPO / "tests" / "data"
    out.mkdir(exist_ok=True)
    write(lib, out / "grid.heic", picture, rows=5, columns=4, tile=64, thumbnail=64)
    # a photo taken upright: the picture kept as the camera saw it (on its side), in
    # tiles, and turned to be shown; libheif writes no turn on a grid, so it is added
    write(lib, out / "turned.heic", cv2.rotate(picture, cv2.ROTATE_90_COUNTERCLOCKWISE),
          rows=4, columns=5, tile=64)
    add_turn(out / "turned.heic", 3)  # three quarter turns anticlockwise: one clockwise
    shown = np.asarray(pillow_heif.open_heif(str(out / "turned.heic"))[0])
    print(f"turned.heic with its turn: shown as {shown.shape[1]} x {shown.shape[0]}",
          file=sys.stderr)
    write(lib, out / "mirrored.heic", picture, orientation=2)  # shown mirrored left to right
    # a phone's photo in Display P3: the picture and colour patches (see colour_chart)
    # in P3's numbers, which say so by an 'nclx' box or by an ICC profile
    chart = colour_chart(picture)
    write(lib, out / "p3.heic", to_p3(chart), quality=80, nclx=12)
    write(lib, out / "p3-icc.heic", to_p3(chart), quality=80,
          icc=matrix_profile(PRIMARIES[12], "Display P3 (test)"))


if __name__ == "__main__":
    main()
