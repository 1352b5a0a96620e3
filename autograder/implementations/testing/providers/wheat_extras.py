"""A correct payments provider that says more than the consumer reads, in its own order and formats."""

from __future__ import annotations

import re
import threading

from course.loopback import Response

STATES = ("payment p-1 exists", "no payment p-404", "order o-7 can be charged")
#: The payment "payment p-1 exists" sets up; the state's parameters may override any of these fields.
PAYMENT_1 = {"id": "p-1", "order_id": "o-1", "amount_cents": 1250, "currency": "EUR", "status": "captured"}
#: When p-1 was created, and this provider's (pinned) clock for new charges.
P1_CREATED = "2026-11-30T12:00:00Z"
NOW = "2026-11-30T12:07:30Z"
#: The same instants in epoch seconds, the format of the field the consumer never reads (updated_at).
EPOCH = {P1_CREATED: 1796040000, NOW: 1796040450}
_PAYMENT_PATH = re.compile(r"^/payments/([^/]+)$")
#: Headers the consumer never reads, and a Content-Type with a charset.
_HEADERS = {"Content-Type": "application/json; charset=utf-8", "X-Request-Id": "req-5eed", "Cache-Control": "no-store"}


class PaymentsProvider:
    """An in-memory payments service: ``app`` answers HTTP requests, ``set_state`` sets up pact's provider states."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payments: dict[str, dict] = {}
        self._by_key: dict[str, str] = {}
        #: What set_state could not do, in words (for the instructor's logs and feedback).
        self.problems: list[str] = []
        self._serial = 0x5EED00

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
                self._payments[fields["id"]] = self._payment(created_at=P1_CREATED, **fields)
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
            return Response(405, {"code": "method_not_allowed", "message": "Method not allowed."}, _HEADERS)
        return Response(404, {"code": "route_missing", "message": "No such route."}, _HEADERS)

    def get_payment(self, payment_id: str) -> Response:
        with self._lock:
            payment = self._payments.get(payment_id)
        if payment is None:
            return Response(404, {"code": "payment_missing", "message": f"No payment {payment_id}."}, _HEADERS)
        return Response(200, payment, _HEADERS)

    def charge(self, request) -> Response:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return Response(400, {"code": "key_missing", "message": "Send an Idempotency-Key header."}, _HEADERS)
        try:
            body = request.json()
        except ValueError:
            return Response(400, {"code": "not_json", "message": "The body must be JSON."}, _HEADERS)
        problem = _invalid_charge(body)
        if problem:
            return Response(400, {"code": "invalid_charge", "message": problem}, _HEADERS)
        with self._lock:
            if key not in self._by_key:  # a repeated key gets the payment it made the first time
                self._serial += 1
                payment_id = f"pay_{self._serial:012x}"
                self._payments[payment_id] = self._payment(payment_id, body["order_id"], body["amount_cents"],
                                                           body["currency"], "captured", NOW)
                self._by_key[key] = payment_id
            payment = self._payments[self._by_key[key]]
        return Response(201, payment, {**_HEADERS, "Location": f"/payments/{payment['id']}"})

    @staticmethod
    def _payment(id, order_id, amount_cents, currency, status, created_at) -> dict:  # noqa: A002
        # Another order than wheat_plain's, extra fields, and updated_at in epoch seconds.
        return {"object": "payment", "status": status, "currency": currency, "created_at": created_at,
                "updated_at": EPOCH[created_at], "amount_cents": amount_cents,
                "fee_cents": amount_cents * 14 // 1000 + 25, "id": id, "order_id": order_id,
                "links": {"self": f"/payments/{id}"}, "livemode": False}


def _invalid_charge(body) -> str:
    """Why a charge request's body is unacceptable ("" if it is fine)."""
    if not isinstance(body, dict):
        return "The body must be a JSON object."
    if not isinstance(body.get("order_id"), str) or not body["order_id"]:
        return "order_id must be a non-empty string."
    amount = body.get("amount_cents")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "amount_cents must be a whole number above 0."
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        return "currency must be a three-letter code."
    return ""


def make_provider() -> PaymentsProvider:
    """A fresh provider with an empty store."""
    return PaymentsProvider()
