"""Lesson 03's dashboards (breaker, bulkhead, tail at scale, overload), driven headless: their axes have
units, the controls cannot reach invalid settings, and each moves the right way.

``tests/lessons/test_dashboards.py`` runs the generic checks (builds a PNG, every control at its two ends
redraws, sliders update on release) over every dashboard in ``course.dashboards.ALL``, these four included.
"""

from __future__ import annotations

import numpy as np
import pytest

from course.dashboards import (ALL, BreakerDashboard, BulkheadDashboard, OverloadDashboard, TailAtScaleDashboard,
                               breaker_dashboard, bulkhead_dashboard, overload_dashboard, tail_at_scale_dashboard)
from course.dashboards.breaker import state_band
from course.models import breaker, bulkhead, tail_at_scale, throttling
from course.sim.policies import CLOSED, HALF_OPEN, OPEN
from tests.lessons.dashboard_helpers import without_drawing

LESSON03 = {"breaker": BreakerDashboard, "bulkhead": BulkheadDashboard, "tail_at_scale": TailAtScaleDashboard,
            "overload": OverloadDashboard}


@pytest.fixture(scope="module", params=sorted(LESSON03))
def named_dashboard(request):
    return request.param, LESSON03[request.param]()


def test_registered_with_factories():
    with without_drawing():
        assert {name: ALL[name] for name in LESSON03} == LESSON03
        assert isinstance(breaker_dashboard(preset="hystrix"), BreakerDashboard)
        assert isinstance(bulkhead_dashboard(pools="separate"), BulkheadDashboard)
        assert isinstance(tail_at_scale_dashboard(fanout=10), TailAtScaleDashboard)
        assert isinstance(overload_dashboard(throttle=True), OverloadDashboard)


def test_axes_have_units(named_dashboard):
    _, d = named_dashboard
    for ax in d.figure.axes:
        assert ax.get_ylabel()
    labels = " ".join(ax.get_xlabel() + " " + ax.get_ylabel() for ax in d.figure.axes)
    assert "(s)" in labels or "(ms" in labels or "per second" in labels


def test_controls_cannot_reach_invalid_values():
    with without_drawing():
        b = BreakerDashboard().controls_by_name
        assert b["outage_s"].min > 0
        assert b["outage_s"].max + breaker.OUTAGE_START + breaker.AFTER > b["outage_s"].max  # the run outlasts it
        assert 0 < b["failure_rate"].min and b["failure_rate"].max <= 100
        assert b["minimum_calls"].min >= 1 and b["half_open_calls"].min >= 1  # zero probes is invalid
        assert b["open_wait"].min > 0
        assert all(value >= 0 for _, value in b["slow_call_ms"].options)
        h = BulkheadDashboard().controls_by_name
        assert all(value >= 1 for _, value in h["b_slowdown"].options)
        assert h["rate"].min > 0 and h["a_threads"].min >= 1 and h["pool_size"].min >= 1
        t = TailAtScaleDashboard().controls_by_name
        assert all(n >= 1 for _, n in t["fanout"].options)
        assert all(0 < p < 1 for _, p in t["p_slow"].options)
        assert t["hedge_delay_ms"].min > 0  # a negative or zero hedge delay is invalid
        o = OverloadDashboard().controls_by_name
        assert o["overload"].min > 0
        assert o["k"].min >= 1  # K < 1 throttles a healthy backend
        # Out-of-range presets are clamped to the range, never passed to the model.
        assert BreakerDashboard(half_open_calls=0).params["half_open_calls"] == 1
        assert TailAtScaleDashboard(hedge_delay_ms=-5).params["hedge_delay_ms"] == t["hedge_delay_ms"].min


