"""``python -m autograder check NOTEBOOK|ID [--assignment ID]``: grade a learner's notebook as an instructor would.

``check resilience`` grades the learner's own copy, ``my-work/resilience/resilience.ipynb``
(where ``fetch`` put it; see :func:`find_notebook`); any other argument is a notebook's path.

In a throwaway nbgrader course (:class:`autograder.scratch.ScratchCourse`):
``generate_assignment`` from the source assignment, the learner's notebook
placed as a submission, ``autograde`` (which restores the original test
cells, hidden tests included, over whatever the learner edited, and runs the
notebook in a fresh kernel with a per-cell timeout), scores read from the
gradebook, then ``generate_feedback`` with hidden tests stripped, written
next to the notebook as ``feedback/<name>.html``.

The printed report lists each question's points with, for a failure, the
error's last line (``AssertionError: ...``), never a traceback; hand-graded
answers are listed as "graded by hand". The last line is ``score: X / Y``
over the autograded questions.

It raises :class:`~autograder.AutograderError` (exit status 2) when it cannot
grade: the file is missing, not JSON, not a notebook, of an unknown
assignment, or nbgrader itself failed on it (for example the kernel died).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import AutograderError
from .assignments import Assignment, find_assignment, infer_assignment
from .config import cell_timeout
from .flags import submission_flags
from .rejections import notices
from .results import Question, answer_cell_problems, autograded_totals, fmt_points, read_questions, reason_from_log
from .sandbox import probe
from .scratch import ScratchCourse

#: The student id a learner's notebook is graded under in the throwaway course.
STUDENT = "learner"


@dataclass
class CheckResult:
    """The outcome of :func:`check`."""

    notebook: Path
    assignment: str
    questions: list[Question]
    feedback: Path | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return autograded_totals(self.questions)[0]

    @property
    def max_score(self) -> float:
        return autograded_totals(self.questions)[1]


def find_notebook(target: str | Path) -> Path:
    """The notebook ``check TARGET`` grades: the file ``target``, or, when no such file exists and
    ``target`` is an assignment id, the learner's copy of it in the work folder ``fetch`` writes to."""
    from .assignments import list_assignments
    from .fetch import default_dest, shown

    path = Path(target)
    if path.exists() or path.suffix or len(path.parts) != 1:
        return path
    if str(target) not in {a.id for a in list_assignments()}:
        return path  # validate_notebook says "no such file"
    copy = default_dest() / str(target) / f"{target}.ipynb"
    if not copy.exists():
        raise AutograderError(f"you have no copy of {str(target)!r} yet (looked for {shown(copy)}). "
                              f"Get one with: python -m autograder fetch {target}")
    return copy


def validate_notebook(path: Path, source: Path | None = None) -> None:
    """Fail with a clear message unless ``path`` is a Jupyter notebook file nbgrader can grade.

    First the file (:func:`autograder.rejections.file_problem`): it exists, is
    not over :data:`autograder.rejections.DEFAULT_MAX_BYTES`, is JSON and a
    notebook. Then its cells against the assignment's source notebook
    ``source`` (:func:`autograder.rejections.precheck`: duplicated, unknown or
    missing grade ids, changed nbgrader settings, damaged metadata); without
    ``source``, against the assignment the notebook is inferred to belong to,
    if that can be told.
    """
    from .rejections import file_problem, precheck

    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise AutograderError(f"{path}: {problem}")
    if source is None:
        try:
            source = infer_assignment(path).notebook
        except AutograderError:
            return  # check says which assignment it cannot tell
    problem = precheck(path, source, max_bytes=None)
    if problem:
        raise AutograderError(f"{path}: {problem}")


