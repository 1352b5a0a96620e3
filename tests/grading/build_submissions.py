"""Learner submissions for the resilience assignment, built reproducibly for the grading tests.

Every submission starts from nbgrader's own student version (what a learner is
given), so the cell ids, checksums and metadata are exactly what nbgrader
expects back. ``solution`` fills each answer cell with the reference solution
from the source notebook; each buggy submission is ``solution`` with one change
(:data:`BUGS`), and :data:`EXPECTED_LOSSES` lists the graded cells it must lose
and no others. :data:`UNGRADABLE` are the ones nbgrader cannot grade at all.

Typical use (the tests do this)::

    root = make_course(tmp_path, timeout=10)      # nbgrader_config.py + source/resilience/
    student = generate_student_version(root)      # nbgrader generate_assignment
    paths = build_submissions(student, tmp_path / "subs")   # {name: .../name.ipynb}

From a shell: ``python -m tests.grading.build_submissions DEST`` writes them all
(with a scratch course under DEST/course).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "resilience"
SOURCE = ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

#: One change each to the reference solution: (answer cell's grade_id, text in the solution, replacement).
BUGS = {
    # Exponential backoff, capped, but every client sleeps exactly the ceiling.
    "no_jitter": ("retry_policy",
                  "delay = rng.uniform(0.0, self.ceiling(attempts_made - 1))",
                  "delay = self.ceiling(attempts_made - 1)"),
    "ignores_deadline": ("retry_policy",
                         "        if self.deadline is not None and now + delay >= started_at + self.deadline:\n"
                         "            return None\n",
                         ""),
    "retries_non_retryable": ("retry_policy",
                              "        if outcome not in self.retryable:\n"
                              "            return None\n",
                              ""),
    # The open state never looks at the clock, so the breaker stays open for ever.
    "never_half_opens": ("circuit_breaker",
                         '        if self._state == "open" and self.clock.now() >= self._opened_at + self.open_wait:\n'
                         '            self._state = "half_open"\n'
                         "            self._probes_issued = 0\n"
                         "            self._probe_results = []\n",
                         ""),
    "trips_before_minimum": ("circuit_breaker",
                             "if calls >= self.minimum_calls and sum(self._window) / calls >= "
                             "self.failure_rate_threshold:",
                             "if sum(self._window) / calls >= self.failure_rate_threshold:"),
    "fallback_swallows_errors": ("fallback", "        except handles:\n", "        except Exception:\n"),
}

#: The graded cells (grade_ids) each submission must lose; it keeps every other one.
EXPECTED_LOSSES = {
    "solution": set(),
    "no_jitter": {"retry_backoff", "retry_jitter_spread"},
    "ignores_deadline": {"retry_deadline", "retry_deadline_in_sim"},
    "retries_non_retryable": {"retry_retryable", "retry_only_retryable"},
    "never_half_opens": {"breaker_recovers", "breaker_half_open_probes", "breaker_in_sim_outage"},
    "trips_before_minimum": {"breaker_opens", "breaker_opens_at_threshold"},
    "fallback_swallows_errors": {"fallback_basics", "fallback_no_swallow"},
    # Test cells replaced with `pass` are put back by nbgrader before it runs anything.
    "edits_test_cell": set(),
    "edits_test_cell_to_hide_bug": {"retry_backoff", "retry_jitter_spread"},
    # The loop sits at the top of Part C's answer cell: the cell times out, with_fallback is never
    # defined, Part C's tests fail at once, and Parts A and B are untouched.
    "infinite_loop": {"fallback_basics", "fallback_served_while_down", "fallback_no_swallow"},
}
# "blank" loses everything: see autograded_ids().

#: Submissions nbgrader cannot grade, and why.
UNGRADABLE = {
    "os_exit": "the kernel died (os._exit(0) in an answer cell)",
    "invalid_json": "the file is not JSON",
}

#: Test cells the edits_* submissions replace with ``pass``: a visible one and a hidden one.
EDITED_TEST_CELLS = ("retry_backoff", "breaker_half_open_probes")
#: The cells that catch no_jitter, which edits_test_cell_to_hide_bug "disables".
HIDING_EDITS = ("retry_backoff", "retry_jitter_spread")

SUBMISSIONS = ("solution", "blank", *BUGS, "edits_test_cell", "edits_test_cell_to_hide_bug", "infinite_loop",
               "os_exit", "invalid_json")


# -- the source notebook -----------------------------------------------------------------------

def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def autograded_ids(source: Path = SOURCE) -> dict[str, float]:
    """grade_id -> points for every autograded test cell, in notebook order."""
    nb = nbformat.read(source, as_version=4)
    return {m["grade_id"]: float(m["points"]) for m in map(_nbgrader, nb.cells)
            if m.get("grade") and not m.get("solution") and not m.get("task")}


def manual_ids(source: Path = SOURCE) -> dict[str, float]:
    """grade_id -> points for every hand-graded cell (answers and tasks)."""
    nb = nbformat.read(source, as_version=4)
    return {m["grade_id"]: float(m["points"]) for m in map(_nbgrader, nb.cells)
            if m.get("task") or (m.get("grade") and m.get("solution"))}


def solution_code(source: Path = SOURCE) -> dict[str, str]:
    """grade_id -> the reference solution of every autograded answer cell, without the
    ``### BEGIN/END SOLUTION`` marker lines."""
    nb = nbformat.read(source, as_version=4)
    return {_nbgrader(c)["grade_id"]: "\n".join(line for line in c.source.split("\n")
                                                if "### BEGIN SOLUTION" not in line
                                                and "### END SOLUTION" not in line)
            for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("solution")}


