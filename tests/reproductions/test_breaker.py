"""Reproduction f: a circuit breaker against a dependency that is down for 60 seconds.

Source: the circuit breaker as Resilience4j documents it (closed, open and
half-open states; a failure-rate threshold over a count or time window; a
minimum number of calls; a wait in the open state; a fixed number of calls
permitted in half-open), <https://resilience4j.readme.io/docs/circuitbreaker>,
run with the defaults of Resilience4j, Hystrix, Polly v8 and pybreaker as
COURSE.md section 5 lists them (see :class:`course.sim.CircuitBreaker`).

The scenario (:mod:`course.models.breaker`): A calls B 30 times a second
through ``[Fallback, CircuitBreaker, Timeout(1 s)]``; B is down from t = 30 s,
refusing connections, and comes back after the outage.

"Half-open probes' time" is defined concretely by
:func:`course.models.breaker.probe_time`: the probes are the next
``half_open_calls`` calls to arrive, which at a Poisson rate λ take k/λ on
average with a standard deviation of √k/λ; allow four standard deviations,
then one 1 s timeout for the last probe to answer: (k + 4√k)/λ + 1 s.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pytest

from course.models import breaker as model

PRESETS = ("resilience4j", "hystrix", "polly", "pybreaker")
#: A custom breaker with several probes, so "at most the configured number" has room to go wrong.
CUSTOM = model.Custom(failure_rate=0.5, window=("count", 20), minimum_calls=10, open_wait=5.0, half_open_calls=5)


@lru_cache(maxsize=None)
def run(preset, outage_s=60.0, failure="refuse", custom=None, seed=1):
    return model.simulate(preset, outage_s=outage_s, failure=failure, custom=custom, seed=seed)


@pytest.mark.parametrize("seed", (1, 2))
@pytest.mark.parametrize("preset", PRESETS)
def test_breaker_cuts_calls_reaching_the_dead_b_by_at_least_90_percent(preset, seed):
    """Breaker (Resilience4j docs; library defaults from COURSE.md): with B down for 60 s under steady load,
    each library's default breaker cuts the calls that reach B during the outage by at least 90%
    compared with no breaker."""
    without = run("none", seed=seed).summary
    with_breaker = run(preset, seed=seed).summary
    assert without["reached_b_during"] == without["requests_during"] > 1500  # every call reaches B
    assert with_breaker["reached_b_during"] <= 0.10 * without["reached_b_during"]
    assert with_breaker["fallback_share_during"] == 1.0  # and A served the fallback to every caller


@pytest.mark.parametrize("outage_s", (60.0, 62.0, 75.0, 90.0))
@pytest.mark.parametrize("failure", ("refuse", "hang"))
@pytest.mark.parametrize("preset", PRESETS + ("custom",))
def test_breaker_closes_within_its_open_wait_plus_its_probes_after_b_returns(preset, failure, outage_s):
    """Breaker (Resilience4j docs): after B returns, the breaker closes again within its open wait plus
    the time its half-open probes take (:func:`course.models.breaker.probe_time`), for outages that end
    at different points of the open wait, whether B refused calls or hung. (A 62 s outage ends just after
    Resilience4j's first probes failed: it recovers about 60.7 s later, against a bound of 61.75 s.)"""
    custom = CUSTOM if preset == "custom" else None
    s = run(preset, outage_s, failure, custom).summary
    assert s["times_opened"] >= 1
    bound = s["open_wait"] + model.probe_time(s["half_open_calls"])
    assert 0 <= s["time_to_recover"] <= bound, (s["time_to_recover"], bound)


@pytest.mark.parametrize("failure", ("refuse", "hang"))
@pytest.mark.parametrize("preset", PRESETS + ("custom",))
def test_half_open_never_lets_more_than_the_configured_probes_through(preset, failure):
    """Breaker (Resilience4j docs, permittedNumberOfCallsInHalfOpenState): while half-open the breaker lets
    through at most the configured number of probe calls. Counted from B's own records: the calls that
    arrived at B during each half-open period."""
    custom = CUSTOM if preset == "custom" else None
    r = run(preset, 60.0, failure, custom)
    probes = r.summary["probes"]
    allowed = r.summary["half_open_calls"]
    assert probes, "the breaker never went half-open"
    assert max(probes) <= allowed
    assert max(probes) == allowed  # the probes were used, so the check above had something to count
    if preset in ("hystrix", "polly", "custom"):  # short open waits: many half-open periods during the outage
        assert len(probes) >= 5


def test_the_presets_differ_as_their_defaults_say():
    """The comparison the lesson shows, on the same 60 s outage: pybreaker (5 failures in a row) opens
    first, Hystrix (50% over a 10 s window) last; the 5 s open waits (Hystrix, Polly) keep probing,
    the 60 s ones (Resilience4j, pybreaker) open once."""
    s = {p: run(p).summary for p in PRESETS}
    assert s["pybreaker"]["time_to_open"] < s["resilience4j"]["time_to_open"] < s["hystrix"]["time_to_open"]
    assert s["pybreaker"]["reached_b_during"] <= 10
    assert all(math.isfinite(v["time_to_open"]) for v in s.values())
    assert s["resilience4j"]["times_opened"] == s["pybreaker"]["times_opened"] == 1
    assert s["hystrix"]["times_opened"] >= 10 and s["polly"]["times_opened"] >= 10
