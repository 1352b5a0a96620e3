"""Lesson 07's traces and RED metrics: every trace rebuilt from the logs is consistent, the RED figures are the
logs' own counts, the hedge, retry and error figures agree with theory in the long run, the figures the lesson
can quote hold over many seeds, runs repeat per seed, bad parameters are named, and the dashboard draws what the
model says."""

from __future__ import annotations

import math
import statistics
from functools import lru_cache

import numpy as np
import pytest

from course.bench import clear_model_caches
from course.dashboards import ALL, TraceDashboard, trace_dashboard
from course.dashboards import traces as dashboard
from course.models import traces as model
from course.sim import Outcome
from tests.lessons.dashboard_helpers import PNG_SIGNATURE, without_drawing

OK, TIMEOUT, CANCELLED = int(Outcome.OK), int(Outcome.TIMEOUT), int(Outcome.CANCELLED)
ATTEMPTS = ("attempt", "retry", "hedge")
#: Long runs for the theory checks: 10 seeds × 60 s at 30 requests/s, about 18,000 requests.
THEORY_SEEDS, THEORY_DURATION = range(1, 11), 60.0
#: The lesson's figures, at the dashboard's settings (30 s with C's error burst): 12 seeds, about 10,800 requests.
LESSON_SEEDS = range(1, 13)


@lru_cache(maxsize=None)
def _runs(seeds: range, **settings) -> tuple:
    return tuple(model.simulate(seed=seed, **settings) for seed in seeds)


def _theory_runs(**settings) -> tuple:
    return _runs(THEORY_SEEDS, burst=None, duration=THEORY_DURATION, **settings)


def _binomial_tolerance(p: float, n: int, sigmas: float = 4.0) -> float:
    return sigmas * math.sqrt(p * (1 - p) / n)


# -- traces -----------------------------------------------------------------------------------------

#: Settings that between them show every kind of span and outcome: the defaults (hedges, the error burst),
#: no hedging with a slow C, a tight A timeout that gives up on B, and a B timeout below the hedge delay.
CONSISTENCY = [{}, {"hedging": False, "slow_share": 0.2},
               {"slow_share": 0.2, "a_timeout": 0.25, "hedging": False, "error_rate": 0.1},
               {"b_timeout": 0.04, "slow_share": 0.1}]


@pytest.mark.parametrize("settings", CONSISTENCY)
def test_every_trace_is_consistent_with_the_logs(settings):
    run = model.simulate(duration=12.0, **settings)
    seen = {"attempts": {model.hop_name(*h): 0 for h in model.HOPS}, "servers": dict.fromkeys(model.SERVICES, 0)}
    kinds, hedges, retries = set(), 0, 0
    for root in range(run.requests):
        trace = model.spans(run, root)
        request, a = trace[0], trace[1]
        # The root span is the load generator's record, and A's span is the same interval (no client in between).
        assert (request.kind, request.start, request.end, request.outcome) == (
            "request", run.load["start"][root], run.load["end"][root], run.load["outcome"][root])
        assert (a.kind, a.service, a.parent, a.start, a.end, a.outcome) == (
            "server", "A", 0, request.start, request.end, request.outcome)
        by_id = {span.id: span for span in trace}
        assert [span.id for span in trace] == list(range(len(trace)))
        for span in trace[1:]:
            parent = by_id[span.parent]
            assert parent.id < span.id
            assert span.start >= parent.start - 1e-12
            if span.abandoned:  # only a server goes on after its caller stopped waiting
                assert span.kind == "server" and span.end > parent.end
            else:
                assert span.end <= parent.end + 1e-12, (root, span, parent)
            if span.kind in ATTEMPTS:
                assert parent.kind == "call"
                children = [s for s in trace if s.parent == span.id]
                assert len(children) == 1 and children[0].kind == "server"
                assert children[0].start == pytest.approx(span.start + model.NETWORK, abs=1e-9)
                seen["attempts"][model.hop_name(span.service, span.target)] += 1
            if span.kind == "server":
                seen["servers"][span.service] += 1
            kinds.add((span.kind, span.outcome, span.abandoned))
            hedges += span.kind == "hedge"
            retries += span.kind == "retry"
        sources = model.latency_sources(run, root, trace)
        assert set(sources) == set(model.SOURCES)
        assert min(sources.values()) >= 0
        assert sum(sources.values()) == pytest.approx(run.latency[root], abs=1e-9)
    # Every logged attempt and server call is in exactly one trace.
    for hop, count in seen["attempts"].items():
        assert count == run.attempts[hop]["root"].size
    for name, count in seen["servers"].items():
        assert count == run.servers[name]["root"].size
    counts = model.hop_counts(run)
    assert (hedges, retries) == (counts["hedges"], counts["retries"])
    assert any(kind == "retry" for kind, _, _ in kinds)
    assert any(abandoned for _, _, abandoned in kinds)
    assert any(kind in ATTEMPTS and outcome == TIMEOUT for kind, outcome, _ in kinds)
    if run.hedging:
        assert any(kind == "hedge" for kind, _, _ in kinds)
    # A copy is cancelled when the other one wins, so only when both can be out at once.
    assert any(kind in ATTEMPTS and outcome == CANCELLED for kind, outcome, _ in kinds) == (
        run.hedging and run.b_timeout > run.hedge_delay)


