"""Every number lesson 07 (``course/07_when_everything_moves.ipynb``) states, checked against its model.

Each test quotes the claim it checks, in the lesson's words. A number the
lesson states is checked as its long-run value: theory where the model has
it (:func:`course.models.sim_vs_real.theory`, the chaos experiment's sample
size and Wald expectation, the exact detection probability of a random
fault schedule, the burn-rate arithmetic), else the mean over many seeds
within about three standard errors (stated at each check). Where a model test
file already runs the expensive long-run sample, this file asserts the
lesson's rounded number against the model's theory or a cheaper recomputation
and names that test. The one picture the trace dashboard shows by default
("the most eventful request ... 183 ms") is deterministic and checked exactly.

Experiment 1's real run is the lesson's own call, :func:`sim_vs_real.compare`
(400 real requests on loopback, about 2 s), made once, and held to the
module's :data:`~course.models.sim_vs_real.TOLERANCES`; the fault tour runs
once too (about 1 s). Each leaves no thread behind.
"""

from __future__ import annotations

import inspect
import math
import re
import statistics
import threading
from functools import partial
from pathlib import Path

import ipywidgets as widgets
import nbformat
import numpy as np
import pytest

from course.dashboards import (BurnRateDashboard, ChaosExperimentDashboard, FaultSchedulesDashboard,
                               TraceDashboard)
from course.dashboards import chaos_experiment as chaos_dashboard
from course.dashboards import fault_schedules as schedules_dashboard
from course.dashboards import traces as trace_dashboard
from course.lessons import lesson07
from course.models import burn_rate as burn
from course.models import chaos_experiment as chaos
from course.models import fault_schedules as fs
from course.models import sim_vs_real
from course.models import traces
from course.models.fault_schedules import BETWEEN, CrashConsumer, CrashRelay, Duplicate
from course.models.sim_vs_real import TOLERANCES, Scenario
from course.sim import Backoff, ManualClock, Outcome, Retry, Timeout
from course.sim.policies.sync import Pipeline
from tests.lessons import claims_helpers
from tests.lessons.dashboard_helpers import lesson_settings

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "07_when_everything_moves.ipynb"
OK, ERROR, TIMEOUT = int(Outcome.OK), int(Outcome.ERROR), int(Outcome.TIMEOUT)
PAGE_1H, PAGE_6H, TICKET = burn.WORKBOOK
PLAIN_SLO, PLAIN_5PCT = burn.PLAIN
#: Seeds of the trace chain at the dashboard's settings (one 30 s run, about 900 requests, takes 0.1 s): the
#: same twelve that tests/lessons/test_traces.py uses for the lesson's figures.
TRACE_SEEDS = range(1, 13)
#: Seeds for the burn-rate long runs (a month of minutes takes about 10 ms); test_burn_rate.py runs 40 to 100.
BURN_SEEDS = 30


notebook_text = partial(claims_helpers.notebook_text, NOTEBOOK)
code_text = partial(claims_helpers.code_text, NOTEBOOK)
says = partial(claims_helpers.says, NOTEBOOK)


def explains(question: int, *phrases: str) -> None:
    """Self-check question ``question`` (1-based) explains itself with each of ``phrases``."""
    text = " ".join(lesson07.QUESTIONS[question - 1].explain.split())
    for phrase in phrases:
        assert phrase in text, phrase


def answer(question: int) -> str:
    q = lesson07.QUESTIONS[question - 1]
    return q.options[q.answer]


def within_se(values, expected: float, sigmas: float = 3.0) -> bool:
    """Whether the mean of ``values`` is within ``sigmas`` standard errors of ``expected``."""
    values = list(values)
    return abs(statistics.fmean(values) - expected) <= sigmas * statistics.stdev(values) / math.sqrt(len(values))


# -- the notebook itself -------------------------------------------------------------------------------

def test_notebook_calls_what_the_text_describes():
    source = code_text()
    for call in ("lesson07.prediction()", "comparison = sim_vs_real.compare()",
                 "lesson07.comparison_table(comparison)", "lesson07.tour_table(sim_vs_real.fault_tour())",
                 "chaos_experiment_dashboard()",
                 "chaos_experiment_dashboard(fault_error_rate=2.0, abort_threshold=10.0)",
                 "[(name, fs.run(schedule).ok) for name, schedule in fs.SCENARIOS.items()]",
                 "fault_schedules_dashboard()", "trace_dashboard()", 'burn_rate_dashboard(shape="outage")',
                 "print(fs.HYPOTHESIS_EXAMPLE)", "lesson07.self_check()"):
        assert call in source, call


def _controls(cls) -> dict:
    """A dashboard's controls, without building (or drawing) the dashboard."""
    return cls.__new__(cls).controls()


def _valid(control, value) -> bool:
    if isinstance(control, widgets.Dropdown):
        return value in [v for _, v in control.options]
    if isinstance(control, widgets.Checkbox):
        return isinstance(value, bool)
    steps = (value - control.min) / control.step
    return control.min <= value <= control.max and abs(steps - round(steps)) < 1e-9


#: Every setting the lesson's prose asks the learner to choose, by dashboard: Experiment 2 ("Set the blast
#: radius to 10% ... Then 0.1%"), 3 ("Set the faults per schedule to 1 ... Set it to 2 and the runs to 200 ...
#: Switch to the fixed consumer"), 4 ("Set C's slow calls to 20%, turn hedging off and look at a typical
#: request ... Turn hedging back on") and 5 (the rules without short windows, the blip, 50%, the slow leak,
#: the plain thresholds).
GUIDED = {
    ("chaos_experiment", ChaosExperimentDashboard): [{"blast_radius": 0.1}, {"blast_radius": 0.001},
                                                     {"behaviour": "refuted"}],
    ("fault_schedules", FaultSchedulesDashboard): [{"steps": 1}, {"steps": 2, "runs": 200}, {"consumer": "fixed"}],
    ("trace", TraceDashboard): [{"slow_share": 20, "hedging": False, "request": "typical"},
                                {"slow_share": 20, "hedging": True, "request": "typical"}],
    ("burn_rate", BurnRateDashboard): [{"rules": "long_only"}, {"shape": "blip"}, {"shape": "blip", "errors": 0.5},
                                       {"shape": "leak"}, {"rules": "plain"}],
}


