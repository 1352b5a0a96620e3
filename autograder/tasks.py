"""The two tasks ``cohort grade`` runs in its worker processes (see :mod:`autograder.cohort`).

* :func:`autograde_submission`: nbgrader's autograde of one student in a
  private scratch course, with a private copy of the gradebook; the executed
  notebook is left for the record pass (:mod:`autograder.replay`).
* :func:`feedback_submission`: nbgrader's generate_feedback of one student in
  the real course (it only reads the gradebook).

Each takes keyword arguments that are plain JSON values and returns a JSON
dict with ``ok``, ``reason`` and ``seconds`` (:mod:`autograder.workers`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .config import course_config, sqlite_url
from .flags import submission_flags
from .rejections import notices, precheck_submission
from .nbgrader_setup import prepare
from .results import reason_from_log
from .scratch import copy_tree


def append_log(path: str | Path | None, title: str, result: dict) -> None:
    """Append nbgrader's captured log of one step (``NbGraderAPI`` result) to a student's log file."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"===== {title} ({time.strftime('%Y-%m-%d %H:%M:%S')}): "
                f"{'success' if result.get('success') else 'FAILED'}\n")
        f.write(result.get("log", "") or "")
        if result.get("error"):
            f.write(result["error"])
        f.write("\n")


def autograde_submission(*, course_root: str, assignment: str, student: str, scratch: str, template_db: str,
                         executed_root: str, timeout: int | None, log_path: str | None = None,
                         sandbox: str = "required") -> dict:
    """Worker task: nbgrader autograde of one student in a private scratch course (:mod:`autograder.cohort`).

    Only the submission's notebooks (those named as the source's) are copied into the scratch course:
    nothing else a learner put in their folder (a ``course/`` package, say) reaches the kernel.
    The result carries the submission's ``flags`` (:mod:`autograder.flags`).
    """
    started = time.perf_counter()
    prepare()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = CourseDirectory(config=course_config(Path(course_root), timeout=timeout))
    root = Path(scratch)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    config = course_config(root, timeout=timeout, config_dir=Path(course_root),
                           db_url=sqlite_url(root / "gradebook.db"), sandbox=sandbox)
    mine = CourseDirectory(config=config)
    submitted = Path(course.format_path(course.submitted_directory, student, assignment))
    source = Path(course.format_path(course.source_directory, ".", assignment))
    copy_tree(source, Path(mine.format_path(mine.source_directory, ".", assignment)))
    problem = precheck_submission(submitted, source)
    if problem:  # nbgrader would fail on it, cryptically, or quietly undo the learner's change
        shutil.rmtree(root, ignore_errors=True)
        return {"ok": False, "reason": problem, "flags": [], "seconds": time.perf_counter() - started}
    mine_submitted = Path(mine.format_path(mine.submitted_directory, student, assignment))
    mine_submitted.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(source.glob("*.ipynb")):
        if (submitted / notebook.name).is_file() and not (submitted / notebook.name).is_symlink():
            shutil.copyfile(submitted / notebook.name, mine_submitted / notebook.name)
    shutil.copyfile(template_db, root / "gradebook.db")

    from .replay import execute_only_config

    result = NbGraderAPI(config=execute_only_config(config)).autograde(assignment, student, force=True,
                                                                       create=True)
    append_log(log_path, f"autograde {assignment} for {student} (worker, scratch course)", result)
    autograded = Path(mine.format_path(mine.autograded_directory, student, assignment))
    notebooks = sorted(autograded.glob("*.ipynb")) if autograded.is_dir() else []
    ok = bool(result.get("success")) and bool(notebooks)
    reason = ""
    flags = []
    for notebook in sorted(source.glob("*.ipynb")):
        executed = autograded / notebook.name
        flags += submission_flags(mine_submitted / notebook.name, executed if ok else None, notebook)
        if (mine_submitted / notebook.name).is_file():
            flags += notices(mine_submitted / notebook.name, notebook)
    if ok:
        dest = Path(executed_root) / student / assignment
        dest.mkdir(parents=True, exist_ok=True)
        for nb in notebooks:
            shutil.copyfile(nb, dest / nb.name)
    else:
        reason = reason_from_log((result.get("log") or "") + "\n" + (result.get("error") or ""))
        if "notebook name" in reason:
            found = sorted(p.name for p in submitted.iterdir()) if submitted.is_dir() else []
            reason += f" (found: {', '.join(found) or 'nothing'})"
    shutil.rmtree(root, ignore_errors=True)
    return {"ok": ok, "reason": reason, "flags": flags, "seconds": time.perf_counter() - started}


def feedback_submission(*, course_root: str, assignment: str, student: str, timeout: int | None,
                        log_path: str | None = None, sandbox: str = "required") -> dict:
    """Worker task: nbgrader generate_feedback for one student of the real course (reads the gradebook only;
    the notebook is run again, sandboxed, without its hidden tests: :mod:`autograder.safe_feedback`)."""
    started = time.perf_counter()
    prepare()
    from nbgrader.apps import NbGraderAPI

    result = NbGraderAPI(config=course_config(Path(course_root), timeout=timeout, sandbox=sandbox)).generate_feedback(
        assignment, student, force=True)
    append_log(log_path, f"generate_feedback {assignment} for {student}", result)
    ok = bool(result.get("success"))
    return {"ok": ok, "reason": "" if ok else reason_from_log(result.get("log", "")),
            "seconds": time.perf_counter() - started}
