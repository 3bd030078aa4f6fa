"""MediaPipe's native start-up chatter is kept off the terminal; nothing else is."""
import os
import subprocess
import sys

from conftest import REPO

SCRIPT = r"""
import os, sys
from puppet.nativelog import filter_native_stderr
assert filter_native_stderr()
os.write(2, b"W0000 00:00:1795573192.052458   16496 inference_feedback_manager.cc:114] "
            b"Feedback manager requires a model with a single signature inference.\n")
os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
os.write(2, b"a native error that matters\n")
print("puppet: error: something the user must read", file=sys.stderr)
os.write(2, b"no newline at the end")
"""


def _run():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PUPPET_VERBOSE", None)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=60)


def test_harmless_native_lines_are_dropped_and_the_rest_kept():
    r = _run()
    assert r.returncode == 0, r.stderr
    assert "Feedback manager" not in r.stderr and "XNNPACK" not in r.stderr
    assert "a native error that matters" in r.stderr
    assert "puppet: error: something the user must read" in r.stderr
    assert r.stderr.rstrip().endswith("no newline at the end")


def test_verbose_leaves_stderr_alone():
    env = dict(os.environ, PYTHONPATH=str(REPO), PUPPET_VERBOSE="1")
    r = subprocess.run([sys.executable, "-c", SCRIPT.replace("assert filter_native_stderr()",
                                                             "assert not filter_native_stderr()")],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Feedback manager" in r.stderr
