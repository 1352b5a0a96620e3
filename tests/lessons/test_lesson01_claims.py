"""Every number lesson 01 (``course/01_slow_dependency.ipynb``) states, checked against the simulator or theory.

Each test names the claim it checks, in the lesson's words. A number the
lesson reads off the simulator is its long-run value: the mean over
:data:`SEEDS` (or theory), within the tolerance stated next to the check; a
bound the lesson states ("over 5 s") holds on every one of those seeds. Where
the lesson also says what the dashboard's own run shows ("500 in this run"),
that figure is checked at the dashboard's seed (1), since it is what the
learner sees. Library defaults (Hystrix 1 s, Resilience4j 1 s, Polly 30 s,
Envoy 15 s) are quoted from COURSE.md section 5 with sources in the lesson,
and need no simulation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from course.dashboards import SlowDependencyDashboard, UtilisationDashboard
from course.lessons import lesson01
from course.models import slow_dependency as model
from course.models import utilisation
from course.sim import Direct, Exponential, LogNormal, OpenLoop, Service, Simulation, queueing

#: Seeds for long-run means and for bounds. A run takes about 0.1 s (0.3 s at 250 requests/s). Each tolerance is
#: at least 2.5 standard errors of the mean over these seeds (the spread of one run, measured over 50 seeds when
#: the lesson was written, is quoted next to each check).
SEEDS = tuple(range(1, 13))
B_HEALTHY = LogNormal(0.050, 0.250)  # the dashboard's default B: median 50 ms, tail ratio 5


@lru_cache(maxsize=None)
def _run(items):
    return model.simulate(**dict(items))


def run(**settings):
    """model.simulate with the dashboard's defaults, cached (several tests read the same run)."""
    return _run(tuple(sorted(settings.items())))


def runs(**settings):
    """The run at ``settings`` for every seed in :data:`SEEDS`."""
    return [run(seed=seed, **settings) for seed in SEEDS]


def mean_of(figure, **settings) -> float:
    """``figure(result)`` averaged over :data:`SEEDS`."""
    return float(np.mean([figure(r) for r in runs(**settings)]))


def summary_mean(key, **settings) -> float:
    return mean_of(lambda r: r.summary[key], **settings)


def incident_mean(series, r, start=22.0, end=40.0):
    """Mean of a per-second series over the incident, skipping its first two seconds of fill-up."""
    inside = (r.t > start) & (r.t < end)
    return float(np.nanmean(series[inside]))


def window(r, second):
    """Index of the one-second window [second, second + 1)."""
    return int(np.searchsorted(r.t, second + 0.5))


# -- The system, as section 3 describes it ----------------------------------------------------

def test_the_system_matches_the_description():
    # "clients send 50 requests/s to A. A has a pool of 20 threads ... median 5 ms, p99 20 ms ...
    #  B has 8 workers and answers in 50 ms at the median and 250 ms at p99 ... t = 20 s to t = 40 s"
    controls = SlowDependencyDashboard().controls_by_name
    assert controls["rate"].value == 50
    assert controls["a_threads"].value == 20
    assert controls["b_workers"].value == 8
    assert controls["b_median_ms"].value == 50
    assert controls["b_tail"].value == 5.0
    assert controls["slowdown"].value == 10.0
    assert model.A_WORK.quantile(0.5) == pytest.approx(0.005)
    assert model.A_WORK.quantile(0.99) == pytest.approx(0.020)
    assert model.INCIDENT == (20.0, 40.0)
    assert run().summary["b_p99_healthy"] == pytest.approx(0.250)  # "50 ms × 5 = 250 ms"


def test_sixty_simulated_seconds_are_simulated():
    # The wall-clock cost is a benchmark figure (make bench: dashboard_slow_dependency_update_ms).
    assert model.DURATION == 60.0
    assert model.simulate().t[-1] == pytest.approx(59.5)


# -- Experiment 1: the cascade -----------------------------------------------------------------

