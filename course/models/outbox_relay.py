"""Lesson 05's outbox relay: an order service, its outbox relay and a warehouse, each of which can fail.

Lesson 04's :mod:`~course.models.dual_write` counts the anomalies of a dual
write against the outbox. This one looks at the relay: it can crash too
(after publishing a row, before marking it sent), so it sends some events
twice and falls behind, and the warehouse that consumes the events must cope.
:func:`relay_run` is a thin scenario over the data layer: an order service
that crashes right after its commit with probability ``crash_probability``,
writing either the row and then the event (``"write_then_publish"``) or the
row and an outbox row in one transaction (``"outbox"``); an
:class:`~course.sim.data.OutboxRelay` whose own crash probability is
``relay_crash_probability``; and a warehouse that picks one item per
``order.created`` event with a naive or an idempotent consumer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from course.models import dual_write
from course.sim import Simulation, _validate
from course.sim.data import Broker, Crash, CrashPoints, IdempotentConsumer, NaiveConsumer, OutboxRelay, Store

MODES = ("write_then_publish", "outbox")
CONSUMERS = ("naive", "idempotent")
ORDERS = 100
#: With the outbox the run goes on until the outbox is empty, at most this long after the last order (s).
MAX_DRAIN = 120.0


@dataclass
class RelayRun:
    """One run: rows, events, the relay's work, and what the warehouse did with it."""

    mode: str
    consumer: str
    orders: int
    rows: int                       # order rows committed
    rows_without_event: int         # rows the warehouse never heard about
    events_without_row: int         # always 0 here: the service never publishes before its commit
    deliveries: int                 # events handed to the warehouse, repeats included
    heard: int                      # distinct orders the warehouse heard about
    picked: int                     # items the warehouse picked (should equal heard)
    relay_publishes: int
    relay_crashes: int
    service_crashes: int
    lag_ms: list = field(repr=False, default_factory=list)     # (order, first delivery − commit, ms)
    repeats_ms: list = field(repr=False, default_factory=list)  # (order, repeat delivery − commit, ms)
    never: list = field(repr=False, default_factory=list)       # orders with a row and no event
    died_after: list = field(repr=False, default_factory=list)  # orders whose service died right after the commit

    @property
    def anomalies(self) -> int:
        return self.rows_without_event + self.events_without_row

    @property
    def duplicates(self) -> int:
        """Deliveries beyond the first per order: the price of at least once."""
        return self.deliveries - self.heard

    @property
    def over_picked(self) -> int:
        """Items picked beyond one per order heard of."""
        return self.picked - self.heard


def _check(mode, consumer, crash_probability, relay_crash_probability, seed, orders) -> None:
    _validate.one_of("mode", mode, MODES)
    _validate.one_of("consumer", consumer, CONSUMERS)
    _validate.probability("crash_probability", crash_probability)
    _validate.probability("relay_crash_probability", relay_crash_probability)
    if relay_crash_probability == 1:
        raise ValueError("relay_crash_probability must be below 1: a relay that crashes after every publish never "
                         "marks a row sent, so the outbox never empties; got 1")
    _validate.integer_at_least("seed", seed, 0)
    _validate.integer_at_least("orders", orders, 1)


@lru_cache(maxsize=256)
def relay_run(mode: str = "outbox", crash_probability: float = 0.1, relay_crash_probability: float = 0.2,
              consumer: str = "naive", seed: int = 1, orders: int = ORDERS) -> RelayRun:
    """Run the order service, the relay and the warehouse once; see the module docstring."""
    _check(mode, consumer, crash_probability, relay_crash_probability, seed, orders)
    sim = Simulation(seed=seed)
    store = Store(sim, name="orders", replicas=0)
    broker = Broker(sim, delay=dual_write.BROKER_DELAY)
    warehouse_db = Store(sim, name="warehouse", replicas=0)
    warehouse = (NaiveConsumer if consumer == "naive" else IdempotentConsumer)(warehouse_db)
    crash = CrashPoints(sim.rng("crash:orders:points"), probability=crash_probability)
    relay_crash = CrashPoints(sim.rng("crash:relay:points"), probability=relay_crash_probability)
    committed: dict = {}
    arrivals: dict = {}
    died_after: list = []

    def consume(message):
        arrivals.setdefault(message.payload["order"], []).append(sim.now())
        warehouse.handle(message)

    broker.subscribe(dual_write.TOPIC, consume)

    def place(order: int) -> None:
        key, message_id = f"order:{order}", f"order-{order}"
        event = {"order": order, "account": "picked", "amount": 1}
        try:
            if mode == "write_then_publish":
                store.write(key, "placed")
                committed[order] = sim.now()
                crash.point("after_commit")
                broker.publish(dual_write.TOPIC, event, message_id)
            else:
                with store.transaction() as tx:
                    tx.write(key, "placed")
                    tx.append_outbox(dual_write.TOPIC, event, message_id)
                committed[order] = sim.now()
                crash.point("after_commit")
        except Crash:
            died_after.append(order)  # the service restarts; whatever it had not done is not done

    for order in range(orders):
        sim.at(order * dual_write.SPACING, place, order)
    relay = None
    if mode == "outbox":
        relay = OutboxRelay(sim, store, broker, interval=dual_write.RELAY_INTERVAL, crash=relay_crash).start()
    last = (orders - 1) * dual_write.SPACING
    sim.run(until=last + dual_write.DRAIN)
    while mode == "outbox" and store.outbox_pending() and sim.now() < last + MAX_DRAIN:
        sim.run(until=sim.now() + 1.0)
    sim.run(until=sim.now() + 1.0)

    lag, repeats, never = [], [], []
    for order, at in committed.items():
        times = arrivals.get(order)
        if not times:
            never.append(order)
            continue
        lag.append((order, 1000 * (times[0] - at)))
        repeats.extend((order, 1000 * (t - at)) for t in times[1:])
    picked = warehouse_db.read("picked")
    return RelayRun(mode, consumer, orders, len(committed), len(never), len(set(arrivals) - set(committed)),
                    sum(len(t) for t in arrivals.values()), len(arrivals), 0 if picked is None else picked.value,
                    0 if relay is None else relay.published, 0 if relay is None else relay.crashes,
                    sum(crash.crashes.values()), lag, repeats, never, died_after)
