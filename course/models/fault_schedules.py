"""Lesson 07's randomised fault schedules: a payments flow with a planted bug, found by random faults and shrunk.

The system under test is built from the data layer of lessons 04 and 05:

* **orders**: order k (k = 1 … ``messages``) is placed at k · :data:`SPACING`
  seconds by customer ``CUSTOMERS[(k - 1) % 3]`` for ``10 · k``: the order
  row and an outbox row commit in one transaction (:class:`~course.sim.data.Store`);
* **relay**: an :class:`~course.sim.data.OutboxRelay`, woken
  :data:`RELAY_INTERVAL` after each commit and again every
  :data:`RELAY_INTERVAL` while rows are pending, publishes the payment
  message ``order-k`` through the network to the :class:`~course.sim.data.Broker`
  (delivery takes :data:`BROKER_DELAY`; a copy whose handler crashed before
  acknowledging comes back :data:`REDELIVERY_DELAY` later);
* **payments**: a :class:`PaymentsConsumer` skips a message whose id it has
  recorded (``processed:<id>``), otherwise charges the order (moves the amount
  from the customer to ``shop`` in one transaction), acknowledges, and records
  the id. The ``"buggy"`` consumer records it in a second write after the
  acknowledgement; the ``"fixed"`` one writes it in the charge's transaction.

A **schedule** is a list of fault steps, each a small frozen dataclass whose
``str`` is a sentence: :class:`CrashConsumer` (before the charge, or between
the charge and the record), :class:`Duplicate`, :class:`CrashRelay` (after
publishing, before marking the row sent, so it publishes the row again),
:class:`Partition` (broker → consumer) and :class:`Delay`. :func:`run`
applies one schedule on the virtual clock, lets every message drain, and
checks the invariants (:func:`checks`): money conserved over all accounts,
each customer paid exactly for their orders (both with
:func:`~course.sim.data.checkers.check_money_conserved`) and each order
charged exactly once. Same schedule, same run: nothing in a run is random.

**The planted bug needs two faults on the same message.** A crash between the
charge and the record on message m loses the record, but the message was
acknowledged, so nothing comes back: alone it does no harm. A second copy of
m alone (a duplicate, or the relay publishing it again after its own crash)
finds the record and is skipped. Both together: the second copy finds no
record and charges again. So a schedule fails exactly when
:func:`has_bug_pair` says so, and :func:`detection_probability` is the exact
chance that a :func:`random_schedule` does: P(found within n runs) is then
1 − (1 − p)ⁿ (:func:`detection_curve`). :func:`find` runs random schedules
until one fails; :func:`shrink_schedule` cuts it to a 1-minimal one with
:func:`course.models.shrink.shrink`.

Why not Hypothesis: it would generate and shrink these schedules too
(:data:`HYPOTHESIS_EXAMPLE` shows how). A schedule is data fixed before the
run, checked once the run has drained, so plain ``@given(st.lists(...))``
fits it better than a stateful ``RuleBasedStateMachine``. But it is one more
dependency to pin for Binder and install, and it keeps a ``.hypothesis``
database in the learner's folder, while the shrinker the lesson needs is
under 120 lines (:mod:`course.models.shrink`) and tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import starmap
from math import comb

import numpy as np

from course.sim import Constant, Simulation, _validate
from course.sim.data import Broker, Crash, CrashPoints, OutboxRelay, Store
from course.sim.data.checkers import CheckResult, Violation, check_money_conserved
from course.sim.streams import RandomStreams

from .shrink import Shrunk, shrink

CONSUMERS = ("buggy", "fixed")
CUSTOMERS = ("alice", "bob", "carol")
#: Each customer's money at the start.
INITIAL = 200
MESSAGES = 5
STEPS = 4
#: Seconds between orders.
SPACING = 0.5
RELAY_INTERVAL = 0.1
BROKER_DELAY = 0.05
REDELIVERY_DELAY = 1.0
#: How long a crashed consumer takes to restart (deliveries meanwhile are refused and come back later), s.
RESTART = 0.3
TOPIC = "payments"

BEFORE_CHARGE = "before the charge"
BETWEEN = "between charge and record"
POINTS = (BEFORE_CHARGE, BETWEEN)

#: Invariant names, in the order :func:`checks` returns them.
MONEY = "money conserved (all accounts)"
CUSTOMERS_PAID = "each customer paid exactly for their orders"
CHARGED_ONCE = "each order charged exactly once"
INVARIANTS = (MONEY, CUSTOMERS_PAID, CHARGED_ONCE)


def amount(message: int) -> int:
    """What order ``message`` costs."""
    return 10 * message


def customer(message: int) -> str:
    """Who places order ``message``."""
    return CUSTOMERS[(message - 1) % len(CUSTOMERS)]


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def _message(value) -> int:
    return _validate.integer_at_least("message", value, 1)


# -- the steps of a schedule -----------------------------------------------------------------------

@dataclass(frozen=True)
class CrashConsumer:
    """The payments consumer dies at ``point`` the first time it handles ``message`` there."""

    message: int
    point: str = BETWEEN

    def __post_init__(self):
        _message(self.message)
        _validate.one_of("point", self.point, POINTS)

    def __str__(self):
        return f"crash the consumer {self.point}, on message {self.message}"


@dataclass(frozen=True)
class Duplicate:
    """The network delivers a second copy of ``message``, ``after`` seconds behind the first."""

    message: int
    after: float = 0.1

    def __post_init__(self):
        _message(self.message)
        _validate.positive("after", self.after)

    def __str__(self):
        return f"duplicate message {self.message} (the copy {_ms(self.after)} later)"


@dataclass(frozen=True)
class CrashRelay:
    """The relay dies right after publishing ``message``, before marking it sent: it publishes it again."""

    message: int

    def __post_init__(self):
        _message(self.message)

    def __str__(self):
        return f"crash the relay after it publishes message {self.message}"


@dataclass(frozen=True)
class Partition:
    """Nothing gets from the broker to the consumer from ``start`` to ``end`` (s); it is handed over at ``end``."""

    start: float
    end: float

    def __post_init__(self):
        _validate.non_negative("start", self.start)
        _validate.positive("end", self.end)
        if not self.start < self.end:
            raise ValueError(f"end must be after start, got start={self.start!r}, end={self.end!r}")

    def __str__(self):
        return f"partition broker→consumer from {self.start:.1f} s to {self.end:.1f} s"


@dataclass(frozen=True)
class Delay:
    """The first copy of ``message`` reaches the broker ``by`` seconds late."""

    message: int
    by: float

    def __post_init__(self):
        _message(self.message)
        _validate.positive("by", self.by)

    def __str__(self):
        return f"delay message {self.message} by {_ms(self.by)}"


STEP_TYPES = (CrashConsumer, Duplicate, CrashRelay, Partition, Delay)


def describe(schedule) -> str:
    """A schedule as numbered sentences, one per line ("no faults" if empty)."""
    if not schedule:
        return "no faults"
    return "\n".join(f"{i}. {step}" for i, step in enumerate(schedule, start=1))


#: Hand-written scenarios: each single fault, and some pairs. All pass on the buggy consumer too.
SCENARIOS = {
    "no faults": (),
    "crash between charge and record": (CrashConsumer(3, BETWEEN),),
    "crash before the charge": (CrashConsumer(3, BEFORE_CHARGE),),
    "duplicate": (Duplicate(3, 0.1),),
    "relay crash": (CrashRelay(3),),
    "partition": (Partition(1.0, 2.0),),
    "delay": (Delay(3, 0.5),),
    "crash and partition": (CrashConsumer(3, BETWEEN), Partition(1.0, 2.0)),
    "crash before the charge and duplicate": (CrashConsumer(3, BEFORE_CHARGE), Duplicate(3, 0.1)),
    "crash on 2, duplicate of 3": (CrashConsumer(2, BETWEEN), Duplicate(3, 0.1)),
}
#: The pair that finds the bug: the smallest schedule that fails.
BUG = (CrashConsumer(3, BETWEEN), Duplicate(3, 0.1))


# -- the system under test -------------------------------------------------------------------------

def _no_draws(*_args):
    raise RuntimeError("a fault-schedule run must not draw random numbers: the schedule decides everything")


class _NoStream:
    """What :class:`_Simulation` hands out for every named stream: drawing from it is an error."""

    random = uniform = exponential = normal = lognormal = below = staticmethod(_no_draws)


class _Simulation(Simulation):
    """A simulation whose runs draw nothing: its named streams are never created (the broker's two would
    cost about a third of a run), and a draw raises instead of quietly making a run depend on more than its
    schedule."""

    def rng(self, name: str):
        return _NoStream()


class _Network:
    """Between the relay and the broker: holds up delayed messages and sends scheduled second copies."""

    def __init__(self, sim, broker, delays: dict, duplicates: dict, events: list):
        self.sim = sim
        self.broker = broker
        self.delays = delays
        self.duplicates = duplicates
        self.events = events
        self.last = None          # the order number of the last message the relay handed over
        self._seen: set = set()

    def publish(self, topic, payload=None, message_id=None):
        order = self.last = payload["order"]
        first = order not in self._seen
        self._seen.add(order)
        late = self.delays.get(order, 0.0) if first else 0.0
        copies = [late] + ([late + lag for lag in self.duplicates.get(order, ())] if first else [])
        for wait in copies:
            if wait:
                self.sim.schedule(wait, self._arrive, topic, payload, message_id)
            else:
                self._arrive(topic, payload, message_id)

    def _arrive(self, topic, payload, message_id):
        self.events.append((self.sim.now(), payload["order"], "published"))
        self.broker.publish(topic, payload, message_id)


class _RelayCrashes(CrashPoints):
    """Crash points for the relay that fire once for each message named in a :class:`CrashRelay`."""

    def __init__(self, sim, network: _Network, messages: set, events: list):
        super().__init__()
        self.sim = sim
        self.network = network
        self.waiting = set(messages)
        self.events = events

    def point(self, name: str) -> None:
        order = self.network.last
        if order in self.waiting:
            self.waiting.discard(order)
            self.crashes[name] += 1
            self.events.append((self.sim.now(), order, "relay crash"))
            raise Crash(name)


class PaymentsConsumer:
    """Charges each order once per message id, recording the ids it has processed as ``processed:<id>``.

    ``handle(message)`` is subscribed to the broker. Its steps: refuse the
    message if the process is restarting (unacknowledged, so it comes back);
    skip it if its id is recorded; charge it (one transaction moving the amount
    from the customer to ``shop``); acknowledge; record the id. The
    ``"fixed"`` version writes the record inside the charge's transaction,
    the ``"buggy"`` one afterwards, as a second write.

    In the simulation a handler that returns has acknowledged; one that raises
    :class:`~course.sim.data.Crash` has not, and the broker delivers that copy
    again. A crash after the acknowledgement is a return: the process is gone,
    but the broker has forgotten the message. ``crashes`` holds the
    ``(message, point)`` pairs where the process dies, each once; after dying
    it is down for :data:`RESTART` seconds.
    """

    def __init__(self, sim, store, version: str = "buggy", crashes=(), events: list | None = None):
        self.sim = sim
        self.store = store
        self.fixed = _validate.one_of("version", version, CONSUMERS) == "fixed"
        self.crashes = set(crashes)
        self.events = [] if events is None else events
        self.down_until = -1.0
        self.charges: dict = {}   # order -> times charged

    def _log(self, order: int, what: str) -> None:
        self.events.append((self.sim.now(), order, what))

    def _dies_at(self, order: int, point: str) -> bool:
        if (order, point) not in self.crashes:
            return False
        self.crashes.discard((order, point))
        self._log(order, "crash")
        self.down_until = self.sim.now() + RESTART   # whatever it held in memory is gone
        return True

    def handle(self, message) -> None:
        """Charge the order in ``message`` unless its id was recorded; see the class docstring."""
        order = message.payload["order"]
        if self.sim.now() < self.down_until:
            self._log(order, "refused")
            raise Crash("restarting")
        marker = f"processed:{message.id}"
        if self.store.read(marker) is not None:
            self._log(order, "skipped")
            return
        if self._dies_at(order, BEFORE_CHARGE):
            raise Crash(BEFORE_CHARGE)            # not acknowledged: the broker delivers it again
        who, price = message.payload["customer"], message.payload["amount"]
        with self.store.transaction() as tx:      # step 1: the money moves
            tx.write(who, tx.read(who).value - price)
            tx.write("shop", tx.read("shop").value + price)
            if self.fixed:
                tx.write(marker, True)            # the fix: the record commits with the charge
        self.charges[order] = self.charges.get(order, 0) + 1
        self._log(order, "charged")
        # Acknowledged: from here on the broker will not deliver this copy again.
        if self._dies_at(order, BETWEEN):
            return                                # the process died before step 2
        if not self.fixed:
            self.store.write(marker, True)        # step 2: the record, a separate write


@dataclass
class Run:
    """One schedule applied once: the verdicts, the books, and a timeline of what happened."""

    schedule: tuple
    consumer: str
    messages: int
    checks: dict                 # invariant name -> CheckResult
    charges: dict                # order -> times charged
    balances_before: dict
    balances_after: dict
    events: list = field(repr=False)   # (time s, order, what), in time order
    end: float = 0.0                   # when the last thing happened (s)

    @property
    def ok(self) -> bool:
        """Every invariant held."""
        return all(self.checks.values())

    @property
    def violated(self) -> list:
        """The names of the invariants that failed."""
        return [name for name, result in self.checks.items() if not result]

    def verdict(self) -> str:
        """"every invariant held", or each failed invariant with its first violation."""
        if self.ok:
            return "every invariant held"
        return "; ".join(f"{name}: {self.checks[name].violations[0]}" for name in self.violated)


def checks(charges: dict, messages: int, before: dict, after: dict) -> dict:
    """The invariants of one run, by name (:data:`INVARIANTS`): each a CheckResult."""
    paid_for = {c: after[c] + sum(amount(k) for k in range(1, messages + 1) if customer(k) == c)
                for c in CUSTOMERS}
    wrong = [Violation(None, f"order {k} was charged {charges.get(k, 0)} times "
                             f"({customer(k)} paid {charges.get(k, 0) * amount(k)} for {amount(k)})")
             for k in range(1, messages + 1) if charges.get(k, 0) != 1]
    return {MONEY: check_money_conserved(before, after),
            CUSTOMERS_PAID: check_money_conserved({c: before[c] for c in CUSTOMERS}, paid_for),
            CHARGED_ONCE: CheckResult(not wrong, wrong)}


def _check_run(schedule, consumer, messages) -> tuple:
    _validate.one_of("consumer", consumer, CONSUMERS)
    _validate.integer_at_least("messages", messages, 1)
    try:
        steps = tuple(schedule)
    except TypeError:
        raise ValueError(f"schedule must be a list of fault steps, got {schedule!r}") from None
    for step in steps:
        if not isinstance(step, STEP_TYPES):
            raise ValueError(f"schedule must hold fault steps ({', '.join(t.__name__ for t in STEP_TYPES)}), "
                             f"got {step!r}")
        if getattr(step, "message", 1) > messages:
            raise ValueError(f"schedule step {str(step)!r} names message {step.message}, but messages is {messages} "
                             f"(messages 1 to {messages})")
    return steps


def run(schedule=(), consumer: str = "buggy", messages: int = MESSAGES) -> Run:
    """Apply ``schedule`` to the payments flow with the ``consumer`` version, drain, and check the invariants."""
    return _run(_check_run(schedule, consumer, messages), consumer, messages)


@lru_cache(maxsize=4096)
def _run(schedule: tuple, consumer: str, messages: int) -> Run:
    sim = _Simulation(seed=0)  # nothing in a run is random: the schedule decides everything
    events: list = []
    delays: dict = {}
    duplicates: dict = {}
    for step in schedule:
        if isinstance(step, Delay):
            delays[step.message] = delays.get(step.message, 0.0) + step.by
        elif isinstance(step, Duplicate):
            duplicates.setdefault(step.message, []).append(step.after)
    partitions = [(s.start, s.end) for s in schedule if isinstance(s, Partition)]
    orders = Store(sim, name="orders", replicas=0)
    ledger = Store(sim, name="payments", replicas=0)
    broker = Broker(sim, name="payments", delay=Constant(BROKER_DELAY), redelivery_delay=REDELIVERY_DELAY,
                    partitions=partitions)
    network = _Network(sim, broker, delays, duplicates, events)
    relay_crashes = _RelayCrashes(sim, network, {s.message for s in schedule if isinstance(s, CrashRelay)}, events)
    relay = OutboxRelay(sim, orders, network, interval=RELAY_INTERVAL, crash=relay_crashes)
    payments = PaymentsConsumer(sim, ledger, consumer, {(s.message, s.point) for s in schedule
                                                        if isinstance(s, CrashConsumer)}, events)
    broker.subscribe(TOPIC, payments.handle)
    before = {**dict.fromkeys(CUSTOMERS, INITIAL), "shop": 0}
    for account, money in before.items():
        ledger.write(account, money)

    awake = [False]

    def relay_round():
        relay.run_once()
        if orders.outbox_pending():
            sim.schedule(RELAY_INTERVAL, relay_round)
        else:
            awake[0] = False

    def place(k: int) -> None:
        with orders.transaction() as tx:
            tx.write(f"order:{k}", "placed")
            tx.append_outbox(TOPIC, {"order": k, "customer": customer(k), "amount": amount(k)}, f"order-{k}")
        events.append((sim.now(), k, "placed"))
        if not awake[0]:
            awake[0] = True
            sim.schedule(RELAY_INTERVAL, relay_round)

    for k in range(1, messages + 1):
        sim.at(k * SPACING, place, k)
    sim.run()  # until every message has been delivered and acknowledged
    after = {account: ledger.read(account).value for account in before}
    events.sort(key=lambda e: e[0])
    return Run(schedule, consumer, messages, checks(payments.charges, messages, before, after),
               dict(payments.charges), before, after, events, sim.now())


# -- random schedules -----------------------------------------------------------------------------

#: What a random step is, each equally likely; a consumer crash picks one of :data:`POINTS`, equally likely.
KINDS = ("crash the consumer", "duplicate", "crash the relay", "partition", "delay")
#: Parameter grids for random steps (s).
DUPLICATE_AFTER = tuple(round(0.05 * i, 2) for i in range(1, 11))
DELAY_BY = tuple(round(0.1 * i, 1) for i in range(1, 11))
PARTITION_LENGTH = tuple(round(0.1 * i, 1) for i in range(1, 11))
_DRAWS = 4  # uniform draws per step, whatever its kind, so schedule i of a seed never depends on the others


def _check_random(steps, messages) -> None:
    _validate.integer_at_least("steps", steps, 1)
    _validate.integer_at_least("messages", messages, 1)


def _steps(u: np.ndarray, messages: int) -> list:
    """The schedules that uniform draws ``u`` (schedules × steps × 4) pick, each a tuple of steps."""
    def below(x, n):
        return np.minimum((x * n).astype(int), n - 1)

    kind = below(u[..., 0], len(KINDS))
    grids = np.array([len(POINTS), len(DUPLICATE_AFTER), 1, _partition_starts(messages) + 1, len(DELAY_BY)])
    message = 1 + below(u[..., 1], messages)
    i = below(u[..., 2], grids[kind])
    j = np.where(kind == KINDS.index("partition"), below(u[..., 3], len(PARTITION_LENGTH)), 0)
    return [tuple(starmap(_grid_step, zip(*rows)))
            for rows in zip(kind.tolist(), message.tolist(), i.tolist(), j.tolist())]


def _partition_starts(messages: int) -> int:
    """Partitions start on a 0.1 s grid, from 0 to just after the last order: this many steps of 0.1 s."""
    return int(round(10 * (messages + 1) * SPACING))


@lru_cache(maxsize=None)
def _grid_step(kind: int, message: int, i: int, j: int):
    """One step on the grids (steps are immutable, so each is built once and shared)."""
    name = KINDS[kind]
    if name == "crash the consumer":
        return CrashConsumer(message, POINTS[i])
    if name == "duplicate":
        return Duplicate(message, DUPLICATE_AFTER[i])
    if name == "crash the relay":
        return CrashRelay(message)
    if name == "delay":
        return Delay(message, DELAY_BY[i])
    start = round(0.1 * i, 1)
    return Partition(start, round(start + PARTITION_LENGTH[j], 1))


def random_schedules(seed: int, count: int, steps: int = STEPS, messages: int = MESSAGES) -> list:
    """``count`` random schedules of ``steps`` steps each, for orders 1 … ``messages``.

    Schedule i depends only on (seed, i, steps, messages): the first ``n`` of a
    longer list are the same ``n`` schedules, and each (steps, messages) has a
    stream of its own (``"fault_schedules:<steps>:<messages>"`` of ``seed``).
    Each step is one of :data:`KINDS`, equally likely, on a message chosen
    uniformly, with parameters from the grids above.
    """
    _validate.integer_at_least("seed", seed, 0)
    _validate.integer_at_least("count", count, 0)
    _check_random(steps, messages)
    stream = RandomStreams(seed).stream(f"fault_schedules:{steps}:{messages}")
    draws = stream.generator.random((count, steps, _DRAWS))
    return _steps(draws, messages)


def random_schedule(seed: int, steps: int = STEPS, messages: int = MESSAGES) -> tuple:
    """One random schedule: the first of :func:`random_schedules` for ``seed``."""
    return random_schedules(seed, 1, steps, messages)[0]


def search(runs: int, seed: int = 1, steps: int = STEPS, messages: int = MESSAGES, consumer: str = "buggy") -> list:
    """Run ``runs`` random schedules (:func:`random_schedules`); whether each found a violation."""
    _validate.integer_at_least("runs", runs, 1)
    _validate.one_of("consumer", consumer, CONSUMERS)
    return [not _run(s, consumer, messages).ok for s in random_schedules(seed, runs, steps, messages)]


@dataclass
class Found:
    """The first failing schedule of a search: its position (1 = the first run) and its run."""

    runs: int
    schedule: tuple
    run: Run


def find(runs: int, seed: int = 1, steps: int = STEPS, messages: int = MESSAGES,
         consumer: str = "buggy") -> Found | None:
    """Run up to ``runs`` random schedules; the first that breaks an invariant, or None."""
    _validate.integer_at_least("runs", runs, 1)
    _validate.one_of("consumer", consumer, CONSUMERS)
    for i, schedule in enumerate(random_schedules(seed, runs, steps, messages), start=1):
        result = _run(schedule, consumer, messages)
        if not result.ok:
            return Found(i, schedule, result)
    return None


# -- shrinking --------------------------------------------------------------------------------------

def simplify(step) -> list:
    """Simpler versions of one step, simplest first: shorter delays and lags, shorter and earlier partitions."""
    if isinstance(step, Duplicate):
        return [Duplicate(step.message, a) for a in DUPLICATE_AFTER if a < step.after]
    if isinstance(step, Delay):
        return [Delay(step.message, b) for b in DELAY_BY if b < step.by]
    if isinstance(step, Partition):
        length = round(step.end - step.start, 1)
        shorter = [Partition(step.start, round(step.start + d, 1)) for d in PARTITION_LENGTH if d < length]
        earlier = [Partition(0.0, length)] if step.start > 0 else []
        return shorter + earlier
    return []


def shrink_schedule(schedule, consumer: str = "buggy", messages: int = MESSAGES) -> Shrunk:
    """Shrink a failing schedule to a 1-minimal one that still breaks an invariant (removing any step passes)."""
    steps = _check_run(schedule, consumer, messages)
    return shrink(list(steps), lambda s: not _run(tuple(s), consumer, messages).ok, simplify)


def has_bug_pair(schedule) -> bool:
    """Whether ``schedule`` crashes the consumer between charge and record on some message m and also sends a
    second copy of m (a :class:`Duplicate` or a :class:`CrashRelay`): the buggy consumer fails exactly then."""
    crashed = {s.message for s in schedule if isinstance(s, CrashConsumer) and s.point == BETWEEN}
    copied = {s.message for s in schedule if isinstance(s, (Duplicate, CrashRelay))}
    return bool(crashed & copied)


# -- how often random schedules find it ----------------------------------------------------------

def detection_probability(steps: int = STEPS, messages: int = MESSAGES) -> float:
    """The exact chance that one :func:`random_schedule` finds the bug (:func:`has_bug_pair`).

    Each step is a crash between charge and record on a given message with
    probability b = 1/10 / messages, a second copy of a given message
    (duplicate or relay crash) with d = 2/5 / messages, and something else
    with o = 1/2. The schedule misses iff no message gets both; counting with
    exponential generating functions, P(miss) = Σ over i + j + l = messages of
    messages! / (i! j! l!) · (−1)^l · (o + i·b + j·d)^steps.
    """
    _check_random(steps, messages)
    q_between = 1 / len(KINDS) / len(POINTS)
    q_copy = 2 / len(KINDS)
    b, d, o = q_between / messages, q_copy / messages, 1 - q_between - q_copy
    miss = 0.0
    for i in range(messages + 1):
        for j in range(messages + 1 - i):
            ways = comb(messages, i) * comb(messages - i, j)
            miss += ways * (-1) ** (messages - i - j) * (o + i * b + j * d) ** steps
    return min(1.0, max(0.0, 1.0 - miss))


def detection_curve(p: float, n) -> np.ndarray:
    """P(at least one of ``n`` independent runs finds the bug) = 1 − (1 − p)ⁿ, for an array of ``n``."""
    _validate.probability("p", p)
    n = np.asarray(n, dtype=float)
    if np.any(n < 0):
        raise ValueError(f"n must be >= 0 runs, got {n.min()!r}")
    return 1.0 - (1.0 - p) ** n


def found_within(found, ns) -> np.ndarray:
    """For each n in ``ns``: the share of searches of n runs that found the bug, the runs of ``found`` (a list
    of True/False per run, in order) cut into consecutive searches of n (a leftover shorter search is dropped)."""
    flags = np.asarray(found, dtype=bool)
    shares = []
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a whole number >= 1, got {n!r}")
        blocks = len(flags) // int(n)
        if blocks == 0:
            raise ValueError(f"n must be at most the number of runs ({len(flags)}), got {n!r}")
        shares.append(float(flags[:blocks * int(n)].reshape(blocks, int(n)).any(axis=1).mean()))
    return np.array(shares)


HYPOTHESIS_EXAMPLE = '''\
# The same search with Hypothesis (not installed in this course: read, don't run).
from hypothesis import given, settings, strategies as st
from course.models import fault_schedules as fs

message = st.integers(1, fs.MESSAGES)
step = st.one_of(
    st.builds(fs.CrashConsumer, message, st.sampled_from(fs.POINTS)),
    st.builds(fs.Duplicate, message, st.sampled_from(fs.DUPLICATE_AFTER)),
    st.builds(fs.CrashRelay, message),
    st.builds(fs.Delay, message, st.sampled_from(fs.DELAY_BY)),
    st.builds(lambda start, length: fs.Partition(start, start + length),
              st.sampled_from([0.5, 1.0, 1.5, 2.0]), st.sampled_from(fs.PARTITION_LENGTH)),
)

@settings(max_examples=200, derandomize=True)
@given(st.lists(step, max_size=fs.STEPS))
def test_every_invariant_holds(schedule):
    run = fs.run(schedule, consumer="buggy")
    assert run.ok, fs.describe(schedule) + "\\n" + run.verdict()

# On failure Hypothesis shrinks the list and each step, and reports the smallest
# schedule it reached (in its own words), much as shrink_schedule does here.
'''