def test_calm_a_uses_about_two_threads_and_no_b_requests_take_about_20ms():
    # "A is using about 2 of its 20 threads ... requests that don't [call B] take about 20 ms at p99"
    # One run varies by ± 0.06 threads and ± 1.6 ms; tolerances on the means: ± 0.2 threads, ± 2 ms.
    assert mean_of(lambda r: r.a_busy.mean(), slowdown=1.0) == pytest.approx(2, abs=0.2)
    assert summary_mean("a_p99_without_b_before", slowdown=1.0) == pytest.approx(0.020, abs=0.002)


def _seconds_to_fill(r, threads=20):
    """From the incident's start to the start of the first one-second window with the whole pool busy."""
    return r.t[np.argmax(r.a_busy >= threads - 0.1)] - 0.5 - 20.0


def test_pool_fills_within_about_two_seconds_and_about_450_wait():
    # "jumps to all 20 threads busy within about two seconds, and requests waiting for a thread climbs to about
    #  450 on average (500 in this run)". One run varies by ± 46 waiting; ± 40 on the mean.
    assert mean_of(_seconds_to_fill) <= 2.0
    assert mean_of(lambda r: np.max(r.a_queue)) == pytest.approx(450, abs=40)
    assert round(np.max(run().a_queue), -2) == 500


def test_requests_not_calling_b_go_from_20ms_to_over_5s():
    # "The dotted line ... goes from about 20 ms to over 5 s" (on every seed: 7 s at the least of 50)
    for r in runs():
        assert 0.015 < r.summary["a_p99_without_b_before"] < 0.025
        assert r.summary["a_p99_without_b_during"] > 5.0
        # The dotted line itself (per-second p99 of requests not calling B) crosses 5 s too.
        assert np.nanmax(r.a_p99_without_b) > 5.0


def test_b_queue_is_flat_at_12():
    # "B's queue is flat at 12 ... at most 20 calls to B are outstanding: 8 in B's workers, 12 waiting"
    for r in runs():
        assert np.max(r.b_queue) <= 12.0 + 1e-9
        assert incident_mean(r.b_queue, r) > 11.5


def test_backlog_outlasts_the_incident_by_a_few_seconds():
    # "After B recovers at t = 40 s, A still has its backlog to clear, which takes a few more seconds"
    for r in runs():
        assert r.a_queue[window(r, 40)] > 100
        assert np.all(r.a_queue[window(r, 46):] < 1)


# -- Experiment 2: just add threads? -------------------------------------------------------------

def _first_full_second(r, threads):
    return r.t[np.argmax(r.a_busy >= 0.99 * threads)]


def test_64_threads_fill_later_and_still_exceed_5s():
    # "the pool takes a few seconds longer to fill, and then the dotted line climbs above 5 s anyway"
    # (3.4 s later on average; on every seed at least 2 s later and above 5 s)
    delays = []
    for small, big in zip(runs(), runs(a_threads=64)):
        delays.append(_first_full_second(big, 64) - _first_full_second(small, 20))
        assert delays[-1] >= 2.0
        assert big.summary["a_p99_without_b_during"] > 5.0
    assert np.mean(delays) == pytest.approx(3.4, abs=1.0)


def test_quiz_claim_bigger_pool_still_over_5s():
    # Self-check question 6: "In the run, requests that never call B still waited over 5 s."
    assert all(r.summary["a_p99_without_b_during"] > 5.0 for r in runs(a_threads=64))


# -- Experiment 3: a timeout from B's percentiles ------------------------------------------------

def test_300ms_timeout_fails_under_1_percent_while_b_is_healthy():
    # "A timeout a little above that, 300 ms, almost never fires while B is healthy: under 1%" (0.2% on average,
    # under 0.5% on every one of 50 seeds)
    assert all(r.summary["a_error_share_during"] < 0.01 for r in runs(slowdown=1.0, timeout_on=True, timeout_ms=300))
    assert B_HEALTHY.quantile(0.99) < 0.300


