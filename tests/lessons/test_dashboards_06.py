"""Lesson 06's test-portfolio dashboard, driven headless: it builds, every control changes the picture, presets and
sliders stay consistent, the artists carry the model's numbers after each update, and the extremes render."""

from __future__ import annotations

import statistics

import ipywidgets as widgets
import numpy as np
import pytest

from course.bench import clear_model_caches
from course.dashboards import ALL, TestPortfolioDashboard, test_portfolio_dashboard
from course.dashboards import portfolio as dashboard
from course.models import portfolio as model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE

LAYERS, KINDS = model.LAYERS, model.KINDS


@pytest.fixture(scope="module")
def d():
    return TestPortfolioDashboard()


def test_registered_with_a_factory():
    assert ALL["test_portfolio"] is TestPortfolioDashboard
    built = test_portfolio_dashboard(preset="ice-cream cone")
    assert isinstance(built, TestPortfolioDashboard)
    assert built.result.run.tests == model.PRESETS["ice-cream cone"]


def test_builds_a_png_with_a_summary(d):
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)
    assert len(d.image.value) > 10_000
    assert "reached production" in d.status.value and "went red from a flaky test" in d.status.value
    assert isinstance(d.widget(), widgets.VBox)
    shown = [child for box in d.widget().children[0].children for child in box.children]
    assert sorted(id(c) for c in shown) == sorted(id(c) for c in d.controls_by_name.values())


def test_sliders_update_on_release_and_axes_have_units(d):
    for control in d.controls_by_name.values():
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            assert control.continuous_update is False
    for ax in d.figure.axes:
        assert ax.get_ylabel() and ax.get_xlabel()
    assert "minutes" in d.ax_time.get_ylabel() and "bugs" in d.ax_bugs.get_ylabel()
    assert "end-to-end tests" in d.ax_flaky.get_xlabel()
    assert all(ax.get_legend() is not None for ax in d.figure.axes)


def test_same_seed_same_picture(d):
    again = TestPortfolioDashboard(**d.params)
    assert bytes(again.image.value) == bytes(d.image.value)


def test_controls_cannot_reach_invalid_values(d):
    c = d.controls_by_name
    for layer in LAYERS:
        assert c[layer].min == 0
    assert c["services"].min >= 2 and c["changes"].min >= 1
    assert 0 <= c["e2e_flakiness"].min and c["e2e_flakiness"].max <= 100
    assert {value for _, value in c["preset"].options} == set(model.PRESETS) | {dashboard.CUSTOM}
    assert c["e2e"].max == dashboard.E2E_GRID[-1]
    # The defaults are the pyramid and the assumed e2e flakiness.
    assert {layer: c[layer].value for layer in LAYERS} == model.PRESETS["pyramid"]
    assert c["e2e_flakiness"].value == pytest.approx(100 * model.ASSUMPTIONS["layers"]["e2e"]["flakiness"])


# -- presets and sliders ---------------------------------------------------------------------------

def _counts(d):
    return {layer: d.controls_by_name[layer].value for layer in LAYERS}


def test_a_preset_loads_its_numbers_and_moving_a_slider_makes_it_custom():
    d = TestPortfolioDashboard()
    d.controls_by_name["preset"].value = "ice-cream cone"          # what the dropdown does in the browser
    assert _counts(d) == model.PRESETS["ice-cream cone"]
    assert d.result.run.tests == model.PRESETS["ice-cream cone"]
    assert d.title.get_text().startswith("Ice-cream cone")
    d.controls_by_name["contract"].value = 12                       # a slider drag
    assert d.params["preset"] == dashboard.CUSTOM and d.result.run.tests["contract"] == 12
    assert d.title.get_text().startswith("Custom portfolio")
    d.set(preset="no contract tests", e2e=20)                       # numbers given beside a preset win
    assert d.result.run.tests == {**model.PRESETS["no contract tests"], "e2e": 20}
    assert d.params["preset"] == dashboard.CUSTOM
    d.set(e2e=20, preset="pyramid")                                 # whatever the order they are given in
    assert d.result.run.tests == {**model.PRESETS["pyramid"], "e2e": 20}
    d.set(preset="pyramid")
    assert d.params["preset"] == "pyramid" and d.result.run.tests == model.PRESETS["pyramid"]


