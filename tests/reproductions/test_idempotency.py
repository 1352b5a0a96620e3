"""Reproduction: at-least-once delivery needs idempotent consumers.

Source: COURSE.md's Consistency section: the outbox "makes delivery at least
once, so consumers record the IDs of messages they have processed, in the
same transaction as the work"; the idempotent-consumer pattern (Chris
Richardson, <https://microservices.io/patterns/communication-style/idempotent-consumer.html>).

The scenario (:mod:`course.models.delivery`): 20 transfers (40 debit and
credit messages) between four accounts over a broker that duplicates a
message with probability 2% and whose consumer crashes with probability 1%
at each crash point (redelivery follows). 1,000 seeded runs per consumer.

A run of the naive consumer double-applies if any of its 40 messages is
duplicated or crashes after its work: 1 - (0.98·0.99)^40 ≈ 0.70 of runs
(duplicates and crashes can overlap a little, so slightly less). The test
asks for 0.70 ± 0.06 (about 4 standard errors of a share over 1,000 runs).
Money is conserved in a naive run only if no message was doubled, or if
doubled debits and credits happen to cancel.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from course.models import delivery as model

RUNS = 1_000
SETTINGS = dict(transfers=20, duplicate_probability=0.02, crash_probability=0.01, delay_mean=0.05, seed=1)


@lru_cache(maxsize=None)
def totals(consumer):
    return model.run_many(consumer, runs=RUNS, **SETTINGS)


def test_the_naive_consumer_double_applies_in_about_70_percent_of_runs():
    """Idempotent consumer (COURSE.md; Richardson): with 2% duplicates and 1% consumer crashes, a naive
    consumer applies some payment twice in 0.70 ± 0.06 of 1,000 runs of 40 messages, and the money is
    wrong in nearly all of those."""
    naive = totals("naive")
    expected = 1 - (0.98 * 0.99) ** 40
    assert naive.double_apply_share == pytest.approx(expected, abs=0.06)
    assert naive.runs_money_not_conserved >= 0.9 * naive.runs_with_double_apply
    # balances go wrong only through a double application (doubled legs can cancel, rarely)
    assert 0.95 * naive.runs_with_double_apply <= naive.runs_balances_wrong <= naive.runs_with_double_apply


def test_the_idempotent_consumer_never_double_applies_and_conserves_money():
    """Idempotent consumer (COURSE.md): recording processed ids in the same transaction as the work means no
    payment is applied twice in any of 1,000 runs, every balance ends exact and money is conserved, under
    the very same duplicates and redeliveries."""
    idem, naive = totals("idempotent"), totals("naive")
    assert idem.duplicates == naive.duplicates > 500          # the same broker draws: the duplicates were there
    assert idem.redeliveries > 0
    assert idem.runs_with_double_apply == idem.double_applied == 0
    assert idem.runs_money_not_conserved == idem.runs_balances_wrong == 0


def test_out_of_order_status_updates_need_versions():
    """Duplicate and out-of-order messages (COURSE.md lesson 05): when an order's three status updates travel
    1 ms apart over a broker with a 50 ms mean delay, last-arrival-wins leaves many orders in the wrong
    final status; keeping a status only if its version is newer leaves none."""
    r = model.simulate("idempotent", orders=200, seed=1, **{k: v for k, v in SETTINGS.items() if k != "seed"})
    assert r.status_out_of_order > 50
    assert r.wrong_status_last_wins > 50
    assert r.wrong_status_versioned == 0
