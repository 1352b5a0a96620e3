"""Clear reasons for every rejection: :func:`autograder.rejections.precheck`, ``reason_from_log`` and the limits.

Every broken notebook here is made from nbgrader's own student version of an
assignment (``generate_assignment`` in an :class:`autograder.scratch.ScratchCourse`,
in-process: the same notebook as :meth:`~tests.grading.build_submissions.AssignmentSpec.generate_student_version`
writes, in a fraction of the time), broken the way a learner breaks one: a
copied or split cell, a deleted cell, a cell turned into Markdown, metadata
an editor dropped or someone edited. Each is run through real nbgrader
(``autograde`` in that scratch course, as ``check`` runs it). The tests
assert that ``precheck`` rejects what nbgrader cannot grade, and also a
changed cell type or grading setting that nbgrader would silently put back,
with a sentence naming the cell and what to do; that it lets through what
nbgrader grades as the learner meant (and every honest submission of
:mod:`tests.grading.build_submissions`); and that ``reason_from_log`` turns
nbgrader's real log into a sentence.

To keep the module fast, the structural runs stop after nbgrader's sanitizing
step (no kernel: every structural failure happens before the first cell runs).
Three runs start a real kernel, in the sandbox when the machine allows it: a
kernel killed by SIGXCPU (what the CPU limit sends), one whose cell ignores
interrupts, and one whose answers hit the memory, file size and output limits.
The process limit is tested on recorded errors only: the sandbox's limit is
per user, and a real fork bomb would starve other sandboxed kernels running
at the same time.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import AutograderError
from autograder.assignments import find_assignment
from autograder.check import STUDENT, validate_notebook
from autograder.rejections import DEFAULT_MAX_BYTES, notices, precheck, precheck_submission
from autograder.results import answer_cell_problems, cell_failure_reason, failure_category, reason_from_log
from autograder.scratch import ScratchCourse
from tests.grading import build_submissions as bs

ROOT = Path(__file__).resolve().parents[2]


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if isinstance(_meta(c), dict) and _meta(c).get("grade_id") == grade_id)


def _ids(spec: bs.AssignmentSpec) -> dict:
    """The cells the breakages touch: the first answer cell, the test right after it, another test, a task."""
    order = [_meta(c).get("grade_id") for c in nbformat.read(spec.source, as_version=4).cells]
    answer = spec.answer_cells[0]
    return {"answer": answer, "first_test": order[order.index(answer) + 1], "test": spec.edited_test_cells[0],
            "task": spec.questions[0]}


def _to_markdown(cell) -> None:
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


def _duplicate(nb, grade_id):
    cell = _cell(nb, grade_id)
    nb.cells.insert(nb.cells.index(cell) + 1, copy.deepcopy(cell))


def _strip_all(nb, ids):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def _set(key, value, which="test"):
    def change(nb, ids):
        _meta(_cell(nb, ids[which]))[key] = value
    return change


def _delete(*which):
    def change(nb, ids):
        for name in which:
            nb.cells.remove(_cell(nb, ids[name]))
    return change


#: name -> (how the learner broke the student version, what precheck says, what nbgrader's log becomes).
#: A log sentence of None: nbgrader grades it (it puts back the cell type or setting), and precheck
#: refuses it all the same, as the brief asks (a notebook should run as it is graded, and grading
#: settings are not the learner's to edit).
REJECTED = {
    "answer_cell_copied": (lambda nb, ids: _duplicate(nb, ids["answer"]), "appears twice", "appears twice"),
    "test_cell_copied": (lambda nb, ids: _duplicate(nb, ids["test"]), "appears twice", "appears twice"),
    "grade_id_renamed": (_set("grade_id", "my_answer", "answer"), "which the assignment does not have",
                         "which the assignment does not have"),
    "grade_id_removed": (lambda nb, ids: _meta(_cell(nb, ids["test"])).pop("grade_id"), "without a grade id",
                         "without a grade id"),
    "test_marked_as_answer": (_set("solution", True), "nbgrader settings changed", "nbgrader settings"),
    "answer_marked_as_graded": (lambda nb, ids: _meta(_cell(nb, ids["answer"])).update(grade=True, points=5),
                                "nbgrader settings changed", "marked as graded"),
    "points_removed": (lambda nb, ids: _meta(_cell(nb, ids["test"])).pop("points"), "lost its points",
                       "lost its points"),
    "schema_version_edited": (_set("schema_version", 1), "nbgrader metadata that is no longer valid",
                              "another nbgrader version"),
    "metadata_key_added": (_set("my_note", "todo"), "nbgrader metadata that is no longer valid",
                           "not valid (Additional properties"),
    "metadata_not_a_dict": (lambda nb, ids: _cell(nb, ids["test"]).metadata.__setitem__("nbgrader", "x"),
                            "damaged nbgrader metadata", "damaged"),
    "answer_and_its_test_deleted": (_delete("answer", "first_test"), "is missing from your notebook",
                                    "cannot put the test back"),
    "metadata_dropped_by_editor": (_strip_all, "no cell of your notebook has its nbgrader metadata",
                                   "cannot put the test back"),
    "no_cells": (lambda nb, ids: nb.cells.clear(), "has no cells", "cannot put the test back"),
    # nbgrader would grade these: it turns the cell back, or puts the setting back.
    "answer_turned_into_markdown": (lambda nb, ids: _to_markdown(_cell(nb, ids["answer"])),
                                    "has a different cell type in your notebook (Markdown)", None),
    "test_turned_into_markdown": (lambda nb, ids: _to_markdown(_cell(nb, ids["test"])),
                                  "has a different cell type in your notebook (Markdown)", None),
    "test_points_raised": (_set("points", 100), "points changed", None),
    "task_unmarked": (_set("task", False, "task"), "nbgrader settings changed", None),
}
#: name -> (the change, what notices() says or None): precheck lets these pass, and nbgrader grades them.
ACCEPTED = {
    "test_deleted": (_delete("test"), "the grader put it back"),
    "task_deleted": (_delete("task"), "the grader put it back"),
    "answer_deleted": (_delete("answer"), "is missing from your notebook"),
    "answer_lost_metadata": (lambda nb, ids: _cell(nb, ids["answer"]).metadata.pop("nbgrader"),
                             "lost its nbgrader metadata"),
    "checksums_edited": (lambda nb, ids: [_meta(_cell(nb, ids[k])).update(checksum="0" * 32)
                                          for k in ("answer", "test")], None),
    "answer_marked_locked": (_set("locked", True, "answer"), None),
}


@pytest.fixture(scope="module")
def courses():
    """Per assignment, a scratch nbgrader course (as ``check`` makes one) with the student version generated."""
    with contextlib.ExitStack() as stack:
        made = {}
        for spec in bs.SPECS.values():
            course = stack.enter_context(ScratchCourse(find_assignment(spec.id), timeout=2))
            course.generate()
            made[spec.id] = course
        yield made


@pytest.fixture(scope="module")
def built(courses, tmp_path_factory):
    """Per assignment: nbgrader's student version, the honest submissions and every broken notebook."""
    made = {}
    for spec in bs.SPECS.values():
        root = tmp_path_factory.mktemp(f"rejections-{spec.id}")
        student = courses[spec.id].path("release") / spec.source.name
        honest = spec.build_submissions(student, root / "honest")
        ids = _ids(spec)
        broken = {}
        for name, (change, *_) in {**REJECTED, **ACCEPTED}.items():
            nb = nbformat.read(student, as_version=4)
            change(nb, ids)
            broken[name] = root / "broken" / name / f"{spec.id}.ipynb"
            broken[name].parent.mkdir(parents=True)
            broken[name].write_text(json.dumps(nb, indent=1))  # as written, even where nbformat would object
        made[spec.id] = {"student": student, "honest": honest, "broken": broken, "ids": ids}
    return made


