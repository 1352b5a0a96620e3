"""Lesson 07 part 3: randomised fault schedules against the payments flow, checked against invariants, and shrunk.

What is checked, and how:

* the hand-written scenarios (each fault alone, some pairs) pass on the buggy consumer; the bug pair fails;
* the simulation fails *exactly* when :func:`has_bug_pair` says so, on every schedule of a large sample, so the
  exact :func:`detection_probability` is the long-run share of failing random schedules; that share is also
  measured directly (simulated runs, within 4 standard errors) and over 100,000 schedules;
* P(found within n runs) = 1 − (1 − p)ⁿ against the share of searches of n runs that found it (4 standard errors);
* the fixed consumer survives every schedule of a large random sample and of an exhaustive small one;
* the shrinker, on failures found by random search, ends 1-minimal (removing any step passes), still failing,
  with the two steps the bug needs;
* determinism per seed, invalid parameters, and the dashboard's own figures.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import math

import numpy as np
import pytest

from course.dashboards import ALL, fault_schedules_dashboard
from course.dashboards.fault_schedules import FaultSchedulesDashboard, timeline_points
from course.models import fault_schedules as fs
from course.models.fault_schedules import (BETWEEN, BEFORE_CHARGE, BUG, CrashConsumer, CrashRelay, Delay, Duplicate,
                                           Partition)


def four_se(p: float, n: int) -> float:
    """Four standard errors of a share p measured over n independent trials."""
    return 4 * math.sqrt(p * (1 - p) / n)


# -- the system under test and its planted bug -------------------------------------------------------

@pytest.mark.parametrize("name", sorted(fs.SCENARIOS))
def test_hand_written_scenarios_pass_even_on_the_buggy_consumer(name):
    for consumer in fs.CONSUMERS:
        run = fs.run(fs.SCENARIOS[name], consumer)
        assert run.ok, f"{name} ({consumer}): {run.verdict()}"
        assert run.charges == {k: 1 for k in range(1, fs.MESSAGES + 1)}


def test_the_bug_pair_double_charges_and_the_checkers_say_who():
    run = fs.run(BUG, "buggy")
    assert not run.ok
    assert run.violated == [fs.CUSTOMERS_PAID, fs.CHARGED_ONCE]  # cash is conserved: a double charge moves money
    assert run.charges[3] == 2
    assert "carol: -30" in str(run.checks[fs.CUSTOMERS_PAID])
    assert "order 3 was charged 2 times (carol paid 60 for 30)" in run.verdict()
    assert run.balances_after["carol"] == fs.INITIAL - 60
    assert run.balances_after["shop"] == 10 * (1 + 2 + 3 + 4 + 5) + 30
    whats = [what for _, order, what in run.events if order == 3]
    assert whats == ["placed", "published", "charged", "crash", "published", "refused", "charged"]
    # The same faults on the fixed consumer: the second copy is skipped.
    fixed = fs.run(BUG, "fixed")
    assert fixed.ok and "skipped" in [what for _, order, what in fixed.events if order == 3]


@pytest.mark.parametrize("copy", [Duplicate(2, 0.3), CrashRelay(2)])
def test_any_second_copy_of_the_crashed_message_finds_the_bug(copy):
    schedule = (CrashConsumer(2, BETWEEN), copy)
    assert not fs.run(schedule, "buggy").ok and fs.has_bug_pair(schedule)
    assert fs.run(schedule, "fixed").ok


def test_steps_read_as_sentences():
    assert str(CrashConsumer(3, BETWEEN)) == "crash the consumer between charge and record, on message 3"
    assert str(CrashConsumer(2, BEFORE_CHARGE)) == "crash the consumer before the charge, on message 2"
    assert str(Duplicate(3, 0.05)) == "duplicate message 3 (the copy 50 ms later)"
    assert str(CrashRelay(4)) == "crash the relay after it publishes message 4"
    assert str(Partition(2.0, 2.5)) == "partition broker→consumer from 2.0 s to 2.5 s"
    assert str(Delay(5, 0.3)) == "delay message 5 by 300 ms"
    assert fs.describe(BUG) == ("1. crash the consumer between charge and record, on message 3\n"
                                "2. duplicate message 3 (the copy 100 ms later)")
    assert fs.describe(()) == "no faults"


def test_a_partition_holds_deliveries_and_a_delay_holds_a_message():
    partitioned = fs.run((Partition(1.0, 2.0),))
    charged = {order: t for t, order, what in partitioned.events if what == "charged"}
    assert charged[2] == pytest.approx(2.0) and charged[3] == pytest.approx(2.0)  # held, handed over at the end
    delayed = fs.run((Delay(3, 0.5),))
    times = {order: t for t, order, what in delayed.events if what == "charged"}
    assert times[3] == pytest.approx(3 * fs.SPACING + fs.RELAY_INTERVAL + 0.5 + fs.BROKER_DELAY)


# -- the simulation fails exactly on the pair, so p is exact ----------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    """3,000 simulated random schedules (4 faults, seeds 1-3) and 600 of 1 to 8 faults: (schedule, failed)."""
    out = []
    for seed in (1, 2, 3):
        schedules = fs.random_schedules(seed, 1000)
        out += list(zip(schedules, fs.search(1000, seed)))
    for steps in range(1, 9):
        schedules = fs.random_schedules(100 + steps, 75, steps)
        out += list(zip(schedules, fs.search(75, 100 + steps, steps)))
    return out


def test_the_buggy_consumer_fails_exactly_when_the_pair_is_there(sample):
    mismatches = [fs.describe(s) for s, failed in sample if failed != fs.has_bug_pair(s)]
    assert not mismatches, mismatches[:3]
    assert sum(failed for _, failed in sample) > 200


def test_detection_probability_is_exact_and_matches_the_simulated_share(sample):
    # The lesson's figures: p = 1.6% with 2 faults per schedule, 8.6% with 4, 30.5% with 8; 0 with 1.
    assert fs.detection_probability(1) == 0
    assert fs.detection_probability(2) == pytest.approx(2 * (0.1 / 5) * (0.4 / 5) * 5)   # 0.016, two steps: exact
    assert fs.detection_probability(4) == pytest.approx(0.08608, abs=1e-5)
    assert fs.detection_probability(8) == pytest.approx(0.30457, abs=1e-5)
    assert fs.detection_probability(4, messages=1) == pytest.approx(1 - 0.9 ** 4 - 0.6 ** 4 + 0.5 ** 4)
    four = [failed for s, failed in sample[:3000]]
    p = fs.detection_probability(4)
    assert abs(np.mean(four) - p) < four_se(p, len(four))  # 4 SE = 0.020


@pytest.mark.parametrize("steps", [2, 4, 8])
def test_detection_probability_over_100_000_schedules(steps):
    # has_bug_pair is the simulation's verdict (checked above), so many more schedules cost no simulation.
    hits = [fs.has_bug_pair(s) for s in fs.random_schedules(10 + steps, 100_000, steps)]
    p = fs.detection_probability(steps)
    assert abs(np.mean(hits) - p) < four_se(p, len(hits))


def test_found_within_n_runs_follows_one_minus_one_minus_p_to_the_n():
    p = fs.detection_probability(4)
    # Lesson figures: 59% within 10 runs, 98.9% within 50, half the time within 8 (7.7).
    assert fs.detection_curve(p, 10) == pytest.approx(0.5935, abs=1e-4)
    assert fs.detection_curve(p, 50) == pytest.approx(0.9889, abs=1e-4)
    assert math.log(0.5) / math.log(1 - p) == pytest.approx(7.7, abs=0.05)
    flags = [fs.has_bug_pair(s) for s in fs.random_schedules(21, 60_000)]
    ns = [1, 2, 5, 10, 20, 50]
    measured = fs.found_within(flags, ns)
    for n, share in zip(ns, measured):
        expected = float(fs.detection_curve(p, n))
        assert abs(share - expected) < four_se(expected, 60_000 // n) + 1e-9, (n, share, expected)


def test_random_search_finds_the_bug_for_every_seed():
    positions = []
    for seed in range(1, 21):
        found = fs.find(200, seed)
        assert found is not None and not found.run.ok
        assert fs.has_bug_pair(found.schedule)
        assert found.schedule == fs.random_schedules(seed, found.runs)[-1]
        positions.append(found.runs)
    # The first failure is geometric with p = 8.6%: mean 1/p = 11.6 runs. 20 seeds: within a wide margin.
    assert 5 < np.mean(positions) < 25


def test_one_fault_alone_never_finds_it():
    assert fs.find(300, seed=1, steps=1) is None


# -- the fixed consumer ------------------------------------------------------------------------------

def test_the_fixed_consumer_survives_a_large_random_sample():
    for steps in (2, 4, 8):
        flags = fs.search(600, seed=40 + steps, steps=steps, consumer="fixed")
        assert not any(flags)


def test_the_fixed_consumer_survives_every_triple_of_faults_on_two_messages():
    vocabulary = [CrashConsumer(m, point) for m in (2, 3) for point in fs.POINTS]
    vocabulary += [Duplicate(m, 0.05) for m in (2, 3)] + [CrashRelay(m) for m in (2, 3)]
    vocabulary += [Delay(2, 0.6), Partition(1.0, 1.8)]
    broken = 0
    for schedule in itertools.combinations(vocabulary, 3):
        assert fs.run(schedule, "fixed").ok, fs.describe(schedule)
        broken += not fs.run(schedule, "buggy").ok
    assert broken > 0


# -- shrinking ---------------------------------------------------------------------------------------------

def test_shrinking_a_found_failure_leaves_the_two_steps_the_bug_needs():
    for seed in range(1, 9):
        found = fs.find(300, seed, steps=6)
        shrunk = fs.shrink_schedule(found.schedule)
        steps = shrunk.steps
        assert not fs.run(steps).ok, "the shrunk schedule must still fail"
        for i in range(len(steps)):  # 1-minimal: removing any single step makes it pass
            assert fs.run(steps[:i] + steps[i + 1:]).ok
        assert len(steps) == 2 and fs.has_bug_pair(steps)
        assert all(s.after == fs.DUPLICATE_AFTER[0] for s in steps if isinstance(s, Duplicate))  # simplified
        assert shrunk.original == 6 and shrunk.tests < 40


def test_shrinking_a_long_schedule_with_the_bug_buried_in_it():
    noise = [Partition(0.5, 1.4), Delay(1, 0.7), CrashConsumer(2, BEFORE_CHARGE), Duplicate(4, 0.4), CrashRelay(1),
             Delay(5, 0.2), CrashConsumer(5, BETWEEN)]
    schedule = noise[:3] + [Duplicate(3, 0.45)] + noise[3:] + [CrashConsumer(3, BETWEEN)]
    shrunk = fs.shrink_schedule(schedule)
    assert shrunk.steps == [Duplicate(3, 0.05), CrashConsumer(3, BETWEEN)]


def test_the_hypothesis_version_is_valid_python_naming_real_things():
    tree = ast.parse(fs.HYPOTHESIS_EXAMPLE)
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "fs"}
    assert used and all(hasattr(fs, name) for name in used), used
    imports = [ast.dump(node) for node in ast.parse(inspect.getsource(fs)).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports and not any("hypothesis" in line for line in imports)  # the course does not depend on it


# -- determinism and invalid parameters --------------------------------------------------------------------

def test_same_seed_same_schedules_and_runs():
    assert fs.random_schedules(5, 30) == fs.random_schedules(5, 30)
    assert fs.random_schedules(5, 30)[:10] == fs.random_schedules(5, 10)  # a longer search extends a shorter one
    assert fs.random_schedules(5, 30) != fs.random_schedules(6, 30)
    assert fs.random_schedule(5) == fs.random_schedules(5, 1)[0]
    assert fs.search(40, seed=5) == fs.search(40, seed=5)
    fs._run.cache_clear()
    first = fs.run(BUG)
    fs._run.cache_clear()
    assert fs.run(BUG).events == first.events


def test_a_run_draws_no_random_numbers():
    with pytest.raises(RuntimeError, match="must not draw random numbers"):
        fs._Simulation(seed=0).rng("anything").random()


@pytest.mark.parametrize("call, match", [
    (lambda: fs.run(BUG, consumer="careful"), "consumer must be one of"),
    (lambda: fs.run(BUG, messages=0), "messages must be a whole number >= 1"),
    (lambda: fs.run((Duplicate(7),)), "names message 7, but messages is 5"),
    (lambda: fs.run(["crash"]), "schedule must hold fault steps"),
    (lambda: fs.run(3), "schedule must be a list of fault steps"),
    (lambda: Duplicate(0), "message must be a whole number >= 1"),
    (lambda: Duplicate(1, after=0), "after must be > 0"),
    (lambda: Delay(1, by=-0.1), "by must be > 0"),
    (lambda: Partition(2.0, 1.0), "end must be after start"),
    (lambda: Partition(-1.0, 1.0), "start must be >= 0"),
    (lambda: CrashConsumer(1, "after lunch"), "point must be one of"),
    (lambda: fs.random_schedules(1, 5, steps=0), "steps must be a whole number >= 1"),
    (lambda: fs.random_schedules(-1, 5), "seed must be a whole number >= 0"),
    (lambda: fs.random_schedules(1, -5), "count must be a whole number >= 0"),
    (lambda: fs.search(0), "runs must be a whole number >= 1"),
    (lambda: fs.find(10, consumer="x"), "consumer must be one of"),
    (lambda: fs.detection_probability(steps=0), "steps must be a whole number >= 1"),
    (lambda: fs.detection_probability(messages=0), "messages must be a whole number >= 1"),
    (lambda: fs.detection_curve(1.5, 3), "p must be a probability"),
    (lambda: fs.detection_curve(0.5, -1), "n must be >= 0"),
    (lambda: fs.found_within([True, False], [3]), "n must be at most the number of runs"),
    (lambda: fs.found_within([True, False], [0]), "n must be a whole number >= 1"),
    (lambda: fs.shrink_schedule(fs.SCENARIOS["duplicate"]), "steps must fail to begin with"),
])
def test_invalid_parameters_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- the dashboard ------------------------------------------------------------------------------------------

def test_registered_with_its_factory():
    assert ALL["fault_schedules"] is FaultSchedulesDashboard


def test_dashboard_shows_the_theory_the_search_and_the_shrunk_failure():
    d = fault_schedules_dashboard()
    r = d.result
    assert r.p == fs.detection_probability(4) and r.found == fs.search(50, 1)
    x, y = d.theory_line.get_data()
    assert np.allclose(y, fs.detection_curve(r.p, x)) and x.max() <= 50
    assert list(d.points.get_xdata()) == [1, 2, 5, 10, 20, 50]
    assert r.shrunk is not None and len(r.shrunk.steps) == 2 and fs.has_bug_pair(r.shrunk.steps)
    again = d.marks["charged again"].get_data()
    assert len(again[0]) == 1  # the double charge, in red on the timeline
    assert "8.6%" in d.status.value and "98.9%" in d.status.value
    assert "Broken: each customer paid exactly for their orders" in d.verdict.get_text()
    assert str(r.shrunk.steps[0]) in d.verdict.get_text()

    d.set(consumer="fixed")
    r = d.result
    assert r.p == 0 and not any(r.found)
    assert len(d.marks["charged again"].get_data()[0]) == 0 and len(d.marks["skipped"].get_data()[0]) >= 1
    assert "every invariant held" in d.verdict.get_text()

    d.set(consumer="buggy", steps=1)
    assert not any(d.result.found) and d.result.shrunk is None
    assert "needs two faults on the same message" in d.status.value


def test_timeline_points_mark_the_second_charge():
    points = timeline_points(fs.run(BUG))
    assert list(points["charged again"][1]) == [3]
    assert list(points["crash"][1]) == [3.3]  # drawn just below order 3's row
