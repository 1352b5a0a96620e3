"""Saga runners: status transitions, reverse-order compensation, retries and "stuck", validation."""

from __future__ import annotations

import pytest

from course.sim import Constant, Exponential, Simulation
from course.sim.data import Broker, Choreography, History, Orchestrator, SagaEvent, SagaStep


class Boom(Exception):
    pass


def steps(log, fail=(), comp_failures=None, names=("reserve", "charge", "ship")):
    """Steps that log what they do; actions in ``fail`` raise; compensation of step s fails
    ``comp_failures[s]`` times before succeeding."""
    comp_failures = dict(comp_failures or {})

    def action(name):
        def run(ctx):
            if name in fail:
                raise Boom(name)
            log.append(("do", name, ctx["saga_id"]))
        return run

    def compensation(name):
        def run(ctx):
            if comp_failures.get(name, 0) > 0:
                comp_failures[name] -= 1
                raise Boom(f"undo {name}")
            log.append(("undo", name, ctx["saga_id"]))
        return run

    return [SagaStep(n, action(n), compensation(n) if i < len(names) - 1 else None) for i, n in enumerate(names)]


def orchestrate(fail=(), comp_failures=None, retries=3, **kw):
    sim = Simulation(seed=1)
    log = []
    orch = Orchestrator(sim, steps(log, fail, comp_failures), step_latency=Constant(0.05),
                        compensation_retries=retries, retry_delay=0.5, **kw)
    result = orch.start("s1")
    return sim, orch, result, log


def choreograph(fail=(), comp_failures=None, retries=3, delay=Constant(0.01), duplicate_probability=0.0):
    sim = Simulation(seed=1)
    log = []
    broker = Broker(sim, delay=delay, duplicate_probability=duplicate_probability)
    chor = Choreography(sim, broker, steps(log, fail, comp_failures), step_latency=Constant(0.05),
                        compensation_retries=retries, retry_delay=0.5)
    result = chor.start("s1")
    return sim, chor, result, log


RUNNERS = (orchestrate, choreograph)


@pytest.mark.parametrize("run", RUNNERS)
def test_all_steps_succeed_running_then_completed(run):
    sim, runner, result, log = run()
    assert result.status == "running"
    sim.run()
    assert result.status == "completed"
    assert log == [("do", "reserve", "s1"), ("do", "charge", "s1"), ("do", "ship", "s1")]
    assert [(e.step, e.kind, e.ok) for e in result.events] == [
        ("reserve", "action", True), ("charge", "action", True), ("ship", "action", True)]
    assert result.failed_step is None and runner.counts()["completed"] == 1


def test_orchestrator_timeline_is_back_to_back_steps():
    sim, _, result, _ = orchestrate()
    sim.run()
    assert result.events[0] == SagaEvent(0.0, 0.05, "reserve", "action", True)
    assert [e.time_start for e in result.events] == pytest.approx([0.0, 0.05, 0.10])
    assert result.ended == pytest.approx(0.15) and result.duration == pytest.approx(0.15)


def test_choreography_timeline_includes_the_broker_hops():
    sim, _, result, _ = choreograph()
    sim.run()
    # start message 10 ms, then each step 50 ms plus a 10 ms hop to the next
    assert [e.time_start for e in result.events] == pytest.approx([0.01, 0.07, 0.13])
    assert result.ended == pytest.approx(0.19)
    assert [topic for _, _, topic in result.messages] == ["saga.started", "reserve.done", "charge.done", "ship.done"]


@pytest.mark.parametrize("run", RUNNERS)
def test_a_failed_step_compensates_the_completed_ones_in_reverse(run):
    sim, _, result, log = run(fail=("ship",))
    sim.run()
    assert result.status == "compensated" and result.failed_step == "ship"
    assert log == [("do", "reserve", "s1"), ("do", "charge", "s1"), ("undo", "charge", "s1"),
                   ("undo", "reserve", "s1")]
    assert result.completed_actions() == ["reserve", "charge"]
    assert result.compensated_steps() == ["charge", "reserve"]
    times = [e.time_start for e in result.events]
    assert times == sorted(times)


@pytest.mark.parametrize("run", RUNNERS)
def test_a_failed_first_step_needs_no_compensation(run):
    sim, _, result, log = run(fail=("reserve",))
    sim.run()
    assert result.status == "compensated" and log == []
    assert [(e.step, e.kind, e.ok) for e in result.events] == [("reserve", "action", False)]


@pytest.mark.parametrize("run", RUNNERS)
def test_a_failed_middle_step_is_not_itself_compensated(run):
    sim, _, result, log = run(fail=("charge",))
    sim.run()
    assert result.status == "compensated"
    assert log == [("do", "reserve", "s1"), ("undo", "reserve", "s1")]