def _autograde(course: ScratchCourse, notebook: Path, *, sanitize_only: bool) -> tuple[bool, str, Path | None]:
    """(nbgrader's success, its log, the autograded notebook) for ``notebook`` submitted to ``course``.

    ``sanitize_only`` stops after nbgrader's sanitizing step and its metadata
    check (no kernel): every structural failure happens there.
    """
    from nbgrader.apps import NbGraderAPI

    config = copy.deepcopy(course.config)
    if sanitize_only:
        config.Autograde.autograde_preprocessors = ["nbgrader.preprocessors.CheckCellMetadata"]
    course.submit(STUDENT, notebook)
    result = NbGraderAPI(config=config).autograde(course.assignment.id, STUDENT, force=True, create=True)
    graded = course.path("autograded", STUDENT) / course.assignment.notebook.name
    kept = None
    if result.get("success") and graded.is_file():
        kept = notebook.with_name("graded.ipynb")
        kept.write_bytes(graded.read_bytes())
    return bool(result.get("success")), (result.get("log") or "") + "\n" + (result.get("error") or ""), kept


@pytest.fixture(scope="module")
def nbgrader_runs(courses, built):
    """``{assignment: {name: (nbgrader's success, its log)}}`` for every broken notebook."""
    return {spec_id: {name: _autograde(courses[spec_id], path, sanitize_only=True)[:2]
                      for name, path in built[spec_id]["broken"].items()}
            for spec_id in built}