def test_2x_with_timeout_about_3_percent_errors_and_a_stays_fast():
    # "about 3% of A's requests fail during the incident ... the dotted line stays near 20 ms"
    # One run varies by ± 0.5 points; ± 0.5 points on the mean.
    assert summary_mean("a_error_share_during", slowdown=2.0, timeout_on=True, timeout_ms=300) == pytest.approx(
        0.03, abs=0.005)
    assert all(r.summary["a_p99_without_b_during"] < 0.030 for r in runs(slowdown=2.0, timeout_on=True, timeout_ms=300))


def test_2x_without_timeout_a_copes():
    # "Untick the timeout: A copes without it at 2×."
    for r in runs(slowdown=2.0):
        assert r.summary["a_p99_without_b_during"] < 0.030
        assert r.summary["a_error_share_during"] == 0.0


def test_10x_with_timeout_every_b_call_fails_and_only_those():
    # "The error share is about half: every request that calls B fails, and no request that doesn't."
    for r in runs(timeout_on=True, timeout_ms=300):
        s = r.summary
        assert s["a_error_share_during"] <= s["a_calls_b_share_during"] + 1e-12
        assert s["a_error_share_during"] > 0.97 * s["a_calls_b_share_during"]
    assert summary_mean("a_error_share_during", timeout_on=True, timeout_ms=300) == pytest.approx(0.5, abs=0.02)


def test_10x_with_timeout_a_stays_fast_on_about_8_threads():
    # "The dotted line stays near 20 ms, and A uses about 8 of its 20 threads." (7.8 on average, ± 0.4 in one run;
    #  ± 0.4 on the mean)
    assert all(r.summary["a_p99_without_b_during"] < 0.030 for r in runs(timeout_on=True, timeout_ms=300))
    assert mean_of(lambda r: incident_mean(r.a_busy, r), timeout_on=True, timeout_ms=300) == pytest.approx(8, abs=0.4)


def test_10x_with_timeout_b_queue_climbs_past_200():
    # "B's queue climbs past 200." (its peak: 240 on average, ± 26 in one run)
    assert mean_of(lambda r: np.max(r.b_queue), timeout_on=True, timeout_ms=300) > 200


# -- Experiment 4: the library default -----------------------------------------------------------

def test_1s_timeout_gives_errors_and_slowness():
    # "About 40% of A's requests fail, and the dotted line is still above 2 s (4.4 s on average, 5 s in this run)."
    # One run varies by ± 1.5 points and ± 0.8 s; tolerances on the means: ± 2 points and ± 0.5 s.
    assert summary_mean("a_error_share_during", timeout_on=True, timeout_ms=1000) == pytest.approx(0.4, abs=0.02)
    assert all(r.summary["a_p99_without_b_during"] > 2.0 for r in runs(timeout_on=True, timeout_ms=1000))
    assert summary_mean("a_p99_without_b_during", timeout_on=True, timeout_ms=1000) == pytest.approx(4.4, abs=0.5)
    assert round(run(timeout_on=True, timeout_ms=1000).summary["a_p99_without_b_during"]) == 5


def test_3s_timeout_is_as_stuck_as_none():
    # "drag the timeout to 3000 ms ... errors drop to about 0.6% (1% in this run) and A is as stuck as with no
    #  timeout at all, with the dotted line above 5 s". One run varies by ± 0.3 points; ± 0.2 points on the mean.
    assert summary_mean("a_error_share_during", timeout_on=True, timeout_ms=3000) == pytest.approx(0.006, abs=0.002)
    assert round(run(timeout_on=True, timeout_ms=3000).summary["a_error_share_during"] * 100) == 1
    assert all(r.summary["a_p99_without_b_during"] > 5.0 for r in runs(timeout_on=True, timeout_ms=3000))


def test_3000ms_is_the_timeout_sliders_maximum():
    # "3000 ms, the slider's maximum and still a fifth of Envoy's default [15 s]"
    slider = SlowDependencyDashboard().controls_by_name["timeout_ms"]
    assert slider.max == 3000
    assert slider.max * 5 == 15_000


