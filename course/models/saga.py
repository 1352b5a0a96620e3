"""Lesson 05's order saga: reserve stock, charge the card, arrange delivery — or undo.

``sagas`` orders arrive one every :data:`SPACING` seconds, each for one
widget at :data:`PRICE`, from one of :data:`CUSTOMERS` chosen at random.
The shop starts with ``stock`` widgets and each customer with ``balance``
(by default :data:`STOCK_SHARE` and :data:`BALANCE_SHARE` of the orders). Each is a saga over
three services, each with its own data (all three kept in one
:class:`~course.sim.data.Store` here, with a
:class:`~course.sim.data.History` of every read and write):

1. inventory, ``reserve``: fails at random (``step_failure``), or when
   ``stock:widget`` is out; otherwise takes one from it. Compensation
   ``release`` puts it back.
2. payment, ``charge``: fails at random, or when the customer cannot pay;
   otherwise moves :data:`PRICE` from ``balance:<customer>`` to
   ``balance:shop``. Compensation ``refund`` moves it back.
3. shipping, ``ship``: fails at random (no courier). It is the last step,
   so it needs no compensation.

Each compensation attempt fails with probability ``compensation_failure``
and is retried ``compensation_retries`` times, :data:`RETRY_DELAY` apart;
after that the saga is ``"stuck"``. With probability
``permanent_failure`` a saga's compensations are broken for good (the
payment provider lost the charge, say): if one of its steps fails, it ends
stuck.

The same orders run either under an :class:`~course.sim.data.Orchestrator`
or as a :class:`~course.sim.data.Choreography` over a broker. The verdicts:

* :func:`~course.sim.data.checkers.check_sagas`: every saga completed, or
  was compensated fully and in reverse order (read from the timelines);
* :func:`~course.sim.data.checkers.check_stock_never_negative` on the history;
* :func:`~course.sim.data.checkers.check_money_conserved` over all the
  balances (a charge and a refund move money, never make it);
* :func:`check_books`: what the timelines cannot see. Stock and every
  customer's balance end exactly where the *completed* orders put them, so
  a compensation that claims success and does nothing is caught.

``bug`` plants a mistake for the checkers to catch: ``"noop_refund"`` (the
refund returns without refunding), ``"wrong_order"`` (the orchestrator
compensates first step first), ``"skip_compensation"`` (it undoes only the
step just before the failure), ``"oversell"`` (reserve forgets to check the
stock).

:func:`theory` gives the expected shares of completed, compensated and stuck
sagas; :func:`dirty_refusals` counts the orders refused for stock that a saga
was holding and later gave back (the missing isolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from course.sim import Exponential, Simulation, _validate
from course.sim.data import Broker, Choreography, History, Orchestrator, SagaStep, Store
from course.sim.data.checkers import (CheckResult, Violation, check_money_conserved, check_sagas,
                                      check_stock_never_negative)

STYLES = ("orchestration", "choreography")
BUGS = (None, "noop_refund", "wrong_order", "skip_compensation", "oversell")
CUSTOMERS = ("alice", "bob", "carol", "dave", "erin")
PRICE = 10
#: Defaults scale with the number of orders: stock for 60% of them (so the last ones find it gone), and
#: each customer can pay for 30% of them (their expected share is 20%, so cards are rarely declined).
STOCK_SHARE = 0.6
BALANCE_SHARE = 0.3
SPACING = 0.02
STEP_LATENCY = Exponential(0.02)
BROKER_DELAY = Exponential(0.01)
RETRY_DELAY = 0.5
STEP_NAMES = ("reserve", "charge", "ship")
STOCK_KEY = "stock:widget"


class StepFailed(Exception):
    """A saga step or compensation failed (at random, or for a business reason)."""


@dataclass
class SagaModelResult:
    """One run: every saga's result, counts by status, and the checkers' verdicts."""

    style: str
    results: list
    counts: dict
    sagas: CheckResult           # check_sagas
    stock: CheckResult           # check_stock_never_negative
    money: CheckResult           # check_money_conserved (all balances)
    books: CheckResult           # check_books (stock and balances match the completed orders)
    stock_before: int
    stock_after: int
    balances_before: dict
    balances_after: dict
    history: History = field(repr=False)

    @property
    def valid(self) -> bool:
        """Every checker passed."""
        return bool(self.sagas and self.stock and self.money and self.books)


class _WrongOrderOrchestrator(Orchestrator):
    """Bug: compensates the completed steps first to last instead of last to first."""

    def _unwind(self, result, i, first=0):
        if first > i:
            self._end(result, "compensated")
            return
        self._compensate(result, self.steps[first], lambda: self._unwind(result, i, first + 1))


class _SkippingOrchestrator(Orchestrator):
    """Bug: undoes only the step just before the failure, and forgets the rest."""

    def _unwind(self, result, i):
        if i < 0:
            self._end(result, "compensated")
            return
        self._compensate(result, self.steps[i], lambda: self._end(result, "compensated"))


_BUGGY_ORCHESTRATORS = {"wrong_order": _WrongOrderOrchestrator, "skip_compensation": _SkippingOrchestrator}


def check_books(results, store, stock_before: int, balances_before: dict) -> CheckResult:
    """Stock and each customer's balance end exactly where the completed sagas put them.

    Completed orders took one widget and :data:`PRICE` each; compensated or
    failed ones must have left no trace. (Stuck sagas are left out: their
    books are off by design until someone fixes them by hand.)
    """
    if any(r.status == "running" for r in results):
        return CheckResult(False, [Violation(None, "some sagas are still running")])
    stuck = [r for r in results if r.status == "stuck"]
    completed = [r for r in results if r.status == "completed"]
    violations = []
    if not stuck:
        stock = store.read(STOCK_KEY).value
        if stock != stock_before - len(completed):
            violations.append(Violation(None, f"{STOCK_KEY} is {stock}, but {len(completed)} completed orders from "
                                              f"{stock_before} leave {stock_before - len(completed)}"))
    stuck_customers = {r.ctx["customer"] for r in stuck}
    for customer in CUSTOMERS:
        if customer in stuck_customers:
            continue
        paid = PRICE * sum(1 for r in completed if r.ctx["customer"] == customer)
        balance = store.read(f"balance:{customer}").value
        if balance != balances_before[f"balance:{customer}"] - paid:
            violations.append(Violation(None, f"balance:{customer} is {balance}, but the completed orders charged "
                                              f"{paid} of {balances_before[f'balance:{customer}']}"))
    return CheckResult(not violations, violations)


def _check(style, sagas, step_failure, compensation_failure, compensation_retries, permanent_failure, stock, balance,
           bug):
    _validate.one_of("style", style, STYLES)
    _validate.integer_at_least("sagas", sagas, 1)
    _validate.probability("step_failure", step_failure)
    _validate.probability("compensation_failure", compensation_failure)
    _validate.integer_at_least("compensation_retries", compensation_retries, 0)
    _validate.probability("permanent_failure", permanent_failure)
    _validate.integer_at_least("stock", stock, 0)
    _validate.integer_at_least("balance", balance, 0)
    _validate.one_of("bug", bug, BUGS)
    if bug in ("wrong_order", "skip_compensation") and style != "orchestration":
        raise ValueError(f"bug {bug!r} is a bug in the orchestrator, so style must be 'orchestration', got {style!r}")


def simulate(style: str = "orchestration", sagas: int = 200, step_failure: float = 0.1,
             compensation_failure: float = 0.2, compensation_retries: int = 3, permanent_failure: float = 0.0,
             stock: int | None = None, balance: int | None = None, bug: str | None = None,
             seed: int = 1) -> SagaModelResult:
    """Run ``sagas`` orders through the saga once; see the module docstring."""
    _validate.integer_at_least("sagas", sagas, 1)
    stock = round(STOCK_SHARE * sagas) if stock is None else stock
    balance = PRICE * math.ceil(BALANCE_SHARE * sagas) if balance is None else balance
    _check(style, sagas, step_failure, compensation_failure, compensation_retries, permanent_failure, stock, balance,
           bug)
    sim = Simulation(seed=seed)
    history = History(sim)
    store = Store(sim, name="shop", replicas=0, history=history)
    steps = _steps(sim, store, step_failure, compensation_failure, bug)
    store.write(STOCK_KEY, stock, process="setup")
    for name in (*CUSTOMERS, "shop"):
        store.write(f"balance:{name}", balance if name != "shop" else 0, process="setup")
    balances_before = _balances(store)

    if style == "orchestration":
        cls = _BUGGY_ORCHESTRATORS.get(bug, Orchestrator)
        runner = cls(sim, steps, step_latency=STEP_LATENCY, compensation_retries=compensation_retries,
                     retry_delay=RETRY_DELAY)
    else:
        broker = Broker(sim, name="events", delay=BROKER_DELAY)
        runner = Choreography(sim, broker, steps, step_latency=STEP_LATENCY,
                              compensation_retries=compensation_retries, retry_delay=RETRY_DELAY)
    pick = sim.rng("saga:orders:customer")
    broken = sim.rng("saga:orders:permanent")
    for i in range(sagas):
        ctx = {"customer": CUSTOMERS[pick.below(len(CUSTOMERS))],
               "broken": permanent_failure > 0 and broken.random() < permanent_failure}
        sim.at(i * SPACING, runner.start, f"order-{i}", ctx)
    sim.run()

    results = runner.results
    after = _balances(store)
    return SagaModelResult(style, results, runner.counts(), check_sagas(results), check_stock_never_negative(history),
                           check_money_conserved(balances_before, after),
                           check_books(results, store, stock, balances_before), stock, store.read(STOCK_KEY).value,
                           balances_before, after, history)


def _balances(store) -> dict:
    return {f"balance:{n}": store.read(f"balance:{n}").value for n in (*CUSTOMERS, "shop")}


def _steps(sim, store, step_failure: float, compensation_failure: float, bug):
    """The three services' actions and compensations; each draws its failures from its own stream."""
    fail = {name: sim.rng(f"saga:{name}:failure").random for name in STEP_NAMES}
    undo_fail = {name: sim.rng(f"saga:{name}:compensation_failure").random for name in STEP_NAMES}

    def maybe_fail(name):
        if step_failure and fail[name]() < step_failure:
            raise StepFailed(f"{name} failed")

    def maybe_fail_undo(name, ctx):
        if ctx["broken"] or (compensation_failure and undo_fail[name]() < compensation_failure):
            raise StepFailed(f"compensating {name} failed")

    def add(key, amount, process):
        store.write(key, store.read(key, process=process).value + amount, process=process)

    def reserve(ctx):
        maybe_fail("reserve")
        left = store.read(STOCK_KEY, process=ctx["saga_id"]).value
        if left < 1 and bug != "oversell":
            raise StepFailed("out of stock")
        store.write(STOCK_KEY, left - 1, process=ctx["saga_id"])

    def release(ctx):
        maybe_fail_undo("reserve", ctx)
        add(STOCK_KEY, 1, ctx["saga_id"])

    def charge(ctx):
        maybe_fail("charge")
        account = f"balance:{ctx['customer']}"
        if store.read(account, process=ctx["saga_id"]).value < PRICE:
            raise StepFailed("card declined")
        add(account, -PRICE, ctx["saga_id"])
        add("balance:shop", PRICE, ctx["saga_id"])

    def refund(ctx):
        maybe_fail_undo("charge", ctx)
        if bug == "noop_refund":
            return  # the bug: reports success, refunds nothing
        add("balance:shop", -PRICE, ctx["saga_id"])
        add(f"balance:{ctx['customer']}", PRICE, ctx["saga_id"])

    def ship(ctx):
        maybe_fail("ship")

    return [SagaStep("reserve", reserve, release), SagaStep("charge", charge, refund), SagaStep("ship", ship)]


