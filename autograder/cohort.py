"""``python -m autograder cohort grade COURSE_DIR``: autograde a whole cohort in parallel with nbgrader.

COURSE_DIR is an ordinary nbgrader course directory (``source/``,
``release/``, ``submitted/<student>/<assignment>/``, ``gradebook.db``,
``nbgrader_config.py``) in which ``nbgrader generate_assignment`` has been
run. Every ``submitted/<student>/<assignment>/`` is a submission.

How it stays correct in parallel
--------------------------------
nbgrader has no parallel autograde (nbgrader issue #174) and its gradebook
is one SQLite file, which concurrent writers corrupt or lock ("database is
locked"). So no two processes ever write the same gradebook:

1. **Snapshot.** The course's gradebook is copied once (SQLite's backup API)
   before grading starts; it holds the assignment's source cells and checksums.
2. **Execute, in parallel.** Each of N worker processes
   (:class:`autograder.workers.WorkerPool`) takes one submission at a time and
   runs nbgrader's own ``autograde --student`` (``NbGraderAPI.autograde``) in a
   private scratch course: the source assignment, that one submission and
   its own copy of the snapshot. This is the slow part: a kernel per
   submission, every cell run under the cell timeout. The worker does not
   score (:func:`autograder.replay.execute_only_config`): that is step 3's job.
   A submission that outlives ``submission_timeout`` has its worker (and
   kernel) killed.
3. **Record, serially.** As each worker finishes, the main process (the
   only writer of the course's gradebook) runs nbgrader's ``autograde`` for
   that student on the real course, with nbgrader's ``Execute`` preprocessor
   replaced by :class:`autograder.replay.ReplayExecution`, which copies the
   worker's cell outputs instead of starting a kernel (and leaves out the
   metadata check the worker already ran). nbgrader itself then
   writes ``autograded/<student>/``, the scores (``SaveAutoGrades``), late
   penalties and timestamps, exactly as a serial ``nbgrader autograde``
   would. This overlaps with the workers still executing.
4. **Feedback, in parallel, read-only.** Once a student's grades are
   committed, a worker runs nbgrader's ``generate_feedback --student`` for
   them (our configuration strips hidden tests) while the others go on.
   Feedback only reads the gradebook; SQLite's locking lets readers run
   beside its one writer, and never more than one process writes.
5. **Export and report.** When the last grade is recorded, the main process
   runs nbgrader's export app (``reports/grades.csv``) and writes the report
   CSV and figure (:mod:`autograder.report`) while the last feedback runs.

A submission nbgrader could not grade (the kernel died, invalid JSON, no
notebook of the right name, a timeout) is never dropped: nbgrader's own
record pass still creates its submission in the gradebook (with no scores,
flagged for manual grading, so formgrader shows it), and the report lists it
with score 0 and the reason, which comes from nbgrader's log (kept in
``reports/logs/<assignment>/<student>.log``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import AutograderError
from .config import DEFAULT_CELL_TIMEOUT, cell_timeout, course_config
from .kernel import PREFIX_ENV, socket_root
from .nbgrader_setup import prepare
from .progress import Progress
from .results import SubmissionResult, read_questions, reason_from_log
from .tasks import append_log

#: Added to (code cells x cell timeout) for the default per-submission wall-clock limit.
DEADLINE_SLACK = 120


@dataclass
class CohortResult:
    """What :func:`grade_cohort` produced."""

    course_dir: Path
    assignment: str
    submissions: list[SubmissionResult]
    questions: dict[str, float]
    report_csv: Path
    figure: Path
    grades_csv: Path | None
    workers: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(self.questions.values())


# -- the main process --------------------------------------------------------------------------


def _sqlite_file(db_url: str) -> Path:
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        raise AutograderError(f"cohort grade needs an SQLite gradebook; this course uses {db_url}")
    path = Path(db_url[len(prefix):])
    if not path.is_file():
        raise AutograderError(f"no gradebook at {path}: run `nbgrader generate_assignment ID` in the course first")
    return path


def _snapshot(source: Path, dest: Path) -> None:
    """A consistent copy of an SQLite database, even if another process has it open."""
    with sqlite3.connect(source) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _course_assignment(source_root: Path) -> str:
    ids = sorted(d.name for d in source_root.iterdir() if d.is_dir() and any(d.glob("*.ipynb"))) \
        if source_root.is_dir() else []
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise AutograderError(f"no assignments in {source_root}")
    raise AutograderError(f"several assignments in {source_root}; choose one with --assignment: {', '.join(ids)}")


def _submitted_students(course, assignment: str) -> list[str]:
    pattern = Path(course.format_path(course.submitted_directory, "*", assignment))
    students = []
    for path in sorted(pattern.parent.parent.glob(f"*/{pattern.name}")):
        if path.is_dir():
            students.append(path.parent.name)
    return students


def _code_cells(notebooks: list[Path]) -> int:
    import nbformat

    total = 0
    for path in notebooks:
        total += sum(c.cell_type == "code" for c in nbformat.read(str(path), as_version=4).cells)
    return total


def export_grades(config, to: Path) -> Path:
    """nbgrader's ``export`` (CSV plugin) of the course's gradebook to ``to``."""
    from nbgrader.apps import ExportApp
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    c = Config()
    c.merge(config)
    c.ExportPlugin.to = str(to)
    c.Application.log_level = "WARN"
    app = ExportApp(config=c)
    app.coursedir = CourseDirectory(config=c)
    app.start()
    return Path(to)


def _student_dirs_guess(root: Path) -> int:
    """How many ``submitted/<student>/`` folders there are (sizes the pool before nbgrader is even imported)."""
    submitted = root / "submitted"
    return sum(1 for d in submitted.iterdir() if d.is_dir()) if submitted.is_dir() else 0


def _export_and_report(config, course, reports: Path, assignment: str, students: list[str], notebook_ids: list[str],
                       outcomes: dict, per_cell: int, hidden: set[str], notes: list[str]):
    """nbgrader's export, then the report CSV and figure from the course gradebook (main process)."""
    from .report import draw_figure, write_csv

    grades_csv = None
    try:
        grades_csv = export_grades(config, reports / "grades.csv")
    except Exception as error:  # the report still gets written
        notes.append(f"nbgrader export failed: {type(error).__name__}: {error}")
    submissions, questions = [], {}
    for student in students:
        outcome = outcomes[student]
        qs = []
        for nb_id in notebook_ids:
            autograded = Path(course.format_path(course.autograded_directory, student, assignment)) / f"{nb_id}.ipynb"
            nb_questions = read_questions(course.db_url, assignment, student, nb_id,
                                          autograded if outcome["ok"] else None, course_id=course.course_id,
                                          timeout=per_cell, hidden=hidden)
            if len(notebook_ids) > 1:
                for q in nb_questions:
                    q.grade_id = f"{nb_id}:{q.grade_id}"
            qs += nb_questions
        for q in qs:
            if q.autograded:
                questions.setdefault(q.grade_id, q.possible)
        submissions.append(SubmissionResult(student, "graded" if outcome["ok"] else "failed", qs,
                                            outcome["reason"], outcome.get("seconds"), outcome.get("flags", [])))
    report_csv = write_csv(reports / f"{assignment}_report.csv", submissions, questions)
    figure = draw_figure(reports / f"{assignment}_report.png", submissions, questions, assignment)
    return grades_csv, submissions, questions, report_csv, figure


