"""Lesson 07's SLOs, error budgets and burn-rate alerts: the budget arithmetic exactly, detection and reset times
against the theory for constant burns, the three incident shapes against the rules over many seeds, false alarms
on background traffic, invalid parameters, and the dashboard."""

from __future__ import annotations

import math
import re
import statistics

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards import ALL, BurnRateDashboard, burn_rate_dashboard
from course.dashboards import burn_rate as dashboard
from course.models import burn_rate as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing

PAGE_1H, PAGE_6H, TICKET = model.WORKBOOK
PLAIN_SLO, PLAIN_5PCT = model.PLAIN
SEEDS = 40


# -- the arithmetic -------------------------------------------------------------------------------

def test_budget_and_burn_rate():
    assert model.budget(0.999) == pytest.approx(0.001, rel=1e-12)
    assert model.budget(0.995) == pytest.approx(0.005, rel=1e-12)
    assert model.budget(0.9999) == pytest.approx(0.0001, rel=1e-9)
    assert model.burn_rate(0.0144, 0.999) == pytest.approx(14.4)
    assert model.burn_rate(1.0, 0.999) == pytest.approx(1000)


@pytest.mark.parametrize("burn, days, hours, spent", [(14.4, 30 / 14.4, 1, 0.02), (6, 5, 6, 0.05), (1, 30, 72, 0.10)])
def test_time_to_exhaust_and_budget_spent(burn, days, hours, spent):
    assert model.time_to_exhaust(burn) == pytest.approx(days, rel=1e-12)
    assert model.budget_spent(burn, hours) == pytest.approx(spent, rel=1e-12)
    # The whole budget goes in time_to_exhaust days.
    assert model.budget_spent(burn, 24 * model.time_to_exhaust(burn)) == pytest.approx(1.0)


def test_a_14_4x_burn_exhausts_a_30_day_budget_in_about_2_08_days():
    assert round(model.time_to_exhaust(14.4), 3) == 2.083
    assert model.budget_spent(14.4, 1) == pytest.approx(0.02)
    # A 7-day period: the same burn spends it in a week / 14.4.
    assert model.time_to_exhaust(14.4, period_days=7) == pytest.approx(7 / 14.4)


def test_the_workbook_table():
    # Table 5-8 of the SRE Workbook's "Alerting on SLOs": long window, short window (1/12 of it), burn rate,
    # budget consumed over the long window.
    table = [(m.severity, m.long_minutes, m.short_minutes, m.burn) for m in model.WORKBOOK]
    assert table == [("page", 60, 5, 14.4), ("page", 360, 30, 6.0), ("ticket", 4320, 360, 1.0)]
    for rule, consumed in zip(model.WORKBOOK, (0.02, 0.05, 0.10)):
        assert rule.short_minutes * 12 == rule.long_minutes
        assert model.budget_spent(rule.burn, rule.long_minutes / 60) == pytest.approx(consumed)
        # ...which is also what a constant burn has spent when the rule fires (no background): θ·W / period.
        for burn in (rule.burn * 1.5, 50.0, 1000.0):
            assert model.budget_before_alert(burn, rule) == pytest.approx(consumed)
    assert [rule.short_minutes for rule in model.LONG_ONLY] == [None] * 3
    assert PLAIN_SLO.limit(0.999) == pytest.approx(0.001) and PLAIN_5PCT.limit(0.999) == 0.05


def test_rule_labels():
    assert PAGE_1H.label() == "page: 1 h & 5 min > 14.4×"
    assert TICKET.label() == "ticket: 3 days & 6 h > 1×"
    assert model.LONG_ONLY[1].label() == "page: 6 h > 6×"
    assert PLAIN_SLO.label(0.999) == "page: 5 min > 0.1% errors"
    assert PLAIN_SLO.label(0.9999) == "page: 5 min > 0.01% errors"
    assert PLAIN_5PCT.label(0.999) == "page: 5 min > 5% errors"


# -- the timeline and the windows ----------------------------------------------------------------

def test_window_ratios_match_a_direct_count():
    tl = model.timeline(model.Incident(0.3, 20, start_minute=100), rate=3, days=1, seed=4)
    rng = np.random.default_rng(0)
    for minutes in (1, 5, 60, 360, 4320):
        ratio = tl.window_ratio(minutes)
        for i in rng.integers(0, tl.errors.size, 30).tolist() + [0, minutes - 1, tl.errors.size - 1]:
            lo = max(0, i + 1 - minutes)
            assert ratio[i] == pytest.approx(tl.errors[lo:i + 1].sum() / tl.requests[lo:i + 1].sum(), abs=1e-12)