# -- Experiment 5: utilisation -------------------------------------------------------------------

def test_250_per_second_puts_b_at_99_percent():
    # "At 250 requests/s into A, B receives 125 calls/s and is busy 99% of the time"
    s = run(slowdown=1.0, rate=250).summary
    assert 250 * 0.5 == 125
    assert s["b_utilisation"] == pytest.approx(0.99, abs=0.005)
    assert SlowDependencyDashboard().controls_by_name["rate"].max == 250


def test_250_per_second_b_queues_median_doubles_a_suffers():
    # "B's queue, empty at 50 requests/s, now holds about 9 calls on average (8 in this run); B's median latency
    #  more than doubles; and A's p99 for requests that never call B goes from about 20 ms to several hundred ms"
    # One run's mean queue varies by ± 1; ± 0.8 on the mean over the seeds. A's p99 varies a lot (± 0.2 s): its
    # mean must be in the hundreds of milliseconds.
    assert mean_of(lambda r: np.mean(r.b_queue), slowdown=1.0) < 0.05
    assert mean_of(lambda r: np.mean(r.b_queue), slowdown=1.0, rate=250) == pytest.approx(9, abs=0.8)
    assert round(np.mean(run(slowdown=1.0, rate=250).b_queue)) == 8
    medians = [np.nanmean(busy.b_p50) / np.nanmean(calm.b_p50)
               for calm, busy in zip(runs(slowdown=1.0), runs(slowdown=1.0, rate=250))]
    assert np.mean(medians) > 2
    assert 0.2 < summary_mean("a_p99_without_b_before", slowdown=1.0, rate=250) < 1.0


def test_the_last_few_requests_per_second_cost_the_most():
    # "Drag the rate down to 200 and back up to 250: the last few requests per second cost the most."
    # (on average over the first six seeds)
    p99 = {rate: np.mean([run(slowdown=1.0, rate=rate, seed=seed).summary["a_p99_without_b_before"]
                          for seed in SEEDS[:6]]) for rate in (50, 200, 250)}
    cost_of_last_50 = (p99[250] - p99[200]) / 50   # extra p99 per extra request/s, from 200 to 250
    cost_of_first_150 = (p99[200] - p99[50]) / 150  # ... and from 50 to 200
    assert cost_of_last_50 > 5 * cost_of_first_150


@pytest.mark.parametrize("rho, ratio", [(0.5, 2), (0.8, 5), (0.9, 10), (0.95, 20)])
def test_utilisation_walk_2_5_10_20(rho, ratio):
    # "Move ρ through 0.5, 0.8, 0.9 and 0.95: the mean response time goes through 2, 5, 10 and 20"
    assert queueing.mmc_response_time(rho, 1.0, 1) == pytest.approx(ratio)
    r = utilisation.simulate(rho=rho, workers=1)
    assert r.theory_ratio == pytest.approx(ratio)
    if rho <= 0.9:  # the simulated dot is close below 0.95 (lesson 00 explains why it reads low above)
        assert r.mean_ratio == pytest.approx(ratio, rel=0.15)


def test_ten_workers_at_0_9_is_about_1_67():
    # "ten workers sharing one queue, at the same ρ = 0.9: about 1.67 times the service time instead of 10"
    assert queueing.mmc_response_time(9.0, 1.0, 10) == pytest.approx(1.67, abs=0.005)
    r = utilisation.simulate(rho=0.9, workers=10)
    assert r.mean_ratio == pytest.approx(r.theory_ratio, rel=0.15)
    assert r.mm1_ratio == pytest.approx(10.0)


def test_pooled_curve_still_goes_vertical_just_later():
    # "the curve still goes vertical, just later" / "pooled workers stay nearly flat for much longer and then climb late"
    rho, pooled, _, single = utilisation.theory_curves(10)
    assert pooled[np.searchsorted(rho, 0.5)] < 1.02
    assert pooled[-1] > 5 * pooled[np.searchsorted(rho, 0.5)]
    assert np.all(pooled <= single + 1e-12)