def test_the_dashboard_calls_and_the_guided_settings_use_valid_control_values():
    # ipywidgets clamps a slider value out of range without a word, so each value is checked against its control.
    for (name, cls), guided in GUIDED.items():
        controls = _controls(cls)
        called = lesson_settings(name)
        assert called, name
        for settings in called + guided:
            for key, value in settings.items():
                assert key in controls, (name, key)
                assert _valid(controls[key], value), (name, key, value)


def test_the_dashboard_defaults_are_the_settings_the_lesson_describes():
    # Experiment 2's first notice is the default: "The fallback is broken ... at a 1% blast radius" with "10% of
    # the experiment's requests" failing and a 5% abort threshold; Experiment 3's, 4 faults per schedule;
    # Experiment 4's, 5% slow calls, a 150 ms timeout, hedging on and "the most eventful request"; Experiment
    # 5's, 20 requests per second under a 99.9% SLO with the Workbook's rules.
    defaults = {name: {k: c.value for k, c in _controls(cls).items()} for (name, cls) in GUIDED}
    assert defaults["chaos_experiment"] == {"blast_radius": 0.01, "abort_threshold": 5.0, "behaviour": "refuted",
                                            "fault_error_rate": 10.0, "seed": 1}
    assert defaults["fault_schedules"] == {"runs": 50, "steps": 4, "consumer": "buggy", "seed": 1}
    assert defaults["trace"] == {"slow_share": 5, "b_timeout_ms": 150, "hedging": True, "request": "eventful"}
    assert defaults["burn_rate"] == {"shape": "outage", "errors": 1.0, "rules": "workbook", "slo": 0.999, "rate": 20}


# -- Experiment 1: the simulator meets reality ------------------------------------------------------------

@pytest.fixture(scope="module")
def comparison():
    """The lesson's own call, once: 20,000 simulated and 400 real requests (about 2 s). No thread is left."""
    before = set(threading.enumerate())
    found = sim_vs_real.compare()
    assert set(threading.enumerate()) == before
    return found


@pytest.fixture(scope="module")
def tour():
    """The fault tour, once (about 1 s), by fault name."""
    before = set(threading.enumerate())
    rows = sim_vs_real.fault_tour()
    assert set(threading.enumerate()) == before
    return {row.fault: row for row in rows}


def test_experiment_1_the_setting():
    # "The same two policy objects, `Retry(2)` (the first try and one retry, at once) and `Timeout(0.2)`" ... "it
    # delays **5%** of requests by **1 s**" ... "(400 real requests, four at a time)"
    scenario = Scenario()
    retry, timeout = scenario.policies()
    assert (retry.max_attempts, retry.backoff.kind, timeout.seconds) == (2, "none", 0.2)
    assert retry.backoff.delay(0, 0.0, None) == 0  # "at once"
    assert (scenario.slow_share, scenario.slow_delay) == (0.05, 1.0)
    assert (sim_vs_real.MEASURE_REQUESTS, sim_vs_real.CONCURRENCY) == (400, 4)
    says("`Retry(2)` (the first try and one retry, at once) and `Timeout(0.2)`", "delays **5%** of requests by **1 s**",
         "(400 real requests, four at a time)")


def test_experiment_1_theory():
    # "So **1.05 attempts** per request, **99.75%** succeed (both tries delayed: 0.05² = 0.25%), the median is one
    # fast answer (**1 ms**), and since 5% of requests take the timeout plus a retry, the p99 is **201 ms**."
    th = sim_vs_real.theory()
    assert th.attempts == pytest.approx(1.05) and th.success == pytest.approx(0.9975)
    assert (th.p50, th.p99) == (pytest.approx(0.001), pytest.approx(0.201))
    atoms = sim_vs_real.latency_distribution(Scenario())
    assert atoms == [(pytest.approx(0.001), pytest.approx(0.95)), (pytest.approx(0.201), pytest.approx(0.0475)),
                     (pytest.approx(0.4), pytest.approx(0.0025))]
    assert atoms[1][1] + atoms[2][1] == pytest.approx(0.05)  # "5% of requests take the timeout"
    says("**1.05 attempts** per request, **99.75%** succeed (both tries delayed: 0.05² = 0.25%)",
         "the median is one fast answer (**1 ms**)", "the p99 is **201 ms**")


def test_experiment_1_the_simulator_lands_on_theory(comparison):
    # "The simulator, with 20,000 requests, lands on theory." Latencies are constants, so the quantiles are theory's
    # atoms exactly; attempts and successes within 4 standard errors of 20,000 requests. (The 60,000-request long
    # run is tests/models/test_sim_vs_real.py::test_predict_agrees_with_theory_in_the_long_run.)
    sim, th = comparison.simulator, comparison.theory
    assert sim.requests == sim_vs_real.PREDICT_REQUESTS == 20_000
    assert (sim.p50, sim.p99) == (pytest.approx(th.p50, abs=1e-9), pytest.approx(th.p99, abs=1e-9))
    assert sim.attempts == pytest.approx(th.attempts, abs=4 * math.sqrt(0.05 * 0.95 / sim.requests))
    assert sim.success == pytest.approx(th.success, abs=4 * math.sqrt(0.9975 * 0.0025 / sim.requests))
    says("The simulator, with 20,000 requests, lands on theory.")


