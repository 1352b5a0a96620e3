"""Each graded assignment, graded by real nbgrader in a scratch course directory.

Every test runs once per assignment in :data:`tests.grading.build_submissions.SPECS`.
One course per assignment, made the first time a test asks for it: ``nbgrader
generate_assignment``, then every submission of that assignment autograded in a
single ``nbgrader autograde`` run, and the scores read back from the gradebook.
The tests below then check what each submission got: the reference solution
everything, the blank student version nothing, each buggy one exactly its
expected losses, and what nbgrader does with a test cell edited, an infinite
loop, a dead kernel and a file that is not JSON (for the assignments that have
those submissions; the last two are nbgrader's behaviour, tested on one).
"""

from __future__ import annotations

import ast
import re
import time

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import MetadataValidator

from tests.grading.build_submissions import SPECS, run_nbgrader

#: nbgrader's per-cell limit in these tests. The slowest reference cell takes about 0.5 s.
CELL_TIMEOUT = 10

ASSIGNMENTS = sorted(SPECS)
BUG_CASES = [pytest.param(spec.id, bug, id=f"{spec.id}-{bug}") for spec in SPECS.values() for bug in sorted(spec.bugs)]
LOOPING = [spec.id for spec in SPECS.values() if spec.loop_cell]
UNGRADABLE_CASES = [pytest.param(spec.id, name, line, id=f"{spec.id}-{name}")
                    for spec in SPECS.values() for name, line in (
                        ("os_exit", "Kernel died while waiting for execute reply."),
                        ("invalid_json", "Notebook does not appear to be JSON"))
                    if name in spec.ungradable]


# -- the source notebook, without nbgrader running ----------------------------------------------

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_has_valid_nbgrader_metadata_and_the_planned_points(assignment):
    spec = SPECS[assignment]
    autograded, manual = spec.autograded_ids(), spec.manual_ids()
    nb = nbformat.read(spec.source, as_version=4)
    MetadataValidator().validate_nb(nb)  # unique grade_ids, points on graded cells, schema version 3
    assert sum(autograded.values()) == spec.autograded_points
    assert sum(manual.values()) == spec.manual_points
    assert set(manual) == set(spec.questions)
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "### BEGIN HIDDEN TESTS" in c.source}
    assert hidden <= set(autograded) and len(hidden) == spec.hidden_cells
    # One cell near the top says how to check the work, with every command line and the total.
    how = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "how_to_check"]
    assert len(how) == 1 and nb.cells.index(how[0]) <= 3
    assert how[0].source.startswith("## How to check your work\n")
    assert f"score: X / {spec.autograded_points:g}" in how[0].source
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "python -m autograder" in c.source] \
        == ["how_to_check"]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in autograded:
            # nbgrader reads a value a test cell displays as partial credit, so none ends with an
            # expression other than print(...) or a hidden _check_...() (both return None)
            last = ast.parse(cell.source).body[-1]
            if isinstance(last, ast.Expr):
                assert isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name)
                assert last.value.func.id == "print" or last.value.func.id.startswith("_check_"), meta["grade_id"]
        if "MARK SCHEME" in cell.source:
            assert meta.get("task"), "nbgrader keeps mark schemes only in task cells"
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, "saved without outputs"


#: A test cell's first line: what kind of tests it holds, what they test, its grade_id and points.
TITLE = re.compile(r"^# (?P<kind>Visible|Hidden) tests: (?P<what>.+) \((?P<id>\w+), (?P<points>\d+) points?"
                   r"(?P<grader>, run by the grader)?\)$")