def test_models_reject_nonsense_with_a_reason():
    with pytest.raises(ValueError, match="half_open_calls"):
        breaker.simulate("custom", custom=breaker.Custom(half_open_calls=0))
    with pytest.raises(ValueError, match="preset"):
        breaker.simulate("netflix")
    with pytest.raises(ValueError, match="hedge_delay"):
        tail_at_scale.simulate(10, 0.01, hedge=True, hedge_delay=-0.01)
    with pytest.raises(ValueError, match="p_slow"):
        tail_at_scale.simulate(10, 1.5)
    with pytest.raises(ValueError, match="b_slowdown"):
        bulkhead.simulate(b_slowdown=0.5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        throttling.simulate(k=0.5, duration=5.0)


# -- Direction ----------------------------------------------------------------------------------

def _during(line, start, end):
    x, y = (np.asarray(v, dtype=float) for v in line.get_data())
    return y[(x > start) & (x < end)]


def test_breaker_on_means_fewer_calls_reach_b():
    d = BreakerDashboard(preset="none")
    start, end = d.result.outage
    without = _during(d.line_b, start, end).sum()
    assert d.result.summary["reached_b_during"] == d.result.summary["requests_during"]
    for preset in ("resilience4j", "hystrix", "polly", "pybreaker", "custom"):
        d.set(preset=preset)
        with_breaker = _during(d.line_b, start, end).sum()
        assert with_breaker < 0.1 * without, preset
        assert d.result.summary["reached_b_during"] < 0.1 * d.result.summary["requests_during"]


def test_breaker_state_band_shows_open_during_the_outage():
    d = BreakerDashboard(preset="resilience4j")
    band = d.band.get_array()
    start, end = d.result.outage
    step = d.result.duration / band.shape[1]
    middle = int((start + end) / 2 / step)
    assert tuple(band[0, middle]) == pytest.approx(state_band([(0.0, OPEN)], 1.0)[0, 0])
    assert tuple(band[0, 2]) == pytest.approx(state_band([(0.0, CLOSED)], 1.0)[0, 0])
    probing = state_band([(0.0, CLOSED), (1.0, HALF_OPEN), (1.01, CLOSED)], 2.0, step=0.25)
    assert tuple(probing[0, 4]) == pytest.approx(state_band([(0.0, HALF_OPEN)], 1.0)[0, 0])


def test_fallback_turns_failures_into_fallback_answers():
    d = BreakerDashboard(preset="resilience4j", fallback=False)
    start, end = d.result.outage
    assert _during(d.line_fallback, start + 2, end - 2).sum() == 0
    assert _during(d.line_failed, start + 2, end - 2).mean() > 20
    d.set(fallback=True)
    assert _during(d.line_failed, start + 2, end - 2).sum() == 0
    assert _during(d.line_fallback, start + 2, end - 2).mean() > 20


def test_separate_pools_mean_a_lower_c_p99_while_b_is_slow():
    d = BulkheadDashboard(pools="shared", b_slowdown=20.0)
    start, end = bulkhead.INCIDENT
    shared = np.nanmax(_during(d.line_c, start, end))
    d.set(pools="separate")
    separate = np.nanmax(_during(d.line_c, start, end))
    assert separate < shared / 10
    assert d.result.summary["c_p99_during"] < d.result.summary["b_p99_during"]


def test_more_fanout_means_more_slow_requests():
    d = TailAtScaleDashboard(p_slow=0.01)
    shares = []
    for fanout in (1, 10, 100, 1000):
        d.set(fanout=fanout)
        shares.append(float(d.dot.get_ydata()[0]))
    assert shares == sorted(shares)
    assert shares[0] < 0.1 and shares[-1] > 0.9


def test_hedging_on_lowers_the_p99():
    d = TailAtScaleDashboard(fanout=100, p_slow=0.01, hedge=False)
    plain = float(d.line_p99.get_xdata()[0])
    d.set(hedge=True, hedge_delay_ms=23)
    hedged = float(d.line_p99.get_xdata()[0])
    assert hedged < plain / 5
    assert 0 < d.result.extra_load < 0.1
    assert "leaf requests" in d.title_ccdf.get_text()


def test_shedding_and_throttling_move_overload_the_right_way():
    d = OverloadDashboard(overload=3.0, shedding="none", throttle=False)
    assert d.result.summary["goodput"] < 1  # an unbounded queue: every caller gives up
    d.set(shedding="bounded_queue")
    bounded = d.result.summary
    assert bounded["goodput"] > 0.9 * bounded["capacity"]
    d.set(throttle=True)
    throttled = d.result.summary
    assert throttled["backend_rejected"] < 0.7 * bounded["backend_rejected"]
    assert throttled["throttled_share"] > 0.2
