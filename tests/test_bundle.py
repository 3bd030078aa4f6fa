"""The desktop bundle's recipe (build.spec) and runtime hook, without building it (that
takes minutes: tools/bundle_smoke.py checks a built bundle, and CI runs it)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO


def test_the_mediapipe_files_the_bundle_carries_are_those_of_the_installed_wheel():
    import mediapipe

    from puppet.tracking.mediapipe_tracker import _GRAPH, GRAPH_FILES

    root = Path(mediapipe.__file__).resolve().parent.parent
    assert _GRAPH in GRAPH_FILES
    for rel in GRAPH_FILES:
        assert (root / rel).is_file(), rel


def test_without_matplotlib_the_runtime_hook_lets_mediapipe_import_and_track(tmp_path):
    """The bundle leaves matplotlib out; MediaPipe imports matplotlib.pyplot when it is
    imported. With matplotlib made unimportable, the hook's stand-in must let MediaPipe
    import and find the face in the built-in portrait, and say why plotting fails."""
    code = textwrap.dedent(f"""
        import runpy, sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        runpy.run_path({str(REPO / "tools" / "bundle_runtime_hook.py")!r})
        import cv2
        from mediapipe.python.solutions import drawing_utils
        from puppet.tracking.mediapipe_tracker import find_face
        face = find_face(cv2.imread({str(REPO / "assets" / "portraits" / "grace_oil.jpg")!r}))
        print("landmarks", len(face.landmarks))
        try:
            drawing_utils.plt.figure
        except ImportError as exc:
            print("plotting:", exc)
        try:
            import matplotlib.cbook
        except ImportError:
            print("no matplotlib.cbook")
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "landmarks 478" in r.stdout
    assert "plotting: matplotlib.pyplot.figure: matplotlib is not part of Puppet's desktop " \
           "bundle" in r.stdout
    assert "no matplotlib.cbook" in r.stdout
