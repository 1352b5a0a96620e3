"""What a graded submission earned, question by question, and why it lost points.

Scores come from nbgrader's gradebook (:class:`nbgrader.api.Gradebook`), one
:class:`Question` per grade cell or task of the notebook, in notebook order.
A question is *autograded* when its cell is an "Autograder tests" cell
(graded, not a solution); manually graded answers and tasks are *by hand*.

A failure's reason comes from the autograded notebook's outputs for that
cell: the last error's ``ErrorType: message`` line and never its traceback
(tracebacks quote test source, hidden tests included). As a second guard, a
message that quotes a hidden test line is cut to the error type.

:func:`reason_from_log` turns nbgrader's log of a failed ``autograde`` (a
dead kernel, invalid JSON, ...) into one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .hidden import last_line_of_error, quotes_hidden, strip_ansi

MAX_REASON = 240


@dataclass
class Question:
    """One graded cell of a submission."""

    grade_id: str
    autograded: bool
    earned: float | None
    possible: float
    reason: str = ""
    #: For a hand-graded answer: False if it was left as given (nbgrader then scores it 0).
    answered: bool = True


def fmt_points(x: float | None) -> str:
    """``3`` for 3.0, ``2.5`` for 2.5, ``-`` for None."""
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def cell_failure_reason(cell, *, timeout: int | None = None, hidden: set[str] = frozenset()) -> str:
    """Why nbgrader gave a test cell fewer than full points, from its outputs, without test source."""
    outputs = cell.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if errors:
        error = errors[-1]
        if error.get("ename") == "CellTimeoutError":
            limit = f"{timeout} s" if timeout else "its time limit"
            return (f"CellTimeoutError: the cell ran longer than {limit} and was interrupted "
                    "(an infinite loop, or code far too slow?)")
        line = last_line_of_error(error)
        if line == "NotImplementedError":
            return "NotImplementedError: a solution it needs is not written yet (its cell still raises it)"
        if quotes_hidden(line, hidden):
            line = str(error.get("ename") or "Error")
        return _short(line)
    stderr = [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    if stderr:
        first = strip_ansi(stderr[0].get("text", "")).strip().split("\n", 1)[0]
        if quotes_hidden(first, hidden):
            first = ""
        return _short("the cell wrote to stderr, which nbgrader counts as a failure" + (f": {first}" if first else ""))
    if cell.get("execution_count") is None:
        return "the cell did not run"
    return "partial credit (the cell's result is the share of points earned)"


def answer_cell_problems(autograded: Path, *, timeout: int | None = None) -> list[str]:
    """One line for each of the learner's own answer cells that failed when nbgrader ran it.

    Those cells hold only the learner's code (never tests), so their error
    is safe to show, and it often explains the test failures that follow
    (a ``NameError`` in every test after an answer cell that timed out).
    """
    import nbformat

    problems = []
    for cell in nbformat.read(str(autograded), as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            problems.append(f"your answer cell {meta.get('grade_id')!r} failed: "
                            + cell_failure_reason(cell, timeout=timeout))
    return problems


#: nbgrader's failures, from the exception name in its log, as a reader would say them.
KNOWN_FAILURES = [
    ("DeadKernelError", "the kernel died while running the notebook (the code ended the Python process, "
                        "e.g. os._exit(), or crashed it or ran out of memory)"),
    ("NotJSONError", "the file is not valid JSON, so it is not a readable notebook (was it edited outside "
                     "Jupyter or truncated?)"),
    ("NBFormatError", "the file is JSON but not a Jupyter notebook"),
    ("ValidationError", "the notebook, or its nbgrader cell metadata, is not valid"),
    ("UnresponsiveKernelError", "the kernel stopped responding and could not be interrupted"),
    ("SchemaTooOldError", "the notebook's nbgrader metadata is too old (run `nbgrader update`)"),
    ("SchemaTooNewError", "the notebook's nbgrader metadata is newer than this nbgrader"),
    ("Kernel didn't respond", "the kernel did not start"),
]

_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit)): ?(.*)$")


def reason_from_log(log: str) -> str:
    """One line saying why nbgrader could not grade a submission, from its captured log."""
    log = strip_ansi(log or "")
    for marker, reason in KNOWN_FAILURES:
        if marker in log:
            return reason
    if "No notebooks found" in log:
        return "the submission has no notebook with the assignment's notebook name"
    last = None
    for line in log.splitlines():
        m = _EXCEPTION_LINE.match(line)
        if m and m.group(1) != "NbGraderException":
            last = f"{m.group(1)}: {m.group(2)}".rstrip(": ")
    if last:
        return _short(f"nbgrader could not grade it: {last}")
    errors = [line.split("]", 1)[-1].strip() for line in log.splitlines() if line.startswith("[ERROR]")]
    return _short(f"nbgrader could not grade it: {errors[0]}" if errors else "nbgrader could not grade it")


def read_questions(db_url: str, assignment: str, student: str, notebook: str, autograded: Path | None,
                   *, course_id: str = "", timeout: int | None = None,
                   hidden: set[str] = frozenset()) -> list[Question]:
    """Every graded cell of ``student``'s ``notebook``, from the gradebook, with reasons from ``autograded``."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    cells = {}
    order: list[str] = []
    if autograded is not None and Path(autograded).is_file():
        nb = nbformat.read(str(autograded), as_version=4)
        for cell in nb.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                cells[gid] = cell
                order.append(gid)

    questions = []
    with Gradebook(db_url, course_id) as gb:
        source = gb.find_notebook(notebook, assignment)
        by_hand = {c.name for c in source.solution_cells} | {c.name for c in source.task_cells}
        try:
            grades = gb.find_submission_notebook(notebook, assignment, student).grades
        except MissingEntry:  # nbgrader never recorded this submission: nothing earned
            return ([Question(c.name, c.name not in by_hand, 0.0 if c.name not in by_hand else None,
                              float(c.max_score)) for c in source.grade_cells]
                    + [Question(c.name, False, None, float(c.max_score)) for c in source.task_cells])
        for grade in grades:
            autograded_cell = grade.name not in by_hand
            earned = grade.score if autograded_cell else (grade.manual_score if grade.manual_score is not None
                                                            else grade.auto_score)
            if autograded_cell and grade.auto_score is None and grade.manual_score is None:
                earned = 0.0  # never graded (nbgrader failed): no points
            question = Question(grade.name, autograded_cell, earned, float(grade.max_score))
            if autograded_cell and (earned or 0.0) < question.possible and grade.name in cells:
                question.reason = cell_failure_reason(cells[grade.name], timeout=timeout, hidden=hidden)
            if not autograded_cell:
                question.answered = not (grade.auto_score == 0 and not grade.needs_manual_grade)
            questions.append(question)
    rank = {gid: i for i, gid in enumerate(order)}
    questions.sort(key=lambda q: rank.get(q.grade_id, len(rank)))
    return questions


