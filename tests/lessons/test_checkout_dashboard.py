"""Lesson 09's checkout dashboard (:mod:`course.dashboards.checkout`): its helpers (durations in words, designs
to control values and back, the minute-by-minute timeline), its controls (presets by name and by button,
greying out what the design makes moot, telling a linked interview the design), and one real build whose
scorecard, summary and timeline show the model's numbers.

Tests of the controls build inside ``without_drawing()``; only the ``board`` fixture simulates and draws.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from course.dashboards import ALL
from course.dashboards import checkout as dash
from course.dashboards.checkout import (BIN, CALL_FIELDS, CheckoutDashboard, checkout_dashboard, controls_of,
                                        design_from, seconds, timeline)
from course.models import checkout as model
from course.models.checkout_design import EDGES, FIRST_DRAFT, GUARDED_CALLS, PRESETS, STRONG, Design, Edge
from tests.lessons.dashboard_helpers import without_drawing


class StubInterview:
    """Stands in for course.interview's Interview: records every design it is told."""

    def __init__(self):
        self.designs = []

    def set_design(self, design):
        self.designs.append(design)


# -- helpers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    (math.nan, "–"), (0.0, "0 ms"), (0.04, "40 ms"), (0.5, "500 ms"), (1.0, "1.0 s"), (2.1, "2.1 s"),
    (30.0, "30.0 s"), (119.9, "119.9 s"), (120.0, "2.0 min"), (300.0, "5.0 min"), (415.6, "6.9 min"),
    (0.9996, "1.0 s"), (119.96, "2.0 min"),  # rounded into the next unit, not "1000 ms" or "120.0 s"
])
def test_seconds_in_words(value, shown):
    assert seconds(value) == shown


BESPOKE = Design(inventory=Edge("message", timeout=None), payments=Edge("sync", timeout=5.0, retries=3,
                                                                        retry_budget=True, breaker=True),
                 idempotency_keys=False, transaction="choreography", events="outbox")


@pytest.mark.parametrize("design", list(PRESETS.values()) + [BESPOKE], ids=list(PRESETS) + ["bespoke"])
def test_controls_and_design_are_inverses(design):
    values = controls_of(design)
    assert design_from(values) == design
    assert design_from({**values, "timeline": "broker_chaos", "seed": 3}) == design  # extra keys ignored
    for name in EDGES:
        timeout = design.edge(name).timeout
        assert values[f"{name}_timeout"] == (0.0 if timeout is None else timeout)  # the control's "none" is 0
        assert set(dash.EDGE_FIELDS) == {k[len(name) + 1:] for k in values if k.startswith(name + "_")}


def test_timeline_bins_a_hand_built_result():
    r = model.ScenarioResult(
        scenario="x", checkouts=4, sold_out=1, succeeded=1, success_rate=1 / 3, p99=30.0, stuck=0, compensated=0,
        double_charged=0, oversold=0, money_gap=0.0,
        arrivals=np.array([10.0, 20.0, 25.0, 70.0]), success=np.array([True, False, False, False]),
        sold_out_mask=np.array([False, False, False, True]), waits=np.array([1.0, 30.0, 2.0, 0.1]))
    series = timeline(r, 120.0)
    np.testing.assert_allclose(series["t"], [0.0, 0.5, 1.0, 1.5])
    per_minute = 60.0 / BIN
    np.testing.assert_allclose(series["ok"], np.array([1, 0, 0, 0]) * per_minute)
    np.testing.assert_allclose(series["failed"], np.array([2, 0, 0, 0]) * per_minute)  # the sold-out one is out
    assert series["p99"][0] == pytest.approx(np.percentile([1.0, 30.0, 2.0], 99))
    assert math.isnan(series["p99"][1]) and math.isnan(series["p99"][3])
    assert series["p99"][2] == pytest.approx(0.1)  # the wait counts even for a sold-out checkout