def test_the_eventful_request_shows_a_retry_a_timeout_and_a_hedge():
    for seed in range(1, 6):
        run = model.simulate_cached(seed=seed)
        root = model.pick(run, "eventful")
        trace = model.spans(run, root)
        attempts = [s for s in trace if s.kind in ATTEMPTS and s.target == "C"]
        assert {s.kind for s in attempts} == set(ATTEMPTS)
        assert any(s.outcome == TIMEOUT for s in trace)
        # A retry leaves after every copy of the try before it ended, and at least half the backoff base later.
        for retry in (s for s in attempts if s.kind == "retry"):
            before = [s for s in attempts if s.number == retry.number - 1]
            assert retry.start >= max(s.end for s in before) + model.BACKOFF_BASE / 2 - 1e-12
        # A hedge leaves while the first copy of its try is out, or the instant that copy failed.
        for hedge in (s for s in attempts if s.kind == "hedge"):
            first = next(s for s in attempts if s.number == hedge.number and s.kind != "hedge")
            assert first.start < hedge.start <= first.end
            assert hedge.start <= first.start + run.hedge_delay + 1e-12


@pytest.mark.parametrize("sent, answered, max_hedges, kinds, numbers", [
    ([0.0], [math.nan], 1, ["attempt"], [0]),
    ([0.0, 0.05], [0.2, 0.07], 1, ["attempt", "hedge"], [0, 0]),                   # hedged at the delay
    ([0.0, 0.01], [0.01, 0.03], 1, ["attempt", "hedge"], [0, 0]),                  # hedged on an early failure
    ([0.0, 0.05, 0.23, 0.28], [0.15, 0.2, 0.3, 0.29], 1, ["attempt", "hedge", "retry", "hedge"], [0, 0, 1, 1]),
    ([0.0, 0.16, 0.33], [0.15, 0.31, 0.4], 0, ["attempt", "retry", "retry"], [0, 1, 2]),
])
def test_attempt_kinds(sent, answered, max_hedges, kinds, numbers):
    assert model._attempt_kinds(sent, answered, max_hedges) == (kinds, numbers)


def test_a_plain_request_splits_into_work_queues_and_network_exactly():
    # A request with one attempt on each hop: its time is A's and B's queueing and work, two network hops and C.
    run = model.simulate_cached()
    f = run.features
    plain = np.flatnonzero((f["retries"] == 0) & (f["hedges"] == 0) & (f["timeouts"] == 0))
    assert plain.size > 0.8 * run.requests
    for root in plain[:200].tolist():
        trace = model.spans(run, root)
        a, call_ab, b, call_bc, c = (next(s for s in trace if s.kind == kind and s.service == service)
                                     for kind, service in (("server", "A"), ("call", "A"), ("server", "B"),
                                                           ("call", "B"), ("server", "C")))
        sources = model.latency_sources(run, root, trace)
        assert sources["timeouts & failed attempts"] == 0 and sources["backoff"] == 0
        assert sources["network"] == pytest.approx(2 * model.NETWORK, abs=1e-12)
        assert sources["A queue"] + sources["A work"] == pytest.approx(call_ab.start - a.start, abs=1e-12)
        assert sources["B queue"] + sources["B work"] == pytest.approx(call_bc.start - b.start, abs=1e-12)
        assert sources["C queue"] == pytest.approx(c.work_start - c.start, abs=1e-12)
        assert sources["C work"] == pytest.approx(c.end - c.work_start, abs=1e-12)


