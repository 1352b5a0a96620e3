"""Lesson 08's cache-stampede dashboard, driven headless: it builds, every control changes the picture, and the
dots, lines and status say what the lesson says they show."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards.base import Dashboard
from course.dashboards.cache_stampede import CacheStampedeDashboard, cache_stampede_dashboard, theory_calls
from course.models import cache_stampede as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, extremes


@pytest.fixture(scope="module")
def d():
    return cache_stampede_dashboard()


def test_builds_a_png_with_controls_and_a_status(d):
    assert isinstance(d, CacheStampedeDashboard) and isinstance(d, Dashboard)
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)
    assert len(d.controls_by_name) <= 5
    for control in d.controls_by_name.values():
        if isinstance(control, widgets.IntSlider):
            assert control.continuous_update is False
    assert d.ax_latency.get_xlabel() and d.ax_calls.get_ylabel() and d.ax_latency.get_ylabel()
    assert "database calls per expiry" in d.status.value and "hit ratio" in d.status.value


def test_plain_cache_dots_sit_on_one_plus_lambda_delta(d):
    d.set(fix="none", rate=1000, recompute_ms=200, ttl_s=10, seed=1)
    _, calls = d.dots.get_data()
    assert len(calls) >= 15 and abs(np.mean(calls) - 201) < 15
    assert d.line_theory.get_ydata()[0] == pytest.approx(201)
    assert np.nanmax(d.line_p99.get_data()[1]) == pytest.approx(201)


def test_each_fix_changes_calls_and_latency(d):
    seen = {}
    for fix in model.FIXES:
        d.set(fix=fix, rate=1000, recompute_ms=200, ttl_s=10, seed=1)
        seen[fix] = (d.result.calls_per_expiry, d.result.cold_calls, d.result.latency_p99, bytes(d.image.value))
        assert d.line_theory.get_ydata()[0] == pytest.approx(theory_calls(fix, 1000, 0.2))
    assert seen["coalescing"][:2] == (1.0, 1) and seen["early_coalescing"][:2] == (1.0, 1)
    assert seen["early"][1] > 100  # XFetch has nothing to serve on a cold start
    assert seen["early"][0] < 6
    assert seen["early"][2] < 0.002 < seen["coalescing"][2] < seen["none"][2]
    assert len({picture for *_, picture in seen.values()}) == 4


def test_every_control_end_to_end_changes_the_picture(d):
    defaults = dict(fix="none", rate=1000, recompute_ms=200, ttl_s=10, seed=1)
    for name, control in d.controls_by_name.items():
        pictures = set()
        for value in extremes(control):
            d.set(**{**defaults, name: value})
            pictures.add(bytes(d.image.value))
        assert len(pictures) == 2, name


def test_status_counts_are_singular_when_one():
    d = cache_stampede_dashboard(fix="coalescing")
    assert "<b>1</b> call ·" in d.status.value and "1 calls" not in d.status.value


def test_a_setting_seen_before_is_not_simulated_again():
    # How fast an update is, is the benchmark's job (make bench); here, that a repeat is served from the cache.
    d = cache_stampede_dashboard()
    model.simulate_cached.cache_clear()
    d.set(rate=1500)
    d.set(rate=1000)
    d.set(rate=1500)
    assert model.simulate_cached.cache_info().misses == 2 and model.simulate_cached.cache_info().hits >= 1
