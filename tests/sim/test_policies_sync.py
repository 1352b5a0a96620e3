"""The synchronous Pipeline, on a ManualClock (and once on real time)."""

import random
import time

import pytest

from course.sim.clock import ManualClock, MonotonicClock
from course.sim.outcomes import Outcome
from course.sim.policies import (AdaptiveThrottle, Backoff, BreakerOpen, Bulkhead, BulkheadFull, CallRejected,
                                 CircuitBreaker, Fallback, Hedge, Pipeline, Retry, RetryBudget,
                                 Throttled, Timeout, outcome_of)
from course.sim.policies.breaker import CLOSED, HALF_OPEN, OPEN


class Service:
    """A fake dependency: each call takes the next (seconds, result) from a script.

    ``result`` is returned, or raised if it is an exception. The clock moves by
    ``seconds`` during the call.
    """

    def __init__(self, clock, *script):
        self.clock, self.script, self.calls = clock, list(script), 0

    def __call__(self, *args, **kwargs):
        seconds, result = self.script[self.calls]
        self.calls += 1
        self.clock.advance(seconds)
        if isinstance(result, BaseException):
            raise result
        return result


def constant(seconds):
    return Backoff("constant", seconds)


def test_outcome_of():
    assert outcome_of(TimeoutError()) == Outcome.TIMEOUT
    assert outcome_of(ConnectionError()) == Outcome.ERROR
    assert outcome_of(ConnectionResetError()) == Outcome.ERROR
    assert outcome_of(CallRejected()) == Outcome.REJECTED
    assert outcome_of(CallRejected("shed", outcome=Outcome.REJECTED)) == Outcome.REJECTED
    assert outcome_of(BreakerOpen()) == Outcome.BREAKER_OPEN
    assert outcome_of(BulkheadFull()) == Outcome.BULKHEAD_FULL
    assert outcome_of(Throttled()) == Outcome.THROTTLED
    for exc in (ValueError(), KeyError(), TypeError()):
        assert outcome_of(exc) == Outcome.FATAL


def test_rejects_hedge_and_strangers():
    with pytest.raises(ValueError, match="concurrent"):
        Pipeline(Retry(), Hedge(0.1))
    with pytest.raises(ValueError, match="policies"):
        Pipeline(Retry(), "retry")


def test_no_policies_passes_arguments_through():
    seen = []

    def fn(*args, **kwargs):
        seen.append((args, kwargs))
        return 42

    assert Pipeline().call(fn, 1, 2, clock=ManualClock(), key="v") == 42
    assert seen == [((1, 2), {"key": "v"})]


def test_retry_until_success_sleeping_on_the_clock():
    clock = ManualClock()
    svc = Service(clock, (0.1, ConnectionError("a")), (0.1, TimeoutError("b")), (0.1, "ok"))
    assert Pipeline(Retry(3, constant(0.5))).call(svc, clock=clock) == "ok"
    assert svc.calls == 3
    assert clock.now() == pytest.approx(0.3 + 2 * 0.5)


def test_retries_exhausted_raise_the_last_exception():
    clock = ManualClock()
    svc = Service(clock, *[(0.1, ConnectionError(str(i))) for i in range(5)])
    with pytest.raises(ConnectionError, match="2"):
        Pipeline(Retry(3, constant(0.5))).call(svc, clock=clock)
    assert svc.calls == 3


def test_fatal_is_never_retried_nor_swallowed():
    clock = ManualClock()
    svc = Service(clock, (0.1, KeyError("bug")), (0.1, "ok"))
    pipeline = Pipeline(Fallback("fallback"), Retry(5, constant(0.5)))
    with pytest.raises(KeyError):
        pipeline.call(svc, clock=clock)
    assert svc.calls == 1 and clock.now() == pytest.approx(0.1)


def test_fallback_after_retries():
    clock = ManualClock()
    svc = Service(clock, *[(0.1, ConnectionError())] * 3)
    assert Pipeline(Fallback("cached"), Retry(3, constant(0.5))).call(svc, clock=clock) == "cached"
    assert svc.calls == 3


def test_fallback_only_for_its_outcomes():
    clock = ManualClock()
    svc = Service(clock, (0.1, ConnectionError()))
    with pytest.raises(ConnectionError):
        Pipeline(Fallback("x", handles=[Outcome.TIMEOUT])).call(svc, clock=clock)
    svc = Service(clock, (0.1, TimeoutError()))
    with pytest.raises(TimeoutError):  # handled outcome, but not one of its exception types
        Pipeline(Fallback("x", exceptions=[ConnectionError])).call(svc, clock=clock)


def test_fallback_value_may_be_callable():
    clock = ManualClock()
    svc = Service(clock, (0.1, ConnectionError()))
    assert Pipeline(Fallback(lambda: ["fresh"])).call(svc, clock=clock) == ["fresh"]


