"""Services, faults, server-side shedding, and load generators."""

import numpy as np
import pytest

from course.sim import (Call, Client, ClosedLoop, Constant, Dependency, Direct, Down, Empirical, Errors, Exponential,
                        FaultSchedule, LogNormal, OpenLoop, Outcome, Pareto, RateSchedule, Service, Simulation, Slow,
                        Timeout)
from course.sim.streams import RandomStreams


def test_a_caller_holds_its_worker_while_waiting_on_a_dependency():
    sim = Simulation()
    b = Service(sim, "B", 10, Constant(1.0))
    a = Service(sim, "A", 1, Constant(0.0), calls=[Dependency(Client(sim, b))])
    for i in range(3):
        sim.at(0.0, a.submit, Call(i), lambda outcome: None)
    sim.run()
    r = a.records()
    assert r["end"].tolist() == pytest.approx([1.0, 2.0, 3.0])  # A's single thread waits on B each time
    assert a.busy_series.time_average(3.0) == pytest.approx(1.0)


def test_dependency_probability_sets_the_route_share():
    sim = Simulation(seed=4)
    b = Service(sim, "B", 100, Constant(0.001))
    a = Service(sim, "A", 100, Constant(0.001), calls=[Dependency(Client(sim, b), 0.3)])
    OpenLoop(sim, Direct(a), rate=200, until=50)
    sim.run()
    share = (a.records()["route"] & 1).mean()
    assert share == pytest.approx(0.3, abs=0.02)
    assert len(b.records()["root"]) == (a.records()["route"] & 1).sum()


def test_fault_schedule_slow_down_and_errors():
    sim = Simulation(seed=1)
    faults = FaultSchedule(Slow(10, 20, factor=4), Down(30, 40), Errors(0.25, 50, 60))
    s = Service(sim, "S", 1000, Constant(0.1), faults=faults)
    OpenLoop(sim, Direct(s), rate=100, until=70)
    sim.run()
    r = s.records()
    latency = r["end"] - r["arrival"]
    phase = lambda lo, hi: (r["arrival"] >= lo) & (r["arrival"] < hi)
    assert np.allclose(latency[phase(0, 10)], 0.1)
    assert np.allclose(latency[phase(10, 20)], 0.4)
    assert np.all(r["outcome"][phase(30, 40)] == Outcome.ERROR)
    assert np.all(latency[phase(30, 40)] < 0.01)  # refused at once
    assert np.mean(r["outcome"][phase(50.5, 59.5)] == Outcome.ERROR) == pytest.approx(0.25, abs=0.04)


def test_hanging_service_never_answers():
    sim = Simulation()
    s = Service(sim, "S", 1, Constant(0.1), faults=FaultSchedule(Down(0, 5, mode="hang")))
    seen = []
    sim.at(1.0, s.submit, Call(0), seen.append)
    sim.run()
    assert seen == [] and np.isnan(s.records()["end"][0])


def test_bounded_queue_rejects_on_arrival():
    sim = Simulation()
    s = Service(sim, "S", 1, Constant(1.0), queue_limit=2)
    seen = []
    for i in range(5):
        sim.at(0.0, s.submit, Call(i), seen.append)
    sim.run()
    assert seen.count(Outcome.REJECTED) == 2 and seen.count(Outcome.OK) == 3


def test_shedding_by_queue_wait_and_expired_deadlines():
    sim = Simulation()
    s = Service(sim, "S", 1, Constant(1.0), max_queue_wait=1.5)
    seen = {}
    for i in range(4):
        sim.at(0.0, s.submit, Call(i), lambda o, i=i: seen.setdefault(i, (o, sim.now())))
    sim.run()
    assert seen[0] == (Outcome.OK, 1.0) and seen[1] == (Outcome.OK, 2.0)
    assert seen[2] == (Outcome.REJECTED, 2.0) and seen[3] == (Outcome.REJECTED, 2.0)

    sim = Simulation()
    s = Service(sim, "S", 1, Constant(1.0), drop_expired=True)
    seen = {}
    sim.at(0.0, s.submit, Call(0, deadline=5.0), lambda o: seen.setdefault(0, o))
    sim.at(0.0, s.submit, Call(1, deadline=0.5), lambda o: seen.setdefault(1, o))
    sim.at(0.0, s.submit, Call(2, deadline=5.0), lambda o: seen.setdefault(2, o))
    sim.run()
    assert seen == {0: Outcome.OK, 1: Outcome.REJECTED, 2: Outcome.OK}


def test_abandoned_work_still_occupies_the_server():
    # A timed-out caller does not cancel the server's work: that wasted work is what feeds retry storms.
    sim = Simulation()
    b = Service(sim, "B", 1, Constant(1.0))
    client = Client(sim, b, [Timeout(0.1)])
    outcomes = []
    for i in range(3):
        sim.at(0.0, client.call, Call(i), outcomes.append)
    sim.run()
    assert outcomes == [Outcome.TIMEOUT] * 3
    assert b.records()["end"].tolist() == pytest.approx([1.0, 2.0, 3.0])


def test_closed_loop_obeys_the_interactive_response_time_law():
    # X = N / (R + Z): throughput of N users with response time R and think time Z.
    sim = Simulation(seed=2)
    s = Service(sim, "S", 2, Exponential(0.05))
    users = ClosedLoop(sim, Direct(s), 20, think=0.5, until=400)
    sim.run()
    r = users.records()
    done = np.isfinite(r["end"])
    response = (r["end"] - r["start"])[done].mean()
    throughput = done.sum() / 400
    assert throughput == pytest.approx(20 / (response + 0.5), rel=0.03)


