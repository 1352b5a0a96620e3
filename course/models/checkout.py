"""Lesson 09: a learner's checkout design, run under the interviewer's scenarios.

Shoppers press "buy" about :data:`RATE` times a second (Poisson). Each
checkout is one order for one widget at :data:`PRICE`, over three services:

* **orders** (:data:`ORDERS_WORKERS` threads) takes the request. Every
  synchronous step at the front of the order is called from an orders
  thread, which it holds until the answer comes (lesson 01's cascade); the
  shopper is answered when those calls are done, or at once if the first
  step is a message. The rest of the order continues in the background.
* **inventory** reserves the widget: it refuses (``FATAL``) when stock is
  out, and takes one from ``stock:widget`` in a :class:`~course.sim.data.Store`
  whose :class:`~course.sim.data.History` the stock checker reads.
* **payments** charges the card. It is a provider with a small concurrency
  limit (:data:`PAYMENTS_WORKERS`), the usual bottleneck.

The business effect happens on the server, when a call finishes there,
whether or not the caller was still waiting: a charge whose answer came
after the caller's timeout still took the money. With idempotency keys
(the order id) a repeated reserve or charge is recognised and skipped, and a
compensating refund cancels the key, so a charge still in flight is refused
when it lands. Without keys every attempt that reaches the server acts, and
a refund can only undo a charge the orchestrator saw succeed.

A message edge is a command on a :class:`~course.sim.data.Broker`; its
consumer takes messages as the service has free workers (they wait in the
broker meanwhile) and hands each to the service. A message the service failed to
handle, or did not finish within :data:`ACK_DEADLINE`, is delivered again
later, until it is handled (backing off: :data:`REDELIVERY_DELAY` doubling up
to :data:`MAX_REDELIVERY_DELAY`). A fallback turns the step into a message for later: inventory's
("assume it is in stock") takes the widget later whatever the stock says,
payments' ("take the order, charge later") charges it later.

When every step is done the order is written as confirmed and the
"order confirmed" event goes to shipping. With ``events="dual_write"`` the
event is a second write after the first, and a crash between them
(:data:`CRASH_POINT`) loses it: the order is paid and never ships. With
``"outbox"`` the event is committed with the order and an
:class:`~course.sim.data.OutboxRelay` publishes it. An order is *completed*
when shipping has it.

Under ``"2pc"`` inventory is the coordinator's first participant: it locks
the stock row (one worker) and holds the lock while payments votes, and
both effects apply together at the commit. When the coordinator crashes
after the votes the participants stay locked, in doubt, for
:data:`COORDINATOR_RECOVERY` seconds.

:func:`run` returns a :class:`ScenarioResult` per scenario: what the business
sees, judged by the course's checkers.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from course.sim import (Backoff, CircuitBreaker, Client, Constant, Dependency, Down, Fallback, FaultSchedule,
                        LogNormal, Outcome, RateSchedule, Retry, RetryBudget, Service, Simulation, Slow, Timeout,
                        _validate)
from course.sim.data import Broker, History, OutboxRelay, Store
from course.sim.data.checkers import check_money_conserved, check_stock_never_negative
from course.sim.data.crash import Crash, CrashPoints
from course.sim.latency import Bimodal, Exponential
from course.sim.service import Call

from .checkout_design import Design

RATE = 0.5
PRICE = 10
#: How long a shopper waits on the "buy" button before giving up, in seconds.
PATIENCE = 30.0
ORDERS_WORKERS = 8
ORDERS_LATENCY = LogNormal(0.01, 0.05)
INVENTORY_WORKERS = 8
INVENTORY_LATENCY = LogNormal(0.02, 0.1)
PAYMENTS_WORKERS = 1
PAYMENTS_LATENCY = LogNormal(0.7, 2.0)
BROKER_DELAY = Exponential(0.05)
#: A message its consumer failed to handle comes back after 5 s, then 10 s, 20 s... at most a minute.
REDELIVERY_DELAY = 5.0
MAX_REDELIVERY_DELAY = 60.0
#: A message whose handling has not finished this long after delivery is delivered again (a visibility
#: timeout: SQS's default is 30 s).
ACK_DEADLINE = 30.0
RELAY_INTERVAL = 1.0
CRASH_POINT = "after_order_write"
COORDINATOR_RECOVERY = 30.0
STOCK_KEY = "stock:widget"
#: Plenty of stock, except in the inventory-down scenario.
AMPLE_STOCK = 10**6
#: A scenario passes when at least this share of checkouts succeed, p99 stays under PASS_P99 seconds, and
#: nothing is charged twice, oversold, stuck or unbalanced.
PASS_SUCCESS = 0.95
PASS_P99 = 5.0
STEPS = ("inventory", "payments")


@dataclass(frozen=True)
class Scenario:
    """One of the interviewer's "what if" questions, as a fault over a run of checkouts."""

    key: str
    title: str
    question: str
    arrivals_until: float
    run_until: float
    #: (start, end) of the trouble, for plots.
    window: tuple[float, float]
    rate: object = RATE
    payments_faults: tuple = ()
    inventory_faults: tuple = ()
    stock: int = AMPLE_STOCK
    duplicate_probability: float = 0.0
    broker_delay: object = BROKER_DELAY
    crash_probability: float = 0.0