# -- precheck --------------------------------------------------------------------------------------

@pytest.mark.parametrize("assignment", sorted(bs.SPECS))
def test_honest_submissions_pass_precheck(built, assignment):
    spec = bs.SPECS[assignment]
    for name, path in built[assignment]["honest"].items():
        if name == "invalid_json":
            assert "not valid JSON" in precheck(path, spec.source)
        else:
            assert precheck(path, spec.source) is None, name
            assert notices(path, spec.source) == [], name
            validate_notebook(path, spec.source)
    assert precheck(built[assignment]["student"], spec.source) is None


@pytest.mark.parametrize("assignment", sorted(bs.SPECS))
def test_precheck_rejects_what_nbgrader_cannot_grade_and_changed_settings(built, nbgrader_runs, assignment):
    spec = bs.SPECS[assignment]
    for name, (success, log) in nbgrader_runs[assignment].items():
        reason = precheck(built[assignment]["broken"][name], spec.source)
        if name in REJECTED and REJECTED[name][2] is None:  # refused although nbgrader would grade it
            assert success and reason is not None, (name, reason, log[-2000:])
        else:
            assert (reason is None) == success, (name, reason, log[-2000:])


@pytest.mark.parametrize("assignment", sorted(bs.SPECS))
def test_precheck_says_what_is_wrong_which_cell_and_what_to_do(built, assignment):
    spec = bs.SPECS[assignment]
    ids = built[assignment]["ids"]
    for name, (_, expected, _) in REJECTED.items():
        reason = precheck(built[assignment]["broken"][name], spec.source)
        assert expected in reason, (name, reason)
        what_to_do = "set its type back to" if "cell type" in expected else f"autograder fetch {assignment}"
        assert what_to_do in reason, (name, reason)
        assert not re.search(r"\b[A-Z]\w*(?:Error|Exception)\b", reason), (name, reason)  # no exception names
        assert failure_category(reason, whole_submission=True) != "not graded: other", (name, reason)
    answer, test = f"the answer cell {ids['answer']!r}", f"the test cell {ids['test']!r}"
    named = {"answer_cell_copied": answer, "test_cell_copied": test, "grade_id_renamed": answer,
             "test_marked_as_answer": test, "answer_and_its_test_deleted": f"the test cell {ids['first_test']!r}"}
    for name, cell in named.items():
        assert cell in precheck(built[assignment]["broken"][name], spec.source), name


@pytest.mark.parametrize("assignment", sorted(bs.SPECS))
def test_what_nbgrader_repairs_passes_with_a_notice(built, assignment):
    spec = bs.SPECS[assignment]
    for name, (_, expected) in ACCEPTED.items():
        path = built[assignment]["broken"][name]
        assert precheck(path, spec.source) is None, name
        said = notices(path, spec.source)
        assert (expected is None and not said) or any(expected in line for line in said), (name, said)


def test_a_submission_folder_is_checked_notebook_by_notebook(built, tmp_path):
    spec = bs.RESILIENCE
    source_dir, submitted = tmp_path / "source", tmp_path / "submitted"
    source_dir.mkdir(), submitted.mkdir()
    (source_dir / spec.source.name).write_bytes(spec.source.read_bytes())
    assert precheck_submission(submitted, source_dir) is None  # no notebook: nbgrader says so
    (submitted / spec.source.name).write_bytes(built[spec.id]["honest"]["solution"].read_bytes())
    assert precheck_submission(submitted, source_dir) is None
    (submitted / spec.source.name).write_bytes(built[spec.id]["broken"]["test_cell_copied"].read_bytes())
    assert "appears twice" in precheck_submission(submitted, source_dir)