def test_timeout_discards_a_late_answer():
    clock = ManualClock()
    svc = Service(clock, (2.0, "late"), (1.0, "just in time"))
    pipeline = Pipeline(Timeout(1.0))
    with pytest.raises(TimeoutError):
        pipeline.call(svc, clock=clock)
    assert pipeline.call(svc, clock=clock) == "just in time"


def test_late_error_is_a_timeout_but_late_bug_is_not():
    clock = ManualClock()
    svc = Service(clock, (2.0, ConnectionError()), (2.0, ValueError()))
    pipeline = Pipeline(Timeout(1.0))
    with pytest.raises(TimeoutError):
        pipeline.call(svc, clock=clock)
    with pytest.raises(ValueError):
        pipeline.call(svc, clock=clock)


def test_timeout_then_retry():
    clock = ManualClock()
    svc = Service(clock, (5.0, "too slow"), (0.2, "ok"))
    assert Pipeline(Retry(2, constant(0.1)), Timeout(1.0)).call(svc, clock=clock) == "ok"
    assert svc.calls == 2


def test_retry_deadline_is_passed_down_to_the_timeout():
    clock = ManualClock()
    svc = Service(clock, (1.0, ConnectionError()), (2.0, "late"), (0.1, "never asked"))
    pipeline = Pipeline(Retry(5, constant(0.5), deadline=3.0), Timeout(10.0))
    with pytest.raises(TimeoutError):  # second attempt: 1.5 -> 3.5, past the 3.0 deadline
        pipeline.call(svc, clock=clock)
    assert svc.calls == 2


def test_passed_outer_deadline_stops_inner_work():
    clock = ManualClock()
    svc = Service(clock, (0.5, ConnectionError()), (0.1, "never asked"))
    pipeline = Pipeline(Timeout(1.0), Retry(5, constant(0.6)), Timeout(5.0))
    with pytest.raises(TimeoutError):
        pipeline.call(svc, clock=clock)
    assert svc.calls == 1
    assert clock.now() == pytest.approx(1.1)


def test_budget_counts_requests_not_attempts():
    clock = ManualClock()
    budget = RetryBudget(clock, ratio=1.0)
    svc = Service(clock, (0.1, ConnectionError()), (0.1, "ok"), (0.1, "ok"))
    pipeline = Pipeline(Retry(3, constant(0.1), budget=budget))
    assert pipeline.call(svc, clock=clock) == "ok"
    assert pipeline.call(svc, clock=clock) == "ok"
    assert svc.calls == 3
    assert (budget.requests, budget.retries) == (2, 1)


def test_budget_refusal_raises():
    clock = ManualClock()
    budget = RetryBudget(clock, ratio=0.0)
    svc = Service(clock, (0.1, ConnectionError("no budget")), (0.1, "ok"))
    with pytest.raises(ConnectionError, match="no budget"):
        Pipeline(Retry(3, constant(0.1), budget=budget)).call(svc, clock=clock)
    assert svc.calls == 1


def test_breaker_opens_rejects_and_recovers():
    clock = ManualClock()
    breaker = CircuitBreaker(clock, window_size=2, minimum_calls=2, open_wait=10.0, half_open_calls=1)
    pipeline = Pipeline(breaker)
    svc = Service(clock, (0.1, ConnectionError()), (0.1, TimeoutError()), (0.1, "ok"))
    for exc in (ConnectionError, TimeoutError):
        with pytest.raises(exc):
            pipeline.call(svc, clock=clock)
    assert breaker.state == OPEN
    with pytest.raises(BreakerOpen) as err:
        pipeline.call(svc, clock=clock)
    assert err.value.outcome == Outcome.BREAKER_OPEN and svc.calls == 2
    clock.advance(10.0)
    assert pipeline.call(svc, clock=clock) == "ok"
    assert breaker.state == CLOSED


def test_breaker_measures_duration_on_the_clock():
    clock = ManualClock()
    breaker = CircuitBreaker(clock, window_size=1, minimum_calls=1, slow_call_threshold=1.0)
    svc = Service(clock, (0.5, "fast"), (1.5, "slow"))
    pipeline = Pipeline(breaker)
    pipeline.call(svc, clock=clock)
    assert breaker.state == CLOSED
    pipeline.call(svc, clock=clock)
    assert breaker.state == OPEN


def test_breaker_ignores_fatal_errors():
    clock = ManualClock()
    breaker = CircuitBreaker(clock, window_size=1, minimum_calls=1, open_wait=1.0, half_open_calls=1)
    breaker.allow()
    breaker.on_failure(0.0)
    clock.advance(1.0)
    svc = Service(clock, (0.1, TypeError()), (0.1, "ok"))
    pipeline = Pipeline(breaker)
    with pytest.raises(TypeError):
        pipeline.call(svc, clock=clock)
    assert breaker.state == HALF_OPEN  # the probe slot was given back
    assert pipeline.call(svc, clock=clock) == "ok"
    assert breaker.state == CLOSED


