"""Lesson 08's event-log dashboard, driven headless: it builds, every control does what it says, and the pictures
show the lag the model computes."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards.event_log import EventLogDashboard, event_log_dashboard, simulate_cached
from course.models import event_log as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing


@pytest.fixture(scope="module")
def d():
    return EventLogDashboard()


def test_factory_and_defaults():
    with without_drawing():
        assert isinstance(event_log_dashboard(max_attempts=3), EventLogDashboard)
        assert EventLogDashboard().params == {"burst_rate": 100, "consumer_rate": 60, "poison": True,
                                              "max_attempts": 0, "seed": 1}


def test_builds_a_png_with_labelled_axes_and_a_summary(d):
    assert bytes(d.image.value).startswith(PNG_SIGNATURE) and len(d.image.value) > 10_000
    assert d.status.value and isinstance(d.widget(), widgets.VBox)
    for ax in d.figure.axes:
        assert ax.get_xlabel() == "time (s)" and "events" in ax.get_ylabel() and ax.get_legend() is not None
    for control in d.controls_by_name.values():
        if isinstance(control, widgets.IntSlider):
            assert control.continuous_update is False


def test_lines_are_the_model_run(d):
    d.set(burst_rate=100, consumer_rate=60, poison=False, max_attempts=0, seed=1)
    r = d.result
    assert r is simulate_cached(100, 60, False, 0, 1)
    assert np.array_equal(d.line_total.get_ydata(), r.total_lag)
    assert np.array_equal(d.line_theory.get_ydata(), model.fluid_lag(r.grid))
    for p, line in enumerate(d.part_lines):
        assert np.array_equal(line.get_ydata(), r.lag[p])
    assert "No poison message" in d.title_parts.get_text()
    assert "theory (λ1 − μ)·D = 2,400" in d.status.value and "(theory 210 s)" in d.status.value
    assert "about <b>40 s</b> later" in d.status.value


def test_no_dlq_leaves_partition_0_stuck(d):
    d.set(poison=True, max_attempts=0, seed=1)
    r = d.result
    p = model.POISONED
    assert r.lag[p, -1] > 400 and all(r.lag[q, -1] < 20 for q in range(model.PARTITIONS) if q != p)
    assert "stuck since" in d.title_parts.get_text() and "no DLQ" in d.title_parts.get_text()
    assert "growing at its arrival rate (10 events/s)" in d.status.value


def test_dlq_parks_one_message(d):
    d.set(poison=True, max_attempts=3, seed=1)
    assert d.result.dead_letters == 1
    assert "1 message parked in the DLQ" in d.title_parts.get_text()
    assert "<b>1</b> message in the DLQ" in d.status.value


def test_a_slow_projection_has_not_reached_the_poison_yet(d):
    d.set(burst_rate=200, consumer_rate=50, poison=True, max_attempts=3, seed=1)
    assert d.result.poison_reached is None and d.result.dead_letters == 0
    assert "still queued" in d.title_parts.get_text()
    assert "has not been reached yet" in d.status.value
    d.set(burst_rate=100, consumer_rate=60)


def test_a_setting_seen_before_is_not_simulated_again(d):
    # How fast an update is, is the benchmark's job (make bench); here, that a repeat is served from the cache.
    simulate_cached.cache_clear()
    d.set(seed=7)
    d.set(seed=8)
    d.set(seed=7)
    assert simulate_cached.cache_info().misses == 2 and simulate_cached.cache_info().hits >= 1
