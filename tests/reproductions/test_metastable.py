"""Reproduction c: a metastable failure sustained by retries.

Source: N. Bronson, A. Aghayev, A. Charapko, T. Zhu, "Metastable Failures in
Distributed Systems", HotOS 2021,
<https://sigops.org/s/conferences/hotos/2021/papers/hotos21-s11-bronson.pdf>.
Their example: a database that handles 300 QPS and is about 10× slower
beyond; an app at 280 QPS that retries once after a 1 s timeout; a 10 s
outage leaves it stuck at about 560 QPS of attempts with almost no goodput
after the outage is over; stable below 150 QPS, vulnerable between 150 and
300; recovery needs the load below 150 QPS or the retries below 20 QPS.

The model (:mod:`course.models.metastable`): 60 workers × 0.2 s per query =
300 QPS of capacity, a FIFO queue bounded at 600 queries (2 s of work; past
capacity a query takes about 2.2 s instead of 0.2 s), and work that keeps its
worker after its caller has timed out. The outage is a 10 s stall from
t = 10 s to t = 20 s. Seeds are fixed.

Definitions used below, on 5 s windows:

* *stuck*: attempts reaching the database are 2× the offered load ±10% and
  goodput (requests answered OK) is below 10% of the offered load.
* *recovered at t*: from t to the end of the run, every window's goodput is
  at least 90% of that window's offered load.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from course.models import metastable as model

OUTAGE_END = model.OUTAGE_START + 10.0


@lru_cache(maxsize=None)
def run(**settings):
    return model.simulate(**settings)


def windows(r, start, end):
    """Attempts / offered and goodput / offered in each 5 s window inside [start, end)."""
    s = r.summary
    inside = (s["window_starts"] >= start - 1e-9) & (s["window_starts"] + model.SUMMARY_WINDOW <= end + 1e-9)
    offered = s["window_offered"][inside]
    return s["window_attempts"][inside] / offered, s["window_goodput"][inside] / offered


def assert_stuck(r, start, end):
    attempts, goodput = windows(r, start, end)
    assert len(attempts) == round((end - start) / model.SUMMARY_WINDOW)
    assert np.all((attempts >= 1.8) & (attempts <= 2.2)), attempts
    assert np.all(goodput < 0.10), goodput


def test_the_database_matches_the_example():
    assert model.CAPACITY == 300
    assert model.TIMEOUT == 1.0
    assert model.POLICIES["retry_once"] == (2, None)
    # Past capacity a query waits out the full queue: about ten times its healthy 0.2 s.
    slow = model.QUEUE_LIMIT / model.CAPACITY + model.SERVICE
    assert 9 <= slow / model.SERVICE <= 12


@pytest.mark.parametrize("seed", (1, 2))
def test_without_a_trigger_it_stays_healthy(seed):
    r = run(outage_s=0, seed=seed)
    attempts, goodput = windows(r, model.SUMMARY_WINDOW, model.DURATION)  # skip the first window's warm-up
    assert np.all(goodput >= 0.95)
    assert np.all(attempts <= 1.02)
    assert r.summary["healthy_success"] == 1.0
    assert np.nanmax(r.db_queue) < 60  # a few queries now and then, never near the 240 that would time out


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_a_10_s_outage_leaves_it_stuck_for_at_least_the_next_60_s(seed):
    r = run(seed=seed)
    _, before = windows(r, model.SUMMARY_WINDOW, model.OUTAGE_START)
    assert np.all(before >= 0.95)  # healthy until the trigger
    assert_stuck(r, OUTAGE_END, OUTAGE_END + 60)
    # Bronson's figure: about 560 QPS of attempts.
    stuck = (r.t > OUTAGE_END) & (r.t < OUTAGE_END + 60)
    assert np.mean(r.attempts[stuck]) == pytest.approx(560, rel=0.10)
    assert np.isnan(r.summary["recovered_at"])  # and it is still stuck when the run ends, 70 s later


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_the_same_outage_at_140_qps_recovers_within_30_s(seed):
    r = run(rate=140.0, seed=seed)
    _, during = windows(r, model.OUTAGE_START, OUTAGE_END)
    assert np.all(during < 0.10)  # the outage did hurt
    assert r.summary["recovery_s"] <= 30.0


@pytest.mark.parametrize("seed", (1, 2))
def test_stable_below_150_qps_vulnerable_above(seed):
    assert run(rate=140.0, seed=seed).summary["recovery_s"] <= 30.0
    # At 160 QPS the queue takes a few seconds after the stall to settle full (the first window
    # after it is about 1.8×); from then on it is stuck like the 280 QPS run.
    r = run(rate=160.0, seed=seed)
    assert_stuck(r, OUTAGE_END + model.SUMMARY_WINDOW, model.DURATION)
    assert np.isnan(r.summary["recovered_at"])


@pytest.mark.parametrize("seed", (1, 2))
def test_dropping_the_load_below_150_qps_ends_the_stuck_state_within_30_s(seed):
    r = run(load_after=0.5, seed=seed)  # 280 -> 140 QPS at t = 50 s
    assert_stuck(r, OUTAGE_END, model.CHANGE_AT)
    assert r.summary["recovered_at"] - model.CHANGE_AT <= 30.0
    # Dropping it by a quarter, to 210 QPS, is not enough: still above 150.
    assert_stuck(run(load_after=0.75, seed=seed), OUTAGE_END, model.DURATION)


@pytest.mark.parametrize("seed", (1, 2))
def test_a_retry_budget_that_keeps_retries_below_20_qps_ends_the_stuck_state(seed):
    # 2% of 280 QPS is under 6 retries a second: goodput is back within 40 s of the outage's end.
    assert run(policy="budget_2", seed=seed).summary["recovery_s"] <= 40.0


@pytest.mark.parametrize("seed", (1, 2))
def test_a_10_percent_budget_is_28_retries_a_second_and_stays_stuck(seed):
    # 1.1 × 280 = 308 attempts a second against 300 of capacity: the budget must fit inside the headroom.
    r = run(policy="budget_10", seed=seed)
    attempts, goodput = windows(r, OUTAGE_END, model.DURATION)
    assert np.all(goodput < 0.10)
    assert np.mean(attempts) == pytest.approx(1.1, abs=0.03)
