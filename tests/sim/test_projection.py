"""The event log and its projection on the virtual clock: lag, rebuilds, snapshots, poison messages, the DLQ."""

from __future__ import annotations

import pytest

from course.sim import Constant, Simulation
from course.sim.data import Broker
from course.sim.data.projection import (EventLog, Projection, ProcessingError, Snapshot, add_amounts,
                                        partition_of)


def fill(sim, log, n, spacing=0.0, key="a", partition=None, start=0.0):
    for i in range(n):
        sim.at(start + i * spacing, log.append, key if partition is None else f"{key}{i}", {"amount": 1}, partition)


def test_log_offsets_partitions_and_stable_keys():
    sim = Simulation(seed=1)
    log = EventLog(sim, partitions=3)
    first = log.append("order-1", {"amount": 2})
    again = log.append("order-1", {"amount": 3})
    assert first.partition == again.partition == partition_of("order-1", 3)
    assert (first.offset, again.offset) == (0, 1)
    assert log.head(first.partition) == 2 and len(log) == 2
    assert log.append("x", partition=2).partition == 2


def test_projection_applies_at_its_rate_and_reports_lag():
    sim = Simulation(seed=1)
    log = EventLog(sim)
    projection = Projection(sim, log, rate=10.0)   # 0.1 s per event
    fill(sim, log, 20)                              # 20 events at t = 0
    sim.run(until=1.0)
    assert projection.lag() == 10                   # 10 applied in the first second
    assert projection.seconds_behind() == pytest.approx(1.0)
    assert projection.state == {"a": 10}
    sim.run()
    assert sim.now() == pytest.approx(2.0) and projection.caught_up() and projection.seconds_behind() == 0
    assert projection.state == {"a": 20}


def test_lag_grows_at_arrival_minus_service_rate():
    sim = Simulation(seed=1)
    log = EventLog(sim)
    projection = Projection(sim, log, rate=5.0)
    fill(sim, log, 200, spacing=0.1)                # 10 events/s against 5/s
    sim.run(until=10.0)
    assert projection.lag() == pytest.approx(50, abs=1)
    assert projection.seconds_behind() == pytest.approx(5.0, abs=0.15)  # the next event was written at ~5 s


def test_rebuild_replays_from_zero_or_from_a_snapshot():
    sim = Simulation(seed=1)
    log = EventLog(sim)
    projection = Projection(sim, log, rate=100.0)
    fill(sim, log, 300)
    sim.run()
    snap = projection.snapshot()
    assert snap.offsets == (300,) and snap.state == {"a": 300}
    fill(sim, log, 100, start=sim.now())
    sim.run()
    state = dict(projection.state)
    started = sim.now()
    projection.rebuild()
    assert projection.state == {} and projection.lag() == 400
    sim.run()
    assert sim.now() - started == pytest.approx(400 / 100) and projection.state == state
    started = sim.now()
    projection.rebuild(snap)
    sim.run()
    assert sim.now() - started == pytest.approx(100 / 100) and projection.state == state
    assert snap.state == {"a": 300}  # the snapshot is a copy


def test_rebuild_abandons_work_in_progress():
    sim = Simulation(seed=1)
    log = EventLog(sim)
    projection = Projection(sim, log, rate=1.0)
    fill(sim, log, 3)
    sim.run(until=1.5)
    projection.rebuild()
    sim.run()
    assert projection.state == {"a": 3} and sim.now() == pytest.approx(4.5)


def poison_log(max_attempts, retry_delay=1.0):
    sim = Simulation(seed=1)
    log = EventLog(sim, partitions=2)
    projection = Projection(sim, log, rate=10.0, max_attempts=max_attempts, retry_delay=retry_delay)
    sim.at(0.0, log.append, "bad", {"poison": True}, 0)
    for i in range(100):                          # 1 event/s on each partition
        sim.at(i + 0.5, log.append, f"p0-{i}", {"amount": 1}, 0)
        sim.at(i + 0.5, log.append, f"p1-{i}", {"amount": 1}, 1)
    return sim, projection