def grade_cohort(course_dir: Path, assignment_id: str | None = None, *, workers: int | None = None,
                 timeout: int | None = None, submission_timeout: float | None = None,
                 progress: bool = True, sandbox: bool = True) -> CohortResult:
    """Autograde, record, give feedback on, export and report every submission; see the module docstring.

    ``sandbox=False`` (``--no-sandbox``) runs learner code without the sandbox; otherwise a machine
    that cannot build it is refused with what is missing (:func:`autograder.sandbox.probe`).
    """
    from .sandbox import probe
    from .workers import WorkerPool

    started = time.perf_counter()
    root = Path(course_dir).resolve()
    if not root.is_dir():
        raise AutograderError(f"{course_dir}: no such course directory")
    if sandbox:
        problem = probe()
        if problem:
            raise AutograderError("cohort grade runs every submission in a sandbox, and this machine cannot "
                                  f"build one: {problem}")
    run_dir = Path(tempfile.mkdtemp(prefix="autograder-cohort-"))
    kernel_prefix = f"autograder-kernel-{run_dir.name.rsplit('-', 1)[-1]}-"
    # Start the workers first: each spends seconds importing nbgrader, which then overlaps with ours.
    size = max(1, min(workers or os.cpu_count() or 1, _student_dirs_guess(root) or 1))
    try:
        # Kernels' folders get a prefix of this run's, so what a killed worker left behind is removed below.
        env = dict(os.environ, **{PREFIX_ENV: kernel_prefix})
        with WorkerPool(size, log_path=run_dir / "workers.log", env=env) as pool:
            return _grade(pool, root, run_dir, assignment_id, timeout, submission_timeout, progress, started,
                          "required" if sandbox else "off")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        for folder in Path(socket_root()).glob(f"{kernel_prefix}*"):
            shutil.rmtree(folder, ignore_errors=True)


