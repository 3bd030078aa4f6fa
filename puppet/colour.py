"""A picture's colours as sRGB, whatever colour space its file says it is in.

Phones keep their photos in Display P3 (an iPhone's JPEG and HEIC photos both say so),
and cameras and scanners often in Adobe RGB: wider colour spaces than sRGB, in which
the same numbers mean more saturated colours.  Read as if they were sRGB (OpenCV's
decoders take no notice of a file's colour profile), such a photo comes out dull: a P3
red of (255, 0, 0) is shown as sRGB's less saturated red, and skin loses some of its
warmth.  Everything after loading (the warp, the screen, the recording, the virtual
camera) works in sRGB, so a picture's colours are converted to sRGB once, on loading.

A file says its colour space in one of two ways:

* an ICC profile (JPEG, PNG, WebP, TIFF, HEIC): a display's kind of profile (a matrix to
  CIE XYZ and a curve per channel, as Display P3, Adobe RGB and sRGB itself are made)
  is converted here, relative colorimetric, as picture viewers show it;
* for HEIC and AVIF, instead, a few numbers (an 'nclx' colour box: its primaries and
  its transfer curve, as video has): P3's and BT.2020's primaries with an sRGB-like
  curve are converted the same way, through a profile made for them
  (:func:`matrix_profile`).

A profile that is sRGB already (as most are) changes nothing: the picture is left
exactly as decoded.  A profile that cannot be read or used (damaged; one made of
lookup tables, rare in photos; one for CMYK or grey pictures, which OpenCV decodes its
own way) is passed over, with a warning in the log: the picture is still shown, as
before.  (All in NumPy: the desktop bundle leaves Pillow, and its LittleCMS, out.)
"""
from __future__ import annotations

import functools
import logging
import struct
import zlib
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# colour primaries (x, y of red, green, blue and white), by their number in an 'nclx'
# box (ITU-T H.273)
PRIMARIES = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290)),  # BT.709, sRGB
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), (0.3127, 0.3290)),  # BT.2020
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290)),  # Display P3
}
# transfer curves taken as sRGB's: sRGB's own (13), the video curves phones and cameras
# tag pictures with (BT.709 and its like: 1, 6, 14, 15), which picture viewers show as
# sRGB, and 2, "unspecified"
SRGB_LIKE_CURVES = {1, 2, 6, 13, 14, 15}
SAME = 1.0  # a profile that moves no colour by more than this many grey levels is sRGB


@dataclass(frozen=True)
class Nclx:
    """An 'nclx' colour box's colour primaries and transfer curve (ITU-T H.273)."""

    primaries: int
    transfer: int


def file_profile(data: bytes) -> bytes | None:
    """The ICC profile a JPEG, PNG, WebP or TIFF file carries, or None (none, or another
    kind of file: HEIC and AVIF keep theirs in boxes, see :mod:`puppet.heif`)."""
    try:
        if data[:2] == b"\xff\xd8":
            return _jpeg_profile(data)
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _png_profile(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_profile(data)
        if data[:4] in (b"II*\0", b"MM\0*"):
            return _tiff_profile(data)
    except (IndexError, ValueError, struct.error, zlib.error) as exc:
        log.warning("the picture's colour profile cannot be read (%s): its colours are "
                    "read as sRGB", exc)
    return None


def _jpeg_profile(data: bytes) -> bytes | None:
    """A JPEG's profile: in APP2 segments named ICC_PROFILE, numbered (a profile over
    64 KB takes several), before the picture's data."""
    parts: dict[int, bytes] = {}
    off = 2
    while off + 4 <= len(data) and data[off] == 0xFF:
        marker = data[off + 1]
        if marker in (0xD9, 0xDA):  # the end, or the picture's data: no more headers
            break
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            off += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[off + 2:off + 4], "big")
        body = data[off + 4:off + 2 + length]
        if marker == 0xE2 and body[:12] == b"ICC_PROFILE\0" and len(body) > 14:
            parts[body[12]] = body[14:]
        off += 2 + length
    if not parts:
        return None
    return b"".join(parts[k] for k in sorted(parts))


