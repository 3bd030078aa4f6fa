import numpy as np

from puppet.tracking.smoothing import OneEuroFilter


def test_still_noisy_values_are_calmed():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.5)
    raw = 100 + rng.normal(0, 1.0, (300, 4))
    out = np.array([f(x, i / 30, scale=50.0) for i, x in enumerate(raw)])
    assert np.std(np.diff(out[50:], axis=0)) < 0.3 * np.std(np.diff(raw[50:], axis=0))


def test_fast_moves_follow_with_little_lag():
    f = OneEuroFilter(min_cutoff=1.0, beta=5.0)
    t = np.arange(60) / 30
    raw = np.where(t < 1, 0.0, 50.0)
    out = np.array([f(np.array([x]), ti, scale=10.0)[0] for x, ti in zip(raw, t)])
    first_after = int(np.argmax(t >= 1))
    assert out[first_after + 3] > 40  # within 0.1 s of the jump


def test_reset_and_repeated_times():
    f = OneEuroFilter()
    assert f(np.array([1.0]), 0.0)[0] == 1.0
    f(np.array([2.0]), 0.0)  # a repeated time stamp must not divide by zero
    f.reset()
    assert f(np.array([5.0]), 1.0)[0] == 5.0
