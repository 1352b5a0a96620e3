"""Every number lesson 02 (``course/02_retries.ipynb``) states, checked against the simulator.

Each test quotes the claim it checks, in the lesson's words. Runs use the
dashboards' own settings and seeds (seed 1 for the retry-storm and metastable
models, seed 0 and 20 runs a point for the backoff curves), so the lesson
describes exactly what the learner sees; the claims that carry the lesson are
also checked on other seeds. The published figures themselves (64 attempts,
1.1×, Brooker's orderings, Bronson's 560 QPS and 150 QPS) are reproduced in
``tests/reproductions``. Library defaults (Resilience4j, Polly, tenacity,
Envoy) are quoted from COURSE.md section 5 with sources in the lesson and need
no simulation, only the arithmetic on them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from course.dashboards import BackoffJitterDashboard, MetastableDashboard, RetryStormDashboard
from course.dashboards import backoff_jitter as backoff_dashboard
from course.lessons import lesson02
from course.models import metastable, occ_contention, retry_amplification
from course.sim import Backoff, RetryBudget

# -- helpers ---------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _storm(items):
    return retry_amplification.simulate(**dict(items))


def storm(**settings):
    """The retry-storm dashboard's model run (cached: several tests read the same run)."""
    return _storm(tuple(sorted(settings.items())))


@lru_cache(maxsize=None)
def _long_storm(items):
    return retry_amplification.always_failing(rate=50.0, duration=60.0, measure=(10.0, 60.0), **dict(items))


def long_storm(**settings):
    """A minute of a bottom layer that always fails, measured after the budgets' windows have filled."""
    return _long_storm(tuple(sorted(settings.items())))


@lru_cache(maxsize=None)
def _meta(items):
    return metastable.simulate(**dict(items))


def meta(**settings):
    """The metastable dashboard's model run (cached)."""
    return _meta(tuple(sorted(settings.items())))


def curves_at(clients):
    """The backoff dashboard's points (20 runs each, seed 0) at ``clients``."""
    return {s: backoff_dashboard.point(s, clients) for s in occ_contention.STRATEGIES}


@lru_cache(maxsize=None)
def reproduction_at_100():
    """The lesson's table: 100 runs at N = 100, seed 0 (the figures reproduction b checks)."""
    return {s: occ_contention.simulate(s, 100, 100, 0) for s in occ_contention.STRATEGIES if s != "none"}


OUTAGE_END = metastable.OUTAGE_START + 10.0

# -- The system, as section 3 describes it ------------------------------------------------------


def test_the_retry_storm_system_matches_the_description():
    # "about 10 requests/s ... a couple of milliseconds of work ... full-jitter backoff (5 ms base, 50 ms cap).
    #  From t = 10 s to t = 20 s the bottom layer fails every call"
    assert retry_amplification.RATE == 10.0
    assert retry_amplification.WORK.mean == pytest.approx(0.002)
    b = retry_amplification.BACKOFF
    assert (b.kind, b.base, b.cap) == ("full_jitter", 0.005, 0.050)
    assert retry_amplification.FAILURE == (10.0, 20.0)
    assert (retry_amplification.BUDGET_RATIO, retry_amplification.BUDGET_WINDOW) == (0.1, 10.0)
    controls = RetryStormDashboard().controls_by_name
    assert (controls["layers"].value, controls["attempts"].value) == (3, 4)
    assert (controls["layers"].max, controls["attempts"].max) == (4, 5)


def test_the_backoff_model_matches_the_description():
    # "Network delay is about 10 ms ± 2 ms, the backoff base is 5 ms and the cap 2 s ... Each point averages 20 runs."
    assert (occ_contention.NETWORK_MEAN, occ_contention.NETWORK_SD) == (0.010, 0.002)
    assert (occ_contention.BASE, occ_contention.CAP) == (0.005, 2.0)
    assert backoff_dashboard.TRIALS == 20
    assert BackoffJitterDashboard().controls_by_name["clients"].value == 100