def test_experiment_1_the_real_run_agrees_within_the_printed_tolerances(comparison):
    # "The real run agrees within the tolerances the table prints. Its median is a millisecond or two slower"
    # (measured: 1.2 ms against the simulator's 1 ms on an idle machine; the tolerance is 20 ms, for a loaded one).
    loaded = sim_vs_real.LOADED_TOLERANCES  # the suite runs many processes on two cores: looser timings
    assert comparison.agrees(loaded), (comparison.differences(loaded), comparison.table())
    real = comparison.real
    assert real.requests == 400 and real.server_calls == round(real.attempts * real.requests)
    assert abs(real.p50 - comparison.simulator.p50) <= loaded.p50
    assert real.seconds < 10  # "The cell takes a few seconds": the real part took 1.4 s, the whole cell 2 s, here
    table = lesson07.comparison_table(comparison)
    # Quiet, all four read "within"; the table says "outside" exactly where differences() does.
    assert table.count("   within ±") + table.count("   outside ±") == 4
    assert table.count("   outside ±") == len(comparison.differences())
    for printed in ("±20 ms", "±25% or ±60 ms", "±1.5 points", "±0.03"):
        assert printed in table, printed
    assert ("The real run agrees with the simulator." in table) == comparison.agrees()
    assert comparison.table()[3][3] == pytest.approx(1.05)
    says("The real run agrees within the tolerances the table prints.")


def test_the_fault_tour(tour):
    # "a hang and a slow answer both end as a `TimeoutError` after two cut attempts (about 400 ms), a 503 and a reset
    # are retried at once, and so is the 429: this `Retry` never reads `Retry-After`"
    assert list(tour) == ["Ok()", "Delay(0.5)", "Fail(503)", "Fail(429, retry_after=1)", "Reset()", "Hang()"]
    assert (tour["Ok()"].outcome, tour["Ok()"].attempts) == ("ok", 1)
    for name in ("Delay(0.5)", "Hang()"):
        assert (tour[name].outcome, tour[name].attempts) == ("TimeoutError", 2)
        # Two attempts cut at 200 ms each: about 402 ms quiet; a test machine running many processes on two cores
        # has been seen to take 1.5 s, so the bound only rules out waiting for the 0.5 s delay or a hang.
        assert 400 <= tour[name].elapsed_ms < 2500
    for name in ("Fail(503)", "Fail(429, retry_after=1)", "Reset()"):
        assert tour[name].attempts == 2 and tour[name].outcome != "ok", name
        assert tour[name].elapsed_ms < 1000, name  # at once (about 2 ms): no backoff, no wait for Retry-After's 1 s
    assert "Retry-After: 1" in tour["Fail(429, retry_after=1)"].detail
    table = lesson07.tour_table(tour.values())
    assert re.search(r"Fail\(429, retry_after=1\)\s+ServerError\s+2", table)
    says("a hang and a slow answer both end as a `TimeoutError` after two cut attempts (about 400 ms)",
         "a 503 and a reset are retried at once, and so is the 429: this `Retry` never reads `Retry-After`")


def test_the_retry_cannot_read_retry_after():
    # The policy decides its delay from the attempt count, the outcome and the clock: the error that carried
    # the header never reaches it, and with Backoff("none") the delay is 0.
    parameters = list(inspect.signature(Retry.next_delay).parameters)
    assert parameters == ["self", "attempts_made", "outcome", "started_at", "now", "previous_delay", "rng"]
    retry, _ = Scenario().policies()
    assert retry.next_delay(1, Outcome.ERROR, 0.0, 0.0, 0.0, None) == 0


def test_the_pipeline_timeout_cannot_cut_a_hung_call():
    # "The client must also set its own socket timeout. The pipeline's `Timeout` only judges an answer once it has
    # come back, and a hung socket never comes back." A call that takes 30 s is only called late when it returns.
    clock = ManualClock()

    def hangs():
        clock.advance(30.0)
        return "answer"

    with pytest.raises(TimeoutError):
        Pipeline(Retry(1, Backoff("none")), Timeout(0.2)).call(hangs, clock=clock)
    assert clock.now() == 30.0
    says("The pipeline's `Timeout` only judges an answer once it has come back")


# -- Experiment 2: a chaos experiment ------------------------------------------------------------------

def test_experiment_2_the_setting():
    # "Traffic is 2,000 requests per second with 0.1% errors at baseline" ... "every 10 s" ... "a control group of
    # the same size" ... "then 10% of the experiment's requests fail"
    assert (chaos.RATE, chaos.BASELINE, chaos.CHECK_SECONDS) == (2000.0, 0.001, 10.0)
    assert chaos.check_seconds(0.01) == 10.0
    run = chaos.simulate(0.01, behaviour="graceful", seed=1)
    assert run.control_requests == pytest.approx(run.experiment_requests, rel=0.05)  # the same share of traffic
    says("Traffic is 2,000 requests per second with 0.1% errors at baseline", "every 10 s",
         "then 10% of the experiment's requests fail")


def test_experiment_2_the_abort_at_a_1_percent_radius():
    # "The fallback is broken, and the abort fires at the first check: **about 20 users hurt** in the long run, at a
    # 1% blast radius." Theory 19.9; 200 seeded runs within 3 standard errors, each aborted at 10 s.
    th = chaos.theory(0.01)
    assert th.expected_hurt == pytest.approx(20, abs=0.5)
    assert th.abort_per_check > 0.99
    runs = [chaos.simulate(0.01, seed=seed, duration=60.0) for seed in range(200)]
    assert statistics.fmean(r.aborted_at == 10.0 for r in runs) > 0.98
    assert within_se([r.hurt for r in runs], th.expected_hurt)
    says("the abort fires at the first check: **about 20 users hurt** in the long run, at a 1% blast radius")


def test_experiment_2_the_abort_at_other_radii():
    # "Set the blast radius to 10%: about **200** hurt before the abort. Then 0.1%: about **10**, because the check
    # has to wait for 100 requests before it can trust a rate." Theory: 198 and 10.3; 200 runs each, 3 SE.
    # (test_chaos_experiment.py::test_hurt_before_the_abort_grows_with_the_radius holds the same figures.)
    for radius, quoted, tolerance in ((0.1, 200, 5), (0.001, 10, 0.5)):
        th = chaos.theory(radius)
        assert th.expected_hurt == pytest.approx(quoted, abs=tolerance), radius
        runs = [chaos.simulate(radius, seed=seed, duration=120.0) for seed in range(200)]
        assert within_se([r.hurt for r in runs], th.expected_hurt), radius
    assert chaos.check_seconds(0.001) * chaos.RATE * 0.001 == chaos.MIN_REQUESTS == 100
    says("Set the blast radius to 10%: about **200** hurt before the abort. Then 0.1%: about **10**, because the check "
         "has to wait for 100 requests")


