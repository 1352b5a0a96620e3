"""RetryBudget: the ratio, the floor, and expiry as the clock moves."""

import pytest

from course.sim.clock import ManualClock
from course.sim.policies import RetryBudget


@pytest.mark.parametrize("kwargs, word", [
    ({"ratio": -0.1}, "ratio"),
    ({"ratio": 1.5}, "ratio"),
    ({"window": 0}, "window"),
    ({"window": -10}, "window"),
    ({"min_per_second": -1}, "min_per_second"),
])
def test_invalid_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        RetryBudget(ManualClock(), **kwargs)


def spend_all(budget, limit=10_000):
    n = 0
    while n < limit and budget.try_spend():
        n += 1
    return n


def test_ten_percent_of_requests():
    b = RetryBudget(ManualClock())
    for _ in range(100):
        b.record_request()
    assert spend_all(b) == 10
    assert (b.requests, b.retries) == (100, 10)
    b.record_request()
    assert not b.try_spend()  # 11 > 0.1 * 101
    for _ in range(9):
        b.record_request()
    assert b.try_spend()


def test_no_requests_no_retries():
    assert not RetryBudget(ManualClock()).try_spend()


def test_floor_per_second():
    b = RetryBudget(ManualClock(), ratio=0.0, window=10.0, min_per_second=1.0)
    assert spend_all(b) == 10


def test_ratio_float_rounding_is_tolerated():
    b = RetryBudget(ManualClock(), ratio=0.29)
    for _ in range(100):
        b.record_request()
    assert spend_all(b) == 29


def test_counts_expire_with_time():
    clock = ManualClock()
    b = RetryBudget(clock, ratio=0.1, window=10.0)
    for _ in range(100):
        b.record_request()
    assert spend_all(b) == 10
    clock.advance(5.0)
    assert (b.requests, b.retries) == (100, 10) and not b.try_spend()
    clock.advance(4.9)  # t = 9.9: still inside the window
    assert b.requests == 100
    clock.advance(0.6)  # t = 10.5
    assert (b.requests, b.retries) == (0, 0)
    assert not b.try_spend()
    for _ in range(10):
        b.record_request()
    assert spend_all(b) == 1


def test_window_slides_bucket_by_bucket():
    clock = ManualClock()
    b = RetryBudget(clock, window=10.0)
    for _ in range(50):
        b.record_request()
    clock.advance(6.0)
    for _ in range(30):
        b.record_request()
    assert b.requests == 80
    clock.advance(4.5)  # t = 10.5: the first batch has gone
    assert b.requests == 30
    clock.advance(6.0)  # t = 16.5: the second too
    assert b.requests == 0


def test_memory_is_bounded():
    clock = ManualClock()
    b = RetryBudget(clock, window=10.0)
    for _ in range(5000):
        b.record_request()
        b.try_spend()
        clock.advance(0.05)
    assert len(b._counts._slots) <= 10
    assert b.requests == pytest.approx(200, abs=20)
