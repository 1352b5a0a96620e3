"""Lesson 05's dashboards (saga timeline, saga outcomes, delivery, outbox), driven headless: they build, every
control changes the picture, bad parameters are refused by name, and each shows what the lesson says it shows."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from course.dashboards import (ALL, DeliveryDashboard, OutboxDashboard, SagaOutcomesDashboard, SagaTimelineDashboard,
                               delivery_dashboard, outbox_dashboard, saga_outcomes_dashboard, saga_timeline_dashboard)
from course.dashboards import delivery, saga_outcomes, saga_timeline
from course.models import outbox_relay, saga_sequence
from course.models import delivery as delivery_model
from course.models import saga as saga_model
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing

LESSON05 = {"saga_timeline": SagaTimelineDashboard, "saga_outcomes": SagaOutcomesDashboard,
            "delivery": DeliveryDashboard, "outbox": OutboxDashboard}


@pytest.fixture(scope="module", params=sorted(LESSON05))
def named_dashboard(request):
    return request.param, LESSON05[request.param]()


def test_registered_with_factories():
    with without_drawing():
        assert {name: ALL[name] for name in LESSON05} == LESSON05
        assert isinstance(saga_timeline_dashboard(style="choreography"), SagaTimelineDashboard)
        assert isinstance(saga_outcomes_dashboard(retries=3), SagaOutcomesDashboard)
        assert isinstance(delivery_dashboard(consumer="idempotent"), DeliveryDashboard)
        assert isinstance(outbox_dashboard(mode="write_then_publish"), OutboxDashboard)


def test_builds_a_png_with_a_summary(named_dashboard):
    _, d = named_dashboard
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)
    assert len(d.image.value) > 10_000
    assert d.status.value
    assert isinstance(d.widget(), widgets.VBox)


def test_sliders_update_on_release_and_axes_have_units(named_dashboard):
    _, d = named_dashboard
    for control in d.controls_by_name.values():
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            assert control.continuous_update is False
    for ax in d.figure.axes:
        assert ax.get_ylabel() and ax.get_xlabel()
    assert any(ax.get_legend() is not None for ax in d.figure.axes)


def test_same_seed_same_picture(named_dashboard):
    name, d = named_dashboard
    again = LESSON05[name](**d.params)
    assert bytes(again.image.value) == bytes(d.image.value)


# -- The saga timeline ----------------------------------------------------------------------------

def _compensation_boxes(d):
    """(lane x, top y) of each compensation box drawn, read from the artists: blue or orange boxes."""
    boxes = []
    for path, colour in zip(d.boxes.get_paths(), d.boxes.get_facecolors()):
        x = float(np.mean(path.vertices[:4, 0]))
        top = float(np.min(path.vertices[:4, 1]))
        boxes.append((x, top, tuple(np.round(colour[:3], 3))))
    return boxes


@pytest.mark.parametrize("style", ["orchestration", "choreography"])
def test_compensations_are_drawn_in_reverse_order(style):
    d = SagaTimelineDashboard(style=style, fail_step="ship", compensation="never")
    r = d.result
    assert r.status == "compensated"
    assert r.compensation_order() == ["charge", "reserve"]
    comps = [e for e in r.events if e.kind == "compensation"]
    assert [e.step for e in comps] == ["charge", "reserve"]
    assert comps[0].time_end <= comps[1].time_start  # refund done before the release begins
    # In the drawing: the payment lane's undo box sits above (earlier than) the inventory lane's.
    payment, inventory = saga_sequence.SERVICES.index("payment"), saga_sequence.SERVICES.index("inventory")
    blue = tuple(np.round(np.array([int(saga_timeline._BLUE[i:i + 2], 16) for i in (1, 3, 5)]) / 255, 3))
    undo = {round(x): top for x, top, colour in _compensation_boxes(d) if colour == blue}
    assert set(undo) == {payment, inventory}
    assert undo[payment] < undo[inventory]
    assert "refund card → release widget" in d.status.value
    assert "COMPENSATED" in d.verdict.get_text()


@pytest.mark.parametrize("style", ["orchestration", "choreography"])
@pytest.mark.parametrize("fail_step", ["charge", "ship"])
def test_a_compensation_that_always_fails_leaves_the_saga_stuck(style, fail_step):
    d = SagaTimelineDashboard(style=style, fail_step=fail_step, compensation="always")
    r = d.result
    assert r.status == "stuck"
    assert not r.check
    undo = [e for e in r.events if e.kind == "compensation"]
    assert len(undo) == saga_sequence.RETRIES + 1 and not any(e.ok for e in undo)
    assert r.held["widget"] == 1  # the release never ran
    assert "STUCK" in d.verdict.get_text()
    assert len(d.fail_marks.get_xdata()) == 1 + saga_sequence.RETRIES + 1  # the step and every undo attempt
    d.set(compensation="once")
    assert d.result.status == "compensated" and d.result.check
    assert d.result.held == {"widget": 0, "charged": 0}


def test_no_failure_completes_and_first_step_failure_needs_no_undo():
    for style in ("orchestration", "choreography"):
        r = saga_sequence.run_one(style, "none", "always", 3)
        assert r.status == "completed" and r.check
        r = saga_sequence.run_one(style, "reserve", "always", 3)
        assert r.status == "compensated" and r.compensation_order() == []


def test_orchestration_sends_a_command_and_a_reply_per_attempt():
    for compensation in ("never", "once", "always"):
        r = saga_sequence.run_one("orchestration", "ship", compensation, 2)
        assert len(r.messages) == 2 * len(r.events)
        assert all(sent <= received for sent, received, *_ in r.messages)


# -- Saga outcomes --------------------------------------------------------------------------------

def test_outcomes_follow_the_arithmetic_over_many_sagas():
    r = saga_outcomes.simulate("orchestration", 0.1, 0.5, 1, "plenty", seed=7, sagas=3000)
    expected = saga_model.theory(0.1, 0.5, 1)
    for outcome in saga_outcomes.OUTCOMES:
        assert r.shares[outcome] == pytest.approx(float(expected[outcome]), abs=0.025), outcome
    assert r.unstuck_check and r.run.money and r.run.stock


def test_more_retries_fewer_stuck_and_the_drawing_agrees():
    d = SagaOutcomesDashboard(compensation_failure=0.5, retries=0)
    stuck0 = d.result.shares["stuck"]
    assert d.bars[2].get_height() == pytest.approx(stuck0)
    assert float(d.dot.get_ydata()[0]) == pytest.approx(stuck0)
    d.set(retries=5)
    assert d.result.shares["stuck"] < stuck0 / 3
    d.set(compensation_failure=0.0)
    assert d.result.run.counts["stuck"] == 0
    assert "valid" in d.verdict.get_text()


def test_limited_stock_hides_the_arithmetic_and_counts_dirty_refusals():
    d = SagaOutcomesDashboard(stock="limited")
    assert not d.expected_marks.get_visible()
    assert d.result.refusals > 0 and 0 < d.result.dirty_refusals <= d.result.refusals
    assert "out of stock" in d.status.value
    d.set(stock="plenty")
    assert d.expected_marks.get_visible() and d.result.refusals == 0


# -- Delivery -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_idempotent_consumer_conserves_money_and_the_naive_one_does_not(seed):
    d = DeliveryDashboard(consumer="idempotent", duplicate_probability=0.3, crash_probability=0.2, seed=seed)
    r = d.result
    assert r.money and r.balances_exact and r.double_applied == 0 and r.applied == r.messages
    expected = [b.get_height() for b in d.bars_expected]
    actual = [b.get_height() for b in d.bars_actual]
    assert actual == expected
    d.set(consumer="naive")
    assert d.result.double_applied > 0 and not d.result.money
    assert [b.get_height() for b in d.bars_actual] != expected
    assert "NOT conserved" in d.ax_bal.get_title()


def test_no_duplicates_and_no_crashes_means_even_the_naive_consumer_is_right():
    r = DeliveryDashboard(consumer="naive", duplicate_probability=0.0, crash_probability=0.0).result
    assert r.money and r.balances_exact and r.double_applied == 0


def test_longer_delays_mean_more_overtaken_messages():
    d = DeliveryDashboard(duplicate_probability=0.0, crash_probability=0.0)
    counts = []
    for delay_ms in (1, 20, 200):
        d.set(delay_ms=delay_ms)
        counts.append(d.dots_overtaken.get_xdata().size)
    assert counts == sorted(counts) and counts[-1] > counts[0]
    points = delivery.arrival_points(d.result)
    assert sum(p[0].size for p in points.values()) == d.result.deliveries
    assert points["repeat"][0].size == 0


# -- Outbox ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("crash", [0.0, 0.1, 0.5])
def test_the_outbox_never_loses_an_event(seed, crash):
    r = outbox_relay.relay_run("outbox", crash, 0.3, "naive", seed)
    assert r.anomalies == 0 and r.heard == r.rows == r.orders
    assert r.duplicates == r.relay_crashes  # every relay crash re-sends exactly one row
    assert r.picked == r.deliveries  # the naive warehouse picks every repeat
    assert outbox_relay.relay_run("outbox", crash, 0.3, "idempotent", seed).picked == r.rows
    if crash:
        dual = outbox_relay.relay_run("write_then_publish", crash, 0.3, "naive", seed)
        assert dual.anomalies == dual.service_crashes > 0
        assert dual.duplicates == 0


def test_outbox_dashboard_draws_anomalies_and_repeats():
    d = OutboxDashboard(crash_probability=0.2)
    assert d.dots_never.get_xdata().size == 0
    assert d.dots_repeat.get_xdata().size == d.result.duplicates > 0
    assert d.bars[3].get_height() == d.result.picked > d.result.rows
    d.set(consumer="idempotent")
    assert d.bars[3].get_height() == d.result.rows
    d.set(mode="write_then_publish")
    assert d.dots_never.get_xdata().size == d.result.anomalies > 0


# -- Bad parameters -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: saga_sequence.run_one("sideways", "ship", "never", 1), "style"),
    (lambda: saga_sequence.run_one("orchestration", "pay", "never", 1), "fail_step"),
    (lambda: saga_sequence.run_one("orchestration", "ship", "sometimes", 1), "compensation"),
    (lambda: saga_sequence.run_one("orchestration", "ship", "never", -1), "seed"),
    (lambda: saga_outcomes.simulate(stock="some"), "stock"),
    (lambda: saga_outcomes.simulate(retries=-1), "retries"),
    (lambda: saga_outcomes.simulate(step_failure=1.5), "step_failure"),
    (lambda: saga_outcomes.simulate(compensation_failure=-0.1), "compensation_failure"),
    (lambda: saga_outcomes.simulate(style="ad hoc"), "style"),
    (lambda: delivery.simulate_cached("trusting", 0.1, 50.0, 0.0, 1), "consumer"),
    (lambda: delivery.simulate_cached("naive", 1.5, 50.0, 0.0, 1), "duplicate_probability"),
    (lambda: delivery.simulate_cached("naive", 0.1, 0.0, 0.0, 1), "delay_mean"),
    (lambda: delivery.simulate_cached("naive", 0.1, 50.0, 1.0, 1), "crash_probability"),
    (lambda: outbox_relay.relay_run("publish_first", 0.1, 0.1, "naive", 1), "mode"),
    (lambda: outbox_relay.relay_run("outbox", 0.1, 1.0, "naive", 1), "relay_crash_probability"),
    (lambda: outbox_relay.relay_run("outbox", 2.0, 0.1, "naive", 1), "crash_probability"),
    (lambda: outbox_relay.relay_run("outbox", 0.1, 0.1, "eager", 1), "consumer"),
])
def test_bad_parameters_raise_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_controls_cannot_reach_invalid_values():
    with without_drawing():
        t = SagaTimelineDashboard().controls_by_name
        assert {v for _, v in t["fail_step"].options} == set(saga_sequence.FAIL_STEPS)
        assert {v for _, v in t["compensation"].options} == set(saga_sequence.COMPENSATION_MODES)
        o = SagaOutcomesDashboard().controls_by_name
        assert 0 <= o["step_failure"].min and o["step_failure"].max <= 1
        assert 0 <= o["compensation_failure"].min and o["compensation_failure"].max < 1
        assert o["retries"].min >= 0 and o["retries"].max == saga_outcomes.MAX_RETRIES
        d = DeliveryDashboard().controls_by_name
        assert d["delay_ms"].min > 0 and d["crash_probability"].max < 1 and d["duplicate_probability"].max <= 1
        b = OutboxDashboard().controls_by_name
        assert b["relay_crash_probability"].max < 1 and b["crash_probability"].max <= 1
        assert delivery_model.REDELIVERY_DELAY > 0
