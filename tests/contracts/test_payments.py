"""The payments provider (course.contracts.payments): states, variants, and the double that hides a break."""

import pytest

from course.contracts.orders import PaymentsError, PaymentsGateway
from course.contracts.pact_runs import run_unit_test
from course.contracts.payments import (BREAKING, HARMLESS, NO_PAYMENT, ORDER_CHARGEABLE, PAYMENT_EXISTS, STATE_TIME,
                                       VARIANTS, PaymentsProvider, hand_written_double)
from course.loopback import Headers, Request, Response, serve


def request(method, path, body=b"", headers=()):
    return Request(method, path, {}, Headers(headers), body, 0.0)


def charge(provider, key="k-1"):
    body = b'{"order_id": "o-7", "amount_cents": 1250, "currency": "EUR"}'
    return provider.app(request("POST", "/payments", body, {"Idempotency-Key": key, "Content-Type": "application/json"}))


def test_every_variant_is_named_and_classified():
    assert set(VARIANTS) == {"v1", *BREAKING, *HARMLESS}
    assert not set(BREAKING) & set(HARMLESS)


def test_provider_states_set_up_and_tear_down_the_store():
    provider = PaymentsProvider("v1")
    assert provider.app(request("GET", "/payments/p-1")).status == 404
    provider.set_state(PAYMENT_EXISTS, "setup", {})
    answer = provider.app(request("GET", "/payments/p-1"))
    assert answer.status == 200
    assert answer.body == {"id": "p-1", "order_id": "o-1", "amount_cents": 1250, "currency": "EUR",
                           "status": "captured", "created_at": "2026-11-30T12:00:00Z",
                           "updated_at": "2026-11-30T12:05:00Z"}
    provider.set_state(PAYMENT_EXISTS, "teardown", None)
    assert provider.app(request("GET", "/payments/p-1")).status == 404
    provider.set_state(NO_PAYMENT, "setup")
    assert provider.app(request("GET", "/payments/p-404")).status == 404
    provider.set_state("", "setup")  # pact's generic hook is ignored


def test_a_state_takes_parameters_for_the_payment():
    provider = PaymentsProvider("v1")
    provider.set_state(PAYMENT_EXISTS, "setup", {"id": "p-9", "status": "failed"})
    assert provider.app(request("GET", "/payments/p-9")).body["status"] == "failed"


def test_the_chargeable_state_pins_the_clock_and_the_next_id():
    provider = PaymentsProvider("v1")
    provider.set_state(ORDER_CHARGEABLE, "setup")
    answer = charge(provider)
    assert answer.status == 201
    assert answer.body["id"] == "p-1001" and answer.body["created_at"] == "2026-11-30T12:00:00Z"
    assert answer.headers["Location"] == "/payments/p-1001"
    assert STATE_TIME.isoformat() == "2026-11-30T12:00:00+00:00"


def test_unknown_states_are_recorded_not_raised():
    provider = PaymentsProvider("v1")
    provider.set_state("payment p-2 exists", "setup")
    provider.set_state(PAYMENT_EXISTS, "setup", {"colour": "red"})
    assert provider.state_problems == [
        "unknown provider state 'payment p-2 exists'; this provider knows 'payment p-1 exists', "
        "'no payment p-404', 'order o-7 can be charged'",
        "state 'payment p-1 exists' has no parameter(s) colour"]
    assert provider.app(request("GET", "/payments/p-1")).status == 404
    with pytest.raises(ValueError, match="action"):
        provider.set_state(PAYMENT_EXISTS, "tidy")


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="variant"):
        PaymentsProvider("v2")
    with pytest.raises(ValueError, match="clock"):
        PaymentsProvider("v1", clock=3)


