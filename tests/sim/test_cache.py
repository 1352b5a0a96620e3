"""The TTL cache (course.sim.cache) on a virtual clock: hits, misses, coalescing, XFetch, and bad parameters."""

import math

import numpy as np
import pytest

from course.sim import Simulation
from course.sim.cache import MODES, TTLCache, xfetch_due
from course.sim.clock import ManualClock


def _cache(mode="plain", ttl=10.0, **kwargs):
    clock = ManualClock()
    return clock, TTLCache(clock, ttl, mode, **kwargs)


# -- bad parameters ------------------------------------------------------------


@pytest.mark.parametrize("ttl", [0, -1, math.nan, "10", None])
def test_ttl_must_be_positive(ttl):
    with pytest.raises(ValueError, match="ttl must be"):
        TTLCache(ManualClock(), ttl)


def test_other_bad_parameters_are_named():
    clock = ManualClock()
    with pytest.raises(ValueError, match="mode must be one of 'plain', 'coalesce'"):
        TTLCache(clock, 1.0, "lock")
    with pytest.raises(ValueError, match="beta must be > 0"):
        TTLCache(clock, 1.0, "xfetch", beta=0)
    with pytest.raises(ValueError, match="clock must have a now"):
        TTLCache(object(), 1.0)
    with pytest.raises(ValueError, match="random must be a callable"):
        TTLCache(clock, 1.0, "xfetch", random=0.5)
    cache = TTLCache(clock, 1.0, "xfetch")
    cache.lookup("k")
    cache.fill("k", 1, 0.1)
    with pytest.raises(ValueError, match="needs random"):
        cache.lookup("k")
    for u in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"u must be in \(0, 1\]"):
            cache.lookup("k", u=u)
    with pytest.raises(ValueError, match="compute_time must be >= 0"):
        cache.fill("k", 1, -1.0)


def test_fill_and_abandon_need_a_computation_in_flight():
    _, cache = _cache()
    with pytest.raises(RuntimeError, match="fill"):
        cache.fill("k", 1, 0.1)
    with pytest.raises(RuntimeError, match="abandon"):
        cache.abandon("k")


# -- plain ---------------------------------------------------------------------


def test_plain_expires_after_ttl_and_every_miss_computes():
    clock, cache = _cache("plain", ttl=10.0)
    assert cache.lookup("k").kind == "miss"
    assert cache.lookup("k").kind == "miss"  # the stampede: a second miss while the first computes
    assert cache.in_flight("k") == 2
    clock.advance(0.25)
    assert cache.fill("k", "v1", 0.25) == []
    assert cache.entry("k").expiry == 10.25
    assert cache.lookup("k").kind == "hit" and cache.lookup("k").value == "v1"
    clock.advance(9.75)
    assert clock.now() == 10.0 and cache.lookup("k").kind == "hit"
    clock.advance(0.25)  # exactly at expiry: no longer fresh
    assert cache.lookup("k").kind == "miss"


def test_the_last_fill_wins_and_restarts_the_ttl():
    clock, cache = _cache("plain", ttl=5.0)
    cache.lookup("k"), cache.lookup("k")
    clock.advance(1.0)
    cache.fill("k", "a", 1.0)
    clock.advance(1.0)
    cache.fill("k", "b", 2.0)
    entry = cache.entry("k")
    assert (entry.value, entry.expiry, entry.delta) == ("b", 7.0, 2.0)
    assert cache.in_flight("k") == 0


def test_invalidate_deletes_the_value():
    clock, cache = _cache()
    cache.lookup("k")
    cache.fill("k", 1, 0.1)
    cache.invalidate("k")
    assert cache.entry("k") is None and cache.lookup("k").kind == "miss"


# -- coalescing ----------------------------------------------------------------


def test_coalescing_queues_misses_behind_one_call():
    clock, cache = _cache("coalesce", ttl=10.0)
    assert cache.lookup("k", waiter="a").kind == "miss"
    assert cache.lookup("k", waiter="b").kind == "wait"
    assert cache.lookup("k", waiter="c").kind == "wait"
    assert cache.in_flight("k") == 1
    clock.advance(0.2)
    assert cache.fill("k", "v", 0.2) == ["b", "c"]
    assert cache.lookup("k").kind == "hit"
    assert cache.fill.__doc__  # documented


def test_abandon_releases_the_waiters_to_try_again():
    _, cache = _cache("coalesce")
    cache.lookup("k", waiter=1)
    cache.lookup("k", waiter=2)
    assert cache.abandon("k") == [2]
    assert cache.in_flight("k") == 0
    assert cache.lookup("k", waiter=2).kind == "miss"