def test_b_at_20_percent_99_at_5x_twice_capacity_at_10x():
    # "B is 20% busy when healthy ... 5× slower puts B at 99% ... 10× slower asks for about twice what B can do"
    assert run().summary["b_utilisation"] == pytest.approx(0.20, abs=0.005)
    assert run(slowdown=5.0).summary["b_utilisation_during"] == pytest.approx(0.99, abs=0.01)
    assert run().summary["b_utilisation_during"] == pytest.approx(2.0, abs=0.05)


# -- The idea: Little's law with the lesson's own numbers ----------------------------------------

def test_littles_law_healthy_arithmetic_and_simulation():
    # "A's own work (about 6 ms on average) plus, half of the time, a call to B (about 64 ms on average):
    #  W ≈ 6 + 0.5 × 64 ≈ 38 ms. So L ≈ 50/s × 0.038 s ≈ 1.9 threads. The dashboard showed about 2 of 20 busy."
    a_mean, b_mean = model.A_WORK.mean, B_HEALTHY.mean
    assert a_mean == pytest.approx(0.006, abs=0.0005)
    assert b_mean == pytest.approx(0.064, abs=0.001)
    w = a_mean + 0.5 * b_mean
    assert w == pytest.approx(0.038, abs=0.001)
    assert 50 * w == pytest.approx(1.9, abs=0.05)
    assert mean_of(lambda r: r.a_busy.mean(), slowdown=1.0) == pytest.approx(50 * w, rel=0.05)


def test_littles_law_backwards_when_b_is_10x_slower():
    # "B's mean service time becomes about 635 ms, so its 8 workers finish at most 8 / 0.635 ≈ 12.6 calls/s.
    #  A sends 25 calls/s. ... each call spends about 20 / 12.6 ≈ 1.6 s in B, and the simulation measures
    #  about 1.5 s (the first calls of the incident find B's queue still empty). A finishes only about 25
    #  requests/s ... while 50 arrive, so A's queue grows by about 25 a second: about 450 after 20 seconds, since
    #  the pool takes a second or two to fill." One run varies by ± 0.06 s and ± 1.8 requests/s.
    slow_mean = 10 * B_HEALTHY.mean
    assert slow_mean == pytest.approx(0.635, abs=0.001)
    capacity = 8 / slow_mean
    assert capacity == pytest.approx(12.6, abs=0.05)
    assert 20 / capacity == pytest.approx(1.6, abs=0.05)
    assert summary_mean("b_mean_latency_during") == pytest.approx(1.5, abs=0.05)
    assert mean_of(lambda r: incident_mean(r.ok_rate, r)) == pytest.approx(25, abs=1.5)
    assert mean_of(lambda r: r.a_queue[window(r, 39)]) == pytest.approx(25 * 18, abs=40)


def test_littles_law_with_the_300ms_timeout():
    # "W ≈ 6 ms + 0.5 × 300 ms ≈ 156 ms and L ≈ 50 × 0.156 ≈ 7.8 threads ... The dashboard showed about 8."
    w = model.A_WORK.mean + 0.5 * 0.300
    assert w == pytest.approx(0.156, abs=0.001)
    assert 50 * w == pytest.approx(7.8, abs=0.05)
    assert mean_of(lambda r: incident_mean(r.a_busy, r), timeout_on=True, timeout_ms=300) == pytest.approx(
        50 * w, rel=0.05)


@pytest.mark.parametrize("rho, ratio", [(0.5, 2), (0.8, 5), (0.9, 10), (0.95, 20), (0.99, 100)])
def test_mm1_table(rho, ratio):
    # The table "W / S: 2, 5, 10, 20, 100" at ρ = 0.5, 0.8, 0.9, 0.95, 0.99.
    assert queueing.slowdown(rho) == pytest.approx(ratio)