def test_the_metastable_system_matches_the_description():
    # "60 workers and each query takes 0.2 s ... 300 queries a second ... holds up to 600 (two seconds of work)
    #  ... about 2.2 s instead of 0.2 s, about ten times slower ... 280 requests a second, gives up after 1 s,
    #  retries once ... at t = 10 s the database stalls for 10 s ... Above 240 queued, a new query waits more
    #  than 0.8 s"
    assert metastable.WORKERS == 60 and metastable.SERVICE == 0.2
    assert metastable.CAPACITY == 300
    assert metastable.QUEUE_LIMIT == 600 and metastable.QUEUE_LIMIT / metastable.CAPACITY == 2.0
    slow = metastable.QUEUE_LIMIT / metastable.CAPACITY + metastable.SERVICE
    assert slow == pytest.approx(2.2)
    assert 9 < slow / metastable.SERVICE < 12
    assert metastable.TIMEOUT == 1.0 and metastable.POLICIES["retry_once"] == (2, None)
    assert metastable.OUTAGE_START == 10.0
    assert metastable.HOPELESS_QUEUE == 240
    assert metastable.HOPELESS_QUEUE / metastable.CAPACITY == pytest.approx(0.8)
    controls = MetastableDashboard().controls_by_name
    assert (controls["rate"].value, controls["outage_s"].value, controls["policy"].value) == (280, 10, "retry_once")
    assert controls["outage_kind"].value == "stall"


# -- Experiment 1: the storm ---------------------------------------------------------------------


def test_before_the_failure_nobody_retries():
    # "Before t = 10 s every line sits on the users' 10 requests a second"
    r = storm()
    before = r.t < retry_amplification.FAILURE[0]
    np.testing.assert_allclose(r.arrivals[:, before], np.tile(r.offered[before], (3, 1)))
    assert r.offered[before].mean() == pytest.approx(10, rel=0.1)


def test_the_bottom_receives_64_per_request_roughly_600_a_second():
    # "it receives 64 calls per user request, exactly 4 × 4 × 4: roughly 600 a second while users send 10.
    #  ... 4, 16, 64."
    r = storm()
    np.testing.assert_array_equal(r.amplification, [4, 16, 64])
    failing = (r.t > 11) & (r.t < 20)
    assert 550 < r.arrivals[-1][failing].mean() < 700
    assert r.offered[failing].mean() == pytest.approx(10, rel=0.15)


def test_97_percent_still_fail_and_each_takes_half_a_second():
    # "97% of the requests that arrive during the failure still fail ... about half a second to give up"
    s = storm().summary
    assert s["top_failure_share"] == pytest.approx(0.97, abs=0.005)
    assert 0.45 < s["mean_latency_failing"] < 0.6


def test_four_layers_of_five_attempts():
    # "4 layers and 5 attempts: 625 calls per user request, and a request needs about 7.5 s to fail."
    r = storm(layers=4, attempts=5)
    assert r.amplification[-1] == 625
    assert r.summary["mean_latency_failing"] == pytest.approx(7.5, abs=0.3)


# -- Experiment 2: budgets, and who should retry --------------------------------------------------


def test_budgets_alone_give_about_1_36_in_this_run_and_1_33_in_a_long_one():
    # "The bottom's load drops from 64× to about 1.36× ... 1.1 × 1.1 × 1.1 ≈ 1.33 (this short run measures 1.36;
    #  a long one, 1.33)"
    assert storm(budget=True).amplification[-1] == pytest.approx(1.36, abs=0.005)
    assert 1.1 ** 3 == pytest.approx(1.33, abs=0.005)
    assert long_storm(budget=True).amplification[-1] == pytest.approx(1.33, abs=0.005)


def test_a_budget_spends_its_retries_in_a_burst_then_none():
    # "a burst of retries in the first second of the failure, then none, because the retries already spent
    #  stay in the window for 10 s"
    r = storm(budget=True)
    first = (r.t > 10) & (r.t < 11)
    rest = (r.t > 11) & (r.t < 20)
    assert r.arrivals[-1][first].sum() > 2 * r.offered[first].sum()
    # No retries at all after that: one call per user request (give or take one crossing a window edge).
    assert abs(r.arrivals[-1][rest].sum() - r.offered[rest].sum()) <= 1


def test_both_defences_give_1_11_no_retry_alone_gives_4():
    # "with both defences the bottom gets 1.11× ... Untick the budget: 4×"
    assert storm(budget=True, no_retry=True).amplification[-1] == pytest.approx(1.11, abs=0.005)
    np.testing.assert_array_equal(storm(no_retry=True).amplification, [1, 1, 4])


def test_one_layer_three_attempts_is_3x_and_1_11_with_a_budget():
    # "set 1 layer and 3 attempts with the budget off: 3× ... Tick the budget: 1.11×." (no_retry still ticked)
    assert storm(layers=1, attempts=3, no_retry=True).amplification[-1] == 3.0
    assert storm(layers=1, attempts=3, no_retry=True, budget=True).amplification[-1] == pytest.approx(1.11, abs=0.005)


