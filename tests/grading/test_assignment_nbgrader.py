"""The resilience assignment, graded by real nbgrader in a scratch course directory.

One module-scoped course: ``nbgrader generate_assignment``, then every
submission from :mod:`tests.grading.build_submissions` autograded in a single
``nbgrader autograde`` run (about a minute), and the scores read back from the
gradebook. The tests below then check what each submission got: the reference
solution everything, the blank student version nothing, each buggy one exactly
its expected losses, and what nbgrader does with a test cell edited, an
infinite loop, a dead kernel and a file that is not JSON.
"""

from __future__ import annotations

import ast
import re
import time

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import MetadataValidator

from tests.grading import build_submissions as bs

#: nbgrader's per-cell limit in these tests. The slowest reference cell takes about 0.5 s.
CELL_TIMEOUT = 10

AUTOGRADED = bs.autograded_ids()
MANUAL = bs.manual_ids()


# -- the source notebook, without nbgrader running ----------------------------------------------

def test_source_notebook_has_valid_nbgrader_metadata_and_the_planned_points():
    nb = nbformat.read(bs.SOURCE, as_version=4)
    MetadataValidator().validate_nb(nb)  # unique grade_ids, points on graded cells, schema version 3
    assert sum(AUTOGRADED.values()) == 60
    assert sum(MANUAL.values()) == 15
    assert set(MANUAL) == {"q_jitter", "q_amplification", "q_fallback"}
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source}
    assert hidden <= set(AUTOGRADED) and len(hidden) == 11
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in AUTOGRADED:
            # nbgrader reads a value a test cell displays as partial credit, so none ends with an
            # expression other than print(...) or a hidden _check_...() (both return None)
            last = ast.parse(cell.source).body[-1]
            if isinstance(last, ast.Expr):
                assert isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name)
                assert last.value.func.id == "print" or last.value.func.id.startswith("_check_"), meta["grade_id"]
        if "MARK SCHEME" in cell.source:
            assert meta.get("task"), "nbgrader keeps mark schemes only in task cells"


def test_expected_losses_name_real_test_cells():
    for name, lost in bs.EXPECTED_LOSSES.items():
        assert lost <= set(AUTOGRADED), name
    assert set(bs.EXPECTED_LOSSES) | {"blank"} | set(bs.UNGRADABLE) == set(bs.SUBMISSIONS)


# -- one course, every submission autograded once ------------------------------------------------

def _timed_log(stderr: str) -> dict[str, float]:
    """Seconds nbgrader spent on each student, from the timestamped log lines."""
    starts = [(float(t), student) for t, student in
              re.findall(r"^(\d+\.\d+) .*Creating/updating student with ID '([^']+)'", stderr, re.M)]
    last = re.findall(r"^(\d+\.\d+) ", stderr, re.M)
    ends = [t for t, _ in starts[1:]] + [float(last[-1])]
    return {student: end - start for (start, student), end in zip(starts, ends)}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = bs.make_course(tmp_path_factory.mktemp("course"), timeout=CELL_TIMEOUT)
    student = bs.generate_student_version(root)
    paths = bs.build_submissions(student, root / "built")
    bs.submit(root, paths)
    started = time.perf_counter()
    run = bs.run_nbgrader(root, "autograde", bs.ASSIGNMENT,
                          "--Application.log_format=%(created).3f [%(name)s | %(levelname)s] %(message)s",
                          check=False)
    wall = time.perf_counter() - started
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for name in bs.SUBMISSIONS:
            try:
                notebook = gb.find_submission_notebook(bs.ASSIGNMENT, bs.ASSIGNMENT, name)
            except MissingEntry:
                continue
            scores[name] = {g.name: g.auto_score for g in notebook.grades}
    return {"root": root, "student": student, "run": run, "wall": wall, "scores": scores,
            "seconds": _timed_log(run.stderr)}


def _lost(scores: dict) -> set:
    return {gid for gid, points in AUTOGRADED.items() if scores[gid] != points}


