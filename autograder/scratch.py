"""A throwaway nbgrader course holding one source assignment, for ``fetch`` and ``check``.

It is an ordinary nbgrader course in a temporary directory: the assignment's
directory is copied to ``source/<id>/``, nbgrader's ``generate_assignment``
writes ``release/<id>/`` and the gradebook, and a learner's notebook placed
in ``submitted/<student>/<id>/`` can be autograded and given feedback exactly
as an instructor's ``nbgrader autograde`` / ``generate_feedback`` would. All
of it runs through :class:`nbgrader.apps.NbGraderAPI`, configured by
:func:`autograder.config.course_config` and nothing else (a learner's own
``~/.jupyter`` files do not change how they are graded).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import AutograderError
from .assignments import IGNORED, Assignment
from .config import course_config
from .nbgrader_setup import prepare


def copy_tree(source: Path, dest: Path) -> None:
    """Copy a directory, leaving out what nbgrader ignores (checkpoints, caches)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*IGNORED), dirs_exist_ok=True)


class ScratchCourse:
    """A temporary nbgrader course for one assignment; use it as a context manager.

    ``timeout`` is the per-cell execution timeout in seconds (None: the default).
    """

    def __init__(self, assignment: Assignment, *, timeout: int | None = None):
        self.assignment = assignment
        self.timeout = timeout
        self.root: Path | None = None
        self.api = None

    def __enter__(self) -> "ScratchCourse":
        prepare()
        from nbgrader.apps import NbGraderAPI

        self.root = Path(tempfile.mkdtemp(prefix=f"autograder-{self.assignment.id}-"))
        self.config = course_config(self.root, timeout=self.timeout, load_files=False)
        # The learner's terminal shows the kernel's own log; keep its start-up warnings off it.
        self.config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
        self.api = NbGraderAPI(config=self.config)
        copy_tree(self.assignment.directory, Path(self.path("source")))
        return self

    def __exit__(self, *exc) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- paths ---------------------------------------------------------------------

    def path(self, step: str, student: str = ".") -> Path:
        """nbgrader's directory for ``step`` (``source``, ``release``, ``submitted``,
        ``autograded``, ``feedback``) of this assignment and ``student``."""
        cd = self.api.coursedir
        directory = getattr(cd, f"{step}_directory")
        return Path(cd.format_path(directory, student, self.assignment.id)).resolve()

    @property
    def db_url(self) -> str:
        return self.api.coursedir.db_url

    # -- nbgrader steps ---------------------------------------------------------------

    def generate(self) -> Path:
        """Run nbgrader's ``generate_assignment``; return the student version's directory."""
        result = self.api.generate_assignment(self.assignment.id, force=True, create=True)
        if not result.get("success"):
            raise AutograderError(
                f"nbgrader could not generate the student version of {self.assignment.id!r}:\n"
                + (result.get("log") or result.get("error") or "").strip())
        return self.path("release")

    def submit(self, student: str, notebook: Path) -> Path:
        """Place a learner's notebook as ``student``'s submission, named as the assignment's notebook."""
        dest = self.path("submitted", student)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / self.assignment.notebook.name
        shutil.copyfile(notebook, target)
        return target

    def autograde(self, student: str) -> dict:
        """nbgrader's ``autograde`` for one student: ``{"success": bool, "log": str, ...}``."""
        return self.api.autograde(self.assignment.id, student, force=True, create=True)

    def generate_feedback(self, student: str) -> dict:
        """nbgrader's ``generate_feedback`` for one student (hidden tests stripped by our config)."""
        return self.api.generate_feedback(self.assignment.id, student, force=True)