def test_rate_schedule_changes_the_arrival_rate():
    sim = Simulation(seed=5)
    s = Service(sim, "S", 1000, Constant(0.001))
    OpenLoop(sim, Direct(s), RateSchedule([(0, 50), (100, 200)]), until=200)
    sim.run()
    arrivals = s.records()["arrival"]
    assert np.sum(arrivals < 100) == pytest.approx(5000, rel=0.05)
    assert np.sum(arrivals >= 100) == pytest.approx(20000, rel=0.03)


@pytest.mark.parametrize("latency", [Constant(0.2), Exponential(0.2), LogNormal(0.1, 0.8), Pareto(0.05, 2.5),
                                     Empirical([0.1, 0.2, 0.3, 0.4])])
def test_latency_distributions_match_their_stated_mean(latency):
    stream = RandomStreams(3).stream("x")
    draws = np.array([latency.sample(stream) for _ in range(100_000)])
    assert draws.mean() == pytest.approx(latency.mean, rel=0.03)


def test_lognormal_is_set_by_median_and_p99():
    latency = LogNormal(0.05, 0.5)
    stream = RandomStreams(1).stream("x")
    draws = np.array([latency.sample(stream) for _ in range(200_000)])
    assert np.quantile(draws, 0.5) == pytest.approx(0.05, rel=0.02)
    assert np.quantile(draws, 0.99) == pytest.approx(0.5, rel=0.05)


def test_named_streams_are_independent_of_creation_order():
    a = RandomStreams(7)
    first = [a.stream("one").random() for _ in range(3)]
    b = RandomStreams(7)
    b.stream("two").random()
    assert [b.stream("one").random() for _ in range(3)] == first


def test_engine_runs_in_time_order_and_cancels():
    sim = Simulation()
    seen = []
    sim.schedule(2.0, seen.append, "b")
    sim.schedule(1.0, seen.append, "a")
    handle = sim.schedule(1.5, seen.append, "cancelled")
    sim.schedule(1.0, seen.append, "a2")
    sim.cancel(handle)
    assert sim.run(until=1.5) == 1.5
    assert seen == ["a", "a2"]
    sim.run()
    assert seen == ["a", "a2", "b"] and sim.now() == 2.0


@pytest.mark.parametrize("build, name", [
    (lambda sim: Service(sim, "S", 0, Constant(1)), "workers"),
    (lambda sim: Service(sim, "S", 1, Constant(1), queue_limit=-1), "queue_limit"),
    (lambda sim: OpenLoop(sim, None, rate=-1, until=10), "rate"),
    (lambda sim: OpenLoop(sim, None, rate=1, until=0), "until"),
    (lambda sim: Timeout(0), "seconds"),
    (lambda sim: Errors(1.5), "rate"),
    (lambda sim: Exponential(-1), "mean"),
    (lambda sim: LogNormal(0.1, 0.05), "p99"),
    (lambda sim: Slow(0, 10, factor=0.5), "factor"),
    (lambda sim: Down(0, 10, mode="sideways"), "mode"),
    (lambda sim: Dependency(None, 2.0), "probability"),
    (lambda sim: sim.schedule(-1, print), "delay"),
    (lambda sim: ClosedLoop(sim, None, 0, until=10), "users"),
])
def test_invalid_parameters_name_the_parameter(build, name):
    with pytest.raises(ValueError, match=name):
        build(Simulation())


def test_fanout_waits_for_the_slowest_of_its_parallel_calls():
    sim = Simulation()
    leaf = Service(sim, "leaf", 10, Constant(0.1), faults=FaultSchedule(Slow(0.5, 0.6, factor=5)))
    root = Service(sim, "root", 1, Constant(0.0), calls=[Dependency(Client(sim, leaf), fanout=4)])
    seen = []
    sim.at(0.0, root.submit, Call(0), lambda o: seen.append((o, sim.now())))
    sim.run()
    assert seen == [(Outcome.OK, pytest.approx(0.1))]
    assert len(leaf.records()["root"]) == 4 and np.all(leaf.records()["arrival"] == 0.0)


def test_fanout_fails_when_any_call_fails_but_only_after_all_answer():
    sim = Simulation(seed=1)
    leaf = Service(sim, "leaf", 100, Exponential(0.01), faults=FaultSchedule(Errors(0.5)))
    root = Service(sim, "root", 10, Constant(0.0), calls=[Dependency(Client(sim, leaf), fanout=10)])
    OpenLoop(sim, Direct(root), rate=20, until=10)
    sim.run()
    r, leaves = root.records(), leaf.records()
    assert np.all(r["outcome"] == Outcome.ERROR)  # 1 - 0.5**10: all but surely one of ten fails
    for root_id, end in zip(r["root"], r["end"]):
        assert end == pytest.approx(leaves["end"][leaves["root"] == root_id].max())


def test_a_service_can_tell_callers_not_to_retry_what_it_already_retried():
    from course.sim import Backoff, Retry
    sim = Simulation()
    bottom = Service(sim, "bottom", 10, Constant(0.01), faults=FaultSchedule(Errors(1.0)))
    middle = Service(sim, "middle", 10, Constant(0.0), dependency_failure=Outcome.NO_RETRY,
                     calls=[Dependency(Client(sim, bottom, [Retry(3, Backoff("none"))]))])
    top = Client(sim, middle, [Retry(3, Backoff("none"))])
    outcomes = []
    sim.at(0.0, top.call, Call(0), outcomes.append)
    sim.run()
    assert outcomes == [Outcome.NO_RETRY]
    assert len(bottom.records()["root"]) == 3  # not 9: the top did not retry
    with pytest.raises(ValueError, match="dependency_failure"):
        Service(sim, "x", 1, Constant(0.1), dependency_failure=Outcome.TIMEOUT)