def test_keys_are_independent():
    _, cache = _cache("coalesce")
    assert cache.lookup("a").kind == "miss"
    assert cache.lookup("b").kind == "miss"


# -- XFetch --------------------------------------------------------------------


def test_xfetch_rule_matches_the_paper():
    # now − δ·β·ln(u) ≥ expiry: 1 s before expiry with δ = 1, β = 1 needs −ln u ≥ 1, i.e. u ≤ 1/e.
    assert xfetch_due(9.0, 10.0, 1.0, 1.0, 1 / math.e)
    assert not xfetch_due(9.0, 10.0, 1.0, 1.0, 1 / math.e + 1e-9)
    assert xfetch_due(10.0, 10.0, 1.0, 1.0, 1.0)  # at expiry, always
    assert list(xfetch_due(np.array([0.0, 9.9]), 10.0, 1.0, 2.0, np.array([0.5, 0.5]))) == [False, True]


def test_xfetch_refreshes_early_and_serves_the_old_value_meanwhile():
    clock, cache = _cache("xfetch", ttl=10.0)
    cache.lookup("k")
    clock.advance(0.5)
    cache.fill("k", "old", 0.5)                # expiry 10.5, δ 0.5
    clock.advance(9.5)                          # 0.5 s before expiry
    assert cache.lookup("k", u=0.5).kind == "hit"          # −0.5·ln 0.5 = 0.35 < 0.5
    answer = cache.lookup("k", u=0.3)                      # −0.5·ln 0.3 = 0.60 ≥ 0.5
    assert (answer.kind, answer.value) == ("refresh", "old")
    assert cache.lookup("k", u=0.3).kind == "refresh"      # no coalescing: another one may draw it too
    assert cache.in_flight("k") == 2


def test_xfetch_with_coalescing_ignores_early_draws_while_one_is_in_flight():
    clock, cache = _cache("xfetch_coalesce", ttl=10.0)
    cache.lookup("k")
    cache.fill("k", "v", 1.0)
    clock.advance(9.9)
    assert cache.lookup("k", u=0.01).kind == "refresh"
    assert cache.lookup("k", u=0.01).kind == "hit"
    clock.advance(0.2)                                     # expired, still in flight: wait
    assert cache.lookup("k", waiter="late").kind == "wait"
    assert cache.fill("k", "w", 0.3) == ["late"]


def test_early_probability_is_exp_minus_x_over_beta_delta_on_the_sims_stream():
    sim = Simulation(seed=3)
    clock = ManualClock()
    cache = TTLCache(clock, 10.0, "xfetch", beta=1.0, random=sim.rng("cache").random)
    cache.lookup("k")
    cache.fill("k", "v", 0.5)
    clock.advance(9.5)  # 0.5 s = δ before expiry: P(refresh) = 1/e
    n = 20_000
    refreshes = sum(cache.lookup("k").kind == "refresh" for _ in range(n))
    p = math.exp(-1)
    assert abs(refreshes / n - p) < 4 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("mode", MODES)
def test_hits_before_agrees_with_one_lookup_at_a_time(mode):
    rng = np.random.default_rng(5)
    for trial in range(30):
        clock, cache = _cache(mode, ttl=2.0)
        cache.lookup("k")
        cache.fill("k", 0, 0.3)
        if trial % 3 == 0:
            cache.lookup("k", u=1e-9)  # start a refresh: something in flight
        times = np.sort(rng.uniform(0, 3.0, 50))
        u = 1.0 - rng.random(50)
        skip = cache.hits_before("k", times, u)
        for j, t in enumerate(times):
            clock._now = float(t)
            kind = cache.lookup("k", u=float(u[j])).kind
            if kind != "hit":
                assert j == skip
                break
        else:
            assert skip == len(times)


def test_get_or_compute_on_a_manual_clock():
    clock, cache = _cache("coalesce", ttl=1.0)
    calls = []

    def compute():
        clock.advance(0.25)
        calls.append(clock.now())
        return len(calls)

    assert cache.get_or_compute("k", compute) == 1
    assert cache.entry("k").delta == 0.25
    assert cache.get_or_compute("k", compute) == 1
    clock.advance(1.0)
    assert cache.get_or_compute("k", compute) == 2

    def broken():
        raise OSError("db down")

    clock.advance(2.0)
    with pytest.raises(OSError):
        cache.get_or_compute("k", broken)
    assert cache.in_flight("k") == 0
