"""Learner submissions for each graded assignment, built reproducibly for the grading tests.

Every submission starts from nbgrader's own student version (what a learner is
given), so the cell ids, checksums and metadata are exactly what nbgrader
expects back. ``solution`` fills each answer cell with the reference solution
from the source notebook; each buggy submission is ``solution`` with one change
(:attr:`AssignmentSpec.bugs`), and :attr:`AssignmentSpec.expected_losses` lists
the graded cells it must lose and no others. What differs between assignments
is all in one :class:`AssignmentSpec` each (:data:`RESILIENCE`,
:data:`CONSISTENCY`, both in :data:`SPECS`); the machinery is shared.

Typical use (the tests do this)::

    spec = SPECS["resilience"]
    root = spec.make_course(tmp_path, timeout=10)          # nbgrader_config.py + source/<id>/
    student = spec.generate_student_version(root)          # nbgrader generate_assignment
    paths = spec.build_submissions(student, tmp_path / "subs")   # {name: .../name.ipynb}

From a shell: ``python -m tests.grading.build_submissions ID DEST`` writes them all
(with a scratch course under DEST/course).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]

#: Why nbgrader cannot grade each of the ungradable submissions.
UNGRADABLE_REASONS = {
    "os_exit": "the kernel died (os._exit(0) in an answer cell)",
    "invalid_json": "the file is not JSON",
}


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@dataclass(frozen=True)
class AssignmentSpec:
    """What the grading tests need to know about one assignment.

    * ``bugs``: one change each to the reference solution: ``name -> (answer cell's
      grade_id, text in the solution, replacement)``; ``bug_losses``: the graded cells
      (grade_ids) each must lose, keeping every other one.
    * ``edited_test_cells``: the test cells ``edits_test_cell`` replaces with ``pass``;
      ``hiding_bug``: the bug that ``edits_test_cell_to_hide_bug`` carries, with the
      cells that catch it replaced by ``pass``.
    * ``loop_cell``: the answer cell ``infinite_loop`` starts with ``while True: pass``
      (None: no such submission), and ``loop_losses`` what that costs; ``exit_cell``: the
      answer cell ``os_exit`` kills the kernel in (None: no such submission);
      ``invalid_json``: whether to submit a file that is not JSON.
    * The rest is what the source notebook must hold: the autograded and hand-graded
      points, the hand-graded questions, how many cells have hidden tests, the answer
      cells (each a stub in the student version), a line of the interface the student
      version keeps, and pieces of solutions it must not show.
    """

    id: str
    bugs: dict
    bug_losses: dict
    edited_test_cells: tuple
    hiding_bug: str
    answer_cells: tuple
    questions: tuple
    autograded_points: float
    manual_points: float
    hidden_cells: int
    interface_line: str
    solution_secrets: tuple
    loop_cell: str | None = None
    loop_losses: frozenset = field(default_factory=frozenset)
    exit_cell: str | None = None
    invalid_json: bool = False

    # -- derived -----------------------------------------------------------------------------

    @property
    def source(self) -> Path:
        """The nbgrader source notebook, ``assignments/<id>/<id>.ipynb``."""
        return ROOT / "assignments" / self.id / f"{self.id}.ipynb"

    @property
    def ungradable(self) -> dict[str, str]:
        """The submissions nbgrader cannot grade at all, and why."""
        made = {"os_exit": self.exit_cell is not None, "invalid_json": self.invalid_json}
        return {name: reason for name, reason in UNGRADABLE_REASONS.items() if made[name]}

    @property
    def submissions(self) -> tuple[str, ...]:
        """Every submission :meth:`build_submissions` writes."""
        return ("solution", "blank", *self.bugs, "edits_test_cell", "edits_test_cell_to_hide_bug",
                *(["infinite_loop"] if self.loop_cell else []), *self.ungradable)

    @property
    def expected_losses(self) -> dict[str, set]:
        """The graded cells each gradable submission but ``blank`` (which loses them all) must lose."""
        losses = {"solution": set(), **{bug: set(lost) for bug, lost in self.bug_losses.items()},
                  # Test cells replaced with `pass` are put back by nbgrader before it runs anything.
                  "edits_test_cell": set(), "edits_test_cell_to_hide_bug": set(self.bug_losses[self.hiding_bug])}
        if self.loop_cell:
            losses["infinite_loop"] = set(self.loop_losses)
        return losses

    # -- the source notebook -----------------------------------------------------------------

    def _cells(self):
        return nbformat.read(self.source, as_version=4).cells

    def autograded_ids(self) -> dict[str, float]:
        """grade_id -> points for every autograded test cell, in notebook order."""
        return {m["grade_id"]: float(m["points"]) for m in map(_nbgrader, self._cells())
                if m.get("grade") and not m.get("solution") and not m.get("task")}

    def manual_ids(self) -> dict[str, float]:
        """grade_id -> points for every hand-graded cell (answers and tasks)."""
        return {m["grade_id"]: float(m["points"]) for m in map(_nbgrader, self._cells())
                if m.get("task") or (m.get("grade") and m.get("solution"))}

    def solution_code(self) -> dict[str, str]:
        """grade_id -> the reference solution of every autograded answer cell, without the
        ``### BEGIN/END SOLUTION`` marker lines."""
        return {_nbgrader(c)["grade_id"]: "\n".join(line for line in c.source.split("\n")
                                                    if "### BEGIN SOLUTION" not in line
                                                    and "### END SOLUTION" not in line)
                for c in self._cells() if c.cell_type == "code" and _nbgrader(c).get("solution")}

    # -- a scratch nbgrader course -----------------------------------------------------------

    def make_course(self, root: Path, timeout: int = 30) -> Path:
        """A fresh nbgrader course directory at ``root`` holding the source notebook; returns ``root``.

        ``timeout`` is nbgrader's per-cell execution limit in seconds.
        """
        root = Path(root)
        (root / "source" / self.id).mkdir(parents=True, exist_ok=True)
        shutil.copy(self.source, root / "source" / self.id / self.source.name)
        (root / "nbgrader_config.py").write_text(textwrap.dedent(f"""\
            c = get_config()
            c.CourseDirectory.root = {str(root)!r}
            c.CourseDirectory.course_id = "mup"
            c.CourseDirectory.db_url = {"sqlite:///" + str(root / "gradebook.db")!r}
            c.ExecutePreprocessor.timeout = {int(timeout)}
            """))
        return root

    def generate_student_version(self, root: Path) -> Path:
        """``nbgrader generate_assignment`` in course ``root``; returns the student notebook."""
        run_nbgrader(root, "generate_assignment", self.id, "--force")
        return Path(root) / "release" / self.id / self.source.name

    # -- the submissions ---------------------------------------------------------------------

    def _with_bug(self, solutions: dict[str, str], bug: str) -> dict[str, str]:
        grade_id, old, new = self.bugs[bug]
        code = solutions[grade_id]
        if code.count(old) != 1:
            raise ValueError(f"bug {bug!r}: the text to change occurs {code.count(old)} times in {grade_id!r}, "
                             f"not once")
        return {**solutions, grade_id: code.replace(old, new)}

    def build_submissions(self, student_nb: Path, dest: Path) -> dict[str, Path]:
        """Write every submission in :attr:`submissions` as ``dest/<name>.ipynb``; returns ``{name: path}``.

        ``student_nb`` is nbgrader's student version of :attr:`source` (see
        :meth:`generate_student_version`).
        """
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        student = nbformat.read(student_nb, as_version=4)
        solutions = self.solution_code()
        notebooks = {"solution": _filled(student, solutions), "blank": _filled(student, {})}
        for bug in self.bugs:
            notebooks[bug] = _filled(student, self._with_bug(solutions, bug))

        notebooks["edits_test_cell"] = _passed_over(_filled(student, solutions), self.edited_test_cells)
        notebooks["edits_test_cell_to_hide_bug"] = _passed_over(
            _filled(student, self._with_bug(solutions, self.hiding_bug)), self.bug_losses[self.hiding_bug])
        if self.loop_cell:
            notebooks["infinite_loop"] = _filled(
                student, {**solutions, self.loop_cell: "while True:\n    pass\n\n" + solutions[self.loop_cell]})
        if self.exit_cell:
            notebooks["os_exit"] = _filled(
                student, {**solutions, self.exit_cell: "import os; os._exit(0)\n\n" + solutions[self.exit_cell]})

        paths = {}
        for name, nb in notebooks.items():
            paths[name] = dest / f"{name}.ipynb"
            nbformat.write(nb, paths[name])
        if self.invalid_json:
            paths["invalid_json"] = dest / "invalid_json.ipynb"
            paths["invalid_json"].write_text(f"I pasted my answers here instead {{\n  {solutions[self.answer_cells[-1]][:60]}\n")
        assert set(paths) == set(self.submissions)
        return paths

    def submit(self, root: Path, paths: dict[str, Path], names=None) -> None:
        """Copy submissions into course ``root`` as ``submitted/<name>/<id>/<id>.ipynb``
        (the student id is the submission's name)."""
        for name in names or paths:
            target = Path(root) / "submitted" / name / self.id / self.source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(paths[name], target)


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


