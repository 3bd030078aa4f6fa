"""HEIC photos (as iPhones take them) and AVIF pictures, read with PyAV's decoders.

FFmpeg opens a HEIC file as a container of streams, but a phone's photo is not one
picture: it is a grid of tiles (512 x 512 pixels each, 48 of them for 12 megapixels),
each coded on its own, with the grid's layout and the photo's turn kept as properties
beside them.  FFmpeg gives the tiles out as separate streams and PyAV has no way to put
them together, so this module reads the file's boxes itself (ISO/IEC 23008-12: the
primary item, its grid, its tiles' coded data and decoder setup, and its clean-aperture
crop, rotation and mirroring), decodes each tile with PyAV (HEVC, or AV1 for an AVIF,
which is laid out the same way) and lays them out.

Only what a photo needs is read: alpha planes, depth maps and gain maps are left out.
Its colour box says what colour space the picture is in (see :func:`colour_profile`).
Anything unexpected raises :class:`HeifError` with the reason.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

# an iPhone's photo says 'heic'; a HEIF file from elsewhere may name only the general
# image-file brands ('mif1', 'miaf'), which an AVIF names too, beside its own 'avif'.
# (Not the brands of picture sequences, 'msf1', 'hevc': those are read as videos.)
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"miaf"}
MAX_PIXELS = 400_000_000  # a picture larger than this is taken for a damaged file
_CODECS = {"hvc1": ("hevc", "hvcC"), "av01": ("libdav1d", "av1C")}  # decoder, its setup


class HeifError(ValueError):
    """The file is not a HEIC or AVIF picture that can be read; the message says why."""


def brands(data: bytes) -> list[bytes]:
    """The brands in an ISO media file's ``ftyp`` box (MP4, MOV, HEIC, AVIF), else []."""
    head = bytes(data[:256])
    if len(head) < 16 or head[4:8] != b"ftyp":
        return []
    end = min(int.from_bytes(head[:4], "big"), len(head))
    return [head[8:12]] + [head[i:i + 4] for i in range(16, end - 3, 4)]


