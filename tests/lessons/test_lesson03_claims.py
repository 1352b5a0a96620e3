"""Every number lesson 03 (``course/03_stop_the_bleeding.ipynb``) states, checked against the simulator or theory.

Each test quotes the claim it checks, in the lesson's words. Runs use the
dashboards' own settings and seed (1), so the lesson describes exactly what the
learner sees; the claims that matter most are also checked on other seeds.
Library defaults (Resilience4j, Hystrix, Polly v8, pybreaker; the bulkhead
sizes) and the published figures of Dean and Barroso and of the SRE book are
quoted from COURSE.md section 5, with sources in the lesson; the tests check
that the presets the simulator runs are those defaults.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.dashboards import BreakerDashboard, BulkheadDashboard, OverloadDashboard, TailAtScaleDashboard
from course.lessons import lesson03
from course.models import breaker, bulkhead, tail_at_scale, throttling
from course.sim import CircuitBreaker, Fallback, ManualClock, Outcome
from course.sim.policies import DEFAULT_HANDLES, CLOSED, OPEN

NOTEBOOK = Path(__file__).resolve().parents[2] / "course" / "03_stop_the_bleeding.ipynb"


def run_breaker(preset="resilience4j", outage_s=60.0, failure="refuse", fallback=True, custom=None, seed=1):
    return breaker.simulate_cached(preset, outage_s, failure, fallback, custom, breaker.RATE, seed)


def custom_from_dashboard(**overrides):
    """The Custom breaker the dashboard builds from its default sliders, with ``overrides``."""
    d = BreakerDashboard(preset="custom")
    p = {**d.params, **overrides}
    return d._custom(p["failure_rate"], p["window"], p["minimum_calls"], p["open_wait"], p["half_open_calls"],
                     p["slow_call_ms"])


def run_bulkhead(pools="shared", b_slowdown=20.0, pool_size=bulkhead.POOL_SIZE, seed=1):
    return bulkhead.simulate_cached(pools, b_slowdown, float(bulkhead.RATE), bulkhead.A_THREADS, pool_size, seed)


def run_overload(shedding="none", throttle=False, k=2.0, overload=3.0):
    return throttling.simulate_cached(overload, throttle, k, shedding)


def run_tail(fanout=100, p_slow=0.01, hedge=False, hedge_delay_ms=23):
    return tail_at_scale.simulate_cached(fanout, p_slow, hedge, hedge_delay_ms / 1000)


# -- The notebook itself ----------------------------------------------------------------------------

def test_notebook_calls_the_dashboards_with_the_settings_the_text_describes():
    source = "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code")
    for call in ('breaker_dashboard()', 'breaker_dashboard(preset="none")', 'breaker_dashboard(outage_s=62)',
                 'breaker_dashboard(failure="slow")',
                 'breaker_dashboard(failure="slow", preset="custom", slow_call_ms=100)',
                 'breaker.ComparisonTable(outages=(60, 62))', 'bulkhead_dashboard()',
                 'bulkhead_dashboard(pools="separate")', 'overload_dashboard()',
                 'overload_dashboard(shedding="bounded_queue", throttle=True)', 'tail_at_scale_dashboard()',
                 'tail_at_scale_dashboard(fanout=2000, p_slow=1e-4)',
                 'tail_at_scale_dashboard(hedge=True, hedge_delay_ms=23)'):
        assert call in source, call


# -- Section 3: the breaker system ------------------------------------------------------------------

def test_the_breaker_system_matches_the_description():
    # "A calls B 30 times a second. B answers in 20 ms at the median and 80 ms at p99 ... a 1 s timeout ...
    #  At t = 30 s B gets into trouble ... 10× slower"
    assert breaker.RATE == 30
    assert breaker.B_LATENCY.quantile(0.5) == pytest.approx(0.020)
    assert breaker.B_LATENCY.quantile(0.99) == pytest.approx(0.080)
    assert breaker.TIMEOUT == 1.0
    assert breaker.OUTAGE_START == 30.0
    assert breaker.SLOW_FACTOR == 10.0
    controls = BreakerDashboard().controls_by_name
    assert controls["preset"].value == "resilience4j" and controls["outage_s"].value == 60
    assert controls["failure"].value == "refuse" and controls["fallback"].value is True


def test_the_presets_are_the_documented_defaults():
    # The defaults table in section 4 (COURSE.md section 5).
    clock = ManualClock()
    r4j = CircuitBreaker.resilience4j(clock)
    assert (r4j.failure_rate_threshold, r4j.window_type, r4j.window_size, r4j.minimum_calls, r4j.open_wait,
            r4j.half_open_calls, r4j.slow_call_threshold, r4j.slow_call_rate_threshold) == \
        (0.5, "count", 100, 100, 60.0, 10, 60.0, 1.0)
    hystrix = CircuitBreaker.hystrix(clock)
    assert (hystrix.failure_rate_threshold, hystrix.window_type, hystrix.window_size, hystrix.minimum_calls,
            hystrix.open_wait, hystrix.half_open_calls) == (0.5, "time", 10.0, 20, 5.0, 1)
    polly = CircuitBreaker.polly(clock)
    assert (polly.failure_rate_threshold, polly.window_type, polly.window_size, polly.minimum_calls,
            polly.open_wait, polly.half_open_calls) == (0.1, "time", 30.0, 100, 5.0, 1)
    pyb = CircuitBreaker.pybreaker(clock)
    assert (pyb.failure_rate_threshold, pyb.window_size, pyb.minimum_calls, pyb.open_wait) == (1.0, 5, 5, 60.0)


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_experiment_1_without_a_breaker_every_call_reaches_b(seed):
    # "Every one of the 1,785 calls A makes during the outage reaches B ... the fallback answers all of them"
    s = run_breaker("none", seed=seed).summary
    assert s["reached_b_during"] == s["requests_during"]
    assert s["fallback_share_during"] == 1.0
    if seed == 1:
        assert s["requests_during"] == 1785


def test_experiment_1_resilience4j_numbers():
    # "opens 1.9 s into the outage, after 50 failed calls ... 50 calls reach B instead of 1,785: 97% fewer ...
    #  ten probe calls succeed, and it closes 2.2 s after B's return"
    s = run_breaker().summary
    assert round(s["time_to_open"], 1) == 1.9
    assert s["reached_b_during"] == 50
    assert round(1 - 50 / 1785, 2) == 0.97
    assert s["probes"] == [10]
    assert round(s["time_to_recover"], 1) == 2.2
    assert s["times_opened"] == 1


def test_experiment_1_fifty_failures_open_resilience4j_on_other_seeds_too():
    for seed in (2, 3):
        s = run_breaker(seed=seed).summary
        assert s["reached_b_during"] == 50  # the 50th failure in a window of 100 opens it
        assert 1.0 < s["time_to_open"] < 3.0


def test_experiment_2_the_comparison_table():
    # "pybreaker opens after 5 failures in a row: 0.2 s. Resilience4j ... 1.9 s. Hystrix ... 4.8 s."
    # "Every preset cuts the calls reaching the dead B by more than 90%; the spread is 5 to 152 calls."
    # "With a 60 s outage everybody is back within 4 s ... 60.7 s and 58.4 s ... back within 3.2 s."
    rows60 = {row["preset"]: row for row in breaker.compare_presets(60.0)}
    rows62 = {row["preset"]: row for row in breaker.compare_presets(62.0)}
    assert round(rows60["pybreaker"]["time_to_open"], 1) == 0.2 and rows60["pybreaker"]["reached_b_during"] == 5
    assert round(rows60["resilience4j"]["time_to_open"], 1) == 1.9
    assert round(rows60["hystrix"]["time_to_open"], 1) == 4.8
    wasted = [rows60[p]["reached_b_during"] for p in ("resilience4j", "hystrix", "polly", "pybreaker")]
    assert min(wasted) == 5 and max(wasted) == 152
    assert all(w < 0.1 * rows60["none"]["reached_b_during"] for w in wasted)
    assert all(rows60[p]["time_to_recover"] < 4 for p in ("resilience4j", "hystrix", "polly", "pybreaker"))
    assert round(rows62["resilience4j"]["time_to_recover"], 1) == 60.7
    assert round(rows62["pybreaker"]["time_to_recover"], 1) == 58.4
    assert rows62["resilience4j"]["times_opened"] == rows62["pybreaker"]["times_opened"] == 2
    assert max(rows62["hystrix"]["time_to_recover"], rows62["polly"]["time_to_recover"]) <= 3.2
    assert "60.7 s" in breaker.ComparisonTable(outages=(60, 62))._repr_html_()


def test_experiment_3_slow_b_resilience4j_never_opens():
    # "the Resilience4j breaker never opens. Every one of the 1,785 calls reaches B ... (median 200 ms instead of 20)"
    s = run_breaker(failure="slow").summary
    assert math.isnan(s["time_to_open"]) and s["times_opened"] == 0
    assert s["reached_b_during"] == s["requests_during"] == 1785
    assert breaker.SLOW_FACTOR * breaker.B_LATENCY.quantile(0.5) == pytest.approx(0.200)


def test_experiment_3_custom_slow_call_breaker():
    # "a custom breaker (50% over the last 20 calls, at least 10 calls, open for 10 s, 3 probes) that also counts
    #  any call of 100 ms or more as bad. B's healthy p99 is 80 ms, so in normal times almost no call crosses that
    #  line." / "it opens 0.6 s into the slowdown. Only 29 calls reach the slow B, 98% of A's callers get the cached
    #  answer at once, and every 10 s three probes check"
    custom = custom_from_dashboard(slow_call_ms=100)
    assert custom == breaker.Custom(failure_rate=0.5, window=("count", 20), minimum_calls=10, open_wait=10.0,
                                    half_open_calls=3, slow_call_ms=100.0)
    healthy_over_100ms = 1 - _lognormal_cdf(breaker.B_LATENCY, 0.100)
    assert healthy_over_100ms < 0.005
    s = run_breaker("custom", failure="slow", custom=custom).summary
    assert round(s["time_to_open"], 1) == 0.6
    assert s["reached_b_during"] == 29
    assert round(s["fallback_share_during"], 2) == 0.98
    assert set(s["probes"]) == {3}


def test_experiment_3_250ms_threshold_flaps():
    # "Set the slow-call threshold to 250 ms and it flaps: only about a third of the slow calls cross 250 ms"
    slow = breaker.B_LATENCY.scaled(breaker.SLOW_FACTOR)
    share = 1 - _lognormal_cdf(breaker.B_LATENCY, 0.250 / breaker.SLOW_FACTOR)
    assert 0.3 < share < 0.4
    assert slow.mean == pytest.approx(breaker.SLOW_FACTOR * breaker.B_LATENCY.mean)
    s = run_breaker("custom", failure="slow", custom=custom_from_dashboard(slow_call_ms=250)).summary
    assert s["times_opened"] >= 3
    assert 0.3 < s["fallback_share_during"] < 0.9  # neither reliably open nor reliably closed


def _lognormal_cdf(latency, x):
    return 0.5 * (1 + math.erf((math.log(x) - latency.mu) / (latency.sigma * math.sqrt(2))))


# -- Experiment 4: bulkheads ----------------------------------------------------------------------

def test_the_bulkhead_system_matches_the_description():
    # "A has 20 threads and gets 50 requests a second; each request calls either B or C (half each) ...
    #  the same 1 s timeout. From t = 20 s to 40 s, B is 20× slower." / "its own pool of 8"
    assert bulkhead.A_THREADS == 20 and bulkhead.RATE == 50 and bulkhead.TIMEOUT == 1.0
    assert bulkhead.INCIDENT == (20.0, 40.0) and bulkhead.POOL_SIZE == 8
    controls = BulkheadDashboard().controls_by_name
    assert controls["pools"].value == "shared" and controls["b_slowdown"].value == 20.0
    assert controls["a_threads"].value == 20 and controls["pool_size"].value == 8 and controls["rate"].value == 50


def test_experiment_4_shared_pool():
    # "about 2.9 s, against 69 ms in the same run with B healthy: more than 40× worse" / "All 20 threads are busy,
    #  nearly all of them waiting on B"
    healthy = run_bulkhead(b_slowdown=1.0)
    shared = run_bulkhead()
    assert round(healthy.summary["c_p99_during"] * 1000) == 69
    assert shared.summary["c_p99_during"] == pytest.approx(2.9, abs=0.05)
    assert shared.summary["c_p99_during"] > 40 * healthy.summary["c_p99_during"]
    assert shared.summary["a_peak_busy"] == 20
    inside = (shared.t > 22) & (shared.t < 40)
    assert np.mean(shared.held_by_b[inside]) > 0.9 * 20


def test_experiment_4_separate_pools():
    # "C's p99 over the incident is 69 ms, exactly what it is with B healthy" / "B holds at most 8 of A's threads.
    #  The calls beyond that are turned away at once, about 10 a second"
    separate = run_bulkhead("separate")
    assert separate.summary["c_p99_during"] == run_bulkhead(b_slowdown=1.0).summary["c_p99_during"]
    assert np.max(separate.held_by_b) <= 8
    inside = (separate.t > 22) & (separate.t < 40)
    assert np.mean(separate.b_rejected_rate[inside]) == pytest.approx(10, abs=1.5)


def test_experiment_4_pool_of_20_is_the_shared_disaster():
    # "Drag the per-dependency pool size to 20, all of A's threads, and you are back to the shared pool's disaster."
    assert run_bulkhead("separate", pool_size=20).summary["c_p99_during"] == pytest.approx(
        run_bulkhead().summary["c_p99_during"], rel=0.05)


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_experiment_4_ten_times_slower_b_keeps_up(seed):
    # "B at 10× slower with one shared pool: nothing happens to C. B ... keeps up with its 25 calls a second
    #  (10 workers at about 240 ms each can do about 42) ... At 20× B can finish only about 21 calls a second"
    mean = bulkhead.DEPENDENCY_LATENCY.mean
    assert 10 * mean == pytest.approx(0.240, abs=0.002)
    assert bulkhead.DEPENDENCY_WORKERS / (10 * mean) == pytest.approx(42, abs=0.5)
    assert bulkhead.DEPENDENCY_WORKERS / (20 * mean) == pytest.approx(21, abs=0.5)
    assert bulkhead.RATE / 2 == 25
    ten = run_bulkhead(b_slowdown=10.0, seed=seed).summary
    assert ten["c_p99_during"] == pytest.approx(run_bulkhead(b_slowdown=1.0, seed=seed).summary["c_p99_during"],
                                                rel=0.1)


def test_bulkhead_sizing_arithmetic():
    # "B at 25 calls/s and about 24 ms needs under 1 thread on average; 8 ... caps the damage at 8 of A's 20 threads"
    assert bulkhead.DEPENDENCY_LATENCY.mean == pytest.approx(0.024, abs=0.0005)
    assert 25 * bulkhead.DEPENDENCY_LATENCY.mean < 1
    assert run_bulkhead("separate").summary["a_peak_busy"] < 20


# -- Experiment 5: overload -----------------------------------------------------------------------

def test_the_overload_system_matches_the_description():
    # "Clients offer 3× what a backend can serve (the backend does 20 requests/s), and give up ... after 1 s"
    # "a bounded queue (here: 4 calls, 0.2 s of work)" / "over the last 10 s"
    assert throttling.DASHBOARD["workers"] / throttling.SERVICE_MEAN == 20
    assert throttling.DEADLINE == 1.0
    assert round(throttling.QUEUE_SECONDS * 20) == 4 and throttling.QUEUE_SECONDS == 0.2
    assert throttling.DASHBOARD["window"] == 10.0
    controls = OverloadDashboard().controls_by_name
    assert controls["overload"].value == 3.0 and controls["shedding"].value == "none"
    assert controls["throttle"].value is False and controls["k"].value == 2.0


def test_experiment_5_unbounded_queue_goodput_zero():
    # "nothing gets answered in time. The queue grows by about 40 calls a second ... The backend works flat out,
    #  entirely for callers who have left: goodput 0"
    r = run_overload()
    assert r.summary["goodput"] == 0 and r.summary["timed_out"] == r.summary["requests"]
    growth = np.polyfit(r.t[5:], r.queue[5:], 1)[0]
    assert growth == pytest.approx(40, rel=0.15)
    assert r.summary["utilisation"] > 0.99


def test_experiment_5_bounded_queue_and_throttle():
    # "goodput jumps to about 20 requests/s ... about 2.2 requests for each one it serves" / "the backend now
    #  rejects about 1.1 per request it serves, and the clients turn 34% of their requests away themselves ...
    #  Goodput stays at capacity." / "Set K to 4 ... the throttle never fires."
    bounded = run_overload("bounded_queue").summary
    assert bounded["goodput"] == pytest.approx(20, rel=0.05)
    assert round(bounded["rejected_per_accepted"], 1) == 2.2
    throttled = run_overload("bounded_queue", throttle=True).summary
    assert round(throttled["rejected_per_accepted"], 1) == 1.1
    assert round(throttled["throttled_share"], 2) == 0.34
    assert throttled["goodput"] == pytest.approx(20, rel=0.05)
    assert run_overload("bounded_queue", throttle=True, k=4.0).summary["throttled"] == 0


def test_experiment_5_dropping_expired_work_alone_barely_helps():
    # "drop work whose caller gave up, on its own ... goodput is about 3 requests/s ... most of the ones that reach
    #  a worker run out of time while being served" / "dropping expired work from that queue recovered only a sliver"
    s = run_overload("drop_expired").summary
    assert round(s["goodput"]) == 3
    assert s["timed_out"] > 0.9 * s["requests"]
    assert s["backend_rejected"] == 0  # it sheds only expired work: nothing is turned away at the door
    # "every request waits nearly its whole second for a worker, and most of the ones that reach a worker run out
    #  of time while being served"
    assert 0.9 < s["median_queue_wait"] < 1.0
    assert s["served_too_late"] > 0.5


# -- Experiment 6: tail at scale --------------------------------------------------------------------

def test_the_fanout_system_matches_the_description():
    # "A leaf usually answers in about 10 ms, but 1 time in 100 it hiccups ... and takes 1 s. A request is slow if
    #  it takes over 0.5 s"
    assert tail_at_scale.LEAF_FAST.quantile(0.5) == pytest.approx(0.010)
    assert tail_at_scale.LEAF_SLOW.value == 1.0 and tail_at_scale.SLOW_THRESHOLD == 0.5
    controls = TailAtScaleDashboard().controls_by_name
    assert controls["fanout"].value == 100 and controls["p_slow"].value == 0.01 and controls["hedge"].value is False


def test_experiment_6_fanout_100_and_10():
    # "the curve ... says 63% of requests are slow; the simulated dot lands at 58% of its 100 requests, within its
    #  error bar ... the requests' p99 is the full second. Set the fan-out to 10: about 1 in 10."
    r = run_tail()
    assert round(r.theory, 2) == 0.63 and r.requests == 100
    assert round(r.slow_share, 2) == 0.58
    assert abs(r.slow_share - r.theory) < 2 * math.sqrt(r.theory * (1 - r.theory) / r.requests)
    assert r.p99 == pytest.approx(1.0, abs=0.01)
    ten = run_tail(fanout=10)
    assert ten.theory == pytest.approx(0.1, abs=0.01) and ten.slow_share == pytest.approx(0.1, abs=0.02)


def test_experiment_6_fanout_2000():
    # "The curve says 18%. ... only 5 such requests (10,000 leaf calls). The test suite spends two million leaf
    #  calls on 1,000 requests and measures 18.6%."
    dashboard_run = run_tail(fanout=2000, p_slow=1e-4)
    assert round(dashboard_run.theory, 2) == 0.18
    assert dashboard_run.requests == 5 and dashboard_run.leaf_calls == 10_000
    full = tail_at_scale.reproduce("fanout_2000")
    assert full.requests == 1000 and full.leaf_calls == 2_000_000
    assert round(full.slow_share, 3) == 0.186


def test_experiment_6_hedging():
    # "after 23 ms (the leaf's p95) ... the p99 falls from 1,001 ms to 49 ms, for 4.7% more leaf requests. ...
    #  5 ms, below the leaf's median: nearly every call gets a copy, 93% more load"
    assert round(tail_at_scale.leaf_quantile(0.01, 0.95) * 1000) == 23
    assert tail_at_scale.leaf_quantile(0.01, 0.5) > 0.005
    assert round(run_tail().p99 * 1000) == 1001
    hedged = run_tail(hedge=True, hedge_delay_ms=23)
    assert round(hedged.p99 * 1000) == 49
    assert round(hedged.extra_load, 3) == 0.047
    assert round(run_tail(hedge=True, hedge_delay_ms=5).extra_load, 2) == 0.93


# -- Section 4: the idea ----------------------------------------------------------------------------

def test_idea_tail_table_ours():
    # "64.0% (3,000 requests)" / "18.6% (1,000 requests, two million leaf calls)" / "5.2% (Pareto leaf, fan-out 10),
    #  p99 cut from 551 ms to 69 ms"
    assert round(tail_at_scale.reproduce("fanout_100").slow_share, 3) == 0.640
    assert round(tail_at_scale.reproduce("fanout_2000").slow_share, 3) == 0.186
    plain, hedged = tail_at_scale.reproduce("pareto_plain"), tail_at_scale.reproduce("pareto_hedged")
    assert round(hedged.extra_load, 3) == 0.052
    assert round(plain.p99 * 1000) == 551 and round(hedged.p99 * 1000) == 69


def test_idea_tail_published_arithmetic():
    # Published (quoted): 63% for p = 1%, n = 100; about 18% for p = 1/10,000, n = 2,000.
    assert tail_at_scale.theory_slow_share(100, 0.01) == pytest.approx(0.634, abs=0.001)
    assert tail_at_scale.theory_slow_share(2000, 1e-4) == pytest.approx(0.181, abs=0.001)


def test_idea_throttling_reproduction():
    # "0.99 rejected per accepted, against 1.98 without the throttle, with the clients rejecting 33% of requests"
    with_throttle = throttling.reproduce(True).summary
    without = throttling.reproduce(False).summary
    assert round(with_throttle["rejected_per_accepted"], 2) == 0.99
    assert round(without["rejected_per_accepted"], 2) == 1.98
    assert round(with_throttle["throttled_share"], 2) == 0.33


def test_idea_breaker_summary():
    # "they opened after 0.2 s (pybreaker) to 4.8 s (Hystrix), let 5 to 152 of 1,785 calls through to the dead B,
    #  and recovered within 4 s, unless the outage ended just after a probe failed, which cost the 60-second presets
    #  about a minute"
    rows = {row["preset"]: row for row in breaker.compare_presets(60.0)}
    opens = {p: rows[p]["time_to_open"] for p in ("resilience4j", "hystrix", "polly", "pybreaker")}
    assert min(opens, key=opens.get) == "pybreaker" and max(opens, key=opens.get) == "hystrix"
    late = {row["preset"]: row for row in breaker.compare_presets(62.0)}
    for preset in ("resilience4j", "pybreaker"):
        assert 55 < late[preset]["time_to_recover"] < 62


def test_idea_fallback_never_for_programming_errors():
    # "The course's Fallback refuses to handle FATAL outcomes and never catches arbitrary exceptions."
    assert Outcome.FATAL not in DEFAULT_HANDLES
    assert not Fallback().handles_outcome(Outcome.FATAL)
    with pytest.raises(ValueError, match="FATAL"):
        Fallback(handles={Outcome.FATAL})
    assert not any(issubclass(KeyError, e) or issubclass(TypeError, e) for e in Fallback().exceptions)


# -- Self-check: the numbers in the questions -------------------------------------------------------

def _question(fragment):
    (question,) = [q for q in lesson03.QUESTIONS if fragment in q.prompt]
    return question


def test_prediction_answer_is_about_50():
    # Prediction: "about 1,800 calls while B is down. How many of them still reach B?" -> "About 50"
    s = run_breaker().summary
    assert s["requests_during"] == pytest.approx(1800, rel=0.02)
    assert any("About 50" in option for option in lesson03.OPTIONS)
    assert s["reached_b_during"] == 50


def test_quiz_fifty_failures_open_resilience4j():
    # Q1: 50 failed calls; "At 30 calls a second that is under two seconds; at 20 calls a minute it is two and a half
    #  minutes."
    q = _question("thousands of healthy calls")
    assert q.options[q.answer] == "50"
    clock = ManualClock()
    cb = CircuitBreaker.resilience4j(clock)
    for _ in range(1000):
        cb.on_success(0.01)
    failures = 0
    while cb.state == CLOSED:
        cb.on_failure(0.01)
        failures += 1
    assert failures == 50 and cb.state == OPEN
    assert 50 / 30 < 2 and 50 / 20 == 2.5
    assert run_breaker().summary["time_to_open"] < 2


def test_quiz_littles_law_bulkhead():
    # Q3: "L = λW = 50/s × 0.2 s = 10, and 50/s × 2 s = 100"
    q = _question("50 times a second and B answers in 200 ms")
    assert q.options[q.answer].startswith("10, then 100")
    assert 50 * 0.2 == pytest.approx(10) and 50 * 2 == 100


def test_quiz_fanout_500_one_in_1000():
    # Q4: "1 − (1 − 0.001)^500 ≈ 0.39"
    q = _question("one time in 1,000")
    assert q.options[q.answer] == "About 40%"
    assert tail_at_scale.theory_slow_share(500, 0.001) == pytest.approx(0.39, abs=0.005)
    r = tail_at_scale.simulate(500, 0.001, requests=400, seed=3)
    assert abs(r.slow_share - r.theory) < 3 * math.sqrt(r.theory * (1 - r.theory) / r.requests)


def test_quiz_hedging_five_percent():
    # Q5: "our simulation measured 5.2% while the request p99 fell by 87%"
    q = _question("95th-percentile")
    assert q.options[q.answer].startswith("About 5%")
    plain, hedged = tail_at_scale.reproduce("pareto_plain"), tail_at_scale.reproduce("pareto_hedged")
    assert round(hedged.extra_load, 3) == 0.052
    assert round(1 - hedged.p99 / plain.p99, 2) == 0.87


def test_quiz_throttling_one_per_accept():
    # Q6: "about 1 per accept. Our simulation measured 0.99, against 1.98 with the throttle off. The clients turn
    #  the remaining third away locally"
    q = _question("adaptive throttling")
    assert q.options[q.answer] == "About 1"
    assert round(throttling.reproduce(True).summary["rejected_per_accepted"], 2) == 0.99
    assert round(throttling.reproduce(False).summary["rejected_per_accepted"], 2) == 1.98
    assert throttling.reproduce(True).summary["throttled_share"] == pytest.approx(1 / 3, abs=0.01)


def test_quiz_fallback_for_a_400():
    q = _question("HTTP 400")
    assert "hide" in q.options[q.answer]
    assert not Fallback().handles_outcome(Outcome.FATAL)
