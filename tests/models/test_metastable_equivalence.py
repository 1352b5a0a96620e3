"""The metastable dashboard's fast model is the same system as the one built from course.sim's parts.

:func:`course.models.metastable.simulate` is written directly at the
engine's level (lazy database, FIFO deadlines) so that the dashboard can run
it in a fraction of a second; :func:`~course.models.metastable.simulate_stack`
builds the system the lesson describes from ``Service``, ``Client([Retry,
Timeout])`` and ``OpenLoop``. Here both run short versions of the lesson's
experiments and must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from course.models import metastable as model

#: 20 s at 280 QPS with a 5 s outage from t = 5 s: healthy, outage, stuck (or not) after it.
SHORT = dict(duration=20.0, outage_start=5.0, outage_s=5.0, change_at=15.0)

SETTINGS = [
    dict(),  # Bronson's app: retry once; the stall leaves it stuck
    dict(policy="none"),
    dict(policy="budget_10", seed=2),
    dict(policy="budget_2", load_after=0.5),
    dict(outage_kind="refuse"),
    dict(drop_expired=True, rate=200.0, seed=3),
]


def both(**settings):
    params = {**SHORT, **settings}
    return model.simulate(**params), model.simulate_stack(**params)


def test_attempts_and_goodput_per_second_agree_on_a_short_stalled_run():
    fast, stack = both()
    for series in ("offered", "attempts", "goodput", "wasted"):
        a, b = getattr(fast, series), getattr(stack, series)
        assert a.sum() == pytest.approx(b.sum(), rel=0.02), series
        assert np.allclose(a, b, rtol=0.03, atol=3.0), series  # per 1 s window
    assert np.allclose(fast.db_queue, stack.db_queue, rtol=0.03, atol=3.0)
    # And the run did what the lesson says: stuck at about 2× after the stall, almost no goodput.
    after = fast.t > 11
    assert np.mean(fast.attempts[after]) == pytest.approx(560, rel=0.1)
    assert np.mean(fast.goodput[after]) < 0.1 * 280


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_same_series_and_summary_for_every_control(settings):
    # The fast model replays the stack's random draws and its order of events, so today the two agree to the
    # last bit; the tolerances only leave room for tie-breaking between events at the very same instant.
    fast, stack = both(**settings)
    for series in ("offered", "attempts", "goodput", "wasted", "db_queue"):
        assert np.allclose(getattr(fast, series), getattr(stack, series), rtol=0.03, atol=3.0), series
    for key in ("after_attempts_ratio", "after_goodput_ratio", "attempts_per_request", "healthy_success"):
        assert fast.summary[key] == pytest.approx(stack.summary[key], rel=0.02, abs=0.01, nan_ok=True), key
    assert fast.summary["recovered_at"] == pytest.approx(stack.summary["recovered_at"], abs=1.0, nan_ok=True)
    assert fast.outage == stack.outage and fast.change_at == stack.change_at
