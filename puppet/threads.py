"""Joining threads when Ctrl+C may have cut their start short."""
from __future__ import annotations

import threading
import time

_SETTLE = 0.5  # seconds to wait for a thread to say it has begun


def join(thread: threading.Thread, timeout: float | None = None) -> None:
    """``thread.join(timeout)``, also for a thread whose ``start()`` a Ctrl+C cut short.

    ``Thread.start`` waits for the new thread to say it has begun; a KeyboardInterrupt
    in that wait leaves a thread that runs but cannot be joined yet (``join`` raises
    "cannot join thread before it is started"), or one that never ran.  Raised in a
    command's clean-up, that error stopped the rest of it, and Puppet exited as a crash
    with its engine's threads still running.  Such a thread is given a moment to begin,
    then joined; one that never began is passed over."""
    end = time.monotonic() + _SETTLE
    while True:
        try:
            thread.join(timeout)
            return
        except RuntimeError:
            if time.monotonic() >= end:
                return  # it never began
            time.sleep(0.01)
