"""Lesson 09's checkout model (:mod:`course.models.checkout`) and its design values
(:mod:`course.models.checkout_design`): designs and runs refuse bad input by name, a design's transaction
style forces its edge modes, a run is reproducible from its seed and its bookkeeping adds up, a result's
``problems`` say in words what failed, and each mechanism the lesson teaches (idempotency keys, the outbox,
a blocking first draft, an inventory fallback, a two-phase commit's locks) changes the outcome at one seed.

Long-run (many-seed) numbers are the claims test's job (tests/lessons/test_lesson09_claims.py); every run
here is one scenario at one of seeds 1-3, a few tens of milliseconds each.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest

from course.models import checkout as model
from course.models.checkout import PASS_P99, PASS_SUCCESS, PATIENCE, PRICE, SCENARIOS, ScenarioResult, run_scenario
from course.models.checkout_design import (EDGES, EVENTS, FIRST_DRAFT, GUARDED_CALLS, MODES, PRESETS, STRONG,
                                           TRANSACTIONS, Design, Edge)

STRONG_WITHOUT_KEYS = dataclasses.replace(STRONG, idempotency_keys=False)
STRONG_DUAL_WRITE = dataclasses.replace(STRONG, events="dual_write")
STRONG_TWO_PHASE = dataclasses.replace(STRONG, transaction="2pc")
GUARDED_INVENTORY_FALLBACK = GUARDED_CALLS.with_edge("inventory", fallback=True)
ARRAYS = ("arrivals", "success", "sold_out_mask", "waits")


@functools.lru_cache(maxsize=None)
def result(design: Design, scenario: str, seed: int = 1) -> ScenarioResult:
    """One scenario's run, shared by the tests that look at it (designs are frozen, so hashable)."""
    return run_scenario(design, scenario, seed)


@pytest.fixture(scope="module")
def strong_runs():
    return model.run(STRONG, 1)