def test_student_version_hides_solutions_hidden_tests_and_mark_schemes(course):
    text = course["student"].read_text()
    for secret in ("BEGIN HIDDEN TESTS", "_check_", "BEGIN SOLUTION", "MARK SCHEME", "Model answer", "Rubric",
                   "delay = rng.uniform", "self._window.append(failed)", "except handles:"):
        assert secret not in text, secret
    nb = nbformat.read(course["student"], as_version=4)
    stubs = [c for c in nb.cells if "raise NotImplementedError()" in c.source]
    assert [c.metadata["nbgrader"]["grade_id"] for c in stubs] == ["retry_policy", "circuit_breaker", "fallback"]
    assert "def next_delay(self, attempts_made, outcome, started_at, now, previous_delay, rng):" in text
    # The instructor sees the rubric: task cells keep their mark scheme in the gradebook.
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gb:
        sources = {c.name: c.source for c in gb.find_notebook(bs.ASSIGNMENT, bs.ASSIGNMENT).source_cells}
    for question in MANUAL:
        assert "=== BEGIN MARK SCHEME ===" in sources[question]


def test_the_reference_solution_gets_every_autograded_point(course):
    assert _lost(course["scores"]["solution"]) == set()


def test_the_blank_student_version_gets_nothing(course):
    scores = course["scores"]["blank"]
    assert {gid: scores[gid] for gid in AUTOGRADED} == {gid: 0.0 for gid in AUTOGRADED}


@pytest.mark.parametrize("bug", sorted(bs.BUGS))
def test_each_bug_loses_exactly_the_checks_it_violates(course, bug):
    assert _lost(course["scores"][bug]) == bs.EXPECTED_LOSSES[bug]
    assert all(course["scores"][bug][gid] == 0 for gid in bs.EXPECTED_LOSSES[bug])


def test_edited_test_cells_are_graded_as_the_originals(course):
    assert _lost(course["scores"]["edits_test_cell"]) == set()
    # Replacing the two cells that catch a bug with `pass` does not hide it.
    assert _lost(course["scores"]["edits_test_cell_to_hide_bug"]) == bs.EXPECTED_LOSSES["no_jitter"]


def test_an_infinite_loop_hits_the_cell_timeout_and_the_rest_is_still_graded(course):
    assert _lost(course["scores"]["infinite_loop"]) == bs.EXPECTED_LOSSES["infinite_loop"]
    assert f"Timeout waiting for execute reply ({CELL_TIMEOUT}s)" in course["run"].stderr
    graded = nbformat.read(course["root"] / "autograded" / "infinite_loop" / bs.ASSIGNMENT / bs.SOURCE.name, 4)
    loop_cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fallback")
    assert "CellTimeoutError" in {o.get("ename") for o in loop_cell.outputs}
    assert course["seconds"]["infinite_loop"] < CELL_TIMEOUT + 20


@pytest.mark.parametrize("name, log_line", [
    ("os_exit", "Kernel died while waiting for execute reply."),
    ("invalid_json", "Notebook does not appear to be JSON"),
])
def test_nbgrader_leaves_a_dead_kernel_or_invalid_json_ungraded(course, name, log_line):
    """nbgrader logs an error and exits 1, writes no autograded notebook, and leaves the
    submission in the gradebook with every autograded score None (shown as 0, 'needs manual
    grade'): nothing in the gradebook says it failed. The cohort report has to say so."""
    run = course["run"]
    assert run.returncode == 1
    assert log_line in run.stderr
    assert f"There was an error processing assignment 'resilience' for student '{name}'" in run.stderr
    assert not (course["root"] / "autograded" / name / bs.ASSIGNMENT / bs.SOURCE.name).exists()
    assert {course["scores"][name][gid] for gid in AUTOGRADED} == {None}


def test_autograding_time_per_submission_stays_modest(course):
    seconds = course["seconds"]
    assert set(seconds) == set(bs.SUBMISSIONS)
    normal = [s for name, s in seconds.items() if name not in ("infinite_loop", "invalid_json")]
    assert max(normal) < 20, seconds  # kernel start plus about 1.5 s of cells
    assert course["wall"] < 60 + 20 * len(seconds), course["wall"]

