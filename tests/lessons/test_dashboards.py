"""Every dashboard in ``course.dashboards.ALL``, driven headless: builds, draws, responds to every control,
says what it shows, and moves the right way."""

from __future__ import annotations

import statistics

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards import ALL, SlowDependencyDashboard, UtilisationDashboard, slow_dependency_dashboard, \
    utilisation_dashboard
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing



@pytest.fixture(scope="module", params=sorted(ALL))
def named_dashboard(request):
    return request.param, ALL[request.param]()


def test_registry_and_factories():
    # Later lessons add their own dashboards to ALL; their test modules check those entries.
    assert {"slow_dependency": SlowDependencyDashboard, "utilisation": UtilisationDashboard}.items() <= ALL.items()
    assert isinstance(slow_dependency_dashboard(rate=60), SlowDependencyDashboard)
    assert isinstance(utilisation_dashboard(rho=0.6), UtilisationDashboard)


def test_builds_and_draws_a_png(named_dashboard):
    _, d = named_dashboard
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)
    assert len(d.image.value) > 10_000
    assert d.status.value
    assert set(d.timings) == {"simulate", "total"}
    assert isinstance(d.widget(), widgets.VBox)


# Every control at its two ends changing the picture is checked where those pictures are drawn anyway:
# tests/lessons/test_dashboard_pictures.py::test_pictures_at_every_extreme.


def test_a_slider_drag_triggers_one_update(named_dashboard):
    # The observe wiring (what a browser drag does), not only set().
    _, d = named_dashboard
    slider = next(c for c in d.controls_by_name.values() if isinstance(c, (widgets.IntSlider, widgets.FloatSlider)))
    assert slider.continuous_update is False
    before = bytes(d.image.value)
    slider.value = slider.max if slider.value != slider.max else slider.min
    assert bytes(d.image.value) != before


def test_sliders_do_not_update_while_dragging(named_dashboard):
    _, d = named_dashboard
    for control in d.controls_by_name.values():
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            assert control.continuous_update is False


def test_axes_are_labelled_titled_and_explained(named_dashboard):
    _, d = named_dashboard
    d.render_png()
    axes = d.figure.axes
    for ax in axes:
        assert ax.get_ylabel(), f"an axes without a y label: {ax.get_title()!r}"
        ticks_shown = ax.xaxis.get_visible() and any(t.get_visible() and t.get_text() for t in ax.get_xticklabels())
        if ticks_shown:
            assert ax.get_xlabel(), f"x tick labels but no x label: {ax.get_title()!r}"
    assert any(ax.get_xlabel() for ax in axes)
    titled = [ax for ax in axes if ax.get_title()]
    assert titled, "no titles"
    assert any(ax.get_legend() is not None for ax in axes) or d.figure.legends, "no legend"


def test_unknown_control_names_raise_value_error(named_dashboard):
    _, d = named_dashboard
    with pytest.raises(ValueError, match="'no_such_control'"):
        type(d)(no_such_control=1)
    before = dict(d.params)
    with pytest.raises(ValueError, match="'nope'"):
        d.set(nope=2)
    assert d.params == before


def test_controls_cannot_reach_invalid_values():
    with without_drawing():
        sd = SlowDependencyDashboard().controls_by_name
        assert sd["b_tail"].min > 1  # p99 / median must exceed 1
        for name in ("rate", "b_median_ms", "timeout_ms"):
            assert sd[name].min > 0
        for name in ("b_workers", "a_threads"):
            assert sd[name].min >= 1
        assert all(value >= 1 for _, value in sd["slowdown"].options)
        u = UtilisationDashboard().controls_by_name
        assert 0 < u["rho"].min and u["rho"].max < 1
        assert u["workers"].min >= 1
        assert u["service_ms"].min > 0
        # Out-of-range presets are clamped to the range, never passed to the model.
        assert SlowDependencyDashboard(b_tail=0.5).params["b_tail"] == sd["b_tail"].min
        assert UtilisationDashboard(rho=1.5).params["rho"] == u["rho"].max
        assert UtilisationDashboard(workers=0).params["workers"] == 1


# -- Direction: the lesson dashboard --------------------------------------------------------------

def _no_b_p99_during(d):
    """The dotted line's highest point during the incident, read from the drawn artist (ms)."""
    x, y = d.line_a99_nob.get_data()
    x, y = np.asarray(x), np.asarray(y)
    return np.nanmax(y[(x > 20) & (x < 40)])