def test_experiment_2_the_planned_test():
    # "the experiment needs **73** requests per group here, and **7.2** users are hurt on the way: the same at every
    # blast radius. ... (3.6 s at 1%, 36 s at 0.1%)"
    assert round(chaos.sample_size(chaos.BASELINE, 0.10)) == 73
    assert round(chaos.hurt_before_clear(chaos.BASELINE, 0.10), 1) == 7.2
    table = chaos.tradeoff(chaos_dashboard.RADII)
    np.testing.assert_allclose(table["hurt_before_test"], chaos.hurt_before_clear(chaos.BASELINE, 0.10))
    assert round(chaos.theory(0.01).planned_test_time, 1) == 3.6
    assert round(chaos.theory(0.001).planned_test_time) == 36
    # The simulated users hurt up to the test, at both radii (200 runs each, 3 SE): the test comes before the
    # first abort check (3.6 s < 10 s, 36.4 s < 50 s), so every run reaches it.
    for radius in (0.01, 0.001):
        runs = [chaos.simulate(radius, seed=seed, duration=60.0) for seed in range(200)]
        assert None not in [r.hurt_before_test for r in runs]
        assert within_se([r.hurt_before_test for r in runs], chaos.hurt_before_clear(chaos.BASELINE, 0.10)), radius
    says("needs **73** requests per group here, and **7.2** users are hurt on the way: the same at every blast radius",
         "(3.6 s at 1%, 36 s at 0.1%)")


def test_experiment_2b_a_fault_below_the_threshold():
    # "Set the fault's error rate to **2%** and the abort threshold to **10%**: the abort never fires and about
    # **680** users are hurt over the 30 minutes. The comparison with the control group says "worse" after about
    # 22 s."
    th = chaos.theory(0.01, 0.10, "refuted", 0.02)
    assert th.abort_probability < 1e-5
    assert th.expected_hurt == pytest.approx(680, abs=5)  # 2,000 × 1% × 1.9% × 1,800 s = 684
    runs = [chaos.simulate(0.01, 0.10, "refuted", 0.02, seed=seed) for seed in range(100)]
    assert not any(r.aborted for r in runs)
    assert within_se([r.hurt for r in runs], th.expected_hurt)
    assert round(th.planned_test_time) == 22
    # The planned test says "worse" at 22 s in at least its power (80%) of 300 runs, less 3 SE (measured: 86%);
    # and in the dashboard's own run (seed 1).
    tested = [chaos.simulate(0.01, 0.10, "refuted", 0.02, seed=seed, duration=30.0) for seed in range(300)]
    assert statistics.fmean(r.detected for r in tested) >= chaos.POWER - 3 * math.sqrt(0.8 * 0.2 / 300)
    assert chaos.simulate(0.01, 0.10, "refuted", 0.02, seed=1).detected
    says("Set the fault's error rate to **2%** and the abort threshold to **10%**: the abort never fires and about "
         "**680** users are hurt over the 30 minutes", 'says "worse" after about 22 s')


# -- Experiment 3: random fault schedules -------------------------------------------------------------

def test_experiment_3_the_hand_written_scenarios_pass():
    # "Five orders go through the data layer" ... "Ten hand-written scenarios, with none, one or two faults each,
    # all pass"
    assert fs.MESSAGES == 5
    assert len(fs.SCENARIOS) == 10
    assert all(fs.run(schedule).ok for schedule in fs.SCENARIOS.values())
    assert sorted(len(schedule) for schedule in fs.SCENARIOS.values()) == [0] + [1] * 6 + [2] * 3
    says("Five orders go through the data layer", "Ten hand-written scenarios, with none, one or two faults each")


def test_experiment_3_the_invariants():
    # "checks three invariants: every customer paid exactly for their orders, every order was charged once, and no
    # money appeared or vanished" ...
    # "Note that "money conserved" over all accounts held even for the buggy one."
    assert fs.INVARIANTS == (fs.MONEY, fs.CUSTOMERS_PAID, fs.CHARGED_ONCE)
    run = fs.run(fs.BUG)
    assert run.violated == [fs.CUSTOMERS_PAID, fs.CHARGED_ONCE] and run.checks[fs.MONEY]


def test_experiment_3_the_shrunk_schedule_is_two_faults():
    # "The shrunk schedule is **two** faults ... the consumer crashes between the charge and the record on a
    # message, and that message arrives again. Either fault alone is harmless" ... "remove either step and the run
    # passes." The dashboard's own search (seed 1): the 26th schedule fails and shrinks to a relay crash that
    # republishes the crashed message. (Every failure shrinks to such a pair:
    # test_fault_schedules.py::test_shrinking_a_found_failure_leaves_the_two_steps_the_bug_needs.)
    search = schedules_dashboard.simulate()
    steps = search.shrunk.steps
    assert search.first.runs == 26
    assert steps == [CrashConsumer(1, BETWEEN), CrashRelay(1)]
    assert not fs.run(steps).ok
    for i in range(len(steps)):
        assert fs.run(steps[:i] + steps[i + 1:]).ok
    says("The shrunk schedule is **two** faults", "Either fault alone is harmless",
         "remove either step and the run passes")


def test_experiment_3_how_often_random_schedules_find_it():
    # "With 4 faults per schedule, one random schedule finds the bug with probability **p = 8.6%** (worked out exactly
    # by counting schedules, and matched by 100,000 random schedules). So ... **59%** within 10 runs, **99%** within 50."
    # (The 100,000: test_fault_schedules.py::test_detection_probability_over_100_000_schedules, whose verdicts are
    # has_bug_pair's, equal to the simulation's on 3,600 simulated runs in the same file.)
    p = fs.detection_probability(4)
    assert round(100 * p, 1) == 8.6
    assert round(100 * float(fs.detection_curve(p, 10))) == 59
    assert round(100 * float(fs.detection_curve(p, 50))) == 99
    says("probability **p = 8.6%**", "**59%** within 10 runs, **99%** within 50")


