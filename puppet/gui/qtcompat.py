"""A work-around for a reference-counting bug in some PySide6 builds on Python 3.11.

PySide6 6.12.0 returns ``None`` from every void method, and ``True`` from
``Signal.emit()``, without owning a reference to it.  From Python 3.12 on these
objects are immortal and nothing happens; on 3.11 each call takes one reference
away, and a window that paints 30 times a second brings ``None`` to zero within
minutes (or at exit), and Python aborts: "Fatal Python error: none_dealloc:
deallocating None".

:func:`guard_singletons` checks the binding once and, only where it has the bug,
does for ``None``, ``True`` and ``False`` what Python 3.12 does for them: gives
them a reference count so high that no number of lost references brings it to
zero in the life of the process.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

_MARGIN = 1 << 40  # a million lost references a second would take 12 days to use up
_guarded = False


class _Probe(QObject):
    ping = Signal()


def binding_loses_references() -> bool:
    """Whether void methods or ``emit()`` of this Qt binding drop references they do not own."""
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(32):
        probe.setObjectName("probe")
        probe.ping.emit()
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    return lost_none >= 16 or lost_true >= 16


def guard_singletons() -> bool:
    """Protect ``None``, ``True`` and ``False`` where needed; True when it was needed."""
    global _guarded
    if _guarded:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # immortal there already
    if not binding_loses_references():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _MARGIN  # ob_refcnt comes first
    _guarded = True
    return True
