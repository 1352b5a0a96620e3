"""Lesson 08's rate-limit dashboard, driven headless: it builds, every control reaches the picture, and each front
door shows what the lesson says it shows."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards.rate_limit import POLICY_OPTIONS, RateLimitDashboard, rate_limit_dashboard
from course.models import backpressure as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing


@pytest.fixture(scope="module")
def d():
    return RateLimitDashboard()


def _at(line, t):
    x, y = line.get_data()
    return float(np.interp(t, np.asarray(x, dtype=float), np.asarray(y, dtype=float)))


def test_registered_with_its_factory():
    from course.dashboards import ALL  # the lead adds the entry when lesson 08 is assembled
    assert ALL.get("rate_limit") is RateLimitDashboard


def test_factory_presets_controls():
    with without_drawing():
        made = rate_limit_dashboard(policy="token_bucket", rate=15)
        assert isinstance(made, RateLimitDashboard)
        assert made.params["policy"] == "token_bucket" and made.params["rate"] == 15
        with pytest.raises(ValueError, match="'burst'"):
            rate_limit_dashboard(burst=3)


def test_builds_a_png_with_a_summary(d):
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)
    assert len(d.image.value) > 10_000
    assert d.status.value
    assert isinstance(d.widget(), widgets.VBox)
    assert len(d.controls_by_name) <= 5
    assert set(d.timings) == {"simulate", "total"} and d.timings["simulate"] < d.timings["total"]


def test_controls_cannot_reach_invalid_values():
    with without_drawing():
        c = RateLimitDashboard().controls_by_name
    assert c["multiple"].min >= 1 and c["rate"].min > 0
    assert c["max_in_flight"].min >= 1 and c["seed"].min >= 0
    assert {value for _, value in POLICY_OPTIONS} == set(model.POLICIES)
    for control in c.values():
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            assert control.continuous_update is False


def test_no_limit_queue_follows_theory_and_the_status_says_so(d):
    d.set(policy="none", multiple=10, seed=1)
    s = d.result["chosen"].summary
    queue = d.lines_queue["none"]
    assert _at(queue, model.BURST_END - 0.5) == pytest.approx(s["queue_at_burst_end"], rel=0.02)
    assert _at(d.line_backlog, model.BURST_END) == pytest.approx(2400, rel=0.01)
    assert s["queue_at_burst_end"] == pytest.approx(2400, rel=0.08)  # one seed: wide
    assert "theory λ − μ = 40/s" in d.status.value
    assert "480 s" in d.status.value
    assert d.lines_queue["none"].get_linewidth() > d.lines_queue["token_bucket"].get_linewidth()
    # The top panel: everything is let in, nothing rejected.
    np.testing.assert_allclose(d.line_admitted.get_ydata(), d.line_offered.get_ydata())
    assert np.all(np.asarray(d.line_rejected.get_ydata()) == 0)


def test_token_bucket_caps_what_it_lets_in(d):
    d.set(policy="token_bucket", multiple=10, rate=8, seed=1)
    assert d.lines_queue["token_bucket"].get_linewidth() > d.lines_queue["none"].get_linewidth()
    admitted = np.asarray(d.line_admitted.get_ydata())
    assert admitted.max() <= 8 + model.BUCKET_BURST
    assert "bound r·t + b = 490" in d.status.value
    assert "Retry-After ≤" in d.status.value
    assert "r = 8 req/s, b = 10" in d.title_rates.get_text()
    burst = (d.result["chosen"].t > model.BURST_START) & (d.result["chosen"].t < model.BURST_END)
    assert np.mean(np.asarray(d.line_rejected.get_ydata())[burst]) == pytest.approx(42, rel=0.1)


def test_a_token_bucket_above_capacity_lets_the_queue_grow(d):
    d.set(policy="token_bucket", multiple=10, rate=8, seed=1)
    low = _at(d.lines_queue["token_bucket"], model.BURST_END - 0.5)
    d.set(rate=15)
    high = _at(d.lines_queue["token_bucket"], model.BURST_END - 0.5)
    assert low < 20 < 150 < high


def test_concurrency_limit_status_quotes_littles_law(d):
    d.set(policy="concurrency_limit", multiple=10, max_in_flight=10, seed=1)
    assert "L/μ = 1.00 s" in d.status.value
    assert "at most L = 10 in flight" in d.title_rates.get_text()
    assert np.nanmax(np.asarray(d.lines_queue["concurrency_limit"].get_ydata())) <= 10 - model.WORKERS
    d.set(max_in_flight=40)
    assert "L/μ = 4.00 s" in d.status.value


def test_seed_changes_the_draw_not_the_theory(d):
    d.set(policy="none", multiple=10, seed=1)
    first = np.asarray(d.lines_queue["none"].get_ydata()).copy()
    theory = np.asarray(d.line_backlog.get_ydata()).copy()
    d.set(seed=2)
    assert not np.array_equal(first, d.lines_queue["none"].get_ydata())
    np.testing.assert_array_equal(theory, d.line_backlog.get_ydata())
