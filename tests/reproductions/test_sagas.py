"""Reproduction: a saga ends completed or fully compensated, and the checkers catch the ways it can't.

Source: H. Garcia-Molina and K. Salem, "Sagas", *Proceedings of ACM SIGMOD*
1987, 249–259: a saga T1..Tn either runs all of its transactions, or runs
T1..Tj followed by the compensations Cj..C1 (COURSE.md, Consistency).

The scenario (:mod:`course.models.saga`): orders run reserve stock → charge
payment → ship, each step failing at random with probability 10% (and for
business reasons: stock runs out, cards are declined). 1,000 orders per run,
two seeds, under an orchestrator and as a choreography over a broker: 2,000
sagas per style. Compensations fail transiently with probability 30% per
attempt and are retried up to 20 times, so one gives up with probability
0.3^21 ≈ 1e-11: in effect they always succeed eventually. The checks are
exact (no tolerance): every saga's timeline, the stock history, the money
and the books.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from course.models import saga as model
from course.sim.data.checkers import check_sagas

SAGAS, SEEDS = 1_000, (1, 2)


@lru_cache(maxsize=None)
def run(style, seed, **settings):
    return model.simulate(style, sagas=SAGAS, seed=seed, **settings)


@lru_cache(maxsize=None)
def eventually(style, seed):
    return run(style, seed, step_failure=0.1, compensation_failure=0.3, compensation_retries=20)


@pytest.mark.parametrize("style", model.STYLES)
def test_every_saga_ends_completed_or_fully_compensated_in_reverse(style):
    """Garcia-Molina and Salem 1987: with random step failures and compensations that eventually succeed,
    all 2,000 sagas end completed or compensated (Cj..C1 after T1..Tj), stock never goes negative, money is
    conserved and the books match the completed orders."""
    for seed in SEEDS:
        r = eventually(style, seed)
        assert r.counts["running"] == r.counts["stuck"] == 0
        assert r.counts["completed"] > 300 and r.counts["compensated"] > 200  # both endings are exercised
        assert r.sagas.valid, str(r.sagas)
        assert r.stock.valid and r.money.valid and r.books.valid
        undone_two = [s for s in r.results if s.compensated_steps() == ["charge", "reserve"]]
        assert len(undone_two) > 20  # sagas that failed at the last step, undone in reverse
        retried = sum(1 for s in r.results for e in s.events if e.kind == "compensation" and not e.ok)
        assert retried > 50  # compensations did fail, and were retried


def test_a_compensation_in_the_wrong_order_is_caught():
    """Garcia-Molina and Salem 1987 require Cj..C1; an orchestrator that compensates C1..Cj is caught by
    check_sagas, naming the saga."""
    r = run("orchestration", 1, bug="wrong_order")
    assert not r.sagas
    assert all("not in the reverse" in v.message for v in r.sagas.violations)
    assert len(r.sagas.violations) == len([s for s in r.results if len(s.compensated_steps()) == 2]) > 20


def test_a_skipped_compensation_is_caught():
    """An orchestrator that undoes only the step before the failure leaves reserved stock behind: check_sagas
    names the sagas with steps never undone, and the books are off."""
    r = run("orchestration", 1, bug="skip_compensation")
    assert not r.sagas and not r.books
    assert any("were never undone" in v.message for v in r.sagas.violations)


def test_a_compensation_that_does_nothing_fools_the_timeline_but_not_the_books():
    """A refund that reports success without refunding: every timeline looks right (check_sagas is valid, and
    the money is even conserved, because it stayed with the shop), but customers' balances no longer match
    their completed orders, and check_books says whose."""
    r = run("orchestration", 1, bug="noop_refund")
    assert r.sagas.valid and r.money.valid
    assert not r.books
    assert any("balance:" in v.message for v in r.books.violations)


def test_reserving_without_checking_stock_is_caught_by_the_stock_checker():
    """Overselling: a reserve that does not check what is left drives stock:widget below zero, which
    check_stock_never_negative finds in the history and points to the operation."""
    r = run("orchestration", 1, bug="oversell")
    assert not r.stock
    assert r.stock_after < 0
    assert all(v.op_index is not None for v in r.stock.violations)


@pytest.mark.parametrize("style", model.STYLES)
def test_compensations_that_fail_for_good_end_stuck_and_are_reported(style):
    """Compensations that fail permanently (10% of sagas have broken ones) exhaust their retries: those sagas
    end "stuck", and check_sagas reports each of them by id."""
    r = run(style, 1, permanent_failure=0.1, compensation_failure=0.0, compensation_retries=3)
    stuck = [s for s in r.results if s.status == "stuck"]
    assert r.counts["stuck"] == len(stuck) > 5
    assert all(s.stuck_step in ("reserve", "charge") for s in stuck)
    assert all(sum(1 for e in s.events if e.kind == "compensation" and e.step == s.stuck_step) == 4 for s in stuck)
    assert not r.sagas
    reported = [v.message for v in r.sagas.violations]
    assert len(reported) == len(stuck)
    assert all(any(f"saga {s.saga_id!r} ended 'stuck'" in m for m in reported) for s in stuck)
    assert check_sagas([s for s in r.results if s.status != "stuck"]).valid
