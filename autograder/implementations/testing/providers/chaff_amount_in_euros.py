"""A payments provider with one bug: ``amount_cents`` holds euros, a decimal number (12.5)."""

from __future__ import annotations

import re
import threading

from course.loopback import Response

STATES = ("payment p-1 exists", "no payment p-404", "order o-7 can be charged")
#: The payment "payment p-1 exists" sets up; the state's parameters may override any of these fields.
PAYMENT_1 = {"id": "p-1", "order_id": "o-1", "amount_cents": 1250, "currency": "EUR", "status": "captured"}
#: This provider's clock, pinned so that every run answers the same: p-1's creation and every new charge.
NOW = "2026-11-30T12:00:00Z"
_PAYMENT_PATH = re.compile(r"^/payments/([^/]+)$")


class PaymentsProvider:
    """An in-memory payments service: ``app`` answers HTTP requests, ``set_state`` sets up pact's provider states."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payments: dict[str, dict] = {}
        self._by_key: dict[str, str] = {}
        #: What set_state could not do, in words (for the instructor's logs and feedback).
        self.problems: list[str] = []
        self._next_id = 1001

    def set_state(self, state: str, action: str = "setup", parameters: dict | None = None) -> None:
        """Set up one provider state, or tear it down (which empties the store): pact's state handler.

        It never raises for what a pact asks, since pact's verifier retries a state change that fails, for
        about two minutes. A state it does not know, or a parameter it does not take, is noted in
        ``problems`` and otherwise ignored; the empty state (pact's hook around an interaction that has
        none) needs nothing.
        """
        if action not in ("setup", "teardown"):
            raise ValueError(f"action must be 'setup' or 'teardown', not {action!r}")
        with self._lock:
            if action == "teardown":
                self._payments.clear()
                self._by_key.clear()
            elif state == "payment p-1 exists":
                fields = dict(PAYMENT_1)
                for name, value in (parameters or {}).items():
                    if name in fields and type(value) is type(fields[name]):
                        fields[name] = value
                    else:
                        self.problems.append(f"provider state {state!r} takes no parameter {name}={value!r}")
                self._payments[fields["id"]] = self._payment(created_at=NOW, **fields)
            elif state == "no payment p-404":
                self._payments.pop("p-404", None)
            elif state and state != "order o-7 can be charged":  # that one needs nothing: any order can be charged
                self.problems.append(f"unknown provider state {state!r}; this provider knows "
                                     f"{', '.join(map(repr, STATES))}")

    def app(self, request) -> Response:
        """Route one request: ``GET /payments/{id}`` and ``POST /payments``."""
        found = _PAYMENT_PATH.match(request.path)
        if found and request.method == "GET":
            return self.get_payment(found.group(1))
        if request.path == "/payments" and request.method == "POST":
            return self.charge(request)
        if found or request.path == "/payments":
            return Response(405, {"error": "method not allowed"})
        return Response(404, {"error": "no such route"})

    def get_payment(self, payment_id: str) -> Response:
        with self._lock:
            payment = self._payments.get(payment_id)
        if payment is None:
            return Response(404, {"error": "payment not found"})
        return Response(200, payment)

    def charge(self, request) -> Response:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return Response(400, {"error": "the Idempotency-Key header is required"})
        try:
            body = request.json()
        except ValueError:
            return Response(400, {"error": "the body must be JSON"})
        problem = _invalid_charge(body)
        if problem:
            return Response(400, {"error": problem})
        with self._lock:
            if key not in self._by_key:  # a repeated key gets the payment it made the first time
                payment_id = f"p-{self._next_id}"
                self._next_id += 1
                self._payments[payment_id] = self._payment(payment_id, body["order_id"], body["amount_cents"],
                                                           body["currency"], "pending", NOW)
                self._by_key[key] = payment_id
            payment = self._payments[self._by_key[key]]
        return Response(201, payment)

    @staticmethod
    def _payment(id, order_id, amount_cents, currency, status, created_at) -> dict:  # noqa: A002
        return {"id": id, "order_id": order_id, "amount_cents": amount_cents / 100, "currency": currency,
                "status": status, "created_at": created_at, "updated_at": created_at}


def _invalid_charge(body) -> str:
    """Why a charge request's body is unacceptable ("" if it is fine)."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("order_id"), str) or not body["order_id"]:
        return "order_id must be a non-empty string"
    amount = body.get("amount_cents")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "amount_cents must be a whole number above 0"
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        return "currency must be a three-letter code"
    return ""


def make_provider() -> PaymentsProvider:
    """A fresh provider with an empty store."""
    return PaymentsProvider()