def test_the_budget_is_one_retry_per_ten_requests_over_10_s():
    # "over a sliding 10 s window, it may send at most one retry for every ten requests it receives"
    from course.sim import ManualClock
    clock = ManualClock()
    budget = RetryBudget(clock, ratio=retry_amplification.BUDGET_RATIO, window=retry_amplification.BUDGET_WINDOW)
    for _ in range(50):
        budget.record_request()
    assert sum(budget.try_spend() for _ in range(10)) == 5


# -- Experiment 3: backoff and jitter -----------------------------------------------------------


@pytest.mark.parametrize("source", ["dashboard", "reproduction"])
def test_at_100_clients(source):
    # "Exponential backoff without jitter needs about 1,850 calls and about a minute ... Full jitter needs about
    #  800 calls, fewer than half, and about 5 s ... Equal jitter ... about 810 calls ... about 6.6 s ...
    #  Decorrelated jitter makes more calls (about 1,000) and finishes a little sooner than full jitter."
    r = curves_at(100) if source == "dashboard" else reproduction_at_100()
    assert r["exponential"].calls == pytest.approx(1850, rel=0.02)
    assert 55 < r["exponential"].completion < 70
    assert r["full_jitter"].calls == pytest.approx(800, rel=0.02)
    assert r["full_jitter"].calls < 0.5 * r["exponential"].calls
    assert r["full_jitter"].completion == pytest.approx(5, abs=0.3)
    assert r["equal_jitter"].calls == pytest.approx(810, rel=0.02)
    assert r["equal_jitter"].completion == pytest.approx(6.6, abs=0.15)
    assert r["decorrelated_jitter"].calls == pytest.approx(1000, rel=0.02)
    assert r["decorrelated_jitter"].completion < r["full_jitter"].completion


def test_the_reproduction_table():
    # The table in section 4: 1,855 / 63 s; 796 / 4.9 s; 814 / 6.7 s; 1,005 / 4.4 s (100 runs at N = 100).
    r = reproduction_at_100()
    table = {"exponential": (1855, 63), "full_jitter": (796, 4.9), "equal_jitter": (814, 6.7),
             "decorrelated_jitter": (1005, 4.4)}
    for strategy, (calls, seconds) in table.items():
        assert round(r[strategy].calls) == calls
        assert round(r[strategy].completion, 0 if seconds > 10 else 1) == seconds


def test_at_10_clients_the_curves_bunch_together():
    # "Drag N down to 10: the curves bunch together."
    few, many = curves_at(10), curves_at(100)
    jittered = ("full_jitter", "equal_jitter", "decorrelated_jitter")

    def spread(r):
        calls = [r[s].calls for s in ("exponential",) + jittered]
        return max(calls) / min(calls)

    assert spread(few) < 1.4 < 2 < spread(many)


def test_no_backoff_makes_the_most_calls_and_finishes_first():
    # "by far the most calls (about 2,400), yet it finishes first, in about 2 s"
    r = curves_at(100)
    assert r["none"].calls == pytest.approx(2400, rel=0.03)
    assert r["none"].calls > 1.25 * max(r[s].calls for s in r if s != "none")
    assert r["none"].completion == pytest.approx(2.0, abs=0.2)
    assert r["none"].completion < min(r[s].completion for s in r if s != "none")


# -- Experiment 4: the outage that doesn't end ---------------------------------------------------


def test_the_queue_fills_within_a_few_seconds_and_attempts_reach_about_560():
    # "the queue fills to its limit of 600 within a few seconds, and the attempts jump to about 560 a second"
    r = meta()
    full = r.t[np.argmax(r.db_queue >= 0.98 * metastable.QUEUE_LIMIT)]
    assert metastable.OUTAGE_START < full < metastable.OUTAGE_START + 4
    after = (r.t > metastable.OUTAGE_START + 2) & (r.t < metastable.DURATION)
    assert np.mean(r.attempts[after]) == pytest.approx(560, rel=0.05)


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_all_300_are_for_nobody_goodput_zero_attempts_2x_for_70_s(seed):
    # "finishing 300 queries a second, and the orange line says that all 300 are for callers who have already
    #  gone. Goodput: 0%. ... for the rest of the run, 70 s after the trigger ended: attempts 2.0×"
    s = meta(seed=seed).summary
    assert metastable.DURATION - OUTAGE_END == 70
    assert s["after_wasted_per_s"] == pytest.approx(300, abs=1)
    assert s["after_goodput_ratio"] < 0.005
    assert s["after_attempts_ratio"] == pytest.approx(2.0, abs=0.02)
    assert np.isnan(s["recovered_at"])