def test_one_preset_change_is_one_update():
    d = TestPortfolioDashboard()
    calls = []
    original = d.simulate
    d.simulate = lambda **params: calls.append(params) or original(**params)
    d.controls_by_name["preset"].value = "ice-cream cone"
    assert len(calls) == 1 and calls[0]["e2e"] == model.PRESETS["ice-cream cone"]["e2e"]


def test_the_factory_takes_a_preset_and_numbers():
    assert test_portfolio_dashboard(preset="no contract tests").params["preset"] == "no contract tests"
    mixed = test_portfolio_dashboard(preset="pyramid", e2e=40)
    assert mixed.params["preset"] == dashboard.CUSTOM and mixed.result.run.tests["e2e"] == 40
    assert test_portfolio_dashboard(**model.PRESETS["ice-cream cone"], preset="ice-cream cone").params["preset"] \
        == "ice-cream cone"


# -- the artists carry the model's numbers -------------------------------------------------------------

SETTINGS = [
    {"preset": "pyramid"},
    {"preset": "ice-cream cone", "seed": 4},
    {"preset": "no contract tests", "services": 30, "changes": 3000},
    {"preset": "custom", "unit": 120, "component": 0, "contract": 25, "integration": 0, "e2e": 90,
     "e2e_flakiness": 3.0, "services": 4, "changes": 600, "seed": 9},
]


def _stack(d, column):
    return [d.kind_bars[kind][column].get_height() for kind in KINDS]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_an_update_puts_the_models_numbers_into_the_artists(setting):
    d = TestPortfolioDashboard()
    before = {"stack": [_stack(d, i) for i in range(len(LAYERS) + 1)],
              "time": [bar.get_height() for bar in d.time_bars], "flaky": np.array(d.flaky_line.get_ydata())}
    d.set(**setting)
    r = d.result.run
    p = d.params
    tests = {layer: p[layer] for layer in LAYERS}
    expected = model.simulate(tests, services=p["services"], changes=p["changes"],
                              flakiness={"e2e": p["e2e_flakiness"] / 100}, seed=p["seed"])
    np.testing.assert_array_equal(r.caught, expected.caught)
    # Bugs: one stacked column per layer, then the escaped ones; each kind sits on the kinds before it.
    for i in range(len(LAYERS)):
        assert _stack(d, i) == pytest.approx(r.caught[i].tolist())
    assert _stack(d, len(LAYERS)) == pytest.approx(r.escaped.tolist())
    assert d.kind_bars[KINDS[1]][0].get_y() == pytest.approx(r.caught[0, 0])
    totals = np.concatenate([r.theory.caught.sum(axis=1), [r.theory.escaped.sum()]])
    np.testing.assert_allclose(d.expected_marks.get_ydata(), totals)
    assert [t.get_text() for t in d.bug_texts] == [str(n) for n in list(r.caught_by_layer) + [r.escaped.sum()]]
    # Time: each layer's bar reaches the minute it reports; the dashed line is the mean time to feedback.
    for i, layer in enumerate(LAYERS):
        assert d.time_bars[i].get_height() == pytest.approx(r.ready_minutes[i] if tests[layer] else 0.0)
    assert d.feedback_line.get_ydata()[0] == pytest.approx(r.mean_feedback_minutes)
    # Flaky reds: the theory curves over the e2e count, and this period's dots at the chosen count.
    flaky, no_bug = model.red_builds_across("e2e", dashboard.E2E_GRID, tests, services=p["services"],
                                            flakiness={"e2e": p["e2e_flakiness"] / 100})
    np.testing.assert_allclose(d.flaky_line.get_ydata(), flaky)
    np.testing.assert_allclose(d.no_bug_line.get_ydata(), no_bug)
    assert list(d.flaky_dot.get_xdata()) == [tests["e2e"]] == list(d.current.get_xdata()[:1])
    assert d.flaky_dot.get_ydata()[0] == pytest.approx(r.flaky_red / r.changes)
    assert d.no_bug_dot.get_ydata()[0] == pytest.approx(r.red_without_bug / r.red)
    assert d.flaky_line.get_ydata()[tests["e2e"]] == pytest.approx(r.theory.flaky_red)
    # And something moved (the first setting is the defaults, except for its summary of them).
    if setting != {"preset": "pyramid"}:
        assert ([_stack(d, i) for i in range(len(LAYERS) + 1)] != before["stack"]
                or [bar.get_height() for bar in d.time_bars] != before["time"]
                or not np.allclose(d.flaky_line.get_ydata(), before["flaky"]))


