"""Lesson 08, follow-up 1 (rate limiting and backpressure): every number the section states, checked against the
model in the long run (theory, or the mean over many seeds with a stated tolerance), and that the lesson says it.

The numeric tests run on the model alone; the ``says`` tests need course/08_follow_ups.ipynb."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from course.models import backpressure as model
from course.lessons import lesson08
from tests.lessons.claims_helpers import says

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "08_follow_ups.ipynb"
#: Sixteen seeds: one seed's spread is given per claim; the tolerances are several standard errors of the mean.
SEEDS = range(1, 17)
BURST = 10.0


@lru_cache(maxsize=None)
def long_run(policy: str, rate: float = 8.0, max_in_flight: int = 10) -> dict:
    """Each summary figure's mean over :data:`SEEDS` for the dashboard's scenario at 10× (full 150 s runs)."""
    runs = [model.simulate(policy, BURST, rate=rate, max_in_flight=max_in_flight, seed=seed).summary
            for seed in SEEDS]
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}


# -- the scenario ---------------------------------------------------------------------------------

def test_scenario_numbers():
    # "answers μ = 10 requests a second and normally gets λ0 = 5; for 60 s ..."; the prediction: "10× normal, 50 a second"
    assert model.CAPACITY == 10 and model.NORMAL_RATE == 5 and model.BURST_SECONDS == 60
    assert BURST * model.NORMAL_RATE == 50
    assert long_run("none")["offered_per_s"] == pytest.approx(50, rel=0.02)


# -- Experiment 1: no limit -----------------------------------------------------------------------

def test_unbounded_queue_grows_at_40_a_second_to_2400():
    # Theory: (λ − μ)·T = 40 × 60. Simulated mean over 16 seeds within 3% (one seed's sd ≈ 35, i.e. 1.5%).
    assert BURST * model.NORMAL_RATE - model.CAPACITY == 40
    assert float(model.backlog_theory(BURST, model.BURST_SECONDS)) == 2400
    assert long_run("none")["queue_at_burst_end"] == pytest.approx(2400, rel=0.03)


def test_unbounded_queue_drains_at_5_a_second_in_about_8_minutes():
    # Theory: 2,400 / (μ − λ0) = 480 s = 8 minutes; simulated (4 long runs) within 10%.
    assert model.CAPACITY - model.NORMAL_RATE == 5
    assert model.drain_seconds(BURST) == 480 == 8 * 60
    drained = []
    for seed in (1, 2, 3, 4):
        r = model.simulate("none", BURST, seed=seed, duration=700)
        drained.append(r.t[(r.t > model.BURST_END) & (r.queue < 1)][0] - model.BURST_END)
    assert np.mean(drained) == pytest.approx(480, rel=0.1)


def test_unbounded_p99_about_95_s_at_the_plots_edge():
    # Fluid limit: the work answered at t = 150 arrived at t = 54 and waited 4 × 24 = 96 s. Simulated within 5%.
    assert long_run("none")["p99_peak"] == pytest.approx(95, rel=0.05)


# -- Experiment 2: token bucket, r = 8 and r = 15; concurrency limit, L = 10 -----------------------

def test_token_bucket_admits_at_most_490_and_refuses_about_84_percent():
    assert float(model.token_bucket_max(8, model.BUCKET_BURST, model.BURST_SECONDS)) == 490
    for seed in SEEDS:  # a bound: every run, not on average
        assert model.simulate("token_bucket", BURST, rate=8, seed=seed).summary["admitted"] <= 490
    # Theory 1 − r/λ = 1 − 8/50 = 84%; simulated within 1.5 points.
    assert long_run("token_bucket")["rejected_share"] == pytest.approx(0.84, abs=0.015)


def test_retry_after_at_most_125_ms():
    assert 1 / 8 == 0.125
    for seed in (1, 2, 3):
        assert model.simulate("token_bucket", BURST, rate=8, seed=seed).summary["retry_after_max"] <= 0.125 + 1e-9
    assert long_run("token_bucket")["retry_after_max"] == pytest.approx(0.125, abs=0.005)


def test_token_bucket_p99_about_1_5_s():
    # One seed's sd ≈ 0.5 s; the mean of 16 within 20%.
    assert long_run("token_bucket")["p99_inside"] == pytest.approx(1.5, rel=0.2)


def test_token_bucket_above_capacity():
    s = long_run("token_bucket", rate=15.0)
    assert s["rejected_share"] == pytest.approx(1 - 15 / 50, abs=0.015)   # "still refuses about 70%"
    assert 15 - model.CAPACITY == 5                                        # "grows at 5 a second"
    assert s["queue_at_burst_end"] == pytest.approx(300, rel=0.1)          # "to about 300" (sd ≈ 33 per seed)
    assert s["p99_inside"] == pytest.approx(30, rel=0.15)                  # "p99 reaches about 30 s"


def test_concurrency_limit_serves_capacity_and_littles_law_gives_1_s():
    s = long_run("concurrency_limit")
    assert s["served_per_s"] == pytest.approx(10, rel=0.03)                # "serves 10 a second"
    assert long_run("token_bucket")["served_per_s"] == pytest.approx(8, rel=0.03)  # "(the bucket: 8)"
    assert s["rejected_share"] == pytest.approx(0.80, abs=0.02)            # "refuses about 80%"
    assert model.littles_law_latency(10) == 1.0                           # L/μ = 1 s
    assert s["mean_inside"] == pytest.approx(1.0, rel=0.06)                # simulated: 0.97
    assert s["p99_inside"] == pytest.approx(2.0, rel=0.1)                  # "p99 about 2 s"


# -- the lesson says so ----------------------------------------------------------------------------

PHRASES = {
    "scenario": ["μ = 10 requests a second", "λ0 = 5", "for 60 s"],
    "unbounded": ["λ − μ = 40 a second", "about 2,400", "μ − λ0 = 5 a second", "about 8 minutes",
                  "about 95 s"],
    "token_bucket": ["r·t + b = 8 × 60 + 10 = 490", "refuses about 84%", "1/r = 125 ms", "p99 about 1.5 s"],
    "above_capacity": ["r = 15, above capacity", "refuses about 70%", "5 a second to about 300",
                       "p99 reaches about 30 s"],
    "concurrency": ["serves 10 a second (the bucket: 8)", "refuses about 80%", "L/μ = 1 s", "p99 about 2 s"],
    "sources": ["(Netflix, 2018)", "RFC 6585", "admits at most r·t + b in any t seconds"],
}


@pytest.mark.parametrize("claim", sorted(PHRASES))
def test_the_lesson_says_it(claim):
    says(NOTEBOOK, *PHRASES[claim])


def test_the_prediction_states_the_scenario():
    question, options, _ = lesson08.PREDICTIONS["rate_limit"]
    assert "can answer 10 requests a second and normally gets 5" in question and "10× normal, 50 a second" in question
    assert "About eight minutes" in options  # 2,400 / 5 = 480 s
