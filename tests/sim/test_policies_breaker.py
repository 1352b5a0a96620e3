"""CircuitBreaker: windows, minimum calls, slow calls, half-open probes, transitions."""

import pytest

from course.sim.clock import ManualClock
from course.sim.policies import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


def calls(breaker, pattern, duration=0.0):
    """Run allowed calls: 'S' succeeds, 'F' fails. Asserts each one was allowed."""
    for c in pattern:
        assert breaker.allow(), f"call {c!r} was not allowed (state {breaker.state})"
        if c == "S":
            breaker.on_success(duration)
        else:
            breaker.on_failure(duration)


def small(clock, **kwargs):
    args = dict(window_size=4, minimum_calls=4, open_wait=10.0, half_open_calls=2)
    args.update(kwargs)
    return CircuitBreaker(clock, **args)


def open_breaker(clock, **kwargs):
    b = small(clock, **kwargs)
    calls(b, "F" * b._min_calls)
    assert b.state == OPEN
    return b


@pytest.mark.parametrize("kwargs, word", [
    ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
    ({"failure_rate_threshold": 1.5}, "failure_rate_threshold"),
    ({"slow_call_rate_threshold": 0}, "slow_call_rate_threshold"),
    ({"slow_call_rate_threshold": 2}, "slow_call_rate_threshold"),
    ({"window_type": "sliding"}, "window_type"),
    ({"window_size": 0}, "window_size"),
    ({"window_size": 2.5}, "window_size"),
    ({"window_type": "time", "window_size": 0}, "window_size"),
    ({"window_type": "time", "window_size": -5.0}, "window_size"),
    ({"minimum_calls": 0}, "minimum_calls"),
    ({"open_wait": 0}, "open_wait"),
    ({"open_wait": -1.0}, "open_wait"),
    ({"half_open_calls": 0}, "half_open_calls must be a whole number >= 1"),
    ({"half_open_calls": 1.5}, "half_open_calls"),
    ({"slow_call_threshold": 0}, "slow_call_threshold"),
])
def test_invalid_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        CircuitBreaker(ManualClock(), **kwargs)


def test_negative_duration_is_rejected():
    with pytest.raises(ValueError, match="duration"):
        CircuitBreaker(ManualClock()).on_success(-1.0)


def test_defaults_are_resilience4j():
    b = CircuitBreaker(ManualClock())
    assert (b.failure_rate_threshold, b.window_type, b.window_size, b.minimum_calls,
            b.open_wait, b.half_open_calls, b.slow_call_threshold,
            b.slow_call_rate_threshold) == (0.5, "count", 100, 100, 60.0, 10, None, 1.0)
    calls(b, "F" * 99)
    assert b.state == CLOSED and b.failure_rate is None
    calls(b, "F")
    assert b.state == OPEN


def test_time_window_accepts_fractional_size():
    assert CircuitBreaker(ManualClock(), window_type="time", window_size=2.5).window_size == 2.5


def test_minimum_calls_is_honoured():
    b = small(ManualClock(), window_size=10, minimum_calls=10)
    calls(b, "F" * 9)
    assert b.state == CLOSED and b.failure_rate is None
    calls(b, "F")
    assert b.state == OPEN and b.failure_rate == 1.0


def test_opens_at_exactly_the_threshold_not_below():
    b = small(ManualClock(), window_size=10, minimum_calls=10)
    calls(b, "SSSSSSFFF")
    calls(b, "F")  # 4 / 10
    assert b.state == CLOSED and b.failure_rate == pytest.approx(0.4)
    calls(b, "F")  # window now SSSSSFFFFF: 5 / 10
    assert b.state == OPEN


def test_count_window_slides():
    b = small(ManualClock())
    calls(b, "FSSS")  # 1 / 4
    assert b.failure_rate == 0.25
    calls(b, "S")  # the failure drops out
    assert b.failure_rate == 0.0
    calls(b, "F")  # SSSF
    assert b.state == CLOSED
    calls(b, "F")  # SSFF
    assert b.state == OPEN


