"""A small, general shrinker: cut a failing list of steps down to a minimal one that still fails.

A randomised test finds a failure in a long, noisy input; a person needs the
shortest input that shows the same failure. :func:`shrink` gets there in two
moves, repeated until neither changes anything:

1. **Delta debugging** (:func:`ddmin`, Zeller and Hildebrandt's *ddmin*, 2002):
   try the input in halves, then quarters and so on, keeping any part, or any
   input with a part removed, that still fails. It ends *1-minimal*: removing
   any single step of the result makes it pass.
2. **Simplifying each step**: a ``simplify(step)`` function offers simpler
   versions of one step (a shorter delay, an earlier time), simplest first;
   the first that keeps the input failing replaces the step.

``fails(steps)`` must be deterministic (same steps, same verdict): each
verdict is remembered, so no input is tried twice. Nothing here knows what a
step is; :mod:`course.models.fault_schedules` uses it on fault schedules, and
the tests use it on lists of numbers. Hypothesis shrinks its generated
inputs in a similar spirit (deleting and simplifying parts while the test
still fails), with many more tricks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from course.sim import _validate


@dataclass
class Shrunk:
    """What :func:`shrink` found: the ``steps`` left, and how many distinct inputs it ran (``tests``)."""

    steps: list
    tests: int
    original: int              # how many steps the input had

    def __str__(self):
        lines = [f"{len(self.steps)} of {self.original} steps left after {self.tests} test runs:"]
        lines += [f"  {i}. {step}" for i, step in enumerate(self.steps, start=1)]
        return "\n".join(lines)


class _Oracle:
    """``fails`` with a memo of verdicts and a budget of distinct inputs."""

    def __init__(self, fails: Callable[[list], bool], max_tests: int):
        self.fails = fails
        self.max_tests = max_tests
        self.verdicts: dict = {}

    def __call__(self, steps: list) -> bool:
        key = tuple(steps)
        verdict = self.verdicts.get(key)
        if verdict is None:
            if len(self.verdicts) >= self.max_tests:
                return False  # out of budget: treat as passing, so nothing more is removed
            verdict = self.verdicts[key] = bool(self.fails(list(steps)))
        return verdict


def _chunks(items: list, n: int) -> list[list]:
    """``items`` cut into ``n`` consecutive parts of nearly equal size (none empty)."""
    size, extra = divmod(len(items), n)
    parts, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        parts.append(items[start:end])
        start = end
    return parts


def ddmin(steps: Sequence, fails: Callable[[list], bool], max_tests: int = 10_000) -> Shrunk:
    """Delta debugging: a 1-minimal sublist of ``steps`` (order kept) for which ``fails`` is still true.

    ``fails(steps)`` must be true for the input (else ``ValueError``). The
    result keeps failing, and removing any one of its steps makes it pass
    (the empty list is tried too). ``max_tests`` caps the distinct inputs run.
    """
    oracle = _check(steps, fails, max_tests)
    items = _ddmin(list(steps), oracle)
    return Shrunk(items, len(oracle.verdicts), len(steps))


def _check(steps, fails, max_tests) -> _Oracle:
    if not callable(fails):
        raise ValueError(f"fails must be a function of a list of steps returning True or False, got {fails!r}")
    _validate.integer_at_least("max_tests", max_tests, 1)
    oracle = _Oracle(fails, max_tests)
    if not oracle(list(steps)):
        raise ValueError("steps must fail to begin with: fails(steps) returned False, so there is nothing to shrink")
    return oracle


def _ddmin(items: list, fails: _Oracle) -> list:
    n = 2
    while len(items) >= 2:
        parts = _chunks(items, min(n, len(items)))
        for part in parts:                       # one part alone still fails: keep only it
            if fails(part):
                items, n = part, 2
                break
        else:
            for i in range(len(parts)):          # everything but one part still fails: drop that part
                rest = [step for j, part in enumerate(parts) if j != i for step in part]
                if fails(rest):
                    items, n = rest, max(n - 1, 2)
                    break
            else:
                if len(parts) >= len(items):     # every single step was tried alone and left out: 1-minimal
                    break
                n = min(2 * len(parts), len(items))
    if len(items) == 1 and fails([]):
        items = []
    return items


def shrink(steps: Sequence, fails: Callable[[list], bool], simplify: Callable | None = None,
           max_tests: int = 10_000) -> Shrunk:
    """Shrink a failing list of steps: :func:`ddmin`, then simpler steps, repeated until nothing changes.

    ``simplify(step)`` returns candidate replacements for one step, simplest
    first (an empty list if it cannot be simpler); candidates must differ from
    the step and be simpler by some measure, so the loop ends. Without it
    only steps are removed. The result is 1-minimal and still fails.
    """
    if simplify is not None and not callable(simplify):
        raise ValueError(f"simplify must be None or a function of one step returning simpler steps, got {simplify!r}")
    oracle = _check(steps, fails, max_tests)
    items = list(steps)
    while True:
        items = _ddmin(items, oracle)
        changed = False
        if simplify is not None:
            for i in range(len(items)):
                for candidate in simplify(items[i]):
                    trial = items[:i] + [candidate] + items[i + 1:]
                    if candidate != items[i] and oracle(trial):
                        items, changed = trial, True
                        break
        if not changed:
            return Shrunk(items, len(oracle.verdicts), len(steps))
