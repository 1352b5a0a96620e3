"""The retry-storm dashboard's fast model is the same system as the one built from course.sim's parts.

:func:`course.models.retry_amplification.simulate` is written directly at the
engine's level (one heap entry per request in flight, the same named random
streams read in the same order, the Retry/Backoff/RetryBudget objects'
decisions) so that the dashboard can run it in a few milliseconds;
:func:`~course.models.retry_amplification.simulate_stack` builds the system
the lesson describes from ``Service``, ``Client([Retry])`` and ``OpenLoop``.
They must give the very same result, to the last bit: every array equal,
every summary figure equal, at every setting of the dashboard's controls and
at the always-failing settings the lesson's claims and the reproduction run.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from course.dashboards.retry_storm import MAX_ATTEMPTS, MAX_LAYERS
from course.models import retry_amplification as model


def assert_identical(fast: model.RetryStormResult, stack: model.RetryStormResult) -> None:
    for field in dataclasses.fields(model.RetryStormResult):
        a, b = getattr(fast, field.name), getattr(stack, field.name)
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, field.name
            assert np.array_equal(a, b, equal_nan=True), field.name
        elif field.name == "summary":
            assert a.keys() == b.keys()
            for key, value in b.items():
                both_nan = isinstance(value, float) and math.isnan(value) and math.isnan(a[key])
                assert both_nan or a[key] == value, key
        else:
            assert a == b, field.name


#: Every setting of the dashboard's controls (layers 1..4, attempts 1..5, each defence on or off), on the
#: dashboard's seed (1) and another.
CONTROLS = list(itertools.product(range(1, MAX_LAYERS + 1), range(1, MAX_ATTEMPTS + 1), (False, True),
                                  (False, True)))


@pytest.mark.parametrize("seed", (1, 2))
@pytest.mark.parametrize("layers, attempts, budget, no_retry", CONTROLS,
                         ids=[f"L{l}-A{a}{'-budget' if b else ''}{'-no_retry' if n else ''}"
                              for l, a, b, n in CONTROLS])
def test_identical_at_every_dashboard_setting(layers, attempts, budget, no_retry, seed):
    settings = dict(layers=layers, attempts=attempts, budget=budget, no_retry=no_retry, seed=seed)
    assert_identical(model.simulate(**settings), model.simulate_stack(**settings))


#: The reproduction's short always-failing runs, and the minute-long budget runs (50 requests/s, measured
#: after the budgets' windows have filled) that it and the lesson's claims use.
BUDGET_RUN = dict(rate=50.0, duration=60.0, measure=(10.0, 60.0))
ALWAYS_FAILING = [
    dict(duration=10.0),
    dict(layers=1, attempts=3, duration=10.0),
    dict(layers=2, attempts=4, duration=10.0),
    dict(layers=4, attempts=3, duration=10.0),
    dict(layers=3, attempts=1, duration=10.0),
    dict(no_retry=True, duration=10.0),
    dict(budget=True, **BUDGET_RUN),
    dict(budget=True, no_retry=True, **BUDGET_RUN),
    dict(budget=True, no_retry=True, seed=2, **BUDGET_RUN),
    dict(budget=True, no_retry=True, seed=3, **BUDGET_RUN),
    dict(layers=1, attempts=3, budget=True, **BUDGET_RUN),
]


@pytest.mark.parametrize("settings", ALWAYS_FAILING, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_identical_when_the_bottom_always_fails(settings):
    assert_identical(model.always_failing(**settings), model.simulate_stack(failure=(0.0, math.inf), **settings))


@pytest.mark.parametrize("settings", [
    dict(failure=(5.0, 12.5), budget=True, rate=20.0, duration=20.0),  # a failure that ends mid-run, busier
    dict(failure=(0.0, 25.0), layers=2, attempts=3, budget_ratio=0.3, seed=4),  # from t = 0, past the arrivals
    dict(layers=2, attempts=5, measure=(12.0, 18.0), duration=15.0),  # a measuring window past the arrivals
], ids=("mid-run", "from-zero", "measure"))
def test_identical_at_other_settings(settings):
    assert_identical(model.simulate(**settings), model.simulate_stack(**settings))


def test_the_comparison_sees_a_difference():
    # Different seeds give different runs, and the comparison notices (so it is not vacuous).
    with pytest.raises(AssertionError):
        assert_identical(model.simulate(seed=1), model.simulate_stack(seed=2))
