"""Lesson 02's dashboards driven headless: they build, every control redraws, and they move the right way.

``tests/lessons/test_dashboards.py`` runs its generic checks over every
dashboard in ``course.dashboards.ALL``, these three included; the tests here
are specific to lesson 02: registration, direction, and what each artist shows.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from course.dashboards import (ALL, BackoffJitterDashboard, MetastableDashboard, RetryStormDashboard,
                               backoff_jitter_dashboard, metastable_dashboard, retry_storm_dashboard)
from course.dashboards import backoff_jitter
from course.models import metastable as metastable_model
from course.models import occ_contention
from tests.lessons.dashboard_helpers import without_drawing

LESSON02 = {"retry_storm": RetryStormDashboard, "backoff_jitter": BackoffJitterDashboard,
            "metastable": MetastableDashboard}


@pytest.fixture(scope="module")
def storm():
    return RetryStormDashboard()


@pytest.fixture(scope="module")
def backoff():
    return BackoffJitterDashboard()


@pytest.fixture(scope="module")
def meta():
    return MetastableDashboard()


def test_registered_with_factories():
    with without_drawing():
        assert LESSON02.items() <= ALL.items()
        assert isinstance(retry_storm_dashboard(layers=2), RetryStormDashboard)
        assert isinstance(backoff_jitter_dashboard(clients=50), BackoffJitterDashboard)
        assert isinstance(metastable_dashboard(rate=140), MetastableDashboard)


def test_controls_cannot_reach_invalid_values(storm, meta, backoff):
    c = storm.controls_by_name
    assert c["layers"].min >= 1 and c["attempts"].min >= 1
    m = meta.controls_by_name
    assert m["rate"].min > 0 and m["outage_s"].min >= 0
    assert {value for _, value in m["policy"].options} <= set(metastable_model.POLICIES)
    assert {value for _, value in m["outage_kind"].options} <= set(metastable_model.OUTAGE_KINDS)
    assert all(value > 0 for _, value in m["load_after"].options)
    b = backoff.controls_by_name
    assert (b["clients"].min, b["clients"].max, b["clients"].step) == (10, 100, 10)  # every value is a curve point
    # Out-of-range presets are clamped by the widgets, never passed on to a model.
    assert RetryStormDashboard(layers=0).params["layers"] == 1
    assert MetastableDashboard(outage_s=-5).params["outage_s"] == 0
    with pytest.raises(Exception):
        MetastableDashboard(policy="retry_forever")


# -- Direction: the retry storm --------------------------------------------------------------------


def _bars(d):
    return [bar.get_height() for bar in d.bars if bar.get_visible()]


def test_more_layers_more_amplification(storm):
    heights = []
    for layers in (1, 2, 3, 4):
        storm.set(layers=layers, attempts=3, budget=False, no_retry=False)
        bars = _bars(storm)
        assert len(bars) == layers
        heights.append(bars[-1])
        np.testing.assert_allclose(storm.theory.get_ydata()[:layers], 3.0 ** np.arange(1, layers + 1))
    assert heights == [3, 9, 27, 81]
    storm.set(layers=3, attempts=4)


def test_more_attempts_more_amplification(storm):
    bottoms = []
    for attempts in (1, 2, 3, 4, 5):
        storm.set(layers=3, attempts=attempts, budget=False, no_retry=False)
        bottoms.append(_bars(storm)[-1])
    assert bottoms == sorted(bottoms) and bottoms[0] == 1 and bottoms[-1] == 125
    storm.set(attempts=4)


def test_budget_on_lowers_the_bottom_load_and_no_retry_lowers_it_further(storm):
    storm.set(layers=3, attempts=4, budget=False, no_retry=False)
    none = _bars(storm)[-1]
    storm.set(budget=True)
    budget = _bars(storm)[-1]
    storm.set(no_retry=True)
    both = _bars(storm)[-1]
    storm.set(budget=False)
    no_retry = _bars(storm)[-1]
    assert none == 64 and both < budget < no_retry < none
    # The time plot agrees: the bottom line during the failure is far lower with the budget on.
    storm.set(budget=True, no_retry=False)
    x, y = storm.lines[2].get_data()
    assert np.nanmax(np.asarray(y)[(np.asarray(x) > 11) & (np.asarray(x) < 20)]) < 30
    storm.set(budget=False, no_retry=False)


def test_the_storm_legend_names_only_the_layers_that_exist(storm):
    storm.set(layers=2)
    labels = [t.get_text() for t in storm.legend.get_texts()]
    assert labels == ["layer 1", "layer 2 (fails)", "user requests"]
    storm.set(layers=3)


# -- Direction: backoff and jitter --------------------------------------------------------------------


def test_the_marker_follows_the_clients_slider(backoff):
    backoff.set(clients=40)
    line, dot = backoff.curves["full_jitter"][0]
    assert list(dot.get_xdata()) == [40]
    assert dot.get_ydata()[0] == pytest.approx(backoff_jitter.point("full_jitter", 40).calls)
    assert "at N = 40" in backoff.legend.get_title().get_text()
    backoff.set(clients=100)


def test_the_curves_are_the_models_points(backoff):
    line, _ = backoff.curves["exponential"][0]
    x, y = line.get_data()
    assert list(x) == list(backoff_jitter.CLIENTS)
    np.testing.assert_allclose(y, [occ_contention.simulate("exponential", n, backoff_jitter.TRIALS, 0).calls
                                   for n in (10, 20)] + list(y[2:]))


def test_hiding_exponential_removes_it_and_rescales(backoff):
    backoff.set(show_exponential=True)
    top_with = backoff.ax_calls.get_ylim()[1]
    backoff.set(show_exponential=False)
    line, _ = backoff.curves["exponential"][0]
    assert len(line.get_xdata()) == 0
    assert backoff.ax_calls.get_ylim()[1] < top_with / 1.5
    assert not any("exponential" in t.get_text() for t in backoff.legend.get_texts())
    backoff.set(show_exponential=True)


def test_showing_no_backoff_adds_the_busiest_curve(backoff):
    backoff.set(show_none=True)
    line, _ = backoff.curves["none"][0]
    assert max(line.get_ydata()) == pytest.approx(max(backoff_jitter.point("none", n).calls
                                                      for n in backoff_jitter.CLIENTS))
    assert max(line.get_ydata()) > max(backoff.curves["exponential"][0][0].get_ydata())
    backoff.set(show_none=False)


def test_log_time_toggles_the_scale(backoff):
    backoff.set(log_time=False)
    assert backoff.ax_time.get_yscale() == "linear"
    backoff.set(log_time=True)
    assert backoff.ax_time.get_yscale() == "log"


# -- Direction: the metastable failure ----------------------------------------------------------------


def _goodput_after(d, start=25.0):
    x, y = d.line_goodput.get_data()
    x, y = np.asarray(x), np.asarray(y)
    return float(np.mean(y[x > start]))


def test_longer_outage_gets_stuck(meta):
    meta.set(outage_s=0)
    assert not meta.spans[0].get_visible()
    healthy = _goodput_after(meta)
    meta.set(outage_s=10)
    assert meta.spans[0].get_visible()
    assert meta.spans[0].get_x() == metastable_model.OUTAGE_START
    stuck = _goodput_after(meta)
    assert healthy > 250 and stuck < 5
    assert "not recovered" in meta.status.value


def test_no_retries_or_lower_load_recover(meta):
    meta.set(policy="none")
    assert _goodput_after(meta, 45) > 250
    meta.set(policy="retry_once", rate=140)
    assert _goodput_after(meta, 35) > 120
    meta.set(rate=280)


def test_shedding_load_shows_the_change_line_and_recovers(meta):
    assert not meta.change_lines[0].get_visible()
    meta.set(load_after=0.5)
    assert meta.change_lines[0].get_visible()
    assert "load changes" in meta.title.get_text()
    assert _goodput_after(meta, 70) > 120
    meta.set(load_after=1.0)


def test_retries_double_the_attempts_line_when_stuck(meta):
    meta.set(policy="retry_once")
    x, attempts = meta.line_attempts.get_data()
    _, offered = meta.line_offered.get_data()
    after = np.asarray(x) > 25
    assert np.mean(np.asarray(attempts)[after]) / np.mean(np.asarray(offered)[after]) == pytest.approx(2, rel=0.05)
    x, queue = meta.line_queue.get_data()
    assert np.mean(np.asarray(queue)[np.asarray(x) > 25]) > 0.95 * metastable_model.QUEUE_LIMIT


def test_skipping_dead_work_or_a_refusing_outage_recover(meta):
    meta.set(drop_expired=True)
    assert _goodput_after(meta) > 250
    meta.set(drop_expired=False, outage_kind="refuse")
    assert _goodput_after(meta) > 250
    assert "refuses connections" in meta.title.get_text()
    meta.set(outage_kind="stall")


# -- Speed ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LESSON02))
def test_revisiting_a_setting_does_not_rerun_the_model(name, storm, backoff, meta):
    # Results are memoised per parameter set, so an update at settings already seen is all drawing
    # (the benchmark's sim_share). Medians over several updates.
    d = {"retry_storm": storm, "backoff_jitter": backoff, "metastable": meta}[name]
    shares = []
    for _ in range(5):
        d.update()
        shares.append(d.timings["simulate"] / d.timings["total"])
    assert statistics.median(shares) <= 0.3, shares
