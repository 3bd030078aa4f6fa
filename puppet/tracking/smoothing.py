"""Landmark smoothing: the One Euro filter (Casiez, Roussel and Vogel, CHI 2012).

A low-pass filter whose cut-off rises with speed: still landmarks are smoothed
hard (no jitter), fast ones barely (no lag).
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over arrays of any fixed shape.

    ``min_cutoff`` (Hz) sets the smoothing of still values, ``beta`` how fast
    the cut-off opens with speed (in units of the values per second),
    ``d_cutoff`` (Hz) the smoothing of the speed estimate itself.
    """

    def __init__(self, min_cutoff: float = 1.5, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = None
        self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter the value ``x`` seen at time ``t`` (seconds).

        ``scale`` divides speeds before ``beta`` applies, so the same settings
        work for faces of any size in pixels (pass the face's size).
        """
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            if self._x is None or self._t is None:
                self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
                return x.copy()
            t = self._t + 1e-3  # a repeated time stamp: treat as 1 ms later
        dt = t - self._t
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        assert self._dx is not None
        dx_hat = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat) / max(scale, 1e-9)
        a = _alpha(cutoff, dt)
        x_hat = a * x + (1.0 - a) * self._x
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.copy()


def smooth_both_ways(forward: np.ndarray, values: list[np.ndarray], times: list[float],
                     scales: list[float], min_cutoff: float, beta: float) -> np.ndarray:
    """``values[0]`` smoothed with no lag, where the values after it are known (a render
    of a video has the frames after each one; a live camera has not).

    ``forward`` is the One Euro filter's output at ``values[0]``, run forward over the
    values before it (as they came); the same filter is run backward, from the last of
    ``values`` (seen at ``times``, each with its ``scales``) to the first, and the two
    are averaged.  Run one way the filter lags a moving value by about its time
    constant; run the other way it leads it by as much; their average does neither,
    and keeps their smoothing of a still value.  A few time constants of values after
    it are enough: the backward filter forgets where it started about as fast as the
    forward one forgets the values long gone."""
    back = OneEuroFilter(min_cutoff, beta)
    end = times[-1]
    for x, t, s in zip(reversed(values), reversed(times), reversed(scales)):
        backward = back(x, end - t, scale=s)
    return 0.5 * (np.asarray(forward, dtype=np.float64) + backward)