def test_experiment_3_fewer_faults_per_schedule():
    # "Set the faults per schedule to 1: nothing can ever find it. Set it to 2 and the runs to 200: p falls to
    # **1.6%** and you need about 43 runs for even odds."
    assert fs.detection_probability(1) == 0
    assert not any(schedules_dashboard.simulate(runs=200, steps=1).found)
    p = fs.detection_probability(2)
    assert round(100 * p, 1) == 1.6
    assert round(math.log(0.5) / math.log(1 - p)) == 43
    says("Set the faults per schedule to 1: nothing can ever find it", "p falls to **1.6%**",
         "about 43 runs for even odds")


def test_experiment_3_the_fixed_consumer():
    # "Switch to the *fixed* consumer ... no schedule breaks it." The dashboard's search, and the shrunk failure of
    # the buggy one, replayed. (600 random schedules each of 2, 4 and 8 faults:
    # test_fault_schedules.py::test_the_fixed_consumer_survives_a_large_random_sample.)
    search = schedules_dashboard.simulate(consumer="fixed")
    assert not any(search.found) and search.p == 0
    assert search.shown.ok and search.shown_schedule == (CrashConsumer(1, BETWEEN), CrashRelay(1))
    assert fs.run(fs.BUG, "fixed").ok


# -- Experiment 4: a trace and RED metrics ---------------------------------------------------------------

@pytest.fixture(scope="module")
def default_runs():
    """The chain at the dashboard's settings, over :data:`TRACE_SEEDS` (about 1.2 s)."""
    return [traces.simulate(seed=seed) for seed in TRACE_SEEDS]


def test_experiment_4_the_setting():
    # "A calls B with a 1 s timeout; B calls C with a 150 ms timeout per attempt, up to three attempts, and a
    # **hedge** ... within 50 ms ... C is usually fast (median 10 ms), but 5% of its calls take about 300 ms, it
    # fails 2% of them, and from 12 s to 18 s it fails 20%." ... "A's three workers"
    assert (traces.A_TIMEOUT, traces.B_TIMEOUT, traces.MAX_ATTEMPTS, traces.HEDGE_DELAY) == (1.0, 0.15, 3, 0.05)
    assert (traces.C_FAST.median, traces.C_SLOW.median) == (0.010, 0.300)
    assert (traces.SLOW_SHARE, traces.ERROR_RATE, traces.BURST, traces.A_WORKERS) == (0.05, 0.02, (12.0, 18.0, 0.2), 3)
    says("A calls B with a 1 s timeout; B calls C with a 150 ms timeout per attempt, up to three attempts",
         "if the first has not answered within 50 ms", "C is usually fast (median 10 ms), but 5% of its calls take "
         "about 300 ms, it fails 2% of them, and from 12 s to 18 s it fails 20%")


def test_experiment_4_the_most_eventful_request():
    # "B's first attempt to C times out at 150 ms, yet C goes on working on it for another quarter of a second
    # (hatched) for nobody; the hedge fails fast with an error; the retry answers. 183 ms, and the user saw success.
    # In this request, more than 80% of the time went to timeouts and failed attempts" ... The dashboard's picture
    # (seed 1), exactly.
    view = trace_dashboard.simulate(traces.SLOW_SHARE, traces.B_TIMEOUT, True, "eventful")
    trace = view.trace
    request = trace[0]
    to_c = [s for s in trace if s.target == "C" and s.kind in ("attempt", "hedge", "retry")]
    assert [s.kind for s in to_c] == ["attempt", "hedge", "retry"]
    first, hedge, retry = to_c
    assert first.outcome == TIMEOUT and first.duration == pytest.approx(0.150, abs=1e-9)
    (worked,) = [s for s in trace if s.parent == first.id]
    assert worked.abandoned and worked.end - first.end == pytest.approx(0.25, abs=0.03)  # 268 ms more
    assert hedge.outcome == ERROR and hedge.duration < 0.010  # 8 ms
    assert retry.outcome == OK and retry.end == pytest.approx(request.end, abs=1e-9)
    assert round(request.duration * 1000) == 183 and request.outcome == OK
    sources = view.sources
    assert sources["timeouts & failed attempts"] / sum(sources.values()) > 0.80  # 82%
    says("B's first attempt to C times out at 150 ms, yet C goes on working on it for another quarter of a second",
         "the hedge fails fast with an error; the retry answers. 183 ms, and the user saw success",
         "more than 80% of the time went to timeouts and failed attempts")


def test_experiment_4_a_typical_request_is_mostly_c_working(default_runs):
    # "against about 57% in C's own work for a typical request": the mean over the 20 requests nearest the median,
    # over 12 seeds (56.8%, standard error 0.7 points), within 2 points; and in the dashboard's run (57.2%).
    shares = [traces.overview(run).typical["C work"] for run in default_runs]
    assert statistics.fmean(shares) == pytest.approx(0.57, abs=0.02)
    assert traces.overview_cached().typical["C work"] == pytest.approx(0.57, abs=0.02)
    says("about 57% in C's own work for a typical request")


def test_experiment_4_red_during_the_burst(default_runs):
    # "during C's error burst its error share jumps to about 20%, and its rate rises further above A's (the retries
    # and hedges), while A's errors stay near zero." Windows wholly inside the burst, over 12 seeds: C fails 20.6% of
    # about 2,900 calls (within 3 binomial SE of 20%), C answers 1.33 calls per A request against 1.08 outside it
    # (the 7% hedges), and A fails none.
    start, end, rate = traces.BURST
    inside = {name: [0, 0] for name in traces.SERVICES}
    outside = {name: [0, 0] for name in traces.SERVICES}
    for run in default_runs:
        for name, r in traces.red(run).items():
            for t, count, errors in zip(r.t, r.count, r.errors):
                target = inside if start <= t and t + r.window <= end else (
                    outside if t + r.window <= start - 1 or t >= end + 1 else None)
                if target is not None:
                    target[name][0] += int(count)
                    target[name][1] += round(errors * count) if count else 0
    c_share = inside["C"][1] / inside["C"][0]
    assert c_share == pytest.approx(rate, abs=3 * math.sqrt(rate * (1 - rate) / inside["C"][0]))
    assert inside["C"][0] / inside["A"][0] > 1.25 > 1.15 > outside["C"][0] / outside["A"][0]
    assert inside["A"][1] / inside["A"][0] < 0.005
    says("during C's error burst its error share jumps to about 20%", "while A's errors stay near zero")