def assert_same_result(a: ScenarioResult, b: ScenarioResult) -> None:
    for f in dataclasses.fields(ScenarioResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name in ARRAYS:
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        elif isinstance(x, float) and math.isnan(x):
            assert math.isnan(y), f.name
        else:
            assert x == y, f.name


# -- bad input is refused by name ------------------------------------------------------------------

def test_run_scenario_refuses_an_unknown_scenario_naming_the_valid_ones():
    with pytest.raises(ValueError, match="scenario") as caught:
        run_scenario(Design(), "nope")
    message = str(caught.value)
    assert "'nope'" in message
    for key in SCENARIOS:
        assert repr(key) in message
    with pytest.raises(ValueError, match="scenario"):
        model.run(Design(), scenarios=("broker_chaos", "nope"))


@pytest.mark.parametrize("design", ["x", None, Edge(), PRESETS])
def test_run_scenario_refuses_what_is_not_a_design(design):
    with pytest.raises(ValueError, match="design must be"):
        run_scenario(design, "broker_chaos")


@pytest.mark.parametrize("kwargs, name, options", [
    ({"mode": "rpc"}, "mode", MODES),
    ({"timeout": -1}, "timeout", ()),
    ({"timeout": 0}, "timeout", ()),
    ({"timeout": "1"}, "timeout", ()),
    ({"retries": -1}, "retries", ()),
    ({"retries": 1.5}, "retries", ()),
    ({"retries": True}, "retries", ()),
    ({"breaker": "yes"}, "breaker", ()),
    ({"retry_budget": 1}, "retry_budget", ()),
    ({"fallback": None}, "fallback", ()),
])
def test_edge_refuses_bad_values_by_name(kwargs, name, options):
    with pytest.raises(ValueError) as caught:
        Edge(**kwargs)
    message = str(caught.value)
    assert message.startswith(name + " ")
    assert repr(next(iter(kwargs.values()))) in message
    for option in options:
        assert repr(option) in message


@pytest.mark.parametrize("kwargs, name, options", [
    ({"transaction": "xa"}, "transaction", TRANSACTIONS),
    ({"events": "x"}, "events", EVENTS),
    ({"idempotency_keys": 1}, "idempotency_keys", ()),
    ({"idempotency_keys": "yes"}, "idempotency_keys", ()),
    ({"inventory": "sync"}, "inventory", ()),
    ({"payments": {"mode": "sync"}}, "payments", ()),
])
def test_design_refuses_bad_values_by_name(kwargs, name, options):
    with pytest.raises(ValueError) as caught:
        Design(**kwargs)
    message = str(caught.value)
    assert message.startswith(name + " ")
    for option in options:
        assert repr(option) in message


def test_edge_by_an_unknown_name_is_a_clear_error():
    for call in (lambda: STRONG.edge("x"), lambda: STRONG.with_edge("x", timeout=1.0)):
        with pytest.raises(ValueError, match="edge must be one of") as caught:
            call()
        assert all(repr(name) in str(caught.value) for name in EDGES)
    # A change the edge itself refuses is refused through with_edge too.
    with pytest.raises(ValueError, match="retries"):
        FIRST_DRAFT.with_edge("payments", retries=-1)


# -- the design values -----------------------------------------------------------------------------

def test_presets_are_the_named_designs():
    assert PRESETS == {"first draft": FIRST_DRAFT, "guarded calls": GUARDED_CALLS, "strong": STRONG}
    assert FIRST_DRAFT == Design()
    assert FIRST_DRAFT.inventory == FIRST_DRAFT.payments == Edge("sync")
    assert STRONG.inventory.mode == STRONG.payments.mode == "message"
    assert STRONG.idempotency_keys and STRONG.events == "outbox"
    # Frozen and hashable: the dashboard memoises runs by design.
    assert hash(Design()) == hash(FIRST_DRAFT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        STRONG.events = "dual_write"


def test_edge_is_sync_follows_the_mode():
    assert Edge("sync").is_sync and not Edge("message").is_sync
    assert STRONG.edge("payments") is STRONG.payments and GUARDED_CALLS.edge("inventory") is GUARDED_CALLS.inventory


def test_effective_lets_the_transaction_style_decide_the_modes():
    mixed = Design(inventory=Edge("sync", timeout=0.5, retries=2), payments=Edge("message"),
                   idempotency_keys=True, events="outbox")
    assert mixed.effective is mixed  # orchestration: the learner's modes stand

    choreo = dataclasses.replace(mixed, transaction="choreography").effective
    assert choreo.inventory.mode == choreo.payments.mode == "message"
    assert choreo.inventory == Edge("message", timeout=0.5, retries=2)  # only the mode is forced
    assert (choreo.transaction, choreo.idempotency_keys, choreo.events) == ("choreography", True, "outbox")

    two_pc = dataclasses.replace(mixed, transaction="2pc").effective
    assert two_pc.inventory.mode == two_pc.payments.mode == "sync"
    assert two_pc.inventory == mixed.inventory
    assert two_pc.effective == two_pc


def test_with_edge_changes_only_that_edge():
    changed = GUARDED_CALLS.with_edge("payments", timeout=5.0, fallback=False)
    assert changed.payments == dataclasses.replace(GUARDED_CALLS.payments, timeout=5.0, fallback=False)
    assert changed.inventory == GUARDED_CALLS.inventory
    assert (changed.idempotency_keys, changed.transaction, changed.events) == (True, "orchestration", "outbox")
    assert GUARDED_CALLS.payments.timeout == 2.0 and GUARDED_CALLS.payments.fallback  # the original is untouched
    assert FIRST_DRAFT.with_edge("inventory", mode="message").inventory.is_sync is False


def test_a_run_uses_the_effective_design():
    # A choreographed design runs as all-messages and a 2PC one as all-calls, whatever modes the edges name.
    written_sync = Design(idempotency_keys=True, transaction="choreography", events="outbox")
    written_message = dataclasses.replace(written_sync, inventory=Edge("message"), payments=Edge("message"))
    assert_same_result(result(written_sync, "broker_chaos"), result(written_message, "broker_chaos"))
    assert_same_result(run_scenario(dataclasses.replace(STRONG, transaction="2pc"), "crash_after_write"),
                       result(STRONG_TWO_PHASE.with_edge("inventory", mode="sync"), "crash_after_write"))


# -- runs: reproducible, and the bookkeeping adds up ---------------------------------------------------

def test_same_seed_same_result_and_another_seed_differs():
    first = result(GUARDED_INVENTORY_FALLBACK, "inventory_down", 2)
    again = run_scenario(GUARDED_INVENTORY_FALLBACK, "inventory_down", 2)
    assert again is not first
    assert_same_result(first, again)
    other = result(GUARDED_INVENTORY_FALLBACK, "inventory_down", 3)
    assert (other.checkouts != first.checkouts
            or not np.array_equal(other.arrivals, first.arrivals))


def test_run_is_every_scenario_in_the_interviewers_order(strong_runs):
    assert list(strong_runs) == list(SCENARIOS)
    assert all(r.scenario == key for key, r in strong_runs.items())
    assert_same_result(strong_runs["broker_chaos"], run_scenario(STRONG, "broker_chaos", 1))
    some = model.run(STRONG, 1, scenarios=("crash_after_write",))
    assert list(some) == ["crash_after_write"]
    assert_same_result(some["crash_after_write"], strong_runs["crash_after_write"])


BOOKKEEPING_CASES = [(STRONG, key) for key in SCENARIOS] + [
    (FIRST_DRAFT, "inventory_down"), (FIRST_DRAFT, "payments_slow"), (FIRST_DRAFT, "crash_after_write"),
    (GUARDED_INVENTORY_FALLBACK, "inventory_down"), (STRONG_WITHOUT_KEYS, "broker_chaos"),
    (STRONG_TWO_PHASE, "crash_after_write")]


@pytest.mark.parametrize("design, key", BOOKKEEPING_CASES,
                         ids=[f"{next((n for n, d in PRESETS.items() if d == design), 'variant')}-{key}"
                              for design, key in BOOKKEEPING_CASES])
def test_bookkeeping_adds_up(design, key):
    r = result(design, key)
    scenario = SCENARIOS[key]
    assert r.scenario == key and r.checkouts > 0
    for name in ARRAYS:
        assert len(getattr(r, name)) == r.checkouts, name
    assert np.all(np.diff(r.arrivals) >= 0)
    assert r.arrivals.min() >= 0 and r.arrivals.max() <= scenario.arrivals_until
    assert r.sold_out == int(r.sold_out_mask.sum())
    assert r.succeeded == int(r.success.sum())
    assert not np.any(r.success & r.sold_out_mask)  # a refused checkout never counts as a success
    assert r.success_rate == pytest.approx(r.succeeded / (r.checkouts - r.sold_out))
    assert np.all((r.waits >= 0) & (r.waits <= PATIENCE))
    assert np.all(r.waits[r.success] < PATIENCE)  # a shopper who gave up did not see "order placed"
    assert r.p99 == pytest.approx(np.percentile(r.waits, 99))
    # Each order ends in one state: succeeded, refused, compensated or stuck are disjoint.
    assert r.succeeded + r.sold_out + r.compensated + r.stuck <= r.checkouts
    assert min(r.stuck, r.compensated, r.double_charged, r.oversold) >= 0
    assert r.money_gap == int(r.money_gap) and r.money_gap % PRICE == 0
    if r.succeeded:  # a success is a completed order, so the time to shipping is measured
        assert r.p99_to_ship >= 0
    # passed iff nothing is wrong, and each thing wrong is named.
    assert r.passed == (not r.problems)
    text = "; ".join(r.problems)
    assert ("succeeded" in text) == (r.success_rate < PASS_SUCCESS)
    assert ("p99 wait" in text) == (r.p99 > PASS_P99)
    assert ("charged twice" in text) == (r.double_charged > 0)
    assert ("oversold" in text) == (r.oversold > 0)
    assert ("stuck" in text) == (r.stuck > 0)
    assert ("money not conserved" in text) == (r.money_gap != 0)


# -- problems, in words ------------------------------------------------------------------------------

def hand_built(**changes) -> ScenarioResult:
    good = dict(scenario="payments_slow", checkouts=100, sold_out=0, succeeded=100, success_rate=1.0, p99=0.5,
                stuck=0, compensated=0, double_charged=0, oversold=0, money_gap=0.0)
    return ScenarioResult(**{**good, **changes})


def test_problems_say_what_failed_in_words():
    r = hand_built(succeeded=90, success_rate=0.9, p99=7.3, stuck=3, compensated=4, double_charged=2, oversold=5,
                   money_gap=-20.0)
    assert r.problems == ["only 90% of checkouts succeeded", "p99 wait 7.3 s", "2 orders charged twice",
                          "5 widgets oversold", "3 orders stuck", "money not conserved (-20)"]
    assert not r.passed


def test_problems_use_the_singular_for_one_and_sign_the_money_gap():
    r = hand_built(stuck=1, double_charged=1, oversold=1, money_gap=1234.0)
    assert r.problems == ["1 order charged twice", "1 widget oversold", "1 order stuck",
                          "money not conserved (+1,234)"]


def test_a_result_at_the_bar_passes_and_compensations_are_not_a_problem():
    assert hand_built().problems == [] and hand_built().passed
    at_bar = hand_built(succeeded=95, success_rate=PASS_SUCCESS, p99=PASS_P99, compensated=7)
    assert at_bar.problems == [] and at_bar.passed
    just_below = hand_built(success_rate=PASS_SUCCESS - 0.001)
    assert just_below.problems == ["only 95% of checkouts succeeded"]
    assert hand_built(p99=PASS_P99 + 0.01).problems == [f"p99 wait {PASS_P99 + 0.01:.1f} s"]


# -- the mechanisms, one seed each ---------------------------------------------------------------------

def test_strong_passes_every_scenario_at_seed_1(strong_runs):
    failed = {key: r.problems for key, r in strong_runs.items() if not r.passed}
    assert failed == {}
    for r in strong_runs.values():
        assert r.success_rate >= PASS_SUCCESS and r.p99 <= PASS_P99
        assert r.money_gap == 0 and r.double_charged == r.oversold == r.stuck == 0
    # Inventory-down has 150 widgets: strong sells exactly those and refuses the rest as sold out.
    down = strong_runs["inventory_down"]
    assert down.succeeded == SCENARIOS["inventory_down"].stock
    assert down.sold_out == down.checkouts - down.succeeded > 0


def test_without_keys_a_duplicated_command_charges_twice():
    without = result(STRONG_WITHOUT_KEYS, "broker_chaos")
    with_keys = result(STRONG, "broker_chaos")
    assert without.double_charged > 0
    assert without.money_gap < 0  # shoppers paid for goods they did not get
    assert any("charged twice" in p for p in without.problems)
    assert with_keys.double_charged == 0 and with_keys.money_gap == 0 and with_keys.passed
    assert without.checkouts == with_keys.checkouts  # same shoppers: only the keys differ


def test_a_dual_write_loses_events_in_a_crash_and_the_outbox_does_not():
    dual = result(STRONG_DUAL_WRITE, "crash_after_write")
    outbox = result(STRONG, "crash_after_write")
    assert dual.stuck > 0
    # Each lost event is an order paid for and never shipped: the shoppers are out exactly its price.
    assert dual.money_gap == -PRICE * dual.stuck
    assert dual.succeeded == dual.checkouts - dual.stuck
    assert not dual.passed
    assert outbox.stuck == 0 and outbox.money_gap == 0 and outbox.succeeded == outbox.checkouts


def test_the_first_draft_blocks_while_inventory_hangs():
    r = result(FIRST_DRAFT, "inventory_down")
    assert r.p99 == PATIENCE
    assert r.success_rate < PASS_SUCCESS / 2
    assert r.stuck > 0  # unguarded calls into a hung service never come back
    early = r.arrivals < SCENARIOS["inventory_down"].window[0]
    assert r.success[early].mean() > 0.9  # before the outage it worked


def test_an_inventory_fallback_oversells_when_inventory_is_down():
    with_fallback = result(GUARDED_INVENTORY_FALLBACK, "inventory_down")
    without = result(GUARDED_CALLS, "inventory_down")
    assert with_fallback.oversold > 0
    assert any("oversold" in p for p in with_fallback.problems)
    assert without.oversold == 0
    assert without.success_rate < with_fallback.success_rate  # the fallback was bought with the oversell


def test_two_phase_commit_blocks_on_a_crashed_coordinator():
    two_pc = result(STRONG_TWO_PHASE, "crash_after_write")
    saga = result(STRONG, "crash_after_write")
    assert two_pc.checkouts == saga.checkouts
    assert two_pc.succeeded < two_pc.checkouts - two_pc.sold_out
    assert two_pc.success_rate < PASS_SUCCESS and two_pc.p99 == PATIENCE
    assert two_pc.stuck == 0 and two_pc.money_gap == 0  # locked, not lost: the outbox still ships what commits
    assert saga.passed
