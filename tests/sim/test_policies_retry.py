"""Retry: attempts, non-retryable outcomes, deadline and budget interplay."""

import random

import pytest

from course.sim.clock import ManualClock
from course.sim.outcomes import RETRYABLE, Outcome
from course.sim.policies import Backoff, Retry, RetryBudget

CONST = Backoff("constant", 0.5)


def nd(retry, attempts=1, outcome=Outcome.ERROR, started=0.0, now=0.0, previous=0.0):
    return retry.next_delay(attempts, outcome, started, now, previous, random.Random(0))


@pytest.mark.parametrize("kwargs, word", [
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": 2.5}, "max_attempts"),
    ({"max_attempts": True}, "max_attempts"),
    ({"deadline": 0}, "deadline"),
    ({"deadline": -1.0}, "deadline"),
    ({"retry_on": [99]}, "retry_on"),
    ({"retry_on": Outcome.ERROR}, "retry_on"),
    ({"backoff": "full_jitter"}, "backoff"),
    ({"budget": 0.1}, "budget"),
])
def test_invalid_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Retry(**kwargs)


def test_defaults():
    r = Retry()
    assert r.max_attempts == 3 and r.deadline is None and r.budget is None
    assert r.retry_on == RETRYABLE
    assert (r.backoff.kind, r.backoff.base, r.backoff.cap) == ("full_jitter", 0.1, 10.0)


def test_max_attempts_counts_the_first_call():
    r = Retry(3, CONST)
    assert nd(r, 1) == 0.5
    assert nd(r, 2) == 0.5
    assert nd(r, 3) is None
    assert nd(Retry(1, CONST), 1) is None
    with pytest.raises(ValueError, match="attempts_made"):
        nd(r, 0)


def test_only_retryable_outcomes_are_retried():
    r = Retry(5, CONST)
    for outcome in RETRYABLE:
        assert r.is_retryable(outcome) and nd(r, 1, outcome) == 0.5
    for outcome in (Outcome.OK, Outcome.FATAL, Outcome.BREAKER_OPEN, Outcome.THROTTLED,
                    Outcome.BULKHEAD_FULL):
        assert not r.is_retryable(outcome) and nd(r, 1, outcome) is None
    only_timeouts = Retry(5, CONST, retry_on=[Outcome.TIMEOUT])
    assert nd(only_timeouts, 1, Outcome.ERROR) is None
    assert nd(only_timeouts, 1, Outcome.TIMEOUT) == 0.5


def test_backoff_gets_retry_index_and_previous_delay():
    r = Retry(10, Backoff("exponential", 0.1, 10.0))
    assert [nd(r, a) for a in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    dec = Retry(10, Backoff("decorrelated_jitter", 0.1, 100.0))
    rng = random.Random(4)
    for _ in range(200):
        assert 0.1 <= dec.next_delay(3, Outcome.ERROR, 0, 0, 2.0, rng) <= 6.0


def test_deadline_covers_attempts_and_sleeps():
    r = Retry(10, Backoff("constant", 1.0), deadline=5.0)
    assert nd(r, 1, started=10.0, now=13.9) == 1.0   # 14.9 < 15
    assert nd(r, 1, started=10.0, now=14.0) is None  # would wake exactly at the deadline
    assert nd(r, 1, started=10.0, now=14.5) is None
    assert nd(Retry(10, Backoff("constant", 1.0)), 1, started=0.0, now=1e6) == 1.0


def test_budget_refusal_stops_retries():
    clock = ManualClock()
    budget = RetryBudget(clock, ratio=0.5)
    r = Retry(5, CONST, budget=budget)
    budget.record_request()
    budget.record_request()  # allowance: 1 retry
    assert nd(r, 1) == 0.5
    assert budget.retries == 1
    assert nd(r, 1) is None
    assert budget.retries == 1


def test_budget_is_asked_last():
    clock = ManualClock()
    budget = RetryBudget(clock, ratio=1.0)
    budget.record_request()
    r = Retry(2, CONST, deadline=1.0, budget=budget)
    assert nd(r, 1, Outcome.FATAL) is None   # not retryable
    assert nd(r, 2) is None                  # attempts used up
    assert nd(r, 1, now=0.6) is None         # deadline
    assert budget.retries == 0
    assert nd(r, 1) == 0.5
    assert budget.retries == 1


class CountingBudget:
    def __init__(self, answer):
        self.answer, self.calls = answer, 0

    def try_spend(self):
        self.calls += 1
        return self.answer


def test_any_object_with_try_spend_is_a_budget():
    yes, no = CountingBudget(True), CountingBudget(False)
    assert nd(Retry(3, CONST, budget=yes)) == 0.5 and yes.calls == 1
    assert nd(Retry(3, CONST, budget=no)) is None and no.calls == 1
