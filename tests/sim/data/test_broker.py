"""The broker: delay and reordering, duplicates, redelivery after a crash, partitions."""

from __future__ import annotations

import math

import pytest

from course.sim import Constant, Exponential, Simulation
from course.sim.data import Broker, Crash, CrashPoints, Delivery, Message


def collect(broker, topic="t"):
    seen = []
    broker.subscribe(topic, lambda m: seen.append((broker.sim.now(), m.id, m.payload)))
    return seen


def publish_spaced(sim, broker, n, spacing=0.001, topic="t"):
    for i in range(n):
        sim.at(i * spacing, broker.publish, topic, i)


def test_constant_delay_keeps_publish_order_and_timing():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.2))
    seen = collect(broker)
    publish_spaced(sim, broker, 50)
    sim.run()
    assert [p for _, _, p in seen] == list(range(50))
    assert all(t == pytest.approx(i * 0.001 + 0.2) for i, (t, _, _) in enumerate(seen))


def test_random_delay_reorders_messages_sent_close_together():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Exponential(0.05))
    seen = collect(broker)
    publish_spaced(sim, broker, 200)
    sim.run()
    payloads = [p for _, _, p in seen]
    assert sorted(payloads) == list(range(200))  # all arrive, exactly once
    inversions = sum(1 for a, b in zip(payloads, payloads[1:]) if a > b)
    assert inversions > 20  # 1 ms apart against a 50 ms mean delay: they overtake each other a lot


def test_default_ids_count_per_topic_and_a_given_id_is_kept():
    sim = Simulation(seed=1)
    broker = Broker(sim)
    assert broker.publish("a").id == "a-1"
    assert broker.publish("a").id == "a-2"
    assert broker.publish("b").id == "b-1"
    m = broker.publish("a", {"x": 1}, message_id="order-7")
    assert m == Message("order-7", "a", {"x": 1}, 0.0)
    assert [p.id for p in broker.published] == ["a-1", "a-2", "b-1", "order-7"]


def test_every_subscriber_gets_its_own_copy():
    sim = Simulation(seed=1)
    broker = Broker(sim)
    first, second = collect(broker), collect(broker)
    publish_spaced(sim, broker, 10)
    sim.run()
    assert len(first) == len(second) == 10
    assert len(broker.deliveries) == 20


@pytest.mark.parametrize("p", (0.0, 0.1, 0.5, 1.0))
def test_duplicates_arrive_at_the_configured_rate(p):
    n = 4000
    sim = Simulation(seed=3)
    broker = Broker(sim, duplicate_probability=p)
    seen = collect(broker)
    publish_spaced(sim, broker, n)
    sim.run()
    copies = sum(1 for d in broker.deliveries if d.copy == 1)
    assert len(seen) == n + copies == n + broker.duplicates
    # binomial share: allow 4 standard errors (at most 0.032 for n = 4000)
    tolerance = 4 * math.sqrt(p * (1 - p) / n)
    assert abs(copies / n - p) <= tolerance
    assert {i for _, i, _ in seen} == {f"t-{k}" for k in range(1, n + 1)}


def test_a_crashing_handler_gets_the_message_again_after_the_redelivery_delay():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.1), redelivery_delay=2.0)
    calls = []

    def handler(message):
        calls.append(sim.now())
        if len(calls) < 3:
            raise Crash("consumer_after_apply")

    broker.subscribe("t", handler)
    broker.publish("t", "x")
    sim.run()
    assert calls == pytest.approx([0.1, 2.1, 4.1])
    assert broker.redeliveries == 2
    assert [d.message_id for d in broker.deliveries] == ["t-1"] * 3