def test_count_window_needs_no_more_than_its_size():
    b = CircuitBreaker(ManualClock(), window_size=5, minimum_calls=100)
    calls(b, "FFFF")
    assert b.failure_rate is None
    calls(b, "F")
    assert b.state == OPEN


def test_open_rejects_until_open_wait_then_half_open():
    clock = ManualClock()
    b = open_breaker(clock)
    assert not b.allow()
    clock.advance(9.999)
    assert b.state == OPEN and not b.allow()
    clock.advance(0.001)
    assert b.state == HALF_OPEN


def test_exactly_half_open_calls_probes():
    clock = ManualClock()
    b = open_breaker(clock, half_open_calls=3)
    clock.advance(10.0)
    assert [b.allow() for _ in range(5)] == [True, True, True, False, False]
    b.on_success(0.1)
    b.on_success(0.1)
    assert b.state == HALF_OPEN and not b.allow()  # no new probe until all are in
    b.on_success(0.1)
    assert b.state == CLOSED and b.allow()
    assert b.failure_rate is None  # the window was reset


def test_failed_probes_reopen_with_a_fresh_wait():
    clock = ManualClock()
    b = open_breaker(clock, half_open_calls=4)
    clock.advance(10.0)
    calls(b, "SSF")
    assert b.state == HALF_OPEN
    clock.advance(1.0)
    calls(b, "F")  # 2 / 4 = 50%: open again
    assert b.state == OPEN and not b.allow()
    clock.advance(9.5)
    assert b.state == OPEN  # waiting from the reopening at t=11, not from t=0
    clock.advance(0.5)
    assert b.state == HALF_OPEN


def test_good_probes_close():
    clock = ManualClock()
    b = open_breaker(clock, half_open_calls=4)
    clock.advance(10.0)
    calls(b, "SFSS")  # 25% < 50%
    assert b.state == CLOSED


def test_results_while_open_are_ignored():
    clock = ManualClock()
    b = open_breaker(clock)
    log = list(b.transitions)
    b.on_success(0.1)
    b.on_failure(0.1)
    assert b.state == OPEN and b.transitions == log


def test_half_open_ignores_results_beyond_the_probes_issued():
    clock = ManualClock()
    b = open_breaker(clock, half_open_calls=2)
    clock.advance(10.0)
    b.on_failure(0.1)  # a straggler from before: no probe was issued
    b.on_failure(0.1)
    assert b.state == HALF_OPEN
    calls(b, "SS")
    assert b.state == CLOSED


def test_on_ignored_gives_back_a_probe():
    clock = ManualClock()
    b = open_breaker(clock, half_open_calls=1)
    clock.advance(10.0)
    assert b.allow() and not b.allow()
    b.on_ignored()
    assert b.state == HALF_OPEN
    calls(b, "S")
    assert b.state == CLOSED
    b.on_ignored()  # harmless when closed
    assert b.state == CLOSED


def test_transitions_log():
    clock = ManualClock(5.0)
    b = small(clock)
    assert b.transitions == [(5.0, CLOSED)]
    clock.advance(1.0)
    calls(b, "FFFF")  # opens at t=6
    clock.advance(25.0)  # t=31; half-open became due at t=16
    assert b.state == HALF_OPEN
    calls(b, "F")
    clock.advance(1.0)
    calls(b, "F")  # reopens at t=32
    clock.advance(10.0)
    b.allow()
    b.on_success(0.0)
    b.allow()
    b.on_success(0.0)  # closes at t=42
    assert b.transitions == [(5.0, CLOSED), (6.0, OPEN), (16.0, HALF_OPEN), (32.0, OPEN),
                             (42.0, HALF_OPEN), (42.0, CLOSED)]


def test_slow_calls_open_the_breaker():
    b = small(ManualClock(), slow_call_threshold=1.0, slow_call_rate_threshold=0.5)
    calls(b, "S", duration=0.1)
    calls(b, "S", duration=2.0)
    calls(b, "S", duration=0.5)
    assert b.state == CLOSED
    calls(b, "S", duration=1.0)  # exactly at the threshold counts as slow: 2 / 4
    assert b.state == OPEN
    assert b.slow_call_rate == 0.5 and b.failure_rate == 0.0


