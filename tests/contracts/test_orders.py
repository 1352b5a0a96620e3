"""The orders client of payments (course.contracts.orders) against the real provider and against bad answers."""

import socket
from datetime import datetime, timezone

import pytest

from course.contracts.orders import Payment, PaymentsError, PaymentsGateway
from course.contracts.payments import PAYMENT_EXISTS, PaymentsProvider
from course.loopback import Response, serve

GOOD = {"id": "p-1", "amount_cents": 1250, "currency": "EUR", "status": "captured",
        "created_at": "2026-11-30T12:00:00Z"}


def answering(status, body=None, headers=None):
    """An app that gives every request the same answer."""
    return lambda request: Response(status, body, headers or {})


def test_the_client_reads_a_payment_from_the_real_v1_provider_and_ignores_unread_fields():
    provider = PaymentsProvider("v1")
    provider.set_state(PAYMENT_EXISTS, "setup")
    with serve(provider.app, name="payments") as server:
        payment = PaymentsGateway(server.url).get_payment("p-1")
    assert payment == Payment("p-1", 1250, "EUR", "captured", datetime(2026, 11, 30, 12, tzinfo=timezone.utc))


def test_a_missing_payment_is_none():
    with serve(PaymentsProvider("v1").app, name="payments") as server:
        assert PaymentsGateway(server.url).get_payment("p-404") is None
        assert server.requests[0].path == "/payments/p-404"


def test_charge_posts_the_order_with_the_idempotency_key_and_reads_the_201_answer():
    clock = lambda: datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)  # noqa: E731
    with serve(PaymentsProvider("v1", clock=clock).app, name="payments") as server:
        payment = PaymentsGateway(server.url).charge("o-7", 1250, "EUR", idempotency_key="o-7/1")
        sent = server.requests[0]
    assert (payment.amount_cents, payment.currency, payment.status) == (1250, "EUR", "pending")
    assert payment.created_at == clock()
    assert (sent.method, sent.path) == ("POST", "/payments")
    assert sent.headers["idempotency-key"] == "o-7/1"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {"order_id": "o-7", "amount_cents": 1250, "currency": "EUR"}


def test_a_repeated_charge_with_the_same_key_is_the_same_payment():
    with serve(PaymentsProvider("v1").app, name="payments") as server:
        gateway = PaymentsGateway(server.url)
        first = gateway.charge("o-7", 1250, "EUR", idempotency_key="k")
        again = gateway.charge("o-7", 1250, "EUR", idempotency_key="k")
        other = gateway.charge("o-7", 1250, "EUR", idempotency_key="k2")
    assert first == again and other.id != first.id


def test_payment_ids_are_quoted_into_the_path():
    with serve(answering(404), name="payments") as server:
        PaymentsGateway(server.url + "/").get_payment("a/b c")
        assert server.requests[0].path == "/payments/a%2Fb%20c"


@pytest.mark.parametrize("status", [200, 500, 503])
def test_charge_wants_201_exactly(status):
    with serve(answering(status, GOOD), name="payments") as server:
        with pytest.raises(PaymentsError, match=f"expected 201 Created, got {status}") as caught:
            PaymentsGateway(server.url).charge("o-7", 1250, "EUR", idempotency_key="k")
    assert caught.value.status == status


@pytest.mark.parametrize("status", [400, 410, 500])
def test_get_fails_clearly_on_anything_but_200_or_404(status):
    with serve(answering(status, {"error": "x"}), name="payments") as server:
        with pytest.raises(PaymentsError, match=f"expected 200 or 404, got {status}") as caught:
            PaymentsGateway(server.url).get_payment("p-1")
    assert caught.value.status == status


@pytest.mark.parametrize("change, problem", [
    ({"amount_cents": None}, "field 'amount_cents' must be int; got NoneType"),
    ({"amount_cents": "1250"}, "field 'amount_cents' must be int; got str"),
    ({"amount_cents": 12.5}, "field 'amount_cents' must be int; got float"),
    ({"amount_cents": True}, "field 'amount_cents' must be int; got bool"),
    ({"status": "settled"}, "'status' must be one of pending, captured, failed"),
    ({"created_at": "30/11/2026 12:00"}, "'created_at' must be an ISO 8601 timestamp"),
    ({"created_at": 1796040000}, "'created_at' must be str; got int"),
    ({"created_at": "2026-11-30T12:00:00"}, "'created_at' has no UTC offset"),
])
def test_a_payment_with_a_wrong_field_is_a_clear_error(change, problem):
    with serve(answering(200, {**GOOD, **change}), name="payments") as server:
        with pytest.raises(PaymentsError, match=problem):
            PaymentsGateway(server.url).get_payment("p-1")


def test_a_missing_field_is_named():
    body = {key: value for key, value in GOOD.items() if key != "amount_cents"} | {"amount": 1250}
    with serve(answering(200, body), name="payments") as server:
        with pytest.raises(PaymentsError, match="no field 'amount_cents'"):
            PaymentsGateway(server.url).get_payment("p-1")


def test_extra_fields_and_other_iso_spellings_are_accepted():
    body = {**GOOD, "created_at": "2026-11-30T13:00:00+01:00", "method": "card", "links": {"self": "/payments/p-1"}}
    with serve(answering(200, body), name="payments") as server:
        payment = PaymentsGateway(server.url).get_payment("p-1")
    assert payment.created_at == datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def test_a_body_that_is_not_json_or_not_an_object_is_a_clear_error():
    with serve(answering(200, "<html>"), name="payments") as server:
        with pytest.raises(PaymentsError, match="not JSON"):
            PaymentsGateway(server.url).get_payment("p-1")
    with serve(answering(200, [GOOD]), name="payments") as server:
        with pytest.raises(PaymentsError, match="must be a JSON object, got list"):
            PaymentsGateway(server.url).get_payment("p-1")


def test_no_answer_at_all_is_a_payments_error_without_status():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PaymentsError, match="no answer from payments") as caught:
        PaymentsGateway(f"http://127.0.0.1:{port}", timeout=0.5).get_payment("p-1")
    assert caught.value.status is None


@pytest.mark.parametrize("kwargs, parameter", [
    ({"base_url": "127.0.0.1:80"}, "base_url"),
    ({"base_url": "http://x", "timeout": 0}, "timeout"),
    ({"base_url": "http://x", "timeout": True}, "timeout"),
])
def test_invalid_constructor_arguments_name_the_parameter(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        PaymentsGateway(**kwargs)


@pytest.mark.parametrize("call, parameter", [
    (lambda g: g.get_payment(""), "payment_id"),
    (lambda g: g.charge("", 1, "EUR", idempotency_key="k"), "order_id"),
    (lambda g: g.charge("o", 0, "EUR", idempotency_key="k"), "amount_cents"),
    (lambda g: g.charge("o", 1.5, "EUR", idempotency_key="k"), "amount_cents"),
    (lambda g: g.charge("o", 1, "", idempotency_key="k"), "currency"),
    (lambda g: g.charge("o", 1, "EUR", idempotency_key=""), "idempotency_key"),
])
def test_invalid_call_arguments_name_the_parameter_and_send_nothing(call, parameter):
    with serve(answering(500), name="payments") as server:
        with pytest.raises(ValueError, match=parameter):
            call(PaymentsGateway(server.url))
        assert server.requests == []