# -- Experiment 5: ways out ------------------------------------------------------------------------


def test_no_retries_recovers_at_about_40_s():
    # "No retries ... goodput is back at about t = 40 s."
    assert meta(policy="none").summary["recovered_at"] == 40.0
    for seed in (2, 3):
        assert 35 <= meta(policy="none", seed=seed).summary["recovered_at"] <= 50


def test_140_recovers_at_30_s_160_stays_stuck():
    # "At 140 QPS the same outage heals by itself: goodput is back at t = 30 s. Drag the load to 160: stuck.
    #  The line is at 150, half the capacity."
    assert meta(rate=140).summary["recovered_at"] == 30.0
    stuck = meta(rate=160).summary
    assert np.isnan(stuck["recovered_at"]) and stuck["after_goodput_ratio"] < 0.01
    assert metastable.CAPACITY / 2 == 150
    assert MetastableDashboard().controls_by_name["rate"].step == 10  # 140 and 160 are both on the slider


def test_halving_the_load_at_50_s_recovers_15_s_later_a_quarter_does_not():
    # "stuck at 280 QPS until t = 50 s, when the load halves to 140. Goodput is back about 15 s later ...
    #  drops by a quarter instead: 210 QPS is still above 150, and it stays stuck."
    assert metastable.CHANGE_AT == 50.0
    halved = meta(load_after=0.5).summary
    assert halved["after_goodput_ratio"] < 0.01  # stuck until the change
    assert halved["recovered_at"] - metastable.CHANGE_AT == pytest.approx(15, abs=5)
    assert 280 * 0.75 == 210
    assert np.isnan(meta(load_after=0.75).summary["recovered_at"])


def test_a_10_percent_budget_is_1_10x_and_stuck():
    # "With the SRE book's 10% budget the attempts fall to 1.10× the offered load, and it is still stuck.
    #  10% of 280 is 28 retries a second ... 308 attempts against 300 of capacity"
    s = meta(policy="budget_10").summary
    assert s["after_attempts_ratio"] == pytest.approx(1.10, abs=0.005)
    assert np.isnan(s["recovered_at"]) and s["after_goodput_ratio"] < 0.01
    assert 0.1 * 280 == 28 and 280 + 28 == 308 and metastable.CAPACITY - 280 == 20
    assert metastable.BUDGET_WINDOW == 10.0  # "the budget refilling as spent retries leave its 10 s window"


def test_a_2_percent_budget_recovers_at_45_s_and_5_percent_gets_out_more_slowly():
    # "Pick the 2% budget (under 6 retries a second): goodput is back at t = 45 s. The 5% budget gets out too,
    #  but slowly: 14 retries a second leave only 6 a second of headroom"
    assert 0.02 * 280 < 6
    assert meta(policy="budget_2").summary["recovered_at"] == 45.0
    assert meta(policy="budget_5").summary["recovered_at"] <= metastable.DURATION
    assert 0.05 * 280 == 14 and 300 - 280 - 14 == 6
    slow = [meta(policy="budget_5", seed=seed).summary["recovery_s"] for seed in (1, 2, 3)]
    fast = [meta(policy="budget_2", seed=seed).summary["recovery_s"] for seed in (1, 2, 3)]
    assert np.mean(slow) > np.mean(fast)


def test_refusing_instead_of_stalling_recovers_at_once():
    # "Set the outage to refuses connections ... Goodput is back the moment the outage ends."
    assert meta(outage_kind="refuse").summary["recovered_at"] == OUTAGE_END


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_a_1_s_stall_is_enough(seed):
    # "set it back to a stall of only 1 s: still stuck."
    s = meta(outage_s=1, seed=seed).summary
    assert np.isnan(s["recovered_at"]) and s["after_goodput_ratio"] < 0.01


def test_skipping_expired_queries_recovers_at_once():
    # "The backlog evaporates: goodput is back the moment the stall ends, with the retries still switched on."
    s = meta(drop_expired=True).summary
    assert s["recovered_at"] == OUTAGE_END
    assert s["attempts_per_request"] > 1.05  # the retries did happen, during the stall


# -- The idea -------------------------------------------------------------------------------------


