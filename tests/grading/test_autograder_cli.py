"""``python -m autograder`` end to end, with real nbgrader, on the resilience assignment.

Module-scoped fixtures run each expensive thing once and the tests read the
results: ``fetch`` into a learner's folder; the submissions of
:mod:`tests.grading.build_submissions` built from that student version;
``check`` on six of them (two at a time); and ``cohort grade`` on one course
of nine submissions with 2 workers, whose scores must equal ``check``'s. Every other assignment gets ``fetch``, and ``check`` on its solution,
its blank version and one buggy submission. The fast tests at the end cover the pieces (configuration, the
hidden-test scrubbing, failure reasons, the worker pool) without nbgrader
running a kernel.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tests.grading import build_submissions as bs

ROOT = Path(__file__).resolve().parents[2]
#: The assignment the whole command line is exercised on; every other one gets fetch and check.
SPEC = bs.RESILIENCE
ASSIGNMENT = SPEC.id
AUTOGRADED = SPEC.autograded_ids()
MANUAL = SPEC.manual_ids()
MAX_SCORE = sum(AUTOGRADED.values())
#: nbgrader's per-cell limit in the cohort course (the slowest reference cell takes about 0.5 s).
COHORT_CELL_TIMEOUT = 8
COHORT = ["solution", "blank", "no_jitter", "trips_before_minimum", "edits_test_cell", "deletes_test_cells",
          "infinite_loop", "os_exit", "invalid_json"]
#: Test cells the deletes_test_cells submission removes (a visible one and one with hidden tests).
DELETED_TEST_CELLS = ("retry_backoff", "breaker_half_open_probes")
CHECKED = ["solution", "blank", "no_jitter", "edits_test_cell", "os_exit", "infinite_loop"]
#: ``check --timeout`` for the infinite loop (the loop costs one timeout).
CHECK_LOOP_TIMEOUT = 5
SCORE_LINE = re.compile(r"^score: (\S+) / (\S+)$")
QUESTION_LINE = re.compile(r"^\s+(ok|FAIL)\s+(\S+)\s+(\S+) / (\S+)(?:\s+(.*))?$")


def short_name(preprocessor) -> str:
    """A preprocessor's class name, whether configured as a class or as an import string."""
    return preprocessor.rsplit(".", 1)[-1] if isinstance(preprocessor, str) else preprocessor.__name__


