"""The desktop bundle's size by its largest parts, as a Markdown table.

    python tools/bundle_size.py dist/puppet [--before UNTRIMMED/puppet] [--files N]

Sizes are those of the files (symbolic links count nothing), in MB (10^6 bytes). With
``--before`` (e.g. a bundle built with PUPPET_BUNDLE_TRIM=0) the table has both columns.
"""
from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

# part -> how the paths of its files (relative to the bundle's _internal folder) begin
PARTS = {
    "onnxruntime: CUDA provider library": ["onnxruntime/capi/libonnxruntime_providers_cuda"],
    "onnxruntime: the rest (CPU provider)": ["onnxruntime"],
    "OpenCV (cv2 and its libraries)": ["cv2", "opencv_contrib_python.libs"],
    "PyAV (FFmpeg, libx264, ...)": ["av", "av.libs"],
    "Qt (PySide6, shiboken6)": ["PySide6", "shiboken6", "libQt6"],
    "NumPy (with OpenBLAS)": ["numpy", "numpy.libs"],
    "MediaPipe (and its face-mesh models)": ["mediapipe", "mediapipe.libs"],
    "matplotlib, Pillow, fontTools, ...": ["matplotlib", "PIL", "pillow.libs", "fontTools",
                                           "kiwisolver", "contourpy", "mpl_toolkits"],
    "Python (libpython, stdlib extensions)": ["libpython", "python3", "base_library.zip"],
    "Python code (Puppet, stdlib, packages; in the executable)": ["../puppet"],
    "Puppet's model and portraits": ["puppet"],
}
OTHER_LIBS = "system libraries (X11, xcb, ALSA, ...)"
OTHER = "everything else"


def part_of(rel: str) -> str:
    """The part a file belongs to, by its path relative to _internal/ (the first match)."""
    for part, prefixes in PARTS.items():
        if rel.startswith(tuple(prefixes)):
            return part
    if "/" not in rel and (".so" in rel or rel.endswith((".dll", ".dylib"))):
        return OTHER_LIBS
    return OTHER


def sizes(bundle: Path) -> Counter:
    internal = bundle / "_internal"
    if not internal.is_dir():
        raise SystemExit(f"{bundle} is not a one-folder PyInstaller bundle (no _internal/)")
    out: Counter = Counter()
    for root, _, files in os.walk(internal):
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            out[part_of(path.relative_to(internal).as_posix())] += path.stat().st_size
    for path in bundle.iterdir():
        if path.is_file() and not path.is_symlink():
            out[part_of("../" + path.name)] += path.stat().st_size
    return out


def largest_files(bundle: Path, n: int) -> list[tuple[int, str]]:
    found = [(p.stat().st_size, p.relative_to(bundle).as_posix()) for p in bundle.rglob("*")
             if p.is_file() and not p.is_symlink()]
    return sorted(found, reverse=True)[:n]


def mb(n: int) -> str:
    return f"{n / 1e6:.0f}" if n >= 1e6 else f"{n / 1e6:.1f}"


def table(after: Counter, before: Counter | None) -> str:
    parts = sorted(set(after) | set(before or {}),
                   key=lambda p: -max(after.get(p, 0), (before or {}).get(p, 0)))
    if before is None:
        rows = ["| part | MB |", "| --- | ---: |"]
        rows += [f"| {p} | {mb(after[p])} |" for p in parts if after.get(p)]
        rows.append(f"| **total** | **{mb(sum(after.values()))}** |")
    else:
        rows = ["| part | untrimmed MB | trimmed MB |", "| --- | ---: | ---: |"]
        rows += [f"| {p} | {mb(before.get(p, 0))} | {mb(after.get(p, 0))} |" for p in parts]
        rows.append(f"| **total** | **{mb(sum(before.values()))}** | "
                    f"**{mb(sum(after.values()))}** |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default="dist/puppet")
    parser.add_argument("--before", help="another build of the bundle to compare with")
    parser.add_argument("--files", type=int, default=0, metavar="N",
                        help="also list the N largest files")
    args = parser.parse_args(argv)
    after = sizes(Path(args.bundle))
    before = sizes(Path(args.before)) if args.before else None
    print(table(after, before))
    if args.files:
        print()
        for size, rel in largest_files(Path(args.bundle), args.files):
            print(f"{mb(size):>6} MB  {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
