"""Sagas (Garcia-Molina and Salem, 1987): local steps with compensations, run two ways.

A saga is a list of :class:`SagaStep`. Either every action T1..Tn succeeds,
or the actions T1..Tj that did succeed are undone by their compensations in
reverse order, Cj..C1. The step that failed is not compensated: its action
is assumed to have changed nothing (a failed local transaction rolls back).
The last step needs no compensation, because nothing after it can fail.

* :class:`Orchestrator`: one coordinator calls each service in turn and,
  when a step fails, calls the compensations itself.
* :class:`Choreography`: no coordinator; each service listens on the
  :class:`~course.sim.data.broker.Broker` for the event of the step before
  it, and publishes ``"<step>.done"`` or ``"<step>.failed"``. A failure
  travels back as ``"<step>.failed"`` / ``"<step>.compensated"`` events, and
  each service compensates when it hears the one after it has failed or
  compensated.

Both keep one :class:`SagaResult` per saga with the same event timeline, so
they can be drawn side by side as sequence diagrams. A compensation that
raises is retried ``compensation_retries`` times, ``retry_delay`` seconds
apart; after that the saga is ``"stuck"`` (in a real system: someone gets
paged) and the earlier steps are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from .. import _validate
from ..latency import Constant, Latency
from .broker import latency_arg

STATUSES = ("running", "completed", "compensated", "stuck")


@dataclass(frozen=True)
class SagaStep:
    """One local transaction of a saga: ``action(ctx)`` and its ``compensation(ctx)``.

    Both return normally on success and raise (any exception) on failure.
    ``ctx`` is a dict shared by the steps of one saga; it holds ``"saga_id"``.
    """

    name: str
    action: Callable
    compensation: Callable | None = None


class SagaEvent(NamedTuple):
    """One attempt at an action or a compensation: a bar on a sequence diagram."""

    time_start: float
    time_end: float
    step: str
    kind: str       # "action" or "compensation"
    ok: bool


@dataclass
class SagaResult:
    """What happened to one saga.

    ``status`` is ``"running"`` until the saga ends ``"completed"``,
    ``"compensated"`` (a step failed and every completed step before it was
    compensated) or ``"stuck"`` (a compensation kept failing). ``events`` holds
    every attempt in time order; ``messages`` (choreography only) holds
    ``(sent, received, topic)`` for the events that crossed the broker.
    """

    saga_id: object
    status: str = "running"
    events: list = field(default_factory=list)
    failed_step: str | None = None
    stuck_step: str | None = None
    started: float = 0.0
    ended: float | None = None
    messages: list = field(default_factory=list)
    ctx: dict = field(default_factory=dict, repr=False)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while running)."""
        return None if self.ended is None else self.ended - self.started

    def completed_actions(self) -> list[str]:
        """The names of the steps whose action succeeded, in order."""
        return [e.step for e in self.events if e.kind == "action" and e.ok]

    def compensated_steps(self) -> list[str]:
        """The names of the steps whose compensation succeeded, in the order they ran."""
        return [e.step for e in self.events if e.kind == "compensation" and e.ok]


def _check_steps(steps) -> list[SagaStep]:
    steps = list(steps)
    if not steps:
        raise ValueError("steps must hold at least one SagaStep, got none")
    names = set()
    for i, step in enumerate(steps):
        if not isinstance(step, SagaStep):
            raise ValueError(f"steps[{i}] must be a SagaStep, got {step!r}")
        if not callable(step.action):
            raise ValueError(f"step {step.name!r}: action must be callable, got {step.action!r}")
        if step.compensation is not None and not callable(step.compensation):
            raise ValueError(f"step {step.name!r}: compensation must be callable or None, got {step.compensation!r}")
        if step.name in names:
            raise ValueError(f"step names must be unique; {step.name!r} appears twice")
        names.add(step.name)
        if step.compensation is None and i < len(steps) - 1:
            raise ValueError(f"step {step.name!r} has no compensation: every step except the last needs one "
                             f"(only the last step, {steps[-1].name!r}, may leave it out)")
    return steps


