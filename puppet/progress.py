"""A progress bar on stderr for long work in the terminal."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``Rendering  42% |#########            | 130/310  31.2 fps  0:06 left``.

    Redraws in place on a terminal; elsewhere (a log file, CI) prints a line at
    every tenth of the way so logs stay short.
    """

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 28):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._last_decile = -1
        self._shown = False

    def __call__(self, done: int, total: int, fps: float) -> None:
        now = time.monotonic()
        total = max(total, done)
        frac = done / total if total else 0.0
        if self.tty:
            if now - self._last_draw < 0.1 and done < total:
                return
            self._last_draw = now
            self.stream.write("\r" + self._line(done, total, frac, fps))
            self.stream.flush()
            self._shown = True
        else:
            decile = int(frac * 10)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line(done, total, frac, fps) + "\n")
                self.stream.flush()

    def _line(self, done: int, total: int, frac: float, fps: float) -> str:
        filled = int(round(frac * self.width))
        bar = "#" * filled + " " * (self.width - filled)
        left = ""
        if fps > 0 and total > done:
            secs = int((total - done) / fps)
            left = f"  {secs // 60}:{secs % 60:02d} left"
        return f"{self.label} {frac * 100:3.0f}% |{bar}| {done}/{total}  {fps:.1f} fps{left}"

    def finish(self) -> None:
        """End the bar's line (once; again does nothing)."""
        if self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