def test_traffic_is_seeded_and_its_counts_average_out():
    a = model.timeline(None, rate=20, seed=3)
    b = model.timeline(None, rate=20, seed=3)
    c = model.timeline(None, rate=20, seed=4)
    np.testing.assert_array_equal(a.errors, b.errors)
    assert not np.array_equal(a.errors, c.errors)
    # Over the month: 1,200 requests a minute, and errors at 0.2 × the budget (0.02%), within 3%.
    assert a.requests.mean() == pytest.approx(1200, rel=0.01)
    assert a.errors.sum() / a.requests.sum() == pytest.approx(model.BACKGROUND_BURN * 0.001, rel=0.03)


def test_budget_accounting_for_a_total_outage():
    # 30 minutes of 100% errors spend 30 / 43.2 of a 99.9% budget; the background 0.2 × the rest of the month.
    tl = model.timeline(model.SHAPES["outage"], noise=False)
    spent = tl.budget_spent()
    minutes = 30 * model.MINUTES_PER_DAY
    assert spent[-1] == pytest.approx(30 / 43.2 + 0.2 * (minutes - 30) / minutes, rel=1e-9)
    assert np.all(np.diff(spent) >= 0)


# -- detection and reset against the theory -----------------------------------------------------

def _noiseless(burn, duration=600, background_burn=0.0, slo=0.999):
    incident = model.Incident(min(1.0, burn * model.budget(slo)), duration)   # 1000 × (1 − 0.999) rounds above 1
    return model.timeline(incident, slo, noise=False, background_burn=background_burn)


@pytest.mark.parametrize("burn", [15.0, 20.0, 36.0, 50.0, 144.0, 500.0, 1000.0])
def test_a_constant_burn_crosses_the_1_hour_page_after_60_x_14_4_over_b_minutes(burn):
    # Evaluated once a minute, the alert fires at the end of the first whole minute past 60 · 14.4 / b; the 5-minute
    # window only confirms, so it fires exactly when the 1-hour window alone would.
    theory = 60 * 14.4 / burn
    assert model.detection_minutes(burn, PAGE_1H) == pytest.approx(theory)
    tl = _noiseless(burn)
    with_short, long_only = model.evaluate(tl, PAGE_1H), model.evaluate(tl, model.LONG_ONLY[0])
    assert theory < with_short.detection_minutes <= theory + 1
    assert with_short.detection_minutes == math.floor(theory) + 1
    assert long_only.detection_minutes == with_short.detection_minutes
    # What it had spent by then: b × the detection time, within one minute's burn of the Workbook's 2%.
    assert with_short.budget_before_alert == pytest.approx(burn * with_short.detection_minutes / 43200, rel=1e-9)
    assert 0.02 < with_short.budget_before_alert <= 0.02 + burn / 43200


@pytest.mark.parametrize("rule", model.WORKBOOK, ids=lambda r: r.label())
@pytest.mark.parametrize("burn", [8.0, 30.0, 1000.0])
def test_detection_and_reset_with_background_match_the_theory(rule, burn):
    tl = _noiseless(burn, duration=3000, background_burn=0.2)
    outcome = model.evaluate(tl, rule)
    theory = model.detection_minutes(burn, rule, background=0.2, duration=3000)
    if math.isinf(theory):
        assert burn <= rule.burn and not outcome.fired
        return
    assert theory < outcome.detection_minutes <= theory + 1
    reset = model.reset_minutes(burn, rule, background=0.2)
    assert reset <= outcome.reset_minutes < reset + 1
    assert outcome.false_alarms == 0


def test_the_short_window_lets_the_page_go_minutes_after_the_outage_instead_of_an_hour():
    tl = model.timeline(model.SHAPES["outage"], noise=False)
    assert model.evaluate(tl, PAGE_1H).reset_minutes == 5          # 5 · (1 − 14.4 / 1000), to the next minute
    assert model.evaluate(tl, model.LONG_ONLY[0]).reset_minutes == 60
    assert model.evaluate(tl, TICKET).reset_minutes == 360
    assert model.evaluate(tl, model.LONG_ONLY[2]).reset_minutes > 4000  # about 3 days


