"""Drawing many numbers at once, bit-identical to drawing them one by one: ``Stream.draws``,
``open_loop_arrival_times`` and ``metrics.finite_quantile``."""

import math

import numpy as np
import pytest

from course.sim import Direct, OpenLoop, RateSchedule, Service, Simulation, Constant, metrics
from course.sim.load import open_loop_arrival_times


@pytest.mark.parametrize("kind,scale", [("random", 1.0), ("exponential", 1.0), ("exponential", 0.002)])
def test_stream_draws_hands_out_what_the_scalar_calls_return(kind, scale):
    one_by_one = Simulation(seed=3).rng("s")
    call = one_by_one.random if kind == "random" else (lambda: one_by_one.exponential(scale))
    expected = [call() for _ in range(5000)]  # more than two batches
    bulk = Simulation(seed=3).rng("s").draws(kind, scale)
    assert [next(bulk) for _ in range(5000)] == expected


def test_stream_draws_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be 'random' or 'exponential', got 'normal'"):
        Simulation(seed=1).rng("s").draws("normal")


def _open_loop_times(rate, until, seed):
    sim = Simulation(seed=seed)
    db = Service(sim, "db", workers=10_000, latency=Constant(0.001))
    load = OpenLoop(sim, Direct(db), rate, until=until)
    sim.run()
    return load.records()["start"].tolist()


@pytest.mark.parametrize("rate", [50.0, 700.0, RateSchedule([(0, 100), (3, 400), (7, 20)])],
                         ids=["50/s", "700/s", "piecewise"])
def test_open_loop_arrival_times_are_open_loops_to_the_bit(rate):
    for seed in (1, 2):
        assert open_loop_arrival_times(Simulation(seed=seed), rate, until=10.0) == _open_loop_times(rate, 10.0, seed)


def test_open_loop_arrival_times_needs_a_fresh_stream():
    sim = Simulation(seed=1)
    sim.rng("load:load:arrivals").random()
    with pytest.raises(ValueError, match="'load:load:arrivals' has been drawn from already"):
        open_loop_arrival_times(sim, 10.0, until=1.0)
    assert open_loop_arrival_times(Simulation(seed=1), 0.0, until=1.0) == []


def test_finite_quantile_leaves_out_unanswered_calls():
    assert metrics.finite_quantile([1.0, math.nan, 3.0, math.inf], 0.5) == 2.0
    assert math.isnan(metrics.finite_quantile([math.nan], 0.99))
    assert metrics.finite_quantile(np.arange(101.0), 0.99) == pytest.approx(99.0)
