"""Consumer contract tests for the orders service's payments client (the testing assignment, Part A: model answer).

Each test describes one interaction to pact's mock provider, runs the real
:class:`~course.contracts.orders.PaymentsGateway` against it, and checks what
the gateway made of the answer. The pact (consumer ``orders``, provider
``payments``) is written to the folder ``PACT_DIR`` names (default
``pacts``), and the provider replays it against itself later.

What makes it a good contract: it insists on what the gateway reads and
nothing else. Types, not values, where any value would do (``match.str``,
and ``match.int`` rather than ``match.like``, which would let 12.5 pass for
1250 cents); the exact format where the gateway parses one (``created_at``
must be ISO 8601 with a UTC offset, ``status`` one of three words); status
codes exactly, since the gateway branches on them; and the request header it
sends. Fields the gateway ignores are not mentioned at all.
"""

import os
from datetime import datetime, timezone

import pytest

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact, match  # noqa: E402

from course.contracts.orders import PaymentsGateway  # noqa: E402


@pytest.fixture
def pact():
    """A pact between orders and payments; written out once the test passes (pact merges the interactions)."""
    pact = Pact("orders", "payments").with_specification("V4")
    yield pact
    pact.write_file(os.environ.get("PACT_DIR", "pacts"))


#: What the gateway accepts as created_at: an ISO 8601 date and time with seconds and a UTC offset.
ISO_8601 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
STATUS = r"^(pending|captured|failed)$"


def payment(payment_id: str, amount_cents: int, status: str) -> dict:
    """A payment body as the gateway reads it: each field's type or format, with an example value."""
    return {
        "id": match.str(payment_id),
        "amount_cents": match.int(amount_cents),
        "currency": match.str("EUR"),
        "status": match.regex(status, regex=STATUS),
        "created_at": match.regex("2026-11-30T12:00:00Z", regex=ISO_8601),
    }


def test_get_existing_payment(pact):
    (pact.upon_receiving("a request for an existing payment")
         .given("payment p-1 exists")
         .with_request("GET", "/payments/p-1")
         .will_respond_with(200)
         .with_body(payment("p-1", 1250, "captured"), content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as server:
        found = PaymentsGateway(str(server.url)).get_payment("p-1")
    assert found.id == "p-1"
    assert found.amount_cents == 1250
    assert found.currency == "EUR"
    assert found.status == "captured"
    assert found.created_at == datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def test_missing_payment_is_none(pact):
    (pact.upon_receiving("a request for a payment that does not exist")
         .given("no payment p-404")
         .with_request("GET", "/payments/p-404")
         .will_respond_with(404))
    with pact.serve(addr="127.0.0.1") as server:
        assert PaymentsGateway(str(server.url)).get_payment("p-404") is None


def test_charge_creates_a_payment(pact):
    (pact.upon_receiving("a charge for an order")
         .given("order o-7 can be charged")
         .with_request("POST", "/payments")
         .with_header("Idempotency-Key", match.str("o-7/1"))
         .with_body({"order_id": "o-7", "amount_cents": match.int(1250), "currency": "EUR"},
                    content_type="application/json")
         .will_respond_with(201)
         .with_body(payment("p-1001", 1250, "pending"), content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as server:
        charged = PaymentsGateway(str(server.url)).charge("o-7", 1250, "EUR", idempotency_key="o-7/1")
    assert charged.id == "p-1001"
    assert charged.amount_cents == 1250
    assert charged.currency == "EUR"
    assert charged.status == "pending"
    assert charged.created_at.utcoffset() is not None
