"""Real pact-python runs (course.contracts.pact_runs): the consumer test, the pact, and provider verification.

Each verification takes about 0.6 s here, 0.5 s of it pact-python's state-handler server shutting down.
"""

import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from pact import Pact

from course.contracts import pact_runs
from course.contracts.pact_runs import contract_check, run_consumer_test, verify_provider
from course.contracts.payments import BREAKING, HARMLESS, NO_PAYMENT


@pytest.fixture(scope="module")
def matchers_pact():
    run = run_consumer_test("matchers")
    assert run.passed, run.message
    return run


@pytest.fixture(scope="module")
def exact_pact():
    run = run_consumer_test("exact")
    assert run.passed, run.message
    return run


def refuses(url):
    """True if nothing listens at ``url`` any more."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_do_not_track_is_set_on_import():
    assert os.environ.get("PACT_DO_NOT_TRACK")  # set on import unless the environment already says
    assert pact_runs.PROVIDER == "payments"


def test_the_consumer_test_writes_a_pact_that_names_only_what_orders_reads(matchers_pact):
    document = json.loads(matchers_pact.pact_path.read_text())
    assert document == matchers_pact.pact
    assert (document["consumer"]["name"], document["provider"]["name"]) == ("orders", "payments")
    interactions = {i["description"]: i for i in document["interactions"]}
    assert set(interactions) == {"a request for payment p-1", "a request for payment p-404", "a charge for order o-7"}
    got = interactions["a request for payment p-1"]
    assert got["providerStates"] == [{"name": "payment p-1 exists"}]
    assert set(got["response"]["body"]["content"]) == {"id", "amount_cents", "currency", "status", "created_at"}
    rules = got["response"]["matchingRules"]["body"]
    assert rules["$.amount_cents"]["matchers"] == [{"match": "integer"}]
    assert rules["$.created_at"]["matchers"][0]["match"] == "datetime"
    assert rules["$.status"]["matchers"][0] == {"match": "regex", "regex": "^(pending|captured|failed)$"}
    charge = interactions["a charge for order o-7"]
    assert charge["response"]["status"] == 201
    assert charge["request"]["headers"]["Idempotency-Key"] == ["o-7/1"]
    assert interactions["a request for payment p-404"]["providerStates"] == [{"name": NO_PAYMENT}]


def test_the_over_specified_pact_pins_every_field_and_value(exact_pact):
    charge = next(i for i in exact_pact.pact["interactions"] if i["description"] == "a charge for order o-7")
    assert "matchingRules" not in charge["response"]
    assert charge["response"]["body"]["content"]["updated_at"] == "2026-11-30T12:00:00Z"


def test_the_pact_verifies_against_v1_with_provider_states(matchers_pact):
    run = verify_provider(matchers_pact, "v1")
    assert run.passed and run.message == ""
    assert "Given no payment p-404" in run.output and "has status code 404 (OK)" in run.output
    assert "Given payment p-1 exists" in run.output


@pytest.mark.parametrize("variant", HARMLESS)
def test_be_lenient_harmless_changes_still_verify(matchers_pact, variant):
    run = verify_provider(matchers_pact, variant)
    assert run.passed, run.message


@pytest.mark.parametrize("variant, reason", [
    ("renamed_field", "$ -> Actual map is missing the following keys: amount_cents"),
    ("changed_status", "expected 201 but was 200"),
    ("optional_field", "$.created_at -> Expected '' to match a timestamp pattern"),
])
def test_breaking_changes_fail_verification_with_pacts_own_reason(matchers_pact, variant, reason):
    run = verify_provider(matchers_pact, variant)
    assert not run.passed
    assert reason in run.message
    assert run.message.startswith("Failures:") and "pact failure" in run.message
    assert "{" not in run.message  # the body diffs are trimmed
    assert set(BREAKING) == {"renamed_field", "changed_status", "optional_field"}


def test_the_failure_names_the_interaction_that_caught_it(matchers_pact):
    message = verify_provider(matchers_pact, "changed_status").message
    assert "Given order o-7 can be charged - a charge for order o-7" in message
    assert "a request for payment p-1" not in message


def test_the_over_specified_pact_passes_v1_but_fails_a_harmless_change(exact_pact):
    assert verify_provider(exact_pact, "v1").passed
    run = verify_provider(exact_pact, "changed_unused_field")
    assert not run.passed
    assert "$.updated_at -> Expected 1796040000 (Integer) to be equal to '2026-11-30T12:00:00Z' (String)" in run.message


def test_an_unknown_provider_state_fails_and_says_which():
    with tempfile.TemporaryDirectory() as folder:
        pact = Pact("orders", "payments")
        (pact.upon_receiving("a request for p-9").given("payment p-9 exists")
             .with_request("GET", "/payments/p-9").will_respond_with(200))
        pact.write_file(folder)
        run = verify_provider(Path(folder) / "orders-payments.json", "v1")
    assert not run.passed
    assert "expected 200 but was 404" in run.message
    assert "unknown provider state 'payment p-9 exists'" in run.message
    assert run.seconds < 5  # set_state does not raise: a failing state handler costs ~127 s of pact's retries


def test_nothing_is_left_running_and_nothing_is_printed(capfd, caplog, recwarn, matchers_pact):
    before = set(threading.enumerate())
    with caplog.at_level(logging.INFO, logger="pact"):
        consumer = run_consumer_test()
        verification = verify_provider(consumer, "renamed_field")
    assert set(threading.enumerate()) == before
    assert refuses(consumer.server_url) and refuses(verification.server_url)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [str(w.message) for w in recwarn] == []
    assert "Verifying a pact between orders and payments" in verification.output


def test_a_consumer_test_plus_a_verification_takes_well_under_the_two_seconds_quoted():
    start = time.perf_counter()
    run = contract_check("v1")
    elapsed = time.perf_counter() - start
    assert run.passed
    assert elapsed < 2.0, f"consumer test + verification took {elapsed:.2f} s"


def test_arguments_are_checked(matchers_pact):
    with pytest.raises(ValueError, match="style"):
        run_consumer_test("loose")
    with pytest.raises(ValueError, match="variant"):
        verify_provider(matchers_pact, "v9")
    with pytest.raises(ValueError, match="pact must be a pact file"):
        verify_provider("/nonexistent/pact.json")
    failed = pact_runs.RunResult("consumer test (matchers)", False, "boom", 0.0)
    with pytest.raises(ValueError, match="pact must have written a pact file"):
        verify_provider(failed)


def test_a_failing_consumer_test_writes_no_pact_and_says_why(monkeypatch):
    monkeypatch.setattr(pact_runs, "_exercise_consumer", lambda gateway: gateway.get_payment("p-2"))
    run = run_consumer_test()
    assert not run.passed and run.pact_path is None and run.pact is None
    assert "Request not found: GET /payments/p-2" in run.message
    assert "Missing request: GET /payments/p-1" in run.message
    assert run.message.endswith("PaymentsError: GET payment 'p-2': expected 200 or 404, got 500")
    assert refuses(run.server_url)


def test_results_print_as_a_verdict(matchers_pact):
    assert str(matchers_pact).startswith("consumer test (matchers) passed in")
    failed = pact_runs.RunResult("verification", False, "Failures:\n1) ...", 0.5)
    assert str(failed) == "verification FAILED in 0.50 s\nFailures:\n1) ..."