def test_a_burn_below_the_threshold_or_too_short_never_fires_in_theory():
    assert model.detection_minutes(14.4, PAGE_1H) == math.inf
    assert model.detection_minutes(10, PAGE_1H) == math.inf
    assert model.detection_minutes(1000, PAGE_1H, duration=0.5) == math.inf   # needs 0.864 min
    with pytest.raises(ValueError, match="burn"):
        model.reset_minutes(10, PAGE_1H)


# -- the incident shapes, over many seeds ---------------------------------------------------------

def _long_run(shape_or_incident, rules):
    incident = model.SHAPES[shape_or_incident] if isinstance(shape_or_incident, str) else shape_or_incident
    return {s.rule: s for s in model.long_run(incident, rules, seeds=SEEDS)}


def test_a_sharp_outage_pages_within_minutes_and_the_page_stops_5_minutes_after_it():
    found = _long_run("outage", model.WORKBOOK)
    assert all(s.fired_share == 1 for s in found.values())
    assert found[PAGE_1H].detection_minutes == 1              # 0.86 min of a 1,000× burn, evaluated each minute
    assert found[PAGE_1H].budget_before_alert == pytest.approx(1 / 43.2 + 0.0002 / 43.2, rel=0.02)  # 2.3%
    assert found[PAGE_1H].reset_minutes == 5
    assert found[PAGE_6H].detection_minutes == 3 and found[TICKET].detection_minutes == 4


def test_a_partial_outage_pages_when_theory_says():
    # 5% errors (50×) for an hour: the 1-hour page after 60 · (14.4 − 0.2) / (50 − 0.2) = 17.1 min, spending
    # about 2% of the budget; noise moves single runs by a minute or two, not the mean.
    found = _long_run(model.Incident(0.05, 60), model.WORKBOOK[:1] + model.LONG_ONLY[:1])
    theory = model.detection_minutes(50, PAGE_1H, background=0.2)
    for summary in found.values():
        assert summary.fired_share == 1
        assert summary.detection_minutes == pytest.approx(theory, abs=1.0)
        assert summary.budget_before_alert == pytest.approx(0.02, abs=0.0015)
    assert found[PAGE_1H].reset_minutes == pytest.approx(model.reset_minutes(50, PAGE_1H, background=0.2), abs=1.0)
    assert found[model.LONG_ONLY[0]].reset_minutes == pytest.approx(
        model.reset_minutes(50, model.LONG_ONLY[0], background=0.2), abs=1.0)


def test_the_blip_never_pages_the_multiwindow_rules_but_pages_the_plain_thresholds():
    # 20% errors for 3 minutes under 99.9%: 0.6 failed request-minutes, 1.4% of the budget; the 1-hour window
    # peaks at 200 × 3 / 60 = 10× < 14.4×.
    found = _long_run("blip", model.WORKBOOK + model.PLAIN)
    assert max(model.burn_rate(0.2, 0.999) * 3 / 60, 0) < 14.4
    for rule in model.WORKBOOK:
        assert found[rule].fired_share == 0
    for rule in model.PLAIN:
        assert found[rule].fired_share == 1
    assert found[PLAIN_SLO].detection_minutes == 1
    assert found[PLAIN_5PCT].detection_minutes == 2   # 20% over 2 of 5 minutes is 8%: past 5% at the 2nd minute


def test_a_blip_pages_the_1_hour_rule_only_if_it_spends_more_than_2_percent_of_the_budget():
    for errors, pages in ((0.2, False), (0.5, True)):       # 1.4% and 3.5% of the budget
        tl = model.timeline(model.Incident(errors, 3), noise=False, background_burn=0.0)
        spent = errors * 3 / 43.2
        assert (spent > 0.02) is pages
        assert model.evaluate(tl, PAGE_1H).fired is pages