def compare(sagas: int = 100, seed: int = 1, **settings) -> dict:
    """The same orders under both styles: ``{style: SagaModelResult}``, for side-by-side plots."""
    return {style: simulate(style, sagas, seed=seed, **settings) for style in STYLES}


def sequence(result, saga_index: int = 0) -> list:
    """One saga's timeline as rows ``(service, kind, start, end, ok)`` for a sequence diagram."""
    r = result.results[saga_index]
    return [(e.step, e.kind, e.time_start, e.time_end, e.ok) for e in r.events]


def theory(step_failure: float, compensation_failure: float, retries: int) -> dict:
    """Expected shares of completed, compensated and stuck sagas with plenty of stock and money.

    A saga completes with probability (1 − p)³. It fails at step k with
    probability (1 − p)^(k−1)·p and then needs k − 1 compensations; each
    gives up after ``retries`` + 1 failed attempts, probability q^(retries+1),
    so the saga is stuck with probability 1 − (1 − q^(retries+1))^(k−1).
    """
    p = np.asarray(step_failure, dtype=float)
    give_up = np.asarray(compensation_failure, dtype=float) ** (retries + 1)
    n = len(STEP_NAMES)
    stuck = sum((1 - p) ** (k - 1) * p * (1 - (1 - give_up) ** (k - 1)) for k in range(1, n + 1))
    completed = (1 - p) ** n
    return {"completed": completed, "compensated": 1 - completed - stuck, "stuck": stuck}


def dirty_refusals(run) -> tuple[int, int]:
    """(out-of-stock refusals, those made while a later-released reservation held a widget).

    A refusal is a read of the stock that returned 0 (the random failure of
    ``reserve`` happens before it reads). A hold is the time from a
    successful reserve to its successful release.
    """
    holds = []
    for r in run.results:
        got = [e.time_end for e in r.events if e.step == "reserve" and e.kind == "action" and e.ok]
        back = [e.time_end for e in r.events if e.step == "reserve" and e.kind == "compensation" and e.ok]
        if got and back:
            holds.append((got[0], back[0]))
    refusals = dirty = 0
    for op in run.history.ops:
        if op.type == "ok" and op.f == "read" and op.key == STOCK_KEY and op.value and op.value[0] == 0:
            refusals += 1
            dirty += any(start <= op.time < end for start, end in holds)
    return refusals, dirty