@pytest.mark.parametrize("design, key", [(STRONG, "inventory_down"), (FIRST_DRAFT, "crash_after_write")])
def test_timeline_counts_every_checkout_not_refused(design, key):
    r = dash.run(design, 1)[key]
    series = timeline(r, model.SCENARIOS[key].arrivals_until)
    per_minute = 60.0 / BIN
    assert (series["ok"] + series["failed"]).sum() / per_minute == pytest.approx(r.checkouts - r.sold_out)
    assert series["ok"].sum() / per_minute == pytest.approx(r.succeeded)
    assert r.sold_out > 0 or key != "inventory_down"  # the strong design does refuse some: they are left out


# -- controls (no drawing) ---------------------------------------------------------------------------

def test_an_unknown_preset_is_refused_naming_the_valid_ones():
    with without_drawing():
        for call in (lambda: CheckoutDashboard(preset="nope"), lambda: checkout_dashboard(preset="nope"),
                     lambda: CheckoutDashboard().load("nope")):
            with pytest.raises(ValueError, match="preset must be one of") as caught:
                call()
            assert "'nope'" in str(caught.value)
            assert all(repr(name) in str(caught.value) for name in PRESETS)


def test_registered_and_the_factory_loads_a_preset_with_overrides_winning():
    assert ALL["checkout"] is CheckoutDashboard
    with without_drawing():
        board = checkout_dashboard(preset="guarded calls", payments_fallback=False, seed=4)
        assert isinstance(board, CheckoutDashboard)
        assert board.design == GUARDED_CALLS.with_edge("payments", fallback=False)
        assert board.params["seed"] == 4
        assert CheckoutDashboard().design == FIRST_DRAFT  # no preset: the first draft


def test_load_puts_a_preset_into_the_controls_and_keeps_the_view():
    with without_drawing():
        board = CheckoutDashboard(timeline="broker_chaos", seed=7)
        board.load("strong")
        assert board.design == STRONG
        params = board.params
        assert {k: params[k] for k in controls_of(STRONG)} == controls_of(STRONG)
        assert (params["timeline"], params["seed"]) == ("broker_chaos", 7)


def test_each_preset_button_loads_its_design():
    with without_drawing():
        board = CheckoutDashboard(preset="strong")
        assert [b.description for b in board.preset_buttons] == list(PRESETS)
        for button in reversed(board.preset_buttons):  # from "strong" each click is a change
            button.click()
            assert board.design == PRESETS[button.description]


def _disabled(board, name):
    return {field: board.controls_by_name[f"{name}_{field}"].disabled for field in CALL_FIELDS}


def test_controls_the_design_makes_moot_are_greyed_out():
    with without_drawing():
        board = CheckoutDashboard(preset="guarded calls")
        for name in EDGES:
            assert not board.controls_by_name[f"{name}_mode"].disabled
            assert not any(_disabled(board, name).values())

        board.set(payments_mode="message")  # a message edge has no call policies
        assert all(_disabled(board, "payments").values())
        assert not any(_disabled(board, "inventory").values())

        board.controls_by_name["payments_mode"].value = "sync"  # through the widget, as a learner would
        assert not any(_disabled(board, "payments").values())

        board.set(transaction="2pc", inventory_mode="message")  # 2PC makes every edge a call
        for name in EDGES:
            assert board.controls_by_name[f"{name}_mode"].disabled
            assert not any(_disabled(board, name).values())

        board.controls_by_name["transaction"].value = "choreography"  # choreography: every edge a message
        for name in EDGES:
            assert board.controls_by_name[f"{name}_mode"].disabled
            assert all(_disabled(board, name).values())

        board.load("first draft")
        for name in EDGES:
            assert not board.controls_by_name[f"{name}_mode"].disabled
            assert not any(_disabled(board, name).values())


def test_greyed_out_from_the_start_when_built_with_a_preset():
    with without_drawing():
        board = CheckoutDashboard(preset="strong")
        assert all(_disabled(board, "inventory").values()) and all(_disabled(board, "payments").values())


