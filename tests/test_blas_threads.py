"""Importing Puppet keeps NumPy's OpenBLAS to one thread (its idle second thread spun in
sched_yield through every render, taking CPU from tracking and encoding), unless the
user chose a number themselves."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

# what OpenBLAS itself says it runs on, in a fresh interpreter (the test process has
# long since imported NumPy, so its own setting is whatever it was)
PROBE = """
import glob, os, ctypes
{first}
import numpy
libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "libopenblas*"))
lib = ctypes.CDLL(libs[0])
get = getattr(lib, "openblas_get_num_threads64_", None) or lib.openblas_get_num_threads
print(get())
"""


def blas_threads(first: str, env_value: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        pytest.skip(f"cannot ask NumPy's OpenBLAS for its threads: {out.stderr[-300:]}")
    return int(out.stdout.split()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS uses one thread anyway")
def test_importing_puppet_first_keeps_openblas_to_one_thread():
    # the control: NumPy on its own takes every core
    assert blas_threads("", None) >= 2
    assert blas_threads("import puppet", None) == 1
    # a number the user set is theirs
    assert blas_threads("import puppet", "2") == 2
