"""Reproduction: stale reads from an asynchronously replicated store.

Source: the t-visibility question of P. Bailis, S. Venkataraman, M. J.
Franklin, J. M. Hellerstein and I. Stoica, "Probabilistically Bounded
Staleness for Practical Partial Quorums", VLDB 2012 — how likely is a read t
seconds after a write to miss it, when propagation delays are random (they
model them as exponential). With one replica whose lag is Exponential(mean L),
a read Δ after the write misses it with probability P(lag > Δ) = exp(−Δ/L).

The runs use the real :class:`course.sim.data.Store` on the engine
(:func:`course.models.stale_reads.stale_sweep_store`, seed 1), 10,000 trials per
delay. The standard error sqrt(p(1−p)/10,000) is at most 0.005 (at p = 0.5),
so the tolerance of 0.02 is at least 4 standard errors at every Δ/L tested:
4.8 at Δ/L = 0.25, 4.1 at 0.5, 4.15 at 1 and 5.8 at 2.

The session guarantees (read-your-writes, monotonic reads) under each read
routing are checked as exact properties of the routing, not as rates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course.models import stale_reads as model

LAG = 0.1
RATIOS = np.array([0.25, 0.5, 1.0, 2.0])
TRIALS = 10_000
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def store_sweep():
    return model.stale_sweep_store(RATIOS * LAG, lag_mean=LAG, trials=TRIALS, seed=1)


def test_the_tolerance_is_more_than_four_standard_errors(store_sweep):
    assert np.all(TOLERANCE > 4 * store_sweep.se)


def test_p_stale_matches_exp_minus_delta_over_lag(store_sweep):
    """P(stale) at Δ = 0.25, 0.5, 1, 2 × L is exp(−Δ/L) = 0.779, 0.607, 0.368, 0.135, within 0.02."""
    assert store_sweep.method == "store"
    assert store_sweep.theory == pytest.approx([math.exp(-r) for r in RATIOS])
    assert np.all(np.abs(store_sweep.stale - store_sweep.theory) < TOLERANCE), \
        list(zip(RATIOS, store_sweep.stale, store_sweep.theory))


def test_the_vectorised_sweep_agrees_with_the_store_on_the_engine(store_sweep):
    """Two independent estimates of the same probability: within 4 standard errors of their difference."""
    fast = model.stale_sweep_fast(RATIOS * LAG, lag_mean=LAG, trials=TRIALS, seed=1)
    assert fast.method == "numpy"
    assert np.all(np.abs(fast.stale - store_sweep.stale) < 4 * math.sqrt(2) * store_sweep.se)
    assert np.all(np.abs(fast.stale - fast.theory) < TOLERANCE)


def test_the_dashboard_sweep_is_deterministic_and_falls_with_delta():
    a = model.stale_sweep_fast(seed=3)
    b = model.stale_sweep_fast(seed=3)
    assert a.deltas.size == 20 and a.trials == 2_000
    assert np.array_equal(a.stale, b.stale)
    assert not np.array_equal(a.stale, model.stale_sweep_fast(seed=4).stale)
    assert a.stale[0] > 0.75 and a.stale[-1] < 0.05


def test_store_sweep_rejects_impossible_settings():
    with pytest.raises(ValueError, match=r"deltas must be one or more read delays >= 0 seconds"):
        model.stale_sweep_store([-0.1])
    with pytest.raises(ValueError, match=r"lag_mean must be > 0, got 0"):
        model.stale_sweep_fast([0.1], lag_mean=0)
    with pytest.raises(ValueError, match=r"delta must be >= 0 seconds"):
        model.theory_stale(-1.0)


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_session_guarantees_follow_the_routing(seed):
    """primary: no violations; sticky: monotonic but not read-your-writes; read_your_writes: the reverse;
    random: neither."""
    runs = model.session_sweep(seed=seed)
    counts = {name: (r.ryw_violations, r.monotonic_violations) for name, r in runs.items()}
    assert all(r.reads == 1_200 and r.writes == 400 for r in runs.values())
    assert counts["primary"] == (0, 0)
    assert counts["sticky"][0] > 0 and counts["sticky"][1] == 0
    assert counts["read_your_writes"][0] == 0 and counts["read_your_writes"][1] > 0
    assert counts["random"][0] > 0 and counts["random"][1] > 0
    assert not runs["random"].read_your_writes and runs["primary"].monotonic_reads