@pytest.mark.parametrize("run", RUNNERS)
def test_a_compensation_is_retried_until_it_succeeds(run):
    sim, _, result, log = run(fail=("ship",), comp_failures={"charge": 2}, retries=3)
    sim.run()
    assert result.status == "compensated"
    attempts = [(e.step, e.ok) for e in result.events if e.kind == "compensation"]
    assert attempts == [("charge", False), ("charge", False), ("charge", True), ("reserve", True)]
    charge = [e for e in result.events if e.kind == "compensation" and e.step == "charge"]
    assert charge[1].time_start - charge[0].time_end == pytest.approx(0.5)  # retry_delay


@pytest.mark.parametrize("run", RUNNERS)
def test_a_compensation_that_keeps_failing_leaves_the_saga_stuck(run):
    sim, runner, result, log = run(fail=("ship",), comp_failures={"charge": 99}, retries=2)
    sim.run()
    assert result.status == "stuck" and result.stuck_step == "charge"
    attempts = [(e.step, e.ok) for e in result.events if e.kind == "compensation"]
    assert attempts == [("charge", False)] * 3  # the first try and 2 retries; reserve is never undone
    assert ("undo", "reserve", "s1") not in log
    assert runner.counts() == {"running": 0, "completed": 0, "compensated": 0, "stuck": 1}


def test_zero_retries_means_one_attempt():
    sim, _, result, _ = orchestrate(fail=("ship",), comp_failures={"charge": 1}, retries=0)
    sim.run()
    assert result.status == "stuck"
    assert len([e for e in result.events if e.kind == "compensation"]) == 1


def test_choreography_ignores_broker_duplicates():
    sim, _, result, log = choreograph(fail=("ship",), delay=Exponential(0.02), duplicate_probability=1.0)
    sim.run()
    assert result.status == "compensated"
    assert log == [("do", "reserve", "s1"), ("do", "charge", "s1"), ("undo", "charge", "s1"),
                   ("undo", "reserve", "s1")]


def test_many_sagas_in_one_simulation_keep_their_own_context():
    sim = Simulation(seed=2)
    log = []
    orch = Orchestrator(sim, steps(log), step_latency=Exponential(0.05))
    for i in range(50):
        sim.at(i * 0.01, orch.start, f"s{i}", {"n": i})
    sim.run()
    assert orch.counts()["completed"] == 50
    assert all(r.ctx["saga_id"] == r.saga_id and r.ctx["n"] == int(r.saga_id[1:]) for r in orch.results)
    with pytest.raises(ValueError, match="saga_id 's0' was already started"):
        orch.start("s0")


def test_a_history_records_every_attempt():
    sim = Simulation(seed=1)
    history = History(sim)
    orch = Orchestrator(sim, steps([], fail=("ship",)), history=history)
    orch.start("s1")
    sim.run()
    pairs = [(i.f, i.key, c.type) for i, c in history.pairs()]
    assert pairs == [("action", "reserve", "ok"), ("action", "charge", "ok"), ("action", "ship", "fail"),
                     ("compensation", "charge", "ok"), ("compensation", "reserve", "ok")]
    history.validate()


@pytest.mark.parametrize("cls", ("orchestrator", "choreography"))
def test_a_non_last_step_without_compensation_is_refused_by_name(cls):
    sim = Simulation()
    bad = [SagaStep("reserve", lambda c: None, lambda c: None), SagaStep("charge", lambda c: None),
           SagaStep("ship", lambda c: None)]
    with pytest.raises(ValueError, match="step 'charge' has no compensation"):
        if cls == "orchestrator":
            Orchestrator(sim, bad)
        else:
            Choreography(sim, Broker(sim), bad)


def test_other_settings_are_validated():
    sim = Simulation()
    ok = steps([])
    with pytest.raises(ValueError, match="steps must hold at least one"):
        Orchestrator(sim, [])
    with pytest.raises(ValueError, match="compensation_retries must be a whole number >= 0"):
        Orchestrator(sim, ok, compensation_retries=-1)
    with pytest.raises(ValueError, match="retry_delay must be >= 0"):
        Orchestrator(sim, ok, retry_delay=-0.5)
    with pytest.raises(ValueError, match="step_latency must be a Latency"):
        Orchestrator(sim, ok, step_latency=0.05)
    with pytest.raises(ValueError, match="'reserve' appears twice"):
        Orchestrator(sim, ok[:1] + ok)
    with pytest.raises(ValueError, match=r"steps\[1\] must be a SagaStep"):
        Orchestrator(sim, [ok[0], "charge"])