def autograded_totals(questions: list[Question]) -> tuple[float, float]:
    """(earned, possible) over the autograded questions only."""
    auto = [q for q in questions if q.autograded]
    return sum(q.earned or 0.0 for q in auto), sum(q.possible for q in auto)


@dataclass
class SubmissionResult:
    """One row of the cohort report: a student's submission, graded or not."""

    student: str
    status: str  # "graded" or "failed"
    questions: list[Question]
    reason: str = ""
    seconds: float | None = None
    flags: list[str] = field(default_factory=list)  # for the instructor (autograder.flags)

    @property
    def score(self) -> float:
        return autograded_totals(self.questions)[0] if self.status == "graded" else 0.0

    def earned(self, grade_id: str) -> float:
        """Points earned on one autograded question (0 if the submission could not be graded)."""
        for q in self.questions:
            if q.grade_id == grade_id:
                return (q.earned or 0.0) if self.status == "graded" else 0.0
        return 0.0

    def failed_questions(self) -> list[Question]:
        return [q for q in self.questions if q.autograded and (q.earned or 0.0) < q.possible]


#: Short labels for why a whole submission could not be graded, for the report figure.
SUBMISSION_FAILURES = [
    ("kernel died", "kernel died"),
    ("not valid JSON", "invalid JSON"),
    ("not a Jupyter notebook", "not a notebook"),
    ("not a valid Jupyter notebook", "not a notebook"),
    ("timed out", "timed out"),
    ("no notebook with the assignment's notebook name", "notebook missing"),
    ("worker process died", "worker died"),
    ("stopped responding", "kernel unresponsive"),
]


def failure_category(reason: str, *, whole_submission: bool) -> str:
    """A short label for the report figure: ``not graded: kernel died``, ``AssertionError``, ..."""
    if whole_submission:
        for marker, label in SUBMISSION_FAILURES:
            if marker in reason:
                return f"not graded: {label}"
        return "not graded: other"
    if reason.startswith("the cell wrote to stderr"):
        return "stderr output"
    if reason.startswith("partial credit"):
        return "partial credit"
    if reason.startswith("the cell did not run"):
        return "cell did not run"
    head = reason.split(":", 1)[0].strip()
    return head if head and " " not in head else "other"
