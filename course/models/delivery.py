"""Lesson 05's at-least-once delivery: payments over a broker that repeats itself.

A payments service moves money between :data:`ACCOUNTS` (each starts with
:data:`INITIAL`). Transfer i, sent at i·:data:`SPACING` seconds, is two
messages on the :class:`~course.sim.data.Broker`: a debit of the source and a
credit of the destination. The ledger service applies them with a
:class:`~course.sim.data.NaiveConsumer` or an
:class:`~course.sim.data.IdempotentConsumer`. The broker is at least once:

* it sends a second copy of a message with probability ``duplicate_probability``;
* each copy takes its own delay draw (mean ``delay_mean``), so messages overtake each other;
* the consumer crashes with probability ``crash_probability`` at each of its
  crash points, and a message whose handler crashed comes back after
  :data:`REDELIVERY_DELAY`. The naive consumer's crash point is after the
  work and before the acknowledgement, so its redelivery applies the money twice.

Every run drains (the simulation runs until nothing is left to deliver), so
with the idempotent consumer every balance ends exactly where the transfers
say, and the total is conserved (:func:`~course.sim.data.checkers.check_money_conserved`).

The small extra: ``orders`` orders each go through the statuses
:data:`STATUSES` (versions 1, 2, 3), sent 1 ms apart on a second broker with
the same settings. A last-arrival-wins consumer keeps whatever status came
last; a versioned consumer keeps a status only if its version is newer than
the one it holds. Out-of-order arrivals (and late duplicates) leave the first
one with the wrong final status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from course.sim import Exponential, Simulation, _validate
from course.sim.data import Broker, CrashPoints, IdempotentConsumer, NaiveConsumer, Store
from course.sim.data.checkers import CheckResult, check_money_conserved

CONSUMERS = ("naive", "idempotent")
ACCOUNTS = ("alice", "bob", "carol", "dave")
INITIAL = 100
#: Seconds between transfers, and between one order's status updates.
SPACING = 0.01
STATUS_SPACING = 0.001
STATUSES = ("placed", "paid", "shipped")
REDELIVERY_DELAY = 0.5
MAX_AMOUNT = 10


@dataclass
class DeliveryResult:
    """One run: what the broker did, what the consumer applied, and the books."""

    consumer: str
    transfers: int
    messages: int                 # payment messages published
    deliveries: int               # payment messages handed to the consumer (copies, redeliveries included)
    duplicates: int               # extra copies the broker sent
    redeliveries: int             # deliveries that crashed and came back
    applied: int                  # applications of a payment (ideally == messages)
    double_applied: int           # payment messages applied more than once
    balances_before: dict
    balances_after: dict
    expected_after: dict
    money: CheckResult            # check_money_conserved(before, after)
    out_of_order: int = 0         # payment arrivals overtaken by a later-sent message
    status_out_of_order: int = 0  # status arrivals older than one already seen for that order
    wrong_status_last_wins: int = 0
    wrong_status_versioned: int = 0
    arrivals: list = field(default_factory=list, repr=False)  # (time, message_id, copy) of payment deliveries

    @property
    def balances_exact(self) -> bool:
        """Every balance is what the transfers imply."""
        return self.balances_after == self.expected_after


def _check(consumer, transfers, duplicate_probability, crash_probability, delay_mean, orders) -> None:
    _validate.one_of("consumer", consumer, CONSUMERS)
    _validate.integer_at_least("transfers", transfers, 1)
    _validate.probability("duplicate_probability", duplicate_probability)
    _validate.probability("crash_probability", crash_probability)
    if crash_probability == 1:
        raise ValueError("crash_probability must be below 1: a consumer that always crashes never "
                         "acknowledges anything, so the run would never end; got 1")
    _validate.positive("delay_mean", delay_mean)
    _validate.integer_at_least("orders", orders, 0)


def simulate(consumer: str = "naive", transfers: int = 20, duplicate_probability: float = 0.05,
             crash_probability: float = 0.05, delay_mean: float = 0.05, orders: int = 0,
             seed: int = 1) -> DeliveryResult:
    """Run the payments (and, with ``orders`` > 0, the status updates) once; see the module docstring."""
    _check(consumer, transfers, duplicate_probability, crash_probability, delay_mean, orders)
    sim = Simulation(seed=seed)
    store = Store(sim, name="ledger", replicas=0)
    delay = Exponential(delay_mean)
    broker = Broker(sim, name="payments", delay=delay, duplicate_probability=duplicate_probability,
                    redelivery_delay=REDELIVERY_DELAY)
    crash = CrashPoints(sim.rng("crash:ledger:points"), probability=crash_probability)
    ledger = (NaiveConsumer if consumer == "naive" else IdempotentConsumer)(store, crash=crash)
    for account in ACCOUNTS:
        store.write(account, INITIAL)
    before = dict.fromkeys(ACCOUNTS, INITIAL)
    expected = dict(before)

    applications: dict = {}
    order_sent: dict = {}  # message id -> publish sequence number
    newest = [-1]
    out_of_order = [0]

    def handle(message):
        seq = order_sent[message.id]
        if seq < newest[0]:
            out_of_order[0] += 1
        else:
            newest[0] = seq
        applied = ledger.applied
        try:
            ledger.handle(message)
        finally:
            if ledger.applied > applied:
                applications[message.id] = applications.get(message.id, 0) + 1

    broker.subscribe("payments", handle)
    draw = sim.rng("payments:transfers")

    def transfer(i: int) -> None:
        source = ACCOUNTS[draw.below(len(ACCOUNTS))]
        target = ACCOUNTS[(ACCOUNTS.index(source) + 1 + draw.below(len(ACCOUNTS) - 1)) % len(ACCOUNTS)]
        amount = 1 + draw.below(MAX_AMOUNT)
        expected[source] -= amount
        expected[target] += amount
        for leg, account, signed in (("debit", source, -amount), ("credit", target, amount)):
            message_id = f"transfer-{i}:{leg}"
            order_sent[message_id] = len(order_sent)
            broker.publish("payments", {"account": account, "amount": signed}, message_id)

    for i in range(transfers):
        sim.at(i * SPACING, transfer, i)
    statuses = _status_updates(sim, orders, delay, duplicate_probability) if orders else None
    sim.run()  # until every message has been delivered and acknowledged

    after = {a: store.read(a).value for a in ACCOUNTS}
    result = DeliveryResult(
        consumer, transfers, len(broker.published), len(broker.deliveries), broker.duplicates, broker.redeliveries,
        ledger.applied, sum(1 for n in applications.values() if n > 1), before, after, expected,
        check_money_conserved(before, after), out_of_order[0],
        arrivals=[(d.time, d.message_id, d.copy) for d in broker.deliveries])
    if statuses is not None:
        result.status_out_of_order, result.wrong_status_last_wins, result.wrong_status_versioned = statuses()
    return result


def _status_updates(sim, orders: int, delay, duplicate_probability: float):
    """Schedule the status stream; returns a function that scores it after the run."""
    broker = Broker(sim, name="status", delay=delay, duplicate_probability=duplicate_probability)
    last_wins: dict = {}
    versioned: dict = {}   # order -> (version, status)
    seen_version: dict = {}
    stale = [0]

    def handle(message):
        order, version, status = message.payload
        if version < seen_version.get(order, 0):
            stale[0] += 1
        seen_version[order] = max(version, seen_version.get(order, 0))
        last_wins[order] = status
        if version > versioned.get(order, (0, None))[0]:
            versioned[order] = (version, status)

    broker.subscribe("order.status", handle)
    for order in range(orders):
        for v, status in enumerate(STATUSES, start=1):
            sim.at(order * SPACING + (v - 1) * STATUS_SPACING, broker.publish, "order.status", (order, v, status))

    def score():
        final = STATUSES[-1]
        return (stale[0], sum(1 for o in range(orders) if last_wins.get(o) != final),
                sum(1 for o in range(orders) if versioned.get(o, (0, None))[1] != final))
    return score


@dataclass
class Totals:
    """Many seeded runs of one setting, summed."""

    consumer: str
    runs: int
    runs_with_double_apply: int
    double_applied: int
    runs_money_not_conserved: int
    runs_balances_wrong: int
    duplicates: int
    redeliveries: int
    out_of_order: int

    @property
    def double_apply_share(self) -> float:
        """Share of runs in which at least one payment was applied twice."""
        return self.runs_with_double_apply / self.runs


def run_many(consumer: str, runs: int = 1000, transfers: int = 20, duplicate_probability: float = 0.05,
             crash_probability: float = 0.05, delay_mean: float = 0.05, seed: int = 1) -> Totals:
    """``runs`` independent runs with seeds ``seed``, ``seed + 1``, ...; their totals."""
    _validate.integer_at_least("runs", runs, 1)
    totals = Totals(consumer, runs, 0, 0, 0, 0, 0, 0, 0)
    for i in range(runs):
        r = simulate(consumer, transfers, duplicate_probability, crash_probability, delay_mean, 0, seed + i)
        totals.runs_with_double_apply += r.double_applied > 0
        totals.double_applied += r.double_applied
        totals.runs_money_not_conserved += not r.money
        totals.runs_balances_wrong += not r.balances_exact
        totals.duplicates += r.duplicates
        totals.redeliveries += r.redeliveries
        totals.out_of_order += r.out_of_order
    return totals
