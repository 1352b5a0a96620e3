"""Every number lesson 04 (``course/04_data_consistency.ipynb``) states, checked against the simulator or theory.

Each test quotes the claim it checks, in the lesson's words. Runs use the
dashboards' own settings and seed (1), so the lesson describes exactly what the
learner sees; the qualitative claims are also checked on other seeds. Where the
lesson rounds (59%, 3.7 s), the test rounds the same way; where it compares a
simulated rate with theory, the tolerance is stated next to the check.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.dashboards import (DualWriteDashboard, LostUpdatesDashboard, StaleReadsDashboard,
                               TwoPhaseCommitDashboard)
from course.dashboards import dual_write, lost_updates, stale_reads, two_phase_commit
from course.lessons import lesson04
from course.models import dual_write as dual_write_model
from course.models import lost_updates as lost_updates_model
from course.models import two_phase_commit as two_phase_commit_model
from course.sim import Constant, Exponential

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "04_data_consistency.ipynb"


def markdown() -> str:
    return "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells
                     if cell.cell_type == "markdown")


# -- The notebook itself ----------------------------------------------------------------------------

def test_notebook_calls_the_dashboards_with_the_settings_the_text_describes():
    source = "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code")
    for call in ("lesson04.prediction()", "dual_write_dashboard()", 'dual_write_dashboard(mode="publish_then_write")',
                 'dual_write_dashboard(mode="outbox", crash_probability=0.3)', "stale_reads_dashboard()",
                 'stale_reads_dashboard(routing="sticky")', 'stale_reads_dashboard(routing="read_your_writes")',
                 "lost_updates_dashboard()", "two_phase_commit_dashboard()",
                 'two_phase_commit_dashboard(crash="mid_decision")', "lesson04.self_check()"):
        assert call in source, call


def test_the_lesson_quotes_the_numbers_these_tests_check():
    # A guard against the prose drifting from this file: the key figures appear as checked here.
    text = markdown()
    for figure in ("**6** of the 200", "**4.8%**", "**94** of 200", "**56** duplicate", "**193 ms**", "**114 ms**",
                   "**3.7 s**", "**59%**", "**60.7%**", "**38%** (theory 36.8%)", "**5.5%** (theory 5.0%)",
                   "**222** of the 600", "**46** for monotonic", "break **26** times", "ends at **85**",
                   "**115** of the 200", "**57%**", "**313** retries", "**7** increments", "**169** are",
                   "**556** retries", "**11.1 s** instead of **3.9 s**", "**30.02 s**", "**0.02 s**",
                   "blocked for **120 s**", "**0.03 s**", "**4.6 L**"):
        assert figure in text, figure


# -- Experiment 1: the dual write ---------------------------------------------------------------------

def test_the_order_service_matches_the_description():
    # "An order service takes 200 orders, one every 10 ms ... The default writes the row, then publishes,
    #  with a 5% crash probability ... A relay polls the outbox every 100 ms"
    controls = DualWriteDashboard().controls_by_name
    assert controls["orders"].value == 200
    assert controls["mode"].value == "write_then_publish"
    assert controls["crash_probability"].value == pytest.approx(0.05)
    assert dual_write_model.SPACING == 0.01
    assert dual_write_model.RELAY_INTERVAL == 0.1


def test_experiment_1_write_then_publish():
    # "6 of the 200 orders are rows the warehouse never hears about. The arithmetic says about 10 ...
    #  94 of 200 at a 50% crash probability ... each red cross is an order that never ships"
    d = DualWriteDashboard()
    r = d.result["current"]
    assert (len(r.rows_without_event), len(r.events_without_row)) == (6, 0)
    assert 0.05 * 200 == 10
    assert d.dots_never.get_xdata().size == 6
    curve = dict(zip(np.round(d.result["p"], 6), d.result["rows_without_event"]))
    assert curve[0.5] == 94


def test_pooled_over_20000_orders_the_anomaly_rate_is_the_crash_rate():
    # "Pool 20,000 orders and the rate is 4.8%" (and section 4: "4.8% of 20,000 orders at a 5% crash probability,
    #  whichever write goes first"). Tolerance: the binomial standard error at p = 0.05 over 20,000 orders is
    #  0.0015; the measured rate must be within 4 of them of 5%.
    for mode in ("write_then_publish", "publish_then_write"):
        totals = dual_write_model.run_many(mode, 0.05, runs=1000, orders=20, seed=1)
        assert totals.runs * totals.orders == 20_000
        assert round(totals.anomaly_rate * 100, 1) == 4.8
        assert abs(totals.anomaly_rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 20_000)


def test_experiment_1_publish_then_write_is_the_mirror_image():
    # "the same 6 crashes, and now they are 6 events about orders that don't exist"
    r = DualWriteDashboard(mode="publish_then_write").result["current"]
    assert (len(r.rows_without_event), len(r.events_without_row)) == (0, 6)
    assert r.crashes == {"after_publish": 6}


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_experiment_1_the_outbox_never_leaves_an_anomaly(seed):
    # "0 anomalies at every crash probability, even at 30%"
    for p in (*dual_write.P_GRID, 0.3):
        assert dual_write.run("outbox", p, 200, seed).anomalies == 0, (seed, p)


def test_experiment_1_the_price_of_the_outbox():
    # "56 duplicate events (the summary line) ... Set the crash probability to 0: the slowest event takes
    #  193 ms, against 114 ms when the service published directly (the first run's title) ... At 30% ...
    #  the last orders wait 3.7 s"
    d = DualWriteDashboard(mode="outbox", crash_probability=0.3)
    assert d.result["current"].duplicate_deliveries == 56
    assert "<b>56</b> duplicate events" in d.status.value
    assert d.title_delay.get_text().endswith("slowest 3.7 s")
    d.set(crash_probability=0.0)
    assert d.title_delay.get_text().endswith("slowest 193 ms")
    assert DualWriteDashboard().title_delay.get_text().endswith("slowest 114 ms")


# -- Experiment 2: replication lag ---------------------------------------------------------------------

def test_the_replication_scenario_matches_the_description():
    # "The dots are 2,000 simulated reads each ... four clients share one key on a primary with two replicas.
    #  Each, 50 times over, writes the key and then reads it back three times ... so 600 reads in all"
    assert stale_reads.TRIALS == 2_000
    assert (stale_reads.PROCESSES, stale_reads.REPLICAS, stale_reads.ROUNDS, stale_reads.READS_PER_WRITE) == \
        (4, 2, 50, 3)
    d = StaleReadsDashboard()
    assert d.result["session"].reads == 600
    assert (d.params["lag_ms"], d.params["delta_ms"], d.params["routing"]) == (100, 50, "random")


@pytest.mark.parametrize("delta_ms, simulated, theory", [(50, "59%", "60.7%"), (100, "38%", "36.8%"),
                                                         (300, "5.5%", "5.0%")])
def test_experiment_2_stale_reads_against_exp_minus_delta_over_lag(delta_ms, simulated, theory):
    # "A read 50 ms after the write, with a mean lag of 100 ms, is stale 59% of the time (theory 60.7%) ...
    #  Drag Δ to 100 ms: still stale 38% (theory 36.8%) ... 300 ms ...: 5.5% (theory 5.0%)"
    # Tolerance: the simulated share must also lie within 4 standard errors of theory.
    d = stale_reads.simulate(100, delta_ms, "random")
    decimals = 0 if simulated.count(".") == 0 else 1
    assert f"{d['stale'] * 100:.{decimals}f}%" == simulated
    assert f"{d['theory'] * 100:.1f}%" == theory
    assert abs(d["stale"] - d["theory"]) < 4 * d["se"]


def test_experiment_2_what_each_routing_breaks():
    # "a random replica, the checkers flag 222 of the 600 reads for read-your-writes and 46 for monotonic reads
    #  ... [sticky] monotonic reads drop to 0 ... Read-your-writes does not improve at all (222 again) ...
    #  [read-your-writes routing] read-your-writes violations are 0, but monotonic reads break 26 times ...
    #  always the primary and both counts are 0"  (and the table in section 4)
    counts = {}
    for routing in ("random", "sticky", "read_your_writes", "primary"):
        r = stale_reads.simulate(100, 50, routing)["session"]
        counts[routing] = (r.ryw_violations, r.monotonic_violations, r.reads)
    assert counts == {"random": (222, 46, 600), "sticky": (222, 0, 600), "read_your_writes": (0, 26, 600),
                      "primary": (0, 0, 600)}


@pytest.mark.parametrize("seed", (2, 3))
def test_experiment_2_the_routing_pattern_holds_on_other_seeds(seed):
    runs = {routing: stale_reads.simulate(100, 50, routing, seed)["session"]
            for routing in ("random", "sticky", "read_your_writes", "primary")}
    assert runs["sticky"].monotonic_violations == 0 and runs["sticky"].ryw_violations > 0
    assert runs["read_your_writes"].ryw_violations == 0 and runs["read_your_writes"].monotonic_violations > 0
    assert (runs["primary"].ryw_violations, runs["primary"].monotonic_violations) == (0, 0)


def test_section_4_waiting_for_one_percent_takes_4_6_lags():
    # "to be stale less than 1% of the time you wait 4.6 L"; quiz: "about 460 ms" for L = 100 ms, and
    # "At Δ = L a read is still stale 37% of the time"
    assert round(math.log(100), 1) == 4.6
    assert round(100 * math.log(100), -1) == 460
    assert float(stale_reads.model.theory_stale(0.1 * math.log(100), 0.1)) == pytest.approx(0.01)
    assert round(math.exp(-1) * 100) == 37


# -- Experiment 3: lost updates -------------------------------------------------------------------------

def test_the_counter_scenario_matches_the_description():
    # "Ten clients each add 1 to a shared counter 20 times ... think for Exp(mean 10 ms) ... 200 acknowledged"
    controls = LostUpdatesDashboard().controls_by_name
    assert (controls["clients"].value, controls["think_ms"].value) == (10, 10)
    assert lost_updates.INCREMENTS == 20
    assert isinstance(lost_updates_model.THINK, Exponential) and lost_updates_model.THINK.mean == 0.010


def test_experiment_3_ten_clients():
    # "the counter ends at 85: 115 of the 200 acknowledged increments (57%) are gone ... With compare-and-set
    #  the counter ends at 200, nothing lost, paid for with 313 retries"
    d = LostUpdatesDashboard()
    plain, cas = d.result["plain"], d.result["cas"]
    assert (plain.acknowledged, plain.final, plain.lost) == (200, 85, 115)
    assert f"{plain.lost / plain.acknowledged:.0%}" == "57%" and "115</b> lost (57%)" in d.status.value
    assert (cas.acknowledged, cas.final, cas.lost, cas.cas_retries) == (200, 200, 0, 313)


def test_experiment_3_fewer_clients_and_a_longer_think_time():
    # "Drag clients to 1: nothing is lost either way. At 2 clients, 7 increments are lost. Now set the think
    #  time to 100 ms ...: 169 are lost (84%), and compare-and-set needs 556 retries and takes 11.1 s
    #  instead of 3.9 s"
    one = lost_updates.simulate(1, 10)
    assert one["plain"].lost == 0 and one["cas"].lost == 0
    assert lost_updates.simulate(2, 10)["plain"].lost == 7
    slow = lost_updates.simulate(10, 100)
    assert slow["plain"].lost == 169 and f"{169 / 200:.0%}" == "84%"
    assert slow["cas"].cas_retries == 556 and slow["cas"].lost == 0
    assert (round(slow["cas"].duration, 1), round(slow["plain"].duration, 1)) == (11.1, 3.9)


# -- Experiment 4: two-phase commit ---------------------------------------------------------------------

def test_the_transaction_matches_the_description():
    # "three participants ... each message takes 10 ms ... a crash after all the votes are in, and 30 s to recover"
    assert isinstance(two_phase_commit_model.LATENCY, Constant) and two_phase_commit_model.LATENCY.value == 0.01
    controls = TwoPhaseCommitDashboard().controls_by_name
    assert (controls["crash"].value, controls["recovery_s"].value, controls["participants"].value) == \
        ("after_votes", 30, 3)


def test_experiment_4_a_crash_after_the_votes():
    # "All 3 participants sit prepared and blocked for 30 s, each holding its locks for 30.02 s. Without a crash
    #  each holds them for 0.02 s ... finds no decision in its log and aborts ... recovery time to 120 s:
    #  blocked for 120 s"
    r = TwoPhaseCommitDashboard().result
    assert list(r.blocked) == [30.0] * 3
    assert [round(h, 2) for h in r.lock_held] == [30.02] * 3
    assert r.decision == "abort"
    none = two_phase_commit.simulate("none")
    assert [round(h, 2) for h in none.lock_held] == [0.02] * 3 and none.decision == "commit"
    assert list(two_phase_commit.simulate("after_votes", 120).blocked) == [120.0] * 3


def test_experiment_4_a_crash_mid_decision():
    # "participant 0 heard commit and finished at 0.03 s. Participants 1 and 2 wait 30 s to learn the same
    #  decision ... before sending prepare: nobody has locked anything"
    r = two_phase_commit.simulate("mid_decision")
    p0, p1, p2 = r.result.participants
    assert p0.decision == "commit" and round(p0.decided_at, 2) == 0.03
    assert list(r.blocked) == [0.0, 30.0, 30.0]
    assert p1.decision == p2.decision == "commit"
    before = two_phase_commit.simulate("before_prepare")
    assert list(before.lock_held) == [0.0] * 3 and before.timeline == []


# -- The prediction and the self-check -----------------------------------------------------------------

def test_the_prediction_is_answered_by_the_simulation():
    # "reads it back 50 ms later ... on average it is 100 ms (exponentially distributed)" -> "About 6 times in 10"
    assert "50 ms later" in lesson04.QUESTION and "100 ms" in lesson04.QUESTION
    d = stale_reads.simulate(100, 50, "random")
    assert round(d["stale"] * 10) == 6 and round(d["theory"] * 10) == 6
    assert "About 6 times in 10" in lesson04.OPTIONS


def test_the_self_check_numbers():
    q = {question.prompt[:40]: question for question in lesson04.QUESTIONS}
    assert len(lesson04.QUESTIONS) >= 4
    dual = next(x for x in lesson04.QUESTIONS if "50,000 orders" in x.prompt)
    assert 50_000 // 1_000 == 50 and "About 50 orders a day" in dual.options[dual.answer]
    sticky = next(x for x in lesson04.QUESTIONS if "sticky" in x.prompt)
    assert sticky.options[sticky.answer] == "Monotonic reads"
    r = stale_reads.simulate(100, 50, "sticky")["session"]
    assert "0 monotonic-read violations and 222 read-your-writes violations in 600 reads" in sticky.explain
    assert (r.monotonic_violations, r.ryw_violations, r.reads) == (0, 222, 600)
    stock = next(x for x in lesson04.QUESTIONS if "stock = 10" in x.prompt)
    assert "lost 115 of 200 increments without it and none with it" in stock.explain
    twopc = next(x for x in lesson04.QUESTIONS if "two-phase commit" in x.prompt)
    assert twopc.options[twopc.answer].startswith("Nothing")
    assert q  # every question has a distinct opening
    assert len(q) == len(lesson04.QUESTIONS)