def test_pick():
    run = model.simulate_cached()
    latency = run.latency
    order = np.lexsort((np.arange(run.requests), latency))
    assert model.pick(run, "typical") == order[(run.requests - 1) // 2]
    assert latency[model.pick(run, "slowest")] == latency.max()
    f = run.features
    for kind, key in (("retry", "retries"), ("hedge", "hedges"), ("timeout", "timeouts")):
        assert f[key][model.pick(run, kind)] > 0
    # Deterministic: the same seed picks the same requests; another seed is another run.
    again = model.simulate(seed=1)
    assert [model.pick(again, k) for k in model.PICKS] == [model.pick(run, k) for k in model.PICKS]
    assert model.spans(again, model.pick(again, "eventful")) == model.spans(run, model.pick(run, "eventful"))
    # Nothing to find: no slow calls, no errors, no retries.
    calm = model.simulate(slow_share=0.0, error_rate=0.0, burst=None, duration=5.0)
    assert model.pick(calm, "retry") is None and model.pick(calm, "timeout") is None
    assert model.pick(calm, "eventful") is not None


# -- RED ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("window", [model.WINDOW, 7.0])
def test_red_is_the_logs_own_counts(window):
    run = model.simulate_cached()
    red = model.red(run, window)
    windows = int(run.duration // window)
    for name in model.SERVICES:
        r, logged = red[name], run.servers[name]
        np.testing.assert_array_equal(r.t, np.arange(windows) * window)
        assert r.rate.size == windows
        duration = logged["end"] - logged["arrival"]
        for w in range(windows):
            rows = (logged["outcome"] >= 0) & (np.floor(logged["end"] / window) == w)
            ok = rows & (logged["outcome"] == OK)
            assert r.count[w] == np.count_nonzero(rows)
            assert r.rate[w] == r.count[w] / window
            assert r.errors[w] == pytest.approx(1 - ok.sum() / rows.sum(), abs=1e-15)
            for suffix, subset in (("", rows), ("_ok", ok), ("_error", rows & ~ok)):
                expected = np.quantile(duration[subset], (0.5, 0.99)) if subset.any() else (np.nan, np.nan)
                got = (getattr(r, "p50" + suffix)[w], getattr(r, "p99" + suffix)[w])
                np.testing.assert_allclose(got, expected, rtol=1e-12)
    # The load stops at ``duration``: calls answered later are outside every window.
    assert red["A"].count.sum() == np.count_nonzero(run.servers["A"]["end"] < windows * window)


def test_red_finds_the_burst_at_c_and_not_at_a():
    # Windows wholly inside C's error burst (12-18 s) against those well clear of it, pooled over seeds.
    runs = _runs(LESSON_SEEDS)
    start, end, burst_rate = model.BURST
    inside, outside = {s: [0, 0] for s in model.SERVICES}, {s: [0, 0] for s in model.SERVICES}
    for run in runs:
        red = model.red(run)
        for name, r in red.items():
            for t, count, errors in zip(r.t, r.count, r.errors):
                target = inside if start <= t and t + r.window <= end else (
                    outside if t + r.window <= start - 1 or t >= end + 1 else None)
                if target is not None:
                    target[name][0] += count
                    target[name][1] += round(errors * count)
    c_in = inside["C"][1] / inside["C"][0]
    c_out = outside["C"][1] / outside["C"][0]
    assert c_in == pytest.approx(burst_rate, abs=_binomial_tolerance(burst_rate, inside["C"][0]))
    assert c_out == pytest.approx(model.ERROR_RATE, abs=_binomial_tolerance(model.ERROR_RATE, outside["C"][0]))
    # B's retries and hedges absorb it: the user sees (almost) none of it.
    assert inside["A"][1] / inside["A"][0] < 0.005
    # And C pays with load: more calls per request during the burst.
    assert inside["C"][0] / inside["A"][0] > 1.1 * outside["C"][0] / outside["A"][0]
    # Requests that started in the burst (and had a second to finish in it) got the attempts theory expects at
    # C's burst error rate: about 1.31 per request, against 1.07 outside.
    per_request = np.concatenate([np.bincount(r.attempts["B→C"]["root"], minlength=r.requests)[
        (r.load["start"] >= start) & (r.load["start"] + r.a_timeout <= end)] for r in runs])
    theory = model.expected_attempts(model.SLOW_SHARE, error_rate=burst_rate)
    assert theory == pytest.approx(1.31, abs=0.01)
    assert per_request.mean() == pytest.approx(theory, abs=4 * per_request.std() / math.sqrt(per_request.size))


# -- long-run figures against theory --------------------------------------------------------------

def _pooled_counts(runs) -> dict:
    total = {}
    for run in runs:
        for key, value in model.hop_counts(run).items():
            total[key] = total.get(key, 0) + value
    return total


def test_hedge_share_is_the_extra_load_theory_predicts():
    counts = _pooled_counts(_theory_runs())
    theory = model.hedge_share(model.SLOW_SHARE)
    assert theory == pytest.approx(0.0693, abs=5e-4)  # the figure the lesson quotes: about 7%
    measured = counts["hedges"] / counts["tries"]
    assert measured == pytest.approx(theory, abs=_binomial_tolerance(theory, counts["tries"]))


@pytest.mark.parametrize("hedging, quoted", [(False, 0.0647), (True, 0.0042)])
def test_share_of_requests_with_a_retry(hedging, quoted):
    counts = _pooled_counts(_theory_runs(hedging=hedging))
    theory = model.retry_share(model.SLOW_SHARE, hedging=hedging)
    assert theory == pytest.approx(quoted, abs=5e-4)
    measured = counts["requests_with_retry"] / counts["requests"]
    assert measured == pytest.approx(theory, abs=_binomial_tolerance(theory, counts["requests"]))


@pytest.mark.parametrize("hedging", [False, True])
def test_attempts_per_request_at_c(hedging):
    runs = _theory_runs(hedging=hedging)
    per_request = np.concatenate([np.bincount(r.attempts["B→C"]["root"], minlength=r.requests) for r in runs])
    theory = model.expected_attempts(model.SLOW_SHARE, hedging=hedging)
    assert per_request.mean() == pytest.approx(theory, abs=4 * per_request.std() / math.sqrt(per_request.size))


def test_c_fails_at_its_error_rate_and_retries_hide_it_from_the_user():
    # C's own error share is its error rate; the user's is q³ (three tries, each failing with q), here at a high
    # error rate and a slow C so that q³ is large enough to measure.
    steady = _theory_runs(hedging=False)
    c = np.concatenate([r.servers["C"]["outcome"] for r in steady])
    assert np.mean(c != OK) == pytest.approx(model.ERROR_RATE, abs=_binomial_tolerance(model.ERROR_RATE, c.size))
    runs = _theory_runs(hedging=False, slow_share=0.2, error_rate=0.2)
    user = np.concatenate([r.load["outcome"] for r in runs])
    c = np.concatenate([r.servers["C"]["outcome"] for r in runs])
    q3 = model.attempt_failure(0.2, error_rate=0.2) ** 3
    assert np.mean(c != OK) == pytest.approx(0.2, abs=_binomial_tolerance(0.2, c.size))
    assert np.mean(user != OK) == pytest.approx(q3, abs=_binomial_tolerance(q3, user.size))


def test_theory_functions():
    # Both modes of C within reach of the formulas: the fast one is over by 100 ms, the slow one is not.
    assert model.c_cdf(0.0, 0.1) > 0.999 and model.c_cdf(1.0, 0.1) < 0.02
    assert model.c_cdf(0.05, 0.0) == 0.0 and model.c_cdf(0.05, 100.0) == pytest.approx(1.0)
    xs = np.linspace(0.001, 2, 50)
    assert np.all(np.diff([model.c_cdf(0.05, x) for x in xs]) >= 0)
    q = model.attempt_failure(0.05)
    assert model.retry_share(0.05, hedging=False) == q and model.retry_share(0.05) == pytest.approx(q * q)
    # A timeout shorter than the hedge delay fails the first copy first: then every failure sends the hedge.
    assert model.hedge_share(0.05, hedge_delay=0.2, b_timeout=0.1) == pytest.approx(model.attempt_failure(0.05, 0.1))
    assert model.expected_attempts(0.0, error_rate=0.0) == pytest.approx(1.0, abs=1e-3)


# -- the figures the lesson quotes, at the dashboard's settings ------------------------------------------

def _latency(runs) -> np.ndarray:
    return np.concatenate([r.latency for r in runs])


def _mean_sources(runs, which: str) -> dict:
    overviews = [model.overview(r) for r in runs]
    return {k: statistics.mean(getattr(o, which)[k] for o in overviews) for k in model.SOURCES}


def test_hedging_halves_the_p99():
    hedged, plain = _latency(_runs(LESSON_SEEDS)), _latency(_runs(LESSON_SEEDS, hedging=False))
    assert np.quantile(hedged, 0.5) == pytest.approx(0.019, rel=0.1)    # p50: about 19 ms either way
    assert np.quantile(plain, 0.5) == pytest.approx(0.019, rel=0.1)
    assert np.quantile(plain, 0.99) == pytest.approx(0.200, rel=0.15)   # p99: about 200 ms without hedging
    assert np.quantile(hedged, 0.99) == pytest.approx(0.090, rel=0.2)   # about 90 ms with it
    assert np.quantile(hedged, 0.99) < 0.6 * np.quantile(plain, 0.99)


def test_without_hedging_the_timeout_sets_the_tail():
    # A slow call is cut at B's timeout and retried, so the p99 follows the timeout: about 200 ms at 150 ms and
    # about 430 ms at 400 ms. With hedging the copy sent at 50 ms answers first, whatever the timeout (about 95 ms).
    plain = np.quantile(_latency(_runs(LESSON_SEEDS, hedging=False, b_timeout=0.4)), 0.99)
    hedged = np.quantile(_latency(_runs(LESSON_SEEDS, b_timeout=0.4)), 0.99)
    assert plain == pytest.approx(0.430, rel=0.15)
    assert plain > 1.8 * np.quantile(_latency(_runs(LESSON_SEEDS, hedging=False)), 0.99)
    assert hedged == pytest.approx(np.quantile(_latency(_runs(LESSON_SEEDS)), 0.99), rel=0.2)


def test_where_the_time_went_typical_and_slowest():
    runs = _runs(LESSON_SEEDS)
    typical, slowest = _mean_sources(runs, "typical"), _mean_sources(runs, "slowest")
    # A typical request is mostly C doing its work (about 57%); nothing is wasted.
    assert max(typical, key=typical.get) == "C work"
    assert typical["C work"] == pytest.approx(0.57, abs=0.05)
    assert typical["timeouts & failed attempts"] + typical["backoff"] < 0.02
    # The slowest 1% spend about three quarters of their time waiting on attempts that were thrown away.
    assert slowest["timeouts & failed attempts"] == pytest.approx(0.74, abs=0.07)
    assert slowest["timeouts & failed attempts"] + slowest["backoff"] > 0.7


def test_a_slow_c_without_hedging_makes_a_queue():
    # 20% slow calls at C, no hedging: A's three workers are held by requests waiting out C's timeouts, and even a
    # typical request waits for one (about 18% of its time); hedging takes most of that away.
    plain = _runs(LESSON_SEEDS, slow_share=0.2, hedging=False)
    hedged = _runs(LESSON_SEEDS, slow_share=0.2)
    assert _mean_sources(plain, "typical")["A queue"] == pytest.approx(0.18, abs=0.05)
    assert _mean_sources(hedged, "typical")["A queue"] < 0.05
    assert np.quantile(_latency(plain), 0.5) > 1.3 * np.quantile(_latency(hedged), 0.5)
    assert np.quantile(_latency(plain), 0.99) > 1.5 * np.quantile(_latency(hedged), 0.99)


def test_errors_have_their_own_latency():
    # B's errors are slow (they are timeouts and exhausted retries), C's are as quick as its successes: averaged
    # with the successes, B's would hide in the tail and C's would flatter the mean.
    runs = _runs(LESSON_SEEDS, hedging=False)
    b = {k: np.concatenate([r.servers["B"][k] for r in runs]) for k in ("arrival", "end", "outcome")}
    c = {k: np.concatenate([r.servers["C"][k] for r in runs]) for k in ("arrival", "end", "outcome")}
    b_time, c_time = b["end"] - b["arrival"], c["end"] - c["arrival"]
    b_ok, c_ok = b["outcome"] == OK, c["outcome"] == OK
    assert np.median(b_time[~b_ok]) > 10 * np.median(b_time[b_ok])
    assert np.median(c_time[~c_ok]) == pytest.approx(np.median(c_time[c_ok]), rel=0.15)


# -- determinism and bad parameters ---------------------------------------------------------------

def test_same_seed_same_run_other_seed_other_run():
    a, b, c = (model.simulate(seed=seed, duration=5.0) for seed in (3, 3, 4))
    for table in ("servers", "attempts", "calls"):
        for key in getattr(a, table):
            for column, values in getattr(a, table)[key].items():
                np.testing.assert_array_equal(values, getattr(b, table)[key][column])
    np.testing.assert_array_equal(a.load["end"], b.load["end"])
    assert a.requests != c.requests or not np.array_equal(a.load["end"], c.load["end"])


@pytest.mark.parametrize("settings, name", [
    ({"slow_share": 1.5}, "slow_share"), ({"b_timeout": 0}, "b_timeout"), ({"hedge_delay": -1}, "hedge_delay"),
    ({"a_timeout": 0}, "a_timeout"), ({"error_rate": 2}, "error_rate"), ({"burst": (1.0, 2.0)}, "burst"),
    ({"burst": (5.0, 2.0, 0.1)}, "burst end"), ({"burst": (1.0, 2.0, 1.5)}, "burst error rate"),
    ({"burst": (-1.0, 2.0, 0.5)}, "burst start"), ({"rate": 0}, "rate"), ({"duration": -1}, "duration"),
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"slow_share": float("nan")}, "slow_share"),
])
def test_bad_simulation_parameters_are_named(settings, name):
    with pytest.raises(ValueError, match=name):
        model.simulate(**settings)