def test_a_notebook_over_the_size_limit_is_rejected_with_its_size_and_what_to_do(built, tmp_path):
    spec = bs.RESILIENCE
    nb = nbformat.read(built[spec.id]["honest"]["solution"], as_version=4)
    answer = _cell(nb, spec.answer_cells[0])
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (DEFAULT_MAX_BYTES + 1_000_000))]
    big = tmp_path / f"{spec.id}.ipynb"
    nbformat.write(nb, big)
    reason = precheck(big, spec.source)
    assert "21.1 MB" in reason and "size limit of 20 MB" in reason and "clear all outputs" in reason, reason
    assert precheck(big, spec.source, max_bytes=None) is None
    assert precheck(built[spec.id]["honest"]["solution"], spec.source, max_bytes=10_000) is not None
    with pytest.raises(AutograderError, match="over the grader's size limit"):
        validate_notebook(big)
    # check stops there, before nbgrader, with exit status 2 and no traceback.
    run = subprocess.run([sys.executable, "-m", "autograder", "check", str(big)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "AUTOGRADER_ASSIGNMENTS"})
    assert run.returncode == 2 and "clear all outputs" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_validate_notebook_keeps_its_file_messages_and_adds_the_cell_checks(built, tmp_path):
    for content, message in [(None, "no such file"), ("{", "not valid JSON"), ('{"a": 1}', "not a Jupyter notebook")]:
        path = tmp_path / "resilience.ipynb"
        if content is not None:
            path.write_text(content)
        with pytest.raises(AutograderError, match=message):
            validate_notebook(path)
    broken = built["resilience"]["broken"]["answer_cell_copied"]
    with pytest.raises(AutograderError, match="resilience.ipynb: the answer cell 'retry_policy' appears twice"):
        validate_notebook(broken)  # the assignment inferred from the file name
    with pytest.raises(AutograderError, match="appears twice"):
        validate_notebook(broken, bs.RESILIENCE.source)
    stranger = tmp_path / "mine.ipynb"
    stranger.write_text(json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    validate_notebook(stranger)  # no assignment to compare with: check itself says so


# -- reason_from_log on nbgrader's real logs ---------------------------------------------------------

@pytest.mark.parametrize("assignment", sorted(bs.SPECS))
def test_nbgrader_failures_become_sentences(nbgrader_runs, assignment):
    for name, (_, _, expected) in REJECTED.items():
        if expected is None:
            continue  # nbgrader grades it
        success, log = nbgrader_runs[assignment][name]
        assert not success, name
        reason = reason_from_log(log)
        assert expected in reason, (name, reason)
        assert not re.search(r"\b[A-Z]\w*(?:Error|Exception)\b", reason), (name, reason)  # no exception names
        assert failure_category(reason, whole_submission=True) != "not graded: other", (name, reason)
    # The log names the cells: the copied one, and the missing test with the cell before it.
    ids = _ids(bs.SPECS[assignment])
    assert repr(ids["answer"]) in reason_from_log(nbgrader_runs[assignment]["answer_cell_copied"][1])
    missing = reason_from_log(nbgrader_runs[assignment]["answer_and_its_test_deleted"][1])
    assert repr(ids["first_test"]) in missing and repr(ids["answer"]) in missing, missing


def test_reason_from_log_never_reads_a_cell_preview():
    """nbclient's timeout error quotes the cell (hidden tests included): none of it reaches the reason."""
    log = ("[ERROR] Timeout waiting for execute reply (4s).\n[ERROR] There was an error processing assignment: x\n"
           "[ERROR] Traceback (most recent call last):\n"
           "    nbclient.exceptions.CellTimeoutError: A cell timed out while it was being executed, after 4 seconds.\n"
           "    The message was: Cell execution timed out.\n"
           "    Here is a preview of the cell contents:\n    -------------------\n"
           "    ValueError: secret_hidden_check(42)\n    -------------------\n    \n"
           "[ERROR] There was an error processing assignment 'a' for student 'b'\n")
    reason = reason_from_log(log)
    assert "secret_hidden_check" not in reason and "timed out" in reason, reason


# -- a kernel that dies, stops responding, or hits a limit -------------------------------------------

def _sandboxed() -> bool:
    from autograder import sandbox

    return sandbox.probe() is None


@pytest.fixture(scope="module")
def kernel_runs(courses, built, tmp_path_factory):
    """Real autograde runs of the resilience assignment whose kernel dies, hangs, or hits sandbox limits."""
    spec = bs.RESILIENCE
    student = nbformat.read(built[spec.id]["student"], as_version=4)
    first, second, third = spec.answer_cells
    notebooks = {
        # SIGXCPU is what the kernel gets at its CPU time limit.
        "cpu_limit": {first: "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)"},
        # A cell that ignores the grader's interrupt: the kernel never answers again.
        "ignores_interrupt": {first: "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                     "while True:\n    time.sleep(0.05)"},
    }
    if _sandboxed():  # without the sandbox the 3 GiB would really be allocated
        notebooks["limits"] = {
            first: "big = bytearray(3 * 1024 ** 3)",
            second: "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (65 * 1024 ** 2))",
            # The tests call with_fallback: it prints past the output cap, then fails.
            third: "def with_fallback(*args, **kwargs):\n    print('x' * 150_000)\n"
                   "    raise RuntimeError('not written yet')\n"}
    dest = tmp_path_factory.mktemp("kernel-runs")
    runs = {}
    for name, answers in notebooks.items():
        path = dest / name / f"{spec.id}.ipynb"
        path.parent.mkdir()
        nbformat.write(bs._filled(student, answers), path)
        runs[name] = _autograde(courses[spec.id], path, sanitize_only=False)
    return runs


def test_a_kernel_killed_at_the_cpu_limit_is_reported_as_died_with_the_limits(kernel_runs):
    success, log, _ = kernel_runs["cpu_limit"]
    assert not success
    reason = reason_from_log(log)
    assert "kernel died" in reason and "CPU time 600 s" in reason and "memory 2 GiB" in reason, reason
    assert failure_category(reason, whole_submission=True) == "not graded: kernel died"


def test_a_kernel_that_ignores_interrupts_is_reported_as_stopped_responding(kernel_runs):
    success, log, _ = kernel_runs["ignores_interrupt"]
    assert not success
    reason = reason_from_log(log)
    assert "stopped responding" in reason and "except:" in reason, reason
    assert "SIG_IGN" not in reason and "time.sleep" not in reason  # the cell's preview is never quoted
    assert failure_category(reason, whole_submission=True) == "not graded: kernel unresponsive"


@pytest.mark.skipif(not _sandboxed(), reason="no sandbox on this machine: a 3 GiB allocation would not fail")
def test_limits_hit_by_answers_and_tests_are_named(kernel_runs):
    success, log, graded = kernel_runs["limits"]
    assert success, log[-3000:]
    problems = answer_cell_problems(graded)
    assert any("retry_policy" in p and "memory limit (2 GiB per process)" in p for p in problems), problems
    assert any("circuit_breaker" in p and "file size limit (64 MiB per file)" in p for p in problems), problems
    nb = nbformat.read(graded, as_version=4)
    reason = cell_failure_reason(_cell(nb, "fallback_basics"))
    assert reason.startswith("RuntimeError: not written yet") and "output limit" in reason, reason


# -- the limits seen in a cell's error, without a kernel -----------------------------------------------

def _failed(ename, evalue, traceback=(), cut=False):
    cell = nbformat.v4.new_code_cell("run()")
    cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=list(traceback))]
    if cut:
        cell.outputs.insert(0, nbformat.v4.new_output(
            "stream", name="stdout", text="\n[output cut here: the grader keeps at most 100,000 characters per "
                                          "cell and 1,000,000 per notebook]\n"))
    return cell