class _SagaRunner:
    """What both styles share: validation, latency draws, timed attempts and the history."""

    def __init__(self, sim, steps, step_latency: Latency, compensation_retries: int, retry_delay: float,
                 history, name: str):
        self.sim = sim
        self.steps = _check_steps(steps)
        self.step_latency = latency_arg("step_latency", step_latency)
        self.compensation_retries = _validate.integer_at_least("compensation_retries", compensation_retries, 0)
        self.retry_delay = _validate.non_negative("retry_delay", retry_delay)
        self.history = history
        self.name = name
        self._draw = step_latency.sampler(sim.rng(f"saga:{name}:latency"))
        self.results: list[SagaResult] = []
        self._by_id: dict = {}

    def _new(self, saga_id, ctx) -> SagaResult:
        if saga_id in self._by_id:
            raise ValueError(f"saga_id {saga_id!r} was already started; each saga needs its own id")
        ctx = {} if ctx is None else ctx
        ctx.setdefault("saga_id", saga_id)
        result = SagaResult(saga_id, started=self.sim.now(), ctx=ctx)
        self.results.append(result)
        self._by_id[saga_id] = result
        return result

    def _attempt(self, result: SagaResult, step: SagaStep, kind: str, then) -> None:
        """Run ``step``'s action or compensation: it takes a latency draw, then ``then(ok)`` is called."""
        start = self.sim.now()
        invoke = None if self.history is None else self.history.invoke(result.saga_id, kind, step.name)
        self.sim.schedule(self._draw(), self._finish, result, step, kind, start, invoke, then)

    def _finish(self, result, step, kind, start, invoke, then) -> None:
        fn = step.action if kind == "action" else step.compensation
        try:
            fn(result.ctx)
            ok = True
        except Exception:  # a failed step, whatever it raised
            ok = False
        result.events.append(SagaEvent(start, self.sim.now(), step.name, kind, ok))
        if invoke is not None:
            (self.history.ok if ok else self.history.fail)(invoke)
        then(ok)

    def _compensate(self, result: SagaResult, step: SagaStep, then, attempt: int = 0) -> None:
        """Compensate ``step`` with retries; ``then()`` once it succeeded. Marks the saga stuck otherwise."""
        def done(ok):
            if ok:
                then()
            elif attempt < self.compensation_retries:
                self.sim.schedule(self.retry_delay, self._compensate, result, step, then, attempt + 1)
            else:
                self._end(result, "stuck")
                result.stuck_step = step.name
        self._attempt(result, step, "compensation", done)

    def _end(self, result: SagaResult, status: str) -> None:
        result.status = status
        result.ended = self.sim.now()

    def counts(self) -> dict:
        """How many sagas are in each status."""
        counts = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            counts[r.status] += 1
        return counts


class Orchestrator(_SagaRunner):
    """A coordinator that runs the steps in order and compensates in reverse when one fails.

    Each action and each compensation attempt takes a draw from
    ``step_latency`` (stream ``saga:<name>:latency``); the callable runs at the
    end of it. With a ``history``, every attempt is recorded with the saga id
    as the process, ``f`` = ``"action"`` or ``"compensation"`` and ``key`` = the
    step name.
    """

    def __init__(self, sim, steps, step_latency: Latency = Constant(0.05), compensation_retries: int = 3,
                 retry_delay: float = 0.5, history=None, name: str = "orchestrator"):
        super().__init__(sim, steps, step_latency, compensation_retries, retry_delay, history, name)

    def start(self, saga_id, ctx: dict | None = None) -> SagaResult:
        """Begin saga ``saga_id`` now (it runs as the simulation runs); returns its result record."""
        result = self._new(saga_id, ctx)
        self._step(result, 0)
        return result

    def _step(self, result: SagaResult, i: int) -> None:
        if i == len(self.steps):
            self._end(result, "completed")
            return

        def done(ok):
            if ok:
                self._step(result, i + 1)
            else:
                result.failed_step = self.steps[i].name
                self._unwind(result, i - 1)
        self._attempt(result, self.steps[i], "action", done)

    def _unwind(self, result: SagaResult, i: int) -> None:
        if i < 0:
            self._end(result, "compensated")
            return
        self._compensate(result, self.steps[i], lambda: self._unwind(result, i - 1))


