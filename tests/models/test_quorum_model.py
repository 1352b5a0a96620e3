"""The quorum model against theory: P(stale) = C(N−W, R)/C(N, R)·e^{−R·t/L}, and latency as order statistics.

Simulated shares are checked within 4 standard errors of theory (20,000 trials each, so a check fails by
chance about once in 16,000); the event-engine sweep uses 2,000 trials and the same rule.
"""

import math

import numpy as np
import pytest

from course.models import quorum as model

SETTINGS = [(3, 1, 1), (3, 2, 1), (3, 1, 2), (5, 1, 1), (5, 2, 2), (5, 1, 3), (7, 2, 3), (7, 3, 2)]


def test_theory_by_hand():
    assert model.overlap_miss(3, 1, 1) == pytest.approx(2 / 3)
    assert model.overlap_miss(5, 2, 2) == pytest.approx(3 / 10)  # C(3,2)/C(5,2)
    assert model.overlap_miss(3, 2, 2) == 0 and model.overlap_miss(5, 3, 3) == 0
    t = np.array([0.0, 0.1, 0.3])
    np.testing.assert_allclose(model.theory_stale(t, 3, 2, 1, 0.1), np.exp(-2 * t / 0.1) / 3)
    # N = 2, W = 1, R = 1: the read asks the straggler half the time, which then lags like lesson 04's replica.
    np.testing.assert_allclose(model.theory_stale(t, 2, 1, 1, 0.1), 0.5 * np.exp(-t / 0.1))


@pytest.mark.parametrize("n,r,w", SETTINGS)
def test_simulated_staleness_matches_theory_at_every_time(n, r, w):
    run = model.simulate(n, r, w, lag_mean=0.1, trials=20_000, seed=11)
    se = np.maximum(run.se, 1 / run.trials)
    assert np.all(np.abs(run.stale - run.theory) <= 4 * se + 1e-12), (run.stale - run.theory) / se


@pytest.mark.parametrize("n,r,w", [(3, 2, 2), (3, 3, 1), (5, 3, 3), (7, 4, 4), (7, 1, 7)])
def test_overlapping_quorums_are_never_stale(n, r, w):
    run = model.simulate(n, r, w, trials=5_000, seed=2)
    assert run.overlapping and np.all(run.stale == 0) and np.all(run.theory == 0)


def test_staleness_falls_with_time_and_with_r():
    runs = {r: model.simulate(5, r, 1, trials=20_000, seed=4) for r in (1, 2, 3)}
    for run in runs.values():
        assert np.all(np.diff(run.theory) < 0) and run.stale[-1] < 0.1 * run.stale[0]
    assert runs[1].stale[0] > runs[2].stale[0] > runs[3].stale[0]


@pytest.mark.parametrize("n,r,w,times", [(3, 1, 1, (0.0, 0.1)), (3, 2, 1, (0.0, 0.05)), (5, 2, 2, (0.0, 0.1))])
def test_the_event_engine_agrees_with_theory(n, r, w, times):
    sweep = model.stale_sweep_store(n, r, w, lag_mean=0.1, times=times, trials=2_000, seed=5)
    se = np.sqrt(sweep.theory * (1 - sweep.theory) / 2_000)
    assert np.all(np.abs(sweep.stale - sweep.theory) <= 4 * se)
    # Write latency is the W-th fastest of N lags; a read waits for the slowest of R answers.
    assert sweep.write_latencies.mean() == pytest.approx(model.theory_write_mean(n, w, 0.1), rel=0.1)
    assert sweep.read_latencies.mean() == pytest.approx(model.theory_read_mean(r, 0.1), rel=0.1)


def test_a_slow_ack_only_makes_reads_fresher():
    # With an ack delay, more than W replicas may hold the write when it is acknowledged: theory is an upper bound.
    from course.sim import Exponential, Simulation
    from course.sim.data.quorum import QuorumStore

    sim = Simulation(seed=9)
    db = QuorumStore(sim, replicas=3, write_quorum=1, read_quorum=1, lag=Exponential(0.1), ack=Exponential(0.1))
    reads = []
    for k in range(2_000):
        sim.at(k * 100.0, db.write, k, k, None, lambda wr: reads.append(db.read(wr.key)))
    sim.run()
    stale = np.mean([read.version == 0 for read in reads])
    assert stale < model.overlap_miss(3, 1, 1) - 4 * math.sqrt(2 / 9 / 2_000)


