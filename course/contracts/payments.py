"""The payments provider of lesson 06, its variants, and a hand-written test double.

:class:`PaymentsProvider` is a small real service: an in-memory store behind
``GET /payments/{id}`` and ``POST /payments``, served on loopback with
:func:`course.loopback.serve`::

    from course.loopback import serve
    payments = PaymentsProvider("v1")
    with serve(payments.app, name="payments") as server:
        ...  # server.url

Each variant is one small, named change to ``v1``, the provider the orders
team wrote their client against (see :data:`VARIANTS`). Three of them break
the consumer (:data:`BREAKING`), two do not (:data:`HARMLESS`).

Provider states are what a pact's ``given(...)`` asks for before an
interaction is replayed. :meth:`PaymentsProvider.set_state` sets them up; its
signature ``(state, action, parameters)`` is the one pact-python's
``Verifier.state_handler(function, teardown=True)`` calls with. The states
are :data:`PAYMENT_EXISTS`, :data:`NO_PAYMENT` and :data:`ORDER_CHARGEABLE`;
a state it does not know is recorded in ``state_problems``, never raised
(pact's verifier retries a failing state handler for about two minutes).

:func:`hand_written_double` is the stand-in the orders team wrote for their
unit tests, from what payments looked like when they wrote it. It never
changes when the real provider does, which is the whole problem.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from course.loopback import Request, Response

__all__ = [
    "BREAKING",
    "HARMLESS",
    "NO_PAYMENT",
    "ORDER_CHARGEABLE",
    "PAYMENT_EXISTS",
    "STATES",
    "STATE_TIME",
    "VARIANTS",
    "PaymentsProvider",
    "hand_written_double",
]

VARIANTS: dict[str, str] = {
    "v1": "the provider the orders client was written against",
    "renamed_field": "amount_cents is renamed to amount",
    "changed_status": "POST /payments answers 200 OK instead of 201 Created",
    "optional_field": "created_at is null until a payment is captured",
    "added_field": "every payment gains a new field, method (orders never reads it)",
    "changed_unused_field": "updated_at, which orders never reads, becomes epoch seconds",
}
"""Variant name -> its one change, in words."""

BREAKING: tuple[str, ...] = ("renamed_field", "changed_status", "optional_field")
"""Variants that break the orders client."""

HARMLESS: tuple[str, ...] = ("added_field", "changed_unused_field")
"""Variants that change the provider without breaking the orders client."""

PAYMENT_EXISTS = "payment p-1 exists"
"""State: a captured payment p-1 of 1250 EUR for order o-1, created at :data:`STATE_TIME`.

Parameters, all optional, override its fields: ``id``, ``order_id``,
``amount_cents``, ``currency``, ``status``.
"""
NO_PAYMENT = "no payment p-404"
"""State: the store is empty, so ``GET /payments/p-404`` answers 404."""
ORDER_CHARGEABLE = "order o-7 can be charged"
"""State: an empty store whose next payment is p-1001, created at :data:`STATE_TIME`."""
STATES: tuple[str, ...] = (PAYMENT_EXISTS, NO_PAYMENT, ORDER_CHARGEABLE)

STATE_TIME = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
"""The provider's clock while a provider state is set up (pinned, as a test would)."""