# -- a scratch nbgrader course -------------------------------------------------------------------

def nbgrader_env() -> dict:
    """The environment for running nbgrader in a subprocess. nbgrader's Gradebook runs the
    ``alembic`` executable found on PATH, so this interpreter's bin directory goes first."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def make_course(root: Path, timeout: int = 30) -> Path:
    """A fresh nbgrader course directory at ``root`` holding the source notebook; returns ``root``.

    ``timeout`` is nbgrader's per-cell execution limit in seconds.
    """
    root = Path(root)
    (root / "source" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, root / "source" / ASSIGNMENT / SOURCE.name)
    (root / "nbgrader_config.py").write_text(textwrap.dedent(f"""\
        c = get_config()
        c.CourseDirectory.root = {str(root)!r}
        c.CourseDirectory.course_id = "mup"
        c.CourseDirectory.db_url = {"sqlite:///" + str(root / "gradebook.db")!r}
        c.ExecutePreprocessor.timeout = {int(timeout)}
        """))
    return root


def run_nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m nbgrader ARGS`` in course ``root``; output captured (nbgrader logs to stderr)."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=nbgrader_env(),
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def generate_student_version(root: Path) -> Path:
    """``nbgrader generate_assignment`` in course ``root``; returns the student notebook."""
    run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    return Path(root) / "release" / ASSIGNMENT / SOURCE.name


# -- the submissions -----------------------------------------------------------------------------

def _cell(nb, grade_id: str):
    for cell in nb.cells:
        if _nbgrader(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def _filled(student, solutions: dict[str, str]):
    nb = nbformat.from_dict(json.loads(json.dumps(student)))  # a deep copy
    for grade_id, code in solutions.items():
        _cell(nb, grade_id).source = code
    return nb


def _with_bug(solutions: dict[str, str], bug: str) -> dict[str, str]:
    grade_id, old, new = BUGS[bug]
    code = solutions[grade_id]
    if code.count(old) != 1:
        raise ValueError(f"bug {bug!r}: the text to change occurs {code.count(old)} times in {grade_id!r}, not once")
    return {**solutions, grade_id: code.replace(old, new)}


def build_submissions(student_nb: Path, dest: Path, source: Path = SOURCE) -> dict[str, Path]:
    """Write every submission in :data:`SUBMISSIONS` as ``dest/<name>.ipynb``; returns ``{name: path}``.

    ``student_nb`` is nbgrader's student version of ``source`` (see :func:`generate_student_version`).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    student = nbformat.read(student_nb, as_version=4)
    solutions = solution_code(source)
    notebooks = {"solution": _filled(student, solutions), "blank": _filled(student, {})}
    for bug in BUGS:
        notebooks[bug] = _filled(student, _with_bug(solutions, bug))

    edited = _filled(student, solutions)
    for grade_id in EDITED_TEST_CELLS:
        _cell(edited, grade_id).source = "pass"
    notebooks["edits_test_cell"] = edited
    hiding = _filled(student, _with_bug(solutions, "no_jitter"))
    for grade_id in HIDING_EDITS:
        _cell(hiding, grade_id).source = "pass"
    notebooks["edits_test_cell_to_hide_bug"] = hiding

    notebooks["infinite_loop"] = _filled(
        student, {**solutions, "fallback": "while True:\n    pass\n\n" + solutions["fallback"]})
    notebooks["os_exit"] = _filled(
        student, {**solutions, "circuit_breaker": "import os; os._exit(0)\n\n" + solutions["circuit_breaker"]})

    paths = {}
    for name, nb in notebooks.items():
        paths[name] = dest / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    paths["invalid_json"] = dest / "invalid_json.ipynb"
    paths["invalid_json"].write_text("I pasted my answers here instead {\n  def with_fallback(fn, ...\n")
    assert set(paths) == set(SUBMISSIONS)
    return paths


def submit(root: Path, paths: dict[str, Path], names=None) -> None:
    """Copy submissions into course ``root`` as ``submitted/<name>/resilience/resilience.ipynb``
    (the student id is the submission's name)."""
    for name in names or paths:
        target = Path(root) / "submitted" / name / ASSIGNMENT / SOURCE.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths[name], target)


if __name__ == "__main__":  # pragma: no cover - a convenience for people
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "submissions")
    course = make_course(out / "course")
    for name, path in build_submissions(generate_student_version(course), out).items():
        print(f"{name:30s} {path}")
