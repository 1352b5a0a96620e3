"""Bulkhead, Timeout, Hedge and Fallback."""

import math

import pytest

from course.sim.outcomes import Outcome
from course.sim.policies import DEFAULT_HANDLES, Bulkhead, CallRejected, Fallback, Hedge, Timeout

# -- Bulkhead ------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3"])
def test_bulkhead_invalid(value):
    with pytest.raises(ValueError, match="max_concurrent"):
        Bulkhead(value)


def test_bulkhead_counts():
    b = Bulkhead(2)
    assert Bulkhead().max_concurrent == 25
    assert b.try_acquire() and b.try_acquire()
    assert (b.in_use, b.available, b.rejected) == (2, 0, 0)
    assert not b.try_acquire() and not b.try_acquire()
    assert (b.in_use, b.rejected) == (2, 2)
    b.release()
    assert b.in_use == 1 and b.try_acquire()
    b.release()
    b.release()
    assert b.in_use == 0 and b.available == 2
    with pytest.raises(RuntimeError, match="release"):
        b.release()
    assert b.in_use == 0


# -- Timeout -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1.0, "1", math.nan, None])
def test_timeout_invalid(value):
    with pytest.raises(ValueError, match="seconds"):
        Timeout(value)


def test_timeout_deadline():
    t = Timeout(2.0)
    assert t.deadline(10.0) == 12.0
    assert t.deadline(10.0, 11.0) == 11.0  # the outer deadline comes first
    assert t.deadline(10.0, 20.0) == 12.0
    assert t.deadline(10.0, 5.0) == 5.0  # already passed: the caller must give up


# -- Hedge ---------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, word", [
    ({"delay": -0.01}, "delay"),
    ({"delay": "0.1"}, "delay"),
    ({"delay": 0.1, "max_hedges": 0}, "max_hedges"),
    ({"delay": 0.1, "max_hedges": 1.5}, "max_hedges"),
])
def test_hedge_invalid(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Hedge(**kwargs)


def test_hedge_times():
    assert Hedge(0.05).hedge_times(1.0) == [1.05]
    assert Hedge(0.5, max_hedges=3).hedge_times(10.0) == pytest.approx([10.5, 11.0, 11.5])
    assert Hedge(0.0, 2).hedge_times(3.0) == [3.0, 3.0]


# -- Fallback ------------------------------------------------------------------


def test_fallback_defaults():
    f = Fallback("cached")
    assert f.handles == DEFAULT_HANDLES
    for outcome in (Outcome.ERROR, Outcome.TIMEOUT, Outcome.REJECTED, Outcome.BREAKER_OPEN,
                    Outcome.BULKHEAD_FULL, Outcome.THROTTLED):
        assert f.handles_outcome(outcome)
    for outcome in (Outcome.OK, Outcome.FATAL, Outcome.FALLBACK):
        assert not f.handles_outcome(outcome)
    assert f.exceptions == (TimeoutError, ConnectionError, CallRejected)
    assert f.get() == "cached"
    assert Fallback().get() is None


def test_fallback_callable_value_is_called_each_time():
    made = []
    f = Fallback(lambda: made.append(1) or len(made))
    assert (f.get(), f.get()) == (1, 2)


def test_fallback_custom_handles():
    f = Fallback(0, handles=[Outcome.BREAKER_OPEN])
    assert f.handles_outcome(Outcome.BREAKER_OPEN) and not f.handles_outcome(Outcome.ERROR)


@pytest.mark.parametrize("kwargs, word", [
    ({"handles": [Outcome.FATAL]}, "FATAL"),
    ({"handles": [Outcome.OK, Outcome.ERROR]}, "handles"),
    ({"handles": [42]}, "handles"),
    ({"handles": Outcome.ERROR}, "handles"),
    ({"exceptions": ["TimeoutError"]}, "exceptions"),
    ({"exceptions": [int]}, "exceptions"),
])
def test_fallback_invalid(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Fallback(**kwargs)
