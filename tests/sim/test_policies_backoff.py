"""Backoff: formulas, bounds over many draws, validation."""

import math
import random
import statistics

import numpy as np
import pytest

from course.sim.policies import Backoff

RNGS = [lambda: random.Random(7), lambda: np.random.default_rng(7)]


def draws(backoff, n, rng, count=2000, previous=0.0):
    return [backoff.delay(n, previous, rng) for _ in range(count)]


@pytest.mark.parametrize("kwargs, word", [
    ({"kind": "linear"}, "kind"),
    ({"base": 0}, "base"),
    ({"base": -0.1}, "base"),
    ({"base": "0.1"}, "base"),
    ({"base": 1.0, "cap": 0.5}, "cap"),
    ({"cap": math.nan}, "cap"),
    ({"multiplier": 0.5}, "multiplier"),
    ({"multiplier": 0}, "multiplier"),
])
def test_invalid_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Backoff(**kwargs)


def test_cap_below_base_message_names_both():
    with pytest.raises(ValueError) as err:
        Backoff("exponential", base=2.0, cap=1.0)
    assert "cap" in str(err.value) and "base" in str(err.value)


def test_defaults_and_kinds():
    b = Backoff()
    assert (b.kind, b.base, b.cap, b.multiplier) == ("full_jitter", 0.1, 10.0, 2.0)
    assert Backoff.KINDS == ("none", "constant", "exponential", "full_jitter",
                             "equal_jitter", "decorrelated_jitter")


def test_negative_retry_index_is_rejected():
    for kind in ("exponential", "full_jitter", "equal_jitter", "decorrelated_jitter"):
        with pytest.raises(ValueError, match="retry_index"):
            Backoff(kind).delay(-1, 0.0, random.Random(0))


def test_none_and_constant_need_no_rng():
    for n in (0, 1, 5, 100):
        assert Backoff("none", 0.3).delay(n, 1.0, None) == 0.0
        assert Backoff("constant", 0.3).delay(n, 1.0, None) == 0.3


def test_exponential_is_exact_and_capped():
    b = Backoff("exponential", base=0.1, cap=10.0)
    got = [b.delay(n, 0.0, None) for n in range(10)]
    want = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0]
    assert got == pytest.approx(want)
    slower = Backoff("exponential", 0.5, 100.0, multiplier=1.5)
    assert slower.delay(3, 0.0, None) == pytest.approx(0.5 * 1.5**3)
    assert Backoff("exponential", 0.5, 100.0, multiplier=1).delay(50, 0.0, None) == 0.5


@pytest.mark.parametrize("kind", ["exponential", "full_jitter", "equal_jitter", "decorrelated_jitter"])
def test_huge_retry_index_does_not_overflow(kind):
    b = Backoff(kind, base=0.1, cap=5.0)
    for n in (2000, 10**6):
        d = b.delay(n, 5.0, random.Random(1))
        assert 0 <= d <= 5.0
    assert Backoff("exponential", 0.1, 5.0).delay(2000, 0.0, None) == 5.0


@pytest.mark.parametrize("make_rng", RNGS)
def test_full_jitter_is_bounded_and_spread(make_rng):
    rng = make_rng()
    b = Backoff("full_jitter", base=0.1, cap=10.0)
    for n in range(10):
        upper = min(10.0, 0.1 * 2**n)
        xs = draws(b, n, rng)
        assert all(type(x) is float for x in xs)
        assert min(xs) >= 0 and max(xs) <= upper
        assert statistics.pstdev(xs) > 0.2 * upper
        assert min(xs) < 0.05 * upper and max(xs) > 0.95 * upper


@pytest.mark.parametrize("make_rng", RNGS)
def test_equal_jitter_is_within_upper_half(make_rng):
    rng = make_rng()
    b = Backoff("equal_jitter", base=0.1, cap=10.0)
    for n in range(10):
        v = min(10.0, 0.1 * 2**n)
        xs = draws(b, n, rng)
        assert min(xs) >= v / 2 and max(xs) <= v
        assert statistics.pstdev(xs) > 0.1 * v
        assert statistics.fmean(xs) == pytest.approx(0.75 * v, rel=0.05)


@pytest.mark.parametrize("make_rng", RNGS)
def test_decorrelated_jitter_bounds(make_rng):
    rng = make_rng()
    b = Backoff("decorrelated_jitter", base=0.1, cap=2.0)
    # First retry: previous is taken as base, whatever is passed.
    xs = draws(b, 0, rng, previous=123.0)
    assert min(xs) >= 0.1 and max(xs) <= 0.3
    assert statistics.pstdev(xs) > 0.04
    # Later retries: uniform(base, 3 * previous), capped.
    xs = draws(b, 3, rng, previous=0.5)
    assert min(xs) >= 0.1 and max(xs) <= 1.5
    assert max(xs) > 1.4
    xs = draws(b, 3, rng, previous=1.5)
    assert min(xs) >= 0.1 and max(xs) == 2.0
    assert 0.5 < sum(x == 2.0 for x in xs) / len(xs) < 0.6  # P(uniform(0.1, 4.5) > 2) = 0.57


def test_decorrelated_chain_stays_in_bounds():
    rng = random.Random(3)
    b = Backoff("decorrelated_jitter", base=0.005, cap=2.0)
    previous = 0.0
    for n in range(500):
        d = b.delay(n, previous, rng)
        last = 0.005 if n == 0 else previous
        assert 0.005 <= d <= min(2.0, 3 * last)
        previous = d


def test_same_seed_same_delays():
    b = Backoff("full_jitter")
    assert draws(b, 4, random.Random(11), 20) == draws(b, 4, random.Random(11), 20)
    assert draws(b, 4, random.Random(11), 20) != draws(b, 4, random.Random(12), 20)