def test_the_slow_leak_is_missed_by_the_pages_and_caught_by_the_ticket():
    # 0.25% errors (2.5×) for 4 days: the ticket's 3-day window passes 1× after 4320 · 0.8 / 2.3 = 1502.6 min
    # (25 h), having spent 2.5 × 1502.6 / 43200 = 8.7% of the budget.
    found = _long_run("leak", model.WORKBOOK + model.PLAIN)
    assert found[PAGE_1H].fired_share == 0 and found[PAGE_6H].fired_share == 0
    assert found[TICKET].fired_share == 1
    theory = model.detection_minutes(2.5, TICKET, background=0.2)
    assert theory == pytest.approx(1502.6, abs=0.1)
    assert found[TICKET].detection_minutes == pytest.approx(theory, abs=10)
    assert found[TICKET].budget_before_alert == pytest.approx(2.5 * theory / 43200, abs=0.002)
    assert found[PLAIN_5PCT].fired_share == 0                   # the high plain threshold never sees it
    assert found[PLAIN_SLO].fired_share == 1                    # the low one does, in minutes, and on noise too


# -- false alarms on background traffic ---------------------------------------------------------

def test_the_multiwindow_rules_raise_no_false_alarms_on_background_traffic():
    # No alert in 100 seeded months at 20 requests/s, nor at 1 request/s: below 0.03 per 30 days with 95%
    # confidence (the rule of three).
    for rate in (20, 1):
        found = model.false_alarms(model.WORKBOOK, rate=rate, seeds=100 if rate == 20 else 30)
        assert all(count == 0 for count in found.values()), (rate, found)


def test_the_plain_slo_rate_threshold_pages_on_noise_unless_traffic_is_high():
    # At 20 requests/s a 5-minute window holds 6,000 requests and 1.2 background errors on average, so it passes
    # 0.1% (6 errors) now and then: about 24 pages a month (three runs of 100 seeds gave 23.6, 23.8 and 23.9).
    found = model.false_alarms(model.PLAIN, rate=20, seeds=60)
    assert found[PLAIN_SLO] == pytest.approx(23.8, abs=2.0)
    assert found[PLAIN_5PCT] == 0
    assert model.false_alarms(model.PLAIN, rate=100, seeds=10)[PLAIN_SLO] == 0


