"""Keep MediaPipe's and TensorFlow Lite's native start-up chatter off the terminal.

MediaPipe writes log lines straight to file descriptor 2 from its own threads
("W0000 ... Feedback manager requires a model with a single signature ...",
"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."), sometimes after the
call that caused them has returned.  :func:`filter_native_stderr` puts a pipe on
descriptor 2 and forwards every line to the real stderr except those known
harmless ones; Python's own ``sys.stderr`` (progress bars, error messages,
tracebacks) writes to the real stderr directly.  ``PUPPET_VERBOSE=1`` leaves
stderr alone.
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import threading

HARMLESS = re.compile(
    rb"^(?:[WI]0000 \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] "
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)")

_state: dict = {}


def is_harmless(line: bytes) -> bool:
    return HARMLESS.match(line) is not None


def filter_native_stderr() -> bool:
    """Install the filter once for this process; False where it cannot be (no usable
    stderr, PUPPET_VERBOSE set, or already installed)."""
    if _state or os.environ.get("PUPPET_VERBOSE"):
        return False
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, AttributeError, ValueError):
        return False
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    stream = open(real, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None)
                  or "utf-8", errors="backslashreplace", closefd=False)

    def forward() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(read_end, 65536)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not is_harmless(line):
                    os.write(real, line + b"\n")
        if pending and not is_harmless(pending):
            os.write(real, pending)

    thread = threading.Thread(target=forward, name="puppet-native-log", daemon=True)
    thread.start()
    _state.update(real=real, thread=thread, stream=stream, old=sys.stderr)
    sys.stderr = stream
    atexit.register(_restore)
    return True


def _restore() -> None:
    """At exit: hand descriptor 2 back and let the last native lines through."""
    if not _state:
        return
    try:
        sys.stderr.flush()
        os.dup2(_state["real"], 2)  # closes the pipe's last write end: the reader ends
    except OSError:
        return
    _state["thread"].join(timeout=0.5)
