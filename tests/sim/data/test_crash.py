"""Crash points: named, counted, deterministic for a seed."""

import pytest

from course.sim import Simulation
from course.sim.data import Crash, CrashPoints


def test_never_does_not_crash():
    points = CrashPoints.never()
    for _ in range(100):
        points.point("anywhere")
    assert points.crashes == {}


def test_named_points_always_crash_and_are_counted():
    points = CrashPoints(at=("after_commit",))
    points.point("before_commit")
    with pytest.raises(Crash) as caught:
        points.point("after_commit")
    assert caught.value.point == "after_commit"
    assert "after_commit" in str(caught.value)
    with pytest.raises(Crash):
        points.point("after_commit")
    assert points.crashes == {"after_commit": 2}


def test_a_single_name_is_not_split_into_letters():
    points = CrashPoints(at="a_b")
    points.point("a")
    with pytest.raises(Crash):
        points.point("a_b")


def _crash_pattern(seed, probability=0.3, n=400):
    sim = Simulation(seed=seed)
    points = CrashPoints(sim.rng("crash:test:points"), probability=probability)
    pattern = []
    for _ in range(n):
        try:
            points.point("p")
            pattern.append(0)
        except Crash:
            pattern.append(1)
    return pattern, points


def test_probability_is_respected_and_deterministic_for_a_seed():
    pattern, points = _crash_pattern(seed=3)
    assert points.crashes["p"] == sum(pattern)
    assert 0.3 * 400 - 4 * (400 * 0.3 * 0.7) ** 0.5 < sum(pattern) < 0.3 * 400 + 4 * (400 * 0.3 * 0.7) ** 0.5
    assert _crash_pattern(seed=3)[0] == pattern
    assert _crash_pattern(seed=4)[0] != pattern


def test_probability_one_always_crashes():
    pattern, _ = _crash_pattern(seed=1, probability=1.0, n=50)
    assert pattern == [1] * 50


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5"])
def test_probability_outside_0_1_is_rejected(bad):
    sim = Simulation(seed=0)
    with pytest.raises(ValueError, match=r"probability must be"):
        CrashPoints(sim.rng("crash:x:y"), probability=bad)


def test_a_random_crash_needs_a_stream():
    with pytest.raises(ValueError, match="stream must be given"):
        CrashPoints(probability=0.5)