def _outside_hidden_regions(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.split("\n"):
        if "### BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "### END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            lines.append(line)
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_test_cell_is_what_its_title_says(assignment):
    """A "Visible tests" cell holds no hidden tests; a "Hidden tests" cell holds nothing a learner can run
    (only a note, outside its hidden region), so nothing a learner sees passing can fail when graded."""
    spec = SPECS[assignment]
    autograded = spec.autograded_ids()
    nb = nbformat.read(spec.source, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid not in autograded:
            continue
        title = TITLE.match(cell.source.split("\n", 1)[0])
        assert title, f"{gid}: first line {cell.source.splitlines()[0]!r}"
        assert title["id"] == gid and float(title["points"]) == autograded[gid], gid
        if title["kind"] == "Visible":
            assert not title["grader"] and "HIDDEN TESTS" not in cell.source, gid
            # What it prints claims only what ran: no "OK" that looks like a verdict on the whole cell.
            printed = [line for line in cell.source.split("\n") if line.startswith("print(")]
            assert printed == [cell.source.rstrip().split("\n")[-1]], gid
            assert "visible tests passed" in printed[0] and not re.search(r"\bOK\b", printed[0]), gid
        else:
            assert title["grader"] and cell.source.count("### BEGIN HIDDEN TESTS") == 1, gid
            outside = [line for line in _outside_hidden_regions(cell.source) if line.strip()]
            assert all(line.startswith("# ") for line in outside), f"{gid}: code outside the hidden region"
            assert "grader puts its tests here" in cell.source, gid
    hidden = [gid for gid in autograded if "Hidden tests:" in
              next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)]
    assert len(hidden) == spec.hidden_cells


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_expected_losses_name_real_test_cells(assignment):
    spec = SPECS[assignment]
    for name, lost in spec.expected_losses.items():
        assert lost <= set(spec.autograded_ids()), name
    assert set(spec.expected_losses) | {"blank"} | set(spec.ungradable) == set(spec.submissions)
    assert set(spec.edited_test_cells) <= set(spec.autograded_ids())


# -- one course per assignment, every submission autograded once ---------------------------------

def _timed_log(stderr: str) -> dict[str, float]:
    """Seconds nbgrader spent on each student, from the timestamped log lines."""
    starts = [(float(t), student) for t, student in
              re.findall(r"^(\d+\.\d+) .*Creating/updating student with ID '([^']+)'", stderr, re.M)]
    last = re.findall(r"^(\d+\.\d+) ", stderr, re.M)
    ends = [t for t, _ in starts[1:]] + [float(last[-1])]
    return {student: end - start for (start, student), end in zip(starts, ends)}


def _grade(spec, root) -> dict:
    spec.make_course(root, timeout=CELL_TIMEOUT)
    student = spec.generate_student_version(root)
    paths = spec.build_submissions(student, root / "built")
    spec.submit(root, paths)
    started = time.perf_counter()
    run = run_nbgrader(root, "autograde", spec.id,
                       "--Application.log_format=%(created).3f [%(name)s | %(levelname)s] %(message)s", check=False)
    wall = time.perf_counter() - started
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for name in spec.submissions:
            try:
                notebook = gb.find_submission_notebook(spec.id, spec.id, name)
            except MissingEntry:
                continue
            scores[name] = {g.name: g.auto_score for g in notebook.grades}
    return {"spec": spec, "root": root, "student": student, "run": run, "wall": wall, "scores": scores,
            "seconds": _timed_log(run.stderr)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(assignment_id)``: that assignment's course, autograded the first time it is asked for."""
    courses = {}

    def get(assignment: str) -> dict:
        if assignment not in courses:
            courses[assignment] = _grade(SPECS[assignment], tmp_path_factory.mktemp(f"course-{assignment}"))
        return courses[assignment]

    return get


def _lost(spec, scores: dict) -> set:
    return {gid for gid, points in spec.autograded_ids().items() if scores[gid] != points}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_version_hides_solutions_hidden_tests_and_mark_schemes(graded, assignment):
    course = graded(assignment)
    spec = course["spec"]
    text = course["student"].read_text()
    for secret in ("BEGIN HIDDEN TESTS", "_check_", "BEGIN SOLUTION", "MARK SCHEME", "Model answer", "Rubric",
                   *spec.solution_secrets):
        assert secret not in text, secret
    nb = nbformat.read(course["student"], as_version=4)
    for cell in nb.cells:  # a hidden-tests cell is only its note in the student version
        if cell.source.startswith("# Hidden tests:"):
            assert all(line.startswith("#") for line in cell.source.split("\n")), cell.metadata["nbgrader"]["grade_id"]
    stubs = [c for c in nb.cells if "raise NotImplementedError()" in c.source]
    assert list(dict.fromkeys(c.metadata["nbgrader"]["grade_id"] for c in stubs)) == list(spec.answer_cells)
    assert spec.interface_line in text
    # The instructor sees the rubric: task cells keep their mark scheme in the gradebook.
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gb:
        sources = {c.name: c.source for c in gb.find_notebook(spec.id, spec.id).source_cells}
    for question in spec.questions:
        assert "=== BEGIN MARK SCHEME ===" in sources[question]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_solution_gets_every_autograded_point(graded, assignment):
    course = graded(assignment)
    assert _lost(course["spec"], course["scores"]["solution"]) == set()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_blank_student_version_gets_nothing(graded, assignment):
    course = graded(assignment)
    autograded = course["spec"].autograded_ids()
    scores = course["scores"]["blank"]
    assert {gid: scores[gid] for gid in autograded} == {gid: 0.0 for gid in autograded}


@pytest.mark.parametrize("assignment, bug", BUG_CASES)
def test_each_bug_loses_exactly_the_checks_it_violates(graded, assignment, bug):
    course = graded(assignment)
    spec = course["spec"]
    assert _lost(spec, course["scores"][bug]) == spec.expected_losses[bug]
    assert all(course["scores"][bug][gid] == 0 for gid in spec.expected_losses[bug])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_edited_test_cells_are_graded_as_the_originals(graded, assignment):
    course = graded(assignment)
    spec = course["spec"]
    assert _lost(spec, course["scores"]["edits_test_cell"]) == set()
    # Replacing the cells that catch a bug with `pass` does not hide it.
    assert _lost(spec, course["scores"]["edits_test_cell_to_hide_bug"]) == spec.expected_losses[spec.hiding_bug]


@pytest.mark.parametrize("assignment", LOOPING)
def test_an_infinite_loop_hits_the_cell_timeout_and_the_rest_is_still_graded(graded, assignment):
    course = graded(assignment)
    spec = course["spec"]
    assert _lost(spec, course["scores"]["infinite_loop"]) == spec.expected_losses["infinite_loop"]
    assert f"Timeout waiting for execute reply ({CELL_TIMEOUT}s)" in course["run"].stderr
    graded_nb = nbformat.read(course["root"] / "autograded" / "infinite_loop" / spec.id / spec.source.name, 4)
    loop_cell = next(c for c in graded_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == spec.loop_cell)
    assert "CellTimeoutError" in {o.get("ename") for o in loop_cell.outputs}
    assert course["seconds"]["infinite_loop"] < CELL_TIMEOUT + 20


@pytest.mark.parametrize("assignment, name, log_line", UNGRADABLE_CASES)
def test_nbgrader_leaves_a_dead_kernel_or_invalid_json_ungraded(graded, assignment, name, log_line):
    """nbgrader logs an error and exits 1, writes no autograded notebook, and leaves the
    submission in the gradebook with every autograded score None (shown as 0, 'needs manual
    grade'): nothing in the gradebook says it failed. The cohort report has to say so."""
    course = graded(assignment)
    spec = course["spec"]
    run = course["run"]
    assert run.returncode == 1
    assert log_line in run.stderr
    assert f"There was an error processing assignment '{spec.id}' for student '{name}'" in run.stderr
    assert not (course["root"] / "autograded" / name / spec.id / spec.source.name).exists()
    assert {course["scores"][name][gid] for gid in spec.autograded_ids()} == {None}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograding_time_per_submission_stays_modest(graded, assignment):
    course = graded(assignment)
    seconds = course["seconds"]
    assert set(seconds) == set(course["spec"].submissions)
    normal = [s for name, s in seconds.items() if name not in ("infinite_loop", "invalid_json")]
    # Kernel start plus about 1.5 s of cells: under 10 s on a quiet machine. The bounds only catch a grader
    # that hangs or waits out a timeout; the speed itself is measured by `make bench`, not asserted here.
    assert max(normal) < 60, seconds
    assert course["wall"] < 120 + 30 * len(seconds), course["wall"]
