"""The benchmark's versions of its model (course.sim's engine, its full stack, and SimPy) behave alike (a behaviour test, not a timing).

``course.bench`` times the same model written in course.sim and in SimPy; the
speed-up it reports means something only if the two are the same model. These
runs are tiny: they check that both complete and agree within loose limits.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import pytest

from course import bench

pytest.importorskip("simpy")

SEEDS = range(4)


RUNNERS = [bench.run_course_sim, bench.run_course_sim_engine]


@pytest.fixture(autouse=True)
def no_heap_settling(monkeypatch):
    """The runners call gc.collect() before timing a run; in a test process that holds other tests' results that
    can take seconds per run, and these tests don't time anything."""
    monkeypatch.setattr(bench, "gc", SimpleNamespace(collect=lambda: 0))


def _pooled_runs(model, runner):
    ours = [runner(model, seed) for seed in SEEDS]
    theirs = [bench.run_simpy(model, seed) for seed in SEEDS]
    for run in ours + theirs:
        assert run.requests > 0.8 * model.requests
        assert run.requests <= run.attempts <= model.max_attempts * run.requests
        assert 0 <= run.successes <= run.requests
        assert math.isfinite(run.mean_latency) and run.mean_latency > 0
        assert run.wall > 0
    return bench.pooled(ours), bench.pooled(theirs)


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_benchmark_model_completes_and_agrees_at_a_tiny_size(runner):
    ours, theirs = _pooled_runs(replace(bench.RetryModel(), requests=500), runner)
    assert ours["success_rate"] > 0.98
    assert ours["success_rate"] == pytest.approx(theirs["success_rate"], abs=0.01)
    assert ours["attempts_per_request"] == pytest.approx(theirs["attempts_per_request"], rel=0.05)
    assert 1.05 < ours["attempts_per_request"] < 1.2  # errors are retried
    assert ours["mean_latency"] == pytest.approx(theirs["mean_latency"], rel=0.3)


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_models_agree_when_timeouts_fire_often(runner):
    # A light load and a timeout of 1.5 mean service times: about a fifth of attempts time
    # out (their work goes on), a tenth fail, and some requests run out of attempts.
    model = replace(bench.RetryModel(), requests=500, arrival_utilisation=0.1, timeout=0.015)
    ours, theirs = _pooled_runs(model, runner)
    assert 0.9 < ours["success_rate"] < 0.995
    assert ours["success_rate"] == pytest.approx(theirs["success_rate"], abs=0.03)
    assert ours["attempts_per_request"] == pytest.approx(theirs["attempts_per_request"], rel=0.08)
    assert ours["mean_latency"] == pytest.approx(theirs["mean_latency"], rel=0.15)


def test_models_agree_tells_close_from_far():
    figures = {"mean_latency": 0.020, "success_rate": 0.999, "attempts_per_request": 1.11}
    assert bench.models_agree(figures, dict(figures, mean_latency=0.0205))
    assert not bench.models_agree(figures, dict(figures, mean_latency=0.025))
    assert not bench.models_agree(figures, dict(figures, success_rate=0.99))


def test_unmet_bars_names_the_figures_that_miss():
    figures = {"engine_vs_simpy_speedup": 2.0, "dashboard_a_update_vs_naive": 0.5, "dashboard_a_sim_share": 0.4,
               "dashboard_b_update_vs_naive": math.nan, "sim_run_ms": 100.0}
    assert bench.unmet_bars(figures) == ["engine_vs_simpy_speedup", "dashboard_a_sim_share",
                                         "dashboard_b_update_vs_naive"]