# -- invalid parameters ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: model.budget(1.0), "slo"),
    (lambda: model.budget(0), "slo"),
    (lambda: model.budget("99.9"), "slo"),
    (lambda: model.burn_rate(1.5, 0.999), "error_ratio"),
    (lambda: model.time_to_exhaust(0), "burn"),
    (lambda: model.time_to_exhaust(14.4, period_days=0), "period_days"),
    (lambda: model.budget_spent(-1, 1), "burn"),
    (lambda: model.budget_spent(14.4, -1), "hours"),
    (lambda: model.Rule("alarm", 60, burn=1), "severity"),
    (lambda: model.Rule("page", 0, burn=1), "long_minutes"),
    (lambda: model.Rule("page", 60, 90, burn=1), "short_minutes"),
    (lambda: model.Rule("page", 60, burn=1, error_ratio=0.1), "burn"),
    (lambda: model.Rule("page", 60), "error_ratio"),
    (lambda: model.Rule("page", 60, burn=-2), "burn"),
    (lambda: model.Incident(1.5, 30), "error_ratio"),
    (lambda: model.Incident(0.5, 0), "duration_minutes"),
    (lambda: model.Incident(0.5, 30, start_minute=-1), "start_minute"),
    (lambda: model.timeline(None, rate=0), "rate"),
    (lambda: model.timeline(None, days=0), "days"),
    (lambda: model.timeline(None, seed=-1), "seed"),
    (lambda: model.timeline(None, background_burn=-0.1), "background_burn"),
    (lambda: model.timeline(model.SHAPES["leak"], days=7), "incident"),
    (lambda: model.run(None, "nope"), "rules"),
    (lambda: model.run(None, ()), "rules"),
    (lambda: model.false_alarms(seeds=0), "seeds"),
    (lambda: model.detection_minutes(0, PAGE_1H), "burn"),
    (lambda: model.detection_minutes(20, PAGE_1H, background=-1), "background"),
    (lambda: model.detection_minutes(20, PAGE_1H, background=15), "background"),
    (lambda: model.reset_minutes(20, PAGE_1H, background=15), "background"),
    (lambda: model.long_run(model.SHAPES["blip"], seeds=[]), "seeds"),
])
def test_invalid_parameters_raise_errors_naming_them(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# -- the dashboard --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def d():
    return BurnRateDashboard()


def test_registered_with_a_factory():
    assert ALL["burn_rate"] is BurnRateDashboard
    with without_drawing():
        built = burn_rate_dashboard(shape="leak")
    assert isinstance(built, BurnRateDashboard)
    assert built.params["errors"] == model.SHAPES["leak"].error_ratio


def test_controls_are_few_and_every_value_is_valid():
    with without_drawing():
        c = BurnRateDashboard().controls_by_name
    assert len(c) <= 5
    assert all(0 < value <= 1 for _, value in c["errors"].options)
    assert {value for _, value in c["rules"].options} == set(model.RULE_SETS)
    assert {value for _, value in c["shape"].options} == set(model.SHAPES) | {dashboard.NONE}
    assert all(0 < value < 1 for _, value in c["slo"].options)
    assert c["rate"].min >= 1 and c["rate"].continuous_update is False
    for shape in model.SHAPES.values():       # every shape's usual severity is an option
        assert shape.error_ratio in {value for _, value in c["errors"].options}


def test_a_shape_loads_its_usual_errors_and_given_errors_win():
    with without_drawing():
        b = BurnRateDashboard()
        b.controls_by_name["shape"].value = "blip"          # what the dropdown does in the browser
        assert b.params["errors"] == 0.2
        b.controls_by_name["errors"].value = 0.5
        assert b.params == {**b.params, "shape": "blip", "errors": 0.5}
        b.set(errors=0.05, shape="leak")                     # given together, the errors win
        assert b.params["errors"] == 0.05
        assert BurnRateDashboard(shape="outage", errors=0.2).params["errors"] == 0.2


def test_builds_a_png_whose_artists_and_words_carry_the_model_numbers(d):
    d.set(shape="outage", errors=1.0, rules="workbook", slo=0.999, rate=20)
    assert bytes(d.image.value).startswith(PNG_SIGNATURE) and len(d.image.value) > 10_000
    assert isinstance(d.widget(), widgets.VBox)
    outcomes = d.result.run.outcomes
    for i, outcome in enumerate(outcomes):
        x, _ = d.onset_marks[i].get_data()
        # The first firing strip begins at the detection time (minutes since the incident began).
        assert outcome.detection_minutes in np.asarray(x)
    status = re.sub(r"</?b>", "", d.status.value)
    assert "The page at 14.4× over 1 h & 5 min fires after 1 min, having spent 2.4% of the budget" in status
    assert "stops 5 min after the incident ends" in status
    assert "the plain 5-min threshold at 0.1% errors would have paged after 1 min" in status
    assert "1,000× burn of the 99.9% budget" in d.ax_burn.get_title()
    theta = [line.get_ydata()[0] for line in d.threshold_lines]
    assert theta == [14.4, 6.0, 1.0]
    # The budget line ends at what the month left.
    assert d.budget_line.get_ydata()[-1] == pytest.approx(100 * (1 - d.result.run.timeline.budget_spent()[-1]))


def test_the_summary_names_the_trade_off_for_each_shape(d):
    d.set(shape="blip", rules="workbook")
    status = re.sub(r"</?b>", "", d.status.value)
    assert status.count("never fires") == 3 and "the plain 5-min threshold at 0.1% errors would have paged" in status
    d.set(shape="leak")
    status = re.sub(r"</?b>", "", d.status.value)
    assert "The page at 14.4× over 1 h & 5 min never fires" in status
    assert "the ticket at 1× over 3 days & 6 h fires after 25" in status
    assert "the plain 5-min threshold at 5% errors would never have paged for it" in status
    d.set(shape="none", rules="plain")
    status = re.sub(r"</?b>", "", d.status.value)
    assert "On background traffic alone" in status and "The SRE Workbook's rules raised 0 alerts" in status
    assert [t.get_text() for t in d.ax_fire.get_yticklabels()] == ["page: 5 min > 0.1% errors",
                                                                    "page: 5 min > 5% errors"]


def test_same_settings_same_picture_and_a_small_simulation_share(d):
    d.set(shape="outage", errors=1.0, rules="workbook", slo=0.999, rate=20)
    again = BurnRateDashboard(**d.params)
    assert bytes(again.image.value) == bytes(d.image.value)
    shares = []
    for rate in (3, 7, 11):                                  # settings not seen before: cold simulations
        d.set(rate=rate)
        shares.append(d.timings["simulate"] / d.timings["total"])
    assert statistics.median(shares) <= 0.3, shares