def run_cli(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` as a learner or instructor runs it (the repository's assignments)."""
    env = dict(os.environ)
    env.pop("AUTOGRADER_ASSIGNMENTS", None)
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def html_text(path: Path) -> str:
    """What a reader of an HTML file can see: tags removed, entities decoded (highlighted code rejoins)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _region_lines(source: Path, begin: str, end: str, shortest: int) -> set[str]:
    """The stripped lines (at least ``shortest`` long) between ``begin`` and ``end`` marker lines of ``source``."""
    lines = set()
    for cell in nbformat.read(source, as_version=4).cells:
        inside = False
        for line in cell.source.split("\n"):
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and len(line.strip()) >= shortest:
                lines.add(line.strip())
    return lines


def hidden_test_lines(student_sources: str, spec=SPEC) -> set[str]:
    """Lines of the source notebook's hidden test regions that no cell of the student version contains,
    nor any reference solution (a learner's feedback shows their own code, which may well say
    ``except ConnectionError:`` too)."""
    solutions = "\n".join(spec.solution_code().values())
    lines = {line for line in _region_lines(spec.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", 12)
             if line not in student_sources and line not in solutions}
    assert len(lines) > 20, "the source notebook should have hidden tests to hide"
    return lines


def mark_scheme_lines(spec=SPEC) -> set[str]:
    """Lines of the source notebook's mark schemes (the model answers of hand-graded tasks)."""
    return _region_lines(spec.source, "BEGIN MARK SCHEME", "END MARK SCHEME", 20)


def assert_no_mark_scheme(text: str, where: str, spec=SPEC) -> None:
    leaked = sorted(line for line in mark_scheme_lines(spec) if line in text)
    assert not leaked and "MARK SCHEME" not in text, f"{where} shows a mark scheme: {leaked[:2]}"


def assert_no_hidden_source(text: str, hidden: set[str], where: str) -> None:
    leaked = sorted(line for line in hidden if line in text)
    assert not leaked, f"{where} shows hidden test source: {leaked[:3]}"
    assert "BEGIN HIDDEN TESTS" not in text and "_check_" not in text, where


def score_line(stdout: str) -> tuple[float, float]:
    last = stdout.rstrip("\n").split("\n")[-1]
    m = SCORE_LINE.match(last)
    assert m, f"the last line is not 'score: X / Y': {last!r}"
    return float(m.group(1)), float(m.group(2))


def question_lines(stdout: str) -> dict[str, tuple[str, float, float, str]]:
    found = {}
    for line in stdout.split("\n"):
        m = QUESTION_LINE.match(line)
        if m:
            found[m.group(2)] = (m.group(1), float(m.group(3)), float(m.group(4)), m.group(5) or "")
    return found


# -- fetch --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    home = tmp_path_factory.mktemp("learner")
    run = run_cli("fetch", ASSIGNMENT, cwd=home)
    assert run.returncode == 0, run.stderr
    notebook = home / "my-work" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    sources = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells)
    return {"home": home, "run": run, "notebook": notebook, "text": notebook.read_text(encoding="utf-8"),
            "sources": sources}


@pytest.fixture(scope="module")
def hidden(fetched):
    """Hidden test lines that the learner never sees (some hidden asserts repeat visible ones)."""
    return hidden_test_lines(fetched["sources"])


def test_fetch_writes_nbgraders_student_version_and_says_what_next(fetched, hidden):
    text = fetched["text"]
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "MARK SCHEME", "delay = rng.uniform"):
        assert secret not in text
    assert_no_hidden_source(fetched["sources"], hidden, "the student version")
    nb = nbformat.read(fetched["notebook"], as_version=4)
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "raise NotImplementedError()" in c.source] \
        == ["retry_policy", "circuit_breaker", "fallback"]
    out = fetched["run"].stdout
    assert f"my-work/{ASSIGNMENT}/{ASSIGNMENT}.ipynb" in out
    assert f"python -m autograder check {ASSIGNMENT}" in out


def test_fetch_never_overwrites_a_learners_work_unless_forced(fetched, tmp_path):
    work = tmp_path / "my-work" / ASSIGNMENT
    shutil.copytree(fetched["notebook"].parent, work)
    mine = work / f"{ASSIGNMENT}.ipynb"
    mine.write_text(mine.read_text().replace("raise NotImplementedError()", "return 'my answer'", 1))
    before = mine.read_text()

    refused = run_cli("fetch", ASSIGNMENT, "--dest", "my-work", cwd=tmp_path)
    assert refused.returncode == 2
    assert "not overwriting" in refused.stderr and "--force" in refused.stderr
    assert mine.read_text() == before

    forced = run_cli("fetch", ASSIGNMENT, "--dest", "my-work", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert mine.read_text() == fetched["text"]
    backups = list(work.glob(f"{ASSIGNMENT}.backup-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_text() == before
    assert str(backups[0].name) in forced.stdout


def test_unknown_assignment_is_refused_with_the_valid_ids(tmp_path):
    for args in (["fetch", "no-such-assignment"],
                 ["check", str(SPEC.source), "--assignment", "no-such-assignment", "--no-feedback"]):
        run = run_cli(*args, cwd=tmp_path)
        assert run.returncode == 2, args
        assert "unknown assignment 'no-such-assignment'" in run.stderr
        assert re.search(rf"Valid assignment ids: .*\b{ASSIGNMENT}\b", run.stderr)
        assert "Traceback" not in run.stderr


# -- check --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def submissions(fetched, tmp_path_factory):
    return SPEC.build_submissions(fetched["notebook"], tmp_path_factory.mktemp("submissions"))


@pytest.fixture(scope="module")
def checks(submissions):
    """``check`` on each of CHECKED (two at a time): name -> (completed process, wall seconds)."""
    def one(name):
        started = time.perf_counter()
        extra = ["--assignment", ASSIGNMENT] if name == "solution" else []  # the others: from their cells
        if name == "infinite_loop":
            extra = ["--timeout", str(CHECK_LOOP_TIMEOUT)]
        run = run_cli("check", str(submissions[name]), *extra, cwd=submissions[name].parent)
        return name, (run, time.perf_counter() - started)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, CHECKED))


def test_check_gives_the_solution_full_points(checks):
    run, _ = checks["solution"]
    assert run.returncode == 0, run.stderr
    assert score_line(run.stdout) == (MAX_SCORE, MAX_SCORE)
    questions = question_lines(run.stdout)
    assert set(questions) == set(AUTOGRADED)
    assert all(verdict == "ok" and earned == possible for verdict, earned, possible, _ in questions.values())
    for gid in MANUAL:
        assert re.search(rf"^\s+hand\s+{gid}\s+- / {MANUAL[gid]:g}\s+graded by hand", run.stdout, re.M), gid


def test_check_gives_the_blank_version_zero_and_still_exits_0(checks):
    run, _ = checks["blank"]
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip("\n").split("\n")[-1] == f"score: 0 / {MAX_SCORE:g}"
    questions = question_lines(run.stdout)
    assert {gid for gid, q in questions.items() if q[0] == "FAIL"} == set(AUTOGRADED)
    assert all("NotImplementedError" in q[3] or "NameError" in q[3] for q in questions.values())


def test_check_names_each_lost_question_with_the_error_message(checks):
    run, _ = checks["no_jitter"]
    assert run.returncode == 0, run.stderr
    questions = question_lines(run.stdout)
    lost = {gid for gid, q in questions.items() if q[0] == "FAIL"}
    assert lost == SPEC.expected_losses["no_jitter"]
    for gid in lost:
        verdict, earned, possible, reason = questions[gid]
        assert earned == 0 and possible == AUTOGRADED[gid]
        assert re.match(r"^\w+Error: \S", reason), reason  # "AssertionError: <the test's message>"
    assert score_line(run.stdout) == (MAX_SCORE - sum(AUTOGRADED[g] for g in lost), MAX_SCORE)


def test_check_grades_an_edited_test_cell_against_the_original(checks):
    run, _ = checks["edits_test_cell"]
    assert run.returncode == 0, run.stderr
    assert score_line(run.stdout) == (MAX_SCORE, MAX_SCORE)


def test_check_interrupts_an_infinite_loop_and_says_which_answer_looped(checks):
    run, wall = checks["infinite_loop"]
    assert run.returncode == 0, run.stderr
    lost = SPEC.expected_losses["infinite_loop"]
    assert {gid for gid, q in question_lines(run.stdout).items() if q[0] == "FAIL"} == lost
    assert score_line(run.stdout) == (MAX_SCORE - sum(AUTOGRADED[g] for g in lost), MAX_SCORE)
    assert (f"note: your answer cell 'fallback' failed: CellTimeoutError: the cell ran longer than "
            f"{CHECK_LOOP_TIMEOUT} s") in run.stdout
    assert wall < CHECK_LOOP_TIMEOUT + 180  # catches a check that hangs; slow under load, not stuck


def test_check_says_when_nbgrader_could_not_grade_a_dead_kernel(checks):
    run, _ = checks["os_exit"]
    assert run.returncode == 2
    assert "nbgrader could not grade" in run.stderr and "kernel died" in run.stderr
    assert "score:" not in run.stdout


def test_check_output_and_feedback_never_show_hidden_tests(checks, submissions, hidden):
    for name, (run, _) in checks.items():
        assert_no_hidden_source(run.stdout + run.stderr, hidden, f"check output for {name}")
        assert "Traceback" not in run.stdout + run.stderr, name
    for name in ("solution", "blank", "no_jitter"):
        feedback = submissions[name].parent / "feedback" / f"{name}.html"
        assert feedback.is_file(), f"no feedback for {name}"
        assert f"feedback: {feedback}" in checks[name][0].stdout
        text = html_text(feedback)
        assert_no_hidden_source(text, hidden, f"feedback for {name}")
        assert_no_mark_scheme(text, f"feedback for {name}")
        assert "Score:" in text  # it is nbgrader's feedback page
    assert "AssertionError" in html_text(submissions["no_jitter"].parent / "feedback" / "no_jitter.html")


def test_check_takes_seconds_not_minutes(checks):
    seconds = {name: wall for name, (_, wall) in checks.items()}
    assert max(seconds.values()) < 120, seconds  # two at a time, on a shared machine


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("I pasted my answers here instead {\n", "not valid JSON"),
    ('{"hello": "world"}', "not a Jupyter notebook"),
    ("def with_fallback(fn):\n    return fn\n", "not valid JSON"),
])
def test_check_refuses_what_is_not_a_notebook(tmp_path, content, message):
    path = tmp_path / "resilience.ipynb"
    if content is not None:
        path.write_text(content)
    run = run_cli("check", str(path), cwd=tmp_path)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


# -- fetch and check on every other assignment ---------------------------------------------------

OTHERS = [spec.id for spec in bs.SPECS.values() if spec is not SPEC]


@pytest.fixture(scope="module")
def checked_elsewhere(tmp_path_factory):
    """``checked_elsewhere(assignment_id)``, once per assignment: ``fetch`` it, build its submissions
    from that copy, and ``check`` the solution, the blank version and its first bug (two at a time)."""
    done = {}

    def get(assignment: str) -> dict:
        if assignment not in done:
            spec = bs.SPECS[assignment]
            home = tmp_path_factory.mktemp(f"learner-{assignment}")
            fetch = run_cli("fetch", assignment, cwd=home)
            assert fetch.returncode == 0, fetch.stderr
            notebook = home / "my-work" / assignment / f"{assignment}.ipynb"
            paths = spec.build_submissions(notebook, home / "submissions")
            bug = next(iter(spec.bugs))

            def one(name):
                return name, run_cli("check", str(paths[name]), cwd=paths[name].parent)

            with ThreadPoolExecutor(2) as pool:
                runs = dict(pool.map(one, ["solution", "blank", bug]))
            sources = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells)
            done[assignment] = {"spec": spec, "fetch": fetch, "notebook": notebook, "paths": paths, "bug": bug,
                                "runs": runs, "hidden": hidden_test_lines(sources, spec), "sources": sources}
        return done[assignment]

    return get


@pytest.mark.parametrize("assignment", OTHERS)
def test_fetch_gives_the_student_version_of_every_assignment(checked_elsewhere, assignment):
    got = checked_elsewhere(assignment)
    spec = got["spec"]
    assert f"python -m autograder check {assignment}" in got["fetch"].stdout
    text = got["notebook"].read_text(encoding="utf-8")
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "MARK SCHEME", *spec.solution_secrets):
        assert secret not in text, secret
    assert_no_hidden_source(got["sources"], got["hidden"], f"the student version of {assignment}")


@pytest.mark.parametrize("assignment", OTHERS)
def test_check_scores_every_assignment_as_an_instructor_would(checked_elsewhere, assignment):
    got = checked_elsewhere(assignment)
    spec, runs = got["spec"], got["runs"]
    autograded, manual = spec.autograded_ids(), spec.manual_ids()
    total = sum(autograded.values())
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr[-2000:])
        assert_no_hidden_source(run.stdout + run.stderr, got["hidden"], f"check output for {assignment}/{name}")
        assert "Traceback" not in run.stdout + run.stderr, name
        feedback = got["paths"][name].parent / "feedback" / f"{name}.html"
        assert_no_hidden_source(html_text(feedback), got["hidden"], f"feedback for {assignment}/{name}")
        assert_no_mark_scheme(html_text(feedback), f"feedback for {assignment}/{name}", spec)
    assert score_line(runs["solution"].stdout) == (total, total)
    for gid in manual:
        assert re.search(rf"^\s+hand\s+{gid}\s+- / {manual[gid]:g}\s+graded by hand", runs["solution"].stdout, re.M)
    assert runs["blank"].stdout.rstrip("\n").split("\n")[-1] == f"score: 0 / {total:g}"
    questions = question_lines(runs[got["bug"]].stdout)
    lost = {gid for gid, q in questions.items() if q[0] == "FAIL"}
    assert lost == spec.expected_losses[got["bug"]]
    assert all(re.match(r"^\w+Error: \S", questions[gid][3]) for gid in lost), questions
    assert score_line(runs[got["bug"]].stdout) == (total - sum(autograded[g] for g in lost), total)


# -- cohort grade -------------------------------------------------------------------------------


def _read_report(course: Path) -> dict[str, dict]:
    with (course / "reports" / f"{ASSIGNMENT}_report.csv").open(newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, submissions):
    base = tmp_path_factory.mktemp("cohort")
    course = SPEC.make_course(base / "course", timeout=COHORT_CELL_TIMEOUT)
    SPEC.generate_student_version(course)  # nbgrader generate_assignment: release/ and the gradebook
    deleted = nbformat.read(submissions["solution"], as_version=4)
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") not in DELETED_TEST_CELLS]
    nbformat.write(deleted, base / "deletes_test_cells.ipynb")
    SPEC.submit(course, {**submissions, "deletes_test_cells": base / "deletes_test_cells.ipynb"}, COHORT)
    started = time.perf_counter()
    run = run_cli("cohort", "grade", str(course), "--workers", "2", cwd=base)
    wall = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-3000:]
    return {"course": course, "run": run, "wall": wall, "report": _read_report(course)}


def test_cohort_report_has_a_row_for_every_submission(cohort):
    report = cohort["report"]
    assert sorted(report) == sorted(COHORT)
    for name, row in report.items():
        assert row["max_score"] == f"{MAX_SCORE:g}"
        assert row["status"] == ("failed" if name in SPEC.ungradable else "graded"), name
    header = next(csv.reader((cohort["course"] / "reports" / f"{ASSIGNMENT}_report.csv").open()))
    assert header[:4] == ["student", "status", "score", "max_score"]
    assert header[4:-3] == list(AUTOGRADED) and header[-3:] == ["reason", "flags", "seconds"]
    for name, row in report.items():  # flags are for attempts on the grader; a deleted test cell is a notice
        expected = "was missing from your notebook; the grader put it back" if name == "deletes_test_cells" else ""
        assert (expected in row["flags"]) if expected else row["flags"] == "", (name, row["flags"])


def test_cohort_scores_each_submission_as_nbgrader_does(cohort):
    report = cohort["report"]
    for name in ("solution", "blank", "no_jitter", "trips_before_minimum", "edits_test_cell", "deletes_test_cells",
                 "infinite_loop"):
        row = report[name]
        # Deleted test cells are put back (OverwriteCells.add_missing_cells) and pass for a correct solution.
        lost = set(AUTOGRADED) if name == "blank" else SPEC.expected_losses.get(name, set())
        assert {gid for gid in AUTOGRADED if float(row[gid]) < AUTOGRADED[gid]} == lost, name
        assert float(row["score"]) == MAX_SCORE - sum(AUTOGRADED[g] for g in lost), name
        assert all(gid in row["reason"] for gid in lost), name


def test_cohort_lists_ungradable_submissions_with_zero_and_the_reason(cohort):
    report = cohort["report"]
    assert report["os_exit"]["score"] == "0" and "kernel died" in report["os_exit"]["reason"]
    assert report["invalid_json"]["score"] == "0" and "not valid JSON" in report["invalid_json"]["reason"]
    for name in SPEC.ungradable:
        assert all(report[name][gid] == "0" for gid in AUTOGRADED)
        assert "NOT GRADED" in cohort["run"].stderr and name in cohort["run"].stdout
        log = cohort["course"] / "reports" / "logs" / ASSIGNMENT / f"{name}.log"
        assert "There was an error processing assignment" in log.read_text()  # nbgrader's own words


def test_cohort_records_grades_in_the_course_gradebook_and_exports_them(cohort):
    from nbgrader.api import Gradebook

    course = cohort["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "mup") as gb:
        for name, row in cohort["report"].items():
            grades = {g.name: g for g in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, name).grades}
            for gid in AUTOGRADED:
                assert (grades[gid].score or 0.0) == float(row[gid]), (name, gid)
    with (course / "reports" / "grades.csv").open(newline="") as f:
        exported = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(exported) == set(COHORT)
    assert float(exported["solution"]["raw_score"]) == MAX_SCORE
    assert float(exported["os_exit"]["raw_score"]) == 0
    for name in COHORT:
        autograded = course / "autograded" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert autograded.is_file() == (name not in SPEC.ungradable), name


def test_cohort_feedback_exists_for_graded_submissions_without_hidden_tests(cohort, hidden):
    course = cohort["course"]
    for name in COHORT:
        feedback = course / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert feedback.is_file() == (name not in SPEC.ungradable), name
        if feedback.is_file():
            assert_no_hidden_source(html_text(feedback), hidden, f"feedback for {name}")
            assert_no_mark_scheme(html_text(feedback), f"feedback for {name}")


def test_cohort_figure_is_a_png(cohort):
    figure = cohort["course"] / "reports" / f"{ASSIGNMENT}_report.png"
    data = figure.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_cohort_shows_progress_and_where_everything_went(cohort):
    err, out = cohort["run"].stderr, cohort["run"].stdout
    bar = [line for line in err.splitlines() if line.startswith("grading")]
    steps = 2 * len(COHORT) - len(SPEC.ungradable)  # autograde each, feedback for each graded one
    assert len(bar) == steps and re.match(rf"grading\s+\[#+\]\s+{steps}/{steps}\s", bar[-1]), bar[-1]
    assert any("NOT GRADED os_exit: " in line and "kernel died" in line for line in bar)
    assert any("feedback for solution" in line for line in bar)
    for what in ("report:", "figure:", "grades (nbgrader export):",
                 "feedback (hidden tests and mark schemes removed):"):
        assert what in out


def test_an_infinite_loop_hits_the_cell_timeout_and_is_still_graded(cohort):
    row = cohort["report"]["infinite_loop"]
    assert row["status"] == "graded"
    autograded = cohort["course"] / "autograded" / "infinite_loop" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(autograded, as_version=4)
    loop_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fallback")
    assert "CellTimeoutError" in {o.get("ename") for o in loop_cell.outputs}
    assert float(row["seconds"]) < COHORT_CELL_TIMEOUT + 40
    assert cohort["wall"] < 400, cohort["wall"]


def test_two_workers_give_the_same_scores_as_check_one_at_a_time(cohort, checks):
    # check grades one notebook in one process; the cohort grades them on two workers at once, sharing a
    # gradebook. Every submission both graded gets the same score, question by question.
    report = cohort["report"]
    for name in sorted(set(CHECKED) & set(COHORT) - set(SPEC.ungradable)):
        run, _ = checks[name]
        assert float(report[name]["score"]) == score_line(run.stdout)[0], name
        earned = {gid: earned for gid, (_, earned, _, _) in question_lines(run.stdout).items()}
        assert earned == {gid: float(report[name][gid]) for gid in AUTOGRADED}, name


def test_cohort_grade_refuses_a_directory_that_is_not_a_graded_course(tmp_path):
    missing = run_cli("cohort", "grade", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such course directory" in missing.stderr
    (tmp_path / "course" / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(SPEC.source, tmp_path / "course" / "source" / ASSIGNMENT)
    not_generated = run_cli("cohort", "grade", str(tmp_path / "course"), cwd=tmp_path)
    assert not_generated.returncode == 2
    assert "nbgrader generate_assignment" in not_generated.stderr
    assert "Traceback" not in not_generated.stderr


# -- the pieces, without nbgrader running a kernel ------------------------------------------------


def test_config_sets_the_cell_timeout_and_feedback_without_hidden_tests():
    from traitlets.config import Config

    from autograder import config
    from autograder.feedback import StripHiddenTests

    c = config.apply(Config())
    assert c.Execute.timeout == c.ExecutePreprocessor.timeout == config.DEFAULT_CELL_TIMEOUT
    assert c.OverwriteCells.add_missing_cells is True
    assert config.apply(Config(), timeout=7).Execute.timeout == 7
    course = Config()
    course.ExecutePreprocessor.timeout = 12
    assert config.cell_timeout(config.apply(course)) == 12  # a course's own setting is kept
    preprocessors = config.apply(config.apply(Config())).GenerateFeedback.preprocessors
    assert preprocessors.count(StripHiddenTests) == 1
    assert [short_name(p) for p in preprocessors] == ["GetGrades", "StripHiddenTests", "ClearMarkScheme",
                                                      "FeedbackRun", "SafeOutputs", "WheatChaffFeedback",
                                                      "CSSHTMLHeaderPreprocessor"]
    shown = config.apply(Config(), show_mark_scheme=True).GenerateFeedback.preprocessors
    assert "ClearMarkScheme" not in [short_name(p) for p in shown]
    assert [short_name(p) for p in shown][2:4] == ["FeedbackRun", "SafeOutputs"]
    autograde = config.apply(Config()).Autograde.autograde_preprocessors
    assert [short_name(p) for p in autograde][0] == "GuardedExecute" and "Execute" not in map(short_name, autograde)
    assert [short_name(p) for p in autograde][:2] == ["GuardedExecute", "WheatChaffGrade"]  # scored right after the run


def test_nbgraders_own_apps_pick_up_the_config_file(tmp_path):
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import Execute

    from autograder.config import course_config, write_config_file

    write_config_file(tmp_path, timeout=9)
    c = course_config(tmp_path)
    assert Execute(config=c).timeout == 9
    assert "StripHiddenTests" in [short_name(p) for p in GenerateFeedback(config=c).preprocessors]
    assert c.CourseDirectory.db_url == f"sqlite:///{tmp_path.resolve() / 'gradebook.db'}"
    with pytest.raises(FileExistsError):
        write_config_file(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.db_url = "sqlite:///grades.db"\n')
    assert course_config(tmp_path).CourseDirectory.db_url == f"sqlite:///{tmp_path.resolve() / 'grades.db'}"


def _failed_test_notebook():
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    hidden_line = 'assert _check_secret(policy) == 42, "the policy must answer 42"'
    cell = new_code_cell(
        "assert policy is not None\n### BEGIN HIDDEN TESTS\n" + hidden_line + "\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "grade_id": "t1", "locked": True, "points": 1, "solution": False,
                               "schema_version": 3}})
    cell.outputs = [new_output("stream", name="stdout", text=f"checking: {hidden_line}\n"),
                    new_output("error", ename="AssertionError", evalue="the policy must answer 42",
                               traceback=["\x1b[0;31m---------\x1b[0m", f"\x1b[0;32m----> 3\x1b[0m {hidden_line}",
                                          "\x1b[0;31mAssertionError\x1b[0m: the policy must answer 42"])]
    other = new_code_cell("run()", outputs=[new_output(
        "error", ename="ValueError", evalue="bad", traceback=[f"Cell In[4], line 3\n      1 {hidden_line}",
                                                               "ValueError: bad"])])
    plain = new_code_cell("1/0", outputs=[new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero",
        traceback=["----> 1 1/0", "ZeroDivisionError: division by zero"])])
    return new_notebook(cells=[cell, other, plain]), hidden_line


def test_strip_hidden_tests_removes_regions_and_tracebacks_that_quote_them():
    from autograder.feedback import StripHiddenTests

    nb, hidden_line = _failed_test_notebook()
    nb, _ = StripHiddenTests().preprocess(nb, {})
    text = json.dumps(nb)
    assert hidden_line not in text and "_check_secret" not in text and "HIDDEN TESTS" not in text
    assert nb.cells[0].source == "assert policy is not None"
    assert nb.cells[0].outputs[1].traceback == ["AssertionError: the policy must answer 42"]
    assert nb.cells[1].outputs[0].traceback == ["ValueError: bad"]
    assert nb.cells[2].outputs[0].traceback == ["----> 1 1/0", "ZeroDivisionError: division by zero"]


def test_check_reasons_never_quote_hidden_lines():
    from autograder.results import cell_failure_reason

    nb, hidden_line = _failed_test_notebook()
    assert cell_failure_reason(nb.cells[0]) == "AssertionError: the policy must answer 42"
    nb.cells[0].outputs[1].evalue = f"failed: {hidden_line}"
    assert cell_failure_reason(nb.cells[0], hidden={hidden_line}) == "AssertionError"


@pytest.mark.parametrize("log, expected", [
    ("    nbclient.exceptions.DeadKernelError: Kernel died\n", "kernel died"),
    ("    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{'\n", "not valid JSON"),
    ("[ERROR] No notebooks found, did you forget to run 'nbgrader generate_assignment'?\n",
     "no notebook with the assignment's notebook name"),
    ("    KeyError: 'cells'\n[ERROR] There was an error\n", "nbgrader could not grade it: KeyError: 'cells'"),
])
def test_reason_from_log_says_why_nbgrader_gave_up(log, expected):
    from autograder.results import reason_from_log

    assert expected in reason_from_log(log)


def test_assignment_inferred_from_name_folder_or_cells(tmp_path):
    from autograder import AutograderError
    from autograder.assignments import find_assignment, infer_assignment, list_assignments

    assert [a.id for a in list_assignments()] == sorted([*bs.SPECS, "testing"])
    for spec in bs.SPECS.values():
        assert find_assignment(spec.id).notebook == spec.source
        by_cells = tmp_path / f"attempt of {spec.id}.ipynb"
        shutil.copy(spec.source, by_cells)
        assert infer_assignment(by_cells).id == spec.id
    (tmp_path / ASSIGNMENT).mkdir()
    by_folder = tmp_path / ASSIGNMENT / "copy.ipynb"
    by_folder.write_text("{}")
    assert infer_assignment(by_folder).id == ASSIGNMENT
    stranger = tmp_path / "other.ipynb"
    stranger.write_text(json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    with pytest.raises(AutograderError, match="give --assignment"):
        infer_assignment(stranger)


def test_worker_pool_survives_deadlines_and_crashes(tmp_path):
    from autograder.workers import WorkerPool

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    task = lambda name, **kw: {"function": f"tests.grading.pool_tasks:{name}", "kwargs": kw}  # noqa: E731
    tasks = [task("echo", value=1), task("sleep", seconds=120), task("die"), task("shout"), task("echo", value=2)]
    started = time.perf_counter()
    with WorkerPool(2, log_path=tmp_path / "workers.log", env=env) as pool:
        results = dict(pool.run(tasks, deadline=30))  # roomy: a worker starts slowly on a loaded machine
    assert sorted(results) == [0, 1, 2, 3, 4]
    assert results[0].get("value") == 1 and results[4].get("value") == 2, results
    assert not results[1]["ok"] and results[1]["reason"].startswith("timed out")
    assert not results[2]["ok"] and "died" in results[2]["reason"]
    assert results[3] == {"ok": True}  # what it wrote to stdout went to the log, not the answer channel
    assert "not json at all" in (tmp_path / "workers.log").read_text()
    assert time.perf_counter() - started < 90


def test_progress_bar_prints_one_line_per_step_when_not_a_terminal():
    import io

    from autograder.progress import Progress

    stream = io.StringIO()
    bar = Progress(3, "autograde", stream=stream)
    for name in ("a", "b", "c"):
        bar.advance(name)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("autograde [" + "#" * 24 + "] 3/3")


def test_binder_postbuild_gives_learners_their_copies(tmp_path):
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    assert post_build.read_text().startswith("#!/usr/bin/env bash")
    shutil.copytree(ROOT / "assignments", tmp_path / "assignments")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("AUTOGRADER_ASSIGNMENTS", None)
    run = subprocess.run(["bash", str(post_build)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    for assignment in bs.SPECS:
        copy = tmp_path / "my-work" / assignment / f"{assignment}.ipynb"
        assert copy.is_file() and "BEGIN HIDDEN TESTS" not in copy.read_text(), assignment
    assert "my-work/" in (ROOT / ".gitignore").read_text().split()


def test_bench_checks_the_parallel_speedup_bar():
    from course import bench

    assert bench.GRADING_SUBMISSIONS >= 8
    assert bench.unmet_bars({"cohort_parallel_speedup": 1.4}) == ["cohort_parallel_speedup"]
    assert bench.unmet_bars({"cohort_parallel_speedup": 1.6, "autograde_seconds_per_submission": 9.0}) == []
    assert "grading" in bench.PARTS