# -- Latency: order statistics of exponentials --------------------------------------------------------

@pytest.mark.parametrize("n", [3, 5, 7])
@pytest.mark.parametrize("q", [0.5, 0.99])
def test_write_quantiles_against_closed_forms(n, q):
    lag = 0.1
    # The fastest of N is Exp(L/N); the slowest of N is the read of all N.
    assert model.theory_write_quantile(q, n, 1, lag) == pytest.approx(-lag / n * math.log1p(-q), rel=1e-9)
    assert model.theory_write_quantile(q, n, n, lag) == pytest.approx(model.theory_read_quantile(q, n, lag), rel=1e-9)
    for w in range(1, n + 1):
        assert model.write_cdf(model.theory_write_quantile(q, n, w, lag), n, w, lag) == pytest.approx(q, abs=1e-9)


def test_means_by_hand():
    assert model.theory_write_mean(3, 1, 0.1) == pytest.approx(0.1 / 3)
    assert model.theory_write_mean(3, 3, 0.1) == pytest.approx(0.1 * (1 + 1 / 2 + 1 / 3))
    assert model.theory_read_mean(3, 0.1) == pytest.approx(0.1 * (1 + 1 / 2 + 1 / 3))


@pytest.mark.parametrize("n", [3, 7])
def test_simulated_latency_matches_theory(n):
    run = model.simulate(n, 1, 1, lag_mean=0.1, trials=20_000, seed=6)
    # p50 within 3%, p99 within 8% (the p99 of 20,000 draws has a relative sd of about 2.5%).
    np.testing.assert_allclose(run.write_latency[:, 0], run.write_theory[:, 0], rtol=0.03)
    np.testing.assert_allclose(run.read_latency[:, 0], run.read_theory[:, 0], rtol=0.03)
    np.testing.assert_allclose(run.write_latency[:, 1], run.write_theory[:, 1], rtol=0.08)
    np.testing.assert_allclose(run.read_latency[:, 1], run.read_theory[:, 1], rtol=0.08)
    assert run.write_mean == pytest.approx(model.theory_write_mean(n, 1, 0.1), rel=0.03)
    assert run.read_mean == pytest.approx(model.theory_read_mean(1, 0.1), rel=0.03)


def test_latency_grows_with_quorum_size():
    write, read = model.latency_theory(5, 0.1)
    assert np.all(np.diff(write, axis=0) > 0) and np.all(np.diff(read, axis=0) > 0)
    np.testing.assert_allclose(write[-1], read[-1])  # waiting for all N is the same either way


def test_same_seed_same_run():
    a, b = model.simulate(5, 2, 2, seed=3, trials=2_000), model.simulate(5, 2, 2, seed=3, trials=2_000)
    np.testing.assert_array_equal(a.stale, b.stale)
    np.testing.assert_array_equal(a.write_latency, b.write_latency)


@pytest.mark.parametrize("call,match", [
    (lambda: model.simulate(3, 4, 1), r"r must be a whole number from 1 to the number of replicas \(N = 3\), got 4"),
    (lambda: model.simulate(3, 1, 0), r"w must be a whole number from 1 to .* got 0"),
    (lambda: model.simulate(0, 1, 1), r"n must be a whole number >= 1"),
    (lambda: model.simulate(3, 1, 1, lag_mean=0), r"lag_mean must be > 0"),
    (lambda: model.simulate(3, 1, 1, trials=0), r"trials must be a whole number >= 1"),
    (lambda: model.simulate(3, 1, 1, times=[-1.0]), r"t must be >= 0 seconds"),
    (lambda: model.theory_stale(0.1, 3, 1, 1, lag_mean=-1), r"lag_mean must be > 0"),
    (lambda: model.theory_write_quantile(1.5, 3, 1), r"q must be a probability"),
    (lambda: model.theory_read_quantile(0.5, 0), r"r must be a whole number >= 1"),
])
def test_bad_parameters_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()