_PAYMENT_PATH = re.compile(r"^/payments/([^/]+)$")
_FIRST_ID = 1001


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PaymentsProvider:
    """The payments service: an in-memory store of payments behind a tiny HTTP API.

    ``variant`` is a key of :data:`VARIANTS`. ``clock`` returns the current
    time (aware datetime) when no provider state has pinned it; it defaults to
    the real clock. Thread-safe: the server handles requests on many threads.
    """

    def __init__(self, variant: str = "v1", *, clock: Callable[[], datetime] | None = None):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if clock is not None and not callable(clock):
            raise ValueError(f"clock must be callable, got {clock!r}")
        self.variant = variant
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self.state_problems: list[str] = []
        """Provider states asked for that this provider could not set up (see :meth:`set_state`)."""
        self.reset()

    def __repr__(self) -> str:
        return f"PaymentsProvider({self.variant!r})"

    # -- the store -------------------------------------------------------

    def reset(self) -> None:
        """Empty the store, forget idempotency keys and unpin the clock."""
        with self._lock:
            self._payments: dict[str, dict[str, Any]] = {}
            self._by_key: dict[str, str] = {}
            self._next_id = _FIRST_ID
            self._pinned: datetime | None = None

    def add_payment(self, payment_id: str, order_id: str, amount_cents: int, currency: str,
                    status: str = "captured", created_at: datetime = STATE_TIME) -> None:
        """Put a payment in the store (what a provider state does)."""
        with self._lock:
            self._payments[payment_id] = {
                "id": payment_id, "order_id": order_id, "amount_cents": amount_cents, "currency": currency,
                "status": status, "created_at": created_at, "updated_at": created_at + timedelta(minutes=5),
            }

    # -- provider states ---------------------------------------------------

    def set_state(self, state: str, action: str = "setup", parameters: Mapping[str, Any] | None = None) -> None:
        """Set up (or tear down) a provider state; the function pact's Verifier calls.

        ``action`` is ``"setup"`` or ``"teardown"``. Pact also sends the
        empty state ``""`` as a generic hook, which is ignored.

        A state this provider does not know (or a parameter it does not
        take) is not raised: it is recorded in :attr:`state_problems` and the
        store is left empty, so the interaction fails on its own answer. The
        reason is pact's verifier: when a state handler fails it retries the
        state change seven times with doubling waits, about two minutes per
        interaction, before reporting it.
        """
        if action not in ("setup", "teardown"):
            raise ValueError(f"action must be 'setup' or 'teardown', got {action!r}")
        if state == "":
            return
        self.reset()
        if action == "teardown":
            return
        if state not in STATES:
            self.state_problems.append(
                f"unknown provider state {state!r}; this provider knows {', '.join(map(repr, STATES))}")
            return
        with self._lock:
            self._pinned = STATE_TIME
        if state == PAYMENT_EXISTS:
            fields = {"id": "p-1", "order_id": "o-1", "amount_cents": 1250, "currency": "EUR", "status": "captured"}
            unknown = set(parameters or {}) - set(fields)
            if unknown:
                self.state_problems.append(f"state {state!r} has no parameter(s) {', '.join(sorted(unknown))}")
                return
            fields.update(parameters or {})
            self.add_payment(fields["id"], fields["order_id"], fields["amount_cents"], fields["currency"],
                             fields["status"])

    # -- HTTP ----------------------------------------------------------------

    def app(self, request: Request) -> Response:
        """Answer one HTTP request (the function to pass to ``course.loopback.serve``)."""
        match = _PAYMENT_PATH.match(request.path)
        if match:
            if request.method != "GET":
                return Response(405, {"error": "use GET"}, {"Allow": "GET"})
            return self._get(match.group(1))
        if request.path == "/payments":
            if request.method != "POST":
                return Response(405, {"error": "use POST"}, {"Allow": "POST"})
            return self._charge(request)
        return Response(404, {"error": f"no route {request.path}"})

    def _get(self, payment_id: str) -> Response:
        with self._lock:
            record = self._payments.get(payment_id)
        if record is None:
            return Response(404, {"error": f"no payment {payment_id}"})
        return Response(200, self.render(record))

    def _charge(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return Response(400, {"error": "the Idempotency-Key header is required"})
        try:
            body = request.json()
        except ValueError:
            body = None
        problem = _charge_problem(body)
        if problem:
            return Response(400, {"error": problem})
        with self._lock:
            existing = self._by_key.get(key)
            if existing is None:
                now = self._pinned or self._clock()
                existing = f"p-{self._next_id}"
                self._next_id += 1
                self._payments[existing] = {
                    "id": existing, "order_id": body["order_id"], "amount_cents": body["amount_cents"],
                    "currency": body["currency"], "status": "pending", "created_at": now, "updated_at": now,
                }
                self._by_key[key] = existing
            record = self._payments[existing]
        status = 200 if self.variant == "changed_status" else 201
        return Response(status, self.render(record), {"Location": f"/payments/{existing}"})

    def render(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A stored payment as this variant sends it."""
        body: dict[str, Any] = {
            "id": record["id"],
            "order_id": record["order_id"],
            "amount_cents": record["amount_cents"],
            "currency": record["currency"],
            "status": record["status"],
            "created_at": _iso(record["created_at"]),
            "updated_at": _iso(record["updated_at"]),
        }
        if self.variant == "renamed_field":
            body["amount"] = body.pop("amount_cents")
        elif self.variant == "optional_field" and record["status"] != "captured":
            body["created_at"] = None
        elif self.variant == "added_field":
            body["method"] = "card"
        elif self.variant == "changed_unused_field":
            body["updated_at"] = int(record["updated_at"].timestamp())
        return body


def _charge_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    for name, kind in (("order_id", str), ("amount_cents", int), ("currency", str)):
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool) or not value:
            return f"{name} must be a non-empty {kind.__name__}"
    if body["amount_cents"] <= 0:
        return "amount_cents must be positive"
    return None


def hand_written_double(request: Request) -> Response:
    """The orders team's hand-written stand-in for payments, frozen at what v1 looked like.

    It knows one payment, p-1, answers 404 for any other id, and accepts any
    charge with a fixed pending payment p-1001. It checks nothing the real
    provider checks and will never learn about the provider's next change.
    """
    if request.method == "GET" and request.path == "/payments/p-1":
        return Response(200, {"id": "p-1", "amount_cents": 1250, "currency": "EUR", "status": "captured",
                              "created_at": "2026-11-30T12:00:00Z"})
    if request.method == "GET" and request.path.startswith("/payments/"):
        return Response(404, {"error": "not found"})
    if request.method == "POST" and request.path == "/payments":
        order = request.json() or {}
        return Response(201, {"id": "p-1001", "amount_cents": order.get("amount_cents", 0),
                              "currency": order.get("currency", "EUR"), "status": "pending",
                              "created_at": "2026-11-30T12:00:00Z"})
    return Response(404, {"error": "not found"})
