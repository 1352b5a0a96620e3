"""The event-log model against its theory: the burst's lag (fluid), rebuild times, the poison message with and
without a dead-letter queue; and the numpy run against the same run on the engine."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from course.models import event_log as m

#: Seeds for long-run means (a fast run takes about 2 ms).
SEEDS = range(1, 101)
END = m.BURST_START + m.BURST_SECONDS


@functools.lru_cache(maxsize=None)
def runs(**kwargs):
    return tuple(m.run_fast(seed=seed, **kwargs) for seed in SEEDS)


def cached_runs(poison=False, max_attempts=0, burst_rate=m.BURST_RATE, consumer_rate=m.CONSUMER_RATE):
    return runs(poison=poison, max_attempts=max_attempts, burst_rate=burst_rate, consumer_rate=consumer_rate)


@pytest.mark.parametrize("kwargs", [dict(), dict(poison=True), dict(poison=True, max_attempts=3),
                                    dict(poison=True, max_attempts=10, burst_rate=150.0, consumer_rate=50.0)])
def test_numpy_run_matches_the_engine(kwargs):
    fast, engine = m.run_fast(seed=3, **kwargs), m.run_engine(seed=3, **kwargs)
    assert np.array_equal(fast.lag, engine.lag)
    assert np.allclose(fast.behind, engine.behind, atol=1e-9)
    assert fast.dead_letters == engine.dead_letters
    assert fast.poison_time == engine.poison_time
    assert fast.poison_reached == pytest.approx(engine.poison_reached) if fast.poison_reached else True


def test_theory_values():
    assert m.peak_lag() == 2400 and m.drain_seconds() == 120 and m.worst_wait_seconds() == 40
    assert m.peak_lag(burst_rate=50.0) == 0
    assert m.stall_seconds(3) == pytest.approx(3 * 4 / 60 + 2 * 2.0)
    assert m.stall_seconds(0) == np.inf
    assert m.rebuild_seconds(10_000_000, 2_000) == 5_000
    assert m.rebuild_seconds(10_000_000, 2_000, snapshot_offset=9_800_000) == 100
    t = np.array([0, 30, 60, 90, 150, 210, 250])
    assert m.fluid_lag(t).tolist() == [0, 0, 1200, 2400, 1200, 0, 0]


def test_mean_lag_follows_the_fluid_theory():
    mean = np.mean([r.total_lag for r in cached_runs()], axis=0)
    theory = m.fluid_lag(cached_runs()[0].grid)
    # Within 2% of the peak plus the few events random arrivals keep queued (about 5), except within 15 s of the
    # fluid catch-up at 210 s, where runs that catch up a little earlier or later round off the corner.
    grid = cached_runs()[0].grid
    away = np.abs(grid - (END + m.drain_seconds())) > 15
    assert np.max(np.abs(mean - theory)[away]) < 0.02 * m.peak_lag() + 10
    # The slopes: up at λ1 − μ = 40/s during the burst, down at μ − λ0 = 20/s after it.
    up = np.polyfit(grid[40:81], mean[40:81], 1)[0]
    down = np.polyfit(grid[100:191], mean[100:191], 1)[0]
    assert up == pytest.approx(40, rel=0.03) and down == pytest.approx(-20, rel=0.03)


def test_the_slowest_partition_decides_when_all_have_caught_up():
    back = np.array([r.caught_up_at() for r in cached_runs()])
    assert np.all(np.isfinite(back))
    assert 210 <= np.mean(back) <= 225  # theory 210 s; the last of four partitions is a little later


def test_poison_without_dlq_blocks_its_partition_at_its_arrival_rate():
    rs = cached_runs(poison=True)
    p = m.POISONED
    grid = rs[0].grid
    late = grid >= m.POISON_AT + 5
    slopes = [np.polyfit(grid[late], r.lag[p][late], 1)[0] for r in rs]
    assert np.mean(slopes) == pytest.approx(m.BASE_RATE / m.PARTITIONS, rel=0.03)
    assert np.mean([r.lag[p, -1] for r in rs]) == pytest.approx(10 * (m.HORIZON - m.POISON_AT), rel=0.03)
    assert np.mean([r.behind[p, -1] for r in rs]) == pytest.approx(m.HORIZON - m.POISON_AT, abs=1.0)
    assert all(r.dead_letters == 0 for r in rs)
    others = [r.lag[q, -1] for r in rs for q in range(m.PARTITIONS) if q != p]
    assert np.mean(others) < 3   # the other partitions carry on


@pytest.mark.parametrize("k", [3, 10])
def test_poison_with_dlq_parks_one_message_and_stalls_k_attempts(k):
    rs = cached_runs(poison=True, max_attempts=k)
    p = m.POISONED
    assert all(r.dead_letters == 1 for r in rs)
    grid = rs[0].grid
    after = grid >= m.POISON_AT
    peaks = [r.lag[p][after].max() for r in rs]
    # The stall lets about stall × λp events pile up (plus the usual few queued).
    expected = m.stall_seconds(k) * m.BASE_RATE / m.PARTITIONS
    assert np.mean(peaks) == pytest.approx(expected + 2, rel=0.15)
    assert np.mean([r.lag[p, -1] for r in rs]) < 5   # caught up again (the 10-attempt stall ends ~20 s before)


@pytest.mark.parametrize("events, offset", [(2_000, 0), (2_000, 1_500)])
def test_rebuild_on_the_engine_takes_events_over_mu(events, offset):
    assert m.rebuild_run(events, 500.0, offset) == pytest.approx(m.rebuild_seconds(events, 500.0, offset))


@pytest.mark.parametrize("call, words", [
    (lambda: m.run_fast(consumer_rate=30.0), "consumer_rate must be > base_rate"),
    (lambda: m.run_fast(max_attempts=-1), "max_attempts (0: no dead-letter queue) must be a whole number >= 0"),
    (lambda: m.run_fast(burst_rate=-1.0), "burst_rate must be >= 0"),
    (lambda: m.rebuild_seconds(10, 1.0, 11), "snapshot_offset must be <= events"),
    (lambda: m.rebuild_seconds(10, 0.0), "consumer_rate must be > 0"),
])
def test_bad_parameters_are_refused_by_name(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)
