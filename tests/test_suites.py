"""course.suites: running a learner's test file from a notebook, and showing the pact it wrote."""

from __future__ import annotations

import json

import pytest

from course.suites import run_tests, show_pact

PASSING = """
def test_one():
    assert 1 + 1 == 2


def test_two():
    assert "a" in "abc"
"""

FAILING = """
def test_fine():
    assert True


def test_broken():
    assert 1 == 2, "one is not two"
"""


def test_a_passing_file_reports_every_test(tmp_path, capsys):
    path = tmp_path / "test_ok.py"
    path.write_text(PASSING)
    run = run_tests(path)
    assert sorted(run.passed) == ["test_one", "test_two"] and run.failed == []
    assert "2 of 2 tests in test_ok.py passed." in capsys.readouterr().out


def test_a_failing_test_fails_the_cell_and_is_named(tmp_path, capsys):
    path = tmp_path / "test_some.py"
    path.write_text(FAILING)
    with pytest.raises(AssertionError, match=r"1 of 2 tests failed: test_broken"):
        run_tests(path)
    shown = capsys.readouterr().out
    assert "passed  test_fine" in shown and "FAILED  test_broken" in shown


def test_a_file_without_tests_or_that_cannot_import_says_so(tmp_path, capsys):
    empty = tmp_path / "test_empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(AssertionError, match="found no tests"):
        run_tests(empty)
    broken = tmp_path / "test_broken.py"
    broken.write_text("raise NotImplementedError()\n")
    with pytest.raises(AssertionError, match=r"could not run test_broken.py \(NotImplementedError"):
        run_tests(broken)


def test_bad_arguments_name_the_parameter(tmp_path):
    with pytest.raises(FileNotFoundError, match="path: no test file"):
        run_tests(tmp_path / "test_missing.py")
    path = tmp_path / "test_ok.py"
    path.write_text(PASSING)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        run_tests(path, timeout=0)


def test_show_pact_lists_each_interaction(tmp_path, capsys):
    pact = {"consumer": {"name": "orders"}, "provider": {"name": "payments"}, "interactions": [
        {"description": "a request for a payment", "providerStates": [{"name": "payment p-1 exists"}],
         "request": {"method": "GET", "path": "/payments/p-1"},
         "response": {"status": 200, "body": {"content": {"id": "p-1", "amount_cents": 1250}}}}]}
    (tmp_path / "orders-payments.json").write_text(json.dumps(pact))
    assert show_pact(tmp_path) == [pact]
    shown = capsys.readouterr().out
    assert "orders expects of payments, in 1 interaction(s)" in shown
    assert "[given: payment p-1 exists]: GET /payments/p-1 -> 200 with id, amount_cents" in shown
    with pytest.raises(AssertionError, match="no pact file"):
        show_pact(tmp_path / "nowhere")
