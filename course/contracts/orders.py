"""The orders service's client of the payments provider: the consumer in lesson 06.

:class:`PaymentsGateway` is the only code in the orders service that talks to
payments. It is deliberately small and uses the standard library only, so a
learner can read all of it before writing pact tests for it (the testing
assignment, Part A).

The contract, as the consumer sees it:

``GET /payments/{id}``
    200 with a JSON payment, or 404 when there is no such payment.
``POST /payments``
    JSON body ``{"order_id", "amount_cents", "currency"}`` and an
    ``Idempotency-Key`` header; the answer is 201 with the new payment.

A payment is read from five fields only: ``id`` (string), ``amount_cents``
(integer), ``currency`` (string), ``status`` (``"pending"``, ``"captured"`` or
``"failed"``) and ``created_at`` (an ISO 8601 timestamp with a UTC offset, such
as ``"2026-11-30T12:00:00Z"``). Any other field the provider sends is ignored:
be lenient in what you accept.

Example::

    gateway = PaymentsGateway("http://127.0.0.1:8000")
    payment = gateway.charge("o-7", 1250, "EUR", idempotency_key="o-7/1")
    gateway.get_payment(payment.id)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

__all__ = ["STATUSES", "Payment", "PaymentStatus", "PaymentsError", "PaymentsGateway"]

PaymentStatus = Literal["pending", "captured", "failed"]
STATUSES: tuple[str, ...] = get_args(PaymentStatus)


class PaymentsError(Exception):
    """The payments provider answered something the orders service cannot use.

    ``status`` is the HTTP status of the answer, or ``None`` when there was no
    usable answer at all (connection refused, timeout).
    """

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Payment:
    """A payment, as the orders service sees it."""

    id: str
    amount_cents: int
    currency: str
    status: PaymentStatus
    created_at: datetime

    @classmethod
    def from_json(cls, data: Any) -> Payment:
        """Build a payment from a decoded JSON body, checking every field it reads.

        Raises :class:`PaymentsError` naming the first field that is missing or
        has the wrong type; fields it does not read are ignored.
        """
        if not isinstance(data, Mapping):
            raise PaymentsError(f"payment body must be a JSON object, got {type(data).__name__}")
        payment_id = _field(data, "id", str)
        amount_cents = _field(data, "amount_cents", int)
        currency = _field(data, "currency", str)
        status = _field(data, "status", str)
        if status not in STATUSES:
            raise PaymentsError(f"payment field 'status' must be one of {', '.join(STATUSES)}; got {status!r}")
        created_at = _field(data, "created_at", str)
        try:
            when = datetime.fromisoformat(created_at)
        except ValueError:
            raise PaymentsError(
                f"payment field 'created_at' must be an ISO 8601 timestamp; got {created_at!r}"
            ) from None
        if when.utcoffset() is None:
            raise PaymentsError(f"payment field 'created_at' has no UTC offset: {created_at!r}")
        return cls(payment_id, amount_cents, currency, cast(PaymentStatus, status), when)


def _field(data: Mapping[str, Any], name: str, kind: type) -> Any:
    if name not in data:
        raise PaymentsError(f"payment body has no field {name!r} (fields: {', '.join(sorted(data))})")
    value = data[name]
    # bool is a subclass of int, and 12.0 is not an amount in cents.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PaymentsError(
            f"payment field {name!r} must be {kind.__name__}; got {type(value).__name__} {value!r}"
        )
    return value


class PaymentsGateway:
    """HTTP client of the payments provider, used by the orders service.

    ``base_url`` is the provider's root, e.g. ``"http://127.0.0.1:8000"``;
    ``timeout`` (seconds) bounds each call. Every failure the caller can see is
    a :class:`PaymentsError`; a payment that does not exist is ``None``.
    """

    def __init__(self, base_url: str, *, timeout: float = 2.0):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        # No proxies: the provider is reached directly, whatever the environment says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"PaymentsGateway({self.base_url!r}, timeout={self.timeout})"

    def get_payment(self, payment_id: str) -> Payment | None:
        """The payment ``payment_id`` (``GET /payments/{id}``), or ``None`` if the provider answers 404."""
        _non_empty("payment_id", payment_id)
        status, body = self._call("GET", "/payments/" + urllib.parse.quote(payment_id, safe=""))
        if status == 404:
            return None
        if status != 200:
            raise PaymentsError(f"GET payment {payment_id!r}: expected 200 or 404, got {status}", status=status)
        return Payment.from_json(_decode(body, status))

    def charge(self, order_id: str, amount_cents: int, currency: str, *, idempotency_key: str) -> Payment:
        """Charge ``amount_cents`` for ``order_id`` (``POST /payments``); the provider must answer 201.

        Send the same ``idempotency_key`` when repeating a charge, so the
        provider can recognise the repeat instead of charging twice.
        """
        _non_empty("order_id", order_id)
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
            raise ValueError(f"amount_cents must be a positive integer, got {amount_cents!r}")
        _non_empty("currency", currency)
        _non_empty("idempotency_key", idempotency_key)
        payload = {"order_id": order_id, "amount_cents": amount_cents, "currency": currency}
        status, body = self._call("POST", "/payments", payload, {"Idempotency-Key": idempotency_key})
        if status != 201:
            raise PaymentsError(f"charge for order {order_id!r}: expected 201 Created, got {status}", status=status)
        return Payment.from_json(_decode(body, status))

    def _call(
        self, method: str, path: str, payload: dict | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        all_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=all_headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:  # a 4xx or 5xx answer: still an answer
            with error:
                return error.code, error.read()
        except (urllib.error.URLError, OSError) as error:  # refused, reset, timed out
            reason = getattr(error, "reason", error)
            raise PaymentsError(f"{method} {path}: no answer from payments ({reason})") from error


def _decode(body: bytes, status: int) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise PaymentsError(f"payments answered {status} with a body that is not JSON: {body[:80]!r}", status=status) from None


def _non_empty(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