def test_retry_does_not_retry_an_open_breaker_but_fallback_covers_it():
    clock = ManualClock()
    breaker = CircuitBreaker(clock, window_size=1, minimum_calls=1)
    svc = Service(clock, (0.1, ConnectionError()), (0.1, "never asked"))
    pipeline = Pipeline(Fallback("default"), Retry(5, constant(0.1)), breaker)
    assert pipeline.call(svc, clock=clock) == "default"
    assert svc.calls == 1 and breaker.state == OPEN


def test_bulkhead_rejects_nested_call_and_always_releases():
    clock = ManualClock()
    bulkhead = Bulkhead(1)
    pipeline = Pipeline(bulkhead)

    def outer():
        assert bulkhead.in_use == 1
        return pipeline.call(lambda: "inner", clock=clock)

    with pytest.raises(BulkheadFull) as err:
        pipeline.call(outer, clock=clock)
    assert err.value.outcome == Outcome.BULKHEAD_FULL
    assert (bulkhead.in_use, bulkhead.rejected) == (0, 1)
    assert pipeline.call(lambda: "free", clock=clock) == "free"


class FixedRng:
    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


def test_throttle_counts_accepts_and_rejects_locally():
    clock = ManualClock()
    throttle = AdaptiveThrottle(clock)
    pipeline = Pipeline(throttle)
    shed = CallRejected("server shed it", outcome=Outcome.REJECTED)
    svc = Service(clock, (0.1, shed), (0.1, "never asked"))
    with pytest.raises(CallRejected, match="shed"):
        pipeline.call(svc, clock=clock, rng=FixedRng(0.0))
    assert (throttle.requests, throttle.accepts) == (1, 0)
    with pytest.raises(Throttled) as err:  # p = 1/2, and the rng draws 0
        pipeline.call(svc, clock=clock, rng=FixedRng(0.0))
    assert err.value.outcome == Outcome.THROTTLED and svc.calls == 1
    ok = Service(clock, (0.1, ConnectionError()), (0.1, "ok"))
    with pytest.raises(ConnectionError):
        pipeline.call(ok, clock=clock, rng=FixedRng(0.99))
    pipeline.call(ok, clock=clock, rng=FixedRng(0.99))
    assert (throttle.requests, throttle.accepts) == (4, 2)  # an error answer is an accept


def test_full_stack_through_an_outage():
    clock = ManualClock()
    rng = random.Random(2)
    breaker = CircuitBreaker(clock, window_size=10, minimum_calls=10, open_wait=5.0, half_open_calls=2)
    pipeline = Pipeline(Fallback("cached"), Retry(3, Backoff("full_jitter", 0.05, 1.0)), breaker,
                        Timeout(0.5))
    state = {"down": False, "calls": 0}

    def service():
        state["calls"] += 1
        clock.advance(0.01)
        if state["down"] or rng.random() < 0.05:
            raise ConnectionError()
        return "fresh"

    def run(seconds):
        results = []
        end = clock.now() + seconds
        while clock.now() < end:
            results.append(pipeline.call(service, clock=clock, rng=rng))
            clock.advance(0.1)
        return results

    healthy = run(20.0)
    assert healthy.count("fresh") == len(healthy) and breaker.state == CLOSED
    state.update(down=True, calls=0)
    outage = run(20.0)
    assert breaker.state == OPEN
    assert outage[-100:] == ["cached"] * 100
    assert state["calls"] < 40  # the breaker spared the dead service most attempts
    state["down"] = False
    recovered = run(10.0)
    assert breaker.state == CLOSED
    assert recovered[-50:] == ["fresh"] * 50


def test_defaults_on_manual_clock_use_its_sleep():
    clock = ManualClock()
    svc = Service(clock, (0.0, ConnectionError()), (0.0, "ok"))
    assert Pipeline(Retry(2, constant(3.0))).call(svc, clock=clock) == "ok"
    assert clock.now() == 3.0


def test_explicit_sleep_is_used():
    clock = ManualClock()
    slept = []
    svc = Service(clock, (0.0, ConnectionError()), (0.0, "ok"))
    Pipeline(Retry(2, constant(3.0))).call(svc, clock=clock, sleep=slept.append)
    assert slept == [3.0] and clock.now() == 0.0


def test_real_time():
    """A few milliseconds of real time: retries really sleep, timeouts really fire."""
    failures = [ConnectionError()]

    def fn():
        if failures:
            raise failures.pop()
        return "ok"

    began = time.monotonic()
    assert Pipeline(Retry(3, constant(0.005))).call(fn) == "ok"
    elapsed = time.monotonic() - began
    assert 0.005 <= elapsed < 0.1

    def slow():
        time.sleep(0.01)
        return "late"

    with pytest.raises(TimeoutError):
        Pipeline(Timeout(0.002)).call(slow, clock=MonotonicClock(), rng=random.Random(0))
