"""The testing assignment end to end: real nbgrader, real pact, every part graded by wheat and chaff.

One cohort, graded by ``autograder.cohort.grade_cohort`` (sandboxed, two
workers), holds the source solution, the blank student copy and the named weak
suites, each with the score it must get exactly:

==========================  =========================================================================
``solution``                full marks (the reference suites catch every chaff)
``blank``                   0 (the answer cells still raise NotImplementedError)
``happy_path``              Part A catches 2 of 7 providers, Part B 1 of 10 clients
``implementation_detail``   Part B 0: a test insists on a dashed UUID, which a correct client does not send
``always_fails``            Part B 0 (and its visible test fails)
``over_specified_and_...``  Part A 0: exact values where matchers belong reject a correct provider;
                            Part B catches 9 of 10 (it has no test of the jitter)
==========================  =========================================================================

Beside the cohort: the source notebook's answer cells are the reference
suites in ``autograder/implementations/testing/reference/``; and every chaff
passes every visible test (the tests the notebook gives the learner), so no
chaff can be caught without writing tests of one's own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.implementations import testing as registry
from autograder.wheat_chaff import Implementation, Runner, run_suite
from autograder.wheat_chaff_grade import learner_file
from tests.grading import build_submissions as bs

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "assignments" / "testing" / "testing.ipynb"
IMPLEMENTATIONS = ROOT / "autograder" / "implementations" / "testing"
REFERENCE = IMPLEMENTATIONS / "reference"
WEAK = IMPLEMENTATIONS / "weak"
PACT_PART, CLIENT_PART = registry.PARTS

#: Points of each autograded cell, from the source notebook.
POINTS = {"pact_tests_pass": 1, "pact_contract": 9, "client_tests_pass": 1, "client_fault_tests": 11}


def _answer(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _without_markers(source: str) -> str:
    return "".join(line for line in source.splitlines(keepends=True)
                   if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _docstring_free(text: str) -> str:
    return re.sub(r'^""".*?"""\n', "", text, count=1, flags=re.S).strip()


@pytest.mark.parametrize("cell, reference", [("pact_tests", "test_orders_pact.py"),
                                             ("client_tests", "test_payments_client.py")])
def test_the_source_solution_is_the_reference_suite(cell, reference):
    nb = nbformat.read(SOURCE, as_version=4)
    written = learner_file(_without_markers(_answer(nb, cell).source))
    def normal(text):
        return re.sub(r"\n\s*\n+", "\n\n", _docstring_free(text))

    assert normal(written) == normal((REFERENCE / reference).read_text())


def _given_part(cell: str) -> str:
    """What the learner's copy of an answer cell holds before they write anything: the given code."""
    source = learner_file(_answer(nbformat.read(SOURCE, as_version=4), cell).source)
    return source[:source.index("### BEGIN SOLUTION")]


def test_every_client_passes_the_tests_the_notebook_gives():
    given = _given_part("client_tests")
    assert given.count("\ndef test_") >= 2, "the notebook gives a few example tests"
    runner = Runner(use_sandbox=False, timeout=60)
    for implementation in CLIENT_PART.implementations:
        run = run_suite(given, CLIENT_PART.test_file, implementation, module=CLIENT_PART.module, runner=runner)
        assert run.passed, f"{implementation.name} fails a visible example test: {run.summary()}"


def test_the_given_pact_code_verifies_nothing_on_its_own():
    # Part A gives only the imports and the fixture: its example lives in the prose, so no chaff is caught
    # (and no point earned) without interactions of the learner's own.
    given = _given_part("pact_tests")
    assert "def test_" not in given and "def pact(" in given


# -- the cohort ----------------------------------------------------------------------------------


def _weak(name: str) -> str:
    return (WEAK / name).read_text()


def _reference(name: str) -> str:
    return (REFERENCE / name).read_text()


def _all_but_the_jitter_test() -> str:
    suite = _reference("test_payments_client.py")
    start = suite.index("def test_backoff_is_full_jitter_below_a_doubling_ceiling")
    end = suite.index("\n\n\n", start)
    return suite[:start] + suite[end + 3:]


ALWAYS_FAILS = '''\
from course.contracts.payments_client import PaymentsClient


def test_nothing_is_ever_good_enough():
    assert False, "no client passes this"
'''