def test_bad_analysis_parameters_are_named():
    run = model.simulate_cached()
    for root in (-1, run.requests, True, 1.0):
        with pytest.raises(ValueError, match="root"):
            model.spans(run, root)
    with pytest.raises(ValueError, match="kind"):
        model.pick(run, "fastest")
    for window in (0, -2.0, float("nan"), run.duration + 1):
        with pytest.raises(ValueError, match="window"):
            model.red(run, window)
    with pytest.raises(ValueError, match="hop"):
        model.hop_counts(run, "A→C")
    with pytest.raises(ValueError, match="requests"):
        model.hop_counts(run, requests=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="roots"):
        model.mean_shares(run, [])
    with pytest.raises(ValueError, match="slow_share"):
        model.c_cdf(2.0, 0.1)
    with pytest.raises(ValueError, match="error_rate"):
        model.attempt_failure(0.05, error_rate=-0.1)
    with pytest.raises(ValueError, match="hedge_delay"):
        model.hedge_share(0.05, hedge_delay=0)


# -- the dashboard --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def d():
    return TraceDashboard()


def test_registered_with_a_factory_and_valid_controls():
    assert ALL["trace"] is TraceDashboard
    with without_drawing():
        built = trace_dashboard(request="slowest", hedging=False)
        c = built.controls_by_name
    assert built.params["request"] == "slowest" and built.params["hedging"] is False
    assert len(c) <= 5
    assert 0 <= c["slow_share"].min and c["slow_share"].max <= 100
    assert c["b_timeout_ms"].min > 0
    assert {value for _, value in c["request"].options} <= set(model.PICKS)
    for control in c.values():
        if hasattr(control, "continuous_update"):
            assert control.continuous_update is False


