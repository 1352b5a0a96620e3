"""Lesson 05's outbox dashboard: the relay's side of the transactional outbox.

Lesson 04's :mod:`~course.dashboards.dual_write` dashboard counts the
anomalies of a dual write against the outbox. This one looks at the relay:
it can crash too (after publishing a row, before marking it sent), so it
sends some events twice and falls behind, and the warehouse that consumes
the events must cope. :func:`relay_run` is the thin adapter over the data
layer: an order service that crashes right after its commit with
probability ``crash_probability``, writing either the row and then the event
(``"write_then_publish"``) or the row and an outbox row in one transaction
(``"outbox"``); an :class:`~course.sim.data.OutboxRelay` whose own crash
probability is ``relay_crash_probability``; and a warehouse that picks one
item per ``order.created`` event with a naive or an idempotent consumer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import FuncFormatter

from course.models import dual_write
from course.sim import Simulation, _validate
from course.sim.data import Broker, Crash, CrashPoints, IdempotentConsumer, NaiveConsumer, OutboxRelay, Store

from .base import Dashboard

MODES = ("write_then_publish", "outbox")
CONSUMERS = ("naive", "idempotent")
ORDERS = 100
#: With the outbox the run goes on until the outbox is empty, at most this long after the last order (s).
MAX_DRAIN = 120.0
_LOOK = dict(style={"description_width": "190px"}, layout=widgets.Layout(width="400px"))
_SLIDER = dict(continuous_update=False, **_LOOK)
_OK, _DUP, _LOST, _THEORY = "#1d3557", "#f77f00", "#d62828", "#8d99ae"
_NEVER_MS = 3e5


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


class OutboxDashboard(Dashboard):
    """The relay close up: how late each order's event arrived, its repeats, and what the warehouse picked."""

    figsize = (10.0, 5.0)

    def controls(self):
        return {
            "mode": widgets.Dropdown(options=[("write the row, then publish", "write_then_publish"),
                                              ("transactional outbox + relay", "outbox")],
                                     value="outbox", description="The order service", **_LOOK),
            "crash_probability": widgets.FloatSlider(0.1, min=0.0, max=0.5, step=0.01, readout_format=".2f",
                                                     description="P(service dies after commit)", **_SLIDER),
            "relay_crash_probability": widgets.FloatSlider(0.2, min=0.0, max=0.5, step=0.01, readout_format=".2f",
                                                           description="P(relay dies after a publish)", **_SLIDER),
            "consumer": widgets.Dropdown(options=[("naive: picks on every event", "naive"),
                                                  ("idempotent: remembers event ids", "idempotent")],
                                         value="naive", description="Warehouse consumer", **_LOOK),
            "seed": widgets.IntSlider(1, min=1, max=20, description="Seed", **_SLIDER),
        }

    def build_figure(self):
        ax_lag, ax_bar = self.figure.subplots(1, 2, width_ratios=(1.35, 1))
        self.ax_lag, self.ax_bar = ax_lag, ax_bar
        ax_lag.set_yscale("log")
        ax_lag.set_ylim(1, 1e6)
        ax_lag.axhline(_NEVER_MS, color=_LOST, lw=0.8, alpha=0.5)
        (self.dots_first,) = ax_lag.plot([], [], ".", color=_OK, ms=5, label="first delivery")
        (self.dots_repeat,) = ax_lag.plot([], [], "x", color=_DUP, ms=6, mew=1.5, label="a repeat (relay re-sent it)")
        (self.dots_never,) = ax_lag.plot([], [], "s", color=_LOST, ms=5, label="never delivered (top line)")
        (self.rings_died,) = ax_lag.plot([], [], "o", mfc="none", mec="#6a4c93", ms=9, mew=1.2,
                                         label="service died after the commit")
        ax_lag.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "never" if v >= _NEVER_MS else f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax_lag.set_yticks([1, 10, 100, 1000, 10_000, _NEVER_MS])
        ax_lag.set_xlabel("order number")
        ax_lag.set_ylabel("time from commit to the warehouse (ms, log scale)")
        ax_lag.legend(fontsize=8, loc="upper left", ncols=2, bbox_to_anchor=(0.0, 0.93))
        ax_lag.grid(alpha=0.3)
        ax_lag.set_title("", fontsize=10)

        labels = ("rows\ncommitted", "orders\nheard of", "events\ndelivered", "items\npicked")
        x = np.arange(len(labels))
        self.bars = ax_bar.bar(x, np.zeros(len(labels)), color=[_OK, _OK, _DUP, _OK], width=0.6)
        self.bar_texts = [ax_bar.text(i, 0, "", ha="center", va="bottom", fontsize=9) for i in x]
        self.target = ax_bar.axhline(0, color="black", ls="--", lw=1, label="one per committed order")
        ax_bar.set_xticks(x, labels)
        ax_bar.set_xlabel("count over the run")
        ax_bar.set_ylabel("orders, events or items")
        ax_bar.legend(fontsize=8, loc="lower right")
        ax_bar.grid(axis="y", alpha=0.3)
        ax_bar.set_title("", fontsize=10)

    def simulate(self, mode, crash_probability, relay_crash_probability, consumer, seed):
        return relay_run(mode, round(float(crash_probability), 4), round(float(relay_crash_probability), 4),
                         consumer, int(seed))

    def draw(self, r):
        def xy(points):
            return (np.array([p[0] for p in points], dtype=float), np.array([p[1] for p in points], dtype=float))
        self.dots_first.set_data(*xy(r.lag_ms))
        self.dots_repeat.set_data(*xy(r.repeats_ms))
        self.dots_never.set_data(np.asarray(r.never, dtype=float), np.full(len(r.never), _NEVER_MS))
        first = dict(r.lag_ms)
        self.rings_died.set_data(np.asarray(r.died_after, dtype=float),
                                 np.array([first.get(o, _NEVER_MS) for o in r.died_after], dtype=float))
        self.ax_lag.set_xlim(-1, r.orders)
        lags = [lag for _, lag in r.lag_ms]
        slowest = f"; slowest {max(lags) / 1000:,.1f} s" if lags else ""
        name = dual_write.MODE_NAMES[r.mode].capitalize()
        self.ax_lag.set_title(f"{name}: {r.anomalies} anomalies, {r.duplicates} repeats{slowest}", fontsize=10,
                              color=_LOST if r.anomalies else "black")
        values = (r.rows, r.heard, r.deliveries, r.picked)
        for bar, text, value in zip(self.bars, self.bar_texts, values):
            bar.set_height(value)
            text.set(y=value + 1, text=f"{value}")
        self.bars[3].set_color(_LOST if r.picked != r.rows else _OK)
        self.target.set_ydata([r.rows, r.rows])
        self.ax_bar.set_ylim(0, 1.25 * max(values + (1,)))
        over = f"{r.over_picked} extra items picked" if r.over_picked else "one item per order"
        self.ax_bar.set_title(f"{r.consumer.capitalize()} warehouse: {over}", fontsize=10,
                              color=_LOST if r.over_picked else "black")

    def describe(self, r):
        relay = (f" · the relay published <b>{r.relay_publishes}</b> times for {r.rows} rows and died "
                 f"<b>{r.relay_crashes}</b> times" if r.mode == "outbox" else "")
        return (f"{dual_write.MODE_NAMES[r.mode].capitalize()}: the service died after <b>{r.service_crashes}</b> "
                f"of {r.orders} commits · anomalies (rows the warehouse never heard of): <b>{r.anomalies}</b>"
                f"{relay} · repeats delivered: <b>{r.duplicates}</b> · the {r.consumer} warehouse picked "
                f"<b>{r.picked}</b> items for {r.heard} orders")


def outbox_dashboard(**settings) -> OutboxDashboard:
    """Build lesson 05's outbox (relay) dashboard; keyword arguments preset controls (e.g. ``consumer="idempotent"``)."""
    return OutboxDashboard(**settings)
