"""HEIC photos (puppet.heif): a phone's grid of tiles put together, its turn and mirroring
applied, and a damaged file said so.  The files were written by libheif, the reference
HEIF library (tools/heic_fixtures.py), from this picture."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from puppet.errors import PuppetError
from puppet.heif import HeifError, read_heif
from puppet.portrait import load_portrait, read_image

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def picture(grace_photo) -> np.ndarray:
    return cv2.resize(grace_photo, (256, 300), interpolation=cv2.INTER_AREA)


def _off(image: np.ndarray, expect: np.ndarray) -> float:
    assert image.shape == expect.shape
    return float(np.abs(image.astype(int) - expect).mean())


def test_a_grid_of_tiles_is_put_together(picture):
    """20 tiles of 64 pixels (5 rows of 4), the picture cropped from their 256 x 320."""
    image = read_image(DATA / "grid.heic")
    assert _off(image, picture) < 7.0  # 4.4: HEVC at a low quality
    # each tile in its place: the worst block 7.3 off (two tiles swapped: 81)
    blocks = [_off(image[y:y + 64, x:x + 64], picture[y:y + 64, x:x + 64])
              for y in range(0, 300, 64) for x in range(0, 256, 64)]
    assert max(blocks) < 12.0
    portrait = load_portrait(DATA / "grid.heic")
    assert portrait.faces == 1 and portrait.image.shape[:2] == (300, 256)


def test_a_turn_and_a_mirroring_kept_beside_the_picture_are_applied(picture):
    """A phone keeps a photo taken upright as the camera saw it, on its side, with a turn
    beside it ('irot'): here a grid of 4 x 5 tiles of the picture turned anticlockwise,
    to be turned a quarter clockwise to be shown."""
    turned = read_image(DATA / "turned.heic")
    assert _off(turned, picture) < 7.0  # 4.4; turned the wrong way (upside down): 84
    mirrored = read_image(DATA / "mirrored.heic")  # shown left to right
    assert _off(mirrored, cv2.flip(picture, 1)) < 7.0
    assert _off(mirrored, picture) > 20.0


def test_a_damaged_heic_photo_says_what_to_do(tmp_path):
    data = (DATA / "grid.heic").read_bytes()
    cut = tmp_path / "cut.heic"
    cut.write_bytes(data[:len(data) // 2])  # the tiles' data lies past the end
    with pytest.raises(PuppetError, match="is a HEIC photo that cannot be read") as err:
        read_image(cut)
    assert "Save it as a JPEG" in str(err.value)
    with pytest.raises(HeifError):
        read_heif(data[:40])  # the 'ftyp' box and a part of 'meta'
    no_grid = bytearray(data)  # the grid's tile references taken away
    i = no_grid.index(b"dimg")
    no_grid[i:i + 4] = b"xxxx"
    with pytest.raises(HeifError, match="tiles"):
        read_heif(bytes(no_grid))


def test_a_thumbnail_is_read_where_a_small_picture_will_do(picture):
    """The window's gallery takes a photo's own thumbnail (64 pixels high here; a phone's
    are about 320 wide) instead of decoding the whole photo."""
    small = read_image(DATA / "grid.heic", small=True)
    assert max(small.shape[:2]) == 64
    # libheif makes a thumbnail by picking pixels: 8.3 grey levels from that on average
    # (0.6 from libheif's own decoding of it); the grid's top-left corner of that size, 74
    expect = cv2.resize(picture, (small.shape[1], small.shape[0]),
                        interpolation=cv2.INTER_NEAREST)
    assert _off(small, expect) < 12.0
    assert read_image(DATA / "turned.heic", small=True).shape[:2] == (300, 256)  # none: whole