def test_experiment_4_errors_have_their_own_latency(default_runs):
    # "C's failed calls are fast; B's attempts that timed out are slow." C's errors take as long as
    # its successes (about 10 ms); B's failed attempts to C are timeouts, cut at 150 ms. (B as a server fails no
    # request at these settings; with hedging off, its failed requests are slow:
    # test_traces.py::test_errors_have_their_own_latency.)
    c = {k: np.concatenate([r.servers["C"][k] for r in default_runs]) for k in ("arrival", "end", "outcome")}
    c_time, c_ok = c["end"] - c["arrival"], c["outcome"] == OK
    assert np.median(c_time[~c_ok]) == pytest.approx(np.median(c_time[c_ok]), rel=0.15)
    a = {k: np.concatenate([r.attempts["B→C"][k] for r in default_runs]) for k in ("sent", "answered", "outcome")}
    timed_out = a["outcome"] == TIMEOUT
    np.testing.assert_allclose((a["answered"] - a["sent"])[timed_out], traces.B_TIMEOUT, atol=1e-9)
    assert traces.B_TIMEOUT > 10 * np.median(c_time[~c_ok])
    says("C's failed calls are fast; B's attempts that timed out are slow")


#: The long-run share of a typical request's time spent in A's queue with 20% slow calls at C and no hedging
#: (the mean over the 20 requests nearest the median): 20.4%, with a standard error of 0.7 points, over 300
#: seeds (measured for this file: seeds 1-300, ``traces.overview(...).typical["A queue"]``, about 25 s).
A_QUEUE_LONG_RUN, A_QUEUE_LONG_RUN_SE = 0.204, 0.007


@pytest.fixture(scope="module")
def slow_c_runs():
    """20% slow calls at C, without and with hedging, over :data:`TRACE_SEEDS` (about 2 s)."""
    return {hedging: [traces.overview(traces.simulate(0.2, hedging=hedging, seed=seed)) for seed in TRACE_SEEDS]
            for hedging in (False, True)}


def test_experiment_4_a_slow_c_makes_a_queue_at_a(slow_c_runs):
    # "Set C's slow calls to **20%** and turn hedging **off**. Typical requests (the *typical 20* bar) now spend about
    # **20%** of their time queueing for one of A's three workers ... Turn hedging back on and the queue all but goes (under 5%)."
    # Twelve seeds agree with the 300-seed long run (21.8%, within 3 of their standard errors: the spread between
    # seeds is wide, 11 points); with hedging the queue is 1.6% (standard error 0.5 points).
    plain = [o.typical["A queue"] for o in slow_c_runs[False]]
    hedged = [o.typical["A queue"] for o in slow_c_runs[True]]
    assert within_se(plain, A_QUEUE_LONG_RUN)
    assert statistics.fmean(hedged) < 0.05
    says("the queue all but goes (under 5%)")


def test_experiment_4_the_quoted_queue_share_is_the_long_run():
    # "about **20%** of their time queueing": the quoted figure, within 1.5 points of the long run.
    found = re.search(r"\(the \*typical 20\* bar\) now\s+spend about \*\*(\d+)%\*\* of their time queueing",
                      notebook_text())
    assert found
    assert abs(int(found.group(1)) / 100 - A_QUEUE_LONG_RUN) <= 0.015


# -- Experiment 5: SLOs, budgets and burn-rate alerts ---------------------------------------------------

def _long_run(incident, rules) -> dict:
    return {s.rule: s for s in burn.long_run(incident, rules, seeds=BURN_SEEDS)}


def test_experiment_5_the_budget_arithmetic():
    # "at 1× the budget lasts exactly the 30 days; at 14.4× it is gone in 30/14.4 ≈ **2.08 days**, and one hour of
    # it spends **2%**." Self-check 3: "30/14.4 ≈ 2.08 days, and one hour spends 14.4/720 = 2%".
    assert burn.time_to_exhaust(1.0) == 30
    assert round(burn.time_to_exhaust(14.4), 2) == 2.08
    assert burn.budget_spent(14.4, 1) == pytest.approx(0.02) == pytest.approx(14.4 / 720)
    assert burn.budget(0.999) == pytest.approx(0.001)
    says("30/14.4 ≈ **2.08 days**, and one hour of it spends **2%**")
    explains(3, "30/14.4 ≈ 2.08 days", "14.4/720 = 2%", "fast page is 14.4× over an hour")
    assert answer(3).startswith("About 2 days: each hour at that rate spends 2% of the budget")


def test_experiment_5_the_workbook_table():
    # | page | 14.4× | 1 hour | 5 minutes | 2% | ... | ticket | 1× | 3 days | 6 hours | 10% |
    words = {5: "5 minutes", 30: "30 minutes", 60: "1 hour", 360: "6 hours", 3 * burn.MINUTES_PER_DAY: "3 days"}
    text = notebook_text()
    for rule in burn.WORKBOOK:
        spent = burn.budget_spent(rule.burn, rule.long_minutes / 60)
        row = (f"| {rule.severity} | {rule.burn:g}× | {words[rule.long_minutes]} | {words[rule.short_minutes]} | "
               f"{100 * spent:.0f}% |")
        assert row in text, row
        assert burn.budget_before_alert(50.0, rule) == pytest.approx(spent)  # what a burn has spent when it fires
    assert [round(100 * burn.budget_spent(r.burn, r.long_minutes / 60)) for r in burn.WORKBOOK] == [2, 5, 10]


