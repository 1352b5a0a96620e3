"""The payments clients of the testing assignment's Part B, checked against the suites that grade learners.

Every implementation in ``autograder/implementations/testing/clients/catalog.py``
is run under the reference suite (what the source solution contains) with
the grader's own machinery (:func:`autograder.wheat_chaff.run_suite`): each
wheat passes it, each chaff fails it, and fails the test written for its
bug. The named weak suites in ``autograder/implementations/testing/weak/``
get their expected outcomes: the happy-path suite is valid but catches one
chaff; the implementation-detail suite rejects the second wheat. One run
goes through the sandbox, as grading does.

The static checks keep the catalog honest: every implementation exports the
same names with the same signatures, none imports the given client, and each
chaff is the given client with one small change.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.implementations.testing.clients import catalog
from autograder.wheat_chaff import Implementation, Runner, run_suite

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "autograder/implementations/testing/reference/test_payments_client.py"
WEAK = ROOT / "autograder/implementations/testing/weak"
TEST_FILE = "test_payments_client.py"
IMPLEMENTATIONS = [Implementation(path, wheat, description) for path, wheat, description in catalog.implementations()]
WHEATS = [i for i in IMPLEMENTATIONS if i.wheat]
CHAFFS = [i for i in IMPLEMENTATIONS if not i.wheat]
PUBLIC = ["PaymentsClient", "PaymentError", "PaymentRejected", "PaymentFailed", "DeadlineExceeded", "TransientError"]

#: For each chaff, the reference test (by name, parameters dropped) that is written to catch its bug.
CAUGHT_BY = {
    "chaff_new_key_per_retry": "test_retries_reuse_one_idempotency_key",
    "chaff_retries_client_errors": "test_a_client_error_is_raised_at_once_and_never_retried",
    "chaff_no_timeout": "test_each_attempt_times_out",
    "chaff_ignores_retry_after": "test_retry_after_is_waited_for",
    "chaff_ignores_deadline": "test_the_deadline_stops_a_wait_that_would_end_after_it",
    "chaff_server_error_as_success": "test_a_retryable_failure_is_retried",
    "chaff_no_jitter": "test_backoff_is_full_jitter_below_a_doubling_ceiling",
    "chaff_unlimited_429": "test_it_gives_up_after_max_attempts",
    "chaff_extra_attempt": "test_it_gives_up_after_max_attempts",
    "chaff_timeout_not_cut": "test_the_deadline_cuts_an_attempt_that_hangs",
}


def run_all(suite: Path, implementations, *, use_sandbox: bool = False, every_test: bool = False) -> dict:
    """Each implementation's Run of ``suite``, by implementation name (three runs at a time); ``every_test``
    runs a chaff's tests on after the first that fails."""
    source = suite.read_text(encoding="utf-8")
    runner = Runner(use_sandbox=use_sandbox, timeout=60)

    def one(implementation):
        return run_suite(source, TEST_FILE, implementation, module=catalog.MODULE, runner=runner,
                         every_test=every_test)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return {run.implementation.name: run for run in pool.map(one, implementations)}


def failed_tests(run) -> set[str]:
    return {name.partition("[")[0] for name, _ in run.failures}


@pytest.fixture(scope="module")
def reference_runs():
    return run_all(REFERENCE, IMPLEMENTATIONS, every_test=True)


# -- the catalog, statically ---------------------------------------------------------------------


def test_the_catalog_has_two_wheats_and_at_least_six_chaffs_with_one_line_descriptions():
    assert len(WHEATS) >= 2 and len(CHAFFS) >= 6
    assert WHEATS[0].path == catalog.GIVEN_CLIENT
    for implementation in IMPLEMENTATIONS:
        assert Path(implementation.path).is_file(), implementation.path
        description = implementation.description
        assert description and "\n" not in description and len(description) < 200
        assert not any(code in description for code in ("self.", "def ", "()", "==", "import "))
    assert len({i.description for i in CHAFFS}) == len(CHAFFS)
    assert set(CAUGHT_BY) == {i.name for i in CHAFFS}