def _grade(pool, root: Path, run_dir: Path, assignment_id: str | None, timeout: int | None,
           submission_timeout: float | None, progress: bool, started: float, sandbox: str) -> CohortResult:
    prepare()
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from .hidden import hidden_lines
    from .replay import replay_config

    config = course_config(root, timeout=timeout)
    course = CourseDirectory(config=config)
    source_root = Path(course.format_path(course.source_directory, ".", "x")).parent
    assignment = assignment_id or _course_assignment(source_root)
    source = Path(course.format_path(course.source_directory, ".", assignment))
    db_file = _sqlite_file(course.db_url)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            notebook_ids = [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise AutograderError(f"assignment {assignment!r} is not in the gradebook {db_file}: run "
                                  f"`nbgrader generate_assignment {assignment}` in {root} first") from None
    students = _submitted_students(course, assignment)
    if not students:
        raise AutograderError("no submissions: nothing matches "
                              + course.format_path(course.submitted_directory, "*", assignment))
    source_notebooks = [source / f"{n}.ipynb" for n in notebook_ids if (source / f"{n}.ipynb").is_file()]
    hidden = set()
    for path in source_notebooks:
        hidden |= hidden_lines(nbformat.read(str(path), as_version=4))
    per_cell = cell_timeout(config) or DEFAULT_CELL_TIMEOUT
    deadline = submission_timeout or (_code_cells(source_notebooks) * per_cell + DEADLINE_SLACK)

    reports = root / "reports"
    logs = reports / "logs" / assignment
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    timings: dict[str, float] = {"setup": time.perf_counter() - started}
    outcomes: dict[str, dict] = {}
    notes: list[str] = []

    template = run_dir / "gradebook.db"
    _snapshot(db_file, template)
    executed = run_dir / "executed"
    recorder = NbGraderAPI(config=replay_config(config, str(executed)))
    def feedback_task(student: str) -> dict:
        return {"function": "autograder.tasks:feedback_submission",
                "kwargs": {"course_root": str(root), "assignment": assignment, "student": student,
                           "timeout": timeout, "log_path": str(logs / f"{student}.log"), "sandbox": sandbox}}

    for student in students:
        pool.submit(("autograde", student), deadline=deadline, task={
            "function": "autograder.tasks:autograde_submission",
            "kwargs": {"course_root": str(root), "assignment": assignment, "student": student,
                       "scratch": str(run_dir / "scratch" / student), "template_db": str(template),
                       "executed_root": str(executed), "timeout": timeout, "log_path": str(logs / f"{student}.log"),
                       "sandbox": sandbox}})
    phase = time.perf_counter()
    # One bar: an autograde step per submission, then a feedback step per graded one.
    bar = Progress(2 * len(students), "grading", enabled=progress)
    report = None
    for (kind, student), result in pool.results():
        if kind == "autograde":
            record = recorder.autograde(assignment, student, force=True, create=True)
            append_log(logs / f"{student}.log", f"autograde {assignment} for {student} "
                        "(recording the worker's execution in the course gradebook)", record)
            if not result.get("ok"):
                outcome = {"ok": False, "reason": result.get("reason") or "nbgrader could not grade it"}
            elif not record.get("success"):
                outcome = {"ok": False, "reason": "recording the grades failed: "
                           + reason_from_log(record.get("log", "") + record.get("error", ""))}
            else:
                outcome = {"ok": True, "reason": ""}
                # Feedback only reads the gradebook, and this student's grades are committed.
                pool.submit(("feedback", student), feedback_task(student), deadline=deadline)
            outcome["seconds"] = result.get("seconds")
            outcome["flags"] = list(result.get("flags") or [])
            outcomes[student] = outcome
            if not outcome["ok"]:
                bar.total -= 1  # no feedback step for it
            bar.advance(f"autograded {student}" if outcome["ok"] else f"NOT GRADED {student}: {outcome['reason']}")
            if len(outcomes) == len(students):  # every grade recorded: export and report while feedback runs
                timings["autograde"] = time.perf_counter() - phase
                report = _export_and_report(config, course, reports, assignment, students, notebook_ids, outcomes,
                                            per_cell, hidden, notes)
        else:
            if not result.get("ok"):
                notes.append(f"feedback for {student} failed: {result.get('reason')}")
            bar.advance(f"feedback for {student}" + ("" if result.get("ok") else " FAILED"))
    bar.close()
    grades_csv, submissions, questions, report_csv, figure = report
    if (run_dir / "workers.log").is_file():
        shutil.copyfile(run_dir / "workers.log", logs / "_workers.log")
    timings["total"] = time.perf_counter() - started
    return CohortResult(root, assignment, submissions, questions, report_csv, figure, grades_csv, pool.size,
                        time.perf_counter() - started, timings, notes)


def describe(result: CohortResult) -> str:
    """The summary ``cohort grade`` prints: a line per submission, then where everything went."""
    from .results import fmt_points

    lines = [f"{result.assignment}: {len(result.submissions)} submissions graded by nbgrader with "
             f"{result.workers} worker(s) in {result.seconds:.1f} s"]
    width = max(len(s.student) for s in result.submissions)
    for sub in result.submissions:
        score = f"{fmt_points(sub.score)} / {fmt_points(result.max_score)}"
        line = f"  {sub.student:<{width}}  {sub.status:<6}  {score:>9}"
        if sub.status != "graded":
            line += f"  {sub.reason}"
        if sub.flags:
            line += f"  FLAGGED: {'; '.join(sub.flags)}"
        lines.append(line)
    lines += result.notes
    root = result.course_dir
    lines += [f"autograded notebooks: {root / 'autograded'}",
              f"feedback (hidden tests and mark schemes removed): {root / 'feedback'}",
              f"grades (nbgrader export): {result.grades_csv or 'not written'}",
              f"report: {result.report_csv}",
              f"figure: {result.figure}",
              f"nbgrader logs: {root / 'reports' / 'logs' / result.assignment}"]
    return "\n".join(lines)
