"""Two nbgrader preprocessors that score test-writing questions by wheat and chaff.

An assignment whose learners write tests (``testing``) has, for each such
question, an nbgrader test cell whose score is decided outside the kernel:
:class:`WheatChaffGrade` comes right after the notebook has run (after
:class:`~autograder.guard.GuardedExecute` in ``Autograde.autograde_preprocessors``),
takes the learner's test file from its answer cell, runs it against every
implementation of the question's :class:`~autograder.wheat_chaff.Part` (each in
a process of its own, in the sandbox when the kernel had one) and replaces the
test cell's outputs with the report and the score as nbgrader's partial credit
(a number as the cell's result). The verdict is also kept in the cell's
metadata (``autograder.wheat_chaff``), from which :class:`WheatChaffFeedback`
puts the same report into feedback after :class:`~autograder.safe_feedback.SafeOutputs`.

Which cells are graded this way is not read from the notebook (a learner can
edit metadata) but from the assignment's registry: the module
``autograder.implementations.<assignment id>`` and its ``PARTS``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Enum, Float

from . import wheat_chaff
from .guard import META, is_test_cell

#: Where a cell's verdict goes under ``cell.metadata[META]``.
KEY = "wheat_chaff"


def parts_for(assignment_id: str | None) -> dict:
    """The wheat-and-chaff parts of an assignment, by the grade id of the test cell they score ({} if none)."""
    if not assignment_id or not str(assignment_id).isidentifier():
        return {}
    try:
        module = importlib.import_module(f"autograder.implementations.{assignment_id}")
    except ModuleNotFoundError:
        return {}
    return {part.grade_id: part for part in getattr(module, "PARTS", ())}


def learner_file(source: str) -> str:
    """The test file an answer cell writes: its source without the leading ``%%writefile`` line."""
    lines = source.splitlines(keepends=True)
    if lines and lines[0].lstrip().startswith("%%writefile"):
        lines = lines[1:]
    return "".join(lines)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _outputs(verdict: wheat_chaff.Verdict) -> list[NotebookNode]:
    return [NotebookNode(output_type="stream", name="stdout", text=verdict.report() + "\n"),
            NotebookNode(output_type="execute_result", execution_count=None, metadata={},
                         data={"text/plain": f"{verdict.points:g}"})]


class WheatChaffGrade(NbGraderPreprocessor):
    """Score the test cells of test-writing questions by running the learner's tests outside the kernel."""

    sandbox = Enum(["auto", "required", "off"], default_value="auto",
                   help="Run the learner's tests in the sandbox: 'required', 'auto' (when this machine "
                        "can) or 'off'.").tag(config=True)
    run_timeout = Float(60.0, help="Seconds one run of the learner's tests against one implementation may "
                                   "take.").tag(config=True)

    def preprocess(self, nb, resources):
        assignment = resources.get("nbgrader", {}).get("assignment")
        parts = parts_for(assignment)
        if not parts:
            return nb, resources
        answers = {_grade_id(c): c.source for c in nb.cells
                   if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")}
        cells = [cell for cell in nb.cells if _grade_id(cell) in parts and is_test_cell(cell)]
        if not cells:
            return nb, resources
        runner = wheat_chaff.runner_for(self.sandbox, timeout=self.run_timeout, hide=self._hidden(resources))

        def grade(cell) -> wheat_chaff.Verdict:
            part = parts[_grade_id(cell)]
            points = float(cell.metadata["nbgrader"].get("points", 0))
            source = answers.get(part.tests_cell)
            self.log.info("Running the learner's tests for %s against every implementation", part.grade_id)
            if source is None:
                return wheat_chaff.score(points, [], problem=(
                    f"The answer cell with your tests ({part.tests_cell}) is missing from the notebook."))
            return part.grade(learner_file(source), points, runner,
                              progress=lambda note: self.log.debug("%s: %s", part.grade_id, note))

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(cells)) as pool:  # the parts are independent
            verdicts = list(pool.map(grade, cells))
        for cell, verdict in zip(cells, verdicts):
            cell.outputs = _outputs(verdict)
            cell.metadata.setdefault(META, {})[KEY] = verdict.as_metadata()
        return nb, resources

    def _hidden(self, resources) -> list[Path]:
        """The same folders the kernel's sandbox hides (the course, the source assignments, the repository)."""
        from .guard import secret_directories

        return secret_directories(resources.get("metadata", {}).get("path") or os.getcwd())


class WheatChaffFeedback(NbGraderPreprocessor):
    """In feedback, a wheat-and-chaff test cell shows the report its grading kept (never an implementation)."""

    def preprocess(self, nb, resources):
        parts = parts_for(resources.get("nbgrader", {}).get("assignment"))
        for cell in nb.cells:
            kept = cell.get("metadata", {}).get(META, {}).get(KEY)
            if not kept or not is_test_cell(cell) or _grade_id(cell) not in parts:
                continue
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=str(kept.get("report", "")) + "\n")]
        return nb, resources