def check(notebook: Path, assignment_id: str | None = None, *, timeout: int | None = None,
          feedback_dir: Path | None = None, write_feedback: bool = True) -> CheckResult:
    """Grade ``notebook`` with nbgrader; see the module docstring."""
    from .hidden import hidden_lines
    import nbformat

    started = time.perf_counter()
    notebook = Path(notebook)
    validate_notebook(notebook, find_assignment(assignment_id).notebook if assignment_id else None)
    assignment: Assignment = (find_assignment(assignment_id) if assignment_id
                              else infer_assignment(notebook))
    hidden = hidden_lines(nbformat.read(str(assignment.notebook), as_version=4))

    with ScratchCourse(assignment, timeout=timeout) as course:
        course.generate()
        course.submit(STUDENT, notebook)
        result = course.autograde(STUDENT)
        autograded = course.path("autograded", STUDENT) / assignment.notebook.name
        if not result.get("success") or not autograded.is_file():
            reason = reason_from_log(result.get("log", "") + "\n" + result.get("error", ""))
            raise AutograderError(f"nbgrader could not grade {notebook}: {reason}")
        effective_timeout = cell_timeout(course.config)
        questions = read_questions(course.db_url, assignment.id, STUDENT, assignment.notebook.stem, autograded,
                                   timeout=effective_timeout, hidden=hidden)
        outcome = CheckResult(notebook, assignment.id, questions)
        outcome.notes += [f"note: {problem}" for problem in answer_cell_problems(autograded,
                                                                                   timeout=effective_timeout)]
        outcome.notes += [f"note: {notice}" for notice in notices(notebook, assignment.notebook)]
        outcome.notes += [f"note: an instructor's report would flag this: {flag}"
                          for flag in submission_flags(notebook, autograded, assignment.notebook)]
        unsandboxed = probe()
        if unsandboxed:
            outcome.notes.append("note: graded without the sandbox, which this machine cannot build (fine for your "
                                 "own work; an instructor's cohort grade needs it): " + unsandboxed.split(". ")[0])
        if write_feedback:
            outcome.feedback = _feedback(course, notebook, feedback_dir, outcome)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _feedback(course: ScratchCourse, notebook: Path, feedback_dir: Path | None, outcome: CheckResult) -> Path | None:
    """Generate nbgrader feedback and copy it beside the learner's notebook; a failure is a note, not fatal."""
    result = course.generate_feedback(STUDENT)
    html = course.path("feedback", STUDENT) / f"{course.assignment.notebook.stem}.html"
    if not result.get("success") or not html.is_file():
        outcome.notes.append("feedback: nbgrader could not write it (" + reason_from_log(result.get("log", "")) + ")")
        return None
    dest_dir = Path(feedback_dir) if feedback_dir is not None else notebook.resolve().parent / "feedback"
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / f"{notebook.stem}.html"
        shutil.copyfile(html, dest)
    except OSError as error:
        outcome.notes.append(f"feedback: could not write it to {dest_dir} ({error})")
        return None
    return dest


def format_report(outcome: CheckResult) -> str:
    """The text ``check`` prints; its last line is ``score: X / Y``."""
    lines = [f"{outcome.notebook}: graded by nbgrader as assignment {outcome.assignment!r} "
             "(hidden tests included)"]
    width = max([len(q.grade_id) for q in outcome.questions] + [8])
    for q in outcome.questions:
        if q.autograded:
            points = f"{fmt_points(q.earned)} / {fmt_points(q.possible)}"
            mark = "ok  " if (q.earned or 0) >= q.possible else "FAIL"
            line = f"  {mark} {q.grade_id:<{width}}  {points:>9}"
            if q.reason:
                line += f"  {q.reason}"
            lines.append(line)
            lines += [f"{'':{width + 20}}{detail}" for detail in q.details]
            continue
        else:
            points = f"- / {fmt_points(q.possible)}"
            note = "" if q.answered else " (not answered yet)"
            line = f"  hand {q.grade_id:<{width}}  {points:>9}  graded by hand{note}"
        lines.append(line)
    lines += outcome.notes
    if outcome.feedback is not None:
        lines.append(f"feedback: {outcome.feedback}")
    lines.append(f"score: {fmt_points(outcome.score)} / {fmt_points(outcome.max_score)}")
    return "\n".join(lines)
