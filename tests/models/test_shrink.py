"""The general shrinker (:mod:`course.models.shrink`) on bugs whose minimal inputs are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from course.models.shrink import Shrunk, _chunks, ddmin, shrink


def contains(*needed):
    """A bug that shows when every one of ``needed`` is in the input (any order, anything else around)."""
    return lambda steps: all(n in steps for n in needed)


def one_minimal(steps, fails) -> bool:
    """Still fails, and removing any single step makes it pass."""
    return fails(steps) and not any(fails(steps[:i] + steps[i + 1:]) for i in range(len(steps)))


@pytest.mark.parametrize("needed", [(7,), (3, 7), (0, 19), (2, 11, 17), tuple(range(0, 20, 4))])
def test_ddmin_finds_exactly_the_steps_the_bug_needs(needed):
    fails = contains(*needed)
    result = ddmin(list(range(20)), fails)
    assert result.steps == list(needed)          # order kept
    assert one_minimal(result.steps, fails)
    assert result.original == 20
    assert 0 < result.tests < 200


def test_ddmin_is_one_minimal_on_random_non_monotone_bugs():
    # Bugs that need a combination, where adding steps can also hide the failure: "an even number of
    # multiples of 3, at least two of them, and some step above 15". 1-minimality is all ddmin promises.
    rng = np.random.default_rng(7)

    def bug(steps):
        threes = [s for s in steps if s % 3 == 0]
        return len(threes) >= 2 and len(threes) % 2 == 0 and any(s > 15 for s in steps)

    checked = 0
    for _ in range(200):
        steps = [int(x) for x in rng.integers(0, 25, size=int(rng.integers(4, 16)))]
        if not bug(steps):
            continue
        result = ddmin(steps, bug)
        assert one_minimal(result.steps, bug), (steps, result.steps)
        assert all(result.steps.count(s) <= steps.count(s) for s in result.steps)  # a sub-multiset
        checked += 1
    assert checked > 30


def test_every_input_is_tried_at_most_once_and_counted():
    calls = []

    def fails(steps):
        calls.append(tuple(steps))
        return 4 in steps and 9 in steps

    result = shrink(list(range(12)), fails)
    assert len(calls) == len(set(calls)) == result.tests


def test_a_bug_that_needs_nothing_shrinks_to_the_empty_list():
    assert ddmin([1, 2, 3], lambda steps: True).steps == []
    assert shrink(["a"], lambda steps: True).steps == []


def test_shrink_simplifies_each_step_after_removing_the_others():
    # The bug: some step is at least 10. Removing steps leaves one big number; simplifying walks it down.
    def fails(steps):
        return any(s >= 10 for s in steps)

    def simplify(step):
        return [s for s in (0, 1, step // 2, step - 1) if s < step]

    result = shrink([3, 250, 7, 99, 1], fails, simplify)
    assert result.steps == [10]
    assert isinstance(result, Shrunk) and "1 of 5 steps left" in str(result)


def test_shrink_without_simplify_only_removes():
    def fails(steps):
        return sum(steps) >= 100

    result = shrink([60, 5, 70, 2], fails)
    assert sorted(result.steps) in ([60, 70],)
    assert one_minimal(result.steps, fails)


def test_shrink_repeats_ddmin_after_a_simplification_makes_a_step_removable():
    # Two steps fail together only while the first is big; once it is simplified to 5, "5" alone fails and
    # the other step can go. Only a second ddmin pass sees that.
    def fails(steps):
        return 5 in steps or (50 in steps and 8 in steps)

    def simplify(step):
        return [5] if step == 50 else []

    result = shrink([1, 50, 2, 8, 3], fails, simplify)
    assert result.steps == [5]


def test_the_budget_caps_the_runs():
    fails = contains(*range(0, 40, 3))
    result = ddmin(list(range(40)), fails, max_tests=5)
    assert result.tests <= 5
    assert fails(result.steps)   # whatever it kept still fails


def test_chunks_cover_the_list_in_order():
    for size, n in itertools.product(range(1, 12), range(1, 12)):
        if n > size:
            continue
        parts = _chunks(list(range(size)), n)
        assert len(parts) == n and all(parts)
        assert [x for p in parts for x in p] == list(range(size))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_invalid_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="steps must fail to begin with"):
        shrink([1, 2], lambda steps: False)
    with pytest.raises(ValueError, match="fails must be a function"):
        ddmin([1, 2], "yes")
    with pytest.raises(ValueError, match="simplify must be None or a function"):
        shrink([1], lambda steps: True, simplify=3)
    with pytest.raises(ValueError, match="max_tests"):
        ddmin([1], lambda steps: True, max_tests=0)
