"""The burst model (course.models.backpressure) against theory: the unbounded queue grows at λ − μ and drains at
μ − λ0, a token bucket admits at most r·t + b, a concurrency limit caps what is inside and Little's law sets the wait."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from course.models import backpressure as model

SEEDS = range(1, 9)


@lru_cache(maxsize=None)
def runs(policy, multiple=10.0, rate=8.0, max_in_flight=10, duration=model.BURST_END + 0.5):
    """The burst behind ``policy`` for each of :data:`SEEDS` (cut just after the burst unless told)."""
    return tuple(model.simulate(policy, multiple, rate=rate, max_in_flight=max_in_flight, seed=seed,
                                duration=duration) for seed in SEEDS)


def mean(results, key):
    return float(np.mean([r.summary[key] for r in results]))


def test_theory_functions():
    assert model.CAPACITY == 10.0 and model.NORMAL_RATE == 5.0
    assert float(model.backlog_theory(10, 60)) == pytest.approx(2400)
    assert float(model.backlog_theory(2, 60)) == 0.0  # λ = μ: no growth in the fluid limit
    np.testing.assert_allclose(model.backlog_theory(6, [0, 30, 60]), [0, 600, 1200])
    assert model.drain_seconds(10) == pytest.approx(480)
    assert float(model.token_bucket_max(8, 10, 60)) == pytest.approx(490)
    assert model.littles_law_latency(10) == pytest.approx(1.0)


@pytest.mark.parametrize("call, words", [
    (lambda: model.simulate("leaky"), "policy must be one of"),
    (lambda: model.simulate(multiple=0), "multiple must be > 0"),
    (lambda: model.simulate(rate=-1), "rate must be > 0"),
    (lambda: model.simulate(max_in_flight=0), "max_in_flight must be a whole number >= 1"),
    (lambda: model.simulate(duration=60), "duration must be > 90"),
    (lambda: model.simulate(seed=-1), "seed must be a whole number >= 0"),
    (lambda: model.backlog_theory(0, 1), "multiple must be > 0"),
    (lambda: model.drain_seconds(10, normal=12), "normal must be < capacity"),
    (lambda: model.token_bucket_max(0, 1, 1), "rate must be > 0"),
    (lambda: model.littles_law_latency(-1), "in_flight must be >= 0"),
])
def test_bad_parameters_name_the_parameter(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_same_seed_same_run():
    a = model.simulate("token_bucket", 6, seed=3, duration=100)
    b = model.simulate("token_bucket", 6, seed=3, duration=100)
    np.testing.assert_array_equal(a.admitted, b.admitted)
    np.testing.assert_array_equal(a.queue, b.queue)
    assert a.summary == pytest.approx(b.summary, nan_ok=True)


@pytest.mark.parametrize("multiple", [6, 10])
def test_unbounded_queue_grows_at_lambda_minus_mu(multiple):
    results = runs("none", float(multiple))
    theory = float(model.backlog_theory(multiple, model.BURST_SECONDS))
    # Mean over 8 seeds; one seed's sd is about sqrt((λ + μ)·T) ≈ 60 at 10×, so 3% is several standard errors.
    assert mean(results, "queue_at_burst_end") == pytest.approx(theory, rel=0.03)
    # Half-way through, half the backlog: growth is linear.
    halfway = np.mean([np.interp(model.BURST_START + 30, r.t, r.queue) for r in results])
    assert halfway == pytest.approx(float(model.backlog_theory(multiple, 30)), rel=0.06)
    assert mean(results, "rejected_share") == 0.0


def test_unbounded_queue_drains_at_mu_minus_lambda0():
    drained = []
    for seed in (1, 2, 3, 4):
        r = model.simulate("none", 10, seed=seed, duration=700)
        after = (r.t > model.BURST_END) & (r.queue < 1)
        drained.append(r.t[after][0] - model.BURST_END)
    assert np.mean(drained) == pytest.approx(model.drain_seconds(10), rel=0.1)


@pytest.mark.parametrize("rate", [2.0, 8.0, 15.0])
def test_token_bucket_admits_at_most_r_t_plus_b(rate):
    for r in runs("token_bucket", 10.0, rate=rate):
        s = r.summary
        assert s["admitted"] <= model.token_bucket_max(rate, model.BUCKET_BURST, model.BURST_SECONDS)
        assert s["admitted"] >= rate * model.BURST_SECONDS - 2  # saturated: it lets in (almost) all it may
        assert s["retry_after_max"] <= 1 / rate + 1e-9
        # Every whole second admits at most r + b.
        assert r.admitted.max() <= rate + model.BUCKET_BURST
    expected_share = 1 - rate / (10 * model.NORMAL_RATE)
    assert mean(runs("token_bucket", 10.0, rate=rate), "rejected_share") == pytest.approx(expected_share, abs=0.015)


def test_token_bucket_above_capacity_still_builds_a_queue():
    results = runs("token_bucket", 10.0, rate=15.0)
    assert mean(results, "queue_at_burst_end") == pytest.approx((15 - model.CAPACITY) * model.BURST_SECONDS, rel=0.1)


@pytest.mark.parametrize("limit", [4, 10, 30])
def test_concurrency_limit_caps_in_flight_and_littles_law_sets_the_wait(limit):
    results = runs("concurrency_limit", 10.0, max_in_flight=limit)
    for r in results:
        assert r.summary["queue_peak"] <= limit - model.WORKERS
        assert r.summary["unanswered_admitted_in_burst"] <= limit  # the run stops just after the burst
    # Saturated, it serves at capacity, and the mean time inside is L / μ (slightly under: a freed slot
    # stays empty until the next arrival, 1/50 s on average).
    assert mean(results, "served_per_s") == pytest.approx(model.CAPACITY, rel=0.03)
    assert mean(results, "mean_inside") == pytest.approx(model.littles_law_latency(limit), rel=0.08)


def test_small_burst_needs_no_limit():
    # At 2×, λ = μ: nothing to reject for a limit at or above capacity, and the unbounded queue stays short.
    assert mean(runs("none", 2.0), "queue_peak") < 60
    assert mean(runs("token_bucket", 2.0, rate=15.0), "rejected_share") < 0.01
