"""Reproduction a: retry amplification across layers, and the per-client retry budget that bounds it.

Source: B. Beyer, C. Jones, J. Petoff, N. R. Murphy (eds.), *Site Reliability
Engineering*, O'Reilly, 2016: chapter 22, "Addressing Cascading Failures"
(three layers that each make 4 attempts put 4³ = 64 attempts on the database
for one user action; retry only at the layer directly above the one that is
failing) and chapter 21, "Handling Overload" (a per-request cap of 3 attempts
lets load grow to 3×; a per-client retry budget of 10% brings it to about
1.1×; "overloaded; don't retry" answers stop the layers above from retrying).
<https://sre.google/sre-book/addressing-cascading-failures/>,
<https://sre.google/sre-book/handling-overload/>.

The model (:mod:`course.models.retry_amplification`): users → layer 1 → … →
layer L, every hop a client with ``Retry(attempts)`` and full-jitter backoff;
the bottom layer answers every call with a retryable error. Amplification is
counted per user request: the calls that reached each layer on its behalf.
Seeds are fixed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from course.models import retry_amplification as model


@lru_cache(maxsize=None)
def failing(layers=3, attempts=4, budget=False, no_retry=False, rate=10.0, duration=10.0, measure=None, seed=1):
    return model.always_failing(layers=layers, attempts=attempts, budget=budget, no_retry=no_retry, rate=rate,
                                duration=duration, measure=measure, seed=seed)


#: Budget runs: 50 requests/s for a minute, measured after the budgets' 10 s windows have filled.
BUDGET_RUN = dict(rate=50.0, duration=60.0, measure=(10.0, 60.0))


def test_three_layers_of_four_attempts_put_exactly_64_attempts_on_the_bottom():
    r = failing()
    assert r.summary["requests"] > 50
    # Every single user request, not just the average: 4 × 4 × 4.
    assert np.all(r.bottom_per_request == 64)
    np.testing.assert_array_equal(r.amplification, [4.0, 16.0, 64.0])
    assert r.summary["top_failure_share"] == 1.0


@pytest.mark.parametrize("layers, attempts", [(1, 3), (2, 4), (4, 3), (3, 1)])
def test_amplification_is_attempts_to_the_power_of_layers(layers, attempts):
    r = failing(layers=layers, attempts=attempts)
    assert np.all(r.bottom_per_request == attempts ** layers)
    np.testing.assert_array_equal(r.amplification, float(attempts) ** np.arange(1, layers + 1))


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_a_10_percent_budget_with_retries_only_above_the_failure_keeps_the_bottom_at_or_below_1_15(seed):
    r = failing(budget=True, no_retry=True, seed=seed, **BUDGET_RUN)
    bottom = r.amplification[-1]
    assert bottom <= 1.15
    assert bottom >= 1.05  # the budget is spent: the layer above the failure does retry
    np.testing.assert_array_equal(r.amplification[:-1], [1.0, 1.0])  # nobody else retries


def test_budgets_alone_compound_across_layers_to_about_1_1_cubed():
    # Without "overloaded; don't retry", every layer spends its own 10%: about 1.1, 1.21, 1.33.
    r = failing(budget=True, seed=1, **BUDGET_RUN)
    np.testing.assert_allclose(r.amplification, [1.1, 1.1 ** 2, 1.1 ** 3], rtol=0.03)
    assert r.amplification[-1] > 1.15  # so the 1.15 bar needs both defences


def test_no_retry_alone_leaves_only_the_hop_above_the_failure_retrying():
    r = failing(no_retry=True)
    np.testing.assert_array_equal(r.amplification, [1.0, 1.0, 4.0])
    assert np.all(r.bottom_per_request == 4)


def test_a_per_request_cap_of_3_is_3x_and_a_10_percent_budget_brings_it_to_about_1_1():
    # "Handling Overload": one client, at most 3 attempts per request, a backend that always fails.
    assert failing(layers=1, attempts=3).amplification[-1] == 3.0
    capped = failing(layers=1, attempts=3, budget=True, seed=1, **BUDGET_RUN).amplification[-1]
    assert capped == pytest.approx(1.1, abs=0.02)