def test_mm1_p99_is_about_4_6_times_the_mean():
    # "the response time is exponentially distributed, so the p99 is about 4.6 × the mean"
    for rho in (0.5, 0.8, 0.9):
        ratio = queueing.mm1_response_quantile(rho, 1.0, 0.99) / queueing.mm1_response_time(rho, 1.0)
        assert ratio == pytest.approx(4.6, abs=0.01)
        # the dashboard's own p99 theory line agrees with the M/M/1 formula (times in units of S)
        assert utilisation.mmc_response_quantile(rho, 1, 0.99) == pytest.approx(
            queueing.mm1_response_quantile(rho, 1.0, 0.99))
    # and the simulator agrees on a long run
    r = utilisation.simulate(rho=0.8, workers=1, arrivals=200_000, seed=5)
    assert r.p99_ratio / r.mean_ratio == pytest.approx(4.6, rel=0.08)


def test_undefended_a_serves_no_errors_while_failing_everyone():
    # In the interview: "in the undefended run, A served no errors at all while it was failing everyone"
    for r in runs():
        assert r.summary["a_error_share_during"] == 0.0
        assert r.summary["a_p99_during"] > 5.0


# -- Self-check: the numbers in the questions ----------------------------------------------------

def _question(fragment):
    (question,) = [q for q in lesson01.QUESTIONS if fragment in q.prompt]
    return question


def test_quiz_littles_law_ten_threads_by_simulation():
    # Q1: 100 requests/s, 100 ms each, 40 threads -> 10 busy.
    q = _question("100 ms on average")
    assert q.options[q.answer] == "10"
    sim = Simulation(seed=1)
    a = Service(sim, "A", workers=40, latency=Exponential(0.1))
    OpenLoop(sim, Direct(a), rate=100, until=300)
    sim.run()
    assert a.mean_in_system(sim.now()) == pytest.approx(10, rel=0.05)


def test_quiz_50_threads_needed_40_available_queue_grows():
    # Q2: 100/s × 0.5 s = 50 threads needed, 40 available -> the queue grows for as long as it lasts.
    q = _question("500 ms")
    assert "50 threads" in q.options[q.answer]
    sim = Simulation(seed=1)
    a = Service(sim, "A", workers=40, latency=Exponential(0.5))
    OpenLoop(sim, Direct(a), rate=100, until=60)
    sim.run(until=60)
    times, lengths = a.queue_series.arrays()
    assert lengths[times <= 30].max() < lengths[times <= 60].max()
    assert lengths[-1] > 200  # about (100 - 80) per second × 60 s = 1,200 by the end


def test_quiz_mm1_80_percent_10ms_is_50ms():
    # Q3: "W = S / (1 − ρ) = 10 ms / 0.2 = 50 ms. Four fifths of that is waiting in the queue."
    q = _question("80% of the time")
    assert q.options[q.answer] == "50 ms"
    w = queueing.mm1_response_time(80.0, 100.0)
    assert w == pytest.approx(0.050)
    assert (w - 0.010) / w == pytest.approx(0.8)


def test_quiz_timeout_above_p999_and_median_fails_half():
    # Q4: "just above the p99.9 fails fewer than one call in a thousand ... 40 ms fails half of all calls"
    q = _question("p99.9 400 ms")
    assert "450 ms" in q.options[q.answer]
    assert 400 < 450 < 2000  # above B's p99.9, well inside the callers' 2 s


def test_quiz_b_finishes_12_6_calls_while_a_sends_25():
    # Q6: "B finishes only about 12.6 calls a second while A sends it 25"
    assert 8 / (10 * B_HEALTHY.mean) == pytest.approx(12.6, abs=0.05)
    assert 50 * 0.5 == 25


def test_dashboard_presets_in_the_lesson_are_valid():
    # Every preset the lesson uses builds without error and shows what the text says it shows.
    assert SlowDependencyDashboard(slowdown=1.0).result.summary["a_peak_busy"] < 20
    assert UtilisationDashboard(rho=0.9, workers=10).result.workers == 10
