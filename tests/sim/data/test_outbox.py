"""The outbox relay: publishes committed rows, republishes with the same id after a crash."""

from __future__ import annotations

import pytest

from course.sim import Constant, Simulation
from course.sim.data import Broker, Crash, CrashPoints, OutboxRelay, Store


def setup(crash=None, interval=0.1):
    sim = Simulation(seed=1)
    store = Store(sim, replicas=0)
    broker = Broker(sim, delay=Constant(0.01))
    received = []
    broker.subscribe("order.created", lambda m: received.append((sim.now(), m.id, m.payload)))
    relay = OutboxRelay(sim, store, broker, interval=interval, crash=crash)
    return sim, store, broker, relay, received


def place(store, order_id):
    with store.transaction() as tx:
        tx.write(f"order:{order_id}", "placed")
        tx.append_outbox("order.created", {"order": order_id}, message_id=f"order-{order_id}")


def test_relay_publishes_each_committed_row_once_and_marks_it_sent():
    sim, store, broker, relay, received = setup()
    for i in range(3):
        sim.at(0.05 * i, place, store, i)
    relay.start()
    sim.run(until=1.0)
    assert [i for _, i, _ in received] == ["order-0", "order-1", "order-2"]
    assert store.outbox_pending() == []
    assert relay.published == 3 and relay.crashes == 0
    # the first tick is at 0.1 s, and the broker takes 10 ms
    assert received[0][0] == pytest.approx(0.11)


def test_a_rolled_back_transaction_leaves_nothing_to_publish():
    sim, store, broker, relay, received = setup()

    def crash_mid_transaction():
        with store.transaction() as tx:
            tx.write("order:9", "placed")
            tx.append_outbox("order.created", {"order": 9}, message_id="order-9")
            raise Crash("before_commit")

    with pytest.raises(Crash):
        crash_mid_transaction()
    relay.start()
    sim.run(until=1.0)
    assert received == [] and store.read("order:9") is None


def test_a_crash_after_publish_republishes_the_same_id_next_tick():
    crash = CrashPoints(at=("relay_after_publish",))
    sim, store, broker, relay, received = setup(crash=crash)
    place(store, 1)
    relay.start()
    sim.run(until=0.25)  # two ticks, both crash after publishing
    assert [i for _, i, _ in received] == ["order-1", "order-1"]
    assert len(store.outbox_pending()) == 1 and relay.crashes == 2
    crash.at = frozenset()  # the relay is fixed
    sim.run(until=0.5)
    assert [i for _, i, _ in received] == ["order-1"] * 3
    assert store.outbox_pending() == []


def test_a_crash_stops_the_round_and_the_rest_wait_for_the_next_tick():
    sim = Simulation(seed=2)
    store = Store(sim, replicas=0)
    broker = Broker(sim, delay=Constant(0.01))
    crash = CrashPoints(sim.rng("crash:relay:points"), probability=0.3)
    received = []
    broker.subscribe("order.created", lambda m: received.append(m.id))
    for i in range(200):
        place(store, i)
    relay = OutboxRelay(sim, store, broker, interval=0.1, crash=crash).start()
    sim.run(until=60)
    assert store.outbox_pending() == []
    assert set(received) == {f"order-{i}" for i in range(200)}  # every row, at least once
    assert len(received) == 200 + relay.crashes > 200           # each crash made exactly one duplicate
    assert relay.crashes == crash.crashes["relay_after_publish"]


def test_stop_and_start():
    sim, store, broker, relay, received = setup()
    relay.start()
    assert relay.running
    relay.start()  # starting twice does not double the ticks
    place(store, 1)
    sim.run(until=0.5)
    relay.stop()
    assert not relay.running
    place(store, 2)
    sim.run(until=2.0)
    assert [i for _, i, _ in received] == ["order-1"]
    assert relay.run_once() == 1
    sim.run(until=3.0)
    assert [i for _, i, _ in received] == ["order-1", "order-2"]


def test_interval_must_be_positive():
    sim = Simulation()
    with pytest.raises(ValueError, match="interval must be > 0"):
        OutboxRelay(sim, Store(sim), Broker(sim), interval=0)