def test_the_artists_carry_the_model_numbers(d):
    misses = model.simulate_cached.cache_info().misses
    for request in ("eventful", "slowest", "typical"):
        d.controls_by_name["request"].value = request  # what the dropdown does in the browser
        v = d.result
        assert v.root == model.pick(v.run, request)
        assert len(d.bars.get_paths()) == len(v.trace)
        assert f"(id {v.root})" in d.ax_trace.get_title()
        assert [t.get_text() for t in d.ax_trace.get_yticklabels()] == [s.label for s in v.trace]
        widths = [container.patches[0].get_width() for container in d.where_bars]
        assert sum(widths) == pytest.approx(1.0)
        assert widths == pytest.approx(dashboard._grouped(v.sources))
        shares = [container.patches[2].get_width() for container in d.where_bars]
        assert shares == pytest.approx(dashboard._grouped(v.overview.slowest))
    # Another request of the same run: no new simulation.
    assert model.simulate_cached.cache_info().misses == misses
    red = d.result.overview.red
    for name, lines in d.red_lines.items():
        np.testing.assert_array_equal(lines["rate"].get_ydata(), red[name].rate)
        np.testing.assert_array_equal(lines["p99_ok"].get_ydata(), 1000 * red[name].p99_ok)
    assert "failed for the user" in d.status.value and "needed a retry" in d.status.value


def test_same_settings_same_picture(d):
    again = TraceDashboard(**d.params)
    assert bytes(again.image.value) == bytes(d.image.value)
    assert bytes(d.image.value).startswith(PNG_SIGNATURE)


def test_simulation_is_a_small_share_of_an_update(d):
    # The benchmark's sim_share bar (<= 0.3), cold: memos cleared before each update. Medians over several.
    shares = []
    for slow_share in (5, 10, 5, 15, 5):
        clear_model_caches()
        d.set(slow_share=slow_share)
        shares.append(d.timings["simulate"] / d.timings["total"])
    assert statistics.median(shares) <= 0.3, shares
