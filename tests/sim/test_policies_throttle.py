"""AdaptiveThrottle: the SRE-book formula, local rejections, the overload equilibrium."""

import random

import pytest

from course.sim.clock import ManualClock
from course.sim.outcomes import Outcome
from course.sim.policies import ACCEPTED, AdaptiveThrottle


class FixedRng:
    """An rng whose random() always returns ``value``."""

    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


class NoRng:
    def random(self):
        raise AssertionError("drew a random number when the rejection probability was 0")


NEVER_REJECT = FixedRng(1.0)  # never below p, which is always < 1
ALWAYS_REJECT = FixedRng(0.0)  # below any p > 0


@pytest.mark.parametrize("kwargs, word", [
    ({"k": 0.5}, "k must be >= 1"),
    ({"k": 0}, "k"),
    ({"k": -2}, "k"),
    ({"window": 0}, "window"),
])
def test_invalid_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        AdaptiveThrottle(ManualClock(), **kwargs)


def test_formula():
    t = AdaptiveThrottle(ManualClock(), k=2.0)
    assert t.reject_probability() == 0.0
    for _ in range(100):
        assert t.allow(NEVER_REJECT)
    for _ in range(20):
        t.record_accept()
    assert (t.requests, t.accepts) == (100, 20)
    assert t.reject_probability() == pytest.approx((100 - 40) / 101)
    for _ in range(30):
        t.record_accept()
    assert t.reject_probability() == 0.0  # 100 - 2 * 50 = 0
    assert AdaptiveThrottle(ManualClock(), k=1.0).k == 1.0


def test_no_draw_while_healthy():
    t = AdaptiveThrottle(ManualClock())
    for _ in range(50):
        assert t.allow(NoRng())
        t.record_accept()


def test_local_rejections_still_count_as_requests():
    t = AdaptiveThrottle(ManualClock())
    assert t.allow(ALWAYS_REJECT)  # p was 0
    assert t.requests == 1
    assert not t.allow(ALWAYS_REJECT)  # p = 1/2
    assert not t.allow(ALWAYS_REJECT)
    assert t.requests == 3
    assert t.reject_probability() == pytest.approx(3 / 4)


def test_rejection_rate_matches_probability():
    t = AdaptiveThrottle(ManualClock(), k=2.0)
    for _ in range(10_000):
        t.allow(NEVER_REJECT)
    for _ in range(2500):
        t.record_accept()
    assert t.reject_probability() == pytest.approx(0.5, abs=1e-3)
    rng = random.Random(5)
    rejected = sum(not t.allow(rng) for _ in range(1000))
    assert t.reject_probability() == pytest.approx(0.55, abs=0.01)  # more requests, no accepts
    assert rejected / 1000 == pytest.approx(0.525, abs=0.05)


def test_counts_expire():
    clock = ManualClock()
    t = AdaptiveThrottle(clock, window=120.0)
    for _ in range(100):
        t.allow(NEVER_REJECT)
    clock.advance(60.0)
    assert t.requests == 100
    clock.advance(61.0)
    assert t.requests == 0 and t.reject_probability() == 0.0


def test_accepted_outcomes():
    assert ACCEPTED == {Outcome.OK, Outcome.ERROR, Outcome.FATAL}


def test_backend_rejects_about_one_per_accept_under_overload():
    """SRE book: under heavy overload the backend rejects about one request per accept."""
    clock = ManualClock()
    t = AdaptiveThrottle(clock, k=2.0, window=120.0)
    rng = random.Random(1)
    capacity = 10  # per second; offered load is 100 per second
    accepted = rejected = 0
    for second in range(400):
        used = 0
        for _ in range(100):
            if t.allow(rng):
                if used < capacity:
                    used += 1
                    t.record_accept()
                    accepted += second >= 200
                else:
                    rejected += second >= 200
            clock.advance(0.01)
    assert accepted == pytest.approx(2000, rel=0.01)
    assert rejected / accepted == pytest.approx(1.0, abs=0.2)