def _passed_over(nb, test_cells):
    """``nb`` with each of ``test_cells`` replaced by ``pass``, as a learner hiding a failure would."""
    for grade_id in test_cells:
        _cell(nb, grade_id).source = "pass"
    return nb


# -- running nbgrader ----------------------------------------------------------------------------

def nbgrader_env() -> dict:
    """The environment for running nbgrader in a subprocess. nbgrader's Gradebook runs the
    ``alembic`` executable found on PATH, so this interpreter's bin directory goes first."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m nbgrader ARGS`` in course ``root``; output captured (nbgrader logs to stderr)."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=nbgrader_env(),
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


# -- the assignments -----------------------------------------------------------------------------

RESILIENCE = AssignmentSpec(
    id="resilience",
    bugs={
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
    },
    bug_losses={
        "no_jitter": {"retry_backoff", "retry_jitter_spread"},
        "ignores_deadline": {"retry_deadline", "retry_deadline_in_sim"},
        "retries_non_retryable": {"retry_retryable", "retry_only_retryable"},
        "never_half_opens": {"breaker_recovers", "breaker_half_open_probes", "breaker_in_sim_outage"},
        "trips_before_minimum": {"breaker_opens", "breaker_opens_at_threshold"},
        "fallback_swallows_errors": {"fallback_basics", "fallback_no_swallow"},
    },
    edited_test_cells=("retry_backoff", "breaker_half_open_probes"),  # a visible one and a hidden one
    hiding_bug="no_jitter",
    answer_cells=("retry_policy", "circuit_breaker", "fallback"),
    questions=("q_jitter", "q_amplification", "q_fallback"),
    autograded_points=60,
    manual_points=15,
    hidden_cells=11,
    interface_line="def next_delay(self, attempts_made, outcome, started_at, now, previous_delay, rng):",
    solution_secrets=("delay = rng.uniform", "self._window.append(failed)", "except handles:"),
    # The loop sits at the top of Part C's answer cell: the cell times out, with_fallback is never
    # defined, Part C's tests fail at once, and Parts A and B are untouched.
    loop_cell="fallback",
    loop_losses=frozenset({"fallback_basics", "fallback_served_while_down", "fallback_no_swallow"}),
    exit_cell="circuit_breaker",
    invalid_json=True,
)

CONSISTENCY = AssignmentSpec(
    id="consistency",
    bugs={
        "consumer_not_idempotent": ("idempotent_consumer",
                                    "            if tx.read(marker) is not None:\n"
                                    "                return  # a duplicate: its work committed together with this marker\n",
                                    ""),
        # The id is recorded in a write of its own after the work's transaction: a crash in between
        # leaves the work committed and the id not, and the redelivery applies the work again.
        "marks_processed_outside_transaction": ("idempotent_consumer",
                                                "            self.apply(tx, message.payload)\n"
                                                "            tx.write(marker, True)",
                                                "            self.apply(tx, message.payload)\n"
                                                "        self.store.write(marker, True)"),
        "consumer_swallows_errors": ("idempotent_consumer",
                                     "            self.apply(tx, message.payload)\n",
                                     "            try:\n"
                                     "                self.apply(tx, message.payload)\n"
                                     "            except Exception as error:  # log it and move on\n"
                                     "                print(f\"skipped {message.id}: {error!r}\")\n"),
        "compensates_in_forward_order": ("saga_orchestrator", "        for step in reversed(done):\n",
                                         "        for step in done:\n"),
        # Gives up at the first failure of a compensation: stuck far too early.
        "no_compensation_retry": ("saga_orchestrator", "for attempt in range(1 + self.compensation_retries):",
                                  "for attempt in range(1):"),
        # A crash between the mark and the publish loses the event for good.
        "relay_marks_before_publish": ("outbox_relay",
                                       "            try:\n"
                                       "                self.broker.publish(row.topic, row.payload, message_id=row.id)\n"
                                       "            except ConnectionError:\n",
                                       "            self.store.mark_sent(row.id)\n"
                                       "            try:\n"
                                       "                self.broker.publish(row.topic, row.payload, message_id=row.id)\n"
                                       "            except ConnectionError:\n"),
    },
    bug_losses={
        "consumer_not_idempotent": {"consumer_basics", "consumer_crash_after_commit", "consumer_never_double_applies",
                                    "consumer_survives_crashes"},
        "marks_processed_outside_transaction": {"consumer_crash_after_commit", "consumer_survives_crashes"},
        "consumer_swallows_errors": {"consumer_errors", "consumer_errors_propagate"},
        "compensates_in_forward_order": {"saga_basics", "saga_reverse_order"},
        "no_compensation_retry": {"saga_compensation_retries", "saga_all_or_nothing", "saga_stuck_after_retries"},
        "relay_marks_before_publish": {"relay_crash_between", "relay_at_least_once", "relay_order_and_ids"},
    },
    edited_test_cells=("consumer_basics", "saga_stuck_after_retries"),  # a visible one and a hidden one
    hiding_bug="compensates_in_forward_order",
    answer_cells=("idempotent_consumer", "saga_orchestrator", "outbox_relay"),
    questions=("q_exactly_once", "q_saga_isolation", "q_two_phase_commit"),
    autograded_points=60,
    manual_points=15,
    hidden_cells=9,
    interface_line="def handle(self, message):",
    solution_secrets=('marker = f"processed:{message.id}"', "for step in reversed(done):",
                      "self.store.mark_sent(row.id)"),
    # The loop sits at the top of Part C's answer cell: OutboxRelay is never defined, so Part C's
    # six test cells fail and Parts A and B are untouched.
    loop_cell="outbox_relay",
    loop_losses=frozenset({"relay_basics", "relay_crash_between", "relay_start_stop", "relay_at_least_once",
                           "relay_order_and_ids", "relay_keeps_running"}),
)

SPECS = {spec.id: spec for spec in (RESILIENCE, CONSISTENCY)}


if __name__ == "__main__":  # pragma: no cover - a convenience for people
    spec = SPECS[sys.argv[1] if len(sys.argv) > 1 else "resilience"]
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "submissions")
    course = spec.make_course(out / "course")
    for name, path in spec.build_submissions(spec.generate_student_version(course), out).items():
        print(f"{name:40s} {path}")