def kind(data: bytes) -> str | None:
    """"AVIF", "HEIC" (any other HEIF image file), or None for another kind of file."""
    found = set(brands(data))
    if found & {b"avif", b"avis"}:
        return "AVIF"
    return "HEIC" if found & HEIF_BRANDS else None


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, box end) of each box between ``start`` and ``end``."""
    off = start
    while off + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, off)
        head = 8
        if size == 1:
            if off + 16 > end:
                raise HeifError("a box is cut short")
            size, head = struct.unpack_from(">Q", data, off + 8)[0], 16
        elif size == 0:
            size = end - off
        if size < head or off + size > end:
            raise HeifError("a box is cut short")
        yield kind.decode("latin-1"), off + head, off + size
        off += size


def _uint(data: bytes, off: int, size: int) -> int:
    """A big-endian number; past the end of the data, an error (so that no count read
    from a damaged file can keep a loop going once the data is used up)."""
    if off + size > len(data):
        raise HeifError("its boxes run past the end of the file")
    return int.from_bytes(data[off:off + size], "big") if size else 0


@dataclass
class _Item:
    kind: str = ""
    method: int = 0  # where its data is: 0 in the file, 1 in the 'idat' box
    extents: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    properties: list[int] = field(default_factory=list)  # 1-based, in their order
    refs: dict[str, list[int]] = field(default_factory=dict)


class _File:
    def __init__(self, data: bytes):
        self.data = data
        self.items: dict[int, _Item] = {}
        self.props: list[tuple[str, int, int]] = []
        self.primary: int | None = None
        self.idat = (0, 0)
        meta = next((b for b in _boxes(data, 0, len(data)) if b[0] == "meta"), None)
        if meta is None:
            raise HeifError("it has no 'meta' box")
        for kind, start, end in _boxes(data, meta[1] + 4, meta[2]):
            if kind == "pitm":
                self.primary = _uint(data, start + 4, 2 if data[start] == 0 else 4)
            elif kind == "iinf":
                self._iinf(start, end)
            elif kind == "iloc":
                self._iloc(start)
            elif kind == "iref":
                self._iref(start, end)
            elif kind == "iprp":
                self._iprp(start, end)
            elif kind == "idat":
                self.idat = (start, end)
        if self.primary is None or self.primary not in self.items:
            raise HeifError("it names no primary picture")

    def item(self, number: int) -> _Item:
        return self.items.setdefault(number, _Item())

    def _iinf(self, start: int, end: int) -> None:
        first = start + 4 + (2 if self.data[start] == 0 else 4)
        for kind, s, _ in _boxes(self.data, first, end):
            version = self.data[s]
            if kind != "infe" or version < 2:
                continue
            size = 2 if version == 2 else 4
            number = _uint(self.data, s + 4, size)
            self.item(number).kind = self.data[s + 4 + size + 2:s + 4 + size + 6].decode("latin-1")

    def _iloc(self, start: int) -> None:
        d, version = self.data, self.data[start]
        off_size, len_size = d[start + 4] >> 4, d[start + 4] & 15
        base_size = d[start + 5] >> 4
        index_size = d[start + 5] & 15 if version in (1, 2) else 0
        if not {off_size, len_size, base_size, index_size} <= {0, 4, 8} or len_size == 0:
            raise HeifError("its item locations are damaged")
        p = start + 6
        id_size = 2 if version < 2 else 4
        count = _uint(d, p, id_size)
        p += id_size
        for _ in range(count):
            item = self.item(_uint(d, p, id_size))
            p += id_size
            if version in (1, 2):
                item.method = _uint(d, p, 2) & 15
                p += 2
            p += 2  # data reference index: the file itself
            base = _uint(d, p, base_size)
            p += base_size
            extents = _uint(d, p, 2)
            p += 2
            for _ in range(extents):
                p += index_size
                offset = _uint(d, p, off_size)
                length = _uint(d, p + off_size, len_size)
                p += off_size + len_size
                item.extents.append((base + offset, length))

    def _iref(self, start: int, end: int) -> None:
        size = 2 if self.data[start] == 0 else 4
        for kind, s, _ in _boxes(self.data, start + 4, end):
            source = _uint(self.data, s, size)
            n = _uint(self.data, s + size, 2)
            targets = [_uint(self.data, s + size + 2 + i * size, size) for i in range(n)]
            self.item(source).refs.setdefault(kind, []).extend(targets)

    def _iprp(self, start: int, end: int) -> None:
        d = self.data
        for kind, s, e in _boxes(d, start, end):
            if kind == "ipco":
                self.props = list(_boxes(d, s, e))
            elif kind == "ipma":
                version, flags = d[s], _uint(d, s + 1, 3)
                p, id_size = s + 8, 2 if version < 1 else 4
                for _ in range(_uint(d, s + 4, 4)):
                    item = self.item(_uint(d, p, id_size))
                    p += id_size
                    n = d[p]
                    p += 1
                    for _ in range(n):
                        if flags & 1:
                            item.properties.append(_uint(d, p, 2) & 0x7FFF)
                            p += 2
                        else:
                            item.properties.append(d[p] & 0x7F)
                            p += 1

    def property(self, item: _Item, kind: str) -> tuple[int, int] | None:
        for index in item.properties:
            if 0 < index <= len(self.props) and self.props[index - 1][0] == kind:
                return self.props[index - 1][1:]
        return None

    def payload(self, item: _Item) -> bytes:
        if item.method == 0:
            base, limit = 0, len(self.data)
        elif item.method == 1:
            base, limit = self.idat
        else:
            raise HeifError(f"its data is stored in a way not supported (method {item.method})")
        parts = []
        for offset, length in item.extents:
            start = base + offset
            stop = limit if length == 0 else start + length
            if stop > limit or start > stop:
                raise HeifError("its data lies past the end of the file")
            parts.append(self.data[start:stop])
        return b"".join(parts)


def _decode(heif: _File, numbers: list[int]) -> Iterator[np.ndarray]:
    """The coded pictures (BGR), one by one, each cut to its stated size ('ispe')."""
    import av

    for number in numbers:
        item = heif.items.get(number)
        if item is None or item.kind not in _CODECS:
            raise HeifError(f"a picture in it is coded as {item.kind if item else '?'!r}, "
                            "not HEVC or AV1")
        codec, config = _CODECS[item.kind]
        box = heif.property(item, config)
        if box is None:
            raise HeifError("a picture in it has no decoder setup")
        data = heif.payload(item)
        try:
            context = av.CodecContext.create(codec, "r")  # one a picture: each is flushed
            context.extradata = heif.data[box[0]:box[1]]
            frames = context.decode(av.Packet(data)) + context.decode(None)
            image = frames[0].to_ndarray(format="bgr24") if frames else None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise HeifError(f"a picture in it cannot be decoded ({exc})") from exc
        if image is None:
            raise HeifError("a picture in it decodes to nothing")
        size = heif.property(item, "ispe")
        if size is not None:
            w, h = _uint(heif.data, size[0] + 4, 4), _uint(heif.data, size[0] + 8, 4)
            image = image[:h, :w]
        yield image


def _grid(heif: _File, item: _Item) -> np.ndarray:
    d = heif.payload(item)
    if len(d) < 8:
        raise HeifError("its grid is cut short")
    rows, columns = d[2] + 1, d[3] + 1
    size = 4 if d[1] & 1 else 2
    width, height = _uint(d, 4, size), _uint(d, 4 + size, size)
    tiles = item.refs.get("dimg", [])
    if len(tiles) != rows * columns:
        raise HeifError(f"its grid of {rows} x {columns} has {len(tiles)} tiles")
    if width * height > MAX_PIXELS or width < 1 or height < 1:
        raise HeifError(f"its picture size, {width} x {height}, cannot be right")
    canvas = None
    for i, picture in enumerate(_decode(heif, tiles)):
        if canvas is None:
            th, tw = picture.shape[:2]
            if rows * th < height or columns * tw < width \
                    or rows * th * columns * tw > 2 * MAX_PIXELS:
                raise HeifError(f"its {rows} x {columns} tiles of {tw} x {th} do not make "
                                f"its {width} x {height} picture")
            canvas = np.zeros((rows * th, columns * tw, 3), np.uint8)
        if picture.shape[:2] != (th, tw):
            raise HeifError("the tiles of its grid differ in size")
        r, c = divmod(i, columns)
        canvas[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = picture
    assert canvas is not None  # rows * columns >= 1 tiles
    return canvas[:height, :width]


def _transformed(heif: _File, item: _Item, image: np.ndarray) -> np.ndarray:
    """The picture as it is to be shown: its crop, turn and mirroring, in their order."""
    d = heif.data
    for index in item.properties:
        if not 0 < index <= len(heif.props):
            continue
        kind, s, _ = heif.props[index - 1]
        if kind == "irot":  # quarter turns counter-clockwise
            turns = d[s] & 3
            if turns:
                image = cv2.rotate(image, (cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180,
                                           cv2.ROTATE_90_CLOCKWISE)[turns - 1])
        elif kind == "imir":  # 1: left and right swap; 0: top and bottom (as libheif)
            image = cv2.flip(image, 1 if d[s] & 1 else 0)
        elif kind == "clap":
            n = struct.unpack_from(">IIIIiIiI", d, s)
            if 0 in (n[1], n[3], n[5], n[7]):
                raise HeifError("its crop is not valid")
            h, w = image.shape[:2]
            cw, ch = n[0] / n[1], n[2] / n[3]
            left = round(n[4] / n[5] + (w - cw) / 2)
            top = round(n[6] / n[7] + (h - ch) / 2)
            right, bottom = left + round(cw), top + round(ch)
            if left < 0 or top < 0 or right > w or bottom > h or right <= left or bottom <= top:
                raise HeifError("its crop lies outside its picture")
            image = image[top:bottom, left:right]
    return np.ascontiguousarray(image)


def colour_profile(data: bytes):
    """What the primary picture's 'colr' box says of its colours (see
    :mod:`puppet.colour`): an ICC profile (bytes), an :class:`~puppet.colour.Nclx`, or None
    (no box, or one that cannot be read: the picture is then taken as sRGB).  A grid's
    box may be on its tiles instead of on the grid."""
    from puppet.colour import Nclx

    data = bytes(data)
    try:
        heif = _File(data)
        primary = heif.items[heif.primary]
        for item in [primary] + [heif.items[n] for n in primary.refs.get("dimg", [])[:1]
                                 if n in heif.items]:
            box = heif.property(item, "colr")
            if box is None:
                continue
            start, end = box
            kind = data[start:start + 4]
            if kind in (b"prof", b"rICC") and end - start > 4:
                return data[start + 4:end]
            if kind == b"nclx" and end - start >= 10:
                return Nclx(primaries=_uint(data, start + 4, 2),
                            transfer=_uint(data, start + 6, 2))
            return None
    except (HeifError, IndexError, KeyError, struct.error):
        return None
    return None


def read_heif(data: bytes, thumbnail: bool = False) -> np.ndarray:
    """The primary picture of a HEIC or AVIF file (BGR uint8) as it is to be shown;
    ``thumbnail``: its thumbnail instead, where it has one (a phone's photo has one of
    about 320 pixels: 5 ms here against 0.2 to 0.4 s for the whole 11 to 12 megapixels)."""
    data = bytes(data)
    try:
        heif = _File(data)
        number = heif.primary
        if thumbnail:
            number = next((n for n, it in heif.items.items()
                           if heif.primary in it.refs.get("thmb", [])
                           and it.kind in _CODECS), number)
        item = heif.items[number]
        if item.kind == "grid":
            image = _grid(heif, item)
        else:
            image = next(_decode(heif, [number]))
        return _transformed(heif, item, image)
    except (IndexError, struct.error) as exc:
        raise HeifError("its boxes are damaged") from exc
