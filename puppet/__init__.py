"""Puppet: still portraits that move with you."""
import os as _os
import sys as _sys

# NumPy's OpenBLAS runs a matrix-vector product over more than a few thousand rows (the
# mouth's interior pixels, each open-mouthed frame) on a second thread, and that thread
# then spins in sched_yield for a while, waiting for more; frames come every few
# milliseconds, so it never stops.  On a 2-core laptop that took about 6% of the CPU
# from tracking and encoding (0.8 s of 12.5 over s10/d3; the render's fps rose 3% with
# it gone, the frames byte-identical).  Puppet's arrays are small: one thread is enough.
# It must be set before NumPy is first imported; a value the user set is kept.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Python hands its GIL from a thread running Python code to one that waits for it only
# every "switch interval" (5 ms by default).  A render's stages run in six threads, and
# each of tracking, the generator, drawing and encoding gives the GIL up for its C work
# and then waits for it back, for up to the whole interval whenever another stage is
# running Python (retargeting nearly always is).  Tracking a frame, which takes 6.3 ms
# alone, took 27 ms beside a thread running Python, 9.5 ms at 0.5 ms and 6.8 ms at
# 0.1 ms (bench/gil_convoy.py).  On two cores a render at the default size keeps both
# busy and is no faster for it; at --size 256 (s12/d3), where a core is sometimes free,
# the render rose from 0.55 to 0.61 of decode + track alone (four alternating runs of
# three).  PUPPET_SWITCH_INTERVAL (seconds) sets another value.
SWITCH_INTERVAL = 0.0005
try:
    _sys.setswitchinterval(float(_os.environ.get("PUPPET_SWITCH_INTERVAL", SWITCH_INTERVAL)))
except ValueError:  # not a number, or not positive: keep Python's own
    pass

__version__ = "0.1.0"