def _png_profile(data: bytes) -> bytes | None:
    """A PNG's profile: its iCCP chunk (a name, a zero, the compression method, and the
    profile deflated); None with an sRGB chunk, which says sRGB outright."""
    off = 8
    while off + 8 <= len(data):
        length = int.from_bytes(data[off:off + 4], "big")
        kind = data[off + 4:off + 8]
        body = data[off + 8:off + 8 + length]
        if kind == b"iCCP":
            name_end = body.index(b"\0")
            return zlib.decompress(body[name_end + 2:])
        if kind in (b"sRGB", b"IDAT", b"IEND"):
            return None
        off += 12 + length
    return None


def _webp_profile(data: bytes) -> bytes | None:
    """A WebP's profile: its ICCP chunk (an extended WebP's, before the picture)."""
    off = 12
    while off + 8 <= len(data):
        kind = data[off:off + 4]
        length = int.from_bytes(data[off + 4:off + 8], "little")
        if kind == b"ICCP":
            return data[off + 8:off + 8 + length]
        off += 8 + length + (length & 1)
    return None


def _tiff_profile(data: bytes) -> bytes | None:
    """A TIFF's profile: its first picture's tag 34675 (bytes kept elsewhere in the file)."""
    order = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    for i in range(int.from_bytes(data[ifd:ifd + 2], order)):
        entry = data[ifd + 2 + 12 * i:ifd + 14 + 12 * i]
        if int.from_bytes(entry[:2], order) == 34675:
            size = int.from_bytes(entry[4:8], order)
            if size <= 4:
                return None  # too short to be a profile
            start = int.from_bytes(entry[8:12], order)
            return data[start:start + size]
    return None


def to_srgb(image: np.ndarray, profile: bytes | Nclx | None, what: str = "picture"
            ) -> np.ndarray:
    """``image`` (BGR uint8, as decoded) with its colours converted from the colour space
    ``profile`` says to sRGB; the image itself where there is nothing to convert."""
    if profile is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        return image
    if isinstance(profile, Nclx):
        if profile.primaries in (1, 2):  # sRGB's own, or unspecified
            return image
        if profile.primaries not in PRIMARIES or profile.transfer not in SRGB_LIKE_CURVES:
            log.warning("the %s's colours (primaries %d, transfer %d) are read as sRGB: "
                        "that colour space is not converted", what, profile.primaries,
                        profile.transfer)
            return image
        profile = _nclx_profile(profile.primaries)
    conversion = _conversion(bytes(profile), what)
    return image if conversion is None else conversion(image)


@dataclass(frozen=True)
class _Conversion:
    """From a matrix-and-curves RGB profile's numbers to sRGB's: each channel's curve
    (a table of its 256 values), the matrix between the two spaces' linear colours
    (both as their profiles give them, adapted to D50), and sRGB's curve back (a table
    over linear light, fine enough to be exact to a grey level)."""

    curves: np.ndarray  # [3, 256] linear light of each channel's (R, G, B) values
    matrix: np.ndarray  # [3, 3] linear RGB (the profile's) to linear sRGB

    def __call__(self, image: np.ndarray) -> np.ndarray:
        bgr = self.matrix[::-1, ::-1].T.astype(np.float32)  # BGR in, BGR out
        curves = self.curves[::-1].astype(np.float32)
        out = np.empty_like(image)
        table = _srgb_table()
        last = len(table) - 1
        for top in range(0, image.shape[0], 256):  # a band at a time: a 12 MP photo's
            rows = image[top:top + 256]  # linear colours alone would take 150 MB
            linear = np.stack([curves[c][rows[..., c]] for c in range(3)], axis=-1) @ bgr
            index = np.clip(linear * last + 0.5, 0, last).astype(np.int32)
            out[top:top + 256] = table[index]
        return out


