"""Runs first in the desktop bundle (build.spec's runtime hook), before Puppet is imported.

1. MediaPipe's ``solutions.drawing_utils`` imports ``matplotlib.pyplot`` when MediaPipe is
   imported, for a plotting helper Puppet never calls. The bundle leaves matplotlib (and
   Pillow, fontTools...) out, so that import is answered by a small stand-in module whose
   every attribute raises an ImportError that says why.
2. sounddevice finds PortAudio with ``ctypes.util.find_library("portaudio")``, which only
   looks at the system. Where the bundle carries PortAudio (the build machine had it), that
   one is used (the loader would pick it first anyway: the bundle's folder leads the library
   path), so the app records sound also where the system has no PortAudio.
3. The bundle carries Qt's X11 platform plugin (xcb), not Wayland's: on a Wayland desktop the
   window goes through XWayland, chosen here so that Qt does not first complain that the
   wayland plugin is missing.
"""
import ctypes.util
import glob
import importlib.util
import os
import sys
import types


def _stand_in_for_matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is not None:
        return  # an untrimmed bundle carries the real one

    def missing(name: str):
        raise ImportError(f"matplotlib.pyplot.{name}: matplotlib is not part of Puppet's "
                          "desktop bundle")

    package = types.ModuleType("matplotlib")
    package.__path__ = []  # a package with no submodules of its own
    package.__doc__ = "Stand-in: matplotlib is not part of Puppet's desktop bundle."
    pyplot = types.ModuleType("matplotlib.pyplot")
    pyplot.__getattr__ = missing
    package.pyplot = pyplot
    sys.modules["matplotlib"] = package
    sys.modules["matplotlib.pyplot"] = pyplot


def _bundled_portaudio() -> None:
    base = getattr(sys, "_MEIPASS", None)
    if not base or sys.platform != "linux":
        return
    bundled = sorted(glob.glob(os.path.join(base, "libportaudio.so*")))
    if not bundled:
        return
    system_find_library = ctypes.util.find_library

    def find_library(name: str):
        return bundled[0] if name == "portaudio" else system_find_library(name)

    ctypes.util.find_library = find_library


def _x11_on_wayland() -> None:
    if (sys.platform == "linux" and not os.environ.get("QT_QPA_PLATFORM")
            and os.environ.get("XDG_SESSION_TYPE") == "wayland" and os.environ.get("DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "xcb"


_stand_in_for_matplotlib()
_bundled_portaudio()
_x11_on_wayland()
