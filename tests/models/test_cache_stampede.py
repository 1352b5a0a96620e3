"""The cache-stampede model (course.models.cache_stampede) against theory, over many seeds or long runs."""

import math

import numpy as np
import pytest

from course.models import cache_stampede as model


@pytest.mark.parametrize("fix", sorted(model.FIXES))
def test_skipping_hits_in_bulk_changes_nothing(fix):
    kwargs = dict(rate=800.0, recompute=0.3, ttl=3.0, seed=4, duration=30.0)
    fast = model.simulate(fix, **kwargs)
    slow = model.simulate(fix, step_by_step=True, **kwargs)
    assert fast.hits == slow.hits and fast.requests == slow.requests
    assert fast.episodes == slow.episodes
    assert np.array_equal(fast.slow_latencies, slow.slow_latencies)
    assert np.array_equal(fast.db_call_times, slow.db_call_times)


def test_same_seed_same_run_and_every_request_is_answered_once():
    a, b = model.simulate("early", seed=7, duration=40.0), model.simulate("early", seed=7, duration=40.0)
    assert a.episodes == b.episodes and a.hits == b.hits
    assert a.hits + len(a.slow_latencies) == a.requests
    assert a.waited.sum() == a.requests - a.hits
    assert abs(a.requests - 1000 * 40) < 5 * math.sqrt(1000 * 40)


def test_plain_cache_costs_one_plus_lambda_delta_calls_per_expiry():
    # ~27 expiries a run × 8 runs; the calls of one expiry are 1 + Poisson(λδ = 200): sd ≈ 14, se ≈ 1.
    calls = [c for s in range(1, 9) for c in model.simulate("none", ttl=2.0, duration=60.0, seed=s).expiry_calls]
    assert len(calls) > 150
    assert abs(np.mean(calls) - model.theory_plain_calls(1000, 0.2)) < 4.0  # 4 standard errors
    cold = [model.simulate("none", rate=2000, duration=5.0, seed=s).cold_calls for s in range(1, 9)]
    assert abs(np.mean(cold) - model.theory_plain_calls(2000, 0.2)) < 20  # a cold start is the same stampede


def test_coalescing_makes_exactly_one_call_per_expiry_and_cold_start():
    r = model.simulate("coalescing", rate=2000, recompute=0.5, ttl=5.0, seed=2)
    assert {c for _, c in r.episodes} == {1}
    assert r.expiries > 20


def test_xfetch_makes_e_calls_per_expiry_whatever_the_rate():
    # The number per expiry is 1 + Poisson((e − 1)·Exp(1)): sd ≈ 2.2; ~600 expiries give se ≈ 0.09.
    for rate in (500.0, 2000.0):
        calls = [c for s in range(1, 6)
                 for c in model.simulate("early", rate=rate, ttl=2.0, duration=120.0 if rate > 1000 else 240.0,
                                         seed=s).expiry_calls]
        assert len(calls) > 250
        assert abs(np.mean(calls) - model.theory_xfetch_calls()) < 0.35, (rate, np.mean(calls))
    assert model.theory_xfetch_calls(1.0) == pytest.approx(math.e)


def test_xfetch_cannot_help_a_cold_cache_but_coalescing_can():
    cold = [model.simulate("early", duration=5.0, seed=s).cold_calls for s in range(1, 9)]
    assert abs(np.mean(cold) - 201) < 15
    assert all(model.simulate("early_coalescing", duration=5.0, seed=s).cold_calls == 1 for s in range(1, 4))


def test_hit_ratios_match_theory_and_xfetch_keeps_users_off_the_database():
    for fix in ("none", "coalescing"):
        runs = [model.simulate(fix, seed=s) for s in range(1, 5)]
        # Theory is for the steady state: leave out the cold start's requests and misses.
        cold = sum(c if fix == "none" else 200 for c in [r.cold_calls for r in runs])
        hits = sum(r.hits for r in runs)
        requests = sum(r.requests for r in runs) - cold
        assert abs(hits / requests - model.theory_hit_ratio(fix, 1000, 0.2, 10)) < 0.001
    early = model.simulate("early_coalescing", seed=1)
    assert early.hit_ratio > 0.998
    assert early.latency_p99 == pytest.approx(model.CACHE_LATENCY)


def test_p99_plain_is_delta_and_coalescing_about_half_of_it():
    plain = model.simulate("none", seed=3)
    assert plain.latency_p99 == pytest.approx(0.2 + model.CACHE_LATENCY, abs=1e-9)
    p99 = np.mean([model.simulate("coalescing", seed=s).latency_p99 for s in range(1, 5)])
    assert abs(p99 - model.theory_coalescing_p99(10.0, 0.2)) < 0.005


def test_a_connection_pool_queues_the_stampede_but_not_the_count():
    r = model.simulate("none", connections=50, duration=60.0, seed=1)
    assert abs(r.calls_per_expiry - 201) < 30
    assert r.slow_latencies.max() > 0.2 * 200 / 50 * 0.8  # 200 calls through 50 connections: about 4 rounds


def test_bad_parameters_are_named():
    for kwargs, name in [({"fix": "lock"}, "fix must be one of"), ({"rate": 0}, "rate must be > 0"),
                         ({"recompute": -1}, "recompute must be > 0"), ({"ttl": math.nan}, "ttl must be a number"),
                         ({"beta": 0}, "beta must be > 0"), ({"connections": 0}, "connections must be a whole"),
                         ({"seed": -1}, "seed must be a whole number")]:
        with pytest.raises(ValueError, match=name):
            model.simulate(**{"duration": 1.0, **kwargs})
    with pytest.raises(ValueError, match="fix must be one of 'none', 'coalescing'"):
        model.theory_hit_ratio("early", 1000, 0.2, 10)