def load(path: Path):
    name = f"_testing_clients_{Path(path).stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def parameters(function) -> list[tuple]:
    """A function's parameters without their annotations: name, kind and default."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS[1:], ids=lambda i: i.name)
def test_every_implementation_looks_the_same_from_outside(implementation):
    given, other = load(catalog.GIVEN_CLIENT), load(implementation.path)
    assert sorted(other.__all__) == sorted(given.__all__) == sorted(PUBLIC)
    for name in ("__init__", "charge"):
        assert parameters(getattr(other.PaymentsClient, name)) == parameters(getattr(given.PaymentsClient, name))
    for name in PUBLIC[1:]:
        assert issubclass(getattr(other, name), other.PaymentError)
    source = Path(implementation.path).read_text(encoding="utf-8")
    assert "payments_client" not in source.replace("course/contracts/payments_client.py", "")


def code_lines(path: Path) -> list[str]:
    """A module's lines after its docstring."""
    text = Path(path).read_text(encoding="utf-8")
    return text[text.index('"""', 3) + 3:].splitlines()


@pytest.mark.parametrize("chaff", CHAFFS, ids=lambda i: i.name)
def test_each_chaff_is_the_given_client_with_one_small_change(chaff):
    diff = [line for line in difflib.unified_diff(code_lines(catalog.GIVEN_CLIENT), code_lines(chaff.path), n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert 1 <= len(diff) <= 10, "\n".join(diff)


# -- the reference suite -------------------------------------------------------------------------


@pytest.mark.parametrize("wheat", WHEATS, ids=lambda i: i.name)
def test_the_reference_suite_passes_on_every_wheat(reference_runs, wheat):
    run = reference_runs[wheat.name]
    assert run.outcome == "passed", (run.outcome, run.failures, run.detail)


@pytest.mark.parametrize("chaff", CHAFFS, ids=lambda i: i.name)
def test_the_reference_suite_fails_on_every_chaff_by_the_test_for_its_bug(reference_runs, chaff):
    run = reference_runs[chaff.name]
    assert run.outcome == "failed", (run.outcome, run.detail)  # caught by a test, not by the run's time limit
    assert CAUGHT_BY[chaff.name] in failed_tests(run), run.failures


def test_the_reference_suite_is_fast_on_a_wheat(reference_runs):
    # The suite's own tests take about 2.5 s; the rest is starting pytest. Generous for a loaded machine.
    assert max(reference_runs[w.name].seconds for w in WHEATS) < 40


def test_grading_stops_a_chaff_at_the_first_failing_test(reference_runs):
    # The chaff that never times out fails several tests, each waiting out a bound; grading needs only the first.
    chaff = next(c for c in CHAFFS if c.name == "chaff_no_timeout")
    every = reference_runs[chaff.name]
    first = run_all(REFERENCE, [chaff])[chaff.name]
    assert len(every.failures) > 1
    assert first.outcome == "failed" and len(first.failures) == 1
    assert first.failures[0] in every.failures
    assert first.seconds < every.seconds


# -- weak suites ---------------------------------------------------------------------------------


def test_a_happy_path_suite_is_valid_but_catches_one_chaff():
    runs = run_all(WEAK / "test_happy_path.py", IMPLEMENTATIONS)
    assert all(runs[w.name].passed for w in WHEATS), {n: r.failures for n, r in runs.items()}
    caught = {c.name for c in CHAFFS if not runs[c.name].passed}
    assert caught == {"chaff_server_error_as_success"}


def test_a_suite_that_insists_on_implementation_details_rejects_the_second_wheat():
    runs = run_all(WEAK / "test_implementation_detail.py", WHEATS)
    assert runs[WHEATS[0].name].passed, runs[WHEATS[0].name].failures
    rejected = runs["wheat_urllib"]
    assert rejected.outcome == "failed"
    assert failed_tests(rejected) == {"test_the_idempotency_key_is_a_dashed_uuid",
                                      "test_the_waits_are_exactly_the_seeded_draws"}


# -- in the sandbox, as grading runs -------------------------------------------------------------


@pytest.mark.skipif(sandbox.probe() is not None and not os.environ.get("CI"),
                    reason=f"this machine cannot build the sandbox: {sandbox.probe()}")
def test_the_reference_suite_grades_the_same_in_the_sandbox():
    chosen = [i for i in IMPLEMENTATIONS if i.name in ("wheat_urllib", "chaff_timeout_not_cut")]
    runs = run_all(REFERENCE, chosen, use_sandbox=True)
    assert runs["wheat_urllib"].outcome == "passed", (runs["wheat_urllib"].failures, runs["wheat_urllib"].detail)
    assert runs["chaff_timeout_not_cut"].outcome == "failed"
    assert len(runs["chaff_timeout_not_cut"].failures) == 1  # grading stops at the first test that catches it
