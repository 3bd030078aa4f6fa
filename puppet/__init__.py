"""Puppet: still portraits that move with you."""
import os as _os

# NumPy's OpenBLAS runs a matrix-vector product over more than a few thousand rows (the
# mouth's interior pixels, each open-mouthed frame) on a second thread, and that thread
# then spins in sched_yield for a while, waiting for more; frames come every few
# milliseconds, so it never stops.  On a 2-core laptop that took about 6% of the CPU
# from tracking and encoding (0.8 s of 12.5 over s10/d3; the render's fps rose 3% with
# it gone, the frames byte-identical).  Puppet's arrays are small: one thread is enough.
# It must be set before NumPy is first imported; a value the user set is kept.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
