"""Joining threads whose start a Ctrl+C cut short (puppet.threads)."""
from __future__ import annotations

import threading
import time

from puppet.threads import join


def test_a_thread_that_begins_late_is_joined():
    done = threading.Event()
    late = threading.Thread(target=done.set, daemon=True)
    threading.Timer(0.1, late.start).start()  # begins while join is already waiting
    join(late, 5)  # Thread.join raised "cannot join thread before it is started"
    assert done.is_set() and not late.is_alive()


def test_a_thread_that_never_began_is_passed_over():
    never = threading.Thread(target=lambda: None, daemon=True)
    t0 = time.monotonic()
    join(never, 5)
    assert time.monotonic() - t0 < 2.0


def test_the_live_engine_stops_with_a_thread_whose_start_was_cut_off():
    """Ctrl+C during the engine's start left such a thread in its list; stopping then
    raised, the rest of the clean-up was skipped, and 'puppet live' ended as a crash."""
    from puppet.live import LiveEngine

    engine = LiveEngine(size=320, device="cpu")
    engine._threads.append(threading.Thread(target=lambda: None, daemon=True))
    engine.stop()  # raises nothing
    assert engine._threads == []
