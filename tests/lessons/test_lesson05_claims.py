"""Every number lesson 05 (``course/05_sagas_and_messages.ipynb``) states, checked against the simulator.

Each test quotes the claim it checks, in the lesson's words. A number the
lesson states from a random simulation is its long-run value: theory ((1 − p)³,
q^(retries + 1), 100 / (1 − r)) or the mean over :data:`SEEDS`, within the
tolerance stated next to the check. Where the lesson also says what the
dashboard's own run shows ("126 events ... in this run"), that figure is
checked at the dashboard's seed (1), since it is what the learner sees. Years
and titles of papers are citations, not simulator figures.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.dashboards import delivery, saga_outcomes
from course.models import outbox_relay, saga_sequence
from course.dashboards.dual_write import P_GRID
from course.lessons import lesson05
from course.models import delivery as delivery_model
from course.models import dual_write
from course.models import saga as saga_model

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "05_sagas_and_messages.ipynb"

#: Seeds for long-run means. A delivery or relay run takes under 0.02 s, a saga-outcomes run 0.08 s. Each tolerance
#: is at least 2.5 standard errors of the mean over these seeds (the spread of one run, measured over 40 seeds
#: when the lesson was written, is quoted next to each check).
SEEDS = tuple(range(1, 41))


def mean_over(figure, seeds=SEEDS) -> float:
    """``figure(seed)`` averaged over ``seeds``."""
    return float(np.mean([figure(seed) for seed in seeds]))


def notebook_text() -> str:
    """The notebook's text with every run of whitespace made one space, so line breaks don't matter."""
    return " ".join(" ".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells).split())


def run_delivery(consumer="naive", duplicate_probability=0.05, delay_ms=50.0, crash_probability=0.05, seed=1):
    return delivery.simulate_cached(consumer, duplicate_probability, delay_ms, crash_probability, seed)


def run_relay(mode="outbox", crash=0.1, relay_crash=0.2, consumer="naive", seed=1):
    return outbox_relay.relay_run(mode, crash, relay_crash, consumer, seed)


# -- The notebook itself ----------------------------------------------------------------------------

def test_notebook_calls_the_dashboards_with_the_settings_the_text_describes():
    source = "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code")
    for call in ("saga_timeline_dashboard()", 'saga_timeline_dashboard(style="choreography")',
                 'saga_timeline_dashboard(compensation="once")', 'saga_timeline_dashboard(compensation="always")',
                 "saga_outcomes_dashboard()", 'saga_outcomes_dashboard(stock="limited")', "delivery_dashboard()",
                 'delivery_dashboard(consumer="idempotent")', 'dual_write_dashboard(mode="outbox", crash_probability=0.2)',
                 "outbox_dashboard()", 'outbox_dashboard(mode="write_then_publish")',
                 "lesson05.prediction()", "lesson05.self_check()"):
        assert call in source, call


def test_dashboard_defaults_are_the_settings_the_lesson_describes():
    from course.dashboards import DeliveryDashboard, OutboxDashboard, SagaOutcomesDashboard, SagaTimelineDashboard
    assert {k: c.value for k, c in SagaTimelineDashboard().controls_by_name.items()} == {
        "style": "orchestration", "fail_step": "ship", "compensation": "never", "seed": 1}
    assert {k: c.value for k, c in SagaOutcomesDashboard().controls_by_name.items()} == {
        "style": "orchestration", "step_failure": 0.1, "compensation_failure": 0.3, "retries": 1, "stock": "plenty",
        "seed": 1}
    assert {k: c.value for k, c in DeliveryDashboard().controls_by_name.items()} == {
        "consumer": "naive", "duplicate_probability": 0.05, "delay_ms": 50, "crash_probability": 0.05, "seed": 1}
    assert {k: c.value for k, c in OutboxDashboard().controls_by_name.items()} == {
        "mode": "outbox", "crash_probability": 0.1, "relay_crash_probability": 0.2, "consumer": "naive", "seed": 1}


# -- Section 3: the saga system ---------------------------------------------------------------------

def test_the_saga_system_matches_the_description():
    # "Each step is a local transaction that takes about 20 ms." "a failing compensation is retried **3** times,
    #  0.1 s apart"
    assert saga_model.STEP_LATENCY.mean == pytest.approx(0.020)
    assert saga_sequence.RETRIES == 3 and saga_sequence.RETRY_DELAY == pytest.approx(0.1)
    assert [s for s in saga_model.STEP_NAMES] == ["reserve", "charge", "ship"]
    assert "about 20 ms" in notebook_text() and "retried **3** times, 0.1 s apart" in notebook_text()


def test_experiment_1_orchestration_undoes_in_reverse_with_10_messages():
    # "The orchestrator then **refunds the card first and releases the widget second**" ... "Final status
    #  **compensated**, after **10** messages: a command and a reply for each of the five attempts."
    r = saga_sequence.run_one("orchestration", "ship", "never", 1)
    assert r.status == "compensated" and r.check
    assert r.compensation_order() == ["charge", "reserve"]
    assert len(r.events) == 5 and len(r.messages) == 10
    assert "**10** messages" in notebook_text()


def test_experiment_1_choreography_needs_6_messages():
    # "**6** messages instead of 10"
    r = saga_sequence.run_one("choreography", "ship", "never", 1)
    assert r.status == "compensated" and r.compensation_order() == ["charge", "reserve"]
    assert len(r.messages) == 6
    topics = [m[4] for m in r.messages]
    assert "ship.failed" in topics and "charge.compensated" in topics


def test_experiment_2_a_compensation_failing_once_costs_time():
    # "still **compensated**, but the saga took about **0.24 s** longer (381 ms instead of 147 ms in this run): each
    #  compensation waited 0.1 s for its retry and then ran again". One run's difference varies by ± 26 ms; ± 20 ms
    #  on the mean over 40 seeds.
    def duration(compensation, seed):
        return saga_sequence.run_one("orchestration", "ship", compensation, seed).result.duration

    assert mean_over(lambda seed: duration("once", seed) - duration("never", seed)) == pytest.approx(0.24, abs=0.02)
    assert 2 * saga_sequence.RETRY_DELAY + 2 * saga_model.STEP_LATENCY.mean == pytest.approx(0.24)
    once = saga_sequence.run_one("orchestration", "ship", "once", 1)
    assert once.status == "compensated" and once.check
    assert round(1000 * duration("once", 1)) == 381 and round(1000 * duration("never", 1)) == 147


def test_experiment_2_a_compensation_that_always_fails_leaves_the_saga_stuck():
    # "the refund is tried **4** times (the first attempt and 3 retries), then the saga is **stuck**. The widget
    #  is never released ... The customer is left charged **10** with a reserved widget"
    r = saga_sequence.run_one("orchestration", "ship", "always", 1)
    assert r.status == "stuck" and not r.check
    refunds = [e for e in r.events if e.kind == "compensation"]
    assert [e.step for e in refunds] == ["charge"] * 4 and not any(e.ok for e in refunds)
    assert r.held == {"widget": 1, "charged": 10}
    assert saga_model.PRICE == 10


def test_experiment_3_two_hundred_orders():
    # "runs **200** orders, one every 20 ms" ... "In this run **146** completed, **50** compensated, **4** stuck:
    #  **73%**, **25%** and **2.0%**, against an expected 72.9%, 24.9% and 2.2%." ... "the 196 that are not stuck" ...
    #  "Money is conserved and stock never goes negative."
    assert saga_outcomes.SAGAS == 200 and saga_model.SPACING == pytest.approx(0.02)
    r = saga_outcomes.simulate("orchestration", 0.1, 0.3, 1, "plenty", 1)
    assert r.run.counts == {"running": 0, "completed": 146, "compensated": 50, "stuck": 4}
    assert r.shares == {"completed": 0.73, "compensated": 0.25, "stuck": 0.02}
    expected = saga_model.theory(0.1, 0.3, 1)
    assert (round(100 * float(expected["completed"]), 1), round(100 * float(expected["compensated"]), 1),
            round(100 * float(expected["stuck"]), 1)) == (72.9, 24.9, 2.2)
    assert r.unstuck_check and r.run.money and r.run.stock and r.run.books


def test_experiment_3_retries():
    # "Drag *compensation retries* to **3**: **1** stuck (expected 0.2%). To **0**: **15** stuck (7.5%, expected
    #  6.8%). Retries turn a compensation that fails 30% of the time into one that gives up 0.8% of the time"
    three = saga_outcomes.simulate("orchestration", 0.1, 0.3, 3, "plenty", 1)
    zero = saga_outcomes.simulate("orchestration", 0.1, 0.3, 0, "plenty", 1)
    assert three.run.counts["stuck"] == 1 and zero.run.counts["stuck"] == 15
    assert zero.shares["stuck"] == 0.075
    assert round(100 * float(saga_model.theory(0.1, 0.3, 3)["stuck"]), 1) == 0.2
    assert round(100 * float(saga_model.theory(0.1, 0.3, 0)["stuck"]), 1) == 6.8
    assert round(100 * 0.3 ** 4, 1) == 0.8


def test_the_stuck_arithmetic_holds_on_other_seeds():
    # The diamonds: "a saga completes with probability (1 − p)³, and a compensation gives up with probability
    #  q^(retries + 1)". Pooled over seeds 2-6 (1,000 orders), within 3 standard errors.
    for retries in (0, 1):
        counts = {o: 0 for o in saga_outcomes.OUTCOMES}
        for seed in range(2, 7):
            run = saga_outcomes.simulate("choreography", 0.1, 0.3, retries, "plenty", seed).run
            for o in counts:
                counts[o] += run.counts[o]
        expected = saga_model.theory(0.1, 0.3, retries)
        for o, n in counts.items():
            p = float(expected[o])
            assert n / 1000 == pytest.approx(p, abs=3 * (p * (1 - p) / 1000) ** 0.5 + 1e-3), (retries, o)


def test_experiment_3_limited_stock_and_the_missing_isolation():
    # "stock for 60% of the orders" ... "about **40** orders are refused as out of stock (39 in this run), and about
    #  half of those refusals (**18** here) happened while a widget sat reserved by a saga that later *released*
    #  it." One run varies by ± 7 refusals and ± 12 dirty ones; tolerances on the means over 40 seeds: ± 3
    #  refusals, ± 0.1 on the dirty share of them.
    assert saga_model.STOCK_SHARE == 0.6
    runs = [saga_outcomes.simulate("orchestration", 0.1, 0.3, 1, "limited", seed) for seed in SEEDS]
    refusals = np.mean([r.refusals for r in runs])
    assert refusals == pytest.approx(40, abs=3)
    assert np.mean([r.dirty_refusals for r in runs]) / refusals == pytest.approx(0.5, abs=0.1)
    r = saga_outcomes.simulate("orchestration", 0.1, 0.3, 1, "limited", 1)
    assert (r.refusals, r.dirty_refusals) == (39, 18)
    # Not a fluke of seed 1: dirty refusals happen on other seeds and in both styles.
    for seed in (2, 3):
        for style in saga_model.STYLES:
            other = saga_outcomes.simulate(style, 0.1, 0.3, 1, "limited", seed)
            assert 0 < other.dirty_refusals <= other.refusals


def test_idea_section_2_percent_needed_a_person():
    # "With q = 0.3 and one retry, about 2% of our orders needed a person." (theory: 2.2%)
    assert float(saga_model.theory(0.1, 0.3, 1)["stuck"]) == pytest.approx(0.02, abs=0.003)


# -- Experiment 4: delivery -------------------------------------------------------------------------

def test_experiment_4_the_delivery_system_matches_the_description():
    # "**100** transfers between four accounts (400 € in total), each a debit message and a credit message:
    #  **200** messages. The broker sends a second copy of 5% of them ... 50 ms on average, while transfers are
    #  10 ms apart ... dies before acknowledging 5%" ... "**50** orders whose status goes placed → paid → shipped,
    #  1 ms apart" ... "each sent **0.5 s** after the delivery that crashed"
    r = run_delivery()
    assert delivery.TRANSFERS == 100 and r.messages == 200
    assert len(delivery_model.ACCOUNTS) == 4 and sum(r.balances_before.values()) == 400
    assert delivery_model.SPACING == pytest.approx(0.010) and delivery_model.STATUS_SPACING == pytest.approx(0.001)
    assert delivery.ORDERS == 50 and delivery_model.STATUSES == ("placed", "paid", "shipped")
    assert delivery_model.REDELIVERY_DELAY == 0.5


def test_experiment_4_the_naive_consumer_in_this_run():
    # "**223** applications of 200 messages in this run: **21** payments applied more than once, **23** extra
    #  applications ... The total is **415 €**, not 400, and the balances are wrong." ... "**11** duplicate copies
    #  and **12** redeliveries here"
    r = run_delivery()
    assert (r.applied, r.double_applied, r.applied - r.messages) == (223, 21, 23)
    assert sum(r.balances_after.values()) == 415 and not r.money and not r.balances_exact
    assert (r.duplicates, r.redeliveries) == (11, 12)


def test_experiment_4_the_naive_consumer_on_average():
    # "(about 20 and 21 on average) ... A repeated credit creates money and a repeated debit destroys it, so across
    #  runs the total is off by about 25 € either way." ... "(about 10 and 11 on average)"
    # One run varies by ± 4.3 payments, ± 4.8 applications, ± 30 € and ± 3 repeats; tolerances on the means over
    # 40 seeds: ± 2.5 (payments, applications), ± 7 € on the size of the error and ± 15 € on the total itself,
    # ± 1.5 (repeats). The duplicates' long run is 5% of the 200 messages.
    runs = [run_delivery(seed=seed) for seed in SEEDS]
    assert np.mean([r.double_applied for r in runs]) == pytest.approx(20, abs=2.5)
    assert np.mean([r.applied - r.messages for r in runs]) == pytest.approx(21, abs=2.5)
    totals = np.array([sum(r.balances_after.values()) for r in runs])
    assert np.mean(np.abs(totals - 400)) == pytest.approx(25, abs=7)
    assert np.mean(totals) == pytest.approx(400, abs=15)  # either way: created and destroyed alike
    assert all(not r.balances_exact for r in runs)
    assert 0.05 * 200 == 10
    assert np.mean([r.duplicates for r in runs]) == pytest.approx(10, abs=1.5)
    assert np.mean([r.redeliveries for r in runs]) == pytest.approx(11, abs=1.5)


def test_experiment_4_the_idempotent_consumer():
    # "exactly **200** applications, every balance exact, **400 €**"
    r = run_delivery("idempotent")
    assert r.applied == 200 and r.balances_exact and r.money and sum(r.balances_after.values()) == 400
    assert r.duplicates == 11  # "Same broker, same duplicates"


@pytest.mark.parametrize("seed", range(2, 12))
def test_the_idempotent_consumer_is_exact_on_other_seeds(seed):
    r = run_delivery("idempotent", 0.2, 50.0, 0.1, seed)
    assert r.balances_exact and r.money and r.double_applied == 0


def _overtaken(result) -> int:
    return delivery.arrival_points(result)["overtaken"][0].size


def test_experiment_4_out_of_order():
    # "about **130** of the 200 messages (122 in this run) arrived after a message sent later" ... "down to **1 ms**
    #  and it is still about **50** (48 here)" ... "swaps them about half the time" ... "keeps whatever arrived
    #  last leaves about **34** of them (32 here) with the wrong final status; one that keeps only a newer version
    #  number leaves **0**". One run varies by ± 5, ± 4 and ± 3.5; tolerances on the means over 40 seeds: ± 4,
    #  ± 3 and ± 2.
    runs = [run_delivery(seed=seed) for seed in SEEDS]
    assert np.mean([_overtaken(r) for r in runs]) == pytest.approx(130, abs=4)
    fast = np.mean([_overtaken(run_delivery(delay_ms=1.0, seed=seed)) for seed in SEEDS])
    assert fast == pytest.approx(50, abs=3)
    assert 0.35 < fast / delivery.TRANSFERS < 0.65  # about half the transfers' pairs swap
    assert np.mean([r.wrong_status_last_wins for r in runs]) == pytest.approx(34, abs=2)
    assert all(r.wrong_status_versioned == 0 for r in runs)
    r = run_delivery()
    assert _overtaken(r) == 122 and _overtaken(run_delivery(delay_ms=1.0)) == 48
    assert (r.wrong_status_last_wins, r.wrong_status_versioned) == (32, 0)


# -- Experiment 5: the outbox -----------------------------------------------------------------------

def test_experiment_5_lesson_04s_dashboard_shows_no_outbox_anomalies():
    # "both anomaly curves lie flat on **0** at every crash probability" (lesson 04's dashboard: 200 orders, seed 1)
    for p in (*P_GRID, 0.2):
        r = dual_write.simulate("outbox", p, 200, 1)
        assert r.anomalies == 0, p


def _slowest_s(result) -> float:
    return max(lag for _, lag in result.lag_ms) / 1000


def test_experiment_5_the_relay():
    # "**100** orders, the order service dies right after 10% of its commits, the relay dies after 20% of its
    #  publishes" ... "The service died after **13** commits in this run (about 10 on average), and there are **0**
    #  anomalies" ... "The relay died **26** times here ... **126** events for 100 orders (on average 100 / 0.8 =
    #  **125**). The naive warehouse picks an item per event. Switch it to **idempotent** and it picks **100**."
    #  ... "about **1.6 s** after its commit (1.8 s here)."
    # One run varies by ± 2.6 crashes, ± 5 events and ± 0.5 s; tolerances on the means over 40 seeds: ± 1, ± 2.5,
    # ± 0.25 s.
    assert outbox_relay.ORDERS == 100
    runs = [run_relay(seed=seed) for seed in SEEDS]
    assert all(r.anomalies == 0 and r.picked == r.deliveries for r in runs)
    assert np.mean([r.service_crashes for r in runs]) == pytest.approx(10, abs=1)
    assert outbox_relay.ORDERS / (1 - 0.2) == 125
    assert np.mean([r.deliveries for r in runs]) == pytest.approx(125, abs=2.5)
    assert np.mean([r.relay_crashes for r in runs]) == pytest.approx(25, abs=2.5)
    assert np.mean([_slowest_s(r) for r in runs]) == pytest.approx(1.6, abs=0.25)
    assert all(run_relay(consumer="idempotent", seed=seed).picked == 100 for seed in SEEDS[:5])
    r = run_relay()
    assert r.service_crashes == 13 and r.anomalies == 0
    assert r.relay_crashes == 26 and r.deliveries == 126 and r.picked == 126
    assert round(_slowest_s(r), 1) == 1.8


def test_experiment_5_a_relay_that_crashes_half_the_time():
    # "Drag the relay's crash probability to **0.5**: about **200** events (100 / 0.5; 229 here), the slowest after
    #  about **9 s** (12 s here)." One run varies by ± 14 events and ± 1.4 s; ± 7 and ± 0.8 s on the means.
    runs = [run_relay(relay_crash=0.5, seed=seed) for seed in SEEDS]
    assert all(r.anomalies == 0 for r in runs)
    assert np.mean([r.deliveries for r in runs]) == pytest.approx(outbox_relay.ORDERS / 0.5, abs=7)
    assert np.mean([_slowest_s(r) for r in runs]) == pytest.approx(9, abs=0.8)
    r = run_relay(relay_crash=0.5)
    assert r.deliveries == 229 and round(_slowest_s(r)) == 12


def test_experiment_5_write_then_publish():
    # "**13** anomalies here (about 10 on average), one for every crash after a commit ... No repeats"
    runs = [run_relay(mode="write_then_publish", seed=seed) for seed in SEEDS]
    assert all(r.anomalies == r.service_crashes and r.duplicates == 0 for r in runs)
    assert np.mean([r.anomalies for r in runs]) == pytest.approx(10, abs=1)
    assert run_relay(mode="write_then_publish").anomalies == 13


# -- Section 4 and the self-check ---------------------------------------------------------------------

def test_idea_section_numbers():
    # Table: "10 (command + reply per attempt)" / "6 events"; "Experiment 5: 0 anomalies, but about 25 repeats";
    # "experiment 4: about 20 payments applied more than once without it, none with it"; "about 34 wrong statuses
    # in 50 without versions, 0 with". Long runs as in the experiments' tests above.
    assert len(saga_sequence.run_one("orchestration", "ship", "never", 1).messages) == 10
    assert len(saga_sequence.run_one("choreography", "ship", "never", 1).messages) == 6
    relays = [run_relay(seed=seed) for seed in SEEDS]
    assert all(r.anomalies == 0 for r in relays)
    assert np.mean([r.duplicates for r in relays]) == pytest.approx(25, abs=2.5)
    assert np.mean([run_delivery(seed=seed).double_applied for seed in SEEDS]) == pytest.approx(20, abs=2.5)
    assert all(run_delivery("idempotent", seed=seed).double_applied == 0 for seed in SEEDS[:10])
    assert np.mean([run_delivery(seed=seed).wrong_status_last_wins for seed in SEEDS]) == pytest.approx(34, abs=2)


def _figures(pattern, text):
    match = re.search(pattern, text)
    assert match, pattern
    return tuple(int(g) for g in match.groups())


def test_self_check_numbers():
    # Q4: events sent for 100 orders; Q5: dirty refusals of the out-of-stock ones; Q6: wrong statuses of 50 orders.
    # Each explanation may quote this run's figure (seed 1: 126; 18 of 39; 32 of 50) or the long run (125; about
    # half of 40; 34 of 50), within the tolerances of the tests above.
    text = " ".join(q.explain for q in lesson05.QUESTIONS)
    (events,) = _figures(r"(\d+) events for 100 orders", text)
    assert events == run_relay().deliveries or abs(events - 125) <= 2.5
    limited = saga_outcomes.simulate("orchestration", 0.1, 0.3, 1, "limited", 1)
    if "half of some" in text:  # the long run: about half of about 40
        (refused,) = _figures(r"about half of some (\d+) out-of-stock refusals", text)
        assert abs(refused - 40) <= 3
    else:
        dirty, refused = _figures(r"(\d+) of (\d+) out-of-stock refusals", text)
        assert (dirty, refused) == (limited.dirty_refusals, limited.refusals) or (
            abs(refused - 40) <= 3 and abs(dirty / refused - 0.5) <= 0.1)
    (wrong,) = _figures(r"(\d+) of 50 orders", text)
    assert wrong == run_delivery().wrong_status_last_wins or abs(wrong - 34) <= 2
    assert delivery.ORDERS == 50


def test_self_check_answers_are_what_the_simulator_shows():
    # Q1: compensations of completed steps, last first.
    r = saga_sequence.run_one("choreography", "ship", "never", 4)
    assert r.compensation_order() == ["charge", "reserve"]
    # Q2: a compensation that keeps failing leaves the saga stuck (not "compensated").
    assert saga_sequence.run_one("choreography", "charge", "always", 4).status == "stuck"
    assert len(lesson05.QUESTIONS) >= 4
    for q in lesson05.QUESTIONS:
        assert 0 <= q.answer < len(q.options)