SCENARIOS = {s.key: s for s in (
    Scenario("payments_slow", "Payments slow for 10 minutes",
             "The payment provider is ten times slower for ten minutes.",
             arrivals_until=1020, run_until=1380, window=(60, 660), payments_faults=(Slow(60, 660, factor=10),)),
    Scenario("inventory_down", "Inventory hangs for 5 minutes",
             "Inventory stops answering for five minutes (calls hang), and only 150 widgets are left.",
             arrivals_until=480, run_until=720, window=(60, 360), inventory_faults=(Down(60, 360, mode="hang"),),
             stock=150),
    Scenario("broker_chaos", "Broker duplicates and reorders",
             "The broker delivers one message in five twice, with delays wide enough to swap their order.",
             arrivals_until=240, run_until=420, window=(0, 240), duplicate_probability=0.2,
             broker_delay=Exponential(2.0)),
    Scenario("crash_after_write", "Crash after the order write",
             "The orders service crashes after one order in twenty is written, before anything else happens.",
             arrivals_until=240, run_until=420, window=(0, 240), crash_probability=0.05),
    Scenario("traffic_spike", "Traffic spike at 3x",
             "Traffic triples for two minutes.",
             arrivals_until=420, run_until=720, window=(60, 180),
             rate=RateSchedule([(0, RATE), (60, 3 * RATE), (180, RATE)])),
)}


@dataclass
class ScenarioResult:
    """What the business saw in one scenario.

    ``success_rate`` is the share of checkouts (those refused as sold out
    left out) whose shopper was told "order placed" within :data:`PATIENCE`
    and whose order was completed by the end. ``p99`` is the 99th percentile
    of the shopper's wait for an answer (a shopper who gave up counts as
    :data:`PATIENCE`). ``stuck`` orders were neither completed nor cleanly
    failed by the end; ``compensated`` were undone after a later step failed;
    ``double_charged`` orders were charged more than once (net of refunds);
    ``oversold`` widgets were promised with none in stock (from
    :func:`~course.sim.data.checkers.check_stock_never_negative`);
    ``money_gap`` is what :func:`~course.sim.data.checkers.check_money_conserved`
    finds over the shoppers' money plus the goods they received at price
    (negative: shoppers paid for goods they never got).
    """

    scenario: str
    checkouts: int
    sold_out: int
    succeeded: int
    success_rate: float
    p99: float
    stuck: int
    compensated: int
    double_charged: int
    oversold: int
    money_gap: float
    #: The 99th percentile of the time from "buy" to shipping having the order, over completed orders (seconds).
    p99_to_ship: float = math.nan
    #: Per checkout: arrival time, whether it succeeded, whether it was refused as sold out, the shopper's wait.
    arrivals: np.ndarray = field(repr=False, default=None)
    success: np.ndarray = field(repr=False, default=None)
    sold_out_mask: np.ndarray = field(repr=False, default=None)
    waits: np.ndarray = field(repr=False, default=None)

    @property
    def problems(self) -> list[str]:
        """Why this scenario failed, in words; empty when it passed."""
        out = []
        if self.success_rate < PASS_SUCCESS:
            out.append(f"only {self.success_rate:.0%} of checkouts succeeded")
        if self.p99 > PASS_P99:
            out.append(f"p99 wait {self.p99:.1f} s")
        for count, noun, what in ((self.double_charged, "order", "charged twice"),
                                  (self.oversold, "widget", "oversold"), (self.stuck, "order", "stuck")):
            if count:
                out.append(f"{count} {noun}{'' if count == 1 else 's'} {what}")
        if self.money_gap:
            out.append(f"money not conserved ({self.money_gap:+,.0f})")
        return out

    @property
    def passed(self) -> bool:
        return not self.problems