def test_charges_are_checked_like_a_real_provider_would():
    provider = PaymentsProvider("v1")
    missing_key = provider.app(request("POST", "/payments", b'{"order_id": "o", "amount_cents": 1, "currency": "EUR"}'))
    assert missing_key.status == 400 and "Idempotency-Key" in missing_key.body["error"]
    bad = provider.app(request("POST", "/payments", b'{"order_id": "o", "amount_cents": -1, "currency": "EUR"}',
                               {"Idempotency-Key": "k"}))
    assert bad.status == 400 and "amount_cents" in bad.body["error"]
    assert provider.app(request("POST", "/payments", b"not json", {"Idempotency-Key": "k"})).status == 400
    assert provider.app(request("DELETE", "/payments/p-1")).status == 405
    assert provider.app(request("GET", "/payments")).status == 405
    assert provider.app(request("GET", "/refunds")).status == 404


def test_each_variant_makes_exactly_its_one_change():
    bodies, statuses = {}, {}
    for variant in VARIANTS:
        provider = PaymentsProvider(variant)
        provider.set_state(ORDER_CHARGEABLE, "setup")
        answer = charge(provider)
        bodies[variant], statuses[variant] = answer.body, answer.status
    v1 = bodies["v1"]
    assert statuses == {variant: 200 if variant == "changed_status" else 201 for variant in VARIANTS}
    assert bodies["changed_status"] == v1
    assert bodies["renamed_field"] == {**{k: v for k, v in v1.items() if k != "amount_cents"}, "amount": 1250}
    assert bodies["optional_field"] == {**v1, "created_at": None}  # pending: no created_at yet
    assert bodies["added_field"] == {**v1, "method": "card"}
    assert bodies["changed_unused_field"] == {**v1, "updated_at": int(STATE_TIME.timestamp())}


def test_optional_field_still_sends_created_at_once_captured():
    provider = PaymentsProvider("optional_field")
    provider.set_state(PAYMENT_EXISTS, "setup")
    assert provider.app(request("GET", "/payments/p-1")).body["created_at"] == "2026-11-30T12:00:00Z"


def test_the_double_answers_like_v1_did():
    assert hand_written_double(request("GET", "/payments/p-1")).body["amount_cents"] == 1250
    assert hand_written_double(request("GET", "/payments/p-2")).status == 404
    assert hand_written_double(request("PUT", "/other")).status == 404


# -- mocks pass, production breaks ------------------------------------------------------------------

def orders_unit_test(base_url):
    """What the orders team's unit test checks, written here in plain pytest style."""
    gateway = PaymentsGateway(base_url)
    payment = gateway.get_payment("p-1")
    assert (payment.amount_cents, payment.currency, payment.status) == (1250, "EUR", "captured")
    assert gateway.get_payment("p-404") is None
    assert gateway.charge("o-7", 1250, "EUR", idempotency_key="o-7/1").status == "pending"


def test_the_unit_test_passes_against_the_hand_written_double():
    with serve(hand_written_double, name="payments double") as double:
        orders_unit_test(double.url)


def test_the_same_unit_test_breaks_against_the_renamed_provider_in_production():
    production = PaymentsProvider("renamed_field")
    production.set_state(PAYMENT_EXISTS, "setup")
    with serve(production.app, name="payments") as server:
        with pytest.raises(PaymentsError, match="no field 'amount_cents'"):
            orders_unit_test(server.url)


def test_the_lesson_runner_tells_the_same_story():
    assert run_unit_test("double").passed
    assert run_unit_test("v1").passed
    broken = {variant: run_unit_test(variant) for variant in BREAKING}
    assert "no field 'amount_cents'" in broken["renamed_field"].message
    assert "expected 201 Created, got 200" in broken["changed_status"].message
    assert "'created_at' must be str; got NoneType" in broken["optional_field"].message
    assert not any(run.passed for run in broken.values())
    assert all(run_unit_test(variant).passed for variant in HARMLESS)
    with pytest.raises(ValueError, match="against"):
        run_unit_test("staging")


def test_responses_are_loopback_responses():
    assert isinstance(PaymentsProvider().app(request("GET", "/payments/x")), Response)