@functools.lru_cache(maxsize=1)
def _srgb_table() -> np.ndarray:
    """sRGB's coded value (uint8) of linear light i / 65535."""
    v = np.linspace(0.0, 1.0, 65536)
    coded = np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)
    return np.round(coded * 255.0).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _conversion(icc: bytes, what: str) -> _Conversion | None:
    """The conversion from the profile's colours to sRGB; None for an sRGB profile, and
    for one that cannot be used (logged)."""
    try:
        colorants, curves = _matrix_and_curves(icc)
    except (ValueError, IndexError, struct.error) as exc:
        log.warning("the %s's colour profile cannot be used (%s): its colours are read as "
                    "sRGB", what, exc)
        return None
    srgb, _ = _matrix_and_curves(_srgb_profile())
    conversion = _Conversion(curves=curves, matrix=np.linalg.solve(srgb, colorants))
    probe = _probe()
    if np.abs(conversion(probe).astype(np.int16) - probe).max() <= SAME:
        return None
    log.info("converting the %s's colours from %r to sRGB", what, _description(icc))
    return conversion


@functools.lru_cache(maxsize=1)
def _srgb_profile() -> bytes:
    return matrix_profile(PRIMARIES[1], "sRGB")


def _tags(icc: bytes) -> dict[bytes, bytes]:
    """An ICC profile's tags by their signatures, after checking it is an RGB one."""
    if len(icc) < 132 or icc[36:40] != b"acsp":
        raise ValueError("it is not an ICC profile")
    if icc[16:20] != b"RGB ":
        raise ValueError(f"it is for {icc[16:20].decode('latin-1').strip()} pictures, "
                         "not RGB ones")
    count = int.from_bytes(icc[128:132], "big")
    tags = {}
    for i in range(min(count, 200)):
        name, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
        tags[name] = icc[offset:offset + size]
    return tags


def _matrix_and_curves(icc: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A matrix-and-curves RGB profile's colorants ([3, 3]: linear R, G, B to D50 XYZ)
    and curves ([3, 256]); ValueError for any other kind of profile (one made of
    lookup tables: rare in photos)."""
    tags = _tags(icc)
    names = (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")
    missing = [n.decode() for n in names if n not in tags]
    if missing:
        raise ValueError("it has no " + ", ".join(missing) + " (a profile made of lookup "
                         "tables, which is not converted)")
    columns = []
    for name in names[:3]:
        block = tags[name]
        if block[:4] != b"XYZ " or len(block) < 20:
            raise ValueError(f"its {name.decode()} is damaged")
        columns.append(np.array(struct.unpack_from(">3i", block, 8)) / 65536.0)
    v = np.arange(256) / 255.0
    curves = np.stack([_curve(tags[name], v) for name in names[3:]])
    return np.stack(columns, axis=1), curves


def _curve(block: bytes, v: np.ndarray) -> np.ndarray:
    """Linear light of the coded values ``v`` (0..1) by a 'curv' or 'para' curve."""
    kind = block[:4]
    if kind == b"curv":
        n = int.from_bytes(block[8:12], "big")
        if n == 0:
            return v.copy()
        if n == 1:
            return v ** (int.from_bytes(block[12:14], "big") / 256.0)
        if len(block) < 12 + 2 * n:
            raise ValueError("a curve of it is cut short")
        table = np.array(struct.unpack_from(f">{n}H", block, 12)) / 65535.0
        return np.interp(v * (n - 1), np.arange(n), table)
    if kind == b"para":
        function = int.from_bytes(block[8:10], "big")
        counts = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
        if function not in counts:
            raise ValueError(f"a curve of it is of an unknown kind ({function})")
        p = np.array(struct.unpack_from(f">{counts[function]}i", block, 12)) / 65536.0
        g, a, b, c, d, e, f = (list(p) + [0.0] * 7)[:7]
        if function == 0:
            return v ** g
        if function == 1:  # (a v + b) ^ g from -b / a on
            return np.where(v >= -b / a, np.maximum(a * v + b, 0.0) ** g, 0.0)
        if function == 2:
            return np.where(v >= -b / a, np.maximum(a * v + b, 0.0) ** g + c, c)
        if function == 3:  # sRGB's kind: c v below d
            return np.where(v >= d, np.maximum(a * v + b, 0.0) ** g, c * v)
        return np.where(v >= d, np.maximum(a * v + b, 0.0) ** g + e, c * v + f)
    raise ValueError(f"a curve of it is of an unknown kind ({kind!r})")


def _description(icc: bytes) -> str:
    """The profile's name (its 'desc' tag, version 2 or 4), or "?"."""
    try:
        block = _tags(icc).get(b"desc", b"")
        if block[:4] == b"desc":
            n = int.from_bytes(block[8:12], "big")
            return block[12:12 + n].rstrip(b"\0").decode("latin-1")
        if block[:4] == b"mluc":
            size, offset = struct.unpack_from(">II", block, 20)
            return block[offset:offset + size].decode("utf-16-be")
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        pass
    return "?"


@functools.lru_cache(maxsize=1)
def _probe() -> np.ndarray:
    """17^3 colours through the RGB cube, as one picture (uint8)."""
    levels = np.linspace(0, 255, 17).round().astype(np.uint8)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([r, g, b], axis=-1).reshape(17 * 17, 17, 3)


def rgb_to_xyz(primaries) -> np.ndarray:
    """The 3 x 3 matrix from linear RGB with these primaries and white to CIE XYZ."""
    (xr, yr), (xg, yg), (xb, yb), (xw, yw) = primaries
    columns = np.array([[x / y, 1.0, (1.0 - x - y) / y]
                        for x, y in ((xr, yr), (xg, yg), (xb, yb))]).T
    white = np.array([xw / yw, 1.0, (1.0 - xw - yw) / yw])
    return columns * np.linalg.solve(columns, white)


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """sRGB's curve undone: 0..1 coded values to linear light."""
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


# Bradford's cone responses, which ICC profiles adapt their white to D50 with
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                      [0.0389, -0.0685, 1.0296]])
_D50 = np.array([0.9642, 1.0, 0.8249])


