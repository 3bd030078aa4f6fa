"""The built-in portraits, painted by Puppet itself from a public-domain photograph.

The photograph is the portrait of Grace Hopper (US Navy, public domain) that
matplotlib ships as sample data.  :func:`paint` turns it into an oil-painting
look: a Kuwahara filter flattens it into brush patches, strokes follow the
image's edges, the colours get a warm varnish, and a canvas weave and fine
craquelure show through.  ``python -m puppet.artwork`` re-creates the files in
``assets/portraits``; tests check that the committed files match this code.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from puppet.errors import PuppetError

BUILTIN = {
    # name -> (file in assets/portraits, title shown in the gallery)
    "grace-oil": ("grace_oil.jpg", "Grace, in oils"),
    "grace-sepia": ("grace_sepia.jpg", "Grace, an old photograph"),
}
JPEG_QUALITY = 92


def source_photo() -> np.ndarray:
    """matplotlib's sample photograph of Grace Hopper (BGR)."""
    try:
        import matplotlib.cbook as cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    except Exception as exc:  # noqa: BLE001 - any failure means the same to the user
        raise PuppetError("matplotlib's sample photograph is not available",
                          "install matplotlib (pip install matplotlib)") from exc
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PuppetError(f"cannot read {path}", "reinstall matplotlib")
    return image


def kuwahara(image: np.ndarray, radius: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean of the calmest of its four quadrants."""
    pad = radius
    big = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    img = big.astype(np.float32)
    gray = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY).astype(np.float32)
    k = radius + 1
    mean = cv2.blur(img, (k, k))
    gmean = cv2.blur(gray, (k, k))
    var = cv2.blur(gray * gray, (k, k)) - gmean * gmean
    h, w = image.shape[:2]
    best_var = np.full((h, w), np.inf, np.float32)
    out = np.zeros((h, w, 3), np.float32)
    half = (radius + 1) // 2
    for dy in (-half, half):
        for dx in (-half, half):
            window = (slice(pad + dy, pad + dy + h), slice(pad + dx, pad + dx + w))
            v = var[window]
            better = v < best_var
            best_var = np.where(better, v, best_var)
            out[better] = mean[window][better]
    return np.clip(out, 0, 255).astype(np.uint8)


def _strokes(image: np.ndarray, seed: int) -> np.ndarray:
    """Smear along the edges' direction, like brush strokes."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=5)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=5)
    # structure tensor, smoothed: its minor eigenvector runs along the edges
    jxx = cv2.GaussianBlur(gx * gx, (0, 0), 4)
    jyy = cv2.GaussianBlur(gy * gy, (0, 0), 4)
    jxy = cv2.GaussianBlur(gx * gy, (0, 0), 4)
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy) + np.pi / 2
    h, w = gray.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    acc = np.zeros(image.shape, np.float32)
    steps = (-2, -1, 0, 1, 2)
    for s in steps:
        mx = xs + s * np.cos(angle)
        my = ys + s * np.sin(angle)
        acc += cv2.remap(image, mx.astype(np.float32), my.astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(acc / len(steps), 0, 255).astype(np.uint8)


def _canvas(h: int, w: int, seed: int) -> np.ndarray:
    """A woven canvas texture around 0 (luminance offsets)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = 0.5 * np.sin(xs * 2.1) * np.sin(ys * 0.35) + 0.5 * np.sin(ys * 2.1) * np.sin(xs * 0.35)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.8)
    return weave * 3.0 + grain * 2.5


def _craquelure(h: int, w: int, seed: int) -> np.ndarray:
    """Fine cracks of old varnish: edges of a random cell pattern, as a 0..1 mask."""
    rng = np.random.default_rng(seed + 1)
    cells = np.zeros((h, w), np.int32)
    n = max(200, (h * w) // 400)
    pts = np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], axis=1)
    ys, xs = np.mgrid[0:h, 0:w]
    best = np.full((h, w), np.inf)
    for i, (px, py) in enumerate(pts):
        d = (xs - px) ** 2 + (ys - py) ** 2
        closer = d < best
        best[closer] = d[closer]
        cells[closer] = i
    edges = (np.diff(cells, axis=0, prepend=cells[:1]) != 0) | \
            (np.diff(cells, axis=1, prepend=cells[:, :1]) != 0)
    mask = cv2.GaussianBlur(edges.astype(np.float32), (0, 0), 0.5)
    return np.clip(mask, 0, 1)


def paint(photo: np.ndarray, style: str = "oil", seed: int = 7) -> np.ndarray:
    """The photograph as an oil painting (``oil``) or an aged photograph (``sepia``)."""
    img = photo.copy()
    h, w = img.shape[:2]
    if style == "oil":
        img = kuwahara(img, 4)
        img = _strokes(img, seed)
        f = img.astype(np.float32)
        # warm varnish: lift reds, lower blues, a little more contrast in the middle tones
        f = f * np.array([0.80, 0.95, 1.08], np.float32) + np.array([0, 6, 14], np.float32)
        f = 128 + (f - 128) * 1.08
        f += _canvas(h, w, seed)[..., None]
        f *= (1.0 - 0.07 * _craquelure(h, w, seed))[..., None]
    elif style == "sepia":
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        gray = cv2.GaussianBlur(gray, (0, 0), 0.9)
        tone = np.array([0.62, 0.82, 1.0], np.float32)  # B, G, R
        f = gray[..., None] * tone + np.array([18, 22, 30], np.float32)
        rng = np.random.default_rng(seed)
        f += cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 0.7)[..., None]
    else:
        raise ValueError(f"unknown style {style}")
    # vignette
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2)
    f *= (1.0 - 0.28 * np.clip(r - 0.55, 0, 1) ** 1.5)[..., None]
    return np.clip(f, 0, 255).astype(np.uint8)


def builtin_path(name: str) -> Path:
    from puppet.resources import asset_file

    if name not in BUILTIN:
        raise PuppetError(f"no built-in portrait called '{name}'",
                          f"use one of: {', '.join(BUILTIN)}")
    return asset_file(f"portraits/{BUILTIN[name][0]}")


def write_builtins(folder: Path) -> list[Path]:
    photo = source_photo()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (filename, _title) in BUILTIN.items():
        style = name.split("-", 1)[1]
        out = folder / filename
        cv2.imwrite(str(out), paint(photo, style), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        written.append(out)
    return written


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "assets" / "portraits"
    for p in write_builtins(target):
        print(p)
