"""Lesson 09's checkout design: the choices a candidate makes, as plain values.

A :class:`Design` says, for each edge out of the orders service (to
inventory and to payments), whether it is a synchronous call or a message,
and which resilience policies guard a call; whether requests carry
idempotency keys; how the order spans the services (a saga, orchestrated
or choreographed, or a two-phase commit); and whether the order's event is a
second write beside the order (``"dual_write"``) or sits in an outbox in the
same transaction (``"outbox"``). :mod:`course.models.checkout` runs a design
under the interviewer's scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from course.sim import _validate

MODES = ("sync", "message")
TRANSACTIONS = ("orchestration", "choreography", "2pc")
EVENTS = ("dual_write", "outbox")
EDGES = ("inventory", "payments")


@dataclass(frozen=True)
class Edge:
    """How the orders service reaches one dependency.

    ``mode`` is ``"sync"`` (a call that holds an orders worker until it
    answers) or ``"message"`` (a command on the broker, handled when the
    dependency gets to it). For a synchronous call: ``timeout`` in seconds
    (None waits for ever); ``retries`` after the first attempt; whether those
    retries draw on a ``retry_budget`` (10% of requests); a circuit
    ``breaker``; and a ``fallback`` when the call fails (inventory: assume
    the item is in stock; payments: take the order and charge the card
    later). A message edge is retried by the broker until it is handled, so
    the call policies do not apply to it.
    """

    mode: str = "sync"
    timeout: float | None = None
    retries: int = 0
    retry_budget: bool = False
    breaker: bool = False
    fallback: bool = False

    def __post_init__(self):
        _validate.one_of("mode", self.mode, MODES)
        if self.timeout is not None:
            _validate.positive("timeout", self.timeout)
        _validate.integer_at_least("retries", self.retries, 0)
        for name in ("retry_budget", "breaker", "fallback"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def is_sync(self) -> bool:
        return self.mode == "sync"


@dataclass(frozen=True)
class Design:
    """A checkout design: one :class:`Edge` per dependency and the consistency choices.

    ``choreography`` means every edge is a message (services react to each
    other's events, nobody calls anybody), and ``"2pc"`` means every edge is
    a synchronous call (a coordinator needs every participant's vote), so
    :attr:`effective` says what runs.
    """

    inventory: Edge = field(default_factory=Edge)
    payments: Edge = field(default_factory=Edge)
    idempotency_keys: bool = False
    transaction: str = "orchestration"
    events: str = "dual_write"

    def __post_init__(self):
        for name in EDGES:
            if not isinstance(getattr(self, name), Edge):
                raise ValueError(f"{name} must be an Edge, got {getattr(self, name)!r}")
        if not isinstance(self.idempotency_keys, bool):
            raise ValueError(f"idempotency_keys must be True or False, got {self.idempotency_keys!r}")
        _validate.one_of("transaction", self.transaction, TRANSACTIONS)
        _validate.one_of("events", self.events, EVENTS)

    def edge(self, name: str) -> Edge:
        """The edge to ``name`` (``"inventory"`` or ``"payments"``)."""
        return getattr(self, _validate.one_of("edge", name, EDGES))

    @property
    def effective(self) -> "Design":
        """This design with the edge modes its transaction style forces."""
        if self.transaction == "choreography":
            forced = "message"
        elif self.transaction == "2pc":
            forced = "sync"
        else:
            return self
        return replace(self, inventory=replace(self.inventory, mode=forced),
                       payments=replace(self.payments, mode=forced))

    def with_edge(self, name: str, **changes) -> "Design":
        """A copy with the edge to ``name`` changed, e.g. ``design.with_edge("payments", timeout=1.0)``."""
        return replace(self, **{name: replace(self.edge(name), **changes)})


#: The first draft many candidates give: every call synchronous and unguarded, a second write for the event.
FIRST_DRAFT = Design()

#: Calls guarded the way lessons 01-03 teach, keys on every request, the event in an outbox.
GUARDED_CALLS = Design(
    inventory=Edge("sync", timeout=0.5, retries=2, retry_budget=True, breaker=True, fallback=False),
    payments=Edge("sync", timeout=2.0, retries=2, retry_budget=True, breaker=True, fallback=True),
    idempotency_keys=True, transaction="orchestration", events="outbox")

#: Lesson 05's shape: an orchestrated saga whose steps are messages, keys everywhere, the event in an outbox.
STRONG = Design(
    inventory=Edge("message"),
    payments=Edge("message"),
    idempotency_keys=True, transaction="orchestration", events="outbox")

PRESETS = {"first draft": FIRST_DRAFT, "guarded calls": GUARDED_CALLS, "strong": STRONG}