def test_experiment_5_the_traffic():
    # "The dashboard runs a month at 20 requests per second with a little background noise, plus one incident."
    assert burn.BACKGROUND_BURN == 0.2 and burn.PERIOD_DAYS == 30
    assert inspect.signature(burn.run).parameters["rate"].default == 20.0
    says("a month at 20 requests per second with a little background noise")


def test_experiment_5_a_full_outage():
    # "A full outage of 30 minutes: all three alerts fire within about 4 minutes, and the fast page stops about 5
    # minutes after the outage ends ... Choose the rules *without* the short windows: detection is the same, but the
    # page goes on for an hour after the fix." (30 seeds; test_burn_rate.py runs 40.)
    assert burn.SHAPES["outage"] == burn.Incident(1.0, 30)
    found = _long_run(burn.SHAPES["outage"], burn.WORKBOOK + burn.LONG_ONLY)
    assert all(s.fired_share == 1 for s in found.values())
    assert [found[r].detection_minutes for r in burn.WORKBOOK] == [1, 3, 4]
    assert [found[r].detection_minutes for r in burn.LONG_ONLY] == [1, 3, 4]
    assert found[PAGE_1H].reset_minutes == 5 and found[burn.LONG_ONLY[0]].reset_minutes == 60
    assert burn.reset_minutes(1000, PAGE_1H) == pytest.approx(5, abs=0.1)  # 5 · (1 − 14.4 / 1000)
    says("all three alerts fire within about 4 minutes, and the fast page stops about 5 minutes after the outage",
         "detection is the same, but the page goes on for an hour after the fix")


def test_experiment_5_the_blip():
    # "Choose the **blip** (20% errors for 3 minutes): no Workbook alert fires; it spent 1.4% of the budget, under the
    # 2% that the fast page needs. Both plain thresholds ... page on it, every time. At 50% for 3 minutes (3.5% of
    # the budget) the fast page fires"
    assert burn.SHAPES["blip"] == burn.Incident(0.2, 3)
    assert round(100 * 0.2 * 3 / (0.001 * 30 * burn.MINUTES_PER_DAY), 1) == 1.4
    assert round(100 * 0.5 * 3 / (0.001 * 30 * burn.MINUTES_PER_DAY), 1) == 3.5
    # The blip's own errors, with noise, over the seeds: 1.4% of the budget (3 SE).
    spent = []
    for seed in range(1, BURN_SEEDS + 1):
        tl = burn.timeline(burn.SHAPES["blip"], seed=seed)
        minutes = slice(tl.index(burn.SHAPES["blip"].start_minute), tl.index(burn.SHAPES["blip"].end_minute))
        spent.append(tl.errors[minutes].sum() / tl.allowed_errors)
    assert within_se(spent, 0.2 * 3 / 43.2)
    found = _long_run(burn.SHAPES["blip"], burn.WORKBOOK + burn.PLAIN)
    assert all(found[r].fired_share == 0 for r in burn.WORKBOOK)
    assert all(found[r].fired_share == 1 for r in burn.PLAIN)
    half = _long_run(burn.Incident(0.5, 3), burn.WORKBOOK[:1])
    assert half[PAGE_1H].fired_share == 1
    says("Choose the **blip** (20% errors for 3 minutes): no Workbook alert fires; it spent 1.4% of the budget, "
         "under the 2% that the fast page needs", "page on it, every time",
         "At 50% for 3 minutes (3.5% of the budget) the fast page fires")


def test_experiment_5_the_slow_leak():
    # "Choose the **slow leak** (0.25% errors for four days, a 2.5× burn): neither page fires, and the ticket fires
    # after about **25 hours**, with **8.7%** of the budget spent. The plain 5% threshold never notices. The plain
    # 0.1% threshold notices in minutes"
    leak = burn.SHAPES["leak"]
    assert (leak.error_ratio, leak.duration_minutes) == (0.0025, 4 * burn.MINUTES_PER_DAY)
    assert burn.burn_rate(0.0025, 0.999) == pytest.approx(2.5)
    theory = burn.detection_minutes(2.5, TICKET, background=burn.BACKGROUND_BURN)
    assert round(theory / 60) == 25 and round(100 * 2.5 * theory / 43200, 1) == 8.7
    found = _long_run(leak, burn.WORKBOOK + burn.PLAIN)
    assert found[PAGE_1H].fired_share == found[PAGE_6H].fired_share == 0
    assert found[TICKET].fired_share == 1
    assert found[TICKET].detection_minutes / 60 == pytest.approx(25, abs=0.5)
    assert found[TICKET].budget_before_alert == pytest.approx(0.087, abs=0.001)
    assert found[PLAIN_5PCT].fired_share == 0
    assert found[PLAIN_SLO].fired_share == 1 and found[PLAIN_SLO].detection_minutes < 5
    says("(0.25% errors for four days, a 2.5× burn): neither page fires, and the ticket fires after about "
         "**25 hours**, with **8.7%** of the budget spent", "The plain 5% threshold never notices",
         "The plain 0.1% threshold notices in minutes")


def test_the_plain_threshold_pages_on_noise():
    # "on the background noise alone it pages about **24 times a month** at this traffic" (and self-check 4: "at 20
    # requests per second, about 24 times a month on noise alone"). 30 seeded months: 23.2, with a spread of 4.3 a
    # month, so within 2.5 (3 SE and the rounding); test_burn_rate.py holds 60 months to 23.8 ± 2. The Workbook's
    # rules raise none.
    found = burn.false_alarms(burn.WORKBOOK + burn.PLAIN, seeds=BURN_SEEDS)
    assert found[PLAIN_SLO] == pytest.approx(24, abs=2.5)
    assert found[PLAIN_5PCT] == 0 and all(found[r] == 0 for r in burn.WORKBOOK)
    says("pages about **24 times a month** at this traffic")
    explains(4, "about 24 times a month on noise alone")


# -- the self-check and the prediction ----------------------------------------------------------------

def test_the_self_check_has_four_options_per_question():
    assert len(lesson07.QUESTIONS) == 6
    for q in lesson07.QUESTIONS:
        assert len(q.options) == 4 and 0 <= q.answer < 4