class _Order:
    __slots__ = ("root", "arrived", "answered", "placed", "state", "step", "fell_back", "shipped")

    def __init__(self, root: int, arrived: float):
        self.root = root
        self.arrived = arrived
        self.answered = math.nan
        self.placed = False       # the shopper was told "order placed"
        self.state = "pending"    # pending, sold_out, failed, compensated, confirmed, completed
        self.step = 0             # the next step to run in the background
        self.fell_back: set = set()
        self.shipped = math.nan   # when shipping got the order


class _Effected:
    """A service whose successful calls also do the business effect: ``effect(root)`` returns OK or FATAL."""

    def __init__(self, service: Service, effect):
        self.service = service
        self.name = service.name
        self.effect = effect

    def submit(self, call: Call, on_done) -> None:
        self.service.submit(call, lambda outcome: on_done(self.effect(call.root) if outcome == Outcome.OK
                                                          else outcome))


class _Step:
    """A step the orders service calls while holding its thread; tells the checkout how it went."""

    def __init__(self, checkout, name: str, client: Client):
        self.checkout = checkout
        self.name = name
        self.client = client

    def call(self, call: Call, done) -> None:
        self.client.call(call, lambda outcome: self.checkout._front_step(self.name, call.root, outcome, done))


class _Checkout:
    """One scenario's simulation of one design."""

    def __init__(self, design: Design, scenario: Scenario, seed: int):
        self.design = design.effective
        self.scenario = scenario
        self.sim = sim = Simulation(seed=seed)
        self.keys = design.idempotency_keys
        self.history = History(sim)
        self.store = Store(sim, name="inventory", replicas=0, history=self.history)
        self.order_store = Store(sim, name="orders", replicas=0)
        self.store.write(STOCK_KEY, scenario.stock, process="inventory")
        self.orders: dict[int, _Order] = {}
        self.reserved = Counter()     # widgets taken per order
        self.charged = Counter()      # net charges per order
        self.cancelled: set = set()   # idempotency keys cancelled by a refund
        self.shipped: set = set()
        self.crash = CrashPoints(sim.rng("crash:orders"), scenario.crash_probability)
        self.broker = Broker(sim, delay=scenario.broker_delay, duplicate_probability=scenario.duplicate_probability,
                             redelivery_delay=REDELIVERY_DELAY)
        self.broker.subscribe("order.confirmed", self._ship)
        self.inbox = {name: deque() for name in STEPS}
        self.in_flight = {name: 0 for name in STEPS}
        for name in STEPS:
            self.broker.subscribe(f"{name}.command", lambda m, name=name: self._consume(name, m))
            self.broker.subscribe(f"{name}.done", self._reply)
        self.relay = OutboxRelay(sim, self.order_store, self.broker, interval=RELAY_INTERVAL).start() \
            if self.design.events == "outbox" else None
        two_pc = self.design.transaction == "2pc"
        payments = Service(sim, "payments", PAYMENTS_WORKERS, PAYMENTS_LATENCY,
                           faults=FaultSchedule(*scenario.payments_faults))
        inventory_latency = INVENTORY_LATENCY
        if two_pc and scenario.crash_probability:
            inventory_latency = Bimodal(INVENTORY_LATENCY, Constant(COORDINATOR_RECOVERY), scenario.crash_probability)
        inventory = Service(sim, "inventory", 1 if two_pc else INVENTORY_WORKERS, inventory_latency,
                            faults=FaultSchedule(*scenario.inventory_faults))
        self.services = {"inventory": inventory, "payments": payments}
        self.targets = {"inventory": _Effected(inventory, self._reserve), "payments": _Effected(payments, self._charge)}
        if two_pc:
            # The stock row stays locked (inventory's one worker held) while payments votes; both commit together.
            inventory.calls = [Dependency(self._client("payments", payments))]
            self.targets["inventory"] = _Effected(inventory, self._commit_both)
            self.clients = {"inventory": self._client("inventory", self.targets["inventory"])}
            leading = ["inventory"]
        else:
            self.clients = {name: self._client(name, self.targets[name]) for name in STEPS}
            leading = []
            for name in STEPS:
                if not self.design.edge(name).is_sync:
                    break
                leading.append(name)
        self.leading = leading
        self.front = Service(sim, "orders", ORDERS_WORKERS, ORDERS_LATENCY,
                             calls=[Dependency(_Step(self, name, self.clients[name])) for name in leading])
        from course.sim import OpenLoop  # noqa: E402 - kept beside its one use
        self.load = OpenLoop(sim, self, scenario.rate, until=scenario.arrivals_until, name="shoppers")

    # -- the policies of one edge ------------------------------------------------------------------

    def _client(self, name: str, target) -> Client:
        edge = self.design.edge(name)
        policies = []
        if edge.fallback:
            policies.append(Fallback())
        if edge.retries:
            budget = RetryBudget(self.sim, ratio=0.1, window=10.0, min_per_second=0.1) if edge.retry_budget else None
            policies.append(Retry(max_attempts=edge.retries + 1, backoff=Backoff("full_jitter", 0.1, 2.0),
                                  budget=budget))
        if edge.breaker:
            policies.append(CircuitBreaker(self.sim, failure_rate_threshold=0.5, window_type="count",
                                           window_size=20, minimum_calls=10, open_wait=10.0, half_open_calls=2))
        if edge.timeout is not None:
            policies.append(Timeout(edge.timeout))
        return Client(self.sim, target, policies, name=f"orders-to-{name}")

    # -- the shopper's request ---------------------------------------------------------------------

    def call(self, call: Call, done) -> None:
        """The load's entry point: one shopper presses "buy"."""
        order = self.orders[call.root] = _Order(call.root, self.sim.now())
        self.front.submit(call, lambda outcome: self._answered(order, outcome, done))

    def _front_step(self, name: str, root: int, outcome, done) -> None:
        order = self.orders[root]
        if outcome == Outcome.FALLBACK:
            order.fell_back.add(name)
        if outcome == Outcome.FATAL:
            order.state = "sold_out"
        done(outcome)

    def _answered(self, order: _Order, outcome, done) -> None:
        order.answered = self.sim.now()
        done(outcome)
        if outcome.is_success:
            order.placed = True
            order.step = len(self.leading) if self.design.transaction != "2pc" else len(STEPS)
            self._advance(order)
        elif order.state != "sold_out":
            self._undo(order)

    # -- the rest of the order, in the background -------------------------------------------------------

    def _advance(self, order: _Order) -> None:
        for name in sorted(order.fell_back):
            self.broker.publish(f"{name}.command", {"root": order.root, "later": True})
        order.fell_back.clear()
        if order.step >= len(STEPS):
            self._confirm(order)
            return
        name = STEPS[order.step]
        if self.design.edge(name).is_sync:
            self.clients[name].call(Call(order.root), lambda outcome: self._background_step(order, name, outcome))
        else:
            self.broker.publish(f"{name}.command", {"root": order.root, "step": order.step})

    def _background_step(self, order: _Order, name: str, outcome) -> None:
        if outcome == Outcome.FALLBACK:
            order.fell_back.add(name)
        if outcome.is_success:
            order.step += 1
            self._advance(order)
        elif outcome == Outcome.FATAL:
            order.state = "sold_out"
            self._undo(order, refused=True)
        else:
            self._undo(order)

    def _consume(self, name: str, message, attempt: int = 0) -> None:
        """A consumer of ``<name>.command`` takes the message when it has a free slot (see :meth:`_pull`)."""
        self.inbox[name].append((message, attempt))
        self._pull(name)

    def _pull(self, name: str) -> None:
        """Hand waiting messages to the service, as many at once as it has workers (the consumer's prefetch)."""
        inbox = self.inbox[name]
        while inbox and self.in_flight[name] < self.services[name].workers:
            self.in_flight[name] += 1
            self._handle(name, *inbox.popleft())

    def _handle(self, name: str, message, attempt: int) -> None:
        """Hand one message to the service and acknowledge the answer.

        A failed attempt comes back later, backing off. So does one that is not answered within
        :data:`ACK_DEADLINE` (a broker's visibility timeout): if the service answers after all, its work is
        done twice unless the work is idempotent.
        """
        payload = message.payload
        root = payload["root"]
        sim = self.sim
        pending = [None]  # the acknowledgement deadline's timer; None once this delivery is settled

        def settle():
            pending[0] = None
            self.in_flight[name] -= 1
            self._pull(name)

        def again():
            delay = min(REDELIVERY_DELAY * 2 ** attempt, MAX_REDELIVERY_DELAY)
            sim.schedule(delay, self._consume, name, message, attempt + 1)

        def expired():
            settle()
            again()

        def answered(outcome):
            if outcome == Outcome.OK:
                outcome = effect(root)  # the service did the work, whether or not anyone still waits for it
            if pending[0] is None:
                return
            sim.cancel(pending[0])
            settle()
            if outcome == Outcome.OK or outcome == Outcome.FATAL:
                if "step" in payload:
                    self.broker.publish(f"{name}.done", {**payload, "ok": outcome == Outcome.OK})
            else:
                again()

        effect = self.targets[name].effect
        if payload.get("later"):  # a fallback's deferred work: the promise was made, so it happens regardless
            effect = self._take_anyway if name == "inventory" else self._charge
        pending[0] = sim.schedule(ACK_DEADLINE, expired)
        self.services[name].submit(Call(root), answered)

    def _reply(self, message) -> None:
        order = self.orders[message.payload["root"]]
        if order.state != "pending":
            return
        if self.design.transaction == "orchestration" and order.step != message.payload["step"]:
            return  # the orchestrator knows this step is done: a duplicate reply changes nothing
        if message.payload["ok"]:
            order.step = message.payload["step"] + 1
            self._advance(order)
        elif order.state == "pending":
            order.state = "sold_out"
            self._undo(order, refused=True)

    # -- business effects on the servers -------------------------------------------------------------

    def _stock(self) -> int:
        return self.store.read(STOCK_KEY, process="inventory").value

    def _reserve(self, root: int):
        if self.keys:
            if root in self.cancelled:
                return Outcome.FATAL
            if self.reserved[root]:
                return Outcome.OK
        stock = self._stock()
        if stock <= 0:
            return Outcome.FATAL
        self.store.write(STOCK_KEY, stock - 1, process="inventory")
        self.reserved[root] += 1
        return Outcome.OK

    def _take_anyway(self, root: int):
        if self.keys and self.reserved[root]:
            return Outcome.OK
        self.store.write(STOCK_KEY, self._stock() - 1, process="inventory")
        self.reserved[root] += 1
        return Outcome.OK

    def _charge(self, root: int):
        if self.keys:
            if root in self.cancelled:
                return Outcome.FATAL
            if self.charged[root]:
                return Outcome.OK
        self.charged[root] += 1
        return Outcome.OK

    def _commit_both(self, root: int):
        outcome = self._reserve(root)
        if outcome == Outcome.OK:
            self._charge(root)
        return outcome

    # -- compensation and confirmation --------------------------------------------------------------

    def _undo(self, order: _Order, refused: bool = False) -> None:
        """A step failed: give back the widget and, if the charge can be named by its key, the money."""
        undone = False
        if self.reserved[order.root]:
            self.store.write(STOCK_KEY, self._stock() + self.reserved[order.root], process="inventory")
            self.reserved[order.root] = 0
            undone = True
        if self.keys:
            self.cancelled.add(order.root)
            if self.charged[order.root]:
                self.charged[order.root] = 0
                undone = True
        if not refused:
            order.state = "compensated" if undone else "failed"

    def _confirm(self, order: _Order) -> None:
        if order.state != "pending":
            return
        order.state = "confirmed"
        event = {"root": order.root}
        try:
            if self.design.events == "outbox":
                with self.order_store.transaction(process="orders") as tx:
                    tx.write(f"order:{order.root}", "confirmed")
                    tx.append_outbox("order.confirmed", event, message_id=f"confirmed-{order.root}")
                self.crash.point(CRASH_POINT)
            else:
                self.order_store.write(f"order:{order.root}", "confirmed", process="orders")
                self.crash.point(CRASH_POINT)
                self.broker.publish("order.confirmed", event, message_id=f"confirmed-{order.root}")
        except Crash:
            pass  # the process died here; whatever it had not made durable is gone

    def _ship(self, message) -> None:
        root = message.payload["root"]
        order = self.orders[root]
        if order.state != "completed":
            self.shipped.add(root)
            order.state = "completed"
            order.shipped = self.sim.now()

    # -- the verdict ---------------------------------------------------------------------------------

    def run(self) -> ScenarioResult:
        self.sim.run(until=self.scenario.run_until)
        orders = list(self.orders.values())
        arrivals = np.array([o.arrived for o in orders])
        waits = np.minimum(np.array([o.answered for o in orders]) - arrivals, PATIENCE)
        waits = np.where(np.isnan(waits), PATIENCE, waits)
        sold_out = np.array([o.state == "sold_out" for o in orders], dtype=bool)
        success = np.array([o.placed and o.state == "completed" for o in orders], dtype=bool) & (waits < PATIENCE)
        to_ship = np.array([o.shipped - o.arrived for o in orders if o.state == "completed"])
        counted = int((~sold_out).sum())
        succeeded = int(success.sum())
        stuck = sum(1 for o in orders if o.state in ("pending", "confirmed"))
        oversold = 0
        if not check_stock_never_negative(self.history):
            levels = [op.value[0] for op in self.history.ops
                      if op.type == "ok" and op.key == STOCK_KEY and isinstance(op.value, tuple)]
            oversold = -min(levels)
        paid = sum(self.charged.values()) * PRICE
        received = len(self.shipped) * PRICE
        money = check_money_conserved({"shoppers": 0}, {"shoppers": received - paid})
        return ScenarioResult(
            scenario=self.scenario.key, checkouts=len(orders), sold_out=int(sold_out.sum()), succeeded=succeeded,
            success_rate=succeeded / counted if counted else 1.0,
            p99=float(np.percentile(waits, 99)) if len(waits) else 0.0, stuck=stuck,
            compensated=sum(1 for o in orders if o.state == "compensated"),
            double_charged=sum(1 for n in self.charged.values() if n > 1), oversold=oversold,
            money_gap=0.0 if money else float(received - paid),
            p99_to_ship=float(np.percentile(to_ship, 99)) if len(to_ship) else math.nan,
            arrivals=arrivals, success=success, sold_out_mask=sold_out, waits=waits)


def run_scenario(design: Design, scenario: str, seed: int = 1) -> ScenarioResult:
    """Run ``design`` under one scenario (a key of :data:`SCENARIOS`)."""
    if not isinstance(design, Design):
        raise ValueError(f"design must be a course.models.checkout_design.Design, got {design!r}")
    _validate.one_of("scenario", scenario, SCENARIOS)
    return _Checkout(design, SCENARIOS[scenario], seed).run()


def run(design: Design, seed: int = 1, scenarios=tuple(SCENARIOS)) -> dict[str, ScenarioResult]:
    """Run ``design`` under each scenario; the results by scenario key, in the interviewer's order."""
    return {key: run_scenario(design, key, seed) for key in scenarios}