def test_durations_do_not_matter_without_a_slow_threshold():
    b = small(ManualClock())
    calls(b, "SSSSSSSS", duration=1e6)
    assert b.state == CLOSED and b.slow_call_rate == 0.0


def test_slow_probes_reopen():
    clock = ManualClock()
    b = open_breaker(clock, slow_call_threshold=1.0, slow_call_rate_threshold=0.5)
    clock.advance(10.0)
    calls(b, "SS", duration=5.0)
    assert b.state == OPEN


def test_time_window_counts_recent_calls_only():
    clock = ManualClock()
    b = CircuitBreaker(clock, window_type="time", window_size=10.0, minimum_calls=5)
    for _ in range(3):
        calls(b, "F")
        clock.advance(1.0)
    clock.advance(9.0)  # t = 12: the three failures have expired
    calls(b, "FF")
    assert b.state == CLOSED and b.failure_rate is None
    calls(b, "SSS")
    assert b.state == CLOSED and b.failure_rate == pytest.approx(0.4)
    clock.advance(0.5)
    calls(b, "F")  # 3 / 6
    assert b.state == OPEN


def test_time_window_spread_over_time_opens():
    clock = ManualClock()
    b = CircuitBreaker(clock, window_type="time", window_size=10.0, minimum_calls=5)
    for _ in range(4):
        calls(b, "F")
        clock.advance(2.0)
    calls(b, "F")  # five failures between t=0 and t=8
    assert b.state == OPEN


def test_short_time_window_uses_fine_buckets():
    clock = ManualClock()
    b = CircuitBreaker(clock, window_type="time", window_size=0.5, minimum_calls=2)
    calls(b, "F")
    clock.advance(0.6)
    calls(b, "F")
    assert b.state == CLOSED and b.failure_rate is None
    clock.advance(0.01)
    calls(b, "F")
    assert b.state == OPEN


def test_failure_rate_expires_in_time_window():
    clock = ManualClock()
    b = CircuitBreaker(clock, window_type="time", window_size=10.0, minimum_calls=2)
    calls(b, "SF")
    assert b.failure_rate == 0.5
    clock.advance(11.0)
    assert b.failure_rate is None


def test_resilience4j_preset():
    b = CircuitBreaker.resilience4j(ManualClock())
    assert (b.failure_rate_threshold, b.window_type, b.window_size, b.minimum_calls,
            b.open_wait, b.half_open_calls, b.slow_call_threshold) == (0.5, "count", 100, 100, 60.0, 10, 60.0)


def test_hystrix_preset():
    clock = ManualClock()
    b = CircuitBreaker.hystrix(clock)
    assert (b.window_type, b.window_size, b.minimum_calls, b.failure_rate_threshold,
            b.open_wait, b.half_open_calls) == ("time", 10.0, 20, 0.5, 5.0, 1)
    calls(b, "F" * 19)
    assert b.state == CLOSED
    calls(b, "F")
    assert b.state == OPEN
    clock.advance(5.0)
    assert b.allow() and not b.allow()  # a single trial request


def test_polly_preset():
    clock = ManualClock()
    b = CircuitBreaker.polly(clock)
    assert (b.failure_rate_threshold, b.minimum_calls, b.window_type, b.window_size,
            b.open_wait, b.half_open_calls) == (0.1, 100, "time", 30.0, 5.0, 1)
    calls(b, "S" * 90 + "F" * 9)
    assert b.state == CLOSED
    calls(b, "F")  # 10 / 100
    assert b.state == OPEN


def test_pybreaker_preset_is_five_consecutive_failures():
    clock = ManualClock()
    b = CircuitBreaker.pybreaker(clock)
    assert (b.window_size, b.minimum_calls, b.failure_rate_threshold, b.open_wait,
            b.half_open_calls) == (5, 5, 1.0, 60.0, 1)
    calls(b, "FFFFSFFFF")
    assert b.state == CLOSED
    calls(b, "F")
    assert b.state == OPEN
    clock.advance(60.0)
    calls(b, "S")
    assert b.state == CLOSED