#: Each submission's answer cells (None: as given, that is blank) and its exact expected points per cell.
SUBMISSIONS = {
    "solution": ({}, {"pact_tests_pass": 1, "pact_contract": 9, "client_tests_pass": 1, "client_fault_tests": 11}),
    "blank": (None, {"pact_tests_pass": 0, "pact_contract": 0, "client_tests_pass": 0, "client_fault_tests": 0}),
    "happy_path": ({"pact_tests": _weak("happy_path_pact.py"), "client_tests": _weak("test_happy_path.py")},
                   {"pact_tests_pass": 1, "pact_contract": round(9 * 2 / 7, 2), "client_tests_pass": 1,
                    "client_fault_tests": round(11 * 1 / 10, 2)}),
    "implementation_detail": ({"client_tests": _weak("test_implementation_detail.py")},
                              {"pact_contract": 9, "client_tests_pass": 1, "client_fault_tests": 0}),
    "always_fails": ({"client_tests": ALWAYS_FAILS}, {"client_tests_pass": 0, "client_fault_tests": 0}),
    # Two weak suites in one notebook (the parts are graded independently): one learner fewer to grade.
    "over_specified_and_all_but_one": ({"pact_tests": _weak("over_specified_pact.py"),
                                        "client_tests": _all_but_the_jitter_test()},
                                       {"pact_tests_pass": 1, "pact_contract": 0, "client_tests_pass": 1,
                                        "client_fault_tests": round(11 * 9 / 10, 2)}),
}

#: Each weak suite's reason must say this (the test it lost on, and what the correct implementation did).
REASONS = {
    ("implementation_detail", "client_fault_tests"): ["rejected a correct implementation", "without dashes",
                                                      "test_the_idempotency_key_is_a_dashed_uuid failed"],
    ("over_specified_and_all_but_one", "pact_contract"): ["rejected a correct implementation", "sends more fields"],
    ("over_specified_and_all_but_one", "client_fault_tests"): ["caught 9 of 10", "missed: waits a fixed exponential"],
    ("always_fails", "client_fault_tests"): ["test_nothing_is_ever_good_enough"],
    ("blank", "client_fault_tests"): ["NotImplementedError"],
}


def _submission(student, source, cells: dict | None):
    nb = nbformat.reads(nbformat.writes(student), as_version=4)
    if cells is None:
        return nb
    answers = {c: _answer(source, c).source for c in ("pact_tests", "client_tests")}
    for grade_id in ("pact_tests", "client_tests"):
        text = answers[grade_id] if grade_id not in cells else (
            answers[grade_id].splitlines()[0] + "\n" + cells[grade_id])
        _answer(nb, grade_id).source = _without_markers(text)
    return nb


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from autograder.cohort import grade_cohort

    root = tmp_path_factory.mktemp("testing-cohort") / "course"
    (root / "source" / "testing").mkdir(parents=True)
    shutil.copy(SOURCE, root / "source" / "testing" / "testing.ipynb")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        'c.CourseDirectory.course_id = "mup"\n'
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n")
    bs.run_nbgrader(root, "generate_assignment", "testing", "--force")
    student = nbformat.read(root / "release" / "testing" / "testing.ipynb", as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    for name, (cells, _) in SUBMISSIONS.items():
        target = root / "submitted" / name / "testing" / "testing.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(_submission(student, source, cells), target)
    result = grade_cohort(root, "testing", workers=2, timeout=60, progress=False)
    return result


@pytest.mark.parametrize("name", list(SUBMISSIONS))
def test_each_submission_gets_exactly_its_score(cohort, name):
    submission = next(s for s in cohort.submissions if s.student == name)
    _, expected = SUBMISSIONS[name]
    for grade_id, points in expected.items():
        assert submission.earned(grade_id) == pytest.approx(points, abs=0.011), (name, grade_id, submission)


@pytest.mark.parametrize("name, grade_id", list(REASONS))
def test_a_suite_that_loses_points_is_told_why(cohort, name, grade_id):
    submission = next(s for s in cohort.submissions if s.student == name)
    question = next(q for q in submission.questions if q.grade_id == grade_id)
    for phrase in REASONS[(name, grade_id)]:
        assert phrase in question.reason + " ".join(question.details), (phrase, question)


def test_feedback_names_bug_classes_never_code(cohort):
    feedback = cohort.course_dir / "feedback" / "happy_path" / "testing" / "testing.html"
    text = feedback.read_text(encoding="utf-8")
    assert "caught: " in text and "missed: " in text
    unescaped = text.replace("&#x27;", "'").replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    for implementation in PACT_PART.implementations + CLIENT_PART.implementations:
        if not implementation.wheat:
            assert implementation.description in unescaped
        assert implementation.name not in text or implementation.name == "payments_client"
    given_client = (ROOT / "course" / "contracts" / "payments_client.py").read_text()
    for implementation in CLIENT_PART.implementations[1:]:  # the bug's own lines never reach feedback
        for line in implementation.path.read_text().splitlines():
            if len(line.strip()) > 30 and line not in given_client:
                assert line.strip() not in unescaped, (implementation.name, line)
