"""Every number lesson 09 (``course/09_mock_interview.ipynb``) states, checked against its model.

Each test quotes the claim it checks, in the lesson's words. A number from
the simulation is checked as its long-run value: theory where the model has
one (the share of traffic outside an outage, a crash or duplicate
probability), else the mean over :data:`SEEDS` runs within about three
standard errors (stated at each check). One scenario run takes 5 to 60 ms,
so the whole file costs a few seconds.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from course.dashboards.checkout import CheckoutDashboard
from course.lessons import lesson09
from course.models import checkout as model
from course.models.checkout_design import FIRST_DRAFT, GUARDED_CALLS, STRONG
from tests.lessons import claims_helpers
from tests.lessons.dashboard_helpers import lesson_settings, without_drawing

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "09_mock_interview.ipynb"
#: Seeds for the long-run means (the dashboard's seed slider goes to 20).
SEEDS = range(1, 21)

FIRST_WITH_PAYMENTS_TIMEOUT = FIRST_DRAFT.with_edge("payments", timeout=2.0)
GUARDED_INVENTORY_FALLBACK = GUARDED_CALLS.with_edge("inventory", fallback=True)
GUARDED_WITHOUT_KEYS = replace(GUARDED_CALLS, idempotency_keys=False)
GUARDED_BARE_PAYMENTS = GUARDED_CALLS.with_edge("payments", retry_budget=False, breaker=False, fallback=False)
STRONG_WITHOUT_KEYS = replace(STRONG, idempotency_keys=False)
CHOREOGRAPHY_WITHOUT_KEYS = replace(STRONG_WITHOUT_KEYS, transaction="choreography")
STRONG_DUAL_WRITE = replace(STRONG, events="dual_write")
TWO_PHASE = replace(FIRST_DRAFT, transaction="2pc")


@functools.lru_cache(maxsize=None)
def runs(design, scenario: str, seeds=SEEDS) -> tuple:
    return tuple(model.run_scenario(design, scenario, seed) for seed in seeds)


def mean(values) -> tuple[float, float]:
    """The mean and its standard error."""
    values = list(values)
    return statistics.mean(values), statistics.stdev(values) / len(values) ** 0.5


def share(result, field: str) -> float:
    """A count as a share of the checkouts that were not refused as sold out."""
    return getattr(result, field) / (result.checkouts - result.sold_out)


def long_run(design, scenario: str, field: str, seeds=SEEDS) -> tuple[float, float]:
    rs = runs(design, scenario, seeds)
    if field in ("stuck", "compensated", "double_charged"):
        return mean(share(r, field) for r in rs)
    return mean(getattr(r, field) for r in rs)


def assert_near(design, scenario, field, expected, tolerance, seeds=SEEDS):
    value, se = long_run(design, scenario, field, seeds)
    assert abs(value - expected) <= tolerance, (f"{scenario} {field}: {value:.4f} ± {se:.4f} (SE) over "
                                                f"{len(seeds)} seeds, the lesson says {expected} ± {tolerance}")


def says(*phrases):
    claims_helpers.says(NOTEBOOK, *phrases)


def success_after(results, start: float, end: float) -> float:
    """The share of counted checkouts that arrived in [start, end) and succeeded, pooled over runs."""
    ok = total = 0
    for r in results:
        mask = (r.arrivals >= start) & (r.arrivals < end) & ~r.sold_out_mask
        ok += int(np.sum(r.success[mask]))
        total += int(np.sum(mask))
    return ok / total


# -- the model as Part 2 describes it -------------------------------------------------------------------

def test_the_shop_is_as_described():
    says("about **30 checkouts a minute**", "**8 threads**", "(8 workers, typically 20 ms each)",
         "one charge at a time, typically in 0.7 s and 2 s at the 99th percentile", "at most **30 s**",
         "at least 95% of checkouts succeed", "at most 5 s")
    assert model.RATE * 60 == 30 and model.ORDERS_WORKERS == 8 and model.INVENTORY_WORKERS == 8
    assert model.PAYMENTS_WORKERS == 1 and model.PATIENCE == 30
    assert model.INVENTORY_LATENCY.quantile(0.5) == pytest.approx(0.02)  # "typically": the median
    assert model.PAYMENTS_LATENCY.quantile(0.5) == pytest.approx(0.7)
    assert model.PAYMENTS_LATENCY.quantile(0.99) == pytest.approx(2.0)
    assert model.PASS_SUCCESS == 0.95 and model.PASS_P99 == 5.0


def test_the_lessons_dashboards_take_their_settings():
    settings = lesson_settings("checkout")
    assert {"preset": "strong", "timeline": "broker_chaos"} in settings
    with without_drawing():
        for setting in settings:
            CheckoutDashboard(**setting)  # an unknown control or preset raises


# -- the prediction and experiment 1: the first draft ---------------------------------------------------

def test_first_draft_under_slow_payments():
    says("only about **20%** of checkouts succeed, and the p99 wait is the full 30 s")
    # 30 runs-worth of checkouts: 0.193 ± 0.008 (SE) over 20 seeds; the prediction's answer is option 2.
    assert_near(FIRST_DRAFT, "payments_slow", "success_rate", 0.20, 0.025)
    assert lesson09.OPTIONS[2].startswith("About 20%")
    assert all(r.p99 == model.PATIENCE for r in runs(FIRST_DRAFT, "payments_slow"))


def test_first_draft_stays_broken_after_payments_recovers():
    says("stays broken *after* payments recovers")
    end = model.SCENARIOS["payments_slow"].window[1]
    assert success_after(runs(FIRST_DRAFT, "payments_slow"), end, end + 120) < 0.2


def test_first_draft_under_the_inventory_hang():
    says("about **12.5%** succeed, which is the share of traffic before the hang (one minute of eight)",
         "checkout doesn't come back when inventory does")
    scenario = model.SCENARIOS["inventory_down"]
    theory = scenario.window[0] / scenario.arrivals_until
    assert theory == 0.125
    assert_near(FIRST_DRAFT, "inventory_down", "success_rate", theory, 0.02)
    assert success_after(runs(FIRST_DRAFT, "inventory_down"), scenario.window[1], scenario.arrivals_until) == 0


def test_first_draft_under_the_crash():
    says("about **5%** of orders are paid and never shipped, one per crash")
    assert_near(FIRST_DRAFT, "crash_after_write", "stuck", model.SCENARIOS["crash_after_write"].crash_probability,
                0.02)
    assert all(r.money_gap == -model.PRICE * r.stuck for r in runs(FIRST_DRAFT, "crash_after_write"))


def test_first_draft_under_the_spike():
    says("nearly everyone gets through, but the p99 wait is about **22 s**")
    assert long_run(FIRST_DRAFT, "traffic_spike", "success_rate")[0] > 0.9
    assert_near(FIRST_DRAFT, "traffic_spike", "p99", 22.0, 5.0)  # SE about 1.6 s


def test_first_draft_fails_four_and_the_broker_finds_nothing_to_break():
    says("It fails four of the five scenarios", "The broker scenario has nothing to break: this design sends no "
         "messages")
    for key in model.SCENARIOS:
        if key != "broker_chaos":
            assert not any(r.passed for r in runs(FIRST_DRAFT, key)), key
    for r in runs(FIRST_DRAFT, "broker_chaos"):
        # Now and then its p99 wait creeps just over the bar: the payment queue, not the broker.
        assert r.success_rate == 1.0 and not (r.double_charged or r.stuck or r.oversold or r.money_gap)


# -- experiment 2: a timeout alone ----------------------------------------------------------------------

def test_a_timeout_alone():
    says("Shoppers get an answer within about 2 s now, but only about **13%** of checkouts succeed. About **87%**",
         "The money gap runs into the thousands")
    assert_near(FIRST_WITH_PAYMENTS_TIMEOUT, "payments_slow", "p99", 2.1, 0.1)
    assert_near(FIRST_WITH_PAYMENTS_TIMEOUT, "payments_slow", "success_rate", 0.13, 0.025)  # SE 0.007
    assert_near(FIRST_WITH_PAYMENTS_TIMEOUT, "payments_slow", "compensated", 0.87, 0.025)
    assert long_run(FIRST_WITH_PAYMENTS_TIMEOUT, "payments_slow", "money_gap")[0] < -1000


# -- experiment 3: guarded calls ------------------------------------------------------------------------

def test_guarded_calls_pass_slow_payments():
    says("**100%** succeed with a p99 wait of about **4.1 s**")
    assert all(r.passed and r.success_rate == 1.0 for r in runs(GUARDED_CALLS, "payments_slow"))
    assert_near(GUARDED_CALLS, "payments_slow", "p99", 4.1, 0.1)


def test_guarded_calls_contain_the_inventory_outage():
    says("about **37.5%** succeed, which is every checkout outside the five-minute hang (1 − 5/8)",
         "checkout recovers the moment inventory does")
    scenario = model.SCENARIOS["inventory_down"]
    start, end = scenario.window
    theory = 1 - (end - start) / scenario.arrivals_until
    assert theory == 0.375
    assert_near(GUARDED_CALLS, "inventory_down", "success_rate", theory, 0.03)  # SE about 0.01
    assert success_after(runs(GUARDED_CALLS, "inventory_down"), end + 5, scenario.arrivals_until) > 0.98


def test_the_inventory_fallback_oversells():
    says("Now **100%** succeed, and about **35** widgets are oversold")
    assert all(r.success_rate == 1.0 for r in runs(GUARDED_INVENTORY_FALLBACK, "inventory_down"))
    assert_near(GUARDED_INVENTORY_FALLBACK, "inventory_down", "oversold", 35, 10)  # SE about 4


def test_without_keys_a_quarter_are_charged_twice():
    says("About **26%** of orders are charged twice")
    assert_near(GUARDED_WITHOUT_KEYS, "payments_slow", "double_charged", 0.26, 0.02)  # SE 0.005
    assert all(r.double_charged == 0 for r in runs(GUARDED_CALLS, "payments_slow"))


def test_retries_without_budget_or_breaker_storm_under_the_spike():
    says("only about **9%** succeed")
    assert_near(GUARDED_BARE_PAYMENTS, "traffic_spike", "success_rate", 0.09, 0.025)  # SE 0.006


# -- experiment 4: the strong design --------------------------------------------------------------------

def test_the_strong_design_passes_everything_in_every_seed():
    says("It passes all five scenarios, in every seed. The p99 wait is about **50 ms**")
    for key in model.SCENARIOS:
        assert all(r.passed for r in runs(STRONG, key)), key
        assert_near(STRONG, key, "p99", 0.05, 0.01)  # 44 to 48 ms on average, SE about 1 ms


def test_the_strong_design_ships_minutes_later():
    says("about **7 minutes** (about 6 under the inventory outage)")
    assert_near(STRONG, "payments_slow", "p99_to_ship", 7 * 60, 30)  # SE about 6 s
    assert_near(STRONG, "inventory_down", "p99_to_ship", 6 * 60, 30)


def test_duplicates_without_keys():
    says("about **20%** of orders are charged twice, which is the broker's duplicate rate", "about **44%**")
    duplicates = model.SCENARIOS["broker_chaos"].duplicate_probability
    assert duplicates == 0.2
    assert_near(STRONG_WITHOUT_KEYS, "broker_chaos", "double_charged", duplicates, 0.03)  # SE 0.01
    assert_near(CHOREOGRAPHY_WITHOUT_KEYS, "broker_chaos", "double_charged", 0.44, 0.045)  # SE 0.015


def test_the_outbox_is_what_saves_the_crash():
    says("about **5%** of orders are stuck again")
    assert_near(STRONG_DUAL_WRITE, "crash_after_write", "stuck",
                model.SCENARIOS["crash_after_write"].crash_probability, 0.02)


# -- experiment 5: two-phase commit ---------------------------------------------------------------------

def test_two_phase_commit_under_the_crash():
    says("On average only about **half** of checkouts succeed in this scenario, and one run can be anything "
         "from none to nearly all")
    seeds = range(1, 81)  # a wide spread (SE 0.03 over 80 seeds): a crash that lands early blocks most orders
    assert_near(TWO_PHASE, "crash_after_write", "success_rate", 0.5, 0.1, seeds)
    rates = [r.success_rate for r in runs(TWO_PHASE, "crash_after_write", seeds)]
    assert min(rates) < 0.1 and max(rates) > 0.85


def test_two_phase_commit_under_slow_payments():
    says("Under slow payments 2PC is no better than the first draft (about **18%**)")
    assert_near(TWO_PHASE, "payments_slow", "success_rate", 0.18, 0.025)  # SE 0.008
    assert long_run(TWO_PHASE, "payments_slow", "success_rate")[0] <= \
        long_run(FIRST_DRAFT, "payments_slow", "success_rate")[0] + 0.01


# -- section 4 and the self-check -----------------------------------------------------------------------

def test_the_retry_budget_is_the_sre_books_ten_percent():
    says("the SRE book's 10% per client", "SQS, for example, makes a message visible again 30 s after delivery")
    import inspect
    assert "ratio=0.1" in inspect.getsource(model._Checkout._client)
    assert model.ACK_DEADLINE == 30


def test_the_self_checks_numbers():
    q1, q2, q3, q4 = (q.explain for q in lesson09.QUESTIONS)
    assert "about a quarter of the orders" in q1
    assert_near(GUARDED_WITHOUT_KEYS, "payments_slow", "double_charged", 0.25, 0.03)
    assert "87% of checkouts never got an answer" in q2
    assert_near(FIRST_DRAFT, "inventory_down", "stuck", 0.875, 0.02)
    assert "about 5% of orders" in q3
    assert "about seven minutes" in q4
    assert_near(STRONG, "payments_slow", "p99_to_ship", 7 * 60, 30)
