"""The reference consumers: the naive one double-applies, the idempotent one does not."""

from __future__ import annotations

import pytest

from course.sim import Constant, Simulation
from course.sim.data import Broker, Crash, CrashPoints, IdempotentConsumer, Message, NaiveConsumer, Store


def message(mid, account="a", amount=5):
    return Message(mid, "credits", {"account": account, "amount": amount}, 0.0)


@pytest.mark.parametrize("cls", (NaiveConsumer, IdempotentConsumer))
def test_both_add_the_amount_to_the_account(cls):
    store = Store(Simulation(), replicas=0)
    consumer = cls(store)
    consumer.handle(message("m1", amount=5))
    consumer.handle(message("m2", amount=-2))
    consumer.handle(message("m3", account="b", amount=1))
    assert store.read("a").value == 3 and store.read("b").value == 1
    assert consumer.applied == 3


def test_naive_applies_a_duplicate_again():
    store = Store(Simulation(), replicas=0)
    consumer = NaiveConsumer(store)
    consumer.handle(message("m1"))
    consumer.handle(message("m1"))
    assert store.read("a").value == 10 and consumer.applied == 2


def test_idempotent_skips_a_duplicate_and_remembers_it_in_the_store():
    store = Store(Simulation(), replicas=0)
    consumer = IdempotentConsumer(store)
    consumer.handle(message("m1"))
    consumer.handle(message("m1"))
    assert store.read("a").value == 5 and consumer.applied == 1 and consumer.skipped == 1
    assert store.read("processed:m1") is not None
    IdempotentConsumer(store).handle(message("m1"))  # a restarted consumer reads the marker from the store
    assert store.read("a").value == 5


def test_a_crash_before_the_commit_loses_the_work_and_the_marker_together():
    store = Store(Simulation(), replicas=0)
    consumer = IdempotentConsumer(store, crash=CrashPoints(at=("consumer_before_commit",)))
    with pytest.raises(Crash):
        consumer.handle(message("m1"))
    assert store.read("a") is None and store.read("processed:m1") is None and consumer.applied == 0


@pytest.mark.parametrize("cls, final, applied", ((NaiveConsumer, 10, 2), (IdempotentConsumer, 5, 1)))
def test_a_crash_after_applying_means_a_redelivery(cls, final, applied):
    sim = Simulation(seed=1)
    store = Store(sim, replicas=0)
    broker = Broker(sim, delay=Constant(0.01), redelivery_delay=0.5)
    crash = CrashPoints()
    consumer = cls(store, crash=crash)
    calls = []

    def handle(m):
        calls.append(sim.now())
        crash.at = frozenset({"consumer_after_apply"}) if len(calls) == 1 else frozenset()
        consumer.handle(m)

    broker.subscribe("credits", handle)
    broker.publish("credits", {"account": "a", "amount": 5})
    sim.run()
    assert calls == pytest.approx([0.01, 0.51])
    assert store.read("a").value == final and consumer.applied == applied


def test_over_a_broker_with_duplicates_only_the_idempotent_one_gets_the_total_right():
    totals = {}
    for cls in (NaiveConsumer, IdempotentConsumer):
        sim = Simulation(seed=7)
        store = Store(sim, replicas=0)
        broker = Broker(sim, duplicate_probability=0.2)
        broker.subscribe("credits", cls(store).handle)
        for i in range(100):
            sim.at(i * 0.01, broker.publish, "credits", {"account": "a", "amount": 1})
        sim.run()
        totals[cls.__name__] = store.read("a").value
    assert totals["IdempotentConsumer"] == 100
    assert totals["NaiveConsumer"] == 100 + broker.duplicates > 100


def test_a_payload_without_an_account_is_a_bug_that_surfaces():
    with pytest.raises(KeyError):
        NaiveConsumer(Store(Simulation(), replicas=0)).handle(Message("m", "t", {"amount": 1}, 0.0))
