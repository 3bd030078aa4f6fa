"""The one exception type for problems a user can cause or fix."""
from __future__ import annotations

from pathlib import Path


class PuppetError(Exception):
    """Something the user can act on: a bad path, a file with no face, a missing device.

    ``str(error)`` is one line: what is wrong, then what to do about it.
    """

    def __init__(self, problem: str, fix: str = ""):
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ")
        super().__init__(self.message)

    @property
    def message(self) -> str:
        problem = sentence(self.problem)
        if not self.fix:
            return f"{problem}."
        return f"{problem}. {sentence(self.fix)}."


def sentence(text: str) -> str:
    """``text`` begun with a capital, unless it begins with a path or a name of a file
    (``live/take.mp4 already exists``), which a capital would change."""
    first = text.split(" ", 1)[0]
    if not first.isalpha():
        return text
    return text[:1].upper() + text[1:]


def existing_file(path: str | Path, what: str, kind: str) -> Path:
    """``path`` as a Path if it names a file; else a :class:`PuppetError` saying it is
    missing or a folder.  ``what`` names it for the user ("portrait"), ``kind`` is what
    it should be ("an image file")."""
    p = Path(path)
    if not p.exists():
        raise PuppetError(f"{what} not found: {p}", "check the path and the file name")
    if p.is_dir():
        raise PuppetError(f"{what} is a folder, not {kind}: {p}", f"give the path of {kind}")
    return p


def by_ctrl_c(exc: BaseException) -> bool:
    """Whether Ctrl+C (or a signal handled as it) is behind ``exc``: an import cut off by
    it fails with an ImportError ("initialization failed" from a compiled module) whose
    cause or context is the KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def not_installed(exc: ImportError, problem: str, fix: str) -> BaseException:
    """What to raise for a package that would not import: a :class:`PuppetError` saying it
    is missing, or a KeyboardInterrupt where Ctrl+C cut its import off (said as "not
    installed", the user was sent to reinstall a package that was there)."""
    if by_ctrl_c(exc):
        return KeyboardInterrupt()
    return PuppetError(problem, fix)
