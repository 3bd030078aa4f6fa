"""Naming of files being written, and the lock that tells a live one from a dead one.

A file is written as a hidden ``.NAME.part`` beside its final ``NAME``.  A writer
that is still running holds a lock on its part file; a part file that nobody
holds is what is left of a process that crashed or was killed, and can be
recovered (``puppet recover``).
"""
from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from puppet.errors import PuppetError

PART = ".part"


def part_path(final: Path) -> Path:
    """``folder/NAME`` -> ``folder/.NAME.part``."""
    return final.with_name(f".{final.name}{PART}")


def final_path(part: Path) -> Path | None:
    """``folder/.NAME.part`` -> ``folder/NAME``; None for any other name."""
    name = part.name
    if not (name.startswith(".") and name.endswith(PART)) or len(name) <= 1 + len(PART):
        return None
    return part.with_name(name[1:-len(PART)])


def timestamped_stem(prefix: str, when: datetime | None = None) -> str:
    """``puppet-2024-05-01_14-03-22``: sorts by time, safe on every file system."""
    when = when or datetime.now()
    return f"{prefix}-{when:%Y-%m-%d_%H-%M-%S}"


def render_path(folder: Path, portrait: str | Path, driving: str | Path) -> Path:
    """A new MP4 in ``folder`` named after the portrait and the driving clip:
    ``s5_d3.mp4``, else ``s5_d3-2.mp4`` ... (never a file there, nor one being written)."""
    stem = f"{Path(portrait).stem}_{Path(driving).stem}"
    path, n = folder / f"{stem}.mp4", 1
    while path.exists() or part_path(path).exists():
        n += 1
        path = folder / f"{stem}-{n}.mp4"
    return path


def reserve(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path:
    """A stem in ``folder`` that no final or part file of any of ``suffixes`` uses yet,
    with the part file of the first suffix created (so two recorders never share one).
    Returns ``folder/STEM`` (no suffix)."""
    for n in range(1, 1000):
        candidate = stem if n == 1 else f"{stem}-{n}"
        finals = [folder / f"{candidate}{s}" for s in suffixes]
        if any(p.exists() or part_path(p).exists() for p in finals):
            continue
        try:
            fd = os.open(part_path(finals[0]), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return folder / candidate
    raise FileExistsError(f"no free name for {stem} in {folder}")


class PartLock:
    """An exclusive advisory lock on a part file, held while it is written.

    POSIX: ``fcntl.flock`` (the system drops it when the process dies).  Windows:
    a file that another process has open cannot be renamed, so a part file that can
    be renamed (and is renamed back) is taken as nobody's.
    """

    def __init__(self, path: Path, fd: int | None):
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, path: Path) -> PartLock | None:
        """The lock, or None when another process holds it."""
        try:
            import fcntl
        except ImportError:  # Windows
            probe = path.with_name(path.name + ".probe")
            try:
                os.rename(path, probe)
            except OSError:
                return None
            os.rename(probe, path)
            return cls(path, None)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return cls(path, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def file_to_write(path: str, option: str, example: str = "stats.json") -> Path:
    """``path`` for a file a command writes when it ends (``option`` names it), checked
    before the command runs: a folder, a missing folder or one that cannot be written in
    said now rather than after a whole run, whose figures would then be lost."""
    p = Path(path)
    if p.is_dir():
        raise PuppetError(f"{option} {path} is a folder", f"give a file name in it, e.g. "
                          f"{p / example}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise PuppetError(f"the folder for {option}, {parent}, does not exist",
                          "create it first, or give another path")
    try:
        if p.exists():
            with open(p, "a"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=parent, prefix=".puppet-"):
                pass
    except OSError as exc:
        raise PuppetError(f"{option} {path} cannot be written ({exc.strerror or exc})",
                          "give a path in a folder you can write in") from exc
    return p
