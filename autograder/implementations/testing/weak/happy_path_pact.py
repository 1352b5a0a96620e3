"""A weak Part A suite: the happy path only (the testing assignment's grading tests use it; not a model answer).

One interaction, an existing payment, with ``match.like`` over the whole
body: every field must be there with the right JSON type, and nothing else
is checked. It is valid (every correct provider verifies) but thin: it says
nothing about a missing payment or a charge, and a type matcher cannot tell
a decimal from a whole number of cents or an ISO 8601 timestamp from any
other string, so most chaffs go through.
"""

import os

import pytest

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from pact import Pact, match  # noqa: E402

from course.contracts.orders import PaymentsGateway  # noqa: E402


@pytest.fixture
def pact():
    pact = Pact("orders", "payments").with_specification("V4")
    yield pact
    pact.write_file(os.environ.get("PACT_DIR", "pacts"))


def test_get_existing_payment(pact):
    body = {"id": "p-1", "amount_cents": 1250, "currency": "EUR", "status": "captured",
            "created_at": "2026-11-30T12:00:00Z"}
    (pact.upon_receiving("a request for an existing payment")
         .given("payment p-1 exists")
         .with_request("GET", "/payments/p-1")
         .will_respond_with(200)
         .with_body(match.like(body), content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as server:
        found = PaymentsGateway(str(server.url)).get_payment("p-1")
    assert found.id == "p-1"
    assert found.amount_cents == 1250
