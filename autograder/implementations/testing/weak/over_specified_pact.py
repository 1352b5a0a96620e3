"""A weak Part A suite: over-specified (the testing assignment's grading tests use it; it is not a model answer).

Every interaction the model answer has, but with exact values everywhere and
no matchers: the whole body one provider happened to send when the tests were
written, fields the gateway never reads included (``order_id``,
``updated_at``), the new payment's id and status, and the body of the 404.
The consumer tests pass, and the pact catches every chaff, but it also
rejects a correct provider that formats ``updated_at`` differently, numbers
its payments differently or captures at once, so the suite scores 0.
"""

import os

import pytest

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact  # noqa: E402

from course.contracts.orders import PaymentsGateway  # noqa: E402

PAYMENT_1 = {"id": "p-1", "order_id": "o-1", "amount_cents": 1250, "currency": "EUR", "status": "captured",
             "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z"}
NEW_PAYMENT = {"id": "p-1001", "order_id": "o-7", "amount_cents": 1250, "currency": "EUR", "status": "pending",
               "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:00:00Z"}


@pytest.fixture
def pact():
    pact = Pact("orders", "payments").with_specification("V4")
    yield pact
    pact.write_file(os.environ.get("PACT_DIR", "pacts"))


def test_get_existing_payment(pact):
    (pact.upon_receiving("a request for an existing payment")
         .given("payment p-1 exists")
         .with_request("GET", "/payments/p-1")
         .will_respond_with(200)
         .with_body(PAYMENT_1, content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as server:
        assert PaymentsGateway(str(server.url)).get_payment("p-1").amount_cents == 1250


def test_missing_payment_is_none(pact):
    (pact.upon_receiving("a request for a payment that does not exist")
         .given("no payment p-404")
         .with_request("GET", "/payments/p-404")
         .will_respond_with(404)
         .with_body({"error": "payment not found"}, content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as server:
        assert PaymentsGateway(str(server.url)).get_payment("p-404") is None


def test_charge_creates_a_payment(pact):
    (pact.upon_receiving("a charge for an order")
         .given("order o-7 can be charged")
         .with_request("POST", "/payments")
         .with_header("Idempotency-Key", "o-7/1")
         .with_body({"order_id": "o-7", "amount_cents": 1250, "currency": "EUR"}, content_type="application/json")
         .will_respond_with(201)
         .with_body(NEW_PAYMENT, content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as server:
        charged = PaymentsGateway(str(server.url)).charge("o-7", 1250, "EUR", idempotency_key="o-7/1")
    assert charged.id == "p-1001"
