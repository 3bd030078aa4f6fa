"""Importing Puppet shortens Python's GIL switch interval: a render's stages, in threads,
each give the GIL up for their C work and would otherwise wait up to 5 ms to get it back
whenever another stage is running Python (bench/gil_convoy.py measures it).  A value in
PUPPET_SWITCH_INTERVAL is used instead; one that is not a positive number leaves Python's
own."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import sys; before = sys.getswitchinterval(); import puppet; " \
        "print(before, sys.getswitchinterval())"


def intervals(env_value: str | None) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "PUPPET_SWITCH_INTERVAL"}
    if env_value is not None:
        env["PUPPET_SWITCH_INTERVAL"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    before, after = (float(v) for v in out.stdout.split())
    return before, after


def test_importing_puppet_shortens_the_switch_interval():
    before, after = intervals(None)
    assert before == pytest.approx(0.005)  # Python's own
    assert after == pytest.approx(0.0005)


@pytest.mark.parametrize("value, expected", [("0.002", 0.002), ("0.005", 0.005),
                                             ("soon", 0.005), ("-1", 0.005), ("0", 0.005)])
def test_the_switch_interval_can_be_chosen(value, expected):
    assert intervals(value)[1] == pytest.approx(expected)
