"""Record a worker's execution of a submission in the course's gradebook, through nbgrader's own autograde.

``cohort grade`` runs the slow part of autograding (executing each
submission in a kernel) in parallel worker processes, each in its own scratch
copy of the course with its own copy of the gradebook, so no two processes
ever write one SQLite file. The results must still reach the course's real
gradebook. Rather than copy scores across by hand, the main process runs
nbgrader's ``autograde`` once more per student, serially, with one
preprocessor swapped: :class:`ReplayExecution` takes the place of nbgrader's
``Execute`` and, instead of starting a kernel, copies each code cell's outputs
from the worker's executed notebook. Everything else is nbgrader's: the
sanitizing pass (``ClearOutput``, ``OverwriteCells``, ...), ``SaveAutoGrades``,
``AssignLatePenalties``, the student and submission records, the timestamp,
the ``autograded/`` files and its handling of failures.

The work is split, not repeated. The worker's autograde
(:func:`execute_only_config`) is nbgrader's without ``SaveAutoGrades`` and
``AssignLatePenalties`` (scores in its throwaway gradebook would be thrown
away). The record pass (:func:`replay_config`) is nbgrader's without
``Execute`` (replayed) and without ``CheckCellMetadata``, nbgrader's
jsonschema check of the cells' metadata, which the worker has already run on
the same cells; it is a third of a record pass, and the record pass is the
one part that cannot run in parallel.

The two passes see the same submission, the same source cells (the worker's
gradebook is a snapshot of the course's, taken before grading starts) and the
same sanitizing preprocessors, so they produce the same cells; the replay
checks that every cell's type and source match and refuses otherwise.
"""

from __future__ import annotations

import os

import nbformat
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Unicode
from traitlets.config import Config

from .guard import META


class ReplayMismatch(RuntimeError):
    """The worker's executed notebook does not match the notebook being autograded."""


class ReplayExecution(NbGraderPreprocessor):
    """Stand-in for nbgrader's Execute: copy the outputs of ``<executed_root>/<student>/<assignment>/<notebook>.ipynb``.

    Registered by :func:`replay_config` in place of ``Execute``.
    """

    executed_root = Unicode("", help="Directory of the executed notebooks, laid out as "
                                     "<student>/<assignment>/<notebook>.ipynb").tag(config=True)

    def executed_path(self, resources) -> str:
        info = resources["nbgrader"]
        return os.path.join(self.executed_root, info["student"], info["assignment"], info["notebook"] + ".ipynb")

    def preprocess(self, nb, resources):
        path = self.executed_path(resources)
        if not os.path.isfile(path):
            raise ReplayMismatch(f"no executed copy of this notebook ({path}): the worker could not grade it")
        executed = nbformat.read(path, as_version=4)
        if len(executed.cells) != len(nb.cells):
            raise ReplayMismatch(f"the executed copy has {len(executed.cells)} cells, this notebook {len(nb.cells)}")
        for index, (mine, theirs) in enumerate(zip(nb.cells, executed.cells)):
            if mine.cell_type != theirs.cell_type or mine.source != theirs.source:
                raise ReplayMismatch(f"cell {index} differs from the executed copy")
            if mine.cell_type == "code":
                mine.outputs = theirs.get("outputs", [])
                mine.execution_count = theirs.get("execution_count")
                if META in theirs.get("metadata", {}):  # what the worker's grader found (guard, wheat and chaff)
                    mine.metadata[META] = theirs.metadata[META]
        for key in ("language_info", "kernelspec"):
            if key in executed.metadata:
                nb.metadata[key] = executed.metadata[key]
        return nb, resources


#: Steps of nbgrader's autograde that only the record pass runs: they write scores into the gradebook.
RECORD_ONLY = {"SaveAutoGrades", "AssignLatePenalties"}
#: Steps that only the worker runs: nbgrader's metadata validation (jsonschema, about a third of a record
#: pass). The worker validates the very cells the record pass then sees (the replay checks that they match).
#: And the wheat-and-chaff runs (their verdict travels in the executed copy's metadata, which the replay copies).
WORKER_ONLY = {"CheckCellMetadata", "WheatChaffGrade"}


def _preprocessors(c: Config, trait: str) -> list:
    from nbgrader.converters import Autograde

    if trait in c.Autograde:
        return list(c.Autograde[trait])
    return list(Autograde.class_traits()[trait].default())


def _short_name(p) -> str:
    return p.rsplit(".", 1)[-1] if isinstance(p, str) else p.__name__


def execute_only_config(base: Config) -> Config:
    """``base`` for a worker: nbgrader's autograde without the steps that record scores."""
    c = Config()
    c.merge(base)
    c.Autograde.autograde_preprocessors = [p for p in _preprocessors(c, "autograde_preprocessors")
                                           if _short_name(p) not in RECORD_ONLY]
    return c


def replay_config(base: Config, executed_root: str) -> Config:
    """``base`` for the record pass: Execute replaced by :class:`ReplayExecution`, the worker's checks left out."""
    c = Config()
    c.merge(base)
    preprocessors = _preprocessors(c, "autograde_preprocessors")

    def is_execute(p) -> bool:
        if isinstance(p, str):
            from traitlets.utils.importstring import import_item

            p = import_item(p)
        return isinstance(p, type) and issubclass(p, Execute)

    if not any(is_execute(p) for p in preprocessors):
        raise ValueError("the course's Autograde.autograde_preprocessors has no Execute step to replace")
    c.Autograde.autograde_preprocessors = [ReplayExecution if is_execute(p) else p for p in preprocessors
                                           if _short_name(p) not in WORKER_ONLY]
    c.Autograde.sanitize_preprocessors = [p for p in _preprocessors(c, "sanitize_preprocessors")
                                          if _short_name(p) not in WORKER_ONLY]
    c.ReplayExecution.executed_root = str(executed_root)
    return c