def test_self_check_1_the_p99():
    # "5% of requests pay one timeout and a fast retry (201 ms), and only 0.05² = 0.25% of them meet two delays and
    # fail after 400 ms. That is fewer than 1%, so the p99 is the 201 ms"
    assert answer(1).startswith("About 200 ms")
    th = sim_vs_real.theory()
    assert th.p99 == pytest.approx(0.201)
    assert 1 - th.success == pytest.approx(0.05 ** 2) and 1 - th.success < 0.01
    assert sim_vs_real.latency_distribution(Scenario())[-1][0] == pytest.approx(0.4)
    # The wrong options: without the timeout and retry the p99 would be the delay (1 s); it is 400 ms only when
    # over 1% of requests meet two delays (s > 10%); and the retry hides delays from the p99 only when s <= 1%.
    assert sim_vs_real.theory(Scenario(timeout=5.0, attempts=1)).p99 == pytest.approx(1.001)
    assert sim_vs_real.theory(Scenario(slow_share=0.11)).p99 == pytest.approx(0.4)
    assert sim_vs_real.theory(Scenario(slow_share=0.01)).p99 == pytest.approx(0.001)
    explains(1, "(201 ms)", "0.05² = 0.25%", "fail after 400 ms", "fewer than 1%")


def test_self_check_2_the_blast_radius():
    # "The test needs a number of requests per group (73 here, at 95% confidence and 80% power) ... so about 7 users
    # are hurt on the way at any radius ... the abort's damage: about 99 users at 5% against about 10 at 0.5%."
    assert answer(2).startswith("It stays about the same")
    assert round(chaos.sample_size(chaos.BASELINE, 0.10)) == 73
    assert (chaos.CONFIDENCE, chaos.POWER) == (0.95, 0.80)
    assert round(chaos.hurt_before_clear(chaos.BASELINE, 0.10)) == 7
    assert chaos.theory(0.05).expected_hurt == pytest.approx(99, abs=0.5)
    assert chaos.theory(0.005).expected_hurt == pytest.approx(10, abs=0.5)
    assert chaos.theory(0.005).planned_test_time == pytest.approx(10 * chaos.theory(0.05).planned_test_time)
    explains(2, "(73 here, at 95% confidence and 80% power)", "about 7 users are hurt",
             "about 99 users at 5% against about 10 at 0.5%")


def test_self_check_4_the_blip():
    # "The blip spends 1.4% of a 99.9% budget, under the 2% the fast page needs in its hour ... At 50% for 3 minutes
    # the blip costs 3.5% of the budget, and the fast page fires." (Both figures run in test_experiment_5_the_blip.)
    assert answer(4).startswith('A plain "5-minute error rate over 0.1%" alert does; no Workbook rule does')
    assert PLAIN_SLO.label(0.999) == "page: 5 min > 0.1% errors"
    for errors, spent, pages in ((0.2, 0.014, False), (0.5, 0.035, True)):
        tl = burn.timeline(burn.Incident(errors, 3), noise=False)
        assert round(errors * 3 / 43.2, 3) == spent
        assert burn.evaluate(tl, PAGE_1H).fired is pages
    explains(4, "The blip spends 1.4% of a 99.9% budget, under the 2% the fast page needs",
             "At 50% for 3 minutes the blip costs 3.5% of the budget, and the fast page fires")


def test_self_check_5_minimal_means_1_minimal():
    # "A random schedule of six faults double-charges. The shrinker returns two of them: a consumer crash between
    # the charge and the record, and a second copy of the same message." ... "take out any one step and the
    # invariants hold again. It says nothing about other schedules"
    assert answer(5).startswith("That removing either of the two faults makes the run pass")
    for seed in range(1, 5):
        found = fs.find(300, seed, steps=6)
        steps = fs.shrink_schedule(found.schedule).steps
        assert len(steps) == 2 and fs.has_bug_pair(steps)
        assert {(type(s), s.message) for s in steps} <= {(type(s), getattr(s, "message", None))
                                                        for s in found.schedule}
        for i in range(2):
            assert fs.run(steps[:i] + steps[i + 1:]).ok
    # Other two-fault schedules fail too: minimal is not unique.
    assert not fs.run((CrashConsumer(2, BETWEEN), Duplicate(2, 0.05))).ok
    assert not fs.run((CrashConsumer(5, BETWEEN), CrashRelay(5))).ok
    explains(5, "1-minimal", "take out any one step and the invariants hold again")


def test_self_check_6_error_latency_is_kept_apart():
    # "RED metrics per service, split by outcome, show both": red() keeps the successes' and the errors' durations.
    assert answer(6).startswith("Fast errors drag the average down")
    r = traces.red(traces.simulate_cached())["C"]
    for field_name in ("p50_ok", "p99_ok", "p50_error", "p99_error"):
        assert getattr(r, field_name).shape == r.t.shape
    explains(6, "RED metrics per service, split by outcome")


def test_the_prediction_about_ten_runs():
    # "How many runs until one finds the double charge?" with schedules "of four random faults each"; option 2
    # "About ten: random schedules find it within a few dozen runs". The first failure is geometric with p = 8.6%:
    # 11.6 runs on average, half the time within 8, 96% within 36; "thousands" (a miss in 1,000 runs) has odds of
    # 1e-39, the first run 8.6%, and the hand-written scenarios found nothing.
    assert fs.STEPS == 4 and "four random faults" in lesson07.QUESTION
    assert "About ten: random schedules find it within a few dozen runs" in lesson07.OPTIONS
    p = fs.detection_probability(4)
    assert 1 / p == pytest.approx(11.6, abs=0.05)
    assert math.ceil(math.log(0.5) / math.log(1 - p)) == 8
    assert float(fs.detection_curve(p, 36)) > 0.95
    assert (1 - p) ** 1000 < 1e-30 and p < 0.1
    # 20 seeded searches: the mean position is 11.6 within 3 SE (the spread of a geometric count is 11.1).
    positions = [fs.find(300, seed).runs for seed in range(1, 21)]
    assert abs(statistics.fmean(positions) - 1 / p) <= 3 * math.sqrt(1 - p) / p / math.sqrt(len(positions))
