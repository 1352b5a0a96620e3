"""Reproduction g: bulkheads keep a slow dependency from taking the healthy one down with it.

Source: M. T. Nygard, *Release It! Design and Deploy Production-Ready
Software*, 2nd ed., Pragmatic Bookshelf, 2018, chapter 5 ("Stability Patterns"),
section "Bulkheads";
Resilience4j's semaphore bulkhead (<https://resilience4j.readme.io/docs/bulkhead>).

The scenario (:mod:`course.models.bulkhead`): A has 20 threads and calls B or
C, half each, 50 requests a second, with a 1 s timeout. From t = 20 s to 40 s
B is 20× slower. "Baseline" is the same run with B healthy. The p99 is that of
A's requests that call C, as A's callers see it (queueing for A's threads
included), over the incident.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from course.models import bulkhead as model

SEEDS = (1, 2, 3)


@lru_cache(maxsize=None)
def c_p99_during(pools, b_slowdown, seed):
    return model.simulate(pools=pools, b_slowdown=b_slowdown, seed=seed).summary["c_p99_during"]


@pytest.mark.parametrize("seed", SEEDS)
def test_separate_pools_keep_c_p99_within_1_2x_of_baseline(seed):
    """Nygard, Release It!, "Bulkheads": with a pool per dependency (8 slots each), A's calls to the healthy C keep their
    p99 within 1.2× of baseline while B is 20× slower."""
    baseline = c_p99_during("separate", 1.0, seed)
    assert c_p99_during("separate", 20.0, seed) <= 1.2 * baseline


@pytest.mark.parametrize("seed", SEEDS)
def test_one_shared_pool_at_least_triples_c_p99(seed):
    """Nygard, Release It!, "Bulkheads": when B and C share A's one pool of threads, B's slowness fills it, and the p99 of
    A's calls to the healthy C at least triples."""
    baseline = c_p99_during("shared", 1.0, seed)
    assert c_p99_during("shared", 20.0, seed) >= 3 * baseline


def test_the_baselines_agree_and_the_pools_really_differ():
    """Sanity for the two checks above: with B healthy the two set-ups behave alike (the bulkheads never
    turn a call away), and with B slow it is the separate pools that turn B's excess calls away."""
    healthy_shared = model.simulate(pools="shared", b_slowdown=1.0).summary
    healthy_separate = model.simulate(pools="separate", b_slowdown=1.0).summary
    assert healthy_separate["b_rejected_during"] == 0
    assert healthy_separate["c_p99_during"] == pytest.approx(healthy_shared["c_p99_during"], rel=0.05)
    slow_separate = model.simulate(pools="separate", b_slowdown=20.0).summary
    slow_shared = model.simulate(pools="shared", b_slowdown=20.0).summary
    assert slow_separate["b_rejected_during"] > 0
    assert slow_shared["a_peak_busy"] == model.A_THREADS
    assert slow_separate["a_peak_busy"] <= 2 * model.POOL_SIZE
