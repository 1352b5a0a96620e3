"""Lesson 05's sequence-diagram saga: one order saga with the failure the learner picks.

One order runs through three services after the order service accepts it:
inventory reserves a widget, payment charges the card, shipping books a
courier. :func:`run_one` fails the chosen step (if any) and makes the
compensations behave as chosen, runs the saga on
:class:`~course.sim.data.Orchestrator` or
:class:`~course.sim.data.Choreography`, and returns its
:class:`~course.sim.data.SagaResult` with the messages to draw as arrows.
(:mod:`course.models.saga` runs many such sagas with failures at random.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from course.models import saga as saga_model
from course.sim import Simulation, _validate
from course.sim.data import Broker, Choreography, Orchestrator, SagaStep
from course.sim.data.checkers import CheckResult, check_sagas

SERVICES = ("order", "inventory", "payment", "shipping")
STEPS = ("reserve", "charge", "ship")
STEP_SERVICE = {"reserve": "inventory", "charge": "payment", "ship": "shipping"}
ACTION_TEXT = {"reserve": "reserve widget", "charge": "charge card", "ship": "book courier"}
UNDO_TEXT = {"reserve": "release widget", "charge": "refund card"}
FAIL_STEPS = ("none",) + STEPS
COMPENSATION_MODES = ("never", "once", "always")
#: Each compensation is retried this many times, this far apart, before the saga is stuck.
RETRIES = 3
RETRY_DELAY = 0.1
PRICE = saga_model.PRICE
#: In orchestration a step's latency draw is the whole round trip; the diagram gives the command and the
#: reply this share of it each, and the service's work the rest.
TRANSIT_SHARE = 0.2


class StepFailed(Exception):
    """A step or a compensation failed (on purpose: the learner chose it)."""


@dataclass
class OneSaga:
    """One saga's run: its record, the messages drawn as arrows, and what the services were left holding."""

    style: str
    fail_step: str
    compensation: str
    seed: int
    result: object                     # SagaResult
    messages: list                     # (sent, received, from_service, to_service, label)
    check: CheckResult                 # check_sagas on this saga
    held: dict = field(default_factory=dict)  # "widget": 0/1 still reserved, "charged": money not refunded

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def events(self) -> list:
        return self.result.events

    def compensation_order(self) -> list[str]:
        """The steps whose compensation succeeded, in the order they were undone."""
        return self.result.compensated_steps()


def _check(style, fail_step, compensation, seed) -> None:
    _validate.one_of("style", style, saga_model.STYLES)
    _validate.one_of("fail_step", fail_step, FAIL_STEPS)
    _validate.one_of("compensation", compensation, COMPENSATION_MODES)
    _validate.integer_at_least("seed", seed, 0)


def _steps(fail_step: str, compensation: str) -> list:
    def action(name):
        def run(ctx):
            if name == fail_step:
                raise StepFailed(f"{name} failed")
            if name == "reserve":
                ctx["widget"] = 1
            elif name == "charge":
                ctx["charged"] = PRICE
        return run

    def undo(name):
        def run(ctx):
            tries = ctx.setdefault("undo_tries", {})
            tries[name] = tries.get(name, 0) + 1
            if compensation == "always" or (compensation == "once" and tries[name] == 1):
                raise StepFailed(f"compensating {name} failed")
            if name == "reserve":
                ctx["widget"] = 0
            else:
                ctx["charged"] = 0
        return run

    return [SagaStep("reserve", action("reserve"), undo("reserve")),
            SagaStep("charge", action("charge"), undo("charge")), SagaStep("ship", action("ship"))]


def _topic_route(topic: str) -> tuple[str, str]:
    """Which service sent a choreography event and which one it was for."""
    if topic == "saga.started":
        return "order", STEP_SERVICE[STEPS[0]]
    step, what = topic.rsplit(".", 1)
    i = STEPS.index(step)
    if what == "done":
        return STEP_SERVICE[step], "order" if i == len(STEPS) - 1 else STEP_SERVICE[STEPS[i + 1]]
    return STEP_SERVICE[step], "order" if i == 0 else STEP_SERVICE[STEPS[i - 1]]


@lru_cache(maxsize=256)
def run_one(style: str = "orchestration", fail_step: str = "ship", compensation: str = "never",
            seed: int = 1) -> OneSaga:
    """Run one order saga with the chosen failure; see the module docstring.

    ``fail_step``: ``"none"`` or the step whose action fails. ``compensation``:
    ``"never"`` (compensations always work), ``"once"`` (each fails on its first
    attempt, then works) or ``"always"`` (each keeps failing, so after
    :data:`RETRIES` retries the saga is stuck).
    """
    _check(style, fail_step, compensation, seed)
    sim = Simulation(seed=seed)
    steps = _steps(fail_step, compensation)
    if style == "orchestration":
        runner = Orchestrator(sim, steps, step_latency=saga_model.STEP_LATENCY, compensation_retries=RETRIES,
                              retry_delay=RETRY_DELAY)
    else:
        broker = Broker(sim, name="events", delay=saga_model.BROKER_DELAY)
        runner = Choreography(sim, broker, steps, step_latency=saga_model.STEP_LATENCY,
                              compensation_retries=RETRIES, retry_delay=RETRY_DELAY)
    result = runner.start("order-1", {})
    sim.run()
    if style == "orchestration":  # the orchestrator in the order service sends a command and hears a reply
        messages = []
        for e in result.events:
            service = STEP_SERVICE[e.step]
            verb = ACTION_TEXT[e.step] if e.kind == "action" else UNDO_TEXT[e.step]
            hop = TRANSIT_SHARE * (e.time_end - e.time_start)
            messages.append((e.time_start, e.time_start + hop, "order", service, verb))
            messages.append((e.time_end - hop, e.time_end, service, "order", "ok" if e.ok else "failed"))
    else:
        messages = [(sent, received, *_topic_route(topic), topic) for sent, received, topic in result.messages]
    held = {"widget": result.ctx.get("widget", 0), "charged": result.ctx.get("charged", 0)}
    return OneSaga(style, fail_step, compensation, seed, result, messages, check_sagas([result]), held)
