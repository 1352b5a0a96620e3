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
dead kernel, invalid JSON, a duplicated grade id, ...) into one sentence for
the learner. A failure that shows a sandbox limit was hit (memory, processes,
file size, open files, output, a kernel killed at its CPU time) says which
limit, with the default values of :class:`autograder.sandbox.Limits`.
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
    #: Further lines to show under the question (a wheat-and-chaff verdict: each chaff caught or missed).
    details: list[str] = field(default_factory=list)


def fmt_points(x: float | None) -> str:
    """``3`` for 3.0, ``2.5`` for 2.5, ``-`` for None."""
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


#: The note the grader's output cap appends to a cell (:class:`autograder.guard.GuardedExecute`).
OUTPUT_CUT = "[output cut here: the grader keeps at most"

GiB = 1024 ** 3
MiB = 1024 ** 2


def _size(n: int) -> str:
    """``2 GiB``, ``64 MiB``, ``1.5 MiB``."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB")):
        if n >= unit:
            return f"{n // unit} {name}" if n % unit == 0 else f"{n / unit:.1f} {name}"
    return f"{n:,} bytes"


def _limits():
    """The sandbox's default limits (:class:`autograder.sandbox.Limits`), or None without that module."""
    try:
        from .sandbox import Limits
    except ImportError:  # pragma: no cover - the sandbox module is part of the package
        return None
    return Limits()


def _limit_hit(error) -> str | None:
    """Which sandbox limit an error output shows was hit, as a clause (``the grader's memory limit (2 GiB
    per process)``), or None. The traceback is read only to tell a process start from other EAGAIN errors."""
    limits = _limits()
    name = str(error.get("ename") or "")
    value = strip_ansi(str(error.get("evalue") or ""))
    trace = strip_ansi("\n".join(str(t) for t in error.get("traceback") or []))
    if name.endswith("MemoryError") or "Cannot allocate memory" in value or "[Errno 12]" in value:
        return "the grader's memory limit" + (f" ({_size(limits.memory_bytes)} per process)" if limits else "")
    starting = any(word in trace for word in ("fork", "Popen", "spawn", "start_new_thread", "Thread", "Pool"))
    if ("can't start new thread" in value
            or ("Resource temporarily unavailable" in value and starting)):
        return "the grader's process limit" + (f" ({limits.processes} processes and threads)" if limits else "")
    if "File too large" in value or "[Errno 27]" in value:
        return "the grader's file size limit" + (f" ({_size(limits.file_bytes)} per file)" if limits else "")
    if "Too many open files" in value or "[Errno 24]" in value:
        return "the grader's open files limit" + (f" ({limits.open_files} per process)" if limits else "")
    return None


def kernel_died_reason() -> str:
    """Why a kernel may have died, with the limits that stop a process."""
    limits = _limits()
    detail = (f" (CPU time {limits.cpu_seconds} s per process, memory {_size(limits.memory_bytes)})"
              if limits else "")
    return ("the kernel died while running the notebook: the code ended the Python process (os._exit(), a "
            "crash), or was stopped at one of the grader's limits" + detail)


def _output_was_cut(outputs) -> bool:
    return any(o.get("output_type") == "stream" and OUTPUT_CUT in str(o.get("text", "")) for o in outputs)


