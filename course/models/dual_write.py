"""Lesson 05's dual write: an order service saves the order and announces it, and dies in between.

The order service handles ``orders`` requests, one every :data:`SPACING`
seconds. Each one must leave two things behind: the order row in the
service's own :class:`~course.sim.data.Store`, and an ``"order.created"``
event that reaches the downstream consumer (say, the warehouse) over the
:class:`~course.sim.data.Broker`. The service can crash at a crash point
with probability ``crash_probability`` per request. Three ways to write it:

* ``"write_then_publish"``: ``store.write(row)``, crash point
  ``"after_commit"``, ``broker.publish(event)``. A crash leaves a row that
  nobody downstream hears about.
* ``"publish_then_write"``: ``broker.publish(event)``, crash point
  ``"after_publish"``, ``store.write(row)``. A crash leaves an event about an
  order that does not exist.
* ``"outbox"``: the row and an outbox row in one local transaction (with
  the crash point ``"before_commit"`` inside it and ``"after_commit"`` after
  it), and an :class:`~course.sim.data.OutboxRelay` publishing the outbox.
  The relay crashes too (``"relay_after_publish"``, same probability), which
  makes it publish some events twice, never zero times.

An *anomaly* is an order row whose event had not reached the consumer when
the run ended (``drain`` seconds after the last request), or an event the
consumer received for an order with no row. With a crash probability p, both
dual writes are expected to leave p·orders anomalies; the outbox leaves none.
A relay that crashes often falls behind (each round gets about (1 - p)/p rows
out before it dies), so with the outbox the run goes on until the outbox is
empty, for at most :data:`MAX_DRAIN` seconds; ``last_event_at`` says when
the consumer first heard of the last order to reach it. (A relay that crashes on every round, p = 1, never gets past
the first row.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from course.sim import Exponential, Simulation, _validate
from course.sim.data import Broker, Crash, CrashPoints, OutboxRelay, Store

MODES = ("write_then_publish", "publish_then_write", "outbox")
MODE_NAMES = {"write_then_publish": "write, then publish", "publish_then_write": "publish, then write",
              "outbox": "transactional outbox"}
#: Seconds between order requests; the broker's delay; the relay's polling interval.
SPACING = 0.01
BROKER_DELAY = Exponential(0.02)
RELAY_INTERVAL = 0.1
#: Seconds the run goes on after the last request, for events still on their way. With the
#: outbox, the run also goes on (a second at a time, up to MAX_DRAIN) until the relay has
#: emptied the outbox: a crashing relay delays events, and the lesson is that it never loses them.
DRAIN = 5.0
MAX_DRAIN = 600.0
TOPIC = "order.created"


@dataclass
class DualWriteResult:
    """One run: what was written, what arrived, and the anomalies."""

    mode: str
    orders: int
    crash_probability: float
    rows: int                     # order rows in the store at the end
    events_received: int          # distinct orders the consumer heard about
    rows_without_event: list      # order ids
    events_without_row: list      # order ids
    deliveries: int               # events handed to the consumer, duplicates included
    crashes: dict                 # crash point -> count (service and relay)
    last_event_at: float | None = None  # when the consumer first heard of the last order to reach it
    timeline: list = field(default_factory=list, repr=False)  # (order, requested, row_at, event_at or None)

    @property
    def anomalies(self) -> int:
        """Rows without an event plus events without a row."""
        return len(self.rows_without_event) + len(self.events_without_row)

    @property
    def anomaly_rate(self) -> float:
        """Anomalies per order."""
        return self.anomalies / self.orders

    @property
    def duplicate_deliveries(self) -> int:
        """Events the consumer received more than once (the price of at-least-once)."""
        return self.deliveries - self.events_received


def _check(mode, crash_probability, orders, drain) -> None:
    _validate.one_of("mode", mode, MODES)
    _validate.probability("crash_probability", crash_probability)
    _validate.integer_at_least("orders", orders, 1)
    _validate.positive("drain", drain)


def simulate(mode: str = "write_then_publish", crash_probability: float = 0.05, orders: int = 100, seed: int = 1,
             drain: float = DRAIN) -> DualWriteResult:
    """Run the order service once; see the module docstring."""
    _check(mode, crash_probability, orders, drain)
    sim = Simulation(seed=seed)
    store = Store(sim, name="orders", replicas=0)
    broker = Broker(sim, delay=BROKER_DELAY)
    crash = CrashPoints(sim.rng("crash:orders:points"), probability=crash_probability)
    relay_crash = CrashPoints(sim.rng("crash:relay:points"), probability=crash_probability)
    received: dict = {}  # order id -> first arrival time
    deliveries = [0]

    def consume(message):
        deliveries[0] += 1
        received.setdefault(message.payload["order"], sim.now())

    broker.subscribe(TOPIC, consume)

    def place(order: int) -> None:
        key, event, message_id = f"order:{order}", {"order": order}, f"order-{order}"
        try:
            if mode == "write_then_publish":
                store.write(key, "placed")
                crash.point("after_commit")
                broker.publish(TOPIC, event, message_id)
            elif mode == "publish_then_write":
                broker.publish(TOPIC, event, message_id)
                crash.point("after_publish")
                store.write(key, "placed")
            else:
                with store.transaction() as tx:
                    tx.write(key, "placed")
                    tx.append_outbox(TOPIC, event, message_id)
                    crash.point("before_commit")
                crash.point("after_commit")
        except Crash:
            pass  # the service restarts; this request's caller gets an error

    for order in range(orders):
        sim.at(order * SPACING, place, order)
    last = (orders - 1) * SPACING
    if mode == "outbox":
        OutboxRelay(sim, store, broker, interval=RELAY_INTERVAL, crash=relay_crash).start()
    sim.run(until=last + drain)
    if mode == "outbox" and store.outbox_pending():
        while store.outbox_pending() and sim.now() < last + MAX_DRAIN:
            sim.run(until=sim.now() + 1.0)
        sim.run(until=sim.now() + 1.0)  # for the last events published to land

    committed = {}
    for time, key, version in store.commits:
        committed.setdefault(int(key.split(":")[1]), time)
    rows = set(committed)
    heard = set(received)
    timeline = [(o, o * SPACING, committed.get(o), received.get(o)) for o in range(orders)]
    crashes = {**crash.crashes, **relay_crash.crashes}
    return DualWriteResult(mode, orders, crash_probability, len(rows), len(heard), sorted(rows - heard),
                           sorted(heard - rows), deliveries[0], crashes,
                           max(received.values(), default=None), timeline)


@dataclass
class Totals:
    """Anomalies summed over many seeded runs of one setting."""

    mode: str
    crash_probability: float
    runs: int
    orders: int                 # per run
    anomalies: int
    rows_without_event: int
    events_without_row: int
    runs_with_anomaly: int
    duplicate_deliveries: int

    @property
    def anomaly_rate(self) -> float:
        """Anomalies per order, over all runs."""
        return self.anomalies / (self.runs * self.orders)


def run_many(mode: str, crash_probability: float, runs: int = 1000, orders: int = 20, seed: int = 1,
             drain: float = DRAIN) -> Totals:
    """``runs`` independent runs with seeds ``seed``, ``seed + 1``, ...; the anomaly totals."""
    _check(mode, crash_probability, orders, drain)
    _validate.integer_at_least("runs", runs, 1)
    totals = Totals(mode, crash_probability, runs, orders, 0, 0, 0, 0, 0)
    for i in range(runs):
        r = simulate(mode, crash_probability, orders, seed + i, drain)
        totals.anomalies += r.anomalies
        totals.rows_without_event += len(r.rows_without_event)
        totals.events_without_row += len(r.events_without_row)
        totals.runs_with_anomaly += r.anomalies > 0
        totals.duplicate_deliveries += r.duplicate_deliveries
    return totals


def anomaly_curve(probabilities=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5), modes=MODES, orders: int = 200,
                  runs: int = 5, seed: int = 1) -> dict:
    """Anomaly rate against crash probability, for a dashboard.

    Returns ``{"p": array, mode: array of anomaly rates, ...}``; each point
    pools ``runs`` runs of ``orders`` orders. The theory line for both dual
    writes is the diagonal, rate = p.
    """
    for m in modes:
        _validate.one_of("modes", m, MODES)
    p = np.asarray(probabilities, dtype=float)
    curve = {"p": p}
    for m in modes:
        curve[m] = np.array([run_many(m, float(q), runs, orders, seed).anomaly_rate for q in p])
    return curve
