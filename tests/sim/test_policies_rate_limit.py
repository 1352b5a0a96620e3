"""TokenBucket on a virtual clock: the r·t + b bound over any interval, refill, an exact Retry-After, bad parameters."""

import numpy as np
import pytest

from course.sim import Simulation
from course.sim.clock import LoopClock, ManualClock
from course.sim.policies import TokenBucket


@pytest.mark.parametrize("kwargs, words", [
    ({"rate": 0, "burst": 5}, "rate must be > 0"),
    ({"rate": -1, "burst": 5}, "rate must be > 0"),
    ({"rate": float("nan"), "burst": 5}, "rate must be a number"),
    ({"rate": "10", "burst": 5}, "rate must be a number"),
    ({"rate": 10, "burst": 0.5}, "burst must be >= 1"),
    ({"rate": 10, "burst": 0}, "burst must be > 0"),
    ({"rate": 10, "burst": True}, "burst must be a number"),
])
def test_bad_parameters_name_the_parameter(kwargs, words):
    with pytest.raises(ValueError, match=words):
        TokenBucket(clock=ManualClock(), **kwargs)


@pytest.mark.parametrize("tokens, words", [(0, "tokens must be > 0"), (-1, "tokens must be > 0"),
                                           (6, "tokens must be <= burst")])
def test_bad_token_counts(tokens, words):
    bucket = TokenBucket(10, 5, ManualClock())
    with pytest.raises(ValueError, match=words):
        bucket.try_acquire(tokens)
    with pytest.raises(ValueError, match=words):
        bucket.retry_after(tokens)


def test_starts_full_then_refills_at_rate_up_to_burst():
    clock = ManualClock()
    bucket = TokenBucket(rate=4, burst=3, clock=clock)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert (bucket.admitted, bucket.rejected) == (3, 1)
    clock.advance(0.5)  # 2 tokens drip in
    assert bucket.tokens == pytest.approx(2.0)
    assert bucket.try_acquire(2) and not bucket.try_acquire()
    clock.advance(100)  # a long idle spell fills the bucket only to burst
    assert bucket.tokens == pytest.approx(3.0)
    assert bucket.try_acquire(3) and not bucket.try_acquire(0.5)


def test_retry_after_is_exact():
    clock = ManualClock()
    bucket = TokenBucket(rate=8, burst=2, clock=clock)
    assert bucket.retry_after() == 0.0
    bucket.try_acquire(2)
    assert bucket.retry_after() == pytest.approx(1 / 8)
    assert bucket.retry_after(2) == pytest.approx(2 / 8)
    clock.advance(0.05)
    wait = bucket.retry_after()
    assert wait == pytest.approx(1 / 8 - 0.05)
    clock.advance(wait * 0.999)
    assert not bucket.try_acquire()  # a hair early: refused, and nothing taken
    clock.advance(wait * 0.001)
    assert bucket.try_acquire()  # exactly on time: admitted
    assert bucket.retry_after() == pytest.approx(1 / 8)


def _admitted_times(rate, burst, times):
    clock = LoopClock()
    bucket = TokenBucket(rate, burst, clock)
    admitted = []
    for t in times:
        clock.t = t
        if bucket.try_acquire():
            admitted.append(t)
    return np.array(admitted)


def _patterns(rng):
    """Arrival patterns: steady Poisson below and above the rate, clumps at one instant, on-off bursts."""
    yield np.cumsum(rng.exponential(1 / 5, 400))                       # well below a rate of 10
    yield np.cumsum(rng.exponential(1 / 60, 2000))                     # 6x the rate
    yield np.repeat(np.sort(rng.uniform(0, 30, 40)), rng.integers(1, 30, 40))  # clumps: many at the same instant
    on = np.cumsum(rng.exponential(1 / 200, 1500))
    yield np.sort(np.concatenate([on[on % 5 < 1], np.cumsum(rng.exponential(1 / 2, 60))]))  # 1 s bursts every 5 s


@pytest.mark.parametrize("rate, burst", [(10, 1), (10, 20), (2.5, 7.5), (100, 3)])
def test_admits_at_most_rate_times_t_plus_burst_in_every_interval(rate, burst):
    rng = np.random.default_rng(2024)
    for times in _patterns(rng):
        a = _admitted_times(rate, burst, times.tolist())
        assert a.size
        # For every pair of admitted requests i <= k: the k - i + 1 of them in [a_i, a_k] fit in r(a_k - a_i) + b.
        count = np.arange(a.size)[None, :] - np.arange(a.size)[:, None] + 1
        span = a[None, :] - a[:, None]
        upper = np.triu(np.ones((a.size, a.size), dtype=bool))
        assert np.all(count[upper] <= rate * span[upper] + burst + 1e-6)


def test_a_saturated_bucket_admits_rate_times_t_plus_burst():
    # Far more arrivals than tokens: the bound is met almost exactly (to within one request).
    rng = np.random.default_rng(7)
    times = np.cumsum(rng.exponential(1 / 1000, 20_000))
    a = _admitted_times(rate=10, burst=20, times=times.tolist())
    assert 10 * times[-1] + 20 - 1 <= a.size <= 10 * times[-1] + 20


def test_runs_on_the_simulation_clock():
    sim = Simulation(seed=1)
    bucket = TokenBucket(rate=2, burst=1, clock=sim)
    seen = []
    for t in (0.0, 0.1, 0.5, 0.6, 1.2):
        sim.at(t, lambda: seen.append(bucket.try_acquire()))
    sim.run()
    assert seen == [True, False, True, False, True]
