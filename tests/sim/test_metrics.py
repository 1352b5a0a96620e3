"""Windowed aggregates against hand-computed values."""

import numpy as np
import pytest

from course.sim import Backoff, Client, Constant, Errors, FaultSchedule, OpenLoop, Outcome, Retry, Service, Simulation
from course.sim import metrics


def test_window_edges_cover_the_span():
    assert metrics.window_edges(10, 2.5).tolist() == [0, 2.5, 5, 7.5, 10]
    assert metrics.window_edges(10, 3).tolist() == [0, 3, 6, 9, 12]
    with pytest.raises(ValueError, match="width"):
        metrics.window_edges(10, 0)


def test_windowed_quantiles_match_numpy_per_window():
    rng = np.random.default_rng(0)
    times = rng.uniform(0, 10, 5000)
    values = rng.exponential(1.0, 5000)
    edges = metrics.window_edges(10, 2)
    got = metrics.windowed_quantiles(times, values, edges, (0.5, 0.99))
    for w in range(5):
        inside = (times >= edges[w]) & (times < edges[w + 1])
        assert got[0, w] == pytest.approx(np.quantile(values[inside], 0.5))
        assert got[1, w] == pytest.approx(np.quantile(values[inside], 0.99))


def test_empty_windows_are_nan():
    got = metrics.windowed_quantiles([0.5], [1.0], np.array([0, 1, 2.0]))
    assert got[0, 0] == 1.0 and np.isnan(got[0, 1])


def test_time_average_of_steps():
    # 0 until t=1, then 2 until t=3, then 1.
    avg = metrics.windowed_mean_of_steps([0, 1, 3], [0, 2, 1], np.array([0, 2, 4.0]))
    assert avg.tolist() == pytest.approx([1.0, 1.5])


def test_windowed_summary_counts_goodput_in_flight_and_amplification():
    sim = Simulation(seed=1)
    b = Service(sim, "B", 100, Constant(0.5), faults=FaultSchedule(Errors(1.0, 10, 20)))
    client = Client(sim, b, [Retry(3, Backoff("none"))])
    load = OpenLoop(sim, client, rate=40, until=30)
    sim.run()
    edges = metrics.window_edges(30, 5)
    w = metrics.windowed(load.records(), edges, client.records())
    assert w["goodput"][0] == pytest.approx(w["throughput"][0])
    assert w["goodput"][2] == 0 and w["goodput"][3] == 0  # windows 10-15 and 15-20: everything failed
    assert w["amplification"][0] == pytest.approx(1.0)
    assert w["amplification"][2] == pytest.approx(3.0, rel=0.05)
    assert w["in_flight"][0] == pytest.approx(40 * 0.5, rel=0.15)  # Little: L = λW
    assert w["p50"][0] == pytest.approx(0.5)


def test_breaker_state_share():
    share = metrics.breaker_states([(0, "closed"), (1, "open"), (3, "half_open"), (3.5, "closed")], np.array([0, 2, 4.0]))
    assert share.tolist() == pytest.approx([0.5, (1 + 0.25) / 2])


def test_amplification_and_summary():
    assert metrics.amplification(np.arange(64), 1) == 64
    records = {"arrival": np.array([0, 1.0]), "end": np.array([1, np.nan]), "outcome": np.array([0, -1])}
    s = metrics.summarise(records)
    assert s["count"] == 2 and s["answered"] == 1 and s["mean"] == 1.0 and s["success_rate"] == 0.5