def test_random_consumer_crashes_still_deliver_everything_at_least_once():
    sim = Simulation(seed=4)
    broker = Broker(sim, redelivery_delay=0.5)
    crash = CrashPoints(sim.rng("crash:consumer:points"), probability=0.3)
    acked = []

    def handler(message):
        crash.point("before_ack")
        acked.append(message.id)

    broker.subscribe("t", handler)
    publish_spaced(sim, broker, 300)
    sim.run()
    assert sorted(acked) == sorted(m.id for m in broker.published)
    assert broker.redeliveries == crash.crashes["before_ack"] > 50


def test_other_exceptions_propagate_out_of_run():
    sim = Simulation(seed=1)
    broker = Broker(sim)

    def buggy(message):
        raise KeyError("account")

    broker.subscribe("t", buggy)
    broker.publish("t", {})
    with pytest.raises(KeyError):
        sim.run()
    assert broker.redeliveries == 0


def test_a_partition_holds_messages_until_it_ends_then_delivers_them_in_due_order():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.1), partitions=[(1.0, 5.0)])
    seen = collect(broker)
    for t in (0.5, 1.5, 2.0, 4.85, 6.0):
        sim.at(t, broker.publish, "t", t)
    sim.run()
    assert [(round(t, 6), p) for t, _, p in seen] == [(0.6, 0.5), (5.0, 1.5), (5.0, 2.0), (5.0, 4.85), (6.1, 6.0)]


def test_back_to_back_partitions_hold_until_the_last_one_ends():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.1), partitions=[(3.0, 4.0), (1.0, 3.0)])
    seen = collect(broker)
    broker.publish("t", "x")
    sim.at(1.0, broker.publish, "t", "y")
    sim.run()
    assert [(t, p) for t, _, p in seen] == [(pytest.approx(0.1), "x"), (4.0, "y")]


def test_a_redelivery_that_falls_in_a_partition_waits_for_its_end():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.1), redelivery_delay=1.0, partitions=[(0.5, 3.0)])
    calls = []

    def handler(message):
        calls.append(sim.now())
        if len(calls) == 1:
            raise Crash("x")

    broker.subscribe("t", handler)
    broker.publish("t")
    sim.run()
    assert calls == [pytest.approx(0.1), 3.0]


def test_deliveries_are_records_for_plots():
    sim = Simulation(seed=1)
    broker = Broker(sim, delay=Constant(0.25), duplicate_probability=1.0)
    collect(broker)
    broker.publish("t", 1)
    sim.run()
    assert broker.deliveries == [Delivery(0.25, "t", "t-1", 0), Delivery(0.25, "t", "t-1", 1)]
    time, topic, message_id, copy = broker.deliveries[1]
    assert (topic, copy) == ("t", 1)


def test_same_seed_same_deliveries():
    def run(seed):
        sim = Simulation(seed=seed)
        broker = Broker(sim, duplicate_probability=0.2)
        collect(broker)
        publish_spaced(sim, broker, 100)
        sim.run()
        return broker.deliveries
    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize("value", (-0.1, 1.5, float("nan"), "0.5"))
def test_duplicate_probability_outside_0_1_is_refused_by_name(value):
    with pytest.raises(ValueError, match=r"duplicate_probability must be a (probability in \[0, 1\]|number)"):
        Broker(Simulation(), duplicate_probability=value)


@pytest.mark.parametrize("windows, words", [
    ([(5.0, 5.0)], "start < end"),
    ([(6.0, 2.0)], "start < end"),
    ([(1.0,)], "list of \\(start, end\\) windows"),
    ([(-1.0, 2.0)], "partitions start must be >= 0"),
])
def test_bad_partition_windows_are_refused(windows, words):
    with pytest.raises(ValueError, match=words):
        Broker(Simulation(), partitions=windows)


def test_other_settings_are_validated():
    sim = Simulation()
    with pytest.raises(ValueError, match="redelivery_delay must be > 0"):
        Broker(sim, redelivery_delay=0)
    with pytest.raises(ValueError, match="delay must be a Latency"):
        Broker(sim, delay=0.05)
    with pytest.raises(ValueError, match="handler must be callable"):
        Broker(sim).subscribe("t", None)