def test_slower_b_without_timeout_slows_requests_that_never_call_b():
    d = SlowDependencyDashboard(slowdown=5.0, b_median_ms=20)
    fast = _no_b_p99_during(d), d.result.summary["a_p99_without_b_during"]
    d.set(b_median_ms=100)
    slow = _no_b_p99_during(d), d.result.summary["a_p99_without_b_during"]
    assert slow[0] > 10 * fast[0]
    assert slow[1] > 10 * fast[1]


def test_timeout_at_10x_protects_requests_not_calling_b_with_bounded_errors():
    d = SlowDependencyDashboard(slowdown=10.0)
    without = d.result.summary
    line_without = _no_b_p99_during(d)
    d.set(timeout_on=True, timeout_ms=300)
    with_timeout = d.result.summary
    assert with_timeout["a_p99_without_b_during"] < without["a_p99_without_b_during"] / 100
    assert _no_b_p99_during(d) < line_without / 100
    assert with_timeout["a_error_share_during"] <= with_timeout["a_calls_b_share_during"]
    assert with_timeout["a_error_share_during"] <= 0.5 + 0.05  # b_share 0.5, plus sampling noise
    # The timeout line is drawn at the timeout.
    assert d.line_timeout.get_ydata()[0] == 300


def test_more_threads_with_b_healthy_changes_little():
    d = SlowDependencyDashboard(slowdown=1.0, a_threads=20)
    before = d.result.summary
    d.set(a_threads=64)
    after = d.result.summary
    for key in ("a_p99_without_b_before", "a_p99_during", "a_p99_without_b_during"):
        assert after[key] == pytest.approx(before[key], rel=0.1)


def test_incident_shading_and_title_follow_the_dropdown():
    d = SlowDependencyDashboard(slowdown=1.0)
    assert not any(span.get_visible() for span in d.incident_spans)
    assert "No incident" in d.incident_label.get_text()
    d.set(slowdown=5.0)
    assert all(span.get_visible() for span in d.incident_spans)
    assert "5× slower" in d.incident_label.get_text()


# -- Direction: the utilisation dashboard -----------------------------------------------------------

def test_raising_rho_raises_simulated_response_time():
    d = UtilisationDashboard(workers=1)
    means, p99s = [], []
    for rho in (0.3, 0.5, 0.7, 0.9):
        d.set(rho=rho)
        means.append(float(d.dot_mean.get_ydata()[0]))
        p99s.append(float(d.dot_p99.get_ydata()[0]))
    assert means == sorted(means) and means[-1] > 4 * means[0]
    assert p99s == sorted(p99s)


@pytest.mark.parametrize("workers", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("rho", [0.3, 0.5, 0.7])
def test_simulation_within_15_percent_of_mmc_theory_at_moderate_rho(rho, workers):
    d = UtilisationDashboard(rho=rho, workers=workers)
    r = d.result
    assert r.mean_ratio == pytest.approx(r.theory_ratio, rel=0.15)
    # The theory line passes through the theory value at this ρ.
    x, y = d.line_mmc.get_data()
    assert np.interp(rho, x, y) == pytest.approx(r.theory_ratio, rel=0.01)


def test_theory_lines_mm1_and_mmc():
    d = UtilisationDashboard(workers=1)
    x, mmc = d.line_mmc.get_data()
    _, mm1 = d.line_mm1.get_data()
    np.testing.assert_allclose(mmc, mm1, rtol=1e-9)  # one worker: M/M/c is M/M/1
    d.set(workers=10)
    _, mmc10 = d.line_mmc.get_data()
    assert np.all(np.asarray(mmc10) <= np.asarray(mm1) + 1e-12)
    assert "10 workers" in d.legend.get_texts()[1].get_text()


def test_littles_law_holds_in_the_utilisation_model():
    from course.models import utilisation
    r = utilisation.simulate(rho=0.8, workers=2)
    assert r.mean_in_system == pytest.approx(r.arrival_rate * r.mean_response_s, rel=1e-6)


def test_simulation_is_a_small_share_of_an_update():
    # One update's simulation must stay small next to drawing (sim_share <= 0.3). Medians over
    # several updates, so a busy machine does not decide the result.
    d = UtilisationDashboard()
    shares = []
    for rho in (0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98):
        d.set(rho=rho)
        shares.append(d.timings["simulate"] / d.timings["total"])
    assert statistics.median(shares) <= 0.3, shares
