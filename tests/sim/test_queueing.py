"""The simulator against queueing theory: M/M/1, M/M/c (Erlang C) and Little's law.

These are the figures in COURSE.md section 5 ("Queueing"). Seeds are fixed;
arrival counts are large enough that the tolerances hold by several standard
errors, not by luck of the seed.
"""

import numpy as np
import pytest

from course.sim import Direct, Exponential, OpenLoop, Service, Simulation
from course.sim import queueing


def run_mmc(servers, rho, arrivals, seed, service_mean=1.0):
    sim = Simulation(seed=seed)
    service = Service(sim, "server", workers=servers, latency=Exponential(service_mean))
    rate = rho * servers / service_mean
    until = arrivals / rate
    OpenLoop(sim, Direct(service), rate=rate, until=until)
    sim.run()
    r = service.records()
    # Drop the warm-up (the first 5% of arrivals), when the queue starts empty.
    warm = r["arrival"] > 0.05 * until
    return sim, service, r, warm, rate, until


def test_erlang_c_check_values_from_course():
    assert queueing.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert queueing.erlang_c(10, 9.0) == pytest.approx(0.669, abs=5e-4)
    w = queueing.mmc_response_time(arrival_rate=9.0, service_rate=1.0, servers=10)
    assert w == pytest.approx(1.669, abs=5e-4)
    assert queueing.mm1_response_time(0.9, 1.0) == pytest.approx(10.0)


@pytest.mark.parametrize("rho, ratio", [(0.5, 2), (0.8, 5), (0.9, 10), (0.95, 20), (0.99, 100)])
def test_mm1_slowdown_table(rho, ratio):
    assert queueing.slowdown(rho) == pytest.approx(ratio)


@pytest.mark.parametrize("rho, arrivals", [(0.5, 200_000), (0.8, 400_000), (0.9, 1_000_000)])
def test_mm1_mean_response_time_within_3_percent(rho, arrivals):
    _, _, r, warm, rate, _ = run_mmc(1, rho, arrivals, seed=11)
    measured = (r["end"] - r["arrival"])[warm].mean()
    theory = queueing.mm1_response_time(rate, 1.0)
    assert measured == pytest.approx(theory, rel=0.03)


def test_mm1_p99_is_exponential_tail():
    _, _, r, warm, rate, _ = run_mmc(1, 0.8, 400_000, seed=5)
    p99 = np.quantile((r["end"] - r["arrival"])[warm], 0.99)
    assert p99 == pytest.approx(queueing.mm1_response_quantile(rate, 1.0, 0.99), rel=0.05)
    assert p99 == pytest.approx(4.6 * queueing.mm1_response_time(rate, 1.0), rel=0.05)


@pytest.mark.parametrize("servers, rho", [(2, 0.5), (4, 0.8), (10, 0.9)])
def test_mmc_mean_response_and_wait_probability(servers, rho):
    _, _, r, warm, rate, _ = run_mmc(servers, rho, 300_000, seed=3)
    response = (r["end"] - r["arrival"])[warm]
    waited = (r["start"] - r["arrival"])[warm] > 0
    assert response.mean() == pytest.approx(queueing.mmc_response_time(rate, 1.0, servers), rel=0.03)
    assert waited.mean() == pytest.approx(queueing.erlang_c(servers, rate), abs=0.02)


def test_pooling_beats_a_single_fast_server_queue_at_same_utilisation():
    # COURSE.md: c=10, a=9 gives W ≈ 1.669·S, against 10·S for M/M/1 at the same ρ.
    _, _, r, warm, _, _ = run_mmc(10, 0.9, 300_000, seed=8)
    assert (r["end"] - r["arrival"])[warm].mean() < 2.0


@pytest.mark.parametrize("servers, rho", [(1, 0.8), (3, 0.7)])
def test_littles_law_on_the_simulators_own_output(servers, rho):
    # L comes from the service's exact time-integral of calls in the system;
    # λ and W come from the per-call records. Different code paths must agree.
    sim, service, r, _, _, until = run_mmc(servers, rho, 200_000, seed=21)
    horizon = sim.now()
    assert np.all(np.isfinite(r["end"]))
    L = service.mean_in_system(horizon)
    lam = len(r["arrival"]) / horizon
    W = (r["end"] - r["arrival"]).mean()
    assert L == pytest.approx(lam * W, rel=0.02)


def test_same_seed_same_arrays_different_seed_different_arrays():
    def arrays(seed):
        return run_mmc(2, 0.8, 5_000, seed=seed)[2]

    a, b, c = arrays(4), arrays(4), arrays(5)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["end"], c["end"])


def test_unstable_parameters_are_rejected():
    with pytest.raises(ValueError, match="utilisation"):
        queueing.mm1_response_time(2.0, 1.0)
    with pytest.raises(ValueError, match="offered_load"):
        queueing.erlang_c(2, 2.0)