def test_the_cone_is_slower_flakier_and_lets_more_bugs_escape_than_the_pyramid():
    d = TestPortfolioDashboard(preset="pyramid")
    pyramid = d.result.run
    d.set(preset="ice-cream cone")
    cone = d.result.run
    assert cone.pipeline_minutes > 4 * pyramid.pipeline_minutes
    assert cone.mean_feedback_minutes > 5 * pyramid.mean_feedback_minutes
    assert cone.flaky_red > 3 * pyramid.flaky_red
    assert cone.theory.escape_share > pyramid.theory.escape_share
    assert d.flaky_dot.get_ydata()[0] > 0.5


def test_more_end_to_end_tests_more_flaky_reds_on_the_curve():
    d = TestPortfolioDashboard(preset="custom")
    values = []
    for e2e in (0, 30, 90, 150):
        d.set(e2e=e2e)
        values.append(float(np.interp(e2e, d.flaky_line.get_xdata(), d.flaky_line.get_ydata())))
        assert d.current.get_xdata()[0] == e2e
    assert values == sorted(values) and values[-1] > 0.85


def test_removing_the_contract_tests_lets_contract_bugs_through():
    d = TestPortfolioDashboard(preset="pyramid")
    contract = KINDS.index("contract")
    with_tests = d.kind_bars["contract"][len(LAYERS)].get_height()
    d.set(preset="no contract tests")
    assert d.kind_bars["contract"][len(LAYERS)].get_height() > with_tests
    assert d.kind_bars["contract"][LAYERS.index("contract")].get_height() == 0
    assert d.result.run.theory.escaped[contract] > 3 * model.theory("pyramid").escaped[contract]


# -- extremes ------------------------------------------------------------------------------------

def test_no_tests_at_all_renders_everything_escaped():
    d = TestPortfolioDashboard(unit=0, component=0, contract=0, integration=0, e2e=0)
    r = d.result.run
    assert d.params["preset"] == dashboard.CUSTOM
    assert r.escaped.sum() == r.bugs and r.pipeline_minutes == 0 and r.red == 0
    assert not d.feedback_line.get_visible()
    assert [t.get_text() for t in d.time_texts] == ["none"] * len(LAYERS)
    assert "No tests ran, so every bug" in d.status.value and "no bug caught" in d.ax_time.get_title()
    assert len(d.no_bug_dot.get_xdata()) == 0  # no red build, so no share of them to show
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)


def test_everything_at_its_maximum_renders():
    c = TestPortfolioDashboard().controls_by_name
    d = TestPortfolioDashboard(**{name: c[name].max for name in (*LAYERS, "e2e_flakiness", "services", "changes")})
    r = d.result.run
    assert r.changes == c["changes"].max and r.pipeline_minutes > 5 * 60
    assert r.flaky_red_share > 0.99
    assert "h" in d.ax_time.get_title()
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)


def test_simulation_is_a_small_share_of_an_update():
    # The benchmark's sim_share bar (<= 0.3), cold: memos cleared before each update. Medians over several.
    d = TestPortfolioDashboard()
    shares = []
    for i, preset in enumerate(["ice-cream cone", "no contract tests", "pyramid", "ice-cream cone", "pyramid"]):
        clear_model_caches()
        d.set(preset=preset, seed=i + 1)
        shares.append(d.timings["simulate"] / d.timings["total"])
    assert statistics.median(shares) <= 0.3, shares


@pytest.mark.parametrize("call, name", [
    (lambda: dashboard.simulate(50, 15, 10, 5, 5, 0.015, 1, 1000, 1), "services"),
    (lambda: dashboard.simulate(50, 15, 10, 5, 5, 1.5, 10, 1000, 1), "flakiness"),
    (lambda: dashboard.simulate(-1, 15, 10, 5, 5, 0.015, 10, 1000, 1), "tests\\['unit'\\]"),
    (lambda: dashboard.simulate(50, 15, 10, 5, 5, 0.015, 10, 0, 1), "changes"),
])
def test_bad_parameters_raise_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
