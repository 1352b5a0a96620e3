"""A weak answer to Part B: it tests the happy path and the most obvious retry, nothing about failure's details.

It passes on every correct client, so it is valid; it catches only the
client that takes a 5xx for a payment, because every other bug shows only
when something else goes wrong (a key compared across retries, a 400, a
hang, a Retry-After, a deadline, the spread of the waits, the attempt count).
Expected score: 1 chaff of 10.
"""

from course.contracts.payments_client import PaymentsClient
from course.loopback import Fail, FaultServer, Response


def payments(request):
    return Response(201, {"id": "pay_1", "status": "captured", **request.json()})


def test_charge_returns_the_payment():
    with FaultServer(payments) as stub:
        payment = PaymentsClient(stub.url).charge("order-7", 1250)
    assert payment["id"] == "pay_1"
    assert payment["amount_cents"] == 1250


def test_charge_posts_json_to_payments():
    with FaultServer(payments) as stub:
        PaymentsClient(stub.url).charge("order-7", 1250, currency="USD")
    request = stub.requests[0]
    assert request.method == "POST" and request.path == "/payments"
    assert request.json() == {"order_id": "order-7", "amount_cents": 1250, "currency": "USD"}
    assert request.headers.get("Idempotency-Key")


def test_charge_retries_a_503():
    with FaultServer(payments, script=[Fail(503)]) as stub:
        payment = PaymentsClient(stub.url, sleep=lambda seconds: None).charge("order-7", 1250)
    assert payment["id"] == "pay_1"
    assert stub.calls == 2