def matrix_profile(primaries, description: str, gamma: float | None = None) -> bytes:
    """An ICC profile (version 2, a display's: a matrix and a curve per channel) of RGB
    with these primaries and white, and sRGB's curve (or a plain ``gamma``, as Adobe
    RGB's 2.2), such as any colour-managed program reads."""
    (xw, yw) = primaries[3]
    white = np.array([xw / yw, 1.0, (1.0 - xw - yw) / yw])
    cone = _BRADFORD @ _D50 / (_BRADFORD @ white)
    to_d50 = np.linalg.solve(_BRADFORD, np.diag(cone) @ _BRADFORD)
    colorants = to_d50 @ rgb_to_xyz(primaries)

    def fixed(values) -> bytes:
        return b"".join(struct.pack(">i", int(round(float(v) * 65536))) for v in values)

    def xyz(values) -> bytes:
        return b"XYZ " + bytes(4) + fixed(values)

    text = description.encode("ascii", "replace")
    desc = (b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + b"\0"
            + bytes(4 + 4 + 2 + 1 + 67))  # no Unicode nor ScriptCode text
    if gamma is not None:
        curv = b"curv" + bytes(4) + struct.pack(">IH", 1, int(round(gamma * 256)))
    else:
        curve = srgb_decode(np.linspace(0.0, 1.0, 1024))
        curv = b"curv" + bytes(4) + struct.pack(">I", 1024) + struct.pack(
            ">1024H", *np.round(curve * 65535).astype(int))
    blocks = [(b"desc", desc), (b"cprt", b"text" + bytes(4) + b"No copyright\0"),
              (b"wtpt", xyz(_D50)), (b"rXYZ", xyz(colorants[:, 0])),
              (b"gXYZ", xyz(colorants[:, 1])), (b"bXYZ", xyz(colorants[:, 2])),
              (b"rTRC", curv)]
    tags = [name for name, _ in blocks] + [b"gTRC", b"bTRC"]  # the three share one curve
    offset = 128 + 4 + 12 * len(tags)
    table, body, where = [], b"", {}
    for name, block in blocks:
        where[name] = (offset + len(body), len(block))
        body += block + bytes(-len(block) % 4)
    where[b"gTRC"] = where[b"bTRC"] = where[b"rTRC"]
    for name in tags:
        table.append(name + struct.pack(">II", *where[name]))
    size = offset + len(body)
    header = (struct.pack(">I", size) + bytes(4) + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4)
              + fixed(_D50) + bytes(4 + 16 + 28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body


@functools.lru_cache(maxsize=4)
def _nclx_profile(primaries: int) -> bytes:
    return matrix_profile(PRIMARIES[primaries], f"H.273 colour primaries {primaries}")