class Choreography(_SagaRunner):
    """The same saga without a coordinator: services react to each other's events on ``broker``.

    Topics (``prefix`` is prepended to each): ``"saga.started"`` starts step 0;
    step i listens to ``"<step i-1>.done"`` and publishes ``"<step i>.done"`` or
    ``"<step i>.failed"``; step i-1 listens to ``"<step i>.failed"`` and
    ``"<step i>.compensated"``, compensates and publishes
    ``"<step i-1>.compensated"``. The saga is completed when the last step's
    ``.done`` is heard, compensated when the first step's ``.failed`` or
    ``.compensated`` is. Services ignore a message id they have already
    handled, so broker duplicates do not run a step twice.
    """

    def __init__(self, sim, broker, steps, step_latency: Latency = Constant(0.05), compensation_retries: int = 3,
                 retry_delay: float = 0.5, history=None, name: str = "choreography", prefix: str = ""):
        super().__init__(sim, steps, step_latency, compensation_retries, retry_delay, history, name)
        self.broker = broker
        self.prefix = prefix
        self._seen: set = set()
        steps = self.steps
        topic = self._topic
        for i, step in enumerate(steps):
            trigger = topic("saga.started") if i == 0 else topic(f"{steps[i - 1].name}.done")
            broker.subscribe(trigger, self._handler(self._on_trigger, i))
            if i + 1 < len(steps):
                broker.subscribe(topic(f"{steps[i + 1].name}.failed"), self._handler(self._on_undo, i))
                broker.subscribe(topic(f"{steps[i + 1].name}.compensated"), self._handler(self._on_undo, i))
        # the saga's own bookkeeping listens for the ends, as a tracking service would
        broker.subscribe(topic(f"{steps[-1].name}.done"), self._handler(self._on_end, "completed"))
        broker.subscribe(topic(f"{steps[0].name}.failed"), self._handler(self._on_end, "compensated"))
        if len(steps) > 1:
            broker.subscribe(topic(f"{steps[0].name}.compensated"), self._handler(self._on_end, "compensated"))

    def _topic(self, name: str) -> str:
        return self.prefix + name

    def _handler(self, fn, arg):
        def handle(message):
            key = (fn, arg, message.id)
            if key in self._seen:  # a duplicate: this service already handled it
                return
            self._seen.add(key)
            result = self._by_id[message.payload]
            result.messages.append((message.sent_at, self.sim.now(), message.topic))
            fn(result, arg)
        return handle

    def start(self, saga_id, ctx: dict | None = None) -> SagaResult:
        """Begin saga ``saga_id`` by publishing ``"saga.started"``; returns its result record."""
        result = self._new(saga_id, ctx)
        self._publish(result, "saga.started")
        return result

    def _publish(self, result: SagaResult, event: str) -> None:
        topic = self._topic(event)
        self.broker.publish(topic, result.saga_id, message_id=f"{result.saga_id}:{topic}")

    def _on_trigger(self, result: SagaResult, i: int) -> None:
        step = self.steps[i]

        def done(ok):
            if not ok:
                result.failed_step = step.name
            self._publish(result, f"{step.name}.{'done' if ok else 'failed'}")
        self._attempt(result, step, "action", done)

    def _on_undo(self, result: SagaResult, i: int) -> None:
        step = self.steps[i]
        self._compensate(result, step, lambda: self._publish(result, f"{step.name}.compensated"))

    def _on_end(self, result: SagaResult, status: str) -> None:
        self._end(result, status)