def test_without_a_dlq_a_poison_message_blocks_its_partition_only():
    sim, projection = poison_log(None)
    sim.run(until=50.0)
    assert projection.lag(0) == 51                 # the poison message and all 50 behind it: growing at 1/s
    assert projection.seconds_behind(0) == pytest.approx(50.0)
    assert projection.lag(1) == 0                  # the other partition carries on
    assert projection.dead_letters == [] and projection.attempts_failed > 40


def test_with_a_dlq_the_poison_message_is_parked_after_k_attempts():
    sim, projection = poison_log(3, retry_delay=1.0)
    sim.run(until=50.0)
    [letter] = projection.dead_letters
    assert letter.entry.key == "bad" and letter.attempts == 3
    assert letter.time == pytest.approx(3 * 0.1 + 2 * 1.0)  # k service times and k - 1 retry delays
    assert projection.lag(0) <= 1 and projection.attempts_failed == 3


def test_replaying_the_dlq_after_a_fix():
    sim, projection = poison_log(2)
    sim.run(until=10.0)
    assert projection.replay_dead_letters() == 0 and len(projection.dead_letters) == 1

    def fixed(state, entry):
        if entry.payload.get("poison"):
            state["repaired"] = 1
        else:
            add_amounts(state, entry)
    assert projection.replay_dead_letters(fixed) == 1
    assert projection.dead_letters == [] and projection.state["repaired"] == 1


def test_upcasting_old_events_and_a_tolerant_reader():
    sim = Simulation(seed=1)
    log = EventLog(sim)

    def upcast(payload):                           # v1 called the field "qty"
        if payload.get("version", 1) == 1:
            return {"amount": payload["qty"], "version": 2}
        return payload
    projection = Projection(sim, log, rate=10.0, upcast=upcast)
    log.append("a", {"qty": 2})
    log.append("a", {"amount": 3, "version": 2, "coupon": "NEW-FIELD"})  # an unknown field is ignored
    sim.run()
    assert projection.state == {"a": 5}
    assert log.entry(0, 0).payload == {"qty": 2}   # the stored event is never rewritten


def test_fed_from_a_broker():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.01))
    log = EventLog(sim, partitions=2)
    broker.subscribe("orders", log.on_message)
    projection = Projection(sim, log, rate=100.0)
    for i in range(10):
        broker.publish("orders", {"key": f"o{i % 3}", "amount": 2})
    sim.run()
    assert len(log) == 10 and sum(projection.state.values()) == 20


def test_other_exceptions_are_bugs_and_propagate():
    sim = Simulation(seed=1)
    log = EventLog(sim)

    def broken(state, entry):
        raise KeyError("bug")
    Projection(sim, log, rate=1.0, apply=broken)
    log.append("a")
    with pytest.raises(KeyError):
        sim.run()


def test_processing_error_is_an_exception():
    assert issubclass(ProcessingError, Exception)


@pytest.mark.parametrize("kwargs, words", [
    (dict(rate=0), "rate must be > 0"),
    (dict(rate=1, max_attempts=0), "max_attempts (None retries forever) must be a whole number >= 1"),
    (dict(rate=1, retry_delay=-1), "retry_delay must be >= 0"),
    (dict(rate=1, apply=3), "apply must be callable"),
    (dict(rate=1, upcast="x"), "upcast must be None or callable"),
    (dict(rate=1, service=0.1), "service must be a Latency"),
])
def test_bad_projection_parameters_are_refused_by_name(kwargs, words):
    sim = Simulation(seed=1)
    with pytest.raises(ValueError) as error:
        Projection(sim, EventLog(sim), **kwargs)
    assert words in str(error.value)


def test_bad_log_parameters_are_refused_by_name():
    sim = Simulation(seed=1)
    with pytest.raises(ValueError, match="partitions must be a whole number >= 1"):
        EventLog(sim, partitions=0)
    with pytest.raises(ValueError, match="partition must be a whole number from 0 to 1"):
        EventLog(sim, partitions=2).append("a", partition=2)
    projection = Projection(sim, EventLog(sim, partitions=2), rate=1.0)
    with pytest.raises(ValueError, match="snapshot must be a Snapshot of this log's 2 partitions"):
        projection.rebuild(Snapshot((0,), {}, 0.0))