def test_library_defaults_table_arithmetic():
    # Resilience4j maxAttempts 3 (incl. first) -> 3 per call, 27 deep; Polly MaxRetryAttempts 3 -> 4, 64;
    # Envoy 1 retry -> 2, 8.
    assert 3 ** 3 == 27 and (3 + 1) ** 3 == 64 and (1 + 1) ** 3 == 8


def test_the_policy_table():
    # The table "Retry policy, bottom layer always failing": 64; about 1.33; 4; about 1.1; 3; about 1.1.
    assert retry_amplification.always_failing().amplification[-1] == 64
    assert long_storm(budget=True).amplification[-1] == pytest.approx(1.33, abs=0.01)
    assert retry_amplification.always_failing(no_retry=True).amplification[-1] == 4
    assert long_storm(budget=True, no_retry=True).amplification[-1] == pytest.approx(1.1, abs=0.01)
    assert retry_amplification.always_failing(layers=1, attempts=3).amplification[-1] == 3
    assert long_storm(layers=1, attempts=3, budget=True).amplification[-1] == pytest.approx(1.1, abs=0.01)


def test_the_backoff_formulas():
    # "capped exponential: min(cap, base·2ⁿ) ... full jitter: uniform(0, ...) ... equal jitter: half ... plus
    #  uniform(0, the other half) ... decorrelated: min(cap, uniform(base, 3 × the previous sleep))"
    rng = np.random.default_rng(0)
    b = Backoff("exponential", 0.005, 2.0)
    assert [b.delay(n, 0, None) for n in (0, 3, 20)] == [0.005, 0.04, 2.0]
    full = [Backoff("full_jitter", 0.1, 10).delay(3, 0, rng) for _ in range(2000)]
    assert 0 <= min(full) and max(full) <= 0.8 and np.mean(full) == pytest.approx(0.4, rel=0.05)
    equal = [Backoff("equal_jitter", 0.1, 10).delay(3, 0, rng) for _ in range(2000)]
    assert 0.4 <= min(equal) and max(equal) <= 0.8
    dec = [Backoff("decorrelated_jitter", 0.1, 10).delay(1, 0.5, rng) for _ in range(2000)]
    assert 0.1 <= min(dec) and max(dec) <= 1.5


# -- Self-check ----------------------------------------------------------------------------------


def _question(fragment):
    (question,) = [q for q in lesson02.QUESTIONS if fragment in q.prompt]
    return question


def test_quiz_polly_three_layers_is_64_resilience4j_27():
    q = _question("MaxRetryAttempts = 3")
    assert q.options[q.answer] == "64"
    assert retry_amplification.always_failing(attempts=3 + 1).amplification[-1] == 64
    assert retry_amplification.always_failing(attempts=3).amplification[-1] == 27


def test_quiz_three_budgets_about_1_33_measured_1_33():
    q = _question("10% retry budget")
    assert "1.33" in q.options[q.answer]
    assert long_storm(budget=True).amplification[-1] == pytest.approx(1.33, abs=0.005)


def test_quiz_jitter_at_800ms():
    q = _question("800 ms")
    assert "0 to 800 ms" in q.options[q.answer] and "400 ms plus" in q.options[q.answer]


def test_quiz_shed_below_150_back_about_15_s_after_halving_budget_10_stuck():
    q = _question("stuck after an outage")
    assert "under 150 QPS" in q.options[q.answer]
    assert meta(load_after=0.5).summary["recovered_at"] - metastable.CHANGE_AT == pytest.approx(15, abs=5)
    assert np.isnan(meta(policy="budget_10").summary["recovered_at"])
    assert np.isnan(meta(policy="retry_once").summary["recovered_at"])  # "it does not drain by itself"


def test_quiz_has_at_least_four_questions_and_two_predictions():
    assert len(lesson02.QUESTIONS) >= 4
    assert lesson02.OPTIONS[2].startswith("64")
    assert lesson02.prediction().choice.options == lesson02.OPTIONS
    assert lesson02.metastable_prediction().choice.options == lesson02.METASTABLE_OPTIONS
    assert len(lesson02.self_check().items) == len(lesson02.QUESTIONS)


def test_dashboard_presets_in_the_lesson_are_valid():
    for settings in ({}, {"budget": True}, {"budget": True, "no_retry": True}):
        RetryStormDashboard(**settings)
    for settings in ({}, {"policy": "none"}, {"rate": 140}, {"load_after": 0.5}, {"policy": "budget_10"},
                     {"outage_kind": "refuse"}, {"drop_expired": True}):
        d = MetastableDashboard(**settings)
        assert settings.items() <= d.params.items()
