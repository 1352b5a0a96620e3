"""Lesson 08's load-balancing dashboard, driven headless: it builds, shows what the lesson says, refuses bad values."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards import load_balancing as dash
from course.dashboards.load_balancing import LoadBalancingDashboard, load_balancing_dashboard
from course.models import load_balancing as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE


@pytest.fixture(scope="module")
def d():
    return LoadBalancingDashboard()


def _heights(d):
    return np.array([bar.get_height() for bar in d.bars.patches])


def test_builds_a_png_with_a_summary_and_labelled_axes(d):
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)
    assert "round robin" in d.status.value and "replica 7" in d.status.value
    assert isinstance(d.widget(), widgets.VBox)
    for control in d.controls_by_name.values():
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            assert control.continuous_update is False
    for ax in d.figure.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(d.controls_by_name) <= 5
    assert isinstance(load_balancing_dashboard(policy="two_choices"), LoadBalancingDashboard)


def test_round_robin_gives_the_sick_replica_its_one_in_twenty_and_p99_is_the_timeout(d):
    d.set(policy="round_robin", ejection=False, sick_factor=10, load=0.6, seed=1)
    heights = _heights(d)
    assert heights[model.SICK] == pytest.approx(0.05, abs=0.001)
    assert tuple(d.bars.patches[model.SICK].get_facecolor()[:3]) != tuple(d.bars.patches[0].get_facecolor()[:3])
    assert d.result.p99 == pytest.approx(model.TIMEOUT)
    assert "5.0%" in d.status.value and "500 ms" in d.status.value
    assert not d.span.get_visible()


def test_ejection_empties_the_sick_bar_and_shades_the_ejection(d):
    d.set(policy="two_choices", ejection=True)
    assert _heights(d)[model.SICK] < 0.005
    assert d.span.get_visible() and d.span.get_x() == pytest.approx(d.result.first_ejection)
    assert "Ejected after 5 errors in a row" in d.status.value
    _, p99 = d.line_p99.get_data()
    assert np.nanmax(np.asarray(p99)[5:]) < model.TIMEOUT * 1000


def test_least_outstanding_sends_the_sick_one_less(d):
    d.set(policy="least_outstanding", ejection=False)
    assert _heights(d)[model.SICK] < 0.02


def test_every_control_changes_the_result():
    base = dash.simulate()
    for change in ({"policy": "random"}, {"ejection": True}, {"sick_factor": 2}, {"load": 0.3}, {"seed": 2}):
        other = dash.simulate(**{**dict(policy="round_robin", ejection=False, sick_factor=10, load=0.6, seed=1),
                                 **change})
        assert not np.array_equal(other.latency, base.latency) or not np.array_equal(other.host, base.host)


@pytest.mark.parametrize("kwargs, message", [
    ({"policy": "fastest"}, "policy must be one of"),
    ({"sick_factor": 0}, "sick_factor must be a whole number >= 1"),
    ({"load": 1.2}, "load must be a utilisation"),
    ({"seed": -3}, "seed"),
])
def test_bad_values_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dash.simulate(**kwargs)


def test_a_setting_seen_before_is_not_simulated_again(d):
    # How fast an update is, is the benchmark's job (make bench); here, that a repeat is served from the cache.
    dash.run.cache_clear()
    d.set(policy="round_robin", ejection=True, seed=3)
    d.set(policy="round_robin", ejection=True, seed=4)
    d.set(policy="round_robin", ejection=True, seed=3)
    assert dash.run.cache_info().misses == 2 and dash.run.cache_info().hits >= 1