def test_a_linked_interview_is_told_every_design():
    interview = StubInterview()
    with without_drawing():
        board = CheckoutDashboard(interview=interview)
        assert interview.designs == [FIRST_DRAFT]
        board.set(payments_timeout=2.0, payments_retries=1)  # one update for several controls
        assert interview.designs[1:] == [FIRST_DRAFT.with_edge("payments", timeout=2.0, retries=1)]
        board.controls_by_name["idempotency_keys"].value = True
        assert len(interview.designs) == 3 and interview.designs[-1].idempotency_keys
        board.load("strong")
        assert interview.designs[-1] == STRONG


# -- one real build --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def board():
    interview = StubInterview()
    d = CheckoutDashboard(preset="first draft", interview=interview)
    d.stub = interview
    return d


def _cell_texts(board):
    return [[text.get_text() for text in row] for row in board.cell_texts]


def test_failed_lists_the_first_drafts_failures(board):
    board.load("first draft")
    expected = model.run(FIRST_DRAFT, 1)
    failing = [key for key, r in expected.items() if not r.passed]
    assert failing == ["payments_slow", "inventory_down", "crash_after_write", "traffic_spike"]
    assert board.failed() == [(key, "; ".join(expected[key].problems)) for key in failing]
    assert "stuck" in dict(board.failed())["inventory_down"]
    assert f"Failed {len(failing)} of {len(expected)} scenarios" in board.status.value
    for key in failing:
        assert model.SCENARIOS[key].title in board.status.value
    assert board.card_title.get_text().startswith(f"The 'first draft' design passed {5 - len(failing)} of 5")
    assert board.stub.designs[-1] == FIRST_DRAFT


def test_the_scorecard_shows_each_scenarios_numbers(board):
    board.load("first draft")
    texts = _cell_texts(board)
    colours = np.asarray(board.cells.get_array())
    assert len(texts) == len(model.SCENARIOS)
    for i, (key, r) in enumerate(board.result.items()):
        row = texts[i]
        assert row[0] == f"{round(100 * r.success_rate)}%"
        assert row[1] == seconds(r.p99)
        assert row[3:7] == [str(r.stuck), str(r.compensated), str(r.double_charged), str(r.oversold)]
        assert (row[7] == "0") == (r.money_gap == 0)
        red = [j for j in range(len(row)) if np.allclose(colours[i, j], dash._FAIL)]
        assert bool(red) == (not r.passed), key
    row = texts[list(model.SCENARIOS).index("inventory_down")]
    r = board.result["inventory_down"]
    assert row[1] == "30.0 s" and row[3] == str(r.stuck) != "0"
    gap = board.result["crash_after_write"].money_gap
    assert gap < 0 and texts[list(model.SCENARIOS).index("crash_after_write")][7] == f"{gap:+,.0f}"


def test_the_timeline_follows_the_chosen_scenario(board):
    board.load("first draft")
    board.set(timeline="inventory_down")
    scenario = model.SCENARIOS["inventory_down"]
    series = timeline(board.result["inventory_down"], scenario.arrivals_until)
    np.testing.assert_allclose(board.ok_line.get_ydata()[:-1], series["ok"])
    np.testing.assert_allclose(board.failed_line.get_ydata()[:-1], series["failed"])
    assert board.window.get_x() == pytest.approx(scenario.window[0] / 60.0)
    assert board.window.get_width() == pytest.approx((scenario.window[1] - scenario.window[0]) / 60.0)
    assert board.time_title.get_text().startswith(scenario.title)


def test_strong_passes_everything_at_seed_1(board):
    try:
        board.load("strong")
        assert board.params["seed"] == 1
        assert board.failed() == []
        assert "Passed all 5 scenarios" in board.status.value
        assert board.card_title.get_text().startswith("The 'strong' design passed 5 of 5")
        assert all(row[3] == "0" for row in _cell_texts(board))  # nothing stuck
        assert board.stub.designs[-1] == STRONG
    finally:
        board.load("first draft")
