"""Load balancers and outlier ejection, on a ManualClock with seeded streams."""

import math

import numpy as np
import pytest

from course.sim import ManualClock, Simulation
from course.sim.policies import (BALANCERS, LeastOutstanding, OutlierEjection, PowerOfTwoChoices, RandomChoice,
                                 RoundRobin)


def _rng(name="balancer", seed=1):
    return Simulation(seed=seed).rng(name)


# -- parameters ------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(BALANCERS.values()))
@pytest.mark.parametrize("hosts", [0, -1, 2.5, True, "3"])
def test_hosts_must_be_a_whole_number(cls, hosts):
    with pytest.raises(ValueError, match="hosts must be a whole number >= 1"):
        cls(hosts, rng=_rng())


@pytest.mark.parametrize("cls", [RandomChoice, LeastOutstanding, PowerOfTwoChoices])
@pytest.mark.parametrize("rng", [None, 3, "random"])
def test_random_balancers_need_an_rng(cls, rng):
    with pytest.raises(ValueError, match="rng must have a random"):
        cls(5, rng=rng)


@pytest.mark.parametrize("kwargs, message", [
    ({"consecutive_errors": 0}, "consecutive_errors must be a whole number >= 1"),
    ({"consecutive_errors": 2.5}, "consecutive_errors"),
    ({"base_ejection_time": 0}, "base_ejection_time must be > 0"),
    ({"base_ejection_time": math.nan}, "base_ejection_time"),
    ({"max_ejection_percent": 101}, r"max_ejection_percent must be a percentage in \[0, 100\]"),
    ({"max_ejection_percent": -1}, "max_ejection_percent"),
    ({"max_ejection_percent": "10"}, "max_ejection_percent must be a number"),
    ({"max_ejection_time": 10.0}, "max_ejection_time must be >= base_ejection_time"),
    ({"hosts": 0}, "hosts must be a whole number >= 1"),
])
def test_ejection_parameters_are_checked_by_name(kwargs, message):
    args = {"hosts": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        OutlierEjection(ManualClock(), **args)


def test_pick_needs_a_candidate_and_finished_needs_a_request():
    b = RoundRobin(3)
    with pytest.raises(ValueError, match="eligible"):
        b.pick([])
    with pytest.raises(RuntimeError, match="finished"):
        b.finished(0)


# -- balancers -------------------------------------------------------------------


def test_round_robin_takes_turns_and_skips_the_ineligible():
    b = RoundRobin(4)
    assert [b.pick() for _ in range(6)] == [0, 1, 2, 3, 0, 1]
    assert [b.pick([0, 1, 3]) for _ in range(4)] == [3, 0, 1, 3]


def test_random_is_uniform():
    b = RandomChoice(20, rng=_rng())
    picks = np.array([b.pick() for _ in range(40_000)])
    counts = np.bincount(picks, minlength=20)
    # each count is Binomial(40,000, 1/20): mean 2,000, sd 43.6; 5 sd either side
    assert np.all(np.abs(counts - 2_000) < 5 * 43.6)
    assert set(b.pick([3, 7]) for _ in range(100)) == {3, 7}


def test_least_outstanding_picks_the_least_and_breaks_ties_at_random():
    b = LeastOutstanding(4, rng=_rng())
    for host, n in ((0, 2), (1, 1), (2, 3), (3, 1)):
        for _ in range(n):
            b.started(host)
    picks = {b.pick() for _ in range(200)}
    assert picks == {1, 3}
    assert b.pick([0, 2]) == 0
    b.finished(2)
    b.finished(2)
    b.finished(2)
    assert b.pick() == 2
    assert b.sent == [2, 1, 3, 1] and b.outstanding == [2, 1, 0, 1]


def test_two_choices_never_picks_the_busiest_of_two_and_picks_distinct_pairs():
    b = PowerOfTwoChoices(2, rng=_rng())
    b.started(0)
    assert {b.pick() for _ in range(100)} == {1}  # the pair is always (0, 1): never the busier one
    b3 = PowerOfTwoChoices(3, rng=_rng())
    for _ in range(5):
        b3.started(2)
    picks = np.array([b3.pick() for _ in range(6_000)])
    # host 2 is busiest: it loses every pair it is in; hosts 0 and 1 tie with each other
    assert not np.any(picks == 2)
    assert abs((picks == 0).mean() - 0.5) < 0.03
    assert b3.pick([2]) == 2


def test_two_choices_on_a_single_busy_host_among_many_sends_it_nothing_when_others_idle():
    b = PowerOfTwoChoices(20, rng=_rng())
    b.started(6)
    picks = [b.pick() for _ in range(2_000)]
    assert 6 not in picks


def test_the_same_seed_gives_the_same_picks():
    a = PowerOfTwoChoices(20, rng=_rng(seed=5))
    b = PowerOfTwoChoices(20, rng=_rng(seed=5))
    assert [a.pick() for _ in range(50)] == [b.pick() for _ in range(50)]


# -- outlier ejection --------------------------------------------------------------


def test_ejects_after_consecutive_errors_and_a_success_resets_the_count():
    clock = ManualClock()
    e = OutlierEjection(clock, hosts=20)
    assert (e.consecutive_errors, e.base_ejection_time, e.max_ejection_percent) == (5, 30.0, 10.0)
    for _ in range(4):
        e.on_error(3)
    e.on_success(3)
    for _ in range(4):
        e.on_error(3)
    assert not e.is_ejected(3)
    e.on_error(3)
    assert e.is_ejected(3)
    assert 3 not in e.available() and len(e.available()) == 19
    assert e.ejections == [(0.0, 3, 30.0)]


def test_ejection_time_grows_with_each_ejection_up_to_the_cap():
    clock = ManualClock()
    e = OutlierEjection(clock, hosts=10, consecutive_errors=1, base_ejection_time=30.0, max_ejection_time=70.0)
    e.on_error(0)
    clock.advance(29.9)
    assert e.is_ejected(0)
    e.on_error(0)  # a late answer from before the ejection: ignored
    clock.advance(0.1)
    assert not e.is_ejected(0) and 0 in e.available()
    e.on_error(0)
    clock.advance(59.9)
    assert e.is_ejected(0)
    clock.advance(0.1)
    e.on_error(0)
    assert [seconds for _, _, seconds in e.ejections] == [30.0, 60.0, 70.0]


def test_max_ejection_percent_caps_ejections_but_one_host_may_always_go():
    clock = ManualClock()
    e = OutlierEjection(clock, hosts=20, consecutive_errors=1)  # 10% of 20: two hosts
    for host in (1, 2, 3):
        e.on_error(host)
    assert [e.is_ejected(h) for h in (1, 2, 3)] == [True, True, False]
    assert e.skipped == 1 and e.ejected_count == 2
    few = OutlierEjection(clock, hosts=3, consecutive_errors=1, max_ejection_percent=0)
    few.on_error(0)
    few.on_error(1)
    assert few.is_ejected(0) and not few.is_ejected(1)


def test_available_is_every_host_when_none_is_ejected_and_follows_the_clock():
    clock = ManualClock()
    e = OutlierEjection(clock, hosts=4, consecutive_errors=2, base_ejection_time=5.0)
    assert e.available() == [0, 1, 2, 3]
    e.on_error(2)
    e.on_error(2)
    assert e.available() == [0, 1, 3]
    clock.advance(5.0)
    assert e.available() == [0, 1, 2, 3]