@pytest.mark.parametrize("error, expected", [
    (("MemoryError", ""), "MemoryError: the cell hit the grader's memory limit (2 GiB per process)"),
    (("_ArrayMemoryError", "Unable to allocate 3.00 GiB"), "memory limit (2 GiB per process)"),
    (("BlockingIOError", "[Errno 11] Resource temporarily unavailable",
      ["----> 4     pid = os.fork()", "BlockingIOError: [Errno 11] Resource temporarily unavailable"]),
     "process limit (256 processes and threads)"),
    (("RuntimeError", "can't start new thread"), "process limit (256 processes and threads)"),
    (("OSError", "[Errno 27] File too large"), "file size limit (64 MiB per file)"),
    (("OSError", "[Errno 24] Too many open files: 'x'"), "open files limit (1024 per process)"),
    (("DeadKernelError", "Kernel died"), "CPU time 600 s"),
    (("GraderGuardError", "the test changed the grader's machinery, so it cannot count"),
     "GraderGuardError: the test changed the grader's machinery, so it cannot count"),
])
def test_cell_failure_reason_names_the_limit_that_was_hit(error, expected):
    assert expected in cell_failure_reason(_failed(*error))


def test_eagain_elsewhere_is_not_blamed_on_the_process_limit():
    cell = _failed("BlockingIOError", "[Errno 11] Resource temporarily unavailable", ["----> 2 sock.recv(10)"])
    assert cell_failure_reason(cell) == "BlockingIOError: [Errno 11] Resource temporarily unavailable"


def test_a_cut_output_is_named_with_the_error_or_alone():
    reason = cell_failure_reason(_failed("AssertionError", "wrong answer", cut=True))
    assert reason.startswith("AssertionError: wrong answer") and "output limit" in reason, reason
    cell = _failed("X", "y", cut=True)
    cell.outputs = cell.outputs[:1]
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="Warning: slow\n"))
    assert "stderr" in cell_failure_reason(cell) and "output limit" in cell_failure_reason(cell)