def cell_failure_reason(cell, *, timeout: int | None = None, hidden: set[str] = frozenset()) -> str:
    """Why nbgrader gave a test cell fewer than full points, from its outputs, without test source.

    When the error shows a limit of the sandbox was hit (memory, processes,
    file size, open files) or the output was cut at the grader's output cap,
    the reason says which.
    """
    outputs = cell.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    cut = (" (its output was also cut at the grader's output limit)" if _output_was_cut(outputs) else "")
    if errors:
        error = errors[-1]
        if error.get("ename") == "CellTimeoutError":
            limit = f"{timeout} s" if timeout else "its time limit"
            return (f"CellTimeoutError: the cell ran longer than {limit} and was interrupted "
                    "(an infinite loop, or code far too slow?)")
        if error.get("ename") == "DeadKernelError":
            return _short("DeadKernelError: " + kernel_died_reason())
        line = last_line_of_error(error)
        if line == "NotImplementedError":
            return "NotImplementedError: a solution it needs is not written yet (its cell still raises it)"
        if quotes_hidden(line, hidden):
            line = str(error.get("ename") or "Error")
        limit = _limit_hit(error)
        if limit:
            # The limit first: a long message must not push it past the length cap.
            name = str(error.get("ename") or "Error")
            rest = line[len(name):].lstrip(": ")
            return _short(f"{name}: the cell hit {limit}" + (f" ({rest})" if rest else "") + cut)
        if cut:
            return _short(f"{line[:MAX_REASON - len(cut) - 2]}{cut}")
        return _short(line)
    stderr = [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    if stderr:
        first = strip_ansi(stderr[0].get("text", "")).strip().split("\n", 1)[0]
        if quotes_hidden(first, hidden):
            first = ""
        reason = "the cell wrote to stderr, which nbgrader counts as a failure"
        return _short(reason + cut + (f": {first}" if first else ""))
    if cut:
        return _short("the cell's output was cut at the grader's output limit (it keeps at most "
                      + _output_limit_text(outputs) + ")")
    if cell.get("execution_count") is None:
        return "the cell did not run"
    return "partial credit (the cell's result is the share of points earned)"


def _output_limit_text(outputs) -> str:
    """What the grader's cut note says it keeps (``100,000 characters per cell and 1,000,000 per notebook``)."""
    for o in outputs:
        text = str(o.get("text", ""))
        if o.get("output_type") == "stream" and OUTPUT_CUT in text:
            return text.split(OUTPUT_CUT, 1)[1].strip().rstrip("]").strip()
    return "a fixed number of characters"


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


#: What a learner can do about a notebook nbgrader cannot match to the assignment.
FRESH_COPY = "start from a fresh copy and paste your answers in"

#: nbgrader's failures, from the exception name in its log, as a reader would say them.
KNOWN_FAILURES = [
    ("NotJSONError", "the file is not valid JSON, so it is not a readable notebook (was it edited outside "
                     "Jupyter or truncated?)"),
    ("NBFormatError", "the file is JSON but not a Jupyter notebook"),
    ("UnresponsiveKernelError", "the kernel stopped responding and could not be interrupted"),
    ("Kernel didn't respond", "the kernel did not start"),
]

_EXCEPTION_LINE = re.compile(r"^\s*((?:[A-Za-z_]\w*\.)*)"
                             r"([A-Z]\w*(?:Error|Exception|Exit|Entry|Found)|KeyboardInterrupt)(?::[ ]?(.*))?$")
#: nbclient's CellTimeoutError quotes the first and last lines of the cell (a test cell's hidden
#: tests included): from that line to the next log record (records start at column 0, quoted lines
#: are indented) is dropped before anything is read.
_PREVIEW = re.compile(r"^[^\n]*Here is a preview of the cell contents:.*?(?=^\[|\Z)", re.S | re.M)


def _quoted(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _exceptions(log: str) -> list[tuple[str, str]]:
    """(name, message) of every exception line in ``log`` but nbgrader's wrapper ``NbGraderException``."""
    found = []
    for line in log.splitlines():
        m = _EXCEPTION_LINE.match(line)
        if m and m.group(2) != "NbGraderException":
            found.append((m.group(2), (m.group(3) or "").strip()))
    return found


def _warned(log: str, pattern: str) -> list[str]:
    """The first group of ``pattern`` in each ``[WARNING]`` line of ``log``."""
    found = []
    for line in log.splitlines():
        if line.startswith("[WARNING]"):
            m = re.search(pattern, line)
            if m:
                found.append(m.group(1))
    return found


def _explain(log: str, exceptions: list[tuple[str, str]]) -> str | None:
    """A sentence for nbgrader's failure (the last of ``exceptions``; its log gives the context), or None."""
    name, message = exceptions[-1]
    m = re.match(r"Inconsistent checksums for cell (\S+)", message)
    if name == "RuntimeError" and m:
        return (f"the nbgrader settings of cell {_quoted(m.group(1))} were changed (a test cell marked as an "
                f"answer?), so nbgrader cannot restore it: {FRESH_COPY}")
    m = re.match(r"No such grade cell: [^/\s]+/[^/\s]+/(\S+)", message)
    if name == "MissingEntry" and m:
        return (f"cell {_quoted(m.group(1))} is marked as graded in your notebook but not in the assignment (its "
                f"nbgrader settings were changed): {FRESH_COPY}")
    messages = [m for _, m in exceptions]  # never a traceback's source lines, which quote the messages' formats
    duplicates = (_warned(log, r"Cell with id '(.*)' exists multiple times") +
                  [m[len("Duplicate grade id: "):] for m in messages if m.startswith("Duplicate grade id: ")])
    if duplicates:
        return (f"the cell {_quoted(duplicates[0])} appears twice in your notebook (a copied, pasted or split "
                "cell keeps its grade id), so nbgrader cannot tell which is real: delete the copy, or "
                f"{FRESH_COPY}")
    unknown = _warned(log, r"Cell '(.*)' does not exist in the database")
    if unknown:
        return (f"a cell of your notebook has the grade id {_quoted(unknown[0])}, which the assignment does not "
                f"have (copied from another notebook, or edited?): {FRESH_COPY}")
    if ((name == "KeyError" and message == "'grade_id'")
            or any("does not have a grade_id" in m or m == "grade_id is empty" for m in messages)):
        return (f"a cell of your notebook has nbgrader metadata without a grade id (was its metadata edited?), "
                f"so nbgrader cannot match it to the assignment: {FRESH_COPY}")
    if (name == "KeyError" and message == "'points'") or any(m.endswith("' does not have points") for m in messages):
        return f"a test cell of your notebook has lost its points in its nbgrader metadata: {FRESH_COPY}"
    missing = _warned(log, r"Missing grade cell (\S+) encountered")
    if name == "KeyError" and missing:
        before = message.strip("'\"")
        return (f"the test cell {_quoted(missing[-1])} is missing and so is the cell {_quoted(before)} before it "
                f"(deleted, or its nbgrader metadata lost), so nbgrader cannot put the test back: {FRESH_COPY}")
    if name in ("SchemaTooOldError", "SchemaTooNewError"):
        return (f"the nbgrader metadata of a cell in your notebook was edited or comes from another nbgrader "
                f"version ({message}): {FRESH_COPY}")
    if name == "ValidationError":
        details = [m for n, m in exceptions if n == "ValidationError" and m and "may be corrupted" not in m]
        detail = f" ({details[0]})" if details else ""
        return f"the nbgrader metadata of a cell in your notebook is not valid{detail}: {FRESH_COPY}"
    if name in ("AttributeError", "TypeError", "KeyError") and "/nbgrader/preprocessors/" in log:
        return f"the nbgrader metadata of a cell in your notebook is damaged, so nbgrader cannot read it: {FRESH_COPY}"
    if name == "DeadKernelError":
        return kernel_died_reason()
    if name == "CellTimeoutError" or "Timeout waiting for IOPub output" in log:
        if "Timeout waiting for IOPub output" in log:
            return ("the kernel stopped responding: a cell kept running after the grader interrupted it at the "
                    "time limit (does a loop catch the interrupt, e.g. with a bare `except:`?), so grading stopped")
        return "a cell timed out and the grader could not go on with the notebook"
    if name == "OperationalError":
        return "nbgrader could not use its gradebook database (a problem on the grader's side, not in the notebook)"
    return None


def reason_from_log(log: str) -> str:
    """One sentence saying why nbgrader could not grade a submission, from its captured log.

    Known failures get a sentence a learner understands (a duplicated or
    unknown grade id, changed nbgrader settings, missing cells, a dead or
    unresponsive kernel, ...); anything else is ``nbgrader could not grade it:``
    and the last exception. Cell previews in the log (they may quote hidden
    tests) are never read.
    """
    log = _PREVIEW.sub("", strip_ansi(log or ""))
    exceptions = _exceptions(log)
    if exceptions:
        explained = _explain(log, exceptions)
        if explained:
            return _short(explained)
    for marker, reason in KNOWN_FAILURES:
        if marker in log:
            return reason
    if "No notebooks found" in log:
        return "the submission has no notebook with the assignment's notebook name"
    if exceptions:
        name, message = exceptions[-1]
        return _short(f"nbgrader could not grade it: {name}: {message}".rstrip(": "))
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

    from .wheat_chaff_grade import parts_for

    wheat_chaff = parts_for(assignment)
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
            if grade.name in wheat_chaff and grade.name in cells:
                question.reason, question.details = wheat_chaff_reason(cells[grade.name])
            elif autograded_cell and (earned or 0.0) < question.possible and grade.name in cells:
                question.reason = cell_failure_reason(cells[grade.name], timeout=timeout, hidden=hidden)
            if not autograded_cell:
                question.answered = not (grade.auto_score == 0 and not grade.needs_manual_grade)
            questions.append(question)
    rank = {gid: i for i, gid in enumerate(order)}
    questions.sort(key=lambda q: rank.get(q.grade_id, len(rank)))
    return questions


def wheat_chaff_reason(cell) -> tuple[str, list[str]]:
    """A wheat-and-chaff question's reason (its verdict's first sentence) and the lines that follow it."""
    from .guard import META
    from .wheat_chaff_grade import KEY

    kept = cell.get("metadata", {}).get(META, {}).get(KEY) or {}
    lines = [line for line in str(kept.get("report", "")).splitlines()[1:] if line.strip()]
    if not lines:
        return "the grader could not run your tests against the implementations", []
    return _short(lines[0]), [line.strip() for line in lines[1:]]


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
    ("over the grader's size limit", "file too large"),
    ("has no cells", "no cells"),
    ("appears twice", "duplicate grade id"),
    ("which the assignment does not have", "unknown grade id"),
    ("nbgrader settings", "cell settings changed"),
    ("points changed", "cell settings changed"),
    ("different cell type", "cell type changed"),
    ("cannot put the test back", "cells missing"),
    ("nbgrader metadata", "nbgrader metadata damaged"),
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
